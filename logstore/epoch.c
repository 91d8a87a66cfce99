/*
 * logstore/epoch.c: a partition's leader epochs (Kafka's KIP-101 leader
 * epoch cache): which epoch's leader wrote the records from which offset
 * on, so that a follower that comes back can ask the leader where its
 * epoch ended and truncate there (OffsetForLeaderEpoch).
 *
 * Kept in memory as a sorted array and in <partition>/leader-epoch-
 * checkpoint in Kafka's text format ("0", the count, then "<epoch> <start
 * offset>" lines), replaced atomically (temp file, fsync, rename, folder
 * fsync) before any call that changes it returns.
 *
 * Must not depend on anything but libc and POSIX.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "logstore_internal.h"

#define EPOCH_FILE "leader-epoch-checkpoint"

/* Writes the checkpoint from p->epochs.  LS_OK or LS_ERR_IO/NOMEM. */
static int epochs_write(struct ls_partition *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc = LS_ERR_NOMEM;

	if (f == NULL)
		return LS_ERR_NOMEM;
	fprintf(f, "0\n%zu\n", p->nepochs);
	for (size_t i = 0; i < p->nepochs; i++)
		fprintf(f, "%" PRId32 " %" PRIu64 "\n", p->epochs[i].epoch, p->epochs[i].start);
	if (fclose(f) != 0)
		goto out;
	rc = ls_atomic_write(p->dirfd, EPOCH_FILE, buf, len) == 0 ? LS_OK : LS_ERR_IO;
out:
	free(buf);
	return rc;
}

static int epochs_reserve(struct ls_partition *p, size_t n)
{
	struct ls_epoch_entry *e;
	size_t cap;

	if (n <= p->epochs_cap)
		return 0;
	cap = p->epochs_cap ? p->epochs_cap * 2 : 8;
	if (cap < n)
		cap = n;
	e = realloc(p->epochs, cap * sizeof *e);
	if (e == NULL)
		return -1;
	p->epochs = e;
	p->epochs_cap = cap;
	return 0;
}

/* Parses the checkpoint text: 0 and the entries, -1 when malformed. */
static int epochs_parse(struct ls_partition *p, char *data)
{
	char *line, *save = NULL;
	unsigned long long count = 0;
	size_t i = 0;
	int state = 0; /* 0: version, 1: count, 2: entries */

	p->nepochs = 0;
	for (line = strtok_r(data, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		long long epoch;
		unsigned long long start;
		char extra;

		if (state == 0) {
			if (strcmp(line, "0") != 0)
				return -1;
			state = 1;
		} else if (state == 1) {
			if (sscanf(line, "%llu%c", &count, &extra) != 1 || count > 1000000)
				return -1;
			state = 2;
		} else {
			if (i == count || sscanf(line, "%lld %llu%c", &epoch, &start, &extra) != 2 ||
			    epoch < 0 || epoch > INT32_MAX || epochs_reserve(p, i + 1) != 0)
				return -1;
			/* strictly increasing epochs, non-decreasing offsets */
			if (i > 0 && ((int32_t)epoch <= p->epochs[i - 1].epoch ||
				      start < p->epochs[i - 1].start))
				return -1;
			p->epochs[i].epoch = (int32_t)epoch;
			p->epochs[i].start = start;
			i++;
		}
	}
	if (state != 2 || i != count)
		return -1;
	p->nepochs = i;
	return 0;
}

int ls_epochs_load(struct ls_partition *p)
{
	char *data = NULL;
	size_t len;

	p->nepochs = 0;
	if (ls_read_file(p->dirfd, EPOCH_FILE, &data, &len) != 0)
		return errno == ENOENT ? LS_OK : LS_ERR_IO;
	if (epochs_parse(p, data) != 0) {
		p->nepochs = 0;
		ls_warn(p->store, "%s/%s: malformed; the partition starts with no leader epochs",
			p->dirname, EPOCH_FILE);
	}
	free(data);
	/* Epochs starting at or after the log end (a leader elected at the
	 * end, or a tail cut at recovery) go, as Kafka does at load. */
	return ls_epochs_truncate_end(p, p->log_end);
}

int ls_epochs_truncate_end(struct ls_partition *p, uint64_t end)
{
	size_t n = p->nepochs;

	while (n > 0 && p->epochs[n - 1].start >= end)
		n--;
	if (n == p->nepochs)
		return LS_OK;
	p->nepochs = n;
	return epochs_write(p);
}

int ls_epochs_clear(struct ls_partition *p)
{
	p->nepochs = 0;
	return epochs_write(p);
}

int ls_partition_assign_epoch(struct ls_partition *p, int32_t epoch, uint64_t start_offset)
{
	int rc;

	if (epoch < 0)
		return LS_ERR_INVALID;
	if (p->failed)
		return LS_ERR_IO;
	if (p->nepochs > 0) {
		const struct ls_epoch_entry *last = &p->epochs[p->nepochs - 1];

		if (epoch == last->epoch)
			return LS_OK;
		if (epoch < last->epoch || start_offset < last->start)
			return LS_ERR_INVALID;
	}
	if (epochs_reserve(p, p->nepochs + 1) != 0)
		return LS_ERR_NOMEM;
	p->epochs[p->nepochs].epoch = epoch;
	p->epochs[p->nepochs].start = start_offset;
	p->nepochs++;
	rc = epochs_write(p);
	if (rc != LS_OK) {
		/* Memory follows what is on disk; a failed write or fsync
		 * cannot be trusted to have left the old file whole. */
		p->nepochs--;
		if (rc == LS_ERR_IO)
			p->failed = 1;
	}
	return rc;
}

int32_t ls_partition_latest_epoch(const struct ls_partition *p)
{
	return p->nepochs > 0 ? p->epochs[p->nepochs - 1].epoch : -1;
}

void ls_partition_epoch_end(const struct ls_partition *p, int32_t epoch, int32_t *out_epoch,
			    int64_t *end_offset)
{
	size_t hi = 0;

	*out_epoch = -1;
	*end_offset = -1;
	if (epoch < 0 || p->nepochs == 0)
		return;
	if (epoch == p->epochs[p->nepochs - 1].epoch) {
		*out_epoch = epoch;
		*end_offset = (int64_t)p->log_end;
		return;
	}
	while (hi < p->nepochs && p->epochs[hi].epoch <= epoch)
		hi++;
	if (hi == p->nepochs)
		return; /* above every epoch known */
	/* the largest epoch <= the one asked (the one asked when below the
	 * first: the data before the first epoch is gone), and the start
	 * of the next higher one */
	*out_epoch = hi > 0 ? p->epochs[hi - 1].epoch : epoch;
	*end_offset = (int64_t)p->epochs[hi].start;
}

size_t ls_partition_epochs(const struct ls_partition *p, int32_t *epochs, uint64_t *starts,
			   size_t max)
{
	for (size_t i = 0; i < p->nepochs && i < max; i++) {
		if (epochs != NULL)
			epochs[i] = p->epochs[i].epoch;
		if (starts != NULL)
			starts[i] = p->epochs[i].start;
	}
	return p->nepochs;
}
