/* Cluster tests: a private ZooKeeper (tests/cluster/zk.sh) and N tandemd
 * nodes on loopback ports, each with its own data dir, started, killed
 * (kill -9), paused (SIGSTOP) and restarted by the test; every wait is
 * bounded and everything started is stopped by PID at the end.
 *
 * The ZooKeeper runs with a 500 ms tick and the nodes with a 3 s session
 * timeout, so that a dead node is noticed in seconds.
 *
 * Depends on: Check, librdkafka, POSIX, Debian's zookeeper.  Nothing from
 * src/.
 */
#ifndef TANDEM_TESTS_CLUSTER_HARNESS_H
#define TANDEM_TESTS_CLUSTER_HARNESS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <librdkafka/rdkafka.h>

#define CH_MAX_NODES 9

struct tproxy; /* tcp_proxy.h */
#define CH_SESSION_MS 3000

struct ch_node {
	int32_t id;
	pid_t pid; /* 0 when not running */
	int kafka_port;
	int amqp_port;
	int http_port; /* the management API, /metrics */
	int cluster_port; /* the cluster link */
	char secret_file[512]; /* its cluster_secret_file (ch_write_secret) */
	char dir[512];
	char log[600];
	long log_from; /* where this run's lines start in log */
	/* ch_start_partitionable: its ZooKeeper connection and its advertised
	 * Kafka port go through these (NULL otherwise) */
	struct tproxy *zk_proxy, *kafka_proxy, *cluster_proxy;
};

struct ch_cluster {
	char root[400];
	int zk_port;
	pid_t zk_pid;
	int n;
	struct ch_node nodes[CH_MAX_NODES];
	char bootstrap[CH_MAX_NODES * 24];
	const char *const *extra; /* more tandemd args for every node */
};

/* ZooKeeper plus n nodes (ids 1..n), each waited for until it accepts;
 * fails the test on error.  extra (NULL-terminated, may be NULL) is kept
 * for restarts; in its first 16 arguments "{node_id}" stands for each
 * node's id ("--broker-rack", "r{node_id}": racks r1, r2, ...). */
void ch_start(struct ch_cluster *c, int n, const char *const *extra);
/* ch_start, with each node's ZooKeeper connection and its advertised
 * Kafka port (where the other nodes' replica fetchers and the clients
 * that follow Metadata reach it) through a tcp_proxy of its own, so that
 * ch_node_isolate can cut it off.  Its Kafka listener's own port
 * (nodes[i].kafka_port, in bootstrap) stays direct: a client there is on
 * the node's side of a partition. */
void ch_start_partitionable(struct ch_cluster *c, int n, const char *const *extra);
/* Node i of a partitionable cluster cut off from ZooKeeper and from the
 * other nodes (1: nothing passes, nobody sees an error), or joined again
 * (0: the connections held are closed, new ones pass). */
void ch_node_isolate(struct ch_cluster *c, int i, int cut);
/* 1 when node i's log, since its last start, holds `what`. */
int ch_log_says(const struct ch_cluster *c, int i, const char *what);
/* Writes secret (mode 0600) to path: a node's cluster_secret_file.  Every
 * node of ch_start shares <root>/cluster.secret; a test may point one
 * elsewhere (nodes[i].secret_file) before restarting it. */
void ch_write_secret(const char *path, const char *secret);
/* Everything stopped by PID (nodes SIGTERMed and waited for, ZooKeeper
 * stopped), the directories removed unless TANDEM_TEST_KEEP_DATA is set;
 * fails the test when a node did not exit 0 (a sanitizer's report, a
 * crash, a hang at shutdown), keeping the logs. */
void ch_stop(struct ch_cluster *c);
/* Node i (0-based) started again on its ports and data dir. */
void ch_node_start(struct ch_cluster *c, int i);
/* SIGTERM of node i, waited for (bounded); fails the test unless it exits 0. */
void ch_node_stop(struct ch_cluster *c, int i);
/* kill -9 of node i, reaped. */
void ch_node_kill9(struct ch_cluster *c, int i);
/* SIGSTOP / SIGCONT of node i. */
void ch_node_pause(struct ch_cluster *c, int i, int pause);
/* The index of node id, or -1. */
int ch_index(const struct ch_cluster *c, int32_t id);

/* ---- what the nodes hold ---------------------------------------------- */

/* The size of the file at path, -1 when there is none. */
long ch_file_size(const char *path);
/* Node i's first segment file of partition 0 of topic (its name in the
 * store), into out. */
void ch_segment_path(const struct ch_cluster *c, int i, const char *topic, char *out,
		     size_t len);
/* Partition 0 of topic byte for byte the same on nodes 0..2 (followers
 * may still be writing the last fetch: waits, bounded, for the sizes to
 * agree); fails the test otherwise. */
void ch_assert_replicas_identical(const struct ch_cluster *c, const char *topic);

/* Elements of the JSON array of numbers starting at a ('['), or -1 (a
 * management API answer's "replicas" or "isr"). */
int ch_json_array_len(const char *a);

/* ---- what the cluster says, through librdkafka's metadata ------------ */

/* The leader and ISR of topic/partition as node i's Metadata gives them
 * (-1 when it could not tell). */
int32_t ch_leader(const struct ch_cluster *c, int i, const char *topic, int32_t partition,
		  int *nisr);
/* Waits (bounded by timeout_ms) until some live node reports a leader for
 * topic/partition with at least min_isr replicas in its ISR, and that
 * leader is live; returns the leader's id, -1 on timeout. */
int32_t ch_wait_leader(const struct ch_cluster *c, const char *topic, int32_t partition,
		       int min_isr, int timeout_ms);
/* The controller id a live node reports, -1 if none. */
int32_t ch_controller(const struct ch_cluster *c);
/* The controller id every live node reports, -1 while one reports none
 * (or does not answer) or another id: after the controller changed, a
 * client may ask any node, and one that has not learned the new
 * controller yet sends it to the old one (a dead node) or to none. */
int32_t ch_controller_agreed(const struct ch_cluster *c);

/* ---- what a node's HTTP API says --------------------------------------- */

/* A request to node i's HTTP listener as guest (HTTP/1.0; body NULL for
 * none, else sent as JSON; bounded: 30 s): the status (-1 when there was
 * no answer), the body NUL-terminated in out (cap bytes, cut to fit). */
int ch_http(const struct ch_cluster *c, int i, const char *method, const char *path,
	    const char *body, char *out, size_t cap);
/* ch_http GET. */
int ch_http_get(const struct ch_cluster *c, int i, const char *path, char *out, size_t cap);

#endif
