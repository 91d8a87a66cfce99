/*
 * Queues in the cluster's definitions (core/defs.h): a queue that is not
 * exclusive is the cluster's.  It is declared where it is asked for, and
 * that node is its home (RabbitMQ 3.10's classic queues live on the node
 * that declared them); the declaration is proposed as a record naming the
 * home, and every node applies it:
 *  - a classic queue: the home makes the queue, the others a proxy
 *    (q->remote) that routes to it and serves it through the home
 *    (core/remote.h);
 *  - a stream queue: every node makes it over the same cluster topic
 *    (core/stream.h; the home asks the controller for it), so consumers
 *    read their node's replica and publishes go to the partition leader;
 *  - a quorum queue: every node makes it over its replicated log
 *    (core/quorum.h); the log's leader serves it, the others proxy to it.
 * A deletion, and a binding of an exchange to such a queue, are records
 * too, so every node routes alike.
 *
 * Records: key 'q', vhost, name; value (after the common head) flags
 * (1 durable, 2 auto-delete) and the arguments as declared.  Bindings:
 * key 'u', vhost, source exchange, queue, routing key, arguments.
 *
 * Must not depend on: libevent, ZooKeeper, protocol front ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/defs_internal.h"
#include "core/log.h"
#include "core/qargs.h"
#include "core/stream.h"

static void queue_key(struct wbuf *k, const struct tdm_vhost *vh, const char *name, size_t len)
{
	dur_put_u8(k, 'q');
	dur_put_str(k, vh->name, vh->name_len);
	dur_put_str(k, name, len);
}

int tdm_defs_propose_queue(struct tdm_vhost *vh, const struct tdm_queue_spec *s, const char *name,
			   size_t len, struct tdm_err *err)
{
	struct tdm_defs *d = vh->broker->defs;
	struct wbuf k = { 0 }, v = { 0 };
	uint64_t seq;
	queue_key(&k, vh, name, len);
	dfs_put_head(d, &v, CMD_QUEUE, &seq);
	dur_put_u8(&v, (uint8_t)((s->durable ? 1 : 0) | (s->auto_delete ? 2 : 0)));
	dur_put_str(&v, s->arguments ? s->arguments : (const uint8_t *)"", s->arguments_len);
	return dfs_propose(d, &k, &v, seq, err);
}

int tdm_defs_propose_queue_delete(struct tdm_queue *q, struct tdm_err *err)
{
	struct tdm_defs *d = q->vhost->broker->defs;
	struct wbuf k = { 0 }, v = { 0 };
	uint64_t seq;
	queue_key(&k, q->vhost, q->name, q->name_len);
	dfs_put_head(d, &v, CMD_QUEUE_DELETE, &seq);
	return dfs_propose(d, &k, &v, seq, err);
}

int tdm_defs_propose_queue_binding(struct tdm_exchange *src, struct tdm_queue *q, const char *key,
				   size_t key_len, const struct ex_hdr *args, size_t nargs, int bind,
				   struct tdm_err *err)
{
	return dfs_propose_binding(src, 'u', q->name, q->name_len, key, key_len, args, nargs, bind,
				   err);
}

/* A transient queue of this node that a restart took away: the cluster
 * forgets it too (RabbitMQ deletes a node's transient queues when the
 * node goes down), so no node keeps a proxy of it. */
static void forget_lost(struct tdm_defs *d, struct tdm_vhost *vh, const char *name, size_t n)
{
	struct tdm_queue tmp = { .name = (char *)name, .name_len = (uint8_t)n, .vhost = vh };
	struct tdm_err err;
	if (tdm_defs_propose_queue_delete(&tmp, &err) == TDM_PROPOSED)
		tdm_defs_op_forget(tdm_defs_last(d->b, NULL, NULL));
}

void dfs_apply_queue(struct tdm_defs *d, struct rbuf *k, struct rbuf *v, int32_t node,
		     int catchup, struct applied *out)
{
	struct tdm_vhost *vh = dfs_key_vhost(d, k, out);
	size_t n, alen;
	const char *name = (const char *)dur_get_str(k, &n);
	uint8_t flags = dur_get_u8(v);
	const uint8_t *args = dur_get_str(v, &alen);
	if (!vh || k->err || v->err || n > 255)
		return;
	struct tdm_queue *q = tdm_map_get(&vh->queues, name, n);
	/* a quorum queue is every node's: each makes it (and may lead it) */
	int quorum = tdm_qargs_is_quorum(args, alen);
	if (catchup && node == d->node && !q && !(flags & 1)) {
		forget_lost(d, vh, name, n);
		return;
	}
	if (catchup && node == d->node && !quorum) { /* its own durable queue: the store brought it back */
		if (q && !q->exclusive)
			q->shared = 1, q->home = node;
		return;
	}
	char shown[256];
	snprintf(shown, sizeof(shown), "%.*s", (int)n, name);
	struct tdm_queue_settings qa;
	int stream = tdm_qargs_is_stream(args, alen);
	int settings = !q && (node == d->node || quorum || stream);
	struct tdm_stream_spec sp;
	int rc = !settings ? TDM_OK
		 : stream  ? tdm_qargs_stream(vh, NULL, shown, n, flags & 1, 0, !!(flags & 2), args,
					      alen, &qa, &sp, &out->err)
			   : tdm_qargs_parse(args, alen, shown, vh->name, &qa, &out->err);
	if (rc != TDM_OK) {
		out->status = out->err.status;
		return;
	}
	qa.quorum_propose = node == d->node && !catchup;
	sp.others_create = node != d->node || catchup; /* the declaring node asks for the topic */
	struct tdm_queue_spec s = { .name = name, .name_len = n, .durable = flags & 1,
				    .auto_delete = !!(flags & 2), .arguments = args,
				    .arguments_len = alen, .home = node,
				    .settings = settings ? &qa : NULL };
	out->status = tdm_queue_declare(vh, &s, &q, &out->err);
	if (out->status == TDM_OK && !q->shared && !q->exclusive && node == d->node)
		q->shared = 1, q->home = node; /* its own, made before: the cluster's now */
}

void dfs_apply_queue_delete(struct tdm_defs *d, struct rbuf *k, int catchup, struct applied *out)
{
	struct tdm_vhost *vh = dfs_key_vhost(d, k, out);
	size_t n;
	const char *name = (const char *)dur_get_str(k, &n);
	if (!vh || k->err)
		return;
	struct tdm_queue *q = tdm_map_get(&vh->queues, name, n);
	if (!q || (catchup && !q->remote && q->durable))
		return; /* the store has the durable outcome */
	tdm_queue_remove(q);
}

void dfs_apply_queue_binding(struct tdm_defs *d, struct rbuf *k, int bind, int catchup,
			     struct applied *out)
{
	struct dfs_binding b;
	struct tdm_vhost *vh = dfs_read_binding(d, k, &b, out);
	if (!vh)
		return;
	struct tdm_exchange *src = tdm_exchange_lookup(vh, b.src, b.src_len, &out->err);
	struct tdm_queue *q = src ? tdm_map_get(&vh->queues, b.dst, b.dst_len) : NULL;
	if (src && !q)
		tdm_err_set(&out->err, TDM_E_NOT_FOUND, "no queue '%.*s' in vhost '%s'",
			    (int)b.dst_len, b.dst, vh->name);
	if (!src || !q) {
		out->status = out->err.status;
		return;
	}
	if (catchup && src->durable && q->durable && !q->remote)
		return; /* the store kept it */
	out->status = bind ? tdm_bind(src, &q->dest, b.key, b.key_len, b.args, b.nargs, &out->err)
			   : tdm_unbind(src, &q->dest, b.key, b.key_len, b.args, b.nargs, &out->err);
}
