/* A node of a cluster for tests, in a child process (see kafka_node.h).
 *
 * Depends on: Check, libevent, src/kafka, src/net, core.
 */
#include "kafka_node.h"

#include <check.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "core/auth.h"
#include "core/config.h"
#include "core/groups.h"
#include "core/replica.h"
#include "core/topic_ops.h"
#include "core/topics.h"
#include "kafka/kafka.h"
#include "net/net.h"
#include "sockutil.h"

struct child {
	struct tdm_topics *topics;
	struct tdm_replica *r;
	kn_fn command;
	int cmd_fd, ack_fd;
	struct event_base *base;
};

static void noop_isr(void *ctx, const char *topic, int32_t partition,
		     const struct tdm_partition_state *want)
{
	(void)ctx, (void)topic, (void)partition, (void)want;
}

static void noop_follow(void *ctx, const char *topic, int32_t partition, int32_t leader,
			int32_t epoch)
{
	(void)ctx, (void)topic, (void)partition, (void)leader, (void)epoch;
}

static void on_term(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	event_base_loopbreak(arg);
}

static void on_cmd(evutil_socket_t fd, short what, void *arg)
{
	struct child *c = arg;
	unsigned char cmd, ok;

	(void)what;
	if (read(fd, &cmd, 1) != 1) {
		event_base_loopbreak(c->base);
		return;
	}
	ok = c->command && c->command(c->topics, c->r, cmd) == 0;
	if (write(c->ack_fd, &ok, 1) != 1)
		event_base_loopbreak(c->base);
}

static void child_main(struct kn_node *n, kn_fn setup, struct child *c)
{
	struct tdm_config cfg;
	char err[256], port[16];
	struct tdm_auth *auth;
	struct tdm_groups *groups;
	struct tdm_net *net;
	struct tdm_kafka *k;
	struct tdm_net_limits lim = { .max_connections = 100, .output_high_watermark = 1 << 20 };
	struct tdm_replica_hooks hooks = { .isr_change = noop_isr, .follow = noop_follow };
	struct event *term, *cmd;

	snprintf(port, sizeof(port), "%d", n->port);
	if (tdm_config_init(&cfg) < 0 || tdm_config_set(&cfg, "data_dir", n->dir, err, sizeof(err)) < 0 ||
	    tdm_config_set(&cfg, "kafka_port", port, err, sizeof(err)) < 0)
		_exit(2);
	c->base = event_base_new();
	if (!c->base || !(auth = tdm_auth_new(&cfg, err, sizeof(err))) ||
	    !(c->topics = tdm_topics_open(&cfg, NULL, err, sizeof(err))) ||
	    !(groups = tdm_groups_new(c->topics)) || !(net = tdm_net_new(c->base, &lim)) ||
	    !(c->r = tdm_replica_new(c->topics, 1, &hooks, NULL, 30000, 1)))
		_exit(3);
	if (setup(c->topics, c->r, 0) < 0)
		_exit(4);
	if (!(k = tdm_kafka_start(c->base, net, &cfg, c->topics, groups, NULL)))
		_exit(5);
	tdm_kafka_set_auth(k, auth);
	tdm_kafka_set_replica(k, c->r);
	term = evsignal_new(c->base, SIGTERM, on_term, c->base);
	cmd = event_new(c->base, c->cmd_fd, EV_READ | EV_PERSIST, on_cmd, c);
	if (!term || !cmd || event_add(term, NULL) < 0 || event_add(cmd, NULL) < 0)
		_exit(6);
	unsigned char ready = 1;
	if (write(c->ack_fd, &ready, 1) != 1)
		_exit(7);
	event_base_dispatch(c->base);
	_exit(0);
}

static int wait_byte(int fd, unsigned char *b, int timeout_ms)
{
	fd_set rs;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };

	FD_ZERO(&rs);
	FD_SET(fd, &rs);
	if (select(fd + 1, &rs, NULL, NULL, &tv) != 1)
		return -1;
	return read(fd, b, 1) == 1 ? 0 : -1;
}

void kn_start(struct kn_node *n, kn_fn setup, kn_fn command)
{
	int to_child[2], to_parent[2];
	unsigned char ready = 0;

	memset(n, 0, sizeof(*n));
	snprintf(n->dir, sizeof(n->dir), "%s/tandem-node-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(n->dir));
	n->port = su_free_port();
	ck_assert_int_gt(n->port, 0);
	ck_assert_int_eq(pipe(to_child), 0);
	ck_assert_int_eq(pipe(to_parent), 0);
	n->pid = fork();
	ck_assert_int_ge(n->pid, 0);
	if (n->pid == 0) {
		struct child c = { .command = command, .cmd_fd = to_child[0], .ack_fd = to_parent[1] };

		close(to_child[1]);
		close(to_parent[0]);
		child_main(n, setup, &c);
	}
	close(to_child[0]);
	close(to_parent[1]);
	n->cmd_fd = to_child[1];
	n->ack_fd = to_parent[0];
	ck_assert_msg(wait_byte(n->ack_fd, &ready, 10000) == 0 && ready == 1,
		      "the test node did not start");
}

void kn_command(struct kn_node *n, int cmd)
{
	unsigned char c = (unsigned char)cmd, ok = 0;

	ck_assert_int_eq(write(n->cmd_fd, &c, 1), 1);
	ck_assert_msg(wait_byte(n->ack_fd, &ok, 5000) == 0 && ok == 1, "command %d failed", cmd);
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

void kn_stop(struct kn_node *n)
{
	int st;

	if (n->pid > 0) {
		kill(n->pid, SIGTERM);
		waitpid(n->pid, &st, 0);
		n->pid = 0;
		close(n->cmd_fd);
		close(n->ack_fd);
	}
	if (n->dir[0])
		nftw(n->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	n->dir[0] = '\0';
}

int kn_append(struct tdm_topics *topics, const char *topic, int32_t partition, int n)
{
	struct ls_topic *t = tdm_topic_find(topics, topic);
	struct ls_partition *p = t ? tdm_topic_partition(t, partition) : NULL;
	struct tdm_record rec = { .value = "rec", .value_len = 3, .timestamp = -1 };
	struct tdm_append_result res;

	for (int i = 0; i < n; i++)
		if (!p || tdm_topics_append(topics, p, &rec, 1, TDM_CODEC_NONE, &res) != TDM_TOPIC_OK)
			return -1;
	return 0;
}

int kn_set_state(struct tdm_replica *r, const char *topic, int32_t partition, int32_t leader,
		 int32_t leader_epoch, const int32_t *replicas, size_t nreplicas)
{
	struct tdm_replica_node nodes[3] = { { 1, "127.0.0.1", 1, 0, 0, 0, NULL },
					     { 2, "127.0.0.1", 2, 0, 0, 0, NULL },
					     { 3, "127.0.0.1", 3, 0, 0, 0, NULL } };
	struct tdm_partition_state st = { .leader = leader, .leader_epoch = leader_epoch,
					  .controller_epoch = 1, .version = 1,
					  .replicas = replicas, .nreplicas = nreplicas,
					  .isr = replicas, .nisr = nreplicas };

	if (tdm_replica_set_nodes(r, nodes, 3) < 0)
		return -1;
	return tdm_replica_set_state(r, topic, partition, &st) == TDM_REPL_OK ? 0 : -1;
}
