#!/usr/bin/python3
"""librdkafka 2.0.2 (Debian's python3-confluent-kafka 1.7.0) producing and
consuming with every Kafka compression codec against tandemd.

Run by compat/kafka/run.sh, which starts the broker and sets KAFKA_BOOTSTRAP
(and COMPAT_KAFKA_STATE, its state directory: when set, the tests also look
at the batches the broker stored, in its segment files).

Covers: for each of gzip, snappy, lz4 and zstd, 500 keyed records with a
header produced with compression.codec set come back from a consumer, every
key, value and header, in order: to a topic whose compression.type is that
codec (so the stored batches are in it, whatever the producer sent: the
consumer reads tandem's own gzip, snappy-java framing, LZ4 frames and zstd
frames) and to a compression.type=producer topic (stored as sent); a topic
created with compression.type=lz4 receiving snappy batches returns them
intact, stored as lz4; compression.type reads back from DescribeConfigs.

What librdkafka sends: it compresses gzip, snappy and lz4 only for a broker
whose Produce versions include v0 (lz4 also needs FindCoordinator v0), and
zstd only for one advertising Produce v7 and Fetch v10 (its msgset writer and
feature map).  tandem advertises Produce v0-9 and Fetch v4-13: librdkafka
2.0.2 produces with Produce v7 and compresses every codec itself, zstd
included (the compression.type=producer topic stores the batches as sent).
"""
import glob
import os
import struct
import time
import unittest
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewTopic

BOOT = os.environ.get("KAFKA_BOOTSTRAP", "127.0.0.1:9092")
STATE = os.environ.get("COMPAT_KAFKA_STATE")
N = 500
CODECS = {"none": 0, "gzip": 1, "snappy": 2, "lz4": 3, "zstd": 4}


def name(prefix):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:10])


def create(topic, configs=None):
    a = AdminClient({"bootstrap.servers": BOOT})
    fs = a.create_topics([NewTopic(topic, 1, 1, config=configs or {})], request_timeout=15)
    for f in fs.values():
        f.result(timeout=30)


def records(tag):
    """N keyed records whose values compress (and differ)."""
    return [(b"key-%d" % i, (b"%s-%d:" % (tag.encode(), i)) + b"abcdefgh" * (i % 40))
            for i in range(N)]


def produce(topic, codec, recs):
    errors = []
    p = Producer({"bootstrap.servers": BOOT, "compression.codec": codec,
                  "linger.ms": 20, "batch.num.messages": 200, "acks": "all"})
    for k, v in recs:
        p.produce(topic, key=k, value=v, partition=0, headers=[("codec", codec.encode())],
                  on_delivery=lambda err, msg: err and errors.append(err))
    left = p.flush(30)
    assert left == 0, "%d records not delivered" % left
    assert not errors, errors


def consume(topic, count, timeout=30):
    c = Consumer({"bootstrap.servers": BOOT, "group.id": name("g"),
                  "enable.auto.commit": False, "auto.offset.reset": "earliest"})
    c.assign([TopicPartition(topic, 0, 0)])
    out = []
    deadline = time.time() + timeout
    try:
        while len(out) < count and time.time() < deadline:
            m = c.poll(0.5)
            if m is None:
                continue
            if m.error():
                raise AssertionError("consume %s: %s" % (topic, m.error()))
            out.append(m)
    finally:
        c.close()
    return out


def stored_codecs(topic):
    """The codecs of the batches the broker stored for partition 0 of topic
    (attributes bits 0-2 of each RecordBatch v2 in its segment files), or
    None when the broker's data directory is unknown."""
    if not STATE:
        return None
    seen = set()
    for path in glob.glob(os.path.join(STATE, "data", "logs", "%s-0" % topic, "*.log")):
        with open(path, "rb") as f:
            b = f.read()
        pos = 0
        while pos + 61 <= len(b):
            length = struct.unpack(">i", b[pos + 8:pos + 12])[0]
            seen.add(struct.unpack(">h", b[pos + 21:pos + 23])[0] & 7)
            pos += 12 + length
    return seen


class RdkafkaCodecs(unittest.TestCase):
    def check_back(self, topic, recs, codec):
        got = consume(topic, len(recs))
        self.assertEqual(len(got), len(recs))
        for i, m in enumerate(got):
            self.assertEqual(m.offset(), i)
            self.assertEqual((m.key(), m.value()), recs[i], "record %d" % i)
            self.assertEqual(m.headers(), [("codec", codec.encode())])

    def check_stored(self, topic, allowed):
        codecs = stored_codecs(topic)
        if codecs is not None:
            self.assertTrue(codecs, "no batch stored for %s" % topic)
            self.assertLessEqual(codecs, set(allowed), "stored codecs of %s" % topic)

    def test_topic_codec_round_trip(self):
        """compression.type=<codec>: every stored batch is in it, and
        librdkafka reads tandem's compressed batches back."""
        for codec in ("gzip", "snappy", "lz4", "zstd"):
            with self.subTest(codec=codec):
                t = name("topic-" + codec)
                create(t, {"compression.type": codec})
                recs = records(codec)
                produce(t, codec, recs)
                self.check_stored(t, {CODECS[codec]})
                self.check_back(t, recs, codec)

    def test_producer_codec_round_trip(self):
        """compression.type=producer: the batches as librdkafka sent them."""
        for codec in ("gzip", "snappy", "lz4", "zstd"):
            with self.subTest(codec=codec):
                t = name("codec-" + codec)
                create(t)
                recs = records(codec)
                produce(t, codec, recs)
                self.check_stored(t, {0, CODECS[codec]})
                codecs = stored_codecs(t)
                if codecs is not None:
                    self.assertIn(CODECS[codec], codecs, "librdkafka compressed nothing")
                self.check_back(t, recs, codec)

    def test_lz4_topic_takes_snappy(self):
        t = name("lz4-topic")
        create(t, {"compression.type": "lz4"})
        recs = records("snappy-into-lz4")
        produce(t, "snappy", recs)
        self.check_stored(t, {CODECS["lz4"]})
        self.check_back(t, recs, "snappy")
        a = AdminClient({"bootstrap.servers": BOOT})
        res = ConfigResource(ConfigResource.Type.TOPIC, t)
        cfg = list(a.describe_configs([res]).values())[0].result(timeout=30)
        self.assertEqual(cfg["compression.type"].value, "lz4")

    def test_uncompressed_topic_takes_zstd(self):
        t = name("plain-topic")
        create(t, {"compression.type": "uncompressed"})
        recs = records("zstd-into-plain")
        produce(t, "zstd", recs)
        self.check_stored(t, {CODECS["none"]})
        self.check_back(t, recs, "zstd")


if __name__ == "__main__":
    unittest.main(verbosity=2)
