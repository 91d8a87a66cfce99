/*
 * Per-vhost and per-user limits (see limits.h): a small array scanned
 * linearly, as users in auth.c; brokers have few limits and they are read
 * once per connection, channel or new queue.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/broker.h"
#include "core/config.h"
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
	uint64_t kafka_refused; /* connections refused by max.connections.per.ip */
};

static const char *const vhost_fields[] = { "max-connections", "max-queues", NULL };
static const char *const user_fields[] = { "max-connections", "max-channels", NULL };
static const char *const kafka_fields[] = { TDM_KAFKA_PER_IP,
					    TDM_KAFKA_PER_IP_OVERRIDES,
					    TDM_KAFKA_PARTITIONS_PER_TOPIC,
					    TDM_KAFKA_PARTITIONS,
					    TDM_KAFKA_REQUEST_SIZE,
					    NULL };

/* The static spelling of field in scope, or NULL. */
static const char *field_name(enum tdm_limit_scope scope, const char *field)
{
	const char *const *f = scope == TDM_LIMIT_VHOST  ? vhost_fields
			       : scope == TDM_LIMIT_USER ? user_fields
			       : scope == TDM_LIMIT_KAFKA ? kafka_fields
							  : NULL;

	for (size_t i = 0; f && f[i]; i++)
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

/* ---- Kafka's broker limits ---------------------------------------------- */

int64_t tdm_limits_kafka(const struct tdm_limits *l, const struct tdm_config *cfg,
			 const char *field)
{
	int64_t v;

	if (l && strcmp(field, TDM_KAFKA_PER_IP_OVERRIDES) != 0 &&
	    tdm_limits_lookup(l, TDM_LIMIT_KAFKA, "", field, &v))
		return v;
	if (strcmp(field, TDM_KAFKA_PER_IP) == 0)
		return cfg->kafka_max_connections_per_ip;
	if (strcmp(field, TDM_KAFKA_PARTITIONS_PER_TOPIC) == 0)
		return cfg->max_partitions_per_topic;
	if (strcmp(field, TDM_KAFKA_PARTITIONS) == 0)
		return cfg->max_partitions;
	if (strcmp(field, TDM_KAFKA_REQUEST_SIZE) == 0)
		return (int64_t)cfg->kafka_max_request_size;
	return -1;
}

int tdm_limits_parse_overrides(const char *s, tdm_override_fn fn, void *ctx, char *err,
			       size_t errlen)
{
	const char *p = s ? s : "";

	while (*p) {
		size_t len = strcspn(p, ",");
		const char *b = p, *e = p + len, *colon = NULL;

		while (b < e && (*b == ' ' || *b == '\t'))
			b++;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		for (const char *q = e; q > b; q--)
			if (q[-1] == ':') {
				colon = q - 1;
				break;
			}
		if (b < e) {
			char num[16], *end;
			size_t nl = colon ? (size_t)(e - colon - 1) : 0;
			long long v;

			if (!colon || colon == b || nl == 0 || nl >= sizeof(num)) {
				snprintf(err, errlen,
					 "max.connections.per.ip.overrides: '%.*s' is not IP:COUNT",
					 (int)(e - b), b);
				return -1;
			}
			memcpy(num, colon + 1, nl);
			num[nl] = '\0';
			errno = 0;
			v = strtoll(num, &end, 10);
			if (*end || errno || v < 0 || v > INT32_MAX) {
				snprintf(err, errlen,
					 "max.connections.per.ip.overrides: '%s' is not a count "
					 "(0 .. 2147483647)",
					 num);
				return -1;
			}
			if ((size_t)(colon - b) >= 64) {
				snprintf(err, errlen,
					 "max.connections.per.ip.overrides: '%.*s' is not an address",
					 (int)(colon - b), b);
				return -1;
			}
			if (fn)
				fn(ctx, b, (size_t)(colon - b), v);
		}
		p += len;
		if (*p == ',')
			p++;
	}
	return 0;
}

struct ip_match {
	const char *ip;
	int64_t count; /* -1: not listed */
};

static void match_ip(void *ctx, const char *ip, size_t len, int64_t count)
{
	struct ip_match *m = ctx;

	if (strlen(m->ip) == len && memcmp(m->ip, ip, len) == 0)
		m->count = count; /* the last entry for an address wins */
}

int64_t tdm_limits_kafka_per_ip(const struct tdm_limits *l, const struct tdm_config *cfg,
				const char *ip)
{
	int64_t v;

	if (l && tdm_limits_lookup(l, TDM_LIMIT_KAFKA, "", TDM_KAFKA_PER_IP_OVERRIDES, &v)) {
		if (*ip && tdm_limits_lookup(l, TDM_LIMIT_KAFKA, ip, TDM_KAFKA_PER_IP, &v))
			return v;
	} else {
		struct ip_match m = { ip, -1 };
		char err[8];

		if (tdm_limits_parse_overrides(cfg->kafka_max_connections_per_ip_overrides, match_ip,
					       &m, err, sizeof(err)) == 0 &&
		    m.count >= 0)
			return m.count;
	}
	return tdm_limits_kafka(l, cfg, TDM_KAFKA_PER_IP);
}

/* The addresses holding run-time overrides, copied (strings owned). */
struct owner_list {
	char **v;
	size_t n;
	int nomem;
};

static void collect_ip(void *ctx, const char *owner, const char *field, int64_t value)
{
	struct owner_list *o = ctx;
	char **nv;

	(void)value;
	if (!*owner || strcmp(field, TDM_KAFKA_PER_IP) != 0 || o->nomem)
		return;
	nv = realloc(o->v, (o->n + 1) * sizeof(*nv));
	if (!nv || !(nv[o->n] = strdup(owner))) {
		if (nv)
			o->v = nv;
		o->nomem = 1;
		return;
	}
	o->v = nv;
	o->n++;
}

void tdm_limits_kafka_clear_overrides(struct tdm_limits *l,
				      void (*changed)(void *ctx, const char *owner,
						      const char *field),
				      void *ctx)
{
	struct owner_list o = { 0 };

	tdm_limits_foreach(l, TDM_LIMIT_KAFKA, NULL, collect_ip, &o);
	for (size_t i = 0; i < o.n; i++) {
		if (tdm_limits_clear(l, TDM_LIMIT_KAFKA, o.v[i], TDM_KAFKA_PER_IP) == 0 && changed)
			changed(ctx, o.v[i], TDM_KAFKA_PER_IP);
		free(o.v[i]);
	}
	free(o.v);
	if (tdm_limits_clear(l, TDM_LIMIT_KAFKA, "", TDM_KAFKA_PER_IP_OVERRIDES) == 0 && changed)
		changed(ctx, "", TDM_KAFKA_PER_IP_OVERRIDES);
}

struct set_ctx {
	struct tdm_limits *l;
	void (*changed)(void *ctx, const char *owner, const char *field);
	void *ctx;
	int64_t n;
	int nomem;
};

static void set_ip(void *ctx, const char *ip, size_t len, int64_t count)
{
	struct set_ctx *sc = ctx;
	char owner[64];

	snprintf(owner, sizeof(owner), "%.*s", (int)len, ip);
	if (tdm_limits_set(sc->l, TDM_LIMIT_KAFKA, owner, TDM_KAFKA_PER_IP, count) != 0) {
		sc->nomem = 1;
		return;
	}
	sc->n++;
	if (sc->changed)
		sc->changed(sc->ctx, owner, TDM_KAFKA_PER_IP);
}

int tdm_limits_kafka_set_overrides(struct tdm_limits *l, const char *s,
				   void (*changed)(void *ctx, const char *owner, const char *field),
				   void *ctx, char *err, size_t errlen)
{
	struct set_ctx sc = { l, changed, ctx, 0, 0 };

	if (tdm_limits_parse_overrides(s, NULL, NULL, err, errlen) < 0)
		return -2;
	tdm_limits_kafka_clear_overrides(l, changed, ctx);
	tdm_limits_parse_overrides(s, set_ip, &sc, err, errlen);
	/* the marker: the run-time overrides are in force (value: how many) */
	if (tdm_limits_set(l, TDM_LIMIT_KAFKA, "", TDM_KAFKA_PER_IP_OVERRIDES, sc.n) != 0)
		return -1;
	if (changed)
		changed(ctx, "", TDM_KAFKA_PER_IP_OVERRIDES);
	return sc.nomem ? -1 : 0;
}

void tdm_limits_kafka_refused(struct tdm_limits *l)
{
	l->kafka_refused++;
}

uint64_t tdm_limits_kafka_refused_count(const struct tdm_limits *l)
{
	return l->kafka_refused;
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
