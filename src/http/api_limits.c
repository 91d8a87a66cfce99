/*
 * Management API: RabbitMQ's limits (core/limits.h).
 *   GET /api/vhost-limits[/{vhost}], PUT and DELETE
 *   /api/vhost-limits/{vhost}/{max-connections|max-queues} with {"value": N};
 *   GET /api/user-limits[/{user}], PUT and DELETE
 *   /api/user-limits/{user}/{max-connections|max-channels}.
 * Listings group the limits by owner as RabbitMQ does:
 * [{"vhost": "/", "value": {"max-queues": 10}}].
 *   GET /api/kafka-limits[/{name}], PUT and DELETE /api/kafka-limits/{name}:
 *   Kafka's broker limits (max.connections.per.ip and its overrides,
 *   max_partitions_per_topic, max_partitions, socket.request.max.bytes),
 *   administrators only; a value set here overrides tandem.conf's and
 *   DELETE goes back to it, as Kafka's dynamic broker configs.
 * Changes are persisted (core/durable.h).
 *
 * Must not depend on: other front ends (src/amqp, src/kafka).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "core/auth.h"
#include "core/config.h"
#include "core/durable.h"
#include "core/limits.h"
#include "http/hx.h"

/* Owners in first-set order, each once (strings borrowed from the limits). */
struct owners {
	const char **v; /* owned array */
	size_t n, cap;
	int nomem;
};

static void collect_owner(void *ctx, const char *owner, const char *field, int64_t value)
{
	struct owners *o = ctx;
	(void)field;
	(void)value;
	for (size_t i = 0; i < o->n; i++)
		if (strcmp(o->v[i], owner) == 0)
			return;
	if (o->n == o->cap) {
		size_t cap = o->cap ? 2 * o->cap : 8;
		const char **nv = realloc(o->v, cap * sizeof(*nv));
		if (!nv) {
			o->nomem = 1;
			return;
		}
		o->v = nv;
		o->cap = cap;
	}
	o->v[o->n++] = owner;
}

static void write_field(void *ctx, const char *owner, const char *field, int64_t value)
{
	(void)owner;
	js_kint(ctx, field, value);
}

/* [{"vhost"|"user": owner, "value": {field: N, ...}}, ...] for one owner or all. */
static void reply_limits(struct hx_req *r, enum tdm_limit_scope scope, const char *only)
{
	const struct tdm_limits *l = r->h->broker->limits;
	struct owners o = { 0 };
	struct js_w w;

	tdm_limits_foreach(l, scope, only, collect_owner, &o);
	if (o.nomem) {
		free(o.v);
		hx_error(r, 500, "internal_error", "out of memory");
		return;
	}
	js_w_init(&w);
	js_arr(&w);
	for (size_t i = 0; i < o.n; i++) {
		/* a management user sees the limits of the vhosts it may open */
		if (scope == TDM_LIMIT_VHOST &&
		    !tdm_auth_vhost_allowed(r->h->broker->auth, r->user, o.v[i], strlen(o.v[i])))
			continue;
		js_obj(&w);
		js_kstr(&w, scope == TDM_LIMIT_VHOST ? "vhost" : "user", o.v[i]);
		js_key(&w, "value");
		js_obj(&w);
		tdm_limits_foreach(l, scope, o.v[i], write_field, &w);
		js_obj_end(&w);
		js_obj_end(&w);
	}
	js_arr_end(&w);
	free(o.v);
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
}

/* PUT {"value": N} or DELETE of limit seg[2] of owner seg[1]. */
static void change_limit(struct hx_req *r, enum tdm_limit_scope scope)
{
	static const char *const keys[] = { "value" };
	const char *owner = r->seg[1].s, *field = r->seg[2].s;
	const char *what = scope == TDM_LIMIT_VHOST ? "vhost-limits" : "user-limits";
	struct tdm_limits *l = r->h->broker->limits;
	char reason[400];
	int64_t value;

	if (r->method == EVHTTP_REQ_DELETE) {
		/* RabbitMQ: 204 whether or not the limit was set */
		if (tdm_limits_clear(l, scope, owner, field) == 0 &&
		    tdm_durable_limit(r->h->durable, scope, owner, field) < 0) {
			hx_error(r, 500, "internal_error", "could not store the change");
			return;
		}
		hx_no_content(r, 204);
		return;
	}
	if (hx_body(r) < 0 || hx_require_keys(r, keys, 1) < 0)
		return;
	int vi = js_get(&r->body, 0, "value");
	if (js_int64(&r->body, vi, &value) < 0) {
		snprintf(reason, sizeof(reason), "Validation failed\n\n%s should be a number\n",
			 field);
		hx_error(r, 400, "bad_request", reason);
		return;
	}
	if (!tdm_limits_known(scope, field)) {
		snprintf(reason, sizeof(reason), "Unrecognised terms [{<<\"%s\">>,%lld}] in %s",
			 field, (long long)value, what);
		hx_error(r, 400, "bad_request", reason);
		return;
	}
	if (tdm_limits_set(l, scope, owner, field, value) != 0 ||
	    tdm_durable_limit(r->h->durable, scope, owner, field) < 0) {
		hx_error(r, 500, "internal_error", "could not store the limit");
		return;
	}
	hx_no_content(r, 204);
}

/* A name with a NUL byte names nothing (the limits hold C strings). */
static int seg_ok(const struct hx_req *r, int i)
{
	return r->seg[i].len == strlen(r->seg[i].s);
}

void hx_vhost_limits(struct hx_req *r)
{
	if (r->nseg == 1) {
		reply_limits(r, TDM_LIMIT_VHOST, NULL);
		return;
	}
	if (!seg_ok(r, 1) || !tdm_vhost_find(r->h->broker, r->seg[1].s, r->seg[1].len) ||
	    !tdm_auth_vhost_allowed(r->h->broker->auth, r->user, r->seg[1].s, r->seg[1].len)) {
		if (r->nseg == 3)
			hx_error(r, 404, "not_found", "vhost_not_found");
		else
			hx_not_found(r);
		return;
	}
	if (r->nseg == 2)
		reply_limits(r, TDM_LIMIT_VHOST, r->seg[1].s);
	else if (seg_ok(r, 2))
		change_limit(r, TDM_LIMIT_VHOST);
	else
		hx_not_found(r);
}

void hx_user_limits(struct hx_req *r)
{
	if (r->nseg == 1) {
		reply_limits(r, TDM_LIMIT_USER, NULL);
		return;
	}
	if (!seg_ok(r, 1) || !tdm_auth_user_tags(r->h->broker->auth, r->seg[1].s)) {
		if (r->nseg == 3 && r->method == EVHTTP_REQ_PUT)
			hx_error_term(r, 400, "bad_request", "no_such_user", r->seg[1].s);
		else
			hx_not_found(r);
		return;
	}
	if (r->nseg == 2)
		reply_limits(r, TDM_LIMIT_USER, r->seg[1].s);
	else if (seg_ok(r, 2))
		change_limit(r, TDM_LIMIT_USER);
	else
		hx_not_found(r);
}

/* ---- Kafka's broker limits: /api/kafka-limits ----------------------------- */

/* The run-time settable Kafka limits, with the range a value must fall in
 * (tandem.conf's for the same key); overrides is a string. */
static const struct {
	const char *name;
	int64_t min, max;
} kafka_limits[] = {
	{ TDM_KAFKA_PER_IP, 0, INT32_MAX },
	{ TDM_KAFKA_PER_IP_OVERRIDES, 0, 0 },
	{ TDM_KAFKA_PARTITIONS_PER_TOPIC, 1, 1000000 },
	{ TDM_KAFKA_PARTITIONS, 1, 100000000 },
	{ TDM_KAFKA_REQUEST_SIZE, 1024, INT32_MAX },
};
#define NKAFKA_LIMITS (sizeof(kafka_limits) / sizeof(kafka_limits[0]))

/* "ip:n,ip:n" of the run-time overrides, appended to w's string. */
struct ov_text {
	char buf[4096];
	size_t len;
};

static void add_override(void *ctx, const char *owner, const char *field, int64_t value)
{
	struct ov_text *t = ctx;

	if (!*owner || strcmp(field, TDM_KAFKA_PER_IP) != 0 || t->len >= sizeof(t->buf))
		return;
	t->len += (size_t)snprintf(t->buf + t->len, sizeof(t->buf) - t->len, "%s%s:%lld",
				   t->len ? "," : "", owner, (long long)value);
	if (t->len >= sizeof(t->buf))
		t->len = sizeof(t->buf) - 1;
}

/* Writes the limit i's value in force as member "name". */
static void write_kafka_limit(struct hx_req *r, struct js_w *w, size_t i)
{
	const struct tdm_limits *l = r->h->broker->limits;
	int64_t marker;

	if (strcmp(kafka_limits[i].name, TDM_KAFKA_PER_IP_OVERRIDES) != 0) {
		js_kint(w, kafka_limits[i].name,
			tdm_limits_kafka(l, r->h->cfg, kafka_limits[i].name));
		return;
	}
	if (tdm_limits_lookup(l, TDM_LIMIT_KAFKA, "", TDM_KAFKA_PER_IP_OVERRIDES, &marker)) {
		struct ov_text t = { .len = 0 };

		tdm_limits_foreach(l, TDM_LIMIT_KAFKA, NULL, add_override, &t);
		js_kstrn(w, kafka_limits[i].name, t.buf, t.len);
	} else {
		const char *c = r->h->cfg->kafka_max_connections_per_ip_overrides;
		js_kstr(w, kafka_limits[i].name, c ? c : "");
	}
}

/* 1 when limit i was set at run time (it overrides tandem.conf's). */
static int kafka_limit_dynamic(struct hx_req *r, size_t i)
{
	int64_t v;

	return tdm_limits_lookup(r->h->broker->limits, TDM_LIMIT_KAFKA, "", kafka_limits[i].name,
				 &v);
}

struct persist {
	struct hx_req *r;
	int failed;
};

static void persist_kafka_limit(void *ctx, const char *owner, const char *field)
{
	struct persist *p = ctx;

	if (tdm_durable_limit(p->r->h->durable, TDM_LIMIT_KAFKA, owner, field) < 0)
		p->failed = 1;
}

static void reply_kafka_limits(struct hx_req *r, int only)
{
	struct js_w w;

	js_w_init(&w);
	js_obj(&w);
	for (size_t i = 0; i < NKAFKA_LIMITS; i++)
		if (only < 0 || (size_t)only == i)
			write_kafka_limit(r, &w, i);
	js_key(&w, "set_at_run_time");
	js_arr(&w);
	for (size_t i = 0; i < NKAFKA_LIMITS; i++)
		if ((only < 0 || (size_t)only == i) && kafka_limit_dynamic(r, i))
			js_str(&w, kafka_limits[i].name);
	js_arr_end(&w);
	if (only < 0)
		js_kuint(&w, "connections_refused_per_ip",
			 tdm_limits_kafka_refused_count(r->h->broker->limits));
	js_obj_end(&w);
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
}

void hx_kafka_limits(struct hx_req *r)
{
	static const char *const keys[] = { "value" };
	struct tdm_limits *l = r->h->broker->limits;
	char reason[512];
	int i = -1;

	if (r->nseg == 1) {
		reply_kafka_limits(r, -1);
		return;
	}
	for (size_t k = 0; k < NKAFKA_LIMITS; k++)
		if (seg_ok(r, 1) && strcmp(r->seg[1].s, kafka_limits[k].name) == 0)
			i = (int)k;
	if (i < 0) {
		if (r->method == EVHTTP_REQ_GET) {
			hx_not_found(r);
			return;
		}
		snprintf(reason, sizeof(reason),
			 "unknown Kafka limit '%.100s' (max.connections.per.ip, "
			 "max.connections.per.ip.overrides, max_partitions_per_topic, "
			 "max_partitions, socket.request.max.bytes)",
			 r->seg[1].s);
		hx_error(r, 400, "bad_request", reason);
		return;
	}
	const char *name = kafka_limits[i].name;
	int overrides = strcmp(name, TDM_KAFKA_PER_IP_OVERRIDES) == 0;
	struct persist ps = { r, 0 };
	if (r->method == EVHTTP_REQ_GET) {
		reply_kafka_limits(r, i);
		return;
	}
	if (r->method == EVHTTP_REQ_DELETE) {
		/* back to tandem.conf's value, as Kafka's dynamic configs */
		if (overrides)
			tdm_limits_kafka_clear_overrides(l, persist_kafka_limit, &ps);
		else if (tdm_limits_clear(l, TDM_LIMIT_KAFKA, "", name) == 0)
			persist_kafka_limit(&ps, "", name);
		goto stored;
	}
	if (hx_body(r) < 0 || hx_require_keys(r, keys, 1) < 0)
		return;
	int vi = js_get(&r->body, 0, "value");
	if (overrides) {
		char *text = js_type_of(&r->body, vi) == JS_STR ? js_strdup(&r->body, vi, NULL)
								 : NULL;
		char err[256];
		int rc;

		if (!text) {
			hx_error(r, 400, "bad_request",
				 "Validation failed\n\nmax.connections.per.ip.overrides should be a "
				 "string IP:COUNT,...\n");
			return;
		}
		rc = tdm_limits_kafka_set_overrides(l, text, persist_kafka_limit, &ps, err,
						    sizeof(err));
		free(text);
		if (rc == -2) {
			hx_error(r, 400, "bad_request", err);
			return;
		}
		if (rc < 0) {
			hx_error(r, 500, "internal_error", "out of memory");
			return;
		}
		goto stored;
	}
	int64_t value;
	if (js_int64(&r->body, vi, &value) < 0 || value < kafka_limits[i].min ||
	    value > kafka_limits[i].max) {
		snprintf(reason, sizeof(reason),
			 "Validation failed\n\n%s should be a number from %lld to %lld\n", name,
			 (long long)kafka_limits[i].min, (long long)kafka_limits[i].max);
		hx_error(r, 400, "bad_request", reason);
		return;
	}
	if (tdm_limits_set(l, TDM_LIMIT_KAFKA, "", name, value) != 0) {
		hx_error(r, 500, "internal_error", "out of memory");
		return;
	}
	persist_kafka_limit(&ps, "", name);
stored:
	if (ps.failed) {
		hx_error(r, 500, "internal_error", "could not store the limit");
		return;
	}
	hx_no_content(r, 204);
}

/* ---- definitions (api_defs.c, api_users.c) ------------------------------ */

void hx_write_user_limits(struct hx_req *r, struct js_w *w, const char *user)
{
	js_obj(w);
	tdm_limits_foreach(r->h->broker->limits, TDM_LIMIT_USER, user, write_field, w);
	js_obj_end(w);
}

void hx_write_limit_params(struct hx_req *r, struct js_w *w, const struct tdm_vhost *only)
{
	const struct tdm_limits *l = r->h->broker->limits;
	struct owners o = { 0 };

	tdm_limits_foreach(l, TDM_LIMIT_VHOST, only ? only->name : NULL, collect_owner, &o);
	for (size_t i = 0; i < o.n; i++) {
		if (!tdm_vhost_find(r->h->broker, o.v[i], strlen(o.v[i])) ||
		    !tdm_auth_vhost_allowed(r->h->broker->auth, r->user, o.v[i], strlen(o.v[i])))
			continue;
		js_obj(w);
		js_key(w, "value");
		js_obj(w);
		tdm_limits_foreach(l, TDM_LIMIT_VHOST, o.v[i], write_field, w);
		js_obj_end(w);
		js_kstr(w, "vhost", o.v[i]);
		js_kstr(w, "component", "vhost-limits");
		js_kstr(w, "name", "limits");
		js_obj_end(w);
	}
	free(o.v);
}

int hx_import_limits(struct hx_req *r, int scope, const char *owner, int obj, struct tdm_err *e)
{
	const struct js_doc *d = &r->body;

	if (obj < 0)
		return TDM_OK;
	if (js_type_of(d, obj) != JS_OBJ)
		return tdm_err_set(e, TDM_E_INVALID, "limits of '%s' must be an object", owner);
	for (int k = js_child(d, obj); k >= 0; k = js_next(d, obj, k)) {
		char *field = js_strdup(d, k, NULL);
		int64_t value;
		int rc = TDM_OK;

		if (!field || !tdm_limits_known(scope, field) ||
		    js_int64(d, js_next(d, obj, k), &value) < 0)
			rc = tdm_err_set(e, TDM_E_INVALID,
					 "unknown or malformed limit '%s' of '%s'",
					 field ? field : "", owner);
		else if (tdm_limits_set(r->h->broker->limits, scope, owner, field, value) != 0 ||
			 tdm_durable_limit(r->h->durable, scope, owner, field) < 0)
			rc = tdm_err_set(e, TDM_E_NOMEM, "could not store the limit");
		free(field);
		if (rc != TDM_OK)
			return rc;
		k = js_next(d, obj, k); /* past the value */
	}
	return TDM_OK;
}

int hx_import_limit_params(struct hx_req *r, const struct tdm_vhost *only, struct tdm_err *e)
{
	const struct js_doc *d = &r->body;
	int arr = js_get(d, 0, "parameters");

	if (arr < 0)
		return TDM_OK;
	if (js_type_of(d, arr) != JS_ARR)
		return tdm_err_set(e, TDM_E_INVALID, "definitions: expected arrays");
	for (int it = js_child(d, arr); it >= 0; it = js_next(d, arr, it)) {
		if (!js_streq(d, js_get(d, it, "component"), "vhost-limits"))
			continue; /* no other runtime parameters in tandem */
		char *vh = only ? strdup(only->name) : js_strdup(d, js_get(d, it, "vhost"), NULL);
		int rc = TDM_OK;
		if (!vh || !tdm_vhost_find(r->h->broker, vh, strlen(vh)))
			rc = tdm_err_set(e, TDM_E_INVALID, "vhost-limits: vhost '%s' not found",
					 vh ? vh : "");
		else
			rc = hx_import_limits(r, TDM_LIMIT_VHOST, vh, js_get(d, it, "value"), e);
		free(vh);
		if (rc != TDM_OK)
			return rc;
	}
	return TDM_OK;
}

void hx_forget_limits(struct hx_req *r, int scope, const char *owner)
{
	const char *fields[2] = { "max-connections",
				  scope == TDM_LIMIT_VHOST ? "max-queues" : "max-channels" };
	for (size_t i = 0; i < 2; i++)
		if (tdm_limits_clear(r->h->broker->limits, scope, owner, fields[i]) == 0)
			tdm_durable_limit(r->h->durable, scope, owner, fields[i]);
}
