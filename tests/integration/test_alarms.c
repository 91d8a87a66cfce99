/* Integration tests: resource alarms (issue 6). Above the memory high
 * watermark or below the free-disk limit, connections that publish get
 * connection.blocked and are no longer read; when the alarm clears they get
 * connection.unblocked and their publishes go through. Connections that only
 * consume keep working throughout. This is RabbitMQ's behaviour for clients
 * that advertise the connection.blocked capability (th_connect does).
 *
 * Each test starts a tandemd of its own with the flag under test
 * (--memory-high-watermark BYTES, --disk-free-limit BYTES). Against
 * TANDEM_TEST_BROKER the program reports SKIP, unless TANDEM_TEST_ALARM
 * names the alarm the operator has set on that broker ("disk" or
 * "memory"): then only that test runs. Proven against RabbitMQ 3.10.8 that
 * way:
 *   disk:   rabbitmqctl set_disk_free_limit 1000TB
 *   memory: rabbitmqctl set_vm_memory_high_watermark absolute <current + 48 MiB>
 * (see the note above each test).
 *
 * The publisher writes its frames raw on the connection's socket, without
 * blocking, so that a broker which stops reading it cannot hang the test;
 * everything it reads goes through rabbitmq-c. Every wait is bounded. */
#include "harness.h"
#include "parallel.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Args of the tandemd each test starts (and of its restarts, with the
 * alarm's): a connection the broker has blocked is not read, so it does not
 * see the client go; at the end of a test the broker's connection.close to
 * it is never answered. Dropped after 200 ms (close_ok_timeout_ms, default
 * 3 s), the stop does not wait out tandemd's 2 s shutdown grace. */
static const char *const own_args[] = { "--close-ok-timeout-ms", "200", NULL };

/* End of a test: the broker of its own stops cleanly (status 0), which is
 * how sanitizer and valgrind reports about it fail the test. */
static void stop_clean(void)
{
	if (th_external())
		return;
	int st = th_broker_stop();
	ck_assert_msg(st == 0, "tandemd exited with status 0x%x on SIGTERM at the end of the test (see its report above)",
		      st);
}

/* ---- a publisher that never blocks --------------------------------------------- */

struct rawpub {
	amqp_connection_state_t c;
	int fd;
	uint32_t frame_max;
	char queue[128];
	uint8_t *buf; /* owned: encoded frames not yet sent */
	size_t len, off, cap;
	uint64_t encoded;    /* messages encoded (so sent, once buf is empty) */
	uint64_t bytes_sent; /* on the socket */
	int blocked;         /* connection.blocked seen and no unblocked since */
	int blocks, unblocks;
	char reason[256]; /* of the first connection.blocked */
};

static void put(struct rawpub *p, const void *d, size_t n)
{
	if (p->len + n > p->cap) {
		p->cap = (p->len + n) * 2;
		p->buf = realloc(p->buf, p->cap);
		ck_assert_ptr_nonnull(p->buf);
	}
	memcpy(p->buf + p->len, d, n);
	p->len += n;
}

static void put_u8(struct rawpub *p, uint8_t v)
{
	put(p, &v, 1);
}

static void put_u16(struct rawpub *p, uint16_t v)
{
	uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
	put(p, b, 2);
}

static void put_u32(struct rawpub *p, uint32_t v)
{
	put_u16(p, (uint16_t)(v >> 16));
	put_u16(p, (uint16_t)v);
}

static void put_u64(struct rawpub *p, uint64_t v)
{
	put_u32(p, (uint32_t)(v >> 32));
	put_u32(p, (uint32_t)v);
}

static void frame_begin(struct rawpub *p, uint8_t type, uint32_t size)
{
	put_u8(p, type);
	put_u16(p, 1); /* channel */
	put_u32(p, size);
}

/* Append basic.publish + header + body frames of a transient message on
 * channel 1 through the default exchange to p->queue. */
static void encode_message(struct rawpub *p, const uint8_t *body, size_t size)
{
	size_t ql = strlen(p->queue);
	/* compact the sent part away first */
	if (p->off > 0) {
		memmove(p->buf, p->buf + p->off, p->len - p->off);
		p->len -= p->off;
		p->off = 0;
	}
	frame_begin(p, AMQP_FRAME_METHOD, (uint32_t)(4 + 2 + 1 + 1 + ql + 1));
	put_u16(p, 60);
	put_u16(p, 40);
	put_u16(p, 0); /* ticket */
	put_u8(p, 0);  /* exchange "" */
	put_u8(p, (uint8_t)ql);
	put(p, p->queue, ql);
	put_u8(p, 0); /* mandatory, immediate */
	put_u8(p, AMQP_FRAME_END);
	frame_begin(p, AMQP_FRAME_HEADER, 2 + 2 + 8 + 2 + 1);
	put_u16(p, 60);
	put_u16(p, 0);
	put_u64(p, size);
	put_u16(p, AMQP_BASIC_DELIVERY_MODE_FLAG);
	put_u8(p, 1); /* transient */
	put_u8(p, AMQP_FRAME_END);
	size_t chunk = p->frame_max - 8;
	for (size_t at = 0; at < size; at += chunk) {
		size_t n = size - at < chunk ? size - at : chunk;
		frame_begin(p, AMQP_FRAME_BODY, (uint32_t)n);
		put(p, body + at, n);
		put_u8(p, AMQP_FRAME_END);
	}
	p->encoded++;
}

static void rawpub_open(struct rawpub *p, const char *queue)
{
	memset(p, 0, sizeof(*p));
	p->c = th_connect();
	th_channel(p->c, 1);
	p->fd = amqp_get_sockfd(p->c);
	ck_assert_int_ge(p->fd, 0);
	p->frame_max = (uint32_t)amqp_get_frame_max(p->c);
	ck_assert_uint_ge(p->frame_max, 4096);
	snprintf(p->queue, sizeof(p->queue), "%s", queue);
}

static void rawpub_close(struct rawpub *p)
{
	free(p->buf);
	p->buf = NULL;
	th_destroy(p->c);
}

/* Handle what the broker sent to the publisher (no waiting). Fails on
 * anything but blocked / unblocked / heartbeats. */
static void rawpub_read(struct rawpub *p, int timeout_ms)
{
	for (int i = 0; i < 1000; i++) {
		amqp_frame_t f;
		struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
		amqp_maybe_release_buffers(p->c);
		int rc = amqp_simple_wait_frame_noblock(p->c, &f, &tv);
		if (rc == AMQP_STATUS_TIMEOUT)
			return;
		ck_assert_msg(rc == AMQP_STATUS_OK, "publisher connection: %s", amqp_error_string2(rc));
		timeout_ms = 0;
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		if (f.channel == 0 && f.payload.method.id == AMQP_CONNECTION_BLOCKED_METHOD) {
			amqp_connection_blocked_t *b = f.payload.method.decoded;
			if (p->blocks++ == 0)
				snprintf(p->reason, sizeof(p->reason), "%.*s", (int)b->reason.len,
					 (const char *)b->reason.bytes);
			p->blocked = 1;
		} else if (f.channel == 0 && f.payload.method.id == AMQP_CONNECTION_UNBLOCKED_METHOD) {
			ck_assert_msg(p->blocked, "connection.unblocked without connection.blocked");
			p->unblocks++;
			p->blocked = 0;
		} else if (f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD ||
			   f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
			amqp_rpc_reply_t r = {.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION, .reply = f.payload.method};
			th_ok(r, "publisher connection");
		} else {
			ck_abort_msg("publisher: unexpected method 0x%08x on channel %u", f.payload.method.id, f.channel);
		}
	}
}

/* Send what is buffered without blocking. Returns 1 when the buffer is
 * empty, 0 when the socket would block. */
static int rawpub_flush(struct rawpub *p)
{
	while (p->off < p->len) {
		ssize_t n = send(p->fd, p->buf + p->off, p->len - p->off, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		ck_assert_msg(n > 0, "publisher send: %s", strerror(errno));
		p->off += (size_t)n;
		p->bytes_sent += (uint64_t)n;
	}
	p->off = p->len = 0;
	return 1;
}

/* Wait (bounded) until the publisher's socket is writable or readable. */
static void rawpub_poll(struct rawpub *p, int timeout_ms)
{
	struct pollfd pfd = {.fd = p->fd, .events = POLLOUT | POLLIN};
	(void)poll(&pfd, 1, timeout_ms);
}

static int contains_ci(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (const char *h = hay; *h != '\0'; h++) {
		size_t i = 0;
		while (i < n && h[i] != '\0' && tolower((unsigned char)h[i]) == tolower((unsigned char)needle[i]))
			i++;
		if (i == n)
			return 1;
	}
	return 0;
}

/* ---- a consumer that tolerates notifications ------------------------------------ */

struct drain {
	uint64_t messages; /* deliveries other than the marker */
	uint64_t bytes;
	int marker; /* the marker body arrived */
	int notified; /* connection.blocked seen by the consumer (allowed, never blocking it) */
};

/* Take deliveries (no-ack consumer) for up to timeout_ms. */
static void drain_some(amqp_connection_state_t c, struct drain *d, int timeout_ms, int max)
{
	for (int i = 0; i < max && !d->marker; i++) {
		amqp_envelope_t e;
		struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
		amqp_maybe_release_buffers(c);
		amqp_rpc_reply_t r = amqp_consume_message(c, &e, &tv, 0);
		if (r.reply_type == AMQP_RESPONSE_NORMAL) {
			if (th_bytes_eq(e.message.body, "alarm-marker")) {
				d->marker = 1;
			} else {
				d->messages++;
				d->bytes += e.message.body.len;
			}
			amqp_destroy_envelope(&e);
			timeout_ms = 0;
			continue;
		}
		if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
			return;
		ck_assert_msg(r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
				      r.library_error == AMQP_STATUS_UNEXPECTED_STATE,
			      "consumer: reply type %d, library error %d", r.reply_type, r.library_error);
		amqp_frame_t f;
		ck_assert_int_eq(th_wait_frame(c, &f, 1000), 1);
		ck_assert_msg(f.frame_type == AMQP_FRAME_METHOD && f.channel == 0 &&
				      (f.payload.method.id == AMQP_CONNECTION_BLOCKED_METHOD ||
				       f.payload.method.id == AMQP_CONNECTION_UNBLOCKED_METHOD),
			      "consumer: unexpected frame type %u method 0x%08x on channel %u", f.frame_type,
			      f.frame_type == AMQP_FRAME_METHOD ? f.payload.method.id : 0, f.channel);
		if (f.payload.method.id == AMQP_CONNECTION_BLOCKED_METHOD)
			d->notified = 1;
	}
}

/* ---- memory alarm ------------------------------------------------------------------ */

#define MEM_MSG_SIZE (64 * 1024)
#define MEM_OVER (48ull * 1024 * 1024) /* watermark: broker's idle RSS + this */
#define MEM_BUDGET (512ull * 1024 * 1024) /* most the test publishes before it gives up */
#define MEM_STALL_LIMIT (64ull * 1024 * 1024) /* most the broker may read once blocked */

static const char *alarm_env(void)
{
	const char *v = getenv("TANDEM_TEST_ALARM");
	return v != NULL ? v : "";
}

/* A tandemd built with AddressSanitizer keeps freed memory in quarantine
 * and its RSS never falls, so the memory alarm could never clear: let it
 * give memory back (an uninstrumented tandemd ignores ASAN_OPTIONS). Only
 * for this test process and the broker it starts. */
static void asan_returns_memory(void)
{
	const char *cur = getenv("ASAN_OPTIONS");
	char opts[1024];
	snprintf(opts, sizeof(opts), "%s%squarantine_size_mb=0:allocator_release_to_os_interval_ms=200",
		 cur ? cur : "", cur && *cur ? ":" : "");
	setenv("ASAN_OPTIONS", opts, 1);
}

/* RabbitMQ 3.10.8 (TANDEM_TEST_ALARM=memory, watermark set by hand to its
 * memory use + 48 MiB): passes. */
START_TEST(memory_alarm_blocks_publisher_until_drained)
{
	char q[128];
	asan_returns_memory();
	th_start_with_args(own_args);
	if (!th_external()) {
		/* the watermark sits above what this broker needs when idle, so the
		 * same test holds under valgrind or sanitizers */
		amqp_connection_state_t w = th_connect();
		th_channel(w, 1);
		th_close(w);
		long rss = th_broker_rss_kb();
		ck_assert_msg(rss > 0, "cannot read the broker's RSS");
		char mark[32];
		snprintf(mark, sizeof(mark), "%llu", (unsigned long long)rss * 1024u + MEM_OVER);
		fprintf(stderr, "memory alarm: idle RSS %ld KiB, --memory-high-watermark %s\n", rss, mark);
		const char *args[] = { "--memory-high-watermark", mark, "--close-ok-timeout-ms",
				       "200", NULL };
		th_broker_restart_with_args(args);
	}
	struct rawpub p;
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), "alarm-mem"), 0, 0, 0, NULL, 0);
	rawpub_open(&p, q);
	uint8_t *body = malloc(MEM_MSG_SIZE);
	ck_assert_ptr_nonnull(body);
	for (size_t i = 0; i < MEM_MSG_SIZE; i++)
		body[i] = (uint8_t)(i * 7 + (i >> 9));

	/* 1. publish until connection.blocked: unconsumed transient messages
	 * pile up in the broker's memory */
	uint64_t deadline = th_now_ms() + 60000, last_encode = 0;
	while (!p.blocked) {
		ck_assert_msg(th_now_ms() < deadline,
			      "no connection.blocked after %" PRIu64 " messages (%" PRIu64
			      " MiB) published without a consumer",
			      p.encoded, p.bytes_sent >> 20);
		rawpub_read(&p, 0);
		if (p.blocked)
			break;
		if (p.off == p.len) {
			/* past the budget, one message per 100 ms keeps the
			 * connection publishing while the broker notices */
			if (p.encoded * MEM_MSG_SIZE < MEM_BUDGET || th_now_ms() - last_encode >= 100) {
				encode_message(&p, body, MEM_MSG_SIZE);
				last_encode = th_now_ms();
			} else {
				rawpub_read(&p, 20);
				continue;
			}
		}
		if (!rawpub_flush(&p))
			rawpub_poll(&p, 100);
	}
	fprintf(stderr, "memory alarm: connection.blocked '%s' after %" PRIu64 " messages, %" PRIu64 " MiB sent\n",
		p.reason, p.encoded, p.bytes_sent >> 20);

	/* 2. the broker no longer reads the publisher: what it still accepts
	 * fits in socket buffers, and then the socket stays unwritable */
	uint64_t at_block = p.bytes_sent;
	deadline = th_now_ms() + 30000;
	for (;;) {
		ck_assert_msg(p.bytes_sent - at_block < MEM_STALL_LIMIT,
			      "the broker read %" PRIu64 " MiB from the publisher after connection.blocked",
			      (p.bytes_sent - at_block) >> 20);
		ck_assert_msg(th_now_ms() < deadline, "the publisher's socket never stopped accepting data");
		if (p.off == p.len)
			encode_message(&p, body, MEM_MSG_SIZE);
		if (rawpub_flush(&p))
			continue;
		struct pollfd pfd = {.fd = p.fd, .events = POLLOUT};
		if (poll(&pfd, 1, 1000) == 0)
			break; /* a full second without room: not read */
	}
	fprintf(stderr, "memory alarm: publisher stalled; %" PRIu64 " KiB accepted after blocked\n",
		(p.bytes_sent - at_block) >> 10);
	rawpub_read(&p, 0);
	ck_assert_msg(p.blocked, "connection.unblocked while nothing was consumed");

	/* 3. a consumer on another connection is not blocked: it declares,
	 * consumes and drains the queue; then the publisher is unblocked and
	 * everything it sent (and a marker after it) arrives */
	amqp_connection_state_t cc = th_connect();
	th_channel(cc, 1);
	uint32_t ready = 0;
	th_ok(th_queue_passive(cc, 1, q, &ready, NULL), "consumer's passive declare during the alarm");
	th_consume(cc, 1, q, NULL, 1, 0, NULL, 0);
	struct drain d;
	memset(&d, 0, sizeof(d));
	int marker_queued = 0;
	deadline = th_now_ms() + 90000;
	while (!d.marker) {
		ck_assert_msg(th_now_ms() < deadline,
			      "drain: %" PRIu64 " of %" PRIu64 " messages consumed; publisher blocked=%d "
			      "(blocked %d, unblocked %d times), %zu bytes unsent",
			      d.messages, p.encoded, p.blocked, p.blocks, p.unblocks, p.len - p.off);
		drain_some(cc, &d, 20, 256);
		rawpub_read(&p, 0);
		if (rawpub_flush(&p) && !marker_queued && p.unblocks > 0) {
			encode_message(&p, (const uint8_t *)"alarm-marker", 12);
			p.encoded--; /* not counted */
			marker_queued = 1;
		}
	}
	fprintf(stderr, "memory alarm: drained %" PRIu64 " messages; blocked %d, unblocked %d times%s\n",
		d.messages, p.blocks, p.unblocks, d.notified ? "; the consumer was notified too" : "");
	ck_assert_uint_ge(p.unblocks, 1);
	ck_assert_msg(d.messages == p.encoded, "consumed %" PRIu64 " messages, published %" PRIu64, d.messages,
		      p.encoded);
	free(body);
	rawpub_close(&p);
	amqp_queue_delete(cc, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(cc, "queue.delete");
	th_close(cc);
	th_close(c);
	stop_clean();
}
END_TEST

/* ---- disk alarm -------------------------------------------------------------------- */

static const char *const disk_args[] = { "--disk-free-limit", "1000000000000000", /* 1000 TB */
					 "--close-ok-timeout-ms", "200", NULL };

/* Publish on a fresh connection and wait (bounded) for connection.blocked,
 * which must answer the first publish: the alarm is in force as soon as the
 * broker accepts connections (RabbitMQ checks free disk before it listens).
 * When it does not come, the test goes on publishing (one message per
 * 200 ms, up to 10 s) to tell a late alarm from none. Checks the reason
 * names the disk. */
static void expect_blocked_on_first_publish(struct rawpub *p)
{
	static const uint8_t b[] = "published during the disk alarm";
	encode_message(p, b, sizeof(b) - 1);
	uint64_t start = th_now_ms(), last = start;
	uint64_t blocked_after = 0;
	while (!p->blocked && th_now_ms() - start < 10000) {
		if (!rawpub_flush(p))
			rawpub_poll(p, 100);
		rawpub_read(p, 50);
		if (p->blocked)
			blocked_after = p->encoded;
		else if (th_now_ms() - start >= 2000 && th_now_ms() - last >= 200 && p->off == p->len) {
			encode_message(p, b, sizeof(b) - 1);
			last = th_now_ms();
		}
	}
	ck_assert_msg(p->blocked, "no connection.blocked within 10 s of %" PRIu64 " publishes", p->encoded);
	ck_assert_msg(blocked_after == 1,
		      "connection.blocked came only after publish %" PRIu64 " (%" PRIu64
		      " ms): the first one went through although the disk alarm should have been in force "
		      "from the start",
		      blocked_after, th_now_ms() - start);
	ck_assert_msg(contains_ci(p->reason, "disk"), "connection.blocked reason '%s' does not mention the disk",
		      p->reason);
}

/* RabbitMQ 3.10.8 (TANDEM_TEST_ALARM=disk, set_disk_free_limit 1000TB):
 * passes; its reason is "low on disk". */
START_TEST(disk_alarm_blocks_publisher_not_consumer)
{
	char q[128];
	th_start_with_args(disk_args);
	/* a connection that only consumes */
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), "alarm-disk"), 0, 0, 0, NULL, 0);

	struct rawpub p;
	rawpub_open(&p, q);
	expect_blocked_on_first_publish(&p);

	/* the consumer is still served: declare, get, consume, cancel, purge */
	uint32_t n = 99;
	th_ok(th_queue_passive(c, 1, q, &n, NULL), "passive declare during the disk alarm");
	fprintf(stderr, "disk alarm: blocked ('%s'); the queue holds %u message(s)\n", p.reason, n);
	ck_assert_uint_le(n, 1);
	(void)th_get(c, 1, q, 1, NULL, NULL, NULL, NULL);
	char tag[256];
	th_consume(c, 1, q, NULL, 0, 0, tag, sizeof(tag));
	amqp_basic_cancel(c, 1, amqp_cstring_bytes(tag));
	th_ok_last(c, "basic.cancel");
	amqp_queue_purge(c, 1, amqp_cstring_bytes(q));
	th_ok_last(c, "queue.purge");
	char q2[128];
	th_queue(c, 1, th_name(q2, sizeof(q2), "alarm-disk-2"), 0, 1, 0, NULL, 0);

	/* and the publisher stays blocked */
	rawpub_read(&p, 0);
	ck_assert_msg(p.blocked && p.unblocks == 0, "the disk alarm cleared by itself");
	rawpub_close(&p);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(c, "queue.delete");
	th_close(c);
	stop_clean();
}
END_TEST

/* A durable backlog is drained by a consumer while the disk alarm blocks
 * publishers (the broker restarted with the limit). tandemd only. */
START_TEST(disk_alarm_consumer_drains_durable_backlog)
{
	char q[128], body[32];
	th_start_with_args(own_args);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), "alarm-disk-backlog"), 1, 0, 0, NULL, 0);
	amqp_confirm_select(c, 1);
	th_ok_last(c, "confirm.select");
	amqp_basic_properties_t props;
	memset(&props, 0, sizeof(props));
	props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
	props.delivery_mode = 2;
	for (int i = 0; i < 20; i++) {
		snprintf(body, sizeof(body), "backlog %d", i);
		th_publish_props(c, 1, "", q, 0, &props, amqp_cstring_bytes(body));
	}
	uint64_t confirmed = 0;
	while (confirmed < 20) {
		amqp_method_t m;
		ck_assert_msg(th_wait_method(c, 1, AMQP_BASIC_ACK_METHOD, &m, 10000) == 1,
			      "only %" PRIu64 " of 20 confirmed", confirmed);
		confirmed = ((amqp_basic_ack_t *)m.decoded)->delivery_tag;
	}
	th_close(c);
	ck_assert_int_eq(th_broker_stop(), 0);
	th_broker_restart_with_args(disk_args);

	struct rawpub p;
	rawpub_open(&p, q);
	expect_blocked_on_first_publish(&p);
	c = th_connect();
	th_channel(c, 1);
	th_consume(c, 1, q, NULL, 0, 0, NULL, 0);
	for (int i = 0; i < 20; i++) {
		amqp_envelope_t e;
		ck_assert_msg(th_next_delivery(c, &e, 5000) == 1, "backlog message %d not delivered", i);
		snprintf(body, sizeof(body), "backlog %d", i);
		ck_assert_msg(th_bytes_eq(e.message.body, body), "backlog message %d: wrong body", i);
		ck_assert_int_eq(amqp_basic_ack(c, 1, e.delivery_tag, 0), 0);
		amqp_destroy_envelope(&e);
	}
	th_ok(th_sync(c, 1), "consumer after acks");
	rawpub_read(&p, 0);
	ck_assert_msg(p.blocked, "the disk alarm cleared by itself");
	rawpub_close(&p);
	amqp_queue_delete(c, 1, amqp_cstring_bytes(q), 0, 0);
	th_ok_last(c, "queue.delete");
	th_close(c);
	stop_clean();
}
END_TEST

/* The memory alarm stops a publisher in the middle of a large message, not
 * only before its next basic.publish: one 120 MiB body sent while the alarm
 * comes on is not read to the end (one connection once grew the broker to
 * 935 MiB with the alarm at 200 MiB). tandemd only. */
#define BIG_BODY (120u * 1024 * 1024)
START_TEST(memory_alarm_stops_a_body_mid_message)
{
	char q[128];
	asan_returns_memory();
	th_start_with_args(own_args);
	amqp_connection_state_t w = th_connect();
	th_channel(w, 1);
	th_close(w);
	long idle = th_broker_rss_kb();
	ck_assert_msg(idle > 0, "cannot read the broker's RSS");
	char mark[32];
	snprintf(mark, sizeof(mark), "%llu", (unsigned long long)idle * 1024u + (24ull << 20));
	const char *args[] = { "--memory-high-watermark", mark, "--close-ok-timeout-ms", "200",
			       NULL };
	th_broker_restart_with_args(args);
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), "alarm-big"), 0, 0, 0, NULL, 0);
	struct rawpub p;
	rawpub_open(&p, q);
	uint8_t *body = calloc(1, BIG_BODY);
	ck_assert_ptr_nonnull(body);
	encode_message(&p, body, BIG_BODY);
	free(body);
	uint64_t deadline = th_now_ms() + 30000, quiet_since = 0, last_sent = 0;
	while (th_now_ms() < deadline && !rawpub_flush(&p)) {
		rawpub_read(&p, 0);
		rawpub_poll(&p, 100);
		if (p.bytes_sent != last_sent) {
			last_sent = p.bytes_sent;
			quiet_since = th_now_ms();
		} else if (p.blocked && th_now_ms() - quiet_since > 1500) {
			break; /* blocked, and the broker has stopped reading */
		}
	}
	rawpub_read(&p, 500);
	long rss = th_broker_rss_kb();
	fprintf(stderr, "big body: %llu of %u bytes read, blocked %d, RSS %ld KiB (idle %ld)\n",
		(unsigned long long)p.bytes_sent, BIG_BODY, p.blocked, rss, idle);
	ck_assert_msg(p.blocked, "no connection.blocked while a 120 MiB body was read");
	ck_assert_msg(p.bytes_sent < BIG_BODY, "the whole body was read despite the memory alarm");
	ck_assert_msg(rss - idle < 96 * 1024, "RSS grew by %ld KiB under the alarm", rss - idle);
	rawpub_close(&p);
	th_close(c);
	stop_clean();
}
END_TEST

int main(void)
{
	th_start_private();
	const char *which = alarm_env();
	if (th_external() && strcmp(which, "disk") != 0 && strcmp(which, "memory") != 0) {
		printf("SKIP: starts tandemd with alarm flags (TANDEM_TEST_BROKER is set; TANDEM_TEST_ALARM=disk or "
		       "memory runs one test against an alarm set by hand)\n");
		return 77;
	}
	/* each test has a tandemd of its own (its alarms are the broker's):
	 * the TCases run side by side */
	Suite *s = suite_create("alarms");
	if (!th_external() || strcmp(which, "memory") == 0)
		tcase_add_test(tp_tcase(s, "memory", 180),
			       memory_alarm_blocks_publisher_until_drained);
	if (!th_external() || strcmp(which, "disk") == 0)
		tcase_add_test(tp_tcase(s, "disk", 180), disk_alarm_blocks_publisher_not_consumer);
	if (!th_external())
		tcase_add_test(tp_tcase(s, "disk-backlog", 180),
			       disk_alarm_consumer_drains_durable_backlog);
	if (!th_external())
		tcase_add_test(tp_tcase(s, "memory-big-body", 180),
			       memory_alarm_stops_a_body_mid_message);
	return th_run_suite(s);
}
