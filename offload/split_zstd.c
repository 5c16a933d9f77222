#include "split_zstd.h"

#include "tensor_packet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

/* Level 1: 0.03 ms a packet at cut 61; levels 3 and 9 save nothing more
 * there (docs/SPLIT.md, "Compressing the codes"). */
#define PACK_LEVEL 1
#define FLAGS_BYTE 2

bool
ys_split_zstd_pack (const uint8_t *packet, size_t len, uint8_t **out,
    size_t *out_len)
{
  size_t rest, bound, packed;
  uint8_t *buffer;

  *out = NULL;
  *out_len = 0;
  if (len <= YS_TENSOR_HEADER_SIZE || len - YS_TENSOR_HEADER_SIZE > UINT32_MAX)
    return false;
  rest = len - YS_TENSOR_HEADER_SIZE;
  bound = ZSTD_compressBound (rest);
  buffer = malloc (YS_SPLIT_ZSTD_PREFIX + bound);
  if (buffer == NULL)
    return false;
  packed = ZSTD_compress (buffer + YS_SPLIT_ZSTD_PREFIX, bound,
      packet + YS_TENSOR_HEADER_SIZE, rest, PACK_LEVEL);
  if (ZSTD_isError (packed) || YS_SPLIT_ZSTD_PREFIX + packed >= len) {
    free (buffer);
    return false;
  }
  memcpy (buffer, packet, YS_TENSOR_HEADER_SIZE);
  buffer[FLAGS_BYTE] |= YS_TENSOR_ZSTD;
  for (int i = 0; i < 4; i++)
    buffer[YS_TENSOR_HEADER_SIZE + i] = (uint8_t) (rest >> (8 * i));
  *out = buffer;
  *out_len = YS_SPLIT_ZSTD_PREFIX + packed;
  return true;
}

bool
ys_split_zstd_is_packed (const uint8_t *data, size_t len)
{
  return len >= YS_TENSOR_HEADER_SIZE && (data[FLAGS_BYTE] & YS_TENSOR_ZSTD);
}

static bool
refuse (char *error, size_t error_size, const char *what)
{
  snprintf (error, error_size, "%s", what);
  return false;
}

bool
ys_split_zstd_unpack (const uint8_t *data, size_t len, size_t rest_bytes,
    uint8_t **out, size_t *out_len, bool *no_memory, char *error,
    size_t error_size)
{
  const uint8_t *frame;
  size_t frame_len, got;
  unsigned long long content;
  uint32_t declared = 0;
  uint8_t *plain;

  *out = NULL;
  *out_len = 0;
  *no_memory = false;
  if (len < YS_SPLIT_ZSTD_PREFIX)
    return refuse (error, error_size,
        "compressed split packet ends before its uncompressed size");
  frame = data + YS_SPLIT_ZSTD_PREFIX;
  for (int i = 3; i >= 0; i--)
    declared = declared << 8 | data[YS_TENSOR_HEADER_SIZE + i];
  frame_len = len - YS_SPLIT_ZSTD_PREFIX;
  if (declared != rest_bytes) {
    snprintf (error, error_size,
        "compressed split packet says its tensors take %u bytes, but the "
        "model's handover at its cut and bit depth takes %zu",
        declared, rest_bytes);
    return false;
  }
  /* Checked before a byte is decompressed: one zstd frame of RFC 8878
   * (Debian's libzstd also decodes the pre-standard v0.5-v0.7 formats,
   * with decoders and contexts of their own: refused here), with no
   * dictionary, all of the rest, of exactly that size. */
  if (frame_len < 4
      || ((uint32_t) frame[0] | (uint32_t) frame[1] << 8
             | (uint32_t) frame[2] << 16 | (uint32_t) frame[3] << 24)
          != ZSTD_MAGICNUMBER)
    return refuse (error, error_size,
        "compressed split packet: its tensors are not one zstd frame "
        "(RFC 8878; no legacy or skippable frames)");
  if (ZSTD_getDictID_fromFrame (frame, frame_len) != 0)
    return refuse (error, error_size,
        "compressed split packet: its zstd frame needs a dictionary; send "
        "it without one");
  content = ZSTD_getFrameContentSize (frame, frame_len);
  if (content == ZSTD_CONTENTSIZE_ERROR || content == ZSTD_CONTENTSIZE_UNKNOWN)
    return refuse (error, error_size,
        "compressed split packet: its tensors are not one zstd frame that "
        "states its size");
  if (content != rest_bytes)
    return refuse (error, error_size,
        "compressed split packet: its zstd frame holds another size than "
        "the packet says");
  if (ZSTD_findFrameCompressedSize (frame, frame_len) != frame_len)
    return refuse (error, error_size,
        "compressed split packet: bytes after its zstd frame, or a frame cut "
        "short");
  plain = malloc (YS_TENSOR_HEADER_SIZE + rest_bytes + 1);
  if (plain == NULL) {
    *no_memory = true;
    return refuse (error, error_size, "out of memory");
  }
  got = ZSTD_decompress (plain + YS_TENSOR_HEADER_SIZE, rest_bytes, frame,
      frame_len);
  if (ZSTD_isError (got) || got != rest_bytes) {
    snprintf (error, error_size, "compressed split packet: zstd: %s",
        ZSTD_isError (got) ? ZSTD_getErrorName (got) : "short content");
    free (plain);
    return false;
  }
  memcpy (plain, data, YS_TENSOR_HEADER_SIZE);
  plain[FLAGS_BYTE] &= (uint8_t) ~YS_TENSOR_ZSTD;
  *out = plain;
  *out_len = YS_TENSOR_HEADER_SIZE + rest_bytes;
  return true;
}
