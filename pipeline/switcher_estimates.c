/* The switcher's estimates for the decision engine; see switcher_internal.h. */
#include "switcher_internal.h"

#include "clock.h"

#include <string.h>

/* How long a link path that has not connected yet holds the first probe
 * back: the server's answer on loopback or a LAN takes well under this,
 * and a path that is refused (another model) is not waited for longer. */
#define SETTLE_WAIT_US (3 * G_USEC_PER_SEC)

/* Each split configuration's cut as the split path predicts it now (its
 * per-layer model: split_head.h), for the decider to weigh cuts other than
 * the one running. */
static void
predict_cuts (YsSwitcher *s, YsEstimates *e)
{
  YsPath *split = s->paths[YS_PATH_SPLIT];
  const YsProfile *profile = s->o.profile;

  if (split == NULL || s->config_device_ms == NULL)
    return;
  for (int i = 0; i < profile->config_count; i++) {
    const YsProfileConfig *c = &profile->configs[i];
    double device = 0, server = 0;
    if (c->path == YS_PATH_SPLIT
        && !ys_path_predict_cut (split, c->cut, &device, &server))
      device = server = 0;
    s->config_device_ms[i] = device;
    s->config_server_ms[i] = server;
  }
  e->config_device_ms = s->config_device_ms;
  e->config_server_ms = s->config_server_ms;
}

/* What the decider is told.  Each link path has its own session: every
 * one says whether it is up (path_down), and the link's figures come from
 * one of them, the path in force if it uses the link, else the one being
 * probed, else the last one of those (the edge path until then): the
 * server time and encoding time of one are not the other's. */
void
switcher_gather_estimates (YsSwitcher *s, YsEstimates *e)
{
  bool connected = false;
  YsPathKind figures;

  g_mutex_lock (&s->lock);
  if (ys_path_traits (s->decision.path)->uses_link)
    s->figures_path = s->decision.path;
  else if (s->decision.probing && s->decision.probe_config >= 0)
    s->figures_path = s->o.profile->configs[s->decision.probe_config].path;
  figures = s->figures_path;
  g_mutex_unlock (&s->lock);

  memset (e, 0, sizeof (*e));
  e->now_us = yolo_now_us ();
  if (s->first_estimates_us == 0)
    s->first_estimates_us = e->now_us;
  e->local_infer_config = -1;
  for (int k = 0; k < YS_PATH_KINDS; k++)
    if (s->paths[k] != NULL) {
      ys_path_estimates (s->paths[k], e);
      if (ys_path_traits ((YsPathKind) k)->uses_link) {
        e->path_down[k] = !e->connected;
        connected |= e->connected;
        s->ever_connected[k] |= e->connected;
        e->path_settling[k] = !s->ever_connected[k]
            && e->now_us - s->first_estimates_us < SETTLE_WAIT_US;
      }
    }
  if (s->paths[figures] != NULL && ys_path_traits (figures)->uses_link)
    ys_path_estimates (s->paths[figures], e);
  e->connected = connected;
  e->figures_of_split = ys_path_traits (figures)->sends_tensors;
  predict_cuts (s, e);
}
