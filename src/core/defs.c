/*
 * Definitions shared by the nodes of a cluster: proposals, the applier
 * and the record layout (core/defs.h has the model).
 *
 * Must not depend on: libevent, ZooKeeper, protocol front ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/broker.h"
#include "core/defs.h"
#include "core/defs_internal.h"
#include "core/durable_internal.h"
#include "core/log.h"
#include "core/topic_ops.h"
#include "core/topics.h"

static int64_t wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct tdm_defs *tdm_defs_new(struct tdm_broker *b)
{
	struct tdm_defs *d = calloc(1, sizeof(*d));
	if (!d || !(d->dec = ls_decoder_new(0))) {
		free(d);
		return NULL;
	}
	d->b = b;
	d->node = tdm_replica_node_id(b->replica);
	d->next_seq = (uint64_t)wall_ms() << 16; /* above any a previous run of this node used */
	d->persisted = tdm_durable_cluster_applied(b->durable);
	return d;
}

static void op_finish(struct tdm_defs_op *op, int status, const char *text)
{
	struct tdm_defs *d = op->d;
	for (struct tdm_defs_op **pp = &d->ops; *pp; pp = &(*pp)->next)
		if (*pp == op) {
			*pp = op->next;
			break;
		}
	tdm_replica_op_forget(op->fwd);
	if (op->done)
		op->done(op->arg, status, text);
	free(op->key);
	free(op->value);
	free(op);
}

void tdm_defs_free(struct tdm_defs *d)
{
	if (!d)
		return;
	while (d->ops)
		op_finish(d->ops, TDM_E_NOMEM, "the node is leaving the cluster");
	ls_decoder_free(d->dec);
	free(d);
}

int tdm_defs_clustered(const struct tdm_broker *b)
{
	return b->defs && !b->defs->applying;
}

/* ---- proposing ------------------------------------------------------------------------ */

/* An attempt failed: sent again at the next poll, as a Kafka producer
 * retries, until the deadline.  Safe: applying a command or a state twice
 * changes nothing the first did not. */
static void retry_later(struct tdm_defs_op *op, int rc, const char *msg)
{
	op->submitted = 0;
	snprintf(op->last_error, sizeof(op->last_error), "%s",
		 msg && *msg ? msg : tdm_replica_strerror(rc));
}

/* Answers op once it is applied here and the leader said every in-sync
 * node applied it; 1 when answered. */
static int maybe_answer(struct tdm_defs_op *op)
{
	if (!op->applied || !op->acked)
		return 0;
	op_finish(op, op->status, op->status == TDM_OK ? "" : op->text);
	return 1;
}

static void submitted(void *arg, int rc, const char *msg)
{
	struct tdm_defs_op *op = arg;
	op->fwd = NULL;
	if (rc != TDM_REPL_OK) {
		retry_later(op, rc, msg);
		return;
	}
	op->acked = 1; /* the leader's acks=all waits until the ISR applied it */
	maybe_answer(op);
}

/* rec appended where TDM_DEFS_TOPIC-0 is led: 0 (done may come later),
 * or a TDM_REPL_* / TDM_ERR_* code. */
static int append(struct tdm_defs *d, const struct tdm_record *rec, struct tdm_defs_op *op)
{
	struct tdm_replica *r = d->b->replica;
	int rc = tdm_replica_check_leader(r, TDM_DEFS_TOPIC, 0);
	if (rc == TDM_REPL_NOT_LEADER) { /* over the cluster link */
		struct tdm_record fwd = *rec;
		fwd.timestamp = wall_ms(); /* proposed now */
		op->target = 0;
		return tdm_replica_forward(r, TDM_DEFS_TOPIC, 0, &fwd, submitted, op, &op->fwd);
	}
	struct ls_partition *p = tdm_defs_partition(d);
	if (rc == TDM_REPL_OK && !p)
		rc = TDM_REPL_UNKNOWN;
	if (rc == TDM_REPL_OK)
		rc = tdm_replica_check_insync(r, TDM_DEFS_TOPIC, 0, p);
	if (rc != TDM_REPL_OK)
		return rc;
	struct tdm_append_result res;
	if (tdm_topics_append(d->b->topics, p, rec, 1, LS_CODEC_NONE, &res) != LS_OK)
		return TDM_ERR_IO;
	tdm_topics_flush_now(d->b->topics, p); /* fsynced soon; applied once the ISR has it */
	op->target = res.last_offset + 1;
	return 0;
}

/* Sends op's record when the topic has a leader; 1 sent (or failed and
 * finished), 0 not yet. */
static int submit(struct tdm_defs_op *op)
{
	struct tdm_defs *d = op->d;
	const struct tdm_partition_state *st = tdm_replica_state(d->b->replica, TDM_DEFS_TOPIC, 0);
	if (!st || st->leader == TDM_NO_NODE)
		return 0;
	struct tdm_record rec = { .key = (const char *)op->key, .key_len = op->key_len,
				  .value = op->value, .value_len = op->value_len, .timestamp = -1 };
	op->submitted = 1;
	int rc = append(d, &rec, op);
	if (rc != 0)
		retry_later(op, rc, NULL);
	return 1;
}

static void topic_made(void *arg, int rc, const char *msg)
{
	(void)arg;
	if (rc != TDM_TOPIC_OK && rc != TDM_ERR_EXISTS)
		tdm_warn("cluster", "creating the definitions topic %s: %s", TDM_DEFS_TOPIC,
			 msg && *msg ? msg : tdm_replica_strerror(rc));
}

/* Has the controller create the topic: one partition, a replica on every
 * live node, compacted.  At most once a second. */
static void ask_topic(struct tdm_defs *d, uint64_t now)
{
	if (tdm_replica_state(d->b->replica, TDM_DEFS_TOPIC, 0) ||
	    (d->asked_topic_ms && now - d->asked_topic_ms < 1000))
		return;
	d->asked_topic_ms = now;
	const struct tdm_replica_node *nodes;
	size_t n = tdm_replica_nodes(d->b->replica, &nodes);
	struct tdm_kv kv[] = { { "cleanup.policy", "compact" } };
	struct tdm_replica_topic_spec spec = { .name = TDM_DEFS_TOPIC, .partitions = 1,
					       .replication_factor = n ? (int32_t)n : 1,
					       .configs = kv, .nconfigs = 1 };
	char err[200] = "";
	if (tdm_replica_create_topic(d->b->replica, &spec, topic_made, NULL, NULL, err, sizeof(err)) !=
	    TDM_TOPIC_OK)
		tdm_warn("cluster", "creating the definitions topic %s: %s", TDM_DEFS_TOPIC, err);
	else
		tdm_info("cluster", "asked the controller for the definitions topic %s (%d replicas)",
			 TDM_DEFS_TOPIC, (int)spec.replication_factor);
}

/* 1 when the log exists and this node holds no replica of it (it joined
 * after the log was made): it could not apply what it proposes. */
static int outside_the_log(const struct tdm_defs *d)
{
	const struct tdm_partition_state *st = tdm_replica_state(d->b->replica, TDM_DEFS_TOPIC, 0);
	if (!st)
		return 0;
	for (size_t i = 0; i < st->nreplicas; i++)
		if (st->replicas[i] == d->node)
			return 0;
	return 1;
}

/* A new proposal of key/value (both taken); TDM_PROPOSED or an error. */
int dfs_propose(struct tdm_defs *d, struct wbuf *k, struct wbuf *v, uint64_t seq,
		   struct tdm_err *err)
{
	if (outside_the_log(d)) {
		free(k->p);
		free(v->p);
		return tdm_err_set(err, TDM_E_NOMEM,
				   "node %d holds no replica of the cluster's definitions log %s "
				   "(it joined after the log was made): change definitions on a "
				   "node that does",
				   (int)d->node, TDM_DEFS_TOPIC);
	}
	struct tdm_defs_op *op = calloc(1, sizeof(*op));
	if (!op || k->err || v->err) {
		free(op);
		free(k->p);
		free(v->p);
		return tdm_err_set(err, TDM_E_NOMEM, "out of memory");
	}
	op->d = d;
	op->seq = seq;
	op->key = k->p, op->key_len = k->len;
	op->value = v->p, op->value_len = v->len;
	op->deadline_ms = tdm_now_ms() + TDM_DEFS_TIMEOUT_MS;
	op->next = d->ops;
	d->ops = op;
	if (!submit(op))
		ask_topic(d, tdm_now_ms());
	return TDM_PROPOSED;
}

/* The value's header: version, command, proposing node and sequence. */
void dfs_put_head(struct tdm_defs *d, struct wbuf *v, uint8_t cmd, uint64_t *seq)
{
	*seq = ++d->next_seq;
	dur_put_u8(v, RECORD_VERSION);
	dur_put_u8(v, cmd);
	dur_put_u32(v, (uint32_t)d->node);
	dur_put_u64(v, *seq);
}

static void exchange_key(struct wbuf *k, const struct tdm_vhost *vh, const char *name, size_t len)
{
	dur_put_u8(k, 'x');
	dur_put_str(k, vh->name, vh->name_len);
	dur_put_str(k, name, len);
}

int tdm_defs_propose_exchange(struct tdm_vhost *vh, const struct tdm_exchange_spec *s, int type,
			      struct tdm_err *err)
{
	struct tdm_defs *d = vh->broker->defs;
	struct wbuf k = { 0 }, v = { 0 };
	uint64_t seq;
	exchange_key(&k, vh, s->name, s->name_len);
	dfs_put_head(d, &v, CMD_EXCHANGE, &seq);
	dur_put_u8(&v, (uint8_t)type);
	dur_put_u8(&v, (uint8_t)((s->durable ? 1 : 0) | (s->auto_delete ? 2 : 0) | (s->internal ? 4 : 0)));
	dur_put_str(&v, s->arguments ? s->arguments : (const uint8_t *)"", s->arguments_len);
	return dfs_propose(d, &k, &v, seq, err);
}

int tdm_defs_propose_exchange_delete(struct tdm_vhost *vh, const char *name, size_t len,
				     int if_unused, struct tdm_err *err)
{
	struct tdm_defs *d = vh->broker->defs;
	struct wbuf k = { 0 }, v = { 0 };
	uint64_t seq;
	exchange_key(&k, vh, name, len);
	dfs_put_head(d, &v, CMD_EXCHANGE_DELETE, &seq);
	dur_put_u8(&v, (uint8_t)!!if_unused);
	return dfs_propose(d, &k, &v, seq, err);
}

int dfs_propose_binding(struct tdm_exchange *src, uint8_t kind, const char *dst, size_t dst_len,
			const char *key, size_t key_len, const struct ex_hdr *args, size_t nargs,
			int bind, struct tdm_err *err)
{
	struct tdm_defs *d = src->vhost->broker->defs;
	struct wbuf k = { 0 }, v = { 0 };
	uint64_t seq;
	dur_put_u8(&k, kind); /* one key per binding: compaction keeps its last command */
	dur_put_str(&k, src->vhost->name, src->vhost->name_len);
	dur_put_str(&k, src->name, src->name_len);
	dur_put_str(&k, dst, dst_len);
	dur_put_str(&k, key, key_len);
	dur_put_u32(&k, (uint32_t)nargs);
	for (size_t i = 0; i < nargs; i++) {
		dur_put_str(&k, args[i].key, args[i].key_len);
		dur_put_u8(&k, args[i].type);
		dur_put_str(&k, args[i].val, args[i].val_len);
	}
	dfs_put_head(d, &v, bind ? CMD_BIND : CMD_UNBIND, &seq);
	return dfs_propose(d, &k, &v, seq, err);
}

int tdm_defs_propose_binding(struct tdm_exchange *src, struct tdm_exchange *dst, const char *key,
			     size_t key_len, const struct ex_hdr *args, size_t nargs, int bind,
			     struct tdm_err *err)
{
	return dfs_propose_binding(src, 'e', dst->name, dst->name_len, key, key_len, args, nargs,
				   bind, err);
}

int tdm_defs_share(struct tdm_broker *b, const void *key, size_t klen, const void *val,
		   size_t vlen)
{
	struct tdm_defs *d = b->defs;
	struct wbuf k = { 0 }, v = { 0 };
	struct tdm_err err;
	uint64_t seq;
	dur_put(&k, key, klen);
	dfs_put_head(d, &v, CMD_STATE, &seq);
	dur_put(&v, val, vlen);
	return dfs_propose(d, &k, &v, seq, &err) == TDM_PROPOSED ? 0 : -1;
}

struct tdm_defs_op *tdm_defs_last(struct tdm_broker *b, tdm_defs_done_fn done, void *arg)
{
	struct tdm_defs_op *op = b->defs ? b->defs->ops : NULL;
	while (op && op->taken)
		op = op->next;
	if (!op)
		return NULL;
	op->taken = 1;
	op->done = done;
	op->arg = arg;
	return op;
}

int tdm_defs_untaken(const struct tdm_broker *b)
{
	for (const struct tdm_defs_op *op = b->defs ? b->defs->ops : NULL; op; op = op->next)
		if (!op->taken)
			return 1;
	return 0;
}

void tdm_defs_op_forget(struct tdm_defs_op *op)
{
	if (op)
		op->done = NULL; /* still applied; nobody hears of it */
}

/* ---- applying ------------------------------------------------------------------------- */

struct tdm_vhost *dfs_key_vhost(struct tdm_defs *d, struct rbuf *k, struct applied *out)
{
	size_t n;
	const char *vname = (const char *)dur_get_str(k, &n);
	struct tdm_vhost *vh = k->err ? NULL : tdm_vhost_find(d->b, vname, n);
	if (!vh && !k->err)
		out->status = tdm_err_set(&out->err, TDM_E_NOT_FOUND, "no vhost '%.*s'", (int)n, vname);
	return vh;
}

static void apply_exchange(struct tdm_defs *d, struct rbuf *k, struct rbuf *v, int catchup,
			   struct applied *out)
{
	struct tdm_vhost *vh = dfs_key_vhost(d, k, out);
	size_t n, alen;
	const char *name = (const char *)dur_get_str(k, &n);
	uint8_t type = dur_get_u8(v), flags = dur_get_u8(v);
	const uint8_t *args = dur_get_str(v, &alen);
	if (!vh || k->err || v->err || type > EX_HEADERS)
		return;
	if (catchup && (flags & 1))
		return; /* durable: the store brought it back */
	const char *tname = tdm_exchange_type_name((enum ex_type)type);
	struct tdm_exchange_spec s = { .name = name, .name_len = n, .type = tname,
				       .type_len = strlen(tname), .durable = flags & 1,
				       .auto_delete = !!(flags & 2), .internal = !!(flags & 4),
				       .arguments = args, .arguments_len = alen };
	struct tdm_exchange *x;
	out->status = tdm_exchange_declare(vh, &s, &x, &out->err);
}

static void apply_exchange_delete(struct tdm_defs *d, struct rbuf *k, struct rbuf *v,
				  int catchup, struct applied *out)
{
	struct tdm_vhost *vh = dfs_key_vhost(d, k, out);
	size_t n;
	const char *name = (const char *)dur_get_str(k, &n);
	int if_unused = dur_get_u8(v);
	if (!vh || k->err || v->err)
		return;
	struct tdm_exchange *x = tdm_exchange_find(vh, name, n);
	if (catchup && (!x || x->durable))
		return; /* the store has the durable outcome */
	out->status = tdm_exchange_delete(vh, name, n, if_unused, &out->err);
}

/* An exchange-to-exchange binding made or removed: both ends are the
 * cluster's.  The key holds its fields. */
static void apply_binding(struct tdm_defs *d, struct rbuf *k, int bind, int catchup,
			  struct applied *out)
{
	struct dfs_binding b;
	struct tdm_vhost *vh = dfs_read_binding(d, k, &b, out);
	if (!vh)
		return;
	struct tdm_exchange *src = tdm_exchange_lookup(vh, b.src, b.src_len, &out->err);
	struct tdm_exchange *dst = src ? tdm_exchange_lookup(vh, b.dst, b.dst_len, &out->err) : NULL;
	if (!src || !dst) {
		out->status = out->err.status;
		return;
	}
	if (catchup && src->durable && dst->durable)
		return; /* the store kept it */
	out->status = bind ? tdm_bind(src, &dst->dest, b.key, b.key_len, b.args, b.nargs, &out->err)
			   : tdm_unbind(src, &dst->dest, b.key, b.key_len, b.args, b.nargs, &out->err);
}

struct tdm_vhost *dfs_read_binding(struct tdm_defs *d, struct rbuf *k, struct dfs_binding *b,
				   struct applied *out)
{
	struct tdm_vhost *vh = dfs_key_vhost(d, k, out);
	b->src = (const char *)dur_get_str(k, &b->src_len);
	b->dst = (const char *)dur_get_str(k, &b->dst_len);
	b->key = (const char *)dur_get_str(k, &b->key_len);
	b->nargs = dur_get_u32(k);
	if (!vh || k->err || b->nargs > DFS_MAX_ARGS)
		return NULL;
	for (size_t i = 0; i < b->nargs; i++) {
		b->args[i].key = (const char *)dur_get_str(k, &b->args[i].key_len);
		b->args[i].type = dur_get_u8(k);
		b->args[i].val = dur_get_str(k, &b->args[i].val_len);
	}
	return k->err ? NULL : vh;
}

/* A vhost, user or limit as the proposing node's store has it now: kept
 * in ours and applied (already ours after a restart). */
static void apply_state(struct tdm_defs *d, const struct ls_record *r, struct rbuf *v,
			int catchup, struct applied *out)
{
	if (catchup)
		return;
	if (tdm_durable_apply_state(d->b->durable, r->key, r->key_len, v->p + v->pos,
				    v->len - v->pos) < 0)
		out->status = tdm_err_set(&out->err, TDM_E_NOMEM,
					  "could not apply a definition here (disk error)");
}

/* Applies one record; answers its proposal when it is this node's. */
static void apply_record(struct tdm_defs *d, const struct ls_record *r)
{
	struct rbuf k = { r->key, r->key_len, 0, 0 }, v = { r->value, r->value_len, 0, 0 };
	if (!r->key || !r->value)
		return;
	uint8_t kind = dur_get_u8(&k);
	uint8_t ver = dur_get_u8(&v), cmd = dur_get_u8(&v);
	int32_t node = (int32_t)dur_get_u32(&v);
	uint64_t seq = dur_get_u64(&v);
	int catchup = r->offset < d->persisted;
	struct applied out = { .status = TDM_OK };
	if (v.err || ver != RECORD_VERSION) {
		tdm_warn("cluster", "definitions record at offset %llu cannot be read (version %d)",
			 (unsigned long long)r->offset, ver);
		return;
	}
	d->applying = 1;
	if (cmd == CMD_EXCHANGE)
		apply_exchange(d, &k, &v, catchup, &out);
	else if (cmd == CMD_EXCHANGE_DELETE)
		apply_exchange_delete(d, &k, &v, catchup, &out);
	else if ((cmd == CMD_BIND || cmd == CMD_UNBIND) && kind == 'u')
		dfs_apply_queue_binding(d, &k, cmd == CMD_BIND, catchup, &out);
	else if (cmd == CMD_BIND || cmd == CMD_UNBIND)
		apply_binding(d, &k, cmd == CMD_BIND, catchup, &out);
	else if (cmd == CMD_QUEUE)
		dfs_apply_queue(d, &k, &v, node, catchup, &out);
	else if (cmd == CMD_QUEUE_DELETE)
		dfs_apply_queue_delete(d, &k, catchup, &out);
	else if (cmd == CMD_STATE)
		apply_state(d, r, &v, catchup, &out);
	d->applying = 0;
	if (node != d->node)
		return;
	for (struct tdm_defs_op *op = d->ops; op; op = op->next)
		if (op->seq == seq && !op->applied) {
			op->applied = 1;
			op->status = out.status;
			snprintf(op->text, sizeof(op->text), "%s",
				 out.status == TDM_OK ? "" : out.err.text);
			maybe_answer(op);
			break;
		}
}

struct ls_partition *tdm_defs_partition(const struct tdm_defs *d)
{
	struct ls_topic *tp = d->b->topics ? tdm_topic_find(d->b->topics, TDM_DEFS_TOPIC) : NULL;
	return tp ? ls_partition_get(tp, 0) : NULL;
}

/* Applies [d->applied, hw) of p; 0, or -1 when a read failed. */
static int apply_range(struct tdm_defs *d, struct ls_partition *p, uint64_t hw)
{
	if (d->applied < ls_log_start(p))
		d->applied = ls_log_start(p);
	while (d->applied < hw) {
		struct tdm_read_result r;
		if (tdm_topics_read_bounded(d->b->topics, p, d->applied, READ_BYTES, hw, &r) !=
		    TDM_TOPIC_OK)
			return -1;
		uint8_t *buf = r.len ? malloc(r.len) : NULL;
		int ok = r.len && buf && tdm_topics_read_copy(&r, buf) == TDM_TOPIC_OK;
		uint64_t next = r.next_offset;
		tdm_topics_read_release(d->b->topics, &r);
		if (!ok) {
			free(buf);
			return -1;
		}
		ls_decoder_set(d->dec, buf, r.len, d->applied);
		struct ls_record rec;
		while (ls_decoder_next(d->dec, &rec, NULL) == 1 && rec.offset < hw) {
			apply_record(d, &rec);
			d->applied = rec.offset + 1;
		}
		free(buf);
		if (next > d->applied && next <= hw)
			d->applied = next; /* offsets compaction removed */
		if (next <= d->applied && d->applied < hw && next < hw)
			return -1; /* no progress */
	}
	return 0;
}

/* An op appended here: has every in-sync node applied it?  1 when op
 * was answered; a lost lead or a shrunk ISR sends it again. */
static int local_acked(struct tdm_defs *d, struct tdm_defs_op *op, struct ls_partition *p)
{
	int rc = tdm_replica_acked(d->b->replica, TDM_DEFS_TOPIC, 0, p, op->target);
	if (rc < 0) {
		retry_later(op, rc, NULL);
		return 0;
	}
	if (rc == TDM_REPL_OK)
		op->acked = 1;
	return maybe_answer(op);
}

void tdm_defs_poll(struct tdm_defs *d, uint64_t now_ms)
{
	struct ls_partition *p = tdm_defs_partition(d);
	uint64_t before = d->applied;
	if (p) {
		uint64_t hw = tdm_replica_high_watermark(d->b->replica, TDM_DEFS_TOPIC, 0, p);
		if (apply_range(d, p, hw) < 0)
			tdm_warn("cluster", "reading the definitions log %s-0 at offset %llu failed",
				 TDM_DEFS_TOPIC, (unsigned long long)d->applied);
	}
	if (d->applied > before && d->applied > d->persisted &&
	    tdm_durable_cluster_set_applied(d->b->durable, d->applied) == 0)
		d->persisted = d->applied;
	tdm_replica_set_applied(d->b->replica, TDM_DEFS_TOPIC, 0, d->applied);
	struct tdm_defs_op *op = d->ops, *next;
	for (; op; op = next) {
		next = op->next;
		if (p && op->submitted && op->target && !op->acked && local_acked(d, op, p))
			continue; /* answered */
		if (now_ms >= op->deadline_ms) {
			char text[240];
			snprintf(text, sizeof(text),
				 "the cluster did not apply the change within 30 s%s%s",
				 op->last_error[0] ? ": " : "", op->last_error);
			tdm_warn("cluster", "a definitions change failed: %s", text);
			op_finish(op, TDM_E_NOMEM, text);
		}
		else if (!op->submitted && !submit(op))
			ask_topic(d, now_ms);
	}
}

uint64_t tdm_defs_applied(const struct tdm_defs *d)
{
	return d ? d->applied : 0;
}

size_t tdm_defs_waiting(const struct tdm_defs *d)
{
	size_t n = 0;
	for (const struct tdm_defs_op *op = d ? d->ops : NULL; op; op = op->next)
		n++;
	return n;
}
