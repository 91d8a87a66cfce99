/*
 * A small Kafka client codec for src/cluster (and its connection set-up,
 * kw_connect): the classic (non-flexible)
 * primitives a broker needs to ask another broker for Fetch,
 * OffsetForLeaderEpoch and ListOffsets, and the SASL PLAIN exchange that
 * opens a connection to another node's cluster port (kw_sasl_*).  Writers append big-endian values
 * to an evbuffer; the reader is a bounds-checked cursor over one complete
 * response frame (reading past its end sets bad and returns zeros, so a
 * parser checks once at the end).  It is the client side of what
 * src/kafka/decode.c is for the server; the front end's internals stay
 * out of src/cluster.
 *
 * Must not depend on: src/kafka, core.
 */
#ifndef TANDEM_CLUSTER_KWIRE_H
#define TANDEM_CLUSTER_KWIRE_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct event_base;
struct bufferevent;

/* A connection to host:port (a numeric host resolves at once; a name is
 * looked up blocking) whose input goes to read_cb and whose connect, EOF
 * and error events go to event_cb, both with arg (libevent's
 * bufferevent_data_cb and bufferevent_event_cb); NULL when it cannot even
 * be started.  The caller frees it. */
struct bufferevent *kw_connect(struct event_base *base, const char *host, int port,
			       void (*read_cb)(struct bufferevent *, void *),
			       void (*event_cb)(struct bufferevent *, short, void *), void *arg);

void kw_put_i8(struct evbuffer *b, int8_t v);
void kw_put_i16(struct evbuffer *b, int16_t v);
void kw_put_i32(struct evbuffer *b, int32_t v);
void kw_put_i64(struct evbuffer *b, int64_t v);
/* A classic string (int16 length); NULL writes null. */
void kw_put_str(struct evbuffer *b, const char *s);
/* Starts a request: reserves the int32 size and writes header v1 (api_key,
 * api_version, correlation_id, client_id).  Returns the offset of the size
 * field for kw_request_end. */
size_t kw_request_begin(struct evbuffer *b, int16_t api_key, int16_t api_version,
			int32_t correlation_id, const char *client_id);
/* Patches the size of the request started at off (b holds nothing else
 * after it).  0, or -1 when b cannot be patched. */
int kw_request_end(struct evbuffer *b, size_t off);

/* The next response frame in `in` (a connection's input): 1 with
 * *frame and *len (the frame without its size field; valid until `in` is
 * drained), 0 when it has not all arrived, -1 when its size is below 4 or
 * above max (a broken peer).  The caller drains *len + 4 bytes once done. */
int kw_frame_next(struct evbuffer *in, size_t max, const uint8_t **frame, size_t *len);

/*
 * The SASL PLAIN exchange of a cluster-port connection (the cluster link's
 * and the replica fetchers'): SaslHandshake v1 "PLAIN", then on its
 * answer SaslAuthenticate v0 with RFC 4616's [authzid] NUL authcid NUL
 * passwd.  Nothing else may be sent before the second answer.
 */
enum { KW_SASL_HANDSHAKE = 17, KW_SASL_AUTHENTICATE = 36 };
/* Appends the whole request of step api (KW_SASL_HANDSHAKE or
 * KW_SASL_AUTHENTICATE; user and secret[0..secret_len) serve the second)
 * to b: 0, or -1 when it cannot be written. */
int kw_sasl_request(struct evbuffer *b, int16_t api, int32_t correlation_id,
		    const char *client_id, const char *user, const char *secret,
		    size_t secret_len);
struct kw_cur;
/* Reads the answer to step api (c just past its correlation id): 1 when
 * the next step (KW_SASL_AUTHENTICATE) is to be sent, 0 when the
 * connection is authenticated, -1 with *why (static text) when the peer
 * refused or the answer does not parse. */
int kw_sasl_answer(struct kw_cur *c, int16_t api, const char **why);

struct kw_cur {
	const uint8_t *p, *end;
	int bad;
};
void kw_cur_init(struct kw_cur *c, const void *p, size_t len);
int8_t kw_get_i8(struct kw_cur *c);
int16_t kw_get_i16(struct kw_cur *c);
int32_t kw_get_i32(struct kw_cur *c);
int64_t kw_get_i64(struct kw_cur *c);
/* A classic string: *p (not NUL-terminated) and its length, -1 for null. */
int32_t kw_get_str(struct kw_cur *c, const char **p);
/* Classic bytes: *p and the length, -1 for null. */
int32_t kw_get_bytes(struct kw_cur *c, const uint8_t **p);
/* An array count: -1 for null, and a count that cannot fit in what is left
 * (min_elem bytes each) marks the cursor bad. */
int32_t kw_get_array(struct kw_cur *c, size_t min_elem);

#endif
