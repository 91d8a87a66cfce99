/*
 * Unit tests of stream queues in the broker core (src/core/stream.c): the
 * queue -> topic name mapping, and a stream queue over a real log store
 * (core/topics.c in a temporary directory): appends, read cursors from
 * first / last / next / an offset / a time, credit, the "data available"
 * wake-up, partitioning by murmur2, and what deleting the queue does to its
 * topic.  No sockets; the dispatch pass is called by hand and fsyncs
 * run inline (no background jobs).
 */
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/broker.h"
#include "core/config.h"
#include "core/stream.h"
#include "core/topics.h"
#include "logstore/logstore.h"

/* ---- names ------------------------------------------------------------------------- */

static const char *topic_of(const char *vhost, const char *name, char out[TDM_TOPIC_NAME_MAX + 1])
{
	tdm_stream_topic_name(vhost, strlen(vhost), name, strlen(name), out);
	return out;
}

START_TEST(topic_names)
{
	char t[TDM_TOPIC_NAME_MAX + 1];
	ck_assert_str_eq(topic_of("/", "orders", t), "orders");
	ck_assert_str_eq(topic_of("/", "a.b_c-D9", t), "a.b_c-D9");
	ck_assert_str_eq(topic_of("/", "my queue", t), "___2f.my_20queue");
	ck_assert_str_eq(topic_of("shop", "a.b", t), "__shop.a_2eb");
	ck_assert_str_eq(topic_of("/", "__consumer_offsets", t), "___2f._5f_5fconsumer_5foffsets");
	ck_assert_str_eq(topic_of("/", ".", t), "___2f._2e");
	ck_assert_str_eq(topic_of("/", "caf\xc3\xa9", t), "___2f.caf_c3_a9");
	/* vhost "a.b" + name "c" and vhost "a" + name "b.c" stay apart */
	char t2[TDM_TOPIC_NAME_MAX + 1];
	ck_assert_str_ne(topic_of("a.b", "c", t), topic_of("a", "b.c", t2));
	/* too long once escaped: a digest, still legal and distinct */
	char name[256];
	memset(name, '/', 255);
	name[255] = '\0';
	size_t n = tdm_stream_topic_name("/", 1, name, 255, t);
	ck_assert_uint_eq(n, 68);
	ck_assert(strncmp(t, "__h.", 4) == 0);
	ck_assert(tdm_stream_topic_legal(t, n));
	name[0] = 'x';
	tdm_stream_topic_name("/", 1, name, 255, t2);
	ck_assert_str_ne(t, t2);
	/* a name of 240 legal bytes is its own topic, 241 is escaped */
	memset(name, 'a', 241);
	name[240] = '\0';
	ck_assert_uint_eq(tdm_stream_topic_name("/", 1, name, 240, t), 240);
	name[240] = 'a';
	name[241] = '\0';
	ck_assert(strncmp(topic_of("/", name, t), "__h.", 4) == 0);
	ck_assert(!tdm_stream_topic_legal("..", 2));
	ck_assert(!tdm_stream_topic_legal("a/b", 3));
	ck_assert(tdm_stream_topic_legal("a-b.c_d", 7));
}
END_TEST

/* The inverse: which vhost a topic belongs to (finding 2 of issue 11). */
static const char *vhost_of(const char *topic, char out[TDM_TOPIC_NAME_MAX + 1])
{
	int n = tdm_topic_vhost(topic, strlen(topic), out, TDM_TOPIC_NAME_MAX);
	if (n < 0)
		return NULL;
	out[n] = '\0';
	return out;
}

START_TEST(test_topic_vhost_isolation)
{
	char v[TDM_TOPIC_NAME_MAX + 1], t[TDM_TOPIC_NAME_MAX + 1];
	ck_assert_str_eq(vhost_of("orders", v), "/");
	ck_assert_str_eq(vhost_of("_x", v), "/");
	ck_assert_str_eq(vhost_of("___2f.my_20queue", v), "/");
	ck_assert_str_eq(vhost_of("__shop.a_2eb", v), "shop");
	ck_assert_str_eq(vhost_of("__prod.", v), "prod");
	/* every vhost's stream topic maps back to its vhost */
	const char *vhosts[] = { "/", "prod", "a.b", "x,prod", "caf\xc3\xa9", "h", "__consumer_offsets" };
	for (size_t i = 0; i < sizeof(vhosts) / sizeof(vhosts[0]); i++) {
		topic_of(vhosts[i], "q 1", t);
		ck_assert_str_eq(vhost_of(t, v), vhosts[i]);
		ck_assert(tdm_topic_in_vhost(t, strlen(t), vhosts[i], strlen(vhosts[i])));
		ck_assert(!tdm_topic_in_vhost(t, strlen(t), "other", 5));
	}
	/* internal topics, the digest form and names esc never writes: nobody's */
	ck_assert_ptr_null(vhost_of("__consumer_offsets", v));
	ck_assert_ptr_null(vhost_of("__journal", v));
	ck_assert_ptr_null(vhost_of("__definitions", v));
	ck_assert_ptr_null(vhost_of("__", v));
	ck_assert_ptr_null(vhost_of("__.x", v));
	ck_assert_ptr_null(vhost_of("__pr_6fd.x", v));  /* 'o' escaped */
	ck_assert_ptr_null(vhost_of("___2F.x", v));     /* uppercase hex */
	ck_assert_ptr_null(vhost_of("___2.x", v));
	ck_assert_ptr_null(vhost_of("__a_2e_.x", v));
	char name[256];
	memset(name, '/', 255);
	name[255] = '\0';
	tdm_stream_topic_name("/", 1, name, 255, t);
	ck_assert_ptr_null(vhost_of(t, v));
	ck_assert(!tdm_topic_in_vhost(t, strlen(t), "h", 1));
	ck_assert(!tdm_topic_in_vhost("__prod.orders", 13, "/", 1));
	ck_assert(tdm_topic_in_vhost("__prod.orders", 13, "prod", 4));
	ck_assert(!tdm_topic_in_vhost("orders", 6, "prod", 4));
}
END_TEST

/* The name a topic has inside its vhost, the resource permissions are
 * checked on (issue 13): a stream queue's topic gives the queue's name. */
START_TEST(test_topic_local_name)
{
	char t[TDM_TOPIC_NAME_MAX + 1], out[TDM_TOPIC_NAME_MAX + 1];
	const char *names[] = { "orders", "my queue", "a.b", "_x", "__y", "caf\xc3\xa9" };
	const char *vhosts[] = { "/", "shop", "x,prod" };

	for (size_t v = 0; v < sizeof(vhosts) / sizeof(vhosts[0]); v++)
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
			topic_of(vhosts[v], names[i], t);
			ck_assert_int_eq(tdm_topic_local_name(t, strlen(t), out, sizeof(out)),
					 (int)strlen(names[i]));
			ck_assert_str_eq(out, names[i]);
		}
	/* a plain name of "/" is itself, "_" and all */
	ck_assert_int_eq(tdm_topic_local_name("my_20x", 6, out, sizeof(out)), 6);
	ck_assert_str_eq(out, "my_20x");
	/* a Kafka client's own name under __shop.: kept but for valid escapes */
	ck_assert_int_eq(tdm_topic_local_name("__shop.a.b_zz", 13, out, sizeof(out)), 6);
	ck_assert_str_eq(out, "a.b_zz");
	/* nobody's topics have no name in any vhost; a short buffer fails */
	ck_assert_int_eq(tdm_topic_local_name("__consumer_offsets", 18, out, sizeof(out)), -1);
	ck_assert_int_eq(tdm_topic_local_name("orders", 6, out, 6), -1);
	ck_assert_int_eq(tdm_topic_local_name("orders", 6, out, 7), 6);
}
END_TEST

/* ---- a stream queue over a real store ------------------------------------------------------- */

static struct tdm_config cfg;
static struct tdm_topics *topics;
static struct tdm_broker *broker;
static struct tdm_vhost *vh;
static char dir[256];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb, (void)flag, (void)ftw;
	return remove(path);
}

static void setup(void)
{
	char err[256];
	snprintf(dir, sizeof(dir), "%s/tandem-stream-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(tdm_config_init(&cfg), 0);
	ck_assert_int_eq(tdm_config_set(&cfg, "data_dir", dir, err, sizeof(err)), 0);
	ck_assert_int_eq(tdm_config_set(&cfg, "log_level", "warning", err, sizeof(err)), 0);
	topics = tdm_topics_open(&cfg, NULL, err, sizeof(err)); /* fsyncs inline */
	ck_assert_msg(topics != NULL, "%s", err);
	broker = tdm_broker_new(&cfg, NULL);
	broker->topics = topics;
	vh = tdm_vhost_add(broker, "/", 1);
}

static void teardown(void)
{
	tdm_broker_dispatch(broker);
	tdm_broker_free(broker);
	tdm_topics_close(topics);
	tdm_config_free(&cfg);
	nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static struct tdm_queue *stream_queue(const char *name, const struct tdm_stream_spec *sp)
{
	struct tdm_queue_settings st;
	struct tdm_queue *q;
	struct tdm_err err;
	tdm_queue_settings_init(&st);
	st.stream = sp;
	struct tdm_queue_spec s = { .name = name, .name_len = strlen(name), .durable = 1, .settings = &st };
	ck_assert_int_eq(tdm_queue_declare(vh, &s, &q, &err), TDM_OK);
	ck_assert_ptr_nonnull(q->stream);
	return q;
}

static uint64_t append(struct tdm_queue *q, const char *key, const char *value)
{
	struct tdm_record r = { .key = key, .key_len = key ? strlen(key) : 0, .value = value,
			       .value_len = strlen(value), .timestamp = -1 };
	uint64_t off = UINT64_MAX;
	ck_assert_int_eq(tdm_stream_append(q, &r, key, key ? strlen(key) : 0, &off), 0);
	return off;
}

/* A consumer that keeps what it is handed and has `credit` left. */
struct rec_consumer {
	struct tdm_consumer core; /* first */
	int credit;
	int n;
	uint64_t offsets[64];
	char values[64][32];
};

static int rc_can_take(struct tdm_consumer *c)
{
	return ((struct rec_consumer *)c)->credit > 0;
}

static void rc_deliver(struct tdm_consumer *c, struct tdm_queue *q, struct tdm_qentry e)
{
	(void)c, (void)q, (void)e;
	ck_abort_msg("a stream consumer got a queue entry");
}

static void rc_gone(struct tdm_consumer *c)
{
	(void)c;
}

static void rc_record(struct tdm_consumer *c, struct tdm_queue *q, const struct tdm_record *rec)
{
	struct rec_consumer *rc = (struct rec_consumer *)c;
	ck_assert_int_lt(rc->n, 64);
	rc->offsets[rc->n] = rec->offset;
	snprintf(rc->values[rc->n], sizeof(rc->values[0]), "%.*s", (int)rec->value_len,
		 (const char *)rec->value);
	rc->n++;
	rc->credit--;
	q->unacked--; /* settled at once */
}

static const struct tdm_consumer_ops rc_ops = { rc_can_take, rc_deliver, rc_gone, rc_record };

static void subscribe(struct tdm_queue *q, struct rec_consumer *rc, enum tdm_stream_from from, int64_t v,
		      int credit)
{
	memset(rc, 0, sizeof(*rc));
	rc->core.ops = &rc_ops;
	rc->credit = credit;
	ck_assert_int_eq(tdm_stream_subscribe(q, &rc->core, from, v, 0), 0);
	tdm_queue_attach(q, &rc->core);
}

START_TEST(cursors_and_credit)
{
	struct tdm_stream_spec sp;
	tdm_stream_spec_init(&sp);
	struct tdm_queue *q = stream_queue("s1", &sp);
	ck_assert_ptr_nonnull(ls_topic_find(tdm_topics_store(topics), "s1"));
	for (int i = 0; i < 5; i++) {
		char v[8];
		snprintf(v, sizeof(v), "v%d", i);
		ck_assert_uint_eq(append(q, "k", v), (uint64_t)i);
	}
	ck_assert_uint_eq(tdm_stream_count(q), 5);

	struct rec_consumer first, last, next, at3, old, recent;
	subscribe(q, &first, TDM_FROM_FIRST, 0, 2);
	subscribe(q, &last, TDM_FROM_LAST, 0, 10);
	subscribe(q, &next, TDM_FROM_NEXT, 0, 10);
	subscribe(q, &at3, TDM_FROM_OFFSET, 3, 10);
	subscribe(q, &old, TDM_FROM_TIME, 0, 10);               /* the epoch: everything */
	subscribe(q, &recent, TDM_FROM_TIME, INT64_MAX / 2, 10); /* the future: nothing yet */
	tdm_broker_dispatch(broker);
	ck_assert_int_eq(first.n, 2); /* its credit */
	ck_assert_uint_eq(first.offsets[1], 1);
	ck_assert_int_eq(last.n, 1);
	ck_assert_uint_eq(last.offsets[0], 4);
	ck_assert_int_eq(next.n, 0);
	ck_assert_int_eq(at3.n, 2);
	ck_assert_str_eq(at3.values[0], "v3");
	ck_assert_int_eq(old.n, 5);
	ck_assert_int_eq(recent.n, 0);

	/* credit back: the cursor goes on where it stopped */
	first.credit = 10;
	tdm_queue_kick(q);
	tdm_broker_dispatch(broker);
	ck_assert_int_eq(first.n, 5);
	ck_assert_str_eq(first.values[4], "v4");

	/* an append wakes every cursor at the end */
	append(q, "k", "v5");
	ck_assert(q->dirty);
	tdm_broker_dispatch(broker);
	ck_assert_int_eq(next.n, 1);
	ck_assert_uint_eq(next.offsets[0], 5);
	ck_assert_int_eq(first.n, 6);
	ck_assert_int_eq(recent.n, 1);
	ck_assert_uint_eq(q->unacked, 0);

	struct rec_consumer *all[] = { &first, &last, &next, &at3, &old, &recent };
	for (size_t i = 0; i < 6; i++)
		tdm_queue_detach(q, &all[i]->core);
	/* deleting the queue deletes its own topic */
	uint64_t n;
	struct tdm_err err;
	ck_assert_int_eq(tdm_queue_delete(vh, "s1", 2, NULL, 0, 0, &n, &err), TDM_OK);
	ck_assert_ptr_null(ls_topic_find(tdm_topics_store(topics), "s1"));
}
END_TEST

/* A view reaches its own vhost's topics only (issue 11, finding 2). */
START_TEST(test_view_other_vhost_refused)
{
	struct tdm_queue_settings st;
	struct tdm_stream_spec sp;
	struct tdm_queue *q = NULL;
	struct tdm_err err;
	const char *other[] = { "__prod.orders", "__consumer_offsets", "__journal" };
	for (size_t i = 0; i < sizeof(other) / sizeof(other[0]); i++) {
		tdm_stream_spec_init(&sp);
		sp.topic = other[i];
		sp.topic_len = strlen(other[i]);
		sp.own_topic = 0;
		tdm_queue_settings_init(&st);
		st.stream = &sp;
		struct tdm_queue_spec s = { .name = "peek", .name_len = 4, .durable = 1, .settings = &st };
		ck_assert_int_ne(tdm_queue_declare(vh, &s, &q, &err), TDM_OK);
		if (strcmp(other[i], "__consumer_offsets") != 0) /* the store's own: always there */
			ck_assert_ptr_null(ls_topic_find(tdm_topics_store(topics), other[i]));
	}
	/* a topic of "/" is fine from "/" */
	tdm_stream_spec_init(&sp);
	sp.topic = "plain";
	sp.topic_len = 5;
	sp.own_topic = 0;
	ck_assert_ptr_nonnull(stream_queue("peek", &sp)->stream);
}
END_TEST

START_TEST(partitions_and_views)
{
	struct tdm_stream_spec sp;
	tdm_stream_spec_init(&sp);
	sp.topic = "multi";
	sp.topic_len = 5;
	sp.own_topic = 0;
	sp.partitions = 3;
	struct tdm_queue *q = stream_queue("view", &sp);
	struct ls_topic *t = ls_topic_find(tdm_topics_store(topics), "multi");
	ck_assert_ptr_nonnull(t);
	ck_assert_int_eq(ls_topic_partition_count(t), 3);
	const char *keys[] = { "a", "b", "c", "d", "e", "f", "g" };
	for (size_t i = 0; i < 7; i++)
		append(q, keys[i], keys[i]);
	for (size_t i = 0; i < 7; i++) { /* each key in murmur2's partition */
		struct ls_partition *p = ls_partition_get(t, ls_partition_for_key(keys[i], 1, 3));
		struct ls_read_result r;
		ck_assert_int_eq(ls_read(p, 0, 1 << 20, &r), LS_OK);
		char *buf = malloc(r.len + 1);
		ck_assert_int_eq(ls_read_copy(&r, buf), LS_OK);
		ls_read_release(&r);
		struct ls_decoder *d = ls_decoder_new(0);
		struct ls_record rec;
		int found = 0;
		ls_decoder_set(d, buf, r.len, 0);
		while (ls_decoder_next(d, &rec, NULL) == 1)
			found |= rec.key_len == 1 && memcmp(rec.key, keys[i], 1) == 0;
		ls_decoder_free(d);
		free(buf);
		ck_assert_msg(found, "key %s not in its partition", keys[i]);
	}
	/* keyless appends go round robin: three land in three partitions */
	struct tdm_record r = { .value = "x", .value_len = 1, .timestamp = -1 };
	uint64_t before[3], after[3];
	for (int i = 0; i < 3; i++)
		before[i] = ls_log_end(ls_partition_get(t, i));
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(tdm_stream_append(q, &r, NULL, 0, NULL), 0);
	for (int i = 0; i < 3; i++) {
		after[i] = ls_log_end(ls_partition_get(t, i));
		ck_assert_uint_eq(after[i], before[i] + 1);
	}
	ck_assert_uint_eq(tdm_stream_count(q), 10);
	/* a view goes, its topic stays */
	uint64_t n;
	struct tdm_err err;
	ck_assert_int_eq(tdm_queue_delete(vh, "view", 4, NULL, 0, 0, &n, &err), TDM_OK);
	ck_assert_ptr_nonnull(ls_topic_find(tdm_topics_store(topics), "multi"));
}
END_TEST

START_TEST(retention_configs)
{
	struct tdm_stream_spec sp;
	tdm_stream_spec_init(&sp);
	sp.max_age_ms = 3600000;
	sp.max_bytes = 1000000;
	sp.segment_bytes = 2000000;
	stream_queue("kept", &sp);
	const struct ls_topic_config *c = ls_topic_get_config(ls_topic_find(tdm_topics_store(topics), "kept"));
	ck_assert_int_eq(c->retention_ms, 3600000);
	ck_assert_int_eq(c->retention_bytes, 1000000);
	ck_assert_int_eq(c->segment_bytes, 2000000);
	/* below log_min_segment_bytes (1 MiB): raised to it (each segment
	 * holds a descriptor open) */
	sp.segment_bytes = 100000;
	stream_queue("small-segments", &sp);
	c = ls_topic_get_config(ls_topic_find(tdm_topics_store(topics), "small-segments"));
	ck_assert_int_eq(c->segment_bytes, 1048576);
	tdm_stream_spec_init(&sp); /* RabbitMQ's defaults: keep everything, 500 MB segments */
	stream_queue("forever", &sp);
	c = ls_topic_get_config(ls_topic_find(tdm_topics_store(topics), "forever"));
	ck_assert_int_eq(c->retention_ms, -1);
	ck_assert_int_eq(c->retention_bytes, -1);
	ck_assert_int_eq(c->segment_bytes, 500000000);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("core-stream");
	TCase *tc = tcase_create("names");
	tcase_add_test(tc, topic_names);
	tcase_add_test(tc, test_topic_vhost_isolation);
	tcase_add_test(tc, test_topic_local_name);
	suite_add_tcase(s, tc);
	tc = tcase_create("store");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, cursors_and_credit);
	tcase_add_test(tc, partitions_and_views);
	tcase_add_test(tc, test_view_other_vhost_refused);
	tcase_add_test(tc, retention_configs);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
