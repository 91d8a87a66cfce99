/*
 * libevent glue shared by every front end: listeners, one bufferevent per
 * connection, deferred free, output watermarks and shutdown.
 *
 * A connection is refcounted and never freed inside one of its own
 * callbacks: tdm_conn_close marks it and queues it on the reaper, an
 * event that frees closed connections after the current
 * callbacks have returned.
 *
 * Must not depend on: protocol front ends (they plug in through struct
 * tdm_proto), the broker core.
 */
#ifndef TANDEM_NET_H
#define TANDEM_NET_H

#include <stddef.h>
#include <stdint.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

struct tdm_net;
struct tdm_conn;
struct tdm_tls;

/* What a front end plugs into the glue. */
struct tdm_proto {
	const char *name;
	/* A connection was accepted; return its protocol state or NULL to refuse. */
	void *(*open)(struct tdm_conn *c, void *arg);
	/* Input arrived (the whole input buffer is passed; consume what is complete). */
	void (*read)(void *ctx, struct evbuffer *in);
	/* Output fell below the low watermark after having been above it. */
	void (*drained)(void *ctx);
	/* The connection is going away (peer gone, error, or closed by us):
	 * release protocol state.  Called exactly once. */
	void (*closed)(void *ctx);
	/* The broker is shutting down: say goodbye on the wire (e.g. 320). */
	void (*shutdown)(void *ctx);
};

struct tdm_conn {
	struct bufferevent *bev;        /* owned */
	struct tdm_net *net;            /* borrowed */
	const struct tdm_proto *proto;  /* borrowed */
	void *ctx;                      /* protocol state, released by proto->closed */
	uint32_t refcnt;
	uint8_t closing, dead, reading_paused, above_high;
	uint64_t bytes_out;             /* written to the socket (drained from output) */
	struct evbuffer_cb_entry *out_cb; /* counts bytes_out */
	/* What the protocol writes (tdm_conn_out): the bufferevent's output, or
	 * under TLS a buffer of its own (owned), moved into the bufferevent
	 * once a loop turn in pieces of up to a full TLS record, so that many
	 * small writes make one record instead of one each. */
	struct evbuffer *out;
	struct event *flush;            /* owned; TLS: does that move */
	struct evbuffer_cb_entry *wire_cb; /* TLS: on the socket's own output */
	char peer[64];                  /* "ip:port" */
	int peer_loopback;
	uint64_t id;
	struct tdm_listener *listener;  /* borrowed: the one that accepted it */
	uint8_t sniffing;               /* its listener has routes and no proto is
					   chosen yet (ctx NULL): tdm_net_route */
	struct tdm_conn *prev, *next;   /* all live connections */
	struct tdm_conn *reap_next;
};

struct tdm_net_limits {
	uint32_t max_connections;       /* per listener unless it has its own budget */
	size_t output_high_watermark;   /* consumers pause above this */
	/* Descriptors kept back for the broker's own files: a connection whose
	 * descriptor leaves fewer than this free under RLIMIT_NOFILE is closed
	 * at once.  0 = none. */
	uint32_t fd_reserve;
	/* Where the glue's warnings go (refused connections, accept errors),
	 * at most one line per interval; NULL = nowhere. */
	void (*warn)(const char *msg);
};

/* What one listener allows, beside the net's limits. */
struct tdm_listen_opts {
	uint32_t max_connections;       /* this listener's own budget; 0 = the net's */
	uint32_t idle_timeout_ms;       /* close a connection silent this long while
					   it is read; 0 = never */
	struct tdm_tls *tls;            /* borrowed (outlives the listener): accept
					   TLS with this context (net/tls.h); the
					   protocol sees plaintext.  NULL = plain TCP */
};

/* Creates the glue on base.  The reaper runs at the I/O priority: an event
 * made active from a callback runs after the callbacks already active in
 * this loop turn, which is all the deferral needed. */
struct tdm_net *tdm_net_new(struct event_base *base, const struct tdm_net_limits *lim);
void tdm_net_free(struct tdm_net *n);
struct event_base *tdm_net_base(struct tdm_net *n);
/* Listens on addr:port (port 0 = kernel-chosen) for proto; returns the bound
 * port, or -1 with errno set. */
int tdm_net_listen(struct tdm_net *n, const char *addr, int port,
		   const struct tdm_proto *proto, void *arg);
/* The same with a listener's own connection budget and idle timeout (opts
 * is copied; NULL = tdm_net_listen).  Over the budget, or into the fd
 * reserve, a new connection is closed before proto->open is called. */
int tdm_net_listen_opts(struct tdm_net *n, const char *addr, int port,
			const struct tdm_proto *proto, void *arg,
			const struct tdm_listen_opts *opts);
/*
 * Makes an evconnlistener back off when accept fails for want of
 * descriptors or memory (EMFILE, ENFILE, ENOBUFS, ENOMEM), as nginx does:
 * the listener is disabled for a moment instead of being woken again at
 * once, and the failure is logged at most once per interval with the count
 * of the ones not logged.  For listeners the glue does not own (evhttp's);
 * the glue's own get it already.  Returns a handle to free with
 * tdm_net_backoff_free before the listener is freed, or NULL (no memory).
 */
struct tdm_net_backoff;
struct tdm_net_backoff *tdm_net_backoff_new(struct tdm_net *n, struct evconnlistener *l,
					     const char *name);
void tdm_net_backoff_free(struct tdm_net_backoff *b);
/* 1 when the descriptor fd eats into the fd reserve of n (see
 * tdm_net_limits); the caller should close it.  Logs (rate-limited). */
int tdm_net_fd_reserved(struct tdm_net *n, evutil_socket_t fd, const char *name);
/*
 * Protocols told apart by the first bytes a client sends (RabbitMQ's and
 * Kafka's front ends on one port).  A listener given routes
 * (tdm_net_listen_routes) opens no protocol at accept: once the input
 * starts with a route's prefix, the connection is served by that route's
 * proto (open(c, arg), then read with the input so far); once it can match
 * no route, by the listener's own proto.  Decided once per connection,
 * before any input is handed on.  Until then the listener's idle timeout
 * is the only bound on a client that sends nothing.
 */
struct tdm_net_route {
	const uint8_t *prefix;          /* borrowed */
	size_t len;                     /* 1 .. TDM_NET_PREFIX_MAX */
	const struct tdm_proto *proto;  /* borrowed */
	void *arg;
	/* the idle timeout once switched to proto (the listener's is dropped):
	 * 0 = none, the protocol having its own (AMQP heartbeats) */
	uint32_t idle_timeout_ms;
};
#define TDM_NET_PREFIX_MAX 16
/* Gives the listeners bound to port (every address) the routes (borrowed:
 * they must outlive the listeners; replaced by a later call).  Call before
 * the loop accepts on them.  Returns how many listeners got them (0: none
 * on that port), or -1 (EINVAL: a prefix of 0 or more than
 * TDM_NET_PREFIX_MAX bytes). */
int tdm_net_listen_routes(struct tdm_net *n, int port, const struct tdm_net_route *routes,
			  size_t nroutes);
/* Calls proto->shutdown on every connection, then closes the listeners. */
void tdm_net_shutdown(struct tdm_net *n);
/* Number of live connections. */
size_t tdm_net_count(const struct tdm_net *n);

static inline struct evbuffer *tdm_conn_out(struct tdm_conn *c)
{
	return c->out;
}
/* True when the output buffer is above the high watermark. */
int tdm_conn_output_full(struct tdm_conn *c);
/* Stops/starts reading input (flow control). */
void tdm_conn_pause_reading(struct tdm_conn *c, int pause);
/* Closes after pending output is flushed (bounded: 5 s). Safe in callbacks. */
void tdm_conn_close(struct tdm_conn *c);
/* Closes now, dropping pending output. Safe in callbacks. */
void tdm_conn_abort(struct tdm_conn *c);
void tdm_conn_ref(struct tdm_conn *c);
void tdm_conn_unref(struct tdm_conn *c);

#endif
