/* Integration tests: durable AMQP (issue 6). Durable topology, persistent
 * messages, unacknowledged and acknowledged messages, purge and delete all
 * survive (or stay gone after) a clean restart and a kill -9; confirmed
 * messages are never lost at random kill points; acknowledged messages'
 * space is reclaimed; a backlog far larger than a queue's memory window
 * keeps the broker's RSS bounded and drains in order.
 *
 * Each test gets a tandemd of its own (th_start_with_args), which it kills
 * and restarts on the same port and data dir. Against TANDEM_TEST_BROKER the
 * program needs TANDEM_TEST_BROKER_STOP / _START (see harness.h), e.g. for
 * the private RabbitMQ node of tests/rabbitmq/:
 *   TANDEM_TEST_BROKER=127.0.0.1:$RMQ_PORT \
 *   TANDEM_TEST_BROKER_STOP="rabbitmqctl -n $RMQ_NODE stop_app" \
 *   TANDEM_TEST_BROKER_START="rabbitmqctl -n $RMQ_NODE start_app"
 * (with HOME and ERL_EPMD_PORT of that node); otherwise it reports SKIP.
 * An external broker is stopped cleanly where tandemd is killed, and the
 * data-dir size and RSS tests are tandemd-only.
 *
 * Proven against RabbitMQ 3.10.8 that way (stop_app / start_app): see the
 * note above each test.
 *
 * Every wait is bounded; kill points come from a fixed seed
 * (TANDEM_TEST_SEED overrides it) and are printed, so a failure can be
 * replayed. */
#include "confirms.h"
#include "harness.h"
#include "parallel.h"

#include <ftw.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- small helpers ----------------------------------------------------------- */

/* Args of the tandemd each test starts: a client that does not answer the
 * broker's connection.close (one left open across a clean restart) is
 * dropped after 200 ms, not the 3 s default, so that a clean stop does not
 * wait out tandemd's shutdown grace (2 s) for it. */
static const char *const own_args[] = { "--close-ok-timeout-ms", "200", NULL };

static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
	rng_state = seed ? seed : 0x9e3779b97f4a7c15ULL;
}

/* xorshift64*: deterministic for a seed, good enough for kill points. */
static uint64_t rng_next(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

static unsigned rng_range(unsigned lo, unsigned hi)
{
	return lo + (unsigned)(rng_next() % (uint64_t)(hi - lo + 1));
}

static uint64_t test_seed(void)
{
	const char *s = getenv("TANDEM_TEST_SEED");
	return s != NULL && *s != '\0' ? strtoull(s, NULL, 0) : 0x7a6e64656d2d3621ULL;
}

static amqp_table_entry_t entry_utf8(const char *key, const char *v)
{
	amqp_table_entry_t e;
	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_UTF8;
	e.value.value.bytes = amqp_cstring_bytes(v);
	return e;
}

static amqp_table_entry_t entry_i32(const char *key, int32_t v)
{
	amqp_table_entry_t e;
	e.key = amqp_cstring_bytes(key);
	e.value.kind = AMQP_FIELD_KIND_I32;
	e.value.value.i32 = v;
	return e;
}

static void declare_queue_args(amqp_connection_state_t c, amqp_channel_t ch, const char *name, int durable,
			       amqp_table_t args)
{
	amqp_queue_declare(c, ch, amqp_cstring_bytes(name), 0, (amqp_boolean_t)durable, 0, 0, args);
	th_ok_last(c, "queue.declare");
}

static void declare_exchange_args(amqp_connection_state_t c, amqp_channel_t ch, const char *name, const char *type,
				  int durable, amqp_table_t args)
{
	amqp_exchange_declare(c, ch, amqp_cstring_bytes(name), amqp_cstring_bytes(type), 0, (amqp_boolean_t)durable,
			      0, 0, args);
	th_ok_last(c, "exchange.declare");
}

static void bind_exchange(amqp_connection_state_t c, amqp_channel_t ch, const char *dest, const char *src,
			  const char *key)
{
	amqp_exchange_bind(c, ch, amqp_cstring_bytes(dest), amqp_cstring_bytes(src), amqp_cstring_bytes(key),
			   amqp_empty_table);
	th_ok_last(c, "exchange.bind");
}

/* Passive declares: 1 when the entity exists, 0 on 404 (the channel is
 * reopened); anything else fails the test. */
static int exchange_exists(amqp_connection_state_t c, amqp_channel_t ch, const char *name)
{
	amqp_exchange_declare(c, ch, amqp_cstring_bytes(name), amqp_cstring_bytes("direct"), 1, 0, 0, 0,
			      amqp_empty_table);
	amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return 1;
	th_expect_channel_close(c, ch, r, TH_NOT_FOUND);
	th_channel(c, ch);
	return 0;
}

static int queue_exists(amqp_connection_state_t c, amqp_channel_t ch, const char *name, uint32_t *messages)
{
	amqp_rpc_reply_t r = th_queue_passive(c, ch, name, messages, NULL);
	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return 1;
	th_expect_channel_close(c, ch, r, TH_NOT_FOUND);
	th_channel(c, ch);
	return 0;
}

static void publish_mode(amqp_connection_state_t c, amqp_channel_t ch, const char *exchange, const char *key,
			 int delivery_mode, const char *body)
{
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
	p.delivery_mode = (uint8_t)delivery_mode;
	th_publish_props(c, ch, exchange, key, 0, &p, amqp_cstring_bytes(body));
}

/* Get the next message of queue (bounded wait) and require its body. */
static void expect_body(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, const char *body)
{
	amqp_message_t m;
	char got[256];
	ck_assert_msg(th_get_wait(c, ch, queue, 1, &m, NULL, NULL, NULL, 5000) == 1,
		      "queue %s: expected '%s', queue stayed empty", queue, body);
	th_body(&m.body, got, sizeof(got));
	amqp_destroy_message(&m);
	ck_assert_msg(strcmp(got, body) == 0, "queue %s: expected '%s', got '%s'", queue, body, got);
}

/* Require queue to be empty right now (basic.get-empty). */
static void expect_empty(amqp_connection_state_t c, amqp_channel_t ch, const char *queue)
{
	amqp_message_t m;
	char got[256];
	if (th_get(c, ch, queue, 1, &m, NULL, NULL, NULL) == 1) {
		th_body(&m.body, got, sizeof(got));
		amqp_destroy_message(&m);
		ck_abort_msg("queue %s: expected empty, got '%.200s'", queue, got);
	}
}

/* Kill -9 (or cleanly stop) the broker, restart it, and connect again with
 * channel 1 open. The old connection is dead and is freed. */
static amqp_connection_state_t crash_and_reconnect(amqp_connection_state_t old, int kill9)
{
	if (kill9) {
		th_broker_kill9();
	} else {
		int st = th_broker_stop();
		ck_assert_msg(st == 0, "broker did not exit cleanly on SIGTERM (status %d)", st);
	}
	if (old != NULL)
		th_destroy(old);
	th_broker_restart();
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	return c;
}

/* ---- publisher confirms: see confirms.h ------------------------------------------- */

/* Publish n persistent text messages "<prefix><i>" (i from 0) to the queue
 * through the default exchange, with confirms; wait for all of them. */
static void publish_persistent_confirmed(amqp_connection_state_t c, amqp_channel_t ch, const char *queue,
					 const char *prefix, int n)
{
	struct confirms k;
	char body[128];
	confirms_init(&k, c, ch, (uint64_t)n);
	confirm_select(c, ch);
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
	p.delivery_mode = 2;
	for (int i = 0; i < n; i++) {
		confirms_window(&k, 256);
		snprintf(body, sizeof(body), "%s%d", prefix, i);
		confirms_publish(&k, "", queue, &p, amqp_cstring_bytes(body));
	}
	confirms_all(&k, 30000);
	confirms_free(&k);
}

/* End of a test: the broker of its own stops cleanly (status 0), which is
 * how sanitizer and valgrind reports about it fail the test. */
static void stop_clean(void)
{
	if (th_external())
		return;
	int st = th_broker_stop();
	ck_assert_msg(st == 0, "tandemd exited with status 0x%x on SIGTERM at the end of the test (see its report above)",
		      st);
}

/* ---- 1. durable topology ------------------------------------------------------- */

struct topo {
	char xd[128], xt[128], xf[128], xh[128]; /* durable: direct (with AE), topic, fanout, headers */
	char xae[128], xdlx[128];                /* durable fanouts: alternate, dead-letter */
	char xtr[128];                           /* transient direct */
	char q1[128], q2[128], q3[128], q4[128]; /* durable sinks of xd, xt, xf (and xd->xf), xh */
	char qae[128], qdl[128];                 /* durable sinks of xae, xdlx */
	char qargs[128];                         /* durable, x-max-length 3, x-message-ttl, x-dlx */
	char qtr[128], qex[128];                 /* non-durable, exclusive */
};

static amqp_table_t xd_args(struct topo *t, amqp_table_entry_t *e, const char *ae)
{
	e[0] = entry_utf8("alternate-exchange", ae ? ae : t->xae);
	return (amqp_table_t){.num_entries = 1, .entries = e};
}

static amqp_table_t qargs_args(struct topo *t, amqp_table_entry_t *e, int32_t max_length)
{
	e[0] = entry_i32("x-max-length", max_length);
	e[1] = entry_i32("x-message-ttl", 3600000);
	e[2] = entry_utf8("x-dead-letter-exchange", t->xdlx);
	return (amqp_table_t){.num_entries = 3, .entries = e};
}

static amqp_table_t xh_bind_args(amqp_table_entry_t *e)
{
	e[0] = entry_utf8("x-match", "all");
	e[1] = entry_utf8("h1", "v1");
	e[2] = entry_i32("h2", 42);
	return (amqp_table_t){.num_entries = 3, .entries = e};
}

static void topo_declare(amqp_connection_state_t c, struct topo *t)
{
	amqp_table_entry_t e[4];
	th_name(t->xd, sizeof(t->xd), "dur-xd");
	th_name(t->xt, sizeof(t->xt), "dur-xt");
	th_name(t->xf, sizeof(t->xf), "dur-xf");
	th_name(t->xh, sizeof(t->xh), "dur-xh");
	th_name(t->xae, sizeof(t->xae), "dur-xae");
	th_name(t->xdlx, sizeof(t->xdlx), "dur-xdlx");
	th_name(t->xtr, sizeof(t->xtr), "dur-xtransient");
	th_name(t->q1, sizeof(t->q1), "dur-q1");
	th_name(t->q2, sizeof(t->q2), "dur-q2");
	th_name(t->q3, sizeof(t->q3), "dur-q3");
	th_name(t->q4, sizeof(t->q4), "dur-q4");
	th_name(t->qae, sizeof(t->qae), "dur-qae");
	th_name(t->qdl, sizeof(t->qdl), "dur-qdl");
	th_name(t->qargs, sizeof(t->qargs), "dur-qargs");
	th_name(t->qtr, sizeof(t->qtr), "dur-qtransient");
	th_name(t->qex, sizeof(t->qex), "dur-qexclusive");

	declare_exchange_args(c, 1, t->xae, "fanout", 1, amqp_empty_table);
	declare_exchange_args(c, 1, t->xdlx, "fanout", 1, amqp_empty_table);
	declare_exchange_args(c, 1, t->xd, "direct", 1, xd_args(t, e, NULL));
	declare_exchange_args(c, 1, t->xt, "topic", 1, amqp_empty_table);
	declare_exchange_args(c, 1, t->xf, "fanout", 1, amqp_empty_table);
	declare_exchange_args(c, 1, t->xh, "headers", 1, amqp_empty_table);
	declare_exchange_args(c, 1, t->xtr, "direct", 0, amqp_empty_table);

	th_queue(c, 1, t->q1, 1, 0, 0, NULL, 0);
	th_queue(c, 1, t->q2, 1, 0, 0, NULL, 0);
	th_queue(c, 1, t->q3, 1, 0, 0, NULL, 0);
	th_queue(c, 1, t->q4, 1, 0, 0, NULL, 0);
	th_queue(c, 1, t->qae, 1, 0, 0, NULL, 0);
	th_queue(c, 1, t->qdl, 1, 0, 0, NULL, 0);
	declare_queue_args(c, 1, t->qargs, 1, qargs_args(t, e, 3));
	th_queue(c, 1, t->qtr, 0, 0, 0, NULL, 0);
	th_queue(c, 1, t->qex, 0, 1, 0, NULL, 0);

	th_bind(c, 1, t->q1, t->xd, "k1", amqp_empty_table);
	th_bind(c, 1, t->q2, t->xt, "a.*.c", amqp_empty_table);
	th_bind(c, 1, t->q3, t->xf, "", amqp_empty_table);
	th_bind(c, 1, t->q4, t->xh, "", xh_bind_args(e));
	th_bind(c, 1, t->qae, t->xae, "", amqp_empty_table);
	th_bind(c, 1, t->qdl, t->xdlx, "", amqp_empty_table);
	bind_exchange(c, 1, t->xf, t->xd, "e2e"); /* durable -> durable */
	/* bindings that involve a transient entity are transient */
	bind_exchange(c, 1, t->xtr, t->xd, "to-transient");
	th_bind(c, 1, t->q1, t->xtr, "tr", amqp_empty_table);
	th_bind(c, 1, t->qtr, t->xd, "k1", amqp_empty_table);
	th_bind(c, 1, t->qex, t->xd, "k1", amqp_empty_table);
}

static void topo_check(amqp_connection_state_t c, struct topo *t)
{
	amqp_table_entry_t e[4];
	/* durable entities are there; transient ones are gone */
	const char *xs[] = {t->xd, t->xt, t->xf, t->xh, t->xae, t->xdlx};
	for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++)
		ck_assert_msg(exchange_exists(c, 1, xs[i]), "durable exchange %s lost", xs[i]);
	const char *qs[] = {t->q1, t->q2, t->q3, t->q4, t->qae, t->qdl, t->qargs};
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
		ck_assert_msg(queue_exists(c, 1, qs[i], NULL), "durable queue %s lost", qs[i]);
	ck_assert_msg(!exchange_exists(c, 1, t->xtr), "transient exchange %s survived", t->xtr);
	ck_assert_msg(!queue_exists(c, 1, t->qtr, NULL), "non-durable queue %s survived", t->qtr);
	ck_assert_msg(!queue_exists(c, 1, t->qex, NULL), "exclusive queue %s survived", t->qex);

	/* arguments and types were kept: the same declaration is accepted, a
	 * different one is 406 */
	declare_exchange_args(c, 1, t->xd, "direct", 1, xd_args(t, e, NULL));
	declare_exchange_args(c, 1, t->xt, "topic", 1, amqp_empty_table);
	declare_exchange_args(c, 1, t->xf, "fanout", 1, amqp_empty_table);
	declare_exchange_args(c, 1, t->xh, "headers", 1, amqp_empty_table);
	declare_queue_args(c, 1, t->qargs, 1, qargs_args(t, e, 3));
	th_queue(c, 1, t->q1, 1, 0, 0, NULL, 0);

	amqp_exchange_declare(c, 1, amqp_cstring_bytes(t->xd), amqp_cstring_bytes("direct"), 0, 1, 0, 0,
			      xd_args(t, e, t->xdlx));
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	th_channel(c, 1);
	amqp_exchange_declare(c, 1, amqp_cstring_bytes(t->xt), amqp_cstring_bytes("direct"), 0, 1, 0, 0,
			      amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	th_channel(c, 1);
	amqp_exchange_declare(c, 1, amqp_cstring_bytes(t->xh), amqp_cstring_bytes("headers"), 0, 0, 0, 0,
			      amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	th_channel(c, 1);
	amqp_queue_declare(c, 1, amqp_cstring_bytes(t->qargs), 0, 1, 0, 0, qargs_args(t, e, 4));
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	th_channel(c, 1);
	amqp_queue_declare(c, 1, amqp_cstring_bytes(t->q1), 0, 0, 0, 0, amqp_empty_table);
	th_expect_channel_close(c, 1, amqp_get_rpc_reply(c), TH_PRECONDITION_FAILED);
	th_channel(c, 1);

	/* routing goes through the recovered bindings */
	publish_mode(c, 1, t->xd, "k1", 1, "direct k1");
	publish_mode(c, 1, t->xt, "a.b.c", 1, "topic a.b.c");
	publish_mode(c, 1, t->xt, "a.b.d", 1, "topic a.b.d (unroutable)");
	publish_mode(c, 1, t->xd, "e2e", 1, "via xd->xf");
	publish_mode(c, 1, t->xf, "", 1, "fanout");
	publish_mode(c, 1, t->xd, "nobody", 1, "to the alternate exchange");
	{
		amqp_table_entry_t h[2] = {entry_utf8("h1", "v1"), entry_i32("h2", 42)};
		amqp_basic_properties_t p;
		memset(&p, 0, sizeof(p));
		p._flags = AMQP_BASIC_HEADERS_FLAG;
		p.headers = (amqp_table_t){.num_entries = 2, .entries = h};
		th_publish_props(c, 1, t->xh, "", 0, &p, amqp_cstring_bytes("headers all"));
		p.headers.num_entries = 1;
		th_publish_props(c, 1, t->xh, "", 0, &p, amqp_cstring_bytes("headers h1 only (unroutable)"));
	}
	/* queue arguments still apply: x-max-length 3 drops (and dead-letters)
	 * the head */
	for (int i = 1; i <= 5; i++) {
		char b[32];
		snprintf(b, sizeof(b), "bounded %d", i);
		publish_mode(c, 1, "", t->qargs, 1, b);
	}
	/* bindings to the transient exchange are gone, also after it is
	 * declared again: xd "to-transient" is now unroutable (alternate
	 * exchange), and xtr "tr" reaches nobody */
	declare_exchange_args(c, 1, t->xtr, "direct", 0, amqp_empty_table);
	publish_mode(c, 1, t->xd, "to-transient", 1, "xd to-transient");
	publish_mode(c, 1, t->xtr, "tr", 1, "xtr tr");

	expect_body(c, 1, t->q1, "direct k1");
	expect_body(c, 1, t->q2, "topic a.b.c");
	expect_body(c, 1, t->q3, "via xd->xf");
	expect_body(c, 1, t->q3, "fanout");
	expect_body(c, 1, t->qae, "to the alternate exchange");
	expect_body(c, 1, t->qae, "xd to-transient");
	expect_body(c, 1, t->q4, "headers all");
	expect_body(c, 1, t->qdl, "bounded 1");
	expect_body(c, 1, t->qdl, "bounded 2");
	ck_assert_uint_eq(th_wait_count(c, 1, t->qargs, 3, 5000), 3);
	expect_body(c, 1, t->qargs, "bounded 3");
	expect_body(c, 1, t->qargs, "bounded 4");
	expect_body(c, 1, t->qargs, "bounded 5");
	/* everything published above has been routed by now (one channel, in
	 * order), so nothing else may be waiting */
	const char *sinks[] = {t->q1, t->q2, t->q3, t->q4, t->qae, t->qdl};
	for (size_t i = 0; i < sizeof(sinks) / sizeof(sinks[0]); i++)
		th_assert_drained(c, 1, sinks[i]);
	expect_empty(c, 1, t->qargs);
}

static void topo_cleanup(amqp_connection_state_t c, struct topo *t)
{
	const char *xs[] = {t->xd, t->xt, t->xf, t->xh, t->xae, t->xdlx, t->xtr};
	for (size_t i = 0; i < sizeof(xs) / sizeof(xs[0]); i++) {
		amqp_exchange_delete(c, 1, amqp_cstring_bytes(xs[i]), 0);
		th_ok_last(c, "exchange.delete");
	}
	const char *qs[] = {t->q1, t->q2, t->q3, t->q4, t->qae, t->qdl, t->qargs};
	for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		amqp_queue_delete(c, 1, amqp_cstring_bytes(qs[i]), 0, 0);
		th_ok_last(c, "queue.delete");
	}
}

static void topology_case(int kill9)
{
	struct topo t;
	th_start_with_args(own_args);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	topo_declare(c, &t);
	c = crash_and_reconnect(c, kill9);
	topo_check(c, &t);
	/* and once more: what was recovered survives the next restart too */
	c = crash_and_reconnect(c, 1);
	topo_check(c, &t);
	topo_cleanup(c, &t);
	th_close(c);
	stop_clean();
}

/* RabbitMQ 3.10.8 (stop_app / start_app): passes. */
START_TEST(topology_survives_clean_restart)
{
	topology_case(0);
}
END_TEST

/* RabbitMQ 3.10.8 (stop_app in place of kill -9): passes. */
START_TEST(topology_survives_kill9)
{
	topology_case(1);
}
END_TEST

/* ---- 2. persistent messages, properties and headers ----------------------------- */

#define MSG_N 2000
#define MSG_BIG 1000 /* index of the 1 MiB message */

struct gen {
	amqp_basic_properties_t props;
	amqp_table_entry_t hdr[14];
	amqp_table_entry_t inner[2];
	amqp_field_value_t arr[3];
	uint8_t bin[6];
	char s[8][64];
	amqp_bytes_t body; /* owned */
};

static size_t gen_size(int i)
{
	if (i == MSG_BIG)
		return 1024 * 1024;
	if (i == 3)
		return 0; /* recognised by its position */
	if (i % 250 == 17)
		return 100000 + (size_t)i; /* several frames */
	return 8 + (size_t)(i * 37) % 3000;
}

/* Message i of test 2: deterministic body, properties and headers. Every
 * tenth message (i % 10 == 9) is transient. */
static void gen_msg(int i, struct gen *g)
{
	memset(g, 0, sizeof(*g));
	size_t n = gen_size(i);
	g->body.len = n;
	g->body.bytes = malloc(n + 1);
	ck_assert_ptr_nonnull(g->body.bytes);
	uint8_t *b = g->body.bytes;
	for (size_t j = 0; j < n; j++)
		b[j] = (uint8_t)(i * 131 + j * 7 + (j >> 8)); /* every byte value, 0xCE included */
	char tag[16];
	int tl = snprintf(tag, sizeof(tag), "m%06d:", i);
	memcpy(b, tag, n < (size_t)tl ? n : (size_t)tl);

	amqp_basic_properties_t *p = &g->props;
	p->_flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
	p->delivery_mode = i % 10 == 9 ? 1 : 2;
	if (i % 3 != 0)
		return;
	snprintf(g->s[0], sizeof(g->s[0]), "application/x-test-%d", i);
	snprintf(g->s[1], sizeof(g->s[1]), "corr-%d", i);
	snprintf(g->s[2], sizeof(g->s[2]), "reply.to.%d", i);
	snprintf(g->s[3], sizeof(g->s[3]), "msg-id-%d", i);
	snprintf(g->s[4], sizeof(g->s[4]), "type-%d", i % 7);
	snprintf(g->s[5], sizeof(g->s[5]), "v%d", i);
	p->_flags |= AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG | AMQP_BASIC_HEADERS_FLAG |
		     AMQP_BASIC_PRIORITY_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG | AMQP_BASIC_REPLY_TO_FLAG |
		     AMQP_BASIC_EXPIRATION_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TIMESTAMP_FLAG |
		     AMQP_BASIC_TYPE_FLAG | AMQP_BASIC_USER_ID_FLAG | AMQP_BASIC_APP_ID_FLAG;
	p->content_type = amqp_cstring_bytes(g->s[0]);
	p->content_encoding = amqp_cstring_bytes("identity");
	p->priority = (uint8_t)(i % 10);
	p->correlation_id = amqp_cstring_bytes(g->s[1]);
	p->reply_to = amqp_cstring_bytes(g->s[2]);
	p->expiration = amqp_cstring_bytes("86400000");
	p->message_id = amqp_cstring_bytes(g->s[3]);
	p->timestamp = 1700000000u + (uint64_t)i;
	p->type = amqp_cstring_bytes(g->s[4]);
	p->user_id = amqp_cstring_bytes("guest"); /* must match the login */
	p->app_id = amqp_cstring_bytes("tandem-it");

	int h = 0;
	g->hdr[h++] = entry_utf8("s", g->s[5]);
	g->hdr[h++] = entry_i32("i32", -i);
	g->hdr[h].key = amqp_cstring_bytes("i64");
	g->hdr[h].value.kind = AMQP_FIELD_KIND_I64;
	g->hdr[h++].value.value.i64 = ((int64_t)i << 33) + 7;
	g->hdr[h].key = amqp_cstring_bytes("bool");
	g->hdr[h].value.kind = AMQP_FIELD_KIND_BOOLEAN;
	g->hdr[h++].value.value.boolean = (amqp_boolean_t)(i & 1);
	g->hdr[h].key = amqp_cstring_bytes("i8");
	g->hdr[h].value.kind = AMQP_FIELD_KIND_I8;
	g->hdr[h++].value.value.i8 = (int8_t)(-(i % 100));
	g->hdr[h].key = amqp_cstring_bytes("dbl");
	g->hdr[h].value.kind = AMQP_FIELD_KIND_F64;
	g->hdr[h++].value.value.f64 = i * 0.5 + 0.25;
	g->hdr[h].key = amqp_cstring_bytes("flt");
	g->hdr[h].value.kind = AMQP_FIELD_KIND_F32;
	g->hdr[h++].value.value.f32 = (float)i * 0.125f;
	g->hdr[h].key = amqp_cstring_bytes("ts");
	g->hdr[h].value.kind = AMQP_FIELD_KIND_TIMESTAMP;
	g->hdr[h++].value.value.u64 = 1600000000u + (uint64_t)i;
	g->hdr[h].key = amqp_cstring_bytes("dec");
	g->hdr[h].value.kind = AMQP_FIELD_KIND_DECIMAL;
	g->hdr[h].value.value.decimal.decimals = 2;
	g->hdr[h++].value.value.decimal.value = 31415u + (uint32_t)i;
	g->bin[0] = 0;
	g->bin[1] = 0xCE;
	g->bin[2] = (uint8_t)i;
	g->bin[3] = 0;
	g->bin[4] = 0xff;
	g->bin[5] = 'x';
	g->hdr[h].key = amqp_cstring_bytes("bin");
	g->hdr[h].value.kind = AMQP_FIELD_KIND_BYTES;
	g->hdr[h++].value.value.bytes = (amqp_bytes_t){.len = sizeof(g->bin), .bytes = g->bin};
	g->hdr[h].key = amqp_cstring_bytes("void");
	g->hdr[h++].value.kind = AMQP_FIELD_KIND_VOID;
	g->inner[0] = entry_utf8("k", "nested");
	g->inner[1] = entry_i32("n", i);
	g->hdr[h].key = amqp_cstring_bytes("tbl");
	g->hdr[h].value.kind = AMQP_FIELD_KIND_TABLE;
	g->hdr[h++].value.value.table = (amqp_table_t){.num_entries = 2, .entries = g->inner};
	g->arr[0].kind = AMQP_FIELD_KIND_I32;
	g->arr[0].value.i32 = 1;
	g->arr[1].kind = AMQP_FIELD_KIND_UTF8;
	g->arr[1].value.bytes = amqp_cstring_bytes("two");
	g->arr[2].kind = AMQP_FIELD_KIND_BOOLEAN;
	g->arr[2].value.boolean = 1;
	g->hdr[h].key = amqp_cstring_bytes("arr");
	g->hdr[h].value.kind = AMQP_FIELD_KIND_ARRAY;
	g->hdr[h++].value.value.array = (amqp_array_t){.num_entries = 3, .entries = g->arr};
	p->headers = (amqp_table_t){.num_entries = h, .entries = g->hdr};
}

static void gen_free(struct gen *g)
{
	free(g->body.bytes);
	g->body.bytes = NULL;
}

static int bytes_eq(amqp_bytes_t a, amqp_bytes_t b)
{
	return a.len == b.len && (a.len == 0 || memcmp(a.bytes, b.bytes, a.len) == 0);
}

static int table_eq(const amqp_table_t *a, const amqp_table_t *b);

static int field_eq(const amqp_field_value_t *a, const amqp_field_value_t *b)
{
	if (a->kind != b->kind)
		return 0;
	switch (a->kind) {
	case AMQP_FIELD_KIND_BOOLEAN:
		return !a->value.boolean == !b->value.boolean;
	case AMQP_FIELD_KIND_I8:
	case AMQP_FIELD_KIND_U8:
		return a->value.u8 == b->value.u8;
	case AMQP_FIELD_KIND_I16:
	case AMQP_FIELD_KIND_U16:
		return a->value.u16 == b->value.u16;
	case AMQP_FIELD_KIND_I32:
	case AMQP_FIELD_KIND_U32:
		return a->value.u32 == b->value.u32;
	case AMQP_FIELD_KIND_I64:
	case AMQP_FIELD_KIND_U64:
	case AMQP_FIELD_KIND_TIMESTAMP:
		return a->value.u64 == b->value.u64;
	case AMQP_FIELD_KIND_F32:
		return memcmp(&a->value.f32, &b->value.f32, sizeof(float)) == 0;
	case AMQP_FIELD_KIND_F64:
		return memcmp(&a->value.f64, &b->value.f64, sizeof(double)) == 0;
	case AMQP_FIELD_KIND_DECIMAL:
		return a->value.decimal.decimals == b->value.decimal.decimals &&
		       a->value.decimal.value == b->value.decimal.value;
	case AMQP_FIELD_KIND_UTF8:
	case AMQP_FIELD_KIND_BYTES:
		return bytes_eq(a->value.bytes, b->value.bytes);
	case AMQP_FIELD_KIND_VOID:
		return 1;
	case AMQP_FIELD_KIND_ARRAY:
		if (a->value.array.num_entries != b->value.array.num_entries)
			return 0;
		for (int i = 0; i < a->value.array.num_entries; i++)
			if (!field_eq(&a->value.array.entries[i], &b->value.array.entries[i]))
				return 0;
		return 1;
	case AMQP_FIELD_KIND_TABLE:
		return table_eq(&a->value.table, &b->value.table);
	default:
		return 0;
	}
}

/* Same entries in the same order (the wire order is kept by brokers). */
static int table_eq(const amqp_table_t *a, const amqp_table_t *b)
{
	if (a->num_entries != b->num_entries)
		return 0;
	for (int i = 0; i < a->num_entries; i++)
		if (!bytes_eq(a->entries[i].key, b->entries[i].key) ||
		    !field_eq(&a->entries[i].value, &b->entries[i].value))
			return 0;
	return 1;
}

/* NULL when equal, else the name of the first property that differs. */
static const char *props_diff(const amqp_basic_properties_t *want, const amqp_basic_properties_t *got)
{
	if (want->_flags != got->_flags)
		return "property flags";
#define SAME_BYTES(flag, field)                                                                                       \
	if ((want->_flags & (flag)) && !bytes_eq(want->field, got->field))                                            \
		return #field;
#define SAME_INT(flag, field)                                                                                         \
	if ((want->_flags & (flag)) && want->field != got->field)                                                     \
		return #field;
	SAME_BYTES(AMQP_BASIC_CONTENT_TYPE_FLAG, content_type)
	SAME_BYTES(AMQP_BASIC_CONTENT_ENCODING_FLAG, content_encoding)
	SAME_INT(AMQP_BASIC_DELIVERY_MODE_FLAG, delivery_mode)
	SAME_INT(AMQP_BASIC_PRIORITY_FLAG, priority)
	SAME_BYTES(AMQP_BASIC_CORRELATION_ID_FLAG, correlation_id)
	SAME_BYTES(AMQP_BASIC_REPLY_TO_FLAG, reply_to)
	SAME_BYTES(AMQP_BASIC_EXPIRATION_FLAG, expiration)
	SAME_BYTES(AMQP_BASIC_MESSAGE_ID_FLAG, message_id)
	SAME_INT(AMQP_BASIC_TIMESTAMP_FLAG, timestamp)
	SAME_BYTES(AMQP_BASIC_TYPE_FLAG, type)
	SAME_BYTES(AMQP_BASIC_USER_ID_FLAG, user_id)
	SAME_BYTES(AMQP_BASIC_APP_ID_FLAG, app_id)
	SAME_BYTES(AMQP_BASIC_CLUSTER_ID_FLAG, cluster_id)
#undef SAME_BYTES
#undef SAME_INT
	if ((want->_flags & AMQP_BASIC_HEADERS_FLAG) && !table_eq(&want->headers, &got->headers))
		return "headers";
	return NULL;
}

/* The number of the message a body starts with ("m%06d:"), -1 if none. */
static int body_index(amqp_bytes_t b)
{
	if (b.len < 8 || ((const char *)b.bytes)[0] != 'm' || ((const char *)b.bytes)[7] != ':')
		return -1;
	char d[8];
	memcpy(d, (const char *)b.bytes + 1, 6);
	d[6] = '\0';
	return atoi(d);
}

static void publish_generated(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, int n)
{
	struct confirms k;
	confirms_init(&k, c, ch, (uint64_t)n);
	confirm_select(c, ch);
	for (int i = 0; i < n; i++) {
		struct gen g;
		gen_msg(i, &g);
		confirms_window(&k, 256);
		confirms_publish(&k, "", queue, &g.props, g.body);
		gen_free(&g);
	}
	confirms_all(&k, 60000);
	confirms_free(&k);
}

/* RabbitMQ 3.10.8 (stop_app / start_app): passes. */
START_TEST(persistent_messages_survive_kill9)
{
	char q[128], qnd[128];
	th_start_with_args(own_args);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), "dur-msgs"), 1, 0, 0, NULL, 0);
	th_queue(c, 1, th_name(qnd, sizeof(qnd), "dur-msgs-nondurable"), 0, 0, 0, NULL, 0);
	publish_generated(c, 1, q, MSG_N);
	/* persistent messages in a non-durable queue: gone with the queue */
	th_channel(c, 2);
	publish_persistent_confirmed(c, 2, qnd, "nd-", 10);
	int expected = MSG_N - MSG_N / 10;
	ck_assert_uint_eq(th_wait_count(c, 1, q, (uint32_t)MSG_N, 10000), MSG_N);

	c = crash_and_reconnect(c, 1);
	ck_assert_msg(!queue_exists(c, 1, qnd, NULL), "non-durable queue %s survived", qnd);
	uint32_t count = 0;
	ck_assert_msg(queue_exists(c, 1, q, &count), "durable queue %s lost", q);
	ck_assert_msg(count == (uint32_t)expected, "after kill -9: %u messages, expected the %d persistent ones",
		      count, expected);
	int next = 0, got = 0;
	for (;;) {
		amqp_message_t m;
		if (!th_get(c, 1, q, 1, &m, NULL, NULL, NULL))
			break;
		while (next < MSG_N && next % 10 == 9)
			next++; /* transient: must be gone */
		int idx = m.body.len == 0 && gen_size(next) == 0 ? next : body_index(m.body);
		if (idx != next) {
			size_t len = m.body.len;
			amqp_destroy_message(&m);
			if (idx >= 0 && idx % 10 == 9)
				ck_abort_msg("transient message %d survived the restart", idx);
			ck_abort_msg("message %d of the %d expected (message %d): got message %d (body of %zu bytes)",
				     got, expected, next, idx, len);
		}
		struct gen g;
		gen_msg(idx, &g);
		ck_assert_msg(bytes_eq(g.body, m.body), "message %d: body differs (%zu bytes, expected %zu)", idx,
			      m.body.len, g.body.len);
		const char *d = props_diff(&g.props, &m.properties);
		ck_assert_msg(d == NULL, "message %d: %s differs after the restart", idx, d);
		gen_free(&g);
		amqp_destroy_message(&m);
		next++;
		got++;
		ck_assert_int_le(got, expected);
	}
	ck_assert_msg(got == expected, "got %d of the %d persistent messages", got, expected);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(c, "queue.delete");
	th_close(c);
	stop_clean();
}
END_TEST

/* ---- 3. confirmed messages survive kill -9 at random points -------------------- */

#define KILL_ROUNDS 5
#define KILL_MAX_MSGS 4000

struct round {
	char q[128];
	uint64_t published;
	uint8_t confirmed[KILL_MAX_MSGS + 1]; /* [seq]: broker acked it */
};

/* Read every message of r's queue without acking it (they are requeued when
 * the channel closes), and check: sequence numbers strictly increase (queue
 * order kept, no duplicate), none beyond what was published, every confirmed
 * one present. Returns how many were present. */
static uint64_t check_round(amqp_connection_state_t c, int round, struct round *r)
{
	amqp_channel_t ch = 2;
	uint64_t last = 0, present = 0, confirmed_present = 0, total_confirmed = 0;
	static uint8_t seen[KILL_MAX_MSGS + 1];
	memset(seen, 0, sizeof(seen));
	th_channel(c, ch);
	ck_assert_msg(queue_exists(c, ch, r->q, NULL), "round %d: durable queue %s lost", round, r->q);
	for (;;) {
		amqp_message_t m;
		int redelivered = 0;
		if (!th_get(c, ch, r->q, 0, &m, NULL, &redelivered, NULL))
			break;
		char b[64];
		th_body(&m.body, b, sizeof(b));
		amqp_destroy_message(&m);
		int rr = -1;
		unsigned long long seq = 0;
		ck_assert_msg(sscanf(b, "r%d s%llu", &rr, &seq) == 2 && rr == round, "round %d: foreign body '%s'", round,
			      b);
		ck_assert_msg(seq >= 1 && seq <= r->published, "round %d: seq %llu was never published (%" PRIu64 ")",
			      round, seq, r->published);
		ck_assert_msg(!seen[seq], "round %d: seq %llu appears twice (redelivered=%d)", round, seq, redelivered);
		ck_assert_msg(seq > last, "round %d: seq %llu after %" PRIu64 ": queue order lost", round, seq, last);
		seen[seq] = 1;
		last = seq;
		present++;
	}
	for (uint64_t s = 1; s <= r->published; s++) {
		if (!r->confirmed[s])
			continue;
		total_confirmed++;
		ck_assert_msg(seen[s], "round %d: confirmed seq %" PRIu64 " lost (published %" PRIu64 ")", round, s,
			      r->published);
		confirmed_present++;
	}
	th_channel_close(c, ch); /* requeues them for the next check */
	fprintf(stderr, "round %d: %" PRIu64 " published, %" PRIu64 " confirmed, %" PRIu64 " present\n", round,
		r->published, total_confirmed, present);
	return present;
}

/* RabbitMQ 3.10.8 (stop_app instead of kill -9): passes. */
START_TEST(confirmed_survive_random_kills)
{
	static struct round rounds[KILL_ROUNDS];
	uint64_t seed = test_seed();
	rng_seed(seed);
	fprintf(stderr, "random kill points: seed 0x%" PRIx64 " (TANDEM_TEST_SEED)\n", seed);
	th_start_with_args(own_args);
	memset(rounds, 0, sizeof(rounds));
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	for (int round = 0; round < KILL_ROUNDS; round++) {
		struct round *r = &rounds[round];
		th_queue(c, 1, th_name(r->q, sizeof(r->q), "dur-kill"), 1, 0, 0, NULL, 0);
		struct confirms k;
		confirms_init(&k, c, 1, KILL_MAX_MSGS);
		confirm_select(c, 1);
		unsigned kill_after = rng_range(100, KILL_MAX_MSGS - 1);
		unsigned hold_ms = rng_range(0, 3) == 0 ? rng_range(1, 20) : 0;
		fprintf(stderr, "round %d: kill -9 after %u publishes%s, %u ms later\n", round, kill_after,
			hold_ms ? "" : " at once", hold_ms);
		amqp_basic_properties_t p;
		memset(&p, 0, sizeof(p));
		p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
		p.delivery_mode = 2;
		char body[4200];
		for (unsigned i = 1; i <= kill_after; i++) {
			confirms_window(&k, 64);
			int n = snprintf(body, sizeof(body), "r%d s%u ", round, i);
			size_t len = (size_t)n + rng_range(0, 4000);
			memset(body + n, 'a' + (int)(i % 26), len - (size_t)n);
			confirms_publish(&k, "", r->q, &p, (amqp_bytes_t){.len = len, .bytes = body});
			/* drain acks that are already here, without waiting */
			while (confirms_read(&k, 0, 0) == 1) {
			}
		}
		uint64_t until = th_now_ms() + hold_ms;
		while (hold_ms && th_now_ms() < until)
			confirms_read(&k, 1, 0);
		th_broker_kill9();
		/* acks the broker sent before it died still count as confirmed */
		for (int i = 0; i < 100000 && confirms_read(&k, 200, 1) == 1; i++) {
		}
		ck_assert_msg(k.nacks == 0, "round %d: %" PRIu64 " nacks", round, k.nacks);
		r->published = k.published;
		for (uint64_t s = 1; s <= k.published; s++)
			r->confirmed[s] = k.state[s] == 1;
		confirms_free(&k);
		th_destroy(c);
		th_broker_restart();
		c = th_connect();
		th_channel(c, 1);
		/* this round and every earlier one (they lived through more kills) */
		for (int j = 0; j <= round; j++)
			check_round(c, j, &rounds[j]);
	}
	for (int j = 0; j < KILL_ROUNDS; j++) {
		amqp_queue_delete(c, 1, amqp_cstring_bytes(rounds[j].q), 0, 0);
		th_ok_last(c, "queue.delete");
	}
	th_close(c);
	stop_clean();
}
END_TEST

/* ---- 4. unacknowledged messages come back redelivered --------------------------- */

/* RabbitMQ 3.10.8 (stop_app / start_app): passes. */
START_TEST(unacked_come_back_redelivered)
{
	char q[128], body[64];
	th_start_with_args(own_args);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), "dur-unacked"), 1, 0, 0, NULL, 0);
	publish_persistent_confirmed(c, 1, q, "u", 10);
	th_channel(c, 2);
	amqp_basic_qos(c, 2, 0, 5, 0);
	th_ok_last(c, "basic.qos");
	char ctag[256];
	th_consume(c, 2, q, NULL, 0, 0, ctag, sizeof(ctag));
	uint64_t tags[5];
	for (int i = 0; i < 5; i++) {
		amqp_envelope_t e;
		ck_assert_msg(th_next_delivery(c, &e, 5000) == 1, "delivery %d of 5 missing", i);
		snprintf(body, sizeof(body), "u%d", i);
		ck_assert_msg(th_bytes_eq(e.message.body, body), "delivery %d: unexpected body", i);
		ck_assert_int_eq(e.redelivered, 0);
		tags[i] = e.delivery_tag;
		amqp_destroy_envelope(&e);
	}
	/* Cancel first: otherwise the two acks below open the prefetch window
	 * and u5, u6 are delivered too (RabbitMQ then rightly flags them). */
	amqp_basic_cancel(c, 2, amqp_cstring_bytes(ctag));
	th_ok_last(c, "basic.cancel");
	/* ack u0 and u2; u1, u3 and u4 stay delivered and unacked */
	ck_assert_int_eq(amqp_basic_ack(c, 2, tags[0], 0), 0);
	ck_assert_int_eq(amqp_basic_ack(c, 2, tags[2], 0), 0);
	/* a synchronous method on the same channel: the acks were handled */
	th_ok(th_sync(c, 2), "sync after acks");

	c = crash_and_reconnect(c, 1);
	uint32_t count = 0;
	ck_assert(queue_exists(c, 1, q, &count));
	ck_assert_msg(count == 8, "after kill -9: %u messages, expected 8 (10 published, 2 acked)", count);
	static const int want[8] = {1, 3, 4, 5, 6, 7, 8, 9};
	for (int i = 0; i < 8; i++) {
		amqp_message_t m;
		int redelivered = -1;
		ck_assert_msg(th_get(c, 1, q, 1, &m, NULL, &redelivered, NULL) == 1, "message %d of 8 missing", i);
		char got[64];
		th_body(&m.body, got, sizeof(got));
		amqp_destroy_message(&m);
		snprintf(body, sizeof(body), "u%d", want[i]);
		ck_assert_msg(strcmp(got, body) == 0, "position %d: expected %s, got %s", i, body, got);
		if (want[i] < 5)
			ck_assert_msg(redelivered == 1, "%s was delivered before the crash: redelivered must be set",
				      body);
		else
			ck_assert_msg(redelivered == 0, "%s was never delivered: redelivered must be clear", body);
	}
	expect_empty(c, 1, q);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(c, "queue.delete");
	th_close(c);
	stop_clean();
}
END_TEST

/* ---- 5. acknowledged messages do not come back ----------------------------------- */

/* RabbitMQ 3.10.8 (stop_app / start_app): passes. */
START_TEST(acked_stay_gone)
{
	char q[128];
	th_start_with_args(own_args);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), "dur-acked"), 1, 0, 0, NULL, 0);
	publish_persistent_confirmed(c, 1, q, "a", 100);
	th_channel(c, 2);
	amqp_basic_qos(c, 2, 0, 30, 0);
	th_ok_last(c, "basic.qos");
	th_consume(c, 2, q, NULL, 0, 0, NULL, 0);
	for (int i = 0; i < 100; i++) {
		amqp_envelope_t e;
		ck_assert_msg(th_next_delivery(c, &e, 5000) == 1, "delivery %d of 100 missing", i);
		/* single acks, and now and then a multiple one */
		if (i % 10 != 8)
			ck_assert_int_eq(amqp_basic_ack(c, 2, e.delivery_tag, i % 10 == 9), 0);
		amqp_destroy_envelope(&e);
	}
	th_ok(th_sync(c, 2), "sync after acks");

	c = crash_and_reconnect(c, 1);
	ck_assert_msg(queue_exists(c, 1, q, NULL), "durable queue %s lost", q);
	uint32_t count = th_queue(c, 1, q, 1, 0, 0, NULL, 0);
	ck_assert_msg(count == 0, "after kill -9 the durable queue holds %u acknowledged messages", count);
	expect_empty(c, 1, q);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(c, "queue.delete");
	th_close(c);
	stop_clean();
}
END_TEST

/* ---- 6. acknowledged messages' space is reclaimed -------------------------------- */

#define RECLAIM_MSG_SIZE (10 * 1024)
#define RECLAIM_MSGS 20480 /* 200 MiB */
#define RECLAIM_BATCH 512
#define RECLAIM_BOUND (64u * 1024 * 1024)

static uint64_t du_total;

static int du_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)path;
	(void)ftw;
	if (flag == FTW_F)
		du_total += (uint64_t)sb->st_blocks * 512u;
	return 0;
}

/* Disk space used by the files under dir (allocated blocks, so sparse
 * preallocated files count for what they hold). */
static uint64_t dir_usage(const char *dir)
{
	du_total = 0;
	/* files the broker removes during the walk are simply not counted */
	(void)nftw(dir, du_entry, 16, FTW_PHYS);
	return du_total;
}

/* tandemd only (it measures the data dir). */
START_TEST(acked_space_is_reclaimed)
{
	char q[128];
	rng_seed(test_seed());
	th_start_with_args(own_args);
	const char *dir = th_data_dir();
	ck_assert_ptr_nonnull(dir);
	amqp_connection_state_t pc = th_connect();
	amqp_connection_state_t cc = th_connect();
	th_channel(pc, 1);
	th_channel(cc, 1);
	th_queue(pc, 1, th_name(q, sizeof(q), "dur-reclaim"), 1, 0, 0, NULL, 0);
	amqp_basic_qos(cc, 1, 0, RECLAIM_BATCH, 0);
	th_ok_last(cc, "basic.qos");
	th_consume(cc, 1, q, NULL, 0, 0, NULL, 0);

	struct confirms k;
	confirms_init(&k, pc, 1, RECLAIM_MSGS);
	confirm_select(pc, 1);
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
	p.delivery_mode = 2;
	char *body = malloc(RECLAIM_MSG_SIZE);
	ck_assert_ptr_nonnull(body);
	uint64_t peak = 0;
	for (int done = 0; done < RECLAIM_MSGS; done += RECLAIM_BATCH) {
		for (int i = 0; i < RECLAIM_BATCH; i++) {
			/* incompressible, so that compression cannot hide the volume */
			for (size_t j = 0; j + 8 <= RECLAIM_MSG_SIZE; j += 8) {
				uint64_t r = rng_next();
				memcpy(body + j, &r, 8);
			}
			confirms_publish(&k, "", q, &p, (amqp_bytes_t){.len = RECLAIM_MSG_SIZE, .bytes = body});
			while (confirms_read(&k, 0, 0) == 1) {
			}
		}
		confirms_all(&k, 60000);
		/* confirmed and not yet consumed: this batch is on disk now */
		if (done % (RECLAIM_BATCH * 8) == 0) {
			uint64_t u = dir_usage(dir);
			if (u > peak)
				peak = u;
		}
		uint64_t last = 0;
		for (int i = 0; i < RECLAIM_BATCH; i++) {
			amqp_envelope_t e;
			ck_assert_msg(th_next_delivery(cc, &e, 10000) == 1, "delivery %d missing", done + i);
			ck_assert_uint_eq(e.message.body.len, RECLAIM_MSG_SIZE);
			last = e.delivery_tag;
			amqp_destroy_envelope(&e);
		}
		ck_assert_int_eq(amqp_basic_ack(cc, 1, last, 1), 0);
	}
	free(body);
	confirms_free(&k);
	th_ok(th_sync(cc, 1), "sync after acks");
	ck_assert_uint_eq(th_wait_count(pc, 1, q, 0, 5000), 0);

	/* the broker may reclaim in the background: poll, bounded */
	uint64_t deadline = th_now_ms() + 10000, usage;
	while ((usage = dir_usage(dir)) > RECLAIM_BOUND && th_now_ms() < deadline)
		th_sleep_ms(100);
	fprintf(stderr, "reclaim: %d MiB published and acked; data dir peak seen %" PRIu64 " KiB, now %" PRIu64
			" KiB (bound %u KiB)\n",
		RECLAIM_MSGS * RECLAIM_MSG_SIZE / (1024 * 1024), peak / 1024, usage / 1024, RECLAIM_BOUND / 1024);
	ck_assert_msg(peak >= (uint64_t)RECLAIM_BATCH * RECLAIM_MSG_SIZE / 2,
		      "a confirmed, unconsumed batch of %d KiB of persistent messages was not on disk (data dir %" PRIu64
		      " KiB)",
		      RECLAIM_BATCH * RECLAIM_MSG_SIZE / 1024, peak / 1024);
	ck_assert_msg(usage <= RECLAIM_BOUND,
		      "data dir holds %" PRIu64 " KiB after all messages were acked (bound %u KiB)", usage / 1024,
		      RECLAIM_BOUND / 1024);

	/* reclaiming lost nothing that recovery needs, and revived nothing */
	th_destroy(cc);
	pc = crash_and_reconnect(pc, 1);
	uint32_t count = 99;
	ck_assert_msg(queue_exists(pc, 1, q, &count), "durable queue %s lost", q);
	ck_assert_msg(count == 0, "%u acknowledged messages came back after kill -9", count);
	expect_empty(pc, 1, q);
	amqp_queue_delete(pc, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(pc, "queue.delete");
	th_close(pc);
	stop_clean();
}
END_TEST

/* ---- 8. a backlog far larger than the memory window -------------------------- */

#define BACKLOG_MSGS 40000
#define BACKLOG_SIZE 4096                  /* 160 MiB of bodies */
#define BACKLOG_WINDOW "1048576"           /* --queue-memory-window: 1 MiB */
#define BACKLOG_RSS_OVER (48u * 1024 * 1024) /* RSS bound: idle RSS + this */

/* Body of backlog message i: "b<i> " then bytes derived from i. */
static void backlog_body(unsigned i, uint8_t *b)
{
	uint64_t x = 0x9e3779b97f4a7c15ULL * (i + 1);
	for (size_t j = 0; j < BACKLOG_SIZE; j += 8) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		memcpy(b + j, &x, 8);
	}
	char tag[24];
	int n = snprintf(tag, sizeof(tag), "b%u ", i);
	memcpy(b, tag, (size_t)n);
}

/* A durable queue holds 160 MiB (half persistent, half transient) with a
 * 1 MiB memory window: the broker's RSS stays under its idle RSS + 48 MiB
 * while the backlog builds up and while a consumer drains it, completely,
 * in order, with the right bodies. tandemd only (it reads the RSS). */
START_TEST(backlog_larger_than_memory_window)
{
	char q[128];
	static const char *const args[] = { "--queue-memory-window", BACKLOG_WINDOW,
					    "--close-ok-timeout-ms", "200", NULL };
	/* an ASan-built tandemd would keep freed bodies in quarantine */
	const char *cur = getenv("ASAN_OPTIONS");
	char opts[1024];
	snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=0:allocator_release_to_os_interval_ms=200",
		 cur ? cur : "", cur && *cur ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
	th_start_with_args(args);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	long idle = th_broker_rss_kb();
	ck_assert_msg(idle > 0, "cannot read the broker's RSS");
	uint64_t bound = (uint64_t)idle * 1024u + BACKLOG_RSS_OVER, peak = 0;
	th_queue(c, 1, th_name(q, sizeof(q), "dur-backlog"), 1, 0, 0, NULL, 0);

	struct confirms k;
	confirms_init(&k, c, 1, BACKLOG_MSGS);
	confirm_select(c, 1);
	uint8_t *body = malloc(BACKLOG_SIZE);
	ck_assert_ptr_nonnull(body);
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
	for (unsigned i = 0; i < BACKLOG_MSGS; i++) {
		confirms_window(&k, 256);
		backlog_body(i, body);
		p.delivery_mode = i % 2 ? 1 : 2;
		confirms_publish(&k, "", q, &p, (amqp_bytes_t){.len = BACKLOG_SIZE, .bytes = body});
		if (i % 2000 == 0) {
			uint64_t rss = (uint64_t)th_broker_rss_kb() * 1024u;
			peak = rss > peak ? rss : peak;
		}
	}
	confirms_all(&k, 60000);
	confirms_free(&k);
	ck_assert_uint_eq(th_wait_count(c, 1, q, BACKLOG_MSGS, 10000), BACKLOG_MSGS);
	uint64_t full = (uint64_t)th_broker_rss_kb() * 1024u;
	peak = full > peak ? full : peak;
	fprintf(stderr, "backlog: %d x %d bytes queued; RSS idle %ld KiB, now %" PRIu64 " KiB (bound %" PRIu64
			" KiB)\n",
		BACKLOG_MSGS, BACKLOG_SIZE, idle, full >> 10, bound >> 10);
	ck_assert_msg(full <= bound, "RSS %" PRIu64 " KiB with the backlog queued, bound %" PRIu64 " KiB",
		      full >> 10, bound >> 10);

	th_channel(c, 2);
	amqp_basic_qos(c, 2, 0, 500, 0);
	th_ok_last(c, "basic.qos");
	th_consume(c, 2, q, NULL, 0, 0, NULL, 0);
	uint8_t *want = malloc(BACKLOG_SIZE);
	ck_assert_ptr_nonnull(want);
	for (unsigned i = 0; i < BACKLOG_MSGS; i++) {
		amqp_envelope_t e;
		ck_assert_msg(th_next_delivery(c, &e, 10000) == 1, "backlog message %u of %d not delivered", i,
			      BACKLOG_MSGS);
		backlog_body(i, want);
		if (e.message.body.len != BACKLOG_SIZE || memcmp(e.message.body.bytes, want, BACKLOG_SIZE) != 0) {
			char got[24];
			th_body(&e.message.body, got, sizeof(got));
			ck_abort_msg("position %u: expected 'b%u ...', got '%.12s...' (%zu bytes)", i, i, got,
				     e.message.body.len);
		}
		ck_assert_uint_eq(e.message.properties.delivery_mode, i % 2 ? 1 : 2);
		if (i % 100 == 99)
			ck_assert_int_eq(amqp_basic_ack(c, 2, e.delivery_tag, 1), 0);
		amqp_destroy_envelope(&e);
		if (i % 2000 == 0) {
			uint64_t rss = (uint64_t)th_broker_rss_kb() * 1024u;
			peak = rss > peak ? rss : peak;
			ck_assert_msg(rss <= bound, "RSS %" PRIu64 " KiB while draining (message %u), bound %" PRIu64
				      " KiB", rss >> 10, i, bound >> 10);
		}
	}
	free(want);
	free(body);
	th_ok(th_sync(c, 2), "sync after acks");
	fprintf(stderr, "backlog: drained; RSS peak seen %" PRIu64 " KiB\n", peak >> 10);
	ck_assert_msg(peak <= bound, "RSS peaked at %" PRIu64 " KiB, bound %" PRIu64 " KiB", peak >> 10, bound >> 10);
	ck_assert_uint_eq(th_wait_count(c, 1, q, 0, 5000), 0);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(c, "queue.delete");
	th_close(c);
	stop_clean();
}
END_TEST

/* ---- 7. purge, delete and unbind are durable too --------------------------------- */

/* RabbitMQ 3.10.8 (stop_app / start_app): passes. */
START_TEST(purge_delete_unbind_are_durable)
{
	char qp[128], qd[128], qb[128], xd[128], xb[128];
	th_start_with_args(own_args);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, th_name(qp, sizeof(qp), "dur-purged"), 1, 0, 0, NULL, 0);
	th_queue(c, 1, th_name(qd, sizeof(qd), "dur-deleted"), 1, 0, 0, NULL, 0);
	th_queue(c, 1, th_name(qb, sizeof(qb), "dur-unbound"), 1, 0, 0, NULL, 0);
	declare_exchange_args(c, 1, th_name(xd, sizeof(xd), "dur-xdeleted"), "fanout", 1, amqp_empty_table);
	declare_exchange_args(c, 1, th_name(xb, sizeof(xb), "dur-xunbind"), "direct", 1, amqp_empty_table);
	th_bind(c, 1, qb, xb, "gone", amqp_empty_table);
	th_bind(c, 1, qb, xb, "kept", amqp_empty_table);
	th_bind(c, 1, qd, xd, "", amqp_empty_table);
	publish_persistent_confirmed(c, 1, qp, "p", 50);
	th_channel(c, 2);
	publish_persistent_confirmed(c, 2, qd, "d", 50);

	amqp_queue_purge_ok_t *pok = amqp_queue_purge(c, 1, amqp_cstring_bytes(qp));
	th_ok_last(c, "queue.purge");
	ck_assert_uint_eq(pok->message_count, 50);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(qd), 0, 0);
	th_ok_last(c, "queue.delete");
	amqp_exchange_delete(c, 1, amqp_cstring_bytes(xd), 0);
	th_ok_last(c, "exchange.delete");
	amqp_queue_unbind(c, 1, amqp_cstring_bytes(qb), amqp_cstring_bytes(xb), amqp_cstring_bytes("gone"),
			  amqp_empty_table);
	th_ok_last(c, "queue.unbind");

	c = crash_and_reconnect(c, 1);
	uint32_t count = 99;
	ck_assert_msg(queue_exists(c, 1, qp, &count), "purged durable queue %s lost", qp);
	ck_assert_msg(count == 0, "purged queue came back with %u messages", count);
	expect_empty(c, 1, qp);
	ck_assert_msg(!queue_exists(c, 1, qd, NULL), "deleted durable queue %s came back", qd);
	ck_assert_msg(!exchange_exists(c, 1, xd), "deleted durable exchange %s came back", xd);
	publish_mode(c, 1, xb, "gone", 1, "via removed binding");
	publish_mode(c, 1, xb, "kept", 1, "via kept binding");
	expect_body(c, 1, qb, "via kept binding");
	th_assert_drained(c, 1, qb);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(qp), 0, 0);
	th_ok_last(c, "queue.delete");
	amqp_queue_delete(c, 1, amqp_cstring_bytes(qb), 0, 0);
	th_ok_last(c, "queue.delete");
	amqp_exchange_delete(c, 1, amqp_cstring_bytes(xb), 0);
	th_ok_last(c, "exchange.delete");
	th_close(c);
	stop_clean();
}
END_TEST

int main(void)
{
	th_start_private();
	if (!th_can_restart()) {
		printf("SKIP: needs a broker it may kill and restart (TANDEM_TEST_BROKER is set without "
		       "TANDEM_TEST_BROKER_STOP / TANDEM_TEST_BROKER_START)\n");
		return 77;
	}
	/* each test has a tandemd of its own: the TCases run side by side
	 * (one after the other against an external broker, which they restart) */
	Suite *s = suite_create("durable");
	TCase *tc = tp_tcase(s, "topology", 120);
	tcase_add_test(tc, topology_survives_clean_restart);
	tcase_add_test(tc, topology_survives_kill9);

	tc = tp_tcase(s, "messages", 180);
	tcase_add_test(tc, persistent_messages_survive_kill9);
	tcase_add_test(tc, unacked_come_back_redelivered);
	tcase_add_test(tc, acked_stay_gone);
	tcase_add_test(tc, purge_delete_unbind_are_durable);
	tcase_add_test(tp_tcase(s, "random-kills", 180), confirmed_survive_random_kills);

	if (!th_external()) {
		tcase_add_test(tp_tcase(s, "space", 300), acked_space_is_reclaimed);
		tcase_add_test(tp_tcase(s, "backlog", 300), backlog_larger_than_memory_window);
	}
	return th_run_suite(s);
}
