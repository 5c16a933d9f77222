/* 8-bit weights storage (issue 16): a Darknet model's weights as int8
 * with one scale per output channel, about a quarter of the float file,
 * checksummed.  yoloswitch-quantize writes it; the loader (model.c) turns
 * it back into the Darknet float file it stands for, in memory, before
 * either engine reads it, so nothing else knows the difference.
 *
 * Layout (little-endian):
 *   0  "YSQ8"
 *   4  u32 version        1
 *   8  u32 header_bytes   the Darknet header kept verbatim (16 or 20:
 *                         major, minor, revision, seen)
 *  12  u32 reserved       0
 *  16  u64 plain_bytes    the blocks, decompressed
 *  24  header_bytes of the Darknet header
 *      one zstd frame (stating its content size, plain_bytes) of the
 *      blocks: for each layer of the cfg that has weights, in order,
 *        u8 kind, u8 reserved[3], u32 filters, u32 per_filter
 *        kind 1 (convolutional): f32 bias[filters], f32 scale[filters]
 *          (each array as four byte planes: every value's first byte,
 *          then every second byte...), i8 codes[filters x per_filter];
 *          the batch norm is folded in:
 *          weight = code x scale, out = conv + bias
 *        kind 2 (any other layer's floats, verbatim): f32[filters]
 *      32 bytes: SHA-256 of every byte before it
 *
 * Expanded, a folded convolution keeps Darknet's layout: biases, then (if
 * the cfg says batch_normalize) scales 1, means 0 and variances whose
 * sqrt + .000001 is 1, then the kernels.
 *
 * What reading one may cost: the file at most YOLO_Q8_MAX_FILE_BYTES,
 * read whole; the expansion exactly the float file the cfg needs (not what
 * the file claims); the blocks no more than that plus their headers.  The
 * checksum is checked before anything is decompressed. */
#ifndef YOLOSWITCH_YOLO_WEIGHTS_Q8_H
#define YOLOSWITCH_YOLO_WEIGHTS_Q8_H

#include "cfg.h"
#include "yolo.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define YOLO_Q8_VERSION 1
#define YOLO_Q8_MAX_FILE_BYTES ((size_t) 256 << 20)

/* The file at path starts as a YSQ8 file does (false if unreadable). */
bool yolo_q8_is_file (const char *path);

/* Quantizes the Darknet weights at weights_path (checked against cfg) to
 * out_path; *bytes its size.  false with status set. */
bool yolo_q8_quantize (const CfgNetwork *cfg, const char *weights_path,
    const char *out_path, size_t *bytes, YoloStatus *status);

/* The Darknet float file len bytes of a YSQ8 file stand for, for cfg, in
 * *out (malloc'd, *out_len bytes: cfg_weights_bytes of its header).  On a
 * refusal false with the reason (a sentence) in error.  No I/O: fuzzed. */
bool yolo_q8_decode (const uint8_t *data, size_t len, const CfgNetwork *cfg,
    uint8_t **out, size_t *out_len, char *error, size_t error_size);

/* The YSQ8 file at path expanded into an anonymous in-memory file: its fd
 * (the caller closes it; /proc/self/fd/N names it), or -1 with status
 * naming path. */
int yolo_q8_expand (const char *path, const CfgNetwork *cfg,
    YoloStatus *status);

#endif
