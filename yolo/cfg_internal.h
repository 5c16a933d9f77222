/* Internal to cfg*.c: the cfg file as read (cfg_file.c) and the option
 * readers every layer rule uses (cfg_check.c).  A cfg is hostile bytes:
 * everything here is bounded by the file's size, never by a value in it. */
#ifndef YOLOSWITCH_YOLO_CFG_INTERNAL_H
#define YOLOSWITCH_YOLO_CFG_INTERNAL_H

#include "cfg.h"

#include <stdint.h>

typedef struct {
  const char *key, *value; /* into CfgFile.text, whitespace removed */
  int line;
} CfgOption;

typedef struct {
  const char *type; /* between the brackets */
  int line;
  int first_option, option_count; /* into CfgFile.options */
} CfgSection;

typedef struct {
  const char *path;
  char *text; /* the whole file, split in place into keys and values */
  CfgSection *sections;
  int count, capacity;
  CfgOption *options;
  int option_total, option_capacity;
} CfgFile;

/* Reads and splits path; false with status on a missing, oversized or
 * malformed file.  cfg_file_free() in every case. */
bool cfg_file_read (CfgFile *cfg, const char *path, YoloStatus *status);
/* The same from len bytes in memory (copied); name is what messages say. */
bool cfg_file_parse (CfgFile *cfg, const char *name, const char *text,
    size_t len, YoloStatus *status);
void cfg_file_free (CfgFile *cfg);

/* What a layer rule is looking at, for the messages. */
typedef struct {
  const CfgFile *cfg;
  const CfgSection *sec;
  int index; /* layer index, -1 for [net] */
  YoloStatus *status;
} CfgCtx;

const CfgOption *cfg_option (const CfgCtx *ctx, const char *key);
const char *cfg_option_value (const CfgCtx *ctx, const char *key);

/* An integer option within lo..hi (fallback when absent); false with a
 * sentence naming key, value, line and range otherwise. */
bool cfg_int (const CfgCtx *ctx, const char *key, int fallback, int lo, int hi,
    int *out);
/* A comma-separated list of 1..max integers, each within lo..hi; absent
 * gives 0 entries.  Empty entries are refused: Darknet counts the commas and
 * reads an empty entry as 0, so "layers=-1," would name layer 0 there. */
bool cfg_int_list (const CfgCtx *ctx, const char *key, int lo, int hi, int *out,
    int max, int *count);
/* A float option as Darknet's atof() reads it (fallback when absent). */
float cfg_float (const CfgCtx *ctx, const char *key, float fallback);
/* A list of exactly n floats read as Darknet reads anchors= (atof() of
 * each comma-separated entry); the caller has checked the count. */
void cfg_float_list (const CfgCtx *ctx, const char *key, float *out, int n);
/* Values in a list as Darknet counts them (commas + 1); 0 when absent. */
int cfg_list_count (const CfgCtx *ctx, const char *key);

/* "Model cfg F line L: [type] (layer i) what." */
bool cfg_fail (const CfgCtx *ctx, YoloError code, int line, const char *what);
bool cfg_shape_fail (const CfgCtx *ctx, const char *what);

/* Shape inference for one layer (cfg_check.c). */
bool cfg_infer_layer (const CfgCtx *ctx, CfgNetwork *net);

bool cfg_is_type (const CfgSection *sec, const char *a, const char *b);

#endif
