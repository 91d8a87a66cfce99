/* Integration tests: message content. All 14 basic properties and a
 * headers table with every field type round-trip unchanged (decoded by
 * rabbitmq-c, and byte for byte on a raw socket); bodies of many sizes
 * split across frames of the negotiated size; the maximum message size;
 * property checks the broker makes (user_id). */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- building and comparing field values ------------------------------------ */

static amqp_field_value_t fv_kind(uint8_t kind)
{
	amqp_field_value_t v;
	memset(&v, 0, sizeof(v));
	v.kind = kind;
	return v;
}

static amqp_table_entry_t entry(const char *key, amqp_field_value_t v)
{
	amqp_table_entry_t e;
	e.key = amqp_cstring_bytes(key);
	e.value = v;
	return e;
}

static int value_eq(const amqp_field_value_t *a, const amqp_field_value_t *b);

static int table_eq(const amqp_table_t *a, const amqp_table_t *b)
{
	if (a->num_entries != b->num_entries)
		return 0;
	for (int i = 0; i < a->num_entries; i++) {
		const amqp_table_entry_t *x = &a->entries[i], *y = &b->entries[i];
		if (x->key.len != y->key.len || memcmp(x->key.bytes, y->key.bytes, x->key.len) != 0)
			return 0;
		if (!value_eq(&x->value, &y->value))
			return 0;
	}
	return 1;
}

static int value_eq(const amqp_field_value_t *a, const amqp_field_value_t *b)
{
	if (a->kind != b->kind)
		return 0;
	switch (a->kind) {
	case AMQP_FIELD_KIND_BOOLEAN:
		return !a->value.boolean == !b->value.boolean;
	case AMQP_FIELD_KIND_I8:
		return a->value.i8 == b->value.i8;
	case AMQP_FIELD_KIND_U8:
		return a->value.u8 == b->value.u8;
	case AMQP_FIELD_KIND_I16:
		return a->value.i16 == b->value.i16;
	case AMQP_FIELD_KIND_U16:
		return a->value.u16 == b->value.u16;
	case AMQP_FIELD_KIND_I32:
		return a->value.i32 == b->value.i32;
	case AMQP_FIELD_KIND_U32:
		return a->value.u32 == b->value.u32;
	case AMQP_FIELD_KIND_I64:
		return a->value.i64 == b->value.i64;
	case AMQP_FIELD_KIND_U64:
	case AMQP_FIELD_KIND_TIMESTAMP:
		return a->value.u64 == b->value.u64;
	case AMQP_FIELD_KIND_F32:
		return memcmp(&a->value.f32, &b->value.f32, sizeof(float)) == 0;
	case AMQP_FIELD_KIND_F64:
		return memcmp(&a->value.f64, &b->value.f64, sizeof(double)) == 0;
	case AMQP_FIELD_KIND_DECIMAL:
		return a->value.decimal.decimals == b->value.decimal.decimals &&
		       a->value.decimal.value == b->value.decimal.value;
	case AMQP_FIELD_KIND_UTF8:
	case AMQP_FIELD_KIND_BYTES:
		return a->value.bytes.len == b->value.bytes.len &&
		       (a->value.bytes.len == 0 || memcmp(a->value.bytes.bytes, b->value.bytes.bytes, a->value.bytes.len) == 0);
	case AMQP_FIELD_KIND_ARRAY:
		if (a->value.array.num_entries != b->value.array.num_entries)
			return 0;
		for (int i = 0; i < a->value.array.num_entries; i++)
			if (!value_eq(&a->value.array.entries[i], &b->value.array.entries[i]))
				return 0;
		return 1;
	case AMQP_FIELD_KIND_TABLE:
		return table_eq(&a->value.table, &b->value.table);
	case AMQP_FIELD_KIND_VOID:
		return 1;
	default:
		return 0;
	}
}

/* A headers table with every field type RabbitMQ 3.10 knows, including
 * 'L' (unsigned 64-bit), which it also routes on in headers exchanges. */
static amqp_table_entry_t nested_entries[3];
static amqp_field_value_t array_values[6];
static amqp_table_entry_t all_entries[20];
static const uint8_t some_bytes[] = {0, 1, 2, 0xfe, 0xff, 'x'};

static amqp_table_t all_types_table(void)
{
	int n = 0;
	amqp_field_value_t v;

	nested_entries[0] = entry("inner-str", (v = fv_kind(AMQP_FIELD_KIND_UTF8), v.value.bytes = amqp_cstring_bytes("deep"), v));
	nested_entries[1] = entry("inner-int", (v = fv_kind(AMQP_FIELD_KIND_I32), v.value.i32 = -7, v));
	nested_entries[2] = entry("inner-void", fv_kind(AMQP_FIELD_KIND_VOID));
	amqp_table_t nested = {.num_entries = 3, .entries = nested_entries};

	array_values[0] = (v = fv_kind(AMQP_FIELD_KIND_I32), v.value.i32 = 1, v);
	array_values[1] = (v = fv_kind(AMQP_FIELD_KIND_UTF8), v.value.bytes = amqp_cstring_bytes("two"), v);
	array_values[2] = (v = fv_kind(AMQP_FIELD_KIND_BOOLEAN), v.value.boolean = 1, v);
	array_values[3] = (v = fv_kind(AMQP_FIELD_KIND_TABLE), v.value.table = nested, v);
	array_values[4] = (v = fv_kind(AMQP_FIELD_KIND_ARRAY), v.value.array.num_entries = 0, v.value.array.entries = NULL, v);
	array_values[5] = (v = fv_kind(AMQP_FIELD_KIND_F64), v.value.f64 = -0.25, v);

	all_entries[n++] = entry("bool-true", (v = fv_kind(AMQP_FIELD_KIND_BOOLEAN), v.value.boolean = 1, v));
	all_entries[n++] = entry("bool-false", (v = fv_kind(AMQP_FIELD_KIND_BOOLEAN), v.value.boolean = 0, v));
	all_entries[n++] = entry("i8", (v = fv_kind(AMQP_FIELD_KIND_I8), v.value.i8 = -100, v));
	all_entries[n++] = entry("u8", (v = fv_kind(AMQP_FIELD_KIND_U8), v.value.u8 = 250, v));
	all_entries[n++] = entry("i16", (v = fv_kind(AMQP_FIELD_KIND_I16), v.value.i16 = -30000, v));
	all_entries[n++] = entry("u16", (v = fv_kind(AMQP_FIELD_KIND_U16), v.value.u16 = 60000, v));
	all_entries[n++] = entry("i32", (v = fv_kind(AMQP_FIELD_KIND_I32), v.value.i32 = -2000000000, v));
	all_entries[n++] = entry("u32", (v = fv_kind(AMQP_FIELD_KIND_U32), v.value.u32 = 4000000000u, v));
	all_entries[n++] = entry("i64", (v = fv_kind(AMQP_FIELD_KIND_I64), v.value.i64 = -9000000000000000000LL, v));
	all_entries[n++] = entry("u64", (v = fv_kind(AMQP_FIELD_KIND_U64), v.value.u64 = 18446744073709551615u, v));
	all_entries[n++] = entry("f32", (v = fv_kind(AMQP_FIELD_KIND_F32), v.value.f32 = 1.5f, v));
	all_entries[n++] = entry("f64", (v = fv_kind(AMQP_FIELD_KIND_F64), v.value.f64 = 3.141592653589793, v));
	all_entries[n++] = entry("decimal", (v = fv_kind(AMQP_FIELD_KIND_DECIMAL), v.value.decimal.decimals = 2,
					     v.value.decimal.value = 12345, v));
	all_entries[n++] = entry("string", (v = fv_kind(AMQP_FIELD_KIND_UTF8), v.value.bytes = amqp_cstring_bytes("h\xc3\xa9llo"), v));
	all_entries[n++] = entry("empty-string", (v = fv_kind(AMQP_FIELD_KIND_UTF8), v.value.bytes = amqp_empty_bytes, v));
	all_entries[n++] = entry("bytes", (v = fv_kind(AMQP_FIELD_KIND_BYTES),
					   v.value.bytes = (amqp_bytes_t){.len = sizeof(some_bytes), .bytes = (void *)some_bytes}, v));
	all_entries[n++] = entry("timestamp", (v = fv_kind(AMQP_FIELD_KIND_TIMESTAMP), v.value.u64 = 1700000000u, v));
	all_entries[n++] = entry("table", (v = fv_kind(AMQP_FIELD_KIND_TABLE), v.value.table = nested, v));
	all_entries[n++] = entry("array", (v = fv_kind(AMQP_FIELD_KIND_ARRAY), v.value.array.num_entries = 6,
					   v.value.array.entries = array_values, v));
	all_entries[n++] = entry("void", fv_kind(AMQP_FIELD_KIND_VOID));
	return (amqp_table_t){.num_entries = n, .entries = all_entries};
}

static amqp_basic_properties_t all_properties(amqp_table_t headers)
{
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG | AMQP_BASIC_HEADERS_FLAG |
		   AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_PRIORITY_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG |
		   AMQP_BASIC_REPLY_TO_FLAG | AMQP_BASIC_EXPIRATION_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG |
		   AMQP_BASIC_TIMESTAMP_FLAG | AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_USER_ID_FLAG | AMQP_BASIC_APP_ID_FLAG |
		   AMQP_BASIC_CLUSTER_ID_FLAG;
	p.content_type = amqp_cstring_bytes("application/json");
	p.content_encoding = amqp_cstring_bytes("gzip");
	p.headers = headers;
	p.delivery_mode = 2;
	p.priority = 7;
	p.correlation_id = amqp_cstring_bytes("corr-\x01\xff");
	p.reply_to = amqp_cstring_bytes("amq.rabbitmq.reply-to-ish");
	p.expiration = amqp_cstring_bytes("3600000");
	p.message_id = amqp_cstring_bytes("msg-0001");
	p.timestamp = 1700000123u;
	p.type = amqp_cstring_bytes("order.created");
	p.user_id = amqp_cstring_bytes("guest"); /* must be the authenticated user */
	p.app_id = amqp_cstring_bytes("tandem-tests");
	p.cluster_id = amqp_cstring_bytes("cluster-x");
	return p;
}

static void assert_properties_eq(const amqp_basic_properties_t *a, const amqp_basic_properties_t *b)
{
	ck_assert_uint_eq(a->_flags, b->_flags);
#define BYTES_EQ(f) ck_assert_msg(a->f.len == b->f.len && memcmp(a->f.bytes, b->f.bytes, a->f.len) == 0, #f " differs")
	BYTES_EQ(content_type);
	BYTES_EQ(content_encoding);
	BYTES_EQ(correlation_id);
	BYTES_EQ(reply_to);
	BYTES_EQ(expiration);
	BYTES_EQ(message_id);
	BYTES_EQ(type);
	BYTES_EQ(user_id);
	BYTES_EQ(app_id);
	BYTES_EQ(cluster_id);
#undef BYTES_EQ
	ck_assert_uint_eq(a->delivery_mode, b->delivery_mode);
	ck_assert_uint_eq(a->priority, b->priority);
	ck_assert_uint_eq(a->timestamp, b->timestamp);
	ck_assert_int_eq(a->headers.num_entries, b->headers.num_entries);
	for (int i = 0; i < a->headers.num_entries; i++)
		ck_assert_msg(value_eq(&a->headers.entries[i].value, &b->headers.entries[i].value) &&
				      a->headers.entries[i].key.len == b->headers.entries[i].key.len &&
				      memcmp(a->headers.entries[i].key.bytes, b->headers.entries[i].key.bytes,
					     a->headers.entries[i].key.len) == 0,
			      "header %d (%.*s) differs", i, (int)a->headers.entries[i].key.len,
			      (const char *)a->headers.entries[i].key.bytes);
}

/* ---- properties ---------------------------------------------------------------- */

START_TEST(all_properties_round_trip_get)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "props"), 0, 1, 0, NULL, 0);
	amqp_basic_properties_t p = all_properties(all_types_table());
	th_publish_props(c, 1, "", q, 0, &p, amqp_cstring_bytes("with everything"));
	amqp_message_t m;
	ck_assert_int_eq(th_get_wait(c, 1, q, 1, &m, NULL, NULL, NULL, 5000), 1);
	assert_properties_eq(&p, &m.properties);
	ck_assert(th_bytes_eq(m.body, "with everything"));
	amqp_destroy_message(&m);
	th_close(c);
}
END_TEST

START_TEST(all_properties_round_trip_consume_fanout)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128], q1[128], q2[128];
	th_exchange(c, 1, th_name(x, sizeof(x), "props-x"), "fanout");
	th_queue(c, 1, th_name(q1, sizeof(q1), "props1"), 0, 1, 0, NULL, 0);
	th_queue(c, 1, th_name(q2, sizeof(q2), "props2"), 0, 1, 0, NULL, 0);
	th_bind(c, 1, q1, x, "", amqp_empty_table);
	th_bind(c, 1, q2, x, "", amqp_empty_table);
	amqp_basic_properties_t p = all_properties(all_types_table());
	th_publish_props(c, 1, x, "rk", 0, &p, amqp_cstring_bytes("fan"));
	th_consume(c, 1, q1, NULL, 1, 0, NULL, 0);
	th_consume(c, 1, q2, NULL, 1, 0, NULL, 0);
	for (int i = 0; i < 2; i++) {
		amqp_envelope_t e;
		ck_assert_int_eq(th_next_delivery(c, &e, 5000), 1);
		assert_properties_eq(&p, &e.message.properties);
		ck_assert(th_bytes_eq(e.exchange, x));
		ck_assert(th_bytes_eq(e.routing_key, "rk"));
		amqp_destroy_envelope(&e);
	}
	amqp_exchange_delete(c, 1, amqp_cstring_bytes(x), 0);
	th_close(c);
}
END_TEST

/* No properties at all (flags 0) stays no properties. */
START_TEST(no_properties)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "noprops"), 0, 1, 0, NULL, 0);
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	th_publish_props(c, 1, "", q, 0, &p, amqp_cstring_bytes("bare"));
	amqp_message_t m;
	ck_assert_int_eq(th_get_wait(c, 1, q, 1, &m, NULL, NULL, NULL, 5000), 1);
	ck_assert_uint_eq(m.properties._flags, 0);
	amqp_destroy_message(&m);
	th_close(c);
}
END_TEST

/* Byte-exact: the content header a raw client publishes comes back in
 * get-ok identical, byte for byte. */
START_TEST(content_header_bytes_unchanged)
{
	int fd = th_raw_handshake(0, 0, 0, 1, NULL, NULL, NULL);
	char q[128];
	th_name(q, sizeof(q), "rawprops");
	struct th_buf b = {.len = 0};
	th_put16(&b, 50);
	th_put16(&b, 10);
	th_put16(&b, 0);
	th_put_shortstr(&b, q);
	th_put8(&b, 0x04);
	th_put32(&b, 0);
	th_raw_send_frame(fd, 1, 1, b.data, (uint32_t)b.len);
	struct th_raw_frame f;
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	th_raw_frame_free(&f);

	/* encode the full property set with rabbitmq-c's own table encoder */
	amqp_table_t headers = all_types_table();
	static uint8_t tbuf[8192];
	amqp_bytes_t tb = {.len = sizeof(tbuf), .bytes = tbuf};
	size_t off = 0;
	ck_assert_int_eq(amqp_encode_table(tb, &headers, &off), AMQP_STATUS_OK);

	struct th_buf h = {.len = 0};
	th_put16(&h, 60);
	th_put16(&h, 0);
	th_put64(&h, 4);
	th_put16(&h, 0xfffc); /* all 14 property flags */
	th_put_shortstr(&h, "application/json");
	th_put_shortstr(&h, "gzip");
	th_put_bytes(&h, tbuf, off); /* table with its length prefix */
	th_put8(&h, 2);
	th_put8(&h, 7);
	th_put_shortstr(&h, "corr");
	th_put_shortstr(&h, "reply");
	th_put_shortstr(&h, "60000");
	th_put_shortstr(&h, "mid");
	th_put64(&h, 1700000123u);
	th_put_shortstr(&h, "type");
	th_put_shortstr(&h, "guest");
	th_put_shortstr(&h, "app");
	th_put_shortstr(&h, "cluster");

	b.len = 0;
	th_put16(&b, 60);
	th_put16(&b, 40);
	th_put16(&b, 0);
	th_put_shortstr(&b, "");
	th_put_shortstr(&b, q);
	th_put8(&b, 0);
	th_raw_send_frame(fd, 1, 1, b.data, (uint32_t)b.len);
	th_raw_send_frame(fd, 2, 1, h.data, (uint32_t)h.len);
	th_raw_send_frame(fd, 3, 1, "body", 4);

	b.len = 0;
	th_put16(&b, 60);
	th_put16(&b, 70);
	th_put16(&b, 0);
	th_put_shortstr(&b, q);
	th_put8(&b, 1);
	for (int tries = 0;; tries++) {
		th_raw_send_frame(fd, 1, 1, b.data, (uint32_t)b.len);
		ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
		ck_assert_uint_eq(th_raw_class(&f), 60);
		uint16_t mth = th_raw_method(&f);
		th_raw_frame_free(&f);
		if (mth == 71)
			break;
		ck_assert_uint_eq(mth, 72); /* get-empty: not there yet */
		ck_assert_int_lt(tries, 500);
		th_sleep_ms(10);
	}
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	ck_assert_uint_eq(f.type, 2);
	ck_assert_uint_eq(f.size, h.len);
	ck_assert_msg(memcmp(f.payload, h.data, h.len) == 0, "content header bytes changed in transit");
	th_raw_frame_free(&f);
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	ck_assert_uint_eq(f.type, 3);
	ck_assert_uint_eq(f.size, 4);
	ck_assert(memcmp(f.payload, "body", 4) == 0);
	th_raw_frame_free(&f);
	close(fd);
}
END_TEST

/* user_id must name the authenticated user: otherwise 406
 * PRECONDITION_FAILED on the channel. */
START_TEST(user_id_mismatch_406)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "userid"), 0, 1, 0, NULL, 0);
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_USER_ID_FLAG;
	p.user_id = amqp_cstring_bytes("somebody-else");
	th_publish_props(c, 1, "", q, 0, &p, amqp_cstring_bytes("spoofed"));
	th_expect_channel_close(c, 1, th_sync(c, 1), TH_PRECONDITION_FAILED);
	ck_assert_msg(strstr(th_last_close_text(), "user_id property set to 'somebody-else'") != NULL, "text: %s",
		      th_last_close_text());
	th_close(c);
}
END_TEST

/* ---- bodies ------------------------------------------------------------------------ */

static void body_round_trip(size_t n, int frame_max)
{
	struct th_login o = {.frame_max = frame_max};
	amqp_rpc_reply_t r;
	amqp_connection_state_t c = th_connect_opts(&o, &r);
	th_ok(r, "login");
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "big"), 0, 1, 0, NULL, 0);
	uint8_t *body = malloc(n ? n : 1);
	ck_assert_ptr_nonnull(body);
	uint32_t x = 2463534242u;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		body[i] = (uint8_t)x;
	}
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	th_publish_props(c, 1, "", q, 0, &p, (amqp_bytes_t){.len = n, .bytes = body});
	th_publish_props(c, 1, "", q, 0, &p, (amqp_bytes_t){.len = n, .bytes = body});
	/* once through basic.get ... */
	amqp_message_t m;
	ck_assert_int_eq(th_get_wait(c, 1, q, 1, &m, NULL, NULL, NULL, 10000), 1);
	ck_assert_uint_eq(m.body.len, n);
	ck_assert_msg(memcmp(m.body.bytes, body, n) == 0, "body of %zu bytes corrupted (get)", n);
	amqp_destroy_message(&m);
	/* ... once through a consumer */
	th_consume(c, 1, q, NULL, 1, 0, NULL, 0);
	amqp_envelope_t e;
	ck_assert_int_eq(th_next_delivery(c, &e, 10000), 1);
	ck_assert_uint_eq(e.message.body.len, n);
	ck_assert_msg(memcmp(e.message.body.bytes, body, n) == 0, "body of %zu bytes corrupted (deliver)", n);
	amqp_destroy_envelope(&e);
	free(body);
	th_close(c);
}

START_TEST(body_sizes)
{
	/* around the frame boundaries of frame_max 4096 (4088 bytes a frame) */
	static const size_t sizes[] = {1, 4087, 4088, 4089, 8176, 8177, 100000};
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		body_round_trip(sizes[i], 4096);
}
END_TEST

START_TEST(body_1mib)
{
	body_round_trip(1u << 20, 0);
}
END_TEST

START_TEST(body_10mib)
{
	body_round_trip(10u << 20, 0);
}
END_TEST

START_TEST(body_10mib_small_frames)
{
	body_round_trip(10u << 20, 4096);
}
END_TEST

/* A body over the broker's maximum message size (128 MiB by default in
 * both RabbitMQ 3.10 and tandem) is refused: channel.close 406
 * PRECONDITION_FAILED "message size N is larger than configured max size
 * 134217728". */
START_TEST(body_over_max_size_406)
{
	size_t n = (128u << 20) + 1;
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "toolarge"), 0, 1, 0, NULL, 0);
	char *body = calloc(1, n);
	ck_assert_ptr_nonnull(body);
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	int rc = amqp_basic_publish(c, 1, amqp_empty_bytes, amqp_cstring_bytes(q), 0, 0, &p,
				    (amqp_bytes_t){.len = n, .bytes = body});
	free(body);
	/* the broker may close the channel while the body is still being sent */
	ck_assert_msg(rc == AMQP_STATUS_OK, "publish: %s", amqp_error_string2(rc));
	th_expect_channel_close(c, 1, th_sync(c, 1), TH_PRECONDITION_FAILED);
	ck_assert_msg(strstr(th_last_close_text(), "larger than configured max size") != NULL, "text: %s",
		      th_last_close_text());
	th_channel(c, 1);
	uint32_t count = 9;
	th_ok(th_queue_passive(c, 1, q, &count, NULL), "passive");
	ck_assert_uint_eq(count, 0);
	th_close(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("content");
	TCase *tc = th_tcase("properties");
	tcase_add_test(tc, all_properties_round_trip_get);
	tcase_add_test(tc, all_properties_round_trip_consume_fanout);
	tcase_add_test(tc, no_properties);
	tcase_add_test(tc, content_header_bytes_unchanged);
	tcase_add_test(tc, user_id_mismatch_406);
	suite_add_tcase(s, tc);

	tc = th_tcase("bodies");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, body_sizes);
	tcase_add_test(tc, body_1mib);
	tcase_add_test(tc, body_10mib);
	tcase_add_test(tc, body_10mib_small_frames);
	tcase_add_test(tc, body_over_max_size_406);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(suite());
}
