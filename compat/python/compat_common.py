"""Shared helpers for the Python compat suites (pika, kombu, py-amqp).

What this is for: the broker address (from the environment compat/run sets),
unique resource names, bounded polling, a typed AMQP field-table decoder (to
check the wire types RabbitMQ writes, which client libraries flatten), and a
unittest runner that prints one PASS/FAIL line per test for compat/run.
Depends on the Python standard library only; each suite imports its client.

Environment (set by compat/run):
  COMPAT_HOST, COMPAT_PORT   the broker's AMQP listener (default 127.0.0.1:5672)
  COMPAT_BROKER              "tandemd" or "rabbitmq" (for messages only: the
                             tests expect the same answers from both)
  COMPAT_TEST_TIMEOUT        seconds one test may take before it is failed (60)
Cluster suites (test_cluster_amqp.py, test_cluster_kill.py; compat/run
cluster-rabbitmq and --suite cluster-kill set them):
  COMPAT_AMQP_PORTS          the AMQP ports of the cluster's nodes on
                             COMPAT_HOST, node 1 first: "p1 p2 p3"
  COMPAT_HTTP_PORTS          their management HTTP ports, same order (may be
                             empty: the tests that need it then fail)
  COMPAT_CLUSTER_CTL         a command prefix that takes `stop I` / `start I`
                             (I is 1-based), and `kill I` (SIGKILL) for
                             test_cluster_kill.py, e.g.
                             "tests/rabbitmq/cluster-node.sh DIR" or
                             "scripts/cluster.sh"; unset: the tests that stop
                             or kill a node are skipped (and so reported as
                             failed)
"""

import datetime
import decimal
import os
import signal
import struct
import sys
import time
import unittest
import uuid

HOST = os.environ.get("COMPAT_HOST", "127.0.0.1")
PORT = int(os.environ.get("COMPAT_PORT", "5672"))
BROKER = os.environ.get("COMPAT_BROKER", "unknown")
TEST_TIMEOUT = int(os.environ.get("COMPAT_TEST_TIMEOUT", "60"))
URL = "amqp://guest:guest@%s:%d/%%2F" % (HOST, PORT)
AMQP_PORTS = [int(p) for p in os.environ.get("COMPAT_AMQP_PORTS", "").split()]
HTTP_PORTS = [int(p) for p in os.environ.get("COMPAT_HTTP_PORTS", "").split()]
CLUSTER_CTL = os.environ.get("COMPAT_CLUSTER_CTL", "")

# Bounded waits: how long a test waits for something that should happen.
WAIT = 5.0


def uniq(prefix):
    """A resource name no other test (or earlier run) uses."""
    return "compat.%s.%s" % (prefix, uuid.uuid4().hex[:12])


def wait_for(predicate, timeout=WAIT, interval=0.02, what="condition"):
    """Poll predicate() until it returns a true value; return that value.

    Raises AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(interval)


# ---- typed field-table decoding ---------------------------------------------
# Client libraries turn 'I' (signed 32) and 'l' (signed 64) into the same int;
# x-death's layout is specified by type, so the suites decode the raw content
# header themselves. Each value is returned as (type_char, python_value).

class Cursor:
    def __init__(self, data, pos=0):
        self.data = data
        self.pos = pos

    def take(self, n):
        if self.pos + n > len(self.data):
            raise ValueError("truncated field table")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def unpack(self, fmt):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def shortstr(self):
        return self.take(self.unpack(">B")).decode("utf-8")

    def longstr(self):
        return self.take(self.unpack(">I"))


def _typed_value(cur):
    t = cur.take(1).decode("ascii")
    if t == "t":
        return t, cur.unpack(">B") != 0
    if t == "b":
        return t, cur.unpack(">b")
    if t == "B":
        return t, cur.unpack(">B")
    if t == "s":
        return t, cur.unpack(">h")
    if t == "u":
        return t, cur.unpack(">H")
    if t == "I":
        return t, cur.unpack(">i")
    if t == "i":
        return t, cur.unpack(">I")
    if t == "l":
        return t, cur.unpack(">q")
    if t == "L":
        return t, cur.unpack(">Q")
    if t == "f":
        return t, cur.unpack(">f")
    if t == "d":
        return t, cur.unpack(">d")
    if t == "D":
        scale = cur.unpack(">B")
        return t, decimal.Decimal(cur.unpack(">i")).scaleb(-scale)
    if t == "S":
        return t, cur.longstr().decode("utf-8", "replace")
    if t == "x":
        return t, cur.longstr()
    if t == "T":
        return t, cur.unpack(">Q")
    if t == "F":
        return t, typed_table(cur)
    if t == "A":
        return t, typed_array(cur)
    if t == "V":
        return t, None
    raise ValueError("unknown field type %r" % t)


def typed_table(cur):
    """Decode a field table into a list of (key, type_char, value), in wire order."""
    size = cur.unpack(">I")
    end = cur.pos + size
    out = []
    while cur.pos < end:
        key = cur.shortstr()
        t, v = _typed_value(cur)
        out.append((key, t, v))
    if cur.pos != end:
        raise ValueError("field table overran its size")
    return out


def typed_array(cur):
    size = cur.unpack(">I")
    end = cur.pos + size
    out = []
    while cur.pos < end:
        out.append(_typed_value(cur))
    return out


def typed_headers_from_properties(raw):
    """Given the raw basic content-header property bytes (flags + list), return
    the headers table as a typed list, or None when the headers flag is clear."""
    cur = Cursor(raw)
    flags = cur.unpack(">H")
    if flags & 0x8000:  # content-type
        cur.shortstr()
    if flags & 0x4000:  # content-encoding
        cur.shortstr()
    if not flags & 0x2000:
        return None
    return typed_table(cur)


def table_dict(typed):
    """[(key, type, value)] -> {key: (type, value)}"""
    return {k: (t, v) for k, t, v in typed}


# ---- runner -----------------------------------------------------------------

class _Timeout(Exception):
    pass


def _on_alarm(signum, frame):
    raise _Timeout("test exceeded COMPAT_TEST_TIMEOUT=%d s" % TEST_TIMEOUT)


class _Result(unittest.TestResult):
    """Prints `PASS: suite.test (t s)` / `FAIL: suite.test (t s)` with the reason."""

    def __init__(self, suite_name):
        super().__init__()
        self.suite_name = suite_name
        self.passed = 0
        self.failed_n = 0
        self._t0 = 0.0

    def _name(self, test):
        return "%s.%s" % (self.suite_name, getattr(test, "_testMethodName", str(test)))

    def startTest(self, test):
        super().startTest(test)
        self._t0 = time.monotonic()
        signal.signal(signal.SIGALRM, _on_alarm)
        signal.alarm(TEST_TIMEOUT)

    def stopTest(self, test):
        signal.alarm(0)
        super().stopTest(test)

    def _elapsed(self):
        return time.monotonic() - self._t0

    def addSuccess(self, test):
        self.passed += 1
        print("PASS: %s (%.2f s)" % (self._name(test), self._elapsed()), flush=True)

    def _fail(self, test, err):
        self.failed_n += 1
        print("FAIL: %s (%.2f s)" % (self._name(test), self._elapsed()), flush=True)
        if err[2] is None:
            text = "%s: %s" % (err[0].__name__, err[1])
        else:  # unittest's own formatting leaves its internal frames out
            text = self._exc_info_to_string(err, test)
        for line in text.rstrip().splitlines():
            print("    " + line)
        sys.stdout.flush()

    def addFailure(self, test, err):
        self._fail(test, err)

    def addError(self, test, err):
        self._fail(test, err)

    def addSkip(self, test, reason):
        # A skipped test is not a passing test.
        self._fail(test, (RuntimeError, RuntimeError("skipped: %s" % reason), None))

    def addExpectedFailure(self, test, err):
        self._fail(test, (RuntimeError, RuntimeError("expected failure is not allowed"), None))

    def addUnexpectedSuccess(self, test):
        self._fail(test, (RuntimeError, RuntimeError("unexpected success"), None))


def main(suite_name, module):
    """Run every test in `module`; `-k SUBSTRING` arguments select tests."""
    selectors = []
    args = sys.argv[1:]
    while args:
        a = args.pop(0)
        if a == "-k" and args:
            selectors.append(args.pop(0))
    loader = unittest.TestLoader()
    suite = loader.loadTestsFromModule(module)

    def flatten(s):
        for t in s:
            if isinstance(t, unittest.TestSuite):
                yield from flatten(t)
            else:
                yield t

    tests = [t for t in flatten(suite)
             if not selectors or any(k in t.id() for k in selectors)]
    result = _Result(suite_name)
    t0 = time.monotonic()
    for t in tests:
        t(result)
    print("%s: %d passed, %d failed (%.1f s, broker %s at %s:%d)" % (
        suite_name, result.passed, result.failed_n, time.monotonic() - t0, BROKER, HOST, PORT))
    # no test at all is a failure, unless -k selected none of this suite's tests
    sys.exit(0 if result.failed_n == 0 and (result.passed > 0 or selectors) else 1)


def utc_now_seconds():
    return int(datetime.datetime.now(datetime.timezone.utc).timestamp())
