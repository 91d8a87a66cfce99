/*
 * tests/unit/test_logstore_draft.c: topics and partitions made in three
 * steps (ls_draft_*), the build on another thread: nothing of a draft is
 * visible before it is finished, its name is taken meanwhile, the store
 * keeps serving during the build, a grow whose topic was deleted meanwhile
 * leaves nothing behind, and what was made survives a reopen.
 *
 * Must not depend on src/ or libevent: it sees only logstore/.
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "test_logstore.h"

static void *build_thread(void *arg)
{
	ls_draft_build(arg);
	return NULL;
}

static int dir_exists(const char *dir, const char *rel)
{
	char path[512];
	struct stat st;
	return stat(tl_path(path, sizeof(path), dir, rel), &st) == 0;
}

START_TEST(test_draft_topic_invisible_until_finished)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *other = tl_topic(s, "busy", 1, NULL, 0);
	struct ls_draft *d;
	char err[256];
	pthread_t th;

	ck_assert_int_eq(ls_draft_topic(s, "wide", 64, NULL, 0, &d, err, sizeof(err)), LS_OK);
	ck_assert_str_eq(ls_draft_name(d), "wide");
	ck_assert_int_eq(pthread_create(&th, NULL, build_thread, d), 0);
	/* the store serves on while the folders are made */
	tl_append(other, 10, 0);
	ck_assert_ptr_null(ls_topic_find(s, "wide"));
	ck_assert_int_eq(ls_topic_create(s, "wide", 1, NULL, 0, err, sizeof(err)), LS_ERR_EXISTS);
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_ptr_null(ls_topic_find(s, "wide")); /* built, not yet finished */
	ck_assert_int_eq(ls_draft_finish(d, err, sizeof(err)), LS_OK);
	struct ls_topic *t = ls_topic_find(s, "wide");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(ls_topic_partition_count(t), 64);
	tl_append(ls_partition_get(t, 63), 5, 0);
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	t = ls_topic_find(s, "wide");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(ls_topic_partition_count(t), 64);
	ck_assert_uint_eq(ls_log_end(ls_partition_get(t, 63)), 5);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_draft_grow_and_concurrent_grow_busy)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_partition *p0 = tl_topic(s, "g", 2, NULL, 0);
	struct ls_topic *t = ls_topic_find(s, "g");
	struct ls_draft *d, *d2;
	char err[256];
	pthread_t th;

	ck_assert_int_eq(ls_draft_partitions(s, t, 2, &d), LS_ERR_INVALID); /* never shrinks */
	ck_assert_int_eq(ls_draft_partitions(s, t, 40, &d), LS_OK);
	ck_assert_int_eq(ls_draft_partitions(s, t, 50, &d2), LS_ERR_BUSY);
	ck_assert_int_eq(pthread_create(&th, NULL, build_thread, d), 0);
	tl_append(p0, 10, 0);
	ck_assert_int_eq(ls_topic_partition_count(t), 2); /* not yet */
	ck_assert_int_eq(pthread_join(th, NULL), 0);
	ck_assert_int_eq(ls_topic_partition_count(t), 2);
	ck_assert_int_eq(ls_draft_finish(d, err, sizeof(err)), LS_OK);
	ck_assert_int_eq(ls_topic_partition_count(t), 40);
	ck_assert_ptr_eq(ls_partition_topic(ls_partition_get(t, 39)), t);
	tl_append(ls_partition_get(t, 39), 3, 0);
	ck_assert_int_eq(ls_close(s), LS_OK);
	s = tl_open(dir);
	t = ls_topic_find(s, "g");
	ck_assert_int_eq(ls_topic_partition_count(t), 40);
	ck_assert_uint_eq(ls_log_end(ls_partition_get(t, 39)), 3);
	ck_assert_uint_eq(ls_log_end(ls_partition_get(t, 0)), 10);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_draft_grow_of_deleted_topic_leaves_nothing)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_draft *d;
	char err[256];

	tl_topic(s, "gone", 1, NULL, 0);
	ck_assert_int_eq(ls_draft_partitions(s, ls_topic_find(s, "gone"), 4, &d), LS_OK);
	ls_draft_build(d);
	ck_assert(dir_exists(dir, "gone-3"));
	ck_assert_int_eq(ls_topic_delete(s, "gone"), LS_OK);
	/* the name stays taken until the draft is finished */
	ck_assert_int_eq(ls_topic_create(s, "gone", 1, NULL, 0, err, sizeof(err)), LS_ERR_EXISTS);
	ck_assert_int_eq(ls_draft_finish(d, err, sizeof(err)), LS_ERR_NOT_FOUND);
	ck_assert(!dir_exists(dir, "gone-1") && !dir_exists(dir, "gone-3"));
	ck_assert_int_eq(ls_topic_create(s, "gone", 1, NULL, 0, err, sizeof(err)), LS_OK);
	ck_assert_int_eq(ls_topic_partition_count(ls_topic_find(s, "gone")), 1);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

START_TEST(test_draft_checks_like_create)
{
	char *dir = tl_mkdtemp();
	struct ls_store *s = tl_open(dir);
	struct ls_draft *d;
	char err[256];
	struct ls_kv bad = { "retention.ms", "soon" };

	ck_assert_int_eq(ls_draft_topic(s, "../x", 1, NULL, 0, &d, err, sizeof(err)),
			 LS_ERR_INVALID_TOPIC);
	ck_assert_int_eq(ls_draft_topic(s, "x", 0, NULL, 0, &d, err, sizeof(err)), LS_ERR_INVALID);
	ck_assert_int_eq(ls_draft_topic(s, "x", 1, &bad, 1, &d, err, sizeof(err)),
			 LS_ERR_INVALID_CONFIG);
	ck_assert_ptr_null(d);
	ck_assert_int_eq(ls_close(s), LS_OK);
	tl_rmdir(dir);
}
END_TEST

Suite *tl_draft_suite(void)
{
	Suite *s = suite_create("logstore-draft");
	TCase *tc = tcase_create("draft");

	tcase_add_test(tc, test_draft_topic_invisible_until_finished);
	tcase_add_test(tc, test_draft_grow_and_concurrent_grow_busy);
	tcase_add_test(tc, test_draft_grow_of_deleted_topic_leaves_nothing);
	tcase_add_test(tc, test_draft_checks_like_create);
	suite_add_tcase(s, tc);
	return s;
}
