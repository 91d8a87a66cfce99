/*
 * Fetch v4-v13 with long polling (v5 adds each partition's log start, which
 * followers follow: Kafka's KIP-107; v7 fetch sessions, fetch_session.c;
 * v9 the current leader epoch, checked as ListOffsets does; v11 the rack
 * and fetching from followers (KIP-392, below); v12
 * flexible (last_fetched_epoch is read and not checked: no diverging
 * epoch is answered; clients validate positions with
 * OffsetForLeaderEpoch); v13 topics by id, UNKNOWN_TOPIC_ID (100) for an
 * id no topic has, which on a single node is every id: its topics have
 * none yet).  Each partition's answer carries its last stable offset
 * (the first offset of its oldest open transaction, else the high
 * watermark); with isolation_level 1 (read_committed) a consumer reads
 * only below it, and gets the aborted transactions (producer id, first
 * offset) that overlap what it read, from which clients drop the aborted
 * records (they skip control batches themselves).  Each partition's answer is whole stored
 * batches from the one containing fetch_offset, sent straight from the
 * segment file: the range core's tdm_topics_read finds becomes an evbuffer
 * file segment (sendfile), so record bytes never pass through user space.
 * Byte limits follow Kafka: partition_max_bytes and the request's
 * max_bytes bound what is added, but the first partition with data always
 * gets at least one batch, so a big batch cannot stall a consumer.
 *
 * When fewer than min_bytes are available (and no partition has an
 * error), the request parks until an append to a watched partition (or,
 * in a cluster, a move of its high watermark: core's tdm_topics_notify)
 * wakes it or max_wait_ms passes.  A follower's parked fetch is answered
 * as soon as a high watermark it asked about moved, so that followers
 * learn it at once rather than max_wait_ms later (their stream queue
 * consumers and the definitions log's applier read up to it).
 *
 * In a cluster (srv->replica set) Fetch is Kafka's: a consumer
 * (replica_id -1) is served by the partition's leader (v4-10; else
 * NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE) or, from v11 (KIP-392),
 * by any node holding a replica of it, and reads below the high watermark
 * that node knows (a follower's comes with its fetches from the leader,
 * so it never shows what the ISR does not have), read_committed below the
 * last stable offset of its own log under that high watermark (a
 * follower's log has the transactions' records and markers byte for byte,
 * so its open transactions are the leader's as far as it has them).  A
 * fetch offset between that high watermark and the log end reads nothing
 * (the request waits as any other); past the log end it is
 * OFFSET_OUT_OF_RANGE, on which clients go back to the leader.  With
 * kafka_replica_selector = rack the leader answers a v11+ consumer that
 * names a rack (client.rack) with preferred_read_replica, Kafka's
 * RackAwareReplicaSelector (tdm_replica_preferred_read): an in-sync
 * follower in that rack, no records and at once, and the client fetches
 * from it; -1 (here) otherwise.  A follower's fetch (replica_id >= 0, on
 * a connection whose user is tagged administrator, else
 * CLUSTER_AUTHORIZATION_FAILED) names topics
 * by their core names, reads up to the log end, and its fetch offset is
 * its log end for the replica manager (tdm_replica_follower_fetch, whose
 * refusals become NOT_LEADER_OR_FOLLOWER, FENCED_LEADER_EPOCH,
 * UNKNOWN_LEADER_EPOCH, UNKNOWN_TOPIC_OR_PARTITION).  Either way the
 * answer's high watermark is the replica manager's, with the tandem
 * replica manager's applier rule for the definitions log (core/replica.h).
 * Fetch v4-5 carry no current_leader_epoch: followers are fenced by OffsetForLeaderEpoch.  On
 * a single node a follower's fetch is an administrator's read to the log
 * end.
 *
 * Must not depend on: src/amqp.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <time.h>

#include "core/config.h"
#include "core/replica.h"
#include "kafka/kf.h"
#include "net/net.h"

struct fetch_part {
	int32_t index;
	int32_t cur_epoch;         /* v9+: the leader epoch the client knows, -1 none */
	int64_t fetch_offset;
	int32_t partition_max_bytes;
	int include;               /* in the answer (an incremental one leaves some out) */
	int16_t err;
	int64_t high_watermark;
	int64_t log_start;         /* v5+: the partition's log start, -1 when unknown */
	int64_t parked_hw;         /* the high watermark when the request parked */
	int64_t lso;               /* the last stable offset, -1 when unknown */
	int32_t preferred;         /* v11+: preferred_read_replica, -1 this node */
	struct tdm_aborted_txn *aborted; /* read_committed: in the arena */
	size_t naborted;
	struct tdm_read_result rr; /* held between read and encode */
};

struct fetch_topic {
	struct kf_str name;
	uint8_t id[16]; /* v13: the topic id it was named by */
	int unknown_id; /* v13: no topic has that id */
	char *cname; /* arena: name as a C string, NULL when it is not one */
	int32_t nparts;
	struct fetch_part *parts;
};

/* Request state, in the arena (the connection reads nothing while parked). */
struct fetch_state {
	struct kf_park base;
	struct kf_conn *kc;
	int32_t replica_id;   /* >= 0: a follower's fetch */
	int16_t version;
	int flex;             /* v12+ */
	int read_committed;   /* isolation_level 1: stop at the last stable offset */
	int any_replica;      /* v11+ consumer: a follower may serve it (KIP-392) */
	const char *rack;     /* arena: the client's rack when kafka_replica_selector
			       * is rack, else NULL */
	int32_t session_id;   /* v7+: the fetch session answered for, 0 none */
	int incremental;      /* only partitions with news are answered */
	int follower_denied;  /* replica_id >= 0 from a non-administrator */
	int recorded;         /* the follower's positions went to the replica manager */
	int32_t min_bytes, max_bytes;
	int32_t ntopics;
	struct fetch_topic *topics;
	/* parked */
	struct tdm_topics_waiter w;
	struct ls_partition **watch;
	size_t nwatch;
	struct event *timer;  /* owned: max_wait_ms */
	struct event *wake;   /* owned: appends to a watched partition */
};

/* Keeps a read's segment open until libevent is done sending it. */
struct seg_hold {
	struct tdm_topics *topics;
	struct tdm_read_result rr;
};

static void seg_cleanup(const struct evbuffer_file_segment *seg, int flags, void *arg)
{
	struct seg_hold *h = arg;

	(void)seg, (void)flags;
	tdm_topics_read_release(h->topics, &h->rr);
	free(h);
}

static void release_reads(struct fetch_state *fs)
{
	for (int32_t i = 0; i < fs->ntopics; i++)
		for (int32_t j = 0; j < fs->topics[i].nparts; j++)
			tdm_topics_read_release(fs->kc->srv->topics, &fs->topics[i].parts[j].rr);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The topic a fetch names: a follower's by its core name (any vhost,
 * internal ones too), a consumer's as kf_topic_lookup finds it. */
static struct ls_topic *lookup(struct fetch_state *fs, const struct fetch_topic *ft)
{
	struct ls_topic *t;

	if (fs->replica_id < 0)
		return kf_topic_lookup(fs->kc, ft->name);
	if (fs->follower_denied || !ft->cname)
		return NULL;
	t = tdm_topic_find(fs->kc->srv->topics, ft->cname);
	return t;
}

/* Checks a partition against the replica manager, before reading: a
 * Kafka error code.  A follower's fetch offset is recorded once per
 * request (Kafka's updateFollowerFetchState); when a parked request looks
 * again, leadership is checked as for a consumer, so a node that lost the
 * lead meanwhile answers NOT_LEADER_OR_FOLLOWER (Kafka's DelayedFetch). */
static int16_t check_replica(struct fetch_state *fs, const struct fetch_topic *ft,
			     const struct fetch_part *fp)
{
	struct tdm_replica *r = fs->kc->srv->replica;

	if (!r)
		return KF_ERR_NONE;
	if (!ft->cname)
		return KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
	/* a consumer of v11+: is this node the leader or a follower of it? */
	if (fs->any_replica)
		return kf_read_check(fs->kc, ft->cname, fp->index, fp->cur_epoch);
	/* an older consumer, or a follower whose position is recorded (a
	 * parked fetch looking again): is this node still the leader? */
	if (fs->replica_id < 0 || fs->recorded)
		return kf_leader_check(fs->kc, ft->cname, fp->index, fp->cur_epoch);
	int rc = tdm_replica_follower_fetch(r, fs->replica_id, ft->cname, fp->index,
					    (uint64_t)fp->fetch_offset, -1, now_ms());
	if (rc == TDM_REPL_OK)
		tdm_replica_follower_applied(r, fs->replica_id, fs->kc, ft->cname, fp->index,
					     (uint64_t)fp->fetch_offset);
	return kf_err_from_replica(rc);
}

/* The last stable offset of p under high watermark hw: its first open
 * transaction's first offset when lower (-1: unknown, the log failed). */
static int64_t stable_offset(struct ls_partition *p, int64_t hw)
{
	uint64_t first;

	if (tdm_partition_first_unstable(p, &first) != TDM_TOPIC_OK)
		return -1;
	return hw >= 0 && (uint64_t)hw < first ? hw : (int64_t)first;
}

/* The aborted transactions overlapping what fp read (read_committed). */
static int aborted_of(struct fetch_state *fs, struct ls_partition *p, struct fetch_part *fp)
{
	size_t n = 0;
	uint64_t from = (uint64_t)fp->fetch_offset, to = fp->rr.next_offset;
	int rc = tdm_partition_aborted_txns(p, from, to, NULL, 0, &n);

	if (rc != TDM_TOPIC_OK || n == 0)
		return rc;
	fp->aborted = kf_arena_alloc(&fs->kc->arena, n * sizeof(*fp->aborted));
	if (!fp->aborted)
		return TDM_ERR_NOMEM;
	rc = tdm_partition_aborted_txns(p, from, to, fp->aborted, n, &fp->naborted);
	if (fp->naborted > n)
		fp->naborted = n;
	return rc;
}

/* KIP-392 on the leader: 1 when the consumer should read fp from another
 * replica (fp->preferred), which the answer names instead of records. */
static int prefer_other(struct fetch_state *fs, const struct fetch_topic *ft,
			struct fetch_part *fp)
{
	struct tdm_replica *r = fs->kc->srv->replica;
	int32_t id;

	if (!fs->rack || !r)
		return 0;
	id = tdm_replica_preferred_read(r, ft->cname, fp->index, fs->rack,
					(uint64_t)fp->fetch_offset);
	if (id == TDM_NO_NODE)
		return 0;
	fp->preferred = id;
	return 1;
}

/* Reads every partition; returns the bytes found, and sets *errors when a
 * partition answers with an error or a preferred read replica (either
 * ends the wait, as in Kafka). */
static size_t read_all(struct fetch_state *fs, int *errors)
{
	struct kf_server *srv = fs->kc->srv;
	size_t total = 0, max = fs->max_bytes > 0 ? (size_t)fs->max_bytes : 0;

	*errors = 0;
	for (int32_t i = 0; i < fs->ntopics; i++) {
		struct fetch_topic *ft = &fs->topics[i];
		int16_t aerr = ft->unknown_id ? KF_ERR_UNKNOWN_TOPIC_ID
			       : fs->replica_id >= 0
				       ? (fs->follower_denied ? KF_ERR_CLUSTER_AUTHORIZATION_FAILED
							      : KF_ERR_NONE)
				       : kf_authz_topic(fs->kc, TDM_PERM_READ, ft->name);
		struct ls_topic *t = aerr ? NULL : lookup(fs, ft);

		for (int32_t j = 0; j < ft->nparts; j++) {
			struct fetch_part *fp = &ft->parts[j];
			struct ls_partition *p = t ? tdm_topic_partition(t, fp->index) : NULL;
			size_t limit;
			uint64_t hw = 0;
			int rc;

			fp->err = KF_ERR_NONE;
			fp->preferred = -1;
			fp->high_watermark = -1;
			fp->lso = -1;
			fp->naborted = 0;
			fp->log_start = p ? (int64_t)tdm_partition_log_start(p) : -1;
			if (!p) {
				fp->err = aerr ? aerr : KF_ERR_UNKNOWN_TOPIC_OR_PARTITION;
				(*errors)++;
				continue;
			}
			if ((fp->err = check_replica(fs, ft, fp)) != KF_ERR_NONE) {
				(*errors)++;
				continue;
			}
			if (srv->replica) {
				hw = tdm_replica_high_watermark(srv->replica, ft->cname, fp->index, p);
				fp->high_watermark = (int64_t)hw;
			} else {
				fp->high_watermark = (int64_t)tdm_partition_log_end(p);
			}
			if (fp->fetch_offset < 0) {
				fp->err = KF_ERR_OFFSET_OUT_OF_RANGE;
				(*errors)++;
				continue;
			}
			if (fs->replica_id < 0) /* followers read to the log end */
				fp->lso = stable_offset(p, fp->high_watermark);
			if (prefer_other(fs, ft, fp)) {
				(*errors)++; /* answered at once, as Kafka does */
				continue;
			}
			if (total >= max && total > 0)
				continue; /* request full: no records, but the high watermark */
			limit = fp->partition_max_bytes > 0 ? (size_t)fp->partition_max_bytes : 0;
			if (max - total < limit)
				limit = max - total;
			if (fs->read_committed && fp->lso >= 0)
				/* whole batches below the last stable offset */
				rc = tdm_topics_read_bounded(srv->topics, p, (uint64_t)fp->fetch_offset,
							     limit, (uint64_t)fp->lso, &fp->rr);
			else if (srv->replica && fs->replica_id < 0)
				/* a consumer: whole batches below the high watermark */
				rc = tdm_topics_read_bounded(srv->topics, p, (uint64_t)fp->fetch_offset,
							     limit, hw, &fp->rr);
			else
				rc = tdm_topics_read(srv->topics, p, (uint64_t)fp->fetch_offset, limit,
						     &fp->rr);
			if (rc != TDM_TOPIC_OK) {
				fp->err = kf_err_from_core(rc);
				(*errors)++;
				continue;
			}
			if (!srv->replica && !fs->read_committed) {
				fp->high_watermark = (int64_t)fp->rr.high_watermark;
				if (fs->replica_id < 0)
					fp->lso = stable_offset(p, fp->high_watermark);
			}
			if (fs->read_committed && fp->rr.len > 0 &&
			    aborted_of(fs, p, fp) != TDM_TOPIC_OK) {
				tdm_topics_read_release(srv->topics, &fp->rr);
				fp->err = KF_ERR_KAFKA_STORAGE_ERROR;
				(*errors)++;
				continue;
			}
			/* Only the first partition with data may exceed the limits. */
			if (total > 0 && fp->rr.len > limit) {
				tdm_topics_read_release(srv->topics, &fp->rr);
				continue;
			}
			total += fp->rr.len;
		}
	}
	fs->recorded = 1;
	return total;
}

/* The records of fp as a file segment of resp's (sendfile), the range
 * held until libevent sent it; its length, 0 when there are none (or
 * the segment could not be made: fp->err says so). */
static struct evbuffer_file_segment *records_segment(struct fetch_state *fs,
						     struct fetch_part *fp, size_t *len)
{
	struct evbuffer_file_segment *seg;
	struct seg_hold *h;

	*len = fp->rr.ref ? fp->rr.len : 0;
	if (!*len)
		return NULL;
	h = malloc(sizeof(*h));
	seg = h ? evbuffer_file_segment_new(fp->rr.fd, (ev_off_t)fp->rr.file_pos, (ev_off_t)*len,
					    EVBUF_FS_DISABLE_LOCKING)
		: NULL;
	if (!seg) {
		free(h);
		*len = 0;
		fp->err = KF_ERR_UNKNOWN_SERVER_ERROR;
		return NULL;
	}
	h->topics = fs->kc->srv->topics;
	h->rr = fp->rr; /* the hold takes over the reference */
	fp->rr.ref = NULL;
	evbuffer_file_segment_add_cleanup_cb(seg, seg_cleanup, h);
	return seg;
}

/* One partition's answer. */
static void encode_part(struct fetch_state *fs, const struct fetch_topic *ft,
			struct fetch_part *fp, struct evbuffer *resp)
{
	int ver = fs->version, flex = fs->flex;
	size_t len;
	struct evbuffer_file_segment *seg = records_segment(fs, fp, &len);

	kf_put_i32(resp, fp->index);
	kf_put_i16(resp, fp->err);
	if (fs->replica_id >= 0 && !fp->err && fp->high_watermark >= 0 && ft->cname)
		tdm_replica_follower_sent(fs->kc->srv->replica, fs->replica_id, fs->kc, ft->cname,
					  fp->index, (uint64_t)fp->high_watermark);
	kf_put_i64(resp, fp->high_watermark);
	kf_put_i64(resp, fp->lso >= 0 ? fp->lso : fp->high_watermark);
	if (ver >= 5)
		kf_put_i64(resp, fp->log_start);
	kf_put_farray(resp, flex, (int32_t)fp->naborted);
	for (size_t i = 0; i < fp->naborted; i++) {
		kf_put_i64(resp, fp->aborted[i].producer_id);
		kf_put_i64(resp, (int64_t)fp->aborted[i].first_offset);
		kf_put_tags(resp, flex);
	}
	if (ver >= 11)
		kf_put_i32(resp, fp->preferred); /* preferred_read_replica, -1: here */
	if (flex)
		kf_put_uvarint(resp, (uint32_t)len + 1);
	else
		kf_put_i32(resp, (int32_t)len);
	if (seg) {
		evbuffer_add_file_segment(resp, seg, 0, (ev_off_t)len);
		evbuffer_file_segment_free(seg); /* the buffer keeps its own ref */
	}
	kf_put_tags(resp, flex);
}

/* A fetch of a session: which partitions its answer carries (a full one
 * every one; an incremental one those with records, an error, or a high
 * watermark or log start other than last answered), and what the session
 * now knows was answered.  The session is looked up again: it may have
 * gone while the request was parked. */
static int same_part(const struct kf_fsess_part *sp, const char *topic, int32_t index)
{
	return sp->index == index && !strcmp(sp->topic, topic);
}

/* The session's entry of (topic, index): usually the k-th (the fetch lists
 * the session's partitions in its order), else searched. */
static struct kf_fsess_part *session_part(struct kf_fsess *s, size_t k, const char *topic,
					  int32_t index)
{
	if (!s)
		return NULL;
	if (k < s->n && same_part(&s->p[k], topic, index))
		return &s->p[k];
	for (size_t i = 0; i < s->n; i++)
		if (same_part(&s->p[i], topic, index))
			return &s->p[i];
	return NULL;
}

static void session_filter(struct fetch_state *fs)
{
	struct kf_fsess *s = kf_fsess_find(fs->kc->srv->fsessions, fs->session_id);
	size_t k = 0;

	for (int32_t i = 0; i < fs->ntopics; i++)
		for (int32_t j = 0; j < fs->topics[i].nparts; j++, k++) {
			struct fetch_part *fp = &fs->topics[i].parts[j];
			struct kf_fsess_part *sp = session_part(
				s, k, fs->topics[i].cname ? fs->topics[i].cname : "", fp->index);

			fp->include = !fs->incremental || !sp || fp->err || fp->preferred >= 0 ||
				      (fp->rr.ref && fp->rr.len) ||
				      sp->hw != fp->high_watermark || sp->ls != fp->log_start;
			if (sp && fp->include) {
				sp->hw = fp->high_watermark;
				sp->ls = fp->log_start;
			}
		}
	if (s)
		kf_fsess_answered(s);
}

/* Encodes the response into resp, handing the file ranges to it. */
static void encode(struct fetch_state *fs, struct evbuffer *resp)
{
	int flex = fs->flex;
	int32_t ntopics = 0;

	if (fs->session_id)
		session_filter(fs);
	for (int32_t i = 0; i < fs->ntopics; i++) {
		int any = 0;

		for (int32_t j = 0; j < fs->topics[i].nparts; j++)
			any |= fs->topics[i].parts[j].include;
		ntopics += any;
	}
	kf_put_i32(resp, 0); /* throttle_time_ms */
	if (fs->version >= 7) {
		kf_put_i16(resp, KF_ERR_NONE);
		kf_put_i32(resp, fs->session_id);
	}
	kf_put_farray(resp, flex, ntopics);
	for (int32_t i = 0; i < fs->ntopics; i++) {
		struct fetch_topic *ft = &fs->topics[i];
		int32_t n = 0;

		for (int32_t j = 0; j < ft->nparts; j++)
			n += ft->parts[j].include;
		if (!n)
			continue;
		if (fs->version >= 13)
			evbuffer_add(resp, ft->id, 16);
		else
			kf_put_fkstr(resp, flex, ft->name);
		kf_put_farray(resp, flex, n);
		for (int32_t j = 0; j < ft->nparts; j++)
			if (ft->parts[j].include)
				encode_part(fs, ft, &ft->parts[j], resp);
		kf_put_tags(resp, flex);
	}
	kf_put_tags(resp, flex);
	release_reads(fs);
}

static void state_release(struct fetch_state *fs)
{
	tdm_topics_unwait(fs->kc->srv->topics, &fs->w);
	if (fs->timer)
		event_free(fs->timer);
	if (fs->wake)
		event_free(fs->wake);
	fs->timer = fs->wake = NULL;
	release_reads(fs);
}

static void park_cancel(struct kf_park *p)
{
	state_release((struct fetch_state *)p);
}

/* Points the waiter at the partitions that exist now. */
static void watch(struct fetch_state *fs)
{
	size_t n = 0;

	for (int32_t i = 0; i < fs->ntopics; i++) {
		struct ls_topic *t = lookup(fs, &fs->topics[i]);

		for (int32_t j = 0; j < fs->topics[i].nparts; j++) {
			struct ls_partition *p = t ? tdm_topic_partition(t, fs->topics[i].parts[j].index) : NULL;

			if (p)
				fs->watch[n++] = p;
		}
	}
	fs->w.parts = fs->watch;
	fs->w.nparts = n;
	tdm_topics_wait_data(fs->kc->srv->topics, &fs->w);
}

/* The key of a follower's partition in kc->follower_hw. */
static size_t hw_key(char *buf, size_t cap, const struct fetch_topic *ft, int32_t index)
{
	int n = snprintf(buf, cap, "%s/%d", ft->cname ? ft->cname : "", (int)index);
	return n < 0 ? 0 : (size_t)n < cap ? (size_t)n : cap - 1;
}

/* Notes each partition's high watermark as this follower last heard it
 * (never on this connection: the one it is told now, as before). */
static void note_hw(struct fetch_state *fs)
{
	char key[300];
	if (fs->replica_id < 0)
		return; /* a consumer: nothing to remember */
	for (int32_t i = 0; i < fs->ntopics; i++)
		for (int32_t j = 0; j < fs->topics[i].nparts; j++) {
			struct fetch_part *fp = &fs->topics[i].parts[j];
			size_t n = hw_key(key, sizeof(key), &fs->topics[i], fp->index);
			uintptr_t v = (uintptr_t)tdm_map_get(&fs->kc->follower_hw, key, n);
			fp->parked_hw = v ? (int64_t)v - 2 : fp->high_watermark;
		}
}

/* Keeps the high watermarks a follower's answer tells it. */
static void keep_hw(struct fetch_state *fs)
{
	char key[300];
	if (fs->replica_id < 0)
		return;
	for (int32_t i = 0; i < fs->ntopics; i++)
		for (int32_t j = 0; j < fs->topics[i].nparts; j++) {
			struct fetch_part *fp = &fs->topics[i].parts[j];
			size_t n = hw_key(key, sizeof(key), &fs->topics[i], fp->index);
			if (fs->topics[i].cname && fp->high_watermark >= -1)
				tdm_map_put(&fs->kc->follower_hw, key, n,
					    (void *)(uintptr_t)(fp->high_watermark + 2));
		}
}

void kf_fetch_conn_free(struct kf_conn *kc)
{
	tdm_map_free(&kc->follower_hw); /* values are numbers */
}

/* 1 when a follower's parked fetch should be answered because a high
 * watermark moved: the follower learns it only from an answer, and its
 * readers (stream queue consumers, the definitions log's applier) read
 * up to it; otherwise it would wait for new data or max_wait_ms. */
static int hw_moved(const struct fetch_state *fs)
{
	if (fs->replica_id < 0)
		return 0;
	for (int32_t i = 0; i < fs->ntopics; i++)
		for (int32_t j = 0; j < fs->topics[i].nparts; j++)
			if (fs->topics[i].parts[j].high_watermark != fs->topics[i].parts[j].parked_hw)
				return 1;
	return 0;
}

static void retry(struct fetch_state *fs, int final)
{
	struct kf_conn *kc = fs->kc;
	int errors;
	size_t got = read_all(fs, &errors);

	if (!final && !errors && got < (size_t)fs->min_bytes && !hw_moved(fs)) {
		release_reads(fs);
		watch(fs);
		return;
	}
	keep_hw(fs);
	encode(fs, kc->resp);
	state_release(fs);
	kf_complete(kc, kc->resp);
}

static void wake_fn(void *ctx)
{
	struct fetch_state *fs = ctx;

	event_active(fs->wake, EV_READ, 0);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	retry(arg, 0);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	retry(arg, 1);
}

/* An arena copy of name as a kf_str and a C string (NULL when it is not
 * one: overlong, or binary). */
static void set_name(struct kf_conn *kc, struct fetch_topic *ft, struct kf_str name)
{
	ft->name = name;
	if (name.len >= 0 && (size_t)name.len < 256 &&
	    (ft->cname = kf_arena_alloc(&kc->arena, (size_t)name.len + 1)) &&
	    kf_str_cstr(name, ft->cname, (size_t)name.len + 1) < 0)
		ft->cname = NULL;
	if (ft->cname)
		ft->name = (struct kf_str){ ft->cname, name.len };
}

/* Topic i's name: as named (v0-12), or the topic with its id (v13:
 * NULL when none has it). */
static const char **topic_names(struct kf_conn *kc, const struct kf_fetch_req *r, int by_id)
{
	const char **names = kf_arena_alloc(&kc->arena, (size_t)(r->ntopics + 1) * sizeof(*names));

	for (int32_t i = 0; names && i < r->ntopics; i++) {
		struct ls_topic *t = by_id ? kf_topic_by_uuid(kc, r->topics[i].id) : NULL;
		char *n = kf_arena_alloc(&kc->arena, 256);

		names[i] = NULL;
		if (by_id && t && n)
			snprintf(n, 256, "%s", tdm_topic_name(t));
		else if (!by_id && n && kf_str_cstr(r->topics[i].name, n, 256) < 0)
			n = NULL;
		if (!by_id || t)
			names[i] = n;
	}
	return names;
}

static int alloc_parts(struct kf_conn *kc, struct fetch_topic *ft, int32_t n)
{
	ft->nparts = n;
	if (n > 0 && !(ft->parts = kf_arena_alloc(&kc->arena, (size_t)n * sizeof(*ft->parts))))
		return -1;
	if (n > 0)
		memset(ft->parts, 0, (size_t)n * sizeof(*ft->parts));
	for (int32_t j = 0; j < n; j++) {
		ft->parts[j].rr.fd = -1;
		ft->parts[j].include = 1;
		ft->parts[j].preferred = -1;
	}
	return 0;
}

/* The partitions a full fetch asks for, as the request lists them. */
static int from_request(struct fetch_state *fs, const struct kf_fetch_req *r, const char **names)
{
	struct kf_conn *kc = fs->kc;

	fs->ntopics = r->ntopics;
	if (r->ntopics > 0 &&
	    !(fs->topics = kf_arena_alloc(&kc->arena, (size_t)r->ntopics * sizeof(*fs->topics))))
		return -1;
	for (int32_t i = 0; i < r->ntopics; i++) {
		struct fetch_topic *ft = &fs->topics[i];
		const struct kf_fetch_topic *rt = &r->topics[i];

		memset(ft, 0, sizeof(*ft));
		memcpy(ft->id, rt->id, 16);
		ft->unknown_id = fs->version >= 13 && !names[i];
		set_name(kc, ft, fs->version >= 13
					 ? (struct kf_str){ names[i], names[i] ? (int32_t)strlen(names[i]) : -1 }
					 : rt->name);
		if (alloc_parts(kc, ft, rt->nparts) < 0)
			return -1;
		for (int32_t j = 0; j < rt->nparts; j++) {
			ft->parts[j].index = rt->parts[j].index;
			ft->parts[j].cur_epoch = rt->parts[j].current_leader_epoch;
			ft->parts[j].fetch_offset = rt->parts[j].fetch_offset;
			ft->parts[j].partition_max_bytes = rt->parts[j].partition_max_bytes;
		}
	}
	return 0;
}

/* The partitions of session s (an incremental fetch), by topic in the
 * order they joined it. */
static int from_session(struct fetch_state *fs, const struct kf_fsess *s)
{
	struct kf_conn *kc = fs->kc;
	int32_t nt = 0;

	for (size_t k = 0; k < s->n; k++)
		nt += k == 0 || strcmp(s->p[k].topic, s->p[k - 1].topic) != 0;
	fs->ntopics = nt;
	if (nt > 0 && !(fs->topics = kf_arena_alloc(&kc->arena, (size_t)nt * sizeof(*fs->topics))))
		return -1;
	for (size_t k = 0, t = 0; k < s->n; t++) {
		struct fetch_topic *ft = &fs->topics[t];
		size_t end = k + 1;

		while (end < s->n && !strcmp(s->p[end].topic, s->p[k].topic))
			end++;
		memset(ft, 0, sizeof(*ft));
		memcpy(ft->id, s->p[k].id, 16);
		ft->unknown_id = !s->p[k].topic[0];
		set_name(kc, ft, (struct kf_str){ s->p[k].topic, (int32_t)strlen(s->p[k].topic) });
		if (alloc_parts(kc, ft, (int32_t)(end - k)) < 0)
			return -1;
		for (size_t j = k; j < end; j++) {
			struct fetch_part *fp = &ft->parts[j - k];

			fp->index = s->p[j].index;
			fp->cur_epoch = s->p[j].cur_epoch;
			fp->fetch_offset = s->p[j].fetch_offset;
			fp->partition_max_bytes = s->p[j].max_bytes;
		}
		k = end;
	}
	return 0;
}

/* The answer to a fetch its session refused: the error, no partitions. */
static int session_refused(struct fetch_state *fs, int16_t err, struct evbuffer *resp)
{
	kf_put_i32(resp, 0);
	kf_put_i16(resp, err);
	kf_put_i32(resp, 0);
	kf_put_farray(resp, fs->flex, 0);
	kf_put_tags(resp, fs->flex);
	return 1;
}

/* The partitions this fetch reads: the request's, or (v7+) its
 * session's.  0, -1 (out of memory), or 1 when a session error was
 * answered. */
static int start(struct fetch_state *fs, const struct kf_fetch_req *r, struct evbuffer *resp)
{
	struct kf_conn *kc = fs->kc;
	struct kf_fsess *s = NULL;
	/* names are only needed by a session and by topic ids */
	int need = fs->version >= 13 || (fs->version >= 7 && r->session_epoch != -1);
	const char **names = need ? topic_names(kc, r, fs->version >= 13) : NULL;
	int16_t err;

	if (need && !names)
		return -1;
	if (fs->version >= 7) {
		err = kf_fsess_begin(kc->srv->fsessions, r, names, fs->version >= 13,
				     (uint64_t)now_ms(), &s);
		if (err != KF_ERR_NONE)
			return session_refused(fs, err, resp);
	}
	fs->session_id = s ? s->id : 0;
	fs->incremental = s && !s->full;
	return fs->incremental ? from_session(fs, s) : from_request(fs, r, names);
}

/* The client's rack as a C string in the arena, when the leader is to
 * pick a replica in it (kafka_replica_selector = rack), else NULL. */
static const char *client_rack(struct kf_conn *kc, struct kf_str rack)
{
	const struct tdm_config *cfg = kc->srv->cfg;
	char *s;

	if (!kc->srv->replica || !cfg || !cfg->kafka_replica_selector ||
	    strcmp(cfg->kafka_replica_selector, "rack") != 0 || rack.len <= 0 || rack.len > 255)
		return NULL;
	s = kf_arena_alloc(&kc->arena, (size_t)rack.len + 1);
	if (s && kf_str_cstr(rack, s, (size_t)rack.len + 1) < 0)
		s = NULL;
	return s;
}

int kf_h_fetch(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_server *srv = kc->srv;
	struct kf_fetch_req r;
	struct fetch_state *fs;
	size_t nparts = 0, got;
	int errors, rc;

	if (kf_decode_fetch(cur, kc->hdr.api_version, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	fs = kf_arena_alloc(&kc->arena, sizeof(*fs));
	if (!fs)
		return KF_R_CLOSE;
	memset(fs, 0, sizeof(*fs));
	fs->kc = kc;
	fs->replica_id = r.replica_id < 0 ? -1 : r.replica_id;
	fs->version = kc->hdr.api_version;
	fs->flex = kf_flex(kc);
	fs->follower_denied = r.replica_id >= 0 && !kf_authz_cluster(kc);
	fs->min_bytes = r.min_bytes;
	fs->read_committed = r.isolation_level == 1 && r.replica_id < 0;
	fs->any_replica = fs->version >= 11 && r.replica_id < 0;
	fs->rack = fs->any_replica ? client_rack(kc, r.rack_id) : NULL;
	fs->max_bytes = r.max_bytes;
	if ((rc = start(fs, &r, resp)) != 0)
		return rc < 0 ? KF_R_CLOSE : KF_R_DONE;
	for (int32_t i = 0; i < fs->ntopics; i++)
		nparts += (size_t)fs->topics[i].nparts;
	got = read_all(fs, &errors);
	note_hw(fs);
	if (r.max_wait_ms <= 0 || errors || got >= (size_t)(r.min_bytes > 0 ? r.min_bytes : 0) ||
	    nparts == 0 || hw_moved(fs)) {
		keep_hw(fs);
		encode(fs, resp);
		return KF_R_DONE;
	}
	release_reads(fs);
	/* Park: wait for an append to a watched partition, a move of a
	 * follower's high watermark, or max_wait_ms. */
	fs->base.cancel = park_cancel;
	fs->w.fn = wake_fn;
	fs->w.ctx = fs;
	fs->watch = kf_arena_alloc(&kc->arena, nparts * sizeof(*fs->watch));
	fs->timer = evtimer_new(srv->base, timer_cb, fs);
	fs->wake = event_new(srv->base, -1, 0, wake_cb, fs);
	if (!fs->watch || !fs->timer || !fs->wake) {
		state_release(fs);
		return KF_R_CLOSE;
	}
	struct timeval tv = { r.max_wait_ms / 1000, (r.max_wait_ms % 1000) * 1000 };
	evtimer_add(fs->timer, &tv);
	watch(fs);
	kc->park = &fs->base;
	return KF_R_PARKED;
}
