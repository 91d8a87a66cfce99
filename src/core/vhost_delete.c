/*
 * Deleting a vhost at run time (the management API's DELETE /api/vhosts/x):
 * what it holds goes the way single deletes go, in an order that leaves
 * nothing pointing at what is freed.  See tdm_vhost_delete in broker.h.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/broker.h"
#include "core/durable.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/registry.h"

/* The values of a map, copied (malloc'd; *n of them). */
static void **values(const struct tdm_map *m, size_t *n)
{
	*n = 0;
	void **v = malloc((m->count ? m->count : 1) * sizeof(*v));
	size_t pos = 0;
	void *val;
	while (v && *n < m->count && tdm_map_next(m, &pos, NULL, NULL, &val))
		v[(*n)++] = val;
	return v;
}

static void close_connections(const struct tdm_vhost *vh)
{
	char reason[400];
	snprintf(reason, sizeof(reason), "vhost '%s' is deleted", vh->name);
	for (struct tdm_reg_conn *c = tdm_registry_first(); c; c = c->next)
		if (strcmp(c->vhost, vh->name) == 0 && c->ops->close)
			c->ops->close(c->ctx, reason); /* the record goes later */
}

static int delete_contents(struct tdm_vhost *vh)
{
	size_t n;
	void **qs = values(&vh->queues, &n);
	if (!qs)
		return -1;
	for (size_t i = 0; i < n; i++)
		tdm_queue_remove(qs[i]);
	free(qs);
	/* names first: deleting one exchange may auto-delete others */
	void **xs = values(&vh->exchanges, &n);
	char **names = xs ? calloc(n ? n : 1, sizeof(*names)) : NULL;
	size_t nn = 0;
	for (size_t i = 0; names && i < n; i++) {
		const struct tdm_exchange *x = xs[i];
		if (!x->builtin && (names[nn] = strndup(x->name, x->name_len)))
			nn++;
	}
	free(xs);
	if (!names)
		return -1;
	for (size_t i = 0; i < nn; i++) {
		tdm_exchange_delete(vh, names[i], strlen(names[i]), 0, NULL);
		free(names[i]);
	}
	free(names);
	return 0;
}

struct revoke {
	char **users;
	size_t n, cap;
};

static void collect_user(const struct tdm_user_info *u, void *ctx)
{
	struct revoke *rv = ctx;
	if (rv->n == rv->cap) {
		size_t cap = rv->cap ? rv->cap * 2 : 16;
		char **nu = realloc(rv->users, cap * sizeof(*nu));
		if (!nu)
			return;
		rv->users = nu;
		rv->cap = cap;
	}
	if ((rv->users[rv->n] = strdup(u->name)))
		rv->n++;
}

/* Users lose their permissions and topic permissions on the vhost (a
 * vhost made again later starts with none, as in RabbitMQ). */
static void revoke_all(struct tdm_broker *b, const char *vhost)
{
	struct revoke rv = { 0 };
	tdm_auth_foreach_user(b->auth, collect_user, &rv);
	for (size_t i = 0; i < rv.n; i++) {
		int changed = 0;
		if (tdm_auth_grant(b->auth, rv.users[i], vhost, 0, &changed) < 0)
			changed = 0;
		if (tdm_auth_clear_topic_permissions(b->auth, rv.users[i], vhost, NULL) > 0)
			changed = 1;
		if (changed)
			tdm_durable_user(b->durable, rv.users[i]);
		free(rv.users[i]);
	}
	free(rv.users);
}

int tdm_vhost_delete(struct tdm_broker *b, struct tdm_vhost *vh, struct tdm_err *err)
{
	if (tdm_durable_vhost(b->durable, vh->name, vh->name_len, 0) < 0)
		return tdm_err_set(err, TDM_E_NOMEM, "could not persist the deletion (disk error)");
	close_connections(vh);
	if (delete_contents(vh) < 0)
		tdm_error("vhost", "deleting vhost '%s': out of memory, some objects stay", vh->name);
	revoke_all(b, vh->name);
	static const char *const fields[] = { "max-connections", "max-queues" };
	for (size_t i = 0; i < 2; i++) /* as RabbitMQ: the vhost's limits go with it */
		if (tdm_limits_clear(b->limits, TDM_LIMIT_VHOST, vh->name, fields[i]) == 0)
			tdm_durable_limit(b->durable, TDM_LIMIT_VHOST, vh->name, fields[i]);
	tdm_map_del(&b->vhosts, vh->name, vh->name_len);
	vh->dead_next = b->dead_vhosts;
	b->dead_vhosts = vh;
	tdm_info("vhost", "vhost '%s' deleted", vh->name);
	return TDM_OK;
}
