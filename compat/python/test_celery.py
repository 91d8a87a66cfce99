#!/usr/bin/python3
"""Celery (Debian python3-celery 5.2, over kombu and py-amqp) against the
broker under test.

Slice: a real Celery worker process with Celery's defaults for prefetch
(two pool processes, prefetch multiplier 4: basic.qos prefetch_count 8).
A task with a countdown (or an ETA) is received at once and held, unacknowledged, until its time; for each
one it holds the worker raises its prefetch by one (kombu's QoS
increment), so that the tasks queued behind it still reach it. kombu sends
that basic.qos with global=true only when the server says it is RabbitMQ
(3.3 or later): with global=false RabbitMQ's semantics leave the running
consumer at its old prefetch, and ordinary tasks wait behind the held ones
until their countdowns expire. Every expectation is RabbitMQ 3.10's
behaviour (compat/run --against rabbitmq proves it).

Run: /usr/bin/python3 compat/python/test_celery.py [-k NAME]   (see compat/run)
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

import kombu

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat_common as cc  # noqa: E402

# The Celery application the worker runs: one task that writes its tag and
# the time it ran to a file.
APP = '''
import os, time
from celery import Celery

app = Celery("tapp", broker=os.environ["CELERY_TEST_BROKER"])
app.conf.update(
    task_default_queue=os.environ["CELERY_TEST_QUEUE"],
    worker_prefetch_multiplier=4,
    worker_enable_remote_control=False,
    broker_connection_retry_on_startup=False,
)


@app.task(name="tapp.mark")
def mark(tag):
    with open(os.environ["CELERY_TEST_OUT"], "a") as f:
        f.write("%s %.3f\\n" % (tag, time.time()))
'''

# Long enough that a task stuck behind the held ones is plainly late.
COUNTDOWN = 40
# How long the immediate tasks may take in all (RabbitMQ: well under 1 s).
PROMPT = 8.0


class CeleryCase(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="tandem-celery.")
        self.queue = cc.uniq("celery.prefetch")
        self.out = os.path.join(self.dir, "ran.txt")
        with open(os.path.join(self.dir, "tapp.py"), "w") as f:
            f.write(APP)
        self.env = dict(os.environ, CELERY_TEST_BROKER=cc.URL.replace("amqp://", "pyamqp://"),
                        CELERY_TEST_QUEUE=self.queue, CELERY_TEST_OUT=self.out,
                        PYTHONPATH=self.dir)
        self.worker = None

    def tearDown(self):
        if self.worker is not None:
            self.stop_worker()
        try:
            with kombu.Connection(cc.URL, connect_timeout=5) as conn:
                ch = conn.channel()
                ch.queue_delete(self.queue)
                ch.exchange_delete(self.queue)
        except Exception:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def start_worker(self):
        self.log = open(os.path.join(self.dir, "worker.log"), "w")
        self.worker = subprocess.Popen(
            ["/usr/bin/python3", "-m", "celery", "-A", "tapp", "worker", "-P", "prefork", "-c", "2",
             "--without-heartbeat", "--without-gossip", "--without-mingle", "-l", "warning"],
            cwd=self.dir, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)

    def stop_worker(self):
        self.worker.send_signal(signal.SIGTERM)
        try:
            self.worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.worker.kill()
            self.worker.wait(timeout=10)
        self.log.close()
        self.worker = None

    def worker_log(self):
        with open(os.path.join(self.dir, "worker.log")) as f:
            return f.read()[-3000:]

    def ran(self):
        """{tag: time it ran} from the tasks' file."""
        try:
            with open(self.out) as f:
                return {tag: float(t) for tag, t in (line.split() for line in f if line.strip())}
        except FileNotFoundError:
            return {}

    def send(self, app, tag, countdown=None):
        app.send_task("tapp.mark", args=[tag], countdown=countdown, queue=self.queue)

    def wait_ran(self, tags, timeout, what):
        try:
            cc.wait_for(lambda: all(t in self.ran() for t in tags), timeout=timeout, interval=0.1,
                        what=what)
        except AssertionError:
            raise AssertionError("%s; ran: %s; worker log:\n%s" % (what, sorted(self.ran()), self.worker_log()))

    def test_tasks_behind_countdown_tasks_run_at_once(self):
        sys.path.insert(0, self.dir)
        os.environ.update({k: self.env[k] for k in ("CELERY_TEST_BROKER", "CELERY_TEST_QUEUE",
                                                    "CELERY_TEST_OUT")})
        import tapp
        app = tapp.app
        self.start_worker()
        # the worker is consuming once it ran a task
        self.send(app, "ready")
        self.wait_ran(["ready"], 30.0, "the worker's first task")
        for i in range(12):
            self.send(app, "later-%d" % i, countdown=COUNTDOWN)
        t0 = time.time()
        now = ["now-%d" % i for i in range(10)]
        for tag in now:
            self.send(app, tag)
        self.wait_ran(now, PROMPT, "10 tasks queued behind 12 countdown tasks to run within %.0f s" % PROMPT)
        ran = self.ran()
        late = max(ran[t] for t in now) - t0
        self.assertLess(late, PROMPT)
        self.assertFalse([t for t in ran if t.startswith("later-")], "a countdown task ran early")
        app.close()


if __name__ == "__main__":
    cc.main("celery", sys.modules[__name__])
