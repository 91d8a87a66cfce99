/*
 * libFuzzer target for the AMQP 0-9-1 codec.  The input is read four ways:
 * as a stream of frames (am_frame_parse, then each method or content header
 * decoded), and directly as a method payload, a content header payload and
 * a field table, so the fuzzer reaches the decoders without first having to
 * learn frame lengths.  Every table found is walked to the bottom; every
 * decoded method and header is re-encoded and decoded again, and must come
 * back equal.  A broken invariant aborts.  tests/fuzz/replay.c runs the same
 * function over the committed corpus in `make check`.
 *
 * Depends on: src/amqp/codec.h only.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "amqp/codec.h"



static uint8_t enc_buf[1 << 17];

static int bytes_eq(struct am_bytes a, struct am_bytes b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

static int within(struct am_bytes inner, struct am_bytes outer)
{
	return inner.ptr >= outer.ptr && inner.len <= outer.len &&
	       (size_t)(inner.ptr - outer.ptr) <= outer.len - inner.len;
}

/* Walks a validated table or array, nested ones included. */
static void walk(struct am_bytes t, int is_array, int depth)
{
	struct am_table_iter it;
	struct am_bytes key;
	struct am_value v;
	size_t n = 0;

	CHECK(depth <= AM_TABLE_MAX_DEPTH);
	if (is_array)
		am_array_iter_init(&it, t);
	else
		am_table_iter_init(&it, t);
	while (am_table_next(&it, &key, &v)) {
		CHECK(within(v.raw, t));
		if (is_array) {
			CHECK(key.len == 0);
		} else {
			struct am_value first;

			CHECK(within(key, t));
			/* a key without NUL can be looked up; it finds itself or an earlier twin */
			if (n < 16 && key.len < 64 && !memchr(key.ptr, 0, key.len)) {
				char k[64];

				memcpy(k, key.ptr, key.len);
				k[key.len] = 0;
				CHECK(am_table_get(t, k, &first) == 1);
				CHECK(first.raw.ptr <= v.raw.ptr);
			}
		}
		if (v.type == 'F' || v.type == 'A' || v.type == 'S' || v.type == 'x')
			CHECK(within(v.v.bytes, v.raw));
		if (v.type == 'F' || v.type == 'A') {
			CHECK(depth < AM_TABLE_MAX_DEPTH);
			CHECK((v.type == 'F' ? am_table_validate : am_array_validate)(
				      v.v.bytes, AM_TABLE_MAX_DEPTH - depth - 1) == AM_OK);
			walk(v.v.bytes, v.type == 'A', depth + 1);
		}
		n++;
	}
	CHECK(it.rest.len == 0);
	if (!is_array)
		CHECK(am_table_count(t) == n);
}

/* Field-wise equality and table walking, generated from the method table. */
#define EQ_BIT(a, b) ((a) == (b))
#define EQ_OCTET(a, b) ((a) == (b))
#define EQ_SHORT(a, b) ((a) == (b))
#define EQ_LONG(a, b) ((a) == (b))
#define EQ_LONGLONG(a, b) ((a) == (b))
#define EQ_SHORTSTR(a, b) bytes_eq(a, b)
#define EQ_LONGSTR(a, b) bytes_eq(a, b)
#define EQ_TABLE(a, b) bytes_eq(a, b)
#define EQ_NONE(a, b) 1
#define GEN_EQ_FIELD(S, T, n) &&EQ_##T(a->u.S.n, b->u.S.n)
#define GEN_EQ(cid, mid, UP, lo, name, flags, ...) \
	case AM_##UP:                              \
		return 1 AM_EACH(GEN_EQ_FIELD, lo, __VA_ARGS__);

static int method_eq(const struct am_method *a, const struct am_method *b)
{
	if (a->id != b->id)
		return 0;
	switch (a->id) {
		AM_METHOD_TABLE(GEN_EQ)
	}
	return 0;
}

#define WALK_TABLE(x) walk(x, 0, 0);
#define WALK_BIT(x)
#define WALK_OCTET(x)
#define WALK_SHORT(x)
#define WALK_LONG(x)
#define WALK_LONGLONG(x)
#define WALK_SHORTSTR(x) CHECK((x).len <= 255);
#define WALK_LONGSTR(x)
#define WALK_NONE(x)
#define GEN_WALK_FIELD(S, T, n) WALK_##T(m->u.S.n)
#define GEN_WALK(cid, mid, UP, lo, name, flags, ...) \
	case AM_##UP:                                \
		AM_EACH(GEN_WALK_FIELD, lo, __VA_ARGS__) \
		return;

static void method_walk(const struct am_method *m)
{
	switch (m->id) {
		AM_METHOD_TABLE(GEN_WALK)
	}
	abort(); /* decoded but not in the table */
}

static void check_method(const uint8_t *p, size_t len)
{
	struct am_method m, again;
	struct am_frame f;
	size_t out;
	int rc;

	rc = am_method_decode(p, len, &m);
	if (len >= 4 && !am_method_known(AM_ID(p[0] << 8 | p[1], p[2] << 8 | p[3])))
		CHECK(rc == AM_ERR_UNKNOWN);
	else
		CHECK(rc == AM_OK || rc == AM_ERR_SYNTAX);
	if (rc != AM_OK)
		return;
	CHECK(am_method_name(m.id) != NULL);
	method_walk(&m);
	if (len + AM_FRAME_OVERHEAD > sizeof(enc_buf))
		return;
	/* Re-encoding takes exactly as many bytes: every byte read was a field. */
	CHECK(am_method_frame_encode(1, &m, enc_buf, sizeof(enc_buf), &out) == AM_OK);
	CHECK(out == len + AM_FRAME_OVERHEAD);
	CHECK(am_frame_parse(enc_buf, out, 0, &f) == (long)out);
	CHECK(f.type == AM_FRAME_METHOD && f.channel == 1 && f.size == len);
	CHECK(am_method_frame_encode(1, &m, enc_buf, out - 1, &out) == AM_ERR_NOSPACE);
	CHECK(am_method_decode(f.payload, f.size, &again) == AM_OK);
	CHECK(method_eq(&m, &again));
}

static int props_eq(const struct am_basic_props *a, const struct am_basic_props *b)
{
	return a->flags == b->flags && bytes_eq(a->content_type, b->content_type) &&
	       bytes_eq(a->content_encoding, b->content_encoding) && bytes_eq(a->headers, b->headers) &&
	       a->delivery_mode == b->delivery_mode && a->priority == b->priority &&
	       bytes_eq(a->correlation_id, b->correlation_id) && bytes_eq(a->reply_to, b->reply_to) &&
	       bytes_eq(a->expiration, b->expiration) && bytes_eq(a->message_id, b->message_id) &&
	       a->timestamp == b->timestamp && bytes_eq(a->type, b->type) &&
	       bytes_eq(a->user_id, b->user_id) && bytes_eq(a->app_id, b->app_id) &&
	       bytes_eq(a->cluster_id, b->cluster_id);
}

static void check_header(const uint8_t *p, size_t len)
{
	struct am_content_header h, again;
	size_t out;
	int rc;

	rc = am_content_header_decode(p, len, &h);
	CHECK(rc == AM_OK || rc == AM_ERR_SYNTAX);
	if (rc != AM_OK)
		return;
	CHECK((h.props.flags & 0x0003) == 0);
	if (h.props.flags & AM_P_HEADERS)
		walk(h.props.headers, 0, 0);
	if (len > sizeof(enc_buf))
		return;
	/* Continuation words are dropped on re-encoding: never longer. */
	CHECK(am_content_header_encode(h.body_size, &h.props, enc_buf, sizeof(enc_buf), &out) == AM_OK);
	CHECK(out <= len);
	CHECK(am_content_header_decode(enc_buf, out, &again) == AM_OK);
	CHECK(again.class_id == 60 && again.weight == 0 && again.body_size == h.body_size);
	CHECK(props_eq(&h.props, &again.props));
}

static void check_table(const uint8_t *p, size_t len)
{
	struct am_bytes t;
	int depth, rc;

	if (len < 1 || len - 1 > UINT32_MAX)
		return;
	depth = p[0] % (AM_TABLE_MAX_DEPTH + 2);
	t.ptr = p + 1;
	t.len = (uint32_t)(len - 1);
	rc = am_table_validate(t, depth);
	CHECK(rc == AM_OK || rc == AM_ERR_SYNTAX);
	if (rc == AM_OK) {
		CHECK(am_table_validate(t, depth + 1) == AM_OK); /* a looser limit never refuses more */
		if (depth <= AM_TABLE_MAX_DEPTH)
			walk(t, 0, AM_TABLE_MAX_DEPTH - depth);
	} else {
		/* unvalidated iteration still stays in bounds */
		struct am_table_iter it;
		struct am_bytes key;
		struct am_value v;

		am_table_iter_init(&it, t);
		while (am_table_next(&it, &key, &v))
			CHECK(within(v.raw, t));
	}
	rc = am_array_validate(t, depth);
	CHECK(rc == AM_OK || rc == AM_ERR_SYNTAX);
	if (rc == AM_OK && depth <= AM_TABLE_MAX_DEPTH)
		walk(t, 1, AM_TABLE_MAX_DEPTH - depth);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	/* 1. a stream of frames, as a connection reads them */
	while (off < size) {
		struct am_frame f;
		long n = am_frame_parse(data + off, size - off, 131072, &f);

		CHECK(n >= 0 || n == AM_ERR_FRAME);
		if (n <= 0)
			break;
		CHECK((size_t)n <= size - off && (size_t)n == f.size + AM_FRAME_OVERHEAD);
		CHECK(f.payload == data + off + 7);
		if (f.type == AM_FRAME_METHOD)
			check_method(f.payload, f.size);
		else if (f.type == AM_FRAME_HEADER)
			check_header(f.payload, f.size);
		off += (size_t)n;
	}
	/* 2-4. the whole input as one payload of each kind */
	check_method(data, size);
	check_header(data, size);
	check_table(data, size);
	return 0;
}
