/*
 * logstore/logstore.h: tandem's storage engine for Kafka-style logs.
 *
 * A store is one data directory holding topics; a topic has N partitions
 * (N can grow, never shrink); a partition is an append-only sequence of
 * records numbered by 64-bit offsets from 0, never reused.  Records are
 * kept in segment files in Kafka's RecordBatch v2 layout (magic 2,
 * CRC-32C), so a Kafka Fetch can send the file ranges that ls_read returns
 * without re-encoding, and a reader that needs records decodes them with
 * ls_decoder.  Retention (time, size) and compaction run in small steps
 * driven by the caller; durability follows flush.messages / flush.ms with
 * group commit; consumer-group offsets are kept in the compacted internal
 * topic "__consumer_offsets".
 *
 * Threading: the library is synchronous and not thread-safe.  Everything
 * is called from one thread (the broker's loop thread) except
 * ls_sync_run(), which may run on any thread while the loop thread goes
 * on appending (see "Durability" below).  There is no event loop and no
 * timer inside: the caller drives ls_flush_step() and ls_retention_step().
 *
 * On disk, under the store directory:
 *   <topic>.topic                    topic metadata (partitions, config
 *                                    overrides), replaced atomically
 *   <topic>-<partition>/             one folder per partition
 *       <base offset %020>.log       batches, byte-identical to the wire
 *       <base offset %020>.index     sparse offset index: u32 relative
 *                                    offset, u32 file position (big-endian)
 *       <base offset %020>.timeindex i64 timestamp, u32 relative offset
 *       <offset %020>.snapshot       producer state (idempotent producers,
 *                                    open and aborted transactions) at that
 *                                    offset ("TPS2", CRC-32C); derived from
 *                                    the log, only saves reading it
 *       leader-epoch-checkpoint      leader epochs (KIP-101), Kafka's text
 *                                    format: "0", the count, then
 *                                    "<epoch> <start offset>" lines;
 *                                    replaced atomically; absent: none
 *   recovery-point-offset-checkpoint per partition: offset below which
 *                                    data is known durable, cleaner point
 *   replication-offset-checkpoint    per partition: the high watermark,
 *                                    "1" then "<partition folder> <high
 *                                    watermark>" lines; written with the
 *                                    recovery checkpoint once a high
 *                                    watermark was ever set (or the file
 *                                    exists)
 *   <other files>                    the embedding broker's own, written by
 *                                    ls_store_write_file (tandem's
 *                                    broker_configs); never read here
 *   .clean_shutdown                  present only between ls_close and the
 *                                    next ls_open
 *   .lock                            flock()ed while the store is open
 *   quarantine/<topic>-<partition>/  damaged bytes cut out at open, and
 *                                    partition folders of no topic that
 *                                    hold data; never read, never deleted
 *
 * Must not depend on: anything but libc, POSIX and the codec libraries
 * (zlib, libsnappy, liblz4, libzstd; no libevent, no src/ headers).
 */
#ifndef TANDEM_LOGSTORE_H
#define TANDEM_LOGSTORE_H

#include <stddef.h>
#include <stdint.h>

/* Status codes: 0 is success, negative values are errors.  The comments
 * give the Kafka error a front end should answer with. */
#define LS_OK 0
#define LS_ERR_NOMEM (-1)
#define LS_ERR_IO (-2)                 /* a system call failed (errno kept) */
#define LS_ERR_INVALID (-3)            /* bad argument; partition shrink (37) */
#define LS_ERR_EXISTS (-4)             /* topic already exists (36) */
#define LS_ERR_NOT_FOUND (-5)          /* no such topic/partition/offset (3) */
#define LS_ERR_OFFSET_OUT_OF_RANGE (-6) /* below log start or above end (1) */
#define LS_ERR_CORRUPT (-7)            /* CRC-32C mismatch (2) */
#define LS_ERR_INVALID_RECORD (-8)     /* bad magic, layout, keyless record
					  on a compacted topic (87) */
#define LS_ERR_TOO_LARGE (-9)          /* batch > max.message.bytes (10) */
#define LS_ERR_UNSUPPORTED_CODEC (-10) /* codec we cannot store or decode (76) */
#define LS_ERR_INVALID_CONFIG (-11)    /* unknown key or bad value (40) */
#define LS_ERR_INVALID_TOPIC (-12)     /* illegal topic name (17) */
#define LS_ERR_LOCKED (-13)            /* data directory in use elsewhere */
#define LS_ERR_BUSY (-14)              /* partitions of the topic are being added */
#define LS_ERR_OUT_OF_ORDER_SEQUENCE (-15) /* idempotent producer's sequence gap (45) */
#define LS_ERR_PRODUCER_FENCED (-16)   /* idempotent producer's old epoch (47) */
#define LS_ERR_INVALID_TIMESTAMP (-17) /* a producer set LogAppendTime (32) */

/* A short English description of a status code; never NULL. */
const char *ls_strerror(int err);

/* Compression codecs, as in the RecordBatch attributes bits 0-2, in
 * Kafka's wire formats (logstore/codec.c): gzip; snappy as raw blocks or in
 * snappy-java's framing (read both, written framed, as the Java client
 * does); lz4 as LZ4 frames; zstd frames.  Every one is decoded, validated,
 * compacted and written here; 5-7 are refused (LS_ERR_UNSUPPORTED_CODEC). */
#define LS_CODEC_NONE 0
#define LS_CODEC_GZIP 1
#define LS_CODEC_SNAPPY 2
#define LS_CODEC_LZ4 3
#define LS_CODEC_ZSTD 4
#define LS_CODEC_TOPIC (-1) /* ls_append: use the topic's compression.type */

/* Values of the enumerated topic configs. */
#define LS_CLEANUP_DELETE 1
#define LS_CLEANUP_COMPACT 2
#define LS_TS_CREATE_TIME 0
#define LS_TS_LOG_APPEND_TIME 1
#define LS_COMPRESSION_PRODUCER (-1)

/*
 * Effective configuration of a topic, Kafka's topic-level keys and
 * defaults (in brackets where we differ):
 *   segment.bytes 1 GiB, segment.ms 7 d, segment.index.bytes 10 MiB,
 *   index.interval.bytes 4096, retention.ms 7 d (-1 = forever),
 *   retention.bytes -1, cleanup.policy delete, delete.retention.ms 1 d,
 *   min.cleanable.dirty.ratio 0.5, flush.messages Long.MAX,
 *   flush.ms [1000: Kafka leaves the OS to write back; we fsync on a
 *   timer], max.message.bytes 1048588, message.timestamp.type CreateTime,
 *   compression.type producer (also uncompressed, gzip, snappy, lz4,
 *   zstd: see ls_append_batch), message.format.version 3.0 (ignored).
 * Set fields through ls_config_set so the values are validated.
 */
struct ls_topic_config {
	int64_t segment_bytes;
	int64_t segment_ms;
	int64_t segment_index_bytes;
	int64_t index_interval_bytes;
	int64_t retention_ms;
	int64_t retention_bytes;
	int64_t cleanup_policy; /* LS_CLEANUP_* bits */
	int64_t delete_retention_ms;
	double min_cleanable_dirty_ratio;
	int64_t flush_messages;
	int64_t flush_ms;
	int64_t max_message_bytes;
	int64_t timestamp_type;   /* LS_TS_* */
	int64_t compression_type; /* LS_COMPRESSION_PRODUCER or LS_CODEC_* */
	/* Replication settings the store keeps for the embedding broker and
	 * otherwise ignores: min.insync.replicas 1, and
	 * unclean.leader.election.enable false (0/1). */
	int64_t min_insync_replicas;
	int64_t unclean_leader_election;
	/* message.format.version, a Kafka release as major*10000 + minor*100
	 * (0.x: minor*100 + patch), default 3.0: kept and ignored, as Kafka 3
	 * does (KIP-724); every batch is stored in the v2 format. */
	int64_t message_format_version;
};

/* Fills c with the defaults above. */
void ls_config_defaults(struct ls_topic_config *c);
/* Parses `value` for config key `name` into c.  Returns LS_OK or
 * LS_ERR_INVALID_CONFIG (unknown key, unparsable or out-of-range value;
 * c unchanged). */
int ls_config_set(struct ls_topic_config *c, const char *name, const char *value);
/* Formats the value of key `name` into buf (NUL-terminated, truncated to
 * len).  Returns LS_OK or LS_ERR_INVALID_CONFIG for an unknown key. */
int ls_config_format(const struct ls_topic_config *c, const char *name,
		     char *buf, size_t len);
/* The i-th config key, for listing them all (DescribeConfigs); NULL past
 * the last. */
const char *ls_config_name(size_t i);


/* A name/value pair: topic config at creation or alteration. */
struct ls_kv {
	const char *name;
	const char *value; /* NULL in ls_topic_set_config: back to the default */
};

struct ls_options {
	/* Wall clock in milliseconds since the epoch; NULL: CLOCK_REALTIME.
	 * Drives record timestamps, segment.ms, retention, flush.ms and
	 * tombstone expiry, so tests can move time. */
	int64_t (*clock_ms)(void *ctx);
	void *clock_ctx;
	/* Broker-wide defaults for every topic config not overridden per
	 * topic (Kafka's log.* settings).  ls_options_init fills in
	 * ls_config_defaults. */
	struct ls_topic_config defaults;
	/* How often ls_flush_step rewrites the recovery-point checkpoint
	 * (Kafka's log.flush.offset.checkpoint.interval.ms). */
	int64_t checkpoint_interval_ms;
	/* Ceiling on the decompressed size of one compressed batch, every
	 * codec (a decompression bomb guard for the decoder and for producer
	 * validation: more is LS_ERR_INVALID_RECORD, never more memory). */
	size_t max_inflated_bytes;
	/* An idempotent producer idle this long (by its last batch's
	 * timestamp) is forgotten, as Kafka's producer.id.expiration.ms
	 * (default 1 day); < 0: never. */
	int64_t producer_id_expiration_ms;
	/* Record headers whose key starts with this are the embedding
	 * broker's own: ls_append_batch (a producer's batch) refuses a batch
	 * carrying one with LS_ERR_INVALID_RECORD, whatever its codec;
	 * ls_append writes them.  A static string
	 * (borrowed for the store's life); NULL: none. */
	const char *reserved_header_prefix;
	/* Damage found while opening (a batch failing its CRC, a torn tail,
	 * a missing or invalid topic metadata file) is reported here, one
	 * line per event without a newline; NULL: written to stderr. */
	void (*warn)(void *ctx, const char *msg);
	void *warn_ctx;
	/* 1: validate every batch of every segment (length, CRC-32C) at each
	 * open, clean or not, as after a crash.  For stores that are read
	 * whole at start anyway (the broker's journal), so that damage is
	 * salvaged at open instead of failing the first read. */
	int verify_on_open;
};

/* Fills o with defaults: real clock, Kafka's defaults, 60 s, 64 MiB. */
void ls_options_init(struct ls_options *o);

struct ls_store;     /* opaque: an open data directory */
struct ls_topic;     /* opaque: borrowed from the store */
struct ls_partition; /* opaque: borrowed from its topic */
struct ls_decoder;   /* opaque: a reusable record decoder */
struct ls_sync_job;  /* opaque: one fsync round of one partition */

/*
 * Opens (creating if needed) the data directory `dir` and loads every
 * topic.  After an unclean shutdown (or always, with verify_on_open) the
 * segments from each partition's recovery point on are validated batch by
 * batch (length, CRC-32C).  Damage never costs a good batch: a corrupt
 * batch in the middle of a segment is cut out (the segment is rewritten
 * without it, later batches keep their offsets), a torn tail is cut off,
 * and the bytes removed are first copied to
 * quarantine/<topic>-<partition>/<segment>.log.<from>-<to>.damaged; each
 * loss is reported through opt->warn with its byte range and offsets.
 * Indexes are rebuilt where missing or stale.  A partition folder whose
 * <topic>.topic is missing gets its metadata rebuilt from the folders
 * (default config); an invalid key in a metadata file falls back to its
 * default; both are reported.  Nothing holding data is ever deleted.
 * opt may be NULL (defaults); it is copied.  On failure returns NULL and,
 * when err is not NULL,
 * writes a message into err[0..errlen).  Fails with a message if another
 * process holds the directory.
 */
struct ls_store *ls_open(const char *dir, const struct ls_options *opt,
			 char *err, size_t errlen);
/*
 * Flushes and fsyncs every partition, writes the indexes and the
 * recovery-point checkpoint, marks the shutdown clean and frees the store.
 * Outstanding ls_read results and sync jobs must have been released before.
 * Returns LS_OK or the first error met (the store is freed regardless).
 * NULL is fine.
 */
int ls_close(struct ls_store *s);
/* The store's clock (options.clock_ms or the real clock), in ms. */
int64_t ls_now_ms(const struct ls_store *s);

/* ---- topics ---------------------------------------------------------- */

/* A topic's id in a cluster (Kafka's topic id: it tells a topic made again
 * under the same name from the one before), kept in its metadata file;
 * "" when it has none. */
#define LS_TOPIC_ID_MAX 32
const char *ls_topic_id(const struct ls_topic *t);
/* Sets it (written atomically with the metadata): LS_OK, LS_ERR_INVALID
 * (longer than LS_TOPIC_ID_MAX, or a line break), LS_ERR_IO. */
int ls_topic_set_id(struct ls_topic *t, const char *id);

/*
 * Creates topic `name` ([A-Za-z0-9._-]{1,240}: Kafka's 249 less room for
 * the partition suffix within NAME_MAX; not "." or "..") with
 * `partitions` partitions (1 .. 1,000,000) and the given config overrides.
 * The metadata file is the commit point: it is written (temp file, fsync,
 * rename, fsync dir) after the partition folders exist.  Returns LS_OK,
 * LS_ERR_EXISTS, LS_ERR_INVALID_TOPIC, LS_ERR_INVALID (partition count),
 * LS_ERR_INVALID_CONFIG (err says which key), LS_ERR_IO.  err may be NULL.
 */
int ls_topic_create(struct ls_store *s, const char *name, int32_t partitions,
		    const struct ls_kv *configs, size_t nconfigs, char *err,
		    size_t errlen);
/*
 * Deletes a topic: its metadata file goes first (the commit point), then
 * its partition folders, and tombstones are written for the committed
 * group offsets of its partitions.  Topic and partition pointers taken
 * before become invalid; ls_read results still held stay readable until
 * released.  Internal topics cannot be deleted (LS_ERR_INVALID).
 * Returns LS_OK, LS_ERR_NOT_FOUND, LS_ERR_INVALID or LS_ERR_IO.
 */
int ls_topic_delete(struct ls_store *s, const char *name);
/* The topic named `name`, or NULL.  Valid until the topic is deleted or
 * the store closed. */
struct ls_topic *ls_topic_find(struct ls_store *s, const char *name);
typedef void (*ls_topic_fn)(struct ls_topic *t, void *ctx);
/* Calls fn for every topic, in name order (internal topics included; see
 * ls_topic_is_internal).  fn must not create or delete topics. */
void ls_topic_foreach(struct ls_store *s, ls_topic_fn fn, void *ctx);
size_t ls_topic_count(const struct ls_store *s);
/* The store's defaults for every topic (ls_options.defaults); borrowed. */
const struct ls_topic_config *ls_store_defaults(const struct ls_store *s);
/* Replaces the store's defaults (a broker's dynamic log.* settings): every
 * topic's effective configuration is recomputed at once (its overrides
 * stay), so new segment sizes, retention and flush settings apply from the
 * next append or step.  Nothing is written.  LS_OK. */
int ls_store_set_defaults(struct ls_store *s, const struct ls_topic_config *d);
/* Writes file `name` in the store directory atomically (temp file, fsync,
 * rename, fsync of the directory), for the embedding broker's own small
 * state.  name: no '/', '-' or leading '.', not *.topic or *.tmp, so that
 * ls_open never takes it for a topic or partition.  LS_OK,
 * LS_ERR_INVALID, LS_ERR_IO (errno set). */
int ls_store_write_file(struct ls_store *s, const char *name, const void *buf, size_t len);
const char *ls_topic_name(const struct ls_topic *t);
int32_t ls_topic_partition_count(const struct ls_topic *t);
/* 1 for the store's own topics ("__consumer_offsets"), else 0. */
int ls_topic_is_internal(const struct ls_topic *t);
/* The effective configuration (defaults plus overrides); borrowed. */
const struct ls_topic_config *ls_topic_get_config(const struct ls_topic *t);
/* Formats config `name` like ls_config_format; *is_default (may be NULL)
 * tells whether the value comes from the store defaults. */
int ls_topic_config_value(const struct ls_topic *t, const char *name,
			  char *buf, size_t len, int *is_default);
/*
 * Sets (value != NULL) or removes (value == NULL) config overrides, all or
 * nothing, and persists them atomically.  New segment sizes, retention and
 * flush settings apply from the next append or step.  Returns LS_OK,
 * LS_ERR_INVALID_CONFIG (err says which key) or LS_ERR_IO.
 */
int ls_topic_set_config(struct ls_store *s, struct ls_topic *t,
			const struct ls_kv *configs, size_t nconfigs, char *err,
			size_t errlen);
/*
 * Grows the topic to `count` partitions.  As in Kafka, a count not above
 * the current one is refused with LS_ERR_INVALID (partitions never shrink).
 * Partition pointers taken before stay valid.  LS_OK, LS_ERR_INVALID,
 * LS_ERR_IO.
 */
int ls_topic_add_partitions(struct ls_store *s, struct ls_topic *t, int32_t count);

/*
 * The same two operations in three steps, so that the slow part (a folder,
 * segment files and fsyncs per partition: about 0.5 s for 2000
 * partitions) can run on another thread while the store goes on serving:
 *   ls_draft_topic / ls_draft_partitions   the store's thread: checks as
 *       ls_topic_create / ls_topic_add_partitions do and takes the name
 *       (another create of it is LS_ERR_EXISTS, another grow LS_ERR_BUSY);
 *   ls_draft_build                          any one thread: makes the
 *       folders and files (and, for a new topic, its metadata file, the
 *       commit point), touching nothing the store's thread uses;
 *   ls_draft_finish                         the store's thread: the topic
 *       or its new partitions become visible (a grow writes the metadata
 *       file here; if the topic was deleted meanwhile, LS_ERR_NOT_FOUND
 *       and the new folders go), the draft is freed, the build's status
 *       is returned with its message in err.
 * Until finish, the topic (new) or its new partitions (grow) do not exist
 * for lookups, reads, retention or deletes.  Every started draft must be
 * finished before ls_close.
 */
struct ls_draft;
int ls_draft_topic(struct ls_store *s, const char *name, int32_t partitions,
		   const struct ls_kv *configs, size_t nconfigs, struct ls_draft **out,
		   char *err, size_t errlen);
int ls_draft_partitions(struct ls_store *s, struct ls_topic *t, int32_t count,
			struct ls_draft **out);
void ls_draft_build(struct ls_draft *d);
const char *ls_draft_name(const struct ls_draft *d);
int ls_draft_finish(struct ls_draft *d, char *err, size_t errlen);
/* Partition i of t, or NULL when i is out of range. */
struct ls_partition *ls_partition_get(struct ls_topic *t, int32_t i);
struct ls_topic *ls_partition_topic(const struct ls_partition *p);
int32_t ls_partition_index(const struct ls_partition *p);

/* ---- partitioner ----------------------------------------------------- */

/* Kafka's Utils.murmur2 (seed 0x9747b28c) of key[0..len). */
uint32_t ls_murmur2(const void *key, size_t len);
/* Kafka's default partitioner for a keyed record:
 * (murmur2(key) & 0x7fffffff) % n.  n must be > 0. */
int32_t ls_partition_for_key(const void *key, size_t len, int32_t n);
/* Round-robin choice for records without a key: successive calls cycle
 * through the topic's partitions. */
int32_t ls_topic_next_partition(struct ls_topic *t);

/* ---- records and batches --------------------------------------------- */

struct ls_header {
	const char *key;
	size_t key_len;
	const void *value; /* NULL: null value */
	size_t value_len;
};

/* One record.  Pointers are borrowed: for ls_append for the call only,
 * from ls_decoder_next until the decoder's next call. */
struct ls_record {
	const void *key; /* NULL: no key */
	size_t key_len;
	const void *value; /* NULL: null value (a tombstone when keyed) */
	size_t value_len;
	const struct ls_header *headers;
	size_t header_count;
	int64_t timestamp; /* ms; ls_append: < 0 means now */
	uint64_t offset;   /* set by the decoder; ignored by ls_append */
};

/* The decoded 61-byte header of a RecordBatch v2. */
struct ls_batch_info {
	uint64_t base_offset;
	uint32_t size; /* whole batch in bytes, batchLength + 12 */
	int32_t partition_leader_epoch;
	uint32_t crc;
	int16_t attributes;
	int codec; /* attributes & 7 */
	int32_t last_offset_delta;
	int64_t base_timestamp;
	int64_t max_timestamp;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int32_t record_count;
};

#define LS_BATCH_HEADER_SIZE 61

/*
 * Parses the header of the batch at buf[0..len) without looking at the
 * records or the CRC.  Returns LS_OK, LS_ERR_INVALID_RECORD (magic not 2,
 * batchLength too small) or LS_ERR_NOT_FOUND when buf holds less than the
 * header or less than the whole batch (info->size tells how much is
 * needed once 12 bytes are there).
 */
int ls_batch_parse(const void *buf, size_t len, struct ls_batch_info *info);
/*
 * Validates one batch as a Kafka producer sent it: exactly one whole
 * batch in buf[0..len), magic 2, CRC-32C over attributes..end, codec
 * 0-4, not a control batch (control records cannot be produced), not
 * transactional without a producer id, record_count >= 1 and
 * last_offset_delta == record_count - 1; decompresses the records (at most
 * the decoder's max_inflated bytes) and walks every one (offset deltas
 * 0..n-1, lengths in bounds).  When
 * require_keys, a record without a key is refused (compacted topics).
 * Returns LS_OK, LS_ERR_INVALID_RECORD, LS_ERR_CORRUPT,
 * LS_ERR_UNSUPPORTED_CODEC or LS_ERR_NOMEM.  dec may be NULL (a temporary
 * one is made).
 */
int ls_batch_validate(struct ls_decoder *dec, const void *buf, size_t len,
		      int require_keys, struct ls_batch_info *info);

/* A decoder (reusable decompression state and buffers); NULL on
 * allocation failure.  max_inflated (0: 64 MiB) bounds the decompressed
 * size of one batch: a batch over it is LS_ERR_INVALID_RECORD. */
struct ls_decoder *ls_decoder_new(size_t max_inflated);
void ls_decoder_free(struct ls_decoder *d);
/*
 * Points the decoder at buf[0..len): zero or more whole batches as
 * ls_read_copy returns them; a trailing partial batch is ignored.  Records
 * with an offset below min_offset are skipped.  buf is borrowed until the
 * next ls_decoder_set or ls_decoder_free.
 */
void ls_decoder_set(struct ls_decoder *d, const void *buf, size_t len,
		    uint64_t min_offset);
/*
 * The next record: 1 and *rec filled (pointers into buf or the decoder's
 * buffers, valid until the next call), 0 at the end, or an error:
 * LS_ERR_CORRUPT (CRC mismatch; the decoder checks every batch),
 * LS_ERR_INVALID_RECORD (also damaged or truncated compressed data, or
 * more than max_inflated bytes of it), LS_ERR_UNSUPPORTED_CODEC (codecs
 * 5-7), LS_ERR_NOMEM.  batch (may be NULL) receives the header of the batch the
 * record belongs to.  Control batches are skipped.
 */
int ls_decoder_next(struct ls_decoder *d, struct ls_record *rec,
		    struct ls_batch_info *batch);

/* ---- appending --------------------------------------------------------- */

struct ls_append_result {
	uint64_t base_offset; /* offset given to the first record */
	uint64_t last_offset;
	int64_t log_append_time; /* ms with LogAppendTime, else -1 */
};

/*
 * Appends n >= 1 records as one RecordBatch v2 built here (CRC-32C,
 * varints; compressed with codec, or with LS_CODEC_TOPIC in the topic's
 * compression.type: none for producer).  Timestamps < 0 become now; with
 * message.timestamp.type=LogAppendTime every record gets now.  One write
 * per batch, no per-record allocation.  When flush.messages is reached
 * the partition is fsynced before returning.  res may be NULL.  Returns
 * LS_OK, LS_ERR_INVALID (n == 0), LS_ERR_INVALID_RECORD (keyless record
 * on a compacted topic), LS_ERR_TOO_LARGE, LS_ERR_UNSUPPORTED_CODEC,
 * LS_ERR_NOMEM or LS_ERR_IO (the partition is then failed: further
 * appends return LS_ERR_IO, as Kafka takes a log dir offline).
 */
int ls_append(struct ls_partition *p, const struct ls_record *recs, size_t n,
	      int codec, struct ls_append_result *res);
/*
 * Builds one RecordBatch v2 of recs[0..n) as a producer sends it (base
 * offset 0, no leader epoch, no producer id; timestamps < 0 become now;
 * any codec LS_CODEC_NONE .. LS_CODEC_ZSTD) into *out (malloc'd: the caller
 * frees it) and *len.  LS_OK, LS_ERR_INVALID (n == 0), LS_ERR_NOMEM,
 * LS_ERR_UNSUPPORTED_CODEC or LS_ERR_TOO_LARGE.
 */
int ls_batch_build(const struct ls_record *recs, size_t n, int codec, int64_t now_ms,
		   void **out, size_t *len);
/*
 * Appends one batch exactly as a Kafka producer sent it (Produce v3+):
 * validated with ls_batch_validate (and refused with LS_ERR_INVALID_RECORD
 * when a record carries a header of options.reserved_header_prefix), then
 * only baseOffset (outside the CRC)
 * is rewritten, so the stored bytes are the producer's.  With
 * LogAppendTime the max timestamp and attribute bit 3 are set and the CRC
 * recomputed, as Kafka does.  When the topic's compression.type names a
 * codec (not producer) and the batch is in another one, the broker
 * recompresses it as Kafka's does: a new batch in the topic's codec with
 * the same records, offset deltas, timestamps, producer id, epoch and
 * base sequence (LS_ERR_TOO_LARGE when the result is over
 * max.message.bytes).  A batch already in the topic's codec, or any batch
 * with compression.type=producer, is stored as sent.  Same returns as
 * ls_append.
 */
int ls_append_batch(struct ls_partition *p, const void *batch, size_t len,
		    struct ls_append_result *res);
/* ls_append_batch without the options.reserved_header_prefix check: for a
 * batch the embedding broker vouches for (its own records forwarded from
 * another node of its cluster), never for a client's.  Same returns. */
int ls_append_batch_trusted(struct ls_partition *p, const void *batch, size_t len,
			    struct ls_append_result *res);

/* Why a producer's batch or legacy message set was refused, where known:
 * index is the record (legacy: the message; in a compressed wrapper the
 * inner message) at fault, -1 for the batch as a whole; message a static
 * English text (NULL: none). */
struct ls_append_error {
	int32_t index;
	const char *message;
};
/* ls_append_batch that says in err (may be NULL) which record it refused
 * and why. */
int ls_append_batch_checked(struct ls_partition *p, const void *batch, size_t len,
			    struct ls_append_result *res, struct ls_append_error *err);
/*
 * Converts a legacy message set (MessageSet magic 0 or 1, Kafka's Produce
 * v0-2) set[0..len) into one RecordBatch v2 as a producer sends it (see
 * legacy.c for the checks and the conversion), compressed with
 * compression_type (LS_CODEC_*; LS_COMPRESSION_PRODUCER: the producer's
 * codec).  max_inflated bounds a wrapper's decompressed size (0: 64 MiB).
 * *out is malloc'd (the caller frees it).  LS_OK, LS_ERR_CORRUPT (a CRC
 * mismatch, a message below its minimum size), LS_ERR_INVALID_RECORD,
 * LS_ERR_INVALID_TIMESTAMP, LS_ERR_UNSUPPORTED_CODEC, LS_ERR_TOO_LARGE,
 * LS_ERR_NOMEM; err (may be NULL) says where and why.
 */
int ls_legacy_convert(const void *set, size_t len, int compression_type, size_t max_inflated,
		      void **out, size_t *out_len, struct ls_append_error *err);
/* ls_legacy_convert with the topic's compression.type, then
 * ls_append_batch_checked of the result (a record index in err is the
 * message's).  Same returns as both. */
int ls_append_legacy(struct ls_partition *p, const void *set, size_t len,
		     struct ls_append_result *res, struct ls_append_error *err);
/*
 * A follower's append of what its leader's Fetch returned: data[0..len)
 * holds whole RecordBatch v2 batches, possibly followed by one incomplete
 * batch (Kafka's Fetch may cut the last one), written with their offsets,
 * epochs and every byte as sent (no offset rewrite, no producer checks,
 * no max.message.bytes, no recompression: the leader took them).  First every whole batch
 * is checked: length and magic (LS_ERR_INVALID_RECORD), CRC-32C
 * (LS_ERR_CORRUPT); the first batch's base offset must be the log end
 * (else LS_ERR_OFFSET_OUT_OF_RANGE), each next one must start past the
 * previous one (gaps that compaction left are kept; else
 * LS_ERR_INVALID_RECORD); on any of these nothing is written.  Then the
 * batches are written (runs sharing a segment in one write); a batch
 * whose partitionLeaderEpoch is above the latest epoch first assigns
 * that epoch at its base offset (ls_partition_assign_epoch).  The
 * trailing incomplete batch is not written.  *consumed: the bytes of data
 * appended (whole batches; on an error, those appended before it), so the
 * caller knows where the next fetch starts (the new log end).  res (may
 * be NULL) is filled when a batch was appended: first base offset, last
 * offset, log_append_time -1.  Durability as ls_append (flush.messages
 * here, flush.ms by the caller's rounds).  LS_OK (also with nothing
 * appended: len 0 or only a partial batch), the errors above, LS_ERR_IO
 * (write failed: cut back, the partition as before unless it is failed),
 * LS_ERR_NOMEM, LS_ERR_INVALID (topic deleted).
 */
int ls_append_replica(struct ls_partition *p, const void *data, size_t len, size_t *consumed,
		      struct ls_append_result *res);
/*
 * Moves the log end up to `offset` without writing, leaving a gap of
 * offsets that hold no record (as compaction leaves): the next append gets
 * `offset`.  A writer that hands out offsets before it appends (the AMQP
 * journal) uses it after a failed append, so that the offsets it gave to
 * records that never reached the disk are never given to other records.
 * The gap is not persisted: it only matters while something still refers
 * to those offsets, and anything that does was appended after it.
 * LS_OK (also when offset <= the log end), LS_ERR_IO (failed partition).
 */
int ls_skip_to(struct ls_partition *p, uint64_t offset);

/*
 * Kafka's truncateTo, for a follower whose log diverged from its leader's:
 * afterwards the log end is <= offset and on a batch boundary: the batch
 * holding `offset` and everything after it go (the log end becomes
 * min(offset, that batch's base offset)).  Segments past it are deleted
 * (the last first, so a crash leaves a longer prefix, never a hole), the
 * segment holding offset is cut and becomes the active one, its indexes
 * fixed; the leader epochs starting at or after the new log end go (the
 * checkpoint rewritten); the flushed offset (hence the recovery point),
 * the cleaner point and the high watermark are lowered to the new log end.
 * The cut file and the folder are fsynced before it returns.  offset below
 * the log start: Kafka's truncateFullyAndStartAt, every segment goes, the
 * log restarts empty at `offset` (log start = log end = high watermark =
 * offset, no leader epochs).  offset at or past the log end: nothing to
 * do.  ls_read results held stay readable as they were (a segment they
 * hold is copied, not cut in place); a compaction under way starts over;
 * an fsync round begun before does not move the flushed offset.  LS_OK,
 * LS_ERR_INVALID (topic deleted), LS_ERR_IO (a failed partition; a read
 * failing before anything changed, the partition as it was; or a write or
 * fsync failed: the partition is then failed, as after a failed append).
 */
int ls_partition_truncate(struct ls_partition *p, uint64_t offset);
/*
 * Kafka's truncateFullyAndStartAt for a follower whose log ends below
 * its leader's log start (retention deleted what it would fetch next):
 * every segment goes and the log restarts empty at `offset`, past the
 * log end (or before its start): log start = log end = high watermark =
 * offset, no leader epochs.  LS_ERR_INVALID for an offset within the log
 * (ls_partition_truncate's case); otherwise results, errors and reads
 * held as ls_partition_truncate.
 */
int ls_partition_start_at(struct ls_partition *p, uint64_t offset);

/* ---- reading ----------------------------------------------------------- */

/* One file range of whole batches, and the partition's bounds. */
struct ls_read_result {
	int fd;             /* borrowed until ls_read_release; -1 if len == 0 */
	uint64_t file_pos;  /* where the range starts in fd */
	size_t len;         /* bytes: whole batches; 0 at the log end */
	uint64_t first_offset; /* base offset of the first batch */
	uint64_t next_offset;  /* where the next read should start */
	uint64_t log_start;
	uint64_t high_watermark; /* log end offset */
	void *ref;             /* internal: keeps the segment file open */
};

/*
 * Finds whole batches from the one containing `offset` (or the first one
 * after it, where compaction removed it), within one segment, adding
 * batches while the total stays within max_bytes but always at least one
 * (Kafka's Fetch rule, so a big batch cannot stall a consumer).  offset ==
 * log end gives LS_OK with len 0.  The fd stays open until
 * ls_read_release, even if retention deletes the segment meanwhile: a
 * network layer may sendfile() from it and release in its cleanup
 * callback.  Returns LS_OK, LS_ERR_OFFSET_OUT_OF_RANGE (offset below the
 * log start or above the end), LS_ERR_IO.
 */
int ls_read(struct ls_partition *p, uint64_t offset, size_t max_bytes,
	    struct ls_read_result *r);
/*
 * ls_read serving only whole batches whose last offset is below `limit`
 * (exclusive; a consumer's high watermark): a batch reaching limit or past
 * it is never part of the range.  offset at or past limit (but not past
 * the log end) gives LS_OK with len 0 and next_offset == offset, as at the
 * log end; r->high_watermark is min(log end, limit).  Otherwise as ls_read
 * (same returns; LS_ERR_OFFSET_OUT_OF_RANGE is about the log's bounds,
 * not about limit).  limit UINT64_MAX reads as ls_read.
 */
int ls_read_bounded(struct ls_partition *p, uint64_t offset, size_t max_bytes,
		    uint64_t limit, struct ls_read_result *r);
/* Drops the reference a successful ls_read took.  Safe to call twice. */
void ls_read_release(struct ls_read_result *r);
/* Copies the range of r into buf (r->len bytes).  LS_OK or LS_ERR_IO. */
int ls_read_copy(const struct ls_read_result *r, void *buf);

/* Offset of the first record still stored (Kafka's log start offset). */
uint64_t ls_log_start(const struct ls_partition *p);
/* Offset the next appended record will get (the high watermark). */
uint64_t ls_log_end(const struct ls_partition *p);
/* Every record below this offset has been fsynced. */
uint64_t ls_flushed_offset(const struct ls_partition *p);
/* 1 once a write could not be undone or an fsync failed: the partition
 * takes no more appends and its flushed offset will not move again (Kafka
 * takes such a log dir offline). */
int ls_partition_failed(const struct ls_partition *p);
/*
 * The high watermark replication keeps for p (in memory; 0 until set):
 * ls_partition_set_high_watermark stores min(hw, log end), any value, up
 * or down (the caller owns its meaning).  Once one was set in a store,
 * every partition's is written to replication-offset-checkpoint whenever
 * the recovery checkpoint is written (ls_checkpoint, ls_flush_step,
 * ls_close); at ls_open a partition's high watermark is min(checkpointed,
 * log end), 0 when never checkpointed.  Truncation lowers it to the new
 * log end.
 */
uint64_t ls_partition_high_watermark(const struct ls_partition *p);
void ls_partition_set_high_watermark(struct ls_partition *p, uint64_t hw);
/* Bytes stored in the partition's segment files. */
uint64_t ls_partition_bytes(const struct ls_partition *p);
/* Number of segment files (for tests and metrics). */
size_t ls_partition_segments(const struct ls_partition *p);
/*
 * ListOffsets by timestamp: the first record, in offset order, whose
 * timestamp is >= ts, found by a binary search of the time index and a
 * scan of at most one index interval.  LS_OK with *offset and *found_ts
 * (may be NULL), LS_ERR_NOT_FOUND when there is none, LS_ERR_IO.
 */
int ls_offset_for_time(struct ls_partition *p, int64_t ts, uint64_t *offset,
		       int64_t *found_ts);
/* The largest record timestamp stored in p (Kafka's maxTimestampSoFar over
 * its segments), or -1 when it holds no record. */
int64_t ls_partition_max_timestamp(const struct ls_partition *p);

/* ---- transactions (Kafka's KIP-98) -------------------------------------- */

/* A transaction marker's type: the key of its control record. */
#define LS_TXN_ABORT 0
#define LS_TXN_COMMIT 1
/*
 * Appends the marker that ends producer pid's transaction in p, as
 * Kafka's WriteTxnMarkers does: one control batch (attributes
 * transactional | control, producer id pid, epoch `epoch`, base sequence
 * -1) holding one record whose key is (version int16 0, type int16) and
 * value (version int16 0, coordinator_epoch int32).  It closes pid's open
 * transaction in p (none open: the marker is written all the same, as
 * Kafka does); an abort adds [the transaction's first offset, the
 * marker's offset] to p's aborted transactions.  An epoch below the
 * producer's: LS_ERR_PRODUCER_FENCED, nothing written; an epoch above it
 * becomes the producer's (its sequences start again).  Durability as
 * ls_append (flush.messages; else the caller's flush).  *offset (may be
 * NULL): the marker's offset.  LS_OK, LS_ERR_PRODUCER_FENCED, LS_ERR_IO,
 * LS_ERR_NOMEM, LS_ERR_INVALID (type not 0/1, pid < 0).
 */
int ls_append_txn_marker(struct ls_partition *p, int64_t pid, int16_t epoch, int type,
			 int32_t coordinator_epoch, uint64_t *offset);
/*
 * The first offset of the oldest transaction still open in p (a
 * transactional batch appended with no marker after it for its producer),
 * or the log end when none is open; never below the log start (a
 * transaction whose beginning retention deleted is unstable from the log
 * start on, as Kafka clamps it): the last stable offset is the lesser of
 * this and the high watermark.  May build the producer state from the
 * log the first time (ls_pstate_load); after that it costs no search.
 * LS_OK, LS_ERR_IO, LS_ERR_NOMEM.
 */
int ls_partition_first_unstable(struct ls_partition *p, uint64_t *offset);
/* One aborted transaction of a partition: its producer, its first offset
 * and the offset of its abort marker. */
struct ls_aborted_txn {
	int64_t producer_id;
	uint64_t first_offset, last_offset;
};
/*
 * The aborted transactions of p that overlap [from, to) (last_offset >=
 * from and first_offset < to), in the order of their markers (Kafka's
 * order): up to max copied into out (may be NULL when max is 0),
 * *n says how many overlap in all (may be > max).  Kept across restarts
 * (rebuilt from the log and the producer snapshots), forgotten once their
 * marker is below the log start.  LS_OK, LS_ERR_IO, LS_ERR_NOMEM.
 */
int ls_partition_aborted_txns(struct ls_partition *p, uint64_t from, uint64_t to,
			      struct ls_aborted_txn *out, size_t max, size_t *n);
/* 1 when b (a batch header of p) is a batch of one of p's aborted
 * transactions (a read_committed reader skips it, compaction drops it), 0
 * when not (also for a batch that is not transactional), < 0 on error. */
int ls_partition_batch_aborted(struct ls_partition *p, const struct ls_batch_info *b);

/* ---- leader epochs (replication, Kafka's KIP-101) ---------------------- */

/*
 * A partition's leader epochs: epoch E's leader wrote the records from its
 * start offset up to the next epoch's start.  Kept in
 * <topic>-<partition>/leader-epoch-checkpoint, replaced atomically and
 * fsynced (with its folder) before a call that changes it returns; loaded
 * at ls_open (missing file: no epochs), dropping the epochs that start at
 * or after the log end, as Kafka does.  While a partition has an epoch,
 * ls_append and ls_append_batch write the latest one into each batch's
 * partitionLeaderEpoch (bytes 12..15, outside the CRC); without one, the
 * bytes are as before (-1, or the producer's).
 */

/*
 * Records that epoch `epoch` starts at `start_offset` (the log end when a
 * leader takes over; a batch's base offset on a follower).  epoch above
 * the latest: appended (start_offset must not be below the latest's
 * start); equal to the latest: nothing changes (LS_OK); below it, or
 * negative: LS_ERR_INVALID.  LS_ERR_IO when the partition is failed or
 * the checkpoint cannot be written (the partition is then failed, the
 * epoch not recorded), LS_ERR_NOMEM.
 */
int ls_partition_assign_epoch(struct ls_partition *p, int32_t epoch, uint64_t start_offset);
/* The latest leader epoch, -1 when there is none. */
int32_t ls_partition_latest_epoch(const struct ls_partition *p);
/*
 * Where `epoch` ended in this log, as Kafka's LeaderEpochFileCache
 * .endOffsetFor answers OffsetForLeaderEpoch:
 *   epoch == the latest           -> (epoch, log end)
 *   epoch below the latest        -> (largest epoch <= epoch, start offset
 *                                     of the first epoch above it); when
 *                                     epoch is below the first epoch
 *                                     known: (epoch, first epoch's start)
 *   epoch above the latest, epoch -1, or no epochs -> (-1, -1)
 * (Kafka 2.0+ for the "below the first" case; Kafka 0.11 answered -1.)
 */
void ls_partition_epoch_end(const struct ls_partition *p, int32_t epoch, int32_t *out_epoch,
			    int64_t *end_offset);
/* Copies up to max (epoch, start offset) pairs, oldest first, into the
 * arrays (either may be NULL); returns how many there are. */
size_t ls_partition_epochs(const struct ls_partition *p, int32_t *epochs, uint64_t *starts,
			   size_t max);

/* ---- durability ------------------------------------------------------- */

/*
 * Where fsyncs happen, and why:
 *  - ls_sync / ls_sync_run: fdatasync of the active segment, of segments
 *    rolled since the last sync (log and both indexes) and fsync of the
 *    partition folder when a segment file was created.  Afterwards the
 *    flushed offset advances to the log end captured at ls_sync_begin
 *    (group commit: appends made while the fsync ran wait for the next).
 *  - ls_append: calls ls_sync when flush.messages unflushed records are
 *    reached (flush.messages=1: an fsync per batch, before it returns).
 *  - ls_flush_step: ls_sync for partitions with data older than flush.ms,
 *    and the checkpoint file (temp + fsync + rename + dir fsync) every
 *    checkpoint_interval_ms.
 *  - metadata files (topic create/alter/grow), the checkpoint, compacted
 *    segments before they replace the originals, recovery truncation:
 *    written, fsynced, renamed, folder fsynced.
 *  - ls_close: everything, then the clean-shutdown marker.
 *
 * ls_sync_begin (loop thread) captures what to fsync in a job holding its
 * own file descriptors; ls_sync_run (any thread, touches only the job)
 * does the fsyncs; ls_sync_end (loop thread) publishes the result and
 * frees the job.  Appends, reads, even deleting the topic may go on while
 * a job runs.  begin returns LS_OK with *job NULL when nothing is
 * unflushed.  A failed fsync marks the partition failed (LS_ERR_IO from
 * then on): after a failed fsync the kernel may have dropped the dirty
 * pages, so retrying cannot be trusted.
 */
int ls_sync_begin(struct ls_partition *p, struct ls_sync_job **job);
int ls_sync_run(struct ls_sync_job *job);
int ls_sync_end(struct ls_sync_job *job);
/* begin + run + end on the calling thread. */
int ls_sync(struct ls_partition *p);

/*
 * How long the data fsync rounds (ls_sync_run, timed on the thread that ran
 * them) of a store's partitions took, as a histogram for /metrics.
 * bucket[i] counts rounds of at most ls_fsync_bounds_us[i] microseconds
 * (not cumulative); rounds slower than the last bound count only in count.
 * Updated by ls_sync_end, so read it on the loop thread.
 */
#define LS_FSYNC_BUCKETS 12
extern const uint32_t ls_fsync_bounds_us[LS_FSYNC_BUCKETS];
struct ls_fsync_hist {
	uint64_t count;
	uint64_t sum_us;
	uint64_t bucket[LS_FSYNC_BUCKETS];
};
const struct ls_fsync_hist *ls_store_fsync_hist(const struct ls_store *s);
/* 1 when p has unflushed records older than flush.ms at now_ms. */
int ls_flush_due(const struct ls_partition *p, int64_t now_ms);
typedef void (*ls_partition_fn)(struct ls_partition *p, void *ctx);
/* Calls fn for each partition that ls_flush_due says is due. */
void ls_foreach_flush_due(struct ls_store *s, int64_t now_ms, ls_partition_fn fn,
			  void *ctx);
/*
 * Timer work for callers that fsync on the loop thread: ls_sync of each
 * due partition, and the checkpoint when its interval has passed.
 * Returns LS_OK or the first error.
 */
int ls_flush_step(struct ls_store *s, int64_t now_ms);
/* Writes the recovery-point checkpoint now (fsynced), and the high-watermark
 * one when in use (see ls_partition_set_high_watermark).  LS_OK/LS_ERR_IO. */
int ls_checkpoint(struct ls_store *s);

/* ---- retention and compaction ------------------------------------------ */

/*
 * One bounded step of cleanup over the store's partitions, round robin:
 * deletes whole old segments past retention.ms (by their largest
 * timestamp) or beyond retention.bytes, never the active one; for
 * cleanup.policy=compact rewrites inactive segments keeping the latest
 * record per key (offsets preserved; tombstones dropped once older than
 * delete.retention.ms).  `budget` bounds the bytes read and written by
 * this step (a segment deletion counts 64 KiB); at least one unit of work
 * is done when any is pending.  Returns 1 when more work is pending, 0
 * when idle, or a negative error.
 */
int ls_retention_step(struct ls_store *s, int64_t now_ms, size_t budget);

/*
 * A new idempotent producer id (Kafka's InitProducerId), never handed out
 * before by this store: ids come in blocks of 1000 whose end is written
 * to `producer-id-block` and fsynced before the first id of the block is
 * given.  LS_OK or LS_ERR_IO.
 */
int ls_producer_id_next(struct ls_store *s, int64_t *pid);

/*
 * Kafka's DeleteRecords: the log start becomes `offset` (at most the log
 * end; not lower than it is): reads below it are out of range, whole
 * segments below it are deleted, and it is written to the store's
 * log-start-offset-checkpoint (fsynced) before this returns, so a restart
 * keeps it.  LS_OK, LS_ERR_OFFSET_OUT_OF_RANGE (past the log end),
 * LS_ERR_INVALID (deleted topic), LS_ERR_IO (failed partition, or the
 * checkpoint could not be written: the log start holds in memory).
 */
int ls_partition_set_log_start(struct ls_partition *p, uint64_t offset);
/*
 * Kafka's DeleteRecords at segment granularity: deletes every whole
 * segment whose records all lie below `offset` (never the active one), so
 * the log start moves up to the base of the segment holding `offset`.
 * The caller vouches that nothing below `offset` is needed any more (the
 * AMQP journal calls it when every message there has been acknowledged).
 * Returns the number of segments deleted.
 */
size_t ls_delete_records(struct ls_partition *p, uint64_t offset);

/* ---- consumer-group offsets --------------------------------------------- */

struct ls_offset_commit {
	const char *topic;
	int32_t partition;
	int64_t offset;       /* the next offset to read */
	const char *metadata; /* NULL: none */
};

/*
 * Stores committed offsets for `group` as one batch in the internal
 * compacted topic (durable under its flush policy; loaded on open).
 * The topic need not exist (Kafka's OffsetCommit does not check).  Returns
 * LS_OK, LS_ERR_INVALID (empty group, strings over 32767 bytes),
 * LS_ERR_NOMEM, LS_ERR_IO.
 */
int ls_offsets_commit(struct ls_store *s, const char *group,
		      const struct ls_offset_commit *c, size_t n);
/* The committed offset of (group, topic, partition): LS_OK with *offset
 * and *metadata (may be NULL; borrowed until the next commit or delete),
 * or LS_ERR_NOT_FOUND. */
int ls_offset_fetch(struct ls_store *s, const char *group, const char *topic,
		    int32_t partition, int64_t *offset, const char **metadata);
typedef void (*ls_offset_fn)(const char *group, const char *topic,
			     int32_t partition, int64_t offset,
			     const char *metadata, int64_t commit_ms, void *ctx);
/* Calls fn for every committed offset of `group` (NULL: of every group),
 * in no particular order.  fn must not commit or delete. */
void ls_offsets_foreach(struct ls_store *s, const char *group, ls_offset_fn fn,
			void *ctx);
/* Deletes every committed offset of group (tombstones).  LS_OK (also when
 * there were none), LS_ERR_IO. */
int ls_offsets_delete_group(struct ls_store *s, const char *group);
/* Kafka's OffsetDelete: tombstones group's committed offsets of topic's
 * partitions[0..n) (one record each; those never committed too).  Same
 * returns as ls_offsets_commit. */
int ls_offsets_delete(struct ls_store *s, const char *group, const char *topic,
		      const int32_t *partitions, size_t n);
/*
 * Rebuilds the committed-offsets table from the internal topic's log as
 * it is now (a replica's appends do not update the table; a node that
 * starts coordinating groups replays what it replicated).  On an error
 * the table holds what was read before it.  LS_OK, LS_ERR_NOMEM,
 * LS_ERR_IO, LS_ERR_CORRUPT.
 */
int ls_offsets_reload(struct ls_store *s);
/* replica 1: the offsets topic is a follower's copy of a replicated log,
 * which only its leader writes: deleting a topic leaves the topic's
 * committed offsets alone (the leader's tombstones come by replication).
 * 0 (the default): ls_topic_delete deletes them. */
void ls_offsets_set_replica(struct ls_store *s, int replica);

/* ---- fault injection (tests) ------------------------------------------ */

/*
 * Kinds of injected faults: a segment write that fails with ENOSPC, one
 * that writes half of the batch and then fails with ENOSPC, an fsync round
 * that fails with EIO.  A failed write leaves the partition as it was (the
 * half-written bytes are cut off); a failed fsync fails the partition, as
 * a real one does.  And a slow disk: making a topic's or its new
 * partitions' folders (ls_draft_build) that first waits LS_FAULT_SLOW_MS.
 */
enum { LS_FAULT_WRITE, LS_FAULT_SHORT_WRITE, LS_FAULT_FSYNC, LS_FAULT_SLOW_MAKE, LS_FAULT_KINDS };
#define LS_FAULT_SLOW_MS 1500
/*
 * Arms a fault: the nth next call of `kind` (1 = the very next) on
 * partitions of `topic` (NULL or "": any topic) fails, and so do the
 * count - 1 matching calls after it (count 0: every one from then on).
 * Up to 8 rules; process-global; set them before other threads use the
 * store (a rule is then only ever taken by the thread that does its kind
 * of work).  LS_OK or LS_ERR_INVALID.
 */
int ls_fault_set(int kind, const char *topic, unsigned long nth, unsigned long count);
/* Arms the rules of a spec "kind:topic:nth[:count][,...]" with kind one of
 * write, short, fsync, make (tandemd reads it from TANDEM_FAULTS).  LS_OK or
 * LS_ERR_INVALID (rules before the bad one stay armed). */
int ls_fault_parse(const char *spec);
/* Disarms every rule. */
void ls_fault_clear(void);
/*
 * Power-cut simulation: from now on, every successful fsync round appends
 * one line "<absolute path of the file> <bytes it covered>" per data file
 * to the ledger at `path` (tandemd: TANDEM_FSYNC_LEDGER), so that a test
 * can cut every segment file back to what was really fsynced after a
 * kill -9, as a power cut would.  LS_OK or LS_ERR_IO.
 */
int ls_fault_fsync_ledger(const char *path);

#endif
