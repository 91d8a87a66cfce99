/* Cluster test harness (cluster_harness.h). */
#include "cluster_harness.h"

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kafka_harness.h"
#include "sockutil.h"
#include "tcp_proxy.h"

#ifndef TANDEMD_PATH
#define TANDEMD_PATH "../../src/tandemd"
#endif
#ifndef ZK_SH
#define ZK_SH "tests/cluster/zk.sh"
#endif

static int free_port(void)
{
	int port = su_free_port();
	ck_assert_msg(port > 0, "no free port");
	return port;
}

/* Runs zk.sh CMD DIR and returns its first output line (static). */
static const char *zk_sh(const char *cmd, const char *dir)
{
	static char line[256];
	char sh[1024];
	/* ZK_OWNER_PID: ZooKeeper goes when this process does, even killed */
	snprintf(sh, sizeof(sh), "ZK_TICK_MS=500 ZK_OWNER_PID=%d bash '%s' %s '%s' 2>&1",
		 (int)getpid(), ZK_SH, cmd, dir);
	FILE *p = popen(sh, "r");
	ck_assert_msg(p != NULL, "popen %s: %s", sh, strerror(errno));
	line[0] = '\0';
	char buf[256];
	while (fgets(buf, sizeof(buf), p))
		if (!line[0] || strncmp(buf, "zookeeper=", 10) == 0)
			snprintf(line, sizeof(line), "%s", buf);
	int st = pclose(p);
	ck_assert_msg(st == 0, "%s failed: %s", sh, line);
	return line;
}

static pid_t spawn(const struct ch_cluster *c, const struct ch_node *nd)
{
	char id[16], kp[16], ap[16], hp[16], cp[16], zk[64], sess[16], adv[16], acp[16];
	snprintf(id, sizeof(id), "%d", nd->id);
	snprintf(kp, sizeof(kp), "%d", nd->kafka_port);
	snprintf(ap, sizeof(ap), "%d", nd->amqp_port);
	snprintf(hp, sizeof(hp), "%d", nd->http_port);
	snprintf(cp, sizeof(cp), "%d", nd->cluster_port);
	snprintf(zk, sizeof(zk), "127.0.0.1:%d",
		 nd->zk_proxy ? tproxy_port(nd->zk_proxy) : c->zk_port);
	snprintf(adv, sizeof(adv), "%d", nd->kafka_proxy ? tproxy_port(nd->kafka_proxy) : 0);
	snprintf(acp, sizeof(acp), "%d", nd->cluster_proxy ? tproxy_port(nd->cluster_proxy) : 0);
	snprintf(sess, sizeof(sess), "%d", CH_SESSION_MS);
	pid_t pid = fork();
	if (pid != 0)
		return pid;
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (!freopen(nd->log, "a", stderr))
		_exit(126);
	char *argv[64];
	int n = 0;
	argv[n++] = (char *)(getenv("TANDEMD") ? getenv("TANDEMD") : TANDEMD_PATH);
	const char *fixed[] = { "--data-dir", nd->dir, "--amqp-port", ap, "--http-port", hp,
				"--kafka-port", kp, "--node-id", id, "--zookeeper-connect", zk,
				"--cluster-port", cp, "--cluster-secret-file", nd->secret_file,
				"--advertised-host", "127.0.0.1", "--advertised-port", adv,
				"--advertised-cluster-port", acp,
				"--zookeeper-session-timeout-ms", sess,
				"--log-level", getenv("TANDEMD_LOG_LEVEL") ? getenv("TANDEMD_LOG_LEVEL")
									  : "info",
				NULL };
	for (int i = 0; fixed[i]; i++)
		argv[n++] = (char *)fixed[i];
	static char own[16][64]; /* the child's own copies (after fork) */
	for (int i = 0; c->extra && c->extra[i] && n < 62; i++) {
		const char *at = strstr(c->extra[i], "{node_id}");
		if (!at || i >= 16) {
			argv[n++] = (char *)c->extra[i];
			continue;
		}
		snprintf(own[i], sizeof(own[i]), "%.*s%d%s", (int)(at - c->extra[i]), c->extra[i],
			 nd->id, at + 9);
		argv[n++] = own[i];
	}
	argv[n] = NULL;
	execvp(argv[0], argv);
	fprintf(stderr, "cluster harness: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

/* 1 when the log file holds `what` past byte `from`. */
static int log_says(const char *path, const char *what, long from)
{
	FILE *f = fopen(path, "r");
	char line[1024];
	int found = 0;
	if (!f)
		return 0;
	if (from > 0)
		fseek(f, from, SEEK_SET);
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, what) != NULL;
	fclose(f);
	return found;
}

/* Copies what path got since offset `from` (its last `most` bytes at most)
 * to stderr: why a node stopped. */
static void print_tail(const char *path, long from, long most)
{
	FILE *f = fopen(path, "r");
	char buf[4096];
	size_t n;
	if (!f)
		return;
	if (fseek(f, 0, SEEK_END) == 0 && ftell(f) - from > most)
		from = ftell(f) - most;
	fseek(f, from, SEEK_SET);
	fprintf(stderr, "--- %s:\n", path);
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		fwrite(buf, 1, n, stderr);
	fclose(f);
}

static long file_end(const char *path)
{
	FILE *f = fopen(path, "r");
	long n = 0;
	if (f && fseek(f, 0, SEEK_END) == 0)
		n = ftell(f);
	if (f)
		fclose(f);
	return n;
}

void ch_node_start(struct ch_cluster *c, int i)
{
	struct ch_node *nd = &c->nodes[i];
	nd->log_from = file_end(nd->log); /* a restart appends to the same log */
	ck_assert_msg(nd->pid == 0, "node %d runs already", nd->id);
	nd->pid = spawn(c, nd);
	ck_assert_msg(nd->pid > 0, "fork: %s", strerror(errno));
	uint64_t deadline = kh_now_ms() + 30000;
	int status;
	while (kh_now_ms() < deadline) {
		if (waitpid(nd->pid, &status, WNOHANG) == nd->pid) {
			nd->pid = 0;
			print_tail(nd->log, nd->log_from, 4096); /* CI keeps no temp dirs */
			ck_abort_msg("node %d exited during start (status 0x%x); log %s", nd->id, status,
				     nd->log);
		}
		/* the listeners accept before the node has joined the cluster
		 * and can stop on SIGTERM: wait for its "started" line */
		if (log_says(nd->log, " started, data in ", nd->log_from))
			return;
		kh_sleep_ms(20);
	}
	kill(nd->pid, SIGKILL);
	waitpid(nd->pid, NULL, 0);
	nd->pid = 0;
	ck_abort_msg("node %d did not start within 30 s; log %s", nd->id, nd->log);
}

static rd_kafka_t *client_of(const struct ch_cluster *c, int i);

/* How many live nodes node i's Metadata lists (-1: no answer). */
static int brokers_seen(const struct ch_cluster *c, int i)
{
	rd_kafka_t *rk = client_of(c, i);
	const struct rd_kafka_metadata *md = NULL;
	int n = -1;
	if (rd_kafka_metadata(rk, 0, NULL, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		n = md->broker_cnt;
		rd_kafka_metadata_destroy(md);
	}
	rd_kafka_destroy(rk);
	return n;
}

/* The cluster of this process, for the exit handler: a failed check ends
 * a forked test without its teardown, and ZooKeeper (started through
 * zk.sh, not our child) would outlive it. */
static struct ch_cluster *running;

static void kill_at_exit(void)
{
	struct ch_cluster *c = running;
	if (!c)
		return;
	running = NULL;
	for (int i = 0; i < c->n; i++)
		if (c->nodes[i].pid > 0) {
			kill(c->nodes[i].pid, SIGKILL);
			waitpid(c->nodes[i].pid, NULL, 0);
		}
	if (c->zk_pid > 0)
		kill(c->zk_pid, SIGKILL);
	fprintf(stderr, "cluster harness: stopped what a failed test left running; logs in %s\n",
		c->root);
	for (int i = 0; i < c->n; i++) /* what each node did last (CI keeps no temp dirs) */
		print_tail(c->nodes[i].log, 0, 1536);
}

int ch_log_says(const struct ch_cluster *c, int i, const char *what)
{
	return log_says(c->nodes[i].log, what, c->nodes[i].log_from);
}

void ch_write_secret(const char *path, const char *secret)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	size_t n = strlen(secret);
	ck_assert_msg(write(fd, secret, n) == (ssize_t)n && close(fd) == 0, "%s: %s", path,
		      strerror(errno));
}

/* Node i's three proxies (on ports of the kernel's choosing: they never
 * meet the nodes', which su_free_port picks below its range): ZooKeeper,
 * its Kafka port and its cluster link port (the other nodes' link and
 * replica fetchers come in there). */
static void start_proxies(struct ch_cluster *c, int i)
{
	struct ch_node *nd = &c->nodes[i];
	nd->zk_proxy = tproxy_start(c->zk_port);
	nd->kafka_proxy = tproxy_start(nd->kafka_port);
	nd->cluster_proxy = tproxy_start(nd->cluster_port);
	ck_assert_msg(nd->zk_proxy && nd->kafka_proxy && nd->cluster_proxy, "proxy: %s",
		      strerror(errno));
}

static void start(struct ch_cluster *c, int n, const char *const *extra, int proxied)
{
	static int registered;
	if (!registered && atexit(kill_at_exit) == 0)
		registered = 1;
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	memset(c, 0, sizeof(*c));
	ck_assert(n >= 1 && n <= CH_MAX_NODES);
	c->n = n;
	c->extra = extra;
	snprintf(c->root, sizeof(c->root), "%s/tandem-cluster.XXXXXX", tmp);
	ck_assert_msg(mkdtemp(c->root) != NULL, "mkdtemp: %s", strerror(errno));
	char zkdir[512];
	snprintf(zkdir, sizeof(zkdir), "%s/zk", c->root);
	const char *line = zk_sh("start", zkdir);
	int pid = 0;
	ck_assert_msg(sscanf(line, "zookeeper=127.0.0.1:%d pid=%d", &c->zk_port, &pid) == 2,
		      "zk.sh start said: %s", line);
	c->zk_pid = pid;
	running = c;
	char secret_file[512], secret[40];
	snprintf(secret_file, sizeof(secret_file), "%s/cluster.secret", c->root);
	for (size_t i = 0; i + 1 < sizeof(secret); i++)
		secret[i] = "0123456789abcdef"[random() % 16];
	secret[sizeof(secret) - 1] = '\0';
	ch_write_secret(secret_file, secret);
	size_t o = 0;
	for (int i = 0; i < n; i++) {
		struct ch_node *nd = &c->nodes[i];
		nd->id = i + 1;
		nd->kafka_port = free_port();
		nd->amqp_port = free_port();
		nd->http_port = free_port();
		nd->cluster_port = free_port();
		snprintf(nd->secret_file, sizeof(nd->secret_file), "%s", secret_file);
		snprintf(nd->dir, sizeof(nd->dir), "%s/node%d", c->root, nd->id);
		snprintf(nd->log, sizeof(nd->log), "%s/node%d.log", c->root, nd->id);
		o += (size_t)snprintf(c->bootstrap + o, sizeof(c->bootstrap) - o, "%s127.0.0.1:%d",
				      i ? "," : "", nd->kafka_port);
		if (proxied)
			start_proxies(c, i);
	}
	for (int i = 0; i < n; i++)
		ch_node_start(c, i);
	/* every node sees every other registered (a topic created earlier
	 * would find fewer live nodes than its replication factor) */
	for (int i = 0; i < n; i++) {
		uint64_t deadline = kh_now_ms() + 20000;
		int seen = 0;
		while ((seen = brokers_seen(c, i)) != n && kh_now_ms() < deadline)
			kh_sleep_ms(100);
		ck_assert_msg(seen == n, "node %d sees %d nodes of %d", c->nodes[i].id, seen, n);
	}
	fprintf(stderr, "cluster harness: ZooKeeper 127.0.0.1:%d, %d nodes %s, in %s\n",
		c->zk_port, n, c->bootstrap, c->root);
}

void ch_start(struct ch_cluster *c, int n, const char *const *extra)
{
	start(c, n, extra, 0);
}

void ch_start_partitionable(struct ch_cluster *c, int n, const char *const *extra)
{
	start(c, n, extra, 1);
}

void ch_node_isolate(struct ch_cluster *c, int i, int cut)
{
	struct ch_node *nd = &c->nodes[i];
	ck_assert_msg(nd->zk_proxy && nd->kafka_proxy, "not a partitionable cluster");
	tproxy_cut(nd->zk_proxy, cut);
	tproxy_cut(nd->kafka_proxy, cut);
	tproxy_cut(nd->cluster_proxy, cut);
	fprintf(stderr, "cluster harness: node %d %s\n", nd->id,
		cut ? "cut off from ZooKeeper and the other nodes" : "joined again");
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

void ch_stop(struct ch_cluster *c)
{
	running = NULL;
	for (int i = 0; i < c->n; i++) /* healed: a node stops cleanly */
		if (c->nodes[i].zk_proxy) {
			tproxy_cut(c->nodes[i].zk_proxy, 0);
			tproxy_cut(c->nodes[i].kafka_proxy, 0);
			tproxy_cut(c->nodes[i].cluster_proxy, 0);
		}
	for (int i = 0; i < c->n; i++)
		if (c->nodes[i].pid > 0) {
			kill(c->nodes[i].pid, SIGCONT);
			kill(c->nodes[i].pid, SIGTERM);
		}
	int bad = 0;
	for (int i = 0; i < c->n; i++) {
		struct ch_node *nd = &c->nodes[i];
		uint64_t deadline = kh_now_ms() + 30000;
		int status = 0;
		while (nd->pid > 0 && kh_now_ms() < deadline) {
			if (waitpid(nd->pid, &status, WNOHANG) == nd->pid) {
				nd->pid = 0;
				/* a sanitizer's report (ASan, TSan: exit 66) fails the test */
				if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
					fprintf(stderr, "cluster harness: node %d exited with status 0x%x; log %s\n",
						nd->id, status, nd->log);
					bad++;
				}
			} else {
				kh_sleep_ms(20);
			}
		}
		if (nd->pid > 0) {
			fprintf(stderr, "cluster harness: node %d did not stop on SIGTERM; killed\n", nd->id);
			kill(nd->pid, SIGKILL);
			waitpid(nd->pid, NULL, 0);
			nd->pid = 0;
			bad++;
		}
	}
	for (int i = 0; i < c->n; i++) {
		tproxy_stop(c->nodes[i].zk_proxy);
		tproxy_stop(c->nodes[i].kafka_proxy);
		tproxy_stop(c->nodes[i].cluster_proxy);
		c->nodes[i].zk_proxy = c->nodes[i].kafka_proxy = c->nodes[i].cluster_proxy = NULL;
	}
	if (c->zk_pid > 0) {
		char zkdir[512];
		snprintf(zkdir, sizeof(zkdir), "%s/zk", c->root);
		zk_sh("stop", zkdir);
		c->zk_pid = 0;
	}
	if (!getenv("TANDEM_TEST_KEEP_DATA") && !bad && c->root[0])
		nftw(c->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	ck_assert_msg(bad == 0, "%d node(s) did not stop cleanly (logs in %s)", bad, c->root);
}

void ch_node_stop(struct ch_cluster *c, int i)
{
	struct ch_node *nd = &c->nodes[i];
	int status = 0;
	ck_assert_msg(nd->pid > 0, "node %d is not running", nd->id);
	kill(nd->pid, SIGTERM);
	uint64_t deadline = kh_now_ms() + 30000;
	while (waitpid(nd->pid, &status, WNOHANG) != nd->pid) {
		if (kh_now_ms() > deadline) {
			kill(nd->pid, SIGKILL);
			waitpid(nd->pid, NULL, 0);
			nd->pid = 0;
			ck_abort_msg("node %d did not stop within 30 s of SIGTERM", nd->id);
		}
		kh_sleep_ms(20);
	}
	nd->pid = 0;
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "node %d exited with status 0x%x; log %s", nd->id, status, nd->log);
}

void ch_node_kill9(struct ch_cluster *c, int i)
{
	struct ch_node *nd = &c->nodes[i];
	ck_assert_msg(nd->pid > 0, "node %d is not running", nd->id);
	kill(nd->pid, SIGKILL);
	waitpid(nd->pid, NULL, 0);
	nd->pid = 0;
}

void ch_node_pause(struct ch_cluster *c, int i, int pause)
{
	ck_assert(c->nodes[i].pid > 0);
	kill(c->nodes[i].pid, pause ? SIGSTOP : SIGCONT);
}

int ch_index(const struct ch_cluster *c, int32_t id)
{
	for (int i = 0; i < c->n; i++)
		if (c->nodes[i].id == id)
			return i;
	return -1;
}

/* A short-lived client of node i alone. */
static rd_kafka_t *client_of(const struct ch_cluster *c, int i)
{
	char bs[32];
	snprintf(bs, sizeof(bs), "127.0.0.1:%d", c->nodes[i].kafka_port);
	const char *kv[] = { "topic.metadata.refresh.interval.ms", "-1", NULL };
	return kh_producer(bs, kv);
}

int32_t ch_leader(const struct ch_cluster *c, int i, const char *topic, int32_t partition,
		  int *nisr)
{
	rd_kafka_t *rk = client_of(c, i);
	rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);
	const struct rd_kafka_metadata *md = NULL;
	int32_t leader = -1;
	*nisr = 0;
	if (rd_kafka_metadata(rk, 0, rkt, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		for (int t = 0; t < md->topic_cnt; t++) {
			const rd_kafka_metadata_topic_t *mt = &md->topics[t];
			for (int p = 0; p < mt->partition_cnt; p++)
				if (mt->partitions[p].id == partition && mt->partitions[p].err == 0) {
					leader = mt->partitions[p].leader;
					*nisr = mt->partitions[p].isr_cnt;
				}
		}
		rd_kafka_metadata_destroy(md);
	}
	rd_kafka_topic_destroy(rkt);
	rd_kafka_destroy(rk);
	return leader;
}

int32_t ch_wait_leader(const struct ch_cluster *c, const char *topic, int32_t partition,
		       int min_isr, int timeout_ms)
{
	uint64_t deadline = kh_now_ms() + (uint64_t)timeout_ms;
	while (kh_now_ms() < deadline) {
		for (int i = 0; i < c->n; i++) {
			int nisr;
			if (c->nodes[i].pid <= 0)
				continue;
			int32_t l = ch_leader(c, i, topic, partition, &nisr);
			int li = l >= 0 ? ch_index(c, l) : -1;
			if (li >= 0 && c->nodes[li].pid > 0 && nisr >= min_isr)
				return l;
		}
		kh_sleep_ms(200);
	}
	return -1;
}

/* The controller id node i's Metadata gives, -1 for none or no answer. */
static int32_t controller_of(const struct ch_cluster *c, int i)
{
	rd_kafka_t *rk = client_of(c, i);
	const struct rd_kafka_metadata *md = NULL;
	int32_t id = -1;
	if (rd_kafka_metadata(rk, 0, NULL, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
		id = rd_kafka_controllerid(rk, 0);
		rd_kafka_metadata_destroy(md);
	}
	rd_kafka_destroy(rk);
	return id;
}

int32_t ch_controller(const struct ch_cluster *c)
{
	for (int i = 0; i < c->n; i++) {
		int32_t id = c->nodes[i].pid > 0 ? controller_of(c, i) : -1;
		if (id >= 0)
			return id;
	}
	return -1;
}

int32_t ch_controller_agreed(const struct ch_cluster *c)
{
	int32_t agreed = -1;
	for (int i = 0; i < c->n; i++) {
		if (c->nodes[i].pid <= 0)
			continue;
		int32_t id = controller_of(c, i);
		if (id < 0 || (agreed >= 0 && id != agreed))
			return -1;
		agreed = id;
	}
	return agreed;
}

int ch_http_get(const struct ch_cluster *c, int i, const char *path, char *out, size_t cap)
{
	return ch_http(c, i, "GET", path, NULL, out, cap);
}

int ch_http(const struct ch_cluster *c, int i, const char *method, const char *path,
	    const char *body, char *out, size_t cap)
{
	/* guest:guest */
	char req[4096];
	int n = snprintf(req, sizeof(req),
			 "%s %s HTTP/1.0\r\nHost: 127.0.0.1\r\n"
			 "Authorization: Basic Z3Vlc3Q6Z3Vlc3Q=\r\n",
			 method, path);
	if (body)
		n += snprintf(req + n, sizeof(req) - (size_t)n,
			      "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
			      strlen(body), body);
	else
		n += snprintf(req + n, sizeof(req) - (size_t)n, "\r\n");
	ck_assert_int_lt(n, (int)sizeof(req));
	int fd = su_tcp_connect(c->nodes[i].http_port);
	size_t got = 0;
	out[0] = '\0';
	if (fd < 0)
		return -1;
	struct timeval tv = { 30, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	/* HTTP/1.0: the answer ends when the server closes */
	char *buf = malloc(cap + 4096);
	ck_assert_ptr_nonnull(buf);
	size_t have = 0;
	ssize_t r;
	while (have < cap + 4095 && (r = read(fd, buf + have, cap + 4095 - have)) > 0)
		have += (size_t)r;
	close(fd);
	buf[have] = '\0';
	int status = -1;
	char *answer = strstr(buf, "\r\n\r\n");
	if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1 || !answer) {
		free(buf);
		return -1;
	}
	answer += 4;
	got = strlen(answer);
	if (got >= cap)
		got = cap - 1;
	memcpy(out, answer, got);
	out[got] = '\0';
	free(buf);
	return status;
}

/* ---- what the nodes hold ---------------------------------------------- */

long ch_file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

void ch_segment_path(const struct ch_cluster *c, int i, const char *topic, char *out,
		     size_t len)
{
	snprintf(out, len, "%s/logs/%s-0/00000000000000000000.log", c->nodes[i].dir, topic);
}

static char *slurp(const char *path, long *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	*len = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *b = malloc((size_t)*len + 1);
	if (b && fread(b, 1, (size_t)*len, f) != (size_t)*len) {
		free(b);
		b = NULL;
	}
	fclose(f);
	return b;
}

void ch_assert_replicas_identical(const struct ch_cluster *c, const char *topic)
{
	char path[3][700];
	for (int i = 0; i < 3; i++)
		ch_segment_path(c, i, topic, path[i], sizeof(path[i]));
	uint64_t deadline = kh_now_ms() + 10000;
	while (kh_now_ms() < deadline && !(ch_file_size(path[0]) > 0 &&
					    ch_file_size(path[0]) == ch_file_size(path[1]) &&
					    ch_file_size(path[1]) == ch_file_size(path[2])))
		kh_sleep_ms(100);
	long len[3];
	char *data[3];
	for (int i = 0; i < 3; i++) {
		data[i] = slurp(path[i], &len[i]);
		ck_assert_msg(data[i] != NULL, "%s missing", path[i]);
	}
	ck_assert_int_eq(len[0], len[1]);
	ck_assert_int_eq(len[1], len[2]);
	ck_assert_msg(memcmp(data[0], data[1], (size_t)len[0]) == 0 &&
			      memcmp(data[1], data[2], (size_t)len[0]) == 0,
		      "the replicas' segments differ");
	for (int i = 0; i < 3; i++)
		free(data[i]);
}

int ch_json_array_len(const char *a)
{
	if (!a || *a != '[')
		return -1;
	if (a[1] == ']')
		return 0;
	int n = 1;
	for (a++; *a && *a != ']'; a++)
		n += *a == ',';
	return *a == ']' ? n : -1;
}
