/*
 * Internals of the Kafka front end: the server, a connection's request
 * state, response writers, the API table and its handlers, Kafka error
 * codes.
 *
 * Requests on one connection are answered in order, one at a time: while
 * a request is parked (Fetch long poll, acks=all Produce, JoinGroup,
 * SyncGroup) reading that socket stops, and kf_complete resumes it.
 *
 * Must not depend on: src/amqp, logstore (the logs and groups are reached
 * through core: core/topics.h, core/topic_ops.h, core/groups.h).
 */
#ifndef TANDEM_KAFKA_KF_H
#define TANDEM_KAFKA_KF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "core/auth.h"
#include "core/groups.h"
#include "core/map.h"
#include "core/replica.h"
#include "core/topic_ops.h"
#include "core/topics.h"
#include "kafka/proto.h"

struct tdm_conn;
struct tdm_config;
struct tdm_auth;
struct tdm_broker;
struct tdm_scram_server;
struct kf_groups;
struct tdm_replica;

/* This broker's node id in Metadata, FindCoordinator and as controller. */
#define KF_NODE_ID 1
#define KF_CLUSTER_ID "tandem-cluster"

/* Kafka error codes (ErrorCode), as in the Kafka protocol guide. */
enum {
	KF_ERR_UNKNOWN_SERVER_ERROR = -1,
	KF_ERR_NONE = 0,
	KF_ERR_OFFSET_OUT_OF_RANGE = 1,
	KF_ERR_CORRUPT_MESSAGE = 2,
	KF_ERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
	KF_ERR_UNKNOWN_TOPIC_ID = 100,
	KF_ERR_FETCH_SESSION_ID_NOT_FOUND = 70,
	KF_ERR_INVALID_FETCH_SESSION_EPOCH = 71,
	KF_ERR_LEADER_NOT_AVAILABLE = 5,
	KF_ERR_NOT_LEADER_OR_FOLLOWER = 6,
	KF_ERR_REQUEST_TIMED_OUT = 7,
	KF_ERR_MESSAGE_TOO_LARGE = 10,
	KF_ERR_OFFSET_METADATA_TOO_LARGE = 12,
	KF_ERR_COORDINATOR_NOT_AVAILABLE = 15,
	KF_ERR_NOT_COORDINATOR = 16,
	KF_ERR_INVALID_TOPIC_EXCEPTION = 17,
	KF_ERR_NOT_ENOUGH_REPLICAS = 19,
	KF_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND = 20,
	KF_ERR_INVALID_REQUIRED_ACKS = 21,
	KF_ERR_ILLEGAL_GENERATION = 22,
	KF_ERR_INCONSISTENT_GROUP_PROTOCOL = 23,
	KF_ERR_INVALID_GROUP_ID = 24,
	KF_ERR_UNKNOWN_MEMBER_ID = 25,
	KF_ERR_INVALID_SESSION_TIMEOUT = 26,
	KF_ERR_REBALANCE_IN_PROGRESS = 27,
	KF_ERR_TOPIC_AUTHORIZATION_FAILED = 29,
	KF_ERR_GROUP_AUTHORIZATION_FAILED = 30,
	KF_ERR_CLUSTER_AUTHORIZATION_FAILED = 31,
	KF_ERR_INVALID_TIMESTAMP = 32,
	KF_ERR_UNSUPPORTED_SASL_MECHANISM = 33,
	KF_ERR_ILLEGAL_SASL_STATE = 34,
	KF_ERR_UNSUPPORTED_VERSION = 35,
	KF_ERR_TOPIC_ALREADY_EXISTS = 36,
	KF_ERR_INVALID_PARTITIONS = 37,
	KF_ERR_INVALID_REPLICATION_FACTOR = 38,
	KF_ERR_INVALID_REPLICA_ASSIGNMENT = 39,
	KF_ERR_INVALID_CONFIG = 40,
	KF_ERR_NOT_CONTROLLER = 41,
	KF_ERR_INVALID_REQUEST = 42,
	KF_ERR_POLICY_VIOLATION = 44,
	KF_ERR_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
	KF_ERR_DUPLICATE_SEQUENCE_NUMBER = 46,
	KF_ERR_INVALID_PRODUCER_EPOCH = 47,
	KF_ERR_INVALID_TXN_STATE = 48,
	KF_ERR_INVALID_PRODUCER_ID_MAPPING = 49,
	KF_ERR_INVALID_TRANSACTION_TIMEOUT = 50,
	KF_ERR_CONCURRENT_TRANSACTIONS = 51,
	KF_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED = 53,
	KF_ERR_SECURITY_DISABLED = 54,
	KF_ERR_OPERATION_NOT_ATTEMPTED = 55,
	KF_ERR_PRODUCER_FENCED = 90,
	KF_ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43,
	KF_ERR_KAFKA_STORAGE_ERROR = 56,
	KF_ERR_SASL_AUTHENTICATION_FAILED = 58,
	KF_ERR_NON_EMPTY_GROUP = 68,
	KF_ERR_GROUP_ID_NOT_FOUND = 69,
	KF_ERR_MEMBER_ID_REQUIRED = 79,
	KF_ERR_FENCED_INSTANCE_ID = 82,
	KF_ERR_GROUP_SUBSCRIBED_TO_TOPIC = 86,
	KF_ERR_FENCED_LEADER_EPOCH = 74,
	KF_ERR_UNKNOWN_LEADER_EPOCH = 75,
	KF_ERR_UNSUPPORTED_COMPRESSION_TYPE = 76,
	KF_ERR_INVALID_RECORD = 87,
	KF_ERR_UNSTABLE_OFFSET_COMMIT = 88,
};

/* Maps a core status (TDM_ERR_*, core/topic_types.h) to the Kafka error
 * code a broker gives. */
int16_t kf_err_from_core(int rc);
/* Maps a replica manager's answer (TDM_REPL_*, core/replica.h) to its
 * Kafka code. */
int16_t kf_err_from_replica(int rc);
/* Maps a membership check (TDM_GROUP_*, core/groups.h) to its Kafka code. */
int16_t kf_err_from_group(int rc);
/* Short English text of a Kafka error code (CreateTopics error_message). */
const char *kf_err_name(int16_t code);

struct kf_server {
	struct event_base *base;        /* borrowed */
	struct tdm_net *net;            /* borrowed */
	const struct tdm_config *cfg;   /* borrowed */
	struct tdm_topics *topics;      /* borrowed */
	struct tdm_groups *cgroups;     /* borrowed: core's consumer groups */
	struct kf_groups *groups;       /* owned: the coordinator over them */
	struct kf_fsessions *fsessions; /* owned: Fetch sessions (KIP-227) */
	struct kf_txns *txns;           /* owned: the transaction coordinator (txn.h);
					   NULL in a cluster */
	int port;                       /* bound port of the first listener */
	struct tdm_auth *auth;          /* borrowed: the users (SASL); NULL = none */
	struct tdm_broker *broker;      /* borrowed: its vhosts (vhost:user), limits and
					   connection registry; NULL = none */
	struct tdm_replica *replica;    /* borrowed: the cluster's replica manager; NULL =
					   a single node (leader of everything) */
	unsigned sasl_mechs;            /* KF_SASL_* bits enabled (sasl.c) */
	struct tdm_map per_ip;          /* client IP -> its open connections (uintptr_t) */
	int64_t refused_log_ms;         /* last "rejected connection" line */
	uint64_t refused_unlogged;      /* refusals since, not logged */
};

/* What a listener hands its connections (the tdm_proto arg). */
struct kf_listener {
	struct kf_server *srv;          /* borrowed */
	int security;                   /* enum tdm_kafka_security */
};

/* A parked request: the handler's state.  cancel releases it when the
 * connection goes away before the request completes. */
struct kf_park {
	void (*cancel)(struct kf_park *p);
};

struct kf_conn {
	struct tdm_conn *c;              /* borrowed; the glue owns it */
	struct kf_server *srv;           /* borrowed */
	uint8_t *frame;                  /* owned: the request being served */
	size_t frame_cap;
	struct kf_arena arena;           /* decoded arrays of that request */
	struct kf_header hdr;            /* of that request; slices into frame */
	struct evbuffer *resp;           /* owned: scratch for response bodies */
	struct kf_park *park;            /* owned by its handler while parked */
	int flex;                        /* the request is of a flexible version */
	int closing;
	int security;                    /* the listener's enum tdm_kafka_security */
	char host[64];                   /* local address the client reached */
	int port;
	char client_host[64];            /* "/ip" as Kafka shows members */
	int per_ip_counted;              /* counted in srv->per_ip under client_host + 1 */
	struct member *members;          /* borrowed: group members whose last
					    JoinGroup came on this connection */
	uint64_t member_meta_bytes;      /* their protocol metadata, in bytes */
	/* SASL (sasl.c) */
	int sasl_step;                  /* KF_SASL_STEP_* */
	int sasl_mech;                  /* chosen by SaslHandshake (KF_SASL_*) */
	int sasl_raw;                   /* handshake v0: bare token frames follow */
	struct tdm_scram_server *scram; /* owned: a SCRAM exchange under way */
	char *scram_user;               /* owned: the name that exchange is for */
	char *user;                     /* owned: the authenticated user, NULL before */
	/* who and where (authz.c) */
	char *vhost;                    /* owned: chosen by a "vhost:user" SASL name;
					   NULL = kafka_vhost */
	int anon;                       /* KF_ANON_*: may the client act unauthenticated */
	/* the high watermark last answered to a follower's fetch, per
	 * "topic/partition" (fetch.c): value hw + 2 as a uintptr_t */
	struct tdm_map follower_hw;
};

/* Handler results. */
enum {
	KF_R_DONE,       /* the body is in resp: send it */
	KF_R_NONE,       /* no response (Produce acks=0) */
	KF_R_SENT,       /* the handler wrote the whole response to the output */
	KF_R_PARKED,     /* kc->park is set; kf_complete will follow */
	KF_R_CLOSE,      /* malformed or refused: close the connection */
	KF_R_DONE_CLOSE, /* send the body in resp, then close (a SASL refusal) */
};

typedef int (*kf_handler)(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);

struct kf_api {
	int16_t key, min, max;
	const char *name;
	kf_handler fn;
};

/* The API table (api_versions.c): the one place that says what we serve. */
const struct kf_api *kf_api_find(int16_t key);
extern const struct kf_api kf_apis[];
extern const size_t kf_napis;

/* Writes a response header for the current request and the body size
 * given; returns the connection's output buffer for the body. */
struct evbuffer *kf_response_begin(struct kf_conn *kc, size_t body_len);
/*
 * Finishes a parked request: sends body (when not NULL; NULL means the
 * handler already wrote the response), clears kc->park (the handler frees
 * its own state) and resumes reading the connection.
 */
void kf_complete(struct kf_conn *kc, struct evbuffer *body);

/* ---- response writers (big-endian, classic encodings) ---------------------- */

static inline void kf_put_i8(struct evbuffer *b, int8_t v)
{
	evbuffer_add(b, &v, 1);
}
static inline void kf_put_i16(struct evbuffer *b, int16_t v)
{
	uint8_t x[2] = { (uint8_t)((uint16_t)v >> 8), (uint8_t)v };
	evbuffer_add(b, x, 2);
}
static inline void kf_put_i32(struct evbuffer *b, int32_t v)
{
	uint32_t u = (uint32_t)v;
	uint8_t x[4] = { (uint8_t)(u >> 24), (uint8_t)(u >> 16), (uint8_t)(u >> 8), (uint8_t)u };
	evbuffer_add(b, x, 4);
}
static inline void kf_put_i64(struct evbuffer *b, int64_t v)
{
	uint64_t u = (uint64_t)v;
	uint8_t x[8];
	for (int i = 7; i >= 0; i--, u >>= 8)
		x[i] = (uint8_t)u;
	evbuffer_add(b, x, 8);
}
/* A string of len bytes; len < 0 writes null. */
static inline void kf_put_strn(struct evbuffer *b, const char *s, int32_t len)
{
	kf_put_i16(b, (int16_t)(len < 0 ? -1 : len));
	if (len > 0)
		evbuffer_add(b, s, (size_t)len);
}
static inline void kf_put_str(struct evbuffer *b, const char *s)
{
	kf_put_strn(b, s, s ? (int32_t)strlen(s) : -1);
}
static inline void kf_put_kstr(struct evbuffer *b, struct kf_str s)
{
	kf_put_strn(b, s.p, s.len);
}
static inline void kf_put_bytes(struct evbuffer *b, const void *p, int32_t len)
{
	kf_put_i32(b, len < 0 ? -1 : len);
	if (len > 0)
		evbuffer_add(b, p, (size_t)len);
}

/* ---- flexible versions (KIP-482): the same writers, compact when flex ---- */

static inline void kf_put_uvarint(struct evbuffer *b, uint32_t v)
{
	uint8_t x[5];
	size_t n = 0;
	while (v >= 0x80) {
		x[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	x[n++] = (uint8_t)v;
	evbuffer_add(b, x, n);
}
/* A string (len < 0: null): compact (varint len + 1) when flex. */
static inline void kf_put_fstrn(struct evbuffer *b, int flex, const char *s, int32_t len)
{
	if (!flex) {
		kf_put_strn(b, s, len);
		return;
	}
	kf_put_uvarint(b, len < 0 ? 0 : (uint32_t)len + 1);
	if (len > 0)
		evbuffer_add(b, s, (size_t)len);
}
static inline void kf_put_fstr(struct evbuffer *b, int flex, const char *s)
{
	kf_put_fstrn(b, flex, s, s ? (int32_t)strlen(s) : -1);
}
static inline void kf_put_fkstr(struct evbuffer *b, int flex, struct kf_str s)
{
	kf_put_fstrn(b, flex, s.p, s.len);
}
/* Bytes (len < 0: null): compact (varint len + 1) when flex. */
static inline void kf_put_fbytes(struct evbuffer *b, int flex, const void *p, int32_t len)
{
	if (!flex) {
		kf_put_bytes(b, p, len);
		return;
	}
	kf_put_uvarint(b, len < 0 ? 0 : (uint32_t)len + 1);
	if (len > 0)
		evbuffer_add(b, p, (size_t)len);
}
/* An array's count (n < 0: null): compact when flex. */
static inline void kf_put_farray(struct evbuffer *b, int flex, int32_t n)
{
	if (flex)
		kf_put_uvarint(b, n < 0 ? 0 : (uint32_t)n + 1);
	else
		kf_put_i32(b, n);
}
/* The end of a struct (the body, an array element): no tagged fields. */
static inline void kf_put_tags(struct evbuffer *b, int flex)
{
	if (flex)
		kf_put_i8(b, 0);
}
/* Whether this request is of a flexible version of its API. */
static inline int kf_flex(const struct kf_conn *kc)
{
	return kc->flex;
}

/* Looks a topic up by its wire name: NULL when unknown, internal, of
 * another vhost than kc's (kf_authz_vhost), or not a valid C string.  It
 * checks no permission: callers ask kf_authz_topic first. */
struct ls_topic *kf_topic_lookup(struct kf_conn *kc, struct kf_str name);
/* In a cluster: NOT_LEADER_OR_FOLLOWER (LEADER_NOT_AVAILABLE, ...)
 * unless this node leads topic/partition (core name), then a
 * current_epoch >= 0 checked against its leader epoch: FENCED_LEADER_EPOCH
 * when older, UNKNOWN_LEADER_EPOCH when newer.  A single node leads every
 * partition and has no epoch to check against: KF_ERR_NONE.
 * (offset_for_leader_epoch.c) */
int16_t kf_leader_check(struct kf_conn *kc, const char *topic, int32_t partition,
			int32_t current_epoch);
/* kf_leader_check for a consumer's Fetch v11+ (KIP-392): a follower holding
 * a replica of it may serve it too (tdm_replica_check_read), its epoch
 * checked against the leader epoch it knows. */
int16_t kf_read_check(struct kf_conn *kc, const char *topic, int32_t partition,
		      int32_t current_epoch);
/* ---- fetch sessions (fetch_session.c: KIP-227) ---- */
struct kf_fsess_part {
	char *topic;          /* owned: the topic's name ("" for an unknown id) */
	uint8_t id[16];       /* v13: the topic id it was named by */
	int32_t index;
	int32_t max_bytes, cur_epoch;
	int64_t fetch_offset, log_start;
	int64_t hw, ls;       /* high watermark, log start last answered; -2 never */
};
struct kf_fsess {
	int32_t id, epoch;    /* epoch: what the next request must carry */
	int full;             /* the request being served answers every partition */
	uint64_t used_ms;
	size_t n, cap;
	struct kf_fsess_part *p; /* in the order they were added */
};
struct kf_fsessions;
struct kf_fsessions *kf_fsessions_new(uint32_t slots);
void kf_fsessions_free(struct kf_fsessions *c);
size_t kf_fsessions_count(const struct kf_fsessions *c);
struct kf_fsess *kf_fsess_find(struct kf_fsessions *c, int32_t id);
/* The session a Fetch v7+ request r uses (*out, NULL: none), opened,
 * closed or updated as its (session_id, epoch) says; names[i] is topic
 * i's name (by_id: resolved from its id, NULL when no topic has it).
 * KF_ERR_NONE, or the top-level error of the answer. */
int16_t kf_fsess_begin(struct kf_fsessions *c, const struct kf_fetch_req *r,
		       const char *const *names, int by_id, uint64_t now, struct kf_fsess **out);
/* s answered a request: its next epoch. */
void kf_fsess_answered(struct kf_fsess *s);

/* Topic ids on the wire (metadata.c): t's id as Kafka's 16-byte uuid, 1;
 * or zeros and 0 when t has none (a single node's topics). */
int kf_topic_uuid(const struct ls_topic *t, uint8_t out[16]);
/* The topic whose id is id (never the zero uuid), or NULL. */
struct ls_topic *kf_topic_by_uuid(struct kf_conn *kc, const uint8_t id[16]);

/* ---- authorization (authz.c): Kafka operations onto RabbitMQ's permissions ---- */

/* A connection's standing before SASL (kc->anon). */
enum { KF_ANON_UNKNOWN = 0, KF_ANON_OK, KF_ANON_REFUSED };

/* The vhost kc acts in: the one a "vhost:user" SASL name chose, else
 * kafka_vhost (borrowed). */
const char *kf_authz_vhost(const struct kf_conn *kc);
/* The user kc acts as: the SASL user, else (anonymous allowed and the
 * default user's login accepted for this peer) kafka_default_user; NULL
 * for nobody (borrowed). */
const char *kf_authz_user(struct kf_conn *kc);
/* 1 when api_key may be served to kc now; 0 when the connection is to be
 * closed (an anonymous client that may not act anonymously: the answer
 * Kafka gives a client without SASL on a SASL listener). */
int kf_authz_may_serve(struct kf_conn *kc, int16_t api_key);
/*
 * SASL name -> user and vhost, before the credentials are checked: a name
 * that is a known user is that user; else "vhost:user" (RabbitMQ MQTT's
 * form, split at the first ':') names user in vhost.  Writes the user to
 * user_out (cap bytes) and keeps the vhost on kc for kf_authz_login.
 * 0, or -1 when it does not fit.
 */
int kf_authz_sasl_name(struct kf_conn *kc, const char *name, size_t len, char *user_out,
		       size_t cap);
/* After a successful authentication as user: 0 when user may open the
 * connection's vhost (one a "vhost:user" name picked must exist); -1 with
 * why (a SaslAuthenticate error_message) when not. */
int kf_authz_login(struct kf_conn *kc, const char *user, char *why, size_t whylen);

/* KF_ERR_NONE when kc may apply p to topic name[0..len): the
 * topic belongs to kc's vhost and the user's pattern p there matches the
 * topic's name in that vhost (a stream queue's topic: the queue's name);
 * else KF_ERR_TOPIC_AUTHORIZATION_FAILED (internal topics and other
 * vhosts' included, whether or not they exist). */
int16_t kf_authz_topic(struct kf_conn *kc, enum tdm_perm p, struct kf_str name);
/* The same for a C string; 1 allowed, 0 not. */
int kf_authz_topic_ok(struct kf_conn *kc, enum tdm_perm p, const char *name);
/* 1 when kc's user is tagged administrator (Kafka's CLUSTER resource:
 * replica fetches, ClusterAction), or kc is a trusted link; 0 otherwise. */
int kf_authz_cluster(struct kf_conn *kc);
/* InitProducerId of an idempotent producer (Kafka 3: IDEMPOTENT_WRITE on
 * the cluster, or WRITE on any topic): the administrator tag, or a write
 * permission in the Kafka vhost that is not empty. */
int kf_authz_idempotent_write(struct kf_conn *kc);
/* 1 when kc is the trusted link: a connection to the cluster link's
 * listener (TDM_KAFKA_CLUSTER) that authenticated with the cluster's
 * secret.  It acts as the broker itself: every check here allows it, it
 * names topics by their core names (any vhost's), and its Produce may
 * carry the broker's reserved record headers.  0 on every other listener,
 * whoever the user. */
int kf_authz_trusted(const struct kf_conn *kc);
/* 1 when kc may see topic name (Kafka's DESCRIBE: any of configure, write,
 * read on it); 0 otherwise. */
int kf_authz_topic_visible(struct kf_conn *kc, const char *name, size_t len);
/* Kafka's AclOperation codes, as bits of the authorized_operations fields
 * (Metadata v8+, DescribeCluster, DescribeGroups v3+); KF_OPS_NOT_ASKED
 * when the request did not ask for them. */
enum {
	KF_OP_ANY = 1, KF_OP_ALL = 2,
	KF_OP_READ = 3, KF_OP_WRITE = 4, KF_OP_CREATE = 5, KF_OP_DELETE = 6, KF_OP_ALTER = 7,
	KF_OP_DESCRIBE = 8, KF_OP_DESCRIBE_CONFIGS = 10, KF_OP_ALTER_CONFIGS = 11,
	KF_OP_IDEMPOTENT_WRITE = 12
};
#define KF_OPS_NOT_ASKED INT32_MIN
/* What kc may do to the cluster: DESCRIBE; CREATE, ALTER, DESCRIBE_CONFIGS,
 * ALTER_CONFIGS with the administrator tag; IDEMPOTENT_WRITE as
 * kf_authz_idempotent_write. */
int32_t kf_authz_cluster_ops(struct kf_conn *kc);
/* What kc may do to topic name: DESCRIBE and DESCRIBE_CONFIGS when it may
 * see it, READ with read, WRITE with write, CREATE, DELETE, ALTER and
 * ALTER_CONFIGS with configure permission. */
int32_t kf_authz_topic_ops(struct kf_conn *kc, const char *name);
/*
 * KF_ERR_NONE when kc may use consumer group *id (read on the id in kc's
 * vhost), and *id then names the group as core keys it: the id itself in
 * kafka_vhost (where an id of another vhost's form, below, is refused),
 * "__" + esc(V) + "." + id for a connection acting in vhost V (arena
 * copy), so each vhost has its own groups.  Else
 * KF_ERR_GROUP_AUTHORIZATION_FAILED.
 */
int16_t kf_authz_group(struct kf_conn *kc, struct kf_str *id);
/* kf_authz_group with permission p on the id instead of read (DeleteGroups:
 * configure, as the management API's DELETE of a group). */
int16_t kf_authz_group_as(struct kf_conn *kc, enum tdm_perm p, struct kf_str *id);
/* 1 when a user's tags (a comma list) have administrator. */
int kf_authz_tags_admin(const char *tags);
/* ListGroups: the id kc knows core group g by (a pointer into g), or NULL
 * when g is another vhost's or kc may not read it. */
const char *kf_authz_group_listed(struct kf_conn *kc, const char *g);
/* ---- handlers, one file per API or family ------------------------------------ */

int kf_h_api_versions(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_metadata(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_produce(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
/* Frees what fetch.c keeps on a connection (the followers' high watermarks). */
void kf_fetch_conn_free(struct kf_conn *kc);
int kf_h_fetch(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_list_offsets(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_create_topics(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_delete_topics(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_create_partitions(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_describe_configs(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_describe_cluster(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_describe_log_dirs(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_init_producer_id(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
/* A producer id never handed out before by any node (in a cluster the
 * node id is in its bits 40 and up): KF_ERR_NONE or the store's error. */
int16_t kf_producer_id_new(struct kf_server *srv, int64_t *pid);
int kf_h_add_partitions_to_txn(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_add_offsets_to_txn(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_end_txn(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_txn_offset_commit(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_write_txn_markers(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_alter_configs(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_incremental_alter_configs(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
/* 1 when a broker resource's name is "" or this node's id; else 0 with
 * Kafka's INVALID_REQUEST message in msg (configs.c). */
int kf_this_broker(const struct kf_conn *kc, struct kf_str name, char *msg, size_t msglen);
int kf_h_delete_groups(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_delete_records(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_describe_acls(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_create_acls(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_delete_acls(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_offset_delete(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
/*
 * After a write to the group offsets log ending at target (a commit, a
 * group's deletion): Kafka appends those with acks=all, so the request is
 * answered once the offsets partition's ISR has target, or failed
 * (NOT_COORDINATOR when the lead moved, COORDINATOR_NOT_AVAILABLE when the
 * ISR shrank below min.insync.replicas, REQUEST_TIMED_OUT after 5 s).
 * answer(kc, ctx, err) writes the response into resp (now) or kc->resp
 * (later), err KF_ERR_NONE or the failure; ctx must live in the request
 * arena.  Returns KF_R_DONE (answered now) or KF_R_PARKED (or KF_R_CLOSE).
 */
typedef void (*kf_offsets_answer_fn)(struct kf_conn *kc, struct evbuffer *resp, void *ctx,
				     int16_t err);
int kf_offsets_wait(struct kf_conn *kc, uint64_t target, kf_offsets_answer_fn answer, void *ctx,
		    struct evbuffer *resp);
/* The same wait for any log write: check(srv, target, &err, ctx) (ctx:
 * the answer's) says 1 while it is not durable yet, else 0 with the error
 * to answer (KF_ERR_NONE: it is); answered REQUEST_TIMED_OUT after
 * timeout_ms.  Re-checked after each fsync round and each move of a high
 * watermark. */
typedef int (*kf_wait_check_fn)(struct kf_server *srv, uint64_t target, int16_t *err, void *ctx);
int kf_wait_durable(struct kf_conn *kc, uint64_t target, int timeout_ms, kf_wait_check_fn check,
		    kf_offsets_answer_fn answer, void *ctx, struct evbuffer *resp);
/* kf_wait_durable for the transaction state log (txn.h's
 * kf_txns_waiting), REQUEST_TIMED_OUT after 5 s (txn_apis.c). */
int kf_txn_wait_durable(struct kf_conn *kc, uint64_t end, kf_offsets_answer_fn answer, void *ctx,
			struct evbuffer *resp);
/* Kafka's code for an offsets-log write's status (TDM_* / TDM_REPL_*). */
int16_t kf_offsets_err(int rc);
int kf_h_offset_commit(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_offset_fetch(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_find_coordinator(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_join_group(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_sync_group(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_heartbeat(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_leave_group(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_list_groups(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_describe_groups(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_offset_for_leader_epoch(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);

/* ---- SASL (sasl.c) ---------------------------------------------------------- */

/* Mechanisms, as bits of kf_server.sasl_mechs. */
enum { KF_SASL_PLAIN = 0, KF_SASL_SCRAM_SHA_256 = 1, KF_SASL_SCRAM_SHA_512 = 2, KF_SASL_NMECH };
/* A connection's SASL progress. */
enum { KF_SASL_STEP_NONE = 0, KF_SASL_STEP_AUTH, KF_SASL_STEP_DONE };

/* Parses cfg->kafka_sasl_mechanisms into srv->sasl_mechs.  0, or -1
 * (logged) when it names a mechanism we do not serve. */
int kf_sasl_init(struct kf_server *srv);
/* 1 when the request api_key may be served now on kc; 0 when Kafka would
 * close the connection instead (SASL required and not yet authenticated,
 * or a handshake waiting for SaslAuthenticate). */
int kf_sasl_may_serve(const struct kf_conn *kc, int16_t api_key);
/* A bare SASL token frame (after SaslHandshake v0): KF_R_DONE with the
 * answer token in resp (sent size-prefixed, with no response header), or
 * KF_R_CLOSE (authentication failed). */
int kf_sasl_raw_token(struct kf_conn *kc, const uint8_t *p, size_t len, struct evbuffer *resp);
/* Frees kc's SASL state (the connection is closing) and takes an
 * authenticated connection off the registry. */
void kf_sasl_conn_free(struct kf_conn *kc);
int kf_h_sasl_handshake(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);
int kf_h_sasl_authenticate(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp);

/* The group coordinator (groups.c). */
struct kf_groups *kf_groups_new(struct kf_server *srv);
void kf_groups_free(struct kf_groups *g);
/* kc is closing: its members' protocol metadata is dropped (membership
 * stays, as Kafka's: until the session or rebalance timeout; a member
 * that rejoins sends its metadata again). */
void kf_groups_conn_closed(struct kf_conn *kc);
/* OffsetCommit's membership check (core's tdm_groups_check_commit, which a
 * member passing it also keeps alive; instance: v7's group_instance_id,
 * null for none): returns a Kafka error code. */
int16_t kf_groups_check_commit(struct kf_groups *g, struct kf_str group, int32_t generation,
			       struct kf_str member, struct kf_str instance);
/*
 * Is this node the coordinator of every group?  Single node: always
 * (KF_ERR_NONE).  In a cluster: when it leads partition 0 of the group
 * offsets topic (TDM_GROUPS_TOPIC); on becoming its leader (a new leader
 * epoch) the committed offsets are first rebuilt from the replicated log
 * and groups of an earlier term dropped.  Else KF_ERR_NOT_COORDINATOR
 * (groups held here are dropped, their parked requests answered so), or
 * KF_ERR_COORDINATOR_NOT_AVAILABLE when the offsets could not be read.
 */
int16_t kf_groups_coordinator(struct kf_groups *g);

#endif
