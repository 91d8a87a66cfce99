/*
 * logstore/ls_bench.c: logstore benchmark: appends 100-byte records to one
 * partition in batches of 1, 100 and 1000 with the default flush policy
 * (fsync by the flush.ms timer, driven here as the broker would), as
 * broker-built batches (ls_append) and as producer batches
 * (ls_append_batch), then reads everything back as file ranges and as
 * decoded records.  Prints records/s and MB/s (MB = 10^6 bytes of record
 * values).  A program that prints numbers, not a test.
 *
 * usage: ls-bench [-n records] [-s value size] [-d dir] [-k]
 *   -k keeps the data directory (default: a mkdtemp under /tmp, removed).
 *
 * Must not depend on anything but logstore/ and libc.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "logstore.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "ls-bench: %s: %s\n", what, ls_strerror(rc));
	exit(1);
}

static void report(const char *what, long long n, size_t vsize, double secs)
{
	printf("%-44s %10lld records %8.3f s %12.0f records/s %9.1f MB/s\n", what, n,
	       secs, (double)n / secs, (double)n * (double)vsize / secs / 1e6);
	fflush(stdout);
}

static struct ls_partition *new_partition(struct ls_store *s, const char *name,
					  const struct ls_kv *cfg, size_t ncfg)
{
	char err[256];
	int rc = ls_topic_create(s, name, 1, cfg, ncfg, err, sizeof err);

	if (rc != LS_OK) {
		fprintf(stderr, "ls-bench: create %s: %s\n", name, err);
		exit(1);
	}
	return ls_partition_get(ls_topic_find(s, name), 0);
}

static void bench_append(struct ls_store *s, const char *topic, size_t batch,
			 long long total, size_t vsize, int producer,
			 const struct ls_kv *cfg, size_t ncfg, const char *label)
{
	struct ls_partition *p = new_partition(s, topic, cfg, ncfg);
	struct ls_record *recs = calloc(batch, sizeof *recs);
	unsigned char *value = malloc(vsize);
	unsigned char *pbatch = NULL;
	size_t plen = 0;
	long long done = 0;
	double t0, t1;
	int rc;

	if (recs == NULL || value == NULL)
		exit(1);
	for (size_t i = 0; i < vsize; i++)
		value[i] = (unsigned char)('a' + i % 26);
	for (size_t i = 0; i < batch; i++) {
		recs[i].value = value;
		recs[i].value_len = vsize;
		recs[i].timestamp = -1;
	}
	if (producer) {
		/* One producer batch, built once on a scratch partition,
		 * then appended over and over as a Kafka client would send. */
		struct ls_partition *tmp = new_partition(s, "bench-scratch", NULL, 0);
		struct ls_read_result r;

		rc = ls_append(tmp, recs, batch, LS_CODEC_NONE, NULL);
		if (rc != LS_OK || (rc = ls_read(tmp, 0, 1 << 30, &r)) != LS_OK)
			die("scratch", rc);
		plen = r.len;
		pbatch = malloc(plen);
		if (pbatch == NULL || ls_read_copy(&r, pbatch) != LS_OK)
			exit(1);
		ls_read_release(&r);
		ls_topic_delete(s, "bench-scratch");
	}
	t0 = now_s();
	while (done < total) {
		if (producer)
			rc = ls_append_batch(p, pbatch, plen, NULL);
		else
			rc = ls_append(p, recs, batch, LS_CODEC_NONE, NULL);
		if (rc != LS_OK)
			die("append", rc);
		done += (long long)batch;
		/* The broker's flush timer, checked as often as a loop turn. */
		if ((done / (long long)batch) % 64 == 0 &&
		    (rc = ls_flush_step(s, ls_now_ms(s))) != LS_OK)
			die("flush", rc);
	}
	t1 = now_s();
	report(label, done, vsize, t1 - t0);
	free(recs);
	free(value);
	free(pbatch);
}

static void bench_read(struct ls_store *s, const char *topic, size_t vsize)
{
	struct ls_partition *p = ls_partition_get(ls_topic_find(s, topic), 0);
	struct ls_decoder *dec = ls_decoder_new(0);
	size_t cap = 1 << 20;
	unsigned char *buf = malloc(cap);
	long long n = 0, ranges = 0;
	uint64_t off, bytes = 0;
	double t0, t1;
	int rc;

	if (dec == NULL || buf == NULL)
		exit(1);
	/* File ranges only: what a Kafka Fetch with sendfile needs. */
	t0 = now_s();
	for (off = ls_log_start(p); off < ls_log_end(p);) {
		struct ls_read_result r;

		rc = ls_read(p, off, 1 << 20, &r);
		if (rc != LS_OK)
			die("read", rc);
		bytes += r.len;
		ranges++;
		off = r.next_offset;
		ls_read_release(&r);
	}
	t1 = now_s();
	printf("%-44s %10lld ranges  %8.3f s %12.0f ranges/s  %9.1f MB/s of batches\n",
	       "read: locate 1 MiB file ranges", ranges, t1 - t0,
	       (double)ranges / (t1 - t0), (double)bytes / (t1 - t0) / 1e6);
	/* Copy and decode every record: what an AMQP stream consumer needs. */
	t0 = now_s();
	for (off = ls_log_start(p); off < ls_log_end(p);) {
		struct ls_read_result r;
		struct ls_record rec;

		rc = ls_read(p, off, 1 << 20, &r);
		if (rc != LS_OK)
			die("read", rc);
		if (r.len > cap) {
			cap = r.len;
			buf = realloc(buf, cap);
			if (buf == NULL)
				exit(1);
		}
		if (ls_read_copy(&r, buf) != LS_OK)
			die("copy", LS_ERR_IO);
		ls_decoder_set(dec, buf, r.len, off);
		while ((rc = ls_decoder_next(dec, &rec, NULL)) == 1)
			n++;
		if (rc < 0)
			die("decode", rc);
		off = r.next_offset;
		ls_read_release(&r);
	}
	t1 = now_s();
	report("read: pread + decode every record", n, vsize, t1 - t0);
	ls_decoder_free(dec);
	free(buf);
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/ls-bench-XXXXXX", err[256], cmd[300];
	const char *dir = NULL;
	long long total = 2000000;
	size_t vsize = 100;
	int keep = 0, opt;
	struct ls_store *s;
	static const struct ls_kv fsync_each[] = { { "flush.messages", "1" } };

	while ((opt = getopt(argc, argv, "n:s:d:k")) != -1) {
		switch (opt) {
		case 'n': total = atoll(optarg); break;
		case 's': vsize = (size_t)atol(optarg); break;
		case 'd': dir = optarg; break;
		case 'k': keep = 1; break;
		default:
			fprintf(stderr, "usage: ls-bench [-n records] [-s value size] [-d dir] [-k]\n");
			return 2;
		}
	}
	if (dir == NULL) {
		dir = mkdtemp(tmpl);
		if (dir == NULL) {
			perror("mkdtemp");
			return 1;
		}
	}
	s = ls_open(dir, NULL, err, sizeof err);
	if (s == NULL) {
		fprintf(stderr, "ls-bench: %s\n", err);
		return 1;
	}
	printf("logstore bench: %zu-byte values, data in %s, default flush policy "
	       "(fsync every flush.ms=1000 unless noted)\n", vsize, dir);
	bench_append(s, "b1", 1, total / 10, vsize, 0, NULL, 0,
		     "append ls_append, batches of 1");
	bench_append(s, "b100", 100, total, vsize, 0, NULL, 0,
		     "append ls_append, batches of 100");
	bench_append(s, "b1000", 1000, total, vsize, 0, NULL, 0,
		     "append ls_append, batches of 1000");
	bench_append(s, "p1", 1, total / 10, vsize, 1, NULL, 0,
		     "append ls_append_batch (producer), of 1");
	bench_append(s, "p1000", 1000, total, vsize, 1, NULL, 0,
		     "append ls_append_batch (producer), of 1000");
	bench_append(s, "f1000", 1000, total / 20, vsize, 0, fsync_each, 1,
		     "append batches of 1000, flush.messages=1");
	bench_read(s, "b1000", vsize);
	bench_read(s, "b1", vsize);
	if (ls_close(s) != LS_OK)
		fprintf(stderr, "ls-bench: close failed\n");
	if (!keep) {
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "ls-bench: could not remove %s\n", dir);
	}
	return 0;
}
