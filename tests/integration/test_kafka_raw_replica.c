/* The Kafka front end's replication requests over raw sockets.
 *
 * On a single node (tandemd, no replica manager): a Fetch with
 * replica_id >= 0 from a user not tagged administrator gets
 * CLUSTER_AUTHORIZATION_FAILED (31), from an administrator the log up to
 * its end; OffsetForLeaderEpoch (api key 23, v0-3) is advertised and
 * answered; ListOffsets and a consumer's Fetch stay as they were.
 *
 * As a node of a cluster: a child process runs the Kafka front end with
 * a replica manager (core/replica.c) that has this node (1) lead t/0 and
 * t/2 with follower 2 in the ISR and follow node 2 for t/1, with records
 * the follower has not fetched yet.  Consumers read and list below the
 * high watermark, replicas to the log end; a partition led elsewhere
 * answers NOT_LEADER_OR_FOLLOWER; OffsetForLeaderEpoch fences by
 * current_leader_epoch; a parked consumer fetch wakes when a follower's
 * fetch moves the high watermark; a follower's fetch that moved the high
 * watermark is answered at once with it, one with nothing new parks; a
 * parked follower fetch answers NOT_LEADER_OR_FOLLOWER as soon as the node
 * loses the lead.
 *
 * Consumer groups in a cluster: the leader of __consumer_offsets-0
 * coordinates every group.  With node 2 leading it, FindCoordinator
 * answers node 2 and every other group request NOT_COORDINATOR (16)
 * (ListGroups: none, as Kafka's non-coordinators); with this node
 * leading it (follower 2 in the ISR), an OffsetCommit is answered only
 * once follower 2 has fetched the commit, and NOT_COORDINATOR when the
 * lead moves while it waits. */
#include "kafka_harness.h"
#include "kafka_node.h"

#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/topics.h"

struct wb {
	uint8_t d[8192];
	size_t n;
};
static void w8(struct wb *b, uint8_t v)
{
	b->d[b->n++] = v;
}
static void w16(struct wb *b, int16_t v)
{
	w8(b, (uint8_t)((uint16_t)v >> 8));
	w8(b, (uint8_t)v);
}
static void w32(struct wb *b, int32_t v)
{
	for (int s = 24; s >= 0; s -= 8)
		w8(b, (uint8_t)((uint32_t)v >> s));
}
static void w64(struct wb *b, int64_t v)
{
	for (int s = 56; s >= 0; s -= 8)
		w8(b, (uint8_t)((uint64_t)v >> s));
}
static void wstr(struct wb *b, const char *s)
{
	w16(b, (int16_t)strlen(s));
	memcpy(b->d + b->n, s, strlen(s));
	b->n += strlen(s);
}

struct rb {
	const uint8_t *p;
	size_t n, off;
};
static int need(struct rb *r, size_t k)
{
	ck_assert_msg(r->off + k <= r->n, "response too short (%zu + %zu > %zu)", r->off, k, r->n);
	return 1;
}
static int16_t r16(struct rb *r)
{
	need(r, 2);
	int16_t v = (int16_t)(r->p[r->off] << 8 | r->p[r->off + 1]);
	r->off += 2;
	return v;
}
static int32_t r32(struct rb *r)
{
	uint32_t v = 0;
	need(r, 4);
	for (int i = 0; i < 4; i++)
		v = v << 8 | r->p[r->off++];
	return (int32_t)v;
}
static int64_t r64(struct rb *r)
{
	uint64_t v = 0;
	need(r, 8);
	for (int i = 0; i < 8; i++)
		v = v << 8 | r->p[r->off++];
	return (int64_t)v;
}
static void rskipstr(struct rb *r)
{
	int16_t l = r16(r);
	if (l > 0) {
		need(r, (size_t)l);
		r->off += (size_t)l;
	}
}

static uint8_t resp[1 << 20];

/* A broker whose anonymous Kafka clients act as "plain", a user with no
 * tags (all permissions on /). */
static const char *const plain_args[] = { "--users.plain.password", "ppw",
					  "--kafka-default-user", "plain",
					  "--kafka-default-pass", "ppw",
					  NULL };

static void create_topic(int fd, const char *name)
{
	struct wb b = { .n = 0 };
	w32(&b, 1);
	wstr(&b, name);
	w32(&b, 1);
	w16(&b, 1);
	w32(&b, 0);
	w32(&b, 0);
	w32(&b, 5000);
	w8(&b, 0);
	kh_raw_request(fd, 19, 1, 100, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 8 };
	rskipstr(&r);
	ck_assert_int_eq(r16(&r), 0);
}

/* Produces n records to topic/0 with librdkafka (acks=1). */
static void produce(const struct kh_broker *b, const char *topic, int n)
{
	const char *const kv[] = { "acks", "1", NULL };
	rd_kafka_t *p = kh_producer(b->bootstrap, kv);
	for (int i = 0; i < n; i++) {
		char v[32];
		snprintf(v, sizeof(v), "v%d", i);
		ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, v, -1, NULL), 0);
	}
	rd_kafka_destroy(p);
}

/* A Fetch v4 body in b: replica_id, max_wait_ms, min_bytes 1, one
 * partition of one topic at offset, 1 MiB limits. */
static void fetch_body(struct wb *b, int32_t replica_id, int32_t max_wait_ms, const char *topic,
		       int32_t partition, int64_t offset)
{
	w32(b, replica_id);
	w32(b, max_wait_ms);
	w32(b, 1);
	w32(b, 1 << 20);
	w8(b, 0);
	w32(b, 1);
	wstr(b, topic);
	w32(b, 1);
	w32(b, partition);
	w64(b, offset);
	w32(b, 1 << 20);
}

/* Fetch v4 of topic/0 with replica_id; returns the partition's error,
 * with its high watermark and records length. */
static int16_t fetch(int fd, int32_t replica_id, const char *topic, int64_t offset, int64_t *hw,
		     int32_t *rlen)
{
	struct wb b = { .n = 0 };
	fetch_body(&b, replica_id, 100, topic, 0, offset);
	kh_raw_request(fd, 1, 4, 300, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 };
	r32(&r); /* throttle */
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	int16_t err = r16(&r);
	*hw = r64(&r);
	r64(&r);
	ck_assert_int_eq(r32(&r), 0); /* aborted transactions */
	*rlen = r32(&r);
	if (*rlen > 0)
		r.off += (size_t)*rlen;
	ck_assert_uint_eq(r.off, (size_t)n);
	return err;
}

/* ListOffsets v1 of topic/0 at timestamp ts with replica_id: error and offset. */
static int16_t list_offsets(int fd, int32_t replica_id, const char *topic, int64_t ts,
			    int64_t *off)
{
	struct wb b = { .n = 0 };
	w32(&b, replica_id);
	w32(&b, 1);
	wstr(&b, topic);
	w32(&b, 1);
	w32(&b, 0);
	w64(&b, ts);
	kh_raw_request(fd, 2, 1, 500, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 };
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	int16_t err = r16(&r);
	r64(&r);
	*off = r64(&r);
	ck_assert_uint_eq(r.off, (size_t)n);
	return err;
}

struct ofle_answer {
	int16_t err;
	int32_t epoch;
	int64_t end;
};

/* OffsetForLeaderEpoch of topic/partition at version ver (v2+: with
 * current_leader_epoch cur; v3: replica_id 2). */
static struct ofle_answer ofle(int fd, int16_t ver, const char *topic, int32_t partition,
			       int32_t cur, int32_t epoch)
{
	struct wb b = { .n = 0 };
	struct ofle_answer a = { 0, -1, -1 };
	if (ver >= 3)
		w32(&b, 2);
	w32(&b, 1);
	wstr(&b, topic);
	w32(&b, 1);
	w32(&b, partition);
	if (ver >= 2)
		w32(&b, cur);
	w32(&b, epoch);
	kh_raw_request(fd, 23, ver, 600, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 };
	if (ver >= 2)
		ck_assert_int_eq(r32(&r), 0); /* throttle */
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	a.err = r16(&r);
	ck_assert_int_eq(r32(&r), partition);
	if (ver >= 1)
		a.epoch = r32(&r);
	a.end = r64(&r);
	ck_assert_uint_eq(r.off, (size_t)n);
	return a;
}

START_TEST(test_kafka_replica_fetch_needs_administrator)
{
	struct kh_broker b;
	char topic[128];
	int64_t hw;
	int32_t len;

	ck_assert_int_eq(kh_broker_start(&b, plain_args), 0);
	int fd = kh_raw_connect(&b);
	kh_name(topic, sizeof(topic), "replfetch");
	create_topic(fd, topic);
	produce(&b, topic, 2);
	/* a consumer's fetch works for plain */
	ck_assert_int_eq(fetch(fd, -1, topic, 0, &hw, &len), 0);
	ck_assert_int_eq(hw, 2);
	ck_assert_int_gt(len, 0);
	/* a replica's is a cluster action: plain is no administrator */
	ck_assert_int_eq(fetch(fd, 2, topic, 0, &hw, &len), 31);
	ck_assert_int_eq(len, 0);
	/* the connection stays usable */
	ck_assert_int_eq(fetch(fd, -1, topic, 1, &hw, &len), 0);
	close(fd);
	kh_broker_destroy(&b);
}
END_TEST

START_TEST(test_kafka_replica_fetch_by_administrator)
{
	char topic[128];
	int fd = kh_raw_connect(kh_main());
	int64_t hw, off;
	int32_t len, clen;

	kh_name(topic, sizeof(topic), "replfetchadm");
	create_topic(fd, topic);
	produce(kh_main(), topic, 3);
	/* guest is tagged administrator: the log up to its end, the same
	 * bytes a consumer gets (the high watermark is the log end here) */
	ck_assert_int_eq(fetch(fd, -1, topic, 0, &hw, &clen), 0);
	ck_assert_int_eq(hw, 3);
	ck_assert_int_eq(fetch(fd, 2, topic, 0, &hw, &len), 0);
	ck_assert_int_eq(hw, 3);
	ck_assert_int_eq(len, clen);
	ck_assert_int_eq(fetch(fd, 2, topic, 3, &hw, &len), 0);
	ck_assert_int_eq(len, 0);
	ck_assert_int_eq(fetch(fd, 2, topic, 9, &hw, &len), 1); /* OFFSET_OUT_OF_RANGE */
	ck_assert_int_eq(fetch(fd, 2, "no-such-topic", 0, &hw, &len), 3);
	/* ListOffsets: latest is the log end for consumers and replicas alike */
	ck_assert_int_eq(list_offsets(fd, -1, topic, -1, &off), 0);
	ck_assert_int_eq(off, 3);
	ck_assert_int_eq(list_offsets(fd, 2, topic, -1, &off), 0);
	ck_assert_int_eq(off, 3);
	ck_assert_int_eq(list_offsets(fd, -1, topic, -2, &off), 0);
	ck_assert_int_eq(off, 0);
	close(fd);
}
END_TEST

START_TEST(test_kafka_offset_for_leader_epoch_advertised)
{
	int fd = kh_raw_connect(kh_main());
	int found = 0;

	kh_raw_request(fd, 18, 0, 7, NULL, 0);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 };
	ck_assert_int_eq(r16(&r), 0);
	int32_t cnt = r32(&r);
	for (int i = 0; i < cnt; i++) {
		int16_t key = r16(&r), min = r16(&r), max = r16(&r);
		found |= key == 23 && min == 0 && max == 4;
	}
	ck_assert(found);
	close(fd);
}
END_TEST

START_TEST(test_kafka_offset_for_leader_epoch_single_node)
{
	char topic[128];
	int fd = kh_raw_connect(kh_main());
	struct ofle_answer a;
	int64_t hw;
	int32_t len;

	kh_name(topic, sizeof(topic), "ofle");
	create_topic(fd, topic);
	produce(kh_main(), topic, 4);
	ck_assert_int_eq(fetch(fd, -1, topic, 0, &hw, &len), 0);
	ck_assert_int_eq(hw, 4);
	for (int16_t ver = 0; ver <= 3; ver++) {
		a = ofle(fd, ver, topic, 0, -1, 0);
		ck_assert_int_eq(a.err, 0);
		/* every record is of one epoch (or none): its end is the log end,
		 * or Kafka's UNDEFINED_EPOCH_OFFSET when the log knows no epoch */
		ck_assert_msg(a.end == 4 || (a.end == -1 && a.epoch == -1),
			      "v%d: epoch %d end %lld", ver, a.epoch, (long long)a.end);
		a = ofle(fd, ver, topic, 7, -1, 0);
		ck_assert_int_eq(a.err, 3);
		a = ofle(fd, ver, "no-such-topic", 0, -1, 0);
		ck_assert_int_eq(a.err, 3);
	}
	/* a truncated body closes the connection, as any malformed request */
	uint8_t bad[] = { 0, 0, 0, 1, 0, 2, 't' };
	kh_raw_request(fd, 23, 3, 9, bad, sizeof(bad));
	ck_assert(kh_raw_closed(fd, 5000));
	close(fd);
}
END_TEST

/* ---- a node of a cluster: the front end with a replica manager, in a child --- */

static struct kn_node kn;
static struct kh_broker node; /* port only: for kh_raw_connect */

/* t/0, t/2 and t/3 led here (epoch 3) with follower 2 in the ISR, t/1
 * led by node 2; 3 records each, written before the states came.
 * Command 1: node 2 takes the lead of t/3 (epoch 4). */
static int node_setup(struct tdm_topics *topics, struct tdm_replica *r, int cmd)
{
	int32_t here[2] = { 1, 2 }, there[2] = { 2, 1 };
	char err[256];

	if (cmd == 1)
		return kn_set_state(r, "t", 3, 2, 4, there, 2);
	if (tdm_topics_create(topics, "t", 4, NULL, 0, err, sizeof(err)) != TDM_TOPIC_OK)
		return -1;
	for (int32_t i = 0; i < 4; i++)
		if (kn_append(topics, "t", i, 3) < 0 ||
		    kn_set_state(r, "t", i, i == 1 ? 2 : 1, 3, i == 1 ? there : here, 2) < 0)
			return -1;
	return kn_set_state(r, "__consumer_offsets", 0, 2, 1, there, 2);
}

static void node_start(void)
{
	kn_start(&kn, node_setup, node_setup);
	node.port = kn.port;
}

static void node_stop(void)
{
	kn_stop(&kn);
}

START_TEST(test_kafka_cluster_consumer_reads_below_high_watermark)
{
	int fd = kh_raw_connect(&node);
	int64_t hw, off;
	int32_t len;

	/* t/0: 3 records here, follower 2 has fetched none: the high
	 * watermark is 0 */
	ck_assert_int_eq(fetch(fd, -1, "t", 0, &hw, &len), 0);
	ck_assert_int_eq(hw, 0);
	ck_assert_int_eq(len, 0);
	ck_assert_int_eq(list_offsets(fd, -1, "t", -1, &off), 0);
	ck_assert_int_eq(off, 0);
	ck_assert_int_eq(list_offsets(fd, 2, "t", -1, &off), 0);
	ck_assert_int_eq(off, 3);
	/* the follower reads up to the log end; its offset 0 moves nothing */
	ck_assert_int_eq(fetch(fd, 2, "t", 0, &hw, &len), 0);
	ck_assert_int_eq(hw, 0);
	ck_assert_int_gt(len, 0);
	/* a node that is no replica of t/0 */
	ck_assert_int_eq(fetch(fd, 5, "t", 0, &hw, &len), 3);
	close(fd);
}
END_TEST

START_TEST(test_kafka_cluster_not_leader)
{
	int fd = kh_raw_connect(&node);
	int64_t hw, off;
	int32_t len;
	struct wb b = { .n = 0 };

	/* t/1 is led by node 2 */
	fetch_body(&b, -1, 0, "t", 1, 0);
	kh_raw_request(fd, 1, 4, 300, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 8 };
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r16(&r), 6); /* NOT_LEADER_OR_FOLLOWER */
	ck_assert_int_eq(ofle(fd, 3, "t", 1, -1, 3).err, 6);
	ck_assert_int_eq(ofle(fd, 0, "t", 1, -1, 3).err, 6);
	(void)hw, (void)off, (void)len;
	/* ListOffsets of t/1 */
	b.n = 0;
	w32(&b, -1);
	w32(&b, 1);
	wstr(&b, "t");
	w32(&b, 1);
	w32(&b, 1);
	w64(&b, -1);
	kh_raw_request(fd, 2, 1, 500, b.d, b.n);
	n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	r = (struct rb){ resp, (size_t)n, 4 };
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r16(&r), 6);
	close(fd);
}
END_TEST

START_TEST(test_kafka_cluster_offset_for_leader_epoch_fencing)
{
	int fd = kh_raw_connect(&node);
	struct ofle_answer a;

	ck_assert_int_eq(ofle(fd, 3, "t", 0, 2, 3).err, 74); /* FENCED_LEADER_EPOCH */
	ck_assert_int_eq(ofle(fd, 3, "t", 0, 4, 3).err, 75); /* UNKNOWN_LEADER_EPOCH */
	ck_assert_int_eq(ofle(fd, 2, "t", 0, 2, 3).err, 74);
	/* epoch 3 started here at offset 3 (the log end when this node took
	 * the lead): it is the latest, its end is the log end */
	a = ofle(fd, 3, "t", 0, 3, 3);
	ck_assert_int_eq(a.err, 0);
	ck_assert_int_eq(a.epoch, 3);
	ck_assert_int_eq(a.end, 3);
	/* v0/v1 carry no current epoch: no fencing */
	a = ofle(fd, 1, "t", 0, -1, 3);
	ck_assert_int_eq(a.err, 0);
	ck_assert_int_eq(a.end, 3);
	close(fd);
}
END_TEST

START_TEST(test_kafka_cluster_parked_fetch_wakes_on_high_watermark)
{
	int consumer = kh_raw_connect(&node), follower = kh_raw_connect(&node);
	struct wb b = { .n = 0 };
	int64_t hw;
	int32_t len;

	/* a consumer parks on t/2 at offset 0 (nothing below the high
	 * watermark yet) for up to 8 s */
	fetch_body(&b, -1, 8000, "t", 2, 0);
	kh_raw_request(consumer, 1, 4, 900, b.d, b.n);
	uint64_t t0 = kh_now_ms();
	/* the follower reports it has everything: the high watermark moves to 3 */
	b.n = 0;
	fetch_body(&b, 2, 0, "t", 2, 3);
	kh_raw_request(follower, 1, 4, 901, b.d, b.n);
	long n = kh_raw_response(follower, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	/* the consumer is answered long before its max wait, with the records */
	n = kh_raw_response(consumer, resp, sizeof(resp), 8000);
	ck_assert_int_gt(n, 0);
	ck_assert_uint_lt(kh_now_ms() - t0, 4000);
	struct rb r = { resp, (size_t)n, 8 };
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 2);
	ck_assert_int_eq(r16(&r), 0);
	hw = r64(&r);
	r64(&r);
	r32(&r);
	len = r32(&r);
	ck_assert_int_eq(hw, 3);
	ck_assert_int_gt(len, 0);
	close(consumer);
	close(follower);
}
END_TEST

/* Fetch v4 by follower 2 of t/0 at offset with max_wait_ms: the answer's
 * high watermark, and how long it took in *ms. */
static int64_t follower_fetch(int fd, int64_t offset, int32_t max_wait_ms, uint64_t *ms)
{
	struct wb b = { .n = 0 };
	fetch_body(&b, 2, max_wait_ms, "t", 0, offset);
	uint64_t t0 = kh_now_ms();
	kh_raw_request(fd, 1, 4, 902, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), max_wait_ms + 5000);
	*ms = kh_now_ms() - t0;
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 8 };
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r16(&r), 0);
	return r64(&r);
}

START_TEST(test_kafka_cluster_follower_learns_a_moved_high_watermark_at_once)
{
	int fd = kh_raw_connect(&node);
	uint64_t ms;
	/* the follower copies t/0 (3 records): the high watermark is still 0 */
	ck_assert_int_eq(follower_fetch(fd, 0, 100, &ms), 0);
	/* it asks from 3, its log end: that moves the high watermark to 3, and
	 * with no new record to wait for it is answered at once with it (it
	 * would otherwise learn it only after max_wait_ms, and its readers
	 * read no further meanwhile) */
	ck_assert_int_eq(follower_fetch(fd, 3, 8000, &ms), 3);
	ck_assert_msg(ms < 4000, "a follower's fetch that moved the high watermark waited %llu ms",
		      (unsigned long long)ms);
	/* nothing moved since: it parks for its max wait */
	ck_assert_int_eq(follower_fetch(fd, 3, 1000, &ms), 3);
	ck_assert_msg(ms >= 800, "a follower's fetch with nothing new was answered after %llu ms",
		      (unsigned long long)ms);
	close(fd);
}
END_TEST

START_TEST(test_kafka_cluster_parked_follower_fetch_answers_not_leader)
{
	int follower = kh_raw_connect(&node);
	struct wb b = { .n = 0 };

	/* follower 2 has all of t/3 and parks for up to 8 s */
	fetch_body(&b, 2, 8000, "t", 3, 3);
	kh_raw_request(follower, 1, 4, 902, b.d, b.n);
	ck_assert_int_eq(kh_raw_response(follower, resp, sizeof(resp), 300), -1); /* parked */
	uint64_t t0 = kh_now_ms();
	/* this node loses the lead: the parked fetch answers at once */
	kn_command(&kn, 1);
	long n = kh_raw_response(follower, resp, sizeof(resp), 8000);
	ck_assert_int_gt(n, 0);
	ck_assert_uint_lt(kh_now_ms() - t0, 4000);
	struct rb r = { resp, (size_t)n, 8 };
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 3);
	ck_assert_int_eq(r16(&r), 6); /* NOT_LEADER_OR_FOLLOWER */
	close(follower);
}
END_TEST

/* ---- consumer groups on a node of a cluster -------------------------------- */

/* Sends api/version with body b and reads the answer into r (past the
 * correlation id). */
static void call(int fd, int16_t api, int16_t ver, const struct wb *b, struct rb *r)
{
	kh_raw_request(fd, api, ver, 700, b->d, b->n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	*r = (struct rb){ resp, (size_t)n, 4 };
}

/* FindCoordinator v0 of group g: checks the answer is node id at
 * 127.0.0.1:port. */
static void find_coordinator_is(int fd, int32_t id, int32_t port)
{
	struct wb b = { .n = 0 };
	struct rb r;
	wstr(&b, "g");
	call(fd, 10, 0, &b, &r);
	ck_assert_int_eq(r16(&r), 0);
	ck_assert_int_eq(r32(&r), id);
	ck_assert_int_eq(r16(&r), 9);
	ck_assert_mem_eq(r.p + r.off, "127.0.0.1", 9);
	r.off += 9;
	ck_assert_int_eq(r32(&r), port);
}

/* OffsetCommit v2 body: a simple commit of t/0 at offset off for group g. */
static void commit_body(struct wb *b, int64_t off)
{
	b->n = 0;
	wstr(b, "g");
	w32(b, -1);
	wstr(b, "");
	w64(b, -1);
	w32(b, 1);
	wstr(b, "t");
	w32(b, 1);
	w32(b, 0);
	w64(b, off);
	wstr(b, "");
}

/* The error of t/0 in an OffsetCommit v2 answer. */
static int16_t commit_answer(struct rb *r)
{
	ck_assert_int_eq(r32(r), 1);
	rskipstr(r);
	ck_assert_int_eq(r32(r), 1);
	ck_assert_int_eq(r32(r), 0);
	int16_t err = r16(r);
	ck_assert_uint_eq(r->off, r->n);
	return err;
}

/* OffsetFetch of t/0 for group g at ver: the partition's error, offset
 * and (v2) the top-level error. */
static int16_t offset_fetch(int fd, int16_t ver, int64_t *off, int16_t *top)
{
	struct wb b = { .n = 0 };
	struct rb r;
	wstr(&b, "g");
	w32(&b, 1);
	wstr(&b, "t");
	w32(&b, 1);
	w32(&b, 0);
	call(fd, 9, ver, &b, &r);
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	*off = r64(&r);
	rskipstr(&r);
	int16_t err = r16(&r);
	*top = ver >= 2 ? r16(&r) : 0;
	ck_assert_uint_eq(r.off, r.n);
	return err;
}

START_TEST(test_kafka_cluster_groups_not_coordinator)
{
	int fd = kh_raw_connect(&node);
	struct wb b = { .n = 0 };
	struct rb r;
	int64_t off;
	int16_t top;

	/* __consumer_offsets-0 is led by node 2: it coordinates */
	find_coordinator_is(fd, 2, 2);
	/* JoinGroup v0 */
	wstr(&b, "g");
	w32(&b, 10000);
	wstr(&b, "");
	wstr(&b, "consumer");
	w32(&b, 1);
	wstr(&b, "range");
	w32(&b, 0);
	call(fd, 11, 0, &b, &r);
	ck_assert_int_eq(r16(&r), 16);
	/* SyncGroup v0 */
	b.n = 0;
	wstr(&b, "g");
	w32(&b, 1);
	wstr(&b, "m");
	w32(&b, 0);
	call(fd, 14, 0, &b, &r);
	ck_assert_int_eq(r16(&r), 16);
	/* Heartbeat v0 */
	b.n = 0;
	wstr(&b, "g");
	w32(&b, 1);
	wstr(&b, "m");
	call(fd, 12, 0, &b, &r);
	ck_assert_int_eq(r16(&r), 16);
	/* LeaveGroup v0 */
	b.n = 0;
	wstr(&b, "g");
	wstr(&b, "m");
	call(fd, 13, 0, &b, &r);
	ck_assert_int_eq(r16(&r), 16);
	/* OffsetCommit v2 */
	commit_body(&b, 2);
	call(fd, 8, 2, &b, &r);
	ck_assert_int_eq(commit_answer(&r), 16);
	/* OffsetFetch v1 and v2 */
	ck_assert_int_eq(offset_fetch(fd, 1, &off, &top), 16);
	ck_assert_int_eq(off, -1);
	ck_assert_int_eq(offset_fetch(fd, 2, &off, &top), 16);
	ck_assert_int_eq(top, 16);
	/* DescribeGroups v0 */
	b.n = 0;
	w32(&b, 1);
	wstr(&b, "g");
	call(fd, 15, 0, &b, &r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r16(&r), 16);
	/* ListGroups v0: a broker lists the groups it coordinates */
	b.n = 0;
	call(fd, 16, 0, &b, &r);
	ck_assert_int_eq(r16(&r), 0);
	ck_assert_int_eq(r32(&r), 0);
	close(fd);
}
END_TEST

static struct kn_node kn_coord;
static struct kh_broker coord; /* port only: for kh_raw_connect */

/* t/0 led here; __consumer_offsets-0 led here (epoch 1) with follower 2
 * in the ISR.  Command 1: node 2 takes the lead of __consumer_offsets-0
 * (epoch 2). */
static int coord_setup(struct tdm_topics *topics, struct tdm_replica *r, int cmd)
{
	int32_t here[2] = { 1, 2 }, there[2] = { 2, 1 };
	char err[256];

	if (cmd == 1)
		return kn_set_state(r, "__consumer_offsets", 0, 2, 2, there, 2);
	if (tdm_topics_create(topics, "t", 1, NULL, 0, err, sizeof(err)) != TDM_TOPIC_OK ||
	    kn_set_state(r, "t", 0, 1, 1, here, 2) < 0)
		return -1;
	return kn_set_state(r, "__consumer_offsets", 0, 1, 1, here, 2);
}

static void coord_start(void)
{
	kn_start(&kn_coord, coord_setup, coord_setup);
	coord.port = kn_coord.port;
}

static void coord_stop(void)
{
	kn_stop(&kn_coord);
}

START_TEST(test_kafka_cluster_offset_commit_waits_for_isr)
{
	int fd = kh_raw_connect(&coord), follower = kh_raw_connect(&coord);
	struct wb b = { .n = 0 };
	struct rb r;
	int64_t hw, off;
	int32_t len;
	int16_t top;

	/* this node (1) leads __consumer_offsets-0: it coordinates */
	find_coordinator_is(fd, 1, 1);
	commit_body(&b, 2);
	kh_raw_request(fd, 8, 2, 800, b.d, b.n);
	/* follower 2 fetches the offsets log from 0: the commit is there,
	 * the high watermark has not passed it, the commit is not answered */
	ck_assert_int_eq(fetch(follower, 2, "__consumer_offsets", 0, &hw, &len), 0);
	ck_assert_int_eq(hw, 0);
	ck_assert_int_gt(len, 0);
	struct pollfd pf = { fd, POLLIN, 0 };
	ck_assert_int_eq(poll(&pf, 1, 0), 0);
	/* follower 2 has it: the commit is answered */
	ck_assert_int_eq(fetch(follower, 2, "__consumer_offsets", 1, &hw, &len), 0);
	ck_assert_int_eq(hw, 1);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	r = (struct rb){ resp, (size_t)n, 4 };
	ck_assert_int_eq(commit_answer(&r), 0);
	ck_assert_int_eq(offset_fetch(fd, 2, &off, &top), 0);
	ck_assert_int_eq(off, 2);
	ck_assert_int_eq(top, 0);

	/* a commit waiting when node 2 takes the lead: NOT_COORDINATOR */
	commit_body(&b, 3);
	kh_raw_request(fd, 8, 2, 801, b.d, b.n);
	ck_assert_int_eq(fetch(follower, 2, "__consumer_offsets", 1, &hw, &len), 0);
	ck_assert_int_gt(len, 0);
	kn_command(&kn_coord, 1);
	n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	r = (struct rb){ resp, (size_t)n, 4 };
	ck_assert_int_eq(commit_answer(&r), 16);
	find_coordinator_is(fd, 2, 2);
	ck_assert_int_eq(offset_fetch(fd, 2, &off, &top), 16);
	close(follower);
	close(fd);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kafka_raw_replica");
	TCase *tc = kh_tcase("raw_replica");
	tcase_add_test(tc, test_kafka_replica_fetch_needs_administrator);
	tcase_add_test(tc, test_kafka_replica_fetch_by_administrator);
	tcase_add_test(tc, test_kafka_offset_for_leader_epoch_advertised);
	tcase_add_test(tc, test_kafka_offset_for_leader_epoch_single_node);
	suite_add_tcase(s, tc);
	TCase *cl = kh_tcase("cluster_node");
	tcase_add_unchecked_fixture(cl, node_start, node_stop);
	tcase_add_test(cl, test_kafka_cluster_consumer_reads_below_high_watermark);
	tcase_add_test(cl, test_kafka_cluster_not_leader);
	tcase_add_test(cl, test_kafka_cluster_offset_for_leader_epoch_fencing);
	tcase_add_test(cl, test_kafka_cluster_parked_fetch_wakes_on_high_watermark);
	tcase_add_test(cl, test_kafka_cluster_parked_follower_fetch_answers_not_leader);
	tcase_add_test(cl, test_kafka_cluster_groups_not_coordinator);
	suite_add_tcase(s, cl);
	TCase *hw = kh_tcase("cluster_follower_hw"); /* a node of its own: t/0 untouched */
	tcase_add_unchecked_fixture(hw, node_start, node_stop);
	tcase_add_test(hw, test_kafka_cluster_follower_learns_a_moved_high_watermark_at_once);
	suite_add_tcase(s, hw);
	TCase *co = kh_tcase("cluster_coordinator");
	tcase_add_unchecked_fixture(co, coord_start, coord_stop);
	tcase_add_test(co, test_kafka_cluster_offset_commit_waits_for_isr);
	suite_add_tcase(s, co);
	return s;
}

int main(void)
{
	return kh_run_suite(suite(), NULL);
}
