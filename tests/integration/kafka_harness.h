/* Kafka integration tests: tandemd brokers with the Kafka listener on an
 * ephemeral loopback port (AMQP off), started, stopped and restarted by
 * the test, and librdkafka helpers.
 *
 * A program's shared broker is started by kh_run_suite (forked tests
 * inherit it); a test that restarts a broker starts one of its own with
 * kh_broker_start, so the others are not disturbed.  Every wait is
 * bounded.
 *
 * Depends on: Check, librdkafka, POSIX.  Nothing from src/.
 */
#ifndef TANDEM_TESTS_INTEGRATION_KAFKA_HARNESS_H
#define TANDEM_TESTS_INTEGRATION_KAFKA_HARNESS_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <librdkafka/rdkafka.h>

#define KH_TEST_TIMEOUT 60
#define KH_MAX_ARGS 32

struct kh_broker {
	pid_t pid;              /* 0 when stopped */
	pid_t owner;            /* process that started it */
	int port;               /* Kafka port, kept across restarts */
	char dir[4096];         /* data dir, kept across restarts */
	char *args[KH_MAX_ARGS + 1]; /* owned extra tandemd args */
	char bootstrap[64];     /* "127.0.0.1:port" */
};

/* Starts tandemd with a fresh data dir, a free port and the extra args
 * (NULL-terminated, may be NULL); waits until it accepts.  0 or -1. */
int kh_broker_start(struct kh_broker *b, const char *const *extra);
/* SIGTERM and wait (bounded, then SIGKILL).  The data dir is kept.
 * Returns 0 when it exited with status 0. */
int kh_broker_stop(struct kh_broker *b);
/* Starts it again on the same port and data dir.  0 or -1. */
int kh_broker_restart(struct kh_broker *b);
/* Stops it if running and removes the data dir. */
void kh_broker_destroy(struct kh_broker *b);

/* The program's broker (started by kh_run_suite). */
const char *kh_bootstrap(void);
struct kh_broker *kh_main(void);
/* Runs the suite (CK_FORK) around a program broker started with extra
 * args; returns main()'s exit status (a broker that does not stop
 * cleanly fails the run). */
int kh_run_suite(Suite *s, const char *const *extra);
TCase *kh_tcase(const char *name);

uint64_t kh_now_ms(void);
void kh_sleep_ms(unsigned ms);
/* "<prefix>-<pid>-<n>": unique per call and run. */
const char *kh_name(char *buf, size_t len, const char *prefix);

/* ---- librdkafka helpers (fail the test on error) -------------------------- */

/* A config with bootstrap.servers set to bootstrap and then the key/value
 * pairs (NULL-terminated list of alternating keys and values). */
rd_kafka_conf_t *kh_conf(const char *bootstrap, const char *const *kv);
rd_kafka_t *kh_producer(const char *bootstrap, const char *const *kv);
rd_kafka_t *kh_consumer(const char *bootstrap, const char *const *kv);
/* CreateTopics through the admin API; returns the topic's error code. */
rd_kafka_resp_err_t kh_create_topic(rd_kafka_t *rk, const char *topic, int partitions,
				    int replication, const char *const *configs);
/* CreateTopics of one partition on the n nodes of replicas (the preferred
 * leader first); the topic's error code. */
rd_kafka_resp_err_t kh_create_topic_assigned(rd_kafka_t *rk, const char *topic,
					     const int32_t *replicas, int n);
rd_kafka_resp_err_t kh_delete_topic(rd_kafka_t *rk, const char *topic);
/* AlterConfigs of topic: its overrides become configs (NULL-terminated
 * name, value pairs); the topic's error. */
rd_kafka_resp_err_t kh_alter_topic_configs(rd_kafka_t *rk, const char *topic,
					   const char *const *configs);
/* Produce one message and wait for its delivery report; returns the
 * delivery error and the offset through *offset (may be NULL). */
rd_kafka_resp_err_t kh_produce_sync(rd_kafka_t *rk, const char *topic, int32_t partition,
				    const char *key, const char *value, int64_t timestamp,
				    int64_t *offset);
/* Consume partition from offset with assign(); fills up to max messages
 * (copies) within timeout_ms; returns the count.  Free with kh_msgs_free.
 * A consumer made with enable.partition.eof=true stops at the end of the
 * partition (its high watermark when the fetch answered) instead of waiting
 * out timeout_ms for records that are not there. */
struct kh_msg {
	int32_t partition;
	int64_t offset;
	int64_t timestamp;
	char *key;   /* NULL: none */
	char *value; /* NUL-terminated copy */
	char *hdr;   /* first header as "name=value", or NULL */
};
/* Consumer settings (a fragment of a kv list) under which kh_consume reads
 * to the end of the partition and returns at once: EOF events on, and a
 * fetch at the end answered after 10 ms instead of fetch.wait.max.ms's 500. */
#define KH_READ_TO_END "enable.partition.eof", "true", "fetch.wait.max.ms", "10"
int kh_consume(rd_kafka_t *consumer, const char *topic, int32_t partition, int64_t offset,
	       struct kh_msg *out, int max, int timeout_ms);
void kh_msgs_free(struct kh_msg *m, int n);
/* Kafka's murmur2 partitioner, computed here (independent of the broker). */
int32_t kh_murmur2_partition(const char *key, size_t len, int32_t partitions);

/* ---- raw sockets -------------------------------------------------------- */

int kh_raw_connect(const struct kh_broker *b);
/* Sends a request frame: header v1 (api, version, correlation, client id
 * "raw") then body[0..len). */
void kh_raw_request(int fd, int16_t api, int16_t version, int32_t correlation, const void *body,
		    size_t len);
/* Reads one response frame into buf (at most cap); returns its size, 0 on
 * EOF, -1 on timeout. */
long kh_raw_response(int fd, uint8_t *buf, size_t cap, int timeout_ms);
/* 1 when the peer closed the connection within timeout_ms. */
int kh_raw_closed(int fd, int timeout_ms);
/* Connected to 127.0.0.1:port (fails the test when it cannot). */
int kh_raw_connect_port(int port);
/* Writers of raw requests into b at `at`, returning the new end: v as
 * `bytes` big-endian bytes, a zigzag varint, a classic string (int16
 * length; NULL writes null). */
size_t kh_put_be(uint8_t *b, size_t at, uint64_t v, int bytes);
size_t kh_put_varint(uint8_t *b, size_t at, int64_t v);
size_t kh_put_str(uint8_t *b, size_t at, const char *s);
/* CRC-32C (Castagnoli), as a RecordBatch v2 carries it. */
uint32_t kh_crc32c(const uint8_t *p, size_t n);
/* A RecordBatch v2 of one record (null key, value) in out, which must
 * hold 128 + strlen(value) bytes; its size.  break_crc: a wrong CRC. */
size_t kh_batch_one(uint8_t *out, const char *value, int break_crc);
/* kh_batch_one with one record header hname = hval (none when hname is
 * NULL); out must hold 128 + strlen(value) + 256 bytes (hname and hval
 * together at most 256). */
size_t kh_batch_header(uint8_t *out, const char *value, const char *hname, const char *hval,
		       int break_crc);
/* Produce v3 of kh_batch_one(value) to topic/partition with acks and the
 * request's timeout_ms; waits at most wait_ms for the answer.  The
 * partition's error code (and its base offset in *base), or -1 when no
 * answer came (the connection then holds an unanswered request). */
int kh_raw_produce(int fd, const char *topic, int32_t partition, int16_t acks,
		   int32_t timeout_ms, const char *value, int break_crc, int64_t *base, int wait_ms);
/* kh_raw_produce (acks all) of one record in a batch of producer pid,
 * epoch, first sequence seq. */
/* InitProducerId v1 (transactional id tx, NULL for none): the error, the
 * producer id and epoch in *pid, *epoch. */
int16_t kh_raw_init_producer_id(int fd, const char *tx, int64_t *pid, int16_t *epoch);
int kh_raw_produce_idempotent(int fd, const char *topic, int32_t partition, int64_t pid,
			      int16_t epoch, int32_t seq, const char *value, int64_t *base);

/* Fails the test with what and e's text when e is an error. */
void kh_txn_ok(rd_kafka_error_t *e, const char *what);
/* A transactional producer (transactional.id txid, transaction.timeout.ms
 * timeout_ms, linger.ms 0), its transactions initialised (10 s at most). */
rd_kafka_t *kh_txn_producer(const char *bootstrap, const char *txid, const char *timeout_ms);
/* The values of topic/part that a consumer with isolation.level iso
 * reads from the start (to the end, 8 s at most), joined by ','. */
void kh_read_values(const char *bootstrap, const char *topic, int32_t part, const char *iso,
		    char *out, size_t cap);

#endif
