/* Pacing frames to a rate below the stream's: which frames of a stream
 * go to a path that should get `fps` of them a second.  Owned by the path
 * that paces (edge_path.c); not thread-safe (the owner locks).
 *
 * The schedule advances one period per frame sent, not from the last
 * frame's time: 6 of a 10 frames/s stream are sent each second (frames 0,
 * 2, 4, 5, 7, 8, ...), where a minimum gap after the last frame would send
 * every second one (5/s).  A frame that comes a period or more after it
 * was due restarts the schedule from itself, so a path that could not take
 * frames for a while gets no burst to catch up; one late by less than that
 * leaves the schedule owing at most one stream frame (when the stream's
 * rate is known), so no two frames go back to back after it. */
#ifndef YS_PACER_H
#define YS_PACER_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
  double fps; /* <= 0: every frame is due */
  int64_t next_due_us; /* INT64_MIN: the next frame is due */
  int64_t last_sent_us; /* INT64_MIN: none sent */
  int64_t stream_interval_us; /* 0: the stream's rate is not known */
} YsPacer;

void ys_pacer_init (YsPacer *pacer, double fps);
/* The stream's frame rate (0: unknown); the pace is kept. */
void ys_pacer_set_stream_rate (YsPacer *pacer, double stream_fps);
/* Forgets what was sent: the next frame is due (a flush, a seek). */
void ys_pacer_reset (YsPacer *pacer);
/* The frame at frame_us (stream time) is due.  A frame before the last one
 * sent (the stream's time went back) is. */
bool ys_pacer_due (const YsPacer *pacer, int64_t frame_us);
/* The frame at frame_us was sent. */
void ys_pacer_sent (YsPacer *pacer, int64_t frame_us);

#endif
