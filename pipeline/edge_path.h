/* The edge path (path.h): frames encoded and sent to a yoloswitch-edge
 * server by an offload session (offload/session.h), answered by the big
 * model; and the split path, the same with the first layers of the big
 * model run here and their tensors sent instead of pixels.  Its own rules, which the switcher only asks about through
 * readiness():
 *  - pacing: at most pace_fps frames per second of stream time go out
 *    (a frame this share of a period early still goes, so a 10 fps camera
 *    paced at 10 sends every frame despite jitter);
 *  - full: max-in-flight frames unanswered (or what the server said it
 *    keeps waiting per client, if fewer);
 *  - behind: the oldest unanswered frame has waited the latency budget
 *    beyond a round trip, so a new frame would only queue behind it (a
 *    keyframe on a long path takes that long on its own, which the round
 *    trip allows for). */
#ifndef YOLOSWITCH_PIPELINE_EDGE_PATH_H
#define YOLOSWITCH_PIPELINE_EDGE_PATH_H

#include "path.h"
#include "session.h"
#include "split_head.h"

typedef struct {
  /* Every frame's ending is queued (take).  Its latency_budget_ms is when
   * a frame is given up (its slot freed, its late RESULT dropped). */
  YsSessionOptions session;
  double pace_fps; /* 0: no pacing, every frame offered goes */
  /* "behind" when the oldest unanswered frame has waited this beyond a
   * round trip: the latency a user wants, which may be shorter than the
   * give-up budget (0: that budget). */
  int behind_after_ms;
  /* The split path (kind YS_PATH_SPLIT) instead: each frame runs the
   * head of the edge model here (split_head.h, on the caller's thread,
   * as the edge path encodes) and its packet goes as a split FRAME; the
   * session's codec and model hash are set from it.  NULL: the edge
   * path. */
  const YsSplitHeadOptions *split;
} YsEdgePathOptions;

/* NULL with *error (a sentence; free it) for a bad URL or codec, or a
 * split model that cannot be opened. */
YsPath *ys_edge_path_new (const YsEdgePathOptions *options, char **error);

/* The session inside, for what only an offload element asks of it. */
YsSession *ys_edge_path_session (YsPath *path);

#endif
