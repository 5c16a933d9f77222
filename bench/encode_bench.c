/* Encoder cost of the offload path, for bench/encoder.py: encodes raw I420
 * frames from a file with the yolooffload encoder (offload/encoder.c) and
 * prints one JSON object: wall and CPU time per frame, bytes per frame.
 *
 *   yoloswitch-encode-bench FILE WIDTH HEIGHT FRAMES BITRATE [h264|mjpeg]
 *       [OUT_W OUT_H [PACKETS]]
 *
 * PACKETS, when given, receives every packet as a little-endian uint32
 * length, one keyframe byte and the bytes: canned frames for the server
 * load benchmark (bench/edge_load.py).
 *
 * Frames are read into memory first, so only scaling and encoding are
 * timed, the same work `ffmpeg -benchmark` reports for its encoder. */
#include "clock.h"
#include "encoder.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double
now_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Writes and counts every packet the encoder has ready. */
static bool
take_packets (YsEncoder *enc, FILE *dump, const char *dump_path,
    size_t *total_bytes, int *keyframes)
{
  YsPacket packet;
  const char *error = NULL;
  int r;

  while ((r = ys_encoder_receive (enc, &packet, &error)) > 0) {
    if (dump != NULL) {
      uint8_t head[5] = { packet.size & 0xff, (packet.size >> 8) & 0xff,
        (packet.size >> 16) & 0xff, (packet.size >> 24) & 0xff,
        packet.keyframe };
      if (fwrite (head, 1, 5, dump) != 5
          || fwrite (packet.data, 1, packet.size, dump) != packet.size) {
        fprintf (stderr, "cannot write %s\n", dump_path);
        return false;
      }
    }
    *total_bytes += packet.size;
    *keyframes += packet.keyframe;
  }
  if (r < 0) {
    fprintf (stderr, "encoder: %s\n", error);
    return false;
  }
  return true;
}

static double
cpu_ms (void)
{
  struct rusage ru;
  getrusage (RUSAGE_SELF, &ru);
  return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3
      + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

int
main (int argc, char **argv)
{
  const char *path, *error = NULL;
  int width, height, frames, out_w, out_h, keyframes = 0;
  long long bitrate;
  YsCodec codec;
  size_t frame_bytes, total_bytes = 0;
  uint8_t *pixels;
  double *times, wall0, cpu0, wall, cpu, median;
  FILE *f, *dump = NULL;
  YsEncoderOptions options = { .fps = 30, .gop = 30 };
  YsEncoder *enc;

  if (argc < 6) {
    fprintf (stderr,
        "usage: %s FILE WIDTH HEIGHT FRAMES BITRATE [h264|mjpeg] [OUT_W "
        "OUT_H]\n",
        argv[0]);
    return 2;
  }
  path = argv[1];
  width = atoi (argv[2]);
  height = atoi (argv[3]);
  frames = atoi (argv[4]);
  bitrate = atoll (argv[5]);
  codec = argc > 6 && strcmp (argv[6], "mjpeg") == 0 ? YS_CODEC_MJPEG
                                                     : YS_CODEC_H264;
  out_w = argc > 8 ? atoi (argv[7]) : width;
  out_h = argc > 8 ? atoi (argv[8]) : height;
  frame_bytes = (size_t) width * height * 3 / 2;
  pixels = malloc (frame_bytes * frames);
  times = malloc (sizeof (double) * frames);
  f = fopen (path, "rb");
  if (f == NULL || pixels == NULL || times == NULL || frames < 1) {
    fprintf (stderr, "cannot open %s or allocate %d frames\n", path, frames);
    return 1;
  }
  if (fread (pixels, frame_bytes, frames, f) != (size_t) frames) {
    fprintf (stderr, "%s holds fewer than %d %dx%d I420 frames\n", path, frames,
        width, height);
    return 1;
  }
  fclose (f);
  if (argc > 9 && (dump = fopen (argv[9], "wb")) == NULL) {
    fprintf (stderr, "cannot write %s\n", argv[9]);
    return 1;
  }

  options.codec = codec;
  enc = ys_encoder_new (&options, &error);
  if (enc == NULL) {
    fprintf (stderr, "encoder: %s\n", error);
    return 1;
  }
  ys_encoder_set_size (enc, out_w, out_h);
  ys_encoder_set_bitrate (enc, bitrate);

  wall0 = now_ms ();
  cpu0 = cpu_ms ();
  for (int i = 0; i < frames; i++) {
    const uint8_t *y = pixels + frame_bytes * i;
    YoloFrame frame = { .format = YOLO_PIXEL_I420,
      .width = width,
      .height = height,
      .planes = { y, y + width * height, y + width * height * 5 / 4 },
      .strides = { width, width / 2, width / 2 } };
    double t = now_ms ();
    if (!ys_encoder_send (enc, &frame, (uint64_t) i, &error)) {
      fprintf (stderr, "frame %d: %s\n", i, error);
      return 1;
    }
    if (!take_packets (enc, dump, argv[9], &total_bytes, &keyframes))
      return 1;
    times[i] = now_ms () - t;
  }
  /* Every packet counted whatever the encoder holds back (ours: none). */
  ys_encoder_drain (enc);
  if (!take_packets (enc, dump, argv[9], &total_bytes, &keyframes))
    return 1;
  wall = now_ms () - wall0;
  cpu = cpu_ms () - cpu0;
  median = yolo_median (times, frames); /* sorts: p95 below reads it */
  printf ("{\"encoder\":\"%s\",\"frames\":%d,\"width\":%d,\"height\":%d,"
          "\"wall_ms_per_frame\":%.3f,\"cpu_ms_per_frame\":%.3f,"
          "\"median_ms\":%.3f,\"p95_ms\":%.3f,\"bytes_per_frame\":%.1f,"
          "\"keyframes\":%d}\n",
      ys_encoder_name (enc), frames, out_w, out_h, wall / frames, cpu / frames,
      median, times[(int) (0.95 * (frames - 1))], (double) total_bytes / frames,
      keyframes);
  ys_encoder_free (enc);
  if (dump != NULL)
    fclose (dump);
  free (pixels);
  free (times);
  return 0;
}
