/*
 * logstore/retention.c: cleanup in small steps: deleting old segments by
 * time and size (cleanup.policy=delete), and compaction
 * (cleanup.policy=compact), Kafka's log cleaner in miniature:
 *
 *  1. when the dirty part of the log (inactive segments at or after the
 *     cleaner point) reaches min.cleanable.dirty.ratio of the inactive
 *     log, the cleaner maps every key of the dirty segments to its latest
 *     offset (keys by MurmurHash3-128 digest, as Kafka keys by MD5),
 *     one segment per step;
 *  2. then rewrites every inactive segment, one per step, keeping a
 *     record only when it is the latest for its key; keyless records go,
 *     and tombstones go once older than delete.retention.ms.  Batches
 *     whose records all stay are copied byte for byte; others are rebuilt
 *     with the same base offset, offset deltas and producer fields, so
 *     offsets never change.  The cleaned copy is written to
 *     <base>.log.cleaned, fsynced, and renamed over the original after its
 *     indexes are removed (open rebuilds missing indexes; a crash leaves
 *     either file whole);
 *  3. the cleaner point moves to the end of what was mapped.
 * The active segment is never touched by either policy.
 *
 * Transactions (KIP-98), as Kafka's cleaner treats them: only segments
 * wholly below the first unstable offset are mapped and cleaned (an open
 * transaction's records may still be aborted); control batches (commit
 * and abort markers) are kept whole, never mapped (their keys say only
 * "commit" or "abort"), so a restart rebuilds every transaction's end;
 * an aborted transaction's batches are neither mapped (they must not
 * supersede a committed record of the same key) nor kept.  Kafka also
 * removes a marker once its transaction's records are gone and
 * delete.retention.ms passed; here markers stay (a few bytes each).
 *
 * Must not depend on anything but libc and POSIX (codecs: codec.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logstore_internal.h"

struct ckey {
	uint64_t h[2];
	uint64_t offset; /* latest offset + 1; 0 marks an empty slot */
};

struct ls_cleaner {
	struct ckey *slots; /* owned */
	size_t cap, count;
	uint64_t map_end;      /* base of the active segment when started */
	uint64_t map_cursor;   /* base of the next segment to map */
	uint64_t clean_cursor; /* base of the next segment to rewrite */
	int rewriting;
};

void ls_cleaner_free(struct ls_cleaner *c)
{
	if (c != NULL) {
		free(c->slots);
		free(c);
	}
}

static int ckey_put(struct ls_cleaner *c, const uint64_t h[2], uint64_t offset)
{
	size_t i;

	if ((c->count + 1) * 10 > c->cap * 7) {
		size_t ncap = c->cap ? c->cap * 2 : 1024;
		struct ckey *ns = calloc(ncap, sizeof *ns);

		if (ns == NULL)
			return LS_ERR_NOMEM;
		for (size_t j = 0; j < c->cap; j++) {
			if (c->slots[j].offset == 0)
				continue;
			for (i = c->slots[j].h[0] & (ncap - 1); ns[i].offset != 0;
			     i = (i + 1) & (ncap - 1))
				;
			ns[i] = c->slots[j];
		}
		free(c->slots);
		c->slots = ns;
		c->cap = ncap;
	}
	for (i = h[0] & (c->cap - 1); c->slots[i].offset != 0; i = (i + 1) & (c->cap - 1))
		if (c->slots[i].h[0] == h[0] && c->slots[i].h[1] == h[1]) {
			if (offset + 1 > c->slots[i].offset)
				c->slots[i].offset = offset + 1;
			return LS_OK;
		}
	c->slots[i].h[0] = h[0];
	c->slots[i].h[1] = h[1];
	c->slots[i].offset = offset + 1;
	c->count++;
	return LS_OK;
}

/* Latest offset + 1 of the key, 0 when not mapped. */
static uint64_t ckey_get(const struct ls_cleaner *c, const uint64_t h[2])
{
	if (c->cap == 0)
		return 0;
	for (size_t i = h[0] & (c->cap - 1); c->slots[i].offset != 0;
	     i = (i + 1) & (c->cap - 1))
		if (c->slots[i].h[0] == h[0] && c->slots[i].h[1] == h[1])
			return c->slots[i].offset;
	return 0;
}

/* Reads the batch at *pos into *buf; 1 read, 0 end, < 0 error. */
static int read_batch(int fd, uint64_t pos, uint64_t end, unsigned char **buf,
		      size_t *cap, struct ls_batch_info *info)
{
	unsigned char hdr[12];
	uint32_t size;

	if (pos + LS_BATCH_HEADER_SIZE > end)
		return 0;
	if (ls_pread_full(fd, hdr, sizeof hdr, pos) != 0)
		return LS_ERR_IO;
	size = ls_get_be32(hdr + 8) + 12;
	if (size < LS_BATCH_HEADER_SIZE || pos + size > end)
		return LS_ERR_CORRUPT;
	if (size > *cap) {
		unsigned char *nb = realloc(*buf, size);

		if (nb == NULL)
			return LS_ERR_NOMEM;
		*buf = nb;
		*cap = size;
	}
	if (ls_pread_full(fd, *buf, size, pos) != 0)
		return LS_ERR_IO;
	return ls_batch_check(*buf, size, info) == LS_OK ? 1 : LS_ERR_CORRUPT;
}

/* Batches of an unknown codec (5-7) are kept as they are. */
static int decodable(const struct ls_batch_info *b)
{
	return ls_codec_known(b->codec);
}

/* Maps every keyed record of seg (a segment of p), but for markers and
 * aborted transactions. */
static int map_segment(struct ls_store *s, struct ls_partition *p, struct ls_cleaner *c,
		       struct ls_segment *seg, size_t *work)
{
	unsigned char *buf = NULL;
	size_t cap = 0;
	uint64_t pos = 0;
	int rc;

	for (;;) {
		struct ls_batch_info b;
		struct ls_record rec;

		rc = read_batch(seg->fd, pos, seg->size, &buf, &cap, &b);
		if (rc <= 0)
			break;
		pos += b.size;
		if ((rc = ls_partition_batch_aborted(p, &b)) < 0)
			goto out;
		if (rc == 1 || !decodable(&b) || (b.attributes & LS_ATTR_CONTROL))
			continue;
		ls_decoder_set(s->dec, buf, b.size, 0);
		while ((rc = ls_decoder_next(s->dec, &rec, NULL)) == 1) {
			uint64_t h[2];

			if (rec.key == NULL)
				continue;
			ls_murmur3_128(rec.key, rec.key_len, 0, h);
			if (ckey_put(c, h, rec.offset) != LS_OK) {
				rc = LS_ERR_NOMEM;
				goto out;
			}
		}
		if (rc < 0)
			goto out;
	}
out:
	*work += (size_t)seg->size;
	free(buf);
	return rc < 0 ? rc : LS_OK;
}

/* Rewrites segment i without the records the map supersedes. */
static int clean_segment(struct ls_store *s, struct ls_partition *p,
			 struct ls_cleaner *c, size_t i, int64_t now, size_t *work)
{
	const struct ls_topic_config *cfg = &p->topic->cfg;
	struct ls_segment *seg = p->segs[i], *nseg = NULL;
	unsigned char *buf = NULL;
	char name[64], cleaned[64];
	struct ls_kept k;
	uint64_t pos = 0, out_pos = 0;
	size_t cap = 0;
	int fd = -1, rc;
	struct ls_salvage sv = { p->store, p->dirname, seg->next, 0, 0 };

	memset(&k, 0, sizeof k);
	ls_segment_name(name, sizeof name, seg->base, ".log");
	ls_segment_name(cleaned, sizeof cleaned, seg->base, ".log.cleaned");
	fd = openat(p->dirfd, cleaned, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return LS_ERR_IO;
	for (;;) {
		struct ls_batch_info b;
		struct ls_record rec;
		const unsigned char *out = NULL;
		size_t out_len = 0;
		int32_t total = 0;

		rc = read_batch(seg->fd, pos, seg->size, &buf, &cap, &b);
		if (rc <= 0)
			break;
		pos += b.size;
		if ((rc = ls_partition_batch_aborted(p, &b)) < 0)
			goto out;
		if (rc == 1)
			continue; /* an aborted transaction's records go */
		if (!decodable(&b) || (b.attributes & LS_ATTR_CONTROL)) {
			out = buf;
			out_len = b.size;
		} else {
			k.n = k.nh = 0;
			ls_decoder_set(s->dec, buf, b.size, 0);
			while ((rc = ls_decoder_next(s->dec, &rec, NULL)) == 1) {
				uint64_t h[2], latest;

				total++;
				if (rec.key == NULL)
					continue;
				ls_murmur3_128(rec.key, rec.key_len, 0, h);
				latest = ckey_get(c, h);
				if (latest != 0 && latest - 1 > rec.offset)
					continue; /* superseded */
				if (rec.value == NULL && rec.timestamp >= 0 &&
				    now - rec.timestamp > cfg->delete_retention_ms)
					continue; /* tombstone past its horizon */
				rc = ls_kept_add(&k, &rec, (uint32_t)(rec.offset - b.base_offset));
				if (rc != LS_OK)
					goto out;
			}
			if (rc < 0)
				goto out;
			if (k.n == (size_t)total) {
				out = buf;
				out_len = b.size;
			} else if (k.n > 0) {
				struct ls_encode_args a;

				ls_kept_fix_headers(&k);
				memset(&a, 0, sizeof a);
				a.base = b.base_offset;
				a.deltas = k.deltas;
				a.codec = b.codec;
				a.now = (b.attributes & 0x8) ? b.max_timestamp : -1;
				a.log_append_time = (b.attributes & 0x8) != 0;
				a.leader_epoch = b.partition_leader_epoch;
				a.tmpl = &b;
				rc = ls_encode_batch(&s->enc, &a, k.recs, k.n, &out, &out_len);
				if (rc != LS_OK)
					goto out;
			}
		}
		if (out_len > 0) {
			if (ls_pwrite_full(fd, out, out_len, out_pos) != 0) {
				rc = LS_ERR_IO;
				goto out;
			}
			out_pos += out_len;
		}
	}
	if (rc < 0)
		goto out;
	*work += (size_t)(seg->size + out_pos);
	/* Commit: cleaned file durable, old indexes gone (rebuilt on open),
	 * then the rename replaces the segment in one step. */
	rc = LS_ERR_IO;
	if (fdatasync(fd) != 0)
		goto out;
	ls_segment_name(name, sizeof name, seg->base, ".index");
	unlinkat(p->dirfd, name, 0);
	ls_segment_name(name, sizeof name, seg->base, ".timeindex");
	unlinkat(p->dirfd, name, 0);
	if (ls_fsync_fd(p->dirfd) != 0)
		goto out;
	ls_segment_name(name, sizeof name, seg->base, ".log");
	if (renameat(p->dirfd, cleaned, p->dirfd, name) != 0 || ls_fsync_fd(p->dirfd) != 0)
		goto out;
	nseg = ls_segment_open(p->dirfd, seg->base, 0, 0, cfg->index_interval_bytes, &sv);
	if (nseg == NULL) {
		p->failed = 1;
		goto out;
	}
	nseg->next = seg->next;
	p->bytes = p->bytes - seg->size + nseg->size;
	p->segs[i] = nseg;
	ls_segment_unref(seg); /* readers holding it keep the old file */
	rc = LS_OK;
out:
	if (fd >= 0)
		close(fd);
	if (rc != LS_OK)
		unlinkat(p->dirfd, cleaned, 0);
	ls_kept_free(&k);
	free(buf);
	return rc;
}

/* First segment index with base >= off, or nsegs. */
static size_t seg_at_or_after(const struct ls_partition *p, uint64_t off)
{
	size_t i = ls_partition_find_segment(p, off);

	if (p->segs[i]->base < off)
		i++;
	return i;
}

/* Where cleaning stops: the base of the active segment, or of the
 * segment holding the first unstable offset when that is earlier. */
static int stable_end(struct ls_partition *p, uint64_t *end)
{
	uint64_t lso = 0;
	int rc = ls_partition_first_unstable(p, &lso);

	if (rc != LS_OK)
		return rc;
	*end = p->segs[p->nsegs - 1]->base;
	if (lso < *end)
		*end = p->segs[ls_partition_find_segment(p, lso)]->base;
	return LS_OK;
}

/* One unit of compaction work; 1 more pending, 0 idle, < 0 error. */
static int compact_step(struct ls_store *s, struct ls_partition *p, int64_t now,
			size_t *work)
{
	struct ls_cleaner *c = p->cleaner;
	size_t i;
	int rc;

	if (c == NULL) {
		uint64_t dirty = 0, clean = 0, end = 0;

		if ((rc = stable_end(p, &end)) != LS_OK)
			return rc;
		for (i = 0; i + 1 < p->nsegs && p->segs[i]->next <= end; i++) {
			if (p->segs[i]->next <= p->cleaner_point)
				clean += p->segs[i]->size;
			else
				dirty += p->segs[i]->size;
		}
		if (dirty == 0 ||
		    (double)dirty < p->topic->cfg.min_cleanable_dirty_ratio * (double)(dirty + clean))
			return 0;
		c = calloc(1, sizeof *c);
		if (c == NULL)
			return LS_ERR_NOMEM;
		c->map_end = end;
		c->map_cursor = p->segs[ls_partition_find_segment(p, p->cleaner_point)]->base;
		c->clean_cursor = 0;
		p->cleaner = c;
	}
	if (!c->rewriting) {
		i = seg_at_or_after(p, c->map_cursor);
		if (i < p->nsegs && p->segs[i]->base < c->map_end) {
			rc = map_segment(s, p, c, p->segs[i], work);
			if (rc != LS_OK)
				goto fail;
			c->map_cursor = p->segs[i]->base + 1;
			return 1;
		}
		c->rewriting = 1;
	}
	i = seg_at_or_after(p, c->clean_cursor);
	if (i < p->nsegs && p->segs[i]->base < c->map_end && i + 1 < p->nsegs) {
		rc = clean_segment(s, p, c, i, now, work);
		if (rc != LS_OK)
			goto fail;
		c->clean_cursor = p->segs[i]->base + 1;
		return 1;
	}
	p->cleaner_point = c->map_end;
	s->ckpt_dirty = 1;
	ls_cleaner_free(c);
	p->cleaner = NULL;
	return 0;
fail:
	ls_cleaner_free(p->cleaner);
	p->cleaner = NULL;
	return rc;
}

/* Deletion by time and size; 1 more pending, 0 done. */
static int delete_step(struct ls_partition *p, int64_t now, size_t budget, size_t *work)
{
	const struct ls_topic_config *cfg = &p->topic->cfg;
	int deleted = 0;

	while (p->nsegs > 1) {
		struct ls_segment *seg = p->segs[0];
		int64_t ts = seg->max_ts >= 0 ? seg->max_ts : seg->created_ms;
		int by_time = cfg->retention_ms >= 0 && now - ts > cfg->retention_ms;
		int by_size = cfg->retention_bytes >= 0 &&
			      p->bytes - seg->size >= (uint64_t)cfg->retention_bytes;

		if (!by_time && !by_size)
			break;
		if (*work >= budget && *work > 0)
			return 1;
		ls_partition_drop_segment(p, 0);
		*work += LS_DELETE_COST;
		deleted = 1;
	}
	if (deleted)
		ls_fsync_fd(p->dirfd);
	return 0;
}

int ls_partition_set_log_start(struct ls_partition *p, uint64_t offset)
{
	if (p->topic == NULL)
		return LS_ERR_INVALID;
	if (p->failed)
		return LS_ERR_IO;
	if (offset > p->log_end)
		return LS_ERR_OFFSET_OUT_OF_RANGE;
	if (offset <= p->log_start)
		return LS_OK;
	p->log_start = offset;
	if (p->cleaner_point < offset)
		p->cleaner_point = offset;
	ls_pstate_truncate_head(p->pstate, offset); /* NULL: nothing */
	ls_delete_records(p, offset);
	/* durable before the caller answers: a restart keeps the records
	 * below it deleted (Kafka writes its checkpoint on a timer) */
	p->store->lso_on = 1;
	return ls_checkpoint(p->store) == LS_OK ? LS_OK : LS_ERR_IO;
}

size_t ls_delete_records(struct ls_partition *p, uint64_t offset)
{
	size_t n = 0;
	while (p->nsegs > 1 && p->segs[1]->base <= offset && !p->failed) {
		ls_partition_drop_segment(p, 0);
		n++;
	}
	if (n) {
		ls_fsync_fd(p->dirfd); /* the deletion itself must not come undone */
		p->store->ckpt_dirty = 1;
	}
	return n;
}

static int partition_step(struct ls_store *s, struct ls_partition *p, int64_t now,
			  size_t budget, size_t *work)
{
	int64_t policy = p->topic->cfg.cleanup_policy;
	int more = 0, rc;

	if (p->failed)
		return 0;
	if (policy & LS_CLEANUP_DELETE) {
		rc = delete_step(p, now, budget, work);
		if (rc != 0)
			return rc;
	}
	if (policy & LS_CLEANUP_COMPACT) {
		while (*work < budget || *work == 0) {
			rc = compact_step(s, p, now, work);
			if (rc <= 0)
				return rc;
			more = 1;
		}
	} else if (p->cleaner != NULL) {
		ls_cleaner_free(p->cleaner); /* policy changed under it */
		p->cleaner = NULL;
	}
	return more;
}

int ls_retention_step(struct ls_store *s, int64_t now_ms, size_t budget)
{
	size_t work = 0, visited = 0, total = 0;
	int pending = 0;

	for (size_t i = 0; i < s->ntopics; i++)
		total += (size_t)s->topics[i]->nparts;
	if (budget == 0)
		budget = 1;
	while (visited < total) {
		struct ls_topic *t;
		int rc;

		if (s->ret_cursor >= s->ntopics) {
			s->ret_cursor = 0;
			s->ret_part = 0;
		}
		t = s->topics[s->ret_cursor];
		if (s->ret_part >= t->nparts) {
			s->ret_cursor++;
			s->ret_part = 0;
			continue;
		}
		rc = partition_step(s, t->parts[s->ret_part], now_ms, budget, &work);
		if (rc < 0)
			return rc;
		if (rc > 0)
			pending = 1;
		visited++;
		if (work >= budget && rc > 0)
			return 1; /* resume this partition next time */
		s->ret_part++;
		if (work >= budget)
			return 1;
	}
	return pending;
}
