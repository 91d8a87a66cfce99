/*
 * Management API: users and permissions: /api/users[/name],
 * /api/permissions[/vhost/user], /api/users/name/permissions,
 * /api/vhosts/vhost/permissions, and the tags of /api/whoami; PUT and
 * DELETE of users and permissions (persisted, core/durable.h).  A user's
 * vhosts list is what tandem grants (full access to each), shown as
 * RabbitMQ's configure/write/read ".*"; other patterns are refused.
 * Administrators see password hashes, as in RabbitMQ.
 *
 * Must not depend on: other front ends (src/amqp, src/kafka).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "core/auth.h"
#include "core/durable.h"
#include "http/hx.h"

/* Writes a comma list as a JSON array of its trimmed, non-empty items. */
static void write_list(struct js_w *w, const char *list)
{
	js_arr(w);
	const char *p = list ? list : "";
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *s = p;
		size_t l = n;
		while (l && *s == ' ')
			s++, l--;
		while (l && s[l - 1] == ' ')
			l--;
		if (l)
			js_strn(w, s, l);
		p += n;
		if (*p == ',')
			p++;
	}
	js_arr_end(w);
}

int hx_is_management_user(const char *tags)
{
	static const char *ok[] = { "management", "policymaker", "monitoring", "administrator" };
	const char *p = tags ? tags : "";
	while (*p) {
		size_t n = strcspn(p, ",");
		const char *s = p;
		size_t l = n;
		while (l && *s == ' ')
			s++, l--;
		while (l && s[l - 1] == ' ')
			l--;
		for (size_t i = 0; i < 4; i++)
			if (l == strlen(ok[i]) && memcmp(s, ok[i], l) == 0)
				return 1;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

struct user_walk {
	struct hx_req *r;
	struct js_w *w;
	const char *only_user;          /* NULL: all */
	const struct tdm_vhost *only_vh;/* NULL: all */
	int perms;                      /* 0 users, 1 permissions */
	int found;
};

static void write_perm(struct js_w *w, const char *user, const char *vh, size_t vl)
{
	js_obj(w);
	js_kstr(w, "user", user);
	js_kstrn(w, "vhost", vh, vl);
	js_kstr(w, "configure", ".*");
	js_kstr(w, "write", ".*");
	js_kstr(w, "read", ".*");
	js_obj_end(w);
}

static void user_cb(const struct tdm_user_info *u, void *ctx)
{
	struct user_walk *uw = ctx;
	if (uw->only_user && strcmp(uw->only_user, u->name) != 0)
		return;
	uw->found = 1;
	struct js_w *w = uw->w;
	if (!uw->perms) {
		js_obj(w);
		js_kstr(w, "name", u->name);
		char hash[49];
		const char *tags, *vhosts;
		if (tdm_auth_user_record(uw->r->h->broker->auth, u->name, hash, &tags, &vhosts) == 0)
			js_kstr(w, "password_hash", hash);
		js_key(w, "tags");
		write_list(w, u->tags);
		js_kstr(w, "hashing_algorithm", "rabbit_password_hashing_sha256");
		js_key(w, "limits");
		js_obj(w);
		js_obj_end(w);
		js_obj_end(w);
		return;
	}
	/* one permission per vhost the user may open */
	size_t pos = 0;
	const char *k;
	size_t kl;
	void *v;
	struct tdm_broker *b = uw->r->h->broker;
	while (tdm_map_next(&b->vhosts, &pos, &k, &kl, &v))
		if ((!uw->only_vh || v == uw->only_vh) && tdm_auth_vhost_allowed(b->auth, u->name, k, kl))
			write_perm(w, u->name, k, kl);
}

static void reply_walk(struct hx_req *r, struct user_walk *uw, int single)
{
	struct js_w w;
	js_w_init(&w);
	uw->r = r;
	uw->w = &w;
	if (!single)
		js_arr(&w);
	tdm_auth_foreach_user(r->h->broker->auth, user_cb, uw);
	if (!single)
		js_arr_end(&w);
	if (uw->only_user && !uw->found)
		hx_not_found(r);
	else
		hx_reply_json(r, 200, &w);
	js_w_free(&w);
}

/* "tags" as RabbitMQ takes it: a comma list or an array of strings.
 * malloc'd comma list, or NULL (400 answered). */
static char *tags_of(struct hx_req *r)
{
	const struct js_doc *d = &r->body;
	int t = js_get(d, 0, "tags");
	if (t < 0) {
		hx_error(r, 400, "bad_request", "tags_not_present");
		return NULL;
	}
	if (js_type_of(d, t) == JS_STR)
		return js_strdup(d, t, NULL);
	struct js_w w;
	js_w_init(&w);
	int ok = js_type_of(d, t) == JS_ARR;
	for (int i = ok ? js_child(d, t) : -1, first = 1; i >= 0; i = js_next(d, t, i), first = 0) {
		char *one = js_strdup(d, i, NULL);
		if (!one || strchr(one, ',')) {
			free(one);
			ok = 0;
			break;
		}
		js_raw(&w, ",", first ? 0 : 1);
		js_raw(&w, one, strlen(one));
		free(one);
	}
	char *out = !ok || w.oom ? NULL : strndup(w.buf ? w.buf : "", w.len);
	js_w_free(&w);
	if (!out)
		hx_error(r, 400, "bad_request", "tags must be a string or a list of strings");
	return out;
}

static void put_user(struct hx_req *r)
{
	if (hx_body(r) < 0)
		return;
	char *tags = tags_of(r), *pw = NULL, *hash = NULL;
	if (!tags)
		return;
	int p = js_get(&r->body, 0, "password"), h = js_get(&r->body, 0, "password_hash");
	if ((p >= 0 && !(pw = js_strdup(&r->body, p, NULL))) ||
	    (h >= 0 && !(hash = js_strdup(&r->body, h, NULL)))) {
		hx_error(r, 400, "bad_request", "password and password_hash must be strings");
		goto out;
	}
	int created = 0;
	struct tdm_auth *a = r->h->broker->auth;
	int rc = tdm_auth_put_user(a, r->seg[1].s, pw, hash, tags, &created);
	if (rc == -2 && hash)
		hx_error_term(r, 400, "bad_request", "not_base64", hash);
	else if (rc == -2)
		hx_error(r, 400, "bad_request", "user names must not be empty");
	else if (rc < 0 || tdm_durable_user(r->h->durable, r->seg[1].s) < 0)
		hx_error(r, 500, "internal_error", "could not store the user");
	else
		hx_no_content(r, created ? 201 : 204);
out:
	if (pw)
		explicit_bzero(pw, strlen(pw));
	free(pw);
	free(hash);
	free(tags);
}

static void delete_user(struct hx_req *r)
{
	if (tdm_auth_delete_user(r->h->broker->auth, r->seg[1].s) < 0)
		hx_not_found(r);
	else if (tdm_durable_user(r->h->durable, r->seg[1].s) < 0)
		hx_error(r, 500, "internal_error", "could not store the deletion");
	else
		hx_no_content(r, 204);
}

void hx_users(struct hx_req *r)
{
	int named = r->nseg == 2 && r->seg[1].len == strlen(r->seg[1].s);
	if (named && r->method == EVHTTP_REQ_PUT) {
		put_user(r);
		return;
	}
	if (named && r->method == EVHTTP_REQ_DELETE) {
		delete_user(r);
		return;
	}
	if (r->method != EVHTTP_REQ_GET && r->method != EVHTTP_REQ_HEAD) {
		hx_error(r, 405, "method_not_allowed", "Method Not Allowed");
		return;
	}
	struct user_walk uw = { 0 };
	if (r->nseg == 1) {
		reply_walk(r, &uw, 0);
	} else if (r->nseg == 2) {
		uw.only_user = r->seg[1].s;
		reply_walk(r, &uw, 1);
	} else if (r->nseg == 3 && hx_seg_is(r, 2, "permissions")) {
		uw.only_user = r->seg[1].s;
		uw.perms = 1;
		reply_walk(r, &uw, 0);
	} else {
		hx_not_found(r);
	}
}

/* PUT / DELETE /api/permissions/vhost/user: tandem grants a vhost whole. */
static void change_permission(struct hx_req *r)
{
	struct tdm_auth *a = r->h->broker->auth;
	const char *vhost = r->seg[1].s, *user = r->seg[2].s;
	struct tdm_vhost *vh = tdm_vhost_find(r->h->broker, vhost, r->seg[1].len);
	int put = r->method == EVHTTP_REQ_PUT;
	if (put) {
		static const char *const keys[] = { "configure", "write", "read" };
		if (hx_body(r) < 0 || hx_require_keys(r, keys, 3) < 0)
			return;
		if (!vh || !tdm_auth_user_tags(a, user)) {
			hx_error(r, 400, "bad_request", "vhost_or_user_not_found");
			return;
		}
		for (int i = 0; i < 3; i++)
			if (!js_streq(&r->body, js_get(&r->body, 0, keys[i]), ".*")) {
				hx_error(r, 400, "bad_request", "tandem grants a vhost whole: configure, write "
								"and read must all be \".*\"");
				return;
			}
	} else if (!vh || !tdm_auth_vhost_allowed(a, user, vhost, r->seg[1].len)) {
		hx_not_found(r);
		return;
	}
	int changed = 0;
	if (tdm_auth_grant(a, user, vhost, put, &changed) < 0) {
		hx_error(r, 500, "internal_error", "out of memory");
	} else if (!put && !changed) { /* "*": every vhost */
		hx_error(r, 400, "bad_request", "this user may open every vhost (vhosts = *): "
						"that cannot be taken away one vhost at a time");
	} else if (changed && tdm_durable_user(r->h->durable, user) < 0) {
		hx_error(r, 500, "internal_error", "could not store the permission");
	} else {
		hx_no_content(r, put ? (changed ? 201 : 204) : 204);
	}
}

void hx_permissions(struct hx_req *r)
{
	if (r->nseg == 3 && (r->method == EVHTTP_REQ_PUT || r->method == EVHTTP_REQ_DELETE) &&
	    r->seg[1].len == strlen(r->seg[1].s) && r->seg[2].len == strlen(r->seg[2].s)) {
		change_permission(r);
		return;
	}
	if (r->method != EVHTTP_REQ_GET && r->method != EVHTTP_REQ_HEAD) {
		hx_error(r, 405, "method_not_allowed", "Method Not Allowed");
		return;
	}
	struct user_walk uw = { .perms = 1 };
	if (r->nseg == 1) {
		reply_walk(r, &uw, 0);
		return;
	}
	if (r->nseg != 3) {
		hx_not_found(r);
		return;
	}
	if (!(uw.only_vh = hx_vhost(r, 1)))
		return;
	/* one user's permission on one vhost: an object */
	if (!tdm_auth_vhost_allowed(r->h->broker->auth, r->seg[2].s, r->seg[1].s, r->seg[1].len)) {
		hx_not_found(r);
		return;
	}
	struct js_w w;
	js_w_init(&w);
	write_perm(&w, r->seg[2].s, r->seg[1].s, r->seg[1].len);
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
}

void hx_vhost_permissions(struct hx_req *r, const struct tdm_vhost *vh)
{
	struct user_walk uw = { .perms = 1, .only_vh = vh };
	reply_walk(r, &uw, 0);
}

void hx_whoami(struct hx_req *r)
{
	struct js_w w;
	js_w_init(&w);
	js_obj(&w);
	js_kstr(&w, "name", r->user);
	js_key(&w, "tags");
	write_list(&w, tdm_auth_user_tags(r->h->broker->auth, r->user));
	js_obj_end(&w);
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
}
