/*
 * AMQP 0-9-1 codec: frames, methods, content headers and field tables.
 *
 * Every method is described once, in methods.h (an X-macro table of class
 * id, method id, name, flags and typed fields); one interpreter in codec.c
 * decodes and encodes all of them.  Decoding never copies: strings and
 * tables in a decoded method point into the frame buffer and are valid until
 * that frame is consumed ("valid until frame done").  Field tables are kept
 * in wire form and validated on decode; read them with am_table_*.
 *
 * Table convention: a struct am_bytes holding a field table (or array) is
 * its entries WITHOUT the 4-byte length prefix; encoders write the prefix.
 * Method fields, basic.headers, am_value.v.bytes of 'F'/'A', am_table_* and
 * am_tb_finish all use it, so a built table goes straight into a method.
 *
 * Must not depend on: libevent, src/core, src/net.  Pure bytes in, bytes out.
 */
#ifndef TANDEM_AMQP_CODEC_H
#define TANDEM_AMQP_CODEC_H

#include <stddef.h>
#include <stdint.h>

/* Status codes (negative); mapped to AMQP reply codes by the front end. */
#define AM_OK 0
#define AM_AGAIN 0              /* am_frame_parse: incomplete, read more */
#define AM_ERR_FRAME (-1)       /* bad frame end, size over frame_max, bad type: 501 */
#define AM_ERR_SYNTAX (-2)      /* method/header payload malformed or truncated: 502 */
#define AM_ERR_UNKNOWN (-3)     /* unknown class or method id: 540 */
#define AM_ERR_NOSPACE (-4)     /* encode: output buffer too small */
#define AM_ERR_RANGE (-5)       /* encode: value does not fit its wire type (shortstr > 255) */

/* Nesting of tables/arrays accepted inside a decoded method or header. */
#define AM_TABLE_MAX_DEPTH 32

#define AM_FRAME_METHOD 1
#define AM_FRAME_HEADER 2
#define AM_FRAME_BODY 3
#define AM_FRAME_HEARTBEAT 8
#define AM_FRAME_END 0xCE
#define AM_FRAME_OVERHEAD 8     /* 7-byte header + frame-end octet */
#define AM_FRAME_MIN_SIZE 4096  /* spec: frame_min_size */

/* A borrowed byte range (shortstr, longstr, raw field table or array). */
struct am_bytes {
	const uint8_t *ptr;
	uint32_t len;
};

#define AM_ID(class_id, method_id) (((uint32_t)(class_id) << 16) | (uint32_t)(method_id))

#include "methods.h" /* generates enum am_method_id, struct am_<class>_<method> */

/* A decoded method: id selects the union member (e.g. u.queue_declare). */
struct am_method {
	uint32_t id;
	union am_method_args u;
};

/* One frame as parsed from the wire; payload points into the input buffer. */
struct am_frame {
	uint8_t type;
	uint16_t channel;
	uint32_t size;          /* payload size */
	const uint8_t *payload;
};

/*
 * Parses one frame from buf[0..avail).  Returns the frame's total length
 * (> 0) and fills f, AM_AGAIN (0) when more input is needed, AM_ERR_FRAME
 * when the frame is bigger than frame_max (total, as the spec counts it;
 * 0 means no limit), its type is not 1, 2, 3 or 8, or its end octet is not
 * 0xCE.  The size is checked from the 7-byte header alone, so an oversized
 * frame fails before its payload arrives.  Never reads past avail.
 */
long am_frame_parse(const uint8_t *buf, size_t avail, uint32_t frame_max,
		    struct am_frame *f);

/*
 * Decodes a method frame payload into m.  Returns AM_OK, AM_ERR_SYNTAX
 * (truncated, trailing garbage, invalid table or nested deeper than
 * AM_TABLE_MAX_DEPTH) or AM_ERR_UNKNOWN.  Unused bits of a bit octet are
 * ignored.  Strings and tables in m borrow from payload; m is unspecified
 * on error.  No allocation.
 */
int am_method_decode(const uint8_t *payload, size_t len, struct am_method *m);

/*
 * Encodes m as a complete method frame on `channel` into buf (header,
 * payload, frame-end).  Returns AM_OK and sets *out_len, AM_ERR_NOSPACE,
 * AM_ERR_RANGE (a shortstr over 255 bytes) or AM_ERR_UNKNOWN (bad m->id).
 * Tables are copied as given (not validated); bits are 1 when non-zero.
 */
int am_method_frame_encode(uint16_t channel, const struct am_method *m,
			   uint8_t *buf, size_t cap, size_t *out_len);

/* Method meta-data from the table. */
const char *am_method_name(uint32_t id);      /* "queue.declare"; NULL if unknown */
int am_method_has_content(uint32_t id);       /* basic.publish/deliver/return/get-ok */
int am_method_known(uint32_t id);

/* ---- content header (frame type 2) ------------------------------------ */

/* Property flag bits of class basic, as the spec numbers them. */
#define AM_P_CONTENT_TYPE 0x8000
#define AM_P_CONTENT_ENCODING 0x4000
#define AM_P_HEADERS 0x2000
#define AM_P_DELIVERY_MODE 0x1000
#define AM_P_PRIORITY 0x0800
#define AM_P_CORRELATION_ID 0x0400
#define AM_P_REPLY_TO 0x0200
#define AM_P_EXPIRATION 0x0100
#define AM_P_MESSAGE_ID 0x0080
#define AM_P_TIMESTAMP 0x0040
#define AM_P_TYPE 0x0020
#define AM_P_USER_ID 0x0010
#define AM_P_APP_ID 0x0008
#define AM_P_CLUSTER_ID 0x0004

/* The 14 basic properties; a field is meaningful when its flag is set. */
struct am_basic_props {
	uint16_t flags;
	struct am_bytes content_type, content_encoding;
	struct am_bytes headers; /* raw field table */
	uint8_t delivery_mode, priority;
	struct am_bytes correlation_id, reply_to, expiration, message_id;
	uint64_t timestamp;
	struct am_bytes type, user_id, app_id, cluster_id;
};

struct am_content_header {
	uint16_t class_id;
	uint16_t weight;
	uint64_t body_size;
	struct am_basic_props props; /* decoded, borrowing from the payload */
};

/*
 * Parses and validates a content header payload.  AM_OK or AM_ERR_SYNTAX.
 * Properties are read as class basic's (the only class with content); the
 * caller checks class_id.  props.flags keeps the 14 property bits only.  A
 * continuation flag word (bit 0x0001) is accepted but must announce no
 * property, since basic has no 15th; the reserved bit 0x0002 is ignored.
 * Trailing bytes after the last property are a syntax error.
 */
int am_content_header_decode(const uint8_t *payload, size_t len,
			     struct am_content_header *h);
/*
 * Encodes a content header payload (not the frame) for class basic, weight
 * 0, with the properties whose flag is set in p->flags.  AM_OK and
 * *out_len, AM_ERR_NOSPACE or AM_ERR_RANGE (a shortstr over 255 bytes).
 */
int am_content_header_encode(uint64_t body_size, const struct am_basic_props *p,
			     uint8_t *buf, size_t cap, size_t *out_len);

/* ---- field tables ----------------------------------------------------- */

/* A decoded field value; raw always holds the encoding after the type octet. */
struct am_value {
	uint8_t type;       /* 't','b','B','s','u','I','i','l','L','f','d','D','S','A','T','F','V','x' */
	union {
		int64_t i;      /* t b s I l (signed types, bool as 0/1) */
		uint64_t u;     /* B u i L T */
		float f;
		double d;
		struct { uint8_t scale; uint32_t value; } dec;
		struct am_bytes bytes; /* S x: the string; F A: the raw table/array */
	} v;
	struct am_bytes raw;
};

/*
 * Validates a raw table: every entry in bounds, every type one of the 17
 * above, nested tables/arrays at most max_depth levels deep (0: no nested
 * 'F' or 'A' at all).  AM_OK or AM_ERR_SYNTAX.
 */
int am_table_validate(struct am_bytes table, int max_depth);
/* Same for a raw array (field type 'A'). */
int am_array_validate(struct am_bytes array, int max_depth);

/*
 * Iterates a *validated* table or array (an unvalidated one is read safely
 * but iteration stops at the first malformed entry).
 */
struct am_table_iter {
	struct am_bytes rest;
	int is_array;
};
void am_table_iter_init(struct am_table_iter *it, struct am_bytes table);
void am_array_iter_init(struct am_table_iter *it, struct am_bytes array);
/* 1 and the next entry (key empty for arrays; key may be NULL), or 0 at the end. */
int am_table_next(struct am_table_iter *it, struct am_bytes *key, struct am_value *v);
/*
 * Decodes one value of field type `type` whose encoding (the bytes after
 * the type octet, as am_value.raw) is raw: AM_OK when raw holds exactly
 * one such value, else AM_ERR_SYNTAX.  Nested tables are not looked into.
 */
int am_value_decode(uint8_t type, struct am_bytes raw, struct am_value *v);
/* Looks key up in a validated table: 1 found (v filled), 0 absent. */
int am_table_get(struct am_bytes table, const char *key, struct am_value *v);
/* Number of entries of a validated table. */
size_t am_table_count(struct am_bytes table);
/* Any integer field value (b s I l B u i L) as int64: 0, or -1 for another
 * type or an unsigned value above INT64_MAX. */
int am_int_value(const struct am_value *v, int64_t *out);
/* RabbitMQ's name of a field type in its error texts ('I' -> "signedint",
 * 'S' -> "longstr"; "void" for 'V' and unknown types). */
const char *am_type_word(uint8_t type);

/*
 * Table builder: writes a table's wire form (with its 4-byte length) into a
 * caller buffer.  Errors are sticky: check am_tb_finish once at the end.
 * Inside an array (am_tb_array_begin) pass key NULL: elements have no key.
 * am_tb_raw writes val as the encoding after the type octet (am_value.raw).
 */
struct am_tb {
	uint8_t *buf;
	size_t cap, len;
	size_t stack[AM_TABLE_MAX_DEPTH]; /* offsets of open nested tables' length fields */
	int depth;
	int error;
};
void am_tb_init(struct am_tb *tb, uint8_t *buf, size_t cap);
void am_tb_str(struct am_tb *tb, const char *key, const char *s, size_t len); /* 'S' */
void am_tb_bool(struct am_tb *tb, const char *key, int b);                   /* 't' */
void am_tb_long(struct am_tb *tb, const char *key, int64_t v);               /* 'l' */
void am_tb_int(struct am_tb *tb, const char *key, int32_t v);                /* 'I' */
void am_tb_timestamp(struct am_tb *tb, const char *key, uint64_t v);         /* 'T' */
void am_tb_raw(struct am_tb *tb, const char *key, uint8_t type, const uint8_t *val, size_t len);
void am_tb_table_begin(struct am_tb *tb, const char *key);                  /* 'F' */
void am_tb_table_end(struct am_tb *tb);
void am_tb_array_begin(struct am_tb *tb, const char *key);                  /* 'A' */
void am_tb_array_end(struct am_tb *tb);
/*
 * AM_OK and the finished table in the convention above (out points just
 * past the length prefix written at buf[0..4)), AM_ERR_NOSPACE, or
 * AM_ERR_RANGE (key over 255 bytes, nesting over AM_TABLE_MAX_DEPTH,
 * unbalanced begin/end).
 */
int am_tb_finish(struct am_tb *tb, struct am_bytes *out);

/* ---- sender-selected distribution (ssd.c) -------------------------- */
/*
 * RabbitMQ's CC and BCC headers, on bytes only: the front ends (basic.publish,
 * dead-lettering, the HTTP API's publish) decide what to do with them.
 */
/* The CC and BCC headers of a message: the first of each in its headers. */
struct am_ssd {
	struct am_value cc, bcc;
	uint8_t has_cc, has_bcc;
	struct am_bytes bcc_entry; /* the whole BCC entry in the headers table */
};
/* Finds them in a validated headers table (s zeroed when neither is). */
void am_ssd_find(struct am_bytes headers, struct am_ssd *s);
/* "CC" or "BCC" (and *type) when one is not an array: RabbitMQ refuses
 * such a message (406 "invalid message: {unacceptable_type_in_header,
 * \"CC\",longstr}"); else NULL. */
const char *am_ssd_bad(const struct am_ssd *s, uint8_t *type);
/* The next longstr element of an array (others are skipped): 1, or 0 at
 * the end.  RabbitMQ's routing keys from a CC or BCC array. */
int am_ssd_next_key(struct am_table_iter *it, struct am_bytes *key);
/* Packs the keys of CC, then (with_bcc) of BCC, each as a 32-bit
 * big-endian length and its bytes (core/message.h's rkeys) into *out (malloc'd; NULL and *len 0 when there are
 * none).  0, or -1 out of memory. */
int am_ssd_pack(const struct am_ssd *s, int with_bcc, uint8_t **out, size_t *len);
/* Re-encodes content header h (header_len bytes on the wire, s found in
 * its headers, has_bcc set) without the BCC entry, other headers in their
 * order: 0 and *out (malloc'd, *out_len bytes), or -1 out of memory. */
int am_ssd_strip_bcc(const struct am_ssd *s, const struct am_content_header *h, size_t header_len,
		     uint8_t **out, size_t *out_len);

#endif
