/* A profile: what each configuration of the switcher costs and how
 * accurate it is on one video, measured by yoloswitch-profile and read by
 * the decision engine.  Schema: docs/PROFILE.md ("yoloswitch-profile/1").
 *
 * A configuration is either a local one (model x network input size) or an
 * edge one (codec x resolution scale x bit rate, the edge model fixed).
 * Accuracy is against the edge model on the undegraded frames (yolo/
 * metrics.h).  Within each path, a configuration is on the Pareto front
 * when no other one is at least as accurate and at least as cheap (local:
 * inference time; edge: bytes per frame) and better in one of the two. */
#ifndef YOLOSWITCH_PIPELINE_PROFILE_H
#define YOLOSWITCH_PIPELINE_PROFILE_H

#include "path_kind.h"

#include <glib.h>
#include <stdbool.h>

#define YS_PROFILE_SCHEMA "yoloswitch-profile/1"

typedef struct {
  YsPathKind path;
  char *model;
  /* local: the network input size; edge: the encoded frame size. */
  int width, height;
  /* edge only */
  char *codec; /* "h264" or "mjpeg" */
  double scale; /* of the video's size */
  gint64 bitrate; /* bits/s asked of the encoder */
  double bytes_per_frame; /* what it produced, mean */
  double encode_ms, decode_ms;
  /* split only: layers [0, cut) of the edge model run here, their
   * handover quantized to `bits` (bytes_per_frame: the packet's) */
  int cut, bits;
  /* all */
  double infer_ms; /* the model's forward pass on this machine */
  double iou_accuracy; /* mean per-frame IoU accuracy, 0..1 */
  double f1; /* F1 at IoU 0.5, 0..1 */
  bool pareto;
} YsProfileConfig;

typedef struct {
  char *video; /* path as given to the profiler */
  int frames; /* frames scored */
  int width, height; /* of the video */
  double fps; /* the video's; bit rates are per second at this rate */
  char *reference_model;
  char *machine, *created;
  YsProfileConfig *configs;
  int config_count;
} YsProfile;

/* Reads and validates a profile: NULL with *error naming the file, the
 * place and what to do when it is not a profile this code understands. */
YsProfile *ys_profile_load (const char *path, GError **error);
YsProfile *ys_profile_parse (const char *json, gssize length, const char *name,
    GError **error);
gboolean ys_profile_save (const YsProfile *profile, const char *path,
    GError **error);
char *ys_profile_to_json (const YsProfile *profile);
void ys_profile_free (YsProfile *profile);

/* Sets every config's pareto flag (see above). */
void ys_profile_mark_pareto (YsProfile *profile);

/* "local yolo-fastest-1.1 256x256", "edge h264 0.50 384x288 500k". */
char *ys_profile_config_describe (const YsProfileConfig *config);

#endif
