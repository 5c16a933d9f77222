/* Darknet .weights files with random but well-scaled values (fixed seed),
 * for models whose real weights cannot be downloaded here (yolov3-tiny,
 * yolov2-tiny): batch-norm variances positive, kernels scaled by fan-in, so
 * activations stay in a range where comparing engines means something. */
#ifndef YOLOSWITCH_RANDOM_WEIGHTS_H
#define YOLOSWITCH_RANDOM_WEIGHTS_H

#include <glib.h>

/* Writes a weights file matching cfg_path to weights_path. */
gboolean test_write_random_weights (const char *cfg_path,
    const char *weights_path, guint32 seed);

#endif
