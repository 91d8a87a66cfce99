/*
 * logstore/partition.c: one partition: its folder of segments, the append
 * paths (batches built here, and producer batches kept byte for byte),
 * segment rolls, reads as file ranges, lookups by timestamp, and the
 * flush machinery (sync jobs that can run their fsyncs on another thread).
 *
 * Must not depend on anything but libc, POSIX and zlib.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "logstore_internal.h"

struct ls_sync_job {
	struct ls_partition *p; /* ref: held until ls_sync_end */
	uint64_t target;        /* log end when the job began */
	int *fds;               /* owned: closed by ls_sync_end */
	size_t nfds;
	int dirfd;              /* owned dup, or -1 */
	int result;
	int fault;              /* an injected fsync failure (fault.c) */
	uint64_t *sizes;        /* owned, with a fsync ledger: fds' sizes at begin */
	uint64_t took_us;       /* how long ls_sync_run took */
	uint32_t trunc_gen;     /* p->trunc_gen at begin */
};

/* ---- opening -------------------------------------------------------------- */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Base offsets of the .log files in the folder, sorted; leftovers of an
 * interrupted compaction or atomic write are removed. */
static int list_segments(int dirfd, uint64_t **out, size_t *count)
{
	uint64_t *bases = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd = dup(dirfd);

	if (fd < 0 || (d = fdopendir(fd)) == NULL) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	rewinddir(d); /* the dup shares its offset with dirfd */
	while ((de = readdir(d)) != NULL) {
		const char *name = de->d_name;
		size_t len = strlen(name);
		char *end;
		unsigned long long base;

		if (len > 8 && (strcmp(name + len - 8, ".cleaned") == 0)) {
			unlinkat(dirfd, name, 0);
			continue;
		}
		if (len > 4 && strcmp(name + len - 4, ".tmp") == 0) {
			unlinkat(dirfd, name, 0);
			continue;
		}
		if (len != 24 || strcmp(name + 20, ".log") != 0)
			continue;
		errno = 0;
		base = strtoull(name, &end, 10);
		if (errno != 0 || end != name + 20)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			uint64_t *nb = realloc(bases, ncap * sizeof *nb);

			if (nb == NULL) {
				free(bases);
				closedir(d);
				errno = ENOMEM;
				return -1;
			}
			bases = nb;
			cap = ncap;
		}
		bases[n++] = base;
	}
	closedir(d);
	if (n > 0)
		qsort(bases, n, sizeof *bases, cmp_u64);
	*out = bases;
	*count = n;
	return 0;
}

static int push_segment(struct ls_partition *p, struct ls_segment *seg)
{
	if (p->nsegs == p->segs_cap) {
		size_t cap = p->segs_cap ? p->segs_cap * 2 : 8;
		struct ls_segment **n = realloc(p->segs, cap * sizeof *n);

		if (n == NULL)
			return -1;
		p->segs = n;
		p->segs_cap = cap;
	}
	p->segs[p->nsegs++] = seg;
	return 0;
}

static int64_t part_now(const struct ls_partition *p)
{
	return ls_now_ms(p->store);
}

static const struct ls_topic_config *part_cfg(const struct ls_partition *p)
{
	return &p->topic->cfg;
}

struct ls_partition *ls_partition_open(struct ls_store *s, struct ls_topic *t,
				       int32_t index, int create, int clean,
				       uint64_t rp, uint64_t cp, char *err,
				       size_t errlen)
{
	struct ls_partition *p = calloc(1, sizeof *p);
	int64_t interval = t->cfg.index_interval_bytes;
	uint64_t *bases = NULL;
	size_t nbases = 0;
	char name[300];
	int ok = 0;

	if (p == NULL) {
		tu_errf(err, errlen, "out of memory");
		return NULL;
	}
	p->store = s;
	p->topic = t;
	p->index = index;
	p->refs = 1;
	p->dirfd = -1;
	p->first_unflushed_ms = -1;
	snprintf(name, sizeof name, "%s-%" PRId32, t->name, index);
	p->dirname = strdup(name);
	if (p->dirname == NULL)
		goto out;
	if (create) {
		ls_remove_tree(s->dirfd, name); /* an orphan of a failed create */
		if (mkdirat(s->dirfd, name, 0755) != 0) {
			tu_errf(err, errlen, "mkdir %s: %s", name, strerror(errno));
			goto out;
		}
	} else if (mkdirat(s->dirfd, name, 0755) == 0) {
		create = 1; /* listed in the metadata but missing: start empty */
	}
	p->dirfd = openat(s->dirfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (p->dirfd < 0) {
		tu_errf(err, errlen, "open %s: %s", name, strerror(errno));
		goto out;
	}
	if (!create && list_segments(p->dirfd, &bases, &nbases) != 0) {
		tu_errf(err, errlen, "list %s: %s", name, strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < nbases; i++) {
		int last = i + 1 == nbases;
		/* The internal offsets topic is read whole at every open:
		 * verified first, so that damage is salvaged, not fatal. */
		int recover = s->opt.verify_on_open || t->internal ||
			      (!clean && (last || bases[i + 1] > rp));
		struct ls_salvage sv = { s, name, last ? UINT64_MAX : bases[i + 1], 0, 0 };
		struct ls_segment *seg;

		/* Damage inside a segment is cut out there (and reported);
		 * the segments after it, and their offsets, stay. */
		seg = ls_segment_open(p->dirfd, bases[i], recover, last, interval, &sv);
		if (seg == NULL) {
			tu_errf(err, errlen, "open segment %s/%020" PRIu64 ": %s",
				   name, bases[i], strerror(errno));
			goto out;
		}
		if (push_segment(p, seg) != 0) {
			ls_segment_unref(seg);
			goto out;
		}
	}
	if (p->nsegs == 0) {
		struct ls_segment *seg = ls_segment_create(p->dirfd, 0, ls_now_ms(s));

		if (seg == NULL || push_segment(p, seg) != 0) {
			tu_errf(err, errlen, "create segment in %s: %s", name,
				   strerror(errno));
			ls_segment_unref(seg);
			goto out;
		}
		if (ls_fsync_fd(p->dirfd) != 0 || ls_fsync_fd(s->dirfd) != 0)
			goto out;
	}
	for (size_t i = 0; i < p->nsegs; i++) {
		if (i + 1 < p->nsegs)
			p->segs[i]->next = p->segs[i + 1]->base;
		p->bytes += p->segs[i]->size;
	}
	p->segs[p->nsegs - 1]->created_ms = ls_now_ms(s);
	p->log_start = p->segs[0]->base;
	p->log_end = p->segs[p->nsegs - 1]->next;
	p->flushed = p->log_end; /* recovery fsynced what it kept */
	p->cleaner_point = cp < p->log_start ? p->log_start : cp;
	if (p->cleaner_point > p->log_end)
		p->cleaner_point = p->log_end;
	if (!create && ls_epochs_load(p) != LS_OK) {
		tu_errf(err, errlen, "leader epochs of %s: %s", name, strerror(errno));
		goto out;
	}
	ok = 1;
out:
	free(bases);
	if (!ok) {
		if (err != NULL && err[0] == '\0')
			tu_errf(err, errlen, "partition %s: %s", name, strerror(errno));
		ls_partition_unref(p);
		return NULL;
	}
	return p;
}

void ls_partition_unref(struct ls_partition *p)
{
	if (p == NULL || --p->refs > 0)
		return;
	for (size_t i = 0; i < p->nsegs; i++)
		ls_segment_unref(p->segs[i]);
	for (size_t i = 0; i < p->npending; i++)
		close(p->pending_fds[i]);
	ls_cleaner_free(p->cleaner);
	ls_pstate_free(p->pstate);
	if (p->dirfd >= 0)
		close(p->dirfd);
	free(p->pending_fds);
	free(p->epochs);
	free(p->segs);
	free(p->dirname);
	free(p);
}

void ls_partition_destroy(struct ls_partition *p)
{
	ls_remove_tree(p->store->dirfd, p->dirname);
	p->topic = NULL;
	p->failed = 1;
	ls_partition_unref(p);
}

static void snapshot_producers(struct ls_partition *p, int64_t now);

int ls_partition_close_sync(struct ls_partition *p)
{
	struct ls_segment *act = p->segs[p->nsegs - 1];
	int rc = ls_sync(p);

	if (ls_segment_write_indexes(act) != 0 && rc == LS_OK)
		rc = LS_ERR_IO;
	if (rc == LS_OK)
		snapshot_producers(p, ls_now_ms(p->store));
	return rc;
}

struct ls_topic *ls_partition_topic(const struct ls_partition *p)
{
	return p->topic;
}

int32_t ls_partition_index(const struct ls_partition *p)
{
	return p->index;
}

uint64_t ls_log_start(const struct ls_partition *p)
{
	return p->log_start;
}

uint64_t ls_log_end(const struct ls_partition *p)
{
	return p->log_end;
}

uint64_t ls_flushed_offset(const struct ls_partition *p)
{
	return p->flushed;
}

uint64_t ls_partition_high_watermark(const struct ls_partition *p)
{
	return p->hw;
}

void ls_partition_set_high_watermark(struct ls_partition *p, uint64_t hw)
{
	p->hw = hw < p->log_end ? hw : p->log_end;
	p->store->hw_on = 1;
}

int ls_partition_failed(const struct ls_partition *p)
{
	return p->failed;
}

uint64_t ls_partition_bytes(const struct ls_partition *p)
{
	return p->bytes;
}

size_t ls_partition_segments(const struct ls_partition *p)
{
	return p->nsegs;
}

size_t ls_partition_find_segment(const struct ls_partition *p, uint64_t offset)
{
	size_t lo = 0, hi = p->nsegs;

	while (hi - lo > 1) { /* segs[lo].base <= offset < segs[hi].base */
		size_t mid = lo + (hi - lo) / 2;

		if (p->segs[mid]->base <= offset)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

void ls_partition_drop_segment(struct ls_partition *p, size_t i)
{
	struct ls_segment *seg = p->segs[i];

	ls_segment_unlink(p->dirfd, seg);
	memmove(&p->segs[i], &p->segs[i + 1], (p->nsegs - i - 1) * sizeof *p->segs);
	p->nsegs--;
	p->bytes -= seg->size;
	/* a log start set within the new first segment stays */
	if (p->log_start < p->segs[0]->base)
		p->log_start = p->segs[0]->base;
	if (p->cleaner_point < p->log_start)
		p->cleaner_point = p->log_start;
	ls_pstate_truncate_head(p->pstate, p->log_start); /* NULL: nothing */
	ls_segment_unref(seg);
}

/* ---- appending ------------------------------------------------------------ */

static int add_pending(struct ls_partition *p, int fd)
{
	if (p->npending == p->pending_cap) {
		size_t cap = p->pending_cap ? p->pending_cap * 2 : 8;
		int *n = realloc(p->pending_fds, cap * sizeof *n);

		if (n == NULL)
			return -1;
		p->pending_fds = n;
		p->pending_cap = cap;
	}
	p->pending_fds[p->npending++] = fd;
	return 0;
}

/* Seals the active segment (its fds to fsync go to the pending list; the
 * next sync makes them durable, as Kafka flushes a rolled segment
 * asynchronously) and starts a new one at the log end. */
/* The idempotent producers' state at the log end, when it is built: it
 * saves reading the log at the next open (producer.c). */
static void snapshot_producers(struct ls_partition *p, int64_t now)
{
	int64_t exp = p->store->opt.producer_id_expiration_ms;
	if (!p->pstate)
		return;
	ls_pstate_truncate_head(p->pstate, p->log_start);
	ls_pstate_expire(p->pstate, now, exp);
	if (ls_pstate_snapshot(p->pstate, p->dirfd, p->log_end) != LS_OK)
		ls_warn(p->store, "%s: writing the producers' snapshot failed: %s", p->dirname,
			strerror(errno));
}

static int roll(struct ls_partition *p, int64_t now)
{
	struct ls_segment *old = p->segs[p->nsegs - 1], *seg;
	int fds[3], n;

	n = ls_segment_seal(old, fds);
	if (n < 0)
		return LS_ERR_IO;
	for (int i = 0; i < n; i++)
		if (add_pending(p, fds[i]) != 0) {
			for (int j = i; j < n; j++)
				close(fds[j]);
			return LS_ERR_NOMEM;
		}
	seg = ls_segment_create(p->dirfd, p->log_end, now);
	if (seg == NULL)
		return LS_ERR_IO;
	if (push_segment(p, seg) != 0) {
		ls_segment_unlink(p->dirfd, seg);
		ls_segment_unref(seg);
		return LS_ERR_NOMEM;
	}
	p->dir_dirty = 1;
	snapshot_producers(p, now);
	return LS_OK;
}

/* Rolls before a batch of len bytes whose last offset is `last`. */
static int maybe_roll(struct ls_partition *p, size_t len, uint64_t last, int64_t now)
{
	const struct ls_topic_config *c = part_cfg(p);
	struct ls_segment *seg = p->segs[p->nsegs - 1];

	if (seg->size == 0)
		return LS_OK;
	if (seg->size + len > (uint64_t)c->segment_bytes ||
	    now - seg->created_ms >= c->segment_ms ||
	    (seg->nidx + 1) * 8 > (uint64_t)c->segment_index_bytes ||
	    last - seg->base >= UINT32_MAX)
		return roll(p, now);
	return LS_OK;
}

static int writev_full(int fd, struct iovec *iov, int cnt, uint64_t pos)
{
	while (cnt > 0) {
		ssize_t n = pwritev(fd, iov, cnt, (off_t)pos);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0) {
			errno = ENOSPC;
			return -1;
		}
		pos += (uint64_t)n;
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (char *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

/* An armed write fault (fault.c): -1 with errno ENOSPC, after writing the
 * first half of the batch for a short write, as a filling disk does. */
static int fault_write(struct ls_partition *p, struct iovec *iov, int cnt, size_t len,
		       struct ls_segment *seg)
{
	const char *topic = p->topic->name;
	int shorted = ls_fault_take(LS_FAULT_SHORT_WRITE, topic);

	if (!shorted && !ls_fault_take(LS_FAULT_WRITE, topic))
		return 0;
	if (shorted) {
		size_t half = len / 2, done = 0;

		for (int i = 0; i < cnt && done < half; i++) {
			size_t n = iov[i].iov_len < half - done ? iov[i].iov_len : half - done;

			if (ls_pwrite_full(seg->fd, iov[i].iov_base, n, seg->size + done) != 0)
				break;
			done += n;
		}
	}
	errno = ENOSPC;
	return -1;
}

/* Writes one batch (iov, len bytes; its base offset field already the log
 * end) at the end of the active segment. */
static int part_write(struct ls_partition *p, struct iovec *iov, int cnt, size_t len,
		      uint32_t lod, int64_t max_ts, int64_t now,
		      struct ls_append_result *res)
{
	const struct ls_topic_config *c = part_cfg(p);
	struct ls_segment *seg;
	uint64_t base = p->log_end;
	int rc;

	rc = maybe_roll(p, len, p->log_end + lod, now);
	if (rc != LS_OK) {
		p->failed = 1;
		return rc;
	}
	seg = p->segs[p->nsegs - 1];
	if (fault_write(p, iov, cnt, len, seg) != 0 ||
	    writev_full(seg->fd, iov, cnt, seg->size) != 0) {
		/* Nothing half-written may stay: cut back to the last batch. */
		if (ftruncate(seg->fd, (off_t)seg->size) != 0)
			p->failed = 1;
		return LS_ERR_IO;
	}
	if (ls_segment_note_batch(seg, base, lod, max_ts, len,
				  c->index_interval_bytes) != 0) {
		p->failed = 1;
		return LS_ERR_NOMEM;
	}
	p->log_end = seg->next;
	p->bytes += len;
	if (p->first_unflushed_ms < 0)
		p->first_unflushed_ms = now;
	if (res != NULL) {
		res->base_offset = base;
		res->last_offset = base + lod;
		res->log_append_time = c->timestamp_type == LS_TS_LOG_APPEND_TIME ? now : -1;
	}
	if (p->log_end - p->flushed >= (uint64_t)c->flush_messages)
		return ls_sync(p);
	return LS_OK;
}

int ls_append(struct ls_partition *p, const struct ls_record *recs, size_t n,
	      int codec, struct ls_append_result *res)
{
	const struct ls_topic_config *c;
	struct ls_store *s = p->store;
	struct ls_encode_args a;
	const unsigned char *out;
	struct iovec iov;
	size_t len;
	int rc;

	if (n == 0 || p->topic == NULL)
		return LS_ERR_INVALID;
	if (p->failed)
		return LS_ERR_IO;
	c = part_cfg(p);
	if (codec == LS_CODEC_TOPIC)
		codec = c->compression_type == LS_COMPRESSION_PRODUCER ? LS_CODEC_NONE
								      : (int)c->compression_type;
	if (c->cleanup_policy & LS_CLEANUP_COMPACT)
		for (size_t i = 0; i < n; i++)
			if (recs[i].key == NULL)
				return LS_ERR_INVALID_RECORD;
	memset(&a, 0, sizeof a);
	a.base = p->log_end;
	a.codec = codec;
	a.now = part_now(p);
	a.log_append_time = c->timestamp_type == LS_TS_LOG_APPEND_TIME;
	a.leader_epoch = ls_partition_latest_epoch(p); /* -1 when none */
	rc = ls_encode_batch(&s->enc, &a, recs, n, &out, &len);
	if (rc != LS_OK)
		return rc;
	if (len > (uint64_t)c->max_message_bytes)
		return LS_ERR_TOO_LARGE;
	iov.iov_base = (void *)out;
	iov.iov_len = len;
	return part_write(p, &iov, 1, len, (uint32_t)(n - 1),
			  (int64_t)ls_get_be64(out + 35), a.now, res);
}

int ls_skip_to(struct ls_partition *p, uint64_t offset)
{
	struct ls_segment *act = p->segs[p->nsegs - 1];

	if (p->failed)
		return LS_ERR_IO;
	if (offset <= p->log_end)
		return LS_OK;
	/* Batches may start past a segment's base (relative offsets), so the
	 * active segment simply continues after the gap. */
	act->next = offset;
	p->log_end = offset;
	return LS_OK;
}

static int scratch_reserve(struct ls_store *s, size_t len)
{
	unsigned char *n;

	if (len <= s->scratch_cap)
		return LS_OK;
	n = realloc(s->scratch, len);
	if (n == NULL)
		return LS_ERR_NOMEM;
	s->scratch = n;
	s->scratch_cap = len;
	return LS_OK;
}

/* An idempotent producer's batch b: LS_OK to append it; a retry of one of
 * its last batches answers LS_PSTATE_DUPLICATE with the offsets it got
 * then in res; or why it is refused (producer.c). */
static int producer_check(struct ls_partition *p, const struct ls_batch_info *b,
			  struct ls_append_result *res)
{
	const struct ls_store *s = p->store;
	int64_t now = ls_now_ms(s), exp = s->opt.producer_id_expiration_ms;
	uint64_t base = 0, last = 0;
	int rc = ls_pstate_load(p, now);

	if (rc != LS_OK)
		return rc;
	rc = ls_pstate_check(p->pstate, b, p->log_start, exp < 0 ? INT64_MIN : now - exp, &base,
			     &last);
	if (rc == LS_PSTATE_DUPLICATE && res != NULL) {
		res->base_offset = base;
		res->last_offset = last;
		res->log_append_time = -1;
	}
	return rc;
}

/* After part_write of an idempotent producer's batch b at base (a
 * transaction marker of type `marker` when b is a control batch): noted. */
static int producer_noted(struct ls_partition *p, const struct ls_batch_info *b, uint64_t base,
			  int marker, int rc)
{
	if (p->pstate && b->producer_id >= 0 && (rc == LS_OK || p->log_end > base) &&
	    ls_pstate_note(p->pstate, b, base, marker, ls_now_ms(p->store)) != LS_OK)
		ls_pstate_unload(p); /* out of memory: built again from the log */
	return rc;
}

/* Kafka's broker rule: a topic whose compression.type names a codec
 * keeps every produced batch in that codec; a batch in another one is
 * recompressed.  compression.type=producer keeps batches as sent. */
static int needs_recode(const struct ls_topic_config *c, const struct ls_batch_info *info)
{
	return c->compression_type != LS_COMPRESSION_PRODUCER &&
	       c->compression_type != info->codec;
}

/* Appends the validated batch recompressed in the topic's codec, as
 * Kafka's leader rebuilds it: records, offset deltas, producer id, epoch,
 * base sequence and timestamps kept (LogAppendTime: the broker's time),
 * the partition's leader epoch stamped when it has one. */
static int append_recoded(struct ls_partition *p, const unsigned char *batch, size_t len,
			  const struct ls_batch_info *info, int32_t epoch,
			  struct ls_append_result *res)
{
	const struct ls_topic_config *c = part_cfg(p);
	struct ls_batch_info tmpl = *info;
	struct ls_encode_args a;
	const unsigned char *out;
	struct iovec iov;
	size_t out_len;
	int64_t now = part_now(p);
	int rc;

	memset(&a, 0, sizeof a);
	a.base = p->log_end;
	a.codec = (int)c->compression_type;
	a.log_append_time = c->timestamp_type == LS_TS_LOG_APPEND_TIME;
	a.now = a.log_append_time ? now : -1; /* CreateTime: timestamps as sent */
	a.tmpl = &tmpl;
	tmpl.attributes = (int16_t)(tmpl.attributes & ~0x8); /* the topic's type */
	if (epoch >= 0)
		tmpl.partition_leader_epoch = epoch;
	rc = ls_batch_recode(p->store, batch, len, &a, &out, &out_len);
	if (rc != LS_OK)
		return rc;
	if (out_len > (uint64_t)c->max_message_bytes)
		return LS_ERR_TOO_LARGE;
	iov.iov_base = (void *)out;
	iov.iov_len = out_len;
	return part_write(p, &iov, 1, out_len, (uint32_t)info->last_offset_delta,
			  (int64_t)ls_get_be64(out + 35), now, res);
}

/* ls_append_batch with the reserved header prefix to refuse (NULL: none). */
static int append_batch(struct ls_partition *p, const void *batch, size_t len, const char *reserved,
			struct ls_append_result *res, struct ls_append_error *err)
{
	const struct ls_topic_config *c;
	struct ls_store *s = p->store;
	struct ls_batch_info info;
	unsigned char base_be[8], epoch_be[4];
	struct iovec iov[4];
	int32_t epoch = ls_partition_latest_epoch(p);
	int64_t now, max_ts;
	uint64_t base;
	int rc;

	if (p->topic == NULL)
		return LS_ERR_INVALID;
	if (p->failed)
		return LS_ERR_IO;
	c = part_cfg(p);
	if (len > (uint64_t)c->max_message_bytes)
		return LS_ERR_TOO_LARGE;
	rc = ls_batch_validate_reserved(s->dec, batch, len,
					(c->cleanup_policy & LS_CLEANUP_COMPACT) != 0, reserved,
					&info, err);
	if (rc != LS_OK)
		return rc;
	if (info.producer_id >= 0 && (rc = producer_check(p, &info, res)) != LS_OK)
		return rc == LS_PSTATE_DUPLICATE ? LS_OK : rc;
	base = p->log_end;
	if (needs_recode(c, &info))
		return producer_noted(p, &info, base, -1,
				      append_recoded(p, batch, len, &info, epoch, res));
	now = part_now(p);
	max_ts = info.max_timestamp;
	if (c->timestamp_type == LS_TS_LOG_APPEND_TIME) {
		/* Kafka's one rewrite of a producer batch: the broker's
		 * time, attribute bit 3, and so a new CRC. */
		rc = scratch_reserve(s, len);
		if (rc != LS_OK)
			return rc;
		memcpy(s->scratch, batch, len);
		ls_put_be64(s->scratch, p->log_end);
		ls_put_be16(s->scratch + 21, (uint16_t)(info.attributes | 0x8));
		ls_put_be64(s->scratch + 35, (uint64_t)now);
		if (epoch >= 0) /* the leader's epoch, outside the CRC */
			ls_put_be32(s->scratch + 12, (uint32_t)epoch);
		ls_put_be32(s->scratch + 17, ls_batch_crc(s->scratch, len));
		max_ts = now;
		iov[0].iov_base = s->scratch;
		iov[0].iov_len = len;
		rc = part_write(p, iov, 1, len, (uint32_t)info.last_offset_delta, max_ts, now, res);
		return producer_noted(p, &info, base, -1, rc);
	}
	/* baseOffset lies outside the CRC: write ours, then the producer's
	 * bytes from offset 8 on, untouched but for partitionLeaderEpoch
	 * (bytes 12..15, outside the CRC too) when the partition has a
	 * leader epoch: Kafka's leader stamps its own. */
	ls_put_be64(base_be, p->log_end);
	iov[0].iov_base = base_be;
	iov[0].iov_len = 8;
	if (epoch < 0) {
		iov[1].iov_base = (char *)batch + 8;
		iov[1].iov_len = len - 8;
		rc = part_write(p, iov, 2, len, (uint32_t)info.last_offset_delta, max_ts, now, res);
		return producer_noted(p, &info, base, -1, rc);
	}
	ls_put_be32(epoch_be, (uint32_t)epoch);
	iov[1].iov_base = (char *)batch + 8;
	iov[1].iov_len = 4;
	iov[2].iov_base = epoch_be;
	iov[2].iov_len = 4;
	iov[3].iov_base = (char *)batch + 16;
	iov[3].iov_len = len - 16;
	rc = part_write(p, iov, 4, len, (uint32_t)info.last_offset_delta, max_ts, now, res);
	return producer_noted(p, &info, base, -1, rc);
}

int ls_append_batch(struct ls_partition *p, const void *batch, size_t len,
		    struct ls_append_result *res)
{
	return append_batch(p, batch, len, p->store->opt.reserved_header_prefix, res, NULL);
}

int ls_append_batch_checked(struct ls_partition *p, const void *batch, size_t len,
			    struct ls_append_result *res, struct ls_append_error *err)
{
	if (err) {
		err->index = -1;
		err->message = NULL;
	}
	return append_batch(p, batch, len, p->store->opt.reserved_header_prefix, res, err);
}

int ls_append_batch_trusted(struct ls_partition *p, const void *batch, size_t len,
			    struct ls_append_result *res)
{
	return append_batch(p, batch, len, NULL, res, NULL);
}

/* The marker ending pid's transaction (logstore.h): one control batch
 * built by the batch encoder, its record's key (version 0, type) and value
 * (version 0, coordinator epoch), stamped with the partition's leader
 * epoch and the broker's time. */
int ls_append_txn_marker(struct ls_partition *p, int64_t pid, int16_t epoch, int type,
			 int32_t coordinator_epoch, uint64_t *offset)
{
	unsigned char key[4], value[6];
	struct ls_record rec = { .key = key, .key_len = 4, .value = value, .value_len = 6 };
	struct ls_batch_info tmpl = { 0 }, info;
	struct ls_encode_args a = { 0 };
	const unsigned char *out;
	const struct ls_pentry *e;
	struct iovec iov;
	uint64_t base;
	size_t len;
	int rc;

	if (p->topic == NULL || pid < 0 || (type != LS_TXN_ABORT && type != LS_TXN_COMMIT))
		return LS_ERR_INVALID;
	if (p->failed)
		return LS_ERR_IO;
	a.now = rec.timestamp = part_now(p);
	if ((rc = ls_pstate_load(p, a.now)) != LS_OK)
		return rc;
	if ((e = ls_pstate_find(p->pstate, pid)) != NULL && epoch < e->epoch)
		return LS_ERR_PRODUCER_FENCED;
	ls_put_be16(key, 0);
	ls_put_be16(key + 2, (uint16_t)type);
	ls_put_be16(value, 0);
	ls_put_be32(value + 2, (uint32_t)coordinator_epoch);
	tmpl.attributes = LS_ATTR_TRANSACTIONAL | LS_ATTR_CONTROL;
	tmpl.partition_leader_epoch = ls_partition_latest_epoch(p); /* -1 when none */
	tmpl.producer_id = pid;
	tmpl.producer_epoch = epoch;
	tmpl.base_sequence = -1;
	base = a.base = p->log_end;
	a.codec = LS_CODEC_NONE;
	a.leader_epoch = tmpl.partition_leader_epoch;
	a.tmpl = &tmpl;
	rc = ls_encode_batch(&p->store->enc, &a, &rec, 1, &out, &len);
	if (rc != LS_OK)
		return rc;
	ls_batch_parse(out, len, &info); /* ours: well formed */
	iov.iov_base = (void *)out;
	iov.iov_len = len;
	rc = part_write(p, &iov, 1, len, 0, a.now, a.now, NULL);
	rc = producer_noted(p, &info, base, type, rc);
	if (rc == LS_OK && offset != NULL)
		*offset = base;
	return rc;
}

/* A legacy message set, converted (legacy.c) and appended as a producer's
 * batch. */
int ls_append_legacy(struct ls_partition *p, const void *set, size_t len,
		     struct ls_append_result *res, struct ls_append_error *err)
{
	void *batch = NULL;
	size_t blen = 0;
	int rc;

	if (err) {
		err->index = -1;
		err->message = NULL;
	}
	if (p->topic == NULL)
		return LS_ERR_INVALID;
	if (p->failed)
		return LS_ERR_IO;
	rc = ls_legacy_convert(set, len, (int)part_cfg(p)->compression_type,
			       p->store->opt.max_inflated_bytes, &batch, &blen, err);
	if (rc == LS_OK)
		rc = ls_append_batch_checked(p, batch, blen, res, err);
	free(batch);
	return rc;
}

/* Writes data[0..len), whole batches that all go to the active segment,
 * at its end and notes each batch (replica appends). */
static int write_run(struct ls_partition *p, const unsigned char *data, size_t len, int64_t now)
{
	const struct ls_topic_config *c = part_cfg(p);
	struct ls_segment *seg = p->segs[p->nsegs - 1];
	struct iovec iov = { (void *)data, len };
	size_t pos = 0;

	if (fault_write(p, &iov, 1, len, seg) != 0 ||
	    ls_pwrite_full(seg->fd, data, len, seg->size) != 0) {
		/* Nothing half-written may stay: cut back to the last batch. */
		if (ftruncate(seg->fd, (off_t)seg->size) != 0)
			p->failed = 1;
		return LS_ERR_IO;
	}
	while (pos < len) {
		struct ls_batch_info info;

		ls_batch_parse(data + pos, len - pos, &info); /* checked by the caller */
		if (ls_segment_note_batch(seg, info.base_offset, (uint32_t)info.last_offset_delta,
					  info.max_timestamp, info.size,
					  c->index_interval_bytes) != 0) {
			p->failed = 1;
			return LS_ERR_NOMEM;
		}
		int marker = info.attributes & LS_ATTR_CONTROL
				     ? ls_batch_control_type(data + pos, info.size)
				     : -1;
		if (p->pstate && info.producer_id >= 0 &&
		    ls_pstate_note(p->pstate, &info, info.base_offset, marker, now) != LS_OK)
			ls_pstate_unload(p);
		pos += info.size;
	}
	p->log_end = seg->next;
	p->bytes += len;
	if (p->first_unflushed_ms < 0)
		p->first_unflushed_ms = now;
	return LS_OK;
}

int ls_append_replica(struct ls_partition *p, const void *data, size_t len, size_t *consumed,
		      struct ls_append_result *res)
{
	const unsigned char *buf = data;
	const struct ls_topic_config *c;
	uint64_t next, first_base = 0;
	size_t pos = 0, whole;
	int rc = LS_OK;

	*consumed = 0;
	if (p->topic == NULL)
		return LS_ERR_INVALID;
	if (p->failed)
		return LS_ERR_IO;
	c = part_cfg(p);
	/* Everything is checked before anything is written. */
	next = p->log_end;
	while (pos < len) {
		struct ls_batch_info info;

		rc = ls_batch_parse(buf + pos, len - pos, &info);
		if (rc == LS_ERR_NOT_FOUND)
			break; /* a trailing incomplete batch: not ours yet */
		if (rc == LS_OK)
			rc = ls_batch_check(buf + pos, info.size, &info);
		if (rc == LS_OK && info.last_offset_delta < 0)
			rc = LS_ERR_INVALID_RECORD;
		if (rc != LS_OK)
			return rc;
		if (pos == 0 ? info.base_offset != next : info.base_offset < next)
			return pos == 0 ? LS_ERR_OFFSET_OUT_OF_RANGE : LS_ERR_INVALID_RECORD;
		if (pos == 0)
			first_base = info.base_offset;
		next = info.base_offset + (uint64_t)info.last_offset_delta + 1;
		pos += info.size;
	}
	whole = pos;
	rc = LS_OK;
	/* Runs of batches that share a segment and an epoch go in one write. */
	for (pos = 0; pos < whole;) {
		struct ls_batch_info info, nx;
		struct ls_segment *seg;
		int64_t now = part_now(p);
		size_t end;

		ls_batch_parse(buf + pos, whole - pos, &info);
		if (info.partition_leader_epoch > ls_partition_latest_epoch(p)) {
			/* the epoch first, as Kafka does: data of an epoch
			 * the cache does not know must not survive a crash
			 * (an epoch starting past the log end is dropped at
			 * open) */
			rc = ls_partition_assign_epoch(p, info.partition_leader_epoch,
						       info.base_offset);
			if (rc != LS_OK)
				break;
		}
		rc = maybe_roll(p, info.size, info.base_offset + (uint64_t)info.last_offset_delta, now);
		if (rc != LS_OK) {
			p->failed = 1;
			break;
		}
		seg = p->segs[p->nsegs - 1];
		for (end = pos + info.size; end < whole; end += nx.size) {
			ls_batch_parse(buf + end, whole - end, &nx);
			if (nx.partition_leader_epoch > ls_partition_latest_epoch(p) ||
			    seg->size + (end - pos) + nx.size > (uint64_t)c->segment_bytes ||
			    nx.base_offset + (uint64_t)nx.last_offset_delta - seg->base >= UINT32_MAX)
				break;
		}
		rc = write_run(p, buf + pos, end - pos, now);
		if (rc != LS_OK)
			break;
		pos = end;
		*consumed = pos;
	}
	if (*consumed > 0 && res != NULL) {
		res->base_offset = first_base;
		res->last_offset = p->log_end - 1;
		res->log_append_time = -1;
	}
	if (rc == LS_OK && p->log_end - p->flushed >= (uint64_t)c->flush_messages)
		rc = ls_sync(p);
	return rc;
}

/* ---- truncation ----------------------------------------------------------- */

/* An fsync of the truncation's folder (with the fault hook): 0/-1. */
static int trunc_fsync_dir(struct ls_partition *p)
{
	if (ls_fault_take(LS_FAULT_FSYNC, p->topic->name)) {
		errno = EIO;
		return -1;
	}
	return ls_fsync_fd(p->dirfd);
}

/* Drops segments [from, nsegs), the last first, so that a crash leaves a
 * prefix of the log. */
static void drop_tail(struct ls_partition *p, size_t from)
{
	while (p->nsegs > from) {
		struct ls_segment *seg = p->segs[--p->nsegs];

		ls_segment_unlink(p->dirfd, seg);
		p->bytes -= seg->size;
		ls_segment_unref(seg); /* readers holding it keep the file */
	}
}

/* What every truncation resets once the log ends at `end`. */
static int truncated_to(struct ls_partition *p, uint64_t end)
{
	ls_cleaner_free(p->cleaner);
	p->cleaner = NULL;
	p->log_end = end;
	if (p->flushed > end)
		p->flushed = end;
	if (p->hw > end)
		p->hw = end;
	if (p->cleaner_point > end)
		p->cleaner_point = end;
	if (p->flushed == p->log_end)
		p->first_unflushed_ms = -1;
	p->trunc_gen++;
	p->store->ckpt_dirty = 1;
	/* the producers' state and snapshots past the cut described batches
	 * that are gone: built again from the log when next needed */
	ls_pstate_unload(p);
	ls_pstate_drop_snapshots(p->dirfd, end);
	return ls_epochs_truncate_end(p, end);
}

/* Kafka's truncateFullyAndStartAt: every segment goes, the log restarts
 * empty at offset. */
static int truncate_fully(struct ls_partition *p, uint64_t offset)
{
	struct ls_segment *seg;
	int rc;

	/* the new empty segment first: a crash in between leaves more, never
	 * a folder without segments (which would restart at 0) */
	seg = ls_segment_create(p->dirfd, offset, part_now(p));
	if (seg == NULL)
		goto fail;
	drop_tail(p, 0);
	p->segs[p->nsegs++] = seg; /* room: there was at least one */
	p->log_start = offset;
	p->bytes = 0;
	if (trunc_fsync_dir(p) != 0)
		goto fail;
	p->flushed = offset;
	rc = ls_epochs_clear(p);
	if (rc == LS_OK)
		rc = truncated_to(p, offset);
	p->cleaner_point = offset;
	p->hw = offset;
	if (rc != LS_OK)
		p->failed = 1;
	return rc == LS_OK ? LS_OK : LS_ERR_IO;
fail:
	p->failed = 1;
	return LS_ERR_IO;
}

int ls_partition_truncate(struct ls_partition *p, uint64_t offset)
{
	struct ls_segment *seg, *kept;
	uint64_t cut, cut_base, end;
	size_t k;
	int rc;

	if (p->topic == NULL)
		return LS_ERR_INVALID;
	if (p->failed)
		return LS_ERR_IO;
	if (offset >= p->log_end)
		return LS_OK;
	if (offset < p->log_start)
		return truncate_fully(p, offset);
	k = ls_partition_find_segment(p, offset);
	seg = p->segs[k];
	if (ls_segment_cut_point(seg, offset, &cut, &cut_base) != 0)
		return LS_ERR_IO; /* nothing changed yet */
	end = cut_base < offset ? cut_base : offset;
	drop_tail(p, k + 1);
	/* the segment holding offset is the active one from now on */
	p->bytes -= seg->size;
	kept = ls_segment_truncate(p->dirfd, seg, cut, part_cfg(p)->index_interval_bytes);
	if (kept == NULL) {
		p->bytes += seg->size;
		p->failed = 1;
		return LS_ERR_IO;
	}
	if (kept != seg) {
		p->segs[k] = kept;
		ls_segment_unref(seg);
	}
	kept->next = end; /* past a gap (compaction's) before the cut, if any */
	p->bytes += kept->size;
	if (ls_fault_ledger_on())
		ls_fault_note_synced(kept->fd, kept->size);
	if (trunc_fsync_dir(p) != 0) {
		p->failed = 1;
		return LS_ERR_IO;
	}
	rc = truncated_to(p, end);
	if (rc != LS_OK) {
		p->failed = 1;
		return LS_ERR_IO;
	}
	return LS_OK;
}

int ls_partition_start_at(struct ls_partition *p, uint64_t offset)
{
	if (p->topic == NULL)
		return LS_ERR_INVALID;
	if (p->failed)
		return LS_ERR_IO;
	if (offset >= p->log_start && offset <= p->log_end)
		return LS_ERR_INVALID; /* a segment may start there: ls_partition_truncate's case */
	return truncate_fully(p, offset);
}

/* ---- reading -------------------------------------------------------------- */

/* An index entry pointed at no batch of its offset (a damaged index file
 * the open's sanity checks let through): lookups in this segment scan
 * from its start from now on, and its index is rebuilt. */
static void index_damaged(struct ls_partition *p, struct ls_segment *seg)
{
	ls_warn(p->store, "%s/%020" PRIu64 ".index: an entry points at no batch of its offset; "
			  "index ignored and rebuilt from the segment",
		p->dirname, seg->base);
	ls_segment_drop_indexes(p->dirfd, seg);
}

/* ls_read and ls_read_bounded: only batches whose last offset is below
 * `bound` (UINT64_MAX: no bound) are served. */
static int read_range(struct ls_partition *p, uint64_t offset, size_t max_bytes,
		      uint64_t bound, struct ls_read_result *r)
{
	struct ls_scan *sc = NULL;
	int rc = LS_OK;

	memset(r, 0, sizeof *r);
	r->fd = -1;
	r->log_start = p->log_start;
	r->high_watermark = p->log_end < bound ? p->log_end : bound;
	r->next_offset = offset;
	if (offset < p->log_start || offset > p->log_end)
		return LS_ERR_OFFSET_OUT_OF_RANGE;
	if (offset == p->log_end || offset >= bound)
		return LS_OK;
	sc = malloc(sizeof *sc);
	if (sc == NULL)
		return LS_ERR_NOMEM;
	for (size_t i = ls_partition_find_segment(p, offset); i < p->nsegs; i++) {
		struct ls_segment *seg = p->segs[i];
		struct ls_batch_info b;
		uint64_t start, end, limit;
		int got;

		if (offset >= seg->next || seg->size == 0)
			continue;
again:
		start = offset > seg->base ? ls_segment_lookup(seg, offset - seg->base) : 0;
		if (!ls_segment_entry_ok(seg, sc, start)) {
			index_damaged(p, seg);
			start = 0;
		}
		ls_scan_init(sc, seg->fd, start, seg->size);
		while ((got = ls_scan_peek(sc, &b)) == 1 &&
		       b.base_offset + (uint32_t)b.last_offset_delta < offset)
			ls_scan_advance(sc, &b);
		if (got < 0) {
			rc = LS_ERR_IO;
			goto out;
		}
		if (got == 0)
			continue; /* compacted away up to the segment's end */
		if (b.base_offset + (uint32_t)b.last_offset_delta >= bound)
			goto out; /* the first batch reaches the bound: nothing */
		start = sc->pos;
		r->first_offset = b.base_offset;
		limit = start + (max_bytes > b.size ? max_bytes : b.size);
		if (seg->size <= limit && seg->next <= bound) {
			end = seg->size;
			r->next_offset = seg->next;
		} else {
			/* Jump to the last indexed batch start within the
			 * limit (index entries sit on batch boundaries), then
			 * walk the few batches after it. */
			size_t lo = 0, hi = seg->nidx;

			/* first entry past the byte limit or the bound: the
			 * batches before an entry end below its offset */
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;

				if (seg->idx[mid].pos <= limit &&
				    seg->base + seg->idx[mid].rel <= bound)
					lo = mid + 1;
				else
					hi = mid;
			}
			end = start + b.size;
			r->next_offset = b.base_offset + (uint32_t)b.last_offset_delta + 1;
			ls_scan_advance(sc, &b);
			if (lo > 0 && seg->idx[lo - 1].pos > sc->pos) {
				if (!ls_segment_entry_ok(seg, sc, seg->idx[lo - 1].pos)) {
					index_damaged(p, seg);
					goto again;
				}
				sc->pos = seg->idx[lo - 1].pos;
				end = sc->pos;
				r->next_offset = seg->base + seg->idx[lo - 1].rel;
			}
			while ((got = ls_scan_peek(sc, &b)) == 1 && sc->pos + b.size <= limit &&
			       b.base_offset + (uint32_t)b.last_offset_delta < bound) {
				ls_scan_advance(sc, &b);
				end = sc->pos;
				r->next_offset = b.base_offset + (uint32_t)b.last_offset_delta + 1;
			}
			if (got < 0) {
				rc = LS_ERR_IO;
				goto out;
			}
			if (got == 1)
				r->next_offset = b.base_offset;
		}
		ls_segment_ref(seg);
		r->ref = seg;
		r->fd = seg->fd;
		r->file_pos = start;
		r->len = (size_t)(end - start);
		goto out;
	}
	/* only compacted gaps up to the end (or the bound) */
	r->next_offset = p->log_end < bound ? p->log_end : bound;
out:
	free(sc);
	return rc;
}

int ls_read(struct ls_partition *p, uint64_t offset, size_t max_bytes,
	    struct ls_read_result *r)
{
	return read_range(p, offset, max_bytes, UINT64_MAX, r);
}

int ls_read_bounded(struct ls_partition *p, uint64_t offset, size_t max_bytes,
		    uint64_t limit, struct ls_read_result *r)
{
	return read_range(p, offset, max_bytes, limit, r);
}

void ls_read_release(struct ls_read_result *r)
{
	if (r->ref != NULL)
		ls_segment_unref(r->ref);
	r->ref = NULL;
	r->fd = -1;
}

int ls_read_copy(const struct ls_read_result *r, void *buf)
{
	if (r->len == 0)
		return LS_OK;
	return ls_pread_full(r->fd, buf, r->len, r->file_pos) == 0 ? LS_OK : LS_ERR_IO;
}

int64_t ls_partition_max_timestamp(const struct ls_partition *p)
{
	int64_t max = -1;

	for (size_t i = 0; i < p->nsegs; i++)
		if (p->segs[i]->size > 0 && p->segs[i]->max_ts > max)
			max = p->segs[i]->max_ts;
	return max;
}

int ls_offset_for_time(struct ls_partition *p, int64_t ts, uint64_t *offset,
		       int64_t *found_ts)
{
	struct ls_store *s = p->store;
	struct ls_scan *sc = malloc(sizeof *sc);
	int rc = LS_ERR_NOT_FOUND;

	if (sc == NULL)
		return LS_ERR_NOMEM;
	for (size_t i = 0; i < p->nsegs; i++) {
		struct ls_segment *seg = p->segs[i];
		struct ls_batch_info b;
		uint64_t start;
		int got;

		if (seg->size == 0 || seg->max_ts < ts)
			continue;
		start = ls_segment_time_lookup(seg, ts);
		if (!ls_segment_entry_ok(seg, sc, start)) {
			index_damaged(p, seg);
			start = 0;
		}
		ls_scan_init(sc, seg->fd, start, seg->size);
		while ((got = ls_scan_peek(sc, &b)) == 1 && b.max_timestamp < ts)
			ls_scan_advance(sc, &b);
		if (got < 0) {
			rc = LS_ERR_IO;
			goto out;
		}
		if (got == 0)
			continue;
		if (!ls_codec_known(b.codec)) {
			*offset = b.base_offset; /* cannot look inside */
			if (found_ts != NULL)
				*found_ts = b.max_timestamp;
			rc = LS_OK;
			goto out;
		}
		if (scratch_reserve(s, b.size) != LS_OK) {
			rc = LS_ERR_NOMEM;
			goto out;
		}
		if (ls_pread_full(seg->fd, s->scratch, b.size, sc->pos) != 0) {
			rc = LS_ERR_IO;
			goto out;
		}
		{
			struct ls_record rec;
			int n;

			ls_decoder_set(s->dec, s->scratch, b.size, 0);
			while ((n = ls_decoder_next(s->dec, &rec, NULL)) == 1)
				if (rec.timestamp >= ts) {
					*offset = rec.offset;
					if (found_ts != NULL)
						*found_ts = rec.timestamp;
					rc = LS_OK;
					goto out;
				}
			if (n < 0) {
				rc = n;
				goto out;
			}
		}
	}
out:
	free(sc);
	if (rc == LS_OK && *offset < p->log_start)
		*offset = p->log_start; /* the records below it were deleted */
	return rc;
}

/* ---- durability ----------------------------------------------------------- */

int ls_sync_begin(struct ls_partition *p, struct ls_sync_job **jobp)
{
	struct ls_segment *act = p->segs[p->nsegs - 1];
	struct ls_sync_job *job;

	*jobp = NULL;
	if (p->failed)
		return LS_ERR_IO;
	/* Index entries reach the page cache here; only rolled segments'
	 * indexes are fsynced (recovery rebuilds the active one's). */
	if (ls_segment_write_indexes(act) != 0)
		return LS_ERR_IO;
	if (p->log_end == p->flushed && p->npending == 0 && !p->dir_dirty)
		return LS_OK;
	job = calloc(1, sizeof *job);
	if (job == NULL)
		return LS_ERR_NOMEM;
	job->fds = malloc((p->npending + 1) * sizeof *job->fds);
	if (job->fds == NULL) {
		free(job);
		return LS_ERR_NOMEM;
	}
	job->dirfd = -1;
	job->fds[0] = dup(act->fd);
	if (job->fds[0] < 0 || (p->dir_dirty && (job->dirfd = dup(p->dirfd)) < 0)) {
		if (job->fds[0] >= 0)
			close(job->fds[0]);
		free(job->fds);
		free(job);
		return LS_ERR_IO;
	}
	if (p->npending > 0)
		memcpy(job->fds + 1, p->pending_fds, p->npending * sizeof *job->fds);
	job->nfds = p->npending + 1;
	p->npending = 0;
	p->dir_dirty = 0;
	job->target = p->log_end;
	job->trunc_gen = p->trunc_gen;
	job->fault = ls_fault_take(LS_FAULT_FSYNC, p->topic != NULL ? p->topic->name : NULL);
	if (ls_fault_ledger_on() && (job->sizes = calloc(job->nfds, sizeof *job->sizes)) != NULL)
		for (size_t i = 0; i < job->nfds; i++) {
			struct stat st;

			if (fstat(job->fds[i], &st) == 0)
				job->sizes[i] = (uint64_t)st.st_size;
		}
	job->p = p;
	p->refs++;
	p->first_unflushed_ms = -1; /* appends from now on start a new wait */
	*jobp = job;
	return LS_OK;
}

const uint32_t ls_fsync_bounds_us[LS_FSYNC_BUCKETS] = {
	100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000,
};

const struct ls_fsync_hist *ls_store_fsync_hist(const struct ls_store *s)
{
	return &s->fsync_hist;
}

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void fsync_observe(struct ls_fsync_hist *h, uint64_t us)
{
	h->count++;
	h->sum_us += us;
	for (int i = 0; i < LS_FSYNC_BUCKETS; i++)
		if (us <= ls_fsync_bounds_us[i]) {
			h->bucket[i]++;
			break;
		}
}

int ls_sync_run(struct ls_sync_job *job)
{
	uint64_t t0 = mono_us();
	job->result = LS_OK;
	for (size_t i = 0; i < job->nfds; i++)
		while (fdatasync(job->fds[i]) != 0) {
			if (errno != EINTR) {
				job->result = LS_ERR_IO;
				break;
			}
		}
	if (job->dirfd >= 0 && ls_fsync_fd(job->dirfd) != 0)
		job->result = LS_ERR_IO;
	if (job->fault)
		job->result = LS_ERR_IO;
	job->took_us = mono_us() - t0;
	return job->result;
}

int ls_sync_end(struct ls_sync_job *job)
{
	struct ls_partition *p = job->p;
	int rc = job->result;

	for (size_t i = 0; i < job->nfds; i++) {
		if (rc == LS_OK && job->sizes != NULL)
			ls_fault_note_synced(job->fds[i], job->sizes[i]);
		close(job->fds[i]);
	}
	free(job->sizes);
	if (job->dirfd >= 0)
		close(job->dirfd);
	fsync_observe(&p->store->fsync_hist, job->took_us);
	if (rc == LS_OK) {
		/* a truncation since begin: the target may name offsets that
		 * are gone or were written again after the fsync began */
		if (job->trunc_gen == p->trunc_gen && job->target > p->flushed) {
			p->flushed = job->target;
			p->store->ckpt_dirty = 1;
		}
		if (p->flushed < p->log_end && p->first_unflushed_ms < 0)
			p->first_unflushed_ms = ls_now_ms(p->store);
	} else {
		p->failed = 1;
	}
	free(job->fds);
	free(job);
	ls_partition_unref(p);
	return rc;
}

int ls_sync(struct ls_partition *p)
{
	struct ls_sync_job *job;
	int rc = ls_sync_begin(p, &job);

	if (rc != LS_OK || job == NULL)
		return rc;
	ls_sync_run(job);
	return ls_sync_end(job);
}

int ls_flush_due(const struct ls_partition *p, int64_t now_ms)
{
	if (p->failed || p->topic == NULL)
		return 0;
	if (p->log_end == p->flushed && p->npending == 0)
		return 0;
	return p->first_unflushed_ms >= 0 &&
	       now_ms - p->first_unflushed_ms >= p->topic->cfg.flush_ms;
}
