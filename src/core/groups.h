/*
 * Consumer groups, protocol-neutral: the one place that holds a group's
 * membership (members, generation, chosen protocol, leader, each member's
 * assignment bytes), its committed offsets (kept by logstore in its
 * compacted internal topic) and its lag.  The Kafka front end drives the
 * membership protocol (JoinGroup/SyncGroup/Heartbeat/LeaveGroup: wire
 * handling, timers, parked requests) over these objects; the management
 * API reads the same objects and commits through the same calls, and so
 * will replication.
 *
 * Objects: a group (struct tdm_group) and its members (struct
 * tdm_group_member) are embedded by the coordinating front end at the
 * start of its own objects (it allocates them; core links them in and
 * hands them back), so that its timers and parked requests sit next to
 * the state.  Fields are read freely; membership changes go through the
 * tdm_group_* calls below.  Strings and byte arrays in them are owned by
 * the object (freed by tdm_group_member_clear / tdm_group_clear).
 *
 * Loop thread only.  Must not depend on: libevent, protocol front ends.
 */
#ifndef TANDEM_CORE_GROUPS_H
#define TANDEM_CORE_GROUPS_H

#include <stddef.h>
#include <stdint.h>

#include "core/topic_types.h"

struct tdm_topics;
struct tdm_groups;

/* States, with Kafka's names (tdm_group_state_name). */
enum tdm_group_state {
	TDM_GROUP_EMPTY,
	TDM_GROUP_PREPARING,  /* PreparingRebalance: collecting joins */
	TDM_GROUP_COMPLETING, /* CompletingRebalance: waiting for the leader's assignment */
	TDM_GROUP_STABLE,
};
/* "Empty", "PreparingRebalance", "CompletingRebalance", "Stable". */
const char *tdm_group_state_name(enum tdm_group_state s);

/* One protocol a member supports, with its metadata (opaque bytes). */
struct tdm_group_proto {
	char *name;    /* owned */
	uint8_t *meta; /* owned; NULL once dropped (the member must rejoin) */
	int32_t len;
};

struct tdm_group_member {
	char *id;          /* owned */
	char *client_id;   /* owned */
	char *client_host; /* owned */
	char *instance_id; /* owned: a static member's group.instance.id (Kafka's
			      KIP-345), which outlives its member id; NULL: dynamic */
	int32_t session_timeout_ms, rebalance_timeout_ms;
	int nprotos;
	struct tdm_group_proto *protos; /* owned, the member's preference order */
	uint8_t *assignment;            /* owned: the leader's bytes for it, or NULL */
	int32_t assignment_len;
	struct tdm_group *group;        /* borrowed: set while linked */
	struct tdm_group_member *next;  /* join order */
};

struct tdm_group {
	char *id; /* owned */
	enum tdm_group_state state;
	int32_t generation;
	char *protocol_type; /* owned; NULL while Empty */
	char *protocol;      /* owned; chosen at the last rebalance */
	char *leader;        /* owned copy of the leader's member id, or NULL */
	struct tdm_group_member *members; /* linked, in join order (not owned) */
	int nmembers;
	struct tdm_groups *gs; /* borrowed: set while registered */
};

/* What the coordinating front end lends core. */
struct tdm_group_coordinator {
	/* Frees a group core dropped (an Empty group deleted by tdm_groups_forget),
	 * already unregistered and with no members. */
	void (*free_group)(void *ctx, struct tdm_group *g);
	/* Decodes member m's assignment bytes into topics and partitions,
	 * calling fn once per topic; 1 when they are in the form the group's
	 * protocol type defines (Kafka's consumer protocol), else 0.  NULL:
	 * never decoded. */
	int (*assignment)(void *ctx, const struct tdm_group *g, const struct tdm_group_member *m,
			  void (*fn)(void *arg, const char *topic, size_t topic_len,
				     const int32_t *partitions, size_t npartitions),
			  void *arg);
};

/* A new, empty set of groups over topics (borrowed; committed offsets are
 * in its store).  NULL on allocation failure. */
struct tdm_groups *tdm_groups_new(struct tdm_topics *topics);
/* Frees gs; the coordinator must have removed its groups.  NULL is fine. */
void tdm_groups_free(struct tdm_groups *gs);
/* Sets (or with NULL ops, clears) the coordinator of gs; ops static. */
void tdm_groups_set_coordinator(struct tdm_groups *gs, const struct tdm_group_coordinator *ops,
				void *ctx);

/* ---- membership ---------------------------------------------------------- */

/* Group id[0..len), or NULL. */
struct tdm_group *tdm_groups_find(struct tdm_groups *gs, const char *id, size_t len);
/* Registers g (g->id set, the rest zero: Empty, generation 0).  0, or -1
 * (no memory, or the id is taken). */
int tdm_groups_add(struct tdm_groups *gs, struct tdm_group *g);
/* Unregisters g (its members stay linked to it). */
void tdm_groups_remove(struct tdm_groups *gs, struct tdm_group *g);
/* Steps through the groups: the next one from *pos (start at 0), or NULL. */
struct tdm_group *tdm_groups_next(struct tdm_groups *gs, size_t *pos);
size_t tdm_groups_count(const struct tdm_groups *gs);

/* Member id[0..len) of g, or NULL. */
struct tdm_group_member *tdm_group_member_find(struct tdm_group *g, const char *id, size_t len);
/* The static member of g whose instance id is id[0..len), or NULL. */
struct tdm_group_member *tdm_group_member_find_instance(struct tdm_group *g, const char *id,
							size_t len);
/* A static member rejoins under a new member id: m takes new_id (malloc'd,
 * taken over) and keeps everything else (instance id, protocols,
 * assignment); the group's leader follows it.  Returns m's old id, the
 * caller's to free. */
char *tdm_group_member_rename(struct tdm_group_member *m, char *new_id);
/* Links m (allocated by the front end, fields filled) at the end of g. */
void tdm_group_member_link(struct tdm_group *g, struct tdm_group_member *m);
/* Unlinks m from its group (which forgets it as leader). */
void tdm_group_member_unlink(struct tdm_group_member *m);
/* Frees what m owns (strings, instance id, protocols, assignment); m
 * itself stays. */
void tdm_group_member_clear(struct tdm_group_member *m);
/* The protocol `name` of m, or NULL. */
const struct tdm_group_proto *tdm_group_member_proto(const struct tdm_group_member *m,
						     const char *name);
/* Sets m's session timeout and rebalance timeout (<= 0: the session
 * timeout, as for JoinGroup v0), in ms. */
void tdm_group_member_set_timeouts(struct tdm_group_member *m, int32_t session_ms,
				   int32_t rebalance_ms);
/* Replaces m's protocols with p[0..n) (taken over: malloc'd array and
 * strings). */
void tdm_group_member_set_protos(struct tdm_group_member *m, struct tdm_group_proto *p, int n);
/* Drops m's protocol metadata (kept: the names), e.g. when the connection
 * it joined from closed: only a member that joins again takes part in a
 * rebalance, and that join brings the metadata anew. */
void tdm_group_member_drop_meta(struct tdm_group_member *m);
/* Replaces m's assignment with a copy of bytes[0..len).  0 or -1. */
int tdm_group_set_assignment(struct tdm_group_member *m, const void *bytes, int32_t len);
/* Sets g's protocol type to a copy of type[0..len) (a join to an Empty
 * group).  0 or -1. */
int tdm_group_set_protocol_type(struct tdm_group *g, const char *type, size_t len);
/* Kafka's protocol vote: among the protocols every member supports, each
 * member votes for the first of its own list; most votes wins (ties: the
 * first member's order).  NULL when there is none in common. */
const char *tdm_group_choose_protocol(const struct tdm_group *g);
/* A rebalance completes with `protocol` (tdm_group_choose_protocol): the
 * next generation, the first member leads when no leader is left, every
 * assignment is cleared, and g waits for the leader's (Completing).
 * 0, or -1 when memory is short. */
int tdm_group_complete_join(struct tdm_group *g, const char *protocol);
/* Moves g to PreparingRebalance or Stable (the coordinator decides when). */
void tdm_group_set_state(struct tdm_group *g, enum tdm_group_state s);
/* Back to Empty: next generation, no protocol, type or leader. */
void tdm_group_go_empty(struct tdm_group *g);
/* Frees what g owns (id, protocol strings); g itself stays. */
void tdm_group_clear(struct tdm_group *g);

/* Status of a commit against the membership (tdm_groups_check_commit). */
enum {
	TDM_GROUP_OK = 0,
	TDM_GROUP_ILLEGAL_GENERATION = -1,
	TDM_GROUP_REBALANCING = -2,
	TDM_GROUP_UNKNOWN_MEMBER = -3,
	TDM_GROUP_FENCED = -4, /* the instance id belongs to another member id */
};
/*
 * Is (member, instance) a current member of g?  Kafka's check of who sends
 * a group request: with an instance id (non-NULL) it must be known and
 * mapped to this member id (TDM_GROUP_FENCED when another member id has it
 * now: an older incarnation of a restarted static member;
 * TDM_GROUP_UNKNOWN_MEMBER when no member has it); without one the member
 * id must be known.  *who (may be NULL) gets the member on TDM_GROUP_OK,
 * else NULL.
 */
int tdm_group_check_member(struct tdm_group *g, const char *member, size_t member_len,
			   const char *instance, size_t instance_len,
			   struct tdm_group_member **who);
/*
 * May (generation, member) commit offsets for group id[0..len)?  A group
 * with no live members (unknown or Empty) takes only "simple" commits
 * (generation < 0); otherwise a static member's instance id (NULL: none
 * given) must be its own (tdm_group_check_member), the member must be
 * known and the generation current, and no rebalance may be completing.
 * *who (may be NULL) gets the member on TDM_GROUP_OK, else NULL.
 */
int tdm_groups_check_commit(struct tdm_groups *gs, const char *id, size_t len,
			    int32_t generation, const char *member, size_t member_len,
			    const char *instance, size_t instance_len,
			    struct tdm_group_member **who);
/* 1 when group id[0..len) has live members (it is not Empty). */
int tdm_groups_busy(struct tdm_groups *gs, const char *id, size_t len);
/*
 * Kafka's DeleteGroups: deletes an Empty (or unknown) group's committed
 * offsets, then drops the group object through the coordinator's
 * free_group.  TDM_TOPIC_OK, 1 when the group has live members (nothing done),
 * TDM_REPL_NOT_LEADER (tdm_groups_set_follower), or a storage error (TDM_ERR_IO; the group object stays).
 */
int tdm_groups_forget(struct tdm_groups *gs, const char *id, size_t len);

/* Kafka's OffsetDelete: the committed offsets of group's partitions[0..n)
 * of topic go (tombstones in the offsets log; the caller checked the group
 * does not consume the topic).  TDM_TOPIC_OK, TDM_REPL_NOT_LEADER
 * (tdm_groups_set_follower), or a storage error. */
int tdm_groups_delete_offsets(struct tdm_groups *gs, const char *group, const char *topic,
			      const int32_t *partitions, size_t n);
/* 1 when a live member of g subscribes to topic: the consumer protocol's
 * subscription in its metadata for g's protocol lists it, or (metadata
 * dropped or not in that form) its assignment has it, or neither can be
 * read (assumed so). */
int tdm_group_subscribes(struct tdm_groups *gs, const struct tdm_group *g, const char *topic);

/* Reading the membership for a management view. */
typedef void (*tdm_group_assigned_fn)(void *arg, const char *topic, size_t topic_len,
				      const int32_t *partitions, size_t npartitions);
/* Calls fn per topic of m's decoded assignment; 1 when decoded (see
 * struct tdm_group_coordinator), 0 when not. */
int tdm_group_member_assignment(struct tdm_groups *gs, const struct tdm_group *g,
				const struct tdm_group_member *m, tdm_group_assigned_fn fn,
				void *arg);

/* ---- committed offsets and lag --------------------------------------------- */

/* The internal topic committed offsets are kept in (one partition): in a
 * cluster it is replicated like any topic, and the leader of its
 * partition 0 coordinates every group. */
#define TDM_GROUPS_TOPIC "__consumer_offsets"
/* Partition 0 of TDM_GROUPS_TOPIC (borrowed), or NULL. */
struct ls_partition *tdm_groups_log(struct tdm_groups *gs);
/*
 * Rebuilds the committed offsets from TDM_GROUPS_TOPIC's log as it is now
 * (a replica's appends do not update them: a node that becomes the
 * coordinator replays what it replicated).  TDM_TOPIC_OK, or a storage
 * error (TDM_ERR_IO, TDM_ERR_NOMEM, ...: the offsets hold what was read).
 */
int tdm_groups_reload(struct tdm_groups *gs);
/*
 * follower 1: in a cluster, this node does not lead TDM_GROUPS_TOPIC: its
 * log is a replica only the leader writes, so tdm_groups_commit and
 * tdm_groups_forget answer TDM_REPL_NOT_LEADER and deleting a topic
 * leaves its committed offsets to the leader.  0 (the default, and the
 * single node): they write.
 */
void tdm_groups_set_follower(struct tdm_groups *gs, int follower);

struct tdm_offset_commit {
	const char *topic;
	int32_t partition;
	int64_t offset;       /* the next offset to read */
	const char *metadata; /* NULL: none */
};
/* Stores committed offsets of `group` (durable under the internal topic's
 * flush policy), as one batch appended to tdm_groups_log (whose readers,
 * replica fetchers among them, are woken).  TDM_TOPIC_OK, TDM_REPL_NOT_LEADER
 * (tdm_groups_set_follower), TDM_ERR_INVALID (empty group, strings over 32767
 * bytes), TDM_ERR_NOMEM, TDM_ERR_IO. */
int tdm_groups_commit(struct tdm_groups *gs, const char *group, const struct tdm_offset_commit *c,
		      size_t n);
/* The committed offset of (group, topic, partition): TDM_TOPIC_OK with *offset
 * and *metadata (may be NULL; borrowed until the next commit), or
 * TDM_ERR_NOT_FOUND. */
int tdm_groups_committed(struct tdm_groups *gs, const char *group, const char *topic,
			 int32_t partition, int64_t *offset, const char **metadata);

/* One committed offset with its partition's end and the group's lag there. */
struct tdm_group_offset {
	const char *group, *topic; /* borrowed for the callback */
	int32_t partition;
	int64_t offset;
	const char *metadata;      /* NULL: none */
	int64_t log_end;           /* -1 when the partition is gone */
	int64_t lag;               /* log_end - offset, at least 0; 0 when gone */
};
typedef void (*tdm_group_offset_fn)(void *ctx, const struct tdm_group_offset *o);
/* fn for every committed offset of `group` (NULL: every group), in no
 * particular order; fn must not commit or delete. */
void tdm_groups_offsets(struct tdm_groups *gs, const char *group, tdm_group_offset_fn fn,
			void *ctx);
/* 1 when `group` has committed offsets. */
int tdm_groups_has_offsets(struct tdm_groups *gs, const char *group);
/* fn once for each group known only by committed offsets (no group
 * object: e.g. after a restart), in no particular order; group is
 * borrowed for the call, and fn must not commit or delete. */
void tdm_groups_offset_only(struct tdm_groups *gs, void (*fn)(void *ctx, const char *group),
			    void *ctx);
/*
 * Where `group` reads p of topic from: its committed offset clamped into
 * [log start, log end], or the log start when none (or it fell below).
 * *committed (may be NULL) gets the committed offset or -1, and *lag (may
 * be NULL) the records from there to the end.
 */
uint64_t tdm_groups_position(struct tdm_groups *gs, const char *group, struct ls_topic *topic,
			     struct ls_partition *p, int64_t *committed, uint64_t *lag);

#endif
