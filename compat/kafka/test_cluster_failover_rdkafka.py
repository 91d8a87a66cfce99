#!/usr/bin/python3
"""librdkafka 2.0.2 (Debian's python3-confluent-kafka 1.7.0) through rounds of
a leader's kill -9.

Run by compat/kafka/run.sh in a 3-node cluster of its own (scripts/cluster.sh
up 3, its state directory in TANDEM_CLUSTER_DIR).  A topic with replication
factor 3 and min.insync.replicas=2; a producer with acks=all, no idempotence
and one request in flight (so that the order of what it acknowledges is a
promise to test), whose delivery reports give each record's offset; a
consumer assigned to the partition from offset 0 and a consumer group member
(subscribe, asynchronous commits), all three living through every round.
compat/kafka/failover_rounds.py runs the rounds (the leader killed with
SIGKILL at a random moment, started again after a random while; the seed is
printed, FAILOVER_SEED replays it) and checks every acknowledged record at
its offset, once, in order, and the group reading and committing to the end.
"""
import collections
import logging
import sys
import time
import unittest
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
import failover_rounds as fr  # noqa: E402


class ClientLog(logging.Handler):
    """librdkafka's log lines and error callbacks, the last ones kept to be
    shown when the test fails (during a kill they are many and expected)."""

    def __init__(self):
        super().__init__()
        self.lines = collections.deque(maxlen=200)

    def emit(self, record):
        self.lines.append("%.2f %s" % (record.created, record.getMessage()))

    def error_cb(self, err):
        self.lines.append("%.2f error_cb %s" % (time.time(), err))


class Rdkafka:
    def __init__(self, boot, topic, clog):
        self.topic = topic
        self.tp = TopicPartition(topic, 0)
        logger = logging.getLogger("rdkafka-" + topic)
        logger.propagate = False
        logger.addHandler(clog)
        logger.setLevel(logging.DEBUG)
        # Metadata every second: while a dead leader's session lasts, Metadata
        # still names it, and librdkafka would otherwise only ask again when
        # some request fails
        common = {"bootstrap.servers": boot, "logger": logger, "error_cb": clog.error_cb,
                  "reconnect.backoff.ms": 100, "reconnect.backoff.max.ms": 1000,
                  "socket.connection.setup.timeout.ms": 5000,
                  "topic.metadata.refresh.interval.ms": 1000}
        self.admin = AdminClient(dict(common))
        self.producer = Producer(dict(common, **{
            "acks": "all", "enable.idempotence": False,
            "max.in.flight.requests.per.connection": 1, "linger.ms": 5,
            "message.send.max.retries": 1000000, "retry.backoff.ms": 100,
            "request.timeout.ms": 10000, "message.timeout.ms": 60000}))
        # "error": an offset out of range is reported, not silently reset
        self.reader = Consumer(dict(common, **{
            "group.id": "rdk-reader-" + topic, "enable.auto.commit": False,
            "auto.offset.reset": "error", "fetch.wait.max.ms": 100}))
        # subscribed before the topic exists: sees it at the next Metadata
        self.member = Consumer(dict(common, **{
            "group.id": "rdk-group-" + topic, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "fetch.wait.max.ms": 100,
            "on_commit": self._on_commit}))
        self.member.subscribe([topic], on_assign=lambda c, parts: self.run.assigned())

    def create_topic(self, replicas):
        fs = self.admin.create_topics([NewTopic(self.topic, 1, replica_assignment=[replicas],
                                                config={"min.insync.replicas": "2"})])
        fs[self.topic].result(30)

    def assign_reader(self):
        self.reader.assign([TopicPartition(self.topic, 0, 0)])

    def _on_commit(self, err, partitions):
        for tp in partitions:
            if tp.topic == self.topic:
                self.run.committed(tp.offset, err or tp.error)

    def produce(self, i, value):
        def report(err, msg):
            self.run.delivered(i, msg.offset() if err is None else None, err)
        self.producer.produce(self.topic, value=value, partition=0, on_delivery=report)

    def poll_producer(self):
        self.producer.poll(0)

    def flush(self, timeout_s):
        self.producer.flush(timeout_s)

    def consume(self):
        return [(m.offset(), m.value(), m.error()) for m in self.reader.consume(500, 0.02)]

    def group_consume(self):
        # on_assign and on_commit run from consume(), in the order of events
        res = []
        for m in self.member.consume(500, 0.02):
            if m.error() is None:
                res.append(("record", m.offset(), m.value()))
            elif m.error().code() != KafkaError.UNKNOWN_TOPIC_OR_PART:  # before the topic
                res.append(("error", str(m.error())))
        return res

    def group_commit(self, offset):
        self.member.commit(offsets=[TopicPartition(self.topic, 0, offset)], asynchronous=True)

    def _retry(self, fn):
        end = time.time() + 30
        while True:
            try:
                return fn()
            except KafkaException:
                if time.time() > end:
                    raise
                time.sleep(0.2)

    def group_committed(self):
        return self._retry(lambda: self.member.committed([self.tp], timeout=5)[0].offset)

    def high_watermark(self):
        return self._retry(lambda: self.reader.get_watermark_offsets(self.tp, timeout=5,
                                                                     cached=False)[1])

    def partition(self, topic):
        try:
            md = self.admin.list_topics(topic=topic, timeout=2)
        except KafkaException:
            return None
        t = md.topics.get(topic)
        if t is None or t.error is not None or 0 not in t.partitions:
            return None
        p = t.partitions[0]
        return p.leader, list(p.replicas), list(p.isrs)

    def close(self):
        self.producer.flush(5)
        for c in (self.reader, self.member):
            try:
                c.close()
            except (KafkaException, RuntimeError):
                pass


class ClusterFailoverRdkafka(unittest.TestCase):
    def test_acks_all_records_and_groups_outlive_rounds_of_leader_kill9(self):
        seed, rounds = fr.seed_and_rounds()
        ns = fr.nodes()
        self.assertEqual(len(ns), 3, ns)
        boot = ",".join(addr for addr, _ in ns.values())
        topic = "rdk-failover-" + uuid.uuid4().hex[:8]
        clog = ClientLog()
        client = Rdkafka(boot, topic, clog)
        try:
            fr.run_rounds(client, topic, seed, rounds)
        except BaseException:
            fr.log("librdkafka's last log lines:\n" + "\n".join(clog.lines))
            raise


if __name__ == "__main__":
    unittest.main(verbosity=2)
