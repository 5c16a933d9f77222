/* The yoloswitch.v2 parser (offload/protocol.h) on arbitrary bytes, as
 * the edge server and the yolooffload client meet them.  Beyond "does not
 * crash", three properties of a parser fed by a network are checked:
 *
 *  - any split: the input is fed once whole and once in fragments whose
 *    sizes come from a hash of the input (one byte, a few, a header and a
 *    half...); both runs give the same messages and the same outcome;
 *  - what was accepted re-encodes to the bytes that came in (the reserved
 *    field zeroed; a HELLO may carry later revisions' fields after ours);
 *    a HELLO's label list is re-encoded whole, and a list of 0 labels,
 *    which the encoder leaves out, was a count of 0 on the wire;
 *  - the re-encoded message parses back to itself.
 *
 * Input: the bytes of one WebSocket message (or a stream of them). */
#include "fuzz.h"

#include "protocol.h"

#include <stdbool.h>
#include <string.h>

typedef struct {
  uint8_t *data; /* the messages, re-encoded, one after another */
  size_t len, cap;
  const uint8_t *input; /* whole-input run only: the bytes fed */
  size_t input_len;
  size_t offset; /* where the current message starts in input */
  int messages;
} Log;

static void
log_add (Log *log, const uint8_t *bytes, size_t n)
{
  if (log->len + n > log->cap) {
    log->cap = (log->len + n) * 2;
    log->data = realloc (log->data, log->cap);
    FUZZ_CHECK (log->data != NULL);
  }
  memcpy (log->data + log->len, bytes, n);
  log->len += n;
}

static bool
copy_first (const YsMessage *msg, void *user)
{
  memcpy (user, msg, sizeof (*msg));
  return false;
}

/* The message, re-encoded, must read back as itself. */
static void
check_reparse (const uint8_t *wire, size_t size)
{
  YsParser *p = ys_parser_new (0);
  YsMessage back;
  uint8_t *again;
  YsParseStatus s;

  FUZZ_CHECK (p != NULL);
  s = ys_parser_feed (p, wire, size, copy_first, &back, NULL);
  FUZZ_CHECK (s == YS_PARSE_STOPPED);
  FUZZ_CHECK (ys_message_size (&back) == size);
  again = malloc (size);
  FUZZ_CHECK (again != NULL);
  FUZZ_CHECK (ys_message_encode (&back, again) == size);
  FUZZ_CHECK (memcmp (again, wire, size) == 0);
  free (again);
  ys_parser_free (p);
}

/* A HELLO's fields before the label list, in payload bytes. */
static size_t
hello_base (const YsHello *h)
{
  return 2 + h->name.len + 2 + h->token.len + 2 + h->model.len + 1
      + h->codec_count + 2 + 2 + 4 + 2 + 2;
}

/* The label list as accepted: within its limits, and the bytes the input
 * had right after `workers` (payload: the input's). */
static void
check_labels (const YsHello *h, const uint8_t *payload, size_t len)
{
  size_t base = hello_base (h), at = base + 2;

  FUZZ_CHECK (h->label_count <= YS_MAX_LABELS);
  FUZZ_CHECK (h->label_count == 0 || h->labels != NULL);
  if (len == base) {
    FUZZ_CHECK (h->label_count == 0); /* ends at workers: no list */
    return;
  }
  FUZZ_CHECK (len >= base + 2);
  FUZZ_CHECK ((payload[base] | payload[base + 1] << 8) == h->label_count);
  for (int i = 0; i < h->label_count; i++) {
    const YsStr *l = &h->labels[i];
    FUZZ_CHECK (l->len <= YS_MAX_NAME);
    FUZZ_CHECK (at + 2 + l->len <= len);
    FUZZ_CHECK ((payload[at] | payload[at + 1] << 8) == l->len);
    FUZZ_CHECK (l->len == 0 || memcmp (payload + at + 2, l->ptr, l->len) == 0);
    at += 2 + l->len;
  }
}

static bool
on_message (const YsMessage *msg, void *user)
{
  Log *log = user;
  size_t size = ys_message_size (msg);
  uint8_t *wire;

  /* The parser accepts nothing its own encoder would refuse to send. */
  FUZZ_CHECK (size >= YS_HEADER_SIZE);
  FUZZ_CHECK (msg->header.version == YS_PROTOCOL_VERSION);
  wire = malloc (size);
  FUZZ_CHECK (wire != NULL);
  FUZZ_CHECK (ys_message_encode (msg, wire) == size);

  if (log->input != NULL) {
    size_t in_size = YS_HEADER_SIZE + (size_t) msg->header.payload_len;
    const uint8_t *in = log->input + log->offset;

    FUZZ_CHECK (log->offset + in_size <= log->input_len);
    /* Header: all but reserved (6..7) and, for HELLO, the length. */
    FUZZ_CHECK (memcmp (wire, in, 6) == 0);
    FUZZ_CHECK (memcmp (wire + 8, in + 8, 16) == 0);
    if (msg->header.type == YS_MSG_HELLO) {
      check_labels (&msg->u.hello, in + YS_HEADER_SIZE,
          in_size - YS_HEADER_SIZE);
      FUZZ_CHECK (size <= in_size);
      FUZZ_CHECK (memcmp (wire + YS_HEADER_SIZE, in + YS_HEADER_SIZE,
                      size - YS_HEADER_SIZE)
          == 0);
    } else {
      FUZZ_CHECK (size == in_size);
      FUZZ_CHECK (memcmp (wire + 24, in + 24, size - 24) == 0);
    }
    log->offset += in_size;
    check_reparse (wire, size);
  }
  log_add (log, wire, size);
  log->messages++;
  free (wire);
  return true;
}

typedef struct {
  YsParseStatus feed, finish;
  const char *why;
} Outcome;

/* splitmix64: fragment sizes that depend on the input, reproducibly. */
static uint64_t
next_random (uint64_t *state)
{
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

static Outcome
run (const uint8_t *data, size_t size, uint32_t max_payload, uint64_t seed,
    Log *log)
{
  YsParser *p = ys_parser_new (max_payload);
  Outcome o = { YS_PARSE_OK, YS_PARSE_OK, NULL };
  size_t at = 0;

  FUZZ_CHECK (p != NULL);
  while (at < size && o.feed == YS_PARSE_OK) {
    size_t n = size - at;
    if (seed != 0) {
      uint64_t r = next_random (&seed);
      /* Mostly small pieces (1..8), sometimes a header's worth, sometimes
       * large: the edges a TCP stream or WebSocket fragments produce. */
      switch (r & 3) {
        case 0:
        case 1: n = 1 + (r >> 8) % 8; break;
        case 2: n = 1 + (r >> 8) % (YS_HEADER_SIZE + 8); break;
        default: n = 1 + (r >> 8) % 4096; break;
      }
      if (n > size - at)
        n = size - at;
    }
    o.feed = ys_parser_feed (p, data + at, n, on_message, log, &o.why);
    at += n;
  }
  if (o.feed == YS_PARSE_OK)
    o.finish = ys_parser_finish (p, &o.why);
  else
    /* A failed parser stays failed. */
    FUZZ_CHECK (
        ys_parser_feed (p, (const uint8_t *) "YS", 2, on_message, log, NULL)
        == o.feed);
  /* Every failure is explained. */
  FUZZ_CHECK (o.feed == YS_PARSE_OK || (o.why != NULL && o.why[0] != '\0'));
  FUZZ_CHECK (o.finish == YS_PARSE_OK || (o.why != NULL && o.why[0] != '\0'));
  ys_parser_free (p);
  return o;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  uint64_t seed = 0xcbf29ce484222325ull; /* FNV-1a of the input */
  Log whole = { 0 }, split = { 0 };
  Outcome a, b;
  /* A small limit on some inputs, so TOO_LARGE is reached cheaply. */
  uint32_t max_payload;

  for (size_t i = 0; i < size; i++)
    seed = (seed ^ data[i]) * 0x100000001b3ull;
  max_payload = (seed & 1) ? 0 : 1024;

  whole.input = data;
  whole.input_len = size;
  a = run (data, size, max_payload, 0, &whole);
  b = run (data, size, max_payload, seed | 1, &split);
  FUZZ_CHECK (a.feed == b.feed);
  FUZZ_CHECK (a.finish == b.finish);
  FUZZ_CHECK (whole.messages == split.messages);
  FUZZ_CHECK (whole.len == split.len);
  FUZZ_CHECK (
      whole.len == 0 || memcmp (whole.data, split.data, whole.len) == 0);
  /* Only the status names what went wrong: the text may differ by where
   * the split fell (the magic is checked at its second byte). */
  (void) ys_parse_error_code (a.feed);
  free (whole.data);
  free (split.data);
  return 0;
}
