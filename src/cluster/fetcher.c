/*
 * The replica fetcher (see fetcher.h): per leader node one bufferevent
 * and one request in flight; per followed partition a small state
 * machine (truncating -> fetching, out of range, waiting).  Requests and
 * responses go through cluster/kwire.h; the local log is reached through
 * core (tdm_topics_*, tdm_partition_*), the replica manager through
 * core/replica.h.
 *
 * Must not depend on: src/kafka, src/amqp, src/http.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cluster/fetcher.h"
#include "cluster/kwire.h"
#include "core/config.h"
#include "core/log.h"
#include "core/replica.h"
#include "core/topic_ops.h"
#include "core/topics.h"

/* Kafka API keys and error codes the fetcher speaks. */
enum { KW_FETCH = 1, KW_LIST_OFFSETS = 2, KW_OFFSET_FOR_LEADER_EPOCH = 23 };
enum { KW_ERR_OFFSET_OUT_OF_RANGE = 1 };

#define FETCH_MAX_BYTES (10 << 20)         /* replica.fetch.response.max.bytes */
#define FETCH_PARTITION_MAX_BYTES (1 << 20) /* replica.fetch.max.bytes */
#define RESPONSE_MAX (64u << 20)            /* a larger frame is a broken peer */
#define REQUEST_TIMEOUT_MS 30000            /* replica.socket.timeout.ms */
#define CONNECT_TIMEOUT_MS 10000

struct fleader;

struct fpart {
	char *topic; /* owned */
	int32_t partition;
	int32_t leader, leader_epoch;
	enum tdm_fetcher_state state;
	int32_t ask_epoch;      /* TRUNCATING: the epoch of ours to ask about */
	int oor_step;           /* OUT_OF_RANGE: 0 ask the leader's end, 1 its start */
	int in_request;         /* part of the request in flight */
	uint64_t gen, req_gen;  /* follow changes; the one the request was for */
	int64_t wait_until_ms;  /* WAITING */
	uint64_t truncations;
	int64_t last_truncation; /* -1: none */
	struct fpart *next;
};

struct fleader {
	struct tdm_fetcher *f;  /* borrowed */
	int32_t node;
	struct bufferevent *bev; /* owned; NULL while disconnected */
	int connected;          /* and authenticated, on the cluster port */
	int via_link;           /* this connection goes to the node's cluster port */
	int auth_warned;        /* its refusal logged (until one succeeds) */
	int plain_warned;       /* fetching unauthenticated logged */
	int32_t corr;           /* correlation id in flight, 0 when none */
	int16_t kind;           /* its api key (KW_SASL_*: authenticating) */
	int64_t deadline_ms;    /* of the connection attempt or the request in flight */
	int backoff_ms;         /* next reconnect delay */
	struct event *timer;    /* owned: reconnect, backoff, request timeout */
	struct fleader *next;
};

struct tdm_fetcher {
	struct event_base *base;     /* borrowed */
	struct tdm_topics *topics;   /* borrowed */
	struct tdm_replica *replica; /* borrowed, may be NULL */
	int32_t node_id;
	tdm_fetcher_resolve_fn resolve;
	tdm_fetcher_resolve_fn resolve_link; /* NULL: no cluster port here */
	void *ctx;
	char *secret;             /* owned: the cluster's, with resolve_link */
	size_t secret_len;
	int plain_warned;         /* fetching unauthenticated logged (no secret) */
	char client_id[40];
	int32_t next_corr;
	struct fpart *parts;      /* owned list */
	struct fleader *leaders;  /* owned list */
};

static void pump(struct fleader *l);
static void leader_connect(struct fleader *l);

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void arm(struct fleader *l, int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	evtimer_add(l->timer, &tv);
}

static struct ls_partition *local_part(struct tdm_fetcher *f, const struct fpart *p)
{
	struct ls_topic *t = tdm_topic_find(f->topics, p->topic);

	return t ? tdm_topic_partition(t, p->partition) : NULL;
}

static struct fpart *find_part(const struct tdm_fetcher *f, const char *topic, int32_t partition)
{
	for (struct fpart *p = f->parts; p; p = p->next)
		if (p->partition == partition && strcmp(p->topic, topic) == 0)
			return p;
	return NULL;
}

static struct fleader *find_leader(const struct tdm_fetcher *f, int32_t node)
{
	for (struct fleader *l = f->leaders; l; l = l->next)
		if (l->node == node)
			return l;
	return NULL;
}

/* Step 1 for p: ask about our latest epoch, or fetch at once when our log
 * has none (nothing of ours can disagree with the leader's epochs). */
static void start_truncation(struct tdm_fetcher *f, struct fpart *p)
{
	struct ls_partition *lp = local_part(f, p);

	p->in_request = 0;
	p->oor_step = 0;
	p->ask_epoch = lp ? tdm_partition_latest_epoch(lp) : -1;
	p->state = p->ask_epoch >= 0 ? TDM_FETCHER_TRUNCATING : TDM_FETCHER_FETCHING;
}

/* p failed with Kafka error err: wait, then start again at step 1. */
static void to_waiting(struct fpart *p, int16_t err)
{
	if (p->state != TDM_FETCHER_WAITING)
		tdm_info("cluster", "replica fetch of %s-%d from node %d: error %d, retrying in %d ms",
			 p->topic, (int)p->partition, (int)p->leader, (int)err,
			 TDM_FETCHER_BACKOFF_MS);
	p->state = TDM_FETCHER_WAITING;
	p->wait_until_ms = now_ms() + TDM_FETCHER_BACKOFF_MS;
}

/* The local log cut at `to` (start_at 0, to below our log end) or
 * restarted empty there (start_at 1, Kafka's truncateFullyAndStartAt:
 * `to` is the leader's log start, past our log end); counted. */
static int cut_log(struct tdm_fetcher *f, struct fpart *p, struct ls_partition *lp, uint64_t to,
		   int start_at)
{
	const char *what = start_at ? "restarting empty at" : "truncating to";
	tdm_info("cluster", "%s-%d: log end %llu, %s %llu (leader node %d, epoch %d)", p->topic,
		 (int)p->partition, (unsigned long long)tdm_partition_log_end(lp), what,
		 (unsigned long long)to, (int)p->leader, (int)p->leader_epoch);
	int rc = start_at ? tdm_topics_start_at(f->topics, lp, to)
			  : tdm_topics_truncate(f->topics, lp, to);
	if (rc != TDM_TOPIC_OK) {
		tdm_warn("cluster", "%s-%d: %s %llu failed: %s", p->topic, (int)p->partition, what,
			 (unsigned long long)to, tdm_strerror(rc));
		return -1;
	}
	p->truncations++;
	p->last_truncation = (int64_t)to;
	return 0;
}

static int truncate_to(struct tdm_fetcher *f, struct fpart *p, struct ls_partition *lp,
		       uint64_t to)
{
	return to >= tdm_partition_log_end(lp) ? 0 : cut_log(f, p, lp, to, 0);
}

/* ---- the truncation decision (Kafka's getOffsetTruncationState) -------- */

int tdm_fetcher_truncation(int32_t asked, struct tdm_fetcher_epoch_end leader,
			   struct tdm_fetcher_epoch_end ours, uint64_t log_end,
			   uint64_t high_watermark, uint64_t *truncate_to, int32_t *next_epoch)
{
	uint64_t to;

	(void)asked;
	if (leader.end < 0) {
		/* the leader knows no epoch at or below ours: keep what is
		 * known replicated, our high watermark */
		*truncate_to = high_watermark < log_end ? high_watermark : log_end;
		return 0;
	}
	if (leader.epoch < 0 || ours.epoch < 0) {
		/* no epoch to compare: the leader's end offset bounds us */
		to = (uint64_t)leader.end;
		*truncate_to = to < log_end ? to : log_end;
		return 0;
	}
	if (ours.epoch != leader.epoch) {
		/* we never had the leader's epoch: cut to the end of our largest
		 * older one and ask again about it */
		to = ours.end < 0 ? 0 : (uint64_t)ours.end;
		*truncate_to = to < log_end ? to : log_end;
		*next_epoch = ours.epoch;
		return 1;
	}
	to = (uint64_t)leader.end;
	if (ours.end >= 0 && (uint64_t)ours.end < to)
		to = (uint64_t)ours.end;
	*truncate_to = to < log_end ? to : log_end;
	return 0;
}

/* ---- requests ------------------------------------------------------------ */

/* The partitions of l's node in state st, marked as part of a request. */
static size_t collect(struct fleader *l, enum tdm_fetcher_state st)
{
	size_t n = 0;

	for (struct fpart *p = l->f->parts; p; p = p->next)
		if (p->leader == l->node && p->state == st) {
			p->in_request = 1;
			p->req_gen = p->gen;
			n++;
		}
	return n;
}

/* Writes the marked partitions grouped by topic: for each topic its name,
 * the count, then put(p) per partition. */
static void put_topics(struct fleader *l, struct evbuffer *b,
		       void (*put)(struct fleader *, struct evbuffer *, struct fpart *))
{
	int32_t ntopics = 0;

	for (struct fpart *p = l->f->parts; p; p = p->next) {
		int first = 1;

		if (!p->in_request || p->leader != l->node)
			continue;
		for (struct fpart *q = l->f->parts; q != p; q = q->next)
			if (q->in_request && q->leader == l->node && strcmp(q->topic, p->topic) == 0)
				first = 0;
		ntopics += first;
	}
	kw_put_i32(b, ntopics);
	for (struct fpart *p = l->f->parts; p; p = p->next) {
		int first = 1;
		int32_t n = 0;

		if (!p->in_request || p->leader != l->node)
			continue;
		for (struct fpart *q = l->f->parts; q != p; q = q->next)
			if (q->in_request && q->leader == l->node && strcmp(q->topic, p->topic) == 0)
				first = 0;
		if (!first)
			continue;
		for (struct fpart *q = p; q; q = q->next)
			if (q->in_request && q->leader == l->node && strcmp(q->topic, p->topic) == 0)
				n++;
		kw_put_str(b, p->topic);
		kw_put_i32(b, n);
		for (struct fpart *q = p; q; q = q->next)
			if (q->in_request && q->leader == l->node && strcmp(q->topic, p->topic) == 0)
				put(l, b, q);
	}
}

static void put_ofle(struct fleader *l, struct evbuffer *b, struct fpart *p)
{
	(void)l;
	kw_put_i32(b, p->partition);
	kw_put_i32(b, p->leader_epoch); /* current_leader_epoch */
	kw_put_i32(b, p->ask_epoch);
}

static void put_list_offsets(struct fleader *l, struct evbuffer *b, struct fpart *p)
{
	(void)l;
	kw_put_i32(b, p->partition);
	kw_put_i64(b, p->oor_step ? -2 : -1); /* earliest : latest */
}

static void put_fetch(struct fleader *l, struct evbuffer *b, struct fpart *p)
{
	struct ls_partition *lp = local_part(l->f, p);

	kw_put_i32(b, p->partition);
	kw_put_i64(b, lp ? (int64_t)tdm_partition_log_end(lp) : 0);
	kw_put_i64(b, lp ? (int64_t)tdm_partition_log_start(lp) : -1); /* v5 */
	kw_put_i32(b, FETCH_PARTITION_MAX_BYTES);
}

/* Sends the request of kind over l's connection. */
static int send_request(struct fleader *l, int16_t kind)
{
	struct tdm_fetcher *f = l->f;
	struct evbuffer *b = evbuffer_new();
	size_t off;
	int rc = -1;

	if (!b)
		return -1;
	if (++f->next_corr <= 0)
		f->next_corr = 1;
	switch (kind) {
	case KW_OFFSET_FOR_LEADER_EPOCH:
		off = kw_request_begin(b, kind, 3, f->next_corr, f->client_id);
		kw_put_i32(b, f->node_id); /* replica_id */
		put_topics(l, b, put_ofle);
		break;
	case KW_LIST_OFFSETS:
		off = kw_request_begin(b, kind, 1, f->next_corr, f->client_id);
		kw_put_i32(b, f->node_id);
		put_topics(l, b, put_list_offsets);
		break;
	default:
		off = kw_request_begin(b, KW_FETCH, 5, f->next_corr, f->client_id);
		kw_put_i32(b, f->node_id);
		kw_put_i32(b, TDM_FETCHER_MAX_WAIT_MS);
		kw_put_i32(b, 1);               /* min_bytes */
		kw_put_i32(b, FETCH_MAX_BYTES); /* max_bytes */
		kw_put_i8(b, 0);                /* isolation_level */
		put_topics(l, b, put_fetch);
		break;
	}
	if (kw_request_end(b, off) == 0 && bufferevent_write_buffer(l->bev, b) == 0) {
		l->corr = f->next_corr;
		l->kind = kind;
		l->deadline_ms = now_ms() + TDM_FETCHER_MAX_WAIT_MS + REQUEST_TIMEOUT_MS;
		arm(l, l->deadline_ms - now_ms());
		rc = 0;
	}
	evbuffer_free(b);
	return rc;
}

static void leader_free(struct fleader *l)
{
	struct fleader **pp;

	for (pp = &l->f->leaders; *pp && *pp != l; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = l->next;
	if (l->bev)
		bufferevent_free(l->bev);
	event_free(l->timer);
	free(l);
}

/* The connection to l failed or was lost: its partitions start again at
 * step 1 once it is back, after the backoff. */
static void leader_lost(struct fleader *l, const char *why)
{
	struct tdm_fetcher *f = l->f;

	tdm_info("cluster", "replica fetcher: connection to node %d %s; retrying in %d ms",
		 (int)l->node, why, l->backoff_ms);
	if (l->bev)
		bufferevent_free(l->bev);
	l->bev = NULL;
	l->connected = 0;
	l->corr = 0;
	for (struct fpart *p = f->parts; p; p = p->next)
		if (p->leader == l->node && p->state != TDM_FETCHER_WAITING)
			start_truncation(f, p);
	arm(l, l->backoff_ms);
	l->backoff_ms *= 2;
	if (l->backoff_ms > TDM_FETCHER_RECONNECT_MAX_MS)
		l->backoff_ms = TDM_FETCHER_RECONNECT_MAX_MS;
}

/* Sends the next request l's partitions need, if none is in flight. */
static void pump(struct fleader *l)
{
	int64_t now = now_ms(), wake = -1;
	int any = 0;

	if (!l->connected || l->corr)
		return;
	for (struct fpart *p = l->f->parts; p; p = p->next) {
		if (p->leader != l->node)
			continue;
		any = 1;
		p->in_request = 0;
		if (p->state == TDM_FETCHER_WAITING) {
			if (p->wait_until_ms <= now)
				start_truncation(l->f, p);
			else if (wake < 0 || p->wait_until_ms < wake)
				wake = p->wait_until_ms;
		}
	}
	if (!any)
		return;
	if (collect(l, TDM_FETCHER_TRUNCATING)) {
		if (send_request(l, KW_OFFSET_FOR_LEADER_EPOCH) < 0)
			leader_lost(l, "could not send");
		return;
	}
	if (collect(l, TDM_FETCHER_OUT_OF_RANGE)) {
		if (send_request(l, KW_LIST_OFFSETS) < 0)
			leader_lost(l, "could not send");
		return;
	}
	if (collect(l, TDM_FETCHER_FETCHING)) {
		if (send_request(l, KW_FETCH) < 0)
			leader_lost(l, "could not send");
		return;
	}
	if (wake >= 0)
		arm(l, wake - now);
}

/* ---- responses ------------------------------------------------------------ */

/* The partition of l's request in flight named topic/partition, still
 * followed as it was when the request left. */
static struct fpart *response_part(struct fleader *l, const char *topic, int32_t tlen,
				   int32_t partition)
{
	for (struct fpart *p = l->f->parts; p; p = p->next)
		if (p->in_request && p->leader == l->node && p->partition == partition &&
		    p->gen == p->req_gen && tlen >= 0 && strlen(p->topic) == (size_t)tlen &&
		    memcmp(p->topic, topic, (size_t)tlen) == 0)
			return p;
	return NULL;
}

static void on_ofle(struct fleader *l, struct kw_cur *c)
{
	struct tdm_fetcher *f = l->f;
	int32_t nt;

	(void)kw_get_i32(c); /* throttle_time_ms */
	nt = kw_get_array(c, 6);
	for (int32_t i = 0; i < nt && !c->bad; i++) {
		const char *tn;
		int32_t tl = kw_get_str(c, &tn), np = kw_get_array(c, 18);

		for (int32_t j = 0; j < np && !c->bad; j++) {
			int16_t err = kw_get_i16(c);
			int32_t part = kw_get_i32(c);
			struct tdm_fetcher_epoch_end leader, ours = { -1, -1 };
			struct fpart *p;
			struct ls_partition *lp;
			uint64_t to, hw;
			int32_t next = -1;

			leader.epoch = kw_get_i32(c);
			leader.end = kw_get_i64(c);
			if (c->bad || !(p = response_part(l, tn, tl, part)))
				continue;
			if (err) {
				to_waiting(p, err);
				continue;
			}
			if (!(lp = local_part(f, p))) {
				to_waiting(p, 3);
				continue;
			}
			if (leader.epoch >= 0)
				tdm_partition_epoch_end(lp, leader.epoch, &ours.epoch, &ours.end);
			if (ours.epoch < 0 || ours.end < 0)
				ours.epoch = -1, ours.end = -1;
			/* our own high watermark (checkpointed), as Kafka's follower */
			hw = tdm_partition_high_watermark(lp);
			int again = tdm_fetcher_truncation(p->ask_epoch, leader, ours,
							   tdm_partition_log_end(lp), hw, &to, &next);
			if (truncate_to(f, p, lp, to) < 0) {
				to_waiting(p, -1);
				continue;
			}
			if (again && next >= 0 && next < p->ask_epoch) {
				p->ask_epoch = next;
			} else {
				p->state = TDM_FETCHER_FETCHING;
			}
		}
	}
}

static void on_list_offsets(struct fleader *l, struct kw_cur *c)
{
	struct tdm_fetcher *f = l->f;
	int32_t nt = kw_get_array(c, 6);

	for (int32_t i = 0; i < nt && !c->bad; i++) {
		const char *tn;
		int32_t tl = kw_get_str(c, &tn), np = kw_get_array(c, 22);

		for (int32_t j = 0; j < np && !c->bad; j++) {
			int32_t part = kw_get_i32(c);
			int16_t err = kw_get_i16(c);
			int64_t off;
			struct fpart *p;
			struct ls_partition *lp;
			uint64_t end;

			(void)kw_get_i64(c); /* timestamp */
			off = kw_get_i64(c);
			if (c->bad || !(p = response_part(l, tn, tl, part)))
				continue;
			if (err || off < 0 || !(lp = local_part(f, p))) {
				to_waiting(p, err ? err : -1);
				continue;
			}
			end = tdm_partition_log_end(lp);
			if (p->oor_step == 0) {
				if ((uint64_t)off < end) {
					/* the leader's log is shorter (an unclean election) */
					if (truncate_to(f, p, lp, (uint64_t)off) < 0)
						to_waiting(p, -1);
					else
						p->state = TDM_FETCHER_FETCHING;
				} else {
					p->oor_step = 1;
				}
				continue;
			}
			/* we are below the leader's log start (retention deleted
			 * what we would fetch next): Kafka truncates fully and
			 * starts there, empty */
			if ((uint64_t)off > end && cut_log(f, p, lp, (uint64_t)off, 1) < 0) {
				to_waiting(p, -1);
				continue;
			}
			p->state = TDM_FETCHER_FETCHING;
		}
	}
}

/* Appends the leader's batches at and after our log end: batches wholly
 * below it (the leader answers from the batch containing the offset) are
 * skipped, and a partial batch at the end is left to the next fetch. */
static int append_records(struct tdm_fetcher *f, struct fpart *p, struct ls_partition *lp,
			  const uint8_t *rec, size_t len)
{
	uint64_t end = tdm_partition_log_end(lp);

	while (len >= 61) {
		uint64_t base = 0;
		uint32_t blen = (uint32_t)rec[8] << 24 | (uint32_t)rec[9] << 16 |
				(uint32_t)rec[10] << 8 | rec[11];
		uint32_t last_delta = (uint32_t)rec[23] << 24 | (uint32_t)rec[24] << 16 |
				      (uint32_t)rec[25] << 8 | rec[26];

		for (int i = 0; i < 8; i++)
			base = base << 8 | rec[i];
		if (base + last_delta >= end || (size_t)blen + 12 > len)
			break;
		rec += (size_t)blen + 12;
		len -= (size_t)blen + 12;
	}
	if (len < 61)
		return 0;
	size_t consumed = 0;
	int rc = tdm_topics_append_replica(f->topics, lp, rec, len, &consumed, NULL);
	if (rc != TDM_TOPIC_OK) {
		tdm_warn("cluster", "appending to %s-%d from node %d failed: %s", p->topic,
			 (int)p->partition, (int)p->leader, tdm_strerror(rc));
		return -1;
	}
	return 0;
}

static void on_fetch(struct fleader *l, struct kw_cur *c)
{
	struct tdm_fetcher *f = l->f;
	int32_t nt;

	(void)kw_get_i32(c); /* throttle_time_ms */
	nt = kw_get_array(c, 6);
	for (int32_t i = 0; i < nt && !c->bad; i++) {
		const char *tn;
		int32_t tl = kw_get_str(c, &tn), np = kw_get_array(c, 30);

		for (int32_t j = 0; j < np && !c->bad; j++) {
			int32_t part = kw_get_i32(c);
			int16_t err = kw_get_i16(c);
			int64_t hw = kw_get_i64(c), log_start;
			int32_t na;
			const uint8_t *rec;
			int32_t rl;
			struct fpart *p;
			struct ls_partition *lp;

			(void)kw_get_i64(c); /* last_stable_offset */
			log_start = kw_get_i64(c);
			na = kw_get_array(c, 16);
			for (int32_t k = 0; k < na && !c->bad; k++) {
				(void)kw_get_i64(c);
				(void)kw_get_i64(c);
			}
			rl = kw_get_bytes(c, &rec);
			if (c->bad || !(p = response_part(l, tn, tl, part)))
				continue;
			if (err == KW_ERR_OFFSET_OUT_OF_RANGE) {
				p->state = TDM_FETCHER_OUT_OF_RANGE;
				p->oor_step = 0;
				continue;
			}
			if (err) {
				to_waiting(p, err);
				continue;
			}
			if (!(lp = local_part(f, p))) {
				to_waiting(p, 3);
				continue;
			}
			if (rl > 0 && append_records(f, p, lp, rec, (size_t)rl) < 0) {
				to_waiting(p, -1);
				continue;
			}
			/* the leader's log start is ours too (Kafka's follower
			 * maybeIncrementLogStartOffset): what is below it goes */
			if (log_start > 0 && (uint64_t)log_start > tdm_partition_log_start(lp) &&
			    (uint64_t)log_start <= tdm_partition_log_end(lp))
				tdm_topics_set_log_start(f->topics, lp, (uint64_t)log_start);
			if (hw < 0)
				continue;
			if (f->replica)
				tdm_replica_follower_hw(f->replica, p->topic, p->partition, lp,
							(uint64_t)hw);
			else /* no replica manager: keep the high watermark ourselves */
				tdm_partition_set_high_watermark(lp, (uint64_t)hw);
		}
	}
}

/* Writes SASL step api (kwire.h) on l's connection: 0, or -1. */
static int send_sasl(struct fleader *l, int16_t api)
{
	struct tdm_fetcher *f = l->f;
	struct evbuffer *b = evbuffer_new();
	int rc = -1;

	if (!b)
		return -1;
	if (++f->next_corr <= 0)
		f->next_corr = 1;
	if (kw_sasl_request(b, api, f->next_corr, f->client_id, TDM_CLUSTER_LINK_USER, f->secret,
			    f->secret_len) == 0 &&
	    bufferevent_write_buffer(l->bev, b) == 0) {
		l->corr = f->next_corr;
		l->kind = api;
		rc = 0;
	}
	evbuffer_free(b);
	return rc;
}

/* The answer to a SASL step: the next step sent, or the connection ready
 * for requests; -1 with why when the leader refused us (logged as a
 * warning once, until an authentication succeeds). */
static int on_sasl(struct fleader *l, struct kw_cur *c, const char **why)
{
	int rc = kw_sasl_answer(c, l->kind, why);

	l->corr = 0;
	if (rc < 0) {
		if (!l->auth_warned)
			tdm_warn("cluster",
				 "replica fetcher: node %d's cluster port refused to authenticate "
				 "us: %s; nothing is replicated from it until it accepts (retrying)",
				 (int)l->node, *why);
		l->auth_warned = 1;
		*why = "refused our authentication";
		return -1;
	}
	if (rc == 1) {
		*why = "could not send";
		return send_sasl(l, KW_SASL_AUTHENTICATE);
	}
	if (l->auth_warned)
		tdm_info("cluster", "replica fetcher: node %d's cluster port accepts us again",
			 (int)l->node);
	l->auth_warned = 0;
	l->connected = 1;
	l->backoff_ms = TDM_FETCHER_RECONNECT_MIN_MS;
	evtimer_del(l->timer);
	tdm_debug("cluster", "replica fetcher: authenticated to node %d's cluster port",
		  (int)l->node);
	return 0;
}

/* One response frame (after its size): 0, or -1 with why when it makes
 * no sense or the leader refused us. */
static int on_response(struct fleader *l, const uint8_t *frame, size_t len, const char **why)
{
	struct kw_cur c;
	int32_t corr;

	*why = "sent an unexpected response";
	kw_cur_init(&c, frame, len);
	corr = kw_get_i32(&c);
	if (c.bad || !l->corr || corr != l->corr)
		return -1;
	if (l->kind == KW_SASL_HANDSHAKE || l->kind == KW_SASL_AUTHENTICATE)
		return on_sasl(l, &c, why);
	switch (l->kind) {
	case KW_OFFSET_FOR_LEADER_EPOCH:
		on_ofle(l, &c);
		break;
	case KW_LIST_OFFSETS:
		on_list_offsets(l, &c);
		break;
	default:
		on_fetch(l, &c);
		break;
	}
	l->corr = 0;
	for (struct fpart *p = l->f->parts; p; p = p->next)
		if (p->leader == l->node)
			p->in_request = 0;
	if (c.bad)
		return -1;
	l->backoff_ms = TDM_FETCHER_RECONNECT_MIN_MS;
	evtimer_del(l->timer);
	return 0;
}

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct fleader *l = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	for (;;) {
		const uint8_t *frame;
		const char *why;
		size_t size;
		int got = kw_frame_next(in, RESPONSE_MAX, &frame, &size);

		if (got == 0)
			return;
		if (got < 0) {
			leader_lost(l, "sent a bad frame");
			return;
		}
		if (on_response(l, frame, size, &why) < 0) {
			leader_lost(l, why);
			return;
		}
		evbuffer_drain(in, size + 4);
		/* the definitions applied before the next fetch tells the
		 * leader so (core/replica.h: applier topics) */
		struct tdm_fetcher *f = l->f;
		int32_t node = l->node;
		tdm_replica_fetched(f->replica);
		if (find_leader(f, node) != l || l->bev != bev)
			return; /* the applier changed what is fetched: l may be gone */
		pump(l);
		if (!l->bev)
			return;
	}
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct fleader *l = arg;

	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		tdm_debug("cluster", "replica fetcher: connected to node %d%s", (int)l->node,
			  l->via_link ? "'s cluster port" : "");
		if (l->via_link) {
			/* authenticated within the connect deadline, or lost */
			if (send_sasl(l, KW_SASL_HANDSHAKE) < 0)
				leader_lost(l, "could not send");
			return;
		}
		l->connected = 1;
		evtimer_del(l->timer);
		pump(l);
		return;
	}
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		leader_lost(l, what & BEV_EVENT_EOF ? "closed" : "failed");
}

/* Logs once (per fetcher without a secret, per leader without a cluster
 * port) that l is fetched from unauthenticated. */
static void warn_plain(struct fleader *l)
{
	struct tdm_fetcher *f = l->f;
	int *warned = f->resolve_link ? &l->plain_warned : &f->plain_warned;

	if (*warned)
		return;
	*warned = 1;
	tdm_warn("cluster",
		 "replica fetcher: replicating from node %d over its Kafka listener, "
		 "unauthenticated (%s): that listener must let kafka_default_user in "
		 "anonymously as an administrator",
		 (int)l->node,
		 f->resolve_link ? "it registered no cluster port" : "this node has no cluster_port");
}

static void leader_connect(struct fleader *l)
{
	struct tdm_fetcher *f = l->f;
	char host[256];
	int port = 0;

	/* the leader's cluster port when both sides have one, else its
	 * Kafka listener as the anonymous user */
	l->via_link = f->resolve_link &&
		      f->resolve_link(f->ctx, l->node, host, sizeof(host), &port) == 0 && port > 0;
	if (!l->via_link &&
	    (f->resolve(f->ctx, l->node, host, sizeof(host), &port) < 0 || port <= 0)) {
		leader_lost(l, "has no known address");
		return;
	}
	if (!l->via_link)
		warn_plain(l);
	l->bev = kw_connect(l->f->base, host, port, read_cb, event_cb, l);
	if (!l->bev) {
		leader_lost(l, "could not be reached");
		return;
	}
	l->deadline_ms = now_ms() + CONNECT_TIMEOUT_MS;
	arm(l, CONNECT_TIMEOUT_MS);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct fleader *l = arg;

	(void)fd, (void)what;
	if (!l->bev) {
		leader_connect(l);
		return;
	}
	if (!l->connected && now_ms() >= l->deadline_ms) {
		leader_lost(l, "did not accept in time");
		return;
	}
	if (l->corr && now_ms() >= l->deadline_ms) {
		leader_lost(l, "did not answer in time");
		return;
	}
	pump(l);
}

/* ---- public -------------------------------------------------------------- */

struct tdm_fetcher *tdm_fetcher_new(struct event_base *base, struct tdm_topics *topics,
				    struct tdm_replica *replica, int32_t node_id,
				    tdm_fetcher_resolve_fn resolve, void *ctx)
{
	struct tdm_fetcher *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->base = base;
	f->topics = topics;
	f->replica = replica;
	f->node_id = node_id;
	f->resolve = resolve;
	f->ctx = ctx;
	snprintf(f->client_id, sizeof(f->client_id), "tandem-replica-%d", (int)node_id);
	return f;
}

int tdm_fetcher_use_link(struct tdm_fetcher *f, const char *secret, size_t secret_len,
			 tdm_fetcher_resolve_fn resolve_cluster)
{
	char *copy = f ? malloc(secret_len ? secret_len : 1) : NULL;

	if (!copy)
		return -1;
	memcpy(copy, secret, secret_len);
	if (f->secret) {
		explicit_bzero(f->secret, f->secret_len);
		free(f->secret);
	}
	f->secret = copy;
	f->secret_len = secret_len;
	f->resolve_link = resolve_cluster;
	return 0;
}

static void part_free(struct tdm_fetcher *f, struct fpart *p)
{
	struct fpart **pp;

	for (pp = &f->parts; *pp && *pp != p; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = p->next;
	free(p->topic);
	free(p);
}

/* Closes the connection to node when no partition is fetched from it. */
static void leader_release(struct tdm_fetcher *f, int32_t node)
{
	struct fleader *l = find_leader(f, node);

	if (!l)
		return;
	for (struct fpart *p = f->parts; p; p = p->next)
		if (p->leader == node)
			return;
	leader_free(l);
}

int tdm_fetcher_follow(struct tdm_fetcher *f, const char *topic, int32_t partition,
		       int32_t leader, int32_t leader_epoch)
{
	struct fpart *p = find_part(f, topic, partition);
	struct fleader *l;
	int32_t old;

	if (leader == TDM_NO_NODE || leader == f->node_id) {
		if (p) {
			old = p->leader;
			part_free(f, p);
			leader_release(f, old);
		}
		return 0;
	}
	if (p && p->leader == leader && p->leader_epoch == leader_epoch)
		return 0;
	if (!(l = find_leader(f, leader))) {
		l = calloc(1, sizeof(*l));
		if (!l || !(l->timer = evtimer_new(f->base, timer_cb, l))) {
			free(l);
			return -1;
		}
		l->f = f;
		l->node = leader;
		l->backoff_ms = TDM_FETCHER_RECONNECT_MIN_MS;
		l->next = f->leaders;
		f->leaders = l;
	}
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p || !(p->topic = strdup(topic))) {
			free(p);
			leader_release(f, leader);
			return -1;
		}
		p->partition = partition;
		p->leader = TDM_NO_NODE;
		p->last_truncation = -1;
		/* appended last: requests list partitions in follow order */
		struct fpart **pp = &f->parts;
		while (*pp)
			pp = &(*pp)->next;
		*pp = p;
	}
	old = p->leader;
	p->leader = leader;
	p->leader_epoch = leader_epoch;
	p->gen++;
	start_truncation(f, p);
	if (old != TDM_NO_NODE && old != leader)
		leader_release(f, old);
	if (!l->bev && !evtimer_pending(l->timer, NULL))
		leader_connect(l);
	else
		pump(l);
	return 0;
}

void tdm_fetcher_follow_hook(void *ctx, const char *topic, int32_t partition, int32_t leader,
			     int32_t leader_epoch)
{
	if (tdm_fetcher_follow(ctx, topic, partition, leader, leader_epoch) < 0)
		tdm_error("cluster", "cannot follow %s-%d: out of memory", topic, (int)partition);
}

enum tdm_fetcher_state tdm_fetcher_state(const struct tdm_fetcher *f, const char *topic,
					 int32_t partition, uint64_t *truncations)
{
	const struct fpart *p = find_part(f, topic, partition);

	if (truncations)
		*truncations = p ? p->truncations : 0;
	return p ? p->state : TDM_FETCHER_NONE;
}

int64_t tdm_fetcher_last_truncation(const struct tdm_fetcher *f, const char *topic,
				    int32_t partition)
{
	const struct fpart *p = find_part(f, topic, partition);

	return p ? p->last_truncation : -1;
}

void tdm_fetcher_free(struct tdm_fetcher *f)
{
	if (!f)
		return;
	while (f->leaders)
		leader_free(f->leaders);
	while (f->parts)
		part_free(f, f->parts);
	if (f->secret) {
		explicit_bzero(f->secret, f->secret_len);
		free(f->secret);
	}
	free(f);
}
