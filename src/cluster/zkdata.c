/*
 * Kafka's ZooKeeper-era znodes (see zkdata.h): paths, and JSON through
 * src/util's writer and bounds-checked reader.  Decoders check every
 * field's type and range and fail on anything else.
 *
 * Must not depend on: libevent, ZooKeeper's client, the broker core.
 */
#include "cluster/zkdata.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "util/b64.h"
#include "util/json.h"

const char *const zkd_persistent_paths[] = {
	ZKD_BROKERS_IDS, ZKD_BROKERS_TOPICS, ZKD_CONFIG_TOPICS, ZKD_CONFIG_BROKERS,
	ZKD_ADMIN_DELETE_TOPICS, ZKD_CLUSTER,
	NULL,
};

/* ---- paths --------------------------------------------------------------- */

static char *path_fmt(char *buf, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static char *path_fmt(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, size, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= size ? NULL : buf;
}

char *zkd_path_broker(char *buf, size_t size, int32_t id)
{
	return path_fmt(buf, size, ZKD_BROKERS_IDS "/%" PRId32, id);
}
char *zkd_path_topic(char *buf, size_t size, const char *topic)
{
	return path_fmt(buf, size, ZKD_BROKERS_TOPICS "/%s", topic);
}
char *zkd_path_partitions(char *buf, size_t size, const char *topic)
{
	return path_fmt(buf, size, ZKD_BROKERS_TOPICS "/%s/partitions", topic);
}
char *zkd_path_partition(char *buf, size_t size, const char *topic, int32_t partition)
{
	return path_fmt(buf, size, ZKD_BROKERS_TOPICS "/%s/partitions/%" PRId32, topic, partition);
}
char *zkd_path_partition_state(char *buf, size_t size, const char *topic, int32_t partition)
{
	return path_fmt(buf, size, ZKD_BROKERS_TOPICS "/%s/partitions/%" PRId32 "/state", topic,
			partition);
}
char *zkd_path_topic_config(char *buf, size_t size, const char *topic)
{
	return path_fmt(buf, size, ZKD_CONFIG_TOPICS "/%s", topic);
}
char *zkd_path_broker_config(char *buf, size_t size, int32_t id)
{
	return id < 0 ? path_fmt(buf, size, ZKD_CONFIG_BROKERS "/" ZKD_BROKER_DEFAULT)
		      : path_fmt(buf, size, ZKD_CONFIG_BROKERS "/%" PRId32, id);
}
char *zkd_path_delete_topic(char *buf, size_t size, const char *topic)
{
	return path_fmt(buf, size, ZKD_ADMIN_DELETE_TOPICS "/%s", topic);
}

int zkd_parse_id(const char *name, int32_t *out)
{
	int64_t v = 0;
	if (!name || !*name || (name[0] == '0' && name[1]))
		return -1;
	for (const char *p = name; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
		if (v > INT32_MAX)
			return -1;
	}
	*out = (int32_t)v;
	return 0;
}

/* ---- helpers --------------------------------------------------------------- */

static char *finish(struct js_w *w, size_t *len)
{
	if (w->oom) {
		js_w_free(w);
		return NULL;
	}
	js_raw(w, "", 1); /* the NUL */
	if (w->oom) {
		js_w_free(w);
		return NULL;
	}
	if (len)
		*len = w->len - 1;
	return w->buf; /* the caller owns it now */
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (err && errlen)
		vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Parses data as one JSON object: 0, or -1 with err. */
static int parse_obj(struct js_doc *d, const char *data, size_t len, const char *what, char *err,
		     size_t errlen)
{
	char why[128];
	memset(d, 0, sizeof(*d));
	if (!data)
		return fail(err, errlen, "%s: no data", what);
	if (js_parse(d, data, len, why, sizeof(why)) < 0)
		return fail(err, errlen, "%s: bad JSON: %s", what, why);
	if (js_type_of(d, 0) != JS_OBJ) {
		js_doc_free(d);
		return fail(err, errlen, "%s: not a JSON object", what);
	}
	return 0;
}

/* Member key of obj as an integer in [min, max]: 0, 1 when absent and
 * optional, -1 when bad. */
static int get_int(const struct js_doc *d, int obj, const char *key, int64_t min, int64_t max,
		   int64_t *out)
{
	int i = js_get(d, obj, key);
	if (i < 0)
		return 1;
	if (js_type_of(d, i) != JS_NUM || js_int64(d, i, out) < 0 || *out < min || *out > max)
		return -1;
	return 0;
}

/* A timestamp: Kafka writes it as a string of digits ("1600000000000"),
 * older writers as a number. */
static int get_timestamp(const struct js_doc *d, int obj, int64_t *out)
{
	int i = js_get(d, obj, "timestamp");
	if (i < 0) {
		*out = 0;
		return 0;
	}
	if (js_type_of(d, i) == JS_NUM)
		return js_int64(d, i, out) < 0 || *out < 0 ? -1 : 0;
	/* as a string, any value the number form takes (what
	 * put_timestamp writes back must read again: found by fuzz_zkdata) */
	if (js_type_of(d, i) != JS_STR || d->n[i].escaped || d->n[i].len == 0 || d->n[i].len > 19)
		return -1;
	int64_t v = 0;
	for (uint32_t k = 0; k < d->n[i].len; k++) {
		char c = d->src[d->n[i].off + k];
		if (c < '0' || c > '9' || v > (INT64_MAX - (c - '0')) / 10)
			return -1;
		v = v * 10 + (c - '0');
	}
	*out = v;
	return 0;
}

static void put_timestamp(struct js_w *w, int64_t ts)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRId64, ts);
	js_kstr(w, "timestamp", buf);
}

/* An array node of broker ids (each 0..INT32_MAX, distinct) into a new
 * array; empty_ok: [] is allowed.  0 or -1. */
static int get_ids(const struct js_doc *d, int arr, int empty_ok, int32_t **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	if (js_type_of(d, arr) != JS_ARR)
		return -1;
	size_t count = d->n[arr].count;
	if (count == 0)
		return empty_ok ? 0 : -1;
	int32_t *ids = malloc(count * sizeof(*ids));
	if (!ids)
		return -1;
	size_t k = 0;
	for (int i = js_child(d, arr); i >= 0; i = js_next(d, arr, i)) {
		int64_t v;
		if (js_type_of(d, i) != JS_NUM || js_int64(d, i, &v) < 0 || v < 0 || v > INT32_MAX ||
		    k >= count)
			goto bad;
		for (size_t j = 0; j < k; j++)
			if (ids[j] == (int32_t)v)
				goto bad;
		ids[k++] = (int32_t)v;
	}
	if (k != count)
		goto bad;
	*out = ids;
	*n = k;
	return 0;
bad:
	free(ids);
	return -1;
}

static void put_ids(struct js_w *w, const int32_t *ids, size_t n)
{
	js_arr(w);
	for (size_t i = 0; i < n; i++)
		js_int(w, ids[i]);
	js_arr_end(w);
}

/* ---- /brokers/ids/N ----------------------------------------------------------- */

char *zkd_broker_encode(const struct zkd_broker *b, size_t *len)
{
	struct js_w w;
	char ep[ZKD_HOST_MAX + 32];
	js_w_init(&w);
	js_obj(&w);
	js_key(&w, "listener_security_protocol_map");
	js_obj(&w);
	js_kstr(&w, "PLAINTEXT", "PLAINTEXT");
	js_obj_end(&w);
	js_key(&w, "endpoints");
	js_arr(&w);
	if (b->port > 0) {
		snprintf(ep, sizeof(ep), "PLAINTEXT://%s:%d", b->host, b->port);
		js_str(&w, ep);
	}
	js_arr_end(&w);
	if (b->rack[0])
		js_kstr(&w, "rack", b->rack);
	js_kint(&w, "jmx_port", -1);
	js_key(&w, "features");
	js_obj(&w);
	js_obj_end(&w);
	js_kstr(&w, "host", b->host);
	put_timestamp(&w, b->timestamp);
	js_kint(&w, "port", b->port);
	js_kint(&w, "version", 5);
	js_key(&w, "tandem");
	js_obj(&w);
	js_kint(&w, "amqp", b->amqp_port);
	js_kint(&w, "http", b->http_port);
	js_kint(&w, "cluster", b->cluster_port);
	js_obj_end(&w);
	js_obj_end(&w);
	return finish(&w, len);
}

/* "NAME://host:port" (host may be [v6]): 0 with host and port, or -1. */
static int parse_endpoint(const char *s, size_t n, char *host, int *port)
{
	const char *sep = NULL;
	for (size_t i = 0; i + 2 < n; i++)
		if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
			sep = s + i + 3;
			break;
		}
	if (!sep)
		return -1;
	const char *end = s + n, *colon = NULL;
	for (const char *p = sep; p < end; p++)
		if (*p == ':')
			colon = p;
	if (!colon || (size_t)(colon - sep) > ZKD_HOST_MAX)
		return -1;
	long v = 0;
	if (colon + 1 == end || end - colon > 6)
		return -1;
	for (const char *p = colon + 1; p < end; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		v = v * 10 + (*p - '0');
	}
	if (v > 65535)
		return -1;
	memcpy(host, sep, (size_t)(colon - sep));
	host[colon - sep] = 0;
	*port = (int)v;
	return 0;
}

/* "rack": a non-empty string without NUL of at most ZKD_RACK_MAX bytes
 * into rack, or none ("") when missing or null.  0 or -1. */
static int get_rack(const struct js_doc *d, char rack[ZKD_RACK_MAX + 1])
{
	int i = js_get(d, 0, "rack");
	size_t n;

	rack[0] = 0;
	if (i < 0 || js_type_of(d, i) == JS_NULL)
		return 0;
	char *s = js_type_of(d, i) == JS_STR ? js_strdup(d, i, &n) : NULL;
	int ok = s && n > 0 && n <= ZKD_RACK_MAX && !memchr(s, 0, n);
	if (ok)
		memcpy(rack, s, n + 1);
	free(s);
	return ok ? 0 : -1;
}

int zkd_broker_decode(const char *data, size_t len, struct zkd_broker *out, char *err,
		      size_t errlen)
{
	struct js_doc d;
	int64_t v;
	struct zkd_broker b = { .port = 0 };
	if (parse_obj(&d, data, len, "broker znode", err, errlen) < 0)
		return -1;
	int rc = -1;
	if (get_int(&d, 0, "version", 1, INT32_MAX, &v) != 0) {
		fail(err, errlen, "broker znode: no valid \"version\"");
		goto out;
	}
	if (get_timestamp(&d, 0, &b.timestamp) < 0) {
		fail(err, errlen, "broker znode: bad \"timestamp\"");
		goto out;
	}
	int found = 0;
	int eps = js_get(&d, 0, "endpoints");
	if (eps >= 0) {
		if (js_type_of(&d, eps) != JS_ARR) {
			fail(err, errlen, "broker znode: \"endpoints\" is not an array");
			goto out;
		}
		for (int i = js_child(&d, eps); i >= 0; i = js_next(&d, eps, i)) {
			size_t n;
			char *s = js_strdup(&d, i, &n);
			char host[ZKD_HOST_MAX + 1];
			int port;
			if (!s || parse_endpoint(s, n, host, &port) < 0) {
				free(s);
				fail(err, errlen, "broker znode: bad endpoint");
				goto out;
			}
			int plaintext = strncmp(s, "PLAINTEXT://", 12) == 0;
			free(s);
			if (!found || plaintext) {
				memcpy(b.host, host, sizeof(host));
				b.port = port;
				found = 1 + plaintext;
			}
		}
	}
	if (!found) {
		int h = js_get(&d, 0, "host");
		size_t n;
		char *s = js_type_of(&d, h) == JS_STR ? js_strdup(&d, h, &n) : NULL;
		if (!s || n == 0 || n > ZKD_HOST_MAX || memchr(s, 0, n)) {
			free(s);
			fail(err, errlen, "broker znode: no endpoint and no valid \"host\"");
			goto out;
		}
		memcpy(b.host, s, n + 1);
		free(s);
		if (get_int(&d, 0, "port", 0, 65535, &v) != 0) {
			fail(err, errlen, "broker znode: no valid \"port\"");
			goto out;
		}
		b.port = (int)v;
	}
	if (get_rack(&d, b.rack) < 0) {
		fail(err, errlen, "broker znode: bad \"rack\"");
		goto out;
	}
	int t = js_get(&d, 0, "tandem");
	if (t >= 0) {
		if (js_type_of(&d, t) != JS_OBJ) {
			fail(err, errlen, "broker znode: \"tandem\" is not an object");
			goto out;
		}
		int r;
		if ((r = get_int(&d, t, "amqp", 0, 65535, &v)) < 0) {
			fail(err, errlen, "broker znode: bad \"tandem\".\"amqp\"");
			goto out;
		}
		b.amqp_port = r == 0 ? (int)v : 0;
		if ((r = get_int(&d, t, "http", 0, 65535, &v)) < 0) {
			fail(err, errlen, "broker znode: bad \"tandem\".\"http\"");
			goto out;
		}
		b.http_port = r == 0 ? (int)v : 0;
		if ((r = get_int(&d, t, "cluster", 0, 65535, &v)) < 0) {
			fail(err, errlen, "broker znode: bad \"tandem\".\"cluster\"");
			goto out;
		}
		b.cluster_port = r == 0 ? (int)v : 0;
	}
	*out = b;
	rc = 0;
out:
	js_doc_free(&d);
	return rc;
}

/* ---- /controller ------------------------------------------------------------- */

char *zkd_controller_encode(const struct zkd_controller *c, size_t *len)
{
	struct js_w w;
	js_w_init(&w);
	js_obj(&w);
	js_kint(&w, "version", 1);
	js_kint(&w, "brokerid", c->brokerid);
	put_timestamp(&w, c->timestamp);
	js_obj_end(&w);
	return finish(&w, len);
}

int zkd_controller_decode(const char *data, size_t len, struct zkd_controller *out, char *err,
			  size_t errlen)
{
	struct js_doc d;
	int64_t v;
	struct zkd_controller c = { 0 };
	if (parse_obj(&d, data, len, "controller znode", err, errlen) < 0)
		return -1;
	int rc = -1;
	if (get_int(&d, 0, "brokerid", 0, INT32_MAX, &v) != 0) {
		fail(err, errlen, "controller znode: no valid \"brokerid\"");
		goto out;
	}
	c.brokerid = (int32_t)v;
	if (get_int(&d, 0, "version", 1, INT32_MAX, &v) < 0 ||
	    get_timestamp(&d, 0, &c.timestamp) < 0) {
		fail(err, errlen, "controller znode: bad \"version\" or \"timestamp\"");
		goto out;
	}
	*out = c;
	rc = 0;
out:
	js_doc_free(&d);
	return rc;
}

/* ---- /controller_epoch ----------------------------------------------------------- */

char *zkd_epoch_encode(int32_t epoch, size_t *len)
{
	char *s = malloc(16);
	if (!s)
		return NULL;
	int n = snprintf(s, 16, "%" PRId32, epoch);
	if (len)
		*len = (size_t)n;
	return s;
}

int zkd_epoch_decode(const char *data, size_t len, int32_t *out, char *err, size_t errlen)
{
	int64_t v = 0;
	if (!data || len == 0 || len > 10)
		return fail(err, errlen, "controller epoch: not a decimal number");
	for (size_t i = 0; i < len; i++) {
		if (data[i] < '0' || data[i] > '9')
			return fail(err, errlen, "controller epoch: not a decimal number");
		v = v * 10 + (data[i] - '0');
	}
	if (v > INT32_MAX)
		return fail(err, errlen, "controller epoch: out of range");
	*out = (int32_t)v;
	return 0;
}

/* ---- /brokers/topics/T ----------------------------------------------------------------- */

void zkd_topic_free(struct zkd_topic *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->npartitions; i++)
		free(t->partitions[i].replicas);
	free(t->partitions);
	t->partitions = NULL;
	t->npartitions = 0;
}

int zkd_topic_id_new(char *out)
{
	return zkd_cluster_id_new(out); /* the same kind of id: a Kafka Uuid */
}

/* 1 when s[0..n) is a topic id as zkd_topic_id_new writes them. */
static int topic_id_ok(const char *s, size_t n)
{
	if (n != ZKD_TOPIC_ID_LEN)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return 0;
	return 1;
}

char *zkd_topic_encode(const struct zkd_topic *t, size_t *len)
{
	struct js_w w;
	char key[24];
	js_w_init(&w);
	js_obj(&w);
	js_kint(&w, "version", t->topic_id[0] ? 3 : 2); /* Kafka: 3 carries topic_id */
	if (t->topic_id[0])
		js_kstr(&w, "topic_id", t->topic_id);
	js_key(&w, "partitions");
	js_obj(&w);
	for (size_t i = 0; i < t->npartitions; i++) {
		snprintf(key, sizeof(key), "%zu", i);
		js_key(&w, key);
		put_ids(&w, t->partitions[i].replicas, t->partitions[i].nreplicas);
	}
	js_obj_end(&w);
	js_key(&w, "adding_replicas");
	js_obj(&w);
	js_obj_end(&w);
	js_key(&w, "removing_replicas");
	js_obj(&w);
	js_obj_end(&w);
	js_obj_end(&w);
	return finish(&w, len);
}

int zkd_topic_decode(const char *data, size_t len, struct zkd_topic *out, char *err,
		     size_t errlen)
{
	struct js_doc d;
	int64_t v;
	struct zkd_topic t = { 0 };
	if (parse_obj(&d, data, len, "topic znode", err, errlen) < 0)
		return -1;
	int rc = -1;
	if (get_int(&d, 0, "version", 1, INT32_MAX, &v) < 0) {
		fail(err, errlen, "topic znode: bad \"version\"");
		goto out;
	}
	int id = js_get(&d, 0, "topic_id");
	if (id >= 0) {
		size_t n = 0;
		char *s = js_type_of(&d, id) == JS_STR ? js_strdup(&d, id, &n) : NULL;
		int ok = s && topic_id_ok(s, n);
		if (ok)
			memcpy(t.topic_id, s, n + 1);
		free(s);
		if (!ok) {
			fail(err, errlen, "topic znode: bad \"topic_id\"");
			goto out;
		}
	}
	int parts = js_get(&d, 0, "partitions");
	if (js_type_of(&d, parts) != JS_OBJ || d.n[parts].count == 0) {
		fail(err, errlen, "topic znode: no \"partitions\" object");
		goto out;
	}
	t.npartitions = d.n[parts].count;
	t.partitions = calloc(t.npartitions, sizeof(*t.partitions));
	if (!t.partitions) {
		t.npartitions = 0;
		fail(err, errlen, "topic znode: out of memory");
		goto out;
	}
	for (int k = js_child(&d, parts); k >= 0;) {
		int val = js_next(&d, parts, k); /* a member's value follows its key */
		char *name = js_strdup(&d, k, NULL);
		int32_t p;
		int ok = val >= 0 && name && zkd_parse_id(name, &p) == 0 && (size_t)p < t.npartitions;
		free(name);
		if (!ok) {
			fail(err, errlen, "topic znode: partitions must be numbered 0..%zu",
			     t.npartitions - 1);
			goto out;
		}
		if (t.partitions[p].replicas) {
			fail(err, errlen, "topic znode: partition %" PRId32 " twice", p);
			goto out;
		}
		if (get_ids(&d, val, 0, &t.partitions[p].replicas, &t.partitions[p].nreplicas) < 0) {
			fail(err, errlen,
			     "topic znode: partition %" PRId32 ": replicas must be distinct broker ids",
			     p);
			goto out;
		}
		k = js_next(&d, parts, val);
	}
	for (size_t i = 0; i < 2; i++) { /* written empty; must be objects when there */
		int r = js_get(&d, 0, i ? "removing_replicas" : "adding_replicas");
		if (r >= 0 && js_type_of(&d, r) != JS_OBJ) {
			fail(err, errlen, "topic znode: \"%s\" is not an object",
			     i ? "removing_replicas" : "adding_replicas");
			goto out;
		}
	}
	*out = t;
	memset(&t, 0, sizeof(t));
	rc = 0;
out:
	zkd_topic_free(&t);
	js_doc_free(&d);
	return rc;
}

/* ---- /brokers/topics/T/partitions/P/state ----------------------------------- */

void zkd_partition_state_free(struct zkd_partition_state *s)
{
	if (!s)
		return;
	free(s->isr);
	s->isr = NULL;
	s->nisr = 0;
}

char *zkd_partition_state_encode(const struct zkd_partition_state *s, size_t *len)
{
	struct js_w w;
	js_w_init(&w);
	js_obj(&w);
	js_kint(&w, "controller_epoch", s->controller_epoch);
	js_kint(&w, "leader", s->leader);
	js_kint(&w, "version", 1);
	js_kint(&w, "leader_epoch", s->leader_epoch);
	js_key(&w, "isr");
	put_ids(&w, s->isr, s->nisr);
	js_obj_end(&w);
	return finish(&w, len);
}

int zkd_partition_state_decode(const char *data, size_t len, struct zkd_partition_state *out,
			       char *err, size_t errlen)
{
	struct js_doc d;
	int64_t ce, leader, le, v;
	struct zkd_partition_state s = { 0 };
	if (parse_obj(&d, data, len, "partition state znode", err, errlen) < 0)
		return -1;
	int rc = -1;
	if (get_int(&d, 0, "controller_epoch", 0, INT32_MAX, &ce) != 0 ||
	    get_int(&d, 0, "leader", -1, INT32_MAX, &leader) != 0 ||
	    get_int(&d, 0, "leader_epoch", 0, INT32_MAX, &le) != 0 ||
	    get_int(&d, 0, "version", 1, INT32_MAX, &v) < 0) {
		fail(err, errlen,
		     "partition state znode: needs integer \"controller_epoch\", \"leader\" and "
		     "\"leader_epoch\"");
		goto out;
	}
	if (get_ids(&d, js_get(&d, 0, "isr"), 1, &s.isr, &s.nisr) < 0) {
		fail(err, errlen, "partition state znode: \"isr\" must be distinct broker ids");
		goto out;
	}
	s.controller_epoch = (int32_t)ce;
	s.leader = (int32_t)leader;
	s.leader_epoch = (int32_t)le;
	*out = s;
	memset(&s, 0, sizeof(s));
	rc = 0;
out:
	zkd_partition_state_free(&s);
	js_doc_free(&d);
	return rc;
}

/* ---- /config/topics/T ------------------------------------------------------------- */

void zkd_config_free(struct zkd_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++) {
		free(c->keys ? c->keys[i] : NULL);
		free(c->values ? c->values[i] : NULL);
	}
	free(c->keys);
	free(c->values);
	c->keys = c->values = NULL;
	c->n = 0;
}

const char *zkd_config_get(const struct zkd_config *c, const char *key)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->keys[i], key) == 0)
			return c->values[i];
	return NULL;
}

char *zkd_config_encode(const struct zkd_config *c, size_t *len)
{
	struct js_w w;
	js_w_init(&w);
	js_obj(&w);
	js_kint(&w, "version", 1);
	js_key(&w, "config");
	js_obj(&w);
	for (size_t i = 0; i < c->n; i++)
		js_kstr(&w, c->keys[i], c->values[i]);
	js_obj_end(&w);
	js_obj_end(&w);
	return finish(&w, len);
}

int zkd_config_decode(const char *data, size_t len, struct zkd_config *out, char *err,
		      size_t errlen)
{
	struct js_doc d;
	int64_t v;
	struct zkd_config c = { 0 };
	if (parse_obj(&d, data, len, "topic config znode", err, errlen) < 0)
		return -1;
	int rc = -1;
	int cfg = js_get(&d, 0, "config");
	if (get_int(&d, 0, "version", 1, INT32_MAX, &v) < 0 || js_type_of(&d, cfg) != JS_OBJ) {
		fail(err, errlen, "topic config znode: no \"config\" object");
		goto out;
	}
	size_t n = d.n[cfg].count;
	if (n) {
		c.keys = calloc(n, sizeof(char *));
		c.values = calloc(n, sizeof(char *));
		if (!c.keys || !c.values) {
			fail(err, errlen, "topic config znode: out of memory");
			goto out;
		}
	}
	for (int k = js_child(&d, cfg); k >= 0;) {
		int val = js_next(&d, cfg, k);
		size_t kl = 0, vl = 0;
		if (val < 0 || js_type_of(&d, val) != JS_STR || c.n >= n) {
			fail(err, errlen, "topic config znode: values must be strings");
			goto out;
		}
		c.keys[c.n] = js_strdup(&d, k, &kl);
		c.values[c.n] = js_strdup(&d, val, &vl);
		c.n++;
		if (!c.keys[c.n - 1] || !c.values[c.n - 1]) {
			fail(err, errlen, "topic config znode: out of memory");
			goto out;
		}
		if (memchr(c.keys[c.n - 1], 0, kl) || memchr(c.values[c.n - 1], 0, vl)) {
			fail(err, errlen, "topic config znode: NUL in a key or value");
			goto out;
		}
		for (size_t i = 0; i + 1 < c.n; i++)
			if (strcmp(c.keys[i], c.keys[c.n - 1]) == 0) {
				fail(err, errlen, "topic config znode: key \"%s\" twice",
				     c.keys[i]);
				goto out;
			}
		k = js_next(&d, cfg, val);
	}
	*out = c;
	memset(&c, 0, sizeof(c));
	rc = 0;
out:
	zkd_config_free(&c);
	js_doc_free(&d);
	return rc;
}

/* ---- /cluster/id ------------------------------------------------------------------- */

char *zkd_cluster_id_encode(const char *id, size_t *len)
{
	struct js_w w;
	js_w_init(&w);
	js_obj(&w);
	js_kstr(&w, "version", "1");
	js_kstr(&w, "id", id);
	js_obj_end(&w);
	return finish(&w, len);
}

int zkd_cluster_id_decode(const char *data, size_t len, char out[ZKD_CLUSTER_ID_MAX + 1],
			  char *err, size_t errlen)
{
	struct js_doc d;
	if (parse_obj(&d, data, len, "cluster id znode", err, errlen) < 0)
		return -1;
	int rc = -1;
	int i = js_get(&d, 0, "id");
	size_t n = 0;
	char *id = js_type_of(&d, i) == JS_STR ? js_strdup(&d, i, &n) : NULL;
	if (!id || n == 0 || n > ZKD_CLUSTER_ID_MAX || memchr(id, 0, n)) {
		fail(err, errlen, "cluster id znode: no valid \"id\"");
		goto out;
	}
	memcpy(out, id, n + 1);
	rc = 0;
out:
	free(id);
	js_doc_free(&d);
	return rc;
}

int zkd_cluster_id_new(char out[23])
{
	unsigned char b[16];
	size_t got = 0;
	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)n;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* a version 4 UUID, as Java's */
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	char tmp[32];
	size_t n = tu_b64url_encode(b, sizeof(b), tmp);
	if (n < 22)
		return -1;
	memcpy(out, tmp, 22);
	out[22] = 0;
	return 0;
}
