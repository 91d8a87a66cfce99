/*
 * The AMQP client's connection (see amc.h): the socket (a libevent
 * bufferevent, connected as cluster/link.c's peers are: one deadline for
 * connect and handshake, one report when it is lost), frames in through
 * the codec's bounds-checked am_frame_parse / am_method_decode, frames out
 * through am_method_frame_encode, the connection class (start, tune, open,
 * close), heartbeats, and the release rules of amc_internal.h.
 * Channel frames go to amc_chan.c.
 *
 * Must not depend on: src/core, src/net, the front ends (only libevent and
 * amqp/codec.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/socket.h>

#include <event2/dns.h>
#include <event2/util.h>

#include "cluster/amc_internal.h"

static const uint8_t protocol_header[8] = { 'A', 'M', 'Q', 'P', 0, 0, 9, 1 };

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- frames out ---------------------------------------------------------- */

void amc_put_frame_header(uint8_t *p, uint8_t type, uint16_t channel, uint32_t size)
{
	p[0] = type;
	p[1] = (uint8_t)(channel >> 8);
	p[2] = (uint8_t)channel;
	p[3] = (uint8_t)(size >> 24);
	p[4] = (uint8_t)(size >> 16);
	p[5] = (uint8_t)(size >> 8);
	p[6] = (uint8_t)size;
}

struct evbuffer *amc_out(struct tdm_amc *c)
{
	c->sent = 1;
	return c->state == C_OPEN ? bufferevent_get_output(c->bev) : c->held;
}

int amc_put_method(struct tdm_amc *c, struct evbuffer *out, uint16_t channel,
		   const struct am_method *m)
{
	size_t cap = 512;
	for (;;) {
		struct evbuffer_iovec v;
		size_t len = 0;
		if (cap > c->frame_max)
			cap = c->frame_max;
		if (evbuffer_reserve_space(out, cap, &v, 1) < 1)
			return TDM_AMC_ERR_NOMEM;
		int rc = am_method_frame_encode(channel, m, v.iov_base, cap, &len);
		if (rc == AM_OK) {
			v.iov_len = len;
			evbuffer_commit_space(out, &v, 1);
			return 0;
		}
		if (rc != AM_ERR_NOSPACE || cap >= c->frame_max)
			return TDM_AMC_ERR_INVAL; /* a shortstr over 255, or over frame_max */
		cap *= 4;
	}
}

/* A connection-class method, straight to the socket. */
static int conn_send(struct tdm_amc *c, const struct am_method *m)
{
	c->sent = 1;
	return amc_put_method(c, bufferevent_get_output(c->bev), 0, m);
}

static void put_heartbeat(struct tdm_amc *c)
{
	static const uint8_t hb[8] = { AM_FRAME_HEARTBEAT, 0, 0, 0, 0, 0, 0, AM_FRAME_END };
	c->sent = 1;
	bufferevent_write(c->bev, hb, sizeof(hb));
}

/* Writes what is buffered now, without waiting (before the socket goes). */
static void flush_now(struct tdm_amc *c)
{
	evutil_socket_t fd = bufferevent_getfd(c->bev);
	if (fd >= 0)
		evbuffer_write(bufferevent_get_output(c->bev), fd);
}

/*
 * Lets the socket go: libevent closes the descriptor in a finalizer that
 * runs when the loop next turns (or at event_base_free), so it is shut
 * down here, at once, for the peer to see the end now.
 */
static void drop_socket(struct tdm_amc *c)
{
	evutil_socket_t fd;

	if (!c->bev)
		return;
	if ((fd = bufferevent_getfd(c->bev)) >= 0)
		shutdown(fd, SHUT_WR);
	bufferevent_free(c->bev);
	c->bev = NULL;
}

static void send_close(struct tdm_amc *c, int code, const char *text)
{
	struct am_method m = { .id = AM_CONNECTION_CLOSE };
	size_t n = strlen(text);
	m.u.connection_close.reply_code = (uint16_t)code;
	m.u.connection_close.reply_text =
		(struct am_bytes){ (const uint8_t *)text, (uint32_t)(n > 255 ? 255 : n) };
	conn_send(c, &m);
	flush_now(c);
}

/* ---- life ---------------------------------------------------------------- */

void amc_enter(struct tdm_amc *c)
{
	c->depth++;
}

static void destroy(struct tdm_amc *c)
{
	for (size_t i = 0; i < c->nchans; i++)
		if (c->chans[i])
			amc_chan_destroy(c->chans[i]);
	free(c->chans);
	drop_socket(c);
	if (c->dns)
		evdns_base_free(c->dns, 0);
	if (c->timer)
		event_free(c->timer);
	if (c->hb)
		event_free(c->hb);
	if (c->held)
		evbuffer_free(c->held);
	free((char *)c->cfg.host);
	free((char *)c->cfg.user);
	if (c->cfg.pass) {
		explicit_bzero((char *)c->cfg.pass, c->cfg.pass_len);
		free((char *)c->cfg.pass);
	}
	free((char *)c->cfg.vhost);
	free((char *)c->cfg.name);
	free(c);
}

int amc_leave(struct tdm_amc *c)
{
	if (--c->depth)
		return 0;
	if (c->freed) {
		destroy(c);
		return 1;
	}
	if (!c->reap)
		return 0;
	c->reap = 0;
	for (size_t i = 0; i < c->nchans; i++) {
		struct tdm_amc_chan *ch = c->chans[i];
		if (!ch)
			continue;
		if (ch->released && ch->state == CH_DEAD) {
			amc_chan_destroy(ch);
			c->chans[i] = NULL;
		} else {
			amc_chan_reap(ch);
		}
	}
	return 0;
}

/* Called with c entered (depth > 0): callbacks may free c meanwhile. */
void amc_fail(struct tdm_amc *c, int code, const char *why)
{
	char text[360];

	if (c->state == C_DEAD)
		return;
	snprintf(text, sizeof(text), "%s", why); /* why may point into the input */
	c->state = C_DEAD;
	drop_socket(c);
	evtimer_del(c->timer);
	evtimer_del(c->hb);
	if (!c->freed && c->lost)
		c->lost(c->arg, code, text);
	for (size_t i = 0; i < c->nchans; i++) {
		struct tdm_amc_chan *ch = c->chans[i];
		if (!ch || ch->state == CH_DEAD)
			continue;
		ch->state = CH_DEAD;
		amc_chan_fail(ch, TDM_AMC_ERR_LOST, text, 1);
	}
}

int amc_proto_fail(struct tdm_amc *c, int code, const char *why)
{
	char text[360];

	if (c->state == C_DEAD)
		return -1;
	snprintf(text, sizeof(text), "protocol error from the peer: %.300s", why);
	send_close(c, code, text);
	amc_fail(c, TDM_AMC_ERR_LOST, text);
	return -1;
}

/* ---- the connection class ------------------------------------------------ */

/* "PLAIN" among the space-separated mechanisms. */
static int offers_plain(struct am_bytes mechs)
{
	size_t i = 0;
	while (i < mechs.len) {
		size_t j = i;
		while (j < mechs.len && mechs.ptr[j] != ' ')
			j++;
		if (j - i == 5 && memcmp(mechs.ptr + i, "PLAIN", 5) == 0)
			return 1;
		i = j + 1;
	}
	return 0;
}

static int on_start(struct tdm_amc *c, const struct am_connection_start *s)
{
	uint8_t props[512];
	struct am_tb tb;
	struct am_method m = { .id = AM_CONNECTION_START_OK };
	size_t ulen = strlen(c->cfg.user), rlen = 2 + ulen + c->cfg.pass_len;
	uint8_t *resp;
	int rc;

	if (s->version_major != 0 || s->version_minor != 9)
		return amc_proto_fail(c, 503, "connection.start is not AMQP 0-9");
	if (!offers_plain(s->mechanisms)) {
		amc_fail(c, TDM_AMC_ERR_LOST, "the peer does not offer the PLAIN mechanism");
		return -1;
	}
	am_tb_init(&tb, props, sizeof(props));
	am_tb_str(&tb, "product", "tandem", 6);
	am_tb_str(&tb, "platform", "tandem cluster client", 21);
	if (c->cfg.name)
		am_tb_str(&tb, "connection_name", c->cfg.name, strlen(c->cfg.name));
	am_tb_table_begin(&tb, "capabilities");
	am_tb_bool(&tb, "authentication_failure_close", 1);
	am_tb_bool(&tb, "consumer_cancel_notify", 1);
	am_tb_bool(&tb, "basic.nack", 1);
	am_tb_bool(&tb, "publisher_confirms", 1);
	am_tb_table_end(&tb);
	if (am_tb_finish(&tb, &m.u.connection_start_ok.client_properties) != AM_OK ||
	    !(resp = malloc(rlen))) {
		amc_fail(c, TDM_AMC_ERR_LOST, "cannot build connection.start-ok");
		return -1;
	}
	resp[0] = 0;
	memcpy(resp + 1, c->cfg.user, ulen);
	resp[1 + ulen] = 0;
	memcpy(resp + 2 + ulen, c->cfg.pass, c->cfg.pass_len);
	m.u.connection_start_ok.mechanism = (struct am_bytes){ (const uint8_t *)"PLAIN", 5 };
	m.u.connection_start_ok.response = (struct am_bytes){ resp, (uint32_t)rlen };
	m.u.connection_start_ok.locale = (struct am_bytes){ (const uint8_t *)"en_US", 5 };
	rc = conn_send(c, &m);
	explicit_bzero(resp, rlen);
	free(resp);
	if (rc < 0) {
		amc_fail(c, TDM_AMC_ERR_LOST, "cannot write connection.start-ok");
		return -1;
	}
	c->state = C_TUNE;
	return 0;
}

static void hb_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tdm_amc *c = arg;
	char why[80];
	(void)fd, (void)what;
	amc_enter(c);
	if (now_ms() - c->last_read_ms > 2000 * (int64_t)c->heartbeat) {
		snprintf(why, sizeof(why), "missed heartbeats from the peer (heartbeat %u s)",
			 c->heartbeat);
		amc_fail(c, TDM_AMC_ERR_LOST, why);
	} else if (!c->sent) {
		put_heartbeat(c);
	}
	c->sent = 0;
	amc_leave(c);
}

static int on_tune(struct tdm_amc *c, const struct am_connection_tune *t)
{
	struct am_method m = { .id = AM_CONNECTION_TUNE_OK };
	uint32_t fmax =
		t->frame_max && t->frame_max < TDM_AMC_FRAME_MAX ? t->frame_max : TDM_AMC_FRAME_MAX;
	uint16_t cmax = t->channel_max && t->channel_max < TDM_AMC_CHANNEL_MAX
				? t->channel_max
				: TDM_AMC_CHANNEL_MAX;
	unsigned hb = c->cfg.heartbeat;

	if (fmax < AM_FRAME_MIN_SIZE)
		return amc_proto_fail(c, 530, "connection.tune frame_max under 4096");
	if (hb && t->heartbeat && t->heartbeat < hb)
		hb = t->heartbeat;
	c->frame_max = fmax;
	c->channel_max = cmax;
	c->heartbeat = hb;
	m.u.connection_tune_ok.channel_max = cmax;
	m.u.connection_tune_ok.frame_max = fmax;
	m.u.connection_tune_ok.heartbeat = (uint16_t)hb;
	conn_send(c, &m);
	m = (struct am_method){ .id = AM_CONNECTION_OPEN };
	m.u.connection_open.virtual_host =
		(struct am_bytes){ (const uint8_t *)c->cfg.vhost, (uint32_t)strlen(c->cfg.vhost) };
	if (conn_send(c, &m) < 0) {
		amc_fail(c, TDM_AMC_ERR_LOST,
			 "cannot write connection.open (vhost name too long?)");
		return -1;
	}
	if (hb) {
		struct timeval tv = { hb / 2, (hb % 2) * 500000 };
		evtimer_add(c->hb, &tv);
	}
	c->state = C_OPENING;
	return 0;
}

static int conn_method(struct tdm_amc *c, const struct am_method *m)
{
	char text[256], why[300];

	switch (m->id) {
	case AM_CONNECTION_START:
		if (c->state == C_START)
			return on_start(c, &m->u.connection_start);
		break;
	case AM_CONNECTION_TUNE:
		if (c->state == C_TUNE)
			return on_tune(c, &m->u.connection_tune);
		break;
	case AM_CONNECTION_OPEN_OK:
		if (c->state != C_OPENING)
			break;
		c->state = C_OPEN;
		evtimer_del(c->timer);
		bufferevent_write_buffer(c->bev, c->held);
		if (!c->freed && c->up)
			c->up(c->arg);
		return 0;
	case AM_CONNECTION_CLOSE: {
		struct am_method ok = { .id = AM_CONNECTION_CLOSE_OK };
		const struct am_connection_close *cl = &m->u.connection_close;
		conn_send(c, &ok);
		flush_now(c);
		amc_cstr(cl->reply_text, text, sizeof(text));
		snprintf(why, sizeof(why), "closed by the peer: %u %.255s", cl->reply_code, text);
		amc_fail(c, cl->reply_code ? cl->reply_code : TDM_AMC_ERR_LOST, why);
		return -1;
	}
	case AM_CONNECTION_BLOCKED:
	case AM_CONNECTION_UNBLOCKED:
		return 0; /* not asked for (no connection.blocked capability) */
	}
	snprintf(why, sizeof(why), "unexpected %s", am_method_name(m->id));
	return amc_proto_fail(c, 503, why);
}

/* ---- frames in ----------------------------------------------------------- */

static struct tdm_amc_chan *chan_of(struct tdm_amc *c, uint16_t id)
{
	char why[80];
	if (c->state == C_OPEN && id < c->nchans && c->chans[id])
		return c->chans[id];
	snprintf(why, sizeof(why), "a frame on channel %u, which is not open", id);
	amc_proto_fail(c, 504, why);
	return NULL;
}

static int on_frame(struct tdm_amc *c, const struct am_frame *f)
{
	struct am_method m;
	struct tdm_amc_chan *ch;
	char why[80];
	int rc;

	switch (f->type) {
	case AM_FRAME_HEARTBEAT:
		if (f->channel || f->size)
			return amc_proto_fail(c, 501, "a heartbeat on a channel or with a payload");
		if (!c->heartbeat)
			put_heartbeat(c); /* answered even when we asked for none */
		return 0;
	case AM_FRAME_METHOD:
		rc = am_method_decode(f->payload, f->size, &m);
		if (rc != AM_OK) {
			snprintf(why, sizeof(why), "a method frame that does not decode (%s)",
				 rc == AM_ERR_UNKNOWN ? "unknown method" : "syntax");
			return amc_proto_fail(c, rc == AM_ERR_UNKNOWN ? 540 : 502, why);
		}
		if (!f->channel)
			return conn_method(c, &m);
		if ((m.id >> 16) == 10)
			return amc_proto_fail(c, 503, "a connection method on a channel");
		if (!(ch = chan_of(c, f->channel)))
			return -1;
		return amc_chan_method(ch, f, &m);
	default: /* header, body */
		if (!f->channel)
			return amc_proto_fail(c, 504, "a content frame on channel 0");
		if (!(ch = chan_of(c, f->channel)))
			return -1;
		return amc_chan_content(ch, f);
	}
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct tdm_amc *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	amc_enter(c);
	c->last_read_ms = now_ms();
	while (c->state != C_DEAD && !c->freed) {
		uint8_t h[8];
		struct am_frame f;
		size_t avail = evbuffer_get_length(in), total;
		/* before tune, the most we would accept; then what was agreed */
		uint32_t limit = c->state <= C_TUNE ? TDM_AMC_FRAME_MAX : c->frame_max;
		const uint8_t *p;

		if (avail < 7)
			break;
		evbuffer_copyout(in, h, 7);
		if (c->state == C_START && memcmp(h, "AMQP", 4) == 0) {
			amc_fail(c, TDM_AMC_ERR_LOST, "the peer refused AMQP 0-9-1");
			break;
		}
		if (am_frame_parse(h, 7, limit, &f) < 0) { /* type and size, from the header */
			amc_proto_fail(c, 501, "a frame of a bad type or over frame_max");
			break;
		}
		total = (size_t)rd32(h + 3) + AM_FRAME_OVERHEAD;
		if (avail < total)
			break;
		if (!(p = evbuffer_pullup(in, (ev_ssize_t)total))) {
			amc_fail(c, TDM_AMC_ERR_LOST, "out of memory reading a frame");
			break;
		}
		if (am_frame_parse(p, total, limit, &f) != (long)total) {
			amc_proto_fail(c, 501, "a frame without its frame-end octet");
			break;
		}
		if (on_frame(c, &f) < 0 || c->state == C_DEAD || c->freed)
			break; /* in may be gone with the socket */
		evbuffer_drain(in, total);
	}
	amc_leave(c);
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct tdm_amc *c = arg;
	(void)bev;
	amc_enter(c);
	if (what & BEV_EVENT_CONNECTED) {
		c->state = C_START;
		c->last_read_ms = now_ms();
		bufferevent_write(c->bev, protocol_header, sizeof(protocol_header));
	} else if (what & BEV_EVENT_EOF) {
		amc_fail(c, TDM_AMC_ERR_LOST, "connection closed by the peer");
	} else if (what & BEV_EVENT_ERROR) {
		char why[160];
		int err = EVUTIL_SOCKET_ERROR(), dns = bufferevent_socket_get_dns_error(bev);
		snprintf(why, sizeof(why), "%s: %s",
			 c->state == C_CONNECTING ? "cannot connect" : "connection failed",
			 dns ? evutil_gai_strerror(dns) : evutil_socket_error_to_string(err));
		amc_fail(c, TDM_AMC_ERR_LOST, why);
	}
	amc_leave(c);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tdm_amc *c = arg;
	(void)fd, (void)what;
	amc_enter(c);
	if (c->connect_failed)
		amc_fail(c, TDM_AMC_ERR_LOST, "cannot connect");
	else if (c->state != C_OPEN)
		amc_fail(c, TDM_AMC_ERR_LOST, "not connected, logged in and open within 10 s");
	amc_leave(c);
}

/* ---- public --------------------------------------------------------------- */

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int start_connect(struct tdm_amc *c)
{
	struct sockaddr_storage ss;
	int sl = (int)sizeof(ss), rc;
	char hp[300];

	/* deferred callbacks: ours never run nested in libevent's own (the
	 * resolver's), so a callback may free everything */
	c->bev = bufferevent_socket_new(c->base, -1,
					BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	if (!c->bev)
		return -1;
	snprintf(hp, sizeof(hp), strchr(c->cfg.host, ':') ? "[%s]:%d" : "%s:%d", c->cfg.host,
		 c->cfg.port);
	/* callbacks set after connecting: a connect that fails at once must
	 * not report from inside tdm_amc_new (the timer reports it) */
	if (evutil_parse_sockaddr_port(hp, (struct sockaddr *)&ss, &sl) == 0) {
		rc = bufferevent_socket_connect(c->bev, (struct sockaddr *)&ss, sl);
	} else {
		if (!(c->dns = evdns_base_new(c->base, EVDNS_BASE_INITIALIZE_NAMESERVERS)))
			return -1;
		rc = bufferevent_socket_connect_hostname(c->bev, c->dns, AF_UNSPEC, c->cfg.host,
							 c->cfg.port);
	}
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (rc < 0) {
		c->connect_failed = 1;
		event_active(c->timer, EV_TIMEOUT, 1);
	}
	return 0;
}

struct tdm_amc *tdm_amc_new(struct event_base *base, const struct tdm_amc_config *cfg,
			    tdm_amc_up_fn up, tdm_amc_lost_fn lost, void *arg)
{
	struct tdm_amc *c;
	struct timeval tv = { TDM_AMC_CONNECT_TIMEOUT_MS / 1000,
			      (TDM_AMC_CONNECT_TIMEOUT_MS % 1000) * 1000 };

	if (!cfg || !cfg->host || !cfg->user || (!cfg->pass && cfg->pass_len) || !cfg->vhost ||
	    cfg->port <= 0 || cfg->port > 65535 || strlen(cfg->user) > 255)
		return NULL;
	if (!(c = calloc(1, sizeof(*c))))
		return NULL;
	c->base = base;
	c->up = up;
	c->lost = lost;
	c->arg = arg;
	c->state = C_CONNECTING;
	c->frame_max = AM_FRAME_MIN_SIZE; /* until tuned */
	c->next_id = 1;
	c->cfg = *cfg;
	c->cfg.host = strdup(cfg->host);
	c->cfg.user = strdup(cfg->user);
	c->cfg.vhost = strdup(cfg->vhost);
	c->cfg.name = dup_or_null(cfg->name);
	c->cfg.pass = malloc(cfg->pass_len ? cfg->pass_len : 1);
	c->timer = evtimer_new(base, timer_cb, c);
	c->hb = event_new(base, -1, EV_PERSIST, hb_cb, c);
	c->held = evbuffer_new();
	if (!c->cfg.host || !c->cfg.user || !c->cfg.vhost || (cfg->name && !c->cfg.name) ||
	    !c->cfg.pass || !c->timer || !c->hb || !c->held)
		goto fail;
	if (cfg->pass_len)
		memcpy((char *)c->cfg.pass, cfg->pass, cfg->pass_len);
	evtimer_add(c->timer, &tv);
	if (start_connect(c) < 0)
		goto fail;
	return c;
fail:
	if (c->timer)
		evtimer_del(c->timer);
	destroy(c);
	return NULL;
}

void tdm_amc_free(struct tdm_amc *c)
{
	if (!c || c->freed)
		return;
	c->freed = 1;
	amc_enter(c);
	for (size_t i = 0; i < c->nchans; i++) {
		struct tdm_amc_chan *ch = c->chans[i];
		if (ch && ch->state != CH_DEAD) {
			ch->state = CH_DEAD;
			amc_chan_fail(ch, TDM_AMC_ERR_CLOSED, "the connection was freed", 0);
		}
	}
	if (c->bev && c->state == C_OPEN)
		send_close(c, 200, "Goodbye");
	drop_socket(c);
	c->state = C_DEAD;
	evtimer_del(c->timer);
	evtimer_del(c->hb);
	amc_leave(c);
}

int tdm_amc_is_open(const struct tdm_amc *c)
{
	return c && c->state == C_OPEN && !c->freed;
}

size_t tdm_amc_output_size(const struct tdm_amc *c)
{
	size_t n = evbuffer_get_length(c->held);
	if (c->bev)
		n += evbuffer_get_length(bufferevent_get_output(c->bev));
	return n;
}
