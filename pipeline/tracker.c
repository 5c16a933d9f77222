/* Box tracking between results; the rules are in tracker.h. */
#include "tracker.h"

#include "metrics.h"

#include <glib.h>
#include <math.h>
#include <string.h>

#define MAX_TRACKS 256
#define VELOCITY_GAIN 0.5 /* share of a new velocity sample taken */
/* Second-chance matching: centres at most this many mean box sides apart. */
#define MAX_CENTRE_DISTANCE 1.5

typedef struct {
  int id;
  YoloDetection box; /* at seen_us */
  double vx, vy; /* centre, pixels per second */
  int64_t seen_us;
  int hits; /* detections matched, the first included */
  int misses;
  int origin;
} Track;

struct YsTracker {
  YsTrackerOptions o;
  Track tracks[MAX_TRACKS];
  int count;
  int next_id;
  int64_t newest_us;
  YsTrackedBox out[MAX_TRACKS];
};

YsTracker *
ys_tracker_new (const YsTrackerOptions *options)
{
  YsTracker *t = g_new0 (YsTracker, 1);
  if (options != NULL)
    t->o = *options;
  if (t->o.min_iou <= 0)
    t->o.min_iou = 0.3;
  if (t->o.max_misses <= 0)
    t->o.max_misses = 2;
  if (t->o.max_age_us <= 0)
    t->o.max_age_us = 1000000;
  if (t->o.max_extrapolate_us <= 0)
    t->o.max_extrapolate_us = 500000;
  ys_tracker_reset (t);
  return t;
}

void
ys_tracker_free (YsTracker *t)
{
  g_free (t);
}

void
ys_tracker_reset (YsTracker *t)
{
  t->count = 0;
  t->next_id = 1;
  t->newest_us = INT64_MIN;
}

int64_t
ys_tracker_newest_us (const YsTracker *t)
{
  return t->newest_us;
}

/* The track's box moved to at_us (motion capped at max_extrapolate_us). */
static YoloDetection
moved (const YsTracker *t, const Track *k, int64_t at_us)
{
  YoloDetection b = k->box;
  int64_t dt = at_us - k->seen_us;
  double s;
  dt = CLAMP (dt, -t->o.max_extrapolate_us, t->o.max_extrapolate_us);
  s = dt / 1e6;
  b.x += (float) (k->vx * s);
  b.y += (float) (k->vy * s);
  return b;
}

static void
clip (YoloDetection *b, int width, int height)
{
  float x0 = fmaxf (b->x, 0), y0 = fmaxf (b->y, 0);
  float x1 = fminf (b->x + b->w, (float) width);
  float y1 = fminf (b->y + b->h, (float) height);
  b->x = x0;
  b->y = y0;
  b->w = fmaxf (x1 - x0, 0);
  b->h = fmaxf (y1 - y0, 0);
}

static void
take_detection (Track *k, const YoloDetection *d, int64_t frame_us, int origin)
{
  double dt = (frame_us - k->seen_us) / 1e6;
  if (dt > 1e-3) {
    double cx0 = k->box.x + k->box.w / 2.0, cy0 = k->box.y + k->box.h / 2.0;
    double cx1 = d->x + d->w / 2.0, cy1 = d->y + d->h / 2.0;
    /* The first sample is taken whole: there is nothing to smooth yet. */
    double gain = k->hits == 1 ? 1.0 : VELOCITY_GAIN;
    k->vx += gain * ((cx1 - cx0) / dt - k->vx);
    k->vy += gain * ((cy1 - cy0) / dt - k->vy);
  }
  k->hits++;
  k->box = *d;
  k->seen_us = frame_us;
  k->misses = 0;
  k->origin = origin;
}

/* How well a track moved to the frame fits a detection: IoU, or by
 * distance 1 - (centre distance / the track's mean side) when by_distance;
 * below the threshold, no match. */
static double
fit (const YsTracker *t, const YoloDetection *p, const YoloDetection *d,
    bool by_distance)
{
  double dx, dy, side;
  if (!by_distance) {
    double iou = yolo_box_iou (p, d);
    return iou >= t->o.min_iou ? iou : -1;
  }
  dx = (p->x + p->w / 2.0) - (d->x + d->w / 2.0);
  dy = (p->y + p->h / 2.0) - (d->y + d->h / 2.0);
  side = fmax ((p->w + p->h) / 2.0, 1);
  return sqrt (dx * dx + dy * dy) / side <= MAX_CENTRE_DISTANCE
      ? 1 - sqrt (dx * dx + dy * dy) / side / MAX_CENTRE_DISTANCE
      : -1;
}

/* Pairs are small in number (tens of boxes): a plain search per pair. */
static void
match_pairs (YsTracker *t, const YoloDetections *dets, int64_t frame_us,
    bool *track_used, bool *det_used, bool by_distance, int origin)
{
  for (;;) {
    double best = -1;
    int bt = -1, bd = -1;
    for (int i = 0; i < t->count; i++) {
      YoloDetection p;
      if (track_used[i])
        continue;
      p = moved (t, &t->tracks[i], frame_us);
      for (size_t j = 0; j < dets->count; j++) {
        double f;
        if (det_used[j] || dets->items[j].class_id != p.class_id)
          continue;
        f = fit (t, &p, &dets->items[j], by_distance);
        if (f > best) {
          best = f;
          bt = i;
          bd = (int) j;
        }
      }
    }
    if (bt < 0)
      return;
    track_used[bt] = det_used[bd] = true;
    take_detection (&t->tracks[bt], &dets->items[bd], frame_us, origin);
  }
}

bool
ys_tracker_update (YsTracker *t, const YoloDetections *dets, int64_t frame_us,
    int origin)
{
  size_t n = dets->count;
  bool *det_used, *track_used;
  int kept = 0;

  if (frame_us < t->newest_us)
    return false;
  t->newest_us = frame_us;
  det_used = g_new0 (bool, MAX (n, 1));
  track_used = g_new0 (bool, MAX (t->count, 1));

  /* Greedy matching, best pairs first: by IoU of the moved box, then, for
   * what is left, by centre distance (a small, fast object can move clear
   * of its own box between two results). */
  match_pairs (t, dets, frame_us, track_used, det_used, false, origin);
  match_pairs (t, dets, frame_us, track_used, det_used, true, origin);

  /* Unmatched tracks: a miss; gone after too many or when too old. */
  for (int i = 0; i < t->count; i++) {
    Track *k = &t->tracks[i];
    if (!track_used[i])
      k->misses++;
    if (k->misses > t->o.max_misses || frame_us - k->seen_us > t->o.max_age_us)
      continue;
    t->tracks[kept++] = *k;
  }
  t->count = kept;

  /* Unmatched detections: new objects. */
  for (size_t j = 0; j < n && t->count < MAX_TRACKS; j++) {
    Track *k;
    if (det_used[j])
      continue;
    k = &t->tracks[t->count++];
    memset (k, 0, sizeof (*k));
    k->id = t->next_id++;
    k->box = dets->items[j];
    k->seen_us = frame_us;
    k->hits = 1;
    k->origin = origin;
  }
  g_free (det_used);
  g_free (track_used);
  return true;
}

const YsTrackedBox *
ys_tracker_predict (YsTracker *t, int64_t at_us, int width, int height,
    int *count)
{
  int n = 0;
  for (int i = 0; i < t->count; i++) {
    const Track *k = &t->tracks[i];
    YsTrackedBox *o;
    if (at_us - k->seen_us > t->o.max_age_us)
      continue;
    o = &t->out[n];
    o->id = k->id;
    o->box = moved (t, k, at_us);
    clip (&o->box, width, height);
    if (o->box.w < 1 || o->box.h < 1)
      continue; /* moved out of the frame */
    o->origin = k->origin;
    o->seen_us = k->seen_us;
    n++;
  }
  *count = n;
  return t->out;
}
