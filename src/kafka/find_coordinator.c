/*
 * FindCoordinator v0-4: where a group's coordinator is.
 *
 * Versions: v0 key (a group id); v1 key_type (0 group, 1 transaction)
 * in the request, throttle_time_ms and error_message in the answer; v2 is
 * v1; v3 flexible (KIP-482); v4 a batch: coordinator_keys in the request,
 * one [key, node, host, port, error_code, error_message] per key in the
 * answer.  librdkafka 2.0.2 and kafkajs 2.2.4 send v2, kafka-python's
 * consumer v0 and its admin v1.
 *
 * A group key: this node on a single node; in a cluster (srv->replica)
 * the leader of partition 0 of the group offsets topic, which the first
 * lookup has the controller create when it is missing (Kafka: created on
 * the first FindCoordinator), COORDINATOR_NOT_AVAILABLE while it has no
 * leader.  Read on the group id is needed (else GROUP_AUTHORIZATION_FAILED
 * and no node), an empty id is INVALID_GROUP_ID.
 *
 * A transaction key: the group coordinator's node, which keeps the
 * transactions' state in the same log (txn.h), when the user has the
 * rights of an idempotent producer (else
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED), an empty id INVALID_REQUEST.
 * Any other key_type is INVALID_REQUEST (Kafka: "Unknown coordinator
 * type").  error_message: null on success, else the text of the code.
 *
 * Must not depend on: src/amqp.
 */
#include <string.h>

#include "core/log.h"
#include "kafka/groups_internal.h"
#include "kafka/kf.h"

enum { KEY_GROUP = 0, KEY_TRANSACTION = 1 };

/* One key's answer. */
struct coord {
	int16_t err;
	int32_t node;
	const char *host; /* borrowed: the connection's or the replica manager's */
	int32_t port;
};

static void offsets_topic_made(void *arg, int rc, const char *msg)
{
	struct kf_groups *gs = arg;

	gs->create_op = NULL;
	if (rc == TDM_TOPIC_OK)
		tdm_info("kafka", "group offsets topic %s created", TDM_GROUPS_TOPIC);
	else if (rc != TDM_ERR_EXISTS)
		tdm_warn("kafka", "creating the group offsets topic %s: %s", TDM_GROUPS_TOPIC,
			 msg && msg[0] ? msg : tdm_replica_strerror(rc));
}

/* Has the controller create the group offsets topic (Kafka: on the first
 * FindCoordinator): one partition, replication factor min(3, live nodes)
 * (offsets.topic.replication.factor 3), compacted. */
static void make_offsets_topic(struct kf_groups *gs, size_t live)
{
	static const struct tdm_kv compact[] = { { "cleanup.policy", "compact" } };
	struct tdm_replica_topic_spec spec = { .name = TDM_GROUPS_TOPIC,
					       .partitions = 1,
					       .replication_factor = live < 3 ? (int32_t)live : 3,
					       .configs = compact,
					       .nconfigs = 1 };
	char err[256] = "";
	int rc;

	if (gs->create_op || live == 0)
		return;
	rc = tdm_replica_create_topic(gs->srv->replica, &spec, offsets_topic_made, gs,
				      &gs->create_op, err, sizeof(err));
	if (rc != TDM_TOPIC_OK) {
		gs->create_op = NULL;
		tdm_warn("kafka", "creating the group offsets topic %s: %s", TDM_GROUPS_TOPIC,
			 err[0] ? err : tdm_replica_strerror(rc));
	}
}

/* In a cluster: the leader of the offsets partition. */
static struct coord find_in_cluster(struct kf_server *srv)
{
	const struct tdm_partition_state *st = tdm_replica_state(srv->replica, TDM_GROUPS_TOPIC, 0);
	const struct tdm_replica_node *nodes, *nd = NULL;
	size_t n = tdm_replica_nodes(srv->replica, &nodes);

	if (!st)
		make_offsets_topic(srv->groups, n);
	for (size_t i = 0; st && st->leader != TDM_NO_NODE && i < n; i++)
		if (nodes[i].id == st->leader && nodes[i].kafka_port > 0)
			nd = &nodes[i];
	if (!nd)
		return (struct coord){ KF_ERR_COORDINATOR_NOT_AVAILABLE, -1, "", -1 };
	return (struct coord){ KF_ERR_NONE, nd->id, nd->host, nd->kafka_port };
}

/* A transactional id's coordinator: the group coordinator's node. */
static struct coord find_txn(struct kf_conn *kc, struct kf_str key)
{
	if (!kc->srv->txns)
		return (struct coord){ KF_ERR_COORDINATOR_NOT_AVAILABLE, -1, "", -1 };
	if (!kf_authz_idempotent_write(kc))
		return (struct coord){ KF_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED, -1, "", -1 };
	if (key.len <= 0)
		return (struct coord){ KF_ERR_INVALID_REQUEST, -1, "", -1 };
	if (kc->srv->replica)
		return find_in_cluster(kc->srv);
	return (struct coord){ KF_ERR_NONE, KF_NODE_ID, kc->host, kc->port };
}

static struct coord find_one(struct kf_conn *kc, int8_t key_type, struct kf_str key)
{
	if (key_type == KEY_TRANSACTION)
		return find_txn(kc, key);
	if (key_type != KEY_GROUP)
		return (struct coord){ KF_ERR_INVALID_REQUEST, -1, "", -1 };
	if (kf_authz_group(kc, &key) != KF_ERR_NONE)
		return (struct coord){ KF_ERR_GROUP_AUTHORIZATION_FAILED, -1, "", -1 };
	if (kc->srv->replica && key.len > 0)
		return find_in_cluster(kc->srv);
	return (struct coord){ key.len <= 0 ? KF_ERR_INVALID_GROUP_ID : KF_ERR_NONE, KF_NODE_ID,
			       kc->host, kc->port };
}

/* Kafka's text of the codes answered here (Errors.message()). */
static const char *coord_message(int16_t err)
{
	switch (err) {
	case KF_ERR_NONE:
		return NULL;
	case KF_ERR_COORDINATOR_NOT_AVAILABLE:
		return "The coordinator is not available.";
	case KF_ERR_GROUP_AUTHORIZATION_FAILED:
		return "Group authorization failed.";
	case KF_ERR_INVALID_GROUP_ID:
		return "The configured groupId is invalid.";
	case KF_ERR_INVALID_REQUEST:
		return "Unknown coordinator type.";
	default:
		return kf_err_name(err);
	}
}

int kf_h_find_coordinator(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	int ver = kc->hdr.api_version, flex = kf_flex(kc);
	struct kf_find_coordinator_req r;

	if (kf_decode_find_coordinator(cur, ver, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	if (ver >= 1)
		kf_put_i32(resp, 0); /* throttle_time_ms */
	if (ver >= 4) {
		kf_put_farray(resp, flex, r.nkeys);
		for (int32_t i = 0; i < r.nkeys; i++) {
			struct coord c = find_one(kc, r.key_type, r.keys[i]);

			kf_put_fkstr(resp, flex, r.keys[i]);
			kf_put_i32(resp, c.node);
			kf_put_fstr(resp, flex, c.host);
			kf_put_i32(resp, c.port);
			kf_put_i16(resp, c.err);
			kf_put_fstr(resp, flex, coord_message(c.err));
			kf_put_tags(resp, flex);
		}
	} else {
		struct coord c = find_one(kc, r.key_type, r.keys[0]);

		kf_put_i16(resp, c.err);
		if (ver >= 1)
			kf_put_fstr(resp, flex, coord_message(c.err));
		kf_put_i32(resp, c.node);
		kf_put_fstr(resp, flex, c.host);
		kf_put_i32(resp, c.port);
	}
	kf_put_tags(resp, flex);
	return KF_R_DONE;
}
