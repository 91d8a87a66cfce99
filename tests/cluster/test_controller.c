/*
 * The controller (cluster/controller.h) against a real ZooKeeper: two or
 * three controllers in one process on one event base, each with its own
 * session, and brokers registered by the test itself (an ephemeral
 * /brokers/ids/N per broker session, closed to kill the broker).  Checks
 * what lands in ZooKeeper: the election and its epoch, failover with
 * epoch + 1, a stale controller's fenced write, leaders and ISRs after
 * broker deaths and returns, topic creation, new partitions, deletion.
 *
 * One ZooKeeper (tests/cluster/zk.sh: Debian's zookeeper package on a
 * free loopback port, stopped by PID), started by the unchecked fixture,
 * serves the whole suite; each test works under its own chroot.
 */
#include <check.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/controller.h"
#include "cluster/ctl.h"
#include "cluster/zk.h"
#include "cluster/zkdata.h"
#include "core/log.h"

static int zk_started;
static int zk_port;
static char zk_dir[256];

static struct event_base *base;
static char connect_str[128];
static int chroot_seq;

/* ---- the ZooKeeper server (tests/cluster/zk.sh) ------------------------ */

static void zk_server_start(void)
{
	char cmd[700], line[256] = "";
	FILE *p;

	snprintf(zk_dir, sizeof(zk_dir), "%s/tandem-ctlr-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(zk_dir))
		abort();
	snprintf(cmd, sizeof(cmd), "bash '%s' start '%s'", ZK_SH, zk_dir);
	p = popen(cmd, "r");
	if (!p)
		abort();
	if (!fgets(line, sizeof(line), p))
		line[0] = 0;
	if (pclose(p) != 0 || sscanf(line, "zookeeper=127.0.0.1:%d", &zk_port) != 1) {
		fprintf(stderr, "test_controller: FAIL: cannot start a private ZooKeeper "
				"(tests/cluster/zk.sh); it needs Debian's zookeeper package\n");
		abort();
	}
	zk_started = 1;
}

static void zk_server_stop(void)
{
	char cmd[700];

	if (!zk_started)
		return;
	snprintf(cmd, sizeof(cmd), "bash '%s' stop '%s' && rm -rf '%s'", ZK_SH, zk_dir, zk_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test_controller: could not stop ZooKeeper in %s\n", zk_dir);
	zk_started = 0;
}

/* ---- the loop ------------------------------------------------------- */

/* Runs the loop for up to 20 ms. */
static void spin(void)
{
	struct timeval tv = { 0, 20 * 1000 };

	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Runs the loop until cond() holds, at most 20 s; its last value. */
#define WAIT_FOR(cond) \
	({ \
		int _i, _ok = 0; \
		for (_i = 0; _i < 1000 && !(_ok = (cond)); _i++) \
			spin(); \
		_ok; \
	})

static void new_chroot(void)
{
	snprintf(connect_str, sizeof(connect_str), "127.0.0.1:%d/t%d_%d", zk_port, (int)getpid(),
		 chroot_seq++);
}

/* ---- sessions ------------------------------------------------------- */

struct node {
	int32_t id;
	struct zk *zk;
	struct tdm_controller *c;
	int changes;
};

static void on_session(void *ctx, enum zk_session_event ev)
{
	struct node *n = ctx;

	if (n && n->c)
		ctlr_session_event(n->c, ev);
}

static void on_change(void *ctx, int32_t controller_id, int32_t epoch)
{
	struct node *n = ctx;

	(void)controller_id, (void)epoch;
	n->changes++;
}

static struct zk *session(void *ctx)
{
	char err[256];
	struct zk *zk = zk_new(base, connect_str, 4000, on_session, ctx, err, sizeof(err));

	ck_assert_msg(zk != NULL, "%s", err);
	ck_assert_msg(zk_start(zk, 20000, err, sizeof(err)) == 0, "%s", err);
	return zk;
}

static void node_start(struct node *n, int32_t id)
{
	struct ctlr_config cfg = { id, false, 1, 1, 0 };
	struct ctlr_hooks hooks = { on_change, NULL };

	memset(n, 0, sizeof(*n));
	n->id = id;
	n->zk = session(n);
	n->c = ctlr_new(n->zk, &cfg, &hooks, n);
	ck_assert_ptr_nonnull(n->c);
}

/* The node's session closes (its ephemerals go at once); the owner tells
 * the controller, as tandemd's would on shutdown. */
static void node_kill(struct node *n)
{
	zk_close(n->zk);
	ctlr_session_event(n->c, ZK_SESSION_EXPIRED);
}

static void node_stop(struct node *n)
{
	zk_free(n->zk);
	ctlr_free(n->c);
	n->zk = NULL;
	n->c = NULL;
}

/* The test's own session, for reads and for setting the stage. */
static struct zk *admin;

struct res {
	int done, rc;
	char data[4096];
	size_t len;
	int32_t version;
	size_t nchildren;
};

static void on_res(void *ctx, const struct zk_result *r)
{
	struct res *res = ctx;

	res->rc = r->rc;
	res->len = 0;
	if (r->data && r->len < sizeof(res->data)) {
		memcpy(res->data, r->data, r->len);
		res->len = r->len;
	}
	res->data[res->len] = 0;
	res->version = r->stat ? r->stat->version : -1;
	res->nchildren = r->nchildren;
	res->done = 1;
}

static struct res zget(const char *path)
{
	struct res r = { 0 };

	ck_assert_int_eq(zk_get(admin, path, NULL, NULL, on_res, &r), 0);
	ck_assert(WAIT_FOR(r.done));
	return r;
}

static int zcall_wait(struct res *r)
{
	ck_assert(WAIT_FOR(r->done));
	return r->rc;
}

static void ensure(const char *path)
{
	struct res r = { 0 };

	ck_assert_int_eq(zk_ensure_path(admin, path, on_res, &r), 0);
	ck_assert_int_eq(zcall_wait(&r), ZK_OK);
}

/* A broker registered on its own session (closed to kill it). */
static struct zk *broker_up(int32_t id)
{
	struct zkd_broker b = { .host = "127.0.0.1", .port = 9092 + id };
	char path[ZKD_PATH_MAX], *data;
	struct zk *zk = session(NULL);
	struct res r = { 0 };
	size_t len;

	data = zkd_broker_encode(&b, &len);
	ck_assert_ptr_nonnull(data);
	ck_assert_int_eq(zk_create(zk, zkd_path_broker(path, sizeof(path), id), data, len,
				   ZK_EPHEMERAL, on_res, &r),
			 0);
	free(data);
	ck_assert_int_eq(zcall_wait(&r), ZK_OK);
	return zk;
}

static int controllers(struct node *n, size_t count, struct node **winner)
{
	size_t i;
	int k = 0;

	for (i = 0; i < count; i++)
		if (n[i].c && ctlr_is_controller(n[i].c)) {
			k++;
			*winner = &n[i];
		}
	return k;
}

static int32_t epoch_in_zk(void)
{
	struct res r = zget(ZKD_CONTROLLER_EPOCH);
	int32_t e = -1;
	char err[100];

	ck_assert_int_eq(r.rc, ZK_OK);
	ck_assert_int_eq(zkd_epoch_decode(r.data, r.len, &e, err, sizeof(err)), 0);
	return e;
}

/* topic/partition's state, or rc ZK_NONODE. */
struct pstate {
	int rc;
	struct zkd_partition_state s;
	int32_t version;
};

static struct pstate state_of(const char *topic, int32_t p)
{
	char path[ZKD_PATH_MAX], err[100];
	struct pstate ps = { 0 };
	struct res r = zget(zkd_path_partition_state(path, sizeof(path), topic, p));

	ps.rc = r.rc;
	ps.version = r.version;
	if (r.rc == ZK_OK)
		ck_assert_int_eq(zkd_partition_state_decode(r.data, r.len, &ps.s, err, sizeof(err)),
				 0);
	return ps;
}

static int has_state(const char *topic, int32_t p)
{
	struct pstate ps = state_of(topic, p);

	zkd_partition_state_free(&ps.s);
	return ps.rc == ZK_OK;
}

static bool isr_has(const struct zkd_partition_state *s, int32_t id)
{
	size_t i;

	for (i = 0; i < s->nisr; i++)
		if (s->isr[i] == id)
			return true;
	return false;
}

/* ---- admin completions ------------------------------------------------ */

struct done {
	int fired, err;
	char msg[300];
};

static void on_done(void *ctx, int err, const char *msg)
{
	struct done *d = ctx;

	d->fired++;
	d->err = err;
	snprintf(d->msg, sizeof(d->msg), "%s", msg ? msg : "");
}

static int wait_done(struct done *d)
{
	ck_assert(WAIT_FOR(d->fired));
	ck_assert_int_eq(d->fired, 1);
	return d->err;
}

static void setup(void)
{
	base = event_base_new(); /* in the test's own process (Check forks) */
	ck_assert_ptr_nonnull(base);
	new_chroot();
	admin = session(NULL);
	ensure(ZKD_BROKERS_IDS);
}

static void teardown(void)
{
	zk_free(admin);
	admin = NULL;
	event_base_free(base);
	base = NULL;
}

/* ---- election --------------------------------------------------------- */

/* Kafka's controller election: one of three wins the ephemeral
 * /controller, the others learn who; the winner's epoch is the first
 * /controller_epoch (1). */
START_TEST(test_controller_election_one_wins_with_epoch)
{
	struct node n[3], *w = NULL;
	char err[100];
	struct zkd_controller zc;
	struct res r;
	int i;

	for (i = 0; i < 3; i++)
		node_start(&n[i], i + 1);
	ck_assert(WAIT_FOR(controllers(n, 3, &w) == 1 &&
			   ctlr_controller_id(n[0].c) == ctlr_controller_id(w->c) &&
			   ctlr_controller_id(n[1].c) == ctlr_controller_id(w->c) &&
			   ctlr_controller_id(n[2].c) == ctlr_controller_id(w->c)));
	ck_assert_int_eq(ctlr_controller_id(w->c), w->id);
	ck_assert_int_eq(ctlr_epoch(w->c), 1);
	ck_assert_int_eq(epoch_in_zk(), 1);
	r = zget(ZKD_CONTROLLER);
	ck_assert_int_eq(zkd_controller_decode(r.data, r.len, &zc, err, sizeof(err)), 0);
	ck_assert_int_eq(zc.brokerid, w->id);
	for (i = 0; i < 50; i++) /* nobody else takes over meanwhile */
		spin();
	ck_assert_int_eq(controllers(n, 3, &w), 1);
	for (i = 0; i < 3; i++)
		node_stop(&n[i]);
}
END_TEST

/* The controller's session ends: another node wins with epoch + 1
 * (KafkaController.elect increments /controller_epoch). */
START_TEST(test_controller_failover_increments_epoch)
{
	struct node n[3], *w = NULL, *w2 = NULL;
	int i;

	for (i = 0; i < 3; i++)
		node_start(&n[i], i + 1);
	ck_assert(WAIT_FOR(controllers(n, 3, &w) == 1));
	ck_assert_int_eq(ctlr_epoch(w->c), 1);
	node_kill(w);
	ck_assert(!ctlr_is_controller(w->c));
	ck_assert(WAIT_FOR(controllers(n, 3, &w2) == 1 && w2 != w));
	ck_assert_int_eq(ctlr_epoch(w2->c), 2);
	ck_assert_int_eq(epoch_in_zk(), 2);
	ck_assert_uint_eq(ctlr_stats(w->c)->resignations, 1);
	for (i = 0; i < 3; i++)
		node_stop(&n[i]);
}
END_TEST

/* ---- broker deaths and returns ----------------------------------------- */

/* A created topic gets its partition states (NewPartition ->
 * OnlinePartition): leader the first live replica, ISR the live
 * replicas, leader epoch 0, the controller's epoch. */
START_TEST(test_controller_new_topic_gets_states)
{
	struct zk *b[3];
	struct node n;
	struct done d = { 0 };
	struct ctlr_replicas asg[2] = { { (int32_t[]){ 2, 3, 1 }, 3 },
					{ (int32_t[]){ 3, 1, 2 }, 3 } };
	struct pstate ps;
	int i;

	for (i = 0; i < 3; i++)
		b[i] = broker_up(i + 1);
	node_start(&n, 1);
	ck_assert(WAIT_FOR(ctlr_is_controller(n.c)));
	ck_assert_int_eq(ctlr_create_topic(n.c, "orders", -1, -1, asg, 2, NULL, NULL, 0, false,
					   on_done, &d),
			 0);
	ck_assert_int_eq(wait_done(&d), 0);
	ck_assert(WAIT_FOR(has_state("orders", 0) && has_state("orders", 1)));
	ps = state_of("orders", 0);
	ck_assert_int_eq(ps.s.leader, 2);
	ck_assert_int_eq(ps.s.leader_epoch, 0);
	ck_assert_int_eq(ps.s.controller_epoch, ctlr_epoch(n.c));
	ck_assert_uint_eq(ps.s.nisr, 3);
	ck_assert_int_eq(ps.s.isr[0], 2);
	ck_assert_int_eq(ps.s.isr[1], 3);
	zkd_partition_state_free(&ps.s);
	ps = state_of("orders", 1);
	ck_assert_int_eq(ps.s.leader, 3);
	zkd_partition_state_free(&ps.s);
	node_stop(&n);
	for (i = 0; i < 3; i++)
		zk_free(b[i]);
}
END_TEST

static int leader_is(const char *topic, int32_t p, int32_t leader, size_t nisr)
{
	struct pstate ps = state_of(topic, p);
	int ok = ps.rc == ZK_OK && ps.s.leader == leader && ps.s.nisr == nisr;

	zkd_partition_state_free(&ps.s);
	return ok;
}

/* onBrokerFailure: the dead leader's partition gets the next ISR replica
 * as leader, the dead follower leaves the ISR of the partition it
 * followed (leader unchanged); both leader epochs + 1.  The returning
 * broker does not rejoin an ISR by the controller (the leader adds it). */
START_TEST(test_controller_broker_death_moves_leader_and_shrinks_isr)
{
	struct zk *b[3];
	struct node n;
	struct done d = { 0 };
	struct ctlr_replicas asg[2] = { { (int32_t[]){ 2, 3, 1 }, 3 },
					{ (int32_t[]){ 3, 2, 1 }, 3 } };
	struct pstate ps;
	int i;

	for (i = 0; i < 3; i++)
		b[i] = broker_up(i + 1);
	node_start(&n, 1);
	ck_assert(WAIT_FOR(ctlr_is_controller(n.c)));
	ck_assert_int_eq(ctlr_create_topic(n.c, "t", -1, -1, asg, 2, NULL, NULL, 0, false, on_done,
					   &d),
			 0);
	ck_assert_int_eq(wait_done(&d), 0);
	ck_assert(WAIT_FOR(leader_is("t", 0, 2, 3) && leader_is("t", 1, 3, 3)));

	zk_free(b[1]); /* broker 2 dies: it led t-0 and followed t-1 */
	b[1] = NULL;
	ck_assert(WAIT_FOR(leader_is("t", 0, 3, 2) && leader_is("t", 1, 3, 2)));
	ps = state_of("t", 0);
	ck_assert_int_eq(ps.s.leader_epoch, 1);
	ck_assert(!isr_has(&ps.s, 2));
	ck_assert_int_eq(ps.s.isr[0], 3);
	ck_assert_int_eq(ps.s.isr[1], 1);
	zkd_partition_state_free(&ps.s);
	ps = state_of("t", 1);
	ck_assert_int_eq(ps.s.leader_epoch, 1);
	ck_assert(!isr_has(&ps.s, 2));
	zkd_partition_state_free(&ps.s);

	b[1] = broker_up(2); /* back: nothing for the controller to change */
	for (i = 0; i < 25; i++)
		spin();
	ps = state_of("t", 0);
	ck_assert_int_eq(ps.s.leader, 3);
	ck_assert_int_eq(ps.s.leader_epoch, 1);
	ck_assert(!isr_has(&ps.s, 2));
	zkd_partition_state_free(&ps.s);
	node_stop(&n);
	for (i = 0; i < 3; i++)
		zk_free(b[i]);
}
END_TEST

/* The last ISR member dies: the partition goes offline (leader -1) with
 * the ISR still naming it; when it comes back it leads again (leader
 * epoch + 1 each time).  An out-of-sync replica never leads with unclean
 * election off. */
START_TEST(test_controller_last_isr_member_comes_back_as_leader)
{
	struct zk *b[2];
	struct node n;
	struct done d = { 0 };
	struct ctlr_replicas asg[1] = { { (int32_t[]){ 2 }, 1 } };
	struct pstate ps;

	b[0] = broker_up(1);
	b[1] = broker_up(2);
	node_start(&n, 1);
	ck_assert(WAIT_FOR(ctlr_is_controller(n.c)));
	ck_assert_int_eq(ctlr_create_topic(n.c, "solo", -1, -1, asg, 1, NULL, NULL, 0, false,
					   on_done, &d),
			 0);
	ck_assert_int_eq(wait_done(&d), 0);
	ck_assert(WAIT_FOR(leader_is("solo", 0, 2, 1)));
	zk_free(b[1]);
	ck_assert(WAIT_FOR(leader_is("solo", 0, -1, 1)));
	ps = state_of("solo", 0);
	ck_assert_int_eq(ps.s.isr[0], 2);
	ck_assert_int_eq(ps.s.leader_epoch, 1);
	zkd_partition_state_free(&ps.s);
	b[1] = broker_up(2);
	ck_assert(WAIT_FOR(leader_is("solo", 0, 2, 1)));
	ps = state_of("solo", 0);
	ck_assert_int_eq(ps.s.leader_epoch, 2);
	zkd_partition_state_free(&ps.s);
	node_stop(&n);
	zk_free(b[0]);
	zk_free(b[1]);
}
END_TEST

/* A broker dies while no controller is up (the controller's session
 * ended at the same moment): the next controller, at failover, marks the
 * dead broker's replicas offline and elects new leaders
 * (onControllerFailover: ReplicaStateMachine.startup and
 * triggerOnlinePartitionStateChange), with its own epoch. */
START_TEST(test_controller_failover_reconciles_deaths_without_controller)
{
	struct zk *b[3];
	struct node n[2], *w = NULL, *w2 = NULL;
	struct done d = { 0 };
	int32_t ids[3];
	struct ctlr_replicas asg[1] = { { ids, 3 } };
	struct pstate ps;
	int i;

	for (i = 0; i < 3; i++)
		b[i] = broker_up(i + 1);
	node_start(&n[0], 1);
	node_start(&n[1], 2);
	ck_assert(WAIT_FOR(controllers(n, 2, &w) == 1));
	ids[0] = w->id; /* the controller's node leads, the other node follows */
	ids[1] = w->id == 1 ? 2 : 1;
	ids[2] = 3;
	ck_assert_int_eq(ctlr_create_topic(w->c, "fo", -1, -1, asg, 1, NULL, NULL, 0, false,
					   on_done, &d),
			 0);
	ck_assert_int_eq(wait_done(&d), 0);
	ck_assert(WAIT_FOR(leader_is("fo", 0, w->id, 3)));
	/* the controller's node dies whole (controller and broker); the other
	 * node hears nothing yet: its /controller watch is on the loop */
	node_kill(w);
	zk_free(b[w->id - 1]);
	b[w->id - 1] = NULL;
	ck_assert(WAIT_FOR(controllers(n, 2, &w2) == 1 && w2 != w));
	ck_assert(WAIT_FOR(leader_is("fo", 0, ids[1], 2)));
	ps = state_of("fo", 0);
	ck_assert_int_eq(ps.s.controller_epoch, 2);
	ck_assert_int_eq(ps.s.leader_epoch, 1);
	ck_assert(!isr_has(&ps.s, w->id));
	zkd_partition_state_free(&ps.s);
	for (i = 0; i < 2; i++)
		node_stop(&n[i]);
	for (i = 0; i < 3; i++)
		zk_free(b[i]);
}
END_TEST

/* The controller's own node is not registered yet (or no more): the
 * broker list is a transient one; nothing is taken offline meanwhile. */
START_TEST(test_controller_waits_for_its_own_registration)
{
	struct zk *b[2];
	struct node n;
	struct done d = { 0 };
	struct ctlr_replicas asg[1] = { { (int32_t[]){ 2, 1 }, 2 } };
	struct pstate ps;
	int i;

	b[0] = broker_up(1);
	b[1] = broker_up(2);
	node_start(&n, 1);
	ck_assert(WAIT_FOR(ctlr_is_controller(n.c)));
	ctlr_create_topic(n.c, "w", -1, -1, asg, 1, NULL, NULL, 0, false, on_done, &d);
	ck_assert_int_eq(wait_done(&d), 0);
	ck_assert(WAIT_FOR(leader_is("w", 0, 2, 2)));
	zk_free(b[0]); /* the controller's node's registration goes */
	zk_free(b[1]); /* and the leader dies */
	for (i = 0; i < 50; i++)
		spin();
	ps = state_of("w", 0);
	ck_assert_int_eq(ps.s.leader, 2);
	ck_assert_int_eq(ps.s.leader_epoch, 0);
	zkd_partition_state_free(&ps.s);
	b[0] = broker_up(1); /* registered again: now it acts */
	ck_assert(WAIT_FOR(leader_is("w", 0, 1, 1)));
	node_stop(&n);
	zk_free(b[0]);
}
END_TEST

/* unclean.leader.election.enable set on the topic after its creation
 * counts at the next election (Kafka reads the topic's config when it
 * elects): the out-of-sync replica leads, alone in the ISR. */
START_TEST(test_controller_topic_unclean_config_read_at_election)
{
	struct zk *b[3];
	struct node n;
	struct done d = { 0 };
	struct ctlr_replicas asg[1] = { { (int32_t[]){ 2, 1 }, 2 } };
	struct zkd_config cfg = { (char *[]){ "unclean.leader.election.enable" },
				  (char *[]){ "true" }, 1 };
	struct res r = { 0 };
	char *data;
	size_t len;

	b[0] = broker_up(1);
	b[1] = broker_up(2);
	b[2] = broker_up(3);
	node_start(&n, 3);
	ck_assert(WAIT_FOR(ctlr_is_controller(n.c)));
	ctlr_create_topic(n.c, "u", -1, -1, asg, 1, NULL, NULL, 0, false, on_done, &d);
	ck_assert_int_eq(wait_done(&d), 0);
	ck_assert(WAIT_FOR(leader_is("u", 0, 2, 2)));
	zk_free(b[0]); /* broker 1 leaves the ISR: [2] */
	ck_assert(WAIT_FOR(leader_is("u", 0, 2, 1)));
	b[0] = broker_up(1);
	data = zkd_config_encode(&cfg, &len);
	ck_assert_int_eq(zk_set(admin, "/config/topics/u", data, len, -1, on_res, &r), 0);
	free(data);
	ck_assert_int_eq(zcall_wait(&r), ZK_OK);
	zk_free(b[1]); /* the only ISR member dies */
	b[1] = NULL;
	ck_assert(WAIT_FOR(leader_is("u", 0, 1, 1)));
	node_stop(&n);
	zk_free(b[0]);
	zk_free(b[2]);
}
END_TEST

/* ---- fencing ---------------------------------------------------------- */

/* A newer controller moved /controller_epoch (here the test does, as a
 * controller elected during a partition would): the old controller's next
 * state write fails its epoch check; it resigns, runs again (it still
 * holds /controller) and writes with a newer epoch.  No state written by
 * it carries the stale epoch. */
START_TEST(test_controller_stale_epoch_write_is_fenced)
{
	struct zk *b[3];
	struct node n;
	struct done d = { 0 };
	struct ctlr_replicas asg[1] = { { (int32_t[]){ 2, 3 }, 2 } };
	struct res r = { 0 };
	struct pstate ps;
	char *data;
	size_t len;
	int i;

	for (i = 0; i < 3; i++)
		b[i] = broker_up(i + 1);
	node_start(&n, 1);
	ck_assert(WAIT_FOR(ctlr_is_controller(n.c)));
	ck_assert_int_eq(ctlr_epoch(n.c), 1);
	ck_assert_int_eq(ctlr_create_topic(n.c, "f", -1, -1, asg, 1, NULL, NULL, 0, false, on_done,
					   &d),
			 0);
	ck_assert_int_eq(wait_done(&d), 0);
	ck_assert(WAIT_FOR(leader_is("f", 0, 2, 2)));

	data = zkd_epoch_encode(7, &len);
	ck_assert_int_eq(zk_set(admin, ZKD_CONTROLLER_EPOCH, data, len, -1, on_res, &r), 0);
	free(data);
	ck_assert_int_eq(zcall_wait(&r), ZK_OK);
	zk_free(b[1]); /* broker 2 dies: the controller must write f-0 */
	ck_assert(WAIT_FOR(leader_is("f", 0, 3, 1)));
	ck_assert_uint_ge(ctlr_stats(n.c)->fenced_writes, 1);
	ck_assert_uint_ge(ctlr_stats(n.c)->resignations, 1);
	ck_assert(ctlr_is_controller(n.c));
	ck_assert_int_eq(ctlr_epoch(n.c), 8);
	ps = state_of("f", 0);
	ck_assert_int_eq(ps.s.controller_epoch, 8);
	ck_assert_int_eq(ps.s.leader_epoch, 1);
	zkd_partition_state_free(&ps.s);
	node_stop(&n);
	zk_free(b[0]);
	zk_free(b[2]);
}
END_TEST

/* ---- admin calls ------------------------------------------------------ */

/* AdminZkClient's errors: TOPIC_ALREADY_EXISTS, INVALID_REPLICATION_FACTOR
 * (more replicas than brokers), INVALID_REPLICA_ASSIGNMENT (a duplicate,
 * an unknown broker), INVALID_TOPIC_EXCEPTION; a non-controller node
 * creates topics too and the controller picks them up. */
START_TEST(test_controller_create_topic_errors_and_from_any_node)
{
	struct zk *b[2];
	struct node n[2], *w = NULL, *other;
	struct done d = { 0 };
	struct ctlr_replicas dup[1] = { { (int32_t[]){ 1, 1 }, 2 } };
	struct ctlr_replicas unknown[1] = { { (int32_t[]){ 1, 9 }, 2 } };
	struct res r;
	int i;

	b[0] = broker_up(1);
	b[1] = broker_up(2);
	node_start(&n[0], 1);
	node_start(&n[1], 2);
	ck_assert(WAIT_FOR(controllers(n, 2, &w) == 1 && ctlr_controller_id(n[0].c) == w->id &&
			   ctlr_controller_id(n[1].c) == w->id));
	other = w == &n[0] ? &n[1] : &n[0];
	ck_assert_int_eq(ctlr_create_topic(other->c, "a", 3, 2, NULL, 0,
					   (const char *[]){ "retention.ms" },
					   (const char *[]){ "1000" }, 1, false, on_done, &d),
			 0);
	ck_assert_int_eq(wait_done(&d), 0);
	r = zget("/config/topics/a");
	ck_assert_int_eq(r.rc, ZK_OK);
	ck_assert_ptr_nonnull(strstr(r.data, "retention.ms"));
	ck_assert(WAIT_FOR(has_state("a", 0) && has_state("a", 1) && has_state("a", 2)));

	memset(&d, 0, sizeof(d));
	ctlr_create_topic(other->c, "a", 1, 1, NULL, 0, NULL, NULL, 0, false, on_done, &d);
	ck_assert_int_eq(wait_done(&d), CTL_ERR_TOPIC_EXISTS);
	ck_assert_ptr_nonnull(strstr(d.msg, "already exists"));
	memset(&d, 0, sizeof(d));
	ctlr_create_topic(other->c, "b", 1, 3, NULL, 0, NULL, NULL, 0, false, on_done, &d);
	ck_assert_int_eq(wait_done(&d), CTL_ERR_INVALID_REPLICATION_FACTOR);
	memset(&d, 0, sizeof(d));
	ctlr_create_topic(other->c, "b", -1, -1, dup, 1, NULL, NULL, 0, false, on_done, &d);
	ck_assert_int_eq(wait_done(&d), CTL_ERR_INVALID_REPLICA_ASSIGNMENT);
	memset(&d, 0, sizeof(d));
	ctlr_create_topic(other->c, "b", -1, -1, unknown, 1, NULL, NULL, 0, false, on_done, &d);
	ck_assert_int_eq(wait_done(&d), CTL_ERR_INVALID_REPLICA_ASSIGNMENT);
	memset(&d, 0, sizeof(d));
	ctlr_create_topic(other->c, "b/c", 1, 1, NULL, 0, NULL, NULL, 0, false, on_done, &d);
	ck_assert_int_eq(wait_done(&d), CTL_ERR_INVALID_TOPIC);
	memset(&d, 0, sizeof(d));
	ctlr_create_topic(other->c, "b", 1, 1, NULL, 0, NULL, NULL, 0, true, on_done, &d);
	ck_assert_int_eq(wait_done(&d), 0); /* validate only: nothing written */
	r = zget("/brokers/topics/b");
	ck_assert_int_eq(r.rc, ZK_NONODE);
	for (i = 0; i < 2; i++)
		node_stop(&n[i]);
	zk_free(b[0]);
	zk_free(b[1]);
}
END_TEST

/* CreatePartitions: the topic znode grows (compare-and-set), the
 * controller writes the new partitions' states; fewer partitions than
 * today is INVALID_PARTITIONS; an unknown topic UNKNOWN_TOPIC_OR_PARTITION. */
START_TEST(test_controller_add_partitions)
{
	struct zk *b[2];
	struct node n;
	struct done d = { 0 };
	struct zkd_topic t;
	char err[100];
	struct res r;

	b[0] = broker_up(1);
	b[1] = broker_up(2);
	node_start(&n, 1);
	ck_assert(WAIT_FOR(ctlr_is_controller(n.c)));
	ctlr_create_topic(n.c, "g", 2, 2, NULL, 0, NULL, NULL, 0, false, on_done, &d);
	ck_assert_int_eq(wait_done(&d), 0);
	ck_assert(WAIT_FOR(has_state("g", 0) && has_state("g", 1)));
	memset(&d, 0, sizeof(d));
	ctlr_create_partitions(n.c, "g", 4, NULL, 0, false, on_done, &d);
	ck_assert_int_eq(wait_done(&d), 0);
	ck_assert(WAIT_FOR(has_state("g", 2) && has_state("g", 3)));
	r = zget("/brokers/topics/g");
	ck_assert_int_eq(zkd_topic_decode(r.data, r.len, &t, err, sizeof(err)), 0);
	ck_assert_uint_eq(t.npartitions, 4);
	ck_assert_uint_eq(t.partitions[3].nreplicas, 2);
	zkd_topic_free(&t);
	memset(&d, 0, sizeof(d));
	ctlr_create_partitions(n.c, "g", 3, NULL, 0, false, on_done, &d);
	ck_assert_int_eq(wait_done(&d), CTL_ERR_INVALID_PARTITIONS);
	memset(&d, 0, sizeof(d));
	ctlr_create_partitions(n.c, "nope", 3, NULL, 0, false, on_done, &d);
	ck_assert_int_eq(wait_done(&d), CTL_ERR_UNKNOWN_TOPIC);
	node_stop(&n);
	zk_free(b[0]);
	zk_free(b[1]);
}
END_TEST

static int gone(const char *path)
{
	return zget(path).rc == ZK_NONODE;
}

/* DeleteTopics: /admin/delete_topics/T; the controller removes
 * /brokers/topics/T with its partition states, /config/topics/T, then the
 * request.  An unknown topic is UNKNOWN_TOPIC_OR_PARTITION. */
START_TEST(test_controller_delete_topic_removes_znodes)
{
	struct zk *b;
	struct node n;
	struct done d = { 0 };

	b = broker_up(1);
	node_start(&n, 1);
	ck_assert(WAIT_FOR(ctlr_is_controller(n.c)));
	ctlr_create_topic(n.c, "gone", 2, 1, NULL, 0, (const char *[]){ "cleanup.policy" },
			  (const char *[]){ "delete" }, 1, false, on_done, &d);
	ck_assert_int_eq(wait_done(&d), 0);
	ck_assert(WAIT_FOR(has_state("gone", 0) && has_state("gone", 1)));
	memset(&d, 0, sizeof(d));
	ctlr_delete_topic(n.c, "gone", on_done, &d);
	ck_assert_int_eq(wait_done(&d), 0);
	ck_assert(WAIT_FOR(gone("/brokers/topics/gone") && gone("/config/topics/gone") &&
			   gone("/admin/delete_topics/gone")));
	ck_assert_uint_eq(ctlr_stats(n.c)->topics_deleted, 1);
	memset(&d, 0, sizeof(d));
	ctlr_delete_topic(n.c, "gone", on_done, &d);
	ck_assert_int_eq(wait_done(&d), CTL_ERR_UNKNOWN_TOPIC);
	node_stop(&n);
	zk_free(b);
}
END_TEST

static Suite *controller_suite(void)
{
	Suite *s = suite_create("controller");
	TCase *tc = tcase_create("zk");

	tcase_add_unchecked_fixture(tc, zk_server_start, zk_server_stop);
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 90);
	tcase_add_test(tc, test_controller_election_one_wins_with_epoch);
	tcase_add_test(tc, test_controller_failover_increments_epoch);
	tcase_add_test(tc, test_controller_new_topic_gets_states);
	tcase_add_test(tc, test_controller_broker_death_moves_leader_and_shrinks_isr);
	tcase_add_test(tc, test_controller_last_isr_member_comes_back_as_leader);
	tcase_add_test(tc, test_controller_failover_reconciles_deaths_without_controller);
	tcase_add_test(tc, test_controller_waits_for_its_own_registration);
	tcase_add_test(tc, test_controller_topic_unclean_config_read_at_election);
	tcase_add_test(tc, test_controller_stale_epoch_write_is_fenced);
	tcase_add_test(tc, test_controller_create_topic_errors_and_from_any_node);
	tcase_add_test(tc, test_controller_add_partitions);
	tcase_add_test(tc, test_controller_delete_topic_removes_znodes);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	evthread_use_pthreads();
	tdm_log_setup(getenv("TANDEM_TEST_DEBUG") ? TDM_LOG_DEBUG : TDM_LOG_ERROR, NULL);
	sr = srunner_create(controller_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
