/*
 * The driver of the cluster's definitions log (core/defs.h) on the loop:
 * runs the applier whenever the partition's data or high
 * watermark moves (a data waiter on it), on a follower also at once after
 * each fetch response that moved it (the replica manager's applier, so
 * the leader can tell this node applied it), and every POLL_MS besides
 * (for the partition appearing, and proposals' deadlines).
 *
 * Must not depend on: protocol front ends.
 */
#include <stdlib.h>

#include <event2/event.h>

#include "cluster/defs_log.h"
#include "core/broker.h"
#include "core/defs.h"
#include "core/log.h"
#include "core/replica.h"
#include "core/topics.h"

#define POLL_MS 200

struct tdm_cdefs {
	struct tdm_broker *b;             /* borrowed */
	struct tdm_defs *defs;            /* owned */
	struct event *wake, *timer;       /* owned */
	struct tdm_topics_waiter waiter;
	struct ls_partition *watched;     /* what the waiter watches */
};

static void woken(void *ctx)
{
	struct tdm_cdefs *c = ctx;
	event_active(c->wake, EV_TIMEOUT, 0);
}

static void run(struct tdm_cdefs *c)
{
	tdm_defs_poll(c->defs, tdm_now_ms());
	struct ls_partition *p = tdm_defs_partition(c->defs);
	if (p != c->watched) {
		tdm_topics_unwait(c->b->topics, &c->waiter);
		c->watched = p;
	}
	if (p && !c->waiter.linked) {
		c->waiter.fn = woken;
		c->waiter.ctx = c;
		c->waiter.parts = &c->watched;
		c->waiter.nparts = 1;
		tdm_topics_wait_data(c->b->topics, &c->waiter);
	}
}

/* The fetcher, before it fetches again (core/replica.h: applier topics). */
static void applier(void *ctx)
{
	run(ctx);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	run(arg);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct tdm_cdefs *c = arg;
	run(c);
	struct timeval tv = { 0, POLL_MS * 1000 };
	evtimer_add(c->timer, &tv);
}

struct tdm_cdefs *tdm_cdefs_start(struct event_base *base, struct tdm_broker *b)
{
	struct tdm_cdefs *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->b = b;
	c->defs = tdm_defs_new(b);
	c->wake = event_new(base, -1, 0, wake_cb, c);
	c->timer = evtimer_new(base, timer_cb, c);
	if (!c->defs || !c->wake || !c->timer ||
	    tdm_replica_set_applier(b->replica, TDM_DEFS_TOPIC, applier, c) != 0) {
		tdm_cdefs_free(c);
		return NULL;
	}
	timer_cb(-1, 0, c);
	return c;
}

struct tdm_defs *tdm_cdefs_defs(struct tdm_cdefs *c)
{
	return c ? c->defs : NULL;
}

void tdm_cdefs_free(struct tdm_cdefs *c)
{
	if (!c)
		return;
	tdm_topics_unwait(c->b->topics, &c->waiter);
	tdm_replica_set_applier(c->b->replica, TDM_DEFS_TOPIC, NULL, NULL);
	tdm_defs_free(c->defs);
	if (c->wake)
		event_free(c->wake);
	if (c->timer)
		event_free(c->timer);
	free(c);
}
