/* The yoloswitch.v2 client used by the yolooffload element: one WebSocket
 * connection to an edge server, kept open with its own libwebsockets
 * service thread, reconnected with backoff whenever it drops.
 *
 * The caller's thread only queues messages (bounded: a slow link refuses
 * new frames instead of growing a queue) and never waits on the network.
 * Everything the server says arrives through callbacks, on the client's
 * service thread. */
#ifndef YOLOSWITCH_OFFLOAD_CLIENT_H
#define YOLOSWITCH_OFFLOAD_CLIENT_H

#include "protocol.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct YsClient YsClient;

typedef struct {
  /* The server's HELLO came (hello; valid during the call).  Returns
   * NULL to take it (frames may go), or a sentence (g_malloc'd, the client
   * frees it) saying why it is refused: the client then closes the
   * connection with it as the reason, and reconnects later as after any
   * close. */
  char *(*connected) (void *user, const YsHello *hello);
  /* The connection is gone (or could not be made); frames sent and not
   * answered will get no answer.  Reconnection is already scheduled. */
  void (*disconnected) (void *user, const char *why);
  /* ACK, RESULT, DROP, PONG or ERROR; now_us: arrival, monotonic. */
  void (*message) (void *user, const YsMessage *msg, int64_t now_us);
  /* A FRAME was handed to the socket at sent_us (monotonic). */
  void (*sent) (void *user, uint32_t frame_id, uint32_t bytes, int64_t sent_us);
} YsClientCallbacks;

typedef struct {
  const char *url; /* ws://host:port/path or wss://... */
  const char *name; /* sent in HELLO */
  const char *token; /* may be NULL */
  const char *model; /* may be NULL: the server's default */
  /* wss://: PEM certificates to trust (NULL: the system's) */
  const char *ca_file;
  uint32_t deadline_ms; /* HELLO default frame deadline */
  /* What FRAMEs carry, listed in the HELLO: YS_CODEC_TENSOR (split
   * frames) alone, or (anything else, 0 too) h264 and mjpeg */
  uint8_t codec;
  size_t max_queued_bytes; /* 0: 8 MiB */
  int ping_interval_ms; /* 0: 500 */
  int silence_timeout_ms; /* no byte from the server this long: reconnect (0: 3000) */
} YsClientOptions;

/* Starts the service thread and the first connection attempt.  NULL with
 * *error (static sentence) when the URL is not ws:// or wss:// or the CA
 * file cannot be read. */
YsClient *ys_client_new (const YsClientOptions *options,
    const YsClientCallbacks *callbacks, void *user, const char **error);

/* Closes the connection and joins the service thread: no callback runs
 * after this returns. */
void ys_client_free (YsClient *client);

/* Any thread: queues a FRAME (or any message).  false when not connected
 * or the queue is full: the frame is not sent. */
bool ys_client_send (YsClient *client, const YsMessage *msg);

/* As ys_client_send, only if the HELLO of the connection it would go on
 * listed codec (a form of packet not every server reads: zstd split
 * packets).  Checked under the lock that marks the connection ready, so
 * a reconnect to a server without it between the caller's decision and
 * this call refuses the message with *unlisted set (the caller may send
 * another form) instead of sending it to a server that cannot read it. */
bool ys_client_send_if_listed (YsClient *client, const YsMessage *msg,
    uint8_t codec, bool *unlisted);

/* Any thread. */
bool ys_client_connected (YsClient *client);

/* Monotonic microseconds, the clock of every *_us in this API. */
int64_t ys_client_now_us (void);

#endif
