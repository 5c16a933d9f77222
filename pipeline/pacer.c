/* Pacing frames to a rate; see pacer.h. */
#include "pacer.h"

#include <math.h>

/* A frame up to this share of a period before it is due still goes: frame
 * times jitter, and a 30 frames/s stream paced at 30 must lose none. */
#define PACING_EARLY 0.1

void
ys_pacer_init (YsPacer *p, double fps)
{
  p->fps = fps;
  p->stream_interval_us = 0;
  ys_pacer_reset (p);
}

void
ys_pacer_set_stream_rate (YsPacer *p, double stream_fps)
{
  p->stream_interval_us
      = stream_fps > 0 ? (int64_t) llround (1e6 / stream_fps) : 0;
}

void
ys_pacer_reset (YsPacer *p)
{
  p->next_due_us = INT64_MIN;
  p->last_sent_us = INT64_MIN;
}

bool
ys_pacer_due (const YsPacer *p, int64_t frame_us)
{
  if (p->fps <= 0 || p->next_due_us == INT64_MIN || frame_us < p->last_sent_us)
    return true;
  return frame_us >= p->next_due_us - 1e6 / p->fps * PACING_EARLY;
}

void
ys_pacer_sent (YsPacer *p, int64_t frame_us)
{
  int64_t period;

  if (p->fps <= 0)
    return;
  period = (int64_t) llround (1e6 / p->fps);
  if (p->next_due_us == INT64_MIN || frame_us >= p->next_due_us + period
      || frame_us < p->last_sent_us)
    p->next_due_us = frame_us + period;
  else {
    p->next_due_us += period;
    /* A frame later than its place by less than a period (the path was
     * busy for a frame or two) leaves a debt: the schedule may owe at most
     * one stream frame, or the next frames would go back to back. */
    if (p->stream_interval_us > 0
        && p->next_due_us < frame_us + period - p->stream_interval_us)
      p->next_due_us = frame_us + period - p->stream_interval_us;
  }
  p->last_sent_us = frame_us;
}
