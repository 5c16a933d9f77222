/* Internal to the decision engine: its state, shared by decision.c (the
 * tick: what to do next) and decision_predict.c (what each configuration
 * is expected to give now, and the choices made from those predictions). */
#ifndef YOLOSWITCH_PIPELINE_DECISION_INTERNAL_H
#define YOLOSWITCH_PIPELINE_DECISION_INTERNAL_H

#include "decision.h"

struct YsDecider {
  const YsProfile *profile;
  YsTargets t;
  double source_fps; /* the stream's frame rate; 0: unknown */
  bool started;
  YsDecision current;
  /* step up */
  int candidate; /* -1: none */
  int64_t candidate_since_us;
  int64_t probe_since_us, probe_until_us;
  int failed_probes;
  int64_t next_probe_us; /* after a failed probe */
  /* Until the first degrade, fallback or failed probe there is nothing to
   * be wary of: the first step up needs its probe but no hold. */
  bool wary;
  /* The edge configuration left on stalled ACKs, and when: if the late
   * ACKs come back soon, the link was slow rather than gone. */
  int stalled_from; /* -1: none */
  int64_t stalled_at_us;
  double remembered_bps; /* the last bandwidth measured, and when */
  int64_t remembered_at_us;
  /* The live encoder's bytes over the profile's (YsEstimates.
   * sent_bytes_factor), the last one measured: kept while no pixels are
   * sent, as it is the best guess for the next probe. */
  double bytes_factor;
  /* online correction of local accuracy */
  double correction;
  int labels;
};

typedef struct {
  double fps, latency_ms, accuracy, bps;
  double device_ms; /* this machine's time per frame (model, encoder, head) */
  bool fps_ok, latency_ok, accuracy_ok;
} Prediction;

bool decision_path_uses_link (YsPathKind kind);
bool decision_uses_link (const YsProfileConfig *config);
double decision_edge_bps (const YsDecider *d, const YsProfileConfig *config);
void decision_predict (const YsDecider *d, int index, const YsEstimates *e,
    bool step_up, Prediction *out);
bool decision_meets (const Prediction *p, YsTarget target);
int decision_compare (const YsDecider *d, const Prediction *a,
    const Prediction *b);
bool decision_allowed (const YsDecider *d, const YsProfileConfig *config,
    bool edge_ok);
int decision_best (const YsDecider *d, const YsEstimates *e, bool edge_ok,
    bool step_up, Prediction *out);
bool decision_is_step_up (const YsDecider *d, int from, int to);
int decision_best_edge_up_to (const YsDecider *d, const YsEstimates *e,
    double max_bps, bool inclusive, Prediction *out);
int decision_first_step_unmeasured (const YsDecider *d, const YsEstimates *e,
    const Prediction *now, Prediction *out);

#endif
