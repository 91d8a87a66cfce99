/*
 * AMQP field tables and arrays in wire form: validation (with a nesting
 * limit), iteration, lookup and a builder.  Tables are never unpacked into
 * a tree: a decoded method keeps its tables as borrowed bytes and readers
 * walk them.  Types are RabbitMQ's (the 0-9-1 errata): t b B s u I i l f d
 * D S A T F V x.
 *
 * Must not depend on: libevent, src/core, src/net; no allocation.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "codec.h"
#include "codec_internal.h"

/*
 * Parses the value of type `type` at p[0..avail) (the bytes after the type
 * octet) into v and sets *used to the bytes it takes.  0, or -1 if the type
 * is unknown or the value overruns.  Nested tables and arrays are not looked
 * into.
 */
static int am_value_parse(uint8_t type, const uint8_t *p, size_t avail, struct am_value *v,
			  size_t *used)
{
	size_t n;
	uint32_t u32;
	uint64_t u64;

	v->type = type;
	switch (type) {
	case 't':
	case 'b':
	case 'B':
		n = 1;
		if (avail < n)
			return -1;
		if (type == 't')
			v->v.i = p[0] != 0;
		else if (type == 'b')
			v->v.i = (int8_t)p[0];
		else
			v->v.u = p[0];
		break;
	case 's':
	case 'u':
		n = 2;
		if (avail < n)
			return -1;
		if (type == 's')
			v->v.i = (int16_t)am_rd16(p);
		else
			v->v.u = am_rd16(p);
		break;
	case 'I':
	case 'i':
	case 'f':
		n = 4;
		if (avail < n)
			return -1;
		u32 = am_rd32(p);
		if (type == 'I')
			v->v.i = (int32_t)u32;
		else if (type == 'i')
			v->v.u = u32;
		else
			memcpy(&v->v.f, &u32, sizeof(float));
		break;
	case 'l':
	case 'L': /* unsigned 64-bit: rabbitmq-c's U64, which RabbitMQ passes through */
	case 'T':
	case 'd':
		n = 8;
		if (avail < n)
			return -1;
		u64 = am_rd64(p);
		if (type == 'l')
			v->v.i = (int64_t)u64;
		else if (type == 'T' || type == 'L')
			v->v.u = u64;
		else
			memcpy(&v->v.d, &u64, sizeof(double));
		break;
	case 'D':
		n = 5;
		if (avail < n)
			return -1;
		v->v.dec.scale = p[0];
		v->v.dec.value = am_rd32(p + 1);
		break;
	case 'V':
		n = 0;
		break;
	case 'S':
	case 'x':
	case 'F':
	case 'A':
		if (avail < 4 || am_rd32(p) > avail - 4)
			return -1;
		n = 4 + (size_t)am_rd32(p);
		v->v.bytes.ptr = p + 4;
		v->v.bytes.len = (uint32_t)(n - 4);
		break;
	default:
		return -1;
	}
	v->raw.ptr = p;
	v->raw.len = (uint32_t)n;
	*used = n;
	return 0;
}

int am_value_decode(uint8_t type, struct am_bytes raw, struct am_value *v)
{
	size_t used;

	if (am_value_parse(type, raw.ptr, raw.len, v, &used) < 0 || used != raw.len)
		return AM_ERR_SYNTAX;
	return AM_OK;
}

/* Reads the next entry of a table (key != NULL) or array (key == NULL). */
static int am_entry_next(struct am_bytes *rest, struct am_bytes *key, struct am_value *v)
{
	const uint8_t *p = rest->ptr;
	size_t avail = rest->len, at = 0, n;

	if (key) {
		if (avail < 1 || p[0] > avail - 1)
			return -1;
		key->ptr = p + 1;
		key->len = p[0];
		at = 1 + (size_t)p[0];
	}
	if (avail - at < 1)
		return -1;
	if (am_value_parse(p[at], p + at + 1, avail - at - 1, v, &n) < 0)
		return -1;
	at += 1 + n;
	rest->ptr = p + at;
	rest->len = (uint32_t)(avail - at);
	return 0;
}

static int am_validate(struct am_bytes b, int is_array, int max_depth)
{
	struct am_bytes key;
	struct am_value v;

	while (b.len) {
		if (am_entry_next(&b, is_array ? NULL : &key, &v) < 0)
			return AM_ERR_SYNTAX;
		if (v.type == 'F' || v.type == 'A') {
			if (max_depth <= 0 ||
			    am_validate(v.v.bytes, v.type == 'A', max_depth - 1) != AM_OK)
				return AM_ERR_SYNTAX;
		}
	}
	return AM_OK;
}

int am_table_validate(struct am_bytes table, int max_depth)
{
	return am_validate(table, 0, max_depth);
}

int am_array_validate(struct am_bytes array, int max_depth)
{
	return am_validate(array, 1, max_depth);
}

void am_table_iter_init(struct am_table_iter *it, struct am_bytes table)
{
	it->rest = table;
	it->is_array = 0;
}

void am_array_iter_init(struct am_table_iter *it, struct am_bytes array)
{
	it->rest = array;
	it->is_array = 1;
}

int am_table_next(struct am_table_iter *it, struct am_bytes *key, struct am_value *v)
{
	struct am_bytes unused;

	if (!it->rest.len)
		return 0;
	if (!key)
		key = &unused; /* the caller does not want keys */
	if (it->is_array) {
		key->ptr = NULL;
		key->len = 0;
	}
	if (am_entry_next(&it->rest, it->is_array ? NULL : key, v) < 0) {
		it->rest.len = 0; /* malformed: stop for good */
		return 0;
	}
	return 1;
}

int am_table_get(struct am_bytes table, const char *key, struct am_value *v)
{
	struct am_table_iter it;
	struct am_bytes k;
	size_t klen = strlen(key);

	am_table_iter_init(&it, table);
	while (am_table_next(&it, &k, v))
		if (k.len == klen && memcmp(k.ptr, key, klen) == 0)
			return 1;
	return 0;
}

size_t am_table_count(struct am_bytes table)
{
	struct am_table_iter it;
	struct am_bytes k;
	struct am_value v;
	size_t n = 0;

	am_table_iter_init(&it, table);
	while (am_table_next(&it, &k, &v))
		n++;
	return n;
}

/* RabbitMQ's spelling of each field type, as its error texts show it. */
const char *am_type_word(uint8_t t)
{
	switch (t) {
	case 'I': return "signedint";
	case 'i': return "unsignedint";
	case 'l': return "long";
	case 'L': return "unsignedlong";
	case 's': return "short";
	case 'u': return "unsignedshort";
	case 'b': return "byte";
	case 'B': return "unsignedbyte";
	case 'S': return "longstr";
	case 't': return "bool";
	case 'f': return "float";
	case 'd': return "double";
	case 'D': return "decimal";
	case 'T': return "timestamp";
	case 'F': return "table";
	case 'A': return "array";
	case 'x': return "binary";
	default: return "void";
	}
}

int am_int_value(const struct am_value *v, int64_t *out)
{
	switch (v->type) {
	case 'b': case 's': case 'I': case 'l':
		*out = v->v.i;
		return 0;
	case 'B': case 'u': case 'i': case 'L':
		if (v->v.u > INT64_MAX)
			return -1;
		*out = (int64_t)v->v.u;
		return 0;
	default:
		return -1;
	}
}

/* ---- builder ------------------------------------------------------------ */

static void am_tb_fail(struct am_tb *tb, int err)
{
	if (!tb->error)
		tb->error = err;
}

/* Reserves n bytes; NULL (and a sticky error) if they do not fit. */
static uint8_t *am_tb_room(struct am_tb *tb, size_t n)
{
	uint8_t *p;

	if (tb->error)
		return NULL;
	if (n > tb->cap - tb->len) {
		am_tb_fail(tb, AM_ERR_NOSPACE);
		return NULL;
	}
	p = tb->buf + tb->len;
	tb->len += n;
	return p;
}

/* Writes the key (if any), the type octet, and reserves vlen value bytes. */
static uint8_t *am_tb_entry(struct am_tb *tb, const char *key, uint8_t type, size_t vlen)
{
	size_t klen = key ? strlen(key) : 0;
	size_t head = key ? 1 + klen : 0;
	uint8_t *p;

	if (klen > 255) {
		am_tb_fail(tb, AM_ERR_RANGE);
		return NULL;
	}
	if (vlen > SIZE_MAX - head - 1) {
		am_tb_fail(tb, AM_ERR_RANGE);
		return NULL;
	}
	p = am_tb_room(tb, head + 1 + vlen);
	if (!p)
		return NULL;
	if (key) {
		p[0] = (uint8_t)klen;
		memcpy(p + 1, key, klen);
	}
	p[head] = type;
	return p + head + 1;
}

void am_tb_init(struct am_tb *tb, uint8_t *buf, size_t cap)
{
	tb->buf = buf;
	tb->cap = cap;
	tb->len = 0;
	tb->depth = 0;
	tb->error = 0;
	am_tb_room(tb, 4); /* the outer table's length, written by am_tb_finish */
}

void am_tb_raw(struct am_tb *tb, const char *key, uint8_t type, const uint8_t *val, size_t len)
{
	uint8_t *p = am_tb_entry(tb, key, type, len);

	if (p && len)
		memcpy(p, val, len);
}

void am_tb_str(struct am_tb *tb, const char *key, const char *s, size_t len)
{
	uint8_t *p;

	if (len > UINT32_MAX) {
		am_tb_fail(tb, AM_ERR_RANGE);
		return;
	}
	p = am_tb_entry(tb, key, 'S', 4 + len);
	if (!p)
		return;
	am_wr32(p, (uint32_t)len);
	if (len)
		memcpy(p + 4, s, len);
}

void am_tb_bool(struct am_tb *tb, const char *key, int b)
{
	uint8_t *p = am_tb_entry(tb, key, 't', 1);

	if (p)
		p[0] = b != 0;
}

void am_tb_long(struct am_tb *tb, const char *key, int64_t v)
{
	uint8_t *p = am_tb_entry(tb, key, 'l', 8);

	if (p)
		am_wr64(p, (uint64_t)v);
}

void am_tb_int(struct am_tb *tb, const char *key, int32_t v)
{
	uint8_t *p = am_tb_entry(tb, key, 'I', 4);

	if (p)
		am_wr32(p, (uint32_t)v);
}

void am_tb_timestamp(struct am_tb *tb, const char *key, uint64_t v)
{
	uint8_t *p = am_tb_entry(tb, key, 'T', 8);

	if (p)
		am_wr64(p, v);
}

static void am_tb_open(struct am_tb *tb, const char *key, uint8_t type)
{
	uint8_t *p;

	if (tb->depth >= (int)(sizeof(tb->stack) / sizeof(tb->stack[0]))) {
		am_tb_fail(tb, AM_ERR_RANGE);
		return;
	}
	p = am_tb_entry(tb, key, type, 4);
	if (p)
		tb->stack[tb->depth++] = (size_t)(p - tb->buf);
}

static void am_tb_close(struct am_tb *tb)
{
	size_t at;

	if (tb->error)
		return;
	if (tb->depth <= 0) {
		am_tb_fail(tb, AM_ERR_RANGE);
		return;
	}
	at = tb->stack[--tb->depth];
	if (tb->len - at - 4 > UINT32_MAX) {
		am_tb_fail(tb, AM_ERR_RANGE);
		return;
	}
	am_wr32(tb->buf + at, (uint32_t)(tb->len - at - 4));
}

void am_tb_table_begin(struct am_tb *tb, const char *key)
{
	am_tb_open(tb, key, 'F');
}

void am_tb_table_end(struct am_tb *tb)
{
	am_tb_close(tb);
}

void am_tb_array_begin(struct am_tb *tb, const char *key)
{
	am_tb_open(tb, key, 'A');
}

void am_tb_array_end(struct am_tb *tb)
{
	am_tb_close(tb);
}

int am_tb_finish(struct am_tb *tb, struct am_bytes *out)
{
	if (!tb->error && tb->depth != 0)
		am_tb_fail(tb, AM_ERR_RANGE);
	if (!tb->error && tb->len - 4 > UINT32_MAX)
		am_tb_fail(tb, AM_ERR_RANGE);
	if (tb->error)
		return tb->error;
	am_wr32(tb->buf, (uint32_t)(tb->len - 4));
	out->ptr = tb->buf + 4;
	out->len = (uint32_t)(tb->len - 4);
	return AM_OK;
}
