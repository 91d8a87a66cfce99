#!/usr/bin/python3
"""kafka-python 2.0.2 (Debian's python3-kafka) through rounds of a leader's
kill -9.

Run by compat/kafka/run.sh in a 3-node cluster of its own (scripts/cluster.sh
up 3, its state directory in TANDEM_CLUSTER_DIR).  A topic with replication
factor 3 and min.insync.replicas=2; a producer with acks=all and one request
in flight, whose futures give each record's offset; a consumer assigned to
the partition from offset 0 and a consumer group member (subscribe,
asynchronous commits), all three living through every round: no client is
restarted, each finds the new leader (and the new coordinator) by itself.
compat/kafka/failover_rounds.py runs the rounds (the leader killed with
SIGKILL at a random moment, started again after a random while; the seed is
printed, FAILOVER_SEED replays it) and checks every acknowledged record at
its offset, once, in order, and the group reading and committing to the end.
"""
import queue
import sys
import threading
import time
import unittest
import uuid

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic
from kafka.client_async import KafkaClient
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import failover_rounds as fr  # noqa: E402


class Member(threading.Thread):
    """The group member in a thread of its own: kafka-python's poll() blocks
    until the group has a coordinator and this member has joined (no
    timeout in 2.0.2), which would stall the producer and the moments of the
    rounds.  The main thread talks to it through two queues: requests in
    (commit), events out in the order they happened (records, assignments,
    commit answers, errors)."""

    def __init__(self, consumer, tp):
        super().__init__(daemon=True)
        self.c = consumer
        self.tp = tp
        self.requests = queue.Queue()
        self.events = queue.Queue()
        self.stopping = threading.Event()
        member = self

        class Assigned(ConsumerRebalanceListener):
            def on_partitions_revoked(self, revoked):
                pass

            def on_partitions_assigned(self, assigned):
                member.events.put(("assigned",))
        self.listener = Assigned()

    def _answer(self, off):
        def done(offsets, res):  # res: an exception, or the response
            self.events.put(("commit", off, res if isinstance(res, Exception) else None))
        return done

    def run(self):
        while not self.stopping.is_set():
            while True:
                try:
                    off = self.requests.get_nowait()
                except queue.Empty:
                    break
                self.c.commit_async({self.tp: OffsetAndMetadata(off, None)},
                                    callback=self._answer(off))
            try:
                recs = self.c.poll(timeout_ms=50, max_records=500)
            except KafkaError as e:
                self.events.put(("error", repr(e)))
                time.sleep(0.1)
                continue
            for ms in recs.values():
                for m in ms:
                    self.events.put(("record", m.offset, m.value))


class KafkaPython:
    def __init__(self, boot, topic):
        self.boot = boot
        self.topic = topic
        self.tp = TopicPartition(topic, 0)
        # Metadata every second: while a dead leader's session lasts,
        # Metadata still names it
        common = dict(bootstrap_servers=boot, reconnect_backoff_ms=100,
                      reconnect_backoff_max_ms=1000, metadata_max_age_ms=1000)
        self.producer = KafkaProducer(acks="all", retries=1000000, retry_backoff_ms=100,
                                      max_in_flight_requests_per_connection=1,
                                      request_timeout_ms=30000, linger_ms=5, **common)
        self.pending = []  # (index, future)
        # "none": an offset out of range raises, it is not silently reset
        self.reader = KafkaConsumer(enable_auto_commit=False, auto_offset_reset="none",
                                    fetch_max_wait_ms=100, **common)
        self.member = Member(KafkaConsumer(group_id="kp-group-" + topic,
                                           enable_auto_commit=False,
                                           auto_offset_reset="earliest", fetch_max_wait_ms=100,
                                           session_timeout_ms=10000, heartbeat_interval_ms=1000,
                                           **common), self.tp)
        self.member.c.subscribe([topic], listener=self.member.listener)
        self.member.start()
        self.meta = KafkaClient(**common)
        self.meta.set_topics([topic])

    def create_topic(self, replicas):
        admin = KafkaAdminClient(bootstrap_servers=self.boot)
        try:
            admin.create_topics([NewTopic(self.topic, -1, -1, replica_assignments={0: replicas},
                                          topic_configs={"min.insync.replicas": "2"})],
                                timeout_ms=30000)
        finally:
            admin.close()

    def assign_reader(self):
        self.reader.assign([self.tp])
        self.reader.seek(self.tp, 0)

    def produce(self, i, value):
        self.pending.append((i, self.producer.send(self.topic, value=value, partition=0)))

    def poll_producer(self):
        left = []
        for i, f in self.pending:
            if not f.is_done:
                left.append((i, f))
            elif f.succeeded():
                self.run.delivered(i, f.value.offset, None)
            else:
                self.run.delivered(i, None, f.exception)
        self.pending = left

    def flush(self, timeout_s):
        try:
            self.producer.flush(timeout_s)
        except KafkaError:
            pass
        self.poll_producer()

    def consume(self):
        try:
            recs = self.reader.poll(timeout_ms=20, max_records=500)
        except KafkaError as e:
            return [(None, None, repr(e))]
        return [(m.offset, m.value, None) for ms in recs.values() for m in ms]

    def group_consume(self):
        res = []
        while True:
            try:
                res.append(self.member.events.get_nowait())
            except queue.Empty:
                return res

    def group_commit(self, offset):
        self.member.requests.put(offset)

    def _stop_member(self):
        self.member.stopping.set()
        if self.member.is_alive():
            self.member.join(30)
        assert not self.member.is_alive(), "the group member's poll() did not return in 30 s"

    def group_committed(self):
        self._stop_member()  # its consumer is used from one thread at a time
        return self.member.c.committed(self.tp)

    def high_watermark(self):
        end = time.time() + 30
        while True:
            try:
                return self.reader.end_offsets([self.tp])[self.tp]
            except KafkaError:
                if time.time() > end:
                    raise
                time.sleep(0.2)

    def partition(self, topic):
        f = self.meta.cluster.request_update()
        self.meta.poll(future=f, timeout_ms=2000)
        if not f.succeeded():
            return None
        p = self.meta.cluster._partitions.get(topic, {}).get(0)
        if p is None:
            return None
        return p.leader, list(p.replicas), list(p.isr)

    def close(self):
        self.member.stopping.set()
        if self.member.is_alive():
            self.member.join(30)
        for c in (self.producer, self.reader, self.member.c, self.meta):
            try:
                c.close()
            except KafkaError:
                pass


class ClusterFailover(unittest.TestCase):
    def test_acks_all_records_and_groups_outlive_rounds_of_leader_kill9(self):
        seed, rounds = fr.seed_and_rounds()
        ns = fr.nodes()
        self.assertEqual(len(ns), 3, ns)
        boot = ",".join(addr for addr, _ in ns.values())
        topic = "kp-failover-" + uuid.uuid4().hex[:8]
        fr.run_rounds(KafkaPython(boot, topic), topic, seed, rounds)


if __name__ == "__main__":
    unittest.main(verbosity=2)
