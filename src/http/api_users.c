/*
 * Management API: users and permissions: /api/users[/name],
 * /api/permissions[/vhost/user], /api/users/name/permissions,
 * /api/vhosts/vhost/permissions, and the tags of /api/whoami; PUT and
 * DELETE of users and permissions (persisted, core/durable.h): RabbitMQ's
 * configure/write/read regular expressions (core/auth.h).  A user with
 * every vhost (`users.NAME.vhosts = *`, the default user) shows its
 * every-vhost patterns on each vhost.  Administrators see password hashes,
 * as in RabbitMQ.
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

int hx_list_next(const char **p, const char **item, size_t *len)
{
	if (!*p || !**p)
		return 0;
	size_t n = strcspn(*p, ",");
	const char *s = *p;
	size_t l = n;
	while (l && *s == ' ')
		s++, l--;
	while (l && s[l - 1] == ' ')
		l--;
	*item = s;
	*len = l;
	*p += n;
	if (**p == ',')
		(*p)++;
	return 1;
}

/* Writes a comma list as a JSON array of its trimmed, non-empty items. */
static void write_list(struct js_w *w, const char *list)
{
	js_arr(w);
	const char *s;
	size_t l;
	while (hx_list_next(&list, &s, &l))
		if (l)
			js_strn(w, s, l);
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

static void write_perm(struct js_w *w, const char *user, const char *vh, size_t vl,
		       const struct tdm_perm_info *p)
{
	js_obj(w);
	js_kstr(w, "user", user);
	js_kstrn(w, "vhost", vh, vl);
	js_kstr(w, "configure", p->configure);
	js_kstr(w, "write", p->write);
	js_kstr(w, "read", p->read);
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
		hx_write_user_limits(uw->r, w, u->name);
		js_obj_end(w);
		return;
	}
	/* one permission per vhost the user may open */
	size_t pos = 0;
	const char *k;
	size_t kl;
	void *v;
	struct tdm_broker *b = uw->r->h->broker;
	struct tdm_perm_info pi;
	while (tdm_map_next(&b->vhosts, &pos, &k, &kl, &v))
		if ((!uw->only_vh || v == uw->only_vh) &&
		    tdm_auth_get_permissions(b->auth, u->name, k, kl, &pi))
			write_perm(w, u->name, k, kl, &pi);
}

static void walk(struct hx_req *r, struct user_walk *uw, struct js_w *w, int single)
{
	uw->r = r;
	uw->w = w;
	if (!single)
		js_arr(w);
	tdm_auth_foreach_user(r->h->broker->auth, user_cb, uw);
	if (!single)
		js_arr_end(w);
}

void hx_write_users(struct hx_req *r, struct js_w *w)
{
	struct user_walk uw = { 0 };
	walk(r, &uw, w, 0);
}

void hx_write_permissions(struct hx_req *r, struct js_w *w, const struct tdm_vhost *vh)
{
	struct user_walk uw = { .perms = 1, .only_vh = vh };
	walk(r, &uw, w, 0);
}

static void reply_walk(struct hx_req *r, struct user_walk *uw, int single)
{
	struct js_w w;
	js_w_init(&w);
	walk(r, uw, &w, single);
	if (uw->only_user && !uw->found)
		hx_not_found(r);
	else
		hx_reply_json(r, 200, &w);
	js_w_free(&w);
}

/* "tags" of object obj as RabbitMQ takes it: a comma list or an array of
 * strings.  A malloc'd comma list, or NULL with the reason in *why. */
static char *tags_of(const struct js_doc *d, int obj, const char **why)
{
	int t = js_get(d, obj, "tags");
	*why = "tags_not_present";
	if (t < 0)
		return NULL;
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
	*why = "tags must be a string or a list of strings";
	return out;
}

int hx_store_user(struct hx_req *r, int obj, const char *name, int *created, struct tdm_err *e)
{
	const struct js_doc *d = &r->body;
	const char *why;
	char *tags = tags_of(d, obj, &why), *pw = NULL, *hash = NULL;
	int p = js_get(d, obj, "password"), h = js_get(d, obj, "password_hash"), rc;
	if (!tags) {
		rc = tdm_err_set(e, TDM_E_INVALID, "%s", why);
	} else if ((p >= 0 && !(pw = js_strdup(d, p, NULL))) || (h >= 0 && !(hash = js_strdup(d, h, NULL)))) {
		rc = tdm_err_set(e, TDM_E_INVALID, "password and password_hash must be strings");
	} else if ((rc = tdm_auth_put_user(r->h->broker->auth, name, pw, hash, tags, created)) == -2) {
		rc = hash ? tdm_err_set(e, TDM_E_INVALID, "not_base64: %s", hash)
			  : tdm_err_set(e, TDM_E_INVALID, "user names must not be empty");
	} else if (rc == -3) {
		rc = tdm_err_set(e, TDM_E_INVALID, "user name '%s' is reserved for the cluster link",
				 name);
	} else if (rc < 0 || tdm_durable_user(r->h->durable, name) < 0) {
		rc = tdm_err_set(e, TDM_E_NOMEM, "could not store the user");
	}
	if (pw)
		explicit_bzero(pw, strlen(pw));
	free(pw);
	free(hash);
	free(tags);
	return rc;
}

static void put_user(struct hx_req *r)
{
	if (hx_body(r) < 0)
		return;
	int created = 0;
	struct tdm_err e;
	int h = js_get(&r->body, 0, "password_hash");
	if (hx_store_user(r, 0, r->seg[1].s, &created, &e) == TDM_OK) {
		hx_no_content(r, created ? 201 : 204);
	} else if (strncmp(e.text, "not_base64: ", 12) == 0) { /* RabbitMQ's term */
		char *v = js_strdup(&r->body, h, NULL);
		hx_error_term(r, 400, "bad_request", "not_base64", v ? v : "");
		free(v);
	} else {
		hx_core_error(r, &e);
	}
}

static void delete_user(struct hx_req *r)
{
	if (tdm_auth_delete_user(r->h->broker->auth, r->seg[1].s) < 0)
		hx_not_found(r);
	else if (tdm_durable_user(r->h->durable, r->seg[1].s) < 0)
		hx_error(r, 500, "internal_error", "could not store the deletion");
	else {
		hx_forget_limits(r, TDM_LIMIT_USER, r->seg[1].s); /* as RabbitMQ */
		hx_no_content(r, 204);
	}
}

void hx_user_list(struct hx_req *r)
{
	struct user_walk uw = { 0 };
	reply_walk(r, &uw, 0);
}

/* GET, PUT, DELETE /api/users/name. */
void hx_user(struct hx_req *r)
{
	int named = r->seg[1].len == strlen(r->seg[1].s);
	struct user_walk uw = { .only_user = r->seg[1].s };
	if (named && r->method == EVHTTP_REQ_PUT)
		put_user(r);
	else if (named && r->method == EVHTTP_REQ_DELETE)
		delete_user(r);
	else if (r->method != EVHTTP_REQ_GET && r->method != EVHTTP_REQ_HEAD)
		hx_error(r, 400, "bad_request", "user names hold no NUL byte");
	else
		reply_walk(r, &uw, 1);
}

void hx_user_permissions(struct hx_req *r)
{
	struct user_walk uw = { .only_user = r->seg[1].s, .perms = 1 };
	reply_walk(r, &uw, 0);
}

int hx_store_permission(struct hx_req *r, int obj, const char *vhost, const char *user,
			int *created, struct tdm_err *e)
{
	static const char *const keys[] = { "configure", "write", "read" };
	struct tdm_auth *a = r->h->broker->auth;
	char *pat[3] = { NULL, NULL, NULL }, why[256];
	struct tdm_perm_info pi;
	int rc = TDM_OK;
	*created = 0;
	if (!tdm_vhost_find(r->h->broker, vhost, strlen(vhost)) || !tdm_auth_user_tags(a, user))
		return tdm_err_set(e, TDM_E_INVALID, "vhost_or_user_not_found");
	for (int i = 0; i < 3 && rc == TDM_OK; i++)
		if (!(pat[i] = js_strdup(&r->body, js_get(&r->body, obj, keys[i]), NULL)))
			rc = tdm_err_set(e, TDM_E_INVALID,
					 "configure, write and read must be strings");
	/* the first bad pattern in RabbitMQ's order, named as its invalid_regexp */
	for (int i = 0; i < 3 && rc == TDM_OK; i++)
		if (tdm_auth_pattern_check(pat[i], NULL, NULL, why, sizeof(why)) != 0)
			rc = tdm_err_set(e, TDM_E_INVALID, "invalid_regexp: %s", why);
	if (rc == TDM_OK) {
		*created = !tdm_auth_get_permissions(a, user, vhost, strlen(vhost), &pi);
		if (tdm_auth_set_permissions(a, user, vhost, pat[0], pat[1], pat[2], why,
					     sizeof(why)) != 0 ||
		    tdm_durable_user(r->h->durable, user) < 0)
			rc = tdm_err_set(e, TDM_E_NOMEM, "could not store the permission");
	}
	for (int i = 0; i < 3; i++)
		free(pat[i]);
	return rc;
}

void hx_invalid_regexp(struct hx_req *r, const char *pattern, int as_codes, const char *why)
{
	struct js_w w;
	js_w_init(&w);
	js_obj(&w);
	js_kstr(&w, "error", "bad_request");
	js_key(&w, "reason");
	js_arr(&w);
	js_str(&w, "invalid_regexp");
	if (as_codes) { /* RabbitMQ shows a permission's pattern as an Erlang string */
		js_arr(&w);
		for (const unsigned char *p = (const unsigned char *)pattern; *p; p++)
			js_int(&w, *p);
		js_arr_end(&w);
	} else {
		js_str(&w, pattern);
	}
	js_str(&w, why);
	js_arr_end(&w);
	js_obj_end(&w);
	hx_reply_json(r, 400, &w);
	js_w_free(&w);
}

void hx_permission_error(struct hx_req *r, const struct tdm_err *e, const char *user,
			 const char *vhost)
{
	static const char *const keys[] = { "configure", "write", "read" };
	static const char prefix[] = "invalid_regexp: ";
	int topic = user != NULL;
	if (strncmp(e->text, prefix, sizeof(prefix) - 1) != 0) {
		hx_core_error(r, e);
		return;
	}
	/* the first pattern refused, in RabbitMQ's order, named as it does */
	for (int i = topic ? 1 : 0; i < 3; i++) {
		char *pat = js_strdup(&r->body, js_get(&r->body, 0, keys[i]), NULL), why[8];
		if (pat && tdm_auth_pattern_check(pat, user, vhost, why, sizeof(why)) != 0) {
			hx_invalid_regexp(r, pat, !topic, e->text + sizeof(prefix) - 1);
			free(pat);
			return;
		}
		free(pat);
	}
	hx_core_error(r, e);
}

/* DELETE /api/permissions/vhost/user. */
static void revoke(struct hx_req *r)
{
	struct tdm_auth *a = r->h->broker->auth;
	const char *vhost = r->seg[1].s, *user = r->seg[2].s;
	int rc;
	if (!tdm_vhost_find(r->h->broker, vhost, r->seg[1].len) ||
	    !tdm_auth_vhost_allowed(a, user, vhost, r->seg[1].len))
		hx_not_found(r);
	else if ((rc = tdm_auth_clear_permissions(a, user, vhost)) < 0)
		hx_error(r, 500, "internal_error", "out of memory");
	else if (rc == 0) /* "*": every vhost */
		hx_error(r, 400, "bad_request", "this user may open every vhost (vhosts = *): "
						"that cannot be taken away one vhost at a time");
	else if (tdm_durable_user(r->h->durable, user) < 0)
		hx_error(r, 500, "internal_error", "could not store the permission");
	else
		hx_no_content(r, 204);
}

/* PUT / DELETE /api/permissions/vhost/user. */
static void change_permission(struct hx_req *r)
{
	static const char *const keys[] = { "configure", "write", "read" };
	struct tdm_err e;
	int created;
	if (r->method == EVHTTP_REQ_DELETE)
		revoke(r);
	else if (hx_body(r) < 0 || hx_require_keys(r, keys, 3) < 0)
		return;
	else if (hx_store_permission(r, 0, r->seg[1].s, r->seg[2].s, &created, &e) != TDM_OK)
		hx_permission_error(r, &e, NULL, NULL);
	else
		hx_no_content(r, created ? 201 : 204);
}

void hx_permission_list(struct hx_req *r)
{
	struct user_walk uw = { .perms = 1 };
	reply_walk(r, &uw, 0);
}

/* GET, PUT, DELETE /api/permissions/vhost/user. */
void hx_permission(struct hx_req *r)
{
	if (r->method == EVHTTP_REQ_PUT || r->method == EVHTTP_REQ_DELETE) {
		if (r->seg[1].len == strlen(r->seg[1].s) && r->seg[2].len == strlen(r->seg[2].s))
			change_permission(r);
		else
			hx_error(r, 400, "bad_request", "vhost and user names hold no NUL byte");
		return;
	}
	if (!hx_vhost(r, 1))
		return;
	/* one user's permission on one vhost: an object */
	struct tdm_perm_info pi;
	if (!tdm_auth_get_permissions(r->h->broker->auth, r->seg[2].s, r->seg[1].s, r->seg[1].len,
				      &pi)) {
		hx_not_found(r);
		return;
	}
	struct js_w w;
	js_w_init(&w);
	write_perm(&w, r->seg[2].s, r->seg[1].s, r->seg[1].len, &pi);
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
