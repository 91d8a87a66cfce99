/*
 * Metadata v0-4.  A single node is the one broker, the controller and the
 * leader of every partition; in a cluster the brokers are the live nodes
 * and each partition's leader, replicas and ISR come from the replica
 * manager (core/replica.h), as ZooKeeper holds them.  Unknown topics are created when
 * auto_create_topics is on, the client allows it (v4 flag) and the user
 * may configure the name (never for the cluster link, which names topics
 * that exist: a stream queue's is made by its declaration); internal topics (the group offsets log) are not
 * shown, nor topics the user has no permission on (authz.c: Kafka's
 * DESCRIBE), which named get TOPIC_AUTHORIZATION_FAILED.
 *
 * Must not depend on: src/amqp.
 */
#include "core/config.h"
#include "core/log.h"
#include "kafka/kf.h"

/* One partition of a cluster topic: the state the replica manager holds
 * (LEADER_NOT_AVAILABLE and no replicas while none is known yet). */
static void put_cluster_partition(struct evbuffer *b, const struct tdm_replica *rep,
				  const char *topic, int32_t i)
{
	const struct tdm_partition_state *st = tdm_replica_state(rep, topic, i);

	kf_put_i16(b, !st ? KF_ERR_LEADER_NOT_AVAILABLE
			  : st->leader == TDM_NO_NODE ? KF_ERR_LEADER_NOT_AVAILABLE : KF_ERR_NONE);
	kf_put_i32(b, i);
	kf_put_i32(b, st ? st->leader : TDM_NO_NODE);
	kf_put_i32(b, st ? (int32_t)st->nreplicas : 0);
	for (size_t j = 0; st && j < st->nreplicas; j++)
		kf_put_i32(b, st->replicas[j]);
	kf_put_i32(b, st ? (int32_t)st->nisr : 0);
	for (size_t j = 0; st && j < st->nisr; j++)
		kf_put_i32(b, st->isr[j]);
}

static void put_topic(struct evbuffer *b, const struct kf_server *srv, int ver, int16_t err,
		      const char *name, int32_t len, struct ls_topic *t)
{
	int32_t n = t ? tdm_topic_partitions(t) : 0;

	kf_put_i16(b, err);
	kf_put_strn(b, name, len);
	if (ver >= 1)
		kf_put_i8(b, 0); /* is_internal */
	kf_put_i32(b, n);
	for (int32_t i = 0; i < n; i++) {
		if (srv->replica) {
			put_cluster_partition(b, srv->replica, tdm_topic_name(t), i);
			continue;
		}
		kf_put_i16(b, KF_ERR_NONE);
		kf_put_i32(b, i);
		kf_put_i32(b, KF_NODE_ID); /* leader */
		kf_put_i32(b, 1);          /* replicas */
		kf_put_i32(b, KF_NODE_ID);
		kf_put_i32(b, 1);          /* isr */
		kf_put_i32(b, KF_NODE_ID);
	}
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
		if (with_rack)
			kf_put_fstr(b, flex, NULL); /* rack */
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
	put_broker_list(b, kc, ver >= 1, 0);
	if (ver >= 2)
		kf_put_str(b, KF_CLUSTER_ID);
	if (ver >= 1)
		kf_put_i32(b, controller_id(kc));
}

/*
 * DescribeCluster v0 (flexible only; the admin clients' describeCluster
 * since Kafka 2.8): the cluster id, the controller and the live brokers,
 * as Metadata gives them; cluster_authorized_operations -2^31 (not asked)
 * unless asked, then what the user may do on the cluster (Kafka's
 * AclOperation bits: DESCRIBE always; with the administrator tag also
 * CREATE, ALTER, DESCRIBE_CONFIGS, ALTER_CONFIGS, IDEMPOTENT_WRITE).
 */
int kf_h_describe_cluster(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int8_t ops = kf_get_i8(cur); /* include_cluster_authorized_operations */

	if (kf_decode_end(cur) < 0)
		return KF_R_CLOSE;
	kf_put_i32(resp, 0);                /* throttle_time_ms */
	kf_put_i16(resp, KF_ERR_NONE);
	kf_put_fstr(resp, 1, NULL);         /* error_message */
	kf_put_fstr(resp, 1, KF_CLUSTER_ID);
	kf_put_i32(resp, controller_id(kc));
	put_broker_list(resp, kc, 1, 1);
	if (!ops)
		kf_put_i32(resp, INT32_MIN);
	else /* bits: DESCRIBE 8; CREATE 4, ALTER 7, DESCRIBE_CONFIGS 10, ALTER_CONFIGS 11, IDEMPOTENT_WRITE 12 */
		kf_put_i32(resp, (1 << 8) | (kf_authz_cluster(kc) ? (1 << 4) | (1 << 7) | (1 << 10) |
							       (1 << 11) | (1 << 12) : 0));
	kf_put_tags(resp, 1);
	return KF_R_DONE;
}

struct all_ctx {
	struct kf_conn *kc;
	struct evbuffer *b;
	int ver;
	int32_t count;
};

static void put_all(struct ls_topic *t, void *arg)
{
	struct all_ctx *a = arg;
	const char *name = tdm_topic_name(t);

	if (tdm_topic_is_internal(t) || !kf_authz_topic_visible(a->kc, name, strlen(name)))
		return; /* internal, another vhost's, or not the user's to see */
	if (a->b)
		put_topic(a->b, a->kc->srv, a->ver, KF_ERR_NONE, name, (int32_t)strlen(name), t);
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

int kf_h_metadata(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_server *srv = kc->srv;
	int ver = kc->hdr.api_version;
	struct kf_metadata_req r;

	if (kf_decode_metadata(cur, ver, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	if (ver >= 3)
		kf_put_i32(resp, 0); /* throttle_time_ms */
	put_brokers(resp, kc, ver);
	if (r.ntopics < 0) {
		struct all_ctx a = { kc, NULL, ver, 0 };

		tdm_topics_foreach(srv->topics, put_all, &a);
		kf_put_i32(resp, a.count);
		a.b = resp;
		tdm_topics_foreach(srv->topics, put_all, &a);
		return KF_R_DONE;
	}
	kf_put_i32(resp, r.ntopics);
	for (int32_t i = 0; i < r.ntopics; i++) {
		struct kf_str name = r.topics[i];
		struct ls_topic *t = NULL;
		int16_t err = KF_ERR_NONE;
		char buf[256];

		if (name.len > 0 && (kf_str_cstr(name, buf, sizeof(buf)) < 0 ||
				     !kf_authz_topic_visible(kc, buf, strlen(buf)))) {
			/* never created, nor shown (overlong names: never there) */
			if (name.len < (int32_t)sizeof(buf))
				err = KF_ERR_TOPIC_AUTHORIZATION_FAILED;
		} else if (!(t = kf_topic_lookup(kc, name)) && srv->cfg->auto_create_topics &&
			   r.allow_auto_topic_creation && !kf_authz_trusted(kc) &&
			   kf_authz_topic(kc, TDM_PERM_CONFIGURE, name) == KF_ERR_NONE) {
			int rc = TDM_ERR_INVALID_TOPIC;

			if (srv->replica) {
				/* through the controller, as Kafka: LEADER_NOT_AVAILABLE
				 * until the topic has leaders, and the client asks again */
				if (kf_str_cstr(name, buf, sizeof(buf)) == 0)
					rc = auto_create_in_cluster(srv, buf);
				err = rc == TDM_TOPIC_OK ? KF_ERR_LEADER_NOT_AVAILABLE
							 : kf_err_from_core(rc);
			} else {
				if (kf_str_cstr(name, buf, sizeof(buf)) == 0)
					rc = tdm_topics_create(srv->topics, buf,
							       (int32_t)srv->cfg->num_partitions, NULL, 0,
							       NULL, 0);
				if (rc == TDM_TOPIC_OK || rc == TDM_ERR_EXISTS)
					t = kf_topic_lookup(kc, name);
				else
					err = kf_err_from_core(rc);
			}
		}
		if (!t && err == KF_ERR_NONE)
			err = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
		put_topic(resp, srv, ver, err, name.p, name.len < 0 ? 0 : name.len, t);
	}
	return KF_R_DONE;
}
