/*
 * Management API: users and permissions, read-only (they come from
 * tandem.conf): /api/users[/name], /api/permissions[/vhost/user],
 * /api/users/name/permissions, /api/vhosts/vhost/permissions, and the
 * tags of /api/whoami.  A user's vhosts list is what tandem grants (full
 * access to each), shown as RabbitMQ's configure/write/read ".*".
 * No password hashes are shown.
 *
 * Must not depend on: other front ends (src/amqp, src/kafka).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include "core/auth.h"
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

void hx_users(struct hx_req *r)
{
	if (r->method != EVHTTP_REQ_GET && r->method != EVHTTP_REQ_HEAD) {
		hx_error(r, 405, "method_not_allowed", "users come from tandem.conf (users.NAME.*)");
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

void hx_permissions(struct hx_req *r)
{
	if (r->method != EVHTTP_REQ_GET && r->method != EVHTTP_REQ_HEAD) {
		hx_error(r, 405, "method_not_allowed", "permissions come from tandem.conf (users.NAME.vhosts)");
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
