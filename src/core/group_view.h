/*
 * The group view: a read-mostly window on consumer-group membership,
 * protocol-neutral.  Group membership (members, generation, chosen
 * protocol, assignments) lives in the front end that coordinates groups
 * (the Kafka front end); it registers these callbacks at start, and the
 * management API and /metrics call them without knowing that front end,
 * as the connection registry (registry.h) does for connections.
 * Committed offsets are not here: they are in logstore (core/topics.h).
 *
 * One process-wide slot, owned by the event-loop thread.  Everything
 * handed to a callback is borrowed for the duration of that call.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#ifndef TANDEM_CORE_GROUP_VIEW_H
#define TANDEM_CORE_GROUP_VIEW_H

#include <stddef.h>
#include <stdint.h>

/* One topic of a member's assignment: the partitions it was given. */
struct tdm_group_assigned {
	const char *topic;
	size_t topic_len;
	const int32_t *partitions;
	size_t npartitions;
};

struct tdm_group_member {
	const char *member_id, *client_id, *client_host;
	int32_t assignment_len;      /* bytes of the raw assignment (0: none yet) */
	int assignment_decoded;      /* 1: topics[] decodes the consumer protocol's
					Assignment; 0: other protocol, or malformed */
	const struct tdm_group_assigned *topics;
	size_t ntopics;
};

/* States use Kafka's names: Empty, PreparingRebalance,
 * CompletingRebalance, Stable (Dead: a group nobody knows). */
struct tdm_group_info {
	const char *group;
	const char *state;
	const char *protocol_type;   /* NULL while Empty */
	const char *protocol;        /* NULL until a rebalance chose one */
	const char *leader;          /* member id, NULL when none */
	int32_t generation;
	int nmembers;
	const void *handle;          /* the front end's group, for members() */
};

typedef void (*tdm_group_fn)(void *arg, const struct tdm_group_info *g);
typedef void (*tdm_group_member_fn)(void *arg, const struct tdm_group_member *m);

struct tdm_group_view_ops {
	/* fn for every group the coordinator knows, in no particular order. */
	void (*foreach)(void *ctx, tdm_group_fn fn, void *arg);
	/* fn for group name[0..len) and 1, or 0 when unknown. */
	int (*find)(void *ctx, const char *name, size_t len, tdm_group_fn fn, void *arg);
	/* fn for each member of the group given to a foreach/find callback,
	 * in join order; only from inside that callback. */
	void (*members)(void *ctx, const void *handle, tdm_group_member_fn fn, void *arg);
	/* Drops an Empty group (Kafka's DeleteGroups): 0 (also when
	 * unknown), -1 when it has members. */
	int (*forget)(void *ctx, const char *name, size_t len);
};

/* Registers the view (ops borrowed, static).  A second registration
 * replaces the first. */
void tdm_group_view_register(const struct tdm_group_view_ops *ops, void *ctx);
/* Removes the view if ctx registered it. */
void tdm_group_view_unregister(void *ctx);

/* The calls, answering "no groups" while no view is registered. */
void tdm_group_view_foreach(tdm_group_fn fn, void *arg);
int tdm_group_view_find(const char *name, size_t len, tdm_group_fn fn, void *arg);
void tdm_group_view_members(const struct tdm_group_info *g, tdm_group_member_fn fn, void *arg);
int tdm_group_view_forget(const char *name, size_t len);
/* 1 when the group has live members (its state is not Empty). */
int tdm_group_view_busy(const char *name, size_t len);

#endif
