/*
 * Vhosts and the queue registry: declare, lookup, delete, exclusive
 * ownership and auto-delete, following RabbitMQ 3.x's rules and error
 * texts.  The broker object's lifecycle, dispatch pass and tick are in
 * broker.c.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/access.h"
#include "core/broker.h"
#include "core/defs.h"
#include "core/durable.h"
#include "core/limits.h"
#include "core/quorum.h"
#include "core/remote.h"
#include "core/replica.h"
#include "core/stream.h"
#include "util/b64.h"

static const struct {
	const char *name;
	enum ex_type type;
} builtin_exchanges[] = {
	{ "", EX_DIRECT },           { "amq.direct", EX_DIRECT },
	{ "amq.fanout", EX_FANOUT }, { "amq.topic", EX_TOPIC },
	{ "amq.headers", EX_HEADERS }, { "amq.match", EX_HEADERS },
};

void tdm_vhost_free(struct tdm_vhost *vh)
{
	size_t pos = 0;
	void *v;
	while (tdm_map_next(&vh->queues, &pos, NULL, NULL, &v)) {
		struct tdm_queue *q = v;
		tdm_queue_kill(q);
		tdm_queue_unref(q);
	}
	pos = 0;
	while (tdm_map_next(&vh->exchanges, &pos, NULL, NULL, &v)) {
		struct tdm_exchange *x = v;
		ex_table_free(x->table);
		free(x->arguments);
		free(x->name);
		free(x);
	}
	tdm_map_free(&vh->queues);
	tdm_map_free(&vh->exchanges);
	free(vh->name);
	free(vh);
}

struct tdm_vhost *tdm_vhost_find(struct tdm_broker *b, const char *name, size_t len)
{
	return tdm_map_get(&b->vhosts, name, len);
}

void tdm_vhost_drop(struct tdm_broker *b, const char *name, size_t len)
{
	struct tdm_vhost *vh = tdm_map_del(&b->vhosts, name, len);
	if (vh)
		tdm_vhost_free(vh);
}

struct tdm_vhost *tdm_vhost_add(struct tdm_broker *b, const char *name, size_t len)
{
	struct tdm_vhost *vh = tdm_vhost_find(b, name, len);
	if (vh)
		return vh;
	vh = calloc(1, sizeof(*vh));
	if (!vh || !(vh->name = strndup(name, len)))
		goto fail;
	vh->name_len = len;
	vh->broker = b;
	tdm_map_init(&vh->exchanges);
	tdm_map_init(&vh->queues);
	for (size_t i = 0; i < sizeof(builtin_exchanges) / sizeof(builtin_exchanges[0]); i++) {
		struct tdm_exchange *x = calloc(1, sizeof(*x));
		if (!x)
			goto fail;
		x->dest.kind = TDM_DEST_EXCHANGE;
		x->name = strdup(builtin_exchanges[i].name);
		x->name_len = (uint8_t)strlen(builtin_exchanges[i].name);
		x->type = builtin_exchanges[i].type;
		x->durable = 1;
		x->builtin = 1;
		x->vhost = vh;
		x->table = ex_table_new(x->type);
		if (!x->name || !x->table ||
		    tdm_map_put(&vh->exchanges, x->name, x->name_len, x) < 0) {
			ex_table_free(x->table);
			free(x->name);
			free(x);
			goto fail;
		}
	}
	if (tdm_map_put(&b->vhosts, name, len, vh) < 0)
		goto fail;
	return vh;
fail:
	if (vh && vh->name)
		tdm_vhost_free(vh);
	else
		free(vh);
	return NULL;
}

void tdm_queue_set_timed(struct tdm_queue *q)
{
	struct tdm_broker *b = q->vhost->broker;
	if (q->timed || q->deleted)
		return;
	q->timed = 1;
	q->timed_prev = NULL;
	q->timed_next = b->timed;
	if (b->timed)
		b->timed->timed_prev = q;
	b->timed = q;
}

static void unset_timed(struct tdm_queue *q)
{
	if (!q->timed)
		return;
	if (q->timed_prev)
		q->timed_prev->timed_next = q->timed_next;
	else
		q->vhost->broker->timed = q->timed_next;
	if (q->timed_next)
		q->timed_next->timed_prev = q->timed_prev;
	q->timed = 0;
}

/* ---- queues ------------------------------------------------------------ */

size_t tdm_random_name(char out[40], const char *prefix)
{
	unsigned char rnd[16];
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (unsigned char)rand();
	}
	size_t plen = strlen(prefix);
	memcpy(out, prefix, plen);
	return plen + tu_b64url_encode(rnd, sizeof(rnd), out + plen);
}

static int locked_error(struct tdm_vhost *vh, const char *name, struct tdm_err *err)
{
	return tdm_err_set(err, TDM_E_LOCKED,
			   "cannot obtain exclusive access to locked queue '%s' in vhost '%s'. "
			   "It could be originally declared on another connection or the "
			   "exclusive property value does not match that of the original "
			   "declaration.",
			   name, vh->name);
}

struct tdm_queue *tdm_queue_lookup(struct tdm_vhost *vh, const char *name, size_t len,
				   void *owner, struct tdm_err *err)
{
	struct tdm_queue *q = tdm_map_get(&vh->queues, name, len);
	if (!q) {
		tdm_err_set(err, TDM_E_NOT_FOUND, "no queue '%.*s' in vhost '%s'", (int)len, name,
			    vh->name);
		return NULL;
	}
	/* a quorum queue without a leader: its consumers wait for the next */
	if (q->remote && !q->quorum && !tdm_remote_home_up(q)) {
		tdm_remote_down(q, err);
		return NULL;
	}
	if (q->exclusive && q->owner != owner) {
		locked_error(vh, q->name, err);
		return NULL;
	}
	return q;
}

static int queue_equivalent(struct tdm_vhost *vh, struct tdm_queue *q,
			    const struct tdm_queue_spec *s, struct tdm_err *err)
{
	const char *arg = NULL;
	int got = 0, cur = 0;
	if (q->durable != !!s->durable) {
		arg = "durable";
		got = s->durable;
		cur = q->durable;
	} else if (q->auto_delete != !!s->auto_delete) {
		arg = "auto_delete";
		got = s->auto_delete;
		cur = q->auto_delete;
	}
	if (!arg)
		return TDM_OK;
	return tdm_err_set(err, TDM_E_INEQUIVALENT,
			   "inequivalent arg '%s' for queue '%s' in vhost '%s': "
			   "received '%s' but current is '%s'",
			   arg, q->name, vh->name, got ? "true" : "false", cur ? "true" : "false");
}

int tdm_queue_name_reserved(const char *name, size_t len, struct tdm_err *err)
{
	if (len >= 4 && memcmp(name, "amq.", 4) == 0)
		return tdm_err_set(err, TDM_E_ACCESS,
				   "queue name '%.*s' contains reserved prefix 'amq.*'", (int)len, name);
	return TDM_OK;
}

/* A new queue of the cluster's: this node (home) or a proxy of another's. */
static void make_shared(struct tdm_vhost *vh, struct tdm_queue *q, int32_t home)
{
	q->shared = 1;
	q->home = home;
	q->remote = home != tdm_replica_node_id(vh->broker->replica);
}

int tdm_queue_declare(struct tdm_vhost *vh, struct tdm_queue_spec *s,
		      struct tdm_queue **out, struct tdm_err *err)
{
	char *gen = s->generated;
	const char *name = s->name;
	size_t len = s->name_len;
	if (len == 0 && !s->passive) {
		len = tdm_random_name(gen, "amq.gen-");
		name = gen;
	}
	/* rabbit_channel: configure on the queue, new or not (a passive
	 * declare needs nothing) */
	if (!s->passive &&
	    tdm_access(vh, s->user, TDM_RES_QUEUE, TDM_PERM_CONFIGURE, name, len, err) != TDM_OK)
		return err->status;
	struct tdm_queue *q = tdm_map_get(&vh->queues, name, len);
	if (q && q->remote && !q->quorum && !s->home && !tdm_remote_home_up(q))
		return tdm_remote_down(q, err);
	if (q) {
		if (q->exclusive && q->owner != s->owner)
			return locked_error(vh, q->name, err);
		if (!s->passive) {
			if (q->exclusive != !!s->exclusive)
				return locked_error(vh, q->name, err);
			int rc = queue_equivalent(vh, q, s, err);
			if (rc != TDM_OK)
				return rc;
		}
		q->last_used = tdm_now_ms();
		*out = q;
		return TDM_OK;
	}
	if (s->passive)
		return tdm_err_set(err, TDM_E_NOT_FOUND, "no queue '%.*s' in vhost '%s'", (int)len,
				   name, vh->name);
	if (name != gen && tdm_queue_name_reserved(name, len, err) != TDM_OK)
		return err->status;
	/* not while recovering: what was declared before a restart stays */
	if (!tdm_durable_replaying(vh->broker->durable) &&
	    tdm_limits_check_queue(vh->broker, vh->name, vh->queues.count, name, len, err) !=
		    TDM_OK)
		return err->status;
	/* a new queue's dead-letter exchange: read on the queue, write on it */
	if (s->settings && s->settings->dlx &&
	    (tdm_access(vh, s->user, TDM_RES_QUEUE, TDM_PERM_READ, name, len, err) != TDM_OK ||
	     tdm_access(vh, s->user, TDM_RES_EXCHANGE, TDM_PERM_WRITE, s->settings->dlx,
			s->settings->dlx_len, err) != TDM_OK))
		return err->status;
	if (!s->home && !s->exclusive && !s->local &&
	    tdm_defs_clustered(vh->broker)) /* the cluster's, with this node its home */
		return tdm_defs_propose_queue(vh, s, name, len, err);
	q = tdm_queue_new(vh, name, len);
	if (!q || tdm_map_put(&vh->queues, name, len, q) < 0) {
		if (q)
			tdm_queue_unref(q);
		return tdm_err_set(err, TDM_E_NOMEM, "out of memory");
	}
	s->created = 1;
	q->durable = !!s->durable;
	q->exclusive = !!s->exclusive;
	q->auto_delete = !!s->auto_delete;
	q->owner = s->exclusive ? s->owner : NULL;
	q->last_used = tdm_now_ms();
	if (s->arguments_len && (q->arguments = malloc(s->arguments_len))) {
		memcpy(q->arguments, s->arguments, s->arguments_len);
		q->arguments_len = (uint32_t)s->arguments_len;
	}
	if (s->home)
		make_shared(vh, q, s->home);
	if (s->settings && s->settings->stream)
		q->remote = 0; /* every node reads its replica of the log, appends go to its leader */
	int quorum = s->settings && s->settings->quorum;
	if (q->remote && !quorum) { /* another node's: it keeps the messages and the settings */
		*out = q;
		return TDM_OK;
	}
	/* a quorum queue has its log; in a cluster the definitions log keeps
	 * its declaration, on one node the store does */
	if ((s->settings && tdm_queue_apply(q, s->settings) < 0) ||
	    (!(quorum && q->shared) &&
	     tdm_durable_queue_put(vh->broker->durable, q) < 0)) { /* persists the arguments too */
		tdm_queue_remove(q);
		return tdm_err_set(err, TDM_E_NOMEM, "could not create queue (memory or disk)");
	}
	*out = q;
	return TDM_OK;
}

void tdm_queue_remove(struct tdm_queue *q)
{
	struct tdm_vhost *vh = q->vhost;
	if (q->deleted)
		return;
	if (q->shared && !q->remote && tdm_defs_clustered(vh->broker)) {
		/* gone here (auto-delete, x-expires): the cluster forgets it */
		struct tdm_err err;
		if (tdm_defs_propose_queue_delete(q, &err) == TDM_PROPOSED)
			tdm_defs_op_forget(tdm_defs_last(vh->broker, NULL, NULL));
	}
	tdm_map_del(&vh->queues, q->name, q->name_len);
	tdm_durable_queue_del(vh->broker->durable, q);
	vh->broker->stat_gone_delivered += q->stat_delivered;
	vh->broker->stat_gone_acked += q->stat_acked;
	q->deleted = 1; /* before unbinding, so nothing routes here any more */
	unset_timed(q);
	tdm_unbind_dest_all(vh, &q->dest);
	tdm_queue_kill(q);
	if (q->stream)
		tdm_stream_removed(q); /* its own log goes with it */
	tdm_quorum_removed(q);
	tdm_queue_unref(q);
}

int tdm_queue_delete(struct tdm_vhost *vh, const char *name, size_t len, void *owner,
		     int if_unused, int if_empty, uint64_t *count, struct tdm_err *err)
{
	*count = 0;
	struct tdm_queue *q = tdm_map_get(&vh->queues, name, len);
	if (!q)
		return TDM_OK; /* RabbitMQ 3.x: deleting a missing queue succeeds with 0 */
	if (q->exclusive && q->owner != owner)
		return locked_error(vh, q->name, err);
	if (if_unused && q->nconsumers)
		return tdm_err_set(err, TDM_E_IN_USE, "queue '%s' in vhost '%s' in use", q->name,
				   vh->name);
	if (if_empty && tdm_queue_ready(q))
		return tdm_err_set(err, TDM_E_NOT_EMPTY, "queue '%s' in vhost '%s' not empty",
				   q->name, vh->name);
	*count = tdm_queue_ready(q);
	if (q->shared && tdm_defs_clustered(vh->broker))
		return tdm_defs_propose_queue_delete(q, err); /* every node removes it */
	tdm_queue_remove(q);
	return TDM_OK;
}

void tdm_queue_consumer_gone(struct tdm_queue *q)
{
	if (q->auto_delete && q->had_consumer && q->nconsumers == 0 && !q->deleted && !q->remote)
		tdm_queue_remove(q);
}
