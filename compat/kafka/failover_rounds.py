"""Rounds of leader kill -9 under an acks=all producer, for any Kafka client.

Shared by compat/kafka/test_cluster_failover.py (kafka-python) and
test_cluster_failover_rdkafka.py (librdkafka through confluent-kafka), run
by compat/kafka/run.sh in a 3-node cluster of their own (scripts/cluster.sh
up 3, its state directory in TANDEM_CLUSTER_DIR).

A client is an adapter (see Adapter below): an acks=all producer with one
request in flight and no idempotence, a consumer assigned to partition 0
from offset 0, and a consumer group member (subscribe, asynchronous
commits).  run_rounds() first lets the group member find its coordinator (the
leader of __consumer_offsets-0), then creates the topic with one partition,
replication factor 3 and min.insync.replicas=2 whose first replica, so its
first leader, is the coordinator; then it keeps all three clients busy while,
ROUNDS times (env FAILOVER_ROUNDS, default 4):

  1. it waits (bounded) until the partition (the client's Metadata) and
     __consumer_offsets-0 (the management API: Metadata hides internal
     topics) have a leader and every replica in sync, also in the view of
     each leader's own management API (so that the one killed leads),
  2. produces for a random while, kills the partition's leader with SIGKILL
     (scripts/cluster.sh kill ID; in round 1 it is the group coordinator too,
     later it may be),
  3. keeps producing, then starts the node again on its data directory
     (scripts/cluster.sh start ID): in half of the rounds (a random half)
     after a random while before its ZooKeeper session expires (the others
     never saw it gone: it leads again), in the other half once a record
     sent after the kill has been acknowledged by the leader elected
     meanwhile, and a random while later.

The random moments come from a seed printed first (env FAILOVER_SEED replays
its choices; the cluster's own timing varies).  Afterwards check() proves
what Kafka promises for acks=all:

  - every record the producer had acknowledged is at the offset it was
    acknowledged at, and no record was acknowledged twice;
  - acknowledged offsets grow in the order the records were sent;
  - the log is the offsets 0..high watermark-1 without a gap, each read once
    by the consumer that lived through every round, in order; every record
    in it is one that was sent, and a second copy of an acknowledged record
    (a retry of a send whose answer the kill lost: the producer is not
    idempotent) only ever comes before the acknowledged one;
  - every record sent was acknowledged in the end (the producer carried on);
  - the group member read to the end, and the group's committed offset is
    the high watermark; after a new assignment it never went back behind a
    commit that had been answered without an error before (commits survive
    the coordinator's death).
"""
import base64
import json
import os
import random
import subprocess
import sys
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
CLUSTER = os.path.join(TOP, "scripts", "cluster.sh")
OFFSETS_TOPIC = "__consumer_offsets"

WINDOW = 200          # records sent but not yet answered, at most
PRODUCE_S = (0.3, 2.5)  # produce this long (random) before the kill
FULL_ISR_S = 60       # bound on waiting for every replica in sync
END_S = 60            # bound on the producer's flush and the consumers' catch-up


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def cluster_sh(*args, timeout=90):
    return subprocess.run([CLUSTER] + [str(a) for a in args], capture_output=True, text=True,
                          check=True, timeout=timeout).stdout


def nodes(with_http=False):
    """The nodes scripts/cluster.sh reports running: id -> (kafka address, pid)
    (with_http: id -> (kafka address, pid, http address))."""
    res = {}
    for line in cluster_sh("status").splitlines():
        if line.startswith("node="):
            kv = dict(f.split("=", 1) for f in line.split())
            res[int(kv["node"])] = (kv["kafka"], int(kv["pid"])) + (
                (kv["http"],) if with_http else ())
    return res


def api_partition(topic, node=None):
    """(leader, replicas, isr) of topic's partition 0 from the management API
    of node (an id), or of the first running node that answers; None when
    none tells.  Metadata does not show internal topics (the group offsets
    log, whose leader is the group coordinator), and a node's own view is
    the proof that it leads."""
    auth = "Basic " + base64.b64encode(b"guest:guest").decode()
    for nid, (_, _, http) in sorted(nodes(with_http=True).items()):
        if node is not None and nid != node:
            continue
        req = urllib.request.Request("http://%s/api/cluster" % http,
                                     headers={"Authorization": auth})
        try:
            with urllib.request.urlopen(req, timeout=2) as r:
                body = json.load(r)
        except (OSError, ValueError):
            continue
        for p in body.get("partitions", []):
            if p.get("topic") == topic and p.get("partition") == 0:
                return p["leader"], p["replicas"], p["isr"]
    return None


def full(state, leader=None):
    """state (leader, replicas, isr) has a leader (leader, if given) and
    every replica in sync."""
    return (state is not None and isinstance(state[0], int) and state[0] >= 0 and
            (leader is None or state[0] == leader) and
            sorted(state[2]) == sorted(state[1]))


def session_timeout_s():
    """The nodes' ZooKeeper session timeout: --zookeeper-session-timeout-ms
    in TANDEM_CLUSTER_ARGS, else tandemd's default (18 s)."""
    args = os.environ.get("TANDEM_CLUSTER_ARGS", "").split()
    for i, a in enumerate(args):
        if a == "--zookeeper-session-timeout-ms" and i + 1 < len(args):
            return int(args[i + 1]) / 1000.0
        if a.startswith("--zookeeper-session-timeout-ms="):
            return int(a.split("=", 1)[1]) / 1000.0
    return 18.0


def seed_and_rounds():
    seed = os.environ.get("FAILOVER_SEED")
    seed = int(seed) if seed else random.SystemRandom().randrange(1 << 31)
    rounds = int(os.environ.get("FAILOVER_ROUNDS", "4"))
    log("failover seed %d, %d rounds (FAILOVER_SEED=%d replays the same random choices)"
        % (seed, rounds, seed))
    return seed, rounds


def value_of(i):
    return b"rec-%07d" % i


def index_of(value):
    if not isinstance(value, bytes) or not value.startswith(b"rec-"):
        return None
    try:
        return int(value[4:])
    except ValueError:
        return None


class Adapter:
    """What a client provides (one topic, partition 0); every call returns
    quickly (at most a few tens of ms) unless it says otherwise.

    create_topic(replicas)  create the topic: one partition on these
                        replicas (the first one its first leader),
                        min.insync.replicas=2 (blocks, bounded)
    assign_reader()     assign partition 0 from offset 0 to the reader
    produce(i, value)   send one record; later report it with
                        run.delivered(i, offset, error) (error None when
                        acknowledged), from poll_producer() or flush()
    poll_producer()     serve the producer's delivery reports
    flush(timeout_s)    wait (bounded) for every record's report
    consume()           [(offset, value, error)] from the assigned consumer
    group_consume()     what the group member did, in order: ("record",
                        offset, value), ("assigned",) when it got an
                        assignment (before it fetched its committed offset),
                        ("commit", offset, error) when a commit was answered,
                        ("error", text); or a client whose callbacks come
                        in order calls run.assigned() / run.committed() from
                        them
    group_commit(off)   commit offset `off` (the next to read) asynchronously;
                        report with run.committed(off, error)
    group_committed()   the group's committed offset, fetched from the broker
    partition(topic)    (leader, replicas, isr) of the topic's partition 0
                        from a Metadata request, None when it failed
    high_watermark()    partition 0's latest offset (ListOffsets)
    close()
    """


class Run:
    def __init__(self, adapter, topic, rng, rounds):
        self.a = adapter
        adapter.run = self
        self.topic = topic
        self.rng = rng
        self.rounds = rounds
        self.sent = 0              # records produce()d: indexes 0..sent-1
        self.acked = {}            # index -> offset
        self.failed = {}           # index -> error
        self.answers = {}          # index -> number of delivery reports
        self.producing = False     # until the topic is made
        self.max_acked = -1        # highest index acknowledged
        self.log_ = {}             # offset -> value, from the assigned consumer
        self.next_read = 0         # the assigned consumer's next offset
        self.errors = []           # consumer errors, with their time
        self.group = {}            # offset -> value, from the group member
        self.group_pos = None      # the group member's next offset
        self.rewinds = []          # (from, to, floor)
        self.commit_ok = 0         # highest commit answered without error
        self.floor = 0             # commit_ok when the member last got its assignment
        self.assignments = 0
        self.commit_wait = None    # offset of the commit awaiting its answer
        self.commit_at = 0.0
        self.commit_errors = []
        self.report = []           # one line per round
        self.slow = []             # (at, client call, seconds) that took over 1 s
        self.t0 = time.time()

    # ---- callbacks from the adapter -------------------------------------

    def delivered(self, i, offset, error):
        self.answers[i] = self.answers.get(i, 0) + 1
        if error is None:
            self.acked[i] = offset
            self.max_acked = max(self.max_acked, i)
        else:
            self.failed[i] = error

    def assigned(self):
        """The group member got an assignment: it fetches the committed offset
        after this, so that offset can be no less than any commit answered
        before (an OffsetFetch can overtake a commit still in flight)."""
        self.assignments += 1
        self.floor = self.commit_ok

    def committed(self, offset, error):
        if error is None:
            self.commit_ok = max(self.commit_ok, offset)
        else:
            self.commit_errors.append((round(time.time() - self.t0, 2), offset,
                                       str(error).split("\n")[0].strip()))
        if self.commit_wait == offset:
            self.commit_wait = None

    # ---- the loop ------------------------------------------------------

    def _timed(self, what, fn, *args):
        t = time.time()
        res = fn(*args)
        if time.time() - t > 1:  # a client call that blocked: shown at the end
            self.slow.append((round(t - self.t0, 1), what, round(time.time() - t, 1)))
        return res

    def pump(self):
        a = self.a
        while self.producing and self.sent - len(self.answers) < WINDOW:
            self._timed("produce", a.produce, self.sent, value_of(self.sent))
            self.sent += 1
        self._timed("producer poll", a.poll_producer)
        for off, val, err in self._timed("reader", a.consume):
            if err is not None:
                self.errors.append((round(time.time() - self.t0, 2), str(err)))
                continue
            assert off == self.next_read, (
                "the assigned consumer read offset %d after %d (expected %d): a record read "
                "twice or skipped" % (off, self.next_read - 1, self.next_read))
            self.log_[off] = val
            self.next_read = off + 1
        for ev in self._timed("group member", a.group_consume):
            if ev[0] == "assigned":
                self.assigned()
                continue
            if ev[0] == "commit":
                self.committed(ev[1], ev[2])
                continue
            if ev[0] == "error":
                self.errors.append((round(time.time() - self.t0, 2), "group member: %s" % ev[1]))
                continue
            _, off, val = ev
            if self.group_pos is not None and off != self.group_pos:
                self.rewinds.append((self.group_pos, off, self.floor))
            self.group[off] = val
            self.group_pos = off + 1
        now = time.time()
        if (self.group_pos is not None and self.group_pos > self.commit_ok and
                (self.commit_wait is None or now - self.commit_at > 10) and
                now - self.commit_at > 0.2):
            self.commit_wait = self.group_pos
            self.commit_at = now
            self._timed("commit", a.group_commit, self.group_pos)

    def pump_for(self, seconds):
        end = time.time() + seconds
        while time.time() < end:
            self.pump()

    def wait_full(self, what):
        """Pumps until the partition and the offsets topic have a leader and
        all replicas in sync, in the client's Metadata for the partition and
        in each leader's own management API; returns (leader, coordinator)."""
        end = time.time() + FULL_ISR_S
        last = None
        while time.time() < end:
            p = self.a.partition(self.topic)
            c = api_partition(OFFSETS_TOPIC)
            last = (p, c)
            if full(p) and len(p[1]) == 3 and full(c):
                lp = api_partition(self.topic, p[0])
                lc = api_partition(OFFSETS_TOPIC, c[0])
                last = (p, c, lp, lc)
                if full(lp, p[0]) and full(lc, c[0]):
                    return p[0], c[0]
            self.pump_for(0.2)
        raise AssertionError("%s: no leader with every replica in sync within %d s (partition "
                             "from Metadata, offsets topic, [their leaders' own views]: "
                             "(leader, replicas, isr)) = %r" % (what, FULL_ISR_S, last))

    def wait_coordinator(self):
        """Pumps (the group member looks its coordinator up) until
        __consumer_offsets-0 has a leader and every replica in sync;
        returns the coordinator's id."""
        end = time.time() + FULL_ISR_S
        c = None
        while time.time() < end:
            c = api_partition(OFFSETS_TOPIC)
            if full(c) and full(api_partition(OFFSETS_TOPIC, c[0]), c[0]):
                return c[0]
            self.pump_for(0.2)
        raise AssertionError("no group coordinator with every replica in sync within %d s: %r"
                             % (FULL_ISR_S, c))

    def run(self):
        # the group member first: its FindCoordinator makes __consumer_offsets;
        # the topic's first replica (its first leader) is the coordinator, so
        # round 1 kills both
        coord = self.wait_coordinator()
        others = sorted(set(nodes()) - {coord})
        self.a.create_topic([coord] + others)
        self.a.assign_reader()
        self.producing = True
        timeout_s = session_timeout_s()
        kinds = ["before", "after"] * ((self.rounds + 1) // 2)
        self.rng.shuffle(kinds)
        for r, kind in enumerate(kinds[:self.rounds], 1):
            t = time.time()
            leader, coord = self.wait_full("before round %d" % r)
            ready = time.time() - t
            self.pump_for(self.rng.uniform(*PRODUCE_S))
            sent_at_kill = self.sent
            t_kill = time.time()
            cluster_sh("kill", leader)
            # back before its ZooKeeper session expired (the others never saw
            # it gone: it leads again), or once the client has had a record
            # acknowledged by the leader elected meanwhile, and a while later
            if kind == "before":
                self.pump_for(self.rng.uniform(0.1, 0.4 * timeout_s))
            else:
                end = time.time() + timeout_s + FULL_ISR_S
                while self.max_acked < sent_at_kill and time.time() < end:
                    self.pump()
                assert self.max_acked >= sent_at_kill, (
                    "round %d: no record sent after the kill of node %d was acknowledged "
                    "within %.0f s while it was down" % (r, leader, timeout_s + FULL_ISR_S))
                t_new = time.time()
                self.pump_for(self.rng.uniform(0, 2))
            t_start = time.time()
            line = cluster_sh("start", leader).strip()
            t_up = time.time()
            # the producer carries on: a record sent after the kill is acknowledged
            end = time.time() + FULL_ISR_S
            while self.max_acked < sent_at_kill and time.time() < end:
                self.pump()
            ok = self.max_acked >= sent_at_kill
            if kind == "before":
                how = ("started again %.1f s later (listening %.1f s after the kill), before its "
                       "session (%.0f s) expired; a record sent after the kill acknowledged %s" % (
                           t_start - t_kill, t_up - t_kill, timeout_s,
                           "%.1f s after the kill" % (time.time() - t_kill) if ok else "NEVER"))
            else:
                how = ("a record sent after the kill acknowledged by a new leader %.1f s "
                       "later; started again %.1f s after the kill" % (
                           t_new - t_kill, t_start - t_kill))
            self.report.append(
                "round %d at %.1f s: ISR full after %.1f s; killed node %d (leader%s) after "
                "%d records; %s (%s)" % (
                    r, t_kill - self.t0, ready, leader,
                    ", and group coordinator" if coord == leader else "; coordinator %d" % coord,
                    sent_at_kill, how, line.split(" pid=")[1].split()[0]))
            log(self.report[-1])
            assert ok, "round %d: no record sent after the kill was acknowledged within %d s" % (
                r, FULL_ISR_S)
        self.wait_full("after the last round")
        self.pump_for(0.5)
        self.producing = False
        end = time.time() + END_S
        while len(self.answers) < self.sent and time.time() < end:
            self.a.flush(1)
            self.pump()
        hw = self.a.high_watermark()
        while ((self.next_read < hw or self.group_pos != hw or self.commit_ok != hw) and
               time.time() < end):
            self.pump()
        self.hw = hw
        self.final_commit = self.a.group_committed()
        log("%d records sent, %d acknowledged, %d failed; high watermark %d; the group read "
            "to %s and committed %s, %d assignments; %.1f s in all" % (
                self.sent, len(self.acked), len(self.failed), hw, self.group_pos,
                self.final_commit, self.assignments, time.time() - self.t0))

    # ---- the proof -----------------------------------------------------

    def check(self):
        log_, hw = self.log_, self.hw
        if self.slow:
            log("client calls that blocked over 1 s (at, call, seconds): %r" % self.slow[:20])
        if self.errors:
            log("consumer errors (time, error): %r" % self.errors[:20])
        if self.commit_errors:
            log("commit errors (time, offset, error): %r" % self.commit_errors[:20])
        if self.rewinds:
            log("group member went back (from, to, commit answered before its assignment): %r"
                % self.rewinds)
        twice = sorted(i for i, n in self.answers.items() if n > 1)
        assert not twice, "records with more than one delivery report: %r" % twice[:20]
        assert not self.failed, "records not acknowledged (index: error): %r" % (
            dict(list(self.failed.items())[:20]),)
        assert len(self.answers) == self.sent, "%d of %d records never answered" % (
            self.sent - len(self.answers), self.sent)
        resets = [e for e in self.errors if "OFFSET_OUT_OF_RANGE" in e[1].upper() or
                  "OUT OF RANGE" in e[1].upper() or "OFFSETOUTOFRANGE" in e[1].upper()]
        assert not resets, "the assigned consumer was told its offset is out of range: %r" % resets
        assert self.next_read == hw and sorted(log_) == list(range(hw)), (
            "the assigned consumer read %d records up to %d, the high watermark is %d"
            % (len(log_), self.next_read, hw))
        last = -1
        for i in range(self.sent):
            off = self.acked[i]
            got = log_.get(off)
            assert got == value_of(i), (
                "record %d acknowledged at offset %d, which holds %r" % (i, off, got))
            assert off > last, "record %d acknowledged at %d, after record %d at %d" % (
                i, off, i - 1, last)
            last = off
        copies = 0
        for off, val in log_.items():
            i = index_of(val)
            assert i is not None and i < self.sent, "offset %d holds %r, never sent" % (off, val)
            if self.acked[i] != off:
                assert off < self.acked[i], (
                    "record %d acknowledged at %d is again at %d, after it"
                    % (i, self.acked[i], off))
                copies += 1
        log("log checked: %d records, %d of them earlier copies of a record acknowledged later "
            "(sends retried when the kill lost their answer)" % (hw, copies))
        for off, val in self.group.items():
            assert log_.get(off) == val, "the group member read %r at %d, the log has %r" % (
                val, off, log_.get(off))
        for frm, to, floor in self.rewinds:
            assert to < frm, "the group member skipped from %d to %d" % (frm, to)
            assert to >= floor, (
                "the group member went back from %d to %d after an assignment, behind the "
                "commit of %d answered without an error before it" % (frm, to, floor))
        assert self.group_pos == hw, "the group member read to %s, not to %d" % (self.group_pos, hw)
        assert self.final_commit == hw, "the group's committed offset is %s, not %d" % (
            self.final_commit, hw)


def run_rounds(adapter, topic, seed, rounds):
    run = Run(adapter, topic, random.Random(seed), rounds)
    try:
        run.run()
        run.check()
    except BaseException:
        log("FAILED with FAILOVER_SEED=%d" % seed)
        raise
    finally:
        adapter.close()
    return run
