/*
 * AMQP field tables and content headers <-> JSON (see amqpval.h).  Every
 * read of wire bytes is bounds-checked against the table's length.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/amqpval.h"
#include "util/b64.h"

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static uint64_t rd64(const uint8_t *p)
{
	return (uint64_t)rd32(p) << 32 | rd32(p + 4);
}

/* Length of the value of type t at p (avail bytes), -1 if it does not fit. */
static long value_len(uint8_t t, const uint8_t *p, size_t avail)
{
	size_t n;
	switch (t) {
	case 't': case 'b': case 'B': n = 1; break;
	case 's': case 'u': n = 2; break;
	case 'I': case 'i': case 'f': n = 4; break;
	case 'l': case 'L': case 'd': case 'T': n = 8; break;
	case 'D': n = 5; break;
	case 'V': n = 0; break;
	case 'S': case 'x': case 'A': case 'F':
		if (avail < 4)
			return -1;
		n = 4 + (size_t)rd32(p);
		break;
	default: return -1;
	}
	return n <= avail ? (long)n : -1;
}

static void value_to_json(struct js_w *w, uint8_t t, const uint8_t *p, size_t n, int depth);

static void array_to_json(struct js_w *w, const uint8_t *p, size_t len, int depth)
{
	js_arr(w);
	size_t at = 0;
	while (at < len && depth < 16) {
		uint8_t t = p[at++];
		long vl = value_len(t, p + at, len - at);
		if (vl < 0)
			break;
		value_to_json(w, t, p + at, (size_t)vl, depth + 1);
		at += (size_t)vl;
	}
	js_arr_end(w);
}

static void table_to_json(struct js_w *w, const uint8_t *p, size_t len, int depth)
{
	js_obj(w);
	size_t at = 0;
	while (at < len && depth < 16) {
		size_t kl = p[at];
		if (at + 1 + kl + 1 > len)
			break;
		const char *k = (const char *)p + at + 1;
		uint8_t t = p[at + 1 + kl];
		at += 2 + kl;
		long vl = value_len(t, p + at, len - at);
		if (vl < 0)
			break;
		char key[256];
		memcpy(key, k, kl);
		key[kl] = '\0';
		js_key(w, key);
		value_to_json(w, t, p + at, (size_t)vl, depth + 1);
		at += (size_t)vl;
	}
	js_obj_end(w);
}

static void value_to_json(struct js_w *w, uint8_t t, const uint8_t *p, size_t n, int depth)
{
	switch (t) {
	case 't': js_bool(w, p[0] != 0); break;
	case 'b': js_int(w, (int8_t)p[0]); break;
	case 'B': js_int(w, p[0]); break;
	case 's': js_int(w, (int16_t)(p[0] << 8 | p[1])); break;
	case 'u': js_int(w, (uint16_t)(p[0] << 8 | p[1])); break;
	case 'I': js_int(w, (int32_t)rd32(p)); break;
	case 'i': js_int(w, rd32(p)); break;
	case 'l': js_int(w, (int64_t)rd64(p)); break;
	case 'L': case 'T': js_uint(w, rd64(p)); break;
	case 'f': {
		uint32_t u = rd32(p);
		float f;
		memcpy(&f, &u, 4);
		js_double(w, f);
		break;
	}
	case 'd': {
		uint64_t u = rd64(p);
		double d;
		memcpy(&d, &u, 8);
		js_double(w, d);
		break;
	}
	case 'D': js_double(w, (double)(int32_t)rd32(p + 1) / pow(10, p[0])); break;
	case 'S': case 'x': js_strn(w, (const char *)p + 4, n - 4); break;
	case 'A': array_to_json(w, p + 4, n - 4, depth); break;
	case 'F': table_to_json(w, p + 4, n - 4, depth); break;
	default: js_null(w); break;
	}
}

void hv_table_to_json(struct js_w *w, const uint8_t *t, size_t len)
{
	table_to_json(w, t ? t : (const uint8_t *)"", t ? len : 0, 0);
}

void hv_hdrs_to_json(struct js_w *w, const struct ex_hdr *h, size_t n)
{
	js_obj(w);
	for (size_t i = 0; i < n; i++) {
		char key[256];
		size_t kl = h[i].key_len < 255 ? h[i].key_len : 255;
		memcpy(key, h[i].key, kl);
		key[kl] = '\0';
		js_key(w, key);
		if (value_len(h[i].type, h[i].val, h[i].val_len) != (long)h[i].val_len)
			js_null(w);
		else
			value_to_json(w, h[i].type, h[i].val, h[i].val_len, 1);
	}
	js_obj_end(w);
}

int hv_table_to_hdrs(const uint8_t *p, size_t len, struct ex_hdr *h, size_t max)
{
	size_t at = 0, n = 0;
	while (at < len && n < max) {
		size_t kl = p[at];
		if (at + 1 + kl + 1 > len)
			return -1;
		uint8_t t = p[at + 1 + kl];
		long vl = value_len(t, p + at + 2 + kl, len - at - 2 - kl);
		if (vl < 0)
			return -1;
		h[n++] = (struct ex_hdr){ (const char *)p + at + 1, kl, t, p + at + 2 + kl, (size_t)vl };
		at += 2 + kl + (size_t)vl;
	}
	return (int)n;
}

/* ---- JSON -> wire ------------------------------------------------------- */

static void put8(struct js_w *o, uint8_t v)
{
	js_raw(o, (const char *)&v, 1);
}
static void put16(struct js_w *o, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	js_raw(o, (const char *)b, 2);
}
static void put32(struct js_w *o, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	js_raw(o, (const char *)b, 4);
}
static void put64(struct js_w *o, uint64_t v)
{
	put32(o, (uint32_t)(v >> 32));
	put32(o, (uint32_t)v);
}
static void set32(struct js_w *o, size_t at, uint32_t v)
{
	if (o->oom || at + 4 > o->len)
		return;
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	memcpy(o->buf + at, b, 4);
}

static int value_from_json(const struct js_doc *d, int v, struct js_w *o, int depth, char *err,
			   size_t errlen);

static int table_body(const struct js_doc *d, int obj, struct js_w *o, int depth, char *err,
		      size_t errlen)
{
	for (int k = js_child(d, obj); k >= 0;) {
		int v = js_next(d, obj, k);
		size_t kl;
		char *key = js_strdup(d, k, &kl);
		if (!key || kl > 255) {
			free(key);
			snprintf(err, errlen, "field name too long");
			return -1;
		}
		put8(o, (uint8_t)kl);
		js_raw(o, key, kl);
		free(key);
		if (value_from_json(d, v, o, depth + 1, err, errlen) < 0)
			return -1;
		k = js_next(d, obj, v);
	}
	return 0;
}

static int value_from_json(const struct js_doc *d, int v, struct js_w *o, int depth, char *err,
			   size_t errlen)
{
	if (depth > 16) {
		snprintf(err, errlen, "arguments nested too deeply");
		return -1;
	}
	switch (js_type_of(d, v)) {
	case JS_NULL: put8(o, 'V'); return 0;
	case JS_TRUE: case JS_FALSE: put8(o, 't'); put8(o, js_truth(d, v) == 1); return 0;
	case JS_NUM: {
		int64_t i;
		double x;
		if (js_int64(d, v, &i) == 0) {
			put8(o, 'l');
			put64(o, (uint64_t)i);
		} else if (js_num(d, v, &x) == 0) {
			uint64_t u;
			memcpy(&u, &x, 8);
			put8(o, 'd');
			put64(o, u);
		}
		return 0;
	}
	case JS_STR: {
		size_t n;
		char *s = js_strdup(d, v, &n);
		if (!s) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
		put8(o, 'S');
		put32(o, (uint32_t)n);
		js_raw(o, s, n);
		free(s);
		return 0;
	}
	case JS_ARR: {
		put8(o, 'A');
		size_t at = o->len;
		put32(o, 0);
		for (int e = js_child(d, v); e >= 0; e = js_next(d, v, e))
			if (value_from_json(d, e, o, depth + 1, err, errlen) < 0)
				return -1;
		set32(o, at, (uint32_t)(o->len - at - 4));
		return 0;
	}
	case JS_OBJ: {
		put8(o, 'F');
		size_t at = o->len;
		put32(o, 0);
		if (table_body(d, v, o, depth, err, errlen) < 0)
			return -1;
		set32(o, at, (uint32_t)(o->len - at - 4));
		return 0;
	}
	}
	snprintf(err, errlen, "bad value");
	return -1;
}

int hv_table_from_json(const struct js_doc *d, int obj, struct js_w *out, char *err, size_t errlen)
{
	if (obj < 0)
		return 0;
	if (js_type_of(d, obj) != JS_OBJ) {
		snprintf(err, errlen, "arguments must be an object");
		return -1;
	}
	if (table_body(d, obj, out, 0, err, errlen) < 0)
		return -1;
	if (out->oom) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* ---- content header --------------------------------------------------- */

/* Property flag bits of class basic, in wire order. */
enum {
	P_CONTENT_TYPE = 1 << 15, P_CONTENT_ENCODING = 1 << 14, P_HEADERS = 1 << 13,
	P_DELIVERY_MODE = 1 << 12, P_PRIORITY = 1 << 11, P_CORRELATION_ID = 1 << 10,
	P_REPLY_TO = 1 << 9, P_EXPIRATION = 1 << 8, P_MESSAGE_ID = 1 << 7, P_TIMESTAMP = 1 << 6,
	P_TYPE = 1 << 5, P_USER_ID = 1 << 4, P_APP_ID = 1 << 3, P_CLUSTER_ID = 1 << 2,
};

enum pkind { K_SHORT, K_TABLE, K_OCTET, K_U64 };
static const struct {
	const char *name;
	uint16_t flag;
	uint8_t kind;
} props[] = {
	{ "content_type", P_CONTENT_TYPE, K_SHORT },
	{ "content_encoding", P_CONTENT_ENCODING, K_SHORT },
	{ "headers", P_HEADERS, K_TABLE },
	{ "delivery_mode", P_DELIVERY_MODE, K_OCTET },
	{ "priority", P_PRIORITY, K_OCTET },
	{ "correlation_id", P_CORRELATION_ID, K_SHORT },
	{ "reply_to", P_REPLY_TO, K_SHORT },
	{ "expiration", P_EXPIRATION, K_SHORT },
	{ "message_id", P_MESSAGE_ID, K_SHORT },
	{ "timestamp", P_TIMESTAMP, K_U64 },
	{ "type", P_TYPE, K_SHORT },
	{ "user_id", P_USER_ID, K_SHORT },
	{ "app_id", P_APP_ID, K_SHORT },
	{ "cluster_id", P_CLUSTER_ID, K_SHORT },
};
#define NPROPS (sizeof(props) / sizeof(props[0]))

int hv_header_from_json(const struct js_doc *d, int pobj, uint64_t body_len, struct js_w *o,
			struct hv_props_out *info, char *err, size_t errlen)
{
	memset(info, 0, sizeof(*info));
	info->priority = -1;
	info->ttl_ms = -1;
	if (pobj >= 0 && js_type_of(d, pobj) != JS_OBJ) {
		snprintf(err, errlen, "properties must be an object");
		return -1;
	}
	put16(o, 60);
	put16(o, 0);
	put64(o, body_len);
	size_t flags_at = o->len;
	put16(o, 0);
	uint16_t flags = 0;
	size_t headers_at = 0, headers_end = 0, user_id_at = 0, user_id_len = 0;
	for (size_t i = 0; i < NPROPS && pobj >= 0; i++) {
		int v = js_get(d, pobj, props[i].name);
		if (v < 0 || js_type_of(d, v) == JS_NULL)
			continue;
		switch (props[i].kind) {
		case K_SHORT: {
			size_t n;
			char *s = NULL;
			char num[32];
			int64_t iv;
			if (js_type_of(d, v) == JS_STR) {
				s = js_strdup(d, v, &n);
			} else if (js_int64(d, v, &iv) == 0) { /* "expiration": 60000 */
				n = (size_t)snprintf(num, sizeof(num), "%lld", (long long)iv);
				s = strdup(num);
			}
			if (!s || n > 255) {
				free(s);
				snprintf(err, errlen, "property %s must be a short string", props[i].name);
				return -1;
			}
			if (props[i].flag == P_EXPIRATION) {
				char *e;
				long long ttl = strtoll(s, &e, 10);
				if (!*s || *e || ttl < 0) {
					free(s);
					snprintf(err, errlen, "invalid expiration");
					return -1;
				}
				info->ttl_ms = ttl;
			}
			if (props[i].flag == P_USER_ID)
				user_id_at = o->len + 1, user_id_len = n;
			put8(o, (uint8_t)n);
			js_raw(o, s, n);
			free(s);
			break;
		}
		case K_TABLE: {
			size_t at = o->len;
			put32(o, 0);
			if (hv_table_from_json(d, v, o, err, errlen) < 0)
				return -1;
			set32(o, at, (uint32_t)(o->len - at - 4));
			headers_at = at + 4;
			headers_end = o->len;
			info->has_headers = 1;
			break;
		}
		case K_OCTET: {
			int64_t iv;
			if (js_int64(d, v, &iv) < 0 || iv < 0 || iv > 255) {
				snprintf(err, errlen, "property %s must be an integer 0..255", props[i].name);
				return -1;
			}
			put8(o, (uint8_t)iv);
			if (props[i].flag == P_DELIVERY_MODE)
				info->persistent = iv == 2;
			else
				info->priority = (int)iv;
			break;
		}
		case K_U64: {
			int64_t iv;
			if (js_int64(d, v, &iv) < 0) {
				snprintf(err, errlen, "property %s must be an integer", props[i].name);
				return -1;
			}
			put64(o, (uint64_t)iv);
			break;
		}
		}
		flags |= props[i].flag;
	}
	if (o->oom) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	o->buf[flags_at] = (char)(flags >> 8);
	o->buf[flags_at + 1] = (char)flags;
	if (info->has_headers) {
		info->headers = (const uint8_t *)o->buf + headers_at;
		info->headers_len = headers_end - headers_at;
	}
	if (flags & P_USER_ID) {
		info->user_id = o->buf + user_id_at;
		info->user_id_len = user_id_len;
	}
	return 0;
}

void hv_header_to_json(struct js_w *w, const uint8_t *h, size_t len)
{
	js_obj(w);
	if (len < 14) {
		js_obj_end(w);
		return;
	}
	uint16_t flags = (uint16_t)(h[12] << 8 | h[13]);
	size_t at = 14;
	for (size_t i = 0; i < NPROPS; i++) {
		if (!(flags & props[i].flag))
			continue;
		switch (props[i].kind) {
		case K_SHORT:
			if (at >= len || at + 1 + h[at] > len)
				goto out;
			js_kstrn(w, props[i].name, (const char *)h + at + 1, h[at]);
			at += 1 + (size_t)h[at];
			break;
		case K_TABLE: {
			if (at + 4 > len || rd32(h + at) > len - at - 4)
				goto out;
			uint32_t n = rd32(h + at);
			js_key(w, props[i].name);
			hv_table_to_json(w, h + at + 4, n);
			at += 4 + (size_t)n;
			break;
		}
		case K_OCTET:
			if (at + 1 > len)
				goto out;
			js_kint(w, props[i].name, h[at]);
			at++;
			break;
		case K_U64:
			if (at + 8 > len)
				goto out;
			js_kuint(w, props[i].name, rd64(h + at));
			at += 8;
			break;
		}
	}
out:
	js_obj_end(w);
}

/* ---- base64 ------------------------------------------------------------- */

void hv_b64_encode(struct js_w *w, const uint8_t *p, size_t n)
{
	char q[TU_B64_LEN(768) + 1]; /* 768 = 3 * 256: chunks encode without padding */
	for (size_t i = 0; i < n; i += 768) {
		size_t k = n - i < 768 ? n - i : 768;
		js_raw(w, q, tu_b64_encode(p + i, k, q));
	}
}
