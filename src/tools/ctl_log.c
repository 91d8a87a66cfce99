/*
 * tandemctl's log commands over the management API: topic create, delete
 * and describe (/api/topics), group describe and list groups
 * (/api/groups).  Human tables by default, the API's JSON with --json.
 *
 * Depends on: libc, tools/ctl.h (tandemctl.c), src/util/json.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tools/ctl.h"

/* GETs path into a parsed document (exits on any failure); r keeps the text. */
static void get_doc(const char *path, struct reply *r, struct js_doc *d)
{
	char err[100];
	ctl_request("GET", path, NULL, r);
	ctl_check(r);
	if (js_parse(d, r->body, r->len, err, sizeof(err)) < 0) {
		fprintf(stderr, "tandemctl: unexpected answer: %s\n", err);
		exit(1);
	}
}

/* Prints the value of key k of object o (or "-"). */
static void field(const struct js_doc *d, int o, const char *k)
{
	int v = js_get(d, o, k);
	char *s = v >= 0 && js_type_of(d, v) != JS_NULL ? ctl_scalar(d, v) : NULL;
	printf("%s", s && *s ? s : "-");
	free(s);
}

/* ---- topics ---------------------------------------------------------------- */

static int topic_create(int argc, char **argv)
{
	struct js_w w;
	char name[800], path[900];
	js_w_init(&w);
	js_obj(&w);
	js_key(&w, "config");
	js_obj(&w);
	const char *parts = NULL, *factor = NULL;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--partitions") == 0 && i + 1 < argc) {
			parts = argv[++i];
		} else if (strcmp(argv[i], "--replication-factor") == 0 && i + 1 < argc) {
			factor = argv[++i];
		} else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc && strchr(argv[i + 1], '=')) {
			const char *kv = argv[++i], *eq = strchr(kv, '=');
			char key[256];
			snprintf(key, sizeof(key), "%.*s", (int)(eq - kv), kv);
			js_kstr(&w, key, eq + 1);
		} else {
			js_w_free(&w);
			ctl_usage();
		}
	}
	js_obj_end(&w);
	const char *const keys[] = { "partitions", "replication_factor" };
	const char *const vals[] = { parts, factor };
	for (int k = 0; k < 2; k++) {
		if (!vals[k])
			continue;
		char *end;
		long n = strtol(vals[k], &end, 10);
		if (!*vals[k] || *end) {
			js_w_free(&w);
			ctl_usage();
		}
		js_key(&w, keys[k]);
		js_int(&w, n);
	}
	js_obj_end(&w);
	ctl_seg(name, sizeof(name), argv[0]);
	snprintf(path, sizeof(path), "/api/topics/%s", name);
	struct reply r;
	ctl_request("PUT", path, w.buf, &r);
	js_w_free(&w);
	ctl_check(&r);
	if (ctl_as_json) {
		char *t = ctl_jstr(argv[0]);
		printf("{\"topic\":%s,\"created\":%s}\n", t, r.status == 201 ? "true" : "false");
		free(t);
	} else
		printf("topic %s %s\n", argv[0], r.status == 201 ? "created" : "unchanged or grown");
	free(r.body);
	return 0;
}

static int topic_delete(const char *topic)
{
	char name[800], path[900];
	struct reply r;
	ctl_seg(name, sizeof(name), topic);
	snprintf(path, sizeof(path), "/api/topics/%s", name);
	ctl_request("DELETE", path, NULL, &r);
	ctl_check(&r);
	printf(ctl_as_json ? "{}\n" : "topic deleted\n");
	free(r.body);
	return 0;
}

static int topic_describe(const char *topic)
{
	static const char *const cols[] = { "partition", "log_start_offset", "log_end_offset",
					     "segments", "bytes" };
	char name[800], path[900];
	struct reply r;
	struct js_doc d;
	ctl_seg(name, sizeof(name), topic);
	snprintf(path, sizeof(path), "/api/topics/%s", name);
	get_doc(path, &r, &d);
	if (ctl_as_json) {
		printf("%s\n", r.body);
	} else {
		printf("topic %s: ", topic);
		field(&d, 0, "partitions");
		printf(" partitions, ");
		field(&d, 0, "messages");
		printf(" messages, ");
		field(&d, 0, "bytes");
		printf(" bytes\nconfig ");
		field(&d, 0, "config");
		printf("\n");
		int arr = js_get(&d, 0, "partition_details");
		if (arr >= 0)
			ctl_table(d.src + d.n[arr].off, d.n[arr].len, cols, 5);
	}
	js_doc_free(&d);
	free(r.body);
	return 0;
}

int ctl_topic(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[0], "create") == 0)
		return topic_create(argc - 1, argv + 1);
	if (argc == 2 && strcmp(argv[0], "delete") == 0)
		return topic_delete(argv[1]);
	if (argc == 2 && strcmp(argv[0], "describe") == 0)
		return topic_describe(argv[1]);
	ctl_usage();
	return 2;
}

/* ---- groups ------------------------------------------------------------------- */

/* "topic[0,1] other[2]" for a member's decoded assignment. */
static void print_assignment(const struct js_doc *d, int m)
{
	int a = js_get(d, m, "assignment");
	if (!d->n[a].count)
		printf("-");
	for (int t = js_child(d, a); t >= 0; t = js_next(d, a, t)) {
		int parts = js_get(d, t, "partitions");
		field(d, t, "topic");
		printf("[");
		for (int p = js_child(d, parts), first = 1; p >= 0; p = js_next(d, parts, p), first = 0) {
			char *s = ctl_scalar(d, p);
			printf("%s%s", first ? "" : ",", s);
			free(s);
		}
		printf("]%s", js_next(d, a, t) >= 0 ? " " : "");
	}
}

static void print_group(const struct js_doc *d, int g)
{
	static const char *const cols[] = { "topic", "partition", "committed_offset", "log_end_offset",
					    "lag" };
	printf("group ");
	field(d, g, "group");
	printf(": state ");
	field(d, g, "state");
	printf(", protocol ");
	field(d, g, "protocol_type");
	printf("/");
	field(d, g, "protocol");
	printf(", generation ");
	field(d, g, "generation");
	printf(", total lag ");
	field(d, g, "lag");
	printf("\n");
	int ms = js_get(d, g, "members");
	printf("members: %u\n", ms >= 0 ? d->n[ms].count : 0);
	for (int m = js_child(d, ms); m >= 0; m = js_next(d, ms, m)) {
		printf("  ");
		field(d, m, "member_id");
		printf("  client ");
		field(d, m, "client_id");
		printf("  host ");
		field(d, m, "client_host");
		printf("  assignment ");
		if (js_type_of(d, js_get(d, m, "assignment")) == JS_ARR)
			print_assignment(d, m);
		else {
			field(d, m, "assignment_bytes");
			printf(" bytes");
		}
		printf("\n");
	}
	int arr = js_get(d, g, "offsets");
	if (arr >= 0 && d->n[arr].count)
		ctl_table(d->src + d->n[arr].off, d->n[arr].len, cols, 5);
}

int ctl_group(int argc, char **argv)
{
	if (argc != 2 || strcmp(argv[0], "describe") != 0)
		ctl_usage();
	char name[800], path[900];
	struct reply r;
	struct js_doc d;
	ctl_seg(name, sizeof(name), argv[1]);
	snprintf(path, sizeof(path), "/api/groups/%s", name);
	get_doc(path, &r, &d);
	if (ctl_as_json)
		printf("%s\n", r.body);
	else
		print_group(&d, 0);
	js_doc_free(&d);
	free(r.body);
	return 0;
}

int ctl_list_groups(void)
{
	struct reply r;
	struct js_doc d;
	get_doc("/api/groups", &r, &d);
	if (ctl_as_json) {
		printf("%s\n", r.body);
	} else {
		size_t w = 5;
		for (int g = js_child(&d, 0); g >= 0; g = js_next(&d, 0, g)) {
			int n = js_get(&d, g, "group");
			if (n >= 0 && d.n[n].len > w)
				w = d.n[n].len;
		}
		printf("%-*s  %-19s  %-7s  %s\n", (int)w, "group", "state", "members", "lag");
		for (int g = js_child(&d, 0); g >= 0; g = js_next(&d, 0, g)) {
			char *name = ctl_scalar(&d, js_get(&d, g, "group"));
			char *state = ctl_scalar(&d, js_get(&d, g, "state"));
			char *lag = ctl_scalar(&d, js_get(&d, g, "lag"));
			int ms = js_get(&d, g, "members");
			printf("%-*s  %-19s  %-7u  %s\n", (int)w, name, state, ms >= 0 ? d.n[ms].count : 0, lag);
			free(name);
			free(state);
			free(lag);
		}
	}
	js_doc_free(&d);
	free(r.body);
	return 0;
}
