/* The kinds of path a frame can take to a result, and what each one uses.
 * A new kind of path (split inference, the first layers here and the rest
 * on the edge, was the third) is a new row in this table plus an
 * implementation of path.h:
 * the profile reader, the decision engine and the bus messages read the
 * traits below, never the kind itself. */
#ifndef YOLOSWITCH_PIPELINE_PATH_KIND_H
#define YOLOSWITCH_PIPELINE_PATH_KIND_H

#include <stdbool.h>

typedef enum {
  YS_PATH_LOCAL, /* the small model on this machine */
  YS_PATH_EDGE, /* encoded frames to the edge server's big model */
  /* the big model's first layers here, their tensors to the edge server
   * for the rest (issue 15) */
  YS_PATH_SPLIT,
  YS_PATH_KINDS
} YsPathKind;

typedef struct {
  YsPathKind kind;
  const char *name; /* in profiles, bus messages, metas and result records */
  /* A model runs on this machine: its inference time is the cost, and the
   * path works without a network (what a fallback needs). */
  bool uses_device;
  /* Frames or tensors go to the edge server: bytes per frame are the cost,
   * and bandwidth, round trip and server time make the latency. */
  bool uses_link;
  /* What goes over the link is the model's tensors after a cut, not
   * pixels: a configuration is a cut and a bit depth, not a codec, scale
   * and bit rate. */
  bool sends_tensors;
} YsPathTraits;

const YsPathTraits *ys_path_traits (YsPathKind kind);
const char *ys_path_name (YsPathKind kind);
/* false for a name no row has. */
bool ys_path_kind_from_name (const char *name, YsPathKind *kind);

#endif
