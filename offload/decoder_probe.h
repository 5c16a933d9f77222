/* The picture size a packet's bitstream declares, read without decoding
 * it, so the edge server refuses a picture over its limit (or one that is
 * not the size its FRAME header claims) before the decoder allocates for
 * it.  Internal to decoder.c. */
#ifndef YOLOSWITCH_OFFLOAD_DECODER_PROBE_H
#define YOLOSWITCH_OFFLOAD_DECODER_PROBE_H

#include "protocol.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct YsSizeProbe YsSizeProbe;

/* NULL for a codec it cannot read, or out of memory. */
YsSizeProbe *ys_size_probe_new (YsCodec codec);
void ys_size_probe_free (YsSizeProbe *probe);

/* data is followed by AV_INPUT_BUFFER_PADDING_SIZE zero bytes (libavcodec's
 * H.264 parser reads ahead).  Every H.264 packet of the stream goes
 * through, in order: parameter sets are remembered for later packets.
 * False when the packet declares no size (nor did an earlier one). */
bool ys_size_probe_read (YsSizeProbe *probe, const uint8_t *data, size_t size,
    int *width, int *height);

#endif
