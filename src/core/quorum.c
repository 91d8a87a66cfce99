/*
 * Quorum queues: the replicated command log and the leader's state; see
 * quorum.h for the model.
 *
 * Must not depend on: libevent, ZooKeeper, protocol front ends.
 */
#include "core/quorum.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/broker.h"
#include "core/durable.h"
#include "core/log.h"
#include "core/remote.h"
#include "core/replica.h"
#include "core/stream.h"
#include "core/topics.h"
#include "logstore/logstore.h"

#define READ_BYTES (1u << 20)    /* one log read of a rebuild */
#define CREATE_RETRY_MS 1000     /* a failed creation asked again after */
#define WARN_EVERY_MS 5000       /* refusals logged at most this often */
#define TRIM_MS 1000             /* settled segments looked for at most this often */

/* ---- offsets -> delivery state: an open-addressing hash ------------------ */

struct qslot {
	uint64_t key;
	uint32_t count;   /* deliveries returned so far (x-delivery-count) */
	uint8_t used, out;/* out: handed out and not settled */
};

struct qmap {
	struct qslot *s;
	size_t cap, n;    /* cap a power of two */
};

static size_t qmap_home(const struct qmap *m, uint64_t key)
{
	return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (m->cap - 1);
}

static struct qslot *qmap_find(const struct qmap *m, uint64_t key)
{
	if (!m->cap)
		return NULL;
	for (size_t i = qmap_home(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (!m->s[i].used)
			return NULL;
		if (m->s[i].key == key)
			return &m->s[i];
	}
}

static int qmap_grow(struct qmap *m)
{
	struct qmap n = { calloc(m->cap ? m->cap * 2 : 64, sizeof(struct qslot)),
			  m->cap ? m->cap * 2 : 64, 0 };
	if (!n.s)
		return -1;
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->s[i].used)
			continue;
		size_t j = qmap_home(&n, m->s[i].key);
		while (n.s[j].used)
			j = (j + 1) & (n.cap - 1);
		n.s[j] = m->s[i];
		n.n++;
	}
	free(m->s);
	*m = n;
	return 0;
}

/* The slot of key, added (zeroed) when missing; NULL when memory is short. */
static struct qslot *qmap_get(struct qmap *m, uint64_t key)
{
	struct qslot *s = qmap_find(m, key);
	if (s)
		return s;
	if ((m->n + 1) * 4 > m->cap * 3 && qmap_grow(m) < 0)
		return NULL;
	size_t i = qmap_home(m, key);
	while (m->s[i].used)
		i = (i + 1) & (m->cap - 1);
	m->s[i] = (struct qslot){ .key = key, .used = 1 };
	m->n++;
	return &m->s[i];
}

/* Removes s (a slot of m), shifting back the run after it. */
static void qmap_del(struct qmap *m, struct qslot *s)
{
	size_t i = (size_t)(s - m->s);
	for (size_t j = (i + 1) & (m->cap - 1); m->s[j].used; j = (j + 1) & (m->cap - 1)) {
		size_t h = qmap_home(m, m->s[j].key);
		/* j's entry may move to i when i lies cyclically in [h, j) */
		if ((j > i && (h <= i || h > j)) || (j < i && h <= i && h > j)) {
			m->s[i] = m->s[j];
			i = j;
		}
	}
	m->s[i].used = 0;
	m->n--;
}

static void qmap_clear(struct qmap *m)
{
	free(m->s);
	*m = (struct qmap){ 0 };
}

/* ---- the state ------------------------------------------------------------- */

/* Commands not written yet, in the order they were made. */
struct cmds {
	uint64_t *off;
	char *kind;                      /* 'D', 'R' or 'S' */
	size_t n, cap;
};

struct tdm_quorum {
	struct tdm_queue *q;             /* borrowed: the queue that owns this */
	struct tdm_quorum *prev, *next;  /* the broker's list */
	char topic[TDM_TOPIC_NAME_MAX + 1];
	int32_t group_size;              /* 0: every live node */
	int64_t delivery_limit;          /* -1: none */
	uint8_t propose;                 /* this node asks the controller for the topic */
	uint8_t leading;                 /* this node serves the queue (rebuilt) */
	uint8_t led_before;              /* rebuilt after a leader change: all flagged */
	int32_t epoch;                   /* the leader epoch this node was rebuilt for */
	struct qmap map;                 /* offsets handed out or returned */
	struct cmds pending;             /* D, R and S records not written yet */
	struct tdm_replica_op *op;       /* the topic's creation under way */
	uint64_t asked_ms, warned_ms;
	uint64_t trimmed_ms;             /* when trim() last looked */
	uint8_t untracked;               /* a hand-out not in map (no memory): no trim */
	char create_err[160];
};

static struct tdm_broker *broker_of(const struct tdm_quorum *qq)
{
	return qq->q->vhost->broker;
}

static int clustered(const struct tdm_broker *b)
{
	return b->replica || (b->cfg && b->cfg->zookeeper_connect && b->cfg->zookeeper_connect[0]);
}

static struct ls_partition *log_of(const struct tdm_quorum *qq)
{
	struct tdm_topics *t = broker_of(qq)->topics;
	struct ls_topic *tp = t ? ls_topic_find(tdm_topics_store(t), qq->topic) : NULL;
	return tp ? ls_partition_get(tp, 0) : NULL;
}

const char *tdm_quorum_topic(const struct tdm_queue *q)
{
	return q->quorum ? q->quorum->topic : NULL;
}

/* The topic's configs: one partition's worth of a queue, a majority of
 * the replicas in sync before a publish is confirmed, no retention (the
 * leader trims what was settled: trim()), segments of
 * quorum_segment_bytes. */
static size_t topic_configs(const struct tdm_quorum *qq, size_t rf, struct tdm_kv kv[4],
			    char bufs[4][24])
{
	const struct tdm_config *cfg = broker_of(qq)->cfg;
	long long maxmsg = cfg ? (long long)cfg->max_message_size + (1 << 20) : 1048588;
	if (maxmsg > INT32_MAX)
		maxmsg = INT32_MAX;
	snprintf(bufs[0], 24, "%zu", rf / 2 + 1);
	snprintf(bufs[1], 24, "%lld", maxmsg);
	snprintf(bufs[2], 24, "%d", -1);
	kv[0] = (struct tdm_kv){ "min.insync.replicas", bufs[0] };
	kv[1] = (struct tdm_kv){ "max.message.bytes", bufs[1] };
	kv[2] = (struct tdm_kv){ "retention.ms", bufs[2] };
	snprintf(bufs[3], 24, "%llu",
		 (unsigned long long)(cfg ? cfg->quorum_segment_bytes : 8u << 20));
	kv[3] = (struct tdm_kv){ "segment.bytes", bufs[3] };
	return 4;
}

static void created(void *arg, int rc, const char *msg)
{
	struct tdm_quorum *qq = arg;
	qq->op = NULL;
	if (rc == TDM_TOPIC_OK || rc == TDM_ERR_EXISTS) {
		qq->create_err[0] = '\0';
		qq->propose = 0;
		return;
	}
	snprintf(qq->create_err, sizeof(qq->create_err), "%s",
		 msg && msg[0] ? msg : tdm_replica_strerror(rc));
	tdm_warn("quorum", "creating the log of quorum queue '%s' in vhost '%s': %s",
		 qq->q->name, qq->q->vhost->name, qq->create_err);
}

/* Asks the controller for the topic (once at a time, again after a failure). */
static void create_in_cluster(struct tdm_quorum *qq)
{
	struct tdm_broker *b = broker_of(qq);
	uint64_t now = tdm_now_ms();
	if (!b->replica || qq->op || (qq->asked_ms && now - qq->asked_ms < CREATE_RETRY_MS))
		return;
	qq->asked_ms = now;
	const struct tdm_replica_node *nodes;
	size_t live = tdm_replica_nodes(b->replica, &nodes);
	size_t rf = qq->group_size > 0 ? (size_t)qq->group_size : live;
	if (rf > live)
		rf = live;
	struct tdm_kv kv[4];
	char bufs[4][24], err[200] = "";
	size_t nkv = topic_configs(qq, rf ? rf : 1, kv, bufs);
	int rc = tdm_stream_cluster_create(b->replica, qq->topic, 1, rf, kv, nkv, created, qq,
					   &qq->op, err, sizeof(err));
	if (rc != 0) {
		qq->op = NULL;
		snprintf(qq->create_err, sizeof(qq->create_err), "%s",
			 err[0] ? err : tdm_replica_strerror(rc));
	}
}

static int create_local(struct tdm_quorum *qq)
{
	struct tdm_topics *t = broker_of(qq)->topics;
	struct tdm_kv kv[4];
	char bufs[4][24], err[256] = "";
	if (!t)
		return -1;
	if (log_of(qq))
		return 0;
	size_t nkv = topic_configs(qq, 1, kv, bufs);
	int rc = tdm_topics_create(t, qq->topic, 1, kv, nkv, err, sizeof(err));
	if (rc != LS_OK && rc != LS_ERR_EXISTS) {
		tdm_error("quorum", "cannot create the log %s of quorum queue '%s' in vhost '%s': "
			  "%s%s%s", qq->topic, qq->q->name, qq->q->vhost->name, ls_strerror(rc),
			  err[0] ? ": " : "", err);
		return -1;
	}
	return 0;
}

/* ---- writing records --------------------------------------------------------- */

static int append(struct tdm_quorum *qq, const struct tdm_record *rec, int confirmed,
		  uint64_t *offset)
{
	struct tdm_broker *b = broker_of(qq);
	struct ls_partition *p = log_of(qq);
	if (!p)
		return -1;
	int rc = tdm_replica_check_leader(b->replica, qq->topic, 0);
	if (rc == TDM_REPL_OK && confirmed)
		rc = tdm_replica_check_insync(b->replica, qq->topic, 0, p);
	struct tdm_append_result res;
	if (rc == TDM_REPL_OK)
		rc = tdm_topics_append(b->topics, p, rec, 1, LS_CODEC_TOPIC, &res);
	if (rc != 0) {
		uint64_t now = tdm_now_ms();
		if (!qq->warned_ms || now - qq->warned_ms >= WARN_EVERY_MS) {
			qq->warned_ms = now;
			tdm_warn("quorum", "quorum queue '%s' in vhost '%s': cannot append to %s: %s",
				 qq->q->name, qq->q->vhost->name, qq->topic,
				 rc <= TDM_REPL_OK ? tdm_replica_strerror(rc) : ls_strerror(rc));
		}
		return -1;
	}
	if (confirmed || b->replica) /* a confirm waits for the fsync (and the replicas) */
		tdm_topics_flush_now(b->topics, p);
	if (offset)
		*offset = res.base_offset;
	return 0;
}

/* Writes offs[0..n) as one record of kind k ('D', 'R' or 'S'). */
static void write_offsets(struct tdm_quorum *qq, char k, const uint64_t *offs, size_t n)
{
	uint8_t *v = malloc(n * 8);
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		for (int j = 0; j < 8; j++)
			v[i * 8 + (size_t)j] = (uint8_t)(offs[i] >> (56 - 8 * j));
	struct tdm_header h = { "t", 1, &k, 1 };
	struct tdm_record rec = { NULL, 0, v, n * 8, &h, 1, -1, 0 };
	if (append(qq, &rec, 0, NULL) < 0) /* lost: a redelivery after a failover */
		tdm_debug("quorum", "queue '%s': %zu %c offsets not written", qq->q->name, n, k);
	free(v);
}

void tdm_quorum_flush(struct tdm_queue *q)
{
	struct tdm_quorum *qq = q->quorum;
	if (!qq || !qq->leading || q->deleted)
		return;
	struct cmds *c = &qq->pending;
	for (size_t i = 0, j; i < c->n; i = j) { /* each run of one kind as one record */
		for (j = i + 1; j < c->n && c->kind[j] == c->kind[i]; j++)
			;
		write_offsets(qq, c->kind[i], c->off + i, j - i);
	}
	c->n = 0;
}

static void pend(struct tdm_quorum *qq, char kind, uint64_t off)
{
	struct cmds *c = &qq->pending;
	if (c->n == c->cap) {
		size_t nc = c->cap ? c->cap * 2 : 64;
		uint64_t *no = realloc(c->off, nc * sizeof(*no));
		if (no)
			c->off = no;
		char *nk = no ? realloc(c->kind, nc) : NULL;
		if (nk) {
			c->kind = nk;
			c->cap = nc;
		} else {
			tdm_quorum_flush(qq->q); /* short of memory: write what there is */
			if (c->n == c->cap)
				return;
		}
	}
	c->off[c->n] = off;
	c->kind[c->n++] = kind;
	tdm_queue_kick(qq->q); /* the dispatch pass writes them */
}

int tdm_quorum_publish(struct tdm_queue *q, struct tdm_message *m, uint64_t *offset)
{
	struct tdm_quorum *qq = q->quorum;
	if (!qq || !qq->leading)
		return -1;
	if (tdm_queue_would_reject(q, m))
		return TDM_QUEUE_REJECTED;
	char p = m->persistent ? '2' : '1';
	struct tdm_header h[5] = {
		{ "t", 1, "E", 1 },
		{ "x", 1, m->exchange, m->exchange_len },
		{ "r", 1, m->routing_key, m->routing_key_len },
		{ "h", 1, m->header, m->header_len },
		{ "p", 1, &p, 1 },
	};
	struct tdm_record rec = { NULL, 0, m->body_len ? (const void *)m->body : "", m->body_len,
				  h, 5, -1, 0 };
	if (append(qq, &rec, 1, offset) < 0)
		return -1;
	int rc = tdm_queue_push_at(q, m, *offset);
	return rc == TDM_QUEUE_DROPPED ? 0 : rc;
}

/* ---- the leader's commands ---------------------------------------------------- */

void tdm_quorum_out(struct tdm_queue *q, uint64_t seq)
{
	struct qslot *s = qmap_get(&q->quorum->map, seq);
	if (s)
		s->out = 1;
	else
		q->quorum->untracked = 1; /* its offset could be trimmed away */
	pend(q->quorum, 'D', seq); /* after a restart: returned, one delivery more */
}

int tdm_quorum_known(const struct tdm_queue *q, uint64_t seq)
{
	const struct qslot *s = qmap_find(&q->quorum->map, seq);
	return s && s->out;
}

void tdm_quorum_gone(struct tdm_queue *q, uint64_t seq)
{
	struct tdm_quorum *qq = q->quorum;
	struct qslot *s = qmap_find(&qq->map, seq);
	if (s)
		qmap_del(&qq->map, s);
	pend(qq, 'S', seq);
}

int tdm_quorum_returned(struct tdm_queue *q, uint64_t seq)
{
	struct tdm_quorum *qq = q->quorum;
	struct qslot *s = qmap_get(&qq->map, seq);
	uint32_t count = s ? ++s->count : 1;
	if (s)
		s->out = 0;
	if (qq->delivery_limit >= 0 && count > (uint64_t)qq->delivery_limit) {
		tdm_quorum_gone(q, seq);
		return 1;
	}
	pend(qq, 'R', seq);
	return 0;
}

uint32_t tdm_quorum_delivery_count(const struct tdm_queue *q, uint64_t seq)
{
	const struct qslot *s = q->quorum ? qmap_find(&q->quorum->map, seq) : NULL;
	return s ? s->count : 0;
}

/* ---- rebuilding from the log ---------------------------------------------------- */

typedef void (*scan_fn)(struct tdm_quorum *qq, const struct ls_record *r, char kind);

/* Calls fn for every record of the log, in order.  0, or -1 (read error). */
static int scan(struct tdm_quorum *qq, struct ls_partition *p, scan_fn fn)
{
	struct tdm_topics *t = broker_of(qq)->topics;
	struct ls_decoder *dec = ls_decoder_new(0);
	uint8_t *buf = NULL;
	size_t cap = 0;
	int ret = -1;
	uint64_t off = ls_log_start(p), end = ls_log_end(p);
	if (!dec)
		return -1;
	while (off < end) {
		struct tdm_read_result r;
		int rc = tdm_topics_read(t, p, off, READ_BYTES, &r);
		if (rc != LS_OK)
			goto out;
		if (!r.len || r.next_offset <= off) {
			tdm_topics_read_release(t, &r);
			break;
		}
		if (r.len > cap) {
			uint8_t *nb = realloc(buf, r.len);
			if (!nb) {
				tdm_topics_read_release(t, &r);
				goto out;
			}
			buf = nb;
			cap = r.len;
		}
		size_t len = r.len;
		uint64_t next = r.next_offset;
		rc = tdm_topics_read_copy(&r, buf);
		tdm_topics_read_release(t, &r);
		if (rc != LS_OK)
			goto out;
		ls_decoder_set(dec, buf, len, off);
		struct ls_record rec;
		while ((rc = ls_decoder_next(dec, &rec, NULL)) > 0)
			if (rec.offset >= off)
				fn(qq, &rec, (char)tdm_record_kind(&rec));
		if (rc < 0)
			goto out;
		off = next;
	}
	ret = 0;
out:
	ls_decoder_free(dec);
	free(buf);
	return ret;
}

static uint64_t get_be64(const uint8_t *p)
{
	uint64_t v = 0;
	for (int i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

/* Pass 1: settled offsets (count UINT32_MAX marks them), return counts,
 * and (out) what was handed out last and neither returned nor settled. */
static void scan_commands(struct tdm_quorum *qq, const struct ls_record *r, char kind)
{
	if ((kind != 'S' && kind != 'R' && kind != 'D') || !r->value)
		return;
	const uint8_t *v = r->value;
	for (size_t i = 0; i + 8 <= r->value_len; i += 8) {
		struct qslot *s = qmap_get(&qq->map, get_be64(v + i));
		if (!s || s->count == UINT32_MAX)
			continue;
		if (kind == 'S')
			s->count = UINT32_MAX;
		else if (kind == 'R')
			s->count++, s->out = 0;
		else
			s->out = 1;
	}
}

/* Pass 2: the messages not settled, in offset order. */
static void scan_messages(struct tdm_quorum *qq, const struct ls_record *r, char kind)
{
	if (kind != 'E')
		return;
	struct qslot *s = qmap_find(&qq->map, r->offset);
	if (s && s->count == UINT32_MAX)
		return;
	const struct ls_header *p = tdm_record_header(r, 'p');
	struct tdm_queue *q = qq->q;
	struct tdm_message *m = tdm_record_message(broker_of(qq), r,
						   p && p->value_len == 1 &&
							   *(const char *)p->value == '2');
	if (!m) {
		tdm_warn("quorum", "queue '%s': record %llu of %s is not a message (or no memory); "
			 "skipped", q->name, (unsigned long long)r->offset, qq->topic);
		return;
	}
	/* returned (a handed-out one counts as returned, as RabbitMQ counts
	 * it after a restart); after a leader change everything, as the old
	 * leader's last D records may not have reached this replica (AMQP's
	 * redelivered is a hint; RabbitMQ's mirrored queues did the same) */
	if (tdm_queue_push_entry(q, m, r->offset, (s && s->count) || qq->led_before) < 0)
		tdm_error("quorum", "queue '%s': out of memory rebuilding from %s", q->name,
			  qq->topic);
	tdm_message_unref(m);
}

/* What was handed out when the log ended was returned by the crash. */
static void count_handed_out(struct qmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->s[i].used && m->s[i].out && m->s[i].count != UINT32_MAX) {
			m->s[i].count++;
			m->s[i].out = 0;
		}
}

/* Drops the settled marks of pass 1, keeping return counts. */
static void forget_settled(struct qmap *m)
{
	for (size_t i = 0; i < m->cap;) {
		if (m->s[i].used && (m->s[i].count == UINT32_MAX || m->s[i].count == 0))
			qmap_del(m, &m->s[i]); /* may move another slot into i: look again */
		else
			i++;
	}
}

/* The queue's ready list, from the log. */
static int rebuild(struct tdm_quorum *qq)
{
	struct ls_partition *p = log_of(qq);
	if (!p)
		return -1;
	qmap_clear(&qq->map);
	qq->untracked = 0;
	int rc = scan(qq, p, scan_commands);
	if (rc == 0) {
		count_handed_out(&qq->map);
		rc = scan(qq, p, scan_messages);
	}
	if (rc < 0) {
		tdm_error("quorum", "queue '%s' in vhost '%s': cannot read its log %s",
			  qq->q->name, qq->q->vhost->name, qq->topic);
		return -1;
	}
	forget_settled(&qq->map);
	tdm_info("quorum", "queue '%s' in vhost '%s': %llu messages from %s (offsets %llu..%llu)",
		 qq->q->name, qq->q->vhost->name, (unsigned long long)tdm_queue_ready(qq->q),
		 qq->topic, (unsigned long long)ls_log_start(p), (unsigned long long)ls_log_end(p));
	return 0;
}

/* ---- roles ---------------------------------------------------------------------------- */

/* Forgets what the last role held: ready entries, handed-out marks. */
static void reset(struct tdm_quorum *qq)
{
	tdm_queue_clear(qq->q);
	qmap_clear(&qq->map);
	qq->pending.n = 0;
}

static void lead(struct tdm_quorum *qq, int32_t epoch)
{
	struct tdm_queue *q = qq->q;
	struct tdm_broker *b = broker_of(qq);
	if (q->remote)
		tdm_remote_moved(q); /* the link to the old leader goes; consumers stay */
	reset(qq);
	q->remote = 0;
	q->home = tdm_replica_node_id(b->replica);
	qq->epoch = epoch;
	qq->led_before = epoch > 0; /* an earlier leader served it */
	qq->leading = rebuild(qq) == 0;
	tdm_queue_kick(q);
}

static void follow(struct tdm_quorum *qq, int32_t leader)
{
	struct tdm_queue *q = qq->q;
	if (qq->leading || q->remote) {
		if (q->remote && q->home != leader)
			tdm_remote_moved(q);
		reset(qq);
	}
	qq->leading = 0;
	q->remote = 1;
	q->shared = 1;
	q->home = leader;
}

/* Consumers here of a proxy that are not linked to the leader: linked. */
static void relink(struct tdm_quorum *qq)
{
	struct tdm_queue *q = qq->q;
	struct tdm_consumer *c = q->consumers;
	for (uint32_t i = 0, n = q->nconsumers; i < n && c && q->remote; i++, c = c->next)
		if (!c->remote)
			tdm_remote_attached(q, c);
}

static void track(struct tdm_quorum *qq)
{
	struct tdm_broker *b = broker_of(qq);
	struct tdm_queue *q = qq->q;
	if (q->deleted || !b->replica)
		return;
	if (!log_of(qq)) {
		if (qq->propose)
			create_in_cluster(qq);
		return;
	}
	const struct tdm_partition_state *st = tdm_replica_state(b->replica, qq->topic, 0);
	if (!st)
		return; /* the log is here before its state: the provisional home stays */
	int32_t leader = st->leader;
	if (leader != TDM_NO_NODE && leader == tdm_replica_node_id(b->replica)) {
		if (!qq->leading || st->leader_epoch != qq->epoch)
			lead(qq, st->leader_epoch);
		return;
	}
	if (qq->leading || !q->remote || q->home != leader)
		follow(qq, leader);
	if (leader != TDM_NO_NODE && tdm_remote_home_up(q))
		relink(qq);
}

void tdm_quorum_track(struct tdm_queue *q)
{
	if (q->quorum)
		track(q->quorum);
}

/* The lowest offset the queue still needs: its oldest ready message, or
 * one handed out or returned (map); end when there is none. */
static uint64_t live_low(const struct tdm_quorum *qq, uint64_t end)
{
	const struct tdm_queue *q = qq->q;
	uint64_t low = end;
	if (q->ring_len && q->ring[q->ring_head].seq < low)
		low = q->ring[q->ring_head].seq;
	if (q->heap_len && q->heap[0].seq < low)
		low = q->heap[0].seq;
	for (size_t i = 0; i < qq->map.cap; i++)
		if (qq->map.s[i].used && qq->map.s[i].key < low)
			low = qq->map.s[i].key;
	return low;
}

/* Leader, at most every TRIM_MS: the log's whole segments below the
 * oldest message the queue still holds are deleted (RabbitMQ's quorum
 * queues release a segment once all its entries are settled), so the log
 * and a new leader's rebuild stay the size of what is in the queue.
 * Followers delete theirs as their fetches learn the leader's log start. */
static void trim(struct tdm_quorum *qq, uint64_t now)
{
	struct ls_partition *p;
	if (!qq->leading || qq->untracked || now - qq->trimmed_ms < TRIM_MS || !(p = log_of(qq)))
		return;
	qq->trimmed_ms = now;
	if (ls_partition_segments(p) < 2)
		return; /* only the active segment, never deleted: no scan */
	uint64_t low = live_low(qq, ls_log_end(p));
	size_t n = tdm_topics_delete_before(broker_of(qq)->topics, p, low);
	if (n)
		tdm_debug("quorum", "queue '%s' in vhost '%s': %zu settled segments of %s deleted, "
			  "log start %llu", qq->q->name, qq->q->vhost->name, n, qq->topic,
			  (unsigned long long)ls_log_start(p));
}

void tdm_quorum_tick(struct tdm_broker *b)
{
	uint64_t now = tdm_now_ms();
	for (struct tdm_quorum *qq = b->quorums; qq; qq = qq->next) {
		track(qq);
		tdm_quorum_flush(qq->q);
		trim(qq, now);
	}
}

int tdm_quorum_ready(struct tdm_queue *q, const char **why)
{
	struct tdm_quorum *qq = q->quorum;
	*why = "";
	if (!qq)
		return 1;
	if (qq->leading)
		return 1;
	struct tdm_broker *b = broker_of(qq);
	if (!b->replica) {
		*why = "its log cannot be read";
		return 0;
	}
	track(qq);
	if (!log_of(qq)) {
		*why = qq->create_err[0] ? qq->create_err : "the controller has not made its log yet";
		return 0;
	}
	if (qq->leading)
		return 1;
	if (!q->remote || q->home == TDM_NO_NODE) {
		*why = "it has no leader";
		return 0;
	}
	return 1;
}

/* ---- life ------------------------------------------------------------------------------ */

int tdm_quorum_attach(struct tdm_queue *q, int32_t group_size, int64_t delivery_limit,
		      int propose)
{
	struct tdm_broker *b = q->vhost->broker;
	struct tdm_quorum *qq = calloc(1, sizeof(*qq));
	if (!qq || !b->topics) {
		free(qq);
		return -1;
	}
	qq->q = q;
	qq->group_size = group_size;
	qq->delivery_limit = delivery_limit;
	qq->propose = (uint8_t)!!propose;
	qq->epoch = -1;
	tdm_quorum_topic_name(q->vhost->name, q->vhost->name_len, q->name, q->name_len,
			      qq->topic);
	q->quorum = qq;
	if (clustered(b)) {
		/* until its leader is known: the node that declared it, which
		 * the controller makes its preferred leader (another node's
		 * publishes go there at once, as RabbitMQ's members are up when
		 * the declaration is answered) */
		int32_t self = tdm_replica_node_id(b->replica);
		if (!q->shared || q->home <= 0 || q->home == self)
			q->home = TDM_NO_NODE;
		q->shared = 1;
		q->remote = 1;
	} else if (create_local(qq) < 0 || rebuild(qq) < 0) {
		q->quorum = NULL;
		free(qq);
		return -1;
	} else {
		qq->leading = 1;
	}
	qq->next = b->quorums;
	if (b->quorums)
		b->quorums->prev = qq;
	b->quorums = qq;
	if (clustered(b))
		track(qq);
	return 0;
}

void tdm_quorum_settings(const struct tdm_queue *q, int32_t *group_size, int64_t *delivery_limit)
{
	*group_size = q->quorum ? q->quorum->group_size : 0;
	*delivery_limit = q->quorum ? q->quorum->delivery_limit : -1;
}

void tdm_quorum_free(struct tdm_queue *q)
{
	struct tdm_quorum *qq = q->quorum;
	if (!qq)
		return;
	struct tdm_broker *b = q->vhost->broker;
	if (qq->prev)
		qq->prev->next = qq->next;
	else if (b->quorums == qq)
		b->quorums = qq->next;
	if (qq->next)
		qq->next->prev = qq->prev;
	tdm_replica_op_forget(qq->op);
	qmap_clear(&qq->map);
	free(qq->pending.off);
	free(qq->pending.kind);
	free(qq);
	q->quorum = NULL;
}

static void deleted(void *arg, int rc, const char *msg)
{
	(void)arg;
	if (rc != TDM_TOPIC_OK && rc != TDM_ERR_NOT_FOUND)
		tdm_warn("quorum", "deleting a quorum queue's log in the cluster: %s",
			 msg && msg[0] ? msg : tdm_replica_strerror(rc));
}

void tdm_quorum_removed(struct tdm_queue *q)
{
	struct tdm_quorum *qq = q->quorum;
	struct tdm_broker *b = q->vhost->broker;
	if (!qq || !b->topics)
		return;
	qq->pending.n = 0;
	if (b->replica) { /* one node asks: the leader, else whoever declared it */
		if (!qq->leading && !qq->propose && q->home != TDM_NO_NODE)
			return;
		char err[200] = "";
		int rc = tdm_replica_delete_topic(b->replica, qq->topic, deleted, NULL, NULL, err,
						  sizeof(err));
		if (rc != 0 && rc != TDM_ERR_NOT_FOUND)
			tdm_warn("quorum", "deleting the log %s of queue '%s': %s", qq->topic,
				 q->name, err[0] ? err : tdm_replica_strerror(rc));
		return;
	}
	int rc = tdm_topics_delete(b->topics, qq->topic);
	if (rc != LS_OK && rc != LS_ERR_NOT_FOUND)
		tdm_error("quorum", "deleting the log %s of queue '%s': %s", qq->topic, q->name,
			  ls_strerror(rc));
}
