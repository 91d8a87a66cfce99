/*
 * Management API: publishing to an exchange, getting from a queue, and
 * bindings (list, create, delete), as RabbitMQ's management plugin.
 * Published messages get an AMQP content header built from the JSON
 * properties (the core keeps headers in wire form) and go through the
 * core's routing; gets pop, show and then acknowledge or requeue.
 *
 * Must not depend on: other front ends (src/amqp, src/kafka; the AMQP
 * codec is a neutral library).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "amqp/codec.h"
#include "core/access.h"
#include "core/auth.h"
#include "core/config.h"
#include "http/amqpval.h"
#include "http/hx.h"
#include "util/b64.h"
#include "util/hex.h"

#define HDRS_MAX 64

/* ---- publish ------------------------------------------------------------- */

/* The exchange named by x's "alternate-exchange" argument, or NULL. */
static struct tdm_exchange *alternate(struct tdm_exchange *x)
{
	struct ex_hdr a[HDRS_MAX];
	int n = hv_table_to_hdrs(x->arguments, x->arguments_len, a, HDRS_MAX);
	for (int i = 0; i < n; i++)
		if (a[i].key_len == 18 && memcmp(a[i].key, "alternate-exchange", 18) == 0 &&
		    a[i].type == 'S' && a[i].val_len >= 4)
			return tdm_exchange_find(x->vhost, (const char *)a[i].val + 4, a[i].val_len - 4);
	return NULL;
}

/* Routes through x; when nothing matched, on through its alternate
 * exchanges, each at most once (as an AMQP publish does). */
static void route_with_alternates(struct tdm_exchange *x, const struct tdm_message *m,
				  const struct ex_hdr *h, size_t nh, struct tdm_route *r)
{
	struct tdm_exchange *seen[8] = { x };
	size_t nseen = 1;
	const char *key = m->routing_key;
	size_t klen = m->routing_key_len;
	tdm_route_keys(x, key, klen, m->rkeys, m->rkeys_len, h, nh, r);
	while (r->n == 0 && nseen < 8 && (x = alternate(x)) != NULL) {
		for (size_t i = 0; i < nseen; i++)
			if (seen[i] == x)
				return;
		seen[nseen++] = x;
		tdm_route_keys(x, key, klen, m->rkeys, m->rkeys_len, h, nh, r);
	}
}

void hx_publish(struct hx_req *r, struct tdm_vhost *vh, struct tdm_exchange *x)
{
	(void)vh;
	if (hx_body(r) < 0)
		return;
	static const char *const required[] = { "routing_key", "properties", "payload",
						"payload_encoding" };
	if (hx_require_keys(r, required, 4) < 0)
		return;
	struct js_doc *d = &r->body;
	int rk = js_get(d, 0, "routing_key"), pl = js_get(d, 0, "payload");
	int enc = js_get(d, 0, "payload_encoding");
	if (js_type_of(d, rk) != JS_STR || js_type_of(d, pl) != JS_STR) {
		hx_error(r, 400, "bad_request", "routing_key and payload must be strings");
		return;
	}
	int b64 = 0;
	if (!(b64 = js_streq(d, enc, "base64")) && !js_streq(d, enc, "string")) {
		char *v = js_type_of(d, enc) == JS_STR ? js_strdup(d, enc, NULL) : NULL;
		hx_error_term(r, 400, "bad_request", "unsupported_encoding", v ? v : "");
		free(v);
		return;
	}
	char err[200];
	size_t keylen, plen;
	char *key = js_strdup(d, rk, &keylen);
	char *payload = js_strdup(d, pl, &plen);
	uint8_t *body = (uint8_t *)payload;
	long blen = (long)plen;
	struct js_w hdr;
	js_w_init(&hdr);
	struct tdm_message *m = NULL;
	uint8_t *stripped = NULL, *rkeys = NULL, bad_type = 0;
	if (!key || !payload) {
		hx_error(r, 500, "internal_error", "out of memory");
		goto out;
	}
	if (keylen > 255) {
		hx_error(r, 400, "bad_request", "routing_key is longer than 255 bytes");
		goto out;
	}
	if (b64 && (blen = tu_b64_decode(payload, plen, payload)) < 0) {
		char *v = js_strdup(d, pl, NULL); /* payload was decoded in place */
		hx_error_term(r, 400, "bad_request", "not_base64", v ? v : "");
		free(v);
		goto out;
	}
	if ((uint64_t)blen > r->h->cfg->max_message_size) {
		hx_error(r, 400, "bad_request", "message size is larger than configured max size");
		goto out;
	}
	struct hv_props_out info;
	if (hv_header_from_json(d, js_get(d, 0, "properties"), (uint64_t)blen, &hdr, &info, err,
				sizeof(err)) < 0) {
		hx_error(r, 400, "bad_request", err);
		goto out;
	}
	/* CC and BCC, as basic.publish: more routing keys, BCC not stored (a
	 * wrong type is refused below, after the exchange's checks) */
	const uint8_t *hbuf = (const uint8_t *)hdr.buf;
	size_t hlen = hdr.len, rklen = 0;
	struct am_content_header ch;
	struct am_ssd ssd;
	memset(&ssd, 0, sizeof(ssd));
	if (info.has_headers && am_content_header_decode(hbuf, hlen, &ch) == AM_OK) {
		am_ssd_find(ch.props.headers, &ssd);
		if (!am_ssd_bad(&ssd, &bad_type) &&
		    (am_ssd_pack(&ssd, 1, &rkeys, &rklen) < 0 ||
		     (ssd.has_bcc && am_ssd_strip_bcc(&ssd, &ch, hlen, &stripped, &hlen) < 0))) {
			hx_error(r, 500, "internal_error", "out of memory");
			goto out;
		}
		if (stripped) {
			hbuf = stripped;
			/* headers exchanges see the headers without BCC */
			if (am_content_header_decode(hbuf, hlen, &ch) == AM_OK) {
				info.headers = ch.props.headers.ptr;
				info.headers_len = ch.props.headers.len;
			}
		}
	}
	m = tdm_message_new(x->name, x->name_len, key, keylen, hbuf, hlen, (uint64_t)blen);
	if (!m || tdm_message_set_rkeys(m, rkeys, rklen) < 0) {
		hx_error(r, 500, "internal_error", "out of memory");
		goto out;
	}
	memcpy(m->body, body, (size_t)blen);
	m->body_filled = (uint64_t)blen;
	m->persistent = (uint8_t)info.persistent;
	m->priority = info.priority < 0 ? 0 : (uint8_t)info.priority;
	m->ttl_ms = info.ttl_ms;
	struct ex_hdr hdrs[HDRS_MAX];
	int nh = 0;
	if (info.has_headers && (nh = hv_table_to_hdrs(info.headers, info.headers_len, hdrs, HDRS_MAX)) < 0)
		nh = 0;
	if (info.user_id && (info.user_id_len != strlen(r->user) ||
			     memcmp(info.user_id, r->user, info.user_id_len) != 0)) {
		char why[700];
		snprintf(why, sizeof(why), "user_id property set to '%.*s' but authenticated user was '%s'",
			 (int)info.user_id_len, info.user_id, r->user);
		hx_error(r, 400, "bad_request", why);
		goto out;
	}
	/* basic.publish's checks: write on the exchange, then topic write on
	 * the key; RabbitMQ's API answers 400 "403 ACCESS_REFUSED - ..." */
	struct tdm_err pe;
	if (tdm_access(x->vhost, r->user, TDM_RES_EXCHANGE, TDM_PERM_WRITE, x->name, x->name_len,
		       &pe) != TDM_OK ||
	    (!x->internal &&
	     tdm_topic_access(x, r->user, TDM_PERM_WRITE, key, keylen, &pe) != TDM_OK)) {
		char why[sizeof(pe.text) + 32];
		snprintf(why, sizeof(why), "403 ACCESS_REFUSED - %s", pe.text);
		hx_error(r, 400, "bad_request", why);
		goto out;
	}
	if (x->internal) {
		hx_error(r, 400, "bad_request", "cannot publish to an internal exchange");
		goto out;
	}
	const char *bad = am_ssd_bad(&ssd, &bad_type);
	if (bad) {
		char why[200];
		snprintf(why, sizeof(why),
			 "406 PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,\"%s\",%s}",
			 bad, am_type_word(bad_type));
		hx_error(r, 400, "bad_request", why);
		goto out;
	}
	struct tdm_route route;
	tdm_route_init(&route);
	route_with_alternates(x, m, hdrs, (size_t)nh, &route);
	struct tdm_broker *b = r->h->broker;
	tdm_publish(b, &route, m);
	b->stat_published++;
	if (route.n == 0)
		b->stat_unroutable++;
	struct js_w w;
	js_w_init(&w);
	js_obj(&w);
	js_kbool(&w, "routed", route.n > 0);
	js_obj_end(&w);
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
	tdm_route_free(&route);
out:
	if (m)
		tdm_message_unref(m);
	free(stripped);
	free(rkeys);
	js_w_free(&hdr);
	free(key);
	free(payload);
}

/* ---- get ----------------------------------------------------------------- */

/* 1 when p[0..n) is valid UTF-8 (RabbitMQ's "auto" encoding shows it as text). */
int hx_valid_utf8(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = p[i];
		size_t need = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
			    : (c & 0xf8) == 0xf0 ? 4 : 0;
		if (!need || i + need > n || (need == 2 && c < 0xc2))
			return 0;
		for (size_t k = 1; k < need; k++)
			if ((p[i + k] & 0xc0) != 0x80)
				return 0;
		i += need;
	}
	return 1;
}

/* The body of POST .../get checked as RabbitMQ's API checks it, and the
 * queue's read permission: 0, or -1 with the error answered. */
static int get_params(struct hx_req *r, struct tdm_vhost *vh, struct tdm_queue *q,
		      struct hx_get_params *p)
{
	struct tdm_err e;
	if (hx_body(r) < 0)
		return -1;
	static const char *const required[] = { "ackmode", "count", "encoding" };
	if (hx_require_keys(r, required, 3) < 0)
		return -1;
	struct js_doc *d = &r->body;
	*p = (struct hx_get_params){ .count = 1, .truncate = -1, .requeue = 1 };
	int c = js_get(d, 0, "count"), t = js_get(d, 0, "truncate");
	int am = js_get(d, 0, "ackmode"), en = js_get(d, 0, "encoding");
	if ((c >= 0 && (js_int64(d, c, &p->count) < 0 || p->count < 0)) ||
	    (t >= 0 && js_type_of(d, t) != JS_NULL &&
	     (js_int64(d, t, &p->truncate) < 0 || p->truncate < 0))) {
		hx_error(r, 400, "bad_request", "count and truncate must be non-negative integers");
		return -1;
	}
	if (am >= 0) {
		if (js_streq(d, am, "ack_requeue_true") || js_streq(d, am, "reject_requeue_true"))
			p->requeue = 1;
		else if (js_streq(d, am, "ack_requeue_false"))
			p->requeue = 0;
		else if (js_streq(d, am, "reject_requeue_false"))
			p->requeue = 0, p->reject = 1;
		else {
			hx_error(r, 400, "bad_request", "unknown ackmode");
			return -1;
		}
	}
	if (en >= 0 && !(p->base64 = js_streq(d, en, "base64")) && !js_streq(d, en, "auto")) {
		hx_error(r, 400, "bad_request", "Unsupported encoding. Please use auto or base64.");
		return -1;
	}
	/* read on the queue first, as basic.get: RabbitMQ's API answers that
	 * refusal 401 "ACCESS_REFUSED - ..." */
	if (tdm_access(vh, r->user, TDM_RES_QUEUE, TDM_PERM_READ, q->name, q->name_len, &e) !=
	    TDM_OK) {
		char why[sizeof(e.text) + 32];
		snprintf(why, sizeof(why), "ACCESS_REFUSED - %s", e.text);
		hx_error(r, 401, "not_authorised", why);
		return -1;
	}
	/* another connection's exclusive queue: RabbitMQ's basic.get closes its
	 * channel with 405, which the API answers 400 "405 RESOURCE_LOCKED - ..."
	 * (a queue whose home node is down: its 404) */
	if (!tdm_queue_lookup(vh, q->name, q->name_len, NULL, &e)) {
		char why[sizeof(e.text) + 32];
		snprintf(why, sizeof(why), "%s - %s",
			 e.status == TDM_E_LOCKED ? "405 RESOURCE_LOCKED" : "404 NOT_FOUND", e.text);
		hx_error(r, 400, "bad_request", why);
		return -1;
	}
	if (p->count > 1000)
		p->count = 1000;
	return 0;
}

void hx_get_reply(struct hx_req *r, struct tdm_queue *q, const struct hx_get_params *p,
		  struct tdm_qentry *taken, const uint64_t *left, size_t n)
{
	struct js_w w;
	js_w_init(&w);
	js_arr(&w);
	for (size_t i = 0; i < n; i++) {
		const struct tdm_message *m = taken[i].msg;
		if (!m)
			continue;
		size_t show = (size_t)m->body_len;
		if (p->truncate >= 0 && (uint64_t)p->truncate < show)
			show = (size_t)p->truncate;
		js_obj(&w);
		js_kuint(&w, "payload_bytes", m->body_len);
		js_kbool(&w, "redelivered", taken[i].redelivered);
		js_kstrn(&w, "exchange", m->exchange, m->exchange_len);
		js_kstrn(&w, "routing_key", m->routing_key, m->routing_key_len);
		js_kuint(&w, "message_count", left[i]);
		js_key(&w, "properties");
		hv_header_to_json(&w, m->header, m->header_len);
		if (!p->base64 && hx_valid_utf8(m->body, show)) {
			js_kstrn(&w, "payload", (const char *)m->body, show);
			js_kstr(&w, "payload_encoding", "string");
		} else {
			js_key(&w, "payload");
			js_value_begin(&w);
			js_raw(&w, "\"", 1);
			hv_b64_encode(&w, m->body, show);
			js_raw(&w, "\"", 1);
			js_kstr(&w, "payload_encoding", "base64");
		}
		js_obj_end(&w);
	}
	js_arr_end(&w);
	/* settle in reverse so requeued messages keep their order */
	for (size_t i = n; i-- > 0;) {
		if (p->requeue)
			tdm_queue_requeue(q, taken[i]);
		else if (p->reject)
			tdm_queue_reject(q, taken[i]);
		else
			tdm_queue_settle(q, taken[i]);
	}
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
}

void hx_get(struct hx_req *r, struct tdm_vhost *vh, struct tdm_queue *q)
{
	struct hx_get_params p;
	if (get_params(r, vh, q, &p) < 0)
		return;
	if (q->remote) { /* another node's queue: its home gives them */
		hx_remote_get(r, q, &p);
		return;
	}
	struct tdm_qentry *taken = p.count ? calloc((size_t)p.count, sizeof(*taken)) : NULL;
	uint64_t *left = p.count ? calloc((size_t)p.count, sizeof(*left)) : NULL;
	if (p.count && (!taken || !left)) {
		free(taken);
		free(left);
		hx_error(r, 500, "internal_error", "out of memory");
		return;
	}
	size_t n = 0;
	/* take them all first: a requeued message would come straight back */
	while (n < (size_t)p.count && tdm_queue_pop(q, &taken[n]))
		n++;
	for (size_t i = 0; i < n; i++)
		left[i] = tdm_queue_ready(q) + (n - i - 1);
	hx_get_reply(r, q, &p, taken, left, n);
	free(taken);
	free(left);
}

/* ---- bindings ------------------------------------------------------------- */

struct bind_walk {
	struct js_w *w;
	const struct tdm_exchange *src;
	const struct tdm_dest *only_dest;   /* NULL: any */
	int dest_kind;                      /* 0: any, else TDM_DEST_* */
	const char *props_key;              /* find one binding: its properties_key */
	int found;
	/* for delete by properties_key */
	char key[256];
	size_t key_len;
	struct ex_hdr args[HDRS_MAX];       /* key/val: offsets into copy until fixed up */
	size_t koff[HDRS_MAX], voff[HDRS_MAX];
	size_t nargs;
	struct js_w copy;                   /* the found binding's argument bytes */
};

/* FNV-1a: not a table's hash (those are seeded per process) but a name
 * that must stay the same across restarts, as properties_key does. */
static uint64_t fnv1a(const void *p, size_t len)
{
	const unsigned char *s = p;
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ s[i]) * 1099511628211ull;
	return h;
}

static uint64_t args_hash(const struct ex_hdr *a, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h = (h ^ fnv1a(a[i].key, a[i].key_len)) * 1099511628211ull;
		h = (h ^ a[i].type) * 1099511628211ull;
		if (a[i].val_len)
			h = (h ^ fnv1a(a[i].val, a[i].val_len)) * 1099511628211ull;
	}
	return h;
}

/* The routing key as RabbitMQ's properties_key spells it (mochiweb's
 * quote_plus): letters, digits and ".-~_" stay, a space is "+", any other
 * byte "%XX".  out holds at least 3 * klen + 1 bytes. */
static void quote_plus(char *out, const char *key, size_t klen)
{
	for (size_t i = 0; i < klen; i++) {
		unsigned char c = (unsigned char)key[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '.' || c == '-' || c == '~' || c == '_') {
			*out++ = (char)c;
		} else if (c == ' ') {
			*out++ = '+';
		} else {
			*out++ = '%';
			*out++ = tu_hex_upper(c >> 4);
			*out++ = tu_hex_upper(c);
		}
	}
	*out = '\0';
}

/* RabbitMQ's properties_key: the quoted routing key ("~" when empty), plus
 * "~" and a hash of the arguments when there are any (RabbitMQ hashes them
 * its own way: ours differs there, but is as stable). */
static void props_key(char *out, size_t len, const char *key, size_t klen,
		      const struct ex_hdr *a, size_t n)
{
	char q[3 * 255 + 1];
	quote_plus(q, key, klen > 255 ? 255 : klen);
	if (n)
		snprintf(out, len, "%s~%016llx", q, (unsigned long long)args_hash(a, n));
	else if (klen)
		snprintf(out, len, "%s", q);
	else
		snprintf(out, len, "~");
}

static void dest_name(const void *dest, const char **name, size_t *len, const char **kind)
{
	const struct tdm_dest *dd = dest;
	if (dd->kind == TDM_DEST_QUEUE) {
		const struct tdm_queue *q = dest;
		*name = q->name, *len = q->name_len, *kind = "queue";
	} else {
		const struct tdm_exchange *x = dest;
		*name = x->name, *len = x->name_len, *kind = "exchange";
	}
}

static void write_binding(struct js_w *w, const struct tdm_vhost *vh, const char *src, size_t slen,
			  const void *dest, const char *key, size_t klen, const struct ex_hdr *a,
			  size_t n)
{
	const char *dn, *kind;
	size_t dl;
	char pk[3 * 255 + 32];
	dest_name(dest, &dn, &dl, &kind);
	props_key(pk, sizeof(pk), key, klen, a, n);
	js_obj(w);
	js_kstrn(w, "source", src, slen);
	js_kstrn(w, "vhost", vh->name, vh->name_len);
	js_kstrn(w, "destination", dn, dl);
	js_kstr(w, "destination_type", kind);
	js_kstrn(w, "routing_key", key, klen);
	js_key(w, "arguments");
	hv_hdrs_to_json(w, a, n);
	js_kstr(w, "properties_key", pk);
	js_obj_end(w);
}

static void binding_cb(void *dest, const char *key, size_t key_len, const struct ex_hdr *args,
		       size_t nargs, void *ctx)
{
	struct bind_walk *bw = ctx;
	const struct tdm_dest *dd = dest;
	if (bw->only_dest && dest != bw->only_dest)
		return;
	if (bw->dest_kind && dd->kind != bw->dest_kind)
		return;
	if (bw->props_key) {
		char pk[3 * 255 + 32];
		props_key(pk, sizeof(pk), key, key_len, args, nargs);
		if (bw->found || strcmp(pk, bw->props_key) != 0 || nargs > HDRS_MAX || key_len > 255)
			return;
		bw->found = 1;
		memcpy(bw->key, key, key_len);
		bw->key_len = key_len;
		bw->nargs = nargs;
		/* the table's copies are valid during the call only; deletion
		 * happens after the walk, so keep what identifies the binding */
		for (size_t i = 0; i < nargs; i++) {
			bw->args[i] = args[i];
			bw->koff[i] = bw->copy.len;
			js_raw(&bw->copy, args[i].key, args[i].key_len);
			bw->voff[i] = bw->copy.len;
			if (args[i].val_len)
				js_raw(&bw->copy, (const char *)args[i].val, args[i].val_len);
		}
		if (bw->w)
			write_binding(bw->w, bw->src->vhost, bw->src->name, bw->src->name_len, dest, key,
				      key_len, args, nargs);
		return;
	}
	write_binding(bw->w, bw->src->vhost, bw->src->name, bw->src->name_len, dest, key, key_len,
		      args, nargs);
}

/* Lists the bindings of vh into w: from src only (NULL: every exchange),
 * to dest only (NULL: any), plus the default exchange's implicit ones. */
static void vhost_bindings(struct js_w *w, struct tdm_vhost *vh, const struct tdm_exchange *src,
			   const void *dest, int dest_kind)
{
	const struct tdm_dest *dd = dest;
	int want_default = (!src || src->name_len == 0) &&
			   (!dest_kind || dest_kind == TDM_DEST_QUEUE) && (!dd || dd->kind == TDM_DEST_QUEUE);
	if (want_default) {
		size_t pos = 0;
		const char *k;
		size_t kl;
		void *v;
		while (tdm_map_next(&vh->queues, &pos, &k, &kl, &v))
			if (!dest || v == dest)
				write_binding(w, vh, "", 0, v, k, kl, NULL, 0);
	}
	struct bind_walk bw = { .w = w, .only_dest = dest, .dest_kind = dest_kind };
	size_t pos = 0;
	const char *k;
	size_t kl;
	void *v;
	while (tdm_map_next(&vh->exchanges, &pos, &k, &kl, &v)) {
		const struct tdm_exchange *x = v;
		if ((src && x != src) || !x->table)
			continue;
		bw.src = x;
		ex_foreach(x->table, binding_cb, &bw);
	}
}

static void reply_list(struct hx_req *r, struct tdm_vhost *vh, const struct tdm_exchange *src,
		       const void *dest, int kind)
{
	struct js_w w;
	js_w_init(&w);
	js_arr(&w);
	if (vh) {
		vhost_bindings(&w, vh, src, dest, kind);
	} else {
		size_t pos = 0;
		const char *k;
		size_t kl;
		void *v;
		while (tdm_map_next(&r->h->broker->vhosts, &pos, &k, &kl, &v))
			if (tdm_auth_vhost_allowed(r->h->broker->auth, r->user, k, kl))
				vhost_bindings(&w, v, NULL, NULL, 0);
	}
	js_arr_end(&w);
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
}

static struct tdm_exchange *path_exchange(struct hx_req *r, struct tdm_vhost *vh, int i)
{
	if (r->seg[i].len == 11 && memcmp(r->seg[i].s, "amq.default", 11) == 0)
		return tdm_exchange_find(vh, "", 0);
	return tdm_exchange_find(vh, r->seg[i].s, r->seg[i].len);
}

/* POST /api/bindings/vh/e/src/{q|e}/dst: creates a binding from the body's
 * routing_key and arguments; 201 with a Location naming it. */
static void create_binding(struct hx_req *r, struct tdm_vhost *vh, struct tdm_exchange *src,
			   struct tdm_dest *dst)
{
	if (hx_body(r) < 0)
		return;
	struct js_doc *d = &r->body;
	int rk = js_get(d, 0, "routing_key");
	size_t kl = 0;
	char *key = rk >= 0 ? js_strdup(d, rk, &kl) : strdup("");
	char err[200];
	struct js_w args;
	js_w_init(&args);
	if (!key || kl > 255) {
		hx_error(r, 400, "bad_request", "routing_key must be a string of at most 255 bytes");
		goto out;
	}
	if (hv_table_from_json(d, js_get(d, 0, "arguments"), &args, err, sizeof(err)) < 0) {
		hx_error(r, 400, "bad_request", err);
		goto out;
	}
	struct ex_hdr a[HDRS_MAX];
	int n = hv_table_to_hdrs((const uint8_t *)args.buf, args.len, a, HDRS_MAX);
	if (n < 0) {
		hx_error(r, 400, "bad_request", "too many arguments");
		goto out;
	}
	struct tdm_err e;
	int rc = tdm_binding_access(src, dst, r->user, key, kl, &e);
	if (rc == TDM_OK)
		rc = tdm_bind(src, dst, key, kl, a, (size_t)n, &e);
	if (rc != TDM_OK && rc != TDM_PROPOSED) { /* proposed: the reply waits (hx_no_content) */
		hx_core_error(r, &e);
		goto out;
	}
	/* RabbitMQ's Location: "<destination>/<properties_key>", relative to
	 * the URL posted to */
	char pk[3 * 255 + 32];
	const char *dn, *kind;
	size_t dl;
	props_key(pk, sizeof(pk), key, kl, a, (size_t)n);
	dest_name(dst, &dn, &dl, &kind);
	char *enc = evhttp_uriencode(pk, -1, 0), *dest = evhttp_uriencode(dn, (ev_ssize_t)dl, 0);
	char loc[1400];
	snprintf(loc, sizeof(loc), "%s/%s", dest ? dest : "", enc ? enc : "");
	free(enc);
	free(dest);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Location", loc);
	(void)vh;
	hx_no_content(r, 201);
out:
	free(key);
	js_w_free(&args);
}

/* GET /api/queues/vh/q/bindings. */
void hx_queue_bindings(struct hx_req *r)
{
	struct tdm_vhost *vh = hx_vhost(r, 1);
	struct tdm_queue *q = vh ? tdm_map_get(&vh->queues, r->seg[2].s, r->seg[2].len) : NULL;
	if (vh && !q)
		hx_not_found(r);
	else if (q)
		reply_list(r, vh, NULL, q, TDM_DEST_QUEUE);
}

/* GET /api/exchanges/vh/x/bindings/{source|destination}. */
void hx_exchange_bindings(struct hx_req *r)
{
	struct tdm_vhost *vh = hx_vhost(r, 1);
	struct tdm_exchange *x = vh ? path_exchange(r, vh, 2) : NULL;
	if (vh && !x)
		hx_not_found(r);
	else if (x && hx_seg_is(r, 4, "source"))
		reply_list(r, vh, x, NULL, 0);
	else if (x)
		reply_list(r, vh, NULL, x, TDM_DEST_EXCHANGE);
}

/* GET /api/bindings[/vh]. */
void hx_binding_list(struct hx_req *r)
{
	struct tdm_vhost *vh = NULL;
	if (r->nseg == 2 && !(vh = hx_vhost(r, 1)))
		return;
	reply_list(r, vh, NULL, NULL, 0);
}

/* The vhost, source and destination of /bindings/vh/e/src/{q|e}/dst[/props]
 * (0), or -1 with the 404 answered: RabbitMQ names what is missing when
 * a binding is to be created. */
static int binding_ends(struct hx_req *r, struct tdm_vhost **vh, struct tdm_exchange **src,
			struct tdm_dest **dst)
{
	if (!(*vh = hx_vhost(r, 1)))
		return -1;
	*src = path_exchange(r, *vh, 3);
	*dst = hx_seg_is(r, 4, "q")
		? (struct tdm_dest *)tdm_map_get(&(*vh)->queues, r->seg[5].s, r->seg[5].len)
		: (struct tdm_dest *)path_exchange(r, *vh, 5);
	if ((!*src || !*dst) && r->method == EVHTTP_REQ_POST) {
		char why[600];
		snprintf(why, sizeof(why), "no %s '%s' in vhost '%s'",
			 !*src || !hx_seg_is(r, 4, "q") ? "exchange" : "queue",
			 !*src ? r->seg[3].s : r->seg[5].s, (*vh)->name);
		hx_error(r, 404, "not_found", why);
		return -1;
	}
	if (!*src || !*dst) {
		hx_not_found(r);
		return -1;
	}
	return 0;
}

/* GET and POST /api/bindings/vh/e/src/{q|e}/dst: the bindings between two
 * objects, or a new one. */
void hx_bindings_between(struct hx_req *r)
{
	struct tdm_vhost *vh;
	struct tdm_exchange *src;
	struct tdm_dest *dst;
	if (binding_ends(r, &vh, &src, &dst) < 0)
		return;
	if (r->method == EVHTTP_REQ_POST)
		create_binding(r, vh, src, dst);
	else
		reply_list(r, vh, src, dst, hx_seg_is(r, 4, "q") ? TDM_DEST_QUEUE : TDM_DEST_EXCHANGE);
}

/* GET and DELETE /api/bindings/vh/e/src/{q|e}/dst/props: one binding. */
void hx_binding(struct hx_req *r)
{
	struct tdm_vhost *vh;
	struct tdm_exchange *src;
	struct tdm_dest *dst;
	if (binding_ends(r, &vh, &src, &dst) < 0)
		return;
	int get = r->method == EVHTTP_REQ_GET || r->method == EVHTTP_REQ_HEAD;
	int kind = hx_seg_is(r, 4, "q") ? TDM_DEST_QUEUE : TDM_DEST_EXCHANGE;
	struct js_w w;
	js_w_init(&w);
	struct bind_walk bw = { .w = get ? &w : NULL, .src = src, .only_dest = dst,
				.dest_kind = kind, .props_key = r->seg[6].s };
	if (src->table)
		ex_foreach(src->table, binding_cb, &bw);
	if (!bw.found) {
		hx_not_found(r);
	} else if (get) {
		hx_reply_json(r, 200, &w);
	} else {
		struct tdm_err e;
		for (size_t i = 0; i < bw.nargs && !bw.copy.oom; i++) {
			bw.args[i].key = bw.copy.buf + bw.koff[i];
			bw.args[i].val = bw.args[i].val_len ? (const uint8_t *)bw.copy.buf + bw.voff[i]
							     : NULL;
		}
		if (bw.copy.oom)
			hx_error(r, 500, "internal_error", "out of memory");
		else if (tdm_binding_access(src, dst, r->user, bw.key, bw.key_len, &e) != TDM_OK ||
			 tdm_unbind(src, dst, bw.key, bw.key_len, bw.args, bw.nargs, &e) < TDM_OK)
			hx_core_error(r, &e); /* TDM_PROPOSED: hx_no_content waits for it */
		else
			hx_no_content(r, 204);
	}
	js_w_free(&w);
	js_w_free(&bw.copy);
}
