/* Kafka front end with librdkafka: topics (create, metadata, delete,
 * partitions), produce with acks 0/1/all and gzip, consume by assign()
 * from the beginning and from an offset with exact contents, keyed
 * produce landing by murmur2, list offsets (earliest, latest, by time),
 * long-poll fetches woken by appends, retention by size and by time. */
#include "kafka_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static rd_kafka_t *admin(void)
{
	return kh_producer(kh_bootstrap(), NULL);
}

static void create(const char *topic, int parts, const char *const *configs)
{
	rd_kafka_t *a = admin();
	ck_assert_int_eq(kh_create_topic(a, topic, parts, 1, configs), RD_KAFKA_RESP_ERR_NO_ERROR);
	rd_kafka_destroy(a);
}

static int partition_count(rd_kafka_t *rk, const char *topic, rd_kafka_resp_err_t *err)
{
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	int n = -1;

	ck_assert_int_eq(rd_kafka_metadata(rk, 0, t, &md, 5000), 0);
	ck_assert_int_eq(md->topic_cnt, 1);
	*err = md->topics[0].err;
	n = md->topics[0].partition_cnt;
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(md->topics[0].partitions[i].leader, md->brokers[0].id);
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(t);
	return n;
}

START_TEST(create_topic_and_metadata)
{
	char topic[128];
	rd_kafka_t *a = admin();
	rd_kafka_resp_err_t err;
	const char *bad_cfg[] = { "no.such.config", "1", NULL };

	kh_name(topic, sizeof(topic), "create");
	ck_assert_int_eq(kh_create_topic(a, topic, 3, 1, NULL), 0);
	ck_assert_int_eq(partition_count(a, topic, &err), 3);
	ck_assert_int_eq(err, 0);
	ck_assert_int_eq(kh_create_topic(a, topic, 3, 1, NULL), RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS);
	ck_assert_int_eq(kh_create_topic(a, "bad/name", 1, 1, NULL), RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION);
	kh_name(topic, sizeof(topic), "create-rf");
	ck_assert_int_eq(kh_create_topic(a, topic, 1, 3, NULL),
			 RD_KAFKA_RESP_ERR_INVALID_REPLICATION_FACTOR);
	ck_assert_int_eq(kh_create_topic(a, topic, 1, 1, bad_cfg), RD_KAFKA_RESP_ERR_INVALID_CONFIG);
	/* auto-creation is off by default: an unknown topic stays unknown */
	ck_assert_int_eq(partition_count(a, "never-created", &err), 0);
	ck_assert_int_eq(err, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
	rd_kafka_destroy(a);
}
END_TEST

START_TEST(delete_topic_and_add_partitions)
{
	char topic[128];
	rd_kafka_t *a = admin();
	rd_kafka_resp_err_t err;
	rd_kafka_queue_t *q = rd_kafka_queue_new(a);
	char errstr[256];

	kh_name(topic, sizeof(topic), "grow");
	ck_assert_int_eq(kh_create_topic(a, topic, 2, 1, NULL), 0);
	ck_assert_int_eq(kh_produce_sync(a, topic, 1, NULL, "x", 0, NULL), 0);
	rd_kafka_NewPartitions_t *np = rd_kafka_NewPartitions_new(topic, 5, errstr, sizeof(errstr));
	rd_kafka_CreatePartitions(a, &np, 1, NULL, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 10000);
	ck_assert_ptr_nonnull(ev);
	size_t n;
	const rd_kafka_topic_result_t **res =
		rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &n);
	ck_assert_uint_eq(n, 1);
	ck_assert_int_eq(rd_kafka_topic_result_error(res[0]), 0);
	rd_kafka_event_destroy(ev);
	rd_kafka_NewPartitions_destroy(np);
	ck_assert_int_eq(partition_count(a, topic, &err), 5);
	/* partitions never shrink */
	np = rd_kafka_NewPartitions_new(topic, 3, errstr, sizeof(errstr));
	rd_kafka_CreatePartitions(a, &np, 1, NULL, q);
	ev = rd_kafka_queue_poll(q, 10000);
	res = rd_kafka_CreatePartitions_result_topics(rd_kafka_event_CreatePartitions_result(ev), &n);
	ck_assert_int_eq(rd_kafka_topic_result_error(res[0]), RD_KAFKA_RESP_ERR_INVALID_PARTITIONS);
	rd_kafka_event_destroy(ev);
	rd_kafka_NewPartitions_destroy(np);
	rd_kafka_queue_destroy(q);

	ck_assert_int_eq(kh_delete_topic(a, topic), 0);
	ck_assert_int_eq(partition_count(a, topic, &err), 0);
	ck_assert_int_eq(err, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
	ck_assert_int_eq(kh_delete_topic(a, topic), RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
	rd_kafka_destroy(a);
}
END_TEST

/* Produces n messages "m<i>" with key "k<i>" and header h=<i> to partition 0. */
static void produce_n(const char *topic, int n, const char *const *conf)
{
	rd_kafka_t *p = kh_producer(kh_bootstrap(), conf);
	for (int i = 0; i < n; i++) {
		char k[32], v[32], h[32];
		snprintf(k, sizeof(k), "k%d", i);
		snprintf(v, sizeof(v), "m%d", i);
		snprintf(h, sizeof(h), "%d", i);
		ck_assert_int_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
						   RD_KAFKA_V_KEY(k, strlen(k)), RD_KAFKA_V_VALUE(v, strlen(v)),
						   RD_KAFKA_V_HEADER("h", h, (ssize_t)strlen(h)),
						   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
				 0);
	}
	ck_assert_int_eq(rd_kafka_flush(p, 20000), 0);
	rd_kafka_destroy(p);
}

static void check_range(const char *topic, int64_t from, int n)
{
	const char *cc[] = { "group.id", "assign-only", "enable.auto.commit", "false",
			     KH_READ_TO_END, NULL };
	rd_kafka_t *c = kh_consumer(kh_bootstrap(), cc);
	struct kh_msg *m = calloc((size_t)n + 1, sizeof(*m));
	/* acks=0 returns before the broker appended: wait (bounded) until the
	 * records are all there, then read up to the end of the partition */
	int64_t lo = 0, hi = 0;
	for (uint64_t end = kh_now_ms() + 10000; hi < from + n && kh_now_ms() < end;) {
		ck_assert_int_eq(rd_kafka_query_watermark_offsets(c, topic, 0, &lo, &hi, 5000), 0);
		if (hi < from + n)
			kh_sleep_ms(20);
	}
	int got = kh_consume(c, topic, 0, from, m, n + 1, 10000);

	ck_assert_int_eq(got, n);
	for (int i = 0; i < got; i++) {
		char k[32], v[32], h[32];
		int64_t o = from + i;
		snprintf(k, sizeof(k), "k%lld", (long long)o);
		snprintf(v, sizeof(v), "m%lld", (long long)o);
		snprintf(h, sizeof(h), "h=%lld", (long long)o);
		ck_assert_int_eq(m[i].offset, o);
		ck_assert_str_eq(m[i].key, k);
		ck_assert_str_eq(m[i].value, v);
		ck_assert_ptr_nonnull(m[i].hdr);
		ck_assert_str_eq(m[i].hdr, h);
	}
	kh_msgs_free(m, got);
	free(m);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
}

START_TEST(produce_consume_exact)
{
	char topic[128];
	kh_name(topic, sizeof(topic), "exact");
	create(topic, 1, NULL);
	produce_n(topic, 100, NULL);
	check_range(topic, 0, 100);
	/* from an offset, and again: reading deletes nothing */
	check_range(topic, 42, 58);
	check_range(topic, 0, 100);
}
END_TEST

START_TEST(produce_acks_and_gzip)
{
	static const char *const variants[][7] = {
		{ "acks", "0", NULL },
		{ "acks", "1", NULL },
		{ "acks", "all", NULL },
		{ "acks", "all", "compression.codec", "gzip", "linger.ms", "50", NULL },
		{ "acks", "1", "compression.codec", "gzip", NULL },
	};
	for (size_t v = 0; v < sizeof(variants) / sizeof(variants[0]); v++) {
		char topic[128];
		kh_name(topic, sizeof(topic), "acks");
		create(topic, 1, NULL);
		produce_n(topic, 50, variants[v]);
		check_range(topic, 0, 50);
	}
}
END_TEST

START_TEST(keyed_produce_lands_by_murmur2)
{
	char topic[128];
	const char *pc[] = { "partitioner", "murmur2", NULL };
	const char *cc[] = { "group.id", "assign-only", KH_READ_TO_END, NULL };
	int count[3] = { 0 };

	kh_name(topic, sizeof(topic), "keyed");
	create(topic, 3, NULL);
	rd_kafka_t *p = kh_producer(kh_bootstrap(), pc);
	for (int i = 0; i < 60; i++) {
		char k[32];
		snprintf(k, sizeof(k), "key-%d", i);
		ck_assert_int_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(k, strlen(k)),
						   RD_KAFKA_V_VALUE(k, strlen(k)),
						   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
				 0);
	}
	ck_assert_int_eq(rd_kafka_flush(p, 20000), 0);
	rd_kafka_destroy(p);
	rd_kafka_t *c = kh_consumer(kh_bootstrap(), cc);
	for (int32_t part = 0; part < 3; part++) {
		struct kh_msg m[64];
		int n = kh_consume(c, topic, part, RD_KAFKA_OFFSET_BEGINNING, m, 64, 10000);
		for (int i = 0; i < n; i++)
			ck_assert_int_eq(kh_murmur2_partition(m[i].key, strlen(m[i].key), 3), part);
		count[part] = n;
		kh_msgs_free(m, n);
	}
	ck_assert_int_eq(count[0] + count[1] + count[2], 60);
	ck_assert(count[0] > 0 && count[1] > 0 && count[2] > 0);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
}
END_TEST

START_TEST(list_offsets)
{
	char topic[128];
	int64_t lo, hi, ts0 = 1600000000000LL;
	rd_kafka_t *p;

	kh_name(topic, sizeof(topic), "offsets");
	create(topic, 1, NULL);
	p = admin();
	ck_assert_int_eq(rd_kafka_query_watermark_offsets(p, topic, 0, &lo, &hi, 5000), 0);
	ck_assert_int_eq(lo, 0);
	ck_assert_int_eq(hi, 0);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, "t", ts0 + i * 1000, NULL), 0);
	ck_assert_int_eq(rd_kafka_query_watermark_offsets(p, topic, 0, &lo, &hi, 5000), 0);
	ck_assert_int_eq(lo, 0);
	ck_assert_int_eq(hi, 5);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(3);
	rd_kafka_topic_partition_list_add(l, topic, 0)->offset = ts0 + 1500;
	ck_assert_int_eq(rd_kafka_offsets_for_times(p, l, 5000), 0);
	ck_assert_int_eq(l->elems[0].err, 0);
	ck_assert_int_eq(l->elems[0].offset, 2);
	l->elems[0].offset = ts0;
	ck_assert_int_eq(rd_kafka_offsets_for_times(p, l, 5000), 0);
	ck_assert_int_eq(l->elems[0].offset, 0);
	l->elems[0].offset = ts0 + 10000; /* after the last record: none */
	ck_assert_int_eq(rd_kafka_offsets_for_times(p, l, 5000), 0);
	ck_assert_int_eq(l->elems[0].offset, -1);
	rd_kafka_topic_partition_list_destroy(l);
	rd_kafka_destroy(p);
}
END_TEST

START_TEST(fetch_long_poll_woken_by_append)
{
	char topic[128];
	const char *cc[] = { "group.id", "assign-only", "fetch.wait.max.ms", "10000",
			     "fetch.min.bytes", "1", NULL };
	kh_name(topic, sizeof(topic), "longpoll");
	create(topic, 1, NULL);
	rd_kafka_t *c = kh_consumer(kh_bootstrap(), cc);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, 0)->offset = 0;
	rd_kafka_assign(c, l);
	rd_kafka_topic_partition_list_destroy(l);
	/* let the consumer park a fetch on the empty partition */
	uint64_t end = kh_now_ms() + 1500;
	while (kh_now_ms() < end) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
		if (m) {
			ck_assert_int_ne(m->err, 0); /* only events, no data yet */
			rd_kafka_message_destroy(m);
		}
	}
	rd_kafka_t *p = admin();
	uint64_t t0 = kh_now_ms();
	ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, "wake", 0, NULL), 0);
	int got = 0;
	while (!got && kh_now_ms() < t0 + 8000) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 50);
		if (m) {
			got = m->err == 0 && m->len == 4 && memcmp(m->payload, "wake", 4) == 0;
			rd_kafka_message_destroy(m);
		}
	}
	ck_assert(got);
	/* a parked fetch woken by the append answers long before max.wait (10 s) */
	ck_assert_msg(kh_now_ms() - t0 < 3000, "took %llu ms", (unsigned long long)(kh_now_ms() - t0));
	rd_kafka_destroy(p);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
}
END_TEST

START_TEST(fetch_out_of_range)
{
	char topic[128];
	const char *cc[] = { "group.id", "assign-only", "auto.offset.reset", "error", NULL };
	kh_name(topic, sizeof(topic), "range");
	create(topic, 1, NULL);
	produce_n(topic, 3, NULL);
	rd_kafka_t *c = kh_consumer(kh_bootstrap(), cc);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, 0)->offset = 1000;
	rd_kafka_assign(c, l);
	rd_kafka_topic_partition_list_destroy(l);
	int seen = 0;
	uint64_t end = kh_now_ms() + 8000;
	while (!seen && kh_now_ms() < end) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
		if (m) {
			ck_assert_int_ne(m->err, 0);
			seen = m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
			       m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE;
			rd_kafka_message_destroy(m);
		}
	}
	ck_assert(seen);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
}
END_TEST

/* Waits (bounded) until the partition's log start offset moves past 0. */
static int64_t wait_log_start(rd_kafka_t *rk, const char *topic, int64_t *hi)
{
	int64_t lo = 0;
	uint64_t end = kh_now_ms() + 15000;
	while (kh_now_ms() < end) {
		ck_assert_int_eq(rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, hi, 5000), 0);
		if (lo > 0)
			break;
		kh_sleep_ms(200);
	}
	return lo;
}

START_TEST(retention_by_size)
{
	char topic[128];
	char value[200];
	const char *cfg[] = { "segment.bytes", "2048", "retention.bytes", "4096", NULL };
	int64_t lo, hi;

	memset(value, 'v', sizeof(value) - 1);
	value[sizeof(value) - 1] = 0;
	kh_name(topic, sizeof(topic), "retsize");
	create(topic, 1, cfg);
	rd_kafka_t *p = admin();
	for (int i = 0; i < 100; i++)
		ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, value, 0, NULL), 0);
	lo = wait_log_start(p, topic, &hi);
	ck_assert_int_gt(lo, 0);
	ck_assert_int_eq(hi, 100);
	ck_assert_int_lt(lo, 100);
	rd_kafka_destroy(p);
	/* the earliest offset now reads from the new log start */
	const char *cc[] = { "group.id", "assign-only", NULL };
	rd_kafka_t *c = kh_consumer(kh_bootstrap(), cc);
	struct kh_msg m[1];
	ck_assert_int_eq(kh_consume(c, topic, 0, RD_KAFKA_OFFSET_BEGINNING, m, 1, 5000), 1);
	ck_assert_int_ge(m[0].offset, lo);
	kh_msgs_free(m, 1);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
}
END_TEST

START_TEST(retention_by_time)
{
	char topic[128];
	const char *cfg[] = { "segment.bytes", "1024", "retention.ms", "60000", NULL };
	int64_t old = (int64_t)time(NULL) * 1000 - 3600 * 1000, lo, hi;

	kh_name(topic, sizeof(topic), "rettime");
	create(topic, 1, cfg);
	rd_kafka_t *p = admin();
	/* records an hour old fill several segments; the last stays active */
	for (int i = 0; i < 40; i++)
		ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, "an old record with some bytes in it",
						 old + i, NULL),
				 0);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, "new", 0, NULL), 0);
	lo = wait_log_start(p, topic, &hi);
	ck_assert_int_gt(lo, 0);
	ck_assert_int_le(lo, 40);
	ck_assert_int_eq(hi, 43);
	rd_kafka_destroy(p);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kafka_basic");
	TCase *tc = kh_tcase("topics");
	tcase_add_test(tc, create_topic_and_metadata);
	tcase_add_test(tc, delete_topic_and_add_partitions);
	suite_add_tcase(s, tc);
	tc = kh_tcase("produce_consume");
	tcase_add_test(tc, produce_consume_exact);
	tcase_add_test(tc, produce_acks_and_gzip);
	tcase_add_test(tc, keyed_produce_lands_by_murmur2);
	tcase_add_test(tc, list_offsets);
	tcase_add_test(tc, fetch_long_poll_woken_by_append);
	tcase_add_test(tc, fetch_out_of_range);
	suite_add_tcase(s, tc);
	tc = kh_tcase("retention");
	tcase_add_test(tc, retention_by_size);
	tcase_add_test(tc, retention_by_time);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* the retention tests use small segments: lower the floor for them */
	const char *args[] = { "--log-retention-check-interval-ms", "200", "--log-min-segment-bytes",
			       "1024", NULL };
	return kh_run_suite(suite(), args);
}
