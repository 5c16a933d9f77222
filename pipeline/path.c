/* Helpers shared by every path; see path.h. */
#include "path.h"

const char *
ys_path_readiness_name (YsPathReadiness readiness)
{
  switch (readiness) {
    case YS_PATH_READY: return "ready";
    case YS_PATH_NOT_DUE: return "not-due";
    case YS_PATH_BUSY: return "busy";
    case YS_PATH_BEHIND: return "behind";
    case YS_PATH_DOWN: return "down";
  }
  return "unknown";
}

void
ys_path_notify (YsPath *path)
{
  if (path->on_ready != NULL)
    path->on_ready (path->user);
}
