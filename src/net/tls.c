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

/* Most one read or write of a TLS socket moves, and most encrypted bytes
 * waiting for the socket (bufferevent_socket's default is 16 KiB: one full
 * record and its overhead would not fit). */
#define TDM_TLS_WIRE_MAX (64 * 1024)

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

/*
 * Sets the ciphers from a comma list of OpenSSL names: TLS 1.3 suites
 * (TLS_*) go to SSL_CTX_set_ciphersuites, the others to the TLS 1.2 cipher
 * list, each in the order given.  Only the kinds listed are restricted: a
 * list of TLS 1.2 ciphers leaves TLS 1.3's defaults alone, as Erlang's ssl
 * does with a list of one kind.  0, or -1 with err naming what OpenSSL
 * refused.
 */
static int set_ciphers(SSL_CTX *ctx, const char *name, const char *list, char *err, size_t errlen)
{
	char v13[1024] = "", v12[2048] = "", why[256];
	const char *p = list ? list : "";
	size_t n13 = 0, n12 = 0;

	while (*p) {
		size_t n = strcspn(p, ",:");
		int is13 = n > 4 && strncmp(p, "TLS_", 4) == 0;
		char *dst = is13 ? v13 : v12;
		size_t cap = is13 ? sizeof(v13) : sizeof(v12), *len = is13 ? &n13 : &n12;

		while (n && (*p == ' ' || *p == '\t'))
			p++, n--;
		if (n && *len + n + 2 >= cap) {
			snprintf(err, errlen, "%s.ciphers: the list is too long", name);
			return -1;
		}
		if (n) {
			char one[256];

			/* each name on its own, so that a typo is named, not skipped */
			snprintf(one, sizeof(one), "%.*s", (int)(n < 255 ? n : 255), p);
			if ((is13 ? SSL_CTX_set_ciphersuites(ctx, one)
				  : SSL_CTX_set_cipher_list(ctx, one)) != 1) {
				snprintf(err, errlen,
					 "%s.ciphers: '%s' is not a cipher OpenSSL knows: %s", name,
					 one, ssl_reason(why, sizeof(why), "no cipher match"));
				return -1;
			}
			if (*len)
				dst[(*len)++] = ':';
			memcpy(dst + *len, p, n);
			*len += n;
			dst[*len] = '\0';
		}
		p += n;
		if (*p)
			p++;
	}
	if ((n13 && SSL_CTX_set_ciphersuites(ctx, v13) != 1) ||
	    (n12 && SSL_CTX_set_cipher_list(ctx, v12) != 1)) {
		snprintf(err, errlen, "%s.ciphers: %s", name,
			 ssl_reason(why, sizeof(why), "not accepted"));
		return -1;
	}
	if (!n13) /* the checks above changed them: back to the defaults */
		SSL_CTX_set_ciphersuites(ctx, OSSL_default_ciphersuites());
	if (!n12)
		SSL_CTX_set_cipher_list(ctx, OSSL_default_cipher_list());
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
	SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
	if (!conf->client_cipher_order)
		SSL_CTX_set_options(ctx, SSL_OP_CIPHER_SERVER_PREFERENCE);
	if (set_ciphers(ctx, name, conf->ciphers, err, errlen) < 0)
		goto fail;
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
	struct bufferevent *wire = NULL, *bev;

	if (!ssl)
		return NULL;
	if (fd < 0) {
		/* evhttp sets the socket later, on the bufferevent it is given:
		 * OpenSSL on the socket itself */
		bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_ACCEPTING,
						     BEV_OPT_CLOSE_ON_FREE);
		if (!bev)
			return NULL; /* libevent freed ssl (BEV_OPT_CLOSE_ON_FREE) */
		goto out;
	}
	/*
	 * OpenSSL over a socket bufferevent (the filter form): one read(2)
	 * takes every record that has arrived (OpenSSL on the socket itself
	 * reads a record's header, then its body: two reads a record, and one
	 * record per read event), and records written in one loop turn leave
	 * in one writev(2).
	 */
	wire = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!wire) {
		SSL_free(ssl);
		return NULL;
	}
	bufferevent_set_max_single_read(wire, TDM_TLS_WIRE_MAX);
	bufferevent_set_max_single_write(wire, TDM_TLS_WIRE_MAX);
	/* what is encrypted waits in wire's output until the socket takes it:
	 * past this much the plaintext stays in bev's output, where the
	 * caller's own flow control sees it */
	bufferevent_setwatermark(wire, EV_WRITE, TDM_TLS_WIRE_MAX / 4, TDM_TLS_WIRE_MAX);
	bev = bufferevent_openssl_filter_new(base, wire, ssl, BUFFEREVENT_SSL_ACCEPTING,
					     BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		return NULL; /* libevent freed ssl, and wire unless it failed
				before taking it (out of memory); fd is untouched */
	/* the socket last: a failure above leaves it the caller's */
	bufferevent_setfd(wire, fd);
out:
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

/* ---- what a connection negotiated, and who the peer is ---------------- */

/* A bounded string being built; over is set when something did not fit. */
struct sbuf {
	char *p;
	size_t cap, n;
	int over;
};

static void sb_addn(struct sbuf *b, const char *s, size_t n)
{
	if (b->over || n >= b->cap - b->n) {
		b->over = 1;
		return;
	}
	memcpy(b->p + b->n, s, n);
	b->n += n;
	b->p[b->n] = '\0';
}

static void sb_add(struct sbuf *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

/* RabbitMQ's names of attribute types (rabbit_cert_info:format_rdn); any
 * other type is written as its dotted OID. */
static const struct {
	int nid;
	const char *name;
} rdn_names[] = {
	{ NID_surname, "SN" },
	{ NID_givenName, "GIVENNAME" },
	{ NID_initials, "INITIALS" },
	{ NID_generationQualifier, "GENERATIONQUALIFIER" },
	{ NID_commonName, "CN" },
	{ NID_localityName, "L" },
	{ NID_stateOrProvinceName, "ST" },
	{ NID_organizationName, "O" },
	{ NID_organizationalUnitName, "OU" },
	{ NID_title, "TITLE" },
	{ NID_countryName, "C" },
	{ NID_serialNumber, "SERIALNUMBER" },
	{ NID_pseudonym, "PSEUDONYM" },
	{ NID_domainComponent, "DC" },
	{ NID_pkcs9_emailAddress, "EMAILADDRESS" },
	{ NID_streetAddress, "STREET" },
	{ NID_userId, "UID" },
};

/* An attribute's value as UTF-8 (teletexString read as Latin-1, as RabbitMQ
 * does); escape adds RFC 4514's escapes as rabbit_cert_info's
 * escape_rdn_value writes them (non-printable and non-ASCII bytes as \XX). */
static void add_value(struct sbuf *b, const ASN1_STRING *v, int escape)
{
	unsigned char *u = NULL;
	int n = ASN1_STRING_to_UTF8(&u, v);

	if (n < 0) {
		b->over = 1;
		return;
	}
	for (int i = 0; i < n; i++) {
		unsigned char c = u[i];
		char hex[4];

		if (!escape) {
			sb_addn(b, (const char *)&c, 1);
		} else if ((i == 0 && (c == ' ' || c == '#')) || (i == n - 1 && c == ' ') ||
			   strchr("\"+,;<>\\", c) != NULL) {
			sb_add(b, "\\");
			sb_addn(b, (const char *)&c, 1);
		} else if (c < 32 || c >= 126) {
			snprintf(hex, sizeof(hex), "\\%02X", c);
			sb_add(b, hex);
		} else {
			sb_addn(b, (const char *)&c, 1);
		}
	}
	OPENSSL_free(u);
}

static void add_entry(struct sbuf *b, const X509_NAME_ENTRY *e)
{
	const ASN1_OBJECT *obj = X509_NAME_ENTRY_get_object(e);
	int nid = OBJ_obj2nid(obj);
	char oid[128];
	size_t i;

	for (i = 0; i < sizeof(rdn_names) / sizeof(rdn_names[0]); i++)
		if (rdn_names[i].nid == nid)
			break;
	if (i < sizeof(rdn_names) / sizeof(rdn_names[0])) {
		sb_add(b, rdn_names[i].name);
	} else {
		if (OBJ_obj2txt(oid, sizeof(oid), obj, 1) <= 0)
			snprintf(oid, sizeof(oid), "?");
		sb_add(b, oid);
	}
	sb_add(b, "=");
	add_value(b, X509_NAME_ENTRY_get_data(e), 1);
}

/* A name as rabbit_cert_info's format_rdn_sequence writes it: the RDNs
 * last first (RFC 4514), joined by ','; the attributes of one
 * multi-valued RDN in their order, joined by '+'. */
static void format_name(struct sbuf *b, const X509_NAME *name)
{
	int end = X509_NAME_entry_count(name); /* one past the RDN to write */
	int first = 1;

	while (end > 0) {
		int set = X509_NAME_ENTRY_set(X509_NAME_get_entry(name, end - 1));
		int start = end - 1;

		while (start > 0 &&
		       X509_NAME_ENTRY_set(X509_NAME_get_entry(name, start - 1)) == set)
			start--;
		if (!first)
			sb_add(b, ",");
		first = 0;
		for (int i = start; i < end; i++) {
			if (i > start)
				sb_add(b, "+");
			add_entry(b, X509_NAME_get_entry(name, i));
		}
		end = start;
	}
}

/* A validity bound as rabbit_cert_info writes it: a UTCTime as
 * 20YY-MM-DDTHH:MM:SSZ; anything else as Erlang prints its term. */
static void add_time(struct sbuf *b, const ASN1_TIME *t)
{
	const char *s = (const char *)ASN1_STRING_get0_data(t);
	int n = ASN1_STRING_length(t);
	char out[64];

	if (ASN1_STRING_type(t) == V_ASN1_UTCTIME && n == 13 && s[12] == 'Z') {
		snprintf(out, sizeof(out), "20%.2s-%.2s-%.2sT%.2s:%.2s:%.2sZ", s, s + 2, s + 4,
			 s + 6, s + 8, s + 10);
	} else {
		snprintf(out, sizeof(out), "{generalTime,\"%.*s\"}", n < 40 ? n : 40, s);
	}
	sb_add(b, out);
}

/* Erlang's names of a cipher's parts (ssl_cipher_format's suite maps). */
static void cipher_names(const SSL_CIPHER *c, struct tdm_tls_info *out)
{
	static const struct {
		int nid;
		const char *name;
	} ciphers[] = {
		{ NID_aes_128_gcm, "aes_128_gcm" },
		{ NID_aes_256_gcm, "aes_256_gcm" },
		{ NID_chacha20_poly1305, "chacha20_poly1305" },
		{ NID_aes_128_cbc, "aes_128_cbc" },
		{ NID_aes_256_cbc, "aes_256_cbc" },
		{ NID_aes_128_ccm, "aes_128_ccm" },
		{ NID_aes_256_ccm, "aes_256_ccm" },
		{ NID_des_ede3_cbc, "3des_ede_cbc" },
	};
	int nid = SSL_CIPHER_get_cipher_nid(c), kx = SSL_CIPHER_get_kx_nid(c);
	int auth = SSL_CIPHER_get_auth_nid(c);
	const char *a = auth == NID_auth_rsa ? "rsa" : auth == NID_auth_ecdsa ? "ecdsa" : "any";
	size_t i;

	snprintf(out->cipher, sizeof(out->cipher), "%s", SSL_CIPHER_get_name(c));
	for (i = 0; i < sizeof(ciphers) / sizeof(ciphers[0]); i++)
		if (ciphers[i].nid == nid)
			snprintf(out->cipher, sizeof(out->cipher), "%s", ciphers[i].name);
	if (kx == NID_kx_any)
		snprintf(out->key_exchange, sizeof(out->key_exchange), "any");
	else if (kx == NID_kx_ecdhe)
		snprintf(out->key_exchange, sizeof(out->key_exchange), "ecdhe_%s", a);
	else if (kx == NID_kx_dhe)
		snprintf(out->key_exchange, sizeof(out->key_exchange), "dhe_%s", a);
	else if (kx == NID_kx_rsa)
		snprintf(out->key_exchange, sizeof(out->key_exchange), "rsa");
	else
		snprintf(out->key_exchange, sizeof(out->key_exchange), "%s", OBJ_nid2sn(kx));
	if (SSL_CIPHER_is_aead(c)) {
		snprintf(out->hash, sizeof(out->hash), "aead");
	} else {
		int d = SSL_CIPHER_get_digest_nid(c);

		snprintf(out->hash, sizeof(out->hash), "%s",
			 d == NID_sha1     ? "sha"
			 : d == NID_sha256 ? "sha256"
			 : d == NID_sha384 ? "sha384"
					   : OBJ_nid2sn(d));
	}
}

int tdm_tls_active(struct bufferevent *bev)
{
	return bufferevent_openssl_get_ssl(bev) != NULL;
}

int tdm_tls_info(struct bufferevent *bev, struct tdm_tls_info *out)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	const SSL_CIPHER *c;
	X509 *cert;
	struct sbuf b;

	memset(out, 0, sizeof(*out));
	if (!ssl || !SSL_is_init_finished(ssl))
		return 0;
	snprintf(out->protocol, sizeof(out->protocol), "%s", SSL_get_version(ssl));
	for (char *p = out->protocol; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	c = SSL_get_current_cipher(ssl);
	if (c)
		cipher_names(c, out);
	cert = SSL_get1_peer_certificate(ssl);
	if (!cert)
		return 1;
	out->has_peer_cert = 1;
	b = (struct sbuf){ out->peer_cert_subject, sizeof(out->peer_cert_subject), 0, 0 };
	format_name(&b, X509_get_subject_name(cert));
	b = (struct sbuf){ out->peer_cert_issuer, sizeof(out->peer_cert_issuer), 0, 0 };
	format_name(&b, X509_get_issuer_name(cert));
	b = (struct sbuf){ out->peer_cert_validity, sizeof(out->peer_cert_validity), 0, 0 };
	add_time(&b, X509_get0_notBefore(cert));
	sb_add(&b, " - ");
	add_time(&b, X509_get0_notAfter(cert));
	X509_free(cert);
	return 1;
}

enum tdm_tls_name_result tdm_tls_peer_name(struct bufferevent *bev, int common_name, char *buf,
					   size_t len)
{
	SSL *ssl = bufferevent_openssl_get_ssl(bev);
	enum tdm_tls_name_result r = TDM_TLS_NAME_OK;
	struct sbuf b = { buf, len, 0, 0 };
	X509 *cert;

	if (len)
		buf[0] = '\0';
	if (!ssl)
		return TDM_TLS_NAME_NOT_TLS;
	cert = SSL_get1_peer_certificate(ssl);
	if (!cert)
		return TDM_TLS_NAME_NO_CERT;
	/* as RabbitMQ's auth_config_sane: a name from a certificate nobody
	 * checked proves nothing */
	if (!(SSL_get_verify_mode(ssl) & SSL_VERIFY_PEER) ||
	    SSL_get_verify_result(ssl) != X509_V_OK) {
		r = TDM_TLS_NAME_UNSAFE;
		goto out;
	}
	if (!common_name) {
		format_name(&b, X509_get_subject_name(cert));
	} else {
		const X509_NAME *name = X509_get_subject_name(cert);
		int i = -1, n = 0;

		while ((i = X509_NAME_get_index_by_NID(name, NID_commonName, i)) >= 0) {
			if (n++)
				sb_add(&b, ",");
			add_value(&b, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)), 0);
		}
	}
	if (b.over || b.n == 0)
		r = TDM_TLS_NAME_NOT_FOUND;
out:
	X509_free(cert);
	if (r != TDM_TLS_NAME_OK && len)
		buf[0] = '\0';
	return r;
}

const char *tdm_tls_name_error(enum tdm_tls_name_result r)
{
	switch (r) {
	case TDM_TLS_NAME_NOT_TLS:
		return "not a TLS-enabled connection";
	case TDM_TLS_NAME_NO_CERT:
		return "connection peer presented no TLS (x.509) certificate";
	case TDM_TLS_NAME_UNSAFE:
		return "TLS configuration is unsafe";
	case TDM_TLS_NAME_NOT_FOUND:
		return "no name found";
	default:
		return "ok";
	}
}
