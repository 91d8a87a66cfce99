/*
 * AMQP connection: protocol header, frame loop, the connection class
 * (start/tune/open/close), heartbeats and shutdown.  Channel and content
 * frames are handed to dispatch.c.
 *
 * May depend on: amqp/am.h (the codec, core/broker.h, net/net.h) and other
 * core/ headers.  Must not depend on: other front ends, logstore/ (core is
 * its only door), libevent other than through net/net.h.
 */
#include <stdlib.h>
#include <string.h>

#include "amqp/am.h"
#include "core/auth.h"
#include "core/config.h"
#include "core/durable.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/registry.h"
#include "net/tls.h"

#include <config.h>

static const uint8_t protocol_header[8] = { 'A', 'M', 'Q', 'P', 0, 0, 9, 1 };
/* The 0-9 header as RabbitMQ accepts it: served as 0-9-1. */
static const uint8_t protocol_header_0_9[8] = { 'A', 'M', 'Q', 'P', 1, 1, 0, 9 };

/* The SASL mechanisms tandem knows, by RabbitMQ's names, in the order
 * RabbitMQ 3.10 lists them in connection.start whatever the configured
 * order ("AMQPLAIN PLAIN" by default, "AMQPLAIN EXTERNAL PLAIN" with the
 * rabbitmq_auth_mechanism_ssl plugin). */
static const char *const known_mechanisms[] = { "AMQPLAIN", "EXTERNAL", "PLAIN" };
#define NMECHANISMS (sizeof(known_mechanisms) / sizeof(known_mechanisms[0]))

/* The mechanism named (len bytes) as a static string when it is offered
 * to c, NULL otherwise.  As rabbit_reader: the configured ones
 * (auth_mechanisms, default PLAIN and AMQPLAIN), EXTERNAL only over TLS
 * (rabbit_auth_mechanism_ssl's should_offer).  The cluster link: PLAIN
 * only, as its Kafka side. */
static const char *offered(const struct am_conn *c, const char *name, size_t len)
{
	const char *list = c->link ? "PLAIN" : c->broker->cfg->auth_mechanisms;

	if (!list || !*list)
		list = "PLAIN,AMQPLAIN";
	for (size_t i = 0; i < NMECHANISMS; i++) {
		const char *k = known_mechanisms[i];

		if (strlen(k) != len || memcmp(k, name, len) != 0)
			continue;
		if (strcmp(k, "EXTERNAL") == 0 && !tdm_tls_active(c->net->bev))
			return NULL;
		for (const char *q = list; *q;) {
			size_t m = strcspn(q, ",");

			if (m == len && memcmp(q, name, len) == 0)
				return k;
			q += m + (q[m] == ',');
		}
	}
	return NULL;
}

/* connection.start's mechanisms: the offered ones, space-separated. */
static size_t mechanisms_offered(const struct am_conn *c, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < NMECHANISMS; i++) {
		const char *k = known_mechanisms[i];

		if (offered(c, k, strlen(k)) && n + strlen(k) + 2 <= cap)
			n += (size_t)snprintf(buf + n, cap - n, "%s%s", n ? " " : "", k);
	}
	return n;
}

/* Who we are, in connection.start's server properties.  Clients decide
 * how to talk from product and version: kombu (so Celery) sends basic.qos
 * with RabbitMQ's per-consumer meaning of global=false only when product
 * is "RabbitMQ" from 3.3 on, and otherwise its prefetch increases never
 * reach a running consumer.  tandem answers basic.qos as RabbitMQ does, so
 * it says RabbitMQ and the release it answers as; its own name and version
 * are in platform and information (and the management API). */
static void put_identity(struct am_tb *tb)
{
	static const char info[] = "tandem " PACKAGE_VERSION
				   ": AMQP 0-9-1 queues and Kafka-style logs, answering as RabbitMQ "
				   COMPAT_RABBITMQ_VERSION;
	static const char platform[] = "tandem " PACKAGE_VERSION " (C11/libevent)";

	am_tb_str(tb, "cluster_name", "tandem", 6);
	am_tb_str(tb, "copyright", "tandem developers", 17);
	am_tb_str(tb, "information", info, sizeof(info) - 1);
	am_tb_str(tb, "platform", platform, sizeof(platform) - 1);
	am_tb_str(tb, "product", "RabbitMQ", 8);
	am_tb_str(tb, "version", COMPAT_RABBITMQ_VERSION, strlen(COMPAT_RABBITMQ_VERSION));
}

static void send_start(struct am_conn *c)
{
	char mechs[64];
	size_t nmechs = mechanisms_offered(c, mechs, sizeof(mechs));
	uint8_t buf[1024];
	struct am_tb tb;
	am_tb_init(&tb, buf, sizeof(buf));
	am_tb_table_begin(&tb, "capabilities");
	static const char *const caps[] = {
		"publisher_confirms", "exchange_exchange_bindings", "basic.nack",
		"consumer_cancel_notify", "connection.blocked", "authentication_failure_close",
		"per_consumer_qos", "consumer_priorities", "direct_reply_to",
	};
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++)
		am_tb_bool(&tb, caps[i], 1);
	am_tb_table_end(&tb);
	put_identity(&tb);
	struct am_method m = { .id = AM_CONNECTION_START };
	m.u.connection_start.version_major = 0;
	m.u.connection_start.version_minor = 9;
	if (am_tb_finish(&tb, &m.u.connection_start.server_properties) != AM_OK) {
		tdm_error("amqp", "server properties do not fit their buffer");
		tdm_conn_abort(c->net);
		return;
	}
	m.u.connection_start.mechanisms =
		(struct am_bytes){ (const uint8_t *)mechs, (uint32_t)nmechs };
	m.u.connection_start.locales = (struct am_bytes){ (const uint8_t *)"en_US", 5 };
	am_send_method(c, 0, &m);
}

/* ---- closing ------------------------------------------------------------ */

static void close_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct am_conn *c = arg;
	tdm_conn_close(c->net);
}

static void release_channels(struct am_conn *c)
{
	while (c->nchannels_open) /* from the end: nothing moves */
		am_channel_destroy(c, c->channels[c->nchannels_open - 1]);
}

/* Exclusive queues die with their connection. */
static void drop_exclusive_queues(struct am_conn *c)
{
	if (!c->vhost)
		return;
	struct tdm_queue *victims[256];
	size_t n;
	do {
		n = 0;
		size_t pos = 0;
		void *v;
		while (n < 256 && tdm_map_next(&c->vhost->queues, &pos, NULL, NULL, &v)) {
			struct tdm_queue *q = v;
			if (q->exclusive && q->owner == c)
				victims[n++] = q;
		}
		for (size_t i = 0; i < n; i++)
			tdm_queue_remove(victims[i]);
	} while (n == 256);
}

void am_conn_close_with(struct am_conn *c, const struct am_err *err)
{
	if (c->state == AM_S_CLOSING || c->state == AM_S_CLOSED)
		return;
	tdm_info("amqp", "closing connection %s: %s", c->net->peer, err->text);
	release_channels(c);
	struct am_method m = { .id = AM_CONNECTION_CLOSE };
	struct am_connection_close *cc = &m.u.connection_close;
	am_close_fields(err, &cc->reply_code, &cc->reply_text, &cc->class_id, &cc->method_id);
	am_send_method(c, 0, &m);
	c->state = AM_S_CLOSING;
	uint32_t ms = c->broker->cfg->close_ok_timeout_ms;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	c->close_timer = evtimer_new(tdm_net_base(c->net->net), close_timeout, c);
	if (c->close_timer)
		evtimer_add(c->close_timer, &tv);
	else
		tdm_conn_close(c->net);
}

/* A connection error.  Before tune-ok RabbitMQ does not answer with
 * connection.close: it drops the socket (and logs why); from then on the
 * peer gets connection.close with the reply code. */
static void conn_fail(struct am_conn *c, const struct am_err *err)
{
	if (c->state < AM_S_OPEN) {
		tdm_info("amqp", "closing connection %s during handshake: %s", c->net->peer, err->text);
		c->state = AM_S_CLOSED;
		tdm_conn_close(c->net);
		return;
	}
	am_conn_close_with(c, err);
}

static void handshake_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct am_conn *c = arg;
	if (c->state >= AM_S_RUNNING)
		return;
	tdm_warn("amqp", "closing connection %s: handshake_timeout", c->net->peer);
	c->state = AM_S_CLOSED;
	tdm_conn_abort(c->net);
}

/* ---- resource alarms ------------------------------------------------------ */

static struct am_conn *all_conns;

static const char *alarm_reason(unsigned alarms)
{
	return (alarms & TDM_ALARM_MEMORY) ? "low on memory" : "low on disk";
}

void am_conn_block(struct am_conn *c)
{
	if (c->blocked || c->state != AM_S_RUNNING)
		return;
	c->blocked = 1;
	if (c->cap_blocked) {
		const char *why = alarm_reason(c->broker->alarms);
		struct am_method m = { .id = AM_CONNECTION_BLOCKED };
		m.u.connection_blocked.reason = (struct am_bytes){ (const uint8_t *)why, (uint32_t)strlen(why) };
		am_send_method(c, 0, &m);
	}
	tdm_conn_pause_reading(c->net, 1);
	tdm_info("amqp", "connection %s blocked: %s", c->net->peer, alarm_reason(c->broker->alarms));
}

/* Alarms cleared: every blocked connection is read again. */
static void alarms_changed(void *ctx, unsigned alarms)
{
	(void)ctx;
	tdm_warn("amqp", "resource alarms now: %s%s%s", alarms ? "" : "none",
		 (alarms & TDM_ALARM_MEMORY) ? "memory " : "", (alarms & TDM_ALARM_DISK) ? "disk" : "");
	if (alarms)
		return;
	for (struct am_conn *c = all_conns; c; c = c->all_next) {
		if (!c->blocked)
			continue;
		c->blocked = 0;
		if (c->cap_blocked && c->state == AM_S_RUNNING)
			am_send_simple(c, 0, AM_CONNECTION_UNBLOCKED);
		if (!c->parked) /* else its stream declaration resumes it */
			tdm_conn_pause_reading(c->net, 0);
	}
}

/* ---- consumer_timeout ------------------------------------------------------- */

/* RabbitMQ 3.10's consumer_timeout: a channel holding a delivery unacked
 * for longer is closed with 406 (its unacked messages go back to their
 * queues).  Checked once a second; the deliveries' times are the broker's
 * tick time, so the limit holds to within a tick. */
static void consumer_timeouts(void *ctx, uint64_t now)
{
	static uint64_t last;
	struct tdm_broker *b = ctx;
	uint32_t limit = b->cfg ? b->cfg->consumer_timeout : 0;
	am_confirms_tick(b); /* publisher confirms waiting on replication: their deadline */
	if (!limit || now - last < 1000)
		return;
	last = now;
	for (struct am_conn *c = all_conns; c; c = c->all_next) {
		if (c->state != AM_S_RUNNING)
			continue;
		for (uint32_t i = 0; i < c->nchannels_open; i++) {
			struct am_channel *ch = c->channels[i];
			uint64_t at = am_oldest_unacked(ch);
			if (ch->state != AM_CH_OPEN || at == UINT64_MAX || now - at <= limit)
				continue;
			struct am_err err;
			am_fail(&err, AM_PRECONDITION_FAILED, 0,
				"delivery acknowledgement on channel %u timed out. Timeout value used: "
				"%u ms. This timeout value can be configured, see consumers doc guide to "
				"learn more", ch->id, limit);
			tdm_warn("amqp", "connection %s: %s", c->net->peer, err.text);
			am_raise(c, ch, &err); /* the channel stays in the array while closing */
		}
	}
}

void am_alarms_install(struct tdm_broker *b)
{
	b->on_tick = consumer_timeouts;
	b->on_tick_ctx = b;
	b->alarm_changed = alarms_changed;
	b->alarm_ctx = NULL;
}

/* ---- heartbeats ----------------------------------------------------------- */

/* Whether the peer has been silent for long enough to be dropped, checked
 * once per heartbeat interval, as RabbitMQ's receiver: the first check
 * that sees no input since the one before counts one missed interval, the
 * second drops it.  A silent peer goes between two and three intervals
 * after its last byte (three after the handshake). */
static int peer_timed_out(struct am_conn *c)
{
	if (c->blocked || c->parked) { /* we stopped reading it: its silence is ours */
		c->missed = 0;
	} else if (c->bytes_in == c->bytes_in_seen) {
		if (++c->missed >= 2)
			return 1;
	} else {
		c->missed = 0;
	}
	c->bytes_in_seen = c->bytes_in;
	return 0;
}

/* Runs every heartbeat/2 seconds: sends a heartbeat if we sent nothing since
 * the last tick (so that the peer hears from us at least once per
 * interval); every second tick checks the peer's silence. */
static void heartbeat_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct am_conn *c = arg;
	if (c->frames_out == c->frames_out_seen) {
		am_send_heartbeat(c);
	}
	c->frames_out_seen = c->frames_out;
	if (++c->half_ticks % 2 == 0 && peer_timed_out(c)) {
		tdm_warn("amqp", "missed heartbeats from client %s, timeout: %us", c->net->peer,
			 c->heartbeat);
		tdm_conn_abort(c->net);
	}
}

static void start_heartbeat(struct am_conn *c)
{
	if (!c->heartbeat)
		return;
	c->heartbeat_ev = event_new(tdm_net_base(c->net->net), -1, EV_PERSIST, heartbeat_tick, c);
	if (!c->heartbeat_ev)
		return;
	struct timeval tv = { c->heartbeat / 2, (c->heartbeat % 2) * 500000 };
	event_add(c->heartbeat_ev, &tv);
}

/* ---- connection class ------------------------------------------------------ */

static int parse_plain(struct am_bytes r, const char **user, size_t *ulen, const char **pass,
		       size_t *plen)
{
	/* [authzid] NUL authcid NUL passwd */
	const char *p = (const char *)r.ptr;
	const char *end = p + r.len;
	const char *z1 = memchr(p, 0, r.len);
	if (!z1)
		return -1;
	const char *z2 = memchr(z1 + 1, 0, (size_t)(end - z1 - 1));
	if (!z2)
		return -1;
	*user = z1 + 1;
	*ulen = (size_t)(z2 - z1 - 1);
	*pass = z2 + 1;
	*plen = (size_t)(end - z2 - 1);
	return 0;
}

static int parse_amqplain(struct am_bytes r, const char **user, size_t *ulen, const char **pass,
			  size_t *plen)
{
	/* a field table without its length prefix, keys LOGIN and PASSWORD */
	struct am_value v;
	if (am_table_validate(r, 4) != AM_OK)
		return -1;
	if (!am_table_get(r, "LOGIN", &v) || v.type != 'S')
		return -1;
	*user = (const char *)v.v.bytes.ptr;
	*ulen = v.v.bytes.len;
	if (!am_table_get(r, "PASSWORD", &v) || v.type != 'S')
		return -1;
	*pass = (const char *)v.v.bytes.ptr;
	*plen = v.v.bytes.len;
	return 0;
}

static void read_client_caps(struct am_conn *c, struct am_bytes props)
{
	struct am_value caps, v;
	if (!am_table_get(props, "capabilities", &caps) || caps.type != 'F')
		return;
	if (am_table_get(caps.v.bytes, "consumer_cancel_notify", &v) && v.type == 't')
		c->cap_cancel_notify = v.v.i != 0;
	if (am_table_get(caps.v.bytes, "authentication_failure_close", &v) && v.type == 't')
		c->cap_auth_failure_close = v.v.i != 0;
	if (am_table_get(caps.v.bytes, "connection.blocked", &v) && v.type == 't')
		c->cap_blocked = v.v.i != 0;
}

/* 1 when user is in the comma list loopback_users. */
static int loopback_only(const struct am_conn *c, const char *user)
{
	const char *q = c->broker->cfg->loopback_users ? c->broker->cfg->loopback_users : "";
	size_t len = strlen(user);

	while (*q) {
		size_t m = strcspn(q, ",");

		if (m == len && memcmp(q, user, len) == 0)
			return 1;
		q += m + (q[m] == ',');
	}
	return 0;
}

/*
 * SASL EXTERNAL, as RabbitMQ's rabbit_auth_mechanism_ssl: the user is
 * named by the client certificate the TLS handshake verified
 * (ssl_cert_login_from) and must exist; the response is ignored.  0 with
 * c->user set, or -1 with why (RabbitMQ's log text) set.
 */
static int external_login(struct am_conn *c, char *why, size_t len)
{
	const char *from = c->broker->cfg->ssl_cert_login_from;
	int cn = from && strcmp(from, "common_name") == 0;
	enum tdm_tls_name_result r =
		tdm_tls_peer_name(c->net->bev, cn, c->user_name, sizeof(c->user_name));

	if (r != TDM_TLS_NAME_OK) {
		snprintf(why, len, "%s", tdm_tls_name_error(r));
		return -1;
	}
	if (!tdm_auth_user_tags(c->broker->auth, c->user)) {
		snprintf(why, len, "user '%s' - invalid credentials", c->user);
		return -1;
	}
	if (!c->net->peer_loopback && loopback_only(c, c->user)) {
		snprintf(why, len, "user '%s' can only connect via localhost", c->user);
		return -1;
	}
	return 0;
}

static int h_start_ok(struct am_conn *c, const struct am_method *m, struct am_err *err)
{
	const struct am_connection_start_ok *s = &m->u.connection_start_ok;
	const char *user = NULL, *pass = NULL;
	const char *mech = offered(c, (const char *)s->mechanism.ptr, s->mechanism.len);
	size_t ulen = 0, plen = 0;
	char why[512] = "";
	int rc = -1;
	read_client_caps(c, s->client_properties);
	if (!mech) {
		for (size_t i = 0; i < NMECHANISMS; i++)
			if (strlen(known_mechanisms[i]) == s->mechanism.len &&
			    memcmp(known_mechanisms[i], s->mechanism.ptr, s->mechanism.len) == 0)
				return am_fail(err, AM_COMMAND_INVALID, m->id,
					       "invalid authentication mechanism '%s'",
					       known_mechanisms[i]);
		return am_fail(err, AM_COMMAND_INVALID, m->id,
			       "unknown authentication mechanism '%.*s'", (int)s->mechanism.len,
			       (const char *)s->mechanism.ptr);
	}
	if (c->link) {
		/* the cluster link: its one user and the cluster's secret,
		 * core's check as on the Kafka side; no user record */
		rc = parse_plain(s->response, &user, &ulen, &pass, &plen);
		if (rc == 0 && tdm_auth_link_check(c->broker->auth, user, ulen, pass, plen))
			c->user = tdm_auth_link_user;
		else
			snprintf(why, sizeof(why), "user '%.*s' - invalid credentials",
				 (int)(rc == 0 && ulen < 255 ? ulen : 0), user ? user : "");
		rc = tdm_auth_is_link(c->user) ? 0 : -1;
	} else if (strcmp(mech, "EXTERNAL") == 0) {
		rc = external_login(c, why, sizeof(why));
	} else {
		enum tdm_auth_result ar = TDM_AUTH_BAD_CREDENTIALS;
		if (strcmp(mech, "PLAIN") == 0)
			rc = parse_plain(s->response, &user, &ulen, &pass, &plen);
		else
			rc = parse_amqplain(s->response, &user, &ulen, &pass, &plen);
		if (rc == 0 && ulen < sizeof(c->user_name))
			ar = tdm_auth_check(c->broker->auth, user, ulen, pass, plen,
					    c->net->peer_loopback);
		rc = ar == TDM_AUTH_OK ? 0 : -1;
		if (ar == TDM_AUTH_LOOPBACK_ONLY)
			snprintf(why, sizeof(why), "user '%.*s' can only connect via localhost",
				 (int)(ulen < 255 ? ulen : 255), user);
		else if (ar != TDM_AUTH_OK)
			snprintf(why, sizeof(why), "user '%.*s' - invalid credentials",
				 (int)(ulen < 255 ? ulen : 255), user ? user : "");
		if (rc == 0) {
			memcpy(c->user_name, user, ulen);
			c->user_name[ulen] = '\0';
		}
	}
	if (rc != 0) {
		/* RabbitMQ's log line; the client learns only the safe text */
		tdm_warn("amqp", "login refused from %s: %s login refused: %s", c->net->peer, mech,
			 why);
		c->user_name[0] = '\0';
		c->user = c->user_name;
		return am_fail(err, AM_ACCESS_REFUSED, 0,
			       "Login was refused using authentication mechanism %s. "
			       "For details see the broker logfile.",
			       mech);
	}
	c->mechanism = mech;
	const struct tdm_config *cfg = c->broker->cfg;
	struct am_method t = { .id = AM_CONNECTION_TUNE };
	t.u.connection_tune.channel_max = (uint16_t)cfg->channel_max;
	t.u.connection_tune.frame_max = cfg->frame_max;
	t.u.connection_tune.heartbeat = (uint16_t)cfg->heartbeat;
	am_send_method(c, 0, &t);
	c->state = AM_S_TUNE_OK;
	return 0;
}

static int h_tune_ok(struct am_conn *c, const struct am_method *m, struct am_err *err)
{
	const struct am_connection_tune_ok *t = &m->u.connection_tune_ok;
	const struct tdm_config *cfg = c->broker->cfg;
	/* RabbitMQ: 0 ("no limit") is refused when the server has a limit */
	uint32_t fmax = t->frame_max ? t->frame_max : UINT32_MAX;
	uint32_t cmax = t->channel_max ? t->channel_max : UINT16_MAX + 1u;
	if (fmax < AM_FRAME_MIN_SIZE)
		return am_fail(err, AM_NOT_ALLOWED, m->id, "frame_max=%u < %u min size", fmax,
			       AM_FRAME_MIN_SIZE);
	if (fmax > cfg->frame_max)
		return am_fail(err, AM_NOT_ALLOWED, m->id, "frame_max=%u > %u max size", fmax,
			       cfg->frame_max);
	if (cmax > cfg->channel_max)
		return am_fail(err, AM_NOT_ALLOWED, m->id, "channel_max=%u > %u max size", cmax,
			       cfg->channel_max);
	c->frame_max = fmax;
	c->channel_max = (uint16_t)cmax;
	c->heartbeat = t->heartbeat;
	c->state = AM_S_OPEN;
	start_heartbeat(c);
	return 0;
}

/* What the connection registry (management API, metrics) reads. */
static void reg_stats(void *ctx, struct tdm_conn_stats *out)
{
	struct am_conn *c = ctx;
	*out = (struct tdm_conn_stats){ c->nchannels_open, c->channel_max, c->frame_max,
					c->heartbeat, c->bytes_in, c->net->bytes_out, c->blocked };
}

static void reg_channels(void *ctx, tdm_chan_fn fn, void *arg)
{
	struct am_conn *c = ctx;
	for (uint32_t i = 0; i < c->nchannels_open; i++) {
		struct am_channel *ch = c->channels[i];
		struct tdm_chan_info ci = { ch->id, ch->nconsumers, ch->unacked, ch->prefetch_consumer,
					    ch->prefetch_channel, ch->confirm, ch->tx };
		fn(arg, &ci);
	}
}

static void reg_close(void *ctx, const char *reason)
{
	struct am_err err;
	am_fail(&err, AM_CONNECTION_FORCED, 0, "%s", reason);
	am_conn_close_with(ctx, &err);
}

static void reg_consumers(void *ctx, tdm_consumer_fn fn, void *arg)
{
	struct am_conn *c = ctx;
	for (uint32_t i = 0; i < c->nchannels_open; i++) {
		struct am_channel *ch = c->channels[i];
		for (struct am_consumer *k = ch->consumers; k; k = k->next) {
			if (k->cancelled || !k->core.queue)
				continue;
			struct tdm_consumer_info ci = { ch->id, k->tag, k->tag_len, &k->core,
							!k->no_ack, k->prefetch };
			fn(arg, &ci);
		}
	}
}

static void reg_security(void *ctx, struct tdm_conn_security *out)
{
	struct am_conn *c = ctx;
	struct tdm_tls_info ti;

	_Static_assert(sizeof(out->ssl_protocol) == sizeof(ti.protocol) &&
			       sizeof(out->ssl_cipher) == sizeof(ti.cipher) &&
			       sizeof(out->ssl_key_exchange) == sizeof(ti.key_exchange) &&
			       sizeof(out->ssl_hash) == sizeof(ti.hash) &&
			       sizeof(out->peer_cert_subject) == sizeof(ti.peer_cert_subject) &&
			       sizeof(out->peer_cert_issuer) == sizeof(ti.peer_cert_issuer) &&
			       sizeof(out->peer_cert_validity) == sizeof(ti.peer_cert_validity),
		       "core/registry.h and net/tls.h agree on sizes");
	out->auth_mechanism = c->mechanism;
	if (!tdm_tls_info(c->net->bev, &ti))
		return;
	out->ssl = 1;
	memcpy(out->ssl_protocol, ti.protocol, sizeof(out->ssl_protocol));
	memcpy(out->ssl_cipher, ti.cipher, sizeof(out->ssl_cipher));
	memcpy(out->ssl_key_exchange, ti.key_exchange, sizeof(out->ssl_key_exchange));
	memcpy(out->ssl_hash, ti.hash, sizeof(out->ssl_hash));
	memcpy(out->peer_cert_subject, ti.peer_cert_subject, sizeof(out->peer_cert_subject));
	memcpy(out->peer_cert_issuer, ti.peer_cert_issuer, sizeof(out->peer_cert_issuer));
	memcpy(out->peer_cert_validity, ti.peer_cert_validity, sizeof(out->peer_cert_validity));
}

static const struct tdm_reg_ops reg_ops = { reg_stats, reg_channels, reg_close, reg_consumers,
					    reg_security };

static int h_open(struct am_conn *c, const struct am_method *m, struct am_err *err)
{
	struct am_bytes vh = m->u.connection_open.virtual_host;
	struct tdm_vhost *v = tdm_vhost_find(c->broker, (const char *)vh.ptr, vh.len);
	if (!v)
		return am_fail(err, AM_NOT_ALLOWED, m->id, "vhost %.*s not found", (int)vh.len,
			       (const char *)vh.ptr);
	if (!tdm_auth_vhost_allowed(c->broker->auth, c->user, (const char *)vh.ptr, vh.len))
		return am_fail(err, AM_NOT_ALLOWED, m->id,
			       "access to vhost '%.*s' refused for user '%s'", (int)vh.len,
			       (const char *)vh.ptr, c->user);
	struct tdm_err te = { 0 };
	/* the link is the broker itself: no user's or vhost's connection limit */
	if (!am_conn_trusted(c) &&
	    tdm_limits_check_connection(c->broker, c->user, v->name, &te) != TDM_OK)
		return am_fail(err, AM_NOT_ALLOWED, m->id, "%s", te.text);
	c->vhost = v;
	c->state = AM_S_RUNNING;
	evtimer_del(c->handshake_ev);
	struct am_method ok = { .id = AM_CONNECTION_OPEN_OK };
	am_send_method(c, 0, &ok);
	tdm_info("amqp", "connection %s: user '%s' opened vhost '%s'", c->net->peer, c->user, v->name);
	tdm_registry_add(c, &reg_ops, "AMQP 0-9-1", (int)bufferevent_getfd(c->net->bev), c->user,
			 v->name);
	return 0;
}

/* Methods on channel 0: the handshake in order, then close / close-ok. */
static void connection_method(struct am_conn *c, const struct am_method *m)
{
	struct am_err err = { 0 };
	int rc = 0;
	if (m->id == AM_CONNECTION_CLOSE && c->state >= AM_S_OPEN) {
		release_channels(c);
		am_send_simple(c, 0, AM_CONNECTION_CLOSE_OK);
		c->state = AM_S_CLOSED;
		tdm_conn_close(c->net);
		return;
	}
	if (c->state == AM_S_CLOSING) {
		if (m->id == AM_CONNECTION_CLOSE_OK || m->id == AM_CONNECTION_CLOSE) {
			c->state = AM_S_CLOSED;
			tdm_conn_close(c->net);
		}
		return;
	}
	uint32_t want = c->state == AM_S_START_OK ? AM_CONNECTION_START_OK
		      : c->state == AM_S_TUNE_OK  ? AM_CONNECTION_TUNE_OK
		      : c->state == AM_S_OPEN	   ? AM_CONNECTION_OPEN
						   : 0;
	if (m->id == AM_CONNECTION_UPDATE_SECRET && c->state == AM_S_RUNNING) {
		am_send_simple(c, 0, AM_CONNECTION_UPDATE_SECRET_OK);
		return;
	}
	const char *name = am_method_name(m->id) ? am_method_name(m->id) : "method";
	if (c->state == AM_S_RUNNING) /* RabbitMQ: anything else on channel 0 now is 504 */
		rc = am_fail(&err, AM_CHANNEL_ERROR, m->id, "unexpected method on channel 0: %s", name);
	else if (m->id != want)
		rc = am_fail(&err, c->state == AM_S_OPEN ? AM_COMMAND_INVALID : AM_CHANNEL_ERROR, m->id,
			     "expected '%s', got '%s'", am_method_name(want), name);
	else if (m->id == AM_CONNECTION_START_OK)
		rc = h_start_ok(c, m, &err);
	else if (m->id == AM_CONNECTION_TUNE_OK)
		rc = h_tune_ok(c, m, &err);
	else
		rc = h_open(c, m, &err);
	if (rc == 0)
		return;
	if (err.code == AM_ACCESS_REFUSED && c->state == AM_S_START_OK && c->cap_auth_failure_close) {
		/* authentication_failure_close: the client asked for a close frame */
		am_conn_close_with(c, &err);
		return;
	}
	conn_fail(c, &err);
}

/* ---- the frame loop -------------------------------------------------------- */

static int read_header(struct am_conn *c, struct evbuffer *in)
{
	if (evbuffer_get_length(in) < 8)
		return 0;
	uint8_t h[8];
	evbuffer_remove(in, h, 8);
	if (memcmp(h, protocol_header, 8) != 0 && memcmp(h, protocol_header_0_9, 8) != 0) {
		/* wrong protocol or version: answer with ours and close (spec 4.2.2) */
		evbuffer_add(tdm_conn_out(c->net), protocol_header, 8);
		c->state = AM_S_CLOSED;
		tdm_conn_close(c->net);
		return 0;
	}
	c->state = AM_S_START_OK;
	send_start(c);
	return 1;
}

static void frame_error(struct am_conn *c, uint16_t code, uint32_t method, const char *text)
{
	struct am_err err;
	am_fail(&err, code, method, "%s", text);
	conn_fail(c, &err);
}

static void method_frame(struct am_conn *c, const struct am_frame *f)
{
	struct am_method m;
	uint32_t id = f->size >= 4 ? ((uint32_t)f->payload[0] << 24 | (uint32_t)f->payload[1] << 16 |
				      (uint32_t)f->payload[2] << 8 | f->payload[3])
				   : 0;
	int rc = am_method_decode(f->payload, f->size, &m);
	if (rc == AM_ERR_UNKNOWN) {
		frame_error(c, AM_NOT_IMPLEMENTED, 0, "unknown class or method id");
		return;
	}
	if (rc != AM_OK) { /* RabbitMQ reports unparsable arguments as frame errors */
		frame_error(c, AM_FRAME_ERROR, f->size >= 4 ? id : 0, "unable to parse method arguments");
		return;
	}
	if (f->channel == 0)
		connection_method(c, &m);
	else if (c->state == AM_S_RUNNING)
		am_dispatch_method(c, f->channel, &m);
	else if (c->state == AM_S_OPEN)
		frame_error(c, AM_UNEXPECTED_FRAME, 0, "channel frame before connection.open");
	else if (c->state != AM_S_CLOSING)
		frame_error(c, AM_CHANNEL_ERROR, 0, "channel frame during the handshake");
}

static void handle_frame(struct am_conn *c, const struct am_frame *f)
{
	switch (f->type) {
	case AM_FRAME_HEARTBEAT:
		if (f->channel != 0)
			frame_error(c, AM_UNEXPECTED_FRAME, 0, "heartbeat frame on a non-zero channel");
		else if (f->size != 0)
			frame_error(c, AM_FRAME_ERROR, 0, "heartbeat frame with a payload");
		return;
	case AM_FRAME_METHOD:
		method_frame(c, f);
		return;
	case AM_FRAME_HEADER:
	case AM_FRAME_BODY:
		if (c->state == AM_S_CLOSING)
			return;
		if (f->channel == 0 || c->state != AM_S_RUNNING) {
			frame_error(c, AM_UNEXPECTED_FRAME, 0, "content frame outside a channel");
			return;
		}
		am_dispatch_content(c, f);
		return;
	default:
		frame_error(c, AM_FRAME_ERROR, 0, "unknown frame type");
	}
}

/* A frame an alarm holds back: basic.publish, and the content frames of a
 * message already started (a large body must not go on growing memory
 * once the memory alarm is on). */
static int publishing(const uint8_t *h, uint32_t size, const uint8_t *p)
{
	if (h[0] == AM_FRAME_HEADER || h[0] == AM_FRAME_BODY)
		return 1;
	return h[0] == AM_FRAME_METHOD && size >= 4 && p[7] == 0 && p[8] == 60 && p[9] == 0 &&
	       p[10] == 40;
}

static void am_read(void *ctx, struct evbuffer *in)
{
	struct am_conn *c = ctx;
	size_t avail = evbuffer_get_length(in);
	c->bytes_in += avail;
	if (c->state == AM_S_HEADER && !read_header(c, in))
		return;
	/* c->frame_max is 4096 until tune-ok, as RabbitMQ's: a client that has
	 * not logged in cannot make the broker buffer a large frame */
	uint32_t limit = c->frame_max;
	while (c->state != AM_S_CLOSED && !c->net->closing && !c->net->reading_paused) {
		avail = evbuffer_get_length(in);
		if (avail < 7)
			break;
		uint8_t h[7];
		evbuffer_copyout(in, h, 7);
		uint32_t size = ((uint32_t)h[3] << 24) | ((uint32_t)h[4] << 16) |
				((uint32_t)h[5] << 8) | h[6];
		if (size > limit) { /* RabbitMQ tolerates a payload of exactly frame_max */
			frame_error(c, AM_FRAME_ERROR, 0, "frame size exceeds frame_max");
			evbuffer_drain(in, avail);
			break;
		}
		if (avail < (size_t)size + AM_FRAME_OVERHEAD)
			break;
		const uint8_t *p = evbuffer_pullup(in, (ssize_t)size + AM_FRAME_OVERHEAD);
		if (c->broker->alarms && c->state == AM_S_RUNNING && publishing(h, size, p)) {
			am_conn_block(c); /* the publisher waits, unread, until the alarm clears */
			break;
		}
		struct am_frame f;
		long n = am_frame_parse(p, size + AM_FRAME_OVERHEAD, limit + AM_FRAME_OVERHEAD, &f);
		if (n <= 0) {
			frame_error(c, AM_FRAME_ERROR, 0, "invalid frame end octet");
			evbuffer_drain(in, avail);
			break;
		}
		handle_frame(c, &f);
		evbuffer_drain(in, (size_t)n);
		limit = c->frame_max;
	}
	tdm_durable_flush(c->broker->durable); /* one journal batch per read, then its fsync */
	am_flush_confirms(c);
	/* what is left while closing is the start of a frame (close-ok split
	 * across reads): keep it; after close nothing more is read */
	if (c->state == AM_S_CLOSED)
		evbuffer_drain(in, evbuffer_get_length(in));
}

/* ---- proto callbacks -------------------------------------------------------- */

static void *am_open(struct tdm_conn *nc, void *arg)
{
	struct am_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->net = nc;
	c->broker = arg;
	c->user = c->user_name;
	c->frame_max = AM_FRAME_MIN_SIZE;
	uint32_t ms = c->broker->cfg->handshake_timeout;
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	c->handshake_ev = evtimer_new(tdm_net_base(nc->net), handshake_timeout, c);
	if (!c->handshake_ev) {
		free(c);
		return NULL;
	}
	evtimer_add(c->handshake_ev, &tv);
	tdm_conn_ref(nc);
	c->all_next = all_conns;
	if (all_conns)
		all_conns->all_prev = c;
	all_conns = c;
	tdm_debug("amqp", "accepted connection from %s", nc->peer);
	return c;
}

static void am_drained(void *ctx)
{
	am_conn_kick_consumers(ctx);
}

static void am_closed(void *ctx)
{
	struct am_conn *c = ctx;
	tdm_registry_remove(c);
	if (c->all_prev)
		c->all_prev->all_next = c->all_next;
	else
		all_conns = c->all_next;
	if (c->all_next)
		c->all_next->all_prev = c->all_prev;
	am_stream_conn_gone(c);
	am_defs_conn_gone(c);
	am_remote_conn_gone(c);
	release_channels(c);
	drop_exclusive_queues(c);
	if (c->heartbeat_ev)
		event_free(c->heartbeat_ev);
	if (c->close_timer)
		event_free(c->close_timer);
	event_free(c->handshake_ev);
	free(c->channels);
	tdm_conn_unref(c->net);
	free(c);
}

static void am_shutdown(void *ctx)
{
	struct am_conn *c = ctx;
	if (c->state != AM_S_RUNNING && c->state != AM_S_OPEN && c->state != AM_S_TUNE_OK) {
		tdm_conn_close(c->net);
		return;
	}
	struct am_err err;
	am_fail(&err, AM_CONNECTION_FORCED, 0, "broker forced connection closure with reason 'shutdown'");
	am_conn_close_with(c, &err);
}

const struct tdm_proto am_proto = {
	.name = "amqp",
	.open = am_open,
	.read = am_read,
	.drained = am_drained,
	.closed = am_closed,
	.shutdown = am_shutdown,
};

static void *am_link_open(struct tdm_conn *nc, void *arg)
{
	struct am_conn *c = am_open(nc, arg);

	if (c)
		c->link = 1;
	return c;
}

const struct tdm_proto am_link_proto = {
	.name = "amqp-link",
	.open = am_link_open,
	.read = am_read,
	.drained = am_drained,
	.closed = am_closed,
	.shutdown = am_shutdown,
};
