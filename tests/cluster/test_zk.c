/*
 * src/cluster/zk.c against a real ZooKeeper (Debian's `zookeeper`, started
 * by tests/cluster/zk.sh on a free 127.0.0.1 port for this program and
 * stopped at its end): every operation's callback runs on the loop thread
 * and never inside the call; watches fire; an ephemeral node goes with its
 * session; version conflicts; multi is all or nothing; an expired session
 * (expired from outside, the classic way: a second handle with the same
 * id and password, closed) is reported as expired and a new one opens;
 * the chroot of the connect string; an unreachable ensemble fails zk_start
 * within its bound; the client library's log lines come through ours,
 * once per minute for a repeated one; its threads take no signal.  Every
 * wait is bounded.  Without ZooKeeper installed the program FAILS naming
 * the package.
 *
 * Depends on: Check, libevent, libzookeeper_mt (the outside handle), bash
 * and java (zk.sh).
 */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>
#include <zookeeper/zookeeper.h>

#include "cluster/zk.h"
#include "core/log.h"

static char zk_dir[256];
static char zk_addr[64]; /* 127.0.0.1:PORT */
static int zk_port;

/* ---- loop helpers ------------------------------------------------------- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs the loop until *flag >= want or ms pass; returns *flag >= want. */
static int run_until(struct event_base *base, const int *flag, int want, int ms)
{
	int64_t end = now_ms() + ms;
	while (*flag < want && now_ms() < end) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (*flag >= want)
			break;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return *flag >= want;
}

struct t {
	struct event_base *base;
	struct zk *zk;
	pthread_t loop;
	int in_call;      /* set around our calls: a callback seen inside one is inline */
	int inline_cb, off_loop;
	/* session events */
	int connected, disconnected, expired;
	/* last result */
	int ndone;
	int rc;
	char path[256];
	char data[256];
	size_t len;
	int has_data;
	int32_t version;
	int64_t owner;
	int nchildren;
	char children[8][64];
	int nops;
	struct zk_op_result ops[8];
	char op_paths[8][256];
	/* watches */
	int nwatch;
	int wevent;
	char wpath[256];
};

static void check_thread(struct t *t)
{
	if (!pthread_equal(pthread_self(), t->loop))
		t->off_loop = 1;
	if (t->in_call)
		t->inline_cb = 1;
}

static void on_session(void *ctx, enum zk_session_event ev)
{
	struct t *t = ctx;
	check_thread(t);
	if (ev == ZK_SESSION_CONNECTED)
		t->connected++;
	else if (ev == ZK_SESSION_DISCONNECTED)
		t->disconnected++;
	else if (ev == ZK_SESSION_EXPIRED)
		t->expired++;
}

static void on_done(void *ctx, const struct zk_result *r)
{
	struct t *t = ctx;
	check_thread(t);
	t->rc = r->rc;
	snprintf(t->path, sizeof(t->path), "%s", r->path ? r->path : "");
	t->has_data = r->data != NULL;
	t->len = r->len;
	if (r->data)
		snprintf(t->data, sizeof(t->data), "%.*s", (int)r->len, r->data);
	t->version = r->stat ? r->stat->version : -1;
	t->owner = r->stat ? r->stat->ephemeral_owner : -1;
	t->nchildren = (int)r->nchildren;
	for (size_t i = 0; i < r->nchildren && i < 8; i++)
		snprintf(t->children[i], sizeof(t->children[i]), "%s", r->children[i]);
	t->nops = (int)r->nops;
	for (size_t i = 0; i < r->nops && i < 8; i++) {
		t->ops[i] = r->ops[i];
		snprintf(t->op_paths[i], sizeof(t->op_paths[i]), "%s",
			 r->ops[i].path ? r->ops[i].path : "");
		t->ops[i].path = NULL;
	}
	t->ndone++;
}

static void on_watch(void *ctx, int event, const char *path)
{
	struct t *t = ctx;
	check_thread(t);
	t->wevent = event;
	snprintf(t->wpath, sizeof(t->wpath), "%s", path);
	t->nwatch++;
}

static struct t *t_new_at(const char *connect)
{
	struct t *t = calloc(1, sizeof(*t));
	char err[256];
	ck_assert_ptr_nonnull(t);
	evthread_use_pthreads();
	t->base = event_base_new();
	ck_assert_ptr_nonnull(t->base);
	t->loop = pthread_self();
	t->zk = zk_new(t->base, connect, 6000, on_session, t, err, sizeof(err));
	ck_assert_msg(t->zk != NULL, "zk_new: %s", err);
	return t;
}

/* A connected client on the test's ZooKeeper (connect: "" or a chroot). */
static struct t *t_connect(const char *chroot)
{
	char connect[256];
	char err[256];
	snprintf(connect, sizeof(connect), "%s%s", zk_addr, chroot);
	struct t *t = t_new_at(connect);
	ck_assert_msg(zk_start(t->zk, 10000, err, sizeof(err)) == 0, "zk_start: %s", err);
	ck_assert_msg(run_until(t->base, &t->connected, 1, 5000), "no CONNECTED event");
	ck_assert(zk_connected(t->zk));
	ck_assert(zk_session_id(t->zk) != 0);
	return t;
}

static void t_free(struct t *t)
{
	ck_assert_msg(!t->off_loop, "a callback ran off the loop thread");
	ck_assert_msg(!t->inline_cb, "a callback ran inside the call that asked for it");
	zk_free(t->zk);
	event_base_free(t->base);
	free(t);
}

/* Waits for the next completion; returns its rc. */
static int wait_done(struct t *t)
{
	int want = t->ndone + 1;
	ck_assert_msg(run_until(t->base, &t->ndone, want, 10000), "no completion within 10 s");
	return t->rc;
}

/* Each issues one call (checking it is not answered inline) and waits. */
static int do_create(struct t *t, const char *path, const char *data, int flags)
{
	t->in_call = 1;
	ck_assert_int_eq(zk_create(t->zk, path, data, data ? strlen(data) : 0, flags, on_done, t), 0);
	t->in_call = 0;
	return wait_done(t);
}
static int do_get(struct t *t, const char *path, int watch)
{
	t->in_call = 1;
	ck_assert_int_eq(zk_get(t->zk, path, watch ? on_watch : NULL, t, on_done, t), 0);
	t->in_call = 0;
	return wait_done(t);
}
static int do_set(struct t *t, const char *path, const char *data, int32_t version)
{
	t->in_call = 1;
	ck_assert_int_eq(zk_set(t->zk, path, data, strlen(data), version, on_done, t), 0);
	t->in_call = 0;
	return wait_done(t);
}
static int do_exists(struct t *t, const char *path, int watch)
{
	t->in_call = 1;
	ck_assert_int_eq(zk_exists(t->zk, path, watch ? on_watch : NULL, t, on_done, t), 0);
	t->in_call = 0;
	return wait_done(t);
}
static int do_children(struct t *t, const char *path, int watch)
{
	t->in_call = 1;
	ck_assert_int_eq(zk_get_children(t->zk, path, watch ? on_watch : NULL, t, on_done, t), 0);
	t->in_call = 0;
	return wait_done(t);
}
static int do_delete(struct t *t, const char *path, int32_t version)
{
	t->in_call = 1;
	ck_assert_int_eq(zk_delete(t->zk, path, version, on_done, t), 0);
	t->in_call = 0;
	return wait_done(t);
}
static int do_multi(struct t *t, const struct zk_op *ops, size_t n)
{
	t->in_call = 1;
	ck_assert_int_eq(zk_multi(t->zk, ops, n, on_done, t), 0);
	t->in_call = 0;
	return wait_done(t);
}

/* ---- tests ---------------------------------------------------------------- */

START_TEST(operations_answer_on_the_loop)
{
	struct t *t = t_connect("");
	ck_assert_int_eq(do_create(t, "/ops", "v0", ZK_PERSISTENT), ZK_OK);
	ck_assert_str_eq(t->path, "/ops");
	ck_assert_int_eq(do_get(t, "/ops", 0), ZK_OK);
	ck_assert_str_eq(t->data, "v0");
	ck_assert_uint_eq(t->len, 2);
	ck_assert_int_eq(t->version, 0);
	ck_assert_int_eq(t->owner, 0);
	ck_assert_int_eq(do_set(t, "/ops", "v1", 0), ZK_OK);
	ck_assert_int_eq(t->version, 1);
	ck_assert_int_eq(do_get(t, "/ops", 0), ZK_OK);
	ck_assert_str_eq(t->data, "v1");
	ck_assert_int_eq(do_exists(t, "/ops", 0), ZK_OK);
	ck_assert_int_eq(t->version, 1);
	ck_assert_int_eq(do_create(t, "/ops/a", NULL, ZK_PERSISTENT), ZK_OK);
	ck_assert_int_eq(do_create(t, "/ops/b", "", ZK_PERSISTENT), ZK_OK);
	ck_assert_int_eq(do_children(t, "/ops", 0), ZK_OK);
	ck_assert_int_eq(t->nchildren, 2);
	ck_assert(strcmp(t->children[0], "a") == 0 || strcmp(t->children[1], "a") == 0);
	ck_assert_int_eq(do_get(t, "/ops/a", 0), ZK_OK);
	ck_assert_uint_eq(t->len, 0);
	ck_assert_int_eq(do_delete(t, "/ops/a", -1), ZK_OK);
	ck_assert_int_eq(do_delete(t, "/ops/b", 0), ZK_OK);
	ck_assert_int_eq(do_delete(t, "/ops", -1), ZK_OK);
	ck_assert_int_eq(do_exists(t, "/ops", 0), ZK_NONODE);
	ck_assert_int_eq(do_get(t, "/ops", 0), ZK_NONODE);
	ck_assert_int_eq(do_create(t, "no-slash", "x", ZK_PERSISTENT), ZK_BADARGUMENTS);
	t_free(t);
}
END_TEST

START_TEST(create_flags_ephemeral_sequential)
{
	struct t *t = t_connect("");
	ck_assert_int_eq(do_create(t, "/seq", NULL, ZK_PERSISTENT), ZK_OK);
	ck_assert_int_eq(do_create(t, "/seq/n-", "1", ZK_EPHEMERAL | ZK_SEQUENTIAL), ZK_OK);
	ck_assert_str_eq(t->path, "/seq/n-0000000000");
	ck_assert_int_eq(do_create(t, "/seq/n-", "2", ZK_PERSISTENT | ZK_SEQUENTIAL), ZK_OK);
	ck_assert_str_eq(t->path, "/seq/n-0000000001");
	ck_assert_int_eq(do_get(t, "/seq/n-0000000000", 0), ZK_OK);
	ck_assert(t->owner == zk_session_id(t->zk));
	ck_assert_int_eq(do_get(t, "/seq/n-0000000001", 0), ZK_OK);
	ck_assert(t->owner == 0);
	ck_assert_int_eq(do_create(t, "/seq/n-0000000000/child", NULL, ZK_PERSISTENT),
			 ZK_NOCHILDRENFOREPHEMERALS);
	ck_assert_int_eq(do_create(t, "/seq/n-0000000001", NULL, ZK_PERSISTENT), ZK_NODEEXISTS);
	t_free(t);
}
END_TEST

START_TEST(watches_fire_on_the_loop)
{
	struct t *t = t_connect(""), *o = t_connect("");
	/* exists on a missing node: fires on creation */
	ck_assert_int_eq(do_exists(t, "/w", 1), ZK_NONODE);
	ck_assert_int_eq(do_create(o, "/w", "a", ZK_PERSISTENT), ZK_OK);
	ck_assert_msg(run_until(t->base, &t->nwatch, 1, 10000), "exists watch did not fire");
	ck_assert_int_eq(t->wevent, ZK_EV_CREATED);
	ck_assert_str_eq(t->wpath, "/w");
	/* get: fires on change, once */
	ck_assert_int_eq(do_get(t, "/w", 1), ZK_OK);
	ck_assert_int_eq(do_set(o, "/w", "b", -1), ZK_OK);
	ck_assert_msg(run_until(t->base, &t->nwatch, 2, 10000), "data watch did not fire");
	ck_assert_int_eq(t->wevent, ZK_EV_CHANGED);
	ck_assert_int_eq(do_set(o, "/w", "c", -1), ZK_OK);
	ck_assert_int_eq(do_get(t, "/w", 0), ZK_OK); /* a round trip after the change */
	ck_assert_int_eq(t->nwatch, 2); /* one-shot */
	/* children: fires on a new child */
	ck_assert_int_eq(do_children(t, "/w", 1), ZK_OK);
	ck_assert_int_eq(t->nchildren, 0);
	ck_assert_int_eq(do_create(o, "/w/k", NULL, ZK_PERSISTENT), ZK_OK);
	ck_assert_msg(run_until(t->base, &t->nwatch, 3, 10000), "child watch did not fire");
	ck_assert_int_eq(t->wevent, ZK_EV_CHILD);
	ck_assert_str_eq(t->wpath, "/w");
	/* get: fires on deletion */
	ck_assert_int_eq(do_get(t, "/w/k", 1), ZK_OK);
	ck_assert_int_eq(do_delete(o, "/w/k", -1), ZK_OK);
	ck_assert_msg(run_until(t->base, &t->nwatch, 4, 10000), "delete watch did not fire");
	ck_assert_int_eq(t->wevent, ZK_EV_DELETED);
	ck_assert_str_eq(t->wpath, "/w/k");
	/* a watch on a get that failed is not set (and not leaked) */
	ck_assert_int_eq(do_get(t, "/w/none", 1), ZK_NONODE);
	/* a watch still set when the client is freed is dropped (ASan/valgrind: no leak) */
	ck_assert_int_eq(do_get(t, "/w", 1), ZK_OK);
	t_free(o);
	t_free(t);
}
END_TEST

START_TEST(ephemeral_goes_with_its_session)
{
	struct t *a = t_connect(""), *b = t_connect("");
	ck_assert_int_eq(do_create(a, "/eph", "me", ZK_EPHEMERAL), ZK_OK);
	ck_assert_int_eq(do_exists(b, "/eph", 1), ZK_OK);
	ck_assert(b->owner == zk_session_id(a->zk));
	zk_close(a->zk);
	ck_assert(!zk_connected(a->zk));
	ck_assert_msg(run_until(b->base, &b->nwatch, 1, 10000), "no watch on the ephemeral's end");
	ck_assert_int_eq(b->wevent, ZK_EV_DELETED);
	ck_assert_int_eq(do_exists(b, "/eph", 0), ZK_NONODE);
	/* without a session an operation answers ZK_INVALIDSTATE, through the loop */
	ck_assert_int_eq(do_get(a, "/eph", 0), ZK_INVALIDSTATE);
	t_free(a);
	t_free(b);
}
END_TEST

START_TEST(version_conflicts)
{
	struct t *t = t_connect("");
	ck_assert_int_eq(do_create(t, "/ver", "0", ZK_PERSISTENT), ZK_OK);
	ck_assert_int_eq(do_set(t, "/ver", "1", 0), ZK_OK);
	ck_assert_int_eq(do_set(t, "/ver", "x", 0), ZK_BADVERSION);
	ck_assert_int_eq(do_delete(t, "/ver", 5), ZK_BADVERSION);
	ck_assert_int_eq(do_get(t, "/ver", 0), ZK_OK);
	ck_assert_str_eq(t->data, "1");
	ck_assert_int_eq(do_create(t, "/ver", "again", ZK_PERSISTENT), ZK_NODEEXISTS);
	ck_assert_int_eq(do_create(t, "/ver/a", NULL, ZK_PERSISTENT), ZK_OK);
	ck_assert_int_eq(do_delete(t, "/ver", 1), ZK_NOTEMPTY);
	ck_assert_int_eq(do_set(t, "/nothere", "x", -1), ZK_NONODE);
	t_free(t);
}
END_TEST

START_TEST(multi_is_all_or_nothing)
{
	struct t *t = t_connect("");
	ck_assert_int_eq(do_create(t, "/m", NULL, ZK_PERSISTENT), ZK_OK);
	ck_assert_int_eq(do_create(t, "/m/epoch", "1", ZK_PERSISTENT), ZK_OK);
	ck_assert_int_eq(do_create(t, "/m/state", "s0", ZK_PERSISTENT), ZK_OK);
	/* the controller's fenced write: check the epoch's version, then write */
	struct zk_op ok[] = {
		{ .type = ZK_OP_CHECK, .path = "/m/epoch", .version = 0 },
		{ .type = ZK_OP_SET, .path = "/m/state", .data = "s1", .len = 2, .version = 0 },
		{ .type = ZK_OP_CREATE, .path = "/m/new", .data = "n", .len = 1 },
		{ .type = ZK_OP_CREATE, .path = "/m/seq-", .flags = ZK_SEQUENTIAL },
	};
	ck_assert_int_eq(do_multi(t, ok, 4), ZK_OK);
	ck_assert_int_eq(t->nops, 4);
	for (int i = 0; i < 4; i++)
		ck_assert_int_eq(t->ops[i].rc, ZK_OK);
	ck_assert_int_eq(t->ops[1].version, 1);
	ck_assert_str_eq(t->op_paths[2], "/m/new");
	ck_assert_str_eq(t->op_paths[3], "/m/seq-0000000003");
	/* a stale epoch: nothing of it happens */
	struct zk_op stale[] = {
		{ .type = ZK_OP_CREATE, .path = "/m/never", .data = "x", .len = 1 },
		{ .type = ZK_OP_SET, .path = "/m/state", .data = "s2", .len = 2, .version = -1 },
		{ .type = ZK_OP_CHECK, .path = "/m/epoch", .version = 7 },
	};
	ck_assert_int_eq(do_multi(t, stale, 3), ZK_BADVERSION);
	ck_assert_int_eq(t->nops, 3);
	ck_assert_int_eq(t->ops[2].rc, ZK_BADVERSION);
	ck_assert_int_eq(do_exists(t, "/m/never", 0), ZK_NONODE);
	ck_assert_int_eq(do_get(t, "/m/state", 0), ZK_OK);
	ck_assert_str_eq(t->data, "s1");
	/* delete in a multi, and a bad op type is refused */
	struct zk_op del[] = { { .type = ZK_OP_DELETE, .path = "/m/new", .version = 0 } };
	ck_assert_int_eq(do_multi(t, del, 1), ZK_OK);
	ck_assert_int_eq(do_exists(t, "/m/new", 0), ZK_NONODE);
	struct zk_op bad[] = { { .type = (enum zk_op_type)99, .path = "/m" } };
	ck_assert_int_eq(do_multi(t, bad, 1), ZK_BADARGUMENTS);
	ck_assert_int_eq(do_multi(t, bad, 0), ZK_BADARGUMENTS);
	t_free(t);
}
END_TEST

/* The outside handle's session watcher: connected yet? */
struct outside {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int connected;
};
static void outside_watcher(zhandle_t *zh, int type, int state, const char *path, void *p)
{
	(void)zh, (void)path;
	struct outside *o = p;
	if (type != ZOO_SESSION_EVENT ||
	    (state != ZOO_CONNECTED_STATE && state != ZOO_EXPIRED_SESSION_STATE))
		return;
	pthread_mutex_lock(&o->mu);
	o->connected = state == ZOO_CONNECTED_STATE ? 1 : -1; /* -1: already expired */
	pthread_cond_broadcast(&o->cv);
	pthread_mutex_unlock(&o->mu);
}

/* Expires t's session from outside: the same id and password on a second
 * handle, which then closes the session. */
static void expire_from_outside(struct t *t)
{
	clientid_t cid;
	struct outside o = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
	ck_assert_int_eq(zk_session_credentials(t->zk, &cid.client_id, cid.passwd), 0);
	zoo_set_debug_level(ZOO_LOG_LEVEL_ERROR);
	zhandle_t *zh = zookeeper_init(zk_addr, outside_watcher, 6000, &cid, &o, 0);
	ck_assert_ptr_nonnull(zh);
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += 10;
	pthread_mutex_lock(&o.mu);
	while (!o.connected && pthread_cond_timedwait(&o.cv, &o.mu, &dl) != ETIMEDOUT)
		;
	int connected = o.connected;
	pthread_mutex_unlock(&o.mu);
	ck_assert_msg(connected, "the outside handle did not connect within 10 s");
	zookeeper_close(zh); /* connected: ends the session; -1: it had ended already */
}

START_TEST(session_expiry_reported_and_reopened)
{
	struct t *t = t_connect(""), *w = t_connect("");
	char err[256];
	ck_assert_int_eq(do_create(t, "/exp", "x", ZK_EPHEMERAL), ZK_OK);
	int64_t old = zk_session_id(t->zk);
	ck_assert_int_eq(do_exists(t, "/exp", 1), ZK_OK); /* a watch that will never fire */
	/* The client may win its session back between the outside handle's
	 * connect and close (it reconnects at once when the server moves the
	 * session), and then the close does not end it: try again, bounded. */
	for (int tries = 0; tries < 5 && !t->expired; tries++) {
		expire_from_outside(t);
		run_until(t->base, &t->expired, 1, 6000);
	}
	ck_assert_msg(t->expired == 1, "expiry not reported after 5 tries");
	ck_assert(!zk_connected(t->zk));
	ck_assert_int_eq(do_exists(w, "/exp", 0), ZK_NONODE);
	int rc = do_get(t, "/exp", 0); /* the expired handle refuses */
	ck_assert_msg(rc == ZK_INVALIDSTATE || rc == ZK_SESSIONEXPIRED, "rc %d", rc);
	/* the owner opens a new session on the same object.  The old watch
	 * may have fired before the expiry (the outside handle's close
	 * deletes /exp while the client may be connected again for a
	 * moment: ZooKeeper delivers that); it must not fire in the new
	 * session, where /exp is made again */
	int fired = t->nwatch;
	int connects = t->connected;
	ck_assert_msg(zk_open(t->zk, err, sizeof(err)) == 0, "zk_open: %s", err);
	ck_assert_msg(run_until(t->base, &t->connected, connects + 1, 10000),
		      "no new session within 10 s");
	ck_assert(zk_session_id(t->zk) != 0 && zk_session_id(t->zk) != old);
	ck_assert_int_eq(do_create(t, "/exp", "y", ZK_EPHEMERAL), ZK_OK);
	ck_assert_int_eq(do_get(w, "/exp", 0), ZK_OK);
	ck_assert(w->owner == zk_session_id(t->zk));
	ck_assert_int_eq(t->nwatch, fired); /* the old session's watch is gone */
	t_free(t);
	t_free(w);
}
END_TEST

START_TEST(unreachable_fails_start_within_bound)
{
	/* a port nobody listens on: bound, then closed */
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t al = sizeof(a);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &al), 0);
	int port = ntohs(a.sin_port);
	close(s);
	char connect[64], want[128], err[256];
	snprintf(connect, sizeof(connect), "127.0.0.1:%d", port);
	struct t *t = t_new_at(connect);
	int64_t t0 = now_ms();
	ck_assert_int_eq(zk_start(t->zk, 700, err, sizeof(err)), -1);
	int64_t took = now_ms() - t0;
	snprintf(want, sizeof(want), "cannot reach ZooKeeper at 127.0.0.1:%d within 700 ms", port);
	ck_assert_str_eq(err, want);
	ck_assert_msg(took >= 650 && took < 3000, "zk_start took %lld ms", (long long)took);
	t_free(t);
}
END_TEST

/* The client library's lines come through our log, as "zookeeper:" lines,
 * and a refused connection retried every 100 ms is written once. */
START_TEST(client_log_lines_are_ours_and_few)
{
	char logpath[] = "/tmp/tandem-test-zk-log-XXXXXX";
	int fd = mkstemp(logpath);
	ck_assert_int_ge(fd, 0);
	close(fd);
	tdm_log_setup(TDM_LOG_INFO, logpath);
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001) };
	socklen_t al = sizeof(a);
	ck_assert_int_eq(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(s, (struct sockaddr *)&a, &al), 0);
	close(s);
	char connect[64], err[256], line[1024];
	snprintf(connect, sizeof(connect), "127.0.0.1:%d", ntohs(a.sin_port));
	struct t *t = t_new_at(connect);
	ck_assert_int_eq(zk_start(t->zk, 1500, err, sizeof(err)), -1);
	t_free(t);
	tdm_log_setup(TDM_LOG_INFO, NULL);
	FILE *f = fopen(logpath, "r");
	ck_assert_ptr_nonnull(f);
	int refused = 0, lines = 0;
	while (fgets(line, sizeof(line), f)) {
		lines++;
		ck_assert_msg(strstr(line, "Z warning zookeeper: ") || strstr(line, "Z info zookeeper: "),
			      "not one of our zookeeper lines: %s", line);
		ck_assert_msg(!strstr(line, "ZOO_"), "the library's raw format: %s", line);
		if (strstr(line, "refused"))
			refused++;
	}
	fclose(f);
	unlink(logpath);
	ck_assert_msg(refused == 1, "%d lines about the refused connection in 1.5 s", refused);
	ck_assert_msg(lines <= 4, "%d log lines in 1.5 s of retries", lines);
}
END_TEST

/* The client library's threads block every signal (as net/worker.c's
 * helpers do): a SIGTERM must reach the loop thread. */
START_TEST(client_threads_take_no_signals)
{
	struct t *t = t_connect("");
	char path[64], line[256];
	int others = 0;
	snprintf(path, sizeof(path), "/proc/%d/task", (int)getpid());
	DIR *d = opendir(path);
	ck_assert_ptr_nonnull(d);
	struct dirent *e;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == (int)gettid())
			continue;
		char status[400];
		snprintf(status, sizeof(status), "%s/%s/status", path, e->d_name);
		FILE *f = fopen(status, "r");
		if (!f)
			continue; /* gone meanwhile */
		unsigned long long blk = 0;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "SigBlk: %llx", &blk) == 1)
				break;
		fclose(f);
		ck_assert_msg(blk & (1ULL << (SIGTERM - 1)), "thread %s takes SIGTERM (SigBlk %llx)",
			      e->d_name, blk);
		ck_assert_msg(blk & (1ULL << (SIGINT - 1)), "thread %s takes SIGINT", e->d_name);
		others++;
	}
	closedir(d);
	ck_assert_int_ge(others, 2); /* the library's I/O and completion threads */
	t_free(t);
}
END_TEST

START_TEST(bad_connect_strings)
{
	const char *bad[] = { "", "localhost", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000",
			      ":2181", "127.0.0.1:2181,", "127.0.0.1:2181/a/", "127.0.0.1:2181//a",
			      "127.0.0.1:21x1", "/chroot" };
	char err[256];
	evthread_use_pthreads();
	struct event_base *base = event_base_new();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		ck_assert_msg(zk_new(base, bad[i], 6000, NULL, NULL, err, sizeof(err)) == NULL,
			      "accepted '%s'", bad[i]);
		ck_assert_msg(err[0] != 0, "no reason for '%s'", bad[i]);
	}
	ck_assert_int_eq(zk_connect_check("a:1,b:2/x/y", err, sizeof(err)), 0);
	ck_assert_int_eq(zk_connect_check("127.0.0.1:2181/", err, sizeof(err)), 0);
	event_base_free(base);
}
END_TEST

START_TEST(chroot_is_created_and_transparent)
{
	struct t *c = t_connect("/tandem/c1"), *root = t_connect("");
	ck_assert_str_eq(zk_hosts(c->zk), zk_addr);
	ck_assert_int_eq(do_create(c, "/a", "in", ZK_PERSISTENT), ZK_OK);
	ck_assert_str_eq(c->path, "/a");
	ck_assert_int_eq(do_get(root, "/tandem/c1/a", 0), ZK_OK);
	ck_assert_str_eq(root->data, "in");
	ck_assert_int_eq(do_create(c, "/s-", NULL, ZK_SEQUENTIAL), ZK_OK);
	ck_assert_str_eq(c->path, "/s-0000000001");
	/* created paths of a multi come back relative to the chroot, also one
	 * that repeats the chroot's own name inside it */
	struct zk_op ops[] = {
		{ .type = ZK_OP_CREATE, .path = "/b" },
		{ .type = ZK_OP_CREATE, .path = "/tandem" },
		{ .type = ZK_OP_CREATE, .path = "/tandem/c1" },
	};
	ck_assert_int_eq(do_multi(c, ops, 3), ZK_OK);
	ck_assert_str_eq(c->op_paths[0], "/b");
	ck_assert_str_eq(c->op_paths[1], "/tandem");
	ck_assert_str_eq(c->op_paths[2], "/tandem/c1");
	ck_assert_int_eq(do_create(c, "/tandem/c1/d", NULL, ZK_PERSISTENT), ZK_OK);
	ck_assert_str_eq(c->path, "/tandem/c1/d");
	ck_assert_int_eq(do_get(c, "/a", 1), ZK_OK);
	ck_assert_int_eq(do_set(root, "/tandem/c1/a", "x", -1), ZK_OK);
	ck_assert_msg(run_until(c->base, &c->nwatch, 1, 10000), "watch in a chroot did not fire");
	ck_assert_str_eq(c->wpath, "/a");
	t_free(c);
	t_free(root);
}
END_TEST

START_TEST(ensure_path_creates_ancestors)
{
	struct t *t = t_connect("");
	t->in_call = 1;
	ck_assert_int_eq(zk_ensure_path(t->zk, "/ens/x/y", on_done, t), 0);
	t->in_call = 0;
	ck_assert_int_eq(wait_done(t), ZK_OK);
	ck_assert_int_eq(do_exists(t, "/ens/x/y", 0), ZK_OK);
	ck_assert_int_eq(zk_ensure_path(t->zk, "/ens/x/y", on_done, t), 0);
	ck_assert_int_eq(wait_done(t), ZK_OK); /* already there: fine */
	ck_assert_int_eq(zk_ensure_path(t->zk, "/", on_done, t), 0);
	ck_assert_int_eq(wait_done(t), ZK_OK);
	t_free(t);
}
END_TEST

START_TEST(close_and_free_with_operations_pending)
{
	struct t *t = t_connect("");
	int before = t->ndone;
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(zk_exists(t->zk, "/pending", on_watch, t, on_done, t), 0);
	zk_close(t->zk); /* every pending op completes once, through the loop */
	ck_assert_msg(run_until(t->base, &t->ndone, before + 20, 10000), "pending ops lost");
	run_until(t->base, &t->ndone, before + 21, 100);
	ck_assert_int_eq(t->ndone, before + 20);
	/* and zk_free with ops in flight: dropped, no callback, no leak */
	char err[256];
	ck_assert_int_eq(zk_open(t->zk, err, sizeof(err)), 0);
	ck_assert(run_until(t->base, &t->connected, 2, 10000));
	for (int i = 0; i < 20; i++)
		ck_assert_int_eq(zk_get(t->zk, "/", on_watch, t, on_done, t), 0);
	t_free(t);
}
END_TEST

/* zk_free from inside one of its own callbacks. */
static void free_in_cb(void *ctx, const struct zk_result *r)
{
	(void)r;
	struct t *t = ctx;
	zk_free(t->zk);
	t->zk = NULL;
	t->ndone++;
}

START_TEST(free_inside_a_callback)
{
	struct t *t = t_connect("");
	ck_assert_int_eq(zk_get(t->zk, "/", NULL, NULL, free_in_cb, t), 0);
	ck_assert_int_eq(zk_get(t->zk, "/", NULL, NULL, on_done, t), 0);
	ck_assert(run_until(t->base, &t->ndone, 1, 10000));
	run_until(t->base, &t->ndone, 2, 300);
	ck_assert_int_eq(t->ndone, 1); /* the second callback was dropped with the client */
	event_base_free(t->base);
	free(t);
}
END_TEST

/* ---- the private ZooKeeper -------------------------------------------------- */

static int zk_up(void)
{
	char cmd[600], line[256] = "";
	snprintf(zk_dir, sizeof(zk_dir), "/tmp/tandem-test-zk-XXXXXX");
	if (!mkdtemp(zk_dir)) {
		perror("mkdtemp");
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "bash '%s' start '%s'", ZK_SH, zk_dir);
	FILE *p = popen(cmd, "r");
	if (!p)
		return -1;
	if (!fgets(line, sizeof(line), p))
		line[0] = 0;
	int rc = pclose(p);
	if (rc != 0 || sscanf(line, "zookeeper=127.0.0.1:%d", &zk_port) != 1) {
		fprintf(stderr,
			"test_zk: FAIL: cannot start a private ZooKeeper (tests/cluster/zk.sh, see "
			"above); it needs Debian's zookeeper package: apt-get install zookeeper\n");
		return -1;
	}
	snprintf(zk_addr, sizeof(zk_addr), "127.0.0.1:%d", zk_port);
	return 0;
}

static void zk_down(void)
{
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "bash '%s' stop '%s' && rm -rf '%s'", ZK_SH, zk_dir, zk_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "test_zk: could not stop ZooKeeper in %s\n", zk_dir);
}

int main(void)
{
	if (zk_up() < 0) {
		if (zk_dir[0])
			zk_down();
		return 1;
	}
	Suite *s = suite_create("zk");
	TCase *tc = tcase_create("zk");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, operations_answer_on_the_loop);
	tcase_add_test(tc, create_flags_ephemeral_sequential);
	tcase_add_test(tc, watches_fire_on_the_loop);
	tcase_add_test(tc, ephemeral_goes_with_its_session);
	tcase_add_test(tc, version_conflicts);
	tcase_add_test(tc, multi_is_all_or_nothing);
	tcase_add_test(tc, session_expiry_reported_and_reopened);
	tcase_add_test(tc, unreachable_fails_start_within_bound);
	tcase_add_test(tc, client_log_lines_are_ours_and_few);
	tcase_add_test(tc, client_threads_take_no_signals);
	tcase_add_test(tc, bad_connect_strings);
	tcase_add_test(tc, chroot_is_created_and_transparent);
	tcase_add_test(tc, ensure_path_creates_ancestors);
	tcase_add_test(tc, close_and_free_with_operations_pending);
	tcase_add_test(tc, free_inside_a_callback);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	zk_down();
	return failed ? 1 : 0;
}
