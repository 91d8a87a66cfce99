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

/*
 * Starts the front end and listens on cfg->bind_address:cfg->kafka_port
 * (which must not be 0).  cfg, topics and groups are borrowed and must
 * outlive it; the front end coordinates the groups' membership.  Returns
 * NULL (after logging why) on failure.
 */
struct tdm_kafka *tdm_kafka_start(struct event_base *base, struct tdm_net *net,
				  const struct tdm_config *cfg, struct tdm_topics *topics,
				  struct tdm_groups *groups);
/* The users SASL authenticates against (borrowed, must outlive k); call
 * right after tdm_kafka_start, before the event loop runs.  Without it
 * every SASL authentication fails. */
void tdm_kafka_set_auth(struct tdm_kafka *k, struct tdm_auth *auth);
/* Frees the group coordinator and the rest; call after tdm_net_free (the
 * connections are gone) and before tdm_topics_close.  NULL is fine. */
void tdm_kafka_free(struct tdm_kafka *k);

#endif
