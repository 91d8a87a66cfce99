/*
 * tandemctl's cluster command over the management API: "cluster status"
 * reads /api/cluster and prints the live nodes (the controller marked),
 * then the under-replicated and offline partitions in kafka-topics'
 * --describe form, or that every partition is fully replicated.  The
 * API's JSON with --json.
 *
 * Depends on: libc, tools/ctl.h (tandemctl.c), src/util/json.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/ctl.h"

static int64_t num(const struct js_doc *d, int o, const char *k, int64_t dflt)
{
	int64_t v;
	return js_int64(d, js_get(d, o, k), &v) == 0 ? v : dflt;
}

static void ids(const struct js_doc *d, int o, const char *k)
{
	int a = js_get(d, o, k);
	int first = 1;
	for (int i = js_type_of(d, a) == JS_ARR ? js_child(d, a) : -1; i >= 0;
	     i = js_next(d, a, i), first = 0) {
		char *s = ctl_scalar(d, i);
		printf("%s%s", first ? "" : ",", s ? s : "?");
		free(s);
	}
}

/* The partitions whose member `flag` is true, under a heading; their count. */
static int partitions(const struct js_doc *d, const char *flag, const char *heading)
{
	int parts = js_get(d, 0, "partitions"), n = 0;
	if (js_type_of(d, parts) != JS_ARR)
		return 0;
	for (int p = js_child(d, parts); p >= 0; p = js_next(d, parts, p))
		n += js_truth(d, js_get(d, p, flag)) == 1;
	if (!n)
		return 0;
	printf("%s partitions: %d\n", heading, n);
	for (int p = js_child(d, parts); p >= 0; p = js_next(d, parts, p)) {
		if (js_truth(d, js_get(d, p, flag)) != 1)
			continue;
		char *topic = ctl_scalar(d, js_get(d, p, "topic"));
		int64_t leader = num(d, p, "leader", -1);
		printf("  Topic: %s\tPartition: %lld\tLeader: ", topic ? topic : "?",
		       (long long)num(d, p, "partition", -1));
		if (leader < 0)
			printf("none");
		else
			printf("%lld", (long long)leader);
		printf("\tReplicas: ");
		ids(d, p, "replicas");
		printf("\tIsr: ");
		ids(d, p, "isr");
		printf("\n");
		free(topic);
	}
	return n;
}

static int cluster_status(void)
{
	struct reply r;
	struct js_doc d;
	char err[100];
	ctl_request("GET", "/api/cluster", NULL, &r);
	ctl_check(&r);
	if (ctl_as_json) {
		printf("%s\n", r.body);
		free(r.body);
		return 0;
	}
	if (js_parse(&d, r.body, r.len, err, sizeof(err)) < 0 || js_type_of(&d, 0) != JS_OBJ) {
		fprintf(stderr, "tandemctl: unexpected answer: %s\n", err);
		exit(1);
	}
	int nodes = js_get(&d, 0, "nodes");
	int64_t controller = num(&d, 0, "controller", -1);
	unsigned nn = js_type_of(&d, nodes) == JS_ARR ? d.n[nodes].count : 0;
	if (js_truth(&d, js_get(&d, 0, "clustered")) == 1) {
		printf("cluster: %u live node%s, controller ", nn, nn == 1 ? "" : "s");
		if (controller < 0)
			printf("none");
		else
			printf("%lld", (long long)controller);
		printf(", answered by node %lld\n", (long long)num(&d, 0, "node_id", -1));
	} else {
		printf("single node (not clustered)\n");
	}
	for (int n = nn ? js_child(&d, nodes) : -1; n >= 0; n = js_next(&d, nodes, n)) {
		int64_t id = num(&d, n, "id", -1), kafka = num(&d, n, "kafka_port", 0);
		char *host = ctl_scalar(&d, js_get(&d, n, "host"));
		printf("node %lld\t%s", (long long)id, host && *host ? host : "-");
		if (kafka > 0)
			printf(":%lld", (long long)kafka);
		printf("\tamqp %lld\thttp %lld%s\n", (long long)num(&d, n, "amqp_port", 0),
		       (long long)num(&d, n, "http_port", 0),
		       id == controller ? "\tcontroller" : "");
		free(host);
	}
	int bad = partitions(&d, "under_replicated", "under-replicated");
	bad += partitions(&d, "offline", "offline");
	if (!bad)
		printf("all partitions fully replicated\n");
	js_doc_free(&d);
	free(r.body);
	return 0;
}

int ctl_cluster(int argc, char **argv)
{
	if (argc == 1 && strcmp(argv[0], "status") == 0)
		return cluster_status();
	ctl_usage();
	return 2;
}
