/*
 * The controller's inside, shared by controller.c (election, watches,
 * state writes) and controller_admin.c (the admin calls of any node).
 *
 * Must not depend on: the protocol front ends.
 */
#ifndef TANDEM_CLUSTER_CONTROLLER_INTERNAL_H
#define TANDEM_CLUSTER_CONTROLLER_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/controller.h"
#include "cluster/ctl.h"
#include "cluster/zkdata.h"

#define SUB "controller"
#define MAX_TRIES 10 /* compare-and-set retries of one write */

struct ctlr_admin; /* controller_admin.c's */

struct ctlr_topic {
	char *name;           /* owned */
	struct zkd_topic asg; /* owned; no partitions until read */
	bool unclean;         /* unclean.leader.election.enable in force */
	bool deleting;        /* its deletion is under way: no state writes */
	struct ctlr_topic *next;
};

struct ctlr_name {
	char *name; /* owned */
	struct ctlr_name *next;
};

struct ctlr_op {
	struct tdm_controller *c;
	uint64_t gen;
	char *topic; /* owned, or NULL */
	int32_t partition;
	int tries;
	bool prefer;              /* a preferred replica election's look */
	struct ctl_part part;     /* a state being written: isr owned */
	struct ctlr_admin *admin; /* borrowed: an admin call's op */
	struct ctlr_op *prev, *next;
};

struct tdm_controller {
	struct zk *zk; /* borrowed: the owner's session */
	struct ctlr_config cfg;
	struct ctlr_hooks hooks;
	void *ctx;
	uint64_t gen;
	int64_t session;
	bool is_controller, electing;
	bool listed;    /* /brokers/ids was read in this tenure */
	bool have_live; /* ... and lists this node: states may be written */
	int32_t controller_id, epoch, epoch_version;
	int ensures;   /* paths still being made at the start of a tenure */
	int32_t *live; /* owned: sorted */
	size_t nlive;
	struct ctlr_topic *topics; /* owned: what /brokers/topics lists */
	struct ctlr_name *dels;    /* owned: deletions under way */
	struct ctlr_op *ops;       /* owned: pending ZooKeeper calls */
	struct ctlr_admin *admins; /* owned: pending admin calls */
	struct ctlr_stats stats;
	int64_t next_rebalance_ms; /* ctlr_tick's clock; 0: not yet set */
	/* each live node's registration (Kafka's broker epoch: the czxid of
	 * /brokers/ids/N), to tell a node that registered again */
	struct ctlr_reg {
		int32_t id;
		int64_t czxid;
	} *regs; /* owned */
	size_t nregs;
};

/* A ZooKeeper call's context, linked in c->ops until ctlr_op_end; tagged
 * with c's generation (topic copied when not NULL).  NULL when out of
 * memory. */
struct ctlr_op *ctlr_op_new(struct tdm_controller *c, const char *topic, int32_t partition);
void ctlr_op_end(struct ctlr_op *op);
/* Unlinks a from c->admins and frees it; its completion is not called. */
void ctlr_admin_free(struct ctlr_admin *a);

#endif
