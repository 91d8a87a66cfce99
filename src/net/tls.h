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
	/* comma list of OpenSSL cipher names (RabbitMQ's ssl_options.ciphers):
	   TLS 1.3 suites (TLS_AES_256_GCM_SHA384) and TLS 1.2 ones
	   (ECDHE-ECDSA-AES256-GCM-SHA384), in order of preference; NULL or ""
	   = OpenSSL's defaults */
	const char *ciphers;
	/* 1 = the client's order of preference picks the cipher (Erlang's
	   honor_cipher_order = false); 0 = the server's (ciphers above) */
	int client_cipher_order;
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
 *
 * With a socket, OpenSSL works over a socket bufferevent of its own
 * (bufferevent_get_underlying): a read takes every record that has arrived,
 * and the records it holds (up to 64 KiB; past that the plaintext waits in
 * the returned bufferevent's output) leave in one writev.  Data added to the
 * output is encrypted at once, one record per evbuffer chain: add it in
 * large pieces (tdm_conn's output does).
 */
struct bufferevent *tdm_tls_wrap(struct tdm_tls *t, struct event_base *base, evutil_socket_t fd);
/*
 * Why a TLS bufferevent failed: OpenSSL's reasons queued on bev (drained),
 * written to buf.  Returns 1 when there was one, 0 otherwise.
 */
int tdm_tls_error(struct bufferevent *bev, char *buf, size_t len);

/* 1 when bev is a TLS bufferevent (tdm_tls_wrap), 0 for plain TCP. */
int tdm_tls_active(struct bufferevent *bev);

/* What a TLS connection negotiated and who the peer is, in RabbitMQ's
 * spelling (rabbit_reader's ssl_* items, rabbit_cert_info's strings). */
struct tdm_tls_info {
	char protocol[16];           /* "tlsv1.3", "tlsv1.2" */
	char cipher[32];             /* Erlang's name: "aes_256_gcm" */
	char key_exchange[24];       /* "ecdhe_ecdsa", "any" (TLS 1.3) */
	char hash[16];               /* "aead", "sha384" */
	int has_peer_cert;           /* the client sent a certificate */
	char peer_cert_subject[512]; /* RFC 4514 as rabbit_cert_info:subject:
				     "CN=client,O=Example,C=US"; "" = none */
	char peer_cert_issuer[512];
	char peer_cert_validity[64]; /* "2026-12-06T05:00:00Z - 2026-12-08T05:00:00Z" */
};
/*
 * Fills out for bev when it is a TLS bufferevent whose handshake is done;
 * returns 1 then, 0 for a plain TCP one (out is left zeroed).
 */
int tdm_tls_info(struct bufferevent *bev, struct tdm_tls_info *out);

/* Results of tdm_tls_peer_name, as rabbit_auth_mechanism_ssl tells them. */
enum tdm_tls_name_result {
	TDM_TLS_NAME_OK = 0,
	TDM_TLS_NAME_NOT_TLS = -1,   /* "not a TLS-enabled connection" */
	TDM_TLS_NAME_NO_CERT = -2,   /* "connection peer presented no TLS (x.509) certificate" */
	TDM_TLS_NAME_UNSAFE = -3,    /* no verify_peer: "TLS configuration is unsafe" */
	TDM_TLS_NAME_NOT_FOUND = -4, /* no such field / too long: "no name found" */
};
/*
 * The login name carried by the peer's certificate on bev (RabbitMQ's
 * ssl_cert_login_from): with common_name 0 its whole subject in RFC 4514
 * form (distinguished_name, as rabbit_ssl:peer_cert_subject), with 1 its
 * common names joined by ','.  Only a certificate the handshake verified
 * counts: the listener must verify peers.  The name goes to buf (len
 * bytes, NUL-terminated).
 */
enum tdm_tls_name_result tdm_tls_peer_name(struct bufferevent *bev, int common_name, char *buf,
					   size_t len);
/* RabbitMQ's text for a result other than OK (static). */
const char *tdm_tls_name_error(enum tdm_tls_name_result r);

#endif
