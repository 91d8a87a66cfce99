/*
 * Dead-lettering as RabbitMQ 3.10 does it: the message is re-published
 * through the queue's dead-letter exchange with its routing key (or the
 * queue's x-dead-letter-routing-key), its per-message expiration removed,
 * and its headers extended with x-death (one entry per queue and reason,
 * most recent first, with a count) and x-first-death-{reason,queue,exchange}.
 * Cycles are broken as RabbitMQ breaks them: a message is not dead-lettered
 * back into a queue it already died in, unless a client rejected it along
 * the way.
 *
 * The core calls this through the broker's dead_letter hook: the content
 * header is AMQP wire format, so rewriting it belongs to this front end.
 *
 * May depend on: amqp/am.h (the codec, core/broker.h, net/net.h) and other
 * core/ headers.  Must not depend on: other front ends, logstore/ (core is
 * its only door), libevent other than through net/net.h.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amqp/am.h"
#include "core/log.h"

static const char *const reason_names[] = {
	[TDM_DL_REJECTED] = "rejected", [TDM_DL_EXPIRED] = "expired", [TDM_DL_MAXLEN] = "maxlen",
	[TDM_DL_DELIVERY_LIMIT] = "delivery_limit",
};

static int bytes_eq(struct am_bytes b, const char *s, size_t len)
{
	return b.len == len && memcmp(b.ptr, s, len) == 0;
}

/* One field of a table being rebuilt: key and the value's wire form. */
struct field {
	struct am_bytes key;
	uint8_t type;
	struct am_bytes raw;
};

static int field_cmp(const void *pa, const void *pb)
{
	const struct field *a = pa, *b = pb;
	size_t n = a->key.len < b->key.len ? a->key.len : b->key.len;
	int c = memcmp(a->key.ptr, b->key.ptr, n);
	return c ? c : (a->key.len > b->key.len) - (a->key.len < b->key.len);
}

static void put_field(struct am_tb *tb, const struct field *f)
{
	char k[256];
	memcpy(k, f->key.ptr, f->key.len);
	k[f->key.len] = '\0';
	am_tb_raw(tb, k, f->type, f->raw.ptr, f->raw.len);
}

/* Collects a table's fields (except `skip1`, `skip2`, `skip3`) into out[0..max). */
static size_t collect_fields(struct am_bytes table, const char *skip1, const char *skip2,
			     const char *skip3, struct field *out, size_t max)
{
	struct am_table_iter it;
	struct am_bytes key;
	struct am_value v;
	size_t n = 0;
	am_table_iter_init(&it, table);
	while (n < max && am_table_next(&it, &key, &v)) {
		if ((skip1 && bytes_eq(key, skip1, strlen(skip1))) ||
		    (skip2 && bytes_eq(key, skip2, strlen(skip2))) ||
		    (skip3 && bytes_eq(key, skip3, strlen(skip3))))
			continue;
		out[n++] = (struct field){ key, v.type, v.raw };
	}
	return n;
}

struct death_ctx {
	struct tdm_queue *q;
	const struct tdm_message *m;
	const char *reason;
	struct am_bytes expiration; /* the message's own, if any */
	struct am_bytes headers;    /* the message's headers table */
};

/* The entry of the x-death array for (queue, reason), or 0. */
static int find_death(struct am_bytes deaths, const struct death_ctx *d, struct am_value *out)
{
	struct am_table_iter it;
	struct am_value e, f;
	am_array_iter_init(&it, deaths);
	while (am_table_next(&it, NULL, &e)) {
		if (e.type != 'F')
			continue;
		if (am_table_get(e.v.bytes, "queue", &f) && f.type == 'S' &&
		    bytes_eq(f.v.bytes, d->q->name, d->q->name_len) &&
		    am_table_get(e.v.bytes, "reason", &f) && f.type == 'S' &&
		    bytes_eq(f.v.bytes, d->reason, strlen(d->reason))) {
			*out = e;
			return 1;
		}
	}
	return 0;
}

#define MAX_FIELDS 256

/* A new x-death entry.  RabbitMQ writes the very first one in its own
 * order and later ones with their keys sorted. */
static void new_death(struct am_tb *tb, const struct death_ctx *d, int sorted)
{
	const char *const fixed[] = { "count", "reason", "queue", "time", "exchange", "routing-keys",
				      "original-expiration" };
	const char *const alpha[] = { "count", "exchange", "original-expiration", "queue", "reason",
				      "routing-keys", "time" };
	const char *const *order = sorted ? alpha : fixed;
	am_tb_table_begin(tb, NULL);
	for (size_t i = 0; i < 7; i++) {
		const char *k = order[i];
		if (!strcmp(k, "count"))
			am_tb_long(tb, k, 1);
		else if (!strcmp(k, "reason"))
			am_tb_str(tb, k, d->reason, strlen(d->reason));
		else if (!strcmp(k, "queue"))
			am_tb_str(tb, k, d->q->name, d->q->name_len);
		else if (!strcmp(k, "time"))
			am_tb_timestamp(tb, k, (uint64_t)time(NULL));
		else if (!strcmp(k, "exchange"))
			am_tb_str(tb, k, d->m->exchange, d->m->exchange_len);
		else if (!strcmp(k, "routing-keys")) {
			am_tb_array_begin(tb, k); /* the routing key, then the CC keys */
			am_tb_str(tb, NULL, d->m->routing_key, d->m->routing_key_len);
			struct am_ssd s;
			struct am_bytes key;
			am_ssd_find(d->headers, &s);
			if (s.has_cc && s.cc.type == 'A') {
				struct am_table_iter it;
				am_array_iter_init(&it, s.cc.v.bytes);
				while (am_ssd_next_key(&it, &key))
					am_tb_str(tb, NULL, (const char *)key.ptr, key.len);
			}
			am_tb_array_end(tb);
		} else if (d->expiration.len) {
			am_tb_str(tb, k, (const char *)d->expiration.ptr, d->expiration.len);
		}
	}
	am_tb_table_end(tb);
}

/* The same death again: count + 1, the rest kept (time included), keys sorted. */
static void again_death(struct am_tb *tb, struct am_bytes prev)
{
	struct field f[MAX_FIELDS];
	struct am_value count;
	int64_t n = am_table_get(prev, "count", &count) && count.type == 'l' ? count.v.i : 0;
	size_t nf = collect_fields(prev, "count", NULL, NULL, f, MAX_FIELDS);
	qsort(f, nf, sizeof(*f), field_cmp);
	am_tb_table_begin(tb, NULL);
	am_tb_long(tb, "count", n + 1); /* "count" sorts first */
	for (size_t i = 0; i < nf; i++)
		put_field(tb, &f[i]);
	am_tb_table_end(tb);
}

/* Writes the x-death array: this death first, then the earlier ones. */
static void write_deaths(struct am_tb *tb, struct am_bytes old, int have_old, const struct death_ctx *d)
{
	struct am_value prev;
	int again = have_old && find_death(old, d, &prev);
	am_tb_array_begin(tb, "x-death");
	if (again)
		again_death(tb, prev.v.bytes);
	else
		new_death(tb, d, have_old);
	if (have_old) {
		struct am_table_iter it;
		struct am_value e;
		am_array_iter_init(&it, old);
		while (am_table_next(&it, NULL, &e))
			if (!(again && e.raw.ptr == prev.raw.ptr))
				am_tb_raw(tb, NULL, e.type, e.raw.ptr, e.raw.len);
	}
	am_tb_array_end(tb);
}

/* The new headers table, sorted by key as RabbitMQ leaves it: the old
 * headers without BCC, x-death rewritten, x-first-death-* kept or set; and
 * without CC when the queue has a dead-letter routing key, the one key the
 * message is routed with then. */
static int build_headers(struct am_bytes old, const struct death_ctx *d, uint8_t *buf, size_t cap,
			 struct am_bytes *out)
{
	struct am_tb tb;
	struct am_value deaths, v;
	int have_deaths = am_table_get(old, "x-death", &deaths) && deaths.type == 'A';
	/* the x-death value is built first, at the end of buf, then placed in order */
	size_t half = cap / 2;
	struct am_tb xt;
	struct am_bytes xtable;
	am_tb_init(&xt, buf + half, cap - half);
	write_deaths(&xt, deaths.v.bytes, have_deaths, d);
	int rc = am_tb_finish(&xt, &xtable);
	if (rc != AM_OK)
		return rc;
	struct am_value xd;
	am_table_get(xtable, "x-death", &xd);
	struct field f[MAX_FIELDS + 4];
	size_t nf = collect_fields(old, "x-death", "BCC", d->q->dlrk ? "CC" : NULL, f, MAX_FIELDS);
	f[nf++] = (struct field){ { (const uint8_t *)"x-death", 7 }, 'A', xd.raw };
	uint8_t firsts[3][300];
	if (!am_table_get(old, "x-first-death-reason", &v)) {
		const char *names[3] = { "x-first-death-reason", "x-first-death-queue", "x-first-death-exchange" };
		const char *vals[3] = { d->reason, d->q->name, d->m->exchange };
		size_t lens[3] = { strlen(d->reason), d->q->name_len, d->m->exchange_len };
		for (int i = 0; i < 3; i++) {
			firsts[i][0] = (uint8_t)(lens[i] >> 24), firsts[i][1] = (uint8_t)(lens[i] >> 16);
			firsts[i][2] = (uint8_t)(lens[i] >> 8), firsts[i][3] = (uint8_t)lens[i];
			memcpy(firsts[i] + 4, vals[i], lens[i]);
			f[nf++] = (struct field){ { (const uint8_t *)names[i], (uint32_t)strlen(names[i]) },
						  'S', { firsts[i], (uint32_t)(4 + lens[i]) } };
		}
	}
	qsort(f, nf, sizeof(*f), field_cmp);
	am_tb_init(&tb, buf, half);
	for (size_t i = 0; i < nf; i++)
		put_field(&tb, &f[i]);
	return am_tb_finish(&tb, out);
}

/* A dead-lettered copy of m with rewritten properties, or NULL. */
static struct tdm_message *rewrite(struct tdm_queue *q, const struct tdm_message *m,
				   enum tdm_dl_reason why, struct am_bytes *headers_out,
				   uint8_t **scratch)
{
	struct am_content_header h;
	if (am_content_header_decode(m->header, m->header_len, &h) != AM_OK)
		return NULL;
	struct death_ctx d = { q, m, reason_names[why], { NULL, 0 }, { NULL, 0 } };
	if (h.props.flags & AM_P_EXPIRATION)
		d.expiration = h.props.expiration;
	struct am_bytes old = (h.props.flags & AM_P_HEADERS) ? h.props.headers : (struct am_bytes){ 0 };
	d.headers = old;
	size_t cap = old.len + m->routing_key_len + 2 * q->name_len + 1024;
	struct am_bytes headers;
	for (;;) {
		uint8_t *buf = realloc(*scratch, cap * 2 + m->header_len);
		if (!buf)
			return NULL;
		*scratch = buf;
		int rc = build_headers(old, &d, buf, cap, &headers);
		if (rc == AM_OK)
			break;
		if (rc != AM_ERR_NOSPACE || cap > (1u << 24))
			return NULL;
		cap *= 2;
	}
	h.props.headers = headers;
	h.props.flags |= AM_P_HEADERS;
	h.props.flags &= (uint16_t)~AM_P_EXPIRATION;
	uint8_t *hdr = *scratch + cap;
	size_t hlen;
	if (am_content_header_encode(m->body_len, &h.props, hdr, cap + m->header_len, &hlen) != AM_OK)
		return NULL;
	const char *rk = q->dlrk ? q->dlrk : m->routing_key;
	size_t rklen = q->dlrk ? strlen(q->dlrk) : m->routing_key_len;
	struct tdm_message *n = tdm_message_new(q->dlx, strlen(q->dlx), rk, rklen, hdr, hlen, m->body_len);
	if (!n)
		return NULL;
	memcpy(n->body, m->body, m->body_len);
	n->body_filled = m->body_len;
	n->persistent = m->persistent;
	n->priority = m->priority;
	/* RabbitMQ routes it with the keys it was published with (CC and BCC
	 * too), or with the dead-letter routing key alone.  A message read
	 * back from the journal kept no keys: its CC header still has some. */
	if (!q->dlrk) {
		struct am_ssd s;
		uint8_t *keys = NULL;
		size_t klen = m->rkeys_len;
		int rc;
		if (m->rkeys) {
			rc = tdm_message_set_rkeys(n, m->rkeys, m->rkeys_len);
		} else {
			am_ssd_find(old, &s);
			rc = am_ssd_pack(&s, 0, &keys, &klen) < 0 ? -1
								 : tdm_message_set_rkeys(n, keys, klen);
			free(keys);
		}
		if (rc < 0) {
			tdm_message_unref(n);
			return NULL;
		}
	}
	*headers_out = headers;
	return n;
}

/* RabbitMQ's cycle rule: q2 is skipped when the message already died in it
 * and no death on the way was a client's rejection. */
static int is_cycle(struct am_bytes headers, const struct tdm_queue *q2)
{
	struct am_value deaths, e, f;
	if (!am_table_get(headers, "x-death", &deaths) || deaths.type != 'A')
		return 0;
	int seen = 0, rejected = 0;
	struct am_table_iter it;
	am_array_iter_init(&it, deaths.v.bytes);
	while (am_table_next(&it, NULL, &e)) {
		if (e.type != 'F')
			continue;
		if (am_table_get(e.v.bytes, "queue", &f) && f.type == 'S' &&
		    bytes_eq(f.v.bytes, q2->name, q2->name_len))
			seen = 1;
		if (am_table_get(e.v.bytes, "reason", &f) && f.type == 'S' &&
		    bytes_eq(f.v.bytes, "rejected", 8))
			rejected = 1;
	}
	return seen && !rejected;
}

static void dead_letter(void *ctx, struct tdm_queue *q, struct tdm_message *m, enum tdm_dl_reason why)
{
	(void)ctx;
	struct tdm_exchange *x = tdm_exchange_find(q->vhost, q->dlx, strlen(q->dlx));
	if (!x) /* as RabbitMQ: a missing dead-letter exchange drops the message */
		return;
	uint8_t *scratch = NULL;
	struct am_bytes headers;
	struct tdm_message *n = rewrite(q, m, why, &headers, &scratch);
	if (!n) {
		free(scratch);
		tdm_warn("amqp", "could not dead-letter a message from queue '%s'", q->name);
		return;
	}
	struct tdm_route r;
	tdm_route_init(&r);
	am_route_message(x, n, &r);
	size_t kept = 0;
	for (size_t i = 0; i < r.n; i++)
		if (!is_cycle(headers, r.queues[i]))
			r.queues[kept++] = r.queues[i];
	r.n = kept;
	tdm_publish(q->vhost->broker, &r, n);
	tdm_route_free(&r);
	tdm_message_unref(n);
	free(scratch);
}

void am_deadletter_install(struct tdm_broker *b)
{
	b->dead_letter = dead_letter;
	b->dead_letter_ctx = NULL;
}
