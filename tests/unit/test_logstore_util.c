/*
 * tests/unit/test_logstore_util.c: helpers for the logstore suites (see
 * test_logstore.h).
 *
 * Must not depend on src/ or libevent: it sees only logstore/.
 */
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_logstore.h"

int64_t tl_clock = 1000000;

static int64_t fake_clock(void *ctx)
{
	(void)ctx;
	return tl_clock;
}

char *tl_mkdtemp(void)
{
	static char bufs[4][64];
	static int next;
	char *b = bufs[next++ % 4];

	strcpy(b, "/tmp/test-logstore-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(b));
	return b;
}

void tl_rmdir(const char *dir)
{
	char cmd[256];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

struct ls_store *tl_open(const char *dir)
{
	struct ls_options o;
	struct ls_store *s;
	char err[256] = "";

	ls_options_init(&o);
	o.clock_ms = fake_clock;
	s = ls_open(dir, &o, err, sizeof err);
	ck_assert_msg(s != NULL, "ls_open: %s", err);
	return s;
}

struct ls_partition *tl_topic(struct ls_store *s, const char *name, int32_t nparts,
			      const struct ls_kv *cfg, size_t ncfg)
{
	char err[256] = "";
	int rc = ls_topic_create(s, name, nparts, cfg, ncfg, err, sizeof err);

	ck_assert_msg(rc == LS_OK, "create %s: %s (%s)", name, ls_strerror(rc), err);
	return tl_part(s, name, 0);
}

struct ls_partition *tl_part(struct ls_store *s, const char *name, int32_t i)
{
	struct ls_topic *t = ls_topic_find(s, name);

	ck_assert_ptr_nonnull(t);
	ck_assert_ptr_nonnull(ls_partition_get(t, i));
	return ls_partition_get(t, i);
}

uint64_t tl_append(struct ls_partition *p, size_t n, unsigned nkeys)
{
	struct ls_record *recs = calloc(n, sizeof *recs);
	char (*vals)[32] = calloc(n, 32), (*keys)[32] = calloc(n, 32);
	uint64_t base = ls_log_end(p);
	struct ls_append_result res;
	int rc;

	ck_assert_ptr_nonnull(recs);
	for (size_t i = 0; i < n; i++) {
		snprintf(vals[i], 32, "v%" PRIu64, base + i);
		recs[i].value = vals[i];
		recs[i].value_len = strlen(vals[i]);
		recs[i].timestamp = -1;
		if (nkeys > 0) {
			snprintf(keys[i], 32, "k%" PRIu64, (base + i) % nkeys);
			recs[i].key = keys[i];
			recs[i].key_len = strlen(keys[i]);
		}
	}
	rc = ls_append(p, recs, n, LS_CODEC_TOPIC, &res);
	ck_assert_msg(rc == LS_OK, "append: %s", ls_strerror(rc));
	ck_assert_uint_eq(res.base_offset, base);
	ck_assert_uint_eq(res.last_offset, base + n - 1);
	free(recs);
	free(vals);
	free(keys);
	return base;
}

size_t tl_read_all(struct ls_partition *p, uint64_t from, int check_values,
		   uint64_t *offsets, size_t max)
{
	struct ls_decoder *d = ls_decoder_new(0);
	uint64_t off = from;
	size_t n = 0;

	while (off < ls_log_end(p)) {
		struct ls_read_result r;
		struct ls_record rec;
		unsigned char *buf;
		int rc = ls_read(p, off, 4096, &r);

		ck_assert_msg(rc == LS_OK, "read %" PRIu64 ": %s", off, ls_strerror(rc));
		if (r.len == 0) {
			ck_assert_uint_eq(r.next_offset, ls_log_end(p));
			ls_read_release(&r);
			break;
		}
		buf = malloc(r.len);
		ck_assert_int_eq(ls_read_copy(&r, buf), LS_OK);
		ls_decoder_set(d, buf, r.len, off);
		while ((rc = ls_decoder_next(d, &rec, NULL)) == 1) {
			char want[32];

			snprintf(want, sizeof want, "v%" PRIu64, rec.offset);
			HOT_ASSERT(rec.offset >= off, "offset went back");
			HOT_ASSERT(!check_values || (rec.value != NULL &&
						     rec.value_len == strlen(want) &&
						     memcmp(rec.value, want, rec.value_len) == 0),
				   "value at %" PRIu64, rec.offset);
			if (offsets != NULL && n < max)
				offsets[n] = rec.offset;
			n++;
		}
		ck_assert_msg(rc == 0, "decode: %s", ls_strerror(rc));
		ck_assert_uint_gt(r.next_offset, off);
		off = r.next_offset;
		free(buf);
		ls_read_release(&r);
	}
	ls_decoder_free(d);
	return n;
}

const char *tl_path(char *buf, size_t len, const char *dir, const char *rel)
{
	snprintf(buf, len, "%s/%s", dir, rel);
	return buf;
}

int tl_remove_snapshots(const char *dir, const char *part)
{
	char path[512];
	int n = 0;
	DIR *d = opendir(tl_path(path, sizeof path, dir, part));
	struct dirent *de;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".snapshot")) {
			char f[1024];
			snprintf(f, sizeof f, "%s/%s", path, de->d_name);
			ck_assert_int_eq(unlink(f), 0);
			n++;
		}
	closedir(d);
	return n;
}

long long tl_file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}
