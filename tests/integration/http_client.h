/*
 * The management-API tests' HTTP client, on libevent's evhttp client (one
 * request per connection and per event_base, Connection: close; chunked
 * replies de-chunked by evhttp), basic authentication, bounded waits; and
 * readers of JSON replies on src/http's JSON reader, so tests assert on
 * parsed values rather than on substrings.  Failures of the transport
 * fail the calling Check test.
 *
 * Depends on: Check, libevent, src/util/json.c, POSIX sockets, the harness
 * (clock).
 */
#ifndef TANDEM_TESTS_HTTP_CLIENT_H
#define TANDEM_TESTS_HTTP_CLIENT_H

#include <stddef.h>

#include "util/json.h"
#include "sockutil.h"

struct th_http_resp {
	int status;
	char head[8192];  /* status line and headers, lines joined by \r\n */
	char *body;       /* NUL-terminated, malloc'd: th_http_free */
	size_t len;
	struct js_doc doc;  /* th_json's parse of body, once asked for */
	int parsed;
	char **kept;        /* strings th_jstr handed out, freed with the reply */
	size_t nkept;
};

/* The port requests go to (127.0.0.1). */
void th_http_port(int port);
/* One request; creds "user:password" or NULL.  A refused connect is
 * retried for up to 20 s (the HTTP listener opens after the AMQP one the
 * harness waits for; much later under valgrind); replies are awaited up to
 * 30 s.  Returns the status; r holds the reply.
 * Against an external RabbitMQ 3.10 a GET answered 500 is asked again (up
 * to 5 times): its listings (/api/queues, /api/definitions) read each
 * queue, vhost and user they found, and the other test programs, run at
 * once against the same node, delete theirs meanwhile (CI saw such 500s
 * on both).  tandemd is never asked twice. */
int th_http(const char *method, const char *path, const char *creds, const char *body,
	    struct th_http_resp *r);
/* th_http with the Host and Content-Type lines given by the caller:
 * headers holds whole lines, each ending in \r\n ("" sends neither). */
int th_http_with(const char *method, const char *path, const char *creds, const char *headers,
		 const char *body, struct th_http_resp *r);
/* GET /api/definitions. */
int th_http_definitions(const char *creds, struct th_http_resp *r);
/* Frees the body, the parsed document and th_jstr's strings. */
void th_http_free(struct th_http_resp *r);

/*
 * JSON replies.  A path names a node from the root: segments split by '/',
 * each an object key, an array index ("0") or "[key=value]", the first
 * element of an array whose member key is the string (or number) value
 * ("[name=q1]/messages").  "" is the root.  The body is parsed on first
 * use; a body that is not JSON fails the test.
 */
/* The node at path, or -1. */
int th_jnode(struct th_http_resp *r, const char *path);
/* The string at path (valid until th_http_free), or NULL when absent or
 * not a string. */
const char *th_jstr(struct th_http_resp *r, const char *path);
/* The integer at path, or missing. */
long long th_jint(struct th_http_resp *r, const char *path, long long missing);
/* The number at path, or missing. */
double th_jnum(struct th_http_resp *r, const char *path, double missing);
/* 1 / 0 for true / false at path, -1 otherwise. */
int th_jbool(struct th_http_resp *r, const char *path);
/* Elements of the array (members of the object) at path, or -1. */
long th_jcount(struct th_http_resp *r, const char *path);
/* 1 when the node at path matches json: objects by the members json
 * names (others may be there too), arrays element by element, scalars by
 * value. */
int th_jmatch(struct th_http_resp *r, const char *path, const char *json);
/* How many elements of the array at path match json (th_jmatch): 0 when
 * none does (or there is no array). */
int th_jcontains(struct th_http_resp *r, const char *path, const char *json);
/* 1 when the node at path equals json exactly (no member more or less). */
int th_jeq(struct th_http_resp *r, const char *path, const char *json);
/* 1 when the body is tandem's (RabbitMQ's) error object {"error": error,
 * "reason": a string starting with reason_prefix ("" for any)}. */
int th_jerror(struct th_http_resp *r, const char *error, const char *reason_prefix);
/* Percent-encodes s into out (cap bytes) for one URL path segment. */
void th_urlseg(char *out, size_t cap, const char *s);

/* Runs `tandemctl --port <the port> <args>` (bounded: 30 s); returns its
 * exit status (-1 when it did not exit), its stdout in out (cap bytes). */
int th_ctl(char *out, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif
