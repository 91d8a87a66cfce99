/*
 * Kafka connections: framing (int32 size + request header v1), the
 * dispatcher over the API table, in-order one-at-a-time request handling
 * with parking, and the listener.
 *
 * A connection from an address that already has max.connections.per.ip
 * Kafka connections is closed right after accept (Kafka's
 * ConnectionQuotas).  A frame over socket.request.max.bytes
 * (kafka_max_request_size), a malformed header or body, an
 * unknown API key or an unsupported version closes only that connection
 * (Kafka's behaviour); ApiVersions of a version we do not serve gets the
 * KIP-511 fallback answer instead.
 *
 * Must not depend on: src/amqp.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/broker.h"
#include "core/config.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/stream.h"
#include "kafka/kafka.h"
#include "kafka/kf.h"
#include "kafka/txn.h"
#include "net/net.h"

struct tdm_kafka {
	struct kf_server srv;
	struct kf_listener lis[TDM_KAFKA_MAX_LISTENERS];
	struct kf_listener link; /* the cluster link's (cluster_port) */
	int link_port;           /* its bound port; 0 = none */
};

static void conn_process(struct kf_conn *kc, struct evbuffer *in);

struct ls_topic *kf_topic_lookup(struct kf_conn *kc, struct kf_str name)
{
	char buf[256];
	const char *vh = kf_authz_vhost(kc);
	struct ls_topic *t;

	if (kf_str_cstr(name, buf, sizeof(buf)) < 0)
		return NULL;
	/* the trusted link names topics by their core names, of any vhost */
	if (!kf_authz_trusted(kc) && !tdm_topic_in_vhost(buf, strlen(buf), vh, strlen(vh)))
		return NULL;
	t = tdm_topic_find(kc->srv->topics, buf);
	return t && !tdm_topic_is_internal(t) ? t : NULL;
}

struct evbuffer *kf_response_begin(struct kf_conn *kc, size_t body_len)
{
	struct evbuffer *out = tdm_conn_out(kc->c);

	/* response header v1 (tagged fields) for a flexible version, but
	 * ApiVersions' is always v0: a client reads it before it knows */
	int tags = kc->flex && kc->hdr.api_key != KF_API_VERSIONS;
	kf_put_i32(out, (int32_t)(body_len + 4 + (size_t)tags));
	kf_put_i32(out, kc->hdr.correlation_id);
	if (tags)
		kf_put_i8(out, 0);
	return out;
}

static void send_body(struct kf_conn *kc, struct evbuffer *body)
{
	struct evbuffer *out = kf_response_begin(kc, evbuffer_get_length(body));

	evbuffer_add_buffer(out, body);
}

/* The request is over: forget its frame-borrowed state. */
static void request_done(struct kf_conn *kc)
{
	kf_arena_reset(&kc->arena);
	memset(&kc->hdr, 0, sizeof(kc->hdr));
	kc->flex = 0;
	evbuffer_drain(kc->resp, evbuffer_get_length(kc->resp));
}

void kf_complete(struct kf_conn *kc, struct evbuffer *body)
{
	kc->park = NULL;
	if (!kc->closing) {
		if (body)
			send_body(kc, body);
	}
	request_done(kc);
	/* Resuming triggers a deferred read when input is already buffered:
	 * never serve this connection's next request inside the callback of
	 * whatever completed this one (another connection's handler). */
	if (!kc->closing)
		tdm_conn_pause_reading(kc->c, 0);
}

static void conn_fail(struct kf_conn *kc, const char *why)
{
	tdm_info("kafka", "%s: closing connection: %s", kc->c->peer, why);
	kc->closing = 1;
	tdm_conn_abort(kc->c);
}

/* Kafka's names of the API keys (the schema files' names), for the log
 * line about a request tandem does not serve. */
static const char *const kafka_api_names[] = {
	"Produce", "Fetch", "ListOffsets", "Metadata", "LeaderAndIsr", "StopReplica",
	"UpdateMetadata", "ControlledShutdown", "OffsetCommit", "OffsetFetch", "FindCoordinator",
	"JoinGroup", "Heartbeat", "LeaveGroup", "SyncGroup", "DescribeGroups", "ListGroups",
	"SaslHandshake", "ApiVersions", "CreateTopics", "DeleteTopics", "DeleteRecords",
	"InitProducerId", "OffsetForLeaderEpoch", "AddPartitionsToTxn", "AddOffsetsToTxn",
	"EndTxn", "WriteTxnMarkers", "TxnOffsetCommit", "DescribeAcls", "CreateAcls",
	"DeleteAcls", "DescribeConfigs", "AlterConfigs", "AlterReplicaLogDirs", "DescribeLogDirs",
	"SaslAuthenticate", "CreatePartitions", "CreateDelegationToken", "RenewDelegationToken",
	"ExpireDelegationToken", "DescribeDelegationToken", "DeleteGroups", "ElectLeaders",
	"IncrementalAlterConfigs", "AlterPartitionReassignments", "ListPartitionReassignments",
	"OffsetDelete", "DescribeClientQuotas", "AlterClientQuotas",
	"DescribeUserScramCredentials", "AlterUserScramCredentials", "Vote", "BeginQuorumEpoch",
	"EndQuorumEpoch", "DescribeQuorum", "AlterPartition", "UpdateFeatures", "Envelope",
	"FetchSnapshot", "DescribeCluster", "DescribeProducers", "BrokerRegistration",
	"BrokerHeartbeat", "UnregisterBroker", "DescribeTransactions", "ListTransactions",
	"AllocateProducerIds", "ConsumerGroupHeartbeat",
};

/* A request tandem cannot serve: one warning naming the API, its key and
 * version and the client, so that a client's vague "the broker does not
 * support the requested API version" can be traced to what it asked. */
static void warn_unserved(const struct kf_conn *kc, const char *what)
{
	int16_t key = kc->hdr.api_key;
	const char *name = key >= 0 && (size_t)key < sizeof(kafka_api_names) / sizeof(kafka_api_names[0])
				   ? kafka_api_names[key]
				   : "an API unknown to tandem";
	struct kf_str id = kc->hdr.client_id;
	tdm_warn("kafka", "%s (client id '%.*s') sent %s (api key %d) v%d: %s; closing the connection",
		 kc->c->peer, id.len > 0 && id.len < 200 ? (int)id.len : 0, id.len > 0 ? id.p : "",
		 name, (int)key, (int)kc->hdr.api_version, what);
}

/* KIP-511: a v0-shaped ApiVersions answer with UNSUPPORTED_VERSION and our
 * ranges, so a client that tried a newer version retries with v0. */
static void api_versions_fallback(struct kf_conn *kc, struct evbuffer *resp)
{
	kf_put_i16(resp, KF_ERR_UNSUPPORTED_VERSION);
	kf_put_i32(resp, (int32_t)kf_napis);
	for (size_t i = 0; i < kf_napis; i++) {
		kf_put_i16(resp, kf_apis[i].key);
		kf_put_i16(resp, kf_apis[i].min);
		kf_put_i16(resp, kf_apis[i].max);
	}
	send_body(kc, resp);
}

/* Serves the frame in kc->frame[0..len).  Returns 0 to go on reading,
 * 1 when the request parked, -1 when the connection is closing. */
static int serve(struct kf_conn *kc, size_t len)
{
	struct kf_cur cur;
	const struct kf_api *api;
	int r;

	if (kc->sasl_raw) {
		if (kf_sasl_raw_token(kc, kc->frame, len, kc->resp) != KF_R_DONE) {
			request_done(kc);
			conn_fail(kc, "SASL authentication failed");
			return -1;
		}
		struct evbuffer *out = tdm_conn_out(kc->c);
		kf_put_i32(out, (int32_t)evbuffer_get_length(kc->resp));
		evbuffer_add_buffer(out, kc->resp);
		request_done(kc);
		return 0;
	}
	kf_cur_init(&cur, kc->frame, len);
	if (kf_decode_header(&cur, &kc->hdr) < 0) {
		conn_fail(kc, "malformed request header");
		return -1;
	}
	api = kf_api_find(kc->hdr.api_key);
	if (!api) {
		warn_unserved(kc, "tandem does not serve this API");
		conn_fail(kc, "unknown api key");
		return -1;
	}
	if (!kf_sasl_may_serve(kc, api->key)) {
		tdm_info("kafka", "%s: %s before SASL authentication", kc->c->peer, api->name);
		conn_fail(kc, "unexpected request during SASL authentication");
		return -1;
	}
	if (!kf_authz_may_serve(kc, api->key)) {
		conn_fail(kc, "anonymous client refused");
		return -1;
	}
	if (kc->hdr.api_version < api->min || kc->hdr.api_version > api->max) {
		if (kc->hdr.api_key == KF_API_VERSIONS && kc->hdr.api_version > api->max) {
			api_versions_fallback(kc, kc->resp);
			request_done(kc);
			return 0;
		}
		char what[80];
		snprintf(what, sizeof(what), "tandem serves versions %d to %d of it", api->min,
			 api->max);
		warn_unserved(kc, what);
		conn_fail(kc, "unsupported api version");
		return -1;
	}
	/* request header v2: tagged fields after client_id */
	int first_flex = kf_first_flexible(kc->hdr.api_key);
	kc->flex = first_flex >= 0 && kc->hdr.api_version >= first_flex;
	cur.flex = kc->flex;
	if (kc->flex && kf_skip_tags(&cur) < 0) {
		request_done(kc);
		conn_fail(kc, "malformed request header");
		return -1;
	}
	tdm_debug("kafka", "%s: %s v%d correlation %d", kc->c->peer, api->name,
		  kc->hdr.api_version, (int)kc->hdr.correlation_id);
	r = api->fn(kc, &cur, kc->resp);
	switch (r) {
	case KF_R_DONE:
		send_body(kc, kc->resp);
		/* fall through */
	case KF_R_NONE:
	case KF_R_SENT:
		request_done(kc);
		return 0;
	case KF_R_PARKED:
		tdm_conn_pause_reading(kc->c, 1);
		return 1;
	case KF_R_DONE_CLOSE:
		send_body(kc, kc->resp);
		request_done(kc);
		kc->closing = 1;
		tdm_conn_close(kc->c);
		return -1;
	default:
		request_done(kc);
		conn_fail(kc, "malformed request");
		return -1;
	}
}

/* socket.request.max.bytes in force (tandem.conf's kafka_max_request_size
 * unless set at run time). */
static uint64_t request_max(const struct kf_server *srv)
{
	int64_t v = tdm_limits_kafka(srv->broker ? srv->broker->limits : NULL, srv->cfg,
				     TDM_KAFKA_REQUEST_SIZE);

	return v > 0 ? (uint64_t)v : srv->cfg->kafka_max_request_size;
}

static void conn_process(struct kf_conn *kc, struct evbuffer *in)
{
	while (!kc->closing && !kc->park) {
		uint8_t head[4];
		size_t avail = evbuffer_get_length(in);
		long size;

		/* Output backlog (big fetch answers): wait for "drained". */
		if (tdm_conn_output_full(kc->c)) {
			tdm_conn_pause_reading(kc->c, 1);
			return;
		}
		if (evbuffer_copyout(in, head, 4) < 4)
			return;
		uint64_t max = request_max(kc->srv);

		size = kf_frame_size(head, avail, max);
		if (size == KF_AGAIN)
			return;
		if (size < 0) {
			char why[128];

			/* Kafka: InvalidReceiveException, and the connection closes */
			snprintf(why, sizeof(why), "request of %u bytes is larger than %s (%llu)",
				 (unsigned)head[0] << 24 | (unsigned)head[1] << 16 |
					 (unsigned)head[2] << 8 | head[3],
				 TDM_KAFKA_REQUEST_SIZE, (unsigned long long)max);
			conn_fail(kc, size == KF_TOO_BIG ? why : "bad frame size");
			return;
		}
		if ((size_t)size > kc->frame_cap) {
			uint8_t *f = realloc(kc->frame, (size_t)size);
			if (!f) {
				conn_fail(kc, "out of memory");
				return;
			}
			kc->frame = f;
			kc->frame_cap = (size_t)size;
		}
		evbuffer_drain(in, 4);
		evbuffer_remove(in, kc->frame, (size_t)size);
		if (serve(kc, (size_t)size) != 0)
			return;
	}
}

/* ---- tdm_proto callbacks --------------------------------------------------- */

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Kafka's max.connections.per.ip (ConnectionQuotas): 1 when the client
 * address ip (len bytes) already has as many Kafka connections as it may,
 * over all Kafka listeners; the refusal is counted and logged, one line per
 * 10 s at most.  0 when it may connect (the caller counts it in).
 */
static int per_ip_refused(struct kf_server *srv, const char *ip, size_t len)
{
	uintptr_t n = (uintptr_t)tdm_map_get(&srv->per_ip, ip, len);
	char addr[64];
	int64_t max, now;

	snprintf(addr, sizeof(addr), "%.*s", (int)len, ip);
	max = tdm_limits_kafka_per_ip(srv->broker ? srv->broker->limits : NULL, srv->cfg, addr);
	if (max < 0 || (int64_t)n < max)
		return 0;
	if (srv->broker)
		tdm_limits_kafka_refused(srv->broker->limits);
	now = mono_ms();
	if (srv->refused_log_ms && now - srv->refused_log_ms < 10000) {
		srv->refused_unlogged++;
		return 1;
	}
	if (srv->refused_unlogged)
		tdm_warn("kafka",
			 "rejected connection from /%s, address already has the configured maximum "
			 "of %lld connections (and %llu more refusals in the last %llds)",
			 addr, (long long)max, (unsigned long long)srv->refused_unlogged,
			 (long long)((now - srv->refused_log_ms) / 1000));
	else
		tdm_warn("kafka",
			 "rejected connection from /%s, address already has the configured maximum "
			 "of %lld connections",
			 addr, (long long)max);
	srv->refused_log_ms = now;
	srv->refused_unlogged = 0;
	return 1;
}

static void *kf_open(struct tdm_conn *c, void *arg)
{
	const struct kf_listener *l = arg;
	const char *colon = strrchr(c->peer, ':');
	size_t iplen = colon ? (size_t)(colon - c->peer) : strlen(c->peer);
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	/* over max.connections.per.ip: closed right after accept, as Kafka */
	if (per_ip_refused(l->srv, c->peer, iplen))
		return NULL;
	struct kf_conn *kc = calloc(1, sizeof(*kc));
	if (!kc)
		return NULL;

	kc->c = c;
	kc->srv = l->srv;
	kc->security = l->security;
	kf_arena_init(&kc->arena);
	kc->resp = evbuffer_new();
	if (!kc->resp) {
		free(kc);
		return NULL;
	}
	/* Responses drain to the socket: file segments added to it (Fetch) are
	 * then sent with sendfile instead of being mapped and copied by writev.
	 * Not under TLS: the encryption reads the bytes (evbuffer_peek), which a
	 * sendfile segment does not hold in memory. */
	if (kc->security == TDM_KAFKA_PLAINTEXT || kc->security == TDM_KAFKA_SASL_PLAINTEXT ||
	    kc->security == TDM_KAFKA_CLUSTER)
		evbuffer_set_flags(kc->resp, EVBUFFER_FLAG_DRAINS_TO_FD);
	snprintf(kc->host, sizeof(kc->host), "127.0.0.1");
	kc->port = kc->srv->port;
	if (getsockname(bufferevent_getfd(c->bev), (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, kc->host,
				  sizeof(kc->host));
			kc->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, kc->host,
				  sizeof(kc->host));
			kc->port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
		}
	}
	/* Kafka shows a member's host as "/ip" */
	snprintf(kc->client_host, sizeof(kc->client_host), "/%.*s", (int)iplen, c->peer);
	if (strlen(kc->client_host + 1) == iplen) {
		const char *ip = kc->client_host + 1;
		uintptr_t n = (uintptr_t)tdm_map_get(&kc->srv->per_ip, ip, iplen);

		if (tdm_map_put(&kc->srv->per_ip, ip, iplen, (void *)(n + 1)) == 0)
			kc->per_ip_counted = 1;
	}
	tdm_debug("kafka", "%s: connected", c->peer);
	return kc;
}

static void kf_read(void *ctx, struct evbuffer *in)
{
	conn_process(ctx, in);
}

static void kf_drained(void *ctx)
{
	struct kf_conn *kc = ctx;

	if (!kc->park && !kc->closing) {
		tdm_conn_pause_reading(kc->c, 0);
		conn_process(kc, bufferevent_get_input(kc->c->bev));
	}
}

static void kf_closed(void *ctx)
{
	struct kf_conn *kc = ctx;

	kc->closing = 1;
	if (kc->park) {
		struct kf_park *p = kc->park;

		kc->park = NULL;
		p->cancel(p);
	}
	kf_groups_conn_closed(kc);
	kf_sasl_conn_free(kc);
	kf_fetch_conn_free(kc);
	if (kc->per_ip_counted) {
		const char *ip = kc->client_host + 1;
		size_t len = strlen(ip);
		uintptr_t n = (uintptr_t)tdm_map_get(&kc->srv->per_ip, ip, len);

		if (n > 1)
			tdm_map_put(&kc->srv->per_ip, ip, len, (void *)(n - 1));
		else
			tdm_map_del(&kc->srv->per_ip, ip, len);
	}
	free(kc->vhost);
	kf_arena_free(&kc->arena);
	evbuffer_free(kc->resp);
	free(kc->frame);
	free(kc);
}

static void kf_shutdown(void *ctx)
{
	struct kf_conn *kc = ctx;

	kc->closing = 1;
	tdm_conn_close(kc->c);
}

static const struct tdm_proto kf_proto = {
	.name = "kafka",
	.open = kf_open,
	.read = kf_read,
	.drained = kf_drained,
	.closed = kf_closed,
	.shutdown = kf_shutdown,
};

/* Opens the cluster link's listener when cfg asks for one.  0, or -1
 * (logged). */
static int cluster_listen(struct tdm_kafka *k, struct tdm_net *net, const struct tdm_config *cfg)
{
	struct tdm_listen_opts lo = { .max_connections = cfg->kafka_max_connections,
				      .idle_timeout_ms = cfg->kafka_connections_max_idle_ms };
	struct tdm_kafka_listener l;
	char err[512];
	int r = tdm_kafka_cluster_listener(cfg, &l, err, sizeof(err)), port;

	if (r <= 0) {
		if (r < 0)
			tdm_error("main", "%s", err);
		return r;
	}
	k->link.srv = &k->srv;
	k->link.security = TDM_KAFKA_CLUSTER;
	port = tdm_net_listen_opts(net, l.host, l.port, &kf_proto, &k->link, &lo);
	if (port < 0) {
		tdm_error("main", "cannot listen on %s:%d: %s", l.host, l.port, strerror(errno));
		return -1;
	}
	k->link_port = port;
	tdm_info("main", "listening kafka %s %s:%d", tdm_kafka_security_name(TDM_KAFKA_CLUSTER),
		 l.host, port);
	return 0;
}

struct tdm_kafka *tdm_kafka_start(struct event_base *base, struct tdm_net *net,
				  const struct tdm_config *cfg, struct tdm_topics *topics,
				  struct tdm_groups *groups, struct tdm_tls *ssl)
{
	struct tdm_kafka_listener ls[TDM_KAFKA_MAX_LISTENERS];
	struct tdm_kafka *k = calloc(1, sizeof(*k));
	char err[256];
	int n;

	if (!k)
		return NULL;
	k->srv.base = base;
	k->srv.net = net;
	k->srv.cfg = cfg;
	k->srv.topics = topics;
	k->srv.cgroups = groups;
	tdm_map_init(&k->srv.per_ip);
	k->srv.groups = kf_groups_new(&k->srv);
	k->srv.fsessions = kf_fsessions_new(cfg->kafka_fetch_session_slots);
	k->srv.txns = kf_txns_new(&k->srv);
	if (!k->srv.txns || !k->srv.groups || !k->srv.fsessions || kf_sasl_init(&k->srv) < 0) {
		kf_txns_free(k->srv.txns);
		kf_groups_free(k->srv.groups);
		kf_fsessions_free(k->srv.fsessions);
		tdm_map_free(&k->srv.per_ip);
		free(k);
		return NULL;
	}
	n = tdm_kafka_listeners(cfg, ls, TDM_KAFKA_MAX_LISTENERS, err, sizeof(err));
	if (n < 0)
		tdm_error("main", "%s", err);
	for (int i = 0; i < n; i++) {
		struct tdm_listen_opts lo = { .max_connections = cfg->kafka_max_connections,
					      .idle_timeout_ms =
						      cfg->kafka_connections_max_idle_ms };
		int port;

		if (ls[i].security == TDM_KAFKA_SSL || ls[i].security == TDM_KAFKA_SASL_SSL) {
			if (!ssl) {
				tdm_error("main", "listeners: %s needs a TLS context",
					  tdm_kafka_security_name(ls[i].security));
				goto fail;
			}
			lo.tls = ssl;
		}
		k->lis[i].srv = &k->srv;
		k->lis[i].security = (int)ls[i].security;
		port = tdm_net_listen_opts(net, ls[i].host, ls[i].port, &kf_proto, &k->lis[i], &lo);
		if (port < 0) {
			tdm_error("main", "cannot listen on %s:%d: %s", ls[i].host, ls[i].port,
				  strerror(errno));
			goto fail;
		}
		if (i == 0)
			k->srv.port = port;
		tdm_info("main", "listening kafka %s %s:%d",
			 tdm_kafka_security_name(ls[i].security), ls[i].host, port);
	}
	if (n >= 0 && cluster_listen(k, net, cfg) < 0)
		goto fail;
	if (n < 0 || (n == 0 && !k->link_port))
		goto fail;
	return k;
fail:
	tdm_kafka_free(k);
	return NULL;
}

void tdm_kafka_set_auth(struct tdm_kafka *k, struct tdm_auth *auth)
{
	k->srv.auth = auth;
}

void tdm_kafka_set_broker(struct tdm_kafka *k, struct tdm_broker *b)
{
	k->srv.broker = b;
	if (!k->srv.auth)
		k->srv.auth = b->auth;
}

void tdm_kafka_set_replica(struct tdm_kafka *k, struct tdm_replica *r)
{
	k->srv.replica = r;
	if (r)
		kf_groups_coordinator(k->srv.groups); /* who writes the offsets log, from now */
}

int tdm_kafka_port(const struct tdm_kafka *k)
{
	return k->srv.port;
}

int tdm_kafka_cluster_port(const struct tdm_kafka *k)
{
	return k->link_port;
}

void tdm_kafka_free(struct tdm_kafka *k)
{
	if (!k)
		return;
	kf_txns_free(k->srv.txns);
	kf_groups_free(k->srv.groups);
	kf_fsessions_free(k->srv.fsessions);
	tdm_map_free(&k->srv.per_ip); /* the values are counts, not pointers */
	free(k);
}
