/* The local path (path.h): the small model on this machine, on the local
 * worker's thread (local_worker.h).  Ready whenever the model is idle; a
 * configuration sets the network input size. */
#ifndef YOLOSWITCH_PIPELINE_LOCAL_PATH_H
#define YOLOSWITCH_PIPELINE_LOCAL_PATH_H

#include "local_worker.h"
#include "path.h"

/* NULL with status set when the model cannot be opened. */
YsPath *ys_local_path_new (const YsLocalWorkerOptions *options,
    YoloStatus *status);

/* Hot swap of the local path's model (ys_local_worker_swap): at the
 * input size the path runs now when spec asks for 0 x 0 and the path has
 * one (the switcher's configurations), else at spec's. */
void ys_local_path_swap (YsPath *path, const YoloModelSpec *spec,
    YsModelSwapped done, void *user);

#endif
