/*
 * The HTTP server: evhttp setup, basic authentication against the broker's
 * users, path splitting and percent-decoding, the route table and the reply
 * helpers every endpoint uses.  Errors are RabbitMQ's JSON objects
 * {"error": ..., "reason": ...} with RabbitMQ's statuses.
 *
 * Must not depend on: other front ends (src/amqp, src/kafka).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "core/auth.h"
#include "core/config.h"
#include "core/log.h"
#include "core/stream.h"
#include "http/amqpval.h"
#include "http/console.h"
#include "http/http.h"
#include "core/defs.h"
#include "core/replica.h"
#include "http/hx.h"
#include "net/net.h"
#include "net/tls.h"
#include "util/b64.h"

#define MAX_BODY (64u << 20)
#define MAX_HEADERS (64u << 10)  /* request line and headers */
/* input held unread per connection: see input_bound */
#define MAX_REQUEST_INPUT (MAX_BODY + MAX_HEADERS + (64u << 10))
#define MAX_ANSWER_INPUT (256u << 10)

uint64_t hx_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- replies ------------------------------------------------------------ */

static void send_text(struct evhttp_request *req, int status, const char *ctype, const char *p,
		      size_t n)
{
	struct evbuffer *b = evbuffer_new();
	struct evkeyvalq *oh = evhttp_request_get_output_headers(req);
	evhttp_add_header(oh, "Content-Type", ctype);
	evhttp_add_header(oh, "Cache-Control", "no-cache");
	if (b)
		evbuffer_add(b, p, n);
	evhttp_send_reply(req, status, NULL, b); /* evhttp's standard reason phrase */
	if (b)
		evbuffer_free(b);
}

void hx_reply_json(struct hx_req *r, int status, struct js_w *w)
{
	if (w->oom) {
		hx_error(r, 500, "internal_server_error", "out of memory");
		return;
	}
	send_text(r->req, status, "application/json", w->buf ? w->buf : "", w->len);
}

void hx_error(struct hx_req *r, int status, const char *error, const char *reason)
{
	struct js_w w;
	js_w_init(&w);
	js_obj(&w);
	js_kstr(&w, "error", error);
	js_kstr(&w, "reason", reason);
	js_obj_end(&w);
	send_text(r->req, status, "application/json", w.oom ? "{}" : w.buf, w.oom ? 2 : w.len);
	js_w_free(&w);
}

void hx_error_term(struct hx_req *r, int status, const char *error, const char *tag,
		   const char *value)
{
	struct js_w w;
	js_w_init(&w);
	js_obj(&w);
	js_kstr(&w, "error", error);
	js_key(&w, "reason");
	js_arr(&w);
	js_str(&w, tag);
	js_str(&w, value);
	js_arr_end(&w);
	js_obj_end(&w);
	send_text(r->req, status, "application/json", w.oom ? "{}" : w.buf, w.oom ? 2 : w.len);
	js_w_free(&w);
}

int hx_require_keys(struct hx_req *r, const char *const *keys, size_t n)
{
	char flat[512] = "[", wrapped[512] = "[";
	int missing = 0;
	for (size_t i = 0; i < n; i++) {
		if (js_get(&r->body, 0, keys[i]) >= 0)
			continue;
		char item[80];
		snprintf(item, sizeof(item), "{key_missing,%s}", keys[i]);
		strncat(flat, missing ? "," : "", sizeof(flat) - strlen(flat) - 1);
		strncat(wrapped, missing ? ",\n " : "", sizeof(wrapped) - strlen(wrapped) - 1);
		strncat(flat, item, sizeof(flat) - strlen(flat) - 1);
		strncat(wrapped, item, sizeof(wrapped) - strlen(wrapped) - 1);
		missing++;
	}
	if (!missing)
		return 0;
	strncat(flat, "]", sizeof(flat) - strlen(flat) - 1);
	strncat(wrapped, "]", sizeof(wrapped) - strlen(wrapped) - 1);
	/* Erlang's ~p breaks a list that does not fit in 80 columns */
	hx_error(r, 400, "bad_request", strlen(flat) > 80 ? wrapped : flat);
	return -1;
}

void hx_not_found(struct hx_req *r)
{
	hx_error(r, 404, "Object Not Found", "Not Found");
}

void hx_no_content(struct hx_req *r, int status)
{
	if (tdm_defs_untaken(r->h->broker)) { /* a cluster's change: once applied here */
		hx_defs_reply(r, status);
		return;
	}
	evhttp_send_reply(r->req, status, NULL, NULL);
}

void hx_core_error(struct hx_req *r, const struct tdm_err *e)
{
	switch (e->status) {
	case TDM_E_NOT_FOUND:
		hx_error(r, 404, "not_found", e->text);
		break;
	case TDM_E_ACCESS: /* RabbitMQ's words over HTTP (amq.* names, for one) */
		hx_error(r, 401, "not_authorised", "Access refused.");
		break;
	case TDM_E_LOCKED:
		hx_error(r, 405, "resource_locked", e->text);
		break;
	case TDM_E_NOMEM:
		hx_error(r, 500, "internal_error", e->text);
		break;
	default: /* RabbitMQ answers 406-class channel errors with 400 */
		hx_error(r, 400, "bad_request", e->text);
		break;
	}
}

int hx_body(struct hx_req *r)
{
	struct evbuffer *in = evhttp_request_get_input_buffer(r->req);
	size_t n = evbuffer_get_length(in);
	char err[160];
	r->body_text = malloc(n + 1);
	if (!r->body_text) {
		hx_error(r, 500, "internal_error", "out of memory");
		return -1;
	}
	evbuffer_copyout(in, r->body_text, n);
	r->body_text[n] = '\0';
	r->body_len = n;
	size_t i = 0;
	while (i < n && strchr(" \t\r\n", r->body_text[i]))
		i++;
	const char *text = i == n ? "{}" : r->body_text;
	size_t len = i == n ? 2 : n;
	if (js_parse(&r->body, text, len, err, sizeof(err)) < 0) {
		tdm_debug("http", "request body is not JSON: %s", err);
		hx_error(r, 400, "bad_request", "not_json"); /* RabbitMQ's words */
		return -1;
	}
	r->has_body = 1;
	if (js_type_of(&r->body, 0) != JS_OBJ) {
		hx_error(r, 400, "bad_request", "not_json");
		return -1;
	}
	return 0;
}

const char *hx_query(struct hx_req *r, const char *name)
{
	return evhttp_find_header(&r->query, name);
}

struct tdm_vhost *hx_vhost(struct hx_req *r, int i)
{
	struct tdm_vhost *vh = tdm_vhost_find(r->h->broker, r->seg[i].s, r->seg[i].len);
	if (!vh || !tdm_auth_vhost_allowed(r->h->broker->auth, r->user, r->seg[i].s, r->seg[i].len)) {
		hx_not_found(r);
		return NULL;
	}
	return vh;
}

/* ---- request parsing ---------------------------------------------------- */

/* 1 when every '%' in s[0..n) starts an escape of two hex digits:
 * evhttp's decoder keeps a malformed one as it is, tandem refuses the path. */
static int escapes_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '%' && (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
				    !isxdigit((unsigned char)s[i + 2])))
			return 0;
	return 1;
}

/* Splits path (percent-encoded, starting with '/') into segments, each
 * decoded on its own by evhttp's decoder, so "%2F" stays inside its
 * segment (/api/queues/%2F/q: vhost "/").  -1 when there are too many or
 * an escape is malformed.  A trailing slash adds no segment. */
static int split_path(const char *path, struct hx_seg *seg, int max)
{
	int n = 0;
	const char *p = path;
	while (*p == '/')
		p++;
	while (*p) {
		size_t l = strcspn(p, "/");
		char *raw = NULL;
		if (n == max || !escapes_valid(p, l) || !(raw = strndup(p, l)))
			goto fail;
		seg[n].s = evhttp_uridecode(raw, 0, &seg[n].len); /* '+' stays '+' in a path */
		free(raw);
		if (!seg[n].s)
			goto fail;
		n++;
		p += l;
		if (*p == '/')
			p++;
	}
	return n;
fail:
	while (n > 0)
		free(seg[--n].s);
	return -1;
}

/* 1 when tags (a comma list, items maybe padded with spaces) hold tag. */
static int has_tag(const char *tags, const char *tag)
{
	size_t tl = strlen(tag), l;
	const char *s;
	while (hx_list_next(&tags, &s, &l))
		if (l == tl && memcmp(s, tag, tl) == 0)
			return 1;
	return 0;
}

/* RabbitMQ's is_monitor: tagged administrator or monitoring. */
static int tags_monitor(const char *tags)
{
	return has_tag(tags, "administrator") || has_tag(tags, "monitoring");
}

/*
 * Basic authentication: 1 when the request may go on (r->user filled).
 * allowed (NULL: hx_is_management_user) decides from the user's tags;
 * denied is RabbitMQ's reason when it says no; realm goes into
 * WWW-Authenticate when there are no valid credentials.
 */
static int authenticate_as(struct hx_req *r, const char *realm, int (*allowed)(const char *tags),
			   const char *denied)
{
	const char *a = evhttp_find_header(evhttp_request_get_input_headers(r->req), "Authorization");
	char *peer = NULL;
	ev_uint16_t pport = 0;
	struct evhttp_connection *ec = evhttp_request_get_connection(r->req);
	if (ec)
		evhttp_connection_get_peer(ec, &peer, &pport);
	int loopback = peer && (strncmp(peer, "127.", 4) == 0 || strcmp(peer, "::1") == 0 ||
				strncmp(peer, "::ffff:127.", 11) == 0);
	if (a && strncasecmp(a, "Basic ", 6) == 0) {
		const char *b = a + 6;
		while (*b == ' ')
			b++;
		size_t bl = strlen(b);
		while (bl && (b[bl - 1] == ' ' || b[bl - 1] == '\r'))
			bl--;
		uint8_t dec[768];
		if (bl <= 1000) {
			long n = tu_b64_decode(b, bl, dec);
			const uint8_t *colon = n > 0 ? memchr(dec, ':', (size_t)n) : NULL;
			if (colon && (size_t)(colon - dec) < sizeof(r->user)) {
				size_t ul = (size_t)(colon - dec);
				const char *pw = (const char *)colon + 1;
				size_t pl = (size_t)n - ul - 1;
				if (tdm_auth_check(r->h->broker->auth, (const char *)dec, ul, pw, pl, loopback) ==
				    TDM_AUTH_OK) {
					memcpy(r->user, dec, ul);
					r->user[ul] = '\0';
					const char *tags = tdm_auth_user_tags(r->h->broker->auth, r->user);
					/* as RabbitMQ: only users tagged for management */
					if (!hx_is_management_user(tags)) {
						hx_error(r, 401, "not_authorised", "Not management user"); /* sic */
						return 0;
					}
					if (!allowed || allowed(tags))
						return 1;
					hx_error(r, 401, "not_authorised", denied);
					return 0;
				}
			}
		}
	}
	char www[128];
	snprintf(www, sizeof(www), "Basic realm=\"%s\"", realm);
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "WWW-Authenticate", www);
	hx_error(r, 401, "not_authorized", "Login failed");
	return 0;
}

static int authenticate(struct hx_req *r)
{
	return authenticate_as(r, "RabbitMQ Management", NULL, NULL);
}

/* ---- Host, Origin and Content-Type: DNS rebinding and cross-site requests -- */

/*
 * Splits a Host header value (or an Origin's authority) into its host and
 * port: "[v6]:port", "name:port" or either without the port.  0, or -1 when
 * malformed.  *port is "" when absent.
 */
static int split_authority(const char *v, char *host, size_t hostcap, const char **port)
{
	const char *h = v, *e;
	size_t hl;
	if (*v == '[') {
		if (!(e = strchr(v, ']')))
			return -1;
		h = v + 1;
		hl = (size_t)(e - h);
		e++;
	} else {
		hl = strcspn(v, ":");
		e = v + hl;
	}
	if (*e == ':')
		e++;
	else if (*e)
		return -1;
	if (hl == 0 || hl >= hostcap || strspn(e, "0123456789") != strlen(e))
		return -1;
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = e;
	return *v == '[' ? 1 : 0;
}

/* 1 when name (lower or upper case, maybe with a final dot) is in the
 * comma list, or the list holds "*". */
static int name_listed(const char *list, const char *name)
{
	size_t nl = strlen(name);
	if (nl && name[nl - 1] == '.')
		nl--;
	const char *s;
	size_t n;
	while (hx_list_next(&list, &s, &n))
		if ((n == 1 && *s == '*') || (n == nl && strncasecmp(s, name, n) == 0))
			return 1;
	return 0;
}

/*
 * DNS rebinding: a browser that was sent to an attacker's name now resolving
 * to this listener still sends that name as Host.  IP addresses, localhost
 * (and *.localhost), bind_address and http_allowed_hosts are answered; a
 * request without Host (HTTP/1.0, not a browser) too.
 */
static int host_allowed(const struct tdm_http *h, const char *v)
{
	char host[256];
	const char *port;
	unsigned char addr[16];
	int bracketed = v ? split_authority(v, host, sizeof(host), &port) : 0;
	if (!v)
		return 1;
	if (bracketed < 0)
		return 0;
	if (bracketed)
		return inet_pton(AF_INET6, host, addr) == 1;
	size_t hl = strlen(host);
	if (inet_pton(AF_INET, host, addr) == 1 || strcasecmp(host, "localhost") == 0 ||
	    strcasecmp(host, "localhost.") == 0 ||
	    (hl > 10 && strcasecmp(host + hl - 10, ".localhost") == 0))
		return 1;
	if (h->cfg->bind_address && strcasecmp(host, h->cfg->bind_address) == 0)
		return 1;
	return name_listed(h->cfg->http_allowed_hosts, host);
}

/* CSRF: a browser names the page that sent a request in Origin; one that
 * changes something must come from a page of this listener (same host and
 * port as Host).  1 when it may go on. */
static int origin_allowed(const char *origin, const char *hostv)
{
	static const char *const schemes[] = { "http://", "https://" };
	static const char *const dflt[] = { "80", "443" };
	char oh[256], hh[256];
	const char *op, *hp;
	if (!origin)
		return 1;
	if (!hostv || split_authority(hostv, hh, sizeof(hh), &hp) < 0)
		return 0;
	for (int i = 0; i < 2; i++) {
		size_t sl = strlen(schemes[i]);
		if (strncasecmp(origin, schemes[i], sl) != 0)
			continue;
		if (split_authority(origin + sl, oh, sizeof(oh), &op) < 0)
			return 0;
		if (!*op)
			op = dflt[i];
		if (!*hp)
			hp = "80";
		return strcasecmp(oh, hh) == 0 && strcmp(op, hp) == 0;
	}
	return 0; /* "null", another scheme */
}

/* 1 when a Content-Type value is application/json (parameters allowed). */
static int is_json_type(const char *ct)
{
	static const char json[] = "application/json";
	if (!ct)
		return 0;
	while (*ct == ' ')
		ct++;
	if (strncasecmp(ct, json, sizeof(json) - 1) != 0)
		return 0;
	ct += sizeof(json) - 1;
	return *ct == '\0' || *ct == ';' || *ct == ' ';
}

/*
 * The checks before anything else is done: Host (all requests), Origin
 * (requests that change something).  1 when the request may go on, else
 * the 403 is answered.
 */
static int request_allowed(struct hx_req *r)
{
	struct evkeyvalq *ih = evhttp_request_get_input_headers(r->req);
	const char *host = evhttp_find_header(ih, "Host");
	const char *origin = evhttp_find_header(ih, "Origin");
	char why[400];
	if (!host_allowed(r->h, host)) {
		snprintf(why, sizeof(why), "Host '%.200s' is not allowed: this listener answers "
			 "IP addresses, localhost and the names in http_allowed_hosts", host);
		hx_error(r, 403, "forbidden", why);
		return 0;
	}
	if (r->method != EVHTTP_REQ_GET && r->method != EVHTTP_REQ_HEAD &&
	    !origin_allowed(origin, host)) {
		snprintf(why, sizeof(why), "cross-origin request refused: Origin '%.150s' is not "
			 "Host '%.150s'", origin, host ? host : "");
		hx_error(r, 403, "forbidden", why);
		return 0;
	}
	return 1;
}

/* Cross-site forms can send text/plain, urlencoded and multipart bodies
 * without a CORS preflight, never application/json: a body must be JSON.
 * 1 when the request may go on, else 415 is answered. */
static int body_type_allowed(struct hx_req *r)
{
	if (r->method == EVHTTP_REQ_GET || r->method == EVHTTP_REQ_HEAD ||
	    evbuffer_get_length(evhttp_request_get_input_buffer(r->req)) == 0)
		return 1;
	if (is_json_type(evhttp_find_header(evhttp_request_get_input_headers(r->req),
					    "Content-Type")))
		return 1;
	hx_error(r, 415, "unsupported_media_type",
		 "request bodies must be JSON, sent with Content-Type: application/json");
	return 0;
}

static const char *method_name(enum evhttp_cmd_type m)
{
	switch (m) {
	case EVHTTP_REQ_GET: return "GET";
	case EVHTTP_REQ_PUT: return "PUT";
	case EVHTTP_REQ_POST: return "POST";
	case EVHTTP_REQ_DELETE: return "DELETE";
	case EVHTTP_REQ_HEAD: return "HEAD";
	default: return "?";
	}
}


/* Users, permissions and definitions are RabbitMQ's administrator-only endpoints. */
int hx_is_admin(struct hx_req *r)
{
	return has_tag(tdm_auth_user_tags(r->h->broker->auth, r->user), "administrator");
}

int hx_is_monitor(struct hx_req *r)
{
	return tags_monitor(tdm_auth_user_tags(r->h->broker->auth, r->user));
}

int hx_topic_visible(struct hx_req *r, const char *name)
{
	char vh[TDM_TOPIC_NAME_MAX];
	int n = tdm_topic_vhost(name, strlen(name), vh, sizeof(vh));

	if (hx_is_admin(r))
		return 1;
	return n >= 0 && tdm_auth_vhost_allowed(r->h->broker->auth, r->user, vh, (size_t)n);
}

/* ---- the route table ------------------------------------------------------ */

#define GET (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)
#define PUT EVHTTP_REQ_PUT
#define POST EVHTTP_REQ_POST
#define DELETE EVHTTP_REQ_DELETE

/* Who may use a route, beyond a management user (RabbitMQ's rules). */
enum need {
	ANYONE,
	ADMIN,        /* users, permissions, definitions, vhost changes */
};

/*
 * One resource and the methods it answers: path is the segments after
 * /api/, '*' matching any one (decoded) segment.  A path of several routes
 * (one per access rule) answers the union of their methods.
 */
struct route {
	const char *path;
	unsigned methods;   /* EVHTTP_REQ_* bits */
	enum need need;
	void (*handler)(struct hx_req *r);
};

static const struct route routes[] = {
	{ "overview", GET, ANYONE, hx_overview },
	{ "whoami", GET, ANYONE, hx_whoami },
	{ "nodes", GET, ANYONE, hx_nodes },
	{ "nodes/*", GET, ANYONE, hx_nodes },
	{ "cluster", GET, ANYONE, hx_cluster },
	{ "vhosts", GET, ANYONE, hx_vhost_list },
	{ "vhosts/*", GET, ANYONE, hx_vhost_get },
	{ "vhosts/*", PUT | DELETE, ADMIN, hx_vhost_change },
	{ "vhosts/*/permissions", GET, ANYONE, hx_vhost_permission_list },
	{ "exchanges", GET, ANYONE, hx_exchange_list },
	{ "exchanges/*", GET, ANYONE, hx_exchange_list },
	{ "exchanges/*/*", GET | PUT | DELETE, ANYONE, hx_exchange },
	{ "exchanges/*/*/publish", POST, ANYONE, hx_exchange_publish },
	{ "exchanges/*/*/bindings/source", GET, ANYONE, hx_exchange_bindings },
	{ "exchanges/*/*/bindings/destination", GET, ANYONE, hx_exchange_bindings },
	{ "queues", GET, ANYONE, hx_queue_list },
	{ "queues/*", GET, ANYONE, hx_queue_list },
	{ "queues/*/*", GET | PUT | DELETE, ANYONE, hx_queue },
	{ "queues/*/*/contents", DELETE, ANYONE, hx_queue_purge },
	{ "queues/*/*/get", POST, ANYONE, hx_queue_get },
	{ "queues/*/*/bindings", GET, ANYONE, hx_queue_bindings },
	{ "bindings", GET, ANYONE, hx_binding_list },
	{ "bindings/*", GET, ANYONE, hx_binding_list },
	{ "bindings/*/e/*/q/*", GET | POST, ANYONE, hx_bindings_between },
	{ "bindings/*/e/*/e/*", GET | POST, ANYONE, hx_bindings_between },
	{ "bindings/*/e/*/q/*/*", GET | DELETE, ANYONE, hx_binding },
	{ "bindings/*/e/*/e/*/*", GET | DELETE, ANYONE, hx_binding },
	{ "health/checks/alarms", GET, ANYONE, hx_health_alarms },
	{ "health/checks/port-listener/*", GET, ANYONE, hx_health_port },
	{ "aliveness-test/*", GET, ANYONE, hx_aliveness },
	{ "connections", GET, ANYONE, hx_connection_list },
	{ "connections/*", GET | DELETE, ANYONE, hx_connection },
	{ "connections/*/channels", GET, ANYONE, hx_connection_channels },
	{ "channels", GET, ANYONE, hx_channel_list },
	{ "channels/*", GET, ANYONE, hx_channel },
	{ "consumers", GET, ANYONE, hx_consumers },
	{ "consumers/*", GET, ANYONE, hx_consumers },
	{ "users", GET, ADMIN, hx_user_list },
	{ "users/*", GET | PUT | DELETE, ADMIN, hx_user },
	{ "users/*/permissions", GET, ADMIN, hx_user_permissions },
	{ "permissions", GET, ADMIN, hx_permission_list },
	{ "permissions/*/*", GET | PUT | DELETE, ADMIN, hx_permission },
	{ "users/*/topic-permissions", GET, ADMIN, hx_user_topic_permissions },
	{ "vhosts/*/topic-permissions", GET, ADMIN, hx_vhost_topic_permissions },
	{ "topic-permissions", GET, ADMIN, hx_topic_permission_list },
	{ "topic-permissions/*/*", GET | PUT | DELETE, ADMIN, hx_topic_permission },
	{ "vhost-limits", GET, ANYONE, hx_vhost_limits },
	{ "vhost-limits/*", GET, ANYONE, hx_vhost_limits },
	{ "vhost-limits/*/*", PUT | DELETE, ADMIN, hx_vhost_limits },
	{ "user-limits", GET, ADMIN, hx_user_limits },
	{ "user-limits/*", GET, ADMIN, hx_user_limits },
	{ "user-limits/*/*", PUT | DELETE, ADMIN, hx_user_limits },
	{ "kafka-limits", GET, ADMIN, hx_kafka_limits },
	{ "kafka-limits/*", GET | PUT | DELETE, ADMIN, hx_kafka_limits },
	{ "definitions", GET | POST, ADMIN, hx_definitions },
	{ "definitions/*", GET | POST, ADMIN, hx_definitions },
	/* the log side: anyone reads what they may see, administrators change */
	{ "topics", GET, ANYONE, hx_topic_list },
	{ "topics/*", GET, ANYONE, hx_topic_get },
	{ "topics/*", PUT | DELETE, ADMIN, hx_topic_change },
	{ "topics/*/partitions/*/messages", GET, ANYONE, hx_topic_partition_messages },
	{ "groups", GET, ANYONE, hx_group_list },
	{ "groups/*", GET, ANYONE, hx_group_get },
	{ "groups/*", DELETE, ADMIN, hx_group_delete },
	{ "groups/*/fetch", POST, ADMIN, hx_group_fetch },
};

/* 1 when the request's segments match pattern p. */
static int path_matches(const struct hx_req *r, const char *p)
{
	int i = 0;
	for (; *p; i++) {
		size_t l = strcspn(p, "/");
		if (i == r->nseg ||
		    (!(l == 1 && *p == '*') && (r->seg[i].len != l || memcmp(r->seg[i].s, p, l) != 0)))
			return 0;
		p += l;
		if (*p == '/')
			p++;
	}
	return i == r->nseg;
}

/* RabbitMQ's Allow header: "HEAD, GET, PUT, POST, DELETE", what applies. */
static void allow_header(struct hx_req *r, unsigned methods)
{
	static const struct {
		unsigned bit;
		const char *name;
	} order[] = { { EVHTTP_REQ_HEAD, "HEAD" }, { EVHTTP_REQ_GET, "GET" }, { EVHTTP_REQ_PUT, "PUT" },
		      { EVHTTP_REQ_POST, "POST" }, { EVHTTP_REQ_DELETE, "DELETE" } };
	char allow[64] = "";
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (methods & order[i].bit) {
			strcat(allow, *allow ? ", " : "");
			strcat(allow, order[i].name);
		}
	evhttp_add_header(evhttp_request_get_output_headers(r->req), "Allow", allow);
}

/*
 * The one dispatcher: the route whose path and method match runs after
 * its access check; a known path with another method is answered 405 with
 * Allow (RabbitMQ's cowboy_rest), an unknown path 404.
 */
static void route(struct hx_req *r)
{
	unsigned allowed = 0;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		const struct route *rt = &routes[i];
		if (!path_matches(r, rt->path))
			continue;
		if (!(rt->methods & (unsigned)r->method)) {
			allowed |= rt->methods;
			continue;
		}
		if (rt->need == ADMIN && !hx_is_admin(r))
			hx_error(r, 401, "not_authorised", "Not administrator user"); /* RabbitMQ's words */
		else
			rt->handler(r);
		return;
	}
	if (!allowed) {
		hx_not_found(r);
		return;
	}
	allow_header(r, allowed);
	hx_error(r, 405, "method_not_allowed", "Method Not Allowed");
}

#undef GET
#undef PUT
#undef POST
#undef DELETE

/* How much input a connection may hold unread: a whole request (headers
 * and body, which evhttp gathers before taking it) while one is read; only
 * a little while its answer is written, since evhttp goes on reading then
 * and a client sending request after request without reading an answer
 * would otherwise fill our memory. */
static void input_bound(struct evhttp_request *req, size_t max)
{
	struct evhttp_connection *ec = evhttp_request_get_connection(req);
	struct bufferevent *bev = ec ? evhttp_connection_get_bufferevent(ec) : NULL;

	if (bev)
		bufferevent_setwatermark(bev, EV_READ, 0, max);
}

static void reply_sent_cb(struct evhttp_request *req, void *arg)
{
	(void)arg;
	input_bound(req, MAX_REQUEST_INPUT);
}

void hx_handle(struct tdm_http *h, struct evhttp_request *req)
{
	struct hx_req r;
	input_bound(req, MAX_ANSWER_INPUT);
	evhttp_request_set_on_complete_cb(req, reply_sent_cb, NULL);
	memset(&r, 0, sizeof(r));
	r.h = h;
	r.req = req;
	r.method = evhttp_request_get_command(req);
	r.query.tqh_first = NULL;
	r.query.tqh_last = &r.query.tqh_first;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	const char *q = uri ? evhttp_uri_get_query(uri) : NULL;
	if (!path || !*path)
		path = "/";
	tdm_debug("http", "%s %s", method_name(r.method), path);
	if (!request_allowed(&r))
		return;
	if (strcmp(path, "/metrics") == 0) {
		/* RabbitMQ's Prometheus plugin with authentication: monitors only */
		if (!h->cfg->metrics_auth ||
		    authenticate_as(&r, "RabbitMQ Prometheus", tags_monitor, "Not monitor user"))
			hx_metrics(h, req);
		return;
	}
	if (strncmp(path, "/api/", 5) != 0 && (r.method == EVHTTP_REQ_GET || r.method == EVHTTP_REQ_HEAD) &&
	    hx_console(req, path))
		return;
	if (q)
		evhttp_parse_query_str(q, &r.query);
	struct hx_seg all[HX_MAX_SEGS + 1];
	int n = split_path(path, all, HX_MAX_SEGS + 1);
	if (n < 1 || strcmp(all[0].s, "api") != 0) {
		hx_not_found(&r);
		goto out;
	}
	r.nseg = n - 1;
	memcpy(r.seg, all + 1, (size_t)r.nseg * sizeof(r.seg[0]));
	free(all[0].s);
	n = 0;
	if (authenticate(&r) && body_type_allowed(&r))
		route(&r);
out:
	for (int i = 0; i < n; i++)
		free(all[i].s);
	for (int i = 0; i < r.nseg; i++)
		free(r.seg[i].s);
	evhttp_clear_headers(&r.query);
	if (r.has_body)
		js_doc_free(&r.body);
	free(r.body_text);
	hx_defs_forget(h->broker); /* answered with an error: nobody waits */
}

static void handle(struct evhttp_request *req, void *arg)
{
	hx_handle(arg, req);
}

/* ---- connections: count, limit, timeout -------------------------------------- */

/*
 * evhttp has no per-connection accept hook in libevent 2.1, only the
 * bufferevent callback (called before the connection object exists) and a
 * close callback set on the connection.  So a new connection's bufferevent
 * is held with a reference until the end of the loop turn that accepted
 * it; by then evhttp has made it its connection's (the bufferevent's
 * callback argument), which is then counted and given the close callback,
 * or closed at once when over the limit or into the fd reserve.
 */
static void conn_closed_cb(struct evhttp_connection *ec, void *arg)
{
	struct tdm_http *h = arg;

	h->nconns--;
	hx_later_conn_closed(h, ec);
}

static void fresh_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tdm_http *h = arg;

	(void)fd, (void)what;
	for (size_t i = 0; i < h->nfresh; i++) {
		struct bufferevent *bev = h->fresh[i];
		bufferevent_data_cb rd = NULL;
		void *ecp = NULL;

		bufferevent_getcb(bev, &rd, NULL, NULL, &ecp);
		/* no read callback: evhttp gave it up (and freed it) already */
		if (rd && ecp) {
			struct evhttp_connection *ec = ecp;

			if (h->nconns >= h->cfg->http_max_connections) {
				tdm_debug("http", "connection refused: %u connections is the limit",
					  h->cfg->http_max_connections);
				evhttp_connection_free(ec);
			} else if (h->net && tdm_net_fd_reserved(h->net, bufferevent_getfd(bev), "http")) {
				evhttp_connection_free(ec);
			} else {
				h->nconns++;
				evhttp_connection_set_closecb(ec, conn_closed_cb, h);
			}
		}
		bufferevent_decref(bev);
	}
	h->nfresh = 0;
}

static struct bufferevent *new_bev_cb(struct event_base *base, void *arg)
{
	struct hx_listener *l = arg;
	struct tdm_http *h = l->h;
	/* evhttp sets the accepted socket on it afterwards */
	struct bufferevent *bev = l->tls ? tdm_tls_wrap(l->tls, base, -1)
					 : bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);

	if (!bev)
		return NULL;
	bufferevent_setwatermark(bev, EV_READ, 0, MAX_REQUEST_INPUT); /* see input_bound */
	if (h->nfresh == h->fresh_cap) {
		size_t cap = h->fresh_cap ? h->fresh_cap * 2 : 16;
		struct bufferevent **f = realloc(h->fresh, cap * sizeof(*f));

		if (!f)
			return bev; /* uncounted, still bounded by http_timeout */
		h->fresh = f;
		h->fresh_cap = cap;
	}
	bufferevent_incref(bev);
	h->fresh[h->nfresh++] = bev;
	event_active(h->fresh_ev, 0, 0);
	return bev;
}

int tdm_http_guard(struct tdm_http *h, struct tdm_net *net)
{
	h->net = net;
	for (size_t i = 0; i < h->nlis; i++) {
		struct hx_listener *l = &h->lis[i];

		l->backoff = tdm_net_backoff_new(net, evhttp_bound_socket_get_listener(l->bound),
						 l->tls ? "https" : "http");
		if (!l->backoff)
			return -1;
	}
	return 0;
}

/* Opens one listener (plain when tls is NULL) on the server's handler. */
static int listen_one(struct tdm_http *h, int port, struct tdm_tls *tls)
{
	struct hx_listener *l = &h->lis[h->nlis];
	const struct tdm_config *cfg = h->cfg;

	l->h = h;
	l->tls = tls;
	l->http = evhttp_new(h->base);
	if (!l->http)
		return -1;
	h->nlis++; /* freed with the server from here on */
	evhttp_set_allowed_methods(l->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
						    EVHTTP_REQ_POST | EVHTTP_REQ_DELETE);
	evhttp_set_max_body_size(l->http, MAX_BODY);
	evhttp_set_max_headers_size(l->http, MAX_HEADERS);
	evhttp_set_timeout(l->http, (int)cfg->http_timeout);
	evhttp_set_gencb(l->http, handle, h);
	evhttp_set_bevcb(l->http, new_bev_cb, l);
	l->bound = evhttp_bind_socket_with_handle(l->http, cfg->bind_address, (ev_uint16_t)port);
	if (!l->bound) {
		tdm_error("http", "cannot listen on %s:%d", cfg->bind_address, port);
		return -1;
	}
	l->port = port;
	tdm_info("http", "listening %s %s:%d", tls ? "https" : "http", cfg->bind_address, port);
	return 0;
}

struct tdm_http *tdm_http_start(struct event_base *base, const struct tdm_config *cfg,
				struct tdm_broker *broker, struct tdm_topics *topics,
				struct tdm_durable *durable, struct tdm_tls *tls)
{
	if (!cfg->http_port && !tls)
		return NULL;
	struct tdm_http *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->base = base;
	h->cfg = cfg;
	h->broker = broker;
	h->topics = topics;
	h->durable = durable;
	h->started_ms = hx_wall_ms();
	h->fresh_ev = event_new(base, -1, 0, fresh_cb, h);
	if (!h->fresh_ev)
		goto fail;
	/* before every other event of the turn that accepted the connection */
	event_priority_set(h->fresh_ev, 0);
	if (cfg->http_port) {
		if (listen_one(h, cfg->http_port, NULL) < 0)
			goto fail;
		h->port = cfg->http_port;
	}
	if (tls) {
		if (listen_one(h, cfg->http_ssl_port, tls) < 0)
			goto fail;
		h->ssl_port = cfg->http_ssl_port;
	}
	h->rates = hx_rates_new(base, broker); /* NULL: rates show as 0.0 */
	return h;
fail:
	for (size_t i = 0; i < h->nlis; i++)
		evhttp_free(h->lis[i].http);
	if (h->fresh_ev)
		event_free(h->fresh_ev);
	free(h);
	return NULL;
}

void tdm_http_set_replica(struct tdm_http *h, struct tdm_replica *r)
{
	if (h)
		h->replica = r;
	hx_node_name_cluster(r ? tdm_replica_node_id(r) : 0);
}

int tdm_http_port(const struct tdm_http *h)
{
	return h ? h->port : 0;
}

void tdm_http_free(struct tdm_http *h)
{
	if (!h)
		return;
	hx_rates_free(h->rates);
	for (size_t i = 0; i < h->nlis; i++)
		tdm_net_backoff_free(h->lis[i].backoff);
	for (size_t i = 0; i < h->nfresh; i++)
		bufferevent_decref(h->fresh[i]); /* evhttp_free frees them */
	h->nfresh = 0;
	for (size_t i = 0; i < h->nlis; i++)
		evhttp_free(h->lis[i].http);
	hx_later_conn_closed(h, NULL); /* those of connections evhttp_free did not report */
	event_free(h->fresh_ev);
	free(h->fresh);
	free(h);
}
