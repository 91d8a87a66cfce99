/*
 * Kafka's dynamic broker configs (KIP-226) for the topic defaults, by raw
 * requests: IncrementalAlterConfigs / AlterConfigs of BROKER "" (the
 * cluster-wide default, source 3) and of this broker's id (source 2);
 * DescribeConfigs of the broker and of a topic without an override (its
 * value, source and synonyms in Kafka's order); retention applying a
 * dynamic log.retention.ms at once; DELETE going back; the values kept
 * across a restart; the refusals (a static setting, a setting tandem does
 * not have, a bad value, a non-administrator).
 *
 * Depends on: Check, librdkafka, POSIX, the harness.  Nothing from src/.
 */
#include "kafka_harness.h"
#include "kraw.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static uint8_t resp[1 << 20];
static int32_t corr = 500;

static const char *const broker_args[] = { "--log-retention-check-interval-ms",
					   "200",
					   "--log-min-segment-bytes",
					   "1024",
					   "--users.alice.password",
					   "apw",
					   "--users.alice.vhosts",
					   "/",
					   NULL };

/* Sends b as api/version and reads the answer into r (after the
 * correlation id). */
static void call(int fd, int16_t api, int16_t ver, const struct wb *b, struct rb *r)
{
	int32_t c = corr++;
	kh_raw_request(fd, api, ver, c, b->d, b->n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 10000);
	ck_assert_msg(n > 0, "api %d v%d: no answer", api, ver);
	*r = (struct rb){ resp, (size_t)n, 4 };
}

/* The one result of an (Incremental)AlterConfigs answer: its error, its
 * message in msg. */
static int16_t alter_answer(struct rb *r, char *msg, size_t cap)
{
	ck_assert_int_eq(r32(r), 0);
	ck_assert_int_eq(r32(r), 1);
	int16_t err = r16(r);
	rstr(r, msg, cap);
	ck_assert_int_eq(r8(r), 4);
	rskipstr(r);
	return err;
}

/* IncrementalAlterConfigs v0 of broker `name`, one entry. */
static int16_t incr(int fd, const char *name, const char *key, int8_t op, const char *value,
		    int validate_only, char *msg, size_t cap)
{
	struct wb b = { .n = 0 };
	struct rb r;
	w32(&b, 1);
	w8(&b, 4);
	wstr(&b, name);
	w32(&b, 1);
	wstr(&b, key);
	w8(&b, (uint8_t)op);
	wstr(&b, value);
	w8(&b, (uint8_t)validate_only);
	call(fd, 44, 0, &b, &r);
	return alter_answer(&r, msg, cap);
}

/* AlterConfigs v0 of broker `name`: its whole set becomes key=value. */
static int16_t alter(int fd, const char *name, const char *key, const char *value, char *msg,
		     size_t cap)
{
	struct wb b = { .n = 0 };
	struct rb r;
	w32(&b, 1);
	w8(&b, 4);
	wstr(&b, name);
	w32(&b, 1);
	wstr(&b, key);
	wstr(&b, value);
	w8(&b, 0);
	call(fd, 33, 0, &b, &r);
	return alter_answer(&r, msg, cap);
}

/* DescribeConfigs v1 (synonyms) of one key of a resource: its value,
 * source, and synonyms as "source:name=value;..." into syn. */
static void describe(int fd, int8_t type, const char *name, const char *key, char *value,
		     int *source, char *syn, size_t syncap)
{
	struct wb b = { .n = 0 };
	struct rb r;
	char s_name[128], s_val[128];
	w32(&b, 1);
	w8(&b, (uint8_t)type);
	wstr(&b, name);
	w32(&b, 1);
	wstr(&b, key);
	w8(&b, 1);
	call(fd, 32, 1, &b, &r);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r16(&r), 0);
	rskipstr(&r);
	ck_assert_int_eq(r8(&r), type);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	rstr(&r, value, 128);
	r8(&r); /* read_only */
	*source = r8(&r);
	r8(&r); /* is_sensitive */
	syn[0] = '\0';
	for (int32_t i = 0, ns = r32(&r); i < ns; i++) {
		rstr(&r, s_name, sizeof(s_name));
		rstr(&r, s_val, sizeof(s_val));
		int s = r8(&r);
		size_t used = strlen(syn);
		snprintf(syn + used, syncap - used, "%s%d:%s=%s", i ? ";" : "", s, s_name, s_val);
	}
	ck_assert_uint_eq(r.off, r.n);
}

/* SASL PLAIN (handshake v1, authenticate v0) as name/pw: the error. */
static int16_t sasl_plain(int fd, const char *name, const char *pw)
{
	struct wb b = { .n = 0 };
	struct rb r;
	char tok[128];
	size_t n = (size_t)snprintf(tok, sizeof(tok), "%c%s%c%s", 0, name, 0, pw);
	wstr(&b, "PLAIN");
	call(fd, 17, 1, &b, &r);
	ck_assert_int_eq(r16(&r), 0);
	b.n = 0;
	w32(&b, (int32_t)n);
	wraw(&b, tok, n);
	call(fd, 36, 0, &b, &r);
	return r16(&r);
}

static int64_t log_start(rd_kafka_t *rk, const char *topic)
{
	int64_t lo = 0, hi = 0;
	ck_assert_int_eq(rd_kafka_query_watermark_offsets(rk, topic, 0, &lo, &hi, 5000), 0);
	return lo;
}

/* Waits (bounded) until the log start of topic passes 0. */
static int64_t wait_log_start(rd_kafka_t *rk, const char *topic, unsigned ms)
{
	uint64_t end = kh_now_ms() + ms;
	int64_t lo;
	while ((lo = log_start(rk, topic)) == 0 && kh_now_ms() < end)
		kh_sleep_ms(200);
	return lo;
}

#define CHECK_DESCRIBE(fd, type, name, key, want_value, want_source, want_syn) \
	do { \
		char v_[128], s_[1024]; \
		int src_; \
		describe(fd, type, name, key, v_, &src_, s_, sizeof(s_)); \
		ck_assert_str_eq(v_, want_value); \
		ck_assert_int_eq(src_, want_source); \
		ck_assert_str_eq(s_, want_syn); \
	} while (0)

/* Set the cluster default, see it on the broker and on a topic without an
 * override, and retention applying it; this broker's value over it;
 * DELETE back; kept across a restart. */
START_TEST(dynamic_defaults)
{
	struct kh_broker own, *b = &own;
	char topic[128], msg[256];
	ck_assert_int_eq(kh_broker_start(b, broker_args), 0);
	int fd = kh_raw_connect(b);
	const char *cfg[] = { "segment.bytes", "1024", NULL };
	int64_t old = (int64_t)time(NULL) * 1000 - 3600 * 1000;

	kh_name(topic, sizeof(topic), "dyn");
	rd_kafka_t *p = kh_producer(b->bootstrap, NULL);
	ck_assert_int_eq(kh_create_topic(p, topic, 1, 1, cfg), 0);
	for (int i = 0; i < 40; i++)
		ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL,
						 "an hour old record, some bytes", old + i, NULL),
				 0);
	kh_sleep_ms(800); /* four retention checks: 7 days keeps them */
	ck_assert_int_eq(log_start(p, topic), 0);

	/* validate_only changes nothing */
	ck_assert_int_eq(incr(fd, "", "log.retention.ms", 0, "60000", 1, msg, sizeof(msg)), 0);
	CHECK_DESCRIBE(fd, 4, "", "log.retention.ms", "604800000", 5,
		       "5:log.retention.ms=604800000");
	ck_assert_int_eq(incr(fd, "", "log.retention.ms", 0, "60000", 0, msg, sizeof(msg)), 0);
	CHECK_DESCRIBE(fd, 4, "", "log.retention.ms", "60000", 3,
		       "3:log.retention.ms=60000;5:log.retention.ms=604800000");
	CHECK_DESCRIBE(fd, 2, topic, "retention.ms", "60000", 3,
		       "3:log.retention.ms=60000;5:log.retention.ms=604800000");
	/* a topic override still wins over it (segment.bytes is the topic's) */
	CHECK_DESCRIBE(fd, 2, topic, "segment.bytes", "1024", 1,
		       "1:segment.bytes=1024;5:log.segment.bytes=1073741824");
	ck_assert_int_gt(wait_log_start(p, topic, 15000), 0);

	/* this broker's value over the default; DELETE back */
	ck_assert_int_eq(incr(fd, "1", "log.retention.ms", 0, "120000", 0, msg, sizeof(msg)), 0);
	CHECK_DESCRIBE(fd, 2, topic, "retention.ms", "120000", 2,
		       "2:log.retention.ms=120000;3:log.retention.ms=60000;"
		       "5:log.retention.ms=604800000");
	ck_assert_int_eq(incr(fd, "1", "log.retention.ms", 1, NULL, 0, msg, sizeof(msg)), 0);
	CHECK_DESCRIBE(fd, 4, "1", "log.retention.ms", "60000", 3,
		       "3:log.retention.ms=60000;5:log.retention.ms=604800000");

	/* a list: APPEND then SUBTRACT; AlterConfigs replaces the whole set */
	ck_assert_int_eq(incr(fd, "", "log.cleanup.policy", 2, "compact", 0, msg, sizeof(msg)), 0);
	CHECK_DESCRIBE(fd, 2, topic, "cleanup.policy", "compact,delete", 3,
		       "3:log.cleanup.policy=compact,delete;5:log.cleanup.policy=delete");
	ck_assert_int_eq(incr(fd, "", "log.cleanup.policy", 3, "compact", 0, msg, sizeof(msg)), 0);
	ck_assert_int_eq(alter(fd, "", "log.roll.ms", "3600000", msg, sizeof(msg)), 0);
	CHECK_DESCRIBE(fd, 4, "", "log.retention.ms", "604800000", 5,
		       "5:log.retention.ms=604800000");
	CHECK_DESCRIBE(fd, 2, topic, "segment.ms", "3600000", 3,
		       "3:log.roll.ms=3600000;5:log.roll.ms=604800000");
	ck_assert_int_eq(incr(fd, "1", "log.retention.bytes", 0, "123456789", 0, msg, sizeof(msg)),
			 0);
	close(fd);
	rd_kafka_destroy(p);

	/* kept across a restart */
	ck_assert_int_eq(kh_broker_stop(b), 0);
	ck_assert_int_eq(kh_broker_restart(b), 0);
	fd = kh_raw_connect(b);
	CHECK_DESCRIBE(fd, 2, topic, "segment.ms", "3600000", 3,
		       "3:log.roll.ms=3600000;5:log.roll.ms=604800000");
	CHECK_DESCRIBE(fd, 2, topic, "retention.bytes", "123456789", 2,
		       "2:log.retention.bytes=123456789;5:log.retention.bytes=-1");
	/* DELETE of the last values: static again */
	ck_assert_int_eq(incr(fd, "", "log.roll.ms", 1, NULL, 0, msg, sizeof(msg)), 0);
	ck_assert_int_eq(incr(fd, "1", "log.retention.bytes", 1, NULL, 0, msg, sizeof(msg)), 0);
	CHECK_DESCRIBE(fd, 2, topic, "segment.ms", "604800000", 5, "5:log.roll.ms=604800000");
	close(fd);
	kh_broker_destroy(b);
}
END_TEST

/* What is refused, and that nothing changes with it. */
START_TEST(refusals)
{
	char msg[256];
	int fd = kh_raw_connect(kh_main());

	ck_assert_int_eq(incr(fd, "", "num.partitions", 0, "3", 0, msg, sizeof(msg)), 42);
	ck_assert_str_eq(msg, "Cannot update these configs dynamically: Set(num.partitions)");
	ck_assert_int_eq(incr(fd, "", "log.message.format.version", 0, "2.8", 0, msg, sizeof(msg)),
			 42);
	ck_assert_str_eq(
		msg, "Cannot update these configs dynamically: Set(log.message.format.version)");
	ck_assert_int_eq(alter(fd, "1", "broker.id", "2", msg, sizeof(msg)), 42);
	ck_assert_str_eq(msg, "Cannot update these configs dynamically: Set(broker.id)");
	ck_assert_int_eq(incr(fd, "", "sasl.kerberos.service.name", 0, "kafka", 0, msg,
			      sizeof(msg)),
			 42);
	ck_assert_str_eq(msg, "Unknown broker configs: sasl.kerberos.service.name (tandem has no "
			      "such setting)");
	ck_assert_int_eq(incr(fd, "", "log.retention.ms", 0, "soon", 0, msg, sizeof(msg)), 42);
	ck_assert_msg(strstr(msg, "Invalid config value for resource ConfigResource(type=BROKER"),
		      "%s", msg);
	/* the floor a topic's segment.bytes has */
	ck_assert_int_eq(incr(fd, "", "log.segment.bytes", 0, "100", 0, msg, sizeof(msg)), 42);
	ck_assert_int_eq(incr(fd, "", "log.segment.bytes", 2, "100", 0, msg, sizeof(msg)), 40);
	ck_assert_int_eq(incr(fd, "7", "log.retention.ms", 0, "1", 0, msg, sizeof(msg)), 42);
	close(fd);

	fd = kh_raw_connect(kh_main());
	ck_assert_int_eq(sasl_plain(fd, "alice", "apw"), 0);
	ck_assert_int_eq(incr(fd, "", "log.retention.ms", 0, "1", 0, msg, sizeof(msg)), 31);
	close(fd);
	fd = kh_raw_connect(kh_main());
	CHECK_DESCRIBE(fd, 4, "", "log.retention.ms", "604800000", 5,
		       "5:log.retention.ms=604800000");
	close(fd);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kafka_dyncfg");
	TCase *tc = kh_tcase("dyncfg");
	tcase_add_test(tc, refusals);
	tcase_add_test(tc, dynamic_defaults);
	suite_add_tcase(s, tc);
	return kh_run_suite(s, broker_args);
}
