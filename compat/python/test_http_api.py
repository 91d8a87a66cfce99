"""The management HTTP API, as scripts written for RabbitMQ use it.

Plain HTTP with the standard library (urllib), no client library: each test
sends what curl or rabbitmqadmin would and checks the status and the JSON
that come back.  compat/run runs it against tandemd and, with
--against rabbitmq, against a private RabbitMQ 3.10 node with the
management plugin: every expectation here is RabbitMQ's own answer.

Environment (besides compat_common's): COMPAT_HTTP_PORT, the broker's
management listener.
"""

import base64
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import unittest

import pika

import compat_common as cc

HTTP_PORT = int(os.environ.get("COMPAT_HTTP_PORT", "15672"))


def call(method, path, body=None, creds="guest:guest"):
    """(status, parsed JSON or None, headers) of one request."""
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request("http://%s:%d%s" % (cc.HOST, HTTP_PORT, path), data=data, method=method)
    if creds is not None:
        req.add_header("Authorization", "Basic " + base64.b64encode(creds.encode()).decode())
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, raw, headers = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as e:
        status, raw, headers = e.code, e.read(), e.headers
    try:
        doc = json.loads(raw) if raw else None
    except ValueError:
        doc = raw
    return status, doc, headers


def seg(name):
    return urllib.parse.quote(name, safe="")


class HttpApi(unittest.TestCase):
    def setUp(self):
        self.cleanup = []

    def tearDown(self):
        for path in reversed(self.cleanup):
            call("DELETE", path)

    def queue(self, prefix, body=None):
        name = cc.uniq(prefix)
        status, _, _ = call("PUT", "/api/queues/%2F/" + seg(name), body or {"durable": False})
        self.assertEqual(status, 201)
        self.cleanup.append("/api/queues/%2F/" + seg(name))
        return name

    def exchange(self, prefix, kind="direct"):
        name = cc.uniq(prefix)
        status, _, _ = call("PUT", "/api/exchanges/%2F/" + seg(name), {"type": kind, "durable": False})
        self.assertEqual(status, 201)
        self.cleanup.append("/api/exchanges/%2F/" + seg(name))
        return name

    # ---- authentication ----------------------------------------------------

    def test_wrong_password_is_401_login_failed(self):
        status, doc, headers = call("GET", "/api/overview", creds="guest:wrong")
        self.assertEqual(status, 401)
        self.assertEqual(doc, {"error": "not_authorized", "reason": "Login failed"})
        self.assertIn("Basic", headers.get("WWW-Authenticate", ""))

    def test_unknown_paths_and_objects_are_404(self):
        for path in ("/api/no-such-thing", "/api/queues/%2F/" + seg(cc.uniq("none")),
                     "/api/vhosts/" + seg(cc.uniq("vh")), "/api/users/" + seg(cc.uniq("user"))):
            status, doc, _ = call("GET", path)
            self.assertEqual((status, doc), (404, {"error": "Object Not Found", "reason": "Not Found"}), path)

    def test_wrong_method_is_405_with_allow(self):
        # cowboy_rest's answer: 405 and an Allow header naming the path's
        # methods (RabbitMQ adds OPTIONS, which tandem does not serve); the
        # body is not compared (RabbitMQ's is empty, tandem's its error object)
        q = "/api/queues/%2F/" + seg(cc.uniq("none"))
        for method, path, allow in (("PUT", "/api/overview", {"HEAD", "GET"}),
                                    ("DELETE", "/api/queues", {"HEAD", "GET"}),
                                    ("POST", q, {"HEAD", "GET", "PUT", "DELETE"}),
                                    ("POST", "/api/health/checks/alarms", {"HEAD", "GET"}),
                                    ("DELETE", "/api/whoami", {"HEAD", "GET"})):
            status, _, headers = call(method, path)
            got = {m.strip() for m in headers.get("Allow", "").split(",") if m.strip()} - {"OPTIONS"}
            self.assertEqual((status, got), (405, allow), method + " " + path)
        self.assertEqual(call("GET", q)[0], 404)  # the POST declared nothing

    def test_whoami(self):
        status, doc, _ = call("GET", "/api/whoami")
        self.assertEqual(status, 200)
        self.assertEqual(doc["name"], "guest")
        self.assertIn("administrator", doc["tags"] if isinstance(doc["tags"], list) else doc["tags"].split(","))

    # ---- declare, redeclare, delete -----------------------------------------

    def test_queue_declare_redeclare_and_inequivalent(self):
        name = cc.uniq("http.q")
        path = "/api/queues/%2F/" + seg(name)
        self.cleanup.append(path)
        self.assertEqual(call("PUT", path, {"durable": True})[0], 201)
        self.assertEqual(call("PUT", path, {"durable": True})[0], 204)
        status, doc, _ = call("PUT", path, {"durable": False})
        self.assertEqual(status, 400)
        self.assertEqual(doc, {"error": "bad_request",
                               "reason": "inequivalent arg 'durable' for queue '%s' in vhost '/': "
                                         "received 'false' but current is 'true'" % name})
        status, doc, _ = call("GET", path)
        self.assertEqual(status, 200)
        self.assertEqual((doc["name"], doc["vhost"], doc["durable"]), (name, "/", True))
        self.assertEqual(call("DELETE", path)[0], 204)
        self.assertEqual(call("DELETE", path)[0], 404)

    def test_exchange_type_rules(self):
        x = self.exchange("http.x", "fanout")
        status, doc, _ = call("PUT", "/api/exchanges/%2F/" + seg(x), {"type": "direct"})
        self.assertEqual(status, 400)
        self.assertEqual(doc["reason"], "inequivalent arg 'type' for exchange '%s' in vhost '/': "
                                        "received 'direct' but current is 'fanout'" % x)
        status, doc, _ = call("PUT", "/api/exchanges/%2F/" + seg(cc.uniq("http.bogus")), {"type": "bogus"})
        self.assertEqual((status, doc), (400, {"error": "bad_request", "reason": "unknown exchange type 'bogus'"}))

    def test_reserved_names_are_401_access_refused(self):
        for path in ("/api/exchanges/%2F/amq.compat-x", "/api/queues/%2F/amq.compat-q"):
            status, doc, _ = call("PUT", path, {"type": "direct"} if "exchanges" in path else {})
            self.assertEqual((status, doc), (401, {"error": "not_authorised", "reason": "Access refused."}), path)

    def test_delete_exchange_if_unused(self):
        x = self.exchange("http.unused")
        q = self.queue("http.unused.q")
        self.assertEqual(call("POST", "/api/bindings/%%2F/e/%s/q/%s" % (seg(x), seg(q)), {"routing_key": "k"})[0], 201)
        status, doc, _ = call("DELETE", "/api/exchanges/%%2F/%s?if-unused=true" % seg(x))
        self.assertEqual((status, doc), (400, {"error": "bad_request",
                                               "reason": "exchange '%s' in vhost '/' in use" % x}))

    # ---- vhosts, users, permissions ------------------------------------------------

    def test_vhost_user_permission_lifecycle(self):
        vh, user = cc.uniq("http.vh"), cc.uniq("http.user")
        vpath, upath = "/api/vhosts/" + seg(vh), "/api/users/" + seg(user)
        ppath = "/api/permissions/%s/%s" % (seg(vh), seg(user))
        self.cleanup += [vpath, upath]
        self.assertEqual(call("PUT", vpath)[0], 201)
        self.assertEqual(call("PUT", vpath, {})[0], 204)
        status, doc, _ = call("GET", vpath)
        self.assertEqual((status, doc["name"], doc["tracing"], list(doc["cluster_state"].values())),
                         (200, vh, False, ["running"]))
        self.assertEqual(call("PUT", upath, {})[1], {"error": "bad_request", "reason": "tags_not_present"})
        self.assertEqual(call("PUT", upath, {"password_hash": "bad", "tags": ""})[1]["reason"], ["not_base64", "bad"])
        self.assertEqual(call("PUT", upath, {"password": "pw1", "tags": ["management", "monitoring"]})[0], 201)
        status, doc, _ = call("GET", upath)
        self.assertEqual((doc["name"], doc["tags"], doc["hashing_algorithm"], len(doc["password_hash"])),
                         (user, ["management", "monitoring"], "rabbit_password_hashing_sha256", 48))
        self.assertEqual(call("PUT", upath, {"password": "pw2", "tags": "management"})[0], 204)
        # no permission yet: the login is refused
        params = pika.ConnectionParameters(cc.HOST, cc.PORT, vh, pika.PlainCredentials(user, "pw2"))
        with self.assertRaises(pika.exceptions.ProbableAccessDeniedError):
            pika.BlockingConnection(params).close()
        status, doc, _ = call("PUT", ppath, {})
        self.assertEqual((status, doc["reason"]),
                         (400, "[{key_missing,configure},{key_missing,write},{key_missing,read}]"))
        full = {"configure": ".*", "write": ".*", "read": ".*"}
        self.assertEqual(call("PUT", "/api/permissions/%s/%s" % (seg(vh), seg(cc.uniq("none"))), full)[1],
                         {"error": "bad_request", "reason": "vhost_or_user_not_found"})
        self.assertEqual(call("PUT", ppath, full)[0], 201)
        self.assertEqual(call("PUT", ppath, full)[0], 204)
        self.assertEqual(call("GET", ppath)[:2], (200, dict(full, user=user, vhost=vh)))
        conn = pika.BlockingConnection(params)
        conn.close()
        self.assertEqual(call("DELETE", ppath)[0], 204)
        self.assertEqual(call("DELETE", ppath)[0], 404)
        self.assertEqual(call("DELETE", upath)[0], 204)
        self.assertEqual(call("DELETE", upath)[0], 404)
        self.assertEqual(call("DELETE", vpath)[0], 204)
        self.assertEqual(call("DELETE", vpath)[0], 404)

    def test_deleting_a_vhost_closes_its_connections(self):
        vh = cc.uniq("http.vhc")
        vpath = "/api/vhosts/" + seg(vh)
        self.cleanup.append(vpath)
        self.assertEqual(call("PUT", vpath)[0], 201)
        self.assertEqual(call("PUT", "/api/permissions/%s/guest" % seg(vh),
                              {"configure": ".*", "write": ".*", "read": ".*"})[0] in (201, 204), True)
        conn = pika.BlockingConnection(pika.ConnectionParameters(cc.HOST, cc.PORT, vh))
        ch = conn.channel()
        ch.queue_declare("inside", durable=True)
        self.assertEqual(call("DELETE", vpath)[0], 204)
        with self.assertRaises(pika.exceptions.ConnectionClosedByBroker) as cm:
            cc.wait_for(lambda: conn.process_data_events(time_limit=0.1) and False, what="the close")
        self.assertEqual(cm.exception.reply_code, 320)
        self.assertEqual(call("PUT", vpath)[0], 201)  # made again: empty
        self.assertEqual(call("GET", "/api/queues/%s/inside" % seg(vh))[0], 404)

    # ---- publish and get --------------------------------------------------------

    def test_publish_get_round_trip(self):
        q = self.queue("http.pub")
        status, doc, _ = call("POST", "/api/exchanges/%2F/amq.default/publish",
                              {"properties": {"headers": {"h": "v"}}, "routing_key": q,
                               "payload": "hello", "payload_encoding": "string"})
        self.assertEqual((status, doc), (200, {"routed": True}))
        status, doc, _ = call("POST", "/api/queues/%%2F/%s/get" % seg(q),
                              {"count": 5, "ackmode": "ack_requeue_false", "encoding": "auto"})
        self.assertEqual(status, 200)
        self.assertEqual(len(doc), 1)
        m = doc[0]
        self.assertEqual((m["payload"], m["payload_encoding"], m["routing_key"], m["redelivered"],
                          m["message_count"], m["properties"]["headers"]),
                         ("hello", "string", q, False, 0, {"h": "v"}))
        status, doc, _ = call("POST", "/api/exchanges/%2F/amq.default/publish",
                              {"properties": {}, "routing_key": cc.uniq("nowhere"), "payload": "x",
                               "payload_encoding": "string"})
        self.assertEqual((status, doc), (200, {"routed": False}))

    def test_publish_cc_bcc(self):
        q = [self.queue("http.ssd") for _ in range(3)]
        status, doc, _ = call("POST", "/api/exchanges/%2F/amq.default/publish",
                              {"properties": {"headers": {"CC": [q[1]], "BCC": [q[2]]}}, "routing_key": q[0],
                               "payload": "ssd", "payload_encoding": "string"})
        self.assertEqual((status, doc), (200, {"routed": True}))
        for name in q:
            status, doc, _ = call("POST", "/api/queues/%%2F/%s/get" % seg(name),
                                  {"count": 5, "ackmode": "ack_requeue_false", "encoding": "auto"})
            self.assertEqual(status, 200)
            self.assertEqual([(m["payload"], m["properties"]["headers"]) for m in doc],
                             [("ssd", {"CC": [q[1]]})])
        status, doc, _ = call("POST", "/api/exchanges/%2F/amq.default/publish",
                              {"properties": {"headers": {"CC": q[1]}}, "routing_key": q[0],
                               "payload": "bad", "payload_encoding": "string"})
        self.assertEqual((status, doc["reason"]), (400, '406 PRECONDITION_FAILED - invalid message: '
                                                        '{unacceptable_type_in_header,"CC",longstr}'))

    def test_publish_missing_keys(self):
        status, doc, _ = call("POST", "/api/exchanges/%2F/amq.default/publish", {})
        self.assertEqual(status, 400)
        self.assertEqual(doc["reason"], "[{key_missing,routing_key},\n {key_missing,properties},\n"
                                        " {key_missing,payload},\n {key_missing,payload_encoding}]")
        status, doc, _ = call("POST", "/api/exchanges/%2F/amq.default/publish",
                              {"payload": "x", "payload_encoding": "string"})
        self.assertEqual((status, doc["reason"]), (400, "[{key_missing,routing_key},{key_missing,properties}]"))

    def test_publish_bad_encodings(self):
        base = {"properties": {}, "routing_key": "k", "payload": "!!"}
        status, doc, _ = call("POST", "/api/exchanges/%2F/amq.default/publish",
                              dict(base, payload_encoding="base64"))
        self.assertEqual((status, doc["reason"]), (400, ["not_base64", "!!"]))
        status, doc, _ = call("POST", "/api/exchanges/%2F/amq.default/publish",
                              dict(base, payload_encoding="rot13"))
        self.assertEqual((status, doc["reason"]), (400, ["unsupported_encoding", "rot13"]))

    def test_get_missing_keys_and_bad_encoding(self):
        q = self.queue("http.get")
        path = "/api/queues/%%2F/%s/get" % seg(q)
        status, doc, _ = call("POST", path, {})
        self.assertEqual((status, doc["reason"]),
                         (400, "[{key_missing,ackmode},{key_missing,count},{key_missing,encoding}]"))
        status, doc, _ = call("POST", path, {"ackmode": "ack_requeue_true", "encoding": "auto"})
        self.assertEqual((status, doc["reason"]), (400, "[{key_missing,count}]"))
        status, doc, _ = call("POST", path, {"count": 1, "ackmode": "ack_requeue_true", "encoding": "x"})
        self.assertEqual((status, doc["reason"]), (400, "Unsupported encoding. Please use auto or base64."))

    def test_malformed_json_is_400_not_json(self):
        q = self.queue("http.json")
        status, doc, _ = call("POST", "/api/queues/%%2F/%s/get" % seg(q), b"{not json")
        self.assertEqual((status, doc), (400, {"error": "bad_request", "reason": "not_json"}))

    def test_purge(self):
        q = self.queue("http.purge")
        for _ in range(3):
            call("POST", "/api/exchanges/%2F/amq.default/publish",
                 {"properties": {}, "routing_key": q, "payload": "x", "payload_encoding": "string"})
        self.assertEqual(call("DELETE", "/api/queues/%%2F/%s/contents" % seg(q))[0], 204)
        status, doc, _ = call("POST", "/api/queues/%%2F/%s/get" % seg(q),
                              {"count": 1, "ackmode": "ack_requeue_false", "encoding": "auto"})
        self.assertEqual((status, doc), (200, []))

    # ---- bindings -------------------------------------------------------------

    def test_bindings_create_list_delete(self):
        x = self.exchange("http.bx", "topic")
        q = self.queue("http.bq")
        path = "/api/bindings/%%2F/e/%s/q/%s" % (seg(x), seg(q))
        # properties_key: the key quoted as mochiweb's quote_plus does; the
        # Location header percent-encodes it once more
        for key, pkey in (("a.*", "a.%2A"), ("a b", "a+b"), ("", "~"), ("k%/", "k%25%2F")):
            status, _, headers = call("POST", path, {"routing_key": key})
            self.assertEqual(status, 201)
            self.assertEqual(headers.get("Location"), "%s/%s" % (q, urllib.parse.quote(pkey, safe="~")))
        status, doc, _ = call("GET", path)
        self.assertEqual(status, 200)
        self.assertEqual(sorted((b["source"], b["destination"], b["destination_type"], b["routing_key"],
                                 b["properties_key"]) for b in doc),
                         sorted((x, q, "queue", k, p) for k, p in (("a.*", "a.%2A"), ("a b", "a+b"), ("", "~"),
                                                                    ("k%/", "k%25%2F"))))
        self.assertEqual(call("DELETE", path + "/" + seg("a.%2A"))[0], 204)
        self.assertEqual(call("DELETE", path + "/" + seg("a.%2A"))[0], 404)
        self.assertEqual(call("DELETE", path + "/~")[0], 204)
        self.assertEqual(sorted(b["routing_key"] for b in call("GET", path)[1]), ["a b", "k%/"])

    def test_binding_to_missing_objects_is_404_naming_it(self):
        q = self.queue("http.bm")
        missing = cc.uniq("http.nox")
        status, doc, _ = call("POST", "/api/bindings/%%2F/e/%s/q/%s" % (seg(missing), seg(q)), {})
        self.assertEqual((status, doc), (404, {"error": "not_found",
                                               "reason": "no exchange '%s' in vhost '/'" % missing}))
        status, doc, _ = call("POST", "/api/bindings/%%2F/e/amq.direct/q/%s" % seg(missing), {})
        self.assertEqual((status, doc), (404, {"error": "not_found",
                                               "reason": "no queue '%s' in vhost '/'" % missing}))

    # ---- what AMQP clients do shows over HTTP ------------------------------------

    def test_consumer_and_channel_seen_over_http(self):
        q = self.queue("http.cons")
        conn = pika.BlockingConnection(pika.ConnectionParameters(cc.HOST, cc.PORT))
        try:
            ch = conn.channel()
            ch.basic_qos(prefetch_count=3)
            tag = ch.basic_consume(q, lambda *a: None, consumer_tag="compat-http-tag")

            # RabbitMQ lists a consumer before its channel's details are
            # known ("channel_details": [] for a moment): wait for both
            def listed():
                status, doc, _ = call("GET", "/api/consumers/%2F")
                return status == 200 and [c for c in doc if c["consumer_tag"] == tag and
                                          isinstance(c.get("channel_details"), dict) and
                                          c["channel_details"].get("connection_name")]
            found = cc.wait_for(listed, what="the consumer in /api/consumers")
            c = listed()[0]
            self.assertEqual((c["queue"]["name"], c["ack_required"], c["prefetch_count"], c["exclusive"]),
                             (q, True, 3, False))
            self.assertIn(" -> ", c["channel_details"]["connection_name"])
            self.assertTrue(found)
        finally:
            conn.close()

    # ---- who may do what ---------------------------------------------------------

    FULL = {"configure": ".*", "write": ".*", "read": ".*"}

    def user(self, tags, vhost="/"):
        name = cc.uniq("http.u")
        path = "/api/users/" + seg(name)
        self.cleanup.append(path)
        self.assertEqual(call("PUT", path, {"password": "pw", "tags": tags})[0], 201)
        if vhost is not None:
            self.assertEqual(call("PUT", "/api/permissions/%s/%s" % (seg(vhost), seg(name)), self.FULL)[0], 201)
        return name

    def vhost(self, name):
        path = "/api/vhosts/" + seg(name)
        self.cleanup.append(path)
        self.assertEqual(call("PUT", path)[0], 201)
        return name

    def can_open(self, user, vhost):
        params = pika.ConnectionParameters(cc.HOST, cc.PORT, vhost, pika.PlainCredentials(user, "pw"))
        try:
            pika.BlockingConnection(params).close()
            return True
        except pika.exceptions.ProbableAccessDeniedError:
            return False

    def test_grant_on_a_vhost_names_that_vhost_only(self):
        # a name holding a comma is one vhost, not a list
        x = self.vhost(cc.uniq("http.vx"))
        p = self.vhost(cc.uniq("http.vp"))
        xp = self.vhost(x + "," + p)
        u = self.user("management", vhost=xp)
        self.assertEqual((self.can_open(u, xp), self.can_open(u, x), self.can_open(u, p)), (True, False, False))
        self.assertEqual(call("GET", "/api/permissions/%s/%s" % (seg(p), seg(u)))[0], 404)
        self.assertEqual(call("GET", "/api/permissions/%s/%s" % (seg(xp), seg(u)))[0], 200)
        # and "*" is a name like any other: no wildcard, revoked like any grant
        star = self.vhost("*")
        self.assertEqual(call("PUT", "/api/permissions/%s/%s" % (seg(star), seg(u)), self.FULL)[0], 201)
        self.assertEqual((self.can_open(u, "*"), self.can_open(u, x), self.can_open(u, "/")), (True, False, False))
        self.assertEqual(call("DELETE", "/api/permissions/%s/%s" % (seg(star), seg(u)))[0], 204)
        self.assertEqual((self.can_open(u, "*"), self.can_open(u, xp)), (False, True))

    def connection_of(self, user):
        def listed():
            status, doc, _ = call("GET", "/api/connections")
            return status == 200 and [c["name"] for c in doc if c["user"] == user]
        return cc.wait_for(listed, what="%s's connection in /api/connections" % user)[0]

    def test_management_user_closes_only_its_own_connections(self):
        me, other = self.user("management"), self.user("management")
        mine = pika.BlockingConnection(pika.ConnectionParameters(cc.HOST, cc.PORT, "/",
                                                                 pika.PlainCredentials(me, "pw")))
        theirs = pika.BlockingConnection(pika.ConnectionParameters(cc.HOST, cc.PORT, "/",
                                                                   pika.PlainCredentials(other, "pw")))
        try:
            mine_path = "/api/connections/" + seg(self.connection_of(me))
            theirs_path = "/api/connections/" + seg(self.connection_of(other))
            self.assertEqual(call("DELETE", theirs_path, creds=me + ":pw")[:2],
                             (401, {"error": "not_authorised", "reason": "User not authorised to access object"}))
            self.assertEqual(call("GET", theirs_path, creds=me + ":pw")[0], 401)
            status, doc, _ = call("GET", "/api/connections", creds=me + ":pw")
            self.assertEqual((status, sorted(set(c["user"] for c in doc))), (200, [me]))
            theirs.channel().queue_declare("", exclusive=True)  # still open
            self.assertEqual(call("DELETE", mine_path, creds=me + ":pw")[0], 204)
            with self.assertRaises(pika.exceptions.ConnectionClosedByBroker) as cm:
                cc.wait_for(lambda: mine.process_data_events(time_limit=0.1) and False, what="the close")
            self.assertEqual(cm.exception.reply_code, 320)
        finally:
            for c in (mine, theirs):
                if c.is_open:
                    c.close()

    def test_get_and_purge_of_another_connections_exclusive_queue(self):
        conn = pika.BlockingConnection(pika.ConnectionParameters(cc.HOST, cc.PORT))
        try:
            ch = conn.channel()
            q = cc.uniq("http.excl")
            ch.queue_declare(q, exclusive=True)
            ch.basic_publish("", q, b"secret")
            cc.wait_for(lambda: ch.queue_declare(q, passive=True).method.message_count == 1, what="the message")
            locked = ("cannot obtain exclusive access to locked queue '%s' in vhost '/'. It could be originally "
                      "declared on another connection or the exclusive property value does not match that of "
                      "the original declaration." % q)
            status, doc, _ = call("POST", "/api/queues/%%2F/%s/get" % seg(q),
                                  {"count": 1, "ackmode": "ack_requeue_false", "encoding": "auto"})
            self.assertEqual((status, doc), (400, {"error": "bad_request", "reason": "405 RESOURCE_LOCKED - " + locked}))
            status, doc, _ = call("DELETE", "/api/queues/%%2F/%s/contents" % seg(q))
            self.assertEqual((status, doc), (400, {"error": "bad_request", "reason": locked}))
            method, _, body = ch.basic_get(q, auto_ack=True)
            self.assertEqual(body, b"secret")
        finally:
            conn.close()

    def test_aliveness_and_alarms(self):
        status, doc, _ = call("GET", "/api/aliveness-test/%2F")
        self.assertEqual((status, doc), (200, {"status": "ok"}))
        status, doc, _ = call("GET", "/api/health/checks/alarms")
        self.assertEqual((status, doc), (200, {"status": "ok"}))


if __name__ == "__main__":
    cc.main("http", sys.modules[__name__])
