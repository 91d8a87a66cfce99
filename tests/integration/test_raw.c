/* Integration tests: raw bytes on the socket. Protocol header negotiation
 * and malformed or out-of-order frames, each answered as RabbitMQ 3.10
 * answers it (reply code, and the class/method ids it reports), without
 * disturbing another connection that is open at the same time.
 *
 * Findings from RabbitMQ 3.10.8 that these tests pin down:
 *  - any header other than AMQP 0-9-1 (0-8, 0-9-0, 1.0, HTTP) gets
 *    "AMQP\0\0\x09\x01" back and the socket closed, except "AMQP\1\1\0\x09"
 *    (the 0-9 header), which RabbitMQ serves as 0-9-1;
 *  - undecodable method arguments are 501 FRAME_ERROR ("cannot decode"),
 *    reported with the method's class/method ids, not 502 SYNTAX_ERROR;
 *  - a frame whose payload exceeds frame_max is 501, detected from the frame
 *    header alone; payloads between frame_max - 8 (the spec's limit) and
 *    frame_max are tolerated;
 *  - heartbeat on a non-zero channel is 505, a heartbeat with payload 501;
 *  - a connection-class method on channel 1 is 503 COMMAND_INVALID, a
 *    channel-level method on channel 0 is 504 CHANNEL_ERROR;
 *  - an unknown class or method id, or an undecodable field table in method
 *    arguments, crashes RabbitMQ's reader: the socket is reset with no
 *    connection.close at all. Those tests accept that or a connection.close
 *    with a fitting code (a clear close reason is better and still looks
 *    the same to a client: the connection is gone);
 *  - an undecodable table in the content header's `headers` property is
 *    connection.close 541 INTERNAL_ERROR.
 */
#include "harness.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---- protocol header ---------------------------------------------------- */

struct header_case {
	const char *name;
	const char *bytes;
	size_t len;
};

static const struct header_case bad_headers[] = {
	{"amqp-0-8-0", "AMQP\x00\x00\x08\x00", 8},
	{"amqp-0-9-0", "AMQP\x00\x00\x09\x00", 8},
	{"amqp-1-0", "AMQP\x00\x01\x00\x00", 8},
	{"amqp-1-0-tls", "AMQP\x02\x01\x00\x00", 8},
	{"amqp-9-9-9", "AMQP\x00\x09\x09\x09", 8},
	{"http", "HTTP/1.1", 8},
	{"http-get", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27},
	{"lowercase", "amqp\x00\x00\x09\x01", 8},
};

/* A wrong header: the server answers with its own header and closes. */
START_TEST(header_rejected)
{
	const struct header_case *h = &bad_headers[_i];
	int fd = th_raw_connect();
	th_raw_send(fd, h->bytes, h->len);
	char got[8];
	long n = th_raw_read(fd, got, 8, 5000);
	ck_assert_msg(n == 8, "%s: expected 8 header bytes back, got %ld", h->name, n);
	ck_assert_msg(memcmp(got, "AMQP\x00\x00\x09\x01", 8) == 0, "%s: wrong header back", h->name);
	ck_assert_msg(th_raw_wait_closed(fd, 5000), "%s: socket not closed after header", h->name);
	close(fd);
}
END_TEST

static void expect_start(int fd)
{
	struct th_raw_frame f;
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	ck_assert_uint_eq(f.type, 1);
	ck_assert_uint_eq(th_raw_class(&f), 10);
	ck_assert_uint_eq(th_raw_method(&f), 10);
	ck_assert_uint_eq(f.payload[4], 0);
	ck_assert_uint_eq(f.payload[5], 9);
	th_raw_frame_free(&f);
}

/* The 0-9 header ("AMQP" 1 1 0 9) is served as 0-9-1 by RabbitMQ. */
START_TEST(header_0_9_served_as_0_9_1)
{
	int fd = th_raw_connect();
	th_raw_send(fd, "AMQP\x01\x01\x00\x09", 8);
	expect_start(fd);
	close(fd);
}
END_TEST

/* The header may arrive in pieces. */
START_TEST(header_byte_by_byte)
{
	int fd = th_raw_connect();
	const char *h = "AMQP\x00\x00\x09\x01";
	for (int i = 0; i < 8; i++) {
		th_raw_send(fd, h + i, 1);
		th_sleep_ms(20);
	}
	expect_start(fd);
	close(fd);
}
END_TEST

/* ---- malformed frames on an open connection ---------------------------- */

#define ANY_CODE (-1)

struct frame_case {
	const char *name;
	void (*send)(int fd);
	int code;         /* expected connection.close code; ANY_CODE: see alt */
	int alt[3];       /* when code == ANY_CODE: a silent close (0) or one of these */
	uint16_t cls, mth; /* class/method ids the close reports */
};

static void put_method(struct th_buf *b, uint16_t cls, uint16_t mth)
{
	b->len = 0;
	th_put16(b, cls);
	th_put16(b, mth);
}

static void send_queue_declare(int fd, uint16_t channel)
{
	struct th_buf b;
	put_method(&b, 50, 10);
	th_put16(&b, 0);
	th_put_shortstr(&b, "raw-q");
	th_put8(&b, 0x08); /* auto-delete */
	th_put32(&b, 0);
	th_raw_send_frame(fd, 1, channel, b.data, (uint32_t)b.len);
}

static void send_publish(int fd, uint16_t channel)
{
	struct th_buf b;
	put_method(&b, 60, 40);
	th_put16(&b, 0);
	th_put_shortstr(&b, "");
	th_put_shortstr(&b, "raw-nowhere");
	th_put8(&b, 0);
	th_raw_send_frame(fd, 1, channel, b.data, (uint32_t)b.len);
}

static void send_content_header(int fd, uint16_t channel, uint16_t cls, uint64_t size)
{
	struct th_buf b = {.len = 0};
	th_put16(&b, cls);
	th_put16(&b, 0);
	th_put64(&b, size);
	th_put16(&b, 0);
	th_raw_send_frame(fd, 2, channel, b.data, (uint32_t)b.len);
}

static void bad_frame_end(int fd)
{
	uint8_t f[] = {1, 0, 1, 0, 0, 0, 5, 0, 20, 0, 10, 0, 0x00};
	th_raw_send(fd, f, sizeof(f));
}

static void frame_end_ascii(int fd)
{
	uint8_t f[] = {8, 0, 0, 0, 0, 0, 0, 'x'};
	th_raw_send(fd, f, sizeof(f));
}

/* Negotiated frame_max is 131072 (see the handshake below). The spec caps a
 * frame's payload at frame_max - 8; RabbitMQ 3.10 tolerates up to frame_max
 * (a fudge for clients that forget the 8 bytes of framing) and rejects one
 * more, reporting "{frame_too_large,131073,131064}". */
static void frame_too_large(int fd)
{
	static uint8_t payload[131073];
	th_raw_send_frame(fd, 3, 1, payload, sizeof(payload));
}

static void frame_too_large_header_only(int fd)
{
	uint8_t h[] = {3, 0, 1, 0x10, 0, 0, 0};
	th_raw_send(fd, h, sizeof(h));
}

static void unknown_frame_type(int fd)
{
	th_raw_send_frame(fd, 5, 1, "abc", 3);
}

static void unknown_frame_type_ch0(int fd)
{
	th_raw_send_frame(fd, 9, 0, "", 0);
}

static void heartbeat_on_channel(int fd)
{
	th_raw_send_frame(fd, 8, 1, NULL, 0);
}

static void heartbeat_with_payload(int fd)
{
	th_raw_send_frame(fd, 8, 0, "xx", 2);
}

static void method_on_unopened_channel(int fd)
{
	send_queue_declare(fd, 2);
}

static void header_without_publish(int fd)
{
	send_content_header(fd, 1, 60, 5);
}

static void body_without_publish(int fd)
{
	th_raw_send_frame(fd, 3, 1, "hello", 5);
}

static void method_instead_of_header(int fd)
{
	send_publish(fd, 1);
	send_queue_declare(fd, 1);
}

static void header_of_wrong_class(int fd)
{
	send_publish(fd, 1);
	send_content_header(fd, 1, 50, 3);
}

static void method_instead_of_body(int fd)
{
	send_publish(fd, 1);
	send_content_header(fd, 1, 60, 10);
	th_raw_send_frame(fd, 3, 1, "hel", 3);
	send_queue_declare(fd, 1);
}

static void header_on_other_channel(int fd)
{
	struct th_buf b;
	put_method(&b, 20, 10);
	th_put_shortstr(&b, "");
	th_raw_send_frame(fd, 1, 2, b.data, (uint32_t)b.len);
	send_publish(fd, 1);
	send_content_header(fd, 2, 60, 3);
}

static void truncated_arguments(int fd)
{
	struct th_buf b;
	put_method(&b, 50, 10);
	th_put8(&b, 0);
	th_raw_send_frame(fd, 1, 1, b.data, (uint32_t)b.len);
}

static void shortstr_overrun(int fd)
{
	struct th_buf b;
	put_method(&b, 50, 10);
	th_put16(&b, 0);
	th_put8(&b, 16); /* claims 16 bytes, 1 follows */
	th_put8(&b, 'q');
	th_raw_send_frame(fd, 1, 1, b.data, (uint32_t)b.len);
}

static void method_payload_too_short(int fd)
{
	th_raw_send_frame(fd, 1, 1, "\x00\x32", 2);
}

static void method_payload_empty(int fd)
{
	th_raw_send_frame(fd, 1, 1, NULL, 0);
}

static void unknown_method(int fd)
{
	struct th_buf b;
	put_method(&b, 50, 99);
	th_raw_send_frame(fd, 1, 1, b.data, (uint32_t)b.len);
}

static void unknown_class(int fd)
{
	struct th_buf b;
	put_method(&b, 99, 10);
	th_raw_send_frame(fd, 1, 1, b.data, (uint32_t)b.len);
}

static void bad_field_type_in_arguments(int fd)
{
	struct th_buf b;
	put_method(&b, 50, 10);
	th_put16(&b, 0);
	th_put_shortstr(&b, "raw-q");
	th_put8(&b, 0x08);
	th_put32(&b, 5);
	th_put_shortstr(&b, "a");
	th_put8(&b, 'Z'); /* no such field type */
	th_put16(&b, 0);
	th_raw_send_frame(fd, 1, 1, b.data, (uint32_t)b.len);
}

static void bad_field_type_in_headers(int fd)
{
	send_publish(fd, 1);
	struct th_buf b = {.len = 0};
	th_put16(&b, 60);
	th_put16(&b, 0);
	th_put64(&b, 0);
	th_put16(&b, 0x2000); /* headers present */
	th_put32(&b, 3);
	th_put_shortstr(&b, "a");
	th_put8(&b, 'Z');
	th_raw_send_frame(fd, 2, 1, b.data, (uint32_t)b.len);
}

static void connection_method_on_channel(int fd)
{
	struct th_buf b;
	put_method(&b, 10, 40);
	th_put_shortstr(&b, "/");
	th_put_shortstr(&b, "");
	th_put8(&b, 0);
	th_raw_send_frame(fd, 1, 1, b.data, (uint32_t)b.len);
}

static void channel_method_on_channel0(int fd)
{
	send_queue_declare(fd, 0);
}

static void tune_ok_after_open(int fd)
{
	struct th_buf b;
	put_method(&b, 10, 31);
	th_put16(&b, 10);
	th_put32(&b, 4096);
	th_put16(&b, 0);
	th_raw_send_frame(fd, 1, 0, b.data, (uint32_t)b.len);
}

static void connection_open_twice(int fd)
{
	struct th_buf b;
	put_method(&b, 10, 40);
	th_put_shortstr(&b, "/");
	th_put_shortstr(&b, "");
	th_put8(&b, 0);
	th_raw_send_frame(fd, 1, 0, b.data, (uint32_t)b.len);
}

static void unsolicited_channel_close_ok(int fd)
{
	struct th_buf b;
	put_method(&b, 20, 41);
	th_raw_send_frame(fd, 1, 1, b.data, (uint32_t)b.len);
}

static const struct frame_case frame_cases[] = {
	{"bad frame end", bad_frame_end, TH_FRAME_ERROR, {0}, 0, 0},
	{"frame end 'x' on heartbeat", frame_end_ascii, TH_FRAME_ERROR, {0}, 0, 0},
	{"frame too large", frame_too_large, TH_FRAME_ERROR, {0}, 0, 0},
	{"frame too large (header only)", frame_too_large_header_only, TH_FRAME_ERROR, {0}, 0, 0},
	{"unknown frame type", unknown_frame_type, TH_FRAME_ERROR, {0}, 0, 0},
	{"unknown frame type on channel 0", unknown_frame_type_ch0, TH_FRAME_ERROR, {0}, 0, 0},
	{"heartbeat on channel 1", heartbeat_on_channel, TH_UNEXPECTED_FRAME, {0}, 0, 0},
	{"heartbeat with payload", heartbeat_with_payload, TH_FRAME_ERROR, {0}, 0, 0},
	{"method on unopened channel", method_on_unopened_channel, TH_CHANNEL_ERROR, {0}, 50, 10},
	{"content header without publish", header_without_publish, TH_UNEXPECTED_FRAME, {0}, 0, 0},
	{"content body without publish", body_without_publish, TH_UNEXPECTED_FRAME, {0}, 0, 0},
	{"method instead of content header", method_instead_of_header, TH_UNEXPECTED_FRAME, {0}, 60, 40},
	{"content header of wrong class", header_of_wrong_class, TH_UNEXPECTED_FRAME, {0}, 60, 40},
	{"method instead of content body", method_instead_of_body, TH_UNEXPECTED_FRAME, {0}, 60, 40},
	{"content header on another channel", header_on_other_channel, TH_UNEXPECTED_FRAME, {0}, 0, 0},
	{"truncated method arguments", truncated_arguments, TH_FRAME_ERROR, {0}, 50, 10},
	{"shortstr longer than payload", shortstr_overrun, TH_FRAME_ERROR, {0}, 50, 10},
	{"method payload of 2 bytes", method_payload_too_short, TH_FRAME_ERROR, {0}, 0, 0},
	{"empty method payload", method_payload_empty, TH_FRAME_ERROR, {0}, 0, 0},
	{"unknown method id", unknown_method, ANY_CODE, {TH_COMMAND_INVALID, TH_NOT_IMPLEMENTED, TH_FRAME_ERROR}, 0, 0},
	{"unknown class id", unknown_class, ANY_CODE, {TH_COMMAND_INVALID, TH_NOT_IMPLEMENTED, TH_FRAME_ERROR}, 0, 0},
	{"bad field type in arguments", bad_field_type_in_arguments, ANY_CODE,
	 {TH_FRAME_ERROR, TH_SYNTAX_ERROR, TH_FRAME_ERROR}, 0, 0},
	{"bad field type in headers property", bad_field_type_in_headers, TH_INTERNAL_ERROR, {0}, 0, 0},
	{"connection method on channel 1", connection_method_on_channel, TH_COMMAND_INVALID, {0}, 10, 40},
	{"queue.declare on channel 0", channel_method_on_channel0, TH_CHANNEL_ERROR, {0}, 50, 10},
	{"tune-ok after open", tune_ok_after_open, TH_CHANNEL_ERROR, {0}, 10, 31},
	{"connection.open twice", connection_open_twice, TH_CHANNEL_ERROR, {0}, 10, 40},
	{"unsolicited channel.close-ok", unsolicited_channel_close_ok, TH_COMMAND_INVALID, {0}, 20, 41},
};

START_TEST(malformed_frame)
{
	const struct frame_case *fc = &frame_cases[_i];
	/* a bystander connection, open before and after the bad one */
	amqp_connection_state_t other = th_connect();
	th_channel(other, 1);
	char q[128];
	th_queue(other, 1, th_name(q, sizeof(q), "bystander"), 0, 1, 0, NULL, 0);
	th_publish(other, 1, "", q, "before");

	int fd = th_raw_handshake(0, 131072, 0, 1, NULL, NULL, NULL);
	fc->send(fd);
	char text[256];
	uint16_t cls = 0xffff, mth = 0xffff;
	int code = th_raw_expect_connection_close(fd, 10000, &cls, &mth, text, sizeof(text));
	if (fc->code == ANY_CODE) {
		ck_assert_msg(code == 0 || code == fc->alt[0] || code == fc->alt[1] || code == fc->alt[2],
			      "%s: expected the connection dropped or closed with %d/%d/%d, got %d (%s)", fc->name,
			      fc->alt[0], fc->alt[1], fc->alt[2], code, text);
	} else {
		ck_assert_msg(code == fc->code, "%s: expected connection.close %d, got %d (%s)", fc->name, fc->code,
			      code, text);
		ck_assert_msg(cls == fc->cls && mth == fc->mth, "%s: close reports method %u.%u, expected %u.%u",
			      fc->name, cls, mth, fc->cls, fc->mth);
		/* after close-ok the server closes the socket */
		ck_assert_msg(th_raw_wait_closed(fd, 10000), "%s: socket still open after close-ok", fc->name);
	}
	close(fd);

	/* the bystander is unaffected */
	th_publish(other, 1, "", q, "after");
	amqp_message_t m;
	char body[64];
	ck_assert_int_eq(th_get(other, 1, q, 1, &m, NULL, NULL, NULL), 1);
	ck_assert_str_eq(th_body(&m.body, body, sizeof(body)), "before");
	amqp_destroy_message(&m);
	ck_assert_int_eq(th_get(other, 1, q, 1, &m, NULL, NULL, NULL), 1);
	ck_assert_str_eq(th_body(&m.body, body, sizeof(body)), "after");
	amqp_destroy_message(&m);
	th_close(other);
	th_assert_broker_alive();
}
END_TEST

/* A close-ok that reaches the broker in pieces (its frame header, then the
 * rest) ends the connection at once. tandemd once threw away the partial
 * frame it held while closing and then waited out its close-ok timeout for
 * a close-ok it had discarded. This test's broker waits 30 s for close-ok
 * (RabbitMQ's ceiling), so a socket closed within 10 s proves it was read. */
START_TEST(close_ok_in_pieces_ends_the_connection)
{
	th_start_with_args((const char *const[]){"--close-ok-timeout-ms", "30000", NULL});
	int fd = th_raw_handshake(0, 131072, 0, 1, NULL, NULL, NULL);
	int one = 1;
	ck_assert_int_eq(setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)), 0);
	heartbeat_on_channel(fd);
	struct th_raw_frame f;
	for (;;) {
		ck_assert_int_eq(th_raw_read_frame(fd, &f, 10000), 1);
		int is_close = f.type == 1 && f.channel == 0 && th_raw_class(&f) == 10 && th_raw_method(&f) == 50;
		th_raw_frame_free(&f);
		if (is_close)
			break;
	}
	static const uint8_t close_ok[12] = {1, 0, 0, 0, 0, 0, 4, 0, 10, 0, 51, 0xCE};
	th_raw_send(fd, close_ok, 7);
	th_sleep_ms(50); /* apart, so that the broker reads the header alone */
	th_raw_send(fd, close_ok + 7, 4);
	th_sleep_ms(50);
	th_raw_send(fd, close_ok + 11, 1);
	ck_assert_msg(th_raw_wait_closed(fd, 10000), "socket still open 10 s after a close-ok sent in pieces");
	close(fd);
}
END_TEST

/* A client that never answers connection.close is dropped after
 * close_ok_timeout_ms (here 100 ms, well under the 3 s default). tandemd's
 * key: RabbitMQ waits up to 30 s and has no setting for it. */
START_TEST(close_ok_timeout_drops_a_silent_client)
{
	if (th_external())
		return;
	th_start_with_args((const char *const[]){"--close-ok-timeout-ms", "100", NULL});
	int fd = th_raw_handshake(0, 131072, 0, 1, NULL, NULL, NULL);
	heartbeat_on_channel(fd);
	struct th_raw_frame f;
	int rc = th_raw_read_frame(fd, &f, 10000);
	ck_assert_int_eq(rc, 1);
	ck_assert_msg(th_raw_class(&f) == 10 && th_raw_method(&f) == 50, "expected connection.close, got %u.%u",
		      th_raw_class(&f), th_raw_method(&f));
	th_raw_frame_free(&f);
	uint64_t t0 = th_now_ms();
	ck_assert_msg(th_raw_wait_closed(fd, 2500), "no close-ok, and the socket still open after 2.5 s");
	fprintf(stderr, "dropped %llu ms after connection.close\n", (unsigned long long)(th_now_ms() - t0));
	close(fd);
}
END_TEST

/* The largest frame the spec allows (payload frame_max - 8) is accepted, and
 * so is one with a payload of exactly frame_max (RabbitMQ's tolerance). */
START_TEST(frame_at_limit_accepted)
{
	uint32_t fm = 8192;
	int fd = th_raw_handshake(0, fm, 0, 1, NULL, NULL, NULL);
	char q[128];
	th_name(q, sizeof(q), "limit");
	struct th_buf b;
	put_method(&b, 50, 10);
	th_put16(&b, 0);
	th_put_shortstr(&b, q);
	th_put8(&b, 0x04);
	th_put32(&b, 0);
	th_raw_send_frame(fd, 1, 1, b.data, (uint32_t)b.len);
	struct th_raw_frame f;
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	ck_assert_uint_eq(th_raw_method(&f), 11);
	th_raw_frame_free(&f);
	put_method(&b, 60, 40);
	th_put16(&b, 0);
	th_put_shortstr(&b, "");
	th_put_shortstr(&b, q);
	th_put8(&b, 0);
	th_raw_send_frame(fd, 1, 1, b.data, (uint32_t)b.len);
	send_content_header(fd, 1, 60, 2 * fm - 8);
	static uint8_t payload[8192];
	memset(payload, 'p', sizeof(payload));
	th_raw_send_frame(fd, 3, 1, payload, fm - 8);
	th_raw_send_frame(fd, 3, 1, payload, fm);
	/* basic.get no-ack returns it */
	put_method(&b, 60, 70);
	th_put16(&b, 0);
	th_put_shortstr(&b, q);
	th_put8(&b, 1);
	th_raw_send_frame(fd, 1, 1, b.data, (uint32_t)b.len);
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	ck_assert_uint_eq(th_raw_method(&f), 71);
	th_raw_frame_free(&f);
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	ck_assert_uint_eq(f.type, 2);
	th_raw_frame_free(&f);
	uint32_t got = 0;
	while (got < 2 * fm - 8) {
		ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
		ck_assert_uint_eq(f.type, 3);
		ck_assert_uint_le(f.size, fm - 8); /* the server keeps to the spec */
		got += f.size;
		th_raw_frame_free(&f);
	}
	ck_assert_uint_eq(got, 2 * fm - 8);
	close(fd);
}
END_TEST

/* Many frames pipelined in one write are all processed. */
START_TEST(pipelined_frames)
{
	int fd = th_raw_handshake(0, 0, 0, 0, NULL, NULL, NULL);
	struct th_buf all = {.len = 0};
	for (uint16_t ch = 1; ch <= 20; ch++) {
		uint8_t hdr[7] = {1, (uint8_t)(ch >> 8), (uint8_t)ch, 0, 0, 0, 5};
		th_put_bytes(&all, hdr, 7);
		th_put_bytes(&all, "\x00\x14\x00\x0a\x00", 5);
		th_put8(&all, 0xCE);
	}
	th_raw_send(fd, all.data, all.len);
	/* RabbitMQ answers from one process per channel: open-oks of different
	 * channels may come in any order */
	int seen[21] = {0};
	for (int i = 1; i <= 20; i++) {
		struct th_raw_frame f;
		ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
		ck_assert_uint_ge(f.channel, 1);
		ck_assert_uint_le(f.channel, 20);
		ck_assert_int_eq(seen[f.channel], 0);
		seen[f.channel] = 1;
		ck_assert_uint_eq(th_raw_class(&f), 20);
		ck_assert_uint_eq(th_raw_method(&f), 11);
		th_raw_frame_free(&f);
	}
	close(fd);
}
END_TEST

/* Before connection.open, a channel.open is 505 UNEXPECTED_FRAME. */
START_TEST(channel_open_before_connection_open)
{
	int fd = th_raw_connect();
	th_raw_send(fd, "AMQP\x00\x00\x09\x01", 8);
	expect_start(fd);
	struct th_buf b;
	put_method(&b, 10, 11);
	th_put32(&b, 0);
	th_put_shortstr(&b, "PLAIN");
	th_put_longstr(&b, "\0guest\0guest", 12);
	th_put_shortstr(&b, "en_US");
	th_raw_send_frame(fd, 1, 0, b.data, (uint32_t)b.len);
	struct th_raw_frame f;
	ck_assert_int_eq(th_raw_read_frame(fd, &f, 5000), 1);
	ck_assert_uint_eq(th_raw_method(&f), 30);
	uint8_t tune[12];
	memcpy(tune, f.payload, 12);
	th_raw_frame_free(&f);
	tune[3] = 31; /* echo the offer as tune-ok */
	th_raw_send_frame(fd, 1, 0, tune, 12);
	put_method(&b, 20, 10);
	th_put_shortstr(&b, "");
	th_raw_send_frame(fd, 1, 1, b.data, (uint32_t)b.len);
	char text[256];
	int code = th_raw_expect_connection_close(fd, 5000, NULL, NULL, text, sizeof(text));
	ck_assert_msg(code == TH_UNEXPECTED_FRAME, "expected 505, got %d (%s)", code, text);
	close(fd);
}
END_TEST

/* Before start-ok, anything else is dropped silently (after RabbitMQ's
 * ~3 s silent-close delay). */
START_TEST(method_before_start_ok)
{
	int fd = th_raw_connect();
	th_raw_send(fd, "AMQP\x00\x00\x09\x01", 8);
	expect_start(fd);
	struct th_buf b;
	put_method(&b, 10, 40);
	th_put_shortstr(&b, "/");
	th_put_shortstr(&b, "");
	th_put8(&b, 0);
	th_raw_send_frame(fd, 1, 0, b.data, (uint32_t)b.len);
	struct th_raw_frame f;
	int rc = th_raw_read_frame(fd, &f, 10000);
	ck_assert_msg(rc == 0, "expected a silent close, got rc %d method %u.%u", rc, rc == 1 ? th_raw_class(&f) : 0,
		      rc == 1 ? th_raw_method(&f) : 0);
	close(fd);
}
END_TEST

/* Before connection.tune-ok the frame limit is the spec's minimum, 4096
 * bytes, whatever frame_max the broker will offer: a client that has not
 * logged in cannot make it buffer large frames (2000 anonymous sockets
 * once cost 261 MiB).  A start-ok of 5000 bytes is refused, no tune. */
START_TEST(large_frame_before_login_refused)
{
	int fd = th_raw_connect();
	th_raw_send(fd, "AMQP\x00\x00\x09\x01", 8);
	expect_start(fd);
	static char pad[5000];
	memset(pad, 'p', sizeof(pad));
	struct th_buf b;
	put_method(&b, 10, 11);
	th_put32(&b, (uint32_t)(1 + 3 + 1 + 4 + sizeof(pad))); /* client-properties */
	th_put_shortstr(&b, "pad");
	th_put8(&b, 'S');
	th_put_longstr(&b, pad, sizeof(pad));
	th_put_shortstr(&b, "PLAIN");
	th_put_longstr(&b, "\0guest\0guest", 12);
	th_put_shortstr(&b, "en_US");
	ck_assert_uint_gt(b.len, 4096);
	th_raw_send_frame(fd, 1, 0, b.data, (uint32_t)b.len);
	struct th_raw_frame f;
	int rc = th_raw_read_frame(fd, &f, 10000);
	if (rc == 1) {
		uint16_t cls = th_raw_class(&f), mth = th_raw_method(&f);
		th_raw_frame_free(&f);
		ck_assert_msg(cls == 10 && mth == 50, "expected the connection closed, got method %u.%u", cls,
			      mth);
	} else {
		ck_assert_msg(rc == 0, "neither a close nor EOF within 10 s");
	}
	close(fd);
	th_assert_broker_alive();
}
END_TEST

/* A channel's number costs nothing: 300 connections that each open
 * channel_max (the highest number the broker allows) take about as much
 * memory as 300 that open channel 1 (a table indexed by channel number
 * once cost 16 KiB more per connection at channel 2047, 512 KiB at 65535).
 * tandemd only (reads the broker's RSS). */
enum { CHAN_CONNS = 300 };

/* Opens CHAN_CONNS connections, each with one channel (channel_max when
 * high, else 1); returns the broker's RSS growth in KiB. */
static long open_channels(int *fds, int high)
{
	long before = th_broker_rss_kb();
	for (int i = 0; i < CHAN_CONNS; i++) {
		uint16_t max = 0;
		fds[i] = th_raw_handshake(0, 0, 0, 0, &max, NULL, NULL);
		struct th_buf b;
		put_method(&b, 20, 10);
		th_put_shortstr(&b, "");
		th_raw_send_frame(fds[i], 1, high ? max : 1, b.data, (uint32_t)b.len);
		struct th_raw_frame f;
		ck_assert_int_eq(th_raw_read_frame(fds[i], &f, 5000), 1);
		ck_assert_uint_eq(th_raw_method(&f), 11);
		th_raw_frame_free(&f);
	}
	return th_broker_rss_kb() - before;
}

START_TEST(channel_table_grows_with_open_channels)
{
	if (th_external())
		return;
	static int low[CHAN_CONNS], high[CHAN_CONNS];
	long grew_low = open_channels(low, 0);
	long grew_high = open_channels(high, 1);
	fprintf(stderr, "%d connections: RSS +%ld KiB at channel 1, +%ld KiB at channel_max\n", CHAN_CONNS,
		grew_low, grew_high);
	ck_assert_msg(grew_high - grew_low < (long)CHAN_CONNS * 4,
		      "channel_max costs %ld KiB more than channel 1 over %d connections", grew_high - grew_low,
		      CHAN_CONNS);
	for (int i = 0; i < CHAN_CONNS; i++) {
		close(low[i]);
		close(high[i]);
	}
}
END_TEST

/* Many connections that die in the middle of frames leave the broker
 * healthy. */
START_TEST(abrupt_disconnects)
{
	for (int i = 0; i < 50; i++) {
		int fd = th_raw_handshake(0, 0, 0, 1, NULL, NULL, NULL);
		switch (i % 4) {
		case 0: { /* half a frame header */
			uint8_t h[3] = {1, 0, 1};
			th_raw_send(fd, h, 3);
			break;
		}
		case 1: /* publish + header, body never comes */
			send_publish(fd, 1);
			send_content_header(fd, 1, 60, 1000);
			th_raw_send_frame(fd, 3, 1, "abc", 3);
			break;
		case 2: { /* frame claiming a large payload, half sent */
			uint8_t h[7] = {1, 0, 1, 0, 0, 0x10, 0};
			th_raw_send(fd, h, 7);
			th_raw_send(fd, "\x00\x32\x00\x0a", 4);
			break;
		}
		default:
			break;
		}
		close(fd);
	}
	th_assert_broker_alive();
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("raw");
	TCase *tc = th_tcase("header");
	tcase_add_loop_test(tc, header_rejected, 0, (int)(sizeof(bad_headers) / sizeof(bad_headers[0])));
	tcase_add_test(tc, header_0_9_served_as_0_9_1);
	tcase_add_test(tc, header_byte_by_byte);
	suite_add_tcase(s, tc);

	tc = th_tcase("frames");
	tcase_add_loop_test(tc, malformed_frame, 0, (int)(sizeof(frame_cases) / sizeof(frame_cases[0])));
	tcase_add_test(tc, close_ok_in_pieces_ends_the_connection);
	tcase_add_test(tc, close_ok_timeout_drops_a_silent_client);
	tcase_add_test(tc, frame_at_limit_accepted);
	tcase_add_test(tc, pipelined_frames);
	tcase_add_test(tc, channel_open_before_connection_open);
	tcase_add_test(tc, method_before_start_ok);
	tcase_add_test(tc, abrupt_disconnects);
	tcase_add_test(tc, large_frame_before_login_refused);
	tcase_add_test(tc, channel_table_grows_with_open_channels);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	/* Cases whose garbage swallows the client's close-ok wait out the close-ok
	 * timeout (3 s by default): 1 s here. */
	th_start_with_args((const char *const[]){"--close-ok-timeout-ms", "1000", NULL});
	th_start_private();
	return th_run_suite(suite());
}
