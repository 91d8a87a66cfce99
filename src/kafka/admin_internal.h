/*
 * Administration requests that wait for background work (topics made in
 * the background, or a change going through the cluster's controller and
 * ZooKeeper): one slot per topic or resource of the request, each with
 * its outcome, and the request parked until every slot is done.  Shared by
 * topics_admin.c (CreateTopics, DeleteTopics, CreatePartitions) and
 * alter_configs.c (AlterConfigs, IncrementalAlterConfigs).
 *
 * Must not depend on: src/amqp.
 */
#ifndef TANDEM_KAFKA_ADMIN_INTERNAL_H
#define TANDEM_KAFKA_ADMIN_INTERNAL_H

#include "kafka/kf.h"

#define MAX_CONFIGS 64

/* One topic (or config resource) of a request. */
struct made_slot {
	struct admin_park *pk;
	struct kf_str name;          /* slice of the frame, kept while parked */
	int8_t rtype;                /* config resources: their type */
	int16_t err;
	char msg[256];
	struct tdm_topics_job *job;  /* while its making is out */
	struct tdm_replica_op *op;   /* idem, in a cluster */
	/* CreateTopics v5+: what the answer tells of the new topic */
	const struct kf_create_topic *req; /* in the request arena */
	int32_t parts;
	int16_t rf;
	uint8_t topic_id[16];        /* CreateTopics v7, DeleteTopics v6 */
};

/* Lives in the request arena: the connection reads nothing while parked. */
struct admin_park {
	struct kf_park base;
	struct kf_conn *kc;
	void (*encode)(const struct admin_park *pk, struct evbuffer *resp);
	int partitions;              /* CreatePartitions */
	int deleting;                /* DeleteTopics (in a cluster: it waits too) */
	int validate_only;           /* CreateTopics */
	int flex;                    /* the request was of a flexible version */
	int32_t n;
	struct made_slot *slots;
	int pending;                 /* jobs out, +1 while the handler runs */
};

/* A park of n zeroed slots, answered with encode; NULL when out of memory. */
struct admin_park *kf_admin_park_new(struct kf_conn *kc, int32_t n,
				     void (*encode)(const struct admin_park *, struct evbuffer *));
/* The done callback of a slot's job (ctx is the slot): its outcome, and
 * the answer once it was the last one out. */
void kf_admin_made(void *ctx, int rc, const char *err);
/* The handler is done starting jobs (take pk->pending++ per job started):
 * answers now (KF_R_DONE) or parks until they end (KF_R_PARKED). */
int kf_admin_park_or_answer(struct kf_conn *kc, struct admin_park *pk, struct evbuffer *resp);
/* CreateTopics v5+ (create_topics_v5.c): one topic's partitions,
 * replication factor and configs, as the answer carries them. */
void kf_put_created_topic(const struct admin_park *pk, const struct made_slot *sl,
			  struct evbuffer *resp);

/* Broker configs (configs.c): the topic config a dynamic broker config
 * name sets ("log.retention.ms" -> "retention.ms"), else NULL with
 * *is_static 1 when the name is one of tandem's static broker settings
 * (broker.id, num.partitions, ...), 0 when tandem has no such setting. */
const char *kf_broker_config_topic_key(struct kf_str name, int *is_static);
/* AlterConfigs / IncrementalAlterConfigs of a BROKER resource
 * (broker_configs.c): the outcome, with its message in sl->msg (in a
 * cluster KF_ERR_NONE with a job out: kf_admin_made sets it). */
int16_t kf_alter_broker(struct kf_conn *kc, const struct kf_alter_configs_resource *res,
			int incremental, int validate_only, struct made_slot *sl);
/* APPEND (add) or SUBTRACT the comma-separated items of arg to/from cur
 * (a list value, VALUE_MAX bytes): 0, or -1 when the result does not fit
 * (alter_configs.c). */
#define VALUE_MAX 256
int kf_config_list_edit(char *cur, const char *arg, int add);

#endif
