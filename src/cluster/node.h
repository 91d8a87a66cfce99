/*
 * A tandem node in a cluster: its ZooKeeper session, its registration
 * under /brokers/ids, the metadata it watches (live nodes, the controller,
 * every topic's assignment, config and partition states) handed to the
 * replica manager (core/replica.h), its local logs made for every topic
 * of the cluster, the ISR changes it writes as a leader, the replica
 * fetchers it runs as a follower, and the controller it may become.
 * Kafka's KafkaServer + KafkaZkClient watchers + ReplicaManager's
 * becomeLeaderOrFollower, on our loop.
 *
 * Everything runs on the loop thread; ZooKeeper's threads are hidden in
 * zk.c.
 *
 * Must not depend on: protocol front ends (it reaches the logs through
 * core and the wire through its own fetcher).
 */
#ifndef TANDEM_CLUSTER_NODE_H
#define TANDEM_CLUSTER_NODE_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

struct tdm_config;
struct tdm_topics;
struct tdm_replica;
struct tdm_cnode;

/* The ports this node serves, as it registers them (0: none). */
struct tdm_cnode_ports {
	int kafka;
	int amqp;
	int http;
	int cluster; /* the cluster link (cluster_port) */
};

/*
 * Joins the cluster of cfg->zookeeper_connect as node cfg->node_id: opens
 * the ZooKeeper session (blocking, at most zookeeper_connection_timeout_ms:
 * start-up fails with a clear message rather than hang), makes the
 * persistent paths, registers, starts watching and contends for the
 * controller.  topics is borrowed.  NULL with a message in err.
 */
struct tdm_cnode *tdm_cnode_start(struct event_base *base, const struct tdm_config *cfg,
				  struct tdm_topics *topics, const struct tdm_cnode_ports *ports,
				  char *err, size_t errlen);
/* The replica manager the front ends consult (borrowed from n). */
struct tdm_replica *tdm_cnode_replica(struct tdm_cnode *n);
/* Leaves the cluster (the registration goes at once, so the controller
 * moves the leaderships) and frees n.  NULL is fine. */
void tdm_cnode_free(struct tdm_cnode *n);

#endif
