/* Quantization of handover tensors for split inference (issue 15): the
 * device sends a cut's feature tensors as 4-, 6- or 8-bit codes instead of
 * floats, uniform over [mu - 3 sigma, mu + 3 sigma] of the tensor (Ulhaq
 * and Bajic's scheme) or of each channel, with the range sent along.
 *
 * A value v becomes the code q = round ((v - lo) / scale) clamped to
 * [0, 2^bits - 1], and comes back as lo + q * scale: inside the range the
 * error is at most scale / 2, outside it the value is clipped to the range's
 * nearest end.  Codes are packed little-end first into bytes, bits per code
 * (two 4-bit codes a byte, four 6-bit codes in three bytes), so a tensor
 * of n values takes yolo_quant_bytes (n, bits).
 *
 * The decoding side reads ranges and codes from the network: it checks
 * them with yolo_quant_range_valid() and the byte count with
 * yolo_quant_bytes() before yolo_dequantize(), which then reads exactly
 * that many bytes and writes n floats, nothing else. */
#ifndef YOLOSWITCH_YOLO_TENSOR_QUANT_H
#define YOLOSWITCH_YOLO_TENSOR_QUANT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* lo + q * scale is what code q stands for. */
typedef struct {
  float lo, scale;
} YoloQuantRange;

/* 4, 6 and 8: the depths the split path offers (issue 15 asks for all
 * three, to say which wins). */
bool yolo_quant_bits_valid (int bits);

/* Bytes of n codes of `bits` bits, packed; 0 for an invalid depth or a
 * count whose bytes would overflow size_t. */
size_t yolo_quant_bytes (size_t n, int bits);

/* The range of n values x (mu +- 3 sigma, in double; non-finite values
 * are left out of the statistics), for codes of `bits` bits.  A constant
 * tensor (sigma 0) gets a range holding its value exactly; an empty or
 * all-non-finite one the range [0, 1]; an invalid depth { 0, 1 }. */
YoloQuantRange yolo_quant_range (const float *x, size_t n, int bits);

/* [min, max] of the finite values (no clipping), the top code reaching
 * max; the same special cases as yolo_quant_range(). */
YoloQuantRange yolo_quant_range_minmax (const float *x, size_t n, int bits);

/* Whether a range read from the network can be decoded: lo and scale
 * finite, scale > 0, and the top code's value lo + (2^bits - 1) * scale
 * finite. */
bool yolo_quant_range_valid (YoloQuantRange range, int bits);

/* n values into yolo_quant_bytes (n, bits) bytes at out.  NaN becomes code
 * 0 (the range's low end), infinities the nearest end. */
void yolo_quantize (const float *x, size_t n, YoloQuantRange range, int bits,
    uint8_t *out);

/* yolo_quant_bytes (n, bits) bytes of codes into n floats. */
void yolo_dequantize (const uint8_t *codes, size_t n, YoloQuantRange range,
    int bits, float *out);

/* The same over planes of plane values each (a tensor's channels), one
 * stream of codes with no padding between planes; per_plane: ranges[c] for
 * plane c, else ranges[0] for all.  yolo_quant_bytes (planes * plane,
 * bits) bytes. */
void yolo_quantize_planes (const float *x, size_t planes, size_t plane,
    const YoloQuantRange *ranges, bool per_plane, int bits, uint8_t *out);
void yolo_dequantize_planes (const uint8_t *codes, size_t planes, size_t plane,
    const YoloQuantRange *ranges, bool per_plane, int bits, float *out);

#endif
