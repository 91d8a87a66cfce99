/*
 * Fetch v4-v5 with long polling (v5 adds each partition's log start, which
 * followers follow: Kafka's KIP-107).  Each partition's answer is whole stored
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
 * (replica_id -1) is served by the partition's leader only
 * (NOT_LEADER_OR_FOLLOWER, LEADER_NOT_AVAILABLE) and reads below the high
 * watermark; a follower (replica_id >= 0, on a connection whose user is
 * tagged administrator, else CLUSTER_AUTHORIZATION_FAILED) names topics
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

#include <time.h>

#include "core/replica.h"
#include "kafka/kf.h"
#include "net/net.h"

struct fetch_part {
	int32_t index;
	int64_t fetch_offset;
	int32_t partition_max_bytes;
	int16_t err;
	int64_t high_watermark;
	int64_t log_start;         /* v5+: the partition's log start, -1 when unknown */
	int64_t parked_hw;         /* the high watermark when the request parked */
	struct tdm_read_result rr; /* held between read and encode */
};

struct fetch_topic {
	struct kf_str name;
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
	/* a consumer, or a follower whose position is recorded (a parked
	 * fetch looking again): is this node still the leader? */
	if (fs->replica_id < 0 || fs->recorded)
		return kf_err_from_replica(tdm_replica_check_leader(r, ft->cname, fp->index));
	int rc = tdm_replica_follower_fetch(r, fs->replica_id, ft->cname, fp->index,
					    (uint64_t)fp->fetch_offset, -1, now_ms());
	if (rc == TDM_REPL_OK)
		tdm_replica_follower_applied(r, fs->replica_id, fs->kc, ft->cname, fp->index,
					     (uint64_t)fp->fetch_offset);
	return kf_err_from_replica(rc);
}

/* Reads every partition; returns the bytes found, and sets *errors when a
 * partition answers with an error (which ends the wait, as in Kafka). */
static size_t read_all(struct fetch_state *fs, int *errors)
{
	struct kf_server *srv = fs->kc->srv;
	size_t total = 0, max = fs->max_bytes > 0 ? (size_t)fs->max_bytes : 0;

	*errors = 0;
	for (int32_t i = 0; i < fs->ntopics; i++) {
		struct fetch_topic *ft = &fs->topics[i];
		int16_t aerr = fs->replica_id >= 0
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
			fp->high_watermark = -1;
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
			if (total >= max && total > 0)
				continue; /* request full: no records, but the high watermark */
			limit = fp->partition_max_bytes > 0 ? (size_t)fp->partition_max_bytes : 0;
			if (max - total < limit)
				limit = max - total;
			if (srv->replica && fs->replica_id < 0)
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
			if (!srv->replica)
				fp->high_watermark = (int64_t)fp->rr.high_watermark;
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

/* Encodes the response into resp, handing the file ranges to it. */
static void encode(struct fetch_state *fs, struct evbuffer *resp)
{
	struct tdm_topics *topics = fs->kc->srv->topics;

	kf_put_i32(resp, 0); /* throttle_time_ms */
	kf_put_i32(resp, fs->ntopics);
	for (int32_t i = 0; i < fs->ntopics; i++) {
		struct fetch_topic *ft = &fs->topics[i];

		kf_put_kstr(resp, ft->name);
		kf_put_i32(resp, ft->nparts);
		for (int32_t j = 0; j < ft->nparts; j++) {
			struct fetch_part *fp = &ft->parts[j];
			size_t len = fp->rr.ref ? fp->rr.len : 0;
			struct evbuffer_file_segment *seg = NULL;
			struct seg_hold *h = NULL;

			kf_put_i32(resp, fp->index);
			if (len) {
				h = malloc(sizeof(*h));
				seg = h ? evbuffer_file_segment_new(fp->rr.fd, (ev_off_t)fp->rr.file_pos,
								    (ev_off_t)len,
								    EVBUF_FS_DISABLE_LOCKING)
					: NULL;
				if (!seg) {
					free(h);
					h = NULL;
					len = 0;
					fp->err = KF_ERR_UNKNOWN_SERVER_ERROR;
				}
			}
			kf_put_i16(resp, fp->err);
			if (fs->replica_id >= 0 && !fp->err && fp->high_watermark >= 0 && ft->cname)
				tdm_replica_follower_sent(fs->kc->srv->replica, fs->replica_id, fs->kc,
							  ft->cname, fp->index,
							  (uint64_t)fp->high_watermark);
			kf_put_i64(resp, fp->high_watermark);
			kf_put_i64(resp, fp->high_watermark); /* last_stable_offset */
			if (fs->version >= 5)
				kf_put_i64(resp, fp->log_start);
			kf_put_i32(resp, 0);                  /* aborted_transactions */
			kf_put_i32(resp, (int32_t)len);       /* records */
			if (seg) {
				h->topics = topics;
				h->rr = fp->rr; /* the hold takes over the reference */
				fp->rr.ref = NULL;
				evbuffer_file_segment_add_cleanup_cb(seg, seg_cleanup, h);
				evbuffer_add_file_segment(resp, seg, 0, (ev_off_t)len);
				evbuffer_file_segment_free(seg); /* the buffer keeps its own ref */
			}
		}
	}
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

int kf_h_fetch(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_server *srv = kc->srv;
	struct kf_fetch_req r;
	struct fetch_state *fs;
	size_t nparts = 0, got;
	int errors;

	if (kf_decode_fetch(cur, kc->hdr.api_version, &kc->arena, &r) < 0)
		return KF_R_CLOSE;
	fs = kf_arena_alloc(&kc->arena, sizeof(*fs));
	if (!fs)
		return KF_R_CLOSE;
	fs->kc = kc;
	fs->replica_id = r.replica_id < 0 ? -1 : r.replica_id;
	fs->version = kc->hdr.api_version;
	fs->follower_denied = r.replica_id >= 0 && !kf_authz_cluster(kc);
	fs->min_bytes = r.min_bytes;
	fs->max_bytes = r.max_bytes;
	fs->ntopics = r.ntopics;
	if (r.ntopics > 0 && !(fs->topics = kf_arena_alloc(&kc->arena, (size_t)r.ntopics * sizeof(*fs->topics))))
		return KF_R_CLOSE;
	for (int32_t i = 0; i < r.ntopics; i++) {
		struct fetch_topic *ft = &fs->topics[i];

		ft->name = r.topics[i].name;
		if (ft->name.len >= 0 && (size_t)ft->name.len < 256 &&
		    (ft->cname = kf_arena_alloc(&kc->arena, (size_t)ft->name.len + 1)) &&
		    kf_str_cstr(ft->name, ft->cname, (size_t)ft->name.len + 1) < 0)
			ft->cname = NULL;
		ft->nparts = r.topics[i].nparts;
		if (ft->nparts > 0 &&
		    !(ft->parts = kf_arena_alloc(&kc->arena, (size_t)ft->nparts * sizeof(*ft->parts))))
			return KF_R_CLOSE;
		for (int32_t j = 0; j < ft->nparts; j++) {
			ft->parts[j].index = r.topics[i].parts[j].index;
			ft->parts[j].fetch_offset = r.topics[i].parts[j].fetch_offset;
			ft->parts[j].partition_max_bytes = r.topics[i].parts[j].partition_max_bytes;
			ft->parts[j].rr.fd = -1;
		}
		nparts += (size_t)ft->nparts;
	}
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
