#!/usr/bin/python3
"""Idempotent and transactional producers, from the clients' side, against
tandemd: librdkafka 2.0.2 (Debian's python3-confluent-kafka 1.7.0) and
kafka-python 2.0.2 (Debian's python3-kafka).

Run by compat/kafka/run.sh (suite txn-clients), which starts the broker and
sets KAFKA_BOOTSTRAP and BROKER_CTL (compat/kafka/broker.sh: the tests kill
the broker with kill -9 and start it again on the same port and data).

Covers:
- an idempotent producer (enable.idempotence) sending a few thousand
  numbered records to one partition while the broker is killed (kill -9)
  and started twice: every record is acknowledged at the offset equal to
  its number, and the partition holds each once, in order, nothing else;
- consume-transform-produce with transactions (a read_committed consumer
  without auto commit, a transactional producer, send_offsets_to_transaction)
  aborting every K-th batch and redoing it from the group's committed
  offsets: a read_committed reader of the output sees one transformed
  record per input record, in order per partition; a read_uncommitted one
  also sees each aborted copy; the group's committed offsets are the ends
  of the input.  Once as a group member (subscribe), once with assign() and
  a kill -9 of the broker in the middle of a transaction (after its records
  are written, before its offsets and commit), which the application gets
  through as librdkafka's error classes say (retry, or abort and redo);
- kafka-python reading what librdkafka's transactional producer wrote
  (committed and aborted transactions, then one left open): kafka-python
  2.0.2 has no read_committed consumer (KafkaConsumer refuses
  isolation_level, its fetcher always asks for read_uncommitted and hands
  out control records), so the test sends kafka-python's own Fetch v4 with
  isolation_level 1 and ListOffsets v2 through its BrokerConnection and
  filters the records with the aborted-transaction list as a
  read_committed consumer does: only committed records, never a record at
  or past the last stable offset while a transaction is open.
"""
import collections
import os
import socket
import subprocess
import time
import unittest
import uuid

from confluent_kafka import (Consumer, KafkaError, KafkaException, Producer,
                             TopicPartition, OFFSET_BEGINNING)
from confluent_kafka.admin import AdminClient, NewTopic

BOOT = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092")
BROKER_CTL = os.environ.get("BROKER_CTL")
TIMEOUT = 60  # bound of every wait, in seconds


def name(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def create(topic, partitions):
    a = AdminClient({"bootstrap.servers": BOOT})
    for f in a.create_topics([NewTopic(topic, partitions, 1)], request_timeout=15).values():
        f.result(timeout=30)


def kill_and_start():
    """kill -9 the broker, then start it again on the same port and data."""
    subprocess.run([BROKER_CTL, "kill"], check=True, timeout=30)
    subprocess.run([BROKER_CTL, "start"], check=True, timeout=30)


def wait_until(cond, what, poll=None, timeout=TIMEOUT):
    """Calls poll() (or sleeps 10 ms) until cond() holds; fails after timeout."""
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise AssertionError("timed out waiting for " + what)
        if poll:
            poll()
        else:
            time.sleep(0.01)


def read_all(topic, partitions, isolation):
    """Every record of topic's partitions from the beginning to their end
    (partition EOF: the last stable offset for read_committed), as
    {partition: [(offset, value)]}."""
    c = Consumer({"bootstrap.servers": BOOT, "group.id": name("reader"),
                  "isolation.level": isolation, "enable.auto.commit": False,
                  "enable.partition.eof": True})
    c.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(partitions)])
    got = {p: [] for p in range(partitions)}
    at_end = set()
    deadline = time.time() + TIMEOUT
    try:
        while len(at_end) < partitions:
            if time.time() > deadline:
                raise AssertionError("reading %s: no end after %d s" % (topic, TIMEOUT))
            m = c.poll(0.2)
            if m is None:
                continue
            if m.error():
                if m.error().code() == KafkaError._PARTITION_EOF:
                    at_end.add(m.partition())
                    continue
                raise AssertionError("reading %s: %s" % (topic, m.error()))
            at_end.discard(m.partition())
            got[m.partition()].append((m.offset(), m.value()))
    finally:
        c.close()
    return got


class IdempotentThroughKill(unittest.TestCase):
    N = 3000

    @unittest.skipUnless(BROKER_CTL, "needs BROKER_CTL to kill the broker")
    def test_every_record_once_in_order_through_two_kills(self):
        t = name("idem-kill")
        create(t, 1)
        acked, errors = {}, []  # delivery failures and fatal errors; a
        # refused connection while the broker is down is neither

        def report(err, msg):
            if err:
                errors.append(err)
            else:
                acked.setdefault(int(msg.value()), []).append(msg.offset())

        p = Producer({"bootstrap.servers": BOOT, "enable.idempotence": True,
                      "linger.ms": 5, "batch.num.messages": 50,
                      "message.timeout.ms": 120000, "reconnect.backoff.max.ms": 500,
                      "error_cb": lambda e: e.fatal() and errors.append(e)})
        kills = (self.N // 3, 2 * self.N // 3)
        unanswered = []  # records sent or queued at each kill
        for i in range(self.N):
            p.produce(t, value=b"%d" % i, partition=0, on_delivery=report)
            p.poll(0)
            if i in kills:
                # kill while batches are on the wire: once the broker
                # answers again after the previous start
                before = len(acked)
                wait_until(lambda: len(acked) > before, "an acknowledgement", lambda: p.poll(0.01))
                unanswered.append(i + 1 - len(acked))
                kill_and_start()
        self.assertEqual(p.flush(120), 0, "records not delivered")
        self.assertEqual(errors, [])
        self.assertEqual(sorted(acked), list(range(self.N)))
        wrong = [(i, offs) for i, offs in acked.items() if offs != [i]]
        self.assertEqual(wrong[:10], [], "records acknowledged at another offset or twice")
        log = read_all(t, 1, "read_uncommitted")[0]
        self.assertEqual(log, [(i, b"%d" % i) for i in range(self.N)])
        print("\n  records unanswered at the kills: %s" % unanswered, flush=True)


class ConsumeTransformProduce(unittest.TestCase):
    """An exactly-once application: input records in-<i> (partition i % 2)
    become out-in-<i> in the same partition of the output."""
    N = 600
    BATCH = 40
    ABORT_EVERY = 3

    def setUp(self):
        self.src, self.dst, self.group = name("ctp-in"), name("ctp-out"), name("ctp-g")
        create(self.src, 2)
        create(self.dst, 2)
        p = Producer({"bootstrap.servers": BOOT, "linger.ms": 5})
        for i in range(self.N):
            p.produce(self.src, value=b"in-%d" % i, partition=i % 2)
        self.assertEqual(p.flush(30), 0)
        self.end = {0: self.N // 2, 1: self.N // 2}

    def app(self, subscribe):
        c = Consumer({"bootstrap.servers": BOOT, "group.id": self.group,
                      "isolation.level": "read_committed", "enable.auto.commit": False,
                      "auto.offset.reset": "earliest"})
        p = Producer({"bootstrap.servers": BOOT, "transactional.id": name("ctp-tx"),
                      "linger.ms": 5, "transaction.timeout.ms": 60000})
        p.init_transactions(30)
        tps = [TopicPartition(self.src, q) for q in range(2)]
        if subscribe:  # the first batches wait for the assignment
            c.subscribe([self.src])
        else:
            c.assign(tps)
        return c, p, tps

    def batch(self, c):
        """Up to BATCH records read, bounded in time."""
        msgs = c.consume(num_messages=self.BATCH, timeout=0.5)
        for m in msgs:
            if m.error():
                raise AssertionError("consume: %s" % m.error())
        return msgs

    def end_txn(self, p, c, offsets, commit):
        """Sends offsets with the open transaction and commits or aborts it,
        as librdkafka's error classes say: a retriable error is retried, one
        that needs an abort aborts.  Returns whether it committed."""
        deadline = time.time() + TIMEOUT
        sent = False
        while True:
            try:
                if not sent:
                    p.send_offsets_to_transaction(offsets, c.consumer_group_metadata(), 30)
                    sent = True
                if not commit:
                    p.abort_transaction(30)
                    return False
                p.commit_transaction(30)
                return True
            except KafkaException as e:
                err = e.args[0]
                self.assertFalse(err.fatal(), "fatal: %s" % err)
                self.assertLess(time.time(), deadline, "ending a transaction: %s" % err)
                if err.txn_requires_abort():
                    self.txn_errors.append(err)
                    p.abort_transaction(30)
                    return False
                if not err.retriable():
                    raise
                self.txn_errors.append(err)

    def rewind(self, c, tps):
        """Back to the group's committed offsets (OffsetFetch with
        require_stable); they must be the ones the application committed."""
        committed = c.committed(tps, timeout=30)
        for tp in committed:
            want = self.committed.get(tp.partition)
            got = tp.offset if tp.offset >= 0 else None
            self.assertEqual(got, want, "committed offset of partition %d" % tp.partition)
            c.seek(TopicPartition(self.src, tp.partition, got if got is not None else 0))

    def run_app(self, subscribe, kill_in_batch=None):
        """Runs the application until the input is consumed and committed;
        returns the output values of the aborted transactions."""
        c, p, tps = self.app(subscribe)
        self.committed, self.txn_errors = {}, []
        aborted, batches = collections.Counter(), 0
        deadline = time.time() + 3 * TIMEOUT
        try:
            while self.committed != self.end:
                self.assertLess(time.time(), deadline, "committed %s of %s" % (self.committed, self.end))
                msgs = self.batch(c)
                if not msgs:
                    continue
                batches += 1
                p.begin_transaction()
                out, offsets = [], {}
                for m in msgs:
                    v = b"out-" + m.value()
                    p.produce(self.dst, value=v, partition=m.partition())
                    out.append(v)
                    offsets[m.partition()] = m.offset() + 1
                # written before it ends: abort_transaction drops what
                # librdkafka has not sent, and the read_uncommitted
                # reader is to see each aborted copy
                self.assertEqual(p.flush(30), 0)
                if batches == kill_in_batch:
                    kill_and_start()
                tpo = [TopicPartition(self.src, q, o) for q, o in offsets.items()]
                if self.end_txn(p, c, tpo, batches % self.ABORT_EVERY != 0):
                    self.committed.update(offsets)
                else:
                    aborted.update(out)
                    self.rewind(c, tps)
            self.assertGreaterEqual(batches, self.ABORT_EVERY, "no transaction aborted")
        finally:
            c.close()
            p.flush(10)
        return aborted

    def check_output(self, aborted):
        want = {q: [b"out-in-%d" % i for i in range(self.N) if i % 2 == q] for q in range(2)}
        committed = read_all(self.dst, 2, "read_committed")
        for q in range(2):
            self.assertEqual([v for _, v in committed[q]], want[q], "read_committed, partition %d" % q)
        everything = read_all(self.dst, 2, "read_uncommitted")
        seen = collections.Counter(v for q in range(2) for _, v in everything[q])
        self.assertTrue(aborted)
        want_all = collections.Counter(want[0] + want[1]) + aborted
        self.assertEqual((seen - want_all, want_all - seen), ({}, {}), "read_uncommitted")
        c = Consumer({"bootstrap.servers": BOOT, "group.id": self.group,
                      "isolation.level": "read_committed"})
        try:
            got = c.committed([TopicPartition(self.src, q) for q in range(2)], timeout=30)
        finally:
            c.close()
        self.assertEqual({tp.partition: tp.offset for tp in got}, self.end)

    def test_group_member_aborting_every_third_batch(self):
        self.check_output(self.run_app(subscribe=True))

    @unittest.skipUnless(BROKER_CTL, "needs BROKER_CTL to kill the broker")
    def test_kill9_in_an_open_transaction(self):
        self.check_output(self.run_app(subscribe=False, kill_in_batch=5))
        print("\n  errors the application handled after the kill: %s"
              % ([str(e) for e in self.txn_errors] or "none"), flush=True)


class KafkaPythonReadCommitted(unittest.TestCase):
    """kafka-python's Fetch v4 with isolation_level 1 (read_committed)."""

    def setUp(self):
        from kafka.conn import BrokerConnection
        host, port = BOOT.rsplit(":", 1)
        self.conn = BrokerConnection(host, int(port), socket.AF_INET, api_version=(1, 0))
        self.assertTrue(self.conn.connect_blocking(10), "kafka-python cannot connect")

    def tearDown(self):
        self.conn.close()

    def call(self, req):
        f = self.conn.send(req)
        deadline = time.time() + 30
        while not f.is_done:
            self.assertLess(time.time(), deadline, "no answer to %s" % req)
            for resp, fut in self.conn.recv():
                fut.success(resp)
        self.assertTrue(f.succeeded(), f.exception)
        return f.value

    def fetch(self, topic, partition, isolation):
        """(high watermark, last stable offset, aborted transactions,
        batches) of one Fetch v4 from offset 0."""
        from kafka.protocol.fetch import FetchRequest
        from kafka.record import MemoryRecords
        resp = self.call(FetchRequest[4](-1, 100, 1, 1 << 20, isolation,
                                         [(topic, [(partition, 0, 1 << 20)])]))
        (_, error, hw, lso, aborted, data), = resp.topics[0][1]
        self.assertEqual(error, 0)
        aborted = aborted or []  # null when read_uncommitted
        batches, recs = [], MemoryRecords(data)
        b = recs.next_batch()
        while b is not None:
            batches.append(b)
            b = recs.next_batch()
        return hw, lso, sorted(aborted, key=lambda a: a[1]), batches

    def list_latest(self, topic, partition, isolation):
        from kafka.protocol.offset import OffsetRequest
        resp = self.call(OffsetRequest[2](-1, isolation, [(topic, [(partition, -1)])]))
        (_, error, _, offset), = resp.topics[0][1]
        self.assertEqual(error, 0)
        return offset

    @staticmethod
    def committed_values(aborted, batches):
        """What a read_committed consumer returns: records of batches that
        are neither control batches nor part of an aborted transaction (a
        producer's transaction is aborted from its listed first offset up to
        its abort marker)."""
        pending, open_aborted, out = list(aborted), set(), []
        for b in batches:
            pid = b._header_data[9]
            while pending and pending[0][1] <= b.base_offset + b.last_offset_delta:
                open_aborted.add(pending.pop(0)[0])
            if b.is_control_batch:
                kind = [r.key for r in b][0][2:4]
                if kind == b"\x00\x00":  # abort marker
                    open_aborted.discard(pid)
                continue
            if b.is_transactional and pid in open_aborted:
                continue
            out.extend((r.offset, r.value) for r in b)
        return out

    def test_only_committed_records_and_the_lso(self):
        from kafka import KafkaConsumer
        from kafka.errors import KafkaConfigurationError
        with self.assertRaises(KafkaConfigurationError):  # see the module's comment
            KafkaConsumer(bootstrap_servers=BOOT, isolation_level="read_committed")
        t = name("kp-rc")
        create(t, 2)
        p = Producer({"bootstrap.servers": BOOT, "transactional.id": name("kp-tx"), "linger.ms": 5})
        p.init_transactions(30)
        want = {0: [], 1: []}
        for n, commit in enumerate((True, False, True, False, False, True)):
            p.begin_transaction()
            for q in range(2):
                for i in range(10):
                    v = b"t%d-p%d-%d-%s" % (n, q, i, b"c" if commit else b"a")
                    p.produce(t, value=v, partition=q)
                    if commit:
                        want[q].append(v)
            self.assertEqual(p.flush(30), 0)
            p.commit_transaction(30) if commit else p.abort_transaction(30)
        for q in range(2):
            hw, lso, aborted, batches = self.fetch(t, q, 1)
            self.assertEqual(lso, hw, "partition %d: nothing open" % q)
            self.assertEqual(len(aborted), 3, "partition %d: aborted %s" % (q, aborted))
            self.assertEqual([v for _, v in self.committed_values(aborted, batches)], want[q])
            self.assertEqual(self.list_latest(t, q, 1), hw)
            _, _, none, _ = self.fetch(t, q, 0)
            self.assertEqual(none, [], "read_uncommitted gets no aborted list")
        # an open transaction holds the LSO at its first record
        hw0 = self.fetch(t, 0, 1)[0]
        p.begin_transaction()
        p.produce(t, value=b"open", partition=0)
        self.assertEqual(p.flush(30), 0)
        hw, lso, _, batches = self.fetch(t, 0, 1)
        self.assertEqual((hw, lso), (hw0 + 1, hw0))
        self.assertEqual(self.list_latest(t, 0, 1), hw0)
        self.assertEqual(self.list_latest(t, 0, 0), hw0 + 1)
        self.assertTrue(all(b.base_offset < lso for b in batches), "a batch at or past the LSO")
        p.commit_transaction(30)
        hw, lso, aborted, batches = self.fetch(t, 0, 1)
        self.assertEqual(lso, hw)
        self.assertEqual([v for _, v in self.committed_values(aborted, batches)], want[0] + [b"open"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
