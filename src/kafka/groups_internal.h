/*
 * The group coordinator's objects (groups.c), shared with the group view
 * it registers for the management API (group_view.c).
 *
 * Must not depend on: src/amqp.
 */
#ifndef TANDEM_KAFKA_GROUPS_INTERNAL_H
#define TANDEM_KAFKA_GROUPS_INTERNAL_H

#include <stdint.h>

#include <event2/event.h>

#include "core/map.h"
#include "kafka/kf.h"

enum gstate { G_EMPTY, G_PREPARING, G_COMPLETING, G_STABLE };
/* Kafka's names of the states, indexed by enum gstate. */
extern const char *const kf_group_state_names[];

struct group;

struct proto_meta {
	char *name;        /* owned */
	uint8_t *meta;     /* owned */
	int32_t len;
};

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
	char *id;                /* owned */
	char *client_id;         /* owned */
	char *client_host;       /* owned */
	int32_t session_timeout_ms, rebalance_timeout_ms;
	int nprotos;
	struct proto_meta *protos; /* owned, the member's preference order */
	uint8_t *assignment;     /* owned */
	int32_t assignment_len;
	struct event *session_timer; /* owned */
	struct join_park *join;  /* parked JoinGroup, or NULL */
	struct sync_park *sync;  /* parked SyncGroup, or NULL */
	struct group *g;         /* borrowed */
	struct member *next;     /* join order */
	struct kf_conn *kc;      /* borrowed: where its last JoinGroup came from,
				    NULL once that connection closed */
	struct member *kc_prev, *kc_next; /* kc->members */
	uint64_t meta_bytes;     /* its protocols' names and metadata */
};

struct group {
	char *id;                /* owned */
	enum gstate state;
	int32_t generation;
	char *protocol_type;     /* owned; NULL while Empty */
	char *protocol;          /* owned; chosen at the last completion */
	char *leader;            /* owned member id copy, or NULL */
	struct member *members;  /* owned list */
	int nmembers;
	int initial;             /* the first rebalance's delay is running */
	int64_t initial_deadline_ms;
	struct event *timer;     /* owned: initial delay / rebalance timeout */
	struct event *check_ev;  /* owned: "maybe complete" next loop turn */
	struct kf_groups *gs;    /* borrowed */
};

struct kf_groups {
	struct kf_server *srv;   /* borrowed */
	struct tdm_map groups;   /* id -> struct group (owned) */
	uint64_t next_member;
};

/* Registers / removes the group view of gs (group_view.c). */
void kf_group_view_start(struct kf_groups *gs);
void kf_group_view_stop(struct kf_groups *gs);
/* Removes group id[0..len) from gs and frees it when it is Empty
 * (DeleteGroups): 0 (also when unknown), -1 when it has members. */
int kf_group_drop(struct kf_groups *gs, const char *id, size_t len);

#endif
