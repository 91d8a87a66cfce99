/*
 * tandem-perf, AMQP 0-9-1 mode, on rabbitmq-c.  Set-up declares an
 * exchange and K queues bound to it with the routing key; each consumer
 * subscribes to queue (id mod K); each producer publishes the same frames
 * with a fresh stamp.
 *
 * Publishing does not go through amqp_basic_publish: that costs three send()
 * calls and a property encode per message, and the benchmark must not be
 * bound by its client.  A producer renders the method, content-header and
 * body frames of one message once (a template), patches the stamp per
 * message and writes --batch messages per write() (1 by default: one write
 * per publish, as PerfTest's Java client does).  Everything read -
 * confirms, deliveries, errors - goes through rabbitmq-c's frame reader;
 * heartbeats are off so rabbitmq-c never writes behind our back.
 *
 * With --tls the connection is rabbitmq-c's SSL socket (amqp_ssl_socket_new,
 * verifying the broker against --cacert).  rabbitmq-c does not hand out
 * its SSL object, so a producer learns it from the handshake's info
 * callback on the socket's own SSL_CTX and writes its batches with
 * SSL_write on it, still one write per batch; reading stays rabbitmq-c's.
 *
 * Must not depend on: tandemd's code; only rabbitmq-c and tools/perf.h.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "tools/perf.h"

#define CHANNEL 1
#define FRAME_MAX 131072
#define CONNECT_TIMEOUT_S 10
#define RPC_TIMEOUT_S 30
#define POLL_MS 100

struct setup_state {
	amqp_connection_state_t conn; /* owned; open until cleanup */
};

static int fail(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Turn a failed RPC reply into text: the server's close reason when it sent one. */
static int reply_fail(amqp_rpc_reply_t r, const char *what, char *err, size_t errlen)
{
	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		return 0;
	case AMQP_RESPONSE_NONE:
		return fail(err, errlen, "%s: no reply", what);
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		return fail(err, errlen, "%s: %s", what, amqp_error_string2(r.library_error));
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
			amqp_connection_close_t *m = r.reply.decoded;
			return fail(err, errlen, "%s: connection closed by server: %u %.*s", what, m->reply_code,
				    (int)m->reply_text.len, (const char *)m->reply_text.bytes);
		}
		if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
			amqp_channel_close_t *m = r.reply.decoded;
			return fail(err, errlen, "%s: channel closed by server: %u %.*s", what, m->reply_code,
				    (int)m->reply_text.len, (const char *)m->reply_text.bytes);
		}
		return fail(err, errlen, "%s: unexpected server method 0x%08x", what, r.reply.id);
	}
	return fail(err, errlen, "%s: failed", what);
}

static int check_rpc(amqp_connection_state_t conn, const char *what, char *err, size_t errlen)
{
	return reply_fail(amqp_get_rpc_reply(conn), what, err, errlen);
}

/* The handshake's info callback: hand the connection's SSL object to the
 * SSL ** that perf_amqp_connect put in the SSL_CTX's app data. */
static void perf_tls_info(const SSL *ssl, int where, int ret)
{
	(void)ret;
	if (where & SSL_CB_HANDSHAKE_START) {
		SSL **slot = SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl));
		if (slot)
			*slot = (SSL *)ssl;
	}
}

/* rabbitmq-c's SSL socket with the --cacert / --cert / --key of o; *ssl
 * receives the connection's SSL object during the handshake. */
static amqp_socket_t *perf_tls_socket(const struct perf_opts *o, amqp_connection_state_t conn,
				      SSL **ssl, char *err, size_t errlen)
{
	amqp_socket_t *sock = amqp_ssl_socket_new(conn);
	if (!sock) {
		fail(err, errlen, "amqp_ssl_socket_new failed");
		return NULL;
	}
	bool verify = *o->cacert != '\0';
	amqp_ssl_socket_set_verify_peer(sock, verify);
	amqp_ssl_socket_set_verify_hostname(sock, verify);
	int s;
	if (verify && (s = amqp_ssl_socket_set_cacert(sock, o->cacert)) != AMQP_STATUS_OK) {
		fail(err, errlen, "--cacert %s: %s", o->cacert, amqp_error_string2(s));
		return NULL;
	}
	if (*o->cert && (s = amqp_ssl_socket_set_key(sock, o->cert, o->key)) != AMQP_STATUS_OK) {
		fail(err, errlen, "--cert %s --key %s: %s", o->cert, o->key, amqp_error_string2(s));
		return NULL;
	}
	SSL_CTX *ctx = amqp_ssl_socket_get_context(sock);
	if (ssl && ctx) {
		SSL_CTX_set_app_data(ctx, ssl);
		SSL_CTX_set_info_callback(ctx, perf_tls_info);
	}
	return sock;
}

/* Connect, log in (heartbeat off) and open channel 1, all time-bounded.
 * *fd gets the socket for interrupting; with --tls and ssl non-NULL, *ssl
 * gets the connection's SSL object (owned by conn). */
static int perf_amqp_connect(const struct perf_opts *o, const char *uri,
			     amqp_connection_state_t *out, int *fd, SSL **ssl, char *err,
			     size_t errlen)
{
	struct amqp_connection_info ci;
	char *url = NULL;
	int rc = -1;
	amqp_connection_state_t conn = NULL;
	*out = NULL;
	if (strstr(uri, "://")) {
		url = strdup(uri);
		if (!url || amqp_parse_url(url, &ci) != AMQP_STATUS_OK) {
			fail(err, errlen, "cannot parse URI '%s'", uri);
			goto out;
		}
	} else {
		/* host:port */
		amqp_default_connection_info(&ci);
		url = strdup(uri);
		if (!url) {
			fail(err, errlen, "out of memory");
			goto out;
		}
		char *colon = strrchr(url, ':');
		if (colon) {
			*colon = '\0';
			ci.port = atoi(colon + 1);
		} else if (o->tls) {
			ci.port = 5671;
		}
		if (*url)
			ci.host = url;
	}
	if (ssl)
		*ssl = NULL;
	conn = amqp_new_connection();
	amqp_socket_t *sock = NULL;
	if (conn && o->tls) {
		if (!(sock = perf_tls_socket(o, conn, ssl, err, errlen)))
			goto out;
	} else if (conn) {
		sock = amqp_tcp_socket_new(conn);
	}
	if (!sock) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	struct timeval tv = { CONNECT_TIMEOUT_S, 0 };
	int s = amqp_socket_open_noblock(sock, ci.host, ci.port, &tv);
	if (s != AMQP_STATUS_OK) {
		fail(err, errlen, "connect %s:%d%s: %s", ci.host, ci.port, o->tls ? " (TLS)" : "",
		     amqp_error_string2(s));
		goto out;
	}
	if (o->tls && ssl && !*ssl) {
		fail(err, errlen, "connect %s:%d: no SSL object after the TLS handshake", ci.host,
		     ci.port);
		goto out;
	}
	struct timeval rpc = { RPC_TIMEOUT_S, 0 };
	amqp_set_rpc_timeout(conn, &rpc);
	amqp_set_handshake_timeout(conn, &tv);
	if (reply_fail(amqp_login(conn, ci.vhost, 0, FRAME_MAX, 0, AMQP_SASL_METHOD_PLAIN, ci.user, ci.password),
		       "login", err, errlen) < 0)
		goto out;
	amqp_channel_open(conn, CHANNEL);
	if (check_rpc(conn, "channel.open", err, errlen) < 0)
		goto out;
	*fd = amqp_get_sockfd(conn);
	*out = conn;
	conn = NULL;
	rc = 0;
out:
	if (conn)
		amqp_destroy_connection(conn);
	free(url);
	return rc;
}

/* Polite, bounded close; the connection is destroyed either way. */
static void perf_amqp_close(amqp_connection_state_t conn, bool polite)
{
	if (!conn)
		return;
	if (polite) {
		struct timeval tv = { 2, 0 };
		amqp_set_rpc_timeout(conn, &tv);
		amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
	}
	amqp_destroy_connection(conn);
}

static void queue_name(char *buf, size_t len, const struct perf_opts *o, int i)
{
	snprintf(buf, len, "%s-%d", o->queue, i);
}

static bool all_digits(const char *s)
{
	if (*s == '-')
		s++;
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* --queue-args as an AMQP table: integers as long-long ('l', what RabbitMQ
 * expects for x-max-length and friends), true/false as booleans, the rest
 * as long strings.  Entries point into kvs.  Also --consumer-args. */
static amqp_table_t args_table(const struct perf_kv *kvs, size_t n, amqp_table_entry_t *entries)
{
	for (size_t i = 0; i < n; i++) {
		const struct perf_kv *kv = &kvs[i];
		entries[i].key = amqp_cstring_bytes(kv->key);
		if (all_digits(kv->value)) {
			entries[i].value.kind = AMQP_FIELD_KIND_I64;
			entries[i].value.value.i64 = strtoll(kv->value, NULL, 10);
		} else if (!strcmp(kv->value, "true") || !strcmp(kv->value, "false")) {
			entries[i].value.kind = AMQP_FIELD_KIND_BOOLEAN;
			entries[i].value.value.boolean = kv->value[0] == 't';
		} else {
			entries[i].value.kind = AMQP_FIELD_KIND_UTF8;
			entries[i].value.value.bytes = amqp_cstring_bytes(kv->value);
		}
	}
	return (amqp_table_t){ (int)n, entries };
}

static int amqp_mode_validate(const struct perf_opts *o, char *err, size_t errlen)
{
	if (strlen(o->exchange) > 255 || strlen(o->routing_key) > 255 || strlen(o->queue) > 240)
		return fail(err, errlen, "exchange, routing key and queue names are short strings (<= 255)");
	if (o->autoack && o->multi_ack > 1)
		return fail(err, errlen, "-A (multiple ack) needs manual ack: drop -a");
	return 0;
}

static int amqp_mode_setup(struct perf_run *run, char *err, size_t errlen)
{
	const struct perf_opts *o = run->opts;
	struct setup_state *st = calloc(1, sizeof(*st));
	amqp_table_entry_t *entries = calloc(o->n_queue_args + 1, sizeof(*entries));
	int fd, rc = -1;
	if (!st || !entries) {
		fail(err, errlen, "out of memory");
		goto out;
	}
	run->mode_state = st;
	if (perf_amqp_connect(o, *o->setup_uri ? o->setup_uri : o->uri, &st->conn, &fd, NULL, err,
			      errlen) < 0)
		goto out;
	if (*o->exchange) {
		amqp_exchange_declare(st->conn, CHANNEL, amqp_cstring_bytes(o->exchange),
				      amqp_cstring_bytes(o->exchange_type), 0, o->durable, 0, 0, amqp_empty_table);
		if (check_rpc(st->conn, "exchange.declare", err, errlen) < 0)
			goto out;
	}
	amqp_table_t args = args_table(o->queue_args, o->n_queue_args, entries);
	for (int i = 0; i < o->queues; i++) {
		char name[256];
		queue_name(name, sizeof(name), o, i);
		amqp_queue_declare_ok_t *ok =
			amqp_queue_declare(st->conn, CHANNEL, amqp_cstring_bytes(name), 0, o->durable, 0, 0, args);
		if (check_rpc(st->conn, "queue.declare", err, errlen) < 0)
			goto out;
		if (ok && ok->message_count && !o->declare_only)
			fprintf(stderr, "tandem-perf: queue %s already holds %u messages (counted as foreign)\n", name,
				ok->message_count);
		if (*o->exchange) {
			amqp_queue_bind(st->conn, CHANNEL, amqp_cstring_bytes(name), amqp_cstring_bytes(o->exchange),
					amqp_cstring_bytes(o->routing_key), amqp_empty_table);
			if (check_rpc(st->conn, "queue.bind", err, errlen) < 0)
				goto out;
		}
		amqp_maybe_release_buffers(st->conn);
	}
	rc = 0;
out:
	free(entries);
	return rc;
}

static int amqp_mode_cleanup(struct perf_run *run, bool keep, char *err, size_t errlen)
{
	const struct perf_opts *o = run->opts;
	struct setup_state *st = run->mode_state;
	int rc = 0;
	if (!st)
		return 0;
	if (st->conn && !keep) {
		for (int i = 0; i < o->queues && rc == 0; i++) {
			char name[256];
			queue_name(name, sizeof(name), o, i);
			amqp_queue_delete(st->conn, CHANNEL, amqp_cstring_bytes(name), 0, 0);
			rc = check_rpc(st->conn, "queue.delete", err, errlen);
			amqp_maybe_release_buffers(st->conn);
		}
		if (rc == 0 && *o->exchange) {
			amqp_exchange_delete(st->conn, CHANNEL, amqp_cstring_bytes(o->exchange), 0);
			rc = check_rpc(st->conn, "exchange.delete", err, errlen);
		}
	}
	perf_amqp_close(st->conn, true);
	free(st);
	run->mode_state = NULL;
	return rc;
}

static void amqp_mode_interrupt(struct perf_worker *w)
{
	int fd = atomic_load(&w->fd);
	if (fd >= 0)
		shutdown(fd, SHUT_RDWR);
}

/* ---- producer ---- */

/* The frames of one message, stamp left blank. */
struct pub_template {
	uint8_t *bytes; /* owned */
	size_t len;
	size_t stamp_off; /* where the body (and so the stamp) begins */
};

static uint8_t *put_frame_head(uint8_t *p, uint8_t type, uint32_t size)
{
	*p++ = type;
	*p++ = 0;
	*p++ = CHANNEL;
	*p++ = (uint8_t)(size >> 24);
	*p++ = (uint8_t)(size >> 16);
	*p++ = (uint8_t)(size >> 8);
	*p++ = (uint8_t)size;
	return p;
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
	*p++ = (uint8_t)(v >> 8);
	*p++ = (uint8_t)v;
	return p;
}

static uint8_t *put_short_str(uint8_t *p, const char *s)
{
	size_t n = strlen(s);
	*p++ = (uint8_t)n;
	memcpy(p, s, n);
	return p + n;
}

static int build_template(struct pub_template *t, const struct perf_opts *o, const char *rk, uint32_t frame_max)
{
	size_t chunk = frame_max > 8 ? frame_max - 8 : 4096;
	size_t nbody = (size_t)((o->size + chunk - 1) / chunk);
	size_t method_payload = 4 + 2 + 1 + strlen(o->exchange) + 1 + strlen(rk) + 1;
	size_t header_payload = 4 + 8 + 2 + (o->persistent ? 1 : 0);
	t->len = (7 + method_payload + 1) + (7 + header_payload + 1) + nbody * 8 + (size_t)o->size;
	t->bytes = calloc(1, t->len);
	if (!t->bytes)
		return -1;
	uint8_t *p = put_frame_head(t->bytes, AMQP_FRAME_METHOD, (uint32_t)method_payload);
	p = put16(p, 60); /* basic */
	p = put16(p, 40); /* publish */
	p = put16(p, 0);  /* reserved-1 */
	p = put_short_str(p, o->exchange);
	p = put_short_str(p, rk);
	*p++ = 0; /* mandatory, immediate */
	*p++ = AMQP_FRAME_END;
	p = put_frame_head(p, AMQP_FRAME_HEADER, (uint32_t)header_payload);
	p = put16(p, 60);
	p = put16(p, 0); /* weight */
	for (int i = 7; i >= 0; i--)
		*p++ = (uint8_t)(o->size >> (8 * i));
	p = put16(p, o->persistent ? AMQP_BASIC_DELIVERY_MODE_FLAG : 0);
	if (o->persistent)
		*p++ = 2;
	*p++ = AMQP_FRAME_END;
	uint64_t left = o->size;
	t->stamp_off = (size_t)(p - t->bytes) + 7;
	while (left) {
		size_t n = left < chunk ? (size_t)left : chunk;
		p = put_frame_head(p, AMQP_FRAME_BODY, (uint32_t)n);
		p += n; /* zeros; the stamp goes into the first */
		*p++ = AMQP_FRAME_END;
		left -= n;
	}
	return 0;
}

struct producer {
	struct perf_worker *w;       /* borrowed */
	amqp_connection_state_t conn; /* owned */
	int fd;
	SSL *ssl; /* --tls: conn's SSL object (owned by conn), else NULL */
	bool confirms;
	bool blocked;
	uint64_t blocked_since;
};

/* Read what the broker sent: confirms, connection.blocked, errors.  Waits up
 * to timeout_ms for the first frame, then takes only what is ready. */
static int pub_poll(struct producer *pr, int timeout_ms)
{
	struct perf_worker *w = pr->w;
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	for (;;) {
		amqp_frame_t f;
		int r = amqp_simple_wait_frame_noblock(pr->conn, &f, &tv);
		if (r == AMQP_STATUS_TIMEOUT)
			break;
		if (r != AMQP_STATUS_OK)
			return fail(w->err, sizeof(w->err), "producer %d: read: %s", w->id, amqp_error_string2(r));
		tv = (struct timeval){ 0, 0 };
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		switch (f.payload.method.id) {
		case AMQP_BASIC_ACK_METHOD: {
			amqp_basic_ack_t *m = f.payload.method.decoded;
			if (m->delivery_tag)
				perf_confirm(w, m->delivery_tag - 1, m->multiple, true);
			break;
		}
		case AMQP_BASIC_NACK_METHOD: {
			amqp_basic_nack_t *m = f.payload.method.decoded;
			if (m->delivery_tag)
				perf_confirm(w, m->delivery_tag - 1, m->multiple, false);
			break;
		}
		case AMQP_CONNECTION_BLOCKED_METHOD:
			if (!pr->blocked) {
				pr->blocked = true;
				pr->blocked_since = perf_now_ns();
			}
			break;
		case AMQP_CONNECTION_UNBLOCKED_METHOD:
			if (pr->blocked) {
				pr->blocked = false;
				atomic_fetch_add(&w->blocked_ns, perf_now_ns() - pr->blocked_since);
			}
			break;
		case AMQP_CHANNEL_CLOSE_METHOD:
		case AMQP_CONNECTION_CLOSE_METHOD: {
			amqp_rpc_reply_t rr = { .reply_type = AMQP_RESPONSE_SERVER_EXCEPTION, .reply = f.payload.method };
			char what[32];
			snprintf(what, sizeof(what), "producer %d", w->id);
			return reply_fail(rr, what, w->err, sizeof(w->err));
		}
		default:
			break;
		}
	}
	amqp_maybe_release_buffers(pr->conn);
	return 0;
}

/* Write all of buf; while the socket is full keep reading confirms so the
 * broker is never stuck writing to us while we are stuck writing to it. */
static int pub_write(struct producer *pr, const uint8_t *buf, size_t len)
{
	struct perf_worker *w = pr->w;
	while (len) {
		ssize_t n;
		short want = POLLOUT;
		if (pr->ssl) {
			/* a retry after WANT_* repeats the same buf and len, as OpenSSL requires */
			ERR_clear_error();
			int r = SSL_write(pr->ssl, buf, len > INT_MAX ? INT_MAX : (int)len);
			if (r > 0) {
				buf += r;
				len -= (size_t)r;
				continue;
			}
			int e = SSL_get_error(pr->ssl, r);
			if (e == SSL_ERROR_WANT_READ)
				want = POLLIN;
			else if (e != SSL_ERROR_WANT_WRITE)
				return fail(w->err, sizeof(w->err),
					    "producer %d: SSL_write failed (SSL error %d)", w->id,
					    e);
			n = -1;
			errno = EAGAIN;
		} else {
			n = send(pr->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		}
		if (n > 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return fail(w->err, sizeof(w->err), "producer %d: write: %s", w->id, strerror(errno));
		if (perf_aborting(w->run))
			return fail(w->err, sizeof(w->err), "producer %d: aborted while writing", w->id);
		if (amqp_data_in_buffer(pr->conn) || amqp_frames_enqueued(pr->conn)) {
			if (pub_poll(pr, 0) < 0)
				return -1;
			continue;
		}
		struct pollfd pfd = { pr->fd, want | POLLIN, 0 };
		if (poll(&pfd, 1, POLL_MS) > 0 && (pfd.revents & (POLLIN | POLLERR | POLLHUP)) && pub_poll(pr, 0) < 0)
			return -1;
	}
	return 0;
}

static int amqp_mode_producer(struct perf_worker *w)
{
	const struct perf_opts *o = w->run->opts;
	struct producer pr = { .w = w, .confirms = o->confirm > 0 };
	struct pub_template t = { 0 };
	uint8_t *buf = NULL;
	size_t used = 0;
	int batched = 0, rc = -1;
	char rkbuf[256];
	const char *rk = o->routing_key;

	if (perf_amqp_connect(o, o->uri, &pr.conn, &pr.fd, &pr.ssl, w->err, sizeof(w->err)) < 0)
		goto out;
	atomic_store(&w->fd, pr.fd);
	if (pr.confirms) {
		amqp_confirm_select(pr.conn, CHANNEL);
		if (check_rpc(pr.conn, "confirm.select", w->err, sizeof(w->err)) < 0)
			goto out;
	}
	if (!*o->exchange) {
		queue_name(rkbuf, sizeof(rkbuf), o, 0);
		rk = rkbuf;
	}
	if (build_template(&t, o, rk, (uint32_t)amqp_get_frame_max(pr.conn)) < 0 ||
	    !(buf = malloc(t.len * (size_t)o->batch))) {
		fail(w->err, sizeof(w->err), "out of memory");
		goto out;
	}
	atomic_store(&w->ready, true);
	while (atomic_load(&w->run->phase) == PERF_CONNECT)
		perf_sleep_until(perf_now_ns() + 1000000);

	uint64_t seq = 0, due;
	while (perf_producer_next(w, seq, &due)) {
		if (pr.confirms && perf_outstanding(w) >= (uint64_t)o->confirm) {
			/* window full: what we hold must go out before a confirm can come */
			if (used && pub_write(&pr, buf, used) < 0)
				goto out;
			used = 0, batched = 0;
			if (pub_poll(&pr, POLL_MS) < 0)
				goto out;
			continue;
		}
		if (due && due > perf_now_ns()) {
			if (used && pub_write(&pr, buf, used) < 0)
				goto out;
			used = 0, batched = 0;
			perf_sleep_until(due);
		}
		memcpy(buf + used, t.bytes, t.len);
		perf_stamp(w, buf + used + t.stamp_off, seq);
		used += t.len;
		seq++;
		if (++batched >= o->batch) {
			if (pub_write(&pr, buf, used) < 0)
				goto out;
			used = 0, batched = 0;
		}
		/* confirms: take them as they come so the window keeps moving;
		 * otherwise look now and then for a channel error */
		if ((pr.confirms && (seq & 63) == 0) || (seq & 8191) == 0) {
			if (pub_poll(&pr, 0) < 0)
				goto out;
		}
	}
	if (used && pub_write(&pr, buf, used) < 0)
		goto out;
	if (!pr.confirms && !perf_aborting(w->run)) {
		/* Without confirms, closing right after the last publish lets a
		 * broker drop what it had read but not yet routed (RabbitMQ ends
		 * the channel process with its mailbox).  A channel round trip
		 * first: its reply comes after every earlier publish was handled. */
		struct timeval tv = { (long)o->drain_timeout + 1, 0 };
		amqp_set_rpc_timeout(pr.conn, &tv);
		amqp_basic_qos(pr.conn, CHANNEL, 0, 0, 0);
		if (check_rpc(pr.conn, "producer sync (basic.qos)", w->err, sizeof(w->err)) < 0)
			goto out;
	}
	if (pr.confirms) {
		uint64_t until = perf_now_ns() + (uint64_t)(o->drain_timeout * 1e9);
		while (perf_outstanding(w) && perf_now_ns() < until && !perf_aborting(w->run))
			if (pub_poll(&pr, POLL_MS) < 0)
				goto out;
	}
	rc = 0;
out:
	atomic_store(&w->fd, -1);
	perf_amqp_close(pr.conn, rc == 0);
	free(buf);
	free(t.bytes);
	return rc;
}

/* ---- consumer ---- */

static int amqp_mode_consumer(struct perf_worker *w)
{
	const struct perf_opts *o = w->run->opts;
	amqp_connection_state_t conn = NULL;
	amqp_table_entry_t *cargs = NULL;
	int fd, rc = -1;
	char name[256];
	int ack_every = o->multi_ack;
	if (o->prefetch && ack_every > o->prefetch)
		ack_every = o->prefetch; /* else the consumer would wait for credit it never frees */

	if (perf_amqp_connect(o, *o->consumer_uri ? o->consumer_uri : o->uri, &conn, &fd, NULL,
			      w->err, sizeof(w->err)) < 0)
		goto out;
	atomic_store(&w->fd, fd);
	if (o->prefetch) {
		amqp_basic_qos(conn, CHANNEL, 0, (uint16_t)o->prefetch, 0);
		if (check_rpc(conn, "basic.qos", w->err, sizeof(w->err)) < 0)
			goto out;
	}
	queue_name(name, sizeof(name), o, w->queue);
	if (o->consume_later) {
		/* connected now; subscribe once the producers are done */
		atomic_store(&w->ready, true);
		int ph;
		while ((ph = atomic_load(&w->run->phase)) == PERF_CONNECT || ph == PERF_RUN)
			perf_sleep_until(perf_now_ns() + 1000000);
		w->t_recv_start_ns = perf_now_ns();
	}
	if (!(cargs = calloc(o->n_consumer_args + 1, sizeof(*cargs)))) {
		fail(w->err, sizeof(w->err), "out of memory");
		goto out;
	}
	amqp_basic_consume(conn, CHANNEL, amqp_cstring_bytes(name), amqp_empty_bytes, 0, o->autoack, 0,
			   args_table(o->consumer_args, o->n_consumer_args, cargs));
	if (check_rpc(conn, "basic.consume", w->err, sizeof(w->err)) < 0)
		goto out;
	atomic_store(&w->ready, true);

	/* one message in flight: deliver, header, body frames */
	enum { WANT_DELIVER, WANT_HEADER, WANT_BODY } state = WANT_DELIVER;
	uint8_t head[PERF_STAMP_SIZE];
	size_t head_len = 0;
	uint64_t body_size = 0, body_got = 0, tag = 0, unacked_tag = 0;
	int unacked = 0;
	bool redelivered = false;
	while (perf_consumer_running(w)) {
		amqp_frame_t f;
		struct timeval tv = { 0, POLL_MS * 1000 };
		if (!amqp_frames_enqueued(conn) && !amqp_data_in_buffer(conn))
			amqp_maybe_release_buffers(conn);
		int r = amqp_simple_wait_frame_noblock(conn, &f, &tv);
		if (r == AMQP_STATUS_TIMEOUT) {
			/* quiet: ack what a multiple-ack is still holding back */
			if (unacked && amqp_basic_ack(conn, CHANNEL, unacked_tag, 1) != AMQP_STATUS_OK) {
				fail(w->err, sizeof(w->err), "consumer %d: basic.ack failed", w->id);
				goto out;
			}
			unacked = 0;
			continue;
		}
		if (r != AMQP_STATUS_OK) {
			fail(w->err, sizeof(w->err), "consumer %d: read: %s", w->id, amqp_error_string2(r));
			goto out;
		}
		bool complete = false;
		if (f.frame_type == AMQP_FRAME_METHOD) {
			if (f.payload.method.id == AMQP_BASIC_DELIVER_METHOD) {
				amqp_basic_deliver_t *m = f.payload.method.decoded;
				tag = m->delivery_tag;
				redelivered = m->redelivered;
				state = WANT_HEADER;
			} else if (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
				   f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
				amqp_rpc_reply_t rr = { .reply_type = AMQP_RESPONSE_SERVER_EXCEPTION,
							.reply = f.payload.method };
				char what[32];
				snprintf(what, sizeof(what), "consumer %d", w->id);
				reply_fail(rr, what, w->err, sizeof(w->err));
				goto out;
			}
			continue;
		} else if (f.frame_type == AMQP_FRAME_HEADER && state == WANT_HEADER) {
			body_size = f.payload.properties.body_size;
			body_got = 0;
			head_len = 0;
			state = WANT_BODY;
			complete = body_size == 0;
		} else if (f.frame_type == AMQP_FRAME_BODY && state == WANT_BODY) {
			amqp_bytes_t b = f.payload.body_fragment;
			if (head_len < sizeof(head)) {
				size_t n = sizeof(head) - head_len < b.len ? sizeof(head) - head_len : b.len;
				memcpy(head + head_len, b.bytes, n);
				head_len += n;
			}
			body_got += b.len;
			complete = body_got >= body_size;
		}
		if (!complete)
			continue;
		state = WANT_DELIVER;
		perf_receive(w, head, head_len, redelivered);
		if (!o->autoack) {
			unacked_tag = tag;
			if (++unacked >= ack_every) {
				if (amqp_basic_ack(conn, CHANNEL, tag, ack_every > 1) != AMQP_STATUS_OK) {
					fail(w->err, sizeof(w->err), "consumer %d: basic.ack failed", w->id);
					goto out;
				}
				unacked = 0;
			}
		}
	}
	rc = 0;
out:
	atomic_store(&w->fd, -1);
	perf_amqp_close(conn, rc == 0);
	free(cargs);
	return rc;
}

const struct perf_mode perf_mode_amqp = {
	.name = "amqp",
	.validate = amqp_mode_validate,
	.setup = amqp_mode_setup,
	.producer = amqp_mode_producer,
	.consumer = amqp_mode_consumer,
	.cleanup = amqp_mode_cleanup,
	.interrupt = amqp_mode_interrupt,
};
