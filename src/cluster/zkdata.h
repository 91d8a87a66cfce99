/*
 * The znodes of Kafka's ZooKeeper era (kafka.zk.ZkData), encoded and
 * decoded: their paths and their JSON.  README "ZooKeeper layout" lists
 * them.  Encoders return a malloc'd NUL-terminated string (the caller
 * frees it; *len without the NUL), NULL when out of memory.  Decoders
 * take the znode's bytes (not NUL-terminated, any length, any content),
 * fill *out and return 0, or return -1 with a reason in err and leave
 * nothing to free; a malformed znode is an error, never a crash.  Decoded
 * structs that hold arrays are freed with their zkd_*_free (NULL and
 * zeroed structs are fine).
 *
 * Must not depend on: libevent, ZooKeeper's client, the broker core
 * (libc and src/util's JSON only: unit and fuzz tests link it alone).
 */
#ifndef TANDEM_CLUSTER_ZKDATA_H
#define TANDEM_CLUSTER_ZKDATA_H

#include <stddef.h>
#include <stdint.h>

/* ---- paths ------------------------------------------------------------ */
#define ZKD_BROKERS "/brokers"
#define ZKD_BROKERS_IDS "/brokers/ids"                  /* children: live broker ids */
#define ZKD_BROKERS_TOPICS "/brokers/topics"            /* children: topic names */
#define ZKD_CONTROLLER "/controller"                    /* ephemeral */
#define ZKD_CONTROLLER_EPOCH "/controller_epoch"
#define ZKD_CONFIG "/config"
#define ZKD_CONFIG_TOPICS "/config/topics"
#define ZKD_CONFIG_BROKERS "/config/brokers" /* children: <default>, node ids */
#define ZKD_BROKER_DEFAULT "<default>"
#define ZKD_ADMIN "/admin"
#define ZKD_ADMIN_DELETE_TOPICS "/admin/delete_topics" /* children: topics to delete */
#define ZKD_CLUSTER "/cluster"
#define ZKD_CLUSTER_ID "/cluster/id"

/* The persistent parents a broker makes sure of at start (Kafka's
 * PersistentZkPaths, the ones tandem uses), NULL-terminated. */
extern const char *const zkd_persistent_paths[];

/* Longest path the helpers below build (topic names are at most 249
 * bytes in Kafka). */
#define ZKD_PATH_MAX 512

/* Each writes the path into buf (size ZKD_PATH_MAX is always enough for a
 * topic name up to 249 bytes) and returns buf, or NULL when it does not fit. */
char *zkd_path_broker(char *buf, size_t size, int32_t id);                /* /brokers/ids/N */
char *zkd_path_topic(char *buf, size_t size, const char *topic);         /* /brokers/topics/T */
char *zkd_path_partitions(char *buf, size_t size, const char *topic);    /* /brokers/topics/T/partitions */
char *zkd_path_partition(char *buf, size_t size, const char *topic, int32_t partition);
char *zkd_path_partition_state(char *buf, size_t size, const char *topic, int32_t partition);
char *zkd_path_topic_config(char *buf, size_t size, const char *topic);  /* /config/topics/T */
/* /config/brokers/<default> (id < 0) or /config/brokers/<id>: Kafka's
 * dynamic broker configs, in a topic config's format */
char *zkd_path_broker_config(char *buf, size_t size, int32_t id);
char *zkd_path_delete_topic(char *buf, size_t size, const char *topic);  /* /admin/delete_topics/T */

/* A child name that is a decimal id 0..INT32_MAX (a broker id, a partition
 * number): 0 with *out, or -1. */
int zkd_parse_id(const char *name, int32_t *out);

/* ---- /brokers/ids/N (ephemeral) ---------------------------------------- */
/* {"listener_security_protocol_map":{"PLAINTEXT":"PLAINTEXT"},
 *  "endpoints":["PLAINTEXT://host:port"],"rack":"r1","jmx_port":-1,
 *  "features":{},"host":"host","timestamp":"ms","port":port,"version":5,
 *  "tandem":{"amqp":PORT,"http":PORT,"cluster":PORT}}: "rack" (Kafka's
 *  broker.rack) only when the node has one, as Kafka writes it; read as
 *  none when missing or null. */
#define ZKD_HOST_MAX 255
#define ZKD_RACK_MAX 255
struct zkd_broker {
	char host[ZKD_HOST_MAX + 1]; /* advertised host */
	int port;                    /* Kafka listener, 0: none */
	int amqp_port;               /* 0: none (or not a tandem node) */
	int http_port;               /* 0: none */
	int cluster_port;            /* the cluster link (cluster_port), 0: none */
	int64_t timestamp;           /* ms since the epoch, registration time */
	char rack[ZKD_RACK_MAX + 1]; /* broker_rack, "" none */
};
char *zkd_broker_encode(const struct zkd_broker *b, size_t *len);
/* Host and port come from the PLAINTEXT endpoint when there is one (as
 * Kafka reads version >= 1), else from "host" and "port". */
int zkd_broker_decode(const char *data, size_t len, struct zkd_broker *out, char *err,
		      size_t errlen);

/* ---- /controller (ephemeral) ------------------------------------------- */
/* {"version":1,"brokerid":N,"timestamp":"ms"} */
struct zkd_controller {
	int32_t brokerid;
	int64_t timestamp;
};
char *zkd_controller_encode(const struct zkd_controller *c, size_t *len);
int zkd_controller_decode(const char *data, size_t len, struct zkd_controller *out, char *err,
			  size_t errlen);

/* ---- /controller_epoch -------------------------------------------------- */
/* "N": a decimal 0..INT32_MAX. */
char *zkd_epoch_encode(int32_t epoch, size_t *len);
int zkd_epoch_decode(const char *data, size_t len, int32_t *out, char *err, size_t errlen);

/* ---- /brokers/topics/T ---------------------------------------------------- */
/* {"version":2,"partitions":{"0":[1,2,3],...},"adding_replicas":{},
 *  "removing_replicas":{}}: partitions 0..n-1, each a non-empty list of
 * distinct broker ids, the preferred leader first.  adding/removing
 * replicas are written empty and ignored when read (tandem does not
 * reassign). */
struct zkd_assignment {
	int32_t *replicas; /* owned */
	size_t nreplicas;
};
#define ZKD_TOPIC_ID_LEN 22 /* Kafka's Uuid: 16 bytes, base64url without padding */
struct zkd_topic {
	struct zkd_assignment *partitions; /* owned: [0..npartitions) */
	size_t npartitions;
	/* the topic's id (KIP-516), which tells a topic made again under the
	 * same name from the one before it; "" in a znode written without */
	char topic_id[ZKD_TOPIC_ID_LEN + 1];
};
/* A new random topic id into out (ZKD_TOPIC_ID_LEN + 1 bytes): 0, or -1
 * when the system has no randomness to give. */
int zkd_topic_id_new(char *out);
char *zkd_topic_encode(const struct zkd_topic *t, size_t *len);
int zkd_topic_decode(const char *data, size_t len, struct zkd_topic *out, char *err,
		     size_t errlen);
void zkd_topic_free(struct zkd_topic *t);

/* ---- /brokers/topics/T/partitions/P/state ------------------------------- */
/* {"controller_epoch":E,"leader":L,"version":1,"leader_epoch":LE,"isr":[..]}:
 * leader -1 when offline. */
struct zkd_partition_state {
	int32_t controller_epoch;
	int32_t leader;
	int32_t leader_epoch;
	int32_t *isr; /* owned */
	size_t nisr;
};
char *zkd_partition_state_encode(const struct zkd_partition_state *s, size_t *len);
int zkd_partition_state_decode(const char *data, size_t len, struct zkd_partition_state *out,
			       char *err, size_t errlen);
void zkd_partition_state_free(struct zkd_partition_state *s);

/* ---- /config/topics/T ------------------------------------------------------ */
/* {"version":1,"config":{"k":"v",...}}: values are strings. */
struct zkd_config {
	char **keys;   /* owned, each owned */
	char **values; /* owned, each owned */
	size_t n;
};
char *zkd_config_encode(const struct zkd_config *c, size_t *len);
int zkd_config_decode(const char *data, size_t len, struct zkd_config *out, char *err,
		      size_t errlen);
void zkd_config_free(struct zkd_config *c);
/* The value of key in c (borrowed), or NULL. */
const char *zkd_config_get(const struct zkd_config *c, const char *key);

/* ---- /admin/delete_topics/T ------------------------------------------------ */
/* No data: the node's existence asks the controller to delete topic T. */

/* ---- /cluster/id -------------------------------------------------------------- */
/* {"version":"1","id":"..."}: Kafka's 22-character base64url UUID. */
#define ZKD_CLUSTER_ID_MAX 64
char *zkd_cluster_id_encode(const char *id, size_t *len);
int zkd_cluster_id_decode(const char *data, size_t len, char out[ZKD_CLUSTER_ID_MAX + 1],
			  char *err, size_t errlen);
/* A new random cluster id (22 base64url characters, as Kafka's
 * Uuid.randomUuid): 0, or -1 when no random bytes were available. */
int zkd_cluster_id_new(char out[23]);

#endif
