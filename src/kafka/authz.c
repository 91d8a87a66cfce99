/*
 * Who a Kafka connection acts as, in which vhost, and what it may do
 * there: the one place where Kafka operations meet RabbitMQ's permission
 * model (core/auth.h: configure, write and read patterns per user and
 * vhost).  The handlers ask here; the table of what needs what is in
 * README "Security" (Kafka clients):
 *   - topics: configure to create, delete or grow one, write to produce,
 *     read to fetch, list offsets or commit and fetch group offsets on it;
 *     describing one (Metadata) takes any of the three, as Kafka's
 *     DESCRIBE is implied by READ, WRITE, ALTER and DELETE.  The resource
 *     name is the topic's name inside its vhost (a stream queue's topic:
 *     the queue's name), so one pattern covers a stream queue from AMQP
 *     and from Kafka;
 *   - consumer groups: read on the group id; each vhost has its own groups
 *     (kafka_vhost's by their ids, another vhost V's as "__" + esc(V) +
 *     "." + id in core).
 * Cluster-level actions take the administrator tag (Kafka's CLUSTER
 * resource), CLUSTER_AUTHORIZATION_FAILED (31) otherwise: a replica's
 * Fetch (replica_id >= 0); such a connection also reaches every topic by
 * its core name (all vhosts, internal ones) in Fetch and
 * OffsetForLeaderEpoch, as a follower must.
 * The trusted link (kf_authz_trusted: the cluster link's listener, after
 * the cluster's secret) is the broker itself: every check here allows it,
 * and it names topics by their core names, any vhost's (a stream queue's
 * topic: tdm_stream_topic_name of its vhost and name), group ids as core
 * keys them.  No other connection becomes trusted, whatever its user.
 * Refusals are Kafka's: TOPIC_AUTHORIZATION_FAILED (29) per topic,
 * GROUP_AUTHORIZATION_FAILED (30); the connection stays open (but for an
 * acks=0 Produce, which Kafka answers by closing).
 *
 * Who: the SASL user; without SASL, kafka_default_user when
 * kafka_allow_anonymous is on and that user may log in with
 * kafka_default_pass from the client's address (as RabbitMQ's MQTT plugin
 * does; loopback_users keeps guest to loopback clients).  Where:
 * kafka_vhost, or the vhost of a "vhost:user" SASL name.
 *
 * Must not depend on: src/amqp, src/http.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/broker.h"
#include "core/config.h"
#include "core/log.h"
#include "core/stream.h"
#include "kafka/kafka.h"
#include "kafka/kf.h"
#include "net/net.h"

static const char *cfg_vhost(const struct kf_server *srv)
{
	return srv->cfg && srv->cfg->kafka_vhost ? srv->cfg->kafka_vhost : "/";
}

const char *kf_authz_vhost(const struct kf_conn *kc)
{
	return kc->vhost ? kc->vhost : cfg_vhost(kc->srv);
}

int kf_authz_trusted(const struct kf_conn *kc)
{
	/* kc->user is set on that listener only by the secret's check (sasl.c) */
	return kc->security == TDM_KAFKA_CLUSTER && kc->user && kc->sasl_step == KF_SASL_STEP_DONE;
}

/* Decides once per connection whether it may act as the default user. */
static int anon_check(struct kf_conn *kc)
{
	const struct tdm_config *cfg = kc->srv->cfg;
	const char *u = cfg->kafka_default_user ? cfg->kafka_default_user : "";
	const char *pw = cfg->kafka_default_pass ? cfg->kafka_default_pass : "";
	const char *vh = cfg_vhost(kc->srv);
	const char *why = NULL;

	if (kc->security == TDM_KAFKA_CLUSTER)
		why = "the cluster link takes no anonymous client";
	else if (!cfg->kafka_allow_anonymous)
		why = "kafka_allow_anonymous is off";
	else if (!*u || !kc->srv->auth)
		why = "no kafka_default_user";
	else {
		switch (tdm_auth_check(kc->srv->auth, u, strlen(u), pw, strlen(pw),
				       kc->c->peer_loopback)) {
		case TDM_AUTH_OK:
			if (!tdm_auth_vhost_allowed(kc->srv->auth, u, vh, strlen(vh)))
				why = "kafka_default_user has no access to kafka_vhost";
			break;
		case TDM_AUTH_LOOPBACK_ONLY:
			why = "kafka_default_user may only connect from a loopback address";
			break;
		default:
			why = "kafka_default_user cannot log in with kafka_default_pass";
			break;
		}
	}
	if (why)
		tdm_info("kafka", "%s: anonymous client refused (%s): closing at its first request",
			 kc->c->peer, why);
	return why ? KF_ANON_REFUSED : KF_ANON_OK;
}

const char *kf_authz_user(struct kf_conn *kc)
{
	if (kc->user)
		return kc->user;
	if (kc->anon == KF_ANON_UNKNOWN)
		kc->anon = anon_check(kc);
	return kc->anon == KF_ANON_OK ? kc->srv->cfg->kafka_default_user : NULL;
}

int kf_authz_may_serve(struct kf_conn *kc, int16_t api_key)
{
	if (kc->user || api_key == KF_API_VERSIONS || api_key == KF_SASL_HANDSHAKE ||
	    api_key == KF_SASL_AUTHENTICATE)
		return 1;
	return kf_authz_user(kc) != NULL;
}

int kf_authz_sasl_name(struct kf_conn *kc, const char *name, size_t len, char *user_out, size_t cap)
{
	const char *colon = memchr(name, ':', len);

	free(kc->vhost);
	kc->vhost = NULL;
	if (len >= cap)
		return -1;
	memcpy(user_out, name, len);
	user_out[len] = '\0';
	/* A user whose name has a ':' is that user, as its name says. */
	if (!colon || colon == name || colon + 1 == name + len || !kc->srv->auth ||
	    tdm_auth_user_tags(kc->srv->auth, user_out))
		return 0;
	if (!(kc->vhost = strndup(name, (size_t)(colon - name))))
		return -1;
	len -= (size_t)(colon + 1 - name);
	memmove(user_out, colon + 1, len);
	user_out[len] = '\0';
	return 0;
}

int kf_authz_login(struct kf_conn *kc, const char *user, char *why, size_t whylen)
{
	const char *vh = kf_authz_vhost(kc);

	if (kc->vhost && (!kc->srv->broker || !tdm_vhost_find(kc->srv->broker, vh, strlen(vh)))) {
		snprintf(why, whylen, "Authentication failed: vhost '%s' does not exist", vh);
		return -1;
	}
	if (kc->srv->auth && tdm_auth_vhost_allowed(kc->srv->auth, user, vh, strlen(vh)))
		return 0;
	snprintf(why, whylen, "Authentication failed: user '%s' has no access to vhost '%s'", user,
		 vh);
	return -1;
}

int kf_authz_cluster(struct kf_conn *kc)
{
	if (kf_authz_trusted(kc))
		return 1;
	const char *user = kf_authz_user(kc);

	return kf_authz_tags_admin(user && kc->srv->auth ? tdm_auth_user_tags(kc->srv->auth, user)
							 : NULL);
}

int kf_authz_tags_admin(const char *tags)
{
	while (tags && *tags) {
		size_t n;

		while (*tags == ',' || *tags == ' ')
			tags++;
		n = strcspn(tags, ", ");
		if (n == strlen("administrator") && memcmp(tags, "administrator", n) == 0)
			return 1;
		tags += n;
	}
	return 0;
}

int kf_authz_idempotent_write(struct kf_conn *kc)
{
	struct tdm_perm_info pi;
	const char *user = kf_authz_user(kc), *vh = kf_authz_vhost(kc);

	if (kf_authz_cluster(kc))
		return 1;
	return user && kc->srv->auth &&
	       tdm_auth_get_permissions(kc->srv->auth, user, vh, strlen(vh), &pi) && pi.write &&
	       pi.write[0] != '\0';
}

int32_t kf_authz_cluster_ops(struct kf_conn *kc)
{
	int32_t ops = 1 << KF_OP_DESCRIBE;

	if (kf_authz_cluster(kc))
		ops |= 1 << KF_OP_CREATE | 1 << KF_OP_ALTER | 1 << KF_OP_DESCRIBE_CONFIGS |
		       1 << KF_OP_ALTER_CONFIGS;
	if (kf_authz_idempotent_write(kc))
		ops |= 1 << KF_OP_IDEMPOTENT_WRITE;
	return ops;
}

int32_t kf_authz_topic_ops(struct kf_conn *kc, const char *name)
{
	int32_t ops = 0;

	if (!kf_authz_topic_visible(kc, name, strlen(name)))
		return 0;
	ops |= 1 << KF_OP_DESCRIBE | 1 << KF_OP_DESCRIBE_CONFIGS;
	if (kf_authz_topic_ok(kc, TDM_PERM_READ, name))
		ops |= 1 << KF_OP_READ;
	if (kf_authz_topic_ok(kc, TDM_PERM_WRITE, name))
		ops |= 1 << KF_OP_WRITE;
	if (kf_authz_topic_ok(kc, TDM_PERM_CONFIGURE, name))
		ops |= 1 << KF_OP_CREATE | 1 << KF_OP_DELETE | 1 << KF_OP_ALTER |
		       1 << KF_OP_ALTER_CONFIGS;
	return ops;
}

/* The user's pattern p in vhost vh matches res[0..len). */
static int permitted(struct kf_conn *kc, const char *user, const char *vh, enum tdm_perm p,
		     const char *res, size_t len)
{
	return tdm_auth_permitted(kc->srv->auth, user, vh, p, res, len);
}

/* 1 with the topic's name in kc's vhost in out[0..*n) when name belongs
 * to that vhost and kc acts as someone (*user). */
static int topic_resource(struct kf_conn *kc, const char *name, size_t len, const char **user,
			  char *out, size_t cap, size_t *n)
{
	const char *vh = kf_authz_vhost(kc);
	int k;

	*user = kf_authz_user(kc);
	if (!*user || !kc->srv->auth || !tdm_topic_in_vhost(name, len, vh, strlen(vh)))
		return 0;
	k = tdm_topic_local_name(name, len, out, cap);
	if (k < 0)
		return 0;
	*n = (size_t)k;
	return 1;
}

int kf_authz_topic_ok(struct kf_conn *kc, enum tdm_perm p, const char *name)
{
	char res[TDM_TOPIC_NAME_MAX + 1];
	const char *user;
	size_t n;

	if (kf_authz_trusted(kc))
		return 1;
	if (!topic_resource(kc, name, strlen(name), &user, res, sizeof(res), &n))
		return 0;
	return permitted(kc, user, kf_authz_vhost(kc), p, res, n);
}

int16_t kf_authz_topic(struct kf_conn *kc, enum tdm_perm p, struct kf_str name)
{
	char buf[TDM_TOPIC_NAME_MAX + 1];

	/* A null or overlong name is no topic anyone has: lookups answer it. */
	if (kf_str_cstr(name, buf, sizeof(buf)) < 0)
		return KF_ERR_NONE;
	return kf_authz_topic_ok(kc, p, buf) ? KF_ERR_NONE : KF_ERR_TOPIC_AUTHORIZATION_FAILED;
}

int kf_authz_topic_visible(struct kf_conn *kc, const char *name, size_t len)
{
	char res[TDM_TOPIC_NAME_MAX + 1];
	const char *user, *vh = kf_authz_vhost(kc);
	size_t n;

	if (kf_authz_trusted(kc))
		return 1;
	if (!topic_resource(kc, name, len, &user, res, sizeof(res), &n))
		return 0;
	return permitted(kc, user, vh, TDM_PERM_READ, res, n) ||
	       permitted(kc, user, vh, TDM_PERM_WRITE, res, n) ||
	       permitted(kc, user, vh, TDM_PERM_CONFIGURE, res, n);
}

/* The prefix of vhost vh's group ids in core ("__" + esc(vh) + ".", the
 * stream-topic escape of vh): its length, written to out. */
static size_t group_prefix(const char *vh, char out[TDM_TOPIC_NAME_MAX + 1])
{
	/* "" is never a legal topic name: always the escaped form */
	return tdm_stream_topic_name(vh, strlen(vh), "", 0, out);
}

/* 1 when core group id g (len bytes) is another vhost's than
 * kafka_vhost's: "__" + esc(V) + "." + anything, V not kafka_vhost. */
static int group_of_other_vhost(const struct kf_server *srv, const char *g, size_t len)
{
	char v[TDM_TOPIC_NAME_MAX];
	const char *kv = cfg_vhost(srv);
	int n;

	if (len < 2 || g[0] != '_' || g[1] != '_')
		return 0;
	n = tdm_topic_vhost(g, len, v, sizeof(v));
	return n >= 0 && !((size_t)n == strlen(kv) && memcmp(v, kv, (size_t)n) == 0);
}

/* read on group id[0..n) for kc's user in kc's vhost (a NUL-terminated
 * copy: the id is a slice of the request frame). */
static int group_permitted(struct kf_conn *kc, const char *user, enum tdm_perm p, const char *id,
			   size_t n)
{
	char buf[512], *name = n < sizeof(buf) ? buf : malloc(n + 1);
	int ok;

	if (!name)
		return 0;
	if (n)
		memcpy(name, id, n);
	name[n] = '\0';
	ok = permitted(kc, user, kf_authz_vhost(kc), p, name, n);
	if (name != buf)
		free(name);
	return ok;
}

int16_t kf_authz_group(struct kf_conn *kc, struct kf_str *id)
{
	return kf_authz_group_as(kc, TDM_PERM_READ, id);
}

int16_t kf_authz_group_as(struct kf_conn *kc, enum tdm_perm p, struct kf_str *id)
{
	const char *user = kf_authz_user(kc), *vh = kf_authz_vhost(kc);
	size_t n = id->len > 0 ? (size_t)id->len : 0, k;
	char pre[TDM_TOPIC_NAME_MAX + 1];
	char *g;

	if (kf_authz_trusted(kc))
		return KF_ERR_NONE; /* the id as core keys it */
	if (!user || !kc->srv->auth || !group_permitted(kc, user, p, n ? id->p : "", n))
		return KF_ERR_GROUP_AUTHORIZATION_FAILED;
	if (strcmp(vh, cfg_vhost(kc->srv)) == 0)
		/* kafka_vhost's own ids, but never the form of another vhost's */
		return group_of_other_vhost(kc->srv, n ? id->p : "", n)
			       ? KF_ERR_GROUP_AUTHORIZATION_FAILED
			       : KF_ERR_NONE;
	if (id->len <= 0)
		return KF_ERR_NONE; /* null or empty: INVALID_GROUP_ID follows */
	k = group_prefix(vh, pre);
	if (!(g = kf_arena_alloc(&kc->arena, k + n)))
		return KF_ERR_GROUP_AUTHORIZATION_FAILED;
	memcpy(g, pre, k);
	memcpy(g + k, id->p, n);
	id->p = g;
	id->len = (int32_t)(k + n);
	return KF_ERR_NONE;
}

const char *kf_authz_group_listed(struct kf_conn *kc, const char *g)
{
	const char *user = kf_authz_user(kc), *vh = kf_authz_vhost(kc), *id = g;
	char pre[TDM_TOPIC_NAME_MAX + 1];

	if (kf_authz_trusted(kc))
		return g;
	if (!user || !kc->srv->auth)
		return NULL;
	if (strcmp(vh, cfg_vhost(kc->srv)) == 0) {
		if (group_of_other_vhost(kc->srv, g, strlen(g)))
			return NULL;
	} else {
		size_t k = group_prefix(vh, pre);

		if (strncmp(g, pre, k) != 0)
			return NULL;
		id = g + k;
	}
	return group_permitted(kc, user, TDM_PERM_READ, id, strlen(id)) ? id : NULL;
}
