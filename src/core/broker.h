/*
 * The broker core: vhosts, exchanges, queues, bindings and routing, in
 * protocol-neutral terms.  Front ends turn frames into these calls and turn
 * consumer callbacks into frames.  One event-loop thread owns all of it.
 *
 * Errors are TDM_E_* status codes with a RabbitMQ-style explanation in a
 * struct tdm_err; each front end maps codes to its wire codes in one place.
 *
 * Must not depend on: libevent, protocol front ends (AMQP field tables are
 * carried as opaque bytes; exchange/ provides routing).
 */
#ifndef TANDEM_CORE_BROKER_H
#define TANDEM_CORE_BROKER_H

#include <stddef.h>
#include <stdint.h>

#include "core/bg.h"
#include "core/map.h"
#include "core/queue.h"
#include "exchange/exchange.h"

struct tdm_config;
struct tdm_auth;
struct tdm_route;
struct tdm_durable;
struct tdm_topics;
struct tdm_groups;
struct tdm_limits;
struct tdm_replica;
struct tdm_defs;

enum tdm_status {
	TDM_OK = 0,
	TDM_E_NOT_FOUND = -1,     /* 404 */
	TDM_E_INEQUIVALENT = -2,  /* 406: redeclare with other properties */
	TDM_E_ACCESS = -3,        /* 403: reserved names, default exchange, internal */
	TDM_E_LOCKED = -4,        /* 405: another connection's exclusive queue */
	TDM_E_IN_USE = -5,        /* 406: if-unused */
	TDM_E_NOT_EMPTY = -6,     /* 406: if-empty */
	TDM_E_INVALID = -7,       /* 406: invalid argument */
	TDM_E_NOMEM = -8,         /* 541 */
	TDM_E_COMMAND_INVALID = -9, /* 503: e.g. unknown exchange type */
	TDM_E_NOT_ALLOWED = -10,  /* 530 */
	TDM_E_NOT_IMPLEMENTED = -11, /* 540: e.g. stream queues without the log store */
	/* not an error: in a cluster the change was proposed to the cluster's
	 * definitions log (core/defs.h); its answer comes through tdm_defs_last */
	TDM_PROPOSED = 1,
};

struct tdm_err {
	int status;
	char text[300];
};
/* Records status and a printf-style message; returns status. */
int tdm_err_set(struct tdm_err *e, int status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

struct tdm_exchange {
	struct tdm_dest dest;      /* must stay first */
	char *name;                /* owned */
	uint8_t name_len;
	enum ex_type type;
	uint8_t durable, auto_delete, internal, deleted, builtin;
	uint8_t *arguments;        /* owned raw field table */
	uint32_t arguments_len;
	struct ex_table *table;    /* owned: bindings with this exchange as source */
	uint32_t dest_bindings;    /* bindings with this exchange as destination */
	struct tdm_vhost *vhost;   /* borrowed */
	uint64_t stat_in, stat_out;
	uint32_t id;               /* durable incarnation id, 0 = not persisted */
};

struct tdm_vhost {
	char *name;                /* owned */
	size_t name_len;
	struct tdm_map exchanges;  /* name -> struct tdm_exchange (owned) */
	struct tdm_map queues;     /* name -> struct tdm_queue (one ref) */
	size_t headers_bindings;   /* bindings of headers exchanges: routing needs the
				    * message headers only when there are some */
	struct tdm_broker *broker; /* borrowed */
	struct tdm_vhost *dead_next; /* deleted vhosts, kept until the broker goes */
};

/* Called once per event-loop turn when some queue has deliveries to push. */
typedef void (*tdm_schedule_fn)(void *ctx);
/* Re-publishes m, dead-lettered from q, through q's dead-letter exchange
 * (the front end owns the message format: it rewrites headers like x-death). */
typedef void (*tdm_dead_letter_fn)(void *ctx, struct tdm_queue *q, struct tdm_message *m,
				   enum tdm_dl_reason why);

struct tdm_broker {
	const struct tdm_config *cfg; /* borrowed from main */
	struct tdm_auth *auth;        /* borrowed from main */
	struct tdm_map vhosts;        /* name -> struct tdm_vhost (owned) */
	struct tdm_vhost *dead_vhosts;/* deleted (owned): closing connections may point at them */
	struct tdm_queue *dirty_head, *dirty_tail;
	tdm_schedule_fn schedule;
	void *schedule_ctx;
	uint64_t route_epoch;
	uint64_t stat_published, stat_unroutable;
	/* deliver/ack counts of deleted queues: overall totals never go back */
	uint64_t stat_gone_delivered, stat_gone_acked;
	tdm_dead_letter_fn dead_letter;
	void *dead_letter_ctx;
	struct tdm_queue *timed;      /* queues with TTLs or x-expires */
	struct tdm_durable *durable;  /* owned by main; NULL: nothing is persisted */
	struct tdm_bg bg;             /* background jobs (main's service); empty: inline */
	/* The journal's flushed offset advanced (publisher confirms may go). */
	void (*durable_synced)(void *ctx);
	void *durable_synced_ctx;
	/* A message read back from the journal: the front end derives what it
	 * keeps outside the wire bytes (priority, TTL). */
	void (*restore_message)(void *ctx, struct tdm_message *m);
	void *restore_ctx;
	/* resource alarms (RabbitMQ's): publishers are blocked while any is set */
	unsigned alarms;              /* TDM_ALARM_* bits */
	uint64_t page_window;         /* queue_memory_window: resident bytes per queue, 0 = no paging */
	uint64_t mem_limit;           /* resolved memory_high_watermark */
	uint64_t rss, disk_free;      /* last readings */
	unsigned ticks;
	uint64_t now_ms;              /* loop time as of the last tick (coarse, cheap) */
	/* every tick, after the broker's own work: the front end's periodic checks */
	void (*on_tick)(void *ctx, uint64_t now_ms);
	void *on_tick_ctx;
	void (*alarm_changed)(void *ctx, unsigned alarms);
	void *alarm_ctx;
	/* stream queues (core/stream.h): the logs, borrowed from main (NULL:
	 * stream queues cannot be declared), and the front end's hook that
	 * turns a message into a record and appends it (0, or -1: refused) */
	struct tdm_topics *topics;
	int (*stream_append)(void *ctx, struct tdm_queue *q, struct tdm_message *m);
	void *stream_append_ctx;
	/* cluster: proxies of other nodes' queues (core/remote.h); the link's
	 * operations (NULL: none) and the front end's hook that sends a
	 * message routed to a proxy (0, or -1: refused), as stream_append */
	const struct tdm_remote_ops *remote_ops;
	void *remote_ctx;
	int (*remote_publish)(void *ctx, struct tdm_queue *q, struct tdm_message *m);
	void *remote_publish_ctx;
	/* consumer groups over the logs (core/groups.h), borrowed from main;
	 * NULL when the logs are not open */
	struct tdm_groups *groups;
	/* the cluster's replica manager (core/replica.h), borrowed from main
	 * while the node is in a cluster; NULL on a single node (and before the
	 * node has joined): stream queues' own topics are cluster topics then */
	struct tdm_replica *replica;
	/* per-vhost and per-user limits (core/limits.h), owned; never NULL
	 * after tdm_broker_new */
	struct tdm_limits *limits;
	/* the cluster's shared definitions (core/defs.h), borrowed from main
	 * while the node is in a cluster; NULL on a single node */
	struct tdm_defs *defs;
	/* quorum queues (core/quorum.h), for their periodic work */
	struct tdm_quorum *quorums;
	/* the front end's hook for a message a quorum queue here appended at
	 * `offset` of its log: the publisher's confirm waits for it (0, or
	 * -1: refused, nacked) */
	int (*quorum_appended)(void *ctx, struct tdm_queue *q, uint64_t offset);
	void *quorum_appended_ctx;
};

#define TDM_ALARM_MEMORY 1u
#define TDM_ALARM_DISK 2u

/* ---- broker --------------------------------------------------------- */
struct tdm_broker *tdm_broker_new(const struct tdm_config *cfg, struct tdm_auth *auth);
void tdm_broker_free(struct tdm_broker *b);
struct tdm_vhost *tdm_vhost_add(struct tdm_broker *b, const char *name, size_t len);
struct tdm_vhost *tdm_vhost_find(struct tdm_broker *b, const char *name, size_t len);
/* Removes and frees a vhost nothing refers to yet (recovery of a deleted
 * one); a vhost in use goes with tdm_vhost_delete. */
void tdm_vhost_drop(struct tdm_broker *b, const char *name, size_t len);
/* Core only (vhost.c, broker.c): frees vh, already out of b->vhosts, with
 * its queues (killed, the vhost's reference dropped) and exchanges.  Writes
 * no durable record; front ends delete a vhost with tdm_vhost_delete. */
void tdm_vhost_free(struct tdm_vhost *vh);
/*
 * Deletes vh at run time, as RabbitMQ does: its connections are closed
 * (320 CONNECTION_FORCED), its queues and exchanges deleted with their
 * durable records, users lose their grant on it, and the deletion is
 * recorded.  The emptied struct lives on in b->dead_vhosts (a closing
 * connection may still point at it) until the broker is freed.
 */
int tdm_vhost_delete(struct tdm_broker *b, struct tdm_vhost *vh, struct tdm_err *err);
/* Queues a queue for the next dispatch pass and asks for one. */
void tdm_broker_mark_dirty(struct tdm_queue *q);
/* The dispatch pass: pushes deliveries of every dirty queue, each up to a
 * budget; queues with work left stay dirty and another pass is scheduled. */
void tdm_broker_dispatch(struct tdm_broker *b);
/* Periodic work (call every ~100 ms): expires messages at queue heads and
 * deletes queues unused for their x-expires. */
void tdm_broker_tick(struct tdm_broker *b);

/* Writes prefix + 22 random base64url characters (RabbitMQ's amq.gen- and
 * amq.ctag- names); prefix at most 17 bytes.  Returns the length. */
size_t tdm_random_name(char out[40], const char *prefix);

/*
 * Enqueues m on every queue of r, journaling it first when it is persistent
 * and some of those queues are durable.  Returns how many queues refused it
 * (reject-publish), for the publisher's basic.nack.
 */
int tdm_publish(struct tdm_broker *b, struct tdm_route *r, struct tdm_message *m);

/* ---- exchanges ------------------------------------------------------- */
struct tdm_exchange_spec {
	const char *name;
	size_t name_len;
	const char *type;
	size_t type_len;
	int passive, durable, auto_delete, internal;
	const uint8_t *arguments; /* raw table, borrowed */
	size_t arguments_len;
	const char *user;         /* who declares (core/access.h checks); NULL: unchecked */
	int created;              /* out: set when this call created the exchange */
};
int tdm_exchange_declare(struct tdm_vhost *vh, struct tdm_exchange_spec *s,
			 struct tdm_exchange **out, struct tdm_err *err);
struct tdm_exchange *tdm_exchange_find(struct tdm_vhost *vh, const char *name, size_t len);
/* Looks an exchange up for use, with RabbitMQ's 404 text on failure. */
struct tdm_exchange *tdm_exchange_lookup(struct tdm_vhost *vh, const char *name, size_t len,
					 struct tdm_err *err);
int tdm_exchange_delete(struct tdm_vhost *vh, const char *name, size_t len, int if_unused,
			struct tdm_err *err);
/* tdm_exchange_delete for user (NULL: unchecked), who needs configure on
 * the exchange; checked where RabbitMQ does, after the default and amq.*
 * refusals. */
int tdm_exchange_delete_by(struct tdm_vhost *vh, const char *user, const char *name, size_t len,
			   int if_unused, struct tdm_err *err);
const char *tdm_exchange_type_name(enum ex_type t);

/* ---- queues ---------------------------------------------------------- */
struct tdm_queue_spec {
	const char *name;         /* empty: server-named */
	size_t name_len;
	int passive, durable, exclusive, auto_delete;
	const uint8_t *arguments;
	size_t arguments_len;
	void *owner;              /* the declaring connection (for exclusive) */
	const char *user;         /* who declares (core/access.h checks); NULL: unchecked */
	const struct tdm_queue_settings *settings; /* for a new queue; NULL = defaults */
	int32_t home;             /* cluster: the home node of the cluster's queue (0: a
				     queue of this node alone); another node's: a proxy */
	int created;              /* out: set when this call created the queue */
	int local;                /* a queue of this node alone, even in a cluster */
	char generated[40];       /* out: the name made for a server-named queue */
};
/* TDM_OK, or TDM_E_ACCESS with RabbitMQ's text when a client may not
 * name a queue name[0..len) (the reserved prefix amq.). */
int tdm_queue_name_reserved(const char *name, size_t len, struct tdm_err *err);
/* Declares (or checks) a queue; *out is borrowed from the vhost. */
int tdm_queue_declare(struct tdm_vhost *vh, struct tdm_queue_spec *s,
		      struct tdm_queue **out, struct tdm_err *err);
/* Finds a queue usable by `owner` (404 if missing, 405 if another's exclusive). */
struct tdm_queue *tdm_queue_lookup(struct tdm_vhost *vh, const char *name, size_t len,
				   void *owner, struct tdm_err *err);
/* Deletes: unbinds, kills, removes from the vhost. *count = ready messages dropped. */
int tdm_queue_delete(struct tdm_vhost *vh, const char *name, size_t len, void *owner,
		     int if_unused, int if_empty, uint64_t *count, struct tdm_err *err);
/* Removes q now (exclusive owner gone, auto-delete). */
void tdm_queue_remove(struct tdm_queue *q);
/* Called after a consumer detached: applies auto-delete. */
void tdm_queue_consumer_gone(struct tdm_queue *q);

/* ---- bindings and routing ------------------------------------------- */
/* Binds exchange `src` to destination queue or exchange. args: raw table,
 * hdrs/nhdrs: the same as neutral headers (for headers exchanges). */
int tdm_bind(struct tdm_exchange *src, struct tdm_dest *dst, const char *key, size_t key_len,
	     const struct ex_hdr *args, size_t nargs, struct tdm_err *err);
int tdm_unbind(struct tdm_exchange *src, struct tdm_dest *dst, const char *key, size_t key_len,
	       const struct ex_hdr *args, size_t nargs, struct tdm_err *err);

/* Removes every binding to d in vh; auto-delete exchanges left bare go too. */
void tdm_unbind_dest_all(struct tdm_vhost *vh, struct tdm_dest *d);

/* Result of routing one message: the distinct queues it goes to. */
struct tdm_route {
	struct tdm_queue **queues; /* owned by the route */
	size_t n, cap;
	struct tdm_queue *inline_q[8];
};
void tdm_route_init(struct tdm_route *r);
void tdm_route_free(struct tdm_route *r);
/* Adds q to r unless it is there already (a route made without an
 * exchange: the cluster link's publish to named queues).  Out of memory:
 * q is left out, as tdm_route leaves it. */
void tdm_route_add_queue(struct tdm_route *r, struct tdm_queue *q);
/* Routes through x and exchange-to-exchange bindings (cycles safe). */
void tdm_route(struct tdm_exchange *x, const char *key, size_t key_len,
	       const struct ex_hdr *hdrs, size_t nhdrs, struct tdm_route *out);
/* The same with more routing keys (packed as a message's rkeys: see
 * core/message.h): a queue or exchange that several keys reach is
 * reached once, and exchange-to-exchange destinations route every key. */
void tdm_route_keys(struct tdm_exchange *x, const char *key, size_t key_len, const uint8_t *more,
		    size_t more_len, const struct ex_hdr *hdrs, size_t nhdrs, struct tdm_route *out);

#endif
