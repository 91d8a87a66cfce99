/* Integration tests: one log, two protocols (issue 7).  A stream queue is a
 * topic that Kafka clients see under the documented name; what an AMQP
 * client publishes a Kafka consumer reads (key, value, headers), what a
 * Kafka producer writes an AMQP consumer gets (routing key, body, headers,
 * x-stream-offset); and the bridge: an exchange bound to a stream queue
 * over a multi-partition Kafka topic (x-log-topic) lands each publish in
 * the partition Kafka's murmur2 partitioner picks for its routing key or a
 * header, next to a classic queue bound to the same exchange.  A topic a
 * Kafka client deletes under a stream queue comes back on the next publish.
 * Records the broker keeps in lz4 or zstd (compression.type) reach AMQP
 * consumers decoded.
 *
 * tandemd only (rabbitmq-c and librdkafka against one tandemd with both
 * listeners): against TANDEM_TEST_BROKER it reports SKIP (77). */
#include "harness.h"
#include "kafka_harness.h"
#include "sockutil.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char bootstrap[64];

static amqp_table_entry_t e_str(const char *key, const char *v)
{
	amqp_table_entry_t e;
	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_UTF8;
	e.value.value.bytes = amqp_cstring_bytes(v);
	return e;
}

static amqp_table_entry_t e_i64(const char *key, int64_t v)
{
	amqp_table_entry_t e;
	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_I64;
	e.value.value.i64 = v;
	return e;
}

static void declare_stream_args(amqp_connection_state_t c, const char *q, amqp_table_entry_t *args, int n)
{
	amqp_table_t t = { n, args };
	amqp_queue_declare(c, 1, amqp_cstring_bytes(q), 0, 1, 0, 0, t);
	th_ok_last(c, "declare stream");
}

static void declare_stream(amqp_connection_state_t c, const char *q)
{
	amqp_table_entry_t a[] = { e_str("x-queue-type", "stream") };
	declare_stream_args(c, q, a, 1);
}

/* One Kafka record as read back, with every header. */
struct rec {
	int32_t partition;
	int64_t offset, timestamp;
	char key[256], value[256];
	int nh;
	char hname[16][64], hval[16][256];
};

/* Reads up to max records of topic/partition from the beginning; with
 * to_end, no further than the partition's end (not waiting out timeout_ms). */
static int kafka_read(const char *topic, int32_t partition, struct rec *out, int max, int timeout_ms, int to_end)
{
	const char *kv[] = { "group.id", "stream-kafka", KH_READ_TO_END, NULL };
	const char *kv_no_eof[] = { "group.id", "stream-kafka", "enable.partition.eof", "false", NULL };
	rd_kafka_t *rk = kh_consumer(bootstrap, to_end ? kv : kv_no_eof);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(l, topic, partition)->offset = RD_KAFKA_OFFSET_BEGINNING;
	ck_assert_int_eq(rd_kafka_assign(rk, l), 0);
	rd_kafka_topic_partition_list_destroy(l);
	uint64_t deadline = kh_now_ms() + (uint64_t)timeout_ms;
	int n = 0;
	while (n < max && kh_now_ms() < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
		if (!m)
			continue;
		if (m->err) {
			int eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF;
			rd_kafka_message_destroy(m);
			if (eof)
				break;
			continue;
		}
		struct rec *r = &out[n++];
		memset(r, 0, sizeof(*r));
		r->partition = m->partition;
		r->offset = m->offset;
		r->timestamp = rd_kafka_message_timestamp(m, NULL);
		snprintf(r->key, sizeof(r->key), "%.*s", (int)m->key_len, m->key ? (const char *)m->key : "");
		snprintf(r->value, sizeof(r->value), "%.*s", (int)m->len, m->payload ? (const char *)m->payload : "");
		rd_kafka_headers_t *h = NULL;
		if (rd_kafka_message_headers(m, &h) == 0) {
			const char *name;
			const void *val;
			size_t vlen;
			for (size_t i = 0; r->nh < 16 && rd_kafka_header_get_all(h, i, &name, &val, &vlen) == 0; i++) {
				snprintf(r->hname[r->nh], sizeof(r->hname[0]), "%s", name);
				snprintf(r->hval[r->nh], sizeof(r->hval[0]), "%.*s", (int)vlen,
					 val ? (const char *)val : "");
				r->nh++;
			}
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(rk);
	rd_kafka_destroy(rk);
	return n;
}

static const char *rec_header(const struct rec *r, const char *name)
{
	for (int i = 0; i < r->nh; i++)
		if (strcmp(r->hname[i], name) == 0)
			return r->hval[i];
	return NULL;
}

/* 1 when Kafka's metadata knows topic. */
static int topic_exists(const char *topic)
{
	rd_kafka_t *rk = kh_producer(bootstrap, NULL);
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	ck_assert_int_eq(rd_kafka_metadata(rk, 0, t, &md, 5000), 0);
	int ok = md->topic_cnt == 1 && md->topics[0].err == 0;
	rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(t);
	rd_kafka_destroy(rk);
	return ok;
}

static void publish_with(amqp_connection_state_t c, const char *exchange, const char *key, const char *body,
			 amqp_table_entry_t *hdrs, int nh)
{
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
	p.content_type = amqp_cstring_bytes("text/plain");
	p.message_id = amqp_cstring_bytes(body);
	if (nh) {
		p._flags |= AMQP_BASIC_HEADERS_FLAG;
		p.headers = (amqp_table_t){ nh, hdrs };
	}
	th_publish_props(c, 1, exchange, key, 0, &p, amqp_cstring_bytes(body));
	amqp_method_t m;
	ck_assert_msg(th_wait_method(c, 1, AMQP_BASIC_ACK_METHOD, &m, 10000) == 1, "no confirm for %s", body);
}

static amqp_connection_state_t publisher(void)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	amqp_confirm_select(c, 1);
	th_ok_last(c, "confirm.select");
	return c;
}

/* ---- AMQP -> Kafka ------------------------------------------------------------ */

START_TEST(amqp_publish_kafka_reads)
{
	char q[128], x[128];
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_name(q, sizeof(q), "sk-a2k");
	th_name(x, sizeof(x), "sk-x");
	declare_stream(c, q); /* a legal name in vhost "/": the topic has the same name */
	th_exchange(c, 1, x, "direct");
	th_bind(c, 1, q, x, "rk", amqp_empty_table);
	th_close(c);

	amqp_connection_state_t p = publisher();
	amqp_table_entry_t h[] = { e_str("trace", "t-1"), e_i64("count", 7) };
	publish_with(p, x, "rk", "hello", h, 2);
	publish_with(p, "", q, "direct", NULL, 0);
	th_close(p);

	struct rec r[4];
	int n = kafka_read(q, 0, r, 2, 10000, 0);
	ck_assert_int_eq(n, 2);
	ck_assert_int_eq(r[0].offset, 0);
	ck_assert_str_eq(r[0].key, "rk");
	ck_assert_str_eq(r[0].value, "hello");
	ck_assert_ptr_nonnull(rec_header(&r[0], "x-amqp-properties"));
	ck_assert_str_eq(rec_header(&r[0], "x-amqp-exchange"), x);
	ck_assert_str_eq(rec_header(&r[0], "content-type"), "text/plain");
	ck_assert_str_eq(rec_header(&r[0], "message-id"), "hello");
	ck_assert_str_eq(rec_header(&r[0], "trace"), "t-1");
	ck_assert_ptr_null(rec_header(&r[0], "count")); /* only longstr headers are readable copies */
	ck_assert_msg(r[0].timestamp > 1600000000000LL, "record timestamp %lld", (long long)r[0].timestamp);
	ck_assert_int_eq(r[1].offset, 1);
	ck_assert_str_eq(r[1].key, q);
	ck_assert_str_eq(r[1].value, "direct");
	ck_assert_ptr_null(rec_header(&r[1], "x-amqp-exchange")); /* the default exchange */
}
END_TEST

/* ---- Kafka -> AMQP ------------------------------------------------------------ */

START_TEST(kafka_produce_amqp_reads)
{
	char q[128];
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_name(q, sizeof(q), "sk-k2a");
	declare_stream(c, q);

	rd_kafka_t *prod = kh_producer(bootstrap, NULL);
	int64_t off = -1;
	ck_assert_int_eq(rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(q), RD_KAFKA_V_PARTITION(0),
					   RD_KAFKA_V_KEY("user-42", 7), RD_KAFKA_V_VALUE("from kafka", 10),
					   RD_KAFKA_V_HEADER("source", "kafka", 5),
					   RD_KAFKA_V_HEADER("empty", NULL, 0),
					   RD_KAFKA_V_TIMESTAMP(1700000000123LL),
					   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
			 0);
	ck_assert_int_eq(rd_kafka_flush(prod, 10000), 0);
	ck_assert_int_eq(kh_produce_sync(prod, q, 0, "k2", "second", 0, &off), 0);
	ck_assert_int_eq(off, 1);
	rd_kafka_destroy(prod);

	amqp_basic_qos(c, 1, 0, 10, 0);
	th_ok_last(c, "basic.qos");
	amqp_table_entry_t a = e_str("x-stream-offset", "first");
	amqp_basic_consume(c, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 0, 0, (amqp_table_t){ 1, &a });
	th_ok_last(c, "basic.consume");
	amqp_envelope_t env;
	ck_assert_int_eq(th_next_delivery(c, &env, 10000), 1);
	char body[64];
	th_body(&env.message.body, body, sizeof(body));
	ck_assert_str_eq(body, "from kafka");
	ck_assert(th_bytes_eq(env.routing_key, "user-42"));
	ck_assert_uint_eq(env.exchange.len, 0);
	const amqp_basic_properties_t *g = &env.message.properties;
	ck_assert(g->_flags & AMQP_BASIC_TIMESTAMP_FLAG);
	ck_assert_uint_eq(g->timestamp, 1700000000);
	int seen = 0;
	for (int i = 0; i < g->headers.num_entries; i++) {
		const amqp_table_entry_t *e = &g->headers.entries[i];
		if (th_bytes_eq(e->key, "source")) {
			ck_assert_int_eq(e->value.kind, AMQP_FIELD_KIND_UTF8);
			ck_assert(th_bytes_eq(e->value.value.bytes, "kafka"));
			seen |= 1;
		} else if (th_bytes_eq(e->key, "empty")) {
			ck_assert_int_eq(e->value.kind, AMQP_FIELD_KIND_VOID);
			seen |= 2;
		} else if (th_bytes_eq(e->key, "x-stream-offset")) {
			ck_assert_int_eq(e->value.kind, AMQP_FIELD_KIND_I64);
			ck_assert_int_eq(e->value.value.i64, 0);
			seen |= 4;
		}
	}
	ck_assert_int_eq(seen, 7);
	amqp_basic_ack(c, 1, env.delivery_tag, 0);
	amqp_destroy_envelope(&env);
	ck_assert_int_eq(th_next_delivery(c, &env, 10000), 1);
	th_body(&env.message.body, body, sizeof(body));
	ck_assert_str_eq(body, "second");
	ck_assert(th_bytes_eq(env.routing_key, "k2"));
	amqp_destroy_envelope(&env);

	/* a consumer waiting at the end is woken by a Kafka produce */
	th_channel(c, 2);
	amqp_basic_qos(c, 2, 0, 10, 0);
	th_ok_last(c, "basic.qos");
	amqp_basic_consume(c, 2, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
	th_ok_last(c, "basic.consume next");
	prod = kh_producer(bootstrap, NULL);
	ck_assert_int_eq(kh_produce_sync(prod, q, 0, "k3", "live", 0, &off), 0);
	rd_kafka_destroy(prod);
	int channels = 0; /* both consumers get it: the one from "first" is still there */
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(th_next_delivery(c, &env, 10000), 1);
		th_body(&env.message.body, body, sizeof(body));
		ck_assert_str_eq(body, "live");
		channels |= 1 << env.channel;
		amqp_destroy_envelope(&env);
	}
	ck_assert_int_eq(channels, 6);
	th_close(c);
}
END_TEST

/* A stream queue reads committed records, as a read_committed Kafka
 * consumer: a transactional producer's aborted records never arrive, and
 * an open transaction's wait for its commit. */
START_TEST(transactions_amqp_reads_committed)
{
	char q[128], body[64];
	amqp_envelope_t env;
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_name(q, sizeof(q), "sk-txn");
	declare_stream(c, q);

	rd_kafka_t *p = kh_txn_producer(bootstrap, "sk-txn", "60000");
	const char *vals[] = { "committed", "aborted", "open" };
	for (int i = 0; i < 3; i++) {
		kh_txn_ok(rd_kafka_begin_transaction(p), "begin");
		ck_assert_int_eq(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(q), RD_KAFKA_V_PARTITION(0),
						   RD_KAFKA_V_VALUE((void *)vals[i], strlen(vals[i])),
						   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
						   RD_KAFKA_V_END),
				 0);
		ck_assert_int_eq(rd_kafka_flush(p, 10000), 0);
		if (i == 0)
			kh_txn_ok(rd_kafka_commit_transaction(p, 10000), "commit");
		else if (i == 1)
			kh_txn_ok(rd_kafka_abort_transaction(p, 10000), "abort");
	}
	amqp_basic_qos(c, 1, 0, 10, 0);
	th_ok_last(c, "basic.qos");
	amqp_table_entry_t a = e_str("x-stream-offset", "first");
	amqp_basic_consume(c, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 0, 0,
			   (amqp_table_t){ 1, &a });
	th_ok_last(c, "basic.consume");
	ck_assert_int_eq(th_next_delivery(c, &env, 10000), 1);
	th_body(&env.message.body, body, sizeof(body));
	ck_assert_str_eq(body, "committed");
	amqp_destroy_envelope(&env);
	/* nothing more while the third transaction is open */
	ck_assert_int_eq(th_next_delivery(c, &env, 1500), 0);
	kh_txn_ok(rd_kafka_commit_transaction(p, 10000), "commit");
	ck_assert_int_eq(th_next_delivery(c, &env, 10000), 1);
	th_body(&env.message.body, body, sizeof(body));
	ck_assert_str_eq(body, "open");
	amqp_destroy_envelope(&env);
	rd_kafka_destroy(p);
	th_close(c);
}
END_TEST

/* A topic whose compression.type is lz4 or zstd holds its records in that
 * codec (the broker compresses what librdkafka sends); a stream queue over
 * it (x-log-topic) decodes them for an AMQP consumer (issue 16). */
START_TEST(compressed_topic_amqp_reads)
{
	static const char *codecs[] = { "lz4", "zstd" };
	for (int k = 0; k < 2; k++) {
		char topic[128], view[128];
		kh_name(topic, sizeof(topic), codecs[k]);
		const char *cfg[] = { "compression.type", codecs[k], NULL };
		rd_kafka_t *prod = kh_producer(bootstrap, (const char *[]){ "compression.codec", codecs[k],
									    "linger.ms", "20", NULL });
		ck_assert_int_eq(kh_create_topic(prod, topic, 1, 1, cfg), 0);
		for (int i = 0; i < 50; i++) {
			char key[32], val[64];
			snprintf(key, sizeof(key), "key-%d", i);
			snprintf(val, sizeof(val), "%s-record-%d-%s", codecs[k], i, "abcabcabcabcabc");
			ck_assert_int_eq(rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
							   RD_KAFKA_V_KEY(key, strlen(key)),
							   RD_KAFKA_V_VALUE(val, strlen(val)),
							   RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
					 0);
		}
		ck_assert_int_eq(rd_kafka_flush(prod, 10000), 0);
		rd_kafka_destroy(prod);

		amqp_connection_state_t c = th_connect();
		th_channel(c, 1);
		th_name(view, sizeof(view), "compressed-view");
		amqp_table_entry_t a[] = { e_str("x-queue-type", "stream"), e_str("x-log-topic", topic) };
		declare_stream_args(c, view, a, 2);
		amqp_basic_qos(c, 1, 0, 100, 0);
		th_ok_last(c, "basic.qos");
		amqp_table_entry_t ca = e_str("x-stream-offset", "first");
		amqp_basic_consume(c, 1, amqp_cstring_bytes(view), amqp_empty_bytes, 0, 0, 0, (amqp_table_t){ 1, &ca });
		th_ok_last(c, "basic.consume");
		for (int i = 0; i < 50; i++) {
			amqp_envelope_t env;
			char body[128], want[64], key[32];
			ck_assert_msg(th_next_delivery(c, &env, 10000) == 1, "%s: record %d missing", codecs[k], i);
			th_body(&env.message.body, body, sizeof(body));
			snprintf(want, sizeof(want), "%s-record-%d-%s", codecs[k], i, "abcabcabcabcabc");
			snprintf(key, sizeof(key), "key-%d", i);
			ck_assert_str_eq(body, want);
			ck_assert(th_bytes_eq(env.routing_key, key));
			amqp_basic_ack(c, 1, env.delivery_tag, 0);
			amqp_destroy_envelope(&env);
		}
		amqp_queue_delete(c, 1, amqp_cstring_bytes(view), 0, 0);
		th_close(c);
	}
}
END_TEST

/* ---- names, deletion ---------------------------------------------------------- */

START_TEST(names_and_delete)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	/* not a legal topic name: escaped under "__" */
	char q[128], topic[256];
	th_name(q, sizeof(q), "sk map");
	declare_stream(c, q);
	char esc[200];
	size_t j = 0;
	for (const char *s = q; *s; s++) {
		if ((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-')
			esc[j++] = *s;
		else
			j += (size_t)sprintf(esc + j, "_%02x", (unsigned char)*s);
	}
	esc[j] = '\0';
	snprintf(topic, sizeof(topic), "___2f.%s", esc);
	ck_assert_msg(topic_exists(topic), "no topic %s", topic);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(c, "queue.delete");
	ck_assert_msg(!topic_exists(topic), "topic %s outlived its queue", topic);

	/* a plain stream's topic goes with the queue */
	th_name(q, sizeof(q), "sk-del");
	declare_stream(c, q);
	ck_assert(topic_exists(q));
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(c, "queue.delete");
	ck_assert(!topic_exists(q));
	th_close(c);
}
END_TEST

/* A Kafka client deletes a stream's topic under a waiting consumer: the next
 * publish makes it again, and the consumer goes on from offset 0. */
START_TEST(topic_deleted_by_kafka)
{
	char q[128], body[64];
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_name(q, sizeof(q), "sk-gone");
	declare_stream(c, q);
	amqp_connection_state_t p = publisher();
	publish_with(p, "", q, "before", NULL, 0);
	amqp_basic_qos(c, 1, 0, 10, 0);
	th_ok_last(c, "basic.qos");
	amqp_table_entry_t a = e_str("x-stream-offset", "first");
	amqp_basic_consume(c, 1, amqp_cstring_bytes(q), amqp_empty_bytes, 0, 0, 0, (amqp_table_t){ 1, &a });
	th_ok_last(c, "basic.consume");
	amqp_envelope_t env;
	ck_assert_int_eq(th_next_delivery(c, &env, 10000), 1);
	th_body(&env.message.body, body, sizeof(body));
	ck_assert_str_eq(body, "before");
	amqp_basic_ack(c, 1, env.delivery_tag, 0);
	amqp_destroy_envelope(&env);

	rd_kafka_t *adm = kh_producer(bootstrap, NULL);
	ck_assert_int_eq(kh_delete_topic(adm, q), 0);
	rd_kafka_destroy(adm);
	ck_assert(!topic_exists(q));
	publish_with(p, "", q, "after", NULL, 0);
	ck_assert(topic_exists(q));
	ck_assert_int_eq(th_next_delivery(c, &env, 10000), 1);
	th_body(&env.message.body, body, sizeof(body));
	ck_assert_str_eq(body, "after");
	const amqp_table_t *h = &env.message.properties.headers;
	ck_assert_int_eq(h->entries[h->num_entries - 1].value.value.i64, 0);
	amqp_destroy_envelope(&env);
	th_close(p);
	th_close(c);
}
END_TEST

/* ---- the bridge --------------------------------------------------------------- */

START_TEST(bridge_into_partitioned_topic)
{
	char topic[128], view[128], hview[128], classic[128], x[128];
	kh_name(topic, sizeof(topic), "orders");
	rd_kafka_t *adm = kh_producer(bootstrap, NULL);
	ck_assert_int_eq(kh_create_topic(adm, topic, 3, 1, NULL), 0);
	rd_kafka_destroy(adm);

	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_name(view, sizeof(view), "orders-log");
	th_name(hview, sizeof(hview), "orders-by-customer");
	th_name(classic, sizeof(classic), "orders-work");
	th_name(x, sizeof(x), "shop");
	amqp_table_entry_t a[] = { e_str("x-queue-type", "stream"), e_str("x-log-topic", topic) };
	declare_stream_args(c, view, a, 2);
	amqp_table_entry_t ha[] = { e_str("x-queue-type", "stream"), e_str("x-log-topic", topic),
				    e_str("x-partition-key", "header:customer") };
	declare_stream_args(c, hview, ha, 3);
	th_queue(c, 1, classic, 1, 0, 0, NULL, 0);
	th_exchange(c, 1, x, "topic");
	th_bind(c, 1, view, x, "order.#", amqp_empty_table);
	th_bind(c, 1, classic, x, "order.#", amqp_empty_table);
	th_bind(c, 1, hview, x, "vip.#", amqp_empty_table);

	amqp_connection_state_t p = publisher();
	const char *keys[] = { "order.a", "order.b", "order.c", "order.d", "order.e", "order.f" };
	for (int i = 0; i < 6; i++)
		publish_with(p, x, keys[i], keys[i], NULL, 0);
	const char *customers[] = { "alice", "bob", "carol" };
	for (int i = 0; i < 3; i++) {
		amqp_table_entry_t h = e_str("customer", customers[i]);
		char body[64];
		snprintf(body, sizeof(body), "vip-%s", customers[i]);
		publish_with(p, x, "vip.order", body, &h, 1);
	}
	th_close(p);

	/* the classic queue: every order once */
	ck_assert_uint_eq(th_wait_count(c, 1, classic, 6, 5000), 6);

	/* the log: each record where murmur2 of its key puts it; once the
	 * partitions hold the 9 records between them (bounded wait), each is
	 * read up to its end */
	rd_kafka_t *wk = kh_consumer(bootstrap, NULL);
	int64_t total = 0;
	for (uint64_t end = kh_now_ms() + 10000; total < 9 && kh_now_ms() < end;) {
		total = 0;
		for (int32_t part = 0; part < 3; part++) {
			int64_t lo = 0, hi = 0;
			ck_assert_int_eq(rd_kafka_query_watermark_offsets(wk, topic, part, &lo, &hi, 5000), 0);
			total += hi;
		}
		if (total < 9)
			kh_sleep_ms(20);
	}
	rd_kafka_destroy(wk);
	ck_assert_int_eq(total, 9);
	int found = 0, vips = 0;
	for (int32_t part = 0; part < 3; part++) {
		struct rec r[16];
		int n = kafka_read(topic, part, r, 16, 10000, 1);
		for (int i = 0; i < n; i++) {
			if (strncmp(r[i].value, "vip-", 4) == 0) {
				const char *who = r[i].value + 4;
				ck_assert_int_eq(part, kh_murmur2_partition(who, strlen(who), 3));
				ck_assert_str_eq(rec_header(&r[i], "customer"), who);
				vips++;
				continue;
			}
			ck_assert_str_eq(r[i].key, r[i].value);
			ck_assert_msg(part == kh_murmur2_partition(r[i].key, strlen(r[i].key), 3),
				      "%s in partition %d", r[i].key, part);
			found++;
		}
	}
	ck_assert_int_eq(found, 6);
	ck_assert_int_eq(vips, 3);

	/* AMQP reads one partition of it with x-stream-partition */
	amqp_basic_qos(c, 1, 0, 50, 0);
	th_ok_last(c, "basic.qos");
	int32_t part = kh_murmur2_partition("order.a", 7, 3);
	amqp_table_entry_t ca[] = { e_str("x-stream-offset", "first"), e_i64("x-stream-partition", part) };
	amqp_basic_consume(c, 1, amqp_cstring_bytes(view), amqp_empty_bytes, 0, 0, 0, (amqp_table_t){ 2, ca });
	th_ok_last(c, "basic.consume partition");
	int got_a = 0;
	amqp_envelope_t env;
	while (th_next_delivery(c, &env, 500) == 1) {
		got_a |= th_bytes_eq(env.routing_key, "order.a");
		amqp_basic_ack(c, 1, env.delivery_tag, 0);
		amqp_destroy_envelope(&env);
	}
	ck_assert(got_a);

	/* deleting a view leaves the Kafka topic alone */
	th_channel(c, 2);
	amqp_queue_delete(c, 2, amqp_cstring_bytes(view), 0, 0);
	th_ok_last(c, "queue.delete view");
	amqp_queue_delete(c, 2, amqp_cstring_bytes(hview), 0, 0);
	th_ok_last(c, "queue.delete view");
	ck_assert(topic_exists(topic));
	amqp_queue_delete(c, 2, amqp_cstring_bytes(classic), 0, 0);
	th_close(c);
}
END_TEST

int main(void)
{
	if (getenv("TANDEM_TEST_BROKER") && *getenv("TANDEM_TEST_BROKER")) {
		printf("SKIP: AMQP and Kafka on one tandemd (TANDEM_TEST_BROKER is set)\n");
		return 77;
	}
	int port = su_free_port();
	if (port <= 0) {
		fprintf(stderr, "no free port\n");
		return 99;
	}
	char ports[16];
	snprintf(ports, sizeof(ports), "%d", port);
	snprintf(bootstrap, sizeof(bootstrap), "127.0.0.1:%d", port);
	const char *args[] = { "--kafka-port", ports, NULL };
	th_start_with_args(args);
	Suite *s = suite_create("stream-kafka");
	TCase *tc = th_tcase("cross");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, amqp_publish_kafka_reads);
	tcase_add_test(tc, kafka_produce_amqp_reads);
	tcase_add_test(tc, transactions_amqp_reads_committed);
	tcase_add_test(tc, compressed_topic_amqp_reads);
	tcase_add_test(tc, names_and_delete);
	tcase_add_test(tc, topic_deleted_by_kafka);
	tcase_add_test(tc, bridge_into_partitioned_topic);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
