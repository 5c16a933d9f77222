/* The split FRAME's tensor packet (offload/tensor_packet.h): bytes on the
 * wire as the layout says, a round trip through quantization, and every
 * way a packet can lie refused with a sentence naming the field. */
#include <glib.h>
#include <math.h>
#include <string.h>

#include "tensor_packet.h"

/* Two tensors, as a cut after a route would hand over: layer 3 (8 x 5 x 7)
 * and layer 9 (3 x 4 x 4), 6-bit codes, per-channel ranges. */
typedef struct {
  float a[8 * 5 * 7], b[3 * 4 * 4];
  YoloQuantRange ra[8], rb[3];
  guint8 ca[8 * 5 * 7], cb[3 * 4 * 4]; /* 8-bit codes at most */
  YsTensorPacket p;
} Sample;

static void
sample_init (Sample *s, int bits, gboolean per_channel)
{
  GRand *rand = g_rand_new_with_seed (3);

  memset (s, 0, sizeof *s);
  for (size_t i = 0; i < G_N_ELEMENTS (s->a); i++)
    s->a[i] = (float) g_rand_double_range (rand, -2, 5) * (1 + i / 35);
  for (size_t i = 0; i < G_N_ELEMENTS (s->b); i++)
    s->b[i] = (float) g_rand_double_range (rand, 0, 1);
  for (int c = 0; c < 8; c++)
    s->ra[c] = yolo_quant_range (per_channel ? s->a + c * 35 : s->a,
        per_channel ? 35 : G_N_ELEMENTS (s->a), bits);
  for (int c = 0; c < 3; c++)
    s->rb[c] = yolo_quant_range (per_channel ? s->b + c * 16 : s->b,
        per_channel ? 16 : G_N_ELEMENTS (s->b), bits);
  yolo_quantize_planes (s->a, 8, 35, s->ra, per_channel, bits, s->ca);
  yolo_quantize_planes (s->b, 3, 16, s->rb, per_channel, bits, s->cb);
  s->p.bits = (guint8) bits;
  s->p.flags = per_channel ? YS_TENSOR_PER_CHANNEL : 0;
  s->p.count = 2;
  s->p.cut = 12;
  s->p.model_hash = G_GUINT64_CONSTANT (0x0123456789abcdef);
  s->p.tensors[0] = (YsTensor){ 3, 8, 5, 7, s->ra, s->ca };
  s->p.tensors[1] = (YsTensor){ 9, 3, 4, 4, s->rb, s->cb };
  g_rand_free (rand);
}

/* The header's bytes where the layout puts them, the size the sum of the
 * parts, and the parse giving back every field and every value. */
static void
test_layout_and_round_trip (void)
{
  const int depths[] = { 4, 6, 8 };

  for (size_t d = 0; d < G_N_ELEMENTS (depths); d++) {
    for (int pc = 0; pc <= 1; pc++) {
      int bits = depths[d];
      Sample s;
      YsTensorPacket back;
      YoloQuantRange *ranges = g_new (YoloQuantRange, YS_TENSOR_MAX_RANGES);
      char error[256];
      size_t size, want;
      guint8 *wire;

      sample_init (&s, bits, pc);
      want = 16 + (8 + 8 * (pc ? 8 : 1) + yolo_quant_bytes (280, bits))
          + (8 + 8 * (pc ? 3 : 1) + yolo_quant_bytes (48, bits));
      size = ys_tensor_packet_size (&s.p);
      g_assert_cmpuint (size, ==, want);
      wire = g_malloc (size);
      g_assert_cmpuint (ys_tensor_packet_encode (&s.p, wire), ==, size);
      g_assert_cmpuint (wire[0], ==, 1);
      g_assert_cmpuint (wire[1], ==, bits);
      g_assert_cmpuint (wire[2], ==, pc);
      g_assert_cmpuint (wire[3], ==, 2);
      g_assert_cmpuint (wire[4] | wire[5] << 8, ==, 12);
      g_assert_cmpuint (wire[8], ==, 0xef);
      g_assert_cmpuint (wire[15], ==, 0x01);
      g_assert_cmpuint (wire[16] | wire[17] << 8, ==, 3); /* layer */
      g_assert_cmpuint (wire[18] | wire[19] << 8, ==, 8); /* c */

      g_assert_true (
          ys_tensor_packet_parse (wire, size, &back, ranges, error, 256));
      g_assert_cmpuint (back.bits, ==, bits);
      g_assert_cmpuint (back.cut, ==, 12);
      g_assert_cmpuint (back.model_hash, ==, s.p.model_hash);
      g_assert_cmpuint (back.count, ==, 2);
      for (int i = 0; i < 2; i++) {
        const YsTensor *t = &back.tensors[i], *o = &s.p.tensors[i];
        size_t plane = (size_t) t->h * t->w;
        float *y = g_new (float, plane * t->c);
        const float *x = i == 0 ? s.a : s.b;
        g_assert_cmpuint (t->layer, ==, o->layer);
        g_assert_cmpuint (t->c, ==, o->c);
        yolo_dequantize_planes (t->codes, t->c, plane, t->ranges, pc, bits, y);
        for (size_t k = 0; k < plane * t->c; k++) {
          YoloQuantRange r = t->ranges[pc ? k / plane : 0];
          float hi = r.lo + (float) ((1 << bits) - 1) * r.scale;
          float clipped = fminf (fmaxf (x[k], r.lo), hi);
          g_assert_cmpfloat (fabsf (y[k] - clipped), <=, r.scale / 2 + 1e-5f);
        }
        g_free (y);
      }
      g_free (wire);
      g_free (ranges);
    }
  }
}

/* Cut short anywhere, or one byte too long: refused, with a reason. */
static void
test_truncated_and_trailing (void)
{
  Sample s;
  YsTensorPacket back;
  YoloQuantRange *ranges = g_new (YoloQuantRange, YS_TENSOR_MAX_RANGES);
  char error[256];
  size_t size;
  guint8 *wire;

  sample_init (&s, 6, TRUE);
  size = ys_tensor_packet_size (&s.p);
  wire = g_malloc (size + 1);
  ys_tensor_packet_encode (&s.p, wire);
  for (size_t n = 0; n < size; n++) {
    error[0] = '\0';
    g_assert_false (
        ys_tensor_packet_parse (wire, n, &back, ranges, error, 256));
    g_assert_true (strstr (error, "tensor") != NULL);
  }
  wire[size] = 0;
  g_assert_false (
      ys_tensor_packet_parse (wire, size + 1, &back, ranges, error, 256));
  g_assert_nonnull (strstr (error, "1 bytes after its last tensor"));
  g_free (wire);
  g_free (ranges);
}

static void
expect_refused (const guint8 *wire, size_t size, const char *words)
{
  YsTensorPacket back;
  YoloQuantRange *ranges = g_new (YoloQuantRange, YS_TENSOR_MAX_RANGES);
  char error[256] = "";

  g_assert_false (
      ys_tensor_packet_parse (wire, size, &back, ranges, error, sizeof error));
  if (strstr (error, words) == NULL)
    g_error ("refusal \"%s\" does not say \"%s\"", error, words);
  g_free (ranges);
}

/* Each field that can lie, changed in a good packet. */
static void
test_lying_fields (void)
{
  Sample s;
  size_t size;
  guint8 *wire, *bad;
  float nan = NAN;

  sample_init (&s, 8, FALSE);
  size = ys_tensor_packet_size (&s.p);
  wire = g_malloc (size);
  bad = g_malloc (size);
  ys_tensor_packet_encode (&s.p, wire);
#define WITH(stmt, words)                                                      \
  do {                                                                         \
    memcpy (bad, wire, size);                                                  \
    stmt;                                                                      \
    expect_refused (bad, size, words);                                         \
  } while (0)
  WITH (bad[0] = 2, "format 2");
  WITH (bad[1] = 7, "7-bit codes");
  WITH (bad[2] = 0x80, "unknown bits");
  WITH (bad[3] = 0, "0 tensors");
  WITH (bad[3] = 17, "17 tensors");
  WITH (bad[4] = 3, "not a handover of cut 3"); /* layer 3 not below it */
  WITH ((bad[16] = 9, bad[17] = 0), "increasing"); /* layer 9 twice */
  WITH ((bad[18] = 0, bad[19] = 0), "channels 1.."); /* c = 0 */
  WITH ((bad[20] = 0x01, bad[21] = 0x10), "sides 1.."); /* h = 4097 */
  WITH (memcpy (bad + 24, &nan, 4), "cannot be decoded"); /* lo */
  WITH (memset (bad + 28, 0, 4), "cannot be decoded"); /* scale 0 */
  /* A shape that claims more codes than the packet has. */
  WITH ((bad[18] = 200), "ends inside tensor 0's codes");
#undef WITH
  g_free (wire);
  g_free (bad);
}

/* What an encoder is not allowed to write either. */
static void
test_encoder_limits (void)
{
  Sample s;

  sample_init (&s, 8, FALSE);
  s.p.tensors[1].layer = 3;
  g_assert_cmpuint (ys_tensor_packet_size (&s.p), ==, 0);
  sample_init (&s, 8, FALSE);
  s.p.bits = 5;
  g_assert_cmpuint (ys_tensor_packet_size (&s.p), ==, 0);
  sample_init (&s, 8, FALSE);
  s.ra[0].scale = 0;
  g_assert_cmpuint (ys_tensor_packet_size (&s.p), ==, 0);
  sample_init (&s, 8, FALSE);
  s.p.tensors[0].c = YS_TENSOR_MAX_CHANNELS;
  s.p.tensors[0].h = s.p.tensors[0].w = YS_TENSOR_MAX_SIDE;
  g_assert_cmpuint (ys_tensor_packet_size (&s.p), ==, 0); /* too many values */
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tensor-packet/layout-and-round-trip",
      test_layout_and_round_trip);
  g_test_add_func ("/tensor-packet/truncated-and-trailing",
      test_truncated_and_trailing);
  g_test_add_func ("/tensor-packet/lying-fields", test_lying_fields);
  g_test_add_func ("/tensor-packet/encoder-limits", test_encoder_limits);
  return g_test_run ();
}
