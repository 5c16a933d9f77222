/* The model's identity for split inference: a 64-bit hash of its cfg and
 * weights files and its input size, so that a device and a server know
 * they run the same network before one finishes what the other began.
 * Not cryptographic: it tells honest mismatches apart (another model,
 * other weights, another input size); a client that lies about it gets
 * only its own results wrong, every shape still being checked. */
#include "model_internal.h"
#include "status.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static uint64_t
mix (uint64_t h, uint64_t word)
{
  h = (h ^ word) * 0x9E3779B97F4A7C15ull;
  return h ^ (h >> 29);
}

/* Words are read little-endian whatever the machine, so every machine
 * gets the same hash. */
static uint64_t
mix_bytes (uint64_t h, const unsigned char *p, size_t n)
{
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w = 0;
    for (int i = 7; i >= 0; i--)
      w = w << 8 | p[i];
    h = mix (h, w);
  }
  if (n > 0) {
    uint64_t w = 0;
    for (size_t i = n; i-- > 0;)
      w = w << 8 | p[i];
    h = mix (h, w);
  }
  return h;
}

static bool
mix_file (uint64_t *h, const char *path, YoloStatus *status)
{
  unsigned char buf[1 << 16];
  uint64_t total = 0;
  size_t held = 0, got;
  FILE *f = fopen (path, "rb");

  if (f == NULL)
    return yolo_fail (status, YOLO_ERR_LOAD,
        "Cannot read %s to hash the model: %s.", path, strerror (errno));
  /* Whole 8-byte words but at the file's end, wherever fread() stops: the
   * bytes after the last whole word wait for the next read. */
  while ((got = fread (buf + held, 1, sizeof buf - held, f)) > 0) {
    size_t words = (held + got) / 8 * 8;
    *h = mix_bytes (*h, buf, words);
    total += got;
    held = held + got - words;
    memmove (buf, buf + words, held);
  }
  *h = mix_bytes (*h, buf, held);
  if (ferror (f)) {
    fclose (f);
    return yolo_fail (status, YOLO_ERR_LOAD,
        "Reading %s to hash the model failed.", path);
  }
  fclose (f);
  *h = mix (*h, total);
  return true;
}

bool
yolo_model_hash (YoloModel *m, uint64_t *out, YoloStatus *status)
{
  uint64_t h = 0x796F6C6F73776974ull; /* "yoloswit" */

  if (!m->hash_known) {
    if (!mix_file (&h, m->files.cfg_path, status)
        || !mix_file (&h, m->files.weights_path, status))
      return false;
    h = mix (h, (uint64_t) m->cfg.width << 32 | (uint32_t) m->cfg.height);
    m->hash = h;
    m->hash_known = true;
  }
  *out = m->hash;
  return true;
}
