/*
 * What the HTTP front end shows of the cluster (src/http/cluster_doc.c):
 * GET /api/cluster's document and /metrics' cluster series, from a replica
 * manager (core/replica.h) filled by hand over a real log store in a temp
 * dir, as src/cluster fills it from ZooKeeper; and a single node's answers
 * (no manager).
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/config.h"
#include "core/replica.h"
#include "core/topic_ops.h"
#include "core/topics.h"
#include "http/cluster_doc.h"
#include "util/json.h"

static struct tdm_config cfg;
static struct tdm_topics *topics;
static char dir[256];
static int isr_calls;

static void isr_change(void *ctx, const char *topic, int32_t partition,
		       const struct tdm_partition_state *want)
{
	(void)ctx, (void)topic, (void)partition, (void)want;
	isr_calls++;
}

static void follow(void *ctx, const char *topic, int32_t partition, int32_t leader, int32_t epoch)
{
	(void)ctx, (void)topic, (void)partition, (void)leader, (void)epoch;
}

static const struct tdm_replica_hooks hooks = { .isr_change = isr_change, .follow = follow };

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static void setup(void)
{
	char err[256];

	snprintf(dir, sizeof(dir), "%s/tandem-clusterdoc-XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(tdm_config_init(&cfg), 0);
	ck_assert_int_eq(tdm_config_set(&cfg, "data_dir", dir, err, sizeof(err)), 0);
	ck_assert_int_eq(tdm_config_set(&cfg, "log_level", "warning", err, sizeof(err)), 0);
	topics = tdm_topics_open(&cfg, NULL, err, sizeof(err));
	ck_assert_msg(topics != NULL, "%s", err);
	/* created in this order so the store's order is not the sorted one */
	ck_assert_int_eq(tdm_topics_create(topics, "orders", 2, NULL, 0, err, sizeof(err)), 0);
	ck_assert_int_eq(tdm_topics_create(topics, "audit", 1, NULL, 0, err, sizeof(err)), 0);
	isr_calls = 0;
}

static void teardown(void)
{
	tdm_topics_close(topics);
	tdm_config_free(&cfg);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void append(const char *topic, int32_t partition, int n)
{
	struct tdm_record rec = { .value = "v", .value_len = 1, .timestamp = -1 };
	struct tdm_append_result res;
	struct ls_topic *t = tdm_topic_find(topics, topic);
	ck_assert_ptr_nonnull(t);
	for (int i = 0; i < n; i++)
		ck_assert_int_eq(tdm_topics_append(topics, tdm_topic_partition(t, partition), &rec,
						   1, TDM_CODEC_NONE, &res),
				 0);
}

static void set_state(struct tdm_replica *r, const char *topic, int32_t partition, int32_t leader,
		      int32_t epoch, const int32_t *replicas, const int32_t *isr, size_t nisr)
{
	struct tdm_partition_state st = { leader, epoch, 1, 0, replicas, 3, isr, nisr };
	ck_assert_int_eq(tdm_replica_set_state(r, topic, partition, &st), 0);
}

/* w's text, NUL-terminated (w keeps it), after checking it parses. */
static const char *doc_text(struct js_w *w)
{
	struct js_doc d;
	char err[100];
	ck_assert(!w->oom);
	ck_assert_ptr_nonnull(w->buf);
	ck_assert_msg(js_parse(&d, w->buf, w->len, err, sizeof(err)) == 0, "%s: %s", err, w->buf);
	js_doc_free(&d);
	return w->buf;
}

/* A replica manager for node 2 of three, controller 3, with:
 *   audit/0  led here (epoch 4), replicas 2,3,1, ISR 2,3: under-replicated;
 *            5 records, follower 3 has all of them, follower 1 fetched at 2
 *   orders/0 led by 1, full ISR
 *   orders/1 no leader (offline), ISR 3 */
static struct tdm_replica *three_nodes(void)
{
	static const int32_t r231[] = { 2, 3, 1 }, r123[] = { 1, 2, 3 }, r312[] = { 3, 1, 2 };
	static const int32_t isr23[] = { 2, 3 }, isr3[] = { 3 };
	/* given out of order: the document sorts them */
	const struct tdm_replica_node nodes[] = {
		{ 3, "10.0.0.3", 9392, 5972, 15972, 25972, NULL },
		{ 1, "10.0.0.1", 9192, 5772, 15772, 25772, "rack-a" },
		{ 2, "10.0.0.2", 9292, 5872, 15872, 25872, NULL },
	};
	struct tdm_replica *r = tdm_replica_new(topics, 2, &hooks, NULL, 30000, 3);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(tdm_replica_set_nodes(r, nodes, 3), 0);
	tdm_replica_set_controller(r, 3);
	set_state(r, "orders", 1, TDM_NO_NODE, 2, r312, isr3, 1);
	set_state(r, "orders", 0, 1, 7, r123, r123, 3);
	set_state(r, "audit", 0, 2, 4, r231, isr23, 2);
	append("audit", 0, 5);
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 3, "audit", 0, 5, 4, 1000), TDM_REPL_OK);
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 1, "audit", 0, 2, 4, 1000), TDM_REPL_OK);
	return r;
}

START_TEST(test_cluster_doc_single_node)
{
	const struct tdm_replica_node self = { 1, "127.0.0.1", 9092, 5672, 15672, 0, NULL };
	struct js_w w;
	js_w_init(&w);
	hx_cluster_write(&w, NULL, &self);
	ck_assert_str_eq(
		doc_text(&w),
		"{\"clustered\":false,\"node_id\":1,\"controller\":1,\"nodes\":[{\"id\":1,"
		"\"host\":\"127.0.0.1\",\"kafka_port\":9092,\"amqp_port\":5672,"
		"\"http_port\":15672,\"cluster_port\":0}],\"partitions\":[],\"under_replicated\":0,\"offline\":0}");
	js_w_free(&w);
	/* a single node's /metrics gains nothing */
	js_w_init(&w);
	hx_cluster_metrics(&w, NULL);
	ck_assert_uint_eq(w.len, 0);
	js_w_free(&w);
}
END_TEST

START_TEST(test_cluster_doc_nodes_and_partitions_sorted)
{
	struct tdm_replica *r = three_nodes();
	const struct tdm_replica_node self = { 9, "ignored", 1, 2, 3, 4, NULL };
	struct js_w w;
	js_w_init(&w);
	hx_cluster_write(&w, r, &self); /* self is for a single node only */
	ck_assert_str_eq(
		doc_text(&w),
		"{\"clustered\":true,\"node_id\":2,\"controller\":3,\"nodes\":["
		"{\"id\":1,\"host\":\"10.0.0.1\",\"kafka_port\":9192,\"amqp_port\":5772,\"http_port\":15772,"
		"\"cluster_port\":25772,\"rack\":\"rack-a\"},"
		"{\"id\":2,\"host\":\"10.0.0.2\",\"kafka_port\":9292,\"amqp_port\":5872,\"http_port\":15872,"
		"\"cluster_port\":25872},"
		"{\"id\":3,\"host\":\"10.0.0.3\",\"kafka_port\":9392,\"amqp_port\":5972,\"http_port\":15972,"
		"\"cluster_port\":25972}],"
		"\"partitions\":["
		"{\"topic\":\"audit\",\"partition\":0,\"leader\":2,\"leader_epoch\":4,\"replicas\":[2,3,1],"
		"\"isr\":[2,3],\"high_watermark\":5,\"under_replicated\":true,\"offline\":false,"
		"\"max_follower_lag\":3},"
		"{\"topic\":\"orders\",\"partition\":0,\"leader\":1,\"leader_epoch\":7,\"replicas\":[1,2,3],"
		"\"isr\":[1,2,3],\"high_watermark\":0,\"under_replicated\":false,\"offline\":false,"
		"\"max_follower_lag\":0},"
		"{\"topic\":\"orders\",\"partition\":1,\"leader\":-1,\"leader_epoch\":2,\"replicas\":[3,1,2],"
		"\"isr\":[3],\"high_watermark\":0,\"under_replicated\":false,\"offline\":true,"
		"\"max_follower_lag\":0}],"
		"\"under_replicated\":1,\"offline\":1}");
	js_w_free(&w);
	tdm_replica_free(r);
}
END_TEST

START_TEST(test_cluster_doc_no_controller)
{
	struct tdm_replica *r = tdm_replica_new(topics, 4, &hooks, NULL, 30000, 1);
	ck_assert_ptr_nonnull(r);
	tdm_replica_set_controller(r, TDM_NO_NODE);
	struct js_w w;
	js_w_init(&w);
	hx_cluster_write(&w, r, NULL);
	ck_assert_str_eq(doc_text(&w),
			 "{\"clustered\":true,\"node_id\":4,\"controller\":-1,\"nodes\":[],"
			 "\"partitions\":[],\"under_replicated\":0,\"offline\":0}");
	js_w_free(&w);
	js_w_init(&w);
	hx_cluster_metrics(&w, r);
	ck_assert_ptr_nonnull(w.buf);
	ck_assert_msg(strstr(w.buf, "\ntandem_cluster_controller_id -1\n"), "%s", w.buf);
	ck_assert_msg(strstr(w.buf, "\ntandem_cluster_nodes 0\n"), "%s", w.buf);
	js_w_free(&w);
	tdm_replica_free(r);
}
END_TEST

/* The value of series name in Prometheus text t ("name value" line), or -2. */
static long long metric(const char *t, const char *name)
{
	char pat[128];
	snprintf(pat, sizeof(pat), "\n%s ", name);
	const char *p = strstr(t, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : -2;
}

START_TEST(test_cluster_metrics_replica_manager)
{
	struct tdm_replica *r = three_nodes();
	struct js_w w;
	js_w_init(&w);
	js_raw(&w, "\n", 1);
	hx_cluster_metrics(&w, r);
	js_raw(&w, "", 1); /* NUL */
	const char *t = w.buf;
	ck_assert_int_eq(metric(t, "tandem_cluster_node_id"), 2);
	ck_assert_int_eq(metric(t, "tandem_cluster_controller_id"), 3);
	ck_assert_int_eq(metric(t, "tandem_cluster_nodes"), 3);
	ck_assert_int_eq(metric(t, "tandem_partitions_leader"), 1);
	ck_assert_int_eq(metric(t, "tandem_partitions_under_replicated"), 1);
	ck_assert_int_eq(metric(t, "tandem_partitions_under_min_isr"), 1); /* ISR 2 < 3 */
	ck_assert_int_eq(metric(t, "tandem_partitions_offline"), 1);
	ck_assert_int_eq(metric(t, "tandem_isr_shrinks_total"), 0);
	ck_assert_int_eq(metric(t, "tandem_isr_expands_total"), 0);
	ck_assert_int_eq(metric(t, "tandem_replica_max_lag_messages"), 3);
	/* Prometheus' form: HELP and TYPE before each, counters so typed,
	 * Kafka's MBean named */
	ck_assert_ptr_nonnull(strstr(t, "\n# TYPE tandem_isr_shrinks_total counter\n"));
	ck_assert_ptr_nonnull(strstr(t, "\n# TYPE tandem_partitions_under_replicated gauge\n"));
	ck_assert_ptr_nonnull(strstr(t, "\n# HELP tandem_partitions_under_replicated "));
	ck_assert_ptr_nonnull(strstr(t, "name=UnderReplicatedPartitions"));
	ck_assert_ptr_nonnull(strstr(t, "name=IsrShrinksPerSec"));
	js_w_free(&w);

	/* follower 1 catches up: the leader asks for it in the ISR (counted),
	 * no follower lags any more */
	ck_assert_int_eq(tdm_replica_follower_fetch(r, 1, "audit", 0, 5, 4, 2000), TDM_REPL_OK);
	ck_assert_int_eq(isr_calls, 1);
	js_w_init(&w);
	js_raw(&w, "\n", 1);
	hx_cluster_metrics(&w, r);
	js_raw(&w, "", 1);
	ck_assert_int_eq(metric(w.buf, "tandem_isr_expands_total"), 1);
	ck_assert_int_eq(metric(w.buf, "tandem_replica_max_lag_messages"), 0);
	js_w_free(&w);
	tdm_replica_free(r);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cluster_doc");
	TCase *tc = tcase_create("cluster_doc");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_cluster_doc_single_node);
	tcase_add_test(tc, test_cluster_doc_nodes_and_partitions_sorted);
	tcase_add_test(tc, test_cluster_doc_no_controller);
	tcase_add_test(tc, test_cluster_metrics_replica_manager);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
