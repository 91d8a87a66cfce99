#!/usr/bin/python3
"""py-amqp (Debian python3-amqp) against the broker under test.

Slice: login mechanisms, publisher confirms (ack, nack under
x-overflow=reject-publish, returns before acks), transactions, basic.get
(alone and next to a consumer), reject / nack, big multi-frame bodies,
alternate exchanges, internal exchanges (403 on direct publish), x-queue-type
and x-queue-mode validation, immediate=true (540), and the argument errors
RabbitMQ answers with 406. Every expectation is RabbitMQ 3.10's behaviour
(compat/run --against rabbitmq proves it).

Run: /usr/bin/python3 compat/python/test_pyamqp.py [-k NAME]   (see compat/run)
"""

import os
import socket
import sys
import time
import unittest

import amqp
import amqp.exceptions as ax
from amqp import spec

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat_common as cc  # noqa: E402


class AmqpCase(unittest.TestCase):
    def setUp(self):
        self._conns = []
        self.conn = self.connect()
        self.ch = self.conn.channel()

    def tearDown(self):
        for c in self._conns:
            try:
                c.close()
            except Exception:
                pass

    def connect(self, **kw):
        kw.setdefault("connect_timeout", 5)
        kw.setdefault("read_timeout", 10)
        kw.setdefault("write_timeout", 10)
        c = amqp.Connection(host="%s:%d" % (cc.HOST, cc.PORT), userid="guest", password="guest", **kw)
        c.connect()
        self._conns.append(c)
        return c

    def reopen(self):
        if not self.conn.connected:
            self.conn = self.connect()
        self.ch = self.conn.channel()
        return self.ch

    def drain_until(self, predicate, timeout=cc.WAIT, conn=None, what="events"):
        conn = conn or self.conn
        deadline = time.monotonic() + timeout
        while not predicate():
            left = deadline - time.monotonic()
            if left <= 0:
                self.fail("timed out waiting for %s" % what)
            try:
                conn.drain_events(timeout=min(left, 0.2))
            except socket.timeout:
                pass

    def channel_error(self, exc_class, code, text, fn, *args, **kw):
        """fn must make the broker close the channel with (code, text)."""
        with self.assertRaises(exc_class) as cm:
            fn(*args, **kw)
            # asynchronous errors (publish) surface on the next synchronous call
            self.ch.queue_declare("", exclusive=True)
        self.assertEqual(cm.exception.reply_code, code, str(cm.exception))
        self.assertEqual(cm.exception.reply_text, text)
        self.reopen()

    def get(self, queue, timeout=cc.WAIT, no_ack=True, ch=None):
        ch = ch or self.ch
        out = []

        def poll():
            m = ch.basic_get(queue, no_ack=no_ack)
            if m is not None:
                out.append(m)
            return bool(out)

        cc.wait_for(poll, timeout, what="a message on %s" % queue)
        return out[0]

    @staticmethod
    def declare_internal(ch, name, kind, auto_delete=False, internal=True):
        """exchange.declare with the internal bit set: py-amqp's exchange_declare
        always sends internal=false, so this uses its send_method with the same
        argument signature."""
        ch.send_method(spec.Exchange.Declare, "BssbbbbbF",
                       (0, name, kind, False, False, auto_delete, internal, False, {}),
                       wait=spec.Exchange.DeclareOk)

    @staticmethod
    def basic_nack(ch, delivery_tag, multiple=False, requeue=True):
        """basic.nack (RabbitMQ extension; py-amqp 5.1 sends it only through send_method)."""
        ch.send_method(spec.Basic.Nack, "Lbb", (delivery_tag, multiple, requeue))

    def tmpq(self, **kw):
        return self.ch.queue_declare("", exclusive=True, **kw).queue

    def confirms(self, ch):
        """confirm.select and record acks / nacks as (kind, tag, multiple)."""
        events = []
        ch.confirm_select()
        ch.events["basic_ack"].add(lambda tag, multiple: events.append(("ack", tag, multiple)))
        ch.events["basic_nack"].add(lambda tag, multiple: events.append(("nack", tag, multiple)))
        return events

    @staticmethod
    def expand(events, kind):
        """Delivery tags settled with `kind`, expanding multiple=True ranges."""
        tags = set()
        last = 0
        for k, tag, multiple in sorted(events, key=lambda e: e[1]):
            if k == kind:
                tags.update(range(last + 1, tag + 1) if multiple else [tag])
            last = max(last, tag)
        return tags


class Login(AmqpCase):
    def test_amqplain_and_plain_login(self):
        for method in ("AMQPLAIN", "PLAIN"):
            c = self.connect(login_method=method)
            self.assertTrue(c.connected, method)
            c.channel().queue_declare("", exclusive=True)

    def test_server_properties(self):
        props = self.conn.server_properties
        caps = props["capabilities"]
        for cap in ("publisher_confirms", "exchange_exchange_bindings", "basic.nack",
                    "consumer_cancel_notify", "connection.blocked", "authentication_failure_close",
                    "per_consumer_qos", "consumer_priorities", "direct_reply_to"):
            self.assertIs(caps.get(cap), True, cap)
        # kombu chooses its basic.qos from these (see test_celery.py)
        self.assertEqual(props["product"], "RabbitMQ")
        self.assertGreaterEqual(tuple(int(x) for x in props["version"].split(".")[:2]), (3, 3))
        self.assertIn(b"PLAIN", self.conn.mechanisms)
        self.assertIn(b"AMQPLAIN", self.conn.mechanisms)


class Confirms(AmqpCase):
    def test_every_publish_is_acked(self):
        q = self.tmpq()
        events = self.confirms(self.ch)
        for i in range(20):
            self.ch.basic_publish(amqp.Message(str(i)), exchange="", routing_key=q)
        self.drain_until(lambda: self.expand(events, "ack") == set(range(1, 21)), what="20 acks")
        self.assertEqual(self.expand(events, "nack"), set())
        self.assertEqual(self.ch.queue_declare(q, passive=True).message_count, 20)

    def test_unroutable_publish_is_acked_and_mandatory_returned_first(self):
        events = self.confirms(self.ch)
        order = []
        self.ch.events["basic_return"].add(lambda exc, exchange, rk, msg: order.append(("return", exc.reply_code)))
        self.ch.events["basic_ack"].add(lambda tag, multiple: order.append(("ack", tag, multiple)))
        x = cc.uniq("pyamqp.unroutable")
        self.ch.exchange_declare(x, "direct", auto_delete=True)
        self.ch.basic_publish(amqp.Message("a"), exchange=x, routing_key="none")
        self.ch.basic_publish(amqp.Message("b"), exchange=x, routing_key="none", mandatory=True)
        self.drain_until(lambda: self.expand(events, "ack") == {1, 2}, what="acks")
        # the basic.return of message 2 comes before the ack that covers it;
        # acks 1 and 2 may be one multiple ack when both publishes were read
        # together (RabbitMQ and tandemd both coalesce)
        returned = order.index(("return", 312))
        covers2 = next(i for i, e in enumerate(order) if e[0] == "ack" and e[1] >= 2)
        self.assertLess(returned, covers2, order)
        self.assertEqual(order.count(("return", 312)), 1, order)

    def test_reject_publish_overflow_is_nacked(self):
        q = self.tmpq(arguments={"x-max-length": 1, "x-overflow": "reject-publish"})
        events = self.confirms(self.ch)
        for body in ("first", "second", "third"):
            self.ch.basic_publish(amqp.Message(body), exchange="", routing_key=q)
        self.drain_until(lambda: len(self.expand(events, "ack") | self.expand(events, "nack")) == 3,
                         what="3 confirms")
        self.assertEqual(self.expand(events, "ack"), {1})
        self.assertEqual(self.expand(events, "nack"), {2, 3})
        self.assertEqual(self.get(q).body, "first")
        # room again: the next publish is acked
        self.ch.basic_publish(amqp.Message("fourth"), exchange="", routing_key=q)
        self.drain_until(lambda: 4 in self.expand(events, "ack"), what="ack 4")

    def test_reject_publish_dlx_nacks_and_dead_letters(self):
        dlq = self.tmpq()
        q = self.tmpq(arguments={"x-max-length": 1, "x-overflow": "reject-publish-dlx",
                                 "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq})
        events = self.confirms(self.ch)
        self.ch.basic_publish(amqp.Message("kept"), exchange="", routing_key=q)
        self.ch.basic_publish(amqp.Message("over"), exchange="", routing_key=q)
        self.drain_until(lambda: len(events) >= 2, what="2 confirms")
        self.assertEqual((self.expand(events, "ack"), self.expand(events, "nack")), ({1}, {2}))
        d = self.get(dlq)
        self.assertEqual(d.body, "over")
        xd = d.headers["x-death"][0]
        self.assertEqual((xd["reason"], xd["queue"], xd["count"]), ("maxlen", q, 1))
        self.assertEqual(self.ch.queue_declare(q, passive=True).message_count, 1)

    def test_reject_publish_does_not_dead_letter(self):
        # plain reject-publish refuses the message; only reject-publish-dlx dead-letters it
        dlq = self.tmpq()
        q = self.tmpq(arguments={"x-max-length": 1, "x-overflow": "reject-publish",
                                 "x-dead-letter-exchange": "", "x-dead-letter-routing-key": dlq})
        events = self.confirms(self.ch)
        self.ch.basic_publish(amqp.Message("kept"), exchange="", routing_key=q)
        self.ch.basic_publish(amqp.Message("refused"), exchange="", routing_key=q)
        self.drain_until(lambda: len(events) >= 2, what="2 confirms")
        self.assertEqual((self.expand(events, "ack"), self.expand(events, "nack")), ({1}, {2}))
        time.sleep(0.2)
        self.assertEqual(self.ch.queue_declare(dlq, passive=True).message_count, 0)

    def test_confirm_publish_connection_option(self):
        # py-amqp's confirm_publish=True waits for each ack inside basic_publish
        c = self.connect(confirm_publish=True)
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).queue
        ch.basic_publish(amqp.Message("sync"), exchange="", routing_key=q)
        self.assertEqual(ch.queue_declare(q, passive=True).message_count, 1)
        qf = ch.queue_declare("", exclusive=True, arguments={"x-max-length": 0,
                                                             "x-overflow": "reject-publish"}).queue
        with self.assertRaises(ax.MessageNacked):
            ch.basic_publish(amqp.Message("refused"), exchange="", routing_key=qf)


class Transactions(AmqpCase):
    def test_rollback_discards_and_commit_publishes(self):
        q = self.tmpq()
        self.ch.tx_select()
        self.ch.basic_publish(amqp.Message("rolled back"), exchange="", routing_key=q)
        self.ch.tx_rollback()
        self.ch.basic_publish(amqp.Message("committed"), exchange="", routing_key=q)
        self.assertIsNone(self.conn.channel().basic_get(q, no_ack=True))
        self.ch.tx_commit()
        self.assertEqual(self.get(q).body, "committed")
        self.assertIsNone(self.ch.basic_get(q, no_ack=True))

    def test_rolled_back_ack_leaves_message_unacked(self):
        q = self.tmpq()
        self.ch.basic_publish(amqp.Message("m"), exchange="", routing_key=q)
        tx = self.conn.channel()
        tx.tx_select()
        m = self.get(q, no_ack=False, ch=tx)
        tx.basic_ack(m.delivery_tag)
        tx.tx_rollback()
        tx.close()  # the ack was rolled back: closing requeues the message
        again = self.get(q)
        self.assertEqual((again.body, again.delivery_info["redelivered"]), ("m", True))

    def test_tx_errors(self):
        self.channel_error(ax.PreconditionFailed, 406, "PRECONDITION_FAILED - channel is not transactional",
                           self.ch.tx_commit)
        self.channel_error(ax.PreconditionFailed, 406, "PRECONDITION_FAILED - channel is not transactional",
                           self.ch.tx_rollback)
        self.ch.tx_select()
        self.channel_error(ax.PreconditionFailed, 406, "PRECONDITION_FAILED - cannot switch from tx to confirm mode",
                           self.ch.confirm_select)
        self.ch.confirm_select()
        self.channel_error(ax.PreconditionFailed, 406, "PRECONDITION_FAILED - cannot switch from confirm to tx mode",
                           self.ch.tx_select)


class Get(AmqpCase):
    def test_get_ok_fields_and_get_empty(self):
        q = self.tmpq()
        for i in range(3):
            self.ch.basic_publish(amqp.Message("m%d" % i, content_type="text/plain",
                                               application_headers={"i": i}),
                                  exchange="", routing_key=q)
        m = self.get(q, no_ack=False)
        self.assertEqual(m.body, "m0")
        self.assertEqual(m.delivery_info["message_count"], 2)
        self.assertEqual(m.delivery_info["routing_key"], q)
        self.assertEqual(m.delivery_info["exchange"], "")
        self.assertFalse(m.delivery_info["redelivered"])
        self.assertEqual(m.properties["content_type"], "text/plain")
        self.assertEqual(m.headers, {"i": 0})
        m2 = self.ch.basic_get(q, no_ack=False)
        self.assertEqual(m2.delivery_tag, m.delivery_tag + 1)
        self.assertEqual(m2.delivery_info["message_count"], 1)
        self.ch.basic_ack(m2.delivery_tag, multiple=True)
        self.assertEqual(self.ch.basic_get(q, no_ack=True).body, "m2")
        self.assertIsNone(self.ch.basic_get(q, no_ack=True))

    def test_get_next_to_a_consumer_on_the_same_queue(self):
        q = cc.uniq("pyamqp.getmix")
        self.ch.queue_declare(q, auto_delete=True)
        for i in range(3):
            self.ch.basic_publish(amqp.Message("m%d" % i), exchange="", routing_key=q)
        cc.wait_for(lambda: self.ch.queue_declare(q, passive=True).message_count == 3, what="3 queued")
        cons = self.conn.channel()
        cons.basic_qos(0, 1, False)
        got = []
        cons.basic_consume(q, callback=got.append)
        self.drain_until(lambda: len(got) == 1, what="first delivery")
        self.assertEqual(got[0].body, "m0")
        # the consumer holds m0 (prefetch 1); basic.get takes the next one
        self.assertEqual(self.ch.basic_get(q, no_ack=True).body, "m1")
        cons.basic_ack(got[0].delivery_tag)
        self.drain_until(lambda: len(got) == 2, what="second delivery")
        self.assertEqual(got[1].body, "m2")
        cons.basic_ack(got[1].delivery_tag)

    def test_reject_and_nack(self):
        q = self.tmpq()
        for i in range(4):
            self.ch.basic_publish(amqp.Message("m%d" % i), exchange="", routing_key=q)
        ms = [self.get(q, no_ack=False) for _ in range(4)]
        self.ch.basic_reject(ms[0].delivery_tag, requeue=True)
        self.ch.basic_reject(ms[1].delivery_tag, requeue=False)
        self.basic_nack(self.ch, ms[3].delivery_tag, multiple=True, requeue=True)  # m2, m3
        got = [self.get(q) for _ in range(3)]
        self.assertEqual([(g.body, g.delivery_info["redelivered"]) for g in got],
                         [("m0", True), ("m2", True), ("m3", True)])
        self.assertIsNone(self.ch.basic_get(q, no_ack=True))

    def test_large_body_split_into_frames(self):
        c = self.connect(frame_max=4096)
        ch = c.channel()
        q = ch.queue_declare("", exclusive=True).queue
        body = bytes(range(256)) * 4096 + b"end"  # 1 MiB + 3, many 4 KiB frames
        ch.basic_publish(amqp.Message(body), exchange="", routing_key=q)
        got = []

        def poll():
            m = ch.basic_get(q, no_ack=True)
            if m is not None:
                got.append(m)
            return bool(got)

        cc.wait_for(poll, what="the big message")
        self.assertEqual(len(got[0].body), len(body))
        self.assertEqual(got[0].body, body)


class AlternateExchange(AmqpCase):
    def test_unroutable_goes_to_alternate_exchange(self):
        ae = cc.uniq("pyamqp.ae")
        x = cc.uniq("pyamqp.withae")
        self.ch.exchange_declare(ae, "fanout", auto_delete=True)
        aq = self.tmpq()
        self.ch.queue_bind(aq, ae)
        self.ch.exchange_declare(x, "direct", auto_delete=True, arguments={"alternate-exchange": ae})
        rq = self.tmpq()
        self.ch.queue_bind(rq, x, "known")
        returned = []
        self.ch.events["basic_return"].add(lambda *a: returned.append(a))
        self.ch.basic_publish(amqp.Message("routable"), exchange=x, routing_key="known", mandatory=True)
        self.ch.basic_publish(amqp.Message("stray"), exchange=x, routing_key="unknown", mandatory=True)
        m = self.get(aq)
        self.assertEqual(m.body, "stray")
        # delivered from the AE's queue with the original exchange and routing key
        self.assertEqual((m.delivery_info["exchange"], m.delivery_info["routing_key"]), (x, "unknown"))
        self.assertEqual(self.get(rq).body, "routable")
        self.assertIsNone(self.ch.basic_get(aq, no_ack=True))
        try:
            self.conn.drain_events(timeout=0.2)
        except socket.timeout:
            pass
        self.assertEqual(returned, [], "routed through the AE: not returned")

    def test_alternate_exchange_chain_and_missing_alternate(self):
        ae_final = cc.uniq("pyamqp.ae.final")
        ae_mid = cc.uniq("pyamqp.ae.mid")
        x = cc.uniq("pyamqp.ae.head")
        self.ch.exchange_declare(ae_final, "fanout", auto_delete=True)
        aq = self.tmpq()
        self.ch.queue_bind(aq, ae_final)
        self.ch.exchange_declare(ae_mid, "topic", auto_delete=False, arguments={"alternate-exchange": ae_final})
        self.ch.exchange_declare(x, "direct", auto_delete=False, arguments={"alternate-exchange": ae_mid})
        self.ch.basic_publish(amqp.Message("chained"), exchange=x, routing_key="k")
        self.assertEqual(self.get(aq).body, "chained")

        lonely = cc.uniq("pyamqp.ae.lonely")
        self.ch.exchange_declare(lonely, "direct", auto_delete=False, arguments={"alternate-exchange": cc.uniq("pyamqp.ae.none")})
        returned = []
        self.ch.events["basic_return"].add(
            lambda exc, exchange, rk, msg: returned.append((exc.reply_code, exc.reply_text, exchange, rk, msg.body)))
        self.ch.basic_publish(amqp.Message("nowhere"), exchange=lonely, routing_key="k", mandatory=True)
        self.drain_until(lambda: returned, what="basic.return")
        self.assertEqual(returned, [(312, "NO_ROUTE", lonely, "k", "nowhere")])
        for e in (x, ae_mid, lonely):
            self.ch.exchange_delete(e)

    def test_alternate_exchange_cycle_is_returned(self):
        a, b = cc.uniq("pyamqp.ae.cyc.a"), cc.uniq("pyamqp.ae.cyc.b")
        self.ch.exchange_declare(a, "direct", auto_delete=False, arguments={"alternate-exchange": b})
        self.ch.exchange_declare(b, "direct", auto_delete=False, arguments={"alternate-exchange": a})
        returned = []
        self.ch.events["basic_return"].add(lambda exc, exchange, rk, msg: returned.append((exc.reply_code, exchange)))
        self.ch.basic_publish(amqp.Message("loop"), exchange=a, routing_key="k", mandatory=True)
        self.drain_until(lambda: returned, what="basic.return")
        self.assertEqual(returned, [(312, a)])
        self.ch.exchange_delete(a)
        self.ch.exchange_delete(b)

    def test_alternate_exchange_argument_errors(self):
        x = cc.uniq("pyamqp.ae.bad")
        self.channel_error(ax.PreconditionFailed, 406,
                           "PRECONDITION_FAILED - invalid type 'signedint' for arg 'alternate-exchange' in "
                           "exchange '%s' in vhost '/'" % x,
                           self.ch.exchange_declare, x, "direct", arguments={"alternate-exchange": 5})
        self.ch.exchange_declare(x, "direct", auto_delete=True, arguments={"alternate-exchange": "a"})
        self.channel_error(ax.PreconditionFailed, 406,
                           "PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange '%s' in "
                           "vhost '/': received 'b' but current is 'a'" % x,
                           self.ch.exchange_declare, x, "direct", auto_delete=True,
                           arguments={"alternate-exchange": "b"})
        self.channel_error(ax.PreconditionFailed, 406,
                           "PRECONDITION_FAILED - inequivalent arg 'alternate-exchange' for exchange '%s' in "
                           "vhost '/': received none but current is the value 'a' of type 'longstr'" % x,
                           self.ch.exchange_declare, x, "direct", auto_delete=True)


class InternalExchange(AmqpCase):
    def test_publish_to_internal_exchange_is_403(self):
        x = cc.uniq("pyamqp.internal")
        self.declare_internal(self.ch, x, "fanout", auto_delete=True)
        self.channel_error(ax.AccessRefused, 403,
                           "ACCESS_REFUSED - cannot publish to internal exchange '%s' in vhost '/'" % x,
                           self.ch.basic_publish, amqp.Message("no"), exchange=x, routing_key="")

    def test_internal_exchange_reached_through_exchange_binding(self):
        pub = cc.uniq("pyamqp.public")
        internal = cc.uniq("pyamqp.internal2")
        self.ch.exchange_declare(pub, "topic", auto_delete=True)
        self.declare_internal(self.ch, internal, "fanout", auto_delete=True)
        q = self.tmpq()
        self.ch.queue_bind(q, internal)
        self.ch.exchange_bind(internal, pub, "#")
        self.ch.basic_publish(amqp.Message("via binding"), exchange=pub, routing_key="a.b")
        m = self.get(q)
        self.assertEqual((m.body, m.delivery_info["exchange"]), ("via binding", pub))

    def test_internal_exchange_as_alternate_exchange(self):
        internal = cc.uniq("pyamqp.internal.ae")
        x = cc.uniq("pyamqp.internal.ae.head")
        self.declare_internal(self.ch, internal, "fanout")
        q = self.tmpq()
        self.ch.queue_bind(q, internal)
        self.ch.exchange_declare(x, "direct", auto_delete=False, arguments={"alternate-exchange": internal})
        self.ch.basic_publish(amqp.Message("to ae"), exchange=x, routing_key="k")
        self.assertEqual(self.get(q).body, "to ae")
        self.ch.exchange_delete(x)
        self.ch.exchange_delete(internal)

    def test_redeclare_with_other_internal_flag_is_406(self):
        x = cc.uniq("pyamqp.internal3")
        self.declare_internal(self.ch, x, "fanout", auto_delete=True)
        self.channel_error(ax.PreconditionFailed, 406,
                           "PRECONDITION_FAILED - inequivalent arg 'internal' for exchange '%s' in vhost '/': "
                           "received 'false' but current is 'true'" % x,
                           self.declare_internal, self.ch, x, "fanout", auto_delete=True, internal=False)


class QueueArguments(AmqpCase):
    def arg_error(self, args, text_tail, name=None):
        q = name or cc.uniq("pyamqp.args")
        with self.assertRaises(ax.PreconditionFailed) as cm:
            self.ch.queue_declare(q, auto_delete=True, arguments=args)
        self.assertEqual(cm.exception.reply_code, 406)
        self.assertEqual(cm.exception.reply_text, text_tail.replace("%Q", q))
        self.reopen()

    def test_queue_type_classic_accepted_unknown_refused(self):
        q = cc.uniq("pyamqp.qt")
        self.ch.queue_declare(q, auto_delete=True, arguments={"x-queue-type": "classic"})
        # an existing classic queue may be redeclared with or without x-queue-type=classic
        self.ch.queue_declare(q, auto_delete=True)
        q2 = cc.uniq("pyamqp.qt2")
        self.ch.queue_declare(q2, auto_delete=True)
        self.ch.queue_declare(q2, auto_delete=True, arguments={"x-queue-type": "classic"})
        self.arg_error({"x-queue-type": "foo"},
                       "PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue '%Q' in vhost '/': "
                       "\"unsupported queue type 'foo'\"")
        self.arg_error({"x-queue-type": 5},
                       "PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue '%Q' in vhost '/': "
                       "{unacceptable_type,signedint}")

    def test_queue_mode_lazy_and_default_accepted_unknown_refused(self):
        self.ch.queue_declare("", exclusive=True, arguments={"x-queue-mode": "lazy"})
        self.ch.queue_declare("", exclusive=True, arguments={"x-queue-mode": "default"})
        self.arg_error({"x-queue-mode": "foo"},
                       "PRECONDITION_FAILED - invalid arg 'x-queue-mode' for queue '%Q' in vhost '/': "
                       "\"unsupported queue mode 'foo'\"")

    def test_length_and_overflow_argument_errors(self):
        self.arg_error({"x-overflow": "foo"},
                       "PRECONDITION_FAILED - invalid arg 'x-overflow' for queue '%Q' in vhost '/': invalid_overflow")
        self.arg_error({"x-max-length": -1},
                       "PRECONDITION_FAILED - invalid arg 'x-max-length' for queue '%Q' in vhost '/': "
                       "{value_negative,-1}")

    def test_expires_and_single_active_consumer_argument_errors(self):
        self.arg_error({"x-expires": 0},
                       "PRECONDITION_FAILED - invalid arg 'x-expires' for queue '%Q' in vhost '/': {value_zero,0}")
        self.arg_error({"x-expires": -5},
                       "PRECONDITION_FAILED - invalid arg 'x-expires' for queue '%Q' in vhost '/': "
                       "{value_negative,-5}")
        self.arg_error({"x-single-active-consumer": "yes"},
                       "PRECONDITION_FAILED - invalid arg 'x-single-active-consumer' for queue '%Q' in vhost '/': "
                       "{unacceptable_type,longstr}")
        q = cc.uniq("pyamqp.sac")
        self.ch.queue_declare(q, auto_delete=True, arguments={"x-single-active-consumer": True})
        self.arg_error({"x-single-active-consumer": False},
                       "PRECONDITION_FAILED - inequivalent arg 'x-single-active-consumer' for queue '%Q' in "
                       "vhost '/': received 'false' but current is 'true'", name=q)

    def test_redeclare_inequivalent_dead_letter_and_expires(self):
        q = cc.uniq("pyamqp.dlxre")
        self.ch.queue_declare(q, auto_delete=True, arguments={"x-dead-letter-exchange": "a",
                                                              "x-expires": 100000})
        self.arg_error({"x-dead-letter-exchange": "b", "x-expires": 100000},
                       "PRECONDITION_FAILED - inequivalent arg 'x-dead-letter-exchange' for queue '%Q' in "
                       "vhost '/': received 'b' but current is 'a'", name=q)
        self.arg_error({"x-dead-letter-exchange": "a", "x-expires": 200000},
                       "PRECONDITION_FAILED - inequivalent arg 'x-expires' for queue '%Q' in "
                       "vhost '/': received '200000' but current is '100000'", name=q)


class Errors(AmqpCase):
    def test_immediate_is_540_not_implemented_and_closes_connection(self):
        q = self.tmpq()
        with self.assertRaises(ax.AMQPNotImplementedError) as cm:
            self.ch.basic_publish(amqp.Message("x"), exchange="", routing_key=q, immediate=True)
            self.ch.queue_declare("", exclusive=True)
        self.assertEqual(cm.exception.reply_code, 540)
        self.assertEqual(cm.exception.reply_text, "NOT_IMPLEMENTED - immediate=true")
        self.assertFalse(self.conn.connected)

    def test_server_generated_consumer_tag_and_reuse_is_530(self):
        q = self.tmpq()
        tag = self.ch.basic_consume(q, callback=lambda m: None)
        self.assertTrue(tag.startswith("amq.ctag-"), tag)
        self.ch.basic_cancel("compat-no-such-tag")  # cancelling an unknown tag is fine
        with self.assertRaises(ax.NotAllowed) as cm:
            self.ch.basic_consume(q, consumer_tag=tag, callback=lambda m: None)
            self.ch.queue_declare("", exclusive=True)
        self.assertEqual(cm.exception.reply_code, 530)
        self.assertEqual(cm.exception.reply_text, "NOT_ALLOWED - attempt to reuse consumer tag '%s'" % tag)
        self.assertFalse(self.conn.connected, "530 closes the connection")

    def test_channel_flow(self):
        self.assertTrue(self.ch.flow(True))
        with self.assertRaises(ax.AMQPNotImplementedError) as cm:
            self.ch.flow(False)
            self.ch.queue_declare("", exclusive=True)
        self.assertEqual((cm.exception.reply_code, cm.exception.reply_text), (540, "NOT_IMPLEMENTED - active=false"))
        self.assertFalse(self.conn.connected)

    def test_recover_without_requeue_is_540(self):
        with self.assertRaises(ax.AMQPNotImplementedError) as cm:
            self.ch.basic_recover(requeue=False)
            self.ch.queue_declare("", exclusive=True)
        self.assertEqual((cm.exception.reply_code, cm.exception.reply_text), (540, "NOT_IMPLEMENTED - requeue=false"))
        self.assertFalse(self.conn.connected)

    def test_exchange_delete_if_unused_and_unbind(self):
        x = cc.uniq("pyamqp.xdel")
        self.ch.exchange_declare(x, "direct", auto_delete=False)
        q = self.tmpq()
        self.ch.queue_bind(q, x, "k")
        self.channel_error(ax.PreconditionFailed, 406,
                           "PRECONDITION_FAILED - exchange '%s' in vhost '/' in use" % x,
                           self.ch.exchange_delete, x, if_unused=True)
        self.ch.basic_publish(amqp.Message("bound"), exchange=x, routing_key="k")
        self.assertEqual(self.get(q).body, "bound")
        self.ch.queue_unbind(q, x, "k")
        self.ch.basic_publish(amqp.Message("unbound"), exchange=x, routing_key="k")
        self.ch.queue_declare("", exclusive=True)
        self.assertIsNone(self.ch.basic_get(q, no_ack=True))
        self.ch.exchange_delete(x, if_unused=True)
        self.channel_error(ax.NotFound, 404, "NOT_FOUND - no exchange '%s' in vhost '/'" % x,
                           self.ch.exchange_declare, x, "direct", passive=True)

    def test_delete_of_missing_queue_and_exchange_is_ok(self):
        # RabbitMQ 3.x: deleting what does not exist succeeds
        self.assertEqual(self.ch.queue_delete(cc.uniq("pyamqp.none")), 0)
        self.ch.exchange_delete(cc.uniq("pyamqp.none"))
        self.ch.queue_declare("", exclusive=True)

    def test_redeclare_exchange_other_durability_is_406(self):
        x = cc.uniq("pyamqp.xdur")
        self.ch.exchange_declare(x, "topic", durable=False, auto_delete=True)
        self.channel_error(ax.PreconditionFailed, 406,
                           "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange '%s' in vhost '/': "
                           "received 'true' but current is 'false'" % x,
                           self.ch.exchange_declare, x, "topic", durable=True, auto_delete=True)


if __name__ == "__main__":
    cc.main("pyamqp", sys.modules[__name__])
