/*
 * Decoders of the transaction APIs' requests (Kafka's KIP-98), from their
 * message schemas: AddPartitionsToTxn, AddOffsetsToTxn, EndTxn and
 * TxnOffsetCommit, v0-3 each, v3 flexible (compact strings and arrays,
 * tagged fields at the end of every struct); WriteTxnMarkers v0-1, v1
 * flexible.  Arrays live in the
 * request's arena; strings are slices of the frame.  Each returns 0 or
 * KF_BAD (short, a count past the end, trailing bytes).
 *
 * Must not depend on anything but libc and decode.c (the fuzz target links
 * them alone).
 */
#include <string.h>

#include "kafka/proto.h"

/* n elements of an arena array (n <= 0: NULL); 0 or KF_BAD. */
static int alloc_array(struct kf_arena *a, void **out, int32_t n, size_t size)
{
	*out = NULL;
	if (n > 0 && !(*out = kf_arena_alloc(a, (size_t)n * size)))
		return KF_BAD;
	return 0;
}

static void producer(struct kf_cur *c, struct kf_txn_producer *p)
{
	p->transactional_id = kf_get_str(c);
	p->producer_id = kf_get_i64(c);
	p->producer_epoch = kf_get_i16(c);
}

/* A topic's name and partition indexes (an element of its array). */
static int txn_topic(struct kf_cur *c, struct kf_arena *a, struct kf_txn_topic *t)
{
	t->name = kf_get_str(c);
	t->nparts = kf_get_array(c, 4, 0);
	if (alloc_array(a, (void **)&t->parts, t->nparts, sizeof(*t->parts)) < 0)
		return KF_BAD;
	for (int32_t j = 0; j < t->nparts && !c->bad; j++)
		t->parts[j] = kf_get_i32(c);
	kf_end_struct(c);
	return c->bad ? KF_BAD : 0;
}

int kf_decode_add_partitions_txn(struct kf_cur *c, int ver, struct kf_arena *a,
				 struct kf_add_partitions_txn_req *r)
{
	(void)ver;
	memset(r, 0, sizeof(*r));
	producer(c, &r->prod);
	r->ntopics = kf_get_array(c, c->flex ? 3 : 6, 0);
	if (alloc_array(a, (void **)&r->topics, r->ntopics, sizeof(*r->topics)) < 0)
		return KF_BAD;
	for (int32_t i = 0; i < r->ntopics && !c->bad; i++)
		if (txn_topic(c, a, &r->topics[i]) < 0)
			return KF_BAD;
	return kf_decode_end(c);
}

int kf_decode_add_offsets_txn(struct kf_cur *c, int ver, struct kf_add_offsets_txn_req *r)
{
	(void)ver;
	memset(r, 0, sizeof(*r));
	producer(c, &r->prod);
	r->group_id = kf_get_str(c);
	return kf_decode_end(c);
}

int kf_decode_end_txn(struct kf_cur *c, int ver, struct kf_end_txn_req *r)
{
	(void)ver;
	memset(r, 0, sizeof(*r));
	producer(c, &r->prod);
	r->committed = kf_get_i8(c);
	return kf_decode_end(c);
}

static int offset_parts(struct kf_cur *c, int ver, struct kf_arena *a,
			struct kf_txn_offset_topic *t)
{
	t->nparts = kf_get_array(c, ver >= 2 ? 18 : 14, 0);
	if (alloc_array(a, (void **)&t->parts, t->nparts, sizeof(*t->parts)) < 0)
		return KF_BAD;
	for (int32_t j = 0; j < t->nparts && !c->bad; j++) {
		struct kf_txn_offset_part *p = &t->parts[j];

		p->index = kf_get_i32(c);
		p->offset = kf_get_i64(c);
		p->leader_epoch = ver >= 2 ? kf_get_i32(c) : -1;
		p->metadata = kf_get_str(c);
		kf_end_struct(c);
	}
	return c->bad ? KF_BAD : 0;
}

int kf_decode_txn_offset_commit(struct kf_cur *c, int ver, struct kf_arena *a,
				struct kf_txn_offset_commit_req *r)
{
	memset(r, 0, sizeof(*r));
	r->prod.transactional_id = kf_get_str(c);
	r->group_id = kf_get_str(c);
	r->prod.producer_id = kf_get_i64(c);
	r->prod.producer_epoch = kf_get_i16(c);
	r->generation_id = -1;
	r->instance.len = -1;
	if (ver >= 3) {
		r->generation_id = kf_get_i32(c);
		r->member_id = kf_get_str(c);
		r->instance = kf_get_str(c);
	}
	r->ntopics = kf_get_array(c, c->flex ? 3 : 6, 0);
	if (alloc_array(a, (void **)&r->topics, r->ntopics, sizeof(*r->topics)) < 0)
		return KF_BAD;
	for (int32_t i = 0; i < r->ntopics && !c->bad; i++) {
		r->topics[i].name = kf_get_str(c);
		if (offset_parts(c, ver, a, &r->topics[i]) < 0)
			return KF_BAD;
		kf_end_struct(c);
	}
	return kf_decode_end(c);
}

int kf_decode_write_txn_markers(struct kf_cur *c, int ver, struct kf_arena *a,
				struct kf_write_txn_markers_req *r)
{
	(void)ver;
	memset(r, 0, sizeof(*r));
	/* a marker: producer_id, producer_epoch, transaction_result, topics,
	 * coordinator_epoch (and its tags) */
	r->nmarkers = kf_get_array(c, c->flex ? 17 : 19, 0);
	if (alloc_array(a, (void **)&r->markers, r->nmarkers, sizeof(*r->markers)) < 0)
		return KF_BAD;
	for (int32_t i = 0; i < r->nmarkers && !c->bad; i++) {
		struct kf_txn_marker_entry *m = &r->markers[i];

		m->producer_id = kf_get_i64(c);
		m->producer_epoch = kf_get_i16(c);
		m->transaction_result = kf_get_i8(c);
		m->ntopics = kf_get_array(c, c->flex ? 3 : 6, 0);
		if (alloc_array(a, (void **)&m->topics, m->ntopics, sizeof(*m->topics)) < 0)
			return KF_BAD;
		for (int32_t j = 0; j < m->ntopics && !c->bad; j++)
			if (txn_topic(c, a, &m->topics[j]) < 0)
				return KF_BAD;
		m->coordinator_epoch = kf_get_i32(c);
		kf_end_struct(c);
	}
	return kf_decode_end(c);
}
