/* Handover quantization (yolo/tensor_quant.h): error at most scale / 2
 * inside the range, clipping outside it, codes packed in exactly
 * yolo_quant_bytes() bytes, and ranges that a decoder can trust. */
#include <float.h>
#include <glib.h>
#include <math.h>
#include <string.h>

#include "tensor_quant.h"

static const int depths[] = { 4, 6, 8 };

static float *
gaussian (GRand *rand, size_t n, double mu, double sigma)
{
  float *x = g_new (float, n);
  for (size_t i = 0; i < n; i++) {
    double u = g_rand_double_range (rand, 1e-12, 1), v = g_rand_double (rand);
    x[i] = (float) (mu + sigma * sqrt (-2 * log (u)) * cos (2 * G_PI * v));
  }
  return x;
}

/* mu +- 3 sigma of a normal sample, to the sample's precision. */
static void
test_range_is_three_sigma (void)
{
  GRand *rand = g_rand_new_with_seed (7);
  const size_t n = 200000;
  float *x = gaussian (rand, n, 2.0, 0.5);

  for (size_t d = 0; d < G_N_ELEMENTS (depths); d++) {
    int bits = depths[d];
    YoloQuantRange r = yolo_quant_range (x, n, bits);
    float hi = r.lo + (float) ((1 << bits) - 1) * r.scale;
    g_assert_cmpfloat_with_epsilon (r.lo, 2.0 - 1.5, 0.01);
    g_assert_cmpfloat_with_epsilon (hi, 2.0 + 1.5, 0.01);
    g_assert_true (yolo_quant_range_valid (r, bits));
  }
  g_free (x);
  g_rand_free (rand);
}

/* Inside the range every value comes back within scale / 2 (and a float
 * rounding); outside it, as the range's nearest end. */
static void
test_round_trip_error (void)
{
  GRand *rand = g_rand_new_with_seed (11);
  const size_t n = 4099; /* not a multiple of any packing */

  for (size_t d = 0; d < G_N_ELEMENTS (depths); d++) {
    int bits = depths[d];
    float *x = gaussian (rand, n, -0.3, 1.7), *y = g_new (float, n);
    YoloQuantRange r = yolo_quant_range (x, n, bits);
    float hi = r.lo + (float) ((1 << bits) - 1) * r.scale;
    size_t bytes = yolo_quant_bytes (n, bits);
    /* One guard byte: the codes must stay inside their bytes. */
    guint8 *codes = g_malloc (bytes + 1);
    int inside = 0, clipped = 0;

    codes[bytes] = 0xA5;
    yolo_quantize (x, n, r, bits, codes);
    g_assert_cmpuint (codes[bytes], ==, 0xA5);
    yolo_dequantize (codes, n, r, bits, y);
    for (size_t i = 0; i < n; i++) {
      float slack = 4 * FLT_EPSILON * fmaxf (fabsf (x[i]), fabsf (hi));
      if (x[i] >= r.lo && x[i] <= hi) {
        g_assert_cmpfloat (fabsf (y[i] - x[i]), <=, r.scale / 2 + slack);
        inside++;
      } else {
        float end = x[i] < r.lo ? r.lo : hi;
        g_assert_cmpfloat (fabsf (y[i] - end), <=, slack);
        clipped++;
      }
    }
    /* A normal sample: ~0.27 % outside mu +- 3 sigma. */
    g_assert_cmpint (clipped, >, 0);
    g_assert_cmpint (clipped, <, n / 100);
    g_assert_cmpint (inside + clipped, ==, n);
    g_free (codes);
    g_free (x);
    g_free (y);
  }
  g_rand_free (rand);
}

/* Every code survives packing, at every depth and count (the tail byte of
 * 4- and 6-bit codes). */
static void
test_codes_pack_exactly (void)
{
  for (size_t d = 0; d < G_N_ELEMENTS (depths); d++) {
    int bits = depths[d], top = (1 << bits) - 1;
    YoloQuantRange r = { 0.f, 1.f };
    for (size_t n = 0; n <= 21; n++) {
      float x[21], y[21];
      guint8 codes[32];
      for (size_t i = 0; i < n; i++)
        x[i] = (float) ((i * 7 + 3) % (top + 1));
      memset (codes, 0xEE, sizeof codes);
      yolo_quantize (x, n, r, bits, codes);
      yolo_dequantize (codes, n, r, bits, y);
      for (size_t i = 0; i < n; i++)
        g_assert_cmpfloat (y[i], ==, x[i]);
      for (size_t i = yolo_quant_bytes (n, bits); i < sizeof codes; i++)
        g_assert_cmpuint (codes[i], ==, 0xEE);
    }
  }
  g_assert_cmpuint (yolo_quant_bytes (3, 4), ==, 2);
  g_assert_cmpuint (yolo_quant_bytes (4, 6), ==, 3);
  g_assert_cmpuint (yolo_quant_bytes (5, 6), ==, 4);
  g_assert_cmpuint (yolo_quant_bytes (5, 8), ==, 5);
  g_assert_cmpuint (yolo_quant_bytes (5, 7), ==, 0);
  g_assert_cmpuint (yolo_quant_bytes (SIZE_MAX / 4, 8), ==, 0);
}

/* A constant tensor comes back exactly; NaN and infinities do not spoil
 * the range, and become its ends. */
static void
test_odd_tensors (void)
{
  float c[5] = { 0.75f, 0.75f, 0.75f, 0.75f, 0.75f }, y[5];
  float odd[5] = { 1.f, NAN, INFINITY, -INFINITY, 3.f };
  guint8 codes[5];
  YoloQuantRange r = yolo_quant_range (c, 5, 8);

  yolo_quantize (c, 5, r, 8, codes);
  yolo_dequantize (codes, 5, r, 8, y);
  for (int i = 0; i < 5; i++)
    g_assert_cmpfloat (y[i], ==, 0.75f);

  r = yolo_quant_range (odd, 5, 8);
  g_assert_true (yolo_quant_range_valid (r, 8));
  g_assert_cmpfloat_with_epsilon (r.lo, 2.f - 3.f, 1e-6);
  yolo_quantize (odd, 5, r, 8, codes);
  g_assert_cmpuint (codes[1], ==, 0);
  g_assert_cmpuint (codes[2], ==, 255);
  g_assert_cmpuint (codes[3], ==, 0);

  /* Nothing finite: a usable range all the same. */
  r = yolo_quant_range (odd + 1, 3, 6);
  g_assert_true (yolo_quant_range_valid (r, 6));
  /* Values near float's limits: the range stays finite. */
  {
    float big[2] = { -FLT_MAX, FLT_MAX };
    r = yolo_quant_range (big, 2, 8);
    g_assert_true (yolo_quant_range_valid (r, 8));
  }
}

/* Ranges a hostile sender might put on the wire. */
static void
test_range_validity (void)
{
  g_assert_true (yolo_quant_range_valid ((YoloQuantRange){ -1.f, 0.01f }, 8));
  g_assert_false (yolo_quant_range_valid ((YoloQuantRange){ 0.f, 0.f }, 8));
  g_assert_false (yolo_quant_range_valid ((YoloQuantRange){ 0.f, -1.f }, 8));
  g_assert_false (yolo_quant_range_valid ((YoloQuantRange){ NAN, 1.f }, 8));
  g_assert_false (
      yolo_quant_range_valid ((YoloQuantRange){ 0.f, INFINITY }, 8));
  g_assert_false (
      yolo_quant_range_valid ((YoloQuantRange){ 0.f, FLT_MAX / 16 }, 8));
  g_assert_false (yolo_quant_range_valid ((YoloQuantRange){ 0.f, 1.f }, 5));
  g_assert_false (yolo_quant_range_valid ((YoloQuantRange){ 0.f, 1.f }, 32));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/quant/range-is-three-sigma", test_range_is_three_sigma);
  g_test_add_func ("/quant/round-trip-error", test_round_trip_error);
  g_test_add_func ("/quant/codes-pack-exactly", test_codes_pack_exactly);
  g_test_add_func ("/quant/odd-tensors", test_odd_tensors);
  g_test_add_func ("/quant/range-validity", test_range_validity);
  return g_test_run ();
}
