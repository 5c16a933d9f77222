/* A cut's handover (tensors.h's YoloHandover) to a split FRAME's packet and
 * back (offload/tensor_packet.h): the device quantizes what the head left,
 * the server checks the packet against its own model's layout at that cut
 * before allocating anything, then dequantizes it into a handover its tail
 * can take.  Used by the split path on both ends (issue 15). */
#ifndef YOLOSWITCH_OFFLOAD_SPLIT_CODEC_H
#define YOLOSWITCH_OFFLOAD_SPLIT_CODEC_H

#include "tensor_packet.h"
#include "tensors.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How each range is chosen (tensor_quant.h says which wins). */
typedef enum {
  YS_SPLIT_RANGE_MINMAX = 0, /* [min, max]: the default */
  YS_SPLIT_RANGE_SIGMA3, /* mu +- 3 sigma, the seed paper's */
} YsSplitRange;

typedef struct {
  int bits; /* 4, 6 or 8 */
  bool per_channel; /* a range per channel, not one per tensor */
  YsSplitRange range;
  uint64_t model_hash;
} YsSplitOptions;

/* The packet for handover h, in *out (malloc'ed, *out_len bytes); false
 * with a sentence in error if the handover is outside the packet's limits
 * (more tensors, channels or values than tensor_packet.h allows). */
bool ys_split_encode (const YoloHandover *h, const YsSplitOptions *options,
    uint8_t **out, size_t *out_len, char *error, size_t error_size);

/* Why a packet was refused: a receiver answers each differently (the
 * server: ERROR malformed, ERROR mismatch, DROP backlog). */
typedef enum {
  YS_SPLIT_FAULT_NONE = 0,
  YS_SPLIT_FAULT_MALFORMED, /* it does not parse (tensor_packet.h) */
  YS_SPLIT_FAULT_MISMATCH, /* another model's hash, cut or shapes */
  YS_SPLIT_FAULT_NO_MEMORY,
} YsSplitFault;

/* The handover in a packet, for a receiver whose model has `layout` at the
 * packet's cut (yolo_model_handover_layout) and hash model_hash; the
 * source frame's size (the FRAME's width and height) goes into out.
 * false, with a sentence naming the mismatch and (fault may be NULL)
 * which kind it is, if the packet does not parse or does not match. */
bool ys_split_decode (const uint8_t *data, size_t len,
    const YoloHandover *layout, uint64_t model_hash, int source_width,
    int source_height, YoloHandover *out, YsSplitFault *fault, char *error,
    size_t error_size);

/* The cut a packet is for (0 if it is too short to say): the receiver
 * needs it to get its layout before ys_split_decode(). */
int ys_split_packet_cut (const uint8_t *data, size_t len);
/* The model hash a packet names (0 if it is too short to say). */
uint64_t ys_split_packet_hash (const uint8_t *data, size_t len);

#endif
