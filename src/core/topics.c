/*
 * Topics: the logstore store plus fsync rounds, periodic work and waiters
 * (see topics.h).
 *
 * Durability: a partition's unflushed data is fsynced when flush.ms has
 * passed (tdm_topics_tick, on main's 100 ms timer, finds due partitions)
 * or at once when someone waits for it (acks=all).  One fsync round per
 * partition is in flight at a time; a request arriving meanwhile sets
 * "again" and the next round starts when the current one ends, covering
 * every append made so far: group commit.  ls_sync_begin/_end run here on
 * the loop thread, ls_sync_run as a TDM_BG_LOG background job.
 *
 * Must not depend on: libevent, pthreads, protocol front ends.
 */
#include "core/topics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/broker.h"
#include "core/config.h"
#include "core/dyn_defaults.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/map.h"
#include "core/topic_ops.h"
#include "logstore/logstore.h"

#define CHECKPOINT_MS 60000
#define RETENTION_BUDGET (8u << 20)

/* One fsync round of a partition, out as a background job. */
struct sync_item {
	struct tdm_topics *t;         /* ref while the round is out */
	struct ls_sync_job *job;      /* owned until ls_sync_end */
	struct ls_partition *p;       /* ref held by the job */
};

/* Per-partition loop-side state, keyed by the partition pointer. */
struct pstate {
	uint8_t inflight, again;
};

struct tdm_topics {
	struct tdm_bg bg;            /* main's background jobs; empty: inline */
	struct ls_store *store;      /* owned */
	struct tdm_dyn *dyn;         /* owned: the store's dynamic defaults */
	unsigned refs;               /* 1 while open + one per read held or fsync round out */
	int closing;
	struct tdm_map pstates;      /* partition pointer bytes -> struct pstate (owned) */
	int64_t last_checkpoint_ms;
	const unsigned *alarms;      /* borrowed from the broker, or NULL */
	/* limits (tdm_topics_check) */
	int64_t min_segment_bytes;
	uint32_t max_partitions_per_topic; /* 0 = none */
	uint32_t max_partitions;           /* 0 = none */
	const struct tdm_limits *limits;   /* borrowed: run-time values of the two */
	/* waiters */
	struct tdm_topics_waiter *data_waiters, *flush_waiters;
	/* a leader append happened (the replica manager's high watermark) */
	void (*appended)(void *ctx, struct ls_partition *p);
	void *appended_ctx;
};

static struct pstate *pstate_get(struct tdm_topics *t, struct ls_partition *p, int create)
{
	struct pstate *s = tdm_map_get(&t->pstates, (const char *)&p, sizeof(p));

	if (s || !create)
		return s;
	s = calloc(1, sizeof(*s));
	if (s && tdm_map_put(&t->pstates, (const char *)&p, sizeof(p), s) < 0) {
		free(s);
		s = NULL;
	}
	return s;
}

static void pstate_del(struct tdm_topics *t, struct ls_partition *p)
{
	free(tdm_map_del(&t->pstates, (const char *)&p, sizeof(p)));
}

/* ---- waiters ---------------------------------------------------------------- */

static void w_link(struct tdm_topics_waiter **head, struct tdm_topics_waiter *w, int kind)
{
	w->prev = NULL;
	w->next = *head;
	if (*head)
		(*head)->prev = w;
	*head = w;
	w->linked = kind;
}

void tdm_topics_unwait(struct tdm_topics *t, struct tdm_topics_waiter *w)
{
	struct tdm_topics_waiter **head;

	if (!w->linked)
		return;
	head = w->linked == 1 ? &t->data_waiters : &t->flush_waiters;
	if (w->prev)
		w->prev->next = w->next;
	else
		*head = w->next;
	if (w->next)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	w->linked = 0;
}

void tdm_topics_wait_data(struct tdm_topics *t, struct tdm_topics_waiter *w)
{
	tdm_topics_unwait(t, w);
	w_link(&t->data_waiters, w, 1);
}

void tdm_topics_wait_flush(struct tdm_topics *t, struct tdm_topics_waiter *w)
{
	tdm_topics_unwait(t, w);
	w_link(&t->flush_waiters, w, 2);
}

/* Wakes the data waiters watching p (every one when p is NULL). */
static void wake_data(struct tdm_topics *t, struct ls_partition *p)
{
	struct tdm_topics_waiter *w = t->data_waiters, *next;

	for (; w; w = next) {
		int hit = p == NULL;

		next = w->next;
		for (size_t i = 0; !hit && i < w->nparts; i++)
			hit = w->parts[i] == p;
		if (!hit)
			continue;
		/* fn may unwait others: restart from the head is not needed since
		 * fn only schedules work, but keep next valid if it unlinked it. */
		tdm_topics_unwait(t, w);
		w->fn(w->ctx);
	}
}

/* A leader's append to p: the hook first (a high watermark may move),
 * then p's data waiters. */
static void appended(struct tdm_topics *t, struct ls_partition *p)
{
	if (t->appended)
		t->appended(t->appended_ctx, p);
	wake_data(t, p);
}

void tdm_topics_set_append_hook(struct tdm_topics *t, void (*fn)(void *ctx, struct ls_partition *p),
				void *ctx)
{
	t->appended = fn;
	t->appended_ctx = ctx;
}

static void wake_flush(struct tdm_topics *t)
{
	struct tdm_topics_waiter *list = t->flush_waiters;

	/* Detach first: each fn may re-arm its waiter onto the live list. */
	t->flush_waiters = NULL;
	while (list) {
		struct tdm_topics_waiter *w = list;

		list = w->next;
		if (list)
			list->prev = NULL;
		w->prev = w->next = NULL;
		w->linked = 0;
		w->fn(w->ctx);
	}
}

/* ---- fsync rounds ------------------------------------------------------------ */

static void topics_unref(struct tdm_topics *t);
static void start_sync(struct tdm_topics *t, struct ls_partition *p);

static void sync_work(void *arg)
{
	ls_sync_run(((struct sync_item *)arg)->job);
}

/* Back on the loop: the round's result is published, the partition's next
 * round starts when appends came in meanwhile, flush waiters wake. */
static void sync_done(void *arg)
{
	struct sync_item *it = arg;
	struct tdm_topics *t = it->t;
	struct ls_partition *p = it->p;
	struct pstate *s = pstate_get(t, p, 0);
	int again = s && s->again;
	/* ls_sync_end may free p (a deleted topic): read what we need first */
	int deleted = ls_partition_topic(p) == NULL || !s;
	int rc = ls_sync_end(it->job);

	free(it);
	if (rc != LS_OK)
		tdm_error("topics", "fsync failed: %s; the partition is offline", ls_strerror(rc));
	if (s) {
		s->inflight = 0;
		s->again = 0;
	}
	if (again && !t->closing && !deleted)
		start_sync(t, p);
	wake_flush(t);
	topics_unref(t);
}

static void start_sync(struct tdm_topics *t, struct ls_partition *p)
{
	struct pstate *s = pstate_get(t, p, 1);
	struct ls_sync_job *job = NULL;
	struct sync_item *it;
	int rc;

	if (!s) {
		ls_sync(p); /* out of memory for bookkeeping: fsync here */
		return;
	}
	if (s->inflight) {
		s->again = 1;
		return;
	}
	rc = ls_sync_begin(p, &job);
	if (rc != LS_OK) {
		tdm_error("topics", "fsync of %s-%d cannot start: %s", ls_topic_name(ls_partition_topic(p)),
			  (int)ls_partition_index(p), ls_strerror(rc));
		return;
	}
	if (!job)
		return;
	it = calloc(1, sizeof(*it));
	if (!it) {
		ls_sync_run(job);
		ls_sync_end(job);
		return;
	}
	*it = (struct sync_item){ t, job, p };
	s->inflight = 1;
	s->again = 0;
	t->refs++; /* the store stays open while the round is out */
	tdm_bg_run(&t->bg, TDM_BG_LOG, sync_work, sync_done, it);
}

void tdm_topics_flush_now(struct tdm_topics *t, struct ls_partition *p)
{
	start_sync(t, p);
}

/* ---- periodic work (main's timers) ------------------------------------------- */

static void flush_due_fn(struct ls_partition *p, void *ctx)
{
	start_sync(ctx, p);
}

void tdm_topics_tick(struct tdm_topics *t)
{
	int64_t now = ls_now_ms(t->store);

	ls_foreach_flush_due(t->store, now, flush_due_fn, t);
	if (now - t->last_checkpoint_ms >= CHECKPOINT_MS) {
		t->last_checkpoint_ms = now;
		if (ls_checkpoint(t->store) != LS_OK)
			tdm_warn("topics", "cannot write the recovery checkpoint");
	}
}

int tdm_topics_retention(struct tdm_topics *t)
{
	int rc = ls_retention_step(t->store, ls_now_ms(t->store), RETENTION_BUDGET);

	if (rc < 0)
		tdm_warn("topics", "retention step: %s", ls_strerror(rc));
	return rc > 0;
}

/* ---- open / close --------------------------------------------------------------- */

static int set_default(struct ls_options *o, const char *key, long long v, char *err, size_t errlen)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%lld", v);
	if (ls_config_set(&o->defaults, key, buf) != LS_OK) {
		snprintf(err, errlen, "log default %s = %s is not valid", key, buf);
		return -1;
	}
	return 0;
}

/* Damage the log store found and salvaged at open. */
static void store_warn(void *ctx, const char *msg)
{
	(void)ctx;
	tdm_warn("topics", "%s", msg);
}

struct tdm_topics *tdm_topics_open(const struct tdm_config *cfg, const struct tdm_bg *bg,
				   char *err, size_t errlen)
{
	struct tdm_topics *t = calloc(1, sizeof(*t));
	struct ls_options o;
	char dir[4096];

	if (!t) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (bg)
		t->bg = *bg;
	t->refs = 1;
	t->min_segment_bytes = (int64_t)cfg->log_min_segment_bytes;
	t->max_partitions_per_topic = cfg->max_partitions_per_topic;
	t->max_partitions = cfg->max_partitions;
	tdm_map_init(&t->pstates);
	ls_options_init(&o);
	o.reserved_header_prefix = TDM_TOPICS_RESERVED_HEADER_PREFIX;
	o.warn = store_warn;
	o.producer_id_expiration_ms = (int64_t)cfg->producer_id_expiration_ms;
	if (set_default(&o, "retention.ms",
			cfg->log_retention_ms ? (long long)cfg->log_retention_ms : -1, err, errlen) < 0 ||
	    set_default(&o, "retention.bytes",
			cfg->log_retention_bytes ? (long long)cfg->log_retention_bytes : -1, err,
			errlen) < 0 ||
	    set_default(&o, "segment.bytes", (long long)cfg->log_segment_bytes, err, errlen) < 0 ||
	    set_default(&o, "flush.ms", (long long)cfg->log_flush_interval_ms, err, errlen) < 0)
		goto fail;
	snprintf(dir, sizeof(dir), "%s/logs", cfg->data_dir);
	if (mkdir(dir, 0750) < 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		goto fail;
	}
	t->store = ls_open(dir, &o, err, errlen);
	if (!t->store || !(t->dyn = tdm_dyn_open(t->store, dir, err, errlen)))
		goto fail;
	t->last_checkpoint_ms = ls_now_ms(t->store);
	tdm_info("topics", "log store %s: %zu topics", dir, ls_topic_count(t->store));
	return t;
fail:
	tdm_topics_close(t);
	return NULL;
}

static void topics_unref(struct tdm_topics *t)
{
	if (--t->refs > 0)
		return;
	size_t pos = 0;
	const char *k;
	size_t klen;
	void *v;
	while (tdm_map_next(&t->pstates, &pos, &k, &klen, &v))
		free(v);
	tdm_map_free(&t->pstates);
	tdm_dyn_free(t->dyn);
	if (t->store && ls_close(t->store) != LS_OK)
		tdm_error("topics", "closing the log store failed");
	free(t);
}

void tdm_topics_close(struct tdm_topics *t)
{
	if (!t)
		return;
	t->closing = 1; /* fsync rounds still out end without a next one */
	topics_unref(t);
}

struct ls_store *tdm_topics_store(struct tdm_topics *t)
{
	return t->store;
}

/* ---- administration and data path -------------------------------------------- */

/* The broker's own (internal) topics do not count against client limits. */
static void sum_partitions(struct ls_topic *topic, void *ctx)
{
	if (!ls_topic_is_internal(topic))
		*(uint64_t *)ctx += (uint64_t)ls_topic_partition_count(topic);
}

/* Would `more` new partitions, one topic then having `topic_total`, stay
 * within the limits?  LS_OK, LS_ERR_INVALID or TDM_TOPICS_ERR_LIMIT. */
static int check_partitions(struct tdm_topics *t, int64_t more, int64_t topic_total, char *err,
			    size_t errlen)
{
	uint64_t total = 0;
	int64_t per_topic = t->max_partitions_per_topic, all = t->max_partitions;

	/* set at run time (/api/kafka-limits) over tandem.conf's */
	if (t->limits) {
		tdm_limits_lookup(t->limits, TDM_LIMIT_KAFKA, "", TDM_KAFKA_PARTITIONS_PER_TOPIC,
				  &per_topic);
		tdm_limits_lookup(t->limits, TDM_LIMIT_KAFKA, "", TDM_KAFKA_PARTITIONS, &all);
	}
	if (per_topic > 0 && topic_total > per_topic) {
		snprintf(err, errlen,
			 "Number of partitions %lld is above max_partitions_per_topic (%lld).",
			 (long long)topic_total, (long long)per_topic);
		return LS_ERR_INVALID;
	}
	if (all <= 0)
		return LS_OK;
	ls_topic_foreach(t->store, sum_partitions, &total);
	if (total + (uint64_t)more > (uint64_t)all) {
		snprintf(err, errlen,
			 "%lld more partitions would pass the broker's limit, max_partitions (%lld); "
			 "it has %llu.",
			 (long long)more, (long long)all, (unsigned long long)total);
		return TDM_TOPICS_ERR_LIMIT;
	}
	return LS_OK;
}

int64_t tdm_topics_min_segment_bytes(const struct tdm_topics *t)
{
	return t->min_segment_bytes;
}

/* segment.bytes of configs at least log_min_segment_bytes: LS_OK, else
 * LS_ERR_INVALID_CONFIG with Kafka's words in err. */
static int check_segment_bytes(const struct tdm_topics *t, const struct tdm_kv *configs,
			       size_t nconfigs, char *err, size_t errlen)
{
	for (size_t i = 0; i < nconfigs; i++) {
		char *end;
		long long v;

		if (strcmp(configs[i].name, "segment.bytes") != 0 || !configs[i].value)
			continue;
		/* each segment holds a descriptor open: a tiny one is a way
		 * to run the broker out of them (Kafka 4 has the same floor) */
		errno = 0;
		v = strtoll(configs[i].value, &end, 10);
		if (errno == 0 && end != configs[i].value && *end == '\0' &&
		    v < t->min_segment_bytes) {
			snprintf(err, errlen,
				 "Invalid value %lld for configuration segment.bytes: Value must be "
				 "at least %lld",
				 v, (long long)t->min_segment_bytes);
			return LS_ERR_INVALID_CONFIG;
		}
	}
	return LS_OK;
}

struct tdm_dyn *tdm_topics_dyn(struct tdm_topics *t)
{
	return t ? t->dyn : NULL;
}

int tdm_topics_check_default(struct tdm_topics *t, const char *key, const char *value,
			     char *out, size_t outlen, char *err, size_t errlen)
{
	struct tdm_kv kv = { key, value };
	struct ls_topic_config c = *ls_store_defaults(t->store);

	if (check_segment_bytes(t, &kv, 1, err, errlen) != LS_OK)
		return TDM_ERR_INVALID_CONFIG;
	if (ls_config_set(&c, key, value) != LS_OK) {
		snprintf(err, errlen, "Invalid value %.100s for configuration %s", value, key);
		return TDM_ERR_INVALID_CONFIG;
	}
	if (out && outlen)
		ls_config_format(&c, key, out, outlen);
	return TDM_TOPIC_OK;
}

int tdm_topics_check(struct tdm_topics *t, int32_t partitions, const struct tdm_kv *configs,
		     size_t nconfigs, char *err, size_t errlen)
{
	if (partitions <= 0) {
		snprintf(err, errlen, "Number of partitions must be larger than 0.");
		return LS_ERR_INVALID;
	}
	int rc = check_segment_bytes(t, configs, nconfigs, err, errlen);
	return rc != LS_OK ? rc : check_partitions(t, partitions, partitions, err, errlen);
}

int tdm_topics_set_config(struct tdm_topics *t, struct ls_topic *topic,
			  const struct tdm_kv *configs, size_t nconfigs, int validate_only,
			  char *err, size_t errlen)
{
	struct ls_kv kv[64];
	size_t n = 0;
	const char *key;

	if (err && errlen)
		err[0] = '\0';
	int rc = check_segment_bytes(t, configs, nconfigs, err, errlen);
	if (rc != LS_OK)
		return LS_ERR_INVALID;
	/* every key the store knows: the ones given, the rest back to the default */
	for (size_t i = 0; (key = ls_config_name(i)) != NULL && n < 64; i++) {
		const char *value = NULL;
		for (size_t j = 0; j < nconfigs; j++)
			if (configs[j].value && !strcmp(configs[j].name, key))
				value = configs[j].value;
		kv[n++] = (struct ls_kv){ key, value };
	}
	for (size_t j = 0; j < nconfigs; j++) {
		struct ls_topic_config c = *ls_topic_get_config(topic);
		char buf[128];
		if (ls_config_format(&c, configs[j].name, buf, sizeof(buf)) != LS_OK) {
			snprintf(err, errlen, "Unknown topic config name: %s", configs[j].name);
			return LS_ERR_INVALID_CONFIG;
		}
		if (configs[j].value && ls_config_set(&c, configs[j].name, configs[j].value) != LS_OK) {
			snprintf(err, errlen, "Invalid value %.100s for configuration %s",
				 configs[j].value, configs[j].name);
			return LS_ERR_INVALID;
		}
	}
	if (validate_only)
		return LS_OK;
	rc = ls_topic_set_config(t->store, topic, kv, n, err, errlen);
	if (rc == LS_OK)
		tdm_info("topics", "topic %s: configs changed", ls_topic_name(topic));
	return rc;
}

/* ---- making topics and partitions as background jobs ------------------------ */

struct tdm_topics_job {
	struct tdm_topics *t;        /* ref while the job is out */
	struct ls_draft *draft;      /* owned until ls_draft_finish */
	tdm_topics_made_fn done;     /* NULL once forgotten */
	void *ctx;
	int32_t partitions;
};

static void make_work(void *arg)
{
	ls_draft_build(((struct tdm_topics_job *)arg)->draft);
}

static void make_done(void *arg)
{
	struct tdm_topics_job *j = arg;
	char err[256] = "";
	char name[256];
	struct ls_draft *d = j->draft;

	snprintf(name, sizeof(name), "%s", ls_draft_name(d));
	int rc = ls_draft_finish(d, err, sizeof(err));
	if (rc == LS_OK)
		tdm_info("topics", "topic %s: %d partitions made", name, (int)j->partitions);
	else
		tdm_warn("topics", "topic %s: making %d partitions failed: %s", name,
			 (int)j->partitions, err);
	if (j->done)
		j->done(j->ctx, rc, err);
	topics_unref(j->t);
	free(j);
}

/* Starts d's build as a TDM_BG_FILES job; LS_OK, or LS_ERR_NOMEM (d finished). */
static int make_start(struct tdm_topics *t, struct ls_draft *d, int32_t partitions,
		      tdm_topics_made_fn done, void *ctx, struct tdm_topics_job **jobp)
{
	struct tdm_topics_job *j = calloc(1, sizeof(*j));

	if (!j) {
		ls_draft_finish(d, NULL, 0);
		return LS_ERR_NOMEM;
	}
	*j = (struct tdm_topics_job){ t, d, done, ctx, partitions };
	t->refs++;
	if (jobp)
		*jobp = j;
	tdm_bg_run(&t->bg, TDM_BG_FILES, make_work, make_done, j);
	return LS_OK;
}

int tdm_topics_create_bg(struct tdm_topics *t, const char *name, int32_t partitions,
			 const struct tdm_kv *configs, size_t nconfigs, tdm_topics_made_fn done,
			 void *ctx, struct tdm_topics_job **job, char *err, size_t errlen)
{
	char why[256];
	struct ls_draft *d;
	struct ls_kv *kv = NULL;
	int rc = tdm_topics_check(t, partitions, configs, nconfigs, why, sizeof(why));

	if (job)
		*job = NULL;
	if (rc != LS_OK) {
		if (err && errlen)
			snprintf(err, errlen, "%s", why);
		return rc;
	}
	if (nconfigs && !(kv = calloc(nconfigs, sizeof(*kv))))
		return LS_ERR_NOMEM;
	for (size_t i = 0; i < nconfigs; i++)
		kv[i] = (struct ls_kv){ configs[i].name, configs[i].value };
	rc = ls_draft_topic(t->store, name, partitions, kv, nconfigs, &d, err, errlen);
	free(kv); /* the draft has applied them */
	if (rc != LS_OK)
		return rc;
	return make_start(t, d, partitions, done, ctx, job);
}

int tdm_topics_add_partitions_bg(struct tdm_topics *t, struct ls_topic *topic, int32_t count,
				 tdm_topics_made_fn done, void *ctx, struct tdm_topics_job **job,
				 char *err, size_t errlen)
{
	char why[256] = "";
	int32_t have = ls_topic_partition_count(topic);
	struct ls_draft *d;
	int rc = count > have ? check_partitions(t, count - have, count, why, sizeof(why))
			      : LS_ERR_INVALID;

	if (job)
		*job = NULL;
	if (rc == LS_OK)
		rc = ls_draft_partitions(t->store, topic, count, &d);
	if (rc != LS_OK) {
		if (err && errlen)
			snprintf(err, errlen, "%s", why[0] ? why : ls_strerror(rc));
		return rc;
	}
	return make_start(t, d, count - have, done, ctx, job);
}

void tdm_topics_job_forget(struct tdm_topics_job *job)
{
	if (job)
		job->done = NULL;
}

/* The synchronous forms: the same drafts, built here and now (an empty
 * background hook runs the job inline, so made_sync has run on return). */
struct made {
	int rc;
	char err[256];
};

static void made_sync(void *ctx, int rc, const char *err)
{
	struct made *m = ctx;

	m->rc = rc;
	snprintf(m->err, sizeof(m->err), "%s", err);
}

int tdm_topics_create(struct tdm_topics *t, const char *name, int32_t partitions,
		      const struct tdm_kv *configs, size_t nconfigs, char *err, size_t errlen)
{
	struct tdm_bg bg = t->bg;
	struct made m = { LS_OK, "" };
	int rc;

	t->bg = (struct tdm_bg){ 0 };
	rc = tdm_topics_create_bg(t, name, partitions, configs, nconfigs, made_sync, &m, NULL,
				  err, errlen);
	t->bg = bg;
	if (rc == LS_OK && m.rc != LS_OK && err && errlen)
		snprintf(err, errlen, "%s", m.err);
	return rc != LS_OK ? rc : m.rc;
}

int tdm_topics_delete(struct tdm_topics *t, const char *name)
{
	struct ls_topic *topic = ls_topic_find(t->store, name);
	int rc;

	if (!topic)
		return LS_ERR_NOT_FOUND;
	/* Waiters hold partition pointers: wake them all before the
	 * pointers die (they look their partitions up again by name). */
	wake_data(t, NULL);
	for (int32_t i = 0; i < ls_topic_partition_count(topic); i++)
		pstate_del(t, ls_partition_get(topic, i));
	rc = ls_topic_delete(t->store, name);
	if (rc == LS_OK)
		tdm_info("topics", "deleted topic %s", name);
	wake_flush(t);
	return rc;
}

int tdm_topics_admin_delete(struct tdm_topics *t, const char *name)
{
	struct ls_topic *topic = ls_topic_find(t->store, name);

	if (!topic || ls_topic_is_internal(topic))
		return LS_ERR_NOT_FOUND;
	return tdm_topics_delete(t, name);
}

int tdm_topics_add_partitions(struct tdm_topics *t, struct ls_topic *topic, int32_t count)
{
	struct tdm_bg bg = t->bg;
	struct made m = { LS_OK, "" };
	char why[256];
	int rc;

	t->bg = (struct tdm_bg){ 0 };
	rc = tdm_topics_add_partitions_bg(t, topic, count, made_sync, &m, NULL, why, sizeof(why));
	t->bg = bg;
	if (rc != LS_OK)
		tdm_info("topics", "topic %s: %s", ls_topic_name(topic), why);
	return rc != LS_OK ? rc : m.rc;
}

/* tdm_topics_append_batch(_trusted): trusted skips the reserved headers check. */
static int append_batch(struct tdm_topics *t, struct ls_partition *p, const void *batch, size_t len,
			int trusted, struct tdm_append_result *res)
{
	struct ls_append_result r;

	if (t->alarms && (*t->alarms & TDM_ALARM_DISK))
		return LS_ERR_IO; /* the disk alarm: keep the space for what was confirmed */
	int rc = trusted ? ls_append_batch_trusted(p, batch, len, &r)
			 : ls_append_batch(p, batch, len, &r);

	if (rc == LS_OK) {
		if (res)
			*res = (struct tdm_append_result){ r.base_offset, r.last_offset,
							   r.log_append_time };
		appended(t, p);
	}
	return rc;
}

int tdm_topics_append_batch(struct tdm_topics *t, struct ls_partition *p, const void *batch,
			    size_t len, struct tdm_append_result *res)
{
	return append_batch(t, p, batch, len, 0, res);
}

int tdm_topics_append_batch_trusted(struct tdm_topics *t, struct ls_partition *p, const void *batch,
				    size_t len, struct tdm_append_result *res)
{
	return append_batch(t, p, batch, len, 1, res);
}

/* A transaction marker (topic_ops.h): written as an append is, so the
 * append hook and the waiters see it as one. */
int tdm_partition_append_marker(struct tdm_topics *t, struct ls_partition *p, int64_t pid,
				int16_t epoch, int commit, int32_t coordinator_epoch,
				uint64_t *offset)
{
	if (t->alarms && (*t->alarms & TDM_ALARM_DISK))
		return LS_ERR_IO; /* as append_batch */
	int rc = ls_append_txn_marker(p, pid, epoch, commit ? LS_TXN_COMMIT : LS_TXN_ABORT,
				      coordinator_epoch, offset);

	if (rc == LS_OK)
		appended(t, p);
	return rc;
}

int tdm_topics_produce(struct tdm_topics *t, struct ls_partition *p, const void *data, size_t len,
		       int legacy, struct tdm_append_result *res, struct tdm_append_error *err)
{
	struct ls_append_error le = { -1, NULL };
	struct ls_append_result r;
	int rc;

	if (t->alarms && (*t->alarms & TDM_ALARM_DISK))
		rc = LS_ERR_IO; /* as append_batch */
	else if (legacy)
		rc = ls_append_legacy(p, data, len, &r, &le);
	else
		rc = ls_append_batch_checked(p, data, len, &r, &le);
	if (err)
		*err = (struct tdm_append_error){ le.index, le.message };
	if (rc == LS_OK) {
		if (res)
			*res = (struct tdm_append_result){ r.base_offset, r.last_offset,
							   r.log_append_time };
		appended(t, p);
	}
	return rc;
}

int tdm_topics_append_replica(struct tdm_topics *t, struct ls_partition *p, const void *data,
			      size_t len, size_t *consumed, struct tdm_append_result *res)
{
	struct ls_append_result r;
	int rc = ls_append_replica(p, data, len, consumed, &r);

	if (*consumed > 0) {
		if (res)
			*res = (struct tdm_append_result){ r.base_offset, r.last_offset,
							   r.log_append_time };
		wake_data(t, p);
	}
	return rc;
}

size_t tdm_topics_delete_before(struct tdm_topics *t, struct ls_partition *p, uint64_t offset)
{
	(void)t;
	if (offset <= ls_log_start(p))
		return 0;
	return ls_delete_records(p, offset);
}

int tdm_topics_set_log_start(struct tdm_topics *t, struct ls_partition *p, uint64_t offset)
{
	uint64_t before = ls_log_start(p);
	int rc = ls_partition_set_log_start(p, offset);
	if (ls_log_start(p) != before)
		tdm_topics_notify(t, p);
	return rc;
}

/* After a cut of p's log (what it was, for the log line): a failure
 * logged (the partition is then offline), readers woken either way. */
static int cut_done(struct tdm_topics *t, struct ls_partition *p, int rc, const char *what,
		    uint64_t offset)
{
	if (rc != LS_OK)
		tdm_error("topics", "%s %s-%d at %llu failed: %s; the partition is offline", what,
			  ls_topic_name(ls_partition_topic(p)), (int)ls_partition_index(p),
			  (unsigned long long)offset, ls_strerror(rc));
	tdm_topics_notify(t, p);
	return rc;
}

int tdm_topics_truncate(struct tdm_topics *t, struct ls_partition *p, uint64_t offset)
{
	return cut_done(t, p, ls_partition_truncate(p, offset), "truncating", offset);
}

int tdm_topics_start_at(struct tdm_topics *t, struct ls_partition *p, uint64_t offset)
{
	return cut_done(t, p, ls_partition_start_at(p, offset), "restarting empty", offset);
}

void tdm_topics_set_limits(struct tdm_topics *t, const struct tdm_limits *limits)
{
	t->limits = limits;
}

void tdm_topics_set_alarms(struct tdm_topics *t, const unsigned *alarms)
{
	t->alarms = alarms;
}

/* Records in logstore's type (core/topic_types.h: the header arrays have
 * the same layout, so they pass as they are). */
static void to_ls_record(const struct tdm_record *in, struct ls_record *out)
{
	*out = (struct ls_record){ in->key, in->key_len, in->value, in->value_len,
				   (const struct ls_header *)in->headers, in->header_count,
				   in->timestamp, in->offset };
}

int tdm_topics_append(struct tdm_topics *t, struct ls_partition *p, const struct tdm_record *recs,
		      size_t n, int codec, struct tdm_append_result *res)
{
	struct ls_record stack[8], *lr;
	struct ls_append_result r;
	int rc;

	if (n == 0)
		return LS_ERR_INVALID;
	lr = n <= 8 ? stack : calloc(n, sizeof(*lr));
	if (!lr)
		return LS_ERR_NOMEM;
	for (size_t i = 0; i < n; i++)
		to_ls_record(&recs[i], &lr[i]);
	rc = ls_append(p, lr, n, codec, &r);
	if (lr != stack)
		free(lr);
	if (rc == LS_OK) {
		if (res)
			*res = (struct tdm_append_result){ r.base_offset, r.last_offset,
							   r.log_append_time };
		appended(t, p);
	}
	return rc;
}

static void to_ls_read(const struct tdm_read_result *in, struct ls_read_result *out)
{
	*out = (struct ls_read_result){ in->fd, in->file_pos, in->len, in->first_offset,
					in->next_offset, in->log_start, in->high_watermark,
					in->ref };
}

int tdm_topics_read(struct tdm_topics *t, struct ls_partition *p, uint64_t offset,
		    size_t max_bytes, struct tdm_read_result *r)
{
	return tdm_topics_read_bounded(t, p, offset, max_bytes, UINT64_MAX, r);
}

int tdm_topics_read_bounded(struct tdm_topics *t, struct ls_partition *p, uint64_t offset,
			    size_t max_bytes, uint64_t limit, struct tdm_read_result *r)
{
	struct ls_read_result lr;
	int rc = ls_read_bounded(p, offset, max_bytes, limit, &lr);

	if (rc != LS_OK) {
		*r = (struct tdm_read_result){ .fd = -1 };
		return rc;
	}
	*r = (struct tdm_read_result){ lr.fd, lr.file_pos, lr.len, lr.first_offset,
				       lr.next_offset, lr.log_start, lr.high_watermark, lr.ref };
	if (r->ref)
		t->refs++;
	return rc;
}

int tdm_topics_read_copy(const struct tdm_read_result *r, void *buf)
{
	struct ls_read_result lr;

	to_ls_read(r, &lr);
	return ls_read_copy(&lr, buf);
}

void tdm_topics_notify(struct tdm_topics *t, struct ls_partition *p)
{
	wake_data(t, p);
	wake_flush(t);
}

void tdm_topics_read_release(struct tdm_topics *t, struct tdm_read_result *r)
{
	struct ls_read_result lr;

	if (!r->ref)
		return;
	to_ls_read(r, &lr);
	ls_read_release(&lr);
	r->ref = NULL;
	r->fd = -1;
	topics_unref(t);
}
