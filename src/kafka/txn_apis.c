/*
 * The transaction APIs of a producer (Kafka's KIP-98), v0-3 each, v3
 * flexible: AddPartitionsToTxn (24), AddOffsetsToTxn (25), EndTxn (26),
 * TxnOffsetCommit (28).  The coordinator is txn_coord.c (txn.h).
 *
 * Each names a transactional id and the producer id and epoch that
 * InitProducerId gave: an unknown id or another producer id is
 * INVALID_PRODUCER_ID_MAPPING (49), an older epoch INVALID_PRODUCER_EPOCH
 * (47) or, from v2 on (KIP-588), PRODUCER_FENCED (90); while a transaction
 * of the id is being completed, CONCURRENT_TRANSACTIONS (51), which clients
 * retry.  Rights: WRITE on a transactional id is Kafka's; tandem has no
 * such resource, so the rights of an idempotent producer
 * (kf_authz_idempotent_write) stand for it, else
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED (53).
 *
 * AddPartitionsToTxn: every partition must exist (else
 * UNKNOWN_TOPIC_OR_PARTITION) and be writable by the user (else
 * TOPIC_AUTHORIZATION_FAILED); when one fails, the others are answered
 * OPERATION_NOT_ATTEMPTED (55) and none is added, as Kafka does.
 * AddOffsetsToTxn: read on the group (GROUP_AUTHORIZATION_FAILED).
 * TxnOffsetCommit (sent to the group coordinator): read on the group and on
 * each topic; the offsets are kept with the transaction and committed to the
 * group only when it commits.  v3's generation and member, when given, are
 * checked as OffsetCommit checks them.
 * EndTxn: answered once the decision is fsynced and, after it, the markers
 * appended (and a commit's offsets handed to the groups), so a
 * read_committed consumer sees the outcome as soon as the producer does;
 * INVALID_TXN_STATE when no
 * transaction is open (a retried EndTxn whose transaction already ended
 * the same way is answered OK).
 *
 * In a cluster there is no transaction coordinator yet: FindCoordinator
 * finds none, and each of these is answered COORDINATOR_NOT_AVAILABLE.
 *
 * Must not depend on: src/amqp.
 */
#include <stdlib.h>
#include <string.h>

#include "core/groups.h"
#include "core/log.h"
#include "core/topic_ops.h"
#include "kafka/groups_internal.h"
#include "kafka/kf.h"
#include "kafka/txn.h"
#include "net/net.h"

#define STATE_TIMEOUT_MS 5000

int kf_txn_wait_durable(struct kf_conn *kc, uint64_t end, kf_offsets_answer_fn answer, void *ctx,
			struct evbuffer *resp)
{
	return kf_wait_durable(kc, end, STATE_TIMEOUT_MS, kf_txns_waiting, answer, ctx, resp);
}

const char *kf_txn_key(struct kf_conn *kc, const struct kf_str *id)
{
	const char *vh = kf_authz_vhost(kc);
	const char *kafka_vh = kc->srv->cfg && kc->srv->cfg->kafka_vhost ? kc->srv->cfg->kafka_vhost
									  : "/";
	size_t n = id->len > 0 ? (size_t)id->len : 0, k = strcmp(vh, kafka_vh) ? strlen(vh) + 1 : 0;
	char *key;

	if (n == 0 || memchr(id->p, '\0', n) || !(key = kf_arena_alloc(&kc->arena, k + n + 1)))
		return NULL;
	if (k) {
		memcpy(key, vh, k - 1);
		key[k - 1] = '\x1f';
	}
	memcpy(key + k, id->p, n);
	key[k + n] = '\0';
	return key;
}

/* The fenced code of API key at version ver (KIP-588: PRODUCER_FENCED from
 * v2 of the transaction APIs). */
static int fenced_code(int ver)
{
	return ver >= 2 ? KF_ERR_PRODUCER_FENCED : KF_ERR_INVALID_PRODUCER_EPOCH;
}

/* The transaction a request names, checked: KF_ERR_NONE with *t. */
static int16_t txn_of(struct kf_conn *kc, const struct kf_txn_producer *p, struct kf_txn **t)
{
	const char *key;

	int16_t err;

	if (!kc->srv->txns)
		return KF_ERR_COORDINATOR_NOT_AVAILABLE;
	if ((err = kf_txns_coordinator(kc->srv->txns)) != KF_ERR_NONE)
		return err;
	if (!kf_authz_idempotent_write(kc))
		return KF_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
	if (!(key = kf_txn_key(kc, &p->transactional_id)))
		return KF_ERR_INVALID_REQUEST;
	return kf_txns_check(kc->srv->txns, key, p->producer_id, p->producer_epoch,
			     fenced_code(kc->hdr.api_version), t);
}

/* ---- AddPartitionsToTxn ---------------------------------------------------- */

static void put_partition_errs(struct evbuffer *resp, int flex,
			       const struct kf_add_partitions_txn_req *r, const int16_t *errs)
{
	kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_farray(resp, flex, r->ntopics);
	for (int32_t i = 0, k = 0; i < r->ntopics; i++) {
		kf_put_fkstr(resp, flex, r->topics[i].name);
		kf_put_farray(resp, flex, r->topics[i].nparts);
		for (int32_t j = 0; j < r->topics[i].nparts; j++, k++) {
			kf_put_i32(resp, r->topics[i].parts[j]);
			kf_put_i16(resp, errs[k]);
			kf_put_tags(resp, flex);
		}
		kf_put_tags(resp, flex);
	}
	kf_put_tags(resp, flex);
}

/* Each partition's own error (KF_ERR_NONE: it can be added); 1 when any
 * failed. */
static int check_partitions(struct kf_conn *kc, const struct kf_add_partitions_txn_req *r,
			    int16_t *errs)
{
	int failed = 0;

	for (int32_t i = 0, k = 0; i < r->ntopics; i++) {
		const struct kf_txn_topic *tt = &r->topics[i];
		int16_t terr = kf_authz_topic(kc, TDM_PERM_WRITE, tt->name);
		struct ls_topic *topic = terr == KF_ERR_NONE ? kf_topic_lookup(kc, tt->name) : NULL;

		for (int32_t j = 0; j < tt->nparts; j++, k++) {
			errs[k] = terr;
			if (terr == KF_ERR_NONE &&
			    (!topic || tt->parts[j] < 0 || tt->parts[j] >= tdm_topic_partitions(topic)))
				errs[k] = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
			failed |= errs[k] != KF_ERR_NONE;
		}
	}
	return failed;
}

/* Adds r's partitions to t: the state record's end in *end. */
static int16_t add_partitions(struct kf_conn *kc, struct kf_txn *t,
			      const struct kf_add_partitions_txn_req *r, uint64_t *end)
{
	int16_t err = KF_ERR_NONE;

	for (int32_t i = 0; i < r->ntopics && err == KF_ERR_NONE; i++) {
		struct ls_topic *topic = kf_topic_lookup(kc, r->topics[i].name);
		for (int32_t j = 0; j < r->topics[i].nparts && err == KF_ERR_NONE; j++)
			err = kf_txns_add_partition(kc->srv->txns, t, tdm_topic_name(topic),
						    r->topics[i].parts[j]);
	}
	return err == KF_ERR_NONE ? kf_txns_persist(kc->srv->txns, t, end) : err;
}

/* AddPartitionsToTxn's answer, once the partitions are durably in the
 * transaction. */
struct add_answer {
	struct kf_add_partitions_txn_req r;
	int16_t *errs;
	int32_t total;
};

static void add_answer(struct kf_conn *kc, struct evbuffer *resp, void *ctx, int16_t err)
{
	struct add_answer *a = ctx;

	for (int32_t k = 0; err != KF_ERR_NONE && k < a->total; k++)
		a->errs[k] = err;
	put_partition_errs(resp, kf_flex(kc), &a->r, a->errs);
}

int kf_h_add_partitions_to_txn(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_add_partitions_txn_req r;
	struct kf_txn *t = NULL;
	int32_t total = 0;

	if (kf_decode_add_partitions_txn(cur, kc->hdr.api_version, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	for (int32_t i = 0; i < r.ntopics; i++)
		total += r.topics[i].nparts;
	int16_t *errs = kf_arena_alloc(&kc->arena, (size_t)(total ? total : 1) * sizeof(*errs));
	if (!errs)
		return KF_R_CLOSE;
	int16_t err = txn_of(kc, &r.prod, &t);
	if (err == KF_ERR_NONE && check_partitions(kc, &r, errs)) {
		for (int32_t k = 0; k < total; k++)
			if (errs[k] == KF_ERR_NONE)
				errs[k] = KF_ERR_OPERATION_NOT_ATTEMPTED;
		put_partition_errs(resp, kf_flex(kc), &r, errs);
		return KF_R_DONE;
	}
	uint64_t end = 0;
	struct add_answer *a = kf_arena_alloc(&kc->arena, sizeof(*a));
	if (!a)
		return KF_R_CLOSE;
	*a = (struct add_answer){ r, errs, total };
	for (int32_t k = 0; k < total; k++)
		errs[k] = KF_ERR_NONE;
	if (err == KF_ERR_NONE)
		err = add_partitions(kc, t, &r, &end);
	if (err != KF_ERR_NONE) {
		add_answer(kc, resp, a, err);
		return KF_R_DONE;
	}
	/* a producer writes to the partitions once this is answered: a new
	 * coordinator (restart, failover) must know them, to end them */
	return kf_txn_wait_durable(kc, end, add_answer, a, resp);
}

/* ---- AddOffsetsToTxn ------------------------------------------------------- */

static void put_error(struct evbuffer *resp, int flex, int16_t err)
{
	kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_i16(resp, err);
	kf_put_tags(resp, flex);
}

static void error_answer(struct kf_conn *kc, struct evbuffer *resp, void *ctx, int16_t err)
{
	(void)ctx;
	put_error(resp, kf_flex(kc), err);
}

int kf_h_add_offsets_to_txn(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_add_offsets_txn_req r;
	struct kf_txn *t = NULL;

	if (kf_decode_add_offsets_txn(cur, kc->hdr.api_version, &r) < 0)
		return KF_R_CLOSE;
	int16_t err = txn_of(kc, &r.prod, &t);
	if (err == KF_ERR_NONE)
		err = r.group_id.len > 0 ? kf_authz_group(kc, &r.group_id) : KF_ERR_INVALID_GROUP_ID;
	if (err == KF_ERR_NONE) {
		/* Kafka adds the group's offsets partition; here the offsets wait in
		 * memory with the transaction: it only has to be open */
		if (t->state != KF_TXN_ONGOING) {
			uint64_t end = 0;
			t->state = KF_TXN_ONGOING;
			t->start_ms = kf_groups_mono_ms();
			err = kf_txns_persist(kc->srv->txns, t, &end);
			if (err == KF_ERR_NONE)
				return kf_txn_wait_durable(kc, end, error_answer, NULL, resp);
		}
	}
	put_error(resp, kf_flex(kc), err);
	return KF_R_DONE;
}

/* ---- TxnOffsetCommit ------------------------------------------------------- */

static void put_offset_errs(struct evbuffer *resp, int flex, const struct kf_txn_offset_commit_req *r,
			    const int16_t *errs, int16_t err)
{
	kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_farray(resp, flex, r->ntopics);
	for (int32_t i = 0, k = 0; i < r->ntopics; i++) {
		kf_put_fkstr(resp, flex, r->topics[i].name);
		kf_put_farray(resp, flex, r->topics[i].nparts);
		for (int32_t j = 0; j < r->topics[i].nparts; j++, k++) {
			kf_put_i32(resp, r->topics[i].parts[j].index);
			kf_put_i16(resp, err != KF_ERR_NONE ? err : errs[k]);
			kf_put_tags(resp, flex);
		}
		kf_put_tags(resp, flex);
	}
	kf_put_tags(resp, flex);
}

/* TxnOffsetCommit's answer, once its offsets are durably in the
 * transaction. */
struct offsets_answer {
	struct kf_txn_offset_commit_req r;
	int16_t *errs;
};

static void offsets_answer(struct kf_conn *kc, struct evbuffer *resp, void *ctx, int16_t err)
{
	struct offsets_answer *a = ctx;

	put_offset_errs(resp, kf_flex(kc), &a->r, a->errs, err);
}

/* The request's generation and member (v3), checked as OffsetCommit
 * checks them; a generation of -1 without a member is not checked. */
static int16_t check_member(struct kf_conn *kc, const struct kf_txn_offset_commit_req *r,
			    struct kf_str gid)
{
	if (r->generation_id < 0 && r->member_id.len <= 0)
		return KF_ERR_NONE;
	return kf_groups_check_commit(kc->srv->groups, gid, r->generation_id, r->member_id,
				      r->instance);
}

static void offset_errs(struct kf_conn *kc, struct kf_txn *t,
			const struct kf_txn_offset_commit_req *r, const char *group, int16_t *errs)
{
	for (int32_t i = 0, k = 0; i < r->ntopics; i++) {
		const struct kf_txn_offset_topic *tt = &r->topics[i];
		int16_t terr = kf_authz_topic(kc, TDM_PERM_READ, tt->name);
		struct ls_topic *topic = terr == KF_ERR_NONE ? kf_topic_lookup(kc, tt->name) : NULL;

		for (int32_t j = 0; j < tt->nparts; j++, k++) {
			const struct kf_txn_offset_part *p = &tt->parts[j];
			char meta[4097];

			errs[k] = terr;
			if (errs[k] != KF_ERR_NONE)
				continue;
			if (!topic || p->index < 0 || p->index >= tdm_topic_partitions(topic)) {
				errs[k] = KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			if (p->metadata.len >= (int32_t)sizeof(meta)) {
				errs[k] = KF_ERR_OFFSET_METADATA_TOO_LARGE;
				continue;
			}
			if (p->metadata.len >= 0) {
				memcpy(meta, p->metadata.p, (size_t)p->metadata.len);
				meta[p->metadata.len] = '\0';
			}
			errs[k] = kf_txns_add_offset(t, group, tdm_topic_name(topic), p->index,
						     p->offset, p->metadata.len >= 0 ? meta : NULL);
		}
	}
}

int kf_h_txn_offset_commit(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_txn_offset_commit_req r;
	struct kf_txn *t = NULL;
	struct kf_str gid;
	char group[1024];
	int32_t total = 0;

	if (kf_decode_txn_offset_commit(cur, kc->hdr.api_version, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	for (int32_t i = 0; i < r.ntopics; i++)
		total += r.topics[i].nparts;
	int16_t *errs = kf_arena_alloc(&kc->arena, (size_t)(total ? total : 1) * sizeof(*errs));
	if (!errs)
		return KF_R_CLOSE;
	gid = r.group_id;
	int16_t err = gid.len > 0 ? kf_authz_group(kc, &gid) : KF_ERR_INVALID_GROUP_ID;
	if (err == KF_ERR_NONE && (size_t)gid.len >= sizeof(group))
		err = KF_ERR_INVALID_GROUP_ID;
	if (err == KF_ERR_NONE) {
		memcpy(group, gid.p, (size_t)gid.len);
		group[gid.len] = '\0';
		err = txn_of(kc, &r.prod, &t);
	}
	if (err == KF_ERR_NONE && t->state != KF_TXN_ONGOING)
		err = KF_ERR_INVALID_TXN_STATE; /* AddOffsetsToTxn comes first */
	if (err == KF_ERR_NONE)
		err = check_member(kc, &r, gid);
	if (err == KF_ERR_NONE)
		offset_errs(kc, t, &r, group, errs);
	uint64_t end = 0;
	if (err == KF_ERR_NONE && total > 0)
		err = kf_txns_persist(kc->srv->txns, t, &end);
	if (err != KF_ERR_NONE || total == 0) {
		put_offset_errs(resp, kf_flex(kc), &r, errs, err);
		return KF_R_DONE;
	}
	/* kept in the transaction's state record: a new coordinator commits
	 * them with it */
	struct offsets_answer *a = kf_arena_alloc(&kc->arena, sizeof(*a));
	if (!a)
		return KF_R_CLOSE;
	*a = (struct offsets_answer){ r, errs };
	return kf_txn_wait_durable(kc, end, offsets_answer, a, resp);
}

/* ---- EndTxn ---------------------------------------------------------------- */

/* The decision is durable (or failed): its markers go out first. */
static void end_answer(struct kf_conn *kc, struct evbuffer *resp, void *ctx, int16_t err)
{
	if (err == KF_ERR_NONE)
		kf_txns_progress(kc->srv->txns, ctx);
	put_error(resp, kf_flex(kc), err);
}

int kf_h_end_txn(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_end_txn_req r;
	struct kf_txn *t = NULL;

	if (kf_decode_end_txn(cur, kc->hdr.api_version, &r) < 0)
		return KF_R_CLOSE;
	int16_t err = txn_of(kc, &r.prod, &t);
	if (err == KF_ERR_NONE && t->state != KF_TXN_ONGOING) {
		/* a retry of an EndTxn that went through is answered as it was */
		int same = t->state == (r.committed ? KF_TXN_COMPLETE_COMMIT : KF_TXN_COMPLETE_ABORT);
		err = same ? KF_ERR_NONE : KF_ERR_INVALID_TXN_STATE;
		put_error(resp, kf_flex(kc), err);
		return KF_R_DONE;
	}
	if (err == KF_ERR_NONE)
		err = kf_txns_end(kc->srv->txns, t, r.committed != 0);
	if (err != KF_ERR_NONE) {
		put_error(resp, kf_flex(kc), err);
		return KF_R_DONE;
	}
	const char *key = kf_txn_key(kc, &r.prod.transactional_id); /* outlives t */
	if (!key)
		return KF_R_CLOSE;
	return kf_txn_wait_durable(kc, t->decided_end, end_answer, (void *)key, resp);
}
