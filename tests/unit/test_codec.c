/*
 * Unit tests of the AMQP 0-9-1 codec (src/amqp).  The oracle is rabbitmq-c
 * 0.11: every method it knows is encoded by it and decoded by us and the
 * other way round, field by field and byte for byte; the same for the basic
 * properties and for field tables of every type.  Then the negative cases:
 * truncation at every length, trailing bytes, bad frames, unknown methods,
 * bad field types, length overruns, nesting past the limit, short buffers.
 * Inputs under test are copied into exact-size heap buffers so that a
 * sanitizer build catches any read past the end.
 *
 * Depends on: codec.h, Check, rabbitmq-c.  Must not depend on the server.
 */
#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <amqp.h>
#include <amqp_framing.h>

#include "amqp/codec.h" /* -I src: named by folder, as in src/ */

/* Exported by librabbitmq but declared only in its private header. */
int amqp_encode_table(amqp_bytes_t encoded, amqp_table_t *input, size_t *offset);
int amqp_decode_table(amqp_bytes_t encoded, amqp_pool_t *pool, amqp_table_t *output,
		      size_t *offset);

/* ---- helpers ------------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64*: deterministic per seed */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ULL;
}

static void rnd_seed(uint64_t seed)
{
	rng_state = seed * 0x9E3779B97F4A7C15ULL + 1;
}

/* An exact-size heap copy, so ASan sees any over-read. */
static uint8_t *dup_exact(const uint8_t *p, size_t n)
{
	uint8_t *q = malloc(n ? n : 1);

	ck_assert_ptr_nonnull(q);
	if (n)
		memcpy(q, p, n);
	return q;
}

static int decode_exact(const uint8_t *p, size_t n, struct am_method *m)
{
	uint8_t *q = dup_exact(p, n);
	int rc = am_method_decode(q, n, m);

	/* Borrowed pointers into q die here: callers only look at rc. */
	free(q);
	return rc;
}

static int bytes_eq(struct am_bytes a, const void *p, size_t n)
{
	return a.len == n && (n == 0 || memcmp(a.ptr, p, n) == 0);
}

static amqp_bytes_t to_rmq(struct am_bytes b)
{
	amqp_bytes_t r;

	r.len = b.len;
	r.bytes = (void *)b.ptr;
	return r;
}

/* Our raw table (no prefix) re-encoded with its length, for rabbitmq-c. */
static size_t prefixed(struct am_bytes t, uint8_t *out)
{
	out[0] = (uint8_t)(t.len >> 24);
	out[1] = (uint8_t)(t.len >> 16);
	out[2] = (uint8_t)(t.len >> 8);
	out[3] = (uint8_t)t.len;
	if (t.len)
		memcpy(out + 4, t.ptr, t.len);
	return 4 + (size_t)t.len;
}

/* rabbitmq-c's table re-encoded by rabbitmq-c equals our raw table? */
static int rmq_table_eq(amqp_table_t *t, struct am_bytes raw)
{
	static uint8_t buf[1 << 16];
	amqp_bytes_t enc = {sizeof(buf), buf};
	size_t off = 0;

	if (amqp_encode_table(enc, t, &off) != AMQP_STATUS_OK)
		return 0;
	return off >= 4 && bytes_eq(raw, buf + 4, off - 4);
}

/* ---- fixtures: tables of every type ------------------------------------- */

/* A table built with our builder, covering every type RabbitMQ knows. */
static struct am_bytes build_rich_table(uint8_t *buf, size_t cap)
{
	struct am_tb tb;
	struct am_bytes out;
	uint8_t raw[16];

	am_tb_init(&tb, buf, cap);
	am_tb_bool(&tb, "bool", 1);
	raw[0] = 0xFB; /* -5 */
	am_tb_raw(&tb, "i8", 'b', raw, 1);
	raw[0] = 250;
	am_tb_raw(&tb, "u8", 'B', raw, 1);
	raw[0] = 0x8A, raw[1] = 0xD0; /* -30000 */
	am_tb_raw(&tb, "i16", 's', raw, 2);
	raw[0] = 0xFD, raw[1] = 0xE8; /* 65000 */
	am_tb_raw(&tb, "u16", 'u', raw, 2);
	am_tb_int(&tb, "i32", -2000000000);
	raw[0] = 0xEE, raw[1] = 0x6B, raw[2] = 0x28, raw[3] = 0x00; /* 4000000000 */
	am_tb_raw(&tb, "u32", 'i', raw, 4);
	am_tb_long(&tb, "i64", -9000000000000000000LL);
	raw[0] = 0x3F, raw[1] = 0xC0, raw[2] = 0, raw[3] = 0; /* 1.5f */
	am_tb_raw(&tb, "f32", 'f', raw, 4);
	memcpy(raw, "\xC0\x02\x00\x00\x00\x00\x00\x00", 8); /* -2.25 */
	am_tb_raw(&tb, "f64", 'd', raw, 8);
	memcpy(raw, "\x02\x00\x00\x30\x39", 5); /* 123.45 */
	am_tb_raw(&tb, "dec", 'D', raw, 5);
	am_tb_str(&tb, "str", "hello", 5);
	memcpy(raw, "\x00\x00\x00\x03\x00\x01\xFF", 7);
	am_tb_raw(&tb, "bytes", 'x', raw, 7);
	am_tb_timestamp(&tb, "ts", 1700000000);
	am_tb_raw(&tb, "void", 'V', NULL, 0);
	am_tb_table_begin(&tb, "tbl");
	am_tb_str(&tb, "a", "b", 1);
	am_tb_table_begin(&tb, "deep");
	am_tb_int(&tb, "x", 1);
	am_tb_table_end(&tb);
	am_tb_table_end(&tb);
	am_tb_array_begin(&tb, "arr");
	am_tb_str(&tb, NULL, "one", 3);
	am_tb_int(&tb, NULL, 2);
	am_tb_table_begin(&tb, NULL);
	am_tb_bool(&tb, "k", 0);
	am_tb_table_end(&tb);
	am_tb_array_begin(&tb, NULL);
	am_tb_long(&tb, NULL, 7);
	am_tb_array_end(&tb);
	am_tb_raw(&tb, NULL, 'V', NULL, 0);
	am_tb_array_end(&tb);
	am_tb_table_begin(&tb, "empty");
	am_tb_table_end(&tb);
	ck_assert_int_eq(am_tb_finish(&tb, &out), AM_OK);
	return out;
}

#define RICH_TABLE_ENTRIES 18

/* The same table as rabbitmq-c values. */
static amqp_table_t rmq_rich_table(void)
{
	static amqp_table_entry_t deep_e[1], tbl_e[2], k_e[1], top[RICH_TABLE_ENTRIES];
	static amqp_field_value_t arr_v[5], inner_arr_v[1];
	amqp_table_t t;
	int i = 0;

	deep_e[0].key = amqp_cstring_bytes("x");
	deep_e[0].value.kind = AMQP_FIELD_KIND_I32;
	deep_e[0].value.value.i32 = 1;
	tbl_e[0].key = amqp_cstring_bytes("a");
	tbl_e[0].value.kind = AMQP_FIELD_KIND_UTF8;
	tbl_e[0].value.value.bytes = amqp_cstring_bytes("b");
	tbl_e[1].key = amqp_cstring_bytes("deep");
	tbl_e[1].value.kind = AMQP_FIELD_KIND_TABLE;
	tbl_e[1].value.value.table.num_entries = 1;
	tbl_e[1].value.value.table.entries = deep_e;
	k_e[0].key = amqp_cstring_bytes("k");
	k_e[0].value.kind = AMQP_FIELD_KIND_BOOLEAN;
	k_e[0].value.value.boolean = 0;
	inner_arr_v[0].kind = AMQP_FIELD_KIND_I64;
	inner_arr_v[0].value.i64 = 7;
	arr_v[0].kind = AMQP_FIELD_KIND_UTF8;
	arr_v[0].value.bytes = amqp_cstring_bytes("one");
	arr_v[1].kind = AMQP_FIELD_KIND_I32;
	arr_v[1].value.i32 = 2;
	arr_v[2].kind = AMQP_FIELD_KIND_TABLE;
	arr_v[2].value.table.num_entries = 1;
	arr_v[2].value.table.entries = k_e;
	arr_v[3].kind = AMQP_FIELD_KIND_ARRAY;
	arr_v[3].value.array.num_entries = 1;
	arr_v[3].value.array.entries = inner_arr_v;
	arr_v[4].kind = AMQP_FIELD_KIND_VOID;

#define ENTRY(k, kind_, member, val)                        \
	do {                                                \
		top[i].key = amqp_cstring_bytes(k);         \
		top[i].value.kind = (kind_);                \
		top[i].value.value.member = (val);          \
		i++;                                        \
	} while (0)
	ENTRY("bool", AMQP_FIELD_KIND_BOOLEAN, boolean, 1);
	ENTRY("i8", AMQP_FIELD_KIND_I8, i8, -5);
	ENTRY("u8", AMQP_FIELD_KIND_U8, u8, 250);
	ENTRY("i16", AMQP_FIELD_KIND_I16, i16, -30000);
	ENTRY("u16", AMQP_FIELD_KIND_U16, u16, 65000);
	ENTRY("i32", AMQP_FIELD_KIND_I32, i32, -2000000000);
	ENTRY("u32", AMQP_FIELD_KIND_U32, u32, 4000000000u);
	ENTRY("i64", AMQP_FIELD_KIND_I64, i64, -9000000000000000000LL);
	ENTRY("f32", AMQP_FIELD_KIND_F32, f32, 1.5f);
	ENTRY("f64", AMQP_FIELD_KIND_F64, f64, -2.25);
	top[i].key = amqp_cstring_bytes("dec");
	top[i].value.kind = AMQP_FIELD_KIND_DECIMAL;
	top[i].value.value.decimal.decimals = 2;
	top[i].value.value.decimal.value = 12345;
	i++;
	ENTRY("str", AMQP_FIELD_KIND_UTF8, bytes, amqp_cstring_bytes("hello"));
	top[i].key = amqp_cstring_bytes("bytes");
	top[i].value.kind = AMQP_FIELD_KIND_BYTES;
	top[i].value.value.bytes.len = 3;
	top[i].value.value.bytes.bytes = (void *)"\x00\x01\xFF";
	i++;
	ENTRY("ts", AMQP_FIELD_KIND_TIMESTAMP, u64, 1700000000);
	top[i].key = amqp_cstring_bytes("void");
	top[i].value.kind = AMQP_FIELD_KIND_VOID;
	i++;
	top[i].key = amqp_cstring_bytes("tbl");
	top[i].value.kind = AMQP_FIELD_KIND_TABLE;
	top[i].value.value.table.num_entries = 2;
	top[i].value.value.table.entries = tbl_e;
	i++;
	top[i].key = amqp_cstring_bytes("arr");
	top[i].value.kind = AMQP_FIELD_KIND_ARRAY;
	top[i].value.value.array.num_entries = 5;
	top[i].value.value.array.entries = arr_v;
	i++;
	top[i].key = amqp_cstring_bytes("empty");
	top[i].value.kind = AMQP_FIELD_KIND_TABLE;
	top[i].value.value.table.num_entries = 0;
	top[i].value.value.table.entries = NULL;
	i++;
#undef ENTRY
	ck_assert_int_eq(i, RICH_TABLE_ENTRIES);
	t.num_entries = i;
	t.entries = top;
	return t;
}

static int cmp_rmq_table(const amqp_table_t *t, struct am_bytes raw, int depth);
static int cmp_rmq_array(const amqp_array_t *a, struct am_bytes raw, int depth);

/* One rabbitmq-c value against one of ours; 1 if equal. */
static int cmp_rmq_value(const amqp_field_value_t *tv, const struct am_value *v, int depth)
{
	if (tv->kind != v->type)
		return 0;
	switch (v->type) {
	case 't':
		return !!tv->value.boolean == v->v.i;
	case 'b':
		return tv->value.i8 == v->v.i;
	case 'B':
		return tv->value.u8 == v->v.u;
	case 's':
		return tv->value.i16 == v->v.i;
	case 'u':
		return tv->value.u16 == v->v.u;
	case 'I':
		return tv->value.i32 == v->v.i;
	case 'i':
		return tv->value.u32 == v->v.u;
	case 'l':
		return tv->value.i64 == v->v.i;
	case 'T':
		return tv->value.u64 == v->v.u;
	case 'f':
		return memcmp(&tv->value.f32, &v->v.f, sizeof(float)) == 0;
	case 'd':
		return memcmp(&tv->value.f64, &v->v.d, sizeof(double)) == 0;
	case 'D':
		return tv->value.decimal.decimals == v->v.dec.scale &&
		       tv->value.decimal.value == v->v.dec.value;
	case 'S':
	case 'x':
		return bytes_eq(v->v.bytes, tv->value.bytes.bytes, tv->value.bytes.len);
	case 'V':
		return v->raw.len == 0;
	case 'F':
		return cmp_rmq_table(&tv->value.table, v->v.bytes, depth + 1);
	case 'A':
		return cmp_rmq_array(&tv->value.array, v->v.bytes, depth + 1);
	}
	return 0;
}

static int cmp_rmq_table(const amqp_table_t *t, struct am_bytes raw, int depth)
{
	struct am_table_iter it;
	struct am_bytes key;
	struct am_value v;
	int i = 0;

	if (depth > 10)
		return 0;
	am_table_iter_init(&it, raw);
	while (am_table_next(&it, &key, &v)) {
		if (i >= t->num_entries)
			return 0;
		if (!bytes_eq(key, t->entries[i].key.bytes, t->entries[i].key.len))
			return 0;
		if (!cmp_rmq_value(&t->entries[i].value, &v, depth))
			return 0;
		i++;
	}
	return i == t->num_entries && am_table_count(raw) == (size_t)i;
}

static int cmp_rmq_array(const amqp_array_t *a, struct am_bytes raw, int depth)
{
	struct am_table_iter it;
	struct am_bytes key;
	struct am_value v;
	int i = 0;

	if (depth > 10)
		return 0;
	am_array_iter_init(&it, raw);
	while (am_table_next(&it, &key, &v)) {
		if (i >= a->num_entries || key.len != 0)
			return 0;
		if (!cmp_rmq_value(&a->entries[i], &v, depth))
			return 0;
		i++;
	}
	return i == a->num_entries;
}

/* ---- the method mapping: our struct <-> rabbitmq-c's struct ------------- */

enum kind { K_END, K_BIT, K_OCT, K_SHORT, K_LONG, K_LL, K_SSTR, K_LSTR, K_TABLE };

struct fmap {
	enum kind kind;
	size_t ours, theirs;
};

struct mmap {
	uint32_t id;
	amqp_method_number_t rmq_id;
	const char *name;
	struct fmap f[12];
};

/*
 * Hand-written from rabbitmq-c's amqp_framing.h: which of its fields is
 * which of ours.  Built independently of methods.h's field list, so a wrong
 * order, type or missing field in our table shows up as a mismatch.
 */
#define FM(S, K, ofield, tfield) {K_##K, offsetof(struct am_##S, ofield), offsetof(amqp_##S##_t, tfield)},
#define MM(UP, S, ...) {AM_##UP, AMQP_##UP##_METHOD, #S, {AM_EACH(FM, S, __VA_ARGS__){K_END, 0, 0}}},
#define MM0(UP, S) {AM_##UP, AMQP_##UP##_METHOD, #S, {{K_END, 0, 0}}},

static const struct mmap maps[] = {
	MM(CONNECTION_START, connection_start, (OCT, version_major, version_major),
	   (OCT, version_minor, version_minor), (TABLE, server_properties, server_properties),
	   (LSTR, mechanisms, mechanisms), (LSTR, locales, locales))
	MM(CONNECTION_START_OK, connection_start_ok, (TABLE, client_properties, client_properties),
	   (SSTR, mechanism, mechanism), (LSTR, response, response), (SSTR, locale, locale))
	MM(CONNECTION_SECURE, connection_secure, (LSTR, challenge, challenge))
	MM(CONNECTION_SECURE_OK, connection_secure_ok, (LSTR, response, response))
	MM(CONNECTION_TUNE, connection_tune, (SHORT, channel_max, channel_max),
	   (LONG, frame_max, frame_max), (SHORT, heartbeat, heartbeat))
	MM(CONNECTION_TUNE_OK, connection_tune_ok, (SHORT, channel_max, channel_max),
	   (LONG, frame_max, frame_max), (SHORT, heartbeat, heartbeat))
	MM(CONNECTION_OPEN, connection_open, (SSTR, virtual_host, virtual_host),
	   (SSTR, reserved_1, capabilities), (BIT, reserved_2, insist))
	MM(CONNECTION_OPEN_OK, connection_open_ok, (SSTR, reserved_1, known_hosts))
	MM(CONNECTION_CLOSE, connection_close, (SHORT, reply_code, reply_code),
	   (SSTR, reply_text, reply_text), (SHORT, class_id, class_id), (SHORT, method_id, method_id))
	MM0(CONNECTION_CLOSE_OK, connection_close_ok)
	MM(CONNECTION_BLOCKED, connection_blocked, (SSTR, reason, reason))
	MM0(CONNECTION_UNBLOCKED, connection_unblocked)
	MM(CHANNEL_OPEN, channel_open, (SSTR, reserved_1, out_of_band))
	MM(CHANNEL_OPEN_OK, channel_open_ok, (LSTR, reserved_1, channel_id))
	MM(CHANNEL_FLOW, channel_flow, (BIT, active, active))
	MM(CHANNEL_FLOW_OK, channel_flow_ok, (BIT, active, active))
	MM(CHANNEL_CLOSE, channel_close, (SHORT, reply_code, reply_code),
	   (SSTR, reply_text, reply_text), (SHORT, class_id, class_id), (SHORT, method_id, method_id))
	MM0(CHANNEL_CLOSE_OK, channel_close_ok)
	MM(ACCESS_REQUEST, access_request, (SSTR, realm, realm), (BIT, exclusive, exclusive),
	   (BIT, passive, passive), (BIT, active, active), (BIT, write, write), (BIT, read, read))
	MM(ACCESS_REQUEST_OK, access_request_ok, (SHORT, reserved_1, ticket))
	MM(EXCHANGE_DECLARE, exchange_declare, (SHORT, reserved_1, ticket), (SSTR, exchange, exchange),
	   (SSTR, type, type), (BIT, passive, passive), (BIT, durable, durable),
	   (BIT, auto_delete, auto_delete), (BIT, internal, internal), (BIT, no_wait, nowait),
	   (TABLE, arguments, arguments))
	MM0(EXCHANGE_DECLARE_OK, exchange_declare_ok)
	MM(EXCHANGE_DELETE, exchange_delete, (SHORT, reserved_1, ticket), (SSTR, exchange, exchange),
	   (BIT, if_unused, if_unused), (BIT, no_wait, nowait))
	MM0(EXCHANGE_DELETE_OK, exchange_delete_ok)
	MM(EXCHANGE_BIND, exchange_bind, (SHORT, reserved_1, ticket), (SSTR, destination, destination),
	   (SSTR, source, source), (SSTR, routing_key, routing_key), (BIT, no_wait, nowait),
	   (TABLE, arguments, arguments))
	MM0(EXCHANGE_BIND_OK, exchange_bind_ok)
	MM(EXCHANGE_UNBIND, exchange_unbind, (SHORT, reserved_1, ticket),
	   (SSTR, destination, destination), (SSTR, source, source),
	   (SSTR, routing_key, routing_key), (BIT, no_wait, nowait), (TABLE, arguments, arguments))
	MM0(EXCHANGE_UNBIND_OK, exchange_unbind_ok)
	MM(QUEUE_DECLARE, queue_declare, (SHORT, reserved_1, ticket), (SSTR, queue, queue),
	   (BIT, passive, passive), (BIT, durable, durable), (BIT, exclusive, exclusive),
	   (BIT, auto_delete, auto_delete), (BIT, no_wait, nowait), (TABLE, arguments, arguments))
	MM(QUEUE_DECLARE_OK, queue_declare_ok, (SSTR, queue, queue),
	   (LONG, message_count, message_count), (LONG, consumer_count, consumer_count))
	MM(QUEUE_BIND, queue_bind, (SHORT, reserved_1, ticket), (SSTR, queue, queue),
	   (SSTR, exchange, exchange), (SSTR, routing_key, routing_key), (BIT, no_wait, nowait),
	   (TABLE, arguments, arguments))
	MM0(QUEUE_BIND_OK, queue_bind_ok)
	MM(QUEUE_PURGE, queue_purge, (SHORT, reserved_1, ticket), (SSTR, queue, queue),
	   (BIT, no_wait, nowait))
	MM(QUEUE_PURGE_OK, queue_purge_ok, (LONG, message_count, message_count))
	MM(QUEUE_DELETE, queue_delete, (SHORT, reserved_1, ticket), (SSTR, queue, queue),
	   (BIT, if_unused, if_unused), (BIT, if_empty, if_empty), (BIT, no_wait, nowait))
	MM(QUEUE_DELETE_OK, queue_delete_ok, (LONG, message_count, message_count))
	MM(QUEUE_UNBIND, queue_unbind, (SHORT, reserved_1, ticket), (SSTR, queue, queue),
	   (SSTR, exchange, exchange), (SSTR, routing_key, routing_key), (TABLE, arguments, arguments))
	MM0(QUEUE_UNBIND_OK, queue_unbind_ok)
	MM(BASIC_QOS, basic_qos, (LONG, prefetch_size, prefetch_size),
	   (SHORT, prefetch_count, prefetch_count), (BIT, global, global))
	MM0(BASIC_QOS_OK, basic_qos_ok)
	MM(BASIC_CONSUME, basic_consume, (SHORT, reserved_1, ticket), (SSTR, queue, queue),
	   (SSTR, consumer_tag, consumer_tag), (BIT, no_local, no_local), (BIT, no_ack, no_ack),
	   (BIT, exclusive, exclusive), (BIT, no_wait, nowait), (TABLE, arguments, arguments))
	MM(BASIC_CONSUME_OK, basic_consume_ok, (SSTR, consumer_tag, consumer_tag))
	MM(BASIC_CANCEL, basic_cancel, (SSTR, consumer_tag, consumer_tag), (BIT, no_wait, nowait))
	MM(BASIC_CANCEL_OK, basic_cancel_ok, (SSTR, consumer_tag, consumer_tag))
	MM(BASIC_PUBLISH, basic_publish, (SHORT, reserved_1, ticket), (SSTR, exchange, exchange),
	   (SSTR, routing_key, routing_key), (BIT, mandatory, mandatory), (BIT, immediate, immediate))
	MM(BASIC_RETURN, basic_return, (SHORT, reply_code, reply_code), (SSTR, reply_text, reply_text),
	   (SSTR, exchange, exchange), (SSTR, routing_key, routing_key))
	MM(BASIC_DELIVER, basic_deliver, (SSTR, consumer_tag, consumer_tag),
	   (LL, delivery_tag, delivery_tag), (BIT, redelivered, redelivered),
	   (SSTR, exchange, exchange), (SSTR, routing_key, routing_key))
	MM(BASIC_GET, basic_get, (SHORT, reserved_1, ticket), (SSTR, queue, queue),
	   (BIT, no_ack, no_ack))
	MM(BASIC_GET_OK, basic_get_ok, (LL, delivery_tag, delivery_tag),
	   (BIT, redelivered, redelivered), (SSTR, exchange, exchange),
	   (SSTR, routing_key, routing_key), (LONG, message_count, message_count))
	MM(BASIC_GET_EMPTY, basic_get_empty, (SSTR, reserved_1, cluster_id))
	MM(BASIC_ACK, basic_ack, (LL, delivery_tag, delivery_tag), (BIT, multiple, multiple))
	MM(BASIC_REJECT, basic_reject, (LL, delivery_tag, delivery_tag), (BIT, requeue, requeue))
	MM(BASIC_RECOVER_ASYNC, basic_recover_async, (BIT, requeue, requeue))
	MM(BASIC_RECOVER, basic_recover, (BIT, requeue, requeue))
	MM0(BASIC_RECOVER_OK, basic_recover_ok)
	MM(BASIC_NACK, basic_nack, (LL, delivery_tag, delivery_tag), (BIT, multiple, multiple),
	   (BIT, requeue, requeue))
	MM0(TX_SELECT, tx_select)
	MM0(TX_SELECT_OK, tx_select_ok)
	MM0(TX_COMMIT, tx_commit)
	MM0(TX_COMMIT_OK, tx_commit_ok)
	MM0(TX_ROLLBACK, tx_rollback)
	MM0(TX_ROLLBACK_OK, tx_rollback_ok)
	MM(CONFIRM_SELECT, confirm_select, (BIT, no_wait, nowait))
	MM0(CONFIRM_SELECT_OK, confirm_select_ok)
};

#define NMAPS ((int)(sizeof(maps) / sizeof(maps[0])))

/* Every method of our table, with its number of wire fields, from methods.h. */
#define T_IS_NONE 0
#define T_IS_BIT 1
#define T_IS_OCTET 1
#define T_IS_SHORT 1
#define T_IS_LONG 1
#define T_IS_LONGLONG 1
#define T_IS_SHORTSTR 1
#define T_IS_LONGSTR 1
#define T_IS_TABLE 1
#define T_COUNT(S, T, n) +T_IS_##T
#define T_GEN(cid, mid, UP, lo, name, flags, ...) {AM_##UP, name, 0 AM_EACH(T_COUNT, lo, __VA_ARGS__)},
static const struct {
	uint32_t id;
	const char *name;
	int nfields;
} ours[] = {AM_METHOD_TABLE(T_GEN)};
#define NOURS ((int)(sizeof(ours) / sizeof(ours[0])))

/* Fills m (our expected values) for maps[i] from the seed; strings live in store. */
static void fill_method(const struct mmap *mm, uint64_t seed, struct am_method *m, uint8_t *store,
			uint8_t *tables, size_t tables_cap)
{
	uint8_t *base = (uint8_t *)&m->u;
	const struct fmap *f;
	size_t used = 0;

	rnd_seed(seed);
	memset(m, 0, sizeof(*m));
	m->id = mm->id;
	for (f = mm->f; f->kind != K_END; f++) {
		void *dst = base + f->ours;
		struct am_bytes *b = dst;
		size_t n, j;

		switch (f->kind) {
		case K_BIT:
			*(uint8_t *)dst = rnd() & 1;
			break;
		case K_OCT:
			*(uint8_t *)dst = (uint8_t)rnd();
			break;
		case K_SHORT:
			*(uint16_t *)dst = (uint16_t)rnd();
			break;
		case K_LONG:
			*(uint32_t *)dst = (uint32_t)rnd();
			break;
		case K_LL:
			*(uint64_t *)dst = rnd();
			break;
		case K_SSTR:
		case K_LSTR:
			/* lengths at the edges now and then: 0, 255 */
			n = rnd() % 5 == 0 ? (rnd() & 1 ? 0 : 255) : rnd() % 256;
			if (f->kind == K_LSTR && rnd() % 3 == 0)
				n = 256 + rnd() % 2000;
			for (j = 0; j < n; j++)
				store[used + j] = (uint8_t)rnd();
			b->ptr = store + used;
			b->len = (uint32_t)n;
			used += n;
			break;
		case K_TABLE:
			if (rnd() % 3 == 0) {
				b->ptr = NULL;
				b->len = 0;
			} else {
				*b = build_rich_table(tables, tables_cap);
			}
			break;
		case K_END:
			break;
		}
	}
}

/* Writes our expected values into rabbitmq-c's struct. */
static void to_theirs(const struct mmap *mm, const struct am_method *m, uint8_t *theirs,
		      amqp_pool_t *pool, uint8_t *tabbuf)
{
	const uint8_t *base = (const uint8_t *)&m->u;
	const struct fmap *f;

	for (f = mm->f; f->kind != K_END; f++) {
		const void *src = base + f->ours;
		void *dst = theirs + f->theirs;
		size_t off = 0;
		amqp_bytes_t enc;

		switch (f->kind) {
		case K_BIT:
			*(amqp_boolean_t *)dst = *(const uint8_t *)src;
			break;
		case K_OCT:
			*(uint8_t *)dst = *(const uint8_t *)src;
			break;
		case K_SHORT:
			*(uint16_t *)dst = *(const uint16_t *)src;
			break;
		case K_LONG:
			*(uint32_t *)dst = *(const uint32_t *)src;
			break;
		case K_LL:
			*(uint64_t *)dst = *(const uint64_t *)src;
			break;
		case K_SSTR:
		case K_LSTR:
			*(amqp_bytes_t *)dst = to_rmq(*(const struct am_bytes *)src);
			break;
		case K_TABLE:
			enc.len = prefixed(*(const struct am_bytes *)src, tabbuf);
			enc.bytes = tabbuf;
			ck_assert_int_eq(amqp_decode_table(enc, pool, dst, &off), AMQP_STATUS_OK);
			ck_assert_uint_eq(off, enc.len);
			break;
		case K_END:
			break;
		}
	}
}

/* Our decoded method equals the expected one, field by field. */
static void check_ours(const struct mmap *mm, const struct am_method *got,
		       const struct am_method *want)
{
	const uint8_t *g = (const uint8_t *)&got->u, *w = (const uint8_t *)&want->u;
	const struct fmap *f;

	ck_assert_uint_eq(got->id, want->id);
	for (f = mm->f; f->kind != K_END; f++) {
		const struct am_bytes *gb = (const void *)(g + f->ours);
		const struct am_bytes *wb = (const void *)(w + f->ours);

		switch (f->kind) {
		case K_BIT:
		case K_OCT:
			ck_assert_uint_eq(g[f->ours], w[f->ours]);
			break;
		case K_SHORT:
			ck_assert_uint_eq(*(const uint16_t *)(g + f->ours), *(const uint16_t *)(w + f->ours));
			break;
		case K_LONG:
			ck_assert_uint_eq(*(const uint32_t *)(g + f->ours), *(const uint32_t *)(w + f->ours));
			break;
		case K_LL:
			ck_assert_uint_eq(*(const uint64_t *)(g + f->ours), *(const uint64_t *)(w + f->ours));
			break;
		case K_SSTR:
		case K_LSTR:
		case K_TABLE:
			ck_assert_msg(bytes_eq(*gb, wb->ptr, wb->len), "%s: field at %zu differs",
				      mm->name, f->ours);
			break;
		case K_END:
			break;
		}
	}
}

/* rabbitmq-c's decoded struct equals our expected method. */
static void check_theirs(const struct mmap *mm, uint8_t *theirs, const struct am_method *want)
{
	const uint8_t *w = (const uint8_t *)&want->u;
	const struct fmap *f;

	for (f = mm->f; f->kind != K_END; f++) {
		const void *t = theirs + f->theirs;
		const struct am_bytes *wb = (const void *)(w + f->ours);

		switch (f->kind) {
		case K_BIT:
			ck_assert_int_eq(*(const amqp_boolean_t *)t, w[f->ours]);
			break;
		case K_OCT:
			ck_assert_uint_eq(*(const uint8_t *)t, w[f->ours]);
			break;
		case K_SHORT:
			ck_assert_uint_eq(*(const uint16_t *)t, *(const uint16_t *)(w + f->ours));
			break;
		case K_LONG:
			ck_assert_uint_eq(*(const uint32_t *)t, *(const uint32_t *)(w + f->ours));
			break;
		case K_LL:
			ck_assert_uint_eq(*(const uint64_t *)t, *(const uint64_t *)(w + f->ours));
			break;
		case K_SSTR:
		case K_LSTR:
			ck_assert_msg(bytes_eq(*wb, ((const amqp_bytes_t *)t)->bytes,
					       ((const amqp_bytes_t *)t)->len),
				      "%s: field at %zu differs", mm->name, f->ours);
			break;
		case K_TABLE:
			ck_assert_msg(rmq_table_eq((amqp_table_t *)t, *wb), "%s: table differs", mm->name);
			ck_assert(cmp_rmq_table((const amqp_table_t *)t, *wb, 0));
			break;
		case K_END:
			break;
		}
	}
}

#define SEEDS 40

static uint8_t g_store[1 << 16], g_tables[4096], g_tabbuf[8192], g_frame[1 << 16];

/* Encodes the expected method with rabbitmq-c: returns the payload length (ids + args). */
static size_t rmq_encode(const struct mmap *mm, const struct am_method *m, amqp_pool_t *pool,
			 uint8_t *payload)
{
	_Alignas(max_align_t) uint8_t theirs[512];
	amqp_bytes_t out = {sizeof(g_frame) - 4, payload + 4}; /* payload: a 64 KiB buffer */
	int n;

	memset(theirs, 0, sizeof(theirs));
	to_theirs(mm, m, theirs, pool, g_tabbuf);
	n = amqp_encode_method(mm->rmq_id, theirs, out);
	ck_assert_msg(n >= 0, "%s: rabbitmq-c encode failed %d", mm->name, n);
	payload[0] = (uint8_t)(mm->rmq_id >> 24);
	payload[1] = (uint8_t)(mm->rmq_id >> 16);
	payload[2] = (uint8_t)(mm->rmq_id >> 8);
	payload[3] = (uint8_t)mm->rmq_id;
	return (size_t)n + 4;
}

/* ---- method tests ------------------------------------------------------- */

START_TEST(test_table_matches_rabbitmq_c)
{
	int i, j, known = 0;

	/* Every method rabbitmq-c knows is in our table, with its name and content flag. */
	for (i = 0; i < NMAPS; i++) {
		char want[64], *p;
		const char *ourname = am_method_name(maps[i].id);

		ck_assert_uint_eq(maps[i].id, maps[i].rmq_id);
		ck_assert_ptr_nonnull(ourname);
		snprintf(want, sizeof(want), "AMQP_%s_METHOD", ourname);
		for (p = want; *p; p++)
			*p = (*p == '.' || *p == '-') ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		ck_assert_str_eq(amqp_method_name(maps[i].rmq_id), want);
		ck_assert_int_eq(!!am_method_has_content(maps[i].id),
				 !!amqp_method_has_content(maps[i].rmq_id));
	}
	/*
	 * ...and every method of ours that rabbitmq-c knows is in the mapping,
	 * which names every wire field of our table.
	 */
	for (j = 0; j < NOURS; j++) {
		int nf = 0;

		if (amqp_method_name(ours[j].id) == NULL)
			continue;
		known++;
		for (i = 0; i < NMAPS; i++)
			if (maps[i].id == ours[j].id)
				break;
		ck_assert_msg(i < NMAPS, "%s missing from the test mapping", ours[j].name);
		while (maps[i].f[nf].kind != K_END)
			nf++;
		ck_assert_msg(nf == ours[j].nfields, "%s: mapping has %d fields, table %d",
			      ours[j].name, nf, ours[j].nfields);
	}
	ck_assert_int_eq(known, 64);
	ck_assert_int_eq(NMAPS, 64);
	ck_assert_int_eq(NOURS, AM_METHOD_COUNT);
	ck_assert_int_eq(AM_METHOD_COUNT, 66);
}
END_TEST

START_TEST(test_rmq_encode_ours_decode)
{
	const struct mmap *mm = &maps[_i];
	amqp_pool_t pool;
	uint64_t seed;

	init_amqp_pool(&pool, 4096);
	for (seed = 0; seed < SEEDS; seed++) {
		struct am_method want, got;
		uint8_t *payload = g_frame, *copy;
		size_t n;

		fill_method(mm, seed * 131 + (uint64_t)_i, &want, g_store, g_tables, sizeof(g_tables));
		n = rmq_encode(mm, &want, &pool, payload);
		copy = dup_exact(payload, n);
		ck_assert_int_eq(am_method_decode(copy, n, &got), AM_OK);
		check_ours(mm, &got, &want);
		free(copy);
		recycle_amqp_pool(&pool);
	}
	empty_amqp_pool(&pool);
}
END_TEST

START_TEST(test_ours_encode_rmq_decode)
{
	const struct mmap *mm = &maps[_i];
	amqp_pool_t pool;
	uint64_t seed;

	init_amqp_pool(&pool, 4096);
	for (seed = 0; seed < SEEDS; seed++) {
		struct am_method want;
		size_t flen, rlen;
		amqp_bytes_t args;
		void *decoded = NULL;
		static uint8_t theirs_payload[1 << 16];

		fill_method(mm, seed * 977 + (uint64_t)_i, &want, g_store, g_tables, sizeof(g_tables));
		ck_assert_int_eq(am_method_frame_encode(7, &want, g_frame, sizeof(g_frame), &flen), AM_OK);
		/* frame header, ids, frame end */
		ck_assert_uint_eq(g_frame[0], AM_FRAME_METHOD);
		ck_assert_uint_eq(g_frame[1] << 8 | g_frame[2], 7);
		ck_assert_uint_eq((size_t)g_frame[3] << 24 | (size_t)g_frame[4] << 16 |
					  (size_t)g_frame[5] << 8 | g_frame[6],
				  flen - 8);
		ck_assert_uint_eq(g_frame[flen - 1], AM_FRAME_END);
		ck_assert_uint_eq((uint32_t)(g_frame[7] << 24 | g_frame[8] << 16 | g_frame[9] << 8 |
					     g_frame[10]),
				  mm->rmq_id);
		args.len = flen - 12;
		args.bytes = g_frame + 11;
		ck_assert_int_eq(amqp_decode_method(mm->rmq_id, &pool, args, &decoded), AMQP_STATUS_OK);
		check_theirs(mm, decoded, &want);
		/* byte for byte what rabbitmq-c writes */
		rlen = rmq_encode(mm, &want, &pool, theirs_payload);
		ck_assert_uint_eq(rlen, flen - 8);
		ck_assert_msg(memcmp(theirs_payload, g_frame + 7, rlen) == 0, "%s: bytes differ",
			      mm->name);
		recycle_amqp_pool(&pool);
	}
	empty_amqp_pool(&pool);
}
END_TEST

/* Every proper prefix of a valid payload is rejected, and so is one byte more. */
START_TEST(test_truncation_and_trailing)
{
	const struct mmap *mm = &maps[_i];
	struct am_method want, got;
	size_t flen, plen, len;
	uint8_t *payload;
	uint64_t seed;

	for (seed = 0; seed < 4; seed++) {
		fill_method(mm, seed + 5000, &want, g_store, g_tables, sizeof(g_tables));
		ck_assert_int_eq(am_method_frame_encode(1, &want, g_frame, sizeof(g_frame), &flen), AM_OK);
		payload = g_frame + 7;
		plen = flen - 8;
		ck_assert_int_eq(decode_exact(payload, plen, &got), AM_OK);
		for (len = 0; len < plen; len++)
			ck_assert_msg(decode_exact(payload, len, &got) == AM_ERR_SYNTAX,
				      "%s: prefix %zu of %zu accepted", mm->name, len, plen);
		payload[plen] = 0; /* overwrites the frame end: fine, we only decode */
		ck_assert_int_eq(decode_exact(payload, plen + 1, &got), AM_ERR_SYNTAX);
	}
}
END_TEST

/* Encoding into every too-small buffer fails cleanly without writing past it. */
START_TEST(test_encode_nospace)
{
	const struct mmap *mm = &maps[_i];
	struct am_method want;
	size_t flen, cap, out;

	fill_method(mm, 77, &want, g_store, g_tables, sizeof(g_tables));
	ck_assert_int_eq(am_method_frame_encode(1, &want, g_frame, sizeof(g_frame), &flen), AM_OK);
	for (cap = 0; cap < flen; cap++) {
		uint8_t *buf = malloc(cap ? cap : 1);

		ck_assert_int_eq(am_method_frame_encode(1, &want, buf, cap, &out), AM_ERR_NOSPACE);
		free(buf);
	}
	{
		uint8_t *buf = malloc(flen);

		ck_assert_int_eq(am_method_frame_encode(1, &want, buf, flen, &out), AM_OK);
		ck_assert_uint_eq(out, flen);
		ck_assert_mem_eq(buf, g_frame, flen);
		free(buf);
	}
}
END_TEST

START_TEST(test_update_secret)
{
	/* Not in rabbitmq-c 0.11: checked against hand-made bytes from the spec.
	 * (Decoded in place: m borrows from wire; globals are bounds-checked too.) */
	static const uint8_t wire[] = {0, 10, 0, 70, 0, 0, 0, 3, 'k', 'e', 'y', 4, 'w', 'h', 'y', '!'};
	struct am_method m;
	size_t flen;

	ck_assert_int_eq(am_method_decode(wire, sizeof(wire), &m), AM_OK);
	ck_assert_uint_eq(m.id, AM_CONNECTION_UPDATE_SECRET);
	ck_assert(bytes_eq(m.u.connection_update_secret.new_secret, "key", 3));
	ck_assert(bytes_eq(m.u.connection_update_secret.reason, "why!", 4));
	ck_assert_int_eq(am_method_frame_encode(0, &m, g_frame, sizeof(g_frame), &flen), AM_OK);
	ck_assert_uint_eq(flen, sizeof(wire) + 8);
	ck_assert_mem_eq(g_frame + 7, wire, sizeof(wire));
	ck_assert_str_eq(am_method_name(AM_CONNECTION_UPDATE_SECRET), "connection.update-secret");
	ck_assert_str_eq(am_method_name(AM_CONNECTION_UPDATE_SECRET_OK), "connection.update-secret-ok");
	m.id = AM_CONNECTION_UPDATE_SECRET_OK;
	ck_assert_int_eq(am_method_frame_encode(0, &m, g_frame, sizeof(g_frame), &flen), AM_OK);
	ck_assert_uint_eq(flen, 12);
	ck_assert_int_eq(decode_exact(g_frame + 7, 4, &m), AM_OK);
	ck_assert_uint_eq(m.id, AM_CONNECTION_UPDATE_SECRET_OK);
}
END_TEST

START_TEST(test_bits_share_octet)
{
	/* queue.declare: passive, durable, exclusive, auto_delete, no_wait -> one octet, LSB first */
	static const uint8_t wire[] = {0, 50, 0, 10, 0, 0, 1, 'q', 0x15, 0, 0, 0, 0};
	uint8_t w2[sizeof(wire)];
	struct am_method m;
	size_t flen;

	ck_assert_int_eq(am_method_decode(wire, sizeof(wire), &m), AM_OK);
	ck_assert_uint_eq(m.u.queue_declare.passive, 1);
	ck_assert_uint_eq(m.u.queue_declare.durable, 0);
	ck_assert_uint_eq(m.u.queue_declare.exclusive, 1);
	ck_assert_uint_eq(m.u.queue_declare.auto_delete, 0);
	ck_assert_uint_eq(m.u.queue_declare.no_wait, 1);
	ck_assert_uint_eq(m.u.queue_declare.arguments.len, 0);
	ck_assert_int_eq(am_method_frame_encode(3, &m, g_frame, sizeof(g_frame), &flen), AM_OK);
	ck_assert_mem_eq(g_frame + 7, wire, sizeof(wire));
	/* unused high bits are ignored on decode and written as zero */
	memcpy(w2, wire, sizeof(wire));
	w2[8] = 0xF5;
	ck_assert_int_eq(am_method_decode(w2, sizeof(w2), &m), AM_OK);
	ck_assert_uint_eq(m.u.queue_declare.no_wait, 1);
	ck_assert_int_eq(am_method_frame_encode(3, &m, g_frame, sizeof(g_frame), &flen), AM_OK);
	ck_assert_uint_eq(g_frame[7 + 8], 0x15);
	/* non-zero means set when encoding */
	m.u.queue_declare.passive = 7;
	ck_assert_int_eq(am_method_frame_encode(3, &m, g_frame, sizeof(g_frame), &flen), AM_OK);
	ck_assert_uint_eq(g_frame[7 + 8], 0x15);
}
END_TEST

START_TEST(test_unknown_method)
{
	static const uint8_t unknown_class[] = {0, 99, 0, 10};
	static const uint8_t unknown_method[] = {0, 10, 0, 99};
	static const uint8_t hole[] = {0, 60, 0, 12}; /* between qos-ok and consume */
	struct am_method m;
	size_t out;

	ck_assert_int_eq(decode_exact(unknown_class, 4, &m), AM_ERR_UNKNOWN);
	ck_assert_int_eq(decode_exact(unknown_method, 4, &m), AM_ERR_UNKNOWN);
	ck_assert_int_eq(decode_exact(hole, 4, &m), AM_ERR_UNKNOWN);
	ck_assert_int_eq(decode_exact(hole, 3, &m), AM_ERR_SYNTAX);
	ck_assert_ptr_null(am_method_name(AM_ID(60, 12)));
	ck_assert(!am_method_known(AM_ID(60, 12)));
	ck_assert(am_method_known(AM_BASIC_PUBLISH));
	ck_assert_uint_eq(am_method_flags(AM_ID(99, 1)), 0);
	ck_assert(am_method_flags(AM_BASIC_PUBLISH) & AM_MF_CONTENT);
	ck_assert(am_method_flags(AM_QUEUE_DECLARE) & AM_MF_SYNC);
	ck_assert(am_method_flags(AM_QUEUE_DECLARE_OK) & AM_MF_RESP);
	ck_assert(!(am_method_flags(AM_BASIC_ACK) & (AM_MF_SYNC | AM_MF_RESP)));
	ck_assert(am_method_has_content(AM_BASIC_GET_OK));
	ck_assert(!am_method_has_content(AM_BASIC_GET_EMPTY));
	memset(&m, 0, sizeof(m));
	m.id = AM_ID(99, 1);
	ck_assert_int_eq(am_method_frame_encode(0, &m, g_frame, sizeof(g_frame), &out), AM_ERR_UNKNOWN);
}
END_TEST

START_TEST(test_shortstr_range)
{
	struct am_method m;
	uint8_t big[256];
	size_t out;

	memset(big, 'a', sizeof(big));
	memset(&m, 0, sizeof(m));
	m.id = AM_BASIC_CONSUME_OK;
	m.u.basic_consume_ok.consumer_tag.ptr = big;
	m.u.basic_consume_ok.consumer_tag.len = 256;
	ck_assert_int_eq(am_method_frame_encode(1, &m, g_frame, sizeof(g_frame), &out), AM_ERR_RANGE);
	m.u.basic_consume_ok.consumer_tag.len = 255;
	ck_assert_int_eq(am_method_frame_encode(1, &m, g_frame, sizeof(g_frame), &out), AM_OK);
	ck_assert_uint_eq(out, 12 + 1 + 255);
}
END_TEST

/* queue.declare with `arguments` set to the raw bytes given. */
static size_t queue_declare_with_args(const uint8_t *args, size_t alen, uint8_t *out)
{
	static const uint8_t head[] = {0, 50, 0, 10, 0, 0, 1, 'q', 0};

	memcpy(out, head, sizeof(head));
	out[9] = (uint8_t)(alen >> 24);
	out[10] = (uint8_t)(alen >> 16);
	out[11] = (uint8_t)(alen >> 8);
	out[12] = (uint8_t)alen;
	memcpy(out + 13, args, alen);
	return 13 + alen;
}

START_TEST(test_bad_tables_in_methods)
{
	static const uint8_t valid_types[] = "tbBsuIilLfdDSATFVx";
	uint8_t args[64], pl[128];
	struct am_method m;
	size_t n;
	int t;

	/* every type octet outside RabbitMQ's set is a syntax error */
	for (t = 0; t < 256; t++) {
		if (memchr(valid_types, t, sizeof(valid_types) - 1) != NULL)
			continue;
		args[0] = 1, args[1] = 'k', args[2] = (uint8_t)t;
		memset(args + 3, 0, 8);
		n = queue_declare_with_args(args, 3 + 8, pl);
		ck_assert_msg(decode_exact(pl, n, &m) == AM_ERR_SYNTAX, "type %d accepted", t);
	}
	/* 'L' (rabbitmq-c's u64): RabbitMQ 3.10 takes it in message headers
	 * (the differential suite round-trips one), so it is valid */
	memcpy(args, "\x01k" "L" "\0\0\0\0\0\0\0\1", 11);
	ck_assert_int_eq(decode_exact(pl, queue_declare_with_args(args, 11, pl), &m), AM_OK);
	/* a good one for contrast */
	memcpy(args, "\x01k" "l" "\0\0\0\0\0\0\0\1", 11);
	ck_assert_int_eq(decode_exact(pl, queue_declare_with_args(args, 11, pl), &m), AM_OK);

	/* table length runs past the payload */
	n = queue_declare_with_args(args, 11, pl);
	pl[12] = 12;
	ck_assert_int_eq(decode_exact(pl, n, &m), AM_ERR_SYNTAX);
	/* a string length inside the table runs past the table */
	memcpy(args, "\x01k" "S" "\0\0\0\x09" "abcd", 11);
	ck_assert_int_eq(decode_exact(pl, queue_declare_with_args(args, 11, pl), &m), AM_ERR_SYNTAX);
	/* a key length past the table */
	memcpy(args, "\x20k" "V", 3);
	ck_assert_int_eq(decode_exact(pl, queue_declare_with_args(args, 3, pl), &m), AM_ERR_SYNTAX);
	/* a nested table's length past its parent */
	memcpy(args, "\x01k" "F" "\0\0\0\x05" "\x01z" "V", 10);
	ck_assert_int_eq(decode_exact(pl, queue_declare_with_args(args, 10, pl), &m), AM_ERR_SYNTAX);
	memcpy(args, "\x01k" "F" "\0\0\0\x03" "\x01z" "V", 10);
	ck_assert_int_eq(decode_exact(pl, queue_declare_with_args(args, 10, pl), &m), AM_OK);
	/* a key with no value */
	memcpy(args, "\x01k", 2);
	ck_assert_int_eq(decode_exact(pl, queue_declare_with_args(args, 2, pl), &m), AM_ERR_SYNTAX);
	/* an array with a bad element type */
	memcpy(args, "\x01k" "A" "\0\0\0\x02" "Zz", 9);
	ck_assert_int_eq(decode_exact(pl, queue_declare_with_args(args, 9, pl), &m), AM_ERR_SYNTAX);
}
END_TEST

/*
 * The entries of a table holding `levels` nested containers, written outside
 * in: {"k": {"k": ... {}}} or, with arrays, {"k": [[...[]]]}.
 */
static size_t nested(uint8_t *buf, int levels, int arrays)
{
	size_t total = 0, at = 0;
	int i;

	for (i = 0; i < levels; i++)
		total += (arrays && i > 0) ? 5 : 7;
	for (i = 0; i < levels; i++) {
		int keyed = !(arrays && i > 0);
		size_t head = keyed ? 7 : 5, rest = total - at - head;

		if (keyed)
			buf[at++] = 1, buf[at++] = 'k';
		buf[at++] = arrays ? 'A' : 'F';
		buf[at++] = (uint8_t)(rest >> 24);
		buf[at++] = (uint8_t)(rest >> 16);
		buf[at++] = (uint8_t)(rest >> 8);
		buf[at++] = (uint8_t)rest;
	}
	return total;
}

START_TEST(test_nesting_limit)
{
	static uint8_t args[1024], pl[2048];
	struct am_method m;
	size_t n;

	/* the top table holds AM_TABLE_MAX_DEPTH nested tables: fine; one more: not */
	n = nested(args, AM_TABLE_MAX_DEPTH, 0);
	ck_assert_int_eq(decode_exact(pl, queue_declare_with_args(args, n, pl), &m), AM_OK);
	n = nested(args, AM_TABLE_MAX_DEPTH + 1, 0);
	ck_assert_int_eq(decode_exact(pl, queue_declare_with_args(args, n, pl), &m), AM_ERR_SYNTAX);
	/* the same with arrays */
	n = nested(args, AM_TABLE_MAX_DEPTH, 1);
	ck_assert_int_eq(decode_exact(pl, queue_declare_with_args(args, n, pl), &m), AM_OK);
	n = nested(args, AM_TABLE_MAX_DEPTH + 1, 1);
	ck_assert_int_eq(decode_exact(pl, queue_declare_with_args(args, n, pl), &m), AM_ERR_SYNTAX);
	/* a deep nest is refused at the limit, without recursing to its bottom */
	{
		uint8_t *deep = malloc(1000000 * 7), *q;
		struct am_bytes t;

		n = nested(deep, 1000000, 0);
		q = dup_exact(deep, n);
		t.ptr = q;
		t.len = (uint32_t)n;
		ck_assert_int_eq(am_table_validate(t, AM_TABLE_MAX_DEPTH), AM_ERR_SYNTAX);
		ck_assert_int_eq(am_table_validate(t, 0), AM_ERR_SYNTAX);
		t.len = (uint32_t)(1000 * 7); /* cut: the 1000th level's length overruns */
		ck_assert_int_eq(am_table_validate(t, 2000), AM_ERR_SYNTAX);
		free(q);
		n = nested(deep, 1000, 0);
		t.ptr = deep;
		t.len = (uint32_t)n;
		ck_assert_int_eq(am_table_validate(t, 1000), AM_OK);
		ck_assert_int_eq(am_table_validate(t, 999), AM_ERR_SYNTAX);
		free(deep);
	}
	/* max_depth 0: flat tables only */
	{
		struct am_bytes t;

		n = nested(args, 1, 0);
		t.ptr = args;
		t.len = (uint32_t)n;
		ck_assert_int_eq(am_table_validate(t, 0), AM_ERR_SYNTAX);
		ck_assert_int_eq(am_table_validate(t, 1), AM_OK);
	}
}
END_TEST

/* ---- frames -------------------------------------------------------------- */

START_TEST(test_frame_parse)
{
	struct am_method m;
	struct am_frame f;
	size_t flen, i;
	uint8_t *buf;
	long r;

	memset(&m, 0, sizeof(m));
	m.id = AM_BASIC_ACK;
	m.u.basic_ack.delivery_tag = 42;
	m.u.basic_ack.multiple = 1;
	ck_assert_int_eq(am_method_frame_encode(513, &m, g_frame, sizeof(g_frame), &flen), AM_OK);
	/* two frames back to back, then a heartbeat */
	memcpy(g_frame + flen, g_frame, flen);
	memcpy(g_frame + 2 * flen, "\x08\0\0\0\0\0\0\xCE", 8);
	buf = dup_exact(g_frame, 2 * flen + 8);
	r = am_frame_parse(buf, 2 * flen + 8, AM_FRAME_MIN_SIZE, &f);
	ck_assert_int_eq(r, (long)flen);
	ck_assert_uint_eq(f.type, AM_FRAME_METHOD);
	ck_assert_uint_eq(f.channel, 513);
	ck_assert_uint_eq(f.size, flen - 8);
	ck_assert_ptr_eq(f.payload, buf + 7);
	ck_assert_int_eq(am_method_decode(f.payload, f.size, &m), AM_OK);
	ck_assert_uint_eq(m.u.basic_ack.delivery_tag, 42);
	ck_assert_int_eq(am_frame_parse(buf + flen, flen + 8, AM_FRAME_MIN_SIZE, &f), (long)flen);
	ck_assert_int_eq(am_frame_parse(buf + 2 * flen, 8, AM_FRAME_MIN_SIZE, &f), 8);
	ck_assert_uint_eq(f.type, AM_FRAME_HEARTBEAT);
	ck_assert_uint_eq(f.size, 0);
	free(buf);
	/* every prefix: again */
	for (i = 0; i < flen; i++) {
		buf = dup_exact(g_frame, i);
		ck_assert_int_eq(am_frame_parse(buf, i, AM_FRAME_MIN_SIZE, &f), AM_AGAIN);
		free(buf);
	}
	/* bad frame end */
	buf = dup_exact(g_frame, flen);
	buf[flen - 1] = 0xCF;
	ck_assert_int_eq(am_frame_parse(buf, flen, AM_FRAME_MIN_SIZE, &f), AM_ERR_FRAME);
	free(buf);
	/* bad types */
	{
		static const uint8_t types[] = {0, 4, 5, 7, 9, 'A', 0xFF};

		for (i = 0; i < sizeof(types); i++) {
			buf = dup_exact(g_frame, flen);
			buf[0] = types[i];
			ck_assert_int_eq(am_frame_parse(buf, flen, AM_FRAME_MIN_SIZE, &f), AM_ERR_FRAME);
			free(buf);
		}
	}
	/* the protocol header is not a frame */
	buf = dup_exact((const uint8_t *)"AMQP\0\0\x09\x01", 8);
	ck_assert_int_eq(am_frame_parse(buf, 8, AM_FRAME_MIN_SIZE, &f), AM_ERR_FRAME);
	free(buf);
}
END_TEST

START_TEST(test_frame_size_limit)
{
	uint8_t hdr[7] = {AM_FRAME_BODY, 0, 1, 0, 0, 0, 0};
	static uint8_t big[AM_FRAME_MIN_SIZE + 16];
	struct am_frame f;
	uint32_t size;

	/* oversized: refused from the header alone */
	size = AM_FRAME_MIN_SIZE - 7; /* total = frame_max + 1 */
	hdr[3] = (uint8_t)(size >> 24), hdr[4] = (uint8_t)(size >> 16);
	hdr[5] = (uint8_t)(size >> 8), hdr[6] = (uint8_t)size;
	ck_assert_int_eq(am_frame_parse(hdr, 7, AM_FRAME_MIN_SIZE, &f), AM_ERR_FRAME);
	/* exactly frame_max: accepted */
	size = AM_FRAME_MIN_SIZE - 8;
	memcpy(big, hdr, 7);
	big[3] = (uint8_t)(size >> 24), big[4] = (uint8_t)(size >> 16);
	big[5] = (uint8_t)(size >> 8), big[6] = (uint8_t)size;
	big[7 + size] = AM_FRAME_END;
	ck_assert_int_eq(am_frame_parse(big, 7, AM_FRAME_MIN_SIZE, &f), AM_AGAIN);
	ck_assert_int_eq(am_frame_parse(big, size + 8, AM_FRAME_MIN_SIZE, &f), AM_FRAME_MIN_SIZE);
	ck_assert_int_eq(am_frame_parse(big, size + 8, AM_FRAME_MIN_SIZE - 1, &f), AM_ERR_FRAME);
	/* the largest header: refused under any limit, waits with none */
	memset(hdr + 3, 0xFF, 4);
	ck_assert_int_eq(am_frame_parse(hdr, 7, 131072, &f), AM_ERR_FRAME);
	ck_assert_int_eq(am_frame_parse(hdr, 7, UINT32_MAX, &f), AM_ERR_FRAME);
	ck_assert_int_eq(am_frame_parse(hdr, 7, 0, &f), AM_AGAIN);
}
END_TEST

/* ---- content headers ------------------------------------------------------ */

static const struct pmap {
	uint16_t flag;
	amqp_flags_t rmq_flag;
	enum kind kind;
	size_t ours, theirs;
} pmaps[] = {
#define PM(F, K, field) \
	{AM_P_##F, AMQP_BASIC_##F##_FLAG, K_##K, offsetof(struct am_basic_props, field), \
	 offsetof(amqp_basic_properties_t, field)}
	PM(CONTENT_TYPE, SSTR, content_type),
	PM(CONTENT_ENCODING, SSTR, content_encoding),
	PM(HEADERS, TABLE, headers),
	PM(DELIVERY_MODE, OCT, delivery_mode),
	PM(PRIORITY, OCT, priority),
	PM(CORRELATION_ID, SSTR, correlation_id),
	PM(REPLY_TO, SSTR, reply_to),
	PM(EXPIRATION, SSTR, expiration),
	PM(MESSAGE_ID, SSTR, message_id),
	PM(TIMESTAMP, LL, timestamp),
	PM(TYPE, SSTR, type),
	PM(USER_ID, SSTR, user_id),
	PM(APP_ID, SSTR, app_id),
	PM(CLUSTER_ID, SSTR, cluster_id),
#undef PM
};

/* seed 0: all set, 1: none, others: a random subset. */
static void fill_props(uint64_t seed, struct am_basic_props *p, amqp_basic_properties_t *t,
		       amqp_pool_t *pool)
{
	size_t i, used = 0;

	rnd_seed(seed);
	memset(p, 0, sizeof(*p));
	memset(t, 0, sizeof(*t));
	for (i = 0; i < sizeof(pmaps) / sizeof(pmaps[0]); i++) {
		const struct pmap *pm = &pmaps[i];
		uint8_t *o = (uint8_t *)p + pm->ours, *th = (uint8_t *)t + pm->theirs;
		struct am_bytes *b = (struct am_bytes *)o;
		size_t n, j, off = 0;
		amqp_bytes_t enc;

		if (seed == 1 || (seed > 1 && rnd() % 2))
			continue;
		p->flags |= pm->flag;
		t->_flags |= pm->rmq_flag;
		switch (pm->kind) {
		case K_OCT:
			*o = *th = (uint8_t)rnd();
			break;
		case K_LL:
			*(uint64_t *)o = *(uint64_t *)th = rnd();
			break;
		case K_SSTR:
			n = rnd() % 256;
			for (j = 0; j < n; j++)
				g_store[used + j] = (uint8_t)rnd();
			b->ptr = g_store + used;
			b->len = (uint32_t)n;
			used += n;
			*(amqp_bytes_t *)th = to_rmq(*b);
			break;
		case K_TABLE:
			*b = build_rich_table(g_tables, sizeof(g_tables));
			enc.len = prefixed(*b, g_tabbuf);
			enc.bytes = g_tabbuf;
			ck_assert_int_eq(amqp_decode_table(enc, pool, (amqp_table_t *)th, &off), 0);
			break;
		default:
			ck_abort();
		}
	}
}

static void check_props(const struct am_basic_props *got, const struct am_basic_props *want)
{
	size_t i;

	ck_assert_uint_eq(got->flags, want->flags);
	for (i = 0; i < sizeof(pmaps) / sizeof(pmaps[0]); i++) {
		const struct pmap *pm = &pmaps[i];
		const uint8_t *g = (const uint8_t *)got + pm->ours, *w = (const uint8_t *)want + pm->ours;

		if (!(want->flags & pm->flag))
			continue;
		switch (pm->kind) {
		case K_OCT:
			ck_assert_uint_eq(*g, *w);
			break;
		case K_LL:
			ck_assert_uint_eq(*(const uint64_t *)g, *(const uint64_t *)w);
			break;
		default:
			ck_assert(bytes_eq(*(const struct am_bytes *)g, ((const struct am_bytes *)w)->ptr,
					   ((const struct am_bytes *)w)->len));
		}
	}
}

START_TEST(test_props_rmq_to_ours)
{
	amqp_pool_t pool;
	uint64_t seed;

	init_amqp_pool(&pool, 4096);
	for (seed = 0; seed < 200; seed++) {
		struct am_basic_props want;
		amqp_basic_properties_t theirs;
		struct am_content_header h;
		static uint8_t pl[1 << 16];
		amqp_bytes_t out = {sizeof(pl) - 12, pl + 12};
		uint8_t *copy;
		int n;

		fill_props(seed, &want, &theirs, &pool);
		n = amqp_encode_properties(AMQP_BASIC_CLASS, &theirs, out);
		ck_assert_int_ge(n, 2);
		memcpy(pl, "\0\x3c\0\0\0\0\0\x01\x02\x03\x04\x05", 12);
		copy = dup_exact(pl, 12 + (size_t)n);
		ck_assert_int_eq(am_content_header_decode(copy, 12 + (size_t)n, &h), AM_OK);
		ck_assert_uint_eq(h.class_id, 60);
		ck_assert_uint_eq(h.weight, 0);
		ck_assert_uint_eq(h.body_size, 0x0102030405ULL);
		check_props(&h.props, &want);
		if (want.flags & AM_P_HEADERS)
			ck_assert(cmp_rmq_table(&theirs.headers, h.props.headers, 0));
		free(copy);
		recycle_amqp_pool(&pool);
	}
	empty_amqp_pool(&pool);
}
END_TEST

START_TEST(test_props_ours_to_rmq)
{
	amqp_pool_t pool;
	uint64_t seed;

	init_amqp_pool(&pool, 4096);
	for (seed = 0; seed < 200; seed++) {
		struct am_basic_props want;
		amqp_basic_properties_t theirs, *dec = NULL;
		static uint8_t pl[1 << 16], rpl[1 << 16];
		amqp_bytes_t in, out = {sizeof(rpl), rpl};
		size_t len, i;
		int n;

		fill_props(seed, &want, &theirs, &pool);
		ck_assert_int_eq(am_content_header_encode(999, &want, pl, sizeof(pl), &len), AM_OK);
		ck_assert_mem_eq(pl, "\0\x3c\0\0\0\0\0\0\0\0\x03\xe7", 12);
		in.len = len - 12;
		in.bytes = pl + 12;
		ck_assert_int_eq(amqp_decode_properties(AMQP_BASIC_CLASS, &pool, in, (void **)&dec), 0);
		ck_assert_uint_eq(dec->_flags, theirs._flags);
		for (i = 0; i < sizeof(pmaps) / sizeof(pmaps[0]); i++) {
			const struct pmap *pm = &pmaps[i];
			const uint8_t *w = (const uint8_t *)&want + pm->ours;
			const uint8_t *t = (const uint8_t *)dec + pm->theirs;

			if (!(want.flags & pm->flag))
				continue;
			if (pm->kind == K_OCT)
				ck_assert_uint_eq(*t, *w);
			else if (pm->kind == K_LL)
				ck_assert_uint_eq(*(const uint64_t *)t, *(const uint64_t *)w);
			else if (pm->kind == K_SSTR)
				ck_assert(bytes_eq(*(const struct am_bytes *)w, ((const amqp_bytes_t *)t)->bytes,
						   ((const amqp_bytes_t *)t)->len));
			else
				ck_assert(rmq_table_eq((amqp_table_t *)t, *(const struct am_bytes *)w));
		}
		/* byte for byte */
		n = amqp_encode_properties(AMQP_BASIC_CLASS, &theirs, out);
		ck_assert_int_eq(n, (int)(len - 12));
		ck_assert_mem_eq(rpl, pl + 12, (size_t)n);
		recycle_amqp_pool(&pool);
	}
	empty_amqp_pool(&pool);
}
END_TEST

START_TEST(test_props_negative)
{
	struct am_basic_props p;
	struct am_content_header h;
	static uint8_t pl[4096];
	uint8_t *copy;
	size_t len, i;
	amqp_pool_t pool;
	amqp_basic_properties_t theirs;

	init_amqp_pool(&pool, 4096);
	fill_props(0, &p, &theirs, &pool); /* all 14 */
	ck_assert_int_eq(am_content_header_encode(5, &p, pl, sizeof(pl), &len), AM_OK);
	/* truncation at every length; trailing byte */
	for (i = 0; i < len; i++) {
		copy = dup_exact(pl, i);
		ck_assert_msg(am_content_header_decode(copy, i, &h) == AM_ERR_SYNTAX, "prefix %zu", i);
		free(copy);
	}
	pl[len] = 0;
	copy = dup_exact(pl, len + 1);
	ck_assert_int_eq(am_content_header_decode(copy, len + 1, &h), AM_ERR_SYNTAX);
	free(copy);
	/* encode into every short buffer */
	for (i = 0; i < len; i++) {
		uint8_t *b = malloc(i ? i : 1);
		size_t out;

		ck_assert_int_eq(am_content_header_encode(5, &p, b, i, &out), AM_ERR_NOSPACE);
		free(b);
	}
	/* shortstr over 255 */
	{
		uint8_t big[256] = {0};

		p.app_id.ptr = big;
		p.app_id.len = 256;
		ck_assert_int_eq(am_content_header_encode(5, &p, pl, sizeof(pl), &len), AM_ERR_RANGE);
	}
	empty_amqp_pool(&pool);

	/* continuation words */
	{
		static const uint8_t none_cont[] = {0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0x00, 0x01, 0x00, 0x00};
		static const uint8_t two_cont[] = {0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9,
						   0x10, 0x01, 0x00, 0x01, 0x00, 0x00, 2};
		static const uint8_t extra_prop[] = {0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0x00, 0x01, 0x80, 0x00};
		static const uint8_t cont_missing[] = {0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0x00, 0x01};
		static const uint8_t reserved_bit[] = {0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0x00, 0x02};

		copy = dup_exact(none_cont, sizeof(none_cont));
		ck_assert_int_eq(am_content_header_decode(copy, sizeof(none_cont), &h), AM_OK);
		ck_assert_uint_eq(h.props.flags, 0);
		ck_assert_uint_eq(h.body_size, 9);
		free(copy);
		copy = dup_exact(two_cont, sizeof(two_cont));
		ck_assert_int_eq(am_content_header_decode(copy, sizeof(two_cont), &h), AM_OK);
		ck_assert_uint_eq(h.props.flags, AM_P_DELIVERY_MODE);
		ck_assert_uint_eq(h.props.delivery_mode, 2);
		free(copy);
		copy = dup_exact(extra_prop, sizeof(extra_prop));
		ck_assert_int_eq(am_content_header_decode(copy, sizeof(extra_prop), &h), AM_ERR_SYNTAX);
		free(copy);
		copy = dup_exact(cont_missing, sizeof(cont_missing));
		ck_assert_int_eq(am_content_header_decode(copy, sizeof(cont_missing), &h), AM_ERR_SYNTAX);
		free(copy);
		copy = dup_exact(reserved_bit, sizeof(reserved_bit));
		ck_assert_int_eq(am_content_header_decode(copy, sizeof(reserved_bit), &h), AM_OK);
		ck_assert_uint_eq(h.props.flags, 0);
		free(copy);
		/* rabbitmq-c reads a continuation header the same way */
		{
			amqp_bytes_t in = {sizeof(two_cont) - 12, (void *)(two_cont + 12)};
			amqp_basic_properties_t *dec = NULL;

			init_amqp_pool(&pool, 4096);
			ck_assert_int_eq(amqp_decode_properties(60, &pool, in, (void **)&dec), 0);
			ck_assert_uint_eq(dec->delivery_mode, 2);
			empty_amqp_pool(&pool);
		}
	}
	/* bad headers table */
	{
		static const uint8_t bad_headers[] = {0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0x20, 0x00,
						      0, 0, 0, 3, 1, 'k', 'Q'};

		copy = dup_exact(bad_headers, sizeof(bad_headers));
		ck_assert_int_eq(am_content_header_decode(copy, sizeof(bad_headers), &h), AM_ERR_SYNTAX);
		free(copy);
	}
}
END_TEST

/* ---- field tables ------------------------------------------------------- */

START_TEST(test_table_rmq_to_ours)
{
	amqp_table_t t = rmq_rich_table();
	static uint8_t buf[4096];
	amqp_bytes_t enc = {sizeof(buf), buf};
	size_t off = 0;
	struct am_bytes raw;
	struct am_value v;
	uint8_t *copy;

	ck_assert_int_eq(amqp_encode_table(enc, &t, &off), AMQP_STATUS_OK);
	copy = dup_exact(buf + 4, off - 4);
	raw.ptr = copy;
	raw.len = (uint32_t)(off - 4);
	ck_assert_int_eq(am_table_validate(raw, AM_TABLE_MAX_DEPTH), AM_OK);
	ck_assert_int_eq(am_table_validate(raw, 2), AM_OK);   /* arr -> [A [l]] is 2 deep */
	ck_assert_int_eq(am_table_validate(raw, 1), AM_ERR_SYNTAX);
	ck_assert(cmp_rmq_table(&t, raw, 0));
	ck_assert_uint_eq(am_table_count(raw), RICH_TABLE_ENTRIES);
	/* lookups */
	ck_assert_int_eq(am_table_get(raw, "u32", &v), 1);
	ck_assert_uint_eq(v.type, 'i');
	ck_assert_uint_eq(v.v.u, 4000000000u);
	ck_assert_uint_eq(v.raw.len, 4);
	ck_assert_int_eq(am_table_get(raw, "i64", &v), 1);
	ck_assert_int_eq(v.v.i, -9000000000000000000LL);
	ck_assert_int_eq(am_table_get(raw, "dec", &v), 1);
	ck_assert_uint_eq(v.v.dec.scale, 2);
	ck_assert_uint_eq(v.v.dec.value, 12345);
	ck_assert_int_eq(am_table_get(raw, "ts", &v), 1);
	ck_assert_uint_eq(v.type, 'T');
	ck_assert_uint_eq(v.v.u, 1700000000);
	ck_assert_int_eq(am_table_get(raw, "bytes", &v), 1);
	ck_assert_uint_eq(v.type, 'x');
	ck_assert(bytes_eq(v.v.bytes, "\x00\x01\xFF", 3));
	ck_assert_uint_eq(v.raw.len, 7);
	ck_assert_int_eq(am_table_get(raw, "f32", &v), 1);
	ck_assert(v.v.f == 1.5f);
	ck_assert_int_eq(am_table_get(raw, "f64", &v), 1);
	ck_assert(v.v.d == -2.25);
	ck_assert_int_eq(am_table_get(raw, "tbl", &v), 1);
	ck_assert_uint_eq(v.type, 'F');
	{
		struct am_value w;

		ck_assert_int_eq(am_table_get(v.v.bytes, "deep", &w), 1);
		ck_assert_int_eq(am_table_get(w.v.bytes, "x", &w), 1);
		ck_assert_int_eq(w.v.i, 1);
	}
	{
		struct am_table_iter it;
		int n = 0;

		ck_assert_int_eq(am_table_get(raw, "arr", &v), 1);
		am_array_iter_init(&it, v.v.bytes);
		while (am_table_next(&it, NULL, &v)) /* keys not wanted */
			n++;
		ck_assert_int_eq(n, 5);
		am_table_iter_init(&it, raw);
		for (n = 0; am_table_next(&it, NULL, &v); n++)
			;
		ck_assert_int_eq(n, RICH_TABLE_ENTRIES);
	}
	ck_assert_int_eq(am_table_get(raw, "nope", &v), 0);
	ck_assert_int_eq(am_table_get(raw, "u3", &v), 0);
	ck_assert_int_eq(am_table_get(raw, "u320", &v), 0);
	free(copy);
}
END_TEST

START_TEST(test_table_ours_to_rmq)
{
	static uint8_t buf[4096];
	amqp_table_t want = rmq_rich_table(), got;
	amqp_pool_t pool;
	struct am_bytes raw;
	amqp_bytes_t enc;
	size_t off = 0;
	static uint8_t rbuf[4096];
	amqp_bytes_t renc = {sizeof(rbuf), rbuf};
	size_t roff = 0;

	raw = build_rich_table(buf, sizeof(buf));
	ck_assert_ptr_eq(raw.ptr, buf + 4); /* prefix written at buf[0..4) */
	ck_assert_uint_eq((uint32_t)(buf[0] << 24 | buf[1] << 16 | buf[2] << 8 | buf[3]), raw.len);
	ck_assert_int_eq(am_table_validate(raw, AM_TABLE_MAX_DEPTH), AM_OK);
	init_amqp_pool(&pool, 4096);
	enc.len = raw.len + 4;
	enc.bytes = buf;
	ck_assert_int_eq(amqp_decode_table(enc, &pool, &got, &off), AMQP_STATUS_OK);
	ck_assert_uint_eq(off, enc.len);
	ck_assert(cmp_rmq_table(&got, raw, 0));
	/* and byte for byte what rabbitmq-c would write */
	ck_assert_int_eq(amqp_encode_table(renc, &want, &roff), AMQP_STATUS_OK);
	ck_assert_uint_eq(roff, enc.len);
	ck_assert_mem_eq(rbuf, buf, roff);
	empty_amqp_pool(&pool);
}
END_TEST

START_TEST(test_table_builder_errors)
{
	static uint8_t buf[4096], ref[4096];
	struct am_bytes out, full;
	struct am_tb tb;
	char key[300];
	size_t cap;

	/* the exact size suffices */
	full = build_rich_table(ref, sizeof(ref));
	{
		uint8_t *b = malloc(full.len + 4);
		struct am_bytes got;

		got = build_rich_table(b, full.len + 4);
		ck_assert_mem_eq(got.ptr, full.ptr, full.len);
		free(b);
	}
	(void)cap;
	/* empty table */
	am_tb_init(&tb, buf, 4);
	ck_assert_int_eq(am_tb_finish(&tb, &out), AM_OK);
	ck_assert_uint_eq(out.len, 0);
	ck_assert_ptr_eq(out.ptr, buf + 4);
	ck_assert_mem_eq(buf, "\0\0\0\0", 4);
	am_tb_init(&tb, buf, 3);
	ck_assert_int_eq(am_tb_finish(&tb, &out), AM_ERR_NOSPACE);
	am_tb_init(&tb, buf, 10);
	am_tb_str(&tb, "key", "value", 5);
	am_tb_bool(&tb, "b", 1); /* would fit, but the error is sticky */
	ck_assert_int_eq(am_tb_finish(&tb, &out), AM_ERR_NOSPACE);
	/* key of 256 bytes */
	memset(key, 'k', sizeof(key));
	key[256] = 0;
	am_tb_init(&tb, buf, sizeof(buf));
	am_tb_bool(&tb, key, 1);
	ck_assert_int_eq(am_tb_finish(&tb, &out), AM_ERR_RANGE);
	key[255] = 0;
	am_tb_init(&tb, buf, sizeof(buf));
	am_tb_bool(&tb, key, 1);
	ck_assert_int_eq(am_tb_finish(&tb, &out), AM_OK);
	ck_assert_uint_eq(out.len, 1 + 255 + 2);
	/* unbalanced */
	am_tb_init(&tb, buf, sizeof(buf));
	am_tb_table_begin(&tb, "t");
	ck_assert_int_eq(am_tb_finish(&tb, &out), AM_ERR_RANGE);
	am_tb_init(&tb, buf, sizeof(buf));
	am_tb_table_end(&tb);
	ck_assert_int_eq(am_tb_finish(&tb, &out), AM_ERR_RANGE);
	/* nesting: AM_TABLE_MAX_DEPTH fine, one more not */
	{
		int i;

		am_tb_init(&tb, buf, sizeof(buf));
		/* the builder nests as deep as a decoder accepts (the HTTP API
		 * builds its tables with it) and no deeper */
		for (i = 0; i < AM_TABLE_MAX_DEPTH; i++)
			am_tb_table_begin(&tb, "n");
		for (i = 0; i < AM_TABLE_MAX_DEPTH; i++)
			am_tb_table_end(&tb);
		ck_assert_int_eq(am_tb_finish(&tb, &out), AM_OK);
		ck_assert_int_eq(am_table_validate(out, AM_TABLE_MAX_DEPTH), AM_OK);
		ck_assert_int_eq(am_table_validate(out, AM_TABLE_MAX_DEPTH - 1), AM_ERR_SYNTAX);
		am_tb_init(&tb, buf, sizeof(buf));
		for (i = 0; i < AM_TABLE_MAX_DEPTH + 1; i++)
			am_tb_table_begin(&tb, "n");
		for (i = 0; i < AM_TABLE_MAX_DEPTH + 1; i++)
			am_tb_table_end(&tb);
		ck_assert_int_eq(am_tb_finish(&tb, &out), AM_ERR_RANGE);
	}
}
END_TEST

/* A small build touching every builder call; its status. */
static int small_build(uint8_t *b, size_t cap, struct am_bytes *out)
{
	static const uint8_t raw[1] = {0x80};
	struct am_tb tb;

	am_tb_init(&tb, b, cap);
	am_tb_bool(&tb, "bool", 1);
	am_tb_raw(&tb, "i8", 'b', raw, 1);
	am_tb_str(&tb, "str", "hello", 5);
	am_tb_int(&tb, "int", -1);
	am_tb_table_begin(&tb, "tbl");
	am_tb_long(&tb, "l", 5);
	am_tb_table_end(&tb);
	am_tb_array_begin(&tb, "arr");
	am_tb_timestamp(&tb, NULL, 5);
	am_tb_array_end(&tb);
	return am_tb_finish(&tb, out);
}

START_TEST(test_table_builder_nospace_every_cap)
{
	static uint8_t ref[4096];
	struct am_bytes full, out;
	size_t cap;

	ck_assert_int_eq(small_build(ref, sizeof(ref), &full), AM_OK);
	ck_assert_int_eq(am_table_validate(full, 1), AM_OK);
	ck_assert_uint_eq(am_table_count(full), 6);
	for (cap = 0; cap <= full.len + 4; cap++) {
		uint8_t *b = malloc(cap ? cap : 1);

		if (cap < full.len + 4) {
			ck_assert_int_eq(small_build(b, cap, &out), AM_ERR_NOSPACE);
		} else {
			ck_assert_int_eq(small_build(b, cap, &out), AM_OK);
			ck_assert_mem_eq(b, ref, cap);
		}
		free(b);
	}
}
END_TEST

START_TEST(test_table_iter_truncated)
{
	/* Every prefix of a valid table is either a shorter valid table or refused. */
	static uint8_t buf[4096];
	struct am_bytes full = build_rich_table(buf, sizeof(buf));
	uint32_t len;
	int valid = 0;

	for (len = 0; len < full.len; len++) {
		uint8_t *q = dup_exact(full.ptr, len);
		struct am_bytes t = {q, len};
		struct am_table_iter it;
		struct am_bytes k;
		struct am_value v;
		size_t n = 0;

		if (am_table_validate(t, AM_TABLE_MAX_DEPTH) == AM_OK) {
			valid++;
			ck_assert_uint_lt(am_table_count(t), RICH_TABLE_ENTRIES);
		}
		/* iteration of an unvalidated table stays in bounds */
		am_table_iter_init(&it, t);
		while (am_table_next(&it, &k, &v))
			n++;
		ck_assert_uint_lt(n, RICH_TABLE_ENTRIES);
		free(q);
	}
	ck_assert_int_eq(valid, RICH_TABLE_ENTRIES); /* one per entry boundary, incl. empty */
}
END_TEST

static Suite *codec_suite(void)
{
	Suite *s = suite_create("codec");
	TCase *tc;

	tc = tcase_create("rabbitmq-c oracle");
	tcase_add_test(tc, test_table_matches_rabbitmq_c);
	tcase_add_loop_test(tc, test_rmq_encode_ours_decode, 0, NMAPS);
	tcase_add_loop_test(tc, test_ours_encode_rmq_decode, 0, NMAPS);
	tcase_add_test(tc, test_props_rmq_to_ours);
	tcase_add_test(tc, test_props_ours_to_rmq);
	tcase_add_test(tc, test_table_rmq_to_ours);
	tcase_add_test(tc, test_table_ours_to_rmq);
	suite_add_tcase(s, tc);

	tc = tcase_create("methods");
	tcase_add_loop_test(tc, test_truncation_and_trailing, 0, NMAPS);
	tcase_add_loop_test(tc, test_encode_nospace, 0, NMAPS);
	tcase_add_test(tc, test_update_secret);
	tcase_add_test(tc, test_bits_share_octet);
	tcase_add_test(tc, test_unknown_method);
	tcase_add_test(tc, test_shortstr_range);
	tcase_add_test(tc, test_bad_tables_in_methods);
	tcase_add_test(tc, test_nesting_limit);
	suite_add_tcase(s, tc);

	tc = tcase_create("frames and headers");
	tcase_add_test(tc, test_frame_parse);
	tcase_add_test(tc, test_frame_size_limit);
	tcase_add_test(tc, test_props_negative);
	suite_add_tcase(s, tc);

	tc = tcase_create("tables");
	tcase_add_test(tc, test_table_builder_errors);
	tcase_add_test(tc, test_table_builder_nospace_every_cap);
	tcase_add_test(tc, test_table_iter_truncated);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(codec_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
