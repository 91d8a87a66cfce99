/* Kafka front end over raw sockets, the metadata and admin versions of
 * issue 16: Metadata v5-12 (offline replicas, leader epoch, authorized
 * operations, flexible encoding, topic ids), DescribeCluster v1 (endpoint
 * types), ListOffsets v2-7 (isolation level, leader epochs, flexible
 * encoding, the largest timestamp), DescribeLogDirs v0-4, DescribeConfigs
 * v3-4, AlterConfigs v2, IncrementalAlterConfigs v1, CreateTopics v7,
 * DeleteTopics v4-6, CreatePartitions v3, DeleteRecords v2,
 * OffsetForLeaderEpoch v4, Fetch v6-13 with fetch sessions (KIP-227), each
 * answer read field by field to its end. */
#include "kafka_harness.h"
#include "kraw.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint8_t resp[1 << 20];

/* The answer to one request (correlation 7) as a cursor past the
 * correlation id and, flex, the response header's tags. */
static struct rb ask(int fd, int16_t api, int16_t ver, const struct wb *b, int flex)
{
	kh_raw_request(fd, api, ver, 7, b->d, b->n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_msg(n > 0, "no answer to api %d v%d", api, ver);
	struct rb r = { resp, (size_t)n, 0 };
	ck_assert_int_eq(r32(&r), 7);
	if (flex)
		ck_assert_uint_eq(ruv(&r), 0);
	return r;
}

static void make_topic(const char *topic, int parts)
{
	rd_kafka_t *p = kh_producer(kh_bootstrap(), NULL);
	ck_assert_int_eq(kh_create_topic(p, topic, parts, 1, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(p);
}

/* A Metadata request of one topic by name (NULL: all topics) at ver. */
static void metadata_body(struct wb *b, int ver, const char *topic, const uint8_t *id)
{
	int flex = ver >= 9;
	static const uint8_t zero[16];

	b->n = 0;
	if (flex)
		w8(b, 0); /* request header tags */
	if (!topic && !id) {
		if (flex)
			wuv(b, 0); /* null */
		else
			w32(b, -1);
	} else {
		if (flex)
			wuv(b, 2);
		else
			w32(b, 1);
		if (ver >= 10)
			wuuid(b, id ? id : zero);
		if (flex)
			wcstr(b, topic);
		else
			wstr(b, topic);
		if (flex)
			w8(b, 0);
	}
	w8(b, 0); /* allow_auto_topic_creation */
	if (ver >= 8 && ver <= 10)
		w8(b, 1); /* include_cluster_authorized_operations */
	if (ver >= 8)
		w8(b, 1); /* include_topic_authorized_operations */
	if (flex)
		w8(b, 0);
}

static int32_t rarray(struct rb *r, int flex)
{
	return flex ? (int32_t)ruv(r) - 1 : r32(r);
}

static void rname(struct rb *r, int flex, char *out, size_t cap)
{
	if (flex) {
		if (rcstr(r, out, cap) < 0)
			out[0] = '\0';
	} else {
		rstrcpy(r, out, cap);
	}
}

/* The brokers, cluster id and controller of a Metadata answer at ver. */
static void read_brokers(struct rb *r, int ver)
{
	int flex = ver >= 9;
	char host[64], id[64];

	ck_assert_int_eq(r32(r), 0); /* throttle */
	ck_assert_int_eq(rarray(r, flex), 1);
	ck_assert_int_eq(r32(r), 1);
	rname(r, flex, host, sizeof(host));
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_int_eq(r32(r), kh_main()->port);
	rname(r, flex, host, sizeof(host)); /* rack: null */
	if (flex)
		ck_assert_uint_eq(ruv(r), 0);
	rname(r, flex, id, sizeof(id));
	ck_assert_str_eq(id, "tandem-cluster");
	ck_assert_int_eq(r32(r), 1); /* controller */
}

struct md_topic {
	int16_t err;
	char name[128];
	uint8_t id[16];
	int32_t parts, ops;
};

/* One topic of a Metadata answer at ver; every partition is led by
 * broker 1 at epoch 0, replicas and ISR [1], nothing offline. */
static void read_topic(struct rb *r, int ver, struct md_topic *t)
{
	int flex = ver >= 9;

	t->err = r16(r);
	rname(r, flex, t->name, sizeof(t->name));
	if (ver >= 10)
		ruuid(r, t->id);
	ck_assert_int_eq(r->p[r->off++], 0); /* is_internal */
	t->parts = rarray(r, flex);
	for (int32_t i = 0; i < t->parts; i++) {
		ck_assert_int_eq(r16(r), 0);
		ck_assert_int_eq(r32(r), i);
		ck_assert_int_eq(r32(r), 1); /* leader */
		if (ver >= 7)
			ck_assert_int_eq(r32(r), 0); /* leader epoch */
		ck_assert_int_eq(rarray(r, flex), 1);
		ck_assert_int_eq(r32(r), 1);
		ck_assert_int_eq(rarray(r, flex), 1);
		ck_assert_int_eq(r32(r), 1);
		if (ver >= 5)
			ck_assert_int_eq(rarray(r, flex), 0); /* offline */
		if (flex)
			ck_assert_uint_eq(ruv(r), 0);
	}
	t->ops = ver >= 8 ? r32(r) : 0;
	if (flex)
		ck_assert_uint_eq(ruv(r), 0);
}

/* The end of a Metadata answer: cluster operations (v8-10), tags. */
static void read_end(struct rb *r, int ver)
{
	if (ver >= 8 && ver <= 10)
		ck_assert_int_eq(r32(r) & (1 << 8), 1 << 8); /* DESCRIBE at least */
	if (ver >= 9)
		ck_assert_uint_eq(ruv(r), 0);
	ck_assert_uint_eq(r->off, r->n);
}

/* Every version from 5 to 12 answers a named topic, field by field. */
START_TEST(metadata_every_version)
{
	char topic[128];
	int fd = kh_raw_connect(kh_main());
	struct wb b;

	kh_name(topic, sizeof(topic), "md");
	make_topic(topic, 3);
	for (int ver = 5; ver <= 12; ver++) {
		struct md_topic t;

		metadata_body(&b, ver, topic, NULL);
		struct rb r = ask(fd, 3, (int16_t)ver, &b, ver >= 9);
		read_brokers(&r, ver);
		ck_assert_int_eq(rarray(&r, ver >= 9), 1);
		read_topic(&r, ver, &t);
		ck_assert_int_eq(t.err, 0);
		ck_assert_str_eq(t.name, topic);
		ck_assert_int_eq(t.parts, 3);
		if (ver >= 8) /* the unauthenticated user may do everything to it */
			ck_assert_int_eq(t.ops, 1 << 3 | 1 << 4 | 1 << 5 | 1 << 6 | 1 << 7 | 1 << 8 |
							1 << 10 | 1 << 11);
		read_end(&r, ver);
	}
	close(fd);
}
END_TEST

/* All topics (null array) at v9: ours among them; an unknown one named
 * is UNKNOWN_TOPIC_OR_PARTITION with no partitions; operations not asked
 * are INT32_MIN. */
START_TEST(metadata_all_topics_flexible)
{
	char topic[128];
	int fd = kh_raw_connect(kh_main());
	struct wb b;
	struct md_topic t;
	int seen = 0;

	kh_name(topic, sizeof(topic), "mdall");
	make_topic(topic, 2);
	metadata_body(&b, 9, NULL, NULL);
	struct rb r = ask(fd, 3, 9, &b, 1);
	read_brokers(&r, 9);
	int32_t n = rarray(&r, 1);
	ck_assert_int_ge(n, 1);
	for (int32_t i = 0; i < n; i++) {
		read_topic(&r, 9, &t);
		seen += strcmp(t.name, topic) == 0 && t.parts == 2;
	}
	ck_assert_int_eq(seen, 1);
	read_end(&r, 9);

	metadata_body(&b, 9, "md-never-made", NULL);
	b.d[b.n - 2] = 0; /* include_topic_authorized_operations: no */
	r = ask(fd, 3, 9, &b, 1);
	read_brokers(&r, 9);
	ck_assert_int_eq(rarray(&r, 1), 1);
	read_topic(&r, 9, &t);
	ck_assert_int_eq(t.err, 3);
	ck_assert_int_eq(t.parts, 0);
	ck_assert_int_eq(t.ops, INT32_MIN);
	read_end(&r, 9);
	close(fd);
}
END_TEST

/* Topic ids: a single node's topics have none (the zero uuid); v12 asked
 * by an id nobody has answers UNKNOWN_TOPIC_ID (100) with a null name and
 * the id asked; v10 refuses a null name (INVALID_REQUEST). */
START_TEST(metadata_topic_ids)
{
	char topic[128];
	static const uint8_t zero[16];
	const uint8_t some[16] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };
	int fd = kh_raw_connect(kh_main());
	struct wb b;
	struct md_topic t;

	kh_name(topic, sizeof(topic), "mdid");
	make_topic(topic, 1);
	metadata_body(&b, 12, topic, NULL);
	struct rb r = ask(fd, 3, 12, &b, 1);
	read_brokers(&r, 12);
	ck_assert_int_eq(rarray(&r, 1), 1);
	read_topic(&r, 12, &t);
	ck_assert_int_eq(t.err, 0);
	ck_assert(memcmp(t.id, zero, 16) == 0);
	read_end(&r, 12);

	for (int ver = 10; ver <= 12; ver += 2) {
		metadata_body(&b, ver, NULL, some);
		r = ask(fd, 3, (int16_t)ver, &b, 1);
		read_brokers(&r, ver);
		ck_assert_int_eq(rarray(&r, 1), 1);
		read_topic(&r, ver, &t);
		ck_assert_int_eq(t.err, ver == 12 ? 100 : 42);
		ck_assert_str_eq(t.name, "");
		ck_assert(memcmp(t.id, some, 16) == 0);
		ck_assert_int_eq(t.parts, 0);
		read_end(&r, ver);
	}
	close(fd);
}
END_TEST

/* DescribeCluster v1: brokers (1) described, the endpoint type echoed;
 * controllers (2) MISMATCHED_ENDPOINT_TYPE, 7 UNSUPPORTED_ENDPOINT_TYPE,
 * each with its message and no brokers; the operations asked for. */
START_TEST(describe_cluster_v1)
{
	int fd = kh_raw_connect(kh_main());
	static const int8_t types[] = { 1, 2, 7 };
	static const int16_t errs[] = { 0, 114, 115 };

	for (int i = 0; i < 3; i++) {
		struct wb b = { .n = 0 };
		char s[128];

		w8(&b, 0);
		w8(&b, 1); /* include_cluster_authorized_operations */
		w8(&b, (uint8_t)types[i]);
		w8(&b, 0);
		struct rb r = ask(fd, 60, 1, &b, 1);
		ck_assert_int_eq(r32(&r), 0);
		ck_assert_int_eq(r16(&r), errs[i]);
		ck_assert_int_eq(rcstr(&r, s, sizeof(s)) > 0, errs[i] != 0);
		ck_assert_int_eq((int8_t)r.p[r.off++], types[i]);
		ck_assert_int_gt(rcstr(&r, s, sizeof(s)), 0);
		ck_assert_int_eq(r32(&r), 1);
		int32_t n = (int32_t)ruv(&r) - 1;
		ck_assert_int_eq(n, errs[i] ? 0 : 1);
		for (int32_t j = 0; j < n; j++) {
			ck_assert_int_eq(r32(&r), 1);
			ck_assert_int_gt(rcstr(&r, s, sizeof(s)), 0);
			ck_assert_int_eq(r32(&r), kh_main()->port);
			ck_assert_int_eq(rcstr(&r, s, sizeof(s)), -1);
			ck_assert_uint_eq(ruv(&r), 0);
		}
		int32_t ops = r32(&r);
		if (errs[i])
			ck_assert_int_eq(ops, INT32_MIN);
		else /* no users configured: the broker's own rights */
			ck_assert_int_eq(ops & (1 << 8 | 1 << 5), 1 << 8 | 1 << 5);
		ck_assert_uint_eq(ruv(&r), 0);
		ck_assert_uint_eq(r.off, r.n);
	}
	close(fd);
}
END_TEST

/* The highest ListOffsets version served (the table in api_versions.c). */
#define LO_MAX 7

/* ListOffsets at ver of one partition: the error, *ts, *off, *epoch. */
static int16_t list_offset(int fd, int ver, const char *topic, int32_t part, int32_t cur_epoch,
			   int64_t want, int64_t *ts, int64_t *off, int32_t *epoch)
{
	int flex = ver >= 6;
	struct wb b = { .n = 0 };
	char name[128];

	if (flex)
		w8(&b, 0);
	w32(&b, -1); /* replica_id */
	if (ver >= 2)
		w8(&b, 1); /* read_committed */
	if (flex) {
		wuv(&b, 2);
		wcstr(&b, topic);
		wuv(&b, 2);
	} else {
		w32(&b, 1);
		wstr(&b, topic);
		w32(&b, 1);
	}
	w32(&b, part);
	if (ver >= 4)
		w32(&b, cur_epoch);
	w64(&b, want);
	if (flex) {
		w8(&b, 0);
		w8(&b, 0);
		w8(&b, 0);
	}
	struct rb r = ask(fd, 2, (int16_t)ver, &b, flex);
	if (ver >= 2)
		ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(rarray(&r, flex), 1);
	rname(&r, flex, name, sizeof(name));
	ck_assert_str_eq(name, topic);
	ck_assert_int_eq(rarray(&r, flex), 1);
	ck_assert_int_eq(r32(&r), part);
	int16_t err = r16(&r);
	*ts = r64(&r);
	*off = r64(&r);
	*epoch = ver >= 4 ? r32(&r) : -1;
	for (int k = 0; flex && k < 3; k++) /* partition, topic, answer tags */
		ck_assert_uint_eq(ruv(&r), 0);
	ck_assert_uint_eq(r.off, r.n);
	return err;
}

/* ListOffsets v2 up to LO_MAX: latest, earliest, by time, (v7) the largest
 * timestamp, whose record is not the last; an unknown partition; a
 * negative time other than -1, -2 (and -3 from v7) INVALID_REQUEST. */
START_TEST(list_offsets_versions)
{
	char topic[128];
	static const int64_t stamps[] = { 1700000000000, 1700000300000, 1700000100000 };
	int fd = kh_raw_connect(kh_main());
	rd_kafka_t *p = kh_producer(kh_bootstrap(), NULL);

	kh_name(topic, sizeof(topic), "lo");
	ck_assert_int_eq(kh_create_topic(p, topic, 1, 1, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, "v", stamps[i], NULL), 0);
	rd_kafka_destroy(p);
	for (int ver = 2; ver <= LO_MAX; ver++) {
		int64_t ts, off;
		int32_t epoch;

		ck_assert_int_eq(list_offset(fd, ver, topic, 0, -1, -1, &ts, &off, &epoch), 0);
		ck_assert_int_eq(off, 3);
		ck_assert_int_eq(ts, -1);
		ck_assert_int_eq(epoch, -1); /* a single node keeps no epochs */
		ck_assert_int_eq(list_offset(fd, ver, topic, 0, -1, -2, &ts, &off, &epoch), 0);
		ck_assert_int_eq(off, 0);
		ck_assert_int_eq(list_offset(fd, ver, topic, 0, 0, 1700000000001, &ts, &off, &epoch),
				 0);
		ck_assert_int_eq(off, 1);
		ck_assert_int_eq(ts, 1700000300000);
		int16_t err = list_offset(fd, ver, topic, 0, -1, -3, &ts, &off, &epoch);
		if (ver >= 7) {
			ck_assert_int_eq(err, 0);
			ck_assert_int_eq(off, 1);
			ck_assert_int_eq(ts, 1700000300000);
		} else {
			ck_assert_int_eq(err, 42);
		}
		ck_assert_int_eq(list_offset(fd, ver, topic, 0, -1, -4, &ts, &off, &epoch), 42);
		ck_assert_int_eq(list_offset(fd, ver, topic, 5, -1, -1, &ts, &off, &epoch), 3);
		ck_assert_int_eq(off, -1);
	}
	close(fd);
}
END_TEST

/* DescribeLogDirs at ver: topics NULL for all, else topic with partitions
 * {0, 7} and "ld-never-made"; fills *size0 with the size the answer gives
 * partition 0 of topic (-1 when absent) and returns how many partitions
 * of topic it lists. */
static int log_dirs(int fd, int ver, const char *topic, int all, int64_t *size0)
{
	int flex = ver >= 2;
	struct wb b = { .n = 0 };
	char dir[4096], name[256];
	int listed = 0;

	if (flex)
		w8(&b, 0);
	if (all) {
		if (flex)
			wuv(&b, 0);
		else
			w32(&b, -1);
	} else {
		const char *names[2] = { topic, "ld-never-made" };

		if (flex)
			wuv(&b, 3);
		else
			w32(&b, 2);
		for (int i = 0; i < 2; i++) {
			if (flex) {
				wcstr(&b, names[i]);
				wuv(&b, 3);
			} else {
				wstr(&b, names[i]);
				w32(&b, 2);
			}
			w32(&b, 0);
			w32(&b, 7);
			if (flex)
				w8(&b, 0);
		}
	}
	if (flex)
		w8(&b, 0);
	struct rb r = ask(fd, 35, (int16_t)ver, &b, flex);
	ck_assert_int_eq(r32(&r), 0);
	if (ver >= 3)
		ck_assert_int_eq(r16(&r), 0);
	ck_assert_int_eq(rarray(&r, flex), 1);
	ck_assert_int_eq(r16(&r), 0);
	rname(&r, flex, dir, sizeof(dir));
	ck_assert_msg(dir[0] == '/' && strstr(dir, "/logs") == dir + strlen(dir) - 5,
		      "log dir %s", dir);
	*size0 = -1;
	for (int32_t nt = rarray(&r, flex), i = 0; i < nt; i++) {
		rname(&r, flex, name, sizeof(name));
		ck_assert_str_ne(name, "ld-never-made");
		for (int32_t np = rarray(&r, flex), j = 0; j < np; j++) {
			int32_t idx = r32(&r);
			int64_t size = r64(&r);

			ck_assert_int_eq(r64(&r), 0);        /* offset lag */
			ck_assert_int_eq(r.p[r.off++], 0); /* is_future */
			if (flex)
				ck_assert_uint_eq(ruv(&r), 0);
			if (strcmp(name, topic) != 0)
				continue;
			listed++;
			ck_assert_int_lt(idx, 2);
			if (idx == 0)
				*size0 = size;
		}
		if (flex)
			ck_assert_uint_eq(ruv(&r), 0);
	}
	if (ver >= 4) {
		int64_t total = r64(&r), usable = r64(&r);

		ck_assert_int_gt(total, 0);
		ck_assert(usable >= 0 && usable <= total);
	}
	for (int k = 0; flex && k < 2; k++) /* the result's, the answer's tags */
		ck_assert_uint_eq(ruv(&r), 0);
	ck_assert_uint_eq(r.off, r.n);
	return listed;
}

/* DescribeLogDirs v0-4: the one directory, <data_dir>/logs, with every
 * partition held (sizes in bytes: a written one is not empty) or the ones
 * named that exist (partition 7 and an unknown topic left out). */
START_TEST(describe_log_dirs_versions)
{
	char topic[128];
	int fd = kh_raw_connect(kh_main());
	rd_kafka_t *p = kh_producer(kh_bootstrap(), NULL);

	kh_name(topic, sizeof(topic), "ld");
	ck_assert_int_eq(kh_create_topic(p, topic, 2, 1, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
	ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, "logged", -1, NULL), 0);
	rd_kafka_destroy(p);
	for (int ver = 0; ver <= 4; ver++) {
		int64_t size;

		ck_assert_int_eq(log_dirs(fd, ver, topic, 1, &size), 2);
		ck_assert_int_gt(size, 60); /* one batch at least */
		ck_assert_int_eq(log_dirs(fd, ver, topic, 0, &size), 1);
		ck_assert_int_gt(size, 60);
	}
	close(fd);
}
END_TEST

/* DescribeConfigs v3/v4 of topic's key: its value, source, type and
 * whether a documentation came (docs asked for with v4 only). */
static void describe_key(int fd, int ver, const char *topic, const char *key, char *value,
			 size_t cap, int *source, int *type, int *has_doc)
{
	int flex = ver >= 4;
	struct wb b = { .n = 0 };
	char s[512];

	if (flex)
		w8(&b, 0);
	flex ? wuv(&b, 2) : w32(&b, 1);
	w8(&b, topic ? 2 : 4);
	flex ? wcstr(&b, topic ? topic : "") : wstr(&b, topic ? topic : "");
	flex ? wuv(&b, 2) : w32(&b, 1);
	flex ? wcstr(&b, key) : wstr(&b, key);
	if (flex)
		w8(&b, 0);
	w8(&b, 1);          /* include_synonyms */
	w8(&b, ver >= 4);   /* include_documentation */
	if (flex)
		w8(&b, 0);
	struct rb r = ask(fd, 32, (int16_t)ver, &b, flex);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(rarray(&r, flex), 1);
	ck_assert_int_eq(r16(&r), 0);
	rname(&r, flex, s, sizeof(s)); /* error message: null */
	ck_assert_str_eq(s, "");
	ck_assert_int_eq(r.p[r.off++], topic ? 2 : 4);
	rname(&r, flex, s, sizeof(s));
	ck_assert_int_eq(rarray(&r, flex), 1);
	rname(&r, flex, s, sizeof(s));
	ck_assert_str_eq(s, key);
	rname(&r, flex, value, cap);
	r.off++; /* read_only */
	*source = r.p[r.off++];
	r.off++; /* is_sensitive */
	for (int32_t n = rarray(&r, flex), i = 0; i < n; i++) {
		rname(&r, flex, s, sizeof(s));
		rname(&r, flex, s, sizeof(s));
		r.off++;
		if (flex)
			ck_assert_uint_eq(ruv(&r), 0);
	}
	*type = r.p[r.off++];
	if (flex) {
		*has_doc = rcstr(&r, s, sizeof(s)) > 0;
	} else {
		*has_doc = r16(&r) >= 0;
	}
	for (int k = 0; flex && k < 3; k++)
		ck_assert_uint_eq(ruv(&r), 0);
	ck_assert_uint_eq(r.off, r.n);
}

/* IncrementalAlterConfigs v1 (SET) or AlterConfigs v2 of topic's key to
 * value, flexible: the resource's error. */
static int16_t alter_flex(int fd, int incremental, const char *topic, const char *key,
			  const char *value)
{
	struct wb b = { .n = 0 };
	char s[256];

	w8(&b, 0);
	wuv(&b, 2);
	w8(&b, 2);
	wcstr(&b, topic);
	wuv(&b, 2);
	wcstr(&b, key);
	if (incremental)
		w8(&b, 0); /* SET */
	wcstr(&b, value);
	w8(&b, 0);
	w8(&b, 0);
	w8(&b, 0); /* validate_only */
	w8(&b, 0);
	struct rb r = ask(fd, incremental ? 44 : 33, incremental ? 1 : 2, &b, 1);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(rarray(&r, 1), 1);
	int16_t err = r16(&r);
	rname(&r, 1, s, sizeof(s));
	ck_assert_int_eq(r.p[r.off++], 2);
	rname(&r, 1, s, sizeof(s));
	ck_assert_str_eq(s, topic);
	ck_assert_uint_eq(ruv(&r), 0);
	ck_assert_uint_eq(ruv(&r), 0);
	ck_assert_uint_eq(r.off, r.n);
	return err;
}

/* DescribeConfigs v3-4 (types, documentation when asked, flexible),
 * IncrementalAlterConfigs v1 and AlterConfigs v2 (flexible) changing
 * what DescribeConfigs then shows. */
START_TEST(configs_flexible)
{
	char topic[128], v[128];
	int fd = kh_raw_connect(kh_main()), source, type, doc;

	kh_name(topic, sizeof(topic), "cfgflex");
	make_topic(topic, 1);
	describe_key(fd, 3, topic, "retention.ms", v, sizeof(v), &source, &type, &doc);
	ck_assert_int_eq(source, 5);
	ck_assert_int_eq(type, 5); /* LONG */
	ck_assert_int_eq(doc, 0);
	describe_key(fd, 4, NULL, "auto.create.topics.enable", v, sizeof(v), &source, &type, &doc);
	ck_assert_int_eq(source, 4);
	ck_assert_int_eq(type, 1); /* BOOLEAN */
	ck_assert_int_eq(doc, 1);
	ck_assert_int_eq(alter_flex(fd, 1, topic, "retention.ms", "60000"), 0);
	describe_key(fd, 4, topic, "retention.ms", v, sizeof(v), &source, &type, &doc);
	ck_assert_str_eq(v, "60000");
	ck_assert_int_eq(source, 1);
	ck_assert_int_eq(doc, 1);
	ck_assert_int_eq(alter_flex(fd, 0, topic, "cleanup.policy", "compact"), 0);
	describe_key(fd, 4, topic, "cleanup.policy", v, sizeof(v), &source, &type, &doc);
	ck_assert_str_eq(v, "compact");
	ck_assert_int_eq(type, 7); /* LIST */
	/* AlterConfigs replaced the whole set: retention.ms is the default again */
	describe_key(fd, 4, topic, "retention.ms", v, sizeof(v), &source, &type, &doc);
	ck_assert_int_eq(source, 5);
	ck_assert_int_eq(alter_flex(fd, 1, topic, "no.such.key", "1"), 40);
	/* message.format.version (librdkafka's test 0092 sets it): accepted
	 * and shown, as Kafka 3 does, though every batch stays v2 */
	ck_assert_int_eq(alter_flex(fd, 1, topic, "message.format.version", "0.10.0.0"), 0);
	describe_key(fd, 4, topic, "message.format.version", v, sizeof(v), &source, &type, &doc);
	ck_assert_str_eq(v, "0.10.0");
	ck_assert_int_eq(source, 1);
	/* not a release: a bad value, INVALID_REQUEST as every bad value
	 * (Kafka: "Invalid config value for resource ...") */
	ck_assert_int_eq(alter_flex(fd, 1, topic, "message.format.version", "0.10"), 42);
	close(fd);
}
END_TEST

/* CreateTopics v7 of one topic (2 partitions, defaults otherwise): the
 * error; the topic id answered in *id. */
static int16_t create_v7(int fd, const char *topic, uint8_t id[16])
{
	struct wb b = { .n = 0 };
	char s[256];

	w8(&b, 0);
	wuv(&b, 2);
	wcstr(&b, topic);
	w32(&b, 2);
	w16(&b, -1);
	wuv(&b, 1); /* no assignments */
	wuv(&b, 1); /* no configs */
	w8(&b, 0);
	w32(&b, 5000);
	w8(&b, 0);
	w8(&b, 0);
	struct rb r = ask(fd, 19, 7, &b, 1);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(rarray(&r, 1), 1);
	rname(&r, 1, s, sizeof(s));
	ck_assert_str_eq(s, topic);
	ruuid(&r, id);
	int16_t err = r16(&r);
	rname(&r, 1, s, sizeof(s));
	ck_assert_int_eq(r32(&r), err ? -1 : 2);
	ck_assert_int_eq(r16(&r), err ? -1 : 1);
	for (int32_t n = rarray(&r, 1), i = 0; i < n; i++) {
		rname(&r, 1, s, sizeof(s));
		rname(&r, 1, s, sizeof(s));
		r.off += 3;
		ck_assert_uint_eq(ruv(&r), 0);
	}
	ck_assert_uint_eq(ruv(&r), 0);
	ck_assert_uint_eq(ruv(&r), 0);
	ck_assert_uint_eq(r.off, r.n);
	return err;
}

/* DeleteTopics at ver (4-6, flexible) of one topic by name, or (v6, name
 * NULL) by id: the error; the message (v5+) in msg. */
static int16_t delete_flex(int fd, int ver, const char *topic, const uint8_t *id, char *msg,
			   size_t cap)
{
	struct wb b = { .n = 0 };
	static const uint8_t zero[16];
	char s[256];
	uint8_t got[16];

	w8(&b, 0);
	wuv(&b, 2);
	wcstr(&b, topic);
	if (ver >= 6) {
		wuuid(&b, id ? id : zero);
		w8(&b, 0);
	}
	w32(&b, 5000);
	w8(&b, 0);
	struct rb r = ask(fd, 20, (int16_t)ver, &b, 1);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(rarray(&r, 1), 1);
	rname(&r, 1, s, sizeof(s));
	if (topic)
		ck_assert_str_eq(s, topic);
	if (ver >= 6) {
		ruuid(&r, got);
		if (id)
			ck_assert(memcmp(got, id, 16) == 0);
	}
	int16_t err = r16(&r);
	msg[0] = '\0';
	if (ver >= 5)
		rname(&r, 1, msg, cap);
	ck_assert_uint_eq(ruv(&r), 0);
	ck_assert_uint_eq(ruv(&r), 0);
	ck_assert_uint_eq(r.off, r.n);
	return err;
}

/* CreatePartitions v3 (flexible) of topic to count: the error. */
static int16_t grow_flex(int fd, const char *topic, int32_t count)
{
	struct wb b = { .n = 0 };
	char s[256];

	w8(&b, 0);
	wuv(&b, 2);
	wcstr(&b, topic);
	w32(&b, count);
	wuv(&b, 0); /* assignments: null */
	w8(&b, 0);
	w32(&b, 5000);
	w8(&b, 0);
	w8(&b, 0);
	struct rb r = ask(fd, 37, 3, &b, 1);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(rarray(&r, 1), 1);
	rname(&r, 1, s, sizeof(s));
	int16_t err = r16(&r);
	rname(&r, 1, s, sizeof(s));
	ck_assert_uint_eq(ruv(&r), 0);
	ck_assert_uint_eq(ruv(&r), 0);
	ck_assert_uint_eq(r.off, r.n);
	return err;
}

/* DeleteRecords v2 (flexible) of topic's partition below offset: the
 * error, the new low watermark in *low. */
static int16_t delete_records_flex(int fd, const char *topic, int32_t part, int64_t offset,
				   int64_t *low)
{
	struct wb b = { .n = 0 };
	char s[256];

	w8(&b, 0);
	wuv(&b, 2);
	wcstr(&b, topic);
	wuv(&b, 2);
	w32(&b, part);
	w64(&b, offset);
	w8(&b, 0);
	w8(&b, 0);
	w32(&b, 5000);
	w8(&b, 0);
	struct rb r = ask(fd, 21, 2, &b, 1);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(rarray(&r, 1), 1);
	rname(&r, 1, s, sizeof(s));
	ck_assert_int_eq(rarray(&r, 1), 1);
	ck_assert_int_eq(r32(&r), part);
	*low = r64(&r);
	int16_t err = r16(&r);
	for (int k = 0; k < 3; k++)
		ck_assert_uint_eq(ruv(&r), 0);
	ck_assert_uint_eq(r.off, r.n);
	return err;
}

/* The flexible topic administration: CreateTopics v7 (a single node's
 * topics have no id: the zero uuid; a second creation
 * TOPIC_ALREADY_EXISTS), CreatePartitions v3, DeleteRecords v2, DeleteTopics
 * v4-6 (v5: the message of an unknown topic; v6: an unknown id
 * UNKNOWN_TOPIC_ID with a null name, the zero id never matches). */
START_TEST(topic_admin_flexible)
{
	char topic[128], msg[256];
	static const uint8_t zero[16];
	const uint8_t some[16] = { 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9 };
	uint8_t id[16];
	int64_t low;
	int fd = kh_raw_connect(kh_main());
	rd_kafka_t *p = kh_producer(kh_bootstrap(), NULL);

	kh_name(topic, sizeof(topic), "adm");
	ck_assert_int_eq(create_v7(fd, topic, id), 0);
	ck_assert(memcmp(id, zero, 16) == 0);
	ck_assert_int_eq(create_v7(fd, topic, id), 36);
	ck_assert_int_eq(grow_flex(fd, topic, 3), 0);
	ck_assert_int_eq(grow_flex(fd, topic, 2), 37);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(kh_produce_sync(p, topic, 2, NULL, "x", -1, NULL), 0);
	rd_kafka_destroy(p);
	ck_assert_int_eq(delete_records_flex(fd, topic, 2, 2, &low), 0);
	ck_assert_int_eq(low, 2);
	ck_assert_int_eq(delete_flex(fd, 6, NULL, some, msg, sizeof(msg)), 100);
	ck_assert_int_eq(delete_flex(fd, 6, NULL, zero, msg, sizeof(msg)), 100);
	ck_assert_int_eq(delete_flex(fd, 5, "adm-never-made", NULL, msg, sizeof(msg)), 3);
	ck_assert_int_gt(strlen(msg), 0);
	ck_assert_int_eq(delete_flex(fd, 6, topic, NULL, msg, sizeof(msg)), 0);
	ck_assert_str_eq(msg, "");
	ck_assert_int_eq(delete_flex(fd, 4, topic, NULL, msg, sizeof(msg)), 3);
	close(fd);
}
END_TEST

/* OffsetForLeaderEpoch v4 (flexible): a single node keeps no epochs, so
 * any epoch asked is UNDEFINED (-1, -1); a partition it does not have
 * UNKNOWN_TOPIC_OR_PARTITION. */
START_TEST(offset_for_leader_epoch_v4)
{
	char topic[128], s[128];
	int fd = kh_raw_connect(kh_main());

	kh_name(topic, sizeof(topic), "ofle");
	make_topic(topic, 1);
	for (int32_t part = 0; part <= 4; part += 4) {
		struct wb b = { .n = 0 };

		w8(&b, 0);
		w32(&b, -1); /* replica_id: a consumer */
		wuv(&b, 2);
		wcstr(&b, topic);
		wuv(&b, 2);
		w32(&b, part);
		w32(&b, -1); /* current_leader_epoch */
		w32(&b, 0);  /* leader_epoch */
		w8(&b, 0);
		w8(&b, 0);
		w8(&b, 0);
		struct rb r = ask(fd, 23, 4, &b, 1);
		ck_assert_int_eq(r32(&r), 0);
		ck_assert_int_eq(rarray(&r, 1), 1);
		rname(&r, 1, s, sizeof(s));
		ck_assert_str_eq(s, topic);
		ck_assert_int_eq(rarray(&r, 1), 1);
		ck_assert_int_eq(r16(&r), part ? 3 : 0);
		ck_assert_int_eq(r32(&r), part);
		ck_assert_int_eq(r32(&r), -1);
		ck_assert_int_eq(r64(&r), -1);
		for (int k = 0; k < 3; k++)
			ck_assert_uint_eq(ruv(&r), 0);
		ck_assert_uint_eq(r.off, r.n);
	}
	close(fd);
}
END_TEST

/* ---- Fetch v6-13 and fetch sessions (KIP-227) ---- */

/* The highest Fetch version served (the table in api_versions.c). */
#define FETCH_MAX 13

struct fetch_ans {
	int16_t err;
	int32_t session;
	int n; /* partitions answered */
	struct {
		char topic[128];
		int32_t part;
		int16_t err;
		int64_t hw, log_start;
		int32_t records; /* bytes */
	} p[8];
};

/* A Fetch at ver of topic's partitions parts[0..n) from offsets[] (no
 * wait), in session (id, epoch), forgetting forget (-1: none). */
static void fetch_at(int fd, int ver, int32_t id, int32_t epoch, const char *topic,
		     const int32_t *parts, const int64_t *offsets, int n, int32_t forget,
		     struct fetch_ans *a)
{
	int flex = ver >= 12;
	struct wb b = { .n = 0 };
	static const uint8_t zero[16];

	if (flex)
		w8(&b, 0);
	w32(&b, -1); /* replica_id */
	w32(&b, 0);  /* max_wait_ms */
	w32(&b, 0);  /* min_bytes */
	w32(&b, 1 << 20);
	w8(&b, 0); /* isolation_level */
	if (ver >= 7) {
		w32(&b, id);
		w32(&b, epoch);
	}
	if (flex)
		wuv(&b, n ? 2 : 1);
	else
		w32(&b, n ? 1 : 0);
	if (n) {
		if (ver >= 13)
			wuuid(&b, zero);
		else if (flex)
			wcstr(&b, topic);
		else
			wstr(&b, topic);
		flex ? wuv(&b, (uint32_t)n + 1) : w32(&b, n);
		for (int i = 0; i < n; i++) {
			w32(&b, parts[i]);
			if (ver >= 9)
				w32(&b, -1); /* current_leader_epoch */
			w64(&b, offsets[i]);
			if (ver >= 12)
				w32(&b, -1); /* last_fetched_epoch */
			if (ver >= 5)
				w64(&b, -1);
			w32(&b, 1 << 20);
			if (flex)
				w8(&b, 0);
		}
		if (flex)
			w8(&b, 0);
	}
	if (ver >= 7) { /* forgotten */
		int nf = forget >= 0;
		flex ? wuv(&b, (uint32_t)nf + 1) : w32(&b, nf);
		if (nf) {
			flex ? wcstr(&b, topic) : wstr(&b, topic);
			flex ? wuv(&b, 2) : w32(&b, 1);
			w32(&b, forget);
			if (flex)
				w8(&b, 0);
		}
	}
	if (ver >= 11)
		flex ? wcstr(&b, "") : wstr(&b, "");
	if (flex)
		w8(&b, 0);
	struct rb r = ask(fd, 1, (int16_t)ver, &b, flex);
	memset(a, 0, sizeof(*a));
	ck_assert_int_eq(r32(&r), 0);
	if (ver >= 7) {
		a->err = r16(&r);
		a->session = r32(&r);
	}
	for (int32_t nt = rarray(&r, flex), i = 0; i < nt; i++) {
		char name[128] = "";
		uint8_t tid[16];
		if (ver >= 13)
			ruuid(&r, tid);
		else
			rname(&r, flex, name, sizeof(name));
		for (int32_t np = rarray(&r, flex), j = 0; j < np; j++) {
			ck_assert_int_lt(a->n, 8);
			snprintf(a->p[a->n].topic, sizeof(a->p[a->n].topic), "%s", name);
			a->p[a->n].part = r32(&r);
			a->p[a->n].err = r16(&r);
			a->p[a->n].hw = r64(&r);
			ck_assert_int_eq(r64(&r), a->p[a->n].hw); /* last stable offset */
			a->p[a->n].log_start = r64(&r);
			ck_assert_int_eq(rarray(&r, flex), 0); /* aborted transactions */
			if (ver >= 11)
				ck_assert_int_eq(r32(&r), -1);
			a->p[a->n].records = flex ? (int32_t)ruv(&r) - 1 : r32(&r);
			r.off += (size_t)(a->p[a->n].records > 0 ? a->p[a->n].records : 0);
			if (flex)
				ck_assert_uint_eq(ruv(&r), 0);
			a->n++;
		}
		if (flex)
			ck_assert_uint_eq(ruv(&r), 0);
	}
	if (flex)
		ck_assert_uint_eq(ruv(&r), 0);
	ck_assert_uint_eq(r.off, r.n);
}

/* Every Fetch version from 6 reads what was written, without a session. */
START_TEST(fetch_versions_sessionless)
{
	char topic[128];
	int fd = kh_raw_connect(kh_main());
	rd_kafka_t *p = kh_producer(kh_bootstrap(), NULL);
	const int32_t parts[2] = { 0, 1 };
	const int64_t offs[2] = { 0, 0 };

	kh_name(topic, sizeof(topic), "fv");
	ck_assert_int_eq(kh_create_topic(p, topic, 2, 1, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
	ck_assert_int_eq(kh_produce_sync(p, topic, 1, NULL, "one", -1, NULL), 0);
	rd_kafka_destroy(p);
	for (int ver = 6; ver <= FETCH_MAX && ver < 13; ver++) {
		struct fetch_ans a;

		fetch_at(fd, ver, 0, -1, topic, parts, offs, 2, -1, &a);
		ck_assert_int_eq(a.err, 0);
		ck_assert_int_eq(a.session, 0);
		ck_assert_int_eq(a.n, 2);
		ck_assert_int_eq(a.p[0].records, 0);
		ck_assert_int_eq(a.p[0].hw, 0);
		ck_assert_int_gt(a.p[1].records, 60);
		ck_assert_int_eq(a.p[1].hw, 1);
		ck_assert_int_eq(a.p[1].log_start, 0);
	}
	close(fd);
}
END_TEST

/* A fetch session: opened by a full fetch (every partition answered, an
 * id given), then incremental fetches answer only partitions with news
 * (records, a moved high watermark), keep offsets the request does not
 * name, drop forgotten partitions; a wrong epoch is 71, an unknown or
 * closed session 70. */
START_TEST(fetch_session_incremental)
{
	char topic[128];
	int fd = kh_raw_connect(kh_main());
	rd_kafka_t *p = kh_producer(kh_bootstrap(), NULL);
	const int32_t parts[2] = { 0, 1 };
	int64_t offs[2] = { 0, 0 };
	struct fetch_ans a;

	if (FETCH_MAX < 12) {
		rd_kafka_destroy(p);
		close(fd);
		return;
	}
	kh_name(topic, sizeof(topic), "fs");
	ck_assert_int_eq(kh_create_topic(p, topic, 2, 1, NULL), RD_KAFKA_RESP_ERR_NO_ERROR);
	fetch_at(fd, 12, 0, 0, topic, parts, offs, 2, -1, &a);
	ck_assert_int_eq(a.err, 0);
	ck_assert_int_gt(a.session, 0);
	ck_assert_int_eq(a.n, 2);
	int32_t id = a.session;
	/* nothing new: nothing answered */
	fetch_at(fd, 12, id, 1, topic, NULL, NULL, 0, -1, &a);
	ck_assert_int_eq(a.err, 0);
	ck_assert_int_eq(a.session, id);
	ck_assert_int_eq(a.n, 0);
	/* a record on partition 1: only it, with the record */
	ck_assert_int_eq(kh_produce_sync(p, topic, 1, NULL, "news", -1, NULL), 0);
	fetch_at(fd, 12, id, 2, topic, NULL, NULL, 0, -1, &a);
	ck_assert_int_eq(a.n, 1);
	ck_assert_int_eq(a.p[0].part, 1);
	ck_assert_int_eq(a.p[0].hw, 1);
	ck_assert_int_gt(a.p[0].records, 60);
	/* past it: the high watermark is as answered, so nothing */
	offs[1] = 1;
	fetch_at(fd, 12, id, 3, topic, &parts[1], &offs[1], 1, -1, &a);
	ck_assert_int_eq(a.n, 0);
	/* partition 0 forgotten: its record is not answered; 1's is */
	ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, "zero", -1, NULL), 0);
	ck_assert_int_eq(kh_produce_sync(p, topic, 1, NULL, "two", -1, NULL), 0);
	fetch_at(fd, 12, id, 4, topic, NULL, NULL, 0, 0, &a);
	ck_assert_int_eq(a.n, 1);
	ck_assert_int_eq(a.p[0].part, 1);
	ck_assert_int_eq(a.p[0].hw, 2);
	/* a wrong epoch, then the right one still works */
	fetch_at(fd, 12, id, 9, topic, NULL, NULL, 0, -1, &a);
	ck_assert_int_eq(a.err, 71);
	ck_assert_int_eq(a.n, 0);
	fetch_at(fd, 12, id, 5, topic, NULL, NULL, 0, -1, &a);
	ck_assert_int_eq(a.err, 0);
	/* closed (epoch -1: a full fetch without a session), then unknown */
	fetch_at(fd, 12, id, -1, topic, parts, offs, 2, -1, &a);
	ck_assert_int_eq(a.err, 0);
	ck_assert_int_eq(a.session, 0);
	ck_assert_int_eq(a.n, 2);
	fetch_at(fd, 12, id, 6, topic, NULL, NULL, 0, -1, &a);
	ck_assert_int_eq(a.err, 70);
	/* v7 (not flexible) sessions too, from the ends of the partitions */
	offs[0] = 1;
	offs[1] = 2;
	fetch_at(fd, 7, 0, 0, topic, parts, offs, 2, -1, &a);
	ck_assert_int_gt(a.session, 0);
	ck_assert_int_ne(a.session, id);
	fetch_at(fd, 7, a.session, 1, topic, NULL, NULL, 0, -1, &a);
	ck_assert_int_eq(a.err, 0);
	ck_assert_int_eq(a.n, 0);
	rd_kafka_destroy(p);
	close(fd);
}
END_TEST

/* Fetch v13 names topics by id: a single node's topics have none, so any
 * id is UNKNOWN_TOPIC_ID, echoed in the answer. */
START_TEST(fetch_v13_unknown_topic_id)
{
	int fd = kh_raw_connect(kh_main());
	const int32_t parts[1] = { 0 };
	const int64_t offs[1] = { 0 };
	struct fetch_ans a;

	if (FETCH_MAX < 13) {
		close(fd);
		return;
	}
	fetch_at(fd, 13, 0, -1, "", parts, offs, 1, -1, &a);
	ck_assert_int_eq(a.err, 0);
	ck_assert_int_eq(a.n, 1);
	ck_assert_int_eq(a.p[0].err, 100);
	close(fd);
}
END_TEST

/* docs/kafka-versions.md's table says what ApiVersions v3 answers: the
 * same APIs, ranges and first flexible versions, no more, no fewer. */
START_TEST(versions_doc_is_the_table)
{
	char path[1024], line[1024];
	int16_t key[64], min[64], max[64], flex[64];
	int ndoc = 0;
	snprintf(path, sizeof(path), "%s/docs/kafka-versions.md", TDM_SRCDIR);
	FILE *f = fopen(path, "r");
	ck_assert_msg(f != NULL, "no %s", path);
	while (fgets(line, sizeof(line), f)) {
		char name[64], fl[16];
		int k, lo, hi;
		if (sscanf(line, "| %63[A-Za-z] | %d | %d-%d | %15[a-z0-9] |", name, &k, &lo, &hi, fl) != 5)
			continue;
		ck_assert_int_lt(ndoc, 64);
		key[ndoc] = (int16_t)k, min[ndoc] = (int16_t)lo, max[ndoc] = (int16_t)hi;
		flex[ndoc++] = (int16_t)(strcmp(fl, "none") ? atoi(fl) : -1);
	}
	fclose(f);
	int fd = kh_raw_connect(kh_main());
	struct wb b = { .n = 0 };
	flex_begin(&b);
	wcstr(&b, "tandem-doc-test");
	wcstr(&b, "1");
	wtags(&b);
	kh_raw_request(fd, 18, 3, 7, b.d, b.n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 4 }; /* ApiVersions: header v0 */
	ck_assert_int_eq(r16(&r), 0);
	int32_t napis = rcarr(&r), matched = 0;
	for (int32_t i = 0; i < napis; i++) {
		int16_t k = r16(&r), lo = r16(&r), hi = r16(&r);
		int found = 0;
		rtags(&r);
		for (int j = 0; j < ndoc; j++)
			if (key[j] == k) {
				found = 1;
				ck_assert_msg(min[j] == lo && max[j] == hi,
					      "api %d: served %d-%d, documented %d-%d", k, lo, hi, min[j], max[j]);
				ck_assert_msg(flex[j] < 0 || flex[j] >= lo,
					      "api %d: flexible from %d, below what is served", k, flex[j]);
			}
		ck_assert_msg(found, "api %d served, not documented", k);
		matched++;
	}
	ck_assert_int_eq(matched, ndoc);
	close(fd);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kafka_meta");
	TCase *tc = tcase_create("versions");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, metadata_every_version);
	tcase_add_test(tc, metadata_all_topics_flexible);
	tcase_add_test(tc, metadata_topic_ids);
	tcase_add_test(tc, describe_cluster_v1);
	tcase_add_test(tc, list_offsets_versions);
	tcase_add_test(tc, describe_log_dirs_versions);
	tcase_add_test(tc, configs_flexible);
	tcase_add_test(tc, topic_admin_flexible);
	tcase_add_test(tc, offset_for_leader_epoch_v4);
	tcase_add_test(tc, fetch_versions_sessionless);
	tcase_add_test(tc, fetch_session_incremental);
	tcase_add_test(tc, fetch_v13_unknown_topic_id);
	tcase_add_test(tc, versions_doc_is_the_table);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return kh_run_suite(suite(), NULL);
}
