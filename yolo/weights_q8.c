/* 8-bit weights storage; see weights_q8.h for the layout and its limits.
 *
 * Why fold the batch norm into the kernels before quantizing: a depthwise
 * 3x3 filter has 9 weights and 4 batch-norm floats, so int8 kernels beside
 * float batch norms stay near a third of the float file; folded, each
 * filter keeps two floats (bias, scale).  zstd then takes the int8 codes
 * (mostly small) a little further: 24-27 % of the float file on the
 * shipped models (docs/MODELS.md). */
#include "weights_q8.h"

#include "status.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

#define MAGIC "YSQ8"
#define FILE_HEADER 24
#define BLOCK_HEADER 12
#define SHA256_BYTES 32
#define ZSTD_LEVEL 19

enum { KIND_CONV = 1, KIND_FLOATS = 2 };

static void
put_u32 (uint8_t *p, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (uint8_t) (v >> (8 * i));
}

static void
put_u64 (uint8_t *p, uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (uint8_t) (v >> (8 * i));
}

static uint32_t
get_u32 (const uint8_t *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
      | (uint32_t) p[3] << 24;
}

static uint64_t
get_u64 (const uint8_t *p)
{
  return (uint64_t) get_u32 (p) | (uint64_t) get_u32 (p + 4) << 32;
}

/* Floats as their bytes, little-endian on every machine we build for. */
static float
get_f32 (const uint8_t *p)
{
  float v;
  memcpy (&v, p, sizeof (v));
  return v;
}

static void
put_f32 (uint8_t *p, float v)
{
  memcpy (p, &v, sizeof (v));
}

/* Value o of an array of n floats stored as four byte planes (the first
 * bytes of all, then the second...): zstd finds the planes' sameness (the
 * exponents) that it misses in interleaved floats. */
static void
put_plane_f32 (uint8_t *p, size_t n, size_t o, float v)
{
  uint8_t b[4];
  memcpy (b, &v, 4);
  for (int k = 0; k < 4; k++)
    p[k * n + o] = b[k];
}

static float
get_plane_f32 (const uint8_t *p, size_t n, size_t o)
{
  uint8_t b[4];
  float v;
  for (int k = 0; k < 4; k++)
    b[k] = p[k * n + o];
  memcpy (&v, b, 4);
  return v;
}

static void
sha256 (const uint8_t *data, size_t len, uint8_t out[SHA256_BYTES])
{
  GChecksum *c = g_checksum_new (G_CHECKSUM_SHA256);
  gsize n = SHA256_BYTES;

  g_checksum_update (c, data, (gssize) len);
  g_checksum_get_digest (c, out, &n);
  g_checksum_free (c);
}

/* Floats per filter of a convolutional layer's kernels, or 0 when its
 * weights are not laid out as weights_q8.h's kind 1 expects. */
static size_t
conv_per_filter (const CfgLayer *l)
{
  size_t f, per;

  if (l->type != CFG_LAYER_CONVOLUTIONAL || l->filters <= 0 || l->groups <= 0
      || l->size <= 0)
    return 0;
  f = (size_t) l->filters;
  per = (size_t) (l->in_c / l->groups) * l->size * l->size;
  if (per == 0
      || f * (l->batch_normalize ? 4 : 1) + f * per != l->weight_floats)
    return 0;
  return per;
}

/* ---- writing --------------------------------------------------------------- */

/* One folded, quantized convolution at out (8 f + f per bytes). */
static void
quantize_conv (const CfgLayer *l, size_t per, const uint8_t *floats,
    uint8_t *out)
{
  size_t f = (size_t) l->filters;
  const uint8_t *bias = floats, *scales = floats + 4 * f,
                *mean = floats + 8 * f, *var = floats + 12 * f,
                *w = floats + (l->batch_normalize ? 16 : 4) * f;
  int8_t *codes = (int8_t *) (out + 8 * f);

  for (size_t o = 0; o < f; o++) {
    float a = 1.f, b = get_f32 (bias + 4 * o), top = 0.f, step;
    if (l->batch_normalize) {
      /* As Darknet's inference computes it (net_weights.c's fold). */
      a = get_f32 (scales + 4 * o) / (sqrtf (get_f32 (var + 4 * o)) + .000001f);
      b -= get_f32 (mean + 4 * o) * a;
    }
    for (size_t i = 0; i < per; i++)
      top = fmaxf (top, fabsf (a * get_f32 (w + 4 * (o * per + i))));
    step = top / 127.f;
    put_plane_f32 (out, f, o, b);
    put_plane_f32 (out + 4 * f, f, o, step);
    for (size_t i = 0; i < per; i++) {
      float v = a * get_f32 (w + 4 * (o * per + i));
      codes[o * per + i] = step > 0
          ? (int8_t) lrintf (fmaxf (-127.f, fminf (127.f, v / step)))
          : 0;
    }
  }
}

/* The blocks of the whole network, in *blocks (malloc'd). */
static bool
make_blocks (const CfgNetwork *cfg, const uint8_t *floats, uint8_t **blocks,
    size_t *len)
{
  size_t size = 0, at = 0;
  uint8_t *b;

  for (int i = 0; i < cfg->layer_count; i++) {
    const CfgLayer *l = &cfg->layers[i];
    size_t per = conv_per_filter (l);
    if (l->weight_floats == 0)
      continue;
    size += BLOCK_HEADER
        + (per ? (size_t) l->filters * (8 + per) : 4 * l->weight_floats);
  }
  b = malloc (size ? size : 1);
  if (b == NULL)
    return false;
  for (int i = 0; i < cfg->layer_count; i++) {
    const CfgLayer *l = &cfg->layers[i];
    size_t per = conv_per_filter (l);
    if (l->weight_floats == 0)
      continue;
    memset (b + at, 0, BLOCK_HEADER);
    b[at] = per ? KIND_CONV : KIND_FLOATS;
    put_u32 (b + at + 4,
        per ? (uint32_t) l->filters : (uint32_t) l->weight_floats);
    put_u32 (b + at + 8, (uint32_t) per);
    at += BLOCK_HEADER;
    if (per) {
      quantize_conv (l, per, floats, b + at);
      at += (size_t) l->filters * (8 + per);
    } else {
      memcpy (b + at, floats, 4 * l->weight_floats);
      at += 4 * l->weight_floats;
    }
    floats += 4 * l->weight_floats;
  }
  *blocks = b;
  *len = size;
  return true;
}

bool
yolo_q8_quantize (const CfgNetwork *cfg, const char *weights_path,
    const char *out_path, size_t *bytes, YoloStatus *status)
{
  gchar *floats = NULL;
  gsize floats_len = 0;
  GError *error = NULL;
  uint8_t *blocks = NULL, *file = NULL;
  size_t blocks_len, header, bound, frame, total;
  bool ok = false;

  if (!cfg_check_weights (cfg, weights_path, status))
    return false;
  if (!g_file_get_contents (weights_path, &floats, &floats_len, &error)) {
    yolo_fail (status, YOLO_ERR_WEIGHTS_MISSING, "Cannot read %s: %s",
        weights_path, error->message);
    g_error_free (error);
    return false;
  }
  {
    int32_t head[3] = { 0, 0, 0 };
    if (floats_len >= sizeof (head))
      memcpy (head, floats, sizeof (head));
    /* The file as read, not as an earlier open found it. */
    if (floats_len != cfg_weights_bytes (cfg, head[0], head[1])) {
      yolo_fail (status, YOLO_ERR_WEIGHTS_SIZE,
          "Model weights %s changed while being read.", weights_path);
      g_free (floats);
      return false;
    }
  }
  header = floats_len - 4 * cfg->weight_floats;
  if (!make_blocks (cfg, (const uint8_t *) floats + header, &blocks,
          &blocks_len)) {
    yolo_fail (status, YOLO_ERR_LOAD, "Out of memory quantizing %s",
        weights_path);
    goto done;
  }
  bound = ZSTD_compressBound (blocks_len);
  file = malloc (FILE_HEADER + header + bound + SHA256_BYTES);
  if (file == NULL) {
    yolo_fail (status, YOLO_ERR_LOAD, "Out of memory quantizing %s",
        weights_path);
    goto done;
  }
  memcpy (file, MAGIC, 4);
  put_u32 (file + 4, YOLO_Q8_VERSION);
  put_u32 (file + 8, (uint32_t) header);
  put_u32 (file + 12, 0);
  put_u64 (file + 16, blocks_len);
  memcpy (file + FILE_HEADER, floats, header);
  /* ZSTD_compress states the content size in the frame. */
  frame = ZSTD_compress (file + FILE_HEADER + header, bound, blocks, blocks_len,
      ZSTD_LEVEL);
  if (ZSTD_isError (frame)) {
    yolo_fail (status, YOLO_ERR_LOAD, "zstd: %s", ZSTD_getErrorName (frame));
    goto done;
  }
  total = FILE_HEADER + header + frame;
  sha256 (file, total, file + total);
  total += SHA256_BYTES;
  if (total > YOLO_Q8_MAX_FILE_BYTES) {
    yolo_fail (status, YOLO_ERR_WEIGHTS_SIZE,
        "%s would be %zu bytes, over the %zu bytes the loader reads: keep "
        "this model's float weights.",
        out_path, total, YOLO_Q8_MAX_FILE_BYTES);
    goto done;
  }
  if (!g_file_set_contents (out_path, (const gchar *) file, (gssize) total,
          &error)) {
    yolo_fail (status, YOLO_ERR_LOAD, "Cannot write %s: %s", out_path,
        error->message);
    g_error_free (error);
    goto done;
  }
  *bytes = total;
  ok = true;

done:
  g_free (floats);
  free (blocks);
  free (file);
  return ok;
}

/* ---- reading ----------------------------------------------------------------- */

static bool __attribute__ ((format (printf, 3, 4)))
refuse (char *error, size_t error_size, const char *fmt, ...)
{
  va_list ap;

  if (error_size > 0) {
    va_start (ap, fmt);
    vsnprintf (error, error_size, fmt, ap);
    va_end (ap);
  }
  return false;
}

/* One layer's block at *at (of blocks' end) expanded to out; false with
 * the reason when it is not that layer's. */
static bool
expand_block (const CfgLayer *l, int index, const uint8_t **at,
    const uint8_t *end, uint8_t *out, char *error, size_t error_size)
{
  size_t per = conv_per_filter (l), f, count, need;
  const uint8_t *b = *at;
  /* sqrt (var) + .000001 == 1: the loader's fold gives a scale of 1 */
  const float one_less = 1.f - .000001f, var = one_less * one_less;

  if ((size_t) (end - b) < BLOCK_HEADER)
    return refuse (error, error_size, "the blocks end before layer %d's",
        index);
  f = get_u32 (b + 4);
  count = get_u32 (b + 8);
  if (b[0] == KIND_CONV) {
    if (per == 0 || f != (size_t) l->filters || count != per)
      return refuse (error, error_size,
          "layer %d's block is a convolution of %zu filters of %zu weights, "
          "but the cfg's layer %d is not that",
          index, f, count, index);
    need = f * (8 + per);
  } else if (b[0] == KIND_FLOATS) {
    if (f != l->weight_floats || count != 0)
      return refuse (error, error_size,
          "layer %d's block holds %zu floats, but the cfg's layer needs %zu",
          index, f, l->weight_floats);
    need = 4 * f;
  } else {
    return refuse (error, error_size, "layer %d's block is of unknown kind %u",
        index, b[0]);
  }
  if (b[1] != 0 || b[2] != 0 || b[3] != 0
      || (size_t) (end - b) - BLOCK_HEADER < need)
    return refuse (error, error_size,
        "layer %d's block is cut short or has reserved bytes set", index);
  b += BLOCK_HEADER;
  if (b[-BLOCK_HEADER] == KIND_FLOATS) {
    memcpy (out, b, need);
  } else {
    const int8_t *codes = (const int8_t *) (b + 8 * f);
    uint8_t *w = out + (l->batch_normalize ? 16 : 4) * f;
    for (size_t o = 0; o < f; o++) {
      float step = get_plane_f32 (b + 4 * f, f, o);
      put_f32 (out + 4 * o, get_plane_f32 (b, f, o));
      if (l->batch_normalize) {
        put_f32 (out + 4 * (f + o), 1.f);
        put_f32 (out + 4 * (2 * f + o), 0.f);
        put_f32 (out + 4 * (3 * f + o), var);
      }
      for (size_t i = 0; i < per; i++)
        put_f32 (w + 4 * (o * per + i), step * codes[o * per + i]);
    }
  }
  *at = b + need;
  return true;
}

bool
yolo_q8_decode (const uint8_t *data, size_t len, const CfgNetwork *cfg,
    uint8_t **out, size_t *out_len, char *error, size_t error_size)
{
  uint8_t digest[SHA256_BYTES];
  size_t header, plain, frame_len, want, bound, left;
  unsigned long long stated;
  const uint8_t *frame, *at, *end;
  uint8_t *blocks = NULL, *floats = NULL, *o;
  int32_t major, minor;

  *out = NULL;
  *out_len = 0;
  if (len < FILE_HEADER + SHA256_BYTES || memcmp (data, MAGIC, 4) != 0)
    return refuse (error, error_size, "not a YSQ8 file (no YSQ8 header)");
  if (len > YOLO_Q8_MAX_FILE_BYTES)
    return refuse (error, error_size, "%zu bytes, over the %zu-byte limit", len,
        YOLO_Q8_MAX_FILE_BYTES);
  if (get_u32 (data + 4) != YOLO_Q8_VERSION || get_u32 (data + 12) != 0)
    return refuse (error, error_size,
        "version %u: this build reads version %d (quantize the model again "
        "with this yoloswitch-quantize)",
        get_u32 (data + 4), YOLO_Q8_VERSION);
  sha256 (data, len - SHA256_BYTES, digest);
  if (memcmp (digest, data + len - SHA256_BYTES, SHA256_BYTES) != 0)
    return refuse (error, error_size,
        "its SHA-256 does not match its contents: the file is damaged or cut "
        "off; fetch it again");
  header = get_u32 (data + 8);
  plain = (size_t) get_u64 (data + 16);
  if ((header != 16 && header != 20)
      || len < FILE_HEADER + header + SHA256_BYTES)
    return refuse (error, error_size,
        "a Darknet header of %zu bytes: 16 or 20 expected", header);
  memcpy (&major, data + FILE_HEADER, 4);
  memcpy (&minor, data + FILE_HEADER + 4, 4);
  want = cfg_weights_bytes (cfg, major, minor);
  if (want - 4 * cfg->weight_floats != header)
    return refuse (error, error_size,
        "its Darknet header (version %d.%d) is %zu bytes, but that version's "
        "is %zu",
        major, minor, header, want - 4 * cfg->weight_floats);
  /* A block is never much bigger than what it expands to. */
  bound = 4 * cfg->weight_floats + (size_t) BLOCK_HEADER * cfg->layer_count;
  frame = data + FILE_HEADER + header;
  frame_len = len - FILE_HEADER - header - SHA256_BYTES;
  stated = ZSTD_getFrameContentSize (frame, frame_len);
  if (plain > bound || stated != plain
      || ZSTD_findFrameCompressedSize (frame, frame_len) != frame_len)
    return refuse (error, error_size,
        "its blocks (%zu bytes stated) are not one zstd frame of at most "
        "%zu bytes, the most this cfg's weights take",
        plain, bound);
  blocks = malloc (plain ? plain : 1);
  floats = malloc (want);
  if (blocks == NULL || floats == NULL) {
    free (blocks);
    free (floats);
    return refuse (error, error_size, "out of memory for %zu bytes", want);
  }
  if (ZSTD_decompress (blocks, plain, frame, frame_len) != plain) {
    free (blocks);
    free (floats);
    return refuse (error, error_size, "its zstd frame does not decompress");
  }
  memcpy (floats, data + FILE_HEADER, header);
  o = floats + header;
  at = blocks;
  end = blocks + plain;
  for (int i = 0; i < cfg->layer_count; i++) {
    const CfgLayer *l = &cfg->layers[i];
    if (l->weight_floats == 0)
      continue;
    if (!expand_block (l, i, &at, end, o, error, error_size)) {
      free (blocks);
      free (floats);
      return false;
    }
    o += 4 * l->weight_floats;
  }
  left = (size_t) (end - at);
  free (blocks);
  if (left != 0) {
    free (floats);
    return refuse (error, error_size,
        "%zu bytes of blocks are left after the cfg's last layer", left);
  }
  *out = floats;
  *out_len = want;
  return true;
}

/* path opened for reading as a regular file, or -1 (errno set).  Never
 * blocks: a FIFO without a writer would hang an open without O_NONBLOCK,
 * and is refused here (cfg_check_weights names it to the user). */
static int
open_regular (const char *path, struct stat *st)
{
  int fd = open (path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

  if (fd < 0)
    return -1;
  if (fstat (fd, st) != 0 || !S_ISREG (st->st_mode)) {
    close (fd);
    errno = EINVAL;
    return -1;
  }
  return fd;
}

/* Exactly n bytes of fd into a new buffer; NULL if it has fewer. */
static uint8_t *
read_exactly (int fd, size_t n)
{
  uint8_t *data = malloc (n ? n : 1);
  size_t done = 0;

  while (data != NULL && done < n) {
    ssize_t got = read (fd, data + done, n - done);
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0) {
      free (data);
      return NULL;
    }
    done += (size_t) got;
  }
  return data;
}

bool
yolo_q8_is_file (const char *path)
{
  struct stat st;
  uint8_t head[4];
  int fd = open_regular (path, &st);
  bool yes;

  if (fd < 0)
    return false;
  yes = read (fd, head, 4) == 4 && memcmp (head, MAGIC, 4) == 0;
  close (fd);
  return yes;
}

/* floats_len bytes into a new anonymous file, its fd; -1 (errno set). */
static int
memfd_holding (const uint8_t *floats, size_t floats_len)
{
  int fd = memfd_create ("yoloswitch-q8-weights", MFD_CLOEXEC);
  size_t done = 0;

  while (fd >= 0 && done < floats_len) {
    ssize_t n = write (fd, floats + done, floats_len - done);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      if (n == 0)
        errno = EIO;
      close (fd);
      return -1;
    }
    done += (size_t) n;
  }
  if (fd >= 0 && lseek (fd, 0, SEEK_SET) != 0) {
    close (fd);
    return -1;
  }
  return fd;
}

int
yolo_q8_expand (const char *path, const CfgNetwork *cfg, YoloStatus *status)
{
  uint8_t *data, *floats;
  size_t floats_len;
  char error[512];
  struct stat st;
  int fd = open_regular (path, &st);

  if (fd < 0) {
    yolo_fail (status, YOLO_ERR_WEIGHTS_MISSING,
        "Cannot read model weights %s: %s.", path, strerror (errno));
    return -1;
  }
  /* The size of what is read is the size checked: one open, one fstat. */
  if ((uint64_t) st.st_size > YOLO_Q8_MAX_FILE_BYTES) {
    close (fd);
    yolo_fail (status, YOLO_ERR_WEIGHTS_SIZE,
        "Model weights %s (8-bit) is %lld bytes, over the %zu-byte limit.",
        path, (long long) st.st_size, YOLO_Q8_MAX_FILE_BYTES);
    return -1;
  }
  data = read_exactly (fd, (size_t) st.st_size);
  close (fd);
  if (data == NULL) {
    yolo_fail (status, YOLO_ERR_WEIGHTS_SIZE,
        "Model weights %s (8-bit) could not be read whole (%lld bytes): it "
        "changed while being read, or memory ran out.",
        path, (long long) st.st_size);
    return -1;
  }
  if (!yolo_q8_decode (data, (size_t) st.st_size, cfg, &floats, &floats_len,
          error, sizeof error)) {
    free (data);
    yolo_fail (status, YOLO_ERR_WEIGHTS_SIZE, "Model weights %s (8-bit): %s.",
        path, error);
    return -1;
  }
  free (data);
  fd = memfd_holding (floats, floats_len);
  free (floats);
  if (fd < 0)
    yolo_fail (status, YOLO_ERR_LOAD,
        "Cannot hold the expanded weights of %s in memory: %s.", path,
        strerror (errno));
  return fd;
}
