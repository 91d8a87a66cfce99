/*
 * The HTTP front end: RabbitMQ's management API (a compatible subset: same
 * paths, JSON field names and status codes), /metrics in Prometheus text
 * format, and the log side under /api/topics and /api/groups, served with
 * libevent's evhttp on http_port (15672 by convention).
 *
 * Must not depend on: other front ends (src/amqp, src/kafka); the broker
 * only through src/core.
 */
#ifndef TANDEM_HTTP_H
#define TANDEM_HTTP_H

struct event_base;
struct tdm_config;
struct tdm_broker;
struct tdm_topics;
struct tdm_durable;
struct tdm_http;

struct tdm_tls;
/*
 * Listens on cfg->bind_address:cfg->http_port (plain HTTP; 0 = none) and,
 * with tls, on cfg->http_ssl_port (HTTPS with that context, borrowed: it
 * must outlive the server).  With neither, returns NULL without error.
 * broker, topics and durable are borrowed and must outlive the server
 * (topics and durable may be NULL).  NULL with a logged error when a port
 * cannot be bound.
 */
struct tdm_http *tdm_http_start(struct event_base *base, const struct tdm_config *cfg,
				struct tdm_broker *broker, struct tdm_topics *topics,
				struct tdm_durable *durable, struct tdm_tls *tls);
/*
 * Puts the listeners under net's protection: accept back-off when
 * descriptors run out, and new connections closed at once when they would
 * eat into net's fd reserve (net is borrowed and must outlive h).  The
 * connection limit (http_max_connections) and timeout (http_timeout) hold
 * without it.  0, or -1 (no memory).
 */
struct tdm_net;
int tdm_http_guard(struct tdm_http *h, struct tdm_net *net);
/*
 * The replica manager of a node in a cluster (borrowed: it must outlive h,
 * or be set back to NULL before it goes); NULL, the default, is a single
 * node.  /api/cluster and the cluster series of /metrics read it.
 */
struct tdm_replica;
void tdm_http_set_replica(struct tdm_http *h, struct tdm_replica *r);
/* The bound plain HTTP port (useful when http_port asked the kernel), 0 = none. */
int tdm_http_port(const struct tdm_http *h);
/* Stops listening and frees; NULL is fine. */
void tdm_http_free(struct tdm_http *h);

#endif
