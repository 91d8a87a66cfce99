/*
 * tandem-perf: what every mode's worker calls - the clock, rate pacing on a
 * fixed schedule, the message stamp, confirm and delivery accounting.  Hot
 * path: called once per message, so no locks; counters other threads read
 * are relaxed atomics written by their one owner.
 *
 * Must not depend on: any client library.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "tools/perf.h"

uint64_t perf_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void perf_sleep_until(uint64_t t)
{
	struct timespec ts = { (time_t)(t / 1000000000u), (long)(t % 1000000000u) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

bool perf_aborting(const struct perf_run *run)
{
	return atomic_load_explicit(&run->phase, memory_order_relaxed) == PERF_ABORT;
}

bool perf_producer_next(struct perf_worker *w, uint64_t seq, uint64_t *due_ns)
{
	const struct perf_run *run = w->run;
	const struct perf_opts *o = run->opts;
	*due_ns = 0;
	if (atomic_load_explicit(&run->phase, memory_order_relaxed) != PERF_RUN)
		return false;
	if (o->count && seq >= o->count)
		return false;
	uint64_t start = atomic_load_explicit(&run->t_start_ns, memory_order_relaxed);
	if (o->rate > 0)
		*due_ns = start + (uint64_t)((double)seq * 1e9 / o->rate);
	/* a message due after the end of the run is not published */
	uint64_t now = perf_now_ns();
	if (now >= run->t_publish_end_ns || (*due_ns && *due_ns >= run->t_publish_end_ns))
		return false;
	return true;
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
	return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

void perf_stamp(struct perf_worker *w, uint8_t *body, uint64_t seq)
{
	put32(body, PERF_MAGIC);
	put32(body + 4, w->run->run_id);
	put32(body + 8, (uint32_t)w->id);
	put32(body + 12, 0);
	put64(body + 16, seq);
	uint64_t now = perf_now_ns();
	put64(body + 24, now);
	w->t_last_ns = now;
	atomic_fetch_add_explicit(&w->published, 1, memory_order_relaxed);
}

void perf_confirm(struct perf_worker *w, uint64_t seq, bool multiple, bool ack)
{
	uint64_t published = atomic_load_explicit(&w->published, memory_order_relaxed);
	perf_pub_settle(&w->pub, seq, multiple, ack, published);
	atomic_store_explicit(&w->settled, w->pub.n_settled, memory_order_relaxed);
	atomic_store_explicit(&w->confirmed, w->pub.n_acked, memory_order_relaxed);
	atomic_store_explicit(&w->nacked, w->pub.n_nacked, memory_order_relaxed);
}

uint64_t perf_outstanding(const struct perf_worker *w)
{
	return atomic_load_explicit(&w->published, memory_order_relaxed) - w->pub.n_settled;
}

bool perf_consumer_running(const struct perf_worker *w)
{
	int phase = atomic_load_explicit(&w->run->phase, memory_order_relaxed);
	return phase != PERF_STOP && phase != PERF_ABORT;
}

void perf_receive(struct perf_worker *w, const uint8_t *head, size_t head_len, bool redelivered)
{
	uint64_t now = perf_now_ns();
	if (head_len < PERF_STAMP_SIZE || get32(head) != PERF_MAGIC || get32(head + 4) != w->run->run_id ||
	    get32(head + 8) >= (uint32_t)w->run->n_producers) {
		/* left in the queue by another run, or not ours at all */
		atomic_fetch_add_explicit(&w->foreign, 1, memory_order_relaxed);
		return;
	}
	uint32_t producer = get32(head + 8);
	uint64_t seq = get64(head + 16);
	uint64_t sent = get64(head + 24);
	uint64_t lat = now > sent ? now - sent : 0;
	perf_hist_record(&w->hist, lat);
	perf_sub_seen(&w->sub[producer], seq);
	if (redelivered)
		w->redelivered++;
	w->t_last_ns = now;
	atomic_fetch_add_explicit(&w->iv_lat_sum, lat, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->iv_lat_n, 1, memory_order_relaxed);
	if (lat > atomic_load_explicit(&w->iv_lat_max, memory_order_relaxed))
		atomic_store_explicit(&w->iv_lat_max, lat, memory_order_relaxed);
	atomic_fetch_add_explicit(&w->received, 1, memory_order_release);
}
