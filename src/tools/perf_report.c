/*
 * tandem-perf: results, the progress line and the summary (see perf_report.h).
 * Must not depend on: any client library.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tools/perf_report.h"

static double secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

static double us(uint64_t ns)
{
	return (double)ns / 1e3;
}

int perf_result_compute(struct perf_result *r, const struct perf_run *run)
{
	const struct perf_opts *o = run->opts;
	uint64_t start = atomic_load(&run->t_start_ns);
	uint64_t last_pub = start, last_recv = start, recv_start = 0;
	memset(r, 0, sizeof(*r));
	perf_hist_init(&r->hist);
	r->lost_producer = -1;
	r->aborted = atomic_load(&run->phase) == PERF_ABORT;

	for (int i = 0; i < run->n_producers; i++) {
		const struct perf_worker *w = &run->producers[i];
		uint64_t pub = atomic_load(&w->published);
		r->published += pub;
		r->confirmed += w->pub.n_acked;
		r->nacked += w->pub.n_nacked;
		if (o->confirm)
			r->unconfirmed += pub - w->pub.n_settled;
		r->blocked_s += secs(atomic_load(&w->blocked_ns));
		if (w->t_last_ns > last_pub)
			last_pub = w->t_last_ns;
		if (w->rc)
			r->worker_errors++;
	}
	for (int i = 0; i < run->n_consumers; i++) {
		const struct perf_worker *w = &run->consumers[i];
		r->received += atomic_load(&w->received);
		r->foreign += atomic_load(&w->foreign);
		r->redelivered += w->redelivered;
		perf_hist_merge(&r->hist, &w->hist);
		if (w->t_last_ns > last_recv)
			last_recv = w->t_last_ns;
		if (w->t_recv_start_ns && (!recv_start || w->t_recv_start_ns < recv_start))
			recv_start = w->t_recv_start_ns;
		if (w->rc)
			r->worker_errors++;
		for (int p = 0; p < run->n_producers; p++)
			r->reordered += w->sub[p].reordered;
	}

	/* Consumer c reads queue c mod K; a queue nobody reads is not checked. */
	int consumed = run->n_consumers < o->queues ? run->n_consumers : o->queues;
	r->checked = consumed == o->queues && run->n_consumers > 0;
	const struct perf_sub_track **subs = calloc((size_t)run->n_consumers + 1, sizeof(*subs));
	if (!subs)
		return -1;
	for (int q = 0; q < consumed; q++) {
		for (int p = 0; p < run->n_producers; p++) {
			size_t n = 0;
			for (int c = 0; c < run->n_consumers; c++)
				if (run->consumers[c].queue == q)
					subs[n++] = &run->consumers[c].sub[p];
			struct perf_verdict v;
			const struct perf_worker *pw = &run->producers[p];
			if (perf_verdict(&v, subs, n, &pw->pub, atomic_load(&pw->published), o->confirm > 0) < 0) {
				free(subs);
				return -1;
			}
			r->expected += v.expected;
			if (v.lost && r->lost_producer < 0) {
				r->lost_producer = p;
				r->lost_published = atomic_load(&pw->published);
				r->first_lost = v.first_lost;
				r->last_lost = v.last_lost;
			}
			r->lost += v.lost;
			r->dup += v.dup;
			r->unexpected += v.unexpected;
		}
	}
	free(subs);

	r->publish_s = secs(last_pub - start);
	/* --consume-later: the consumers' clock starts when they began reading */
	if (!recv_start || recv_start < start)
		recv_start = start;
	r->receive_s = last_recv > recv_start ? secs(last_recv - recv_start) : 0;
	/* transactional producers: only records whose transaction committed count */
	uint64_t sent = *o->transactional_id ? r->confirmed : r->published;
	r->send_rate = r->publish_s > 0 ? (double)sent / r->publish_s : 0;
	r->recv_rate = r->receive_s > 0 ? (double)r->received / r->receive_s : 0;

	if (r->aborted)
		r->status = "aborted";
	else if (r->worker_errors)
		r->status = "error";
	else if (r->lost)
		r->status = "lost";
	else if (r->dup)
		r->status = "dup";
	else if (r->unconfirmed)
		r->status = "unconfirmed";
	else
		r->status = "ok";
	return 0;
}

int perf_result_exit_code(const struct perf_result *r)
{
	return strcmp(r->status, "ok") == 0 ? 0 : 1;
}

/* The log mode's producer and consumer settings: one header line. */
static void log_header(FILE *out, const struct perf_run *run)
{
	const struct perf_opts *o = run->opts;
	fprintf(out, "\nlog: %d producer(s), %d consumer(s), topic %s, %d partition(s), %" PRIu64
		     " B, acks=%s%s, linger %g ms, batch %d records / %" PRIu64 " B, compression %s",
		run->n_producers, run->n_consumers, o->topic, o->partitions, o->size, o->acks,
		o->idempotence && !*o->transactional_id ? " (idempotent)" : "", o->linger_ms, o->batch_num,
		o->batch_size, o->compression);
	if (*o->transactional_id)
		fprintf(out, ", transactional (id %s%s, %" PRIu64 " records per transaction)", o->transactional_id,
			run->n_producers > 1 ? "-<i>" : "", o->txn_records);
	fprintf(out, ", %s%s", *o->group ? "group " : "assign from the beginning", o->group);
	if (run->n_consumers)
		fprintf(out, ", %s", o->isolation_level);
	fputc('\n', out);
}

void perf_report_final(FILE *out, const struct perf_result *r, const struct perf_run *run)
{
	const struct perf_opts *o = run->opts;
	const struct perf_hist *h = &r->hist;
	uint64_t p50 = perf_hist_percentile(h, 50), p99 = perf_hist_percentile(h, 99);
	uint64_t p999 = perf_hist_percentile(h, 99.9), max = h->max;

	bool log = !strcmp(o->mode, "log");
	double mb = (double)o->size / 1e6;
	if (log)
		log_header(out, run);
	else
		fprintf(out, "\n%s: %d producer(s), %d consumer(s), %d queue(s), %" PRIu64 " B%s%s, %s\n", o->mode,
			run->n_producers, run->n_consumers, o->queues, o->size, o->persistent ? ", persistent" : "",
			o->durable ? ", durable" : "", o->autoack ? "autoack" : "manual ack");
	if (o->consume_later)
		fprintf(out, "  consumers started reading when publishing ended; their rate counts from then and\n"
			     "  the latency below is the records' age, not end to end\n");
	fprintf(out, "  %-12s %14s %14s %10s\n", "", log ? "records" : "messages", log ? "records/s" : "msg/s", "MB/s");
	if (*o->transactional_id)
		fprintf(out, "  %-12s %14" PRIu64 "\n  %-12s %14" PRIu64 " %14.0f %10.1f   (%.2f s, to the last commit)\n",
			"published", r->published, "committed", r->confirmed, r->send_rate, r->send_rate * mb,
			r->publish_s);
	else
		fprintf(out, "  %-12s %14" PRIu64 " %14.0f %10.1f   (%.2f s)\n", "published", r->published,
			r->send_rate, r->send_rate * mb, r->publish_s);
	if (o->confirm)
		fprintf(out, "  %-12s %14" PRIu64 " %14s   (nacked %" PRIu64 ", unconfirmed %" PRIu64 ")\n",
			"confirmed", r->confirmed, "", r->nacked, r->unconfirmed);
	fprintf(out, "  %-12s %14" PRIu64 " %14.0f %10.1f   (%.2f s)\n", "received", r->received, r->recv_rate,
		r->recv_rate * mb, r->receive_s);
	if (r->checked)
		fprintf(out, "  %-12s expected %" PRIu64 ", lost %" PRIu64 ", duplicated %" PRIu64
			     ", reordered %" PRIu64 ", redelivered %" PRIu64 ", foreign %" PRIu64 "\n",
			"check", r->expected, r->lost, r->dup, r->reordered, r->redelivered, r->foreign);
	if (r->checked && log && o->partitions > 1 && r->reordered)
		fprintf(out, "  %-12s reordered counts records of one producer read out of its send order across\n"
			     "  %-12s partitions: Kafka orders within a partition only\n", "", "");
	if (!r->checked)
		fprintf(out, "  %-12s not checked: a queue had no consumer\n", "check");
	if (r->lost_producer >= 0)
		fprintf(out, "  %-12s first loss: producer %d lost seqs %" PRIu64 " .. %" PRIu64 " of 0 .. %" PRIu64 "\n",
			"lost", r->lost_producer, r->first_lost, r->last_lost, r->lost_published - 1);
	if (h->count)
		fprintf(out, "  %-12s p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f  (us, %" PRIu64 " samples)\n",
			"latency", us(p50), us(p99), us(p999), us(max), h->count);
	if (r->blocked_s > 0)
		fprintf(out, "  %-12s %.2f s under connection.blocked\n", "blocked", r->blocked_s);
	fprintf(out, "  %-12s %s\n\n", "status", r->status);

	fprintf(out,
		"result mode=%s producers=%d consumers=%d queues=%d size=%" PRIu64 " rate_limit=%.0f confirm=%d"
		" autoack=%d persistent=%d durable=%d prefetch=%d"
		" sent=%" PRIu64 " confirmed=%" PRIu64 " nacked=%" PRIu64 " unconfirmed=%" PRIu64
		" received=%" PRIu64 " publish_s=%.3f receive_s=%.3f send_rate=%.0f recv_rate=%.0f"
		" p50_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f"
		" send_mbps=%.1f recv_mbps=%.1f consume_later=%d"
		" lost=%" PRIu64 " dup=%" PRIu64 " reordered=%" PRIu64 " foreign=%" PRIu64 " checked=%d",
		o->mode, run->n_producers, run->n_consumers, o->queues, o->size, o->rate, o->confirm, o->autoack,
		o->persistent, o->durable, o->prefetch, r->published, r->confirmed, r->nacked, r->unconfirmed,
		r->received, r->publish_s, r->receive_s, r->send_rate, r->recv_rate, us(p50), us(p99), us(p999),
		us(max), r->send_rate * mb, r->recv_rate * mb, o->consume_later, r->lost, r->dup, r->reordered,
		r->foreign, r->checked);
	if (log)
		fprintf(out, " partitions=%d acks=%s linger_ms=%g batch_num=%d batch_size=%" PRIu64
			     " compression=%s idempotence=%d transactional=%d txn_records=%" PRIu64 " isolation=%s",
			o->partitions, o->acks, o->linger_ms, o->batch_num, o->batch_size, o->compression,
			o->idempotence || *o->transactional_id ? 1 : 0, *o->transactional_id ? 1 : 0,
			*o->transactional_id ? o->txn_records : 0, o->isolation_level);
	fprintf(out, " status=%s\n", r->status);
	fflush(out);
}

void perf_report_progress(FILE *out, struct perf_progress *p, const struct perf_run *run)
{
	uint64_t now = perf_now_ns(), published = 0, confirmed = 0, received = 0;
	uint64_t lat_sum = 0, lat_n = 0, lat_max = 0;
	for (int i = 0; i < run->n_producers; i++) {
		published += atomic_load_explicit(&run->producers[i].published, memory_order_relaxed);
		confirmed += atomic_load_explicit(&run->producers[i].confirmed, memory_order_relaxed);
	}
	for (int i = 0; i < run->n_consumers; i++) {
		struct perf_worker *w = &run->consumers[i];
		received += atomic_load_explicit(&w->received, memory_order_relaxed);
		lat_sum += atomic_exchange_explicit(&w->iv_lat_sum, 0, memory_order_relaxed);
		lat_n += atomic_exchange_explicit(&w->iv_lat_n, 0, memory_order_relaxed);
		uint64_t m = atomic_exchange_explicit(&w->iv_lat_max, 0, memory_order_relaxed);
		if (m > lat_max)
			lat_max = m;
	}
	double dt = p->t_ns ? secs(now - p->t_ns) : 0;
	uint64_t start = atomic_load(&run->t_start_ns);
	if (dt > 0)
		fprintf(out,
			"[%7.1fs] sent %" PRIu64 " (%.0f/s)  confirmed %" PRIu64 "  received %" PRIu64
			" (%.0f/s)  latency mean %.0f us max %.0f us\n",
			secs(now - start), published, (double)(published - p->published) / dt, confirmed, received,
			(double)(received - p->received) / dt, lat_n ? us(lat_sum / lat_n) : 0.0, us(lat_max));
	fflush(out);
	p->t_ns = now;
	p->published = published;
	p->received = received;
}
