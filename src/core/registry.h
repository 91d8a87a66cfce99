/*
 * The registry of client connections, protocol-neutral: each front end
 * registers a record for a connection once it is open (name, peer, user,
 * vhost, protocol) with callbacks that read its live numbers, and removes
 * it when the connection goes.  The management API and /metrics list
 * connections and channels from here without knowing any front end.
 *
 * One process-wide registry, owned by the event-loop thread (as all broker
 * state).  Must not depend on: libevent, protocol front ends.
 */
#ifndef TANDEM_CORE_REGISTRY_H
#define TANDEM_CORE_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

/* Live numbers of one connection, filled by the front end on request. */
struct tdm_conn_stats {
	uint32_t channels;
	uint32_t channel_max, frame_max, heartbeat;
	uint64_t recv_oct, send_oct;
	int blocked;            /* reading stopped by a resource alarm */
};

/* One open channel (AMQP's notion; other protocols report none). */
struct tdm_chan_info {
	uint32_t number;
	uint32_t consumers;
	uint32_t unacked;
	uint32_t prefetch;      /* per-consumer prefetch (basic.qos global=false) */
	uint32_t global_prefetch;
	int confirm, transactional;
};

typedef void (*tdm_chan_fn)(void *arg, const struct tdm_chan_info *ci);

struct tdm_consumer;
/* One consumer (AMQP basic.consume) of a connection. */
struct tdm_consumer_info {
	uint32_t channel;
	const char *tag;                /* borrowed for the call */
	size_t tag_len;
	const struct tdm_consumer *core;/* its queue, priority, exclusive flag */
	int ack_required;
	uint32_t prefetch;              /* per-consumer limit, 0 = none */
};

typedef void (*tdm_consumer_fn)(void *arg, const struct tdm_consumer_info *ci);

/* How a connection is secured, as RabbitMQ's management API lists it
 * (rabbit_reader's ssl_* and peer_cert_* items); filled on request. */
struct tdm_conn_security {
	const char *auth_mechanism;  /* static: "PLAIN", "EXTERNAL"; NULL = none */
	int ssl;                     /* over TLS; the fields below are "" otherwise */
	char ssl_protocol[16];       /* "tlsv1.3" */
	char ssl_cipher[32];         /* "aes_256_gcm" */
	char ssl_key_exchange[24];   /* "ecdhe_ecdsa", "any" */
	char ssl_hash[16];           /* "aead", "sha384" */
	char peer_cert_subject[512]; /* "CN=client,O=Example"; "" = no certificate */
	char peer_cert_issuer[512];
	char peer_cert_validity[64];
};

struct tdm_reg_ops {
	void (*stats)(void *ctx, struct tdm_conn_stats *out);
	/* Calls fn once per open channel (may be NULL: no channels). */
	void (*channels)(void *ctx, tdm_chan_fn fn, void *arg);
	/* Closes the connection on an operator's request, telling the client
	 * `reason` (AMQP: 320 CONNECTION_FORCED); may be NULL.  The record
	 * goes when the connection is gone, not during this call. */
	void (*close)(void *ctx, const char *reason);
	/* Calls fn once per live consumer (may be NULL: no consumers). */
	void (*consumers)(void *ctx, tdm_consumer_fn fn, void *arg);
	/* Fills out (zeroed by the caller); may be NULL: plain TCP, no login. */
	void (*security)(void *ctx, struct tdm_conn_security *out);
};

struct tdm_reg_conn {
	void *ctx;                      /* the front end's connection (key) */
	const struct tdm_reg_ops *ops;  /* borrowed (static) */
	const char *protocol;           /* borrowed static string, e.g. "AMQP 0-9-1" */
	char name[160];                 /* RabbitMQ's "peer_ip:port -> local_ip:port" */
	char peer_host[64], host[64];
	int peer_port, port;
	char user[256];
	char vhost[256];
	uint64_t connected_at;          /* ms since the epoch */
	struct tdm_reg_conn *prev, *next;
};

/*
 * Registers ctx's connection: fd (its socket, for the local address),
 * the names are copied.  0, or -1 on ENOMEM (then nothing is listed; the
 * connection works anyway).
 */
int tdm_registry_add(void *ctx, const struct tdm_reg_ops *ops, const char *protocol, int fd,
		     const char *user, const char *vhost);
/* Removes ctx's record if it has one. */
void tdm_registry_remove(void *ctx);
/* Iteration in registration order: first, then ->next. */
struct tdm_reg_conn *tdm_registry_first(void);
size_t tdm_registry_count(void);
/* The record named `name` (as listed), or NULL. */
struct tdm_reg_conn *tdm_registry_find(const char *name, size_t len);

#endif
