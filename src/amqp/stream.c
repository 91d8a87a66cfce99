/*
 * Stream queues over AMQP 0-9-1, as RabbitMQ 3.10 has them
 * (x-queue-type: stream), over the broker's logs (core/stream.h):
 *  - declaration: arguments and properties checked with RabbitMQ's
 *    answers, retention arguments turned into topic configs, and tandem's
 *    bridge arguments (x-log-topic, x-partition-key, x-log-partitions);
 *  - publishing: an AMQP message becomes a record (the broker's
 *    stream_append hook);
 *  - consuming: x-stream-offset, the prefetch RabbitMQ requires, and
 *    records turned back into deliveries with an x-stream-offset header.
 *
 * Message <-> record mapping (README "Stream queues"):
 *   key        routing key                      <-> routing key (if <= 255 bytes)
 *   value      body                             <-> body
 *   timestamp  append time (as RabbitMQ's chunk  -> AMQP timestamp (s) when the
 *              timestamps, for x-stream-offset     record has no AMQP properties
 *              by time and x-max-age)
 *   headers    x-amqp-properties: the basic properties in wire form (flags +
 *              list) so AMQP consumers get them back unchanged;
 *              x-amqp-exchange: the exchange published to (absent for "");
 *              content-type, content-encoding, correlation-id, reply-to,
 *              expiration, message-id, type, user-id, app-id as text;
 *              every longstr entry of the `headers` table under its name.
 *   A record without x-amqp-properties (a Kafka producer's) is delivered
 *   with a `headers` table holding each record header as a longstr.
 *   Only this front end can write x-amqp-* headers (core/topics.h:
 *   TDM_TOPICS_RESERVED_HEADER_PREFIX; Kafka's Produce is refused them), so
 *   the properties of x-amqp-properties, user_id included, are the ones the
 *   publish path checked.
 *
 * May depend on: amqp/am.h (the codec, core/broker.h, net/net.h) and other
 * core/ headers.  Must not depend on: other front ends, logstore/ (core is
 * its only door), libevent other than through net/net.h.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "amqp/am.h"
#include "core/auth.h"
#include "core/log.h"
#include "core/qargs.h"
#include "core/quorum.h"
#include "core/remote.h"
#include "core/replica.h"
#include "core/stream.h"
#include "core/topic_ops.h"

#define HDR_PROPS "x-amqp-properties"
#define HDR_EXCHANGE "x-amqp-exchange"
#define HDR_STACK 32
#define DECLARE_TIMEOUT_MS 30000 /* a cluster topic not ready by then: 541 */
#define DECLARE_POLL_MS 20

static int bytes_is(struct am_bytes b, const char *s)
{
	size_t n = strlen(s);
	return b.len == n && memcmp(b.ptr, s, n) == 0;
}

/* ---- declaration ----------------------------------------------------------------- */

/* tandem's own declaration arguments, compared on redeclare like RabbitMQ's. */
const char *const am_stream_arg_keys[] = { "x-log-topic", "x-partition-key", "x-log-partitions",
					   NULL };

int am_stream_declare_args(struct am_conn *c, const struct am_queue_declare *d, const char *queue,
			   struct tdm_queue_settings *qa, struct tdm_stream_spec *sp,
			   uint32_t method, struct am_err *err)
{
	struct tdm_err te;
	if (tdm_qargs_stream(c->vhost, c->user, queue, d->queue.len, d->durable, d->exclusive,
			     d->auto_delete, d->arguments.ptr, d->arguments.len, qa, sp, &te) != TDM_OK)
		return am_fail_core(err, &te, method);
	return 0;
}

/* ---- declaration in a cluster: declare-ok once the topic is ready -------------- */

/* A queue.declare answered once the stream's cluster topic exists here
 * with a leader.  The connection's input is held meanwhile (as an alarm
 * holds it), so the client's next methods wait for the answer. */
struct decl_park {
	struct decl_park *next;
	struct am_conn *c;             /* borrowed: am_stream_conn_gone unlinks us */
	uint16_t channel;
	uint8_t no_wait;
	uint64_t deadline_ms;
	struct event *timer;           /* owned */
	size_t name_len;
	char name[256];
};

static struct decl_park *parks;

/* 1 when a stream or quorum queue can be used (its log is ready). */
static int queue_ready(struct tdm_queue *q, const char **why)
{
	*why = "";
	if (q->stream)
		return tdm_stream_ready(q, why);
	return q->quorum ? tdm_quorum_ready(q, why) : 1;
}

static void park_free(struct decl_park *p)
{
	p->c->parked = 0;
	for (struct decl_park **pp = &parks; *pp; pp = &(*pp)->next)
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	if (p->timer)
		event_free(p->timer);
	free(p);
}

static void park_poll(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct decl_park *p = arg;
	struct am_conn *c = p->c;
	struct am_channel *ch = am_channel_get(c, p->channel);
	struct tdm_queue *q = tdm_map_get(&c->vhost->queues, p->name, p->name_len);
	const char *why = "";
	struct am_err err;
	if (c->state != AM_S_RUNNING || c->net->closing) {
		park_free(p);
		return;
	}
	int ready = q ? queue_ready(q, &why) : 1;
	if (!ready && tdm_now_ms() < p->deadline_ms) {
		struct timeval tv = { 0, DECLARE_POLL_MS * 1000 };
		evtimer_add(p->timer, &tv);
		return;
	}
	uint8_t no_wait = p->no_wait;
	park_free(p);
	if (!c->blocked)
		tdm_conn_pause_reading(c->net, 0);
	if (!ch || ch->state != AM_CH_OPEN)
		return;
	if (!q) {
		am_fail(&err, AM_NOT_FOUND, AM_QUEUE_DECLARE, "no queue in vhost '%s'",
			c->vhost->name);
		am_raise(c, ch, &err);
		return;
	}
	if (!ready) { /* rabbit_stream_queue:declare's answer when it cannot start one */
		am_fail(&err, AM_INTERNAL_ERROR, AM_QUEUE_DECLARE,
			"Cannot declare a queue 'queue '%s' in vhost '%s'' on node '%d': "
			"its cluster topic is not ready after %d s: %s",
			q->name, c->vhost->name, (int)tdm_replica_node_id(c->broker->replica),
			DECLARE_TIMEOUT_MS / 1000, why);
		tdm_warn("amqp", "connection %s: %s", c->net->peer, err.text);
		am_raise(c, ch, &err);
		return;
	}
	if (q->remote) { /* a quorum queue led elsewhere: its leader counts */
		if (am_remote_counted(c, ch, q, AM_QUEUE_DECLARE, no_wait, &err) < 0)
			am_raise(c, ch, &err);
		return;
	}
	if (no_wait)
		return;
	struct am_method ok = { .id = AM_QUEUE_DECLARE_OK };
	ok.u.queue_declare_ok.queue = (struct am_bytes){ (const uint8_t *)q->name, q->name_len };
	ok.u.queue_declare_ok.message_count =
		(uint32_t)(q->stream ? tdm_stream_count(q) : tdm_queue_ready(q));
	ok.u.queue_declare_ok.consumer_count = q->nconsumers;
	am_send_method(c, ch->id, &ok);
}

int am_stream_declared(struct am_conn *c, struct am_channel *ch, struct tdm_queue *q,
		       int no_wait, struct am_err *err)
{
	const char *why;
	if (queue_ready(q, &why))
		return 1;
	struct decl_park *p = calloc(1, sizeof(*p));
	if (p)
		p->timer = evtimer_new(tdm_net_base(c->net->net), park_poll, p);
	if (!p || !p->timer) {
		free(p);
		return am_fail(err, AM_INTERNAL_ERROR, AM_QUEUE_DECLARE, "out of memory");
	}
	p->c = c;
	p->channel = ch->id;
	p->no_wait = (uint8_t)no_wait;
	p->deadline_ms = tdm_now_ms() + DECLARE_TIMEOUT_MS;
	p->name_len = q->name_len;
	memcpy(p->name, q->name, q->name_len);
	p->next = parks;
	parks = p;
	c->parked = 1;
	tdm_conn_pause_reading(c->net, 1);
	struct timeval tv = { 0, DECLARE_POLL_MS * 1000 };
	evtimer_add(p->timer, &tv);
	return 0;
}

void am_stream_conn_gone(struct am_conn *c)
{
	struct decl_park *p = parks, *next;
	for (; p; p = next) {
		next = p->next;
		if (p->c == c)
			park_free(p);
	}
}

/* ---- publishing: message -> record ---------------------------------------------- */

/* The cluster appends of the publish under way (am_stream_collect_begin). */
static struct am_repl_wait *collected;
static int collecting;

void am_stream_collect_begin(void)
{
	collecting = 1;
	collected = NULL;
}

struct am_repl_wait *am_stream_collect_end(void)
{
	struct am_repl_wait *w = collected;
	collecting = 0;
	collected = NULL;
	return w;
}

int am_stream_collect_add(struct am_repl_wait *w)
{
	if (!collecting)
		return 0;
	w->next = collected;
	collected = w;
	return 1;
}

int am_stream_collecting(void)
{
	return collecting;
}

void am_repl_wait_free(struct am_repl_wait *w)
{
	while (w) {
		struct am_repl_wait *next = w->next;
		tdm_replica_op_forget(w->op); /* the leader's answer has nobody to tell */
		tdm_remote_forget(w->rop);
		free(w);
		w = next;
	}
}

int am_repl_wait_state(struct tdm_broker *b, const struct am_repl_wait *w)
{
	int pending = 0;
	for (; w; w = w->next) {
		int rc = w->forwarded ? w->fwd_rc
				      : tdm_stream_acked(b, w->topic, w->partition, w->offset);
		if (rc < 0)
			return rc;
		pending |= rc == 1;
	}
	return pending ? 1 : TDM_REPL_OK;
}

/* A wait for a record of q's topic, or NULL (out of memory). */
static struct am_repl_wait *wait_new(struct tdm_queue *q)
{
	struct tdm_stream_spec sp;
	tdm_stream_get_spec(q, &sp);
	size_t n = sp.topic ? strlen(sp.topic) : 0;
	struct am_repl_wait *w = calloc(1, sizeof(*w) + n + 1);
	if (w && n)
		memcpy(w->topic, sp.topic, n + 1);
	return w;
}

/* The leader answered a forwarded publish (arg: its wait, or NULL when
 * nobody asks for a confirm). */
static void forwarded(void *arg, int rc, const char *msg)
{
	struct am_repl_wait *w = arg;
	if (rc != TDM_REPL_OK)
		tdm_debug("stream", "forwarded publish: %s", msg && *msg ? msg : tdm_replica_strerror(rc));
	if (!w)
		return;
	w->fwd_rc = rc;
	am_confirms_kick();
}

/* Appends rec to q's topic here, or, in a cluster, sends it to the
 * partition's leader when this node does not lead it; keeps what the
 * publisher's confirm waits for (the ISR having the record, or the
 * leader's answer).  0, or -1: the publish is nacked (never confirmed
 * unreplicated). */
static int publish(struct tdm_queue *q, const struct tdm_record *rec, const void *pkey,
		   size_t klen)
{
	if (!q->vhost->broker->replica) /* one node: confirmed once fsynced */
		return tdm_stream_publish(q, rec, pkey, klen, NULL, NULL, NULL) == 0 ? 0 : -1;
	/* no wait when nobody asks: a transaction's commit of a non-confirm channel */
	struct am_repl_wait *w = collecting ? wait_new(q) : NULL;
	if (collecting && !w)
		return -1;
	struct tdm_stream_forward fwd = { forwarded, w, w ? &w->op : NULL };
	int32_t part = 0;
	uint64_t off = 0;
	if (w)
		w->fwd_rc = 1; /* the answer comes later, never during the call */
	int rc = tdm_stream_publish(q, rec, pkey, klen, &fwd, &part, &off);
	if (rc < 0) {
		free(w);
		return -1;
	}
	if (w) {
		w->forwarded = rc == TDM_STREAM_FORWARDED;
		w->partition = part;
		w->offset = off;
		w->next = collected;
		collected = w;
	}
	return 0;
}

struct hdr_list {
	struct tdm_header *h;
	size_t n, cap;
};

static void hdr_add(struct hdr_list *l, const char *key, size_t klen, const void *val, size_t vlen)
{
	if (l->n == l->cap)
		return;
	l->h[l->n++] = (struct tdm_header){ key, klen, vlen ? val : "", vlen };
}

/* The partition key of m for q's topic: the routing key, or the value of
 * a header (text; integers in decimal); NULL when the header is absent. */
static const void *partition_key(const struct tdm_stream_spec *sp, const struct tdm_message *m,
				 const struct am_basic_props *p, size_t *len, char *num, size_t numlen)
{
	if (sp->pkey == TDM_PKEY_ROUTING_KEY) {
		*len = m->routing_key_len;
		return m->routing_key;
	}
	if (!(p->flags & AM_P_HEADERS) || sp->pkey_header_len > 255)
		return NULL;
	char key[256];
	struct am_value v;
	int64_t i;
	memcpy(key, sp->pkey_header, sp->pkey_header_len);
	key[sp->pkey_header_len] = '\0';
	if (!am_table_get(p->headers, key, &v))
		return NULL;
	if (v.type == 'S' || v.type == 'x') {
		*len = v.v.bytes.len;
		return v.v.bytes.len ? (const void *)v.v.bytes.ptr : "";
	}
	if (v.type == 'T' || am_int_value(&v, &i) == 0) {
		if (v.type == 'T')
			*len = (size_t)snprintf(num, numlen, "%llu", (unsigned long long)v.v.u);
		else
			*len = (size_t)snprintf(num, numlen, "%lld", (long long)i);
		return num;
	}
	*len = v.raw.len; /* anything else: its wire form */
	return v.raw.ptr;
}

static int stream_append(void *ctx, struct tdm_queue *q, struct tdm_message *m)
{
	(void)ctx;
	struct am_content_header h;
	if (m->header_len < 14 || am_content_header_decode(m->header, m->header_len, &h) != AM_OK)
		return -1;
	const struct am_basic_props *p = &h.props;
	static const struct { uint16_t flag; const char *name; size_t off; } texts[] = {
		{ AM_P_CONTENT_TYPE, "content-type", offsetof(struct am_basic_props, content_type) },
		{ AM_P_CONTENT_ENCODING, "content-encoding", offsetof(struct am_basic_props, content_encoding) },
		{ AM_P_CORRELATION_ID, "correlation-id", offsetof(struct am_basic_props, correlation_id) },
		{ AM_P_REPLY_TO, "reply-to", offsetof(struct am_basic_props, reply_to) },
		{ AM_P_EXPIRATION, "expiration", offsetof(struct am_basic_props, expiration) },
		{ AM_P_MESSAGE_ID, "message-id", offsetof(struct am_basic_props, message_id) },
		{ AM_P_TYPE, "type", offsetof(struct am_basic_props, type) },
		{ AM_P_USER_ID, "user-id", offsetof(struct am_basic_props, user_id) },
		{ AM_P_APP_ID, "app-id", offsetof(struct am_basic_props, app_id) },
	};
	size_t ntexts = sizeof(texts) / sizeof(texts[0]);
	size_t want = 2 + ntexts + ((p->flags & AM_P_HEADERS) ? am_table_count(p->headers) : 0);
	struct tdm_header stack[HDR_STACK];
	struct hdr_list l = { stack, 0, HDR_STACK };
	if (want > HDR_STACK && (l.h = malloc(want * sizeof(*l.h))) != NULL)
		l.cap = want;
	else if (want > HDR_STACK)
		l.h = stack; /* short of memory: the first HDR_STACK headers */
	hdr_add(&l, HDR_PROPS, strlen(HDR_PROPS), m->header + 12, m->header_len - 12);
	if (m->exchange_len)
		hdr_add(&l, HDR_EXCHANGE, strlen(HDR_EXCHANGE), m->exchange, m->exchange_len);
	for (size_t i = 0; i < ntexts; i++) {
		if (!(p->flags & texts[i].flag))
			continue;
		const struct am_bytes *b = (const void *)((const char *)p + texts[i].off);
		hdr_add(&l, texts[i].name, strlen(texts[i].name), b->ptr, b->len);
	}
	if (p->flags & AM_P_HEADERS) {
		struct am_table_iter it;
		struct am_bytes key;
		struct am_value v;
		am_table_iter_init(&it, p->headers);
		while (am_table_next(&it, &key, &v))
			if (v.type == 'S')
				hdr_add(&l, (const char *)key.ptr, key.len, v.v.bytes.ptr, v.v.bytes.len);
	}
	struct tdm_stream_spec sp;
	tdm_stream_get_spec(q, &sp);
	char num[32];
	size_t klen = 0;
	const void *pkey = partition_key(&sp, m, p, &klen, num, sizeof(num));
	struct tdm_record rec = {
		.key = m->routing_key, .key_len = m->routing_key_len,
		.value = m->body_len ? (const void *)m->body : "", .value_len = m->body_len,
		.headers = l.h, .header_count = l.n,
		.timestamp = -1, /* append time, as RabbitMQ stamps chunks */
	};
	int rc = publish(q, &rec, pkey, klen);
	if (l.h != stack)
		free(l.h);
	return rc;
}

/* A quorum queue here appended a message at offset of its log: the
 * publisher's confirm waits for the log's in-sync replicas. */
static int quorum_appended(void *ctx, struct tdm_queue *q, uint64_t offset)
{
	(void)ctx;
	if (!collecting)
		return 0;
	const char *topic = tdm_quorum_topic(q);
	size_t n = strlen(topic);
	struct am_repl_wait *w = calloc(1, sizeof(*w) + n + 1);
	if (!w)
		return -1;
	memcpy(w->topic, topic, n + 1);
	w->offset = offset;
	w->next = collected;
	collected = w;
	return 0;
}

void am_stream_install(struct tdm_broker *b)
{
	b->stream_append = stream_append;
	b->stream_append_ctx = NULL;
	b->quorum_appended = quorum_appended;
	b->quorum_appended_ctx = NULL;
}

/* ---- consuming ---------------------------------------------------------------------- */

int am_stream_consume_args(struct am_conn *c, struct am_channel *ch, struct tdm_queue *q,
			   const struct am_basic_consume *b, uint32_t method,
			   struct am_stream_start *st, struct am_err *err)
{
	const char *vhost = c->vhost->name;
	struct am_value v;
	st->from = TDM_FROM_NEXT;
	st->value = 0;
	st->partition = 0;
	if (am_table_get(b->arguments, "x-stream-offset", &v)) {
		int64_t i;
		if (v.type == 'S' && bytes_is(v.v.bytes, "first")) {
			st->from = TDM_FROM_FIRST;
		} else if (v.type == 'S' && bytes_is(v.v.bytes, "last")) {
			st->from = TDM_FROM_LAST;
		} else if (v.type == 'S' && bytes_is(v.v.bytes, "next")) {
			st->from = TDM_FROM_NEXT;
		} else if (v.type == 'S' && tdm_qargs_parse_age((const char *)v.v.bytes.ptr, v.v.bytes.len, &i) == 0) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			st->from = TDM_FROM_TIME;
			st->value = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - i;
		} else if (v.type == 'T') {
			st->from = TDM_FROM_TIME;
			st->value = v.v.u > INT64_MAX / 1000 ? INT64_MAX : (int64_t)v.v.u * 1000;
		} else if (am_int_value(&v, &i) == 0) {
			st->from = TDM_FROM_OFFSET;
			st->value = i;
		} else {
			char shown[80];
			if (v.type == 'S')
				snprintf(shown, sizeof(shown), "<<\"%.*s\">>",
					 (int)(v.v.bytes.len > 40 ? 40 : v.v.bytes.len),
					 (const char *)v.v.bytes.ptr);
			else
				snprintf(shown, sizeof(shown), "...");
			return am_fail(err, AM_PRECONDITION_FAILED, method,
				       "invalid arg 'x-stream-offset' for queue '%s' in vhost '%s': "
				       "{invalid_stream_offset_arg,{%s,%s}}",
				       q->name, vhost, am_type_word(v.type), shown);
		}
	}
	if (am_table_get(b->arguments, "x-stream-partition", &v)) { /* tandem: multi-partition topics */
		struct ls_topic *tp = tdm_stream_topic(q);
		int64_t i;
		if (am_int_value(&v, &i) < 0 || i < 0 || !tp || i >= tdm_topic_partitions(tp))
			return am_fail(err, AM_PRECONDITION_FAILED, method,
				       "invalid arg 'x-stream-partition' for queue '%s' in vhost '%s': "
				       "no such partition",
				       q->name, vhost);
		st->partition = (int32_t)i;
	}
	/* RabbitMQ's order: the offset argument, the prefetch, then auto-ack */
	if (!ch->prefetch_consumer)
		return am_fail(err, AM_PRECONDITION_FAILED, method,
			       "consumer prefetch count is not set for 'queue '%s' in vhost '%s''",
			       q->name, vhost);
	if (b->no_ack) /* a connection error in RabbitMQ */
		return am_fail(err, AM_NOT_IMPLEMENTED, method,
			       "automatic acknowledgement not supported by stream queues queue '%s' "
			       "in vhost '%s'",
			       q->name, vhost);
	return 0;
}

/* Copies a record header key into a C string for the table builder; NULL
 * when it cannot be an AMQP field name. */
static const char *field_key(char out[256], const char *k, size_t len)
{
	if (len > 255)
		return NULL;
	memcpy(out, k, len);
	out[len] = '\0';
	return out;
}

/* The content header of the delivery of rec: its AMQP properties (or ones
 * made from its record headers) with x-stream-offset added to `headers`.
 * Returns a malloc'd payload and its length, or NULL. */
static uint8_t *delivery_header(const struct tdm_record *rec, size_t *out_len)
{
	const struct tdm_header *raw = NULL;
	for (size_t i = 0; i < rec->header_count && !raw; i++)
		if (rec->headers[i].key_len == strlen(HDR_PROPS) && rec->headers[i].value &&
		    memcmp(rec->headers[i].key, HDR_PROPS, strlen(HDR_PROPS)) == 0)
			raw = &rec->headers[i];
	size_t cap = 256;
	for (size_t i = 0; i < rec->header_count; i++)
		cap += rec->headers[i].key_len + rec->headers[i].value_len + 8;
	uint8_t *tmp = malloc(14 + (raw ? raw->value_len : 0) + 2 * cap);
	if (!tmp)
		return NULL;
	struct am_content_header h;
	struct am_basic_props props = { 0 };
	int have_raw = 0;
	if (raw) { /* a published AMQP message: its own properties */
		memset(tmp, 0, 12);
		tmp[0] = 0, tmp[1] = 60; /* class basic; weight and size do not matter here */
		memcpy(tmp + 12, raw->value, raw->value_len);
		if (am_content_header_decode(tmp, 12 + raw->value_len, &h) == AM_OK) {
			props = h.props;
			have_raw = 1;
		}
	}
	uint8_t *tbuf = tmp + 14 + (raw ? raw->value_len : 0);
	struct am_tb tb;
	char k[256];
	am_tb_init(&tb, tbuf, cap);
	if (have_raw) {
		if (props.flags & AM_P_HEADERS) {
			struct am_table_iter it;
			struct am_bytes key;
			struct am_value v;
			am_table_iter_init(&it, props.headers);
			while (am_table_next(&it, &key, &v))
				if (!bytes_is(key, "x-stream-offset") &&
				    field_key(k, (const char *)key.ptr, key.len))
					am_tb_raw(&tb, k, v.type, v.raw.ptr, v.raw.len);
		}
	} else { /* a Kafka producer's record: its headers as longstr entries */
		for (size_t i = 0; i < rec->header_count; i++) {
			const struct tdm_header *rh = &rec->headers[i];
			if (!field_key(k, rh->key, rh->key_len) || !strcmp(k, "x-stream-offset"))
				continue;
			if (rh->value)
				am_tb_str(&tb, k, rh->value, rh->value_len);
			else
				am_tb_raw(&tb, k, 'V', NULL, 0);
		}
		if (rec->timestamp >= 0) {
			props.flags |= AM_P_TIMESTAMP;
			props.timestamp = (uint64_t)rec->timestamp / 1000;
		}
	}
	am_tb_long(&tb, "x-stream-offset", (int64_t)rec->offset);
	struct am_bytes table;
	if (am_tb_finish(&tb, &table) != AM_OK) {
		free(tmp);
		return NULL;
	}
	props.flags |= AM_P_HEADERS;
	props.headers = table;
	size_t hcap = 14 + (raw ? raw->value_len : 0) + cap + 64;
	uint8_t *out = malloc(hcap);
	if (!out || am_content_header_encode(rec->value_len, &props, out, hcap, out_len) != AM_OK) {
		free(out);
		out = NULL;
	}
	free(tmp);
	return out;
}

/* The record as a message (refcount 1), or NULL. */
static struct tdm_message *record_message(const struct tdm_record *rec)
{
	const char *x = "";
	size_t xlen = 0;
	for (size_t i = 0; i < rec->header_count; i++) {
		const struct tdm_header *rh = &rec->headers[i];
		if (rh->key_len == strlen(HDR_EXCHANGE) && rh->value && rh->value_len <= 255 &&
		    memcmp(rh->key, HDR_EXCHANGE, rh->key_len) == 0) {
			x = rh->value;
			xlen = rh->value_len;
			break;
		}
	}
	const char *rk = rec->key && rec->key_len <= 255 ? rec->key : "";
	size_t rklen = rec->key && rec->key_len <= 255 ? rec->key_len : 0;
	size_t hlen;
	uint8_t *hdr = delivery_header(rec, &hlen);
	if (!hdr)
		return NULL;
	struct tdm_message *m = tdm_message_new(x, xlen, rk, rklen, hdr, hlen, rec->value_len);
	free(hdr);
	if (!m)
		return NULL;
	if (rec->value_len)
		memcpy(m->body, rec->value, rec->value_len);
	struct am_content_header h;
	if (am_content_header_decode(m->header, m->header_len, &h) == AM_OK) {
		m->persistent = (h.props.flags & AM_P_DELIVERY_MODE) && h.props.delivery_mode == 2;
		m->priority = (h.props.flags & AM_P_PRIORITY) ? h.props.priority : 0;
	}
	return m;
}

void am_stream_deliver(struct tdm_consumer *tc, struct tdm_queue *q, const struct tdm_record *rec)
{
	struct am_consumer *cons = (struct am_consumer *)tc;
	struct am_channel *ch = cons->ch;
	struct tdm_message *msg = record_message(rec);
	if (!msg) {
		tdm_warn("stream", "queue '%s': cannot make a delivery of offset %llu (memory)",
			 q->name, (unsigned long long)rec->offset);
		q->unacked--; /* counted by the read that handed it over */
		return;
	}
	struct am_conn *c = ch->conn;
	struct am_method d = { .id = AM_BASIC_DELIVER };
	d.u.basic_deliver.consumer_tag = (struct am_bytes){ (const uint8_t *)cons->tag, cons->tag_len };
	d.u.basic_deliver.exchange = (struct am_bytes){ (const uint8_t *)msg->exchange, msg->exchange_len };
	d.u.basic_deliver.routing_key =
		(struct am_bytes){ (const uint8_t *)msg->routing_key, msg->routing_key_len };
	tdm_message_ref(msg); /* the entry below holds the first reference */
	d.u.basic_deliver.delivery_tag =
		am_track(ch, q, (struct tdm_qentry){ .msg = msg, .seq = rec->offset }, cons);
	am_send_method(c, ch->id, &d);
	am_send_content(c, ch->id, msg);
	tdm_message_unref(msg);
}
