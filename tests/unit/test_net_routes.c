/*
 * Unit tests for the protocol routes of src/net/net.c (tdm_net_listen_routes):
 * one listener, two protocols told apart by the first bytes a client
 * sends.  A connection is opened with no protocol; the route whose prefix
 * the input starts with serves it (seeing the whole input from its first
 * byte), anything that can match no prefix goes to the listener's own
 * protocol; input that may still match waits; a client that sends nothing
 * is closed by the listener's idle timeout, and once switched the route's
 * own idle rule applies.  Real loopback sockets, one event loop, every wait
 * bounded.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "net/net.h"

/* What the two fake protocols saw. */
struct seen {
	int opened[2];     /* per protocol: connections opened */
	int closed[2];     /* closed callbacks */
	char first[2][64]; /* the first input a protocol's read saw */
	size_t first_len[2];
};

static struct seen seen;

struct pctx {
	int which;
	int got_input;
};

static void *p_open(struct tdm_conn *c, void *arg)
{
	struct pctx *p = calloc(1, sizeof(*p));
	(void)c;
	ck_assert_ptr_nonnull(p);
	p->which = (int)(intptr_t)arg;
	seen.opened[p->which]++;
	return p;
}

static void p_read(void *ctx, struct evbuffer *in)
{
	struct pctx *p = ctx;
	size_t n = evbuffer_get_length(in);

	if (!p->got_input) {
		p->got_input = 1;
		if (n > sizeof(seen.first[0]))
			n = sizeof(seen.first[0]);
		evbuffer_copyout(in, seen.first[p->which], n);
		seen.first_len[p->which] = n;
	}
	evbuffer_drain(in, evbuffer_get_length(in));
}

static void p_closed(void *ctx)
{
	struct pctx *p = ctx;
	seen.closed[p->which]++;
	free(p);
}

static const struct tdm_proto proto_default = { .name = "default",
						.open = p_open,
						.read = p_read,
						.closed = p_closed };
static const struct tdm_proto proto_amqp = { .name = "amqp-ish",
					     .open = p_open,
					     .read = p_read,
					     .closed = p_closed };

static const uint8_t amqp_prefix[] = { 'A', 'M', 'Q', 'P' };

static struct event_base *base;
static struct tdm_net *net;
static int port;

/* A port the kernel hands out now (libevent's address parser takes no
 * port 0). */
static int free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	p = ntohs(sa.sin_port);
	close(fd);
	return p;
}

/* A net with one listener (idle timeout idle_ms) routing "AMQP" to
 * proto_amqp (whose own idle timeout is route_idle_ms). */
static void setup(uint32_t idle_ms, uint32_t route_idle_ms)
{
	static struct tdm_net_route route;
	struct tdm_net_limits lim = { .max_connections = 100, .output_high_watermark = 1 << 20 };
	struct tdm_listen_opts lo = { .idle_timeout_ms = idle_ms };

	memset(&seen, 0, sizeof(seen));
	base = event_base_new();
	ck_assert_ptr_nonnull(base);
	net = tdm_net_new(base, &lim);
	ck_assert_ptr_nonnull(net);
	port = tdm_net_listen_opts(net, "127.0.0.1", free_port(), &proto_default, (void *)(intptr_t)0, &lo);
	ck_assert_msg(port > 0, "listen: %s", strerror(errno));
	route = (struct tdm_net_route){ .prefix = amqp_prefix,
					.len = sizeof(amqp_prefix),
					.proto = &proto_amqp,
					.arg = (void *)(intptr_t)1,
					.idle_timeout_ms = route_idle_ms };
	ck_assert_int_eq(tdm_net_listen_routes(net, port, &route, 1), 1);
}

static void teardown(void)
{
	tdm_net_free(net);
	event_base_free(base);
}

static int client(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void send_all(int fd, const void *p, size_t n)
{
	ck_assert_int_eq(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Runs the loop for about ms milliseconds, or until *cond is nonzero. */
static void run(int ms, const int *cond)
{
	struct timespec t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		if (cond && *cond)
			return;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 >= ms)
			return;
		usleep(2000);
	}
}

/* 1 when the peer closed fd (EOF) within ms. */
static int peer_closed(int fd, int ms)
{
	struct timeval tv = { 0, 1000 };
	char b[64];

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (int i = 0; i < ms / 5; i++) {
		ssize_t n = recv(fd, b, sizeof(b), 0);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			return 1;
		run(4, NULL);
	}
	return 0;
}

START_TEST(prefix_goes_to_the_route)
{
	static const uint8_t hdr[8] = { 'A', 'M', 'Q', 'P', 0, 0, 9, 1 };
	setup(0, 0);
	int fd = client();
	send_all(fd, hdr, sizeof(hdr));
	run(2000, &seen.opened[1]);
	run(50, NULL);
	ck_assert_int_eq(seen.opened[1], 1);
	ck_assert_int_eq(seen.opened[0], 0);
	ck_assert_uint_eq(seen.first_len[1], 8); /* the whole input, prefix included */
	ck_assert_int_eq(memcmp(seen.first[1], hdr, 8), 0);
	close(fd);
	run(2000, &seen.closed[1]);
	ck_assert_int_eq(seen.closed[1], 1);
	teardown();
}
END_TEST

START_TEST(anything_else_goes_to_the_listener)
{
	static const uint8_t req[6] = { 0, 0, 0, 2, 0, 18 }; /* a Kafka request's start */
	setup(0, 0);
	int fd = client();
	send_all(fd, req, sizeof(req));
	run(2000, &seen.opened[0]);
	run(50, NULL);
	ck_assert_int_eq(seen.opened[0], 1);
	ck_assert_int_eq(seen.opened[1], 0);
	ck_assert_uint_eq(seen.first_len[0], 6);
	ck_assert_int_eq(memcmp(seen.first[0], req, 6), 0);
	close(fd);
	run(2000, &seen.closed[0]);
	teardown();
}
END_TEST

/* Decided at the first byte that cannot match: "AMX" is not AMQP. */
START_TEST(decided_as_soon_as_no_prefix_can_match)
{
	setup(0, 0);
	int fd = client();
	send_all(fd, "AMX", 3);
	run(2000, &seen.opened[0]);
	ck_assert_int_eq(seen.opened[0], 1);
	ck_assert_int_eq(seen.opened[1], 0);
	ck_assert_uint_eq(seen.first_len[0], 3);
	close(fd);
	teardown();
}
END_TEST

/* A prefix split over two writes: nothing opened on the first part. */
START_TEST(partial_prefix_waits)
{
	setup(0, 0);
	int fd = client();
	send_all(fd, "AM", 2);
	run(200, NULL);
	ck_assert_int_eq(seen.opened[0] + seen.opened[1], 0);
	send_all(fd, "QP-rest", 7);
	run(2000, &seen.opened[1]);
	run(50, NULL);
	ck_assert_int_eq(seen.opened[1], 1);
	ck_assert_uint_eq(seen.first_len[1], 9);
	ck_assert_int_eq(memcmp(seen.first[1], "AMQP-rest", 9), 0);
	close(fd);
	teardown();
}
END_TEST

/* A client that goes before the protocol is known: no protocol ever
 * opened or closed, the connection gone. */
START_TEST(gone_before_deciding)
{
	setup(0, 0);
	int fd = client();
	send_all(fd, "AM", 2);
	run(100, NULL);
	close(fd);
	for (int i = 0; i < 200 && tdm_net_count(net) > 0; i++)
		run(10, NULL);
	ck_assert_uint_eq(tdm_net_count(net), 0);
	ck_assert_int_eq(seen.opened[0] + seen.opened[1], 0);
	ck_assert_int_eq(seen.closed[0] + seen.closed[1], 0);
	teardown();
}
END_TEST

/* Silence: the listener's idle timeout closes it, no protocol opened. */
START_TEST(silent_client_is_closed_by_the_idle_timeout)
{
	setup(100, 0);
	int fd = client();
	ck_assert(peer_closed(fd, 3000));
	ck_assert_int_eq(seen.opened[0] + seen.opened[1], 0);
	close(fd);
	teardown();
}
END_TEST

/* Once routed, the route's idle rule (here none) replaces the listener's. */
START_TEST(route_idle_rule_replaces_the_listeners)
{
	setup(100, 0);
	int fd = client();
	send_all(fd, "AMQP", 4);
	run(2000, &seen.opened[1]);
	ck_assert_int_eq(seen.opened[1], 1);
	ck_assert(!peer_closed(fd, 400)); /* four idle timeouts of the listener */
	ck_assert_int_eq(seen.closed[1], 0);
	close(fd);
	teardown();
	/* the listener's own protocol keeps the listener's idle timeout */
	setup(100, 0);
	fd = client();
	send_all(fd, "XY", 2);
	run(2000, &seen.opened[0]);
	ck_assert(peer_closed(fd, 3000));
	close(fd);
	teardown();
}
END_TEST

START_TEST(bad_routes_are_refused)
{
	struct tdm_net_route r = { .prefix = amqp_prefix, .len = 0, .proto = &proto_amqp };
	setup(0, 0);
	errno = 0;
	ck_assert_int_eq(tdm_net_listen_routes(net, port, &r, 1), -1);
	ck_assert_int_eq(errno, EINVAL);
	r.len = TDM_NET_PREFIX_MAX + 1;
	ck_assert_int_eq(tdm_net_listen_routes(net, port, &r, 1), -1);
	r.len = 4;
	ck_assert_int_eq(tdm_net_listen_routes(net, port == 1 ? 2 : 1, &r, 1), 0);
	teardown();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("net-routes");
	TCase *tc = tcase_create("routes");
	int failed;

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, prefix_goes_to_the_route);
	tcase_add_test(tc, anything_else_goes_to_the_listener);
	tcase_add_test(tc, decided_as_soon_as_no_prefix_can_match);
	tcase_add_test(tc, partial_prefix_waits);
	tcase_add_test(tc, gone_before_deciding);
	tcase_add_test(tc, silent_client_is_closed_by_the_idle_timeout);
	tcase_add_test(tc, route_idle_rule_replaces_the_listeners);
	tcase_add_test(tc, bad_routes_are_refused);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
