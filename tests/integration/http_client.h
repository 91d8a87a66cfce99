/*
 * A minimal HTTP/1.1 client for the management-API tests: one request per
 * connection (Connection: close), basic authentication, bounded waits.
 * Failures of the transport fail the calling Check test.
 *
 * Depends on: Check, POSIX sockets, the harness (clock).
 */
#ifndef TANDEM_TESTS_HTTP_CLIENT_H
#define TANDEM_TESTS_HTTP_CLIENT_H

#include <stddef.h>

struct th_http_resp {
	int status;
	char head[8192];  /* status line and headers */
	char *body;       /* NUL-terminated, malloc'd: th_http_free */
	size_t len;
};

/* The port requests go to (127.0.0.1). */
void th_http_port(int port);
/* One request; creds "user:password" or NULL.  A refused connect is
 * retried for up to 20 s (the HTTP listener opens after the AMQP one the
 * harness waits for; much later under valgrind); replies are awaited up to
 * 30 s.  Returns the status; r holds the reply. */
int th_http(const char *method, const char *path, const char *creds, const char *body,
	    struct th_http_resp *r);
/* th_http with the Host and Content-Type lines given by the caller:
 * headers holds whole lines, each ending in \r\n ("" sends neither). */
int th_http_with(const char *method, const char *path, const char *creds, const char *headers,
		 const char *body, struct th_http_resp *r);
void th_http_free(struct th_http_resp *r);
/* A free loopback TCP port, or -1. */
int th_free_port(void);
/* Percent-encodes s into out (cap bytes) for one URL path segment. */
void th_urlseg(char *out, size_t cap, const char *s);
/* The integer after the first "key": in s, searched from the first `from`
 * when given; `missing` when there is none. */
long long th_json_int(const char *s, const char *from, const char *key, long long missing);

/* Runs `tandemctl --port <the port> <args>` (bounded: 30 s); returns its
 * exit status (-1 when it did not exit), its stdout in out (cap bytes). */
int th_ctl(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
