/*
 * logstore/logstore_internal.h: layout of the store, topics, partitions
 * and segments, and the functions the files of logstore/ share.
 *
 * Ownership: the store owns its topics (sorted array), a topic owns its
 * partitions, a partition owns its segments (sorted by base offset, the
 * last one active).  Partitions and segments are refcounted (loop thread
 * only): an ls_read result holds a segment, a sync job holds a partition,
 * so deleting a topic or a segment while they are out is safe.
 *
 * Internal to logstore/.  Must not depend on anything but libc, POSIX,
 * the codec libraries (zlib, libsnappy, liblz4, libzstd: only codec.c
 * includes the last three) and src/util (through this library's own
 * include path).
 */
#ifndef TANDEM_LOGSTORE_INTERNAL_H
#define TANDEM_LOGSTORE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <zlib.h>

#include "logstore.h"

#define LS_INTERNAL_OFFSETS_TOPIC "__consumer_offsets"
#define LS_DELETE_COST (64 * 1024) /* budget units for one segment deletion */

/* ---- byte order and varints -------------------------------------------- */

static inline void ls_put_be16(unsigned char *p, uint16_t v)
{
	p[0] = (unsigned char)(v >> 8);
	p[1] = (unsigned char)v;
}

static inline void ls_put_be32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static inline void ls_put_be64(unsigned char *p, uint64_t v)
{
	ls_put_be32(p, (uint32_t)(v >> 32));
	ls_put_be32(p + 4, (uint32_t)v);
}

static inline uint16_t ls_get_be16(const unsigned char *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t ls_get_be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static inline uint64_t ls_get_be64(const unsigned char *p)
{
	return (uint64_t)ls_get_be32(p) << 32 | ls_get_be32(p + 4);
}

/* Bytes a zig-zag varint of v takes. */
static inline size_t ls_varint_size(int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t n = 1;

	while (u >= 0x80) {
		u >>= 7;
		n++;
	}
	return n;
}

/* Writes a zig-zag varint; returns the bytes written. */
static inline size_t ls_varint_put(unsigned char *p, int64_t v)
{
	uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	size_t n = 0;

	while (u >= 0x80) {
		p[n++] = (unsigned char)(u | 0x80);
		u >>= 7;
	}
	p[n++] = (unsigned char)u;
	return n;
}

/* Reads a zig-zag varint of at most 10 bytes from [*pp, end); 0 on
 * success (advancing *pp), -1 on overrun or overlong encoding. */
static inline int ls_varint_get(const unsigned char **pp,
				const unsigned char *end, int64_t *v)
{
	const unsigned char *p = *pp;
	uint64_t u = 0;

	for (unsigned shift = 0; shift < 70; shift += 7) {
		if (p >= end)
			return -1;
		u |= (uint64_t)(*p & 0x7f) << shift;
		if (!(*p++ & 0x80)) {
			*v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
			*pp = p;
			return 0;
		}
	}
	return -1;
}

/* ---- string-keyed hash map ------------------------------------------- */

/* Group offsets and checkpoint names use the tree's one hash map,
 * src/util/map.h (SipHash, seeded per process: group ids and topic names
 * come from clients), reached through this library's own -I to src/util. */
#include "map.h"

/* ---- hashing (murmur.c) --------------------------------------------- */

/* MurmurHash3 x64 128-bit: the compaction map keys by this digest. */
void ls_murmur3_128(const void *key, size_t len, uint32_t seed, uint64_t out[2]);

/* ---- fault injection (fault.c) -------------------------------------- */

/* 1 when an armed rule says this call of `kind` on `topic` must fail. */
int ls_fault_take(int kind, const char *topic);
/* 1 when an fsync ledger is open (sizes are worth capturing). */
int ls_fault_ledger_on(void);
/* Notes in the ledger that fd's first `size` bytes are durable. */
void ls_fault_note_synced(int fd, uint64_t size);

/* ---- files (util.c) ---------------------------------------------------- */

/* pwrite/pread the whole buffer, retrying short transfers and EINTR.
 * 0 or -1 with errno. */
int ls_pwrite_full(int fd, const void *buf, size_t len, uint64_t pos);
int ls_pread_full(int fd, void *buf, size_t len, uint64_t pos);
/* Writes dirfd/name atomically: name.tmp, fsync, rename, fsync dir.
 * 0 or -1 with errno. */
int ls_atomic_write(int dirfd, const char *name, const void *buf, size_t len);
/* Reads a whole small file into a malloc'ed NUL-terminated buffer. 0, or
 * -1 with errno (ENOENT when missing). */
int ls_read_file(int dirfd, const char *name, char **out, size_t *len);
/* Removes dirfd/name and, when it is a folder, everything in it. 0/-1. */
int ls_remove_tree(int dirfd, const char *name);
/* fsync of an open folder or file; 0/-1. */
int ls_fsync_fd(int fd);
/* Reports damage through s->opt.warn (stderr when NULL). */
void ls_warn(const struct ls_store *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Opens, creating it and its parent as needed, the folder
 * quarantine/<sub> of the store (sub NULL: quarantine/ itself): an
 * O_DIRECTORY fd, or -1 with errno. */
int ls_quarantine_dir(const struct ls_store *s, const char *sub);
/* Error texts: tu_errf (src/util/errf.h) formats into err[0..errlen). */
#include "errf.h"

/* ---- codecs (codec.c) -------------------------------------------------- */

/* Grows *buf (malloc'd, *cap bytes) to hold at least need bytes, doubling.
 * LS_OK or LS_ERR_NOMEM (*buf unchanged). */
int ls_buf_reserve(unsigned char **buf, size_t *cap, size_t need);
/* 1 for the codecs of attributes bits 0-2 that logstore reads and writes
 * (none, gzip, snappy, lz4, zstd), 0 for 5-7. */
int ls_codec_known(int codec);

struct ZSTD_CCtx_s;
struct ZSTD_DCtx_s;
struct LZ4F_cctx_s;
struct LZ4F_dctx_s;

/* Compression state, reused from batch to batch; zero-initialised. */
struct ls_zip {
	z_stream zs; /* gzip, when zs_ready */
	int zs_ready;
	struct ZSTD_CCtx_s *zstd; /* owned, made on first use */
	struct LZ4F_cctx_s *lz4;  /* owned, made on first use */
};

void ls_zip_free(struct ls_zip *z);
/*
 * Compresses in[0..len) with codec (gzip, snappy, lz4 or zstd) into
 * (*out)[at..), growing *out (*cap bytes) as needed; *zlen the compressed
 * size.  LS_OK, LS_ERR_NOMEM, LS_ERR_UNSUPPORTED_CODEC.
 */
int ls_compress(struct ls_zip *z, int codec, const unsigned char *in, size_t len,
		unsigned char **out, size_t *cap, size_t at, size_t *zlen);

/* Decompression state and its output buffer; zero-initialised. */
struct ls_unzip {
	unsigned char *buf; /* owned: the decompressed bytes */
	size_t cap;
	z_stream zs;
	int zs_ready;
	struct ZSTD_DCtx_s *zstd; /* owned, made on first use */
	struct LZ4F_dctx_s *lz4;  /* owned, made on first use */
};

void ls_unzip_free(struct ls_unzip *u);
/*
 * Decompresses in[0..len), written by codec, into u->buf[0..*out_len).
 * The output never grows past max bytes: more is LS_ERR_INVALID_RECORD,
 * as is a corrupt or truncated input.  LS_OK, LS_ERR_INVALID_RECORD,
 * LS_ERR_NOMEM, LS_ERR_UNSUPPORTED_CODEC.
 */
int ls_decompress(struct ls_unzip *u, int codec, const unsigned char *in, size_t len,
		  size_t max, size_t *out_len);

/* ---- batches (batch.c) ------------------------------------------------- */

/* RecordBatch attribute bits of transactions. */
#define LS_ATTR_TRANSACTIONAL 0x10
#define LS_ATTR_CONTROL 0x20

/* CRC-32C of a batch's attributes..end, i.e. buf[21..len). */
uint32_t ls_batch_crc(const unsigned char *buf, size_t len);
/* ls_batch_validate that also refuses (LS_ERR_INVALID_RECORD) a record
 * with a header key starting with reserved (NULL: no such check); err (may
 * be NULL) says which record was refused and why. */
int ls_batch_validate_reserved(struct ls_decoder *dec, const void *buf, size_t len,
			       int require_keys, const char *reserved, struct ls_batch_info *info,
			       struct ls_append_error *err);
/* The type of the transaction marker in control batch buf[0..len) (its
 * header and at least the start of its first record; len may be less than
 * the whole batch): LS_TXN_ABORT or LS_TXN_COMMIT from the key (int16
 * version >= 0, int16 type) of its first record, -1 when buf is no
 * uncompressed control batch with such a key. */
int ls_batch_control_type(const unsigned char *buf, size_t len);
/* Checks magic, length and CRC of a complete batch: LS_OK,
 * LS_ERR_INVALID_RECORD or LS_ERR_CORRUPT. */
int ls_batch_check(const unsigned char *buf, size_t len, struct ls_batch_info *info);

struct ls_encoder {
	unsigned char *buf; /* owned: the batch being built */
	size_t cap;
	unsigned char *zbuf; /* owned: compressed copy */
	size_t zcap;
	struct ls_zip zip;
};

void ls_encoder_free(struct ls_encoder *e);
struct ls_encode_args {
	uint64_t base;          /* base offset to write */
	const uint32_t *deltas; /* offset delta of each record; NULL: 0..n-1 */
	int codec;              /* LS_CODEC_NONE .. LS_CODEC_ZSTD */
	int64_t now;            /* replaces negative timestamps */
	int log_append_time;    /* every timestamp is `now`, attribute bit 3 */
	int32_t leader_epoch;   /* partitionLeaderEpoch (-1: none) unless tmpl */
	/* NULL, or a batch whose producer id/epoch/sequence, leader epoch,
	 * last offset delta and attribute bits 3-6 are kept (compaction). */
	const struct ls_batch_info *tmpl;
};

/*
 * Builds one batch of recs[0..n) into e (*out, *len point into e's
 * buffers, valid until the next call).  LS_OK, LS_ERR_NOMEM,
 * LS_ERR_UNSUPPORTED_CODEC, LS_ERR_TOO_LARGE (over 2 GiB).
 */
int ls_encode_batch(struct ls_encoder *e, const struct ls_encode_args *a,
		    const struct ls_record *recs, size_t n,
		    const unsigned char **out, size_t *len);

/* ---- rebuilding batches (recode.c) ------------------------------------- */

/* Decoded records kept while their batch's buffers live (headers copied
 * out of the decoder's per-record array). */
struct ls_kept {
	struct ls_record *recs; /* owned arrays, reused per batch */
	uint32_t *deltas;
	size_t *hdr_at;
	struct ls_header *hdrs;
	size_t n, cap, nh, hcap;
};

/* Adds r with offset delta `delta`.  LS_OK or LS_ERR_NOMEM. */
int ls_kept_add(struct ls_kept *k, const struct ls_record *r, uint32_t delta);
/* Points each kept record at its copied headers (after the last add). */
void ls_kept_fix_headers(struct ls_kept *k);
void ls_kept_free(struct ls_kept *k);
/*
 * Re-encodes the one whole, validated batch buf[0..len) with a's codec,
 * base, now, log_append_time and tmpl (a->deltas is set here): every
 * record with its offset delta, timestamp, key, value and headers.  Uses
 * s->dec and s->enc: *out, *out_len point into s->enc until its next use.
 * LS_OK, LS_ERR_INVALID_RECORD, LS_ERR_CORRUPT, LS_ERR_NOMEM,
 * LS_ERR_TOO_LARGE, LS_ERR_UNSUPPORTED_CODEC.
 */
struct ls_store;
int ls_batch_recode(struct ls_store *s, const unsigned char *buf, size_t len,
		    struct ls_encode_args *a, const unsigned char **out, size_t *out_len);

/* ---- objects ----------------------------------------------------------- */

struct ls_idx_entry {
	uint32_t rel; /* batch base offset - segment base */
	uint32_t pos; /* file position of that batch */
};

struct ls_tidx_entry {
	int64_t ts;   /* largest timestamp up to and including batch rel */
	uint32_t rel; /* base offset (relative) of a batch in the offset index */
};

struct ls_segment {
	uint64_t base;  /* base offset: the file name */
	uint64_t next;  /* offset after the segment's last batch (or base) */
	uint64_t size;  /* bytes of whole batches in the .log */
	int fd;         /* owned: the .log, O_RDWR */
	int refs;       /* the partition's + one per ls_read result */
	int64_t max_ts; /* largest timestamp stored; -1 none */
	uint32_t max_ts_rel;
	uint32_t last_rel;  /* relative base offset of the last batch */
	int64_t created_ms; /* for segment.ms */
	struct ls_idx_entry *idx; /* owned: whole offset index in memory */
	size_t nidx, idx_cap, idx_written;
	struct ls_tidx_entry *tidx; /* owned: whole time index in memory */
	size_t ntidx, tidx_cap, tidx_written;
	uint64_t bytes_since_idx;
	int idx_fd, tidx_fd; /* owned while active, -1 after the roll */
};

struct ls_cleaner; /* compaction state of one partition (retention.c) */

/* One leader epoch: its leader's records start at `start` (epoch.c). */
struct ls_epoch_entry {
	int32_t epoch;
	uint64_t start;
};

struct ls_partition {
	struct ls_store *store; /* ref */
	struct ls_topic *topic; /* ref; NULL once the topic is deleted */
	int32_t index;
	int refs;               /* the topic's + one per sync job */
	int dirfd;              /* owned */
	char *dirname;          /* owned: "<topic>-<index>" */
	struct ls_segment **segs; /* owned: sorted by base; last = active */
	size_t nsegs, segs_cap;
	uint64_t log_start, log_end;
	uint64_t flushed;       /* durable below this offset */
	int64_t first_unflushed_ms; /* when the oldest unflushed append came */
	int *pending_fds;       /* owned: fds of rolled segments to fsync */
	size_t npending, pending_cap;
	int dir_dirty;          /* a file was created since the last sync */
	int failed;             /* an fsync or write failed: refuse appends */
	uint64_t cleaner_point; /* first offset not yet compacted */
	struct ls_cleaner *cleaner; /* owned, while a compaction runs */
	uint64_t bytes;         /* total size of the segments */
	uint64_t hw;            /* high watermark (replication), <= log_end */
	uint32_t trunc_gen;     /* truncations so far: a sync job begun before
				   one does not move `flushed` */
	struct ls_epoch_entry *epochs; /* owned: epochs and starts increasing */
	size_t nepochs, epochs_cap;
	struct ls_pstate *pstate; /* owned: idempotent producers, NULL until needed */
};

struct ls_topic {
	struct ls_store *store; /* ref */
	char *name;             /* owned */
	int32_t nparts;
	struct ls_partition **parts; /* owned (refcounted) */
	struct ls_topic_config cfg;  /* effective */
	struct ls_topic_config ovr;  /* override values, where ovr_mask says */
	uint64_t ovr_mask;           /* bit i: config key i overridden */
	int internal;
	uint32_t rr; /* round-robin cursor */
	char id[LS_TOPIC_ID_MAX + 1]; /* the cluster's topic id; "" when none */
};

struct ls_group_offset; /* offsets.c */

struct ls_store {
	char *dir;  /* owned */
	int dirfd;  /* owned */
	int lockfd; /* owned */
	struct ls_options opt;
	struct ls_topic **topics; /* owned, sorted by name */
	size_t ntopics, topics_cap;
	struct ls_encoder enc;    /* scratch for ls_append */
	uint64_t pid_next, pid_end; /* the block of producer ids handed out */
	int pid_loaded;             /* producer-id-block read */
	unsigned char *scratch;   /* owned: scratch for batch copies */
	size_t scratch_cap;
	struct ls_decoder *dec;   /* owned: validation, lookups, cleaner */
	int64_t last_ckpt_ms;
	int ckpt_dirty;
	size_t ret_cursor;        /* retention round robin: topic index */
	int32_t ret_part;         /*   and partition index */
	struct tu_map offsets;    /* "group\0topic\0partition" -> ls_group_offset */
	struct ls_topic *offsets_topic; /* ref: the internal topic */
	int offsets_replica;      /* the offsets log is a follower's copy */
	int loading;              /* replaying offsets: no appends */
	struct tu_map ckpt;       /* during ls_open: dirname -> uint64_t[4] */
	int hw_on;                /* write replication-offset-checkpoint: it
				     existed at open or a high watermark was set */
	int lso_on;               /* write log-start-offset-checkpoint: it existed
				     at open or a log start was set */
	struct ls_fsync_hist fsync_hist;
	struct ls_draft *drafts;  /* topics and partitions being made (topic.c) */
};

/* ---- config.c ---------------------------------------------------------- */

/* Index of config key `name` in the table, or -1. */
int ls_config_index(const char *name);
size_t ls_config_count(void);
/* Copies key i's value from src to dst. */
void ls_config_copy_key(struct ls_topic_config *dst,
			const struct ls_topic_config *src, int i);

/* ---- segment.c --------------------------------------------------------- */

void ls_segment_name(char *buf, size_t len, uint64_t base, const char *ext);
/* Creates an empty segment (files truncated) in dirfd. NULL + errno. */
struct ls_segment *ls_segment_create(int dirfd, uint64_t base, int64_t now_ms);
/* Where ls_segment_open reports damage and puts what it cuts out. */
struct ls_salvage {
	struct ls_store *store; /* borrowed: warn callback, quarantine folder */
	const char *dirname;    /* borrowed: "<topic>-<partition>" */
	uint64_t limit;         /* base of the next segment, UINT64_MAX if none */
	uint64_t lost_bytes;    /* out: bytes cut out of the segment */
	int damaged;            /* out: 1 when bytes were cut out */
};

/*
 * Opens an existing segment.  recover: scan the whole .log verifying
 * every batch (CRC) and rebuild the indexes; else load the indexes,
 * rebuilding them if missing or failing a sanity check, and (when active)
 * verify the tail after the last index entry.  A bad batch (length,
 * magic, CRC, offsets) is salvaged, never a reason to drop good ones: the
 * scan resynchronises on the next valid batch, the damaged bytes are
 * copied to the store's quarantine folder, the segment is rewritten
 * without them (a damaged tail is cut off) and each loss is reported
 * through ls_warn.  sv says where; its out fields tell what was cut.
 * NULL + errno.
 */
struct ls_segment *ls_segment_open(int dirfd, uint64_t base, int recover,
				   int active, int64_t index_interval,
				   struct ls_salvage *sv);
struct ls_scan;
/* Whether the index entry that gave file position pos (0: the segment's
 * start, always fine) is right: a batch with that entry's base offset
 * starts there.  Reads the header through sc, which it re-initialises. */
int ls_segment_entry_ok(const struct ls_segment *seg, struct ls_scan *sc, uint64_t pos);
/* Forgets indexes found wrong: lookups scan from the segment's start; an
 * active segment's index files restart empty, a sealed one's are removed
 * (the next open rebuilds them from the .log). */
void ls_segment_drop_indexes(int dirfd, struct ls_segment *seg);
void ls_segment_ref(struct ls_segment *seg);
void ls_segment_unref(struct ls_segment *seg);
/* Unlinks the segment's files from dirfd (the fd stays readable). */
void ls_segment_unlink(int dirfd, const struct ls_segment *seg);
/* Writes index entries not yet written (active segments). 0/-1. */
int ls_segment_write_indexes(struct ls_segment *seg);
/* Records a batch of `len` bytes just written at the segment's end. */
int ls_segment_note_batch(struct ls_segment *seg, uint64_t base,
			  uint32_t last_delta, int64_t max_ts, size_t len,
			  int64_t index_interval);
/* Adds the final time index entry, writes the indexes, and hands the fds
 * to fsync (log dup, .index, .timeindex) to out[0..3); returns the count
 * or -1. */
int ls_segment_seal(struct ls_segment *seg, int out[3]);
/* File position of the last indexed batch at or before relative offset
 * rel (0 when none). */
uint32_t ls_segment_lookup(const struct ls_segment *seg, uint64_t rel);
/* Position to start scanning for the first record with timestamp >= ts. */
uint32_t ls_segment_time_lookup(const struct ls_segment *seg, int64_t ts);
/* Where truncation to `offset` cuts seg: *pos the file position of the
 * first batch whose last offset is >= offset and *cut_base its base
 * offset; seg->size and UINT64_MAX when there is none.  0, -1 on a read
 * error. */
int ls_segment_cut_point(const struct ls_segment *seg, uint64_t offset, uint64_t *pos,
			 uint64_t *cut_base);
/*
 * Cuts seg to its first `cut` bytes (a batch boundary) and makes it an
 * active segment: the .log cut and fdatasynced (when readers hold seg,
 * refs > 1, the kept bytes are copied to a new file, fdatasynced and
 * renamed over the .log instead, so they go on reading the old one), the
 * in-memory indexes cut and the tail after the last kept entry re-noted,
 * the index files opened and cut to match.  The caller fsyncs the folder.
 * Returns the segment to keep (seg, or the copy: then the caller drops
 * its reference to seg), or NULL with errno; after a failure the .log may
 * already be cut (the caller fails the partition).
 */
struct ls_segment *ls_segment_truncate(int dirfd, struct ls_segment *seg, uint64_t cut,
				       int64_t interval);

/* A cursor over the batch headers of a segment file, reading ahead in
 * chunks so that scanning small batches costs few system calls. */
struct ls_scan {
	int fd;
	uint64_t pos, end; /* next batch position; stop at end */
	unsigned char buf[16384];
	uint64_t buf_pos;
	size_t buf_len;
};

void ls_scan_init(struct ls_scan *sc, int fd, uint64_t pos, uint64_t end);
/* Header of the batch at sc->pos: 1 and *info (then sc->pos is still that
 * batch; ls_scan_advance moves past it), 0 at end or at an incomplete or
 * malformed header, -1 on a read error. */
int ls_scan_peek(struct ls_scan *sc, struct ls_batch_info *info);
void ls_scan_advance(struct ls_scan *sc, const struct ls_batch_info *info);

/* ---- producer.c: idempotent producers' state ----------------------------- */

#define LS_PRODUCER_BATCHES 5 /* batches remembered per producer, as Kafka */
#define LS_PSTATE_DUPLICATE 1 /* ls_pstate_check: a retry of a stored batch */

struct ls_pbatch {
	int32_t first_seq, last_seq;
	uint64_t first_offset, last_offset;
};
/* One producer id: its epoch, its last batches (oldest first), and when
 * its last batch was appended (broker clock, ms); the last offset it wrote
 * (a batch's or a transaction marker's) and the first offset of its open
 * transaction. */
struct ls_pentry {
	int64_t pid; /* -1: a free slot */
	int16_t epoch;
	int64_t last_ts;
	uint8_t n; /* 0: no sequence known (a marker began the epoch) */
	struct ls_pbatch b[LS_PRODUCER_BATCHES];
	uint64_t last_offset;
	int64_t txn_first; /* -1: no transaction open */
};
struct ls_pstate;
struct ls_pstate *ls_pstate_new(void);
void ls_pstate_free(struct ls_pstate *st);
size_t ls_pstate_count(const struct ls_pstate *st);
const struct ls_pentry *ls_pstate_find(const struct ls_pstate *st, int64_t pid);
/* Records batch b, stored at base (its producer id >= 0; else nothing).
 * A transactional batch opens its producer's transaction at base when none
 * is open.  A control batch is a transaction marker of type `marker`
 * (LS_TXN_ABORT or LS_TXN_COMMIT, read from its record with
 * ls_batch_control_type; any other value: an unreadable control batch,
 * ignored): it closes the producer's transaction, an abort adding it to
 * the aborted ones.  marker is ignored for other batches.  LS_OK or
 * LS_ERR_NOMEM (the state is then unusable: drop it). */
int ls_pstate_note(struct ls_pstate *st, const struct ls_batch_info *b, uint64_t base, int marker,
		   int64_t now);
/* The first offset of the oldest open transaction, or log_end. */
uint64_t ls_pstate_first_unstable(const struct ls_pstate *st, uint64_t log_end);
/* ls_txns_aborted over st's aborted transactions. */
size_t ls_pstate_aborted(const struct ls_pstate *st, uint64_t from, uint64_t to,
			 struct ls_aborted_txn *out, size_t max);
/* Whether b may be appended: LS_OK; LS_PSTATE_DUPLICATE (one of the
 * producer's last batches again: its offsets in *dup_base, *dup_last);
 * LS_ERR_PRODUCER_FENCED (an older epoch); LS_ERR_OUT_OF_ORDER_SEQUENCE.
 * A producer whose last batch is below log_start or older than oldest_ts
 * counts as unknown (any sequence goes). */
int ls_pstate_check(const struct ls_pstate *st, const struct ls_batch_info *b, uint64_t log_start,
		    int64_t oldest_ts, uint64_t *dup_base, uint64_t *dup_last);
/* Forgets the producers whose last batch is below log_start (with their
 * open transaction) and the aborted transactions whose marker is, or the
 * producers with no open transaction whose last timestamp is older than
 * now - expiration_ms (< 0: never). */
void ls_pstate_truncate_head(struct ls_pstate *st, uint64_t log_start);
void ls_pstate_expire(struct ls_pstate *st, int64_t now_ms, int64_t expiration_ms);
/* Writes <offset>.snapshot of st into dirfd (keeping the two newest). */
int ls_pstate_snapshot(const struct ls_pstate *st, int dirfd, uint64_t offset);
/* Removes the snapshots past offset `above`. */
void ls_pstate_drop_snapshots(int dirfd, uint64_t above);
/* p->pstate built from the newest snapshot and the log after it, unless
 * it is there: LS_OK, LS_ERR_IO, LS_ERR_NOMEM. */
int ls_pstate_load(struct ls_partition *p, int64_t now_ms);
/* Drops p->pstate (a truncation: built again when next needed). */
void ls_pstate_unload(struct ls_partition *p);

/* ---- txn.c: a partition's transactions (KIP-98) ------------------------- */

/* An open transaction: its producer and its first offset. */
struct ls_open_txn {
	int64_t pid;
	uint64_t first;
};
/* An aborted transaction: [first, last] (last: its marker), and the first
 * unstable offset just after its marker (a bound on the first offsets of
 * every transaction aborted after it). */
struct ls_txn_aborted {
	int64_t pid;
	uint64_t first, last, bound;
};
#define LS_TXN_ABORTED_BYTES 32 /* one in a snapshot */
struct ls_txns {
	struct ls_open_txn *open; /* owned: sorted by first offset */
	size_t nopen, open_cap;
	struct ls_txn_aborted *ab; /* owned: sorted by marker offset */
	size_t nab, ab_cap;
};
void ls_txns_free(struct ls_txns *t);
/* Adds pid's transaction opened at `first`: LS_OK, LS_ERR_NOMEM. */
int ls_txns_open(struct ls_txns *t, int64_t pid, uint64_t first);
/* Removes pid's transaction opened at `first` (none: nothing). */
void ls_txns_close(struct ls_txns *t, int64_t pid, uint64_t first);
/* The first offset of the oldest open transaction, if below log_end;
 * else log_end. */
uint64_t ls_txns_first_unstable(const struct ls_txns *t, uint64_t log_end);
/* Records that pid's transaction [first, last] was aborted by the marker
 * at last, after ls_txns_close of it; markers come in offset order.
 * LS_OK, LS_ERR_NOMEM. */
int ls_txns_add_aborted(struct ls_txns *t, int64_t pid, uint64_t first, uint64_t last);
/* The aborted transactions overlapping [from, to) (last >= from, first <
 * to), oldest first, the first max of them copied into out; returns how
 * many overlap.  A binary search, then the entries up to the bound. */
size_t ls_txns_aborted(const struct ls_txns *t, uint64_t from, uint64_t to,
		       struct ls_aborted_txn *out, size_t max);
/* Forgets the aborted transactions whose marker is below log_start. */
void ls_txns_truncate_head(struct ls_txns *t, uint64_t log_start);
/* The aborted list in a snapshot: its size in bytes; written at p (the
 * end returned); read from p[0..len), exactly that (LS_OK,
 * LS_ERR_CORRUPT, LS_ERR_NOMEM; appended to t, which starts empty). */
size_t ls_txns_snapshot_size(const struct ls_txns *t);
unsigned char *ls_txns_put(const struct ls_txns *t, unsigned char *p);
int ls_txns_get(struct ls_txns *t, const unsigned char *p, size_t len);

/* ---- partition.c ------------------------------------------------------- */

/* Opens (create: makes) partition `index` of topic t in folder
 * "<name>-<index>", recovering from `recovery_point` when !clean.
 * NULL on failure with err set. */
struct ls_partition *ls_partition_open(struct ls_store *s, struct ls_topic *t,
				       int32_t index, int create, int clean,
				       uint64_t recovery_point,
				       uint64_t cleaner_point, char *err,
				       size_t errlen);
void ls_partition_unref(struct ls_partition *p);
/* Syncs and writes indexes before close; LS_OK or LS_ERR_IO. */
int ls_partition_close_sync(struct ls_partition *p);
/* Detaches p from its topic and removes its folder. */
void ls_partition_destroy(struct ls_partition *p);
/* Removes segment i (not the active one): unlink and unref. */
void ls_partition_drop_segment(struct ls_partition *p, size_t i);
/* Index of the segment holding offset (largest base <= offset). */
size_t ls_partition_find_segment(const struct ls_partition *p, uint64_t offset);
/* Appends an already-built batch (base offset field rewritten here). */
int ls_partition_write(struct ls_partition *p, const unsigned char *batch,
		       size_t len, const struct ls_batch_info *info,
		       struct ls_append_result *res);

/* ---- epoch.c ------------------------------------------------------------ */

/* Loads leader-epoch-checkpoint (missing: no epochs; malformed: reported,
 * no epochs) and drops the epochs starting at or after the log end.
 * LS_OK, LS_ERR_IO. */
int ls_epochs_load(struct ls_partition *p);
/* Drops the epochs starting at or after `end` (Kafka's truncateFromEnd),
 * rewriting the checkpoint when one went.  LS_OK, LS_ERR_IO, LS_ERR_NOMEM. */
int ls_epochs_truncate_end(struct ls_partition *p, uint64_t end);
/* Drops every epoch and rewrites the checkpoint (empty). */
int ls_epochs_clear(struct ls_partition *p);

/* ---- topic.c / store.c ------------------------------------------------- */

int ls_topic_valid_name(const char *name);
/* Loads topic from "<name>.topic" (clean/recovery per partition).  An
 * invalid config line is reported and left at its default; a missing or
 * invalid partition count is taken from the folders on disk.  NULL on
 * failure with err set. */
struct ls_topic *ls_topic_load(struct ls_store *s, const char *name, int clean,
			       char *err, size_t errlen);
/* Recreates "<name>.topic" for partition folders found without it: nparts
 * partitions, default config (the internal offsets topic gets its own),
 * then loads them.  NULL on failure with err set. */
struct ls_topic *ls_topic_rebuild(struct ls_store *s, const char *name, int32_t nparts,
				  int clean, char *err, size_t errlen);
/* 1 + the highest index of the "<name>-<i>" folders of the store (0: none);
 * *has_data (may be NULL): whether any of them holds a non-empty .log. */
int32_t ls_topic_scan_partitions(struct ls_store *s, const char *name, int *has_data);
/* Whether folder dirfd/name holds a non-empty .log (1 when unsure). */
int ls_dir_has_data(int dirfd, const char *name);
void ls_topic_free(struct ls_topic *t);
int ls_store_insert_topic(struct ls_store *s, struct ls_topic *t);
/* Recovery and cleaner points and high watermark read from the
 * checkpoints at open (0 when missing). */
int ls_store_checkpoint_lookup(struct ls_store *s, const char *dirname,
			       uint64_t *rp, uint64_t *cp, uint64_t *hw);
/* The log start set by ls_partition_set_log_start before, from the
 * checkpoint at open (0 when none). */
uint64_t ls_store_log_start_lookup(struct ls_store *s, const char *dirname);
struct ls_topic *ls_topic_create_internal(struct ls_store *s, const char *name,
					  int32_t partitions, const struct ls_kv *cfg,
					  size_t ncfg, int internal, char *err,
					  size_t errlen);

/* ---- offsets.c / retention.c ------------------------------------------- */

int ls_offsets_load(struct ls_store *s);
void ls_offsets_free(struct ls_store *s);
/* Tombstones for every committed offset of topic `name`. */
int ls_offsets_forget_topic(struct ls_store *s, const char *name);
void ls_cleaner_free(struct ls_cleaner *c);

#endif
