/* Integration tests: routing end to end through direct, fanout, topic and
 * headers exchanges. The topic and headers tables are RabbitMQ 3.10's
 * observed answers, edge cases included:
 *  - topic: "" is zero words ("*" does not match it, "#" and "" do); "." is
 *    two empty words ("*.*" matches it); empty words match "*";
 *  - headers: x-match all (the default) with no conditions matches every
 *    message, any with none matches nothing; a void binding value tests
 *    presence; numbers compare by value across types (int 1 = long 1 =
 *    byte 1 = double 1.0) but not with strings or booleans; "x-" keys are
 *    ignored by all/any and used by all-with-x/any-with-x.
 */
#include "harness.h"

#include <stdio.h>
#include <string.h>

/* Get the expected bodies from q in order, then require it drained. */
static void expect_bodies(amqp_connection_state_t c, amqp_channel_t ch, const char *q, const char *const *bodies,
			  size_t n, const char *what)
{
	for (size_t i = 0; i < n; i++) {
		amqp_message_t m;
		char body[256];
		ck_assert_msg(th_get_wait(c, ch, q, 1, &m, NULL, NULL, NULL, 5000) == 1, "%s: message %zu ('%s') missing",
			      what, i, bodies[i]);
		th_body(&m.body, body, sizeof(body));
		amqp_destroy_message(&m);
		ck_assert_msg(strcmp(body, bodies[i]) == 0, "%s: got '%s', expected '%s'", what, body, bodies[i]);
	}
	th_publish(c, ch, "", q, "th-marker");
	amqp_message_t m;
	char body[256];
	ck_assert_int_eq(th_get_wait(c, ch, q, 1, &m, NULL, NULL, NULL, 5000), 1);
	th_body(&m.body, body, sizeof(body));
	amqp_destroy_message(&m);
	ck_assert_msg(strcmp(body, "th-marker") == 0, "%s: unexpected extra message '%s'", what, body);
}

START_TEST(direct_routing)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128], q1[128], q2[128], q3[128];
	th_exchange(c, 1, th_name(x, sizeof(x), "direct"), "direct");
	th_queue(c, 1, th_name(q1, sizeof(q1), "d1"), 0, 1, 0, NULL, 0);
	th_queue(c, 1, th_name(q2, sizeof(q2), "d2"), 0, 1, 0, NULL, 0);
	th_queue(c, 1, th_name(q3, sizeof(q3), "d3"), 0, 1, 0, NULL, 0);
	th_bind(c, 1, q1, x, "red", amqp_empty_table);
	th_bind(c, 1, q2, x, "red", amqp_empty_table);
	th_bind(c, 1, q2, x, "green", amqp_empty_table);
	th_bind(c, 1, q3, x, "", amqp_empty_table);
	th_publish(c, 1, x, "red", "r");
	th_publish(c, 1, x, "green", "g");
	th_publish(c, 1, x, "RED", "R"); /* case-sensitive: nowhere */
	th_publish(c, 1, x, "blue", "b");
	th_publish(c, 1, x, "", "empty");
	th_publish(c, 1, x, "red.x", "rx");
	const char *e1[] = {"r"}, *e2[] = {"r", "g"}, *e3[] = {"empty"};
	expect_bodies(c, 1, q1, e1, 1, "q1");
	expect_bodies(c, 1, q2, e2, 2, "q2");
	expect_bodies(c, 1, q3, e3, 1, "q3");
	/* unbind stops routing */
	amqp_queue_unbind(c, 1, amqp_cstring_bytes(q2), amqp_cstring_bytes(x), amqp_cstring_bytes("red"),
			  amqp_empty_table);
	th_ok_last(c, "unbind");
	th_publish(c, 1, x, "red", "r2");
	const char *f1[] = {"r2"};
	expect_bodies(c, 1, q1, f1, 1, "q1 after unbind");
	expect_bodies(c, 1, q2, NULL, 0, "q2 after unbind");
	amqp_exchange_delete(c, 1, amqp_cstring_bytes(x), 0);
	th_close(c);
}
END_TEST

START_TEST(fanout_routing)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128], q[3][128];
	th_exchange(c, 1, th_name(x, sizeof(x), "fanout"), "fanout");
	for (int i = 0; i < 3; i++) {
		th_queue(c, 1, th_name(q[i], sizeof(q[i]), "f"), 0, 1, 0, NULL, 0);
		th_bind(c, 1, q[i], x, i == 0 ? "" : "ignored-key", amqp_empty_table);
	}
	th_publish(c, 1, x, "anything", "one");
	th_publish(c, 1, x, "", "two");
	const char *e[] = {"one", "two"};
	for (int i = 0; i < 3; i++)
		expect_bodies(c, 1, q[i], e, 2, "fanout queue");
	amqp_exchange_delete(c, 1, amqp_cstring_bytes(x), 0);
	th_close(c);
}
END_TEST

/* Same message to many queues: every copy identical (body and properties). */
START_TEST(fanout_copies_identical)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128], q[8][128];
	th_exchange(c, 1, th_name(x, sizeof(x), "fanout-same"), "fanout");
	for (int i = 0; i < 8; i++) {
		th_queue(c, 1, th_name(q[i], sizeof(q[i]), "fs"), 0, 1, 0, NULL, 0);
		th_bind(c, 1, q[i], x, "", amqp_empty_table);
	}
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
	p.content_type = amqp_cstring_bytes("text/plain");
	p.message_id = amqp_cstring_bytes("id-42");
	static char body[70000];
	for (size_t i = 0; i < sizeof(body); i++)
		body[i] = (char)(i * 7);
	th_publish_props(c, 1, x, "k", 0, &p, (amqp_bytes_t){.len = sizeof(body), .bytes = body});
	for (int i = 0; i < 8; i++) {
		amqp_message_t m;
		ck_assert_int_eq(th_get_wait(c, 1, q[i], 1, &m, NULL, NULL, NULL, 5000), 1);
		ck_assert_uint_eq(m.body.len, sizeof(body));
		ck_assert(memcmp(m.body.bytes, body, sizeof(body)) == 0);
		ck_assert(th_bytes_eq(m.properties.content_type, "text/plain"));
		ck_assert(th_bytes_eq(m.properties.message_id, "id-42"));
		amqp_destroy_message(&m);
	}
	amqp_exchange_delete(c, 1, amqp_cstring_bytes(x), 0);
	th_close(c);
}
END_TEST

/* ---- topic ----------------------------------------------------------------- */

static const char *const topic_keys[] = {"",	"a",	   "b",	  "a.b",   "a.b.c", "b.a", "c.b.a",
					 "a.x.b", "a.x.y.b", "a..b", "a.",    ".a",    ".",   "..",
					 "A.b",	"a.b.b",   "x.b.y"};
#define NKEYS (sizeof(topic_keys) / sizeof(topic_keys[0]))

struct topic_case {
	const char *pattern;
	const char *matches[NKEYS + 1]; /* NULL-terminated, in topic_keys order */
};

static const struct topic_case topic_cases[] = {
	{"*", {"a", "b", NULL}},
	{"#",
	 {"", "a", "b", "a.b", "a.b.c", "b.a", "c.b.a", "a.x.b", "a.x.y.b", "a..b", "a.", ".a", ".", "..", "A.b",
	  "a.b.b", "x.b.y", NULL}},
	{"a.*", {"a.b", "a.", NULL}},
	{"a.#", {"a", "a.b", "a.b.c", "a.x.b", "a.x.y.b", "a..b", "a.", "a.b.b", NULL}},
	{"#.a", {"a", "b.a", "c.b.a", ".a", NULL}},
	{"a.#.b", {"a.b", "a.x.b", "a.x.y.b", "a..b", "a.b.b", NULL}},
	{"a.#.#.b", {"a.b", "a.x.b", "a.x.y.b", "a..b", "a.b.b", NULL}},
	{"*.*", {"a.b", "b.a", "a.", ".a", ".", "A.b", NULL}},
	{"a.*.b", {"a.x.b", "a..b", "a.b.b", NULL}},
	{"#.#",
	 {"", "a", "b", "a.b", "a.b.c", "b.a", "c.b.a", "a.x.b", "a.x.y.b", "a..b", "a.", ".a", ".", "..", "A.b",
	  "a.b.b", "x.b.y", NULL}},
	{"*.#",
	 {"a", "b", "a.b", "a.b.c", "b.a", "c.b.a", "a.x.b", "a.x.y.b", "a..b", "a.", ".a", ".", "..", "A.b", "a.b.b",
	  "x.b.y", NULL}},
	{"#.*",
	 {"a", "b", "a.b", "a.b.c", "b.a", "c.b.a", "a.x.b", "a.x.y.b", "a..b", "a.", ".a", ".", "..", "A.b", "a.b.b",
	  "x.b.y", NULL}},
	{"a.b.c", {"a.b.c", NULL}},
	{"", {"", NULL}},
	{"a..b", {"a..b", NULL}},
	{"#.b.#", {"b", "a.b", "a.b.c", "b.a", "c.b.a", "a.x.b", "a.x.y.b", "a..b", "A.b", "a.b.b", "x.b.y", NULL}},
	{"*.b.*", {"a.b.c", "c.b.a", "a.b.b", "x.b.y", NULL}},
	{"a.#.*", {"a.b", "a.b.c", "a.x.b", "a.x.y.b", "a..b", "a.", "a.b.b", NULL}},
};
#define NTOPIC (sizeof(topic_cases) / sizeof(topic_cases[0]))

START_TEST(topic_routing)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128];
	static char q[NTOPIC][128];
	th_exchange(c, 1, th_name(x, sizeof(x), "topic"), "topic");
	for (size_t i = 0; i < NTOPIC; i++) {
		th_queue(c, 1, th_name(q[i], sizeof(q[i]), "t"), 0, 1, 0, NULL, 0);
		th_bind(c, 1, q[i], x, topic_cases[i].pattern, amqp_empty_table);
	}
	for (size_t k = 0; k < NKEYS; k++) {
		char body[64];
		snprintf(body, sizeof(body), "<%s>", topic_keys[k]);
		th_publish(c, 1, x, topic_keys[k], body);
	}
	for (size_t i = 0; i < NTOPIC; i++) {
		static char bodies[NKEYS][64];
		const char *exp[NKEYS];
		size_t n = 0;
		for (; topic_cases[i].matches[n] != NULL; n++) {
			snprintf(bodies[n], sizeof(bodies[n]), "<%s>", topic_cases[i].matches[n]);
			exp[n] = bodies[n];
		}
		char what[64];
		snprintf(what, sizeof(what), "pattern '%s'", topic_cases[i].pattern);
		expect_bodies(c, 1, q[i], exp, n, what);
	}
	amqp_exchange_delete(c, 1, amqp_cstring_bytes(x), 0);
	th_close(c);
}
END_TEST

/* One queue bound with overlapping patterns gets a matching message once. */
START_TEST(topic_overlapping_bindings_once)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128], q[128];
	th_exchange(c, 1, th_name(x, sizeof(x), "topic-ov"), "topic");
	th_queue(c, 1, th_name(q, sizeof(q), "tov"), 0, 1, 0, NULL, 0);
	th_bind(c, 1, q, x, "a.*", amqp_empty_table);
	th_bind(c, 1, q, x, "#", amqp_empty_table);
	th_bind(c, 1, q, x, "a.b", amqp_empty_table);
	th_publish(c, 1, x, "a.b", "once");
	const char *e[] = {"once"};
	expect_bodies(c, 1, q, e, 1, "overlap");
	amqp_exchange_delete(c, 1, amqp_cstring_bytes(x), 0);
	th_close(c);
}
END_TEST

/* Many bindings: the right few get each message. */
START_TEST(topic_many_bindings)
{
	enum { N = 300 };
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128], q[128];
	th_exchange(c, 1, th_name(x, sizeof(x), "topic-many"), "topic");
	th_queue(c, 1, th_name(q, sizeof(q), "tmany"), 0, 1, 0, NULL, 0);
	for (int i = 0; i < N; i++) {
		char pat[64];
		snprintf(pat, sizeof(pat), "stock.%d.*", i);
		th_bind(c, 1, q, x, pat, amqp_empty_table);
	}
	th_publish(c, 1, x, "stock.17.nyse", "hit");
	th_publish(c, 1, x, "stock.17", "miss");
	th_publish(c, 1, x, "stock.300.nyse", "miss");
	const char *e[] = {"hit"};
	expect_bodies(c, 1, q, e, 1, "many bindings");
	amqp_exchange_delete(c, 1, amqp_cstring_bytes(x), 0);
	th_close(c);
}
END_TEST

/* ---- headers ---------------------------------------------------------------- */

struct hval {
	const char *key;
	char kind; /* 'I' int32, 'l' int64, 'b' int8, 'd' double, 'S' string, 't' bool, 'V' void */
	long long num;
	const char *str;
};

static int build_table(const struct hval *v, amqp_table_entry_t *e)
{
	int n = 0;
	for (; v != NULL && v[n].key != NULL; n++) {
		e[n].key = amqp_cstring_bytes(v[n].key);
		switch (v[n].kind) {
		case 'I':
			e[n].value.kind = AMQP_FIELD_KIND_I32;
			e[n].value.value.i32 = (int32_t)v[n].num;
			break;
		case 'l':
			e[n].value.kind = AMQP_FIELD_KIND_I64;
			e[n].value.value.i64 = v[n].num;
			break;
		case 'b':
			e[n].value.kind = AMQP_FIELD_KIND_I8;
			e[n].value.value.i8 = (int8_t)v[n].num;
			break;
		case 'd':
			e[n].value.kind = AMQP_FIELD_KIND_F64;
			e[n].value.value.f64 = (double)v[n].num;
			break;
		case 'S':
			e[n].value.kind = AMQP_FIELD_KIND_UTF8;
			e[n].value.value.bytes = amqp_cstring_bytes(v[n].str);
			break;
		case 't':
			e[n].value.kind = AMQP_FIELD_KIND_BOOLEAN;
			e[n].value.value.boolean = (amqp_boolean_t)v[n].num;
			break;
		default:
			e[n].value.kind = AMQP_FIELD_KIND_VOID;
			break;
		}
	}
	return n;
}

struct hbinding {
	const char *name;
	struct hval args[5];
	const char *matches[16];
};

struct hmessage {
	const char *name;
	struct hval headers[5];
	int no_headers; /* publish without a headers property at all */
};

static const struct hmessage hmessages[] = {
	{"a1bx", {{"a", 'I', 1, NULL}, {"b", 'S', 0, "x"}, {NULL, 0, 0, NULL}}, 0},
	{"a1", {{"a", 'I', 1, NULL}, {NULL, 0, 0, NULL}}, 0},
	{"a1long", {{"a", 'l', 1, NULL}, {NULL, 0, 0, NULL}}, 0},
	{"a1byte", {{"a", 'b', 1, NULL}, {NULL, 0, 0, NULL}}, 0},
	{"a1dbl", {{"a", 'd', 1, NULL}, {NULL, 0, 0, NULL}}, 0},
	{"a1str", {{"a", 'S', 0, "1"}, {NULL, 0, 0, NULL}}, 0},
	{"empty", {{NULL, 0, 0, NULL}}, 0},
	{"noprop", {{NULL, 0, 0, NULL}}, 1},
	{"xfoo", {{"x-foo", 'S', 0, "bar"}, {NULL, 0, 0, NULL}}, 0},
	{"xfoo-a7", {{"x-foo", 'S', 0, "bar"}, {"a", 'I', 7, NULL}, {NULL, 0, 0, NULL}}, 0},
	{"avoid", {{"a", 'V', 0, NULL}, {NULL, 0, 0, NULL}}, 0},
	{"a1bxc", {{"a", 'I', 1, NULL}, {"b", 'S', 0, "x"}, {"c", 'S', 0, "y"}, {NULL, 0, 0, NULL}}, 0},
	{"f-true", {{"f", 't', 1, NULL}, {NULL, 0, 0, NULL}}, 0},
	{"f-int1", {{"f", 'I', 1, NULL}, {NULL, 0, 0, NULL}}, 0},
	{"b-x-only", {{"b", 'S', 0, "x"}, {NULL, 0, 0, NULL}}, 0},
};
#define NHMSG (sizeof(hmessages) / sizeof(hmessages[0]))

static const struct hbinding hbindings[] = {
	{"all", {{"x-match", 'S', 0, "all"}, {"a", 'I', 1, NULL}, {"b", 'S', 0, "x"}, {NULL, 0, 0, NULL}},
	 {"a1bx", "a1bxc", NULL}},
	{"any",
	 {{"x-match", 'S', 0, "any"}, {"a", 'I', 1, NULL}, {"b", 'S', 0, "x"}, {NULL, 0, 0, NULL}},
	 {"a1bx", "a1", "a1long", "a1byte", "a1dbl", "a1bxc", "b-x-only", NULL}},
	{"default-is-all", {{"a", 'I', 1, NULL}, {"b", 'S', 0, "x"}, {NULL, 0, 0, NULL}}, {"a1bx", "a1bxc", NULL}},
	{"all-no-conditions",
	 {{"x-match", 'S', 0, "all"}, {NULL, 0, 0, NULL}},
	 {"a1bx", "a1", "a1long", "a1byte", "a1dbl", "a1str", "empty", "noprop", "xfoo", "xfoo-a7", "avoid", "a1bxc",
	  "f-true", "f-int1", "b-x-only", NULL}},
	{"any-no-conditions", {{"x-match", 'S', 0, "any"}, {NULL, 0, 0, NULL}}, {NULL}},
	{"void-is-presence",
	 {{"a", 'V', 0, NULL}, {NULL, 0, 0, NULL}},
	 {"a1bx", "a1", "a1long", "a1byte", "a1dbl", "a1str", "xfoo-a7", "avoid", "a1bxc", NULL}},
	{"all-with-x", {{"x-match", 'S', 0, "all-with-x"}, {"x-foo", 'S', 0, "bar"}, {NULL, 0, 0, NULL}},
	 {"xfoo", "xfoo-a7", NULL}},
	{"any-with-x",
	 {{"x-match", 'S', 0, "any-with-x"}, {"x-foo", 'S', 0, "bar"}, {"a", 'I', 7, NULL}, {NULL, 0, 0, NULL}},
	 {"xfoo", "xfoo-a7", NULL}},
	{"all-ignores-x",
	 {{"x-match", 'S', 0, "all"}, {"x-foo", 'S', 0, "bar"}, {NULL, 0, 0, NULL}},
	 {"a1bx", "a1", "a1long", "a1byte", "a1dbl", "a1str", "empty", "noprop", "xfoo", "xfoo-a7", "avoid", "a1bxc",
	  "f-true", "f-int1", "b-x-only", NULL}},
	{"any-ignores-x", {{"x-match", 'S', 0, "any"}, {"x-foo", 'S', 0, "bar"}, {NULL, 0, 0, NULL}}, {NULL}},
	{"bool", {{"f", 't', 1, NULL}, {NULL, 0, 0, NULL}}, {"f-true", NULL}},
};
#define NHBIND (sizeof(hbindings) / sizeof(hbindings[0]))

START_TEST(headers_routing)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char x[128];
	static char q[NHBIND][128];
	th_exchange(c, 1, th_name(x, sizeof(x), "headers"), "headers");
	for (size_t i = 0; i < NHBIND; i++) {
		amqp_table_entry_t e[8];
		amqp_table_t args = {.num_entries = build_table(hbindings[i].args, e), .entries = e};
		th_queue(c, 1, th_name(q[i], sizeof(q[i]), "h"), 0, 1, 0, NULL, 0);
		/* the routing key is ignored by headers exchanges */
		th_bind(c, 1, q[i], x, "ignored", args);
	}
	for (size_t m = 0; m < NHMSG; m++) {
		amqp_table_entry_t e[8];
		amqp_basic_properties_t p;
		memset(&p, 0, sizeof(p));
		if (!hmessages[m].no_headers) {
			p._flags = AMQP_BASIC_HEADERS_FLAG;
			p.headers.num_entries = build_table(hmessages[m].headers, e);
			p.headers.entries = e;
		}
		th_publish_props(c, 1, x, "some-key", 0, &p, amqp_cstring_bytes(hmessages[m].name));
	}
	for (size_t i = 0; i < NHBIND; i++) {
		size_t n = 0;
		while (hbindings[i].matches[n] != NULL)
			n++;
		char what[64];
		snprintf(what, sizeof(what), "binding '%s'", hbindings[i].name);
		expect_bodies(c, 1, q[i], hbindings[i].matches, n, what);
	}
	amqp_exchange_delete(c, 1, amqp_cstring_bytes(x), 0);
	th_close(c);
}
END_TEST

/* amq.match and amq.headers are headers exchanges. */
START_TEST(amq_match_routes_by_headers)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "match"), 0, 1, 0, NULL, 0);
	amqp_table_entry_t e[2];
	struct hval b[] = {{"x-match", 'S', 0, "any"}, {q, 'S', 0, "yes"}, {NULL, 0, 0, NULL}};
	amqp_table_t args = {.num_entries = build_table(b, e), .entries = e};
	th_bind(c, 1, q, "amq.match", "", args);
	th_bind(c, 1, q, "amq.headers", "", args);
	amqp_table_entry_t h[1];
	struct hval hv[] = {{q, 'S', 0, "yes"}, {NULL, 0, 0, NULL}};
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_HEADERS_FLAG;
	p.headers.num_entries = build_table(hv, h);
	p.headers.entries = h;
	th_publish_props(c, 1, "amq.match", "", 0, &p, amqp_cstring_bytes("m1"));
	th_publish_props(c, 1, "amq.headers", "", 0, &p, amqp_cstring_bytes("m2"));
	const char *exp[] = {"m1", "m2"};
	expect_bodies(c, 1, q, exp, 2, "amq.match");
	th_close(c);
}
END_TEST

/* The predeclared amq.direct / amq.fanout / amq.topic route like their type. */
START_TEST(predeclared_route)
{
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	char q[128];
	th_queue(c, 1, th_name(q, sizeof(q), "predecl"), 0, 1, 0, NULL, 0);
	th_bind(c, 1, q, "amq.direct", q, amqp_empty_table);
	th_bind(c, 1, q, "amq.fanout", "", amqp_empty_table);
	char pat[160];
	snprintf(pat, sizeof(pat), "%s.#", q);
	th_bind(c, 1, q, "amq.topic", pat, amqp_empty_table);
	char key[200];
	snprintf(key, sizeof(key), "%s.deep.key", q);
	th_publish(c, 1, "amq.direct", q, "direct");
	th_publish(c, 1, "amq.topic", key, "topic");
	th_publish(c, 1, "amq.fanout", "", "fanout");
	/* no other test binds amq.fanout; unbind before anything else can */
	amqp_queue_unbind(c, 1, amqp_cstring_bytes(q), amqp_cstring_bytes("amq.fanout"), amqp_empty_bytes,
			  amqp_empty_table);
	th_ok_last(c, "unbind amq.fanout");
	const char *exp[] = {"direct", "topic", "fanout"};
	expect_bodies(c, 1, q, exp, 3, "predeclared");
	th_close(c);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("routing");
	TCase *tc = th_tcase("routing");
	tcase_add_test(tc, direct_routing);
	tcase_add_test(tc, fanout_routing);
	tcase_add_test(tc, fanout_copies_identical);
	tcase_add_test(tc, topic_routing);
	tcase_add_test(tc, topic_overlapping_bindings_once);
	tcase_add_test(tc, topic_many_bindings);
	tcase_add_test(tc, headers_routing);
	tcase_add_test(tc, amq_match_routes_by_headers);
	tcase_add_test(tc, predeclared_route);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return th_run_suite(suite());
}
