/*
 * A node in a cluster (node.h): registration, metadata watches, local
 * logs, ISR writes, followers' fetchers and the controller, glued to the
 * replica manager.
 *
 * Every ZooKeeper answer comes back on the loop thread (zk.h).  Requests
 * out carry a small record of their own (struct cn_req, on a list so that
 * tdm_cnode_free releases those whose answers never come); watches carry
 * the node itself and say what fired by their path.
 *
 * Must not depend on: protocol front ends.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "cluster/broker_config.h"
#include "cluster/controller.h"
#include "cluster/ctl.h"
#include "cluster/fetcher.h"
#include "cluster/link.h"
#include "cluster/node.h"
#include "cluster/zk.h"
#include "cluster/zkdata.h"
#include "core/config.h"
#include "core/log.h"
#include "core/map.h"
#include "core/replica.h"
#include "core/topic_ops.h"
#include "core/topics.h"

#define CN_APPLY_TIMEOUT_MS 30000 /* an admin change not applied here by then */
#define CN_TICK_MS 100

/* What a request out is for. */
enum cn_kind { CN_BROKERS, CN_BROKER, CN_TOPICS, CN_CONFIG, CN_CONFIG_AGAIN, CN_ASSIGN,
	       CN_STATE, CN_ISR, CN_REGISTER, CN_PATHS };

struct cn_req {
	struct tdm_cnode *n;
	enum cn_kind kind;
	char *topic; /* owned, or NULL */
	int32_t id;  /* partition or broker id */
	uint64_t gen; /* CN_BROKER: the listing it belongs to */
	struct cn_req *prev, *next;
};

/* A topic of the cluster as this node knows it. */
struct cn_topic {
	char *name; /* owned */
	struct zkd_topic assign;
	int have_assign;
	struct zkd_config config;
	int32_t config_version; /* of /config/topics/T as read; -1 before */
	int local; /* its log exists here */
};

/* An administration request of this node waiting to be applied here. */
enum cn_wait_kind { CN_WAIT_CREATE, CN_WAIT_DELETE, CN_WAIT_GROW, CN_WAIT_CONFIG };
struct cn_waiter {
	enum cn_wait_kind kind;
	char *topic; /* owned */
	int32_t count;   /* CN_WAIT_GROW: partitions; CN_WAIT_CONFIG: the version written */
	tdm_replica_done_fn done;
	void *arg;
	int64_t deadline_ms;
	int zk_done; /* the controller's part is written */
	int rc;      /* the controller's answer */
	struct tdm_cnode *n;
	struct cn_waiter *next;
};

/* One listing of /brokers/ids being read. */
struct cn_brokers {
	uint64_t gen;
	size_t expected, got;
	struct tdm_replica_node *nodes; /* hosts and racks owned */
	size_t n;
};

struct tdm_cnode {
	struct event_base *base;       /* borrowed */
	const struct tdm_config *cfg;  /* borrowed */
	struct tdm_topics *topics;     /* borrowed */
	struct tdm_replica *replica;   /* owned */
	struct zk *zk;                 /* owned */
	struct tdm_controller *ctl;    /* owned */
	struct tdm_fetcher *fetchers;  /* owned */
	struct tdm_link *link;         /* owned: the cluster link's client, or NULL */
	struct tdm_cnode_ports ports;
	int32_t id;
	char host[ZKD_HOST_MAX + 1];
	struct tdm_map tmap;           /* topic name -> struct cn_topic */
	struct cn_req reqs;            /* sentinel of the requests out */
	struct cn_waiter *waiters;
	struct cnb *bcfg;              /* owned: dynamic broker configs */
	struct cn_brokers brokers;     /* the listing under way */
	uint64_t brokers_gen;
	struct event *tick;            /* owned */
	int expired;                   /* the session expired: re-join once connected */
	int registered;
};

/* The clock of deadlines and of the replica manager (tdm_replica_tick,
 * the same as the Kafka front end's follower fetches: the lag of a
 * follower is the difference of the two). */
static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wall-clock time, for what ZooKeeper readers take as a date. */
static int64_t wall_ms(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* ---- requests out ------------------------------------------------------ */

static struct cn_req *req_new(struct tdm_cnode *n, enum cn_kind kind, const char *topic,
			      int32_t id)
{
	struct cn_req *q = calloc(1, sizeof(*q));
	if (!q || (topic && !(q->topic = strdup(topic)))) {
		free(q);
		tdm_log(TDM_LOG_ERROR, "cluster", "out of memory for a ZooKeeper request");
		return NULL;
	}
	q->n = n;
	q->kind = kind;
	q->id = id;
	q->next = n->reqs.next;
	q->prev = &n->reqs;
	n->reqs.next->prev = q;
	n->reqs.next = q;
	return q;
}

static void req_free(struct cn_req *q)
{
	q->prev->next = q->next;
	q->next->prev = q->prev;
	free(q->topic);
	free(q);
}

/* An answer that is not worth acting on: the session is going or gone (a
 * new one re-reads everything). */
static int zk_gone(int rc)
{
	return rc == ZK_CLOSING || rc == ZK_SESSIONEXPIRED || rc == ZK_INVALIDSTATE;
}

static void zk_warn(const char *what, const char *path, int rc)
{
	if (!zk_gone(rc))
		tdm_log(TDM_LOG_WARNING, "cluster", "ZooKeeper %s %s: %s", what, path,
			zk_strerror(rc));
}

/* ---- topics known here -------------------------------------------------- */

static struct cn_topic *topic_get(struct tdm_cnode *n, const char *name)
{
	return tdm_map_get(&n->tmap, name, strlen(name));
}

static void topic_free(struct cn_topic *t)
{
	if (!t)
		return;
	zkd_topic_free(&t->assign);
	zkd_config_free(&t->config);
	free(t->name);
	free(t);
}

/* The state of topic/partition is known here, with a leader. */
static int partition_ready(struct tdm_cnode *n, const char *topic, int32_t p)
{
	const struct tdm_partition_state *st = tdm_replica_state(n->replica, topic, p);
	return st && st->leader != TDM_NO_NODE;
}

/* Whether waiter w's change is visible on this node now. */
static int waiter_applied(struct tdm_cnode *n, const struct cn_waiter *w)
{
	struct cn_topic *t = topic_get(n, w->topic);
	if (w->kind == CN_WAIT_DELETE)
		return !t && !tdm_topic_find(n->topics, w->topic);
	if (w->kind == CN_WAIT_CONFIG)
		return !t || t->config_version >= w->count; /* deleted: nothing to wait for */
	if (!t || !t->local || !t->have_assign)
		return 0;
	int32_t want = w->kind == CN_WAIT_GROW ? w->count : (int32_t)t->assign.npartitions;
	if ((int32_t)t->assign.npartitions < want)
		return 0;
	for (int32_t p = 0; p < want; p++)
		if (!partition_ready(n, w->topic, p))
			return 0;
	return 1;
}

/* Completes the waiters whose change is applied or whose time is up. */
static void check_waiters(struct tdm_cnode *n, int64_t now)
{
	struct cn_waiter **pw = &n->waiters;
	while (*pw) {
		struct cn_waiter *w = *pw;
		int rc = 1;
		if (w->zk_done && w->rc != TDM_TOPIC_OK)
			rc = w->rc;
		else if (w->zk_done && waiter_applied(n, w))
			rc = TDM_TOPIC_OK;
		else if (now >= w->deadline_ms)
			rc = TDM_REPL_TIMED_OUT;
		if (rc == 1) {
			pw = &w->next;
			continue;
		}
		*pw = w->next;
		w->done(w->arg, rc, rc == TDM_TOPIC_OK ? "" : tdm_replica_strerror(rc));
		free(w->topic);
		free(w);
	}
}

static void read_state(struct tdm_cnode *n, const char *topic, int32_t p);

/* Makes (or grows) the local log of t to its assignment's partitions. */
/* The local log of topic `name` goes (its replica states first). */
static int delete_local(struct tdm_cnode *n, const char *name)
{
	tdm_replica_forget_topic(n->replica, name);
	int rc = tdm_topics_delete(n->topics, name);
	if (rc != TDM_TOPIC_OK && rc != TDM_ERR_NOT_FOUND) {
		tdm_log(TDM_LOG_ERROR, "cluster", "topic %s: deleting its log here failed: %s", name,
			tdm_strerror(rc));
		return -1;
	}
	return 0;
}

/* A local log kept from an earlier topic of this name (deleted and made
 * again while this node was away or did not look: its id differs from
 * the assignment's) is deleted: 1 when it was, 0 when the log is this
 * topic's or has no id to tell (a log from before topic ids), -1 when
 * deleting failed. */
static int drop_if_other(struct tdm_cnode *n, const struct cn_topic *t, struct ls_topic *lt)
{
	const char *want = t->assign.topic_id, *have = lt ? tdm_topic_id(lt) : "";
	if (!want[0] || !have[0] || strcmp(want, have) == 0)
		return 0;
	tdm_log(TDM_LOG_WARNING, "cluster",
		"topic %s: the log here is of an earlier topic of this name (id %s, now %s): "
		"deleted, the new topic's is made",
		t->name, have, want);
	return delete_local(n, t->name) < 0 ? -1 : 1;
}

/* 1 when the overrides of the local log lt differ from t's configs. */
static int config_differs(const struct cn_topic *t, const struct ls_topic *lt)
{
	const char *key;
	for (size_t i = 0; (key = tdm_topic_config_name(i)) != NULL; i++) {
		const char *want = zkd_config_get(&t->config, key);
		char have[128], canon[128];
		int is_default = 1;
		tdm_topic_config_value(lt, key, have, sizeof(have), &is_default);
		if ((want == NULL) != (is_default != 0))
			return 1;
		if (want && (tdm_topic_config_try(lt, key, want, canon, sizeof(canon)) != TDM_TOPIC_OK ||
			     strcmp(canon, have) != 0))
			return 1;
	}
	return 0;
}

/* The local log lt takes t's configs (Kafka's AlterConfigs, made on any
 * node, or while this node was away). */
static void apply_config(struct tdm_cnode *n, const struct cn_topic *t, struct ls_topic *lt)
{
	struct tdm_kv kv[64];
	char err[256] = "";
	size_t nkv = t->config.n < 64 ? t->config.n : 64;

	if (!config_differs(t, lt))
		return;
	for (size_t i = 0; i < nkv; i++)
		kv[i] = (struct tdm_kv){ t->config.keys[i], t->config.values[i] };
	int rc = tdm_topics_set_config(n->topics, lt, kv, nkv, 0, err, sizeof(err));
	if (rc != TDM_TOPIC_OK)
		tdm_log(TDM_LOG_ERROR, "cluster", "topic %s: applying its configs here failed: %s%s%s",
			t->name, tdm_strerror(rc), err[0] ? ": " : "", err);
}

static int ensure_local(struct tdm_cnode *n, struct cn_topic *t)
{
	struct ls_topic *lt = tdm_topic_find(n->topics, t->name);
	int32_t want = (int32_t)t->assign.npartitions;
	char err[256] = "";
	int rc = TDM_TOPIC_OK;

	int other = drop_if_other(n, t, lt);
	if (other < 0)
		return -1;
	if (other)
		lt = NULL;
	if (!lt) {
		struct tdm_kv kv[64];
		size_t nkv = t->config.n < 64 ? t->config.n : 64;
		for (size_t i = 0; i < nkv; i++) {
			kv[i].name = t->config.keys[i];
			kv[i].value = t->config.values[i];
		}
		rc = tdm_topics_create(n->topics, t->name, want, kv, nkv, err, sizeof(err));
	} else {
		apply_config(n, t, lt);
		if (tdm_topic_partitions(lt) < want)
			rc = tdm_topics_add_partitions(n->topics, lt, want);
	}
	if (rc != TDM_TOPIC_OK && rc != TDM_ERR_EXISTS) {
		tdm_log(TDM_LOG_ERROR, "cluster", "topic %s: making its log here failed: %s%s%s",
			t->name, tdm_strerror(rc), err[0] ? ": " : "", err);
		return -1;
	}
	/* the id beside the log (also adopted by a log from before ids) */
	lt = tdm_topic_find(n->topics, t->name);
	if (lt && t->assign.topic_id[0] && strcmp(tdm_topic_id(lt), t->assign.topic_id) != 0 &&
	    (rc = tdm_topic_set_id(lt, t->assign.topic_id)) != TDM_TOPIC_OK) {
		tdm_log(TDM_LOG_ERROR, "cluster", "topic %s: writing its id here failed: %s",
			t->name, tdm_strerror(rc));
		return -1;
	}
	t->local = 1;
	return other;
}

static void watch_fired(void *ctx, int event, const char *path);
static void register_self(struct tdm_cnode *n);
static void drop_topic(struct tdm_cnode *n, const char *name);
static void read_topics(struct tdm_cnode *n);

static void assign_done(void *ctx, const struct zk_result *res)
{
	struct cn_req *q = ctx;
	struct tdm_cnode *n = q->n;
	struct cn_topic *t = topic_get(n, q->topic);
	char err[256];

	if (res->rc == ZK_NONODE && t) {
		/* deleted (perhaps made again since: the list says) */
		drop_topic(n, q->topic);
		read_topics(n);
		goto out;
	}
	if (res->rc != ZK_OK) {
		if (res->rc != ZK_NONODE)
			zk_warn("get", res->path, res->rc);
		goto out;
	}
	if (!t)
		goto out; /* deleted meanwhile */
	struct zkd_topic a = { 0 };
	if (zkd_topic_decode(res->data, res->len, &a, err, sizeof(err)) < 0) {
		tdm_log(TDM_LOG_ERROR, "cluster", "%s: bad assignment: %s", res->path, err);
		goto out;
	}
	size_t before = t->have_assign ? t->assign.npartitions : 0;
	zkd_topic_free(&t->assign);
	t->assign = a;
	t->have_assign = 1;
	int made = ensure_local(n, t);
	if (made > 0)
		before = 0; /* a new topic under an old name: every state again */
	if (made >= 0)
		for (size_t p = before; p < a.npartitions; p++)
			read_state(n, t->name, (int32_t)p);
	check_waiters(n, now_ms());
out:
	req_free(q);
}

static void read_assignment(struct tdm_cnode *n, const char *topic)
{
	char path[ZKD_PATH_MAX];
	struct cn_req *q = req_new(n, CN_ASSIGN, topic, 0);
	if (!q || !zkd_path_topic(path, sizeof(path), topic) ||
	    zk_get(n->zk, path, watch_fired, n, assign_done, q) < 0)
		if (q)
			req_free(q);
}

static void config_done(void *ctx, const struct zk_result *res)
{
	struct cn_req *q = ctx;
	struct tdm_cnode *n = q->n;
	struct cn_topic *t = topic_get(n, q->topic);
	char err[256];

	if (t && res->rc == ZK_OK) {
		struct zkd_config c = { 0 };
		if (zkd_config_decode(res->data, res->len, &c, err, sizeof(err)) == 0) {
			zkd_config_free(&t->config);
			t->config = c;
			t->config_version = res->stat ? res->stat->version : t->config_version;
		} else {
			tdm_log(TDM_LOG_ERROR, "cluster", "%s: bad topic config: %s", res->path, err);
		}
	} else if (res->rc != ZK_NONODE && res->rc != ZK_OK) {
		zk_warn("get", res->path, res->rc);
	}
	if (t && q->kind == CN_CONFIG_AGAIN) {
		/* changed (AlterConfigs): the log here takes it now */
		struct ls_topic *lt = t->local ? tdm_topic_find(n->topics, t->name) : NULL;
		if (lt && res->rc == ZK_OK)
			apply_config(n, t, lt);
		check_waiters(n, now_ms());
	} else if (t) {
		/* the assignment after the config: the log is made with both */
		read_assignment(n, t->name);
	}
	req_free(q);
}

/* Reads topic's /config/topics/T and watches it (a change fires
 * watch_fired, which reads it again with CN_CONFIG_AGAIN). */
static void read_config(struct tdm_cnode *n, const char *name, enum cn_kind kind)
{
	char path[ZKD_PATH_MAX];
	struct cn_req *q = req_new(n, kind, name, 0);
	if (!q || !zkd_path_topic_config(path, sizeof(path), name) ||
	    zk_get(n->zk, path, watch_fired, n, config_done, q) < 0)
		if (q)
			req_free(q);
}

static void add_topic(struct tdm_cnode *n, const char *name)
{
	struct cn_topic *t = calloc(1, sizeof(*t));
	if (!t || !(t->name = strdup(name)) || tdm_map_put(&n->tmap, name, strlen(name), t) < 0) {
		topic_free(t);
		return;
	}
	t->config_version = -1;
	read_config(n, name, CN_CONFIG);
}

static void drop_topic(struct tdm_cnode *n, const char *name)
{
	struct cn_topic *t = tdm_map_del(&n->tmap, name, strlen(name));
	if (delete_local(n, name) == 0)
		tdm_log(TDM_LOG_INFO, "cluster", "topic %s deleted", name);
	topic_free(t);
	check_waiters(n, now_ms());
}

struct stale_ctx {
	const struct zk_result *res;
	char **names; /* owned: the logs to delete */
	size_t n, cap;
};

/* A local log with a topic id (a cluster topic's) whose topic is not in
 * ZooKeeper any more: deleted while this node was away. */
static void stale_fn(struct ls_topic *lt, void *arg)
{
	struct stale_ctx *c = arg;
	const char *name = tdm_topic_name(lt);
	if (!tdm_topic_id(lt)[0])
		return; /* this node's own (a stream queue's), or from before ids */
	for (size_t i = 0; i < c->res->nchildren; i++)
		if (strcmp(c->res->children[i], name) == 0)
			return;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 8;
		char **v = realloc(c->names, cap * sizeof(*v));
		if (!v)
			return;
		c->names = v;
		c->cap = cap;
	}
	if ((c->names[c->n] = strdup(name)) != NULL)
		c->n++;
}

static void drop_stale_logs(struct tdm_cnode *n, const struct zk_result *res)
{
	struct stale_ctx c = { res, NULL, 0, 0 };
	tdm_topics_foreach(n->topics, stale_fn, &c);
	for (size_t i = 0; i < c.n; i++) {
		if (!topic_get(n, c.names[i]) && delete_local(n, c.names[i]) == 0)
			tdm_log(TDM_LOG_INFO, "cluster",
				"topic %s was deleted while this node was away: its log here too",
				c.names[i]);
		free(c.names[i]);
	}
	free(c.names);
}

static void topics_done(void *ctx, const struct zk_result *res)
{
	struct cn_req *q = ctx;
	struct tdm_cnode *n = q->n;

	if (res->rc != ZK_OK) {
		zk_warn("get_children", res->path, res->rc);
		goto out;
	}
	for (size_t i = 0; i < res->nchildren; i++)
		if (!topic_get(n, res->children[i]))
			add_topic(n, res->children[i]);
	/* gone from ZooKeeper: gone here */
	size_t pos = 0, klen;
	const char *key;
	void *v;
	while (tdm_map_next(&n->tmap, &pos, &key, &klen, &v)) {
		struct cn_topic *t = v;
		int found = 0;
		for (size_t i = 0; i < res->nchildren && !found; i++)
			found = strcmp(res->children[i], t->name) == 0;
		if (!found)
			drop_topic(n, t->name);
	}
	drop_stale_logs(n, res);
out:
	req_free(q);
}

static void read_topics(struct tdm_cnode *n)
{
	struct cn_req *q = req_new(n, CN_TOPICS, NULL, 0);
	if (q && zk_get_children(n->zk, ZKD_BROKERS_TOPICS, watch_fired, n, topics_done, q) < 0)
		req_free(q);
}

/* ---- partition states ------------------------------------------------- */


/* The state znode was missing; it exists now: read it (its creation
 * would not fire the watch just set). */
static void state_exists_done(void *ctx, const struct zk_result *res)
{
	struct cn_req *q = ctx;
	if (res->rc == ZK_OK && topic_get(q->n, q->topic))
		read_state(q->n, q->topic, q->id);
	req_free(q);
}

static void state_done(void *ctx, const struct zk_result *res)
{
	struct cn_req *q = ctx;
	struct tdm_cnode *n = q->n;
	struct cn_topic *t = topic_get(n, q->topic);
	char err[256];

	if (res->rc == ZK_NONODE) {
		/* not written by the controller yet: be told when it is (and
		 * read it if it came between the two calls) */
		struct cn_req *e = req_new(n, CN_STATE, q->topic, q->id);
		if (e && zk_exists(n->zk, res->path, watch_fired, n, state_exists_done, e) < 0)
			req_free(e);
		goto out;
	}
	if (res->rc != ZK_OK) {
		zk_warn("get", res->path, res->rc);
		goto out;
	}
	if (!t || !t->have_assign || (size_t)q->id >= t->assign.npartitions || !t->local)
		goto out;
	struct zkd_partition_state s = { 0 };
	if (zkd_partition_state_decode(res->data, res->len, &s, err, sizeof(err)) < 0) {
		tdm_log(TDM_LOG_ERROR, "cluster", "%s: bad partition state: %s", res->path, err);
		goto out;
	}
	const struct zkd_assignment *a = &t->assign.partitions[q->id];
	struct tdm_partition_state st = { s.leader, s.leader_epoch, s.controller_epoch,
					  res->stat->version, a->replicas, a->nreplicas,
					  s.isr, s.nisr };
	int rc = tdm_replica_set_state(n->replica, q->topic, q->id, &st);
	if (rc != TDM_REPL_OK)
		tdm_log(TDM_LOG_WARNING, "cluster", "%s-%" PRId32 ": state not applied: %s",
			q->topic, q->id, tdm_replica_strerror(rc));
	zkd_partition_state_free(&s);
	check_waiters(n, now_ms());
out:
	req_free(q);
}

static void read_state(struct tdm_cnode *n, const char *topic, int32_t p)
{
	char path[ZKD_PATH_MAX];
	struct cn_req *q = req_new(n, CN_STATE, topic, p);
	if (!q || !zkd_path_partition_state(path, sizeof(path), topic, p) ||
	    zk_get(n->zk, path, watch_fired, n, state_done, q) < 0)
		if (q)
			req_free(q);
}

/* The leader's ISR change (core/replica.h's isr_change hook): written
 * with compare-and-set on the version the leader holds; either way the
 * state is read back and handed to the replica manager. */
static void isr_done(void *ctx, const struct zk_result *res)
{
	struct cn_req *q = ctx;
	if (res->rc == ZK_BADVERSION)
		tdm_log(TDM_LOG_INFO, "cluster",
			"%s-%" PRId32 ": ISR change refused: the state changed meanwhile", q->topic,
			q->id);
	else if (res->rc != ZK_OK)
		zk_warn("set", res->path, res->rc);
	if (!zk_gone(res->rc))
		read_state(q->n, q->topic, q->id);
	req_free(q);
}

static void hook_isr_change(void *ctx, const char *topic, int32_t partition,
			    const struct tdm_partition_state *want)
{
	struct tdm_cnode *n = ctx;
	char path[ZKD_PATH_MAX];
	struct zkd_partition_state s = { want->controller_epoch, want->leader, want->leader_epoch,
					 (int32_t *)want->isr, want->nisr };
	size_t len;
	char *data = zkd_partition_state_encode(&s, &len);
	struct cn_req *q = data ? req_new(n, CN_ISR, topic, partition) : NULL;
	if (!q || !zkd_path_partition_state(path, sizeof(path), topic, partition) ||
	    zk_set(n->zk, path, data, len, want->version, isr_done, q) < 0) {
		if (q)
			req_free(q);
		/* nothing written: read back so the manager may try again */
		read_state(n, topic, partition);
	}
	free(data);
}

static void hook_follow(void *ctx, const char *topic, int32_t partition, int32_t leader,
			int32_t leader_epoch)
{
	struct tdm_cnode *n = ctx;
	if (n->fetchers)
		tdm_fetcher_follow(n->fetchers, topic, partition, leader, leader_epoch);
}

/* ---- administration through the controller ---------------------------- */

static struct cn_waiter *waiter_add(struct tdm_cnode *n, enum cn_wait_kind kind,
				    const char *topic, int32_t count, tdm_replica_done_fn done,
				    void *arg)
{
	struct cn_waiter *w = calloc(1, sizeof(*w));
	if (!w || !(w->topic = strdup(topic))) {
		free(w);
		return NULL;
	}
	w->kind = kind;
	w->n = n;
	w->count = count;
	w->done = done;
	w->arg = arg;
	w->deadline_ms = now_ms() + CN_APPLY_TIMEOUT_MS;
	w->next = n->waiters;
	n->waiters = w;
	return w;
}

/* The controller's codes (cluster/ctl.h, minus Kafka's) as core's. */
static int from_ctl(int err)
{
	switch (err) {
	case 0:
		return TDM_TOPIC_OK;
	case CTL_ERR_UNKNOWN_TOPIC:
		return TDM_ERR_NOT_FOUND;
	case CTL_ERR_INVALID_TOPIC:
		return TDM_ERR_INVALID_TOPIC;
	case CTL_ERR_TOPIC_EXISTS:
		return TDM_ERR_EXISTS;
	case CTL_ERR_INVALID_PARTITIONS:
		return TDM_ERR_INVALID;
	case CTL_ERR_INVALID_REPLICATION_FACTOR:
		return TDM_REPL_BAD_FACTOR;
	case CTL_ERR_INVALID_REPLICA_ASSIGNMENT:
		return TDM_REPL_BAD_ASSIGNMENT;
	default:
		return TDM_REPL_NO_CLUSTER;
	}
}

/* The controller wrote (or refused) the change: wait for it to be applied
 * here, or answer the error. */
static void admin_written(void *arg, int err, const char *msg)
{
	struct cn_waiter *w = arg;
	w->zk_done = 1;
	w->rc = from_ctl(err);
	if (err && msg)
		tdm_log(TDM_LOG_INFO, "cluster", "topic %s: %s", w->topic, msg);
	check_waiters(w->n, now_ms());
}

static int admin_start(struct tdm_cnode *n, enum cn_wait_kind kind, const char *topic,
		       int32_t count, const struct tdm_replica_topic_spec *spec,
		       tdm_replica_done_fn done, void *arg)
{
	struct cn_waiter *w = waiter_add(n, kind, topic, count, done, arg);
	if (!w)
		return TDM_ERR_NOMEM;
	int rc;
	switch (kind) {
	case CN_WAIT_CREATE: {
		const char *keys[64], *values[64];
		size_t nkv = spec->nconfigs < 64 ? spec->nconfigs : 64;
		for (size_t i = 0; i < nkv; i++) {
			keys[i] = spec->configs[i].name;
			values[i] = spec->configs[i].value;
		}
		struct ctlr_replicas *as = NULL;
		if (spec->nassignment) {
			as = calloc(spec->nassignment, sizeof(*as));
			if (!as) {
				rc = -1;
				break;
			}
			for (size_t i = 0; i < spec->nassignment; i++) {
				as[i].ids = spec->assignment[i].replicas;
				as[i].n = spec->assignment[i].n;
			}
		}
		rc = ctlr_create_topic(n->ctl, topic, as ? -1 : spec->partitions,
				       as ? -1 : spec->replication_factor, as, spec->nassignment, keys,
				       values, nkv, false, admin_written, w);
		free(as); /* ctlr_create_topic copies what it keeps */
		break;
	}
	case CN_WAIT_DELETE:
		rc = ctlr_delete_topic(n->ctl, topic, admin_written, w);
		break;
	default:
		rc = ctlr_create_partitions(n->ctl, topic, count, NULL, 0, false, admin_written, w);
		break;
	}
	if (rc != 0) {
		n->waiters = w->next;
		free(w->topic);
		free(w);
		return TDM_ERR_NOMEM;
	}
	return 0;
}

static int hook_create_topic(void *ctx, const struct tdm_replica_topic_spec *spec,
			     tdm_replica_done_fn done, void *arg)
{
	return admin_start(ctx, CN_WAIT_CREATE, spec->name, spec->partitions, spec, done, arg);
}

static int hook_delete_topic(void *ctx, const char *name, tdm_replica_done_fn done, void *arg)
{
	return admin_start(ctx, CN_WAIT_DELETE, name, 0, NULL, done, arg);
}

static int hook_add_partitions(void *ctx, const char *name, int32_t count,
			       tdm_replica_done_fn done, void *arg)
{
	return admin_start(ctx, CN_WAIT_GROW, name, count, NULL, done, arg);
}

static void config_written(void *ctx, const struct zk_result *res)
{
	struct cn_waiter *w = ctx;
	w->zk_done = 1;
	w->rc = res->rc == ZK_OK ? TDM_TOPIC_OK
		: res->rc == ZK_NONODE ? TDM_ERR_NOT_FOUND : TDM_REPL_NO_CLUSTER;
	if (res->rc == ZK_OK && res->stat)
		w->count = res->stat->version;
	if (res->rc != ZK_OK && res->rc != ZK_NONODE)
		zk_warn("set", res->path, res->rc);
	check_waiters(w->n, now_ms());
}

/* Kafka's AlterConfigs in ZooKeeper mode: /config/topics/T is written
 * whole; every node watches it and applies it (config_done). */
static int hook_alter_config(void *ctx, const char *name, const struct tdm_kv *configs, size_t n,
			     tdm_replica_done_fn done, void *arg)
{
	struct tdm_cnode *cn = ctx;
	char path[ZKD_PATH_MAX], *keys[64], *values[64];
	size_t nkv = 0, len;

	if (!topic_get(cn, name) || !zkd_path_topic_config(path, sizeof(path), name))
		return TDM_ERR_NOT_FOUND;
	for (size_t i = 0; i < n && nkv < 64; i++)
		if (configs[i].value) {
			keys[nkv] = (char *)configs[i].name;
			values[nkv++] = (char *)configs[i].value;
		}
	struct zkd_config c = { keys, values, nkv };
	char *data = zkd_config_encode(&c, &len);
	struct cn_waiter *w = data ? waiter_add(cn, CN_WAIT_CONFIG, name, INT32_MAX, done, arg) : NULL;
	if (!w || zk_set(cn->zk, path, data, len, -1, config_written, w) < 0) {
		if (w) {
			cn->waiters = w->next;
			free(w->topic);
			free(w);
		}
		free(data);
		return TDM_ERR_NOMEM;
	}
	free(data);
	return 0;
}

static int hook_alter_broker_config(void *ctx, int layer, const struct tdm_kv *configs, size_t n,
				    tdm_replica_done_fn done, void *arg)
{
	return cnb_alter(((struct tdm_cnode *)ctx)->bcfg, layer, configs, n, done, arg);
}

/* ---- brokers and controller ---------------------------------------------- */

static void brokers_reset(struct cn_brokers *b)
{
	for (size_t i = 0; i < b->n; i++) {
		free((char *)b->nodes[i].host);
		free((char *)b->nodes[i].rack);
	}
	free(b->nodes);
	memset(b, 0, sizeof(*b));
}

static void broker_done(void *ctx, const struct zk_result *res)
{
	struct cn_req *q = ctx;
	struct tdm_cnode *n = q->n;
	struct cn_brokers *b = &n->brokers;
	char err[256];

	if (q->gen != b->gen)
		goto out; /* a newer listing is being read */
	b->got++;
	struct zkd_broker zb;
	if (res->rc == ZK_OK && zkd_broker_decode(res->data, res->len, &zb, err, sizeof(err)) == 0) {
		struct tdm_replica_node *nd = &b->nodes[b->n];
		nd->id = q->id;
		nd->host = strdup(zb.host);
		nd->rack = zb.rack[0] ? strdup(zb.rack) : NULL;
		nd->kafka_port = zb.port;
		nd->amqp_port = zb.amqp_port;
		nd->http_port = zb.http_port;
		nd->cluster_port = zb.cluster_port;
		if (nd->host && (nd->rack || !zb.rack[0])) {
			b->n++;
		} else { /* out of memory: left out, as a node with no host was */
			free((char *)nd->host);
			free((char *)nd->rack);
		}
	} else if (res->rc == ZK_OK) {
		tdm_log(TDM_LOG_ERROR, "cluster", "%s: bad registration: %s", res->path, err);
	}
	if (b->got == b->expected) {
		tdm_replica_set_nodes(n->replica, b->nodes, b->n);
		brokers_reset(b);
	}
out:
	req_free(q);
}

static void brokers_done(void *ctx, const struct zk_result *res)
{
	struct cn_req *q = ctx;
	struct tdm_cnode *n = q->n;
	char path[ZKD_PATH_MAX];

	if (res->rc != ZK_OK) {
		zk_warn("get_children", res->path, res->rc);
		goto out;
	}
	brokers_reset(&n->brokers);
	n->brokers.gen = ++n->brokers_gen;
	n->brokers.expected = res->nchildren;
	n->brokers.nodes = calloc(res->nchildren ? res->nchildren : 1, sizeof(struct tdm_replica_node));
	if (!n->brokers.nodes)
		goto out;
	if (res->nchildren == 0)
		tdm_replica_set_nodes(n->replica, NULL, 0);
	for (size_t i = 0; i < res->nchildren; i++) {
		int32_t id;
		struct cn_req *b;
		if (zkd_parse_id(res->children[i], &id) < 0 ||
		    !(b = req_new(n, CN_BROKER, NULL, id))) {
			n->brokers.expected--;
			continue;
		}
		b->gen = n->brokers.gen;
		if (!zkd_path_broker(path, sizeof(path), id) ||
		    zk_get(n->zk, path, NULL, NULL, broker_done, b) < 0) {
			req_free(b);
			n->brokers.expected--;
		}
	}
out:
	req_free(q);
}

static void read_brokers(struct tdm_cnode *n)
{
	struct cn_req *q = req_new(n, CN_BROKERS, NULL, 0);
	if (q && zk_get_children(n->zk, ZKD_BROKERS_IDS, watch_fired, n, brokers_done, q) < 0)
		req_free(q);
}

static void on_controller(void *ctx, int32_t controller_id, int32_t epoch)
{
	struct tdm_cnode *n = ctx;
	(void)epoch;
	tdm_replica_set_controller(n->replica, controller_id);
}

/* ---- what a watch says ----------------------------------------------- */

/* /brokers/topics/T[/partitions/P/state]: the topic and partition (-1
 * for the assignment itself); 0, or -1 for another path. */
static int parse_topic_path(const char *path, char *topic, size_t len, int32_t *p)
{
	const char *s = path + strlen(ZKD_BROKERS_TOPICS "/");
	const char *slash = strchr(s, '/');
	size_t tl = slash ? (size_t)(slash - s) : strlen(s);
	if (strncmp(path, ZKD_BROKERS_TOPICS "/", strlen(ZKD_BROKERS_TOPICS "/")) != 0 ||
	    tl == 0 || tl >= len)
		return -1;
	memcpy(topic, s, tl);
	topic[tl] = '\0';
	*p = -1;
	if (!slash)
		return 0;
	char num[16];
	if (sscanf(slash, "/partitions/%15[0-9]/state", num) != 1 || zkd_parse_id(num, p) < 0)
		return -1;
	return 0;
}

static void watch_fired(void *ctx, int event, const char *path)
{
	struct tdm_cnode *n = ctx;
	char topic[ZKD_PATH_MAX];
	int32_t p;

	char mine[ZKD_PATH_MAX];
	if (cnb_watch_fired(n->bcfg, path))
		return;
	if (strcmp(path, ZKD_BROKERS_IDS) == 0)
		read_brokers(n);
	else if (zkd_path_broker(mine, sizeof(mine), n->id) && strcmp(path, mine) == 0) {
		if (event == ZK_EV_DELETED && !n->registered)
			register_self(n); /* the stale registration we waited on went */
	}
	else if (strcmp(path, ZKD_BROKERS_TOPICS) == 0)
		read_topics(n);
	else if (!strncmp(path, ZKD_CONFIG_TOPICS "/", sizeof(ZKD_CONFIG_TOPICS)) &&
		 topic_get(n, path + sizeof(ZKD_CONFIG_TOPICS)))
		read_config(n, path + sizeof(ZKD_CONFIG_TOPICS), CN_CONFIG_AGAIN);
	else if (parse_topic_path(path, topic, sizeof(topic), &p) == 0 && topic_get(n, topic)) {
		/* deleted too: the topic may have been made again before the
		 * list of topics was read (a node that did not look for a
		 * while), which the assignment's topic id tells */
		if (p < 0) {
			read_assignment(n, topic);
		} else {
			/* a state gone: its topic may be gone and made again
			 * (a node that was paused sees it all at once); the
			 * assignment is read first, and ZooKeeper answers in
			 * order, so a new topic's log replaces an earlier
			 * topic's before its state makes this node lead or
			 * follow with that log */
			if (event == ZK_EV_DELETED)
				read_assignment(n, topic);
			read_state(n, topic, p);
		}
	}
}

/* ---- joining -------------------------------------------------------- */

/* The stale registration went between our create and the watch: now. */
static void register_exists_done(void *ctx, const struct zk_result *res)
{
	struct cn_req *q = ctx;
	if (res->rc == ZK_NONODE && !q->n->registered)
		register_self(q->n);
	req_free(q);
}

static void register_done(void *ctx, const struct zk_result *res)
{
	struct cn_req *q = ctx;
	struct tdm_cnode *n = q->n;

	if (res->rc == ZK_OK) {
		n->registered = 1;
		tdm_log(TDM_LOG_INFO, "cluster", "registered as node %" PRId32 " (%s)", n->id,
			res->path);
	} else if (res->rc == ZK_NODEEXISTS) {
		/* a previous run's session not expired yet (kill -9 and a quick
		 * restart), or another node with our id: wait for it to go */
		tdm_log(TDM_LOG_WARNING, "cluster",
			"node id %" PRId32 " is registered by another ZooKeeper session (a previous"
			" run not yet expired, or another node with this id): waiting for it to go",
			n->id);
		struct cn_req *e = req_new(n, CN_REGISTER, NULL, n->id);
		if (e && zk_exists(n->zk, res->path, watch_fired, n, register_exists_done, e) < 0)
			req_free(e);
	} else {
		zk_warn("create", res->path, res->rc);
	}
	req_free(q);
}

static void register_self(struct tdm_cnode *n)
{
	char path[ZKD_PATH_MAX];
	struct zkd_broker b = { .port = n->ports.kafka, .amqp_port = n->ports.amqp,
				.http_port = n->ports.http, .cluster_port = n->ports.cluster,
				.timestamp = wall_ms() };
	snprintf(b.host, sizeof(b.host), "%s", n->host);
	snprintf(b.rack, sizeof(b.rack), "%s", n->cfg->broker_rack ? n->cfg->broker_rack : "");
	size_t len;
	char *data = zkd_broker_encode(&b, &len);
	struct cn_req *q = data ? req_new(n, CN_REGISTER, NULL, n->id) : NULL;
	if (!q || !zkd_path_broker(path, sizeof(path), n->id) ||
	    zk_create(n->zk, path, data, len, ZK_EPHEMERAL, register_done, q) < 0)
		if (q)
			req_free(q);
	free(data);
}

static void paths_done(void *ctx, const struct zk_result *res)
{
	struct cn_req *q = ctx;
	if (res->rc != ZK_OK)
		zk_warn("create", res->path, res->rc);
	req_free(q);
}

/* Everything a (new) session starts with: the parents, the registration,
 * the watches, the controller election. */
static void join(struct tdm_cnode *n)
{
	for (size_t i = 0; zkd_persistent_paths[i]; i++) {
		struct cn_req *q = req_new(n, CN_PATHS, NULL, 0);
		if (q && zk_ensure_path(n->zk, zkd_persistent_paths[i], paths_done, q) < 0)
			req_free(q);
	}
	register_self(n);
	read_brokers(n);
	read_topics(n);
	cnb_join(n->bcfg);
}

/* Forgets what this node knew of the cluster's topics (their local logs
 * stay): a new session reads them all again. */
static void forget_topics(struct tdm_cnode *n)
{
	size_t pos = 0, klen;
	const char *key;
	void *v;
	while (tdm_map_next(&n->tmap, &pos, &key, &klen, &v)) {
		tdm_map_del(&n->tmap, key, klen);
		topic_free(v);
	}
}

static void on_session(void *ctx, enum zk_session_event ev)
{
	struct tdm_cnode *n = ctx;
	char err[256];

	switch (ev) {
	case ZK_SESSION_CONNECTED:
		ctlr_session_event(n->ctl, ev);
		if (n->expired) {
			n->expired = 0;
			tdm_log(TDM_LOG_INFO, "cluster", "new ZooKeeper session: joining again");
			join(n);
		}
		break;
	case ZK_SESSION_DISCONNECTED:
		ctlr_session_event(n->ctl, ev);
		tdm_log(TDM_LOG_WARNING, "cluster", "lost the connection to ZooKeeper at %s;"
			" reconnecting", zk_hosts(n->zk));
		break;
	case ZK_SESSION_EXPIRED:
		/* fenced: the controller has moved or will move our leaderships */
		tdm_log(TDM_LOG_WARNING, "cluster",
			"ZooKeeper session expired: no longer leading any partition; joining again");
		n->registered = 0;
		n->expired = 1;
		tdm_replica_resign_all(n->replica);
		forget_topics(n); /* read again whole by the new session */
		ctlr_session_event(n->ctl, ev);
		if (zk_open(n->zk, err, sizeof(err)) < 0)
			tdm_log(TDM_LOG_ERROR, "cluster", "reopening the ZooKeeper session: %s", err);
		break;
	}
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct tdm_cnode *n = arg;
	int64_t now = now_ms();
	tdm_replica_tick(n->replica, now);
	ctlr_tick(n->ctl, now);
	check_waiters(n, now);
}

struct tdm_replica *tdm_cnode_replica(struct tdm_cnode *n)
{
	return n ? n->replica : NULL;
}

/* A node's Kafka address, for the fetchers: 0, or -1 when it is not
 * registered (dead, or not yet read). */
/* Node id -> its host and Kafka port (cluster 0) or cluster port (1). */
static int resolve_port(struct tdm_cnode *n, int32_t id, char *host, size_t len, int *port,
			int cluster)
{
	const struct tdm_replica_node *nodes;
	size_t cnt = tdm_replica_nodes(n->replica, &nodes);
	for (size_t i = 0; i < cnt; i++) {
		int p = cluster ? nodes[i].cluster_port : nodes[i].kafka_port;
		if (nodes[i].id == id && p > 0) {
			snprintf(host, len, "%s", nodes[i].host);
			*port = p;
			return 0;
		}
	}
	return -1;
}

static int node_resolve(void *ctx, int32_t id, char *host, size_t len, int *port)
{
	return resolve_port(ctx, id, host, len, port, 0);
}

static int link_resolve(void *ctx, int32_t id, char *host, size_t len, int *port)
{
	return resolve_port(ctx, id, host, len, port, 1);
}

static int hook_forward(void *ctx, int32_t leader, const char *topic, int32_t partition,
			const struct tdm_record *rec, tdm_replica_done_fn done, void *arg)
{
	struct tdm_cnode *n = ctx;
	if (!n->link)
		return TDM_REPL_NO_CLUSTER; /* no cluster_port here: no link either */
	return tdm_link_produce(n->link, leader, topic, partition, rec, done, arg) < 0
		       ? TDM_ERR_NOMEM
		       : 0;
}

static int hook_write_marker(void *ctx, int32_t leader, const char *topic, int32_t partition,
			     const struct tdm_txn_marker *m, tdm_replica_done_fn done, void *arg)
{
	struct tdm_cnode *n = ctx;
	if (!n->link)
		return TDM_REPL_NO_CLUSTER;
	return tdm_link_write_marker(n->link, leader, topic, partition, m, done, arg) < 0
		       ? TDM_ERR_NOMEM
		       : 0;
}

static void hook_link_stats(void *ctx, struct tdm_replica_stats *out)
{
	struct tdm_cnode *n = ctx;
	struct tdm_link_stats ls;
	tdm_link_get_stats(n->link, &ls);
	out->link_sent = ls.sent;
	out->link_records = ls.records;
	out->link_failed = ls.failed;
	out->link_losses = ls.losses;
	out->link_peers = ls.connected;
}

/* The cluster link's client, when this node has a cluster port (and so
 * the secret): 0, or -1 with err. */
static int open_link(struct tdm_cnode *n, const struct tdm_config *cfg, char *err,
		     size_t errlen)
{
	char secret[TDM_CLUSTER_SECRET_MAX + 1];
	if (!cfg->cluster_port)
		return 0;
	int len = tdm_config_cluster_secret(cfg, secret, sizeof(secret), err, errlen);
	if (len < 0)
		return -1;
	n->link = tdm_link_new(n->base, n->id, secret, (size_t)len, link_resolve, n);
	/* the fetchers replicate over the leaders' cluster ports too */
	int fetch_rc = tdm_fetcher_use_link(n->fetchers, secret, (size_t)len, link_resolve);
	explicit_bzero(secret, sizeof(secret));
	if (!n->link || fetch_rc < 0) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

struct tdm_cnode *tdm_cnode_start(struct event_base *base, const struct tdm_config *cfg,
				  struct tdm_topics *topics, const struct tdm_cnode_ports *ports,
				  char *err, size_t errlen)
{
	struct tdm_cnode *n = calloc(1, sizeof(*n));
	struct timeval tv = { 0, CN_TICK_MS * 1000 };
	if (!n) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	static const struct tdm_replica_hooks hooks = {
		.isr_change = hook_isr_change,
		.follow = hook_follow,
		.create_topic = hook_create_topic,
		.delete_topic = hook_delete_topic,
		.add_partitions = hook_add_partitions,
		.alter_config = hook_alter_config,
		.alter_broker_config = hook_alter_broker_config,
		.forward = hook_forward,
		.write_marker = hook_write_marker,
		.link_stats = hook_link_stats,
	};
	n->base = base;
	n->cfg = cfg;
	n->topics = topics;
	n->ports = *ports;
	n->id = (int32_t)cfg->node_id;
	snprintf(n->host, sizeof(n->host), "%s",
		 cfg->advertised_host && cfg->advertised_host[0] ? cfg->advertised_host
								 : cfg->bind_address);
	n->reqs.next = n->reqs.prev = &n->reqs;
	tdm_map_init(&n->tmap);
	n->replica = tdm_replica_new(topics, n->id, &hooks, n, cfg->replica_lag_time_max_ms,
				     cfg->min_insync_replicas);
	n->zk = zk_new(base, cfg->zookeeper_connect, cfg->zookeeper_session_timeout_ms, on_session,
		       n, err, errlen);
	if (!n->replica || !n->zk || !(n->bcfg = cnb_new(n->zk, topics, n->id)))
		goto fail;
	n->fetchers = tdm_fetcher_new(base, topics, n->replica, n->id, node_resolve, n);
	if (open_link(n, cfg, err, errlen) < 0)
		goto fail;
	struct ctlr_config cc = { .node_id = n->id,
				  .unclean_default = cfg->unclean_leader_election != 0,
				  .default_rf = (int32_t)cfg->default_replication_factor,
				  .default_partitions = (int32_t)cfg->num_partitions,
				  .rebalance_interval_ms =
					  cfg->auto_leader_rebalance_enable
						  ? (int64_t)cfg->leader_imbalance_check_interval_seconds *
							    1000
						  : 0 };
	static const struct ctlr_hooks ch = { .on_change = on_controller };
	n->ctl = ctlr_new(n->zk, &cc, &ch, n);
	n->tick = event_new(base, -1, EV_PERSIST, tick_cb, n);
	if (!n->fetchers || !n->ctl || !n->tick) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (zk_start(n->zk, cfg->zookeeper_connection_timeout_ms, err, errlen) < 0)
		goto fail;
	join(n);
	event_add(n->tick, &tv);
	tdm_log(TDM_LOG_INFO, "cluster", "node %" PRId32 " joining the cluster at %s", n->id,
		cfg->zookeeper_connect);
	return n;
fail:
	tdm_cnode_free(n);
	return NULL;
}

void tdm_cnode_free(struct tdm_cnode *n)
{
	if (!n)
		return;
	if (n->tick)
		event_free(n->tick);
	tdm_fetcher_free(n->fetchers);
	tdm_link_free(n->link); /* its waiters are told before the replica goes */
	zk_free(n->zk); /* its callbacks are dropped: the requests below are freed here */
	cnb_free(n->bcfg);
	ctlr_free(n->ctl); /* after its session (controller.h) */
	while (n->reqs.next != &n->reqs)
		req_free(n->reqs.next);
	while (n->waiters) {
		struct cn_waiter *w = n->waiters;
		n->waiters = w->next;
		w->done(w->arg, TDM_REPL_NO_CLUSTER, tdm_replica_strerror(TDM_REPL_NO_CLUSTER));
		free(w->topic);
		free(w);
	}
	brokers_reset(&n->brokers);
	size_t pos = 0;
	void *v;
	while (tdm_map_next(&n->tmap, &pos, NULL, NULL, &v))
		topic_free(v);
	tdm_map_free(&n->tmap);
	tdm_replica_free(n->replica);
	free(n);
}
