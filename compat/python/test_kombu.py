#!/usr/bin/python3
"""kombu (Debian python3-kombu, over py-amqp) against the broker under test.

Slice: the way applications (Celery and friends) use a broker: Exchange /
Queue / Producer / Consumer objects, JSON serialization, SimpleQueue, an RPC
reply-to round trip, requeue, and the queue arguments kombu exposes as
keywords (message_ttl, expires, max_length, max_priority) plus
queue_arguments for dead-lettering. Every expectation is RabbitMQ 3.10's
behaviour (compat/run --against rabbitmq proves it).

Run: /usr/bin/python3 compat/python/test_kombu.py [-k NAME]   (see compat/run)
"""

import os
import socket
import sys
import time
import unittest

import amqp.exceptions
import kombu
import kombu.simple
from kombu import Connection, Consumer, Exchange, Producer, Queue

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat_common as cc  # noqa: E402


class KombuCase(unittest.TestCase):
    def setUp(self):
        self.conn = self.connect()
        self.cleanup = []  # queue names to delete afterwards

    def connect(self):
        c = Connection(cc.URL, connect_timeout=5, transport_options={"confirm_publish": False})
        c.ensure_connection(max_retries=1)
        return c

    def tearDown(self):
        try:
            ch = self.conn.channel()
            for q in self.cleanup:
                try:
                    ch.queue_delete(q)
                except Exception:
                    ch = self.conn.channel()
        except Exception:
            pass
        try:
            self.conn.release()
        except Exception:
            pass

    def drain(self, received, n, timeout=cc.WAIT, conn=None):
        """drain_events until len(received) >= n (bounded)."""
        conn = conn or self.conn
        deadline = time.monotonic() + timeout
        while len(received) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail("expected %d messages, got %d" % (n, len(received)))
            try:
                conn.drain_events(timeout=min(left, 0.5))
            except socket.timeout:
                pass

    def queue(self, prefix, **kw):
        name = cc.uniq("kombu." + prefix)
        self.cleanup.append(name)
        return Queue(name, **kw)

    def collect(self, queues, n, accept=("json",), ack=True, **consumer_kw):
        got = []

        def on_message(body, message):
            got.append((body, message))
            if ack:
                message.ack()

        with Consumer(self.conn.channel(), queues=queues, callbacks=[on_message],
                      accept=list(accept), **consumer_kw):
            self.drain(got, n)
        return got


class AppPatterns(KombuCase):
    def test_producer_consumer_json_round_trip(self):
        ex = Exchange(cc.uniq("kombu.orders"), type="direct", auto_delete=True)
        q = self.queue("orders", exchange=ex, routing_key="order.created")
        producer = Producer(self.conn.channel(), exchange=ex, serializer="json")
        producer.publish({"id": 42, "items": ["a", "b"], "total": 9.5}, routing_key="order.created",
                         declare=[q], headers={"source": "compat"}, retry=False)
        (body, msg), = self.collect([q], 1)
        self.assertEqual(body, {"id": 42, "items": ["a", "b"], "total": 9.5})
        self.assertEqual(msg.content_type, "application/json")
        self.assertEqual(msg.content_encoding, "utf-8")
        self.assertEqual(msg.headers, {"source": "compat"})
        self.assertEqual(msg.delivery_info["routing_key"], "order.created")
        self.assertEqual(msg.delivery_info["exchange"], ex.name)
        self.assertFalse(msg.delivery_info["redelivered"])

    def test_topic_and_fanout_exchanges(self):
        topic = Exchange(cc.uniq("kombu.topic"), type="topic", auto_delete=True)
        fan = Exchange(cc.uniq("kombu.fan"), type="fanout", auto_delete=True)
        q_eu = self.queue("eu", exchange=topic, routing_key="weather.eu.*")
        q_all = self.queue("all", exchange=topic, routing_key="weather.#")
        q_f1 = self.queue("f1", exchange=fan)
        q_f2 = self.queue("f2", exchange=fan)
        ch = self.conn.channel()
        for q in (q_eu, q_all, q_f1, q_f2):
            q(ch).declare()
        p = Producer(ch, serializer="json")
        p.publish({"t": 1}, exchange=topic, routing_key="weather.eu.paris", retry=False)
        p.publish({"t": 2}, exchange=topic, routing_key="weather.us.nyc", retry=False)
        p.publish({"b": 1}, exchange=fan, routing_key="", retry=False)
        self.assertEqual([b for b, _ in self.collect([q_eu], 1)], [{"t": 1}])
        self.assertEqual(sorted(b["t"] for b, _ in self.collect([q_all], 2)), [1, 2])
        self.assertEqual([b for b, _ in self.collect([q_f1], 1)], [{"b": 1}])
        self.assertEqual([b for b, _ in self.collect([q_f2], 1)], [{"b": 1}])

    def test_simple_queue_put_get_and_empty(self):
        name = cc.uniq("kombu.simple")
        self.cleanup.append(name)
        sq = self.conn.SimpleQueue(name, serializer="json")
        try:
            sq.put({"n": 1})
            sq.put({"n": 2})
            m1 = sq.get(block=True, timeout=cc.WAIT)
            m2 = sq.get(block=True, timeout=cc.WAIT)
            self.assertEqual((m1.payload, m2.payload), ({"n": 1}, {"n": 2}))
            m1.ack()
            m2.ack()
            t0 = time.monotonic()
            with self.assertRaises(sq.Empty):
                sq.get(block=True, timeout=0.3)
            self.assertLess(time.monotonic() - t0, 3)
        finally:
            sq.close()

    def test_requeue_sets_redelivered(self):
        q = self.queue("requeue")
        got = []

        def on_message(body, message):
            got.append((body, message.delivery_info["redelivered"]))
            if len(got) == 1:
                message.requeue()
            else:
                message.ack()

        ch = self.conn.channel()
        Producer(ch, serializer="json").publish({"job": 1}, routing_key=q.name, declare=[q], retry=False)
        with Consumer(self.conn.channel(), queues=[q], callbacks=[on_message], accept=["json"]):
            self.drain(got, 2)
        self.assertEqual(got, [({"job": 1}, False), ({"job": 1}, True)])

    def test_prefetch_count_limits_unacked(self):
        q = self.queue("prefetch")
        ch = self.conn.channel()
        p = Producer(ch, serializer="json")
        for i in range(3):
            p.publish({"i": i}, routing_key=q.name, declare=[q], retry=False)
        got = []
        with Consumer(self.conn.channel(), queues=[q], callbacks=[lambda b, m: got.append((b, m))],
                      accept=["json"], prefetch_count=1):
            self.drain(got, 1)
            with self.assertRaises(socket.timeout):
                self.conn.drain_events(timeout=0.4)
            self.assertEqual(len(got), 1)
            got[0][1].ack()
            self.drain(got, 2)
            got[1][1].ack()
            self.drain(got, 3)
            got[2][1].ack()
        self.assertEqual([b["i"] for b, _ in got], [0, 1, 2])

    def test_rpc_reply_to_and_correlation_id(self):
        server_q = self.queue("rpc.server")
        reply_q = Queue("", exclusive=True, auto_delete=True)
        ch = self.conn.channel()
        reply_name = reply_q(ch).declare()
        server_q(ch).declare()
        # the "server" answers on a second connection
        srv = self.connect()
        try:
            answered = []

            def serve(body, message):
                Producer(srv.channel(), serializer="json").publish(
                    {"result": body["x"] * 2}, routing_key=message.properties["reply_to"],
                    correlation_id=message.properties["correlation_id"], retry=False)
                message.ack()
                answered.append(1)

            with Consumer(srv.channel(), queues=[server_q], callbacks=[serve], accept=["json"]):
                Producer(ch, serializer="json").publish({"x": 21}, routing_key=server_q.name,
                                                        reply_to=reply_name, correlation_id="c-1",
                                                        retry=False)
                self.drain(answered, 1, conn=srv)
            got = self.collect([Queue(reply_name, no_declare=True)], 1)
            body, msg = got[0]
            self.assertEqual(body, {"result": 42})
            self.assertEqual(msg.properties["correlation_id"], "c-1")
        finally:
            srv.release()

    def test_mandatory_publish_is_returned(self):
        returned = []
        ch = self.conn.channel()
        p = Producer(ch, serializer="json",
                     on_return=lambda exc, exchange, routing_key, message: returned.append(
                         (exc.reply_code, str(exc), exchange, routing_key)))
        key = cc.uniq("kombu.nobody")
        p.publish({"x": 1}, exchange="amq.direct", routing_key=key, mandatory=True, retry=False)
        deadline = time.monotonic() + cc.WAIT
        while not returned and time.monotonic() < deadline:
            try:
                self.conn.drain_events(timeout=0.2)
            except socket.timeout:
                pass
        self.assertEqual(len(returned), 1)
        code, text, exchange, routing_key = returned[0]
        self.assertEqual((code, exchange, routing_key), (312, "amq.direct", key))
        self.assertIn("NO_ROUTE", text)

    def test_passive_declare_of_missing_queue_raises_not_found(self):
        with self.assertRaises(amqp.exceptions.NotFound) as cm:
            Queue(cc.uniq("kombu.missing"))(self.conn.channel()).queue_declare(passive=True)
        self.assertEqual(cm.exception.reply_code, 404)
        self.assertIn("NOT_FOUND - no queue", str(cm.exception))


class QueueArguments(KombuCase):
    def test_message_ttl_keyword_with_dead_letter_exchange(self):
        dlx = Exchange(cc.uniq("kombu.dlx"), type="fanout", auto_delete=True)
        dlq = self.queue("dlq", exchange=dlx)
        q = self.queue("ttl", message_ttl=0.1,
                       queue_arguments={"x-dead-letter-exchange": dlx.name})
        ch = self.conn.channel()
        dlq(ch).declare()
        Producer(ch, serializer="json").publish({"late": True}, routing_key=q.name, declare=[q], retry=False)
        (body, msg), = self.collect([dlq], 1)
        self.assertEqual(body, {"late": True})
        death = msg.headers["x-death"][0]
        self.assertEqual((death["reason"], death["queue"], death["count"], death["exchange"]),
                         ("expired", q.name, 1, ""))
        self.assertEqual(death["routing-keys"], [q.name])
        self.assertEqual(msg.headers["x-first-death-reason"], "expired")

    def test_reject_goes_to_dead_letter_queue_with_routing_key(self):
        dlx = Exchange(cc.uniq("kombu.dlx2"), type="direct", auto_delete=True)
        dlq = self.queue("dlq2", exchange=dlx, routing_key="failed")
        q = self.queue("work", queue_arguments={"x-dead-letter-exchange": dlx.name,
                                                "x-dead-letter-routing-key": "failed"})
        ch = self.conn.channel()
        dlq(ch).declare()
        Producer(ch, serializer="json").publish({"bad": 1}, routing_key=q.name, declare=[q], retry=False)
        got = []

        def reject(body, message):
            got.append(body)
            message.reject()

        with Consumer(self.conn.channel(), queues=[q], callbacks=[reject], accept=["json"]):
            self.drain(got, 1)
        (body, msg), = self.collect([dlq], 1)
        self.assertEqual(body, {"bad": 1})
        self.assertEqual(msg.delivery_info["routing_key"], "failed")
        self.assertEqual(msg.delivery_info["exchange"], dlx.name)
        death = msg.headers["x-death"][0]
        self.assertEqual((death["reason"], death["queue"], death["routing-keys"]), ("rejected", q.name, [q.name]))
        self.assertEqual(msg.headers["x-first-death-queue"], q.name)

    def test_publish_expiration_keyword(self):
        dlx = Exchange(cc.uniq("kombu.dlx3"), type="fanout", auto_delete=True)
        dlq = self.queue("dlq3", exchange=dlx)
        q = self.queue("exp", queue_arguments={"x-dead-letter-exchange": dlx.name})
        ch = self.conn.channel()
        dlq(ch).declare()
        # kombu takes seconds and sends the expiration property in milliseconds
        Producer(ch, serializer="json").publish({"e": 1}, routing_key=q.name, declare=[q],
                                                expiration=0.1, retry=False)
        (body, msg), = self.collect([dlq], 1)
        self.assertNotIn("expiration", msg.properties)
        self.assertEqual(msg.headers["x-death"][0]["original-expiration"], "100")
        self.assertEqual(msg.headers["x-death"][0]["reason"], "expired")

    def test_max_priority_keyword(self):
        q = self.queue("prio", max_priority=10)
        ch = self.conn.channel()
        p = Producer(ch, serializer="json")
        q(ch).declare()
        for n, prio in [(1, 1), (2, 9), (3, 5), (4, 9)]:
            p.publish({"n": n}, routing_key=q.name, priority=prio, retry=False)
        # wait for all four to be queued, then consume the backlog
        cc.wait_for(lambda: q(ch).queue_declare(passive=True).message_count == 4, what="4 queued")
        got = self.collect([q], 4)
        self.assertEqual([b["n"] for b, _ in got], [2, 4, 3, 1])

    def test_max_length_keyword_drops_oldest(self):
        q = self.queue("maxlen", max_length=2)
        ch = self.conn.channel()
        q(ch).declare()
        p = Producer(ch, serializer="json")
        for n in range(4):
            p.publish({"n": n}, routing_key=q.name, retry=False)
        got = self.collect([q], 2)
        self.assertEqual([b["n"] for b, _ in got], [2, 3])

    def test_expires_keyword_deletes_unused_queue(self):
        q = self.queue("expires", expires=0.3)
        q(self.conn.channel()).declare()

        def gone():
            try:
                q(self.conn.channel()).queue_declare(passive=True)
                return False
            except amqp.exceptions.NotFound:
                return True
        # a passive declare is a use that restarts the expiry timer (RabbitMQ
        # and tandemd): poll less often than the queue expires
        cc.wait_for(gone, timeout=cc.WAIT + 2.0, interval=0.6, what="the unused queue to expire")

    def test_redeclare_with_other_arguments_raises_precondition_failed(self):
        name = cc.uniq("kombu.redecl")
        self.cleanup.append(name)
        Queue(name, message_ttl=1)(self.conn.channel()).declare()
        with self.assertRaises(amqp.exceptions.PreconditionFailed) as cm:
            Queue(name, message_ttl=2)(self.conn.channel()).declare()
        self.assertEqual(cm.exception.reply_code, 406)
        self.assertIn("PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue '%s' in vhost '/': "
                      "received '2000' but current is '1000'" % name, str(cm.exception))


if __name__ == "__main__":
    cc.main("kombu", sys.modules[__name__])
