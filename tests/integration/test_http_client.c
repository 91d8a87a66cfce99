/*
 * The HTTP clients against a server that answers in chunks: the tests'
 * client (http_client.c) and tandemctl must hand back the de-chunked body,
 * as RabbitMQ's cowboy or a proxy in front of tandemd may send it.  The
 * server is a raw-socket child process of this test (stopped by PID) that
 * answers every request with the same chunked JSON reply.  The same server
 * stands in for a node of a three-node cluster (a canned /api/cluster
 * answer) to check what tandemctl cluster status prints of it.
 *
 * Depends on: Check, the tests' HTTP client, tandemctl.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <check.h>

#include "http_client.h"

/* The reply's body and the chunks it is sent in. */
static const char *const chunks[] = { "[{\"name\":\"chunked-q\",", "\"messages\":7,\"vhost\":\"/\"},",
				      "{\"name\":\"second\",\"messages\":0,\"vhost\":\"/\"}]" };
#define NCHUNKS (sizeof(chunks) / sizeof(chunks[0]))

/* /api/cluster as node 2 of three answers it (src/http/cluster_doc.c's
 * form): controller 3, audit/0 under-replicated, orders/1 offline. */
static const char *const cluster_chunks[] = {
	"{\"clustered\":true,\"node_id\":2,\"controller\":3,\"nodes\":["
	"{\"id\":1,\"host\":\"10.0.0.1\",\"kafka_port\":9192,\"amqp_port\":5772,\"http_port\":15772},"
	"{\"id\":2,\"host\":\"10.0.0.2\",\"kafka_port\":9292,\"amqp_port\":5872,\"http_port\":15872},",
	"{\"id\":3,\"host\":\"10.0.0.3\",\"kafka_port\":9392,\"amqp_port\":5972,\"http_port\":15972}],"
	"\"partitions\":[{\"topic\":\"audit\",\"partition\":0,\"leader\":2,\"leader_epoch\":4,"
	"\"replicas\":[2,3,1],\"isr\":[2,3],\"high_watermark\":5,\"under_replicated\":true,"
	"\"offline\":false,\"max_follower_lag\":3},",
	"{\"topic\":\"orders\",\"partition\":0,\"leader\":1,\"leader_epoch\":7,\"replicas\":[1,2,3],"
	"\"isr\":[1,2,3],\"high_watermark\":0,\"under_replicated\":false,\"offline\":false,"
	"\"max_follower_lag\":0},{\"topic\":\"orders\",\"partition\":1,\"leader\":-1,"
	"\"leader_epoch\":2,\"replicas\":[3,1,2],\"isr\":[3],\"high_watermark\":0,"
	"\"under_replicated\":false,\"offline\":true,\"max_follower_lag\":0}],"
	"\"under_replicated\":1,\"offline\":1}",
};

/* What the server sends (chunks, then cluster_chunks). */
static const char *const *serving = chunks;
static size_t nserving = NCHUNKS;

static void serve(int lfd)
{
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		if (fd < 0)
			continue;
		char buf[8192];
		size_t got = 0;
		ssize_t n;
		/* the request's head; its body (if any) is not read */
		while (got < sizeof(buf) - 1 && (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0) {
			got += (size_t)n;
			buf[got] = '\0';
			if (strstr(buf, "\r\n\r\n"))
				break;
		}
		char out[8192];
		size_t o = (size_t)snprintf(out, sizeof(out),
					    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
					    "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
		for (size_t i = 0; i < nserving; i++)
			o += (size_t)snprintf(out + o, sizeof(out) - o, "%zx\r\n%s\r\n", strlen(serving[i]),
					      serving[i]);
		o += (size_t)snprintf(out + o, sizeof(out) - o, "0\r\n\r\n");
		if (write(fd, out, o) != (ssize_t)o)
			_exit(1);
		shutdown(fd, SHUT_WR);
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
	}
}

static pid_t server_pid;

/* Starts the chunked server on a free loopback port; returns the port. */
static int start_server(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ck_assert(lfd >= 0 && bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(lfd, 16) == 0 &&
		  getsockname(lfd, (struct sockaddr *)&sa, &sl) == 0);
	server_pid = fork();
	ck_assert_int_ge(server_pid, 0);
	if (server_pid == 0)
		serve(lfd);
	close(lfd);
	return ntohs(sa.sin_port);
}

static void stop_server(void)
{
	kill(server_pid, SIGKILL); /* the harness's SIGTERM handler is inherited */
	waitpid(server_pid, NULL, 0);
}

static char *whole_body(void)
{
	static char body[1024];
	body[0] = '\0';
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++)
		strcat(body, chunks[i]);
	return body;
}

START_TEST(test_http_chunked_reply)
{
	th_http_port(start_server());
	struct th_http_resp r;
	ck_assert_int_eq(th_http("GET", "/api/queues", "guest:guest", NULL, &r), 200);
	ck_assert_str_eq(r.body, whole_body());
	ck_assert_uint_eq(r.len, strlen(whole_body()));
	ck_assert_int_eq(th_jcount(&r, ""), 2);
	ck_assert_int_eq(th_jint(&r, "[name=chunked-q]/messages", -1), 7);
	/* the JSON readers say no as well as yes */
	ck_assert(th_jmatch(&r, "0", "{\"name\":\"chunked-q\"}"));
	ck_assert(!th_jeq(&r, "0", "{\"name\":\"chunked-q\"}"));
	ck_assert(th_jeq(&r, "0", "{\"vhost\":\"/\",\"messages\":7,\"name\":\"chunked-q\"}"));
	ck_assert(!th_jmatch(&r, "0", "{\"name\":\"second\"}"));
	ck_assert(th_jcontains(&r, "", "{\"messages\":0}"));
	ck_assert(!th_jcontains(&r, "", "{\"messages\":8}"));
	ck_assert(!th_jcontains(&r, "0", "{\"messages\":7}"));
	ck_assert_int_eq(th_jnode(&r, "[name=none]"), -1);
	ck_assert_ptr_null(th_jstr(&r, "1/messages"));
	ck_assert_str_eq(th_jstr(&r, "1/name"), "second");
	th_http_free(&r);
	stop_server();
}
END_TEST

START_TEST(test_tandemctl_chunked_reply)
{
	char out[4096], want[1100];
	th_http_port(start_server());
	/* --json prints the body as it came, de-chunked */
	ck_assert_int_eq(th_ctl(out, sizeof(out), "--json overview"), 0);
	snprintf(want, sizeof(want), "%s\n", whole_body());
	ck_assert_str_eq(out, want);
	/* a table is made of the parsed body */
	ck_assert_int_eq(th_ctl(out, sizeof(out), "list queues"), 0);
	ck_assert_msg(strstr(out, "chunked-q") && strstr(out, "second"), "%s", out);
	stop_server();
}
END_TEST

START_TEST(test_tandemctl_cluster_status)
{
	char out[4096];
	serving = cluster_chunks;
	nserving = sizeof(cluster_chunks) / sizeof(cluster_chunks[0]);
	th_http_port(start_server());
	ck_assert_int_eq(th_ctl(out, sizeof(out), "cluster status"), 0);
	ck_assert_str_eq(out, "cluster: 3 live nodes, controller 3, answered by node 2\n"
			      "node 1\t10.0.0.1:9192\tamqp 5772\thttp 15772\n"
			      "node 2\t10.0.0.2:9292\tamqp 5872\thttp 15872\n"
			      "node 3\t10.0.0.3:9392\tamqp 5972\thttp 15972\tcontroller\n"
			      "under-replicated partitions: 1\n"
			      "  Topic: audit\tPartition: 0\tLeader: 2\tReplicas: 2,3,1\tIsr: 2,3\n"
			      "offline partitions: 1\n"
			      "  Topic: orders\tPartition: 1\tLeader: none\tReplicas: 3,1,2\tIsr: 3\n");
	stop_server();
	serving = chunks;
	nserving = NCHUNKS;
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http_client");
	TCase *tc = tcase_create("chunked");
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_http_chunked_reply);
	tcase_add_test(tc, test_tandemctl_chunked_reply);
	tcase_add_test(tc, test_tandemctl_cluster_status);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
