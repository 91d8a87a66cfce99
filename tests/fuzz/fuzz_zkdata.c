/*
 * libFuzzer target for the znode decoders of src/cluster/zkdata.c: the
 * first byte picks the decoder, the rest is the znode.  Invariants: a
 * decoder either fails with a reason or succeeds with values in their
 * documented ranges, and what it decoded encodes and decodes again to the
 * same values.  tests/fuzz/replay.c runs it over the committed corpus in
 * `make check`.
 *
 * Depends on: src/cluster/zkdata.[ch], src/util (JSON, base64, hex).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "cluster/zkdata.h"



static void topic(const char *s, size_t n)
{
	char err[128] = "";
	struct zkd_topic t = { 0 }, again = { 0 };
	if (zkd_topic_decode(s, n, &t, err, sizeof(err)) < 0) {
		CHECK(err[0] && !t.partitions);
		return;
	}
	CHECK(t.npartitions > 0);
	for (size_t p = 0; p < t.npartitions; p++) {
		CHECK(t.partitions[p].nreplicas > 0);
		for (size_t i = 0; i < t.partitions[p].nreplicas; i++)
			CHECK(t.partitions[p].replicas[i] >= 0);
	}
	size_t len;
	char *enc = zkd_topic_encode(&t, &len);
	CHECK(enc && zkd_topic_decode(enc, len, &again, err, sizeof(err)) == 0);
	CHECK(again.npartitions == t.npartitions);
	CHECK(strcmp(again.topic_id, t.topic_id) == 0);
	for (size_t p = 0; p < t.npartitions; p++)
		CHECK(again.partitions[p].nreplicas == t.partitions[p].nreplicas &&
		      !memcmp(again.partitions[p].replicas, t.partitions[p].replicas,
			      t.partitions[p].nreplicas * sizeof(int32_t)));
	free(enc);
	zkd_topic_free(&again);
	zkd_topic_free(&t);
}

static void state(const char *s, size_t n)
{
	char err[128] = "";
	struct zkd_partition_state st = { 0 }, again = { 0 };
	if (zkd_partition_state_decode(s, n, &st, err, sizeof(err)) < 0) {
		CHECK(err[0] && !st.isr);
		return;
	}
	CHECK(st.leader >= -1 && st.leader_epoch >= 0 && st.controller_epoch >= 0);
	size_t len;
	char *enc = zkd_partition_state_encode(&st, &len);
	CHECK(enc && zkd_partition_state_decode(enc, len, &again, err, sizeof(err)) == 0);
	CHECK(again.leader == st.leader && again.nisr == st.nisr &&
	      (!st.nisr || !memcmp(again.isr, st.isr, st.nisr * sizeof(int32_t))));
	free(enc);
	zkd_partition_state_free(&again);
	zkd_partition_state_free(&st);
}

static void broker(const char *s, size_t n)
{
	char err[128] = "";
	struct zkd_broker b, again;
	if (zkd_broker_decode(s, n, &b, err, sizeof(err)) < 0) {
		CHECK(err[0]);
		return;
	}
	CHECK(strlen(b.host) <= ZKD_HOST_MAX && b.port >= 0 && b.port <= 65535);
	CHECK(strlen(b.rack) <= ZKD_RACK_MAX);
	CHECK(b.amqp_port >= 0 && b.amqp_port <= 65535 && b.http_port >= 0 && b.http_port <= 65535);
	size_t len;
	char *enc = zkd_broker_encode(&b, &len);
	CHECK(enc);
	if (b.port > 0 && !strchr(b.host, ':') && b.host[0]) {
		CHECK(zkd_broker_decode(enc, len, &again, err, sizeof(err)) == 0);
		CHECK(again.port == b.port && !strcmp(again.host, b.host) &&
		      !strcmp(again.rack, b.rack));
	}
	free(enc);
}

static void config(const char *s, size_t n)
{
	char err[128] = "";
	struct zkd_config c = { 0 }, again = { 0 };
	if (zkd_config_decode(s, n, &c, err, sizeof(err)) < 0) {
		CHECK(err[0] && !c.keys);
		return;
	}
	size_t len;
	char *enc = zkd_config_encode(&c, &len);
	CHECK(enc && zkd_config_decode(enc, len, &again, err, sizeof(err)) == 0);
	CHECK(again.n == c.n);
	for (size_t i = 0; i < c.n; i++)
		CHECK(!strcmp(zkd_config_get(&again, c.keys[i]), c.values[i]));
	free(enc);
	zkd_config_free(&again);
	zkd_config_free(&c);
}

static void small(const char *s, size_t n)
{
	char err[128] = "", id[ZKD_CLUSTER_ID_MAX + 1];
	struct zkd_controller c;
	int32_t e;
	if (zkd_controller_decode(s, n, &c, err, sizeof(err)) == 0)
		CHECK(c.brokerid >= 0);
	if (zkd_epoch_decode(s, n, &e, err, sizeof(err)) == 0)
		CHECK(e >= 0);
	if (zkd_cluster_id_decode(s, n, id, err, sizeof(err)) == 0)
		CHECK(strlen(id) > 0 && strlen(id) <= ZKD_CLUSTER_ID_MAX);
	if (n < 64) {
		char name[64];
		memcpy(name, s, n);
		name[n] = 0;
		zkd_parse_id(name, &e);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	/* an exact-size copy: a read past the znode is caught by ASan */
	size_t n = size - 1;
	char *s = malloc(n ? n : 1);
	if (!s)
		return 0;
	memcpy(s, data + 1, n);
	switch (data[0] % 5) {
	case 0: topic(s, n); break;
	case 1: state(s, n); break;
	case 2: broker(s, n); break;
	case 3: config(s, n); break;
	default: small(s, n); break;
	}
	free(s);
	return 0;
}
