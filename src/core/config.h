/*
 * Broker configuration: one table of keys {name, type, offset, default, min,
 * max} parsed generically from tandem.conf (`key = value` lines, `#`
 * comments) and from command-line flags (`--key value` / `--key=value`, with
 * '-' and '_' interchangeable, plus the short aliases of DESIGN.md section 7).
 * Unknown keys and out-of-range values are errors naming the line.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#ifndef TANDEM_CORE_CONFIG_H
#define TANDEM_CORE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum tdm_log_level { TDM_LOG_ERROR, TDM_LOG_WARNING, TDM_LOG_INFO, TDM_LOG_DEBUG };

/* A user as configured; core/auth.c hashes password, the auth table keeps only the hash. */
struct tdm_user_conf {
	char *name;                 /* owned */
	char *password;             /* owned, plain text from the config, or NULL */
	char *password_hash;        /* owned, "base64(salt||sha256(salt||pw))" as RabbitMQ, or NULL */
	char *vhosts;               /* owned, comma list of vhosts the user may open, "*" = all; default "/" */
	char *tags;                 /* owned, e.g. "administrator"; default "" */
};

/* vhost_limits.VHOST.FIELD / user_limits.USER.FIELD (core/limits.h). */
struct tdm_limit_conf {
	char *name;     /* owned: the vhost or user */
	char field[16]; /* "max-connections", "max-queues", "max-channels" */
	int user;       /* 1: user_limits, 0: vhost_limits */
	int64_t value;  /* negative = no limit */
};

struct tdm_config {
	char *data_dir;             /* owned; default "./tandem-data" */
	char *bind_address;         /* owned; default "127.0.0.1" */
	int amqp_port;              /* default 5672, 0 disables */
	int kafka_port;             /* default 9092, 0 disables */
	int http_port;              /* default 15672, 0 disables */
	char *http_allowed_hosts;   /* owned; comma list of Host names the HTTP listener answers
				     * besides IP literals and localhost; "*" = any; default "" */
	int metrics_auth;           /* /metrics needs a monitoring user's login; default false */
	enum tdm_log_level log_level; /* default info */
	char *log_file;             /* owned; NULL = stderr */
	uint32_t frame_max;         /* default 131072, min 4096 */
	uint32_t channel_max;       /* default 2047, max 65535 */
	uint32_t heartbeat;         /* seconds, default 60, 0 = off */
	uint64_t max_message_size;  /* default 128 MiB */
	uint64_t queue_memory_window; /* resident ready bytes per queue before paging; 64 MiB */
	uint64_t memory_high_watermark; /* RSS bytes; 0 = 40% of physical memory */
	uint64_t disk_free_limit;   /* bytes free in data_dir; default 50 MB */
	uint32_t handshake_timeout; /* ms from accept to connection.open, default 10000 */
	uint32_t close_ok_timeout_ms; /* ms our connection.close waits for close-ok; default 3000 */
	uint32_t consumer_timeout;  /* ms a delivery may stay unacked; 0 = no limit */
	uint32_t max_connections;   /* AMQP connections; default 10000 */
	uint32_t kafka_max_connections; /* Kafka's own budget; default 1000 */
	uint32_t kafka_connections_max_idle_ms; /* default 600000, 0 = never */
	uint32_t http_max_connections; /* default 100 */
	uint32_t http_timeout;      /* seconds idle / without progress; default 60 */
	uint32_t fd_reserve;        /* descriptors kept for the broker's files; default 64 */
	uint32_t max_channels_total;/* default 0 = unlimited */
	uint64_t output_high_watermark; /* per-connection output buffer bytes before a consumer pauses; default 4 MiB */
	char *default_user;         /* owned; "guest"; "" = no default user */
	char *default_pass;         /* owned; "guest" */
	char *default_vhost;        /* owned; "/" */
	char *default_perm_configure; /* owned; default_permissions.configure, ".*" */
	char *default_perm_write;   /* owned; default_permissions.write, ".*" */
	char *default_perm_read;    /* owned; default_permissions.read, ".*" */
	char *loopback_users;       /* owned; comma list; default "guest" (as RabbitMQ) */
	char *vhosts;               /* owned; comma list of extra vhosts to create; default "" */
	/* Kafka protocol front end and logs (src/kafka, core/topics) */
	uint64_t kafka_max_request_size; /* bytes of one request frame; default 100 MiB */
	int auto_create_topics;     /* Metadata creates unknown topics; default false */
	char *kafka_sasl_mechanisms; /* owned; comma list, "" = no SASL */
	int kafka_sasl_required;     /* SASL before any other request */
	char *kafka_vhost;          /* owned; the vhost Kafka clients act in (unless a SASL
				     * username "vhost:user" picks another); "/" */
	int kafka_allow_anonymous;  /* a client without SASL acts as kafka_default_user; true */
	char *kafka_default_user;   /* owned; "guest" (RabbitMQ MQTT's mqtt.default_user) */
	char *kafka_default_pass;   /* owned; "guest" (mqtt.default_pass) */
	uint32_t num_partitions;    /* partitions of auto-created topics; default 1 */
	uint64_t log_retention_ms;  /* broker default retention.ms; 0 = forever; default 7 d */
	uint64_t log_retention_bytes; /* broker default retention.bytes; 0 = unlimited */
	uint64_t log_segment_bytes; /* broker default segment.bytes; default 1 GiB */
	uint64_t log_min_segment_bytes; /* floor of a client's segment.bytes; default 1 MiB */
	uint64_t quorum_segment_bytes; /* segment.bytes of quorum queues' logs; default 8 MiB */
	uint32_t max_partitions_per_topic; /* default 10000 */
	uint32_t max_partitions;    /* over all topics; default 100000 */
	uint64_t log_flush_interval_ms; /* broker default flush.ms; default 1000 */
	uint32_t log_retention_check_interval_ms; /* default 300000 */
	uint64_t producer_id_expiration_ms;       /* default 86400000 */
	uint32_t transaction_max_timeout_ms;      /* default 900000 */
	uint64_t transactional_id_expiration_ms;  /* default 604800000 (7 days) */
	uint32_t group_min_session_timeout_ms; /* default 6000 */
	uint32_t group_max_session_timeout_ms; /* default 1800000 */
	uint32_t group_initial_rebalance_delay_ms; /* default 3000 */
	uint64_t group_max_metadata_bytes; /* JoinGroup metadata per connection; default 1 MiB */
	/* TLS on the AMQP listener (AMQPS), with RabbitMQ's keys (net/tls.h) */
	int ssl_port;               /* listeners.ssl.default; default 0 = no AMQPS listener */
	/* rabbitmq.conf's listeners.tcp.NAME / listeners.ssl.NAME lines, as a
	 * comma list of NAME=HOST:PORT (HOST "" = bind_address, IPv6 in
	 * brackets); when non-empty a list replaces bind_address:amqp_port
	 * (ssl_port) */
	char *amqp_listeners;       /* owned; "" = none */
	char *ssl_listeners;        /* owned; "" = none */
	char *auth_mechanisms;      /* owned; comma list of PLAIN, AMQPLAIN, EXTERNAL offered in
				     * connection.start, in order; "" = PLAIN,AMQPLAIN */
	char *ssl_cert_login_from;  /* owned; EXTERNAL's user name: distinguished_name (default),
				     * common_name */
	char *ssl_ciphers;          /* owned; ssl_options.ciphers: OpenSSL names; "" = defaults */
	int ssl_honor_cipher_order; /* ssl_options.honor_cipher_order; default false */
	char *ssl_cacertfile;       /* owned; ssl_options.cacertfile; NULL = none */
	char *ssl_certfile;         /* owned; ssl_options.certfile; NULL = none */
	char *ssl_keyfile;          /* owned; ssl_options.keyfile; NULL = none */
	char *ssl_password;         /* owned; ssl_options.password (of keyfile); NULL = none */
	char *ssl_verify;           /* owned; ssl_options.verify: verify_none (default), verify_peer */
	int ssl_fail_if_no_peer_cert; /* ssl_options.fail_if_no_peer_cert; default false */
	uint32_t ssl_depth;         /* ssl_options.depth; default 10 */
	char *ssl_versions;         /* owned; ssl_options.versions, comma list; "" = tlsv1.2,tlsv1.3 */
	/* Kafka listeners (Kafka's server.properties keys; src/kafka parses them) */
	char *kafka_listeners;      /* owned; listeners: PLAINTEXT://H:P,SSL://H:P; "" = PLAINTEXT
				     * on bind_address:kafka_port */
	char *kafka_ssl_keystore_type;   /* owned; ssl.keystore.type: PEM only */
	char *kafka_ssl_keystore_location; /* owned; ssl.keystore.location: PEM, chain + key */
	char *kafka_ssl_key_password;    /* owned; ssl.key.password; NULL = none */
	char *kafka_ssl_truststore_type; /* owned; ssl.truststore.type: PEM only */
	char *kafka_ssl_truststore_location; /* owned; ssl.truststore.location; NULL = none */
	char *kafka_ssl_client_auth;     /* owned; ssl.client.auth: none, requested, required */
	char *kafka_ssl_enabled_protocols; /* owned; ssl.enabled.protocols; "" = TLSv1.2,TLSv1.3 */
	/* Kafka's connection limits per client address (core/limits.h: settable at run time) */
	uint32_t kafka_max_connections_per_ip; /* max.connections.per.ip; default INT32_MAX */
	uint32_t kafka_fetch_session_slots; /* max.incremental.fetch.session.cache.slots; 1000 */
	char *kafka_max_connections_per_ip_overrides; /* owned; "ip:count,..."; "" = none */
	/* HTTPS for the management API (rabbitmq.conf's management.ssl.*) */
	int http_ssl_port;          /* management.ssl.port; default 0 = no HTTPS listener */
	char *http_ssl_cacertfile;  /* owned; management.ssl.cacertfile; NULL = none */
	char *http_ssl_certfile;    /* owned; management.ssl.certfile */
	char *http_ssl_keyfile;     /* owned; management.ssl.keyfile */
	char *http_ssl_password;    /* owned; management.ssl.password; NULL = none */
	char *http_ssl_verify;      /* owned; management.ssl.verify: verify_none, verify_peer */
	int http_ssl_fail_if_no_peer_cert; /* management.ssl.fail_if_no_peer_cert */
	uint32_t http_ssl_depth;    /* management.ssl.depth; default 10 */
	char *http_ssl_versions;    /* owned; management.ssl.versions; "" = tlsv1.2,tlsv1.3 */
	char *http_ssl_ciphers;     /* owned; management.ssl.ciphers; "" = OpenSSL's defaults */
	/* the cluster (src/cluster) */
	char *zookeeper_connect;    /* owned; "" = single node (default) */
	uint32_t zookeeper_session_timeout_ms; /* default 18000 */
	uint32_t zookeeper_connection_timeout_ms; /* default 18000 */
	uint32_t node_id;           /* broker.id; default 1 */
	char *advertised_host;      /* owned; "" = bind_address */
	char *broker_rack;          /* owned; Kafka's broker.rack; NULL = none */
	char *kafka_replica_selector; /* owned; "off" (default: the leader) or "rack" */
	uint32_t advertised_port;   /* Kafka port registered in the cluster; 0 = bound port */
	uint32_t default_replication_factor; /* default 1 */
	uint32_t min_insync_replicas; /* default 1 */
	uint32_t replica_lag_time_max_ms; /* default 30000 */
	int unclean_leader_election; /* default false */
	int auto_leader_rebalance_enable; /* default true */
	uint32_t leader_imbalance_check_interval_seconds; /* default 300 */
	uint32_t cluster_port;           /* the cluster link's listener; 0 = none (default) */
	uint32_t advertised_cluster_port; /* registered instead of cluster_port; 0 = that */
	char *cluster_secret_file;       /* owned; the cluster's shared secret; "" = none */
	int http_ssl_honor_cipher_order; /* management.ssl.honor_cipher_order; default false */
	struct tdm_user_conf *users;/* owned array of extra users (`users.NAME.password = ...`) */
	size_t nusers;
	struct tdm_limit_conf *limits; /* owned array (`vhost_limits.V.max-queues = 10`) */
	size_t nlimits;
};

/* Fills c with the defaults (allocating the default strings). 0 or -1 (ENOMEM). */
int tdm_config_init(struct tdm_config *c);
/* Releases everything c owns. */
void tdm_config_free(struct tdm_config *c);
/*
 * Sets one key from its text form (key as in tandem.conf, '-' = '_'; also
 * users.NAME.FIELD, loopback_users.NAME and the RabbitMQ aliases); 0, or -1
 * with a message in err ("unknown key 'foo'", "amqp_port: 70000 is out of
 * range (0 .. 65535)").
 */
int tdm_config_set(struct tdm_config *c, const char *key, const char *value,
		   char *err, size_t errlen);
/*
 * Loads a tandem.conf file; 0, or -1 with "file:line: message" in err.  On
 * error c holds the lines before the bad one (callers exit anyway).
 */
int tdm_config_load(struct tdm_config *c, const char *path, char *err, size_t errlen);
/*
 * Applies argv: `--config FILE` is loaded first wherever it appears, then
 * every other `--key value` overrides.  Returns 0, 1 when --help/--version
 * was printed (caller exits 0), or -1 with a message in err.
 */
int tdm_config_args(struct tdm_config *c, int argc, char **argv, char *err, size_t errlen);
/*
 * Writes every key with its current value as a `key = value` line preceded by
 * `# help` lines, then the configured users (for --help, docs and startup
 * logs).  Passwords are masked, except default_pass while it is the public
 * default; without users.*.password the output loads back as a tandem.conf.
 */
void tdm_config_describe(const struct tdm_config *c, void *file /* FILE* */);
/*
 * Walks a listener list (amqp_listeners, ssl_listeners: NAME=HOST:PORT,...):
 * parses the entry at *pos into name, host (IPv6 without its brackets; ""
 * = bind_address) and port, and moves *pos past it.  1 with an entry, 0 at
 * the end of the list, -1 when the entry is malformed (*pos is then left
 * on it).
 */
int tdm_config_listener_next(const char **pos, char *name, size_t namelen, char *host,
			     size_t hostlen, int *port);

/* The SASL PLAIN user name a node authenticates as on another node's
 * cluster link (cluster_port), with the cluster's secret as password. */
#define TDM_CLUSTER_LINK_USER "tandem-cluster"
/* The longest cluster secret tdm_config_cluster_secret reads, in bytes. */
#define TDM_CLUSTER_SECRET_MAX 1024
/* The least length of a cluster secret, in bytes. */
#define TDM_CLUSTER_SECRET_MIN 16
/*
 * The cluster's shared secret (the cluster link's password, as RabbitMQ's
 * Erlang cookie): the content of cfg->cluster_secret_file with trailing
 * whitespace (spaces, tabs, CR, LF) trimmed, written to out (cap bytes,
 * NUL-terminated after the secret; the secret itself may hold any byte).
 * Returns its length, or -1 with a message in err naming the file and the
 * reason: cluster_secret_file not set, missing or unreadable, not a
 * regular file, readable or writable by group or others (st_mode & 077,
 * as RabbitMQ refuses such a cookie), shorter than TDM_CLUSTER_SECRET_MIN,
 * longer than TDM_CLUSTER_SECRET_MAX or than cap - 1.  The caller should
 * explicit_bzero out when done.
 */
int tdm_config_cluster_secret(const struct tdm_config *cfg, char *out, size_t cap, char *err,
			      size_t errlen);

#endif
