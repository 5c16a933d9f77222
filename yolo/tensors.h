/* The tensors handed across a cut (split inference), as a vocabulary of
 * their own (library yolo_base): the model fills and takes them (yolo.h),
 * the split path's wire codec (offload/split_codec.c) turns them into
 * packets without linking the model. */
#ifndef YOLOSWITCH_YOLO_TENSORS_H
#define YOLOSWITCH_YOLO_TENSORS_H

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One layer's output, handed from a run that stopped at a cut to the run
 * that continues after it (possibly another model instance or process). */
typedef struct {
  int layer; /* index of the layer whose output this is */
  int c, h, w;
  float *data; /* c x h x w floats, owned by the handover */
} YoloTensor;

/* Exactly the tensors layers >= cut still need: the output of layer cut-1,
 * any earlier output a route or shortcut at or after the cut reads, and the
 * outputs of detection layers before the cut (box decoding reads them). */
typedef struct {
  int cut;
  int source_width, source_height; /* of the frame, for box scaling */
  bool letterbox;
  size_t count;
  YoloTensor *tensors;
} YoloHandover;

void yolo_handover_init (YoloHandover *handover);
void yolo_handover_free (YoloHandover *handover);

#ifdef __cplusplus
}
#endif

#endif
