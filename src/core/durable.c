/*
 * The durable store's lifecycle: opening "__journal" and "__definitions"
 * with the settings durability needs, closing it (the last appends and the
 * fsync round in flight first), and store-wide readings (bytes on disk,
 * fsync timings, fault injection for tests).  See durable.h for the model,
 * durable_internal.h for the other parts.
 *
 * Where the fsyncs are:
 *  - every topology change: ls_append to "__definitions" then ls_sync,
 *    before declare-ok / bind-ok / delete-ok goes out (durable_topology.c);
 *  - the journal: ls_sync_begin on the loop thread, ls_sync_run on the
 *    helper thread, ls_sync_end back on the loop (durable_journal.c).
 *
 * Must not depend on: libevent, protocol front ends, the record formats
 * (those belong to durable_topology.c and durable_journal.c).
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/broker.h"
#include "core/durable_internal.h"
#include "core/log.h"

#define JOURNAL_SEGMENT "16777216"

/* ---- store ------------------------------------------------------------------- */

/* Damage the store found and salvaged at open (logstore's report). */
static void store_warn(void *ctx, const char *msg)
{
	(void)ctx;
	tdm_warn("durable", "%s", msg);
}

static struct ls_partition *ensure_topic(struct ls_store *s, const char *name,
					 const struct ls_kv *cfg, size_t ncfg, char *err, size_t errlen)
{
	struct ls_topic *t = ls_topic_find(s, name);
	/* our settings, also over metadata rebuilt with defaults after damage */
	if (t && ls_topic_set_config(s, t, cfg, ncfg, err, errlen) != 0)
		return NULL;
	if (!t) {
		int rc = ls_topic_create(s, name, 1, cfg, ncfg, err, errlen);
		if (rc != 0)
			return NULL;
		t = ls_topic_find(s, name);
	}
	return t ? ls_partition_get(t, 0) : NULL;
}

struct tdm_durable *tdm_durable_open(struct tdm_broker *b, const char *dir,
				     uint64_t max_message_size, char *err, size_t errlen)
{
	struct tdm_durable *d = calloc(1, sizeof(*d));
	if (!d) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	d->b = b;
	d->next_id = 1;
	struct ls_options opt;
	ls_options_init(&opt);
	opt.warn = store_warn;
	opt.verify_on_open = 1; /* read whole at start anyway: salvage damage first */
	d->store = ls_open(dir, &opt, err, errlen);
	if (!d->store)
		goto fail;
	char maxmsg[32];
	snprintf(maxmsg, sizeof(maxmsg), "%llu", (unsigned long long)(max_message_size + (1u << 20)));
	/* we fsync ourselves: no timer flushes, no retention, our own reclaim */
	const struct ls_kv jcfg[] = {
		{ "segment.bytes", JOURNAL_SEGMENT }, { "retention.ms", "-1" },
		{ "retention.bytes", "-1" }, { "flush.ms", "9223372036854775807" },
		{ "max.message.bytes", maxmsg },
	};
	const struct ls_kv dcfg[] = {
		{ "cleanup.policy", "compact" }, { "segment.bytes", "1048576" },
		{ "retention.ms", "-1" }, { "flush.ms", "9223372036854775807" },
		{ "delete.retention.ms", "0" }, { "max.message.bytes", "16777216" },
	};
	d->journal = ensure_topic(d->store, "__journal", jcfg, sizeof(jcfg) / sizeof(jcfg[0]), err, errlen);
	d->defs = ensure_topic(d->store, "__definitions", dcfg, sizeof(dcfg) / sizeof(dcfg[0]), err, errlen);
	d->dec = ls_decoder_new(0);
	if (!d->journal || !d->defs || !d->dec)
		goto fail;
	d->next_offset = ls_log_end(d->journal);
	d->flushed = ls_flushed_offset(d->journal);
	d->live_base = d->next_offset >> BLOCK_SHIFT;
	return d;
fail:
	if (!err[0])
		snprintf(err, errlen, "cannot open the durable store in %s", dir);
	ls_decoder_free(d->dec);
	ls_close(d->store);
	free(d);
	return NULL;
}

int tdm_durable_replaying(const struct tdm_durable *d)
{
	return d && d->replaying;
}

void tdm_durable_close(struct tdm_durable *d)
{
	if (!d)
		return;
	tdm_durable_flush(d);
	if (d->job) { /* the helper thread is gone by now: finish the round here */
		ls_sync_run(d->job);
		dur_sync_done(d);
	}
	while (d->marked) {
		struct tdm_queue *q = d->marked;
		d->marked = q->delivered_next;
		q->delivered_dirty = 0;
		tdm_queue_unref(q);
	}
	ls_decoder_free(d->dec);
	ls_decoder_free(d->cache_dec);
	free(d->cache);
	ls_close(d->store);
	free(d->pend);
	free(d->scratch);
	free(d->acks);
	free(d->live);
	tdm_jfail_free(&d->fail);
	free(d);
}

int tdm_storage_faults(const char *spec)
{
	return ls_fault_parse(spec) == LS_OK ? 0 : -1;
}

int tdm_storage_fsync_ledger(const char *path)
{
	return ls_fault_fsync_ledger(path) == LS_OK ? 0 : -1;
}

void tdm_durable_fsync_hist(const struct tdm_durable *d, struct tdm_fsync_hist *out)
{
	const struct ls_fsync_hist *h = ls_store_fsync_hist(d->store);

	out->count = h->count;
	out->sum_us = h->sum_us;
	for (int i = 0; i < TDM_FSYNC_BUCKETS; i++)
		out->bucket[i] = h->bucket[i];
}

uint64_t tdm_durable_bytes(const struct tdm_durable *d)
{
	return d ? ls_partition_bytes(d->journal) + ls_partition_bytes(d->defs) : 0;
}
