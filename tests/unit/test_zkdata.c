/*
 * Unit tests for src/cluster/zkdata.c: every znode of Kafka's ZooKeeper era
 * encodes to the JSON Kafka writes and decodes back (round trips), decodes
 * what a Kafka broker of that era wrote, and a malformed znode is an error
 * with a reason, never a crash (the fuzz target tests/fuzz/fuzz_zkdata.c
 * replays its corpus in make check).
 */
#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/zkdata.h"

static char err[256];

START_TEST(paths)
{
	char buf[ZKD_PATH_MAX];
	ck_assert_str_eq(zkd_path_broker(buf, sizeof(buf), 3), "/brokers/ids/3");
	ck_assert_str_eq(zkd_path_topic(buf, sizeof(buf), "t"), "/brokers/topics/t");
	ck_assert_str_eq(zkd_path_partitions(buf, sizeof(buf), "t"), "/brokers/topics/t/partitions");
	ck_assert_str_eq(zkd_path_partition(buf, sizeof(buf), "t", 2), "/brokers/topics/t/partitions/2");
	ck_assert_str_eq(zkd_path_partition_state(buf, sizeof(buf), "t", 2),
			 "/brokers/topics/t/partitions/2/state");
	ck_assert_str_eq(zkd_path_topic_config(buf, sizeof(buf), "t"), "/config/topics/t");
	ck_assert_str_eq(zkd_path_delete_topic(buf, sizeof(buf), "t"), "/admin/delete_topics/t");
	ck_assert_ptr_null(zkd_path_topic(buf, 10, "a-long-topic"));
	char topic[250];
	memset(topic, 'x', 249);
	topic[249] = 0;
	ck_assert_ptr_nonnull(zkd_path_partition_state(buf, sizeof(buf), topic, 2147483647));
	int32_t id;
	ck_assert_int_eq(zkd_parse_id("0", &id), 0);
	ck_assert_int_eq(id, 0);
	ck_assert_int_eq(zkd_parse_id("2147483647", &id), 0);
	ck_assert_int_eq(id, 2147483647);
	const char *bad[] = { "", "-1", "01", "2147483648", "1a", " 1", "99999999999999999999" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(zkd_parse_id(bad[i], &id) < 0, "accepted '%s'", bad[i]);
	ck_assert_int_eq(zkd_parse_id(NULL, &id), -1);
	int n = 0;
	for (const char *const *p = zkd_persistent_paths; *p; p++)
		n++;
	ck_assert_int_ge(n, 4);
}
END_TEST

START_TEST(broker_round_trip)
{
	struct zkd_broker b = { .port = 9092, .amqp_port = 5672, .http_port = 15672,
				.cluster_port = 25672, .timestamp = 1700000000123 };
	strcpy(b.host, "10.0.0.7");
	size_t len;
	char *s = zkd_broker_encode(&b, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_uint_eq(strlen(s), len);
	ck_assert_ptr_nonnull(strstr(s, "\"version\":5"));
	ck_assert_ptr_nonnull(strstr(s, "\"endpoints\":[\"PLAINTEXT://10.0.0.7:9092\"]"));
	ck_assert_ptr_nonnull(strstr(s, "\"jmx_port\":-1"));
	ck_assert_ptr_nonnull(strstr(s, "\"timestamp\":\"1700000000123\""));
	ck_assert_ptr_nonnull(strstr(s, "\"tandem\":{\"amqp\":5672,\"http\":15672,\"cluster\":25672}"));
	struct zkd_broker d;
	ck_assert_msg(zkd_broker_decode(s, len, &d, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(d.host, "10.0.0.7");
	ck_assert_int_eq(d.port, 9092);
	ck_assert_int_eq(d.amqp_port, 5672);
	ck_assert_int_eq(d.http_port, 15672);
	ck_assert_int_eq(d.cluster_port, 25672);
	ck_assert(d.timestamp == 1700000000123);
	/* no rack: none written (Kafka leaves the key out), none read */
	ck_assert_ptr_null(strstr(s, "\"rack\""));
	ck_assert_str_eq(d.rack, "");
	free(s);
	/* a rack (broker_rack) is written as Kafka's broker.rack is, and read back */
	strcpy(b.rack, "eu-west-1a");
	s = zkd_broker_encode(&b, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_ptr_nonnull(strstr(s, "\"rack\":\"eu-west-1a\""));
	ck_assert_msg(zkd_broker_decode(s, len, &d, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(d.rack, "eu-west-1a");
	ck_assert_str_eq(d.host, "10.0.0.7");
	free(s);
	/* the longest rack there is room for, and a quote in it */
	memset(b.rack, 'r', ZKD_RACK_MAX);
	b.rack[ZKD_RACK_MAX] = 0;
	b.rack[3] = '"';
	s = zkd_broker_encode(&b, &len);
	ck_assert_ptr_nonnull(s);
	ck_assert_msg(zkd_broker_decode(s, len, &d, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(d.rack, b.rack);
	free(s);
}
END_TEST

START_TEST(broker_as_kafka_wrote_it)
{
	/* Kafka 2.8's registration (no "tandem" member), with a second listener */
	const char *k = "{\"features\":{},\"listener_security_protocol_map\":{\"PLAINTEXT\":\"PLAINTEXT\","
			"\"SSL\":\"SSL\"},\"endpoints\":[\"SSL://h1:9093\",\"PLAINTEXT://h1:9092\"],"
			"\"jmx_port\":-1,\"port\":9092,\"host\":\"h1\",\"version\":5,"
			"\"timestamp\":\"1618412893345\"}";
	struct zkd_broker d;
	ck_assert_msg(zkd_broker_decode(k, strlen(k), &d, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(d.host, "h1");
	ck_assert_int_eq(d.port, 9092);
	ck_assert_int_eq(d.amqp_port, 0);
	ck_assert_int_eq(d.cluster_port, 0);
	ck_assert_str_eq(d.rack, "");
	/* Kafka 2.8 with broker.rack set, and with it null */
	const char *kr = "{\"endpoints\":[\"PLAINTEXT://h2:9092\"],\"rack\":\"dc1\",\"jmx_port\":-1,"
			 "\"host\":\"h2\",\"port\":9092,\"version\":5,\"timestamp\":\"1\"}";
	ck_assert_msg(zkd_broker_decode(kr, strlen(kr), &d, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(d.rack, "dc1");
	ck_assert_str_eq(d.host, "h2");
	const char *kn = "{\"endpoints\":[\"PLAINTEXT://h2:9092\"],\"rack\":null,\"version\":5}";
	ck_assert_msg(zkd_broker_decode(kn, strlen(kn), &d, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(d.rack, "");
	/* version 1 (host and port only) */
	const char *v1 = "{\"jmx_port\":-1,\"timestamp\":\"1\",\"host\":\"old\",\"version\":1,\"port\":9000}";
	ck_assert_msg(zkd_broker_decode(v1, strlen(v1), &d, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(d.host, "old");
	ck_assert_int_eq(d.port, 9000);
	/* an IPv6 endpoint */
	const char *v6 = "{\"version\":5,\"endpoints\":[\"PLAINTEXT://[::1]:9092\"]}";
	ck_assert_msg(zkd_broker_decode(v6, strlen(v6), &d, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(d.host, "[::1]");
	ck_assert_int_eq(d.port, 9092);
}
END_TEST

START_TEST(broker_malformed)
{
	const char *bad[] = {
		"", "{", "[]", "null", "{}", "{\"version\":5}",
		"{\"version\":\"5\",\"host\":\"h\",\"port\":1}",
		"{\"version\":5,\"endpoints\":\"PLAINTEXT://h:1\"}",
		"{\"version\":5,\"endpoints\":[\"h:1\"]}",
		"{\"version\":5,\"endpoints\":[\"PLAINTEXT://h:\"]}",
		"{\"version\":5,\"endpoints\":[\"PLAINTEXT://h:99999\"]}",
		"{\"version\":5,\"endpoints\":[\"PLAINTEXT://h:1x\"]}",
		"{\"version\":5,\"endpoints\":[7]}",
		"{\"version\":5,\"host\":\"h\",\"port\":-1}",
		"{\"version\":5,\"host\":\"\",\"port\":1}",
		"{\"version\":5,\"host\":\"h\",\"port\":1,\"tandem\":[]}",
		"{\"version\":5,\"host\":\"h\",\"port\":1,\"tandem\":{\"amqp\":\"x\"}}",
		"{\"version\":5,\"host\":\"h\",\"port\":1,\"tandem\":{\"http\":70000}}",
		"{\"version\":5,\"host\":\"h\",\"port\":1,\"tandem\":{\"cluster\":-2}}",
		"{\"version\":5,\"host\":\"h\",\"port\":1,\"timestamp\":\"12a\"}",
		"{\"version\":5,\"host\":\"h\",\"port\":1,\"timestamp\":true}",
		"{\"version\":5,\"host\":\"h\\u0000x\",\"port\":1}",
		"{\"version\":5,\"host\":\"h\",\"port\":1} trailing",
		"{\"version\":5,\"host\":\"h\",\"port\":1,\"rack\":\"\"}",
		"{\"version\":5,\"host\":\"h\",\"port\":1,\"rack\":7}",
		"{\"version\":5,\"host\":\"h\",\"port\":1,\"rack\":[\"r1\"]}",
		"{\"version\":5,\"host\":\"h\",\"port\":1,\"rack\":\"r\\u0000\"}",
	};
	struct zkd_broker d;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		ck_assert_msg(zkd_broker_decode(bad[i], strlen(bad[i]), &d, err, sizeof(err)) < 0,
			      "accepted %s", bad[i]);
		ck_assert_msg(err[0], "no reason for %s", bad[i]);
	}
	char host[400] = "{\"version\":5,\"host\":\"";
	memset(host + strlen(host), 'h', 300);
	strcat(host, "\",\"port\":1}");
	ck_assert_int_lt(zkd_broker_decode(host, strlen(host), &d, err, sizeof(err)), 0);
	char rack[400] = "{\"version\":5,\"host\":\"h\",\"port\":1,\"rack\":\"";
	memset(rack + strlen(rack), 'r', ZKD_RACK_MAX + 1); /* one byte too long */
	strcat(rack, "\"}");
	ck_assert_int_lt(zkd_broker_decode(rack, strlen(rack), &d, err, sizeof(err)), 0);
	ck_assert_int_lt(zkd_broker_decode(NULL, 0, &d, err, sizeof(err)), 0);
}
END_TEST

START_TEST(controller_and_epoch)
{
	struct zkd_controller c = { .brokerid = 2, .timestamp = 42 }, d;
	size_t len;
	char *s = zkd_controller_encode(&c, &len);
	ck_assert_str_eq(s, "{\"version\":1,\"brokerid\":2,\"timestamp\":\"42\"}");
	ck_assert_int_eq(zkd_controller_decode(s, len, &d, err, sizeof(err)), 0);
	ck_assert_int_eq(d.brokerid, 2);
	ck_assert(d.timestamp == 42);
	free(s);
	const char *bad[] = { "{}", "{\"brokerid\":-1}", "{\"brokerid\":\"1\"}", "{\"brokerid\":1.5}",
			      "{\"brokerid\":2147483648}", "{\"brokerid\":1,\"version\":0}", "1" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(zkd_controller_decode(bad[i], strlen(bad[i]), &d, err, sizeof(err)) < 0,
			      "accepted %s", bad[i]);

	int32_t e;
	s = zkd_epoch_encode(17, &len);
	ck_assert_str_eq(s, "17");
	ck_assert_uint_eq(len, 2);
	ck_assert_int_eq(zkd_epoch_decode(s, len, &e, err, sizeof(err)), 0);
	ck_assert_int_eq(e, 17);
	free(s);
	ck_assert_int_eq(zkd_epoch_decode("2147483647", 10, &e, err, sizeof(err)), 0);
	const char *ebad[] = { "", "-1", "2147483648", "1 ", "x", "12345678901", "\"1\"" };
	for (size_t i = 0; i < sizeof(ebad) / sizeof(ebad[0]); i++)
		ck_assert_msg(zkd_epoch_decode(ebad[i], strlen(ebad[i]), &e, err, sizeof(err)) < 0,
			      "accepted %s", ebad[i]);
	ck_assert_int_eq(zkd_epoch_decode("12", 1, &e, err, sizeof(err)), 0); /* not past len */
	ck_assert_int_eq(e, 1);
}
END_TEST

START_TEST(topic_round_trip)
{
	int32_t r0[] = { 1, 2, 3 }, r1[] = { 2, 3, 1 }, r2[] = { 3, 1, 2 };
	struct zkd_assignment a[] = { { r0, 3 }, { r1, 3 }, { r2, 3 } };
	struct zkd_topic t = { a, 3, "" }, d;
	size_t len;
	char *s = zkd_topic_encode(&t, &len);
	ck_assert_str_eq(s, "{\"version\":2,\"partitions\":{\"0\":[1,2,3],\"1\":[2,3,1],\"2\":[3,1,2]},"
			    "\"adding_replicas\":{},\"removing_replicas\":{}}");
	ck_assert_msg(zkd_topic_decode(s, len, &d, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(d.npartitions, 3);
	for (size_t p = 0; p < 3; p++) {
		ck_assert_uint_eq(d.partitions[p].nreplicas, 3);
		ck_assert(memcmp(d.partitions[p].replicas, a[p].replicas, 3 * sizeof(int32_t)) == 0);
	}
	zkd_topic_free(&d);
	free(s);
	/* Kafka's version 1 (no adding/removing), partitions out of order */
	const char *k = "{\"version\":1,\"partitions\":{\"1\":[5],\"0\":[4]}}";
	ck_assert_msg(zkd_topic_decode(k, strlen(k), &d, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(d.npartitions, 2);
	ck_assert_int_eq(d.partitions[0].replicas[0], 4);
	ck_assert_int_eq(d.partitions[1].replicas[0], 5);
	zkd_topic_free(&d);
	zkd_topic_free(&d); /* twice is fine */
	zkd_topic_free(NULL);
}
END_TEST

/* A topic id (Kafka's version 3 znode): written, read back; a fresh one
 * each time; a malformed one refused. */
START_TEST(topic_id_round_trip)
{
	int32_t r0[] = { 1 };
	struct zkd_assignment a[] = { { r0, 1 } };
	struct zkd_topic t = { a, 1, "" }, d;
	char other[ZKD_TOPIC_ID_LEN + 1];
	size_t len;
	ck_assert_int_eq(zkd_topic_id_new(t.topic_id), 0);
	ck_assert_int_eq(zkd_topic_id_new(other), 0);
	ck_assert_uint_eq(strlen(t.topic_id), ZKD_TOPIC_ID_LEN);
	ck_assert_str_ne(t.topic_id, other);
	char *s = zkd_topic_encode(&t, &len);
	char want[160];
	snprintf(want, sizeof(want), "{\"version\":3,\"topic_id\":\"%s\",\"partitions\":{\"0\":[1]},"
		 "\"adding_replicas\":{},\"removing_replicas\":{}}", t.topic_id);
	ck_assert_str_eq(s, want);
	ck_assert_msg(zkd_topic_decode(s, len, &d, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(d.topic_id, t.topic_id);
	zkd_topic_free(&d);
	free(s);
	const char *bad[] = {
		"{\"version\":3,\"topic_id\":\"short\",\"partitions\":{\"0\":[1]}}",
		"{\"version\":3,\"topic_id\":7,\"partitions\":{\"0\":[1]}}",
		"{\"version\":3,\"topic_id\":\"AAAAAAAAAAAAAAAAAAAA*A\",\"partitions\":{\"0\":[1]}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		ck_assert_int_eq(zkd_topic_decode(bad[i], strlen(bad[i]), &d, err, sizeof(err)), -1);
		ck_assert_str_eq(err, "topic znode: bad \"topic_id\"");
	}
}
END_TEST

START_TEST(topic_malformed)
{
	const char *bad[] = {
		"{}", "{\"version\":2}", "{\"version\":2,\"partitions\":{}}",
		"{\"version\":2,\"partitions\":[]}",
		"{\"version\":2,\"partitions\":{\"1\":[1]}}",           /* not from 0 */
		"{\"version\":2,\"partitions\":{\"0\":[1],\"0\":[2]}}", /* twice */
		"{\"version\":2,\"partitions\":{\"0\":[1],\"2\":[2]}}", /* a gap */
		"{\"version\":2,\"partitions\":{\"-1\":[1]}}",
		"{\"version\":2,\"partitions\":{\"00\":[1]}}",
		"{\"version\":2,\"partitions\":{\"0\":[]}}",
		"{\"version\":2,\"partitions\":{\"0\":[1,1]}}",
		"{\"version\":2,\"partitions\":{\"0\":[-1]}}",
		"{\"version\":2,\"partitions\":{\"0\":[\"1\"]}}",
		"{\"version\":2,\"partitions\":{\"0\":1}}",
		"{\"version\":2,\"partitions\":{\"0\":[1.0]}}",
		"{\"version\":2,\"partitions\":{\"0\":[2147483648]}}",
		"{\"version\":2,\"partitions\":{\"0\":[1]},\"adding_replicas\":[]}",
		"{\"version\":\"2\",\"partitions\":{\"0\":[1]}}",
	};
	struct zkd_topic d = { 0 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		ck_assert_msg(zkd_topic_decode(bad[i], strlen(bad[i]), &d, err, sizeof(err)) < 0,
			      "accepted %s", bad[i]);
		ck_assert_msg(err[0], "no reason for %s", bad[i]);
		ck_assert_ptr_null(d.partitions);
	}
}
END_TEST

START_TEST(partition_state_round_trip)
{
	int32_t isr[] = { 1, 3 };
	struct zkd_partition_state st = { .controller_epoch = 4, .leader = 1, .leader_epoch = 9,
					  .isr = isr, .nisr = 2 },
				   d;
	size_t len;
	char *s = zkd_partition_state_encode(&st, &len);
	ck_assert_str_eq(s, "{\"controller_epoch\":4,\"leader\":1,\"version\":1,\"leader_epoch\":9,"
			    "\"isr\":[1,3]}");
	ck_assert_msg(zkd_partition_state_decode(s, len, &d, err, sizeof(err)) == 0, "%s", err);
	ck_assert_int_eq(d.controller_epoch, 4);
	ck_assert_int_eq(d.leader, 1);
	ck_assert_int_eq(d.leader_epoch, 9);
	ck_assert_uint_eq(d.nisr, 2);
	ck_assert_int_eq(d.isr[1], 3);
	zkd_partition_state_free(&d);
	free(s);
	/* offline: leader -1, empty ISR */
	const char *off = "{\"controller_epoch\":1,\"leader\":-1,\"version\":1,\"leader_epoch\":2,\"isr\":[]}";
	ck_assert_msg(zkd_partition_state_decode(off, strlen(off), &d, err, sizeof(err)) == 0, "%s",
		      err);
	ck_assert_int_eq(d.leader, -1);
	ck_assert_uint_eq(d.nisr, 0);
	zkd_partition_state_free(&d);
	const char *bad[] = {
		"{}", "{\"controller_epoch\":1,\"leader\":1,\"leader_epoch\":1}",
		"{\"controller_epoch\":1,\"leader\":-2,\"leader_epoch\":1,\"isr\":[]}",
		"{\"controller_epoch\":-1,\"leader\":1,\"leader_epoch\":1,\"isr\":[]}",
		"{\"controller_epoch\":1,\"leader\":1,\"leader_epoch\":1,\"isr\":[1,1]}",
		"{\"controller_epoch\":1,\"leader\":1,\"leader_epoch\":1,\"isr\":{}}",
		"{\"controller_epoch\":1,\"leader\":\"1\",\"leader_epoch\":1,\"isr\":[]}",
		"{\"controller_epoch\":1,\"leader\":1,\"leader_epoch\":1e3,\"isr\":[]}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&d, 0, sizeof(d));
		ck_assert_msg(zkd_partition_state_decode(bad[i], strlen(bad[i]), &d, err, sizeof(err)) < 0,
			      "accepted %s", bad[i]);
		ck_assert_ptr_null(d.isr);
	}
}
END_TEST

START_TEST(config_round_trip)
{
	char *keys[] = { "min.insync.replicas", "retention.ms" }, *vals[] = { "2", "\"quoted\"" };
	struct zkd_config c = { keys, vals, 2 }, d;
	size_t len;
	char *s = zkd_config_encode(&c, &len);
	ck_assert_str_eq(s, "{\"version\":1,\"config\":{\"min.insync.replicas\":\"2\","
			    "\"retention.ms\":\"\\\"quoted\\\"\"}}");
	ck_assert_msg(zkd_config_decode(s, len, &d, err, sizeof(err)) == 0, "%s", err);
	ck_assert_uint_eq(d.n, 2);
	ck_assert_str_eq(zkd_config_get(&d, "min.insync.replicas"), "2");
	ck_assert_str_eq(zkd_config_get(&d, "retention.ms"), "\"quoted\"");
	ck_assert_ptr_null(zkd_config_get(&d, "nope"));
	zkd_config_free(&d);
	free(s);
	const char *empty = "{\"version\":1,\"config\":{}}";
	ck_assert_int_eq(zkd_config_decode(empty, strlen(empty), &d, err, sizeof(err)), 0);
	ck_assert_uint_eq(d.n, 0);
	zkd_config_free(&d);
	const char *bad[] = {
		"{}", "{\"version\":1,\"config\":[]}", "{\"version\":1,\"config\":{\"a\":1}}",
		"{\"version\":1,\"config\":{\"a\":\"1\",\"a\":\"2\"}}",
		"{\"version\":1,\"config\":{\"a\":\"x\\u0000y\"}}",
		"{\"version\":1,\"config\":{\"a\":null}}",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&d, 0, sizeof(d));
		ck_assert_msg(zkd_config_decode(bad[i], strlen(bad[i]), &d, err, sizeof(err)) < 0,
			      "accepted %s", bad[i]);
		ck_assert_ptr_null(d.keys);
	}
}
END_TEST

START_TEST(cluster_id)
{
	char id[23], out[ZKD_CLUSTER_ID_MAX + 1], id2[23];
	ck_assert_int_eq(zkd_cluster_id_new(id), 0);
	ck_assert_int_eq(zkd_cluster_id_new(id2), 0);
	ck_assert_uint_eq(strlen(id), 22);
	ck_assert_str_ne(id, id2);
	for (int i = 0; i < 22; i++) /* base64url */
		ck_assert_msg(isalnum((unsigned char)id[i]) || id[i] == '-' || id[i] == '_', "%s", id);
	size_t len;
	char *s = zkd_cluster_id_encode(id, &len);
	ck_assert_ptr_nonnull(strstr(s, "\"version\":\"1\""));
	ck_assert_int_eq(zkd_cluster_id_decode(s, len, out, err, sizeof(err)), 0);
	ck_assert_str_eq(out, id);
	free(s);
	const char *bad[] = { "{}", "{\"id\":1}", "{\"id\":\"\"}", "{\"version\":\"1\"}", "\"x\"" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(zkd_cluster_id_decode(bad[i], strlen(bad[i]), out, err, sizeof(err)) < 0,
			      "accepted %s", bad[i]);
}
END_TEST

/* Every decoder on every prefix of valid znodes and on byte flips: an
 * error or a success, never a crash (ASan checks the reads). */
START_TEST(truncations_and_flips)
{
	int32_t r[] = { 1, 2 };
	struct zkd_assignment a[] = { { r, 2 } };
	struct zkd_topic t = { a, 1, "AAAAAAAAAAAAAAAAAAAAAA" };
	struct zkd_partition_state st = { 1, 1, 1, r, 2 };
	struct zkd_broker b = { .port = 9092 };
	strcpy(b.host, "h");
	char *docs[] = { zkd_topic_encode(&t, NULL), zkd_partition_state_encode(&st, NULL),
			 zkd_broker_encode(&b, NULL) };
	for (size_t k = 0; k < 3; k++) {
		size_t n = strlen(docs[k]);
		char *buf = malloc(n);
		for (size_t cut = 0; cut <= n; cut++) {
			memcpy(buf, docs[k], cut);
			struct zkd_topic dt;
			struct zkd_partition_state ds;
			struct zkd_broker db;
			struct zkd_config dc;
			if (zkd_topic_decode(buf, cut, &dt, err, sizeof(err)) == 0)
				zkd_topic_free(&dt);
			if (zkd_partition_state_decode(buf, cut, &ds, err, sizeof(err)) == 0)
				zkd_partition_state_free(&ds);
			zkd_broker_decode(buf, cut, &db, err, sizeof(err));
			if (zkd_config_decode(buf, cut, &dc, err, sizeof(err)) == 0)
				zkd_config_free(&dc);
		}
		for (size_t i = 0; i < n; i++) {
			memcpy(buf, docs[k], n);
			buf[i] ^= 0x5a;
			struct zkd_topic dt;
			struct zkd_partition_state ds;
			if (zkd_topic_decode(buf, n, &dt, err, sizeof(err)) == 0)
				zkd_topic_free(&dt);
			if (zkd_partition_state_decode(buf, n, &ds, err, sizeof(err)) == 0)
				zkd_partition_state_free(&ds);
		}
		free(buf);
		free(docs[k]);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("zkdata");
	TCase *tc = tcase_create("zkdata");
	tcase_add_test(tc, paths);
	tcase_add_test(tc, broker_round_trip);
	tcase_add_test(tc, broker_as_kafka_wrote_it);
	tcase_add_test(tc, broker_malformed);
	tcase_add_test(tc, controller_and_epoch);
	tcase_add_test(tc, topic_round_trip);
	tcase_add_test(tc, topic_id_round_trip);
	tcase_add_test(tc, topic_malformed);
	tcase_add_test(tc, partition_state_round_trip);
	tcase_add_test(tc, config_round_trip);
	tcase_add_test(tc, cluster_id);
	tcase_add_test(tc, truncations_and_flips);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
