/*
 * The replica fetcher (src/cluster/fetcher.c) against a real tandemd: a
 * single node started by the Kafka harness is the leader, librdkafka
 * produces to it (acks=1), and the fetcher runs in this process on its
 * own event base, as node 2, into a topics store of its own in a temp
 * dir.  The local log must get the leader's batches byte for byte at the
 * same offsets, keep following what is produced later, come back after
 * the leader restarts, and cut a local log that went its own way before
 * fetching again: records under an epoch the leader never had (cut to
 * the high watermark, Kafka's rule for an undefined epoch end) and a log
 * that ran past the leader's end (Kafka's OFFSET_OUT_OF_RANGE rule), and,
 * against a node of a cluster run in a child process (kafka_node.c, the
 * front end with core's replica manager), records of an older epoch cut
 * at the end offset the leader gives for it (KIP-101).  The
 * truncation decision after OffsetForLeaderEpoch is checked as a unit.
 */
#include "kafka_harness.h"
#include "kafka_node.h"
#include "sockutil.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "cluster/fetcher.h"
#include "core/config.h"
#include "core/replica.h"
#include "core/topic_ops.h"
#include "core/topics.h"

static struct tdm_config cfg;
static struct tdm_topics *topics;
static struct event_base *base;
static char dir[256];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static void local_open(void)
{
	char err[256];

	snprintf(dir, sizeof(dir), "%s/tandem-fetcher-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(tdm_config_init(&cfg), 0);
	ck_assert_int_eq(tdm_config_set(&cfg, "data_dir", dir, err, sizeof(err)), 0);
	ck_assert_int_eq(tdm_config_set(&cfg, "log_level", "warning", err, sizeof(err)), 0);
	topics = tdm_topics_open(&cfg, NULL, err, sizeof(err));
	ck_assert_msg(topics != NULL, "%s", err);
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
}

static void local_close(void)
{
	event_base_free(base);
	tdm_topics_close(topics);
	tdm_config_free(&cfg);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct ls_partition *local_topic(const char *name)
{
	char err[256];

	ck_assert_int_eq(tdm_topics_create(topics, name, 1, NULL, 0, err, sizeof(err)), TDM_TOPIC_OK);
	return tdm_topic_partition(tdm_topic_find(topics, name), 0);
}

/* Node 1 is the broker under test; any other node is unknown. */
static int resolve(void *ctx, int32_t node, char *host, size_t hostlen, int *port)
{
	const struct kh_broker *b = ctx;

	if (node != 1)
		return -1;
	snprintf(host, hostlen, "127.0.0.1");
	*port = b->port;
	return 0;
}

/* Runs the loop until p's log end is want (checked every 20 ms), at most
 * timeout_ms; returns the log end reached. */
struct wait_ctx {
	struct ls_partition *p;
	uint64_t want;
	uint64_t deadline;
};
static void check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wait_ctx *w = arg;

	(void)fd, (void)what;
	if (tdm_partition_log_end(w->p) == w->want || kh_now_ms() >= w->deadline)
		event_base_loopbreak(base);
}
static uint64_t run_until(struct ls_partition *p, uint64_t want, unsigned timeout_ms)
{
	struct wait_ctx w = { p, want, kh_now_ms() + timeout_ms };
	struct event *ev = event_new(base, -1, EV_PERSIST, check_cb, &w);
	struct timeval tv = { 0, 20000 };

	event_add(ev, &tv);
	event_base_dispatch(base);
	event_free(ev);
	return tdm_partition_log_end(p);
}

static void produce(const struct kh_broker *b, const char *topic, int from, int n)
{
	const char *const kv[] = { "acks", "1", "linger.ms", "0", NULL };
	rd_kafka_t *p = kh_producer(b->bootstrap, kv);

	for (int i = from; i < from + n; i++) {
		char v[64];

		snprintf(v, sizeof(v), "record-%d", i);
		ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, v, -1, NULL), 0);
	}
	rd_kafka_destroy(p);
}

static void create_remote(const struct kh_broker *b, const char *topic)
{
	rd_kafka_t *p = kh_producer(b->bootstrap, NULL);

	ck_assert_int_eq(kh_create_topic(p, topic, 1, 1, NULL), 0);
	rd_kafka_destroy(p);
}

static uint8_t resp[4 << 20];

/* A raw Produce v3 of one record whose batch has no leader epoch (-1):
 * kh_batch_one writes partitionLeaderEpoch -1. */
static void produce_epochless(const struct kh_broker *b, const char *topic, const char *value)
{
	int fd = kh_raw_connect(b);
	ck_assert_int_eq(kh_raw_produce(fd, topic, 0, 1, 5000, value, 0, NULL, 5000), 0);
	close(fd);
}

/* ---- the leader's bytes, by a raw consumer Fetch v4 ------------------------------ */

static void put32(uint8_t *d, size_t *n, int32_t v)
{
	for (int s = 24; s >= 0; s -= 8)
		d[(*n)++] = (uint8_t)((uint32_t)v >> s);
}
static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The records bytes of topic/0 from offset 0 (whole log, small topics). */
static size_t remote_log(const struct kh_broker *b, const char *topic, const uint8_t **out)
{
	uint8_t req[512];
	size_t n = 0, tl = strlen(topic), off;
	int fd = kh_raw_connect(b);

	put32(req, &n, -1);      /* replica_id */
	put32(req, &n, 0);       /* max_wait_ms */
	put32(req, &n, 0);       /* min_bytes */
	put32(req, &n, 4 << 20); /* max_bytes */
	req[n++] = 0;
	put32(req, &n, 1);
	req[n++] = (uint8_t)(tl >> 8);
	req[n++] = (uint8_t)tl;
	memcpy(req + n, topic, tl);
	n += tl;
	put32(req, &n, 1);
	put32(req, &n, 0);
	put32(req, &n, 0);
	put32(req, &n, 0); /* fetch_offset (int64) 0 */
	put32(req, &n, 4 << 20);
	kh_raw_request(fd, 1, 4, 1, req, n);
	long got = kh_raw_response(fd, resp, sizeof(resp), 5000);
	close(fd);
	ck_assert_int_gt(got, 0);
	/* corr, throttle, [1], name, [1], index, error, hw, lso, aborted, records */
	off = 4 + 4 + 4 + 2 + tl + 4 + 4;
	ck_assert_int_eq(resp[off] << 8 | resp[off + 1], 0);
	off += 2 + 8 + 8 + 4;
	uint32_t len = get32(resp + off);
	off += 4;
	ck_assert_uint_eq(off + len, (size_t)got);
	*out = resp + off;
	return len;
}

/* The local log's bytes from offset 0 into buf (cap bytes). */
static size_t local_log(struct ls_partition *p, uint8_t *buf, size_t cap)
{
	struct tdm_read_result rr;
	size_t n = 0;
	uint64_t off = 0;

	while (off < tdm_partition_log_end(p)) {
		ck_assert_int_eq(tdm_topics_read(topics, p, off, 1 << 20, &rr), TDM_TOPIC_OK);
		ck_assert_uint_gt(rr.len, 0);
		ck_assert_uint_le(n + rr.len, cap);
		ck_assert_int_eq(tdm_topics_read_copy(&rr, buf + n), TDM_TOPIC_OK);
		n += rr.len;
		off = rr.next_offset;
		tdm_topics_read_release(topics, &rr);
	}
	return n;
}

static void assert_same_log(const struct kh_broker *b, const char *topic, struct ls_partition *p)
{
	static uint8_t mine[4 << 20];
	const uint8_t *theirs;
	size_t tn = remote_log(b, topic, &theirs);
	size_t mn = local_log(p, mine, sizeof(mine));

	ck_assert_uint_eq(mn, tn);
	ck_assert_msg(memcmp(mine, theirs, tn) == 0, "local batches differ from the leader's");
}

/* ---- tests ------------------------------------------------------------------------ */

START_TEST(test_replica_fetcher_copies_and_follows)
{
	char topic[128];
	struct tdm_fetcher *f;
	struct ls_partition *p;

	kh_name(topic, sizeof(topic), "follow");
	create_remote(kh_main(), topic);
	produce(kh_main(), topic, 0, 5);
	local_open();
	p = local_topic(topic);
	f = tdm_fetcher_new(base, topics, NULL, 2, resolve, kh_main());
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(tdm_fetcher_follow(f, topic, 0, 1, 0), 0);
	ck_assert_uint_eq(run_until(p, 5, 10000), 5);
	assert_same_log(kh_main(), topic, p);
	ck_assert_int_eq(tdm_fetcher_state(f, topic, 0, NULL), TDM_FETCHER_FETCHING);
	/* more records follow (the parked replica fetch wakes on appends) */
	produce(kh_main(), topic, 5, 3);
	ck_assert_uint_eq(run_until(p, 8, 10000), 8);
	assert_same_log(kh_main(), topic, p);
	/* stopped: nothing more arrives */
	ck_assert_int_eq(tdm_fetcher_follow(f, topic, 0, TDM_NO_NODE, 0), 0);
	ck_assert_int_eq(tdm_fetcher_state(f, topic, 0, NULL), TDM_FETCHER_NONE);
	produce(kh_main(), topic, 8, 1);
	ck_assert_uint_eq(run_until(p, 9, 700), 8);
	tdm_fetcher_free(f);
	local_close();
}
END_TEST

START_TEST(test_replica_fetcher_reconnects)
{
	struct kh_broker b;
	char topic[128];
	struct tdm_fetcher *f;
	struct ls_partition *p;

	ck_assert_int_eq(kh_broker_start(&b, NULL), 0);
	kh_name(topic, sizeof(topic), "reconnect");
	create_remote(&b, topic);
	produce(&b, topic, 0, 2);
	local_open();
	p = local_topic(topic);
	f = tdm_fetcher_new(base, topics, NULL, 2, resolve, &b);
	ck_assert_int_eq(tdm_fetcher_follow(f, topic, 0, 1, 0), 0);
	ck_assert_uint_eq(run_until(p, 2, 10000), 2);
	/* the leader goes away and comes back on the same port */
	ck_assert_int_eq(kh_broker_stop(&b), 0);
	ck_assert_uint_eq(run_until(p, 3, 500), 2);
	ck_assert_int_eq(kh_broker_restart(&b), 0);
	produce(&b, topic, 2, 2);
	ck_assert_uint_eq(run_until(p, 4, 15000), 4);
	assert_same_log(&b, topic, p);
	tdm_fetcher_free(f);
	local_close();
	kh_broker_destroy(&b);
}
END_TEST

/* Local records under an epoch of ours the leader never had: its
 * OffsetForLeaderEpoch answer is "no such epoch" (-1, -1), so the log is
 * cut to our high watermark (what the leader had acknowledged to us) and
 * the leader's own records at those offsets are fetched instead. */
START_TEST(test_replica_fetcher_truncates_unknown_epoch_to_high_watermark)
{
	char topic[128];
	struct tdm_fetcher *f;
	struct ls_partition *p;
	struct tdm_record rec = { .value = "local-only", .value_len = 10, .timestamp = -1 };
	struct tdm_append_result res;
	uint64_t truncations = 0;

	kh_name(topic, sizeof(topic), "diverge");
	create_remote(kh_main(), topic);
	produce(kh_main(), topic, 0, 2);
	local_open();
	p = local_topic(topic);
	f = tdm_fetcher_new(base, topics, NULL, 2, resolve, kh_main());
	ck_assert_int_eq(tdm_fetcher_follow(f, topic, 0, 1, 0), 0);
	ck_assert_uint_eq(run_until(p, 2, 10000), 2);
	/* one more loop turn for the high watermark of the next (empty) answer */
	ck_assert_uint_eq(run_until(p, 99, 700), 2);
	ck_assert_uint_eq(tdm_partition_high_watermark(p), 2);
	ck_assert_int_eq(tdm_fetcher_follow(f, topic, 0, TDM_NO_NODE, 0), 0);
	/* offsets 2..4 written here under epoch 7, which the leader never had */
	ck_assert_int_eq(tdm_partition_assign_epoch(p, 7, 2), TDM_TOPIC_OK);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(tdm_topics_append(topics, p, &rec, 1, TDM_CODEC_NONE, &res),
				 TDM_TOPIC_OK);
	ck_assert_uint_eq(tdm_partition_log_end(p), 5);
	/* the leader writes other records at offsets 2 and 3 */
	produce(kh_main(), topic, 2, 2);
	ck_assert_int_eq(tdm_fetcher_follow(f, topic, 0, 1, 1), 0);
	ck_assert_uint_eq(run_until(p, 4, 10000), 4);
	tdm_fetcher_state(f, topic, 0, &truncations);
	ck_assert_uint_eq(truncations, 1);
	ck_assert_int_eq(tdm_fetcher_last_truncation(f, topic, 0), 2);
	assert_same_log(kh_main(), topic, p);
	tdm_fetcher_free(f);
	local_close();
}
END_TEST

/* No epochs anywhere (batches written with partitionLeaderEpoch -1): our
 * log ran past the leader's end, the Fetch at our end is
 * OFFSET_OUT_OF_RANGE, ListOffsets gives the leader's end and the log is
 * cut to it (Kafka's handleOutOfRangeError), then follows again. */
START_TEST(test_replica_fetcher_truncates_past_leader_end)
{
	char topic[128];
	struct tdm_fetcher *f;
	struct ls_partition *p;
	struct tdm_record rec = { .value = "local-only", .value_len = 10, .timestamp = -1 };
	struct tdm_append_result res;
	uint64_t truncations = 0;

	kh_name(topic, sizeof(topic), "oor");
	create_remote(kh_main(), topic);
	produce_epochless(kh_main(), topic, "leader-0");
	produce_epochless(kh_main(), topic, "leader-1");
	local_open();
	p = local_topic(topic);
	f = tdm_fetcher_new(base, topics, NULL, 2, resolve, kh_main());
	ck_assert_int_eq(tdm_fetcher_follow(f, topic, 0, 1, 0), 0);
	ck_assert_uint_eq(run_until(p, 2, 10000), 2);
	ck_assert_int_eq(tdm_partition_latest_epoch(p), -1);
	ck_assert_int_eq(tdm_fetcher_follow(f, topic, 0, TDM_NO_NODE, 0), 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(tdm_topics_append(topics, p, &rec, 1, TDM_CODEC_NONE, &res),
				 TDM_TOPIC_OK);
	ck_assert_uint_eq(tdm_partition_log_end(p), 5);
	ck_assert_int_eq(tdm_fetcher_follow(f, topic, 0, 1, 1), 0);
	ck_assert_uint_eq(run_until(p, 2, 10000), 2);
	tdm_fetcher_state(f, topic, 0, &truncations);
	ck_assert_uint_eq(truncations, 1);
	ck_assert_int_eq(tdm_fetcher_last_truncation(f, topic, 0), 2);
	/* and it follows the leader from there */
	produce_epochless(kh_main(), topic, "leader-2");
	ck_assert_uint_eq(run_until(p, 3, 10000), 3);
	assert_same_log(kh_main(), topic, p);
	tdm_fetcher_free(f);
	local_close();
}
END_TEST

/* The log start of topic/0 on b (ListOffsets earliest), -1 if unknown. */
static int64_t leader_log_start(const struct kh_broker *b, const char *topic)
{
	rd_kafka_t *rk = kh_producer(b->bootstrap, NULL);
	int64_t low = -1, high = -1;
	if (rd_kafka_query_watermark_offsets(rk, topic, 0, &low, &high, 5000) != 0)
		low = -1;
	rd_kafka_destroy(rk);
	return low;
}

/* The leader's retention deleted what we would fetch next (our log ends
 * below its log start): Fetch answers OFFSET_OUT_OF_RANGE, ListOffsets
 * gives the leader's end (past ours) then its start (past ours too), and
 * the log restarts empty at the leader's start (Kafka's
 * truncateFullyAndStartAt), then copies the leader from there. */
START_TEST(test_replica_fetcher_starts_at_leader_log_start)
{
	static const char *const args[] = { "--log-retention-check-interval-ms", "50",
					     "--log-min-segment-bytes", "1024", NULL };
	static const char *const tcfg[] = { "segment.bytes", "1024", "retention.bytes", "1", NULL };
	struct kh_broker b;
	char topic[128], v[600];
	struct ls_partition *p;
	uint64_t truncations = 0;

	ck_assert_int_eq(kh_broker_start(&b, args), 0);
	kh_name(topic, sizeof(topic), "start");
	rd_kafka_t *admin = kh_producer(b.bootstrap, NULL);
	ck_assert_int_eq(kh_create_topic(admin, topic, 1, 1, tcfg), 0);
	rd_kafka_destroy(admin);
	memset(v, 'x', sizeof(v) - 1);
	v[sizeof(v) - 1] = '\0';
	int fd = kh_raw_connect(&b);
	for (int i = 0; i < 12; i++)
		ck_assert_int_eq(kh_raw_produce(fd, topic, 0, 1, 5000, v, 0, NULL, 5000), 0);
	close(fd);
	/* retention (every 50 ms) deletes every segment but the active one
	 * (a record per segment: the second does not fit in 1024 bytes); wait
	 * for its end (start 11, the active segment's record), so that the
	 * start cannot move between the fetcher's asking and its fetch (that
	 * would be a second truncation, which is right, but not this test) */
	int64_t start = 0;
	uint64_t deadline = kh_now_ms() + 10000;
	while ((start = leader_log_start(&b, topic)) < 11 && kh_now_ms() < deadline)
		kh_sleep_ms(50);
	ck_assert_int_ge(start, 11);
	local_open();
	p = local_topic(topic);
	struct tdm_fetcher *f = tdm_fetcher_new(base, topics, NULL, 2, resolve, &b);
	ck_assert_int_eq(tdm_fetcher_follow(f, topic, 0, 1, 0), 0);
	ck_assert_uint_eq(run_until(p, 12, 10000), 12);
	/* the leader's start when we asked (its retention may go on) */
	uint64_t ours = tdm_partition_log_start(p);
	ck_assert_uint_ge(ours, (uint64_t)start);
	ck_assert_uint_lt(ours, 12);
	tdm_fetcher_state(f, topic, 0, &truncations);
	ck_assert_uint_eq(truncations, 1);
	ck_assert_int_eq(tdm_fetcher_last_truncation(f, topic, 0), (int64_t)ours);
	tdm_fetcher_free(f);
	local_close();
	kh_broker_destroy(&b);
}
END_TEST

/* Kafka's KIP-101 case, against a leader with leader epochs: a node of a
 * cluster (kafka_node.c) leads e/0 since epoch 3, which began at offset
 * 3.  We copied offsets 0..2, then wrote 3..4 ourselves under epoch 2 (a
 * leader that lost its lead before replicating them); the new leader
 * wrote its own 3..5 under epoch 3.  OffsetForLeaderEpoch(2) answers
 * (2, 3): the log is cut to 3 and the leader's records fetched, byte for
 * byte, epochs included. */
static int kip101_node(struct tdm_topics *ts, struct tdm_replica *r, int cmd)
{
	int32_t replicas[2] = { 1, 2 };
	char err[256];

	if (cmd == 1) /* the leader writes under its epoch */
		return kn_append(ts, "e", 0, 3);
	if (tdm_topics_create(ts, "e", 1, NULL, 0, err, sizeof(err)) != TDM_TOPIC_OK ||
	    kn_append(ts, "e", 0, 3) < 0)
		return -1;
	return kn_set_state(r, "e", 0, 1, 3, replicas, 2);
}

START_TEST(test_replica_fetcher_truncates_to_leader_epoch_end)
{
	struct kn_node kn;
	struct kh_broker leader;
	struct tdm_fetcher *f;
	struct ls_partition *p;
	struct tdm_record rec = { .value = "ours", .value_len = 4, .timestamp = -1 };
	struct tdm_append_result res;
	uint64_t truncations = 0;

	kn_start(&kn, kip101_node, kip101_node);
	memset(&leader, 0, sizeof(leader));
	leader.port = kn.port;
	local_open();
	p = local_topic("e");
	f = tdm_fetcher_new(base, topics, NULL, 2, resolve, &leader);
	ck_assert_int_eq(tdm_fetcher_follow(f, "e", 0, 1, 3), 0);
	ck_assert_uint_eq(run_until(p, 3, 10000), 3);
	ck_assert_int_eq(tdm_fetcher_follow(f, "e", 0, TDM_NO_NODE, 0), 0);
	/* ours: 3..4 under epoch 2 */
	ck_assert_int_eq(tdm_partition_assign_epoch(p, 2, 3), TDM_TOPIC_OK);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(tdm_topics_append(topics, p, &rec, 1, TDM_CODEC_NONE, &res),
				 TDM_TOPIC_OK);
	/* the leader's: 3..5 under epoch 3 */
	kn_command(&kn, 1);
	/* a high watermark of 1 here: the cut must come from the epoch's
	 * end, not from Kafka's fallback to the high watermark */
	tdm_partition_set_high_watermark(p, 1);
	ck_assert_int_eq(tdm_fetcher_follow(f, "e", 0, 1, 3), 0);
	ck_assert_uint_eq(run_until(p, 6, 10000), 6);
	tdm_fetcher_state(f, "e", 0, &truncations);
	ck_assert_uint_eq(truncations, 1);
	ck_assert_int_eq(tdm_fetcher_last_truncation(f, "e", 0), 3);
	ck_assert_int_eq(tdm_partition_latest_epoch(p), 3);
	/* the leader's high watermark reaches 6 with our next fetch: then a
	 * consumer's read of the leader has everything to compare */
	for (uint64_t end = kh_now_ms() + 5000;
	     tdm_partition_high_watermark(p) < 6 && kh_now_ms() < end;)
		run_until(p, 99, 50);
	ck_assert_uint_eq(tdm_partition_high_watermark(p), 6);
	assert_same_log(&leader, "e", p);
	tdm_fetcher_free(f);
	local_close();
	kn_stop(&kn);
}
END_TEST

/* The fetcher as the replica manager's follow hook: node 2 learns it
 * follows node 1 for the partition (tdm_replica_set_state), the hook
 * starts the fetcher, and the leader's high watermark becomes ours
 * through tdm_replica_follower_hw. */
static void follow_hook(void *ctx, const char *topic, int32_t partition, int32_t leader,
			int32_t epoch)
{
	tdm_fetcher_follow_hook(*(struct tdm_fetcher **)ctx, topic, partition, leader, epoch);
}

START_TEST(test_replica_fetcher_as_follow_hook)
{
	char topic[128];
	struct tdm_fetcher *f = NULL;
	struct tdm_replica *r;
	struct ls_partition *p;
	struct tdm_replica_hooks hooks = { .follow = follow_hook };
	int32_t replicas[2] = { 1, 2 };
	struct tdm_partition_state st = { .leader = 1, .leader_epoch = 4, .controller_epoch = 1,
					  .version = 1, .replicas = replicas, .nreplicas = 2,
					  .isr = replicas, .nisr = 2 };

	kh_name(topic, sizeof(topic), "hook");
	create_remote(kh_main(), topic);
	produce(kh_main(), topic, 0, 3);
	local_open();
	p = local_topic(topic);
	r = tdm_replica_new(topics, 2, &hooks, &f, 30000, 1);
	ck_assert_ptr_nonnull(r);
	f = tdm_fetcher_new(base, topics, r, 2, resolve, kh_main());
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(tdm_replica_set_state(r, topic, 0, &st), TDM_REPL_OK);
	ck_assert_int_ne(tdm_fetcher_state(f, topic, 0, NULL), TDM_FETCHER_NONE);
	ck_assert_uint_eq(run_until(p, 3, 10000), 3);
	assert_same_log(kh_main(), topic, p);
	/* the leader's high watermark (3) arrives with the next answer */
	for (uint64_t end = kh_now_ms() + 5000;
	     tdm_replica_high_watermark(r, topic, 0, p) < 3 && kh_now_ms() < end;)
		run_until(p, 99, 50);
	ck_assert_uint_eq(tdm_replica_high_watermark(r, topic, 0, p), 3);
	/* this node takes the lead: the fetcher lets the partition go */
	st.leader = 2;
	st.leader_epoch = 5;
	ck_assert_int_eq(tdm_replica_set_state(r, topic, 0, &st), TDM_REPL_OK);
	ck_assert_int_eq(tdm_fetcher_state(f, topic, 0, NULL), TDM_FETCHER_NONE);
	tdm_fetcher_free(f);
	tdm_replica_free(r);
	local_close();
}
END_TEST

/* Kafka's getOffsetTruncationState, case by case. */
/* ---- over the cluster link ------------------------------------------------------- */

#define LINK_SECRET "the-cluster-secret-0123456789abcdef"

/* Node 1 is a tandemd with a cluster port; its Kafka listener is not
 * given to the fetcher at all (a fetch can only go to the cluster port). */
struct link_leader {
	struct kh_broker b;
	int cluster_port;
	char secret_file[300];
};

static int no_kafka_port(void *ctx, int32_t node, char *host, size_t hostlen, int *port)
{
	(void)ctx, (void)node, (void)host, (void)hostlen, (void)port;
	return -1;
}

static int cluster_port_of(void *ctx, int32_t node, char *host, size_t hostlen, int *port)
{
	const struct link_leader *l = ctx;

	if (node != 1)
		return -1;
	snprintf(host, hostlen, "127.0.0.1");
	*port = l->cluster_port;
	return 0;
}

static void link_leader_start(struct link_leader *l)
{
	char port[16];
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	l->cluster_port = su_free_port();
	snprintf(port, sizeof(port), "%d", l->cluster_port);
	snprintf(l->secret_file, sizeof(l->secret_file), "%s/tandem-fetcher-secret-%d", tmp,
		 (int)getpid());
	int fd = open(l->secret_file, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, LINK_SECRET, strlen(LINK_SECRET)), (ssize_t)strlen(LINK_SECRET));
	close(fd);
	const char *const extra[] = { "--cluster-port", port, "--cluster-secret-file",
				      l->secret_file, NULL };
	ck_assert_int_eq(kh_broker_start(&l->b, extra), 0);
}

static void link_leader_stop(struct link_leader *l)
{
	kh_broker_destroy(&l->b);
	unlink(l->secret_file);
}

/* With the cluster's secret the fetcher authenticates on the leader's
 * cluster port (SASL PLAIN as tandem-cluster) and fetches there:
 * OffsetForLeaderEpoch, Fetch with its replica id, byte for byte. */
START_TEST(test_replica_fetcher_fetches_over_the_cluster_port)
{
	struct link_leader l;
	char topic[128];
	struct tdm_fetcher *f;
	struct ls_partition *p;

	link_leader_start(&l);
	kh_name(topic, sizeof(topic), "overlink");
	create_remote(&l.b, topic);
	produce(&l.b, topic, 0, 4);
	local_open();
	p = local_topic(topic);
	f = tdm_fetcher_new(base, topics, NULL, 2, no_kafka_port, &l);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(tdm_fetcher_use_link(f, LINK_SECRET, strlen(LINK_SECRET), cluster_port_of),
			 0);
	ck_assert_int_eq(tdm_fetcher_follow(f, topic, 0, 1, 0), 0);
	ck_assert_uint_eq(run_until(p, 4, 10000), 4);
	assert_same_log(&l.b, topic, p);
	/* the parked fetch on the link wakes on appends, as on the listener */
	produce(&l.b, topic, 4, 2);
	ck_assert_uint_eq(run_until(p, 6, 10000), 6);
	assert_same_log(&l.b, topic, p);
	tdm_fetcher_free(f);
	local_close();
	link_leader_stop(&l);
}
END_TEST

/* A wrong secret: the leader refuses the connection, nothing is fetched,
 * the fetcher keeps retrying (with its backoff) and catches up once it
 * has the right secret. */
START_TEST(test_replica_fetcher_wrong_secret_fetches_nothing_and_retries)
{
	struct link_leader l;
	char topic[128];
	struct tdm_fetcher *f;
	struct ls_partition *p;
	static const char wrong[] = "not-the-cluster-secret-0123456789";

	link_leader_start(&l);
	kh_name(topic, sizeof(topic), "wrongsecret");
	create_remote(&l.b, topic);
	produce(&l.b, topic, 0, 3);
	local_open();
	p = local_topic(topic);
	f = tdm_fetcher_new(base, topics, NULL, 2, no_kafka_port, &l);
	ck_assert_int_eq(tdm_fetcher_use_link(f, wrong, strlen(wrong), cluster_port_of), 0);
	ck_assert_int_eq(tdm_fetcher_follow(f, topic, 0, 1, 0), 0);
	ck_assert_uint_eq(run_until(p, 3, 1500), 0);
	ck_assert_int_eq(tdm_fetcher_use_link(f, LINK_SECRET, strlen(LINK_SECRET), cluster_port_of),
			 0);
	ck_assert_uint_eq(run_until(p, 3, 10000), 3);
	assert_same_log(&l.b, topic, p);
	tdm_fetcher_free(f);
	local_close();
	link_leader_stop(&l);
}
END_TEST

START_TEST(test_replica_fetcher_truncation_decision)
{
	uint64_t to = 99;
	int32_t next = -7;
	struct tdm_fetcher_epoch_end none = { -1, -1 };

	/* same epoch both sides: the smaller end wins, never past our log end */
	ck_assert_int_eq(tdm_fetcher_truncation(3, (struct tdm_fetcher_epoch_end){ 3, 10 },
						(struct tdm_fetcher_epoch_end){ 3, 14 }, 14, 8, &to,
						&next), 0);
	ck_assert_uint_eq(to, 10);
	ck_assert_int_eq(tdm_fetcher_truncation(3, (struct tdm_fetcher_epoch_end){ 3, 20 },
						(struct tdm_fetcher_epoch_end){ 3, 14 }, 14, 8, &to,
						&next), 0);
	ck_assert_uint_eq(to, 14);
	/* the leader's largest epoch <= ours is older (2, ending at 7); ours
	 * for 2 ends at 9: cut to 7 (epoch 3's records went away) */
	ck_assert_int_eq(tdm_fetcher_truncation(3, (struct tdm_fetcher_epoch_end){ 2, 7 },
						(struct tdm_fetcher_epoch_end){ 2, 9 }, 14, 8, &to,
						&next), 0);
	ck_assert_uint_eq(to, 7);
	/* the leader answers an epoch we never had (2; ours below it is 1,
	 * ending at 5): cut to 5 and ask again about 1 */
	ck_assert_int_eq(tdm_fetcher_truncation(3, (struct tdm_fetcher_epoch_end){ 2, 7 },
						(struct tdm_fetcher_epoch_end){ 1, 5 }, 14, 8, &to,
						&next), 1);
	ck_assert_uint_eq(to, 5);
	ck_assert_int_eq(next, 1);
	/* the leader knows no epoch at or below ours: our high watermark */
	ck_assert_int_eq(tdm_fetcher_truncation(3, none, (struct tdm_fetcher_epoch_end){ 3, 14 },
						14, 8, &to, &next), 0);
	ck_assert_uint_eq(to, 8);
	/* no epoch of ours to compare: the leader's end bounds the log */
	ck_assert_int_eq(tdm_fetcher_truncation(3, (struct tdm_fetcher_epoch_end){ 0, 6 }, none,
						14, 8, &to, &next), 0);
	ck_assert_uint_eq(to, 6);
	ck_assert_int_eq(tdm_fetcher_truncation(3, (struct tdm_fetcher_epoch_end){ 0, 60 }, none,
						14, 8, &to, &next), 0);
	ck_assert_uint_eq(to, 14);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("replica_fetcher");
	TCase *tc = kh_tcase("fetcher");

	tcase_add_test(tc, test_replica_fetcher_copies_and_follows);
	tcase_add_test(tc, test_replica_fetcher_reconnects);
	tcase_add_test(tc, test_replica_fetcher_truncates_unknown_epoch_to_high_watermark);
	tcase_add_test(tc, test_replica_fetcher_truncates_past_leader_end);
	tcase_add_test(tc, test_replica_fetcher_starts_at_leader_log_start);
	tcase_add_test(tc, test_replica_fetcher_truncates_to_leader_epoch_end);
	tcase_add_test(tc, test_replica_fetcher_as_follow_hook);
	tcase_add_test(tc, test_replica_fetcher_fetches_over_the_cluster_port);
	tcase_add_test(tc, test_replica_fetcher_wrong_secret_fetches_nothing_and_retries);
	tcase_add_test(tc, test_replica_fetcher_truncation_decision);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return kh_run_suite(suite(), NULL);
}
