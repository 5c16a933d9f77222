/* The yoloswitch.v2 wire protocol: message layout, encoding and a pure,
 * incremental parser.  docs/PROTOCOL.md is the specification; this is its
 * one implementation, shared by the edge server and the yolooffload
 * element.  Plain C and no I/O, so it can be fuzzed on its own; the parser
 * allocates only its payload buffer, after the length passed the limit.
 *
 * Every message is a 28-byte header followed by a payload:
 *   0  'Y' 'S'        magic
 *   2  u8  version    2
 *   3  u8  type       YsMsgType
 *   4  u16 flags      YS_FLAG_*
 *   6  u16 reserved   0; ignored by receivers
 *   8  u32 frame_id   the frame a message is about (0 when none)
 *  12  u32 config_id the sender's encoding configuration, echoed back
 *  16  u64 capture_us the frame's capture time on the client's clock (or
 *                     the PING's send time), echoed back
 *  24  u32 payload_len bytes following the header
 * Integers are little-endian, floats IEEE 754 binary32 little-endian,
 * strings a u16 byte count then the bytes (valid UTF-8, no NUL). */
#ifndef YOLOSWITCH_OFFLOAD_PROTOCOL_H
#define YOLOSWITCH_OFFLOAD_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define YS_PROTOCOL_NAME "yoloswitch.v2"
#define YS_PROTOCOL_VERSION 2
#define YS_HEADER_SIZE 28

/* Hard limits.  A message over any of them is refused, whatever its
 * length fields say. */
#define YS_DEFAULT_MAX_PAYLOAD (4u << 20) /* per message, settable */
#define YS_MAX_DETECTIONS 1024 /* per RESULT */
#define YS_MAX_CODECS 8 /* per HELLO */
#define YS_MAX_NAME 64 /* client/server name, label */
#define YS_MAX_TOKEN 256
#define YS_MAX_MODEL 128
#define YS_MAX_ERROR_TEXT 1024
#define YS_MAX_DIMENSION 16384 /* frame width, height */
/* Labels in a server's HELLO: the client's default max-labels, so a list
 * a client takes whole fits its names cap (1000 x 66 bytes at most: the
 * HELLO stays far under any receiver's message limit). */
#define YS_MAX_LABELS 1000

typedef enum {
  YS_MSG_HELLO = 1, /* both ways: who I am, what I can do */
  YS_MSG_FRAME = 2, /* client -> server: one encoded frame */
  YS_MSG_ACK = 3, /* server -> client: a frame has fully arrived */
  YS_MSG_RESULT = 4, /* server -> client: detections for a frame */
  YS_MSG_DROP = 5, /* server -> client: a frame will get no result */
  YS_MSG_PING = 6, /* either way */
  YS_MSG_PONG = 7, /* the answer, header echoed */
  YS_MSG_ERROR = 8, /* the connection closes after it */
} YsMsgType;

enum {
  YS_FLAG_KEYFRAME = 1 << 0, /* FRAME: decodable on its own */
  YS_FLAG_NEED_KEYFRAME = 1 << 1, /* DROP: decoding stopped until one comes */
  YS_FLAG_SERVER = 1 << 2, /* HELLO: sent by a server */
};

typedef enum {
  YS_CODEC_NONE = 0,
  YS_CODEC_H264 = 1, /* Annex B access units */
  YS_CODEC_MJPEG = 2, /* one baseline JPEG per frame */
  /* split inference: a cut's quantized handover tensors
   * (offload/tensor_packet.h); 18.. reserved for other tensor formats */
  YS_CODEC_TENSOR = 16,
  /* in HELLO lists only, never a FRAME's codec: split packets (codec 16)
   * may come zstd-compressed (offload/split_zstd.h); revision 2.3 */
  YS_CODEC_TENSOR_ZSTD = 17,
} YsCodec;

typedef enum {
  YS_DROP_DEADLINE = 1, /* inference could not finish before its deadline */
  YS_DROP_OVERLOAD = 2, /* a newer frame of the same client replaced it */
  YS_DROP_DECODE_ERROR = 3, /* the packet did not decode */
  YS_DROP_SHUTDOWN = 4, /* the server is stopping */
  /* the client's waiting frames hold more bytes than the server keeps for
   * one client (its --max-pending-bytes) */
  YS_DROP_BACKLOG = 5,
  /* the server's model changed (a HELLO announced the new one) after the
   * frame was taken and before its result could be sent */
  YS_DROP_MODEL_CHANGED = 6,
} YsDropReason;

typedef enum {
  YS_ERR_MALFORMED = 1, /* bytes that are not a valid message */
  YS_ERR_VERSION = 2, /* a protocol version we do not speak */
  YS_ERR_TOO_LARGE = 3, /* a message or field over the limits */
  YS_ERR_UNAUTHORIZED = 4, /* HELLO without the right token */
  YS_ERR_UNSUPPORTED = 5, /* codec or model this server does not have */
  YS_ERR_SEQUENCE = 6, /* a message out of order (FRAME before HELLO) */
  YS_ERR_SHUTDOWN = 7, /* the server is stopping */
  YS_ERR_INTERNAL = 8,
  /* a split FRAME for another model (hash), a cut the server's model does
   * not have, or tensors of other shapes than its handover at that cut */
  YS_ERR_MISMATCH = 9,
} YsErrorCode;

/* A string inside a parsed message: not NUL-terminated, valid while the
 * message is. */
typedef struct {
  const char *ptr;
  uint16_t len;
} YsStr;

typedef struct {
  uint8_t version;
  uint8_t type;
  uint16_t flags;
  uint32_t frame_id;
  uint32_t config_id;
  uint64_t capture_us;
  uint32_t payload_len;
} YsHeader;

typedef struct {
  YsStr name; /* client or server name */
  YsStr token; /* client: the shared secret; server: empty */
  YsStr
      model; /* client: wanted model (empty: server default); server: loaded */
  uint8_t codec_count;
  uint8_t codecs[YS_MAX_CODECS];
  uint16_t net_width, net_height; /* server: model input; client: 0 */
  uint32_t
      deadline_ms; /* client: default frame deadline; server: its default */
  /* server: frames it keeps per client without dropping (waiting, and
   * being inferred), so a client gains nothing from more in flight;
   * client: 0 */
  uint16_t queue_depth, workers;
  /* server: its model's labels, labels[class_id] being the label its
   * RESULTs give that class (each <= YS_MAX_NAME bytes); 0: no list (a
   * client, an older server, or one whose labels would not pass).  On the
   * wire a u16 count then the strings, after `workers`; a HELLO that ends
   * at `workers` has none, and the encoder writes the field only when
   * label_count > 0. */
  uint16_t label_count;
  const YsStr *labels;
  /* server: yolo_model_hash() of its model, for split FRAMEs (codec 16),
   * which name the model they were cut from; 0: none (a client, or a
   * server before it).  On the wire a u64 after the label list, which is
   * then present even when empty (label_count 0). */
  uint64_t model_hash;
} YsHello;

typedef struct {
  uint8_t codec;
  uint16_t width, height;
  uint32_t deadline_ms; /* budget from arrival to inference start; 0: default */
  const uint8_t *packet;
  uint32_t packet_len;
} YsFrame;

typedef struct {
  uint32_t bytes; /* payload bytes of the frame received */
  uint64_t receive_us; /* server clock, for relative use only */
  /* From the frame's first byte to its last on the server: its transmit
   * time through the bottleneck, whatever the round trip. */
  uint32_t receive_span_us;
  uint16_t queue_depth; /* frames of this client waiting for inference */
} YsAck;

typedef struct {
  uint16_t class_id;
  float confidence;
  float x, y, w, h; /* fractions of the frame, top-left corner */
  YsStr label;
} YsDetection;

typedef struct {
  uint32_t queue_us, decode_us, infer_us;
  YsStr model;
  uint16_t width, height; /* the frame as decoded */
  uint16_t count;
  const YsDetection *detections;
} YsResult;

typedef struct {
  uint8_t reason; /* YsDropReason */
} YsDrop;

typedef struct {
  uint16_t code; /* YsErrorCode */
  YsStr text;
} YsError;

typedef struct {
  YsHeader header;
  union {
    YsHello hello;
    YsFrame frame;
    YsAck ack;
    YsResult result;
    YsDrop drop;
    YsError error;
  } u;
} YsMessage;

/* ---- encoding ------------------------------------------------------------ */

/* Bytes msg takes on the wire, header included; 0 if a field is over the
 * limits (it would be refused by the peer). header.payload_len and
 * header.version are filled in by the encoder. */
size_t ys_message_size (const YsMessage *msg);

/* Writes msg to out, which has ys_message_size (msg) bytes; returns that. */
size_t ys_message_encode (const YsMessage *msg, uint8_t *out);

/* Turns a C string into a YsStr (NULL gives an empty one). */
YsStr ys_str (const char *s);

/* s cut to at most max bytes, at a character boundary. */
YsStr ys_str_clip (YsStr s, size_t max);

/* Whether len bytes are strict UTF-8, as every protocol string must be
 * (protocol_text.c). */
bool ys_utf8_valid (const char *text, size_t len);

/* A peer's text as it may be shown in a log line or a message: printable
 * ASCII as it is, every other byte as \xNN (so no string can start a
 * line, move a terminal's cursor or end a quoted field), at most `max`
 * bytes of it, then "...".  Flags: YS_ESCAPE_KEEP_UTF8 keeps valid UTF-8
 * characters (for people: bus warnings); YS_ESCAPE_QUOTES writes " and \
 * as \" and \\ (for quoted fields of a log).  NUL-terminated, free()
 * it; NULL when out of memory. */
#define YS_ESCAPE_KEEP_UTF8 1u
#define YS_ESCAPE_QUOTES 2u
char *ys_text_escape (const char *text, size_t len, size_t max, unsigned flags);

/* ---- parsing -------------------------------------------------------------- */

typedef enum {
  YS_PARSE_OK = 0,
  YS_PARSE_BAD_MAGIC, /* not a yoloswitch message */
  YS_PARSE_BAD_VERSION, /* another protocol version */
  YS_PARSE_UNKNOWN_TYPE,
  YS_PARSE_TOO_LARGE, /* payload length over the limit */
  YS_PARSE_MALFORMED, /* fields inconsistent with the payload length */
  YS_PARSE_TRUNCATED, /* input ended inside a message */
  YS_PARSE_STOPPED, /* the callback asked to stop */
  YS_PARSE_NO_MEMORY, /* the memory hook refused the payload's buffer */
} YsParseStatus;

typedef struct YsParser YsParser;

/* Called once per complete message; the message and its strings live until
 * the callback returns.  Return false to stop parsing. */
typedef bool (*YsMessageFunc) (const YsMessage *msg, void *user);

/* max_payload: the largest payload accepted (0: YS_DEFAULT_MAX_PAYLOAD). */
YsParser *ys_parser_new (uint32_t max_payload);
void ys_parser_free (YsParser *parser);
/* A new limit for the messages after the one being received (the edge
 * server accepts only a small HELLO before the client is known). */
void ys_parser_set_max_payload (YsParser *parser, uint32_t max_payload);

/* Asked before memory is allocated for `bytes` (> 0): false refuses it;
 * told when memory is given back (bytes < 0, the answer ignored).  The
 * edge server charges its memory budget this way (edge_budget.c). */
typedef bool (*YsMemoryFunc) (int64_t bytes, void *user);

/* The parser asks before it grows its payload buffer (a refusal fails the
 * message: YS_PARSE_NO_MEMORY), gives a buffer over YS_PARSER_KEEP_BYTES
 * back once its message was handed on, and the rest at ys_parser_free(). */
#define YS_PARSER_KEEP_BYTES 65536
void ys_parser_set_memory_hook (YsParser *parser, YsMemoryFunc func,
    void *user);

/* Feeds bytes in any split.  After an error the parser stays failed: the
 * connection is to be closed.  On error *why (may be NULL) points to a
 * static sentence naming the problem. */
YsParseStatus ys_parser_feed (YsParser *parser, const uint8_t *data, size_t len,
    YsMessageFunc on_message, void *user, const char **why);

/* The input ends here (a WebSocket message ended): YS_PARSE_TRUNCATED if
 * a message is incomplete. */
YsParseStatus ys_parser_finish (YsParser *parser, const char **why);

/* One protocol message per unit of input (per WebSocket message, as
 * docs/PROTOCOL.md requires).  In this mode ys_parser_feed() holds a
 * complete message instead of handing it on, and a byte after it before
 * the unit ends is YS_PARSE_MALFORMED: several messages in one unit, or a
 * payload_len that understates the message, fail before anything acted on
 * the first part.  ys_parser_end_unit() then hands the held message on;
 * a unit that ends inside a message, or holds none, is an error there. */
void ys_parser_set_one_per_unit (YsParser *parser, bool one_per_unit);
YsParseStatus ys_parser_end_unit (YsParser *parser, YsMessageFunc on_message,
    void *user, const char **why);

/* The error code an ERROR message should carry for a parse failure. */
YsErrorCode ys_parse_error_code (YsParseStatus status);

const char *ys_msg_type_name (uint8_t type);
const char *ys_codec_name (uint8_t codec);
const char *ys_drop_reason_name (uint8_t reason);

#endif
