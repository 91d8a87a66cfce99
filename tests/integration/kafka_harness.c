/* Kafka integration test harness; see kafka_harness.h.  Starts tandemd as
 * a separate process and never links server code. */
#include "kafka_harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sockutil.h"

#ifndef TANDEMD_PATH
#define TANDEMD_PATH "../../src/tandemd"
#endif

static struct kh_broker main_broker;

uint64_t kh_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void kh_sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

const char *kh_name(char *buf, size_t len, const char *prefix)
{
	static unsigned counter;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, len, "%s-%ld-%u-%lx", prefix, (long)getpid(), ++counter,
		 (unsigned long)(ts.tv_nsec & 0xffff));
	return buf;
}

static pid_t spawn(struct kh_broker *b)
{
	char port[16];
	pid_t pid;

	snprintf(port, sizeof(port), "%d", b->port);
	pid = fork();
	if (pid != 0)
		return pid;
	char *argv[64 + KH_MAX_ARGS];
	int n = 0;
	char wrapper[1024];
	const char *w = getenv("TANDEMD_WRAPPER");
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (w && *w) {
		snprintf(wrapper, sizeof(wrapper), "%s", w);
		for (char *save = NULL, *t = strtok_r(wrapper, " \t", &save); t && n < 40;
		     t = strtok_r(NULL, " \t", &save))
			argv[n++] = t;
	}
	argv[n++] = (char *)(getenv("TANDEMD") ? getenv("TANDEMD") : TANDEMD_PATH);
	argv[n++] = "--data-dir";
	argv[n++] = b->dir;
	argv[n++] = "--amqp-port";
	argv[n++] = "0";
	argv[n++] = "--http-port";
	argv[n++] = "0";
	argv[n++] = "--kafka-port";
	argv[n++] = port;
	argv[n++] = "--log-level";
	argv[n++] = (char *)(getenv("TANDEMD_LOG_LEVEL") ? getenv("TANDEMD_LOG_LEVEL") : "warning");
	for (int i = 0; b->args[i]; i++)
		argv[n++] = b->args[i];
	argv[n] = NULL;
	execvp(argv[0], argv);
	fprintf(stderr, "kafka harness: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* 1 up, 0 exited, -1 timeout */
static int wait_up(struct kh_broker *b)
{
	const char *w = getenv("TANDEMD_WRAPPER");
	uint64_t deadline = kh_now_ms() + (w && *w ? 60000 : 10000);
	int status;

	while (kh_now_ms() < deadline) {
		if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
			b->pid = 0;
			return 0;
		}
		int fd = su_tcp_connect(b->port);
		if (fd >= 0) {
			close(fd);
			return 1;
		}
		kh_sleep_ms(20);
	}
	return -1;
}

int kh_broker_restart(struct kh_broker *b)
{
	if (b->pid > 0)
		kh_broker_stop(b);
	b->pid = spawn(b);
	if (b->pid < 0) {
		b->pid = 0;
		return -1;
	}
	b->owner = getpid();
	if (wait_up(b) == 1)
		return 0;
	if (b->pid) {
		kill(b->pid, SIGKILL);
		waitpid(b->pid, NULL, 0);
		b->pid = 0;
	}
	return -1;
}

int kh_broker_start(struct kh_broker *b, const char *const *extra)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	memset(b, 0, sizeof(*b));
	for (int i = 0; extra && extra[i] && i < KH_MAX_ARGS; i++)
		b->args[i] = strdup(extra[i]);
	for (int attempt = 0; attempt < 5; attempt++) {
		snprintf(b->dir, sizeof(b->dir), "%s/tandem-kt.XXXXXX", tmp);
		if (!mkdtemp(b->dir))
			return -1;
		b->port = su_free_port();
		snprintf(b->bootstrap, sizeof(b->bootstrap), "127.0.0.1:%d", b->port);
		if (kh_broker_restart(b) == 0)
			return 0;
		su_rm_tree(b->dir); /* port taken meanwhile? retry */
	}
	fprintf(stderr, "kafka harness: could not start tandemd\n");
	return -1;
}

int kh_broker_stop(struct kh_broker *b)
{
	int status = 0;
	uint64_t deadline = kh_now_ms() + 20000;

	if (b->pid <= 0)
		return 0; /* never kill(0 or -1, ...): that is every process */
	kill(b->pid, SIGTERM);
	for (;;) {
		pid_t r = waitpid(b->pid, &status, WNOHANG);
		if (r == b->pid || (r < 0 && errno == ECHILD))
			break;
		if (kh_now_ms() > deadline) {
			fprintf(stderr, "kafka harness: tandemd did not stop on SIGTERM\n");
			kill(b->pid, SIGKILL);
			waitpid(b->pid, &status, 0);
			b->pid = 0;
			return -1;
		}
		kh_sleep_ms(20);
	}
	b->pid = 0;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "kafka harness: tandemd exited with status 0x%x\n", status);
		return -1;
	}
	return 0;
}

void kh_broker_destroy(struct kh_broker *b)
{
	if (b->pid && b->owner == getpid())
		kh_broker_stop(b);
	if (b->dir[0] && !getenv("TANDEM_TEST_KEEP_DATA"))
		su_rm_tree(b->dir);
	for (int i = 0; b->args[i]; i++)
		free(b->args[i]);
	memset(b, 0, sizeof(*b));
}

const char *kh_bootstrap(void)
{
	return main_broker.bootstrap;
}

struct kh_broker *kh_main(void)
{
	return &main_broker;
}

TCase *kh_tcase(const char *name)
{
	TCase *tc = tcase_create(name);
	tcase_set_timeout(tc, KH_TEST_TIMEOUT);
	return tc;
}

int kh_run_suite(Suite *s, const char *const *extra)
{
	SRunner *sr = srunner_create(s);
	int failed;

	signal(SIGPIPE, SIG_IGN);
	if (kh_broker_start(&main_broker, extra) < 0)
		return 99;
	if (!getenv("CK_FORK"))
		srunner_set_fork_status(sr, CK_FORK);
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	if (kh_broker_stop(&main_broker) != 0)
		failed++;
	kh_broker_destroy(&main_broker);
	return failed ? 1 : 0;
}

/* ---- librdkafka --------------------------------------------------------------- */

rd_kafka_conf_t *kh_conf(const char *bootstrap, const char *const *kv)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char err[512];

	ck_assert(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof(err)) ==
		  RD_KAFKA_CONF_OK);
	for (int i = 0; kv && kv[i]; i += 2)
		ck_assert_msg(rd_kafka_conf_set(conf, kv[i], kv[i + 1], err, sizeof(err)) ==
				      RD_KAFKA_CONF_OK,
			      "%s: %s", kv[i], err);
	return conf;
}

struct dr_state {
	int done;
	rd_kafka_resp_err_t err;
	int64_t offset;
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk, (void)opaque;
	struct dr_state *st = m->_private;
	if (st) {
		st->done = 1;
		st->err = m->err;
		st->offset = m->offset;
	}
}

rd_kafka_t *kh_producer(const char *bootstrap, const char *const *kv)
{
	char err[512];
	rd_kafka_conf_t *conf = kh_conf(bootstrap, kv);
	rd_kafka_conf_set_dr_msg_cb(conf, dr_cb); /* kh_produce_sync's reports */
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
	ck_assert_msg(rk != NULL, "%s", err);
	return rk;
}

rd_kafka_t *kh_consumer(const char *bootstrap, const char *const *kv)
{
	char err[512];
	rd_kafka_conf_t *conf = kh_conf(bootstrap, kv);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
	ck_assert_msg(rk != NULL, "%s", err);
	rd_kafka_poll_set_consumer(rk);
	return rk;
}

static rd_kafka_resp_err_t admin_wait(rd_kafka_t *rk, rd_kafka_queue_t *q, int create)
{
	/* longer than a cluster node waits for the controller (30 s): its
	 * answer, an error included, is what the caller sees */
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 40000);
	const rd_kafka_topic_result_t **res;
	size_t n = 0;
	rd_kafka_resp_err_t err;

	ck_assert_msg(ev != NULL, "admin request timed out");
	(void)rk;
	err = rd_kafka_event_error(ev);
	if (!err) {
		if (create)
			res = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
		else
			res = rd_kafka_DeleteTopics_result_topics(rd_kafka_event_DeleteTopics_result(ev), &n);
		ck_assert_uint_eq(n, 1);
		err = rd_kafka_topic_result_error(res[0]);
	}
	rd_kafka_event_destroy(ev);
	return err;
}

rd_kafka_resp_err_t kh_create_topic(rd_kafka_t *rk, const char *topic, int partitions,
				    int replication, const char *const *configs)
{
	char err[512];
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, partitions, replication, err, sizeof(err));
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_resp_err_t e;

	ck_assert_msg(nt != NULL, "%s", err);
	for (int i = 0; configs && configs[i]; i += 2)
		rd_kafka_NewTopic_set_config(nt, configs[i], configs[i + 1]);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	e = admin_wait(rk, q, 1);
	rd_kafka_NewTopic_destroy(nt);
	rd_kafka_queue_destroy(q);
	return e;
}

rd_kafka_resp_err_t kh_create_topic_assigned(rd_kafka_t *rk, const char *topic,
					     const int32_t *replicas, int n)
{
	char err[512];
	rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, 1, -1, err, sizeof(err));
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_resp_err_t e;

	ck_assert_msg(nt != NULL, "%s", err);
	ck_assert_msg(rd_kafka_NewTopic_set_replica_assignment(nt, 0, (int32_t *)replicas, (size_t)n,
								err, sizeof(err)) == 0,
		      "%s", err);
	rd_kafka_CreateTopics(rk, &nt, 1, NULL, q);
	e = admin_wait(rk, q, 1);
	rd_kafka_NewTopic_destroy(nt);
	rd_kafka_queue_destroy(q);
	return e;
}

rd_kafka_resp_err_t kh_delete_topic(rd_kafka_t *rk, const char *topic)
{
	rd_kafka_DeleteTopic_t *dt = rd_kafka_DeleteTopic_new(topic);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_resp_err_t e;

	rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
	e = admin_wait(rk, q, 0);
	rd_kafka_DeleteTopic_destroy(dt);
	rd_kafka_queue_destroy(q);
	return e;
}

rd_kafka_resp_err_t kh_alter_topic_configs(rd_kafka_t *rk, const char *topic,
					   const char *const *configs)
{
	rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic);
	rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
	rd_kafka_resp_err_t e;
	size_t n = 0;

	for (int i = 0; configs && configs[i]; i += 2)
		rd_kafka_ConfigResource_set_config(res, configs[i], configs[i + 1]);
	rd_kafka_AlterConfigs(rk, &res, 1, NULL, q);
	rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 40000);
	ck_assert_msg(ev != NULL, "AlterConfigs timed out");
	e = rd_kafka_event_error(ev);
	if (!e) {
		const rd_kafka_ConfigResource_t **rs = rd_kafka_AlterConfigs_result_resources(
			rd_kafka_event_AlterConfigs_result(ev), &n);
		ck_assert_uint_eq(n, 1);
		e = rd_kafka_ConfigResource_error(rs[0]);
	}
	rd_kafka_event_destroy(ev);
	rd_kafka_ConfigResource_destroy(res);
	rd_kafka_queue_destroy(q);
	return e;
}

rd_kafka_resp_err_t kh_produce_sync(rd_kafka_t *rk, const char *topic, int32_t partition,
				    const char *key, const char *value, int64_t timestamp,
				    int64_t *offset)
{
	struct dr_state st = { 0, 0, -1 };
	rd_kafka_resp_err_t e;
	uint64_t deadline = kh_now_ms() + 20000;

	e = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
			      RD_KAFKA_V_KEY(key, key ? strlen(key) : 0),
			      RD_KAFKA_V_VALUE((void *)value, strlen(value)),
			      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&st),
			      RD_KAFKA_V_TIMESTAMP(timestamp), RD_KAFKA_V_END);
	if (e)
		return e;
	while (!st.done && kh_now_ms() < deadline)
		rd_kafka_poll(rk, 50);
	ck_assert_msg(st.done, "no delivery report");
	if (offset)
		*offset = st.offset;
	return st.err;
}

int kh_consume(rd_kafka_t *c, const char *topic, int32_t partition, int64_t offset,
	       struct kh_msg *out, int max, int timeout_ms)
{
	rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
	uint64_t deadline = kh_now_ms() + (uint64_t)timeout_ms;
	int n = 0;

	rd_kafka_topic_partition_list_add(l, topic, partition)->offset = offset;
	ck_assert_int_eq(rd_kafka_assign(c, l), 0);
	rd_kafka_topic_partition_list_destroy(l);
	while (n < max && kh_now_ms() < deadline) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
		if (!m)
			continue;
		if (m->err) {
			int eof = m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF && m->partition == partition &&
				  m->rkt && strcmp(rd_kafka_topic_name(m->rkt), topic) == 0;
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				fprintf(stderr, "consume: %s\n", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			if (eof)
				break;
			continue;
		}
		struct kh_msg *o = &out[n++];
		memset(o, 0, sizeof(*o));
		o->partition = m->partition;
		o->offset = m->offset;
		o->timestamp = rd_kafka_message_timestamp(m, NULL);
		if (m->key)
			o->key = strndup(m->key, m->key_len);
		o->value = strndup(m->payload ? m->payload : "", m->len);
		rd_kafka_headers_t *h = NULL;
		if (rd_kafka_message_headers(m, &h) == 0 && rd_kafka_header_cnt(h) > 0) {
			const char *name;
			const void *val;
			size_t vlen;
			if (rd_kafka_header_get_all(h, 0, &name, &val, &vlen) == 0) {
				o->hdr = malloc(strlen(name) + vlen + 2);
				sprintf(o->hdr, "%s=%.*s", name, (int)vlen, val ? (const char *)val : "");
			}
		}
		rd_kafka_message_destroy(m);
	}
	rd_kafka_assign(c, NULL);
	return n;
}

void kh_msgs_free(struct kh_msg *m, int n)
{
	for (int i = 0; i < n; i++) {
		free(m[i].key);
		free(m[i].value);
		free(m[i].hdr);
	}
}

int32_t kh_murmur2_partition(const char *key, size_t len, int32_t partitions)
{
	/* Kafka's Utils.murmur2, seed 0x9747b28c */
	const uint32_t m = 0x5bd1e995;
	const int r = 24;
	uint32_t h = 0x9747b28c ^ (uint32_t)len;
	const uint8_t *d = (const uint8_t *)key;
	size_t n4 = len / 4;

	for (size_t i = 0; i < n4; i++) {
		uint32_t k = (uint32_t)d[i * 4] | (uint32_t)d[i * 4 + 1] << 8 |
			     (uint32_t)d[i * 4 + 2] << 16 | (uint32_t)d[i * 4 + 3] << 24;
		k *= m;
		k ^= k >> r;
		k *= m;
		h *= m;
		h ^= k;
	}
	switch (len % 4) {
	case 3:
		h ^= (uint32_t)d[(len & ~3u) + 2] << 16;
		/* fall through */
	case 2:
		h ^= (uint32_t)d[(len & ~3u) + 1] << 8;
		/* fall through */
	case 1:
		h ^= d[len & ~3u];
		h *= m;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return (int32_t)((h & 0x7fffffff) % (uint32_t)partitions);
}

/* ---- raw ------------------------------------------------------------------- */

int kh_raw_connect(const struct kh_broker *b)
{
	int fd = su_tcp_connect(b->port);
	ck_assert_msg(fd >= 0, "connect: %s", strerror(errno));
	return fd;
}

void kh_raw_request(int fd, int16_t api, int16_t version, int32_t correlation, const void *body,
		    size_t len)
{
	uint8_t hdr[4 + 2 + 2 + 4 + 2 + 3];
	uint32_t size = (uint32_t)(sizeof(hdr) - 4 + len);
	size_t off = 0;

	hdr[off++] = (uint8_t)(size >> 24);
	hdr[off++] = (uint8_t)(size >> 16);
	hdr[off++] = (uint8_t)(size >> 8);
	hdr[off++] = (uint8_t)size;
	hdr[off++] = (uint8_t)((uint16_t)api >> 8);
	hdr[off++] = (uint8_t)api;
	hdr[off++] = (uint8_t)((uint16_t)version >> 8);
	hdr[off++] = (uint8_t)version;
	hdr[off++] = (uint8_t)((uint32_t)correlation >> 24);
	hdr[off++] = (uint8_t)((uint32_t)correlation >> 16);
	hdr[off++] = (uint8_t)((uint32_t)correlation >> 8);
	hdr[off++] = (uint8_t)correlation;
	hdr[off++] = 0;
	hdr[off++] = 3;
	memcpy(hdr + off, "raw", 3);
	(void)send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL);
	if (len)
		(void)send(fd, body, len, MSG_NOSIGNAL);
}

static long read_full(int fd, uint8_t *buf, size_t len, uint64_t deadline)
{
	size_t got = 0;
	while (got < len) {
		struct pollfd p = { fd, POLLIN, 0 };
		int64_t left = (int64_t)(deadline - kh_now_ms());
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return -1;
		ssize_t n = recv(fd, buf + got, len - got, 0);
		if (n <= 0)
			return (long)got;
		got += (size_t)n;
	}
	return (long)got;
}

long kh_raw_response(int fd, uint8_t *buf, size_t cap, int timeout_ms)
{
	uint64_t deadline = kh_now_ms() + (uint64_t)timeout_ms;
	uint8_t h[4];
	long n = read_full(fd, h, 4, deadline);
	if (n < 0)
		return -1;
	if (n < 4)
		return 0;
	uint32_t size = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
	ck_assert_uint_le(size, cap);
	n = read_full(fd, buf, size, deadline);
	return n == (long)size ? n : (n < 0 ? -1 : 0);
}

int kh_raw_closed(int fd, int timeout_ms)
{
	uint64_t deadline = kh_now_ms() + (uint64_t)timeout_ms;
	uint8_t buf[4096];
	while (kh_now_ms() < deadline) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, 100) > 0) {
			ssize_t n = recv(fd, buf, sizeof(buf), 0);
			if (n == 0 || (n < 0 && errno == ECONNRESET))
				return 1;
		}
	}
	return 0;
}

int kh_raw_connect_port(int port)
{
	/* a listener other than the one the start waited for (the cluster
	 * link's) may open a little later, notably under valgrind: a refused
	 * connection is tried again, within a bound */
	const char *w = getenv("TANDEMD_WRAPPER");
	uint64_t deadline = kh_now_ms() + (w && *w ? 60000 : 10000);
	int fd;
	while ((fd = su_tcp_connect(port)) < 0 && errno == ECONNREFUSED && kh_now_ms() < deadline)
		kh_sleep_ms(20);
	ck_assert_msg(fd >= 0, "connect to port %d: %s", port, strerror(errno));
	return fd;
}

uint32_t kh_crc32c(const uint8_t *p, size_t n)
{
	uint32_t c = 0xffffffff;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? (c >> 1) ^ 0x82f63b78 : c >> 1;
	}
	return ~c;
}

size_t kh_put_be(uint8_t *b, size_t at, uint64_t v, int bytes)
{
	for (int i = bytes - 1; i >= 0; i--)
		b[at++] = (uint8_t)(v >> (8 * i));
	return at;
}

size_t kh_put_varint(uint8_t *b, size_t at, int64_t v)
{
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	while (z >= 0x80) {
		b[at++] = (uint8_t)(z | 0x80);
		z >>= 7;
	}
	b[at++] = (uint8_t)z;
	return at;
}

size_t kh_put_str(uint8_t *b, size_t at, const char *s)
{
	size_t n = s ? strlen(s) : 0;
	at = kh_put_be(b, at, s ? (uint16_t)n : 0xffff, 2);
	memcpy(b + at, s ? s : "", n);
	return at + n;
}

size_t kh_batch_header(uint8_t *out, const char *value, const char *hname, const char *hval,
		       int break_crc)
{
	uint8_t rec[64 + 4096 + 512];
	size_t vl = strlen(value), rn = 0, n = 0;
	ck_assert_uint_le(vl, 4096);
	ck_assert(!hname || strlen(hname) + strlen(hval) <= 256);
	rec[rn++] = 0;			/* attributes */
	rn = kh_put_varint(rec, rn, 0);	/* timestamp delta */
	rn = kh_put_varint(rec, rn, 0);	/* offset delta */
	rn = kh_put_varint(rec, rn, -1);	/* key: null */
	rn = kh_put_varint(rec, rn, (int64_t)vl);
	memcpy(rec + rn, value, vl);
	rn += vl;
	rn = kh_put_varint(rec, rn, hname ? 1 : 0); /* headers */
	if (hname) {
		rn = kh_put_varint(rec, rn, (int64_t)strlen(hname));
		memcpy(rec + rn, hname, strlen(hname));
		rn += strlen(hname);
		rn = kh_put_varint(rec, rn, (int64_t)strlen(hval));
		memcpy(rec + rn, hval, strlen(hval));
		rn += strlen(hval);
	}
	n = kh_put_be(out, n, 0, 8);	/* base offset */
	n = kh_put_be(out, n, 0, 4);	/* batch length, set below */
	n = kh_put_be(out, n, 0xffffffff, 4); /* partition leader epoch */
	out[n++] = 2;			/* magic */
	n = kh_put_be(out, n, 0, 4);	/* crc, set below */
	n = kh_put_be(out, n, 0, 2);	/* attributes */
	n = kh_put_be(out, n, 0, 4);	/* last offset delta */
	n = kh_put_be(out, n, 1700000000000ULL, 8);
	n = kh_put_be(out, n, 1700000000000ULL, 8);
	n = kh_put_be(out, n, UINT64_MAX, 8); /* producer id -1 */
	n = kh_put_be(out, n, 0xffff, 2);	/* producer epoch -1 */
	n = kh_put_be(out, n, 0xffffffff, 4); /* base sequence -1 */
	n = kh_put_be(out, n, 1, 4);	/* records */
	n = kh_put_varint(out, n, (int64_t)rn);
	memcpy(out + n, rec, rn);
	n += rn;
	kh_put_be(out, 8, n - 12, 4);
	kh_put_be(out, 17, kh_crc32c(out + 21, n - 21) ^ (break_crc ? 1u : 0u), 4);
	return n;
}

size_t kh_batch_one(uint8_t *out, const char *value, int break_crc)
{
	return kh_batch_header(out, value, NULL, NULL, break_crc);
}

/* Produce v3 of the batch bt[0..bl) to topic/partition: the partition's
 * error (-1 without an answer within wait_ms), its base offset in *base. */
static int raw_produce_batch(int fd, const char *topic, int32_t partition, int16_t acks,
			     int32_t timeout_ms, const uint8_t *bt, size_t bl, int64_t *base,
			     int wait_ms)
{
	static int32_t corr = 70000;
	size_t cap = 512 + strlen(topic) + bl, n = 0;
	uint8_t *b = malloc(cap), *resp = malloc(1 << 16);
	ck_assert(b && resp);
	n = kh_put_str(b, n, NULL); /* transactional id */
	n = kh_put_be(b, n, (uint16_t)acks, 2);
	n = kh_put_be(b, n, (uint32_t)timeout_ms, 4);
	n = kh_put_be(b, n, 1, 4);
	n = kh_put_str(b, n, topic);
	n = kh_put_be(b, n, 1, 4);
	n = kh_put_be(b, n, (uint32_t)partition, 4);
	n = kh_put_be(b, n, bl, 4);
	memcpy(b + n, bt, bl);
	n += bl;
	int32_t c = corr++;
	kh_raw_request(fd, 0, 3, c, b, n);
	long got = kh_raw_response(fd, resp, 1 << 16, wait_ms);
	int err = -1;
	if (got > 0) {
		/* correlation, [topics: 1, name, [partitions: 1, index, error, base ...]] */
		size_t tl = (size_t)(resp[8] << 8 | resp[9]), at = 10 + tl + 4 + 4;
		ck_assert_int_eq((int32_t)(resp[0] << 24 | resp[1] << 16 | resp[2] << 8 | resp[3]), c);
		ck_assert_uint_le(at + 10, (size_t)got);
		err = (int16_t)(resp[at] << 8 | resp[at + 1]);
		uint64_t off = 0;
		for (int i = 0; i < 8; i++)
			off = off << 8 | resp[at + 2 + i];
		if (base)
			*base = (int64_t)off;
	}
	free(b);
	free(resp);
	return err;
}

int kh_raw_produce(int fd, const char *topic, int32_t partition, int16_t acks,
		   int32_t timeout_ms, const char *value, int break_crc, int64_t *base, int wait_ms)
{
	uint8_t *bt = malloc(128 + strlen(value));
	ck_assert(bt != NULL);
	size_t bl = kh_batch_one(bt, value, break_crc);
	int err = raw_produce_batch(fd, topic, partition, acks, timeout_ms, bt, bl, base, wait_ms);
	free(bt);
	return err;
}

int16_t kh_raw_init_producer_id(int fd, const char *tx, int64_t *pid, int16_t *epoch)
{
	uint8_t b[256], resp[256];
	size_t n = kh_put_str(b, 0, tx);
	n = kh_put_be(b, n, 60000, 4);
	kh_raw_request(fd, 22, 1, 4242, b, n);
	long got = kh_raw_response(fd, resp, sizeof resp, 5000);
	ck_assert_int_eq(got, 4 + 4 + 2 + 8 + 2);
	int16_t err = (int16_t)(resp[8] << 8 | resp[9]);
	uint64_t p = 0;
	for (int i = 0; i < 8; i++)
		p = p << 8 | resp[10 + i];
	*pid = (int64_t)p;
	*epoch = (int16_t)(resp[18] << 8 | resp[19]);
	return err;
}

int kh_raw_produce_idempotent(int fd, const char *topic, int32_t partition, int64_t pid,
			      int16_t epoch, int32_t seq, const char *value, int64_t *base)
{
	uint8_t *bt = malloc(128 + strlen(value));
	ck_assert(bt != NULL);
	size_t bl = kh_batch_one(bt, value, 0);
	kh_put_be(bt, 43, (uint64_t)pid, 8);
	kh_put_be(bt, 51, (uint16_t)epoch, 2);
	kh_put_be(bt, 53, (uint32_t)seq, 4);
	kh_put_be(bt, 17, kh_crc32c(bt + 21, bl - 21), 4);
	int err = raw_produce_batch(fd, topic, partition, -1, 5000, bt, bl, base, 5000);
	free(bt);
	return err;
}

void kh_txn_ok(rd_kafka_error_t *e, const char *what)
{
	ck_assert_msg(e == NULL, "%s: %s", what, e ? rd_kafka_error_string(e) : "");
}

rd_kafka_t *kh_txn_producer(const char *bootstrap, const char *txid, const char *timeout_ms)
{
	const char *kv[] = { "transactional.id", txid, "transaction.timeout.ms", timeout_ms,
			     "linger.ms", "0", NULL };
	rd_kafka_t *p = kh_producer(bootstrap, kv);
	kh_txn_ok(rd_kafka_init_transactions(p, 10000), "init_transactions");
	return p;
}

void kh_read_values(const char *bootstrap, const char *topic, int32_t part, const char *iso,
		    char *out, size_t cap)
{
	const char *kv[] = { "group.id", "txn-reader", "isolation.level", iso, KH_READ_TO_END, NULL };
	rd_kafka_t *c = kh_consumer(bootstrap, kv);
	struct kh_msg m[64];
	int n = kh_consume(c, topic, part, RD_KAFKA_OFFSET_BEGINNING, m, 64, 8000);

	out[0] = '\0';
	for (int i = 0; i < n; i++)
		snprintf(out + strlen(out), cap - strlen(out), "%s%s", i ? "," : "", m[i].value);
	kh_msgs_free(m, n);
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
}
