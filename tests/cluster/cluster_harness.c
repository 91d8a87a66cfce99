/* Cluster test harness (cluster_harness.h). */
#include "cluster_harness.h"

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kafka_harness.h"
#include "sockutil.h"

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
	snprintf(sh, sizeof(sh), "ZK_TICK_MS=500 bash '%s' %s '%s' 2>&1", ZK_SH, cmd, dir);
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
	char id[16], kp[16], ap[16], zk[64], sess[16];
	snprintf(id, sizeof(id), "%d", nd->id);
	snprintf(kp, sizeof(kp), "%d", nd->kafka_port);
	snprintf(ap, sizeof(ap), "%d", nd->amqp_port);
	snprintf(zk, sizeof(zk), "127.0.0.1:%d", c->zk_port);
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
	const char *fixed[] = { "--data-dir", nd->dir, "--amqp-port", ap, "--http-port", "0",
				"--kafka-port", kp, "--node-id", id, "--zookeeper-connect", zk,
				"--advertised-host", "127.0.0.1", "--zookeeper-session-timeout-ms", sess,
				"--log-level", getenv("TANDEMD_LOG_LEVEL") ? getenv("TANDEMD_LOG_LEVEL")
									  : "info",
				NULL };
	for (int i = 0; fixed[i]; i++)
		argv[n++] = (char *)fixed[i];
	for (int i = 0; c->extra && c->extra[i] && n < 62; i++)
		argv[n++] = (char *)c->extra[i];
	argv[n] = NULL;
	execvp(argv[0], argv);
	fprintf(stderr, "cluster harness: exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

void ch_node_start(struct ch_cluster *c, int i)
{
	struct ch_node *nd = &c->nodes[i];
	ck_assert_msg(nd->pid == 0, "node %d runs already", nd->id);
	nd->pid = spawn(c, nd);
	ck_assert_msg(nd->pid > 0, "fork: %s", strerror(errno));
	uint64_t deadline = kh_now_ms() + 20000;
	int status;
	while (kh_now_ms() < deadline) {
		if (waitpid(nd->pid, &status, WNOHANG) == nd->pid) {
			nd->pid = 0;
			ck_abort_msg("node %d exited during start (status 0x%x); log %s", nd->id, status,
				     nd->log);
		}
		int fd = su_tcp_connect(nd->kafka_port);
		if (fd >= 0) {
			close(fd);
			return;
		}
		kh_sleep_ms(20);
	}
	kill(nd->pid, SIGKILL);
	waitpid(nd->pid, NULL, 0);
	nd->pid = 0;
	ck_abort_msg("node %d did not accept within 20 s; log %s", nd->id, nd->log);
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

void ch_start(struct ch_cluster *c, int n, const char *const *extra)
{
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
	size_t o = 0;
	for (int i = 0; i < n; i++) {
		struct ch_node *nd = &c->nodes[i];
		nd->id = i + 1;
		nd->kafka_port = free_port();
		nd->amqp_port = free_port();
		snprintf(nd->dir, sizeof(nd->dir), "%s/node%d", c->root, nd->id);
		snprintf(nd->log, sizeof(nd->log), "%s/node%d.log", c->root, nd->id);
		o += (size_t)snprintf(c->bootstrap + o, sizeof(c->bootstrap) - o, "%s127.0.0.1:%d",
				      i ? "," : "", nd->kafka_port);
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

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

void ch_stop(struct ch_cluster *c)
{
	for (int i = 0; i < c->n; i++)
		if (c->nodes[i].pid > 0) {
			kill(c->nodes[i].pid, SIGCONT);
			kill(c->nodes[i].pid, SIGTERM);
		}
	for (int i = 0; i < c->n; i++) {
		struct ch_node *nd = &c->nodes[i];
		uint64_t deadline = kh_now_ms() + 10000;
		while (nd->pid > 0 && kh_now_ms() < deadline) {
			if (waitpid(nd->pid, NULL, WNOHANG) == nd->pid)
				nd->pid = 0;
			else
				kh_sleep_ms(20);
		}
		if (nd->pid > 0) {
			kill(nd->pid, SIGKILL);
			waitpid(nd->pid, NULL, 0);
			nd->pid = 0;
		}
	}
	if (c->zk_pid > 0) {
		char zkdir[512];
		snprintf(zkdir, sizeof(zkdir), "%s/zk", c->root);
		zk_sh("stop", zkdir);
		c->zk_pid = 0;
	}
	if (!getenv("TANDEM_TEST_KEEP_DATA") && c->root[0])
		nftw(c->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
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

int32_t ch_controller(const struct ch_cluster *c)
{
	for (int i = 0; i < c->n; i++) {
		if (c->nodes[i].pid <= 0)
			continue;
		rd_kafka_t *rk = client_of(c, i);
		const struct rd_kafka_metadata *md = NULL;
		int32_t id = -1;
		if (rd_kafka_metadata(rk, 0, NULL, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR) {
			id = rd_kafka_controllerid(rk, 0);
			rd_kafka_metadata_destroy(md);
		}
		rd_kafka_destroy(rk);
		if (id >= 0)
			return id;
	}
	return -1;
}
