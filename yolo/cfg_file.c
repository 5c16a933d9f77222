/* Reading a Darknet cfg into sections and key=value options, and the option
 * readers the layer rules use.
 *
 * The file is read whole (at most CFG_MAX_FILE_BYTES) and split in place:
 * keys and values point into it, so what checking a cfg costs follows from
 * the file's size alone (it used to keep a fixed 70 KB per section, and a
 * 40 KB file of 4096 empty sections took 354 MB).
 *
 * Whitespace is removed from every line, as Darknet's strip() does before it
 * splits at '=': "fil ters=3" is "filters=3" to Darknet, so it must be to us,
 * or a key we never checked would reach it. */
#include "cfg_internal.h"

#include "status.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
read_all (const char *path, char **text, size_t *len, YoloStatus *status)
{
  FILE *f = fopen (path, "rb");
  char *buf = NULL;
  size_t n = 0, cap = 0;

  if (f == NULL)
    return yolo_fail (status, YOLO_ERR_CFG_MISSING,
        "Cannot read model cfg %s: %s. Check the path, or pass the model by "
        "name with a model dir that holds it.",
        path, strerror (errno));
  for (;;) {
    size_t got;
    if (n == cap) {
      char *grown;
      if (cap > CFG_MAX_FILE_BYTES)
        goto too_big;
      cap = cap == 0 ? 16384 : cap * 2;
      if (cap > CFG_MAX_FILE_BYTES + 1)
        cap = CFG_MAX_FILE_BYTES + 1;
      grown = realloc (buf, cap + 1);
      if (grown == NULL)
        goto oom;
      buf = grown;
    }
    got = fread (buf + n, 1, cap - n, f);
    n += got;
    if (got == 0)
      break;
  }
  if (ferror (f)) {
    int err = errno;
    fclose (f);
    free (buf);
    return yolo_fail (status, YOLO_ERR_CFG_MISSING,
        "Cannot read model cfg %s: %s.", path, strerror (err));
  }
  fclose (f);
  if (buf == NULL && (buf = malloc (1)) == NULL)
    return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory reading %s", path);
  buf[n] = '\0';
  *text = buf;
  *len = n;
  return true;

too_big:
  fclose (f);
  free (buf);
  return yolo_fail (status, YOLO_ERR_CFG_INVALID,
      "Model cfg %s is larger than %d bytes: this is not a Darknet cfg file "
      "(real ones are under 64 KiB).",
      path, CFG_MAX_FILE_BYTES);
oom:
  fclose (f);
  free (buf);
  return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory reading %s", path);
}

static bool
add_section (CfgFile *cfg, const char *type, int line, YoloStatus *status)
{
  /* [net] and CFG_MAX_LAYERS layers. */
  if (cfg->count > CFG_MAX_LAYERS)
    return yolo_fail (status, YOLO_ERR_CFG_INVALID,
        "Model cfg %s line %d: more than %d layers; yoloswitch accepts at "
        "most %d.",
        cfg->path, line, CFG_MAX_LAYERS, CFG_MAX_LAYERS);
  if (cfg->count == cfg->capacity) {
    int cap = cfg->capacity ? cfg->capacity * 2 : 64;
    CfgSection *grown;
    grown = realloc (cfg->sections, sizeof (CfgSection) * (size_t) cap);
    if (grown == NULL)
      return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory reading %s",
          cfg->path);
    cfg->sections = grown;
    cfg->capacity = cap;
  }
  cfg->sections[cfg->count++]
      = (CfgSection){ type, line, cfg->option_total, 0 };
  return true;
}

static bool
add_option (CfgFile *cfg, const char *key, const char *value, int line,
    YoloStatus *status)
{
  CfgSection *sec = &cfg->sections[cfg->count - 1];

  if (sec->option_count == CFG_MAX_OPTIONS)
    return yolo_fail (status, YOLO_ERR_CFG_INVALID,
        "Model cfg %s line %d: more than %d options in one section.", cfg->path,
        line, CFG_MAX_OPTIONS);
  if (cfg->option_total == cfg->option_capacity) {
    int cap = cfg->option_capacity ? cfg->option_capacity * 2 : 256;
    CfgOption *grown
        = realloc (cfg->options, sizeof (CfgOption) * (size_t) cap);
    if (grown == NULL)
      return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory reading %s",
          cfg->path);
    cfg->options = grown;
    cfg->option_capacity = cap;
  }
  cfg->options[cfg->option_total++] = (CfgOption){ key, value, line };
  sec->option_count++;
  return true;
}

/* Removes every whitespace character of [s, end) in place and terminates
 * the result; returns it. */
static char *
squeeze (char *s, char *end)
{
  char *w = s;

  for (char *r = s; r < end; r++)
    if (!isspace ((unsigned char) *r))
      *w++ = *r;
  *w = '\0';
  return s;
}

static bool
parse_line (CfgFile *cfg, char *s, int lineno, YoloStatus *status)
{
  char *eq;

  if (*s == '\0' || *s == '#' || *s == ';')
    return true;
  if (*s == '[') {
    char *close = strchr (s, ']');
    if (close == NULL || close == s + 1 || close[1] != '\0' || close - s > 64)
      return yolo_fail (status, YOLO_ERR_CFG_INVALID,
          "Model cfg %s line %d: malformed section header \"%s\": write "
          "[type] alone on its line.",
          cfg->path, lineno, s);
    *close = '\0';
    return add_section (cfg, s + 1, lineno, status);
  }
  eq = strchr (s, '=');
  if (eq == NULL || eq == s || cfg->count == 0)
    return yolo_fail (status, YOLO_ERR_CFG_INVALID,
        "Model cfg %s line %d: expected \"key=value\" inside a [section], "
        "got \"%s\".",
        cfg->path, lineno, s);
  *eq = '\0';
  return add_option (cfg, s, eq + 1, lineno, status);
}

static bool split (CfgFile *cfg, size_t len, YoloStatus *status);

bool
cfg_file_read (CfgFile *cfg, const char *path, YoloStatus *status)
{
  size_t len = 0;

  memset (cfg, 0, sizeof (*cfg));
  cfg->path = path;
  if (!read_all (path, &cfg->text, &len, status))
    return false;
  return split (cfg, len, status);
}

bool
cfg_file_parse (CfgFile *cfg, const char *name, const char *text, size_t len,
    YoloStatus *status)
{
  memset (cfg, 0, sizeof (*cfg));
  cfg->path = name;
  if (len > CFG_MAX_FILE_BYTES)
    return yolo_fail (status, YOLO_ERR_CFG_INVALID,
        "Model cfg %s is larger than %d bytes: this is not a Darknet cfg file "
        "(real ones are under 64 KiB).",
        name, CFG_MAX_FILE_BYTES);
  if ((cfg->text = malloc (len + 1)) == NULL)
    return yolo_fail (status, YOLO_ERR_LOAD, "Out of memory reading %s", name);
  memcpy (cfg->text, text, len);
  cfg->text[len] = '\0';
  return split (cfg, len, status);
}

/* Splits cfg->text (len bytes and a NUL) into sections and options. */
static bool
split (CfgFile *cfg, size_t len, YoloStatus *status)
{
  const char *path = cfg->path;
  char *p, *nul;
  int lineno = 0;

  if ((nul = memchr (cfg->text, '\0', len)) != NULL) {
    int line = 1;
    for (p = cfg->text; p < nul; p++)
      line += *p == '\n';
    return yolo_fail (status, YOLO_ERR_CFG_INVALID,
        "Model cfg %s line %d holds a NUL byte: this is not a Darknet cfg "
        "text file.",
        path, line);
  }
  for (p = cfg->text; *p != '\0';) {
    char *end = strchr (p, '\n');
    char *next;

    if (end == NULL)
      end = p + strlen (p);
    next = *end == '\n' ? end + 1 : end;
    lineno++;
    if (end - p > CFG_MAX_LINE)
      return yolo_fail (status, YOLO_ERR_CFG_INVALID,
          "Model cfg %s line %d is longer than %d characters: this is not a "
          "Darknet cfg file.",
          path, lineno, CFG_MAX_LINE);
    if (!parse_line (cfg, squeeze (p, end), lineno, status))
      return false;
    p = next;
  }
  if (cfg->count == 0)
    return yolo_fail (status, YOLO_ERR_CFG_INVALID,
        "Model cfg %s has no [sections]: this is not a Darknet cfg file.",
        path);
  return true;
}

void
cfg_file_free (CfgFile *cfg)
{
  free (cfg->text);
  free (cfg->sections);
  free (cfg->options);
  memset (cfg, 0, sizeof (*cfg));
}

bool
cfg_is_type (const CfgSection *sec, const char *a, const char *b)
{
  return strcmp (sec->type, a) == 0
      || (b != NULL && strcmp (sec->type, b) == 0);
}

/* The first one, as Darknet's option_find() takes the first. */
const CfgOption *
cfg_option (const CfgCtx *ctx, const char *key)
{
  const CfgOption *o;

  if (ctx->sec->option_count == 0)
    return NULL; /* options may be NULL: no &NULL[0] */
  o = &ctx->cfg->options[ctx->sec->first_option];
  for (int i = 0; i < ctx->sec->option_count; i++)
    if (strcmp (o[i].key, key) == 0)
      return &o[i];
  return NULL;
}

const char *
cfg_option_value (const CfgCtx *ctx, const char *key)
{
  const CfgOption *o = cfg_option (ctx, key);
  return o != NULL ? o->value : NULL;
}

bool
cfg_fail (const CfgCtx *ctx, YoloError code, int line, const char *what)
{
  if (ctx->index < 0)
    return yolo_fail (ctx->status, code, "Model cfg %s line %d: [%s] %s.",
        ctx->cfg->path, line, ctx->sec->type, what);
  return yolo_fail (ctx->status, code,
      "Model cfg %s line %d: layer %d [%s] %s.", ctx->cfg->path, line,
      ctx->index, ctx->sec->type, what);
}

bool
cfg_shape_fail (const CfgCtx *ctx, const char *what)
{
  return cfg_fail (ctx, YOLO_ERR_CFG_INVALID, ctx->sec->line, what);
}

/* One decimal integer filling all of [s, end); false if not. */
static bool
parse_int (const char *s, const char *end, long long *out)
{
  char *stop;

  if (s == end)
    return false;
  errno = 0;
  *out = strtoll (s, &stop, 10);
  return errno == 0 && stop == end;
}

static bool
range_fail (const CfgCtx *ctx, const CfgOption *o, long long lo, long long hi)
{
  char what[CFG_MAX_LINE + 160];

  snprintf (what, sizeof (what),
      "has %s=%.80s%s, outside the range yoloswitch accepts: %lld to %lld",
      o->key, o->value, strlen (o->value) > 80 ? "..." : "", lo, hi);
  return cfg_fail (ctx, YOLO_ERR_CFG_INVALID, o->line, what);
}

bool
cfg_int (const CfgCtx *ctx, const char *key, int fallback, int lo, int hi,
    int *out)
{
  const CfgOption *o = cfg_option (ctx, key);
  long long n;

  if (o == NULL) {
    *out = fallback;
    return true;
  }
  if (!parse_int (o->value, o->value + strlen (o->value), &n)) {
    char what[CFG_MAX_LINE + 64];
    snprintf (what, sizeof (what), "has %s=%.80s, which is not an integer",
        o->key, o->value);
    return cfg_fail (ctx, YOLO_ERR_CFG_INVALID, o->line, what);
  }
  if (n < lo || n > hi)
    return range_fail (ctx, o, lo, hi);
  *out = (int) n;
  return true;
}

bool
cfg_int_list (const CfgCtx *ctx, const char *key, int lo, int hi, int *out,
    int max, int *count)
{
  const CfgOption *o = cfg_option (ctx, key);
  const char *v;
  int n = 0;

  *count = 0;
  if (o == NULL)
    return true;
  for (v = o->value;; v++) {
    const char *end = strchr (v, ',');
    long long x;
    char what[CFG_MAX_LINE + 160];

    if (end == NULL)
      end = v + strlen (v);
    if (!parse_int (v, end, &x)) {
      snprintf (what, sizeof (what),
          "has %s=%.80s: write 1 to %d comma-separated integers, without "
          "empty entries",
          o->key, o->value, max);
      return cfg_fail (ctx, YOLO_ERR_CFG_INVALID, o->line, what);
    }
    if (n == max) {
      snprintf (what, sizeof (what), "has %s=%.80s...: more than %d entries",
          o->key, o->value, max);
      return cfg_fail (ctx, YOLO_ERR_CFG_INVALID, o->line, what);
    }
    if (x < lo || x > hi) {
      snprintf (what, sizeof (what),
          "has %s=%.80s: entry %lld is outside the range yoloswitch accepts: "
          "%d to %d",
          o->key, o->value, x, lo, hi);
      return cfg_fail (ctx, YOLO_ERR_CFG_INVALID, o->line, what);
    }
    out[n++] = (int) x;
    if (*end == '\0')
      break;
    v = end;
  }
  *count = n;
  return true;
}

int
cfg_list_count (const CfgCtx *ctx, const char *key)
{
  const char *v = cfg_option_value (ctx, key);
  int n = 1;

  if (v == NULL)
    return 0;
  for (; *v; v++)
    n += *v == ',';
  return n;
}
