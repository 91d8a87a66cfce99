/*
 * libevent glue; see net.h.
 *
 * Must not depend on: protocol front ends, the broker core.
 */
#include "net/net.h"
#include "net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "util/invariant.h"

#define CLOSE_FLUSH_TIMEOUT_S 5
/* accept back-off: how long a listener sleeps after running out of
 * descriptors, and how often such trouble is logged at most */
#define BACKOFF_MS 200
#define WARN_INTERVAL_MS 10000
/* TLS: the most plaintext one record carries; what the protocol writes in
 * one loop turn is handed to OpenSSL in pieces of this size */
#define TLS_RECORD_MAX 16384

/* One line per interval, with the count of those left out. */
struct ratelog {
	int64_t last_ms;
	unsigned long suppressed;
};

struct tdm_net_backoff {
	struct evconnlistener *l;       /* borrowed */
	struct tdm_net *net;            /* borrowed */
	struct event *resume;           /* owned */
	char name[32];
	struct ratelog log;
	struct tdm_net_backoff *next;
};

/* Every back-off, found by listener: an evconnlistener's error callback
 * gets the argument of its accept callback, which for evhttp's listener is
 * evhttp's own.  Loop thread only. */
static struct tdm_net_backoff *backoffs;

struct tdm_listener {
	struct evconnlistener *l;       /* owned */
	const struct tdm_proto *proto;  /* borrowed */
	void *arg;
	struct tdm_net *net;
	struct tdm_listen_opts opts;
	size_t nconns;                  /* live connections it accepted */
	struct tdm_net_backoff *backoff; /* owned */
	struct ratelog refused;
	struct ratelog tls_errors;
	int port;                       /* bound */
	const struct tdm_net_route *routes; /* borrowed; NULL = proto only */
	size_t nroutes;
	struct tdm_listener *next;
};

struct tdm_net {
	struct event_base *base;        /* borrowed */
	struct tdm_net_limits lim;
	struct tdm_listener *listeners; /* owned list */
	struct tdm_conn *conns;         /* live connections */
	size_t nconns;
	struct tdm_conn *reap;          /* closed, waiting to be freed */
	struct event *reaper;           /* owned */
	uint64_t next_id;
	struct ratelog reserve_log;
};

static void reap_cb(evutil_socket_t fd, short what, void *arg);

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Logs what (prefixed with the count left out since the last line) unless
 * a line went out less than WARN_INTERVAL_MS ago. */
static void ratelog_warn(struct tdm_net *n, struct ratelog *r, const char *what)
{
	int64_t now = mono_ms();
	char line[256];

	if (r->last_ms && now - r->last_ms < WARN_INTERVAL_MS) {
		r->suppressed++;
		return;
	}
	if (r->suppressed)
		snprintf(line, sizeof(line), "%s (and %lu more like it in the last %lds)", what,
			 r->suppressed, (long)((now - r->last_ms) / 1000));
	else
		snprintf(line, sizeof(line), "%s", what);
	r->last_ms = now;
	r->suppressed = 0;
	if (n->lim.warn)
		n->lim.warn(line);
}

struct tdm_net *tdm_net_new(struct event_base *base, const struct tdm_net_limits *lim)
{
	struct tdm_net *n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->base = base;
	n->lim = *lim;
	n->reaper = event_new(base, -1, 0, reap_cb, n);
	if (!n->reaper) {
		free(n);
		return NULL;
	}
	return n;
}

struct event_base *tdm_net_base(struct tdm_net *n)
{
	return n->base;
}

size_t tdm_net_count(const struct tdm_net *n)
{
	return n->nconns;
}

static void conn_unlink(struct tdm_conn *c)
{
	struct tdm_net *n = c->net;
	if (c->prev)
		c->prev->next = c->next;
	else
		n->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	n->nconns--;
	if (c->listener)
		c->listener->nconns--;
}

/* TLS: the socket's own bufferevent under c->bev (it holds the encrypted
 * bytes), or NULL. */
static struct bufferevent *conn_wire(struct tdm_conn *c)
{
	return c->flush ? bufferevent_get_underlying(c->bev) : NULL;
}

/* Plaintext written and not yet handed to OpenSSL (TLS) or the socket. */
static size_t conn_queued(struct tdm_conn *c)
{
	size_t n = evbuffer_get_length(c->out);

	if (c->flush)
		n += evbuffer_get_length(bufferevent_get_output(c->bev));
	return n;
}

/* Everything written has reached the socket. */
static int conn_flushed(struct tdm_conn *c)
{
	struct bufferevent *wire = conn_wire(c);

	return conn_queued(c) == 0 &&
	       (!wire || evbuffer_get_length(bufferevent_get_output(wire)) == 0);
}

/* Ends the connection's life: no more I/O; the reaper releases the protocol
 * state and frees the struct after the current callbacks have returned. */
static void conn_kill(struct tdm_conn *c)
{
	if (c->dead)
		return;
	c->dead = 1;
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	bufferevent_setcb(c->bev, NULL, NULL, NULL, NULL);
	if (c->flush)
		event_del(c->flush);
	conn_unlink(c);
	c->reap_next = c->net->reap;
	c->net->reap = c;
	event_active(c->net->reaper, 0, 0);
}

void tdm_conn_ref(struct tdm_conn *c)
{
	TDM_ASSERT(c->refcnt > 0 && c->refcnt < UINT32_MAX); /* live, and no wrap */
	c->refcnt++;
}

void tdm_conn_unref(struct tdm_conn *c)
{
	TDM_ASSERT(c->refcnt > 0); /* an unref more than there were refs */
	if (--c->refcnt > 0)
		return;
	/* the bufferevent may outlive c (libevent frees it deferred) */
	if (c->flush) {
		struct bufferevent *wire = conn_wire(c);

		if (wire && c->wire_cb)
			evbuffer_remove_cb_entry(bufferevent_get_output(wire), c->wire_cb);
		event_free(c->flush);
		evbuffer_free(c->out); /* its own: out_cb goes with it */
	} else if (c->out_cb) {
		evbuffer_remove_cb_entry(c->out, c->out_cb);
	}
	bufferevent_free(c->bev);
	free(c);
}

static void reap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct tdm_net *n = arg;
	struct tdm_conn *c = n->reap;
	n->reap = NULL;
	while (c) {
		struct tdm_conn *next = c->reap_next;
		/* protocol state goes here, outside every callback of its own */
		if (c->proto->closed && c->ctx)
			c->proto->closed(c->ctx);
		c->ctx = NULL;
		tdm_conn_unref(c);
		c = next;
	}
}

/* Opens proto for c (the protocol chosen for it): 0, or -1 (killed). */
static int conn_open(struct tdm_conn *c, const struct tdm_proto *proto, void *arg)
{
	c->proto = proto;
	c->ctx = proto->open(c, arg);
	if (!c->ctx) {
		conn_kill(c);
		return -1;
	}
	return 0;
}

/*
 * A connection of a listener with routes: picks its protocol from the
 * first bytes of in (tdm_net_route).  1 when chosen and opened, 0 when
 * more input is needed, -1 when the connection is gone.
 */
static int sniff(struct tdm_conn *c, struct evbuffer *in)
{
	struct tdm_listener *tl = c->listener;
	uint8_t head[TDM_NET_PREFIX_MAX];
	size_t have = evbuffer_get_length(in);
	int undecided = 0;

	if (!tl) { /* shut down meanwhile */
		conn_kill(c);
		return -1;
	}
	if (have > sizeof(head))
		have = sizeof(head);
	if (evbuffer_copyout(in, head, have) != (ev_ssize_t)have) {
		conn_kill(c);
		return -1;
	}
	for (size_t i = 0; i < tl->nroutes; i++) {
		const struct tdm_net_route *r = &tl->routes[i];
		size_t n = have < r->len ? have : r->len;

		if (memcmp(head, r->prefix, n) != 0)
			continue;
		if (n < r->len) { /* may still be this one */
			undecided = 1;
			continue;
		}
		c->sniffing = 0;
		/* the route's own idle rule replaces the listener's */
		struct timeval idle = { r->idle_timeout_ms / 1000,
					(r->idle_timeout_ms % 1000) * 1000 };
		bufferevent_set_timeouts(c->bev, r->idle_timeout_ms ? &idle : NULL, NULL);
		return conn_open(c, r->proto, r->arg) < 0 ? -1 : 1;
	}
	if (undecided)
		return 0;
	c->sniffing = 0;
	return conn_open(c, tl->proto, tl->arg) < 0 ? -1 : 1;
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct tdm_conn *c = arg;
	if (c->closing)
		return;
	if (c->sniffing && sniff(c, bufferevent_get_input(bev)) <= 0)
		return;
	tdm_conn_ref(c);
	c->proto->read(c->ctx, bufferevent_get_input(bev));
	tdm_conn_unref(c);
}

static void write_cb(struct bufferevent *bev, void *arg)
{
	struct tdm_conn *c = arg;
	(void)bev;
	if (c->closing) {
		if (conn_flushed(c))
			conn_kill(c);
		return;
	}
	if (c->above_high && !tdm_conn_output_full(c)) {
		c->above_high = 0;
		if (c->proto->drained && c->ctx)
			c->proto->drained(c->ctx);
	}
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct tdm_conn *c = arg;
	char why[200], line[320];

	if ((what & BEV_EVENT_ERROR) && c->listener && c->listener->opts.tls &&
	    tdm_tls_error(bev, why, sizeof(why))) {
		/* a failed handshake (no or bad client certificate, not TLS
		 * at all) or a broken record: say why, rate-limited */
		snprintf(line, sizeof(line), "%s connection from %s: TLS error: %s",
			 c->proto->name, c->peer, why);
		ratelog_warn(c->net, &c->listener->tls_errors, line);
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		conn_kill(c);
}

int tdm_conn_output_full(struct tdm_conn *c)
{
	if (conn_queued(c) < c->net->lim.output_high_watermark)
		return 0;
	c->above_high = 1;
	return 1;
}

void tdm_conn_pause_reading(struct tdm_conn *c, int pause)
{
	if (c->closing || c->reading_paused == !!pause)
		return;
	c->reading_paused = !!pause;
	if (pause)
		bufferevent_disable(c->bev, EV_READ);
	else
		bufferevent_enable(c->bev, EV_READ);
	if (!pause && evbuffer_get_length(bufferevent_get_input(c->bev)))
		bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

void tdm_conn_close(struct tdm_conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	bufferevent_disable(c->bev, EV_READ);
	if (c->flush)
		event_active(c->flush, EV_WRITE, 0);
	else if (conn_flushed(c)) {
		conn_kill(c);
		return;
	}
	struct timeval tv = { CLOSE_FLUSH_TIMEOUT_S, 0 };
	bufferevent_set_timeouts(c->bev, NULL, &tv);
	if (conn_wire(c)) /* the last records may wait there, not in c->bev */
		bufferevent_set_timeouts(conn_wire(c), NULL, &tv);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
	bufferevent_enable(c->bev, EV_WRITE);
}

void tdm_conn_abort(struct tdm_conn *c)
{
	conn_kill(c);
}

/* What left the output buffer went to the socket (or to sendfile): the
 * connection's send_oct.  One addition per drain, nothing per add. */
static void count_out_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	(void)b;
	((struct tdm_conn *)arg)->bytes_out += info->n_deleted;
}

/*
 * TLS: moves what the protocol wrote this loop turn into the TLS
 * bufferevent in contiguous pieces of up to one record.  bufferevent_openssl
 * encrypts as soon as data is added to it, one SSL_write (one record) per
 * evbuffer chain: a delivery written as eight small adds would be eight
 * records, and each record costs a fixed amount of CPU on both sides.
 */
static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tdm_conn *c = arg;
	struct evbuffer *dst = bufferevent_get_output(c->bev);
	size_t len;

	(void)fd, (void)what;
	while ((len = evbuffer_get_length(c->out)) > 0) {
		size_t n = len < TLS_RECORD_MAX ? len : TLS_RECORD_MAX;
		struct evbuffer_iovec v;
		int got;

		if (evbuffer_peek(c->out, -1, NULL, &v, 1) >= 1 && v.iov_len >= TLS_RECORD_MAX) {
			/* a piece of a record or more (a Fetch's log segment, a
			 * large body) makes full records as it is: moved, not
			 * copied */
			if (evbuffer_remove_buffer(c->out, dst, v.iov_len) <= 0)
				break;
			continue;
		}
		if (evbuffer_reserve_space(dst, (ev_ssize_t)n, &v, 1) != 1)
			break; /* no memory: the next write tries again */
		got = evbuffer_remove(c->out, v.iov_base, n);
		v.iov_len = got > 0 ? (size_t)got : 0;
		evbuffer_commit_space(dst, &v, 1); /* OpenSSL writes it now */
		if (got <= 0)
			break;
	}
	if (c->closing && !c->dead && conn_flushed(c))
		conn_kill(c);
}

/* TLS: the first write of a loop turn asks for flush_cb. */
static void stage_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct tdm_conn *c = arg;

	(void)b;
	if (info->n_added && info->orig_size == 0 && !c->dead)
		event_active(c->flush, EV_WRITE, 0);
}

/* TLS: a closing connection ends when the socket took the last record. */
static void wire_cb(struct evbuffer *b, const struct evbuffer_cb_info *info, void *arg)
{
	struct tdm_conn *c = arg;

	(void)b;
	if (info->n_deleted && c->closing && !c->dead && conn_flushed(c))
		conn_kill(c);
}

int tdm_net_fd_reserved(struct tdm_net *n, evutil_socket_t fd, const char *name)
{
	struct rlimit rl;
	char what[160];

	if (!n->lim.fd_reserve || getrlimit(RLIMIT_NOFILE, &rl) != 0 ||
	    rl.rlim_cur == RLIM_INFINITY)
		return 0;
	/* The kernel hands out the lowest free descriptor: every one below
	 * fd is in use, so at most rlim_cur - fd - 1 remain. */
	if ((uint64_t)fd + 1 + n->lim.fd_reserve <= (uint64_t)rl.rlim_cur)
		return 0;
	snprintf(what, sizeof(what),
		 "%s connection refused: descriptor %d leaves fewer than fd_reserve (%u) of %llu free",
		 name, (int)fd, n->lim.fd_reserve, (unsigned long long)rl.rlim_cur);
	ratelog_warn(n, &n->reserve_log, what);
	return 1;
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
		      int salen, void *arg)
{
	struct tdm_listener *tl = arg;
	struct tdm_net *n = tl->net;
	uint32_t max = tl->opts.max_connections ? tl->opts.max_connections : n->lim.max_connections;
	(void)l, (void)salen;
	if (max && tl->nconns >= max) {
		char what[128];

		snprintf(what, sizeof(what), "%s connection refused: %u connections is the limit",
			 tl->proto->name, max);
		ratelog_warn(n, &tl->refused, what);
		evutil_closesocket(fd);
		return;
	}
	if (tdm_net_fd_reserved(n, fd, tl->proto->name)) {
		evutil_closesocket(fd);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct tdm_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	if (tl->opts.tls)
		c->bev = tdm_tls_wrap(tl->opts.tls, n->base, fd);
	else
		c->bev = bufferevent_socket_new(n->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	if (tl->opts.tls) {
		c->out = evbuffer_new();
		c->flush = event_new(n->base, -1, 0, flush_cb, c);
		if (!c->out || !c->flush || !evbuffer_add_cb(c->out, stage_cb, c) ||
		    !(c->wire_cb =
			      evbuffer_add_cb(bufferevent_get_output(conn_wire(c)), wire_cb, c))) {
			if (c->flush)
				event_free(c->flush);
			if (c->out)
				evbuffer_free(c->out);
			bufferevent_free(c->bev); /* closes fd */
			free(c);
			return;
		}
	} else {
		c->out = bufferevent_get_output(c->bev);
	}
	c->net = n;
	c->listener = tl;
	c->proto = tl->proto;
	c->refcnt = 1;
	c->id = ++n->next_id;
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
		port = ntohs(in->sin_port);
		c->peer_loopback = (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
		port = ntohs(in6->sin6_port);
		c->peer_loopback = IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr) ||
				   (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127);
	}
	snprintf(c->peer, sizeof(c->peer), "%s:%d", ip, port);
	c->next = n->conns;
	if (n->conns)
		n->conns->prev = c;
	n->conns = c;
	n->nconns++;
	tl->nconns++;
	bufferevent_setcb(c->bev, read_cb, write_cb, event_cb, c);
	if (tl->opts.idle_timeout_ms) {
		/* a read timeout: it runs only while input is wanted, so a
		 * connection paused for flow control or waiting for its
		 * answer is not idle */
		struct timeval idle = { tl->opts.idle_timeout_ms / 1000,
					(tl->opts.idle_timeout_ms % 1000) * 1000 };
		bufferevent_set_timeouts(c->bev, &idle, NULL);
	}
	c->out_cb = evbuffer_add_cb(c->out, count_out_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, n->lim.output_high_watermark / 2, 0);
	if (tl->nroutes)
		c->sniffing = 1; /* the protocol is chosen by the first bytes (sniff) */
	else if (conn_open(c, tl->proto, tl->arg) < 0)
		return;
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void backoff_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tdm_net_backoff *b = arg;

	(void)fd, (void)what;
	evconnlistener_enable(b->l);
}

static void accept_error_cb(struct evconnlistener *l, void *arg)
{
	struct tdm_net_backoff *b = backoffs;
	int err = EVUTIL_SOCKET_ERROR();
	char what[160];

	(void)arg;
	while (b && b->l != l)
		b = b->next;
	if (!b)
		return;
	snprintf(what, sizeof(what), "%s listener: accept failed: %s", b->name,
		 evutil_socket_error_to_string(err));
	ratelog_warn(b->net, &b->log, what);
	if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
		/* nothing to accept with until a descriptor is free: sleep
		 * instead of being woken again at once by the same backlog */
		struct timeval tv = { 0, BACKOFF_MS * 1000 };

		evconnlistener_disable(b->l);
		evtimer_add(b->resume, &tv);
	}
}

struct tdm_net_backoff *tdm_net_backoff_new(struct tdm_net *n, struct evconnlistener *l,
					     const char *name)
{
	struct tdm_net_backoff *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->l = l;
	b->net = n;
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->resume = evtimer_new(n->base, backoff_resume_cb, b);
	if (!b->resume) {
		free(b);
		return NULL;
	}
	evconnlistener_set_error_cb(l, accept_error_cb);
	b->next = backoffs;
	backoffs = b;
	return b;
}

void tdm_net_backoff_free(struct tdm_net_backoff *b)
{
	if (!b)
		return;
	for (struct tdm_net_backoff **pp = &backoffs; *pp; pp = &(*pp)->next)
		if (*pp == b) {
			*pp = b->next;
			break;
		}
	evconnlistener_set_error_cb(b->l, NULL);
	event_free(b->resume);
	free(b);
}

int tdm_net_listen(struct tdm_net *n, const char *addr, int port,
		   const struct tdm_proto *proto, void *arg)
{
	return tdm_net_listen_opts(n, addr, port, proto, arg, NULL);
}

int tdm_net_listen_opts(struct tdm_net *n, const char *addr, int port,
			const struct tdm_proto *proto, void *arg,
			const struct tdm_listen_opts *opts)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	char spec[128];
	snprintf(spec, sizeof(spec), strchr(addr, ':') ? "[%s]:%d" : "%s:%d", addr, port);
	if (evutil_parse_sockaddr_port(spec, (struct sockaddr *)&ss, &sslen) < 0) {
		errno = EINVAL;
		return -1;
	}
	struct tdm_listener *tl = calloc(1, sizeof(*tl));
	if (!tl)
		return -1;
	tl->proto = proto;
	tl->arg = arg;
	tl->net = n;
	if (opts)
		tl->opts = *opts;
	tl->l = evconnlistener_new_bind(n->base, accept_cb, tl,
					LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 1024,
					(struct sockaddr *)&ss, sslen);
	if (!tl->l) {
		free(tl);
		return -1;
	}
	tl->backoff = tdm_net_backoff_new(n, tl->l, proto->name);
	if (!tl->backoff) {
		evconnlistener_free(tl->l);
		free(tl);
		errno = ENOMEM;
		return -1;
	}
	struct sockaddr_storage bound;
	socklen_t blen = sizeof(bound);
	getsockname(evconnlistener_get_fd(tl->l), (struct sockaddr *)&bound, &blen);
	tl->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
	tl->next = n->listeners;
	n->listeners = tl;
	return tl->port;
}

int tdm_net_listen_routes(struct tdm_net *n, int port, const struct tdm_net_route *routes,
			  size_t nroutes)
{
	int count = 0;

	for (size_t i = 0; i < nroutes; i++)
		if (routes[i].len == 0 || routes[i].len > TDM_NET_PREFIX_MAX || !routes[i].proto) {
			errno = EINVAL;
			return -1;
		}
	for (struct tdm_listener *tl = n->listeners; tl; tl = tl->next)
		if (tl->port == port) {
			tl->routes = nroutes ? routes : NULL;
			tl->nroutes = nroutes;
			count++;
		}
	return count;
}

void tdm_net_shutdown(struct tdm_net *n)
{
	while (n->listeners) {
		struct tdm_listener *tl = n->listeners;
		n->listeners = tl->next;
		tdm_net_backoff_free(tl->backoff);
		evconnlistener_free(tl->l);
		/* connections outlive their listener: forget it */
		for (struct tdm_conn *c = n->conns; c; c = c->next)
			if (c->listener == tl)
				c->listener = NULL;
		free(tl);
	}
	for (struct tdm_conn *c = n->conns, *next; c; c = next) {
		next = c->next;
		if (!c->closing && c->proto->shutdown && c->ctx)
			c->proto->shutdown(c->ctx);
		else
			tdm_conn_close(c);
	}
}

void tdm_net_free(struct tdm_net *n)
{
	if (!n)
		return;
	tdm_net_shutdown(n);
	while (n->conns)
		conn_kill(n->conns);
	reap_cb(-1, 0, n);
	event_free(n->reaper);
	free(n);
}
