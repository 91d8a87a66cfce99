/*
 * Management API: RabbitMQ's limits (core/limits.h).
 *   GET /api/vhost-limits[/{vhost}], PUT and DELETE
 *   /api/vhost-limits/{vhost}/{max-connections|max-queues} with {"value": N};
 *   GET /api/user-limits[/{user}], PUT and DELETE
 *   /api/user-limits/{user}/{max-connections|max-channels}.
 * Listings group the limits by owner as RabbitMQ does:
 * [{"vhost": "/", "value": {"max-queues": 10}}].  Changes are persisted
 * (core/durable.h).
 *
 * Must not depend on: other front ends (src/amqp, src/kafka).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "core/auth.h"
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
