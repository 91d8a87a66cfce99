/*
 * AMQP values as the management API shows and takes them: field tables
 * (queue and exchange arguments, binding arguments, message headers) to and
 * from JSON, and a message's content header (class 60 properties) to and
 * from RabbitMQ's "properties" object.  Messages in the core keep their
 * content header in wire form; the wire side is the shared AMQP codec
 * library (src/amqp/codec.h, linked by both front ends, no broker state):
 * this is only its mapping to and from JSON.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#ifndef TANDEM_HTTP_AMQPVAL_H
#define TANDEM_HTTP_AMQPVAL_H

#include <stddef.h>
#include <stdint.h>

#include "exchange/exchange.h"
#include "util/json.h"

/* Writes the field table t (len bytes, without its length prefix) as a JSON
 * object; a malformed table is written as far as it is valid. */
void hv_table_to_json(struct js_w *w, const uint8_t *t, size_t len);
/*
 * Encodes JSON object node obj as a field table into out (as raw bytes,
 * without length prefix), as RabbitMQ's management plugin does: strings
 * 'S', integers 'l', other numbers 'd', booleans 't', null 'V', arrays 'A',
 * objects 'F'.  0, or -1 with a reason in err.
 */
int hv_table_from_json(const struct js_doc *d, int obj, struct js_w *out, char *err, size_t errlen);
/* Writes neutral headers (binding arguments) as a JSON object. */
void hv_hdrs_to_json(struct js_w *w, const struct ex_hdr *h, size_t n);
/* Splits a field table into neutral headers (for routing); returns the
 * number filled (at most max), or -1 when the table is malformed. */
int hv_table_to_hdrs(const uint8_t *t, size_t len, struct ex_hdr *h, size_t max);

/* Message properties decoded from / encoded into a content header. */
struct hv_props_out {
	int persistent;
	int priority;      /* -1 = not set */
	int64_t ttl_ms;    /* expiration, -1 = none */
	const uint8_t *headers; size_t headers_len; /* inside the encoded header */
	int has_headers;
	const char *user_id; size_t user_id_len;    /* inside the encoded header; NULL = unset */
};
/* Builds a content header for a body of body_len bytes from JSON object
 * `props` (may be -1: no properties) into out.  0, or -1 with err. */
int hv_header_from_json(const struct js_doc *d, int props, uint64_t body_len, struct js_w *out,
			struct hv_props_out *info, char *err, size_t errlen);
/* Writes the properties of a content header as a JSON object. */
void hv_header_to_json(struct js_w *w, const uint8_t *h, size_t len);

/* base64 (src/util/b64.h) of p[0..n) appended to w as a JSON-safe run of
 * characters (no quotes). */
void hv_b64_encode(struct js_w *w, const uint8_t *p, size_t n);

#endif
