/*
 * The cluster controller (controller.h): election, watches and fenced
 * partition-state writes over the loop thread's ZooKeeper session.  The
 * decisions themselves are ctl.c's.
 *
 * Every ZooKeeper call carries a struct ctlr_op (c->ops owns them until
 * the call's completion).  Controller work is tagged with the generation
 * it was started in; resigning or a new session starts a new generation,
 * so completions of an earlier tenure are dropped on arrival.  The
 * controller keeps no copy of the partition states: on every change it
 * reads them back from ZooKeeper (as Kafka's controller re-reads
 * leader-and-ISR before an election), decides, and writes with
 * compare-and-set, so that an ISR the leader changed meanwhile is never
 * overwritten.
 *
 * The admin calls are controller_admin.c's.
 *
 * Must not depend on: the protocol front ends.
 */
#include "cluster/controller.h"
#include "cluster/controller_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cluster/ctl.h"
#include "cluster/zkdata.h"
#include "core/log.h"
#include "core/replica.h"

static void elect(struct tdm_controller *c);
static void sync_partition_as(struct tdm_controller *c, const char *topic, int32_t partition,
			      int tries, bool prefer);
static void sync_partition(struct tdm_controller *c, const char *topic, int32_t partition,
			   int tries);

/* ---- helpers -------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct ctlr_op *ctlr_op_new(struct tdm_controller *c, const char *topic, int32_t partition)
{
	struct ctlr_op *op = calloc(1, sizeof(*op));

	if (!op)
		return NULL;
	if (topic && !(op->topic = strdup(topic))) {
		free(op);
		return NULL;
	}
	op->c = c;
	op->gen = c->gen;
	op->partition = partition;
	op->next = c->ops;
	if (c->ops)
		c->ops->prev = op;
	c->ops = op;
	return op;
}

void ctlr_op_end(struct ctlr_op *op)
{
	struct tdm_controller *c = op->c;

	if (op->prev)
		op->prev->next = op->next;
	else
		c->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	ctl_part_free(&op->part);
	free(op->topic);
	free(op);
}

/* The op of a completion, or NULL (and the op ended) when it belongs to
 * an earlier tenure. */
static struct ctlr_op *op_current(void *ctx)
{
	struct ctlr_op *op = ctx;

	if (op->gen != op->c->gen) {
		ctlr_op_end(op);
		return NULL;
	}
	return op;
}

static void notify(struct tdm_controller *c)
{
	if (c->hooks.on_change)
		c->hooks.on_change(c->ctx, c->controller_id, c->epoch);
}

static struct ctlr_topic *topic_find(struct tdm_controller *c, const char *name)
{
	struct ctlr_topic *t;

	for (t = c->topics; t; t = t->next)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

static void topic_free(struct ctlr_topic *t)
{
	zkd_topic_free(&t->asg);
	free(t->name);
	free(t);
}

static void topic_remove(struct tdm_controller *c, struct ctlr_topic *gone)
{
	struct ctlr_topic **pp;

	for (pp = &c->topics; *pp; pp = &(*pp)->next)
		if (*pp == gone) {
			*pp = gone->next;
			topic_free(gone);
			return;
		}
}

static bool names_has(struct ctlr_name *l, const char *name)
{
	for (; l; l = l->next)
		if (strcmp(l->name, name) == 0)
			return true;
	return false;
}

static void names_remove(struct ctlr_name **pp, const char *name)
{
	for (; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->name, name) == 0) {
			struct ctlr_name *n = *pp;

			*pp = n->next;
			free(n->name);
			free(n);
			return;
		}
}

static void names_free(struct ctlr_name **pp)
{
	while (*pp)
		names_remove(pp, (*pp)->name);
}

/* Drops everything a tenure knew and starts a new generation. */
static void reset(struct tdm_controller *c)
{
	c->gen++;
	c->is_controller = false;
	c->electing = false;
	c->listed = false;
	c->have_live = false;
	c->epoch = 0;
	c->epoch_version = -1;
	c->ensures = 0;
	while (c->topics)
		topic_remove(c, c->topics);
	names_free(&c->dels);
	free(c->live);
	c->live = NULL;
	c->nlive = 0;
	free(c->regs);
	c->regs = NULL;
	c->nregs = 0;
}

static void resign(struct tdm_controller *c, const char *why)
{
	if (!c->is_controller)
		return;
	tdm_warn(SUB, "node %d resigns as controller (epoch %d): %s", (int)c->cfg.node_id,
		 (int)c->epoch, why);
	c->stats.resignations++;
	reset(c);
	c->controller_id = CTL_NO_LEADER;
	notify(c);
}

/* ---- election ------------------------------------------------------- */

static void on_controller_watch(void *ctx, int event, const char *path);

static void on_get_controller(void *ctx, const struct zk_result *res);

static void read_controller(struct tdm_controller *c)
{
	struct ctlr_op *op = ctlr_op_new(c, NULL, 0);

	if (!op || zk_get(c->zk, ZKD_CONTROLLER, on_controller_watch, c, on_get_controller, op)) {
		if (op)
			ctlr_op_end(op);
		tdm_error(SUB, "out of memory reading %s", ZKD_CONTROLLER);
	}
}

static void on_controller_watch(void *ctx, int event, const char *path)
{
	struct tdm_controller *c = ctx;

	(void)path;
	if (event == ZK_EV_DELETED) {
		if (c->is_controller)
			resign(c, "/controller was deleted");
		if (c->controller_id != CTL_NO_LEADER) {
			c->controller_id = CTL_NO_LEADER;
			notify(c);
		}
		elect(c);
	} else if (!c->is_controller) {
		read_controller(c);
	}
}

static void become_controller(struct tdm_controller *c);

static void on_epoch_set(void *ctx, const struct zk_result *res);
static void bump_epoch(struct tdm_controller *c);

static void on_epoch_read(void *ctx, const struct zk_result *res)
{
	struct ctlr_op *op = op_current(ctx);
	struct tdm_controller *c;
	char err[128], *data = NULL;
	size_t len;
	int32_t epoch = 0;
	int rc;

	if (!op)
		return;
	c = op->c;
	ctlr_op_end(op);
	if (res->rc == ZK_OK) {
		if (zkd_epoch_decode(res->data ? res->data : "", res->len, &epoch, err,
				     sizeof(err))) {
			tdm_error(SUB, "%s: %s", ZKD_CONTROLLER_EPOCH, err);
			c->electing = false;
			return;
		}
	} else if (res->rc != ZK_NONODE) {
		tdm_warn(SUB, "reading %s: %s", ZKD_CONTROLLER_EPOCH, zk_strerror(res->rc));
		c->electing = false;
		return;
	}
	if (epoch == INT32_MAX)
		epoch = 0;
	data = zkd_epoch_encode(epoch + 1, &len);
	op = ctlr_op_new(c, NULL, epoch + 1);
	if (!data || !op)
		goto oom;
	/* absent: create it with 1; else compare-and-set on the version read */
	rc = res->rc == ZK_NONODE ? zk_create(c->zk, ZKD_CONTROLLER_EPOCH, data, len, ZK_PERSISTENT,
					      on_epoch_set, op)
				  : zk_set(c->zk, ZKD_CONTROLLER_EPOCH, data, len,
					   res->stat->version, on_epoch_set, op);
	if (rc)
		goto oom;
	free(data);
	return;
oom:
	free(data);
	if (op)
		ctlr_op_end(op);
	c->electing = false;
	tdm_error(SUB, "out of memory writing %s", ZKD_CONTROLLER_EPOCH);
}

static void on_epoch_set(void *ctx, const struct zk_result *res)
{
	struct ctlr_op *op = op_current(ctx);
	struct tdm_controller *c;
	int32_t epoch;

	if (!op)
		return;
	c = op->c;
	epoch = op->partition;
	ctlr_op_end(op);
	if (res->rc == ZK_NODEEXISTS || res->rc == ZK_BADVERSION) {
		bump_epoch(c); /* someone moved it meanwhile: read it again */
		return;
	}
	if (res->rc != ZK_OK) {
		tdm_warn(SUB, "writing %s: %s", ZKD_CONTROLLER_EPOCH, zk_strerror(res->rc));
		c->electing = false;
		return;
	}
	c->epoch = epoch;
	c->epoch_version = res->stat ? res->stat->version : 0;
	become_controller(c);
}

static void bump_epoch(struct tdm_controller *c)
{
	struct ctlr_op *op = ctlr_op_new(c, NULL, 0);

	if (!op || zk_get(c->zk, ZKD_CONTROLLER_EPOCH, NULL, NULL, on_epoch_read, op)) {
		if (op)
			ctlr_op_end(op);
		c->electing = false;
		tdm_error(SUB, "out of memory reading %s", ZKD_CONTROLLER_EPOCH);
	}
}

static void on_get_controller(void *ctx, const struct zk_result *res)
{
	struct ctlr_op *op = op_current(ctx);
	struct tdm_controller *c;
	struct zkd_controller zc;
	char err[128];

	if (!op)
		return;
	c = op->c;
	ctlr_op_end(op);
	if (res->rc == ZK_NONODE) { /* gone meanwhile: run again */
		c->electing = false;
		elect(c);
		return;
	}
	if (res->rc != ZK_OK) {
		c->electing = false;
		return;
	}
	if (zkd_controller_decode(res->data ? res->data : "", res->len, &zc, err, sizeof(err))) {
		tdm_error(SUB, "%s: %s", ZKD_CONTROLLER, err);
		c->electing = false;
		return;
	}
	if (zc.brokerid == c->cfg.node_id && res->stat &&
	    res->stat->ephemeral_owner == zk_session_id(c->zk)) {
		/* ours (our create's answer was lost, or a write was fenced
		 * while we still hold it): go on as the winner */
		if (!c->is_controller) {
			c->electing = true;
			bump_epoch(c);
		}
		return;
	}
	c->electing = false;
	if (c->is_controller)
		resign(c, "another node holds /controller");
	if (zc.brokerid != c->controller_id) {
		c->controller_id = zc.brokerid;
		tdm_info(SUB, "node %d: the controller is node %d", (int)c->cfg.node_id,
			 (int)zc.brokerid);
		notify(c);
	}
}

static void on_controller_created(void *ctx, const struct zk_result *res)
{
	struct ctlr_op *op = op_current(ctx);
	struct tdm_controller *c;

	if (!op)
		return;
	c = op->c;
	ctlr_op_end(op);
	if (res->rc == ZK_OK) {
		bump_epoch(c);
	} else if (res->rc == ZK_NODEEXISTS) {
		read_controller(c);
	} else {
		c->electing = false; /* tried again when the session (re)connects */
		tdm_warn(SUB, "node %d: running for controller: %s", (int)c->cfg.node_id,
			 zk_strerror(res->rc));
	}
}

/* Runs for controller: the ephemeral /controller is the prize. */
static void elect(struct tdm_controller *c)
{
	struct zkd_controller zc = { c->cfg.node_id, now_ms() };
	struct ctlr_op *op;
	char *data;
	size_t len;

	if (c->electing || c->is_controller)
		return;
	data = zkd_controller_encode(&zc, &len);
	op = ctlr_op_new(c, NULL, 0);
	if (!data || !op ||
	    zk_create(c->zk, ZKD_CONTROLLER, data, len, ZK_EPHEMERAL, on_controller_created, op)) {
		if (op)
			ctlr_op_end(op);
		free(data);
		tdm_error(SUB, "out of memory running for controller");
		return;
	}
	free(data);
	c->electing = true;
}

/* ---- fenced partition-state writes ----------------------------------- */

static void on_state_written(void *ctx, const struct zk_result *res)
{
	struct ctlr_op *op = op_current(ctx);
	struct tdm_controller *c;
	struct ctlr_topic *t;

	if (!op)
		return;
	c = op->c;
	if (res->rc == ZK_OK) {
		c->stats.state_writes++;
		op->part.version =
			res->nops > 1 && res->ops[1].version >= 0 ? res->ops[1].version : 0;
		tdm_info(SUB,
			 "%s-%d: leader %d, leader epoch %d, %zu in sync (controller epoch %d)",
			 op->topic, (int)op->partition, (int)op->part.leader,
			 (int)op->part.leader_epoch, op->part.nisr, (int)c->epoch);
		t = topic_find(c, op->topic);
		if (c->hooks.on_state && t && (size_t)op->partition < t->asg.npartitions) {
			struct tdm_partition_state st;

			op->part.replicas = t->asg.partitions[op->partition].replicas;
			op->part.nreplicas = t->asg.partitions[op->partition].nreplicas;
			ctl_part_view(&op->part, &st);
			c->hooks.on_state(c->ctx, op->topic, op->partition, &st);
		}
		ctlr_op_end(op);
		return;
	}
	if (res->nops >= 1 && res->ops[0].rc != ZK_OK &&
	    res->ops[0].rc != ZK_RUNTIMEINCONSISTENCY) {
		/* the epoch check failed: a newer controller exists */
		c->stats.fenced_writes++;
		ctlr_op_end(op);
		resign(c, "a state write was fenced: /controller_epoch moved");
		elect(c);
		return;
	}
	if (res->nops >= 2 && res->ops[1].rc != ZK_OK) {
		/* the leader changed the ISR meanwhile (or made the node): redo */
		c->stats.state_conflicts++;
		if (op->tries < MAX_TRIES) /* with what it was asked to do */
			sync_partition_as(c, op->topic, op->partition, op->tries + 1, op->prefer);
		else
			tdm_warn(SUB, "%s-%d: state still conflicting after %d tries", op->topic,
				 (int)op->partition, op->tries);
		ctlr_op_end(op);
		return;
	}
	tdm_warn(SUB, "%s-%d: writing the state: %s", op->topic, (int)op->partition,
		 zk_strerror(res->rc));
	ctlr_op_end(op);
}

/* Writes op->part as topic/partition's state: a new node (create) or
 * over version op->part.version, fenced by our /controller_epoch version.
 * Ends op on failure. */
static void write_state(struct tdm_controller *c, struct ctlr_op *op, bool create)
{
	struct zkd_partition_state zs = { op->part.controller_epoch, op->part.leader,
					  op->part.leader_epoch, op->part.isr, op->part.nisr };
	char path[ZKD_PATH_MAX], ppath[ZKD_PATH_MAX], partsp[ZKD_PATH_MAX], *data;
	struct zk_op ops[2];
	size_t len;

	data = zkd_partition_state_encode(&zs, &len);
	if (!data || !zkd_path_partition_state(path, sizeof(path), op->topic, op->partition) ||
	    !zkd_path_partition(ppath, sizeof(ppath), op->topic, op->partition) ||
	    !zkd_path_partitions(partsp, sizeof(partsp), op->topic))
		goto fail;
	if (create) { /* the parents first (empty, unfenced, as harmless as Kafka's) */
		zk_create(c->zk, partsp, NULL, 0, ZK_PERSISTENT, NULL, NULL);
		zk_create(c->zk, ppath, NULL, 0, ZK_PERSISTENT, NULL, NULL);
	}
	memset(ops, 0, sizeof(ops));
	ops[0].type = ZK_OP_CHECK;
	ops[0].path = ZKD_CONTROLLER_EPOCH;
	ops[0].version = c->epoch_version;
	ops[1].type = create ? ZK_OP_CREATE : ZK_OP_SET;
	ops[1].path = path;
	ops[1].data = data;
	ops[1].len = len;
	ops[1].version = create ? -1 : op->part.version;
	ops[1].flags = ZK_PERSISTENT;
	if (zk_multi(c->zk, ops, 2, on_state_written, op))
		goto fail;
	free(data);
	return;
fail:
	free(data);
	tdm_error(SUB, "%s-%d: cannot write the state (out of memory or bad name)", op->topic,
		  (int)op->partition);
	ctlr_op_end(op);
}

static const int32_t *live_ids(struct tdm_controller *c, struct ctl_brokers *b)
{
	b->ids = c->live;
	b->n = c->nlive;
	return b->ids;
}

/* The state's leader when its registration is newer than the state (its
 * creation zxid, Kafka's broker epoch, after the state's last write): it
 * died and came back without the state being written since, so it must
 * not lead on under that leader epoch.  Else CTL_NO_LEADER. */
static int32_t bounced_leader(const struct tdm_controller *c, const struct ctl_part *p,
			      const struct zk_stat *st)
{
	for (size_t i = 0; st && p->leader != CTL_NO_LEADER && i < c->nregs; i++)
		if (c->regs[i].id == p->leader)
			return c->regs[i].czxid > st->mzxid ? p->leader : CTL_NO_LEADER;
	return CTL_NO_LEADER;
}

static void on_state_read(void *ctx, const struct zk_result *res)
{
	struct ctlr_op *op = op_current(ctx);
	struct tdm_controller *c;
	struct ctlr_topic *t;
	struct zkd_partition_state zs;
	struct ctl_brokers live;
	char err[128];
	int rc;

	if (!op)
		return;
	c = op->c;
	t = topic_find(c, op->topic);
	if (!t || t->deleting || (size_t)op->partition >= t->asg.npartitions) {
		ctlr_op_end(op);
		return;
	}
	live_ids(c, &live);
	op->part.replicas = t->asg.partitions[op->partition].replicas;
	op->part.nreplicas = t->asg.partitions[op->partition].nreplicas;
	if (res->rc == ZK_NONODE) {
		rc = ctl_new_state(&op->part, &live, c->epoch);
		if (rc != 0) { /* no live replica: tried again on a broker change */
			if (rc < 0)
				tdm_error(SUB, "%s-%d: out of memory", op->topic,
					  (int)op->partition);
			ctlr_op_end(op);
			return;
		}
		write_state(c, op, true);
		return;
	}
	if (res->rc != ZK_OK) {
		tdm_warn(SUB, "%s-%d: reading the state: %s", op->topic, (int)op->partition,
			 zk_strerror(res->rc));
		ctlr_op_end(op);
		return;
	}
	if (zkd_partition_state_decode(res->data ? res->data : "", res->len, &zs, err,
				       sizeof(err))) {
		tdm_error(SUB, "%s-%d: state znode: %s", op->topic, (int)op->partition, err);
		ctlr_op_end(op);
		return;
	}
	op->part.isr = zs.isr; /* taken over */
	op->part.nisr = zs.nisr;
	op->part.leader = zs.leader;
	op->part.leader_epoch = zs.leader_epoch;
	op->part.controller_epoch = zs.controller_epoch;
	op->part.version = res->stat ? res->stat->version : 0;
	rc = 0;
	int32_t bounced = bounced_leader(c, &op->part, res->stat);
	if (bounced != CTL_NO_LEADER &&
	    (rc = ctl_bounced(&op->part, &live, bounced, c->epoch)) == 1)
		tdm_info(SUB, "%s-%d: its leader %d registered again since the state was written: "
			      "leader %d, leader epoch %d",
			 op->topic, (int)op->partition, (int)bounced, (int)op->part.leader,
			 (int)op->part.leader_epoch);
	if (rc == 0)
		rc = ctl_reconcile(&op->part, &live, t->unclean, c->epoch);
	if (rc == 0 && op->prefer && (rc = ctl_prefer_leader(&op->part, &live, c->epoch)) == 1) {
		c->stats.preferred_elections++;
		tdm_info(SUB, "%s-%d: the preferred replica %d leads again (leader epoch %d)",
			 op->topic, (int)op->partition, (int)op->part.leader,
			 (int)op->part.leader_epoch);
	}
	if (rc == 1) {
		write_state(c, op, false);
		return;
	}
	ctlr_op_end(op);
	if (rc == CTL_ERR_STALE_CONTROLLER) {
		c->stats.fenced_writes++;
		resign(c, "a newer controller epoch wrote a partition state");
		elect(c);
	} else if (rc < 0) {
		tdm_error(SUB, "out of memory reconciling a partition");
	}
}

/* Reads topic/partition's state, decides (ctl.c) and writes what changed;
 * prefer: also gives the lead back to the preferred replica. */
static void sync_partition_as(struct tdm_controller *c, const char *topic, int32_t partition,
			      int tries, bool prefer)
{
	char path[ZKD_PATH_MAX];
	struct ctlr_op *op;

	if (!c->is_controller || !c->have_live)
		return;
	if (!zkd_path_partition_state(path, sizeof(path), topic, partition))
		return;
	op = ctlr_op_new(c, topic, partition);
	if (!op) {
		tdm_error(SUB, "out of memory");
		return;
	}
	op->tries = tries;
	op->prefer = prefer;
	op->part.leader = CTL_NO_LEADER;
	if (zk_get(c->zk, path, NULL, NULL, on_state_read, op)) {
		ctlr_op_end(op);
		tdm_error(SUB, "out of memory");
	}
}

static void sync_partition(struct tdm_controller *c, const char *topic, int32_t partition,
			   int tries)
{
	sync_partition_as(c, topic, partition, tries, false);
}

static void sync_topic(struct tdm_controller *c, struct ctlr_topic *t)
{
	size_t p;

	if (t->deleting)
		return;
	for (p = 0; p < t->asg.npartitions; p++)
		sync_partition(c, t->name, (int32_t)p, 0);
}

static void on_topic_config(void *ctx, const struct zk_result *res);

/* Reads t's config first: unclean.leader.election.enable is taken at
 * election time, as Kafka's controller fetches the topic's config when it
 * elects a leader for an offline partition. */
static void sync_topic_fresh(struct tdm_controller *c, struct ctlr_topic *t)
{
	char path[ZKD_PATH_MAX];
	struct ctlr_op *op;

	if (t->deleting || t->asg.npartitions == 0) /* not read yet: on_topic syncs it */
		return;
	if (!zkd_path_topic_config(path, sizeof(path), t->name))
		return;
	op = ctlr_op_new(c, t->name, 0);
	if (!op || zk_get(c->zk, path, NULL, NULL, on_topic_config, op)) {
		if (op)
			ctlr_op_end(op);
		sync_topic(c, t);
	}
}

static void sync_all(struct tdm_controller *c)
{
	struct ctlr_topic *t;

	for (t = c->topics; t; t = t->next)
		sync_topic_fresh(c, t);
}

/* ---- watches of the controller --------------------------------------- */

static void watch_brokers(struct tdm_controller *c);
static void check_registrations(struct tdm_controller *c, const struct ctl_brokers *now);

static void on_brokers_watch(void *ctx, int event, const char *path)
{
	struct tdm_controller *c = ctx;

	(void)event, (void)path;
	if (c->is_controller)
		watch_brokers(c);
}

static void on_brokers(void *ctx, const struct zk_result *res)
{
	struct ctlr_op *op = op_current(ctx);
	struct tdm_controller *c;
	struct ctl_brokers now, was;
	int32_t *ids;
	size_t i;

	if (!op)
		return;
	c = op->c;
	ctlr_op_end(op);
	if (res->rc != ZK_OK) {
		tdm_warn(SUB, "reading %s: %s", ZKD_BROKERS_IDS, zk_strerror(res->rc));
		return;
	}
	ids = malloc((res->nchildren ? res->nchildren : 1) * sizeof(*ids));
	if (!ids) {
		tdm_error(SUB, "out of memory");
		return;
	}
	now.ids = ids;
	now.n = 0;
	for (i = 0; i < res->nchildren; i++)
		if (zkd_parse_id(res->children[i], &ids[now.n]) == 0)
			now.n++;
	ctl_brokers_sort(&now);
	live_ids(c, &was);
	for (i = 0; c->listed && i < was.n; i++)
		if (!ctl_brokers_has(&now, was.ids[i]))
			tdm_warn(SUB, "node %d is gone", (int)was.ids[i]);
	for (i = 0; c->listed && i < now.n; i++)
		if (!ctl_brokers_has(&was, now.ids[i]))
			tdm_info(SUB, "node %d is up", (int)now.ids[i]);
	if (c->is_controller)
		check_registrations(c, &now);
	if (c->listed && now.n == was.n && memcmp(now.ids, was.ids, now.n * sizeof(*ids)) == 0) {
		free(ids);
		return;
	}
	free(c->live);
	c->live = ids;
	c->nlive = now.n;
	c->listed = true;
	/* The controller is a live node itself: without its own registration
	 * (not made yet, or its session was just renewed) the list is a
	 * transient one, and acting on it would take leaders away from nodes
	 * that are fine.  Kafka registers a broker before its controller runs. */
	c->have_live = ctl_brokers_has(&now, c->cfg.node_id);
	if (!c->have_live) {
		tdm_info(SUB, "node %d (controller) is not in %s yet: no state changes until it is",
			 (int)c->cfg.node_id, ZKD_BROKERS_IDS);
		return;
	}
	sync_all(c);
}

/* A node's registration read (op->partition: its id), kept for
 * bounced_leader.  One that differs from the one known registered again
 * without its death being seen (a restart within the session timeout):
 * every partition is looked at again. */
static void on_registration(void *ctx, const struct zk_result *res)
{
	struct ctlr_op *op = op_current(ctx);
	if (!op)
		return;
	struct tdm_controller *c = op->c;
	int32_t id = op->partition;
	ctlr_op_end(op);
	if (res->rc != ZK_OK || !res->stat || !c->is_controller)
		return;
	struct ctlr_reg *r = NULL;
	for (size_t i = 0; i < c->nregs; i++)
		if (c->regs[i].id == id)
			r = &c->regs[i];
	if (!r) {
		struct ctlr_reg *v = realloc(c->regs, (c->nregs + 1) * sizeof(*v));
		if (!v)
			return;
		c->regs = v;
		c->regs[c->nregs++] = (struct ctlr_reg){ id, res->stat->czxid };
		return;
	}
	if (r->czxid == res->stat->czxid)
		return;
	r->czxid = res->stat->czxid;
	tdm_warn(SUB, "node %d registered again (restarted within its session timeout?): "
		      "the partitions it leads get a new leader epoch", (int)id);
	sync_all(c);
}

/* Reads every live node's registration (on_registration). */
static void check_registrations(struct tdm_controller *c, const struct ctl_brokers *now)
{
	char path[ZKD_PATH_MAX];
	for (size_t i = 0; i < now->n; i++) {
		struct ctlr_op *op = ctlr_op_new(c, NULL, now->ids[i]);
		if (!op)
			return;
		if (!zkd_path_broker(path, sizeof(path), now->ids[i]) ||
		    zk_exists(c->zk, path, NULL, NULL, on_registration, op))
			ctlr_op_end(op);
	}
}

static void watch_brokers(struct tdm_controller *c)
{
	struct ctlr_op *op = ctlr_op_new(c, NULL, 0);

	if (!op || zk_get_children(c->zk, ZKD_BROKERS_IDS, on_brokers_watch, c, on_brokers, op)) {
		if (op)
			ctlr_op_end(op);
		tdm_error(SUB, "out of memory watching %s", ZKD_BROKERS_IDS);
	}
}

static void on_topic_config(void *ctx, const struct zk_result *res)
{
	struct ctlr_op *op = op_current(ctx);
	struct tdm_controller *c;
	struct ctlr_topic *t;
	struct zkd_config cfg;
	char err[128];

	if (!op)
		return;
	c = op->c;
	t = topic_find(c, op->topic);
	if (t) {
		t->unclean = c->cfg.unclean_default;
		if (res->rc == ZK_OK) {
			if (zkd_config_decode(res->data ? res->data : "", res->len, &cfg, err,
					      sizeof(err)) == 0) {
				t->unclean = ctl_config_bool(
					zkd_config_get(&cfg, "unclean.leader.election.enable"),
					c->cfg.unclean_default);
				zkd_config_free(&cfg);
			} else {
				tdm_warn(SUB, "config of topic %s: %s", t->name, err);
			}
		}
		sync_topic(c, t);
	}
	ctlr_op_end(op);
}

static void read_topic(struct tdm_controller *c, const char *name);

static void on_topic_watch(void *ctx, int event, const char *path)
{
	struct tdm_controller *c = ctx;
	size_t n = strlen(ZKD_BROKERS_TOPICS "/");
	const char *name = path + n;

	if (!c->is_controller || strncmp(path, ZKD_BROKERS_TOPICS "/", n) != 0)
		return;
	if ((event == ZK_EV_CHANGED || event == ZK_EV_CREATED) && topic_find(c, name))
		read_topic(c, name);
}

static void on_topic(void *ctx, const struct zk_result *res)
{
	struct ctlr_op *op = op_current(ctx);
	struct tdm_controller *c;
	struct ctlr_topic *t;
	struct zkd_topic asg;
	char err[128], path[ZKD_PATH_MAX];

	if (!op)
		return;
	c = op->c;
	t = topic_find(c, op->topic);
	if (!t || t->deleting || res->rc != ZK_OK) {
		ctlr_op_end(op);
		return;
	}
	if (zkd_topic_decode(res->data ? res->data : "", res->len, &asg, err, sizeof(err))) {
		tdm_error(SUB, "topic %s: %s", t->name, err);
		ctlr_op_end(op);
		return;
	}
	if (asg.npartitions < t->asg.npartitions) {
		tdm_warn(SUB, "topic %s: %zu partitions, was %zu: ignored", t->name,
			 asg.npartitions, t->asg.npartitions);
		zkd_topic_free(&asg);
		ctlr_op_end(op);
		return;
	}
	zkd_topic_free(&t->asg);
	t->asg = asg;
	/* its config decides unclean election: read it, then the states */
	if (!zkd_path_topic_config(path, sizeof(path), t->name) ||
	    zk_get(c->zk, path, NULL, NULL, on_topic_config, op)) {
		ctlr_op_end(op);
		tdm_error(SUB, "topic %s: cannot read its config", t->name);
	}
}

static void read_topic(struct tdm_controller *c, const char *name)
{
	char path[ZKD_PATH_MAX];
	struct ctlr_op *op;

	if (!zkd_path_topic(path, sizeof(path), name))
		return;
	op = ctlr_op_new(c, name, 0);
	if (!op || zk_get(c->zk, path, on_topic_watch, c, on_topic, op)) {
		if (op)
			ctlr_op_end(op);
		tdm_error(SUB, "out of memory reading topic %s", name);
	}
}

static bool children_has(const struct zk_result *res, const char *name)
{
	size_t i;

	for (i = 0; i < res->nchildren; i++)
		if (strcmp(res->children[i], name) == 0)
			return true;
	return false;
}

static void watch_topics(struct tdm_controller *c);

static void on_topics_watch(void *ctx, int event, const char *path)
{
	struct tdm_controller *c = ctx;

	(void)event, (void)path;
	if (c->is_controller)
		watch_topics(c);
}

static void on_topics(void *ctx, const struct zk_result *res)
{
	struct ctlr_op *op = op_current(ctx);
	struct tdm_controller *c;
	struct ctlr_topic *t, *next;
	size_t i;

	if (!op)
		return;
	c = op->c;
	ctlr_op_end(op);
	if (res->rc != ZK_OK) {
		tdm_warn(SUB, "reading %s: %s", ZKD_BROKERS_TOPICS, zk_strerror(res->rc));
		return;
	}
	for (t = c->topics; t; t = next) {
		next = t->next;
		if (!children_has(res, t->name)) {
			tdm_info(SUB, "topic %s is gone", t->name);
			topic_remove(c, t);
		}
	}
	for (i = 0; i < res->nchildren; i++) {
		const char *name = res->children[i];

		if (topic_find(c, name))
			continue;
		t = calloc(1, sizeof(*t));
		if (!t || !(t->name = strdup(name))) {
			free(t);
			tdm_error(SUB, "out of memory");
			return;
		}
		t->unclean = c->cfg.unclean_default;
		t->deleting = names_has(c->dels, name);
		t->next = c->topics;
		c->topics = t;
		read_topic(c, name);
	}
}

static void watch_topics(struct tdm_controller *c)
{
	struct ctlr_op *op = ctlr_op_new(c, NULL, 0);

	if (!op || zk_get_children(c->zk, ZKD_BROKERS_TOPICS, on_topics_watch, c, on_topics, op)) {
		if (op)
			ctlr_op_end(op);
		tdm_error(SUB, "out of memory watching %s", ZKD_BROKERS_TOPICS);
	}
}

/* Topic deletion: the partition states, the partitions, the topic, its
 * config, then the request.  One session's operations complete in order,
 * so the deletes are issued together and the topic's tells the outcome. */

static void on_delete_done(void *ctx, const struct zk_result *res)
{
	struct ctlr_op *op = op_current(ctx);
	struct tdm_controller *c;

	if (!op)
		return;
	c = op->c;
	if (res->rc == ZK_OK || res->rc == ZK_NONODE) {
		c->stats.topics_deleted++;
		tdm_info(SUB, "topic %s deleted", op->topic);
	}
	names_remove(&c->dels, op->topic);
	ctlr_op_end(op);
}

static void on_topic_deleted(void *ctx, const struct zk_result *res)
{
	struct ctlr_op *op = op_current(ctx);
	struct tdm_controller *c;
	char path[ZKD_PATH_MAX];

	if (!op)
		return;
	c = op->c;
	if (res->rc != ZK_OK && res->rc != ZK_NONODE) {
		tdm_warn(SUB, "deleting topic %s: %s", op->topic, zk_strerror(res->rc));
		names_remove(&c->dels, op->topic);
		ctlr_op_end(op);
		return;
	}
	if (zkd_path_topic_config(path, sizeof(path), op->topic))
		zk_delete(c->zk, path, -1, NULL, NULL);
	if (!zkd_path_delete_topic(path, sizeof(path), op->topic) ||
	    zk_delete(c->zk, path, -1, on_delete_done, op)) {
		names_remove(&c->dels, op->topic);
		ctlr_op_end(op);
	}
}

static void on_delete_partitions(void *ctx, const struct zk_result *res)
{
	struct ctlr_op *op = op_current(ctx);
	struct tdm_controller *c;
	char path[ZKD_PATH_MAX];
	int32_t p;
	size_t i;

	if (!op)
		return;
	c = op->c;
	for (i = 0; res->rc == ZK_OK && i < res->nchildren; i++) {
		if (zkd_parse_id(res->children[i], &p))
			continue;
		if (zkd_path_partition_state(path, sizeof(path), op->topic, p))
			zk_delete(c->zk, path, -1, NULL, NULL);
		if (zkd_path_partition(path, sizeof(path), op->topic, p))
			zk_delete(c->zk, path, -1, NULL, NULL);
	}
	if (zkd_path_partitions(path, sizeof(path), op->topic))
		zk_delete(c->zk, path, -1, NULL, NULL);
	if (!zkd_path_topic(path, sizeof(path), op->topic) ||
	    zk_delete(c->zk, path, -1, on_topic_deleted, op)) {
		names_remove(&c->dels, op->topic);
		ctlr_op_end(op);
	}
}

static void delete_topic(struct tdm_controller *c, const char *name)
{
	char path[ZKD_PATH_MAX];
	struct ctlr_name *n;
	struct ctlr_topic *t;
	struct ctlr_op *op;

	if (names_has(c->dels, name) || !zkd_path_partitions(path, sizeof(path), name))
		return;
	n = calloc(1, sizeof(*n));
	op = ctlr_op_new(c, name, 0);
	if (!n || !op || !(n->name = strdup(name))) {
		free(n);
		if (op)
			ctlr_op_end(op);
		tdm_error(SUB, "out of memory");
		return;
	}
	n->next = c->dels;
	c->dels = n;
	t = topic_find(c, name);
	if (t)
		t->deleting = true;
	tdm_info(SUB, "deleting topic %s", name);
	if (zk_get_children(c->zk, path, NULL, NULL, on_delete_partitions, op)) {
		names_remove(&c->dels, name);
		ctlr_op_end(op);
	}
}

static void watch_deletions(struct tdm_controller *c);

static void on_deletions_watch(void *ctx, int event, const char *path)
{
	struct tdm_controller *c = ctx;

	(void)event, (void)path;
	if (c->is_controller)
		watch_deletions(c);
}

static void on_deletions(void *ctx, const struct zk_result *res)
{
	struct ctlr_op *op = op_current(ctx);
	struct tdm_controller *c;
	size_t i;

	if (!op)
		return;
	c = op->c;
	ctlr_op_end(op);
	if (res->rc != ZK_OK)
		return;
	for (i = 0; i < res->nchildren; i++)
		delete_topic(c, res->children[i]);
}

static void watch_deletions(struct tdm_controller *c)
{
	struct ctlr_op *op = ctlr_op_new(c, NULL, 0);

	if (!op || zk_get_children(c->zk, ZKD_ADMIN_DELETE_TOPICS, on_deletions_watch, c,
				   on_deletions, op)) {
		if (op)
			ctlr_op_end(op);
		tdm_error(SUB, "out of memory watching %s", ZKD_ADMIN_DELETE_TOPICS);
	}
}

/* ---- the start of a tenure ------------------------------------------- */

static const char *const watched_parents[] = { ZKD_BROKERS_IDS, ZKD_BROKERS_TOPICS,
					       ZKD_ADMIN_DELETE_TOPICS, ZKD_CONFIG_TOPICS };

static void on_parent_made(void *ctx, const struct zk_result *res)
{
	struct ctlr_op *op = op_current(ctx);
	struct tdm_controller *c;

	if (!op)
		return;
	c = op->c;
	ctlr_op_end(op);
	if (res->rc != ZK_OK)
		tdm_warn(SUB, "making %s: %s", res->path ? res->path : "?", zk_strerror(res->rc));
	if (--c->ensures > 0)
		return;
	/* brokers first: their list is known before any topic's states */
	watch_brokers(c);
	watch_topics(c);
	watch_deletions(c);
}

static void become_controller(struct tdm_controller *c)
{
	size_t i;

	c->electing = false;
	c->is_controller = true;
	c->controller_id = c->cfg.node_id;
	c->stats.elections_won++;
	tdm_info(SUB, "node %d is the controller (epoch %d)", (int)c->cfg.node_id, (int)c->epoch);
	notify(c);
	c->ensures = (int)(sizeof(watched_parents) / sizeof(*watched_parents));
	for (i = 0; i < sizeof(watched_parents) / sizeof(*watched_parents); i++) {
		struct ctlr_op *op = ctlr_op_new(c, NULL, 0);

		if (!op || zk_ensure_path(c->zk, watched_parents[i], on_parent_made, op)) {
			if (op)
				ctlr_op_end(op);
			resign(c, "out of memory");
			return;
		}
	}
}

/* ---- life cycle ------------------------------------------------------ */

struct tdm_controller *ctlr_new(struct zk *zk, const struct ctlr_config *cfg,
				const struct ctlr_hooks *hooks, void *ctx)
{
	struct tdm_controller *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->zk = zk;
	c->cfg = *cfg;
	if (hooks)
		c->hooks = *hooks;
	c->ctx = ctx;
	c->controller_id = CTL_NO_LEADER;
	c->epoch_version = -1;
	if (zk_connected(zk)) {
		c->session = zk_session_id(zk);
		elect(c);
	}
	return c;
}

void ctlr_free(struct tdm_controller *c)
{
	if (!c)
		return;
	reset(c);
	while (c->ops)
		ctlr_op_end(c->ops);
	while (c->admins)
		ctlr_admin_free(c->admins);
	free(c);
}

void ctlr_session_event(struct tdm_controller *c, enum zk_session_event ev)
{
	int64_t sid;

	switch (ev) {
	case ZK_SESSION_CONNECTED:
		sid = zk_session_id(c->zk);
		if (sid != c->session) { /* a new session: nothing of the old one holds */
			resign(c, "new ZooKeeper session");
			reset(c);
			c->session = sid;
		} else if (c->is_controller) {
			sync_all(c); /* writes lost with the connection */
		}
		elect(c);
		break;
	case ZK_SESSION_EXPIRED:
		resign(c, "ZooKeeper session expired");
		reset(c);
		c->session = 0;
		if (c->controller_id != CTL_NO_LEADER) {
			c->controller_id = CTL_NO_LEADER;
			notify(c);
		}
		break;
	case ZK_SESSION_DISCONNECTED:
		break; /* the session may live on: keep acting, as Kafka does */
	}
}

bool ctlr_is_controller(const struct tdm_controller *c)
{
	return c && c->is_controller;
}

int32_t ctlr_controller_id(const struct tdm_controller *c)
{
	return c ? c->controller_id : CTL_NO_LEADER;
}

int32_t ctlr_epoch(const struct tdm_controller *c)
{
	return c && c->is_controller ? c->epoch : 0;
}

void ctlr_tick(struct tdm_controller *c, int64_t now_ms)
{
	if (!c || c->cfg.rebalance_interval_ms <= 0)
		return;
	if (c->next_rebalance_ms == 0 || !c->is_controller)
		c->next_rebalance_ms = now_ms + c->cfg.rebalance_interval_ms;
	if (!c->is_controller || now_ms < c->next_rebalance_ms)
		return;
	c->next_rebalance_ms = now_ms + c->cfg.rebalance_interval_ms;
	for (struct ctlr_topic *t = c->topics; t; t = t->next)
		for (size_t p = 0; !t->deleting && p < t->asg.npartitions; p++)
			sync_partition_as(c, t->name, (int32_t)p, 0, true);
}

const struct ctlr_stats *ctlr_stats(const struct tdm_controller *c)
{
	return &c->stats;
}
