#!/usr/bin/env python3
"""Power cut: writes that were not fsynced are lost, and nothing the broker
confirmed may be among them.

tandemd runs with TANDEM_FSYNC_LEDGER, so logstore notes, for every fsync
round that succeeded, how many bytes of each segment file it covered.  While
an AMQP publisher (persistent messages to a durable queue, with confirms)
and a Kafka producer (acks=all) run, the broker is killed with SIGKILL; then
every segment file is cut back to the length its last successful fsync
covered (to nothing if it never had one), as a power cut would leave it.
After a restart, every confirmed message and every acknowledged record must
be there, once, in order.

Usage: power_cut.py WORKDIR [ROUNDS]   (TANDEMD names the binary)"""
import os
import random
import sys
import time

from faultlib import AmqpLedger, Broker, KafkaLedger, check_ledger, drain, kafka_read_all


def cut_to_ledger(data_dir, ledger):
    synced = {}
    if os.path.exists(ledger):
        with open(ledger) as f:
            for line in f:
                # The kill can tear the last record: the kernel stops a
                # write() at a page boundary once SIGKILL is pending.  The
                # round it notes was never confirmed (the broker notes an
                # fsync before it confirms what the fsync covered), so a
                # torn record is dropped, as if the fsync had not finished.
                if not line.endswith("\n"):
                    break
                path, size = line.rsplit(" ", 1)
                synced[path] = max(synced.get(path, 0), int(size))
    cut = 0
    for root, _, files in os.walk(data_dir):
        for name in files:
            if not name.endswith(".log"):
                continue
            path = os.path.realpath(os.path.join(root, name))
            keep = synced.get(path, 0)
            size = os.path.getsize(path)
            if size > keep:
                os.truncate(path, keep)
                cut += size - keep
    return cut


def one_round(work, seed):
    rnd = random.Random(seed)
    data = os.path.join(work, "data-%d" % seed)
    ledger = os.path.join(work, "ledger-%d" % seed)
    broker = Broker(data, os.path.join(work, "tandemd-%d.log" % seed),
                    env={"TANDEM_FSYNC_LEDGER": ledger})
    try:
        broker.start()
        amqp = AmqpLedger(broker, "/", "power", "p", 512)
        amqp.declare()
        kafka = KafkaLedger(broker, "power-k", 512)
        kafka.create()
        amqp.start()
        kafka.start()
        run_s = rnd.uniform(2.0, 5.0)
        time.sleep(run_s)
        broker.kill9()
        amqp.stop_flag.set()
        kafka.stop_flag.set()
        amqp.join(15)
        kafka.join(15)
        cut = cut_to_ledger(data, ledger)
        print("round %d: killed after %.1f s; %d bytes were never fsynced and are gone"
              % (seed, run_s, cut))
        broker.env = {}
        broker.start()
        check_ledger("amqp durable queue", amqp.acked, drain(broker, "/", "power", "p"))
        check_ledger("kafka acks=all", kafka.acked, kafka_read_all(broker, "power-k"))
        assert amqp.acked and kafka.acked, "nothing was confirmed: the test proved nothing"
        broker.stop()
    finally:
        broker.kill9()  # whatever failed, nothing is left running


def main():
    work = sys.argv[1]
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    for seed in range(1, rounds + 1):
        one_round(work, seed)
    print("power cut: PASS")


if __name__ == "__main__":
    main()
