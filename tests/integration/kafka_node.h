/* A node of a cluster for tests, without ZooKeeper: a child process runs
 * the Kafka front end (src/kafka) over its own topics store in a temp
 * dir with core's replica manager (core/replica.c) as node 1, on a free
 * 127.0.0.1 port; the test hands it the cluster state through a setup
 * function run in the child before it serves, and can make it act later
 * (append, change a state) with numbered commands, each answered once
 * done.  Anonymous clients act as guest (an administrator).
 *
 * Depends on: Check, libevent, src/kafka, src/net, core.
 */
#ifndef TANDEM_TESTS_INTEGRATION_KAFKA_NODE_H
#define TANDEM_TESTS_INTEGRATION_KAFKA_NODE_H

#include <stdint.h>
#include <sys/types.h>

struct tdm_topics;
struct tdm_replica;

/* Runs in the child: 0, or -1 to make the child exit (the start fails). */
typedef int (*kn_fn)(struct tdm_topics *topics, struct tdm_replica *r, int cmd);

struct kn_node {
	pid_t pid;        /* the child; 0 when stopped */
	int port;         /* its Kafka listener */
	int cmd_fd, ack_fd;
	char dir[256];    /* its data dir, removed by kn_stop */
};

/* Starts the child: setup(topics, r, 0) before it listens, command(topics,
 * r, cmd) for each kn_command.  Fails the test on error. */
void kn_start(struct kn_node *n, kn_fn setup, kn_fn command);
/* Has the child run command(.., cmd) and waits (5 s at most) until it did. */
void kn_command(struct kn_node *n, int cmd);
/* SIGTERM, wait, remove the data dir. */
void kn_stop(struct kn_node *n);

/* Appends n one-record batches ("rec") to topic/partition. */
int kn_append(struct tdm_topics *topics, const char *topic, int32_t partition, int n);
/* Sets the state of topic/partition: leader, leader_epoch, replicas and
 * ISR (the same list), version 1. */
int kn_set_state(struct tdm_replica *r, const char *topic, int32_t partition, int32_t leader,
		 int32_t leader_epoch, const int32_t *replicas, size_t nreplicas);

#endif
