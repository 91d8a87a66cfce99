/*
 * tandemctl: command-line administration of a running tandemd over its
 * HTTP management API (which is RabbitMQ's, so it also talks to a RabbitMQ
 * node with the management plugin for the AMQP side).  libevent's HTTP
 * client (evhttp), one request per connection; the JSON reader of src/http.
 *
 *   tandemctl [options] list queues|exchanges|bindings|connections|channels|vhosts|topics|groups|users|permissions
 *   tandemctl [options] overview
 *   tandemctl [options] declare queue name=NAME [durable=true|false] [auto_delete=...] [arguments=JSON]
 *   tandemctl [options] declare exchange name=NAME type=TYPE [durable=...] [auto_delete=...] [internal=...]
 *   tandemctl [options] delete queue|exchange name=NAME
 *   tandemctl [options] purge queue name=NAME
 *   tandemctl [options] publish [exchange=NAME] routing_key=KEY payload=TEXT [properties=JSON]
 *   tandemctl [options] get queue=NAME [count=N] [ackmode=MODE]
 *   tandemctl [options] describe topic|group NAME
 *   tandemctl [options] topic create NAME [--partitions N] [--replication-factor R] [--config K=V ...]
 *   tandemctl [options] topic delete|describe NAME
 *   tandemctl [options] group describe NAME
 *   tandemctl [options] cluster status         (nodes, controller, under-replicated partitions)
 *   tandemctl [options] export [FILE]          (definitions; stdout without FILE)
 *   tandemctl [options] import FILE            (definitions; - = stdin)
 * Options: --host H (127.0.0.1), --port P (15672; 15671 with --https),
 * --user U / --password P (guest/guest, or TANDEM_USER / TANDEM_PASSWORD),
 * --vhost V (/), --json, --https (TLS; the server's certificate must verify
 * against the system's CAs and name --host), --cacert FILE (verify against
 * the CAs of this PEM file instead; implies --https).
 * An HTTPS server whose certificate does not verify is refused.
 * Exit status: 0 ok, 1 the API refused (its reason on stderr), 2 usage,
 * 3 cannot reach the API.
 *
 * Depends on: libc, libevent (evhttp's client, bufferevent_openssl),
 * OpenSSL, src/util/json.c.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "util/json.h"
#include "tools/ctl.h"
#include "util/b64.h"

static const char *host = "127.0.0.1", *port = NULL, *user = "guest", *password = "guest",
		  *vhost = "/", *cacert = NULL;
static int use_tls;
int ctl_as_json;

void ctl_usage(void)
{
	fprintf(stderr,
		"usage: tandemctl [--host H] [--port P] [--user U] [--password P] [--vhost V] [--json]\n"
		"                 [--https] [--cacert FILE] COMMAND\n"
		"  list queues|exchanges|bindings|connections|channels|vhosts|topics|groups|users|permissions\n"
		"  overview\n"
		"  declare queue name=NAME [durable=true] [auto_delete=false] [arguments='{...}']\n"
		"  declare exchange name=NAME type=direct|fanout|topic|headers [durable=true] [auto_delete=false]\n"
		"  delete queue|exchange name=NAME\n"
		"  purge queue name=NAME\n"
		"  publish [exchange=NAME] routing_key=KEY payload=TEXT [properties='{...}']\n"
		"  get queue=NAME [count=1] [ackmode=ack_requeue_true]\n"
		"  describe topic|group NAME\n"
		"  topic create NAME [--partitions N] [--replication-factor R] [--config KEY=VALUE ...]\n"
		"  topic delete NAME   topic describe NAME\n"
		"  group describe NAME\n"
		"  cluster status   (nodes, controller, under-replicated and offline partitions)\n"
		"  export [FILE]   import FILE|-   (definitions: exchanges, queues, bindings)\n");
	exit(2);
}

/* ---- HTTP ------------------------------------------------------------- */

struct call {
	struct reply *r;
	struct event_base *base;
	int answered;
};

/* evhttp's completion: the status and the (de-chunked) body. */
static void done_cb(struct evhttp_request *req, void *arg)
{
	struct call *c = arg;
	event_base_loopbreak(c->base);
	if (!req || evhttp_request_get_response_code(req) == 0)
		return;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	c->r->status = evhttp_request_get_response_code(req);
	c->r->len = evbuffer_get_length(in);
	c->r->body = malloc(c->r->len + 1);
	if (!c->r->body) {
		fprintf(stderr, "tandemctl: out of memory\n");
		exit(3);
	}
	evbuffer_remove(in, c->r->body, c->r->len);
	c->r->body[c->r->len] = '\0';
	c->answered = 1;
}

static void add_header(struct evkeyvalq *h, const char *name, const char *value)
{
	if (evhttp_add_header(h, name, value) < 0) {
		fprintf(stderr, "tandemctl: bad %s header\n", name);
		exit(2);
	}
}

/* A TLS client for host: the server's certificate must verify against
 * cacert (or the system's CAs) and name host (an IP address or a DNS
 * name).  Exits on failure. */
static SSL *tls_client(void)
{
	static SSL_CTX *ctx;
	unsigned char ip[16];
	SSL *ssl;

	if (!ctx) {
		ctx = SSL_CTX_new(TLS_client_method());
		if (!ctx) {
			fprintf(stderr, "tandemctl: cannot create a TLS context\n");
			exit(3);
		}
		SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
		SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
		if (cacert ? SSL_CTX_load_verify_locations(ctx, cacert, NULL) != 1
			   : SSL_CTX_set_default_verify_paths(ctx) != 1) {
			fprintf(stderr, "tandemctl: --cacert %s: %s\n",
				cacert ? cacert : "(system)",
				ERR_reason_error_string(ERR_get_error()));
			exit(2);
		}
	}
	ssl = SSL_new(ctx);
	if (!ssl) {
		fprintf(stderr, "tandemctl: out of memory\n");
		exit(3);
	}
	if (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host);
	} else {
		SSL_set_tlsext_host_name(ssl, host);
		SSL_set1_host(ssl, host);
	}
	return ssl;
}

/* Why the TLS connection failed, when it did: on stderr; 1 when told. */
static int tls_failure(struct bufferevent *bev, SSL *ssl)
{
	long v = SSL_get_verify_result(ssl);
	unsigned long e, last = 0;

	while ((e = bufferevent_get_openssl_error(bev)) != 0)
		if (ERR_GET_LIB(e) != 0)
			last = e;
	if (v != X509_V_OK) {
		fprintf(stderr,
			"tandemctl: %s:%s: the server's certificate does not verify: %s%s\n", host,
			port, X509_verify_cert_error_string(v),
			cacert ? "" : " (--cacert FILE names the CA)");
		return 1;
	}
	if (last) {
		char buf[256];

		ERR_error_string_n(last, buf, sizeof(buf));
		fprintf(stderr, "tandemctl: %s:%s: TLS: %s\n", host, port, buf);
		return 1;
	}
	return 0;
}

/* One request on libevent's HTTP client: a connection and an event_base
 * of its own, Connection: close, answers awaited up to 30 s. */
void ctl_request(const char *method, const char *path, const char *body, struct reply *r)
{
	static const struct {
		const char *name;
		enum evhttp_cmd_type type;
	} methods[] = { { "GET", EVHTTP_REQ_GET },
			{ "PUT", EVHTTP_REQ_PUT },
			{ "POST", EVHTTP_REQ_POST },
			{ "DELETE", EVHTTP_REQ_DELETE } };
	enum evhttp_cmd_type type = EVHTTP_REQ_GET;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (strcmp(method, methods[i].name) == 0)
			type = methods[i].type;
	char *end;
	unsigned long pn = strtoul(port, &end, 10);
	if (!*port || *end || pn == 0 || pn > 65535) {
		fprintf(stderr, "tandemctl: bad port %s\n", port);
		exit(2);
	}
	struct call c = { r, event_base_new(), 0 };
	struct evhttp_connection *ec = NULL;
	struct bufferevent *bev = NULL;
	SSL *ssl = NULL;
	if (c.base && use_tls) {
		ssl = tls_client();
		bev = bufferevent_openssl_socket_new(c.base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
						     BEV_OPT_CLOSE_ON_FREE |
							     BEV_OPT_DEFER_CALLBACKS);
		if (bev) {
			bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
			ec = evhttp_connection_base_bufferevent_new(c.base, NULL, bev, host,
								    (ev_uint16_t)pn);
		}
	} else if (c.base) {
		ec = evhttp_connection_base_new(c.base, NULL, host, (ev_uint16_t)pn);
	}
	struct evhttp_request *req = ec ? evhttp_request_new(done_cb, &c) : NULL;
	if (!req) {
		fprintf(stderr, "tandemctl: out of memory\n");
		exit(3);
	}
	memset(r, 0, sizeof(*r));
	evhttp_connection_set_timeout(ec, 30);
	char creds[600], enc[820], auth[840], cl[32];
	snprintf(creds, sizeof(creds), "%s:%s", user, password);
	tu_b64_encode(creds, strlen(creds), enc);
	snprintf(auth, sizeof(auth), "Basic %s", enc);
	size_t blen = body ? strlen(body) : 0;
	snprintf(cl, sizeof(cl), "%zu", blen);
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	add_header(oh, "Host", host);
	add_header(oh, "Connection", "close");
	add_header(oh, "Authorization", auth);
	add_header(oh, "Content-Type", "application/json");
	add_header(oh, "Content-Length", cl);
	evbuffer_add(evhttp_request_get_output_buffer(req), body ? body : "", blen);
	if (evhttp_make_request(ec, req, type, path) < 0) {
		fprintf(stderr, "tandemctl: cannot connect to %s:%s\n", host, port);
		exit(3);
	}
	event_base_dispatch(c.base);
	int told = !c.answered && ssl && tls_failure(bev, ssl);
	evhttp_connection_free(ec);
	event_base_free(c.base);
	if (told)
		exit(3);
	if (!c.answered) {
		fprintf(stderr, "tandemctl: no HTTP answer from %s:%s (refused, closed or timed out)\n",
			host, port);
		exit(3);
	}
}

/* Percent-encodes s for one path segment. */
void ctl_seg(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	for (; *s && o + 4 < cap; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    strchr("-._~", c))
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, cap - o, "%%%02X", c);
	}
	out[o] = '\0';
}

/* Fails with the API's reason unless the status is 2xx. */
void ctl_check(const struct reply *r)
{
	if (r->status >= 200 && r->status < 300)
		return;
	struct js_doc d;
	char err[100];
	const char *reason = NULL;
	char *owned = NULL;
	if (js_parse(&d, r->body, r->len, err, sizeof(err)) == 0) {
		owned = js_strdup(&d, js_get(&d, 0, "reason"), NULL);
		reason = owned;
		js_doc_free(&d);
	}
	fprintf(stderr, "tandemctl: HTTP %d: %s\n", r->status, reason ? reason : r->body);
	free(owned);
	exit(1);
}

/* ---- output ------------------------------------------------------------- */

/* The text of a scalar node (strings decoded, others as written). */
char *ctl_scalar(const struct js_doc *d, int i)
{
	if (i < 0)
		return strdup("");
	if (js_type_of(d, i) == JS_STR)
		return js_strdup(d, i, NULL);
	if (js_type_of(d, i) == JS_OBJ || js_type_of(d, i) == JS_ARR)
		return strndup(d->src + d->n[i].off, d->n[i].len);
	return strndup(d->src + d->n[i].off, d->n[i].len);
}


/* The elements of array node i as text joined with commas (malloc'd);
 * anything else as ctl_scalar. */
static char *joined(const struct js_doc *d, int i)
{
	if (i < 0 || js_type_of(d, i) != JS_ARR)
		return ctl_scalar(d, i);
	size_t len = 0, cap = 64;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	s[0] = '\0';
	for (int e = js_child(d, i); e >= 0; e = js_next(d, i, e)) {
		char *v = ctl_scalar(d, e);
		size_t n = v ? strlen(v) : 0;
		if (len + n + 2 > cap) {
			cap = (len + n + 2) * 2;
			char *t = realloc(s, cap);
			if (!t) {
				free(v);
				break;
			}
			s = t;
		}
		if (len)
			s[len++] = ',';
		memcpy(s + len, v ? v : "", n);
		len += n;
		s[len] = '\0';
		free(v);
	}
	return s;
}

/* Prints the array of objects in body as a table of the given fields
 * ("a/b" looks into a nested object, "a[]" joins array a's elements). */
void ctl_table(const char *body, size_t len, const char *const *cols, int ncols)
{
	struct js_doc d;
	char err[100];
	if (js_parse(&d, body, len, err, sizeof(err)) < 0 || js_type_of(&d, 0) != JS_ARR) {
		fprintf(stderr, "tandemctl: unexpected answer: %s\n", err);
		exit(1);
	}
	size_t rows = d.n[0].count, w[MAXCOLS];
	char **cell = calloc((rows + 1) * (size_t)ncols, sizeof(*cell));
	for (int c = 0; c < ncols; c++) {
		size_t n = strlen(cols[c]);
		if (n > 2 && strcmp(cols[c] + n - 2, "[]") == 0)
			n -= 2;
		cell[c] = strndup(cols[c], n);
		w[c] = n;
	}
	size_t r = 1;
	for (int e = js_child(&d, 0); e >= 0; e = js_next(&d, 0, e), r++)
		for (int c = 0; c < ncols; c++) {
			int v = e;
			char path[64];
			snprintf(path, sizeof(path), "%s", cols[c]);
			size_t pl = strlen(path);
			int join = pl > 2 && strcmp(path + pl - 2, "[]") == 0;
			if (join)
				path[pl - 2] = '\0';
			for (char *p = strtok(path, "/"); p && v >= 0; p = strtok(NULL, "/"))
				v = js_get(&d, v, p);
			char *s = join ? joined(&d, v) : ctl_scalar(&d, v);
			cell[r * (size_t)ncols + (size_t)c] = s;
			if (s && strlen(s) > w[c])
				w[c] = strlen(s);
		}
	for (size_t i = 0; i < r; i++) {
		for (int c = 0; c < ncols; c++) {
			const char *s = cell[i * (size_t)ncols + (size_t)c];
			printf("%-*s%s", c + 1 < ncols ? (int)w[c] : 0, s ? s : "", c + 1 < ncols ? "  " : "\n");
		}
	}
	for (size_t i = 0; i < r * (size_t)ncols; i++)
		free(cell[i]);
	free(cell);
	js_doc_free(&d);
}

void ctl_show(const struct reply *r, const char *const *cols, int ncols)
{
	if (ctl_as_json || !cols)
		printf("%s\n", r->body);
	else
		ctl_table(r->body, r->len, cols, ncols);
}

/* ---- commands ------------------------------------------------------------ */

/* Value of "key=" among the command's words, or dflt. */
static const char *kv(int argc, char **argv, const char *key, const char *dflt)
{
	size_t n = strlen(key);
	for (int i = 0; i < argc; i++)
		if (strncmp(argv[i], key, n) == 0 && argv[i][n] == '=')
			return argv[i] + n + 1;
	return dflt;
}

static const char *need(int argc, char **argv, const char *key)
{
	const char *v = kv(argc, argv, key, NULL);
	if (!v) {
		fprintf(stderr, "tandemctl: missing %s=...\n", key);
		exit(2);
	}
	return v;
}

/* JSON string literal of s (malloc'd). */
char *ctl_jstr(const char *s)
{
	struct js_w w;
	js_w_init(&w);
	js_str(&w, s);
	return w.buf ? w.buf : strdup("\"\"");
}

static int truth(const char *v)
{
	return strcmp(v, "true") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "1") == 0;
}

static int cmd_list(const char *what)
{
	static const struct {
		const char *what, *path;
		int by_vhost;
		const char *cols[MAXCOLS];
	} lists[] = {
		{ "queues", "/api/queues", 1,
		  { "name", "type", "messages", "messages_ready", "messages_unacknowledged", "consumers",
		    "durable", "leader", "members[]" } },
		{ "exchanges", "/api/exchanges", 1, { "name", "type", "durable", "auto_delete", "internal" } },
		{ "bindings", "/api/bindings", 1,
		  { "source", "destination", "destination_type", "routing_key", "arguments" } },
		{ "connections", "/api/connections", 0, { "name", "user", "vhost", "protocol", "channels" } },
		{ "channels", "/api/channels", 0,
		  { "name", "consumer_count", "messages_unacknowledged", "prefetch_count", "confirm" } },
		{ "vhosts", "/api/vhosts", 0, { "name", "messages", "messages_ready", "messages_unacknowledged" } },
		{ "topics", "/api/topics", 0, { "name", "partitions", "messages", "bytes", "config/retention.ms" } },
		{ "groups", "/api/groups", 0, { "group", "lag" } },
		{ "users", "/api/users", 0, { "name", "tags" } },
		{ "permissions", "/api/permissions", 0, { "user", "vhost", "configure", "write", "read" } },
	};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		if (strcmp(what, lists[i].what) != 0)
			continue;
		char path[600], v[400];
		ctl_seg(v, sizeof(v), vhost);
		if (lists[i].by_vhost)
			snprintf(path, sizeof(path), "%s/%s", lists[i].path, v);
		else
			snprintf(path, sizeof(path), "%s", lists[i].path);
		struct reply r;
		ctl_request("GET", path, NULL, &r);
		ctl_check(&r);
		int ncols = 0;
		while (ncols < MAXCOLS && lists[i].cols[ncols])
			ncols++;
		ctl_show(&r, lists[i].cols, ncols);
		free(r.body);
		return 0;
	}
	ctl_usage();
	return 2;
}

static int simple(const char *method, const char *path, const char *body, const char *done)
{
	struct reply r;
	ctl_request(method, path, body, &r);
	ctl_check(&r);
	if (ctl_as_json || !done)
		printf("%s\n", r.len ? r.body : "{}");
	else
		printf("%s\n", done);
	free(r.body);
	return 0;
}

int main(int argc, char **argv)
{
	int i = 1;
	if (getenv("TANDEM_USER"))
		user = getenv("TANDEM_USER");
	if (getenv("TANDEM_PASSWORD"))
		password = getenv("TANDEM_PASSWORD");
	for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *o = argv[i];
		if (strcmp(o, "--json") == 0) {
			ctl_as_json = 1;
			continue;
		}
		if (strcmp(o, "--https") == 0) {
			use_tls = 1;
			continue;
		}
		if (strcmp(o, "--help") == 0)
			ctl_usage();
		if (i + 1 >= argc)
			ctl_usage();
		const char *v = argv[++i];
		if (strcmp(o, "--host") == 0)
			host = v;
		else if (strcmp(o, "--port") == 0)
			port = v;
		else if (strcmp(o, "--user") == 0)
			user = v;
		else if (strcmp(o, "--password") == 0)
			password = v;
		else if (strcmp(o, "--vhost") == 0)
			vhost = v;
		else if (strcmp(o, "--cacert") == 0)
			cacert = v, use_tls = 1;
		else
			ctl_usage();
	}
	if (i >= argc)
		ctl_usage();
	if (!port)
		port = use_tls ? "15671" : "15672";
	const char *cmd = argv[i++];
	int nargs = argc - i;
	char **args = argv + i;
	char vh[400], name[800], path[1400];
	ctl_seg(vh, sizeof(vh), vhost);
	if (strcmp(cmd, "list") == 0 && nargs >= 1 && strcmp(args[0], "groups") == 0)
		return ctl_list_groups();
	if (strcmp(cmd, "list") == 0 && nargs >= 1)
		return cmd_list(args[0]);
	if (strcmp(cmd, "topic") == 0)
		return ctl_topic(nargs, args);
	if (strcmp(cmd, "group") == 0)
		return ctl_group(nargs, args);
	if (strcmp(cmd, "cluster") == 0)
		return ctl_cluster(nargs, args);
	if (strcmp(cmd, "overview") == 0)
		return simple("GET", "/api/overview", NULL, NULL);
	if ((strcmp(cmd, "declare") == 0 || strcmp(cmd, "delete") == 0 || strcmp(cmd, "purge") == 0) &&
	    nargs >= 1) {
		const char *kind = args[0];
		int is_q = strcmp(kind, "queue") == 0;
		if (!is_q && strcmp(kind, "exchange") != 0)
			ctl_usage();
		ctl_seg(name, sizeof(name), need(nargs, args, "name"));
		snprintf(path, sizeof(path), "/api/%s/%s/%s%s", is_q ? "queues" : "exchanges", vh, name,
			 strcmp(cmd, "purge") == 0 ? "/contents" : "");
		if (strcmp(cmd, "delete") == 0)
			return simple("DELETE", path, NULL, is_q ? "queue deleted" : "exchange deleted");
		if (strcmp(cmd, "purge") == 0) {
			if (!is_q)
				ctl_usage();
			return simple("DELETE", path, NULL, "queue purged");
		}
		char body[4096];
		const char *a = kv(nargs, args, "arguments", "{}");
		if (is_q) {
			snprintf(body, sizeof(body), "{\"durable\":%s,\"auto_delete\":%s,\"arguments\":%s}",
				 truth(kv(nargs, args, "durable", "true")) ? "true" : "false",
				 truth(kv(nargs, args, "auto_delete", "false")) ? "true" : "false", a);
		} else {
			char *t = ctl_jstr(need(nargs, args, "type"));
			snprintf(body, sizeof(body),
				 "{\"type\":%s,\"durable\":%s,\"auto_delete\":%s,\"internal\":%s,\"arguments\":%s}", t,
				 truth(kv(nargs, args, "durable", "true")) ? "true" : "false",
				 truth(kv(nargs, args, "auto_delete", "false")) ? "true" : "false",
				 truth(kv(nargs, args, "internal", "false")) ? "true" : "false", a);
			free(t);
		}
		return simple("PUT", path, body, is_q ? "queue declared" : "exchange declared");
	}
	if (strcmp(cmd, "publish") == 0) {
		const char *x = kv(nargs, args, "exchange", "amq.default");
		ctl_seg(name, sizeof(name), *x ? x : "amq.default");
		snprintf(path, sizeof(path), "/api/exchanges/%s/%s/publish", vh, name);
		char *rk = ctl_jstr(need(nargs, args, "routing_key")), *pl = ctl_jstr(need(nargs, args, "payload"));
		const char *props = kv(nargs, args, "properties", "{}");
		size_t cap = strlen(rk) + strlen(pl) + strlen(props) + 128;
		char *body = malloc(cap);
		snprintf(body, cap,
			 "{\"properties\":%s,\"routing_key\":%s,\"payload\":%s,\"payload_encoding\":\"string\"}",
			 props, rk, pl);
		struct reply r;
		ctl_request("POST", path, body, &r);
		free(body);
		free(rk);
		free(pl);
		ctl_check(&r);
		int routed = strstr(r.body, "\"routed\":true") != NULL;
		if (ctl_as_json)
			printf("%s\n", r.body);
		else
			printf("%s\n", routed ? "message published" : "message published but NOT routed");
		free(r.body);
		return 0;
	}
	if (strcmp(cmd, "describe") == 0 && nargs == 2 &&
	    (strcmp(args[0], "topic") == 0 || strcmp(args[0], "group") == 0)) {
		char *sub[2] = { "describe", args[1] };
		return strcmp(args[0], "topic") == 0 ? ctl_topic(2, sub) : ctl_group(2, sub);
	}
	if (strcmp(cmd, "export") == 0 && nargs <= 1) {
		struct reply r;
		ctl_request("GET", "/api/definitions", NULL, &r);
		ctl_check(&r);
		FILE *f = nargs ? fopen(args[0], "w") : stdout;
		if (!f || fprintf(f, "%s\n", r.body) < 0 || (nargs && fclose(f) != 0)) {
			fprintf(stderr, "tandemctl: %s: %s\n", nargs ? args[0] : "stdout", strerror(errno));
			return 1;
		}
		if (nargs && !ctl_as_json)
			fprintf(stderr, "definitions exported to %s\n", args[0]);
		free(r.body);
		return 0;
	}
	if (strcmp(cmd, "import") == 0 && nargs == 1) {
		FILE *f = strcmp(args[0], "-") == 0 ? stdin : fopen(args[0], "r");
		if (!f) {
			fprintf(stderr, "tandemctl: %s: %s\n", args[0], strerror(errno));
			return 1;
		}
		size_t cap = 65536, len = 0;
		char *body = malloc(cap);
		size_t n;
		while (body && (n = fread(body + len, 1, cap - len - 1, f)) > 0) {
			len += n;
			if (len + 1 == cap) {
				char *nb = realloc(body, cap *= 2);
				if (!nb)
					free(body);
				body = nb;
			}
		}
		if (f != stdin)
			fclose(f);
		if (!body) {
			fprintf(stderr, "tandemctl: out of memory\n");
			return 1;
		}
		body[len] = '\0';
		int rc = simple("POST", "/api/definitions", body, "definitions imported");
		free(body);
		return rc;
	}
	if (strcmp(cmd, "get") == 0) {
		ctl_seg(name, sizeof(name), need(nargs, args, "queue"));
		snprintf(path, sizeof(path), "/api/queues/%s/%s/get", vh, name);
		char body[512];
		char *am = ctl_jstr(kv(nargs, args, "ackmode", "ack_requeue_true"));
		snprintf(body, sizeof(body), "{\"count\":%d,\"ackmode\":%s,\"encoding\":\"auto\",\"truncate\":50000}",
			 atoi(kv(nargs, args, "count", "1")), am);
		free(am);
		struct reply r;
		ctl_request("POST", path, body, &r);
		ctl_check(&r);
		static const char *const cols[] = { "routing_key", "exchange", "message_count", "payload_bytes",
						    "redelivered", "payload" };
		ctl_show(&r, cols, 6);
		free(r.body);
		return 0;
	}
	ctl_usage();
	return 2;
}
