/*
 * Management API: overview, nodes, vhosts, exchanges, queues, bindings,
 * health checks and the aliveness test, with RabbitMQ 3.10's paths, field
 * names and statuses.  Lists come out sorted by name, as RabbitMQ's do.
 * Everything is read from the core objects themselves (their counters
 * included): a request costs O(objects it lists).
 *
 * Must not depend on: other front ends (src/amqp, src/kafka).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/http.h>

#include <config.h>

#include "core/access.h"
#include "core/auth.h"
#include "core/config.h"
#include "core/durable.h"
#include "core/qargs.h"
#include "core/registry.h"
#include "core/quorum.h"
#include "core/remote.h"
#include "core/replica.h"
#include "core/stream.h"
#include "core/topic_ops.h"
#include "http/amqpval.h"
#include "http/hx.h"

static char node_name[300];
static int32_t cluster_node_id; /* 0: a single node */

void hx_node_name_cluster(int32_t id)
{
	cluster_node_id = id;
	node_name[0] = '\0';
}

const char *hx_node_name(void)
{
	char *name = node_name;
	if (!name[0] && cluster_node_id > 0) { /* several nodes may share a host */
		snprintf(name, sizeof(node_name), "tandem@node-%d", (int)cluster_node_id);
	} else if (!name[0]) {
		char host[256] = "localhost";
		gethostname(host, sizeof(host) - 1);
		host[sizeof(host) - 1] = '\0';
		char *dot = strchr(host, '.');
		if (dot)
			*dot = '\0';
		snprintf(name, sizeof(node_name), "tandem@%s", host);
	}
	return name;
}

/* ---- sorted views of the name maps --------------------------------------- */

struct named {
	const char *key;
	size_t len;
	void *value;
};

static int cmp_named(const void *a, const void *b)
{
	const struct named *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->key, y->key, n);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The map's entries sorted by key (malloc'd; *n entries), NULL if empty or ENOMEM. */
static struct named *sorted(const struct tdm_map *m, size_t *n)
{
	*n = 0;
	if (!m->count)
		return NULL;
	struct named *v = malloc(m->count * sizeof(*v));
	if (!v)
		return NULL;
	size_t pos = 0;
	const char *k;
	size_t kl;
	void *val;
	while (*n < m->count && tdm_map_next(m, &pos, &k, &kl, &val))
		v[(*n)++] = (struct named){ k, kl, val };
	qsort(v, *n, sizeof(*v), cmp_named);
	return v;
}

static struct named *sorted_vhosts(struct hx_req *r, size_t *n)
{
	return sorted(&r->h->broker->vhosts, n);
}

static int vhost_visible(struct hx_req *r, const struct tdm_vhost *vh)
{
	return tdm_auth_vhost_allowed(r->h->broker->auth, r->user, vh->name, vh->name_len);
}

/* ---- object writers --------------------------------------------------- */

/* hx_node_name's buffer */
#define MEMBER_NAME_MAX 300

/* A node's name in a queue's "node", "leader", "members" and "online": on
 * a single node hx_node_name(); in a cluster "tandem@node-<node id>" (the
 * node id is what tells the nodes apart: several may share one host). */
static void member_name(const struct tdm_replica *rp, int32_t id, char *buf, size_t cap)
{
	if (!rp)
		snprintf(buf, cap, "%s", hx_node_name());
	else
		snprintf(buf, cap, "tandem@node-%d", (int)id);
}

static void write_names(struct js_w *w, const char *key, const struct tdm_replica *rp,
			const int32_t *ids, size_t n)
{
	char name[MEMBER_NAME_MAX];
	js_key(w, key);
	js_arr(w);
	for (size_t i = 0; i < n; i++) {
		member_name(rp, ids[i], name, sizeof(name));
		js_str(w, name);
	}
	js_arr_end(w);
}

/* "leader", "members", "online" of one partition of a stream queue's
 * topic, as RabbitMQ 3.10 shows them for a stream: its leader, its
 * replicas (the preferred leader first) and its in-sync replicas.  A
 * single node (rp NULL) is all three; in a cluster, a partition with no
 * state known here (its topic not created yet) or no leader has leader
 * null. */
static void write_partition_members(struct js_w *w, const struct tdm_replica *rp,
				    const char *topic, int32_t partition)
{
	char name[MEMBER_NAME_MAX];
	if (!rp) {
		int32_t self = tdm_replica_node_id(NULL);
		member_name(NULL, self, name, sizeof(name));
		js_kstr(w, "leader", name);
		write_names(w, "members", NULL, &self, 1);
		write_names(w, "online", NULL, &self, 1);
		return;
	}
	const struct tdm_partition_state *st = tdm_replica_state(rp, topic, partition);
	js_key(w, "leader");
	if (st && st->leader != TDM_NO_NODE) {
		member_name(rp, st->leader, name, sizeof(name));
		js_str(w, name);
	} else {
		js_null(w);
	}
	write_names(w, "members", rp, st ? st->replicas : NULL, st ? st->nreplicas : 0);
	write_names(w, "online", rp, st ? st->isr : NULL, st ? st->nisr : 0);
}

/* A stream queue's leader and replicas: partition 0's at the top level
 * (RabbitMQ's fields), and with more than one partition each partition's
 * in "partitions" (tandem's own). */
static void write_stream_members(struct js_w *w, struct tdm_queue *q)
{
	const struct tdm_replica *rp = q->vhost->broker->replica;
	struct tdm_stream_spec spec;
	tdm_stream_get_spec(q, &spec);
	if (!spec.topic)
		return;
	write_partition_members(w, rp, spec.topic, 0);
	int32_t n = 0;
	if (rp) {
		while (tdm_replica_state(rp, spec.topic, n))
			n++;
	} else {
		const struct ls_topic *t = tdm_stream_topic(q);
		n = t ? tdm_topic_partitions(t) : 0;
	}
	if (n < 2)
		return;
	js_key(w, "partitions");
	js_arr(w);
	for (int32_t i = 0; i < n; i++) {
		js_obj(w);
		js_kint(w, "partition", i);
		write_partition_members(w, rp, spec.topic, i);
		js_obj_end(w);
	}
	js_arr_end(w);
}

void hx_write_queue(struct js_w *w, const struct hx_rates *rt, const struct tdm_queue *q)
{
	const struct tdm_replica *rp = q->vhost->broker->replica;
	char node[MEMBER_NAME_MAX];
	const double *rate = hx_rates_queue(rt, q);
	/* a stream queue's messages are the records of its log; another node's
	 * queue's, its home's as last counted (core/remote.h) */
	uint64_t ready = q->stream ? tdm_stream_count((struct tdm_queue *)q)
			 : q->remote ? q->home_ready + tdm_queue_ready(q)
				     : tdm_queue_ready(q);
	js_obj(w);
	js_kstrn(w, "name", q->name, q->name_len);
	js_kstrn(w, "vhost", q->vhost->name, q->vhost->name_len);
	js_kbool(w, "durable", q->durable);
	js_kbool(w, "auto_delete", q->auto_delete);
	js_kbool(w, "exclusive", q->exclusive);
	js_key(w, "arguments");
	hv_table_to_json(w, q->arguments, q->arguments_len);
	/* another node's queue (core/remote.h): its home's name */
	member_name(rp, q->remote ? q->home : tdm_replica_node_id(rp), node, sizeof(node));
	js_kstr(w, "node", node);
	js_kstr(w, "state", tdm_remote_home_up(q) ? "running" : "down");
	js_kstr(w, "type", q->stream ? "stream" : q->quorum ? "quorum" : "classic");
	if (q->stream)
		write_stream_members(w, (struct tdm_queue *)q);
	if (q->quorum) /* its log's leader and replicas */
		write_partition_members(w, rp, tdm_quorum_topic(q), 0);
	js_kuint(w, "messages", ready + q->unacked);
	js_kuint(w, "messages_ready", ready);
	js_kuint(w, "messages_unacknowledged", q->unacked);
	js_kuint(w, "message_bytes_ready", q->ready_bytes);
	js_kuint(w, "consumers", q->remote ? q->home_consumers : q->nconsumers);
	js_key(w, "message_stats");
	js_obj(w);
	js_kuint(w, "publish", q->stat_published);
	hx_rate_details(w, "publish", rate, 0);
	js_kuint(w, "deliver_get", q->stat_delivered);
	hx_rate_details(w, "deliver_get", rate, 1);
	js_kuint(w, "ack", q->stat_acked);
	hx_rate_details(w, "ack", rate, 2);
	js_obj_end(w);
	js_obj_end(w);
}

void hx_write_exchange(struct js_w *w, const struct hx_rates *rt, const struct tdm_exchange *x)
{
	const double *rate = hx_rates_exchange(rt, x);
	js_obj(w);
	js_kstrn(w, "name", x->name, x->name_len);
	js_kstrn(w, "vhost", x->vhost->name, x->vhost->name_len);
	js_kstr(w, "type", tdm_exchange_type_name(x->type));
	js_kbool(w, "durable", x->durable);
	js_kbool(w, "auto_delete", x->auto_delete);
	js_kbool(w, "internal", x->internal);
	js_key(w, "arguments");
	hv_table_to_json(w, x->arguments, x->arguments_len);
	js_kstr(w, "user_who_performed_action", x->builtin ? "rmq-internal" : "");
	js_key(w, "message_stats");
	js_obj(w);
	js_kuint(w, "publish_in", x->stat_in);
	hx_rate_details(w, "publish_in", rate, 0);
	js_kuint(w, "publish_out", x->stat_out);
	hx_rate_details(w, "publish_out", rate, 1);
	js_obj_end(w);
	js_obj_end(w);
}

static void vhost_totals(const struct tdm_vhost *vh, uint64_t *ready, uint64_t *unacked)
{
	size_t pos = 0;
	const char *k;
	size_t kl;
	void *v;
	while (tdm_map_next(&vh->queues, &pos, &k, &kl, &v)) {
		const struct tdm_queue *q = v;
		*ready += tdm_queue_ready(q);
		*unacked += q->unacked;
	}
}

static void write_vhost(struct js_w *w, const struct tdm_vhost *vh)
{
	uint64_t ready = 0, unacked = 0;
	vhost_totals(vh, &ready, &unacked);
	js_obj(w);
	js_kstrn(w, "name", vh->name, vh->name_len);
	js_kstr(w, "description", "");
	js_key(w, "tags");
	js_arr(w);
	js_arr_end(w);
	js_kstr(w, "default_queue_type", "classic");
	js_key(w, "metadata");
	js_obj(w);
	js_kstr(w, "description", "");
	js_key(w, "tags");
	js_arr(w);
	js_arr_end(w);
	js_obj_end(w);
	js_kbool(w, "tracing", 0);
	js_kuint(w, "messages", ready + unacked);
	js_kuint(w, "messages_ready", ready);
	js_kuint(w, "messages_unacknowledged", unacked);
	js_key(w, "cluster_state"); /* node name -> state, as RabbitMQ */
	js_obj(w);
	js_kstr(w, hx_node_name(), "running");
	js_obj_end(w);
	js_obj_end(w);
}

/* Calls fn for every AMQP listener the broker opened: the listeners.tcp /
 * listeners.ssl lists when set, else bind_address:amqp_port (and
 * :listeners.ssl.default), with RabbitMQ's protocol names ("amqp",
 * "amqp/ssl"). */
static void each_amqp_listener(const struct tdm_config *cfg,
			       void (*fn)(void *arg, const char *protocol, const char *addr,
					  int port),
			       void *arg)
{
	for (int ssl = 0; ssl < 2; ssl++) {
		const char *list = ssl ? cfg->ssl_listeners : cfg->amqp_listeners;
		const char *proto = ssl ? "amqp/ssl" : "amqp";
		int port = ssl ? cfg->ssl_port : cfg->amqp_port;
		char name[64], host[80];

		if (!list || !*list) {
			if (port)
				fn(arg, proto, cfg->bind_address, port);
			continue;
		}
		while (tdm_config_listener_next(&list, name, sizeof(name), host, sizeof(host),
						&port) == 1)
			fn(arg, proto, host[0] ? host : cfg->bind_address, port);
	}
}

static void write_listener(void *arg, const char *protocol, const char *addr, int port)
{
	struct js_w *w = arg;

	js_obj(w);
	js_kstr(w, "node", hx_node_name());
	js_kstr(w, "protocol", protocol);
	js_kstr(w, "ip_address", addr);
	js_kint(w, "port", port);
	js_obj_end(w);
}

/* ---- overview, nodes, whoami ---------------------------------------------- */

void hx_overview(struct hx_req *r)
{
	struct tdm_broker *b = r->h->broker;
	uint64_t ready = 0, unacked = 0, nq = 0, nx = 0, ncons = 0;
	uint64_t deliver = b->stat_gone_delivered, ack = b->stat_gone_acked;
	size_t pos = 0, qpos;
	const char *k;
	size_t kl;
	void *v, *qv;
	while (tdm_map_next(&b->vhosts, &pos, &k, &kl, &v)) {
		struct tdm_vhost *vh = v;
		nx += vh->exchanges.count;
		qpos = 0;
		while (tdm_map_next(&vh->queues, &qpos, &k, &kl, &qv)) {
			const struct tdm_queue *q = qv;
			nq++;
			ready += tdm_queue_ready(q);
			unacked += q->unacked;
			ncons += q->nconsumers;
			deliver += q->stat_delivered;
			ack += q->stat_acked;
		}
	}
	uint64_t nch = 0;
	for (struct tdm_reg_conn *c = tdm_registry_first(); c; c = c->next) {
		struct tdm_conn_stats st = { 0 };
		c->ops->stats(c->ctx, &st);
		nch += st.channels;
	}
	const struct tdm_config *cfg = r->h->cfg;
	struct js_w w;
	js_w_init(&w);
	js_obj(&w);
	js_kstr(&w, "management_version", COMPAT_RABBITMQ_VERSION);
	js_kstr(&w, "rates_mode", "basic");
	js_kstr(&w, "product_name", "tandem");
	js_kstr(&w, "product_version", PACKAGE_VERSION);
	js_kstr(&w, "rabbitmq_version", COMPAT_RABBITMQ_VERSION);
	js_kstr(&w, "cluster_name", hx_node_name());
	js_kstr(&w, "node", hx_node_name());
	js_key(&w, "exchange_types");
	js_arr(&w);
	static const char *types[] = { "direct", "fanout", "headers", "topic" };
	for (size_t i = 0; i < 4; i++) {
		js_obj(&w);
		js_kstr(&w, "name", types[i]);
		js_kbool(&w, "enabled", 1);
		js_obj_end(&w);
	}
	js_arr_end(&w);
	js_key(&w, "message_stats");
	js_obj(&w);
	const double *rate = hx_rates_overall(r->h->rates);
	js_kuint(&w, "publish", b->stat_published);
	hx_rate_details(&w, "publish", rate, 0);
	js_kuint(&w, "deliver_get", deliver);
	hx_rate_details(&w, "deliver_get", rate, 1);
	js_kuint(&w, "ack", ack);
	hx_rate_details(&w, "ack", rate, 2);
	js_obj_end(&w);
	js_key(&w, "queue_totals");
	js_obj(&w);
	js_kuint(&w, "messages", ready + unacked);
	js_kuint(&w, "messages_ready", ready);
	js_kuint(&w, "messages_unacknowledged", unacked);
	js_obj_end(&w);
	js_key(&w, "object_totals");
	js_obj(&w);
	js_kuint(&w, "channels", nch);
	js_kuint(&w, "connections", tdm_registry_count());
	js_kuint(&w, "consumers", ncons);
	js_kuint(&w, "exchanges", nx);
	js_kuint(&w, "queues", nq);
	js_obj_end(&w);
	js_key(&w, "listeners");
	js_arr(&w);
	static const char *protos[] = { "kafka", "http", "https" };
	int ports[] = { cfg->kafka_port, r->h->port, r->h->ssl_port };
	each_amqp_listener(cfg, write_listener, &w);
	for (int i = 0; i < 3; i++)
		if (ports[i])
			write_listener(&w, protos[i], cfg->bind_address, ports[i]);
	js_arr_end(&w);
	js_key(&w, "contexts");
	js_arr(&w);
	js_obj(&w);
	js_kstr(&w, "node", hx_node_name());
	js_kstr(&w, "description", "RabbitMQ Management");
	js_kstr(&w, "path", "/");
	char port[16];
	snprintf(port, sizeof(port), "%d", r->h->port ? r->h->port : r->h->ssl_port);
	js_kstr(&w, "port", port);
	js_obj_end(&w);
	js_arr_end(&w);
	js_obj_end(&w);
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
}

/* This node as /api/nodes shows it. */
static void write_self(struct js_w *w, struct hx_req *r)
{
	struct tdm_broker *b = r->h->broker;
	js_obj(w);
	js_kstr(w, "name", hx_node_name());
	js_kstr(w, "type", "disc");
	js_kbool(w, "running", 1);
	js_kuint(w, "mem_used", b->rss);
	js_kuint(w, "mem_limit", b->mem_limit);
	js_kbool(w, "mem_alarm", (b->alarms & TDM_ALARM_MEMORY) != 0);
	js_kuint(w, "disk_free", b->disk_free);
	js_kuint(w, "disk_free_limit", r->h->cfg->disk_free_limit);
	js_kbool(w, "disk_free_alarm", (b->alarms & TDM_ALARM_DISK) != 0);
	js_kuint(w, "uptime", hx_wall_ms() - r->h->started_ms);
	js_obj_end(w);
}

/* GET /api/nodes: this node, and in a cluster the other live nodes
 * (their names; their own API has their figures); /api/nodes/NAME: this
 * node's. */
void hx_nodes(struct hx_req *r)
{
	const struct tdm_replica *rp = r->h->broker->replica;
	if (r->nseg == 2 && strcmp(r->seg[1].s, hx_node_name()) != 0) {
		hx_not_found(r);
		return;
	}
	struct js_w w;
	js_w_init(&w);
	if (r->nseg == 2) {
		write_self(&w, r);
		hx_reply_json(r, 200, &w);
		js_w_free(&w);
		return;
	}
	js_arr(&w);
	write_self(&w, r);
	const struct tdm_replica_node *nodes;
	size_t n = rp ? tdm_replica_nodes(rp, &nodes) : 0;
	char name[MEMBER_NAME_MAX];
	for (size_t i = 0; i < n; i++) {
		if (nodes[i].id == tdm_replica_node_id(rp))
			continue;
		member_name(rp, nodes[i].id, name, sizeof(name));
		js_obj(&w);
		js_kstr(&w, "name", name);
		js_kstr(&w, "type", "disc");
		js_kbool(&w, "running", 1);
		js_obj_end(&w);
	}
	js_arr_end(&w);
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
}

/* ---- vhosts -------------------------------------------------------------- */

/* PUT and DELETE /api/vhosts/name (administrators: the route table; persisted). */
void hx_vhost_change(struct hx_req *r)
{
	struct tdm_broker *b = r->h->broker;
	const char *name = r->seg[1].s;
	size_t len = r->seg[1].len;
	struct tdm_vhost *vh = tdm_vhost_find(b, name, len);
	struct tdm_err e;
	if (r->method == EVHTTP_REQ_PUT) {
		if (len == 0 || len > 255 || memchr(name, '\0', len))
			hx_error(r, 400, "bad_request", "vhost names are 1 to 255 bytes");
		else if (vh)
			hx_no_content(r, 204);
		else if (!tdm_vhost_add(b, name, len) || tdm_durable_vhost(b->durable, name, len, 1) < 0)
			hx_error(r, 500, "internal_error", "could not create the vhost");
		else
			hx_no_content(r, 201);
	} else if (!vh) {
		hx_not_found(r);
	} else if (strcmp(vh->name, r->h->cfg->default_vhost) == 0) {
		hx_error(r, 400, "bad_request", "the default vhost cannot be deleted in tandem: the Kafka "
						"listener and stream queues live in it");
	} else if (tdm_vhost_delete(b, vh, &e) != TDM_OK) {
		hx_core_error(r, &e);
	} else {
		hx_no_content(r, 204);
	}
}

void hx_vhost_list(struct hx_req *r)
{
	size_t n;
	struct named *v = sorted_vhosts(r, &n);
	struct js_w w;
	js_w_init(&w);
	js_arr(&w);
	for (size_t i = 0; i < n; i++)
		if (vhost_visible(r, v[i].value))
			write_vhost(&w, v[i].value);
	js_arr_end(&w);
	free(v);
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
}

void hx_vhost_get(struct hx_req *r)
{
	struct tdm_vhost *vh = hx_vhost(r, 1);
	if (!vh)
		return;
	struct js_w w;
	js_w_init(&w);
	write_vhost(&w, vh);
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
}

void hx_vhost_permission_list(struct hx_req *r)
{
	struct tdm_vhost *vh = hx_vhost(r, 1);
	if (vh)
		hx_vhost_permissions(r, vh);
}

/* ---- exchanges ----------------------------------------------------------- */

/* The exchange name of a path segment: "amq.default" is the default exchange. */
static void exchange_name(const struct hx_seg *s, const char **name, size_t *len)
{
	if (s->len == 11 && memcmp(s->s, "amq.default", 11) == 0) {
		*name = "";
		*len = 0;
	} else {
		*name = s->s;
		*len = s->len;
	}
}

/* A list of one kind of object (the vhost map at map_off, written by
 * write), of every visible vhost or of `only`, sorted by vhost and name. */
static void list_objects(struct hx_req *r, struct tdm_vhost *only, size_t map_off,
			 void (*write)(struct js_w *, const struct hx_rates *, const void *))
{
	struct js_w w;
	js_w_init(&w);
	js_arr(&w);
	size_t nv;
	struct named *vs = sorted_vhosts(r, &nv);
	for (size_t i = 0; i < nv; i++) {
		struct tdm_vhost *vh = vs[i].value;
		if ((only && vh != only) || !vhost_visible(r, vh))
			continue;
		size_t n;
		struct named *os = sorted((const struct tdm_map *)((const char *)vh + map_off), &n);
		for (size_t j = 0; j < n; j++)
			write(&w, r->h->rates, os[j].value);
		free(os);
	}
	free(vs);
	js_arr_end(&w);
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
}

static void write_exchange_any(struct js_w *w, const struct hx_rates *rt, const void *x)
{
	hx_write_exchange(w, rt, x);
}

static void write_queue_any(struct js_w *w, const struct hx_rates *rt, const void *q)
{
	hx_write_queue(w, rt, q);
}

/* GET /api/{exchanges|queues}[/vhost]: every visible vhost's or one's. */
static void object_list(struct hx_req *r, size_t map_off,
			void (*write)(struct js_w *, const struct hx_rates *, const void *))
{
	struct tdm_vhost *vh = NULL;
	if (r->nseg == 2 && !(vh = hx_vhost(r, 1)))
		return;
	list_objects(r, vh, map_off, write);
}

int hx_declare_exchange(struct tdm_vhost *vh, const char *user, const struct js_doc *d, int obj,
			const char *name, size_t len, int *created, struct tdm_err *e)
{
	int t = js_get(d, obj, "type");
	if (t >= 0 && js_type_of(d, t) != JS_STR)
		return tdm_err_set(e, TDM_E_INVALID, "type must be a string");
	char err[200];
	struct js_w args;
	js_w_init(&args);
	size_t tl = 6;
	char *type = t < 0 ? strdup("direct") : js_strdup(d, t, &tl); /* RabbitMQ's default */
	int rc;
	if (!type) {
		rc = tdm_err_set(e, TDM_E_NOMEM, "out of memory");
		goto out;
	}
	if (hv_table_from_json(d, js_get(d, obj, "arguments"), &args, err, sizeof(err)) < 0) {
		rc = tdm_err_set(e, TDM_E_INVALID, "%s", err);
		goto out;
	}
	struct tdm_exchange_spec s = {
		.name = name,
		.name_len = len,
		.type = type,
		.type_len = tl,
		.durable =
			js_truth(d, js_get(d, obj, "durable")) != 0, /* RabbitMQ's default: true */
		.auto_delete = js_truth(d, js_get(d, obj, "auto_delete")) == 1,
		.internal = js_truth(d, js_get(d, obj, "internal")) == 1,
		.arguments = (const uint8_t *)args.buf,
		.arguments_len = args.len,
		.user = user,
	};
	struct tdm_exchange *x;
	rc = tdm_exchange_declare(vh, &s, &x, e);
	if (created)
		*created = s.created;
out:
	free(type);
	js_w_free(&args);
	return rc;
}

static void put_exchange(struct hx_req *r, struct tdm_vhost *vh, const char *name, size_t len)
{
	if (hx_body(r) < 0)
		return;
	struct tdm_err e;
	int created = 0;
	int rc = hx_declare_exchange(vh, r->user, &r->body, 0, name, len, &created, &e);
	if (rc == TDM_PROPOSED)
		hx_defs_reply(r, 201);
	else if (rc != TDM_OK)
		hx_core_error(r, &e);
	else
		hx_no_content(r, created ? 201 : 204);
}

void hx_exchange_list(struct hx_req *r)
{
	object_list(r, offsetof(struct tdm_vhost, exchanges), write_exchange_any);
}

/* The vhost and exchange named by segments 1 and 2 (NULL: 404 answered). */
static struct tdm_exchange *path_exchange(struct hx_req *r, struct tdm_vhost **vh)
{
	const char *name;
	size_t len;
	struct tdm_exchange *x = NULL;
	if (!(*vh = hx_vhost(r, 1)))
		return NULL;
	exchange_name(&r->seg[2], &name, &len);
	if (!(x = tdm_exchange_find(*vh, name, len)))
		hx_not_found(r);
	return x;
}

/* GET, PUT, DELETE /api/exchanges/vhost/name. */
void hx_exchange(struct hx_req *r)
{
	struct tdm_vhost *vh;
	const char *name;
	size_t len;
	exchange_name(&r->seg[2], &name, &len);
	if (r->method == EVHTTP_REQ_PUT) {
		if ((vh = hx_vhost(r, 1)))
			put_exchange(r, vh, name, len);
		return;
	}
	struct tdm_exchange *x = path_exchange(r, &vh);
	if (!x)
		return;
	if (r->method == EVHTTP_REQ_DELETE) {
		const char *iu = hx_query(r, "if-unused");
		struct tdm_err e;
		int rc = tdm_exchange_delete_by(vh, r->user, name, len,
						iu && strcmp(iu, "true") == 0, &e);
		if (rc == TDM_PROPOSED)
			hx_defs_reply(r, 204);
		else if (rc != TDM_OK)
			hx_core_error(r, &e);
		else
			hx_no_content(r, 204);
		return;
	}
	struct js_w w;
	js_w_init(&w);
	hx_write_exchange(&w, r->h->rates, x);
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
}

void hx_exchange_publish(struct hx_req *r)
{
	struct tdm_vhost *vh;
	struct tdm_exchange *x = path_exchange(r, &vh);
	if (x)
		hx_publish(r, vh, x);
}

/* ---- queues -------------------------------------------------------------- */

int hx_declare_queue(struct tdm_vhost *vh, const char *user, const struct js_doc *d, int obj,
		     const char *name, size_t len, int *created, struct tdm_err *e)
{
	char err[200], shown[256];
	struct js_w args;
	js_w_init(&args);
	int a = js_get(d, obj, "arguments"), rc;
	struct tdm_queue_settings qs;
	struct tdm_stream_spec ss;
	if (len == 0 || len > 255) {
		rc = tdm_err_set(e, TDM_E_INVALID, "queue names are 1 to 255 bytes");
		goto out;
	}
	if (hv_table_from_json(d, a, &args, err, sizeof(err)) < 0) {
		rc = tdm_err_set(e, TDM_E_INVALID, "%s", err);
		goto out;
	}
	struct tdm_queue_spec s = {
		.name = name,
		.name_len = len,
		.durable =
			js_truth(d, js_get(d, obj, "durable")) != 0, /* RabbitMQ's default: true */
		.auto_delete = js_truth(d, js_get(d, obj, "auto_delete")) == 1,
		.arguments = (const uint8_t *)args.buf,
		.arguments_len = args.len,
		.settings = &qs,
		.user = user,
	};
	/* the same checks and words as a declare over AMQP */
	snprintf(shown, sizeof(shown), "%.*s", (int)len, name);
	if (tdm_qargs_is_stream(s.arguments, s.arguments_len))
		rc = tdm_qargs_stream(vh, user, shown, len, s.durable, 0, s.auto_delete, s.arguments,
				      s.arguments_len, &qs, &ss, e);
	else if ((rc = tdm_qargs_quorum(shown, len, vh->name, s.durable, 0, s.auto_delete,
					s.arguments, s.arguments_len, e)) == TDM_OK)
		rc = tdm_qargs_parse(s.arguments, s.arguments_len, shown, vh->name, &qs, e);
	if (rc != TDM_OK)
		goto out;
	struct tdm_queue *q;
	rc = tdm_queue_declare(vh, &s, &q, e);
	if (created)
		*created = s.created;
out:
	js_w_free(&args);
	return rc;
}

static void put_queue(struct hx_req *r, struct tdm_vhost *vh)
{
	if (hx_body(r) < 0)
		return;
	struct tdm_err e;
	int created = 0;
	int rc = hx_declare_queue(vh, r->user, &r->body, 0, r->seg[2].s, r->seg[2].len, &created, &e);
	if (rc == TDM_PROPOSED) /* the cluster's queue: once applied here */
		hx_defs_reply(r, 201);
	else if (rc != TDM_OK)
		hx_core_error(r, &e);
	else
		hx_no_content(r, created ? 201 : 204);
}

void hx_queue_list(struct hx_req *r)
{
	object_list(r, offsetof(struct tdm_vhost, queues), write_queue_any);
}

/* The vhost and queue named by segments 1 and 2 (NULL: 404 answered). */
static struct tdm_queue *path_queue(struct hx_req *r, struct tdm_vhost **vh)
{
	struct tdm_queue *q = NULL;
	if (!(*vh = hx_vhost(r, 1)))
		return NULL;
	if (!(q = tdm_map_get(&(*vh)->queues, r->seg[2].s, r->seg[2].len)))
		hx_not_found(r);
	return q;
}

/* GET, PUT, DELETE /api/queues/vhost/name. */
void hx_queue(struct hx_req *r)
{
	struct tdm_vhost *vh;
	if (r->method == EVHTTP_REQ_PUT) {
		if ((vh = hx_vhost(r, 1)))
			put_queue(r, vh);
		return;
	}
	struct tdm_queue *q = path_queue(r, &vh);
	if (!q)
		return;
	if (r->method == EVHTTP_REQ_DELETE) {
		const char *iu = hx_query(r, "if-unused"), *ie = hx_query(r, "if-empty");
		uint64_t count;
		struct tdm_err e;
		int rc = tdm_access(vh, r->user, TDM_RES_QUEUE, TDM_PERM_CONFIGURE, q->name,
				    q->name_len, &e);
		if (rc == TDM_OK)
			rc = tdm_queue_delete(vh, q->name, q->name_len, q->owner,
					      iu && !strcmp(iu, "true"), ie && !strcmp(ie, "true"),
					      &count, &e);
		if (rc == TDM_PROPOSED) /* the cluster's queue: gone everywhere first */
			hx_defs_reply(r, 204);
		else if (rc != TDM_OK)
			hx_core_error(r, &e);
		else
			hx_no_content(r, 204);
		return;
	}
	struct js_w w;
	js_w_init(&w);
	hx_write_queue(&w, r->h->rates, q);
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
}

/* Stream queues have no purge and no get: 1 (400 answered) for one. */
static int refuse_stream(struct hx_req *r, const struct tdm_queue *q)
{
	if (!q->stream)
		return 0;
	hx_error(r, 400, "bad_request", "stream queues are read by consumers with an offset: "
					"no purge and no get, as in RabbitMQ");
	return 1;
}

/* DELETE /api/queues/vhost/name/contents. */
void hx_queue_purge(struct hx_req *r)
{
	struct tdm_vhost *vh;
	struct tdm_queue *q = path_queue(r, &vh);
	struct tdm_err e;
	if (!q)
		return;
	if (tdm_access(vh, r->user, TDM_RES_QUEUE, TDM_PERM_READ, q->name, q->name_len, &e) !=
	    TDM_OK) { /* queue.purge's check */
		hx_core_error(r, &e);
		return;
	}
	if (refuse_stream(r, q))
		return;
	/* another connection's exclusive queue: RabbitMQ's queue.purge
	 * fails, answered with its explanation */
	if (!tdm_queue_lookup(vh, q->name, q->name_len, NULL, &e)) {
		hx_error(r, 400, "bad_request", e.text);
		return;
	}
	if (q->remote) { /* another node's queue: its home purges */
		hx_remote_purge(r, q);
		return;
	}
	tdm_queue_purge(q);
	hx_no_content(r, 204);
}

/* POST /api/queues/vhost/name/get. */
void hx_queue_get(struct hx_req *r)
{
	struct tdm_vhost *vh;
	struct tdm_queue *q = path_queue(r, &vh);
	if (q && !refuse_stream(r, q))
		hx_get(r, vh, q);
}

/* ---- health, aliveness ----------------------------------------------------- */

void hx_health_alarms(struct hx_req *r)
{
	unsigned a = r->h->broker->alarms;
	struct js_w w;
	js_w_init(&w);
	js_obj(&w);
	if (!a) {
		js_kstr(&w, "status", "ok");
	} else {
		js_kstr(&w, "status", "failed");
		js_kstr(&w, "reason", "resource alarm(s) in effect in the cluster");
		js_key(&w, "alarms");
		js_arr(&w);
		for (unsigned bit = 1; bit <= 2; bit <<= 1) {
			if (!(a & bit))
				continue;
			js_obj(&w);
			js_kstr(&w, "node", hx_node_name());
			js_kstr(&w, "resource", bit == TDM_ALARM_MEMORY ? "memory" : "disk");
			js_obj_end(&w);
		}
		js_arr_end(&w);
	}
	js_obj_end(&w);
	hx_reply_json(r, a ? 503 : 200, &w);
	js_w_free(&w);
}

/* Collects the ports of the AMQP listeners (at most 32). */
struct port_set {
	int ports[32];
	int n;
};

static void add_port(void *arg, const char *protocol, const char *addr, int port)
{
	struct port_set *ps = arg;

	(void)protocol, (void)addr;
	if (ps->n < 32)
		ps->ports[ps->n++] = port;
}

void hx_health_port(struct hx_req *r)
{
	int port = atoi(r->seg[3].s);
	const struct tdm_config *cfg = r->h->cfg;
	struct port_set amqp = { .n = 0 };
	int ok = port > 0 &&
		 (port == cfg->kafka_port || port == r->h->port || port == r->h->ssl_port);

	each_amqp_listener(cfg, add_port, &amqp);
	for (int i = 0; i < amqp.n; i++)
		ok |= port > 0 && port == amqp.ports[i];
	struct js_w w;
	js_w_init(&w);
	js_obj(&w);
	js_kstr(&w, "status", ok ? "ok" : "failed");
	if (ok) {
		js_kint(&w, "port", port);
	} else { /* RabbitMQ's failure body: what is missing, what listens */
		js_kstr(&w, "reason", "No active listener");
		js_kint(&w, "missing", port);
		js_key(&w, "ports");
		js_arr(&w);
		int ports[] = { cfg->kafka_port, r->h->port, r->h->ssl_port };
		for (int i = 0; i < amqp.n; i++)
			js_int(&w, amqp.ports[i]);
		for (int i = 0; i < 3; i++)
			if (ports[i])
				js_int(&w, ports[i]);
		js_arr_end(&w);
	}
	js_obj_end(&w);
	hx_reply_json(r, ok ? 200 : 503, &w);
	js_w_free(&w);
}

/* RabbitMQ's aliveness test: declare "aliveness-test", publish a message
 * to it and get it back. */
void hx_aliveness(struct hx_req *r)
{
	struct tdm_vhost *vh = hx_vhost(r, 1);
	if (!vh)
		return;
	static const char name[] = "aliveness-test";
	struct tdm_queue_spec s = { .name = name, .name_len = sizeof(name) - 1, .local = 1 };
	struct tdm_queue *q;
	struct tdm_err e;
	int ok = 0;
	if (tdm_queue_declare(vh, &s, &q, &e) == TDM_OK) {
		/* a content header of class 60 with a 4-byte body and no properties */
		static const uint8_t hdr[14] = { 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0 };
		struct tdm_message *m = tdm_message_new("", 0, name, sizeof(name) - 1, hdr, sizeof(hdr), 4);
		if (m) {
			memcpy(m->body, "test", 4);
			m->body_filled = 4;
			tdm_queue_push(q, m);
			tdm_message_unref(m);
			struct tdm_qentry qe;
			/* older test messages may be ahead of ours: take everything */
			while (tdm_queue_pop(q, &qe)) {
				ok = qe.msg && qe.msg->body_len == 4 && memcmp(qe.msg->body, "test", 4) == 0;
				tdm_queue_settle(q, qe);
			}
		}
	}
	struct js_w w;
	js_w_init(&w);
	js_obj(&w);
	js_kstr(&w, "status", ok ? "ok" : "failed");
	if (!ok)
		js_kstr(&w, "reason", "aliveness test failed");
	js_obj_end(&w);
	hx_reply_json(r, ok ? 200 : 503, &w);
	js_w_free(&w);
}
