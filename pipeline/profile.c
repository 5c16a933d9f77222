/* Profile files: JSON in and out, validation, Pareto front; see profile.h. */
#include "json_limits.h"
#include "profile.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#define FIX_HINT "re-run yoloswitch-profile, or fix the file (docs/PROFILE.md)"

/* ---- reading ---------------------------------------------------------------- */

typedef struct {
  const char *name; /* file name, for messages */
  char where[64]; /* "configs[3]" or "" */
  GError **error;
} Reader;

static gboolean
fail (Reader *r, const char *field, const char *what)
{
  g_set_error (r->error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
      "Profile %s: %s%s%s %s; " FIX_HINT, r->name, r->where,
      r->where[0] != '\0' ? "." : "", field, what);
  return FALSE;
}

static gboolean
get_number (Reader *r, JsonObject *o, const char *field, double min, double max,
    double *out)
{
  JsonNode *n = json_object_get_member (o, field);
  char what[128];

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || (json_node_get_value_type (n) != G_TYPE_DOUBLE
          && json_node_get_value_type (n) != G_TYPE_INT64))
    return fail (r, field, "is missing or not a number");
  *out = json_node_get_double (n);
  if (!isfinite (*out) || *out < min || *out > max) {
    g_snprintf (what, sizeof (what), "must be from %g to %g (is %g)", min, max,
        *out);
    return fail (r, field, what);
  }
  return TRUE;
}

static gboolean
get_int (Reader *r, JsonObject *o, const char *field, gint64 min, gint64 max,
    gint64 *out)
{
  double v;
  if (!get_number (r, o, field, (double) min, (double) max, &v))
    return FALSE;
  if (v != floor (v))
    return fail (r, field, "must be a whole number");
  *out = (gint64) v;
  return TRUE;
}

static gboolean
get_string (Reader *r, JsonObject *o, const char *field, char **out)
{
  JsonNode *n = json_object_get_member (o, field);
  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_STRING
      || json_node_get_string (n)[0] == '\0')
    return fail (r, field, "is missing or not a non-empty string");
  *out = g_strdup (json_node_get_string (n));
  return TRUE;
}

/* An informational string: absent, null or anything but a string reads as
 * none.  Not json_object_get_string_member_with_default (), which logs a
 * critical for an object or an array (found by tests/fuzz/fuzz_profile). */
static char *
optional_string (JsonObject *o, const char *field)
{
  JsonNode *n = json_object_get_member (o, field);

  if (n == NULL || !JSON_NODE_HOLDS_VALUE (n)
      || json_node_get_value_type (n) != G_TYPE_STRING)
    return NULL;
  return g_strdup (json_node_get_string (n));
}

static gboolean
read_config (Reader *r, JsonObject *o, YsProfileConfig *c)
{
  char *path = NULL;
  gint64 w, h;
  gboolean ok;

  if (!get_string (r, o, "path", &path))
    return FALSE;
  if (!ys_path_kind_from_name (path, &c->path)) {
    GString *names = g_string_new (NULL);
    gboolean failed;
    for (int k = 0; k < YS_PATH_KINDS; k++)
      g_string_append_printf (names, "%s\"%s\"",
          k == 0 ? "" : (k + 1 == YS_PATH_KINDS ? " or " : ", "),
          ys_path_name ((YsPathKind) k));
    g_string_prepend (names, "must be ");
    g_free (path);
    failed = fail (r, "path", names->str);
    g_string_free (names, TRUE);
    return failed;
  }
  g_free (path);
  ok = get_string (r, o, "model", &c->model)
      && get_int (r, o, "width", 16, 16384, &w)
      && get_int (r, o, "height", 16, 16384, &h)
      && get_number (r, o, "infer_ms", 0, 1e6, &c->infer_ms)
      && get_number (r, o, "iou_accuracy", 0, 1, &c->iou_accuracy)
      && get_number (r, o, "f1", 0, 1, &c->f1);
  if (!ok)
    return FALSE;
  c->width = (int) w;
  c->height = (int) h;
  /* What goes over the link, for paths that use it: a cut's tensors, or
   * encoded pixels. */
  if (ys_path_traits (c->path)->sends_tensors) {
    gint64 cut, bits;
    ok = get_int (r, o, "cut", 1, 65535, &cut)
        && get_int (r, o, "bits", 4, 8, &bits)
        && get_number (r, o, "bytes_per_frame", 1, 1e9, &c->bytes_per_frame)
        && get_number (r, o, "encode_ms", 0, 1e6, &c->encode_ms)
        && get_number (r, o, "decode_ms", 0, 1e6, &c->decode_ms);
    if (!ok)
      return FALSE;
    if (bits != 4 && bits != 6 && bits != 8)
      return fail (r, "bits", "must be 4, 6 or 8");
    c->cut = (int) cut;
    c->bits = (int) bits;
    c->codec = g_strdup ("tensor");
    c->scale = 1;
  } else if (ys_path_traits (c->path)->uses_link) {
    ok = get_string (r, o, "codec", &c->codec)
        && get_number (r, o, "scale", 0.01, 1, &c->scale)
        && get_int (r, o, "bitrate", 1000, G_GINT64_CONSTANT (1000000000),
            &c->bitrate)
        && get_number (r, o, "bytes_per_frame", 1, 1e9, &c->bytes_per_frame)
        && get_number (r, o, "encode_ms", 0, 1e6, &c->encode_ms)
        && get_number (r, o, "decode_ms", 0, 1e6, &c->decode_ms);
    if (!ok)
      return FALSE;
    if (strcmp (c->codec, "h264") != 0 && strcmp (c->codec, "mjpeg") != 0)
      return fail (r, "codec", "must be \"h264\" or \"mjpeg\"");
  }
  return TRUE;
}

YsProfile *
ys_profile_parse (const char *json, gssize length, const char *name,
    GError **error)
{
  JsonParser *parser = json_parser_new ();
  Reader r = { .name = name, .error = error };
  YsProfile *p = g_new0 (YsProfile, 1);
  JsonNode *root;
  JsonObject *o, *video;
  JsonArray *configs;
  char *schema = NULL;
  GError *parse_error = NULL;
  gint64 v;

  if (!ys_json_depth_ok (json, length >= 0 ? (gsize) length : strlen (json),
          YS_JSON_MAX_DEPTH)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
        "Profile %s nests deeper than %d levels; " FIX_HINT, name,
        YS_JSON_MAX_DEPTH);
    goto fail;
  }
  if (!json_parser_load_from_data (parser, json, length, &parse_error)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
        "Profile %s is not JSON (%s); " FIX_HINT, name, parse_error->message);
    g_error_free (parse_error);
    goto fail;
  }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root)) {
    fail (&r, "top level", "must be an object");
    goto fail;
  }
  o = json_node_get_object (root);
  if (!get_string (&r, o, "schema", &schema))
    goto fail;
  if (strcmp (schema, YS_PROFILE_SCHEMA) != 0) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_INVAL,
        "Profile %s has schema \"%s\" but this yoloswitch reads \"%s\"; "
        "re-run yoloswitch-profile to make one",
        name, schema, YS_PROFILE_SCHEMA);
    goto fail;
  }
  if (!json_object_has_member (o, "video")
      || !JSON_NODE_HOLDS_OBJECT (json_object_get_member (o, "video"))) {
    fail (&r, "video", "is missing or not an object");
    goto fail;
  }
  video = json_object_get_object_member (o, "video");
  strcpy (r.where, "video");
  if (!get_string (&r, video, "path", &p->video)
      || !get_int (&r, video, "frames", 1, G_MAXINT, &v))
    goto fail;
  p->frames = (int) v;
  if (!get_int (&r, video, "width", 16, 16384, &v))
    goto fail;
  p->width = (int) v;
  if (!get_int (&r, video, "height", 16, 16384, &v))
    goto fail;
  p->height = (int) v;
  if (!get_number (&r, video, "fps", 0.1, 1000, &p->fps))
    goto fail;
  r.where[0] = '\0';
  if (!get_string (&r, o, "reference_model", &p->reference_model))
    goto fail;
  /* Informational: absent or odd is fine. */
  p->machine = optional_string (o, "machine");
  p->created = optional_string (o, "created");

  if (!json_object_has_member (o, "configs")
      || !JSON_NODE_HOLDS_ARRAY (json_object_get_member (o, "configs"))
      || json_array_get_length (json_object_get_array_member (o, "configs"))
          == 0) {
    fail (&r, "configs",
        "is missing or empty: a profile needs at least one "
        "configuration");
    goto fail;
  }
  configs = json_object_get_array_member (o, "configs");
  p->config_count = (int) json_array_get_length (configs);
  p->configs = g_new0 (YsProfileConfig, p->config_count);
  for (int i = 0; i < p->config_count; i++) {
    JsonNode *n = json_array_get_element (configs, i);
    g_snprintf (r.where, sizeof (r.where), "configs[%d]", i);
    if (!JSON_NODE_HOLDS_OBJECT (n)) {
      fail (&r, "", "must be an object");
      goto fail;
    }
    if (!read_config (&r, json_node_get_object (n), &p->configs[i]))
      goto fail;
  }
  ys_profile_mark_pareto (p);
  g_free (schema);
  g_object_unref (parser);
  return p;

fail:
  g_free (schema);
  g_object_unref (parser);
  ys_profile_free (p);
  return NULL;
}

YsProfile *
ys_profile_load (const char *path, GError **error)
{
  char *text = NULL;
  gsize length;
  GError *io_error = NULL;
  YsProfile *p;

  if (!g_file_get_contents (path, &text, &length, &io_error)) {
    g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOENT,
        "Cannot read profile %s (%s); give the path of a file made by "
        "yoloswitch-profile, e.g. configs/vtest.profile.json",
        path, io_error->message);
    g_error_free (io_error);
    return NULL;
  }
  p = ys_profile_parse (text, (gssize) length, path, error);
  g_free (text);
  return p;
}

/* ---- writing ---------------------------------------------------------------- */

/* Figures are written with 4 decimals. */
static double
written (double v)
{
  return round (v * 10000) / 10000;
}

/* The Pareto flags of the figures as written: two configurations a hair
 * apart (0.5688 and 0.56880032) are equal in the file, and a flag from
 * the unrounded figures would contradict it (and change when read back). */
static bool *
written_pareto (const YsProfile *p)
{
  YsProfile copy = *p;
  bool *flags = g_new (bool, p->config_count);

  copy.configs
      = g_memdup2 (p->configs, sizeof (YsProfileConfig) * p->config_count);
  for (int i = 0; i < copy.config_count; i++) {
    YsProfileConfig *c = &copy.configs[i];
    c->bytes_per_frame = written (c->bytes_per_frame);
    c->infer_ms = written (c->infer_ms);
    c->iou_accuracy = written (c->iou_accuracy);
  }
  ys_profile_mark_pareto (&copy);
  for (int i = 0; i < copy.config_count; i++)
    flags[i] = copy.configs[i].pareto;
  g_free (copy.configs);
  return flags;
}

char *
ys_profile_to_json (const YsProfile *p)
{
  JsonBuilder *b = json_builder_new ();
  JsonGenerator *gen = json_generator_new ();
  JsonNode *root;
  char *text;
  bool *pareto = written_pareto (p);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "schema");
  json_builder_add_string_value (b, YS_PROFILE_SCHEMA);
  json_builder_set_member_name (b, "video");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "path");
  json_builder_add_string_value (b, p->video);
  json_builder_set_member_name (b, "frames");
  json_builder_add_int_value (b, p->frames);
  json_builder_set_member_name (b, "width");
  json_builder_add_int_value (b, p->width);
  json_builder_set_member_name (b, "height");
  json_builder_add_int_value (b, p->height);
  json_builder_set_member_name (b, "fps");
  json_builder_add_double_value (b, p->fps);
  json_builder_end_object (b);
  json_builder_set_member_name (b, "reference_model");
  json_builder_add_string_value (b, p->reference_model);
  if (p->machine != NULL) {
    json_builder_set_member_name (b, "machine");
    json_builder_add_string_value (b, p->machine);
  }
  if (p->created != NULL) {
    json_builder_set_member_name (b, "created");
    json_builder_add_string_value (b, p->created);
  }
  json_builder_set_member_name (b, "configs");
  json_builder_begin_array (b);
  for (int i = 0; i < p->config_count; i++) {
    const YsProfileConfig *c = &p->configs[i];
    json_builder_begin_object (b);
#define NUM(name, value)                                                       \
  json_builder_set_member_name (b, name);                                      \
  json_builder_add_double_value (b, written (value))
#define INT(name, value)                                                       \
  json_builder_set_member_name (b, name);                                      \
  json_builder_add_int_value (b, value)
    json_builder_set_member_name (b, "path");
    json_builder_add_string_value (b, ys_path_name (c->path));
    json_builder_set_member_name (b, "model");
    json_builder_add_string_value (b, c->model);
    INT ("width", c->width);
    INT ("height", c->height);
    if (ys_path_traits (c->path)->sends_tensors) {
      INT ("cut", c->cut);
      INT ("bits", c->bits);
      NUM ("bytes_per_frame", c->bytes_per_frame);
      NUM ("encode_ms", c->encode_ms);
      NUM ("decode_ms", c->decode_ms);
    } else if (ys_path_traits (c->path)->uses_link) {
      json_builder_set_member_name (b, "codec");
      json_builder_add_string_value (b, c->codec);
      NUM ("scale", c->scale);
      INT ("bitrate", c->bitrate);
      NUM ("bytes_per_frame", c->bytes_per_frame);
      NUM ("encode_ms", c->encode_ms);
      NUM ("decode_ms", c->decode_ms);
    }
    NUM ("infer_ms", c->infer_ms);
    NUM ("iou_accuracy", c->iou_accuracy);
    NUM ("f1", c->f1);
    json_builder_set_member_name (b, "pareto");
    json_builder_add_boolean_value (b, pareto[i]);
#undef NUM
#undef INT
    json_builder_end_object (b);
  }
  json_builder_end_array (b);
  json_builder_end_object (b);

  root = json_builder_get_root (b);
  json_generator_set_root (gen, root);
  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 1);
  text = json_generator_to_data (gen, NULL);
  json_node_unref (root);
  g_object_unref (gen);
  g_object_unref (b);
  g_free (pareto);
  return text;
}

gboolean
ys_profile_save (const YsProfile *p, const char *path, GError **error)
{
  char *text = ys_profile_to_json (p);
  char *with_newline = g_strconcat (text, "\n", NULL);
  gboolean ok = g_file_set_contents (path, with_newline, -1, error);
  g_free (with_newline);
  g_free (text);
  return ok;
}

void
ys_profile_free (YsProfile *p)
{
  if (p == NULL)
    return;
  for (int i = 0; i < p->config_count; i++) {
    g_free (p->configs[i].model);
    g_free (p->configs[i].codec);
  }
  g_free (p->configs);
  g_free (p->video);
  g_free (p->reference_model);
  g_free (p->machine);
  g_free (p->created);
  g_free (p);
}

/* ---- Pareto front ------------------------------------------------------------ */

/* What a configuration spends: the link's bytes when it uses the link,
 * else this machine's time. */
static double
cost (const YsProfileConfig *c)
{
  return ys_path_traits (c->path)->uses_link ? c->bytes_per_frame : c->infer_ms;
}

void
ys_profile_mark_pareto (YsProfile *p)
{
  for (int i = 0; i < p->config_count; i++) {
    YsProfileConfig *a = &p->configs[i];
    a->pareto = true;
    for (int k = 0; k < p->config_count && a->pareto; k++) {
      const YsProfileConfig *b = &p->configs[k];
      if (k == i || b->path != a->path)
        continue;
      if (b->iou_accuracy >= a->iou_accuracy && cost (b) <= cost (a)
          && (b->iou_accuracy > a->iou_accuracy || cost (b) < cost (a)))
        a->pareto = false;
    }
  }
}

char *
ys_profile_config_describe (const YsProfileConfig *c)
{
  const char *name = ys_path_name (c->path);
  if (ys_path_traits (c->path)->sends_tensors)
    return g_strdup_printf ("%s %s cut %d %d-bit", name, c->model, c->cut,
        c->bits);
  if (!ys_path_traits (c->path)->uses_link)
    return g_strdup_printf ("%s %s %dx%d", name, c->model, c->width, c->height);
  return g_strdup_printf ("%s %s %.2f %dx%d %" G_GINT64_FORMAT "k", name,
      c->codec, c->scale, c->width, c->height, c->bitrate / 1000);
}
