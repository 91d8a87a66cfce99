"""pika over TLS (AMQPS), against tandemd and against RabbitMQ 3.10.

compat/run makes a CA ("ca") that signs the server's and a client's
certificate, and another CA ("otherca") with a client certificate of its own
("stranger"), in COMPAT_TLS_DIR, and starts the broker with an AMQPS listener
on COMPAT_TLS_PORT configured with rabbitmq.conf's keys: ssl_options.verify =
verify_peer and ssl_options.fail_if_no_peer_cert = true.  A client with the
good certificate logs in and round-trips a message; one without a
certificate or with the stranger's is refused before any AMQP.

Login by certificate (RabbitMQ's rabbitmq_auth_mechanism_ssl): the broker
offers auth_mechanisms PLAIN, AMQPLAIN, EXTERNAL with ssl_cert_login_from =
common_name, and has a user "client" (compat/run and
tests/rabbitmq/start-private.sh set this up); pika's ExternalCredentials with
the client certificate log in as "client", and the server's own certificate
(CN=server, a name no user has) is refused with 403 ACCESS_REFUSED.

Depends on: pika 1.2 (Debian's python3-pika), Python's ssl module.
"""

import os
import ssl
import sys
import unittest

import pika
import pika.exceptions

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import compat_common as cc  # noqa: E402

TLS_PORT = int(os.environ.get("COMPAT_TLS_PORT", "0"))
TLS_DIR = os.environ.get("COMPAT_TLS_DIR", "")
# how pika reports a refused handshake: wrapped, or (TLS 1.2, where the
# server's alert ends the handshake itself) as the ssl module's own error
REFUSED = (pika.exceptions.AMQPConnectionError, ssl.SSLError)


def context(cert=None, tls_max=None):
    """A client context that verifies the server against ca.pem (its name is
    CN=server, dialled as 127.0.0.1: no host name check), with the
    certificate `cert` ("client", "stranger") or none."""
    ctx = ssl.create_default_context(cafile=os.path.join(TLS_DIR, "ca.pem"))
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(os.path.join(TLS_DIR, cert + ".pem"), os.path.join(TLS_DIR, cert + ".key"))
    if tls_max:
        ctx.maximum_version = tls_max
    return ctx


def connect(cert=None, tls_max=None, credentials=None):
    extra = {"credentials": credentials} if credentials else {}
    p = pika.ConnectionParameters(cc.HOST, TLS_PORT, ssl_options=pika.SSLOptions(context(cert, tls_max)),
                                  socket_timeout=5, stack_timeout=10, blocked_connection_timeout=10,
                                  connection_attempts=1, **extra)
    return pika.BlockingConnection(p)


class PikaTlsCase(unittest.TestCase):
    def setUp(self):
        self.assertTrue(TLS_PORT and TLS_DIR, "compat/run gives no AMQPS port (COMPAT_TLS_PORT, COMPAT_TLS_DIR)")

    def round_trip(self, conn):
        ch = conn.channel()
        q = ch.queue_declare(queue="", exclusive=True).method.queue
        ch.confirm_delivery()
        ch.basic_publish("", q, b"over TLS")
        body = None
        for _ in range(100):
            m, _props, body = ch.basic_get(q, auto_ack=True)
            if m is not None:
                break
            conn.sleep(0.02)
        self.assertEqual(body, b"over TLS")

    def test_tls_client_certificate_login_publish_get(self):
        conn = connect("client")
        try:
            self.round_trip(conn)
        finally:
            conn.close()

    def test_tls_1_2_client_certificate(self):
        conn = connect("client", ssl.TLSVersion.TLSv1_2)
        try:
            self.round_trip(conn)
        finally:
            conn.close()

    def test_tls_no_client_certificate_refused(self):
        # fail_if_no_peer_cert: no AMQP connection without a certificate
        with self.assertRaises(REFUSED):
            connect(None).close()

    def test_tls_other_ca_certificate_refused(self):
        with self.assertRaises(REFUSED):
            connect("stranger").close()

    def test_tls_1_2_other_ca_certificate_refused(self):
        with self.assertRaises(REFUSED):
            connect("stranger", ssl.TLSVersion.TLSv1_2).close()

    def test_tls_external_login_by_client_certificate(self):
        conn = connect("client", credentials=pika.credentials.ExternalCredentials())
        try:
            self.round_trip(conn)
        finally:
            conn.close()

    def test_tls_1_2_external_login_by_client_certificate(self):
        conn = connect("client", ssl.TLSVersion.TLSv1_2, credentials=pika.credentials.ExternalCredentials())
        try:
            self.round_trip(conn)
        finally:
            conn.close()

    def test_tls_external_certificate_of_no_user_is_403(self):
        # the server's certificate is signed by the same CA; no user is named "server"
        with self.assertRaises(pika.exceptions.ProbableAuthenticationError) as cm:
            connect("server", credentials=pika.credentials.ExternalCredentials()).close()
        self.assertIn("403", str(cm.exception))
        self.assertIn("ACCESS_REFUSED - Login was refused using authentication mechanism EXTERNAL. "
                      "For details see the broker logfile.", str(cm.exception))

    def test_tls_plain_login_still_offered_beside_external(self):
        conn = connect("client")  # PlainCredentials guest/guest
        try:
            self.round_trip(conn)
        finally:
            conn.close()

    def test_tls_plain_amqp_on_tls_port_refused(self):
        p = pika.ConnectionParameters(cc.HOST, TLS_PORT, socket_timeout=5, stack_timeout=10,
                                      connection_attempts=1)
        with self.assertRaises(REFUSED):
            pika.BlockingConnection(p).close()
        # and the listener still serves TLS clients
        conn = connect("client")
        conn.close()


if __name__ == "__main__":
    cc.main("pika-tls", sys.modules[__name__])
