/*
 * The small Kafka client codec of src/cluster (see kwire.h).
 *
 * Must not depend on: src/kafka, core.
 */
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <sys/socket.h>

#include "cluster/kwire.h"

struct bufferevent *kw_connect(struct event_base *base, const char *host, int port,
			       void (*read_cb)(struct bufferevent *, void *),
			       void (*event_cb)(struct bufferevent *, short, void *), void *arg)
{
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);

	if (!bev)
		return NULL;
	bufferevent_setcb(bev, read_cb, NULL, event_cb, arg);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect_hostname(bev, NULL, AF_UNSPEC, host, port) < 0) {
		bufferevent_free(bev);
		return NULL;
	}
	return bev;
}

int kw_frame_next(struct evbuffer *in, size_t max, const uint8_t **frame, size_t *len)
{
	uint8_t h[4];
	uint32_t size;
	const uint8_t *p;

	if (evbuffer_copyout(in, h, 4) < 4)
		return 0;
	size = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	if (size < 4 || size > max)
		return -1;
	if (evbuffer_get_length(in) < (size_t)size + 4)
		return 0;
	p = evbuffer_pullup(in, (ev_ssize_t)size + 4);
	if (!p)
		return -1;
	*frame = p + 4;
	*len = size;
	return 1;
}

void kw_put_i8(struct evbuffer *b, int8_t v)
{
	evbuffer_add(b, &v, 1);
}

void kw_put_i16(struct evbuffer *b, int16_t v)
{
	uint8_t x[2] = { (uint8_t)((uint16_t)v >> 8), (uint8_t)v };

	evbuffer_add(b, x, 2);
}

void kw_put_i32(struct evbuffer *b, int32_t v)
{
	uint32_t u = (uint32_t)v;
	uint8_t x[4] = { (uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u };

	evbuffer_add(b, x, 4);
}

void kw_put_i64(struct evbuffer *b, int64_t v)
{
	uint64_t u = (uint64_t)v;
	uint8_t x[8];

	for (int i = 7; i >= 0; i--, u >>= 8)
		x[i] = (uint8_t)u;
	evbuffer_add(b, x, 8);
}

void kw_put_str(struct evbuffer *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (!s || n > INT16_MAX) {
		kw_put_i16(b, -1);
		return;
	}
	kw_put_i16(b, (int16_t)n);
	evbuffer_add(b, s, n);
}

size_t kw_request_begin(struct evbuffer *b, int16_t api_key, int16_t api_version,
			int32_t correlation_id, const char *client_id)
{
	size_t off = evbuffer_get_length(b);

	kw_put_i32(b, 0);
	kw_put_i16(b, api_key);
	kw_put_i16(b, api_version);
	kw_put_i32(b, correlation_id);
	kw_put_str(b, client_id);
	return off;
}

int kw_request_end(struct evbuffer *b, size_t off)
{
	size_t len = evbuffer_get_length(b);
	uint8_t *p;
	uint32_t size;

	if (len < off + 4 || len - off - 4 > INT32_MAX)
		return -1;
	p = evbuffer_pullup(b, -1);
	if (!p)
		return -1;
	size = (uint32_t)(len - off - 4);
	p[off] = (uint8_t)(size >> 24);
	p[off + 1] = (uint8_t)(size >> 16);
	p[off + 2] = (uint8_t)(size >> 8);
	p[off + 3] = (uint8_t)size;
	return 0;
}

int kw_sasl_request(struct evbuffer *b, int16_t api, int32_t correlation_id,
		    const char *client_id, const char *user, const char *secret,
		    size_t secret_len)
{
	size_t off, ulen = strlen(user);

	if (api == KW_SASL_HANDSHAKE) {
		off = kw_request_begin(b, api, 1, correlation_id, client_id);
		kw_put_str(b, "PLAIN");
		return kw_request_end(b, off);
	}
	if (secret_len > INT32_MAX - 2 - ulen)
		return -1;
	off = kw_request_begin(b, KW_SASL_AUTHENTICATE, 0, correlation_id, client_id);
	/* RFC 4616: [authzid] NUL authcid NUL passwd */
	kw_put_i32(b, (int32_t)(2 + ulen + secret_len));
	if (evbuffer_add(b, "", 1) < 0 || evbuffer_add(b, user, ulen) < 0 ||
	    evbuffer_add(b, "", 1) < 0 || evbuffer_add(b, secret, secret_len) < 0)
		return -1;
	return kw_request_end(b, off);
}

int kw_sasl_answer(struct kw_cur *c, int16_t api, const char **why)
{
	int16_t err = kw_get_i16(c);

	if (c->bad) {
		*why = "a SASL answer did not parse";
		return -1;
	}
	if (api == KW_SASL_HANDSHAKE) {
		if (err != 0) {
			*why = "the peer does not offer SASL PLAIN on its cluster port";
			return -1;
		}
		return 1;
	}
	if (err != 0) {
		*why = "the peer refused the cluster secret (is cluster_secret_file the same on "
		       "every node?)";
		return -1;
	}
	return 0;
}

void kw_cur_init(struct kw_cur *c, const void *p, size_t len)
{
	c->p = p;
	c->end = c->p + len;
	c->bad = 0;
}

/* n bytes at the cursor, or NULL (cursor marked bad). */
static const uint8_t *take(struct kw_cur *c, size_t n)
{
	const uint8_t *p = c->p;

	if (c->bad || (size_t)(c->end - c->p) < n) {
		c->bad = 1;
		c->p = c->end;
		return NULL;
	}
	c->p += n;
	return p;
}

int8_t kw_get_i8(struct kw_cur *c)
{
	const uint8_t *p = take(c, 1);

	return p ? (int8_t)p[0] : 0;
}

int16_t kw_get_i16(struct kw_cur *c)
{
	const uint8_t *p = take(c, 2);

	return p ? (int16_t)((uint16_t)p[0] << 8 | p[1]) : 0;
}

int32_t kw_get_i32(struct kw_cur *c)
{
	const uint8_t *p = take(c, 4);

	return p ? (int32_t)((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
			     p[3])
		 : 0;
}

int64_t kw_get_i64(struct kw_cur *c)
{
	const uint8_t *p = take(c, 8);
	uint64_t v = 0;

	if (!p)
		return 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return (int64_t)v;
}

int32_t kw_get_str(struct kw_cur *c, const char **out)
{
	int16_t n = kw_get_i16(c);

	*out = NULL;
	if (n < 0)
		return c->bad || n != -1 ? (c->bad = 1, 0) : -1;
	*out = (const char *)take(c, (size_t)n);
	return *out ? n : 0;
}

int32_t kw_get_bytes(struct kw_cur *c, const uint8_t **out)
{
	int32_t n = kw_get_i32(c);

	*out = NULL;
	if (n < 0)
		return c->bad || n != -1 ? (c->bad = 1, 0) : -1;
	*out = take(c, (size_t)n);
	return *out ? n : 0;
}

int32_t kw_get_array(struct kw_cur *c, size_t min_elem)
{
	int32_t n = kw_get_i32(c);

	if (c->bad)
		return 0;
	if (n < 0) {
		if (n != -1)
			c->bad = 1;
		return n == -1 ? -1 : 0;
	}
	if (min_elem && (size_t)n > (size_t)(c->end - c->p) / min_elem) {
		c->bad = 1;
		return 0;
	}
	return n;
}
