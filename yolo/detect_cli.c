/* yoloswitch-detect: runs a model on still images and prints one JSON object
 * per image on one line.  Used by benchmarks, checks and people who want to
 * see what a model finds without building a pipeline. */
#include "yolo.h"

#include <gdk-pixbuf/gdk-pixbuf.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Median load time of --reload extra loads; negative when not measured. */
static double reload_ms = -1;

static void
usage (FILE *out)
{
  fprintf (out,
      "Usage: yoloswitch-detect [--model NAME | --cfg F --weights F --labels "
      "F]\n"
      "                         [--model-dir D] [--threshold T] [--nms T]\n"
      "                         [--letterbox] [--repeat N] [--engine "
      "fast|darknet]\n"
      "                         [--threads N] [--input-size WxH] [--profile]\n"
      "                         [--reload N] IMAGE...\n"
      "Prints one JSON line per image: model, load_ms, median infer_ms over\n"
      "--repeat runs, and detections with x, y, w, h in image pixels.\n"
      "--profile adds the time per layer type, summed over the runs.\n"
      "Default model: " YOLO_DEFAULT_LOCAL_MODEL "\n");
}

static void
print_json_string (const char *s)
{
  putchar ('"');
  for (; *s; s++) {
    unsigned char c = (unsigned char) *s;
    if (c == '"' || c == '\\')
      printf ("\\%c", c);
    else if (c < 0x20)
      printf ("\\u%04x", c);
    else
      putchar (c);
  }
  putchar ('"');
}

static bool
parse_float (const char *s, float lo, float hi, float *out)
{
  char *end;
  double v = strtod (s, &end);
  if (end == s || *end != '\0' || v < lo || v > hi)
    return false;
  *out = (float) v;
  return true;
}

/* ,"profile":{"runs":N,"conv_1x1":{"ms":per run,"layers":per run},...} */
static void
print_profile (const YoloModel *model)
{
  YoloProfile p;
  double runs;

  yolo_model_profile (model, &p);
  runs = p.runs > 0 ? (double) p.runs : 1.0;
  printf (",\"profile\":{\"runs\":%ld", p.runs);
  for (int k = 0; k < YOLO_PROFILE_KINDS; k++)
    printf (",\"%s\":{\"ms\":%.3f,\"layers\":%.0f}", yolo_profile_kind_name (k),
        p.ms[k] / runs, p.layers[k] / runs);
  printf ("}");
}

static int
detect_image (YoloModel *model, const char *path,
    const YoloInferOptions *options, int repeat, bool profile)
{
  GError *error = NULL;
  GdkPixbuf *pixbuf = gdk_pixbuf_new_from_file (path, &error);
  YoloFrame frame = { 0 };
  YoloDetections dets;
  YoloStatus status;
  YoloInput *input = yolo_input_new (model);
  double *times, *prepare;
  int ok = 0;

  if (pixbuf == NULL) {
    fprintf (stderr, "yoloswitch-detect: cannot read image %s: %s\n", path,
        error->message);
    g_error_free (error);
    return 1;
  }
  frame.format
      = gdk_pixbuf_get_has_alpha (pixbuf) ? YOLO_PIXEL_RGBX : YOLO_PIXEL_RGB;
  frame.width = gdk_pixbuf_get_width (pixbuf);
  frame.height = gdk_pixbuf_get_height (pixbuf);
  frame.planes[0] = gdk_pixbuf_read_pixels (pixbuf);
  frame.strides[0] = gdk_pixbuf_get_rowstride (pixbuf);

  yolo_detections_init (&dets);
  yolo_model_profile_reset (model);
  times = calloc (repeat, sizeof (double));
  prepare = calloc (repeat, sizeof (double));
  for (int i = 0; i < repeat && times != NULL && prepare != NULL; i++) {
    double t0 = yolo_now_ms ();
    if (input == NULL
        || !yolo_input_fill (input, &frame, options->letterbox, &status)
        || !yolo_model_run (model, input, options, &dets, &status)) {
      fprintf (stderr, "yoloswitch-detect: %s: %s\n", path,
          input ? status.message : "out of memory");
      goto out;
    }
    times[i] = dets.infer_ms;
    prepare[i] = yolo_now_ms () - t0 - dets.infer_ms;
  }
  if (times == NULL || prepare == NULL)
    goto out;

  printf ("{\"image\":");
  print_json_string (path);
  printf (",\"width\":%d,\"height\":%d,\"model\":", frame.width, frame.height);
  print_json_string (yolo_model_name (model));
  printf (",\"engine\":\"%s\",\"threads\":%d",
      yolo_engine_name (yolo_model_engine (model)), yolo_model_threads (model));
  if (reload_ms >= 0)
    printf (",\"reload_ms\":%.3f", reload_ms);
  printf (",\"load_ms\":%.3f,\"prepare_ms\":%.3f,\"infer_ms\":%.3f,"
          "\"detections\":[",
      yolo_model_load_ms (model), yolo_median (prepare, repeat),
      yolo_median (times, repeat));
  for (size_t i = 0; i < dets.count; i++) {
    const YoloDetection *d = &dets.items[i];
    printf ("%s{\"label\":", i ? "," : "");
    print_json_string (d->label);
    printf (",\"class_id\":%d,\"confidence\":%.4f,\"x\":%.1f,\"y\":%.1f,"
            "\"w\":%.1f,\"h\":%.1f}",
        d->class_id, d->confidence, d->x, d->y, d->w, d->h);
  }
  printf ("]");
  if (profile)
    print_profile (model);
  printf ("}\n");
  fflush (stdout);
  ok = 1;

out:
  free (times);
  free (prepare);
  yolo_input_free (input);
  yolo_detections_free (&dets);
  g_object_unref (pixbuf);
  return ok ? 0 : 1;
}

int
main (int argc, char **argv)
{
  static const struct option longopts[] = {
    { "model", required_argument, NULL, 'm' },
    { "cfg", required_argument, NULL, 'c' },
    { "weights", required_argument, NULL, 'w' },
    { "labels", required_argument, NULL, 'l' },
    { "model-dir", required_argument, NULL, 'd' },
    { "threshold", required_argument, NULL, 't' },
    { "nms", required_argument, NULL, 'n' },
    { "letterbox", no_argument, NULL, 'L' },
    { "repeat", required_argument, NULL, 'r' },
    { "engine", required_argument, NULL, 'e' },
    { "threads", required_argument, NULL, 'j' },
    { "input-size", required_argument, NULL, 's' },
    { "profile", no_argument, NULL, 'p' },
    { "reload", required_argument, NULL, 'R' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  YoloModelSpec spec = { 0 };
  YoloInferOptions options;
  YoloStatus status;
  YoloModel *model;
  int repeat = 1, opt, failures = 0;
  bool profile = false;
  int reload = 0;

  yolo_infer_options_init (&options);
  while ((opt = getopt_long (argc, argv, "m:c:w:l:d:t:n:Lr:e:j:s:pR:h",
              longopts, NULL))
      != -1) {
    switch (opt) {
      case 'm': spec.name = optarg; break;
      case 'c': spec.cfg_path = optarg; break;
      case 'w': spec.weights_path = optarg; break;
      case 'l': spec.labels_path = optarg; break;
      case 'd': spec.model_dir = optarg; break;
      case 'L': options.letterbox = true; break;
      case 't':
        if (!parse_float (optarg, 0, 1, &options.threshold)) {
          fprintf (stderr,
              "yoloswitch-detect: --threshold %s is not a number "
              "between 0 and 1\n",
              optarg);
          return 2;
        }
        break;
      case 'n':
        if (!parse_float (optarg, 0, 1, &options.nms)) {
          fprintf (stderr,
              "yoloswitch-detect: --nms %s is not a number "
              "between 0 and 1\n",
              optarg);
          return 2;
        }
        break;
      case 'r':
        repeat = atoi (optarg);
        if (repeat < 1 || repeat > 100000) {
          fprintf (stderr,
              "yoloswitch-detect: --repeat %s is not a count "
              "from 1 to 100000\n",
              optarg);
          return 2;
        }
        break;
      case 'e':
        if (!yolo_engine_from_name (optarg, &spec.engine)) {
          fprintf (stderr,
              "yoloswitch-detect: --engine %s: use fast or "
              "darknet\n",
              optarg);
          return 2;
        }
        break;
      case 'j':
        spec.threads = atoi (optarg);
        if (spec.threads < 1 || spec.threads > 256) {
          fprintf (stderr,
              "yoloswitch-detect: --threads %s is not a count "
              "from 1 to 256\n",
              optarg);
          return 2;
        }
        break;
      case 's':
        if (sscanf (optarg, "%dx%d", &spec.input_width, &spec.input_height)
            != 2) {
          fprintf (stderr,
              "yoloswitch-detect: --input-size %s: give WIDTHxHEIGHT, "
              "e.g. 256x256\n",
              optarg);
          return 2;
        }
        break;
      case 'p': profile = true; break;
      case 'R':
        reload = atoi (optarg);
        if (reload < 1 || reload > 1000) {
          fprintf (stderr,
              "yoloswitch-detect: --reload %s is not a count from 1 to 1000\n",
              optarg);
          return 2;
        }
        break;
      case 'h': usage (stdout); return 0;
      default: usage (stderr); return 2;
    }
  }
  if (optind >= argc) {
    fprintf (stderr, "yoloswitch-detect: no image given; see --help\n");
    return 2;
  }
  if (spec.name == NULL && spec.cfg_path == NULL)
    spec.name = YOLO_DEFAULT_LOCAL_MODEL;

  model = yolo_model_open (&spec, &status);
  if (model == NULL) {
    fprintf (stderr, "yoloswitch-detect: %s\n", status.message);
    return 1;
  }
  /* --reload N: open and close the model N more times and report the
   * median as reload_ms: the model's own cost, without the first-use costs
   * of the process (symbol binding, first page faults). */
  if (reload > 0) {
    double *times = calloc (reload, sizeof (double));
    for (int i = 0; times != NULL && i < reload; i++) {
      YoloModel *again = yolo_model_open (&spec, &status);
      if (again == NULL) {
        fprintf (stderr, "yoloswitch-detect: %s\n", status.message);
        free (times);
        return 1;
      }
      times[i] = yolo_model_load_ms (again);
      yolo_model_close (again);
    }
    if (times != NULL) {
      reload_ms = yolo_median (times, reload);
      free (times);
    }
  }
  for (int i = optind; i < argc; i++)
    failures += detect_image (model, argv[i], &options, repeat, profile);
  yolo_model_close (model);
  return failures ? 1 : 0;
}
