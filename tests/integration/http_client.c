/* See http_client.h. */
#include "http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "harness.h"
#include "util/b64.h"

static int http_port;

void th_http_port(int port)
{
	http_port = port;
}

/* 1 when nothing listens on the port yet (a connect is refused). */
static int refused(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)http_port) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_ge(fd, 0);
	int rc = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno == ECONNREFUSED;
	close(fd);
	return rc;
}

static enum evhttp_cmd_type method_of(const char *m)
{
	static const struct {
		const char *name;
		enum evhttp_cmd_type type;
	} methods[] = { { "GET", EVHTTP_REQ_GET },	   { "PUT", EVHTTP_REQ_PUT },
			{ "POST", EVHTTP_REQ_POST },	   { "DELETE", EVHTTP_REQ_DELETE },
			{ "HEAD", EVHTTP_REQ_HEAD },	   { "OPTIONS", EVHTTP_REQ_OPTIONS },
			{ "PATCH", EVHTTP_REQ_PATCH } };
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(m, methods[i].name) == 0)
			return methods[i].type;
	ck_abort_msg("th_http: method %s unknown to evhttp", m);
	return EVHTTP_REQ_GET;
}

struct call {
	struct th_http_resp *r;
	struct event_base *base;
	int answered;
};

/* evhttp's completion: the status, headers and (de-chunked) body. */
static void done_cb(struct evhttp_request *req, void *arg)
{
	struct call *c = arg;
	struct th_http_resp *r = c->r;
	event_base_loopbreak(c->base);
	if (!req || evhttp_request_get_response_code(req) == 0)
		return;
	c->answered = 1;
	r->status = evhttp_request_get_response_code(req);
	const char *line = evhttp_request_get_response_code_line(req);
	size_t o = (size_t)snprintf(r->head, sizeof(r->head), "HTTP/1.1 %d %s", r->status, line ? line : "");
	struct evkeyval *h;
	for (h = evhttp_request_get_input_headers(req)->tqh_first; h; h = h->next.tqe_next)
		if (o < sizeof(r->head))
			o += (size_t)snprintf(r->head + o, sizeof(r->head) - o, "\r\n%s: %s", h->key, h->value);
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	r->len = evbuffer_get_length(in);
	r->body = malloc(r->len + 1);
	ck_assert_ptr_nonnull(r->body);
	evbuffer_remove(in, r->body, r->len);
	r->body[r->len] = '\0';
}

/* One request on a connection of its own, on an event_base of its own:
 * 1 when answered, 0 when no answer came (connection refused or closed). */
static int attempt(enum evhttp_cmd_type type, const char *path, const char *creds,
		   const char *headers, const char *body, struct th_http_resp *r)
{
	struct call c = { r, event_base_new(), 0 };
	ck_assert_ptr_nonnull(c.base);
	struct evhttp_connection *ec = evhttp_connection_base_new(c.base, NULL, "127.0.0.1",
								  (ev_uint16_t)http_port);
	ck_assert_ptr_nonnull(ec);
	evhttp_connection_set_timeout(ec, 30);
	struct evhttp_request *req = evhttp_request_new(done_cb, &c);
	ck_assert_ptr_nonnull(req);
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	/* the caller's lines, "Name: value\r\n" each */
	for (const char *p = headers; *p;) {
		const char *eol = strstr(p, "\r\n"), *colon = strchr(p, ':');
		ck_assert_msg(eol && colon && colon < eol, "th_http: bad header lines %s", headers);
		char name[256], value[1024];
		snprintf(name, sizeof(name), "%.*s", (int)(colon - p), p);
		colon++;
		while (*colon == ' ')
			colon++;
		snprintf(value, sizeof(value), "%.*s", (int)(eol - colon), colon);
		evhttp_add_header(oh, name, value);
		p = eol + 2;
	}
	evhttp_add_header(oh, "Connection", "close");
	if (creds) {
		char auth[512], enc[400];
		tu_b64_encode(creds, strlen(creds), enc);
		snprintf(auth, sizeof(auth), "Basic %s", enc);
		evhttp_add_header(oh, "Authorization", auth);
	}
	size_t blen = body ? strlen(body) : 0;
	char cl[32];
	snprintf(cl, sizeof(cl), "%zu", blen);
	evhttp_add_header(oh, "Content-Length", cl);
	evbuffer_add(evhttp_request_get_output_buffer(req), body ? body : "", blen);
	ck_assert_int_eq(evhttp_make_request(ec, req, type, path), 0);
	event_base_dispatch(c.base);
	evhttp_connection_free(ec);
	event_base_free(c.base);
	return c.answered;
}

int th_http(const char *method, const char *path, const char *creds, const char *body,
	    struct th_http_resp *r)
{
	return th_http_with(method, path, creds, "Host: localhost\r\nContent-Type: application/json\r\n",
			    body, r);
}

static int ask(enum evhttp_cmd_type type, const char *method, const char *path, const char *creds,
	       const char *headers, const char *body, struct th_http_resp *r)
{
	uint64_t deadline = th_now_ms() + 20000;
	memset(r, 0, sizeof(*r));
	/* Not listening yet (or again, after a restart): wait for it. The
	 * listener may come up between a refused attempt and the probe, so a
	 * port that accepts gets one more attempt before it counts as silent. */
	int silent = 0;
	while (!attempt(type, path, creds, headers, body, r)) {
		silent = refused() ? 0 : silent + 1;
		ck_assert_msg(silent < 2 && th_now_ms() < deadline, "%s %s: no HTTP answer%s", method, path,
			      silent ? " (the port accepts connections)" : "");
		th_sleep_ms(50);
	}
	return r->status;
}

int th_http_with(const char *method, const char *path, const char *creds, const char *headers,
		 const char *body, struct th_http_resp *r)
{
	enum evhttp_cmd_type type = method_of(method);
	int status = ask(type, method, path, creds, headers, body, r);
	for (int again = 0; status == 500 && type == EVHTTP_REQ_GET && th_external() && again < 5; again++) {
		fprintf(stderr, "http: RabbitMQ answered GET %s with 500, asking again\n", path);
		th_http_free(r);
		th_sleep_ms(200);
		status = ask(type, method, path, creds, headers, body, r);
	}
	return status;
}

int th_http_definitions(const char *creds, struct th_http_resp *r)
{
	return th_http("GET", "/api/definitions", creds, NULL, r);
}

void th_http_free(struct th_http_resp *r)
{
	free(r->body);
	r->body = NULL;
	if (r->parsed)
		js_doc_free(&r->doc);
	r->parsed = 0;
	for (size_t i = 0; i < r->nkept; i++)
		free(r->kept[i]);
	free(r->kept);
	r->kept = NULL;
	r->nkept = 0;
}

#ifdef TANDEMCTL_PATH
int th_ctl(char *out, size_t cap, const char *fmt, ...)
{
	char args[1024], cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "timeout 30 %s --port %d %s 2>/dev/null", TANDEMCTL_PATH, http_port,
		 args);
	FILE *p = popen(cmd, "r");
	ck_assert_msg(p != NULL, "popen %s", cmd);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
#endif

void th_urlseg(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	for (; *s && o + 4 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, cap - o, "%%%02X", ch);
	}
	out[o] = '\0';
}

/* ---- JSON replies ------------------------------------------------------------ */

static const struct js_doc *doc_of(struct th_http_resp *r)
{
	char err[120];
	if (!r->parsed) {
		ck_assert_msg(js_parse(&r->doc, r->body ? r->body : "", r->len, err, sizeof(err)) == 0,
			      "reply is not JSON (%s): %s", err, r->body ? r->body : "");
		r->parsed = 1;
	}
	return &r->doc;
}

/* Node `path` from node `at` of d, or -1. */
static int node_at(const struct js_doc *d, int at, const char *path)
{
	const char *p = path;
	while (*p && at >= 0) {
		size_t l = strcspn(p, "/");
		char seg[256];
		snprintf(seg, sizeof(seg), "%.*s", (int)l, p);
		p += l;
		if (*p == '/')
			p++;
		int type = js_type_of(d, at);
		if (seg[0] == '[' && l > 2 && seg[l - 1] == ']' && strchr(seg, '=') && type == JS_ARR) {
			char *eq = strchr(seg, '=');
			seg[l - 1] = '\0';
			*eq = '\0';
			int found = -1;
			for (int e = js_child(d, at); e >= 0 && found < 0; e = js_next(d, at, e)) {
				int v = js_get(d, e, seg + 1);
				if (js_streq(d, v, eq + 1) ||
				    (js_type_of(d, v) == JS_NUM && d->n[v].len == strlen(eq + 1) &&
				     memcmp(d->src + d->n[v].off, eq + 1, d->n[v].len) == 0))
					found = e;
			}
			at = found;
		} else if (type == JS_ARR && l && strspn(seg, "0123456789") == l) {
			long i = atol(seg);
			int e = js_child(d, at);
			while (e >= 0 && i-- > 0)
				e = js_next(d, at, e);
			at = e;
		} else if (type == JS_OBJ) {
			at = js_get(d, at, seg);
		} else {
			at = -1;
		}
	}
	return at;
}

int th_jnode(struct th_http_resp *r, const char *path)
{
	return node_at(doc_of(r), 0, path);
}

const char *th_jstr(struct th_http_resp *r, const char *path)
{
	const struct js_doc *d = doc_of(r);
	int i = node_at(d, 0, path);
	if (js_type_of(d, i) != JS_STR)
		return NULL;
	char *s = js_strdup(d, i, NULL), **k = realloc(r->kept, (r->nkept + 1) * sizeof(*k));
	ck_assert(s && k);
	r->kept = k;
	r->kept[r->nkept++] = s;
	return s;
}

long long th_jint(struct th_http_resp *r, const char *path, long long missing)
{
	const struct js_doc *d = doc_of(r);
	int64_t v;
	return js_int64(d, node_at(d, 0, path), &v) == 0 ? (long long)v : missing;
}

double th_jnum(struct th_http_resp *r, const char *path, double missing)
{
	const struct js_doc *d = doc_of(r);
	double v;
	return js_num(d, node_at(d, 0, path), &v) == 0 ? v : missing;
}

int th_jbool(struct th_http_resp *r, const char *path)
{
	const struct js_doc *d = doc_of(r);
	return js_truth(d, node_at(d, 0, path));
}

long th_jcount(struct th_http_resp *r, const char *path)
{
	const struct js_doc *d = doc_of(r);
	int i = node_at(d, 0, path), t = js_type_of(d, i);
	return t == JS_ARR || t == JS_OBJ ? (long)d->n[i].count : -1;
}

/* Node a of da against node e of de: exact (every member) or, with
 * subset, only the members e names. */
static int nodes_match(const struct js_doc *da, int a, const struct js_doc *de, int e, int subset)
{
	int t = js_type_of(de, e);
	if (a < 0 || js_type_of(da, a) != t)
		return 0;
	switch (t) {
	case JS_STR: {
		char *s = js_strdup(de, e, NULL);
		int eq = s && js_streq(da, a, s);
		free(s);
		return eq;
	}
	case JS_NUM: {
		double x, y;
		return js_num(da, a, &x) == 0 && js_num(de, e, &y) == 0 && x == y;
	}
	case JS_ARR: {
		if (da->n[a].count != de->n[e].count)
			return 0;
		for (int i = js_child(da, a), j = js_child(de, e); j >= 0;
		     i = js_next(da, a, i), j = js_next(de, e, j))
			if (!nodes_match(da, i, de, j, subset))
				return 0;
		return 1;
	}
	case JS_OBJ: {
		if (!subset && da->n[a].count != de->n[e].count)
			return 0;
		for (int k = js_child(de, e); k >= 0; k = js_next(de, e, k)) {
			char *key = js_strdup(de, k, NULL);
			int v = js_next(de, e, k), ok = key && nodes_match(da, js_get(da, a, key), de, v, subset);
			free(key);
			if (!ok)
				return 0;
			k = v;
		}
		return 1;
	}
	default:
		return 1;
	}
}

/* Parses the expected text (a bug in the test when it is not JSON). */
static void parse_expected(struct js_doc *d, const char *json)
{
	char err[120];
	ck_assert_msg(js_parse(d, json, strlen(json), err, sizeof(err)) == 0, "expected JSON %s: %s", json,
		      err);
}

static int compare(struct th_http_resp *r, const char *path, const char *json, int subset)
{
	const struct js_doc *d = doc_of(r);
	struct js_doc e;
	parse_expected(&e, json);
	int ok = nodes_match(d, node_at(d, 0, path), &e, 0, subset);
	js_doc_free(&e);
	return ok;
}

int th_jmatch(struct th_http_resp *r, const char *path, const char *json)
{
	return compare(r, path, json, 1);
}

int th_jeq(struct th_http_resp *r, const char *path, const char *json)
{
	return compare(r, path, json, 0);
}

int th_jcontains(struct th_http_resp *r, const char *path, const char *json)
{
	const struct js_doc *d = doc_of(r);
	int arr = node_at(d, 0, path), found = 0;
	struct js_doc e;
	if (js_type_of(d, arr) != JS_ARR)
		return 0;
	parse_expected(&e, json);
	for (int i = js_child(d, arr); i >= 0; i = js_next(d, arr, i))
		found += nodes_match(d, i, &e, 0, 1);
	js_doc_free(&e);
	return found;
}

int th_jerror(struct th_http_resp *r, const char *error, const char *reason_prefix)
{
	const char *e = th_jstr(r, "error"), *why = th_jstr(r, "reason");
	return th_jcount(r, "") == 2 && e && why && strcmp(e, error) == 0 &&
	       strncmp(why, reason_prefix, strlen(reason_prefix)) == 0;
}
