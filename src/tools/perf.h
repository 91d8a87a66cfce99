/*
 * tandem-perf: shared types of the benchmark client.  One run has producers
 * and consumers (one thread and one connection each); a mode (AMQP now, the
 * Kafka-protocol log) supplies the thread bodies and the topology
 * set-up through struct perf_mode, and everything else - pacing, the message
 * stamp, sequence checks, latency histograms, progress and the summary - is
 * mode-neutral and lives in perf_run.c, perf_track.c, perf_hist.c and
 * perf_report.c.
 *
 * Must not depend on: any client library (rabbitmq-c, librdkafka); those
 * belong to the mode files.  Our symbols use the prefix perf_: rabbitmq-c
 * owns amqp_ and librdkafka owns rd_kafka_.
 */
#ifndef TANDEM_TOOLS_PERF_H
#define TANDEM_TOOLS_PERF_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tools/perf_hist.h"
#include "tools/perf_track.h"

/* Every message body starts with this stamp (little endian):
 *   u32 magic, u32 run id, u32 producer id, u32 reserved, u64 seq, u64 send ns
 * The send time is CLOCK_MONOTONIC, so producer and consumer must share a
 * host (they share a process here). */
#define PERF_STAMP_SIZE 32
#define PERF_MAGIC UINT32_C(0x46525054) /* "TPRF" */

struct perf_kv {
	char *key;   /* owned */
	char *value; /* owned */
};

/* Command-line options; filled by perf_opts_parse() from the table in perf_opts.c. */
struct perf_opts {
	char *mode;          /* owned; "amqp" or "log" */
	char *uri;           /* owned; host:port or amqp://user:pass@host:port/vhost (log: Kafka bootstrap) */
	char *consumer_uri;  /* owned; amqp: consumers connect here ("" = uri): another node */
	char *setup_uri;     /* owned; amqp: the queues are declared here ("" = uri) */
	bool tls;            /* --tls: AMQPS, or Kafka security.protocol=ssl */
	char *cacert;        /* owned; --cacert PEM file, "" = do not verify the broker */
	char *cert;          /* owned; --cert client certificate (PEM), "" = none */
	char *key;           /* owned; --key client private key (PEM) */
	int producers;       /* -x */
	int consumers;       /* -y */
	uint64_t size;       /* -s, body bytes, at least PERF_STAMP_SIZE */
	double rate;         /* -r, messages/s per producer, 0 = unlimited */
	double duration;     /* -z seconds of publishing, 0 = until -C */
	uint64_t count;      /* -C messages per producer, 0 = until -z */
	int confirm;         /* -c publisher-confirm window, 0 = no confirms (log: records in flight) */
	bool autoack;        /* -a */
	int prefetch;        /* -q, 0 = unlimited */
	int multi_ack;       /* -A, ack with multiple=true every N deliveries */
	bool persistent;     /* -f, delivery-mode 2 */
	bool durable;        /* -d, durable queues and exchange */
	int queues;          /* --fanout K: K queues, each bound to receive every message */
	char *exchange;      /* owned; -e, "" = default exchange */
	char *exchange_type; /* owned; -t */
	char *routing_key;   /* owned; -k */
	char *queue;         /* owned; -u, queue name prefix */
	struct perf_kv *queue_args; /* owned; --queue-args, repeatable */
	size_t n_queue_args;
	struct perf_kv *consumer_args; /* owned; --consumer-args (basic.consume arguments), repeatable */
	size_t n_consumer_args;
	bool consume_later;   /* consumers start reading once every producer is done */
	/* log mode */
	char *topic;          /* owned */
	int partitions;
	int replication_factor; /* of the topic created; -1 = the broker's default */
	double linger_ms;
	uint64_t batch_size;  /* bytes per produce batch (librdkafka batch.size) */
	int batch_num;        /* records per produce batch (batch.num.messages) */
	char *acks;           /* owned; "0", "1", "all" */
	char *compression;    /* owned; "none", "gzip", ... */
	bool idempotence;     /* producer enable.idempotence */
	char *transactional_id; /* owned; "" = no transactions, else producer i uses ID (one) or ID-<i> */
	uint64_t txn_records; /* records per transaction */
	char *isolation_level; /* owned; consumer isolation.level */
	int fetch_wait_ms;    /* consumer fetch.wait.max.ms */
	char *group;          /* owned; "" = consumers assign() partitions, else subscribe as this group */
	int batch;            /* messages coalesced into one write by a producer */
	double drain_timeout; /* s to wait for confirms and deliveries after publishing */
	double max_time;      /* s, hard bound on the whole run */
	double interval;      /* s between progress lines, 0 = none */
	bool declare_only;    /* declare the topology, leave it, exit */
	bool no_cleanup;      /* keep queues and exchange after the run */
	bool help;
};

/* Parse argv into o (defaults first).  Returns 0, 1 after printing --help,
 * or -1 with a message in err. */
int perf_opts_parse(struct perf_opts *o, int argc, char **argv, char *err, size_t errlen);
void perf_opts_free(struct perf_opts *o);
void perf_opts_usage(FILE *out);

struct perf_run;

/* One producer or consumer: a thread with its own connection. */
struct perf_worker {
	struct perf_run *run; /* borrowed */
	int id;               /* producer id (stamped into messages) or consumer id */
	int queue;            /* consumer: index of the queue it reads */
	bool producer;
	pthread_t thread;
	bool started;
	atomic_bool ready;  /* connected and subscribed / ready to publish */
	atomic_bool done;   /* thread body returned */
	atomic_int fd;      /* socket, -1 if none; shut down on a hard timeout */
	int rc;             /* 0, or -1 with err */
	char err[256];

	/* live counters: written by the worker, read by the progress line */
	_Atomic uint64_t published, settled, confirmed, nacked;
	_Atomic uint64_t received, foreign;
	_Atomic uint64_t iv_lat_sum, iv_lat_n, iv_lat_max; /* ns, this progress interval */
	_Atomic uint64_t blocked_ns;                       /* producer: time under connection.blocked */

	/* private to the worker until joined */
	uint64_t t_last_ns;      /* last publish or receipt */
	uint64_t t_recv_start_ns; /* consumer: when it began reading (--consume-later), 0 = the run's start */
	struct perf_hist hist;   /* consumer: end-to-end latency */
	struct perf_pub_track pub;  /* producer: confirm state per seq */
	struct perf_sub_track *sub; /* consumer: one per producer */
	uint64_t redelivered;

	void *mode_state; /* owned by the mode */
};

/* A mode: how to talk to one kind of broker.  All callbacks return 0 or -1
 * with a message; worker callbacks put theirs in w->err. */
struct perf_mode {
	const char *name;
	/* reject option combinations the mode cannot serve */
	int (*validate)(const struct perf_opts *o, char *err, size_t errlen);
	/* declare what the run needs (queues, exchange, bindings / topics);
	 * may keep a connection in run->mode_state for cleanup */
	int (*setup)(struct perf_run *run, char *err, size_t errlen);
	/* thread bodies; set w->ready once able to publish / receive, then follow
	 * perf_producer_next() / perf_consumer_running() */
	int (*producer)(struct perf_worker *w);
	int (*consumer)(struct perf_worker *w);
	/* remove what setup declared, unless keep; free run->mode_state */
	int (*cleanup)(struct perf_run *run, bool keep, char *err, size_t errlen);
	/* unstick a worker blocked in a library call (hard timeout); may be NULL */
	void (*interrupt)(struct perf_worker *w);
};

extern const struct perf_mode perf_mode_amqp;
extern const struct perf_mode perf_mode_log;

enum perf_phase {
	PERF_CONNECT, /* workers connecting */
	PERF_RUN,     /* producers publishing */
	PERF_DRAIN,   /* producers done; waiting for confirms and deliveries */
	PERF_STOP,    /* consumers stop */
	PERF_ABORT,   /* hard timeout or fatal error: everyone stops now */
};

struct perf_run {
	const struct perf_opts *opts; /* borrowed */
	const struct perf_mode *mode; /* borrowed */
	uint32_t run_id;
	atomic_int phase;             /* enum perf_phase */
	_Atomic uint64_t t_start_ns;  /* producers' common start */
	uint64_t t_publish_end_ns;    /* duration bound for producers */
	uint64_t t_hard_ns;           /* everything stops by then */
	uint64_t t_drain_end_ns;      /* producers stop waiting for confirms then */
	int n_producers, n_consumers;
	struct perf_worker *producers; /* owned array */
	struct perf_worker *consumers; /* owned array */
	void *mode_state;              /* owned by the mode */
};

/* Monotonic clock in ns. */
uint64_t perf_now_ns(void);
/* Sleep until the monotonic instant t (absolute, so a schedule never drifts). */
void perf_sleep_until(uint64_t t);

/* Producer pacing.  Returns true while message seq should be published,
 * false when the count, the duration or an abort ends publishing.  *due_ns
 * is when it is due on the rate schedule (start + seq / rate; 0 if
 * unlimited): a producer that is early flushes what it buffered, then
 * sleeps until then; one that is late publishes at once, so the average
 * rate holds without drift. */
bool perf_producer_next(struct perf_worker *w, uint64_t seq, uint64_t *due_ns);
/* Write the stamp for (w, seq) at the start of body, timestamped now. */
void perf_stamp(struct perf_worker *w, uint8_t *body, uint64_t seq);
/* Record a broker confirm: ack or nack of seq (delivery tag - 1), or of every
 * seq up to it if multiple. */
void perf_confirm(struct perf_worker *w, uint64_t seq, bool multiple, bool ack);
/* Messages published but not yet settled by a confirm. */
uint64_t perf_outstanding(const struct perf_worker *w);

/* Consumer: true while it should keep receiving. */
bool perf_consumer_running(const struct perf_worker *w);
/* Account one delivered message whose body starts with head (head_len bytes
 * of it, at least PERF_STAMP_SIZE to count; foreign bodies are counted apart). */
void perf_receive(struct perf_worker *w, const uint8_t *head, size_t head_len, bool redelivered);

/* True once the run is aborting: every loop checks it at least every 100 ms. */
bool perf_aborting(const struct perf_run *run);

#endif
