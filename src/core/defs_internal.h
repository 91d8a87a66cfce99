/*
 * The inside of the cluster's definitions (core/defs.h): the proposer's
 * and the applier's state and the record helpers the per-object files
 * share (defs.c: exchanges, bindings between exchanges, states;
 * defs_queue.c: queues and the bindings to them).
 *
 * Must not depend on: libevent, ZooKeeper, protocol front ends.
 */
#ifndef TANDEM_CORE_DEFS_INTERNAL_H
#define TANDEM_CORE_DEFS_INTERNAL_H

#include "core/broker.h"
#include "core/defs.h"
#include "core/durable_internal.h"

#define RECORD_VERSION 1
#define READ_BYTES (1u << 20)

enum { CMD_EXCHANGE = 'X', CMD_EXCHANGE_DELETE = 'x', CMD_BIND = 'B', CMD_UNBIND = 'b',
       CMD_STATE = 'S', CMD_QUEUE = 'Q', CMD_QUEUE_DELETE = 'q' };

struct tdm_defs_op {
	struct tdm_defs_op *next;
	struct tdm_defs *d;            /* borrowed */
	uint64_t seq;
	uint64_t deadline_ms;
	tdm_defs_done_fn done;         /* NULL: nobody waits (forgotten) */
	void *arg;
	struct tdm_replica_op *fwd;    /* the submission in flight, or NULL */
	uint8_t *key, *value;          /* owned: the record, until submitted */
	size_t key_len, value_len;
	int submitted;                 /* 0: (re)sent at the next poll */
	int taken;                     /* handed to a waiter by tdm_defs_last */
	/* answered once both: applied here, and applied by every in-sync
	 * node (core/replica.h: applier topics) */
	int applied, acked;
	int status;                    /* the apply's, once applied */
	char text[300];
	uint64_t target;               /* appended here: acked once the ISR applied it */
	char last_error[160];          /* why the last attempt failed, for the timeout */
};

struct tdm_defs {
	struct tdm_broker *b;          /* borrowed */
	struct tdm_defs_op *ops;       /* owned: proposals not answered yet, newest first */
	struct ls_decoder *dec;        /* owned */
	uint64_t next_seq;
	uint64_t applied;              /* next offset to apply */
	uint64_t persisted;            /* offsets below it were applied before a restart */
	uint64_t asked_topic_ms;       /* when the controller was last asked for the topic */
	int applying;
	int32_t node;
};

/* What applying one record decided, for its proposer. */
struct applied {
	int status;
	struct tdm_err err;
};

/* A new proposal of key/value (both taken); TDM_PROPOSED or an error. */
int dfs_propose(struct tdm_defs *d, struct wbuf *k, struct wbuf *v, uint64_t seq,
		struct tdm_err *err);
/* The value's header: version, command, proposing node and sequence. */
void dfs_put_head(struct tdm_defs *d, struct wbuf *v, uint8_t cmd, uint64_t *seq);
/* The vhost a key names next (its absence recorded in out), or NULL. */
struct tdm_vhost *dfs_key_vhost(struct tdm_defs *d, struct rbuf *k, struct applied *out);

/* A binding's record: key kind ('e' to an exchange, 'u' to a queue),
 * vhost, source, destination, routing key, arguments. */
int dfs_propose_binding(struct tdm_exchange *src, uint8_t kind, const char *dst, size_t dst_len,
			const char *key, size_t key_len, const struct ex_hdr *args, size_t nargs,
			int bind, struct tdm_err *err);
#define DFS_MAX_ARGS 256
struct dfs_binding {
	const char *src, *dst, *key; /* borrowed from the record */
	size_t src_len, dst_len, key_len, nargs;
	struct ex_hdr args[DFS_MAX_ARGS];
};
/* Reads a binding's key (after its kind): its vhost, or NULL (a missing
 * vhost recorded in out, or a bad record). */
struct tdm_vhost *dfs_read_binding(struct tdm_defs *d, struct rbuf *k, struct dfs_binding *b,
				   struct applied *out);

/* defs_queue.c: applies a queue's declaration or deletion, and a binding
 * of an exchange to a queue (the key's kind 'u'). */
void dfs_apply_queue(struct tdm_defs *d, struct rbuf *k, struct rbuf *v, int32_t node,
		     int catchup, struct applied *out);
void dfs_apply_queue_delete(struct tdm_defs *d, struct rbuf *k, int catchup,
			    struct applied *out);
void dfs_apply_queue_binding(struct tdm_defs *d, struct rbuf *k, int bind, int catchup,
			     struct applied *out);

#endif
