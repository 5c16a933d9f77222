/* Internal to the Darknet module (yoloswitch-darknet.so): one model opened
 * on Darknet's network, shared by darknet_backend.c (loading, running,
 * the layer buffers) and darknet_decode.c (boxes). */
#ifndef YOLOSWITCH_YOLO_DARKNET_BACKEND_H
#define YOLOSWITCH_YOLO_DARKNET_BACKEND_H

#include "backend.h"
#include "engine.h"

#include <darknet.h>

struct YoloBackendModel {
  network *net;
  int classes;
  bool ran; /* a run has filled the layer outputs */
};

bool darknet_backend_decode (YoloBackendModel *b,
    const YoloDecodeRequest *request, YoloDetections *out, YoloStatus *status);

#endif
