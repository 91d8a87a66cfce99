/* Kafka group and coordinator APIs at their flexible versions (KIP-482:
 * request header v2, response header v1, compact strings, arrays and
 * bytes, tagged fields) over raw sockets, every answer decoded field by
 * field to its end: one member's whole cycle (FindCoordinator v3,
 * JoinGroup v6, SyncGroup v4, Heartbeat v4, OffsetCommit v8, OffsetFetch
 * v6 and v7, DescribeGroups v5, LeaveGroup v4 and v5), JoinGroup v9 with
 * SyncGroup v5 naming another protocol (INCONSISTENT_GROUP_PROTOCOL),
 * JoinGroup v7's error answer, OffsetFetch v5 and v8 (a batch of groups,
 * one unknown), FindCoordinator v1 and v4 (a batch; transaction keys),
 * InitProducerId v2-4 and DeleteGroups v2. */
#include "kafka_harness.h"
#include "kraw.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static uint8_t resp[1 << 20];

/* Sends a request (body as built) and reads its answer: correlation id
 * checked, then (flexible) response header v1's tags. */
static struct rb call(int fd, int16_t api, int16_t ver, int flex, const struct wb *b, int wait_ms)
{
	static int32_t corr = 1000;
	int32_t c = ++corr;

	kh_raw_request(fd, api, ver, c, b->d, b->n);
	long n = kh_raw_response(fd, resp, sizeof(resp), wait_ms);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 0 };
	ck_assert_int_eq(r32(&r), c);
	if (flex)
		rtags(&r);
	return r;
}

static void create_topic(int fd, const char *name, int parts)
{
	struct wb b = { .n = 0 };
	w32(&b, 1);
	wstr(&b, name);
	w32(&b, parts);
	w16(&b, 1);
	w32(&b, 0);
	w32(&b, 0);
	w32(&b, 5000);
	w8(&b, 0);
	struct rb r = call(fd, 19, 1, 0, &b, 5000);
	char s[256];
	ck_assert_int_eq(r32(&r), 1);
	rstr(&r, s, sizeof(s));
	ck_assert_int_eq(r16(&r), 0);
}

/* ---- the member cycle --------------------------------------------------------- */

struct join_answer {
	int16_t err;
	int32_t generation, nmembers;
	int ptype_len, proto_len;
	char ptype[64], protocol[64], leader[256], member[256];
	int8_t skip;
	char ids[4][256];
	int instance_len[4];
	char meta[4][64];
};

/* JoinGroup v6+ (flexible): session 10 s, rebalance timeout 500 ms (the
 * first rebalance's delay is as short), protocol "range" with metadata
 * "meta"; v8+ a reason. */
static void join_send(int fd, int16_t ver, const char *group, const char *member)
{
	struct wb b;
	flex_begin(&b);
	wcstr(&b, group);
	w32(&b, 10000);
	w32(&b, 500);
	wcstr(&b, member);
	wcstr(&b, NULL); /* group_instance_id */
	wcstr(&b, "consumer");
	wcarr(&b, 1);
	wcstr(&b, "range");
	wcbytes(&b, "meta");
	wtags(&b);
	if (ver >= 8)
		wcstr(&b, "starting up");
	wtags(&b);
	kh_raw_request(fd, 11, ver, 500 + ver, b.d, b.n);
}

static void join_read(int fd, int16_t ver, struct join_answer *a)
{
	long n = kh_raw_response(fd, resp, sizeof(resp), 10000);
	ck_assert_int_gt(n, 0);
	struct rb r = { resp, (size_t)n, 0 };
	ck_assert_int_eq(r32(&r), 500 + ver);
	rtags(&r);
	ck_assert_int_eq(r32(&r), 0); /* throttle */
	a->err = r16(&r);
	a->generation = r32(&r);
	a->ptype_len = ver >= 7 ? rcstr(&r, a->ptype, sizeof(a->ptype)) : -2;
	a->proto_len = rcstr(&r, a->protocol, sizeof(a->protocol));
	rcstr(&r, a->leader, sizeof(a->leader));
	a->skip = ver >= 9 ? r8(&r) : -1;
	rcstr(&r, a->member, sizeof(a->member));
	a->nmembers = rcarr(&r);
	ck_assert_int_ge(a->nmembers, 0);
	ck_assert_int_le(a->nmembers, 4);
	for (int32_t i = 0; i < a->nmembers; i++) {
		char inst[64];
		rcstr(&r, a->ids[i], sizeof(a->ids[i]));
		a->instance_len[i] = rcstr(&r, inst, sizeof(inst));
		uint32_t ml = ruv(&r);
		ck_assert_uint_gt(ml, 0);
		ck_assert_uint_lt(ml - 1, sizeof(a->meta[i]));
		memcpy(a->meta[i], rtake(&r, ml - 1), ml - 1);
		a->meta[i][ml - 1] = '\0';
		rtags(&r);
	}
	rtags(&r);
	rend(&r);
}

/* A dynamic member's join at version ver (MEMBER_ID_REQUIRED first, then
 * with its id): the answer once the rebalance completed. */
static void join_fully(int fd, int16_t ver, const char *group, struct join_answer *a)
{
	join_send(fd, ver, group, "");
	join_read(fd, ver, a);
	ck_assert_int_eq(a->err, 79); /* MEMBER_ID_REQUIRED */
	ck_assert_int_eq(a->generation, -1);
	ck_assert_int_gt((int)strlen(a->member), 0);
	if (ver >= 7) {
		ck_assert_int_eq(a->ptype_len, -1); /* null with an error */
		ck_assert_int_eq(a->proto_len, -1);
	}
	char id[256];
	snprintf(id, sizeof(id), "%s", a->member);
	join_send(fd, ver, group, id);
	join_read(fd, ver, a);
	ck_assert_int_eq(a->err, 0);
	ck_assert_str_eq(a->member, id);
}

/* SyncGroup v4+ (flexible) of the leader with one assignment for itself;
 * v5 with a protocol type and name (NULL: null). */
static int16_t sync_call(int fd, int16_t ver, const char *group, int32_t gen, const char *member,
			 const char *ptype, const char *pname, const char *assignment,
			 char *got, size_t cap, char *got_type, char *got_name)
{
	struct wb b;
	flex_begin(&b);
	wcstr(&b, group);
	w32(&b, gen);
	wcstr(&b, member);
	wcstr(&b, NULL); /* group_instance_id */
	if (ver >= 5) {
		wcstr(&b, ptype);
		wcstr(&b, pname);
	}
	wcarr(&b, 1);
	wcstr(&b, member);
	wcbytes(&b, assignment);
	wtags(&b);
	wtags(&b);
	struct rb r = call(fd, 14, ver, 1, &b, 10000);
	ck_assert_int_eq(r32(&r), 0);
	int16_t err = r16(&r);
	if (ver >= 5) {
		int tl = rcstr(&r, got_type, 64), nl = rcstr(&r, got_name, 64);
		if (err) {
			ck_assert_int_eq(tl, -1);
			ck_assert_int_eq(nl, -1);
		}
	}
	uint32_t al = ruv(&r);
	ck_assert_uint_gt(al, 0);
	ck_assert_uint_lt(al - 1, cap);
	memcpy(got, rtake(&r, al - 1), al - 1);
	got[al - 1] = '\0';
	if (err)
		ck_assert_uint_eq(al, 1); /* empty */
	rtags(&r);
	rend(&r);
	return err;
}

static int16_t heartbeat_v4(int fd, const char *group, int32_t gen, const char *member)
{
	struct wb b;
	flex_begin(&b);
	wcstr(&b, group);
	w32(&b, gen);
	wcstr(&b, member);
	wcstr(&b, NULL);
	wtags(&b);
	struct rb r = call(fd, 12, 4, 1, &b, 5000);
	ck_assert_int_eq(r32(&r), 0);
	int16_t err = r16(&r);
	rtags(&r);
	rend(&r);
	return err;
}

/* OffsetCommit v8 of topic/0 at offset with metadata; the partition's
 * error (the answer's names checked). */
static int16_t commit_v8(int fd, const char *group, int32_t gen, const char *member,
			 const char *topic, int64_t offset, const char *meta)
{
	struct wb b;
	char s[256];
	flex_begin(&b);
	wcstr(&b, group);
	w32(&b, gen);
	wcstr(&b, member);
	wcstr(&b, NULL);
	wcarr(&b, 1);
	wcstr(&b, topic);
	wcarr(&b, 1);
	w32(&b, 0);
	w64(&b, offset);
	w32(&b, 7); /* committed_leader_epoch */
	wcstr(&b, meta);
	wtags(&b);
	wtags(&b);
	wtags(&b);
	struct rb r = call(fd, 8, 8, 1, &b, 5000);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(rcarr(&r), 1);
	rcstr(&r, s, sizeof(s));
	ck_assert_str_eq(s, topic);
	ck_assert_int_eq(rcarr(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	int16_t err = r16(&r);
	rtags(&r);
	rtags(&r);
	rtags(&r);
	rend(&r);
	return err;
}

/* OffsetFetch v6 or v7 (flexible, one group) of topic/0: its offset and
 * metadata; the group error must be 0. */
static int64_t fetch_v6(int fd, int16_t ver, const char *group, const char *topic, char *meta,
			size_t cap)
{
	struct wb b;
	char s[256];
	flex_begin(&b);
	wcstr(&b, group);
	wcarr(&b, 1);
	wcstr(&b, topic);
	wcarr(&b, 1);
	w32(&b, 0);
	wtags(&b);
	if (ver >= 7)
		w8(&b, 1); /* require_stable */
	wtags(&b);
	struct rb r = call(fd, 9, ver, 1, &b, 5000);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(rcarr(&r), 1);
	rcstr(&r, s, sizeof(s));
	ck_assert_str_eq(s, topic);
	ck_assert_int_eq(rcarr(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	int64_t off = r64(&r);
	ck_assert_int_eq(r32(&r), -1); /* committed_leader_epoch: not kept */
	rcstr(&r, meta, cap);
	ck_assert_int_eq(r16(&r), 0); /* never UNSTABLE_OFFSET_COMMIT */
	rtags(&r);
	rtags(&r);
	ck_assert_int_eq(r16(&r), 0);
	rtags(&r);
	rend(&r);
	return off;
}

/* DescribeGroups v5 of one group: state, protocol, member count; the
 * first member's id, client id, metadata and assignment. */
struct described {
	char state[64], ptype[64], protocol[64];
	int32_t nmembers, ops;
	char member[256], client[128], host[128], meta[64], assignment[64];
};
static void describe_v5(int fd, const char *group, struct described *d)
{
	struct wb b;
	char s[256];
	flex_begin(&b);
	wcarr(&b, 1);
	wcstr(&b, group);
	w8(&b, 1); /* include_authorized_operations */
	wtags(&b);
	struct rb r = call(fd, 15, 5, 1, &b, 5000);
	memset(d, 0, sizeof(*d));
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(rcarr(&r), 1);
	ck_assert_int_eq(r16(&r), 0);
	rcstr(&r, s, sizeof(s));
	ck_assert_str_eq(s, group);
	rcstr(&r, d->state, sizeof(d->state));
	rcstr(&r, d->ptype, sizeof(d->ptype));
	rcstr(&r, d->protocol, sizeof(d->protocol));
	d->nmembers = rcarr(&r);
	for (int32_t i = 0; i < d->nmembers; i++) {
		char inst[64], id[256], client[128], host[128], meta[64], asg[64];
		uint32_t l;
		rcstr(&r, id, sizeof(id));
		ck_assert_int_eq(rcstr(&r, inst, sizeof(inst)), -1); /* dynamic */
		rcstr(&r, client, sizeof(client));
		rcstr(&r, host, sizeof(host));
		l = ruv(&r);
		ck_assert_uint_gt(l, 0);
		ck_assert_uint_lt(l - 1, sizeof(meta));
		memcpy(meta, rtake(&r, l - 1), l - 1);
		meta[l - 1] = '\0';
		l = ruv(&r);
		ck_assert_uint_gt(l, 0);
		ck_assert_uint_lt(l - 1, sizeof(asg));
		memcpy(asg, rtake(&r, l - 1), l - 1);
		asg[l - 1] = '\0';
		rtags(&r);
		if (i == 0) {
			strcpy(d->member, id);
			strcpy(d->client, client);
			strcpy(d->host, host);
			strcpy(d->meta, meta);
			strcpy(d->assignment, asg);
		}
	}
	d->ops = r32(&r);
	rtags(&r);
	rtags(&r);
	rend(&r);
}

/* LeaveGroup v4 or v5 (a reason) of one member: the member's error. */
static int16_t leave(int fd, int16_t ver, const char *group, const char *member)
{
	struct wb b;
	char s[256];
	flex_begin(&b);
	wcstr(&b, group);
	wcarr(&b, 1);
	wcstr(&b, member);
	wcstr(&b, NULL);
	if (ver >= 5)
		wcstr(&b, "shutting down");
	wtags(&b);
	wtags(&b);
	struct rb r = call(fd, 13, ver, 1, &b, 5000);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r16(&r), 0); /* the group's */
	ck_assert_int_eq(rcarr(&r), 1);
	rcstr(&r, s, sizeof(s));
	ck_assert_str_eq(s, member);
	ck_assert_int_eq(rcstr(&r, s, sizeof(s)), -1);
	int16_t err = r16(&r);
	rtags(&r);
	rtags(&r);
	rend(&r);
	return err;
}

/* One dynamic member at the first flexible versions: FindCoordinator v3,
 * JoinGroup v6, SyncGroup v4, Heartbeat v4, OffsetCommit v8, OffsetFetch
 * v6/v7, DescribeGroups v5 while Stable, LeaveGroup v4 (and v5 for a
 * member no longer there), DescribeGroups v5 once Empty. */
START_TEST(member_cycle_flexible)
{
	char topic[128], group[128], got[64], meta[64], s[256];
	int fd = kh_raw_connect(kh_main());
	struct join_answer a;
	struct described d;
	struct wb b;

	kh_name(topic, sizeof(topic), "flexcyc");
	kh_name(group, sizeof(group), "flexcyc-g");
	create_topic(fd, topic, 1);

	flex_begin(&b); /* FindCoordinator v3 */
	wcstr(&b, group);
	w8(&b, 0);
	wtags(&b);
	struct rb r = call(fd, 10, 3, 1, &b, 5000);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r16(&r), 0);
	ck_assert_int_eq(rcstr(&r, s, sizeof(s)), -1); /* error_message */
	ck_assert_int_eq(r32(&r), 1);
	rcstr(&r, s, sizeof(s));
	ck_assert_str_eq(s, "127.0.0.1");
	ck_assert_int_eq(r32(&r), kh_main()->port);
	rtags(&r);
	rend(&r);

	join_fully(fd, 6, group, &a);
	ck_assert_int_eq(a.generation, 1);
	ck_assert_str_eq(a.protocol, "range");
	ck_assert_str_eq(a.leader, a.member);
	ck_assert_int_eq(a.nmembers, 1);
	ck_assert_str_eq(a.ids[0], a.member);
	ck_assert_int_eq(a.instance_len[0], -1);
	ck_assert_str_eq(a.meta[0], "meta");

	ck_assert_int_eq(sync_call(fd, 4, group, a.generation, a.member, NULL, NULL, "asg-1", got,
				   sizeof(got), NULL, NULL), 0);
	ck_assert_str_eq(got, "asg-1");
	ck_assert_int_eq(heartbeat_v4(fd, group, a.generation, a.member), 0);
	ck_assert_int_eq(heartbeat_v4(fd, group, a.generation + 1, a.member), 22);
	ck_assert_int_eq(heartbeat_v4(fd, group, a.generation, "nobody"), 25);

	ck_assert_int_eq(commit_v8(fd, group, a.generation, a.member, topic, 42, "m42"), 0);
	ck_assert_int_eq(commit_v8(fd, group, a.generation + 5, a.member, topic, 43, NULL), 22);
	ck_assert_int_eq(fetch_v6(fd, 6, group, topic, meta, sizeof(meta)), 42);
	ck_assert_str_eq(meta, "m42");
	ck_assert_int_eq(fetch_v6(fd, 7, group, topic, meta, sizeof(meta)), 42);

	describe_v5(fd, group, &d);
	ck_assert_str_eq(d.state, "Stable");
	ck_assert_str_eq(d.ptype, "consumer");
	ck_assert_str_eq(d.protocol, "range");
	ck_assert_int_eq(d.nmembers, 1);
	ck_assert_str_eq(d.member, a.member);
	ck_assert_str_eq(d.client, "raw");
	ck_assert_str_eq(d.host, "/127.0.0.1");
	ck_assert_str_eq(d.meta, "meta");
	ck_assert_str_eq(d.assignment, "asg-1");
	ck_assert_int_eq(d.ops & (1 << 3), 1 << 3); /* READ */

	ck_assert_int_eq(leave(fd, 4, group, a.member), 0);
	ck_assert_int_eq(leave(fd, 5, group, a.member), 25);
	describe_v5(fd, group, &d);
	ck_assert_str_eq(d.state, "Empty");
	ck_assert_int_eq(d.nmembers, 0);
	/* the commit outlives the membership */
	ck_assert_int_eq(fetch_v6(fd, 7, group, topic, meta, sizeof(meta)), 42);
	close(fd);
}
END_TEST

/* JoinGroup v9 (v7's protocol type, v8's reason, v9's skip_assignment),
 * then SyncGroup v5 naming another protocol name or type:
 * INCONSISTENT_GROUP_PROTOCOL with null type and name, the group still
 * waiting for its leader; with the group's names (or null ones) it
 * completes and the answer names them.  JoinGroup v7 refused: null
 * protocol type and name. */
START_TEST(join_v9_sync_v5_protocol_check)
{
	char group[128], got[64], t[64], nm[64];
	int fd = kh_raw_connect(kh_main());
	struct join_answer a;

	kh_name(group, sizeof(group), "flexv9");
	join_fully(fd, 9, group, &a);
	ck_assert_int_eq(a.generation, 1);
	ck_assert_int_eq(a.ptype_len, 8);
	ck_assert_str_eq(a.ptype, "consumer");
	ck_assert_str_eq(a.protocol, "range");
	ck_assert_str_eq(a.leader, a.member);
	ck_assert_int_eq(a.skip, 0); /* the leader assigns */
	ck_assert_int_eq(a.nmembers, 1);

	ck_assert_int_eq(sync_call(fd, 5, group, a.generation, a.member, "consumer", "roundrobin",
				   "x", got, sizeof(got), t, nm), 23);
	ck_assert_int_eq(sync_call(fd, 5, group, a.generation, a.member, "connect", "range", "x",
				   got, sizeof(got), t, nm), 23);
	ck_assert_int_eq(sync_call(fd, 5, group, a.generation, a.member, "consumer", "range",
				   "asg-9", got, sizeof(got), t, nm), 0);
	ck_assert_str_eq(got, "asg-9");
	ck_assert_str_eq(t, "consumer");
	ck_assert_str_eq(nm, "range");
	/* Stable: null names are not checked, the stored assignment comes back */
	ck_assert_int_eq(sync_call(fd, 5, group, a.generation, a.member, NULL, NULL, "", got,
				   sizeof(got), t, nm), 0);
	ck_assert_str_eq(got, "asg-9");
	ck_assert_str_eq(nm, "range");

	/* JoinGroup v7 with a session timeout below the broker's minimum */
	struct wb b;
	flex_begin(&b);
	wcstr(&b, group);
	w32(&b, 1);
	w32(&b, 500);
	wcstr(&b, a.member);
	wcstr(&b, NULL);
	wcstr(&b, "consumer");
	wcarr(&b, 1);
	wcstr(&b, "range");
	wcbytes(&b, "meta");
	wtags(&b);
	wtags(&b);
	kh_raw_request(fd, 11, 7, 507, b.d, b.n);
	join_read(fd, 7, &a);
	ck_assert_int_eq(a.err, 26); /* INVALID_SESSION_TIMEOUT */
	ck_assert_int_eq(a.generation, -1);
	ck_assert_int_eq(a.ptype_len, -1);
	ck_assert_int_eq(a.proto_len, -1);
	ck_assert_str_eq(a.leader, "");
	ck_assert_int_eq(a.nmembers, 0);
	close(fd);
}
END_TEST

/* ---- offsets ------------------------------------------------------------------ */

/* OffsetCommit v8 of a simple consumer (generation -1, no member). */
static void commit_simple(int fd, const char *group, const char *topic, int64_t offset)
{
	ck_assert_int_eq(commit_v8(fd, group, -1, "", topic, offset, "s"), 0);
}

/* OffsetFetch v8: group g1 asks topic partitions 0 and 1 (only 0
 * committed), an unknown group all its topics (null): each group with its
 * own error code, offsets -1 where nothing was committed.  OffsetFetch v5
 * (classic) of the same: the leader epoch after the offset.  OffsetFetch
 * v7 of all topics in librdkafka 2.0.2's form. */
START_TEST(offset_fetch_v8_batch)
{
	char topic[128], g1[128], g2[128], s[256];
	int fd = kh_raw_connect(kh_main());
	struct wb b;

	kh_name(topic, sizeof(topic), "flexof");
	kh_name(g1, sizeof(g1), "flexof-g1");
	kh_name(g2, sizeof(g2), "flexof-unknown");
	create_topic(fd, topic, 2);
	commit_simple(fd, g1, topic, 17);

	flex_begin(&b);
	wcarr(&b, 2);
	wcstr(&b, g1);
	wcarr(&b, 1);
	wcstr(&b, topic);
	wcarr(&b, 2);
	w32(&b, 0);
	w32(&b, 1);
	wtags(&b);
	wtags(&b);
	wcstr(&b, g2);
	wcarr(&b, -1);
	wtags(&b);
	w8(&b, 0); /* require_stable */
	wtags(&b);
	struct rb r = call(fd, 9, 8, 1, &b, 5000);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(rcarr(&r), 2);
	rcstr(&r, s, sizeof(s));
	ck_assert_str_eq(s, g1);
	ck_assert_int_eq(rcarr(&r), 1);
	rcstr(&r, s, sizeof(s));
	ck_assert_str_eq(s, topic);
	ck_assert_int_eq(rcarr(&r), 2);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r64(&r), 17);
	ck_assert_int_eq(r32(&r), -1);
	rcstr(&r, s, sizeof(s));
	ck_assert_str_eq(s, "s");
	ck_assert_int_eq(r16(&r), 0);
	rtags(&r);
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r64(&r), -1);
	ck_assert_int_eq(r32(&r), -1);
	ck_assert_int_eq(rcstr(&r, s, sizeof(s)), 0); /* "" as Kafka */
	ck_assert_int_eq(r16(&r), 0);
	rtags(&r);
	rtags(&r);          /* topic */
	ck_assert_int_eq(r16(&r), 0); /* g1's error */
	rtags(&r);
	rcstr(&r, s, sizeof(s));
	ck_assert_str_eq(s, g2);
	ck_assert_int_eq(rcarr(&r), 0); /* nothing committed */
	ck_assert_int_eq(r16(&r), 0);
	rtags(&r);
	rtags(&r);
	rend(&r);

	/* v5: classic encoding, committed_leader_epoch after the offset */
	b.n = 0;
	wstr(&b, g1);
	w32(&b, 1);
	wstr(&b, topic);
	w32(&b, 1);
	w32(&b, 0);
	r = call(fd, 9, 5, 0, &b, 5000);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r32(&r), 1);
	rstr(&r, s, sizeof(s));
	ck_assert_int_eq(r32(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r64(&r), 17);
	ck_assert_int_eq(r32(&r), -1);
	rstr(&r, s, sizeof(s));
	ck_assert_str_eq(s, "s");
	ck_assert_int_eq(r16(&r), 0);
	ck_assert_int_eq(r16(&r), 0);
	rend(&r);

	/* v7 of all of g1's topics as librdkafka 2.0.2 sends it (its
	 * ListConsumerGroupOffsets): a classic int32 0 where the compact
	 * array goes, read as Kafka reads it (null: every topic) */
	flex_begin(&b);
	wcstr(&b, g1);
	w32(&b, 0);
	w8(&b, 1); /* require_stable: Kafka reads 0 instead */
	wtags(&b);
	r = call(fd, 9, 7, 1, &b, 5000);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(rcarr(&r), 1);
	rcstr(&r, s, sizeof(s));
	ck_assert_str_eq(s, topic);
	ck_assert_int_eq(rcarr(&r), 1);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r64(&r), 17);
	ck_assert_int_eq(r32(&r), -1);
	rcstr(&r, s, sizeof(s));
	ck_assert_str_eq(s, "s");
	ck_assert_int_eq(r16(&r), 0);
	rtags(&r);
	rtags(&r);
	ck_assert_int_eq(r16(&r), 0);
	rtags(&r);
	rend(&r);
	close(fd);
}
END_TEST

/* ---- FindCoordinator ------------------------------------------------------------ */

/* One coordinator of FindCoordinator v4's answer. */
static void coordinator_is(struct rb *r, const char *key, int16_t err, int32_t node)
{
	char s[256];
	rcstr(r, s, sizeof(s));
	ck_assert_str_eq(s, key);
	ck_assert_int_eq(r32(r), node);
	rcstr(r, s, sizeof(s));
	ck_assert_str_eq(s, node < 0 ? "" : "127.0.0.1");
	ck_assert_int_eq(r32(r), node < 0 ? -1 : kh_main()->port);
	ck_assert_int_eq(r16(r), err);
	int ml = rcstr(r, s, sizeof(s));
	if (err)
		ck_assert_int_gt(ml, 0);
	else
		ck_assert_int_eq(ml, -1);
	rtags(r);
}

static struct rb find_v4(int fd, int8_t key_type, int n, const char *const *keys)
{
	struct wb b;
	flex_begin(&b);
	w8(&b, (uint8_t)key_type);
	wcarr(&b, n);
	for (int i = 0; i < n; i++)
		wcstr(&b, keys[i]);
	wtags(&b);
	struct rb r = call(fd, 10, 4, 1, &b, 5000);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(rcarr(&r), n);
	return r;
}

/* FindCoordinator v4: two group keys, each answered (an empty one
 * INVALID_GROUP_ID); transaction keys this node (the single node's
 * transaction coordinator); an unknown key type INVALID_REQUEST.
 * v1 (classic, key_type and error_message) of a transaction key. */
START_TEST(find_coordinator_v4_batch)
{
	const char *groups[] = { "flexfc-a", "flexfc-b", "" };
	const char *txn[] = { "tx-1", "tx-2" };
	char s[256];
	int fd = kh_raw_connect(kh_main());

	struct rb r = find_v4(fd, 0, 3, groups);
	coordinator_is(&r, "flexfc-a", 0, 1);
	coordinator_is(&r, "flexfc-b", 0, 1);
	{ /* the empty key */
		rcstr(&r, s, sizeof(s));
		ck_assert_str_eq(s, "");
		r32(&r);
		rcstr(&r, s, sizeof(s));
		r32(&r);
		ck_assert_int_eq(r16(&r), 24);
		ck_assert_int_gt(rcstr(&r, s, sizeof(s)), 0);
		rtags(&r);
	}
	rtags(&r);
	rend(&r);

	r = find_v4(fd, 1, 2, txn);
	coordinator_is(&r, "tx-1", 0, 1);
	coordinator_is(&r, "tx-2", 0, 1);
	rtags(&r);
	rend(&r);

	r = find_v4(fd, 5, 1, txn);
	coordinator_is(&r, "tx-1", 42, -1);
	rtags(&r);
	rend(&r);

	struct wb b = { .n = 0 };
	wstr(&b, "tx-1");
	w8(&b, 1);
	r = call(fd, 10, 1, 0, &b, 5000);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r16(&r), 0);
	ck_assert_int_eq(rstr(&r, s, sizeof(s)), -1); /* error_message: null */
	ck_assert_int_eq(r32(&r), 1);
	rstr(&r, s, sizeof(s));
	ck_assert_str_eq(s, "127.0.0.1");
	ck_assert_int_eq(r32(&r), kh_main()->port);
	rend(&r);
	b.n = 0;
	wstr(&b, "flexfc-a");
	w8(&b, 0);
	r = call(fd, 10, 2, 0, &b, 5000);
	ck_assert_int_eq(r32(&r), 0);
	ck_assert_int_eq(r16(&r), 0);
	ck_assert_int_eq(rstr(&r, s, sizeof(s)), -1);
	ck_assert_int_eq(r32(&r), 1);
	rstr(&r, s, sizeof(s));
	ck_assert_str_eq(s, "127.0.0.1");
	ck_assert_int_eq(r32(&r), kh_main()->port);
	rend(&r);
	close(fd);
}
END_TEST

/* ---- InitProducerId -------------------------------------------------------------- */

static int16_t init_pid(int fd, int16_t ver, const char *tx, int64_t pid, int16_t epoch,
			int64_t *out_pid, int16_t *out_epoch)
{
	struct wb b;
	flex_begin(&b);
	wcstr(&b, tx);
	w32(&b, 60000);
	if (ver >= 3) {
		w64(&b, pid);
		w16(&b, epoch);
	}
	wtags(&b);
	struct rb r = call(fd, 22, ver, 1, &b, 5000);
	ck_assert_int_eq(r32(&r), 0);
	int16_t err = r16(&r);
	*out_pid = r64(&r);
	*out_epoch = r16(&r);
	rtags(&r);
	rend(&r);
	return err;
}

/* InitProducerId v2 (flexible) of an idempotent producer: a new id,
 * epoch 0.  v3/v4 with its current id and epoch: as Kafka without a
 * transactional id, a new id with epoch 0 (the idempotent producer bumps
 * its epoch itself); the old id's stale epoch makes no difference; an id
 * without an epoch INVALID_REQUEST; a transactional id gets the
 * coordinator's id, its epoch bumped by each call, a stale one fenced.  Both ids produce with sequence 0 at epoch 0; a
 * producer that bumped its epoch itself (as librdkafka and the Java
 * client do for idempotence, KIP-360) has its old epoch refused with
 * INVALID_PRODUCER_EPOCH (47). */
START_TEST(init_producer_id_flexible)
{
	char topic[128];
	int fd = kh_raw_connect(kh_main());
	int64_t p1, p2, p3, base;
	int16_t e;

	kh_name(topic, sizeof(topic), "flexpid");
	create_topic(fd, topic, 1);
	ck_assert_int_eq(init_pid(fd, 2, NULL, -1, -1, &p1, &e), 0);
	ck_assert_int_ge(p1, 0);
	ck_assert_int_eq(e, 0);
	ck_assert_int_eq(kh_raw_produce_idempotent(fd, topic, 0, p1, 0, 0, "a", &base), 0);
	ck_assert_int_eq(init_pid(fd, 3, NULL, p1, 0, &p2, &e), 0);
	ck_assert_int_ne(p2, p1);
	ck_assert_int_eq(e, 0);
	ck_assert_int_eq(init_pid(fd, 4, NULL, p1, 9, &p3, &e), 0);
	ck_assert_int_ne(p3, p1);
	ck_assert_int_ne(p3, p2);
	ck_assert_int_eq(e, 0);
	ck_assert_int_eq(kh_raw_produce_idempotent(fd, topic, 0, p2, 0, 0, "b", &base), 0);
	ck_assert_int_eq(base, 1);
	/* the producer's own epoch bump: the new epoch starts at sequence 0,
	 * after which the old epoch is stale (INVALID_PRODUCER_EPOCH) */
	ck_assert_int_eq(kh_raw_produce_idempotent(fd, topic, 0, p2, 1, 0, "c", &base), 0);
	ck_assert_int_eq(base, 2);
	ck_assert_int_eq(kh_raw_produce_idempotent(fd, topic, 0, p2, 0, 1, "d", &base), 47);
	ck_assert_int_eq(init_pid(fd, 4, NULL, p1, -1, &p3, &e), 42);
	ck_assert_int_eq(p3, -1);
	ck_assert_int_eq(init_pid(fd, 4, NULL, -1, 0, &p3, &e), 42);
	/* a transactional id: the coordinator's id, its epoch bumped by each
	 * InitProducerId; a stale epoch (KIP-360) PRODUCER_FENCED at v4 */
	ck_assert_int_eq(init_pid(fd, 4, "flextx-1", -1, -1, &p3, &e), 0);
	ck_assert_int_ge(p3, 0);
	ck_assert_int_eq(e, 0);
	ck_assert_int_eq(init_pid(fd, 4, "flextx-1", p3, 0, &p1, &e), 0);
	ck_assert_int_eq(p1, p3);
	ck_assert_int_eq(e, 1);
	ck_assert_int_eq(init_pid(fd, 4, "flextx-1", p3, 0, &p1, &e), 90);
	ck_assert_int_eq(init_pid(fd, 4, "flextx-1", p2, 0, &p1, &e), 49);
	close(fd);
}
END_TEST

/* ---- DeleteGroups ------------------------------------------------------------------ */

/* DeleteGroups v2 (flexible): a simple group's offsets go (then
 * GROUP_ID_NOT_FOUND), an empty id INVALID_GROUP_ID. */
START_TEST(delete_groups_v2)
{
	char topic[128], group[128], s[256], meta[64];
	int fd = kh_raw_connect(kh_main());

	kh_name(topic, sizeof(topic), "flexdg");
	kh_name(group, sizeof(group), "flexdg-g");
	create_topic(fd, topic, 1);
	commit_simple(fd, group, topic, 3);
	ck_assert_int_eq(fetch_v6(fd, 6, group, topic, meta, sizeof(meta)), 3);
	for (int round = 0; round < 2; round++) {
		struct wb b;
		flex_begin(&b);
		wcarr(&b, 2);
		wcstr(&b, group);
		wcstr(&b, "");
		wtags(&b);
		struct rb r = call(fd, 42, 2, 1, &b, 5000);
		ck_assert_int_eq(r32(&r), 0);
		ck_assert_int_eq(rcarr(&r), 2);
		rcstr(&r, s, sizeof(s));
		ck_assert_str_eq(s, group);
		ck_assert_int_eq(r16(&r), round == 0 ? 0 : 69);
		rtags(&r);
		rcstr(&r, s, sizeof(s));
		ck_assert_str_eq(s, "");
		ck_assert_int_eq(r16(&r), 24);
		rtags(&r);
		rtags(&r);
		rend(&r);
	}
	ck_assert_int_eq(fetch_v6(fd, 6, group, topic, meta, sizeof(meta)), -1);
	close(fd);
}
END_TEST

/* ---- malformed flexible bodies ---------------------------------------------------- */

/* A flexible body cut short, or a compact length past the frame, closes
 * the connection (Kafka's answer to a request it cannot parse); the
 * broker serves others. */
START_TEST(truncated_flexible_bodies_close)
{
	static const struct {
		int16_t api, ver;
		uint8_t body[8];
		size_t n;
	} bad[] = {
		{ 11, 9, { 0, 0x05, 'g' }, 3 },             /* JoinGroup: group id cut */
		{ 14, 5, { 0, 0x02, 'g', 0, 0, 0, 1 }, 7 }, /* SyncGroup: no member id */
		{ 9, 8, { 0, 0x02, 0x7f }, 3 },             /* OffsetFetch v8: group id past the end */
		{ 10, 4, { 0, 0, 0x03, 0x02, 'a' }, 5 },    /* FindCoordinator v4: 2 keys, 1 sent */
		{ 22, 4, { 0, 0, 0, 0, 0, 1 }, 6 },         /* InitProducerId v4: no producer id */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int fd = kh_raw_connect(kh_main());
		kh_raw_request(fd, bad[i].api, bad[i].ver, 9, bad[i].body, bad[i].n);
		ck_assert_msg(kh_raw_closed(fd, 5000), "case %zu not closed", i);
		close(fd);
	}
	int fd = kh_raw_connect(kh_main());
	ck_assert_int_eq(heartbeat_v4(fd, "flex-nogroup", 1, "m"), 25);
	close(fd);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("kafka_group_flex");
	TCase *tc = kh_tcase("flex");
	tcase_add_test(tc, member_cycle_flexible);
	tcase_add_test(tc, join_v9_sync_v5_protocol_check);
	tcase_add_test(tc, offset_fetch_v8_batch);
	tcase_add_test(tc, find_coordinator_v4_batch);
	tcase_add_test(tc, init_producer_id_flexible);
	tcase_add_test(tc, delete_groups_v2);
	tcase_add_test(tc, truncated_flexible_bodies_close);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return kh_run_suite(suite(), NULL);
}
