/*
 * kafka-bench: produce then consume through the Kafka protocol with
 * librdkafka and print records/s and MB/s.  A program that prints numbers,
 * never run by make check.
 *
 *   kafka-bench [-b host:port] [-t topic] [-n records] [-s bytes]
 *               [-p partitions] [-a acks] [-z codec] [-l linger_ms]
 *
 * Creates the topic when missing, produces n records of s bytes (round
 * robin over the partitions), then reads them back from the beginning
 * with assign() and reports both rates.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static long delivered, failed;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk, (void)opaque;
	if (m->err)
		failed++;
	else
		delivered++;
}

static void set(rd_kafka_conf_t *c, const char *k, const char *v)
{
	char err[256];
	if (rd_kafka_conf_set(c, k, v, err, sizeof(err)) != RD_KAFKA_CONF_OK) {
		fprintf(stderr, "%s: %s\n", k, err);
		exit(2);
	}
}

int main(int argc, char **argv)
{
	const char *brokers = "127.0.0.1:9092", *topic = "bench", *acks = "1", *codec = "none",
		   *linger = "5";
	long n = 1000000;
	int size = 100, parts = 1, opt;
	char err[512];

	while ((opt = getopt(argc, argv, "b:t:n:s:p:a:z:l:")) != -1) {
		switch (opt) {
		case 'b': brokers = optarg; break;
		case 't': topic = optarg; break;
		case 'n': n = atol(optarg); break;
		case 's': size = atoi(optarg); break;
		case 'p': parts = atoi(optarg); break;
		case 'a': acks = optarg; break;
		case 'z': codec = optarg; break;
		case 'l': linger = optarg; break;
		default:
			fprintf(stderr, "usage: kafka-bench [-b brokers] [-t topic] [-n records] [-s size]"
					" [-p partitions] [-a acks] [-z codec] [-l linger_ms]\n");
			return 2;
		}
	}
	rd_kafka_conf_t *pc = rd_kafka_conf_new();
	set(pc, "bootstrap.servers", brokers);
	set(pc, "acks", acks);
	set(pc, "compression.codec", codec);
	set(pc, "linger.ms", linger);
	set(pc, "batch.num.messages", "10000");
	set(pc, "batch.size", "1000000");
	set(pc, "queue.buffering.max.messages", "1000000");
	set(pc, "queue.buffering.max.kbytes", "1048576");
	rd_kafka_conf_set_dr_msg_cb(pc, dr_cb);
	rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof(err));
	if (!p) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, parts, 1, err, sizeof(err));
	rd_kafka_queue_t *q = rd_kafka_queue_new(p);
	rd_kafka_CreateTopics(p, &nt, 1, NULL, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 10000);
	if (ev)
		rd_kafka_event_destroy(ev);
	rd_kafka_NewTopic_destroy(nt);
	rd_kafka_queue_destroy(q);

	char *payload = malloc((size_t)size);
	memset(payload, 'x', (size_t)size);
	double t0 = now_s();
	for (long i = 0; i < n; i++) {
		while (rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION((int32_t)(i % parts)),
					 RD_KAFKA_V_VALUE(payload, (size_t)size), RD_KAFKA_V_END) ==
		       RD_KAFKA_RESP_ERR__QUEUE_FULL)
			rd_kafka_poll(p, 1);
		if ((i & 1023) == 0)
			rd_kafka_poll(p, 0);
	}
	rd_kafka_flush(p, 120000);
	double t1 = now_s();
	printf("produce: %ld records of %d bytes, acks=%s, codec=%s, %d partition(s): %.0f records/s, "
	       "%.1f MB/s (%ld delivered, %ld failed)\n",
	       n, size, acks, codec, parts, (double)n / (t1 - t0), (double)n * size / (t1 - t0) / 1e6,
	       delivered, failed);
	rd_kafka_destroy(p);

	rd_kafka_conf_t *cc = rd_kafka_conf_new();
	set(cc, "bootstrap.servers", brokers);
	set(cc, "group.id", "kafka-bench");
	set(cc, "enable.auto.commit", "false");
	set(cc, "fetch.max.bytes", "52428800");
	set(cc, "max.partition.fetch.bytes", "10485760");
	rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof(err));
	rd_kafka_poll_set_consumer(c);
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(parts);
	for (int i = 0; i < parts; i++)
		rd_kafka_topic_partition_list_add(l, topic, i)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(c, l);
	rd_kafka_topic_partition_list_destroy(l);
	/* batch consume: one call hands over up to 10000 messages */
	rd_kafka_queue_t *cq = rd_kafka_queue_get_consumer(c);
	rd_kafka_message_t **msgs = calloc(10000, sizeof(*msgs));
	long got = 0;
	double c0 = 0, deadline = now_s() + 120;
	while (got < delivered && now_s() < deadline) {
		ssize_t k = rd_kafka_consume_batch_queue(cq, 100, msgs, 10000);
		for (ssize_t i = 0; i < k; i++) {
			if (!msgs[i]->err) {
				if (!got)
					c0 = now_s();
				got++;
			}
			rd_kafka_message_destroy(msgs[i]);
		}
	}
	free(msgs);
	rd_kafka_queue_destroy(cq);
	double c1 = now_s();
	printf("consume: %ld records: %.0f records/s, %.1f MB/s (from the first record)\n", got,
	       (double)got / (c1 - c0), (double)got * size / (c1 - c0) / 1e6);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
	free(payload);
	return got == delivered && failed == 0 ? 0 : 1;
}
