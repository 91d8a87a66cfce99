/*
 * Broker configuration.  Every scalar key is one row of conf_keys[]
 * {name, type, offset, default, min, max, flags, help}; reading a file, a
 * command-line flag, the built-in defaults and --help all go through that
 * table, so adding a key is adding a row.  Two key families with a variable
 * middle part (users.NAME.FIELD, loopback_users.NAME, vhost_limits.VHOST.FIELD,
 * user_limits.USER.FIELD) sit in conf_prefixes[],
 * RabbitMQ spellings of our keys in conf_aliases[], and rabbitmq.conf's
 * listeners.tcp/ssl lines in set_listener_key.
 *
 * Must not depend on: libevent, protocol front ends, auth (passwords are kept
 * here as configured; core/auth.c hashes them).
 */
#ifdef HAVE_CONFIG_H
#include <config.h> /* autoconf's, for PACKAGE_VERSION; ours is "core/config.h" */
#endif

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/log.h"
#include "util/b64.h"
#include "util/errf.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

#define KIB (UINT64_C(1) << 10)
#define MIB (UINT64_C(1) << 20)
#define GIB (UINT64_C(1) << 30)

enum conf_type {
	CT_STR,   /* char *; min is the least length (1 = must not be empty), max the
		   * most (0 = no limit) */
	CT_LIST,  /* char *, comma list stored trimmed; "none" = empty */
	CT_INT,   /* int */
	CT_U32,   /* uint32_t */
	CT_U64,   /* uint64_t */
	CT_LEVEL, /* enum tdm_log_level */
	CT_BOOL,  /* int, 0 or 1: true/false, yes/no, on/off, 1/0 */
};

enum conf_flags {
	CF_BYTES = 1 << 0,    /* numeric value accepts KiB/MiB/GiB/KB/MB/GB suffixes */
	CF_NULLABLE = 1 << 1, /* CT_STR: an empty value stores NULL */
	CF_SECRET = 1 << 2,   /* describe masks it unless it is the public default */
};

struct conf_key {
	const char *name;
	enum conf_type type;
	size_t offset;
	const char *def; /* default in the same text form a file uses */
	uint64_t min, max;
	unsigned flags;
	const char *help;
};

#define OFF(field) offsetof(struct tdm_config, field)

static const struct conf_key conf_keys[] = {
	{ "data_dir", CT_STR, OFF(data_dir), "./tandem-data", 1, 0, 0,
	  "Directory holding everything the broker persists." },
	{ "bind_address", CT_STR, OFF(bind_address), "127.0.0.1", 1, 0, 0,
	  "Address every listener binds to (0.0.0.0 or :: for all interfaces)." },
	{ "amqp_port", CT_INT, OFF(amqp_port), "5672", 0, 65535, 0,
	  "AMQP 0-9-1 listener port; 0 disables the listener." },
	{ "amqp_listeners", CT_LIST, OFF(amqp_listeners), "", 0, 0, 0,
	  "AMQP listeners from rabbitmq.conf's listeners.tcp.NAME = PORT | IP:PORT lines\n"
	  "(listeners.tcp.default = 127.0.0.1:5672, listeners.tcp.2 = [::1]:5672 or\n"
	  "::1:5672), as NAME=HOST:PORT; when set they replace bind_address:amqp_port, as\n"
	  "RabbitMQ's replace its default.  Setting amqp_port empties it; listeners.tcp =\n"
	  "none turns every plain listener off." },
	{ "kafka_port", CT_INT, OFF(kafka_port), "9092", 0, 65535, 0,
	  "Kafka protocol listener port (9092 by convention); 0 disables the listener." },
	{ "http_port", CT_INT, OFF(http_port), "15672", 0, 65535, 0,
	  "HTTP management and /metrics port (15672 by convention); 0 disables the listener." },
	{ "http_allowed_hosts", CT_LIST, OFF(http_allowed_hosts), "", 0, 0, 0,
	  "Comma list of host names the HTTP listener answers to (the Host header), besides\n"
	  "IP addresses, localhost and bind_address; others get 403 (DNS rebinding);\n"
	  "* = any name." },
	{ "metrics_auth", CT_BOOL, OFF(metrics_auth), "false", 0, 1, 0,
	  "/metrics asks for basic authentication of a user tagged monitoring or administrator\n"
	  "(RabbitMQ's prometheus.authentication.enabled); false = open, as RabbitMQ's default." },
	{ "log_level", CT_LEVEL, OFF(log_level), "info", 0, 0, 0,
	  "One of error, warning, info, debug." },
	{ "log_file", CT_STR, OFF(log_file), "", 0, 0, CF_NULLABLE,
	  "Append log lines to this file; empty logs to stderr." },
	{ "frame_max", CT_U32, OFF(frame_max), "128KiB", 4096, INT32_MAX, CF_BYTES,
	  "Largest AMQP frame offered in connection.tune, in bytes (4096 .. 2GiB-1)." },
	{ "channel_max", CT_U32, OFF(channel_max), "2047", 1, 65535, 0,
	  "Most channels per AMQP connection offered in connection.tune (1 .. 65535)." },
	{ "heartbeat", CT_U32, OFF(heartbeat), "60", 0, 65535, 0,
	  "AMQP heartbeat interval offered in connection.tune, in seconds; 0 disables." },
	{ "max_message_size", CT_U64, OFF(max_message_size), "128MiB", 1, 512 * MIB, CF_BYTES,
	  "Largest message body accepted, in bytes (at most 512MiB, as RabbitMQ)." },
	{ "queue_memory_window", CT_U64, OFF(queue_memory_window), "64MiB", 0, INT64_MAX, CF_BYTES,
	  "Ready messages a queue keeps in memory, in bytes; beyond it bodies wait in the\n"
	  "journal on disk and are read back in order (0 = keep everything in memory)." },
	{ "memory_high_watermark", CT_U64, OFF(memory_high_watermark), "0", 0, INT64_MAX, CF_BYTES,
	  "Resident memory above which publishing connections are blocked (connection.blocked)\n"
	  "until it falls again; 0 = 40% of physical memory (RabbitMQ's vm_memory_high_watermark)." },
	{ "disk_free_limit", CT_U64, OFF(disk_free_limit), "50MB", 0, INT64_MAX, CF_BYTES,
	  "Free space in the data directory below which publishers are blocked (RabbitMQ's default)." },
	{ "consumer_timeout", CT_U32, OFF(consumer_timeout), "1800000", 0, INT32_MAX, 0,
	  "Milliseconds a delivery may wait for its acknowledgement before its channel is\n"
	  "closed with 406 PRECONDITION_FAILED (RabbitMQ 3.10's default, 30 minutes); 0 = no limit." },
	{ "handshake_timeout", CT_U32, OFF(handshake_timeout), "10000", 100, 3600000, 0,
	  "Milliseconds a new AMQP connection may take to reach connection.open (RabbitMQ: 10000)." },
	{ "close_ok_timeout_ms", CT_U32, OFF(close_ok_timeout_ms), "3000", 1, 3600000, 0,
	  "Milliseconds the broker waits for connection.close-ok after closing an AMQP\n"
	  "connection for an error, before it drops the socket (RabbitMQ waits up to 30 s)." },
	{ "max_connections", CT_U32, OFF(max_connections), "10000", 1, 1048576, 0,
	  "Most AMQP connections (at most Linux's default fs.nr_open); Kafka and HTTP have\n"
	  "budgets of their own (kafka_max_connections, http_max_connections)." },
	{ "kafka_max_connections", CT_U32, OFF(kafka_max_connections), "1000", 1, 1048576, 0,
	  "Most Kafka protocol connections, a budget apart from AMQP's max_connections\n"
	  "(a Kafka client over it is disconnected at once, as Kafka's max.connections)." },
	{ "kafka_connections_max_idle_ms", CT_U32, OFF(kafka_connections_max_idle_ms), "600000", 0,
	  INT32_MAX, 0,
	  "A Kafka connection that sends nothing for this long is closed\n"
	  "(Kafka's connections.max.idle.ms); 0 = never." },
	{ "http_max_connections", CT_U32, OFF(http_max_connections), "100", 1, 1048576, 0,
	  "Most HTTP (management API and /metrics) connections; more are closed at once." },
	{ "http_timeout", CT_U32, OFF(http_timeout), "60", 1, 86400, 0,
	  "Seconds an HTTP connection may stay idle, or a request or response make no\n"
	  "progress (a client that never reads), before it is closed." },
	{ "fd_reserve", CT_U32, OFF(fd_reserve), "64", 0, 1048576, 0,
	  "File descriptors kept back for the broker's own files: a new connection is\n"
	  "closed at once when fewer than this would remain under RLIMIT_NOFILE." },
	{ "max_channels_total", CT_U32, OFF(max_channels_total), "0", 0, UINT32_MAX, 0,
	  "Most AMQP channels over all connections; 0 = unlimited." },
	{ "output_high_watermark", CT_U64, OFF(output_high_watermark), "4MiB", 4096, GIB, CF_BYTES,
	  "Bytes queued for output on one connection before its consumers stop receiving." },
	{ "kafka_max_request_size", CT_U64, OFF(kafka_max_request_size), "100MiB", 1 * KIB,
	  INT32_MAX, CF_BYTES,
	  "Largest Kafka request frame accepted; a bigger one closes its connection\n"
	  "(Kafka's socket.request.max.bytes, also accepted as this key's name;\n"
	  "settable at run time over /api/kafka-limits)." },
	{ "auto_create_topics", CT_BOOL, OFF(auto_create_topics), "false", 0, 1, 0,
	  "Create unknown topics when a Kafka client asks for their metadata\n"
	  "(Kafka's auto.create.topics.enable)." },
	{ "kafka_vhost", CT_STR, OFF(kafka_vhost), "/", 1, 0, 0,
	  "The vhost Kafka clients act in (a SASL username \"vhost:user\" picks another):\n"
	  "its stream queues' topics and, for \"/\", every topic not named \"__...\",\n"
	  "under the user's permissions there." },
	{ "kafka_allow_anonymous", CT_BOOL, OFF(kafka_allow_anonymous), "true", 0, 1, 0,
	  "A Kafka client that does not authenticate with SASL acts as kafka_default_user\n"
	  "(RabbitMQ MQTT's mqtt.allow_anonymous); false: it is closed at its first request\n"
	  "other than ApiVersions, SaslHandshake and SaslAuthenticate." },
	{ "kafka_default_user", CT_STR, OFF(kafka_default_user), "guest", 0, 0, 0,
	  "The user anonymous Kafka clients act as (mqtt.default_user); it must log in with\n"
	  "kafka_default_pass from the client's address (loopback_users applies)." },
	{ "kafka_default_pass", CT_STR, OFF(kafka_default_pass), "guest", 0, 0, CF_SECRET,
	  "Password of kafka_default_user (mqtt.default_pass)." },
	{ "kafka_sasl_mechanisms", CT_LIST, OFF(kafka_sasl_mechanisms),
	  "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512", 0, 0, 0,
	  "SASL mechanisms the Kafka listener offers (Kafka's sasl.enabled.mechanisms):\n"
	  "PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, against the users of AMQP; none = no SASL." },
	{ "kafka_sasl_required", CT_BOOL, OFF(kafka_sasl_required), "false", 0, 1, 0,
	  "Kafka clients must authenticate with SASL (a SASL_PLAINTEXT listener): before\n"
	  "that, any request but ApiVersions, SaslHandshake and SaslAuthenticate closes\n"
	  "the connection." },
	{ "num_partitions", CT_U32, OFF(num_partitions), "1", 1, 1000000, 0,
	  "Partitions of an auto-created topic (and of CreateTopics asking for the default)." },
	{ "log_retention_ms", CT_U64, OFF(log_retention_ms), "604800000", 0, INT64_MAX, 0,
	  "Default retention.ms of topics: segments older than this are deleted; 0 = forever." },
	{ "log_retention_bytes", CT_U64, OFF(log_retention_bytes), "0", 0, INT64_MAX, CF_BYTES,
	  "Default retention.bytes of a partition: oldest segments beyond it are deleted;\n"
	  "0 = unlimited." },
	{ "log_segment_bytes", CT_U64, OFF(log_segment_bytes), "1GiB", 14, INT32_MAX, CF_BYTES,
	  "Default segment.bytes: size at which a partition starts a new segment file." },
	{ "log_min_segment_bytes", CT_U64, OFF(log_min_segment_bytes), "1MiB", 14, INT32_MAX,
	  CF_BYTES,
	  "Smallest segment.bytes a client may give a topic (Kafka 4's floor; each segment\n"
	  "holds a file descriptor open); smaller is refused with INVALID_CONFIG." },
	{ "quorum_segment_bytes", CT_U64, OFF(quorum_segment_bytes), "8MiB", 14, INT32_MAX,
	  CF_BYTES,
	  "segment.bytes of a quorum queue's log (at least log_min_segment_bytes): the\n"
	  "queue's leader deletes whole segments whose messages were all settled." },
	{ "max_partitions_per_topic", CT_U32, OFF(max_partitions_per_topic), "10000", 1, 1000000, 0,
	  "Most partitions one topic may have; more is refused with INVALID_PARTITIONS\n"
	  "(settable at run time over /api/kafka-limits)." },
	{ "max_partitions", CT_U32, OFF(max_partitions), "100000", 1, 100000000, 0,
	  "Most partitions over all topics of the broker; more is refused with\n"
	  "POLICY_VIOLATION (settable at run time over /api/kafka-limits)." },
	{ "log_flush_interval_ms", CT_U64, OFF(log_flush_interval_ms), "1000", 1, INT64_MAX, 0,
	  "Default flush.ms: unflushed log data older than this is fsynced (acks=all\n"
	  "produce requests fsync at once)." },
	{ "log_retention_check_interval_ms", CT_U32, OFF(log_retention_check_interval_ms), "300000",
	  10, 86400000, 0, "How often retention and compaction look for work (in small budgets)." },
	{ "producer_id_expiration_ms", CT_U64, OFF(producer_id_expiration_ms), "86400000", 1,
	  INT64_MAX, 0,
	  "An idempotent producer idle this long (by its last batch's timestamp) is\n"
	  "forgotten by the partitions, as Kafka's producer.id.expiration.ms." },
	{ "transaction_max_timeout_ms", CT_U32, OFF(transaction_max_timeout_ms), "900000", 1,
	  INT32_MAX, 0,
	  "Longest transaction timeout a transactional producer may ask for (longer:\n"
	  "INVALID_TRANSACTION_TIMEOUT), as Kafka's transaction.max.timeout.ms." },
	{ "transactional_id_expiration_ms", CT_U64, OFF(transactional_id_expiration_ms),
	  "604800000", 1, INT64_MAX, 0,
	  "A transactional id with no transaction open and no request for this long is\n"
	  "forgotten by the coordinator, as Kafka's transactional.id.expiration.ms." },
	{ "group_min_session_timeout_ms", CT_U32, OFF(group_min_session_timeout_ms), "6000", 1,
	  INT32_MAX, 0, "Smallest session timeout a consumer group member may ask for." },
	{ "group_max_session_timeout_ms", CT_U32, OFF(group_max_session_timeout_ms), "1800000", 1,
	  INT32_MAX, 0, "Largest session timeout a consumer group member may ask for." },
	{ "group_initial_rebalance_delay_ms", CT_U32, OFF(group_initial_rebalance_delay_ms), "3000",
	  0, 300000, 0,
	  "How long the first rebalance of an empty group waits for more members to join." },
	{ "group_max_metadata_bytes", CT_U64, OFF(group_max_metadata_bytes), "1MiB", 1 * KIB,
	  INT32_MAX, CF_BYTES,
	  "Most protocol metadata bytes one Kafka connection's group members may hold;\n"
	  "a JoinGroup over it is refused with INVALID_REQUEST.  A member's metadata is\n"
	  "dropped when the connection that sent it closes." },
	{ "default_user", CT_STR, OFF(default_user), "guest", 0, 0, 0,
	  "User created at startup with access to every vhost and tag administrator;\n"
	  "empty = no such user." },
	{ "default_pass", CT_STR, OFF(default_pass), "guest", 0, 0, CF_SECRET,
	  "Password of default_user." },
	{ "default_vhost", CT_STR, OFF(default_vhost), "/", 1, 0, 0,
	  "Virtual host created at startup." },
	{ "default_permissions.configure", CT_STR, OFF(default_perm_configure), ".*", 0, 0, 0,
	  "default_user's configure pattern (a POSIX extended regular expression; \"\" =\n"
	  "nothing) on every vhost, as rabbitmq.conf's key." },
	{ "default_permissions.write", CT_STR, OFF(default_perm_write), ".*", 0, 0, 0,
	  "default_user's write pattern on every vhost." },
	{ "default_permissions.read", CT_STR, OFF(default_perm_read), ".*", 0, 0, 0,
	  "default_user's read pattern on every vhost." },
	{ "loopback_users", CT_LIST, OFF(loopback_users), "guest", 0, 0, 0,
	  "Comma list of users who may connect only from a loopback address (none = nobody).\n"
	  "loopback_users.NAME = true|false adds or removes one user." },
	{ "vhosts", CT_LIST, OFF(vhosts), "", 0, 0, 0,
	  "Comma list of further virtual hosts created at startup." },
	/* TLS: rabbitmq.conf's own keys, so its TLS section works unchanged */
	{ "listeners.ssl.default", CT_INT, OFF(ssl_port), "0", 0, 65535, 0,
	  "AMQPS (AMQP over TLS) listener port, 5671 by convention; 0 = none (the default:\n"
	  "as RabbitMQ, certificates alone do not open it).  Needs ssl_options.certfile\n"
	  "and ssl_options.keyfile.  listeners.ssl = none also turns it off." },
	{ "ssl_options.cacertfile", CT_STR, OFF(ssl_cacertfile), "", 0, 0, CF_NULLABLE,
	  "PEM file of the CAs client certificates are verified against (verify_peer)." },
	{ "ssl_options.certfile", CT_STR, OFF(ssl_certfile), "", 0, 0, CF_NULLABLE,
	  "PEM file of the server's certificate (followed by its intermediate CAs)." },
	{ "ssl_options.keyfile", CT_STR, OFF(ssl_keyfile), "", 0, 0, CF_NULLABLE,
	  "PEM file of the server's private key." },
	{ "ssl_options.password", CT_STR, OFF(ssl_password), "", 0, 0, CF_NULLABLE | CF_SECRET,
	  "Passphrase of an encrypted ssl_options.keyfile." },
	{ "ssl_options.verify", CT_STR, OFF(ssl_verify), "verify_none", 1, 0, 0,
	  "verify_peer: ask clients for a certificate and refuse a connection whose\n"
	  "certificate does not verify against ssl_options.cacertfile; verify_none: do not\n"
	  "ask (RabbitMQ's default)." },
	{ "ssl_options.fail_if_no_peer_cert", CT_BOOL, OFF(ssl_fail_if_no_peer_cert), "false", 0, 1,
	  0,
	  "With verify_peer: also refuse clients that send no certificate at all\n"
	  "(otherwise they are let in, as RabbitMQ)." },
	{ "ssl_options.depth", CT_U32, OFF(ssl_depth), "10", 0, 100, 0,
	  "Most intermediate CAs between a client's certificate and a trusted CA." },
	{ "ssl_options.versions", CT_LIST, OFF(ssl_versions), "", 0, 0, 0,
	  "Comma list of TLS versions offered: tlsv1.3, tlsv1.2, tlsv1.1, tlsv1; empty =\n"
	  "tlsv1.2,tlsv1.3.  rabbitmq.conf's ssl_options.versions.N = tlsv1.2 lines add one\n"
	  "each." },
	{ "ssl_listeners", CT_LIST, OFF(ssl_listeners), "", 0, 0, 0,
	  "AMQPS listeners from rabbitmq.conf's listeners.ssl.NAME = PORT | IP:PORT lines\n"
	  "(IPv6 as [::1]:5671 or ::1:5671), as NAME=HOST:PORT; when set they replace\n"
	  "bind_address:listeners.ssl.default." },
	{ "ssl_options.ciphers", CT_LIST, OFF(ssl_ciphers), "", 0, 0, 0,
	  "Comma list of OpenSSL cipher names in order of preference, TLS 1.3 suites\n"
	  "(TLS_AES_256_GCM_SHA384) and TLS 1.2 ones (ECDHE-ECDSA-AES256-GCM-SHA384);\n"
	  "empty = OpenSSL's defaults.  ssl_options.ciphers.N = NAME lines add one each." },
	{ "ssl_options.honor_cipher_order", CT_BOOL, OFF(ssl_honor_cipher_order), "false", 0, 1, 0,
	  "true: the server's order of ssl_options.ciphers picks the cipher; false: the\n"
	  "client's (Erlang's default)." },
	{ "auth_mechanisms", CT_LIST, OFF(auth_mechanisms), "", 0, 0, 0,
	  "SASL mechanisms offered to AMQP clients, in order: PLAIN, AMQPLAIN, EXTERNAL\n"
	  "(login by TLS client certificate, offered on TLS connections only); empty =\n"
	  "PLAIN,AMQPLAIN.  rabbitmq.conf's auth_mechanisms.N = NAME lines add one each." },
	{ "ssl_cert_login_from", CT_STR, OFF(ssl_cert_login_from), "distinguished_name", 1, 0, 0,
	  "EXTERNAL's user name from the client certificate: distinguished_name (its\n"
	  "subject as RabbitMQ writes it, CN=client,O=Example) or common_name." },
	/* Kafka's listeners and SSL keys, as server.properties spells them */
	{ "listeners", CT_LIST, OFF(kafka_listeners), "", 0, 0, 0,
	  "Kafka listeners, Kafka's form: PLAINTEXT://HOST:PORT,SSL://HOST:PORT,\n"
	  "SASL_PLAINTEXT://HOST:PORT,SASL_SSL://HOST:PORT (an empty HOST = bind_address;\n"
	  "SASL_* require SASL).  When set it replaces kafka_port: only the listeners named\n"
	  "open.  Empty = one listener on bind_address:kafka_port (SASL_PLAINTEXT under\n"
	  "kafka_sasl_required, else PLAINTEXT)." },
	{ "ssl.keystore.type", CT_STR, OFF(kafka_ssl_keystore_type), "PEM", 1, 0, 0,
	  "Format of ssl.keystore.location: PEM (JKS and PKCS12 are not read)." },
	{ "ssl.keystore.location", CT_STR, OFF(kafka_ssl_keystore_location), "", 0, 0, CF_NULLABLE,
	  "PEM file of the Kafka SSL listener: its private key and certificate chain\n"
	  "(Kafka's PEM keystore)." },
	{ "ssl.key.password", CT_STR, OFF(kafka_ssl_key_password), "", 0, 0,
	  CF_NULLABLE | CF_SECRET, "Passphrase of an encrypted key in ssl.keystore.location." },
	{ "ssl.truststore.type", CT_STR, OFF(kafka_ssl_truststore_type), "PEM", 1, 0, 0,
	  "Format of ssl.truststore.location: PEM." },
	{ "ssl.truststore.location", CT_STR, OFF(kafka_ssl_truststore_location), "", 0, 0,
	  CF_NULLABLE, "PEM file of the CAs Kafka client certificates are verified against." },
	{ "ssl.client.auth", CT_STR, OFF(kafka_ssl_client_auth), "none", 1, 0, 0,
	  "Client certificates on the Kafka SSL listener: none (not asked), requested\n"
	  "(verified when sent), required (a client without a good one is refused)." },
	{ "ssl.enabled.protocols", CT_LIST, OFF(kafka_ssl_enabled_protocols), "TLSv1.2,TLSv1.3", 0,
	  0, 0, "TLS versions the Kafka SSL listener offers: TLSv1.2, TLSv1.3 (and older)." },
	{ "max.incremental.fetch.session.cache.slots", CT_U32, OFF(kafka_fetch_session_slots),
	  "1000", 0, 1048576, 0,
	  "Fetch sessions (KIP-227) the broker keeps (Kafka's setting); 0: none, every\n"
	  "fetch is a full one." },
	/* Kafka's per-address connection limits (also at run time: /api/kafka-limits) */
	{ "max.connections.per.ip", CT_U32, OFF(kafka_max_connections_per_ip), "2147483647", 0,
	  INT32_MAX, 0,
	  "Most Kafka connections from one IP address over all Kafka listeners (Kafka's\n"
	  "max.connections.per.ip); one more is closed right after accept." },
	{ "max.connections.per.ip.overrides", CT_LIST, OFF(kafka_max_connections_per_ip_overrides),
	  "", 0, 0, 0,
	  "Per-address exceptions to max.connections.per.ip, Kafka's form: IP:COUNT,...\n"
	  "(e.g. 127.0.0.1:200,10.1.2.3:5)." },
	/* HTTPS: rabbitmq.conf's management.ssl.* */
	{ "management.ssl.port", CT_INT, OFF(http_ssl_port), "0", 0, 65535, 0,
	  "HTTPS port of the management API, console and /metrics, 15671 by convention;\n"
	  "0 = none.  Needs management.ssl.certfile and management.ssl.keyfile." },
	{ "management.ssl.cacertfile", CT_STR, OFF(http_ssl_cacertfile), "", 0, 0, CF_NULLABLE,
	  "PEM file of the CAs HTTPS client certificates are verified against." },
	{ "management.ssl.certfile", CT_STR, OFF(http_ssl_certfile), "", 0, 0, CF_NULLABLE,
	  "PEM file of the HTTPS listener's certificate (then its intermediate CAs)." },
	{ "management.ssl.keyfile", CT_STR, OFF(http_ssl_keyfile), "", 0, 0, CF_NULLABLE,
	  "PEM file of the HTTPS listener's private key." },
	{ "management.ssl.password", CT_STR, OFF(http_ssl_password), "", 0, 0,
	  CF_NULLABLE | CF_SECRET, "Passphrase of an encrypted management.ssl.keyfile." },
	{ "management.ssl.verify", CT_STR, OFF(http_ssl_verify), "verify_none", 1, 0, 0,
	  "verify_peer: HTTPS clients' certificates are verified against\n"
	  "management.ssl.cacertfile; verify_none: none is asked." },
	{ "management.ssl.fail_if_no_peer_cert", CT_BOOL, OFF(http_ssl_fail_if_no_peer_cert),
	  "false", 0, 1, 0, "With verify_peer: also refuse HTTPS clients without a certificate." },
	{ "management.ssl.depth", CT_U32, OFF(http_ssl_depth), "10", 0, 100, 0,
	  "Most intermediate CAs between an HTTPS client's certificate and a trusted CA." },
	{ "management.ssl.versions", CT_LIST, OFF(http_ssl_versions), "", 0, 0, 0,
	  "Comma list of TLS versions the HTTPS listener offers; empty = tlsv1.2,tlsv1.3.\n"
	  "management.ssl.versions.N = tlsv1.2 lines add one each." },
	{ "management.ssl.ciphers", CT_LIST, OFF(http_ssl_ciphers), "", 0, 0, 0,
	  "OpenSSL cipher names of the HTTPS listener, as ssl_options.ciphers\n"
	  "(management.ssl.ciphers.N lines add one each)." },
	{ "management.ssl.honor_cipher_order", CT_BOOL, OFF(http_ssl_honor_cipher_order), "false",
	  0, 1, 0, "As ssl_options.honor_cipher_order, for HTTPS." },
	/* the cluster (src/cluster): Kafka's ZooKeeper-era broker settings */
	{ "zookeeper_connect", CT_STR, OFF(zookeeper_connect), "", 0, 0, 0,
	  "ZooKeeper ensemble of the cluster, host:port[,host:port...][/chroot]\n"
	  "(Kafka's zookeeper.connect); empty = a single node, no cluster." },
	{ "zookeeper_session_timeout_ms", CT_U32, OFF(zookeeper_session_timeout_ms), "18000", 2000,
	  600000, 0,
	  "ZooKeeper session timeout (zookeeper.session.timeout.ms): a node silent this long\n"
	  "loses its registration and its leaderships." },
	{ "zookeeper_connection_timeout_ms", CT_U32, OFF(zookeeper_connection_timeout_ms), "18000",
	  100, 600000, 0,
	  "How long start-up waits for the ZooKeeper session before it gives up with an error." },
	{ "node_id", CT_U32, OFF(node_id), "1", 1, INT32_MAX, 0,
	  "This node's id in the cluster (Kafka's broker.id), unique per node." },
	{ "advertised_host", CT_STR, OFF(advertised_host), "", 0, 0, 0,
	  "Host name clients and other nodes reach this node at (Kafka's advertised.listeners\n"
	  "host); empty = bind_address." },
	{ "broker_rack", CT_STR, OFF(broker_rack), "", 0, 255, CF_NULLABLE,
	  "This node's rack (Kafka's broker.rack): registered in the cluster, shown per broker\n"
	  "in Metadata and DescribeCluster, and matched against a consumer's client.rack by\n"
	  "kafka_replica_selector = rack; empty = none." },
	{ "kafka_replica_selector", CT_STR, OFF(kafka_replica_selector), "off", 1, 0, 0,
	  "Which replica a consumer should fetch from, as the partition's leader answers it\n"
	  "(Kafka's replica.selector.class, KIP-392): off = the leader (Kafka's default);\n"
	  "rack = an in-sync replica in the consumer's rack (client.rack), the leader when it\n"
	  "is there or none is (RackAwareReplicaSelector).  Followers serve consumers' Fetch\n"
	  "v11+ either way." },
	{ "advertised_port", CT_U32, OFF(advertised_port), "0", 0, 65535, 0,
	  "Kafka port this node registers in the cluster, where clients and the other nodes'\n"
	  "replica fetchers reach it (Kafka's advertised.port), for a node behind a port\n"
	  "forward or proxy; 0 = the port its Kafka listener is bound to." },
	{ "default_replication_factor", CT_U32, OFF(default_replication_factor), "1", 1, 1000, 0,
	  "Replicas of a new topic that does not ask for a number (default.replication.factor)." },
	{ "min_insync_replicas", CT_U32, OFF(min_insync_replicas), "1", 1, 1000, 0,
	  "Default min.insync.replicas of topics: an acks=all write needs this many in-sync\n"
	  "replicas, else NOT_ENOUGH_REPLICAS." },
	{ "replica_lag_time_max_ms", CT_U32, OFF(replica_lag_time_max_ms), "30000", 100, INT32_MAX,
	  0,
	  "A follower that has not caught up with the leader's log end for this long leaves\n"
	  "the ISR (replica.lag.time.max.ms)." },
	{ "auto_leader_rebalance_enable", CT_BOOL, OFF(auto_leader_rebalance_enable), "true", 0, 1,
	  0,
	  "The controller gives each partition's lead back to its preferred replica (the\n"
	  "first of its assignment) once that replica is in sync again, as Kafka's\n"
	  "auto.leader.rebalance.enable (after a restart, leads are not left on the others)." },
	{ "leader_imbalance_check_interval_seconds", CT_U32,
	  OFF(leader_imbalance_check_interval_seconds), "300", 1, 86400, 0,
	  "How often the controller looks for leads to give back to preferred replicas\n"
	  "(leader.imbalance.check.interval.seconds)." },
	{ "unclean_leader_election", CT_BOOL, OFF(unclean_leader_election), "false", 0, 1, 0,
	  "Default unclean.leader.election.enable: with no in-sync replica alive, elect an\n"
	  "out-of-sync one (losing what it lacks) rather than leave the partition offline." },
	{ "cluster_port", CT_U32, OFF(cluster_port), "0", 0, 65535, 0,
	  "Port of the cluster link, where the other nodes of the cluster reach this one (as\n"
	  "RabbitMQ's Erlang distribution port): bound on advertised_host, else on the host of\n"
	  "the first Kafka listener; reachable by the cluster's nodes only.  Needs\n"
	  "cluster_secret_file.  0 = no cluster link listener." },
	{ "advertised_cluster_port", CT_U32, OFF(advertised_cluster_port), "0", 0, 65535, 0,
	  "Cluster link port this node registers in the cluster, where the other nodes' link and\n"
	  "replica fetchers reach it, for a node behind a port forward or proxy (as\n"
	  "advertised_port for the Kafka port); 0 = cluster_port." },
	{ "cluster_secret_file", CT_STR, OFF(cluster_secret_file), "", 0, 0, 0,
	  "File holding the cluster's shared secret (as RabbitMQ's Erlang cookie): the same\n"
	  "file on every node, readable by its owner only (mode 0600 or 0400), at least 16\n"
	  "bytes (trailing whitespace is not part of it).  Required when cluster_port is set." },
};

#define NKEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))

/* RabbitMQ (rabbitmq.conf) spellings accepted for our keys. */
static const struct {
	const char *alias;
	const char *key;
} conf_aliases[] = {
	{ "management.tcp.port", "http_port" },
	{ "log.console.level", "log_level" },
	{ "log.file.level", "log_level" },
	{ "prometheus.authentication.enabled", "metrics_auth" },
	{ "socket.request.max.bytes", "kafka_max_request_size" }, /* Kafka's name */
	{ "broker.rack", "broker_rack" },                         /* Kafka's name */
};

/* users.NAME.FIELD: the settable fields of struct tdm_user_conf. */
static const struct {
	const char *name;
	size_t offset;
	unsigned flags;
	const char *help;
} user_fields[] = {
	{ "password", offsetof(struct tdm_user_conf, password), CF_SECRET,
	  "plain-text password (hashed at startup)" },
	{ "password_hash", offsetof(struct tdm_user_conf, password_hash), 0,
	  "RabbitMQ rabbit_password_hashing_sha256 hash, as rabbitmqctl export_definitions\n"
	  "writes it; empty = password login disabled" },
	{ "vhosts", offsetof(struct tdm_user_conf, vhosts), 0,
	  "comma list of vhosts the user may open, * = all (default /)" },
	{ "tags", offsetof(struct tdm_user_conf, tags), 0, "e.g. administrator (default none)" },
};

#define NUSER_FIELDS (sizeof(user_fields) / sizeof(user_fields[0]))

static int set_user_key(struct tdm_config *c, const char *key, const char *rest,
			const char *value, char *err, size_t errlen);
static int set_loopback_key(struct tdm_config *c, const char *key, const char *rest,
			    const char *value, char *err, size_t errlen);
static int set_list_item_key(struct tdm_config *c, const char *key, const char *rest,
			     const char *value, char *err, size_t errlen);
static int set_vhost_limit_key(struct tdm_config *c, const char *key, const char *rest,
			       const char *value, char *err, size_t errlen);
static int set_user_limit_key(struct tdm_config *c, const char *key, const char *rest,
			      const char *value, char *err, size_t errlen);

/* Key families: everything after the prefix is passed as rest. */
static const struct {
	const char *prefix;
	int (*set)(struct tdm_config *c, const char *key, const char *rest, const char *value,
		   char *err, size_t errlen);
} conf_prefixes[] = {
	{ "users.", set_user_key },
	{ "loopback_users.", set_loopback_key },
	{ "ssl_options.versions.", set_list_item_key },
	{ "ssl_options.ciphers.", set_list_item_key },
	{ "management.ssl.versions.", set_list_item_key },
	{ "management.ssl.ciphers.", set_list_item_key },
	{ "auth_mechanisms.", set_list_item_key },
	{ "vhost_limits.", set_vhost_limit_key },
	{ "user_limits.", set_user_limit_key },
};

/* The fields of vhost_limits.VHOST.FIELD and user_limits.USER.FIELD, with
 * RabbitMQ's names (core/limits.h). */
static const char *const vhost_limit_fields[] = { "max-connections", "max-queues" };
static const char *const user_limit_fields[] = { "max-connections", "max-channels" };

static const struct {
	const char *suffix;
	uint64_t mult;
} size_suffixes[] = {
	{ "", 1 },       { "B", 1 },
	{ "K", KIB },    { "Ki", KIB },    { "KiB", KIB },   { "KB", 1000 },
	{ "M", MIB },    { "Mi", MIB },    { "MiB", MIB },   { "MB", 1000000 },
	{ "G", GIB },    { "Gi", GIB },    { "GiB", GIB },   { "GB", 1000000000 },
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))


/* Key names compare with '-' and '_' equal, so flags can use dashes. */
static int key_eq_n(const char *a, const char *b, size_t blen)
{
	size_t i;

	for (i = 0; i < blen; i++) {
		char x = a[i] == '-' ? '_' : a[i];
		char y = b[i] == '-' ? '_' : b[i];

		if (x == '\0' || x != y)
			return 0;
	}
	return a[blen] == '\0';
}

static int key_eq(const char *a, const char *b)
{
	return key_eq_n(a, b, strlen(b));
}

static int key_has_prefix(const char *key, const char *prefix)
{
	size_t n = strlen(prefix);

	return strlen(key) >= n && key_eq_n(prefix, key, n);
}

static const struct conf_key *find_key(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_LEN(conf_aliases); i++)
		if (key_eq(conf_aliases[i].alias, name)) {
			name = conf_aliases[i].key;
			break;
		}
	for (i = 0; i < NKEYS; i++)
		if (key_eq(conf_keys[i].name, name))
			return &conf_keys[i];
	return NULL;
}

/*
 * Parses a decimal unsigned integer, with a size suffix when bytes is set
 * ("128MiB", "64 KB").  0, or -1 with the reason in err.
 */
static int parse_uint(const char *s, int bytes, uint64_t *out, char *err, size_t errlen)
{
	const char *p = s;
	char *end;
	unsigned long long v;
	size_t i;

	if (*p < '0' || *p > '9') {
		tu_errf(err, errlen, "'%s' is not a non-negative integer", s);
		return -1;
	}
	errno = 0;
	v = strtoull(p, &end, 10);
	if (errno == ERANGE) {
		tu_errf(err, errlen, "'%s' is too large", s);
		return -1;
	}
	if (!bytes) {
		if (*end != '\0') {
			tu_errf(err, errlen, "'%s' is not a non-negative integer", s);
			return -1;
		}
		*out = v;
		return 0;
	}
	while (*end == ' ' || *end == '\t')
		end++;
	for (i = 0; i < ARRAY_LEN(size_suffixes); i++) {
		if (strcasecmp(end, size_suffixes[i].suffix) != 0)
			continue;
		if (v > UINT64_MAX / size_suffixes[i].mult) {
			tu_errf(err, errlen, "'%s' is too large", s);
			return -1;
		}
		*out = v * size_suffixes[i].mult;
		return 0;
	}
	tu_errf(err, errlen, "'%s' is not a size (a byte count, optionally with KiB, MiB, GiB)", s);
	return -1;
}

static int parse_bool(const char *s, int *out)
{
	static const char *const yes[] = { "true", "yes", "on", "1" };
	static const char *const no[] = { "false", "no", "off", "0" };
	size_t i;

	for (i = 0; i < ARRAY_LEN(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -1;
}

/* Returns a malloc'd copy of the comma list s with items trimmed and empty items dropped. */
static char *list_normalize(const char *s)
{
	char *out = malloc(strlen(s) + 1);
	size_t n = 0;
	const char *p = s;

	if (!out)
		return NULL;
	if (strcasecmp(s, "none") == 0) {
		out[0] = '\0';
		return out;
	}
	while (*p) {
		const char *b, *e;

		while (*p == ' ' || *p == '\t')
			p++;
		b = p;
		while (*p && *p != ',')
			p++;
		e = p;
		while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
			e--;
		if (e > b) {
			if (n > 0)
				out[n++] = ',';
			memcpy(out + n, b, (size_t)(e - b));
			n += (size_t)(e - b);
		}
		if (*p == ',')
			p++;
	}
	out[n] = '\0';
	return out;
}

/* Frees a string that may hold a secret. */
static void free_secret(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static void replace_str(char **slot, char *v)
{
	free_secret(*slot);
	*slot = v;
}

static int set_key(struct tdm_config *c, const struct conf_key *k, const char *value, char *err,
		   size_t errlen)
{
	char *base = (char *)c + k->offset;
	uint64_t v;
	char *s;
	int lvl;

	switch (k->type) {
	case CT_STR: {
		size_t len = strlen(value);

		if (len < k->min) {
			tu_errf(err, errlen, "%s must not be empty", k->name);
			return -1;
		}
		if (k->max && len > k->max) {
			tu_errf(err, errlen, "%s is longer than %llu bytes", k->name,
				(unsigned long long)k->max);
			return -1;
		}
		s = NULL;
		if (len > 0 || !(k->flags & CF_NULLABLE)) {
			s = strdup(value);
			if (!s)
				goto nomem;
		}
		replace_str((char **)(void *)base, s);
		return 0;
	}
	case CT_LIST:
		s = list_normalize(value);
		if (!s)
			goto nomem;
		replace_str((char **)(void *)base, s);
		return 0;
	case CT_LEVEL:
		lvl = tdm_log_level_parse(value);
		if (lvl < 0) {
			tu_errf(err, errlen, "%s: '%s' is not one of error, warning, info, debug",
				k->name, value);
			return -1;
		}
		*(enum tdm_log_level *)(void *)base = (enum tdm_log_level)lvl;
		return 0;
	case CT_BOOL:
		if (parse_bool(value, &lvl) < 0) {
			tu_errf(err, errlen, "%s: '%s' is not true or false", k->name, value);
			return -1;
		}
		*(int *)(void *)base = lvl;
		return 0;
	case CT_INT:
	case CT_U32:
	case CT_U64:
		if (parse_uint(value, k->flags & CF_BYTES, &v, err, errlen) < 0) {
			/* Prefix the key name to the reason parse_uint wrote. */
			char reason[200];

			snprintf(reason, sizeof(reason), "%s", err ? err : "");
			tu_errf(err, errlen, "%s: %s", k->name, reason);
			return -1;
		}
		if (v < k->min || v > k->max) {
			tu_errf(err, errlen, "%s: %s is out of range (%llu .. %llu)", k->name, value,
				(unsigned long long)k->min, (unsigned long long)k->max);
			return -1;
		}
		if (k->type == CT_INT)
			*(int *)(void *)base = (int)v;
		else if (k->type == CT_U32)
			*(uint32_t *)(void *)base = (uint32_t)v;
		else
			*(uint64_t *)(void *)base = v;
		return 0;
	}
	tu_errf(err, errlen, "%s: internal error: bad key type", k->name);
	return -1;
nomem:
	tu_errf(err, errlen, "%s: out of memory", k->name);
	return -1;
}

/*
 * The variable part of a RabbitMQ password_hash we can verify: base64 of a
 * 4-byte salt and a 32-byte SHA-256 digest, 48 characters without padding.
 */
static int valid_sha256_hash(const char *s)
{
	unsigned char raw[36];

	/* 48 characters decode to 36 bytes only when none of them is padding */
	return strlen(s) == 48 && tu_b64_decode(s, 48, raw) == (long)sizeof(raw);
}

static struct tdm_user_conf *find_or_add_user(struct tdm_config *c, const char *name,
					      size_t len)
{
	struct tdm_user_conf *users, *u;
	size_t i;

	for (i = 0; i < c->nusers; i++)
		if (strlen(c->users[i].name) == len && memcmp(c->users[i].name, name, len) == 0)
			return &c->users[i];
	users = realloc(c->users, (c->nusers + 1) * sizeof(*users));
	if (!users)
		return NULL;
	c->users = users;
	u = &users[c->nusers];
	memset(u, 0, sizeof(*u));
	u->name = strndup(name, len);
	u->vhosts = strdup("/");
	u->tags = strdup("");
	if (!u->name || !u->vhosts || !u->tags) {
		free(u->name);
		free(u->vhosts);
		free(u->tags);
		return NULL;
	}
	c->nusers++;
	return u;
}

/* users.NAME.FIELD = value; NAME may itself contain dots, FIELD may not. */
static int set_user_key(struct tdm_config *c, const char *key, const char *rest,
			const char *value, char *err, size_t errlen)
{
	const char *dot = strrchr(rest, '.');
	struct tdm_user_conf *u;
	size_t i;
	char *s;

	if (!dot || dot == rest) {
		tu_errf(err, errlen, "unknown key '%s' (expected users.NAME.FIELD)", key);
		return -1;
	}
	for (i = 0; i < NUSER_FIELDS; i++)
		if (key_eq(user_fields[i].name, dot + 1))
			break;
	if (i == NUSER_FIELDS) {
		tu_errf(err, errlen,
			"unknown key '%s' (user fields: password, password_hash, vhosts, tags)", key);
		return -1;
	}
	if (user_fields[i].offset == offsetof(struct tdm_user_conf, password_hash) &&
	    *value && !valid_sha256_hash(value)) {
		tu_errf(err, errlen,
			"%s: not a rabbit_password_hashing_sha256 hash (48 base64 characters)", key);
		return -1;
	}
	if (user_fields[i].offset == offsetof(struct tdm_user_conf, password) && !*value) {
		tu_errf(err, errlen, "%s: empty passwords are not allowed", key);
		return -1;
	}
	u = find_or_add_user(c, rest, (size_t)(dot - rest));
	if (!u)
		goto nomem;
	if (user_fields[i].offset == offsetof(struct tdm_user_conf, vhosts))
		s = list_normalize(value);
	else
		s = strdup(value);
	if (!s)
		goto nomem;
	replace_str((char **)(void *)((char *)u + user_fields[i].offset), s);
	return 0;
nomem:
	tu_errf(err, errlen, "%s: out of memory", key);
	return -1;
}

/* loopback_users.NAME = true|false (rabbitmq.conf style) edits loopback_users. */
static int set_loopback_key(struct tdm_config *c, const char *key, const char *rest,
			    const char *value, char *err, size_t errlen)
{
	size_t len = strlen(rest), n = 0;
	const char *p = c->loopback_users ? c->loopback_users : "";
	char *out;
	int on;

	if (len == 0 || strchr(rest, ',')) {
		tu_errf(err, errlen, "unknown key '%s'", key);
		return -1;
	}
	if (parse_bool(value, &on) < 0) {
		tu_errf(err, errlen, "%s: '%s' is not true or false", key, value);
		return -1;
	}
	out = malloc(strlen(p) + len + 2);
	if (!out) {
		tu_errf(err, errlen, "%s: out of memory", key);
		return -1;
	}
	/* Copy every other name, then append this one when it is on. */
	while (*p) {
		const char *e = strchr(p, ',');
		size_t m = e ? (size_t)(e - p) : strlen(p);

		if (!(m == len && memcmp(p, rest, len) == 0)) {
			if (n > 0)
				out[n++] = ',';
			memcpy(out + n, p, m);
			n += m;
		}
		p += m;
		if (*p == ',')
			p++;
	}
	if (on) {
		if (n > 0)
			out[n++] = ',';
		memcpy(out + n, rest, len);
		n += len;
	}
	out[n] = '\0';
	replace_str(&c->loopback_users, out);
	return 0;
}

/* vhost_limits.VHOST.FIELD = N and user_limits.USER.FIELD = N: NAME may
 * contain dots, FIELD may not; N an integer, negative = no limit. */
static int set_limit_key(struct tdm_config *c, const char *key, const char *rest, const char *value,
			 int user, char *err, size_t errlen)
{
	const char *const *fields = user ? user_limit_fields : vhost_limit_fields;
	const char *dot = strrchr(rest, '.');
	struct tdm_limit_conf *nl, *l = NULL;
	const char *field = NULL;
	char *end;
	long long v;
	size_t i, len;

	for (i = 0; dot && i < 2; i++)
		if (key_eq(fields[i], dot + 1))
			field = fields[i];
	if (!dot || dot == rest || !field) {
		tu_errf(err, errlen, "unknown key '%s' (expected %s.NAME.%s or %s)", key,
			user ? "user_limits" : "vhost_limits", fields[0], fields[1]);
		return -1;
	}
	errno = 0;
	v = strtoll(value, &end, 10);
	if (!*value || *end || errno) {
		tu_errf(err, errlen, "%s: '%s' is not an integer", key, value);
		return -1;
	}
	len = (size_t)(dot - rest);
	for (i = 0; i < c->nlimits; i++)
		if (c->limits[i].user == user && strcmp(c->limits[i].field, field) == 0 &&
		    strlen(c->limits[i].name) == len && memcmp(c->limits[i].name, rest, len) == 0)
			l = &c->limits[i];
	if (!l) {
		nl = realloc(c->limits, (c->nlimits + 1) * sizeof(*nl));
		if (!nl)
			goto nomem;
		c->limits = nl;
		l = &nl[c->nlimits];
		memset(l, 0, sizeof(*l));
		if (!(l->name = strndup(rest, len)))
			goto nomem;
		snprintf(l->field, sizeof(l->field), "%s", field);
		l->user = user;
		c->nlimits++;
	}
	l->value = v;
	return 0;
nomem:
	tu_errf(err, errlen, "%s: out of memory", key);
	return -1;
}

static int set_vhost_limit_key(struct tdm_config *c, const char *key, const char *rest,
			       const char *value, char *err, size_t errlen)
{
	return set_limit_key(c, key, rest, value, 0, err, errlen);
}

static int set_user_limit_key(struct tdm_config *c, const char *key, const char *rest,
			      const char *value, char *err, size_t errlen)
{
	return set_limit_key(c, key, rest, value, 1, err, errlen);
}

/* The comma lists that rabbitmq.conf writes one item a line, KEY.N = ITEM. */
static const struct {
	const char *prefix; /* KEY. */
	size_t offset;      /* of the char * list */
} list_items[] = {
	{ "ssl_options.versions.", OFF(ssl_versions) },
	{ "ssl_options.ciphers.", OFF(ssl_ciphers) },
	{ "management.ssl.versions.", OFF(http_ssl_versions) },
	{ "management.ssl.ciphers.", OFF(http_ssl_ciphers) },
	{ "auth_mechanisms.", OFF(auth_mechanisms) },
};

static int check_enum(const struct tdm_config *c, const char *key, size_t offset, char *err,
		      size_t errlen);

/* KEY.N = ITEM (rabbitmq.conf's list form, ssl_options.versions.1 =
 * tlsv1.2) adds ITEM to the list KEY unless it is there; N only orders
 * lines in rabbitmq.conf. */
static int set_list_item_key(struct tdm_config *c, const char *key, const char *rest,
			     const char *value, char *err, size_t errlen)
{
	size_t i, len = strlen(value), plen;
	char **slot = NULL;
	const char *p;
	char *out;

	for (i = 0; i < ARRAY_LEN(list_items); i++)
		if (key_has_prefix(key, list_items[i].prefix))
			slot = (char **)(void *)((char *)c + list_items[i].offset);
	if (!slot || *rest == '\0' || strchr(rest, '.') || len == 0 || strchr(value, ',')) {
		tu_errf(err, errlen, "%s: expected %.*sN = VALUE", key,
			(int)(strlen(key) - strlen(rest)), key);
		return -1;
	}
	p = *slot ? *slot : "";
	plen = strlen(p);
	for (const char *q = p; *q;) {
		size_t m = strcspn(q, ",");

		if (m == len && strncasecmp(q, value, len) == 0)
			return 0;
		q += m + (q[m] == ',');
	}
	out = malloc(plen + len + 2);
	if (!out) {
		tu_errf(err, errlen, "%s: out of memory", key);
		return -1;
	}
	snprintf(out, plen + len + 2, "%s%s%s", p, plen ? "," : "", value);
	replace_str(slot, out);
	return check_enum(c, key, (size_t)((char *)slot - (char *)c), err, errlen);
}

/* Settings that take one of a few words (or a list of them). */
static const struct {
	size_t offset;
	const char *words; /* comma list */
} conf_enums[] = {
	{ OFF(auth_mechanisms), "PLAIN,AMQPLAIN,EXTERNAL" },
	{ OFF(ssl_cert_login_from), "distinguished_name,common_name" },
	{ OFF(kafka_replica_selector), "off,rack" },
};

/* 0 when the setting at offset holds only words it may; -1 with err. */
static int check_enum(const struct tdm_config *c, const char *key, size_t offset, char *err,
		      size_t errlen)
{
	for (size_t i = 0; i < ARRAY_LEN(conf_enums); i++) {
		const char *v;

		if (conf_enums[i].offset != offset)
			continue; /* (offset may be any field's, not a char *) */
		v = *(char *const *)(const void *)((const char *)c + offset);
		for (const char *q = v ? v : ""; *q;) {
			size_t m = strcspn(q, ","), n = strlen(conf_enums[i].words);
			const char *w = conf_enums[i].words;
			int ok = 0;

			for (const char *x = w; x < w + n;) {
				size_t k = strcspn(x, ",");

				ok |= k == m && strncmp(x, q, m) == 0;
				x += k + (x[k] == ',');
			}
			if (!ok) {
				tu_errf(err, errlen, "%s: '%.*s' is not one of %s", key, (int)m, q,
					w);
				return -1;
			}
			q += m + (q[m] == ',');
		}
	}
	return 0;
}

/*
 * rabbitmq.conf's listeners: `listeners.tcp = none` / `listeners.ssl =
 * none` turn a kind off; `listeners.tcp.NAME = PORT | IP:PORT | [IPv6]:PORT
 * | IPv6:PORT` adds (or replaces) the listener NAME in amqp_listeners
 * (ssl_listeners), a port 0 removes it; listeners.tcp.default (ssl.default)
 * = PORT also sets amqp_port (listeners.ssl.default), for what reads it.
 * 1 when key is not one of these, else 0 or -1 with err set.
 */
static int set_listener_key(struct tdm_config *c, const char *key, const char *value, char *err,
			    size_t errlen)
{
	int ssl = key_has_prefix(key, "listeners.ssl");
	char **list = ssl ? &c->ssl_listeners : &c->amqp_listeners;
	int *port_field = ssl ? &c->ssl_port : &c->amqp_port;
	const char *name, *colon, *p, *given = value;
	char host[64] = "", entry[160], *out;
	unsigned char addr[16];
	size_t nlen, hlen = 0;
	uint64_t port;

	if (!ssl && !key_has_prefix(key, "listeners.tcp"))
		return 1;
	name = key + strlen("listeners.tcp");
	if (*name == '\0') {
		if (strcasecmp(value, "none") != 0) {
			tu_errf(err, errlen, "%s: expected none, or %s.NAME = PORT | IP:PORT", key,
				key);
			return -1;
		}
		*port_field = 0;
		replace_str(list, strdup(""));
		return *list ? 0 : (tu_errf(err, errlen, "%s: out of memory", key), -1);
	}
	if (*name != '.' || !name[1] || strpbrk(name + 1, ".,=")) {
		tu_errf(err, errlen, "unknown key '%s'", key);
		return -1;
	}
	name++;
	nlen = strlen(name);
	if (nlen > 63) {
		tu_errf(err, errlen, "%s: the listener's name is longer than 63 bytes", key);
		return -1;
	}
	colon = strrchr(value, ':');
	if (colon) {
		p = value;
		hlen = (size_t)(colon - value);
		if (*p == '[' && hlen >= 2 && colon[-1] == ']')
			p++, hlen -= 2;
		if (hlen == 0 || hlen >= sizeof(host) - 2)
			goto bad;
		memcpy(host, p, hlen);
		host[hlen] = '\0';
		if (inet_pton(AF_INET, host, addr) != 1 && inet_pton(AF_INET6, host, addr) != 1)
			goto bad;
		if (strchr(host, ':')) {
			memmove(host + 1, host, hlen + 1);
			host[0] = '[';
			memcpy(host + hlen + 1, "]", 2);
		}
		value = colon + 1;
	}
	if (parse_uint(value, 0, &port, err, errlen) < 0 || port > 65535)
		goto bad;
	if (strcmp(name, "default") == 0)
		*port_field = (int)port;
	/* the list without NAME, then NAME=HOST:PORT unless the port is 0 */
	p = *list ? *list : "";
	out = malloc(strlen(p) + sizeof(entry) + 2);
	if (!out) {
		tu_errf(err, errlen, "%s: out of memory", key);
		return -1;
	}
	out[0] = '\0';
	for (const char *q = p; *q;) {
		size_t m = strcspn(q, ",");

		if (!(m > nlen && q[nlen] == '=' && strncmp(q, name, nlen) == 0))
			snprintf(out + strlen(out), m + 2, "%s%.*s", *out ? "," : "", (int)m, q);
		q += m + (q[m] == ',');
	}
	if (port) {
		snprintf(entry, sizeof(entry), "%s=%s:%u", name, host, (unsigned)port);
		sprintf(out + strlen(out), "%s%s", *out ? "," : "", entry);
	}
	replace_str(list, out);
	return 0;
bad:
	tu_errf(err, errlen, "%s: '%s' is not PORT or IP:PORT (a port 0-65535, an IP address)", key,
		given);
	return -1;
}

int tdm_config_listener_next(const char **pos, char *name, size_t namelen, char *host,
			     size_t hostlen, int *port)
{
	const char *p = *pos, *eq, *colon;
	size_t n, nl, hl;
	char *end;
	long v;

	if (!p || !*p)
		return 0;
	n = strcspn(p, ",");
	eq = memchr(p, '=', n);
	colon = n ? p + n - 1 : p;
	while (colon > p && *colon != ':')
		colon--;
	if (!eq || colon <= eq)
		return -1;
	nl = (size_t)(eq - p);
	hl = (size_t)(colon - eq - 1);
	if (hl >= 2 && eq[1] == '[' && colon[-1] == ']')
		eq++, hl -= 2;
	if (nl == 0 || nl >= namelen || hl >= hostlen)
		return -1;
	v = strtol(colon + 1, &end, 10);
	if (end != p + n || v <= 0 || v > 65535)
		return -1;
	memcpy(name, p, nl);
	name[nl] = '\0';
	memcpy(host, eq + 1, hl);
	host[hl] = '\0';
	*port = (int)v;
	*pos = p + n + (p[n] == ',');
	return 1;
}

int tdm_config_set(struct tdm_config *c, const char *key, const char *value, char *err,
		   size_t errlen)
{
	const struct conf_key *k;
	size_t i;

	int rc = set_listener_key(c, key, value, err, errlen);
	if (rc <= 0)
		return rc;
	k = find_key(key);
	if (k) {
		if (set_key(c, k, value, err, errlen) < 0)
			return -1;
		if (k->offset == OFF(amqp_port)) /* the last word: flags beat the file */
			replace_str(&c->amqp_listeners, strdup(""));
		return check_enum(c, k->name, k->offset, err, errlen);
	}
	for (i = 0; i < ARRAY_LEN(conf_prefixes); i++)
		if (key_has_prefix(key, conf_prefixes[i].prefix))
			return conf_prefixes[i].set(c, key, key + strlen(conf_prefixes[i].prefix),
						    value, err, errlen);
	tu_errf(err, errlen, "unknown key '%s'", key);
	return -1;
}

int tdm_config_init(struct tdm_config *c)
{
	size_t i;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < NKEYS; i++) {
		if (set_key(c, &conf_keys[i], conf_keys[i].def, NULL, 0) < 0) {
			tdm_config_free(c);
			return -1;
		}
	}
	return 0;
}

void tdm_config_free(struct tdm_config *c)
{
	size_t i, j;

	for (i = 0; i < NKEYS; i++)
		if (conf_keys[i].type == CT_STR || conf_keys[i].type == CT_LIST)
			free_secret(*(char **)(void *)((char *)c + conf_keys[i].offset));
	for (i = 0; i < c->nusers; i++) {
		free(c->users[i].name);
		for (j = 0; j < NUSER_FIELDS; j++)
			free_secret(*(char **)(void *)((char *)&c->users[i] + user_fields[j].offset));
	}
	free(c->users);
	for (i = 0; i < c->nlimits; i++)
		free(c->limits[i].name);
	free(c->limits);
	memset(c, 0, sizeof(*c));
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
		e--;
	*e = '\0';
	return s;
}

int tdm_config_load(struct tdm_config *c, const char *path, char *err, size_t errlen)
{
	FILE *fp;
	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	char why[256];
	int rc = -1;

	fp = fopen(path, "re");
	if (!fp) {
		tu_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, fp) >= 0) {
		char *key, *value, *eq;

		lineno++;
		key = trim(line);
		/* Comments only at the start of a line: values such as passwords may hold '#'. */
		if (*key == '\0' || *key == '#')
			continue;
		eq = strchr(key, '=');
		if (!eq) {
			tu_errf(err, errlen, "%s:%u: expected 'key = value'", path, lineno);
			goto out;
		}
		*eq = '\0';
		value = trim(eq + 1);
		key = trim(key);
		if (*key == '\0') {
			tu_errf(err, errlen, "%s:%u: missing key before '='", path, lineno);
			goto out;
		}
		if (tdm_config_set(c, key, value, why, sizeof(why)) < 0) {
			tu_errf(err, errlen, "%s:%u: %s", path, lineno, why);
			goto out;
		}
	}
	if (ferror(fp)) {
		tu_errf(err, errlen, "%s: read error: %s", path, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (line) {
		explicit_bzero(line, cap);
		free(line);
	}
	fclose(fp);
	return rc;
}

/*
 * One step over argv: recognises `--key value`, `--key=value`, `-c FILE`,
 * -h/--help, -V/--version.  On success *key and *value point into *buf (owned
 * by the caller, freed with free()) and *i is past the option.  Returns 0, 1
 * for help, 2 for version, -1 with err set.
 */
static int next_opt(int argc, char **argv, int *i, char **buf, const char **key,
		    const char **value, char *err, size_t errlen)
{
	const char *arg = argv[*i];
	char *eq;

	*buf = NULL;
	if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0)
		return 1;
	if (strcmp(arg, "-V") == 0 || strcmp(arg, "--version") == 0)
		return 2;
	if (strcmp(arg, "-c") == 0)
		arg = "--config";
	if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
		tu_errf(err, errlen, "unexpected argument '%s' (try --help)", arg);
		return -1;
	}
	*buf = strdup(arg + 2);
	if (!*buf) {
		tu_errf(err, errlen, "out of memory");
		return -1;
	}
	*key = *buf;
	eq = strchr(*buf, '=');
	if (eq) {
		*eq = '\0';
		*value = eq + 1;
	} else if (*i + 1 < argc) {
		*value = argv[++*i];
	} else {
		tu_errf(err, errlen, "option '%s' needs a value", argv[*i]);
		free(*buf);
		*buf = NULL;
		return -1;
	}
	++*i;
	return 0;
}

static void print_usage(const struct tdm_config *c, FILE *fp)
{
	size_t i;

	fprintf(fp,
		"Usage: tandemd [--config FILE] [--KEY VALUE | --KEY=VALUE]...\n"
		"\n"
		"tandem message broker: AMQP 0-9-1 and Kafka-style logs.\n"
		"\n"
		"  -c, --config FILE  load a tandem.conf first; other flags override it\n"
		"  -h, --help         print this help and exit\n"
		"  -V, --version      print the version and exit\n"
		"\n"
		"Every configuration key below is also a flag, written with '-' or '_':\n"
		"--amqp-port 5673, --data-dir=/var/lib/tandem, --users.bob.password=secret.\n"
		"RabbitMQ spellings accepted as aliases:");
	for (i = 0; i < ARRAY_LEN(conf_aliases); i++)
		fprintf(fp, "%s %s (%s)", i ? "," : "", conf_aliases[i].alias, conf_aliases[i].key);
	fprintf(fp, ".\n\nKeys with their defaults, as tandem.conf lines:\n\n");
	tdm_config_describe(c, fp);
}

int tdm_config_args(struct tdm_config *c, int argc, char **argv, char *err, size_t errlen)
{
	const char *key, *value;
	char *buf = NULL;
	char why[256];
	int i, rc;

	/* Pass 1: help, version, syntax, and the config files in order. */
	for (i = 1; i < argc;) {
		rc = next_opt(argc, argv, &i, &buf, &key, &value, err, errlen);
		if (rc == 1) {
			print_usage(c, stdout);
			return 1;
		}
		if (rc == 2) {
			printf("tandemd %s\n", PACKAGE_VERSION);
			return 1;
		}
		if (rc < 0)
			return -1;
		rc = 0;
		if (key_eq("config", key))
			rc = tdm_config_load(c, value, err, errlen);
		free(buf);
		if (rc < 0)
			return -1;
	}
	/* Pass 2: every other flag overrides the files, whatever the order. */
	for (i = 1; i < argc;) {
		if (next_opt(argc, argv, &i, &buf, &key, &value, err, errlen) != 0)
			return -1; /* pass 1 accepted it: only ENOMEM gets here */
		rc = 0;
		if (!key_eq("config", key) && tdm_config_set(c, key, value, why, sizeof(why)) < 0) {
			tu_errf(err, errlen, "command line: %s", why);
			rc = -1;
		}
		free(buf);
		if (rc < 0)
			return -1;
	}
	return 0;
}

/* Writes "# text" lines, one per line of the help text. */
static void describe_help(FILE *fp, const char *help)
{
	while (*help) {
		size_t n = strcspn(help, "\n");

		fprintf(fp, "# %.*s\n", (int)n, help);
		help += n;
		if (*help == '\n')
			help++;
	}
}

static void describe_bytes(FILE *fp, uint64_t v)
{
	if (v != 0 && v % GIB == 0)
		fprintf(fp, "%lluGiB", (unsigned long long)(v / GIB));
	else if (v != 0 && v % MIB == 0)
		fprintf(fp, "%lluMiB", (unsigned long long)(v / MIB));
	else if (v != 0 && v % KIB == 0)
		fprintf(fp, "%lluKiB", (unsigned long long)(v / KIB));
	else
		fprintf(fp, "%llu", (unsigned long long)v);
}

static void describe_key(FILE *fp, const struct tdm_config *c, const struct conf_key *k)
{
	const char *base = (const char *)c + k->offset;
	uint64_t v = 0;

	fprintf(fp, "%s =", k->name);
	switch (k->type) {
	case CT_STR:
	case CT_LIST: {
		const char *s = *(char *const *)(const void *)base;

		if (!s)
			s = "";
		/* A secret is shown only when it is the (public) built-in default. */
		if ((k->flags & CF_SECRET) && strcmp(s, k->def) != 0)
			s = "********";
		fprintf(fp, "%s%s\n", *s ? " " : "", s);
		return;
	}
	case CT_LEVEL: {
		static const char *const names[] = { "error", "warning", "info", "debug" };
		unsigned lvl = (unsigned)*(const enum tdm_log_level *)(const void *)base;

		fprintf(fp, " %s\n", lvl < ARRAY_LEN(names) ? names[lvl] : "?");
		return;
	}
	case CT_BOOL:
		fprintf(fp, " %s\n", *(const int *)(const void *)base ? "true" : "false");
		return;
	case CT_INT:
		v = (uint64_t)*(const int *)(const void *)base;
		break;
	case CT_U32:
		v = *(const uint32_t *)(const void *)base;
		break;
	case CT_U64:
		v = *(const uint64_t *)(const void *)base;
		break;
	}
	fputc(' ', fp);
	if (k->flags & CF_BYTES)
		describe_bytes(fp, v);
	else
		fprintf(fp, "%llu", (unsigned long long)v);
	fputc('\n', fp);
}

void tdm_config_describe(const struct tdm_config *c, void *file)
{
	FILE *fp = file;
	size_t i, j;

	for (i = 0; i < NKEYS; i++) {
		describe_help(fp, conf_keys[i].help);
		describe_key(fp, c, &conf_keys[i]);
		fputc('\n', fp);
	}
	fprintf(fp, "# Further users: users.NAME.FIELD = value, FIELD one of\n");
	for (j = 0; j < NUSER_FIELDS; j++) {
		fprintf(fp, "#   %s: ", user_fields[j].name);
		for (const char *h = user_fields[j].help; *h; h++) {
			fputc(*h, fp);
			if (*h == '\n')
				fputs("#     ", fp);
		}
		fputc('\n', fp);
	}
	for (i = 0; i < c->nusers; i++) {
		const struct tdm_user_conf *u = &c->users[i];

		for (j = 0; j < NUSER_FIELDS; j++) {
			const char *s = *(char *const *)(const void *)((const char *)u +
									user_fields[j].offset);

			if (!s)
				continue;
			if (user_fields[j].flags & CF_SECRET)
				s = "********";
			fprintf(fp, "users.%s.%s =%s%s\n", u->name, user_fields[j].name, *s ? " " : "",
				s);
		}
	}
	fprintf(fp, "# Limits (RabbitMQ's; negative = none): vhost_limits.VHOST.max-connections,\n"
		    "# vhost_limits.VHOST.max-queues, user_limits.USER.max-connections,\n"
		    "# user_limits.USER.max-channels\n");
	for (i = 0; i < c->nlimits; i++)
		fprintf(fp, "%s.%s.%s = %lld\n", c->limits[i].user ? "user_limits" : "vhost_limits",
			c->limits[i].name, c->limits[i].field, (long long)c->limits[i].value);
}

int tdm_config_cluster_secret(const struct tdm_config *cfg, char *out, size_t cap, char *err,
			      size_t errlen)
{
	const char *path = cfg->cluster_secret_file ? cfg->cluster_secret_file : "";
	char buf[TDM_CLUSTER_SECRET_MAX + 64];
	size_t n = 0;
	struct stat st;
	int fd, rc = -1;

	if (!*path) {
		tu_errf(err, errlen,
			"cluster_port is set but cluster_secret_file is not: the cluster link needs "
			"the cluster's shared secret (the same file on every node)");
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		tu_errf(err, errlen, "cluster_secret_file %s: cannot open: %s", path,
			strerror(errno));
		return -1;
	}
	/* the mode of the file read, not of a path that may change meanwhile */
	if (fstat(fd, &st) < 0) {
		tu_errf(err, errlen, "cluster_secret_file %s: %s", path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		tu_errf(err, errlen, "cluster_secret_file %s: not a regular file", path);
		goto out;
	}
	if (st.st_mode & 077) {
		/* RabbitMQ: "Cookie file ... must be accessible by owner only" */
		tu_errf(err, errlen,
			"cluster_secret_file %s must be accessible by its owner only (mode %04o; "
			"chmod 600 it)",
			path, (unsigned)(st.st_mode & 07777));
		goto out;
	}
	for (;;) {
		ssize_t k = read(fd, buf + n, sizeof(buf) - n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			tu_errf(err, errlen, "cluster_secret_file %s: cannot read: %s", path,
				strerror(errno));
			goto out;
		}
		if (k == 0)
			break;
		n += (size_t)k;
		if (n == sizeof(buf))
			break;
	}
	while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t' || buf[n - 1] == '\r' ||
		     buf[n - 1] == '\n'))
		n--;
	if (n > TDM_CLUSTER_SECRET_MAX || n + 1 > cap) {
		tu_errf(err, errlen, "cluster_secret_file %s: the secret is longer than %u bytes",
			path,
			(unsigned)(cap && cap - 1 < TDM_CLUSTER_SECRET_MAX
					   ? cap - 1
					   : TDM_CLUSTER_SECRET_MAX));
		goto out;
	}
	if (n < TDM_CLUSTER_SECRET_MIN) {
		tu_errf(err, errlen,
			"cluster_secret_file %s: the secret is %zu bytes long; it must be at least "
			"%d",
			path, n, TDM_CLUSTER_SECRET_MIN);
		goto out;
	}
	memcpy(out, buf, n);
	out[n] = '\0';
	rc = (int)n;
out:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return rc;
}
