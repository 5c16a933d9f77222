/* The switcher's decision engine: every tick it picks the path (local or
 * edge) and the configuration from the profile that maximizes accuracy
 * while the targets hold, from live estimates of the link, the server and
 * the local model.  Plain C, no clock of its own: the caller passes the
 * time, so tests drive it with a simulated clock and network.
 *
 * Rules (docs/DESIGN.md, "Switching"):
 *  - degrade at once: when the current configuration's predicted frame
 *    rate or latency misses its target, the next tick moves to the best
 *    configuration that meets the targets;
 *  - step up carefully: a more demanding configuration must look feasible
 *    for hold_ms, then be probed (the caller sends its frames to both
 *    paths, or at the new bit rate) for probe_ms, and is taken only if it
 *    still holds; when it does not, the most accurate smaller edge step
 *    the probe's measurements allow is taken instead, if there is one;
 *    a failed probe doubles the wait before the next one.
 *    Until the first degrade, fallback or failed probe there is nothing to
 *    be wary of, so the first step up (off the local start) is probed
 *    without the hold, and its probe ends after a quarter of probe_ms once
 *    the link is measured;
 *  - with the link never measured (no bandwidth known, none remembered),
 *    the first step onto it is the cheapest configuration that beats the
 *    current one, not the most demanding: a probe of that one on a small
 *    link leaves seconds of queue; its first frame (a keyframe) measures
 *    the link, and the measurement picks the next step;
 *  - an H.264 configuration's bits on the link are the profile's scaled by
 *    what the live encoder sends against the profile's on the configuration
 *    it runs (sent_bytes_factor, the last one measured kept): the profile's
 *    content and encoder are not the live ones;
 *  - fall back at once to the best local configuration when the server is
 *    disconnected or the oldest unacked frame is late by more than
 *    stall_factor x RTT_min (or TCP's timeout, smoothed RTT + 4 x its
 *    variation, if longer; at least min_stall_ms) beyond 1.5 x its
 *    transmit time at the estimated bandwidth;
 *  - recover from a stall fallback: when the late ACKs come back within
 *    2 s the link was slow or longer, not gone, and they measured it; go
 *    back at once to the best edge configuration, up to the one that
 *    stalled, that the last frame's measurement allows, without hold or
 *    probe;
 *  - when the targets conflict, priority (default frame rate, then
 *    latency, then accuracy) says which to give up, and the decision names
 *    the missed target. */
#ifndef YOLOSWITCH_PIPELINE_DECISION_H
#define YOLOSWITCH_PIPELINE_DECISION_H

#include "profile.h"

#include <stdbool.h>
#include <stdint.h>

typedef enum {
  YS_POLICY_AUTO,
  YS_POLICY_LOCAL,
  YS_POLICY_EDGE,
  YS_POLICY_SPLIT, /* split inference only (cut and bits adapt) */
} YsPolicy;

typedef enum {
  YS_TARGET_FPS,
  YS_TARGET_LATENCY,
  YS_TARGET_ACCURACY,
} YsTarget;

typedef struct {
  double fps; /* results per second wanted */
  double iou; /* IoU accuracy wanted, 0..1 */
  double max_latency_ms; /* capture to result */
  double max_bitrate; /* bits/s the edge path may use; 0: no limit */
  YsTarget priority[3]; /* first: kept at the expense of the others */
  YsPolicy policy;
  /* Pixels stay local: no configuration that sends the frame (edge) is
   * ever chosen or probed, only local and split ones. */
  bool privacy;
  /* tuning (0: defaults) */
  double headroom; /* share of the estimated bandwidth to use (0.8) */
  double stall_factor; /* k of "acks stalled beyond k x RTT_min" (4) */
  int64_t min_stall_ms; /* stalls shorter than this never count (100) */
  int64_t hold_ms; /* a step up must look feasible this long (2000) */
  int64_t probe_ms; /* and then survive a probe this long (1000) */
} YsTargets;

void ys_targets_init (YsTargets *targets);

/* What the element knows now.  Times in microseconds of the caller's clock. */
typedef struct {
  int64_t now_us;
  bool connected;
  double bandwidth_bps; /* acked bytes over the last second; 0: unknown */
  double last_bandwidth_bps; /* what the last acked frame measured */
  /* smoothed, its variation, smallest of 10 s, smallest of 1 s; 0: unknown */
  double rtt_ms, rtt_var_ms, rtt_min_ms, path_rtt_ms;
  double server_ms; /* queue + decode + inference per frame */
  int64_t
      oldest_unacked_us; /* send time of the oldest unacked frame; 0: none */
  double oldest_unacked_bytes; /* its size and of those ahead when sent */
  double local_infer_ms; /* measured on the current local config; 0: unknown */
  /* The configuration local_infer_ms was measured on (-1: none); the
   * switcher passes local_infer_ms on only when it is the one in force. */
  int local_infer_config;
  double encode_ms; /* measured; 0: unknown (profile's figure) */
  /* The live encoder's bytes per frame over the profile's for the
   * configuration it was sending (the edge path's H.264 frames, over
   * windows of 20; 0: none sent yet).  The profile's footage is not the
   * live scene: the decider scales every H.264 configuration's bytes by
   * it. */
  double sent_bytes_factor;
  /* The link figures above (server_ms, encode_ms) were measured on the
   * split path, not the edge path: they apply to split configurations
   * only, and the others take the profile's. */
  bool figures_of_split;
  /* A link path that reported itself disconnected (its own session: a
   * split session refuses a server with another model): its
   * configurations are not chosen, and it is fallen back from. */
  bool path_down[YS_PATH_KINDS];
  /* A link path that has not connected yet, just after the start: no
   * probe begins until every path the policy allows has connected (or
   * stopped being waited for), so the first probe goes to the best of
   * them, not the first one up (a big H.264 probe leaves a queue on the
   * link that a split frame would then measure as its round trip). */
  bool path_settling[YS_PATH_KINDS];
  /* NULL, or per profile configuration (its index): for a split one, its
   * cut's head time on this machine and the server's time, in ms, as the
   * per-layer model predicts them now; 0: unknown (the measured figures
   * for the cut running, else the profile's).  Owned by the caller. */
  const double *config_device_ms, *config_server_ms;
} YsEstimates;

typedef struct {
  YsPathKind path;
  int config; /* index into the profile's configs */
  bool probing; /* also run `probe_config` (edge) to test a step up */
  int probe_config;
  /* what the engine expects of `config` */
  double fps, latency_ms, accuracy;
  double device_ms; /* this machine's time per frame: model, encoder or head */
  /* why it was chosen: "start", "degrade", "step-up", "fallback", ... */
  const char *reason;
  /* the target it had to give up, or NULL; and a sentence for the bus */
  const char *missed;
  char explanation[192];
} YsDecision;

typedef struct YsDecider YsDecider;

/* The profile must outlive the decider. */
YsDecider *ys_decider_new (const YsProfile *profile, const YsTargets *targets);
void ys_decider_free (YsDecider *decider);

/* One tick (every <= 100 ms).  Fills *out with the decision in force and
 * returns true when it differs from the previous one (path, config or
 * probing), the moment to post a bus message. */
bool ys_decider_tick (YsDecider *decider, const YsEstimates *estimates,
    YsDecision *out);

/* The stream's frame rate (0: unknown): a link path is sent no more
 * frames than the stream has, whatever the target, and a split packet or
 * MJPEG frame is priced at that rate. */
void ys_decider_set_source_rate (YsDecider *decider, double fps);

/* Online correction: an edge result scored the output of local
 * configuration `local_config` on the same frame (IoU accuracy, 0..1).
 * Every local configuration's accuracy is scaled by the running ratio of
 * observed to profiled accuracy: the scene is harder or easier than the
 * profile's video for the small model, whatever its input size. */
void ys_decider_label_local (YsDecider *decider, int local_config,
    double observed_accuracy);
double ys_decider_local_correction (const YsDecider *decider);

#endif
