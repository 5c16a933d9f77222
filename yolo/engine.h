/* Internal to the Darknet module: running a Darknet network's layers with
 * Darknet's own forward functions (the "darknet" engine, the reference).
 * Every layer's output stays in the Darknet layer's own buffer, so Darknet's
 * YOLO/region box decoding reads them unchanged, and a range of layers can
 * run in another model instance once the tensors crossing the cut are
 * copied in. */
#ifndef YOLOSWITCH_YOLO_ENGINE_H
#define YOLOSWITCH_YOLO_ENGINE_H

#include "yolo.h"

#include <darknet.h>

/* Which bucket of YoloProfile a layer's time goes to. */
int engine_profile_kind (const layer *l);

/* Runs layers [from, to) with Darknet's forward functions; net->input must
 * be the input of layer `from`. */
void darknet_forward_range (network *net, int from, int to,
    YoloProfile *profile);

#endif
