/*
 * Kafka ACL bindings as views of RabbitMQ permissions (kafka/acls.c
 * states the mapping): the bindings a user's configure, write and read
 * patterns on a vhost stand for, Kafka's filter matching over them, and
 * granting or revoking one binding as adding or removing one alternative
 * of the patterns (core/perm_alts.h), persisted as the management API
 * does (core/durable.h: the user's record, proposed to a cluster's
 * definitions log; acl_wait.c waits for it).
 *
 * Must not depend on: src/amqp, src/http.
 */
#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/broker.h"
#include "core/durable.h"
#include "core/perm_alts.h"
#include "kafka/acls_internal.h"

/* The three patterns as bits. */
enum {
	P_CONF = 1 << TDM_PERM_CONFIGURE,
	P_WRITE = 1 << TDM_PERM_WRITE,
	P_READ = 1 << TDM_PERM_READ
};

void kf_acl_list_free(struct kf_acl_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->v[i].name);
		free(l->v[i].user);
	}
	free(l->v);
	memset(l, 0, sizeof(*l));
}

/* Appends a binding (copies name and user) unless it is there already.
 * 0 or -1 (no memory). */
static int list_add(struct kf_acl_list *l, int8_t rtype, int8_t ptype, int8_t op, const char *name,
		    const char *user)
{
	struct kf_acl_entry *e;

	for (size_t i = 0; i < l->n; i++) {
		e = &l->v[i];
		if (e->rtype == rtype && e->ptype == ptype && e->op == op &&
		    strcmp(e->name, name) == 0 && strcmp(e->user, user) == 0)
			return 0;
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct kf_acl_entry *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -1;
		l->v = v;
		l->cap = cap;
	}
	e = &l->v[l->n];
	e->rtype = rtype;
	e->ptype = ptype;
	e->op = op;
	e->name = strdup(name);
	e->user = strdup(user);
	if (!e->name || !e->user) {
		free(e->name);
		free(e->user);
		return -1;
	}
	l->n++;
	return 0;
}

/* ---- a user's patterns as bindings --------------------------------------------- */

/* One representable alternative of a user's patterns, and the patterns
 * (P_* bits) it is in. */
struct alt_item {
	enum tdm_alt_kind kind;
	char *name; /* owned */
	int in;
};
/* The representable alternatives of one user's three patterns, each once. */
struct alt_set {
	struct alt_item *v; /* owned */
	size_t n, cap;
	int bit; /* the pattern being walked */
	int err;
};

/* The item of s that means (k, name), or NULL. */
static struct alt_item *alt_find(struct alt_set *s, enum tdm_alt_kind k, const char *name)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].kind == k && strcmp(s->v[i].name, name) == 0)
			return &s->v[i];
	return NULL;
}

/* Appends (k, name) for the pattern being walked, taking name.  0 or -1. */
static int alt_append(struct alt_set *s, enum tdm_alt_kind k, char *name)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? 2 * s->cap : 8;
		struct alt_item *v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = (struct alt_item){ k, name, s->bit };
	return 0;
}

/* One alternative of the pattern being walked (tdm_alt_fn). */
static int alt_seen(const char *alt, size_t len, void *ctx)
{
	struct alt_set *s = ctx;
	char *name = malloc(len + 1);
	enum tdm_alt_kind k;
	struct alt_item *it;

	if (!name)
		return s->err = 1;
	k = tdm_perm_alt_parse(alt, len, name);
	it = k == TDM_ALT_OTHER ? NULL : alt_find(s, k, name);
	if (it)
		it->in |= s->bit;
	if (k == TDM_ALT_OTHER || it) {
		free(name);
		return 0;
	}
	if (alt_append(s, k, name) < 0) {
		free(name);
		return s->err = 1;
	}
	return 0;
}

static void alt_set_free(struct alt_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i].name);
	free(s->v);
}

/* The bindings one alternative stands for, by the patterns it is in. */
static int alt_bindings(struct kf_acl_list *l, const char *user, enum tdm_alt_kind kind,
			const char *name, int in)
{
	int8_t pt = kind == TDM_ALT_PREFIX ? KF_ACL_PATTERN_PREFIXED : KF_ACL_PATTERN_LITERAL;
	const char *n = kind == TDM_ALT_ANY ? "*" : name;
	static const int8_t conf_ops[] = { KF_OP_CREATE, KF_OP_DELETE, KF_OP_ALTER,
					   KF_OP_ALTER_CONFIGS };
	int rc = 0;

	if (in == (P_CONF | P_WRITE | P_READ)) {
		rc |= list_add(l, KF_ACL_RES_TOPIC, pt, KF_OP_ALL, n, user);
	} else {
		if (in & P_READ)
			rc |= list_add(l, KF_ACL_RES_TOPIC, pt, KF_OP_READ, n, user);
		if (in & P_WRITE)
			rc |= list_add(l, KF_ACL_RES_TOPIC, pt, KF_OP_WRITE, n, user);
		for (size_t i = 0; (in & P_CONF) && i < sizeof(conf_ops); i++)
			rc |= list_add(l, KF_ACL_RES_TOPIC, pt, conf_ops[i], n, user);
	}
	if ((in & (P_READ | P_CONF)) == (P_READ | P_CONF))
		rc |= list_add(l, KF_ACL_RES_GROUP, pt, KF_OP_ALL, n, user);
	else if (in & P_READ)
		rc |= list_add(l, KF_ACL_RES_GROUP, pt, KF_OP_READ, n, user);
	else if (in & P_CONF)
		rc |= list_add(l, KF_ACL_RES_GROUP, pt, KF_OP_DELETE, n, user);
	return rc;
}

int kf_acl_user_bindings(const struct tdm_auth *a, const char *user, const char *tags,
			 const char *vhost, struct kf_acl_list *l)
{
	struct tdm_perm_info pi;
	struct alt_set s = { 0 };
	int rc = 0;

	if (tdm_auth_get_permissions(a, user, vhost, strlen(vhost), &pi)) {
		const char *pat[3] = { pi.configure, pi.write, pi.read };

		for (int p = 0; p < 3; p++) {
			s.bit = 1 << p;
			tdm_perm_alts(pat[p] ? pat[p] : "", alt_seen, &s);
		}
	}
	rc = s.err ? -1 : 0;
	for (size_t i = 0; i < s.n && rc == 0; i++)
		rc = alt_bindings(l, user, s.v[i].kind, s.v[i].name, s.v[i].in);
	if (rc == 0 && kf_authz_tags_admin(tags))
		rc = list_add(l, KF_ACL_RES_CLUSTER, KF_ACL_PATTERN_LITERAL, KF_OP_ALL,
			      KF_ACL_CLUSTER_NAME, user);
	alt_set_free(&s);
	return rc;
}

/* ---- Kafka's filter matching ---------------------------------------------------- */

/* 1 when filter string f (null: any) is s. */
static int str_matches(struct kf_str f, const char *s)
{
	return f.len < 0 || kf_str_eq(f, s);
}

/* Kafka's ResourcePatternFilter: by type, then by name and pattern type
 * (MATCH: the literal name, the wildcard and every prefix of it). */
static int resource_matches(const struct kf_acl *f, const struct kf_acl_entry *e)
{
	size_t n;

	if (f->resource_type != KF_ACL_RES_ANY && f->resource_type != e->rtype)
		return 0;
	if (f->pattern_type != KF_ACL_PATTERN_ANY && f->pattern_type != KF_ACL_PATTERN_MATCH)
		return f->pattern_type == e->ptype && str_matches(f->name, e->name);
	if (f->name.len < 0)
		return 1;
	if (f->pattern_type == KF_ACL_PATTERN_ANY)
		return kf_str_eq(f->name, e->name);
	if (e->ptype == KF_ACL_PATTERN_LITERAL)
		return kf_str_eq(f->name, e->name) || strcmp(e->name, "*") == 0;
	n = strlen(e->name);
	return e->ptype == KF_ACL_PATTERN_PREFIXED && (size_t)f->name.len >= n &&
	       memcmp(f->name.p, e->name, n) == 0;
}

int kf_acl_matches(const struct kf_acl *f, const struct kf_acl_entry *e)
{
	size_t ul = strlen(e->user);

	if (!resource_matches(f, e))
		return 0;
	if (f->principal.len >= 0 &&
	    !((size_t)f->principal.len == 5 + ul && memcmp(f->principal.p, "User:", 5) == 0 &&
	      memcmp(f->principal.p + 5, e->user, ul) == 0))
		return 0;
	if (!str_matches(f->host, "*"))
		return 0;
	if (f->operation != KF_OP_ANY && f->operation != e->op)
		return 0;
	return f->permission_type == KF_ACL_PERM_ANY || f->permission_type == KF_ACL_PERM_ALLOW;
}

/* ---- granting and revoking -------------------------------------------------------- */

int kf_acl_op_patterns(int8_t rtype, int8_t op, const char **why)
{
	*why = NULL;
	if (rtype == KF_ACL_RES_TOPIC) {
		switch (op) {
		case KF_OP_ALL:
			return P_CONF | P_WRITE | P_READ;
		case KF_OP_READ:
			return P_READ;
		case KF_OP_WRITE:
			return P_WRITE;
		case KF_OP_CREATE:
		case KF_OP_DELETE:
		case KF_OP_ALTER:
		case KF_OP_ALTER_CONFIGS:
			return P_CONF;
		case KF_OP_DESCRIBE:
		case KF_OP_DESCRIBE_CONFIGS:
			*why = "tandem has no describe-only permission: DESCRIBE and "
			       "DESCRIBE_CONFIGS on a topic come with any of READ, WRITE and "
			       "CREATE/DELETE/ALTER (RabbitMQ's read, write, configure)";
			return 0;
		}
	} else if (rtype == KF_ACL_RES_GROUP) {
		switch (op) {
		case KF_OP_ALL:
			return P_READ | P_CONF;
		case KF_OP_READ:
			return P_READ;
		case KF_OP_DELETE:
			return P_CONF;
		case KF_OP_DESCRIBE:
			*why = "DESCRIBE on a group comes with READ in tandem (RabbitMQ's read "
			       "permission on the group id)";
			return 0;
		}
	} else if (rtype == KF_ACL_RES_CLUSTER) {
		*why = "the CLUSTER resource is tandem's administrator tag: set it with "
		       "tandemctl or the management API";
		return 0;
	} else {
		*why = "tandem maps only TOPIC and GROUP resources onto its RabbitMQ permissions";
		return 0;
	}
	*why = "this operation has no RabbitMQ permission in tandem (TOPIC: ALL, READ, WRITE, "
	       "CREATE, DELETE, ALTER, ALTER_CONFIGS; GROUP: ALL, READ, DELETE)";
	return 0;
}

/* The new pattern: old with alternative (kind, name) added or removed. */
static char *edit(const char *old, int add, enum tdm_alt_kind kind, const char *name,
		  size_t *changed)
{
	char *alt, *out;
	size_t removed = 0;

	if (!add) {
		out = tdm_perm_alt_remove(old, kind, name, &removed);
		*changed += removed;
		return out;
	}
	if (!(alt = tdm_perm_alt_make(kind, name, strlen(name))))
		return NULL;
	out = tdm_perm_alt_add(old, alt);
	free(alt);
	if (out && strcmp(out, old) != 0)
		(*changed)++;
	return out;
}

int kf_acl_change(struct kf_server *srv, const char *vhost, const char *user, int patterns,
		  int8_t ptype, const char *name, int add, char *err, size_t errlen)
{
	struct tdm_perm_info pi;
	enum tdm_alt_kind kind = ptype == KF_ACL_PATTERN_PREFIXED ? TDM_ALT_PREFIX
				 : strcmp(name, "*") == 0         ? TDM_ALT_ANY
								  : TDM_ALT_LITERAL;
	const char *old[3] = { "", "", "" };
	char *pat[3] = { NULL, NULL, NULL };
	size_t changed = 0;
	int rc = 0;

	if (tdm_auth_get_permissions(srv->auth, user, vhost, strlen(vhost), &pi)) {
		old[0] = pi.configure ? pi.configure : "";
		old[1] = pi.write ? pi.write : "";
		old[2] = pi.read ? pi.read : "";
	}
	for (int p = 0; p < 3 && rc == 0; p++) {
		pat[p] = patterns & (1 << p) ? edit(old[p], add, kind, name, &changed)
					     : strdup(old[p]);
		rc = pat[p] ? 0 : -1;
	}
	if (rc == 0 && changed) {
		rc = tdm_auth_set_permissions(srv->auth, user, vhost, pat[0], pat[1], pat[2], err,
					      errlen);
		if (rc == 0 && srv->broker && tdm_durable_user(srv->broker->durable, user) < 0)
			rc = -1;
	}
	for (int p = 0; p < 3; p++)
		free(pat[p]);
	return rc;
}
