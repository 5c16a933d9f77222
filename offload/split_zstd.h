/* A split FRAME's packet through zstd, both ways (issue 15).  The 16-byte
 * header stays as it is, with YS_TENSOR_ZSTD added to its flags, so the
 * server checks hash and cut on arrival as for any packet; after it come
 * a u32 (little-endian): the bytes of the rest uncompressed, and one zstd
 * frame of that rest (tensors, ranges, codes), with nothing after it.
 *
 * Why: at the cut the switcher uses (61 of yolo-fastest-1.1-xl), the 4-bit
 * codes of small activations repeat and zstd at level 1 keeps 85 % of the
 * packet in 0.03 ms (docs/SPLIT.md): 680 instead of 801 kbit/s at 10
 * frames/s, the step that lets the 4-bit row fit a 1 Mbit/s uplink with
 * the switcher's headroom.  A packet that does not get smaller goes
 * uncompressed.
 *
 * What unpacking may cost: the caller says how many bytes the rest must
 * take (its own model's handover at that cut, ys_split_decode); a packet
 * that declares another size, whose zstd frame declares another, or that
 * decompresses to another, is refused before or while it is decompressed
 * into that many bytes and no more.  zstd's one-shot decoder keeps no
 * window of its own: memory is that buffer and its context (about
 * 100 KB), time linear in both sizes.  Fuzzed (fuzz-split_decode). */
#ifndef YOLOSWITCH_OFFLOAD_SPLIT_ZSTD_H
#define YOLOSWITCH_OFFLOAD_SPLIT_ZSTD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* YS_TENSOR_ZSTD is tensor_packet.h's; the plain parser refuses it. */
#define YS_SPLIT_ZSTD_PREFIX 20 /* header + u32 */

/* The compressed form of the plain packet at packet (len bytes) in *out
 * (malloc'ed, *out_len bytes); false, and nothing in *out, when it would
 * not be smaller (or on no memory): send the packet as it is. */
bool ys_split_zstd_pack (const uint8_t *packet, size_t len, uint8_t **out,
    size_t *out_len);

/* Whether a packet's header says it is compressed. */
bool ys_split_zstd_is_packed (const uint8_t *data, size_t len);

/* The plain packet in a compressed one, in *out (malloc'ed, *out_len ==
 * 16 + rest_bytes), its header's YS_TENSOR_ZSTD cleared.  false with a
 * sentence in error, and *no_memory set when that was the reason, if the
 * packet is not one rest_bytes long compressed or zstd refuses it. */
bool ys_split_zstd_unpack (const uint8_t *data, size_t len, size_t rest_bytes,
    uint8_t **out, size_t *out_len, bool *no_memory, char *error,
    size_t error_size);

#endif
