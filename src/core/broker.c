/*
 * The broker object's lifecycle: creation (with the memory limit resolved
 * from the configuration), teardown of every vhost, the once-per-loop-turn
 * dispatch pass over queues with deliveries to push, and the periodic tick
 * (message TTLs, x-expires, resource alarms, journal flush and reclaim).
 * Vhosts and the queue registry are in vhost.c.
 *
 * Must not depend on: libevent (the front end's schedule hook asks for a
 * dispatch pass; main's timer calls the tick), protocol front ends.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "core/broker.h"
#include "core/config.h"
#include "core/durable.h"
#include "core/limits.h"
#include "core/quorum.h"

#define DISPATCH_BUDGET 256 /* deliveries per queue per pass: keeps the loop fair */

struct tdm_broker *tdm_broker_new(const struct tdm_config *cfg, struct tdm_auth *auth)
{
	struct tdm_broker *b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->cfg = cfg;
	b->auth = auth;
	b->now_ms = tdm_now_ms();
	b->limits = tdm_limits_new();
	if (!b->limits) {
		free(b);
		return NULL;
	}
	for (size_t i = 0; cfg && i < cfg->nlimits; i++) {
		const struct tdm_limit_conf *lc = &cfg->limits[i];
		if (tdm_limits_set(b->limits, lc->user ? TDM_LIMIT_USER : TDM_LIMIT_VHOST, lc->name,
				   lc->field, lc->value) != 0) {
			tdm_limits_free(b->limits);
			free(b);
			return NULL;
		}
	}
	if (cfg) {
		b->page_window = cfg->queue_memory_window;
		b->mem_limit = cfg->memory_high_watermark;
		if (!b->mem_limit) /* RabbitMQ's default: 40% of physical memory */
			b->mem_limit = (uint64_t)sysconf(_SC_PHYS_PAGES) * (uint64_t)sysconf(_SC_PAGESIZE) / 5 * 2;
	}
	tdm_map_init(&b->vhosts);
	return b;
}

void tdm_broker_free(struct tdm_broker *b)
{
	if (!b)
		return;
	size_t pos = 0;
	void *v;
	while (tdm_map_next(&b->vhosts, &pos, NULL, NULL, &v))
		tdm_vhost_free(v);
	tdm_map_free(&b->vhosts);
	while (b->dead_vhosts) {
		struct tdm_vhost *vh = b->dead_vhosts;
		b->dead_vhosts = vh->dead_next;
		tdm_vhost_free(vh);
	}
	tdm_limits_free(b->limits);
	free(b);
}

void tdm_broker_mark_dirty(struct tdm_queue *q)
{
	struct tdm_broker *b = q->vhost->broker;
	int was_idle = b->dirty_head == NULL;
	q->dirty = 1;
	q->dirty_next = NULL;
	tdm_queue_ref(q);
	if (b->dirty_tail)
		b->dirty_tail->dirty_next = q;
	else
		b->dirty_head = q;
	b->dirty_tail = q;
	if (was_idle && b->schedule)
		b->schedule(b->schedule_ctx);
}

void tdm_broker_dispatch(struct tdm_broker *b)
{
	/* Take the current list: queues marked during this pass go to the next. */
	struct tdm_queue *q = b->dirty_head;
	b->dirty_head = b->dirty_tail = NULL;
	while (q) {
		struct tdm_queue *next = q->dirty_next;
		q->dirty = 0;
		if (!q->deleted && tdm_queue_dispatch(q, DISPATCH_BUDGET))
			tdm_queue_kick(q);
		tdm_queue_unref(q);
		q = next;
	}
	tdm_durable_flush(b->durable); /* acks of no-ack deliveries, delivery marks */
}

static uint64_t resident_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");
	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &resident) != 2)
		resident = 0;
	fclose(f);
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Memory every tick, disk every second; the hook hears of every change. */
static void check_alarms(struct tdm_broker *b)
{
	unsigned alarms = b->alarms;
	if (b->alarms & TDM_ALARM_MEMORY)
		malloc_trim(0); /* freed memory goes back, or the alarm would never clear */
	b->rss = resident_bytes();
	if (b->mem_limit)
		alarms = b->rss > b->mem_limit ? alarms | TDM_ALARM_MEMORY : alarms & ~TDM_ALARM_MEMORY;
	struct statvfs sv;
	if (b->cfg && b->ticks++ % 10 == 0 && statvfs(b->cfg->data_dir, &sv) == 0) {
		b->disk_free = (uint64_t)sv.f_bavail * sv.f_frsize;
		alarms = b->disk_free < b->cfg->disk_free_limit ? alarms | TDM_ALARM_DISK
								 : alarms & ~TDM_ALARM_DISK;
	}
	if (alarms != b->alarms) {
		b->alarms = alarms;
		if (b->alarm_changed)
			b->alarm_changed(b->alarm_ctx, alarms);
	}
}

void tdm_broker_tick(struct tdm_broker *b)
{
	uint64_t now = tdm_now_ms();
	b->now_ms = now;
	check_alarms(b);
	struct tdm_queue *q = b->timed;
	while (q) {
		tdm_queue_expire(q, now); /* may dead-letter into other queues, never remove one */
		struct tdm_queue *next = q->timed_next;
		/* a quorum queue's proxy keeps its settings: its leader expires it */
		if (q->expires_ms >= 0 && !q->nconsumers && !q->remote &&
		    now - q->last_used >= (uint64_t)q->expires_ms)
			tdm_queue_remove(q);
		q = next;
	}
	tdm_quorum_tick(b);
	tdm_durable_flush(b->durable);
	tdm_durable_gc(b->durable);
	if (b->on_tick)
		b->on_tick(b->on_tick_ctx, now);
}
