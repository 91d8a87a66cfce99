/*
 * The replica manager (core/replica.h) over a real log store in a temp
 * dir, with hooks that record what it asks of the cluster: leadership
 * and followers, the high watermark as the minimum over the ISR, ISR
 * expansion and shrink (Kafka's replica.lag.time.max.ms rule), acks=all
 * answers with min.insync.replicas, fencing by leader epoch, a
 * transaction marker sent to the partition's leader through the
 * write_marker hook, reads served by followers and the leader's choice of
 * a replica in a consumer's rack (KIP-392), and the single-node answers
 * for a NULL manager.
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/replica.h"
#include "core/topic_ops.h"
#include "core/topics.h"

static struct tdm_config cfg;
static struct tdm_topics *topics;
static char dir[256];

/* what the hooks were asked */
static struct {
	int isr_calls;
	int32_t isr[8];
	size_t nisr;
	int32_t isr_version;
	int follow_calls;
	int32_t follow_leader;
	int32_t follow_epoch;
} seen;

static void isr_change(void *ctx, const char *topic, int32_t partition,
		       const struct tdm_partition_state *want)
{
	(void)ctx, (void)topic, (void)partition;
	seen.isr_calls++;
	seen.nisr = want->nisr;
	memcpy(seen.isr, want->isr, want->nisr * sizeof(int32_t));
	seen.isr_version = want->version;
}

static void follow(void *ctx, const char *topic, int32_t partition, int32_t leader, int32_t epoch)
{
	(void)ctx, (void)topic, (void)partition;
	seen.follow_calls++;
	seen.follow_leader = leader;
	seen.follow_epoch = epoch;
}

static const struct tdm_replica_hooks hooks = { .isr_change = isr_change, .follow = follow };

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static void setup(void)
{
	char err[256];

	snprintf(dir, sizeof(dir), "%s/tandem-replica-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(tdm_config_init(&cfg), 0);
	ck_assert_int_eq(tdm_config_set(&cfg, "data_dir", dir, err, sizeof(err)), 0);
	ck_assert_int_eq(tdm_config_set(&cfg, "log_level", "warning", err, sizeof(err)), 0);
	topics = tdm_topics_open(&cfg, NULL, err, sizeof(err));
	ck_assert_msg(topics != NULL, "%s", err);
	ck_assert_int_eq(tdm_topics_create(topics, "t", 1, NULL, 0, err, sizeof(err)), 0);
	memset(&seen, 0, sizeof(seen));
}

static void teardown(void)
{
	tdm_topics_close(topics);
	tdm_config_free(&cfg);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct ls_partition *part0(void)
{
	struct ls_topic *t = tdm_topic_find(topics, "t");
	ck_assert_ptr_nonnull(t);
	return tdm_topic_partition(t, 0);
}

/* Appends n one-record batches; returns the log end. */
static uint64_t append(int n)
{
	struct tdm_record rec = { .value = "v", .value_len = 1, .timestamp = -1 };
	struct tdm_append_result res;
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(tdm_topics_append(topics, part0(), &rec, 1, TDM_CODEC_NONE, &res), 0);
	return tdm_partition_log_end(part0());
}

static void set_state(struct tdm_replica *r, int32_t leader, int32_t epoch, int32_t version,
		      const int32_t *isr, size_t nisr)
{
	static const int32_t replicas[] = { 1, 2, 3 };
	struct tdm_partition_state st = { leader, epoch, 1, version, replicas, 3, isr, nisr };
	ck_assert_int_eq(tdm_replica_set_state(r, "t", 0, &st), 0);
}

START_TEST(test_replica_single_node_answers)
{
	append(3);
	ck_assert_int_eq(tdm_replica_check_leader(NULL, "t", 0), TDM_REPL_OK);
	ck_assert_uint_eq(tdm_replica_high_watermark(NULL, "t", 0, part0()), 3);
	ck_assert_int_eq(tdm_replica_acked(NULL, "t", 0, part0(), 3), TDM_REPL_OK);
	ck_assert_int_eq(tdm_replica_check_insync(NULL, "t", 0, part0()), TDM_REPL_OK);
	ck_assert_int_eq(tdm_replica_node_id(NULL), 1);
}
END_TEST

START_TEST(test_replica_hw_is_min_over_isr)
{
	static const int32_t isr[] = { 1, 2, 3 };
	struct tdm_replica *r = tdm_replica_new(topics, 1, &hooks, NULL, 30000, 2);
	set_state(r, 1, 0, 0, isr, 3);
	ck_assert_int_eq(tdm_replica_check_leader(r, "t", 0), TDM_REPL_OK);
	ck_assert_int_eq(seen.follow_leader, TDM_NO_NODE); /* a leader fetches from no one */
	ck_assert_int_eq(tdm_partition_latest_epoch(part0()), 0);
	append(5);
	/* nobody heard from yet: the high watermark stays */
	ck_assert_uint_eq(tdm_replica_high_watermark(r, "t", 0, part0()), 0);
	ck_assert_int_eq(tdm_replica_acked(r, "t", 0, part0(), 5), 1);
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 2, "t", 0, 5, 0, 1000), TDM_REPL_OK);
	ck_assert_uint_eq(tdm_replica_high_watermark(r, "t", 0, part0()), 0);
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 3, "t", 0, 2, 0, 1000), TDM_REPL_OK);
	ck_assert_uint_eq(tdm_replica_high_watermark(r, "t", 0, part0()), 2);
	ck_assert_int_eq(tdm_replica_acked(r, "t", 0, part0(), 5), 1);
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 3, "t", 0, 5, 0, 1100), TDM_REPL_OK);
	ck_assert_uint_eq(tdm_replica_high_watermark(r, "t", 0, part0()), 5);
	ck_assert_int_eq(tdm_replica_acked(r, "t", 0, part0(), 5), TDM_REPL_OK);
	/* never back: a follower fetching an older offset (a retry) moves nothing */
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 3, "t", 0, 4, 0, 1200), TDM_REPL_OK);
	ck_assert_uint_eq(tdm_replica_high_watermark(r, "t", 0, part0()), 5);
	/* the persisted high watermark follows */
	ck_assert_uint_eq(tdm_partition_high_watermark(part0()), 5);
	tdm_replica_free(r);
}
END_TEST

/* A leader alone in its ISR (replication factor 1, or every follower
 * shrunk out): each append is committed at once, as Kafka's
 * maybeIncrementLeaderHW after appendRecordsToLeader; before, nothing
 * moved the high watermark and acks=all and consumers waited for ever. */
START_TEST(test_replica_leader_alone_commits_each_append)
{
	static const int32_t alone[] = { 1 }, isr[] = { 1, 2 };
	struct tdm_replica *r = tdm_replica_new(topics, 1, &hooks, NULL, 30000, 1);
	set_state(r, 1, 0, 0, alone, 1);
	append(4);
	ck_assert_uint_eq(tdm_replica_high_watermark(r, "t", 0, part0()), 4);
	ck_assert_int_eq(tdm_replica_acked(r, "t", 0, part0(), 4), TDM_REPL_OK);
	ck_assert_uint_eq(tdm_partition_high_watermark(part0()), 4);
	/* with a follower in the ISR an append alone moves nothing */
	set_state(r, 1, 0, 1, isr, 2);
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 2, "t", 0, 4, 0, 1000), TDM_REPL_OK);
	append(2);
	ck_assert_uint_eq(tdm_replica_high_watermark(r, "t", 0, part0()), 4);
	ck_assert_int_eq(tdm_replica_acked(r, "t", 0, part0(), 6), 1);
	tdm_replica_free(r);
	/* freed: its hook is gone from the topics (no use after free) */
	append(1);
}
END_TEST

START_TEST(test_replica_fencing_and_roles)
{
	static const int32_t isr[] = { 1, 2, 3 };
	struct tdm_replica *r = tdm_replica_new(topics, 1, &hooks, NULL, 30000, 1);
	set_state(r, 1, 4, 0, isr, 3);
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 2, "t", 0, 0, 3, 1), TDM_REPL_FENCED_EPOCH);
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 2, "t", 0, 0, 5, 1), TDM_REPL_UNKNOWN_EPOCH);
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 9, "t", 0, 0, 4, 1), TDM_REPL_UNKNOWN);
	/* an older state is ignored */
	set_state(r, 2, 3, 7, isr, 3);
	ck_assert_int_eq(tdm_replica_check_leader(r, "t", 0), TDM_REPL_OK);
	/* a newer one makes this node a follower of 2 */
	set_state(r, 2, 5, 1, isr, 3);
	ck_assert_int_eq(tdm_replica_check_leader(r, "t", 0), TDM_REPL_NOT_LEADER);
	ck_assert_int_eq(seen.follow_leader, 2);
	ck_assert_int_eq(seen.follow_epoch, 5);
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 2, "t", 0, 0, 5, 1), TDM_REPL_NOT_LEADER);
	ck_assert_int_eq(tdm_replica_acked(r, "t", 0, part0(), 1), TDM_REPL_NOT_LEADER);
	/* offline */
	set_state(r, TDM_NO_NODE, 6, 0, isr, 1);
	ck_assert_int_eq(tdm_replica_check_leader(r, "t", 0), TDM_REPL_NO_LEADER);
	ck_assert_int_eq(tdm_replica_check_leader(r, "t", 1), TDM_REPL_UNKNOWN);
	/* follower high watermark: the leader's, capped at our log end */
	append(3);
	tdm_replica_follower_hw(r, "t", 0, part0(), 10);
	ck_assert_uint_eq(tdm_replica_high_watermark(r, "t", 0, part0()), 3);
	tdm_replica_free(r);
}
END_TEST

/* KIP-392: who serves a consumer's read (tdm_replica_check_read), and the
 * replica the leader sends a consumer in a rack to (Kafka's
 * RackAwareReplicaSelector: tdm_replica_preferred_read). */
START_TEST(test_replica_reads_from_followers_and_rack_selection)
{
	static const int32_t isr[] = { 1, 2, 3 }, isr13[] = { 1, 3 };
	struct tdm_replica_node nodes[] = { { 1, "h", 1, 0, 0, 0, "r1" },
					    { 2, "h", 2, 0, 0, 0, "r2" },
					    { 3, "h", 3, 0, 0, 0, "r2" },
					    { 4, "h", 4, 0, 0, 0, "r4" } };
	ck_assert_int_eq(tdm_replica_check_read(NULL, "t", 0), TDM_REPL_OK);
	ck_assert_int_eq(tdm_replica_preferred_read(NULL, "t", 0, "r2", 0), TDM_NO_NODE);
	struct tdm_replica *r = tdm_replica_new(topics, 1, &hooks, NULL, 30000, 1);
	ck_assert_int_eq(tdm_replica_set_nodes(r, nodes, 4), 0);
	const struct tdm_replica_node *got;
	ck_assert_uint_eq(tdm_replica_nodes(r, &got), 4);
	ck_assert_str_eq(got[1].rack, "r2"); /* copied */
	ck_assert_int_eq(tdm_replica_check_read(r, "t", 0), TDM_REPL_UNKNOWN);
	set_state(r, 1, 0, 0, isr, 3);
	ck_assert_int_eq(tdm_replica_check_read(r, "t", 0), TDM_REPL_OK);
	append(6);
	/* followers not heard from yet hold nothing: the leader */
	ck_assert_int_eq(tdm_replica_preferred_read(r, "t", 0, "r2", 0), TDM_NO_NODE);
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 2, "t", 0, 4, 0, 1000), TDM_REPL_OK);
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 3, "t", 0, 6, 0, 1000), TDM_REPL_OK);
	/* the follower in the rack with the longest log; none past what it holds */
	ck_assert_int_eq(tdm_replica_preferred_read(r, "t", 0, "r2", 2), 3);
	ck_assert_int_eq(tdm_replica_preferred_read(r, "t", 0, "r2", 7), TDM_NO_NODE);
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 2, "t", 0, 6, 0, 1100), TDM_REPL_OK);
	ck_assert_int_eq(tdm_replica_preferred_read(r, "t", 0, "r2", 6), 2); /* caught up last */
	/* the leader's own rack, an empty one, no rack, a rack without replicas */
	ck_assert_int_eq(tdm_replica_preferred_read(r, "t", 0, "r1", 0), TDM_NO_NODE);
	ck_assert_int_eq(tdm_replica_preferred_read(r, "t", 0, "", 0), TDM_NO_NODE);
	ck_assert_int_eq(tdm_replica_preferred_read(r, "t", 0, NULL, 0), TDM_NO_NODE);
	ck_assert_int_eq(tdm_replica_preferred_read(r, "t", 0, "r4", 0), TDM_NO_NODE);
	/* out of the ISR: not offered */
	set_state(r, 1, 0, 1, isr13, 2);
	ck_assert_int_eq(tdm_replica_preferred_read(r, "t", 0, "r2", 0), 3);
	/* a node no longer live: not offered */
	ck_assert_int_eq(tdm_replica_set_nodes(r, nodes, 2), 0);
	ck_assert_int_eq(tdm_replica_preferred_read(r, "t", 0, "r2", 0), TDM_NO_NODE);
	/* a follower serves reads, and picks no replica */
	set_state(r, 2, 1, 0, isr, 3);
	ck_assert_int_eq(tdm_replica_check_leader(r, "t", 0), TDM_REPL_NOT_LEADER);
	ck_assert_int_eq(tdm_replica_check_read(r, "t", 0), TDM_REPL_OK);
	ck_assert_int_eq(tdm_replica_preferred_read(r, "t", 0, "r2", 0), TDM_NO_NODE);
	set_state(r, TDM_NO_NODE, 2, 0, isr, 1);
	ck_assert_int_eq(tdm_replica_check_read(r, "t", 0), TDM_REPL_NO_LEADER);
	tdm_replica_free(r);
	/* a node that holds no replica of it */
	r = tdm_replica_new(topics, 4, &hooks, NULL, 30000, 1);
	set_state(r, 1, 0, 0, isr, 3);
	ck_assert_int_eq(tdm_replica_check_read(r, "t", 0), TDM_REPL_NOT_LEADER);
	tdm_replica_free(r);
}
END_TEST

START_TEST(test_replica_isr_shrinks_after_lag_time_and_expands_when_caught_up)
{
	static const int32_t isr3[] = { 1, 2, 3 };
	static const int32_t isr2[] = { 1, 2 };
	struct tdm_replica *r = tdm_replica_new(topics, 1, &hooks, NULL, 1000, 2);
	set_state(r, 1, 0, 0, isr3, 3);
	append(4);
	tdm_replica_tick(r, 10000); /* starts the clock for members never heard from */
	ck_assert_int_eq(seen.isr_calls, 0);
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 2, "t", 0, 4, 0, 10500), TDM_REPL_OK);
	tdm_replica_tick(r, 10900);
	ck_assert_int_eq(seen.isr_calls, 0); /* within replica_lag_time_max_ms */
	tdm_replica_tick(r, 11200);
	ck_assert_int_eq(seen.isr_calls, 1); /* 3 never fetched for 1.2 s */
	ck_assert_int_eq((int)seen.nisr, 2);
	ck_assert_int_eq(seen.isr[0], 1);
	ck_assert_int_eq(seen.isr[1], 2);
	/* the cluster writes it and hands the state back (version + 1) */
	set_state(r, 1, 0, 1, isr2, 2);
	ck_assert_uint_eq(tdm_replica_high_watermark(r, "t", 0, part0()), 4);
	ck_assert_int_eq(tdm_replica_check_insync(r, "t", 0, part0()), TDM_REPL_OK);
	/* 3 catches up to the high watermark: back in */
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 3, "t", 0, 2, 0, 11300), TDM_REPL_OK);
	ck_assert_int_eq(seen.isr_calls, 1);
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 3, "t", 0, 4, 0, 11400), TDM_REPL_OK);
	ck_assert_int_eq(seen.isr_calls, 2);
	ck_assert_int_eq((int)seen.nisr, 3);
	ck_assert_int_eq(seen.isr_version, 1); /* compare-and-set on the version held */
	struct tdm_replica_stats rs;
	tdm_replica_get_stats(r, &rs);
	ck_assert_uint_eq(rs.leaders, 1);
	ck_assert_uint_eq(rs.under_replicated, 1); /* the state held still has 2 of 3 */
	ck_assert_uint_eq(rs.isr_shrinks, 1);
	ck_assert_uint_eq(rs.isr_expands, 1);
	ck_assert_uint_eq(rs.max_lag, 0);
	tdm_replica_free(r);
}
END_TEST

/* A follower whose first fetch after the election is behind is given
 * replica_lag_time_max_ms from then, not dropped at the next tick. */
START_TEST(test_replica_new_follower_behind_keeps_its_lag_time)
{
	static const int32_t isr3[] = { 1, 2, 3 };
	struct tdm_replica *r = tdm_replica_new(topics, 1, &hooks, NULL, 1000, 1);
	append(5);
	set_state(r, 1, 0, 0, isr3, 3);
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 2, "t", 0, 2, 0, 50000), TDM_REPL_OK);
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 3, "t", 0, 5, 0, 50000), TDM_REPL_OK);
	tdm_replica_tick(r, 50100);
	ck_assert_int_eq(seen.isr_calls, 0);
	tdm_replica_tick(r, 51200); /* 2 never caught up for 1.2 s */
	ck_assert_int_eq(seen.isr_calls, 1);
	ck_assert_int_eq((int)seen.nisr, 2);
	tdm_replica_free(r);
}
END_TEST

START_TEST(test_replica_min_insync_replicas)
{
	static const int32_t isr1[] = { 1 };
	struct tdm_replica *r = tdm_replica_new(topics, 1, &hooks, NULL, 30000, 2);
	set_state(r, 1, 0, 0, isr1, 1);
	ck_assert_int_eq(tdm_replica_check_insync(r, "t", 0, part0()), TDM_REPL_NOT_ENOUGH);
	append(2);
	/* the ISR is the leader alone: the high watermark is its log end, but
	 * below min.insync.replicas the write is not acknowledged */
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 2, "t", 0, 0, 0, 1), TDM_REPL_OK);
	ck_assert_int_eq(tdm_replica_acked(r, "t", 0, part0(), 2), TDM_REPL_NOT_ENOUGH_AFTER);
	tdm_replica_free(r);
}
END_TEST

START_TEST(test_replica_topic_min_insync_overrides_the_broker_default)
{
	static const int32_t isr2[] = { 1, 2 };
	static const int32_t replicas[] = { 1, 2, 3 };
	static const struct tdm_kv kv[] = { { "min.insync.replicas", "3" } };
	char err[128];
	ck_assert_int_eq(tdm_topics_create(topics, "strict", 1, kv, 1, err, sizeof(err)), 0);
	struct tdm_replica *r = tdm_replica_new(topics, 1, &hooks, NULL, 30000, 1);
	struct tdm_partition_state st = { 1, 0, 1, 0, replicas, 3, isr2, 2 };
	ck_assert_int_eq(tdm_replica_set_state(r, "strict", 0, &st), 0);
	struct ls_partition *p = tdm_topic_partition(tdm_topic_find(topics, "strict"), 0);
	ck_assert_int_eq(tdm_replica_check_insync(r, "strict", 0, p), TDM_REPL_NOT_ENOUGH);
	/* "t" has no override: the broker's 1 */
	ck_assert_int_eq(tdm_replica_set_state(r, "t", 0, &st), 0);
	ck_assert_int_eq(tdm_replica_check_insync(r, "t", 0, part0()), TDM_REPL_OK);
	tdm_replica_free(r);
}
END_TEST

static void done_fn(void *arg, int rc, const char *msg)
{
	(void)msg;
	*(int *)arg = rc == 0 ? 1 : rc;
}

START_TEST(test_replica_admin_without_cluster_hooks)
{
	struct tdm_replica *r = tdm_replica_new(topics, 1, &hooks, NULL, 30000, 1);
	struct tdm_replica_topic_spec spec = { "x", 1, 3, NULL, 0, NULL, 0 };
	struct tdm_replica_op *op = NULL;
	char err[128] = "";
	int called = 0;
	ck_assert_int_eq(tdm_replica_create_topic(r, &spec, done_fn, &called, &op, err, sizeof(err)),
			 TDM_REPL_NO_CLUSTER);
	ck_assert_int_eq(called, 0);
	ck_assert_ptr_null(op);
	ck_assert_str_ne(err, "");
	tdm_replica_free(r);
}
END_TEST

/* A write_marker hook that keeps what it was given and answers nothing
 * (the test plays the link's answer). */
static struct {
	int calls;
	int32_t leader;
	char topic[32];
	struct tdm_txn_marker m;
	tdm_replica_done_fn done;
	void *arg;
} marker_seen;

static int hook_marker(void *ctx, int32_t leader, const char *topic, int32_t partition,
		       const struct tdm_txn_marker *m, tdm_replica_done_fn done, void *arg)
{
	(void)ctx, (void)partition;
	marker_seen.calls++;
	marker_seen.leader = leader;
	snprintf(marker_seen.topic, sizeof(marker_seen.topic), "%s", topic);
	marker_seen.m = *m;
	marker_seen.done = done;
	marker_seen.arg = arg;
	return 0;
}

START_TEST(test_replica_write_marker_goes_to_the_leader)
{
	static const int32_t isr[] = { 1, 2, 3 };
	const struct tdm_txn_marker m = { 42, 3, 1, 7 };
	struct tdm_replica_op *op = NULL;
	int called = 0;
	struct tdm_replica *r = tdm_replica_new(topics, 1, &hooks, NULL, 30000, 1);

	/* no state, no leader, led here, no hook: at once, done never called */
	ck_assert_int_eq(tdm_replica_write_marker(NULL, "t", 0, &m, done_fn, &called, &op),
			 TDM_REPL_UNKNOWN);
	ck_assert_int_eq(tdm_replica_write_marker(r, "t", 0, &m, done_fn, &called, &op),
			 TDM_REPL_UNKNOWN);
	set_state(r, TDM_NO_NODE, 1, 0, isr, 0);
	ck_assert_int_eq(tdm_replica_write_marker(r, "t", 0, &m, done_fn, &called, &op),
			 TDM_REPL_NO_LEADER);
	set_state(r, 1, 2, 0, isr, 3);
	ck_assert_int_eq(tdm_replica_write_marker(r, "t", 0, &m, done_fn, &called, &op),
			 TDM_REPL_NOT_LEADER);
	set_state(r, 2, 3, 0, isr, 3);
	ck_assert_int_eq(tdm_replica_write_marker(r, "t", 0, &m, done_fn, &called, &op),
			 TDM_REPL_NO_CLUSTER);
	ck_assert_int_eq(called, 0);
	ck_assert_ptr_null(op);
	tdm_replica_free(r);

	/* with the hook: sent to node 2, answered once through op */
	struct tdm_replica_hooks h = hooks;
	h.write_marker = hook_marker;
	memset(&marker_seen, 0, sizeof(marker_seen));
	r = tdm_replica_new(topics, 1, &h, NULL, 30000, 1);
	set_state(r, 2, 3, 0, isr, 3);
	ck_assert_int_eq(tdm_replica_write_marker(r, "t", 0, &m, done_fn, &called, &op), 0);
	ck_assert_int_eq(called, 0);
	ck_assert_ptr_nonnull(op);
	ck_assert_int_eq(marker_seen.calls, 1);
	ck_assert_int_eq(marker_seen.leader, 2);
	ck_assert_str_eq(marker_seen.topic, "t");
	ck_assert(marker_seen.m.producer_id == 42 && marker_seen.m.producer_epoch == 3 &&
		  marker_seen.m.commit == 1 && marker_seen.m.coordinator_epoch == 7);
	marker_seen.done(marker_seen.arg, TDM_ERR_PRODUCER_FENCED, "fenced");
	ck_assert_int_eq(called, TDM_ERR_PRODUCER_FENCED);
	ck_assert_ptr_null(op);
	/* a forgotten op is not answered */
	called = 0;
	ck_assert_int_eq(tdm_replica_write_marker(r, "t", 0, &m, done_fn, &called, &op), 0);
	tdm_replica_op_forget(op);
	ck_assert_ptr_null(op);
	marker_seen.done(marker_seen.arg, TDM_REPL_OK, "");
	ck_assert_int_eq(called, 0);
	tdm_replica_free(r);
}
END_TEST

static int applier_runs;
static void count_applier(void *ctx)
{
	(void)ctx;
	applier_runs++;
}

/* An applier topic (the definitions log): acks=all waits until every ISR
 * member applied the target, which a follower tells by fetching again on
 * the connection that carried the high watermark; a follower runs its
 * applier once per fetch response that moved the high watermark. */
START_TEST(test_replica_applier_topic_acks_once_applied_everywhere)
{
	static const int32_t isr[] = { 1, 2, 3 };
	static const char conn2 = 'a', conn3 = 'b', other = 'c';
	struct tdm_replica *r = tdm_replica_new(topics, 1, &hooks, NULL, 30000, 2);
	ck_assert_int_eq(tdm_replica_set_applier(r, "t", count_applier, NULL), 0);
	set_state(r, 1, 0, 0, isr, 3);
	append(2);
	/* both followers have the records: the high watermark is 2 */
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 2, "t", 0, 2, 0, 1000), TDM_REPL_OK);
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 3, "t", 0, 2, 0, 1000), TDM_REPL_OK);
	ck_assert_uint_eq(tdm_replica_high_watermark(r, "t", 0, part0()), 2);
	/* stored everywhere, applied nowhere: not acknowledged */
	ck_assert_int_eq(tdm_replica_acked(r, "t", 0, part0(), 2), 1);
	tdm_replica_set_applied(r, "t", 0, 2); /* the leader's own applier */
	tdm_replica_follower_sent(r, 2, &conn2, "t", 0, 2);
	tdm_replica_follower_sent(r, 3, &conn3, "t", 0, 2);
	/* node 2 fetches again on its connection: it applied up to 2 */
	tdm_replica_follower_applied(r, 2, &conn2, "t", 0, 2);
	ck_assert_int_eq(tdm_replica_acked(r, "t", 0, part0(), 2), 1);
	/* node 3 on another connection: the response may have been lost */
	tdm_replica_follower_applied(r, 3, &other, "t", 0, 2);
	ck_assert_int_eq(tdm_replica_acked(r, "t", 0, part0(), 2), 1);
	tdm_replica_follower_sent(r, 3, &other, "t", 0, 2);
	tdm_replica_follower_applied(r, 3, &other, "t", 0, 2);
	ck_assert_int_eq(tdm_replica_acked(r, "t", 0, part0(), 2), TDM_REPL_OK);
	/* a follower's applied never passes its own log end */
	append(1);
	tdm_replica_follower_sent(r, 2, &conn2, "t", 0, 9);
	tdm_replica_follower_applied(r, 2, &conn2, "t", 0, 2);
	tdm_replica_set_applied(r, "t", 0, 3);
	ck_assert_int_eq(tdm_replica_acked(r, "t", 0, part0(), 3), 1);
	tdm_replica_free(r);

	/* a follower: the applier runs after a response that moved the high
	 * watermark, once */
	r = tdm_replica_new(topics, 2, &hooks, NULL, 30000, 2);
	ck_assert_int_eq(tdm_replica_set_applier(r, "t", count_applier, NULL), 0);
	set_state(r, 1, 1, 1, isr, 3);
	applier_runs = 0;
	tdm_replica_fetched(r);
	ck_assert_int_eq(applier_runs, 0);
	tdm_replica_follower_hw(r, "t", 0, part0(), 2);
	tdm_replica_fetched(r);
	tdm_replica_fetched(r);
	ck_assert_int_eq(applier_runs, 1);
	tdm_replica_follower_hw(r, "t", 0, part0(), 2); /* no move */
	tdm_replica_fetched(r);
	ck_assert_int_eq(applier_runs, 1);
	tdm_replica_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("replica");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_replica_single_node_answers);
	tcase_add_test(tc, test_replica_hw_is_min_over_isr);
	tcase_add_test(tc, test_replica_leader_alone_commits_each_append);
	tcase_add_test(tc, test_replica_fencing_and_roles);
	tcase_add_test(tc, test_replica_reads_from_followers_and_rack_selection);
	tcase_add_test(tc, test_replica_isr_shrinks_after_lag_time_and_expands_when_caught_up);
	tcase_add_test(tc, test_replica_min_insync_replicas);
	tcase_add_test(tc, test_replica_new_follower_behind_keeps_its_lag_time);
	tcase_add_test(tc, test_replica_admin_without_cluster_hooks);
	tcase_add_test(tc, test_replica_write_marker_goes_to_the_leader);
	tcase_add_test(tc, test_replica_topic_min_insync_overrides_the_broker_default);
	tcase_add_test(tc, test_replica_applier_topic_acks_once_applied_everywhere);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
