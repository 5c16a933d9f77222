/* The model yoloswitch-edge runs (issue 16, hot swap on the edge): one
 * copy per worker (a model runs one frame at a time) and what clients are
 * told of it (name, input size, labels, hash, layer count), as one
 * reference-counted set.  SIGHUP loads the --model's files again on a
 * thread of its own while the old set keeps serving; the service thread
 * then puts the new one in place and tells every client (edge_conn.c),
 * and each worker takes it up between two frames (edge_worker.c). */
#ifndef YOLOSWITCH_OFFLOAD_EDGE_MODEL_H
#define YOLOSWITCH_OFFLOAD_EDGE_MODEL_H

#include "edge_config.h"
#include "protocol.h"
#include "yolo.h"

#include <glib.h>

typedef struct EdgeSplit EdgeSplit;

typedef struct {
  gint refs; /* atomic: the server's, one per worker running it */
  guint generation; /* 1 for the model loaded at start, + 1 per swap */
  char *name;
  guint64 hash; /* yolo_model_hash(): what split FRAMEs must name */
  int layer_count;
  int net_width, net_height;
  /* The HELLO's label list: strings of models[0], so valid with the set;
   * NULL and 0: none sent (too many classes, or a control character). */
  YsStr *hello_labels;
  int hello_label_count;
  int count; /* copies: one per worker */
  YoloModel **models;
  EdgeSplit **splits; /* split FRAMEs: one tail runner per copy */
  double load_ms; /* opening every copy */
} EdgeModel;

/* A label as RESULTs and the HELLO's label list carry it, the same in
 * both so that clients can compare them: cut to the protocol's limit, and
 * empty when the names file is not UTF-8. */
YsStr edge_wire_label (const char *label);

/* Opens config's --model from --model-dir, `copies` times; NULL with
 * *error (the library's sentence) when it cannot, when the files changed
 * between two copies, or when *cancel (NULL: never) was set between two
 * copies.  Two sets exist while a swap loads: twice the model's memory. */
EdgeModel *edge_model_load (const EdgeConfig *config, int copies,
    guint generation, const gint *cancel, GError **error);
EdgeModel *edge_model_ref (EdgeModel *model);
/* The same class count and label for every class. */
gboolean edge_model_same_labels (const EdgeModel *a, const EdgeModel *b);
void edge_model_unref (EdgeModel *model);

#endif
