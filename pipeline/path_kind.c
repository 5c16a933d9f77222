/* The table of path kinds; see path_kind.h. */
#include "path_kind.h"

#include <string.h>

static const YsPathTraits kinds[YS_PATH_KINDS] = {
  { YS_PATH_LOCAL, "local", .uses_device = true, .uses_link = false },
  { YS_PATH_EDGE, "edge", .uses_device = false, .uses_link = true },
  { YS_PATH_SPLIT, "split", .uses_device = true, .uses_link = true,
      .sends_tensors = true },
};

const YsPathTraits *
ys_path_traits (YsPathKind kind)
{
  return &kinds[kind < YS_PATH_KINDS ? kind : YS_PATH_LOCAL];
}

const char *
ys_path_name (YsPathKind kind)
{
  return kind < YS_PATH_KINDS ? kinds[kind].name : "unknown";
}

bool
ys_path_kind_from_name (const char *name, YsPathKind *kind)
{
  for (int i = 0; i < YS_PATH_KINDS; i++)
    if (name != NULL && strcmp (name, kinds[i].name) == 0) {
      *kind = kinds[i].kind;
      return true;
    }
  return false;
}
