/* Consumer groups with librdkafka's high-level consumer: two members split
 * three partitions, commit, and a member started after a broker restart
 * resumes from the committed offsets without re-reading; a second group
 * reads everything independently; ListGroups/DescribeGroups show them. */
#include "kafka_harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static rd_kafka_t *member(const char *bootstrap, const char *group)
{
	const char *cc[] = { "group.id", group, "auto.offset.reset", "earliest",
			     "enable.auto.commit", "false", "session.timeout.ms", "6000",
			     "heartbeat.interval.ms", "500", "enable.partition.eof", "false", NULL };
	rd_kafka_t *c = kh_consumer(bootstrap, cc);
	return c;
}

static void subscribe(rd_kafka_t *c, const char *topic)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, RD_KAFKA_PARTITION_UA);
	ck_assert_int_eq(rd_kafka_subscribe(c, l), 0);
	rd_kafka_topic_partition_list_destroy(l);
}

static void produce_all(const char *bootstrap, const char *topic, int parts, int per_part, int base)
{
	rd_kafka_t *p = kh_producer(bootstrap, NULL);
	for (int part = 0; part < parts; part++)
		for (int i = 0; i < per_part; i++) {
			char v[64];
			snprintf(v, sizeof(v), "p%d-%d", part, base + i);
			ck_assert_int_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(part),
							   RD_KAFKA_V_VALUE(v, strlen(v)),
							   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
					 0);
		}
	ck_assert_int_eq(rd_kafka_flush(p, 20000), 0);
	rd_kafka_destroy(p);
}

/* Polls the consumers round robin until `want` messages in total arrived
 * (or timeout); counts per consumer and records which partitions each saw. */
static int poll_all(rd_kafka_t **cs, int n, int want, int *counts, int seen[][8], int timeout_ms)
{
	int total = 0;
	uint64_t end = kh_now_ms() + (uint64_t)timeout_ms;
	while (total < want && kh_now_ms() < end) {
		for (int i = 0; i < n; i++) {
			rd_kafka_message_t *m = rd_kafka_consumer_poll(cs[i], 50);
			if (!m)
				continue;
			if (!m->err) {
				counts[i]++;
				total++;
				if (m->partition >= 0 && m->partition < 8)
					seen[i][m->partition] = 1;
			}
			rd_kafka_message_destroy(m);
		}
	}
	return total;
}

static int assigned_count(rd_kafka_t *c)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	int n = 0;
	if (rd_kafka_assignment(c, &l) == 0 && l) {
		n = l->cnt;
		rd_kafka_topic_partition_list_destroy(l);
	}
	return n;
}

/* 1 when c's position on every partition of its assignment is `at`. */
static int read_to(rd_kafka_t *c, int64_t at)
{
	rd_kafka_topic_partition_list_t *l = NULL;
	int ok = 0;
	if (rd_kafka_assignment(c, &l) == 0 && l && rd_kafka_position(c, l) == 0) {
		ok = 1;
		for (int i = 0; i < l->cnt; i++)
			ok &= l->elems[i].offset == at;
	}
	if (l)
		rd_kafka_topic_partition_list_destroy(l);
	return ok;
}

/* 1 when the two members split the three partitions and each read its own
 * up to `at`. */
static int split_and_read(rd_kafka_t **cs, int64_t at)
{
	return assigned_count(cs[0]) >= 1 && assigned_count(cs[1]) >= 1 &&
	       assigned_count(cs[0]) + assigned_count(cs[1]) == 3 && read_to(cs[0], at) &&
	       read_to(cs[1], at);
}

START_TEST(two_members_split_commit_restart_resume)
{
	struct kh_broker b;
	const char *args[] = { "--group-initial-rebalance-delay-ms", "500", NULL };
	char topic[128], group[128], other[128];
	rd_kafka_t *cs[2];
	int counts[2] = { 0, 0 }, seen[2][8] = { { 0 } };

	ck_assert_int_eq(kh_broker_start(&b, args), 0);
	kh_name(topic, sizeof(topic), "grp");
	kh_name(group, sizeof(group), "g");
	rd_kafka_t *a = kh_producer(b.bootstrap, NULL);
	ck_assert_int_eq(kh_create_topic(a, topic, 3, 1, NULL), 0);
	rd_kafka_destroy(a);
	produce_all(b.bootstrap, topic, 3, 10, 0);

	cs[0] = member(b.bootstrap, group);
	cs[1] = member(b.bootstrap, group);
	subscribe(cs[0], topic);
	subscribe(cs[1], topic);
	/* both members got partitions, together exactly the three, disjoint,
	 * and each read its partitions to the end.  A member that joined
	 * late (a slow machine: after the first rebalance) takes partitions
	 * the other read without committing and reads them again from the
	 * start, so what counts is where each one stands, not a total. */
	uint64_t end = kh_now_ms() + 30000;
	while (!split_and_read(cs, 10) && kh_now_ms() < end)
		poll_all(cs, 2, 1000, counts, seen, 200);
	ck_assert_int_ge(assigned_count(cs[0]), 1);
	ck_assert_int_ge(assigned_count(cs[1]), 1);
	ck_assert_int_eq(assigned_count(cs[0]) + assigned_count(cs[1]), 3);
	ck_assert_msg(split_and_read(cs, 10), "the members did not read their partitions to the end");
	ck_assert_int_ge(counts[0] + counts[1], 30);
	for (int i = 0; i < 2; i++) {
		/* commit where each member stands (its positions, which
		 * split_and_read checked), not librdkafka's offset store: that
		 * store is emptied by a rebalance and filled only as the
		 * application consumes, so commit(NULL) could find nothing
		 * (-168 NO_OFFSET) for a partition read before the last one */
		rd_kafka_topic_partition_list_t *parts = NULL;
		ck_assert_int_eq(rd_kafka_assignment(cs[i], &parts), 0);
		ck_assert_int_eq(rd_kafka_position(cs[i], parts), 0);
		ck_assert_int_eq(rd_kafka_commit(cs[i], parts, 0), 0);
		rd_kafka_topic_partition_list_destroy(parts);
		rd_kafka_consumer_close(cs[i]);
		rd_kafka_destroy(cs[i]);
	}

	/* restart: offsets are durable; the group resumes where it left off */
	ck_assert_int_eq(kh_broker_restart(&b), 0);
	produce_all(b.bootstrap, topic, 3, 2, 10);
	rd_kafka_t *r = member(b.bootstrap, group);
	subscribe(r, topic);
	int c1[1] = { 0 }, s1[1][8] = { { 0 } };
	ck_assert_int_eq(poll_all(&r, 1, 6, c1, s1, 30000), 6);
	/* nothing more: the first 30 are not read again */
	ck_assert_int_eq(poll_all(&r, 1, 1, c1, s1, 2000), 0);
	rd_kafka_commit(r, NULL, 0);
	rd_kafka_consumer_close(r);
	rd_kafka_destroy(r);

	/* a second group reads everything, independently */
	kh_name(other, sizeof(other), "h");
	rd_kafka_t *o = member(b.bootstrap, other);
	subscribe(o, topic);
	int c3[1] = { 0 }, s3[1][8] = { { 0 } };
	ck_assert_int_eq(poll_all(&o, 1, 36, c3, s3, 30000), 36);
	rd_kafka_consumer_close(o);
	rd_kafka_destroy(o);

	/* the groups are listed; the first one is Empty now */
	rd_kafka_t *adm = kh_producer(b.bootstrap, NULL);
	const struct rd_kafka_group_list *gl = NULL;
	ck_assert_int_eq(rd_kafka_list_groups(adm, group, &gl, 5000), 0);
	ck_assert_int_eq(gl->group_cnt, 1);
	ck_assert_str_eq(gl->groups[0].group, group);
	ck_assert_str_eq(gl->groups[0].state, "Empty");
	rd_kafka_group_list_destroy(gl);
	ck_assert_int_eq(rd_kafka_list_groups(adm, NULL, &gl, 5000), 0);
	ck_assert_int_ge(gl->group_cnt, 2);
	rd_kafka_group_list_destroy(gl);
	rd_kafka_destroy(adm);
	ck_assert_int_eq(kh_broker_stop(&b), 0);
	kh_broker_destroy(&b);
}
END_TEST

START_TEST(member_leaving_hands_partitions_over)
{
	char topic[128], group[128];
	rd_kafka_t *cs[2];
	int counts[2] = { 0, 0 }, seen[2][8] = { { 0 } };

	kh_name(topic, sizeof(topic), "leave");
	kh_name(group, sizeof(group), "gl");
	rd_kafka_t *a = kh_producer(kh_bootstrap(), NULL);
	ck_assert_int_eq(kh_create_topic(a, topic, 2, 1, NULL), 0);
	rd_kafka_destroy(a);
	cs[0] = member(kh_bootstrap(), group);
	cs[1] = member(kh_bootstrap(), group);
	subscribe(cs[0], topic);
	subscribe(cs[1], topic);
	uint64_t end = kh_now_ms() + 20000;
	while ((assigned_count(cs[0]) != 1 || assigned_count(cs[1]) != 1) && kh_now_ms() < end)
		poll_all(cs, 2, 1, counts, seen, 100);
	ck_assert_int_eq(assigned_count(cs[0]), 1);
	ck_assert_int_eq(assigned_count(cs[1]), 1);
	/* the second leaves (LeaveGroup): the first gets both partitions */
	rd_kafka_consumer_close(cs[1]);
	rd_kafka_destroy(cs[1]);
	end = kh_now_ms() + 20000;
	while (assigned_count(cs[0]) != 2 && kh_now_ms() < end)
		poll_all(cs, 1, 1, counts, seen, 100);
	ck_assert_int_eq(assigned_count(cs[0]), 2);
	produce_all(kh_bootstrap(), topic, 2, 3, 0);
	counts[0] = 0;
	ck_assert_int_eq(poll_all(cs, 1, 6, counts, seen, 15000), 6);
	rd_kafka_consumer_close(cs[0]);
	rd_kafka_destroy(cs[0]);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kafka_group");
	TCase *tc = kh_tcase("groups");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, two_members_split_commit_restart_resume);
	tcase_add_test(tc, member_leaving_hands_partitions_over);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	const char *args[] = { "--group-initial-rebalance-delay-ms", "300", NULL };
	return kh_run_suite(suite(), args);
}
