/*
 * The core wrappers replication uses (core/topics.h, core/topic_ops.h):
 * reads bounded by the high watermark, waking parked waiters when a high
 * watermark moves, replica appends, truncation, leader epochs and the
 * high watermark, transaction markers (waking as appends do) and the
 * transaction queries, over a real log store in a temp dir.
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/topic_ops.h"
#include "core/topics.h"
#include "logstore/crc32c.h"
#include "logstore/logstore.h"

static struct tdm_config cfg;
static struct tdm_topics *topics;
static char dir[256];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static void setup(void)
{
	char err[256];

	snprintf(dir, sizeof(dir), "%s/tandem-trepl-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(tdm_config_init(&cfg), 0);
	ck_assert_int_eq(tdm_config_set(&cfg, "data_dir", dir, err, sizeof(err)), 0);
	ck_assert_int_eq(tdm_config_set(&cfg, "log_level", "warning", err, sizeof(err)), 0);
	topics = tdm_topics_open(&cfg, NULL, err, sizeof(err)); /* fsyncs inline */
	ck_assert_msg(topics != NULL, "%s", err);
}

static void teardown(void)
{
	tdm_topics_close(topics);
	tdm_config_free(&cfg);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct ls_partition *make_topic(const char *name)
{
	char err[256];
	struct ls_topic *topic;

	ck_assert_int_eq(tdm_topics_create(topics, name, 1, NULL, 0, err, sizeof(err)), TDM_TOPIC_OK);
	topic = tdm_topic_find(topics, name);
	ck_assert_ptr_nonnull(topic);
	return tdm_topic_partition(topic, 0);
}

/* Appends one batch of n records; returns its base offset. */
static uint64_t append(struct ls_partition *p, size_t n)
{
	struct tdm_record recs[16];
	struct tdm_append_result res;

	ck_assert_uint_le(n, 16);
	memset(recs, 0, sizeof(recs));
	for (size_t i = 0; i < n; i++) {
		recs[i].value = "v";
		recs[i].value_len = 1;
		recs[i].timestamp = -1;
	}
	ck_assert_int_eq(tdm_topics_append(topics, p, recs, n, 0, &res), TDM_TOPIC_OK);
	return res.base_offset;
}

static int woke;

static void on_wake(void *ctx)
{
	(void)ctx;
	woke++;
}

START_TEST(test_topics_read_bounded)
{
	struct ls_partition *p = make_topic("rb");
	struct tdm_read_result r;

	append(p, 3); /* 0..2 */
	append(p, 2); /* 3..4 */
	append(p, 4); /* 5..8 */
	/* the bound 5 serves the first two batches only */
	ck_assert_int_eq(tdm_topics_read_bounded(topics, p, 0, 1 << 20, 5, &r), TDM_TOPIC_OK);
	ck_assert_uint_eq(r.first_offset, 0);
	ck_assert_uint_eq(r.next_offset, 5);
	ck_assert_uint_eq(r.high_watermark, 5);
	ck_assert_uint_gt(r.len, 0);
	tdm_topics_read_release(topics, &r);
	/* a bound inside a batch: that batch waits */
	ck_assert_int_eq(tdm_topics_read_bounded(topics, p, 3, 1 << 20, 4, &r), TDM_TOPIC_OK);
	ck_assert_uint_eq(r.len, 0);
	ck_assert_uint_eq(r.next_offset, 3);
	tdm_topics_read_release(topics, &r);
	/* at the bound: nothing, as at the log end */
	ck_assert_int_eq(tdm_topics_read_bounded(topics, p, 5, 1 << 20, 5, &r), TDM_TOPIC_OK);
	ck_assert_uint_eq(r.len, 0);
	ck_assert_uint_eq(r.next_offset, 5);
	tdm_topics_read_release(topics, &r);
	/* the unbounded read sees everything */
	ck_assert_int_eq(tdm_topics_read(topics, p, 5, 1 << 20, &r), TDM_TOPIC_OK);
	ck_assert_uint_eq(r.next_offset, 9);
	ck_assert_uint_eq(r.high_watermark, 9);
	tdm_topics_read_release(topics, &r);
}
END_TEST

START_TEST(test_topics_notify_wakes_waiters)
{
	struct ls_partition *p = make_topic("nw"), *q = make_topic("nw2");
	struct ls_partition *watch_p[1] = { p }, *watch_q[1] = { q };
	struct tdm_topics_waiter wp = { on_wake, NULL, watch_p, 1, NULL, NULL, 0 };
	struct tdm_topics_waiter wq = { on_wake, NULL, watch_q, 1, NULL, NULL, 0 };
	struct tdm_topics_waiter wf = { on_wake, NULL, NULL, 0, NULL, NULL, 0 };

	woke = 0;
	tdm_topics_wait_data(topics, &wp);
	tdm_topics_wait_data(topics, &wq);
	tdm_topics_wait_flush(topics, &wf);
	tdm_topics_notify(topics, p);
	/* p's data waiter and the flush waiter, not q's */
	ck_assert_int_eq(woke, 2);
	ck_assert_int_eq(wp.linked, 0);
	ck_assert_int_eq(wf.linked, 0);
	ck_assert_int_ne(wq.linked, 0);
	tdm_topics_unwait(topics, &wq);
}
END_TEST

START_TEST(test_topics_high_watermark_kept)
{
	struct ls_partition *p = make_topic("hw");
	char err[256];

	append(p, 5);
	ck_assert_uint_eq(tdm_partition_high_watermark(p), 0);
	tdm_partition_set_high_watermark(p, 3);
	ck_assert_uint_eq(tdm_partition_high_watermark(p), 3);
	tdm_partition_set_high_watermark(p, 50);
	ck_assert_uint_eq(tdm_partition_high_watermark(p), 5);
	tdm_partition_set_high_watermark(p, 4);
	tdm_topics_close(topics);
	topics = tdm_topics_open(&cfg, NULL, err, sizeof(err));
	ck_assert_msg(topics != NULL, "%s", err);
	p = tdm_topic_partition(tdm_topic_find(topics, "hw"), 0);
	ck_assert_uint_eq(tdm_partition_high_watermark(p), 4);
}
END_TEST

START_TEST(test_topics_leader_epochs)
{
	struct ls_partition *p = make_topic("ep");
	int32_t e;
	int64_t end;

	ck_assert_int_eq(tdm_partition_latest_epoch(p), -1);
	ck_assert_int_eq(tdm_partition_assign_epoch(p, 2, 0), TDM_TOPIC_OK);
	append(p, 4);
	ck_assert_int_eq(tdm_partition_assign_epoch(p, 5, 4), TDM_TOPIC_OK);
	append(p, 2);
	ck_assert_int_eq(tdm_partition_assign_epoch(p, 1, 6), TDM_ERR_INVALID);
	ck_assert_int_eq(tdm_partition_latest_epoch(p), 5);
	tdm_partition_epoch_end(p, 5, &e, &end);
	ck_assert_int_eq(e, 5);
	ck_assert_int_eq(end, 6);
	tdm_partition_epoch_end(p, 3, &e, &end);
	ck_assert_int_eq(e, 2);
	ck_assert_int_eq(end, 4);
	tdm_partition_epoch_end(p, 9, &e, &end);
	ck_assert_int_eq(e, -1);
	ck_assert_int_eq(end, -1);
}
END_TEST

START_TEST(test_topics_append_replica_wakes)
{
	struct ls_partition *l = make_topic("lead"), *f = make_topic("fol");
	struct ls_partition *watch[1] = { f };
	struct tdm_topics_waiter w = { on_wake, NULL, watch, 1, NULL, NULL, 0 };
	struct tdm_append_result res;
	struct tdm_read_result r;
	unsigned char buf[4096];
	size_t consumed = 0;

	append(l, 3);
	append(l, 2);
	ck_assert_int_eq(tdm_topics_read(topics, l, 0, sizeof(buf), &r), TDM_TOPIC_OK);
	ck_assert_uint_le(r.len, sizeof(buf));
	ck_assert_int_eq(tdm_topics_read_copy(&r, buf), TDM_TOPIC_OK);
	woke = 0;
	tdm_topics_wait_data(topics, &w);
	/* a partial batch alone wakes nobody */
	ck_assert_int_eq(tdm_topics_append_replica(topics, f, buf, 20, &consumed, &res), TDM_TOPIC_OK);
	ck_assert_uint_eq(consumed, 0);
	ck_assert_int_eq(woke, 0);
	ck_assert_int_eq(tdm_topics_append_replica(topics, f, buf, r.len, &consumed, &res),
			 TDM_TOPIC_OK);
	ck_assert_uint_eq(consumed, r.len);
	ck_assert_uint_eq(res.base_offset, 0);
	ck_assert_uint_eq(res.last_offset, 4);
	ck_assert_int_eq(woke, 1);
	ck_assert_uint_eq(tdm_partition_log_end(f), 5);
	tdm_topics_read_release(topics, &r);
}
END_TEST

START_TEST(test_topics_truncate_wakes)
{
	struct ls_partition *p = make_topic("tr");
	struct ls_partition *watch[1] = { p };
	struct tdm_topics_waiter w = { on_wake, NULL, watch, 1, NULL, NULL, 0 };
	struct tdm_topics_waiter wf = { on_wake, NULL, NULL, 0, NULL, NULL, 0 };

	append(p, 3);
	append(p, 3);
	append(p, 3);
	tdm_partition_assign_epoch(p, 4, 6);
	tdm_partition_set_high_watermark(p, 9);
	woke = 0;
	tdm_topics_wait_data(topics, &w);
	tdm_topics_wait_flush(topics, &wf);
	ck_assert_int_eq(tdm_topics_truncate(topics, p, 4), TDM_TOPIC_OK);
	ck_assert_int_eq(woke, 2);
	ck_assert_uint_eq(tdm_partition_log_end(p), 3);
	ck_assert_uint_eq(tdm_partition_high_watermark(p), 3);
	ck_assert_int_eq(tdm_partition_latest_epoch(p), -1);
	ck_assert_uint_eq(append(p, 2), 3);
}
END_TEST

static int hooked;

static void on_append(void *ctx, struct ls_partition *p)
{
	(void)p;
	(void)ctx;
	hooked++;
}

/* Appends a transactional batch of producer pid (epoch 0, sequence seq, n
 * records); returns its base offset. */
static uint64_t append_txn(struct ls_partition *p, int64_t pid, int32_t seq, size_t n)
{
	struct ls_record recs[4];
	struct tdm_append_result res;
	unsigned char *b;
	void *raw;
	size_t len;

	ck_assert_uint_le(n, 4);
	memset(recs, 0, sizeof(recs));
	for (size_t i = 0; i < n; i++) {
		recs[i].value = "t";
		recs[i].value_len = 1;
		recs[i].timestamp = -1;
	}
	ck_assert_int_eq(ls_batch_build(recs, n, LS_CODEC_NONE, 1, &raw, &len), LS_OK);
	b = raw;
	b[22] = 0x10; /* transactional */
	for (int i = 0; i < 8; i++)
		b[43 + i] = (unsigned char)((uint64_t)pid >> (56 - 8 * i));
	b[51] = b[52] = 0; /* epoch 0 */
	for (int i = 0; i < 4; i++)
		b[53 + i] = (unsigned char)((uint32_t)seq >> (24 - 8 * i));
	uint32_t crc = ls_crc32c(0, b + 21, len - 21);
	for (int i = 0; i < 4; i++)
		b[17 + i] = (unsigned char)(crc >> (24 - 8 * i));
	ck_assert_int_eq(tdm_topics_append_batch(topics, p, b, len, &res), TDM_TOPIC_OK);
	free(b);
	return res.base_offset;
}

START_TEST(test_topics_txn_markers)
{
	struct ls_partition *p = make_topic("txn");
	struct ls_partition *watch[1] = { p };
	struct tdm_topics_waiter w = { on_wake, NULL, watch, 1, NULL, NULL, 0 };
	struct tdm_aborted_txn a[4];
	uint64_t off = 0;
	size_t n = 0;

	tdm_topics_set_append_hook(topics, on_append, NULL);
	ck_assert_uint_eq(append_txn(p, 3, 0, 2), 0);
	ck_assert_uint_eq(append_txn(p, 4, 0, 1), 2);
	ck_assert_int_eq(tdm_partition_first_unstable(p, &off), TDM_TOPIC_OK);
	ck_assert_uint_eq(off, 0);
	woke = hooked = 0;
	tdm_topics_wait_data(topics, &w);
	ck_assert_int_eq(tdm_partition_append_marker(topics, p, 3, 0, 0, 1, &off), TDM_TOPIC_OK);
	ck_assert_uint_eq(off, 3);
	ck_assert_int_eq(woke, 1); /* as an append */
	ck_assert_int_eq(hooked, 1);
	ck_assert_int_eq(tdm_partition_first_unstable(p, &off), TDM_TOPIC_OK);
	ck_assert_uint_eq(off, 2);
	ck_assert_int_eq(tdm_partition_append_marker(topics, p, 4, 0, 1, 1, &off), TDM_TOPIC_OK);
	ck_assert_uint_eq(off, 4);
	ck_assert_int_eq(hooked, 2);
	ck_assert_int_eq(tdm_partition_first_unstable(p, &off), TDM_TOPIC_OK);
	ck_assert_uint_eq(off, 5);
	ck_assert_int_eq(tdm_partition_aborted_txns(p, 0, 5, a, 4, &n), TDM_TOPIC_OK);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(a[0].producer_id, 3);
	ck_assert_uint_eq(a[0].first_offset, 0);
	ck_assert_uint_eq(a[0].last_offset, 3);
	/* an older epoch: fenced, nothing written, nobody woken */
	ck_assert_int_eq(tdm_partition_append_marker(topics, p, 4, 2, 0, 1, NULL), TDM_TOPIC_OK);
	ck_assert_int_eq(tdm_partition_append_marker(topics, p, 4, 1, 0, 1, NULL),
			 TDM_ERR_PRODUCER_FENCED);
	ck_assert_int_eq(hooked, 3);
	ck_assert_uint_eq(tdm_partition_log_end(p), 6);
	tdm_topics_set_append_hook(topics, NULL, NULL);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("topics-repl");
	TCase *tc = tcase_create("core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_topics_read_bounded);
	tcase_add_test(tc, test_topics_notify_wakes_waiters);
	tcase_add_test(tc, test_topics_high_watermark_kept);
	tcase_add_test(tc, test_topics_leader_epochs);
	tcase_add_test(tc, test_topics_append_replica_wakes);
	tcase_add_test(tc, test_topics_truncate_wakes);
	tcase_add_test(tc, test_topics_txn_markers);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
