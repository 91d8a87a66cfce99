/*
 * Classic queues of other nodes reached over the cluster link (issue 15):
 * the operations core/remote.h asks for, made as an AMQP client of each
 * home node's cluster port (cluster/amc.h), authenticated with the
 * cluster secret.  cluster/remote_queue.c has the details.
 *
 * Must not depend on: protocol front ends, logstore.
 */
#ifndef TANDEM_CLUSTER_REMOTE_QUEUE_H
#define TANDEM_CLUSTER_REMOTE_QUEUE_H

#include <stddef.h>

struct event_base;
struct tdm_broker;
struct tdm_config;
struct tdm_rq;

/* Registers the operations for b's proxies (b->replica set: it names the
 * live nodes and their cluster ports); cfg gives the secret (read here).
 * NULL with a message in err. */
struct tdm_rq *tdm_rq_start(struct event_base *base, struct tdm_broker *b,
			    const struct tdm_config *cfg, char *err, size_t errlen);
/* Unregisters them, closes the connections; pending callbacks are not
 * called.  NULL is fine. */
void tdm_rq_free(struct tdm_rq *rq);

#endif
