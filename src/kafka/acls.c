/*
 * DescribeAcls (29), CreateAcls (30) and DeleteAcls (31), v0-3 each (v1
 * the pattern type, v2+ flexible, v3 the USER resource type): Kafka's ACL
 * admin APIs (KIP-140) as views of and edits to tandem's RabbitMQ
 * permissions (core/auth.h; the model is acl_bindings.c), in the
 * connection's vhost (kf_authz_vhost).  README "Security" has the table.
 *
 * A binding is ALLOW, host "*", principal "User:<name>" of an existing
 * tandem user.  Its resource pattern is one alternative of the user's
 * patterns (core/perm_alts.h): LITERAL N is "^N$", PREFIXED N is "^N"
 * (N escaped), LITERAL "*" is ".*".  Operations:
 *   TOPIC  READ -> read, WRITE -> write, CREATE, DELETE, ALTER and
 *          ALTER_CONFIGS -> configure, ALL -> all three;
 *   GROUP  READ -> read (what every group API checks), DELETE ->
 *          configure (DeleteGroups'), ALL -> read and configure;
 *   CLUSTER: the administrator tag, reported (ALL on "kafka-cluster"),
 *          never changed here (tandemctl, the management API).
 * Lossy, as two models meet: topics and groups share the read and
 * configure patterns, so a GROUP READ binding shows as TOPIC READ too and
 * deleting either removes both; configure is reported as the four topic
 * operations it grants (and GROUP DELETE), and deleting one removes them
 * all; an alternative in all three patterns is one TOPIC ALL (and GROUP
 * ALL).  An alternative of any other form (a regex such as "^logs-.*$")
 * is no binding: DescribeAcls leaves it out, DeleteAcls never touches it.
 * Refused per binding with INVALID_REQUEST (42) and a message saying why
 * (Kafka answers a binding its authorizer cannot take with
 * InvalidRequestException): DENY (RabbitMQ's permissions only allow),
 * a host other than "*", a principal that is no tandem user, DESCRIBE
 * (tandem grants it with any of the others), other resource types and
 * operations.  CreateAcls grants access to the vhost when the user had
 * none (an entry "" "" "" plus the alternative).
 *
 * Authorization as Kafka's: DESCRIBE (DescribeAcls) or ALTER
 * (Create/DeleteAcls) on the CLUSTER, i.e. the administrator tag, else
 * CLUSTER_AUTHORIZATION_FAILED (31).  tandem always enforces permissions
 * (an anonymous client acts as kafka_default_user), so the APIs are
 * served whatever the listener's security; SECURITY_DISABLED (54) only
 * when the broker has no users at all.  A change is persisted and shared
 * with a cluster as PUT /api/permissions does (the user's record, the
 * definitions log), and the answer waits, as that PUT's, until this node
 * applied the change from the log (acl_wait.c).
 *
 * Must not depend on: src/amqp, src/http.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/broker.h"
#include "kafka/acls_internal.h"

struct collect {
	const struct tdm_auth *a;
	const char *vhost;
	struct kf_acl_list *l;
	int err;
};

static void collect_user(const struct tdm_user_info *u, void *ctx)
{
	struct collect *c = ctx;

	if (!c->err && kf_acl_user_bindings(c->a, u->name, u->tags, c->vhost, c->l) < 0)
		c->err = 1;
}

/* Every user's bindings in kc's vhost.  0 or -1 (no memory). */
static int collect_all(struct kf_conn *kc, struct kf_acl_list *l)
{
	struct collect c = { kc->srv->auth, kf_authz_vhost(kc), l, 0 };

	tdm_auth_foreach_user(kc->srv->auth, collect_user, &c);
	return c.err ? -1 : 0;
}

/* NULL when filter f holds no UNKNOWN (or undefined) value, else why. */
static const char *filter_invalid(const struct kf_acl *f)
{
	if (f->resource_type < KF_ACL_RES_ANY || f->resource_type > KF_ACL_RES_USER)
		return "the filter's resource type is unknown";
	if (f->pattern_type < KF_ACL_PATTERN_ANY || f->pattern_type > KF_ACL_PATTERN_PREFIXED)
		return "the filter's pattern type is unknown";
	if (f->operation < KF_OP_ANY || f->operation > 14)
		return "the filter's operation is unknown";
	if (f->permission_type < KF_ACL_PERM_ANY || f->permission_type > KF_ACL_PERM_ALLOW)
		return "the filter's permission type is unknown";
	return NULL;
}

/* The error for a request of kc before any binding is looked at:
 * KF_ERR_NONE, SECURITY_DISABLED (no users) or
 * CLUSTER_AUTHORIZATION_FAILED (not an administrator). */
static int16_t caller_error(struct kf_conn *kc)
{
	if (!kc->srv->auth)
		return KF_ERR_SECURITY_DISABLED;
	return kf_authz_cluster(kc) ? KF_ERR_NONE : KF_ERR_CLUSTER_AUTHORIZATION_FAILED;
}

/* ---- DescribeAcls ------------------------------------------------------------------- */

static int by_resource(const void *x, const void *y)
{
	const struct kf_acl_entry *a = x, *b = y;
	int c;

	if (a->rtype != b->rtype)
		return a->rtype - b->rtype;
	if (a->ptype != b->ptype)
		return a->ptype - b->ptype;
	if ((c = strcmp(a->name, b->name)) != 0)
		return c;
	if ((c = strcmp(a->user, b->user)) != 0)
		return c;
	return a->op - b->op;
}

/* One binding's principal, host, operation and permission. */
static void put_acl_description(struct evbuffer *b, int flex, const struct kf_acl_entry *e)
{
	char principal[512];

	snprintf(principal, sizeof(principal), "User:%s", e->user);
	kf_put_fstr(b, flex, principal);
	kf_put_fstr(b, flex, "*");
	kf_put_i8(b, e->op);
	kf_put_i8(b, KF_ACL_PERM_ALLOW);
	kf_put_tags(b, flex);
}

/* 1 when bindings a and b are on the same resource pattern. */
static int same_resource(const struct kf_acl_entry *a, const struct kf_acl_entry *b)
{
	return a->rtype == b->rtype && a->ptype == b->ptype && strcmp(a->name, b->name) == 0;
}

/* The bindings of l (sorted), grouped by resource pattern. */
static void put_resources(struct evbuffer *b, int ver, int flex, const struct kf_acl_list *l)
{
	int32_t nres = 0;

	for (size_t i = 0; i < l->n; i++)
		nres += i == 0 || !same_resource(&l->v[i - 1], &l->v[i]);
	kf_put_farray(b, flex, nres);
	for (size_t i = 0, j; i < l->n; i = j) {
		const struct kf_acl_entry *r = &l->v[i];

		for (j = i + 1; j < l->n && same_resource(&l->v[j], r); j++)
			;
		kf_put_i8(b, r->rtype);
		kf_put_fstr(b, flex, r->name);
		if (ver >= 1)
			kf_put_i8(b, r->ptype);
		kf_put_farray(b, flex, (int32_t)(j - i));
		for (size_t k = i; k < j; k++)
			put_acl_description(b, flex, &l->v[k]);
		kf_put_tags(b, flex);
	}
}

/* Keeps in l only the bindings that pass f. */
static void keep_matching(struct kf_acl_list *l, const struct kf_acl *f)
{
	size_t k = 0;

	for (size_t i = 0; i < l->n; i++) {
		if (kf_acl_matches(f, &l->v[i])) {
			l->v[k++] = l->v[i];
			continue;
		}
		free(l->v[i].name);
		free(l->v[i].user);
	}
	l->n = k;
}

int kf_h_describe_acls(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int ver = kc->hdr.api_version, flex = kf_flex(kc);
	struct kf_acl_list l = { 0 };
	const char *why = NULL;
	struct kf_acl f;
	int16_t err;

	if (kf_decode_describe_acls(cur, ver, &f) < 0)
		return KF_R_CLOSE;
	err = caller_error(kc);
	if (!err && (why = filter_invalid(&f)))
		err = KF_ERR_INVALID_REQUEST;
	if (!err && collect_all(kc, &l) < 0)
		err = KF_ERR_UNKNOWN_SERVER_ERROR;
	if (!err) {
		keep_matching(&l, &f);
		qsort(l.v, l.n, sizeof(*l.v), by_resource);
	}
	kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_i16(resp, err);
	kf_put_fstr(resp, flex, why);
	put_resources(resp, ver, flex, &l);
	kf_put_tags(resp, flex);
	kf_acl_list_free(&l);
	return KF_R_DONE;
}

/* ---- CreateAcls --------------------------------------------------------------------- */

/* The user a principal "User:<name>" names, copied to user (cap bytes);
 * NULL with msg set when it is not one of tandem's users. */
static const char *principal_user(struct kf_conn *kc, struct kf_str p, char *user, size_t cap,
				  char *msg, size_t msglen)
{
	if (p.len < 5 || memcmp(p.p, "User:", 5) != 0 ||
	    kf_str_cstr((struct kf_str){ p.p + 5, p.len - 5 }, user, cap) < 0) {
		snprintf(msg, msglen, "the principal must be User:<a tandem user>, not '%.*s'",
			 p.len > 200 ? 200
			 : p.len < 0 ? 0
				     : (int)p.len,
			 p.p ? p.p : "");
		return NULL;
	}
	if (!tdm_auth_user_tags(kc->srv->auth, user)) {
		snprintf(msg, msglen, "there is no tandem user '%s' (principal %.*s)", user,
			 p.len > 200 ? 200 : (int)p.len, p.p);
		return NULL;
	}
	return user;
}

/* What refuses creation b before its user is looked at, or NULL. */
static const char *creation_invalid(const struct kf_acl *b, int *patterns)
{
	const char *why;

	if (b->permission_type == KF_ACL_PERM_DENY)
		return "tandem's RabbitMQ permissions cannot deny: only ALLOW bindings exist";
	if (b->permission_type != KF_ACL_PERM_ALLOW)
		return "the permission type must be ALLOW";
	if (!kf_str_eq(b->host, "*"))
		return "tandem's permissions hold for every host: the host must be '*'";
	if (b->pattern_type != KF_ACL_PATTERN_LITERAL && b->pattern_type != KF_ACL_PATTERN_PREFIXED)
		return "the pattern type must be LITERAL or PREFIXED";
	if (b->name.len <= 0 || memchr(b->name.p, '\0', (size_t)b->name.len))
		return "the resource name must be a non-empty string";
	*patterns = kf_acl_op_patterns(b->resource_type, b->operation, &why);
	return *patterns ? NULL : why;
}

/* Creates binding b; its error, msg set on failure. */
static int16_t create_one(struct kf_conn *kc, const struct kf_acl *b, char *msg, size_t msglen)
{
	char user[256], name[512], why[256] = "";
	const char *bad, *vh = kf_authz_vhost(kc);
	int patterns = 0;

	if ((bad = creation_invalid(b, &patterns))) {
		snprintf(msg, msglen, "%s", bad);
		return KF_ERR_INVALID_REQUEST;
	}
	if (!principal_user(kc, b->principal, user, sizeof(user), msg, msglen))
		return KF_ERR_INVALID_REQUEST;
	if (kf_str_cstr(b->name, name, sizeof(name)) < 0) {
		snprintf(msg, msglen, "the resource name is too long");
		return KF_ERR_INVALID_REQUEST;
	}
	if (!kc->srv->broker || !tdm_vhost_find(kc->srv->broker, vh, strlen(vh))) {
		snprintf(msg, msglen, "vhost '%s' does not exist", vh);
		return KF_ERR_INVALID_REQUEST;
	}
	if (kf_acl_change(kc->srv, vh, user, patterns, b->pattern_type, name, 1, why, sizeof(why)) <
	    0) {
		snprintf(msg, msglen, "%s", *why ? why : "could not store the permission");
		return KF_ERR_UNKNOWN_SERVER_ERROR;
	}
	return KF_ERR_NONE;
}

int kf_h_create_acls(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int flex = kf_flex(kc);
	struct kf_acls_req r;
	int16_t denied;

	if (kf_decode_create_acls(cur, kc->hdr.api_version, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	denied = caller_error(kc);
	kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_farray(resp, flex, r.n);
	for (int32_t i = 0; i < r.n; i++) {
		char msg[512] = "";
		int16_t err = denied ? denied : create_one(kc, &r.acls[i], msg, sizeof(msg));

		kf_put_i16(resp, err);
		kf_put_fstr(resp, flex, *msg ? msg : NULL);
		kf_put_tags(resp, flex);
	}
	kf_put_tags(resp, flex);
	return kf_acl_answer(kc); /* resp is kc->resp */
}

/* ---- DeleteAcls --------------------------------------------------------------------- */

/* Deletes binding e (a match of a filter); its error, msg set on failure. */
static int16_t delete_one(struct kf_conn *kc, const struct kf_acl_entry *e, char *msg,
			  size_t msglen)
{
	const char *why;
	char err[256] = "";
	int patterns = kf_acl_op_patterns(e->rtype, e->op, &why);

	if (!patterns) {
		snprintf(msg, msglen, "%s", why);
		return KF_ERR_INVALID_REQUEST;
	}
	if (kf_acl_change(kc->srv, kf_authz_vhost(kc), e->user, patterns, e->ptype, e->name, 0, err,
			  sizeof(err)) < 0) {
		snprintf(msg, msglen, "%s", *err ? err : "could not store the permission");
		return KF_ERR_UNKNOWN_SERVER_ERROR;
	}
	return KF_ERR_NONE;
}

/* One matching binding of a DeleteAcls answer. */
static void put_matching(struct evbuffer *b, int ver, int flex, const struct kf_acl_entry *e,
			 int16_t err, const char *msg)
{
	char principal[512];

	snprintf(principal, sizeof(principal), "User:%s", e->user);
	kf_put_i16(b, err);
	kf_put_fstr(b, flex, err ? msg : NULL);
	kf_put_i8(b, e->rtype);
	kf_put_fstr(b, flex, e->name);
	if (ver >= 1)
		kf_put_i8(b, e->ptype);
	kf_put_fstr(b, flex, principal);
	kf_put_fstr(b, flex, "*");
	kf_put_i8(b, e->op);
	kf_put_i8(b, KF_ACL_PERM_ALLOW);
	kf_put_tags(b, flex);
}

/* One filter's result: the bindings it matched, each deleted or why not. */
static void delete_filter(struct kf_conn *kc, struct evbuffer *b, const struct kf_acl *f,
			  int16_t denied)
{
	int ver = kc->hdr.api_version, flex = kf_flex(kc);
	struct kf_acl_list l = { 0 };
	const char *why = NULL;
	int16_t err = denied;

	if (!err && (why = filter_invalid(f)))
		err = KF_ERR_INVALID_REQUEST;
	if (!err && collect_all(kc, &l) < 0)
		err = KF_ERR_UNKNOWN_SERVER_ERROR;
	if (!err)
		keep_matching(&l, f);
	kf_put_i16(b, err);
	kf_put_fstr(b, flex, why);
	kf_put_farray(b, flex, err ? 0 : (int32_t)l.n);
	for (size_t i = 0; !err && i < l.n; i++) {
		char msg[512] = "";
		int16_t e = delete_one(kc, &l.v[i], msg, sizeof(msg));

		put_matching(b, ver, flex, &l.v[i], e, msg);
	}
	kf_put_tags(b, flex);
	kf_acl_list_free(&l);
}

int kf_h_delete_acls(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int flex = kf_flex(kc);
	struct kf_acls_req r;
	int16_t denied;

	if (kf_decode_delete_acls(cur, kc->hdr.api_version, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	denied = caller_error(kc);
	kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_farray(resp, flex, r.n);
	for (int32_t i = 0; i < r.n; i++)
		delete_filter(kc, resp, &r.acls[i], denied);
	kf_put_tags(resp, flex);
	return kf_acl_answer(kc); /* resp is kc->resp */
}
