/* See edge_model.h. */
#include "edge_model.h"

#include "edge_internal.h"
#include "edge_log.h"

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

/* The same class count and label for every class. */
static gboolean
same_labels (const YoloModel *a, const YoloModel *b)
{
  int n = yolo_model_class_count (a);

  if (n != yolo_model_class_count (b))
    return FALSE;
  for (int i = 0; i < n; i++)
    if (g_strcmp0 (yolo_model_label (a, i), yolo_model_label (b, i)) != 0)
      return FALSE;
  return TRUE;
}

EdgeModel *
edge_model_load (const EdgeConfig *c, int copies, guint generation,
    const gint *cancel, GError **error)
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
    guint64 hash;

    if (cancel != NULL && g_atomic_int_get (cancel)) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INTR,
          "the server is stopping");
      edge_model_unref (m);
      return NULL;
    }
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
    if (!yolo_model_hash (m->models[i], &hash, &status)) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_IO, "%s", status.message);
      edge_model_unref (m);
      return NULL;
    }
    /* Every worker must run the same model under the one hash and label
     * list the clients are told of: files replaced while the copies were
     * opened one after another are caught here. */
    if (i == 0) {
      m->hash = hash;
    } else if (hash != m->hash || !same_labels (m->models[0], m->models[i])) {
      g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_AGAIN,
          "the files of model %s changed while its %d copies were loaded "
          "(replace them whole, by a rename, then load again)",
          c->model, copies);
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
  /* The model's own labels, not the HELLO's list (which may be none). */
  return same_labels (a->models[0], b->models[0]);
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
