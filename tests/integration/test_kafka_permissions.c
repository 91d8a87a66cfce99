/* Kafka operations against RabbitMQ's permission model (src/kafka/authz.c,
 * README "Security"): every API the listener serves, allowed and refused
 * with Kafka's error code, for a user with narrow patterns acting
 *  - anonymously (kafka_default_user) and
 *  - authenticated with SASL PLAIN,
 * a "vhost:user" SASL name (another vhost; refused when the user may not
 * open it or it does not exist), anonymous clients refused (kafka_allow_anonymous = false, or
 * a default user that cannot log in, guest from a non-loopback address),
 * and what librdkafka and kcat show.
 *
 * The user `narrow` (the broker's default user, every vhost) has
 *   configure ^cfg-      write ^(cfg|w)-      read ^(cfg|r)-|^grp-ok
 * and `alice` has ".*" on "/" only.  Refusals never close the connection,
 * but for an acks=0 Produce, which Kafka answers by closing. */
#include "kafka_harness.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *const broker_args[] = { "--default-user",
					   "narrow",
					   "--default-pass",
					   "npw",
					   "--default_permissions.configure",
					   "^cfg-",
					   "--default_permissions.write",
					   "^(cfg|w)-",
					   "--default_permissions.read",
					   "^(cfg|r)-|^grp-ok",
					   "--kafka-default-user",
					   "narrow",
					   "--kafka-default-pass",
					   "npw",
					   "--users.alice.password",
					   "apw",
					   "--users.alice.vhosts",
					   "/",
					   "--users.root.password",
					   "rpw",
					   "--users.root.tags",
					   "administrator",
					   "--vhosts",
					   "shop",
					   NULL };

/* ---- request writing and response reading ------------------------------------ */

struct wb {
	uint8_t d[8192];
	size_t n;
};
static void w8(struct wb *b, uint8_t v)
{
	b->d[b->n++] = v;
}
static void w16(struct wb *b, int16_t v)
{
	w8(b, (uint8_t)((uint16_t)v >> 8));
	w8(b, (uint8_t)v);
}
static void w32(struct wb *b, int32_t v)
{
	for (int s = 24; s >= 0; s -= 8)
		w8(b, (uint8_t)((uint32_t)v >> s));
}
static void w64(struct wb *b, int64_t v)
{
	for (int s = 56; s >= 0; s -= 8)
		w8(b, (uint8_t)((uint64_t)v >> s));
}
static void wstr(struct wb *b, const char *s)
{
	if (!s) {
		w16(b, -1);
		return;
	}
	w16(b, (int16_t)strlen(s));
	memcpy(b->d + b->n, s, strlen(s));
	b->n += strlen(s);
}
static void wbytes(struct wb *b, const void *p, size_t n)
{
	w32(b, (int32_t)n);
	memcpy(b->d + b->n, p, n);
	b->n += n;
}

struct rb {
	const uint8_t *p;
	size_t n, off;
};
static int16_t r16(struct rb *r)
{
	ck_assert_uint_le(r->off + 2, r->n);
	int16_t v = (int16_t)(r->p[r->off] << 8 | r->p[r->off + 1]);
	r->off += 2;
	return v;
}
static int32_t r32(struct rb *r)
{
	uint32_t v = 0;
	ck_assert_uint_le(r->off + 4, r->n);
	for (int i = 0; i < 4; i++)
		v = v << 8 | r->p[r->off++];
	return (int32_t)v;
}
static int64_t r64(struct rb *r)
{
	uint64_t v = 0;
	ck_assert_uint_le(r->off + 8, r->n);
	for (int i = 0; i < 8; i++)
		v = v << 8 | r->p[r->off++];
	return (int64_t)v;
}
/* Reads a string into out (cap bytes, NUL-terminated; "" for null). */
static void rstr(struct rb *r, char *out, size_t cap)
{
	int16_t l = r16(r);
	size_t n = l > 0 ? (size_t)l : 0;
	ck_assert_uint_le(r->off + n, r->n);
	snprintf(out, cap, "%.*s", (int)n, (const char *)r->p + r->off);
	r->off += n;
}
static void rskipstr(struct rb *r)
{
	char tmp[512];
	rstr(r, tmp, sizeof(tmp));
}
static uint8_t resp[1 << 20];
static int32_t corr = 1000;

/* Sends b as api/version and reads the answer; r is positioned after the
 * correlation id. */
static void call(int fd, int16_t api, int16_t ver, const struct wb *b, struct rb *r)
{
	int32_t c = corr++;
	kh_raw_request(fd, api, ver, c, b->d, b->n);
	long n = kh_raw_response(fd, resp, sizeof(resp), 10000);
	ck_assert_msg(n > 0, "api %d v%d: no answer (connection closed?)", api, ver);
	*r = (struct rb){ resp, (size_t)n, 4 };
	ck_assert_int_eq((int32_t)(resp[0] << 24 | resp[1] << 16 | resp[2] << 8 | resp[3]), c);
}

/* ApiVersions answered: the connection is open. */
static void assert_open(int fd)
{
	struct wb b = { .n = 0 };
	struct rb r;
	call(fd, 18, 0, &b, &r);
	ck_assert_int_eq(r16(&r), 0);
}

/* SASL PLAIN (handshake v1, authenticate v0) as name/pw: the error code,
 * the message in msg. */
static int16_t sasl_plain(int fd, const char *name, const char *pw, char *msg, size_t cap)
{
	struct wb b = { .n = 0 };
	struct rb r;
	char tok[512];
	size_t n = (size_t)snprintf(tok, sizeof(tok), "%c%s%c%s", 0, name, 0, pw);

	wstr(&b, "PLAIN");
	call(fd, 17, 1, &b, &r);
	ck_assert_int_eq(r16(&r), 0);
	b.n = 0;
	wbytes(&b, tok, n);
	call(fd, 36, 0, &b, &r);
	int16_t err = r16(&r);
	rstr(&r, msg, cap);
	return err;
}

static int connect_as(const char *name, const char *pw)
{
	int fd = kh_raw_connect(kh_main());
	char msg[256];
	if (name)
		ck_assert_int_eq(sasl_plain(fd, name, pw, msg, sizeof(msg)), 0);
	return fd;
}

/* CreateTopics v0 of one topic: its error. */
static int16_t create_topic(int fd, const char *name, int parts)
{
	struct wb b = { .n = 0 };
	struct rb r;
	w32(&b, 1);
	wstr(&b, name);
	w32(&b, parts);
	w16(&b, 1);
	w32(&b, 0);
	w32(&b, 0);
	w32(&b, 10000);
	call(fd, 19, 0, &b, &r);
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	return r16(&r);
}

static int16_t delete_topic(int fd, const char *name)
{
	struct wb b = { .n = 0 };
	struct rb r;
	w32(&b, 1);
	wstr(&b, name);
	w32(&b, 10000);
	call(fd, 20, 0, &b, &r);
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	return r16(&r);
}

static int16_t create_partitions(int fd, const char *name, int32_t count)
{
	struct wb b = { .n = 0 };
	struct rb r;
	w32(&b, 1);
	wstr(&b, name);
	w32(&b, count);
	w32(&b, -1);
	w32(&b, 10000);
	w8(&b, 0);
	call(fd, 37, 0, &b, &r);
	r32(&r);
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	return r16(&r);
}

/* Produce v3 of one record to partition 0; acks 0 sends and returns 0. */
static int16_t produce(int fd, const char *topic, int16_t acks)
{
	struct wb b = { .n = 0 };
	struct rb r;
	uint8_t bt[512];
	size_t bl = kh_batch_one(bt, "v", 0);
	wstr(&b, NULL);
	w16(&b, acks);
	w32(&b, 5000);
	w32(&b, 1);
	wstr(&b, topic);
	w32(&b, 1);
	w32(&b, 0);
	wbytes(&b, bt, bl);
	if (acks == 0) {
		kh_raw_request(fd, 0, 3, corr++, b.d, b.n);
		return 0;
	}
	call(fd, 0, 3, &b, &r);
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	return r16(&r);
}

static int16_t fetch(int fd, const char *topic)
{
	struct wb b = { .n = 0 };
	struct rb r;
	w32(&b, -1);
	w32(&b, 10);
	w32(&b, 1);
	w32(&b, 1 << 20);
	w8(&b, 0);
	w32(&b, 1);
	wstr(&b, topic);
	w32(&b, 1);
	w32(&b, 0);
	w64(&b, 0);
	w32(&b, 1 << 20);
	call(fd, 1, 4, &b, &r);
	r32(&r);
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	return r16(&r);
}

static int16_t list_offsets(int fd, const char *topic)
{
	struct wb b = { .n = 0 };
	struct rb r;
	w32(&b, -1);
	w32(&b, 1);
	wstr(&b, topic);
	w32(&b, 1);
	w32(&b, 0);
	w64(&b, -1);
	call(fd, 2, 1, &b, &r);
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	return r16(&r);
}

/* Metadata v1 of one topic: its error. */
static int16_t metadata_one(int fd, const char *topic)
{
	struct wb b = { .n = 0 };
	struct rb r;
	w32(&b, 1);
	wstr(&b, topic);
	call(fd, 3, 1, &b, &r);
	for (int32_t n = r32(&r); n > 0; n--) {
		r32(&r);
		rskipstr(&r);
		r32(&r);
		rskipstr(&r);
	}
	r32(&r);
	ck_assert_int_eq(r32(&r), 1);
	int16_t err = r16(&r);
	char name[256];
	rstr(&r, name, sizeof(name));
	ck_assert_str_eq(name, topic);
	return err;
}

/* Metadata v1 of all topics: 1 when `topic` is listed. */
static int metadata_lists(int fd, const char *topic)
{
	struct wb b = { .n = 0 };
	struct rb r;
	int found = 0;
	w32(&b, -1);
	call(fd, 3, 1, &b, &r);
	for (int32_t n = r32(&r); n > 0; n--) {
		r32(&r);
		rskipstr(&r);
		r32(&r);
		rskipstr(&r);
	}
	r32(&r);
	for (int32_t n = r32(&r); n > 0; n--) {
		char name[256];
		ck_assert_int_eq(r16(&r), 0);
		rstr(&r, name, sizeof(name));
		r.off += 1;
		for (int32_t p = r32(&r); p > 0; p--) {
			r16(&r);
			r32(&r);
			r32(&r);
			for (int k = 0; k < 2; k++)
				for (int32_t m = r32(&r); m > 0; m--)
					r32(&r);
		}
		found |= strcmp(name, topic) == 0;
	}
	ck_assert_uint_eq(r.off, r.n);
	return found;
}

/* OffsetCommit v2 (simple commit: generation -1) of partition 0 of topic. */
static int16_t offset_commit(int fd, const char *group, const char *topic)
{
	struct wb b = { .n = 0 };
	struct rb r;
	wstr(&b, group);
	w32(&b, -1);
	wstr(&b, "");
	w64(&b, -1);
	w32(&b, 1);
	wstr(&b, topic);
	w32(&b, 1);
	w32(&b, 0);
	w64(&b, 0);
	wstr(&b, "");
	call(fd, 8, 2, &b, &r);
	ck_assert_int_eq(r32(&r), 1);
	rskipstr(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	return r16(&r);
}

/* OffsetFetch v1 (per-partition error) or v2 (and the top-level one). */
static int16_t offset_fetch(int fd, int16_t ver, const char *group, const char *topic, int16_t *top)
{
	struct wb b = { .n = 0 };
	struct rb r;
	int16_t err = 0;
	wstr(&b, group);
	w32(&b, 1);
	wstr(&b, topic);
	w32(&b, 1);
	w32(&b, 0);
	call(fd, 9, ver, &b, &r);
	int32_t nt = r32(&r);
	for (int32_t i = 0; i < nt; i++) {
		rskipstr(&r);
		ck_assert_int_eq(r32(&r), 1);
		r32(&r);
		r64(&r);
		rskipstr(&r);
		err = r16(&r);
	}
	if (ver >= 2)
		*top = r16(&r);
	ck_assert_uint_eq(r.off, r.n);
	return nt == 0 ? -100 : err;
}

static int16_t find_coordinator(int fd, const char *group)
{
	struct wb b = { .n = 0 };
	struct rb r;
	wstr(&b, group);
	call(fd, 10, 0, &b, &r);
	return r16(&r);
}

static int16_t join_group(int fd, const char *group)
{
	struct wb b = { .n = 0 };
	struct rb r;
	wstr(&b, group);
	w32(&b, 10000);
	wstr(&b, "");
	wstr(&b, "consumer");
	w32(&b, 1);
	wstr(&b, "range");
	w32(&b, 0);
	call(fd, 11, 0, &b, &r);
	return r16(&r);
}

/* Heartbeat (12), LeaveGroup (13), SyncGroup (14) v0 of member "m". */
static int16_t member_call(int fd, int16_t api, const char *group)
{
	struct wb b = { .n = 0 };
	struct rb r;
	wstr(&b, group);
	if (api != 13)
		w32(&b, 1);
	wstr(&b, "m");
	if (api == 14)
		w32(&b, 0);
	call(fd, api, 0, &b, &r);
	return r16(&r);
}

static int16_t describe_group(int fd, const char *group)
{
	struct wb b = { .n = 0 };
	struct rb r;
	w32(&b, 1);
	wstr(&b, group);
	call(fd, 15, 0, &b, &r);
	ck_assert_int_eq(r32(&r), 1);
	return r16(&r);
}

/* ListGroups v0: 1 when group is listed. */
static int list_groups_has(int fd, const char *group)
{
	struct wb b = { .n = 0 };
	struct rb r;
	int found = 0;
	call(fd, 16, 0, &b, &r);
	ck_assert_int_eq(r16(&r), 0);
	for (int32_t n = r32(&r); n > 0; n--) {
		char name[256];
		rstr(&r, name, sizeof(name));
		rskipstr(&r);
		found |= strcmp(name, group) == 0;
	}
	return found;
}

/* ---- the checks --------------------------------------------------------------- */

#define TOPIC_AUTH 29
#define GROUP_AUTH 30
#define UNKNOWN_TOPIC 3

/* Every API as `narrow` on fd (anonymous or SASL), over topics alice made. */
static void narrow_everything(int fd, const char *tag)
{
	char cfg[96], w[96], rd[96], other[96], none[96], gok[96], gno[96], ghidden[96];
	int afd = connect_as("alice", "apw");

	snprintf(cfg, sizeof(cfg), "cfg-%s-%d", tag, (int)getpid());
	snprintf(w, sizeof(w), "w-%s-%d", tag, (int)getpid());
	snprintf(rd, sizeof(rd), "r-%s-%d", tag, (int)getpid());
	snprintf(other, sizeof(other), "other-%s-%d", tag, (int)getpid());
	snprintf(none, sizeof(none), "cfg-none-%s-%d", tag, (int)getpid());
	snprintf(gok, sizeof(gok), "grp-ok-%s", tag);
	snprintf(gno, sizeof(gno), "grp-no-%s", tag);
	snprintf(ghidden, sizeof(ghidden), "grp-hidden-%s", tag);
	ck_assert_int_eq(create_topic(afd, w, 1), 0);
	ck_assert_int_eq(create_topic(afd, rd, 1), 0);
	ck_assert_int_eq(create_topic(afd, other, 1), 0);
	ck_assert_int_eq(produce(afd, rd, 1), 0);
	ck_assert_int_eq(offset_commit(afd, ghidden, other), 0);

	/* CreateTopics, CreatePartitions, DeleteTopics: configure */
	ck_assert_int_eq(create_topic(fd, cfg, 1), 0);
	ck_assert_int_eq(create_topic(fd, w, 1), TOPIC_AUTH); /* exists, but refused first */
	ck_assert_int_eq(create_topic(fd, "w-never", 1), TOPIC_AUTH);
	ck_assert_int_eq(create_topic(fd, "__consumer_offsets", 1), TOPIC_AUTH);
	ck_assert_int_eq(create_partitions(fd, cfg, 2), 0);
	ck_assert_int_eq(create_partitions(fd, w, 2), TOPIC_AUTH);
	ck_assert_int_eq(create_partitions(fd, none, 2), UNKNOWN_TOPIC);

	/* Metadata: any permission describes */
	ck_assert_int_eq(metadata_one(fd, cfg), 0);
	ck_assert_int_eq(metadata_one(fd, w), 0);
	ck_assert_int_eq(metadata_one(fd, rd), 0);
	ck_assert_int_eq(metadata_one(fd, other), TOPIC_AUTH);
	ck_assert_int_eq(metadata_one(fd, "__consumer_offsets"), TOPIC_AUTH);
	ck_assert_int_eq(metadata_one(fd, none), UNKNOWN_TOPIC);
	ck_assert(metadata_lists(fd, cfg) && metadata_lists(fd, w) && metadata_lists(fd, rd));
	ck_assert(!metadata_lists(fd, other));
	ck_assert(metadata_lists(afd, other));

	/* Produce: write */
	ck_assert_int_eq(produce(fd, w, 1), 0);
	ck_assert_int_eq(produce(fd, cfg, -1), 0);
	ck_assert_int_eq(produce(fd, rd, 1), TOPIC_AUTH);
	ck_assert_int_eq(produce(fd, other, 1), TOPIC_AUTH);
	ck_assert_int_eq(produce(fd, "__consumer_offsets", 1), TOPIC_AUTH);
	ck_assert_int_eq(produce(fd, "w-none", 1), UNKNOWN_TOPIC);

	/* Fetch, ListOffsets: read */
	ck_assert_int_eq(fetch(fd, rd), 0);
	ck_assert_int_eq(fetch(fd, cfg), 0);
	ck_assert_int_eq(fetch(fd, w), TOPIC_AUTH);
	ck_assert_int_eq(fetch(fd, "__consumer_offsets"), TOPIC_AUTH);
	ck_assert_int_eq(list_offsets(fd, rd), 0);
	ck_assert_int_eq(list_offsets(fd, w), TOPIC_AUTH);

	/* Groups: read on the group id; commits and fetches also read on topics */
	ck_assert_int_eq(find_coordinator(fd, gok), 0);
	ck_assert_int_eq(find_coordinator(fd, gno), GROUP_AUTH);
	ck_assert_int_eq(join_group(fd, gno), GROUP_AUTH);
	ck_assert_int_eq(member_call(fd, 12, gno), GROUP_AUTH);
	ck_assert_int_eq(member_call(fd, 13, gno), GROUP_AUTH);
	ck_assert_int_eq(member_call(fd, 14, gno), GROUP_AUTH);
	ck_assert_int_eq(member_call(fd, 12, gok), 25); /* allowed: UNKNOWN_MEMBER_ID */
	ck_assert_int_eq(describe_group(fd, gno), GROUP_AUTH);
	ck_assert_int_eq(describe_group(fd, gok), 0);
	ck_assert_int_eq(offset_commit(fd, gno, rd), GROUP_AUTH);
	ck_assert_int_eq(offset_commit(fd, gok, rd), 0);
	ck_assert_int_eq(offset_commit(fd, gok, w), TOPIC_AUTH);
	int16_t top = -1;
	ck_assert_int_eq(offset_fetch(fd, 1, gno, rd, NULL), GROUP_AUTH);
	ck_assert_int_eq(offset_fetch(fd, 2, gno, rd, &top), -100);
	ck_assert_int_eq(top, GROUP_AUTH);
	ck_assert_int_eq(offset_fetch(fd, 2, gok, rd, &top), 0);
	ck_assert_int_eq(top, 0);
	ck_assert_int_eq(offset_fetch(fd, 1, gok, w, NULL), TOPIC_AUTH);
	ck_assert(list_groups_has(fd, gok));
	ck_assert(!list_groups_has(fd, ghidden));
	ck_assert(list_groups_has(afd, ghidden));

	/* DeleteTopics last: configure */
	ck_assert_int_eq(delete_topic(fd, w), TOPIC_AUTH);
	ck_assert_int_eq(delete_topic(fd, "__consumer_offsets"), TOPIC_AUTH);
	ck_assert_int_eq(delete_topic(fd, cfg), 0);
	ck_assert_int_eq(metadata_one(afd, w), 0);

	/* None of it closed the connection; an acks=0 refusal does, as Kafka. */
	assert_open(fd);
	ck_assert_int_eq(produce(fd, w, 0), 0);
	assert_open(fd);
	produce(fd, rd, 0);
	ck_assert(kh_raw_closed(fd, 5000));
	close(afd);
}

START_TEST(test_kafka_permissions_anonymous)
{
	narrow_everything(kh_raw_connect(kh_main()), "anon");
}
END_TEST

START_TEST(test_kafka_permissions_sasl)
{
	narrow_everything(connect_as("narrow", "npw"), "sasl");
}
END_TEST

/* SaslAuthenticate v2 (flexible): compact token and answer, tagged
 * fields; a wrong password SASL_AUTHENTICATION_FAILED with its message. */
START_TEST(test_kafka_permissions_sasl_authenticate_v2)
{
	for (int good = 0; good < 2; good++) {
		int fd = kh_raw_connect(kh_main());
		struct wb b = { .n = 0 };
		struct rb r;
		char tok[64];
		int n = snprintf(tok, sizeof(tok), "%c%s%c%s", 0, "alice", 0, good ? "apw" : "nope");

		wstr(&b, "PLAIN");
		call(fd, 17, 1, &b, &r);
		ck_assert_int_eq(r16(&r), 0);
		b.n = 0;
		w8(&b, 0); /* header tags */
		w8(&b, (uint8_t)(n + 1));
		memcpy(b.d + b.n, tok, (size_t)n);
		b.n += (size_t)n;
		w8(&b, 0);
		call(fd, 36, 2, &b, &r);
		ck_assert_int_eq(r.p[r.off++], 0); /* response header tags */
		ck_assert_int_eq(r16(&r), good ? 0 : 58);
		uint8_t ml = r.p[r.off++]; /* a message only when it failed */
		ck_assert_int_eq(ml > 1, !good);
		r.off += ml ? ml - 1u : 0u;
		ck_assert_int_eq(r.p[r.off++], 1); /* empty auth bytes */
		ck_assert_int_eq(r64(&r), 0);
		ck_assert_int_eq(r.p[r.off++], 0);
		ck_assert_uint_eq(r.off, r.n);
		if (good)
			assert_open(fd);
		close(fd);
	}
}
END_TEST

/* DescribeLogDirs needs DESCRIBE on the cluster (the administrator tag):
 * alice (no tags) gets CLUSTER_AUTHORIZATION_FAILED at the top (v3+) and
 * no directories (every version); root, an administrator, gets the one
 * directory. */
START_TEST(test_kafka_permissions_log_dirs)
{
	int fds[2] = { connect_as("alice", "apw"), connect_as("root", "rpw") };

	for (int who = 0; who < 2; who++) {
		for (int ver = 1; ver <= 3; ver += 2) {
			struct wb b = { .n = 0 };
			struct rb r;

			if (ver >= 2)
				w8(&b, 0); /* header tags */
			if (ver >= 2)
				w8(&b, 0); /* topics: null */
			else
				w32(&b, -1);
			if (ver >= 2)
				w8(&b, 0);
			call(fds[who], 35, (int16_t)ver, &b, &r);
			if (ver >= 2)
				ck_assert_int_eq(r.p[r.off++], 0); /* response header tags */
			ck_assert_int_eq(r32(&r), 0);
			if (ver >= 3)
				ck_assert_int_eq(r16(&r), who ? 0 : 31);
			int32_t n = ver >= 2 ? (int32_t)r.p[r.off++] - 1 : r32(&r);
			ck_assert_int_eq(n, who ? 1 : 0);
		}
	}
	close(fds[0]);
	close(fds[1]);
}
END_TEST

/* "shop:narrow": narrow's patterns in vhost shop, on shop's topics only
 * (by their topic names, __shop.*); the resource is the name inside the
 * vhost, so a stream queue's escaped topic name is matched unescaped.
 * shop has its own consumer groups, which "/" neither sees nor reaches. */
START_TEST(test_kafka_permissions_vhost_user)
{
	char msg[256], t[96], esc[96], plain[96];
	int fd = kh_raw_connect(kh_main());

	ck_assert_int_eq(sasl_plain(fd, "shop:narrow", "npw", msg, sizeof(msg)), 0);
	snprintf(t, sizeof(t), "__shop.cfg-v%d", (int)getpid());
	snprintf(esc, sizeof(esc), "__shop.cfg_2dq%d", (int)getpid()); /* queue "cfg-q<pid>" */
	snprintf(plain, sizeof(plain), "cfg-v%d", (int)getpid());
	ck_assert_int_eq(create_topic(fd, t, 1), 0);
	ck_assert_int_eq(create_topic(fd, esc, 1), 0);
	ck_assert_int_eq(create_topic(fd, "__shop.w-x", 1), TOPIC_AUTH);
	ck_assert_int_eq(create_topic(fd, plain, 1), TOPIC_AUTH); /* vhost / */
	ck_assert_int_eq(produce(fd, t, 1), 0);
	ck_assert_int_eq(fetch(fd, esc), 0);
	ck_assert(metadata_lists(fd, t));
	/* shop's own consumer groups */
	ck_assert_int_eq(find_coordinator(fd, "grp-ok-shop"), 0);
	ck_assert_int_eq(find_coordinator(fd, "grp-no-shop"), GROUP_AUTH);
	ck_assert_int_eq(offset_commit(fd, "grp-ok-shop", t), 0);
	int16_t top = -1;
	ck_assert_int_eq(offset_fetch(fd, 2, "grp-ok-shop", t, &top), 0);
	ck_assert_int_eq(top, 0);
	ck_assert(list_groups_has(fd, "grp-ok-shop"));
	ck_assert_int_eq(describe_group(fd, "grp-ok-shop"), 0);
	/* the same user in "/" sees neither the topic nor the group */
	int fd2 = connect_as("narrow", "npw");
	ck_assert_int_eq(metadata_one(fd2, t), TOPIC_AUTH);
	ck_assert(!metadata_lists(fd2, t));
	ck_assert(!list_groups_has(fd2, "grp-ok-shop"));
	/* nor does alice (".*" on "/"), even by the name core keeps it by */
	int afd = connect_as("alice", "apw");
	ck_assert(!list_groups_has(afd, "grp-ok-shop"));
	ck_assert(!list_groups_has(afd, "__shop.grp-ok-shop"));
	ck_assert_int_eq(find_coordinator(afd, "__shop.grp-ok-shop"), GROUP_AUTH);
	ck_assert_int_eq(offset_commit(afd, "__shop.grp-ok-shop", "r-x"), GROUP_AUTH);
	assert_open(fd);
	close(fd);
	close(fd2);
	close(afd);

	/* alice may not open shop: the authentication fails, and closes */
	fd = kh_raw_connect(kh_main());
	ck_assert_int_eq(sasl_plain(fd, "shop:alice", "apw", msg, sizeof(msg)), 58);
	ck_assert_msg(strstr(msg, "no access to vhost 'shop'"), "%s", msg);
	ck_assert(kh_raw_closed(fd, 5000));
	close(fd);
	/* nor a vhost that does not exist */
	fd = kh_raw_connect(kh_main());
	ck_assert_int_eq(sasl_plain(fd, "nosuch:narrow", "npw", msg, sizeof(msg)), 58);
	ck_assert_msg(strstr(msg, "vhost 'nosuch' does not exist"), "%s", msg);
	ck_assert(kh_raw_closed(fd, 5000));
	close(fd);
	/* a wrong password in that form fails as any other */
	fd = kh_raw_connect(kh_main());
	ck_assert_int_eq(sasl_plain(fd, "shop:narrow", "bad", msg, sizeof(msg)), 58);
	ck_assert_msg(strstr(msg, "Invalid username or password"), "%s", msg);
	close(fd);
}
END_TEST

/* Anonymous refused: ApiVersions and SASL are served, anything else
 * closes the connection, as on a Kafka SASL listener; SASL works. */
static void anonymous_refused(const char *const *extra)
{
	struct kh_broker b = { 0 };
	const char *args[KH_MAX_ARGS + 1];
	size_t n = 0;
	char msg[256];

	for (size_t i = 0; broker_args[i]; i++)
		args[n++] = broker_args[i];
	for (size_t i = 0; extra[i]; i++)
		args[n++] = extra[i];
	args[n] = NULL;
	ck_assert_int_eq(kh_broker_start(&b, args), 0);
	int fd = kh_raw_connect(&b);
	assert_open(fd);
	struct wb w = { .n = 0 };
	w32(&w, -1);
	kh_raw_request(fd, 3, 1, 5, w.d, w.n);
	ck_assert(kh_raw_closed(fd, 5000));
	close(fd);
	fd = kh_raw_connect(&b);
	ck_assert_int_eq(sasl_plain(fd, "narrow", "npw", msg, sizeof(msg)), 0);
	ck_assert_int_eq(metadata_one(fd, "cfg-x"), UNKNOWN_TOPIC);
	close(fd);
	kh_broker_destroy(&b);
}

START_TEST(test_kafka_permissions_anonymous_off)
{
	const char *const extra[] = { "--kafka-allow-anonymous", "false", NULL };
	anonymous_refused(extra);
}
END_TEST

/* The default user must log in (RabbitMQ MQTT's default_pass): a wrong
 * kafka_default_pass refuses anonymous clients. */
START_TEST(test_kafka_permissions_anonymous_bad_default)
{
	const char *const extra[] = { "--kafka-default-pass", "wrong", NULL };
	anonymous_refused(extra);
}
END_TEST

/* A non-loopback IPv4 address of this machine in out, or 0 when none. */
static int remote_address(struct in_addr *out)
{
	struct ifaddrs *ifs, *i;
	int found = 0;

	if (getifaddrs(&ifs) < 0)
		return 0;
	for (i = ifs; i && !found; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET) {
			struct in_addr a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
			if ((ntohl(a.s_addr) >> 24) != 127) {
				*out = a;
				found = 1;
			}
		}
	freeifaddrs(ifs);
	return found;
}

/* guest (the default default user) is in loopback_users: as for AMQP, an
 * anonymous client from a non-loopback address may not act as guest, and
 * is closed; from loopback it is served; SASL as another user from the
 * same address is served. */
START_TEST(test_kafka_permissions_anonymous_guest_remote)
{
	const char *const args[] = { "--bind-address", "0.0.0.0", "--users.bob.password", "bpw",
				     NULL };
	struct kh_broker b = { 0 };
	struct in_addr ip;
	char msg[256];

	if (!remote_address(&ip)) {
		printf("no non-loopback IPv4 address: guest-from-remote case not run\n");
		return;
	}
	ck_assert_int_eq(kh_broker_start(&b, args), 0);
	int fd = kh_raw_connect(&b);
	ck_assert_int_eq(metadata_one(fd, "any"), UNKNOWN_TOPIC);
	close(fd);
	for (int sasl = 0; sasl < 2; sasl++) {
		struct sockaddr_in sa = { .sin_family = AF_INET,
					  .sin_port = htons((uint16_t)b.port),
					  .sin_addr = ip };
		fd = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_ge(fd, 0);
		ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
		assert_open(fd);
		if (sasl) {
			ck_assert_int_eq(sasl_plain(fd, "bob", "bpw", msg, sizeof(msg)), 0);
			ck_assert_int_eq(metadata_one(fd, "any"), UNKNOWN_TOPIC);
		} else {
			struct wb w = { .n = 0 };
			w32(&w, -1);
			kh_raw_request(fd, 3, 1, 5, w.d, w.n);
			ck_assert(kh_raw_closed(fd, 5000));
		}
		close(fd);
	}
	kh_broker_destroy(&b);
}
END_TEST

/* What clients show: librdkafka's delivery report and kcat's message. */
START_TEST(test_kafka_permissions_clients)
{
	char topic[96], cmd[512], out[1024];
	const char *const kv[] = { "security.protocol",
				   "sasl_plaintext",
				   "sasl.mechanisms",
				   "PLAIN",
				   "sasl.username",
				   "narrow",
				   "sasl.password",
				   "npw",
				   NULL };
	int afd = connect_as("alice", "apw");

	snprintf(topic, sizeof(topic), "r-clients-%d", (int)getpid());
	ck_assert_int_eq(create_topic(afd, topic, 1), 0);
	close(afd);
	rd_kafka_t *p = kh_producer(kh_bootstrap(), kv);
	ck_assert_int_eq(kh_produce_sync(p, topic, 0, NULL, "x", 0, NULL),
			 RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
	rd_kafka_destroy(p);

	snprintf(cmd, sizeof(cmd),
		 "echo hello | timeout 30 kcat -b %s -t %s -P -X message.timeout.ms=5000 2>&1",
		 kh_bootstrap(), topic);
	FILE *f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	size_t n = fread(out, 1, sizeof(out) - 1, f);
	out[n] = '\0';
	pclose(f);
	ck_assert_msg(strstr(out, "Topic authorization failed"), "kcat said: %s", out);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kafka_permissions");
	TCase *tc = kh_tcase("kafka_permissions");

	tcase_add_test(tc, test_kafka_permissions_anonymous);
	tcase_add_test(tc, test_kafka_permissions_sasl);
	tcase_add_test(tc, test_kafka_permissions_vhost_user);
	tcase_add_test(tc, test_kafka_permissions_log_dirs);
	tcase_add_test(tc, test_kafka_permissions_sasl_authenticate_v2);
	tcase_add_test(tc, test_kafka_permissions_anonymous_off);
	tcase_add_test(tc, test_kafka_permissions_anonymous_bad_default);
	tcase_add_test(tc, test_kafka_permissions_anonymous_guest_remote);
	tcase_add_test(tc, test_kafka_permissions_clients);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return kh_run_suite(suite(), broker_args);
}
