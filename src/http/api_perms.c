/*
 * Management API: topic permissions, as RabbitMQ 3.10's: per user, vhost
 * and exchange a write and a read regular expression on routing keys
 * (core/auth.h).  /api/topic-permissions[/vhost/user],
 * /api/users/user/topic-permissions, /api/vhosts/vhost/topic-permissions;
 * PUT and DELETE persisted (core/durable.h).  Administrators only (the
 * route table).
 *
 * Must not depend on: other front ends (src/amqp, src/kafka).
 */
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "core/auth.h"
#include "core/durable.h"
#include "http/hx.h"

struct topic_walk {
	struct js_w *w;
	const char *only_vhost; /* NULL: all */
	size_t found;
};

static void write_topic(const struct tdm_topic_perm_info *t, void *ctx)
{
	struct topic_walk *tw = ctx;
	if (tw->only_vhost && strcmp(tw->only_vhost, t->vhost) != 0)
		return;
	tw->found++;
	js_obj(tw->w);
	js_kstr(tw->w, "user", t->user);
	js_kstr(tw->w, "vhost", t->vhost);
	js_kstr(tw->w, "exchange", t->exchange);
	js_kstr(tw->w, "write", t->write);
	js_kstr(tw->w, "read", t->read);
	js_obj_end(tw->w);
}

void hx_write_topic_permissions(struct hx_req *r, struct js_w *w)
{
	struct topic_walk tw = { .w = w };
	js_arr(w);
	tdm_auth_foreach_topic_permission(r->h->broker->auth, NULL, write_topic, &tw);
	js_arr_end(w);
}

/* The topic permissions of user (NULL: all) in vhost (NULL: all), an
 * array; 404 instead when empty_is_404 and there are none. */
static void reply_list(struct hx_req *r, const char *user, const char *vhost, int empty_is_404)
{
	struct js_w w;
	struct topic_walk tw = { .w = &w, .only_vhost = vhost };
	js_w_init(&w);
	js_arr(&w);
	tdm_auth_foreach_topic_permission(r->h->broker->auth, user, write_topic, &tw);
	js_arr_end(&w);
	if (empty_is_404 && !tw.found)
		hx_not_found(r);
	else
		hx_reply_json(r, 200, &w);
	js_w_free(&w);
}

void hx_topic_permission_list(struct hx_req *r)
{
	reply_list(r, NULL, NULL, 0);
}

void hx_user_topic_permissions(struct hx_req *r)
{
	if (!tdm_auth_user_tags(r->h->broker->auth, r->seg[1].s))
		hx_not_found(r);
	else
		reply_list(r, r->seg[1].s, NULL, 0);
}

void hx_vhost_topic_permissions(struct hx_req *r)
{
	if (hx_vhost(r, 1))
		reply_list(r, NULL, r->seg[1].s, 0);
}

/* 1 when user has a topic permission in vhost. */
static int has_topic(const struct tdm_auth *a, const char *user, const char *vhost)
{
	struct js_w w;
	struct topic_walk tw = { .w = &w, .only_vhost = vhost };
	js_w_init(&w);
	tdm_auth_foreach_topic_permission(a, user, write_topic, &tw);
	js_w_free(&w);
	return tw.found > 0;
}

int hx_store_topic_permission(struct hx_req *r, int obj, const char *vhost, const char *user,
			      int *created, struct tdm_err *e)
{
	static const char *const keys[] = { "exchange", "write", "read" };
	struct tdm_auth *a = r->h->broker->auth;
	char *v[3] = { NULL, NULL, NULL }, why[256];
	int rc = TDM_OK;
	*created = 0;
	if (!tdm_vhost_find(r->h->broker, vhost, strlen(vhost)) || !tdm_auth_user_tags(a, user))
		return tdm_err_set(e, TDM_E_INVALID, "vhost_or_user_not_found");
	for (int i = 0; i < 3 && rc == TDM_OK; i++)
		if (!(v[i] = js_strdup(&r->body, js_get(&r->body, obj, keys[i]), NULL)))
			rc = tdm_err_set(e, TDM_E_INVALID,
					 "exchange, write and read must be strings");
	for (int i = 1; i < 3 && rc == TDM_OK; i++)
		if (tdm_auth_pattern_check(v[i], user, vhost, why, sizeof(why)) != 0)
			rc = tdm_err_set(e, TDM_E_INVALID, "invalid_regexp: %s", why);
	if (rc == TDM_OK) {
		*created = !has_topic(a, user, vhost);
		if (tdm_auth_set_topic_permissions(a, user, vhost, v[0], v[1], v[2], why,
						   sizeof(why)) != 0 ||
		    tdm_durable_user(r->h->durable, user) < 0)
			rc = tdm_err_set(e, TDM_E_NOMEM, "could not store the topic permission");
	}
	for (int i = 0; i < 3; i++)
		free(v[i]);
	return rc;
}

static void put_topic(struct hx_req *r)
{
	static const char *const keys[] = { "exchange", "write", "read" };
	struct tdm_err e;
	int created;
	if (hx_body(r) < 0 || hx_require_keys(r, keys, 3) < 0)
		return;
	if (hx_store_topic_permission(r, 0, r->seg[1].s, r->seg[2].s, &created, &e) == TDM_OK)
		hx_no_content(r, created ? 201 : 204);
	else
		hx_permission_error(r, &e, r->seg[2].s, r->seg[1].s);
}

/* DELETE: every topic permission of the user in the vhost, as RabbitMQ
 * (an "exchange" in the body does not narrow it). */
static void delete_topic(struct hx_req *r)
{
	struct tdm_auth *a = r->h->broker->auth;
	int n;
	if (!tdm_vhost_find(r->h->broker, r->seg[1].s, r->seg[1].len) ||
	    (n = tdm_auth_clear_topic_permissions(a, r->seg[2].s, r->seg[1].s, NULL)) <= 0)
		hx_not_found(r);
	else if (tdm_durable_user(r->h->durable, r->seg[2].s) < 0)
		hx_error(r, 500, "internal_error", "could not store the topic permission");
	else
		hx_no_content(r, 204);
}

/* GET, PUT, DELETE /api/topic-permissions/vhost/user. */
void hx_topic_permission(struct hx_req *r)
{
	if (r->seg[1].len != strlen(r->seg[1].s) || r->seg[2].len != strlen(r->seg[2].s))
		hx_error(r, 400, "bad_request", "vhost and user names hold no NUL byte");
	else if (r->method == EVHTTP_REQ_PUT)
		put_topic(r);
	else if (r->method == EVHTTP_REQ_DELETE)
		delete_topic(r);
	else if (hx_vhost(r, 1))
		reply_list(r, r->seg[2].s, r->seg[1].s, 1);
}
