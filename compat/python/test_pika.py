#!/usr/bin/python3
"""pika (Debian python3-pika) against the broker under test.

Slice: the core broker (connection, exchanges and routing, queues, consume /
ack / nack / reject / qos / recover, mandatory returns, errors with their
reply codes and texts), then message TTL and per-message expiration,
dead-lettering with the x-death header checked field by field and type by
type, and priority queues. Every expectation is RabbitMQ 3.10's behaviour
(compat/run --against rabbitmq proves it).

Run: /usr/bin/python3 compat/python/test_pika.py [-k NAME]   (see compat/run)
"""

import datetime
import decimal
import os
import sys
import time
import unittest

import pika
import pika.exceptions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat_common as cc  # noqa: E402

# Keep the raw content-header property bytes on every decoded BasicProperties,
# so tests can check the wire types of header fields (pika flattens them).
_orig_decode = pika.spec.BasicProperties.decode


def _decode_keeping_raw(self, encoded, offset=0):
    self._compat_raw = bytes(encoded[offset:])
    return _orig_decode(self, encoded, offset)


pika.spec.BasicProperties.decode = _decode_keeping_raw


def params(**kw):
    kw.setdefault("socket_timeout", 5)
    kw.setdefault("blocked_connection_timeout", 10)
    kw.setdefault("stack_timeout", 10)
    kw.setdefault("connection_attempts", 1)
    return pika.ConnectionParameters(cc.HOST, cc.PORT, **kw)


class PikaCase(unittest.TestCase):
    def setUp(self):
        self._conns = []
        self.conn = self.connect()
        self.ch = self.conn.channel()

    def tearDown(self):
        for c in self._conns:
            try:
                if c.is_open:
                    c.close()
            except Exception:
                pass

    def connect(self, **kw):
        c = pika.BlockingConnection(params(**kw))
        self._conns.append(c)
        return c

    def reopen(self):
        """A fresh channel after the broker closed self.ch."""
        if not self.conn.is_open:
            self.conn = self.connect()
        self.ch = self.conn.channel()
        return self.ch

    def assert_channel_error(self, code, text_start, fn, *args, **kw):
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as cm:
            fn(*args, **kw)
            # an asynchronous error (publish) surfaces on the next synchronous call
            self.ch.queue_declare("", exclusive=True)
        self.assertEqual(cm.exception.reply_code, code, cm.exception.reply_text)
        self.assertTrue(cm.exception.reply_text.startswith(text_start),
                        "reply text %r should start with %r" % (cm.exception.reply_text, text_start))
        return cm.exception.reply_text

    def get(self, queue, timeout=cc.WAIT, auto_ack=False, ch=None):
        """basic.get polled until a message arrives; (method, props, body)."""
        ch = ch or self.ch
        got = []

        def poll():
            m = ch.basic_get(queue, auto_ack=auto_ack)
            if m[0] is not None:
                got.append(m)
                return True
            return False

        cc.wait_for(poll, timeout, what="a message on %s" % queue)
        return got[0]

    def get_empty(self, queue, ch=None):
        ch = ch or self.ch
        m = ch.basic_get(queue, auto_ack=True)
        self.assertIsNone(m[0], "expected queue %s to be empty, got %r" % (queue, m[2]))

    def count(self, queue):
        return self.ch.queue_declare(queue, passive=True).method.message_count

    def consume_n(self, queue, n, timeout=cc.WAIT, auto_ack=True, ch=None, conn=None):
        ch = ch or self.ch
        conn = conn or self.conn
        got = []
        tag = ch.basic_consume(queue, lambda c, m, p, b: got.append((m, p, b)), auto_ack=auto_ack)
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            conn.process_data_events(time_limit=0.05)
        ch.basic_cancel(tag)
        self.assertEqual(len(got), n, "expected %d deliveries from %s, got %d" % (n, queue, len(got)))
        return got


# ---------------------------------------------------------------------------
# Core (issue 2)
# ---------------------------------------------------------------------------

class Core(PikaCase):
    def test_server_capabilities(self):
        caps = self.conn._impl.server_capabilities
        for cap in ("publisher_confirms", "exchange_exchange_bindings", "basic.nack",
                    "consumer_cancel_notify", "connection.blocked",
                    "authentication_failure_close", "per_consumer_qos"):
            self.assertIs(caps.get(cap), True, "capability %s: %r" % (cap, caps.get(cap)))
        self.assertTrue(self.conn.publisher_confirms_supported)
        self.assertTrue(self.conn.basic_nack_supported)

    def test_tune_negotiates_rabbitmq_defaults(self):
        # pika takes the server's heartbeat and the lower channel_max / frame_max
        p = self.conn._impl.params
        self.assertEqual((p.frame_max, p.channel_max, p.heartbeat), (131072, 2047, 60))

    def test_wrong_password_is_403_access_refused(self):
        p = params(credentials=pika.PlainCredentials("guest", "wrong"))
        with self.assertRaises(pika.exceptions.ProbableAuthenticationError) as cm:
            pika.BlockingConnection(p)
        self.assertIn("ACCESS_REFUSED", str(cm.exception))
        self.assertIn("403", str(cm.exception))

    def test_unknown_vhost_is_530_not_allowed(self):
        with self.assertRaises(pika.exceptions.ProbableAccessDeniedError) as cm:
            pika.BlockingConnection(params(virtual_host="compat-no-such-vhost"))
        self.assertIn("(530) 'NOT_ALLOWED - vhost compat-no-such-vhost not found'", str(cm.exception))

    def test_heartbeat_negotiated_and_connection_kept(self):
        c = self.connect(heartbeat=1)
        self.assertEqual(c._impl.params.heartbeat, 1)
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).method.queue
        # Idle for several heartbeat intervals: both sides send heartbeats, neither closes.
        t_end = time.monotonic() + 3.5
        while time.monotonic() < t_end:
            c.process_data_events(time_limit=0.25)
        self.assertTrue(c.is_open)
        ch.basic_publish("", q, b"still here")
        self.assertEqual(self.get(q, ch=ch)[2], b"still here")

    def test_all_properties_round_trip(self):
        q = self.ch.queue_declare("", exclusive=True).method.queue
        headers = {
            "str": "text", "int": 7, "big": 2 ** 40, "neg": -5, "bytes": b"\x00\x01\xfe",
            "bool": True, "none": None, "dec": decimal.Decimal("3.14"),
            "ts": datetime.datetime(2020, 1, 2, 3, 4, 5),
            "table": {"nested": {"deep": 1}, "arr": [1, "two", [3]]},
            "list": ["a", 1, False],
        }
        props = pika.BasicProperties(
            content_type="application/json", content_encoding="utf-8", headers=headers,
            delivery_mode=2, priority=3, correlation_id="corr", reply_to="reply.q",
            expiration="60000", message_id="mid-1", timestamp=1600000000, type="t1",
            user_id="guest", app_id="compat", cluster_id="cl")
        self.ch.basic_publish("", q, b"\x00body\xff", props)
        m, p, body = self.get(q, auto_ack=True)
        self.assertEqual(body, b"\x00body\xff")
        for name in ("content_type", "content_encoding", "delivery_mode", "priority",
                     "correlation_id", "reply_to", "expiration", "message_id", "timestamp",
                     "type", "user_id", "app_id", "cluster_id"):
            self.assertEqual(getattr(p, name), getattr(props, name), name)
        self.assertEqual(p.headers, headers)

    def test_user_id_mismatch_is_406(self):
        q = self.ch.queue_declare("", exclusive=True).method.queue
        self.ch.confirm_delivery()
        self.assert_channel_error(
            406, "PRECONDITION_FAILED - user_id property set to 'somebody' but authenticated user was 'guest'",
            self.ch.basic_publish, "", q, b"x", pika.BasicProperties(user_id="somebody"))

    def test_server_named_queue(self):
        ok = self.ch.queue_declare("", exclusive=True)
        self.assertTrue(ok.method.queue.startswith("amq.gen-"), ok.method.queue)
        self.assertEqual((ok.method.message_count, ok.method.consumer_count), (0, 0))

    def test_direct_topic_fanout_headers_routing(self):
        ch = self.ch
        names = {k: cc.uniq("pika.route." + k) for k in ("direct", "topic", "fanout", "headers")}
        for kind, x in names.items():
            ch.exchange_declare(x, kind, auto_delete=True)
        qs = [ch.queue_declare("", exclusive=True).method.queue for _ in range(6)]
        ch.queue_bind(qs[0], names["direct"], "k1")
        ch.queue_bind(qs[1], names["topic"], "a.*.c")
        ch.queue_bind(qs[2], names["topic"], "a.#")
        ch.queue_bind(qs[3], names["fanout"], "ignored")
        ch.queue_bind(qs[4], names["headers"], "", arguments={"x-match": "all", "h1": "v1", "h2": 2})
        ch.queue_bind(qs[5], names["headers"], "", arguments={"x-match": "any", "h1": "v1", "h3": "zz"})
        ch.basic_publish(names["direct"], "k1", b"d")
        ch.basic_publish(names["direct"], "k2", b"lost")
        ch.basic_publish(names["topic"], "a.b.c", b"t1")
        ch.basic_publish(names["topic"], "a", b"t2")
        ch.basic_publish(names["topic"], "a.b.c.d", b"t3")
        ch.basic_publish(names["fanout"], "whatever", b"f")
        ch.basic_publish(names["headers"], "", b"h-all", pika.BasicProperties(headers={"h1": "v1", "h2": 2}))
        ch.basic_publish(names["headers"], "", b"h-any", pika.BasicProperties(headers={"h1": "v1"}))

        def bodies(q):
            out = []
            while True:
                m = ch.basic_get(q, auto_ack=True)
                if m[0] is None:
                    return out
                out.append(m[2])

        self.get(qs[5])  # wait until the last publish has been routed
        ch.basic_recover(requeue=True)
        expected = [[b"d"], [b"t1"], [b"t1", b"t2", b"t3"], [b"f"], [b"h-all"], [b"h-all", b"h-any"]]
        got = []
        for q in qs:
            got.append(bodies(q))
        # the message fetched by self.get on qs[5] was requeued by basic.recover
        self.assertEqual(got, expected)

    def test_headers_exchange_x_match_variants(self):
        x = cc.uniq("pika.hx")
        self.ch.exchange_declare(x, "headers", auto_delete=True)
        modes = ["all", "any", "all-with-x", "any-with-x"]
        qs = {}
        for mode in modes:
            qs[mode] = self.ch.queue_declare("", exclusive=True).method.queue
            self.ch.queue_bind(qs[mode], x, "", arguments={"x-match": mode, "x-a": "1", "b": 2})
        self.ch.confirm_delivery()
        for body, headers in [(b"x-only", {"x-a": "1"}), (b"both", {"x-a": "1", "b": 2}), (b"b-only", {"b": 2}),
                              (b"none", None)]:
            self.ch.basic_publish(x, "", body, pika.BasicProperties(headers=headers))
        got = {}
        for mode in modes:
            got[mode] = []
            while True:
                m = self.ch.basic_get(qs[mode], auto_ack=True)
                if m[0] is None:
                    break
                got[mode].append(m[2])
        # all / any ignore binding arguments starting with x-; the -with-x variants do not
        self.assertEqual(got, {"all": [b"both", b"b-only"], "any": [b"both", b"b-only"],
                               "all-with-x": [b"both"], "any-with-x": [b"x-only", b"both", b"b-only"]})
        self.assert_channel_error(
            406, "PRECONDITION_FAILED - Invalid x-match field value <<\"bogus\">>; expected all, any, "
                 "all-with-x, or any-with-x",
            self.ch.queue_bind, qs["all"], x, "", arguments={"x-match": "bogus"})

    def test_exchange_to_exchange_binding(self):
        src, dst = cc.uniq("pika.e2e.src"), cc.uniq("pika.e2e.dst")
        self.ch.exchange_declare(src, "topic", auto_delete=False)
        self.ch.exchange_declare(dst, "fanout", auto_delete=True)
        q = self.ch.queue_declare("", exclusive=True).method.queue
        self.ch.queue_bind(q, dst)
        self.ch.exchange_bind(dst, src, "x.*")
        self.ch.basic_publish(src, "x.y", b"via-e2e")
        self.ch.basic_publish(src, "nomatch", b"lost")
        self.assertEqual(self.get(q, auto_ack=True)[2], b"via-e2e")
        self.ch.exchange_unbind(dst, src, "x.*")
        self.ch.basic_publish(src, "x.y", b"after-unbind")
        self.ch.queue_declare("", exclusive=True)  # round trip
        self.get_empty(q)
        self.ch.exchange_delete(src)

    def test_auto_delete_exchange_goes_with_its_last_binding(self):
        src, dst = cc.uniq("pika.e2e.adsrc"), cc.uniq("pika.e2e.addst")
        self.ch.exchange_declare(src, "topic", auto_delete=True)
        self.ch.exchange_declare(dst, "fanout", auto_delete=False)
        self.ch.exchange_bind(dst, src, "#")
        self.ch.exchange_unbind(dst, src, "#")
        # src lost its last binding (as a source) and is gone; dst never had one and stays
        self.ch.exchange_declare(dst, "fanout", passive=True)
        self.assert_channel_error(404, "NOT_FOUND - no exchange '%s' in vhost '/'" % src,
                                  self.ch.exchange_declare, src, "topic", passive=True)
        self.reopen().exchange_delete(dst)

    def test_consume_ack_and_prefetch(self):
        q = self.ch.queue_declare(cc.uniq("pika.prefetch"), auto_delete=True).method.queue
        for i in range(5):
            self.ch.basic_publish("", q, str(i).encode())
        c2 = self.connect()
        ch2 = c2.channel()
        ch2.basic_qos(prefetch_count=2)
        got = []
        ch2.basic_consume(q, lambda c, m, p, b: got.append((m.delivery_tag, b)))
        cc.wait_for(lambda: (c2.process_data_events(time_limit=0.05) or len(got) >= 2), what="2 deliveries")
        c2.process_data_events(time_limit=0.4)  # time for a delivery the limit would (wrongly) allow
        self.assertEqual([b for _, b in got], [b"0", b"1"], "prefetch 2 allows two unacked deliveries")
        ch2.basic_ack(got[1][0], multiple=True)
        deadline = time.monotonic() + cc.WAIT
        while len(got) < 4 and time.monotonic() < deadline:
            c2.process_data_events(time_limit=0.05)
        c2.process_data_events(time_limit=0.2)
        self.assertEqual([b for _, b in got], [b"0", b"1", b"2", b"3"])
        ok = self.ch.queue_declare(q, passive=True).method
        self.assertEqual((ok.message_count, ok.consumer_count), (1, 1))

    def test_nack_and_reject_requeue_set_redelivered(self):
        q = self.ch.queue_declare("", exclusive=True).method.queue
        self.ch.basic_publish("", q, b"a")
        self.ch.basic_publish("", q, b"b")
        m1 = self.get(q)
        m2 = self.get(q)
        self.assertFalse(m1[0].redelivered)
        self.ch.basic_nack(m2[0].delivery_tag, multiple=True, requeue=True)
        r1, r2 = self.get(q), self.get(q)
        # requeued messages go back to their original position
        self.assertEqual((r1[2], r2[2]), (b"a", b"b"))
        self.assertTrue(r1[0].redelivered and r2[0].redelivered)
        self.ch.basic_reject(r1[0].delivery_tag, requeue=True)
        self.ch.basic_reject(r2[0].delivery_tag, requeue=False)  # no DLX: dropped
        r3 = self.get(q, auto_ack=True)
        self.assertEqual((r3[2], r3[0].redelivered), (b"a", True))
        # classic queues do not count redeliveries in a header (no x-delivery-count)
        self.assertIsNone(r3[1].headers)
        self.get_empty(q)

    def test_basic_recover_requeues_unacked(self):
        q = self.ch.queue_declare("", exclusive=True).method.queue
        self.ch.basic_publish("", q, b"r")
        m = self.get(q)
        self.assertFalse(m[0].redelivered)
        self.ch.basic_recover(requeue=True)
        m2 = self.get(q, auto_ack=True)
        self.assertEqual((m2[2], m2[0].redelivered), (b"r", True))

    def test_unacked_requeued_when_channel_closes(self):
        q = self.ch.queue_declare("", exclusive=True).method.queue
        self.ch.basic_publish("", q, b"u")
        ch2 = self.conn.channel()
        self.assertEqual(self.get(q, ch=ch2)[2], b"u")
        self.assertEqual(self.count(q), 0)
        ch2.close()
        m = self.get(q, auto_ack=True)
        self.assertEqual((m[2], m[0].redelivered), (b"u", True))

    def test_mandatory_unroutable_is_returned_312_no_route(self):
        x = cc.uniq("pika.mand")
        self.ch.exchange_declare(x, "direct", auto_delete=True)
        returned = []
        self.ch.add_on_return_callback(lambda c, m, p, b: returned.append((m, b)))
        self.ch.basic_publish(x, "nowhere", b"ret", mandatory=True)
        self.ch.basic_publish(x, "nowhere", b"dropped", mandatory=False)
        cc.wait_for(lambda: (self.conn.process_data_events(time_limit=0.05) or returned),
                    what="basic.return")
        self.conn.process_data_events(time_limit=0.2)
        self.assertEqual(len(returned), 1)
        m, b = returned[0]
        self.assertEqual((m.reply_code, m.reply_text, m.exchange, m.routing_key, b),
                         (312, "NO_ROUTE", x, "nowhere", b"ret"))

    def test_mandatory_return_under_confirms_raises_unroutable(self):
        self.ch.confirm_delivery()
        with self.assertRaises(pika.exceptions.UnroutableError):
            self.ch.basic_publish("amq.direct", cc.uniq("nobody"), b"x", mandatory=True)

    def test_exclusive_queue_locked_405_for_other_connection(self):
        q = self.ch.queue_declare(cc.uniq("pika.excl"), exclusive=True).method.queue
        other = self.connect().channel()
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as cm:
            other.queue_declare(q, passive=True)
        self.assertEqual(cm.exception.reply_code, 405)
        self.assertEqual(cm.exception.reply_text,
                         "RESOURCE_LOCKED - cannot obtain exclusive access to locked queue '%s' in vhost '/'. "
                         "It could be originally declared on another connection or the exclusive property "
                         "value does not match that of the original declaration." % q)

    def test_exclusive_queue_deleted_with_its_connection(self):
        c = self.connect()
        q = c.channel().queue_declare(cc.uniq("pika.excl2"), exclusive=True).method.queue
        c.close()
        self.assert_channel_error(404, "NOT_FOUND - no queue '%s' in vhost '/'" % q,
                                  self.ch.queue_declare, q, passive=True)

    def test_auto_delete_queue_goes_with_last_consumer(self):
        q = cc.uniq("pika.autodel")
        self.ch.queue_declare(q, auto_delete=True)
        ch2 = self.conn.channel()
        t1 = ch2.basic_consume(q, lambda *a: None)
        t2 = ch2.basic_consume(q, lambda *a: None)
        ch2.basic_cancel(t1)
        self.assertEqual(self.ch.queue_declare(q, passive=True).method.consumer_count, 1)
        ch2.basic_cancel(t2)
        self.assert_channel_error(404, "NOT_FOUND - no queue '%s'" % q,
                                  self.ch.queue_declare, q, passive=True)

    def test_queue_delete_if_unused_if_empty_and_purge(self):
        q = cc.uniq("pika.del")
        self.ch.queue_declare(q, auto_delete=True)
        self.ch.basic_publish("", q, b"1")
        self.ch.basic_publish("", q, b"2")
        self.get(q)  # unacked, not counted
        self.assertEqual(self.ch.queue_purge(q).method.message_count, 1)
        self.ch.basic_recover(requeue=True)
        cc.wait_for(lambda: self.count(q) == 1, what="requeue")
        self.assert_channel_error(406, "PRECONDITION_FAILED - queue '%s' in vhost '/' not empty" % q,
                                  self.ch.queue_delete, q, if_empty=True)
        self.reopen()
        ch2 = self.conn.channel()
        ch2.basic_consume(q, lambda *a: None)
        self.assert_channel_error(406, "PRECONDITION_FAILED - queue '%s' in vhost '/' in use" % q,
                                  self.ch.queue_delete, q, if_unused=True)
        self.reopen()
        self.assertEqual(self.ch.queue_delete(q).method.message_count, 0)  # 1 in flight to ch2

    def test_consumer_cancel_notify_when_queue_deleted(self):
        q = cc.uniq("pika.cancelnotify")
        self.ch.queue_declare(q)
        ch2 = self.conn.channel()
        cancelled = []
        ch2.add_on_cancel_callback(lambda frame: cancelled.append(frame.method.consumer_tag))
        tag = ch2.basic_consume(q, lambda *a: None)
        self.ch.queue_delete(q)
        cc.wait_for(lambda: (self.conn.process_data_events(time_limit=0.05) or cancelled),
                    what="server basic.cancel")
        self.assertEqual(cancelled, [tag])

    def test_errors_with_reply_codes(self):
        ch = self.ch
        x = cc.uniq("pika.err.x")
        ch.exchange_declare(x, "direct", auto_delete=True)
        self.assert_channel_error(
            406, "PRECONDITION_FAILED - inequivalent arg 'type' for exchange '%s' in vhost '/': "
                 "received 'fanout' but current is 'direct'" % x,
            self.ch.exchange_declare, x, "fanout", auto_delete=True)
        self.reopen()
        self.assert_channel_error(404, "NOT_FOUND - no exchange '%s' in vhost '/'" % (x + ".missing"),
                                  self.ch.exchange_declare, x + ".missing", "direct", passive=True)
        self.reopen()
        self.assert_channel_error(404, "NOT_FOUND - no queue 'compat.nonexistent.q' in vhost '/'",
                                  self.ch.queue_declare, "compat.nonexistent.q", passive=True)
        self.reopen()
        self.assert_channel_error(403, "ACCESS_REFUSED - exchange name 'amq.compat' contains reserved prefix 'amq.*'",
                                  self.ch.exchange_declare, "amq.compat", "direct")
        self.reopen()
        q = self.ch.queue_declare("", exclusive=True).method.queue
        self.assert_channel_error(404, "NOT_FOUND - no exchange 'compat.nonexistent.x' in vhost '/'",
                                  self.ch.queue_bind, q, "compat.nonexistent.x", "k")
        self.reopen()
        self.assert_channel_error(403, "ACCESS_REFUSED - operation not permitted on the default exchange",
                                  self.ch.queue_bind, q, "", "k")
        self.reopen()
        self.assert_channel_error(404, "NOT_FOUND - no queue 'compat.nonexistent.q' in vhost '/'",
                                  self.ch.basic_consume, "compat.nonexistent.q", lambda *a: None)
        self.reopen()
        # publishing to a missing exchange is answered asynchronously with channel.close 404
        self.assert_channel_error(404, "NOT_FOUND - no exchange 'compat.nonexistent.x' in vhost '/'",
                                  self.ch.basic_publish, "compat.nonexistent.x", "k", b"x")
        self.reopen()
        self.ch.basic_publish("", q, b"m")
        self.get(q)
        self.assert_channel_error(406, "PRECONDITION_FAILED - unknown delivery tag 99",
                                  self.ch.basic_ack, 99)
        self.reopen()
        qd = cc.uniq("pika.err.durable")
        self.ch.queue_declare(qd, auto_delete=True)
        self.assert_channel_error(
            406, "PRECONDITION_FAILED - inequivalent arg 'durable' for queue '%s' in vhost '/': "
                 "received 'true' but current is 'false'" % qd,
            self.ch.queue_declare, qd, durable=True, auto_delete=True)


# ---------------------------------------------------------------------------
# Direct reply-to (amq.rabbitmq.reply-to), issue 17
# ---------------------------------------------------------------------------

class DirectReplyTo(PikaCase):
    PSEUDO = "amq.rabbitmq.reply-to"

    def serve(self):
        """An RPC server on its own connection and queue: answers each
        request with the square of its number, to the reply_to it sees."""
        conn = self.connect()
        ch = conn.channel()
        queue = ch.queue_declare("", exclusive=True).method.queue
        seen = []

        def on_request(c, m, p, b):
            seen.append(p.reply_to)
            c.basic_publish("", p.reply_to, str(int(b) ** 2).encode(),
                            pika.BasicProperties(correlation_id=p.correlation_id))
            c.basic_ack(m.delivery_tag)

        ch.basic_consume(queue, on_request)
        return conn, queue, seen

    def test_rpc_client_gets_its_replies(self):
        replies = {}
        self.ch.basic_consume(self.PSEUDO, lambda c, m, p, b: replies.__setitem__(p.correlation_id, (m, b)),
                              auto_ack=True)
        srv, q, seen = self.serve()
        for i in range(1, 6):
            self.ch.basic_publish("", q, str(i).encode(),
                                  pika.BasicProperties(reply_to=self.PSEUDO, correlation_id="c%d" % i))
        deadline = time.monotonic() + cc.WAIT
        while len(replies) < 5 and time.monotonic() < deadline:
            srv.process_data_events(time_limit=0.02)
            self.conn.process_data_events(time_limit=0.02)
        self.assertEqual({k: v[1] for k, v in replies.items()},
                         {"c%d" % i: str(i * i).encode() for i in range(1, 6)})
        # the server saw one address, this channel's, never the pseudo-queue
        self.assertEqual(len(set(seen)), 1)
        addr = seen[0]
        self.assertTrue(addr.startswith(self.PSEUDO + ".") and len(addr) > len(self.PSEUDO) + 1, addr)
        m = replies["c1"][0]
        self.assertEqual((m.exchange, m.routing_key, m.redelivered), ("", addr, False))
        # while the client waits, its address declares passively: 0 messages, 1 consumer
        ok = srv.channel().queue_declare(addr, passive=True).method
        self.assertEqual((ok.message_count, ok.consumer_count), (0, 1))

    def test_consuming_with_acks_is_refused(self):
        self.assert_channel_error(406, "PRECONDITION_FAILED - reply consumer cannot acknowledge",
                                  self.ch.basic_consume, self.PSEUDO, lambda *a: None, auto_ack=False)

    def test_request_without_reply_consumer_is_refused(self):
        self.assert_channel_error(406, "PRECONDITION_FAILED - fast reply consumer does not exist",
                                  self.ch.basic_publish, "", "nowhere", b"x",
                                  pika.BasicProperties(reply_to=self.PSEUDO))

    def test_reply_to_a_closed_channel_is_dropped(self):
        req = self.conn.channel()
        req.basic_consume(self.PSEUDO, lambda *a: None, auto_ack=True)
        q = self.ch.queue_declare("", exclusive=True).method.queue
        req.basic_publish("", q, b"1", pika.BasicProperties(reply_to=self.PSEUDO))
        addr = self.get(q, auto_ack=True)[1].reply_to
        req.close()
        self.ch.basic_publish("", addr, b"too late")
        self.ch.queue_declare("", exclusive=True)  # the replier's channel is still open
        self.assert_channel_error(404, "NOT_FOUND - no queue '%s'" % addr,
                                  self.ch.queue_declare, addr, passive=True)


# ---------------------------------------------------------------------------
# TTL (issue 4)
# ---------------------------------------------------------------------------

class TTL(PikaCase):
    def test_queue_message_ttl_expires_messages(self):
        q = cc.uniq("pika.ttl")
        self.ch.queue_declare(q, auto_delete=False, arguments={"x-message-ttl": 200})
        # under confirms the message is enqueued when basic_publish returns (RabbitMQ
        # answers a passive queue.declare ahead of publishes still in the queue's mailbox)
        self.ch.confirm_delivery()
        self.ch.basic_publish("", q, b"soon gone")
        self.assertEqual(self.count(q), 1)
        cc.wait_for(lambda: self.count(q) == 0, what="expiry of a message with x-message-ttl=200")
        self.get_empty(q)
        self.ch.queue_delete(q)

    def test_queue_message_ttl_fresh_message_is_delivered(self):
        q = cc.uniq("pika.ttl.fresh")
        self.ch.queue_declare(q, arguments={"x-message-ttl": 60000})
        self.ch.basic_publish("", q, b"fresh")
        m = self.get(q, auto_ack=True)
        self.assertEqual(m[2], b"fresh")
        # a queue TTL does not show up as a per-message expiration property
        self.assertIsNone(m[1].expiration)
        self.ch.queue_delete(q)

    def test_per_message_expiration(self):
        q = self.ch.queue_declare("", exclusive=True).method.queue
        self.ch.confirm_delivery()  # both enqueued before the count is read
        self.ch.basic_publish("", q, b"short", pika.BasicProperties(expiration="100"))
        self.ch.basic_publish("", q, b"long", pika.BasicProperties(expiration="60000"))
        cc.wait_for(lambda: self.count(q) == 1, what="the 100 ms message to expire")
        m = self.get(q, auto_ack=True)
        self.assertEqual(m[2], b"long")
        # the expiration property is delivered unchanged
        self.assertEqual(m[1].expiration, "60000")
        self.get_empty(q)

    def test_lower_of_queue_ttl_and_expiration_wins(self):
        q1 = cc.uniq("pika.ttl.low1")
        q2 = cc.uniq("pika.ttl.low2")
        self.ch.queue_declare(q1, arguments={"x-message-ttl": 100})
        self.ch.queue_declare(q2, arguments={"x-message-ttl": 60000})
        self.ch.confirm_delivery()  # both enqueued before the counts are read
        self.ch.basic_publish("", q1, b"a", pika.BasicProperties(expiration="60000"))
        self.ch.basic_publish("", q2, b"b", pika.BasicProperties(expiration="100"))
        cc.wait_for(lambda: self.count(q1) == 0 and self.count(q2) == 0, what="both to expire")
        self.get_empty(q1)
        self.get_empty(q2)
        self.ch.queue_delete(q1)
        self.ch.queue_delete(q2)

    def test_ttl_zero_without_consumer_discards(self):
        q = cc.uniq("pika.ttl0")
        self.ch.queue_declare(q, arguments={"x-message-ttl": 0})
        self.ch.basic_publish("", q, b"now or never")
        time.sleep(0.1)
        self.get_empty(q)
        self.assertEqual(self.count(q), 0)
        self.ch.queue_delete(q)

    def test_expiration_zero_delivered_to_waiting_consumer(self):
        q = self.ch.queue_declare("", exclusive=True).method.queue
        got = []
        self.ch.basic_consume(q, lambda c, m, p, b: got.append((b, p.expiration)), auto_ack=True)
        self.ch.basic_publish("", q, b"immediate", pika.BasicProperties(expiration="0"))
        cc.wait_for(lambda: (self.conn.process_data_events(time_limit=0.05) or got), what="delivery")
        self.assertEqual(got, [(b"immediate", "0")])

    def test_expired_message_behind_head_counts_until_it_reaches_head(self):
        # RabbitMQ (classic queues) removes expired messages only from the head:
        # an expired message behind a live one is still counted, and goes when it
        # becomes the head.
        q = self.ch.queue_declare("", exclusive=True).method.queue
        self.ch.basic_publish("", q, b"A")
        self.ch.basic_publish("", q, b"B", pika.BasicProperties(expiration="50"))
        time.sleep(0.3)
        self.assertEqual(self.count(q), 2)
        m = self.get(q, auto_ack=True)
        self.assertEqual((m[2], m[0].message_count), (b"A", 0))
        self.assertEqual(self.count(q), 0)
        self.get_empty(q)

    def test_unacked_message_does_not_expire_but_expires_when_requeued(self):
        q, dlq = cc.uniq("pika.ttl.unacked"), cc.uniq("pika.ttl.unacked.dlq")
        self.ch.queue_declare(dlq)
        self.ch.queue_declare(q, arguments={"x-message-ttl": 300, "x-dead-letter-exchange": "",
                                            "x-dead-letter-routing-key": dlq})
        self.ch.basic_publish("", q, b"held")
        m = self.get(q)
        time.sleep(0.6)
        self.assertEqual(self.count(dlq), 0, "a delivered, unacked message does not expire")
        self.ch.basic_nack(m[0].delivery_tag, requeue=True)
        d = self.get(dlq, auto_ack=True)
        self.assertEqual(d[2], b"held")
        self.assertEqual(d[1].headers["x-death"][0]["reason"], "expired")
        self.assertEqual(self.count(q), 0)
        self.ch.queue_delete(q)
        self.ch.queue_delete(dlq)

    def test_invalid_expiration_property_is_406(self):
        q = self.ch.queue_declare(cc.uniq("pika.badexp"), auto_delete=True).method.queue
        cases = [("abc", "PRECONDITION_FAILED - invalid expiration 'abc': no_integer"),
                 ("-1", "PRECONDITION_FAILED - invalid expiration '-1': {value_negative,-1}"),
                 ("", "PRECONDITION_FAILED - invalid expiration '': no_integer"),
                 ("99999999999999999",
                  "PRECONDITION_FAILED - invalid expiration '99999999999999999': "
                  "{value_too_large,99999999999999999}")]
        for value, text in cases:
            self.reopen()
            try:
                got = self.assert_channel_error(406, text, self.ch.basic_publish, "", q, b"x",
                                                pika.BasicProperties(expiration=value))
                self.assertEqual(got, text)
            except AssertionError as e:
                raise AssertionError("expiration %r: %s" % (value, e)) from None

    def test_expiration_with_plus_sign_is_accepted(self):
        # RabbitMQ parses expiration as an Erlang integer: a leading '+' is fine
        q = self.ch.queue_declare("", exclusive=True).method.queue
        self.ch.basic_publish("", q, b"plus", pika.BasicProperties(expiration="+60000"))
        m = self.get(q, auto_ack=True)
        self.assertEqual((m[2], m[1].expiration), (b"plus", "+60000"))

    def test_invalid_message_ttl_argument_is_406(self):
        for value, detail in [(-1, "{value_negative,-1}"),
                              ("abc", '"expected integer, got longstr"'),
                              (2 ** 40, "{value_too_large,1099511627776}")]:
            self.reopen()
            q = cc.uniq("pika.badttl")
            try:
                text = self.assert_channel_error(406, "PRECONDITION_FAILED - invalid arg 'x-message-ttl' for queue",
                                                 self.ch.queue_declare, q, arguments={"x-message-ttl": value})
                self.assertEqual(text, "PRECONDITION_FAILED - invalid arg 'x-message-ttl' for queue '%s' "
                                       "in vhost '/': %s" % (q, detail))
            except AssertionError as e:
                raise AssertionError("x-message-ttl %r: %s" % (value, e)) from None

    def test_ttl_limit_is_ten_years(self):
        # RabbitMQ caps x-message-ttl, x-expires and expiration at 315360000000 ms (3650 days)
        limit = 315360000000
        self.ch.queue_declare("", exclusive=True, arguments={"x-message-ttl": limit, "x-expires": limit})
        q = self.ch.queue_declare("", exclusive=True).method.queue
        self.ch.confirm_delivery()
        self.ch.basic_publish("", q, b"x", pika.BasicProperties(expiration=str(limit)))
        for arg in ("x-message-ttl", "x-expires"):
            self.reopen()
            name = cc.uniq("pika.ttl.limit")
            text = self.assert_channel_error(406, "PRECONDITION_FAILED - invalid arg '%s'" % arg,
                                             self.ch.queue_declare, name, arguments={arg: limit + 1})
            self.assertEqual(text, "PRECONDITION_FAILED - invalid arg '%s' for queue '%s' in vhost '/': "
                                   "{value_too_large,%d}" % (arg, name, limit + 1))
        self.reopen()
        q = self.ch.queue_declare("", exclusive=True).method.queue
        self.assert_channel_error(406, "PRECONDITION_FAILED - invalid expiration '%d': {value_too_large,%d}"
                                  % (limit + 1, limit + 1),
                                  self.ch.basic_publish, "", q, b"x", pika.BasicProperties(expiration=str(limit + 1)))

    def test_redeclare_with_other_ttl_is_406_inequivalent(self):
        q = cc.uniq("pika.ttl.redecl")
        self.ch.queue_declare(q, auto_delete=True, arguments={"x-message-ttl": 1000})
        self.ch.queue_declare(q, auto_delete=True, arguments={"x-message-ttl": 1000})  # same: fine
        text = self.assert_channel_error(406, "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl'",
                                         self.ch.queue_declare, q, auto_delete=True,
                                         arguments={"x-message-ttl": 2000})
        self.assertEqual(text, "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue '%s' in "
                               "vhost '/': received '2000' but current is '1000'" % q)
        self.reopen()
        text = self.assert_channel_error(406, "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl'",
                                         self.ch.queue_declare, q, auto_delete=True)
        self.assertEqual(text, "PRECONDITION_FAILED - inequivalent arg 'x-message-ttl' for queue '%s' in "
                               "vhost '/': received none but current is the value '1000' of type 'signedint'" % q)


# ---------------------------------------------------------------------------
# Dead-lettering and x-death (issue 4)
# ---------------------------------------------------------------------------

XDEATH_FIRST_ORDER = ["count", "reason", "queue", "time", "exchange", "routing-keys"]
XDEATH_SORTED_ORDER = ["count", "exchange", "queue", "reason", "routing-keys", "time"]


class DeadLetter(PikaCase):
    def setUp(self):
        super().setUp()
        self.dlx = cc.uniq("pika.dlx")
        self.dlq = cc.uniq("pika.dlq")
        self.ch.exchange_declare(self.dlx, "topic", auto_delete=True)
        self.ch.queue_declare(self.dlq, auto_delete=False)
        self.ch.queue_bind(self.dlq, self.dlx, "#")
        self._queues = [self.dlq]

    def tearDown(self):
        try:
            ch = self.conn.channel() if self.conn.is_open else self.connect().channel()
            for q in self._queues:
                ch.queue_delete(q)
        except Exception:
            pass
        super().tearDown()

    def queue(self, prefix, **args):
        q = cc.uniq(prefix)
        self.ch.queue_declare(q, arguments=args)
        self._queues.append(q)
        return q

    def typed_xdeath(self, props):
        typed = cc.typed_headers_from_properties(props._compat_raw)
        d = cc.table_dict(typed)
        self.assertIn("x-death", d)
        self.assertEqual(d["x-death"][0], "A", "x-death is an array")
        entries = []
        for t, v in d["x-death"][1]:
            self.assertEqual(t, "F", "x-death entries are tables")
            entries.append(v)
        return d, entries

    def test_reject_dead_letters_with_x_death_fields_and_types(self):
        q = self.queue("pika.dl.rej", **{"x-dead-letter-exchange": self.dlx})
        self.ch.queue_bind(q, "amq.direct", q)
        t0 = cc.utc_now_seconds()
        self.ch.basic_publish("amq.direct", q, b"bad", pika.BasicProperties(
            headers={"app": "h"}, priority=2, message_id="m1"))
        m = self.get(q)
        self.ch.basic_reject(m[0].delivery_tag, requeue=False)
        d = self.get(self.dlq, auto_ack=True)
        t1 = cc.utc_now_seconds()
        self.assertEqual(d[2], b"bad")
        # routed on the DLX with the original routing key; properties kept
        self.assertEqual((d[0].exchange, d[0].routing_key, d[0].redelivered), (self.dlx, q, False))
        self.assertEqual((d[1].priority, d[1].message_id), (2, "m1"))
        h, entries = self.typed_xdeath(d[1])
        self.assertEqual(h["app"], ("S", "h"))
        self.assertEqual(len(entries), 1)
        e = {k: (t, v) for k, t, v in entries[0]}
        self.assertEqual(set(e), set(XDEATH_FIRST_ORDER))
        self.assertEqual(e["count"], ("l", 1))
        self.assertEqual(e["reason"], ("S", "rejected"))
        self.assertEqual(e["queue"], ("S", q))
        self.assertEqual(e["exchange"], ("S", "amq.direct"))
        self.assertEqual(e["routing-keys"], ("A", [("S", q)]))
        self.assertEqual(e["time"][0], "T")
        self.assertTrue(t0 - 1 <= e["time"][1] <= t1 + 1, (t0, e["time"], t1))
        self.assertEqual(h["x-first-death-reason"], ("S", "rejected"))
        self.assertEqual(h["x-first-death-queue"], ("S", q))
        self.assertEqual(h["x-first-death-exchange"], ("S", "amq.direct"))

    def test_x_death_wire_order_first_entry_and_sorted_headers(self):
        # RabbitMQ writes the first x-death entry as count, reason, queue, time,
        # exchange, routing-keys, and re-sorts the message's headers table by key
        # when it adds x-death and the x-first-death-* headers.
        q = self.queue("pika.dl.order", **{"x-dead-letter-exchange": self.dlx})
        self.ch.basic_publish("", q, b"o", pika.BasicProperties(headers={"zz": 1, "aa": 2}))
        m = self.get(q)
        self.ch.basic_nack(m[0].delivery_tag, requeue=False)
        d = self.get(self.dlq, auto_ack=True)
        typed = cc.typed_headers_from_properties(d[1]._compat_raw)
        self.assertEqual([k for k, _, _ in typed],
                         ["aa", "x-death", "x-first-death-exchange", "x-first-death-queue",
                          "x-first-death-reason", "zz"])
        entry = cc.table_dict(typed)["x-death"][1][0][1]
        self.assertEqual([k for k, _, _ in entry], XDEATH_FIRST_ORDER)

    def test_dead_letter_routing_key_replaces_key_and_x_death_keeps_original(self):
        q = self.queue("pika.dl.rk", **{"x-dead-letter-exchange": self.dlx,
                                        "x-dead-letter-routing-key": "re.routed"})
        self.ch.basic_publish("", q, b"rk")
        m = self.get(q)
        self.ch.basic_nack(m[0].delivery_tag, requeue=False)
        d = self.get(self.dlq, auto_ack=True)
        self.assertEqual(d[0].routing_key, "re.routed")
        xd = d[1].headers["x-death"][0]
        self.assertEqual((xd["exchange"], xd["routing-keys"], xd["reason"]), ("", [q], "rejected"))

    def test_expired_dead_letter_has_original_expiration_and_cc_but_no_bcc(self):
        q = self.queue("pika.dl.exp", **{"x-dead-letter-exchange": self.dlx})
        other = self.queue("pika.dl.exp.cc")  # the CC key routes a copy here too
        self.ch.basic_publish("", q, b"e", pika.BasicProperties(
            expiration="100", headers={"CC": [other], "BCC": ["compat.nowhere"]}))
        d = self.get(self.dlq, auto_ack=True)
        self.assertEqual(d[2], b"e")
        self.assertIsNone(d[1].expiration, "the expiration property is removed when dead-lettered")
        h, entries = self.typed_xdeath(d[1])
        self.assertEqual(h["CC"], ("A", [("S", other)]))
        self.assertNotIn("BCC", h)
        self.assertEqual([k for k, _, _ in entries[0]], XDEATH_FIRST_ORDER + ["original-expiration"])
        e = {k: (t, v) for k, t, v in entries[0]}
        self.assertEqual(e["reason"], ("S", "expired"))
        self.assertEqual(e["original-expiration"], ("S", "100"))
        self.assertEqual(e["routing-keys"], ("A", [("S", q), ("S", other)]))
        self.assertEqual(h["x-first-death-reason"], ("S", "expired"))
        self.assertEqual(h["x-first-death-exchange"], ("S", ""))
        # the CC copy expired in the other queue too (no DLX there): gone
        cc.wait_for(lambda: self.count(other) == 0, what="expiry of the CC copy")

    def test_queue_ttl_dead_letter_has_no_original_expiration(self):
        q = self.queue("pika.dl.qttl", **{"x-dead-letter-exchange": self.dlx, "x-message-ttl": 50})
        self.ch.basic_publish("", q, b"qt")
        d = self.get(self.dlq, auto_ack=True)
        xd = d[1].headers["x-death"][0]
        self.assertEqual(xd["reason"], "expired")
        self.assertNotIn("original-expiration", xd)

    def test_x_death_count_increments_and_keeps_first_time(self):
        # Rejecting into the queue itself: each death of the same (queue, reason)
        # increments count in one entry (re-sorted by key); its time stays the first one.
        q = cc.uniq("pika.dl.self")
        self.ch.queue_declare(q, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": q})
        self._queues.append(q)
        self.ch.basic_publish("", q, b"loop")
        m = self.get(q)
        self.ch.basic_reject(m[0].delivery_tag, requeue=False)
        m = self.get(q)
        _, entries = self.typed_xdeath(m[1])
        first_time = dict((k, v) for k, _, v in entries[0])["time"]
        time.sleep(1.1)  # the next death happens in a later second
        self.ch.basic_reject(m[0].delivery_tag, requeue=False)
        m = self.get(q)
        self.ch.basic_reject(m[0].delivery_tag, requeue=False)
        m = self.get(q, auto_ack=True)
        h, entries = self.typed_xdeath(m[1])
        self.assertEqual(len(entries), 1)
        self.assertEqual([k for k, _, _ in entries[0]], XDEATH_SORTED_ORDER)
        e = {k: (t, v) for k, t, v in entries[0]}
        self.assertEqual(e["count"], ("l", 3))
        self.assertEqual(e["time"], ("T", first_time))
        self.assertEqual(h["x-first-death-reason"], ("S", "rejected"))

    def test_retry_loop_x_death_entries_most_recent_first(self):
        work, retry = cc.uniq("pika.dl.work"), cc.uniq("pika.dl.retry")
        self.ch.queue_declare(work, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": retry})
        self.ch.queue_declare(retry, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": work,
                                                "x-message-ttl": 50})
        self._queues += [work, retry]
        self.ch.basic_publish("", work, b"job")
        history = []
        for _ in range(3):
            m = self.get(work)
            xd = (m[1].headers or {}).get("x-death", [])
            history.append([(e["queue"], e["reason"], e["count"]) for e in xd])
            self.ch.basic_reject(m[0].delivery_tag, requeue=False)
        self.assertEqual(history, [
            [],
            [(retry, "expired", 1), (work, "rejected", 1)],
            [(retry, "expired", 2), (work, "rejected", 2)],
        ])
        self.assertEqual(m[1].headers["x-first-death-queue"], work)
        self.assertEqual(m[1].headers["x-first-death-reason"], "rejected")

    def test_expiry_cycle_is_dropped(self):
        # A message expiring back into the queue it expired from, with no rejection
        # in the cycle, is dropped (RabbitMQ logs "dead-letter queues cycle detected").
        q = cc.uniq("pika.dl.cycle")
        self.ch.queue_declare(q, arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": q,
                                            "x-message-ttl": 50})
        self._queues.append(q)
        self.ch.confirm_delivery()
        self.ch.basic_publish("", q, b"cyc")
        cc.wait_for(lambda: self.count(q) == 0, what="the cycling message to be dropped")
        time.sleep(0.3)  # and it does not come back
        self.assertEqual(self.count(q), 0)
        self.get_empty(q)

    def test_nack_multiple_dead_letters_all(self):
        q = self.queue("pika.dl.multi", **{"x-dead-letter-exchange": self.dlx})
        for i in range(3):
            self.ch.basic_publish("", q, str(i).encode())
        last = None
        for _ in range(3):
            last = self.get(q)
        self.ch.basic_nack(last[0].delivery_tag, multiple=True, requeue=False)
        got = [self.get(self.dlq, auto_ack=True)[2] for _ in range(3)]
        self.assertEqual(got, [b"0", b"1", b"2"])

    def test_requeue_or_channel_close_does_not_dead_letter(self):
        q = self.queue("pika.dl.requeue", **{"x-dead-letter-exchange": self.dlx})
        self.ch.basic_publish("", q, b"keep")
        m = self.get(q)
        self.ch.basic_nack(m[0].delivery_tag, requeue=True)
        ch2 = self.conn.channel()
        self.get(q, ch=ch2)
        ch2.close()
        cc.wait_for(lambda: self.count(q) == 1, what="requeue on channel close")
        self.assertEqual(self.count(self.dlq), 0)

    def test_purge_and_delete_do_not_dead_letter(self):
        q = self.queue("pika.dl.purge", **{"x-dead-letter-exchange": self.dlx})
        self.ch.confirm_delivery()
        for b in (b"1", b"2"):
            self.ch.basic_publish("", q, b)
        self.assertEqual(self.ch.queue_purge(q).method.message_count, 2)
        self.ch.basic_publish("", q, b"3")
        self.assertEqual(self.ch.queue_delete(q).method.message_count, 1)
        time.sleep(0.3)
        self.assertEqual(self.count(self.dlq), 0)

    def test_max_length_drop_head_dead_letters_with_reason_maxlen(self):
        q = self.queue("pika.dl.maxlen", **{"x-dead-letter-exchange": self.dlx, "x-max-length": 1})
        self.ch.basic_publish("", q, b"old")
        self.ch.basic_publish("", q, b"new")
        d = self.get(self.dlq, auto_ack=True)
        self.assertEqual(d[2], b"old")
        xd = d[1].headers["x-death"][0]
        self.assertEqual((xd["reason"], xd["queue"], xd["count"]), ("maxlen", q, 1))
        self.assertEqual(self.get(q, auto_ack=True)[2], b"new")

    def test_missing_dead_letter_exchange_drops_silently(self):
        q = self.queue("pika.dl.missing", **{"x-dead-letter-exchange": cc.uniq("pika.nosuchdlx")})
        self.ch.basic_publish("", q, b"gone")
        m = self.get(q)
        self.ch.basic_reject(m[0].delivery_tag, requeue=False)
        cc.wait_for(lambda: self.count(q) == 0, what="the rejected message to go")
        self.ch.basic_qos(prefetch_count=0)  # round trip: the channel is still open

    def test_dead_letter_routing_key_without_exchange_is_406(self):
        q = cc.uniq("pika.dl.norkx")
        text = self.assert_channel_error(406, "PRECONDITION_FAILED - invalid arg 'x-dead-letter-routing-key'",
                                         self.ch.queue_declare, q,
                                         arguments={"x-dead-letter-routing-key": "k"})
        self.assertEqual(text, "PRECONDITION_FAILED - invalid arg 'x-dead-letter-routing-key' for queue '%s' "
                               "in vhost '/': routing_key_but_no_dlx_defined" % q)

    def test_dead_letter_exchange_of_wrong_type_is_406(self):
        q = cc.uniq("pika.dl.badtype")
        text = self.assert_channel_error(406, "PRECONDITION_FAILED - invalid type 'signedint' for arg "
                                              "'x-dead-letter-exchange'",
                                         self.ch.queue_declare, q, arguments={"x-dead-letter-exchange": 5})
        self.assertEqual(text, "PRECONDITION_FAILED - invalid type 'signedint' for arg 'x-dead-letter-exchange' "
                               "in queue '%s' in vhost '/'" % q)


# ---------------------------------------------------------------------------
# Priority queues (issue 4)
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# Sender-selected distribution (CC / BCC) and idempotent unbind (issue 17)
# ---------------------------------------------------------------------------

class SenderSelected(PikaCase):
    def setUp(self):
        super().setUp()
        self.x = cc.uniq("pika.ssd.x")
        self.ch.exchange_declare(self.x, "direct", auto_delete=True)
        self.q = []
        for i in range(3):
            q = cc.uniq("pika.ssd.q%d" % i)
            self.ch.queue_declare(q, exclusive=True)
            self.ch.queue_bind(q, self.x, "k%d" % i)
            self.q.append(q)

    def test_ssd_cc_and_bcc_route_bcc_removed(self):
        self.ch.basic_publish(self.x, "k0", b"m", pika.BasicProperties(
            headers={"CC": ["k1", "k0"], "BCC": ["k2", "k1"], "other": "v"}))
        for q in self.q:
            m = self.get(q, auto_ack=True)
            self.assertEqual((m[0].routing_key, m[2]), ("k0", b"m"))
            self.assertEqual(m[1].headers, {"CC": ["k1", "k0"], "other": "v"})
            self.get_empty(q)  # once, however many keys reach the queue

    def test_ssd_default_exchange_topic_and_exchange_to_exchange(self):
        self.ch.basic_publish("", self.q[0], b"d", pika.BasicProperties(
            headers={"CC": [self.q[1], "pika.ssd.nowhere"], "BCC": [self.q[2]]}))
        for q in self.q:
            self.assertEqual(self.get(q, auto_ack=True)[2], b"d")
        t = cc.uniq("pika.ssd.topic")
        self.ch.exchange_declare(t, "topic", auto_delete=True)
        self.ch.exchange_bind(self.x, t, "to.direct")  # t -> x: x routes every key too
        self.ch.queue_bind(self.q[0], t, "a.*")
        self.ch.basic_publish(t, "to.direct", b"t", pika.BasicProperties(
            headers={"CC": ["a.b", 7, b"k2"], "BCC": ["k1"]}))  # only longstr elements count
        self.assertEqual(self.get(self.q[0], auto_ack=True)[2], b"t")
        self.assertEqual(self.get(self.q[1], auto_ack=True)[2], b"t")
        self.get_empty(self.q[2])

    def test_ssd_routed_by_cc_is_not_returned_unroutable_is_without_bcc(self):
        self.ch.confirm_delivery()
        returned = []
        self.ch.add_on_return_callback(lambda c, m, p, b: returned.append((m.reply_code, p.headers)))
        self.ch.basic_publish(self.x, "nomatch", b"cc", pika.BasicProperties(headers={"CC": ["k1"]}),
                              mandatory=True)
        self.ch.basic_publish(self.x, "nomatch", b"bcc", pika.BasicProperties(headers={"BCC": ["k1"]}),
                              mandatory=True)
        with self.assertRaises(pika.exceptions.UnroutableError):
            self.ch.basic_publish(self.x, "nomatch", b"none", pika.BasicProperties(
                headers={"CC": ["zz"], "BCC": ["yy"]}), mandatory=True)
        self.conn.process_data_events(time_limit=0.2)
        self.assertEqual(returned, [(312, {"CC": ["zz"]})])
        self.assertEqual([self.get(self.q[1], auto_ack=True)[2] for _ in range(2)], [b"cc", b"bcc"])

    def test_ssd_cc_or_bcc_not_an_array_is_406(self):
        for name, value, word in (("CC", "k1", "longstr"), ("BCC", 5, "signedint"),
                                  ("CC", {"a": "k1"}, "table")):
            self.assert_channel_error(
                406, 'PRECONDITION_FAILED - invalid message: {unacceptable_type_in_header,"%s",%s}'
                % (name, word), self.ch.basic_publish, self.x, "k0", b"bad",
                pika.BasicProperties(headers={name: value}))
            self.reopen()
        self.get_empty(self.q[0])

    def test_unbind_missing_queue_exchange_or_binding_is_ok(self):
        missing_q, missing_x = cc.uniq("pika.unbind.noq"), cc.uniq("pika.unbind.nox")
        self.ch.queue_unbind(missing_q, self.x, "k0")
        self.ch.queue_unbind(self.q[0], missing_x, "k0")
        self.ch.queue_unbind(missing_q, missing_x, "k0")
        self.ch.queue_unbind(self.q[0], self.x, "never-bound")
        self.ch.exchange_unbind(missing_x, self.x, "k")
        self.ch.exchange_unbind(self.x, missing_x, "k")
        self.ch.exchange_unbind(missing_x, missing_x + ".2", "k")
        self.assert_channel_error(403, "ACCESS_REFUSED - operation not permitted on the default exchange",
                                  self.ch.queue_unbind, missing_q, "", "k0")
        self.reopen()
        self.assert_channel_error(403, "ACCESS_REFUSED - operation not permitted on the default exchange",
                                  self.ch.exchange_unbind, missing_x, "", "k")

class Priority(PikaCase):
    def test_priority_order_and_cap_at_max(self):
        q = self.ch.queue_declare("", exclusive=True, arguments={"x-max-priority": 5}).method.queue
        for body, prio in [(b"none", None), (b"p1", 1), (b"p5", 5), (b"p9", 9), (b"p3", 3), (b"p3b", 3),
                           (b"p0", 0)]:
            self.ch.basic_publish("", q, body, pika.BasicProperties(priority=prio))
        got = []
        for _ in range(7):
            m = self.get(q, auto_ack=True)
            got.append((m[2], m[1].priority))
        # priorities above x-max-priority count as the maximum; FIFO within one priority;
        # no priority = 0; the property itself is delivered unchanged
        self.assertEqual(got, [(b"p5", 5), (b"p9", 9), (b"p3", 3), (b"p3b", 3), (b"p1", 1),
                               (b"none", None), (b"p0", 0)])

    def test_priority_ignored_without_max_priority(self):
        q = self.ch.queue_declare("", exclusive=True).method.queue
        for body, prio in [(b"a", 1), (b"b", 9), (b"c", 5)]:
            self.ch.basic_publish("", q, body, pika.BasicProperties(priority=prio))
        self.assertEqual([self.get(q, auto_ack=True)[2] for _ in range(3)], [b"a", b"b", b"c"])

    def test_priority_consumer_receives_backlog_in_priority_order(self):
        q = self.ch.queue_declare("", exclusive=True, arguments={"x-max-priority": 10}).method.queue
        self.ch.confirm_delivery()
        for i, prio in enumerate([1, 10, 5, 10, 0]):
            self.ch.basic_publish("", q, str(i).encode(), pika.BasicProperties(priority=prio))
        self.assertEqual(self.count(q), 5)
        got = self.consume_n(q, 5)
        self.assertEqual([b for _, _, b in got], [b"1", b"3", b"2", b"0", b"4"])

    def test_requeued_message_goes_back_by_priority(self):
        q = self.ch.queue_declare("", exclusive=True, arguments={"x-max-priority": 10}).method.queue
        self.ch.basic_publish("", q, b"high", pika.BasicProperties(priority=8))
        self.ch.basic_publish("", q, b"low", pika.BasicProperties(priority=1))
        m = self.get(q)
        self.assertEqual(m[2], b"high")
        self.ch.basic_publish("", q, b"mid", pika.BasicProperties(priority=5))
        self.ch.basic_nack(m[0].delivery_tag, requeue=True)
        got = [self.get(q, auto_ack=True) for _ in range(3)]
        self.assertEqual([(g[2], g[0].redelivered) for g in got],
                         [(b"high", True), (b"mid", False), (b"low", False)])

    def test_max_priority_argument_validation(self):
        ok = self.ch.queue_declare("", exclusive=True, arguments={"x-max-priority": 255})
        self.assertTrue(ok.method.queue)
        self.ch.queue_declare("", exclusive=True, arguments={"x-max-priority": 0})
        for value, detail in [(256, "{max_value_exceeded,256}"), (-1, "{value_negative,-1}"),
                              ("x", '"expected integer, got longstr"')]:
            self.reopen()
            q = cc.uniq("pika.prio.bad")
            text = self.assert_channel_error(406, "PRECONDITION_FAILED - invalid arg 'x-max-priority'",
                                             self.ch.queue_declare, q, arguments={"x-max-priority": value})
            self.assertEqual(text, "PRECONDITION_FAILED - invalid arg 'x-max-priority' for queue '%s' in "
                                   "vhost '/': %s" % (q, detail))
        self.reopen()
        q = cc.uniq("pika.prio.redecl")
        self.ch.queue_declare(q, auto_delete=True, arguments={"x-max-priority": 5})
        text = self.assert_channel_error(406, "PRECONDITION_FAILED - inequivalent arg 'x-max-priority'",
                                         self.ch.queue_declare, q, auto_delete=True,
                                         arguments={"x-max-priority": 6})
        self.assertEqual(text, "PRECONDITION_FAILED - inequivalent arg 'x-max-priority' for queue '%s' in "
                               "vhost '/': received '6' but current is '5'" % q)


if __name__ == "__main__":
    cc.main("pika", sys.modules[__name__])
