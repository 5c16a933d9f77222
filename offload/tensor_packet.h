/* The packet of a split-inference FRAME (codec YS_CODEC_TENSOR): the
 * quantized tensors a device hands over at a cut of the edge model, for
 * the server to finish (issue 15).  Plain C, no I/O, no allocation: the
 * parser checks every length and limit before it points into the packet,
 * so it can be fuzzed on its own (tests/fuzz/fuzz_tensor_packet.c).
 *
 * Layout (little-endian):
 *   0  u8  format       1
 *   1  u8  bits         4, 6 or 8 (yolo/tensor_quant.h)
 *   2  u8  flags        YS_TENSOR_PER_CHANNEL, YS_TENSOR_LETTERBOX; other
 *                       bits must be 0 (YS_TENSOR_ZSTD marks the
 *                       compressed form, split_zstd.h's, which this
 *                       parser refuses: unpack it first)
 *   3  u8  count        tensors, 1 .. YS_TENSOR_MAX_COUNT
 *   4  u16 cut          layers < cut ran on the device
 *   6  u16 reserved     0
 *   8  u64 model_hash   of the edge model's cfg and weights: both sides
 *                       must hold the same network
 *  16  count tensors, each:
 *        u16 layer, u16 c, u16 h, u16 w   layer < cut, increasing
 *        ranges: 1, or c with PER_CHANNEL, each f32 lo, f32 scale
 *        codes: yolo_quant_bytes (c * h * w, bits) bytes, channel-major
 * and nothing after the last tensor.  A packet whose lengths, shapes or
 * ranges do not add up is refused whole, with a sentence naming what. */
#ifndef YOLOSWITCH_OFFLOAD_TENSOR_PACKET_H
#define YOLOSWITCH_OFFLOAD_TENSOR_PACKET_H

#include "tensor_quant.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define YS_TENSOR_FORMAT 1
#define YS_TENSOR_HEADER_SIZE 16
#define YS_TENSOR_MAX_COUNT 16 /* tensors a cut hands over */
#define YS_TENSOR_MAX_CHANNELS 8192
#define YS_TENSOR_MAX_SIDE 4096
/* Values in all of a packet's tensors: 64 Mi (a 1024-channel 256 x 256
 * handover is 64 Mi); the FRAME's payload limit is usually lower. */
#define YS_TENSOR_MAX_VALUES (64u << 20)
/* Ranges in all of a packet's tensors: what a parser's caller provides. */
#define YS_TENSOR_MAX_RANGES (4 * YS_TENSOR_MAX_CHANNELS)

enum {
  YS_TENSOR_PER_CHANNEL = 1 << 0, /* one range per channel, not per tensor */
  /* the device letterboxed the frame into the network input: boxes are
   * corrected for it (the FRAME's width and height are the source's) */
  YS_TENSOR_LETTERBOX = 1 << 1,
};
/* the rest after the header is split_zstd.h's compressed form */
#define YS_TENSOR_ZSTD (1 << 2)
#define YS_TENSOR_KNOWN_FLAGS (YS_TENSOR_PER_CHANNEL | YS_TENSOR_LETTERBOX)

typedef struct {
  uint16_t layer, c, h, w;
  /* 1 or c ranges (YS_TENSOR_PER_CHANNEL). */
  const YoloQuantRange *ranges;
  /* yolo_quant_bytes (c * h * w, bits) bytes. */
  const uint8_t *codes;
} YsTensor;

typedef struct {
  uint8_t bits, flags, count;
  uint16_t cut;
  uint64_t model_hash;
  YsTensor tensors[YS_TENSOR_MAX_COUNT];
} YsTensorPacket;

/* Bytes of one tensor in a packet: its layer and shape, its ranges (1, or
 * c with per_channel) and its codes at bits.  The packet's size is the
 * header plus these; no limit is checked here. */
size_t ys_tensor_entry_size (size_t c, size_t h, size_t w, int bits,
    bool per_channel);

/* Bytes of the packet; 0 if a field is outside the limits above. */
size_t ys_tensor_packet_size (const YsTensorPacket *p);

/* Writes p to out, which has ys_tensor_packet_size (p) bytes; returns that. */
size_t ys_tensor_packet_encode (const YsTensorPacket *p, uint8_t *out);

/* Parses len bytes at data into p, whose tensors then point into data
 * (codes) and into ranges (a caller's array of YS_TENSOR_MAX_RANGES).  On
 * a refusal returns false with why (a sentence) in error. */
bool ys_tensor_packet_parse (const uint8_t *data, size_t len, YsTensorPacket *p,
    YoloQuantRange *ranges, char *error, size_t error_size);

#endif
