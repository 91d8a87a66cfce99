/*
 * Metadata v0-12.  A single node is the one broker, the controller and the
 * leader of every partition; in a cluster the brokers are the live nodes
 * (v1+: each with its rack, broker_rack as it registered it, null for
 * none) and each partition's leader, replicas and ISR come from the replica
 * manager (core/replica.h), as ZooKeeper holds them.  Unknown topics are created when
 * auto_create_topics is on, the client allows it (v4 flag) and the user
 * may configure the name (never for the cluster link, which names topics
 * that exist: a stream queue's is made by its declaration); internal topics (the group offsets log) are not
 * shown, nor topics the user has no permission on (authz.c: Kafka's
 * DESCRIBE), which named get TOPIC_AUTHORIZATION_FAILED.
 *
 * Versions: v5 offline replicas (a replica whose node is not live), v7
 * the leader epoch (0 on a single node: its leader never changes), v8
 * authorized operations per topic (and for the cluster, v8-10) when asked,
 * v9 flexible, v10 topic ids (a cluster topic's, made by the controller;
 * a single node's topics have none yet: the zero uuid, which clients take
 * as "no id"), v12 topics asked by id (UNKNOWN_TOPIC_ID, 100, when none
 * has it; v10-11 ignore the id and refuse a null name with INVALID_REQUEST,
 * as Kafka).
 *
 * Must not depend on: src/amqp.
 */
#include "core/config.h"
#include "core/log.h"
#include "kafka/kf.h"
#include "util/b64.h"

int kf_topic_uuid(const struct ls_topic *t, uint8_t out[16])
{
	const char *id = t ? tdm_topic_id(t) : "";
	uint8_t buf[18];

	memset(out, 0, 16);
	if (strlen(id) != 22 || tu_b64url_decode(id, 22, buf) != 16)
		return 0;
	memcpy(out, buf, 16);
	return 1;
}

struct by_id {
	const uint8_t *want;
	struct ls_topic *found;
};

static void match_id(struct ls_topic *t, void *arg)
{
	struct by_id *b = arg;
	uint8_t id[16];

	if (!b->found && kf_topic_uuid(t, id) && memcmp(id, b->want, 16) == 0)
		b->found = t;
}

struct ls_topic *kf_topic_by_uuid(struct kf_conn *kc, const uint8_t id[16])
{
	static const uint8_t zero[16];
	struct by_id b = { id, NULL };

	if (memcmp(id, zero, 16) == 0)
		return NULL;
	tdm_topics_foreach(kc->srv->topics, match_id, &b);
	return b.found;
}

/* An int32 array: compact when flex. */
static void put_ids(struct evbuffer *b, int flex, const int32_t *v, size_t n)
{
	kf_put_farray(b, flex, (int32_t)n);
	for (size_t i = 0; i < n; i++)
		kf_put_i32(b, v[i]);
}

static int is_live(const struct tdm_replica *rep, int32_t id)
{
	const struct tdm_replica_node *nodes;
	size_t n = tdm_replica_nodes(rep, &nodes);

	for (size_t i = 0; i < n; i++)
		if (nodes[i].id == id)
			return 1;
	return 0;
}

/* One partition's [error, index, leader, (epoch: v7), replicas, isr,
 * (offline: v5), (tags: flex)]; a cluster topic's from the replica
 * manager (LEADER_NOT_AVAILABLE and no replicas while none is known yet). */
static void put_partition(struct evbuffer *b, const struct tdm_replica *rep, int ver, int flex,
			  const char *topic, int32_t i)
{
	const struct tdm_partition_state *st = rep ? tdm_replica_state(rep, topic, i) : NULL;
	static const int32_t self[1] = { KF_NODE_ID };
	int32_t offline[16];
	size_t noff = 0;

	kf_put_i16(b, rep && (!st || st->leader == TDM_NO_NODE) ? KF_ERR_LEADER_NOT_AVAILABLE
							      : KF_ERR_NONE);
	kf_put_i32(b, i);
	kf_put_i32(b, !rep ? KF_NODE_ID : st ? st->leader : TDM_NO_NODE);
	if (ver >= 7)
		kf_put_i32(b, !rep ? 0 : st ? st->leader_epoch : -1);
	put_ids(b, flex, !rep ? self : st ? st->replicas : NULL, !rep ? 1 : st ? st->nreplicas : 0);
	put_ids(b, flex, !rep ? self : st ? st->isr : NULL, !rep ? 1 : st ? st->nisr : 0);
	for (size_t j = 0; st && j < st->nreplicas && noff < 16; j++)
		if (!is_live(rep, st->replicas[j]))
			offline[noff++] = st->replicas[j];
	if (ver >= 5)
		put_ids(b, flex, offline, noff);
	kf_put_tags(b, flex);
}

/* One topic (name NULL with len -1: null, v12's unknown id). */
static void put_topic(struct evbuffer *b, struct kf_conn *kc, int ver, int16_t err,
		      const char *name, int32_t len, struct ls_topic *t, const uint8_t *id,
		      int ops)
{
	int flex = kf_flex(kc);
	int32_t n = t ? tdm_topic_partitions(t) : 0;
	uint8_t uuid[16];

	kf_put_i16(b, err);
	kf_put_fstrn(b, flex, name, len);
	if (ver >= 10) {
		if (!kf_topic_uuid(t, uuid) && id)
			memcpy(uuid, id, 16); /* what was asked for */
		evbuffer_add(b, uuid, 16);
	}
	if (ver >= 1)
		kf_put_i8(b, 0); /* is_internal */
	kf_put_farray(b, flex, n);
	for (int32_t i = 0; i < n; i++)
		put_partition(b, kc->srv->replica, ver, flex, tdm_topic_name(t), i);
	if (ver >= 8)
		kf_put_i32(b, ops && t ? kf_authz_topic_ops(kc, tdm_topic_name(t)) : KF_OPS_NOT_ASKED);
	kf_put_tags(b, flex);
}

/* The brokers: this one alone, or the cluster's live nodes as registered
 * in ZooKeeper: [node_id, host, port, (rack: with_rack), (tags: flex)]. */
static void put_broker_list(struct evbuffer *b, const struct kf_conn *kc, int with_rack, int flex)
{
	const struct tdm_replica *rep = kc->srv->replica;
	const struct tdm_replica_node *nodes;
	size_t n = rep ? tdm_replica_nodes(rep, &nodes) : 1;

	kf_put_farray(b, flex, (int32_t)n);
	for (size_t i = 0; i < n; i++) {
		kf_put_i32(b, rep ? nodes[i].id : KF_NODE_ID);
		kf_put_fstr(b, flex, rep ? nodes[i].host : kc->host);
		kf_put_i32(b, rep ? nodes[i].kafka_port : kc->port);
		if (with_rack) /* broker_rack as registered, null for none */
			kf_put_fstr(b, flex, rep ? nodes[i].rack : kc->srv->cfg ? kc->srv->cfg->broker_rack : NULL);
		kf_put_tags(b, flex);
	}
}

static int32_t controller_id(const struct kf_conn *kc)
{
	const struct tdm_replica *rep = kc->srv->replica;
	return rep ? tdm_replica_controller(rep) : KF_NODE_ID;
}

/* The brokers and the controller. */
static void put_brokers(struct evbuffer *b, const struct kf_conn *kc, int ver)
{
	int flex = kf_flex(kc);

	put_broker_list(b, kc, ver >= 1, flex);
	if (ver >= 2)
		kf_put_fstr(b, flex, KF_CLUSTER_ID);
	if (ver >= 1)
		kf_put_i32(b, controller_id(kc));
}

/*
 * DescribeCluster v0-1 (flexible only; the admin clients' describeCluster
 * since Kafka 2.8): the cluster id, the controller and the live brokers,
 * as Metadata gives them; cluster_authorized_operations -2^31 (not asked)
 * unless asked, then what the user may do on the cluster
 * (kf_authz_cluster_ops).  v1: the endpoint type asked, 1 (brokers); a
 * broker asked for the controllers (2) answers MISMATCHED_ENDPOINT_TYPE
 * (114), any other type UNSUPPORTED_ENDPOINT_TYPE (115), as Kafka's.
 */
int kf_h_describe_cluster(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int ver = kc->hdr.api_version;
	int8_t ops = kf_get_i8(cur); /* include_cluster_authorized_operations */
	int8_t type = ver >= 1 ? kf_get_i8(cur) : 1;
	int16_t err = type == 1 ? KF_ERR_NONE : type == 2 ? 114 : 115;

	if (kf_decode_end(cur) < 0)
		return KF_R_CLOSE;
	kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_i16(resp, err);
	kf_put_fstr(resp, 1, err == KF_ERR_NONE ? NULL
			     : err == 114    ? "The request was sent to an endpoint of the wrong type."
					     : "This endpoint type is not supported yet.");
	if (ver >= 1)
		kf_put_i8(resp, type);
	kf_put_fstr(resp, 1, KF_CLUSTER_ID);
	kf_put_i32(resp, controller_id(kc));
	if (err == KF_ERR_NONE)
		put_broker_list(resp, kc, 1, 1);
	else
		kf_put_farray(resp, 1, 0);
	kf_put_i32(resp, ops && err == KF_ERR_NONE ? kf_authz_cluster_ops(kc) : KF_OPS_NOT_ASKED);
	kf_put_tags(resp, 1);
	return KF_R_DONE;
}

struct all_ctx {
	struct kf_conn *kc;
	struct evbuffer *b;
	int ver, ops;
	int32_t count;
};

static void put_all(struct ls_topic *t, void *arg)
{
	struct all_ctx *a = arg;
	const char *name = tdm_topic_name(t);

	if (tdm_topic_is_internal(t) || !kf_authz_topic_visible(a->kc, name, strlen(name)))
		return; /* internal, another vhost's, or not the user's to see */
	if (a->b)
		put_topic(a->b, a->kc, a->ver, KF_ERR_NONE, name, (int32_t)strlen(name), t, NULL,
			  a->ops);
	a->count++;
}

static void auto_created(void *arg, int rc, const char *msg)
{
	(void)arg;
	if (rc != TDM_TOPIC_OK && rc != TDM_ERR_EXISTS)
		tdm_info("kafka", "auto-creating a topic in the cluster failed: %s", msg);
}

/* auto_create_topics in a cluster: the topic (num_partitions,
 * default_replication_factor) is asked of the controller; nobody waits. */
static int auto_create_in_cluster(struct kf_server *srv, const char *name)
{
	struct tdm_replica_topic_spec spec = { name, (int32_t)srv->cfg->num_partitions, -1, NULL, 0,
					       NULL, 0 };
	return tdm_replica_create_topic(srv->replica, &spec, auto_created, NULL, NULL, NULL, 0);
}

/* An unknown topic named by a client that may create it: made (a single
 * node) or asked of the controller (LEADER_NOT_AVAILABLE until it has
 * leaders, and the client asks again, as Kafka). */
static int16_t auto_create(struct kf_conn *kc, struct kf_str name, struct ls_topic **t)
{
	struct kf_server *srv = kc->srv;
	char buf[256];
	int rc = TDM_ERR_INVALID_TOPIC;

	if (kf_str_cstr(name, buf, sizeof(buf)) == 0)
		rc = srv->replica ? auto_create_in_cluster(srv, buf)
				  : tdm_topics_create(srv->topics, buf,
						      (int32_t)srv->cfg->num_partitions, NULL, 0, NULL,
						      0);
	if (srv->replica)
		return rc == TDM_TOPIC_OK ? KF_ERR_LEADER_NOT_AVAILABLE : kf_err_from_core(rc);
	if (rc != TDM_TOPIC_OK && rc != TDM_ERR_EXISTS)
		return kf_err_from_core(rc);
	*t = kf_topic_lookup(kc, name);
	return KF_ERR_NONE;
}

/* One topic asked for by name. */
static void put_named(struct kf_conn *kc, struct evbuffer *resp, int ver,
		      const struct kf_metadata_req *r, struct kf_str name)
{
	struct ls_topic *t = NULL;
	int16_t err = KF_ERR_NONE;
	char buf[256];

	if (name.len > 0 && (kf_str_cstr(name, buf, sizeof(buf)) < 0 ||
			     !kf_authz_topic_visible(kc, buf, strlen(buf)))) {
		/* never created, nor shown (overlong names: never there) */
		if (name.len < (int32_t)sizeof(buf))
			err = KF_ERR_TOPIC_AUTHORIZATION_FAILED;
	} else if (!(t = kf_topic_lookup(kc, name)) && kc->srv->cfg->auto_create_topics &&
		   r->allow_auto_topic_creation && !kf_authz_trusted(kc) &&
		   kf_authz_topic(kc, TDM_PERM_CONFIGURE, name) == KF_ERR_NONE) {
		err = auto_create(kc, name, &t);
	}
	if (!t && err == KF_ERR_NONE)
		err = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	put_topic(resp, kc, ver, err, name.p, name.len < 0 ? 0 : name.len, t, NULL,
		  r->include_topic_ops);
}

/* v12: one topic asked for by id (null name); unknown, or not the user's
 * to see: UNKNOWN_TOPIC_ID, as Kafka (no name to authorize against). */
static void put_by_id(struct kf_conn *kc, struct evbuffer *resp, int ver,
		      const struct kf_metadata_req *r, const uint8_t id[16])
{
	struct ls_topic *t = kf_topic_by_uuid(kc, id);
	const char *name = t ? tdm_topic_name(t) : NULL;

	if (t && (tdm_topic_is_internal(t) || !kf_authz_topic_visible(kc, name, strlen(name))))
		t = NULL, name = NULL;
	put_topic(resp, kc, ver, t ? KF_ERR_NONE : KF_ERR_UNKNOWN_TOPIC_ID, name,
		  name ? (int32_t)strlen(name) : -1, t, id, r->include_topic_ops);
}

int kf_h_metadata(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int ver = kc->hdr.api_version, flex = kf_flex(kc);
	struct kf_metadata_req r;

	if (kf_decode_metadata(cur, ver, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	if (ver >= 3)
		kf_put_i32(resp, 0); /* throttle_time_ms */
	put_brokers(resp, kc, ver);
	if (r.ntopics < 0) {
		struct all_ctx a = { kc, NULL, ver, r.include_topic_ops, 0 };

		tdm_topics_foreach(kc->srv->topics, put_all, &a);
		kf_put_farray(resp, flex, a.count);
		a.b = resp;
		tdm_topics_foreach(kc->srv->topics, put_all, &a);
	} else {
		kf_put_farray(resp, flex, r.ntopics);
		for (int32_t i = 0; i < r.ntopics; i++) {
			if (ver >= 12 && r.topics[i].len < 0)
				put_by_id(kc, resp, ver, &r, r.topic_ids[i]);
			else if (ver >= 10 && r.topics[i].len < 0) /* ids only from v12 */
				put_topic(resp, kc, ver, KF_ERR_INVALID_REQUEST, NULL, -1, NULL,
					  r.topic_ids[i], 0);
			else
				put_named(kc, resp, ver, &r, r.topics[i]);
		}
	}
	if (ver >= 8 && ver <= 10)
		kf_put_i32(resp, r.include_cluster_ops ? kf_authz_cluster_ops(kc) : KF_OPS_NOT_ASKED);
	kf_put_tags(resp, flex);
	return KF_R_DONE;
}
