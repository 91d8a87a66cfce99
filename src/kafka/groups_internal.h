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

struct group {
	struct tdm_group c;      /* first: core's group */
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

/* Decodes a member's consumer-protocol Assignment for core's management
 * view (group_assign.c); see struct tdm_group_coordinator.assignment. */
int kf_group_assignment(void *ctx, const struct tdm_group *g, const struct tdm_group_member *m,
			void (*fn)(void *arg, const char *topic, size_t topic_len,
				   const int32_t *partitions, size_t npartitions),
			void *arg);

#endif
