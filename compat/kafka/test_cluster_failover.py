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
import sys
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


class Assigned(ConsumerRebalanceListener):
    def __init__(self, client):
        self.client = client

    def on_partitions_revoked(self, revoked):
        pass

    def on_partitions_assigned(self, assigned):
        self.client.run.assigned()


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
        self.member = KafkaConsumer(group_id="kp-group-" + topic, enable_auto_commit=False,
                                    auto_offset_reset="earliest", fetch_max_wait_ms=100,
                                    session_timeout_ms=10000, heartbeat_interval_ms=1000,
                                    **common)
        self.member.subscribe([topic], listener=Assigned(self))
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
        try:
            recs = self.member.poll(timeout_ms=20, max_records=500)
        except KafkaError as e:
            self.run.errors.append((round(time.time() - self.run.t0, 2),
                                    "group member: %r" % e))
            return []
        return [(m.offset, m.value) for ms in recs.values() for m in ms]

    def group_commit(self, offset):
        def done(offsets, res):
            self.run.committed(offset, res if isinstance(res, Exception) else None)
        self.member.commit_async({self.tp: OffsetAndMetadata(offset, None)}, callback=done)

    def group_committed(self):
        return self.member.committed(self.tp)

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
        for c in (self.producer, self.reader, self.member, self.meta):
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
