/*
 * GET /api/cluster's document and /metrics' cluster series, read from the
 * replica manager (cluster_doc.h).
 *
 * Must not depend on: libevent, other front ends; the broker only through
 * core/replica.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/defs.h"
#include "core/replica.h"
#include "http/cluster_doc.h"
#include "util/json.h"

/* One partition as tdm_replica_foreach handed it.  The state's arrays and
 * the topic's name stay the manager's: nothing changes them while the
 * document is written (one loop turn, no call back into the manager that
 * alters state). */
struct part_row {
	const char *topic; /* borrowed from the manager */
	int32_t partition;
	struct tdm_partition_state st; /* arrays borrowed from the manager */
	uint64_t hw, lag;
};

struct rows {
	struct part_row *v; /* owned */
	size_t n, cap;
	int oom;
};

static void collect(void *ctx, const char *topic, int32_t partition,
		    const struct tdm_partition_state *st, uint64_t hw, uint64_t lag)
{
	struct rows *rs = ctx;
	if (rs->oom)
		return;
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 16;
		struct part_row *v = realloc(rs->v, cap * sizeof(*v));
		if (!v) {
			rs->oom = 1;
			return;
		}
		rs->v = v;
		rs->cap = cap;
	}
	rs->v[rs->n++] = (struct part_row){ topic, partition, *st, hw, lag };
}

static int row_cmp(const void *a, const void *b)
{
	const struct part_row *x = a, *y = b;
	int c = strcmp(x->topic, y->topic);
	if (c)
		return c;
	return (x->partition > y->partition) - (x->partition < y->partition);
}

static int node_cmp(const void *a, const void *b)
{
	const struct tdm_replica_node *x = *(const struct tdm_replica_node *const *)a;
	const struct tdm_replica_node *y = *(const struct tdm_replica_node *const *)b;
	return (x->id > y->id) - (x->id < y->id);
}

static int row_under_replicated(const struct part_row *p)
{
	return p->st.leader != TDM_NO_NODE && p->st.nisr < p->st.nreplicas;
}

static void write_node(struct js_w *w, const struct tdm_replica_node *n)
{
	js_obj(w);
	js_kint(w, "id", n->id);
	js_kstr(w, "host", n->host ? n->host : "");
	js_kint(w, "kafka_port", n->kafka_port);
	js_kint(w, "amqp_port", n->amqp_port);
	js_kint(w, "http_port", n->http_port);
	js_kint(w, "cluster_port", n->cluster_port);
	if (n->rack) /* broker_rack */
		js_kstr(w, "rack", n->rack);
	js_obj_end(w);
}

static void write_ids(struct js_w *w, const char *key, const int32_t *ids, size_t n)
{
	js_key(w, key);
	js_arr(w);
	for (size_t i = 0; i < n; i++)
		js_int(w, ids[i]);
	js_arr_end(w);
}

void hx_cluster_write(struct js_w *w, const struct tdm_replica *r,
		      const struct tdm_replica_node *self)
{
	struct rows rs = { 0 };
	const struct tdm_replica_node *nodes;
	size_t nn = tdm_replica_nodes(r, &nodes);
	const struct tdm_replica_node **sorted = NULL;
	uint64_t under = 0, offline = 0;

	tdm_replica_foreach(r, collect, &rs);
	if (nn && !(sorted = malloc(nn * sizeof(*sorted))))
		rs.oom = 1;
	if (rs.oom) {
		w->oom = 1;
		goto out;
	}
	for (size_t i = 0; i < nn; i++)
		sorted[i] = &nodes[i];
	if (nn)
		qsort(sorted, nn, sizeof(*sorted), node_cmp);
	if (rs.n)
		qsort(rs.v, rs.n, sizeof(*rs.v), row_cmp);

	js_obj(w);
	js_kbool(w, "clustered", r != NULL);
	js_kint(w, "node_id", tdm_replica_node_id(r));
	js_kint(w, "controller", tdm_replica_controller(r));
	js_key(w, "nodes");
	js_arr(w);
	if (!r && self)
		write_node(w, self);
	for (size_t i = 0; i < nn; i++)
		write_node(w, sorted[i]);
	js_arr_end(w);
	js_key(w, "partitions");
	js_arr(w);
	for (size_t i = 0; i < rs.n; i++) {
		const struct part_row *p = &rs.v[i];
		int ur = row_under_replicated(p), off = p->st.leader == TDM_NO_NODE;
		under += (uint64_t)ur;
		offline += (uint64_t)off;
		js_obj(w);
		js_kstr(w, "topic", p->topic);
		js_kint(w, "partition", p->partition);
		js_kint(w, "leader", p->st.leader);
		js_kint(w, "leader_epoch", p->st.leader_epoch);
		write_ids(w, "replicas", p->st.replicas, p->st.nreplicas);
		write_ids(w, "isr", p->st.isr, p->st.nisr);
		js_kuint(w, "high_watermark", p->hw);
		js_kbool(w, "under_replicated", ur);
		js_kbool(w, "offline", off);
		js_kuint(w, "max_follower_lag", p->lag);
		js_obj_end(w);
	}
	js_arr_end(w);
	js_kuint(w, "under_replicated", under);
	js_kuint(w, "offline", offline);
	js_obj_end(w);
out:
	free(sorted);
	free(rs.v);
}

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

static void series(struct js_w *w, const char *name, const char *type, const char *help,
		   long long v)
{
	out(w, "# HELP %s %s\n# TYPE %s %s\n%s %lld\n", name, help, name, type, name, v);
}

void hx_cluster_metrics(struct js_w *w, const struct tdm_replica *r)
{
	if (!r)
		return;
	struct tdm_replica_stats st;
	const struct tdm_replica_node *nodes;
	tdm_replica_get_stats(r, &st);
	series(w, "tandem_cluster_node_id", "gauge", "This node's id (Kafka's broker.id).",
	       tdm_replica_node_id(r));
	series(w, "tandem_cluster_controller_id", "gauge",
	       "Node id of the cluster's controller, -1 while none is elected "
	       "(Kafka's kafka.controller:type=KafkaController,name=ActiveControllerCount is 1 on it).",
	       tdm_replica_controller(r));
	series(w, "tandem_cluster_nodes", "gauge",
	       "Live nodes of the cluster, as registered in ZooKeeper (/brokers/ids).",
	       (long long)tdm_replica_nodes(r, &nodes));
	series(w, "tandem_partitions_leader", "gauge",
	       "Partitions led by this node (Kafka's kafka.server:type=ReplicaManager,name=LeaderCount).",
	       (long long)st.leaders);
	series(w, "tandem_partitions_under_replicated", "gauge",
	       "Partitions led here whose ISR is smaller than their replicas (Kafka's "
	       "kafka.server:type=ReplicaManager,name=UnderReplicatedPartitions).",
	       (long long)st.under_replicated);
	series(w, "tandem_partitions_under_min_isr", "gauge",
	       "Partitions led here whose ISR is below min.insync.replicas: acks=all writes are refused "
	       "(Kafka's kafka.server:type=ReplicaManager,name=UnderMinIsrPartitionCount).",
	       (long long)st.under_min_isr);
	series(w, "tandem_partitions_offline", "gauge",
	       "Partitions of this node with no leader (Kafka's "
	       "kafka.controller:type=KafkaController,name=OfflinePartitionsCount).",
	       (long long)st.offline);
	series(w, "tandem_isr_shrinks_total", "counter",
	       "ISR shrinks this node asked for since start (Kafka's "
	       "kafka.server:type=ReplicaManager,name=IsrShrinksPerSec).",
	       (long long)st.isr_shrinks);
	series(w, "tandem_isr_expands_total", "counter",
	       "ISR expansions this node asked for since start (Kafka's "
	       "kafka.server:type=ReplicaManager,name=IsrExpandsPerSec).",
	       (long long)st.isr_expands);
	series(w, "tandem_cluster_link_requests_total", "counter",
	       "Produce requests this node sent to other nodes over the cluster link (each one batch of "
	       "the publishes forwarded to a stream partition's leader in one event-loop turn).",
	       (long long)st.link_sent);
	series(w, "tandem_cluster_link_records_total", "counter",
	       "Publishes forwarded to a stream partition's leader over the cluster link, in those "
	       "requests (records / requests: the batching).",
	       (long long)st.link_records);
	series(w, "tandem_cluster_link_failures_total", "counter",
	       "Forwarded publishes answered with an error or lost with their connection (their "
	       "publishers were nacked).",
	       (long long)st.link_failed);
	series(w, "tandem_cluster_link_losses_total", "counter",
	       "Cluster link connections lost, refused, or not made (wrong secret, no cluster port, "
	       "a peer down or not answering).",
	       (long long)st.link_losses);
	series(w, "tandem_cluster_link_peers", "gauge",
	       "Other nodes this node's cluster link is connected and authenticated to now.",
	       (long long)st.link_peers);
	series(w, "tandem_replica_max_lag_messages", "gauge",
	       "Most records a follower of a partition led here is behind the leader's log end (Kafka's "
	       "kafka.server:type=ReplicaFetcherManager,name=MaxLag,clientId=Replica, seen from the leader).",
	       (long long)st.max_lag);
}

void hx_defs_metrics(struct js_w *w, const struct tdm_defs *d)
{
	if (!d)
		return;
	series(w, "tandem_cluster_definitions_applied", "gauge",
	       "Records of the cluster's definitions log (__tandem_definitions) this node has "
	       "applied: the next offset it applies.",
	       (long long)tdm_defs_applied(d));
	series(w, "tandem_cluster_definitions_waiting", "gauge",
	       "Definition changes asked on this node and not yet applied here (their clients wait).",
	       (long long)tdm_defs_waiting(d));
}
