/*
 * Recovery at startup, before any listener opens: replays "__definitions"
 * (latest record per key: vhosts and users, exchanges, queues, then
 * bindings) and then "__journal" twice (acks and delivery marks first, then
 * the messages still owed to a durable queue, flagged redelivered when a
 * consumer had been handed them).  d->replaying is set meanwhile, so what
 * the restore calls into does not write new records.
 *
 * Must not depend on: the journal's write path (no appends, no fsyncs),
 * libevent, protocol front ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/broker.h"
#include "core/durable_internal.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/scram.h"
#include "core/stream.h"

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
	dur_put(copy, r->value, r->value_len);
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
	const uint8_t *name = dur_get_str(k, &n);
	return name ? tdm_vhost_find(d->b, (const char *)name, n) : NULL;
}

static void restore_exchange(struct tdm_durable *d, struct rbuf *k, struct rbuf *v)
{
	struct tdm_vhost *vh = vhost_of(d, k);
	size_t nlen, alen;
	const uint8_t *name = dur_get_str(k, &nlen);
	uint32_t id = dur_get_u32(v);
	uint8_t type = dur_get_u8(v), flags = dur_get_u8(v);
	const uint8_t *args = dur_get_str(v, &alen);
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
	uint8_t present = dur_get_u8(v);
	const uint8_t *s = dur_get_str(v, n);
	return present ? (const char *)s : NULL;
}

static void restore_queue(struct tdm_durable *d, struct rbuf *k, struct rbuf *v)
{
	struct tdm_vhost *vh = vhost_of(d, k);
	size_t nlen, alen;
	const uint8_t *name = dur_get_str(k, &nlen);
	struct tdm_queue_settings st;
	tdm_queue_settings_init(&st);
	uint32_t qid = dur_get_u32(v);
	uint8_t auto_delete = dur_get_u8(v);
	st.max_length = (int64_t)dur_get_u64(v);
	st.max_length_bytes = (int64_t)dur_get_u64(v);
	st.message_ttl = (int64_t)dur_get_u64(v);
	st.expires = (int64_t)dur_get_u64(v);
	st.overflow = dur_get_u8(v);
	st.max_priority = dur_get_u8(v);
	st.single_active = dur_get_u8(v);
	st.dlx = get_opt_str(v, &st.dlx_len);
	st.dlrk = get_opt_str(v, &st.dlrk_len);
	const uint8_t *args = dur_get_str(v, &alen);
	struct tdm_stream_spec sp;
	uint8_t tag = !v->err && v->pos < v->len ? dur_get_u8(v) : 0;
	if (tag == 'Q') { /* a quorum queue: its log has the rest */
		st.quorum = 1;
		st.group_size = (int32_t)dur_get_u32(v);
		st.delivery_limit = (int64_t)dur_get_u64(v);
	}
	if (tag == 'S') {
		tdm_stream_spec_init(&sp);
		sp.topic = (const char *)dur_get_str(v, &sp.topic_len);
		sp.own_topic = dur_get_u8(v);
		sp.pkey = dur_get_u8(v);
		sp.pkey_header = get_opt_str(v, &sp.pkey_header_len);
		sp.partitions = (int32_t)dur_get_u32(v);
		sp.max_bytes = (int64_t)dur_get_u64(v);
		sp.max_age_ms = (int64_t)dur_get_u64(v);
		sp.segment_bytes = (int64_t)dur_get_u64(v);
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
	const uint8_t *src = dur_get_str(v, &slen);
	uint32_t sid = dur_get_u32(v);
	uint8_t kind = dur_get_u8(v);
	const uint8_t *dst = dur_get_str(v, &dlen);
	uint32_t did = dur_get_u32(v);
	const uint8_t *key = dur_get_str(v, &klen);
	nargs = dur_get_u32(v);
	if (!vh || v->err || nargs > 256)
		return;
	struct ex_hdr args[256];
	for (size_t i = 0; i < nargs; i++) {
		args[i].key = (const char *)dur_get_str(v, &args[i].key_len);
		args[i].type = dur_get_u8(v);
		args[i].val = dur_get_str(v, &args[i].val_len);
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
	const uint8_t *p = dur_get_str(r, &n);
	return p && !r->err ? strndup((const char *)p, n) : NULL;
}

static void restore_vhost(struct tdm_durable *d, struct rbuf *k, struct rbuf *v)
{
	size_t n;
	const uint8_t *name = dur_get_str(k, &n);
	uint8_t present = dur_get_u8(v);
	if (!name || k->err || v->err)
		return;
	if (present)
		tdm_vhost_add(d->b, (const char *)name, n);
	else
		tdm_vhost_drop(d->b, (const char *)name, n);
}

/* A vhost made or deleted on another node of the cluster: deleted here as
 * a client's deletion would (its connections closed, its objects gone). */
static int apply_vhost(struct tdm_durable *d, struct rbuf *k, struct rbuf *v)
{
	size_t n;
	const uint8_t *name = dur_get_str(k, &n);
	uint8_t present = dur_get_u8(v);
	if (!name || k->err || v->err)
		return -1;
	struct tdm_vhost *vh = tdm_vhost_find(d->b, (const char *)name, n);
	struct tdm_err e;
	if (present)
		return vh || tdm_vhost_add(d->b, (const char *)name, n) ? 0 : -1;
	return !vh || tdm_vhost_delete(d->b, vh, &e) == TDM_OK ? 0 : -1;
}

/* Version 3's SCRAM credentials, permissions and topic permissions (see
 * tdm_durable_user).  0, or -1 on a short or bad record. */
static int restore_user_v3(struct tdm_durable *d, const char *name, struct rbuf *v)
{
	struct tdm_auth *a = d->b->auth;
	struct tdm_scram_cred cred[TDM_SCRAM_NMECH];
	uint8_t nscram = dur_get_u8(v);
	int rc = 0;
	char err[256];

	memset(cred, 0, sizeof(cred));
	if (nscram != 0 && nscram != TDM_SCRAM_NMECH)
		return -1;
	for (int m = 0; m < nscram; m++) {
		size_t sl, kl, xl, hl = tdm_scram_hash_len((enum tdm_scram_mech)m);
		const uint8_t *salt = dur_get_str(v, &sl);
		cred[m].iterations = dur_get_u32(v);
		const uint8_t *sk = dur_get_str(v, &kl);
		const uint8_t *xk = dur_get_str(v, &xl);
		if (!salt || !sk || !xk || v->err || sl > sizeof(cred[m].salt) || kl != hl ||
		    xl != hl)
			return -1;
		memcpy(cred[m].salt, salt, sl);
		cred[m].salt_len = sl;
		memcpy(cred[m].stored_key, sk, hl);
		memcpy(cred[m].server_key, xk, hl);
	}
	if (nscram)
		tdm_auth_restore_scram(a, name, cred);
	explicit_bzero(cred, sizeof(cred));
	tdm_auth_reset_permissions(a, name);
	uint32_t np = dur_get_u32(v);
	for (uint32_t i = 0; i < np && !v->err && rc == 0; i++) {
		uint8_t all = dur_get_u8(v);
		char *vh = get_cstr(v), *c = get_cstr(v), *w = get_cstr(v), *r = get_cstr(v);
		rc = vh && c && w && r ? tdm_auth_set_permissions(a, name, all ? NULL : vh, c, w, r,
								  err, sizeof(err))
				       : -1;
		free(vh);
		free(c);
		free(w);
		free(r);
	}
	uint32_t nt = rc == 0 ? dur_get_u32(v) : 0;
	for (uint32_t i = 0; i < nt && !v->err && rc == 0; i++) {
		char *vh = get_cstr(v), *x = get_cstr(v), *w = get_cstr(v), *r = get_cstr(v);
		rc = vh && x && w && r ? tdm_auth_set_topic_permissions(a, name, vh, x, w, r, err,
									sizeof(err))
				       : -1;
		free(vh);
		free(x);
		free(w);
		free(r);
	}
	return rc == 0 && !v->err ? 0 : -1;
}

/* 'U': version 0 a deletion; 1 and 2 (older data directories) a vhost
 * list, raw or escaped, each vhost getting ".*"; 3 everything. */
static void restore_user(struct tdm_durable *d, struct rbuf *k, struct rbuf *v)
{
	char *name = get_cstr(k);
	uint8_t present = dur_get_u8(v);
	char *hash = present ? get_cstr(v) : NULL, *tags = present ? get_cstr(v) : NULL;
	char *vhosts = present == 1 || present == 2 ? get_cstr(v) : NULL;
	if (name && !present)
		tdm_auth_delete_user(d->b->auth, name);
	else if (!name || !hash || !tags || (present < 3 && !vhosts) ||
		 tdm_auth_restore_user(d->b->auth, name, hash, tags, vhosts ? vhosts : "",
				       present == 1) != 0 ||
		 (present == 3 && restore_user_v3(d, name, v) != 0))
		tdm_error("durable", "user '%s' could not be restored", name ? name : "?");
	if (hash)
		explicit_bzero(hash, strlen(hash));
	free(name);
	free(hash);
	free(tags);
	free(vhosts);
}

static void restore_limit(struct tdm_durable *d, struct rbuf *k, struct rbuf *v)
{
	uint8_t scope = dur_get_u8(k);
	char *owner = get_cstr(k), *field = get_cstr(k);
	uint8_t present = dur_get_u8(v);
	int64_t value = (int64_t)dur_get_u64(v);
	if (owner && field && !v->err) {
		if (present)
			tdm_limits_set(d->b->limits, scope, owner, field, value);
		else
			tdm_limits_clear(d->b->limits, scope, owner, field);
	}
	free(owner);
	free(field);
}

int tdm_durable_apply_state(struct tdm_durable *d, const void *key, size_t klen,
			    const void *val, size_t vlen)
{
	if (!d || !klen)
		return -1;
	struct wbuf k = { 0 }, v = { 0 };
	dur_put(&k, key, klen);
	dur_put(&v, val, vlen);
	int rc = k.err || v.err ? -1 : 0;
	if (rc == 0) /* kept as this node's own record, as the proposer keeps it */
		rc = dur_defs_write(d, &k, &v);
	struct rbuf rk = { key, klen, 1, 0 }, rv = { val, vlen, 0, 0 };
	char kind = ((const char *)key)[0];
	d->replaying = 1; /* what the restore calls writes no record of its own */
	if (rc == 0 && kind == 'U')
		restore_user(d, &rk, &rv);
	else if (rc == 0 && kind == 'L')
		restore_limit(d, &rk, &rv);
	d->replaying = 0;
	if (rc == 0 && kind == 'V')
		rc = apply_vhost(d, &rk, &rv);
	free(k.p);
	free(v.p);
	return rc;
}

static int restore_topology(struct tdm_durable *d)
{
	struct tdm_map latest;
	tdm_map_init(&latest);
	int rc = replay(d, d->defs, defs_collect, &latest);
	for (char pass = 0; pass < 6 && rc == 0; pass++) {
		/* vhosts and users, exchanges, queues, bindings, then limits */
		static const char order[] = "VUxqbL";
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
			else if (pass == 4)
				restore_binding(d, &k, &v);
			else
				restore_limit(d, &k, &v);
		}
	}
	size_t pos = 0;
	void *val;
	struct wbuf *applied = tdm_map_get(&latest, "C", 1);
	if (applied) { /* core/defs.h: how far the cluster's definitions were applied */
		struct rbuf v = { applied->p, applied->len, 0, 0 };
		uint64_t off = dur_get_u64(&v);
		if (!v.err)
			d->cluster_applied = off;
	}
	while (tdm_map_next(&latest, &pos, NULL, NULL, &val)) {
		free(((struct wbuf *)val)->p);
		free(val);
	}
	tdm_map_free(&latest);
	return rc;
}

/* ---- recovery of messages ------------------------------------------------------ */

struct u64set {
	uint64_t *slots;          /* 0 = empty; keys stored +1 */
	size_t cap, n;
};

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

static int journal_pass1(struct tdm_durable *d, const struct ls_record *r, void *ctx)
{
	(void)d;
	struct jstate *js = ctx;
	int kind = tdm_record_kind(r);
	if (kind != 'A' && kind != 'D')
		return 0;
	struct rbuf v = { r->value, r->value_len, 0, 0 };
	while (v.pos + 12 <= v.len) {
		uint32_t qid = dur_get_u32(&v);
		uint64_t off = dur_get_u64(&v);
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

static int journal_pass2(struct tdm_durable *d, const struct ls_record *r, void *ctx)
{
	struct jstate *js = ctx;
	if (tdm_record_kind(r) != 'E')
		return 0;
	const struct ls_header *qh = tdm_record_header(r, 'q');
	if (!qh)
		return 0;
	struct tdm_message *m = NULL;
	struct rbuf qv = { qh->value, qh->value_len, 0, 0 };
	while (qv.pos + 4 <= qv.len) {
		uint32_t qid = dur_get_u32(&qv);
		struct tdm_queue *q = tdm_map_get(&js->queues, (const char *)&qid, 4);
		if (!q || set_has(&js->acked, (uint64_t)qid << 40 | (r->offset & 0xffffffffffULL)))
			continue;
		if (!m && !(m = dur_message_of(d, r)))
			return -1;
		uint64_t *mark = tdm_map_get(&js->marks, (const char *)&qid, 4);
		if (tdm_queue_restore(q, m, mark && r->offset <= *mark) == 0) {
			dur_live_add(d, r->offset, 1);
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
