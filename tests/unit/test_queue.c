/*
 * Unit tests of the broker core's queues and routing (src/core): FIFO order,
 * requeue to the original position, purge, length limits, round-robin push
 * with consumer credit, and routing through exchange-to-exchange bindings;
 * in debug and sanitizer builds, that broken refcounts and ring indices abort.
 * No sockets, no event loop: the dispatch pass is called by hand.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/broker.h"
#include "util/invariant.h"

static struct tdm_broker *broker;
static struct tdm_vhost *vh;

static void setup(void)
{
	broker = tdm_broker_new(NULL, NULL);
	vh = tdm_vhost_add(broker, "/", 1);
	ck_assert_ptr_nonnull(vh);
}

static void teardown(void)
{
	tdm_broker_dispatch(broker); /* drop the dirty list's references */
	tdm_broker_free(broker);
}

/* A message whose body is the decimal number n. */
static struct tdm_message *msg_n(int n)
{
	char body[16];
	int len = snprintf(body, sizeof(body), "%d", n);
	struct tdm_message *m = tdm_message_new("", 0, "k", 1, (const uint8_t *)"h", 1, (uint64_t)len);
	ck_assert_ptr_nonnull(m);
	memcpy(m->body, body, (size_t)len);
	return m;
}

static int body_n(const struct tdm_qentry *e)
{
	char buf[16] = { 0 };
	memcpy(buf, e->msg->body, e->msg->body_len < 15 ? e->msg->body_len : 15);
	return atoi(buf);
}

static struct tdm_queue *new_queue(const char *name)
{
	struct tdm_queue_spec s = { .name = name, .name_len = strlen(name) };
	struct tdm_queue *q = NULL;
	struct tdm_err err;
	ck_assert_int_eq(tdm_queue_declare(vh, &s, &q, &err), TDM_OK);
	return q;
}

static void push_n(struct tdm_queue *q, int from, int to)
{
	for (int i = from; i <= to; i++) {
		struct tdm_message *m = msg_n(i);
		ck_assert_int_eq(tdm_queue_push(q, m), 0);
		tdm_message_unref(m);
	}
}

START_TEST(fifo_order)
{
	struct tdm_queue *q = new_queue("fifo");
	push_n(q, 1, 5000);
	ck_assert_uint_eq(tdm_queue_ready(q), 5000);
	for (int i = 1; i <= 5000; i++) {
		struct tdm_qentry e;
		ck_assert_int_eq(tdm_queue_pop(q, &e), 1);
		ck_assert_int_eq(body_n(&e), i);
		ck_assert_uint_eq(e.redelivered, 0);
		tdm_queue_settle(q, e);
	}
	struct tdm_qentry e;
	ck_assert_int_eq(tdm_queue_pop(q, &e), 0);
	ck_assert_uint_eq(q->unacked, 0);
}
END_TEST

START_TEST(requeue_returns_to_original_position)
{
	struct tdm_queue *q = new_queue("requeue");
	push_n(q, 1, 10);
	struct tdm_qentry e[6];
	for (int i = 0; i < 6; i++)
		ck_assert_int_eq(tdm_queue_pop(q, &e[i]), 1); /* 1..6 out */
	ck_assert_uint_eq(q->unacked, 6);
	/* return 5, 2 and 4 in scrambled order; ack the rest */
	tdm_queue_requeue(q, e[4]);
	tdm_queue_requeue(q, e[1]);
	tdm_queue_requeue(q, e[3]);
	tdm_queue_settle(q, e[0]);
	tdm_queue_settle(q, e[2]);
	tdm_queue_settle(q, e[5]);
	ck_assert_uint_eq(tdm_queue_ready(q), 7);
	static const int want[] = { 2, 4, 5, 7, 8, 9, 10 };
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct tdm_qentry x;
		ck_assert_int_eq(tdm_queue_pop(q, &x), 1);
		ck_assert_int_eq(body_n(&x), want[i]);
		ck_assert_uint_eq(x.redelivered, want[i] <= 5);
		tdm_queue_settle(q, x);
	}
	ck_assert_uint_eq(q->unacked, 0);
}
END_TEST

START_TEST(requeue_after_new_publishes_and_wraparound)
{
	struct tdm_queue *q = new_queue("wrap");
	/* force the ring to wrap: push and pop past its first capacity */
	push_n(q, 1, 20);
	struct tdm_qentry e;
	for (int i = 1; i <= 15; i++) {
		ck_assert_int_eq(tdm_queue_pop(q, &e), 1);
		if (i == 15)
			break;
		tdm_queue_settle(q, e);
	}
	push_n(q, 21, 40);
	tdm_queue_requeue(q, e); /* 15 goes back before 16 */
	for (int i = 15; i <= 40; i++) {
		struct tdm_qentry x;
		ck_assert_int_eq(tdm_queue_pop(q, &x), 1);
		ck_assert_int_eq(body_n(&x), i);
		tdm_queue_settle(q, x);
	}
}
END_TEST

START_TEST(purge_and_delete_drop_ready_only)
{
	struct tdm_queue *q = new_queue("purge");
	push_n(q, 1, 10);
	struct tdm_qentry e;
	ck_assert_int_eq(tdm_queue_pop(q, &e), 1);
	ck_assert_uint_eq(tdm_queue_purge(q), 9);
	ck_assert_uint_eq(tdm_queue_ready(q), 0);
	tdm_queue_requeue(q, e); /* unacked survives a purge */
	ck_assert_uint_eq(tdm_queue_ready(q), 1);
	uint64_t n = 0;
	struct tdm_err err;
	tdm_queue_ref(q);
	ck_assert_int_eq(tdm_queue_pop(q, &e), 1);
	ck_assert_int_eq(tdm_queue_delete(vh, "purge", 5, NULL, 0, 0, &n, &err), TDM_OK);
	ck_assert_uint_eq(n, 0);
	tdm_queue_requeue(q, e); /* returning to a deleted queue drops it */
	ck_assert_uint_eq(tdm_queue_ready(q), 0);
	tdm_queue_unref(q);
}
END_TEST

START_TEST(length_limits)
{
	struct tdm_queue *q = new_queue("drop-head");
	q->max_length = 3;
	push_n(q, 1, 5);
	ck_assert_uint_eq(tdm_queue_ready(q), 3);
	struct tdm_qentry e;
	ck_assert_int_eq(tdm_queue_pop(q, &e), 1);
	ck_assert_int_eq(body_n(&e), 3);
	tdm_queue_settle(q, e);

	struct tdm_queue *r = new_queue("reject");
	r->max_length_bytes = 2; /* bodies "1".."9" are one byte each */
	r->overflow = TDM_OVERFLOW_REJECT_PUBLISH;
	push_n(r, 1, 2);
	struct tdm_message *m = msg_n(3);
	ck_assert_int_eq(tdm_queue_push(r, m), TDM_QUEUE_REJECTED);
	tdm_message_unref(m);
	ck_assert_uint_eq(tdm_queue_ready(r), 2);
}
END_TEST

/* ---- consumers ---------------------------------------------------------- */

struct test_consumer {
	struct tdm_consumer core;
	int credit;
	int got[64];
	int ngot;
};

static int tc_can_take(struct tdm_consumer *c)
{
	return ((struct test_consumer *)c)->credit > 0;
}

static void tc_deliver(struct tdm_consumer *c, struct tdm_queue *q, struct tdm_qentry e)
{
	struct test_consumer *t = (struct test_consumer *)c;
	t->credit--;
	t->got[t->ngot++] = body_n(&e);
	tdm_queue_settle(q, e);
}

static void tc_gone(struct tdm_consumer *c)
{
	(void)c;
}

static const struct tdm_consumer_ops tc_ops = { tc_can_take, tc_deliver, tc_gone, NULL };

START_TEST(round_robin_with_credit)
{
	struct tdm_queue *q = new_queue("rr");
	struct test_consumer a = { .core.ops = &tc_ops, .credit = 2 };
	struct test_consumer b = { .core.ops = &tc_ops, .credit = 10 };
	tdm_queue_attach(q, &a.core);
	tdm_queue_attach(q, &b.core);
	push_n(q, 1, 8);
	tdm_broker_dispatch(broker);
	/* a, b alternate until a's credit runs out, then b takes the rest */
	ck_assert_int_eq(a.ngot, 2);
	ck_assert_int_eq(b.ngot, 6);
	ck_assert_int_eq(a.got[0], 1);
	ck_assert_int_eq(b.got[0], 2);
	ck_assert_int_eq(a.got[1], 3);
	ck_assert_int_eq(b.got[5], 8);
	/* nothing can take more: messages wait, and credit brings them */
	push_n(q, 9, 9);
	b.credit = 0;
	tdm_broker_dispatch(broker);
	ck_assert_uint_eq(tdm_queue_ready(q), 1);
	a.credit = 1;
	tdm_queue_kick(q);
	tdm_broker_dispatch(broker);
	ck_assert_int_eq(a.got[2], 9);
	tdm_queue_detach(q, &a.core);
	tdm_queue_detach(q, &b.core);
}
END_TEST

START_TEST(dispatch_budget_keeps_queue_dirty)
{
	struct tdm_queue *q = new_queue("budget");
	struct test_consumer a = { .core.ops = &tc_ops, .credit = 0 };
	tdm_queue_attach(q, &a.core);
	push_n(q, 1, 60);
	a.credit = 60;
	ck_assert_int_eq(tdm_queue_dispatch(q, 50), 1); /* stopped on the budget */
	ck_assert_int_eq(a.ngot, 50);
	ck_assert_int_eq(tdm_queue_dispatch(q, 50), 0);
	ck_assert_int_eq(a.ngot, 60);
	tdm_queue_detach(q, &a.core);
}
END_TEST

/* ---- routing -------------------------------------------------------------- */

static struct tdm_exchange *new_exchange(const char *name, const char *type)
{
	struct tdm_exchange_spec s = { .name = name, .name_len = strlen(name), .type = type,
				       .type_len = strlen(type) };
	struct tdm_exchange *x = NULL;
	struct tdm_err err;
	ck_assert_int_eq(tdm_exchange_declare(vh, &s, &x, &err), TDM_OK);
	return x;
}

START_TEST(route_through_exchange_cycle_once_per_queue)
{
	struct tdm_exchange *a = new_exchange("a", "fanout");
	struct tdm_exchange *b = new_exchange("b", "topic");
	struct tdm_queue *q1 = new_queue("q1"), *q2 = new_queue("q2");
	struct tdm_err err;
	ck_assert_int_eq(tdm_bind(a, &b->dest, "", 0, NULL, 0, &err), TDM_OK);
	ck_assert_int_eq(tdm_bind(b, &a->dest, "#", 1, NULL, 0, &err), TDM_OK); /* a cycle */
	ck_assert_int_eq(tdm_bind(a, &q1->dest, "", 0, NULL, 0, &err), TDM_OK);
	ck_assert_int_eq(tdm_bind(b, &q1->dest, "x.*", 3, NULL, 0, &err), TDM_OK);
	ck_assert_int_eq(tdm_bind(b, &q2->dest, "x.#", 3, NULL, 0, &err), TDM_OK);
	struct tdm_route r;
	tdm_route_init(&r);
	tdm_route(a, "x.y", 3, NULL, 0, &r);
	ck_assert_uint_eq(r.n, 2);
	ck_assert(r.queues[0] != r.queues[1]);
	tdm_route_free(&r);
	tdm_route(b, "z", 1, NULL, 0, &r); /* b -> a -> q1 only */
	ck_assert_uint_eq(r.n, 1);
	ck_assert_ptr_eq(r.queues[0], q1);
	tdm_route_free(&r);
	/* the default exchange routes by queue name */
	tdm_route(tdm_exchange_find(vh, "", 0), "q2", 2, NULL, 0, &r);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_ptr_eq(r.queues[0], q2);
	tdm_route_free(&r);
}
END_TEST

/* Packs keys as a message's rkeys: 32-bit big-endian length, bytes. */
static size_t pack_keys(uint8_t *buf, const char *const *k, int n)
{
	size_t len = 0;
	for (int i = 0; i < n; i++) {
		size_t l = strlen(k[i]);
		buf[len] = 0, buf[len + 1] = 0, buf[len + 2] = (uint8_t)(l >> 8), buf[len + 3] = (uint8_t)l;
		memcpy(buf + len + 4, k[i], l);
		len += 4 + l;
	}
	return len;
}

/* More routing keys (CC / BCC): every key at every exchange on the way,
 * each queue once; fanout ignores keys; the default exchange names queues. */
START_TEST(route_with_more_keys)
{
	struct tdm_exchange *d = new_exchange("rk-d", "direct");
	struct tdm_exchange *t = new_exchange("rk-t", "topic");
	struct tdm_exchange *f = new_exchange("rk-f", "fanout");
	struct tdm_queue *q1 = new_queue("rk-q1"), *q2 = new_queue("rk-q2"), *q3 = new_queue("rk-q3");
	struct tdm_err err;
	ck_assert_int_eq(tdm_bind(d, &q1->dest, "k1", 2, NULL, 0, &err), TDM_OK);
	ck_assert_int_eq(tdm_bind(d, &q2->dest, "k2", 2, NULL, 0, &err), TDM_OK);
	ck_assert_int_eq(tdm_bind(d, &q2->dest, "k2b", 3, NULL, 0, &err), TDM_OK);
	ck_assert_int_eq(tdm_bind(t, &d->dest, "to.d", 4, NULL, 0, &err), TDM_OK);
	ck_assert_int_eq(tdm_bind(t, &q3->dest, "a.*", 3, NULL, 0, &err), TDM_OK);
	ck_assert_int_eq(tdm_bind(f, &q3->dest, "", 0, NULL, 0, &err), TDM_OK);
	uint8_t buf[256];
	size_t n = pack_keys(buf, (const char *[]){ "k1", "k2", "k2b", "k1" }, 4);
	struct tdm_route r;
	tdm_route_init(&r);
	tdm_route_keys(d, "nomatch", 7, buf, n, NULL, 0, &r);
	ck_assert_uint_eq(r.n, 2); /* q1 and q2, once each */
	ck_assert(r.queues[0] != r.queues[1]);
	tdm_route_free(&r);
	/* t -> d by the main key; d routes the extra keys too; a.b reaches q3 */
	n = pack_keys(buf, (const char *[]){ "a.b", "k2" }, 2);
	tdm_route_keys(t, "to.d", 4, buf, n, NULL, 0, &r);
	ck_assert_uint_eq(r.n, 2);
	ck_assert(r.queues[0] != q1 && r.queues[1] != q1);
	tdm_route_free(&r);
	/* the extra key picks the exchange binding */
	n = pack_keys(buf, (const char *[]){ "to.d" }, 1);
	tdm_route_keys(t, "k1", 2, buf, n, NULL, 0, &r);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_ptr_eq(r.queues[0], q1);
	tdm_route_free(&r);
	tdm_route_keys(f, "x", 1, buf, n, NULL, 0, &r);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_ptr_eq(r.queues[0], q3);
	tdm_route_free(&r);
	n = pack_keys(buf, (const char *[]){ "rk-q2", "nosuch", "rk-q1" }, 3);
	tdm_route_keys(tdm_exchange_find(vh, "", 0), "rk-q1", 5, buf, n, NULL, 0, &r);
	ck_assert_uint_eq(r.n, 2);
	tdm_route_free(&r);
	/* a truncated entry ends the keys */
	n = pack_keys(buf, (const char *[]){ "k2" }, 1);
	tdm_route_keys(d, "k1", 2, buf, n - 1, NULL, 0, &r);
	ck_assert_uint_eq(r.n, 1);
	ck_assert_ptr_eq(r.queues[0], q1);
	tdm_route_free(&r);
}
END_TEST

START_TEST(queue_delete_unbinds_and_auto_deletes_exchange)
{
	struct tdm_exchange_spec s = { .name = "ad", .name_len = 2, .type = "direct", .type_len = 6,
				       .auto_delete = 1 };
	struct tdm_exchange *x = NULL;
	struct tdm_err err;
	ck_assert_int_eq(tdm_exchange_declare(vh, &s, &x, &err), TDM_OK);
	struct tdm_queue *q = new_queue("bound");
	ck_assert_int_eq(tdm_bind(x, &q->dest, "k", 1, NULL, 0, &err), TDM_OK);
	uint64_t n;
	ck_assert_int_eq(tdm_queue_delete(vh, "bound", 5, NULL, 0, 0, &n, &err), TDM_OK);
	ck_assert_ptr_null(tdm_exchange_find(vh, "ad", 2));
}
END_TEST

#if TDM_ASSERTS_ON
/* Debug and sanitizer builds check the queue's invariants (util/invariant.h):
 * a forked child (Check's default) that breaks one dies by SIGABRT. */
START_TEST(queue_unref_below_zero_aborts)
{
	struct tdm_queue *q = tdm_queue_new(vh, "gone", 4);
	ck_assert_ptr_nonnull(q);
	q->refcnt = 0; /* as if every reference had been dropped already */
	tdm_queue_unref(q);
}
END_TEST

START_TEST(ring_head_outside_ring_aborts)
{
	struct tdm_queue *q = new_queue("ring");
	push_n(q, 1, 3);
	q->ring_head = q->ring_cap; /* an index past the ring */
	struct tdm_qentry e;
	tdm_queue_pop(q, &e);
}
END_TEST
#endif

static Suite *suite(void)
{
	Suite *s = suite_create("core-queue");
	TCase *tc = tcase_create("queue");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, fifo_order);
	tcase_add_test(tc, requeue_returns_to_original_position);
	tcase_add_test(tc, requeue_after_new_publishes_and_wraparound);
	tcase_add_test(tc, purge_and_delete_drop_ready_only);
	tcase_add_test(tc, length_limits);
	tcase_add_test(tc, round_robin_with_credit);
	tcase_add_test(tc, dispatch_budget_keeps_queue_dirty);
#if TDM_ASSERTS_ON
	tcase_add_test_raise_signal(tc, queue_unref_below_zero_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, ring_head_outside_ring_aborts, SIGABRT);
#endif
	suite_add_tcase(s, tc);
	tc = tcase_create("routing");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, route_through_exchange_cycle_once_per_queue);
	tcase_add_test(tc, route_with_more_keys);
	tcase_add_test(tc, queue_delete_unbinds_and_auto_deletes_exchange);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
