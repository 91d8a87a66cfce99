/*
 * The Kafka protocol front end: a listener that speaks the Kafka wire
 * protocol (the plan A API versions of /shared/kafka-protocol.md) and
 * turns requests into calls on core's log door (core/topics.h,
 * core/topic_ops.h, core/groups.h).
 *
 * Must not depend on: src/amqp.
 */
#ifndef TANDEM_KAFKA_KAFKA_H
#define TANDEM_KAFKA_KAFKA_H

struct event_base;
struct tdm_net;
struct tdm_config;
struct tdm_topics;
struct tdm_groups;
struct tdm_kafka;
struct tdm_auth;

struct tdm_tls;

/* Kafka's security protocols (a listener's name in `listeners`). */
enum tdm_kafka_security {
	TDM_KAFKA_PLAINTEXT,
	TDM_KAFKA_SSL,
	TDM_KAFKA_SASL_PLAINTEXT,
	TDM_KAFKA_SASL_SSL,
	/* The cluster link (cluster_port): the other nodes of the cluster,
	 * authenticated with SASL PLAIN as TDM_CLUSTER_LINK_USER and the
	 * cluster's secret, then acting as the broker itself.  Never a name
	 * `listeners` accepts. */
	TDM_KAFKA_CLUSTER,
};

/* One listener of `listeners`. */
struct tdm_kafka_listener {
	enum tdm_kafka_security security;
	char host[256]; /* address to bind (bind_address when the entry had none) */
	int port;       /* 0 = kernel-chosen */
};

#define TDM_KAFKA_MAX_LISTENERS 4

/* Kafka's name of a security protocol ("SSL"; "CLUSTER" for the link). */
const char *tdm_kafka_security_name(enum tdm_kafka_security s);
/*
 * The listeners cfg asks for: cfg->kafka_listeners (Kafka's
 * `PLAINTEXT://host:port,SSL://host:port,SASL_PLAINTEXT://..,SASL_SSL://..`)
 * or, when that is empty, one listener on bind_address:kafka_port (none when
 * kafka_port is 0), SASL_PLAINTEXT under kafka_sasl_required, else
 * PLAINTEXT.  Fills out (at most max); returns how many, or -1 with a
 * message in err (a malformed entry, an unknown or duplicate name).
 */
int tdm_kafka_listeners(const struct tdm_config *cfg, struct tdm_kafka_listener *out, int max,
			char *err, size_t errlen);
/*
 * The SSL and SASL_SSL listeners' TLS context from Kafka's keys: ssl.keystore.location
 * (PEM: key and certificate chain), ssl.key.password,
 * ssl.truststore.location, ssl.client.auth, ssl.enabled.protocols.  The
 * caller owns it (tdm_tls_free after tdm_kafka_free).  NULL with a message
 * in err naming the key, the file and the reason.
 */
struct tdm_tls *tdm_kafka_tls(const struct tdm_config *cfg, char *err, size_t errlen);
/*
 * The cluster link's listener cfg asks for (cluster_port): 1 with it in
 * *out (security TDM_KAFKA_CLUSTER; host advertised_host, else the host of
 * the first Kafka listener of tdm_kafka_listeners, else bind_address), 0
 * when cluster_port is 0, -1 with a message in err (the Kafka listeners
 * are malformed).
 */
int tdm_kafka_cluster_listener(const struct tdm_config *cfg, struct tdm_kafka_listener *out,
			       char *err, size_t errlen);
/*
 * Starts the front end and opens the listeners of tdm_kafka_listeners and
 * tdm_kafka_cluster_listener (at least one of them).  SSL and SASL_SSL listeners accept TLS with ssl (borrowed,
 * must outlive the front end; may be NULL when none is).  SASL_* listeners
 * serve nothing but ApiVersions, SaslHandshake and SaslAuthenticate before
 * a client authenticates (so do all under kafka_sasl_required).  The
 * cluster link's listener does the same, offers PLAIN only and accepts
 * only TDM_CLUSTER_LINK_USER with the cluster's secret (core/auth.h
 * tdm_auth_link_check of the users tdm_kafka_set_auth gives, which read
 * the secret: tdm_auth_new); a connection
 * authenticated there acts as the broker: every topic of every vhost by
 * its core name, no permission checks, record headers of
 * TDM_TOPICS_RESERVED_HEADER_PREFIX accepted in Produce.  cfg, topics and
 * groups are borrowed and must outlive it; the front end coordinates the
 * groups' membership.  Returns NULL (after logging why) on failure.
 */
struct tdm_kafka *tdm_kafka_start(struct event_base *base, struct tdm_net *net,
				  const struct tdm_config *cfg, struct tdm_topics *topics,
				  struct tdm_groups *groups, struct tdm_tls *ssl);
/* The users SASL authenticates against (borrowed, must outlive k); call
 * right after tdm_kafka_start, before the event loop runs.  Without it
 * every SASL authentication fails. */
void tdm_kafka_set_auth(struct tdm_kafka *k, struct tdm_auth *auth);
struct tdm_broker;
/* The broker (borrowed, must outlive k): the vhosts a "vhost:user" SASL
 * name may pick (without it such a name picks no vhost: the authentication
 * fails); its limits (max.connections.per.ip, socket.request.max.bytes,
 * max_partitions... set at run time); the connection registry, where
 * SASL-authenticated connections are listed and counted toward their
 * user's and vhost's max-connections.  Call as tdm_kafka_set_auth (it also
 * sets the users SASL checks against when that was not called). */
void tdm_kafka_set_broker(struct tdm_kafka *k, struct tdm_broker *b);
struct tdm_replica;
/* The cluster's replica manager (borrowed, must outlive k; NULL, the
 * default, on a single node): Fetch, ListOffsets and OffsetForLeaderEpoch
 * then answer as a partition's leader or NOT_LEADER_OR_FOLLOWER, serve
 * consumers below the high watermark and followers (replica_id >= 0, an
 * administrator's connection) up to the log end.  Call as
 * tdm_kafka_set_auth. */
void tdm_kafka_set_replica(struct tdm_kafka *k, struct tdm_replica *r);
/* The bound port of the first listener (what a cluster node registers). */
int tdm_kafka_port(const struct tdm_kafka *k);
/* The bound port of the cluster link's listener; 0 when there is none.
 * tandemd gives that listener a route (net/net.h tdm_net_listen_routes):
 * connections starting with the AMQP header go to the AMQP front end, so
 * this front end sees only the Kafka ones. */
int tdm_kafka_cluster_port(const struct tdm_kafka *k);
/* Frees the group coordinator and the rest; call after tdm_net_free (the
 * connections are gone) and before tdm_topics_close.  NULL is fine. */
void tdm_kafka_free(struct tdm_kafka *k);

#endif
