/*
 * TLS server contexts for the listeners (AMQPS first; Kafka SSL and HTTPS
 * later): OpenSSL's SSL_CTX built from RabbitMQ's ssl_options (certfile,
 * keyfile, cacertfile, verify, fail_if_no_peer_cert, versions, depth,
 * password), and accepted sockets wrapped in libevent's bufferevent_openssl,
 * so a protocol reads and writes its bufferevent as over plain TCP.
 *
 * Must not depend on: the broker core, protocol front ends (the caller
 * copies the configuration into struct tdm_tls_conf).
 */
#ifndef TANDEM_NET_TLS_H
#define TANDEM_NET_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <event2/bufferevent.h>
#include <event2/event.h>

struct tdm_tls;

/* What a server context is made of; every string is borrowed for the call. */
struct tdm_tls_conf {
	const char *name;         /* for messages, e.g. "ssl_options" */
	const char *certfile;     /* PEM: the server's certificate (and chain) */
	const char *keyfile;      /* PEM: its private key */
	const char *cacertfile;   /* PEM: CAs that client certificates are checked
				       against; NULL or "" = none */
	const char *password;     /* passphrase of keyfile; NULL or "" = none */
	const char *verify;       /* "verify_none" (default) or "verify_peer" */
	int fail_if_no_peer_cert; /* with verify_peer: refuse clients without one */
	const char *versions;     /* comma list of tlsv1, tlsv1.1, tlsv1.2, tlsv1.3;
				       NULL or "" = tlsv1.2,tlsv1.3 */
	uint32_t depth;           /* most intermediate CAs in a client's chain
				       (RabbitMQ's default: 10) */
	/* the settings' names in messages; NULL = name.certfile and so on */
	const char *certfile_key, *keyfile_key, *cacertfile_key;
};

/*
 * Builds a server context from conf: loads the files, checks that the key
 * matches the certificate, sets verification and protocol versions.
 * Returns it, or NULL with a message in err naming the setting, the file
 * and OpenSSL's (or the system's) reason.
 */
struct tdm_tls *tdm_tls_new(const struct tdm_tls_conf *conf, char *err, size_t errlen);
void tdm_tls_free(struct tdm_tls *t);
/*
 * A bufferevent doing the server side of a TLS handshake on the accepted
 * socket fd, then carrying the plaintext; it owns fd (closes it when
 * freed).  fd may be -1 when the socket is set later (bufferevent_setfd,
 * as evhttp does with the bufferevent its bevcb returns).  NULL on failure
 * (fd is then still the caller's).
 */
struct bufferevent *tdm_tls_wrap(struct tdm_tls *t, struct event_base *base, evutil_socket_t fd);
/*
 * Why a TLS bufferevent failed: OpenSSL's reasons queued on bev (drained),
 * written to buf.  Returns 1 when there was one, 0 otherwise.
 */
int tdm_tls_error(struct bufferevent *bev, char *buf, size_t len);

#endif
