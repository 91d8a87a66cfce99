/*
 * AMQP field tables and content headers <-> JSON (see amqpval.h).  The
 * wire side is the shared codec library (src/amqp/codec.h: iteration,
 * validation, the table builder, the content-header codec); this file
 * only maps its values to JSON and back, as RabbitMQ's management plugin
 * shows and takes them.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/codec.h"
#include "http/amqpval.h"
#include "util/b64.h"

/* JSON nesting the API writes and takes (deeper tables are cut). */
#define HV_MAX_DEPTH 16

static void value_to_json(struct js_w *w, const struct am_value *v, int depth);

/* Writes a table (is_array 0) or array as JSON, as far as it is valid. */
static void entries_to_json(struct js_w *w, struct am_bytes b, int is_array, int depth)
{
	struct am_table_iter it;
	struct am_bytes k;
	struct am_value v;
	if (is_array) {
		js_arr(w);
		am_array_iter_init(&it, b);
	} else {
		js_obj(w);
		am_table_iter_init(&it, b);
	}
	while (depth < HV_MAX_DEPTH && am_table_next(&it, &k, &v)) {
		if (!is_array) {
			char key[256];
			memcpy(key, k.ptr, k.len);
			key[k.len] = '\0';
			js_key(w, key);
		}
		value_to_json(w, &v, depth + 1);
	}
	if (is_array)
		js_arr_end(w);
	else
		js_obj_end(w);
}

static void value_to_json(struct js_w *w, const struct am_value *v, int depth)
{
	switch (v->type) {
	case 't': js_bool(w, v->v.i != 0); break;
	case 'b': case 's': case 'I': case 'l': js_int(w, v->v.i); break;
	case 'B': case 'u': case 'i': js_int(w, (int64_t)v->v.u); break;
	case 'L': case 'T': js_uint(w, v->v.u); break;
	case 'f': js_double(w, v->v.f); break;
	case 'd': js_double(w, v->v.d); break;
	case 'D': js_double(w, (double)(int32_t)v->v.dec.value / pow(10, v->v.dec.scale)); break;
	case 'S': case 'x': js_strn(w, (const char *)v->v.bytes.ptr, v->v.bytes.len); break;
	case 'A': entries_to_json(w, v->v.bytes, 1, depth); break;
	case 'F': entries_to_json(w, v->v.bytes, 0, depth); break;
	default: js_null(w); break;
	}
}

void hv_table_to_json(struct js_w *w, const uint8_t *t, size_t len)
{
	struct am_bytes b = { t ? t : (const uint8_t *)"", t ? (uint32_t)len : 0 };
	entries_to_json(w, b, 0, 0);
}

void hv_hdrs_to_json(struct js_w *w, const struct ex_hdr *h, size_t n)
{
	js_obj(w);
	for (size_t i = 0; i < n; i++) {
		char key[256];
		size_t kl = h[i].key_len < 255 ? h[i].key_len : 255;
		struct am_value v;
		memcpy(key, h[i].key, kl);
		key[kl] = '\0';
		js_key(w, key);
		if (am_value_decode(h[i].type, (struct am_bytes){ h[i].val, (uint32_t)h[i].val_len }, &v) !=
		    AM_OK)
			js_null(w);
		else
			value_to_json(w, &v, 1);
	}
	js_obj_end(w);
}

int hv_table_to_hdrs(const uint8_t *p, size_t len, struct ex_hdr *h, size_t max)
{
	struct am_bytes t = { p ? p : (const uint8_t *)"", p ? (uint32_t)len : 0 };
	struct am_table_iter it;
	struct am_bytes k;
	struct am_value v;
	size_t n = 0;
	if (am_table_validate(t, AM_TABLE_MAX_DEPTH) != AM_OK)
		return -1;
	am_table_iter_init(&it, t);
	while (n < max && am_table_next(&it, &k, &v))
		h[n++] = (struct ex_hdr){ (const char *)k.ptr, k.len, v.type, v.raw.ptr, v.raw.len };
	return (int)n;
}

/* ---- JSON -> wire ------------------------------------------------------- */

static int value_from_json(const struct js_doc *d, int v, struct am_tb *tb, const char *key,
			   int depth, char *err, size_t errlen);

static int table_body(const struct js_doc *d, int obj, struct am_tb *tb, int depth, char *err,
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
		int rc = value_from_json(d, v, tb, key, depth + 1, err, errlen);
		free(key);
		if (rc < 0)
			return -1;
		k = js_next(d, obj, v);
	}
	return 0;
}

/* Adds JSON node v to tb under key (NULL inside an array), typed as
 * RabbitMQ's management plugin types it. */
static int value_from_json(const struct js_doc *d, int v, struct am_tb *tb, const char *key,
			   int depth, char *err, size_t errlen)
{
	if (depth > HV_MAX_DEPTH) {
		snprintf(err, errlen, "arguments nested too deeply");
		return -1;
	}
	switch (js_type_of(d, v)) {
	case JS_NULL: am_tb_raw(tb, key, 'V', NULL, 0); return 0;
	case JS_TRUE: case JS_FALSE: am_tb_bool(tb, key, js_truth(d, v) == 1); return 0;
	case JS_NUM: {
		int64_t i;
		double x;
		if (js_int64(d, v, &i) == 0) {
			am_tb_long(tb, key, i);
		} else if (js_num(d, v, &x) == 0) {
			uint64_t u;
			uint8_t be[8];
			memcpy(&u, &x, 8);
			for (int b = 0; b < 8; b++)
				be[b] = (uint8_t)(u >> (56 - 8 * b));
			am_tb_raw(tb, key, 'd', be, 8);
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
		am_tb_str(tb, key, s, n);
		free(s);
		return 0;
	}
	case JS_ARR:
		am_tb_array_begin(tb, key);
		for (int e = js_child(d, v); e >= 0; e = js_next(d, v, e))
			if (value_from_json(d, e, tb, NULL, depth + 1, err, errlen) < 0)
				return -1;
		am_tb_array_end(tb);
		return 0;
	case JS_OBJ:
		am_tb_table_begin(tb, key);
		if (table_body(d, v, tb, depth, err, errlen) < 0)
			return -1;
		am_tb_table_end(tb);
		return 0;
	}
	snprintf(err, errlen, "bad value");
	return -1;
}

/*
 * Builds the field table of JSON object obj with the codec's builder into
 * *buf (malloc'd, the caller frees; *t points into it).  The builder
 * writes into a fixed buffer, so a table that does not fit is built again
 * in one twice as big.  0, or -1 with err.
 */
static int build_table(const struct js_doc *d, int obj, uint8_t **buf, struct am_bytes *t,
		       char *err, size_t errlen)
{
	*buf = NULL;
	if (js_type_of(d, obj) != JS_OBJ) {
		snprintf(err, errlen, "arguments must be an object");
		return -1;
	}
	for (size_t cap = 1024; cap <= ((size_t)1 << 31); cap *= 2) {
		struct am_tb tb;
		uint8_t *b = malloc(cap);
		if (!b)
			break;
		am_tb_init(&tb, b, cap);
		if (table_body(d, obj, &tb, 0, err, errlen) < 0) {
			free(b);
			return -1;
		}
		int rc = am_tb_finish(&tb, t);
		if (rc == AM_OK) {
			*buf = b;
			return 0;
		}
		free(b);
		if (rc != AM_ERR_NOSPACE) {
			snprintf(err, errlen, "arguments too large or nested too deeply");
			return -1;
		}
	}
	snprintf(err, errlen, "out of memory");
	return -1;
}

int hv_table_from_json(const struct js_doc *d, int obj, struct js_w *out, char *err, size_t errlen)
{
	uint8_t *buf;
	struct am_bytes t;
	if (obj < 0)
		return 0;
	if (build_table(d, obj, &buf, &t, err, errlen) < 0)
		return -1;
	js_raw(out, (const char *)t.ptr, t.len);
	free(buf);
	if (out->oom) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* ---- content header --------------------------------------------------- */

enum pkind { K_SHORT, K_TABLE, K_OCTET, K_U64 };
/* RabbitMQ's names of the basic properties, in wire order, and where the
 * codec keeps each one. */
static const struct {
	const char *name;
	uint16_t flag;
	uint8_t kind;
	size_t off;
} props[] = {
#define P(name, flag, kind) { #name, flag, kind, offsetof(struct am_basic_props, name) }
	P(content_type, AM_P_CONTENT_TYPE, K_SHORT),
	P(content_encoding, AM_P_CONTENT_ENCODING, K_SHORT),
	P(headers, AM_P_HEADERS, K_TABLE),
	P(delivery_mode, AM_P_DELIVERY_MODE, K_OCTET),
	P(priority, AM_P_PRIORITY, K_OCTET),
	P(correlation_id, AM_P_CORRELATION_ID, K_SHORT),
	P(reply_to, AM_P_REPLY_TO, K_SHORT),
	P(expiration, AM_P_EXPIRATION, K_SHORT),
	P(message_id, AM_P_MESSAGE_ID, K_SHORT),
	P(timestamp, AM_P_TIMESTAMP, K_U64),
	P(type, AM_P_TYPE, K_SHORT),
	P(user_id, AM_P_USER_ID, K_SHORT),
	P(app_id, AM_P_APP_ID, K_SHORT),
	P(cluster_id, AM_P_CLUSTER_ID, K_SHORT),
#undef P
};
#define NPROPS (sizeof(props) / sizeof(props[0]))

/* Reads property i of JSON object pobj into p; -1 with err. */
static int prop_from_json(const struct js_doc *d, int v, size_t i, struct am_basic_props *p,
			  struct hv_props_out *info, char **keep, uint8_t **tbuf, char *err,
			  size_t errlen)
{
	char *field = (char *)p + props[i].off;
	int64_t iv;
	switch (props[i].kind) {
	case K_SHORT: {
		size_t n = 0;
		char *s = NULL;
		char num[32];
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
		*keep = s;
		if (props[i].flag == AM_P_EXPIRATION) {
			char *e;
			long long ttl = strtoll(s, &e, 10);
			if (!*s || *e || ttl < 0) {
				snprintf(err, errlen, "invalid expiration");
				return -1;
			}
			info->ttl_ms = ttl;
		}
		*(struct am_bytes *)field = (struct am_bytes){ (const uint8_t *)s, (uint32_t)n };
		return 0;
	}
	case K_TABLE:
		if (build_table(d, v, tbuf, (struct am_bytes *)field, err, errlen) < 0)
			return -1;
		info->has_headers = 1;
		return 0;
	case K_OCTET:
		if (js_int64(d, v, &iv) < 0 || iv < 0 || iv > 255) {
			snprintf(err, errlen, "property %s must be an integer 0..255", props[i].name);
			return -1;
		}
		*(uint8_t *)field = (uint8_t)iv;
		if (props[i].flag == AM_P_DELIVERY_MODE)
			info->persistent = iv == 2;
		else
			info->priority = (int)iv;
		return 0;
	case K_U64:
		if (js_int64(d, v, &iv) < 0) {
			snprintf(err, errlen, "property %s must be an integer", props[i].name);
			return -1;
		}
		*(uint64_t *)field = (uint64_t)iv;
		return 0;
	}
	return -1;
}

int hv_header_from_json(const struct js_doc *d, int pobj, uint64_t body_len, struct js_w *o,
			struct hv_props_out *info, char *err, size_t errlen)
{
	struct am_basic_props p;
	char *keep[NPROPS] = { NULL };
	uint8_t *tbuf = NULL, *hbuf = NULL;
	int rc = -1;
	memset(&p, 0, sizeof(p));
	memset(info, 0, sizeof(*info));
	info->priority = -1;
	info->ttl_ms = -1;
	if (pobj >= 0 && js_type_of(d, pobj) != JS_OBJ) {
		snprintf(err, errlen, "properties must be an object");
		return -1;
	}
	for (size_t i = 0; i < NPROPS && pobj >= 0; i++) {
		int v = js_get(d, pobj, props[i].name);
		if (v < 0 || js_type_of(d, v) == JS_NULL)
			continue;
		if (prop_from_json(d, v, i, &p, info, &keep[i], &tbuf, err, errlen) < 0)
			goto out;
		p.flags |= props[i].flag;
	}
	/* 14 fixed bytes, 13 short strings, two octets, a timestamp, the table */
	size_t cap = 14 + 13 * 256 + 2 + 8 + 4 + (size_t)p.headers.len, n;
	struct am_content_header h;
	if (!(hbuf = malloc(cap)) || am_content_header_encode(body_len, &p, hbuf, cap, &n) != AM_OK) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	size_t at = o->len;
	js_raw(o, (const char *)hbuf, n);
	if (o->oom) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	/* the caller's pointers go into the header as written to o */
	if (am_content_header_decode((const uint8_t *)o->buf + at, n, &h) != AM_OK) {
		snprintf(err, errlen, "bad value");
		goto out;
	}
	if (info->has_headers) {
		info->headers = h.props.headers.ptr;
		info->headers_len = h.props.headers.len;
	}
	if (p.flags & AM_P_USER_ID) {
		info->user_id = (const char *)h.props.user_id.ptr;
		info->user_id_len = h.props.user_id.len;
	}
	rc = 0;
out:
	for (size_t i = 0; i < NPROPS; i++)
		free(keep[i]);
	free(tbuf);
	free(hbuf);
	return rc;
}

void hv_header_to_json(struct js_w *w, const uint8_t *hdr, size_t len)
{
	struct am_content_header h;
	js_obj(w);
	if (am_content_header_decode(hdr, len, &h) != AM_OK) {
		js_obj_end(w);
		return;
	}
	for (size_t i = 0; i < NPROPS; i++) {
		const char *field = (const char *)&h.props + props[i].off;
		const struct am_bytes *b = (const struct am_bytes *)field;
		if (!(h.props.flags & props[i].flag))
			continue;
		switch (props[i].kind) {
		case K_SHORT:
			js_kstrn(w, props[i].name, (const char *)b->ptr, b->len);
			break;
		case K_TABLE:
			js_key(w, props[i].name);
			hv_table_to_json(w, b->ptr, b->len);
			break;
		case K_OCTET:
			js_kint(w, props[i].name, *(const uint8_t *)field);
			break;
		case K_U64:
			js_kuint(w, props[i].name, *(const uint64_t *)field);
			break;
		}
	}
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
