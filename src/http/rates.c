/*
 * Message rates for the management API (RabbitMQ's "*_details": {"rate"}):
 * every 5 s (RabbitMQ's default collect interval) a timer reads the
 * counters that live in the queues, exchanges and broker and keeps, per
 * object, the last reading and the rate since the one before.  The
 * counters stay in the objects; this is only the API's view of their
 * slope.  Cost: O(queues + exchanges) every 5 s, one small record each.
 *
 * Must not depend on: other front ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "http/hx.h"

#define RATE_INTERVAL_MS 5000

struct rate_rec {
	uint64_t last[HX_NRATES];
	double rate[HX_NRATES];
	uint64_t epoch;
};

struct hx_rates {
	struct event *ev;       /* owned */
	struct tdm_broker *b;   /* borrowed */
	struct tdm_map recs;    /* "q\0vhost\0name" / "x\0vhost\0name" -> struct rate_rec (owned) */
	struct rate_rec overall;
	uint64_t epoch, last_ms;
};

/* Key of an object: kind, vhost and name, NUL-separated (names are bytes). */
static size_t rate_key(char *out, size_t cap, char kind, const struct tdm_vhost *vh,
		       const char *name, size_t len)
{
	size_t n = 2 + vh->name_len + 1 + len;
	if (n > cap)
		return 0;
	out[0] = kind;
	out[1] = '\0';
	memcpy(out + 2, vh->name, vh->name_len);
	out[2 + vh->name_len] = '\0';
	memcpy(out + 3 + vh->name_len, name, len);
	return n;
}

static void update(struct rate_rec *r, const uint64_t *now, double secs, int fresh)
{
	for (int i = 0; i < HX_NRATES; i++) {
		r->rate[i] = fresh || now[i] < r->last[i] || secs <= 0 ? 0.0
			   : (double)(now[i] - r->last[i]) / secs;
		r->last[i] = now[i];
	}
}

static void sample_one(struct hx_rates *rt, const char *key, size_t kl, const uint64_t *now,
		       double secs)
{
	struct rate_rec *r = tdm_map_get(&rt->recs, key, kl);
	int fresh = 0;
	if (!r) {
		if (!(r = calloc(1, sizeof(*r))) || tdm_map_put(&rt->recs, key, kl, r) < 0) {
			free(r);
			return;
		}
		/* new since the last sample: its counters started at 0 in this
		 * interval; at the first sample nothing is known yet */
		fresh = rt->epoch <= 1;
	}
	update(r, now, secs, fresh);
	r->epoch = rt->epoch;
}

static uint64_t wall_ms(void)
{
	return hx_wall_ms();
}

static void sample(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct hx_rates *rt = arg;
	struct tdm_broker *b = rt->b;
	uint64_t t = wall_ms();
	double secs = rt->last_ms ? (double)(t - rt->last_ms) / 1000.0 : 0;
	rt->last_ms = t;
	rt->epoch++;
	uint64_t total[HX_NRATES] = { b->stat_published, b->stat_gone_delivered, b->stat_gone_acked };
	size_t pos = 0, p2;
	const char *k;
	size_t kl;
	void *v, *v2;
	char key[600];
	while (tdm_map_next(&b->vhosts, &pos, &k, &kl, &v)) {
		struct tdm_vhost *vh = v;
		p2 = 0;
		while (tdm_map_next(&vh->queues, &p2, &k, &kl, &v2)) {
			const struct tdm_queue *q = v2;
			uint64_t now[HX_NRATES] = { q->stat_published, q->stat_delivered, q->stat_acked };
			total[1] += q->stat_delivered;
			total[2] += q->stat_acked;
			size_t n = rate_key(key, sizeof(key), 'q', vh, q->name, q->name_len);
			if (n)
				sample_one(rt, key, n, now, secs);
		}
		p2 = 0;
		while (tdm_map_next(&vh->exchanges, &p2, &k, &kl, &v2)) {
			const struct tdm_exchange *x = v2;
			uint64_t now[HX_NRATES] = { x->stat_in, x->stat_out, 0 };
			size_t n = rate_key(key, sizeof(key), 'x', vh, x->name, x->name_len);
			if (n)
				sample_one(rt, key, n, now, secs);
		}
	}
	update(&rt->overall, total, secs, secs <= 0);
	/* forget objects that are gone */
	pos = 0;
	while (tdm_map_next(&rt->recs, &pos, &k, &kl, &v)) {
		struct rate_rec *r = v;
		if (r->epoch != rt->epoch) {
			tdm_map_del(&rt->recs, k, kl);
			free(r);
		}
	}
}

struct hx_rates *hx_rates_new(struct event_base *base, struct tdm_broker *b)
{
	struct hx_rates *rt = calloc(1, sizeof(*rt));
	if (!rt)
		return NULL;
	rt->b = b;
	tdm_map_init(&rt->recs);
	rt->ev = event_new(base, -1, EV_PERSIST, sample, rt);
	struct timeval tv = { RATE_INTERVAL_MS / 1000, (RATE_INTERVAL_MS % 1000) * 1000 };
	if (!rt->ev || event_add(rt->ev, &tv) < 0) {
		hx_rates_free(rt);
		return NULL;
	}
	sample(-1, 0, rt); /* the first reading: rates start at 0 */
	return rt;
}

void hx_rates_free(struct hx_rates *rt)
{
	if (!rt)
		return;
	if (rt->ev)
		event_free(rt->ev);
	size_t pos = 0;
	const char *k;
	size_t kl;
	void *v;
	while (tdm_map_next(&rt->recs, &pos, &k, &kl, &v))
		free(v);
	tdm_map_free(&rt->recs);
	free(rt);
}

static const double *lookup(const struct hx_rates *rt, char kind, const struct tdm_vhost *vh,
			    const char *name, size_t len)
{
	char key[600];
	if (!rt)
		return NULL;
	size_t n = rate_key(key, sizeof(key), kind, vh, name, len);
	const struct rate_rec *r = n ? tdm_map_get(&rt->recs, key, n) : NULL;
	return r ? r->rate : NULL;
}

const double *hx_rates_queue(const struct hx_rates *rt, const struct tdm_queue *q)
{
	return lookup(rt, 'q', q->vhost, q->name, q->name_len);
}

const double *hx_rates_exchange(const struct hx_rates *rt, const struct tdm_exchange *x)
{
	return lookup(rt, 'x', x->vhost, x->name, x->name_len);
}

const double *hx_rates_overall(const struct hx_rates *rt)
{
	return rt ? rt->overall.rate : NULL;
}

void hx_rate_details(struct js_w *w, const char *key, const double *rates, int i)
{
	char k[64];
	snprintf(k, sizeof(k), "%s_details", key);
	js_key(w, k);
	js_obj(w);
	js_key(w, "rate");
	js_double(w, rates ? rates[i] : 0.0);
	js_obj_end(w);
}
