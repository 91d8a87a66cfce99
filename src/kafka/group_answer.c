/*
 * The answers of the group membership requests at every version served,
 * for the coordinator (groups.c, group_static.c), which decides what to
 * answer; here only the wire layout.
 *
 * JoinGroup v0-9: v2+ throttle_time_ms; v5+ each member's instance id in
 * the leader's list; v6 flexible (KIP-482); v7 protocol_type (the
 * group's; null with an error, as is protocol_name then); v8 only adds
 * the request's reason; v9 skip_assignment, always false: tandem does
 * not run KIP-814's static-leader rejoin (a static member that rejoins
 * a Stable group is answered with the leader as it was, not itself, so
 * it assigns nothing and syncs as a follower; group_static.c).
 * SyncGroup v0-5: v1+ throttle_time_ms; v4 flexible; v5 protocol_type
 * and protocol_name (the group's; null with an error).  Heartbeat v0-4
 * (v4 flexible).  LeaveGroup v0-5 (v3 a batch, v4 flexible, v5 a reason
 * per member in the request): groups.c writes its member list.
 *
 * Must not depend on: src/amqp.
 */
#include "kafka/groups_internal.h"
#include "kafka/kf.h"

void kf_group_put_join(struct evbuffer *b, int ver, int16_t err, const struct group *g,
		       const char *leader, const char *member_id)
{
	int flex = kf_group_flex(KF_JOIN_GROUP, ver), ok = !err && g;

	if (ver >= 2)
		kf_put_i32(b, 0); /* throttle_time_ms */
	kf_put_i16(b, err);
	kf_put_i32(b, ok ? g->c.generation : -1);
	if (ver >= 7)
		kf_put_fstr(b, flex, ok ? g->c.protocol_type : NULL);
	kf_put_fstr(b, flex, ok ? g->c.protocol : ver >= 7 ? NULL : "");
	kf_put_fstr(b, flex, ok && leader ? leader : "");
	if (ver >= 9)
		kf_put_i8(b, 0); /* skip_assignment: the leader assigns */
	kf_put_fstr(b, flex, member_id ? member_id : "");
}

void kf_group_put_join_members(struct evbuffer *b, int ver, const struct group *g)
{
	int flex = kf_group_flex(KF_JOIN_GROUP, ver);

	kf_put_farray(b, flex, g ? g->c.nmembers : 0);
	for (struct member *o = g ? kf_member(g->c.members) : NULL; o; o = kf_member(o->c.next)) {
		const struct tdm_group_proto *pm = kf_member_proto(o, g->c.protocol);
		int32_t len = pm ? pm->len : 0;

		kf_put_fstr(b, flex, o->c.id);
		if (ver >= 5)
			kf_put_fstr(b, flex, o->c.instance_id);
		kf_put_fbytes(b, flex, pm ? pm->meta : NULL, len);
		kf_put_tags(b, flex);
	}
	kf_put_tags(b, flex);
}

void kf_group_put_sync(struct evbuffer *b, int ver, int16_t err, const struct group *g,
		       const uint8_t *a, int32_t len)
{
	int flex = kf_group_flex(KF_SYNC_GROUP, ver), ok = !err && g;

	if (err || len < 0)
		len = 0;
	if (ver >= 1)
		kf_put_i32(b, 0); /* throttle_time_ms */
	kf_put_i16(b, err);
	if (ver >= 5) {
		kf_put_fstr(b, flex, ok ? g->c.protocol_type : NULL);
		kf_put_fstr(b, flex, ok ? g->c.protocol : NULL);
	}
	kf_put_fbytes(b, flex, a, len);
	kf_put_tags(b, flex);
}

void kf_group_put_heartbeat(struct evbuffer *b, int ver, int16_t err)
{
	if (ver >= 1)
		kf_put_i32(b, 0); /* throttle_time_ms */
	kf_put_i16(b, err);
	kf_put_tags(b, kf_group_flex(KF_HEARTBEAT, ver));
}

int16_t kf_group_sync_protocol_check(const struct group *g, struct kf_str protocol_type,
				     struct kf_str protocol_name)
{
	/* Kafka: null is not checked; anything else must be the group's */
	if (protocol_type.len >= 0 &&
	    (!g->c.protocol_type || !kf_str_eq(protocol_type, g->c.protocol_type)))
		return KF_ERR_INCONSISTENT_GROUP_PROTOCOL;
	if (protocol_name.len >= 0 && (!g->c.protocol || !kf_str_eq(protocol_name, g->c.protocol)))
		return KF_ERR_INCONSISTENT_GROUP_PROTOCOL;
	return KF_ERR_NONE;
}
