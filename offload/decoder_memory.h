/* What a decoder's pictures cost, asked of its owner before libavcodec
 * allocates them (the edge server's memory budget, edge_budget.c). */
#ifndef YOLOSWITCH_OFFLOAD_DECODER_MEMORY_H
#define YOLOSWITCH_OFFLOAD_DECODER_MEMORY_H

#include "protocol.h"

#include <libavcodec/avcodec.h>
#include <stdbool.h>

typedef struct YsPictureMemory YsPictureMemory;

/* An H.264 decoder before its pictures: the opened context (~820 KB) and
 * what it allocates at its first packet (~690 KB at 64x64), measured with
 * mallinfo2 on FFmpeg 5.1. */
#define YS_DECODER_FIXED_BYTES ((int64_t) 1536 * 1024)

/* Charges YS_DECODER_FIXED_BYTES, then installs itself as ctx's
 * get_buffer2 (ctx->opaque is taken); NULL when refused or out of memory.
 * Free it after the context and every frame from it: it gives back what
 * it charged. */
YsPictureMemory *ys_picture_memory_attach (AVCodecContext *ctx,
    YsMemoryFunc charge, void *user);
void ys_picture_memory_free (YsPictureMemory *memory);

/* Whether a picture was refused since the last call (then a decode error
 * means "no memory", not damaged data). */
bool ys_picture_memory_take_refused (YsPictureMemory *memory);

#endif
