/*
 * Stream queues: a queue whose messages live in a log topic (core/topics.h)
 * instead of the queue's FIFO.  The queue object keeps what every queue has
 * (name, bindings, durability, consumers); publishing into it appends a
 * record, and each consumer reads the log on its own from an offset it
 * chose, so consumers never compete and acknowledgements delete nothing:
 * they only return credit.  This is RabbitMQ's stream queue type
 * (x-queue-type: stream) over our Kafka-style logs, and also the bridge
 * from exchanges into any topic (a stream queue over an existing,
 * possibly multi-partition topic).
 *
 * Here is everything protocol-neutral: the queue-name -> topic-name
 * mapping, creating and deleting the topic, choosing the partition of an
 * append, and the consumers' read cursors (log reads, decoding, "data
 * available" waiters).  A cursor reads committed records only, as a
 * Kafka consumer with isolation.level=read_committed: it stops at the
 * last stable offset (an open transaction's first record) and skips the
 * batches of aborted transactions.  The front end turns its messages into records and
 * records into deliveries (tdm_broker.stream_append,
 * tdm_consumer_ops.deliver_record).
 *
 * Must not depend on: libevent (topics.h hides it), protocol front ends.
 */
#ifndef TANDEM_CORE_STREAM_H
#define TANDEM_CORE_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "core/queue.h"
#include "core/replica.h"
#include "core/topic_types.h"

/* Longest topic name logstore accepts. */
#define TDM_TOPIC_NAME_MAX 240

/* How an append picks the partition of a multi-partition topic. */
enum tdm_pkey {
	TDM_PKEY_ROUTING_KEY = 0, /* the key given by the front end (AMQP: routing key) */
	TDM_PKEY_HEADER = 1,      /* a named header's value (round robin when absent) */
};

/* What a stream queue's declaration asks for. */
struct tdm_stream_spec {
	const char *topic;        /* borrowed; NULL: tdm_stream_topic_name(vhost, queue) */
	size_t topic_len;
	int32_t cluster_size;     /* cluster: replicas of its own topic (x-initial-
				     cluster-size); 0: every live node, as RabbitMQ */
	uint8_t others_create;    /* cluster: the node that declared the queue asks
				     the controller for its topic; this one waits */
	uint8_t own_topic;        /* 1: the queue's own log, deleted with the queue;
				     0: a view of a topic that outlives the queue */
	uint8_t pkey;             /* enum tdm_pkey */
	const char *pkey_header;  /* borrowed; TDM_PKEY_HEADER */
	size_t pkey_header_len;
	int32_t partitions;       /* partitions if the topic has to be created (>= 1) */
	int64_t max_bytes;        /* retention.bytes when creating; -1: unlimited */
	int64_t max_age_ms;       /* retention.ms when creating; -1: forever */
	int64_t segment_bytes;    /* segment.bytes when creating; -1: 500 MB (RabbitMQ's) */
};
/* Fills s with the defaults: own topic, routing-key partitioning, one
 * partition, keep everything (RabbitMQ streams have no retention by default). */
void tdm_stream_spec_init(struct tdm_stream_spec *s);

/*
 * The topic of queue `name` in vhost `vhost` (written NUL-terminated to out;
 * returns its length):
 *  - vhost "/" and a name that is a legal Kafka topic name not starting
 *    with "__": the name itself ("orders" -> "orders");
 *  - otherwise "__" + esc(vhost) + "." + esc(name), where esc keeps
 *    [A-Za-z0-9-] and writes every other byte as "_" and two lowercase hex
 *    digits ("/", "my queue" -> "___2f.my_20queue"; "shop", "a.b" ->
 *    "__shop.a_2eb");
 *  - when that is longer than 240 bytes: "__h." + the SHA-256 (hex) of
 *    vhost + NUL + name.
 * The three forms cannot collide with each other.
 */
size_t tdm_stream_topic_name(const char *vhost, size_t vhost_len, const char *name,
			     size_t name_len, char out[TDM_TOPIC_NAME_MAX + 1]);
/* The topic of quorum queue `name` in vhost `vhost` (core/quorum.h):
 * "___quorum." + esc(vhost) + "." + esc(name), esc as above, or
 * "___quorum.h." + the SHA-256 (hex) of vhost NUL name when that is
 * longer than 240 bytes.  It belongs to no vhost (tdm_topic_vhost: "_q"
 * is no escape esc writes), so no client reaches it by name. */
size_t tdm_quorum_topic_name(const char *vhost, size_t vhost_len, const char *name,
			     size_t name_len, char out[TDM_TOPIC_NAME_MAX + 1]);
/* Asks the controller (r) for topic `name` of np partitions of rf
 * replicas each (0, or more than the live nodes: every live node), this
 * node the preferred leader of every partition, the others round robin
 * after it, with configs kv[0..nkv).  As tdm_replica_create_topic. */
int tdm_stream_cluster_create(struct tdm_replica *r, const char *name, int32_t np, size_t rf,
			      const struct tdm_kv *kv, size_t nkv, tdm_replica_done_fn done,
			      void *arg, struct tdm_replica_op **op, char *err, size_t errlen);
/*
 * The vhost topic `name` belongs to, the inverse of tdm_stream_topic_name:
 *  - a name not starting with "__": vhost "/" (Kafka's own topics and "/"'s
 *    stream queues with plain names);
 *  - "__" + esc(V) + "." + anything, with esc(V) exactly as
 *    tdm_stream_topic_name writes it: vhost V;
 *  - anything else starting with "__" (the store's internal topics such as
 *    "__consumer_offsets", the "__h." digest form, malformed escapes):
 *    no vhost, so no client ever reaches it by name.
 * Writes V (not NUL-terminated, at most out_cap bytes) to out and returns its
 * length, or -1 for no vhost.
 */
int tdm_topic_vhost(const char *name, size_t len, char *out, size_t out_cap);
/*
 * The name topic `name` has inside its vhost, the resource name permissions
 * are checked against: a name not starting with "__" is itself; "__" +
 * esc(V) + "." + rest is rest with every "_" + two lowercase hex digits
 * read back as that byte (a stream queue's topic gives the queue's name:
 * "__shop.a_2eb" -> "a.b"; other bytes are kept as they are).  Writes it
 * NUL-terminated to out (out_cap counts the NUL) and returns its length,
 * or -1 when the topic belongs to no vhost (tdm_topic_vhost) or it does
 * not fit.
 */
int tdm_topic_local_name(const char *name, size_t len, char *out, size_t out_cap);
/* 1 when topic name[0..len) belongs to vhost[0..vhost_len) (tdm_topic_vhost). */
int tdm_topic_in_vhost(const char *name, size_t len, const char *vhost, size_t vhost_len);
/* 1 when name[0..len) is a legal topic name for logstore. */
int tdm_stream_topic_legal(const char *name, size_t len);

/*
 * Makes q a stream queue over the topic s names, creating the topic when
 * it does not exist (retention from s).  The queue keeps a copy of s.
 * 0, or -1 when the topic cannot be created, a view's topic (own_topic 0)
 * does not belong to q's vhost (tdm_topic_in_vhost), or memory is short
 * (logged).  In a cluster the queue's own topic is asked of the
 * controller by the node that declared the queue (replication factor
 * x-initial-cluster-size, default every live node, capped at the live
 * nodes; that node the preferred leader of every partition, the
 * retention as topic configs) and 0 is returned at once: the front end
 * waits for tdm_stream_ready before it answers the declaration.  A topic
 * the cluster already has (the queue declared on another node) is used as
 * it is; a local topic is never made for it (a view's missing topic is
 * asked of the controller the same way, and not deleted with the queue).
 */
int tdm_stream_attach(struct tdm_queue *q, const struct tdm_stream_spec *s);
/* q's spec (pointers borrowed from q), for persisting it. */
void tdm_stream_get_spec(const struct tdm_queue *q, struct tdm_stream_spec *out);
/* Frees q's stream state (the queue is being freed). */
void tdm_stream_free(struct tdm_queue *q);
/*
 * 1 when q can be used: on a single node, always; in a cluster, once
 * its topic exists here and (its own topic) every partition has a
 * leader.  0 while not, with a reason in *why (static or q's; a creation
 * that failed is asked again).
 */
int tdm_stream_ready(struct tdm_queue *q, const char **why);
/* q was deleted: deletes its topic when it is the queue's own (in a
 * cluster through the controller, on every node; nobody waits for it). */
void tdm_stream_removed(struct tdm_queue *q);
/* q's topic (looked up by name: Kafka clients may delete it), or NULL. */
struct ls_topic *tdm_stream_topic(struct tdm_queue *q);
/* Records stored in q's topic (all partitions; in a cluster, up to each
 * partition's high watermark). */
uint64_t tdm_stream_count(struct tdm_queue *q);

/*
 * Appends one record to q's topic (recreated if a Kafka client deleted
 * it): partition 0 of a one-partition topic; else murmur2 of pkey like
 * Kafka's default partitioner, or round robin when pkey is NULL.  Wakes
 * the topic's readers.  Returns 0 and the record's offset (may be NULL),
 * or a negative TDM_ERR_* (the publisher is nacked).  In a cluster only the partition's leader appends, and only
 * while its ISR has min.insync.replicas: else TDM_REPL_NOT_LEADER,
 * TDM_REPL_NO_LEADER or TDM_REPL_NOT_ENOUGH (logged); the append is
 * confirmed once tdm_stream_acked says so.
 */
int tdm_stream_append(struct tdm_queue *q, const struct tdm_record *rec, const void *pkey,
		      size_t pkey_len, uint64_t *offset);
/* tdm_stream_append that also gives the record's partition (may be NULL). */
int tdm_stream_append_at(struct tdm_queue *q, const struct tdm_record *rec, const void *pkey,
			 size_t pkey_len, int32_t *partition, uint64_t *offset);

/* Where a publish on a node that does not lead the partition is told its
 * fate (tdm_stream_publish): core/replica.h's done and op. */
struct tdm_stream_forward {
	tdm_replica_done_fn done;
	void *arg;
	struct tdm_replica_op **op; /* set while the leader's answer is awaited */
};
#define TDM_STREAM_FORWARDED 1

/*
 * tdm_stream_append_at that, in a cluster, on a node that does not lead
 * the record's partition, sends the record to the leader over the cluster
 * link (core/replica.h: tdm_replica_forward) when fwd is not NULL:
 * TDM_STREAM_FORWARDED then, and fwd->done(fwd->arg, rc, msg) later with
 * the leader's answer (TDM_REPL_OK once its in-sync replicas have it).
 * The link gathers the records a loop turn forwards to one partition
 * into one Produce (one RecordBatch v2), sent in order: one publisher's
 * records keep their order and their dones run in it.
 * Without a link, or with fwd NULL, the publish is refused as by
 * tdm_stream_append_at.
 */
int tdm_stream_publish(struct tdm_queue *q, const struct tdm_record *rec, const void *pkey,
		       size_t pkey_len, const struct tdm_stream_forward *fwd, int32_t *partition,
		       uint64_t *offset);
/*
 * Publisher confirms of an append in a cluster (acks=all): TDM_REPL_OK
 * once record `offset` of topic/partition is fsynced here and every ISR
 * member has it (high watermark past it), 1 while not yet, or a negative
 * code: TDM_REPL_NOT_ENOUGH_AFTER (the ISR fell below
 * min.insync.replicas), TDM_REPL_NOT_LEADER (leadership moved),
 * TDM_REPL_UNKNOWN (deleted), TDM_ERR_IO (its fsync failed).  Waiters
 * are woken through tdm_topics_wait_flush.  Single node: TDM_REPL_OK once
 * fsynced.
 */
struct tdm_broker;
int tdm_stream_acked(struct tdm_broker *b, const char *topic, int32_t partition, uint64_t offset);

/* Where a consumer starts reading. */
enum tdm_stream_from {
	TDM_FROM_NEXT = 0,   /* only records appended from now on (RabbitMQ's default) */
	TDM_FROM_FIRST,      /* the oldest record still stored */
	TDM_FROM_LAST,       /* the first record of the last batch ("chunk") */
	TDM_FROM_OFFSET,     /* value: an offset, clamped into the log */
	TDM_FROM_TIME,       /* value: ms since the epoch; the first record at or after it */
};
/*
 * Gives consumer c a read cursor on partition `partition` of q's topic,
 * positioned as `from` says (resolved now: "next" is the end of the log at
 * this moment).  Call before tdm_queue_attach.  0, or -1 (no memory).
 */
int tdm_stream_subscribe(struct tdm_queue *q, struct tdm_consumer *c, enum tdm_stream_from from,
			 int64_t value, int32_t partition);
/* 1 when this node can serve consumers of partition `partition` of q:
 * not in a cluster, or this node holds one of its replicas (as its state
 * says; before there is one, when its log is here).  RabbitMQ 3.10 refuses
 * a consumer on a node without a replica of the stream (406); so do the
 * front ends. */
int tdm_stream_local(struct tdm_queue *q, int32_t partition);
/* Frees c's cursor (tdm_queue_detach calls it). */
void tdm_stream_unsubscribe(struct tdm_consumer *c);
/*
 * The dispatch pass of a stream queue: every consumer that can take a
 * message reads on from its cursor, at most `budget` records each, handed
 * to ops->deliver_record (counted unacked on q).  Consumers at the end of
 * the log wait for the next append.  Returns 1 when some consumer stopped
 * on the budget with more to read.
 */
int tdm_stream_dispatch(struct tdm_queue *q, unsigned budget);

#endif
