/* Kafka's ACL APIs (DescribeAcls 29, CreateAcls 30, DeleteAcls 31;
 * src/kafka/acls.c) over tandem's RabbitMQ permissions, with raw
 * requests: bindings created (LITERAL, PREFIXED, READ, WRITE, ALL, a
 * GROUP one) and described back through filters; their effect on a SASL
 * user's Produce (TOPIC_AUTHORIZATION_FAILED, then allowed by a WRITE
 * binding, refused again once it is deleted); the refusals (DENY, a host
 * other than "*", an unknown user, DESCRIBE, a non-administrator caller:
 * CLUSTER_AUTHORIZATION_FAILED); the flexible versions; and the bindings
 * kept across a restart (the user's record).
 *
 * The anonymous client acts as guest (administrator, ".*" everywhere).
 * bob may open only the vhost "other" at first: on "/" he has nothing
 * until a binding gives him an entry.  carol has ".*" on "/" and no tags. */
#include "kafka_harness.h"
#include "kraw.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const broker_args[] = { "--users.bob.password",
					   "bpw",
					   "--users.bob.vhosts",
					   "other",
					   "--users.carol.password",
					   "cpw",
					   "--vhosts",
					   "other",
					   NULL };

enum { RES_ANY = 1, RES_TOPIC = 2, RES_GROUP = 3, RES_CLUSTER = 4 };
enum { PAT_ANY = 1, PAT_MATCH = 2, PAT_LITERAL = 3, PAT_PREFIXED = 4 };
enum { OP_ANY = 1, OP_ALL = 2, OP_READ = 3, OP_WRITE = 4, OP_DESCRIBE = 8 };
enum { PERM_ANY = 1, PERM_DENY = 2, PERM_ALLOW = 3 };

static uint8_t resp[1 << 20];
static int32_t corr = 100;

/* Sends b, reads the answer past its header (v1 for the ACL APIs from
 * v2, their flexible versions; v0 for the others used here). */
static struct rb ask(int fd, int16_t api, int16_t ver, const struct wb *b)
{
	int flex = api >= 29 && api <= 31 && ver >= 2;
	int32_t c = corr++;

	kh_raw_request(fd, api, ver, c, b->d, b->n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 10000);
	ck_assert_msg(n > 0, "no answer to api %d v%d", api, ver);
	struct rb r = { resp, (size_t)n, 0 };
	ck_assert_int_eq(r32(&r), c);
	if (flex)
		ck_assert_uint_eq(ruv(&r), 0);
	return r;
}

/* A string in the version's encoding. */
static void wfstr(struct wb *b, int ver, const char *s)
{
	if (ver >= 2)
		wcstr(b, s);
	else
		wstr(b, s);
}
static void rfstr(struct rb *r, int ver, char *out, size_t cap)
{
	if (ver >= 2)
		rcstr(r, out, cap);
	else
		rstr(r, out, cap);
}
static int32_t rfarr(struct rb *r, int ver)
{
	return ver >= 2 ? rcarr(r) : r32(r);
}
static void wfarr(struct wb *b, int ver, int n)
{
	if (ver >= 2)
		wcarr(b, n);
	else
		w32(b, n);
}
static void wftags(struct wb *b, int ver)
{
	if (ver >= 2)
		wtags(b);
}
static void rftags(struct rb *r, int ver)
{
	if (ver >= 2)
		rtags(r);
}
static void body_begin(struct wb *b, int ver)
{
	b->n = 0;
	if (ver >= 2)
		flex_begin(b);
}

/* A binding or filter, as the request has it. */
struct acl {
	int8_t rtype;
	const char *name;
	int8_t ptype;
	const char *principal, *host;
	int8_t op, perm;
};

static void wacl(struct wb *b, int ver, const struct acl *a)
{
	w8(b, (uint8_t)a->rtype);
	wfstr(b, ver, a->name);
	if (ver >= 1)
		w8(b, (uint8_t)a->ptype);
	wfstr(b, ver, a->principal);
	wfstr(b, ver, a->host);
	w8(b, (uint8_t)a->op);
	w8(b, (uint8_t)a->perm);
}

/* CreateAcls of n bindings: each result's error into errs, messages
 * joined by '\n' into msgs. */
static void create_acls(int fd, int ver, const struct acl *a, int n, int16_t *errs, char *msgs,
			size_t cap)
{
	struct wb b;
	struct rb r;

	body_begin(&b, ver);
	wfarr(&b, ver, n);
	for (int i = 0; i < n; i++) {
		wacl(&b, ver, &a[i]);
		wftags(&b, ver);
	}
	wftags(&b, ver);
	r = ask(fd, 30, (int16_t)ver, &b);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(rfarr(&r, ver), n);
	if (msgs)
		msgs[0] = '\0';
	for (int i = 0; i < n; i++) {
		char m[512];

		errs[i] = r16(&r);
		rfstr(&r, ver, m, sizeof(m));
		if (msgs)
			snprintf(msgs + strlen(msgs), cap - strlen(msgs), "%s\n", m);
		rftags(&r, ver);
	}
	rftags(&r, ver);
	rend(&r);
}

/* Creates one binding, which must succeed. */
static void grant(int fd, int8_t rtype, const char *name, int8_t ptype, const char *user, int8_t op)
{
	struct acl a = { rtype, name, ptype, user, "*", op, PERM_ALLOW };
	int16_t err;
	char msg[512];

	create_acls(fd, 1, &a, 1, &err, msg, sizeof(msg));
	ck_assert_msg(err == 0, "CreateAcls %s: %d %s", name, err, msg);
}

/* A binding as "type/pattern/name/principal/host/op/perm" lines in out. */
static void put_binding(char *out, size_t cap, int rtype, const char *name, int ptype,
			const char *principal, const char *host, int op, int perm)
{
	snprintf(out + strlen(out), cap - strlen(out), "%d/%d/%s/%s/%s/%d/%d\n", rtype, ptype, name,
		 principal, host, op, perm);
}

/* DescribeAcls of filter f: the top error (msg into why), the bindings
 * in out. */
static int16_t describe_acls(int fd, int ver, const struct acl *f, char *out, size_t cap, char *why,
			     size_t whycap)
{
	struct wb b;
	struct rb r;
	int16_t err;

	body_begin(&b, ver);
	wacl(&b, ver, f);
	wftags(&b, ver);
	r = ask(fd, 29, (int16_t)ver, &b);
	ck_assert_int_eq(r32(&r), 0);
	err = r16(&r);
	rfstr(&r, ver, why, whycap);
	out[0] = '\0';
	for (int32_t n = rfarr(&r, ver), i = 0; i < n; i++) {
		char name[256];
		int rtype = r8(&r), ptype = PAT_LITERAL;

		rfstr(&r, ver, name, sizeof(name));
		if (ver >= 1)
			ptype = r8(&r);
		for (int32_t k = rfarr(&r, ver), j = 0; j < k; j++) {
			char principal[256], host[64];
			int op, perm;

			rfstr(&r, ver, principal, sizeof(principal));
			rfstr(&r, ver, host, sizeof(host));
			op = r8(&r);
			perm = r8(&r);
			rftags(&r, ver);
			put_binding(out, cap, rtype, name, ptype, principal, host, op, perm);
		}
		rftags(&r, ver);
	}
	rftags(&r, ver);
	rend(&r);
	return err;
}

/* DeleteAcls of one filter: the filter's error, the matching bindings
 * (each with its own error first: "err:" + the binding line) in out. */
static int16_t delete_acls(int fd, int ver, const struct acl *f, char *out, size_t cap)
{
	struct wb b;
	struct rb r;
	int16_t err;
	char msg[512];

	body_begin(&b, ver);
	wfarr(&b, ver, 1);
	wacl(&b, ver, f);
	wftags(&b, ver);
	wftags(&b, ver);
	r = ask(fd, 31, (int16_t)ver, &b);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(rfarr(&r, ver), 1);
	err = r16(&r);
	rfstr(&r, ver, msg, sizeof(msg));
	out[0] = '\0';
	for (int32_t n = rfarr(&r, ver), i = 0; i < n; i++) {
		char name[256], principal[256], host[64];
		int e = r16(&r), rtype, ptype = PAT_LITERAL, op, perm;

		rfstr(&r, ver, msg, sizeof(msg));
		rtype = r8(&r);
		rfstr(&r, ver, name, sizeof(name));
		if (ver >= 1)
			ptype = r8(&r);
		rfstr(&r, ver, principal, sizeof(principal));
		rfstr(&r, ver, host, sizeof(host));
		op = r8(&r);
		perm = r8(&r);
		rftags(&r, ver);
		snprintf(out + strlen(out), cap - strlen(out), "%d:", e);
		put_binding(out, cap, rtype, name, ptype, principal, host, op, perm);
	}
	rftags(&r, ver);
	rftags(&r, ver);
	rend(&r);
	return err;
}

/* SASL PLAIN (handshake v1, authenticate v0): the error code. */
static int16_t sasl_plain(int fd, const char *name, const char *pw)
{
	struct wb b = { .n = 0 };
	struct rb r;
	char tok[256];
	size_t n = (size_t)snprintf(tok, sizeof(tok), "%c%s%c%s", 0, name, 0, pw);

	wstr(&b, "PLAIN");
	r = ask(fd, 17, 1, &b);
	ck_assert_int_eq(r16(&r), 0);
	b.n = 0;
	w32(&b, (int32_t)n);
	wraw(&b, tok, n);
	r = ask(fd, 36, 0, &b);
	return r16(&r);
}

static int connect_as(const char *name, const char *pw)
{
	int fd = kh_raw_connect(kh_main());

	if (name)
		ck_assert_int_eq(sasl_plain(fd, name, pw), 0);
	return fd;
}

/* Produce v3 of one record to partition 0 of topic: its error. */
static int16_t produce(int fd, const char *topic)
{
	struct wb b = { .n = 0 };
	struct rb r;
	uint8_t bt[512];
	size_t bl = kh_batch_one(bt, "v", 0);

	wstr(&b, NULL);
	w16(&b, 1);
	w32(&b, 5000);
	w32(&b, 1);
	wstr(&b, topic);
	w32(&b, 1);
	w32(&b, 0);
	w32(&b, (int32_t)bl);
	wraw(&b, bt, bl);
	r = ask(fd, 0, 3, &b);
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	return r16(&r);
}

static void make_topic(const char *topic)
{
	rd_kafka_t *p = kh_producer(kh_bootstrap(), NULL);

	ck_assert_int_eq(kh_create_topic(p, topic, 1, 1, NULL), 0);
	rd_kafka_destroy(p);
}

/* bob's bindings, all of them, as DescribeAcls v1 shows them. */
static void bobs(int fd, char *out, size_t cap)
{
	struct acl f = { RES_ANY, NULL, PAT_ANY, "User:bob", NULL, OP_ANY, PERM_ANY };
	char why[256];

	ck_assert_int_eq(describe_acls(fd, 1, &f, out, cap, why, sizeof(why)), 0);
}

/* Create, describe with filters, the effect on Produce, delete. */
START_TEST(test_kafka_acls_create_describe_delete)
{
	int admin = connect_as(NULL, NULL), bob;
	char out[4096], why[256];

	make_topic("acl-t1");
	/* bob has no entry on "/": SASL there fails until a binding gives one */
	bob = kh_raw_connect(kh_main());
	ck_assert_int_eq(sasl_plain(bob, "bob", "bpw"), 58);
	close(bob);
	grant(admin, RES_GROUP, "acl-g", PAT_LITERAL, "User:bob", OP_READ);
	bob = connect_as("bob", "bpw");
	ck_assert_int_eq(produce(bob, "acl-t1"), 29); /* TOPIC_AUTHORIZATION_FAILED */

	grant(admin, RES_TOPIC, "acl-t1", PAT_LITERAL, "User:bob", OP_WRITE);
	grant(admin, RES_TOPIC, "acl-pre-", PAT_PREFIXED, "User:bob", OP_READ);
	grant(admin, RES_TOPIC, "acl-all", PAT_LITERAL, "User:bob", OP_ALL);
	grant(admin, RES_TOPIC, "acl-t1", PAT_LITERAL, "User:bob", OP_WRITE); /* again: no-op */
	ck_assert_int_eq(produce(bob, "acl-t1"), 0);

	bobs(admin, out, sizeof(out));
	ck_assert_str_eq(out, "2/3/acl-all/User:bob/*/2/3\n"
			      "2/3/acl-g/User:bob/*/3/3\n"
			      "2/3/acl-t1/User:bob/*/4/3\n"
			      "2/4/acl-pre-/User:bob/*/3/3\n"
			      "3/3/acl-all/User:bob/*/2/3\n"
			      "3/3/acl-g/User:bob/*/3/3\n"
			      "3/4/acl-pre-/User:bob/*/3/3\n");

	/* MATCH: the prefix binding and the wildcards of guest and carol (".*");
	 * LITERAL + WRITE */
	struct acl f = { RES_TOPIC, "acl-pre-x", PAT_MATCH, NULL, NULL, OP_ANY, PERM_ANY };
	ck_assert_int_eq(describe_acls(admin, 1, &f, out, sizeof(out), why, sizeof(why)), 0);
	ck_assert_str_eq(out, "2/3/*/User:carol/*/2/3\n"
			      "2/3/*/User:guest/*/2/3\n"
			      "2/4/acl-pre-/User:bob/*/3/3\n");
	f = (struct acl){ RES_TOPIC, "acl-t1", PAT_LITERAL, NULL, NULL, OP_WRITE, PERM_ANY };
	ck_assert_int_eq(describe_acls(admin, 1, &f, out, sizeof(out), why, sizeof(why)), 0);
	ck_assert_str_eq(out, "2/3/acl-t1/User:bob/*/4/3\n");
	/* DENY matches nothing; guest is an administrator */
	f = (struct acl){ RES_ANY, NULL, PAT_ANY, NULL, NULL, OP_ANY, PERM_DENY };
	ck_assert_int_eq(describe_acls(admin, 1, &f, out, sizeof(out), why, sizeof(why)), 0);
	ck_assert_str_eq(out, "");
	f = (struct acl){ RES_CLUSTER, NULL, PAT_ANY, "User:guest", NULL, OP_ANY, PERM_ANY };
	ck_assert_int_eq(describe_acls(admin, 1, &f, out, sizeof(out), why, sizeof(why)), 0);
	ck_assert_str_eq(out, "4/3/kafka-cluster/User:guest/*/2/3\n");
	/* v0 sees LITERAL bindings only */
	f = (struct acl){ RES_TOPIC, NULL, PAT_LITERAL, "User:bob", NULL, OP_ANY, PERM_ANY };
	ck_assert_int_eq(describe_acls(admin, 0, &f, out, sizeof(out), why, sizeof(why)), 0);
	ck_assert_str_eq(out, "2/3/acl-all/User:bob/*/2/3\n"
			      "2/3/acl-g/User:bob/*/3/3\n"
			      "2/3/acl-t1/User:bob/*/4/3\n");

	/* delete the WRITE binding: Produce refused again */
	f = (struct acl){ RES_TOPIC, "acl-t1", PAT_LITERAL, NULL, "*", OP_ANY, PERM_ANY };
	ck_assert_int_eq(delete_acls(admin, 1, &f, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "0:2/3/acl-t1/User:bob/*/4/3\n");
	ck_assert_int_eq(produce(bob, "acl-t1"), 29);
	ck_assert_int_eq(delete_acls(admin, 1, &f, out, sizeof(out)), 0);
	ck_assert_str_eq(out, ""); /* gone */
	/* a MATCH filter on a name under the prefix deletes the prefix binding
	 * (and the GROUP READ its read alternative also stands for) */
	f = (struct acl){ RES_TOPIC, "acl-pre-zzz", PAT_MATCH, "User:bob", NULL, OP_ANY, PERM_ANY };
	ck_assert_int_eq(delete_acls(admin, 1, &f, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "0:2/4/acl-pre-/User:bob/*/3/3\n");
	bobs(admin, out, sizeof(out));
	ck_assert_str_eq(out, "2/3/acl-all/User:bob/*/2/3\n"
			      "2/3/acl-g/User:bob/*/3/3\n"
			      "3/3/acl-all/User:bob/*/2/3\n"
			      "3/3/acl-g/User:bob/*/3/3\n");
	close(bob);
	close(admin);
}
END_TEST

/* What cannot be a RabbitMQ permission is refused per binding with
 * INVALID_REQUEST and a message; a non-administrator gets
 * CLUSTER_AUTHORIZATION_FAILED from all three APIs. */
START_TEST(test_kafka_acls_refusals)
{
	int admin = connect_as(NULL, NULL), carol = connect_as("carol", "cpw");
	const struct acl bad[] = {
		{ RES_TOPIC, "x", PAT_LITERAL, "User:carol", "*", OP_READ, PERM_DENY },
		{ RES_TOPIC, "x", PAT_LITERAL, "User:carol", "10.0.0.1", OP_READ, PERM_ALLOW },
		{ RES_TOPIC, "x", PAT_LITERAL, "User:nobody", "*", OP_READ, PERM_ALLOW },
		{ RES_TOPIC, "x", PAT_LITERAL, "Group:carol", "*", OP_READ, PERM_ALLOW },
		{ RES_TOPIC, "x", PAT_LITERAL, "User:carol", "*", OP_DESCRIBE, PERM_ALLOW },
		{ RES_CLUSTER, "kafka-cluster", PAT_LITERAL, "User:carol", "*", OP_ALL,
		  PERM_ALLOW },
		{ RES_TOPIC, "x", PAT_MATCH, "User:carol", "*", OP_READ, PERM_ALLOW },
	};
	int n = (int)(sizeof(bad) / sizeof(bad[0]));
	int16_t errs[8];
	char msgs[4096], out[1024], why[256];

	create_acls(admin, 1, bad, n, errs, msgs, sizeof(msgs));
	for (int i = 0; i < n; i++)
		ck_assert_msg(errs[i] == 42, "binding %d: %d", i, errs[i]);
	ck_assert_msg(strstr(msgs, "cannot deny"), "%s", msgs);
	ck_assert_msg(strstr(msgs, "host must be '*'"), "%s", msgs);
	ck_assert_msg(strstr(msgs, "no tandem user 'nobody'"), "%s", msgs);
	ck_assert_msg(strstr(msgs, "User:<a tandem user>"), "%s", msgs);
	ck_assert_msg(strstr(msgs, "describe-only"), "%s", msgs);
	ck_assert_msg(strstr(msgs, "administrator tag"), "%s", msgs);
	ck_assert_msg(strstr(msgs, "LITERAL or PREFIXED"), "%s", msgs);

	/* carol is no administrator */
	create_acls(carol, 1, bad + 1, 1, errs, NULL, 0);
	ck_assert_int_eq(errs[0], 31);
	struct acl f = { RES_ANY, NULL, PAT_ANY, NULL, NULL, OP_ANY, PERM_ANY };
	ck_assert_int_eq(describe_acls(carol, 1, &f, out, sizeof(out), why, sizeof(why)), 31);
	ck_assert_str_eq(out, "");
	ck_assert_int_eq(delete_acls(carol, 1, &f, out, sizeof(out)), 31);
	ck_assert_str_eq(out, "");
	/* a filter with an UNKNOWN value */
	f.op = 0;
	ck_assert_int_eq(describe_acls(admin, 1, &f, out, sizeof(out), why, sizeof(why)), 42);
	ck_assert_msg(strstr(why, "operation"), "%s", why);
	/* the CLUSTER binding of an administrator is reported, never deleted */
	f = (struct acl){ RES_CLUSTER, NULL, PAT_ANY, "User:guest", NULL, OP_ANY, PERM_ANY };
	ck_assert_int_eq(delete_acls(admin, 1, &f, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "42:4/3/kafka-cluster/User:guest/*/2/3\n");
	close(carol);
	close(admin);
}
END_TEST

/* v2 and v3 (flexible) of the three APIs. */
START_TEST(test_kafka_acls_flexible_versions)
{
	int admin = connect_as(NULL, NULL);
	const struct acl a[] = {
		{ RES_TOPIC, "flex-lit", PAT_LITERAL, "User:carol", "*", OP_WRITE, PERM_ALLOW },
		{ RES_GROUP, "flex-g", PAT_PREFIXED, "User:carol", "*", OP_READ, PERM_ALLOW },
	};
	struct acl f;
	int16_t errs[2];
	char out[2048], why[256];

	create_acls(admin, 3, a, 2, errs, NULL, 0);
	ck_assert_int_eq(errs[0], 0);
	ck_assert_int_eq(errs[1], 0);
	f = (struct acl){ RES_ANY, "flex-g", PAT_PREFIXED, "User:carol", NULL, OP_ANY, PERM_ANY };
	for (int ver = 2; ver <= 3; ver++) {
		ck_assert_int_eq(describe_acls(admin, ver, &f, out, sizeof(out), why, sizeof(why)),
				 0);
		ck_assert_str_eq(out, "2/4/flex-g/User:carol/*/3/3\n3/4/flex-g/User:carol/*/3/3\n");
	}
	f =
		(struct acl){ RES_TOPIC, "flex-lit", PAT_MATCH, "User:carol",
			      "*",       OP_WRITE,   PERM_ALLOW };
	ck_assert_int_eq(delete_acls(admin, 2, &f, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "0:2/3/flex-lit/User:carol/*/4/3\n");
	f.ptype = PAT_ANY;
	ck_assert_int_eq(describe_acls(admin, 3, &f, out, sizeof(out), why, sizeof(why)), 0);
	ck_assert_str_eq(out, "");
	close(admin);
}
END_TEST

/* Bindings are permissions: kept in the user's record across a restart. */
START_TEST(test_kafka_acls_restart)
{
	struct kh_broker b;
	struct acl a = { RES_TOPIC, "kept", PAT_LITERAL, "User:carol", "*", OP_WRITE, PERM_ALLOW };
	struct acl f = { RES_TOPIC, "kept", PAT_LITERAL, NULL, NULL, OP_ANY, PERM_ANY };
	char out[1024], why[256];
	int16_t err;
	int fd;

	ck_assert_int_eq(kh_broker_start(&b, broker_args), 0);
	fd = kh_raw_connect(&b);
	create_acls(fd, 3, &a, 1, &err, NULL, 0);
	ck_assert_int_eq(err, 0);
	close(fd);
	ck_assert_int_eq(kh_broker_restart(&b), 0);
	fd = kh_raw_connect(&b);
	ck_assert_int_eq(describe_acls(fd, 2, &f, out, sizeof(out), why, sizeof(why)), 0);
	ck_assert_str_eq(out, "2/3/kept/User:carol/*/4/3\n");
	ck_assert_int_eq(delete_acls(fd, 3, &f, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "0:2/3/kept/User:carol/*/4/3\n");
	ck_assert_int_eq(describe_acls(fd, 3, &f, out, sizeof(out), why, sizeof(why)), 0);
	ck_assert_str_eq(out, "");
	close(fd);
	kh_broker_destroy(&b);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kafka_acls");
	TCase *tc = kh_tcase("kafka_acls");

	tcase_add_test(tc, test_kafka_acls_create_describe_delete);
	tcase_add_test(tc, test_kafka_acls_refusals);
	tcase_add_test(tc, test_kafka_acls_flexible_versions);
	tcase_add_test(tc, test_kafka_acls_restart);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return kh_run_suite(suite(), broker_args);
}
