/* The ncnn anchor's side of bench/engines.py: one process loads one converted
 * model and runs its forward on a prepared input, like yoloswitch-detect
 * does for ours, and prints one JSON line.
 *
 * It is not built by meson: ncnn is built by hand outside the repository
 * (docs/BENCHMARKS.md), and engines.py compiles this file against that build
 * into its temporary directory.  Only ncnn's public API is used.
 *
 * Usage: ncnn_runner PARAM BIN WIDTH HEIGHT THREADS REPEAT INPUT
 * INPUT is WIDTH x HEIGHT x 3 floats, planar RGB in [0, 1] (what Darknet
 * feeds its network), so both engines see the same pixels.
 * Output: {"load_ms", "infer_ms" (median), "min_ms", "max_ms",
 * "detections": [[class, score, x0, y0, x1, y1], ...]} with boxes in
 * network-input fractions.  An ncnn built with NCNN_BENCHMARK=ON also prints
 * each layer's time on stderr, run after run; engines.py sums those. */
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "net.h"

static double
now_ms ()
{
  using namespace std::chrono;
  return duration<double, std::milli> (steady_clock::now ().time_since_epoch ())
      .count ();
}

int
main (int argc, char **argv)
{
  if (argc != 8) {
    fprintf (stderr, "usage: %s PARAM BIN WIDTH HEIGHT THREADS REPEAT INPUT\n",
        argv[0]);
    return 2;
  }
  const int w = atoi (argv[3]), h = atoi (argv[4]);
  const int threads = atoi (argv[5]), repeat = atoi (argv[6]);
  if (w <= 0 || h <= 0 || threads <= 0 || repeat <= 0) {
    fprintf (stderr, "WIDTH, HEIGHT, THREADS and REPEAT must be > 0\n");
    return 2;
  }

  std::vector<float> pixels ((size_t) w * h * 3);
  FILE *f = fopen (argv[7], "rb");
  if (!f
      || fread (pixels.data (), sizeof (float), pixels.size (), f)
          != pixels.size ()) {
    fprintf (stderr, "%s: cannot read %d x %d x 3 floats\n", argv[7], w, h);
    return 1;
  }
  fclose (f);

  /* ncnn's defaults (packed layout, Winograd, light mode, its OpenMP
   * block time) but for the thread count, which both engines are given. */
  ncnn::Net net;
  net.opt.num_threads = threads;
  const double t0 = now_ms ();
  if (net.load_param (argv[1]) != 0 || net.load_model (argv[2]) != 0) {
    fprintf (stderr, "%s / %s: ncnn cannot load them\n", argv[1], argv[2]);
    return 1;
  }
  const double load_ms = now_ms () - t0;
  if (net.input_names ().empty () || net.output_names ().empty ()) {
    fprintf (stderr, "%s: no input or output blob\n", argv[1]);
    return 1;
  }
  const char *in_name = net.input_names ()[0];
  const char *out_name = net.output_names ()[0];

  ncnn::Mat in (w, h, 3);
  for (int c = 0; c < 3; c++)
    std::copy (pixels.begin () + (size_t) c * w * h,
        pixels.begin () + (size_t) (c + 1) * w * h, in.channel (c).row (0));

  /* One extractor per run: an extractor caches its blobs, so reusing one
   * would time a lookup, not the network. */
  std::vector<double> times;
  ncnn::Mat out;
  for (int i = 0; i < repeat; i++) {
    const double t = now_ms ();
    ncnn::Extractor ex = net.create_extractor ();
    ex.input (in_name, in);
    if (ex.extract (out_name, out) != 0) {
      fprintf (stderr, "forward failed\n");
      return 1;
    }
    times.push_back (now_ms () - t);
  }
  std::vector<double> sorted = times;
  std::sort (sorted.begin (), sorted.end ());

  printf ("{\"load_ms\":%.3f,\"infer_ms\":%.3f,\"min_ms\":%.3f,"
          "\"max_ms\":%.3f,\"runs\":%d,\"detections\":[",
      load_ms, sorted[sorted.size () / 2], sorted.front (), sorted.back (),
      repeat);
  /* Yolov3DetectionOutput's rows: class + 1 (0 is its background), score,
   * then the corners. */
  for (int i = 0; i < out.h; i++) {
    const float *r = out.row (i);
    printf ("%s[%d,%.4f,%.4f,%.4f,%.4f,%.4f]", i ? "," : "", (int) r[0] - 1,
        r[1], r[2], r[3], r[4], r[5]);
  }
  printf ("]}\n");
  return 0;
}
