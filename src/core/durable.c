/*
 * Durable topology and the persistent-message journal; see durable.h.
 *
 * Where the fsyncs are:
 *  - every topology change: ls_append to "__definitions" then ls_sync,
 *    before declare-ok / bind-ok / delete-ok goes out (the client must not
 *    hear "ok" for something a crash could forget);
 *  - the journal: ls_sync_begin on the loop thread, ls_sync_run on the
 *    helper thread, ls_sync_end back on the loop; the flushed offset that
 *    comes out releases publisher confirms.  Appends made while an fsync
 *    runs ride on the next one (group commit).  Acknowledgement records
 *    need no fsync of their own: a lost ack only means a redelivery.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include "core/durable.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/broker.h"
#include "core/jfail.h"
#include "core/log.h"
#include "core/stream.h"
#include "logstore/logstore.h"

#define BLOCK_SHIFT 10            /* live counts per 1024 journal offsets */
#define BATCH_BYTES (1u << 20)    /* pending records appended per batch */
#define JOURNAL_SEGMENT "16777216"

struct pend {
	struct tdm_message *msg;  /* ref, for E records */
	uint8_t kind;             /* 'E' enqueue, 'P' page, 'A' acks, 'D' delivery marks */
	size_t meta_off, meta_len;/* in d->scratch: qid list (E) or pairs (A, D) */
	uint64_t off;             /* the journal offset handed out for it */
};

struct u64set {
	uint64_t *slots;          /* 0 = empty; keys stored +1 */
	size_t cap, n;
};

struct tdm_durable {
	struct tdm_broker *b;     /* borrowed */
	struct ls_store *store;   /* owned */
	struct ls_partition *defs, *journal; /* borrowed from the store */
	struct ls_decoder *dec;   /* owned */
	struct pend *pend;        /* owned */
	size_t npend, pend_cap;
	uint8_t *scratch;         /* owned: metadata of pending records */
	size_t scratch_len, scratch_cap;
	uint8_t *acks;            /* owned: (qid u32, offset u64) pairs to record */
	size_t acks_len, acks_cap;
	struct tdm_queue *marked; /* queues with a new delivery mark (ref) */
	uint64_t next_offset;     /* offset the next pending record gets; never
				     below the log end, above it after a failed
				     append (the journal skips those offsets) */
	struct tdm_jfail fail;    /* what did not become durable */
	uint64_t fail_count;      /* failed appends since the last good one */
	uint32_t *live;           /* owned: live copies per block, from live_base */
	size_t live_n, live_cap;
	uint64_t live_base;
	struct ls_sync_job *job;  /* the fsync in flight */
	uint64_t flushed;
	uint32_t next_id;
	int replaying;
	/* read-back cache for paged messages: one ls_read range, decoded on demand */
	uint8_t *cache;
	size_t cache_len, cache_cap;
	uint64_t cache_first, cache_next;
	struct ls_decoder *cache_dec;
};

/* ---- small byte helpers ------------------------------------------------------ */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	int err;
};

static void put(struct wbuf *w, const void *src, size_t n)
{
	if (w->err || n == 0)
		return;
	if (w->len + n > w->cap) {
		size_t nc = w->cap ? w->cap * 2 : 256;
		while (nc < w->len + n)
			nc *= 2;
		uint8_t *np = realloc(w->p, nc);
		if (!np) {
			w->err = 1;
			return;
		}
		w->p = np;
		w->cap = nc;
	}
	memcpy(w->p + w->len, src, n);
	w->len += n;
}

static void put_u8(struct wbuf *w, uint8_t v)
{
	put(w, &v, 1);
}

static void put_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	put(w, b, 4);
}

static void put_u64(struct wbuf *w, uint64_t v)
{
	put_u32(w, (uint32_t)(v >> 32));
	put_u32(w, (uint32_t)v);
}

static void put_str(struct wbuf *w, const void *s, size_t n)
{
	put_u32(w, (uint32_t)n);
	put(w, s, n);
}

struct rbuf {
	const uint8_t *p;
	size_t len, pos;
	int err;
};

static const uint8_t *get(struct rbuf *r, size_t n)
{
	if (r->err || r->len - r->pos < n) {
		r->err = 1;
		return NULL;
	}
	const uint8_t *p = r->p + r->pos;
	r->pos += n;
	return p;
}

static uint8_t get_u8(struct rbuf *r)
{
	const uint8_t *p = get(r, 1);
	return p ? p[0] : 0;
}

static uint32_t get_u32(struct rbuf *r)
{
	const uint8_t *p = get(r, 4);
	return p ? ((uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]) : 0;
}

static uint64_t get_u64(struct rbuf *r)
{
	uint64_t hi = get_u32(r);
	return hi << 32 | get_u32(r);
}

static const uint8_t *get_str(struct rbuf *r, size_t *n)
{
	*n = get_u32(r);
	return get(r, *n);
}

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

/* ---- topology ------------------------------------------------------------------ */

static int defs_write(struct tdm_durable *d, const struct wbuf *key, const struct wbuf *val)
{
	if (d->replaying)
		return 0;
	if (key->err || (val && val->err))
		return -1;
	struct ls_record r = { .key = key->p, .key_len = key->len, .value = val ? val->p : NULL,
			       .value_len = val ? val->len : 0, .timestamp = -1 };
	int rc = ls_append(d->defs, &r, 1, LS_CODEC_NONE, NULL);
	if (rc == LS_OK)
		rc = ls_sync(d->defs); /* declare-ok only once this is on disk */
	if (rc != LS_OK)
		tdm_error("durable", "writing definitions failed: %s", ls_strerror(rc));
	return rc == LS_OK ? 0 : -1;
}

static void name_key(struct wbuf *k, char kind, const char *vhost, const char *name, size_t len)
{
	put_u8(k, (uint8_t)kind);
	put_str(k, vhost, strlen(vhost));
	put_str(k, name, len);
}

int tdm_durable_exchange_put(struct tdm_durable *d, struct tdm_exchange *x)
{
	if (!d || !x->durable || x->builtin)
		return 0;
	if (!x->id)
		x->id = d->next_id++;
	struct wbuf k = { 0 }, v = { 0 };
	name_key(&k, 'x', x->vhost->name, x->name, x->name_len);
	put_u32(&v, x->id);
	put_u8(&v, (uint8_t)x->type);
	put_u8(&v, (uint8_t)(x->auto_delete | x->internal << 1));
	put_str(&v, x->arguments, x->arguments_len);
	int rc = defs_write(d, &k, &v);
	free(k.p);
	free(v.p);
	return rc;
}

int tdm_durable_exchange_del(struct tdm_durable *d, struct tdm_exchange *x)
{
	if (!d || !x->durable || x->builtin)
		return 0;
	struct wbuf k = { 0 };
	name_key(&k, 'x', x->vhost->name, x->name, x->name_len);
	int rc = defs_write(d, &k, NULL);
	free(k.p);
	return rc;
}

/* Vhosts and users changed at run time: 'V' and 'U' records.  A deletion
 * is a record too (present = 0), not a tombstone compaction would drop:
 * it must keep a vhost or user from tandem.conf deleted after a restart. */
int tdm_durable_vhost(struct tdm_durable *d, const char *name, size_t len, int present)
{
	if (!d)
		return 0;
	struct wbuf k = { 0 }, v = { 0 };
	put_u8(&k, 'V');
	put_str(&k, name, len);
	put_u8(&v, (uint8_t)!!present);
	int rc = defs_write(d, &k, &v);
	free(k.p);
	free(v.p);
	return rc;
}

int tdm_durable_user(struct tdm_durable *d, const char *name)
{
	if (!d)
		return 0;
	char hash[49];
	const char *tags = "", *vhosts = "";
	int present = tdm_auth_user_record(d->b->auth, name, hash, &tags, &vhosts) == 0;
	struct wbuf k = { 0 }, v = { 0 };
	put_u8(&k, 'U');
	put_str(&k, name, strlen(name));
	/* 2: vhosts in auth's escaped stored form; 1 (older data dirs): raw names */
	put_u8(&v, present ? 2 : 0);
	if (present) {
		put_str(&v, hash, strlen(hash));
		put_str(&v, tags, strlen(tags));
		put_str(&v, vhosts, strlen(vhosts));
	}
	int rc = defs_write(d, &k, &v);
	explicit_bzero(hash, sizeof(hash));
	free(k.p);
	free(v.p);
	return rc;
}

static void put_opt_str(struct wbuf *v, const char *s)
{
	put_u8(v, s != NULL);
	put_str(v, s ? s : "", s ? strlen(s) : 0);
}

/* A stream queue's log: 'S', topic, own, partition key, partitions, retention. */
static void put_stream(struct wbuf *v, const struct tdm_queue *q)
{
	struct tdm_stream_spec sp;
	tdm_stream_get_spec(q, &sp);
	put_u8(v, 'S');
	put_str(v, sp.topic, sp.topic_len);
	put_u8(v, sp.own_topic);
	put_u8(v, sp.pkey);
	put_u8(v, sp.pkey_header != NULL);
	put_str(v, sp.pkey_header ? sp.pkey_header : "", sp.pkey_header ? sp.pkey_header_len : 0);
	put_u32(v, (uint32_t)sp.partitions);
	put_u64(v, (uint64_t)sp.max_bytes);
	put_u64(v, (uint64_t)sp.max_age_ms);
	put_u64(v, (uint64_t)sp.segment_bytes);
}

int tdm_durable_queue_put(struct tdm_durable *d, struct tdm_queue *q)
{
	if (!d || !q->durable || q->exclusive)
		return 0;
	if (!q->qid)
		q->qid = d->next_id++;
	struct wbuf k = { 0 }, v = { 0 };
	name_key(&k, 'q', q->vhost->name, q->name, q->name_len);
	put_u32(&v, q->qid);
	put_u8(&v, q->auto_delete);
	put_u64(&v, (uint64_t)q->max_length);
	put_u64(&v, (uint64_t)q->max_length_bytes);
	put_u64(&v, (uint64_t)q->message_ttl);
	put_u64(&v, (uint64_t)q->expires_ms);
	put_u8(&v, q->overflow);
	put_u8(&v, q->max_priority);
	put_u8(&v, q->single_active);
	put_opt_str(&v, q->dlx);
	put_opt_str(&v, q->dlrk);
	put_str(&v, q->arguments, q->arguments_len);
	if (q->stream) /* an optional trailing section: records without it are classic */
		put_stream(&v, q);
	int rc = defs_write(d, &k, &v);
	free(k.p);
	free(v.p);
	return rc;
}

int tdm_durable_queue_del(struct tdm_durable *d, struct tdm_queue *q)
{
	if (!d || !q->qid)
		return 0;
	struct wbuf k = { 0 };
	name_key(&k, 'q', q->vhost->name, q->name, q->name_len);
	int rc = defs_write(d, &k, NULL);
	free(k.p);
	return rc;
}

/* A binding's identity and content: source and destination with the ids of
 * their current incarnations (so a binding never outlives either end: a
 * later object of the same name has another id), key and arguments. */
static void binding_body(struct wbuf *v, struct tdm_exchange *src, struct tdm_dest *dst,
			 const char *key, size_t key_len, const struct ex_hdr *args, size_t nargs)
{
	put_str(v, src->name, src->name_len);
	put_u32(v, src->id);
	put_u8(v, dst->kind);
	if (dst->kind == TDM_DEST_QUEUE) {
		struct tdm_queue *q = (struct tdm_queue *)dst;
		put_str(v, q->name, q->name_len);
		put_u32(v, q->qid);
	} else {
		struct tdm_exchange *x = (struct tdm_exchange *)dst;
		put_str(v, x->name, x->name_len);
		put_u32(v, x->id);
	}
	put_str(v, key, key_len);
	put_u32(v, (uint32_t)nargs);
	for (size_t i = 0; i < nargs; i++) {
		put_str(v, args[i].key, args[i].key_len);
		put_u8(v, args[i].type);
		put_str(v, args[i].val, args[i].val_len);
	}
}

static int dest_durable(struct tdm_dest *dst)
{
	if (dst->kind == TDM_DEST_QUEUE)
		return ((struct tdm_queue *)dst)->qid != 0;
	struct tdm_exchange *x = (struct tdm_exchange *)dst;
	return x->durable && (x->id || x->builtin);
}

int tdm_durable_binding(struct tdm_durable *d, struct tdm_exchange *src, struct tdm_dest *dst,
			const char *key, size_t key_len, const struct ex_hdr *args, size_t nargs,
			int bind)
{
	if (!d || !src->durable || !dest_durable(dst))
		return 0;
	struct wbuf body = { 0 }, k = { 0 };
	binding_body(&body, src, dst, key, key_len, args, nargs);
	put_u8(&k, 'b');
	put_str(&k, src->vhost->name, strlen(src->vhost->name));
	put(&k, body.p, body.len);
	int rc = defs_write(d, &k, bind ? &body : NULL);
	free(k.p);
	free(body.p);
	return rc;
}

/* ---- the journal: writing ---------------------------------------------------- */

static struct pend *pend_add(struct tdm_durable *d, uint8_t kind, const struct wbuf *meta)
{
	if (d->npend == d->pend_cap) {
		size_t nc = d->pend_cap ? d->pend_cap * 2 : 64;
		struct pend *np = realloc(d->pend, nc * sizeof(*np));
		if (!np)
			return NULL;
		d->pend = np;
		d->pend_cap = nc;
	}
	struct wbuf s = { d->scratch, d->scratch_len, d->scratch_cap, 0 };
	put(&s, meta->p, meta->len);
	if (s.err)
		return NULL;
	d->scratch = s.p;
	d->scratch_cap = s.cap;
	struct pend *p = &d->pend[d->npend++];
	*p = (struct pend){ NULL, kind, d->scratch_len, meta->len, d->next_offset };
	d->scratch_len = s.len;
	d->next_offset++;
	return p;
}

static void live_add(struct tdm_durable *d, uint64_t off, int delta)
{
	uint64_t blk = off >> BLOCK_SHIFT;
	if (blk < d->live_base)
		return;
	size_t i = (size_t)(blk - d->live_base);
	if (i >= d->live_cap) {
		size_t nc = d->live_cap ? d->live_cap * 2 : 64;
		while (nc <= i)
			nc *= 2;
		uint32_t *n = realloc(d->live, nc * sizeof(*n));
		if (!n)
			return;
		memset(n + d->live_cap, 0, (nc - d->live_cap) * sizeof(*n));
		d->live = n;
		d->live_cap = nc;
	}
	if (i >= d->live_n)
		d->live_n = i + 1;
	d->live[i] = (uint32_t)((int64_t)d->live[i] + delta);
}

int tdm_durable_enqueue(struct tdm_durable *d, struct tdm_message *m,
			struct tdm_queue *const *qs, size_t n)
{
	struct wbuf meta = { 0 };
	for (size_t i = 0; i < n; i++)
		put_u32(&meta, qs[i]->qid);
	struct pend *p = meta.err ? NULL : pend_add(d, 'E', &meta);
	free(meta.p);
	if (!p)
		return -1;
	p->msg = tdm_message_ref(m);
	m->journal_off = d->next_offset - 1;
	return 0;
}

int tdm_durable_page(struct tdm_durable *d, struct tdm_message *m)
{
	struct wbuf none = { 0 };
	struct pend *p = pend_add(d, 'P', &none);
	if (!p)
		return -1;
	p->msg = tdm_message_ref(m);
	m->journal_off = d->next_offset - 1;
	return 0;
}

void tdm_durable_unlive(struct tdm_durable *d, uint64_t off)
{
	live_add(d, off, -1);
}

static struct tdm_message *message_of(struct tdm_durable *d, const struct ls_record *r);

struct tdm_message *tdm_durable_load(struct tdm_durable *d, uint64_t off)
{
	if (off >= ls_log_end(d->journal))
		tdm_durable_flush(d); /* paged during this very read: append it first */
	struct tdm_message *kept = tdm_jfail_kept(&d->fail, off);
	if (kept)
		return tdm_message_ref(kept); /* its record never reached the disk */
	if (!d->cache_dec && !(d->cache_dec = ls_decoder_new(0)))
		return NULL;
	if (off < d->cache_first || off >= d->cache_next) {
		struct ls_read_result r;
		if (ls_read(d->journal, off, 1u << 20, &r) != LS_OK || r.len == 0)
			return NULL;
		if (r.len > d->cache_cap) {
			uint8_t *n = realloc(d->cache, r.len);
			if (!n) {
				ls_read_release(&r);
				return NULL;
			}
			d->cache = n;
			d->cache_cap = r.len;
		}
		int ok = ls_read_copy(&r, d->cache) == LS_OK;
		d->cache_len = ok ? r.len : 0;
		d->cache_first = ok ? r.first_offset : 0;
		d->cache_next = ok ? r.next_offset : 0;
		ls_read_release(&r);
		if (!ok)
			return NULL;
	}
	ls_decoder_set(d->cache_dec, d->cache, d->cache_len, off);
	struct ls_record rec;
	if (ls_decoder_next(d->cache_dec, &rec, NULL) != 1 || rec.offset != off)
		return NULL;
	return message_of(d, &rec);
}

void tdm_durable_stored(struct tdm_durable *d, uint64_t off)
{
	live_add(d, off, 1);
}

void tdm_durable_release(struct tdm_durable *d, struct tdm_queue *q, uint64_t off)
{
	live_add(d, off, -1);
	if (q->deleted || d->replaying)
		return; /* records of a deleted queue are ignored on recovery anyway */
	struct wbuf a = { d->acks, d->acks_len, d->acks_cap, 0 };
	put_u32(&a, q->qid);
	put_u64(&a, off);
	d->acks = a.p;
	d->acks_len = a.err ? d->acks_len : a.len;
	d->acks_cap = a.cap;
}

void tdm_durable_delivered(struct tdm_durable *d, struct tdm_queue *q, uint64_t off)
{
	if (off <= q->delivered_mark && q->delivered_mark != TDM_NO_JOURNAL)
		return;
	q->delivered_mark = off;
	if (!q->delivered_dirty) {
		q->delivered_dirty = 1;
		tdm_queue_ref(q);
		q->delivered_next = d->marked;
		d->marked = q;
	}
}

/* Turns collected acks and delivery marks into pending records. */
static void collect(struct tdm_durable *d)
{
	if (d->acks_len) {
		struct wbuf w = { d->acks, d->acks_len, d->acks_cap, 0 };
		pend_add(d, 'A', &w);
		d->acks_len = 0;
	}
	struct wbuf marks = { 0 };
	while (d->marked) {
		struct tdm_queue *q = d->marked;
		d->marked = q->delivered_next;
		q->delivered_dirty = 0;
		if (!q->deleted) {
			put_u32(&marks, q->qid);
			put_u64(&marks, q->delivered_mark);
		}
		tdm_queue_unref(q);
	}
	if (marks.len && !marks.err)
		pend_add(d, 'D', &marks);
	free(marks.p);
}

static void sync_start(struct tdm_durable *d);

/* What the journal made durable, or failed to, changed: the front end
 * releases (or nacks) the confirms that were waiting. */
static void journal_changed(struct tdm_durable *d)
{
	if (d->b->durable_synced)
		d->b->durable_synced(d->b->durable_synced_ctx);
}

static int append_run(struct tdm_durable *d, size_t from, size_t to)
{
	struct ls_record recs[64];
	struct ls_header hdrs[64][5];
	size_t n = to - from;
	for (size_t i = 0; i < n; i++) {
		struct pend *p = &d->pend[from + i];
		const uint8_t *meta = d->scratch + p->meta_off;
		static const char kinds[] = "EPAD";
		const char *kind = memchr(kinds, p->kind, 4);
		hdrs[i][0] = (struct ls_header){ "t", 1, kind, 1 };
		recs[i] = (struct ls_record){ .headers = hdrs[i], .header_count = 1, .timestamp = -1 };
		if (p->kind != 'E' && p->kind != 'P') {
			recs[i].value = meta;
			recs[i].value_len = p->meta_len;
			continue;
		}
		struct tdm_message *m = p->msg;
		hdrs[i][1] = (struct ls_header){ "q", 1, meta, p->meta_len }; /* empty for pages */
		hdrs[i][2] = (struct ls_header){ "x", 1, m->exchange, m->exchange_len };
		hdrs[i][3] = (struct ls_header){ "r", 1, m->routing_key, m->routing_key_len };
		hdrs[i][4] = (struct ls_header){ "h", 1, m->header, m->header_len };
		recs[i].header_count = 5;
		recs[i].value = m->body;
		recs[i].value_len = m->body_len;
	}
	/* The offsets were handed out when the records were made: the append
	 * must give exactly those (after a failed append the log end is below
	 * them, and the journal skips the failed offsets, never reusing them). */
	uint64_t want = d->pend[from].off;
	struct ls_append_result res;
	int rc = ls_log_end(d->journal) > want ? LS_ERR_INVALID : ls_skip_to(d->journal, want);
	if (rc == LS_OK)
		rc = ls_append(d->journal, recs, n, LS_CODEC_NONE, &res);
	if (rc != LS_OK) {
		if (d->fail_count++ == 0)
			tdm_error("durable", "journal append failed: %s (offset %llu); persistent "
				  "messages get basic.nack until a journal write succeeds",
				  rc == LS_ERR_IO ? strerror(errno) : ls_strerror(rc),
				  (unsigned long long)want);
		return -1;
	}
	if (res.base_offset != want || res.last_offset != want + n - 1) {
		tdm_error("durable", "journal appended at %llu, expected %llu: offsets the queues "
			  "hold would be wrong; stopping", (unsigned long long)res.base_offset,
			  (unsigned long long)want);
		abort(); /* recovery from the journal is consistent; memory is not */
	}
	if (d->fail_count) {
		tdm_info("durable", "journal writable again after %llu failed appends",
			 (unsigned long long)d->fail_count);
		d->fail_count = 0;
	}
	return 0;
}

/* Records [from, npend) never reached the disk: their offsets stay unused,
 * confirms waiting on them become nacks, and their messages stay in memory
 * for queues that paged them out (acks and delivery marks are simply lost:
 * that only means a redelivery after a crash). */
static void append_failed(struct tdm_durable *d, size_t from)
{
	if (from >= d->npend)
		return;
	tdm_jfail_range(&d->fail, d->pend[from].off, d->pend[d->npend - 1].off + 1);
	for (size_t i = from; i < d->npend; i++)
		if (d->pend[i].msg && tdm_jfail_keep(&d->fail, d->pend[i].off, d->pend[i].msg) < 0)
			tdm_error("durable", "out of memory keeping the message of failed journal "
				  "offset %llu", (unsigned long long)d->pend[i].off);
}

void tdm_durable_flush(struct tdm_durable *d)
{
	if (!d)
		return;
	collect(d);
	size_t from = 0, bytes = 0;
	int failed = 0;
	for (size_t i = 0; i < d->npend && !failed; i++) {
		struct pend *p = &d->pend[i];
		size_t sz = p->meta_len + (p->msg ? p->msg->body_len + p->msg->header_len : 0) + 64;
		if (i > from && (i - from == 64 || bytes + sz > BATCH_BYTES)) {
			failed = append_run(d, from, i) < 0;
			if (!failed) {
				from = i;
				bytes = 0;
			}
		}
		bytes += sz;
	}
	if (!failed && from < d->npend)
		failed = append_run(d, from, d->npend) < 0;
	if (failed) /* the rest of this round is not tried: the disk just said no */
		append_failed(d, from);
	for (size_t i = 0; i < d->npend; i++)
		if (d->pend[i].msg)
			tdm_message_unref(d->pend[i].msg);
	int had = d->npend > 0;
	d->npend = 0;
	d->scratch_len = 0;
	if (had)
		sync_start(d);
	if (failed)
		journal_changed(d); /* waiting confirms can be nacked now */
}

/* ---- the journal: fsync as a background job --------------------------------- */

static void sync_work(void *arg)
{
	struct tdm_durable *d = arg;
	ls_sync_run(d->job);
}

/* The fsync of what was appended up to now failed or could not start: the
 * kernel may have dropped those pages, so none of it may be confirmed. */
static void sync_failed(struct tdm_durable *d)
{
	tdm_jfail_range(&d->fail, ls_flushed_offset(d->journal), d->next_offset);
}

static void sync_done(void *arg)
{
	struct tdm_durable *d = arg;
	if (ls_sync_end(d->job) != LS_OK) {
		tdm_error("durable", "journal fsync failed: persistent messages get basic.nack "
			  "until tandemd restarts");
		sync_failed(d);
	}
	d->job = NULL;
	d->flushed = ls_flushed_offset(d->journal);
	journal_changed(d);
	if (d->flushed < ls_log_end(d->journal))
		sync_start(d); /* what came in meanwhile: the next group */
}

static void sync_start(struct tdm_durable *d)
{
	if (d->job)
		return;
	if (ls_sync_begin(d->journal, &d->job) != LS_OK) {
		d->job = NULL;
		sync_failed(d);
		journal_changed(d);
		return;
	}
	if (!d->job)
		return;
	tdm_bg_run(&d->b->bg, TDM_BG_JOURNAL, sync_work, sync_done, d);
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

int tdm_durable_state(const struct tdm_durable *d, uint64_t off)
{
	if (!d || off == TDM_NO_JOURNAL)
		return TDM_JOURNAL_SYNCED;
	if (tdm_jfail_failed(&d->fail, off))
		return TDM_JOURNAL_FAILED;
	return off < d->flushed ? TDM_JOURNAL_SYNCED : TDM_JOURNAL_PENDING;
}

void tdm_durable_gc(struct tdm_durable *d)
{
	if (!d)
		return;
	uint64_t end_blk = d->next_offset >> BLOCK_SHIFT;
	size_t k = 0;
	while (k < d->live_n && d->live[k] == 0 && d->live_base + k < end_blk)
		k++;
	if (k == 0 && !(d->live_n == 0 && d->live_base < end_blk))
		return;
	if (d->live_n == 0)
		k = (size_t)(end_blk - d->live_base);
	else {
		memmove(d->live, d->live + k, (d->live_n - k) * sizeof(*d->live));
		memset(d->live + d->live_n - k, 0, k * sizeof(*d->live));
		d->live_n -= k;
	}
	d->live_base += k;
	tdm_jfail_trim(&d->fail, d->live_base << BLOCK_SHIFT);
	ls_delete_records(d->journal, d->live_base << BLOCK_SHIFT);
}

uint64_t tdm_durable_bytes(const struct tdm_durable *d)
{
	return d ? ls_partition_bytes(d->journal) + ls_partition_bytes(d->defs) : 0;
}

/* ---- recovery ------------------------------------------------------------------- */

typedef int (*record_fn)(struct tdm_durable *d, const struct ls_record *r, void *ctx);

/*
 * Calls fn for every record of p, in offset order.  Damage was cut out
 * when the store opened (every batch is CRC-checked then), so a batch
 * that still cannot be decoded holds no bit rot but something this build
 * cannot read: it is skipped and reported, never a reason not to start.
 * After a failure the range is re-read one batch at a time from the first
 * record not yet handed to fn, so only the bad batch is skipped.
 */
static int replay(struct tdm_durable *d, struct ls_partition *p, record_fn fn, void *ctx)
{
	uint64_t off = ls_log_start(p), end = ls_log_end(p), done = off;
	uint8_t *buf = NULL;
	size_t cap = 0;
	int rc = 0, single = 0;
	while (off < end && rc == 0) {
		struct ls_read_result r;
		if (ls_read(p, off, single ? 1 : 4u << 20, &r) != LS_OK) {
			rc = -1;
			break;
		}
		if (r.len == 0) { /* a gap of offsets that hold no record */
			uint64_t next = r.next_offset;
			ls_read_release(&r);
			if (next <= off) {
				rc = -1;
				break;
			}
			off = next;
			continue;
		}
		if (r.len > cap) {
			uint8_t *nb = realloc(buf, r.len);
			if (!nb) {
				ls_read_release(&r);
				rc = -1;
				break;
			}
			buf = nb;
			cap = r.len;
		}
		int ok = ls_read_copy(&r, buf) == LS_OK;
		uint64_t next = r.next_offset;
		size_t len = r.len;
		ls_read_release(&r);
		if (!ok) {
			rc = -1;
			break;
		}
		ls_decoder_set(d->dec, buf, len, done);
		struct ls_record rec;
		int got;
		while (rc == 0 && (got = ls_decoder_next(d->dec, &rec, NULL)) == 1) {
			rc = fn(d, &rec, ctx);
			done = rec.offset + 1;
		}
		if (rc == 0 && got < 0) {
			if (!single) {
				single = 1; /* again, batch by batch, from `done` */
				off = done > off ? done : off;
				continue;
			}
			tdm_warn("durable", "%s: records %llu..%llu cannot be decoded (%s): skipped",
				 ls_topic_name(ls_partition_topic(p)), (unsigned long long)off,
				 (unsigned long long)next - 1, ls_strerror(got));
			single = 0;
			done = next;
		}
		off = next;
	}
	free(buf);
	return rc;
}

/* Latest value per definitions key (compaction may not have run yet). */
static int defs_collect(struct tdm_durable *d, const struct ls_record *r, void *ctx)
{
	(void)d;
	struct tdm_map *latest = ctx;
	struct wbuf *old = tdm_map_del(latest, r->key, r->key_len);
	if (old) {
		free(old->p);
		free(old);
	}
	if (!r->value)
		return 0;
	struct wbuf *copy = calloc(1, sizeof(*copy));
	if (!copy)
		return -1;
	put(copy, r->value, r->value_len);
	if (copy->err || tdm_map_put(latest, r->key, r->key_len, copy) < 0) {
		free(copy->p);
		free(copy);
		return -1;
	}
	return 0;
}

static struct tdm_vhost *vhost_of(struct tdm_durable *d, struct rbuf *k)
{
	size_t n;
	const uint8_t *name = get_str(k, &n);
	return name ? tdm_vhost_find(d->b, (const char *)name, n) : NULL;
}

static void restore_exchange(struct tdm_durable *d, struct rbuf *k, struct rbuf *v)
{
	struct tdm_vhost *vh = vhost_of(d, k);
	size_t nlen, alen;
	const uint8_t *name = get_str(k, &nlen);
	uint32_t id = get_u32(v);
	uint8_t type = get_u8(v), flags = get_u8(v);
	const uint8_t *args = get_str(v, &alen);
	static const char *const types[] = { "direct", "fanout", "topic", "headers" };
	if (!vh || k->err || v->err || type > 3)
		return;
	struct tdm_exchange_spec s = { .name = (const char *)name, .name_len = nlen,
				       .type = types[type], .type_len = strlen(types[type]),
				       .durable = 1, .auto_delete = flags & 1, .internal = (flags >> 1) & 1,
				       .arguments = args, .arguments_len = alen };
	struct tdm_exchange *x;
	struct tdm_err err;
	if (tdm_exchange_declare(vh, &s, &x, &err) == TDM_OK) {
		x->id = id;
		if (id >= d->next_id)
			d->next_id = id + 1;
	}
}

static const char *get_opt_str(struct rbuf *v, size_t *n)
{
	uint8_t present = get_u8(v);
	const uint8_t *s = get_str(v, n);
	return present ? (const char *)s : NULL;
}

static void restore_queue(struct tdm_durable *d, struct rbuf *k, struct rbuf *v)
{
	struct tdm_vhost *vh = vhost_of(d, k);
	size_t nlen, alen;
	const uint8_t *name = get_str(k, &nlen);
	struct tdm_queue_settings st;
	tdm_queue_settings_init(&st);
	uint32_t qid = get_u32(v);
	uint8_t auto_delete = get_u8(v);
	st.max_length = (int64_t)get_u64(v);
	st.max_length_bytes = (int64_t)get_u64(v);
	st.message_ttl = (int64_t)get_u64(v);
	st.expires = (int64_t)get_u64(v);
	st.overflow = get_u8(v);
	st.max_priority = get_u8(v);
	st.single_active = get_u8(v);
	st.dlx = get_opt_str(v, &st.dlx_len);
	st.dlrk = get_opt_str(v, &st.dlrk_len);
	const uint8_t *args = get_str(v, &alen);
	struct tdm_stream_spec sp;
	if (!v->err && v->pos < v->len && get_u8(v) == 'S') {
		tdm_stream_spec_init(&sp);
		sp.topic = (const char *)get_str(v, &sp.topic_len);
		sp.own_topic = get_u8(v);
		sp.pkey = get_u8(v);
		sp.pkey_header = get_opt_str(v, &sp.pkey_header_len);
		sp.partitions = (int32_t)get_u32(v);
		sp.max_bytes = (int64_t)get_u64(v);
		sp.max_age_ms = (int64_t)get_u64(v);
		sp.segment_bytes = (int64_t)get_u64(v);
		st.stream = &sp;
	}
	if (!vh || k->err || v->err)
		return;
	struct tdm_queue_spec s = { .name = (const char *)name, .name_len = nlen, .durable = 1,
				    .auto_delete = auto_delete, .arguments = args,
				    .arguments_len = alen, .settings = &st };
	struct tdm_queue *q;
	struct tdm_err err;
	if (tdm_queue_declare(vh, &s, &q, &err) == TDM_OK) {
		q->qid = qid;
		if (qid >= d->next_id)
			d->next_id = qid + 1;
	}
}

static void restore_binding(struct tdm_durable *d, struct rbuf *k, struct rbuf *v)
{
	struct tdm_vhost *vh = vhost_of(d, k);
	size_t slen, dlen, klen, nargs;
	const uint8_t *src = get_str(v, &slen);
	uint32_t sid = get_u32(v);
	uint8_t kind = get_u8(v);
	const uint8_t *dst = get_str(v, &dlen);
	uint32_t did = get_u32(v);
	const uint8_t *key = get_str(v, &klen);
	nargs = get_u32(v);
	if (!vh || v->err || nargs > 256)
		return;
	struct ex_hdr args[256];
	for (size_t i = 0; i < nargs; i++) {
		args[i].key = (const char *)get_str(v, &args[i].key_len);
		args[i].type = get_u8(v);
		args[i].val = get_str(v, &args[i].val_len);
	}
	if (v->err)
		return;
	struct tdm_exchange *x = tdm_exchange_find(vh, (const char *)src, slen);
	if (!x || (x->id != sid && !x->builtin))
		return; /* the source went away: the binding with it */
	struct tdm_dest *dest = NULL;
	if (kind == TDM_DEST_QUEUE) {
		struct tdm_queue *q = tdm_map_get(&vh->queues, (const char *)dst, dlen);
		if (q && q->qid == did)
			dest = &q->dest;
	} else {
		struct tdm_exchange *dx = tdm_exchange_find(vh, (const char *)dst, dlen);
		if (dx && (dx->id == did || dx->builtin))
			dest = &dx->dest;
	}
	struct tdm_err err;
	if (dest)
		tdm_bind(x, dest, (const char *)key, klen, args, nargs, &err);
}

/* A NUL-terminated copy of a stored string (NULL on a short record). */
static char *get_cstr(struct rbuf *r)
{
	size_t n;
	const uint8_t *p = get_str(r, &n);
	return p && !r->err ? strndup((const char *)p, n) : NULL;
}

static void restore_vhost(struct tdm_durable *d, struct rbuf *k, struct rbuf *v)
{
	size_t n;
	const uint8_t *name = get_str(k, &n);
	uint8_t present = get_u8(v);
	if (!name || k->err || v->err)
		return;
	if (present)
		tdm_vhost_add(d->b, (const char *)name, n);
	else
		tdm_vhost_drop(d->b, (const char *)name, n);
}

static void restore_user(struct tdm_durable *d, struct rbuf *k, struct rbuf *v)
{
	char *name = get_cstr(k);
	uint8_t present = get_u8(v);
	char *hash = present ? get_cstr(v) : NULL, *tags = present ? get_cstr(v) : NULL;
	char *vhosts = present ? get_cstr(v) : NULL;
	if (name && !present)
		tdm_auth_delete_user(d->b->auth, name);
	else if (name && hash && tags && vhosts &&
		 tdm_auth_restore_user(d->b->auth, name, hash, tags, vhosts, present == 1) != 0)
		tdm_error("durable", "user '%s' could not be restored", name);
	if (hash)
		explicit_bzero(hash, strlen(hash));
	free(name);
	free(hash);
	free(tags);
	free(vhosts);
}

static int restore_topology(struct tdm_durable *d)
{
	struct tdm_map latest;
	tdm_map_init(&latest);
	int rc = replay(d, d->defs, defs_collect, &latest);
	for (char pass = 0; pass < 5 && rc == 0; pass++) {
		/* vhosts and users, exchanges, queues, then bindings */
		static const char order[] = "VUxqb";
		size_t pos = 0;
		const char *key;
		size_t klen;
		void *val;
		while (tdm_map_next(&latest, &pos, &key, &klen, &val)) {
			struct wbuf *w = val;
			if (!klen || key[0] != order[(int)pass])
				continue;
			struct rbuf k = { (const uint8_t *)key, klen, 1, 0 };
			struct rbuf v = { w->p, w->len, 0, 0 };
			if (pass == 0)
				restore_vhost(d, &k, &v);
			else if (pass == 1)
				restore_user(d, &k, &v);
			else if (pass == 2)
				restore_exchange(d, &k, &v);
			else if (pass == 3)
				restore_queue(d, &k, &v);
			else
				restore_binding(d, &k, &v);
		}
	}
	size_t pos = 0;
	void *val;
	while (tdm_map_next(&latest, &pos, NULL, NULL, &val)) {
		free(((struct wbuf *)val)->p);
		free(val);
	}
	tdm_map_free(&latest);
	return rc;
}

/* ---- recovery of messages ------------------------------------------------------ */

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	return x;
}

static int set_add(struct u64set *s, uint64_t key)
{
	if ((s->n + 1) * 2 > s->cap) {
		size_t nc = s->cap ? s->cap * 2 : 1024;
		uint64_t *n = calloc(nc, sizeof(*n));
		if (!n)
			return -1;
		for (size_t i = 0; i < s->cap; i++) {
			if (!s->slots[i])
				continue;
			size_t j = mix(s->slots[i]) & (nc - 1);
			while (n[j])
				j = (j + 1) & (nc - 1);
			n[j] = s->slots[i];
		}
		free(s->slots);
		s->slots = n;
		s->cap = nc;
	}
	key++;
	size_t j = mix(key) & (s->cap - 1);
	while (s->slots[j] && s->slots[j] != key)
		j = (j + 1) & (s->cap - 1);
	if (!s->slots[j]) {
		s->slots[j] = key;
		s->n++;
	}
	return 0;
}

static int set_has(const struct u64set *s, uint64_t key)
{
	if (!s->cap)
		return 0;
	key++;
	size_t j = mix(key) & (s->cap - 1);
	while (s->slots[j]) {
		if (s->slots[j] == key)
			return 1;
		j = (j + 1) & (s->cap - 1);
	}
	return 0;
}

struct jstate {
	struct u64set acked;        /* qid << 40 | offset */
	struct tdm_map queues;      /* qid (4 bytes) -> queue */
	struct tdm_map marks;       /* qid -> delivered mark (heap u64) */
	uint64_t restored;
};

static const struct ls_header *header(const struct ls_record *r, char name)
{
	for (size_t i = 0; i < r->header_count; i++)
		if (r->headers[i].key_len == 1 && r->headers[i].key[0] == name)
			return &r->headers[i];
	return NULL;
}

static int kind_of(const struct ls_record *r)
{
	const struct ls_header *t = header(r, 't');
	return t && t->value_len == 1 ? *(const char *)t->value : 0;
}

static int journal_pass1(struct tdm_durable *d, const struct ls_record *r, void *ctx)
{
	(void)d;
	struct jstate *js = ctx;
	int kind = kind_of(r);
	if (kind != 'A' && kind != 'D')
		return 0;
	struct rbuf v = { r->value, r->value_len, 0, 0 };
	while (v.pos + 12 <= v.len) {
		uint32_t qid = get_u32(&v);
		uint64_t off = get_u64(&v);
		if (kind == 'A') {
			if (set_add(&js->acked, (uint64_t)qid << 40 | (off & 0xffffffffffULL)) < 0)
				return -1;
			continue;
		}
		uint64_t *mark = tdm_map_get(&js->marks, (const char *)&qid, 4);
		if (!mark) {
			if (!(mark = malloc(sizeof(*mark))) ||
			    tdm_map_put(&js->marks, (const char *)&qid, 4, mark) < 0)
				return -1;
			*mark = off;
		} else if (off > *mark) {
			*mark = off;
		}
	}
	return 0;
}

/* The message of an 'E' or 'P' journal record, refcount 1, or NULL. */
static struct tdm_message *message_of(struct tdm_durable *d, const struct ls_record *r)
{
	const struct ls_header *xh = header(r, 'x'), *rh = header(r, 'r'), *hh = header(r, 'h');
	if (!xh || !rh || !hh || xh->value_len > 255 || rh->value_len > 255)
		return NULL;
	struct tdm_message *m = tdm_message_new(xh->value, xh->value_len, rh->value, rh->value_len,
						hh->value, hh->value_len, r->value_len);
	if (!m)
		return NULL;
	memcpy(m->body, r->value, r->value_len);
	m->body_filled = r->value_len;
	m->persistent = kind_of(r) == 'E';
	m->journal_off = r->offset;
	if (d->b->restore_message)
		d->b->restore_message(d->b->restore_ctx, m);
	return m;
}

static int journal_pass2(struct tdm_durable *d, const struct ls_record *r, void *ctx)
{
	struct jstate *js = ctx;
	if (kind_of(r) != 'E')
		return 0;
	const struct ls_header *qh = header(r, 'q');
	if (!qh)
		return 0;
	struct tdm_message *m = NULL;
	struct rbuf qv = { qh->value, qh->value_len, 0, 0 };
	while (qv.pos + 4 <= qv.len) {
		uint32_t qid = get_u32(&qv);
		struct tdm_queue *q = tdm_map_get(&js->queues, (const char *)&qid, 4);
		if (!q || set_has(&js->acked, (uint64_t)qid << 40 | (r->offset & 0xffffffffffULL)))
			continue;
		if (!m && !(m = message_of(d, r)))
			return -1;
		uint64_t *mark = tdm_map_get(&js->marks, (const char *)&qid, 4);
		if (tdm_queue_restore(q, m, mark && r->offset <= *mark) == 0) {
			live_add(d, r->offset, 1);
			js->restored++;
		}
	}
	if (m)
		tdm_message_unref(m);
	return 0;
}

static void index_queue(void *val, struct jstate *js)
{
	struct tdm_queue *q = val;
	if (q->qid)
		tdm_map_put(&js->queues, (const char *)&q->qid, 4, q);
}

int tdm_durable_recover(struct tdm_durable *d, char *err, size_t errlen)
{
	struct jstate js = { 0 };
	int rc;
	d->replaying = 1;
	tdm_map_init(&js.queues);
	tdm_map_init(&js.marks);
	rc = restore_topology(d);
	if (rc < 0) {
		snprintf(err, errlen, "cannot read the durable definitions");
		goto out;
	}
	size_t vpos = 0;
	void *vv;
	while (tdm_map_next(&d->b->vhosts, &vpos, NULL, NULL, &vv)) {
		struct tdm_vhost *vh = vv;
		size_t qpos = 0;
		void *qv;
		while (tdm_map_next(&vh->queues, &qpos, NULL, NULL, &qv))
			index_queue(qv, &js);
	}
	d->live_base = ls_log_start(d->journal) >> BLOCK_SHIFT;
	rc = replay(d, d->journal, journal_pass1, &js);
	if (rc == 0)
		rc = replay(d, d->journal, journal_pass2, &js);
	if (rc < 0)
		snprintf(err, errlen, "cannot read the message journal");
	else
		tdm_info("durable", "recovered %llu messages (journal %llu..%llu)",
			 (unsigned long long)js.restored, (unsigned long long)ls_log_start(d->journal),
			 (unsigned long long)ls_log_end(d->journal));
out:
	d->replaying = 0;
	free(js.acked.slots);
	size_t pos = 0;
	void *mv;
	while (tdm_map_next(&js.marks, &pos, NULL, NULL, &mv))
		free(mv);
	tdm_map_free(&js.marks);
	tdm_map_free(&js.queues);
	return rc;
}

void tdm_durable_close(struct tdm_durable *d)
{
	if (!d)
		return;
	tdm_durable_flush(d);
	if (d->job) { /* the helper thread is gone by now: finish the round here */
		ls_sync_run(d->job);
		sync_done(d);
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
