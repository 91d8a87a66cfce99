/*
 * Durable topology: exchanges, queues (with their settings and stream
 * logs), bindings between durable ends, vhosts and users, one record each
 * in the compacted topic "__definitions", keyed by kind and name, a
 * tombstone when it goes.  Each change is on disk (ls_append then ls_sync)
 * before the client hears its "ok": the client must not hear "ok" for
 * something a crash could forget.  durable_recover.c reads these records
 * back; the two must agree on the layout.
 *
 * Must not depend on: the journal (pending records, fsync rounds, live
 * counts), libevent, protocol front ends.
 */
#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/broker.h"
#include "core/defs.h"
#include "core/durable_internal.h"
#include "core/quorum.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/scram.h"
#include "core/stream.h"

/* Vhosts, users and limits are the cluster's (core/defs.h): their records
 * are proposed as they are written. */
static int shared_kind(const struct wbuf *key)
{
	return key->len && (key->p[0] == 'V' || key->p[0] == 'U' || key->p[0] == 'L');
}

int dur_defs_write(struct tdm_durable *d, const struct wbuf *key, const struct wbuf *val)
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
	if (rc == LS_OK && val && shared_kind(key) && tdm_defs_clustered(d->b) &&
	    tdm_defs_share(d->b, key->p, key->len, val->p, val->len) < 0)
		return -1;
	return rc == LS_OK ? 0 : -1;
}

uint64_t tdm_durable_cluster_applied(const struct tdm_durable *d)
{
	return d ? d->cluster_applied : 0;
}

int tdm_durable_cluster_set_applied(struct tdm_durable *d, uint64_t off)
{
	if (!d)
		return 0;
	struct wbuf k = { 0 }, v = { 0 };
	dur_put_u8(&k, 'C');
	dur_put_u64(&v, off);
	int rc = dur_defs_write(d, &k, &v);
	free(k.p);
	free(v.p);
	if (rc == 0)
		d->cluster_applied = off;
	return rc;
}

static void name_key(struct wbuf *k, char kind, const char *vhost, const char *name, size_t len)
{
	dur_put_u8(k, (uint8_t)kind);
	dur_put_str(k, vhost, strlen(vhost));
	dur_put_str(k, name, len);
}

int tdm_durable_exchange_put(struct tdm_durable *d, struct tdm_exchange *x)
{
	if (!d || !x->durable || x->builtin)
		return 0;
	if (!x->id)
		x->id = d->next_id++;
	struct wbuf k = { 0 }, v = { 0 };
	name_key(&k, 'x', x->vhost->name, x->name, x->name_len);
	dur_put_u32(&v, x->id);
	dur_put_u8(&v, (uint8_t)x->type);
	dur_put_u8(&v, (uint8_t)(x->auto_delete | x->internal << 1));
	dur_put_str(&v, x->arguments, x->arguments_len);
	int rc = dur_defs_write(d, &k, &v);
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
	int rc = dur_defs_write(d, &k, NULL);
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
	dur_put_u8(&k, 'V');
	dur_put_str(&k, name, len);
	dur_put_u8(&v, (uint8_t)!!present);
	int rc = dur_defs_write(d, &k, &v);
	free(k.p);
	free(v.p);
	return rc;
}

static void put_perm(const struct tdm_perm_info *p, void *ctx)
{
	struct wbuf *v = ctx;
	dur_put_u8(v, p->vhost == NULL); /* 1: the every-vhost entry */
	dur_put_str(v, p->vhost ? p->vhost : "", p->vhost ? strlen(p->vhost) : 0);
	dur_put_str(v, p->configure, strlen(p->configure));
	dur_put_str(v, p->write, strlen(p->write));
	dur_put_str(v, p->read, strlen(p->read));
}

static void put_topic_perm(const struct tdm_topic_perm_info *t, void *ctx)
{
	struct wbuf *v = ctx;
	dur_put_str(v, t->vhost, strlen(t->vhost));
	dur_put_str(v, t->exchange, strlen(t->exchange));
	dur_put_str(v, t->write, strlen(t->write));
	dur_put_str(v, t->read, strlen(t->read));
}

static void count_perm(const struct tdm_perm_info *p, void *ctx)
{
	(void)p;
	(*(uint32_t *)ctx)++;
}

static void count_topic_perm(const struct tdm_topic_perm_info *t, void *ctx)
{
	(void)t;
	(*(uint32_t *)ctx)++;
}

/*
 * A user's whole record, version 3: hash, tags, SCRAM credentials (so
 * SCRAM logins survive a restart, as Kafka keeps them), permissions and
 * topic permissions.  Versions 1 and 2 (older data directories) held a
 * vhost list instead, restored as ".*" on each (durable_recover.c).
 */
int tdm_durable_user(struct tdm_durable *d, const char *name)
{
	if (!d)
		return 0;
	struct tdm_auth *a = d->b->auth;
	char hash[49];
	const char *tags = "", *vhosts = "";
	int present = tdm_auth_user_record(a, name, hash, &tags, &vhosts) == 0;
	struct tdm_scram_cred cred[TDM_SCRAM_NMECH];
	int scram = present;
	struct wbuf k = { 0 }, v = { 0 };
	dur_put_u8(&k, 'U');
	dur_put_str(&k, name, strlen(name));
	dur_put_u8(&v, present ? 3 : 0);
	if (present) {
		uint32_t np = 0, nt = 0;
		dur_put_str(&v, hash, strlen(hash));
		dur_put_str(&v, tags, strlen(tags));
		for (int m = 0; m < TDM_SCRAM_NMECH && scram; m++)
			scram = tdm_auth_scram_cred(a, name, m, &cred[m]) == 0;
		dur_put_u8(&v, scram ? TDM_SCRAM_NMECH : 0);
		for (int m = 0; m < TDM_SCRAM_NMECH && scram; m++) {
			size_t hl = tdm_scram_hash_len((enum tdm_scram_mech)m);
			dur_put_str(&v, cred[m].salt, cred[m].salt_len);
			dur_put_u32(&v, cred[m].iterations);
			dur_put_str(&v, cred[m].stored_key, hl);
			dur_put_str(&v, cred[m].server_key, hl);
		}
		tdm_auth_foreach_permission(a, name, count_perm, &np);
		dur_put_u32(&v, np);
		tdm_auth_foreach_permission(a, name, put_perm, &v);
		tdm_auth_foreach_topic_permission(a, name, count_topic_perm, &nt);
		dur_put_u32(&v, nt);
		tdm_auth_foreach_topic_permission(a, name, put_topic_perm, &v);
	}
	int rc = dur_defs_write(d, &k, &v);
	explicit_bzero(hash, sizeof(hash));
	explicit_bzero(cred, sizeof(cred));
	if (v.p)
		explicit_bzero(v.p, v.len);
	free(k.p);
	free(v.p);
	return rc;
}

/* Limits changed at run time: 'L' records keyed by scope, owner and field;
 * like 'V' and 'U', a removal is a record (present 0) that outlives
 * compaction, so a limit from tandem.conf removed over the API stays so. */
int tdm_durable_limit(struct tdm_durable *d, int scope, const char *owner, const char *field)
{
	if (!d)
		return 0;
	int64_t value = 0;
	int present = tdm_limits_lookup(d->b->limits, scope, owner, field, &value);
	struct wbuf k = { 0 }, v = { 0 };
	dur_put_u8(&k, 'L');
	dur_put_u8(&k, (uint8_t)scope);
	dur_put_str(&k, owner, strlen(owner));
	dur_put_str(&k, field, strlen(field));
	dur_put_u8(&v, (uint8_t)present);
	dur_put_u64(&v, (uint64_t)value);
	int rc = dur_defs_write(d, &k, &v);
	free(k.p);
	free(v.p);
	return rc;
}

static void put_opt_str(struct wbuf *v, const char *s)
{
	dur_put_u8(v, s != NULL);
	dur_put_str(v, s ? s : "", s ? strlen(s) : 0);
}

/* A stream queue's log: 'S', topic, own, partition key, partitions, retention. */
static void put_stream(struct wbuf *v, const struct tdm_queue *q)
{
	struct tdm_stream_spec sp;
	tdm_stream_get_spec(q, &sp);
	dur_put_u8(v, 'S');
	dur_put_str(v, sp.topic, sp.topic_len);
	dur_put_u8(v, sp.own_topic);
	dur_put_u8(v, sp.pkey);
	dur_put_u8(v, sp.pkey_header != NULL);
	dur_put_str(v, sp.pkey_header ? sp.pkey_header : "", sp.pkey_header ? sp.pkey_header_len : 0);
	dur_put_u32(v, (uint32_t)sp.partitions);
	dur_put_u64(v, (uint64_t)sp.max_bytes);
	dur_put_u64(v, (uint64_t)sp.max_age_ms);
	dur_put_u64(v, (uint64_t)sp.segment_bytes);
}

int tdm_durable_queue_put(struct tdm_durable *d, struct tdm_queue *q)
{
	if (!d || !q->durable || q->exclusive)
		return 0;
	if (!q->qid)
		q->qid = d->next_id++;
	struct wbuf k = { 0 }, v = { 0 };
	name_key(&k, 'q', q->vhost->name, q->name, q->name_len);
	dur_put_u32(&v, q->qid);
	dur_put_u8(&v, q->auto_delete);
	dur_put_u64(&v, (uint64_t)q->max_length);
	dur_put_u64(&v, (uint64_t)q->max_length_bytes);
	dur_put_u64(&v, (uint64_t)q->message_ttl);
	dur_put_u64(&v, (uint64_t)q->expires_ms);
	dur_put_u8(&v, q->overflow);
	dur_put_u8(&v, q->max_priority);
	dur_put_u8(&v, q->single_active);
	put_opt_str(&v, q->dlx);
	put_opt_str(&v, q->dlrk);
	dur_put_str(&v, q->arguments, q->arguments_len);
	if (q->stream) /* an optional trailing section: records without it are classic */
		put_stream(&v, q);
	if (q->quorum) { /* or this one */
		int32_t gs;
		int64_t limit;
		tdm_quorum_settings(q, &gs, &limit);
		dur_put_u8(&v, 'Q');
		dur_put_u32(&v, (uint32_t)gs);
		dur_put_u64(&v, (uint64_t)limit);
	}
	int rc = dur_defs_write(d, &k, &v);
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
	int rc = dur_defs_write(d, &k, NULL);
	free(k.p);
	return rc;
}

/* A binding's identity and content: source and destination with the ids of
 * their current incarnations (so a binding never outlives either end: a
 * later object of the same name has another id), key and arguments. */
static void binding_body(struct wbuf *v, struct tdm_exchange *src, struct tdm_dest *dst,
			 const char *key, size_t key_len, const struct ex_hdr *args, size_t nargs)
{
	dur_put_str(v, src->name, src->name_len);
	dur_put_u32(v, src->id);
	dur_put_u8(v, dst->kind);
	if (dst->kind == TDM_DEST_QUEUE) {
		struct tdm_queue *q = (struct tdm_queue *)dst;
		dur_put_str(v, q->name, q->name_len);
		dur_put_u32(v, q->qid);
	} else {
		struct tdm_exchange *x = (struct tdm_exchange *)dst;
		dur_put_str(v, x->name, x->name_len);
		dur_put_u32(v, x->id);
	}
	dur_put_str(v, key, key_len);
	dur_put_u32(v, (uint32_t)nargs);
	for (size_t i = 0; i < nargs; i++) {
		dur_put_str(v, args[i].key, args[i].key_len);
		dur_put_u8(v, args[i].type);
		dur_put_str(v, args[i].val, args[i].val_len);
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
	dur_put_u8(&k, 'b');
	dur_put_str(&k, src->vhost->name, strlen(src->vhost->name));
	dur_put(&k, body.p, body.len);
	int rc = dur_defs_write(d, &k, bind ? &body : NULL);
	free(k.p);
	free(body.p);
	return rc;
}
