/*
 * Management API: /api/definitions[/vhost], RabbitMQ's export and import of
 * the topology (exchanges, queues, bindings) in its JSON format, so a
 * definitions file moves between tandem and RabbitMQ.  A whole-broker file
 * carries vhosts, users, permissions and topic permissions both ways;
 * policies are not imported.
 *
 * Must not depend on: other front ends (src/amqp, src/kafka).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/http.h>

#include <config.h>

#include "core/auth.h"
#include "core/durable.h"
#include "core/limits.h"
#include "http/amqpval.h"
#include "core/defs.h"
#include "http/hx.h"

#define HDRS_MAX 64

struct export_ctx {
	struct js_w *w;
	const struct tdm_exchange *src;
	int with_vhost;
};

static void export_binding(void *dest, const char *key, size_t key_len, const struct ex_hdr *args,
			   size_t nargs, void *ctx)
{
	struct export_ctx *ec = ctx;
	const struct tdm_dest *dd = dest;
	struct js_w *w = ec->w;
	js_obj(w);
	js_kstrn(w, "source", ec->src->name, ec->src->name_len);
	if (ec->with_vhost)
		js_kstrn(w, "vhost", ec->src->vhost->name, ec->src->vhost->name_len);
	if (dd->kind == TDM_DEST_QUEUE) {
		const struct tdm_queue *q = dest;
		js_kstrn(w, "destination", q->name, q->name_len);
		js_kstr(w, "destination_type", "queue");
	} else {
		const struct tdm_exchange *x = dest;
		js_kstrn(w, "destination", x->name, x->name_len);
		js_kstr(w, "destination_type", "exchange");
	}
	js_kstrn(w, "routing_key", key, key_len);
	js_key(w, "arguments");
	hv_hdrs_to_json(w, args, nargs);
	js_obj_end(w);
}

static void export_vhost(struct js_w *w, struct tdm_vhost *vh, int part, int with_vhost)
{
	size_t pos = 0;
	const char *k;
	size_t kl;
	void *v;
	if (part == 0) {
		while (tdm_map_next(&vh->queues, &pos, &k, &kl, &v)) {
			const struct tdm_queue *q = v;
			if (q->exclusive)
				continue; /* RabbitMQ leaves them out: they die with their connection */
			js_obj(w);
			js_kstrn(w, "name", q->name, q->name_len);
			if (with_vhost)
				js_kstrn(w, "vhost", vh->name, vh->name_len);
			js_kbool(w, "durable", q->durable);
			js_kbool(w, "auto_delete", q->auto_delete);
			js_key(w, "arguments");
			hv_table_to_json(w, q->arguments, q->arguments_len);
			js_obj_end(w);
		}
	} else if (part == 1) {
		while (tdm_map_next(&vh->exchanges, &pos, &k, &kl, &v)) {
			const struct tdm_exchange *x = v;
			if (x->builtin || x->name_len == 0)
				continue;
			js_obj(w);
			js_kstrn(w, "name", x->name, x->name_len);
			if (with_vhost)
				js_kstrn(w, "vhost", vh->name, vh->name_len);
			js_kstr(w, "type", tdm_exchange_type_name(x->type));
			js_kbool(w, "durable", x->durable);
			js_kbool(w, "auto_delete", x->auto_delete);
			js_kbool(w, "internal", x->internal);
			js_key(w, "arguments");
			hv_table_to_json(w, x->arguments, x->arguments_len);
			js_obj_end(w);
		}
	} else {
		struct export_ctx ec = { w, NULL, with_vhost };
		while (tdm_map_next(&vh->exchanges, &pos, &k, &kl, &v)) {
			const struct tdm_exchange *x = v;
			if (!x->table || x->name_len == 0)
				continue;
			ec.src = x;
			ex_foreach(x->table, export_binding, &ec);
		}
	}
}

static void export(struct hx_req *r, struct tdm_vhost *only)
{
	struct tdm_broker *b = r->h->broker;
	struct js_w w;
	js_w_init(&w);
	js_obj(&w);
	js_kstr(&w, "rabbit_version", "3.10.0");
	js_kstr(&w, "rabbitmq_version", COMPAT_RABBITMQ_VERSION);
	js_kstr(&w, "product_name", "tandem");
	js_kstr(&w, "product_version", PACKAGE_VERSION);
	if (!only) {
		js_key(&w, "vhosts");
		js_arr(&w);
		size_t pos = 0;
		const char *k;
		size_t kl;
		void *v;
		while (tdm_map_next(&b->vhosts, &pos, &k, &kl, &v)) {
			js_obj(&w);
			js_kstrn(&w, "name", k, kl);
			js_obj_end(&w);
		}
		js_arr_end(&w);
	}
	if (!only) {
		js_key(&w, "users");
		hx_write_users(r, &w);
	}
	js_key(&w, "permissions");
	hx_write_permissions(r, &w, only);
	if (!only) {
		js_key(&w, "topic_permissions");
		hx_write_topic_permissions(r, &w);
	}
	static const char *empty[] = { "parameters", "global_parameters", "policies" };
	for (size_t i = 0; i < 3; i++) {
		js_key(&w, empty[i]);
		js_arr(&w);
		if (i == 0) /* RabbitMQ keeps vhost limits as runtime parameters */
			hx_write_limit_params(r, &w, only);
		js_arr_end(&w);
	}
	static const char *parts[] = { "queues", "exchanges", "bindings" };
	for (int part = 0; part < 3; part++) {
		js_key(&w, parts[part]);
		js_arr(&w);
		size_t pos = 0;
		const char *k;
		size_t kl;
		void *v;
		while (tdm_map_next(&b->vhosts, &pos, &k, &kl, &v)) {
			struct tdm_vhost *vh = v;
			if ((only && vh != only) ||
			    !tdm_auth_vhost_allowed(b->auth, r->user, vh->name, vh->name_len))
				continue;
			export_vhost(&w, vh, part, !only);
		}
		js_arr_end(&w);
	}
	js_obj_end(&w);
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
}

/* ---- import ----------------------------------------------------------- */

/* The vhost an item names (or `only`); NULL with e set when unknown. */
static struct tdm_vhost *item_vhost(struct hx_req *r, int item, struct tdm_vhost *only,
				    struct tdm_err *e)
{
	if (only)
		return only;
	const struct js_doc *d = &r->body;
	size_t n;
	char *name = js_strdup(d, js_get(d, item, "vhost"), &n);
	struct tdm_vhost *vh = name ? tdm_vhost_find(r->h->broker, name, n) : NULL;
	if (!vh || !tdm_auth_vhost_allowed(r->h->broker->auth, r->user, name, n))
		tdm_err_set(e, TDM_E_NOT_FOUND, "vhost '%s' not found",
			    name ? name : "");
	free(name);
	return vh;
}

static int import_binding(struct hx_req *r, int item, struct tdm_vhost *vh, struct tdm_err *e)
{
	const struct js_doc *d = &r->body;
	size_t sl, dl, kl;
	char *src = js_strdup(d, js_get(d, item, "source"), &sl);
	char *dst = js_strdup(d, js_get(d, item, "destination"), &dl);
	char *key = js_strdup(d, js_get(d, item, "routing_key"), &kl);
	int to_queue = !js_streq(d, js_get(d, item, "destination_type"), "exchange");
	struct js_w args;
	js_w_init(&args);
	char err[200];
	int rc;
	if (!src || !dst || !key) {
		rc = tdm_err_set(e, TDM_E_INVALID, "a binding needs source, destination and routing_key");
		goto out;
	}
	struct tdm_exchange *sx = tdm_exchange_find(vh, src, sl);
	struct tdm_dest *dd = to_queue ? (struct tdm_dest *)tdm_map_get(&vh->queues, dst, dl)
				       : (struct tdm_dest *)tdm_exchange_find(vh, dst, dl);
	if (!sx || !dd) {
		rc = tdm_err_set(e, TDM_E_NOT_FOUND, "binding %s -> %s: no such %s", src, dst,
				 !sx ? "source exchange" : to_queue ? "queue" : "exchange");
		goto out;
	}
	if (hv_table_from_json(d, js_get(d, item, "arguments"), &args, err, sizeof(err)) < 0) {
		rc = tdm_err_set(e, TDM_E_INVALID, "%s", err);
		goto out;
	}
	struct ex_hdr h[HDRS_MAX];
	int n = hv_table_to_hdrs((const uint8_t *)args.buf, args.len, h, HDRS_MAX);
	if (n < 0) {
		rc = tdm_err_set(e, TDM_E_INVALID, "too many binding arguments");
		goto out;
	}
	rc = tdm_bind(sx, dd, key, kl, h, (size_t)n, e);
	if (rc == TDM_PROPOSED) /* a cluster's: the import's reply waits for it */
		rc = TDM_OK;
out:
	free(src);
	free(dst);
	free(key);
	js_w_free(&args);
	return rc;
}

static int import_vhost(struct hx_req *r, const char *name, struct tdm_err *e)
{
	size_t n = strlen(name);
	if (n == 0 || n > 255)
		return tdm_err_set(e, TDM_E_INVALID, "vhost names are 1 to 255 bytes");
	if (tdm_vhost_find(r->h->broker, name, n))
		return TDM_OK;
	if (!tdm_vhost_add(r->h->broker, name, n) || tdm_durable_vhost(r->h->durable, name, n, 1) < 0)
		return tdm_err_set(e, TDM_E_NOMEM, "could not create vhost '%s'", name);
	return TDM_OK;
}

/* vhosts, users and permissions of a whole-broker file, before the
 * objects that live in the vhosts.  TDM_OK or a status with e filled. */
static int import_access(struct hx_req *r, struct tdm_err *e)
{
	const struct js_doc *d = &r->body;
	static const char *parts[] = { "vhosts", "users", "permissions", "topic_permissions" };
	for (int part = 0; part < 4; part++) {
		int arr = js_get(d, 0, parts[part]);
		if (arr >= 0 && js_type_of(d, arr) != JS_ARR)
			return tdm_err_set(e, TDM_E_INVALID, "definitions: expected arrays");
		for (int it = arr >= 0 ? js_child(d, arr) : -1; it >= 0; it = js_next(d, arr, it)) {
			char *name = js_strdup(d, js_get(d, it, part >= 2 ? "user" : "name"), NULL);
			char *vh = part >= 2 ? js_strdup(d, js_get(d, it, "vhost"), NULL) : NULL;
			int created, rc;
			if (!name || (part >= 2 && !vh))
				rc = tdm_err_set(e, TDM_E_INVALID, "every entry of %s needs a %s",
						 parts[part],
						 part >= 2 ? "user and a vhost" : "name");
			else if (part == 0)
				rc = import_vhost(r, name, e);
			else if (part == 1) {
				rc = hx_store_user(r, it, name, &created, e);
				if (rc == TDM_OK) /* RabbitMQ's users[].limits */
					rc = hx_import_limits(r, TDM_LIMIT_USER, name,
							      js_get(d, it, "limits"), e);
			} else if (part == 2)
				rc = hx_store_permission(r, it, vh, name, &created, e);
			else
				rc = hx_store_topic_permission(r, it, vh, name, &created, e);
			free(name);
			free(vh);
			if (rc != TDM_OK)
				return rc;
		}
	}
	return TDM_OK;
}

/* An exchange (part 0) or queue of an import; in a cluster a new one is
 * proposed and *w (made on the first) waits for it. */
static int import_object(struct hx_req *r, int part, struct tdm_vhost *vh, int it,
			 const char *name, size_t n, struct hx_defs_wait **w, struct tdm_err *e)
{
	int rc = part == 0 ? hx_declare_exchange(vh, r->user, &r->body, it, name, n, NULL, e)
			   : hx_declare_queue(vh, r->user, &r->body, it, name, n, NULL, e);
	if (rc != TDM_PROPOSED)
		return rc;
	if (hx_defs_rerunning()) { /* applied once already: changed since, let it be */
		tdm_defs_op_forget(tdm_defs_last(r->h->broker, NULL, NULL));
		return TDM_OK;
	}
	if (!*w && !(*w = hx_defs_wait_new(r, 204, 1))) {
		tdm_defs_op_forget(tdm_defs_last(r->h->broker, NULL, NULL));
		return tdm_err_set(e, TDM_E_NOMEM, "out of memory");
	}
	return hx_defs_wait_add(*w) != 0 ? tdm_err_set(e, TDM_E_NOMEM, "out of memory") : TDM_OK;
}

static void import(struct hx_req *r, struct tdm_vhost *only)
{
	if (hx_body(r) < 0)
		return;
	const struct js_doc *d = &r->body;
	struct tdm_err ae;
	if (!only && import_access(r, &ae) != TDM_OK) {
		hx_core_error(r, &ae);
		return;
	}
	static const char *parts[] = { "exchanges", "queues", "bindings" };
	struct tdm_err e;
	if (hx_import_limit_params(r, only, &e) != TDM_OK) {
		hx_core_error(r, &e);
		return;
	}
	struct hx_defs_wait *w = NULL; /* a cluster's new exchanges, queues (core/defs.h) */
	for (int part = 0; part < 3; part++) {
		if (part > 0 && w) { /* the rest once they are applied: handled again */
			while (hx_defs_wait_add(w) == 0) /* vhosts and users too */
				;
			hx_defs_wait_arm(w);
			return;
		}
		int arr = js_get(d, 0, parts[part]);
		if (arr < 0)
			continue;
		if (js_type_of(d, arr) != JS_ARR) {
			hx_error(r, 400, "bad_request", "definitions: expected arrays");
			return;
		}
		for (int it = js_child(d, arr); it >= 0; it = js_next(d, arr, it)) {
			struct tdm_vhost *vh = item_vhost(r, it, only, &e);
			int rc = vh ? TDM_OK : e.status;
			if (vh && part < 2) {
				size_t n;
				char *name = js_strdup(d, js_get(d, it, "name"), &n);
				if (!name)
					rc = tdm_err_set(&e, TDM_E_INVALID, "every %s needs a name", parts[part]);
				else
					rc = import_object(r, part, vh, it, name, n, &w, &e);
				free(name);
			} else if (vh) {
				rc = import_binding(r, it, vh, &e);
			}
			if (rc != TDM_OK) {
				if (e.status == TDM_E_NOT_FOUND)
					e.status = TDM_E_INVALID; /* a bad file, not a missing URL */
				if (w)
					hx_defs_wait_fail(w, &e);
				else
					hx_core_error(r, &e);
				return;
			}
		}
	}
	hx_no_content(r, 204);
}

void hx_definitions(struct hx_req *r)
{
	struct tdm_vhost *vh = NULL;
	if (r->nseg == 2 && !(vh = hx_vhost(r, 1)))
		return;
	if (r->method == EVHTTP_REQ_POST)
		import(r, vh);
	else
		export(r, vh);
}
