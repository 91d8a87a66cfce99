/*
 * Per-vhost and per-user limits (see limits.h): a small array scanned
 * linearly, as users in auth.c; brokers have few limits and they are read
 * once per connection, channel or new queue.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include <stdlib.h>
#include <string.h>

#include "core/broker.h"
#include "core/limits.h"
#include "core/registry.h"

struct limit {
	char scope;        /* TDM_LIMIT_VHOST or TDM_LIMIT_USER */
	char *owner;       /* owned: vhost or user name */
	const char *field; /* static: one of the names below */
	int64_t value;
};

struct tdm_limits {
	struct limit *v; /* owned array */
	size_t n;
};

static const char *const vhost_fields[] = { "max-connections", "max-queues" };
static const char *const user_fields[] = { "max-connections", "max-channels" };

/* The static spelling of field in scope, or NULL. */
static const char *field_name(enum tdm_limit_scope scope, const char *field)
{
	const char *const *f = scope == TDM_LIMIT_VHOST ? vhost_fields : user_fields;

	for (size_t i = 0; i < 2; i++)
		if (field && strcmp(f[i], field) == 0)
			return f[i];
	return NULL;
}

struct tdm_limits *tdm_limits_new(void)
{
	return calloc(1, sizeof(struct tdm_limits));
}

void tdm_limits_free(struct tdm_limits *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].owner);
	free(l->v);
	free(l);
}

int tdm_limits_known(enum tdm_limit_scope scope, const char *field)
{
	return field_name(scope, field) != NULL;
}

static struct limit *find(const struct tdm_limits *l, enum tdm_limit_scope scope, const char *owner,
			  const char *field)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].scope == (char)scope && l->v[i].field == field &&
		    strcmp(l->v[i].owner, owner) == 0)
			return &l->v[i];
	return NULL;
}

int tdm_limits_set(struct tdm_limits *l, enum tdm_limit_scope scope, const char *owner,
		   const char *field, int64_t value)
{
	const char *f = field_name(scope, field);
	struct limit *x, *nv;

	if (!f)
		return -2;
	x = find(l, scope, owner, f);
	if (x) {
		x->value = value;
		return 0;
	}
	nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv)
		return -1;
	l->v = nv;
	x = &l->v[l->n];
	x->owner = strdup(owner);
	if (!x->owner)
		return -1;
	x->scope = (char)scope;
	x->field = f;
	x->value = value;
	l->n++;
	return 0;
}

int tdm_limits_clear(struct tdm_limits *l, enum tdm_limit_scope scope, const char *owner,
		     const char *field)
{
	const char *f = field ? field_name(scope, field) : NULL;
	int found = 0;

	if (field && !f)
		return -1;
	for (size_t i = 0; i < l->n;) {
		struct limit *x = &l->v[i];

		if (x->scope == (char)scope && (!f || x->field == f) &&
		    strcmp(x->owner, owner) == 0) {
			free(x->owner);
			/* keep the order: listings follow it */
			memmove(x, x + 1, (l->n - i - 1) * sizeof(*x));
			l->n--;
			found = 1;
			continue;
		}
		i++;
	}
	return found ? 0 : -1;
}

int64_t tdm_limits_get(const struct tdm_limits *l, enum tdm_limit_scope scope, const char *owner,
		       const char *field)
{
	const char *f = field_name(scope, field);
	const struct limit *x = f && l ? find(l, scope, owner, f) : NULL;

	return x && x->value >= 0 ? x->value : -1;
}

int tdm_limits_lookup(const struct tdm_limits *l, enum tdm_limit_scope scope, const char *owner,
		      const char *field, int64_t *value)
{
	const char *f = field_name(scope, field);
	const struct limit *x = f ? find(l, scope, owner, f) : NULL;

	if (x)
		*value = x->value;
	return x != NULL;
}

void tdm_limits_foreach(const struct tdm_limits *l, enum tdm_limit_scope scope, const char *owner,
			tdm_limit_fn fn, void *ctx)
{
	for (size_t i = 0; i < l->n; i++) {
		const struct limit *x = &l->v[i];

		if (x->scope == (char)scope && (!owner || strcmp(x->owner, owner) == 0))
			fn(ctx, x->owner, x->field, x->value);
	}
}

/* ---- checks ------------------------------------------------------------ */

int tdm_limits_check_connection(struct tdm_broker *b, const char *user, const char *vhost,
				struct tdm_err *err)
{
	int64_t vmax = tdm_limits_get(b->limits, TDM_LIMIT_VHOST, vhost, "max-connections");
	int64_t umax = tdm_limits_get(b->limits, TDM_LIMIT_USER, user, "max-connections");
	int64_t nv = 0, nu = 0;

	if (vmax < 0 && umax < 0)
		return TDM_OK;
	for (struct tdm_reg_conn *r = tdm_registry_first(); r; r = r->next) {
		nv += strcmp(r->vhost, vhost) == 0;
		nu += strcmp(r->user, user) == 0;
	}
	/* RabbitMQ checks the vhost's limit first (rabbit_reader) */
	if (vmax >= 0 && nv >= vmax)
		return tdm_err_set(err, TDM_E_NOT_ALLOWED,
				   "access to vhost '%s' refused for user '%s': "
				   "connection limit (%lld) is reached",
				   vhost, user, (long long)vmax);
	if (umax >= 0 && nu >= umax)
		return tdm_err_set(err, TDM_E_NOT_ALLOWED,
				   "connection refused for user '%s': "
				   "user connection limit (%lld) is reached",
				   user, (long long)umax);
	return TDM_OK;
}

int tdm_limits_check_channel(struct tdm_broker *b, const char *user, struct tdm_err *err)
{
	int64_t max = tdm_limits_get(b->limits, TDM_LIMIT_USER, user, "max-channels");
	int64_t n = 0;

	if (max < 0)
		return TDM_OK;
	for (struct tdm_reg_conn *r = tdm_registry_first(); r; r = r->next) {
		struct tdm_conn_stats st = { 0 };

		if (strcmp(r->user, user) != 0 || !r->ops || !r->ops->stats)
			continue;
		r->ops->stats(r->ctx, &st);
		n += st.channels;
	}
	if (n >= max)
		return tdm_err_set(err, TDM_E_NOT_ALLOWED,
				   "number of channels opened for user '%s' has reached "
				   "the maximum allowed user limit of (%lld)",
				   user, (long long)max);
	return TDM_OK;
}

int tdm_limits_check_queue(struct tdm_broker *b, const char *vhost, size_t nqueues,
			   const char *name, size_t name_len, struct tdm_err *err)
{
	int64_t max = tdm_limits_get(b->limits, TDM_LIMIT_VHOST, vhost, "max-queues");

	if (max < 0 || (int64_t)nqueues < max)
		return TDM_OK;
	return tdm_err_set(
		err, TDM_E_INEQUIVALENT,
		"cannot declare queue '%.*s': queue limit in vhost '%s' (%lld) is reached",
		(int)name_len, name, vhost, (long long)max);
}
