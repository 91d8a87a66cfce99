/*
 * logstore/producer.c: the idempotent producers of a partition (Kafka's
 * ProducerStateManager): per producer id its epoch and the metadata of
 * its last LS_PRODUCER_BATCHES batches (sequence range, offsets), so that
 * an append can be checked (ls_pstate_check) and a retried batch answered
 * with the offsets it got the first time.
 *
 * The state is derived from the log: every batch header carries producer
 * id, epoch and base sequence.  It is built on demand, the first time a
 * batch of an idempotent producer or a transaction marker is appended or
 * the first unstable offset or the aborted transactions are asked, by
 * reading the newest snapshot and then the batch headers from the
 * snapshot's offset to the log end; from then on every append keeps it
 * current (the producer path, the replica path), and a truncation drops
 * it (built again from the log when next needed).  Snapshots
 * (<offset>.snapshot beside the segments, the state at that offset) are
 * written at each segment roll and at close, the two newest kept; they
 * only save reading: each ends with a CRC-32C, a damaged one or one past
 * the log end is ignored, and without any the headers of the whole log
 * are read.  A producer whose last batch with a sequence is below the log
 * start (markers do not keep it), or that appended nothing for
 * producer_id_expiration_ms, is forgotten, as Kafka forgets it.  Kafka times a producer by its batches' timestamps; here it
 * is the broker's clock when the batch was appended (or, for batches read
 * back from the log, when they were read), so that a producer's clock
 * cannot make it forgotten early.
 *
 * Transactions (KIP-98) are part of the same state: a producer's open
 * transaction (its first offset), the partition's open and aborted
 * transactions (txn.c), all derived from the batch headers and the key of
 * each control batch's record, snapshotted with the producers (format
 * "TPS2"; an older "TPS1" snapshot is ignored, the log read instead).  A
 * producer with an open transaction is never forgotten for idleness (its
 * transaction would stay open for ever); it goes with its last batch,
 * below the log start, as Kafka drops such a transaction.
 *
 * Must not depend on anything outside libc.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "crc32c.h"
#include "logstore_internal.h"

#define SNAP_MAGIC "TPS2"
#define SNAP_KEEP 2
#define ENTRY_BYTES (8 + 2 + 8 + 1 + LS_PRODUCER_BATCHES * (4 + 4 + 8 + 8) + 8 + 8)

struct ls_pstate {
	struct ls_pentry *tab; /* open addressing on producer id; pid -1: free */
	size_t cap, count;
	struct ls_txns txns; /* the open ones follow the entries' txn_first */
};

/* ---- the table ----------------------------------------------------------- */

static size_t slot_of(int64_t pid, size_t cap)
{
	uint64_t h = (uint64_t)pid * UINT64_C(0x9E3779B97F4A7C15);
	return (size_t)(h >> 17) & (cap - 1);
}

static struct ls_pentry *find(const struct ls_pstate *st, int64_t pid)
{
	if (st->cap == 0)
		return NULL;
	for (size_t i = slot_of(pid, st->cap);; i = (i + 1) & (st->cap - 1)) {
		if (st->tab[i].pid == pid)
			return &st->tab[i];
		if (st->tab[i].pid < 0)
			return NULL;
	}
}

static int grow(struct ls_pstate *st)
{
	size_t cap = st->cap ? st->cap * 2 : 16;
	struct ls_pentry *tab = malloc(cap * sizeof(*tab));
	if (!tab)
		return LS_ERR_NOMEM;
	for (size_t i = 0; i < cap; i++)
		tab[i].pid = -1;
	for (size_t i = 0; i < st->cap; i++) {
		if (st->tab[i].pid < 0)
			continue;
		size_t j = slot_of(st->tab[i].pid, cap);
		while (tab[j].pid >= 0)
			j = (j + 1) & (cap - 1);
		tab[j] = st->tab[i];
	}
	free(st->tab);
	st->tab = tab;
	st->cap = cap;
	return LS_OK;
}

static struct ls_pentry *get_or_add(struct ls_pstate *st, int64_t pid)
{
	struct ls_pentry *e = find(st, pid);
	if (e)
		return e;
	if ((st->count + 1) * 4 > st->cap * 3 && grow(st) != LS_OK)
		return NULL;
	size_t i = slot_of(pid, st->cap);
	while (st->tab[i].pid >= 0)
		i = (i + 1) & (st->cap - 1);
	e = &st->tab[i];
	memset(e, 0, sizeof(*e));
	e->pid = pid;
	e->epoch = -1;
	e->txn_first = -1;
	st->count++;
	return e;
}

/* The open transactions again from the entries (after some went): it
 * only shrinks, so it needs no memory. */
static void reopen_txns(struct ls_pstate *st)
{
	st->txns.nopen = 0;
	for (size_t i = 0; i < st->cap; i++)
		if (st->tab[i].pid >= 0 && st->tab[i].txn_first >= 0)
			ls_txns_open(&st->txns, st->tab[i].pid, (uint64_t)st->tab[i].txn_first);
}

/* Rebuilds the table without the entries drop() says go. */
static void sweep(struct ls_pstate *st, int (*drop)(const struct ls_pentry *, const void *),
		  const void *arg)
{
	struct ls_pstate keep = { 0 };
	size_t before = st->count;
	for (size_t i = 0; i < st->cap; i++) {
		const struct ls_pentry *e = &st->tab[i];
		struct ls_pentry *n;
		if (e->pid < 0 || drop(e, arg))
			continue;
		if (!(n = get_or_add(&keep, e->pid))) {
			free(keep.tab);
			return; /* out of memory: keep them all */
		}
		*n = *e;
	}
	free(st->tab);
	keep.txns = st->txns;
	*st = keep;
	if (st->count != before)
		reopen_txns(st);
}

struct ls_pstate *ls_pstate_new(void)
{
	return calloc(1, sizeof(struct ls_pstate));
}

void ls_pstate_free(struct ls_pstate *st)
{
	if (!st)
		return;
	free(st->tab);
	ls_txns_free(&st->txns);
	free(st);
}

size_t ls_pstate_count(const struct ls_pstate *st)
{
	return st ? st->count : 0;
}

const struct ls_pentry *ls_pstate_find(const struct ls_pstate *st, int64_t pid)
{
	return st ? find(st, pid) : NULL;
}

/* ---- one batch ------------------------------------------------------------ */

static int32_t last_seq_of(const struct ls_batch_info *b)
{
	int64_t last = (int64_t)b->base_sequence + b->last_offset_delta;
	return (int32_t)(last > INT32_MAX ? last - INT32_MAX - 1 : last);
}

/* The marker at `at` ends e's transaction, if one is open. */
static int end_txn(struct ls_pstate *st, struct ls_pentry *e, int marker, uint64_t at)
{
	if (e->txn_first < 0)
		return LS_OK; /* written all the same, as Kafka does */
	uint64_t first = (uint64_t)e->txn_first;
	e->txn_first = -1;
	ls_txns_close(&st->txns, e->pid, first);
	return marker == LS_TXN_ABORT ? ls_txns_add_aborted(&st->txns, e->pid, first, at) : LS_OK;
}

int ls_pstate_note(struct ls_pstate *st, const struct ls_batch_info *b, uint64_t base, int marker,
		   int64_t now)
{
	int control = (b->attributes & LS_ATTR_CONTROL) != 0;
	if (b->producer_id < 0 || (control && marker != LS_TXN_ABORT && marker != LS_TXN_COMMIT))
		return LS_OK;
	struct ls_pentry *e = get_or_add(st, b->producer_id);
	if (!e)
		return LS_ERR_NOMEM;
	if (b->producer_epoch != e->epoch) {
		e->epoch = b->producer_epoch;
		e->n = 0; /* a new epoch starts its sequences again */
	}
	uint64_t last = base + (uint64_t)b->last_offset_delta;
	e->last_offset = last;
	e->last_ts = now;
	if (control)
		return end_txn(st, e, marker, last);
	struct ls_pbatch nb = { b->base_sequence, last_seq_of(b), base, last };
	if (e->n == LS_PRODUCER_BATCHES) {
		memmove(e->b, e->b + 1, (LS_PRODUCER_BATCHES - 1) * sizeof(e->b[0]));
		e->n--;
	}
	e->b[e->n++] = nb;
	if ((b->attributes & LS_ATTR_TRANSACTIONAL) && e->txn_first < 0) {
		e->txn_first = (int64_t)base;
		return ls_txns_open(&st->txns, e->pid, base);
	}
	return LS_OK;
}

uint64_t ls_pstate_first_unstable(const struct ls_pstate *st, uint64_t log_end)
{
	return ls_txns_first_unstable(&st->txns, log_end);
}

size_t ls_pstate_aborted(const struct ls_pstate *st, uint64_t from, uint64_t to,
			 struct ls_aborted_txn *out, size_t max)
{
	return ls_txns_aborted(&st->txns, from, to, out, max);
}

/* The last offset of e's last batch with a sequence; while only a marker
 * of its epoch is known (until the next ls_pstate_truncate_head forgets
 * it), the marker's. */
static int64_t last_data_offset(const struct ls_pentry *e)
{
	return (int64_t)(e->n > 0 ? e->b[e->n - 1].last_offset : e->last_offset);
}

static int in_sequence(int32_t last, int32_t next)
{
	return (int64_t)next == (int64_t)last + 1 || (next == 0 && last == INT32_MAX);
}

int ls_pstate_check(const struct ls_pstate *st, const struct ls_batch_info *b, uint64_t log_start,
		    int64_t oldest_ts, uint64_t *dup_base, uint64_t *dup_last)
{
	const struct ls_pentry *e = b->producer_id >= 0 ? find(st, b->producer_id) : NULL;
	/* new, or forgotten (its batches deleted, or idle too long): any
	 * sequence is taken, as Kafka 2.5+ takes it */
	if (!e || last_data_offset(e) < (int64_t)log_start || e->last_ts < oldest_ts)
		return LS_OK;
	if (b->producer_epoch < e->epoch)
		return LS_ERR_PRODUCER_FENCED;
	if (b->producer_epoch > e->epoch)
		return b->base_sequence == 0 ? LS_OK : LS_ERR_OUT_OF_ORDER_SEQUENCE;
	for (uint8_t i = 0; i < e->n; i++)
		if (e->b[i].first_seq == b->base_sequence && e->b[i].last_seq == last_seq_of(b)) {
			*dup_base = e->b[i].first_offset;
			*dup_last = e->b[i].last_offset;
			return LS_PSTATE_DUPLICATE;
		}
	/* no sequence known in this epoch (a marker began it): from 0 */
	int32_t last = e->n > 0 ? e->b[e->n - 1].last_seq : -1;
	if (!in_sequence(last, b->base_sequence))
		return LS_ERR_OUT_OF_ORDER_SEQUENCE;
	return LS_OK;
}

/* Kafka's ProducerStateManager.truncateHead: a producer is kept while one
 * of its batches with a sequence (not a marker) is at or above the log
 * start.  So one of which only markers are left (its batches below the log
 * start: DeleteRecords or retention) is forgotten, and its next sequence
 * taken whatever it is, as librdkafka expects of a Kafka 2.5+ broker. */
static int below_start(const struct ls_pentry *e, const void *arg)
{
	return e->n == 0 || e->b[e->n - 1].last_offset < *(const uint64_t *)arg;
}

void ls_pstate_truncate_head(struct ls_pstate *st, uint64_t log_start)
{
	if (!st)
		return;
	sweep(st, below_start, &log_start);
	ls_txns_truncate_head(&st->txns, log_start);
}

static int expired(const struct ls_pentry *e, const void *arg)
{
	return e->txn_first < 0 && e->last_ts < *(const int64_t *)arg;
}

void ls_pstate_expire(struct ls_pstate *st, int64_t now_ms, int64_t expiration_ms)
{
	int64_t oldest = now_ms - expiration_ms;
	if (st && expiration_ms >= 0)
		sweep(st, expired, &oldest);
}

/* ---- snapshots ------------------------------------------------------------ */

/* Offsets of the snapshot files in the partition folder, sorted. */
static size_t list_snapshots(int dirfd, uint64_t *out, size_t cap)
{
	int fd = dup(dirfd);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	size_t n = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	rewinddir(d);
	while ((de = readdir(d)) != NULL && n < cap) {
		char *end;
		if (strlen(de->d_name) != 29 || strcmp(de->d_name + 20, ".snapshot") != 0)
			continue;
		out[n] = strtoull(de->d_name, &end, 10);
		if (end == de->d_name + 20)
			n++;
	}
	closedir(d);
	for (size_t i = 1; i < n; i++) /* few: insertion sort */
		for (size_t j = i; j > 0 && out[j - 1] > out[j]; j--) {
			uint64_t t = out[j];
			out[j] = out[j - 1];
			out[j - 1] = t;
		}
	return n;
}

static void remove_snapshot(int dirfd, uint64_t off)
{
	char name[48];
	ls_segment_name(name, sizeof name, off, ".snapshot");
	unlinkat(dirfd, name, 0);
}

static unsigned char *put_entry(unsigned char *p, const struct ls_pentry *e)
{
	ls_put_be64(p, (uint64_t)e->pid);
	ls_put_be16(p + 8, (uint16_t)e->epoch);
	ls_put_be64(p + 10, (uint64_t)e->last_ts);
	p[18] = e->n;
	p += 19;
	for (int i = 0; i < LS_PRODUCER_BATCHES; i++, p += 24) {
		ls_put_be32(p, (uint32_t)e->b[i].first_seq);
		ls_put_be32(p + 4, (uint32_t)e->b[i].last_seq);
		ls_put_be64(p + 8, e->b[i].first_offset);
		ls_put_be64(p + 16, e->b[i].last_offset);
	}
	ls_put_be64(p, e->last_offset);
	ls_put_be64(p + 8, (uint64_t)e->txn_first);
	return p + 16;
}

static const unsigned char *get_entry(const unsigned char *p, struct ls_pentry *e)
{
	e->pid = (int64_t)ls_get_be64(p);
	e->epoch = (int16_t)ls_get_be16(p + 8);
	e->last_ts = (int64_t)ls_get_be64(p + 10);
	e->n = p[18] <= LS_PRODUCER_BATCHES ? p[18] : LS_PRODUCER_BATCHES;
	p += 19;
	for (int i = 0; i < LS_PRODUCER_BATCHES; i++, p += 24) {
		e->b[i].first_seq = (int32_t)ls_get_be32(p);
		e->b[i].last_seq = (int32_t)ls_get_be32(p + 4);
		e->b[i].first_offset = ls_get_be64(p + 8);
		e->b[i].last_offset = ls_get_be64(p + 16);
	}
	e->last_offset = ls_get_be64(p);
	e->txn_first = (int64_t)ls_get_be64(p + 8);
	if (e->txn_first < -1)
		e->txn_first = -1;
	return p + 16;
}

/* Writes name.tmp and renames it: no fsync, the CRC tells a torn one. */
static int write_file(int dirfd, const char *name, const unsigned char *buf, size_t len)
{
	char tmp[64];
	snprintf(tmp, sizeof tmp, "%s.tmp", name);
	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	int rc = ls_pwrite_full(fd, buf, len, 0);
	close(fd);
	if (rc == 0 && renameat(dirfd, tmp, dirfd, name) == 0)
		return 0;
	unlinkat(dirfd, tmp, 0);
	return -1;
}

/*
 * A snapshot: "TPS2", its offset (u64), the producer count (u32), each
 * producer (ENTRY_BYTES: see put_entry), the aborted transactions (txn.c),
 * then a CRC-32C of everything before it.  Big-endian throughout.
 */
int ls_pstate_snapshot(const struct ls_pstate *st, int dirfd, uint64_t offset)
{
	size_t len = 4 + 8 + 4 + st->count * ENTRY_BYTES + ls_txns_snapshot_size(&st->txns) + 4;
	unsigned char *buf = malloc(len), *p;
	char name[48];
	uint64_t offs[64];

	if (!buf)
		return LS_ERR_NOMEM;
	memcpy(buf, SNAP_MAGIC, 4);
	ls_put_be64(buf + 4, offset);
	ls_put_be32(buf + 12, (uint32_t)st->count);
	p = buf + 16;
	for (size_t i = 0; i < st->cap; i++)
		if (st->tab[i].pid >= 0)
			p = put_entry(p, &st->tab[i]);
	p = ls_txns_put(&st->txns, p);
	ls_put_be32(p, ls_crc32c(0, buf, (size_t)(p - buf)));
	ls_segment_name(name, sizeof name, offset, ".snapshot");
	int rc = write_file(dirfd, name, buf, len);
	free(buf);
	if (rc != 0)
		return LS_ERR_IO;
	size_t n = list_snapshots(dirfd, offs, 64);
	for (size_t i = 0; i + SNAP_KEEP < n; i++)
		remove_snapshot(dirfd, offs[i]);
	return LS_OK;
}

/* Reads the n producers at p into st: LS_OK, LS_ERR_CORRUPT, LS_ERR_NOMEM. */
static int get_entries(struct ls_pstate *st, const unsigned char *p, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		struct ls_pentry e, *d;
		p = get_entry(p, &e);
		if (e.pid < 0 || find(st, e.pid))
			return LS_ERR_CORRUPT;
		if (!(d = get_or_add(st, e.pid)))
			return LS_ERR_NOMEM;
		*d = e;
		if (e.txn_first >= 0 &&
		    ls_txns_open(&st->txns, e.pid, (uint64_t)e.txn_first) != LS_OK)
			return LS_ERR_NOMEM;
	}
	return LS_OK;
}

/* Reads snapshot `off` into st: LS_OK, or an error (st then empty). */
static int read_snapshot(struct ls_pstate *st, int dirfd, uint64_t off)
{
	char name[48], *data = NULL;
	size_t len = 0;
	ls_segment_name(name, sizeof name, off, ".snapshot");
	if (ls_read_file(dirfd, name, &data, &len) != 0)
		return LS_ERR_IO;
	const unsigned char *p = (const unsigned char *)data;
	int rc = LS_ERR_CORRUPT;
	size_t n = len >= 24 ? ls_get_be32(p + 12) : 0;
	if (len >= 24 && !memcmp(p, SNAP_MAGIC, 4) && ls_get_be64(p + 4) == off &&
	    n <= (len - 24) / ENTRY_BYTES && ls_crc32c(0, p, len - 4) == ls_get_be32(p + len - 4)) {
		size_t txn_at = 16 + n * ENTRY_BYTES;
		rc = get_entries(st, p + 16, (uint32_t)n);
		if (rc == LS_OK)
			rc = ls_txns_get(&st->txns, p + txn_at, len - 4 - txn_at);
	}
	free(data);
	if (rc != LS_OK) {
		free(st->tab);
		ls_txns_free(&st->txns);
		memset(st, 0, sizeof(*st));
	}
	return rc;
}

/* The newest readable snapshot at or below log_end into st (those past
 * it removed: the log they describe is gone).  Its offset, or 0 with st
 * empty when none. */
static uint64_t load_snapshot(struct ls_pstate *st, int dirfd, uint64_t log_end)
{
	uint64_t offs[64];
	size_t n = list_snapshots(dirfd, offs, 64);
	for (size_t i = n; i-- > 0;) {
		if (offs[i] > log_end) {
			remove_snapshot(dirfd, offs[i]);
			continue;
		}
		if (read_snapshot(st, dirfd, offs[i]) == LS_OK)
			return offs[i];
	}
	return 0;
}

void ls_pstate_drop_snapshots(int dirfd, uint64_t above)
{
	uint64_t offs[64];
	size_t n = list_snapshots(dirfd, offs, 64);
	for (size_t i = 0; i < n; i++)
		if (offs[i] > above)
			remove_snapshot(dirfd, offs[i]);
}

/* ---- building it from the log ------------------------------------------ */

/* The marker type of the control batch at pos in fd (b its header), read
 * from the start of its record: LS_TXN_*, -1 when unreadable, or
 * LS_ERR_IO. */
static int read_marker(int fd, uint64_t pos, const struct ls_batch_info *b)
{
	unsigned char buf[LS_BATCH_HEADER_SIZE + 64];
	size_t len = b->size < sizeof buf ? b->size : sizeof buf;
	if (ls_pread_full(fd, buf, len, pos) != 0)
		return LS_ERR_IO;
	return ls_batch_control_type(buf, len);
}

/* Notes every batch of seg at or past `from`. */
static int scan_segment(struct ls_pstate *st, const struct ls_segment *seg, uint64_t from,
			int64_t now)
{
	struct ls_scan sc;
	struct ls_batch_info b;
	int got, rc = LS_OK;

	ls_scan_init(&sc, seg->fd, 0, seg->size);
	while (rc == LS_OK && (got = ls_scan_peek(&sc, &b)) == 1) {
		int marker = -1;
		if (b.base_offset >= from && b.producer_id >= 0) {
			if (b.attributes & LS_ATTR_CONTROL)
				marker = read_marker(seg->fd, sc.pos, &b);
			rc = marker == LS_ERR_IO
				     ? LS_ERR_IO
				     : ls_pstate_note(st, &b, b.base_offset, marker, now);
		}
		ls_scan_advance(&sc, &b);
	}
	return rc != LS_OK ? rc : got < 0 ? LS_ERR_IO : LS_OK;
}

int ls_pstate_load(struct ls_partition *p, int64_t now_ms)
{
	if (p->pstate)
		return LS_OK;
	struct ls_pstate *st = ls_pstate_new();
	if (!st)
		return LS_ERR_NOMEM;
	uint64_t from = load_snapshot(st, p->dirfd, p->log_end);
	int rc = LS_OK;
	for (size_t i = 0; i < p->nsegs && rc == LS_OK; i++)
		if (p->segs[i]->next > from || i + 1 == p->nsegs)
			rc = scan_segment(st, p->segs[i], from, now_ms);
	if (rc != LS_OK) {
		ls_pstate_free(st);
		return rc;
	}
	ls_pstate_truncate_head(st, p->log_start);
	ls_pstate_expire(st, now_ms, p->store->opt.producer_id_expiration_ms);
	p->pstate = st;
	return LS_OK;
}

void ls_pstate_unload(struct ls_partition *p)
{
	ls_pstate_free(p->pstate);
	p->pstate = NULL;
}
