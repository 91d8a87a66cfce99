#!/usr/bin/python3
"""pika (Debian python3-pika) against a cluster of three or more nodes.

What a cluster of AMQP nodes must do, as clients see it (issue 15): one set of
definitions whatever node a client connects to (exchanges, queues, bindings,
the same 406 texts for a conflicting redeclare on another node, the same
objects in every node's management API), queues reachable from any node
(publish on one node into a queue on another, consume from a third, confirms
and acks across nodes, order kept), a durable classic queue whose node is
down (404 from the others; the queue and its persistent messages back when
the node is), and quorum queues (their refusals, confirms and consumers on
different nodes, x-delivery-count, x-delivery-limit dead-lettering).

Every expectation is RabbitMQ 3.10's behaviour: `compat/run cluster-rabbitmq`
runs this file against a private 3-node RabbitMQ cluster
(tests/rabbitmq/start-cluster.sh). To run it against other nodes, set
COMPAT_HOST, COMPAT_AMQP_PORTS="p1 p2 p3" (node 1 first), COMPAT_HTTP_PORTS
(their management API ports) and, for the test that stops a node,
COMPAT_CLUSTER_CTL (a command prefix taking `stop I` / `start I`); see
compat/README.md.

Run: /usr/bin/python3 compat/python/test_cluster_amqp.py [-k NAME]
"""

import base64
import json
import os
import re
import shlex
import subprocess
import sys
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

import pika
import pika.exceptions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat_common as cc  # noqa: E402

# Keep the raw content-header property bytes on every decoded BasicProperties,
# so tests can check the wire type of a header (pika flattens them).
_orig_decode = pika.spec.BasicProperties.decode


def _decode_keeping_raw(self, encoded, offset=0):
    self._compat_raw = bytes(encoded[offset:])
    return _orig_decode(self, encoded, offset)


pika.spec.BasicProperties.decode = _decode_keeping_raw


def typed_header(props, key):
    """(wire type, value) of header key, or None when absent."""
    typed = cc.typed_headers_from_properties(props._compat_raw)
    return cc.table_dict(typed or []).get(key)


NODES = len(cc.AMQP_PORTS)
# How long a node may take to stop or to start again (RabbitMQ: about 9 s each
# on a loaded 2-core machine).
CTL_TIMEOUT = 150
# What RabbitMQ answers for a durable classic queue whose home node is down
# (rabbit_amqqueue's not_found_or_absent, reason nodedown); only the node's
# name is left open, it differs from broker to broker.
HOME_NODE_DOWN = re.compile(r"NOT_FOUND - home node '([^']+)' of durable queue '(.*)' "
                            r"in vhost '/' is down or inaccessible\Z")


def params(node, **kw):
    kw.setdefault("socket_timeout", 5)
    kw.setdefault("blocked_connection_timeout", 10)
    kw.setdefault("stack_timeout", 10)
    kw.setdefault("connection_attempts", 1)
    return pika.ConnectionParameters(cc.HOST, cc.AMQP_PORTS[node - 1], **kw)


def http(node, method, path, body=None):
    """(status, parsed JSON or None) of one management API request to node."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request("http://%s:%d%s" % (cc.HOST, cc.HTTP_PORTS[node - 1], path),
                                 data=data, method=method)
    req.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as e:
        status, raw = e.code, e.read()
    try:
        return status, (json.loads(raw) if raw else None)
    except ValueError:
        return status, raw


def seg(name):
    return urllib.parse.quote(name, safe="")


def cluster_ctl(op, node):
    """Stop or start node with COMPAT_CLUSTER_CTL (bounded)."""
    cmd = shlex.split(cc.CLUSTER_CTL) + [op, str(node)]
    res = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         timeout=CTL_TIMEOUT, check=False)
    if res.returncode != 0:
        raise AssertionError("%s failed (exit status %d): %s" % (
            " ".join(cmd), res.returncode, res.stdout.decode(errors="replace")[-2000:]))


class ClusterCase(unittest.TestCase):
    def setUp(self):
        if NODES < 3:
            self.fail("COMPAT_AMQP_PORTS must list the AMQP ports of 3 nodes (got %r)" % cc.AMQP_PORTS)
        self._conns = []
        self._cleanup = []  # (node, kind, name)

    def tearDown(self):
        for node, kind, name in reversed(self._cleanup):
            try:
                ch = self.channel(node)
                if kind == "queue":
                    ch.queue_delete(name)
                else:
                    ch.exchange_delete(name)
            except Exception:
                pass
        for c in self._conns:
            try:
                if c.is_open:
                    c.close()
            except Exception:
                pass

    def connect(self, node):
        c = pika.BlockingConnection(params(node))
        self._conns.append(c)
        return c

    def channel(self, node, confirm=False):
        ch = self.connect(node).channel()
        if confirm:
            ch.confirm_delivery()
        return ch

    def queue(self, node, prefix, **kw):
        """Declare a queue of a unique name on node; deleted after the test.
        Every node knows it once the declaration is answered (see
        known_everywhere)."""
        name = cc.uniq("cluster." + prefix)
        self.channel(node).queue_declare(name, **kw)
        self._cleanup.append((node, "queue", name))
        if not kw.get("exclusive"):
            self.known_everywhere("queue", name)
        return name

    def exchange(self, node, prefix, kind="direct", **kw):
        name = cc.uniq("cluster." + prefix)
        self.channel(node).exchange_declare(name, kind, **kw)
        self._cleanup.append((node, "exchange", name))
        self.known_everywhere("exchange", name)
        return name

    def known_everywhere(self, kind, name):
        """A passive declare finds name on every node at once, with no
        wait: a declaration is answered once every node applied it
        (RabbitMQ: Mnesia's transaction; tandem: the definitions log's
        leader acknowledges a record once every in-sync node applied it)."""
        for node in range(1, NODES + 1):
            ch = self.connect(node).channel()
            if kind == "queue":
                ch.queue_declare(name, passive=True)
            else:
                ch.exchange_declare(name, passive=True)
            ch.close()

    def routed(self, ch, exchange, key, body, props=None):
        """A mandatory publish on a confirm channel that must be routed at
        once: a binding made on another node is there when its bind-ok
        came (read-your-writes across nodes, as in RabbitMQ)."""
        try:
            ch.basic_publish(exchange, key, body, props, mandatory=True)
        except pika.exceptions.UnroutableError:
            self.fail("%r on %s came back unroutable" % (key, exchange))

    def unrouted(self, ch, exchange, key, body):
        """A mandatory publish on a confirm channel that must come back
        unroutable at once (see routed).  Returns 0: no copy was routed."""
        with self.assertRaises(pika.exceptions.UnroutableError):
            ch.basic_publish(exchange, key, body, mandatory=True)
        return 0

    def assert_channel_error(self, code, text, fn, *args, **kw):
        """fn(*args) closes its channel with code and exactly text (a str, or
        a compiled pattern that must match all of it); returns the text."""
        with self.assertRaises(pika.exceptions.ChannelClosedByBroker) as cm:
            fn(*args, **kw)
        got = cm.exception.reply_text
        self.assertEqual(cm.exception.reply_code, code, got)
        if isinstance(text, str):
            self.assertEqual(got, text)
        else:
            self.assertRegex(got, text)
        return got

    def count(self, node, queue):
        return self.channel(node).queue_declare(queue, passive=True).method.message_count

    def wait_count(self, node, queue, n):
        ch = self.channel(node)
        cc.wait_for(lambda: ch.queue_declare(queue, passive=True).method.message_count == n,
                    what="%d messages in %s seen from node %d" % (n, queue, node))

    def consume(self, node, queue, n, ack=True, prefetch=100, timeout=cc.WAIT):
        """n deliveries from queue through a consumer on node, in arrival
        order, acked one by one (ack=True); [(method, properties, body)]."""
        conn = self.connect(node)
        ch = conn.channel()
        ch.basic_qos(prefetch_count=prefetch)
        got = []

        def on_message(c, m, p, b):
            got.append((m, p, b))
            if ack:
                c.basic_ack(m.delivery_tag)

        tag = ch.basic_consume(queue, on_message)
        deadline = time.monotonic() + timeout
        while len(got) < n and time.monotonic() < deadline:
            conn.process_data_events(time_limit=0.05)
        ch.basic_cancel(tag)
        self.assertEqual(len(got), n, "expected %d deliveries from %s on node %d, got %d" % (
            n, queue, node, len(got)))
        return got

    def get(self, ch, queue, timeout=cc.WAIT):
        """basic.get (manual ack) polled until a message arrives."""
        got = []

        def poll():
            m = ch.basic_get(queue, auto_ack=False)
            if m[0] is not None:
                got.append(m)
                return True
            return False

        cc.wait_for(poll, timeout, what="a message on %s" % queue)
        return got[0]


# ---------------------------------------------------------------------------
# Definitions: declared on one node, the same on every node

class Definitions(ClusterCase):
    def test_definitions_declared_on_node_1_are_used_on_nodes_2_and_3(self):
        x = self.exchange(1, "defs.x", "direct", durable=True)
        q = self.queue(1, "defs.q", durable=True)
        ch1 = self.channel(1, confirm=True)
        ch1.queue_bind(q, x, "k1")
        for i in range(3):
            ch1.basic_publish(x, "k1", b"n1-%d" % i, pika.BasicProperties(delivery_mode=2))
        for node in (2, 3):
            ch = self.channel(node)
            ch.exchange_declare(x, "direct", passive=True)
            ok = ch.queue_declare(q, passive=True).method
            self.assertEqual((ok.queue, ok.message_count, ok.consumer_count), (q, 3, 0), "node %d" % node)
            # the same declaration again is no conflict on any node
            ch.exchange_declare(x, "direct", durable=True)
            self.assertEqual(ch.queue_declare(q, durable=True).method.message_count, 3)
        # the binding made on node 1 routes a publish made on node 2 (mandatory:
        # an unrouted message would come back)
        ch2 = self.channel(2, confirm=True)
        self.routed(ch2, x, "k1", b"n2", pika.BasicProperties(delivery_mode=2))
        self.assertEqual(self.count(3, q), 4)
        bodies = [b for _, _, b in self.consume(3, q, 4)]
        self.assertEqual(bodies, [b"n1-0", b"n1-1", b"n1-2", b"n2"])
        self.wait_count(2, q, 0)
        # an unbind on node 3 is seen by a publish on node 1: unroutable now
        self.channel(3).queue_unbind(q, x, "k1")
        self.assertEqual(self.unrouted(ch1, x, "k1", b"late"), self.count(2, q))

    def test_definitions_declared_on_node_1_are_in_node_3_management_api(self):
        if len(cc.HTTP_PORTS) < 3:
            self.fail("COMPAT_HTTP_PORTS must list the management API ports of 3 nodes")
        x = self.exchange(1, "defs.api.x", "topic", durable=True)
        q = self.queue(1, "defs.api.q", durable=True, arguments={"x-max-length": 10})
        self.channel(1).queue_bind(q, x, "a.#")
        status, doc = http(3, "GET", "/api/exchanges/%2F/" + seg(x))
        self.assertEqual(status, 200, doc)
        self.assertEqual((doc["name"], doc["vhost"], doc["type"], doc["durable"], doc["auto_delete"],
                          doc["internal"], doc["arguments"]), (x, "/", "topic", True, False, False, {}))
        status, doc = http(3, "GET", "/api/queues/%2F/" + seg(q))
        self.assertEqual(status, 200, doc)
        self.assertEqual((doc["name"], doc["vhost"], doc["durable"], doc["auto_delete"], doc["exclusive"],
                          doc["arguments"]), (q, "/", True, False, False, {"x-max-length": 10}))
        # the queue lives on node 1 (where it was declared): node 3 names it
        status, overview = http(1, "GET", "/api/overview")
        self.assertEqual(status, 200, overview)
        node1 = overview["node"]
        self.assertEqual(doc["node"], node1)
        status, doc = http(3, "GET", "/api/bindings/%%2F/e/%s/q/%s" % (seg(x), seg(q)))
        self.assertEqual(status, 200, doc)
        self.assertEqual([(b["source"], b["destination"], b["destination_type"], b["routing_key"])
                          for b in doc], [(x, q, "queue", "a.#")])
        # a quorum queue declared on node 1: type and members on node 3
        qq = self.queue(1, "defs.api.qq", durable=True, arguments={"x-queue-type": "quorum"})
        status, doc = http(3, "GET", "/api/queues/%2F/" + seg(qq))
        self.assertEqual(status, 200, doc)
        self.assertEqual((doc["type"], doc["durable"], doc["arguments"]),
                         ("quorum", True, {"x-queue-type": "quorum"}))
        # a replica on every node (x-quorum-initial-group-size defaults to the
        # cluster's size), the leader where it was declared
        status, nodes = http(3, "GET", "/api/nodes")
        self.assertEqual(status, 200, nodes)
        names = sorted(n["name"] for n in nodes)
        self.assertEqual(len(names), NODES)
        self.assertEqual((doc["leader"], sorted(doc["members"]), sorted(doc["online"])), (node1, names, names))
        # a deletion on node 2 is a 404 on node 3's API
        self.channel(2).queue_delete(q)
        status, doc = http(3, "GET", "/api/queues/%2F/" + seg(q))
        self.assertEqual((status, doc), (404, {"error": "Object Not Found", "reason": "Not Found"}))

    def test_conflicting_exchange_redeclare_on_node_2_is_406(self):
        x = self.exchange(1, "conflict.x", "direct", durable=True)
        self.assert_channel_error(
            406, "PRECONDITION_FAILED - inequivalent arg 'type' for exchange '%s' in vhost '/': "
                 "received 'fanout' but current is 'direct'" % x,
            self.channel(2).exchange_declare, x, "fanout", durable=True)
        self.assert_channel_error(
            406, "PRECONDITION_FAILED - inequivalent arg 'durable' for exchange '%s' in vhost '/': "
                 "received 'false' but current is 'true'" % x,
            self.channel(3).exchange_declare, x, "direct", durable=False)

    def test_conflicting_queue_redeclare_on_node_2_is_406(self):
        q = self.queue(1, "conflict.q", durable=True)
        self.assert_channel_error(
            406, "PRECONDITION_FAILED - inequivalent arg 'durable' for queue '%s' in vhost '/': "
                 "received 'false' but current is 'true'" % q,
            self.channel(2).queue_declare, q, durable=False)
        self.assert_channel_error(
            406, "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '%s' in vhost '/': "
                 "received the value '5' of type 'signedint' but current is none" % q,
            self.channel(2).queue_declare, q, durable=True, arguments={"x-max-length": 5})
        q2 = self.queue(1, "conflict.q2", durable=True, arguments={"x-max-length": 5})
        self.assert_channel_error(
            406, "PRECONDITION_FAILED - inequivalent arg 'x-max-length' for queue '%s' in vhost '/': "
                 "received '6' but current is '5'" % q2,
            self.channel(3).queue_declare, q2, durable=True, arguments={"x-max-length": 6})


# ---------------------------------------------------------------------------
# Queues reachable from any node

class CrossNode(ClusterCase):
    def test_publish_on_1_to_queue_on_2_consumed_on_3_confirms_acks_order(self):
        n = 1000
        q = self.queue(2, "cross.q", durable=True)
        ch1 = self.channel(1, confirm=True)
        for i in range(n):
            # BlockingChannel with confirms: each publish returns once acked
            # (an UnroutableError or NackError would fail the test)
            ch1.basic_publish("", q, b"%d" % i, pika.BasicProperties(delivery_mode=2), mandatory=True)
        self.assertEqual(self.count(3, q), n)
        got = self.consume(3, q, n, ack=True, prefetch=50, timeout=30)
        self.assertEqual([b for _, _, b in got], [b"%d" % i for i in range(n)])
        self.assertFalse(any(m.redelivered for m, _, _ in got))
        self.assertEqual([m.delivery_tag for m, _, _ in got], list(range(1, n + 1)))
        # the acks made on node 3 delete the messages of the queue on node 2
        self.wait_count(2, q, 0)
        self.wait_count(1, q, 0)

    def test_get_ack_reject_across_nodes(self):
        q = self.queue(2, "cross.get", durable=True)
        ch1 = self.channel(1, confirm=True)
        for b in (b"a", b"b", b"c"):
            ch1.basic_publish("", q, b)
        ch3 = self.channel(3)
        m, _, body = self.get(ch3, q)
        self.assertEqual((body, m.redelivered, m.message_count), (b"a", False, 2))
        ch3.basic_reject(m.delivery_tag, requeue=True)
        m, _, body = self.get(ch3, q)
        self.assertEqual((body, m.redelivered), (b"a", True))
        ch3.basic_ack(m.delivery_tag)
        m, _, body = self.get(ch3, q)
        self.assertEqual(body, b"b")
        ch3.basic_reject(m.delivery_tag, requeue=False)
        self.wait_count(1, q, 1)
        self.assertEqual(self.channel(1).queue_purge(q).method.message_count, 1)
        self.wait_count(3, q, 0)


# ---------------------------------------------------------------------------
# A durable classic queue whose node is down

class HomeNodeDown(ClusterCase):
    def test_durable_classic_queue_home_node_down_is_404_and_back_with_persistent_messages(self):
        if not cc.CLUSTER_CTL:
            self.skipTest("COMPAT_CLUSTER_CTL is not set: this test stops node %d and starts it "
                          "again with `$COMPAT_CLUSTER_CTL stop %d` / `start %d`" % (NODES, NODES, NODES))
        home = NODES  # the queue's node: the last one
        q = self.queue(home, "home.q", durable=True)
        x = self.exchange(1, "home.x", "fanout", durable=True)
        ch = self.channel(home, confirm=True)
        ch.queue_bind(q, x)
        for i in range(5):
            ch.basic_publish("", q, b"persistent-%d" % i, pika.BasicProperties(delivery_mode=2))
            ch.basic_publish("", q, b"transient-%d" % i, pika.BasicProperties(delivery_mode=1))
        self.assertEqual(self.count(1, q), 10)
        for c in self._conns:
            c.close()
        self._conns = []
        cluster_ctl("stop", home)
        try:
            self.check_home_node_down(q, x)
        finally:
            cluster_ctl("start", home)
        # back: the queue, its persistent messages in order, its binding; the
        # transient ones and the publishes made while it was down are gone
        self.assertEqual(self.count(1, q), 5)
        ch2 = self.channel(2)
        got = []
        for _ in range(5):
            m, props, body = self.get(ch2, q)
            got.append((body, m.redelivered, props.delivery_mode))
            ch2.basic_ack(m.delivery_tag)
        self.assertEqual(got, [(b"persistent-%d" % i, False, 2) for i in range(5)])
        self.assertIsNone(ch2.basic_get(q)[0])
        self.channel(1, confirm=True).basic_publish(x, "", b"after", mandatory=True)
        self.assertEqual(self.get(ch2, q)[2], b"after")

    def check_home_node_down(self, q, x):
        texts = set()
        for node in range(1, NODES):
            # every operation on the queue by name: 404 with the same text
            for what, op in (("passive declare", lambda ch: ch.queue_declare(q, passive=True)),
                             ("declare", lambda ch: ch.queue_declare(q, durable=True)),
                             ("get", lambda ch: ch.basic_get(q)),
                             ("consume", lambda ch: ch.basic_consume(q, lambda *a: None)),
                             ("purge", lambda ch: ch.queue_purge(q)),
                             ("bind", lambda ch: ch.queue_bind(q, "amq.direct", "k"))):
                try:
                    text = self.assert_channel_error(404, HOME_NODE_DOWN, op, self.channel(node))
                except AssertionError as e:
                    raise AssertionError("%s on node %d: %s" % (what, node, e)) from None
                self.assertEqual(HOME_NODE_DOWN.match(text).group(2), q)
                texts.add(text)
        # one text, naming the one home node
        self.assertEqual(len(texts), 1, texts)
        # Publishes to it are no error. RabbitMQ 3.10 routes them to the queue
        # record, so a publisher confirm is an ack, and the message is lost;
        # with mandatory the message comes back (312 NO_ROUTE) before that ack.
        ch = self.channel(1, confirm=True)
        ch.basic_publish("", q, b"lost", pika.BasicProperties(delivery_mode=2))
        for exchange, key in (("", q), (x, "")):
            with self.assertRaises(pika.exceptions.UnroutableError) as cm:
                ch.basic_publish(exchange, key, b"returned", pika.BasicProperties(delivery_mode=2),
                                 mandatory=True)
            ret = cm.exception.messages[0]
            self.assertEqual((ret.method.reply_code, ret.method.reply_text, ret.method.exchange,
                              ret.method.routing_key, ret.body), (312, "NO_ROUTE", exchange, key, b"returned"))
        # the channel is still open
        ch.queue_declare("", exclusive=True)


# ---------------------------------------------------------------------------
# Quorum queues

QQ = {"x-queue-type": "quorum"}


def qq_args(**kw):
    a = dict(QQ)
    a.update({k.replace("_", "-"): v for k, v in kw.items()})
    return a


class Quorum(ClusterCase):
    def test_quorum_queue_refusals_are_406(self):
        name = cc.uniq("cluster.qq.refused")
        prop = "PRECONDITION_FAILED - invalid property '%%s' for queue '%s' in vhost '/'" % name
        arg = ("PRECONDITION_FAILED - invalid arg '%%s' for queue '%s' in vhost '/' "
               "of queue type rabbit_quorum_queue" % name)
        cases = [
            ("exclusive", dict(durable=True, exclusive=True, arguments=QQ), prop % "exclusive-owner"),
            # exclusive is checked before durable
            ("exclusive non-durable", dict(durable=False, exclusive=True, arguments=QQ), prop % "exclusive-owner"),
            ("non-durable", dict(durable=False, arguments=QQ), prop % "non-durable"),
            ("auto-delete", dict(durable=True, auto_delete=True, arguments=QQ), prop % "auto-delete"),
            ("x-max-priority", dict(durable=True, arguments=qq_args(x_max_priority=5)), arg % "x-max-priority"),
            ("x-queue-mode", dict(durable=True, arguments=qq_args(x_queue_mode="lazy")), arg % "x-queue-mode"),
            ("x-queue-master-locator",
             dict(durable=True, arguments=qq_args(x_queue_master_locator="min-masters")),
             arg % "x-queue-master-locator"),
            ("x-quorum-initial-group-size 0",
             dict(durable=True, arguments=qq_args(x_quorum_initial_group_size=0)),
             "PRECONDITION_FAILED - invalid arg 'x-quorum-initial-group-size' for queue '%s' "
             "in vhost '/': {value_zero,0}" % name),
            ("unknown x-queue-type", dict(durable=True, arguments={"x-queue-type": "bogus"}),
             "PRECONDITION_FAILED - invalid arg 'x-queue-type' for queue '%s' in vhost '/': "
             "\"unsupported queue type 'bogus'\"" % name),
        ]
        for node, (what, kw, text) in zip((1, 2, 3) * 4, cases):
            try:
                self.assert_channel_error(406, text, self.channel(node).queue_declare, name, **kw)
            except AssertionError as e:
                raise AssertionError("%s on node %d: %s" % (what, node, e)) from None
        # a server-named quorum queue
        self.assert_channel_error(
            406, "PRECONDITION_FAILED - Cannot declare a server-named queue for type rabbit_quorum_queue",
            self.channel(2).queue_declare, "", durable=True, arguments=QQ)
        # none of them made the queue
        self.assert_channel_error(404, "NOT_FOUND - no queue '%s' in vhost '/'" % name,
                                  self.channel(3).queue_declare, name, passive=True)

    def test_quorum_queue_redeclared_as_classic_on_another_node_is_406(self):
        qq = self.queue(1, "qq.redeclare", durable=True, arguments=QQ)
        self.assert_channel_error(
            406, "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue '%s' in vhost '/': "
                 "received none but current is the value 'quorum' of type 'longstr'" % qq,
            self.channel(2).queue_declare, qq, durable=True)
        self.assert_channel_error(
            406, "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue '%s' in vhost '/': "
                 "received 'classic' but current is 'quorum'" % qq,
            self.channel(3).queue_declare, qq, durable=True, arguments={"x-queue-type": "classic"})
        q = self.queue(1, "classic.redeclare", durable=True)
        self.assert_channel_error(
            406, "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue '%s' in vhost '/': "
                 "received the value 'quorum' of type 'longstr' but current is none" % q,
            self.channel(2).queue_declare, q, durable=True, arguments=QQ)
        # the same declaration again, from any node, is fine
        for node in (2, 3):
            self.channel(node).queue_declare(qq, durable=True, arguments=QQ)

    def test_quorum_overflow_reject_publish_dlx_is_accepted_and_drops_head(self):
        # Surprise: RabbitMQ 3.10 does not refuse x-overflow reject-publish-dlx
        # on a quorum queue; it logs "Invalid overflow strategy
        # <<"reject-publish-dlx">> for quorum queue: ..." and uses drop-head.
        q = self.queue(1, "qq.rpdlx", durable=True,
                       arguments=qq_args(x_max_length=1, x_overflow="reject-publish-dlx"))
        ch = self.channel(2, confirm=True)
        ch.basic_publish("", q, b"first")
        ch.basic_publish("", q, b"second")  # acked, not nacked
        self.wait_count(3, q, 1)
        self.assertEqual([b for _, _, b in self.consume(3, q, 1)], [b"second"])

    def test_quorum_publish_on_2_with_confirms_consumed_on_3(self):
        n = 200
        q = self.queue(1, "qq.cross", durable=True, arguments=QQ)
        ch2 = self.channel(2, confirm=True)
        for i in range(n):
            ch2.basic_publish("", q, b"%d" % i, pika.BasicProperties(delivery_mode=2), mandatory=True)
        self.assertEqual(self.count(3, q), n)
        got = self.consume(3, q, n, ack=True, prefetch=50, timeout=30)
        self.assertEqual([b for _, _, b in got], [b"%d" % i for i in range(n)])
        self.assertFalse(any(m.redelivered for m, _, _ in got))
        # a first delivery carries no x-delivery-count
        self.assertFalse(any("x-delivery-count" in (p.headers or {}) for _, p, _ in got))
        self.wait_count(1, q, 0)

    def test_quorum_nack_requeue_sets_x_delivery_count(self):
        q = self.queue(1, "qq.count", durable=True, arguments=QQ)
        self.channel(2, confirm=True).basic_publish("", q, b"m", pika.BasicProperties(headers={"h": 1}))
        # Surprise: basic.get on a quorum queue always carries x-delivery-count
        # (a long, 'l'), 0 on the first delivery; a consumer's first delivery
        # carries none (below and in the test above).
        ch = self.channel(3)
        seen = []
        for _ in range(3):
            m, props, body = self.get(ch, q)
            seen.append((body, m.redelivered, typed_header(props, "x-delivery-count"), props.headers.get("h")))
            ch.basic_nack(m.delivery_tag, requeue=True)
        self.assertEqual(seen, [(b"m", False, ("l", 0), 1), (b"m", True, ("l", 1), 1), (b"m", True, ("l", 2), 1)])
        # a consumer on another node sees the count the nacks on node 3 made
        (m, props, body), = self.consume(1, q, 1)
        self.assertEqual((body, m.redelivered, typed_header(props, "x-delivery-count")), (b"m", True, ("l", 3)))
        self.wait_count(2, q, 0)
        # through a consumer: none on the first delivery, 1 after a nack
        self.channel(2, confirm=True).basic_publish("", q, b"c")
        conn = self.connect(3)
        ch = conn.channel()
        got = []

        def on_message(c, m, p, b):
            got.append((b, m.redelivered, typed_header(p, "x-delivery-count")))
            if len(got) == 1:
                c.basic_nack(m.delivery_tag, requeue=True)
            else:
                c.basic_ack(m.delivery_tag)

        ch.basic_consume(q, on_message)
        deadline = time.monotonic() + cc.WAIT
        while len(got) < 2 and time.monotonic() < deadline:
            conn.process_data_events(time_limit=0.05)
        self.assertEqual(got, [(b"c", False, None), (b"c", True, ("l", 1))])
        self.wait_count(1, q, 0)

    def test_quorum_delivery_limit_2_dead_letters_on_the_third_nack(self):
        dlx = self.exchange(1, "qq.dlx", "fanout", durable=True)
        dlq = self.queue(1, "qq.dlq", durable=True)
        self.channel(1).queue_bind(dlq, dlx)
        q = self.queue(1, "qq.limit", durable=True,
                       arguments=qq_args(x_delivery_limit=2, x_dead_letter_exchange=dlx))
        self.channel(2, confirm=True).basic_publish("", q, b"poison", pika.BasicProperties(delivery_mode=2))
        ch = self.channel(3)
        counts = []
        for _ in range(3):
            m, props, body = self.get(ch, q)
            counts.append((props.headers or {}).get("x-delivery-count"))
            ch.basic_nack(m.delivery_tag, requeue=True)
        self.assertEqual(counts, [0, 1, 2])
        # the third nack went past the limit: dead-lettered, not requeued
        self.wait_count(2, dlq, 1)
        self.assertEqual(self.count(1, q), 0)
        ch2 = self.channel(2)
        m, props, body = self.get(ch2, dlq)
        self.assertEqual((body, m.exchange, m.routing_key), (b"poison", dlx, q))
        death = props.headers["x-death"]
        self.assertEqual(len(death), 1, death)
        d = death[0]
        self.assertEqual((d["reason"], d["queue"], d["exchange"], d["routing-keys"], d["count"]),
                         ("delivery_limit", q, "", [q], 1))
        self.assertEqual(props.headers.get("x-first-death-reason"), "delivery_limit")
        ch2.basic_ack(m.delivery_tag)


class Stream(ClusterCase):
    def test_stream_declared_on_1_written_on_2_read_on_3(self):
        q = self.queue(1, "sq.any", durable=True, arguments={"x-queue-type": "stream"})
        # the declaration is the cluster's: a passive declare elsewhere finds it
        for node in (2, 3):
            self.channel(node).queue_declare(q, passive=True)
        ch2 = self.channel(2, confirm=True)
        n = 20
        for i in range(n):
            ch2.basic_publish("", q, b"s%d" % i, pika.BasicProperties(headers={"i": i}))
        conn = self.connect(3)
        ch = conn.channel()
        ch.basic_qos(prefetch_count=50)
        got = []

        def on_message(c, m, p, b):
            got.append((b, typed_header(p, "x-stream-offset"), p.headers.get("i")))
            c.basic_ack(m.delivery_tag)

        ch.basic_consume(q, on_message, arguments={"x-stream-offset": "first"})
        deadline = time.monotonic() + cc.WAIT
        while len(got) < n and time.monotonic() < deadline:
            conn.process_data_events(time_limit=0.05)
        self.assertEqual(got, [(b"s%d" % i, ("l", i), i) for i in range(n)])
        # a redeclaration with other arguments on another node is a 406
        self.assert_channel_error(
            406, "PRECONDITION_FAILED - inequivalent arg 'x-max-age' for queue '%s' in vhost '/': "
                 "received the value '1D' of type 'longstr' but current is none" % q,
            self.channel(2).queue_declare, q, durable=True,
            arguments={"x-queue-type": "stream", "x-max-age": "1D"})
        # deleted on node 3: gone on node 1
        self.channel(3).queue_delete(q)
        self.assert_channel_error(404, "NOT_FOUND - no queue '%s' in vhost '/'" % q,
                                  self.channel(1).queue_declare, q, passive=True)

    def test_stream_of_one_replica_consumed_elsewhere_is_406(self):
        # x-initial-cluster-size 1: its one replica is on the declaring node;
        # publishing works anywhere, consuming only where a replica is
        q = self.queue(1, "sq.one", durable=True,
                       arguments={"x-queue-type": "stream", "x-initial-cluster-size": 1})
        ch3 = self.channel(3, confirm=True)
        for i in range(3):
            ch3.basic_publish("", q, b"o%d" % i)
        for node in (2, 3):
            ch = self.channel(node)
            ch.basic_qos(prefetch_count=10)
            self.assert_channel_error(
                406, "PRECONDITION_FAILED - queue 'queue '%s' in vhost '/'' does not have a "
                     "replica on the local node" % q,
                ch.basic_consume, q, lambda *a: None, arguments={"x-stream-offset": "first"})
        conn = self.connect(1)
        ch = conn.channel()
        ch.basic_qos(prefetch_count=10)
        got = []
        ch.basic_consume(q, lambda c, m, p, b: got.append(b), auto_ack=False,
                         arguments={"x-stream-offset": "first"})
        deadline = time.monotonic() + cc.WAIT
        while len(got) < 3 and time.monotonic() < deadline:
            conn.process_data_events(time_limit=0.05)
        self.assertEqual(got, [b"o0", b"o1", b"o2"])


if __name__ == "__main__":
    cc.main("cluster", sys.modules[__name__])
