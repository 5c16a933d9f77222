/* An in-process path for the switcher's unit tests: it implements path.h
 * and does what the test tells it.  Frames submitted are recorded; each is
 * answered when the test says (fake_path_answer), or at once with
 * auto_answer, with one box whose class id is the frame's sequence, so a
 * test can tell which frame a box came from. */
#ifndef YOLOSWITCH_TESTS_FAKE_PATH_H
#define YOLOSWITCH_TESTS_FAKE_PATH_H

#include "path.h"

#include <glib.h>

typedef struct {
  uint64_t sequence;
  int64_t time_us;
  int tag;
  YsSubmitMode mode;
  int config_width, config_height; /* as configured when submitted */
  double config_scale;
  int64_t config_bitrate;
} FakeSubmit;

typedef struct FakePath FakePath;

FakePath *fake_path_new (YsPathKind kind);
YsPath *fake_path_base (FakePath *fake);

/* What readiness() answers (default ready). */
void fake_path_set_readiness (FakePath *fake, YsPathReadiness readiness);
/* submit() refuses with this reason (NULL: takes frames). */
void fake_path_set_refusal (FakePath *fake, const char *reason);
/* Every frame is answered as soon as it is submitted. */
void fake_path_set_auto_answer (FakePath *fake, gboolean on);
/* What estimates() fills in (link fields and local time). */
void fake_path_set_estimates (FakePath *fake, const YsEstimates *estimates);

/* Where its 20x20 box is (x; default 10): two fakes disagree on the same
 * frame by as much as their boxes lie apart. */
void fake_path_set_box_x (FakePath *fake, float x);

/* Answers frame `sequence` (ok with one box, or missing with reason). */
gboolean fake_path_answer (FakePath *fake, uint64_t sequence,
    const char *missing_reason);

/* Submits so far, oldest first (the array lives until the next submit). */
const FakeSubmit *fake_path_submits (FakePath *fake, guint *count);
guint fake_path_submit_count (FakePath *fake);
guint fake_path_flushes (FakePath *fake);

#endif
