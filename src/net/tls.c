/*
 * TLS server contexts; see tls.h.
 *
 * Must not depend on: the broker core, protocol front ends.
 */
#include "net/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

struct tdm_tls {
	SSL_CTX *ctx; /* owned */
};

/* RabbitMQ's (Erlang's) names of the protocol versions. */
static const struct {
	const char *name;
	int version;
	unsigned long no_op; /* SSL_OP_NO_* that leaves it out */
} tls_versions[] = {
	{ "tlsv1", TLS1_VERSION, SSL_OP_NO_TLSv1 },
	{ "tlsv1.1", TLS1_1_VERSION, SSL_OP_NO_TLSv1_1 },
	{ "tlsv1.2", TLS1_2_VERSION, SSL_OP_NO_TLSv1_2 },
	{ "tlsv1.3", TLS1_3_VERSION, SSL_OP_NO_TLSv1_3 },
};

#define NVERSIONS (sizeof(tls_versions) / sizeof(tls_versions[0]))

/* OpenSSL's first queued reason, the root cause ("no start line" rather
 * than "PEM lib"; the queue is drained), or fallback when it has none. */
static const char *ssl_reason(char *buf, size_t len, const char *fallback)
{
	unsigned long e, first = ERR_get_error();

	while ((e = ERR_get_error()) != 0)
		;
	if (!first)
		return fallback;
	ERR_error_string_n(first, buf, len);
	return buf;
}

/* Refuses a file we cannot read with the system's reason (clearer than
 * OpenSSL's "system lib"). */
static int check_readable(const char *what, const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "re");

	if (!fp) {
		snprintf(err, errlen, "%s %s: cannot read: %s", what, path, strerror(errno));
		return -1;
	}
	fclose(fp);
	return 0;
}

/* Sets the protocol versions from a comma list; 0, or -1 with err set. */
static int set_versions(SSL_CTX *ctx, const char *name, const char *list, char *err, size_t errlen)
{
	unsigned want = 0;
	const char *p = list && *list ? list : "tlsv1.2,tlsv1.3";
	size_t i, lo = NVERSIONS, hi = 0;

	while (*p) {
		size_t n = strcspn(p, ",");

		while (n && (*p == ' ' || *p == '\t'))
			p++, n--;
		for (i = 0; i < NVERSIONS; i++)
			if (strlen(tls_versions[i].name) == n &&
			    strncasecmp(p, tls_versions[i].name, n) == 0)
				break;
		if (i == NVERSIONS) {
			snprintf(
				err, errlen,
				"%s.versions: '%.*s' is not one of tlsv1, tlsv1.1, tlsv1.2, tlsv1.3",
				name, (int)n, p);
			return -1;
		}
		want |= 1u << i;
		p += n;
		if (*p == ',')
			p++;
	}
	for (i = 0; i < NVERSIONS; i++)
		if (want & (1u << i)) {
			if (i < lo)
				lo = i;
			hi = i;
		}
	if (!SSL_CTX_set_min_proto_version(ctx, tls_versions[lo].version) ||
	    !SSL_CTX_set_max_proto_version(ctx, tls_versions[hi].version)) {
		snprintf(err, errlen, "%s.versions: not supported by this OpenSSL", name);
		return -1;
	}
	/* a gap in the list (tlsv1.1 and tlsv1.3 alone) */
	for (i = lo; i <= hi; i++)
		if (!(want & (1u << i)))
			SSL_CTX_set_options(ctx, tls_versions[i].no_op);
	return 0;
}

/* The passphrase of the key file (ssl_options.password). */
static int password_cb(char *buf, int size, int rwflag, void *arg)
{
	const char *pw = arg;
	size_t n = strlen(pw);

	(void)rwflag;
	if (n >= (size_t)size)
		return -1;
	memcpy(buf, pw, n);
	return (int)n;
}

struct tdm_tls *tdm_tls_new(const struct tdm_tls_conf *conf, char *err, size_t errlen)
{
	const char *name = conf->name ? conf->name : "ssl_options";
	struct tdm_tls *t = NULL;
	SSL_CTX *ctx = NULL;
	char why[256];
	int verify_peer = 0;
	int mode;

	if (!conf->certfile || !*conf->certfile || !conf->keyfile || !*conf->keyfile) {
		snprintf(err, errlen, "a TLS listener needs %s.certfile and %s.keyfile", name,
			 name);
		goto fail;
	}
	if (conf->verify && *conf->verify && strcmp(conf->verify, "verify_none") != 0) {
		if (strcmp(conf->verify, "verify_peer") != 0) {
			snprintf(err, errlen, "%s.verify: '%s' is not verify_peer or verify_none",
				 name, conf->verify);
			goto fail;
		}
		verify_peer = 1;
	}
	if (conf->fail_if_no_peer_cert && !verify_peer) {
		/* as Erlang's ssl: the two together would silently accept anyone */
		snprintf(err, errlen,
			 "%s.fail_if_no_peer_cert = true needs %s.verify = verify_peer", name,
			 name);
		goto fail;
	}
	if (verify_peer && (!conf->cacertfile || !*conf->cacertfile)) {
		snprintf(err, errlen, "%s.verify = verify_peer needs %s.cacertfile", name, name);
		goto fail;
	}
	ERR_clear_error();
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		snprintf(err, errlen, "%s: cannot create a TLS context: %s", name,
			 ssl_reason(why, sizeof(why), "out of memory"));
		goto fail;
	}
	if (set_versions(ctx, name, conf->versions, err, errlen) < 0)
		goto fail;
	/* client-initiated renegotiation only costs the server CPU */
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* AMQP is framed: a peer closing without close_notify truncates nothing,
	 * and it is then an end of stream (EOF), not an error */
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
	if (conf->password && *conf->password) {
		SSL_CTX_set_default_passwd_cb(ctx, password_cb);
		SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *)conf->password);
	}
	char what[64], certwhat[64];

	if (conf->certfile_key)
		snprintf(what, sizeof(what), "%s", conf->certfile_key);
	else
		snprintf(what, sizeof(what), "%s.certfile", name);
	memcpy(certwhat, what, sizeof(certwhat));
	if (check_readable(what, conf->certfile, err, errlen) < 0)
		goto fail;
	if (SSL_CTX_use_certificate_chain_file(ctx, conf->certfile) != 1) {
		snprintf(err, errlen, "%s %s: not a usable PEM certificate: %s", what,
			 conf->certfile, ssl_reason(why, sizeof(why), "unknown error"));
		goto fail;
	}
	if (conf->keyfile_key)
		snprintf(what, sizeof(what), "%s", conf->keyfile_key);
	else
		snprintf(what, sizeof(what), "%s.keyfile", name);
	if (check_readable(what, conf->keyfile, err, errlen) < 0)
		goto fail;
	if (SSL_CTX_use_PrivateKey_file(ctx, conf->keyfile, SSL_FILETYPE_PEM) != 1) {
		/* OpenSSL checks the pair while loading */
		if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH)
			snprintf(err, errlen, "%s %s does not match %s %s: %s", what, conf->keyfile,
				 certwhat, conf->certfile,
				 ssl_reason(why, sizeof(why), "key values mismatch"));
		else
			snprintf(err, errlen, "%s %s: not a usable PEM private key: %s", what,
				 conf->keyfile, ssl_reason(why, sizeof(why), "unknown error"));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "%s %s does not match %s %s: %s", what, conf->keyfile,
			 certwhat, conf->certfile,
			 ssl_reason(why, sizeof(why), "key values mismatch"));
		goto fail;
	}
	/* the passphrase is needed only while loading */
	SSL_CTX_set_default_passwd_cb(ctx, NULL);
	SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
	if (conf->cacertfile && *conf->cacertfile) {
		if (conf->cacertfile_key)
			snprintf(what, sizeof(what), "%s", conf->cacertfile_key);
		else
			snprintf(what, sizeof(what), "%s.cacertfile", name);
		if (check_readable(what, conf->cacertfile, err, errlen) < 0)
			goto fail;
		if (SSL_CTX_load_verify_locations(ctx, conf->cacertfile, NULL) != 1) {
			snprintf(err, errlen, "%s %s: not a usable PEM CA bundle: %s", what,
				 conf->cacertfile, ssl_reason(why, sizeof(why), "unknown error"));
			goto fail;
		}
		/* the CAs a client may pick its certificate by */
		SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(conf->cacertfile));
		ERR_clear_error();
	}
	mode = SSL_VERIFY_NONE;
	if (verify_peer)
		mode = SSL_VERIFY_PEER |
		       (conf->fail_if_no_peer_cert ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0);
	SSL_CTX_set_verify(ctx, mode, NULL);
	SSL_CTX_set_verify_depth(ctx, (int)conf->depth);
	/* resumed sessions must keep their verification context */
	SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"tandem", 6);
	t = calloc(1, sizeof(*t));
	if (!t) {
		snprintf(err, errlen, "%s: out of memory", name);
		goto fail;
	}
	t->ctx = ctx;
	return t;
fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

void tdm_tls_free(struct tdm_tls *t)
{
	if (!t)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

struct bufferevent *tdm_tls_wrap(struct tdm_tls *t, struct event_base *base, evutil_socket_t fd)
{
	SSL *ssl = SSL_new(t->ctx);
	struct bufferevent *bev;

	if (!ssl)
		return NULL;
	bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		return NULL; /* libevent freed ssl (BEV_OPT_CLOSE_ON_FREE) */
	/* many clients just close the socket: that is an end, not an attack */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	return bev;
}

int tdm_tls_error(struct bufferevent *bev, char *buf, size_t len)
{
	unsigned long e, why = 0, code = 0;

	/* libevent queues SSL_get_error's code, then OpenSSL's reasons */
	while ((e = bufferevent_get_openssl_error(bev)) != 0) {
		if (ERR_GET_LIB(e) != 0)
			why = e;
		else if (!code)
			code = e;
	}
	if (why)
		ERR_error_string_n(why, buf, len);
	else if (code == SSL_ERROR_SYSCALL)
		snprintf(buf, len, "connection closed during the handshake");
	else if (code)
		snprintf(buf, len, "SSL_get_error %lu", code);
	else
		return 0;
	return 1;
}
