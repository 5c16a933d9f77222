/* The byte stream a WebSocket client sends, seen from the server: its
 * HTTP request head, then frame headers, read only far enough to find the
 * first frame whose mask bit is 0 (RFC 6455 5.1: a server must fail the
 * connection).  libwebsockets 4.1 accepts such frames silently; the edge
 * server runs this over the socket's bytes (edge_wire_check.c).
 *
 * Pure: no sockets, no allocation, bounded state, any fragmentation of the
 * stream gives the same answer (tests/fuzz/fuzz_wire_scan.c checks it). */
#ifndef YOLOSWITCH_OFFLOAD_WIRE_SCAN_H
#define YOLOSWITCH_OFFLOAD_WIRE_SCAN_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  YS_WIRE_HEAD, /* the HTTP request head, up to its blank line */
  YS_WIRE_FRAMES, /* after a head with Upgrade: websocket */
  YS_WIRE_PASS, /* not a WebSocket upgrade over plain HTTP: not looked at */
  YS_WIRE_UNMASKED, /* an unmasked frame came: the connection must fail */
} YsWirePhase;

/* Heads longer than this are not looked at (libwebsockets refuses heads
 * far shorter, 4 KiB by default). */
#define YS_WIRE_MAX_HEAD 65536

/* Zeroed, it is at the start of a connection. */
typedef struct {
  uint8_t phase; /* YsWirePhase */
  uint8_t line_len; /* bytes of the head's current line, at most 255 */
  uint8_t line_blank; /* the current line has held at most a CR so far */
  uint8_t line_other; /* the current line is not an Upgrade header */
  uint8_t word; /* bytes of "websocket" matched in an Upgrade value */
  uint8_t upgrade; /* the head asked for a WebSocket upgrade */
  uint8_t hdr_pos; /* bytes of the current frame header seen; 0 between */
  uint8_t hdr_len; /* that header's length, once its second byte came */
  uint32_t head_len;
  uint64_t payload; /* the frame's payload length, then bytes left of it */
} YsWireState;

/* Feeds the next `n` bytes of the stream.  Returns how many of them come
 * before the first unmasked frame's header (n when none is in them; 0 when
 * that header began in an earlier call or came before): the bytes that
 * may be handed on.  Once an unmasked frame was seen the phase stays
 * YS_WIRE_UNMASKED and every call returns 0. */
size_t ys_wire_scan (YsWireState *s, const uint8_t *data, size_t n);

#endif
