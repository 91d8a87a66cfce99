/*
 * The loop thread's ZooKeeper session (see zk.h) over libzookeeper_mt.
 *
 * libzookeeper_mt runs an I/O thread and a completion thread per handle
 * and calls completions and watchers on the latter.  Here those calls only
 * copy what they got into a record and append it to one mutex-protected
 * queue, then wake the loop with event_active (thread-safe once
 * evthread_use_pthreads() was called, as net/worker.c relies on too); the
 * loop drains the queue and calls the owners' callbacks.
 *
 * Every handle is one "generation".  Records of an operation or a watch
 * are listed (under the mutex) while ZooKeeper may still call back for
 * them; closing a handle (zookeeper_close joins its threads) completes the
 * operations ZooKeeper never answered with ZK_CLOSING and frees the
 * watches that never fired, so nothing leaks whatever the library does at
 * close.  Session events and watches of an old generation are dropped;
 * operation callbacks always run once.
 *
 * Must not depend on: protocol front ends, the broker core's state
 * (core/log.h only).
 */
#include "cluster/zk.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zookeeper/zookeeper.h>

#include "core/log.h"

_Static_assert(ZK_OK == ZOK && ZK_SYSTEMERROR == ZSYSTEMERROR &&
		       ZK_CONNECTIONLOSS == ZCONNECTIONLOSS &&
		       ZK_MARSHALLINGERROR == ZMARSHALLINGERROR &&
		       ZK_OPERATIONTIMEOUT == ZOPERATIONTIMEOUT && ZK_BADARGUMENTS == ZBADARGUMENTS &&
		       ZK_INVALIDSTATE == ZINVALIDSTATE && ZK_NONODE == ZNONODE &&
		       ZK_NOAUTH == ZNOAUTH && ZK_BADVERSION == ZBADVERSION &&
		       ZK_NOCHILDRENFOREPHEMERALS == ZNOCHILDRENFOREPHEMERALS &&
		       ZK_NODEEXISTS == ZNODEEXISTS && ZK_NOTEMPTY == ZNOTEMPTY &&
		       ZK_SESSIONEXPIRED == ZSESSIONEXPIRED && ZK_CLOSING == ZCLOSING &&
		       ZK_RUNTIMEINCONSISTENCY == ZRUNTIMEINCONSISTENCY,
	       "zk.h's return codes are ZooKeeper's");

#define SUB "zookeeper"
#define PATHBUF 1024 /* created paths of a multi */
#define MULTI_MAX 1000
#define CLOSE_WAIT_MS 2000 /* for answers still owed when a session closes */

enum msg_kind { M_DONE, M_WATCH, M_SESSION };
struct msg {
	struct msg *next; /* mu: the queue */
	enum msg_kind kind;
};

struct watch {
	struct msg m; /* first */
	struct watch *prev, *next; /* mu: zk->watches while ZooKeeper holds it */
	struct zk *zk;
	unsigned gen;
	zk_watch_fn fn;
	void *ctx;
	char *path; /* owned */
	int event;
};

enum op_kind { OP_CREATE, OP_DELETE, OP_GET, OP_SET, OP_EXISTS, OP_CHILDREN, OP_MULTI };
struct op {
	struct msg m; /* first */
	struct op *prev, *next; /* mu: zk->ops while ZooKeeper owes its completion */
	struct zk *zk;
	unsigned gen;
	enum op_kind kind;
	zk_done_fn done;
	void *ctx;
	int ensure;        /* zk_ensure_path: ZK_NODEEXISTS is success */
	char *path;        /* owned */
	struct watch *w;   /* the watch it sets, until its completion */
	int rc;
	char *rpath;       /* owned: create's result */
	char *data;        /* owned: get's result, NUL-terminated */
	size_t len;
	struct Stat st;
	int has_stat;
	char **children;   /* owned */
	size_t nchildren;
	/* multi */
	size_t nops;
	zoo_op_t *zops;    /* owned */
	zoo_op_result_t *zres; /* owned */
	struct Stat *zstats;   /* owned: one per op */
	char *pathbufs;    /* owned: PATHBUF per op */
	char **copies;     /* owned: paths and data of the ops, 2 per op */
	struct zk_op_result *ores; /* owned */
	enum zk_op_type *types;    /* owned */
};

struct sess_msg {
	struct msg m; /* first */
	unsigned gen;
	int state;
	clientid_t cid;
};

/* The context of a handle's global watcher (owned by zk until the handle
 * is closed). */
struct sess {
	struct zk *zk;
	unsigned gen;
};

struct zk {
	struct event_base *base; /* borrowed */
	struct event *ev;        /* owned: drains the queue on the loop */
	char *connect;           /* owned */
	char *hosts;             /* owned: connect without the chroot */
	char *chroot;            /* owned: NULL or "/a/b" */
	uint32_t session_timeout_ms;
	zk_session_fn on_session;
	void *ctx;
	zhandle_t *zh;           /* loop: the open handle, NULL when none */
	struct sess *sess;       /* owned: zh's watcher context */
	pthread_mutex_t mu;
	pthread_cond_t cv;       /* zstate changed */
	unsigned gen;            /* mu (written by the loop only) */
	int zstate;              /* mu: zh's last session state, 0 before any */
	clientid_t cid;          /* mu: zh's session once connected */
	struct msg *qhead, *qtail; /* mu */
	struct watch *watches;   /* mu */
	struct op *ops;          /* mu */
	/* loop thread */
	int connected;
	int64_t session_id;
	char passwd[16];
	int draining, free_pending;
};

/* ---- ZooKeeper's log lines into ours --------------------------------- */

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
#define LOG_RECENT 8
static struct {
	char body[160];
	time_t first;
	unsigned repeats;
} log_recent[LOG_RECENT]; /* log_mu */

/* 1 when body was written in the last minute (then it is counted, not
 * written again); *repeats: how often it was held back before. */
static int log_seen(const char *body, time_t now, unsigned *repeats)
{
	size_t oldest = 0;
	*repeats = 0;
	pthread_mutex_lock(&log_mu);
	for (size_t i = 0; i < LOG_RECENT; i++) {
		if (strncmp(log_recent[i].body, body, sizeof(log_recent[i].body) - 1) == 0 &&
		    log_recent[i].body[0]) {
			if (now - log_recent[i].first < 60) {
				log_recent[i].repeats++;
				pthread_mutex_unlock(&log_mu);
				return 1;
			}
			oldest = i;
			break;
		}
		if (log_recent[i].first < log_recent[oldest].first)
			oldest = i;
	}
	if (strncmp(log_recent[oldest].body, body, sizeof(log_recent[oldest].body) - 1) == 0)
		*repeats = log_recent[oldest].repeats;
	snprintf(log_recent[oldest].body, sizeof(log_recent[oldest].body), "%s", body);
	log_recent[oldest].first = now;
	log_recent[oldest].repeats = 0;
	pthread_mutex_unlock(&log_mu);
	return 0;
}

/*
 * libzookeeper formats "TIME:PID(0xTID):ZOO_LEVEL@function@line: text".
 * Its errors (a refused connection, at every retry) become warnings, its
 * warnings info lines, and a line already written in the last minute is
 * counted instead of written again (a down ensemble must not flood the
 * log); its info and debug lines are our debug.  Our own session lines
 * (connected, disconnected, expired) say what matters.
 */
static void zk_log_line(const char *message)
{
	static const struct {
		const char *tag;
		enum tdm_log_level level;
	} levels[] = {
		{ "ZOO_ERROR@", TDM_LOG_WARNING },
		{ "ZOO_WARN@", TDM_LOG_INFO },
		{ "ZOO_INFO@", TDM_LOG_DEBUG },
		{ "ZOO_DEBUG@", TDM_LOG_DEBUG },
	};
	enum tdm_log_level level = TDM_LOG_DEBUG;
	const char *text = message;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		const char *p = strstr(message, levels[i].tag);
		if (p) {
			level = levels[i].level;
			text = p + strlen(levels[i].tag);
			break;
		}
	}
	if (!tdm_log_enabled(level))
		return;
	/* "function@line: text" -> "function: text" */
	const char *at = strchr(text, '@'), *colon = at ? strstr(at, ": ") : NULL;
	int fn_len = at && colon ? (int)(at - text) : 0;
	const char *body = at && colon ? colon + 2 : text;
	unsigned repeats = 0;
	if (level != TDM_LOG_DEBUG && log_seen(body, time(NULL), &repeats))
		return;
	if (repeats)
		tdm_log(level, SUB, "%.*s%s%s (and %u more times in the minute before)", fn_len, text,
			fn_len ? ": " : "", body, repeats);
	else
		tdm_log(level, SUB, "%.*s%s%s", fn_len, text, fn_len ? ": " : "", body);
}

static pthread_once_t log_once = PTHREAD_ONCE_INIT;
static void log_setup(void)
{
	zoo_set_debug_level(tdm_log_enabled(TDM_LOG_DEBUG) ? ZOO_LOG_LEVEL_INFO : ZOO_LOG_LEVEL_WARN);
}

/* ---- the queue --------------------------------------------------------- */

/* Under mu. */
static void push(struct zk *zk, struct msg *m)
{
	m->next = NULL;
	if (zk->qtail)
		zk->qtail->next = m;
	else
		zk->qhead = m;
	zk->qtail = m;
	event_active(zk->ev, 0, 0);
}

static void watch_free(struct watch *w)
{
	if (!w)
		return;
	free(w->path);
	free(w);
}

static void op_free(struct op *op)
{
	if (!op)
		return;
	free(op->path);
	free(op->rpath);
	free(op->data);
	for (size_t i = 0; i < op->nchildren; i++)
		free(op->children[i]);
	free(op->children);
	free(op->zops);
	free(op->zres);
	free(op->zstats);
	free(op->pathbufs);
	if (op->copies)
		for (size_t i = 0; i < 2 * op->nops; i++)
			free(op->copies[i]);
	free(op->copies);
	free(op->ores);
	free(op->types);
	free(op);
}

/* Under mu: list links. */
static void ops_link(struct zk *zk, struct op *op)
{
	op->prev = NULL;
	op->next = zk->ops;
	if (zk->ops)
		zk->ops->prev = op;
	zk->ops = op;
}
static void ops_unlink(struct zk *zk, struct op *op)
{
	if (op->prev)
		op->prev->next = op->next;
	else if (zk->ops == op)
		zk->ops = op->next;
	if (op->next)
		op->next->prev = op->prev;
	op->prev = op->next = NULL;
}
static void watches_link(struct zk *zk, struct watch *w)
{
	w->prev = NULL;
	w->next = zk->watches;
	if (zk->watches)
		zk->watches->prev = w;
	zk->watches = w;
}
static void watches_unlink(struct zk *zk, struct watch *w)
{
	if (w->prev)
		w->prev->next = w->next;
	else if (zk->watches == w)
		zk->watches = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
}

/* ---- ZooKeeper's threads ------------------------------------------------ */

static void session_watcher(zhandle_t *zh, int type, int state, const char *path, void *p)
{
	(void)path;
	struct sess *s = p;
	struct zk *zk = s->zk;
	if (type != ZOO_SESSION_EVENT)
		return; /* node watches use their own watcher (the w* calls) */
	struct sess_msg *m = calloc(1, sizeof(*m));
	pthread_mutex_lock(&zk->mu);
	if (s->gen == zk->gen) {
		zk->zstate = state;
		if (state == ZOO_CONNECTED_STATE || state == ZOO_READONLY_STATE) {
			const clientid_t *cid = zoo_client_id(zh);
			if (cid)
				zk->cid = *cid;
		}
		pthread_cond_broadcast(&zk->cv);
		if (m) {
			m->m.kind = M_SESSION;
			m->gen = s->gen;
			m->state = state;
			m->cid = zk->cid;
			push(zk, &m->m);
			m = NULL;
		}
	}
	pthread_mutex_unlock(&zk->mu);
	free(m);
}

static void watch_fired(zhandle_t *zh, int type, int state, const char *path, void *p)
{
	(void)zh, (void)state, (void)path;
	struct watch *w = p;
	struct zk *zk = w->zk;
	if (type == ZOO_SESSION_EVENT)
		return; /* the session watcher reports those; the watch stays */
	pthread_mutex_lock(&zk->mu);
	watches_unlink(zk, w);
	w->event = type;
	push(zk, &w->m);
	pthread_mutex_unlock(&zk->mu);
}

/* The end of every completion: the watch stays registered only when
 * watch_set, the record goes to the loop. */
static void op_finish(struct op *op, int rc, int watch_set)
{
	struct zk *zk = op->zk;
	pthread_mutex_lock(&zk->mu);
	op->rc = rc;
	ops_unlink(zk, op);
	if (op->w && !watch_set) {
		watches_unlink(zk, op->w);
		watch_free(op->w);
	}
	op->w = NULL;
	push(zk, &op->m);
	pthread_cond_broadcast(&zk->cv); /* close_handle may wait for the last one */
	pthread_mutex_unlock(&zk->mu);
}

static void on_string(int rc, const char *value, const void *data)
{
	struct op *op = (struct op *)data;
	if (rc == ZOK && value)
		op->rpath = strdup(value);
	op_finish(op, rc == ZOK && value && !op->rpath ? ZSYSTEMERROR : rc, 0);
}

static void on_void(int rc, const void *data)
{
	op_finish((struct op *)data, rc, 0);
}

static void on_data(int rc, const char *value, int value_len, const struct Stat *stat,
		    const void *data)
{
	struct op *op = (struct op *)data;
	if (rc == ZOK) {
		if (stat) {
			op->st = *stat;
			op->has_stat = 1;
		}
		if (value && value_len >= 0) {
			op->data = malloc((size_t)value_len + 1);
			if (!op->data) {
				op_finish(op, ZSYSTEMERROR, 1);
				return;
			}
			memcpy(op->data, value, (size_t)value_len);
			op->data[value_len] = 0;
			op->len = (size_t)value_len;
		}
	}
	op_finish(op, rc, rc == ZOK);
}

static void on_stat(int rc, const struct Stat *stat, const void *data)
{
	struct op *op = (struct op *)data;
	if (rc == ZOK && stat) {
		op->st = *stat;
		op->has_stat = 1;
	}
	/* exists sets its watch for a missing node too */
	op_finish(op, rc, rc == ZOK || (op->kind == OP_EXISTS && rc == ZNONODE));
}

static void on_children(int rc, const struct String_vector *strings, const struct Stat *stat,
			const void *data)
{
	struct op *op = (struct op *)data;
	if (rc == ZOK) {
		if (stat) {
			op->st = *stat;
			op->has_stat = 1;
		}
		if (strings && strings->count > 0) {
			op->children = calloc((size_t)strings->count, sizeof(char *));
			if (!op->children) {
				op_finish(op, ZSYSTEMERROR, 1);
				return;
			}
			for (int32_t i = 0; i < strings->count; i++) {
				op->children[i] = strdup(strings->data[i]);
				if (!op->children[i]) {
					op_finish(op, ZSYSTEMERROR, 1);
					return;
				}
				op->nchildren++;
			}
		}
	}
	op_finish(op, rc, rc == ZOK);
}

/* ---- the loop ------------------------------------------------------------ */

static void zk_free_now(struct zk *zk);

static void stat_copy(struct zk_stat *out, const struct Stat *s)
{
	*out = (struct zk_stat){
		.czxid = s->czxid, .mzxid = s->mzxid, .pzxid = s->pzxid,
		.ctime = s->ctime, .mtime = s->mtime,
		.version = s->version, .cversion = s->cversion, .aversion = s->aversion,
		.ephemeral_owner = s->ephemeralOwner,
		.data_length = s->dataLength, .num_children = s->numChildren,
	};
}

static void deliver_op(struct op *op)
{
	struct zk_result res = { .rc = op->rc, .path = op->path };
	struct zk_stat st;
	if (op->ensure && res.rc == ZNODEEXISTS)
		res.rc = ZOK;
	if (op->kind == OP_CREATE && op->rc == ZOK && op->rpath)
		res.path = op->rpath;
	if (op->kind == OP_MULTI) {
		res.path = NULL;
		if (op->ores) {
			/* the server's per-op answers, when it gave them (else
			 * the sentinel 1 is still there: the whole multi's rc) */
			int answered = op->zres && op->zres[0].err != 1;
			for (size_t i = 0; i < op->nops; i++) {
				struct zk_op_result *o = &op->ores[i];
				int orc = answered ? op->zres[i].err : op->rc;
				*o = (struct zk_op_result){ .rc = orc, .version = -1 };
				if (orc == ZOK && op->types[i] == ZK_OP_CREATE)
					o->path = op->pathbufs + i * PATHBUF; /* chroot stripped by the library */
				if (orc == ZOK && op->types[i] == ZK_OP_SET)
					o->version = op->zstats[i].version;
			}
			res.ops = op->ores;
			res.nops = op->nops;
		}
	}
	if (op->data) {
		res.data = op->data;
		res.len = op->len;
	}
	if (op->has_stat && op->rc == ZOK) {
		stat_copy(&st, &op->st);
		res.stat = &st;
	}
	res.children = op->children;
	res.nchildren = op->nchildren;
	if (op->done)
		op->done(op->ctx, &res);
}

static void deliver_session(struct zk *zk, struct sess_msg *m)
{
	int ev = 0;
	if (m->gen != zk->gen)
		return;
	if (m->state == ZOO_CONNECTED_STATE || m->state == ZOO_READONLY_STATE) {
		if (zk->connected && zk->session_id == m->cid.client_id)
			return;
		zk->connected = 1;
		zk->session_id = m->cid.client_id;
		memcpy(zk->passwd, m->cid.passwd, sizeof(zk->passwd));
		tdm_info(SUB, "session 0x%llx connected to %s", (unsigned long long)zk->session_id,
			 zk->connect);
		ev = ZK_SESSION_CONNECTED;
	} else if (m->state == ZOO_EXPIRED_SESSION_STATE || m->state == ZOO_AUTH_FAILED_STATE) {
		tdm_warn(SUB, "session 0x%llx %s", (unsigned long long)zk->session_id,
			 m->state == ZOO_EXPIRED_SESSION_STATE ? "expired" : "failed authentication");
		zk->connected = 0;
		zk->session_id = 0;
		ev = ZK_SESSION_EXPIRED;
	} else { /* connecting, associating: the connection is gone */
		if (!zk->connected)
			return;
		tdm_warn(SUB, "session 0x%llx disconnected from %s, reconnecting",
			 (unsigned long long)zk->session_id, zk->hosts);
		zk->connected = 0;
		ev = ZK_SESSION_DISCONNECTED;
	}
	if (zk->on_session)
		zk->on_session(zk->ctx, (enum zk_session_event)ev);
}

static void drain(evutil_socket_t fd, short what, void *p)
{
	(void)fd, (void)what;
	struct zk *zk = p;
	pthread_mutex_lock(&zk->mu);
	struct msg *list = zk->qhead;
	zk->qhead = zk->qtail = NULL;
	pthread_mutex_unlock(&zk->mu);
	zk->draining = 1;
	while (list) {
		struct msg *m = list;
		list = m->next;
		switch (m->kind) {
		case M_DONE:
			if (!zk->free_pending)
				deliver_op((struct op *)m);
			op_free((struct op *)m);
			break;
		case M_WATCH: {
			struct watch *w = (struct watch *)m;
			if (!zk->free_pending && w->gen == zk->gen)
				w->fn(w->ctx, w->event, w->path);
			watch_free(w);
			break;
		}
		case M_SESSION:
			if (!zk->free_pending)
				deliver_session(zk, (struct sess_msg *)m);
			free(m);
			break;
		}
	}
	zk->draining = 0;
	if (zk->free_pending)
		zk_free_now(zk);
}

/* ---- sessions ------------------------------------------------------------ */

int zk_connect_check(const char *connect, char *err, size_t errlen)
{
	if (!connect || !*connect) {
		snprintf(err, errlen, "empty ZooKeeper connect string");
		return -1;
	}
	const char *slash = strchr(connect, '/');
	size_t hlen = slash ? (size_t)(slash - connect) : strlen(connect);
	const char *p = connect, *end = connect + hlen;
	if (hlen == 0) {
		snprintf(err, errlen, "ZooKeeper connect string '%s' names no host:port", connect);
		return -1;
	}
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *e = comma ? comma : end;
		const char *colon = NULL;
		for (const char *q = p; q < e; q++)
			if (*q == ':')
				colon = q;
		long port = 0;
		int digits = 0;
		if (colon)
			for (const char *q = colon + 1; q < e; q++) {
				if (*q < '0' || *q > '9' || ++digits > 5) {
					port = -1;
					break;
				}
				port = port * 10 + (*q - '0');
			}
		if (!colon || colon == p || digits == 0 || port < 1 || port > 65535) {
			snprintf(err, errlen,
				 "bad ZooKeeper server '%.*s' in '%s' (want host:port, port 1..65535)",
				 (int)(e - p), p, connect);
			return -1;
		}
		p = comma ? comma + 1 : e;
		if (comma && p == end) {
			snprintf(err, errlen, "ZooKeeper connect string '%s' ends with a comma", connect);
			return -1;
		}
	}
	if (slash) {
		size_t clen = strlen(slash);
		if (clen > 1 && (slash[clen - 1] == '/' || strstr(slash, "//"))) {
			snprintf(err, errlen, "bad ZooKeeper chroot '%s' in '%s'", slash, connect);
			return -1;
		}
	}
	return 0;
}

struct zk *zk_new(struct event_base *base, const char *connect, uint32_t session_timeout_ms,
		  zk_session_fn on_session, void *ctx, char *err, size_t errlen)
{
	if (zk_connect_check(connect, err, errlen) < 0)
		return NULL;
	struct zk *zk = calloc(1, sizeof(*zk));
	if (!zk)
		goto oom;
	pthread_mutex_init(&zk->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&zk->cv, &ca);
	pthread_condattr_destroy(&ca);
	zk->base = base;
	zk->session_timeout_ms = session_timeout_ms;
	zk->on_session = on_session;
	zk->ctx = ctx;
	zk->connect = strdup(connect);
	const char *slash = strchr(connect, '/');
	zk->hosts = slash ? strndup(connect, (size_t)(slash - connect)) : strdup(connect);
	if (slash && strcmp(slash, "/") != 0 && !(zk->chroot = strdup(slash)))
		goto oom;
	zk->ev = event_new(base, -1, 0, drain, zk);
	if (!zk->connect || !zk->hosts || !zk->ev)
		goto oom;
	pthread_once(&log_once, log_setup);
	return zk;
oom:
	snprintf(err, errlen, "out of memory");
	zk_free(zk);
	return NULL;
}

static void deadline_after(struct timespec *ts, uint32_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* Closes zh (if any): completes what ZooKeeper still owes with ZK_CLOSING,
 * frees the watches that can no longer fire. */
static void close_handle(struct zk *zk)
{
	if (!zk->zh)
		return;
	zhandle_t *zh = zk->zh;
	struct sess *s = zk->sess;
	struct timespec deadline;
	/* libzookeeper_mt neither calls nor frees the completions still owed
	 * when the handle closes (it queues them for its completion thread,
	 * already gone): while connected, let the server answer them first,
	 * for a bounded time.  What is left is completed below. */
	deadline_after(&deadline, CLOSE_WAIT_MS);
	pthread_mutex_lock(&zk->mu);
	while (zk->ops && zk->zstate == ZOO_CONNECTED_STATE &&
	       pthread_cond_timedwait(&zk->cv, &zk->mu, &deadline) != ETIMEDOUT)
		;
	unsigned old = zk->gen++;
	zk->zstate = 0;
	memset(&zk->cid, 0, sizeof(zk->cid));
	pthread_mutex_unlock(&zk->mu);
	zk->zh = NULL;
	zk->sess = NULL;
	zk->connected = 0;
	zk->session_id = 0;
	zookeeper_close(zh); /* joins its threads: nothing calls back after this */
	pthread_mutex_lock(&zk->mu);
	for (struct op *op = zk->ops, *next; op; op = next) {
		next = op->next;
		if (op->gen != old)
			continue;
		ops_unlink(zk, op);
		if (op->w) {
			watches_unlink(zk, op->w);
			watch_free(op->w);
			op->w = NULL;
		}
		op->rc = ZCLOSING;
		push(zk, &op->m);
	}
	for (struct watch *w = zk->watches, *next; w; w = next) {
		next = w->next;
		if (w->gen != old)
			continue;
		watches_unlink(zk, w);
		watch_free(w);
	}
	pthread_mutex_unlock(&zk->mu);
	free(s);
}

/*
 * zookeeper_init2 with every signal blocked: its I/O and completion threads
 * inherit the mask they are created with and must take no signal (as
 * net/worker.c's helpers): a SIGTERM must reach the loop thread, which
 * blocks it while it changes how stop signals are handled at shutdown;
 * delivered to one of these threads in that window, the default action
 * would kill the process.
 */
static zhandle_t *init_quiet(const char *hosts, watcher_fn fn, uint32_t timeout_ms, void *ctx)
{
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	errno = 0;
	zhandle_t *zh = zookeeper_init2(hosts, fn, (int)timeout_ms, NULL, ctx, ZOO_NO_LOG_CLIENTENV,
					zk_log_line);
	int saved = errno;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return zh;
}

int zk_open(struct zk *zk, char *err, size_t errlen)
{
	close_handle(zk);
	struct sess *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->zk = zk;
	pthread_mutex_lock(&zk->mu);
	s->gen = zk->gen;
	pthread_mutex_unlock(&zk->mu);
	zhandle_t *zh = init_quiet(zk->connect, session_watcher, zk->session_timeout_ms, s);
	if (!zh) {
		snprintf(err, errlen, "cannot start a ZooKeeper session for %s: %s", zk->connect,
			 errno ? strerror(errno) : "bad connect string");
		free(s);
		return -1;
	}
	zk->zh = zh;
	zk->sess = s;
	tdm_debug(SUB, "connecting to %s (session timeout %u ms)", zk->connect,
		  zk->session_timeout_ms);
	return 0;
}

/* A blocking helper for the start-up: one handle without chroot, its
 * state and one outstanding create, under its own lock. */
struct boot {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int state;
	int pending, rc;
};

static void boot_watcher(zhandle_t *zh, int type, int state, const char *path, void *p)
{
	(void)zh, (void)path;
	struct boot *b = p;
	if (type != ZOO_SESSION_EVENT)
		return;
	pthread_mutex_lock(&b->mu);
	b->state = state;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

static void boot_created(int rc, const char *value, const void *data)
{
	(void)value;
	struct boot *b = (struct boot *)data;
	pthread_mutex_lock(&b->mu);
	b->rc = rc;
	b->pending = 0;
	pthread_cond_broadcast(&b->cv);
	pthread_mutex_unlock(&b->mu);
}

/* Creates zk's chroot and its ancestors (empty, persistent) through a
 * handle without chroot, until the deadline.  0 or -1. */
static int make_chroot(struct zk *zk, const struct timespec *deadline, uint32_t timeout_ms,
		       char *err, size_t errlen)
{
	struct boot b = { .state = 0 };
	int ret = -1;
	pthread_mutex_init(&b.mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b.cv, &ca);
	pthread_condattr_destroy(&ca);
	zhandle_t *zh = init_quiet(zk->hosts, boot_watcher, zk->session_timeout_ms, &b);
	if (!zh) {
		snprintf(err, errlen, "cannot start a ZooKeeper session for %s", zk->hosts);
		goto out;
	}
	pthread_mutex_lock(&b.mu);
	while (b.state != ZOO_CONNECTED_STATE &&
	       pthread_cond_timedwait(&b.cv, &b.mu, deadline) != ETIMEDOUT)
		;
	int connected = b.state == ZOO_CONNECTED_STATE;
	pthread_mutex_unlock(&b.mu);
	if (!connected) {
		snprintf(err, errlen, "cannot reach ZooKeeper at %s within %u ms", zk->hosts,
			 timeout_ms);
		goto out;
	}
	for (const char *p = zk->chroot + 1;; p++) {
		if (*p != '/' && *p != 0)
			continue;
		char path[PATHBUF];
		snprintf(path, sizeof(path), "%.*s", (int)(p - zk->chroot), zk->chroot);
		pthread_mutex_lock(&b.mu);
		b.pending = 1;
		int rc = zoo_acreate(zh, path, NULL, -1, &ZOO_OPEN_ACL_UNSAFE, ZOO_PERSISTENT,
				     boot_created, &b);
		if (rc != ZOK)
			b.pending = 0, b.rc = rc;
		while (b.pending && pthread_cond_timedwait(&b.cv, &b.mu, deadline) != ETIMEDOUT)
			;
		int pending = b.pending;
		rc = b.rc;
		pthread_mutex_unlock(&b.mu);
		if (pending) {
			snprintf(err, errlen, "ZooKeeper at %s did not create %s within %u ms",
				 zk->hosts, path, timeout_ms);
			goto out;
		}
		if (rc != ZOK && rc != ZNODEEXISTS) {
			snprintf(err, errlen, "cannot create the ZooKeeper chroot %s at %s: %s", path,
				 zk->hosts, zerror(rc));
			goto out;
		}
		if (!*p)
			break;
	}
	ret = 0;
out:
	if (zh)
		zookeeper_close(zh); /* a pending create completes (ZCLOSING) in here */
	pthread_cond_destroy(&b.cv);
	pthread_mutex_destroy(&b.mu);
	return ret;
}

int zk_start(struct zk *zk, uint32_t timeout_ms, char *err, size_t errlen)
{
	struct timespec deadline;
	deadline_after(&deadline, timeout_ms);
	pthread_mutex_lock(&zk->mu);
	int dead = zk->zstate == ZOO_EXPIRED_SESSION_STATE || zk->zstate == ZOO_AUTH_FAILED_STATE;
	pthread_mutex_unlock(&zk->mu);
	if ((!zk->zh || dead) && zk_open(zk, err, errlen) < 0)
		return -1;
	pthread_mutex_lock(&zk->mu);
	while (zk->zstate != ZOO_CONNECTED_STATE && zk->zstate != ZOO_EXPIRED_SESSION_STATE &&
	       zk->zstate != ZOO_AUTH_FAILED_STATE &&
	       pthread_cond_timedwait(&zk->cv, &zk->mu, &deadline) != ETIMEDOUT)
		;
	int state = zk->zstate;
	pthread_mutex_unlock(&zk->mu);
	if (state != ZOO_CONNECTED_STATE) {
		if (state == ZOO_AUTH_FAILED_STATE)
			snprintf(err, errlen, "ZooKeeper at %s refused the session (authentication)",
				 zk->hosts);
		else
			snprintf(err, errlen, "cannot reach ZooKeeper at %s within %u ms", zk->hosts,
				 timeout_ms);
		return -1;
	}
	if (zk->chroot && make_chroot(zk, &deadline, timeout_ms, err, errlen) < 0)
		return -1;
	return 0;
}

void zk_close(struct zk *zk)
{
	if (zk)
		close_handle(zk);
}

static void zk_free_now(struct zk *zk)
{
	close_handle(zk);
	struct msg *list = zk->qhead; /* the threads are gone: no lock needed, but cheap */
	zk->qhead = zk->qtail = NULL;
	while (list) {
		struct msg *m = list;
		list = m->next;
		if (m->kind == M_DONE)
			op_free((struct op *)m);
		else if (m->kind == M_WATCH)
			watch_free((struct watch *)m);
		else
			free(m);
	}
	if (zk->ev)
		event_free(zk->ev);
	pthread_cond_destroy(&zk->cv);
	pthread_mutex_destroy(&zk->mu);
	free(zk->connect);
	free(zk->hosts);
	free(zk->chroot);
	free(zk);
}

void zk_free(struct zk *zk)
{
	if (!zk)
		return;
	if (zk->draining) { /* called from one of our callbacks: drain frees it */
		zk->free_pending = 1;
		close_handle(zk);
		return;
	}
	zk_free_now(zk);
}

int zk_connected(const struct zk *zk)
{
	return zk->connected;
}

int64_t zk_session_id(const struct zk *zk)
{
	return zk->session_id; /* kept while disconnected: the session may live */
}

int zk_session_credentials(const struct zk *zk, int64_t *id, char passwd[16])
{
	if (!zk->session_id)
		return -1;
	*id = zk->session_id;
	memcpy(passwd, zk->passwd, 16);
	return 0;
}

const char *zk_hosts(const struct zk *zk)
{
	return zk->hosts;
}

const char *zk_strerror(int rc)
{
	return zerror(rc);
}

/* ---- operations ----------------------------------------------------------- */

static struct op *op_new(struct zk *zk, enum op_kind kind, const char *path, zk_done_fn done,
			 void *ctx)
{
	struct op *op = calloc(1, sizeof(*op));
	if (!op)
		return NULL;
	op->m.kind = M_DONE;
	op->zk = zk;
	op->kind = kind;
	op->done = done;
	op->ctx = ctx;
	if (path && !(op->path = strdup(path))) {
		free(op);
		return NULL;
	}
	return op;
}

/* Adds a watch record for op (before it is issued). */
static int op_watch(struct op *op, zk_watch_fn fn, void *wctx)
{
	if (!fn)
		return 0;
	struct watch *w = calloc(1, sizeof(*w));
	if (!w || !(w->path = strdup(op->path))) {
		free(w);
		return -1;
	}
	w->m.kind = M_WATCH;
	w->zk = op->zk;
	w->fn = fn;
	w->ctx = wctx;
	op->w = w;
	return 0;
}

/* Lists op (and its watch) as owed by ZooKeeper, under the current
 * generation; returns the handle to issue it on, or NULL (then the op
 * was completed with ZK_INVALIDSTATE). */
static zhandle_t *op_begin(struct op *op)
{
	struct zk *zk = op->zk;
	pthread_mutex_lock(&zk->mu);
	if (!zk->zh) {
		op->rc = ZINVALIDSTATE;
		watch_free(op->w);
		op->w = NULL;
		push(zk, &op->m);
		pthread_mutex_unlock(&zk->mu);
		return NULL;
	}
	op->gen = zk->gen;
	ops_link(zk, op);
	if (op->w) {
		op->w->gen = zk->gen;
		watches_link(zk, op->w);
	}
	pthread_mutex_unlock(&zk->mu);
	return zk->zh;
}

/* The issuing call returned rc: when it is not ZOK no completion will
 * come, so the op completes now (on the loop, later). */
static void op_issued(struct op *op, int rc)
{
	if (rc != ZOK)
		op_finish(op, rc, 0);
}

static int create_mode(int flags)
{
	int eph = flags & ZK_EPHEMERAL, seq = flags & ZK_SEQUENTIAL;
	return eph ? (seq ? ZOO_EPHEMERAL_SEQUENTIAL : ZOO_EPHEMERAL)
		   : (seq ? ZOO_PERSISTENT_SEQUENTIAL : ZOO_PERSISTENT);
}

static int do_create(struct zk *zk, const char *path, const void *data, size_t len, int flags,
		     int ensure, zk_done_fn done, void *ctx)
{
	struct op *op = op_new(zk, OP_CREATE, path, done, ctx);
	if (!op)
		return -1;
	op->ensure = ensure;
	zhandle_t *zh = op_begin(op);
	if (!zh)
		return 0;
	if (len > INT32_MAX)
		op_finish(op, ZBADARGUMENTS, 0);
	else
		op_issued(op, zoo_acreate(zh, path, data ? data : "", data ? (int)len : 0,
					  &ZOO_OPEN_ACL_UNSAFE, create_mode(flags), on_string, op));
	return 0;
}

int zk_create(struct zk *zk, const char *path, const void *data, size_t len, int flags,
	      zk_done_fn done, void *ctx)
{
	return do_create(zk, path, data, len, flags, 0, done, ctx);
}

int zk_delete(struct zk *zk, const char *path, int32_t version, zk_done_fn done, void *ctx)
{
	struct op *op = op_new(zk, OP_DELETE, path, done, ctx);
	if (!op)
		return -1;
	zhandle_t *zh = op_begin(op);
	if (zh)
		op_issued(op, zoo_adelete(zh, path, version, on_void, op));
	return 0;
}

int zk_get(struct zk *zk, const char *path, zk_watch_fn watch, void *wctx, zk_done_fn done,
	   void *ctx)
{
	struct op *op = op_new(zk, OP_GET, path, done, ctx);
	if (!op || op_watch(op, watch, wctx) < 0) {
		op_free(op);
		return -1;
	}
	zhandle_t *zh = op_begin(op);
	if (zh)
		op_issued(op, zoo_awget(zh, path, op->w ? watch_fired : NULL, op->w, on_data, op));
	return 0;
}

int zk_set(struct zk *zk, const char *path, const void *data, size_t len, int32_t version,
	   zk_done_fn done, void *ctx)
{
	struct op *op = op_new(zk, OP_SET, path, done, ctx);
	if (!op)
		return -1;
	zhandle_t *zh = op_begin(op);
	if (!zh)
		return 0;
	if (len > INT32_MAX)
		op_finish(op, ZBADARGUMENTS, 0);
	else
		op_issued(op, zoo_aset(zh, path, data ? data : "", data ? (int)len : 0, version,
				       on_stat, op));
	return 0;
}

int zk_exists(struct zk *zk, const char *path, zk_watch_fn watch, void *wctx, zk_done_fn done,
	      void *ctx)
{
	struct op *op = op_new(zk, OP_EXISTS, path, done, ctx);
	if (!op || op_watch(op, watch, wctx) < 0) {
		op_free(op);
		return -1;
	}
	zhandle_t *zh = op_begin(op);
	if (zh)
		op_issued(op, zoo_awexists(zh, path, op->w ? watch_fired : NULL, op->w, on_stat, op));
	return 0;
}

int zk_get_children(struct zk *zk, const char *path, zk_watch_fn watch, void *wctx,
		    zk_done_fn done, void *ctx)
{
	struct op *op = op_new(zk, OP_CHILDREN, path, done, ctx);
	if (!op || op_watch(op, watch, wctx) < 0) {
		op_free(op);
		return -1;
	}
	zhandle_t *zh = op_begin(op);
	if (zh)
		op_issued(op, zoo_awget_children2(zh, path, op->w ? watch_fired : NULL, op->w,
						  on_children, op));
	return 0;
}

static char *dup_bytes(const void *p, size_t n)
{
	char *s = malloc(n + 1);
	if (s) {
		if (n)
			memcpy(s, p, n);
		s[n] = 0;
	}
	return s;
}

int zk_multi(struct zk *zk, const struct zk_op *ops, size_t n, zk_done_fn done, void *ctx)
{
	struct op *op = op_new(zk, OP_MULTI, NULL, done, ctx);
	if (!op)
		return -1;
	if (n == 0 || n > MULTI_MAX) {
		if (op_begin(op))
			op_finish(op, ZBADARGUMENTS, 0);
		return 0;
	}
	op->nops = n;
	op->zops = calloc(n, sizeof(*op->zops));
	op->zres = calloc(n, sizeof(*op->zres));
	op->zstats = calloc(n, sizeof(*op->zstats));
	op->pathbufs = calloc(n, PATHBUF);
	op->copies = calloc(2 * n, sizeof(char *));
	op->ores = calloc(n, sizeof(*op->ores));
	op->types = calloc(n, sizeof(*op->types));
	if (!op->zops || !op->zres || !op->zstats || !op->pathbufs || !op->copies || !op->ores ||
	    !op->types)
		goto oom;
	int bad = 0;
	for (size_t i = 0; i < n; i++) {
		const struct zk_op *o = &ops[i];
		if (!o->path || (o->data && o->len > INT32_MAX)) {
			bad = 1;
			break;
		}
		char *path = op->copies[2 * i] = strdup(o->path);
		char *data = o->data ? (op->copies[2 * i + 1] = dup_bytes(o->data, o->len)) : NULL;
		if (!path || (o->data && !data))
			goto oom;
		int len = data ? (int)o->len : 0;
		op->types[i] = o->type;
		op->zres[i].err = 1; /* not answered (see deliver_op) */
		switch (o->type) {
		case ZK_OP_CHECK:
			zoo_check_op_init(&op->zops[i], path, o->version);
			break;
		case ZK_OP_CREATE:
			zoo_create_op_init(&op->zops[i], path, data ? data : "", len,
					   &ZOO_OPEN_ACL_UNSAFE, create_mode(o->flags),
					   op->pathbufs + i * PATHBUF, PATHBUF);
			break;
		case ZK_OP_SET:
			zoo_set_op_init(&op->zops[i], path, data ? data : "", len, o->version,
					&op->zstats[i]);
			break;
		case ZK_OP_DELETE:
			zoo_delete_op_init(&op->zops[i], path, o->version);
			break;
		default:
			bad = 1;
		}
		if (bad)
			break;
	}
	zhandle_t *zh = op_begin(op);
	if (!zh)
		return 0;
	if (bad)
		op_finish(op, ZBADARGUMENTS, 0);
	else
		op_issued(op, zoo_amulti(zh, (int)n, op->zops, op->zres, on_void, op));
	return 0;
oom:
	op_free(op);
	return -1;
}

int zk_ensure_path(struct zk *zk, const char *path, zk_done_fn done, void *ctx)
{
	if (!path || path[0] != '/' || strlen(path) >= PATHBUF)
		return do_create(zk, path ? path : "", NULL, 0, ZK_PERSISTENT, 1, done, ctx);
	if (strcmp(path, "/") == 0)
		return zk_exists(zk, path, NULL, NULL, done, ctx);
	/* One create per level, pipelined: a session's requests run in order. */
	char buf[PATHBUF];
	for (const char *p = path + 1;; p++) {
		if (*p == '/' || *p == 0) {
			snprintf(buf, sizeof(buf), "%.*s", (int)(p - path), path);
			int last = *p == 0;
			if (do_create(zk, buf, NULL, 0, ZK_PERSISTENT, 1, last ? done : NULL,
				      last ? ctx : NULL) < 0)
				return -1; /* the levels issued complete silently */
			if (last)
				break;
		}
	}
	return 0;
}
