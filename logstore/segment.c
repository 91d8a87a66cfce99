/*
 * logstore/segment.c: one segment: the .log file of whole batches and its
 * two sparse indexes, kept whole in memory and appended to their files
 * lazily (at sync, roll and close; a crash loses at most entries that
 * recovery rebuilds).  Also the scans that rebuild indexes and validate a
 * segment after a crash, and the header cursor the read path uses.
 *
 * Index files are big-endian: .index holds (u32 relative offset, u32
 * position) for a batch start every index.interval.bytes; .timeindex holds
 * (i64 timestamp, u32 relative offset) where the timestamp is the largest
 * one up to and including that batch, strictly increasing.
 *
 * Must not depend on anything but libc and POSIX.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logstore_internal.h"

#define IDX_ENTRY 8
#define TIDX_ENTRY 12
#define SCAN_CHUNK (1u << 20)

void ls_segment_name(char *buf, size_t len, uint64_t base, const char *ext)
{
	snprintf(buf, len, "%020" PRIu64 "%s", base, ext);
}

static struct ls_segment *seg_alloc(uint64_t base)
{
	struct ls_segment *seg = calloc(1, sizeof *seg);

	if (seg == NULL)
		return NULL;
	seg->base = base;
	seg->next = base;
	seg->fd = seg->idx_fd = seg->tidx_fd = -1;
	seg->refs = 1;
	seg->max_ts = -1;
	return seg;
}

void ls_segment_ref(struct ls_segment *seg)
{
	seg->refs++;
}

void ls_segment_unref(struct ls_segment *seg)
{
	if (seg == NULL || --seg->refs > 0)
		return;
	if (seg->fd >= 0)
		close(seg->fd);
	if (seg->idx_fd >= 0)
		close(seg->idx_fd);
	if (seg->tidx_fd >= 0)
		close(seg->tidx_fd);
	free(seg->idx);
	free(seg->tidx);
	free(seg);
}

static int open_file(int dirfd, uint64_t base, const char *ext, int flags)
{
	char name[64];

	ls_segment_name(name, sizeof name, base, ext);
	return openat(dirfd, name, flags | O_CLOEXEC, 0644);
}

void ls_segment_unlink(int dirfd, const struct ls_segment *seg)
{
	static const char *const exts[] = { ".log", ".index", ".timeindex" };
	char name[64];

	for (size_t i = 0; i < 3; i++) {
		ls_segment_name(name, sizeof name, seg->base, exts[i]);
		unlinkat(dirfd, name, 0);
	}
}

struct ls_segment *ls_segment_create(int dirfd, uint64_t base, int64_t now_ms)
{
	struct ls_segment *seg = seg_alloc(base);
	int saved;

	if (seg == NULL)
		return NULL;
	seg->created_ms = now_ms;
	seg->fd = open_file(dirfd, base, ".log", O_RDWR | O_CREAT | O_TRUNC);
	if (seg->fd < 0)
		goto fail;
	seg->idx_fd = open_file(dirfd, base, ".index", O_RDWR | O_CREAT | O_TRUNC);
	if (seg->idx_fd < 0)
		goto fail;
	seg->tidx_fd = open_file(dirfd, base, ".timeindex", O_RDWR | O_CREAT | O_TRUNC);
	if (seg->tidx_fd < 0)
		goto fail;
	return seg;
fail:
	saved = errno;
	ls_segment_unref(seg);
	errno = saved;
	return NULL;
}

static int add_idx(struct ls_segment *seg, uint32_t rel, uint32_t pos)
{
	if (seg->nidx == seg->idx_cap) {
		size_t cap = seg->idx_cap ? seg->idx_cap * 2 : 64;
		struct ls_idx_entry *n = realloc(seg->idx, cap * sizeof *n);

		if (n == NULL)
			return -1;
		seg->idx = n;
		seg->idx_cap = cap;
	}
	seg->idx[seg->nidx].rel = rel;
	seg->idx[seg->nidx].pos = pos;
	seg->nidx++;
	return 0;
}

static int add_tidx(struct ls_segment *seg, int64_t ts, uint32_t rel)
{
	if (seg->ntidx == seg->tidx_cap) {
		size_t cap = seg->tidx_cap ? seg->tidx_cap * 2 : 64;
		struct ls_tidx_entry *n = realloc(seg->tidx, cap * sizeof *n);

		if (n == NULL)
			return -1;
		seg->tidx = n;
		seg->tidx_cap = cap;
	}
	seg->tidx[seg->ntidx].ts = ts;
	seg->tidx[seg->ntidx].rel = rel;
	seg->ntidx++;
	return 0;
}

static int64_t last_tidx_ts(const struct ls_segment *seg)
{
	return seg->ntidx ? seg->tidx[seg->ntidx - 1].ts : -1;
}

/* force: index this batch whatever the interval (rebuilding from an
 * existing entry's position). */
static int note_batch(struct ls_segment *seg, uint64_t base, uint32_t last_delta,
		      int64_t max_ts, size_t len, int64_t interval, int force)
{
	uint32_t rel = (uint32_t)(base - seg->base);
	int indexed = 0;

	if (seg->size > 0 && (force || seg->bytes_since_idx >= (uint64_t)interval)) {
		if (add_idx(seg, rel, (uint32_t)seg->size) != 0)
			return -1;
		seg->bytes_since_idx = 0;
		indexed = 1;
	}
	if (max_ts > seg->max_ts) {
		seg->max_ts = max_ts;
		seg->max_ts_rel = rel;
	}
	if (indexed && seg->max_ts > last_tidx_ts(seg) && add_tidx(seg, seg->max_ts, rel) != 0)
		return -1;
	seg->bytes_since_idx += len;
	seg->size += len;
	seg->last_rel = rel;
	seg->next = base + last_delta + 1;
	return 0;
}

int ls_segment_note_batch(struct ls_segment *seg, uint64_t base, uint32_t last_delta,
			  int64_t max_ts, size_t len, int64_t index_interval)
{
	return note_batch(seg, base, last_delta, max_ts, len, index_interval, 0);
}

int ls_segment_write_indexes(struct ls_segment *seg)
{
	unsigned char buf[TIDX_ENTRY * 256];

	if (seg->idx_fd < 0 || seg->tidx_fd < 0)
		return 0;
	while (seg->idx_written < seg->nidx) {
		size_t n = seg->nidx - seg->idx_written;

		if (n > sizeof buf / IDX_ENTRY)
			n = sizeof buf / IDX_ENTRY;
		for (size_t i = 0; i < n; i++) {
			const struct ls_idx_entry *e = &seg->idx[seg->idx_written + i];

			ls_put_be32(buf + i * IDX_ENTRY, e->rel);
			ls_put_be32(buf + i * IDX_ENTRY + 4, e->pos);
		}
		if (ls_pwrite_full(seg->idx_fd, buf, n * IDX_ENTRY,
				   (uint64_t)seg->idx_written * IDX_ENTRY) != 0)
			return -1;
		seg->idx_written += n;
	}
	while (seg->tidx_written < seg->ntidx) {
		size_t n = seg->ntidx - seg->tidx_written;

		if (n > sizeof buf / TIDX_ENTRY)
			n = sizeof buf / TIDX_ENTRY;
		for (size_t i = 0; i < n; i++) {
			const struct ls_tidx_entry *e = &seg->tidx[seg->tidx_written + i];

			ls_put_be64(buf + i * TIDX_ENTRY, (uint64_t)e->ts);
			ls_put_be32(buf + i * TIDX_ENTRY + 8, e->rel);
		}
		if (ls_pwrite_full(seg->tidx_fd, buf, n * TIDX_ENTRY,
				   (uint64_t)seg->tidx_written * TIDX_ENTRY) != 0)
			return -1;
		seg->tidx_written += n;
	}
	return 0;
}

int ls_segment_seal(struct ls_segment *seg, int out[3])
{
	int n = 0;

	if (seg->size > 0 && seg->max_ts > last_tidx_ts(seg) &&
	    add_tidx(seg, seg->max_ts, seg->last_rel) != 0)
		return -1;
	if (ls_segment_write_indexes(seg) != 0)
		return -1;
	out[n] = dup(seg->fd);
	if (out[n] < 0)
		return -1;
	n++;
	if (seg->idx_fd >= 0)
		out[n++] = seg->idx_fd;
	if (seg->tidx_fd >= 0)
		out[n++] = seg->tidx_fd;
	seg->idx_fd = seg->tidx_fd = -1;
	return n;
}

uint32_t ls_segment_lookup(const struct ls_segment *seg, uint64_t rel)
{
	size_t lo = 0, hi = seg->nidx;

	if (seg->nidx == 0 || rel < seg->idx[0].rel)
		return 0;
	while (hi - lo > 1) { /* invariant: idx[lo].rel <= rel < idx[hi].rel */
		size_t mid = lo + (hi - lo) / 2;

		if (seg->idx[mid].rel <= rel)
			lo = mid;
		else
			hi = mid;
	}
	return seg->idx[lo].pos;
}

uint32_t ls_segment_time_lookup(const struct ls_segment *seg, int64_t ts)
{
	size_t lo = 0, hi = seg->ntidx;

	/* Largest entry with a timestamp < ts: every record up to its batch
	 * is older than ts, so the scan can start at that batch. */
	if (seg->ntidx == 0 || seg->tidx[0].ts >= ts)
		return 0;
	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (seg->tidx[mid].ts < ts)
			lo = mid;
		else
			hi = mid;
	}
	return ls_segment_lookup(seg, seg->tidx[lo].rel);
}

int ls_segment_entry_ok(const struct ls_segment *seg, struct ls_scan *sc, uint64_t pos)
{
	struct ls_batch_info b;
	size_t lo = 0, hi = seg->nidx;

	if (pos == 0)
		return 1;
	while (lo < hi) { /* the entry with this position */
		size_t mid = lo + (hi - lo) / 2;

		if (seg->idx[mid].pos < pos)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == seg->nidx || seg->idx[lo].pos != pos)
		return 0;
	ls_scan_init(sc, seg->fd, pos, seg->size);
	return ls_scan_peek(sc, &b) == 1 && b.base_offset == seg->base + seg->idx[lo].rel;
}

void ls_segment_drop_indexes(int dirfd, struct ls_segment *seg)
{
	static const char *const exts[] = { ".index", ".timeindex" };
	char name[64];

	seg->nidx = seg->ntidx = 0;
	seg->idx_written = seg->tidx_written = 0;
	seg->bytes_since_idx = 0;
	if (seg->idx_fd >= 0 && seg->tidx_fd >= 0) {
		/* active: the files restart empty and follow memory again (a
		 * failed truncate leaves stale entries after the new ones,
		 * which the next open's sanity check or this check catches) */
		if (ftruncate(seg->idx_fd, 0) != 0 || ftruncate(seg->tidx_fd, 0) != 0)
			return;
		return;
	}
	for (size_t i = 0; i < 2; i++) { /* derived data: the next open rebuilds them */
		ls_segment_name(name, sizeof name, seg->base, exts[i]);
		unlinkat(dirfd, name, 0);
	}
}

/* ---- header cursor ------------------------------------------------------ */

void ls_scan_init(struct ls_scan *sc, int fd, uint64_t pos, uint64_t end)
{
	sc->fd = fd;
	sc->pos = pos;
	sc->end = end;
	sc->buf_pos = 0;
	sc->buf_len = 0;
}

int ls_scan_peek(struct ls_scan *sc, struct ls_batch_info *info)
{
	size_t want = LS_BATCH_HEADER_SIZE;

	if (sc->pos + want > sc->end)
		return 0;
	if (sc->pos < sc->buf_pos || sc->pos + want > sc->buf_pos + sc->buf_len) {
		uint64_t n = sc->end - sc->pos;

		if (n > sizeof sc->buf)
			n = sizeof sc->buf;
		if (ls_pread_full(sc->fd, sc->buf, (size_t)n, sc->pos) != 0)
			return -1;
		sc->buf_pos = sc->pos;
		sc->buf_len = (size_t)n;
	}
	/* Only the header is looked at: parse a header-sized view. */
	{
		const unsigned char *h = sc->buf + (sc->pos - sc->buf_pos);
		unsigned char tmp[LS_BATCH_HEADER_SIZE];
		int32_t blen = (int32_t)ls_get_be32(h + 8);

		if (h[16] != 2 || blen < LS_BATCH_HEADER_SIZE - 12 ||
		    sc->pos + (uint64_t)blen + 12 > sc->end)
			return 0;
		memcpy(tmp, h, sizeof tmp);
		ls_put_be32(tmp + 8, LS_BATCH_HEADER_SIZE - 12);
		if (ls_batch_parse(tmp, sizeof tmp, info) != LS_OK)
			return 0;
		info->size = (uint32_t)blen + 12;
	}
	return 1;
}

void ls_scan_advance(struct ls_scan *sc, const struct ls_batch_info *info)
{
	sc->pos += info->size;
}

/* ---- loading and recovery ----------------------------------------------- */

/* A damaged byte range found by a scan, and the offsets it held: the gap
 * between the last good batch before it and the first good one after. */
struct dmg_range {
	uint64_t from, to;        /* file positions [from, to) */
	uint64_t first_lost;      /* offsets [first_lost, next_good) are gone */
	uint64_t next_good;       /* UINT64_MAX: unknown (a damaged tail) */
	const char *why;
};

struct dmg_list {
	struct dmg_range *v; /* owned */
	size_t n, cap;
};

static int dmg_add(struct dmg_list *l, const struct dmg_range *r)
{
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 4;
		struct dmg_range *n = realloc(l->v, cap * sizeof *n);

		if (n == NULL)
			return -1;
		l->v = n;
		l->cap = cap;
	}
	l->v[l->n++] = *r;
	return 0;
}

/*
 * 1 when a whole batch with a valid CRC starts at q, with a base offset in
 * [min_base, limit) and its last offset inside the segment; 0 when not;
 * -1 on I/O error.  *b / *cap: a scratch buffer, grown as needed.
 */
static int batch_at(int fd, uint64_t q, uint64_t file_size, uint64_t seg_base,
		    uint64_t min_base, uint64_t limit, unsigned char **b, size_t *cap)
{
	unsigned char h[LS_BATCH_HEADER_SIZE];
	struct ls_batch_info info;
	uint64_t base, need;
	int32_t blen;

	if (q + LS_BATCH_HEADER_SIZE > file_size)
		return 0;
	if (ls_pread_full(fd, h, sizeof h, q) != 0)
		return -1;
	blen = (int32_t)ls_get_be32(h + 8);
	base = ls_get_be64(h);
	if (h[16] != 2 || blen < LS_BATCH_HEADER_SIZE - 12 ||
	    q + 12 + (uint64_t)blen > file_size || base < min_base || base < seg_base ||
	    base >= limit)
		return 0;
	need = 12 + (uint64_t)blen;
	if (need > *cap) {
		unsigned char *n = realloc(*b, (size_t)need);

		if (n == NULL)
			return -1;
		*b = n;
		*cap = (size_t)need;
	}
	if (ls_pread_full(fd, *b, (size_t)need, q) != 0)
		return -1;
	if (ls_batch_check(*b, (size_t)need, &info) != LS_OK || info.last_offset_delta < 0 ||
	    base + (uint64_t)info.last_offset_delta - seg_base >= UINT32_MAX ||
	    base + (uint64_t)info.last_offset_delta >= limit)
		return 0;
	return 1;
}

/*
 * After a bad batch at `bad`: the position of the next valid batch in
 * *found (1), or 0 when none follows (a damaged tail), -1 on I/O error.
 * The bad batch's own length is tried first (a flip in its payload leaves
 * it right), then every byte after it: a candidate must carry magic 2, a
 * length that fits, an offset in range and a valid CRC, so garbage does
 * not pass for a batch.
 */
static int resync(int fd, uint64_t bad, uint64_t hint, uint64_t file_size,
		  uint64_t seg_base, uint64_t min_base, uint64_t limit, uint64_t *found)
{
	unsigned char *win = NULL, *b = NULL;
	uint64_t wpos = 0;
	size_t wlen = 0, cap = 0;
	int ret = -1, r;

	if (hint > bad && (r = batch_at(fd, hint, file_size, seg_base, min_base, limit,
					 &b, &cap)) != 0) {
		if (r > 0)
			*found = hint;
		ret = r;
		goto out;
	}
	win = malloc(SCAN_CHUNK);
	if (win == NULL)
		goto out;
	for (uint64_t q = bad + 1; q + LS_BATCH_HEADER_SIZE <= file_size; q++) {
		const unsigned char *h;

		if (q + LS_BATCH_HEADER_SIZE > wpos + wlen) {
			uint64_t n = file_size - q;

			if (n > SCAN_CHUNK)
				n = SCAN_CHUNK;
			if (ls_pread_full(fd, win, (size_t)n, q) != 0)
				goto out;
			wpos = q;
			wlen = (size_t)n;
		}
		h = win + (q - wpos);
		if (h[16] != 2) /* cheap filter before the real check */
			continue;
		r = batch_at(fd, q, file_size, seg_base, min_base, limit, &b, &cap);
		if (r < 0)
			goto out;
		if (r > 0) {
			*found = q;
			ret = 1;
			goto out;
		}
	}
	ret = 0;
out:
	free(win);
	free(b);
	return ret;
}

/*
 * Walks the batches of seg->fd from `from` to the end of the file,
 * verifying each (magic, length, CRC when verify, offsets increasing and
 * within the segment and below limit) and noting it in the indexes.  A bad
 * batch does not end the walk: it goes on at the next valid batch and the
 * bytes in between are added to *dmg (the last range running to the end
 * of the file when nothing valid follows).  0, or -1 on I/O error.
 */
static int scan_segment(struct ls_segment *seg, uint64_t from, uint64_t file_size,
			int verify, int64_t interval, uint64_t limit, struct dmg_list *dmg)
{
	unsigned char *buf = NULL, *big = NULL;
	uint64_t pos = from, buf_pos = 0;
	size_t buf_len = 0;
	int force = from > 0, ret = -1;

	buf = malloc(SCAN_CHUNK);
	if (buf == NULL)
		goto out;
	while (pos < file_size) {
		struct ls_batch_info info;
		const unsigned char *b;
		uint64_t need = 0, found;
		int32_t blen;
		const char *why = "incomplete batch";
		struct dmg_range r;
		int rs;

		if (pos + LS_BATCH_HEADER_SIZE > file_size)
			goto bad;
		if (pos < buf_pos || pos + LS_BATCH_HEADER_SIZE > buf_pos + buf_len) {
			uint64_t n = file_size - pos;

			if (n > SCAN_CHUNK)
				n = SCAN_CHUNK;
			if (ls_pread_full(seg->fd, buf, (size_t)n, pos) != 0)
				goto out;
			buf_pos = pos;
			buf_len = (size_t)n;
		}
		b = buf + (pos - buf_pos);
		blen = (int32_t)ls_get_be32(b + 8);
		if (b[16] != 2) {
			why = "bad magic byte";
			if (blen >= LS_BATCH_HEADER_SIZE - 12)
				need = 12 + (uint64_t)blen;
			goto bad;
		}
		if (blen < LS_BATCH_HEADER_SIZE - 12 || pos + 12 + (uint64_t)blen > UINT32_MAX) {
			why = "bad batch length";
			goto bad;
		}
		need = 12 + (uint64_t)blen;
		if (pos + need > file_size)
			goto bad; /* incomplete: torn, or a damaged length */
		if (verify) {
			if (pos + need > buf_pos + buf_len) {
				if (need <= SCAN_CHUNK) {
					if (ls_pread_full(seg->fd, buf, (size_t)need, pos) != 0)
						goto out;
					buf_pos = pos;
					buf_len = (size_t)need;
					b = buf;
				} else {
					free(big);
					big = malloc((size_t)need);
					if (big == NULL ||
					    ls_pread_full(seg->fd, big, (size_t)need, pos) != 0)
						goto out;
					b = big;
				}
			}
			if (ls_batch_check(b, (size_t)need, &info) != LS_OK) {
				why = "CRC mismatch";
				goto bad;
			}
		} else {
			unsigned char tmp[LS_BATCH_HEADER_SIZE];

			memcpy(tmp, b, sizeof tmp);
			ls_put_be32(tmp + 8, LS_BATCH_HEADER_SIZE - 12);
			if (ls_batch_parse(tmp, sizeof tmp, &info) != LS_OK) {
				why = "bad batch header";
				goto bad;
			}
			info.size = (uint32_t)need;
		}
		if (info.last_offset_delta < 0 || info.base_offset < seg->next ||
		    info.base_offset < seg->base || info.base_offset >= limit ||
		    info.base_offset + (uint64_t)info.last_offset_delta - seg->base >= UINT32_MAX) {
			why = "offsets out of order";
			goto bad;
		}
		if (note_batch(seg, info.base_offset, (uint32_t)info.last_offset_delta,
			       info.max_timestamp, (size_t)need, interval, force) != 0)
			goto out;
		force = 0;
		pos += need;
		continue;
bad:
		rs = resync(seg->fd, pos, need ? pos + need : 0, file_size, seg->base,
			    seg->next, limit, &found);
		if (rs < 0)
			goto out;
		r.from = pos;
		r.to = rs ? found : file_size;
		r.first_lost = seg->next;
		r.next_good = UINT64_MAX;
		r.why = why;
		if (rs) {
			unsigned char h[8];

			if (ls_pread_full(seg->fd, h, sizeof h, found) != 0)
				goto out;
			r.next_good = ls_get_be64(h);
		}
		if (dmg_add(dmg, &r) != 0)
			goto out;
		if (!rs)
			break;
		pos = found;
	}
	ret = 0;
out:
	free(buf);
	free(big);
	return ret;
}

/* Loads .index and .timeindex when present and sane; 1 loaded, 0 not. */
static int load_indexes(int dirfd, struct ls_segment *seg, uint64_t file_size)
{
	char *data = NULL;
	size_t len = 0, n;
	char name[64];
	int ok = 0;

	ls_segment_name(name, sizeof name, seg->base, ".index");
	if (ls_read_file(dirfd, name, &data, &len) != 0 || len % IDX_ENTRY != 0)
		goto out;
	n = len / IDX_ENTRY;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = (const unsigned char *)data + i * IDX_ENTRY;
		uint32_t rel = ls_get_be32(p), pos = ls_get_be32(p + 4);

		if (pos == 0 || pos >= file_size ||
		    (i > 0 && (rel <= seg->idx[i - 1].rel || pos <= seg->idx[i - 1].pos)))
			goto out;
		if (add_idx(seg, rel, pos) != 0)
			goto out;
	}
	free(data);
	data = NULL;
	ls_segment_name(name, sizeof name, seg->base, ".timeindex");
	if (ls_read_file(dirfd, name, &data, &len) != 0 || len % TIDX_ENTRY != 0)
		goto out;
	n = len / TIDX_ENTRY;
	for (size_t i = 0; i < n; i++) {
		const unsigned char *p = (const unsigned char *)data + i * TIDX_ENTRY;
		int64_t ts = (int64_t)ls_get_be64(p);
		uint32_t rel = ls_get_be32(p + 8);

		if (i > 0 && (ts <= seg->tidx[i - 1].ts || rel < seg->tidx[i - 1].rel))
			goto out;
		if (add_tidx(seg, ts, rel) != 0)
			goto out;
	}
	/* The last offset entry must point at a batch with that base offset. */
	if (seg->nidx > 0) {
		const struct ls_idx_entry *e = &seg->idx[seg->nidx - 1];
		unsigned char hdr[12];

		if (ls_pread_full(seg->fd, hdr, sizeof hdr, e->pos) != 0 ||
		    ls_get_be64(hdr) != seg->base + e->rel)
			goto out;
	}
	ok = 1;
out:
	free(data);
	if (!ok) {
		seg->nidx = 0;
		seg->ntidx = 0;
	}
	return ok;
}

/* Rewrites both index files from memory (after a rebuild). */
static int rewrite_indexes(int dirfd, struct ls_segment *seg, int do_fsync)
{
	int keep_idx = seg->idx_fd, keep_tidx = seg->tidx_fd, ret = -1;

	seg->idx_fd = open_file(dirfd, seg->base, ".index", O_RDWR | O_CREAT | O_TRUNC);
	seg->tidx_fd = open_file(dirfd, seg->base, ".timeindex",
				 O_RDWR | O_CREAT | O_TRUNC);
	seg->idx_written = seg->tidx_written = 0;
	if (seg->idx_fd < 0 || seg->tidx_fd < 0)
		goto out;
	if (ls_segment_write_indexes(seg) != 0)
		goto out;
	if (do_fsync && (fdatasync(seg->idx_fd) != 0 || fdatasync(seg->tidx_fd) != 0))
		goto out;
	ret = 0;
out:
	if (seg->idx_fd >= 0)
		close(seg->idx_fd);
	if (seg->tidx_fd >= 0)
		close(seg->tidx_fd);
	seg->idx_fd = keep_idx;
	seg->tidx_fd = keep_tidx;
	return ret;
}

/* Appends in[from, to) to out at *opos. 0/-1. */
static int copy_range(int in, int out, uint64_t from, uint64_t to, uint64_t *opos)
{
	unsigned char *buf = malloc(SCAN_CHUNK);
	int ret = -1;

	if (buf == NULL)
		return -1;
	while (from < to) {
		size_t n = to - from > SCAN_CHUNK ? SCAN_CHUNK : (size_t)(to - from);

		if (ls_pread_full(in, buf, n, from) != 0 || ls_pwrite_full(out, buf, n, *opos) != 0)
			goto out;
		from += n;
		*opos += n;
	}
	ret = 0;
out:
	free(buf);
	return ret;
}

/* Copies fd[from, to) to a new file quarantine/<dirname>/<qname> (".N"
 * appended when that name is taken: quarantined bytes are never
 * overwritten), durably; qname gets the name used.  0/-1. */
static int quarantine_bytes(const struct ls_salvage *sv, int fd, char *qname, size_t qlen,
			    uint64_t from, uint64_t to)
{
	int qdir = ls_quarantine_dir(sv->store, sv->dirname), out = -1, ret = -1;
	size_t base_len = strlen(qname);
	uint64_t opos = 0;

	if (qdir < 0)
		goto out;
	for (unsigned n = 1; n < 10000; n++) {
		out = openat(qdir, qname, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (out >= 0 || errno != EEXIST)
			break;
		snprintf(qname + base_len, qlen - base_len, ".%u", n);
	}
	if (out < 0 || copy_range(fd, out, from, to, &opos) != 0 || fdatasync(out) != 0 ||
	    ls_fsync_fd(qdir) != 0)
		goto out;
	ret = 0;
out:
	if (out >= 0)
		close(out);
	if (qdir >= 0)
		close(qdir);
	return ret;
}

/*
 * Acts on the damage a scan found: each range is copied to quarantine
 * (unless shorter than a batch header: too little to ever identify) and
 * reported; a damaged tail alone is cut off, anything else rewrites the
 * segment without the damaged ranges (temp file, fsync, rename, fsync
 * dir) and points seg->fd at the new file.  *rewritten says which.  0/-1.
 */
static int salvage(int dirfd, struct ls_segment *seg, const struct dmg_list *dmg,
		   uint64_t file_size, struct ls_salvage *sv, int *rewritten)
{
	char segname[64], tmpname[80], qname[128], offs[96];
	uint64_t pos = 0, opos = 0;
	int out = -1, saved;

	*rewritten = 0;
	ls_segment_name(segname, sizeof segname, seg->base, ".log");
	for (size_t i = 0; i < dmg->n; i++) {
		const struct dmg_range *r = &dmg->v[i];
		uint64_t len = r->to - r->from;
		uint64_t end = r->next_good != UINT64_MAX ? r->next_good : sv->limit;
		int keep = len >= LS_BATCH_HEADER_SIZE;

		snprintf(qname, sizeof qname, "%s.%" PRIu64 "-%" PRIu64 ".damaged", segname,
			 r->from, r->to);
		if (keep && quarantine_bytes(sv, seg->fd, qname, sizeof qname, r->from, r->to) != 0)
			return -1;
		if (end == UINT64_MAX)
			snprintf(offs, sizeof offs, "offsets from %" PRIu64 " on lost", r->first_lost);
		else if (end <= r->first_lost)
			snprintf(offs, sizeof offs, "no offset lost");
		else if (end - 1 == r->first_lost)
			snprintf(offs, sizeof offs, "offset %" PRIu64 " lost", r->first_lost);
		else
			snprintf(offs, sizeof offs, "offsets %" PRIu64 "..%" PRIu64 " lost",
				 r->first_lost, end - 1);
		ls_warn(sv->store,
			"%s/%s: %" PRIu64 " bytes at position %" PRIu64 " damaged (%s): %s; %s%s%s%s",
			sv->dirname, segname, len, r->from, r->why, offs,
			keep ? "the bytes are in quarantine/" : "the bytes were dropped",
			keep ? sv->dirname : "", keep ? "/" : "", keep ? qname : "");
		sv->lost_bytes += len;
	}
	sv->damaged = 1;
	if (dmg->n == 1 && dmg->v[0].to == file_size)
		return ftruncate(seg->fd, (off_t)dmg->v[0].from) == 0 && fdatasync(seg->fd) == 0
			       ? 0
			       : -1;
	snprintf(tmpname, sizeof tmpname, "%s.tmp", segname);
	out = openat(dirfd, tmpname, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (out < 0)
		goto fail;
	for (size_t i = 0; i < dmg->n; i++) {
		if (copy_range(seg->fd, out, pos, dmg->v[i].from, &opos) != 0)
			goto fail;
		pos = dmg->v[i].to;
	}
	if (copy_range(seg->fd, out, pos, file_size, &opos) != 0 || fdatasync(out) != 0 ||
	    renameat(dirfd, tmpname, dirfd, segname) != 0 || ls_fsync_fd(dirfd) != 0)
		goto fail;
	ls_warn(sv->store, "%s/%s: rewritten without the damaged bytes, every other batch kept",
		sv->dirname, segname);
	close(seg->fd);
	seg->fd = out;
	*rewritten = 1;
	return 0;
fail:
	saved = errno;
	if (out >= 0) {
		close(out);
		unlinkat(dirfd, tmpname, 0);
	}
	errno = saved;
	return -1;
}

static void reset_scan_state(struct ls_segment *seg)
{
	seg->nidx = seg->ntidx = 0;
	seg->size = 0;
	seg->next = seg->base;
	seg->max_ts = -1;
	seg->max_ts_rel = 0;
	seg->last_rel = 0;
	seg->bytes_since_idx = 0;
}

struct ls_segment *ls_segment_open(int dirfd, uint64_t base, int recover, int active,
				   int64_t interval, struct ls_salvage *sv)
{
	struct ls_segment *seg = seg_alloc(base);
	struct dmg_list dmg = { NULL, 0, 0 };
	uint64_t file_size, from = 0;
	struct stat st;
	int rebuilt = 0, saved;

	sv->damaged = 0;
	sv->lost_bytes = 0;
	if (seg == NULL)
		return NULL;
	seg->fd = open_file(dirfd, base, ".log", O_RDWR);
	if (seg->fd < 0 || fstat(seg->fd, &st) != 0)
		goto fail;
	file_size = (uint64_t)st.st_size;
	seg->created_ms = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
	if (!recover && load_indexes(dirfd, seg, file_size)) {
		if (!active) {
			/* Inactive: the size is the file's, the largest
			 * timestamp the time index's last (sealed) entry;
			 * the caller sets next from the following segment. */
			seg->size = file_size;
			seg->max_ts = last_tidx_ts(seg);
			seg->last_rel = seg->nidx ? seg->idx[seg->nidx - 1].rel : 0;
			goto done;
		}
		/* Active: trust the indexes up to the last indexed batch and
		 * verify the tail from there (a clean close leaves nothing to
		 * cut; this is cheap insurance and finds the log end). */
		if (seg->nidx > 0) {
			const struct ls_idx_entry *e = &seg->idx[--seg->nidx];

			from = e->pos;
			seg->size = e->pos;
			seg->next = base + e->rel;
			while (seg->ntidx > 0 && seg->tidx[seg->ntidx - 1].rel > e->rel)
				seg->ntidx--;
		} else {
			seg->ntidx = 0;
		}
		seg->max_ts = last_tidx_ts(seg);
		if (scan_segment(seg, from, file_size, 1, interval, sv->limit, &dmg) != 0)
			goto fail;
	} else {
		reset_scan_state(seg);
		rebuilt = 1;
		if (scan_segment(seg, 0, file_size, recover || active, interval, sv->limit,
				 &dmg) != 0)
			goto fail;
	}
	if (dmg.n > 0) {
		int rewritten;

		/* Damaged bytes are cut out, durably, before anyone reads. */
		if (salvage(dirfd, seg, &dmg, file_size, sv, &rewritten) != 0)
			goto fail;
		rebuilt = 1;
		if (rewritten) {
			/* Positions moved: index the new file from scratch. */
			dmg.n = 0;
			reset_scan_state(seg);
			if (fstat(seg->fd, &st) != 0 ||
			    scan_segment(seg, 0, (uint64_t)st.st_size, 1, interval, sv->limit,
					 &dmg) != 0)
				goto fail;
			if (dmg.n > 0) {
				errno = EIO; /* what was kept must verify */
				goto fail;
			}
		}
	}
	if (recover && fdatasync(seg->fd) != 0)
		goto fail;
	/* A rebuilt inactive segment gets the final time index entry its
	 * roll would have written, so its largest timestamp survives. */
	if (!active && seg->size > 0 && seg->max_ts > last_tidx_ts(seg) &&
	    add_tidx(seg, seg->max_ts, seg->last_rel) != 0)
		goto fail;
	/* Rebuilt indexes are fsynced: a clean open trusts them later. */
	if (rebuilt && rewrite_indexes(dirfd, seg, 1) != 0)
		goto fail;
done:
	seg->idx_written = seg->nidx;
	seg->tidx_written = seg->ntidx;
	if (active) {
		seg->idx_fd = open_file(dirfd, base, ".index", O_RDWR | O_CREAT);
		seg->tidx_fd = open_file(dirfd, base, ".timeindex", O_RDWR | O_CREAT);
		if (seg->idx_fd < 0 || seg->tidx_fd < 0)
			goto fail;
		/* Entries beyond what memory holds (dropped above and
		 * re-noted by the tail scan) are overwritten in place. */
		if (ftruncate(seg->idx_fd, (off_t)(seg->nidx * IDX_ENTRY)) != 0 ||
		    ftruncate(seg->tidx_fd, (off_t)(seg->ntidx * TIDX_ENTRY)) != 0)
			goto fail;
	}
	free(dmg.v);
	return seg;
fail:
	saved = errno ? errno : EIO;
	free(dmg.v);
	ls_segment_unref(seg);
	errno = saved;
	return NULL;
}

/* ---- truncation ------------------------------------------------------------ */

int ls_segment_cut_point(const struct ls_segment *seg, uint64_t offset, uint64_t *pos,
			 uint64_t *cut_base)
{
	struct ls_scan *sc = malloc(sizeof *sc);
	struct ls_batch_info b;
	uint64_t start = 0;
	int got;

	if (sc == NULL)
		return -1;
	if (offset > seg->base) {
		start = ls_segment_lookup(seg, offset - seg->base);
		if (!ls_segment_entry_ok(seg, sc, start))
			start = 0; /* a stale index: scan from the start */
	}
	ls_scan_init(sc, seg->fd, start, seg->size);
	while ((got = ls_scan_peek(sc, &b)) == 1 &&
	       b.base_offset + (uint32_t)b.last_offset_delta < offset)
		ls_scan_advance(sc, &b);
	if (got >= 0) {
		*pos = got == 1 ? sc->pos : seg->size;
		*cut_base = got == 1 ? b.base_offset : UINT64_MAX;
	}
	free(sc);
	return got < 0 ? -1 : 0;
}

/* Cuts the in-memory indexes of seg to the batches before file position
 * cut, and notes the batches between the last kept index entry and cut
 * again from the file.  0, or -1 with errno. */
static int reindex_to(struct ls_segment *seg, uint64_t cut, int64_t interval)
{
	struct dmg_list dmg = { NULL, 0, 0 };
	uint64_t from = 0;
	size_t n = 0;
	int ret;

	while (n < seg->nidx && seg->idx[n].pos < cut)
		n++;
	if (n > 0) {
		/* as an active segment's open does: trust the entries up to the
		 * last one kept, walk from there */
		const struct ls_idx_entry *e = &seg->idx[n - 1];

		seg->nidx = n - 1;
		from = e->pos;
		seg->size = e->pos;
		seg->next = seg->base + e->rel;
		while (seg->ntidx > 0 && seg->tidx[seg->ntidx - 1].rel > e->rel)
			seg->ntidx--;
		seg->max_ts = last_tidx_ts(seg);
		seg->bytes_since_idx = 0;
	} else {
		reset_scan_state(seg);
	}
	if (seg->idx_written > seg->nidx)
		seg->idx_written = seg->nidx;
	if (seg->tidx_written > seg->ntidx)
		seg->tidx_written = seg->ntidx;
	ret = scan_segment(seg, from, cut, 0, interval, UINT64_MAX, &dmg);
	if (ret == 0 && (dmg.n > 0 || seg->size != cut)) {
		errno = EIO; /* batches we wrote must read back */
		ret = -1;
	}
	free(dmg.v);
	return ret;
}

struct ls_segment *ls_segment_truncate(int dirfd, struct ls_segment *seg, uint64_t cut,
				       int64_t interval)
{
	struct ls_segment *t = seg;
	char name[64], tmp[80] = "";
	int saved, moved = 0;

	if (seg->refs > 1) {
		/* Readers hold the file: the kept bytes go to a new one,
		 * renamed over it; they keep reading the old inode. */
		uint64_t opos = 0;

		t = seg_alloc(seg->base);
		if (t == NULL)
			return NULL;
		t->created_ms = seg->created_ms;
		ls_segment_name(name, sizeof name, seg->base, ".log");
		snprintf(tmp, sizeof tmp, "%s.trunc.tmp", name);
		t->fd = openat(dirfd, tmp, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (t->fd < 0 || copy_range(seg->fd, t->fd, 0, cut, &opos) != 0 ||
		    fdatasync(t->fd) != 0 || renameat(dirfd, tmp, dirfd, name) != 0)
			goto fail;
		/* the index entries before the cut hold for the copy */
		for (size_t i = 0; i < seg->nidx && seg->idx[i].pos < cut; i++)
			if (add_idx(t, seg->idx[i].rel, seg->idx[i].pos) != 0)
				goto fail;
		for (size_t i = 0; i < seg->ntidx; i++)
			if (add_tidx(t, seg->tidx[i].ts, seg->tidx[i].rel) != 0)
				goto fail;
		t->idx_written = seg->idx_written;
		t->tidx_written = seg->tidx_written;
		t->size = seg->size;
		t->next = seg->next;
		t->max_ts = seg->max_ts;
		t->last_rel = seg->last_rel;
		/* the index files are shared by name: the old segment stops
		 * writing them (readers only read its .log) */
		if (seg->idx_fd >= 0 && seg->tidx_fd >= 0) {
			t->idx_fd = seg->idx_fd;
			t->tidx_fd = seg->tidx_fd;
			seg->idx_fd = seg->tidx_fd = -1;
			moved = 1;
		}
	} else if (ftruncate(seg->fd, (off_t)cut) != 0 || fdatasync(seg->fd) != 0) {
		return NULL;
	}
	if (reindex_to(t, cut, interval) != 0)
		goto fail;
	/* It is the active segment from now on: index files open, cut to
	 * what memory holds, the rest written by the next sync. */
	if (t->idx_fd < 0)
		t->idx_fd = open_file(dirfd, t->base, ".index", O_RDWR | O_CREAT);
	if (t->tidx_fd < 0)
		t->tidx_fd = open_file(dirfd, t->base, ".timeindex", O_RDWR | O_CREAT);
	if (t->idx_fd < 0 || t->tidx_fd < 0 ||
	    ftruncate(t->idx_fd, (off_t)(t->idx_written * IDX_ENTRY)) != 0 ||
	    ftruncate(t->tidx_fd, (off_t)(t->tidx_written * TIDX_ENTRY)) != 0 ||
	    ls_segment_write_indexes(t) != 0)
		goto fail;
	return t;
fail:
	saved = errno ? errno : EIO;
	if (t != seg) {
		unlinkat(dirfd, tmp, 0); /* gone already once renamed */
		if (moved) {
			seg->idx_fd = t->idx_fd;
			seg->tidx_fd = t->tidx_fd;
			t->idx_fd = t->tidx_fd = -1;
		}
		ls_segment_unref(t);
	}
	errno = saved;
	return NULL;
}
