/*
 * Internals shared by the HTTP front end's files: the request context
 * handed to every endpoint, reply helpers and the endpoint functions.
 *
 * Must not depend on: other front ends, logstore (topics and groups come
 * through core: core/topics.h, core/topic_ops.h, core/groups.h).
 */
#ifndef TANDEM_HTTP_HX_H
#define TANDEM_HTTP_HX_H

#include <stddef.h>
#include <stdint.h>

#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "core/auth.h"
#include "core/broker.h"
#include "util/json.h"

struct tdm_topics;
struct tdm_durable;
struct tdm_replica;
struct tdm_net;
struct tdm_net_backoff;
struct hx_rates;

struct tdm_tls;

/* One listening socket: plain HTTP or HTTPS.  libevent 2.1's bevcb is per
 * evhttp, not per bound socket, so each listener has an evhttp of its own
 * (same request handler, same connection budget). */
struct hx_listener {
	struct tdm_http *h;                 /* borrowed: the server */
	struct tdm_tls *tls;                /* borrowed; NULL = plain HTTP */
	struct evhttp *http;                /* owned */
	struct evhttp_bound_socket *bound;  /* borrowed from http */
	struct tdm_net_backoff *backoff;    /* owned */
	int port;
};

struct tdm_http {
	struct hx_listener lis[2];          /* HTTP, then HTTPS; nlis of them used */
	size_t nlis;
	struct event_base *base;            /* borrowed */
	const struct tdm_config *cfg;       /* borrowed */
	struct tdm_broker *broker;          /* borrowed */
	struct tdm_topics *topics;          /* borrowed, may be NULL */
	struct tdm_durable *durable;        /* borrowed, may be NULL */
	struct tdm_replica *replica;        /* borrowed; NULL = single node */
	int port;                           /* of plain HTTP; 0 = none */
	int ssl_port;                       /* of HTTPS; 0 = none */
	uint64_t started_ms;
	struct hx_rates *rates;             /* owned; NULL: rates unknown (0.0) */
	struct tdm_net *net;                /* borrowed, NULL until tdm_http_guard */
	size_t nconns;                      /* open connections (http_max_connections) */
	struct bufferevent **fresh;         /* owned array of referenced bufferevents
					       accepted this loop turn, not yet counted */
	size_t nfresh, fresh_cap;
	struct event *fresh_ev;             /* owned: counts the fresh ones */
	struct hx_later *later;             /* owned list: replies given later (later.c) */
};

#define HX_MAX_SEGS 8

/* One path segment, percent-decoded (may hold any byte, even NUL). */
struct hx_seg {
	char *s;      /* owned, NUL-terminated */
	size_t len;
};

struct hx_req {
	struct tdm_http *h;
	struct evhttp_request *req;         /* borrowed */
	enum evhttp_cmd_type method;
	struct hx_seg seg[HX_MAX_SEGS];     /* after "api" */
	int nseg;
	struct evkeyvalq query;             /* parsed query string */
	char user[256];
	struct js_doc body;                 /* parsed request body (if any) */
	int has_body;
	char *body_text;                    /* owned */
	size_t body_len;
};

#include <string.h>

/* 1 when segment i exists and equals s. */
static inline int hx_seg_is(const struct hx_req *r, int i, const char *s)
{
	return i < r->nseg && r->seg[i].len == strlen(s) && memcmp(r->seg[i].s, s, r->seg[i].len) == 0;
}

/*
 * A reply given later, from a callback (later.c): hx_later_new keeps r's
 * request (NULL: out of memory); when the callback comes, hx_later_req
 * gives an hx_req to reply with and hx_later_done frees the handle.  If the
 * client's connection closes first, forget(arg) is called instead (the
 * owner drops its callback) and the handle is freed.
 */
struct hx_later;
struct hx_later *hx_later_new(struct hx_req *r, void (*forget)(void *arg), void *arg);
void hx_later_req(const struct hx_later *l, struct hx_req *out);
void hx_later_done(struct hx_later *l);
/* The connection conn closes (NULL: the server goes): its later replies
 * are forgotten. */
void hx_later_conn_closed(struct tdm_http *h, struct evhttp_connection *conn);

/*
 * Replies after the cluster applied a request's proposals (core/defs.h;
 * defs_wait.c): hx_defs_wait_new (NULL: out of memory, nothing answered),
 * hx_defs_wait_add after each core call that answered TDM_PROPOSED (0
 * added, 1 none was waiting, -1 out of memory), then hx_defs_wait_arm, after which w is not touched: the
 * reply is ok_status (no content) or the first apply's error; with `again`
 * the request is instead handled again from the start once every proposal
 * is applied (hx_defs_rerunning() is 1 then: that pass waits for nothing).
 */
struct hx_defs_wait;
struct hx_defs_wait *hx_defs_wait_new(struct hx_req *r, int ok_status, int again);
int hx_defs_wait_add(struct hx_defs_wait *w);
void hx_defs_wait_arm(struct hx_defs_wait *w);
/* Arms w to answer e (after its proposals are applied). */
void hx_defs_wait_fail(struct hx_defs_wait *w, const struct tdm_err *e);
int hx_defs_rerunning(void);
/* The proposals r made: the reply is ok_status or the first one's error. */
void hx_defs_reply(struct hx_req *r, int ok_status);
/* Proposals nobody waits for (an error was answered): they still apply. */
void hx_defs_forget(struct tdm_broker *b);
/* Handles req as if it had just come (server.c). */
void hx_handle(struct tdm_http *h, struct evhttp_request *req);

/* Replies: JSON documents and RabbitMQ's error objects. */
void hx_reply_json(struct hx_req *r, int status, struct js_w *w);
/* {"error": error, "reason": reason} with status. */
void hx_error(struct hx_req *r, int status, const char *error, const char *reason);
/* {"error": error, "reason": [tag, value]}: RabbitMQ's Erlang-term reasons
 * for bad values (["not_base64", "!!"], ["unsupported_encoding", "x"]). */
void hx_error_term(struct hx_req *r, int status, const char *error, const char *tag,
		   const char *value);
/* After hx_body: -1 (400 answered, RabbitMQ's "[{key_missing,K},...]") when
 * the body's root object lacks any of keys, else 0. */
int hx_require_keys(struct hx_req *r, const char *const *keys, size_t n);
void hx_not_found(struct hx_req *r);
void hx_no_content(struct hx_req *r, int status);
/* Maps a core status to RabbitMQ's HTTP status and error body. */
void hx_core_error(struct hx_req *r, const struct tdm_err *e);
/* Parses the request body as JSON (an empty body = {}); on failure replies 400
 * and returns -1.  The root is node 0. */
int hx_body(struct hx_req *r);
/* Query parameter or NULL. */
const char *hx_query(struct hx_req *r, const char *name);
/* The vhost named by segment i (404 reply and NULL when unknown or not allowed). */
struct tdm_vhost *hx_vhost(struct hx_req *r, int i);
/* "tandem@<short host name>", as RabbitMQ's node names. */
const char *hx_node_name(void);
/* In a cluster (id > 0) the node is named "tandem@node-<id>", as its
 * queues' leaders and members are; 0: "tandem@<host>" again. */
void hx_node_name_cluster(int32_t id);
/* Milliseconds since the epoch. */
uint64_t hx_wall_ms(void);

/* Endpoints, one per route of server.c's table (api.c, api_msg.c,
 * api_conn.c, api_users.c, api_defs.c, api_topics.c, api_groups.c): each
 * is called only for its path pattern and methods, after the access check
 * the table names. */
void hx_overview(struct hx_req *r);
void hx_whoami(struct hx_req *r);
void hx_nodes(struct hx_req *r);
/* GET /api/cluster (api_cluster.c). */
void hx_cluster(struct hx_req *r);
void hx_vhost_list(struct hx_req *r);
void hx_vhost_get(struct hx_req *r);
void hx_vhost_change(struct hx_req *r);
void hx_vhost_permission_list(struct hx_req *r);
void hx_exchange_list(struct hx_req *r);
void hx_exchange(struct hx_req *r);
void hx_exchange_publish(struct hx_req *r);
void hx_exchange_bindings(struct hx_req *r);
void hx_queue_list(struct hx_req *r);
void hx_queue(struct hx_req *r);
void hx_queue_purge(struct hx_req *r);
void hx_queue_get(struct hx_req *r);
void hx_queue_bindings(struct hx_req *r);
void hx_binding_list(struct hx_req *r);
void hx_bindings_between(struct hx_req *r);
void hx_binding(struct hx_req *r);
void hx_health_alarms(struct hx_req *r);
void hx_health_port(struct hx_req *r);
void hx_aliveness(struct hx_req *r);
void hx_connection_list(struct hx_req *r);
void hx_connection(struct hx_req *r);
void hx_connection_channels(struct hx_req *r);
void hx_channel_list(struct hx_req *r);
void hx_channel(struct hx_req *r);
void hx_consumers(struct hx_req *r);
void hx_user_list(struct hx_req *r);
void hx_user(struct hx_req *r);
void hx_user_permissions(struct hx_req *r);
void hx_permission_list(struct hx_req *r);
void hx_permission(struct hx_req *r);
void hx_definitions(struct hx_req *r);
/* RabbitMQ's limits (api_limits.c). */
void hx_vhost_limits(struct hx_req *r);
void hx_user_limits(struct hx_req *r);
/* Kafka's broker limits, /api/kafka-limits[/{name}] (api_limits.c). */
void hx_kafka_limits(struct hx_req *r);
/* Definitions: a user's limits as an object {"max-channels": N} (users[]'s
 * "limits"); the vhost limits (of only, or of every vhost r's user may
 * open) as "parameters" entries {"value": {...}, "vhost": V, "component":
 * "vhost-limits", "name": "limits"}, written inside an open array. */
void hx_write_user_limits(struct hx_req *r, struct js_w *w, const char *user);
void hx_write_limit_params(struct hx_req *r, struct js_w *w, const struct tdm_vhost *only);
/* Imports the limits object at body node obj (-1: none) for owner, scope
 * TDM_LIMIT_VHOST or TDM_LIMIT_USER (core/limits.h); persisted.  TDM_OK
 * or a status with e set. */
int hx_import_limits(struct hx_req *r, int scope, const char *owner, int obj, struct tdm_err *e);
/* Imports the "vhost-limits" entries of the body's "parameters" (into only
 * when non-NULL); other components are ignored.  TDM_OK or a status. */
int hx_import_limit_params(struct hx_req *r, const struct tdm_vhost *only, struct tdm_err *e);
/* Drops (and persists the drop of) every limit of a deleted vhost or user. */
void hx_forget_limits(struct hx_req *r, int scope, const char *owner);
void hx_topic_list(struct hx_req *r);
void hx_topic_get(struct hx_req *r);
void hx_topic_change(struct hx_req *r);
void hx_topic_partition_messages(struct hx_req *r);
void hx_group_list(struct hx_req *r);
void hx_group_get(struct hx_req *r);
void hx_group_delete(struct hx_req *r);
/* The message side of exchanges and queues (api_msg.c). */
void hx_publish(struct hx_req *r, struct tdm_vhost *vh, struct tdm_exchange *x);
void hx_get(struct hx_req *r, struct tdm_vhost *vh, struct tdm_queue *q);
/* What POST .../get asks for. */
struct hx_get_params {
	int64_t count, truncate;   /* truncate -1: whole bodies */
	int requeue, reject, base64;
};
struct tdm_qentry;
/* Answers a get with the n messages taken (left[i]: the queue's count
 * after the i-th), then settles them as p says. */
void hx_get_reply(struct hx_req *r, struct tdm_queue *q, const struct hx_get_params *p,
		  struct tdm_qentry *taken, const uint64_t *left, size_t n);
/* api_remote.c: a get and a purge of a queue of another node (core/remote.h),
 * answered once its home has. */
void hx_remote_get(struct hx_req *r, struct tdm_queue *q, const struct hx_get_params *p);
void hx_remote_purge(struct hx_req *r, struct tdm_queue *q);
/* /metrics, outside /api (metrics.c). */
void hx_metrics(struct tdm_http *h, struct evhttp_request *req);

/* ---- the log side (api_topics.c, api_records.c, api_groups.c) ---- */
struct ls_partition; /* core/topic_types.h: opaque handles */
struct ls_topic;
#define HX_DEFAULT_RECORDS 10
#define HX_MAX_RECORDS 1000
/* GET /api/topics/{name}/partitions/{p}/messages (segment 3 is p). */
void hx_topic_messages(struct hx_req *r, struct ls_topic *t);
/*
 * Writes up to max records of p from offset *next on into w (inside an
 * open array) as the API's record objects, stopping early once the reply
 * passes 16 MiB (one record at least).  *next becomes the offset to read
 * from next time, *written the count.  TDM_OK or a TDM_ERR_* (records
 * written before an error stay in w).
 */
int hx_write_records(struct tdm_topics *tp, struct ls_partition *p, uint64_t *next, size_t max,
		     struct js_w *w, size_t *written);
/* POST /api/groups/{group}/fetch (api_group_fetch.c). */
void hx_group_fetch(struct hx_req *r);
/* The one mapping of core statuses (TDM_ERR_*, core/topic_types.h) to
 * replies: 400 for TDM_ERR_INVALID (e.g. a group id over 32767 bytes), 501
 * for a codec we cannot decode, else 500. */
void hx_topic_error(struct hx_req *r, int rc);
/* Decimal text s[0..len) in [0, max]: 0 and *out, or -1. */
int hx_parse_uint(const char *s, size_t len, uint64_t max, uint64_t *out);
/* 1 when p[0..n) is valid UTF-8 (api_msg.c). */
int hx_valid_utf8(const uint8_t *p, size_t n);
/* Steps through a comma list ("a, b,c"; NULL is empty): 1 with the next
 * item, spaces trimmed (may be empty), in *item and *len, *p moved past it;
 * 0 at the end (api_users.c). */
int hx_list_next(const char **p, const char **item, size_t *len);
/* 1 when the request's user is tagged administrator (server.c). */
int hx_is_admin(struct hx_req *r);
/* 1 when the request's user is tagged administrator or monitoring:
 * RabbitMQ's is_monitor, who sees every connection and channel. */
int hx_is_monitor(struct hx_req *r);
/* 1 when the request's user may see topic `name` (its records, offsets,
 * settings): an administrator every topic, anyone else the topics of the
 * vhosts they may open (core/stream.h: tdm_topic_vhost), as queues are
 * scoped; a topic of no vhost (the digest form) only an administrator.
 * Internal topics are for nobody: callers check tdm_topic_is_internal. */
int hx_topic_visible(struct hx_req *r, const char *name);
/* 1 when the request's user may apply p to topic `name` (api_topics.c):
 * the user's pattern p in the topic's vhost matches the topic's name there
 * (core/stream.h: tdm_topic_local_name; a stream queue's topic: the
 * queue's name), as the Kafka listener checks it; a topic of no vhost
 * (the digest form) only for an administrator.  0 otherwise, with the
 * reply sent as RabbitMQ's API answers the same refusal on a queue: read
 * 401 "ACCESS_REFUSED - access to topic 't' in vhost 'v' refused for user
 * 'u'", configure 401 "Access refused.". */
int hx_topic_permitted(struct hx_req *r, const char *name, enum tdm_perm p);
/* The same for read on consumer group id (core's name: a group of Kafka
 * clients acting in vhost V is "__" + esc(V) + "." + their id, checked in
 * V; any other in kafka_vhost), the refusal worded as for p:
 * TDM_PERM_READ for a consume, TDM_PERM_CONFIGURE for a delete. */
int hx_group_permitted(struct hx_req *r, const char *id, enum tdm_perm style);
/* The vhost consumer group id belongs to (as hx_group_permitted reads it),
 * written NUL-terminated to vh[0..cap); returns the group's name inside
 * that vhost (id itself, or the part of it after "__" + esc(V) + "."). */
const char *hx_group_vhost(const struct hx_req *r, const char *id, char *vh, size_t cap);

/* Committed offsets of every group (core/groups.h), sorted by group, topic,
 * partition, each with its partition's log end (-1 when the partition is
 * gone) and the group's lag there.  Strings are borrowed from the store
 * until its next change.  malloc'd; NULL when none (or groups is NULL). */
struct hx_offset {
	const char *group, *topic;
	int32_t partition;
	int64_t offset, end, lag;
};
struct tdm_groups;
struct hx_offset *hx_collect_offsets(struct tdm_groups *groups, size_t *n);

/* Declares an exchange / a queue named name in vh from JSON object obj
 * ({"type", "durable", "auto_delete", "internal", "arguments"}), RabbitMQ's
 * defaults for what is missing, as user (its permissions are checked as
 * for AMQP, core/access.h).  TDM_OK with *created, or a core status with e
 * filled (TDM_E_INVALID for a bad body, TDM_E_ACCESS refused). */
int hx_declare_exchange(struct tdm_vhost *vh, const char *user, const struct js_doc *d, int obj,
			const char *name, size_t len, int *created, struct tdm_err *e);
/* Queue arguments are core's to check (core/qargs.h), as for AMQP; user
 * is who declares (permissions, and a stream's x-log-topic, are checked
 * against it). */
int hx_declare_queue(struct tdm_vhost *vh, const char *user, const struct js_doc *d, int obj,
		     const char *name, size_t len, int *created, struct tdm_err *e);
/* Users and permissions (api_users.c). */
void hx_vhost_permissions(struct hx_req *r, const struct tdm_vhost *vh);
/* Stores the user `name` from object obj of the request body ({"password"
 * | "password_hash", "tags"}), persisted; TDM_OK (*created) or a status
 * with e filled. */
int hx_store_user(struct hx_req *r, int obj, const char *name, int *created, struct tdm_err *e);
/* Sets user's permissions on vhost from object obj ({"configure",
 * "write", "read"}: regular expressions), persisted; TDM_OK (*created: the
 * user had none there) or a status (a bad pattern: TDM_E_INVALID with a
 * text hx_permission_error turns into RabbitMQ's invalid_regexp). */
int hx_store_permission(struct hx_req *r, int obj, const char *vhost, const char *user,
			int *created, struct tdm_err *e);
/* Answers e of hx_store_permission (user NULL) or hx_store_topic_permission
 * (user and vhost: the topic permission's) for a request whose body is
 * the permission: RabbitMQ's 400 invalid_regexp, else hx_core_error. */
void hx_permission_error(struct hx_req *r, const struct tdm_err *e, const char *user,
			 const char *vhost);
/* 400 {"error":"bad_request","reason":["invalid_regexp", pattern, why]}:
 * pattern as a list of character codes (as_codes, RabbitMQ's form for
 * permissions) or a string (its form for topic permissions). */
void hx_invalid_regexp(struct hx_req *r, const char *pattern, int as_codes, const char *why);
/* Topic permissions (api_perms.c): /api/topic-permissions[/vhost/user],
 * /api/users/user/topic-permissions, /api/vhosts/vhost/topic-permissions. */
void hx_topic_permission_list(struct hx_req *r);
void hx_topic_permission(struct hx_req *r);
void hx_user_topic_permissions(struct hx_req *r);
void hx_vhost_topic_permissions(struct hx_req *r);
/* Writes the topic permissions (all) as a JSON array. */
void hx_write_topic_permissions(struct hx_req *r, struct js_w *w);
/* Sets user's topic permission on vhost from object obj ({"exchange",
 * "write", "read"}), persisted; TDM_OK (*created: the user had none in
 * vhost) or a status (a bad pattern as hx_store_permission). */
int hx_store_topic_permission(struct hx_req *r, int obj, const char *vhost, const char *user,
			      int *created, struct tdm_err *e);
/* Writes the users / the permissions (of vh, or all) as a JSON array. */
void hx_write_users(struct hx_req *r, struct js_w *w);
void hx_write_permissions(struct hx_req *r, struct js_w *w, const struct tdm_vhost *vh);
/* 1 when a tags list lets a user into the management API (RabbitMQ's
 * management, policymaker, monitoring or administrator). */
int hx_is_management_user(const char *tags);

/* Message rates (rates.c), per second over the last 5 s sample: index 0
 * publish (exchanges: publish_in), 1 deliver_get (publish_out), 2 ack. */
#define HX_NRATES 3
struct hx_rates *hx_rates_new(struct event_base *base, struct tdm_broker *b);
void hx_rates_free(struct hx_rates *rt);
const double *hx_rates_queue(const struct hx_rates *rt, const struct tdm_queue *q);
const double *hx_rates_exchange(const struct hx_rates *rt, const struct tdm_exchange *x);
const double *hx_rates_overall(const struct hx_rates *rt);
/* Writes "<key>_details": {"rate": rates[i]} (0.0 when rates is NULL). */
void hx_rate_details(struct js_w *w, const char *key, const double *rates, int i);

/* Shared writers. */
void hx_write_queue(struct js_w *w, const struct hx_rates *rt, const struct tdm_queue *q);
void hx_write_exchange(struct js_w *w, const struct hx_rates *rt, const struct tdm_exchange *x);

#endif
