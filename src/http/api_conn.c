/*
 * Management API: /api/connections, /api/channels and /api/consumers, read
 * from the core's
 * connection registry (core/registry.h), which the protocol front ends
 * fill; nothing here knows a wire protocol.
 *
 * Must not depend on: other front ends (src/amqp, src/kafka).
 */
#include <stdio.h>
#include <string.h>

#include <event2/http.h>

#include "core/auth.h"
#include "core/queue.h"
#include "core/registry.h"
#include "http/hx.h"

/* Consumers: those of the vhosts the user may open (RabbitMQ's filter_vhost). */
static int visible(struct hx_req *r, const struct tdm_reg_conn *c)
{
	return tdm_auth_vhost_allowed(r->h->broker->auth, r->user, c->vhost, strlen(c->vhost));
}

/*
 * Connections and channels, as RabbitMQ's is_authorized_user: a user sees
 * and closes its own; monitors (monitoring, administrator) see everyone's;
 * only administrators close other users' connections.
 */
static int owned(struct hx_req *r, const struct tdm_reg_conn *c)
{
	return strcmp(c->user, r->user) == 0;
}

static int may_see(struct hx_req *r, const struct tdm_reg_conn *c)
{
	return owned(r, c) || hx_is_monitor(r);
}

static int may_close(struct hx_req *r, const struct tdm_reg_conn *c)
{
	return owned(r, c) || hx_is_admin(r);
}

static void not_authorised_object(struct hx_req *r)
{
	hx_error(r, 401, "not_authorised", "User not authorised to access object"); /* RabbitMQ's */
}

/* A string, or null when empty (RabbitMQ's management writes '' as null). */
static void kstr_or_null(struct js_w *w, const char *k, const char *v)
{
	js_key(w, k);
	if (v && *v)
		js_str(w, v);
	else
		js_null(w);
}

/* auth_mechanism, ssl and the TLS items as RabbitMQ's management API lists
 * them: null when not over TLS or without a client certificate. */
static void write_security(struct js_w *w, const struct tdm_reg_conn *c)
{
	struct tdm_conn_security sec;

	memset(&sec, 0, sizeof(sec));
	if (c->ops->security)
		c->ops->security(c->ctx, &sec);
	kstr_or_null(w, "auth_mechanism", sec.auth_mechanism);
	js_kbool(w, "ssl", sec.ssl);
	kstr_or_null(w, "ssl_protocol", sec.ssl_protocol);
	kstr_or_null(w, "ssl_cipher", sec.ssl_cipher);
	kstr_or_null(w, "ssl_key_exchange", sec.ssl_key_exchange);
	kstr_or_null(w, "ssl_hash", sec.ssl_hash);
	kstr_or_null(w, "peer_cert_subject", sec.peer_cert_subject);
	kstr_or_null(w, "peer_cert_issuer", sec.peer_cert_issuer);
	kstr_or_null(w, "peer_cert_validity", sec.peer_cert_validity);
}

static void write_conn(struct js_w *w, const struct tdm_reg_conn *c)
{
	struct tdm_conn_stats st = { 0 };
	c->ops->stats(c->ctx, &st);
	js_obj(w);
	js_kstr(w, "name", c->name);
	js_kstr(w, "node", hx_node_name());
	js_kstr(w, "type", "network");
	js_kstr(w, "protocol", c->protocol);
	js_kstr(w, "user", c->user);
	js_kstr(w, "vhost", c->vhost);
	js_kstr(w, "host", c->host);
	js_kint(w, "port", c->port);
	js_kstr(w, "peer_host", c->peer_host);
	js_kint(w, "peer_port", c->peer_port);
	js_kuint(w, "channels", st.channels);
	js_kuint(w, "channel_max", st.channel_max);
	js_kuint(w, "frame_max", st.frame_max);
	js_kuint(w, "timeout", st.heartbeat);
	js_kuint(w, "recv_oct", st.recv_oct);
	js_kuint(w, "send_oct", st.send_oct);
	js_kuint(w, "connected_at", c->connected_at);
	js_kstr(w, "state", st.blocked ? "blocked" : "running");
	write_security(w, c);
	js_obj_end(w);
}

struct chan_walk {
	struct js_w *w;
	const struct tdm_reg_conn *c;
	long only;      /* channel number to show, -1 = all */
	int found;
};

static void write_chan(void *arg, const struct tdm_chan_info *ci)
{
	struct chan_walk *cw = arg;
	if (cw->only >= 0 && ci->number != (uint32_t)cw->only)
		return;
	cw->found = 1;
	struct js_w *w = cw->w;
	char name[200];
	snprintf(name, sizeof(name), "%s (%u)", cw->c->name, ci->number);
	js_obj(w);
	js_kstr(w, "name", name);
	js_kuint(w, "number", ci->number);
	js_kstr(w, "node", hx_node_name());
	js_kstr(w, "user", cw->c->user);
	js_kstr(w, "vhost", cw->c->vhost);
	js_key(w, "connection_details");
	js_obj(w);
	js_kstr(w, "name", cw->c->name);
	js_kstr(w, "peer_host", cw->c->peer_host);
	js_kint(w, "peer_port", cw->c->peer_port);
	js_obj_end(w);
	js_kuint(w, "consumer_count", ci->consumers);
	js_kuint(w, "messages_unacknowledged", ci->unacked);
	js_kuint(w, "prefetch_count", ci->prefetch);
	js_kuint(w, "global_prefetch_count", ci->global_prefetch);
	js_kbool(w, "confirm", ci->confirm);
	js_kbool(w, "transactional", ci->transactional);
	js_kstr(w, "state", "running");
	js_obj_end(w);
}

static void conn_channels(struct js_w *w, const struct tdm_reg_conn *c, long only, int *found)
{
	struct chan_walk cw = { w, c, only, 0 };
	if (c->ops->channels)
		c->ops->channels(c->ctx, write_chan, &cw);
	if (found)
		*found = cw.found;
}

void hx_connection_list(struct hx_req *r)
{
	struct js_w w;
	js_w_init(&w);
	js_arr(&w);
	for (struct tdm_reg_conn *c = tdm_registry_first(); c; c = c->next)
		if (may_see(r, c))
			write_conn(&w, c);
	js_arr_end(&w);
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
}

/* DELETE /api/connections/name: RabbitMQ closes with 320 and this text,
 * or the X-Reason header's. */
static void close_connection(struct hx_req *r)
{
	struct tdm_reg_conn *c = tdm_registry_find(r->seg[1].s, r->seg[1].len);
	if (!c || !c->ops->close) {
		hx_not_found(r);
		return;
	}
	if (!may_close(r, c)) {
		not_authorised_object(r);
		return;
	}
	const char *why = evhttp_find_header(evhttp_request_get_input_headers(r->req), "X-Reason");
	char reason[300];
	snprintf(reason, sizeof(reason), "%s", why ? why : "Closed via management plugin");
	c->ops->close(c->ctx, reason);
	hx_no_content(r, 204);
}

/* GET /api/connections/name (and its /channels): one connection. */
static void show_connection(struct hx_req *r, int channels)
{
	struct tdm_reg_conn *c = tdm_registry_find(r->seg[1].s, r->seg[1].len);
	if (!c) {
		hx_not_found(r);
		return;
	}
	if (!may_see(r, c)) {
		not_authorised_object(r);
		return;
	}
	struct js_w w;
	js_w_init(&w);
	if (!channels) {
		write_conn(&w, c);
	} else {
		js_arr(&w);
		conn_channels(&w, c, -1, NULL);
		js_arr_end(&w);
	}
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
}

void hx_connection(struct hx_req *r)
{
	if (r->method == EVHTTP_REQ_DELETE)
		close_connection(r);
	else
		show_connection(r, 0);
}

void hx_connection_channels(struct hx_req *r)
{
	show_connection(r, 1);
}

void hx_channel_list(struct hx_req *r)
{
	struct js_w w;
	js_w_init(&w);
	js_arr(&w);
	for (struct tdm_reg_conn *c = tdm_registry_first(); c; c = c->next)
		if (may_see(r, c))
			conn_channels(&w, c, -1, NULL);
	js_arr_end(&w);
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
}

void hx_channel(struct hx_req *r)
{
	struct js_w w;
	js_w_init(&w);
	/* "<connection name> (<number>)" */
	const char *s = r->seg[1].s;
	const char *open = strrchr(s, '(');
	long num = -1;
	int found = 0;
	if (open && open > s + 1 && open[-1] == ' ' && sscanf(open, "(%ld)", &num) == 1) {
		struct tdm_reg_conn *c = tdm_registry_find(s, (size_t)(open - 1 - s));
		if (c && !may_see(r, c)) {
			not_authorised_object(r);
			goto out;
		}
		if (c)
			conn_channels(&w, c, num, &found);
	}
	if (!found) {
		hx_not_found(r);
		goto out;
	}
	hx_reply_json(r, 200, &w);
out:
	js_w_free(&w);
}

/* ---- consumers ----------------------------------------------------------- */

struct cons_walk {
	struct js_w *w;
	const struct tdm_reg_conn *c;
	const char *vhost;      /* only this vhost's, NULL = all */
};

static void write_consumer(void *arg, const struct tdm_consumer_info *ci)
{
	struct cons_walk *cw = arg;
	const struct tdm_queue *q = ci->core->queue;
	if (cw->vhost && strcmp(cw->vhost, q->vhost->name) != 0)
		return;
	struct js_w *w = cw->w;
	/* single active consumer: the oldest is served, the others wait */
	int active = !q->single_active || q->consumers == ci->core;
	char chan[200];
	snprintf(chan, sizeof(chan), "%s (%u)", cw->c->name, ci->channel);
	js_obj(w);
	js_kstrn(w, "consumer_tag", ci->tag, ci->tag_len);
	js_key(w, "queue");
	js_obj(w);
	js_kstrn(w, "name", q->name, q->name_len);
	js_kstrn(w, "vhost", q->vhost->name, q->vhost->name_len);
	js_obj_end(w);
	js_key(w, "channel_details");
	js_obj(w);
	js_kstr(w, "name", chan);
	js_kuint(w, "number", ci->channel);
	js_kstr(w, "connection_name", cw->c->name);
	js_kstr(w, "node", hx_node_name());
	js_kstr(w, "peer_host", cw->c->peer_host);
	js_kint(w, "peer_port", cw->c->peer_port);
	js_kstr(w, "user", cw->c->user);
	js_obj_end(w);
	js_kbool(w, "ack_required", ci->ack_required);
	js_kbool(w, "exclusive", ci->core->exclusive);
	js_kuint(w, "prefetch_count", ci->prefetch);
	js_kbool(w, "active", active);
	js_kstr(w, "activity_status", !q->single_active ? "up" : active ? "single_active" : "waiting");
	/* the consume arguments tandem acts on (x-priority) */
	js_key(w, "arguments");
	js_obj(w);
	if (ci->core->priority)
		js_kint(w, "x-priority", ci->core->priority);
	js_obj_end(w);
	js_obj_end(w);
}

void hx_consumers(struct hx_req *r)
{
	const struct tdm_vhost *only = NULL;
	if (r->nseg == 2 && !(only = hx_vhost(r, 1)))
		return;
	struct js_w w;
	js_w_init(&w);
	js_arr(&w);
	for (struct tdm_reg_conn *c = tdm_registry_first(); c; c = c->next) {
		struct cons_walk cw = { &w, c, only ? only->name : NULL };
		if (visible(r, c) && c->ops->consumers)
			c->ops->consumers(c->ctx, write_consumer, &cw);
	}
	js_arr_end(&w);
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
}
