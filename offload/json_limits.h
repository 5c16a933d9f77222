/* What JSON from outside may cost before json-glib reads it: json-glib
 * (1.6) recurses once per nesting level, so 100,000 nested brackets in a
 * 200 KB text overflow the stack.  Every reader of outside JSON (the
 * catalog answer on a device, a profile in the edge's catalog folder,
 * entry.json in the model cache) checks the nesting first. */
#ifndef YOLOSWITCH_OFFLOAD_JSON_LIMITS_H
#define YOLOSWITCH_OFFLOAD_JSON_LIMITS_H

#include <glib.h>

#define YS_JSON_MAX_DEPTH 32 /* our documents nest 5 deep */

/* Whether the arrays and objects of text (length bytes; strings and their
 * escapes skipped) nest at most max_depth deep.  Linear, no allocation. */
gboolean ys_json_depth_ok (const char *text, gsize length, int max_depth);

#endif
