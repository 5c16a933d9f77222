/* Internal to the offload session: its state, shared by session.c (flights,
 * the client's callbacks, the API) and session_encode.c (the encoder's
 * packets, matched to their frames and sent). */
#ifndef YOLOSWITCH_OFFLOAD_SESSION_INTERNAL_H
#define YOLOSWITCH_OFFLOAD_SESSION_INTERNAL_H

#include "session.h"

#include "client.h"
#include "estimator.h"

#include <glib.h>

typedef struct {
  uint32_t frame_id;
  YoloFrameStamp stamp; /* as given; stamp.arrival_us is the capture time */
  int tag;
  int64_t deadline_us;
  int64_t answered_us; /* when its RESULT arrived */
  double server_ms, infer_ms; /* what the RESULT said */
  int width, height; /* the submitted frame: boxes come back as fractions */
  int encoded_width, encoded_height;
  int64_t bitrate;
  int cut; /* a split frame's (its packet's header); 0: video */
  bool waiting;
  bool in_encoder; /* its packet has not come out yet */
  bool detached; /* nobody will wait(): freed as soon as it ends */
  bool ok;
  const char *reason;
  YoloDetections detections;
  char model[YS_MAX_MODEL + 1];
} Flight;

typedef struct {
  char *text;
  bool warning;
} Notice;

/* A frame inside the encoder: what its FRAME message needs when its packet
 * comes out, whether or not its flight is still waiting by then. */
typedef struct {
  uint32_t frame_id;
  int64_t capture_us;
} Encoding;

/* What became of the frame submit() just gave the encoder. */
typedef enum {
  MINE_HELD, /* still inside the encoder */
  MINE_SENT,
  MINE_BACKLOG, /* its packet came out and the client refused it */
  MINE_LOST, /* the encoder lost it (skipped it, or failed in a drain) */
} Mine;

struct YsSession {
  YsSessionOptions options;
  char *server, *token, *model, *client_name, *hw_encoder, *encoder_options;
  YsClient *client;

  GMutex encoder_lock; /* the encoder is used by one submit at a time */
  /* everything down to `lock`: under encoder_lock */
  YsEncoder *encoder;
  uint32_t config_id; /* bumped with every encoding change */
  int last_width, last_height;
  int64_t last_bitrate;
  /* Frames given to the encoder whose packets have not come out, oldest
   * first.  The encoder holds at most YS_ENCODER_MAX_HELD. */
  Encoding encoding[YS_ENCODER_MAX_HELD];
  int encoding_first, encoding_count;
  char last_encoder_error[256]; /* the last one noticed; "": none since */

  GMutex lock;
  GCond changed; /* a flight ended, the link came or went, an interrupt */
  /* everything below: locked */
  GHashTable *flights; /* frame id -> Flight */
  GQueue waiting; /* Flight *, oldest first: slots and deadlines */
  int waiting_in_encoder; /* of them, those the encoder still holds */
  uint32_t next_id;
  bool interrupted;
  bool connected, ever_connected, first_attempt_done;
  bool force_keyframe;
  int server_capacity; /* 0: unknown */
  int want_width, want_height;
  int rate_fps; /* the frames' real rate; 0: options.fps */
  int64_t bitrate;
  YsLinkEstimator estimator;
  YoloAnalysis newest;
  bool have_newest;
  GQueue results; /* YoloAnalysis *: endings of detached frames, oldest first */
  YsSessionStats counters; /* the counting fields only */
  GQueue notices; /* Notice * */
  /* The names taken from the server (session_names.c): a set of the
   * process-lifetime strings, at most options.max_labels. */
  GHashTable *names;
  bool warned_names, warned_model;
  /* The label list of this connection's HELLO (session_names.c):
   * list_labels[class_id] a kept name; NULL: the server sent none, and
   * labels are checked one by one as they come. */
  const char **list_labels;
  int list_count;
  bool warned_list;
  bool warned_split; /* a split session refused a server (session_link.c) */
  /* The server's HELLO listed YS_CODEC_TENSOR_ZSTD: split packets go
   * compressed when that makes them smaller (split_zstd.h). */
  bool server_takes_zstd;
  /* The model the server's HELLO announced (a kept name, or "unknown"). */
  const char *server_model;
  /* The FFmpeg encoder in use, for stats without the encoder's lock (a
   * drain may hold that for a while); a static string of FFmpeg's. */
  const char *encoder_name;
};

/* session.c, lock held: queues a sentence for the bus. */
void session_notice_locked (YsSession *s, bool warning, char *text);
/* session.c, lock held: the flight's one ending. */
void session_finish_locked (YsSession *s, Flight *f, bool ok,
    const char *reason);

/* session.c, lock held */
void session_fill_analysis (const YsSession *s, YoloAnalysis *a,
    const Flight *f);
void session_expire_locked (YsSession *s, int64_t now);
void session_fail_all_locked (YsSession *s, const char *reason);

/* session_names.c.  Lock held: the process-lifetime copy of a name from
 * the server (a label, a model), or NULL with *why when refused (not
 * printable, or over max_labels). */
const char *session_name_locked (YsSession *s, const char *ptr, size_t len,
    const char **why);
/* Lock held: takes the label list of the server's HELLO (none: labels
 * are checked alone).  NULL, or a sentence (free it) saying why the list
 * is refused: a label not printable, or past max_labels. */
char *session_take_label_list_locked (YsSession *s, const YsHello *hello);
/* Lock held: the label a RESULT's box is recorded with, a kept name, or
 * "unknown" when refused (counted in labels_refused, warned once): with a
 * list, a label other than the list's for its class_id; without, one
 * session_name_locked refuses. */
const char *session_label_locked (YsSession *s, const YsDetection *d);
/* Lock held: warns once that names were refused. */
void session_name_refused_locked (YsSession *s, const char *what,
    const char *ptr, size_t len, const char *why);
/* The server's text for a sentence: control bytes and broken UTF-8 shown
 * as \xNN.  Free it. */
char *session_printable_copy (const char *ptr, size_t len);

/* session_link.c: the client's callbacks (its service thread) */
char *session_on_connected (void *user, const YsHello *hello);
void session_on_disconnected (void *user, const char *why);
void session_on_message (void *user, const YsMessage *m, int64_t now);
void session_on_sent (void *user, uint32_t frame_id, uint32_t bytes,
    int64_t sent_us);

/* session_encode.c, encoder_lock held */
void session_encoding_push (YsSession *s, uint32_t frame_id,
    int64_t capture_us);
/* Sends every packet the encoder has ready, oldest first; after a drain,
 * that is all it held.  Returns what became of frame `mine` (0: none). */
Mine session_send_ready (YsSession *s, uint32_t mine, bool drained);
/* An encoder error is a notice once, not once per frame. */
void session_encoder_error (YsSession *s, const char *why);
/* Sends one packet as a FRAME built from its own frame e; false if the
 * client refused it (its flight ended "link-backlog" or "disconnected"). */
bool session_send_packet (YsSession *s, const YsPacket *packet,
    const YsPacket *plain, const Encoding *e);

#endif
