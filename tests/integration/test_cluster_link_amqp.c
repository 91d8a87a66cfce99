/* Integration tests: AMQP on the cluster link's port (issue 15).  The
 * other nodes of a cluster reach a classic queue living here over AMQP, on
 * the same port (cluster_port) and with the same secret as the Kafka link:
 *  - a connection that starts with the AMQP header is served by the AMQP
 *    front end, anything else by the Kafka one (both on one port);
 *  - connection.start offers PLAIN only; only tandem-cluster with the
 *    cluster's secret logs in; a wrong secret or a broker user (guest) is
 *    refused as RabbitMQ refuses a bad login (403 ACCESS_REFUSED "Login was
 *    refused using authentication mechanism PLAIN...");
 *  - tandem-cluster does not log in on the public AMQP port, whatever the
 *    password, and no user of that name can be created (HTTP API);
 *  - the link acts as the broker: any vhost, every permission, listed in
 *    /api/connections as tandem-cluster;
 *  - on the link (only), a publish whose headers carry x-tandem-queues
 *    goes to exactly those queues (missing ones skipped and the confirm a
 *    nack: the forwarding node's publisher must not get an ack for a copy
 *    nobody keeps; none: mandatory returns too), keeps its exchange (which need not
 *    exist) and routing key, and loses that header; elsewhere the header
 *    is an ordinary one.
 *
 * tandemd only: against TANDEM_TEST_BROKER it reports SKIP (77). */
#include "harness.h"
#include "http_client.h"
#include "kafka_harness.h"
#include "sockutil.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECRET "c00kie-of-the-cluster-0123456789"
#define LINK_USER "tandem-cluster"
#define REFUSED "Login was refused using authentication mechanism PLAIN. For details see the broker logfile."

static char tmpdir[1024], secret_file[1200];
static int link_port;

/* rabbitmq-c connection to port, logged in as user/password on vhost
 * (the reply in *r); authentication_failure_close asked for, so that a
 * refusal comes as connection.close. */
static amqp_connection_state_t login_port(int port, const char *user, const char *pw,
					  const char *vhost, amqp_rpc_reply_t *r)
{
	amqp_connection_state_t c = amqp_new_connection();
	amqp_socket_t *s = amqp_tcp_socket_new(c);
	struct timeval tv = { 10, 0 };
	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(amqp_socket_open_noblock(s, "127.0.0.1", port, &tv), AMQP_STATUS_OK);
	amqp_table_entry_t cap = { .key = amqp_cstring_bytes("authentication_failure_close") };
	cap.value.kind = AMQP_FIELD_KIND_BOOLEAN;
	cap.value.value.boolean = 1;
	amqp_table_entry_t prop = { .key = amqp_cstring_bytes("capabilities") };
	prop.value.kind = AMQP_FIELD_KIND_TABLE;
	prop.value.value.table = (amqp_table_t){ 1, &cap };
	amqp_table_t props = { 1, &prop };
	*r = amqp_login_with_properties(c, vhost, 0, AMQP_DEFAULT_FRAME_SIZE, 0, &props,
					AMQP_SASL_METHOD_PLAIN, user, pw);
	return c;
}

static amqp_connection_state_t link_login(const char *vhost)
{
	amqp_rpc_reply_t r;
	amqp_connection_state_t c = login_port(link_port, LINK_USER, SECRET, vhost, &r);
	th_ok(r, "cluster link login");
	th_channel(c, 1);
	return c;
}

/* login as user/pw on port is refused with RabbitMQ's 403 and text. */
static void expect_refused(int port, const char *user, const char *pw)
{
	amqp_rpc_reply_t r;
	amqp_connection_state_t c = login_port(port, user, pw, "/", &r);
	th_expect_connection_close(c, r, TH_ACCESS_REFUSED);
	ck_assert_msg(strstr(th_last_close_text(), REFUSED), "%s/%s on %d: %s", user, pw, port,
		      th_last_close_text());
	th_destroy(c);
}

/* ---- the port and the login ------------------------------------------------------ */

/* connection.start on the link offers PLAIN and nothing else. */
START_TEST(link_offers_plain_only)
{
	static const uint8_t header[8] = { 'A', 'M', 'Q', 'P', 0, 0, 9, 1 };
	struct th_raw_frame f;
	int fd = kh_raw_connect_port(link_port);
	ck_assert_int_eq(th_raw_send(fd, header, sizeof(header)), 0);
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	ck_assert_uint_eq(f.type, 1);
	ck_assert_uint_eq(th_raw_class(&f), 10);
	ck_assert_uint_eq(th_raw_method(&f), 10);
	/* class, method, version major and minor, server properties, mechanisms */
	uint32_t pl = (uint32_t)f.payload[6] << 24 | (uint32_t)f.payload[7] << 16 |
		      (uint32_t)f.payload[8] << 8 | f.payload[9];
	size_t at = 10 + pl;
	ck_assert_uint_le(at + 4, f.size);
	uint32_t ml = (uint32_t)f.payload[at] << 24 | (uint32_t)f.payload[at + 1] << 16 |
		      (uint32_t)f.payload[at + 2] << 8 | f.payload[at + 3];
	ck_assert_uint_le(at + 4 + ml, f.size);
	ck_assert_int_eq((int)ml, 5);
	ck_assert_int_eq(memcmp(f.payload + at + 4, "PLAIN", 5), 0);
	th_raw_frame_free(&f);
	close(fd);
}
END_TEST

/* Wrong secrets and the broker's users are refused on the link as a bad
 * login; tandem-cluster is refused on the public port. */
START_TEST(link_refusals)
{
	expect_refused(link_port, LINK_USER, "c00kie-of-the-cluster-0123456788");
	expect_refused(link_port, LINK_USER, SECRET "x");
	expect_refused(link_port, LINK_USER, "");
	expect_refused(link_port, "guest", "guest");
	expect_refused(link_port, "guest", SECRET);
	expect_refused(th_port(), LINK_USER, SECRET);
	expect_refused(th_port(), LINK_USER, "guest");
}
END_TEST

/* The Kafka side of the same port still answers (SaslHandshake: PLAIN). */
START_TEST(kafka_on_the_same_port)
{
	uint8_t b[64], resp[256];
	size_t n = kh_put_str(b, 0, "PLAIN");
	int fd = kh_raw_connect_port(link_port);
	kh_raw_request(fd, 17, 1, 7, b, n);
	long got = kh_raw_response(fd, resp, sizeof(resp), 5000);
	ck_assert_int_ge(got, 6);
	ck_assert_int_eq(resp[4] << 8 | resp[5], 0); /* error code: none */
	ck_assert_ptr_nonnull(memmem(resp, (size_t)got, "PLAIN", 5));
	close(fd);
}
END_TEST

/* No user named tandem-cluster can be made. */
START_TEST(link_user_cannot_be_created)
{
	struct th_http_resp r;
	ck_assert_int_eq(th_http("PUT", "/api/users/" LINK_USER, "guest:guest",
				 "{\"password\":\"x\",\"tags\":\"administrator\"}", &r),
			 400);
	th_http_free(&r);
	ck_assert_int_eq(th_http("GET", "/api/users/" LINK_USER, "guest:guest", NULL, &r), 404);
	th_http_free(&r);
	expect_refused(th_port(), LINK_USER, "x");
}
END_TEST

/* The link opens a vhost no user record lets it into, declares, publishes
 * and consumes there; /api/connections lists it as tandem-cluster. */
START_TEST(link_acts_as_the_broker)
{
	amqp_connection_state_t c = link_login("shop");
	th_exchange(c, 1, "link-x", "topic");
	th_queue(c, 1, "link-q", 0, 0, 0, NULL, 0);
	th_bind(c, 1, "link-q", "link-x", "a.#", amqp_empty_table);
	th_publish(c, 1, "link-x", "a.b", "over the link");
	char tag[64];
	th_consume(c, 1, "link-q", "", 0, 0, tag, sizeof(tag));
	amqp_envelope_t env;
	ck_assert_int_eq(th_next_delivery(c, &env, 5000), 1);
	ck_assert(th_bytes_eq(env.message.body, "over the link"));
	ck_assert_int_eq(amqp_basic_ack(c, 1, env.delivery_tag, 0), 0);
	amqp_destroy_envelope(&env);

	struct th_http_resp r;
	int found = 0;
	for (int i = 0; i < 50 && !found; i++) { /* the registry: right after open-ok */
		ck_assert_int_eq(th_http("GET", "/api/connections", "guest:guest", NULL, &r), 200);
		found = th_jstr(&r, "[vhost=shop]/user") &&
			strcmp(th_jstr(&r, "[vhost=shop]/user"), LINK_USER) == 0;
		th_http_free(&r);
		if (!found)
			th_sleep_ms(100);
	}
	ck_assert_msg(found, "no connection of user " LINK_USER " in vhost shop");
	amqp_queue_delete(c, 1, amqp_cstring_bytes("link-q"), 0, 0);
	th_close(c);
}
END_TEST

/* ---- x-tandem-queues ------------------------------------------------------------- */

/* Headers {x-tandem-queues: names, extra_key: "yes" (when given)}. */
static amqp_table_t targets_table(amqp_table_entry_t e[2], amqp_field_value_t *vals,
				  const char *const *names, size_t n, const char *extra_key)
{
	for (size_t i = 0; i < n; i++) {
		vals[i].kind = AMQP_FIELD_KIND_UTF8;
		vals[i].value.bytes = amqp_cstring_bytes(names[i]);
	}
	e[0].key = amqp_cstring_bytes("x-tandem-queues");
	e[0].value.kind = AMQP_FIELD_KIND_ARRAY;
	e[0].value.value.array = (amqp_array_t){ (int)n, vals };
	if (!extra_key)
		return (amqp_table_t){ 1, e };
	e[1].key = amqp_cstring_bytes(extra_key);
	e[1].value.kind = AMQP_FIELD_KIND_UTF8;
	e[1].value.value.bytes = amqp_cstring_bytes("yes");
	return (amqp_table_t){ 2, e };
}

static void publish_targets(amqp_connection_state_t c, const char *exchange, const char *key,
			    int mandatory, const char *const *names, size_t n,
			    const char *extra_key, const char *body)
{
	amqp_table_entry_t e[2];
	amqp_field_value_t vals[8];
	amqp_basic_properties_t p = { 0 };
	p._flags = AMQP_BASIC_HEADERS_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
	p.content_type = amqp_cstring_bytes("text/plain");
	p.headers = targets_table(e, vals, names, n, extra_key);
	th_publish_props(c, 1, exchange, key, mandatory, &p, amqp_cstring_bytes(body));
}

/* 1 when the message's headers have key. */
static int has_header(const amqp_message_t *m, const char *key)
{
	if (!(m->properties._flags & AMQP_BASIC_HEADERS_FLAG))
		return 0;
	for (int i = 0; i < m->properties.headers.num_entries; i++)
		if (th_bytes_eq(m->properties.headers.entries[i].key, key))
			return 1;
	return 0;
}

/* basic.get-ok of q: its exchange and routing key, the body. */
static void expect_get(amqp_connection_state_t c, const char *q, const char *body,
		       const char *exchange, const char *key, int keep_header)
{
	amqp_basic_get(c, 1, amqp_cstring_bytes(q), 1);
	amqp_rpc_reply_t r = amqp_get_rpc_reply(c);
	th_ok(r, "basic.get");
	ck_assert_msg(r.reply.id == AMQP_BASIC_GET_OK_METHOD, "nothing in %s", q);
	amqp_basic_get_ok_t *ok = r.reply.decoded;
	ck_assert_msg(th_bytes_eq(ok->exchange, exchange), "exchange of %s", q);
	ck_assert_msg(th_bytes_eq(ok->routing_key, key), "routing key of %s", q);
	amqp_message_t m;
	th_ok(amqp_read_message(c, 1, &m, 0), "read message");
	ck_assert(th_bytes_eq(m.body, body));
	ck_assert_msg(!has_header(&m, "x-tandem-queues"), "x-tandem-queues left in %s", q);
	ck_assert_int_eq(has_header(&m, "keep"), keep_header);
	if (!keep_header) /* the header was all there was: no table at all */
		ck_assert(!(m.properties._flags & AMQP_BASIC_HEADERS_FLAG));
	ck_assert(th_bytes_eq(m.properties.content_type, "text/plain"));
	amqp_destroy_message(&m);
}

START_TEST(targets_go_to_exactly_the_named_queues)
{
	amqp_connection_state_t c = link_login("/");
	th_queue(c, 1, "tq-1", 0, 0, 0, NULL, 0);
	th_queue(c, 1, "tq-2", 0, 0, 0, NULL, 0);
	th_queue(c, 1, "tq-3", 0, 0, 0, NULL, 0);
	const char *names[] = { "tq-1", "tq-3", "tq-missing", "tq-1" };
	/* an exchange that does not exist here, a key that routes nowhere */
	publish_targets(c, "no-such-exchange", "orig.key", 0, names, 4, "keep", "to 1 and 3");
	const char *only2[] = { "tq-2" };
	publish_targets(c, "amq.topic", "another.key", 0, only2, 1, NULL, "to 2");
	th_ok(th_sync(c, 1), "channel open");
	expect_get(c, "tq-1", "to 1 and 3", "no-such-exchange", "orig.key", 1);
	expect_get(c, "tq-3", "to 1 and 3", "no-such-exchange", "orig.key", 1);
	expect_get(c, "tq-2", "to 2", "amq.topic", "another.key", 0);
	th_assert_drained(c, 1, "tq-1"); /* once, though named twice */
	th_assert_drained(c, 1, "tq-2");
	th_assert_drained(c, 1, "tq-3");

	/* in a transaction: at commit */
	amqp_tx_select(c, 1);
	th_ok_last(c, "tx.select");
	publish_targets(c, "", "tq-1", 0, only2, 1, "keep", "tx");
	uint32_t msgs = 99;
	th_ok(th_queue_passive(c, 1, "tq-2", &msgs, NULL), "passive declare");
	ck_assert_uint_eq(msgs, 0); /* not before the commit */
	amqp_tx_commit(c, 1);
	th_ok_last(c, "tx.commit");
	expect_get(c, "tq-2", "tx", "", "tq-1", 1);
	th_ok(th_queue_passive(c, 1, "tq-1", &msgs, NULL), "passive declare");
	ck_assert_uint_eq(msgs, 0);
	for (int i = 1; i <= 3; i++) {
		char q[16];
		snprintf(q, sizeof(q), "tq-%d", i);
		amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	}
	th_close(c);
}
END_TEST

/* None of the named queues exists: unroutable, so mandatory returns it;
 * the confirm is a nack (the node that forwarded it expected the queue
 * here: a restart that has not made it again yet, or a deletion), so its
 * publisher publishes again instead of losing the message. */
START_TEST(targets_none_existing_is_unroutable)
{
	amqp_connection_state_t c = link_login("/");
	amqp_confirm_select(c, 1);
	th_ok_last(c, "confirm.select");
	const char *names[] = { "tq-nowhere" };
	publish_targets(c, "amq.direct", "k", 1, names, 1, "keep", "back");
	amqp_method_t m;
	ck_assert_int_eq(th_wait_method(c, 1, AMQP_BASIC_RETURN_METHOD, &m, 5000), 1);
	amqp_basic_return_t *r = m.decoded;
	ck_assert_uint_eq(r->reply_code, TH_NO_ROUTE);
	ck_assert(th_bytes_eq(r->exchange, "amq.direct"));
	ck_assert(th_bytes_eq(r->routing_key, "k"));
	amqp_message_t msg;
	th_ok(amqp_read_message(c, 1, &msg, 0), "read returned message");
	ck_assert(th_bytes_eq(msg.body, "back"));
	ck_assert(!has_header(&msg, "x-tandem-queues"));
	amqp_destroy_message(&msg);
	ck_assert_int_eq(th_wait_method(c, 1, AMQP_BASIC_NACK_METHOD, &m, 5000), 1);
	th_close(c);
}
END_TEST

/* A malformed x-tandem-queues on the link: 406, the channel closes. */
START_TEST(targets_not_an_array)
{
	amqp_connection_state_t c = link_login("/");
	amqp_table_entry_t e = { .key = amqp_cstring_bytes("x-tandem-queues") };
	e.value.kind = AMQP_FIELD_KIND_UTF8;
	e.value.value.bytes = amqp_cstring_bytes("tq-1");
	amqp_basic_properties_t p = { 0 };
	p._flags = AMQP_BASIC_HEADERS_FLAG;
	p.headers = (amqp_table_t){ 1, &e };
	th_publish_props(c, 1, "", "whatever", 0, &p, amqp_cstring_bytes("x"));
	th_expect_channel_close(c, 1, th_sync(c, 1), TH_PRECONDITION_FAILED);
	ck_assert_msg(strstr(th_last_close_text(), "x-tandem-queues"), "%s", th_last_close_text());
	th_close(c);
}
END_TEST

/* On the public port the header is an ordinary one: normal routing, the
 * header kept. */
START_TEST(targets_ignored_when_untrusted)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, "uq-1", 0, 0, 0, NULL, 0);
	th_queue(c, 1, "uq-2", 0, 0, 0, NULL, 0);
	const char *names[] = { "uq-1" };
	publish_targets(c, "", "uq-2", 0, names, 1, NULL, "normal");
	th_ok(th_sync(c, 1), "channel open");
	amqp_message_t m;
	ck_assert_int_eq(th_get_wait(c, 1, "uq-2", 1, &m, NULL, NULL, NULL, 5000), 1);
	ck_assert(th_bytes_eq(m.body, "normal"));
	ck_assert(has_header(&m, "x-tandem-queues"));
	amqp_destroy_message(&m);
	th_assert_drained(c, 1, "uq-1");
	amqp_queue_delete(c, 1, amqp_cstring_bytes("uq-1"), 0, 0);
	amqp_queue_delete(c, 1, amqp_cstring_bytes("uq-2"), 0, 0);
	th_close(c);
}
END_TEST

int main(void)
{
	if (getenv("TANDEM_TEST_BROKER") && *getenv("TANDEM_TEST_BROKER")) {
		printf("SKIP: the cluster link of a tandemd (TANDEM_TEST_BROKER is set)\n");
		return 77;
	}
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(tmpdir, sizeof(tmpdir), "%s/tandem-linkamqp.XXXXXX", tmp);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 99;
	}
	snprintf(secret_file, sizeof(secret_file), "%s/secret", tmpdir);
	int fd = open(secret_file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, SECRET "\n", strlen(SECRET) + 1) != (ssize_t)strlen(SECRET) + 1 ||
	    fchmod(fd, 0600) < 0) {
		perror(secret_file);
		return 99;
	}
	close(fd);
	link_port = su_free_port();
	int http_port = su_free_port();
	if (link_port <= 0 || http_port <= 0) {
		fprintf(stderr, "no free port\n");
		return 99;
	}
	char lp[16], hp[16];
	snprintf(lp, sizeof(lp), "%d", link_port);
	snprintf(hp, sizeof(hp), "%d", http_port);
	th_http_port(http_port);
	const char *args[] = { "--cluster-port", lp, "--cluster-secret-file", secret_file,
			       "--vhosts", "shop", "--http-port", hp, NULL };
	th_start_with_args(args);
	Suite *s = suite_create("cluster-link-amqp");
	TCase *tc = th_tcase("link-amqp");
	tcase_add_test(tc, link_offers_plain_only);
	tcase_add_test(tc, link_refusals);
	tcase_add_test(tc, kafka_on_the_same_port);
	tcase_add_test(tc, link_user_cannot_be_created);
	tcase_add_test(tc, link_acts_as_the_broker);
	tcase_add_test(tc, targets_go_to_exactly_the_named_queues);
	tcase_add_test(tc, targets_none_existing_is_unroutable);
	tcase_add_test(tc, targets_not_an_array);
	tcase_add_test(tc, targets_ignored_when_untrusted);
	suite_add_tcase(s, tc);
	int rc = th_run_suite(s);
	su_rm_tree(tmpdir);
	return rc;
}
