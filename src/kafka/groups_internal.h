/*
 * The group coordinator's objects (groups.c): core's groups and members
 * (core/groups.h) with what the Kafka protocol adds to them: timers and
 * parked JoinGroup/SyncGroup requests.  Core's object comes first, so a
 * pointer to it is a pointer to ours (kf_group, kf_member).
 *
 * Must not depend on: src/amqp.
 */
#ifndef TANDEM_KAFKA_GROUPS_INTERNAL_H
#define TANDEM_KAFKA_GROUPS_INTERNAL_H

#include <stdint.h>

#include <event2/event.h>

#include "core/groups.h"
#include "kafka/kf.h"

struct join_park {
	struct kf_park base;
	struct kf_conn *kc;
	struct member *m;
	int ver;
};

struct sync_park {
	struct kf_park base;
	struct kf_conn *kc;
	struct member *m;
	int ver;
};

struct member {
	struct tdm_group_member c;   /* first: core's member */
	struct event *session_timer; /* owned */
	struct join_park *join;      /* parked JoinGroup, or NULL */
	struct sync_park *sync;      /* parked SyncGroup, or NULL */
	struct kf_conn *kc;          /* borrowed: where its last JoinGroup came from,
					NULL once that connection closed */
	struct member *kc_prev, *kc_next; /* kc->members */
	uint64_t meta_bytes;         /* its protocols' names and metadata */
};

/* A member id handed out with MEMBER_ID_REQUIRED (JoinGroup v4+, Kafka's
 * KIP-394), good for one join until its session timeout. */
struct pending_id {
	char *id;                /* owned */
	int64_t expires_ms;      /* monotonic */
	struct pending_id *next; /* newest first */
};

struct group {
	struct tdm_group c;      /* first: core's group */
	struct pending_id *pending; /* owned */
	int npending;
	int initial;             /* the first rebalance's delay is running */
	int64_t initial_deadline_ms;
	struct event *timer;     /* owned: initial delay / rebalance timeout */
	struct event *check_ev;  /* owned: "maybe complete" next loop turn */
	struct kf_groups *gs;    /* borrowed */
};

struct kf_groups {
	struct kf_server *srv;   /* borrowed */
	struct tdm_groups *core; /* borrowed: where the groups are registered */
	uint64_t next_member;
	/* In a cluster: */
	int loaded;              /* coordinating: offsets rebuilt for loaded_epoch */
	int32_t loaded_epoch;    /* leader epoch of the offsets partition then */
	struct tdm_replica_op *create_op; /* creating the offsets topic, or NULL */
	struct event *watch;     /* owned: notices a lost coordination */
};

static inline struct member *kf_member(struct tdm_group_member *m)
{
	return (struct member *)m;
}

static inline struct group *kf_group(struct tdm_group *g)
{
	return (struct group *)g;
}

/* ---- shared by the coordinator's files (groups.c) ------------------------- */

int64_t kf_groups_mono_ms(void);
/* g by id (core's key), or NULL. */
struct group *kf_group_find(struct kf_groups *gs, struct kf_str id);
/* The protocol `name` of m, or NULL. */
const struct tdm_group_proto *kf_member_proto(const struct member *m, const char *name);
/* m's session deadline starts again. */
void kf_member_session_touch(struct member *m);
/* Answers m's parked JoinGroup and SyncGroup (if any) with err; m stays. */
void kf_member_answer_parked(struct member *m, int16_t err);
/* Removes m from g (its parked requests answered err) and frees it; the
 * caller then calls kf_group_members_changed. */
void kf_group_member_remove(struct group *g, struct member *m, int16_t err);
/* After members left g: Empty when none is left, else a rebalance. */
void kf_group_members_changed(struct group *g);

/* ---- the answers' wire layout, every version (group_answer.c) -------------- */

/* 1 when version ver of api is a flexible one (KIP-482). */
static inline int kf_group_flex(int16_t api, int ver)
{
	int first = kf_first_flexible(api);
	return first >= 0 && ver >= first;
}
/* The head of a JoinGroup answer: g's generation, protocol type and
 * protocol when err is KF_ERR_NONE (g not NULL), else Kafka's values for
 * an error; leader ("" with an error) and member_id as given.  The member
 * list follows (kf_group_put_join_members). */
void kf_group_put_join(struct evbuffer *b, int ver, int16_t err, const struct group *g,
		       const char *leader, const char *member_id);
/* The end of a JoinGroup answer: g's members with their metadata for its
 * protocol (the leader's answer), or none when g is NULL. */
void kf_group_put_join_members(struct evbuffer *b, int ver, const struct group *g);
/* A SyncGroup answer: err, (v5+) g's protocol type and name unless err,
 * the assignment a[0..len) (empty with an error). */
void kf_group_put_sync(struct evbuffer *b, int ver, int16_t err, const struct group *g,
		       const uint8_t *a, int32_t len);
/* A Heartbeat answer. */
void kf_group_put_heartbeat(struct evbuffer *b, int ver, int16_t err);
/* SyncGroup v5's check: a protocol type or name that is not null must be
 * g's (Kafka), else INCONSISTENT_GROUP_PROTOCOL. */
int16_t kf_group_sync_protocol_check(const struct group *g, struct kf_str protocol_type,
				     struct kf_str protocol_name);

/* ---- member identity (group_static.c) ---------------------------------------- */

/* A new member id (malloc'd, or NULL): Kafka's form, the instance id (a
 * static member) or else the client id, then "-" and a unique suffix. */
char *kf_group_new_member_id(struct kf_groups *gs, struct kf_conn *kc, struct kf_str instance);
/* Remembers id (copied) as handed out with MEMBER_ID_REQUIRED, for
 * timeout_ms.  0, or -1 when memory is short. */
int kf_group_pending_add(struct group *g, const char *id, int32_t timeout_ms);
/* 1 when id was handed out and has not expired; forget: it is used up. */
int kf_group_pending_take(struct group *g, struct kf_str id, int forget);
/* Frees g's pending ids. */
void kf_group_pending_free(struct group *g);
/*
 * Kafka's check of who sends a group request (op names the request in
 * the log): with an instance id (not null) it must map to this member
 * id, FENCED_INSTANCE_ID when another member id has it (an older
 * incarnation of a restarted static member), UNKNOWN_MEMBER_ID when no
 * member has it; without one the member must exist (UNKNOWN_MEMBER_ID).
 * g may be NULL.  *m gets the member on KF_ERR_NONE, else NULL.
 */
int16_t kf_group_check_member(struct group *g, struct kf_str member_id, struct kf_str instance,
			      const char *op, struct member **m);
/* The static member of g with this instance id, or NULL. */
struct member *kf_group_static_member(struct group *g, struct kf_str instance);
/*
 * A static member m rejoins with an empty member id (a restart): its
 * parked JoinGroup and SyncGroup are answered FENCED_INSTANCE_ID, it
 * takes a new member id and keeps the rest (assignment, leadership).
 * Returns its old member id (the caller's to free), or NULL when memory
 * is short (nothing changed).
 */
char *kf_group_static_replace(struct kf_conn *kc, struct group *g, struct member *m);
/*
 * After kf_group_static_replace and the new protocols: Kafka answers at
 * once, without a rebalance, when g is Stable and the protocol vote still
 * picks its protocol: the current generation, protocol, the leader as it
 * was before (old_id when m led: a leader restarted this way does not
 * run an assignment the Stable group would not use) and no member list.
 * Returns 1 when answered into b, 0 when a rebalance is due.
 */
int kf_group_static_rejoined(struct group *g, struct member *m, const char *old_id,
			     struct evbuffer *b, int ver);
/* LeaveGroup of one member: member_id "" with an instance id removes that
 * instance's member (the admin's "remove members"); else as
 * kf_group_check_member.  KF_ERR_NONE when removed (the caller then calls
 * kf_group_members_changed). */
int16_t kf_group_leave_one(struct group *g, struct kf_str member_id, struct kf_str instance);

/* Decodes a member's consumer-protocol Assignment for core's management
 * view (group_assign.c); see struct tdm_group_coordinator.assignment. */
int kf_group_assignment(void *ctx, const struct tdm_group *g, const struct tdm_group_member *m,
			void (*fn)(void *arg, const char *topic, size_t topic_len,
				   const int32_t *partitions, size_t npartitions),
			void *arg);

#endif
