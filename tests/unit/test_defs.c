/*
 * The cluster's definitions (core/defs.h) on one node that leads the
 * definitions log alone: proposals go through the log and come back as
 * applies, in the log's order; the later of two different declarations
 * of one name gets RabbitMQ's 406; deletions and bindings between
 * exchanges; a record this build cannot read is skipped; a proposal that
 * no leader takes fails after 30 s with the reason; a node outside the
 * log's replicas refuses at once.
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/broker.h"
#include "core/config.h"
#include "core/defs.h"
#include "core/replica.h"
#include "core/topic_ops.h"
#include "core/topics.h"

static struct tdm_config cfg;
static struct tdm_topics *topics;
static struct tdm_broker *broker;
static struct tdm_replica *replica;
static struct tdm_vhost *vh;
static char dir[256];

static const struct tdm_replica_hooks hooks = { 0 };

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

/* The log's state: leader (TDM_NO_NODE: none) and its one replica. */
static void log_state(int32_t leader, int32_t replica_id)
{
	static int32_t version;
	int32_t replicas[] = { replica_id };
	struct tdm_partition_state st = { leader, 0, 1, version++, replicas, 1, replicas, 1 };
	ck_assert_int_eq(tdm_replica_set_state(replica, TDM_DEFS_TOPIC, 0, &st), 0);
}

static void setup(void)
{
	char err[256];
	snprintf(dir, sizeof(dir), "%s/tandem-defs-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(tdm_config_init(&cfg), 0);
	ck_assert_int_eq(tdm_config_set(&cfg, "data_dir", dir, err, sizeof(err)), 0);
	ck_assert_int_eq(tdm_config_set(&cfg, "log_level", "error", err, sizeof(err)), 0);
	topics = tdm_topics_open(&cfg, NULL, err, sizeof(err));
	ck_assert_msg(topics != NULL, "%s", err);
	ck_assert_int_eq(tdm_topics_create(topics, TDM_DEFS_TOPIC, 1, NULL, 0, err, sizeof(err)), 0);
	replica = tdm_replica_new(topics, 1, &hooks, NULL, 30000, 1);
	ck_assert_ptr_nonnull(replica);
	log_state(1, 1);
	broker = tdm_broker_new(&cfg, NULL);
	broker->topics = topics;
	broker->replica = replica;
	vh = tdm_vhost_add(broker, "/", 1);
	broker->defs = tdm_defs_new(broker);
	ck_assert_ptr_nonnull(broker->defs);
}

static void teardown(void)
{
	tdm_defs_free(broker->defs);
	broker->defs = NULL;
	tdm_broker_free(broker);
	tdm_replica_free(replica);
	tdm_topics_close(topics);
	tdm_config_free(&cfg);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* What a proposal's waiter heard. */
struct heard {
	int calls;
	int status;
	char text[300];
};

static void done(void *arg, int status, const char *text)
{
	struct heard *h = arg;
	h->calls++;
	h->status = status;
	snprintf(h->text, sizeof(h->text), "%s", text);
}

/* exchange.declare of name/type through core, its proposal waited for by h. */
static void declare(const char *name, const char *type, struct heard *h)
{
	struct tdm_exchange_spec s = { .name = name, .name_len = strlen(name), .type = type,
				       .type_len = strlen(type), .durable = 1 };
	struct tdm_exchange *x;
	struct tdm_err e;
	ck_assert_int_eq(tdm_exchange_declare(vh, &s, &x, &e), TDM_PROPOSED);
	ck_assert_ptr_nonnull(tdm_defs_last(broker, done, h));
}

START_TEST(test_defs_declare_is_applied_through_the_log)
{
	struct heard h = { 0 };
	declare("x1", "fanout", &h);
	ck_assert_ptr_null(tdm_exchange_find(vh, "x1", 2)); /* not before it is applied */
	ck_assert_uint_eq(tdm_defs_waiting(broker->defs), 1);
	tdm_defs_poll(broker->defs, tdm_now_ms());
	ck_assert_int_eq(h.calls, 1);
	ck_assert_int_eq(h.status, TDM_OK);
	struct tdm_exchange *x = tdm_exchange_find(vh, "x1", 2);
	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(x->type, EX_FANOUT);
	ck_assert_uint_eq(tdm_defs_applied(broker->defs), 1);
	ck_assert_uint_eq(tdm_defs_waiting(broker->defs), 0);
}
END_TEST

START_TEST(test_defs_the_later_of_two_declarations_is_refused)
{
	struct heard a = { 0 }, b = { 0 };
	declare("x2", "direct", &a);
	declare("x2", "topic", &b); /* both proposed before either is applied */
	tdm_defs_poll(broker->defs, tdm_now_ms());
	ck_assert_int_eq(a.status, TDM_OK);
	ck_assert_int_eq(b.calls, 1);
	ck_assert_int_eq(b.status, TDM_E_INEQUIVALENT);
	ck_assert_str_eq(b.text, "inequivalent arg 'type' for exchange 'x2' in vhost '/': "
				 "received 'topic' but current is 'direct'");
	ck_assert_int_eq(tdm_exchange_find(vh, "x2", 2)->type, EX_DIRECT);
}
END_TEST

START_TEST(test_defs_delete_and_bindings_go_through_the_log)
{
	struct heard a = { 0 }, b = { 0 }, c = { 0 }, d = { 0 };
	declare("src", "fanout", &a);
	declare("dst", "direct", &b);
	tdm_defs_poll(broker->defs, tdm_now_ms());
	struct tdm_exchange *src = tdm_exchange_find(vh, "src", 3), *dst = tdm_exchange_find(vh, "dst", 3);
	ck_assert_ptr_nonnull(src);
	ck_assert_ptr_nonnull(dst);
	struct tdm_err e;
	ck_assert_int_eq(tdm_bind(src, &dst->dest, "k", 1, NULL, 0, &e), TDM_PROPOSED);
	ck_assert_ptr_nonnull(tdm_defs_last(broker, done, &c));
	ck_assert_uint_eq(dst->dest_bindings, 0);
	tdm_defs_poll(broker->defs, tdm_now_ms());
	ck_assert_int_eq(c.status, TDM_OK);
	ck_assert_uint_eq(dst->dest_bindings, 1);
	/* deleting the destination takes the binding with it, everywhere alike */
	ck_assert_int_eq(tdm_exchange_delete_by(vh, "guest", "dst", 3, 0, &e), TDM_PROPOSED);
	ck_assert_ptr_nonnull(tdm_defs_last(broker, done, &d));
	tdm_defs_poll(broker->defs, tdm_now_ms());
	ck_assert_int_eq(d.status, TDM_OK);
	ck_assert_ptr_null(tdm_exchange_find(vh, "dst", 3));
	ck_assert_uint_eq(ex_binding_count(tdm_exchange_find(vh, "src", 3)->table), 0);
}
END_TEST

START_TEST(test_defs_unreadable_record_is_skipped)
{
	struct ls_topic *t = tdm_topic_find(topics, TDM_DEFS_TOPIC);
	struct tdm_record junk = { .key = "x?", .key_len = 2, .value = "\x09garbage", .value_len = 8,
				   .timestamp = -1 };
	struct tdm_append_result res;
	ck_assert_int_eq(tdm_topics_append(topics, tdm_topic_partition(t, 0), &junk, 1,
					   TDM_CODEC_NONE, &res),
			 0);
	struct heard h = { 0 };
	declare("x3", "headers", &h);
	tdm_defs_poll(broker->defs, tdm_now_ms());
	ck_assert_int_eq(h.status, TDM_OK);
	ck_assert_ptr_nonnull(tdm_exchange_find(vh, "x3", 2));
	ck_assert_uint_eq(tdm_defs_applied(broker->defs), 2);
}
END_TEST

START_TEST(test_defs_no_leader_times_out_with_the_reason)
{
	log_state(TDM_NO_NODE, 1);
	struct heard h = { 0 };
	declare("x4", "direct", &h);
	tdm_defs_poll(broker->defs, tdm_now_ms());
	ck_assert_int_eq(h.calls, 0); /* waits for a leader */
	tdm_defs_poll(broker->defs, tdm_now_ms() + TDM_DEFS_TIMEOUT_MS + 1);
	ck_assert_int_eq(h.calls, 1);
	ck_assert_int_eq(h.status, TDM_E_NOMEM);
	ck_assert_msg(strstr(h.text, "within 30 s") != NULL, "%s", h.text);
	ck_assert_ptr_null(tdm_exchange_find(vh, "x4", 2));
}
END_TEST

START_TEST(test_defs_node_outside_the_log_refuses_at_once)
{
	log_state(2, 2); /* led and held by node 2 only */
	struct tdm_exchange_spec s = { .name = "x5", .name_len = 2, .type = "direct", .type_len = 6 };
	struct tdm_exchange *x;
	struct tdm_err e;
	ck_assert_int_eq(tdm_exchange_declare(vh, &s, &x, &e), TDM_E_NOMEM);
	ck_assert_msg(strstr(e.text, "node 1 holds no replica") != NULL, "%s", e.text);
	ck_assert_ptr_null(tdm_defs_last(broker, done, NULL));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("defs");
	TCase *tc = tcase_create("defs");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_defs_declare_is_applied_through_the_log);
	tcase_add_test(tc, test_defs_the_later_of_two_declarations_is_refused);
	tcase_add_test(tc, test_defs_delete_and_bindings_go_through_the_log);
	tcase_add_test(tc, test_defs_unreadable_record_is_skipped);
	tcase_add_test(tc, test_defs_no_leader_times_out_with_the_reason);
	tcase_add_test(tc, test_defs_node_outside_the_log_refuses_at_once);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
