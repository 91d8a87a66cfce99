/*
 * Topics over HTTP: GET /api/topics[/name] (partitions with log start and
 * end offsets, segments, bytes, retention settings), and the
 * administrator's PUT (create, or grow as Kafka's CreatePartitions) and
 * DELETE (the same core call as Kafka's DeleteTopics), through
 * core/topics.h and core/topic_ops.h.  Records: api_records.c; groups: api_groups.c.
 * Listing and describing a topic take access to its vhost (as RabbitMQ
 * lists queues); reading its records takes read, creating, growing and
 * deleting it configure, on its name in its vhost: the permissions the
 * Kafka listener checks (src/kafka/authz.c).
 *
 * Must not depend on: other front ends (src/amqp, src/kafka).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "core/auth.h"
#include "core/config.h"
#include "core/log.h"
#include "core/replica.h"
#include "core/stream.h"
#include "core/topic_ops.h"
#include "core/topics.h"
#include "http/hx.h"

static const char *const shown_configs[] = {
	"retention.ms", "retention.bytes", "segment.bytes", "segment.ms", "cleanup.policy",
	"flush.ms", "max.message.bytes",
};

static void write_topic(struct js_w *w, struct ls_topic *t)
{
	int32_t np = tdm_topic_partitions(t);
	uint64_t messages = 0, bytes = 0;
	js_obj(w);
	js_kstr(w, "name", tdm_topic_name(t));
	js_kint(w, "partitions", np);
	js_kbool(w, "internal", tdm_topic_is_internal(t));
	js_key(w, "config");
	js_obj(w);
	for (size_t i = 0; i < sizeof(shown_configs) / sizeof(shown_configs[0]); i++) {
		char v[64];
		if (tdm_topic_config_value(t, shown_configs[i], v, sizeof(v), NULL) == TDM_TOPIC_OK)
			js_kstr(w, shown_configs[i], v);
	}
	js_obj_end(w);
	js_key(w, "partition_details");
	js_arr(w);
	for (int32_t i = 0; i < np; i++) {
		struct ls_partition *p = tdm_topic_partition(t, i);
		if (!p)
			continue;
		uint64_t start = tdm_partition_log_start(p), end = tdm_partition_log_end(p), b = tdm_partition_bytes(p);
		messages += end - start;
		bytes += b;
		js_obj(w);
		js_kint(w, "partition", i);
		js_kuint(w, "log_start_offset", start);
		js_kuint(w, "log_end_offset", end);
		js_kuint(w, "flushed_offset", tdm_partition_flushed(p));
		js_kuint(w, "segments", tdm_partition_segments(p));
		js_kuint(w, "bytes", b);
		js_obj_end(w);
	}
	js_arr_end(w);
	js_kuint(w, "messages", messages);
	js_kuint(w, "bytes", bytes);
	js_obj_end(w);
}

struct list_ctx {
	struct hx_req *r;
	struct js_w *w;
};

static void topic_cb(struct ls_topic *t, void *ctx)
{
	struct list_ctx *lc = ctx;
	if (!tdm_topic_is_internal(t) && hx_topic_visible(lc->r, tdm_topic_name(t)))
		write_topic(lc->w, t);
}

/* ---- PUT and DELETE ------------------------------------------------------- */

#define MAX_CONFIGS 64

struct topic_req {
	int32_t partitions;           /* -1: not given */
	int32_t replication_factor;   /* -1: not given (default_replication_factor) */
	struct tdm_kv kv[MAX_CONFIGS];
	char *owned[MAX_CONFIGS * 2];
	size_t nkv;
};

static void topic_req_free(struct topic_req *q)
{
	for (size_t i = 0; i < q->nkv * 2; i++)
		free(q->owned[i]);
}

/* A config value: a JSON string, or a number or boolean as written. */
static char *config_value(const struct js_doc *d, int v)
{
	int ty = js_type_of(d, v);
	if (ty == JS_STR)
		return js_strdup(d, v, NULL);
	if (ty == JS_NUM || ty == JS_TRUE || ty == JS_FALSE)
		return strndup(d->src + d->n[v].off, d->n[v].len);
	return NULL;
}

/* Reads {"partitions": N, "replication_factor": R, "config": {...}}; 0, or
 * -1 after a 400 reply.  A replication factor other than 1 needs a
 * cluster (Kafka's INVALID_REPLICATION_FACTOR). */
static int parse_topic_req(struct hx_req *r, struct topic_req *q)
{
	const struct js_doc *d = &r->body;
	int pn = js_get(d, 0, "partitions"), cf = js_get(d, 0, "config");
	int rf = js_get(d, 0, "replication_factor");
	int64_t n;

	q->partitions = -1;
	q->replication_factor = -1;
	if (rf >= 0 && (js_int64(d, rf, &n) < 0 || n < 1 || n > 1000 || (n != 1 && !r->h->replica))) {
		hx_error(r, 400, "invalid_replication_factor",
			 r->h->replica ? "Replication factor must be an integer from 1 to 1000."
				       : "Replication factor must be 1 on a single node (no zookeeper_connect).");
		return -1;
	}
	if (rf >= 0)
		q->replication_factor = (int32_t)n;
	if (pn >= 0 && (js_int64(d, pn, &n) < 0 || n < 1 || n > 1000000)) {
		hx_error(r, 400, "invalid_partitions",
			 "Number of partitions must be an integer from 1 to 1000000.");
		return -1;
	}
	if (pn >= 0)
		q->partitions = (int32_t)n;
	if (cf >= 0 && js_type_of(d, cf) != JS_OBJ) {
		hx_error(r, 400, "invalid_config", "config must be an object of name: value");
		return -1;
	}
	for (int k = cf >= 0 ? js_child(d, cf) : -1, v; k >= 0; k = js_next(d, cf, v)) {
		v = js_next(d, cf, k);
		if (q->nkv == MAX_CONFIGS) {
			hx_error(r, 400, "invalid_config", "too many configs");
			return -1;
		}
		size_t nlen = 0;
		char *name = js_strdup(d, k, &nlen), *val = config_value(d, v);
		if (name && strlen(name) != nlen)
			name[0] = '\0'; /* a NUL inside: no config has that name */
		q->owned[q->nkv * 2] = name;
		q->owned[q->nkv * 2 + 1] = val;
		q->kv[q->nkv].name = name;
		q->kv[q->nkv].value = val;
		q->nkv++;
		if (!name || !val) {
			hx_error(r, 400, "invalid_config", "config values must be strings or numbers");
			return -1;
		}
	}
	return 0;
}

/* Kafka's reasons for an illegal topic name (Topic.validate). */
static int check_name(struct hx_req *r, const char *name, size_t len)
{
	char reason[512];

	if (len == 0 || strlen(name) != len)
		snprintf(reason, sizeof(reason), "Topic name is illegal, it can't be empty");
	else if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		snprintf(reason, sizeof(reason), "Topic name cannot be \".\" or \"..\"");
	else if (len > 240)
		snprintf(reason, sizeof(reason),
			 "Topic name is illegal, it can't be longer than 240 characters, topic name: %.60s...",
			 name);
	else if (strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != len)
		snprintf(reason, sizeof(reason),
			 "Topic name \"%.240s\" is illegal, it contains a character other than ASCII "
			 "alphanumerics, '.', '_' and '-'", name);
	else
		return 0;
	hx_error(r, 400, "invalid_topic", reason);
	return -1;
}

/* ---- topics and partitions made as background jobs --------------------------- */

/* A PUT waiting for its topic's folders (in a cluster: for the controller
 * to make it and this node to apply it), or a DELETE in a cluster waiting
 * for the controller: the reply goes when it is done. */
struct topic_made {
	struct hx_later *later;      /* owned */
	struct tdm_topics_job *job;  /* while the job is out */
	struct tdm_replica_op *op;   /* in a cluster, while the controller works */
	int grow;                    /* partitions added (204), else a new topic (201) */
	int deleting;                /* a DELETE (204) */
};

/* The replica manager's refusals (core/replica.h), as Kafka's admin
 * client words them; 1 when rc was one of them (answered). */
static int repl_error(struct hx_req *r, int rc, const char *err)
{
	const char *why = err && err[0] ? err : tdm_replica_strerror(rc);
	if (rc == TDM_REPL_BAD_FACTOR)
		hx_error(r, 400, "invalid_replication_factor", why);
	else if (rc == TDM_REPL_BAD_ASSIGNMENT)
		hx_error(r, 400, "invalid_replica_assignment", why);
	else if (rc == TDM_REPL_NO_CLUSTER || rc == TDM_REPL_NO_LEADER)
		hx_error(r, 503, "unavailable", why);
	else if (rc == TDM_REPL_TIMED_OUT)
		hx_error(r, 503, "timeout", why);
	else
		return 0;
	return 1;
}

/* The answer to a PUT that made a topic (grow: added partitions). */
static void reply_made(struct hx_req *r, int rc, const char *err, int grow)
{
	if (repl_error(r, rc, err))
		return;
	if (rc == TDM_TOPIC_OK)
		hx_no_content(r, grow ? 204 : 201);
	else if (rc == TDM_ERR_INVALID_CONFIG)
		hx_error(r, 400, "invalid_config", err[0] ? err : tdm_strerror(rc));
	else if (rc == TDM_ERR_INVALID_TOPIC)
		hx_error(r, 400, "invalid_topic", err[0] ? err : tdm_strerror(rc));
	else if (rc == TDM_ERR_INVALID || rc == TDM_ERR_BUSY)
		hx_error(r, 400, "invalid_partitions", err[0] ? err : tdm_strerror(rc));
	else if (rc == TDM_TOPICS_ERR_LIMIT)
		hx_error(r, 400, "policy_violation", err);
	else if (rc == TDM_ERR_EXISTS) /* in a cluster: made meanwhile through another node */
		hx_error(r, 400, "topic_exists", err[0] ? err : tdm_strerror(rc));
	else
		hx_topic_error(r, rc);
}

/* The answer to a DELETE. */
static void reply_deleted(struct hx_req *r, int rc, const char *err)
{
	if (repl_error(r, rc, err))
		return;
	if (rc == TDM_TOPIC_OK)
		hx_no_content(r, 204);
	else if (rc == TDM_ERR_NOT_FOUND)
		hx_not_found(r);
	else
		hx_topic_error(r, rc);
}

static void made_cb(void *ctx, int rc, const char *err)
{
	struct topic_made *m = ctx;
	struct hx_req r;

	hx_later_req(m->later, &r);
	if (m->deleting)
		reply_deleted(&r, rc, err);
	else
		reply_made(&r, rc, err, m->grow);
	hx_later_done(m->later);
	free(m);
}

/* The client went away first: no reply. */
static void made_forget(void *arg)
{
	struct topic_made *m = arg;

	tdm_topics_job_forget(m->job);
	tdm_replica_op_forget(m->op);
	free(m);
}

/* Makes the topic (t NULL) or grows t to parts, replying when done. */
static void make_later(struct hx_req *r, struct ls_topic *t, const char *name, int32_t parts,
		       const struct topic_req *q)
{
	struct topic_made *m = calloc(1, sizeof(*m));
	char err[256] = "";
	int rc;

	if (!m || !(m->later = hx_later_new(r, made_forget, m))) {
		free(m);
		hx_error(r, 500, "internal_error", "out of memory");
		return;
	}
	m->grow = t != NULL;
	if (r->h->replica && t) {
		rc = tdm_replica_add_partitions(r->h->replica, tdm_topic_name(t), parts, made_cb, m,
						&m->op, err, sizeof(err));
	} else if (r->h->replica) {
		struct tdm_replica_topic_spec spec = { name, parts, q->replication_factor, q->kv, q->nkv,
						       NULL, 0 };
		rc = tdm_replica_create_topic(r->h->replica, &spec, made_cb, m, &m->op, err,
					      sizeof(err));
	} else if (t)
		rc = tdm_topics_add_partitions_bg(r->h->topics, t, parts, made_cb, m, &m->job, err,
						  sizeof(err));
	else
		rc = tdm_topics_create_bg(r->h->topics, name, parts, q->kv, q->nkv, made_cb, m,
					  &m->job, err, sizeof(err));
	if (rc == TDM_TOPIC_OK)
		return; /* made_cb replies */
	hx_later_done(m->later);
	free(m);
	reply_made(r, rc, err, t != NULL);
}

/* A compatible PUT on an existing topic: the same configs (as the topic
 * has them now) and no fewer partitions; more partitions grow it. */
static void put_existing(struct hx_req *r, struct ls_topic *t, const struct topic_req *q)
{
	int32_t have = tdm_topic_partitions(t);
	char reason[768];

	for (size_t i = 0; i < q->nkv; i++) {
		char want[128], cur[128];
		if (tdm_topic_config_try(t, q->kv[i].name, q->kv[i].value, want, sizeof(want)) !=
		    TDM_TOPIC_OK) {
			snprintf(reason, sizeof(reason), "Invalid value %.100s for configuration %.100s",
				 q->kv[i].value, q->kv[i].name);
			hx_error(r, 400, "invalid_config", reason);
			return;
		}
		tdm_topic_config_value(t, q->kv[i].name, cur, sizeof(cur), NULL);
		if (strcmp(want, cur) != 0) {
			snprintf(reason, sizeof(reason),
				 "inequivalent config '%.100s' for topic '%.240s': received '%.100s' but current is '%.100s'",
				 q->kv[i].name, tdm_topic_name(t), want, cur);
			hx_error(r, 400, "inequivalent_config", reason);
			return;
		}
	}
	if (q->partitions >= 0 && q->partitions < have) {
		snprintf(reason, sizeof(reason),
			 "Topic currently has %d partitions, which is higher than the requested %d.",
			 (int)have, (int)q->partitions);
		hx_error(r, 400, "invalid_partitions", reason);
		return;
	}
	if (q->partitions > have) {
		make_later(r, t, NULL, q->partitions, q);
		return;
	}
	hx_no_content(r, 204);
}

static void put_topic(struct hx_req *r, const char *name, size_t len)
{
	struct topic_req q;

	memset(&q, 0, sizeof(q));
	if (hx_body(r) < 0 || parse_topic_req(r, &q) < 0 || check_name(r, name, len) < 0)
		goto out;
	struct ls_topic *t = tdm_topic_find(r->h->topics, name);
	char vh[TDM_TOPIC_NAME_MAX];
	if ((t && tdm_topic_is_internal(t)) || tdm_topic_vhost(name, len, vh, sizeof(vh)) < 0) {
		/* internal, or a "__" name of no vhost (e.g. another queue's digest) */
		hx_error(r, 400, "invalid_topic", "Topic name is reserved for internal use");
		goto out;
	}
	if (!hx_topic_permitted(r, name, TDM_PERM_CONFIGURE))
		goto out;
	if (t) {
		put_existing(r, t, &q);
		goto out;
	}
	int32_t parts = q.partitions > 0 ? q.partitions : (int32_t)r->h->cfg->num_partitions;
	make_later(r, NULL, name, parts, &q);
out:
	topic_req_free(&q);
}

static void delete_topic(struct hx_req *r, const char *name, size_t len)
{
	struct ls_topic *t = strlen(name) == len ? tdm_topic_find(r->h->topics, name) : NULL;
	struct topic_made *m;
	char err[256] = "";
	int rc;

	if (!t || tdm_topic_is_internal(t) || !hx_topic_visible(r, name)) {
		hx_not_found(r);
		return;
	}
	if (!hx_topic_permitted(r, name, TDM_PERM_CONFIGURE))
		return;
	if (!r->h->replica) {
		reply_deleted(r, tdm_topics_admin_delete(r->h->topics, name), "");
		return;
	}
	/* in a cluster the controller deletes it everywhere (Kafka's
	 * DeleteTopics); the reply waits for it */
	if (!(m = calloc(1, sizeof(*m))) || !(m->later = hx_later_new(r, made_forget, m))) {
		free(m);
		hx_error(r, 500, "internal_error", "out of memory");
		return;
	}
	m->deleting = 1;
	rc = tdm_replica_delete_topic(r->h->replica, name, made_cb, m, &m->op, err, sizeof(err));
	if (rc == TDM_TOPIC_OK)
		return; /* made_cb replies */
	hx_later_done(m->later);
	free(m);
	reply_deleted(r, rc, err);
}

/* ---- permissions ------------------------------------------------------------ */

static const char *const perm_names[] = { "configure", "write", "read" };

/* RabbitMQ 3.10's management answers (test_permissions checks them
 * against RabbitMQ): a refused read, as a queue's GET of messages, is 401
 * "ACCESS_REFUSED - access to ..."; a refused configure, as a queue's PUT
 * or DELETE, 401 "Access refused."; a refused write, as a publish, 400
 * "403 ACCESS_REFUSED - access to ...". */
static void refused(struct hx_req *r, enum tdm_perm style, const char *kind, const char *name,
		    size_t len, const char *vhost, size_t vlen)
{
	char reason[900];
	if (style == TDM_PERM_CONFIGURE) {
		hx_error(r, 401, "not_authorised", "Access refused.");
		return;
	}
	snprintf(reason, sizeof(reason),
		 "%sACCESS_REFUSED - access to %s '%.*s' in vhost '%.*s' refused for user '%.200s'",
		 style == TDM_PERM_WRITE ? "403 " : "", kind, (int)(len > 300 ? 300 : len), name,
		 (int)(vlen > 300 ? 300 : vlen), vhost, r->user);
	if (style == TDM_PERM_WRITE)
		hx_error(r, 400, "bad_request", reason);
	else
		hx_error(r, 401, "not_authorised", reason);
}

int hx_topic_permitted(struct hx_req *r, const char *name, enum tdm_perm p)
{
	char vh[TDM_TOPIC_NAME_MAX], local[TDM_TOPIC_NAME_MAX + 1];
	size_t len = strlen(name);
	int vn = tdm_topic_vhost(name, len, vh, sizeof(vh));
	int ln = vn < 0 ? -1 : tdm_topic_local_name(name, len, local, sizeof(local));

	if (vn < 0) {
		if (hx_is_admin(r))
			return 1;
		refused(r, p, "topic", name, len, "", 0);
		return 0;
	}
	vh[vn < (int)sizeof(vh) ? vn : (int)sizeof(vh) - 1] = '\0';
	if (ln >= 0 && tdm_auth_permitted(r->h->broker->auth, r->user, vh, p, local, (size_t)ln))
		return 1;
	tdm_debug("http", "user %s: %s on topic %s refused", r->user, perm_names[p], name);
	refused(r, p, "topic", ln >= 0 ? local : name, ln >= 0 ? (size_t)ln : len, vh, (size_t)vn);
	return 0;
}

const char *hx_group_vhost(const struct hx_req *r, const char *id, char *vh, size_t cap)
{
	const char *kv = r->h->cfg && r->h->cfg->kafka_vhost ? r->h->cfg->kafka_vhost : "/";
	int vn = -1;

	/* a group of Kafka clients acting in vhost V: "__" + esc(V) + "." + id */
	if (id[0] == '_' && id[1] == '_')
		vn = tdm_topic_vhost(id, strlen(id), vh, cap - 1);
	if (vn >= 0 && !((size_t)vn == strlen(kv) && memcmp(vh, kv, (size_t)vn) == 0)) {
		vh[vn] = '\0';
		return strchr(id + 2, '.') + 1;
	}
	snprintf(vh, cap, "%s", kv);
	return id;
}

int hx_group_permitted(struct hx_req *r, const char *id, enum tdm_perm style)
{
	char vh[TDM_TOPIC_NAME_MAX + 1];
	const char *res = hx_group_vhost(r, id, vh, sizeof(vh));

	if (tdm_auth_permitted(r->h->broker->auth, r->user, vh, TDM_PERM_READ, res, strlen(res)))
		return 1;
	refused(r, style, "group", res, strlen(res), vh, strlen(vh));
	return 0;
}

/* ---- routing ---------------------------------------------------------------- */

/* The topic named by segment i: NULL (a 404) when unknown, internal or of
 * a vhost the user may not see. */
static struct ls_topic *find_topic(struct hx_req *r, int i)
{
	struct ls_topic *t = strlen(r->seg[i].s) == r->seg[i].len
		? tdm_topic_find(r->h->topics, r->seg[i].s) : NULL;
	return t && !tdm_topic_is_internal(t) && hx_topic_visible(r, r->seg[i].s) ? t : NULL;
}

static void get_topics(struct hx_req *r)
{
	struct js_w w;
	js_w_init(&w);
	if (r->nseg == 1) {
		struct list_ctx lc = { r, &w };
		js_arr(&w);
		tdm_topics_foreach(r->h->topics, topic_cb, &lc);
		js_arr_end(&w);
	} else {
		struct ls_topic *t = find_topic(r, 1);
		if (!t) {
			hx_not_found(r);
			goto out;
		}
		write_topic(&w, t);
	}
	hx_reply_json(r, 200, &w);
out:
	js_w_free(&w);
}

/* ---- routes (server.c's table) ---------------------------------------------- */

void hx_topic_list(struct hx_req *r)
{
	get_topics(r);
}

void hx_topic_get(struct hx_req *r)
{
	get_topics(r);
}

/* PUT and DELETE /api/topics/name (administrators). */
void hx_topic_change(struct hx_req *r)
{
	if (!r->h->topics)
		hx_error(r, 503, "unavailable", "the log store is not open");
	else if (r->method == EVHTTP_REQ_PUT)
		put_topic(r, r->seg[1].s, r->seg[1].len);
	else
		delete_topic(r, r->seg[1].s, r->seg[1].len);
}

void hx_topic_partition_messages(struct hx_req *r)
{
	struct ls_topic *t = find_topic(r, 1);
	if (!t)
		hx_not_found(r);
	else if (hx_topic_permitted(r, r->seg[1].s, TDM_PERM_READ))
		hx_topic_messages(r, t);
}
