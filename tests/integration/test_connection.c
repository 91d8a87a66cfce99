/* Integration tests: connection and channel lifecycle as a client sees it.
 * Protocol negotiation (start/tune/open), authentication, vhosts, server
 * properties, channel_max / frame_max / heartbeat negotiation, channel
 * open/close/flow. (Heartbeat and handshake timing: test_heartbeat.c.)
 * Every expectation was checked against RabbitMQ 3.10 (tests/rabbitmq/). */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- login --------------------------------------------------------------- */

START_TEST(login_ok)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_channel_close(c, 1);
	th_close(c);
}
END_TEST

/* Wrong password. rabbitmq-c advertises authentication_failure_close, so the
 * server answers start-ok with connection.close 403 ACCESS_REFUSED instead of
 * silently dropping the socket. rabbitmq-c 0.11 surfaces that as a server
 * exception carrying the connection.close method. */
START_TEST(login_bad_password)
{
	struct th_login o = {.password = "not-the-password"};
	amqp_rpc_reply_t r;
	amqp_connection_state_t c = th_connect_opts(&o, &r);
	th_expect_connection_close(c, r, TH_ACCESS_REFUSED);
	ck_assert_msg(strstr(th_last_close_text(), "ACCESS_REFUSED") == th_last_close_text(),
		      "reply text should start with ACCESS_REFUSED: %s", th_last_close_text());
	th_destroy(c);
	th_assert_broker_alive();
}
END_TEST

START_TEST(login_unknown_user)
{
	char user[64];
	struct th_login o = {.user = th_name(user, sizeof(user), "nobody"), .password = "x"};
	amqp_rpc_reply_t r;
	amqp_connection_state_t c = th_connect_opts(&o, &r);
	th_expect_connection_close(c, r, TH_ACCESS_REFUSED);
	th_destroy(c);
}
END_TEST

/* connection.open for a vhost that does not exist: 530 NOT_ALLOWED. */
START_TEST(vhost_missing)
{
	char vh[64];
	struct th_login o = {.vhost = th_name(vh, sizeof(vh), "no-such-vhost")};
	amqp_rpc_reply_t r;
	amqp_connection_state_t c = th_connect_opts(&o, &r);
	th_expect_connection_close(c, r, TH_NOT_ALLOWED);
	ck_assert_msg(strstr(th_last_close_text(), "NOT_ALLOWED") == th_last_close_text(), "text: %s",
		      th_last_close_text());
	th_destroy(c);
}
END_TEST

/* ---- server properties ----------------------------------------------------- */

static const amqp_field_value_t *table_get(const amqp_table_t *t, const char *key)
{
	for (int i = 0; i < t->num_entries; i++)
		if (th_bytes_eq(t->entries[i].key, key))
			return &t->entries[i].value;
	return NULL;
}

START_TEST(server_properties_capabilities)
{
	static const char *const caps[] = {
		"publisher_confirms",	  "exchange_exchange_bindings", "basic.nack",	    "consumer_cancel_notify",
		"connection.blocked",	  "authentication_failure_close", "per_consumer_qos",
		"consumer_priorities", "direct_reply_to",
	};
	amqp_connection_state_t c = th_connect();
	const amqp_table_t *props = amqp_get_server_properties(c);
	ck_assert_ptr_nonnull(props);
	const amqp_field_value_t *v = table_get(props, "capabilities");
	ck_assert_msg(v != NULL && v->kind == AMQP_FIELD_KIND_TABLE, "server properties lack a capabilities table");
	for (size_t i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		const amqp_field_value_t *cap = table_get(&v->value.table, caps[i]);
		ck_assert_msg(cap != NULL, "capability %s missing", caps[i]);
		ck_assert_msg(cap->kind == AMQP_FIELD_KIND_BOOLEAN && cap->value.boolean, "capability %s not true",
			      caps[i]);
	}
	/* RabbitMQ 3.x: clients (kombu) choose their basic.qos from these two */
	v = table_get(props, "product");
	ck_assert_msg(v != NULL && v->kind == AMQP_FIELD_KIND_UTF8 && th_bytes_eq(v->value.bytes, "RabbitMQ"),
		      "product is not RabbitMQ");
	v = table_get(props, "version");
	ck_assert_msg(v != NULL && v->kind == AMQP_FIELD_KIND_UTF8 && v->value.bytes.len >= 4 &&
			      memcmp(v->value.bytes.bytes, "3.", 2) == 0,
		      "version is not 3.x");
	th_close(c);
}
END_TEST

/* connection.start over a raw socket: version 0-9, PLAIN and AMQPLAIN offered,
 * en_US locale, capabilities in server-properties. */
START_TEST(connection_start_fields)
{
	int fd = th_raw_connect();
	th_raw_send(fd, "AMQP\x00\x00\x09\x01", 8);
	struct th_raw_frame f;
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	ck_assert_uint_eq(f.type, 1);
	ck_assert_uint_eq(f.channel, 0);
	ck_assert_uint_eq(th_raw_class(&f), 10);
	ck_assert_uint_eq(th_raw_method(&f), 10);
	ck_assert_uint_eq(f.end, 0xCE);
	const uint8_t *p = f.payload + 4;
	ck_assert_uint_eq(p[0], 0); /* version-major */
	ck_assert_uint_eq(p[1], 9); /* version-minor */
	p += 2;
	uint32_t tlen = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
	const uint8_t *table = p + 4;
	uint8_t type;
	const uint8_t *val;
	uint32_t vlen;
	ck_assert_int_eq(th_raw_table_find(table, tlen, "capabilities", &type, &val, &vlen), 1);
	ck_assert_uint_eq(type, 'F');
	uint8_t ctype;
	const uint8_t *cval;
	uint32_t cvlen;
	ck_assert_int_eq(th_raw_table_find(val, vlen, "publisher_confirms", &ctype, &cval, &cvlen), 1);
	ck_assert_uint_eq(ctype, 't');
	ck_assert_uint_eq(cval[0], 1);
	p = table + tlen;
	uint32_t mlen = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
	char mech[256] = "";
	snprintf(mech, sizeof(mech), "%.*s", (int)mlen, (const char *)p + 4);
	/* space-separated list */
	char padded[300];
	snprintf(padded, sizeof(padded), " %s ", mech);
	ck_assert_msg(strstr(padded, " PLAIN ") != NULL, "mechanisms '%s' lack PLAIN", mech);
	ck_assert_msg(strstr(padded, " AMQPLAIN ") != NULL, "mechanisms '%s' lack AMQPLAIN", mech);
	p += 4 + mlen;
	uint32_t llen = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
	char loc[256];
	snprintf(loc, sizeof(loc), "%.*s", (int)llen, (const char *)p + 4);
	ck_assert_msg(strstr(loc, "en_US") != NULL, "locales '%s' lack en_US", loc);
	ck_assert_uint_eq((size_t)(p + 4 + llen - f.payload), f.size);
	th_raw_frame_free(&f);
	close(fd);
}
END_TEST

/* AMQPLAIN: the response is a field table (without its length prefix) with
 * LOGIN and PASSWORD. rabbitmq-c only speaks PLAIN, so this is raw. */
static int raw_login(const char *mechanism, const void *response, uint32_t rlen, int with_caps)
{
	int fd = th_raw_connect();
	th_raw_send(fd, "AMQP\x00\x00\x09\x01", 8);
	struct th_raw_frame f;
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	th_raw_frame_free(&f);
	struct th_buf b = {.len = 0};
	th_put16(&b, 10);
	th_put16(&b, 11);
	if (with_caps) {
		struct th_buf t = {.len = 0};
		th_put_shortstr(&t, "authentication_failure_close");
		th_put8(&t, 't');
		th_put8(&t, 1);
		struct th_buf outer = {.len = 0};
		th_put_shortstr(&outer, "capabilities");
		th_put8(&outer, 'F');
		th_put32(&outer, (uint32_t)t.len);
		th_put_bytes(&outer, t.data, t.len);
		th_put32(&b, (uint32_t)outer.len);
		th_put_bytes(&b, outer.data, outer.len);
	} else {
		th_put32(&b, 0);
	}
	th_put_shortstr(&b, mechanism);
	th_put_longstr(&b, response, rlen);
	th_put_shortstr(&b, "en_US");
	th_raw_send_frame(fd, 1, 0, b.data, (uint32_t)b.len);
	return fd;
}

static void amqplain_response(struct th_buf *r, const char *user, const char *pass)
{
	th_put_shortstr(r, "LOGIN");
	th_put8(r, 'S');
	th_put_longstr(r, user, (uint32_t)strlen(user));
	th_put_shortstr(r, "PASSWORD");
	th_put8(r, 'S');
	th_put_longstr(r, pass, (uint32_t)strlen(pass));
}

START_TEST(login_amqplain)
{
	struct th_buf r = {.len = 0};
	amqplain_response(&r, "guest", "guest");
	int fd = raw_login("AMQPLAIN", r.data, (uint32_t)r.len, 1);
	struct th_raw_frame f;
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	ck_assert_uint_eq(th_raw_class(&f), 10);
	ck_assert_uint_eq(th_raw_method(&f), 30); /* connection.tune */
	th_raw_frame_free(&f);
	close(fd);
}
END_TEST

START_TEST(login_amqplain_bad_password)
{
	struct th_buf r = {.len = 0};
	amqplain_response(&r, "guest", "wrong");
	int fd = raw_login("AMQPLAIN", r.data, (uint32_t)r.len, 1);
	char text[256];
	int code = th_raw_expect_connection_close(fd, 5000, NULL, NULL, text, sizeof(text));
	ck_assert_msg(code == TH_ACCESS_REFUSED, "expected connection.close 403, got %d (%s)", code, text);
	close(fd);
}
END_TEST

/* A client that did not advertise authentication_failure_close gets no
 * connection.close on a failed login: the server just closes the socket
 * (AMQP 0-9-1 says so; RabbitMQ does it). */
START_TEST(login_failure_without_capability_closes_socket)
{
	int fd = raw_login("PLAIN", "\0guest\0wrong", 12, 0);
	struct th_raw_frame f;
	int rc = th_raw_read_frame(fd, &f, 10000);
	ck_assert_msg(rc == 0, "expected the socket to close without a frame, got rc %d type %u method %u.%u", rc,
		      f.type, rc == 1 ? th_raw_class(&f) : 0, rc == 1 ? th_raw_method(&f) : 0);
	close(fd);
}
END_TEST

/* An unknown SASL mechanism in start-ok. RabbitMQ 3.10 sends no
 * connection.close before tuning (except for an authentication failure with
 * the capability above): it waits about 3 s (its "silent close delay",
 * against login flooding) and closes the socket. */
START_TEST(login_unknown_mechanism)
{
	int fd = raw_login("CRAM-MD5", "x", 1, 1);
	struct th_raw_frame f;
	int rc = th_raw_read_frame(fd, &f, 10000);
	ck_assert_msg(rc == 0, "expected a silent close, got rc %d type %u method %u.%u", rc, f.type,
		      rc == 1 ? th_raw_class(&f) : 0, rc == 1 ? th_raw_method(&f) : 0);
	close(fd);
	th_assert_broker_alive();
}
END_TEST

/* ---- tune negotiation ---------------------------------------------------------- */

START_TEST(tune_smaller_values)
{
	struct th_login o = {.channel_max = 10, .frame_max = 8192, .heartbeat = 7};
	amqp_rpc_reply_t r;
	amqp_connection_state_t c = th_connect_opts(&o, &r);
	th_ok(r, "login");
	ck_assert_int_eq(amqp_get_channel_max(c), 10);
	ck_assert_int_eq(amqp_get_frame_max(c), 8192);
	ck_assert_int_eq(amqp_get_heartbeat(c), 7);
	/* The negotiated limits hold: channel 10 opens; a 100 KB message
	 * travels in frames of at most 8192 bytes both ways. */
	th_channel(c, 10);
	char q[128];
	th_queue(c, 10, th_name(q, sizeof(q), "tune"), 0, 1, 0, NULL, 0);
	size_t n = 100000;
	char *body = malloc(n);
	for (size_t i = 0; i < n; i++)
		body[i] = (char)('a' + i % 26);
	amqp_basic_properties_t p = {._flags = 0};
	th_publish_props(c, 10, "", q, 0, &p, (amqp_bytes_t){.len = n, .bytes = body});
	amqp_message_t m;
	ck_assert_int_eq(th_get(c, 10, q, 1, &m, NULL, NULL, NULL), 1);
	ck_assert_uint_eq(m.body.len, n);
	ck_assert(memcmp(m.body.bytes, body, n) == 0);
	amqp_destroy_message(&m);
	free(body);
	th_close(c);
}
END_TEST

/* The server offers its limits in connection.tune; the raw handshake
 * accepting them works, and the server never sends a frame larger than the
 * negotiated frame_max. */
START_TEST(tune_frame_max_respected_by_server)
{
	uint16_t sch;
	uint32_t sfm;
	uint16_t shb;
	int fd = th_raw_handshake(0, 4096, 0, 1, &sch, &sfm, &shb);
	ck_assert_uint_gt(sch, 0);
	ck_assert_uint_ge(sfm, 4096);
	char q[128];
	th_name(q, sizeof(q), "fm");
	/* queue.declare q (exclusive) */
	struct th_buf b = {.len = 0};
	th_put16(&b, 50);
	th_put16(&b, 10);
	th_put16(&b, 0);
	th_put_shortstr(&b, q);
	th_put8(&b, 0x04); /* exclusive */
	th_put32(&b, 0);
	th_raw_send_frame(fd, 1, 1, b.data, (uint32_t)b.len);
	struct th_raw_frame f;
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	ck_assert_uint_eq(th_raw_class(&f), 50);
	ck_assert_uint_eq(th_raw_method(&f), 11);
	th_raw_frame_free(&f);
	/* basic.publish "" q, 20000-byte body in 5 body frames of <= 4088 bytes */
	b.len = 0;
	th_put16(&b, 60);
	th_put16(&b, 40);
	th_put16(&b, 0);
	th_put_shortstr(&b, "");
	th_put_shortstr(&b, q);
	th_put8(&b, 0);
	th_raw_send_frame(fd, 1, 1, b.data, (uint32_t)b.len);
	uint32_t total = 20000;
	b.len = 0;
	th_put16(&b, 60);
	th_put16(&b, 0);
	th_put64(&b, total);
	th_put16(&b, 0);
	th_raw_send_frame(fd, 2, 1, b.data, (uint32_t)b.len);
	static uint8_t body[20000];
	memset(body, 'z', sizeof(body));
	for (uint32_t off = 0; off < total; off += 4088) {
		uint32_t n = total - off < 4088 ? total - off : 4088;
		th_raw_send_frame(fd, 3, 1, body + off, n);
	}
	/* basic.get no-ack */
	b.len = 0;
	th_put16(&b, 60);
	th_put16(&b, 70);
	th_put16(&b, 0);
	th_put_shortstr(&b, q);
	th_put8(&b, 1);
	th_raw_send_frame(fd, 1, 1, b.data, (uint32_t)b.len);
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	ck_assert_uint_eq(th_raw_method(&f), 71); /* get-ok */
	th_raw_frame_free(&f);
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	ck_assert_uint_eq(f.type, 2);
	th_raw_frame_free(&f);
	uint32_t got = 0;
	while (got < total) {
		ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
		ck_assert_uint_eq(f.type, 3);
		ck_assert_uint_le(f.size + 8u, 4096);
		ck_assert_uint_eq(f.end, 0xCE);
		got += f.size;
		th_raw_frame_free(&f);
	}
	ck_assert_uint_eq(got, total);
	close(fd);
}
END_TEST

/* Send start-ok (PLAIN guest), read tune, answer tune-ok with the given
 * values (server's value where the argument is -1) and connection.open. */
static int raw_tune(long channel_max, long frame_max, int heartbeat, uint16_t *srv_ch, uint32_t *srv_fm)
{
	int fd = th_raw_connect();
	th_raw_send(fd, "AMQP\x00\x00\x09\x01", 8);
	struct th_raw_frame f;
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	th_raw_frame_free(&f);
	struct th_buf b = {.len = 0};
	th_put16(&b, 10);
	th_put16(&b, 11);
	th_put32(&b, 0);
	th_put_shortstr(&b, "PLAIN");
	th_put_longstr(&b, "\0guest\0guest", 12);
	th_put_shortstr(&b, "en_US");
	th_raw_send_frame(fd, 1, 0, b.data, (uint32_t)b.len);
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	ck_assert_uint_eq(th_raw_class(&f), 10);
	ck_assert_uint_eq(th_raw_method(&f), 30);
	uint16_t sch = (uint16_t)((f.payload[4] << 8) | f.payload[5]);
	uint32_t sfm = ((uint32_t)f.payload[6] << 24) | ((uint32_t)f.payload[7] << 16) |
		       ((uint32_t)f.payload[8] << 8) | f.payload[9];
	th_raw_frame_free(&f);
	if (srv_ch)
		*srv_ch = sch;
	if (srv_fm)
		*srv_fm = sfm;
	b.len = 0;
	th_put16(&b, 10);
	th_put16(&b, 31);
	th_put16(&b, channel_max < 0 ? sch : (uint16_t)channel_max);
	th_put32(&b, frame_max < 0 ? sfm : (uint32_t)frame_max);
	th_put16(&b, (uint16_t)heartbeat);
	th_raw_send_frame(fd, 1, 0, b.data, (uint32_t)b.len);
	b.len = 0;
	th_put16(&b, 10);
	th_put16(&b, 40);
	th_put_shortstr(&b, "/");
	th_put_shortstr(&b, "");
	th_put8(&b, 0);
	th_raw_send_frame(fd, 1, 0, b.data, (uint32_t)b.len);
	return fd;
}

/* tune-ok values outside what the server offered. RabbitMQ 3.10 rejects
 * them without a connection.close: the socket is closed after its ~3 s
 * silent-close delay, connection.open is never answered. Rejected:
 * frame_max above the offer, frame_max below the 4096 minimum, frame_max 0
 * ("no limit") when the server offered a limit, channel_max above the
 * offer, and channel_max 0 ("no limit") when the server offered a limit. */
static void expect_silent_close(int fd)
{
	struct th_raw_frame f;
	int rc = th_raw_read_frame(fd, &f, 10000);
	ck_assert_msg(rc == 0, "expected the socket closed without a reply, got rc %d type %u method %u.%u", rc,
		      f.type, rc == 1 ? th_raw_class(&f) : 0, rc == 1 ? th_raw_method(&f) : 0);
	close(fd);
}

START_TEST(tune_ok_frame_max_too_big)
{
	uint32_t sfm = 0;
	int fd = raw_tune(-1, -2, 0, NULL, &sfm);
	close(fd);
	ck_assert_uint_gt(sfm, 4096);
	expect_silent_close(raw_tune(-1, (long)sfm + 1, 0, NULL, NULL));
}
END_TEST

START_TEST(tune_ok_frame_max_too_small)
{
	expect_silent_close(raw_tune(-1, 4095, 0, NULL, NULL));
}
END_TEST

START_TEST(tune_ok_frame_max_zero)
{
	expect_silent_close(raw_tune(-1, 0, 0, NULL, NULL));
}
END_TEST

START_TEST(tune_ok_channel_max_too_big)
{
	uint16_t sch = 0;
	int fd = raw_tune(-1, -1, 0, &sch, NULL);
	close(fd);
	ck_assert_uint_gt(sch, 0);
	ck_assert_uint_lt(sch, 65535);
	expect_silent_close(raw_tune(sch + 1, -1, 0, NULL, NULL));
}
END_TEST

START_TEST(tune_ok_channel_max_zero)
{
	expect_silent_close(raw_tune(0, -1, 0, NULL, NULL));
}
END_TEST

/* Accepting the offer (and frame_max exactly 4096) works. */
START_TEST(tune_ok_accepted)
{
	int fd = raw_tune(-1, 4096, 0, NULL, NULL);
	struct th_raw_frame f;
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	ck_assert_uint_eq(th_raw_class(&f), 10);
	ck_assert_uint_eq(th_raw_method(&f), 41);
	th_raw_frame_free(&f);
	close(fd);
}
END_TEST

/* channel_max limits how many channels are open at once, not the channel
 * number: with channel_max 5, RabbitMQ 3.10 opens channel 65535 and channel
 * 100, and refuses the 6th concurrently open channel with connection.close
 * 530 NOT_ALLOWED ("number of channels opened (5) has reached the
 * negotiated channel_max (5)"), class/method 0/0. */
START_TEST(channel_max_counts_open_channels)
{
	int fd = th_raw_handshake(5, 0, 0, 0, NULL, NULL, NULL);
	static const uint16_t chans[] = {65535, 100, 6, 1, 2};
	struct th_buf b = {.len = 0};
	th_put16(&b, 20);
	th_put16(&b, 10);
	th_put_shortstr(&b, "");
	for (size_t i = 0; i < sizeof(chans) / sizeof(chans[0]); i++) {
		th_raw_send_frame(fd, 1, chans[i], b.data, (uint32_t)b.len);
		struct th_raw_frame f;
		ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
		ck_assert_msg(f.channel == chans[i] && th_raw_class(&f) == 20 && th_raw_method(&f) == 11,
			      "channel.open %u: got method %u.%u on channel %u", chans[i], th_raw_class(&f),
			      th_raw_method(&f), f.channel);
		th_raw_frame_free(&f);
	}
	th_raw_send_frame(fd, 1, 3, b.data, (uint32_t)b.len);
	char text[256];
	uint16_t cls = 99, mth = 99;
	int code = th_raw_expect_connection_close(fd, 5000, &cls, &mth, text, sizeof(text));
	ck_assert_msg(code == TH_NOT_ALLOWED, "expected connection.close 530, got %d (%s)", code, text);
	ck_assert_uint_eq(cls, 0);
	ck_assert_uint_eq(mth, 0);
	close(fd);
	th_assert_broker_alive();
}
END_TEST

/* ---- channels ------------------------------------------------------------------ */

START_TEST(channel_open_close_reopen)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_channel_close(c, 1);
	th_channel(c, 1);
	th_channel(c, 2);
	th_channel_close(c, 2);
	th_channel_close(c, 1);
	th_close(c);
}
END_TEST

/* channel.open on a channel that is already open: connection.close 504
 * CHANNEL_ERROR (a connection-level error in RabbitMQ). */
START_TEST(channel_open_twice)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 3);
	amqp_channel_open(c, 3);
	th_expect_connection_close(c, amqp_get_rpc_reply(c), TH_CHANNEL_ERROR);
	th_destroy(c);
	th_assert_broker_alive();
}
END_TEST

/* A method on a channel that was closed: connection.close 504 CHANNEL_ERROR. */
START_TEST(use_closed_channel)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_channel_close(c, 1);
	char q[128];
	amqp_queue_declare(c, 1, amqp_cstring_bytes(th_name(q, sizeof(q), "closed")), 0, 0, 1, 0,
			   amqp_empty_table);
	th_expect_connection_close(c, amqp_get_rpc_reply(c), TH_CHANNEL_ERROR);
	th_destroy(c);
}
END_TEST

START_TEST(many_channels)
{
	enum { N = 200 };
	amqp_connection_state_t c = th_connect();
	char q[N][64];
	for (int ch = 1; ch <= N; ch++) {
		th_channel(c, (amqp_channel_t)ch);
		th_queue(c, (amqp_channel_t)ch, th_name(q[ch - 1], sizeof(q[0]), "many"), 0, 1, 0, NULL, 0);
	}
	for (int ch = 1; ch <= N; ch++) {
		char body[32];
		snprintf(body, sizeof(body), "msg on %d", ch);
		/* publish on channel ch to the queue declared on channel N+1-ch */
		th_publish(c, (amqp_channel_t)ch, "", q[N - ch], body);
	}
	for (int ch = 1; ch <= N; ch++) {
		amqp_message_t m;
		char want[32], got[64];
		snprintf(want, sizeof(want), "msg on %d", N + 1 - ch);
		/* published on another channel: arrival is not ordered with this one */
		ck_assert_int_eq(th_get_wait(c, (amqp_channel_t)ch, q[ch - 1], 1, &m, NULL, NULL, NULL, 5000), 1);
		ck_assert_str_eq(th_body(&m.body, got, sizeof(got)), want);
		amqp_destroy_message(&m);
	}
	/* close every other channel; the rest keep working */
	for (int ch = 1; ch <= N; ch += 2)
		th_channel_close(c, (amqp_channel_t)ch);
	for (int ch = 2; ch <= N; ch += 2)
		th_ok(th_sync(c, (amqp_channel_t)ch), "sync");
	th_close(c);
}
END_TEST

/* channel.flow active=true is acknowledged with flow-ok active=true. */
START_TEST(channel_flow_active)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	amqp_channel_flow_t req = {.active = 1};
	amqp_channel_flow_ok_t *ok =
		amqp_simple_rpc_decoded(c, 1, AMQP_CHANNEL_FLOW_METHOD, AMQP_CHANNEL_FLOW_OK_METHOD, &req);
	th_ok_last(c, "channel.flow");
	ck_assert_ptr_nonnull(ok);
	ck_assert_int_eq(ok->active, 1);
	th_close(c);
}
END_TEST

/* channel.flow active=false: RabbitMQ does not implement client-initiated
 * flow control and closes the connection with 540 NOT_IMPLEMENTED. */
START_TEST(channel_flow_inactive)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	amqp_channel_flow_t req = {.active = 0};
	amqp_simple_rpc_decoded(c, 1, AMQP_CHANNEL_FLOW_METHOD, AMQP_CHANNEL_FLOW_OK_METHOD, &req);
	th_expect_connection_close(c, amqp_get_rpc_reply(c), TH_NOT_IMPLEMENTED);
	th_destroy(c);
}
END_TEST

/* access.request (deprecated in 0-9-1, still sent by old clients) is
 * answered with access.request-ok, ticket 1. */
START_TEST(access_request_ok)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	amqp_access_request_t req;
	memset(&req, 0, sizeof(req));
	req.realm = amqp_cstring_bytes("/data");
	req.exclusive = 0;
	req.passive = 1;
	req.active = 1;
	req.write = 1;
	req.read = 1;
	amqp_access_request_ok_t *ok =
		amqp_simple_rpc_decoded(c, 1, AMQP_ACCESS_REQUEST_METHOD, AMQP_ACCESS_REQUEST_OK_METHOD, &req);
	th_ok_last(c, "access.request");
	ck_assert_ptr_nonnull(ok);
	ck_assert_uint_eq(ok->ticket, 1);
	th_ok(th_sync(c, 1), "channel usable");
	th_close(c);
}
END_TEST

/* connection.close from the client is answered with close-ok. (RabbitMQ
 * then leaves closing the socket to the client, so that is not asserted.) */
START_TEST(client_connection_close)
{
	int fd = th_raw_handshake(0, 0, 0, 1, NULL, NULL, NULL);
	struct th_buf b = {.len = 0};
	th_put16(&b, 10);
	th_put16(&b, 50);
	th_put16(&b, 200);
	th_put_shortstr(&b, "bye");
	th_put16(&b, 0);
	th_put16(&b, 0);
	th_raw_send_frame(fd, 1, 0, b.data, (uint32_t)b.len);
	struct th_raw_frame f;
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	ck_assert_uint_eq(f.channel, 0);
	ck_assert_uint_eq(th_raw_class(&f), 10);
	ck_assert_uint_eq(th_raw_method(&f), 51);
	th_raw_frame_free(&f);
	close(fd);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("connection");
	TCase *tc = th_tcase("login");
	tcase_add_test(tc, login_ok);
	tcase_add_test(tc, login_bad_password);
	tcase_add_test(tc, login_unknown_user);
	tcase_add_test(tc, vhost_missing);
	tcase_add_test(tc, server_properties_capabilities);
	tcase_add_test(tc, connection_start_fields);
	tcase_add_test(tc, login_amqplain);
	tcase_add_test(tc, login_amqplain_bad_password);
	tcase_add_test(tc, login_failure_without_capability_closes_socket);
	tcase_add_test(tc, login_unknown_mechanism);
	suite_add_tcase(s, tc);

	tc = th_tcase("tune");
	tcase_add_test(tc, tune_smaller_values);
	tcase_add_test(tc, tune_frame_max_respected_by_server);
	tcase_add_test(tc, tune_ok_frame_max_too_big);
	tcase_add_test(tc, tune_ok_frame_max_too_small);
	tcase_add_test(tc, tune_ok_frame_max_zero);
	tcase_add_test(tc, tune_ok_channel_max_too_big);
	tcase_add_test(tc, tune_ok_channel_max_zero);
	tcase_add_test(tc, tune_ok_accepted);
	tcase_add_test(tc, channel_max_counts_open_channels);
	suite_add_tcase(s, tc);

	tc = th_tcase("channel");
	tcase_add_test(tc, channel_open_close_reopen);
	tcase_add_test(tc, channel_open_twice);
	tcase_add_test(tc, use_closed_channel);
	tcase_add_test(tc, many_channels);
	tcase_add_test(tc, channel_flow_active);
	tcase_add_test(tc, channel_flow_inactive);
	tcase_add_test(tc, client_connection_close);
	tcase_add_test(tc, access_request_ok);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(suite());
}
