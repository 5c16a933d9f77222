/* Our own engine (yolo/nn/net.h) on arbitrary model files: a cfg the
 * checker accepts and a .weights file are hostile bytes for it (a model
 * comes from a download, a server's model directory, a user's path), and
 * whatever the checker lets through must load, run and decode without a
 * crash, undefined behaviour or nonsense detections.
 *
 * Input framing (tests/fuzz/nn/corpus/ holds examples; nn/make_seeds.py
 * writes them):
 *
 *   cfg text, a NUL byte, an 8-byte control block, then the weights part
 *
 * The cfg cannot hold a NUL (the checker refuses one), so the first NUL
 * ends it; an input without one is all cfg, with every control byte 0.
 * Control bytes, missing ones read as 0:
 *
 *   0  mode: bits 0-1 how the .weights file is made from the weights part:
 *        0, 1  fill: the part is a 12-byte header (major, minor, revision,
 *              int32 little-endian), then float bit patterns; the file is
 *              that header, the "seen" counter its version asks for (8 or
 *              4 bytes), then exactly the floats the cfg needs, the given
 *              ones repeated (none given: a fixed pseudo-random pattern in
 *              [-1, 1])
 *        2     raw: the file is the weights part as it is
 *        3     fill, then control byte 3 (int8) bytes added or cut
 *      bit 2: the first network keeps every layer's output (keep_outputs)
 *      bit 3: boxes for a letterboxed input
 *      bit 4: no NMS
 *   1  threshold: byte / 255
 *   2  where the network is cut for the handover check (below)
 *   3  int8: bytes added to (or cut from) the file in mode 3
 *   4, 5  source frame width, height: 1 + byte * 8
 *   6, 7  reserved
 *
 * Cost is bounded before anything runs (cost_ok()): a cfg over a small
 * budget of multiply-adds, outputs, weights or candidate boxes is skipped,
 * so executions stay in the hundreds per second and the fuzzer spends
 * them on shapes, not on size.
 *
 * Checked beyond memory safety and defined behaviour:
 *
 *  - nn_net_new() loads the file if and only if its size is the one
 *    cfg_weights_bytes() gives for its header, and agrees with
 *    cfg_check_weights() (which guards the Darknet path); a refusal has a
 *    sentence;
 *  - detections are sane whatever the weights (NaN, Inf, huge anchors):
 *    class ids in range, confidence above the threshold and at most 1,
 *    finite boxes of positive size inside the source frame, sorted
 *    strongest first;
 *  - split inference gives the same detections: layers [0, cut) on one
 *    net, the outputs nn_net_reads_across() names handed to a second net
 *    (the other keep_outputs), layers [cut, n) there, boxes bit for bit
 *    equal to the first net's whole run. */
#include "fuzz.h"

#include "cfg.h"
#include "net.h"

#include <math.h>
#include <string.h>

#define CONTROL_BYTES 8
#define HEADER_BYTES 12

/* The budget of one input.  A yolo-fastest at 320 is ~250 M multiply-adds:
 * these are networks of a few layers at 32 x 32 to 64 x 64. */
#define MAX_MACS (6u << 20)
#define MAX_OUTPUT_FLOATS (1u << 20)
#define MAX_WEIGHT_FLOATS (1u << 18)
#define MAX_BOXES 4096u
/* NMS compares every pair of candidates of a class. */
#define MAX_NMS_WORK (1u << 24)

static FuzzFile weights_file;
static uint8_t *file_buf;
static size_t file_cap;

/* Rough work of one forward pass and of decoding, in 64 bits from the
 * checked shapes. */
static bool
cost_ok (const CfgNetwork *cfg)
{
  uint64_t macs = 0, outputs = 0, boxes = 0;

  if (cfg->weight_floats > MAX_WEIGHT_FLOATS)
    return false;
  for (int i = 0; i < cfg->layer_count; i++) {
    const CfgLayer *l = &cfg->layers[i];
    uint64_t out = (uint64_t) l->out_c * l->out_h * l->out_w;
    uint64_t in = (uint64_t) l->in_c * l->in_h * l->in_w;
    uint64_t plane = (uint64_t) l->out_h * l->out_w;
    outputs += out;
    switch (l->type) {
      case CFG_LAYER_CONVOLUTIONAL:
        macs += out * ((uint64_t) l->in_c / l->groups) * l->size * l->size;
        break;
      case CFG_LAYER_CONNECTED: macs += out * in; break;
      case CFG_LAYER_MAXPOOL: macs += out * (uint64_t) l->size * l->size; break;
      case CFG_LAYER_YOLO: boxes += plane * (uint64_t) l->mask_count; break;
      case CFG_LAYER_REGION: boxes += plane * (uint64_t) l->num; break;
      default: macs += in + out; break;
    }
  }
  return macs <= MAX_MACS && outputs <= MAX_OUTPUT_FLOATS && boxes <= MAX_BOXES
      && boxes * boxes * (uint64_t) cfg->classes <= MAX_NMS_WORK
      && boxes * (uint64_t) cfg->classes <= MAX_OUTPUT_FLOATS;
}

static bool
reserve (size_t n)
{
  uint8_t *p;

  if (n <= file_cap)
    return true;
  p = realloc (file_buf, n);
  if (p == NULL)
    return false;
  file_buf = p;
  file_cap = n;
  return true;
}

static int32_t
le32 (const uint8_t *p)
{
  return (int32_t) ((uint32_t) p[0] | (uint32_t) p[1] << 8
      | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24);
}

/* The .weights file the control block asks for; false when it would be
 * too large to be worth writing. */
static bool
make_weights (const CfgNetwork *cfg, const uint8_t *ctl, const uint8_t *w,
    size_t wlen, size_t *len)
{
  uint8_t head[HEADER_BYTES] = { 0 };
  size_t floats, n, given, seen;
  int mode = ctl[0] & 3;
  uint32_t state = 12345;

  if (mode == 2) {
    if (!reserve (wlen + 1))
      return false;
    if (wlen > 0)
      memcpy (file_buf, w, wlen);
    *len = wlen;
    return true;
  }
  if (wlen > 0)
    memcpy (head, w, wlen < HEADER_BYTES ? wlen : HEADER_BYTES);
  given = wlen > HEADER_BYTES ? (wlen - HEADER_BYTES) / 4 : 0;
  /* What the header says the counter takes (cfg_weights_bytes()). */
  seen = cfg_weights_bytes (cfg, le32 (head), le32 (head + 4))
      - cfg->weight_floats * 4 - HEADER_BYTES;
  floats = cfg->weight_floats;
  n = HEADER_BYTES + seen + floats * 4;
  if (!reserve (n + 128))
    return false;
  memcpy (file_buf, head, HEADER_BYTES);
  memset (file_buf + HEADER_BYTES, 0, seen);
  for (size_t i = 0; i < floats; i++) {
    uint8_t *at = file_buf + HEADER_BYTES + seen + i * 4;
    if (given > 0) {
      memcpy (at, w + HEADER_BYTES + (i % given) * 4, 4);
    } else {
      float v;
      state = state * 1664525u + 1013904223u;
      v = (float) (state >> 8) / (float) (1u << 23) - 1.f;
      memcpy (at, &v, 4);
    }
  }
  if (mode == 3) {
    int delta = (int8_t) ctl[3];
    if (delta < 0 && (size_t) -delta > n)
      n = 0;
    else
      n = (size_t) ((ptrdiff_t) n + delta);
    if (delta > 0)
      memset (file_buf + n - (size_t) delta, 0x7f, (size_t) delta);
  }
  *len = n;
  return true;
}

static void
check_detections (const CfgNetwork *cfg, const YoloDetections *d, float thresh,
    int sw, int sh)
{
  for (size_t i = 0; i < d->count; i++) {
    const YoloDetection *x = &d->items[i];
    FUZZ_CHECK (x->class_id >= 0 && x->class_id < cfg->classes);
    FUZZ_CHECK (x->label != NULL);
    FUZZ_CHECK (x->confidence > thresh && x->confidence <= 1.f);
    FUZZ_CHECK (isfinite (x->x) && isfinite (x->y) && isfinite (x->w)
        && isfinite (x->h));
    FUZZ_CHECK (x->w > 0 && x->h > 0 && x->x >= 0 && x->y >= 0);
    /* x + w is x1 again, up to the rounding of the subtraction. */
    FUZZ_CHECK (x->x + x->w <= sw * (1 + 1e-6f));
    FUZZ_CHECK (x->y + x->h <= sh * (1 + 1e-6f));
    if (i > 0)
      FUZZ_CHECK (x->confidence <= d->items[i - 1].confidence);
  }
}

static void
check_same (const YoloDetections *a, const YoloDetections *b)
{
  FUZZ_CHECK (a->count == b->count);
  for (size_t i = 0; i < a->count; i++) {
    const YoloDetection *x = &a->items[i], *y = &b->items[i];
    FUZZ_CHECK (x->class_id == y->class_id);
    FUZZ_CHECK (memcmp (&x->confidence, &y->confidence, sizeof (float)) == 0);
    FUZZ_CHECK (x->x == y->x && x->y == y->y && x->w == y->w && x->h == y->h);
  }
}

/* The network's input: a fixed pattern in [0, 1], like an image's. */
static float *
make_input (const CfgNetwork *cfg)
{
  size_t n = (size_t) cfg->channels * cfg->width * cfg->height;
  float *in = malloc (sizeof (float) * (n ? n : 1));

  FUZZ_CHECK (in != NULL);
  for (size_t i = 0; i < n; i++)
    in[i] = (float) ((i * 2654435761u) >> 24 & 0xff) / 255.f;
  return in;
}

/* a: loaded with keep_outputs as control bit 2 says. */
static void
run (const CfgNetwork *cfg, const uint8_t *ctl, NnNet *a)
{
  bool keep = ctl[0] & 4, letterbox = ctl[0] & 8;
  float thresh = ctl[1] / 255.f, nms = ctl[0] & 16 ? 0 : .45f;
  int sw = 1 + ctl[4] * 8, sh = 1 + ctl[5] * 8, n = cfg->layer_count;
  int cut = n > 1 ? 1 + ctl[2] % (n - 1) : 0;
  YoloDetections whole, split;
  YoloStatus status;
  NnNet *b;
  float *input = make_input (cfg);

  yolo_detections_init (&whole);
  yolo_detections_init (&split);
  FUZZ_CHECK (nn_net_layer_count (a) == n);
  FUZZ_CHECK (nn_net_forward (a, 0, n, input, &status));
  if (!nn_net_boxes (a, sw, sh, letterbox, thresh, nms, NULL, &whole,
          &status)) {
    fprintf (stderr, "decoding refused: %s\n", status.message);
    FUZZ_CHECK (!"decoding refused");
  }
  check_detections (cfg, &whole, thresh, sw, sh);
  if (fuzz_verbose ())
    fprintf (stderr, "%d layers, %zu detections, cut at %d\n", n, whole.count,
        cut);

  if (cut > 0) {
    b = nn_net_new (cfg, weights_file.path, 1, !keep, &status);
    FUZZ_CHECK (b != NULL);
    FUZZ_CHECK (nn_net_forward (a, 0, cut, input, &status));
    for (int j = 0; j < cut; j++) {
      NnTensorView v;
      if (!nn_net_reads_across (a, cut, j))
        continue;
      FUZZ_CHECK (nn_net_output (a, j, &v));
      FUZZ_CHECK (nn_net_set_output (b, j, v.data));
    }
    if (!nn_net_forward (b, cut, n, NULL, &status)) {
      fprintf (stderr, "split at %d refused: %s\n", cut, status.message);
      FUZZ_CHECK (!"split run refused");
    }
    FUZZ_CHECK (nn_net_boxes (b, sw, sh, letterbox, thresh, nms, NULL, &split,
        &status));
    check_same (&whole, &split);
    nn_net_free (b);
  }
  yolo_detections_free (&whole);
  yolo_detections_free (&split);
  free (input);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
  fuzz_file_open (&weights_file, "fuzz-nn-weights");
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const uint8_t *nul = memchr (data, 0, size);
  size_t cfg_len = nul != NULL ? (size_t) (nul - data) : size;
  uint8_t ctl[CONTROL_BYTES] = { 0 };
  const uint8_t *w = NULL;
  size_t wlen = 0, len;
  CfgNetwork cfg;
  YoloStatus status;
  NnNet *net;
  int32_t head[3] = { 0 };
  bool fits, checked;

  if (nul != NULL) {
    size_t rest = size - cfg_len - 1;
    size_t c = rest < CONTROL_BYTES ? rest : CONTROL_BYTES;
    memcpy (ctl, nul + 1, c);
    w = nul + 1 + c;
    wlen = rest - c;
  }
  memset (&status, 0, sizeof (status));
  if (!cfg_network_parse ("fuzz.cfg", (const char *) data, cfg_len, 0, 0, &cfg,
          &status)) {
    FUZZ_CHECK (status.message[0] != '\0');
    return 0;
  }
  if (!cost_ok (&cfg) || !make_weights (&cfg, ctl, w, wlen, &len)) {
    if (fuzz_verbose ())
      fprintf (stderr, "over the budget: skipped\n");
    cfg_network_clear (&cfg);
    return 0;
  }
  fuzz_file_set (&weights_file, file_buf, len);
  if (len >= sizeof (head))
    memcpy (head, file_buf, sizeof (head));
  fits = len >= sizeof (head)
      && len == cfg_weights_bytes (&cfg, head[0], head[1]);
  memset (&status, 0, sizeof (status));
  checked = cfg_check_weights (&cfg, weights_file.path, &status);
  FUZZ_CHECK (checked == fits);
  FUZZ_CHECK (checked || status.message[0] != '\0');

  memset (&status, 0, sizeof (status));
  net = nn_net_new (&cfg, weights_file.path, 1, ctl[0] & 4, &status);
  if (fuzz_verbose ())
    fprintf (stderr, "%s: %s\n", net != NULL ? "loaded" : "refused",
        net != NULL ? "" : status.message);
  FUZZ_CHECK ((net != NULL) == fits);
  FUZZ_CHECK (net != NULL || status.message[0] != '\0');
  if (net != NULL)
    run (&cfg, ctl, net);
  nn_net_free (net);
  cfg_network_clear (&cfg);
  return 0;
}
