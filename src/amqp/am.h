/*
 * The AMQP 0-9-1 front end's state: connections, channels, consumers and
 * unacked deliveries, and the functions its files share.  Wire format <->
 * core calls; never calls another front end.  Named after the am_ prefix:
 * amqp.h is rabbitmq-c's, which the tests include beside ours
 * (tests/test_names.sh keeps it so).
 *
 * Files: class_<class>.c hold the handlers of one AMQP class (class_basic.c
 * publishing, class_basic_consume.c consuming); the machinery is named for
 * what it does (dispatch.c, writer.c, error.c, args.c, confirms.c,
 * deadletter.c, stream.c); codec.c, table.c and props.c are the neutral
 * codec (codec.h), a library of their own (libamcodec.a).
 *
 * May depend on: the codec, core/ headers, net/net.h, libc.  Must not
 * depend on: other front ends; logstore/ (core is its only door); libevent
 * other than through net/net.h (output buffers and timers).
 */
#ifndef TANDEM_AMQP_AM_H
#define TANDEM_AMQP_AM_H

#include <stdarg.h>
#include <stdint.h>

#include "amqp/codec.h"
#include "core/auth.h"
#include "core/broker.h"
#include "net/net.h"

/* AMQP reply codes (spec 0-9-1 constants). */
enum {
	AM_REPLY_SUCCESS = 200,
	AM_CONTENT_TOO_LARGE = 311,
	AM_NO_ROUTE = 312,
	AM_NO_CONSUMERS = 313,
	AM_CONNECTION_FORCED = 320,
	AM_INVALID_PATH = 402,
	AM_ACCESS_REFUSED = 403,
	AM_NOT_FOUND = 404,
	AM_RESOURCE_LOCKED = 405,
	AM_PRECONDITION_FAILED = 406,
	AM_FRAME_ERROR = 501,
	AM_SYNTAX_ERROR = 502,
	AM_COMMAND_INVALID = 503,
	AM_CHANNEL_ERROR = 504,
	AM_UNEXPECTED_FRAME = 505,
	AM_RESOURCE_ERROR = 506,
	AM_NOT_ALLOWED = 530,
	AM_NOT_IMPLEMENTED = 540,
	AM_INTERNAL_ERROR = 541,
};

/* An error raised while handling a frame; the dispatcher closes the channel
 * (soft codes) or the connection (hard codes) with it. */
struct am_err {
	uint16_t code;
	uint32_t method;  /* class/method id of the offending method, 0 if none */
	char text[400];   /* "NOT_FOUND - no queue 'x' in vhost '/'" */
};

enum am_conn_state {
	AM_S_HEADER,      /* waiting for the protocol header */
	AM_S_START_OK,
	AM_S_TUNE_OK,
	AM_S_OPEN,        /* waiting for connection.open */
	AM_S_RUNNING,
	AM_S_CLOSING,     /* we sent connection.close, waiting for close-ok */
	AM_S_CLOSED,
};

struct am_channel;

/* A consumer: the core's consumer plus what AMQP knows about it. */
struct am_consumer {
	struct tdm_consumer core;      /* must stay first */
	struct am_channel *ch;         /* borrowed; NULL once the channel is gone */
	struct am_consumer *next;      /* channel's list */
	uint32_t refcnt;               /* channel list + unacked deliveries */
	uint8_t no_ack, cancelled;
	uint16_t prefetch;             /* per-consumer limit, 0 = none */
	uint32_t unacked;
	uint8_t tag_len;
	char tag[256];
};

/* One delivery waiting for ack, in tag order in the channel's ring. */
struct am_unacked {
	uint64_t tag;
	struct tdm_queue *q;           /* ref */
	struct tdm_qentry e;           /* holds the message ref */
	struct am_consumer *cons;      /* ref, NULL for basic.get */
	uint64_t at_ms;                /* delivered (broker's tick time), for consumer_timeout */
	uint8_t done;
};

/* A publisher confirm that cannot go out yet (a message being made durable)
 * or must not be folded into a multiple ack (a nack). */
struct am_confirm {
	uint64_t seq;
	uint64_t need;   /* journal offset that must be on disk, UINT64_MAX = none */
	uint8_t nack;
	struct am_repl_wait *repl; /* owned list: cluster stream appends to be replicated */
	uint64_t deadline_ms;      /* with repl: nacked when not replicated by then */
};

/* A record a publish appended to a cluster stream queue's topic: its
 * publisher confirm waits until the partition's ISR has it (stream.c).  A
 * record sent to the partition's leader over the cluster link waits for
 * the leader's answer instead (op, fwd_rc). */
struct am_repl_wait {
	struct am_repl_wait *next;
	int32_t partition;
	uint64_t offset;
	struct tdm_replica_op *op; /* forwarded: while the answer is awaited */
	struct tdm_remote_op *rop; /* sent to another node's queue: the same */
	int forwarded;
	int fwd_rc;                /* forwarded: 1 while awaited, then its code */
	char topic[];    /* NUL-terminated */
};

/* A transaction's buffered publish or ack. */
struct am_targets;
struct am_tx_op {
	struct am_tx_op *next;
	struct tdm_message *msg;       /* ref: publish; NULL: ack/nack/reject */
	struct am_targets *targets;    /* owned: publish to named queues; NULL: routed */
	uint8_t mandatory;
	uint8_t kind;                  /* AM_TX_PUBLISH, AM_TX_ACK, AM_TX_NACK */
	uint8_t multiple, requeue;
	uint64_t tag;
};
enum { AM_TX_PUBLISH, AM_TX_ACK, AM_TX_NACK };

enum am_ch_state { AM_CH_OPEN, AM_CH_CLOSING };

struct am_channel {
	struct am_conn *conn;          /* borrowed */
	uint16_t id;
	uint8_t state;
	/* content assembly for basic.publish */
	uint8_t expect;                /* 0 none, 1 header, 2 body */
	uint8_t pub_mandatory;
	char pub_exchange[256];
	uint8_t pub_exchange_len;
	char pub_routing_key[256];
	uint8_t pub_routing_key_len;
	struct tdm_message *pub_msg;   /* owned while assembling */
	struct am_targets *pub_targets; /* owned while assembling: its x-tandem-queues */
	const char *pub_bad_hdr;        /* static: "CC" or "BCC" not an array, else NULL */
	uint8_t pub_bad_type;           /* its field type */
	/* consumers and deliveries */
	struct am_consumer *consumers; /* list, owned (ref) */
	uint32_t nconsumers;
	uint64_t next_tag;             /* last delivery tag handed out */
	struct am_unacked *ring;       /* owned ring, tag order */
	size_t ring_cap, ring_head, ring_len;
	uint32_t unacked;              /* live entries in the ring */
	uint16_t prefetch_consumer;    /* basic.qos global=false: for new consumers */
	uint16_t prefetch_channel;     /* basic.qos global=true: shared */
	/* last declared queue (for "" queue names) */
	char last_queue[256];
	uint8_t last_queue_len;
	/* publisher confirms and transactions */
	uint8_t confirm, tx;
	uint64_t publish_seq;          /* last publish sequence number handed out */
	uint64_t confirm_sent;         /* highest sequence number confirmed on the wire */
	uint64_t confirm_ready;        /* highest sequence number that may be acked now */
	struct am_channel *confirm_next; /* connection's list of channels with confirms due */
	uint8_t confirm_listed, durable_listed;
	struct am_confirm *cring;      /* owned ring: confirms waiting, in sequence order */
	size_t cring_cap, cring_head, cring_len;
	struct am_channel *durable_prev, *durable_next; /* channels waiting for the journal */
	struct am_tx_op *tx_head, **tx_tail;
	struct am_reply *reply;        /* owned: its direct reply-to consumer (reply_to.c) */
};

struct am_conn {
	struct tdm_conn *net;          /* ref */
	struct tdm_broker *broker;     /* borrowed */
	enum am_conn_state state;
	uint16_t channel_max;
	uint32_t frame_max;
	uint16_t heartbeat;
	struct tdm_vhost *vhost;       /* borrowed */
	/* who it acts as in every check: user_name, or once the cluster link
	 * logged in, tdm_auth_link_user (core/auth.h: trusted everywhere) */
	const char *user;
	char user_name[256];
	uint8_t link;                  /* came through the cluster port (am_link_proto) */
	const char *mechanism; /* static: the one the client logged in with */
	uint8_t cap_cancel_notify, cap_auth_failure_close, cap_blocked;
	uint8_t blocked;               /* a resource alarm stopped reading its input */
	uint8_t parked;                /* a stream declaration holds its input (stream.c) */
	struct am_conn *all_prev, *all_next; /* every AMQP connection (alarms) */
	struct am_channel **channels;  /* owned: the open channels, sorted by id
					  (memory grows with channels open, not
					  with the highest channel number) */
	uint32_t nchannels_alloc;
	uint32_t nchannels_open;
	struct am_channel *last_ch;    /* the last one looked up (most frames go
					  to the channel before them) */
	struct event *heartbeat_ev;    /* owned */
	uint64_t bytes_in_seen;        /* input seen at the last heartbeat check */
	uint64_t bytes_in, frames_out;
	uint64_t frames_out_seen;
	uint8_t missed;                /* heartbeat intervals without input */
	uint8_t half_ticks;            /* heartbeat ticks (half intervals) so far */
	struct event *close_timer;     /* owned: bounds the wait for close-ok */
	struct event *handshake_ev;    /* owned: handshake_timeout until connection.open */
	struct am_channel *confirm_due;/* channels whose confirms go out after this read */
};

/* ---- errors (error.c) ---- */
/* Fills err with code, method and "NAME - text". Returns -1 for `return am_fail(...)`. */
int am_fail(struct am_err *err, uint16_t code, uint32_t method, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Maps a core status (TDM_E_*) and its text into err. Returns -1. */
int am_fail_core(struct am_err *err, const struct tdm_err *te, uint32_t method);
/* 1 when code closes the connection (hard error), 0 when only the channel. */
int am_code_is_hard(uint16_t code);
const char *am_code_name(uint16_t code);
/* The reply fields of channel.close / connection.close for err (text cut at 255). */
void am_close_fields(const struct am_err *err, uint16_t *reply_code, struct am_bytes *reply_text,
		     uint16_t *class_id, uint16_t *method_id);

/* ---- output (writer.c) ---- */
void am_send_method(struct am_conn *c, uint16_t channel, const struct am_method *m);
/* Sends a method that has only a channel and no fields other than the id. */
void am_send_simple(struct am_conn *c, uint16_t channel, uint32_t id);
/* Content header + body frames of msg on channel. */
void am_send_content(struct am_conn *c, uint16_t channel, const struct tdm_message *msg);
/* The same with another content header (header_len bytes) for msg's body. */
void am_send_content_as(struct am_conn *c, uint16_t channel, const struct tdm_message *msg,
			const uint8_t *header, size_t header_len);
/* The content of entry e of q: a quorum queue's carries x-delivery-count
 * (amqp/quorum.c; get: a basic.get-ok, which always does). */
void am_send_entry(struct am_conn *c, uint16_t channel, const struct tdm_queue *q,
		   const struct tdm_qentry *e, int get);
void am_send_heartbeat(struct am_conn *c);

/* ---- connection (class_connection.c) ---- */
/* Sends connection.close with err and waits (bounded) for close-ok. */
void am_conn_close_with(struct am_conn *c, const struct am_err *err);
extern const struct tdm_proto am_proto;
/* The same front end on the cluster link's port (its arg the broker, as
 * am_proto's): connection.start offers PLAIN only, and only
 * TDM_CLUSTER_LINK_USER with the cluster's secret logs in
 * (tdm_auth_link_check; anything else is refused as a bad login); the
 * connection then acts as tdm_auth_link_user: any vhost, every permission,
 * and basic.publish may name its queues (x-tandem-queues, class_basic.c). */
extern const struct tdm_proto am_link_proto;
/* 1 when c is the cluster link, logged in with the cluster's secret. */
static inline int am_conn_trusted(const struct am_conn *c)
{
	return tdm_auth_is_link(c->user);
}

/* Blocks a publishing connection while a resource alarm is on:
 * connection.blocked (if the client asked for it) and no more reading. */
void am_conn_block(struct am_conn *c);

/* ---- dispatch (dispatch.c) ---- */
/* Handles one decoded method on a channel (or channel 0). */
void am_dispatch_method(struct am_conn *c, uint16_t channel, const struct am_method *m);
/* Handles a content header or body frame on a channel. */
void am_dispatch_content(struct am_conn *c, const struct am_frame *f);
/* Raises err on channel ch (soft: channel.close; hard: connection.close). */
void am_raise(struct am_conn *c, struct am_channel *ch, const struct am_err *err);

typedef int (*am_handler_fn)(struct am_conn *c, struct am_channel *ch,
			     const struct am_method *m, struct am_err *err);

/* ---- channel (class_channel.c) ---- */
struct am_channel *am_channel_get(struct am_conn *c, uint16_t id);
/* Opens channel id and sends channel.open-ok. */
int am_channel_open(struct am_conn *c, uint16_t id, struct am_err *err);
int am_h_channel_close(struct am_conn *c, struct am_channel *ch, const struct am_method *m, struct am_err *err);
int am_h_channel_close_ok(struct am_conn *c, struct am_channel *ch, const struct am_method *m, struct am_err *err);
int am_h_channel_flow(struct am_conn *c, struct am_channel *ch, const struct am_method *m, struct am_err *err);
int am_h_access_request(struct am_conn *c, struct am_channel *ch, const struct am_method *m, struct am_err *err);
/* Releases a channel's resources (requeues unacked, cancels consumers,
 * drops pending content and transaction) but keeps its slot. */
void am_channel_release(struct am_conn *c, struct am_channel *ch);
/* Releases and frees the channel, freeing its id. */
void am_channel_destroy(struct am_conn *c, struct am_channel *ch);
/* Content frames for the publish being assembled. */
int am_channel_content(struct am_conn *c, struct am_channel *ch, const struct am_frame *f,
		       struct am_err *err);

/* ---- direct reply-to (reply_to.c) ---- */
/* Whether queue is the pseudo-queue amq.rabbitmq.reply-to. */
int am_reply_is_pseudo(struct am_bytes queue);
/* basic.consume of the pseudo-queue: the channel's reply consumer. */
int am_reply_consume(struct am_conn *c, struct am_channel *ch, const struct am_basic_consume *b,
		     uint32_t method, struct am_err *err);
/* basic.cancel: 1 when tag was the channel's reply consumer (now gone). */
int am_reply_cancel(struct am_channel *ch, struct am_bytes tag);
/* Forgets the channel's reply consumer (channel closed). */
void am_reply_drop(struct am_channel *ch);
/* A content header (payload, len) whose reply_to is the pseudo-queue:
 * 1 with *out (malloc'd, *out_len) the header with this channel's reply
 * address instead; 0 when reply_to is something else; -1 with err (406)
 * when the channel has no reply consumer. */
int am_reply_address(const struct am_channel *ch, const uint8_t *payload, size_t len,
		     uint8_t **out, size_t *out_len, struct am_err *err);
/* A message published to the default exchange with a reply address as
 * routing key: delivered to that reply consumer, if it is still there. */
void am_reply_deliver(const struct tdm_message *msg);
/* queue.declare of a name beginning with amq.rabbitmq.reply-to: 1 when
 * answered, -1 with err (404), 0 for any other name. */
int am_reply_declare(struct am_conn *c, struct am_channel *ch, const struct am_queue_declare *d,
		     uint32_t method, struct am_err *err);

/* ---- handlers per class (class_<class>.c) ---- */
int am_h_exchange_declare(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_exchange_delete(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_exchange_bind(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_exchange_unbind(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_queue_declare(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_queue_bind(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_queue_unbind(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_queue_purge(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_queue_delete(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_basic_qos(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_basic_consume(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_basic_cancel(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_basic_publish(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_basic_get(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_basic_ack(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_basic_nack(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_basic_reject(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_basic_recover(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_confirm_select(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_tx_select(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_tx_commit(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
int am_h_tx_rollback(struct am_conn *, struct am_channel *, const struct am_method *, struct am_err *);
/* Drops a transaction's buffered publishes and acks (rollback, channel close). */
void am_tx_discard(struct am_channel *ch);

/* ---- basic internals shared by publish/deliver/tx: publishing and routing in
 * class_basic.c, consumers and the unacked ring in class_basic_consume.c,
 * confirms in confirms.c, the hooks where their comments say ---- */
/* Routes a complete message published on ch; sends return/confirm as
 * needed.  targets (owned from here; NULL: through the exchange): the
 * queues a trusted publish named (targets.c). */
int am_publish_route(struct am_conn *c, struct am_channel *ch, struct tdm_message *msg,
		     int mandatory, struct am_targets *targets, struct am_err *err);
/* Sends the publisher confirms collected while handling one read: one
 * basic.ack (multiple) per channel instead of one per message (confirms.c). */
void am_flush_confirms(struct am_conn *c);
/* Records the confirm of ch's next publish: journal_off is the journal
 * offset the message must reach on disk first (TDM_NO_JOURNAL: none);
 * nack when a queue refused it. */
void am_confirm(struct am_conn *c, struct am_channel *ch, uint64_t journal_off, int nack);
/* am_confirm of a publish that appended to cluster stream queues: its
 * confirm also waits for repl (owned from here; NULL: none), acked once
 * every record is replicated, nacked when one cannot be (or after 30 s). */
void am_confirm_repl(struct am_conn *c, struct am_channel *ch, uint64_t journal_off, int nack,
		     struct am_repl_wait *repl);
/* Confirms waiting on replication may be due now (a forwarded publish was
 * answered). */
void am_confirms_kick(void);
/* Periodic check of confirms waiting on replication (their deadline). */
void am_confirms_tick(struct tdm_broker *b);
/* Forgets ch's pending confirms (channel going away). */
void am_confirms_release(struct am_channel *ch);
/* Installs the broker hooks of this front end: dead-lettering, journal
 * sync notifications, message restore (deadletter.c, confirms.c). */
void am_hooks_install(struct tdm_broker *b);
/* The resource-alarm hook (class_connection.c). */
void am_alarms_install(struct tdm_broker *b);
/* Routes msg through x (message headers feed headers exchanges), then, if
 * nothing matched, through x's alternate exchanges: with its routing key
 * and its CC and BCC keys (msg->rkeys), each queue once. */
void am_route_message(struct tdm_exchange *x, const struct tdm_message *msg, struct tdm_route *r);
/* Installs the dead-letter hook (deadletter.c) in the broker. */
void am_deadletter_install(struct tdm_broker *b);

/* Sets the AMQP-derived fields of a message read back from the journal
 * (class_channel.c). */
void am_message_restore(void *ctx, struct tdm_message *m);
/* Routes and enqueues msg immediately (no transaction buffering): through
 * its exchange, or with targets (borrowed) to the queues they name. */
int am_publish_now(struct am_conn *c, struct am_channel *ch, struct tdm_message *msg,
		   int mandatory, const struct am_targets *targets, struct am_err *err);

/* ---- publish to named queues (targets.c) ---- */
/* The header a trusted publish names its queues with. */
#define AM_TARGETS_HEADER "x-tandem-queues"
/*
 * The content header payload[0..len) of a publish on c: when c is trusted
 * (am_conn_trusted) and its headers carry AM_TARGETS_HEADER, 1 with the
 * queue names in *targets (owned: am_targets_free) and in *hdr (owned:
 * free) the same content header without that header (without a headers
 * table when nothing else was in it).  0 when not (nothing set); -1 with
 * err (406: not an array of queue names; 541: out of memory).
 */
int am_targets_take(const struct am_conn *c, const uint8_t *payload, size_t len,
		    struct am_targets **targets, uint8_t **hdr, size_t *hdr_len,
		    struct am_err *err);
/* Adds to r the queues of vh that t names, each once (the missing ones
 * are skipped: none left is an unroutable publish). */
/* Routes to the queues t names; returns how many are not here (gone, or
 * not made yet after a restart): the publish is nacked, so the forwarding
 * node's publisher never has a confirm for a message nobody keeps. */
int am_targets_route(struct tdm_vhost *vh, const struct am_targets *t, struct tdm_route *r);
void am_targets_free(struct am_targets *t);
/* Acks/nacks deliveries up to/at tag. requeue only for nack. */
int am_settle(struct am_channel *ch, uint64_t tag, int multiple, int ack, int requeue,
	      uint32_t method, struct am_err *err);
/* Requeues every unacked delivery of ch. */
void am_requeue_all(struct am_channel *ch);
/* When the oldest delivery of ch still waiting for its ack was made
 * (broker tick time), UINT64_MAX when none waits. */
uint64_t am_oldest_unacked(struct am_channel *ch);
/* Records an unacked delivery and returns its tag. */
uint64_t am_track(struct am_channel *ch, struct tdm_queue *q, struct tdm_qentry e,
		  struct am_consumer *cons);
void am_consumer_unref(struct am_consumer *cons);
/* Kicks the queues of every consumer of the connection (credit or room came back). */
void am_conn_kick_consumers(struct am_conn *c);
void am_channel_kick_consumers(struct am_channel *ch);
/* Cancels and frees every consumer of ch (channel closing). */
void am_channel_drop_consumers(struct am_channel *ch);

/* Binds or unbinds (bind=0) exchange src_name to the queue (dst_queue) or
 * exchange named dst_name (class_exchange.c), after the caller's write
 * permission check on the destination: 0 done, 1 proposed to the cluster
 * (am_defs_wait), -1 with err.  Checks in RabbitMQ 3.10's order: the
 * default exchange (403), read on the source, the source (404), topic
 * read, the destination (404), another connection's exclusive queue (405).
 * Unbinding is idempotent: a missing source, destination or binding is
 * done (so no 405 either). */
int am_binding_op(struct am_conn *c, uint32_t method, struct am_bytes src_name, int dst_queue,
		  struct am_bytes dst_name, struct am_bytes key, struct am_bytes args, int bind,
		  struct am_err *err);
/* Resolves a queue name from a method ("" = the channel's last declared
 * queue) to a queue this connection may use (class_queue.c), checking
 * first, as rabbit_channel, the connection user's permission perm (enum
 * tdm_perm; -1: none) on that name (403 ACCESS_REFUSED). */
struct tdm_queue *am_queue_resolve(struct am_conn *c, struct am_channel *ch, struct am_bytes name,
				   int perm, uint32_t method, struct am_err *err);
/* am_queue_resolve without the lookup: the name in *out (valid as long as
 * name and ch), 0, or -1 with err. */
int am_queue_name(struct am_conn *c, struct am_channel *ch, struct am_bytes name, int perm,
		  uint32_t method, struct am_bytes *out, struct am_err *err);

/* ---- arguments (args.c) ---- */
/* 406 "invalid arg '<key>' for queue '<queue>' in vhost '<vhost>': <why>"
 * (core/qargs.h words it); returns -1. */
int am_bad_arg(struct am_err *err, uint32_t method, const char *key, const char *queue,
	       const char *vhost, const char *why);
/* A non-negative integer argument (RabbitMQ's texts for other types and
 * negative values); 0 also when absent (then *out is untouched), or -1. */
int am_nonneg_arg(struct am_bytes args, const char *key, int64_t *out, const char *queue,
		  const char *vhost, uint32_t method, struct am_err *err);
/* The arguments compared on redeclare of a classic queue, of a stream queue. */
extern const char *const am_queue_arg_keys[];
extern const char *const am_stream_queue_arg_keys[];
extern const char *const am_quorum_queue_arg_keys[];
extern const char *const am_exchange_arg_keys[];
/* Compares the listed keys of two raw tables as RabbitMQ does on redeclare;
 * 0, or -1 with 406 "inequivalent arg ..." in err. */
int am_args_equivalent(struct am_bytes cur, struct am_bytes got, const char *const *keys,
		       const char *what, const char *name, const char *vhost, uint32_t method,
		       struct am_err *err);
/* Converts a validated raw table into neutral headers; returns the count or
 * -1 when more than max. */
int am_table_to_hdrs(struct am_bytes table, struct ex_hdr *out, size_t max);

/* ---- stream queues (stream.c) ---- */
struct tdm_stream_spec;
struct tdm_record;
struct tdm_replica_op;
/* Checks a new stream queue's declaration (core/qargs.h: tdm_qargs_stream)
 * and fills qa and sp (borrowing from d); 0, or -1 with the error in err. */
int am_stream_declare_args(struct am_conn *c, const struct am_queue_declare *d, const char *queue,
			   struct tdm_queue_settings *qa, struct tdm_stream_spec *sp,
			   uint32_t method, struct am_err *err);
/* tandem's stream arguments compared on redeclare (x-log-topic, ...). */
extern const char *const am_stream_arg_keys[];
/* Where a stream consumer starts (enum tdm_stream_from), and which partition. */
struct am_stream_start {
	int from;
	int64_t value;
	int32_t partition;
};
/* Checks basic.consume on stream queue q (prefetch set, x-stream-offset,
 * no auto-ack) and fills st; 0, or -1 with RabbitMQ's error in err. */
int am_stream_consume_args(struct am_conn *c, struct am_channel *ch, struct tdm_queue *q,
			   const struct am_basic_consume *b, uint32_t method,
			   struct am_stream_start *st, struct am_err *err);
/* tdm_consumer_ops.deliver_record: one record as a basic.deliver with its
 * x-stream-offset header. */
void am_stream_deliver(struct tdm_consumer *tc, struct tdm_queue *q, const struct tdm_record *rec);
/* Installs the broker's stream_append hook (message -> record). */
void am_stream_install(struct tdm_broker *b);
/* Around one tdm_publish: the cluster stream appends it makes are
 * collected, and handed over (owned by the caller; NULL: none) at the end. */
void am_stream_collect_begin(void);
struct am_repl_wait *am_stream_collect_end(void);
/* While collecting: keeps w (another wait of the publish) and returns 1;
 * else 0.  am_stream_collecting: 1 while collecting. */
int am_stream_collect_add(struct am_repl_wait *w);
int am_stream_collecting(void);
/* Installs the hook that sends messages routed to proxies of other nodes'
 * queues to their homes (amqp/remote.c). */
void am_remote_install(struct tdm_broker *b);
/* basic.get on proxy q, answered once its home has: the connection's
 * input is held meanwhile.  0, or -1 with err. */
int am_remote_get(struct am_conn *c, struct am_channel *ch, struct tdm_queue *q, int no_ack,
		  struct am_err *err);
/* queue.purge-ok (method AM_QUEUE_PURGE) or queue.declare-ok of proxy q
 * with the home's counts, the same way. */
int am_remote_counted(struct am_conn *c, struct am_channel *ch, struct tdm_queue *q,
		      uint32_t method, int no_wait, struct am_err *err);
/* queue.delete of proxy q: its home's counts decide if_unused and
 * if_empty and give delete-ok's count; the cluster then deletes it. */
int am_remote_delete(struct am_conn *c, struct am_channel *ch, struct tdm_queue *q,
		     const struct am_queue_delete *d, struct am_err *err);
/* The connection goes away: its held methods are forgotten. */
void am_remote_conn_gone(struct am_conn *c);
/* Frees a list of waits. */
void am_repl_wait_free(struct am_repl_wait *w);
/* TDM_REPL_OK when every record of w is replicated (core/stream.h:
 * tdm_stream_acked), 1 while one is not yet, else the first error. */
int am_repl_wait_state(struct tdm_broker *b, const struct am_repl_wait *w);
/* queue.declare of stream queue q: declare-ok now (0), or, in a cluster
 * while its topic is not ready, later: the connection's input is held
 * until it is (declare-ok) or 30 s pass (541, as RabbitMQ's failed stream
 * declaration); 0 then too.  -1 with err on an immediate error. */
int am_stream_declared(struct am_conn *c, struct am_channel *ch, struct tdm_queue *q,
		       int no_wait, struct am_err *err);
/* The connection goes away: forgets its parked declaration. */
void am_stream_conn_gone(struct am_conn *c);
/* A handler whose core call answered TDM_PROPOSED (core/defs.h): holds the
 * connection's input until the cluster applied the change here, then sends
 * `reply` (unless no_wait) or raises the error the apply decided.  0, or
 * -1 with err. */
int am_defs_wait(struct am_conn *c, struct am_channel *ch, uint32_t method, uint32_t reply,
		 int no_wait, struct am_err *err);
/* The same, answering with ok (copied: no borrowed fields in it). */
int am_defs_wait_ok(struct am_conn *c, struct am_channel *ch, const struct am_method *ok,
		    uint32_t method, int no_wait, struct am_err *err);
/* The same, running m (copied) again once applied, instead of a reply. */
int am_defs_wait_rerun(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		       struct am_err *err);
/* The connection goes away: its waits are forgotten (changes still apply). */
void am_defs_conn_gone(struct am_conn *c);

#endif
