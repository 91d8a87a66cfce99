#!/usr/bin/python3
"""A quorum queue's leader killed (SIGKILL) again and again under load.

How issue 15 is proven: kill -9 of a quorum queue's leader node while pika
and rabbitmq-c publishers (confirms) and consumers (manual acks) run on the
other nodes, many rounds at random moments: no confirmed message lost, none
corrupted, redelivered ones flagged, consumers resume on their own after
reconnecting.

The test declares a durable quorum queue (3 replicas) and finds its leader
through the management API (GET /api/queues/%2F/NAME: `leader`, a node name
mapped to 1..3 by each node's GET /api/overview `node`). On the two other
nodes it starts four clients, each with its own connection, that connect
again by themselves (to any node of their list that answers) whenever their
connection or channel dies, and carry on:

  - a pika publisher (a thread) and a rabbitmq-c publisher
    (tests/cluster/qq_client publish), persistent messages with confirms, a
    window of unconfirmed ones; a message whose confirm was lost or nacked is
    sent again (attempt + 1: duplicates are allowed, losses are not) on a
    new connection (after a nack too: RabbitMQ 3.10 may nack every publish
    of a channel opened while the queue had no leader, for a minute, while a
    new connection's publishes are confirmed);
  - a pika consumer (a thread) and a rabbitmq-c consumer (qq_client
    consume), manual acks (by `multiple`, every few messages), a prefetch;
    after a connection's death: passive declare, consume again; after a
    basic.cancel from the broker: the same on the same channel.

Every message carries its id, its attempt and the CRC-32 of its body in
headers (qq-id, qq-attempt, qq-crc), the id and attempt also at the start of
the body; one in 100 bodies is larger than a 128 KiB frame.

Then, ROUNDS times at random moments: SIGKILL to the queue's current leader
node (`$COMPAT_CLUSTER_CTL kill I`), wait (bounded) until the management API
names a new leader, wait (bounded) until every one of the four clients made
progress with messages first sent after the kill (publishers: confirms;
consumers: deliveries), so each resumed on its own, go on for a random while,
start the node again (`$COMPAT_CLUSTER_CTL start I`) and wait (bounded) until
it is among the queue's `online` members again. The next round kills the
leader of that moment (a node clients may be connected to). After the last
round: stop the publishers, drain (bounded), stop the consumers, and check:

  - every confirmed id was consumed at least once, with a good checksum;
  - no body failed its checksum, every consumed id was one that was sent;
  - of the copies of one message (same id and attempt) at most one was
    delivered without redelivered=True or x-delivery-count >= 1;
  - every client resumed after every kill (above); the queue is empty at the
    end.

Output: a line per round (who led, how long the election and the clients'
resumption took), every client's connection events, and the counts
(published, confirmed, consumed, duplicates, redelivered, x-delivery-count
values).

Environment (compat/run --suite cluster-kill sets the first four):
  COMPAT_AMQP_PORTS, COMPAT_HTTP_PORTS, COMPAT_HOST   the nodes (compat_common.py)
  COMPAT_CLUSTER_CTL     command prefix taking `kill I` / `start I` (1-based)
  COMPAT_QQ_CLIENT       the qq_client binary (rabbitmq-c)
  COMPAT_KILL_ROUNDS     rounds (default 5)
  COMPAT_KILL_SEED       seed of the random moments (printed; replays choices)
  COMPAT_KILL_RATE       messages per second per publisher (default 100)
  COMPAT_KILL_SELF_CHECK shows that the checks can fail (the test must then
                         FAIL): `drop` forgets every delivery of one confirmed
                         id, `corrupt` has the pika publisher send one body
                         that does not match its qq-crc, `unflag` records one
                         more copy of a delivered message without the
                         redelivered flag
The test's own bound is ROUNDS x 90 s + 180 s (unless COMPAT_TEST_TIMEOUT is
larger): on RabbitMQ 3.10, 5 rounds take about 2 to 3 minutes.

Run: /usr/bin/python3 compat/python/test_cluster_kill.py [-k NAME]
"""

import base64
import json
import logging
import os
import random
import shlex
import socket
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
import zlib

import pika
import pika.exceptions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat_common as cc  # noqa: E402

logging.getLogger("pika").setLevel(logging.CRITICAL)  # the kills make it chatty

ROUNDS = int(os.environ.get("COMPAT_KILL_ROUNDS", "5"))
SEED = int(os.environ.get("COMPAT_KILL_SEED") or random.SystemRandom().randrange(1, 1 << 30))
RATE = int(os.environ.get("COMPAT_KILL_RATE", "100"))
QQ_CLIENT = os.environ.get("COMPAT_QQ_CLIENT", "")
SELF_CHECK = os.environ.get("COMPAT_KILL_SELF_CHECK", "")
cc.TEST_TIMEOUT = max(cc.TEST_TIMEOUT, ROUNDS * 90 + 180)

NODES = len(cc.AMQP_PORTS)
CTL_TIMEOUT = 180       # one `kill I` / `start I` (RabbitMQ starts in 10 to 30 s here)
LEADER_TIMEOUT = 60     # a new leader named after a kill
RESUME_TIMEOUT = 60     # every client progressing again after a kill
REJOIN_TIMEOUT = 90     # a started node among the queue's online members
DRAIN_TIMEOUT = 90      # every confirmed id consumed after the publishers stop
CONFIRM_TIMEOUT = 30    # a publisher gives up on a connection after this
WINDOW = 32             # unconfirmed messages per publisher
PREFETCH = 20
ACK_EVERY = 8
BIG_BODY = 150000


# ---- the message format (the same in tests/cluster/qq_client.c) --------------

def make_body(prefix, seq, attempt):
    x = (seq * 2654435761 + 12345) & 0xFFFFFFFF
    filler = BIG_BODY if seq % 100 == 99 else 16 + x % 1000
    head = b"qq id=%s-%d attempt=%d " % (prefix.encode(), seq, attempt)
    rnd = random.Random(x)
    return head + bytes(97 + rnd.randrange(26) for _ in range(filler))


def check_body(headers, body):
    """(id, attempt, verdict) of a delivered message: verdict "ok" or "bad:WHY"."""
    headers = headers or {}
    mid, attempt, crc = headers.get("qq-id"), headers.get("qq-attempt"), headers.get("qq-crc")
    if isinstance(mid, bytes):
        mid = mid.decode(errors="replace")
    if isinstance(crc, bytes):
        crc = crc.decode(errors="replace")
    if not isinstance(mid, str) or not isinstance(attempt, int) or not isinstance(crc, str):
        return str(mid), attempt if isinstance(attempt, int) else -1, "bad:headers"
    if "%08x" % zlib.crc32(body) != crc:
        return mid, attempt, "bad:crc"
    if not body.startswith(b"qq id=%s attempt=%d " % (mid.encode(), attempt)):
        return mid, attempt, "bad:body-id"
    return mid, attempt, "ok"


# ---- what happened, from every client ------------------------------------------

class Ledger:
    """Sends, confirms, deliveries and connection events of all clients (locked)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.t0 = time.monotonic()
        self.first_sent = {}      # id -> time of its first send
        self.sent = {}            # id -> attempts sent
        self.confirmed = {}       # id -> attempts confirmed
        self.nacks = []           # (t, client) of every basic.nack
        self.deliveries = []      # (client, id, attempt, redelivered, x-delivery-count or None, verdict, t)
        self.events = []          # (t, client, text)
        self.progress = {}        # client -> [(time, first send of the message confirmed or received)]

    def now(self):
        return time.monotonic() - self.t0

    def on_sent(self, client, mid, attempt):
        with self.lock:
            self.first_sent.setdefault(mid, self.now())
            self.sent.setdefault(mid, set()).add(attempt)

    def on_confirm(self, client, mid, attempt, ack):
        with self.lock:
            if not ack:
                self.nacks.append((self.now(), client))
                return
            self.confirmed.setdefault(mid, set()).add(attempt)
            self.progress.setdefault(client, []).append((self.now(), self.first_sent.get(mid, 0.0)))

    def on_delivery(self, client, mid, attempt, redelivered, count, verdict):
        with self.lock:
            self.deliveries.append((client, mid, attempt, redelivered, count, verdict, self.now()))
            self.progress.setdefault(client, []).append((self.now(), self.first_sent.get(mid, 0.0)))

    def on_event(self, client, text):
        with self.lock:
            self.events.append((self.now(), client, text))

    def resumed_since(self, client, t):
        """When client first confirmed or received a message first sent after t
        (seconds since the start), or None."""
        found = None
        with self.lock:
            # newest first, back to t: nothing sent after t progressed before it
            for when, first in reversed(self.progress.get(client, ())):
                if when < t:
                    break
                if first > t:
                    found = when
        return found


# ---- pika clients (one connection per thread: pika is not thread-safe) ---------

def pika_params(addr):
    return pika.ConnectionParameters(
        addr[0], addr[1], heartbeat=10, socket_timeout=3, stack_timeout=10,
        blocked_connection_timeout=30, connection_attempts=1)


class PikaClient(threading.Thread):
    def __init__(self, name, ledger, addrs, queue):
        super().__init__(name=name, daemon=True)
        self.ledger, self.addrs, self.queue = ledger, addrs, queue
        self.stopping = threading.Event()
        self.next_addr = 0
        self.conn = None

    def connect(self):
        """A connection to the next address that answers, or None after a pass."""
        for _ in self.addrs:
            addr = self.addrs[self.next_addr]
            self.next_addr = (self.next_addr + 1) % len(self.addrs)
            try:
                self.conn = pika.BlockingConnection(pika_params(addr))
                self.addr = "%s:%d" % addr
                self.ledger.on_event(self.name, "connected %s" % self.addr)
                return self.conn
            except Exception as e:
                self.ledger.on_event(self.name, "lost %s:%d %s" % (addr[0], addr[1], describe(e)))
        return None

    def drop(self):
        try:
            if self.conn is not None and self.conn.is_open:
                self.conn.close()
        except Exception:
            pass
        self.conn = None

    def stop(self):
        self.stopping.set()


def describe(e):
    if isinstance(e, (pika.exceptions.ChannelClosed, pika.exceptions.ConnectionClosed)):
        return "%s %s %s" % (type(e).__name__, e.reply_code, e.reply_text)
    return "%s %s" % (type(e).__name__, e)


class PikaPublisher(PikaClient):
    def __init__(self, name, ledger, addrs, queue, corrupt_one=False):
        super().__init__(name, ledger, addrs, queue)
        self.corrupt_one = corrupt_one
        self.next_seq = 1
        self.retry = []           # [(seq, attempt)] to send again
        self.stats = {"sent": 0, "confirmed": 0, "reconnects": 0}

    def run(self):
        gap = 1.0 / RATE
        next_due = time.monotonic()
        while not self.stopping.is_set():
            conn = self.connect()
            if conn is None:
                time.sleep(0.2)
                continue
            inflight = {}         # delivery tag -> (seq, attempt, time sent)
            nacked = []
            tag = 0

            def on_confirm(frame):
                m = frame.method
                ack = isinstance(m, pika.spec.Basic.Ack)
                for t in sorted(inflight):
                    if t == m.delivery_tag or (m.multiple and t < m.delivery_tag):
                        seq, attempt, _ = inflight.pop(t)
                        self.ledger.on_confirm(self.name, "%s-%d" % (self.name, seq), attempt, ack)
                        if ack:
                            self.stats["confirmed"] += 1
                        else:
                            self.retry.append((seq, attempt + 1))
                            nacked.append(t)
            try:
                ch = conn.channel()
                selected = []
                ch._impl.confirm_delivery(on_confirm, lambda f: selected.append(f))
                deadline = time.monotonic() + 10
                while not selected:
                    if time.monotonic() > deadline:
                        raise RuntimeError("no confirm.select-ok in 10 s")
                    conn.process_data_events(time_limit=0.05)
                stop_deadline = None
                while True:
                    if self.stopping.is_set():
                        # no more sends; up to 5 s for the confirms due
                        stop_deadline = stop_deadline or time.monotonic() + 5
                        if not inflight or time.monotonic() > stop_deadline:
                            break
                    while (not self.stopping.is_set() and len(inflight) < WINDOW
                           and time.monotonic() >= next_due):
                        now = time.monotonic()
                        next_due = max(next_due, now - 0.2) + gap
                        if self.retry:
                            seq, attempt = self.retry.pop(0)
                        else:
                            seq, attempt = self.next_seq, 1
                            self.next_seq += 1
                        mid = "%s-%d" % (self.name, seq)
                        body = make_body(self.name, seq, attempt)
                        headers = {"qq-id": mid, "qq-attempt": attempt,
                                   "qq-crc": "%08x" % zlib.crc32(body)}
                        if self.corrupt_one and seq == 50:
                            body = body[:-1] + bytes([body[-1] ^ 1])  # self-check: must be caught
                        tag += 1
                        inflight[tag] = (seq, attempt, now)
                        self.ledger.on_sent(self.name, mid, attempt)
                        self.stats["sent"] += 1
                        ch.basic_publish("", self.queue, body,
                                         pika.BasicProperties(delivery_mode=2, headers=headers))
                    if inflight and time.monotonic() - min(v[2] for v in inflight.values()) > CONFIRM_TIMEOUT:
                        raise RuntimeError("no confirm within %d s" % CONFIRM_TIMEOUT)
                    conn.process_data_events(time_limit=0.01)
                    if not ch.is_open:
                        raise RuntimeError("channel closed")
                    if nacked:
                        # RabbitMQ 3.10 may nack every publish of a channel opened while
                        # the queue had no leader, for a minute: connect again
                        raise RuntimeError("basic.nack (%d): connecting again" % len(nacked))
                self.drop()
                break
            except Exception as e:
                self.ledger.on_event(self.name, "lost %s %s" % (self.addr, describe(e)))
                # whatever was not confirmed goes again, on the next connection
                for t in sorted(inflight):
                    seq, attempt, _ = inflight.pop(t)
                    self.retry.append((seq, attempt + 1))
                self.stats["reconnects"] += 1
                self.drop()
                time.sleep(0.2)
        self.ledger.on_event(self.name, "stopped %s, unconfirmed=%d" % (
            " ".join("%s=%d" % kv for kv in self.stats.items()), len(self.retry)))


class PikaConsumer(PikaClient):
    def __init__(self, name, ledger, addrs, queue):
        super().__init__(name, ledger, addrs, queue)
        self.stats = {"received": 0, "reconnects": 0, "cancels": 0}

    def run(self):
        while not self.stopping.is_set():
            conn = self.connect()
            if conn is None:
                time.sleep(0.2)
                continue
            state = {"last": 0, "acked": 0, "cancelled": False}

            def on_message(ch, method, props, body):
                mid, attempt, verdict = check_body(props.headers, body)
                count = (props.headers or {}).get("x-delivery-count")
                self.ledger.on_delivery(self.name, mid, attempt, method.redelivered, count, verdict)
                self.stats["received"] += 1
                state["last"] = method.delivery_tag
                if state["last"] - state["acked"] >= ACK_EVERY:
                    ch.basic_ack(state["last"], multiple=True)
                    state["acked"] = state["last"]

            def on_cancel(frame):
                state["cancelled"] = True

            try:
                ch = conn.channel()
                ch.basic_qos(prefetch_count=PREFETCH)
                ch.add_on_cancel_callback(on_cancel)
                ch.queue_declare(self.queue, passive=True)
                ch.basic_consume(self.queue, on_message, auto_ack=False)
                while not self.stopping.is_set():
                    conn.process_data_events(time_limit=0.1)
                    if not ch.is_open:
                        raise RuntimeError("channel closed")
                    if state["last"] > state["acked"]:
                        ch.basic_ack(state["last"], multiple=True)
                        state["acked"] = state["last"]
                    if state["cancelled"]:
                        self.ledger.on_event(self.name, "cancelled %s" % self.addr)
                        self.stats["cancels"] += 1
                        state["cancelled"] = False
                        ch.queue_declare(self.queue, passive=True)
                        ch.basic_consume(self.queue, on_message, auto_ack=False)
                if state["last"] > state["acked"]:
                    ch.basic_ack(state["last"], multiple=True)
                self.drop()
                break
            except Exception as e:
                self.ledger.on_event(self.name, "lost %s %s" % (self.addr, describe(e)))
                self.stats["reconnects"] += 1
                self.drop()
                time.sleep(0.2)
        self.ledger.on_event(self.name, "stopped %s" % " ".join("%s=%d" % kv for kv in self.stats.items()))


# ---- the rabbitmq-c clients (tests/cluster/qq_client) ---------------------------

class CClient:
    """qq_client in a subprocess; its stdout lines go to the ledger (its
    stderr too, as events, once it has stopped)."""

    def __init__(self, name, ledger, argv):
        self.name, self.ledger = name, ledger
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=self.stderr,
                                     stdin=subprocess.DEVNULL)
        self.reader = threading.Thread(target=self.read, name=name + "-reader", daemon=True)
        self.reader.start()

    def read(self):
        for raw in self.proc.stdout:
            f = raw.decode(errors="replace").split()
            if not f:
                continue
            try:
                if f[0] == "sent":
                    self.ledger.on_sent(self.name, f[1], int(f[2]))
                elif f[0] in ("confirmed", "nacked"):
                    self.ledger.on_confirm(self.name, f[1], int(f[2]), f[0] == "confirmed")
                elif f[0] == "recv":
                    count = int(f[4])
                    self.ledger.on_delivery(self.name, f[1], int(f[2]), f[3] == "1",
                                            None if count < 0 else count, f[5])
                else:
                    self.ledger.on_event(self.name, " ".join(f))
            except (IndexError, ValueError):
                self.ledger.on_event(self.name, "unparsed line: %r" % raw)

    def stop(self, timeout=20):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.ledger.on_event(self.name, "did not stop in %d s: killed" % timeout)
            self.proc.kill()
            self.proc.wait(5)
        self.reader.join(5)
        if not self.stderr.closed:
            self.stderr.seek(0)
            for line in self.stderr.read().decode(errors="replace").splitlines()[-20:]:
                self.ledger.on_event(self.name, "stderr: " + line)
            self.stderr.close()
        return self.proc.returncode

    def is_alive(self):
        return self.proc.poll() is None

    def join(self, timeout):
        self.reader.join(timeout)


# ---- the cluster -------------------------------------------------------------------

def http(node, path):
    """(status, parsed JSON or None) of a management API GET on node (bounded)."""
    req = urllib.request.Request("http://%s:%d%s" % (cc.HOST, cc.HTTP_PORTS[node - 1], path))
    req.add_header("Authorization", "Basic " + base64.b64encode(b"guest:guest").decode())
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None
    except (OSError, ValueError):
        return None, None


class ClusterCtl:
    """`$COMPAT_CLUSTER_CTL op node` running in the background (its output in a
    temporary file); wait() bounds it and fails when it did."""

    def __init__(self, op, node):
        self.cmd = shlex.split(cc.CLUSTER_CTL) + [op, str(node)]
        self.t0 = time.monotonic()
        self.out = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(self.cmd, stdout=self.out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def wait(self):
        """The command's duration in seconds."""
        try:
            rc = self.proc.wait(max(1.0, CTL_TIMEOUT - (time.monotonic() - self.t0)))
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
            rc = "killed after %d s" % CTL_TIMEOUT
        self.out.seek(0)
        text = self.out.read().decode(errors="replace")[-2000:]
        self.out.close()
        if rc != 0:
            raise AssertionError("%s failed (exit status %s): %s" % (" ".join(self.cmd), rc, text))
        return time.monotonic() - self.t0


def cluster_ctl(op, node):
    """`$COMPAT_CLUSTER_CTL op node` (bounded); its duration in seconds."""
    return ClusterCtl(op, node).wait()


def say(text):
    print("    " + text, flush=True)


class ClusterKill(unittest.TestCase):
    def setUp(self):
        if NODES < 3:
            self.fail("COMPAT_AMQP_PORTS must list the AMQP ports of 3 nodes (got %r)" % cc.AMQP_PORTS)
        if len(cc.HTTP_PORTS) != NODES:
            self.fail("COMPAT_HTTP_PORTS must list the management ports of the %d nodes (got %r)"
                      % (NODES, cc.HTTP_PORTS))
        if not cc.CLUSTER_CTL:
            self.skipTest("COMPAT_CLUSTER_CTL is not set: this test kills nodes with "
                          "`$COMPAT_CLUSTER_CTL kill I` and starts them with `start I`")
        if not QQ_CLIENT or not os.access(QQ_CLIENT, os.X_OK):
            self.skipTest("COMPAT_QQ_CLIENT (the rabbitmq-c client tests/cluster/qq_client) is "
                          "not an executable: %r" % QQ_CLIENT)
        self.down = set()       # nodes killed and not started again
        self.clients = []
        self.queue = None

    def tearDown(self):
        for c in self.clients:
            c.stop()
        for c in self.clients:
            c.join(20)
        for node in sorted(self.down):
            try:
                cluster_ctl("start", node)
            except Exception as e:
                print("    could not start node %d again: %s" % (node, e))
        if self.queue:
            for node in range(1, NODES + 1):
                try:
                    conn = pika.BlockingConnection(pika_params((cc.HOST, cc.AMQP_PORTS[node - 1])))
                    conn.channel().queue_delete(self.queue)
                    conn.close()
                    break
                except Exception:
                    pass

    # -- the queue's leader through the management API

    def node_names(self):
        names = {}
        for node in range(1, NODES + 1):
            status, doc = http(node, "/api/overview")
            self.assertEqual(status, 200, "GET /api/overview on node %d" % node)
            names[doc["node"]] = node
        return names

    def queue_doc(self):
        """The queue's management document from the first live node that answers."""
        for node in range(1, NODES + 1):
            if node in self.down:
                continue
            status, doc = http(node, "/api/queues/%2F/" + urllib.parse.quote(self.queue, safe=""))
            if status == 200 and isinstance(doc, dict):
                return doc
        return None

    def leader(self):
        doc = self.queue_doc()
        return self.names.get(doc.get("leader")) if doc else None

    def wait_leader(self, not_node, timeout):
        """The new leader (a live node other than not_node); its wait in seconds."""
        t = time.monotonic()
        while True:
            node = self.leader()
            if node is not None and node != not_node and node not in self.down:
                return node, time.monotonic() - t
            if time.monotonic() - t > timeout:
                self.fail("no new leader named within %d s after node %d was killed (queue: %r)"
                          % (timeout, not_node, self.queue_doc()))
            time.sleep(0.1)

    def wait_dead(self, node, timeout):
        """Waits (bounded) until node's AMQP port refuses connections; the time
        then (seconds since the start)."""
        t = time.monotonic()
        while time.monotonic() - t < timeout:
            try:
                socket.create_connection((cc.HOST, cc.AMQP_PORTS[node - 1]), timeout=0.5).close()
            except OSError:
                return self.ledger.now()
            time.sleep(0.01)
        self.fail("node %d still accepts AMQP connections %d s after its kill" % (node, timeout))

    def wait_online(self, node, timeout):
        name = [n for n, i in self.names.items() if i == node][0]
        t = time.monotonic()
        while True:
            doc = self.queue_doc() or {}
            if name in (doc.get("online") or []) and len(doc.get("members") or []) == NODES:
                return time.monotonic() - t
            if time.monotonic() - t > timeout:
                self.fail("node %d not among the queue's online members %d s after its start: %r"
                          % (node, timeout, doc))
            time.sleep(0.2)

    def wait_resumed(self, since, timeout):
        """Every client confirmed or received a message first sent after `since`;
        {client: seconds from `since` to that}, or None (a failure noted)."""
        t = time.monotonic()
        while True:
            when = {c.name: self.ledger.resumed_since(c.name, since) for c in self.clients}
            late = [name for name, w in when.items() if w is None]
            if not late:
                return {name: w - since for name, w in when.items()}
            if time.monotonic() - t > timeout:
                self.failures.append("after the kill at +%.1f s, %s made no progress with new "
                                     "messages within %d s" % (since, ", ".join(late), timeout))
                return None
            time.sleep(0.1)

    # -- the test

    def test_quorum_leader_kill_rounds(self):
        rng = random.Random(SEED)
        say("seed %d (COMPAT_KILL_SEED replays the random moments), %d rounds, %d msg/s per "
            "publisher%s" % (SEED, ROUNDS, RATE, ", SELF-CHECK %s: this test must FAIL" % SELF_CHECK
                             if SELF_CHECK else ""))
        self.ledger = ledger = Ledger()
        self.failures = []
        self.names = self.node_names()
        self.queue = cc.uniq("cluster.kill.qq")
        decl_node = rng.randrange(1, NODES + 1)
        conn = pika.BlockingConnection(pika_params((cc.HOST, cc.AMQP_PORTS[decl_node - 1])))
        conn.channel().queue_declare(self.queue, durable=True, arguments={"x-queue-type": "quorum"})
        conn.close()
        doc = cc.wait_for(lambda: self.queue_doc(), what="the queue in the management API")
        self.assertEqual(len(doc.get("members") or []), NODES, doc)
        leader = cc.wait_for(self.leader, what="the queue's leader")
        others = [n for n in range(1, NODES + 1) if n != leader]
        say("queue %s declared on node %d, leader node %d (%s), clients on nodes %s" % (
            self.queue, decl_node, leader, doc.get("leader"), others))

        def addrs(first):
            order = [first] + [n for n in range(1, NODES + 1) if n != first]
            return [(cc.HOST, cc.AMQP_PORTS[n - 1]) for n in order]

        def addr_list(first):
            return ",".join("%s:%d" % a for a in addrs(first))

        a, b = others[0], others[1 % len(others)]
        self.clients = [
            PikaPublisher("py-pub", ledger, addrs(a), self.queue, corrupt_one=SELF_CHECK == "corrupt"),
            CClient("c-pub", ledger, [QQ_CLIENT, "publish", self.queue, "c-pub", addr_list(b), str(RATE),
                                      str(WINDOW)]),
            PikaConsumer("py-con", ledger, addrs(b), self.queue),
            CClient("c-con", ledger, [QQ_CLIENT, "consume", self.queue, addr_list(a), str(PREFETCH)]),
        ]
        for c in self.clients:
            if isinstance(c, threading.Thread):
                c.start()
        # every client at work before the first kill
        self.assertIsNotNone(self.wait_resumed(0.0, RESUME_TIMEOUT),
                             "clients did not start working: %s" % self.failures)

        for r in range(1, ROUNDS + 1):
            time.sleep(rng.uniform(0.5, 4.0))
            leader = self.leader()
            self.assertIsNotNone(leader, "round %d: no leader before the kill: %r" % (r, self.queue_doc()))
            self.down.add(leader)
            ledger.on_event("test", "round %d: kill node %d (the leader)" % (r, leader))
            ctl = ClusterCtl("kill", leader)
            t_kill = self.wait_dead(leader, CTL_TIMEOUT)
            ledger.on_event("test", "round %d: node %d refuses connections" % (r, leader))
            new_leader, t_elect = self.wait_leader(leader, LEADER_TIMEOUT)
            ledger.on_event("test", "round %d: new leader node %d" % (r, new_leader))
            t_killed = ctl.wait()
            resumed = self.wait_resumed(t_kill, RESUME_TIMEOUT)
            time.sleep(rng.uniform(0.0, 3.0))
            t_start = cluster_ctl("start", leader)
            self.down.discard(leader)
            t_online = self.wait_online(leader, REJOIN_TIMEOUT)
            ledger.on_event("test", "round %d: node %d back" % (r, leader))
            with ledger.lock:
                conf = sum(1 for v in ledger.confirmed.values() if v)
                got = len(ledger.deliveries)
            say("round %d at +%.1f s: killed node %d (the leader; the kill command took %.2f s); "
                "new leader node %d named %.2f s after the node was gone; first confirm or "
                "delivery of a message sent after the kill: %s; node %d started in %.1f s, "
                "online in the queue %.1f s later; so far %d ids confirmed, %d deliveries" % (
                    r, t_kill, leader, t_killed, new_leader, t_elect,
                    ", ".join("%s %.2f s" % kv for kv in sorted(resumed.items()))
                    if resumed is not None else "NOT within %d s for every client" % RESUME_TIMEOUT,
                    leader, t_start, t_online, conf, got))

        # the end: publishers stop, consumers drain, then stop
        time.sleep(1.0)
        for c in self.clients[:2]:
            c.stop()
        for c in self.clients[:2]:
            c.join(20)
        t = time.monotonic()
        while time.monotonic() - t < DRAIN_TIMEOUT:
            with ledger.lock:
                seen = {d[1] for d in ledger.deliveries if d[5] == "ok"}
                missing = [m for m, v in ledger.confirmed.items() if v and m not in seen]
            if not missing and self.ready_count() == 0:
                break
            time.sleep(0.2)
        time.sleep(1.0)  # the last deliveries' acks
        for c in self.clients[2:]:
            c.stop()
        for c in self.clients[2:]:
            c.join(20)
        left = self.ready_count_settled()
        self.report(left)
        self.check(left)

    def ready_count(self):
        for node in range(1, NODES + 1):
            try:
                conn = pika.BlockingConnection(pika_params((cc.HOST, cc.AMQP_PORTS[node - 1])))
                try:
                    return conn.channel().queue_declare(self.queue, passive=True).method.message_count
                finally:
                    conn.close()
            except Exception:
                continue
        return None

    def ready_count_settled(self):
        """The queue's message count once consumers are gone (bounded: returned
        unacked messages may take a moment)."""
        deadline = time.monotonic() + 5
        n = self.ready_count()
        while n and time.monotonic() < deadline:
            time.sleep(0.2)
            n = self.ready_count()
        return n

    # -- the verdict

    def report(self, left):
        ledger = self.ledger
        say("client events (seconds since the start):")
        for t, client, text in ledger.events:
            say("  +%7.2f %-7s %s" % (t, client, text))
        nacks = {}
        for t, client in ledger.nacks:
            nacks.setdefault(client, []).append(t)
        for client, ts in sorted(nacks.items()):
            say("%s: %d basic.nack between +%.2f and +%.2f s" % (client, len(ts), ts[0], ts[-1]))
        ids_sent = len(ledger.sent)
        attempts = sum(len(v) for v in ledger.sent.values())
        ids_conf = sum(1 for v in ledger.confirmed.values() if v)
        per_id = {}
        for d in ledger.deliveries:
            per_id.setdefault(d[1], []).append(d)
        redelivered = [d for d in ledger.deliveries if d[3]]
        flags = {}
        for d in ledger.deliveries:
            k = (d[3], d[4])
            flags[k] = flags.get(k, 0) + 1
        counts = {}
        for d in ledger.deliveries:
            counts[d[4]] = counts.get(d[4], 0) + 1
        multi_attempt = sum(1 for ds in per_id.values() if len({d[2] for d in ds}) > 1)
        by_client = {}
        for d in ledger.deliveries:
            by_client[d[0]] = by_client.get(d[0], 0) + 1
        say("published %d ids in %d sends (%d retried sends), confirmed %d ids (%d nacks), "
            "consumed %d ids in %d deliveries (%s): %d duplicate deliveries (%d ids published "
            "more than once reached a consumer twice or more), %d flagged redelivered; "
            "x-delivery-count values: %s; messages left in the queue: %s" % (
                ids_sent, attempts, attempts - ids_sent, ids_conf, len(ledger.nacks), len(per_id),
                len(ledger.deliveries), ", ".join("%s %d" % kv for kv in sorted(by_client.items())),
                len(ledger.deliveries) - len(per_id), multi_attempt, len(redelivered),
                ", ".join("%s: %d" % (("absent" if k is None else "%d" % k), v)
                          for k, v in sorted(counts.items(), key=lambda kv: -1 if kv[0] is None else kv[0])),
                left))
        # the redelivered ones by round, and who had the message before
        kills = [(t, text.split(":")[0]) for t, client, text in ledger.events
                 if client == "test" and text.endswith("(the leader)")]
        first_copy = {}
        for d in sorted(ledger.deliveries, key=lambda d: d[6]):
            first_copy.setdefault((d[1], d[2]), d)
        per_round = {}
        for d in redelivered:
            rnd = "before the first kill"
            for t, name in kills:
                if t <= d[6]:
                    rnd = name
            before = first_copy[(d[1], d[2])]
            had = "nobody" if before is d else before[0]
            per_round.setdefault(rnd, {}).setdefault(had, []).append(d[4])
        for rnd, hads in sorted(per_round.items()):
            say("redelivered after the kill of %s: %s" % (rnd, "; ".join(
                "%d first delivered to %s (x-delivery-count %s)" % (
                    len(v), had, "/".join(sorted(set("absent" if c is None else "%d" % c for c in v))))
                for had, v in sorted(hads.items()))))
        say("deliveries by (redelivered, x-delivery-count): %s" % ", ".join(
            "(%s, %s): %d" % (k[0], "absent" if k[1] is None else "%d" % k[1], v)
            for k, v in sorted(flags.items(), key=lambda kv: (kv[0][0], kv[0][1] or -1))))

    def check(self, left):
        ledger = self.ledger
        failures = list(self.failures)
        deliveries = list(ledger.deliveries)
        if SELF_CHECK == "drop" and ledger.confirmed:
            victim = sorted(ledger.confirmed)[len(ledger.confirmed) // 2]
            say("SELF-CHECK drop: forgetting every delivery of %s" % victim)
            deliveries = [d for d in deliveries if d[1] != victim]
        if SELF_CHECK == "unflag" and deliveries:
            d = deliveries[len(deliveries) // 2]
            say("SELF-CHECK unflag: one more copy of %s attempt %d, not flagged" % (d[1], d[2]))
            deliveries.append((d[0], d[1], d[2], False, None, d[5], d[6]))
        bad = [d for d in deliveries if d[5] != "ok"]
        if bad:
            failures.append("%d deliveries failed their checksum, e.g. %s" % (len(bad), bad[:5]))
        unknown = [d for d in deliveries if d[5] == "ok" and d[2] not in ledger.sent.get(d[1], ())]
        if unknown:
            failures.append("%d deliveries of messages never sent, e.g. %s" % (len(unknown), unknown[:5]))
        seen = {d[1] for d in deliveries if d[5] == "ok"}
        lost = sorted(m for m, v in ledger.confirmed.items() if v and m not in seen)
        if lost:
            failures.append("%d confirmed ids never consumed: %s" % (len(lost), lost[:20]))
        copies = {}
        for d in deliveries:
            copies.setdefault((d[1], d[2]), []).append(d)
        unflagged = [(k, v) for k, v in copies.items()
                     if sum(1 for d in v if not d[3] and not (d[4] or 0) >= 1) > 1]
        if unflagged:
            failures.append("%d messages delivered more than once without redelivered=True or "
                            "x-delivery-count >= 1 on the later copies, e.g. %s" % (
                                len(unflagged), unflagged[:3]))
        if left != 0:
            failures.append("the queue holds %s messages at the end (expected 0)" % left)
        for c in self.clients:
            if isinstance(c, CClient) and c.proc.returncode not in (0, None):
                failures.append("%s exited with status %s" % (c.name, c.proc.returncode))
        if failures:
            self.fail("\n".join(failures))


if __name__ == "__main__":
    cc.main("cluster-kill", sys.modules[__name__])
