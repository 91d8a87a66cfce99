/*
 * libFuzzer target for the TLS-wrapped accept path (src/net/tls.c): what
 * the AMQPS, Kafka SSL/SASL_SSL and HTTPS listeners do with a new
 * connection.  The input is the client's first flight (a ClientHello, or
 * anything else a stranger sends), written to one end of a socketpair whose
 * other end tdm_tls_wrap turned into a server bufferevent with a context
 * from tdm_tls_new (verify_peer, so the certificate-request paths run);
 * then EOF, and the event loop runs until nothing moves (bounded), reading
 * and dropping what the server answers.  A failure's reasons are drained
 * with tdm_tls_error as the listeners do.
 *
 * The certificate and key are made at the first call with libcrypto and
 * written to a temp dir (tdm_tls_new reads files).  Invariants: no crash or
 * sanitizer report; no plaintext ever reaches the protocol (the input
 * cannot finish a handshake); tdm_tls_error's text is NUL-terminated.
 * tests/fuzz/replay.c runs it over the committed corpus in `make check`.
 *
 * Depends on: src/net/tls.c, libevent (with libevent_openssl), OpenSSL.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fuzz.h"
#include "net/tls.h"



static char dir[64] = "/tmp/tandem-fuzz-tls.XXXXXX";
static char certfile[128], keyfile[128];

static void cleanup(void)
{
	unlink(certfile);
	unlink(keyfile);
	rmdir(dir);
}

/* A self-signed P-256 certificate for 127.0.0.1 into certfile/keyfile. */
static void make_cert(void)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	FILE *f;

	CHECK(key && x && mkdtemp(dir));
	snprintf(certfile, sizeof(certfile), "%s/cert.pem", dir);
	snprintf(keyfile, sizeof(keyfile), "%s/key.pem", dir);
	atexit(cleanup);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 86400);
	X509_set_pubkey(x, key);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
				   (const unsigned char *)"127.0.0.1", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	CHECK(X509_sign(x, key, EVP_sha256()) > 0);
	CHECK((f = fopen(certfile, "w")) && PEM_write_X509(f, x) == 1 && fclose(f) == 0);
	CHECK((f = fopen(keyfile, "w")) &&
	      PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL) == 1 && fclose(f) == 0);
	X509_free(x);
	EVP_PKEY_free(key);
}

struct state {
	int events;    /* BEV_EVENT_* seen */
	size_t plain;  /* plaintext bytes that reached the protocol */
	char why[256]; /* tdm_tls_error's text */
};

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct state *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	s->plain += evbuffer_get_length(in);
	evbuffer_drain(in, evbuffer_get_length(in));
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct state *s = arg;

	s->events |= what;
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)) {
		memset(s->why, 'x', sizeof(s->why));
		if (tdm_tls_error(bev, s->why, sizeof(s->why)))
			CHECK(memchr(s->why, '\0', sizeof(s->why)) != NULL);
		bufferevent_disable(bev, EV_READ | EV_WRITE);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct event_base *base;
	static struct tdm_tls *tls;
	struct state s = { 0 };
	struct bufferevent *bev;
	char sink[16384];
	int sv[2];

	if (!tls) {
		char err[512];
		struct tdm_tls_conf tc = { .name = "fuzz",
					   .certfile = certfile,
					   .keyfile = keyfile,
					   .cacertfile = certfile,
					   .verify = "verify_peer",
					   .depth = 10 };

		make_cert();
		base = event_base_new();
		tls = tdm_tls_new(&tc, err, sizeof(err));
		if (!tls)
			fprintf(stderr, "fuzz_tls: %s\n", err);
		CHECK(base && tls);
	}
	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	fcntl(sv[0], F_SETFL, O_NONBLOCK);
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	bev = tdm_tls_wrap(tls, base, sv[0]);
	CHECK(bev);
	bufferevent_setcb(bev, read_cb, NULL, event_cb, &s);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	/* the first flight, then the client is done */
	for (size_t off = 0; off < size;) {
		ssize_t n = write(sv[1], data + off, size - off);

		if (n <= 0)
			break; /* more than the socket buffer holds: the rest is dropped */
		off += (size_t)n;
	}
	shutdown(sv[1], SHUT_WR);
	for (int i = 0; i < 64 && !(s.events & (BEV_EVENT_ERROR | BEV_EVENT_EOF)); i++) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		while (read(sv[1], sink, sizeof(sink)) > 0)
			; /* ServerHello, alerts */
	}
	CHECK(s.plain == 0);
	bufferevent_free(bev); /* closes sv[0] */
	close(sv[1]);
	event_base_loop(base, EVLOOP_NONBLOCK); /* libevent's deferred frees */
	return 0;
}
