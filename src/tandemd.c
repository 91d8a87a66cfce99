/*
 * tandemd: the broker process.  Reads the configuration, builds the core,
 * starts the listeners and runs the single event loop that owns all broker
 * state.  SIGTERM/SIGINT close every connection with 320 CONNECTION_FORCED
 * and exit once they are gone (bounded).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>
#include <event2/thread.h>

#include <config.h>

#include "amqp/am.h"
#include "core/auth.h"
#include "core/broker.h"
#include "core/config.h"
#include "core/groups.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/topics.h"
#include "http/http.h"
#include "kafka/kafka.h"
#include "net/net.h"
#include "net/tls.h"
#include "net/worker.h"
#include "core/durable.h"
#include "cluster/defs_log.h"
#include "cluster/node.h"
#include "cluster/remote_queue.h"

#define SHUTDOWN_GRACE_MS 2000

struct server {
	struct event_base *base;
	struct tdm_net *net;
	struct tdm_broker *broker;
	struct tdm_topics *topics;
	struct tdm_groups *groups;  /* consumer groups over the topics */
	struct tdm_kafka *kafka;
	struct tdm_http *http;
	struct event *dispatch_ev;
	struct event *shutdown_poll;
	struct event *tick_ev;
	struct event *retention_ev, *retention_more;
	struct tdm_durable *durable;
	struct tdm_worker *worker;  /* background jobs: fsyncs, topic folders */
	struct tdm_tls *amqps;      /* TLS context of the AMQPS listener, or NULL */
	struct tdm_tls *kafka_ssl;  /* of the Kafka SSL listener, or NULL */
	struct tdm_tls *https;      /* of the HTTPS (management) listener, or NULL */
	struct tdm_cnode *cluster;  /* this node in a cluster (zookeeper_connect), or NULL */
	struct tdm_cdefs *cdefs;    /* the cluster's definitions log, or NULL */
	struct tdm_net_route link_amqp; /* the cluster port's AMQP connections */
	struct tdm_rq *rq;          /* other nodes' queues over the link, or NULL */
	int shutdown_ticks;
};

/* The dispatch pass runs as an event made active from I/O callbacks, so it
 * runs once after every callback already active in this loop turn: a burst
 * of publishes becomes one pass of deliveries and few writes. */
static void dispatch_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct server *s = arg;
	tdm_broker_dispatch(s->broker);
}

/* Queue TTLs and x-expires (RabbitMQ's expiry is no finer), topics'
 * flush.ms and checkpoint: a 100 ms tick. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct server *s = arg;
	tdm_broker_tick(s->broker);
	tdm_topics_tick(s->topics);
}

/* Retention and compaction in budgets: one step per interval, and while
 * there is more to do, one more on the next loop turn. */
static void retention_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct server *s = arg;
	if (tdm_topics_retention(s->topics))
		event_active(s->retention_more, 0, 0);
}

/* The event base.  With epoll's changelist, adding and removing interest
 * in writability within one loop turn (output queued, then written) costs
 * no epoll_ctl at all: a syscall less per delivery burst. */
static struct event_base *new_base(void)
{
	struct event_config *ec = event_config_new();
	if (!ec)
		return NULL;
	event_config_set_flag(ec, EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
	struct event_base *b = event_base_new_with_config(ec);
	event_config_free(ec);
	return b ? b : event_base_new();
}

static int submit_job(void *ctx, enum tdm_bg_kind kind, tdm_bg_fn work, tdm_bg_fn done,
		      void *arg)
{
	struct server *s = ctx;
	return tdm_worker_submit(s->worker, (int)kind, work, done, arg);
}

/* The background-job service core's topics and journal share. */
/* Joins the cluster of cfg->zookeeper_connect: the node registers the
 * ports its listeners are bound to, and the Kafka front end answers as a
 * node of the cluster.  A ZooKeeper that cannot be reached in
 * zookeeper_connection_timeout_ms fails the start. */
static int join_cluster(struct server *s, const struct tdm_config *cfg)
{
	char err[512];
	int kafka_port = cfg->advertised_port ? (int)cfg->advertised_port
			 : s->kafka		 ? tdm_kafka_port(s->kafka)
						 : 0;
	struct tdm_cnode_ports ports = { .kafka = kafka_port,
					 .amqp = cfg->amqp_port,
					 .http = cfg->http_port,
					 .cluster = (int)(cfg->advertised_cluster_port && cfg->cluster_port
							    ? cfg->advertised_cluster_port
							    : cfg->cluster_port) };

	if (!s->kafka) {
		tdm_error("main", "a cluster node needs its Kafka listener (kafka_port is 0)");
		return -1;
	}
	s->cluster = tdm_cnode_start(s->base, cfg, s->topics, &ports, err, sizeof(err));
	if (!s->cluster) {
		tdm_error("main", "cannot join the cluster: %s", err);
		return -1;
	}
	tdm_kafka_set_replica(s->kafka, tdm_cnode_replica(s->cluster));
	tdm_http_set_replica(s->http, tdm_cnode_replica(s->cluster));
	s->broker->replica = tdm_cnode_replica(s->cluster);
	if (!cfg->cluster_port) { /* no link: the definitions log could not be reached */
		tdm_warn("main", "no cluster_port: this node's exchanges stay its own, not the "
			 "cluster's (README: Definitions in a cluster)");
		return 0;
	}
	s->cdefs = tdm_cdefs_start(s->base, s->broker);
	if (!s->cdefs) {
		tdm_error("main", "cannot start the cluster's definitions: out of memory");
		return -1;
	}
	s->broker->defs = tdm_cdefs_defs(s->cdefs);
	/* other nodes' classic queues, over the link (core/remote.h) */
	s->rq = tdm_rq_start(s->base, s->broker, cfg, err, sizeof(err));
	if (!s->rq) {
		tdm_error("main", "cannot reach other nodes' queues: %s", err);
		return -1;
	}
	return 0;
}

static int start_worker(struct server *s, char *err, size_t errlen)
{
	s->worker = tdm_worker_new(s->base, TDM_BG_KINDS);
	if (!s->worker) {
		snprintf(err, errlen, "cannot start the background-job threads");
		return -1;
	}
	s->broker->bg = (struct tdm_bg){ submit_job, s };
	return 0;
}

/* Topics' periodic work runs on main's timers. */
static int start_topic_timers(struct server *s, const struct tdm_config *cfg)
{
	struct timeval rtick = { cfg->log_retention_check_interval_ms / 1000,
				 (cfg->log_retention_check_interval_ms % 1000) * 1000 };
	s->retention_ev = event_new(s->base, -1, EV_PERSIST, retention_cb, s);
	s->retention_more = event_new(s->base, -1, 0, retention_cb, s);
	return s->retention_ev && s->retention_more ? event_add(s->retention_ev, &rtick) : -1;
}

/* Durable exchanges, queues, bindings and persistent messages come back
 * before any listener opens. */
static int open_durable(struct server *s, const struct tdm_config *cfg, char *err, size_t errlen)
{
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s/queues", cfg->data_dir);
	s->durable = tdm_durable_open(s->broker, dir, cfg->max_message_size, err, errlen);
	if (!s->durable || tdm_durable_recover(s->durable, err, errlen) < 0)
		return -1;
	s->broker->durable = s->durable;
	return 0;
}

/* Order matters: the background jobs finish (their completions run here;
 * anything submitted after runs inline), then the journal takes the last
 * acknowledgements, then the queues go without a trace. */
static void close_durable(struct server *s)
{
	tdm_worker_stop(s->worker);
	if (s->broker)
		s->broker->durable = NULL;
	tdm_durable_close(s->durable);
}

static void schedule_dispatch(void *arg)
{
	struct server *s = arg;
	event_active(s->dispatch_ev, 0, 0);
}

static void shutdown_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct server *s = arg;
	if (tdm_net_count(s->net) == 0 || ++s->shutdown_ticks * 50 >= SHUTDOWN_GRACE_MS)
		event_base_loopbreak(s->base);
}

/* The shutdown is under way: a second SIGTERM or SIGINT (an impatient
 * supervisor, a test harness) must not turn it into death by signal while
 * the journal closes.  Freeing a signal event restores the default action,
 * so the signals stay blocked until they are ignored. */
static void ignore_stop_signals(struct event **sigterm, struct event **sigint)
{
	sigset_t stop, old;
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	sigprocmask(SIG_BLOCK, &stop, &old);
	if (*sigterm)
		event_free(*sigterm);
	if (*sigint)
		event_free(*sigint);
	*sigterm = *sigint = NULL;
	signal(SIGTERM, SIG_IGN);
	signal(SIGINT, SIG_IGN);
	sigprocmask(SIG_SETMASK, &old, NULL);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct server *s = arg;
	if (s->shutdown_poll)
		return;
	tdm_info("main", "signal %d: shutting down", (int)sig);
	tdm_net_shutdown(s->net);
	struct timeval tv = { 0, 50000 };
	s->shutdown_poll = event_new(s->base, -1, EV_PERSIST, shutdown_poll_cb, s);
	event_add(s->shutdown_poll, &tv);
}

static void net_warn(const char *msg)
{
	tdm_warn("net", "%s", msg);
}

static int add_vhosts(struct tdm_broker *b, const struct tdm_config *cfg)
{
	if (!tdm_vhost_add(b, cfg->default_vhost, strlen(cfg->default_vhost)))
		return -1;
	const char *p = cfg->vhosts ? cfg->vhosts : "";
	while (*p) {
		size_t n = strcspn(p, ",");
		while (n && (*p == ' ')) {
			p++;
			n--;
		}
		size_t len = n;
		while (len && p[len - 1] == ' ')
			len--;
		if (len && !tdm_vhost_add(b, p, len))
			return -1;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* The AMQPS listener's TLS context from RabbitMQ's ssl_options. */
static struct tdm_tls *amqps_context(const struct tdm_config *cfg, char *err, size_t errlen)
{
	struct tdm_tls_conf tc = {
		.name = "ssl_options",
		.certfile = cfg->ssl_certfile,
		.keyfile = cfg->ssl_keyfile,
		.cacertfile = cfg->ssl_cacertfile,
		.password = cfg->ssl_password,
		.verify = cfg->ssl_verify,
		.fail_if_no_peer_cert = cfg->ssl_fail_if_no_peer_cert,
		.versions = cfg->ssl_versions,
		.depth = cfg->ssl_depth,
		.ciphers = cfg->ssl_ciphers,
		.client_cipher_order = !cfg->ssl_honor_cipher_order,
	};

	return tdm_tls_new(&tc, err, errlen);
}

/* The HTTPS listener's TLS context from rabbitmq.conf's management.ssl.*. */
static struct tdm_tls *https_context(const struct tdm_config *cfg, char *err, size_t errlen)
{
	struct tdm_tls_conf tc = {
		.name = "management.ssl",
		.certfile = cfg->http_ssl_certfile,
		.keyfile = cfg->http_ssl_keyfile,
		.cacertfile = cfg->http_ssl_cacertfile,
		.password = cfg->http_ssl_password,
		.verify = cfg->http_ssl_verify,
		.fail_if_no_peer_cert = cfg->http_ssl_fail_if_no_peer_cert,
		.versions = cfg->http_ssl_versions,
		.depth = cfg->http_ssl_depth,
		.ciphers = cfg->http_ssl_ciphers,
		.client_cipher_order = !cfg->http_ssl_honor_cipher_order,
	};

	return tdm_tls_new(&tc, err, errlen);
}

/*
 * Opens the AMQP listeners of list (NAME=HOST:PORT,...: rabbitmq.conf's
 * listeners.tcp.NAME or listeners.ssl.NAME; HOST "" = bind_address), or
 * bind_address:port when list is empty (port 0 = none), with opts (NULL =
 * plain).  With dry set it only checks the list.  0, or -1 after logging.
 */
static int amqp_listen(struct server *s, const struct tdm_config *cfg, const char *list, int port,
		       const struct tdm_listen_opts *opts, int dry)
{
	const char *kind = opts ? "amqps" : "amqp";
	const char *p = list ? list : "";

	if (!*p && port) {
		if (dry)
			return 0;
		int bound = tdm_net_listen_opts(s->net, cfg->bind_address, port, &am_proto,
						s->broker, opts);
		if (bound < 0) {
			tdm_error("main", "cannot listen on %s:%d: %s", cfg->bind_address, port,
				  strerror(errno));
			return -1;
		}
		tdm_info("main", "listening %s %s:%d", kind, cfg->bind_address, bound);
		return 0;
	}
	for (;;) {
		char name[64], host[80];
		int lport, r = tdm_config_listener_next(&p, name, sizeof(name), host, sizeof(host),
							&lport);

		if (r == 0)
			break;
		if (r < 0) {
			tdm_error("main", "%s_listeners: '%.*s' is not NAME=HOST:PORT",
				  opts ? "ssl" : "amqp", (int)strcspn(p, ","), p);
			return -1;
		}
		if (dry)
			continue;
		const char *addr = host[0] ? host : cfg->bind_address;
		int bound = tdm_net_listen_opts(s->net, addr, lport, &am_proto, s->broker, opts);

		if (bound < 0) {
			tdm_error("main", "cannot listen on %s port %d (%s %s): %s", addr, lport,
				  kind, name, strerror(errno));
			return -1;
		}
		tdm_info("main",
			 strchr(addr, ':') ? "listening %s [%s]:%d (%s)"
					   : "listening %s %s:%d (%s)",
			 kind, addr, bound, name);
	}
	return 0;
}

/* The cluster link's port serves both protocols between nodes: a
 * connection that starts with the AMQP protocol header goes to the AMQP
 * front end as a link connection (am_link_proto), anything else to the
 * Kafka front end's link listener that opened the port.  0, or -1
 * (logged). */
static int link_routes(struct server *s)
{
	static const uint8_t amqp_header[] = { 'A', 'M', 'Q', 'P' };
	int port = s->kafka ? tdm_kafka_cluster_port(s->kafka) : 0;

	if (!port)
		return 0;
	/* "AMQP" alone: a client of another protocol version still gets the
	 * AMQP front end's answer (its own header, spec 4.2.2) */
	s->link_amqp = (struct tdm_net_route){ .prefix = amqp_header,
					       .len = sizeof(amqp_header),
					       .proto = &am_link_proto,
					       .arg = s->broker };
	if (tdm_net_listen_routes(s->net, port, &s->link_amqp, 1) <= 0) {
		tdm_error("main", "cannot serve AMQP on the cluster port %d", port);
		return -1;
	}
	tdm_info("main", "cluster port %d: AMQP connections go to the AMQP front end", port);
	return 0;
}

/* The Kafka listeners are well formed, the SSL ones have their context, and
 * the cluster link (cluster_port) has its secret. */
static int kafka_check(struct server *s, const struct tdm_config *cfg, int *nlisteners, char *err,
		       size_t errlen)
{
	struct tdm_kafka_listener ls[TDM_KAFKA_MAX_LISTENERS];
	int n = tdm_kafka_listeners(cfg, ls, TDM_KAFKA_MAX_LISTENERS, err, errlen);

	if (n < 0 || tdm_limits_parse_overrides(cfg->kafka_max_connections_per_ip_overrides, NULL,
						 NULL, err, errlen) < 0)
		return -1;
	*nlisteners = n;
	if (cfg->cluster_port) {
		/* the cluster link's secret must be there before anything starts */
		char secret[TDM_CLUSTER_SECRET_MAX + 1];
		int len = tdm_config_cluster_secret(cfg, secret, sizeof(secret), err, errlen);

		explicit_bzero(secret, sizeof(secret));
		if (len < 0)
			return -1;
	}
	for (int i = 0; i < n; i++)
		if ((ls[i].security == TDM_KAFKA_SSL || ls[i].security == TDM_KAFKA_SASL_SSL) &&
		    !s->kafka_ssl && !(s->kafka_ssl = tdm_kafka_tls(cfg, err, errlen)))
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct tdm_config cfg;
	struct tdm_auth *auth = NULL;
	struct server s = { 0 };
	struct event *sigterm = NULL, *sigint = NULL;
	char err[512];
	int rc = 1;
	if (tdm_config_init(&cfg) < 0)
		return 1;
	int r = tdm_config_args(&cfg, argc, argv, err, sizeof(err));
	if (r != 0) {
		if (r < 0)
			fprintf(stderr, "tandemd: %s\n", err);
		tdm_config_free(&cfg);
		return r < 0 ? 2 : 0;
	}
	tdm_log_setup(cfg.log_level, cfg.log_file);
	signal(SIGPIPE, SIG_IGN);
	/* bad certificates stop the broker before it touches its data */
	if (amqp_listen(&s, &cfg, cfg.amqp_listeners, cfg.amqp_port, NULL, 1) < 0 ||
	    amqp_listen(&s, &cfg, cfg.ssl_listeners, cfg.ssl_port, NULL, 1) < 0)
		goto out;
	if ((cfg.ssl_port || (cfg.ssl_listeners && *cfg.ssl_listeners)) &&
	    !(s.amqps = amqps_context(&cfg, err, sizeof(err)))) {
		tdm_error("main", "%s", err);
		goto out;
	}
	int kafka_listeners = 0;
	if (kafka_check(&s, &cfg, &kafka_listeners, err, sizeof(err)) < 0) {
		tdm_error("main", "%s", err);
		goto out;
	}
	if (cfg.http_ssl_port && !(s.https = https_context(&cfg, err, sizeof(err)))) {
		tdm_error("main", "%s", err);
		goto out;
	}
	if (mkdir(cfg.data_dir, 0750) < 0 && errno != EEXIST) {
		tdm_error("main", "cannot create data directory %s: %s", cfg.data_dir, strerror(errno));
		goto out;
	}
	auth = tdm_auth_new(&cfg, err, sizeof(err));
	if (!auth) {
		tdm_error("main", "%s", err);
		goto out;
	}
	const char *ledger = getenv("TANDEM_FSYNC_LEDGER"); /* tests only: power-cut simulation */
	if (ledger && *ledger) {
		if (tdm_storage_fsync_ledger(ledger) < 0) {
			tdm_error("main", "cannot open TANDEM_FSYNC_LEDGER %s: %s", ledger, strerror(errno));
			goto out;
		}
		tdm_warn("main", "fsync ledger: %s", ledger);
	}
	evthread_use_pthreads(); /* helper threads hand fsync results back to the loop */
	s.base = new_base();
	s.broker = tdm_broker_new(&cfg, auth);
	if (!s.base || !s.broker || add_vhosts(s.broker, &cfg) < 0)
		goto out;
	s.dispatch_ev = event_new(s.base, -1, 0, dispatch_cb, &s);
	s.broker->schedule = schedule_dispatch;
	s.broker->schedule_ctx = &s;
	am_hooks_install(s.broker);
	if (start_worker(&s, err, sizeof(err)) < 0) {
		tdm_error("main", "%s", err);
		goto out;
	}
	/* the logs first: durable stream queues come back over their topics */
	if (!(s.topics = tdm_topics_open(&cfg, &s.broker->bg, err, sizeof(err)))) {
		tdm_error("main", "%s", err);
		goto out;
	}
	if (start_topic_timers(&s, &cfg) < 0)
		goto out;
	s.broker->topics = s.topics;
	if (!(s.groups = tdm_groups_new(s.topics)))
		goto out;
	s.broker->groups = s.groups;
	tdm_topics_set_alarms(s.topics, &s.broker->alarms); /* Kafka produce obeys the disk alarm */
	tdm_topics_set_limits(s.topics, s.broker->limits); /* max_partitions set at run time */
	if (open_durable(&s, &cfg, err, sizeof(err)) < 0) {
		tdm_error("main", "%s", err);
		goto out;
	}
	const char *faults = getenv("TANDEM_FAULTS"); /* tests only: injected storage faults */
	if (faults && *faults) {
		if (tdm_storage_faults(faults) < 0) {
			tdm_error("main", "bad TANDEM_FAULTS: %s", faults);
			goto out;
		}
		tdm_warn("main", "storage fault injection armed: %s", faults);
	}
	tdm_broker_tick(s.broker); /* resource alarms are in force before anyone connects */
	s.tick_ev = event_new(s.base, -1, EV_PERSIST, tick_cb, &s);
	struct timeval tick = { 0, 100000 };
	if (!s.tick_ev || event_add(s.tick_ev, &tick) < 0)
		goto out;
	struct tdm_net_limits lim = { .max_connections = cfg.max_connections,
				      .output_high_watermark = cfg.output_high_watermark,
				      .fd_reserve = cfg.fd_reserve,
				      .warn = net_warn };
	s.net = tdm_net_new(s.base, &lim);
	if (!s.net || !s.dispatch_ev)
		goto out;
	if (amqp_listen(&s, &cfg, cfg.amqp_listeners, cfg.amqp_port, NULL, 0) < 0)
		goto out;
	if (s.amqps) {
		struct tdm_listen_opts tls_opts = { .tls = s.amqps };

		if (amqp_listen(&s, &cfg, cfg.ssl_listeners, cfg.ssl_port, &tls_opts, 0) < 0)
			goto out;
	}
	if ((kafka_listeners || cfg.cluster_port) &&
	    !(s.kafka = tdm_kafka_start(s.base, s.net, &cfg, s.topics, s.groups, s.kafka_ssl)))
		goto out;
	if (s.kafka) {
		tdm_kafka_set_auth(s.kafka, auth);
		tdm_kafka_set_broker(s.kafka, s.broker);
	}
	if (link_routes(&s) < 0)
		goto out;
	if ((cfg.http_port || s.https) &&
	    !(s.http = tdm_http_start(s.base, &cfg, s.broker, s.topics, s.durable, s.https)))
		goto out;
	if (s.http && tdm_http_guard(s.http, s.net) < 0)
		goto out;
	sigterm = evsignal_new(s.base, SIGTERM, signal_cb, &s);
	sigint = evsignal_new(s.base, SIGINT, signal_cb, &s);
	event_add(sigterm, NULL);
	event_add(sigint, NULL);
	/* after the handlers: a SIGTERM while joining (up to
	 * zookeeper_connection_timeout_ms) is a clean stop once the loop runs */
	if (cfg.zookeeper_connect && cfg.zookeeper_connect[0] && join_cluster(&s, &cfg) < 0)
		goto out;
	tdm_info("main", "tandemd %s started, data in %s", PACKAGE_VERSION, cfg.data_dir);
	event_base_dispatch(s.base);
	tdm_info("main", "stopped");
	rc = 0;
out:
	ignore_stop_signals(&sigterm, &sigint);
	if (s.shutdown_poll)
		event_free(s.shutdown_poll);
	if (s.tick_ev)
		event_free(s.tick_ev);
	if (s.retention_ev)
		event_free(s.retention_ev);
	if (s.retention_more)
		event_free(s.retention_more);
	if (s.kafka)
		tdm_kafka_set_replica(s.kafka, NULL);
	tdm_http_set_replica(s.http, NULL);
	if (s.broker)
		s.broker->defs = NULL;
	tdm_rq_free(s.rq);
	tdm_cdefs_free(s.cdefs); /* proposals still waiting fail first */
	if (s.broker)
		s.broker->replica = NULL;
	tdm_cnode_free(s.cluster); /* leaves the cluster first: leaderships move at once */
	tdm_http_free(s.http);
	tdm_net_free(s.net);
	tdm_kafka_free(s.kafka);
	tdm_groups_free(s.groups); /* after both front ends that use them */
	close_durable(&s);
	tdm_broker_free(s.broker); /* stream queues let go of their topics' waiters */
	tdm_topics_close(s.topics);
	tdm_worker_free(s.worker);
	if (s.dispatch_ev)
		event_free(s.dispatch_ev);
	if (s.base)
		event_base_free(s.base);
	tdm_auth_free(auth);
	tdm_tls_free(s.amqps); /* after the listener and connections that used it */
	tdm_tls_free(s.kafka_ssl);
	tdm_tls_free(s.https);
	tdm_config_free(&cfg);
	return rc;
}
