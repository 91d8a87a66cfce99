#!/usr/bin/python3
"""kafka-python 2.0.2 (Debian's python3-kafka) through a leader's failover.

Run by compat/kafka/run.sh: it starts a 3-node cluster with
scripts/cluster.sh (a private ZooKeeper, three tandemd on loopback) and
passes its state directory in TANDEM_CLUSTER_DIR.  The test creates a
topic with replication factor 3 and min.insync.replicas=2, produces with
acks=all, kills the partition's leader with SIGKILL half way, goes on
producing with the same producer (no restart: the client finds the new
leader by itself), then checks that every acknowledged record is at the
offset it was acknowledged at, in order, read by a consumer that also
outlived the failover.
"""
import os
import signal
import subprocess
import time
import unittest
import uuid

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
CLUSTER = os.path.join(TOP, "scripts", "cluster.sh")


def status():
    """The nodes scripts/cluster.sh reports: id -> (kafka address, pid)."""
    out = subprocess.run([CLUSTER, "status"], capture_output=True, text=True, check=True).stdout
    nodes = {}
    for line in out.splitlines():
        if not line.startswith("node="):
            continue
        kv = dict(f.split("=", 1) for f in line.split())
        nodes[int(kv["node"])] = (kv["kafka"], int(kv["pid"]))
    return nodes


def leader_of(admin_boot, topic, deadline_s=30):
    """The leader id of partition 0 once it has 3 in-sync replicas."""
    end = time.time() + deadline_s
    while time.time() < end:
        c = KafkaConsumer(bootstrap_servers=admin_boot)
        try:
            c.topics()  # refreshes metadata
            parts = c._client.cluster._partitions.get(topic, {})
            meta = parts.get(0)
            if meta is not None and meta.leader >= 0 and len(meta.isr) == 3:
                return meta.leader
        finally:
            c.close()
        time.sleep(0.2)
    raise AssertionError("no leader with 3 in-sync replicas for %s" % topic)


class ClusterFailover(unittest.TestCase):
    def test_acks_all_producer_and_consumer_outlive_a_leader_kill9(self):
        nodes = status()
        self.assertEqual(len(nodes), 3, nodes)
        boot = ",".join(addr for addr, _ in nodes.values())
        topic = "kp-failover-" + uuid.uuid4().hex[:8]
        admin = KafkaAdminClient(bootstrap_servers=boot)
        admin.create_topics([NewTopic(topic, 1, 3, topic_configs={"min.insync.replicas": "2"})])
        admin.close()
        leader = leader_of(boot, topic)

        consumer = KafkaConsumer(bootstrap_servers=boot, auto_offset_reset="earliest",
                                 enable_auto_commit=False, consumer_timeout_ms=1000)
        consumer.assign([TopicPartition(topic, 0)])
        producer = KafkaProducer(bootstrap_servers=boot, acks="all", retries=1000,
                                 retry_backoff_ms=200, max_in_flight_requests_per_connection=1,
                                 request_timeout_ms=10000, linger_ms=5)
        n = 600
        acked = {}
        futures = []
        for i in range(n):
            futures.append((i, producer.send(topic, value=b"rec-%06d" % i, partition=0)))
            if i == n // 2:
                producer.flush(60)
                os.kill(nodes[leader][1], signal.SIGKILL)
        producer.flush(120)
        for i, f in futures:
            md = f.get(timeout=60)  # raises if not acknowledged
            acked[i] = md.offset
        producer.close()

        seen = {}
        end = time.time() + 60
        while len(seen) < n and time.time() < end:
            for m in consumer:
                seen[m.offset] = m.value
        consumer.close()
        last = -1
        for i in range(n):
            off = acked[i]
            self.assertEqual(seen.get(off), b"rec-%06d" % i, "record %d acknowledged at %d" % (i, off))
            self.assertGreater(off, last, "record %d acknowledged out of order" % i)
            last = off


if __name__ == "__main__":
    unittest.main(verbosity=2)
