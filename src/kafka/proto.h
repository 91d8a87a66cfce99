/*
 * Kafka request decoding: bounds-checked cursors over one complete frame,
 * a per-request arena, and one decoder per API turning the request body
 * into a plain struct (plan A versions of /shared/kafka-protocol.md: no
 * flexible encodings).  Strings and byte fields are slices of the frame
 * (valid while the frame is); arrays live in the arena.
 *
 * Must not depend on: libevent, the broker core, logstore (the fuzz target
 * links this file alone).
 */
#ifndef TANDEM_KAFKA_PROTO_H
#define TANDEM_KAFKA_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* API keys, spelled as in the Kafka schema files. */
enum {
	KF_PRODUCE = 0,
	KF_FETCH = 1,
	KF_LIST_OFFSETS = 2,
	KF_METADATA = 3,
	KF_OFFSET_COMMIT = 8,
	KF_OFFSET_FETCH = 9,
	KF_FIND_COORDINATOR = 10,
	KF_JOIN_GROUP = 11,
	KF_HEARTBEAT = 12,
	KF_LEAVE_GROUP = 13,
	KF_SYNC_GROUP = 14,
	KF_DESCRIBE_GROUPS = 15,
	KF_LIST_GROUPS = 16,
	KF_SASL_HANDSHAKE = 17,
	KF_API_VERSIONS = 18,
	KF_CREATE_TOPICS = 19,
	KF_DELETE_TOPICS = 20,
	KF_DELETE_RECORDS = 21,
	KF_INIT_PRODUCER_ID = 22,
	KF_OFFSET_FOR_LEADER_EPOCH = 23,
	KF_ADD_PARTITIONS_TO_TXN = 24,
	KF_ADD_OFFSETS_TO_TXN = 25,
	KF_END_TXN = 26,
	KF_WRITE_TXN_MARKERS = 27,
	KF_TXN_OFFSET_COMMIT = 28,
	KF_DESCRIBE_ACLS = 29,
	KF_CREATE_ACLS = 30,
	KF_DELETE_ACLS = 31,
	KF_DESCRIBE_CONFIGS = 32,
	KF_ALTER_CONFIGS = 33,
	KF_INCREMENTAL_ALTER_CONFIGS = 44,
	KF_DELETE_GROUPS = 42,
	KF_OFFSET_DELETE = 47,
	KF_DESCRIBE_CLUSTER = 60,
	KF_SASL_AUTHENTICATE = 36,
	KF_CREATE_PARTITIONS = 37,
	KF_DESCRIBE_LOG_DIRS = 35,
};

/* Frame parsing results. */
#define KF_AGAIN 0       /* incomplete: wait for more input */
#define KF_BAD (-1)      /* malformed: close the connection */
#define KF_TOO_BIG (-2)  /* size over the configured limit */

/* A classic (int16-length) string; len < 0 is null. */
struct kf_str {
	const char *p;
	int32_t len;
};
/* Classic int32-length bytes; len < 0 is null. */
struct kf_bytes {
	const uint8_t *p;
	int32_t len;
};

/* A cursor over a complete frame: reading past the end sets bad and
 * returns zeros, so decoders check once at the end.  flex: the body is of
 * a flexible version (KIP-482): strings, bytes and arrays are compact
 * (unsigned varint length + 1, 0 for null) and each struct ends with
 * tagged fields (kf_end_struct); the decoders are the same for both. */
struct kf_cur {
	const uint8_t *p, *end;
	int bad;
	int flex;
};

/* Allocation for one request's decoded arrays; freed (or reset) at once. */
struct kf_arena_block;
struct kf_arena {
	struct kf_arena_block *head; /* owned list */
	size_t used_total;
};

void kf_arena_init(struct kf_arena *a);
/* Zeroed memory for n bytes (n > 0), NULL on failure; lives until reset. */
void *kf_arena_alloc(struct kf_arena *a, size_t n);
/* Frees every block but the first, which is kept for reuse. */
void kf_arena_reset(struct kf_arena *a);
void kf_arena_free(struct kf_arena *a);

void kf_cur_init(struct kf_cur *c, const void *p, size_t len);
int8_t kf_get_i8(struct kf_cur *c);
int16_t kf_get_i16(struct kf_cur *c);
int32_t kf_get_i32(struct kf_cur *c);
int64_t kf_get_i64(struct kf_cur *c);
/* A uuid (16 bytes; zeros when short: the cursor is then bad). */
void kf_get_uuid(struct kf_cur *c, uint8_t out[16]);
struct kf_str kf_get_str(struct kf_cur *c);
struct kf_bytes kf_get_bytes(struct kf_cur *c);
/* Array count; -1 is null (allowed only when nullable).  A count that
 * cannot fit in what is left (min_elem bytes each) marks the cursor bad. */
int32_t kf_get_array(struct kf_cur *c, size_t min_elem, int nullable);
size_t kf_cur_left(const struct kf_cur *c);
/* The end of a struct (the body, an array element): its tagged fields
 * are skipped in a flexible version, nothing otherwise. */
void kf_end_struct(struct kf_cur *c);

/*
 * Frame: int32 size then size bytes.  Returns the size of the body (> 0)
 * when buf[0..len) holds the whole frame, KF_AGAIN when more is needed,
 * KF_BAD for a size below the smallest header, KF_TOO_BIG above max.
 */
long kf_frame_size(const uint8_t *buf, size_t len, size_t max);

/* Request header v1 (v2 for flexible versions: tags after client_id). */
struct kf_header {
	int16_t api_key;
	int16_t api_version;
	int32_t correlation_id;
	struct kf_str client_id;
};
/* Decodes the header; leaves c at the body.  0 or KF_BAD.  flexible
 * (header v2) skips the tagged fields. */
int kf_decode_header(struct kf_cur *c, struct kf_header *h);
int kf_skip_tags(struct kf_cur *c);
/* The first flexible (KIP-482) version of API key, as the protocol
 * defines it (whether or not this broker serves it), or -1: none. */
int kf_first_flexible(int16_t key);

/* ---- request bodies ---------------------------------------------------- */

struct kf_metadata_req {
	int32_t ntopics; /* -1: all topics */
	struct kf_str *topics;            /* null names from v10: by topic id */
	uint8_t (*topic_ids)[16];         /* v10+; NULL before */
	int8_t allow_auto_topic_creation; /* v4; 1 before */
	int8_t include_cluster_ops;       /* v8-10 */
	int8_t include_topic_ops;         /* v8+ */
};

struct kf_produce_part {
	int32_t index;
	struct kf_bytes records;
};
struct kf_produce_topic {
	struct kf_str name;
	int32_t nparts;
	struct kf_produce_part *parts;
};
struct kf_produce_req {
	struct kf_str transactional_id;
	int16_t acks;
	int32_t timeout_ms;
	int32_t ntopics;
	struct kf_produce_topic *topics;
};

struct kf_fetch_part {
	int32_t index;
	int32_t current_leader_epoch; /* v9+; -1 before */
	int64_t fetch_offset;
	int32_t last_fetched_epoch;   /* v12+; -1 before */
	int64_t log_start_offset; /* v5+: a follower's log start, else -1 */
	int32_t partition_max_bytes;
};
struct kf_fetch_topic {
	struct kf_str name;       /* v0-12 */
	uint8_t id[16];           /* v13+ (zeros before) */
	int32_t nparts;
	struct kf_fetch_part *parts;
};
/* v7+: partitions an incremental fetch drops from its session. */
struct kf_fetch_forgotten {
	struct kf_str name;       /* v7-12 */
	uint8_t id[16];           /* v13+ */
	int32_t nparts;
	int32_t *parts;
};
struct kf_fetch_req {
	int32_t replica_id;
	int32_t max_wait_ms;
	int32_t min_bytes;
	int32_t max_bytes;
	int8_t isolation_level;
	int32_t session_id;       /* v7+: 0 none */
	int32_t session_epoch;    /* v7+: -1 (full, sessionless) before */
	int32_t ntopics;
	struct kf_fetch_topic *topics;
	int32_t nforgotten;       /* v7+ */
	struct kf_fetch_forgotten *forgotten;
	struct kf_str rack_id;    /* v11+: the client's rack (client.rack), "" none */
};

struct kf_list_offsets_part {
	int32_t index;
	int32_t current_leader_epoch; /* v4+; -1 before */
	int64_t timestamp;
};
struct kf_list_offsets_topic {
	struct kf_str name;
	int32_t nparts;
	struct kf_list_offsets_part *parts;
};
struct kf_list_offsets_req {
	int32_t replica_id;
	int8_t isolation_level; /* v2+: 1 read_committed */
	int32_t ntopics;
	struct kf_list_offsets_topic *topics;
};

struct kf_commit_part {
	int32_t index;
	int64_t offset;
	int32_t leader_epoch; /* committed_leader_epoch, v6+; -1 before */
	struct kf_str metadata;
};
struct kf_commit_topic {
	struct kf_str name;
	int32_t nparts;
	struct kf_commit_part *parts;
};
struct kf_offset_commit_req {
	struct kf_str group_id;
	int32_t generation_id;
	struct kf_str member_id;
	struct kf_str group_instance_id; /* v7+; null before */
	int64_t retention_time_ms;       /* v2-4; -1 otherwise */
	int32_t ntopics;
	struct kf_commit_topic *topics;
};

struct kf_offset_fetch_topic {
	struct kf_str name;
	int32_t nparts;
	int32_t *parts;
};
/* One group of OffsetFetch v8's batch. */
struct kf_offset_fetch_group {
	struct kf_str group_id;
	int32_t ntopics; /* -1: all */
	struct kf_offset_fetch_topic *topics;
};
/* v1-7 name one group (group_id, topics); v8 a batch (groups). */
struct kf_offset_fetch_req {
	struct kf_str group_id;
	int32_t ntopics; /* -1: all (v2+ only; refused before) */
	struct kf_offset_fetch_topic *topics;
	int32_t ngroups; /* v8+ */
	struct kf_offset_fetch_group *groups;
	int8_t require_stable; /* v7+ */
};

/* v0-3 name one key (keys[0]), v4 a batch; key_type v1+ (0 group, 1
 * transaction). */
struct kf_find_coordinator_req {
	int8_t key_type;
	int32_t nkeys;
	struct kf_str *keys;
};

struct kf_protocol {
	struct kf_str name;
	struct kf_bytes metadata;
};
struct kf_join_group_req {
	struct kf_str group_id;
	int32_t session_timeout_ms;
	int32_t rebalance_timeout_ms; /* v1+; session timeout before */
	struct kf_str member_id;
	struct kf_str group_instance_id; /* v5+; null before */
	struct kf_str protocol_type;
	int32_t nprotocols;
	struct kf_protocol *protocols;
	struct kf_str reason; /* v8+; null before */
};

struct kf_heartbeat_req {
	struct kf_str group_id;
	int32_t generation_id;
	struct kf_str member_id;
	struct kf_str group_instance_id; /* v3+; null before */
};

struct kf_leave_member {
	struct kf_str member_id;
	struct kf_str group_instance_id; /* null: none */
	struct kf_str reason;            /* v5+; null before */
};
/* v0-2 name one member (members[0], no instance id); v3 a batch. */
struct kf_leave_group_req {
	struct kf_str group_id;
	int32_t nmembers;
	struct kf_leave_member *members;
};

struct kf_assignment {
	struct kf_str member_id;
	struct kf_bytes assignment;
};
struct kf_sync_group_req {
	struct kf_str group_id;
	int32_t generation_id;
	struct kf_str member_id;
	struct kf_str group_instance_id; /* v3+; null before */
	struct kf_str protocol_type;     /* v5+; null before (not checked) */
	struct kf_str protocol_name;     /* v5+; null before (not checked) */
	int32_t nassignments;
	struct kf_assignment *assignments;
};

struct kf_describe_groups_req {
	int32_t ngroups;
	struct kf_str *groups;
	int8_t include_authorized_operations; /* v3+ */
};

struct kf_config_kv {
	struct kf_str name;
	struct kf_str value;
};
/* One partition's replicas in an explicit CreateTopics assignment. */
struct kf_replica_assignment {
	int32_t partition_index;
	int32_t nbrokers;
	int32_t *brokers;
};
struct kf_create_topic {
	struct kf_str name;
	int32_t num_partitions;
	int16_t replication_factor;
	int32_t nassignments;
	struct kf_replica_assignment *assignments;
	struct kf_config_kv *configs;
	int32_t nconfigs;
};
struct kf_create_topics_req {
	int32_t ntopics;
	struct kf_create_topic *topics;
	int32_t timeout_ms;
	int8_t validate_only;
};

struct kf_delete_topics_req {
	int32_t ntopics;
	struct kf_str *topics;    /* v6: null when named by id */
	uint8_t (*topic_ids)[16]; /* v6+; NULL before */
	int32_t timeout_ms;
};

struct kf_create_partitions_topic {
	struct kf_str name;
	int32_t count;
	int32_t nassignments; /* -1: null */
};
struct kf_create_partitions_req {
	int32_t ntopics;
	struct kf_create_partitions_topic *topics;
	int32_t timeout_ms;
	int8_t validate_only;
};

/* DescribeConfigs v0-2 (v1 adds include_synonyms; v2 is v1). */
enum { KF_RESOURCE_TOPIC = 2, KF_RESOURCE_BROKER = 4 };
struct kf_describe_configs_resource {
	int8_t type;         /* KF_RESOURCE_* (others are refused per resource) */
	struct kf_str name;
	int32_t nkeys;       /* -1: null, every config */
	struct kf_str *keys;
};
struct kf_describe_configs_req {
	int32_t nresources;
	struct kf_describe_configs_resource *resources;
	int8_t include_synonyms; /* v1+; 0 before */
	int8_t include_documentation; /* v3+; 0 before */
};

/* AlterConfigs v0-1 (v1 is v0) and IncrementalAlterConfigs v0: op is
 * KF_CONFIG_SET for AlterConfigs. */
enum { KF_CONFIG_SET = 0, KF_CONFIG_DELETE = 1, KF_CONFIG_APPEND = 2, KF_CONFIG_SUBTRACT = 3 };
struct kf_alter_config {
	struct kf_str name;
	int8_t op;
	struct kf_str value; /* len < 0: null */
};
struct kf_alter_configs_resource {
	int8_t type;
	struct kf_str name;
	int32_t nconfigs;
	struct kf_alter_config *configs;
};
struct kf_alter_configs_req {
	int32_t nresources;
	struct kf_alter_configs_resource *resources;
	int8_t validate_only;
};

/* InitProducerId v0-4 (v1 is v0, v2 flexible, v3 adds the producer's
 * current id and epoch, v4 is v3). */
struct kf_init_producer_id_req {
	struct kf_str transactional_id; /* null: an idempotent producer */
	int32_t transaction_timeout_ms;
	int64_t producer_id;    /* v3+; -1 before */
	int16_t producer_epoch; /* v3+; -1 before */
};

/* The transaction APIs (txn_decode.c), v0-3 each (v3 flexible).  Every
 * one names the transaction and the producer it belongs to. */
struct kf_txn_producer {
	struct kf_str transactional_id;
	int64_t producer_id;
	int16_t producer_epoch;
};
/* AddPartitionsToTxn v0-3 (v1 is v0, v2 adds PRODUCER_FENCED). */
struct kf_txn_topic {
	struct kf_str name;
	int32_t nparts;
	int32_t *parts;
};
struct kf_add_partitions_txn_req {
	struct kf_txn_producer prod;
	int32_t ntopics;
	struct kf_txn_topic *topics;
};
/* AddOffsetsToTxn v0-3. */
struct kf_add_offsets_txn_req {
	struct kf_txn_producer prod;
	struct kf_str group_id;
};
/* EndTxn v0-3. */
struct kf_end_txn_req {
	struct kf_txn_producer prod;
	int8_t committed;
};
/* TxnOffsetCommit v0-3 (v2 the committed leader epoch, v3 the member's
 * generation, member id and group instance id, flexible). */
struct kf_txn_offset_part {
	int32_t index;
	int64_t offset;
	int32_t leader_epoch; /* v2+; -1 before */
	struct kf_str metadata; /* len < 0: null */
};
struct kf_txn_offset_topic {
	struct kf_str name;
	int32_t nparts;
	struct kf_txn_offset_part *parts;
};
struct kf_txn_offset_commit_req {
	struct kf_txn_producer prod;
	struct kf_str group_id;
	int32_t generation_id;   /* v3+; -1 before */
	struct kf_str member_id; /* v3+; "" before */
	struct kf_str instance;  /* v3+; null before */
	int32_t ntopics;
	struct kf_txn_offset_topic *topics;
};

/* WriteTxnMarkers v0-1 (v1 flexible): from a transaction coordinator to a
 * partition's leader (the inter-broker API).  Partitions reuse
 * kf_txn_topic. */
struct kf_txn_marker_entry {
	int64_t producer_id;
	int16_t producer_epoch;
	int8_t transaction_result; /* nonzero: commit */
	int32_t ntopics;
	struct kf_txn_topic *topics;
	int32_t coordinator_epoch;
};
struct kf_write_txn_markers_req {
	int32_t nmarkers;
	struct kf_txn_marker_entry *markers;
};

/* DeleteRecords v0-1 (v1 is v0). */
struct kf_delete_records_part {
	int32_t index;
	int64_t offset; /* -1: the high watermark */
};
struct kf_delete_records_topic {
	struct kf_str name;
	int32_t nparts;
	struct kf_delete_records_part *parts;
};
struct kf_delete_records_req {
	int32_t ntopics;
	struct kf_delete_records_topic *topics;
	int32_t timeout_ms;
};

/* OffsetDelete v0. */
struct kf_offset_delete_topic {
	struct kf_str name;
	int32_t nparts;
	int32_t *parts;
};
struct kf_offset_delete_req {
	struct kf_str group_id;
	int32_t ntopics;
	struct kf_offset_delete_topic *topics;
};

/* DeleteGroups v0-1 (v1 is v0). */
struct kf_delete_groups_req {
	int32_t ngroups;
	struct kf_str *groups;
};

/* OffsetForLeaderEpoch v0-3: v2 adds current_leader_epoch, v3 replica_id. */
struct kf_ofle_part {
	int32_t partition;
	int32_t current_leader_epoch; /* v2+; -1 before */
	int32_t leader_epoch;
};
struct kf_ofle_topic {
	struct kf_str topic;
	int32_t nparts;
	struct kf_ofle_part *parts;
};
struct kf_ofle_req {
	int32_t replica_id; /* v3+; -2 (Kafka's default: a debugging client) before */
	int32_t ntopics;
	struct kf_ofle_topic *topics;
};

/*
 * Each decoder reads the body of one request of version ver (already
 * checked against the API table) and must consume it exactly.  Returns 0,
 * or KF_BAD for a truncated, overlong or inconsistent body (the caller
 * closes the connection, as Kafka does) or when the arena runs out.
 */
int kf_decode_metadata(struct kf_cur *c, int ver, struct kf_arena *a, struct kf_metadata_req *r);
/* DescribeLogDirs v0-4 (v2+ flexible): topics, null for all. */
struct kf_log_dirs_topic {
	struct kf_str name;
	int32_t nparts;
	int32_t *parts;
};
struct kf_log_dirs_req {
	int32_t ntopics; /* -1: every topic */
	struct kf_log_dirs_topic *topics;
};
int kf_decode_describe_log_dirs(struct kf_cur *c, int ver, struct kf_arena *a,
				struct kf_log_dirs_req *r);
int kf_decode_produce(struct kf_cur *c, int ver, struct kf_arena *a, struct kf_produce_req *r);
int kf_decode_fetch(struct kf_cur *c, int ver, struct kf_arena *a, struct kf_fetch_req *r);
int kf_decode_list_offsets(struct kf_cur *c, int ver, struct kf_arena *a,
			   struct kf_list_offsets_req *r);
int kf_decode_offset_commit(struct kf_cur *c, int ver, struct kf_arena *a,
			    struct kf_offset_commit_req *r);
int kf_decode_offset_fetch(struct kf_cur *c, int ver, struct kf_arena *a,
			   struct kf_offset_fetch_req *r);
int kf_decode_find_coordinator(struct kf_cur *c, int ver, struct kf_arena *a,
			       struct kf_find_coordinator_req *r);
int kf_decode_join_group(struct kf_cur *c, int ver, struct kf_arena *a,
			 struct kf_join_group_req *r);
int kf_decode_heartbeat(struct kf_cur *c, int ver, struct kf_heartbeat_req *r);
int kf_decode_leave_group(struct kf_cur *c, int ver, struct kf_arena *a,
			  struct kf_leave_group_req *r);
int kf_decode_sync_group(struct kf_cur *c, int ver, struct kf_arena *a,
			 struct kf_sync_group_req *r);
int kf_decode_describe_groups(struct kf_cur *c, int ver, struct kf_arena *a,
			      struct kf_describe_groups_req *r);
/* ListGroups v0-4 (v4: states_filter, empty for every group). */
struct kf_list_groups_req {
	int32_t nstates;
	struct kf_str *states;
};
int kf_decode_list_groups(struct kf_cur *c, int ver, struct kf_arena *a,
			  struct kf_list_groups_req *r);
int kf_decode_api_versions(struct kf_cur *c, int ver);
int kf_decode_create_topics(struct kf_cur *c, int ver, struct kf_arena *a,
			    struct kf_create_topics_req *r);
int kf_decode_delete_topics(struct kf_cur *c, int ver, struct kf_arena *a,
			    struct kf_delete_topics_req *r);
int kf_decode_create_partitions(struct kf_cur *c, int ver, struct kf_arena *a,
				struct kf_create_partitions_req *r);
int kf_decode_offset_for_leader_epoch(struct kf_cur *c, int ver, struct kf_arena *a,
				      struct kf_ofle_req *r);
int kf_decode_describe_configs(struct kf_cur *c, int ver, struct kf_arena *a,
			       struct kf_describe_configs_req *r);
/* incremental: IncrementalAlterConfigs (each config has an operation). */
int kf_decode_alter_configs(struct kf_cur *c, int incremental, struct kf_arena *a,
			    struct kf_alter_configs_req *r);
/* The end of a body read field by field by its handler (0 or KF_BAD):
 * its tagged fields (flexible), then nothing may be left. */
int kf_decode_end(struct kf_cur *c);
int kf_decode_init_producer_id(struct kf_cur *c, int ver, struct kf_init_producer_id_req *r);
int kf_decode_add_partitions_txn(struct kf_cur *c, int ver, struct kf_arena *a,
				 struct kf_add_partitions_txn_req *r);
int kf_decode_add_offsets_txn(struct kf_cur *c, int ver, struct kf_add_offsets_txn_req *r);
int kf_decode_end_txn(struct kf_cur *c, int ver, struct kf_end_txn_req *r);
int kf_decode_txn_offset_commit(struct kf_cur *c, int ver, struct kf_arena *a,
				struct kf_txn_offset_commit_req *r);
int kf_decode_write_txn_markers(struct kf_cur *c, int ver, struct kf_arena *a,
				struct kf_write_txn_markers_req *r);
int kf_decode_delete_groups(struct kf_cur *c, int ver, struct kf_arena *a,
			    struct kf_delete_groups_req *r);
int kf_decode_delete_records(struct kf_cur *c, int ver, struct kf_arena *a,
			     struct kf_delete_records_req *r);
int kf_decode_offset_delete(struct kf_cur *c, int ver, struct kf_arena *a,
			    struct kf_offset_delete_req *r);

/* The ACL APIs v0-3 (acl_decode.c; v2+ flexible).  Enumerations as
 * Kafka's ResourceType, PatternType, AclOperation, AclPermissionType. */
enum {
	KF_ACL_RES_UNKNOWN = 0, KF_ACL_RES_ANY = 1, KF_ACL_RES_TOPIC = 2, KF_ACL_RES_GROUP = 3,
	KF_ACL_RES_CLUSTER = 4, KF_ACL_RES_TRANSACTIONAL_ID = 5, KF_ACL_RES_DELEGATION_TOKEN = 6,
	KF_ACL_RES_USER = 7,
};
enum {
	KF_ACL_PATTERN_UNKNOWN = 0, KF_ACL_PATTERN_ANY = 1, KF_ACL_PATTERN_MATCH = 2,
	KF_ACL_PATTERN_LITERAL = 3, KF_ACL_PATTERN_PREFIXED = 4,
};
enum {
	KF_ACL_PERM_UNKNOWN = 0, KF_ACL_PERM_ANY = 1, KF_ACL_PERM_DENY = 2, KF_ACL_PERM_ALLOW = 3,
};
/* A binding (CreateAcls) or a filter (DescribeAcls, DeleteAcls): a null
 * string in a filter matches any; operation as KF_OP_* (kf.h). */
struct kf_acl {
	int8_t resource_type;
	struct kf_str name;
	int8_t pattern_type; /* v1+; LITERAL before */
	struct kf_str principal;
	struct kf_str host;
	int8_t operation;
	int8_t permission_type;
};
struct kf_acls_req {
	int32_t n;
	struct kf_acl *acls; /* CreateAcls' creations, DeleteAcls' filters */
};
int kf_decode_describe_acls(struct kf_cur *c, int ver, struct kf_acl *r);
int kf_decode_create_acls(struct kf_cur *c, int ver, struct kf_arena *a, struct kf_acls_req *r);
int kf_decode_delete_acls(struct kf_cur *c, int ver, struct kf_arena *a, struct kf_acls_req *r);

/*
 * The consumer protocol's Assignment (ConsumerProtocolAssignment v0-3),
 * the bytes a "consumer" group's leader hands each member in SyncGroup:
 * version, [topic, [partition]], user data.  Not a request body: fields
 * newer versions append after the user data are ignored, and a missing
 * user data is tolerated.  Topic strings are slices of the input; the
 * arrays live in the arena.  0 or KF_BAD.
 */
struct kf_assigned_topic {
	struct kf_str topic;
	int32_t npartitions;
	int32_t *partitions;
};
struct kf_consumer_assignment {
	int16_t version;
	int32_t ntopics;
	struct kf_assigned_topic *topics;
	struct kf_bytes user_data; /* len -1: null or absent */
};
int kf_decode_consumer_assignment(const void *p, size_t len, struct kf_arena *a,
				  struct kf_consumer_assignment *out);

/* Copies s into buf as a C string when it is non-null, has no NUL and
 * fits (len < size); returns 0, else -1. */
int kf_str_cstr(struct kf_str s, char *buf, size_t size);
/* 1 when s equals the C string z. */
int kf_str_eq(struct kf_str s, const char *z);

#endif
