/*
 * The cluster's AMQP client (src/cluster/amc.h) against a real
 * tandemd, the client running in this process on its own event base:
 *
 * - requests made before the connection is up wait and go in order; a
 *   queue is declared with tdm_amc_call; 1000 publishes in confirm mode
 *   are all acked, and their properties and bodies (a 300 KiB one that
 *   spans frames included) come back byte for byte through one basic.get
 *   and a consumer under basic.qos prefetch 10 acking singly and
 *   multiply;
 * - prefetch holds deliveries at 10; nack with requeue redelivers
 *   (redelivered = 1) at the head; reject drops; basic.cancel answered
 *   drops the consumer; get-empty at the end;
 * - consuming a missing queue: 404 to the consume's ok callback, then the
 *   channel's closed callback; the connection goes on (a new channel
 *   works); an unroutable mandatory publish comes back (312); a queue
 *   deleted under a consumer cancels it (the server's basic.cancel);
 * - a wrong password is reported as 403; heartbeats keep an idle
 *   connection up; freeing the connection and a channel from inside
 *   callbacks fails what is pending there and then, and nothing after;
 * - tandemd killed: lost once, every pending confirm and request failed
 *   once, the channel's closed callback once;
 * - a fake peer sending malformed frames (a bad type, a size over
 *   frame_max, a bad frame end, a truncated method, a body longer than its
 *   header, an answer to nothing): the connection fails with the reason;
 *   answers out of order (RabbitMQ's cancel-ok after a later get-empty)
 *   go to their own requests; a peer gone silent is given up after two
 *   heartbeat intervals.
 */
#include "harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "amqp/codec.h"
#include "cluster/amc.h"

static struct event_base *base;
static struct event *tick;
static pid_t main_pid;

/* Runs the loop until cond holds, at most ms (a 10 ms tick bounds each turn). */
#define RUN_UNTIL(cond, ms) \
	do { \
		uint64_t dl_ = th_now_ms() + (ms); \
		while (!(cond) && th_now_ms() < dl_) \
			event_base_loop(base, EVLOOP_ONCE); \
	} while (0)

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what, (void)arg;
}

static void setup(void)
{
	struct timeval tv = { 0, 10000 };
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	tick = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
	evtimer_add(tick, &tv);
}

static void teardown(void)
{
	event_free(tick);
	event_base_free(base);
}

/* ---- what the callbacks saw ------------------------------------------------ */

struct seen {
	int up, lost, lost_code, closed, closed_code;
	char why[400];
};

static void on_up(void *arg)
{
	((struct seen *)arg)->up++;
}

static void on_lost(void *arg, int code, const char *why)
{
	struct seen *s = arg;
	s->lost++;
	s->lost_code = code;
	snprintf(s->why, sizeof(s->why), "%s", why);
}

static void on_closed(void *arg, int code, const char *text)
{
	struct seen *s = arg;
	s->closed++;
	s->closed_code = code;
	snprintf(s->why, sizeof(s->why), "%s", text ? text : "");
}

/* A reply: its code and the answer's method id and two counters. */
struct reply {
	int n, code;
	uint32_t id, message_count, consumer_count;
};

static void on_reply(void *arg, int code, const char *text, const struct am_method *ok)
{
	struct reply *r = arg;
	(void)text;
	r->n++;
	r->code = code;
	if (ok) {
		r->id = ok->id;
		if (ok->id == AM_QUEUE_DECLARE_OK) {
			r->message_count = ok->u.queue_declare_ok.message_count;
			r->consumer_count = ok->u.queue_declare_ok.consumer_count;
		}
	}
}

struct confirms {
	int n, acked, nacked, failed, last_failure;
};

static void on_confirm(void *arg, int status)
{
	struct confirms *k = arg;
	k->n++;
	if (status == TDM_AMC_ACK)
		k->acked++;
	else if (status == TDM_AMC_NACK)
		k->nacked++;
	else
		k->failed++, k->last_failure = status;
}

static struct tdm_amc *connect_as(const char *pass, unsigned heartbeat, struct seen *s)
{
	struct tdm_amc_config cfg = { .host = th_host(),
				      .port = th_port(),
				      .user = "guest",
				      .pass = pass,
				      .pass_len = strlen(pass),
				      .vhost = "/",
				      .heartbeat = heartbeat,
				      .name = "test_amqp_client" };
	struct tdm_amc *c = tdm_amc_new(base, &cfg, on_up, on_lost, s);
	ck_assert_ptr_nonnull(c);
	return c;
}

/* queue.declare of name (not durable, not exclusive) through tdm_amc_call. */
static int declare(struct tdm_amc_chan *ch, const char *name, int passive, struct reply *r)
{
	struct am_method m = { .id = AM_QUEUE_DECLARE };
	m.u.queue_declare.queue =
		(struct am_bytes){ (const uint8_t *)name, (uint32_t)strlen(name) };
	m.u.queue_declare.passive = (uint8_t)passive;
	return tdm_amc_call(ch, &m, on_reply, r);
}

static int qos(struct tdm_amc_chan *ch, uint16_t prefetch, struct reply *r)
{
	struct am_method m = { .id = AM_BASIC_QOS };
	m.u.basic_qos.prefetch_count = prefetch;
	return tdm_amc_call(ch, &m, on_reply, r);
}

/* ---- messages: message i's properties and body, made again to compare ---- */

#define BIG_INDEX 500
#define BIG_SIZE (300 * 1024)

static size_t body_of(int i, uint8_t *buf)
{
	size_t n = i == BIG_INDEX ? BIG_SIZE : (size_t)(i * 37) % 2000;
	for (size_t j = 0; j < n; j++)
		buf[j] = (uint8_t)(i * 131 + j * 7);
	return n;
}

static size_t header_of(int i, size_t body_len, uint8_t *buf, size_t cap)
{
	uint8_t tbuf[128];
	char id[32];
	struct am_tb tb;
	struct am_basic_props p = { 0 };
	size_t len = 0;

	snprintf(id, sizeof(id), "m-%d", i);
	am_tb_init(&tb, tbuf, sizeof(tbuf));
	am_tb_long(&tb, "i", i);
	am_tb_str(&tb, "s", "tandem", 6);
	ck_assert_int_eq(am_tb_finish(&tb, &p.headers), AM_OK);
	p.flags = AM_P_CONTENT_TYPE | AM_P_HEADERS | AM_P_DELIVERY_MODE | AM_P_MESSAGE_ID |
		  AM_P_TIMESTAMP | AM_P_APP_ID;
	p.content_type = (struct am_bytes){ (const uint8_t *)"application/x-test", 18 };
	p.delivery_mode = 1;
	p.message_id = (struct am_bytes){ (const uint8_t *)id, (uint32_t)strlen(id) };
	p.timestamp = 1700000000u + (uint64_t)i;
	p.app_id = (struct am_bytes){ (const uint8_t *)"amc", 3 };
	ck_assert_int_eq(am_content_header_encode(body_len, &p, buf, cap, &len), AM_OK);
	return len;
}

/* Message i, as delivered, compared byte for byte with what was sent. */
static int same_message(int i, const struct tdm_amc_msg *m)
{
	static uint8_t body[BIG_SIZE], hdr[512];
	size_t blen = body_of(i, body), hlen = header_of(i, blen, hdr, sizeof(hdr));
	return m->body_len == blen && memcmp(m->body, body, blen) == 0 && m->header_len == hlen &&
	       memcmp(m->header, hdr, hlen) == 0;
}

static void publish_n(struct tdm_amc_chan *ch, const char *q, int from, int n, struct confirms *k)
{
	static uint8_t body[BIG_SIZE], hdr[512];
	for (int i = from; i < from + n; i++) {
		size_t blen = body_of(i, body), hlen = header_of(i, blen, hdr, sizeof(hdr));
		ck_assert_int_eq(tdm_amc_publish(ch, "", 0, q, strlen(q), 0, hdr, hlen, body, blen,
						 k ? on_confirm : NULL, k),
				 0);
	}
}

/* ---- round trip ------------------------------------------------------------- */

struct got {
	int n, empty, code, ok;
	uint64_t tag;
	uint32_t message_count;
};

static void on_got(void *arg, int code, const char *text, const struct tdm_amc_msg *m)
{
	struct got *g = arg;
	(void)text;
	g->n++;
	g->code = code;
	if (!m) {
		g->empty++;
		return;
	}
	g->tag = m->delivery_tag;
	g->message_count = m->message_count;
	g->ok = same_message(0, m) && !m->redelivered && m->consumer_tag == NULL;
}

/* A consumer that expects messages next..N-1 in order and acks them: a
 * single ack for every third, a multiple ack (covering the one before)
 * for the third after it, the rest at the end. */
struct cons {
	struct tdm_amc_chan *ch;
	int ok_n, ok_code, cancelled, cancel_code;
	char ctag[32];
	int n, next, bad, redelivered, unacked;
	uint64_t last_tag, tags[64];
	int idx[64];
	int ack_policy; /* 1: the pattern above; 0: none */
};

static void on_consume_ok(void *arg, int code, const char *text, const char *ctag)
{
	struct cons *k = arg;
	(void)text;
	k->ok_n++;
	k->ok_code = code;
	if (ctag)
		snprintf(k->ctag, sizeof(k->ctag), "%s", ctag);
}

static void on_cancelled(void *arg, int code, const char *text)
{
	struct cons *k = arg;
	(void)text;
	k->cancelled++;
	k->cancel_code = code;
}

static void on_delivery(void *arg, const struct tdm_amc_msg *m)
{
	struct cons *k = arg;
	if (!k->ack_policy) {
		if (k->n < 64)
			k->tags[k->n] = m->delivery_tag;
		k->n++;
		k->last_tag = m->delivery_tag;
		k->redelivered += m->redelivered;
		return;
	}
	if (!same_message(k->next, m) || m->redelivered || m->consumer_tag_len != strlen(k->ctag) ||
	    memcmp(m->consumer_tag, k->ctag, m->consumer_tag_len) != 0)
		k->bad++;
	k->next++;
	k->last_tag = m->delivery_tag;
	switch (k->n++ % 3) {
	case 0:
		ck_assert_int_eq(tdm_amc_ack(k->ch, m->delivery_tag, 0), 0);
		break;
	case 1:
		k->unacked = 1;
		break;
	case 2:
		ck_assert_int_eq(tdm_amc_ack(k->ch, m->delivery_tag, 1), 0);
		k->unacked = 0;
		break;
	}
}

START_TEST(publish_confirm_get_consume_round_trip)
{
	struct seen s = { 0 }, cs = { 0 };
	struct reply decl = { 0 }, sel = { 0 }, q = { 0 }, after = { 0 };
	struct confirms k = { 0 };
	struct got g = { 0 };
	struct cons cons = { .ack_policy = 1, .next = 1 };
	char name[128];

	th_name(name, sizeof(name), "amc");
	struct tdm_amc *c = connect_as("guest", 0, &s);
	/* made before the connection is up: held, then sent in order */
	struct tdm_amc_chan *ch = tdm_amc_channel(c, on_closed, &cs);
	ck_assert_ptr_nonnull(ch);
	ck_assert_int_eq(declare(ch, name, 0, &decl), 0);
	ck_assert_int_eq(tdm_amc_confirm_select(ch, on_reply, &sel), 0);
	ck_assert_int_eq(s.up, 0);
	RUN_UNTIL(decl.n && sel.n, 10000);
	ck_assert_msg(s.up == 1 && !s.lost, "up %d lost %d: %s", s.up, s.lost, s.why);
	ck_assert_int_eq(decl.code, 0);
	ck_assert_uint_eq(decl.id, AM_QUEUE_DECLARE_OK);
	ck_assert_int_eq(sel.code, 0);
	ck_assert_uint_eq(sel.id, AM_CONFIRM_SELECT_OK);

	publish_n(ch, name, 0, 1000, &k);
	RUN_UNTIL(k.n == 1000, 20000);
	ck_assert_int_eq(k.n, 1000);
	ck_assert_int_eq(k.acked, 1000);

	ck_assert_int_eq(tdm_amc_get(ch, name, strlen(name), 0, on_got, &g), 0);
	RUN_UNTIL(g.n, 5000);
	ck_assert_int_eq(g.n, 1);
	ck_assert_int_eq(g.empty, 0);
	ck_assert_msg(g.ok, "basic.get: message 0 is not what was published");
	ck_assert_uint_eq(g.message_count, 999);
	ck_assert_int_eq(tdm_amc_ack(ch, g.tag, 0), 0);

	cons.ch = ch;
	ck_assert_int_eq(qos(ch, 10, &q), 0);
	ck_assert_int_eq(tdm_amc_consume(ch, name, strlen(name), 0, NULL, 0, on_delivery,
					 on_cancelled, on_consume_ok, &cons),
			 0);
	RUN_UNTIL(cons.next == 1000, 20000);
	ck_assert_int_eq(q.code, 0);
	ck_assert_uint_eq(q.id, AM_BASIC_QOS_OK);
	ck_assert_int_eq(cons.ok_n, 1);
	ck_assert_int_eq(cons.ok_code, 0);
	ck_assert_int_eq(cons.next, 1000);
	ck_assert_int_eq(cons.bad, 0);
	if (cons.unacked)
		ck_assert_int_eq(tdm_amc_ack(ch, cons.last_tag, 0), 0);
	ck_assert_int_eq(declare(ch, name, 1, &after), 0);
	RUN_UNTIL(after.n, 5000);
	ck_assert_int_eq(after.code, 0);
	ck_assert_uint_eq(after.message_count, 0);
	ck_assert_uint_eq(after.consumer_count, 1);
	ck_assert_int_eq(cons.cancelled, 0);
	tdm_amc_channel_close(ch);
	tdm_amc_free(c);
	ck_assert_int_eq(s.lost, 0);
	ck_assert_int_eq(cs.closed, 0);
}
END_TEST

/* ---- prefetch, nack, reject, cancel ------------------------------------------ */

START_TEST(prefetch_nack_requeue_reject_cancel)
{
	struct seen s = { 0 };
	struct reply decl = { 0 }, sel = { 0 }, q = { 0 }, cancel = { 0 };
	struct confirms k = { 0 };
	struct got g = { 0 };
	struct cons cons = { 0 };
	char name[128];

	th_name(name, sizeof(name), "amc");
	struct tdm_amc *c = connect_as("guest", 0, &s);
	struct tdm_amc_chan *ch = tdm_amc_channel(c, NULL, NULL);
	ck_assert_int_eq(declare(ch, name, 0, &decl), 0);
	ck_assert_int_eq(tdm_amc_confirm_select(ch, on_reply, &sel), 0);
	publish_n(ch, name, 0, 15, &k);
	RUN_UNTIL(k.n == 15, 10000);
	ck_assert_int_eq(k.acked, 15);

	cons.ch = ch;
	ck_assert_int_eq(qos(ch, 10, &q), 0);
	ck_assert_int_eq(tdm_amc_consume(ch, name, strlen(name), 0, NULL, 0, on_delivery,
					 on_cancelled, on_consume_ok, &cons),
			 0);
	RUN_UNTIL(cons.n >= 10, 5000);
	RUN_UNTIL(0, 300); /* no more than the prefetch */
	ck_assert_int_eq(cons.n, 10);
	ck_assert_int_eq(cons.redelivered, 0);

	/* back to the head of the queue, and redelivered */
	ck_assert_int_eq(tdm_amc_nack(ch, cons.tags[0], 0, 1), 0);
	RUN_UNTIL(cons.n == 11, 5000);
	ck_assert_int_eq(cons.n, 11);
	ck_assert_int_eq(cons.redelivered, 1);
	/* rejected without requeue: gone; the credit brings message 10 */
	ck_assert_int_eq(tdm_amc_reject(ch, cons.tags[10], 0), 0);
	RUN_UNTIL(cons.n == 12, 5000);
	ck_assert_int_eq(cons.n, 12);
	ck_assert_int_eq(cons.redelivered, 1);
	ck_assert_int_eq(tdm_amc_ack(ch, cons.last_tag, 1), 0);
	RUN_UNTIL(cons.n == 16, 5000);
	ck_assert_int_eq(cons.n, 16);
	ck_assert_int_eq(tdm_amc_ack(ch, cons.last_tag, 1), 0);

	struct am_method m = { .id = AM_BASIC_CANCEL };
	m.u.basic_cancel.consumer_tag =
		(struct am_bytes){ (const uint8_t *)cons.ctag, (uint32_t)strlen(cons.ctag) };
	ck_assert_int_eq(tdm_amc_call(ch, &m, on_reply, &cancel), 0);
	ck_assert_int_eq(tdm_amc_get(ch, name, strlen(name), 0, on_got, &g), 0);
	RUN_UNTIL(g.n, 5000);
	ck_assert_msg(cancel.code == 0, "basic.cancel: %d (%s)", cancel.code, s.why);
	ck_assert_uint_eq(cancel.id, AM_BASIC_CANCEL_OK);
	ck_assert_int_eq(g.n, 1);
	ck_assert_int_eq(g.empty, 1);
	ck_assert_int_eq(cons.cancelled, 0);

	/* a method with no_wait, or one with a call of its own, is refused */
	m = (struct am_method){ .id = AM_QUEUE_PURGE };
	m.u.queue_purge.no_wait = 1;
	ck_assert_int_eq(tdm_amc_call(ch, &m, on_reply, &cancel), TDM_AMC_ERR_INVAL);
	m = (struct am_method){ .id = AM_BASIC_GET };
	ck_assert_int_eq(tdm_amc_call(ch, &m, on_reply, &cancel), TDM_AMC_ERR_INVAL);
	m = (struct am_method){ .id = AM_QUEUE_DECLARE }; /* a table that does not parse */
	m.u.queue_declare.arguments = (struct am_bytes){ (const uint8_t *)"\001x?", 3 };
	ck_assert_int_eq(tdm_amc_call(ch, &m, on_reply, &cancel), TDM_AMC_ERR_INVAL);
	ck_assert_int_eq(tdm_amc_consume(ch, name, strlen(name), 0, (const uint8_t *)"\001x?", 3,
					 on_delivery, on_cancelled, on_consume_ok, &cons),
			 TDM_AMC_ERR_INVAL);
	tdm_amc_free(c);
	ck_assert_int_eq(s.lost, 0);
}
END_TEST

/* ---- errors the peer reports ------------------------------------------------- */

struct returned {
	int n, code;
	char rk[64];
};

static void on_return(void *arg, int code, const char *text, const struct tdm_amc_msg *m)
{
	struct returned *r = arg;
	(void)text;
	r->n++;
	r->code = code;
	snprintf(r->rk, sizeof(r->rk), "%.*s", (int)m->routing_key_len, m->routing_key);
}

START_TEST(missing_queue_404_and_return)
{
	struct seen s = { 0 }, cs = { 0 }, cs2 = { 0 };
	struct cons cons = { 0 };
	struct reply r = { 0 }, sel = { 0 };
	struct confirms k = { 0 };
	struct returned ret = { 0 };

	struct tdm_amc *c = connect_as("guest", 0, &s);
	struct tdm_amc_chan *ch = tdm_amc_channel(c, on_closed, &cs);
	ck_assert_int_eq(tdm_amc_consume(ch, "amc-no-such-queue", 17, 0, NULL, 0, on_delivery,
					 on_cancelled, on_consume_ok, &cons),
			 0);
	RUN_UNTIL(cs.closed, 10000);
	ck_assert_int_eq(cons.ok_n, 1);
	ck_assert_int_eq(cons.ok_code, 404);
	ck_assert_int_eq(cons.cancelled, 0);
	ck_assert_int_eq(cs.closed, 1);
	ck_assert_int_eq(cs.closed_code, 404);
	ck_assert_int_eq(tdm_amc_chan_usable(ch), 0);
	ck_assert_int_eq(tdm_amc_publish(ch, "", 0, "x", 1, 0, NULL, 0, NULL, 0, NULL, NULL),
			 TDM_AMC_ERR_STATE);
	tdm_amc_channel_close(ch);

	/* the connection goes on; a mandatory publish nobody takes comes back */
	ch = tdm_amc_channel(c, on_closed, &cs2);
	ck_assert_ptr_nonnull(ch);
	tdm_amc_on_return(ch, on_return, &ret);
	ck_assert_int_eq(tdm_amc_confirm_select(ch, on_reply, &sel), 0);
	ck_assert_int_eq(tdm_amc_publish(ch, "amq.direct", 10, "amc-nobody", 10, 1, NULL, 0,
					 (const uint8_t *)"x", 1, on_confirm, &k),
			 0);
	ck_assert_int_eq(declare(ch, "amc-no-such-queue", 1, &r), 0);
	RUN_UNTIL(r.n && k.n, 10000);
	ck_assert_int_eq(ret.n, 1);
	ck_assert_int_eq(ret.code, 312);
	ck_assert_str_eq(ret.rk, "amc-nobody");
	ck_assert_int_eq(k.acked, 1);
	ck_assert_int_eq(r.code, 404);
	ck_assert_int_eq(cs2.closed, 1);
	ck_assert_int_eq(s.lost, 0);
	ck_assert_int_eq(tdm_amc_is_open(c), 1);
	tdm_amc_channel_close(ch);
	tdm_amc_free(c);
}
END_TEST

/* The queue deleted under a consumer: the server's basic.cancel. */
START_TEST(queue_deleted_cancels_the_consumer)
{
	struct seen s = { 0 }, cs = { 0 };
	struct reply decl = { 0 }, del = { 0 };
	struct cons cons = { 0 };
	char name[128];

	th_name(name, sizeof(name), "amc");
	struct tdm_amc *c = connect_as("guest", 0, &s);
	struct tdm_amc_chan *ch = tdm_amc_channel(c, on_closed, &cs);
	struct tdm_amc_chan *ch2 = tdm_amc_channel(c, NULL, NULL);
	ck_assert_int_eq(declare(ch, name, 0, &decl), 0);
	ck_assert_int_eq(tdm_amc_consume(ch, name, strlen(name), 0, NULL, 0, on_delivery,
					 on_cancelled, on_consume_ok, &cons),
			 0);
	RUN_UNTIL(cons.ok_n, 10000);
	ck_assert_int_eq(cons.ok_code, 0);
	ck_assert_int_eq(strncmp(cons.ctag, "amc-", 4), 0);
	struct am_method m = { .id = AM_QUEUE_DELETE };
	m.u.queue_delete.queue = (struct am_bytes){ (const uint8_t *)name, (uint32_t)strlen(name) };
	ck_assert_int_eq(tdm_amc_call(ch2, &m, on_reply, &del), 0);
	RUN_UNTIL(del.n && cons.cancelled, 10000);
	ck_assert_int_eq(del.code, 0);
	ck_assert_uint_eq(del.id, AM_QUEUE_DELETE_OK);
	ck_assert_int_eq(cons.cancelled, 1);
	ck_assert_int_eq(cons.cancel_code, 0);
	ck_assert_int_eq(tdm_amc_chan_usable(ch), 1);
	RUN_UNTIL(0, 100);
	ck_assert_int_eq(cs.closed, 0);
	ck_assert_int_eq(cons.cancelled, 1);
	tdm_amc_free(c); /* channels unreleased: freed with it */
	ck_assert_int_eq(s.lost, 0);
}
END_TEST

START_TEST(wrong_password_403)
{
	struct seen s = { 0 };
	struct tdm_amc *c = connect_as("not-the-password", 0, &s);
	struct tdm_amc_chan *ch = tdm_amc_channel(c, on_closed, &s);
	struct reply r = { 0 };
	ck_assert_int_eq(declare(ch, "amc-x", 1, &r), 0);
	RUN_UNTIL(s.lost, 10000);
	ck_assert_int_eq(s.lost, 1);
	ck_assert_int_eq(s.up, 0);
	ck_assert_msg(s.lost_code == 403, "lost with %d: %s", s.lost_code, s.why);
	ck_assert_int_eq(r.n, 1);
	ck_assert_int_eq(r.code, TDM_AMC_ERR_LOST);
	ck_assert_int_eq(s.closed, 1);
	ck_assert_ptr_null(tdm_amc_channel(c, NULL, NULL));
	tdm_amc_channel_close(ch);
	tdm_amc_free(c);
}
END_TEST

START_TEST(heartbeats_keep_an_idle_connection)
{
	struct seen s = { 0 };
	struct reply r = { 0 };
	struct tdm_amc *c = connect_as("guest", 1, &s);
	RUN_UNTIL(s.up, 10000);
	ck_assert_int_eq(s.up, 1);
	RUN_UNTIL(s.lost, 3500); /* tandem closes after two silent intervals */
	ck_assert_msg(!s.lost, "lost: %s", s.why);
	struct tdm_amc_chan *ch = tdm_amc_channel(c, NULL, NULL);
	ck_assert_int_eq(declare(ch, "amq.nothing", 1, &r), 0);
	RUN_UNTIL(r.n, 5000);
	ck_assert_int_eq(r.code, 404);
	tdm_amc_free(c);
}
END_TEST

/* ---- releases from inside callbacks -------------------------------------------- */

struct freeing {
	struct tdm_amc *c;
	struct tdm_amc_chan *ch;
	struct confirms k;
	struct reply after;
	int replies, deliveries;
};

static void free_conn_in_reply(void *arg, int code, const char *text, const struct am_method *ok)
{
	struct freeing *f = arg;
	(void)code, (void)text, (void)ok;
	f->replies++;
	tdm_amc_free(f->c);
}

static void close_chan_in_delivery(void *arg, const struct tdm_amc_msg *m)
{
	struct freeing *f = arg;
	(void)m;
	f->deliveries++;
	tdm_amc_channel_close(f->ch);
}

START_TEST(release_from_inside_callbacks)
{
	struct seen s = { 0 }, cs = { 0 };
	struct freeing f = { 0 };
	struct reply decl = { 0 }, sel = { 0 }, r2 = { 0 };
	struct confirms k = { 0 };
	struct got g = { 0 };
	char name[128];

	th_name(name, sizeof(name), "amc");
	f.c = connect_as("guest", 0, &s);
	f.ch = tdm_amc_channel(f.c, on_closed, &cs);
	ck_assert_int_eq(declare(f.ch, name, 0, &decl), 0);
	ck_assert_int_eq(tdm_amc_confirm_select(f.ch, on_reply, &sel), 0);
	publish_n(f.ch, name, 1, 5, &k);
	RUN_UNTIL(k.n == 5, 10000);
	ck_assert_int_eq(k.acked, 5);
	/* a channel closed by its own delivery callback: nothing more comes */
	ck_assert_int_eq(tdm_amc_consume(f.ch, name, strlen(name), 0, NULL, 0,
					 close_chan_in_delivery, on_cancelled, NULL, &f),
			 0);
	RUN_UNTIL(0, 500);
	ck_assert_int_eq(f.deliveries, 1);
	ck_assert_int_eq(cs.closed, 0);

	/* the connection freed by a reply: the requests after it fail inside
	 * the free, and then nothing is called */
	f.ch = tdm_amc_channel(f.c, on_closed, &cs);
	ck_assert_int_eq(tdm_amc_confirm_select(f.ch, free_conn_in_reply, &f), 0);
	publish_n(f.ch, name, 1, 3, &f.k);
	ck_assert_int_eq(tdm_amc_get(f.ch, name, strlen(name), 0, on_got, &g), 0);
	ck_assert_int_eq(declare(f.ch, name, 1, &r2), 0);
	RUN_UNTIL(f.replies, 10000);
	ck_assert_int_eq(f.replies, 1);
	ck_assert_int_eq(f.k.n, 3);
	ck_assert_int_eq(f.k.failed, 3);
	ck_assert_int_eq(f.k.last_failure, TDM_AMC_ERR_CLOSED);
	ck_assert_int_eq(g.n, 1);
	ck_assert_int_eq(g.code, TDM_AMC_ERR_CLOSED);
	ck_assert_int_eq(r2.n, 1);
	ck_assert_int_eq(r2.code, TDM_AMC_ERR_CLOSED);
	RUN_UNTIL(0, 300);
	ck_assert_int_eq(s.lost, 0);
	ck_assert_int_eq(cs.closed, 0);
	ck_assert_int_eq(f.replies, 1);
}
END_TEST

/* ---- the peer killed ------------------------------------------------------------ */

START_TEST(lost_when_tandemd_is_killed)
{
	struct seen s = { 0 }, cs = { 0 };
	struct reply decl = { 0 }, sel = { 0 }, r2 = { 0 };
	struct confirms k = { 0 };
	struct cons cons = { 0 };
	char name[128];

	if (!th_can_restart())
		return;
	if (getpid() != main_pid)
		th_start_with_args(NULL); /* a tandemd of this test's own */
	th_name(name, sizeof(name), "amc");
	struct tdm_amc *c = connect_as("guest", 0, &s);
	struct tdm_amc_chan *ch = tdm_amc_channel(c, on_closed, &cs);
	ck_assert_int_eq(declare(ch, name, 0, &decl), 0);
	ck_assert_int_eq(tdm_amc_confirm_select(ch, on_reply, &sel), 0);
	ck_assert_int_eq(tdm_amc_consume(ch, name, strlen(name), 0, NULL, 0, on_delivery,
					 on_cancelled, on_consume_ok, &cons),
			 0);
	RUN_UNTIL(sel.n && cons.ok_n, 10000);
	ck_assert_int_eq(cons.ok_code, 0);

	th_broker_kill9();
	publish_n(ch, name, 1, 100, &k);
	ck_assert_int_eq(declare(ch, name, 1, &r2), 0);
	RUN_UNTIL(s.lost, 10000);
	ck_assert_int_eq(s.lost, 1);
	ck_assert_int_eq(s.lost_code, TDM_AMC_ERR_LOST);
	ck_assert_int_eq(k.n, 100);
	ck_assert_int_eq(k.failed, 100);
	ck_assert_int_eq(k.last_failure, TDM_AMC_ERR_LOST);
	ck_assert_int_eq(r2.n, 1);
	ck_assert_int_eq(r2.code, TDM_AMC_ERR_LOST);
	ck_assert_int_eq(cons.cancelled, 1);
	ck_assert_int_eq(cons.cancel_code, TDM_AMC_ERR_LOST);
	ck_assert_int_eq(cs.closed, 1);
	ck_assert_int_eq(cs.closed_code, TDM_AMC_ERR_LOST);
	ck_assert_int_eq(tdm_amc_is_open(c), 0);
	ck_assert_int_eq(tdm_amc_publish(ch, "", 0, "x", 1, 0, NULL, 0, NULL, 0, NULL, NULL),
			 TDM_AMC_ERR_STATE);
	RUN_UNTIL(0, 200);
	ck_assert_int_eq(s.lost, 1);
	ck_assert_int_eq(cs.closed, 1);
	tdm_amc_channel_close(ch);
	tdm_amc_free(c);
	if (getpid() == main_pid)
		th_broker_restart(); /* CK_FORK=no: the program's broker serves the rest */
}
END_TEST

/* What lost() does: frees the connection (from inside the callback). */
struct free_on_lost {
	struct tdm_amc *c;
	int lost;
};

static void lost_and_free(void *arg, int code, const char *why)
{
	struct free_on_lost *f = arg;
	(void)code, (void)why;
	f->lost++;
	tdm_amc_free(f->c);
}

START_TEST(nobody_listening)
{
	struct seen s = { 0 }, cs = { 0 };
	struct free_on_lost f = { 0 };
	struct got g = { 0 };
	struct tdm_amc_config cfg = { .host = "127.0.0.1",
				      .port = 1,
				      .user = "guest",
				      .pass = "guest",
				      .pass_len = 5,
				      .vhost = "/" };
	struct tdm_amc *c = tdm_amc_new(base, &cfg, on_up, on_lost, &s);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(s.lost, 0); /* never from inside the call */
	RUN_UNTIL(s.lost, 5000);
	ck_assert_int_eq(s.lost, 1);
	ck_assert_int_eq(s.lost_code, TDM_AMC_ERR_LOST);
	tdm_amc_free(c);

	/* freed by its own lost callback: what was pending fails inside the
	 * free, the channel's closed callback is not called */
	f.c = tdm_amc_new(base, &cfg, NULL, lost_and_free, &f);
	struct tdm_amc_chan *ch = tdm_amc_channel(f.c, on_closed, &cs);
	ck_assert_int_eq(tdm_amc_get(ch, "q", 1, 0, on_got, &g), 0);
	RUN_UNTIL(f.lost, 5000);
	ck_assert_int_eq(f.lost, 1);
	ck_assert_int_eq(g.n, 1);
	ck_assert_int_eq(g.code, TDM_AMC_ERR_CLOSED);
	RUN_UNTIL(0, 100);
	ck_assert_int_eq(cs.closed, 0);
	ck_assert_int_eq(f.lost, 1);
}
END_TEST

/* ---- a peer that breaks the protocol ------------------------------------------- */

/* Appends method m on channel as a frame to buf. */
static size_t put_method(uint8_t *buf, size_t at, uint16_t channel, const struct am_method *m)
{
	size_t len = 0;
	ck_assert_int_eq(am_method_frame_encode(channel, m, buf + at, 4096, &len), AM_OK);
	return at + len;
}

static size_t put_frame(uint8_t *buf, size_t at, uint8_t type, uint16_t channel,
			const void *payload, uint32_t size)
{
	uint8_t *p = buf + at;
	p[0] = type;
	p[1] = (uint8_t)(channel >> 8), p[2] = (uint8_t)channel;
	p[3] = (uint8_t)(size >> 24), p[4] = (uint8_t)(size >> 16);
	p[5] = (uint8_t)(size >> 8), p[6] = (uint8_t)size;
	memcpy(p + 7, payload, size);
	p[7 + size] = AM_FRAME_END;
	return at + 8 + size;
}

/* connection.start, tune and open-ok, channel 1's open-ok: a peer that
 * lets the client in without reading what it says. */
static size_t put_open(uint8_t *buf)
{
	struct am_method m = { .id = AM_CONNECTION_START };
	size_t at;
	m.u.connection_start.version_minor = 9;
	m.u.connection_start.mechanisms = (struct am_bytes){ (const uint8_t *)"PLAIN", 5 };
	m.u.connection_start.locales = (struct am_bytes){ (const uint8_t *)"en_US", 5 };
	at = put_method(buf, 0, 0, &m);
	m = (struct am_method){ .id = AM_CONNECTION_TUNE };
	m.u.connection_tune.frame_max = 4096;
	at = put_method(buf, at, 0, &m);
	m = (struct am_method){ .id = AM_CONNECTION_OPEN_OK };
	at = put_method(buf, at, 0, &m);
	m = (struct am_method){ .id = AM_CHANNEL_OPEN_OK };
	return put_method(buf, at, 1, &m);
}

/* A child process listening on a free port: it reads the protocol header,
 * writes script and drains until the client hangs up (10 s at most). */
static pid_t fake_peer(const uint8_t *script, size_t len, int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(getsockname(l, (struct sockaddr *)&a, &al), 0);
	*port = ntohs(a.sin_port);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char b[4096];
		signal(SIGALRM, SIG_DFL); /* not Check's timeout handler */
		alarm(10);
		int fd = accept(l, NULL, NULL);
		if (fd < 0 || read(fd, b, 8) != 8 || write(fd, script, len) != (ssize_t)len)
			_exit(1);
		while (read(fd, b, sizeof(b)) > 0)
			;
		_exit(0);
	}
	close(l);
	return pid;
}

/* The client against a fake peer sending script: lost once, the reason
 * containing what. */
static void expect_failure(const uint8_t *script, size_t len, int consume, const char *what)
{
	struct seen s = { 0 }, cs = { 0 };
	struct got g = { 0 };
	struct cons cons = { 0 };
	int port, st;
	pid_t pid = fake_peer(script, len, &port);
	struct tdm_amc_config cfg = { .host = "127.0.0.1",
				      .port = port,
				      .user = "guest",
				      .pass = "guest",
				      .pass_len = 5,
				      .vhost = "/" };
	struct tdm_amc *c = tdm_amc_new(base, &cfg, on_up, on_lost, &s);
	struct tdm_amc_chan *ch = tdm_amc_channel(c, on_closed, &cs);
	if (consume)
		ck_assert_int_eq(tdm_amc_consume(ch, "q", 1, 0, NULL, 0, on_delivery, on_cancelled,
						 on_consume_ok, &cons),
				 0);
	else
		ck_assert_int_eq(tdm_amc_get(ch, "q", 1, 0, on_got, &g), 0);
	RUN_UNTIL(s.lost, 10000);
	ck_assert_msg(s.lost == 1 && s.lost_code == TDM_AMC_ERR_LOST && strstr(s.why, what),
		      "%s: lost %d code %d: %s", what, s.lost, s.lost_code, s.why);
	ck_assert_int_eq(cs.closed, 1);
	ck_assert_int_eq(g.n + cons.ok_n, 1); /* the request failed, once */
	tdm_amc_channel_close(ch);
	tdm_amc_free(c);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
}

START_TEST(malformed_frames_fail_the_connection)
{
	static uint8_t buf[16384];
	static const uint8_t bad_type[8] = { 9, 0, 0, 0, 0, 0, 0, AM_FRAME_END };
	static const uint8_t huge[8] = { 1, 0, 0, 0x7f, 0xff, 0xff, 0xff, AM_FRAME_END };
	static const uint8_t no_end[12] = { 1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 10, 0 };
	static const uint8_t short_start[13] = {
		1, 0, 0, 0, 0, 0, 5, 0, 10, 0, 10, 0, AM_FRAME_END
	};
	uint8_t hdr[14] = { 0, 60, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0 };
	struct am_method m = { .id = AM_BASIC_DELIVER };
	size_t at;

	expect_failure(bad_type, sizeof(bad_type), 0, "bad type");
	expect_failure(huge, sizeof(huge), 0, "over frame_max");
	expect_failure(no_end, sizeof(no_end), 0, "frame-end");
	expect_failure(short_start, sizeof(short_start), 0, "does not decode");

	/* a delivery whose body is longer than its header says */
	m.u.basic_deliver.consumer_tag = (struct am_bytes){ (const uint8_t *)"amc-1", 5 };
	m.u.basic_deliver.delivery_tag = 1;
	at = put_method(buf, put_open(buf), 1, &m);
	at = put_frame(buf, at, AM_FRAME_HEADER, 1, hdr, sizeof(hdr));
	at = put_frame(buf, at, AM_FRAME_BODY, 1, "0123456789", 10);
	expect_failure(buf, at, 1, "longer than its header");

	/* an answer to no request: queue.declare-ok where get-ok was due */
	m = (struct am_method){ .id = AM_QUEUE_DECLARE_OK };
	at = put_method(buf, put_open(buf), 1, &m);
	expect_failure(buf, at, 0, "queue.declare-ok answers no request");

	/* content on a channel that was never opened */
	at = put_frame(buf, put_open(buf), AM_FRAME_BODY, 7, "x", 1);
	expect_failure(buf, at, 0, "channel 7");
}
END_TEST

/* RabbitMQ sends cancel-ok (and consume-ok) from the queue process, after
 * the answer to a later request: each answer goes to its own request. */
START_TEST(answers_out_of_order_are_matched)
{
	static uint8_t buf[16384];
	struct seen s = { 0 };
	struct reply q = { 0 };
	struct got g = { 0 };
	struct am_method m = { .id = AM_BASIC_GET_EMPTY };
	size_t at = put_method(buf, put_open(buf), 1, &m);
	int port, st;

	m = (struct am_method){ .id = AM_BASIC_QOS_OK };
	at = put_method(buf, at, 1, &m);
	pid_t pid = fake_peer(buf, at, &port);
	struct tdm_amc_config cfg = { .host = "127.0.0.1",
				      .port = port,
				      .user = "guest",
				      .pass = "guest",
				      .pass_len = 5,
				      .vhost = "/" };
	struct tdm_amc *c = tdm_amc_new(base, &cfg, on_up, on_lost, &s);
	struct tdm_amc_chan *ch = tdm_amc_channel(c, on_closed, &s);
	ck_assert_int_eq(qos(ch, 10, &q), 0);
	ck_assert_int_eq(tdm_amc_get(ch, "q", 1, 0, on_got, &g), 0);
	RUN_UNTIL((q.n && g.n) || s.lost, 10000);
	ck_assert_msg(!s.lost, "lost: %s", s.why);
	ck_assert_int_eq(s.up, 1);
	ck_assert_int_eq(q.code, 0);
	ck_assert_uint_eq(q.id, AM_BASIC_QOS_OK);
	ck_assert_int_eq(g.n, 1);
	ck_assert_int_eq(g.empty, 1);
	tdm_amc_free(c); /* the peer sees the end at once, the loop not running */
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "fake peer: status 0x%x", st);
}
END_TEST

/* A peer that lets the client in and then says nothing: with heartbeats
 * asked for, the client gives up after two silent intervals. */
START_TEST(silent_peer_missed_heartbeats)
{
	static uint8_t buf[16384];
	struct seen s = { 0 };
	size_t at = put_open(buf);
	int port, st;
	pid_t pid = fake_peer(buf, at, &port);
	struct tdm_amc_config cfg = { .host = "127.0.0.1",
				      .port = port,
				      .user = "guest",
				      .pass = "guest",
				      .pass_len = 5,
				      .vhost = "/",
				      .heartbeat = 1 };
	struct tdm_amc *c = tdm_amc_new(base, &cfg, on_up, on_lost, &s);
	ck_assert_ptr_nonnull(tdm_amc_channel(c, NULL, NULL)); /* put_open opens channel 1 */
	uint64_t t0 = th_now_ms();
	RUN_UNTIL(s.lost, 8000);
	ck_assert_int_eq(s.up, 1);
	ck_assert_msg(s.lost == 1 && strstr(s.why, "missed heartbeats"), "lost %d: %s", s.lost,
		      s.why);
	ck_assert_uint_ge(th_now_ms() - t0, 1500);
	tdm_amc_free(c);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
}
END_TEST

int main(void)
{
	main_pid = getpid();
	th_start_private();
	Suite *s = suite_create("amqp_client");
	TCase *tc = th_tcase("client");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, publish_confirm_get_consume_round_trip);
	tcase_add_test(tc, prefetch_nack_requeue_reject_cancel);
	tcase_add_test(tc, missing_queue_404_and_return);
	tcase_add_test(tc, queue_deleted_cancels_the_consumer);
	tcase_add_test(tc, wrong_password_403);
	tcase_add_test(tc, heartbeats_keep_an_idle_connection);
	tcase_add_test(tc, release_from_inside_callbacks);
	tcase_add_test(tc, nobody_listening);
	tcase_add_test(tc, malformed_frames_fail_the_connection);
	tcase_add_test(tc, answers_out_of_order_are_matched);
	tcase_add_test(tc, silent_peer_missed_heartbeats);
	tcase_add_test(tc, lost_when_tandemd_is_killed);
	suite_add_tcase(s, tc);
	return th_run_suite(s);
}
