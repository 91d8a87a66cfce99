"""py-amqp over TLS (AMQPS), against tandemd and against RabbitMQ 3.10.

The cases py-amqp's own integration tests make over TLS (its CI runs them
against a RabbitMQ whose AMQPS listener has verify_peer and
fail_if_no_peer_cert), written here for compat/run's brokers: connect with a
client certificate; publish and consume with every mandatory / immediate /
confirm combination (immediate is refused with 540 NOT_IMPLEMENTED as
RabbitMQ 3 does); publish and get; a damaged client certificate or key
fails in the ssl module; a certificate of another CA, or none, is refused by
the broker's handshake; login by certificate with py-amqp's EXTERNAL.
Each publish/consume case runs over plain AMQP and over AMQPS, so the two
listeners are seen to answer alike.

compat/run makes the certificates in COMPAT_TLS_DIR (ca, client, stranger of
another CA, server) and starts the broker with an AMQPS listener on
COMPAT_TLS_PORT offering EXTERNAL with ssl_cert_login_from = common_name and
a user "client".

Depends on: py-amqp 5.1 (Debian's python3-amqp), Python's ssl module.
"""

import os
import shutil
import ssl
import sys
import tempfile
import unittest

import amqp
import amqp.exceptions
import amqp.sasl

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat_common as cc  # noqa: E402

TLS_PORT = int(os.environ.get("COMPAT_TLS_PORT", "0"))
TLS_DIR = os.environ.get("COMPAT_TLS_DIR", "")
# a refused handshake: the ssl module's error, or the socket closed under it
REFUSED = (ssl.SSLError, ConnectionError, OSError)


def pem(name):
    return os.path.join(TLS_DIR, name)


def tls_options(cert="client", key=None):
    """py-amqp's ssl dict: verify the server against ca.pem, present `cert`."""
    opts = {"ca_certs": pem("ca.pem"), "cert_reqs": ssl.CERT_REQUIRED}
    if cert:
        opts["certfile"] = cert if os.path.isabs(cert) else pem(cert + ".pem")
        opts["keyfile"] = key or pem(os.path.basename(cert).split(".")[0] + ".key")
    return opts


def connect(tls, cert="client", key=None, **kw):
    port = TLS_PORT if tls else cc.PORT
    if "login_method" not in kw:
        kw.update(userid="guest", password="guest")
    c = amqp.Connection(host="%s:%d" % (cc.HOST, port), connect_timeout=5,
                        ssl=tls_options(cert, key) if tls else False, **kw)
    c.connect()
    return c


def damaged_copy(src, dst):
    """src with the first characters of its base64 body overwritten: the
    PEM still parses as PEM, its contents no longer as a certificate/key."""
    with open(src) as f:
        lines = f.read().splitlines(True)
    lines[1] = "Damaged" + lines[1][7:]
    with open(dst, "w") as f:
        f.writelines(lines)


class PyAmqpTlsCase(unittest.TestCase):
    def setUp(self):
        self.assertTrue(TLS_PORT and TLS_DIR, "compat/run gives no AMQPS port (COMPAT_TLS_PORT, COMPAT_TLS_DIR)")

    def publish_consume(self, tls, confirm, mandatory, immediate):
        conn = connect(tls)
        try:
            ch = conn.channel()
            q = ch.queue_declare(queue=cc.uniq("pyamqp-tls"), exclusive=True).queue
            publish = ch.basic_publish_confirm if confirm else ch.basic_publish
            msg = amqp.Message("over %s" % ("TLS" if tls else "TCP"))
            if immediate:
                # RabbitMQ 3 dropped immediate: the channel is closed with 540
                with self.assertRaises(amqp.exceptions.AMQPNotImplementedError) as cm:
                    publish(msg, routing_key=q, mandatory=mandatory, immediate=True)
                    conn.drain_events(timeout=cc.WAIT)
                self.assertEqual(cm.exception.reply_code, 540)
                self.assertEqual(cm.exception.reply_text, "NOT_IMPLEMENTED - immediate=true")
                return
            publish(msg, routing_key=q, mandatory=mandatory)
            got = []
            ch.basic_consume(queue=q, callback=got.append, consumer_tag="pyamqp-tls")
            while not got:
                conn.drain_events(timeout=cc.WAIT)
            m = got[0]
            self.assertEqual(m.body, msg.body)
            self.assertEqual(m.delivery_info["routing_key"], q)
            self.assertEqual(m.delivery_info["redelivered"], False)
            ch.basic_ack(m.delivery_tag)
        finally:
            if conn.connected:
                conn.close()
            else:
                conn.collect()

    def test_publish_get_tls(self):
        conn = connect(True)
        try:
            ch = conn.channel()
            q = ch.queue_declare(queue=cc.uniq("pyamqp-tls"), exclusive=True).queue
            ch.basic_publish(amqp.Message("got over TLS"), routing_key=q)
            m = cc.wait_for(lambda: ch.basic_get(queue=q), what="basic.get-ok")
            self.assertEqual(m.body, "got over TLS")
            self.assertEqual(m.delivery_info["message_count"], 0)
            ch.basic_ack(m.delivery_tag)
            self.assertIsNone(ch.basic_get(queue=q))
        finally:
            conn.close()

    def test_damaged_client_certificate_fails_in_ssl(self):
        work = tempfile.mkdtemp(prefix="tandem-pyamqp-tls.")
        try:
            cert, key = os.path.join(work, "client.pem"), os.path.join(work, "client.key")
            damaged_copy(pem("client.pem"), cert)
            damaged_copy(pem("client.key"), key)
            with self.assertRaises(ssl.SSLError):
                connect(True, cert, key).close()
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def test_other_ca_certificate_refused(self):
        with self.assertRaises(REFUSED):
            connect(True, "stranger").close()

    def test_no_client_certificate_refused(self):
        with self.assertRaises(REFUSED):
            connect(True, None).close()

    def test_external_login_by_client_certificate(self):
        conn = connect(True, login_method="EXTERNAL")
        try:
            ch = conn.channel()
            q = ch.queue_declare(queue="", exclusive=True).queue
            ch.basic_publish(amqp.Message("as client"), routing_key=q)
            m = cc.wait_for(lambda: ch.basic_get(queue=q, no_ack=True), what="basic.get-ok")
            self.assertEqual(m.body, "as client")
        finally:
            conn.close()


def _add_publish_consume_cases():
    """test_publish_consume_{tcp,tls}_{publish,confirm}_m{0,1}_i{0,1}."""
    for tls in (False, True):
        for confirm in (False, True):
            for mandatory in (False, True):
                for immediate in (False, True):
                    name = "test_publish_consume_%s_%s_m%d_i%d" % (
                        "tls" if tls else "tcp", "confirm" if confirm else "publish",
                        mandatory, immediate)
                    setattr(PyAmqpTlsCase, name,
                            lambda self, a=(tls, confirm, mandatory, immediate): self.publish_consume(*a))


_add_publish_consume_cases()

if __name__ == "__main__":
    cc.main("pyamqp-tls", sys.modules[__name__])
