/*
 * The ZooKeeper session of the loop thread: an asynchronous client over
 * libzookeeper_mt whose every result, watch and session event is handed
 * back to the libevent loop.
 *
 * Threading contract: libzookeeper_mt runs its own I/O and completion
 * threads; zk.c's trampolines on those threads only copy the result into a
 * mutex-protected queue and wake the loop with event_active (the process
 * must call evthread_use_pthreads() before creating the event base).  So
 * every zk_done_fn, zk_watch_fn and zk_session_fn runs on the loop thread,
 * never inline inside the call that asked for it, and the loop never waits
 * on ZooKeeper.  All functions below are for the loop thread (the one that
 * runs `base`); only zk_start blocks, and only up to its bound.
 *
 * Paths are absolute and relative to the chroot of the connect string
 * (host:port[,host:port...][/chroot]); results give them back the same way.
 *
 * Must not depend on: protocol front ends, the broker core's state (only
 * core/log.h for log lines).
 */
#ifndef TANDEM_CLUSTER_ZK_H
#define TANDEM_CLUSTER_ZK_H

#include <stddef.h>
#include <stdint.h>

#include <event2/event.h>

/* ZooKeeper's return codes (enum ZOO_ERRORS of zookeeper.h, same values:
 * zk.c checks them at compile time), so callers need not include it. */
#define ZK_OK 0
#define ZK_SYSTEMERROR (-1)
#define ZK_CONNECTIONLOSS (-4)
#define ZK_MARSHALLINGERROR (-5)
#define ZK_OPERATIONTIMEOUT (-7)
#define ZK_BADARGUMENTS (-8)
#define ZK_INVALIDSTATE (-9)  /* no session (never opened, closed, expired) */
#define ZK_NONODE (-101)
#define ZK_NOAUTH (-102)
#define ZK_BADVERSION (-103)
#define ZK_NOCHILDRENFOREPHEMERALS (-108)
#define ZK_NODEEXISTS (-110)
#define ZK_NOTEMPTY (-111)
#define ZK_SESSIONEXPIRED (-112)
#define ZK_CLOSING (-116)      /* the session was closed (zk_close, zk_open) */
#define ZK_RUNTIMEINCONSISTENCY (-2) /* multi: an earlier op of it failed */

/* zk_create flags. */
#define ZK_PERSISTENT 0
#define ZK_EPHEMERAL 1
#define ZK_SEQUENTIAL 2

/* Watch events (zookeeper.h's *_EVENT values). */
#define ZK_EV_CREATED 1
#define ZK_EV_DELETED 2
#define ZK_EV_CHANGED 3
#define ZK_EV_CHILD 4

/* Session events for the owner. */
enum zk_session_event {
	ZK_SESSION_CONNECTED = 1,    /* (re)connected; the session and its watches live */
	ZK_SESSION_DISCONNECTED = 2, /* connection lost; the session may still live: the
				      * client reconnects by itself, watches survive */
	ZK_SESSION_EXPIRED = 3,      /* the session is gone (or authentication failed):
				      * its ephemerals are deleted, its watches will never
				      * fire; call zk_open for a new one and re-read */
};

/* A node's stat (ZooKeeper's struct Stat). */
struct zk_stat {
	int64_t czxid, mzxid, pzxid;
	int64_t ctime, mtime; /* ms since the epoch */
	int32_t version, cversion, aversion;
	int64_t ephemeral_owner; /* session id, 0 for a persistent node */
	int32_t data_length, num_children;
};

/* One op of zk_multi. */
enum zk_op_type { ZK_OP_CHECK = 1, ZK_OP_CREATE, ZK_OP_SET, ZK_OP_DELETE };
struct zk_op {
	enum zk_op_type type;
	const char *path;
	const void *data; /* create, set (copied) */
	size_t len;
	int32_t version;  /* check, set, delete; -1: any */
	int flags;        /* create */
};
struct zk_op_result {
	int rc;            /* ZK_OK, the op's error, or ZK_RUNTIMEINCONSISTENCY when
			    * another op of the multi failed */
	const char *path;  /* create: the created path; NULL otherwise */
	int32_t version;   /* set: the node's new version; -1 otherwise */
};

/* What an operation's callback gets.  Everything is valid during the
 * callback only (copy what you keep). */
struct zk_result {
	int rc;                 /* ZK_OK or ZooKeeper's error */
	const char *path;       /* the path asked; create (rc ZK_OK): the created one
				 * (with the sequence number); multi: NULL */
	const char *data;       /* get: the node's data, NUL-terminated (len excludes
				 * the NUL); NULL for a node whose data is null */
	size_t len;
	const struct zk_stat *stat; /* get, set, exists, get_children when rc == ZK_OK;
				     * else NULL */
	char *const *children;  /* get_children: names (not paths), unsorted */
	size_t nchildren;
	const struct zk_op_result *ops; /* multi: one per op, in order */
	size_t nops;
};

struct zk;

/* Runs on the loop thread; res is valid for the call only. */
typedef void (*zk_done_fn)(void *ctx, const struct zk_result *res);
/* A one-shot watch fired (ZK_EV_*) on path; loop thread.  A watch set on a
 * session that expired or was closed never fires. */
typedef void (*zk_watch_fn)(void *ctx, int event, const char *path);
/* A session event (loop thread).  Events of a session replaced by zk_open
 * or closed by zk_close are not delivered. */
typedef void (*zk_session_fn)(void *ctx, enum zk_session_event ev);

/*
 * Checks a connect string "host:port[,host:port...][/chroot]" (ports
 * 1..65535, the chroot an absolute path without a trailing slash):
 * 0, or -1 with a reason in err.
 */
int zk_connect_check(const char *connect, char *err, size_t errlen);

/*
 * A client for `connect` (copied) on base, with the session timeout asked
 * of the server (zookeeper_session_timeout_ms; the server clamps it to
 * 2..20 tick times).  on_session(ctx, ev) gets the session events.  Opens
 * no session and never blocks.  NULL when connect is invalid (err says
 * why) or out of memory.
 */
struct zk *zk_new(struct event_base *base, const char *connect, uint32_t session_timeout_ms,
		  zk_session_fn on_session, void *ctx, char *err, size_t errlen);

/*
 * Opens a new session, asynchronously (ZK_SESSION_CONNECTED follows when
 * it is established).  A previous session of zk is closed first (its
 * pending operations complete with ZK_CLOSING or ZK_SESSIONEXPIRED, its
 * watches are dropped): this is how the owner re-creates the session after
 * ZK_SESSION_EXPIRED.  Does not wait for the network (host names are
 * resolved here).  0, or -1 with a reason in err.
 */
int zk_open(struct zk *zk, char *err, size_t errlen);

/*
 * Start-up: opens a session if none is open and blocks the calling (loop)
 * thread until it is connected, at most timeout_ms
 * (zookeeper_connection_timeout_ms); then creates the chroot of the
 * connect string when it does not exist (as Kafka does), in the same
 * bound.  0, or -1 with err "cannot reach ZooKeeper at HOST:PORT within N
 * ms" (or the reason the chroot could not be made).  The
 * ZK_SESSION_CONNECTED event is still delivered through the loop later.
 */
int zk_start(struct zk *zk, uint32_t timeout_ms, char *err, size_t errlen);

/*
 * Closes the session (its ephemeral nodes go at once); the object stays
 * for zk_open.  While connected, operations still pending get their
 * answers first (waiting at most 2 s); the rest complete with ZK_CLOSING
 * (their callbacks run on the loop, later); watches are dropped.  Then
 * waits for the server's answer to the close request (libzookeeper bounds
 * it to a few seconds): for shutdown, not for the hot path.
 */
void zk_close(struct zk *zk);

/*
 * Closes the session (as zk_close) and frees zk; callbacks still queued or
 * pending are dropped, never called.  NULL is fine.
 */
void zk_free(struct zk *zk);

/* 1 while the session is connected (as last reported on the loop). */
int zk_connected(const struct zk *zk);
/* The session id (ZooKeeper's, as ephemeral_owner shows it), 0 when no
 * session is established. */
int64_t zk_session_id(const struct zk *zk);
/* The session's id and password (tests: to expire it from another
 * handle); 0, or -1 when no session is established. */
int zk_session_credentials(const struct zk *zk, int64_t *id, char passwd[16]);
/* The connect string without the chroot ("host:port,..."), for messages. */
const char *zk_hosts(const struct zk *zk);
/* ZooKeeper's text for an rc ("no node", "bad version"...). */
const char *zk_strerror(int rc);

/*
 * The operations.  Each returns 0 and calls done(ctx, res) exactly once,
 * later, on the loop thread, also on failure (res->rc: ZK_INVALIDSTATE
 * without a session, ZK_BADARGUMENTS for a bad path, ZooKeeper's error
 * otherwise); or returns -1 when out of memory, and then done is never
 * called.  done may be NULL.  Data and paths are copied.  Operations of
 * one session complete in the order they were issued (ZooKeeper's FIFO
 * guarantee).
 */

/* Creates path with data (NULL with len 0: empty).  flags: ZK_PERSISTENT
 * or ZK_EPHEMERAL, | ZK_SEQUENTIAL.  res->path: the created path. */
int zk_create(struct zk *zk, const char *path, const void *data, size_t len, int flags,
	      zk_done_fn done, void *ctx);
/* Deletes path if its version is `version` (-1: any). */
int zk_delete(struct zk *zk, const char *path, int32_t version, zk_done_fn done, void *ctx);
/* Reads path (res->data, res->len, res->stat).  watch (may be NULL): a
 * one-shot watch for the node's change or deletion, set when rc is ZK_OK;
 * watch(wctx, event, path) runs on the loop when it fires. */
int zk_get(struct zk *zk, const char *path, zk_watch_fn watch, void *wctx, zk_done_fn done,
	   void *ctx);
/* Writes path's data if its version is `version` (-1: any); res->stat:
 * the new stat (res->stat->version the new version). */
int zk_set(struct zk *zk, const char *path, const void *data, size_t len, int32_t version,
	   zk_done_fn done, void *ctx);
/* Whether path exists (ZK_OK with res->stat, or ZK_NONODE).  watch: a
 * one-shot watch for its creation, change or deletion, set in both
 * cases. */
int zk_exists(struct zk *zk, const char *path, zk_watch_fn watch, void *wctx, zk_done_fn done,
	      void *ctx);
/* path's children (res->children, res->nchildren, res->stat).  watch: a
 * one-shot watch for a change of the children (ZK_EV_CHILD) or the node's
 * deletion (ZK_EV_DELETED). */
int zk_get_children(struct zk *zk, const char *path, zk_watch_fn watch, void *wctx,
		    zk_done_fn done, void *ctx);
/*
 * ops[0..n) as one transaction, all or nothing (the controller fences by
 * epoch with a ZK_OP_CHECK of /controller_epoch's version).  res->rc is
 * ZK_OK, or the first failing op's error; res->ops[i] each op's own.
 * n must be 1..1000.
 */
int zk_multi(struct zk *zk, const struct zk_op *ops, size_t n, zk_done_fn done, void *ctx);
/*
 * Makes sure path and its ancestors exist, creating the missing ones as
 * empty persistent nodes (Kafka's createRecursive).  res->rc is ZK_OK
 * when path exists in the end (also when it was there already).
 */
int zk_ensure_path(struct zk *zk, const char *path, zk_done_fn done, void *ctx);

#endif
