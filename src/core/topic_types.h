/*
 * The types the front ends share with core's log door (core/topics.h,
 * core/topic_ops.h, core/groups.h): handles of topics and partitions,
 * records, append and read results, configuration pairs, committed
 * offsets, status codes.  Front ends see logs only through these and the
 * tdm_* calls; logstore/logstore.h stays below core.
 *
 * The handles `struct ls_topic` and `struct ls_partition` are opaque
 * here: a front end holds them and hands them back, nothing more.
 * struct tdm_header and struct tdm_record are laid out as logstore's
 * records so that core passes them through without copying the header
 * arrays (checked by static assertions in core/topic_ops.c).
 *
 * Must not depend on: logstore (this header replaces it above core),
 * libevent, protocol front ends.
 */
#ifndef TANDEM_CORE_TOPIC_TYPES_H
#define TANDEM_CORE_TOPIC_TYPES_H

#include <stddef.h>
#include <stdint.h>

struct ls_topic;     /* opaque: valid until the topic is deleted */
struct ls_partition; /* opaque: valid until its topic is deleted */

/*
 * Status codes of the log door: 0 is success, negative values errors.
 * The storage errors keep logstore's values (core maps them one to one,
 * core/topic_ops.c checks it); the comments give the Kafka error a front
 * end answers with.  Each front end maps these in its one place
 * (src/kafka/errors.c, src/http's hx_topic_error).  They are not
 * core/broker.h's TDM_E_* (the queue side's statuses, with RabbitMQ's
 * reply codes): a call says which family it returns.
 */
#define TDM_TOPIC_OK 0
#define TDM_ERR_NOMEM (-1)
#define TDM_ERR_IO (-2)                  /* KAFKA_STORAGE_ERROR (56) */
#define TDM_ERR_INVALID (-3)             /* bad argument; partition shrink (37) */
#define TDM_ERR_EXISTS (-4)              /* topic already exists (36) */
#define TDM_ERR_NOT_FOUND (-5)           /* no such topic/partition/offset (3) */
#define TDM_ERR_OFFSET_OUT_OF_RANGE (-6) /* (1) */
#define TDM_ERR_CORRUPT (-7)             /* (2) */
#define TDM_ERR_INVALID_RECORD (-8)      /* (87) */
#define TDM_ERR_TOO_LARGE (-9)           /* (10) */
#define TDM_ERR_UNSUPPORTED_CODEC (-10)  /* (76) */
#define TDM_ERR_INVALID_CONFIG (-11)     /* (40) */
#define TDM_ERR_INVALID_TOPIC (-12)      /* (17) */
#define TDM_ERR_LOCKED (-13)             /* data directory in use elsewhere */
#define TDM_ERR_BUSY (-14)               /* partitions of the topic are being added */
#define TDM_ERR_OUT_OF_ORDER_SEQUENCE (-15) /* idempotent producer (45) */
#define TDM_ERR_PRODUCER_FENCED (-16)    /* idempotent producer's old epoch (47) */
#define TDM_ERR_INVALID_TIMESTAMP (-17)  /* a producer set LogAppendTime (32) */
/* The broker's partition limit (max_partitions) would be passed: Kafka's
 * POLICY_VIOLATION. */
#define TDM_TOPICS_ERR_LIMIT (-100)

/* A short English description of a status code; never NULL. */
const char *tdm_strerror(int rc);

/* Compression codecs (RecordBatch attributes bits 0-2). */
#define TDM_CODEC_NONE 0
#define TDM_CODEC_GZIP 1
#define TDM_CODEC_ZSTD 4 /* RecordBatch v2 only (KIP-110) */
#define TDM_CODEC_TOPIC (-1) /* the topic's compression.type */

/* A name/value pair: topic config at creation or alteration. */
struct tdm_kv {
	const char *name;
	const char *value; /* NULL when altering: back to the default */
};

struct tdm_header {
	const char *key;
	size_t key_len;
	const void *value; /* NULL: null value */
	size_t value_len;
};

/* One record.  Pointers are borrowed: for an append for the call only, for
 * a record being read until the reader's next step. */
struct tdm_record {
	const void *key; /* NULL: no key */
	size_t key_len;
	const void *value; /* NULL: null value (a tombstone when keyed) */
	size_t value_len;
	const struct tdm_header *headers;
	size_t header_count;
	int64_t timestamp; /* ms; appending: < 0 means now */
	uint64_t offset;   /* set when read; ignored when appending */
};

/* Why a producer's batch was refused, where known (tdm_topics_produce):
 * index is the record (of a legacy message set: the message; in a
 * compressed wrapper the inner message) at fault, -1 for the whole batch;
 * message a static English text (NULL: none). */
struct tdm_append_error {
	int32_t index;
	const char *message;
};

struct tdm_append_result {
	uint64_t base_offset; /* offset given to the first record */
	uint64_t last_offset;
	int64_t log_append_time; /* ms with LogAppendTime, else -1 */
};

/* One file range of whole batches (Kafka's RecordBatch v2 bytes), and the
 * partition's bounds.  Held until tdm_topics_read_release. */
struct tdm_read_result {
	int fd;                /* borrowed until released; -1 if len == 0 */
	uint64_t file_pos;     /* where the range starts in fd */
	size_t len;            /* bytes: whole batches; 0 at the log end */
	uint64_t first_offset; /* base offset of the first batch */
	uint64_t next_offset;  /* where the next read should start */
	uint64_t log_start;
	uint64_t high_watermark; /* log end offset */
	void *ref;             /* internal: keeps the segment file open */
};

/* A histogram of fsync round durations (for /metrics): bucket[i] counts
 * rounds of at most tdm_fsync_bound_us(i) microseconds (not cumulative). */
#define TDM_FSYNC_BUCKETS 12
struct tdm_fsync_hist {
	uint64_t count;
	uint64_t sum_us;
	uint64_t bucket[TDM_FSYNC_BUCKETS];
};
uint32_t tdm_fsync_bound_us(int i);

#endif
