/* See edge_model.h. */
#include "edge_model.h"

#include "edge_internal.h"
#include "edge_log.h"

#include <string.h>

YsStr
edge_wire_label (const char *label)
{
  YsStr s = ys_str_clip (ys_str (label), YS_MAX_NAME);
  return ys_utf8_valid (s.ptr, s.len) ? s : ys_str ("");
}

/* The label list of the HELLO.  Clients refuse a HELLO whose list has
 * more than YS_MAX_LABELS labels or a label with a control character
 * (docs/PROTOCOL.md), so for such a names file the server sends no list,
 * says why, and the clients check labels as they do without one. */
static void
hello_labels (EdgeModel *m)
{
  const YoloModel *model = m->models[0];
  int count = yolo_model_class_count (model);
  YsStr *labels;

  if (count > YS_MAX_LABELS) {
    edge_log (EDGE_LOG_WARN,
        "model %s has %d classes, more than the %d a HELLO's label list may "
        "hold: clients get no label list",
        m->name, count, YS_MAX_LABELS);
    return;
  }
  labels = g_new0 (YsStr, MAX (count, 1));
  for (int i = 0; i < count; i++) {
    labels[i] = edge_wire_label (yolo_model_label (model, i));
    for (int k = 0; k < labels[i].len; k++) {
      unsigned char c = (unsigned char) labels[i].ptr[k];
      if (c < 0x20 || c == 0x7f) {
        edge_log (EDGE_LOG_WARN,
            "label %d of model %s holds a control character (byte 0x%02x): "
            "clients get no label list; fix the names file",
            i, m->name, c);
        g_free (labels);
        return;
      }
    }
  }
  m->hello_labels = labels;
  m->hello_label_count = count;
}

EdgeModel *
edge_model_load (const EdgeConfig *c, int copies, guint generation,
    GError **error)
{
  EdgeModel *m = g_new0 (EdgeModel, 1);
  gint64 t0 = g_get_monotonic_time ();

  m->refs = 1;
  m->generation = generation;
  m->count = copies;
  m->models = g_new0 (YoloModel *, copies);
  m->splits = g_new0 (EdgeSplit *, copies);
  for (int i = 0; i < copies; i++) {
    YoloModelSpec spec = { 0 };
    YoloStatus status;

    spec.name = c->model;
    spec.model_dir = c->model_dir;
    spec.engine = YOLO_ENGINE_FAST;
    spec.threads = c->threads;
    m->models[i] = yolo_model_open (&spec, &status);
    if (m->models[i] == NULL) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT, "%s",
          status.message);
      edge_model_unref (m);
      return NULL;
    }
    if (i == 0 && !yolo_model_hash (m->models[0], &m->hash, &status)) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_IO, "%s", status.message);
      edge_model_unref (m);
      return NULL;
    }
    m->splits[i] = edge_split_new (m->models[i], m->hash);
  }
  m->name = g_strdup (yolo_model_name (m->models[0]));
  m->layer_count = yolo_model_layer_count (m->models[0]);
  m->net_width = yolo_model_input_width (m->models[0]);
  m->net_height = yolo_model_input_height (m->models[0]);
  hello_labels (m);
  m->load_ms = (g_get_monotonic_time () - t0) / 1000.0;
  return m;
}

gboolean
edge_model_same_labels (const EdgeModel *a, const EdgeModel *b)
{
  if (a->hello_label_count != b->hello_label_count)
    return FALSE;
  for (int i = 0; i < a->hello_label_count; i++) {
    const YsStr *x = &a->hello_labels[i], *y = &b->hello_labels[i];
    if (x->len != y->len || memcmp (x->ptr, y->ptr, x->len) != 0)
      return FALSE;
  }
  return TRUE;
}

EdgeModel *
edge_model_ref (EdgeModel *m)
{
  g_atomic_int_inc (&m->refs);
  return m;
}

void
edge_model_unref (EdgeModel *m)
{
  if (m == NULL || !g_atomic_int_dec_and_test (&m->refs))
    return;
  for (int i = 0; i < m->count; i++) {
    edge_split_free (m->splits[i]);
    yolo_model_close (m->models[i]);
  }
  g_free (m->splits);
  g_free (m->models);
  g_free (m->hello_labels);
  g_free (m->name);
  g_free (m);
}
