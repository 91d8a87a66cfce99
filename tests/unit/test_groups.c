/*
 * Consumer groups in core (core/groups.h), the semantics both front ends
 * and replication share: the protocol vote, a rebalance's completion, the
 * commit check, deletion, and committed offsets with positions and lag
 * over a real log store in a temp dir; in a cluster, the committed offsets
 * rebuilt from a replicated offsets log, and a follower's copy that
 * nothing but replication writes.
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/config.h"
#include "core/groups.h"
#include "core/replica.h"
#include "core/topic_ops.h"
#include "core/topics.h"

static struct tdm_config cfg;
static struct tdm_topics *topics;
static struct tdm_groups *gs;
static char dir[256];
static int freed;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static void setup(void)
{
	char err[256];

	snprintf(dir, sizeof(dir), "%s/tandem-groups-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(tdm_config_init(&cfg), 0);
	ck_assert_int_eq(tdm_config_set(&cfg, "data_dir", dir, err, sizeof(err)), 0);
	ck_assert_int_eq(tdm_config_set(&cfg, "log_level", "warning", err, sizeof(err)), 0);
	topics = tdm_topics_open(&cfg, NULL, err, sizeof(err)); /* fsyncs inline */
	ck_assert_msg(topics != NULL, "%s", err);
	gs = tdm_groups_new(topics);
	ck_assert_ptr_nonnull(gs);
	freed = 0;
}

static void teardown(void)
{
	tdm_groups_free(gs);
	tdm_topics_close(topics);
	tdm_config_free(&cfg);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A member as a front end makes one: ids and protocols filled, then linked. */
static struct tdm_group_member *member(struct tdm_group *g, const char *id, const char *p1,
				       const char *p2)
{
	struct tdm_group_member *m = calloc(1, sizeof(*m));
	struct tdm_group_proto *p = calloc(2, sizeof(*p));
	int n = 0;

	ck_assert(m && p);
	m->id = strdup(id);
	m->client_id = strdup("c");
	m->client_host = strdup("/127.0.0.1");
	for (const char *name = p1; name && n < 2; name = n == 1 ? p2 : NULL) {
		p[n].name = strdup(name);
		p[n].meta = malloc(1);
		p[n].len = 1;
		n++;
	}
	tdm_group_member_set_protos(m, p, n);
	tdm_group_member_set_timeouts(m, 10000, 0);
	tdm_group_member_link(g, m);
	return m;
}

static struct tdm_group *group(const char *id)
{
	struct tdm_group *g = calloc(1, sizeof(*g));

	ck_assert_ptr_nonnull(g);
	g->id = strdup(id);
	ck_assert_int_eq(tdm_groups_add(gs, g), 0);
	return g;
}

static void drop(struct tdm_group *g)
{
	while (g->members) {
		struct tdm_group_member *m = g->members;
		tdm_group_member_unlink(m);
		tdm_group_member_clear(m);
		free(m);
	}
	tdm_groups_remove(gs, g);
	tdm_group_clear(g);
	free(g);
}

/* Kafka's vote: only protocols every member supports count; each member
 * votes for the first of its own list among them. */
START_TEST(test_groups_protocol_vote)
{
	struct tdm_group *g = group("vote");

	member(g, "m1", "range", "roundrobin");
	member(g, "m2", "roundrobin", "range");
	member(g, "m3", "roundrobin", NULL);
	ck_assert_str_eq(tdm_group_choose_protocol(g), "roundrobin");
	drop(g);
	g = group("vote2");
	member(g, "m1", "a", "b");
	member(g, "m2", "b", "a");
	member(g, "m3", "b", "a");
	ck_assert_str_eq(tdm_group_choose_protocol(g), "b");
	member(g, "m4", "c", NULL);
	ck_assert_ptr_null(tdm_group_choose_protocol(g));
	drop(g);
}
END_TEST

/* Completion: next generation, first member leads, assignments cleared;
 * then the commit check answers as Kafka's OffsetCommit does. */
START_TEST(test_groups_rebalance_and_commit_check)
{
	struct tdm_group *g = group("g");
	struct tdm_group_member *who;

	/* no live members: only simple commits (generation < 0) */
	ck_assert_int_eq(tdm_groups_check_commit(gs, "g", 1, -1, "", 0, NULL, 0, &who), TDM_GROUP_OK);
	ck_assert_ptr_null(who);
	ck_assert_int_eq(tdm_groups_check_commit(gs, "g", 1, 0, "", 0, NULL, 0, NULL),
			 TDM_GROUP_ILLEGAL_GENERATION);
	ck_assert_int_eq(tdm_groups_check_commit(gs, "nobody", 6, -1, "", 0, NULL, 0, NULL), TDM_GROUP_OK);
	ck_assert(!tdm_groups_busy(gs, "g", 1));

	struct tdm_group_member *m1 = member(g, "m1", "range", NULL);
	struct tdm_group_member *m2 = member(g, "m2", "range", NULL);
	ck_assert_int_eq(m1->rebalance_timeout_ms, 10000); /* 0: the session timeout */
	ck_assert_int_eq(g->nmembers, 2);
	ck_assert_ptr_eq(tdm_group_member_find(g, "m2", 2), m2);
	ck_assert_int_eq(tdm_group_set_assignment(m2, "old", 3), 0);
	tdm_group_set_state(g, TDM_GROUP_PREPARING);
	ck_assert(tdm_groups_busy(gs, "g", 1));
	ck_assert_int_eq(tdm_group_complete_join(g, "range"), 0);
	ck_assert_int_eq(g->generation, 1);
	ck_assert_str_eq(g->leader, "m1");
	ck_assert_int_eq(g->state, TDM_GROUP_COMPLETING);
	ck_assert_ptr_null(m2->assignment);
	ck_assert_str_eq(tdm_group_state_name(g->state), "CompletingRebalance");
	ck_assert_int_eq(tdm_groups_check_commit(gs, "g", 1, 1, "m1", 2, NULL, 0, NULL),
			 TDM_GROUP_REBALANCING);
	tdm_group_set_state(g, TDM_GROUP_STABLE);
	ck_assert_int_eq(tdm_groups_check_commit(gs, "g", 1, 1, "m1", 2, NULL, 0, &who), TDM_GROUP_OK);
	ck_assert_ptr_eq(who, m1);
	ck_assert_int_eq(tdm_groups_check_commit(gs, "g", 1, 0, "m1", 2, NULL, 0, NULL),
			 TDM_GROUP_ILLEGAL_GENERATION);
	ck_assert_int_eq(tdm_groups_check_commit(gs, "g", 1, 1, "m9", 2, NULL, 0, NULL),
			 TDM_GROUP_UNKNOWN_MEMBER);
	/* the HTTP fetch's commit without membership is refused while members live */
	ck_assert_int_ne(tdm_groups_check_commit(gs, "g", 1, -1, "", 0, NULL, 0, NULL), TDM_GROUP_OK);
	/* the leader leaves: nobody leads until the next completion */
	tdm_group_member_unlink(m1);
	tdm_group_member_clear(m1);
	free(m1);
	ck_assert_ptr_null(g->leader);
	ck_assert_int_eq(g->nmembers, 1);
	ck_assert_int_eq(tdm_group_complete_join(g, "range"), 0);
	ck_assert_str_eq(g->leader, "m2");
	ck_assert_int_eq(g->generation, 2);
	drop(g);
}
END_TEST

/* Static members (KIP-345): found by instance id, renamed on a rejoin
 * (the leader follows), and the member check and commit check fence an
 * old member id of an instance. */
START_TEST(test_groups_static_members)
{
	struct tdm_group *g = group("g");
	struct tdm_group_member *who;
	struct tdm_group_member *a = member(g, "a-1", "range", NULL);
	struct tdm_group_member *d = member(g, "d-1", "range", NULL);
	char *old;

	a->instance_id = strdup("a");
	ck_assert_ptr_eq(tdm_group_member_find_instance(g, "a", 1), a);
	ck_assert_ptr_null(tdm_group_member_find_instance(g, "d", 1));
	tdm_group_set_state(g, TDM_GROUP_PREPARING);
	ck_assert_int_eq(tdm_group_complete_join(g, "range"), 0);
	tdm_group_set_state(g, TDM_GROUP_STABLE);
	ck_assert_str_eq(g->leader, "a-1");
	old = tdm_group_member_rename(a, strdup("a-2"));
	ck_assert_str_eq(old, "a-1");
	free(old);
	ck_assert_str_eq(g->leader, "a-2");
	ck_assert_ptr_eq(tdm_group_member_find(g, "a-2", 3), a);
	ck_assert_ptr_null(tdm_group_member_find(g, "a-1", 3));
	ck_assert_int_eq(tdm_group_check_member(g, "a-2", 3, "a", 1, &who), TDM_GROUP_OK);
	ck_assert_ptr_eq(who, a);
	ck_assert_int_eq(tdm_group_check_member(g, "a-1", 3, "a", 1, &who), TDM_GROUP_FENCED);
	ck_assert_ptr_null(who);
	ck_assert_int_eq(tdm_group_check_member(g, "d-1", 3, "x", 1, NULL), TDM_GROUP_UNKNOWN_MEMBER);
	ck_assert_int_eq(tdm_group_check_member(g, "d-1", 3, NULL, 0, &who), TDM_GROUP_OK);
	ck_assert_ptr_eq(who, d);
	ck_assert_int_eq(tdm_group_check_member(NULL, "d-1", 3, NULL, 0, NULL),
			 TDM_GROUP_UNKNOWN_MEMBER);
	ck_assert_int_eq(tdm_groups_check_commit(gs, "g", 1, 1, "a-1", 3, "a", 1, NULL),
			 TDM_GROUP_FENCED);
	ck_assert_int_eq(tdm_groups_check_commit(gs, "g", 1, 1, "a-2", 3, "a", 1, &who),
			 TDM_GROUP_OK);
	ck_assert_ptr_eq(who, a);
	/* the old member id without its instance id is simply unknown */
	ck_assert_int_eq(tdm_groups_check_commit(gs, "g", 1, 1, "a-1", 3, NULL, 0, NULL),
			 TDM_GROUP_UNKNOWN_MEMBER);
	drop(g);
}
END_TEST

static void free_group(void *ctx, struct tdm_group *g)
{
	(void)ctx;
	freed++;
	tdm_group_clear(g);
	free(g);
}

static const struct tdm_group_coordinator coord = { .free_group = free_group };

/* Keeps the entries of topic "t" partition 0 ([0]) and of "nosuch" ([1]). */
static void keep_offset(void *ctx, const struct tdm_group_offset *o)
{
	struct tdm_group_offset *kept = ctx;
	int i = strcmp(o->topic, "nosuch") == 0;
	if (i || (strcmp(o->topic, "t") == 0 && o->partition == 0)) {
		kept[i] = *o;
		kept[i].group = kept[i].topic = kept[i].metadata = NULL; /* borrowed */
	}
}

static void count_group(void *ctx, const char *group)
{
	ck_assert_str_eq(group, "simple");
	(*(int *)ctx)++;
}

/* Committed offsets with the partition's end and the lag, positions, groups
 * known only by offsets, and DeleteGroups. */
START_TEST(test_groups_offsets_lag_forget)
{
	struct tdm_offset_commit c[2] = { { "t", 0, 2, "meta" }, { "t", 1, 0, NULL } };
	struct tdm_record r = { .value = "v", .value_len = 1, .timestamp = -1 };
	struct tdm_group_offset kept[2];
	int64_t off, committed;
	uint64_t lag;
	const char *meta;
	int n = 0;

	tdm_groups_set_coordinator(gs, &coord, NULL);
	ck_assert_int_eq(tdm_topics_create(topics, "t", 2, NULL, 0, NULL, 0), TDM_TOPIC_OK);
	struct ls_topic *t = tdm_topic_find(topics, "t");
	ck_assert_ptr_nonnull(t);
	struct ls_partition *p0 = tdm_topic_partition(t, 0), *p1 = tdm_topic_partition(t, 1);
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(tdm_topics_append(topics, p0, &r, 1, TDM_CODEC_NONE, NULL), 0);

	ck_assert_int_eq(tdm_groups_commit(gs, "g", c, 1), TDM_TOPIC_OK);
	ck_assert_int_eq(tdm_groups_committed(gs, "g", "t", 0, &off, &meta), TDM_TOPIC_OK);
	ck_assert_int_eq(off, 2);
	ck_assert_str_eq(meta, "meta");
	ck_assert_int_eq(tdm_groups_committed(gs, "g", "t", 1, &off, NULL), TDM_ERR_NOT_FOUND);
	memset(kept, 0, sizeof(kept));
	tdm_groups_offsets(gs, "g", keep_offset, kept);
	ck_assert_int_eq(kept[0].offset, 2);
	ck_assert_int_eq(kept[0].log_end, 5);
	ck_assert_int_eq(kept[0].lag, 3);
	ck_assert_uint_eq(tdm_groups_position(gs, "g", t, p0, &committed, &lag), 2);
	ck_assert_int_eq(committed, 2);
	ck_assert_uint_eq(lag, 3);
	ck_assert_uint_eq(tdm_groups_position(gs, "g", t, p1, &committed, &lag), 0);
	ck_assert_int_eq(committed, -1);
	/* an offset on a partition that is gone: end -1, no lag */
	struct tdm_offset_commit gone = { "nosuch", 0, 7, NULL };
	ck_assert_int_eq(tdm_groups_commit(gs, "g", &gone, 1), TDM_TOPIC_OK);
	tdm_groups_offsets(gs, "g", keep_offset, kept);
	ck_assert_int_eq(kept[1].offset, 7);
	ck_assert_int_eq(kept[1].log_end, -1);
	ck_assert_int_eq(kept[1].lag, 0);

	/* "simple" is known only by its offsets (two of them: reported once) */
	ck_assert_int_eq(tdm_groups_commit(gs, "simple", c, 2), TDM_TOPIC_OK);
	struct tdm_group *g = group("g");
	tdm_groups_offset_only(gs, count_group, &n);
	ck_assert_int_eq(n, 1);
	ck_assert(tdm_groups_has_offsets(gs, "simple"));
	ck_assert(!tdm_groups_has_offsets(gs, "other"));

	/* DeleteGroups: refused while members live, then offsets and object go */
	member(g, "m1", "range", NULL);
	tdm_group_set_state(g, TDM_GROUP_STABLE);
	ck_assert_int_eq(tdm_groups_forget(gs, "g", 1), 1);
	ck_assert(tdm_groups_has_offsets(gs, "g"));
	struct tdm_group_member *m = g->members;
	tdm_group_member_unlink(m);
	tdm_group_member_clear(m);
	free(m);
	tdm_group_go_empty(g);
	ck_assert_int_eq(tdm_groups_forget(gs, "g", 1), TDM_TOPIC_OK);
	ck_assert_int_eq(freed, 1);
	ck_assert_ptr_null(tdm_groups_find(gs, "g", 1));
	ck_assert(!tdm_groups_has_offsets(gs, "g"));
	ck_assert_int_eq(tdm_groups_forget(gs, "simple", 6), TDM_TOPIC_OK);
	ck_assert(!tdm_groups_has_offsets(gs, "simple"));
	ck_assert_uint_eq(tdm_groups_count(gs), 0);
}
END_TEST

START_TEST(test_groups_reload_reads_replicated_offsets)
{
	struct tdm_offset_commit c[2] = { { "t", 0, 3, "m" }, { "t", 1, 5, NULL } };
	struct tdm_offset_commit h = { "t", 0, 9, NULL };
	struct tdm_config cfg2;
	struct tdm_topics *topics2;
	struct tdm_groups *gs2;
	struct tdm_read_result rr;
	char dir2[300], err[256];
	size_t consumed = 0;
	int64_t off;
	const char *meta;

	/* the leader's offsets log: two commits of g, one of h then deleted */
	ck_assert_int_eq(tdm_groups_commit(gs, "g", c, 2), TDM_TOPIC_OK);
	ck_assert_int_eq(tdm_groups_commit(gs, "h", &h, 1), TDM_TOPIC_OK);
	ck_assert_int_eq(tdm_groups_forget(gs, "h", 1), TDM_TOPIC_OK);
	struct ls_partition *p = tdm_groups_log(gs);
	ck_assert_ptr_nonnull(p);
	ck_assert_int_eq(tdm_topics_read(topics, p, 0, 1 << 20, &rr), TDM_TOPIC_OK);
	ck_assert_uint_gt(rr.len, 0);
	char *buf = malloc(rr.len);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(tdm_topics_read_copy(&rr, buf), TDM_TOPIC_OK);
	size_t len = rr.len;
	tdm_topics_read_release(topics, &rr);

	/* a follower's store appends it as a replica */
	snprintf(dir2, sizeof(dir2), "%s/follower", dir);
	ck_assert_int_eq(mkdir(dir2, 0700), 0);
	ck_assert_int_eq(tdm_config_init(&cfg2), 0);
	ck_assert_int_eq(tdm_config_set(&cfg2, "data_dir", dir2, err, sizeof(err)), 0);
	topics2 = tdm_topics_open(&cfg2, NULL, err, sizeof(err));
	ck_assert_msg(topics2 != NULL, "%s", err);
	gs2 = tdm_groups_new(topics2);
	ck_assert_ptr_nonnull(gs2);
	ck_assert_int_eq(tdm_topics_append_replica(topics2, tdm_groups_log(gs2), buf, len,
						   &consumed, NULL),
			 TDM_TOPIC_OK);
	ck_assert_uint_eq(consumed, len);
	free(buf);
	/* replica appends do not update the committed offsets ... */
	ck_assert_int_eq(tdm_groups_committed(gs2, "g", "t", 0, &off, NULL), TDM_ERR_NOT_FOUND);
	/* ... a reload reads them from the log */
	ck_assert_int_eq(tdm_groups_reload(gs2), TDM_TOPIC_OK);
	ck_assert_int_eq(tdm_groups_committed(gs2, "g", "t", 0, &off, &meta), TDM_TOPIC_OK);
	ck_assert_int_eq(off, 3);
	ck_assert_str_eq(meta, "m");
	ck_assert_int_eq(tdm_groups_committed(gs2, "g", "t", 1, &off, &meta), TDM_TOPIC_OK);
	ck_assert_int_eq(off, 5);
	ck_assert_ptr_null(meta);
	ck_assert(!tdm_groups_has_offsets(gs2, "h"));
	/* a reload starts from nothing: what the log no longer says goes */
	ck_assert_int_eq(tdm_groups_reload(gs2), TDM_TOPIC_OK);
	ck_assert_int_eq(tdm_groups_committed(gs2, "g", "t", 0, &off, NULL), TDM_TOPIC_OK);
	tdm_groups_free(gs2);
	tdm_topics_close(topics2);
	tdm_config_free(&cfg2);
}
END_TEST

START_TEST(test_groups_follower_writes_nothing)
{
	struct tdm_offset_commit x = { "x", 0, 1, NULL }, y = { "y", 0, 2, NULL };
	int64_t off;

	ck_assert_int_eq(tdm_topics_create(topics, "x", 1, NULL, 0, NULL, 0), TDM_TOPIC_OK);
	ck_assert_int_eq(tdm_topics_create(topics, "y", 1, NULL, 0, NULL, 0), TDM_TOPIC_OK);
	ck_assert_int_eq(tdm_groups_commit(gs, "g", &x, 1), TDM_TOPIC_OK);
	uint64_t end = tdm_partition_log_end(tdm_groups_log(gs));

	/* a follower's copy of the offsets log: only replication writes it */
	tdm_groups_set_follower(gs, 1);
	ck_assert_int_eq(tdm_groups_commit(gs, "g", &y, 1), TDM_REPL_NOT_LEADER);
	ck_assert_int_eq(tdm_groups_forget(gs, "g", 1), TDM_REPL_NOT_LEADER);
	ck_assert_int_eq(tdm_topics_delete(topics, "x"), TDM_TOPIC_OK);
	ck_assert_int_eq(tdm_groups_committed(gs, "g", "x", 0, &off, NULL), TDM_TOPIC_OK);
	ck_assert_uint_eq(tdm_partition_log_end(tdm_groups_log(gs)), end);

	/* the leader (and a single node) writes, and a deleted topic's
	 * offsets go */
	tdm_groups_set_follower(gs, 0);
	ck_assert_int_eq(tdm_groups_commit(gs, "g", &y, 1), TDM_TOPIC_OK);
	ck_assert_int_eq(tdm_topics_delete(topics, "y"), TDM_TOPIC_OK);
	ck_assert_int_eq(tdm_groups_committed(gs, "g", "y", 0, &off, NULL), TDM_ERR_NOT_FOUND);
	ck_assert_uint_gt(tdm_partition_log_end(tdm_groups_log(gs)), end + 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("groups");
	TCase *tc = tcase_create("groups");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_groups_protocol_vote);
	tcase_add_test(tc, test_groups_rebalance_and_commit_check);
	tcase_add_test(tc, test_groups_static_members);
	tcase_add_test(tc, test_groups_offsets_lag_forget);
	tcase_add_test(tc, test_groups_reload_reads_replicated_offsets);
	tcase_add_test(tc, test_groups_follower_writes_nothing);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
