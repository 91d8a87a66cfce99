#!/usr/bin/env python3
"""Disk full: a data directory on a small tmpfs fills up under mixed load.

Publishers: vhost "/" persistent messages to a durable queue with confirms;
vhost "dev" persistent messages to a durable queue and transient messages to
a classic queue that pages to the journal (a small queue_memory_window), both
with confirms; a Kafka producer with acks=all.  The disk alarm is off
(disk_free_limit 0), so the writes themselves hit ENOSPC.  Then:
 - while the broker still runs, the paged transient queue is drained: every
   message is its own, in order, none from another queue or vhost;
 - kill -9, the tmpfs grows, tandemd restarts: every confirmed message and
   every acknowledged record is there, once, in order, each in its vhost.
A second run keeps the default disk alarm and checks that the Kafka producer
is refused before the disk is full (AMQP publishers are blocked).

Needs root (mount).  Usage: disk_full.py WORKDIR   (TANDEMD names the binary)"""
import os
import subprocess
import sys
import time

from faultlib import AmqpLedger, Broker, KafkaLedger, check_ledger, drain, kafka_read_all


def mount_tmpfs(path, size):
    os.makedirs(path, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%s" % size, "tmpfs", path], check=True)


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def fill_run(work):
    mnt = os.path.join(work, "full")
    mount_tmpfs(mnt, "40m")
    broker = None
    try:
        broker = Broker(os.path.join(mnt, "data"), os.path.join(work, "tandemd-full.log"),
                        extra=["--disk-free-limit", "0", "--vhosts", "dev",
                               "--queue-memory-window", "262144"])
        broker.start()
        pubs = [AmqpLedger(broker, "/", "full-root", "root", 4096),
                AmqpLedger(broker, "dev", "full-dev", "dev", 4096),
                AmqpLedger(broker, "dev", "paged-dev", "paged", 2048, durable=False, persistent=False)]
        for p in pubs:
            p.declare()
        kafka = KafkaLedger(broker, "full-k", 16384)
        kafka.create()
        for t in pubs + [kafka]:
            t.start()
        deadline = time.time() + 90
        while time.time() < deadline:
            time.sleep(0.5)
            full = free_bytes(mnt) < 64 * 1024
            refused = sum(p.nacked for p in pubs[:2]) + kafka.failed
            if full and refused > 50:
                break
        time.sleep(1.0)  # publishing on a full disk for a while
        for t in pubs + [kafka]:
            t.stop_flag.set()
        for t in pubs + [kafka]:
            t.join(30)
        print("disk full after the load: %d bytes free; nacks %s, kafka errors %d"
              % (free_bytes(mnt), [p.nacked for p in pubs], kafka.failed))
        assert free_bytes(mnt) < 256 * 1024, "the disk never filled up: the test proved nothing"
        assert sum(p.nacked for p in pubs[:2]) > 0, "no publish was refused on a full disk"
        # paged transient messages, read back while the disk is still full
        check_ledger("dev paged (live)", pubs[2].acked, drain(broker, "dev", "paged-dev", "paged"))
        broker.kill9()
        subprocess.run(["mount", "-o", "remount,size=512m", mnt], check=True)
        broker.start()
        check_ledger("/ durable", pubs[0].acked, drain(broker, "/", "full-root", "root"))
        check_ledger("dev durable", pubs[1].acked, drain(broker, "dev", "full-dev", "dev"))
        check_ledger("kafka acks=all", kafka.acked, kafka_read_all(broker, "full-k"))
        broker.stop()
    finally:
        if broker:
            broker.kill9()  # whatever failed, nothing is left running
        subprocess.run(["umount", "-l", mnt])


def alarm_run(work):
    """Default disk alarm (50MB): a Kafka producer is refused before the disk fills."""
    mnt = os.path.join(work, "alarm")
    mount_tmpfs(mnt, "96m")
    broker = None
    try:
        broker = Broker(os.path.join(mnt, "data"), os.path.join(work, "tandemd-alarm.log"))
        broker.start()
        kafka = KafkaLedger(broker, "alarm-k", 65536)
        kafka.create()
        kafka.start()
        deadline = time.time() + 60
        while time.time() < deadline and kafka.failed < 20:
            time.sleep(0.5)
        kafka.stop_flag.set()
        kafka.join(30)
        left = free_bytes(mnt)
        print("disk alarm: kafka stopped at %d bytes free, %d produce refused" % (left, kafka.failed))
        assert kafka.failed >= 20, "the disk alarm never refused Kafka produce"
        assert left > 30 * 1024 * 1024, "Kafka produce filled the disk past the alarm"
        broker.stop()
    finally:
        if broker:
            broker.kill9()  # whatever failed, nothing is left running
        subprocess.run(["umount", "-l", mnt])


def main():
    if os.geteuid() != 0:
        print("FAIL: disk_full.py needs root to mount a tmpfs")
        sys.exit(1)
    work = sys.argv[1]
    fill_run(work)
    alarm_run(work)
    print("disk full: PASS")


if __name__ == "__main__":
    main()
