/*
 * /metrics in Prometheus text format (version 0.0.4).  Every value is read
 * from the object it describes (queue and exchange counters, the broker's
 * memory and alarm readings, committed offsets), so a scrape costs
 * O(objects) and there is no central collector.
 *
 * Must not depend on: other front ends (src/amqp, src/kafka).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "core/config.h"
#include "core/durable.h"
#include "core/groups.h"
#include "core/limits.h"
#include "core/registry.h"
#include "core/replica.h"
#include "core/quorum.h"
#include "core/stream.h"
#include "core/topic_ops.h"
#include "core/topics.h"
#include "http/cluster_doc.h"
#include "http/hx.h"

static void out(struct js_w *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out(struct js_w *w, const char *fmt, ...)
{
	char b[512];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	if (n > 0)
		js_raw(w, b, (size_t)n < sizeof(b) ? (size_t)n : sizeof(b) - 1);
}

/* A label value with Prometheus' escapes (\\, \", \n). */
static void label(struct js_w *w, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '\\')
			js_raw(w, "\\\\", 2);
		else if (c == '"')
			js_raw(w, "\\\"", 2);
		else if (c == '\n')
			js_raw(w, "\\n", 2);
		else
			js_raw(w, &c, 1);
	}
}

static void head(struct js_w *w, const char *name, const char *type, const char *help)
{
	out(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void gauge(struct js_w *w, const char *name, const char *type, const char *help, uint64_t v)
{
	head(w, name, type, help);
	out(w, "%s %llu\n", name, (unsigned long long)v);
}

/* name{vhost="..",<key>=".."} v */
static void obj_line(struct js_w *w, const char *name, const struct tdm_vhost *vh, const char *key,
		     const char *obj, size_t objlen, uint64_t v)
{
	out(w, "%s{vhost=\"", name);
	label(w, vh->name, vh->name_len);
	out(w, "\",%s=\"", key);
	label(w, obj, objlen);
	out(w, "\"} %llu\n", (unsigned long long)v);
}

enum { Q_READY, Q_UNACKED, Q_CONSUMERS, Q_PUBLISHED, Q_DELIVERED, Q_ACKED, Q_N };
static const struct {
	const char *name, *type, *help;
} qseries[Q_N] = {
	{ "tandem_queue_messages_ready", "gauge", "Messages ready for delivery in the queue." },
	{ "tandem_queue_messages_unacked", "gauge", "Messages delivered and not yet acknowledged." },
	{ "tandem_queue_consumers", "gauge", "Consumers attached to the queue." },
	{ "tandem_queue_messages_published_total", "counter", "Messages enqueued on the queue." },
	{ "tandem_queue_messages_delivered_total", "counter", "Messages delivered from the queue (consume and get)." },
	{ "tandem_queue_messages_acked_total", "counter", "Messages acknowledged on the queue." },
};

static uint64_t qvalue(struct tdm_queue *q, int k)
{
	switch (k) {
	case Q_READY: return q->stream ? tdm_stream_count(q) : tdm_queue_ready(q);
	case Q_UNACKED: return q->unacked;
	case Q_CONSUMERS: return q->nconsumers;
	case Q_PUBLISHED: return q->stat_published;
	case Q_DELIVERED: return q->stat_delivered;
	default: return q->stat_acked;
	}
}

/* 1 when this node leads partition 0 of stream or quorum queue q's topic
 * (every such queue on a single node). */
static int leads(const struct tdm_replica *rp, const struct tdm_queue *q)
{
	struct tdm_stream_spec spec;
	if (!rp)
		return 1;
	tdm_stream_get_spec(q, &spec);
	const char *topic = q->quorum ? tdm_quorum_topic(q) : spec.topic;
	const struct tdm_partition_state *st = topic ? tdm_replica_state(rp, topic, 0) : NULL;
	return st && st->leader == tdm_replica_node_id(rp);
}

/* tandem_queues_leader, then tandem_queue_leader per stream queue. */
static void leader_metrics(struct js_w *w, const struct tdm_broker *b)
{
	size_t pos = 0, p2;
	const char *k;
	size_t kl;
	void *v, *v2;
	uint64_t n = 0;
	while (tdm_map_next(&b->vhosts, &pos, &k, &kl, &v)) {
		const struct tdm_vhost *vh = v;
		p2 = 0;
		while (tdm_map_next(&vh->queues, &p2, &k, &kl, &v2)) {
			const struct tdm_queue *q = v2;
			n += (q->stream || q->quorum) && leads(b->replica, q);
		}
	}
	gauge(w, "tandem_queues_leader", "gauge",
	      "Stream and quorum queues whose partition 0 this node leads.", n);
	head(w, "tandem_queue_leader", "gauge",
	     "1 on the node that leads the stream or quorum queue's partition 0, else 0.");
	pos = 0;
	while (tdm_map_next(&b->vhosts, &pos, &k, &kl, &v)) {
		const struct tdm_vhost *vh = v;
		p2 = 0;
		while (tdm_map_next(&vh->queues, &p2, &k, &kl, &v2)) {
			const struct tdm_queue *q = v2;
			if (q->stream || q->quorum)
				obj_line(w, "tandem_queue_leader", vh, "queue", q->name, q->name_len,
					 (uint64_t)leads(b->replica, q));
		}
	}
}

struct topic_ctx {
	struct js_w *w;
	int which; /* 0 start, 1 end, 2 bytes, 3 segments */
};

static void topic_cb(struct ls_topic *t, void *arg)
{
	struct topic_ctx *tc = arg;
	if (tdm_topic_is_internal(t))
		return;
	static const char *names[] = { "tandem_topic_partition_log_start_offset",
				       "tandem_topic_partition_log_end_offset",
				       "tandem_topic_partition_bytes", "tandem_topic_partition_segments" };
	for (int32_t i = 0; i < tdm_topic_partitions(t); i++) {
		struct ls_partition *p = tdm_topic_partition(t, i);
		if (!p)
			continue;
		uint64_t v = tc->which == 0 ? tdm_partition_log_start(p) : tc->which == 1 ? tdm_partition_log_end(p)
			   : tc->which == 2 ? tdm_partition_bytes(p) : tdm_partition_segments(p);
		out(tc->w, "%s{topic=\"", names[tc->which]);
		label(tc->w, tdm_topic_name(t), strlen(tdm_topic_name(t)));
		out(tc->w, "\",partition=\"%d\"} %llu\n", i, (unsigned long long)v);
	}
}

/* A Prometheus histogram (cumulative buckets, seconds) of one store's fsync
 * rounds; the header once, before the first store. */
static void fsync_hist(struct js_w *w, const char *store, const struct tdm_fsync_hist *fh, int first)
{
	static const char name[] = "tandem_fsync_duration_seconds";
	if (first)
		head(w, name, "histogram",
		     "Time of one fsync round (group commit) of the queue journal or of a log partition.");
	uint64_t cum = 0;
	for (int i = 0; i < TDM_FSYNC_BUCKETS; i++) {
		cum += fh->bucket[i];
		out(w, "%s_bucket{store=\"%s\",le=\"%g\"} %llu\n", name, store,
		    tdm_fsync_bound_us(i) / 1e6, (unsigned long long)cum);
	}
	out(w, "%s_bucket{store=\"%s\",le=\"+Inf\"} %llu\n", name, store, (unsigned long long)fh->count);
	out(w, "%s_sum{store=\"%s\"} %.6f\n", name, store, fh->sum_us / 1e6);
	out(w, "%s_count{store=\"%s\"} %llu\n", name, store, (unsigned long long)fh->count);
}

/* Membership of the groups the coordinator knows (core/groups.h). */
static void group_metrics(struct js_w *w, struct tdm_groups *gs)
{
	for (int which = 0; which < 2; which++) {
		struct tdm_group *g;
		size_t pos = 0;
		if (which)
			head(w, "tandem_group_state", "gauge",
			     "1 for a consumer group's current state (Kafka's names: Empty, "
			     "PreparingRebalance, CompletingRebalance, Stable).");
		else
			head(w, "tandem_group_members", "gauge", "Live members of a consumer group.");
		while (gs && (g = tdm_groups_next(gs, &pos))) {
			out(w, "%s{group=\"", which ? "tandem_group_state" : "tandem_group_members");
			label(w, g->id, strlen(g->id));
			if (which)
				out(w, "\",state=\"%s\"} 1\n", tdm_group_state_name(g->state));
			else
				out(w, "\"} %d\n", g->nmembers);
		}
	}
}

void hx_metrics(struct tdm_http *h, struct evhttp_request *req)
{
	struct tdm_broker *b = h->broker;
	struct js_w w;
	js_w_init(&w);
	uint64_t nch = 0, nq = 0, nx = 0, ncons = 0;
	for (struct tdm_reg_conn *c = tdm_registry_first(); c; c = c->next) {
		struct tdm_conn_stats st = { 0 };
		c->ops->stats(c->ctx, &st);
		nch += st.channels;
	}
	size_t pos = 0, p2;
	const char *k;
	size_t kl;
	void *v, *v2;
	while (tdm_map_next(&b->vhosts, &pos, &k, &kl, &v)) {
		struct tdm_vhost *vh = v;
		nx += vh->exchanges.count;
		nq += vh->queues.count;
		p2 = 0;
		while (tdm_map_next(&vh->queues, &p2, &k, &kl, &v2))
			ncons += ((struct tdm_queue *)v2)->nconsumers;
	}
	gauge(&w, "tandem_connections", "gauge", "Open client connections (all protocols).",
	      tdm_registry_count());
	gauge(&w, "tandem_channels", "gauge", "Open AMQP channels.", nch);
	gauge(&w, "tandem_queues", "gauge", "Queues.", nq);
	gauge(&w, "tandem_exchanges", "gauge", "Exchanges.", nx);
	gauge(&w, "tandem_consumers", "gauge", "Consumers attached to queues.", ncons);
	gauge(&w, "tandem_messages_published_total", "counter",
	      "Messages published to exchanges (AMQP and HTTP).", b->stat_published);
	gauge(&w, "tandem_messages_unroutable_total", "counter",
	      "Published messages that reached no queue.", b->stat_unroutable);
	gauge(&w, "tandem_kafka_connections_refused_per_ip_total", "counter",
	      "Kafka connections closed at accept by max.connections.per.ip.",
	      tdm_limits_kafka_refused_count(b->limits));
	for (int s = 0; s < Q_N; s++) {
		head(&w, qseries[s].name, qseries[s].type, qseries[s].help);
		pos = 0;
		while (tdm_map_next(&b->vhosts, &pos, &k, &kl, &v)) {
			struct tdm_vhost *vh = v;
			p2 = 0;
			while (tdm_map_next(&vh->queues, &p2, &k, &kl, &v2)) {
				struct tdm_queue *q = v2;
				obj_line(&w, qseries[s].name, vh, "queue", q->name, q->name_len, qvalue(q, s));
			}
		}
	}
	leader_metrics(&w, b);
	head(&w, "tandem_exchange_messages_published_in_total", "counter",
	     "Messages published into the exchange.");
	pos = 0;
	while (tdm_map_next(&b->vhosts, &pos, &k, &kl, &v)) {
		struct tdm_vhost *vh = v;
		p2 = 0;
		while (tdm_map_next(&vh->exchanges, &p2, &k, &kl, &v2)) {
			struct tdm_exchange *x = v2;
			obj_line(&w, "tandem_exchange_messages_published_in_total", vh, "exchange", x->name,
				 x->name_len, x->stat_in);
		}
	}
	gauge(&w, "tandem_process_resident_memory_bytes", "gauge",
	      "Resident memory of tandemd at the last reading.", b->rss);
	gauge(&w, "tandem_memory_high_watermark_bytes", "gauge",
	      "Resident memory above which publishers are blocked.", b->mem_limit);
	gauge(&w, "tandem_disk_free_bytes", "gauge", "Free space in the data directory at the last reading.",
	      b->disk_free);
	gauge(&w, "tandem_disk_free_limit_bytes", "gauge",
	      "Free space below which publishers are blocked.", h->cfg->disk_free_limit);
	head(&w, "tandem_alarm", "gauge", "1 while a resource alarm is in effect.");
	out(&w, "tandem_alarm{resource=\"memory\"} %d\n", (b->alarms & TDM_ALARM_MEMORY) != 0);
	out(&w, "tandem_alarm{resource=\"disk\"} %d\n", (b->alarms & TDM_ALARM_DISK) != 0);
	gauge(&w, "tandem_journal_bytes", "gauge", "Bytes of the durable queue journal on disk.",
	      h->durable ? tdm_durable_bytes(h->durable) : 0);
	if (h->durable) {
		struct tdm_fsync_hist fh;
		tdm_durable_fsync_hist(h->durable, &fh);
		fsync_hist(&w, "queues", &fh, 1);
	}
	if (h->topics) {
		struct tdm_fsync_hist fh;
		tdm_topics_fsync_hist(h->topics, &fh);
		fsync_hist(&w, "logs", &fh, !h->durable);
	}
	if (h->topics) {
		static const struct {
			const char *name, *type, *help;
		} ts[] = {
			{ "tandem_topic_partition_log_start_offset", "gauge", "First offset still stored." },
			{ "tandem_topic_partition_log_end_offset", "counter", "Offset the next record gets." },
			{ "tandem_topic_partition_bytes", "gauge", "Bytes of the partition's segments." },
			{ "tandem_topic_partition_segments", "gauge", "Segment files of the partition." },
		};
		for (int i = 0; i < 4; i++) {
			struct topic_ctx tc = { &w, i };
			head(&w, ts[i].name, ts[i].type, ts[i].help);
			tdm_topics_foreach(h->topics, topic_cb, &tc);
		}
		size_t n;
		struct hx_offset *o = hx_collect_offsets(h->broker->groups, &n);
		for (int which = 0; which < 2; which++) {
			const char *name = which ? "tandem_group_lag" : "tandem_group_committed_offset";
			head(&w, name, "gauge",
			     which ? "Records between a group's committed offset and the log end."
				   : "Offset a consumer group committed.");
			for (size_t i = 0; i < n; i++) {
				int64_t val = which ? o[i].lag : o[i].offset;
				out(&w, "%s{group=\"", name);
				label(&w, o[i].group, strlen(o[i].group));
				out(&w, "\",topic=\"");
				label(&w, o[i].topic, strlen(o[i].topic));
				out(&w, "\",partition=\"%d\"} %lld\n", o[i].partition, (long long)val);
			}
		}
		free(o);
	}
	group_metrics(&w, h->broker->groups);
	hx_cluster_metrics(&w, h->replica);
	hx_defs_metrics(&w, h->broker->defs);
	struct evbuffer *buf = evbuffer_new();
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	if (buf && !w.oom)
		evbuffer_add(buf, w.buf ? w.buf : "", w.len);
	evhttp_send_reply(req, w.oom || !buf ? 500 : 200, NULL, buf);
	if (buf)
		evbuffer_free(buf);
	js_w_free(&w);
}
