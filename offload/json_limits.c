/* The nesting check of outside JSON; see json_limits.h. */
#include "json_limits.h"

gboolean
ys_json_depth_ok (const char *text, gsize length, int max_depth)
{
  gboolean in_string = FALSE;
  int depth = 0;

  for (gsize i = 0; i < length; i++) {
    char c = text[i];
    if (in_string) {
      if (c == '\\')
        i++; /* the escaped character, whatever it is */
      else if (c == '"')
        in_string = FALSE;
    } else if (c == '"') {
      in_string = TRUE;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth)
        return FALSE;
    } else if (c == ']' || c == '}') {
      depth--;
    }
  }
  return TRUE;
}
