"""Shared pieces of the fault suite: start tandemd on free loopback ports,
kill it, publish with confirms over AMQP (pika) and with acks=all over Kafka
(kafka-python), and read everything back.  Every wait is bounded."""
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pika
from pika.exceptions import NackError, UnroutableError, AMQPError

TANDEMD = os.environ.get("TANDEMD", "tandemd")


FREE_PORTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "free-ports")


def free_port():
    """A port below the ephemeral range: kill9() and start() keep it."""
    return int(subprocess.check_output([sys.executable, FREE_PORTS]).decode())


class Broker:
    """A tandemd of this test's own; kill9() and start() keep ports and data."""

    def __init__(self, data_dir, log_path, extra=(), env=None):
        self.data_dir = data_dir
        self.log_path = log_path
        self.amqp_port = free_port()
        self.kafka_port = free_port()
        self.extra = list(extra)
        self.env = env or {}
        self.proc = None

    def start(self, env=None):
        args = [TANDEMD, "--data-dir", self.data_dir, "--amqp-port", str(self.amqp_port),
                "--kafka-port", str(self.kafka_port), "--http-port", "0"] + self.extra
        full_env = dict(os.environ)
        full_env.update(self.env if env is None else env)
        log = open(self.log_path, "a")
        self.proc = subprocess.Popen(args, stdout=log, stderr=log, env=full_env)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("tandemd exited with %s (see %s)" % (self.proc.returncode, self.log_path))
            try:
                socket.create_connection(("127.0.0.1", self.amqp_port), 0.5).close()
                socket.create_connection(("127.0.0.1", self.kafka_port), 0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("tandemd did not accept connections within 30 s")

    def kill9(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.proc = None

    def amqp(self, vhost="/"):
        params = pika.ConnectionParameters("127.0.0.1", self.amqp_port, vhost,
                                           pika.PlainCredentials("guest", "guest"),
                                           blocked_connection_timeout=None, socket_timeout=10)
        return pika.BlockingConnection(params)

    @property
    def bootstrap(self):
        return "127.0.0.1:%d" % self.kafka_port


class AmqpLedger(threading.Thread):
    """Publishes "<tag>:<i>:<pad>" persistent (or transient) messages to a
    queue with confirms, one at a time, until stopped or the connection
    dies; acked holds the i of every message the broker confirmed."""

    def __init__(self, broker, vhost, queue, tag, size, durable=True, persistent=True):
        super().__init__(daemon=True)
        self.broker, self.vhost, self.queue, self.tag = broker, vhost, queue, tag
        self.pad = b"x" * size
        self.durable, self.persistent = durable, persistent
        self.acked, self.nacked = [], 0
        self.stop_flag = threading.Event()
        self.error = None

    def declare(self):
        conn = self.broker.amqp(self.vhost)
        conn.channel().queue_declare(self.queue, durable=self.durable)
        conn.close()

    def run(self):
        try:
            conn = self.broker.amqp(self.vhost)
            ch = conn.channel()
            ch.confirm_delivery()
            props = pika.BasicProperties(delivery_mode=2 if self.persistent else 1)
            i = 0
            while not self.stop_flag.is_set():
                body = b"%s:%d:" % (self.tag.encode(), i) + self.pad
                try:
                    ch.basic_publish("", self.queue, body, props)
                    self.acked.append(i)
                except (NackError, UnroutableError):
                    self.nacked += 1
                i += 1
        except AMQPError as e:  # the broker was killed: expected at the end
            self.error = e
        except OSError as e:
            self.error = e


def drain(broker, vhost, queue, tag, timeout=60):
    """Gets every message of queue (no-ack); returns the list of i, and
    fails on a body that is not "<tag>:<i>:..."."""
    conn = broker.amqp(vhost)
    ch = conn.channel()
    got = []
    deadline = time.time() + timeout
    while time.time() < deadline:
        method, _, body = ch.basic_get(queue, auto_ack=True)
        if method is None:
            break
        parts = body.split(b":", 2)
        assert len(parts) == 3 and parts[0] == tag.encode(), \
            "%s/%s: foreign message %r" % (vhost, queue, body[:40])
        got.append(int(parts[1]))
    conn.close()
    return got


def check_ledger(what, acked, got, ordered=True):
    """Nothing confirmed lost, nothing duplicated (and in order)."""
    dup = len(got) - len(set(got))
    missing = sorted(set(acked) - set(got))
    print("%s: %d confirmed, %d read back, %d missing, %d duplicated"
          % (what, len(acked), len(got), len(missing), dup))
    assert not missing, "%s: confirmed but lost: %s" % (what, missing[:20])
    assert dup == 0, "%s: duplicates in the queue" % what
    if ordered:
        assert got == sorted(got), "%s: out of order" % what


class KafkaLedger(threading.Thread):
    """Produces values "<i>:<pad>" with acks=all until stopped; acked holds
    the i of every record the broker acknowledged."""

    def __init__(self, broker, topic, size):
        super().__init__(daemon=True)
        self.broker, self.topic = broker, topic
        self.pad = b"k" * size
        self.acked, self.failed = [], 0
        self.stop_flag = threading.Event()
        self.error = None

    def create(self):
        from kafka.admin import KafkaAdminClient, NewTopic
        admin = KafkaAdminClient(bootstrap_servers=self.broker.bootstrap, request_timeout_ms=10000)
        admin.create_topics([NewTopic(self.topic, 1, 1)])
        admin.close()

    def run(self):
        from kafka import KafkaProducer
        from kafka.errors import KafkaError
        try:
            p = KafkaProducer(bootstrap_servers=self.broker.bootstrap, acks="all", retries=0,
                              request_timeout_ms=10000, max_block_ms=10000, linger_ms=0)
            i = 0
            while not self.stop_flag.is_set():
                try:
                    p.send(self.topic, b"%d:" % i + self.pad).get(timeout=15)
                    self.acked.append(i)
                except KafkaError:
                    self.failed += 1
                    time.sleep(0.05)
                i += 1
            p.close(timeout=5)
        except Exception as e:  # the broker was killed: expected at the end
            self.error = e


def kafka_read_all(broker, topic, timeout=30):
    from kafka import KafkaConsumer, TopicPartition
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False,
                      consumer_timeout_ms=3000, request_timeout_ms=15000)
    tp = TopicPartition(topic, 0)
    c.assign([tp])
    c.seek_to_beginning(tp)
    got = []
    deadline = time.time() + timeout
    for rec in c:
        got.append(int(rec.value.split(b":", 1)[0]))
        if time.time() > deadline:
            break
    c.close()
    return got
