/* Profiles: round trip through JSON, the Pareto front, and a clear error
 * for every kind of malformed file. */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>

#include "profile.h"

static YsProfile *
sample (void)
{
  YsProfile *p = g_new0 (YsProfile, 1);
  /* local: A dominates C (more accurate, faster); B is slower but better.
   * edge: E dominates F (same bytes, more accurate); D is cheapest. */
  static const struct {
    YsPathKind path;
    int w;
    double infer, acc, bytes;
    gint64 bitrate;
    gboolean pareto;
  } rows[] = {
    { YS_PATH_LOCAL, 256, 4.0, 0.50, 0, 0, TRUE }, /* A */
    { YS_PATH_LOCAL, 320, 6.0, 0.60, 0, 0, TRUE }, /* B */
    { YS_PATH_LOCAL, 416, 9.0, 0.45, 0, 0, FALSE }, /* C */
    { YS_PATH_EDGE, 384, 12.0, 0.70, 1250, 100000, TRUE }, /* D */
    { YS_PATH_EDGE, 768, 12.0, 0.90, 6250, 500000, TRUE }, /* E */
    { YS_PATH_EDGE, 576, 12.0, 0.80, 6250, 500000, FALSE }, /* F */
  };

  p->video = g_strdup ("vtest.avi");
  p->frames = 50;
  p->width = 768;
  p->height = 576;
  p->fps = 10;
  p->reference_model = g_strdup ("yolo-fastest-1.1-xl");
  p->machine = g_strdup ("test");
  p->config_count = G_N_ELEMENTS (rows);
  p->configs = g_new0 (YsProfileConfig, p->config_count);
  for (int i = 0; i < p->config_count; i++) {
    YsProfileConfig *c = &p->configs[i];
    c->path = rows[i].path;
    c->model = g_strdup (
        c->path == YS_PATH_LOCAL ? "yolo-fastest-1.1" : "yolo-fastest-1.1-xl");
    c->width = rows[i].w;
    c->height = rows[i].w * 3 / 4;
    c->infer_ms = rows[i].infer;
    c->iou_accuracy = rows[i].acc;
    c->f1 = rows[i].acc + 0.05;
    if (c->path == YS_PATH_EDGE) {
      c->codec = g_strdup ("h264");
      c->scale = rows[i].w / 768.0;
      c->bitrate = rows[i].bitrate;
      c->bytes_per_frame = rows[i].bytes;
      c->encode_ms = 1.5;
      c->decode_ms = 2.5;
    }
  }
  return p;
}

static void
test_round_trip_and_pareto (void)
{
  YsProfile *p = sample ();
  char *json;
  YsProfile *back;
  GError *error = NULL;
  const gboolean want[] = { TRUE, TRUE, FALSE, TRUE, TRUE, FALSE };

  ys_profile_mark_pareto (p);
  for (int i = 0; i < p->config_count; i++)
    g_assert_cmpint (p->configs[i].pareto, ==, want[i]);

  json = ys_profile_to_json (p);
  back = ys_profile_parse (json, -1, "sample", &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->config_count, ==, 6);
  g_assert_cmpstr (back->reference_model, ==, "yolo-fastest-1.1-xl");
  g_assert_cmpfloat (back->fps, ==, 10);
  for (int i = 0; i < p->config_count; i++) {
    const YsProfileConfig *a = &p->configs[i], *b = &back->configs[i];
    g_assert_cmpint (a->path, ==, b->path);
    g_assert_cmpint (a->width, ==, b->width);
    g_assert_cmpfloat_with_epsilon (a->iou_accuracy, b->iou_accuracy, 1e-4);
    g_assert_cmpfloat_with_epsilon (a->f1, b->f1, 1e-4);
    g_assert_cmpint (a->bitrate, ==, b->bitrate);
    g_assert_cmpfloat_with_epsilon (a->bytes_per_frame, b->bytes_per_frame,
        1e-4);
    g_assert_cmpint (a->pareto, ==, b->pareto);
  }
  {
    char *d = ys_profile_config_describe (&back->configs[3]);
    g_assert_cmpstr (d, ==, "edge h264 0.50 384x288 100k");
    g_free (d);
  }
  g_free (json);
  ys_profile_free (back);
  ys_profile_free (p);
}

/* Each broken file is refused with a message naming the problem. */
static void
test_malformed (void)
{
  YsProfile *p = sample ();
  char *good = ys_profile_to_json (p);
  static const struct {
    const char *from, *to; /* a substitution in the good file */
    const char *message; /* must appear in the error */
  } cases[] = {
    { "{", "[", "not JSON" },
    { "\"yoloswitch-profile/1\"", "\"yoloswitch-profile/9\"",
        "schema \"yoloswitch-profile/9\"" },
    { "\"iou_accuracy\" : 0.5,", "\"iou_accuracy\" : 1.5,",
        "configs[0].iou_accuracy must be from 0 to 1 (is 1.5)" },
    { "\"codec\" : \"h264\"", "\"codec\" : \"vp9\"",
        "configs[3].codec must be \"h264\" or \"mjpeg\"" },
    { "\"bitrate\" : 100000", "\"bitrate\" : \"fast\"",
        "configs[3].bitrate is missing or not a number" },
    { "\"path\" : \"local\"", "\"path\" : \"cloud\"",
        "configs[0].path must be \"local\", \"edge\" or \"split\"" },
    { "\"fps\" : 10", "\"fps\" : 0", "video.fps must be from 0.1" },
    { "\"width\" : 256", "\"width\" : 256.5",
        "configs[0].width must be a whole number" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
    GError *error = NULL;
    char **parts = g_strsplit (good, cases[i].from, 2);
    char *bad;
    g_assert_cmpint (g_strv_length (parts), ==, 2);
    bad = g_strjoin (cases[i].to, parts[0], parts[1], NULL);
    g_assert_null (ys_profile_parse (bad, -1, "bad.json", &error));
    g_assert_nonnull (error);
    g_test_message ("%s", error->message);
    g_assert_nonnull (strstr (error->message, cases[i].message));
    g_assert_nonnull (strstr (error->message, "bad.json"));
    g_assert_nonnull (strstr (error->message, "yoloswitch-profile"));
    g_error_free (error);
    g_free (bad);
    g_strfreev (parts);
  }

  {
    GError *error = NULL;
    g_assert_null (
        ys_profile_parse ("{\"schema\":\"yoloswitch-profile/"
                          "1\",\"video\":{\"path\":\"v\","
                          "\"frames\":1,\"width\":64,\"height\":64,\"fps\":10},"
                          "\"reference_model\":\"m\",\"configs\":[]}",
            -1, "empty.json", &error));
    g_assert_nonnull (strstr (error->message, "configs is missing or empty"));
    g_error_free (error);
  }
  {
    GError *error = NULL;
    g_assert_null (ys_profile_load ("/nonexistent/p.json", &error));
    g_assert_nonnull (strstr (error->message, "Cannot read profile"));
    g_error_free (error);
  }
  g_free (good);
  ys_profile_free (p);
}

/* Split rows (issue 15): a cut and a bit depth instead of a codec, scale
 * and bit rate; they round-trip, form their own front (by bytes), say so
 * in their description, and a bit depth other than 4, 6, 8 is refused. */
static void
test_split_rows (void)
{
  YsProfile *p = sample (), *back;
  GError *error = NULL;
  char *json, *bad, *what;
  char **parts;
  int base = p->config_count;

  p->configs = g_renew (YsProfileConfig, p->configs, base + 2);
  p->config_count = base + 2;
  for (int k = 0; k < 2; k++) {
    YsProfileConfig *c = &p->configs[base + k];
    memset (c, 0, sizeof (*c));
    c->path = YS_PATH_SPLIT;
    c->model = g_strdup ("yolo-fastest-1.1-xl");
    c->codec = g_strdup ("tensor");
    c->width = c->height = 320;
    c->cut = 61;
    c->bits = k == 0 ? 8 : 4;
    c->bytes_per_frame = k == 0 ? 19608 : 10008;
    c->encode_ms = 4;
    c->decode_ms = 0.1;
    c->infer_ms = 8;
    c->iou_accuracy = k == 0 ? 0.998 : 0.96;
    c->f1 = 1;
  }
  json = ys_profile_to_json (p);
  back = ys_profile_parse (json, -1, "split.json", &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->config_count, ==, base + 2);
  for (int k = 0; k < 2; k++) {
    const YsProfileConfig *c = &back->configs[base + k];
    g_assert_cmpint (c->path, ==, YS_PATH_SPLIT);
    g_assert_cmpint (c->cut, ==, 61);
    g_assert_cmpint (c->bits, ==, k == 0 ? 8 : 4);
    g_assert_cmpfloat (c->bytes_per_frame, ==, k == 0 ? 19608 : 10008);
    g_assert_cmpfloat_with_epsilon (c->encode_ms, 4, 1e-9);
    /* Cheaper but less accurate: both on the split front, which edge rows
     * (fewer bytes, less accurate) do not touch. */
    g_assert_true (c->pareto);
  }
  what = ys_profile_config_describe (&back->configs[base]);
  g_assert_cmpstr (what, ==, "split yolo-fastest-1.1-xl cut 61 8-bit");
  g_free (what);

  parts = g_strsplit (json, "\"bits\" : 4", 2);
  g_assert_cmpint (g_strv_length (parts), ==, 2);
  bad = g_strjoin ("\"bits\" : 5", parts[0], parts[1], NULL);
  g_assert_null (ys_profile_parse (bad, -1, "bad.json", &error));
  g_assert_nonnull (strstr (error->message, "bits must be 4, 6 or 8"));
  g_clear_error (&error);
  g_free (bad);
  g_strfreev (parts);
  g_free (json);
  ys_profile_free (back);
  ys_profile_free (p);
}

/* machine and created are informational: anything but a string reads as
 * none, without a critical from json-glib (g_test_init makes one fatal).
 * Found by tests/fuzz/fuzz_profile: tests/fuzz/profile/crashes/. */
static void
test_informational_not_strings (void)
{
  static const char *const values[] = { "[]", "{\"at\": 1}", "7", "null" };

  for (guint i = 0; i < G_N_ELEMENTS (values); i++) {
    GError *error = NULL;
    char *text = g_strdup_printf (
        "{\"schema\":\"yoloswitch-profile/1\",\"video\":{\"path\":\"v\","
        "\"frames\":1,\"width\":64,\"height\":64,\"fps\":10},"
        "\"reference_model\":\"m\",\"machine\":%s,\"created\":%s,"
        "\"configs\":[{\"path\":\"local\",\"model\":\"m\",\"width\":64,"
        "\"height\":64,\"infer_ms\":1,\"iou_accuracy\":0.5,\"f1\":0.5}]}",
        values[i], values[i]);
    YsProfile *p = ys_profile_parse (text, -1, "odd.json", &error);
    char *out;

    g_assert_no_error (error);
    g_assert_null (p->machine);
    g_assert_null (p->created);
    out = ys_profile_to_json (p);
    g_assert_null (strstr (out, "machine"));
    g_free (out);
    ys_profile_free (p);
    g_free (text);
  }
}

static void
test_save_and_load (void)
{
  YsProfile *p = sample (), *back;
  GError *error = NULL;
  char *dir = g_dir_make_tmp ("profile-XXXXXX", NULL);
  char *path = g_build_filename (dir, "p.json", NULL);

  g_assert_true (ys_profile_save (p, path, &error));
  back = ys_profile_load (path, &error);
  g_assert_no_error (error);
  g_assert_cmpint (back->config_count, ==, p->config_count);
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
  ys_profile_free (back);
  ys_profile_free (p);
}

/* The profile shipped in configs/ is one the reader accepts, with both
 * paths on its Pareto front. */
static void
test_shipped_profile (void)
{
  char *path = g_build_filename (g_getenv ("YOLOSWITCH_SOURCE_DIR"), "configs",
      "vtest.profile.json", NULL);
  GError *error = NULL;
  YsProfile *p = ys_profile_load (path, &error);
  int pareto[2] = { 0, 0 };

  g_assert_no_error (error);
  g_assert_cmpstr (p->video, ==, "vtest.avi");
  g_assert_cmpint (p->width, ==, 768);
  for (int i = 0; i < p->config_count; i++)
    pareto[p->configs[i].path] += p->configs[i].pareto;
  g_assert_cmpint (pareto[YS_PATH_LOCAL], >, 0);
  g_assert_cmpint (pareto[YS_PATH_EDGE], >, 0);
  ys_profile_free (p);
  g_free (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/profile/round-trip-and-pareto",
      test_round_trip_and_pareto);
  g_test_add_func ("/profile/malformed", test_malformed);
  g_test_add_func ("/profile/informational-not-strings",
      test_informational_not_strings);
  g_test_add_func ("/profile/save-and-load", test_save_and_load);
  g_test_add_func ("/profile/split-rows", test_split_rows);
  g_test_add_func ("/profile/shipped", test_shipped_profile);
  return g_test_run ();
}
