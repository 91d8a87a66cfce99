/*
 * GET /api/cluster: the nodes of the cluster, its controller and the
 * replication state of this node's partitions (cluster_doc.c writes it);
 * on a single node, this node alone and "clustered": false.
 *
 * Must not depend on: other front ends (src/amqp, src/kafka).
 */
#include "core/config.h"
#include "core/replica.h"
#include "http/cluster_doc.h"
#include "http/hx.h"

void hx_cluster(struct hx_req *r)
{
	const struct tdm_config *cfg = r->h->cfg;
	/* a single node describes itself as Kafka's Metadata does: node 1 on
	 * advertised_host (else bind_address) */
	struct tdm_replica_node self = {
		.id = tdm_replica_node_id(NULL),
		.host = cfg->advertised_host && *cfg->advertised_host ? cfg->advertised_host
								      : cfg->bind_address,
		.rack = cfg->broker_rack,
		.kafka_port = cfg->kafka_port,
		.amqp_port = cfg->amqp_port,
		.http_port = r->h->port,
		.cluster_port = (int)cfg->cluster_port,
	};
	struct js_w w;
	js_w_init(&w);
	hx_cluster_write(&w, r->h->replica, &self);
	hx_reply_json(r, 200, &w);
	js_w_free(&w);
}
