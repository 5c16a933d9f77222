/* An HTTP Range header (RFC 9110 14.1.2) for one resource of known size:
 * what the edge server's model files are served by (edge_http.c), so a
 * device on a flaky link resumes a download instead of restarting it.
 *
 * Only a single byte range is honoured: "bytes=FIRST-LAST", "bytes=FIRST-"
 * and "bytes=-SUFFIX" (the unit in any case), with optional spaces around
 * the parts.  A header
 * with several ranges, another unit or bad syntax is ignored (the whole
 * file is sent, as RFC 9110 allows); a well-formed range that starts past
 * the end is unsatisfiable (416).  The header is client bytes: the parser
 * reads at most HTTP_RANGE_MAX_TEXT of it, and every number is bounded
 * before arithmetic. */
#ifndef YOLOSWITCH_OFFLOAD_HTTP_RANGE_H
#define YOLOSWITCH_OFFLOAD_HTTP_RANGE_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_RANGE_MAX_TEXT 256 /* longer headers are ignored */

typedef enum {
  HTTP_RANGE_NONE, /* absent or ignored: send everything (200) */
  HTTP_RANGE_PARTIAL, /* send [first, last] (206) */
  HTTP_RANGE_UNSATISFIABLE, /* 416 with "bytes * /size" */
} HttpRangeKind;

typedef struct {
  HttpRangeKind kind;
  uint64_t first, last; /* inclusive; PARTIAL only */
} HttpRange;

/* text: the header's value, len bytes (not NUL-terminated; NULL: absent);
 * size: the resource's. */
HttpRange http_range_parse (const char *text, size_t len, uint64_t size);

#endif
