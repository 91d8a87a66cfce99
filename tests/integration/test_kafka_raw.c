/* Kafka front end over raw sockets: ApiVersions and its KIP-511 fallback,
 * framing errors that close only their own connection, in-order answers
 * to pipelined requests, the error codes a real broker gives (corrupt
 * batch, bad acks, unknown topic, group errors), a parked fetch, and
 * group membership by version: JoinGroup v4's MEMBER_ID_REQUIRED and
 * static members (JoinGroup v5, SyncGroup v3, Heartbeat v3, OffsetCommit
 * v7, LeaveGroup v3, DescribeGroups v4), OffsetCommit v1. */
#include "kafka_harness.h"
#include "kraw.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint8_t resp[1 << 20];

/* An answer's length (> 0, or the test fails). */
static size_t answer_len(long n)
{
	ck_assert_int_gt(n, 0);
	return (size_t)n;
}

static int32_t correlation(void)
{
	return (int32_t)(resp[0] << 24 | resp[1] << 16 | resp[2] << 8 | resp[3]);
}

START_TEST(api_versions_and_fallback)
{
	int fd = kh_raw_connect(kh_main());
	struct rb r;
	int found_produce = 0, found_fetch = 0, found_metadata = 0;

	kh_raw_request(fd, 18, 0, 7, NULL, 0);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(correlation(), 7);
	r = (struct rb){ resp, (size_t)n, 4 };
	ck_assert_int_eq(r16(&r), 0);
	int32_t cnt = r32(&r);
	ck_assert_int_ge(cnt, 16);
	for (int i = 0; i < cnt; i++) {
		int16_t key = r16(&r), min = r16(&r), max = r16(&r);
		found_produce |= key == 0 && min == 0 && max == 9;
		found_fetch |= key == 1 && min == 4 && max == 13;
		found_metadata |= key == 3 && min == 0 && max == 12;
	}
	ck_assert(found_produce && found_fetch && found_metadata);
	ck_assert_uint_eq(r.off, (size_t)n);
	/* v4 (newer than served): a v0-shaped answer with error 35 (KIP-511) */
	uint8_t v4body[] = { 0x00, 0x04, 'a', 'b', 'c', 0x02, '1', 0x00 };
	kh_raw_request(fd, 18, 4, 8, v4body, sizeof(v4body));
	n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(correlation(), 8);
	r = (struct rb){ resp, (size_t)n, 4 };
	ck_assert_int_eq(r16(&r), 35);
	ck_assert_int_eq(r32(&r), cnt);
	close(fd);
}
END_TEST

static void assert_alive(void)
{
	int fd = kh_raw_connect(kh_main());
	kh_raw_request(fd, 18, 1, 1, NULL, 0);
	ck_assert_int_gt(kh_raw_response(fd, resp, sizeof(resp), 5000), 0);
	close(fd);
}

START_TEST(bad_frames_close_only_their_connection)
{
	int keep = kh_raw_connect(kh_main());
	/* a size below the smallest header */
	int fd = kh_raw_connect(kh_main());
	uint8_t tiny[] = { 0, 0, 0, 2, 0, 0 };
	(void)write(fd, tiny, sizeof(tiny));
	ck_assert(kh_raw_closed(fd, 5000));
	close(fd);
	/* a size over kafka_max_request_size */
	fd = kh_raw_connect(kh_main());
	uint8_t huge[] = { 0x7f, 0xff, 0xff, 0xff };
	(void)write(fd, huge, sizeof(huge));
	ck_assert(kh_raw_closed(fd, 5000));
	close(fd);
	/* an unknown API key */
	fd = kh_raw_connect(kh_main());
	kh_raw_request(fd, 999, 0, 1, NULL, 0);
	ck_assert(kh_raw_closed(fd, 5000));
	close(fd);
	/* a version we do not serve */
	fd = kh_raw_connect(kh_main());
	kh_raw_request(fd, 0, 7, 1, NULL, 0);
	ck_assert(kh_raw_closed(fd, 5000));
	close(fd);
	/* a truncated body: Metadata v1 claiming 5 topics */
	fd = kh_raw_connect(kh_main());
	uint8_t md[] = { 0, 0, 0, 5, 0, 1 };
	kh_raw_request(fd, 3, 1, 1, md, sizeof(md));
	ck_assert(kh_raw_closed(fd, 5000));
	close(fd);
	/* the bystander still gets answers */
	kh_raw_request(keep, 18, 0, 42, NULL, 0);
	ck_assert_int_gt(kh_raw_response(keep, resp, sizeof(resp), 5000), 0);
	ck_assert_int_eq(correlation(), 42);
	close(keep);
	assert_alive();
}
END_TEST

START_TEST(pipelined_requests_answered_in_order)
{
	int fd = kh_raw_connect(kh_main());
	uint8_t md0[] = { 0, 0, 0, 0 };
	kh_raw_request(fd, 18, 0, 1, NULL, 0);
	kh_raw_request(fd, 3, 0, 2, md0, sizeof(md0));
	kh_raw_request(fd, 18, 2, 3, NULL, 0);
	for (int32_t i = 1; i <= 3; i++) {
		ck_assert_int_gt(kh_raw_response(fd, resp, sizeof(resp), 5000), 0);
		ck_assert_int_eq(correlation(), i);
	}
	close(fd);
}
END_TEST

/* CreateTopics v1 of parts partitions, with cleanup.policy = policy
 * unless NULL; fails the test unless it is created. */
static void create_topic_cfg(int fd, const char *name, int parts, const char *policy)
{
	struct wb b = { .n = 0 };
	w32(&b, 1);
	wstr(&b, name);
	w32(&b, parts);
	w16(&b, 1);
	w32(&b, 0);
	w32(&b, policy ? 1 : 0);
	if (policy) {
		wstr(&b, "cleanup.policy");
		wstr(&b, policy);
	}
	w32(&b, 5000);
	w8(&b, 0);
	kh_raw_request(fd, 19, 1, 100, b.d, b.n);
	struct rb r = { resp, answer_len(kh_raw_response(fd, resp, sizeof(resp), 5000)), 8 };
	rskipstr(&r);
	ck_assert_int_eq(r16(&r), 0);
}

static void create_topic(int fd, const char *name, int parts)
{
	create_topic_cfg(fd, name, parts, NULL);
}

/* Produce v3 of one batch to topic/partition with acks; returns the error. */
static int16_t produce(int fd, const char *topic, int32_t part, int16_t acks, int break_crc,
		       int64_t *base)
{
	int err = kh_raw_produce(fd, topic, part, acks, 5000, "raw-value", break_crc, base, 5000);
	ck_assert_msg(err >= 0, "no answer to Produce");
	return (int16_t)err;
}

START_TEST(produce_errors)
{
	char topic[128];
	int fd = kh_raw_connect(kh_main());
	int64_t base = -1;

	kh_name(topic, sizeof(topic), "raw");
	create_topic(fd, topic, 2);
	ck_assert_int_eq(produce(fd, topic, 0, 1, 0, &base), 0);
	ck_assert_int_eq(base, 0);
	ck_assert_int_eq(produce(fd, topic, 0, -1, 0, &base), 0);
	ck_assert_int_eq(base, 1);
	ck_assert_int_eq(produce(fd, topic, 0, 1, 1, NULL), 2);  /* CORRUPT_MESSAGE */
	ck_assert_int_eq(produce(fd, topic, 0, 2, 0, NULL), 21); /* INVALID_REQUIRED_ACKS */
	ck_assert_int_eq(produce(fd, topic, 9, 1, 0, NULL), 3);  /* unknown partition */
	ck_assert_int_eq(produce(fd, "no-such-topic", 0, 1, 0, NULL), 3);
	close(fd);
}
END_TEST

/* Fetch v4 of one partition; returns the error and high watermark. */
static int16_t fetch(int fd, const char *topic, int64_t offset, int32_t max_wait, int64_t *hw,
		     int32_t *records_len)
{
	struct wb b = { .n = 0 };
	w32(&b, -1);
	w32(&b, max_wait);
	w32(&b, 1);
	w32(&b, 1 << 20);
	w8(&b, 0);
	w32(&b, 1);
	wstr(&b, topic);
	w32(&b, 1);
	w32(&b, 0);
	w64(&b, offset);
	w32(&b, 1 << 20);
	kh_raw_request(fd, 1, 4, 300, b.d, b.n);
	struct rb r = { resp, answer_len(kh_raw_response(fd, resp, sizeof(resp), max_wait + 5000)), 4 };
	r32(&r); /* throttle */
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	int16_t err = r16(&r);
	*hw = r64(&r);
	r64(&r);
	r32(&r);
	*records_len = r32(&r);
	return err;
}

START_TEST(fetch_parks_and_errors)
{
	char topic[128];
	int fd = kh_raw_connect(kh_main());
	int64_t hw;
	int32_t len;

	kh_name(topic, sizeof(topic), "rawfetch");
	create_topic(fd, topic, 1);
	/* empty partition: parked for max_wait, then an empty answer */
	uint64_t t0 = kh_now_ms();
	ck_assert_int_eq(fetch(fd, topic, 0, 400, &hw, &len), 0);
	ck_assert_uint_ge(kh_now_ms() - t0, 350);
	ck_assert_int_eq(hw, 0);
	ck_assert_int_eq(len, 0);
	ck_assert_int_eq(produce(fd, topic, 0, 1, 0, NULL), 0);
	ck_assert_int_eq(fetch(fd, topic, 0, 400, &hw, &len), 0);
	ck_assert_int_eq(hw, 1);
	ck_assert_int_gt(len, 61);
	ck_assert_int_eq(fetch(fd, topic, 5, 400, &hw, &len), 1); /* OFFSET_OUT_OF_RANGE */
	ck_assert_int_eq(fetch(fd, "nope", 0, 400, &hw, &len), 3);
	close(fd);
}
END_TEST

static int16_t simple_group_call(int fd, int16_t api, int16_t ver, struct wb *b)
{
	kh_raw_request(fd, api, ver, 400, b->d, b->n);
	struct rb r = { resp, answer_len(kh_raw_response(fd, resp, sizeof(resp), 5000)), 4 };
	if (ver >= 1)
		r32(&r);
	return r16(&r);
}

START_TEST(group_errors)
{
	int fd = kh_raw_connect(kh_main());
	struct wb b = { .n = 0 };

	/* Heartbeat v1 for an unknown group/member */
	wstr(&b, "raw-group");
	w32(&b, 1);
	wstr(&b, "nobody");
	ck_assert_int_eq(simple_group_call(fd, 12, 1, &b), 25);
	/* JoinGroup v2 with a session timeout below the minimum */
	b.n = 0;
	wstr(&b, "raw-group");
	w32(&b, 1000);
	w32(&b, 1000);
	wstr(&b, "");
	wstr(&b, "consumer");
	w32(&b, 1);
	wstr(&b, "range");
	w32(&b, 0);
	kh_raw_request(fd, 11, 2, 401, b.d, b.n);
	struct rb r = { resp, answer_len(kh_raw_response(fd, resp, sizeof(resp), 5000)), 8 };
	ck_assert_int_eq(r16(&r), 26);
	/* SyncGroup v1 for an unknown member */
	b.n = 0;
	wstr(&b, "raw-group");
	w32(&b, 1);
	wstr(&b, "nobody");
	w32(&b, 0);
	ck_assert_int_eq(simple_group_call(fd, 14, 1, &b), 25);
	/* LeaveGroup v1 for an unknown member */
	b.n = 0;
	wstr(&b, "raw-group");
	wstr(&b, "nobody");
	ck_assert_int_eq(simple_group_call(fd, 13, 1, &b), 25);
	/* FindCoordinator v0: this broker */
	b.n = 0;
	wstr(&b, "raw-group");
	kh_raw_request(fd, 10, 0, 402, b.d, b.n);
	r = (struct rb){ resp, answer_len(kh_raw_response(fd, resp, sizeof(resp), 5000)), 4 };
	ck_assert_int_eq(r16(&r), 0);
	ck_assert_int_eq(r32(&r), 1);
	/* OffsetFetch v1 of a group that never committed: -1 */
	b.n = 0;
	wstr(&b, "raw-group");
	w32(&b, 1);
	wstr(&b, "some-topic");
	w32(&b, 1);
	w32(&b, 0);
	kh_raw_request(fd, 9, 1, 403, b.d, b.n);
	r = (struct rb){ resp, answer_len(kh_raw_response(fd, resp, sizeof(resp), 5000)), 4 };
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r64(&r), -1);
	close(fd);
}
END_TEST

/* DeleteRecords v1 of one partition; returns the error and *low. */
static int16_t delete_records(int fd, const char *topic, int32_t part, int64_t offset, int64_t *low)
{
	struct wb b = { .n = 0 };
	w32(&b, 1);
	wstr(&b, topic);
	w32(&b, 1);
	w32(&b, part);
	w64(&b, offset);
	w32(&b, 5000);
	kh_raw_request(fd, 21, 1, 102, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 };
	ck_assert_int_eq(r32(&r), 0); /* throttle_time_ms */
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), part);
	*low = r64(&r);
	int16_t err = r16(&r);
	ck_assert_uint_eq(r.off, (size_t)n);
	return err;
}

/* DeleteRecords: the log start moves (never back), -1 is the high
 * watermark, past it OFFSET_OUT_OF_RANGE, unknown partitions and topics
 * UNKNOWN_TOPIC_OR_PARTITION, a compacted topic POLICY_VIOLATION; a Fetch
 * below the new start is OFFSET_OUT_OF_RANGE. */
START_TEST(delete_records_errors)
{
	char topic[128], compacted[128];
	int fd = kh_raw_connect(kh_main());
	int64_t low = -2;

	kh_name(topic, sizeof(topic), "rawdel");
	kh_name(compacted, sizeof(compacted), "rawdelc");
	create_topic(fd, topic, 1);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(produce(fd, topic, 0, 1, 0, NULL), 0);
	ck_assert_int_eq(delete_records(fd, topic, 0, 2, &low), 0);
	ck_assert_int_eq(low, 2);
	ck_assert_int_eq(delete_records(fd, topic, 0, 1, &low), 0); /* never back */
	ck_assert_int_eq(low, 2);
	ck_assert_int_eq(delete_records(fd, topic, 0, 4, &low), 1);
	ck_assert_int_eq(low, -1);
	ck_assert_int_eq(delete_records(fd, topic, 0, -1, &low), 0);
	ck_assert_int_eq(low, 3);
	ck_assert_int_eq(delete_records(fd, topic, 7, 0, &low), 3);
	ck_assert_int_eq(delete_records(fd, "no-such-topic", 0, 0, &low), 3);
	create_topic_cfg(fd, compacted, 1, "compact");
	ck_assert_int_eq(delete_records(fd, compacted, 0, 0, &low), 44);
	int64_t hw = -1;
	int32_t len = -1;
	ck_assert_int_eq(fetch(fd, topic, 2, 0, &hw, &len), 1);
	ck_assert_int_eq(fetch(fd, topic, 3, 0, &hw, &len), 0);
	close(fd);
	assert_alive();
}
END_TEST

/* OffsetCommit v2 of a simple consumer (generation -1): offset of
 * topic/partition for group. */
static void commit_simple(int fd, const char *group, const char *topic, int32_t part, int64_t offset)
{
	struct wb b = { .n = 0 };
	wstr(&b, group);
	w32(&b, -1);
	wstr(&b, "");
	w64(&b, -1);
	w32(&b, 1);
	wstr(&b, topic);
	w32(&b, 1);
	w32(&b, part);
	w64(&b, offset);
	wstr(&b, NULL);
	kh_raw_request(fd, 8, 2, 106, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 };
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	r32(&r);
	ck_assert_int_eq(r16(&r), 0);
}

/* Reads one DescribeConfigs v1 result's head; returns its error and the
 * count of its config entries. */
static int16_t configs_head(struct rb *r, int8_t type, int32_t *n)
{
	int16_t err = r16(r);
	rskipstr(r); /* error_message */
	ck_assert_int_eq((int8_t)r->p[r->off++], type);
	rskipstr(r);
	*n = r32(r);
	return err;
}

/* DescribeConfigs v1: every config of a topic (well formed: name, value,
 * read_only, source, sensitive, synonyms), the override's source 1, the
 * broker's named configs only, an unknown resource type INVALID_REQUEST. */
START_TEST(describe_configs_raw)
{
	char topic[128];
	int fd = kh_raw_connect(kh_main());
	struct wb b = { .n = 0 };

	kh_name(topic, sizeof(topic), "rawcfg");
	create_topic_cfg(fd, topic, 1, "compact");
	w32(&b, 3);
	w8(&b, 2); /* TOPIC, every key */
	wstr(&b, topic);
	w32(&b, -1);
	w8(&b, 4); /* BROKER 1, one key */
	wstr(&b, "1");
	w32(&b, 1);
	wstr(&b, "num.partitions");
	w8(&b, 9); /* no such type */
	wstr(&b, "x");
	w32(&b, -1);
	w8(&b, 1); /* include_synonyms */
	kh_raw_request(fd, 32, 1, 103, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 };
	int32_t cnt, found = 0;
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r32(&r), 3);
	ck_assert_int_eq(configs_head(&r, 2, &cnt), 0);
	ck_assert_int_gt(cnt, 10);
	for (int32_t i = 0; i < cnt; i++) {
		int16_t nl = r16(&r);
		int is_policy = nl == 14 && !memcmp(r.p + r.off, "cleanup.policy", 14);
		r.off += (size_t)nl;
		int16_t vl = r16(&r);
		if (is_policy) {
			ck_assert_int_eq(vl, 7);
			ck_assert(!memcmp(r.p + r.off, "compact", 7));
		}
		r.off += vl > 0 ? (size_t)vl : 0;
		r.off++; /* read_only */
		int8_t source = (int8_t)r.p[r.off++];
		ck_assert_int_eq(source, is_policy ? 1 : 5);
		found += is_policy;
		r.off++; /* is_sensitive */
		int32_t ns = r32(&r);
		for (int32_t k = 0; k < ns; k++) {
			rskipstr(&r);
			rskipstr(&r);
			r.off++;
		}
	}
	ck_assert_int_eq(found, 1);
	ck_assert_int_eq(configs_head(&r, 4, &cnt), 0);
	ck_assert_int_eq(cnt, 1);
	rskipstr(&r);
	rskipstr(&r);
	ck_assert_int_eq(r.p[r.off++], 1); /* read-only */
	r.off += 2;                        /* source, is_sensitive */
	ck_assert_int_eq(r32(&r), 0);      /* no synonyms */
	ck_assert_int_eq(configs_head(&r, 9, &cnt), 42);
	ck_assert_int_eq(cnt, 0);
	ck_assert_uint_eq(r.off, (size_t)n);
	close(fd);
	assert_alive();
}
END_TEST

/* DescribeConfigs v0 of one key of topic: its value into out (and
 * whether it is an override, is_default false). */
static void config_of(int fd, const char *topic, const char *key, char *out, size_t cap,
		      int *override)
{
	struct wb b = { .n = 0 };
	w32(&b, 1);
	w8(&b, 2);
	wstr(&b, topic);
	w32(&b, 1);
	wstr(&b, key);
	kh_raw_request(fd, 32, 0, 104, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 };
	int32_t cnt;
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(configs_head(&r, 2, &cnt), 0);
	ck_assert_int_eq(cnt, 1);
	rskipstr(&r);
	int16_t vl = r16(&r);
	ck_assert_int_ge(vl, 0);
	ck_assert_uint_lt((size_t)vl, cap);
	memcpy(out, r.p + r.off, (size_t)vl);
	out[vl] = '\0';
	r.off += (size_t)vl + 1; /* read_only */
	*override = !r.p[r.off];
}

/* One resource of an (Incremental)AlterConfigs answer: its error, with
 * the message in msg. */
static int16_t alter_result(struct rb *r, int8_t type, char *msg, size_t cap)
{
	int16_t err = r16(r), ml = r16(r);
	msg[0] = '\0';
	if (ml > 0) {
		size_t k = (size_t)ml < cap - 1 ? (size_t)ml : cap - 1;
		memcpy(msg, r->p + r->off, k);
		msg[k] = '\0';
		r->off += (size_t)ml;
	}
	ck_assert_int_eq((int8_t)r->p[r->off++], type);
	rskipstr(r);
	return err;
}

static void alter_entry(struct wb *b, const char *key, int8_t op, const char *value)
{
	wstr(b, key);
	w8(b, (uint8_t)op);
	wstr(b, value);
}

/* IncrementalAlterConfigs v0: SET, APPEND to a list, DELETE back to the
 * default, applied together; Kafka's errors per resource (APPEND to a
 * non-list 40, a key twice 42, SET of null 42, an unknown key 40, an
 * unknown type 42); the broker with nothing to change is fine; then
 * SUBTRACT; AlterConfigs v1 validate_only changes nothing, and AlterConfigs
 * v0 replaces the whole set (what it leaves out goes back to the default). */
START_TEST(alter_configs_raw)
{
	char topic[128], v[128], msg[256];
	int fd = kh_raw_connect(kh_main()), ovr;
	struct wb b = { .n = 0 };

	kh_name(topic, sizeof(topic), "rawalter");
	create_topic_cfg(fd, topic, 1, "compact");
	w32(&b, 7);
	w8(&b, 2);
	wstr(&b, topic);
	w32(&b, 3);
	alter_entry(&b, "retention.ms", 0, "5000");
	alter_entry(&b, "cleanup.policy", 2, "delete");
	alter_entry(&b, "max.message.bytes", 1, NULL);
	w8(&b, 2);
	wstr(&b, topic);
	w32(&b, 1);
	alter_entry(&b, "segment.ms", 2, "1");
	w8(&b, 2);
	wstr(&b, topic);
	w32(&b, 2);
	alter_entry(&b, "retention.ms", 0, "1");
	alter_entry(&b, "retention.ms", 1, NULL);
	w8(&b, 2);
	wstr(&b, topic);
	w32(&b, 1);
	alter_entry(&b, "retention.ms", 0, NULL);
	w8(&b, 2);
	wstr(&b, topic);
	w32(&b, 1);
	alter_entry(&b, "no.such.config", 0, "1");
	w8(&b, 4);
	wstr(&b, "1");
	w32(&b, 0);
	w8(&b, 9);
	wstr(&b, "x");
	w32(&b, 0);
	w8(&b, 0); /* validate_only */
	kh_raw_request(fd, 44, 0, 105, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 };
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r32(&r), 7);
	ck_assert_int_eq(alter_result(&r, 2, msg, sizeof(msg)), 0);
	ck_assert_int_eq(alter_result(&r, 2, msg, sizeof(msg)), 40);
	ck_assert_str_eq(msg, "Config value append is not allowed for config key: segment.ms");
	ck_assert_int_eq(alter_result(&r, 2, msg, sizeof(msg)), 42);
	ck_assert_int_eq(alter_result(&r, 2, msg, sizeof(msg)), 42);
	ck_assert_int_eq(alter_result(&r, 2, msg, sizeof(msg)), 40);
	ck_assert_str_eq(msg, "Unknown topic config name: no.such.config");
	ck_assert_int_eq(alter_result(&r, 4, msg, sizeof(msg)), 0);
	ck_assert_int_eq(alter_result(&r, 9, msg, sizeof(msg)), 42);
	ck_assert_uint_eq(r.off, (size_t)n);
	config_of(fd, topic, "retention.ms", v, sizeof(v), &ovr);
	ck_assert_str_eq(v, "5000");
	ck_assert(ovr);
	config_of(fd, topic, "cleanup.policy", v, sizeof(v), &ovr);
	ck_assert_str_eq(v, "compact,delete");

	b.n = 0; /* SUBTRACT compact */
	w32(&b, 1);
	w8(&b, 2);
	wstr(&b, topic);
	w32(&b, 1);
	alter_entry(&b, "cleanup.policy", 3, "compact");
	w8(&b, 0);
	kh_raw_request(fd, 44, 0, 106, b.d, b.n);
	n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	r = (struct rb){ resp, (size_t)n, 8 + 4 };
	ck_assert_int_eq(alter_result(&r, 2, msg, sizeof(msg)), 0);
	config_of(fd, topic, "cleanup.policy", v, sizeof(v), &ovr);
	ck_assert_str_eq(v, "delete");

	for (int validate = 1; validate >= 0; validate--) {
		b.n = 0; /* AlterConfigs: segment.ms only */
		w32(&b, 1);
		w8(&b, 2);
		wstr(&b, topic);
		w32(&b, 1);
		wstr(&b, "segment.ms");
		wstr(&b, "60000");
		w8(&b, (uint8_t)validate);
		kh_raw_request(fd, 33, validate ? 1 : 0, 107, b.d, b.n);
		n = kh_raw_response(fd, resp, sizeof(resp), 5000);
		r = (struct rb){ resp, (size_t)n, 8 + 4 };
		ck_assert_int_eq(alter_result(&r, 2, msg, sizeof(msg)), 0);
		config_of(fd, topic, "retention.ms", v, sizeof(v), &ovr);
		ck_assert_str_eq(v, validate ? "5000" : "604800000");
		ck_assert_int_eq(ovr, validate);
		config_of(fd, topic, "segment.ms", v, sizeof(v), &ovr);
		ck_assert_str_eq(v, validate ? "604800000" : "60000");
	}
	close(fd);
	assert_alive();
}
END_TEST

/* ApiVersions v3 (flexible request, response header v0 as Kafka): the
 * compact array of every API with its range, CreateTopics up to 7 with
 * its flexible versions, then throttle time and no tagged fields. */
START_TEST(api_versions_v3_flexible)
{
	int fd = kh_raw_connect(kh_main());
	struct wb b = { .n = 0 };
	w8(&b, 0); /* request header v2: no tagged fields */
	wcstr(&b, "tandem-raw-test");
	wcstr(&b, "1.0");
	w8(&b, 0);
	kh_raw_request(fd, 18, 3, 300, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 }; /* no header tags: v0 */
	ck_assert_int_eq(r16(&r), 0);
	uint32_t napis = ruv(&r) - 1, seen = 0;
	ck_assert_uint_gt(napis, 20);
	for (uint32_t i = 0; i < napis; i++) {
		int16_t key = r16(&r), min = r16(&r), max = r16(&r);
		ck_assert_int_le(min, max);
		if (key == 19) {
			ck_assert_int_eq(max, 7);
			seen++;
		}
		ck_assert_int_eq(r.p[r.off++], 0); /* tags */
	}
	ck_assert_uint_eq(seen, 1);
	ck_assert_int_eq(r32(&r), 0); /* throttle */
	ck_assert_int_eq(r.p[r.off++], 0);
	ck_assert_uint_eq(r.off, (size_t)n);
	close(fd);
}
END_TEST

/* CreateTopics v5 (flexible, KIP-525): partitions and replication factor
 * -1 take the broker's defaults, and the answer says which (1 and 1), with
 * every config: retention.ms as asked (source 1), cleanup.policy the
 * default (source 5); the same name again is TOPIC_ALREADY_EXISTS with
 * -1, -1 and null configs. */
START_TEST(create_topics_v5_flexible)
{
	char topic[128], name[128], value[128], msg[256];
	int fd = kh_raw_connect(kh_main());
	kh_name(topic, sizeof(topic), "flex");
	for (int round = 0; round < 2; round++) {
		struct wb b = { .n = 0 };
		w8(&b, 0);  /* header tags */
		wuv(&b, 2); /* one topic */
		wcstr(&b, topic);
		w32(&b, -1);
		w16(&b, -1);
		wuv(&b, 1); /* no assignments */
		wuv(&b, 2); /* one config */
		wcstr(&b, "retention.ms");
		wcstr(&b, "1234");
		w8(&b, 0);
		w8(&b, 0);  /* topic tags */
		w32(&b, 5000);
		w8(&b, 0);  /* validate_only */
		w8(&b, 0);
		kh_raw_request(fd, 19, 5, 301, b.d, b.n);
		long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
		ck_assert_int_gt(n, 0);
		struct rb r = { resp, (size_t)n, 4 };
		ck_assert_int_eq(r.p[r.off++], 0); /* response header v1: no tags */
		ck_assert_int_eq(r32(&r), 0);
		ck_assert_uint_eq(ruv(&r), 2);
		rcstr(&r, name, sizeof(name));
		ck_assert_str_eq(name, topic);
		int16_t err = r16(&r);
		int ml = rcstr(&r, msg, sizeof(msg));
		if (round == 1) {
			ck_assert_int_eq(err, 36);
			ck_assert_int_gt(ml, 0);
			ck_assert_int_eq(r32(&r), -1);
			ck_assert_int_eq(r16(&r), -1);
			ck_assert_uint_eq(ruv(&r), 0); /* null configs */
		} else {
			ck_assert_int_eq(err, 0);
			ck_assert_int_eq(ml, -1);
			ck_assert_int_eq(r32(&r), 1);
			ck_assert_int_eq(r16(&r), 1);
			uint32_t nc = ruv(&r) - 1, found = 0;
			ck_assert_uint_gt(nc, 10);
			for (uint32_t i = 0; i < nc; i++) {
				rcstr(&r, name, sizeof(name));
				rcstr(&r, value, sizeof(value));
				ck_assert_int_eq(r.p[r.off++], 0); /* read_only */
				int8_t src = (int8_t)r.p[r.off++];
				r.off++; /* is_sensitive */
				ck_assert_int_eq(r.p[r.off++], 0);
				if (!strcmp(name, "retention.ms")) {
					ck_assert_str_eq(value, "1234");
					ck_assert_int_eq(src, 1);
					found++;
				} else if (!strcmp(name, "cleanup.policy")) {
					ck_assert_str_eq(value, "delete");
					ck_assert_int_eq(src, 5);
					found++;
				}
			}
			ck_assert_uint_eq(found, 2);
		}
		ck_assert_int_eq(r.p[r.off++], 0); /* topic tags */
		ck_assert_int_eq(r.p[r.off++], 0); /* body tags */
		ck_assert_uint_eq(r.off, (size_t)n);
	}
	close(fd);
	assert_alive();
}
END_TEST

/* ListGroups v4 (flexible) of a state filter: whether group is listed,
 * and with which state.  extra_tags more empty tag sections end the
 * request (librdkafka 2.0.2 sends one). */
static int listed_v4(int fd, const char *filter, int extra_tags, const char *group, char *state,
		     size_t cap)
{
	char id[256], type[64], st[64];
	struct wb b = { .n = 0 };
	int found = 0;
	w8(&b, 0); /* header tags */
	wuv(&b, filter ? 2 : 1);
	if (filter)
		wcstr(&b, filter);
	w8(&b, 0);
	for (int i = 0; i < extra_tags; i++)
		w8(&b, 0);
	kh_raw_request(fd, 16, 4, 302, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 };
	ck_assert_int_eq(r.p[r.off++], 0); /* response header tags */
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r16(&r), 0);
	uint32_t ng = ruv(&r) - 1;
	for (uint32_t i = 0; i < ng; i++) {
		rcstr(&r, id, sizeof(id));
		rcstr(&r, type, sizeof(type));
		rcstr(&r, st, sizeof(st));
		ck_assert_int_eq(r.p[r.off++], 0);
		if (!strcmp(id, group)) {
			found = 1;
			snprintf(state, cap, "%s", st);
		}
	}
	ck_assert_int_eq(r.p[r.off++], 0);
	ck_assert_uint_eq(r.off, (size_t)n);
	return found;
}

/* ListGroups: v1 puts the throttle time first; v4 (flexible) gives each
 * group's state and filters by it (without case, as Kafka), and lets
 * through the second empty tag section librdkafka 2.0.2 ends it with. */
START_TEST(list_groups_with_states)
{
	char topic[128], group[128], state[64] = "";
	int fd = kh_raw_connect(kh_main());
	kh_name(topic, sizeof(topic), "rawlist");
	kh_name(group, sizeof(group), "rawlistg");
	create_topic(fd, topic, 1);
	commit_simple(fd, group, topic, 0, 1); /* a group of offsets only: Empty */
	kh_raw_request(fd, 16, 1, 303, NULL, 0);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 };
	ck_assert_int_eq(r32(&r), 0); /* throttle */
	ck_assert_int_eq(r16(&r), 0);
	ck_assert_int_gt(r32(&r), 0);
	ck_assert(listed_v4(fd, NULL, 0, group, state, sizeof(state)));
	ck_assert_str_eq(state, "Empty");
	ck_assert(listed_v4(fd, "empty", 0, group, state, sizeof(state)));
	ck_assert(!listed_v4(fd, "Stable", 0, group, state, sizeof(state)));
	/* librdkafka 2.0.2's ListConsumerGroups: a second empty tag section */
	ck_assert(listed_v4(fd, NULL, 1, group, state, sizeof(state)));
	close(fd);
	/* anything more after the body still closes the connection */
	fd = kh_raw_connect(kh_main());
	uint8_t body[] = { 0x00, 0x01, 0x00, 0x00, 0x00 };
	kh_raw_request(fd, 16, 4, 304, body, sizeof(body));
	ck_assert(kh_raw_closed(fd, 5000));
	close(fd);
	assert_alive();
}
END_TEST

/* DescribeCluster v0 (flexible only): the cluster id, controller 1 and
 * this broker on the port the client reached; the authorized operations
 * when asked (the test broker trusts everyone: administrator bits). */
START_TEST(describe_cluster_v0)
{
	char id[64], host[64];
	int fd = kh_raw_connect(kh_main());
	for (int ops = 0; ops <= 1; ops++) {
		uint8_t body[] = { 0x00, (uint8_t)ops, 0x00 };
		kh_raw_request(fd, 60, 0, 304, body, sizeof(body));
		long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
		ck_assert_int_gt(n, 0);
		struct rb r = { resp, (size_t)n, 4 };
		ck_assert_int_eq(r.p[r.off++], 0); /* response header tags */
		ck_assert_int_eq(r32(&r), 0);
		ck_assert_int_eq(r16(&r), 0);
		ck_assert_int_eq(rcstr(&r, id, sizeof(id)), -1); /* error_message */
		ck_assert_int_gt(rcstr(&r, id, sizeof(id)), 0);
		ck_assert_int_eq(r32(&r), 1); /* controller */
		ck_assert_uint_eq(ruv(&r), 2);
		ck_assert_int_eq(r32(&r), 1);
		rcstr(&r, host, sizeof(host));
		ck_assert_str_eq(host, "127.0.0.1");
		ck_assert_int_eq(r32(&r), kh_main()->port);
		ck_assert_int_eq(rcstr(&r, host, sizeof(host)), -1); /* rack */
		ck_assert_int_eq(r.p[r.off++], 0);
		int32_t bits = r32(&r);
		if (ops)
			ck_assert_int_eq(bits & (1 << 8), 1 << 8);
		else
			ck_assert_int_eq(bits, INT32_MIN);
		ck_assert_int_eq(r.p[r.off++], 0);
		ck_assert_uint_eq(r.off, (size_t)n);
	}
	close(fd);
}
END_TEST

/* DeleteGroups v1: a simple group's committed offsets go; then it is
 * GROUP_ID_NOT_FOUND; an empty id INVALID_GROUP_ID. */
START_TEST(delete_groups_raw)
{
	char topic[128], group[128];
	int fd = kh_raw_connect(kh_main());
	struct wb b = { .n = 0 };

	kh_name(topic, sizeof(topic), "rawdg");
	kh_name(group, sizeof(group), "rawdg-group");
	create_topic(fd, topic, 1);
	commit_simple(fd, group, topic, 0, 0);
	for (int round = 0; round < 2; round++) {
		b.n = 0;
		w32(&b, 2);
		wstr(&b, group);
		wstr(&b, "");
		kh_raw_request(fd, 42, 1, 105, b.d, b.n);
		long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
		ck_assert_int_gt(n, 0);
		struct rb r = { resp, (size_t)n, 4 };
		ck_assert_int_eq(r32(&r), 0);
		ck_assert_int_eq(r32(&r), 2);
		rskipstr(&r);
		ck_assert_int_eq(r16(&r), round == 0 ? 0 : 69);
		rskipstr(&r);
		ck_assert_int_eq(r16(&r), 24);
		ck_assert_uint_eq(r.off, (size_t)n);
	}
	close(fd);
	assert_alive();
}
END_TEST

/* OffsetFetch v1 of one partition: the committed offset, -1 for none. */
static int64_t committed(int fd, const char *group, const char *topic, int32_t part)
{
	struct wb b = { .n = 0 };
	wstr(&b, group);
	w32(&b, 1);
	wstr(&b, topic);
	w32(&b, 1);
	w32(&b, part);
	kh_raw_request(fd, 9, 1, 107, b.d, b.n);
	struct rb r = { resp, answer_len(kh_raw_response(fd, resp, sizeof(resp), 5000)), 4 };
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	r32(&r);
	return r64(&r);
}

/* OffsetDelete v0 of group's partitions parts[0..n) of topic: the top
 * error; errs (may be NULL) gets the partitions'. */
static int16_t offset_delete(int fd, const char *group, const char *topic, const int32_t *parts,
			     int n, int16_t *errs)
{
	struct wb b = { .n = 0 };
	wstr(&b, group);
	w32(&b, 1);
	wstr(&b, topic);
	w32(&b, n);
	for (int i = 0; i < n; i++)
		w32(&b, parts[i]);
	kh_raw_request(fd, 47, 0, 108, b.d, b.n);
	long len = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(len, 0);
	struct rb r = { resp, (size_t)len, 4 };
	int16_t top = r16(&r);
	ck_assert_int_eq(r32(&r), 0); /* throttle_time_ms */
	int32_t nt = r32(&r);
	ck_assert_int_eq(nt, top ? 0 : 1);
	if (nt) {
		rskipstr(&r);
		ck_assert_int_eq(r32(&r), n);
		for (int i = 0; i < n; i++) {
			ck_assert_int_eq(r32(&r), parts[i]);
			int16_t e = r16(&r);
			if (errs)
				errs[i] = e;
		}
	}
	ck_assert_uint_eq(r.off, (size_t)len);
	return top;
}

/* OffsetDelete: a simple group's offsets of one partition go (the other
 * topic's stay), an unknown partition is UNKNOWN_TOPIC_OR_PARTITION, an
 * unknown group GROUP_ID_NOT_FOUND, and a consumer group whose member
 * subscribes to the topic GROUP_SUBSCRIBED_TO_TOPIC. */
START_TEST(offset_delete_raw)
{
	char topic[128], other[128], group[128], live[128];
	int fd = kh_raw_connect(kh_main());
	int16_t errs[2];
	static const int32_t parts[] = { 0, 5 };

	kh_name(topic, sizeof(topic), "rawod");
	kh_name(other, sizeof(other), "rawod-other");
	kh_name(group, sizeof(group), "rawod-group");
	kh_name(live, sizeof(live), "rawod-live");
	create_topic(fd, topic, 1);
	create_topic(fd, other, 1);
	commit_simple(fd, group, topic, 0, 3);
	commit_simple(fd, group, other, 0, 4);
	ck_assert_int_eq(offset_delete(fd, group, topic, parts, 2, errs), 0);
	ck_assert_int_eq(errs[0], 0);
	ck_assert_int_eq(errs[1], 3);
	ck_assert_int_eq(committed(fd, group, topic, 0), -1);
	ck_assert_int_eq(committed(fd, group, other, 0), 4);
	ck_assert_int_eq(offset_delete(fd, "rawod-no-such-group", topic, parts, 1, NULL), 69);
	/* JoinGroup v2 of a consumer subscribed to `other` (a group of one: it
	 * completes at once) */
	struct wb b = { .n = 0 }, meta = { .n = 0 };
	w16(&meta, 0);
	w32(&meta, 1);
	wstr(&meta, other);
	w32(&meta, -1);
	wstr(&b, live);
	w32(&b, 10000);
	w32(&b, 10000);
	wstr(&b, "");
	wstr(&b, "consumer");
	w32(&b, 1);
	wstr(&b, "range");
	w32(&b, (int32_t)meta.n);
	memcpy(b.d + b.n, meta.d, meta.n);
	b.n += meta.n;
	kh_raw_request(fd, 11, 2, 109, b.d, b.n);
	struct rb r = { resp, answer_len(kh_raw_response(fd, resp, sizeof(resp), 15000)), 8 };
	ck_assert_int_eq(r16(&r), 0);
	commit_simple(fd, group, other, 0, 4); /* unchanged: simple commits still allowed */
	ck_assert_int_eq(offset_delete(fd, live, other, parts, 1, errs), 0);
	ck_assert_int_eq(errs[0], 86);
	close(fd);
	assert_alive();
}
END_TEST

/* OffsetCommit v1 (Sarama 1.22's consumers send it): a commit timestamp
 * per partition instead of v2's retention time (-1: now, or a time; not
 * kept), the answer without a throttle time; OffsetFetch then has it. */
static void commit_v1(int fd, const char *group, const char *topic, int64_t offset, int64_t when)
{
	struct wb b = { .n = 0 };
	wstr(&b, group);
	w32(&b, -1); /* generation: a simple commit */
	wstr(&b, "");
	w32(&b, 1);
	wstr(&b, topic);
	w32(&b, 1);
	w32(&b, 0);
	w64(&b, offset);
	w64(&b, when); /* commit_timestamp */
	wstr(&b, "v1 metadata");
	kh_raw_request(fd, 8, 1, 110, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	struct rb r = { resp, answer_len(n), 4 };
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r16(&r), 0);
	ck_assert_uint_eq(r.off, (size_t)n);
}

START_TEST(offset_commit_v1)
{
	char topic[128], group[128];
	int fd = kh_raw_connect(kh_main());

	kh_name(topic, sizeof(topic), "rawoc1");
	kh_name(group, sizeof(group), "rawoc1-group");
	create_topic(fd, topic, 1);
	commit_v1(fd, group, topic, 7, -1);
	ck_assert_int_eq(committed(fd, group, topic, 0), 7);
	commit_v1(fd, group, topic, 9, 1700000000000LL);
	ck_assert_int_eq(committed(fd, group, topic, 0), 9);
	close(fd);
	assert_alive();
}
END_TEST

/* ---- group membership: KIP-394 member ids and KIP-345 static members ---- */

/* A JoinGroup body: session 10 s, rebalance timeout 500 ms (so the
 * first rebalance's delay is short too), protocol "range". */
static void join_body(struct wb *b, int16_t ver, const char *group, const char *member,
		      const char *instance)
{
	b->n = 0;
	wstr(b, group);
	w32(b, 10000);
	w32(b, 500);
	wstr(b, member);
	if (ver >= 5)
		wstr(b, instance);
	wstr(b, "consumer");
	w32(b, 1);
	wstr(b, "range");
	w32(b, 4);
	memcpy(b->d + b->n, "meta", 4);
	b->n += 4;
}

static void join_send(int fd, int16_t ver, const char *group, const char *member,
		      const char *instance)
{
	struct wb b;
	join_body(&b, ver, group, member, instance);
	kh_raw_request(fd, 11, ver, 300, b.d, b.n);
}

struct join_answer {
	int16_t err;
	int32_t generation, nmembers;
	char protocol[64], leader[256], member[256];
	char ids[4][256], instances[4][64]; /* the leader's member list; "-" for null */
};

static void join_read(int fd, int16_t ver, struct join_answer *a)
{
	long n = kh_raw_response(fd, resp, sizeof(resp), 10000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 };
	if (ver >= 2)
		ck_assert_int_eq(r32(&r), 0);
	a->err = r16(&r);
	a->generation = r32(&r);
	rstrcpy(&r, a->protocol, sizeof(a->protocol));
	rstrcpy(&r, a->leader, sizeof(a->leader));
	rstrcpy(&r, a->member, sizeof(a->member));
	a->nmembers = r32(&r);
	ck_assert_int_le(a->nmembers, 4);
	for (int32_t i = 0; i < a->nmembers; i++) {
		rstrcpy(&r, a->ids[i], sizeof(a->ids[i]));
		strcpy(a->instances[i], "-");
		if (ver >= 5 && (int16_t)(r.p[r.off] << 8 | r.p[r.off + 1]) >= 0)
			rstrcpy(&r, a->instances[i], sizeof(a->instances[i]));
		else if (ver >= 5)
			r.off += 2;
		ck_assert_int_eq(r32(&r), 4); /* the metadata as joined */
		r.off += 4;
	}
	ck_assert_uint_eq(r.off, (size_t)n);
}

/* SyncGroup (v3 with an instance id) sent; the leader's assignments are
 * (member, bytes) pairs. */
static void sync_send(int fd, int16_t ver, const char *group, int32_t gen, const char *member,
		      const char *instance, int n, const char **pairs)
{
	struct wb b = { .n = 0 };
	wstr(&b, group);
	w32(&b, gen);
	wstr(&b, member);
	if (ver >= 3)
		wstr(&b, instance);
	w32(&b, n);
	for (int i = 0; i < n; i++) {
		wstr(&b, pairs[2 * i]);
		w32(&b, (int32_t)strlen(pairs[2 * i + 1]));
		memcpy(b.d + b.n, pairs[2 * i + 1], strlen(pairs[2 * i + 1]));
		b.n += strlen(pairs[2 * i + 1]);
	}
	kh_raw_request(fd, 14, ver, 301, b.d, b.n);
}

/* A SyncGroup answer's error; *assignment gets its bytes as a string. */
static int16_t sync_read(int fd, char *assignment, size_t cap)
{
	long n = kh_raw_response(fd, resp, sizeof(resp), 10000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 8 };
	int16_t err = r16(&r);
	int32_t len = r32(&r);
	ck_assert_uint_lt((size_t)(len > 0 ? len : 0), cap);
	memcpy(assignment, r.p + r.off, len > 0 ? (size_t)len : 0);
	assignment[len > 0 ? len : 0] = '\0';
	return err;
}

static int16_t heartbeat(int fd, int16_t ver, const char *group, int32_t gen, const char *member,
			 const char *instance)
{
	struct wb b = { .n = 0 };
	wstr(&b, group);
	w32(&b, gen);
	wstr(&b, member);
	if (ver >= 3)
		wstr(&b, instance);
	return simple_group_call(fd, 12, ver, &b);
}

/* OffsetCommit v7 of topic/0 at offset 1; returns the partition's error. */
static int16_t commit_v7(int fd, const char *group, int32_t gen, const char *member,
			 const char *instance, const char *topic)
{
	struct wb b = { .n = 0 };
	wstr(&b, group);
	w32(&b, gen);
	wstr(&b, member);
	wstr(&b, instance);
	w32(&b, 1);
	wstr(&b, topic);
	w32(&b, 1);
	w32(&b, 0);
	w64(&b, 1);
	w32(&b, -1); /* committed_leader_epoch */
	wstr(&b, NULL);
	kh_raw_request(fd, 8, 7, 302, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 };
	ck_assert_int_eq(r32(&r), 0); /* throttle time, v3+ */
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	int16_t err = r16(&r);
	ck_assert_uint_eq(r.off, (size_t)n);
	return err;
}

/* JoinGroup v4: a dynamic member without an id gets MEMBER_ID_REQUIRED
 * with its id, and joins with it; an id never handed out is unknown. */
START_TEST(join_v4_member_id_required)
{
	char group[128], id[256];
	int fd = kh_raw_connect(kh_main());
	struct join_answer a;

	kh_name(group, sizeof(group), "rawkip394");
	join_send(fd, 4, group, "", NULL);
	join_read(fd, 4, &a);
	ck_assert_int_eq(a.err, 79);
	ck_assert_int_eq(a.generation, -1);
	ck_assert_str_eq(a.leader, "");
	ck_assert_int_eq(strncmp(a.member, "raw-", 4), 0);
	strcpy(id, a.member);
	join_send(fd, 4, group, "raw-never-handed-out", NULL);
	join_read(fd, 4, &a);
	ck_assert_int_eq(a.err, 25);
	join_send(fd, 4, group, id, NULL);
	join_read(fd, 4, &a);
	ck_assert_int_eq(a.err, 0);
	ck_assert_int_eq(a.generation, 1);
	ck_assert_str_eq(a.protocol, "range");
	ck_assert_str_eq(a.member, id);
	ck_assert_str_eq(a.leader, id);
	ck_assert_int_eq(a.nmembers, 1);
	ck_assert_str_eq(a.ids[0], id);
	close(fd);
	assert_alive();
}
END_TEST

/* DescribeGroups v4 (include_authorized_operations asked): the state,
 * and each member's instance id ("-" for null) by member id. */
static void describe_v4(int fd, const char *group, char *state, size_t cap, int nmax,
			char ids[][256], char instances[][64], int *nmembers)
{
	struct wb b = { .n = 0 };
	w32(&b, 1);
	wstr(&b, group);
	w8(&b, 1);
	kh_raw_request(fd, 15, 4, 303, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 };
	char s[64];
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r16(&r), 0);
	rskipstr(&r);
	rstrcpy(&r, state, cap);
	rstrcpy(&r, s, sizeof(s));
	rskipstr(&r);
	*nmembers = r32(&r);
	ck_assert_int_le(*nmembers, nmax);
	for (int i = 0; i < *nmembers; i++) {
		rstrcpy(&r, ids[i], 256);
		strcpy(instances[i], "-");
		if ((int16_t)(r.p[r.off] << 8 | r.p[r.off + 1]) >= 0)
			rstrcpy(&r, instances[i], 64);
		else
			r.off += 2;
		rskipstr(&r); /* client id */
		rskipstr(&r); /* client host */
		int32_t l = r32(&r);
		r.off += l > 0 ? (size_t)l : 0;
		l = r32(&r);
		r.off += l > 0 ? (size_t)l : 0;
	}
	/* the default user may read and configure every group: READ,
	 * DESCRIBE and DELETE */
	ck_assert_int_eq(r32(&r), 1 << 3 | 1 << 8 | 1 << 6);
	ck_assert_uint_eq(r.off, (size_t)n);
}

static const char *instance_of(const char *id, char ids[][256], char instances[][64], int n)
{
	for (int i = 0; i < n; i++)
		if (strcmp(ids[i], id) == 0)
			return instances[i];
	return NULL;
}

/*
 * Static membership (KIP-345): a static member (JoinGroup v5, SyncGroup
 * v3) and a dynamic one (v2) form a generation; the static one's
 * connection goes without a LeaveGroup; it joins again with no member id
 * and the same instance id and is answered at once: the same generation
 * (no rebalance: the other member's heartbeat stays 0), a new member id,
 * the old leader id, and SyncGroup gives it the same assignment.  Its old
 * member id is FENCED_INSTANCE_ID for Heartbeat v3, SyncGroup v3 and
 * OffsetCommit v7; a parked JoinGroup of the replaced id is answered
 * FENCED too.
 * DescribeGroups v4 shows the instance ids; LeaveGroup v3 removes a batch.
 */
START_TEST(static_member_rejoins_without_rebalance)
{
	char group[128], topic[128], a_id[256], a2_id[256], b_id[256], asg[64], state[64];
	char ids[4][256], insts[4][64];
	int fd1 = kh_raw_connect(kh_main()), fd2 = kh_raw_connect(kh_main());
	int fd3, fd4, n;
	struct join_answer a, b;

	kh_name(group, sizeof(group), "rawstatic");
	kh_name(topic, sizeof(topic), "rawstatic");
	create_topic(fd2, topic, 1);
	/* generation 1: static A (v5: no MEMBER_ID_REQUIRED) leads, dynamic B (v2) */
	join_send(fd1, 5, group, "", "inst-a");
	usleep(100 * 1000);
	join_send(fd2, 2, group, "", NULL);
	join_read(fd1, 5, &a);
	join_read(fd2, 2, &b);
	ck_assert_int_eq(a.err, 0);
	ck_assert_int_eq(b.err, 0);
	ck_assert_int_eq(a.generation, 1);
	ck_assert_int_eq(strncmp(a.member, "inst-a-", 7), 0);
	strcpy(a_id, a.member);
	strcpy(b_id, b.member);
	ck_assert_str_eq(a.leader, a_id);
	ck_assert_int_eq(a.nmembers, 2);
	ck_assert_str_eq(instance_of(a_id, a.ids, a.instances, 2), "inst-a");
	ck_assert_str_eq(instance_of(b_id, a.ids, a.instances, 2), "-");
	const char *pairs[] = { a_id, "assign-A", b_id, "assign-B" };
	sync_send(fd2, 1, group, 1, b_id, NULL, 0, NULL);
	sync_send(fd1, 3, group, 1, a_id, "inst-a", 2, pairs);
	ck_assert_int_eq(sync_read(fd1, asg, sizeof(asg)), 0);
	ck_assert_str_eq(asg, "assign-A");
	ck_assert_int_eq(sync_read(fd2, asg, sizeof(asg)), 0);
	ck_assert_str_eq(asg, "assign-B");

	/* A goes without LeaveGroup and comes back: no rebalance */
	close(fd1);
	usleep(100 * 1000);
	fd3 = kh_raw_connect(kh_main());
	join_send(fd3, 5, group, "", "inst-a");
	join_read(fd3, 5, &a);
	ck_assert_int_eq(a.err, 0);
	ck_assert_int_eq(a.generation, 1);
	ck_assert_str_eq(a.protocol, "range");
	ck_assert_str_ne(a.member, a_id);
	ck_assert_int_eq(strncmp(a.member, "inst-a-", 7), 0);
	ck_assert_str_eq(a.leader, a_id); /* as Kafka: the leader as it was */
	ck_assert_int_eq(a.nmembers, 0);
	strcpy(a2_id, a.member);
	sync_send(fd3, 3, group, 1, a2_id, "inst-a", 0, NULL);
	ck_assert_int_eq(sync_read(fd3, asg, sizeof(asg)), 0);
	ck_assert_str_eq(asg, "assign-A");
	ck_assert_int_eq(heartbeat(fd2, 1, group, 1, b_id, NULL), 0);
	ck_assert_int_eq(heartbeat(fd3, 3, group, 1, a2_id, "inst-a"), 0);
	/* the old incarnation is fenced; an unknown instance is unknown */
	ck_assert_int_eq(heartbeat(fd2, 3, group, 1, a_id, "inst-a"), 82);
	sync_send(fd2, 3, group, 1, a_id, "inst-a", 0, NULL);
	ck_assert_int_eq(sync_read(fd2, asg, sizeof(asg)), 82);
	ck_assert_int_eq(heartbeat(fd2, 3, group, 1, a2_id, "inst-z"), 25);
	ck_assert_int_eq(commit_v7(fd2, group, 1, a_id, "inst-a", topic), 82);
	ck_assert_int_eq(commit_v7(fd3, group, 1, a2_id, "inst-a", topic), 0);
	describe_v4(fd2, group, state, sizeof(state), 4, ids, insts, &n);
	ck_assert_str_eq(state, "Stable");
	ck_assert_int_eq(n, 2);
	ck_assert_str_eq(instance_of(a2_id, ids, insts, n), "inst-a");
	ck_assert_str_eq(instance_of(b_id, ids, insts, n), "-");

	/* A rejoins with its id (a rebalance: B has not rejoined yet) and,
	 * while that waits, a new incarnation takes the instance: the parked
	 * join is FENCED_INSTANCE_ID; B's rejoin completes generation 2 */
	join_send(fd3, 5, group, a2_id, "inst-a");
	usleep(200 * 1000);
	fd4 = kh_raw_connect(kh_main());
	join_send(fd4, 5, group, "", "inst-a");
	join_read(fd3, 5, &a);
	ck_assert_int_eq(a.err, 82);
	ck_assert_str_eq(a.member, a2_id);
	join_send(fd2, 2, group, b_id, NULL);
	join_read(fd4, 5, &a);
	join_read(fd2, 2, &b);
	ck_assert_int_eq(a.err, 0);
	ck_assert_int_eq(b.err, 0);
	ck_assert_int_eq(a.generation, 2);
	ck_assert_int_eq(strncmp(a.member, "inst-a-", 7), 0);
	ck_assert_str_ne(a.member, a2_id);
	ck_assert_str_eq(a.leader, a.member); /* leadership moved with the instance */
	ck_assert_int_eq(a.nmembers, 2);
	strcpy(a2_id, a.member);

	/* LeaveGroup v3: by instance id alone, by member id, two unknown */
	struct wb w = { .n = 0 };
	wstr(&w, group);
	w32(&w, 4);
	wstr(&w, "");
	wstr(&w, "inst-a");
	wstr(&w, b_id);
	wstr(&w, NULL);
	wstr(&w, "nobody");
	wstr(&w, NULL);
	wstr(&w, "");
	wstr(&w, "inst-z");
	kh_raw_request(fd2, 13, 3, 304, w.d, w.n);
	long len = kh_raw_response(fd2, resp, sizeof(resp), 5000);
	ck_assert_int_gt(len, 0);
	struct rb r = { resp, (size_t)len, 4 };
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r16(&r), 0);
	ck_assert_int_eq(r32(&r), 4);
	const int16_t want[] = { 0, 0, 25, 25 };
	for (int i = 0; i < 4; i++) {
		rskipstr(&r);
		rskipstr(&r);
		ck_assert_int_eq(r16(&r), want[i]);
	}
	ck_assert_uint_eq(r.off, (size_t)len);
	describe_v4(fd2, group, state, sizeof(state), 4, ids, insts, &n);
	ck_assert_str_eq(state, "Empty");
	ck_assert_int_eq(n, 0);
	close(fd2);
	close(fd3);
	close(fd4);
	assert_alive();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kafka_raw");
	TCase *tc = kh_tcase("raw");
	tcase_add_test(tc, api_versions_and_fallback);
	tcase_add_test(tc, bad_frames_close_only_their_connection);
	tcase_add_test(tc, pipelined_requests_answered_in_order);
	tcase_add_test(tc, produce_errors);
	tcase_add_test(tc, delete_records_errors);
	tcase_add_test(tc, describe_configs_raw);
	tcase_add_test(tc, alter_configs_raw);
	tcase_add_test(tc, api_versions_v3_flexible);
	tcase_add_test(tc, create_topics_v5_flexible);
	tcase_add_test(tc, list_groups_with_states);
	tcase_add_test(tc, describe_cluster_v0);
	tcase_add_test(tc, delete_groups_raw);
	tcase_add_test(tc, offset_delete_raw);
	tcase_add_test(tc, offset_commit_v1);
	tcase_add_test(tc, fetch_parks_and_errors);
	tcase_add_test(tc, group_errors);
	tcase_add_test(tc, join_v4_member_id_required);
	tcase_add_test(tc, static_member_rejoins_without_rebalance);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return kh_run_suite(suite(), NULL);
}
