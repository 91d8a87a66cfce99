/*
 * Stream queues over the broker's logs; see stream.h for the model.
 *
 * A consumer's cursor reads whole batches (ls_read + ls_read_copy, from
 * the page cache as a rule) into a buffer of its own and decodes them
 * record by record as its credit allows, so a consumer with a prefetch of
 * 10 does not re-read a batch per delivery.  One "data available" waiter
 * per queue watches every partition of its topic; an append (AMQP publish
 * or Kafka Produce) wakes it and it only marks the queue for the next
 * dispatch pass.
 *
 * Topics are looked up by name each time they are needed, never kept as
 * pointers across loop turns: a Kafka client may delete one at any time.
 *
 * In a cluster (zookeeper_connect set) a stream queue's own topic is a
 * cluster topic: it is created and deleted through the controller
 * (core/replica.h), never as a local log only (nor is a view's missing
 * topic); appends go to the partition's leader (a publish on another
 * node is sent there over the cluster link) and consumers read up to the
 * high watermark.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include "core/stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/auth.h"
#include "core/broker.h"
#include "core/config.h"
#include "core/log.h"
#include "core/replica.h"
#include "core/topic_ops.h"
#include "core/topics.h"
#include "logstore/logstore.h"
#include "util/hex.h"

#define READ_BYTES (256u << 10)           /* one log read of a consumer */
#define RABBIT_SEGMENT_BYTES 500000000LL  /* x-stream-max-segment-size-bytes default */
#define CREATE_RETRY_MS 1000              /* cluster: a failed creation asked again after */
#define REFUSED_WARN_MS 1000              /* cluster: refused publishes logged at most so often */

struct tdm_stream {
	struct tdm_queue *q;              /* borrowed: the queue that owns this */
	char *topic;                      /* owned, NUL-terminated */
	char *pkey_header;                /* owned, NUL-terminated; NULL: none */
	size_t pkey_header_len;
	uint8_t own_topic, pkey;
	uint8_t others_create;            /* cluster: another node asks for the topic */
	int32_t cluster_size;             /* cluster: replicas of its own topic, 0 = all */
	int32_t partitions;
	int64_t max_bytes, max_age_ms, segment_bytes;
	struct tdm_topics_waiter waiter;  /* data available on any partition */
	struct ls_partition **parts;      /* owned array the waiter watches */
	size_t parts_cap;
	struct tdm_replica_op *op;        /* cluster: the topic's creation under way */
	uint64_t asked_ms;                /* cluster: when it was last asked (tdm_now_ms) */
	uint64_t refused, refused_warned_ms; /* cluster: publishes refused, last logged */
	char create_err[160];             /* cluster: why the last creation failed */
};

struct tdm_stream_cursor {
	uint64_t offset;                  /* next offset to hand over */
	int32_t partition;
	uint8_t have;                     /* dec still holds records of buf */
	uint64_t buf_next;                /* offset after the batches in buf */
	uint8_t *buf;                     /* owned: batches read from the log */
	size_t cap;
	struct ls_decoder *dec;           /* owned */
	uint64_t checked_base;            /* the base of the last batch checked, + 1 */
	int aborted;                      /* that batch is an aborted transaction's */
};

void tdm_stream_spec_init(struct tdm_stream_spec *s)
{
	memset(s, 0, sizeof(*s));
	s->own_topic = 1;
	s->pkey = TDM_PKEY_ROUTING_KEY;
	s->partitions = 1;
	s->max_bytes = s->max_age_ms = s->segment_bytes = -1;
}

/* ---- names ------------------------------------------------------------------- */

static int legal_char(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '_' || ch == '-';
}

int tdm_stream_topic_legal(const char *name, size_t len)
{
	if (len == 0 || len > TDM_TOPIC_NAME_MAX)
		return 0;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return 0;
	for (size_t i = 0; i < len; i++)
		if (!legal_char(name[i]))
			return 0;
	return 1;
}

/* Appends esc(s) to out at *pos (out has room for TDM_TOPIC_NAME_MAX + 1);
 * returns 0, or -1 when it does not fit. */
static int put_escaped(char *out, size_t *pos, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		int plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			    (ch >= '0' && ch <= '9') || ch == '-';
		size_t need = plain ? 1 : 3;
		if (*pos + need > TDM_TOPIC_NAME_MAX)
			return -1;
		if (plain) {
			out[(*pos)++] = (char)ch;
		} else {
			out[(*pos)++] = '_';
			out[(*pos)++] = tu_hex_digit(ch >> 4);
			out[(*pos)++] = tu_hex_digit(ch);
		}
	}
	return 0;
}

/* prefix + esc(vhost) + "." + esc(name), or, when too long, prefix_h +
 * the SHA-256 (hex) of vhost NUL name. */
static size_t escaped_name(const char *prefix, const char *prefix_h, const char *vhost,
			   size_t vhost_len, const char *name, size_t name_len,
			   char out[TDM_TOPIC_NAME_MAX + 1])
{
	size_t pos = strlen(prefix);
	memcpy(out, prefix, pos);
	if (put_escaped(out, &pos, vhost, vhost_len) == 0 && pos < TDM_TOPIC_NAME_MAX) {
		out[pos++] = '.';
		if (put_escaped(out, &pos, name, name_len) == 0) {
			out[pos] = '\0';
			return pos;
		}
	}
	/* too long: a digest of vhost NUL name */
	char small[512];
	size_t n = vhost_len + 1 + name_len;
	char *joined = n <= sizeof(small) ? small : malloc(n);
	unsigned char d[32];
	if (!joined)
		abort(); /* no name to give: the caller has no error path */
	memcpy(joined, vhost, vhost_len);
	joined[vhost_len] = '\0';
	memcpy(joined + vhost_len + 1, name, name_len);
	tdm_sha256(joined, n, d);
	if (joined != small)
		free(joined);
	pos = strlen(prefix_h);
	memcpy(out, prefix_h, pos);
	return pos + tu_hex_encode(d, sizeof(d), out + pos); /* 64 digits and the NUL */
}

size_t tdm_stream_topic_name(const char *vhost, size_t vhost_len, const char *name,
			     size_t name_len, char out[TDM_TOPIC_NAME_MAX + 1])
{
	if (vhost_len == 1 && vhost[0] == '/' && tdm_stream_topic_legal(name, name_len) &&
	    !(name_len >= 2 && name[0] == '_' && name[1] == '_')) {
		memcpy(out, name, name_len);
		out[name_len] = '\0';
		return name_len;
	}
	return escaped_name("__", "__h.", vhost, vhost_len, name, name_len, out);
}

size_t tdm_quorum_topic_name(const char *vhost, size_t vhost_len, const char *name,
			     size_t name_len, char out[TDM_TOPIC_NAME_MAX + 1])
{
	return escaped_name("___quorum.", "___quorum.h.", vhost, vhost_len, name, name_len, out);
}

static int hexval(char ch)
{
	return ch >= 'A' && ch <= 'F' ? -1 : tu_hex_value(ch); /* esc writes lowercase only */
}

static int plain_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '-';
}

int tdm_topic_vhost(const char *name, size_t len, char *out, size_t out_cap)
{
	if (len < 2 || name[0] != '_' || name[1] != '_') {
		if (out_cap < 1)
			return -1;
		out[0] = '/';
		return 1;
	}
	const char *dot = memchr(name + 2, '.', len - 2);
	if (!dot || dot == name + 2)
		return -1;
	size_t rest = len - (size_t)(dot + 1 - name);
	if (dot == name + 3 && name[2] == 'h' && rest == 64)
		return -1; /* the digest form: whose it is cannot be told from the name */
	size_t n = 0;
	for (const char *p = name + 2; p < dot; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '_') {
			int hi, lo;
			if (dot - p < 3 || (hi = hexval(p[1])) < 0 || (lo = hexval(p[2])) < 0)
				return -1;
			ch = (unsigned char)(hi << 4 | lo);
			if (plain_char(ch))
				return -1; /* esc never escapes these: not a name it wrote */
			p += 2;
		} else if (!plain_char(ch)) {
			return -1;
		}
		if (n == out_cap)
			return -1;
		out[n++] = (char)ch;
	}
	return (int)n;
}

int tdm_topic_local_name(const char *name, size_t len, char *out, size_t out_cap)
{
	char v[TDM_TOPIC_NAME_MAX];
	const char *p = name, *end = name + len;
	int escaped = len >= 2 && name[0] == '_' && name[1] == '_';
	size_t n = 0;
	if (tdm_topic_vhost(name, len, v, sizeof(v)) < 0)
		return -1;
	if (escaped)
		p = (const char *)memchr(name + 2, '.', len - 2) + 1;
	while (p < end) {
		int hi, lo;
		unsigned char ch = (unsigned char)*p++;
		if (escaped && ch == '_' && end - p >= 2 && (hi = hexval(p[0])) >= 0 &&
		    (lo = hexval(p[1])) >= 0) {
			ch = (unsigned char)(hi << 4 | lo);
			p += 2;
		}
		if (n + 1 >= out_cap)
			return -1;
		out[n++] = (char)ch;
	}
	if (out_cap == 0)
		return -1;
	out[n] = '\0';
	return (int)n;
}

int tdm_topic_in_vhost(const char *name, size_t len, const char *vhost, size_t vhost_len)
{
	char v[TDM_TOPIC_NAME_MAX];
	int n = tdm_topic_vhost(name, len, v, sizeof(v));
	return n >= 0 && (size_t)n == vhost_len && memcmp(v, vhost, vhost_len) == 0;
}

/* ---- the topic ----------------------------------------------------------------- */

static struct tdm_topics *topics_of(const struct tdm_queue *q)
{
	return q->vhost->broker->topics;
}

struct ls_topic *tdm_stream_topic(struct tdm_queue *q)
{
	struct tdm_topics *t = topics_of(q);
	if (!q->stream || !t)
		return NULL;
	return ls_topic_find(tdm_topics_store(t), q->stream->topic);
}

static void fmt_ll(char *buf, size_t len, long long v)
{
	snprintf(buf, len, "%lld", v);
}

/* 1 when the node is (or is about to be) in a cluster: a stream queue's
 * own topic is then never made as a local log only. */
static int clustered(const struct tdm_queue *q)
{
	const struct tdm_config *cfg = q->vhost->broker->cfg;
	return q->vhost->broker->replica || (cfg && cfg->zookeeper_connect && cfg->zookeeper_connect[0]);
}

static struct tdm_replica *replica_of(const struct tdm_queue *q)
{
	return q->vhost->broker->replica;
}

static void created(void *arg, int rc, const char *msg)
{
	struct tdm_stream *s = arg;
	s->op = NULL;
	if (rc == TDM_TOPIC_OK || rc == TDM_ERR_EXISTS) {
		s->create_err[0] = '\0';
		if (s->q->nconsumers)
			tdm_queue_kick(s->q);
		return;
	}
	snprintf(s->create_err, sizeof(s->create_err), "%s", msg && msg[0] ? msg : tdm_replica_strerror(rc));
	tdm_warn("stream", "creating topic %s of queue '%s' in vhost '%s' in the cluster: %s",
		 s->topic, s->q->name, s->q->vhost->name, s->create_err);
}

int tdm_stream_cluster_create(struct tdm_replica *r, const char *name, int32_t np, size_t rf,
			      const struct tdm_kv *kv, size_t nkv, tdm_replica_done_fn done,
			      void *arg, struct tdm_replica_op **op, char *err, size_t errlen)
{
	const struct tdm_replica_node *nodes;
	size_t nn = tdm_replica_nodes(r, &nodes);
	int32_t self = tdm_replica_node_id(r);
	int32_t others[64];
	size_t no = 0;
	for (size_t i = 0; i < nn && no < sizeof(others) / sizeof(others[0]); i++)
		if (nodes[i].id != self)
			others[no++] = nodes[i].id;
	if (rf == 0 || rf > no + 1)
		rf = no + 1;
	if (np < 1)
		np = 1;
	int32_t *ids = malloc((size_t)np * rf * sizeof(*ids));
	struct tdm_replica_assignment *as = malloc((size_t)np * sizeof(*as));
	int rc = TDM_ERR_NOMEM;
	if (!ids || !as) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (int32_t p = 0; p < np; p++) {
		int32_t *row = ids + (size_t)p * rf;
		row[0] = self;
		for (size_t k = 1; k < rf; k++)
			row[k] = others[((size_t)p + k - 1) % no];
		as[p] = (struct tdm_replica_assignment){ row, rf };
	}
	struct tdm_replica_topic_spec spec = { name, -1, -1, kv, nkv, as, (size_t)np };
	rc = tdm_replica_create_topic(r, &spec, done, arg, op, err, errlen);
out:
	free(ids);
	free(as);
	return rc;
}

/* Asks the controller for the queue's topic (once at a time): its
 * partitions led here (this node first in every assignment, the others
 * round robin after it), x-initial-cluster-size replicas (default every
 * live node; a view's missing topic default_replication_factor) capped at
 * the live nodes, the queue's retention as configs.  Not when another
 * node declared the queue: it asks, this one waits for the topic. */
static void create_in_cluster(struct tdm_stream *s, const struct tdm_kv *kv, size_t nkv)
{
	struct tdm_queue *q = s->q;
	struct tdm_replica *r = replica_of(q);
	const struct tdm_config *cfg = q->vhost->broker->cfg;
	uint64_t now = tdm_now_ms();
	if (!r || s->op || s->others_create ||
	    (s->asked_ms && now - s->asked_ms < CREATE_RETRY_MS))
		return; /* not joined yet (the first append asks), under way, just failed,
			 * or the declaring node asks */
	s->asked_ms = now;
	/* its own log: x-initial-cluster-size, else every live node (RabbitMQ's
	 * default), so a consumer on any node reads its own replica */
	size_t rf = s->own_topic ? (size_t)s->cluster_size
		    : cfg && cfg->default_replication_factor ? cfg->default_replication_factor : 1;
	char err[200] = "";
	int rc = tdm_stream_cluster_create(r, s->topic, s->partitions, rf, kv, nkv, created, s,
					   &s->op, err, sizeof(err));
	if (rc != 0) {
		s->op = NULL;
		snprintf(s->create_err, sizeof(s->create_err), "%s",
			 err[0] ? err : tdm_replica_strerror(rc));
		tdm_warn("stream", "cannot create topic %s of queue '%s' in vhost '%s' in the cluster: %s",
			 s->topic, q->name, q->vhost->name, s->create_err);
	}
}

/* The topic, created (with the queue's retention) when it does not exist. */
static struct ls_topic *ensure_topic(struct tdm_stream *s)
{
	struct tdm_queue *q = s->q;
	struct tdm_topics *t = topics_of(q);
	if (!t)
		return NULL;
	struct ls_topic *tp = ls_topic_find(tdm_topics_store(t), s->topic);
	if (tp)
		return tp;
	const struct tdm_config *cfg = q->vhost->broker->cfg;
	long long maxmsg = cfg ? (long long)cfg->max_message_size + (1 << 20) : 1048588;
	long long seg = s->segment_bytes < 0 ? RABBIT_SEGMENT_BYTES : s->segment_bytes;
	if (maxmsg > INT32_MAX)
		maxmsg = INT32_MAX;
	if (seg < tdm_topics_min_segment_bytes(t))
		seg = tdm_topics_min_segment_bytes(t); /* the broker's floor (fd budget) */
	if (seg > INT32_MAX)
		seg = INT32_MAX;
	char rms[24], rbytes[24], segb[24], mm[24];
	fmt_ll(rms, sizeof(rms), s->max_age_ms < 0 ? -1 : (long long)s->max_age_ms);
	fmt_ll(rbytes, sizeof(rbytes), s->max_bytes < 0 ? -1 : (long long)s->max_bytes);
	fmt_ll(segb, sizeof(segb), seg);
	fmt_ll(mm, sizeof(mm), maxmsg);
	const struct tdm_kv kv[] = {
		{ "retention.ms", rms },
		{ "retention.bytes", rbytes },
		{ "segment.bytes", segb },
		{ "max.message.bytes", mm },
	};
	if (clustered(q)) { /* a view's missing topic too: never a local-only log */
		create_in_cluster(s, kv, sizeof(kv) / sizeof(kv[0]));
		return NULL; /* here once the controller has made it */
	}
	char err[256] = "";
	int rc = tdm_topics_create(t, s->topic, s->partitions > 0 ? s->partitions : 1, kv,
				   sizeof(kv) / sizeof(kv[0]), err, sizeof(err));
	if (rc != LS_OK && rc != LS_ERR_EXISTS) {
		tdm_error("stream", "cannot create topic %s for queue '%s' in vhost '%s': %s%s%s",
			  s->topic, q->name, q->vhost->name, ls_strerror(rc), err[0] ? ": " : "", err);
		return NULL;
	}
	return ls_topic_find(tdm_topics_store(t), s->topic);
}

static void stream_destroy(struct tdm_stream *s)
{
	if (!s)
		return;
	struct tdm_topics *t = topics_of(s->q);
	if (t)
		tdm_topics_unwait(t, &s->waiter);
	tdm_replica_op_forget(s->op);
	free(s->parts);
	free(s->topic);
	free(s->pkey_header);
	free(s);
}

int tdm_stream_attach(struct tdm_queue *q, const struct tdm_stream_spec *spec)
{
	struct tdm_stream *s = calloc(1, sizeof(*s));
	char name[TDM_TOPIC_NAME_MAX + 1];
	if (!s)
		return -1;
	s->q = q;
	s->own_topic = spec->own_topic;
	s->others_create = spec->others_create;
	s->cluster_size = spec->cluster_size;
	s->pkey = spec->pkey;
	s->partitions = spec->partitions > 0 ? spec->partitions : 1;
	s->max_bytes = spec->max_bytes;
	s->max_age_ms = spec->max_age_ms;
	s->segment_bytes = spec->segment_bytes;
	if (spec->topic) {
		s->topic = strndup(spec->topic, spec->topic_len);
	} else {
		size_t n = tdm_stream_topic_name(q->vhost->name, q->vhost->name_len, q->name,
						 q->name_len, name);
		s->topic = strndup(name, n);
	}
	if (spec->pkey_header)
		s->pkey_header = strndup(spec->pkey_header, spec->pkey_header_len);
	s->pkey_header_len = spec->pkey_header_len;
	if (s->topic && !s->own_topic &&
	    !tdm_topic_in_vhost(s->topic, strlen(s->topic), q->vhost->name, q->vhost->name_len)) {
		/* a view (x-log-topic) reaches its own vhost's topics only, also
		 * when restored from a definitions log written before that rule */
		tdm_error("stream", "queue '%s' in vhost '%s': topic %s is not of this vhost; refused",
			  q->name, q->vhost->name, s->topic);
		stream_destroy(s);
		return -1;
	}
	if (!s->topic || (spec->pkey_header && !s->pkey_header) ||
	    (!ensure_topic(s) && !clustered(q))) {
		stream_destroy(s);
		return -1;
	}
	q->stream = s;
	return 0;
}

void tdm_stream_get_spec(const struct tdm_queue *q, struct tdm_stream_spec *out)
{
	const struct tdm_stream *s = q->stream;
	tdm_stream_spec_init(out);
	if (!s)
		return;
	out->topic = s->topic;
	out->topic_len = strlen(s->topic);
	out->own_topic = s->own_topic;
	out->pkey = s->pkey;
	out->pkey_header = s->pkey_header;
	out->pkey_header_len = s->pkey_header_len;
	out->partitions = s->partitions;
	out->max_bytes = s->max_bytes;
	out->max_age_ms = s->max_age_ms;
	out->segment_bytes = s->segment_bytes;
}

void tdm_stream_free(struct tdm_queue *q)
{
	stream_destroy(q->stream);
	q->stream = NULL;
}

static void deleted(void *arg, int rc, const char *msg)
{
	(void)arg;
	if (rc != TDM_TOPIC_OK && rc != TDM_ERR_NOT_FOUND)
		tdm_warn("stream", "deleting a stream queue's topic in the cluster: %s",
			 msg && msg[0] ? msg : tdm_replica_strerror(rc));
}

int tdm_stream_ready(struct tdm_queue *q, const char **why)
{
	struct tdm_stream *s = q->stream;
	struct tdm_replica *r = replica_of(q);
	*why = "";
	if (!s || !r)
		return 1;
	struct ls_topic *tp = ensure_topic(s); /* asks again after a failure */
	if (!tp) {
		*why = s->create_err[0] ? s->create_err : "the controller has not made it yet";
		return 0;
	}
	if (!s->own_topic)
		return 1; /* a view of a topic that is here: Kafka's, as it is */
	for (int32_t i = 0; i < ls_topic_partition_count(tp); i++) {
		const struct tdm_partition_state *st = tdm_replica_state(r, s->topic, i);
		if (!st || st->leader == TDM_NO_NODE) {
			*why = "a partition has no leader";
			return 0;
		}
	}
	return 1;
}

void tdm_stream_removed(struct tdm_queue *q)
{
	struct tdm_stream *s = q->stream;
	struct tdm_topics *t = topics_of(q);
	if (!s || !t)
		return;
	tdm_topics_unwait(t, &s->waiter);
	if (!s->own_topic)
		return; /* a view: the topic is Kafka's */
	tdm_replica_op_forget(s->op);
	s->op = NULL;
	if (clustered(q)) { /* through the controller: every node's replica goes */
		char err[200] = "";
		struct tdm_replica *r = replica_of(q);
		int rc = r ? tdm_replica_delete_topic(r, s->topic, deleted, NULL, NULL, err,
						      sizeof(err))
			   : TDM_REPL_NO_CLUSTER;
		if (rc != 0)
			tdm_warn("stream", "deleting topic %s of queue '%s' in the cluster: %s",
				 s->topic, q->name, err[0] ? err : tdm_replica_strerror(rc));
		return;
	}
	int rc = tdm_topics_delete(t, s->topic);
	if (rc != LS_OK && rc != LS_ERR_NOT_FOUND)
		tdm_error("stream", "deleting topic %s of queue '%s': %s", s->topic, q->name,
			  ls_strerror(rc));
}

uint64_t tdm_stream_count(struct tdm_queue *q)
{
	struct ls_topic *tp = tdm_stream_topic(q);
	uint64_t n = 0;
	struct tdm_replica *r = replica_of(q);
	for (int32_t i = 0; tp && i < ls_topic_partition_count(tp); i++) {
		struct ls_partition *p = ls_partition_get(tp, i);
		uint64_t end = r ? tdm_replica_high_watermark(r, q->stream->topic, i, p)
				 : ls_log_end(p);
		n += end > ls_log_start(p) ? end - ls_log_start(p) : 0;
	}
	return n;
}

/* ---- appending ----------------------------------------------------------------- */

int tdm_stream_append(struct tdm_queue *q, const struct tdm_record *rec, const void *pkey,
		      size_t pkey_len, uint64_t *offset)
{
	return tdm_stream_append_at(q, rec, pkey, pkey_len, NULL, offset);
}

int tdm_stream_append_at(struct tdm_queue *q, const struct tdm_record *rec, const void *pkey,
			 size_t pkey_len, int32_t *partition, uint64_t *offset)
{
	return tdm_stream_publish(q, rec, pkey, pkey_len, NULL, partition, offset);
}

/* A publish refused in a cluster: counted, logged at most once a second. */
static int refused(struct tdm_queue *q, int32_t idx, int rc)
{
	struct tdm_stream *s = q->stream;
	struct tdm_replica *r = replica_of(q);
	const struct tdm_partition_state *st = tdm_replica_state(r, s->topic, idx);
	uint64_t now = tdm_now_ms();
	s->refused++;
	if (s->refused_warned_ms && now - s->refused_warned_ms < REFUSED_WARN_MS)
		return rc; /* quiet under load: one line a second per queue */
	s->refused_warned_ms = now;
	if (rc == TDM_REPL_NOT_LEADER && st)
		tdm_warn("stream", "publish to stream queue '%s' in vhost '%s' refused: node %d "
			 "does not lead %s-%d (node %d does) and has no cluster link to it "
			 "(cluster_port): publish on the leader (%llu refused)",
			 q->name, q->vhost->name, (int)tdm_replica_node_id(r), s->topic, (int)idx,
			 (int)st->leader, (unsigned long long)s->refused);
	else
		tdm_warn("stream", "publish to stream queue '%s' in vhost '%s' refused: %s-%d: %s "
			 "(%llu refused)",
			 q->name, q->vhost->name, s->topic, (int)idx, tdm_replica_strerror(rc),
			 (unsigned long long)s->refused);
	return rc;
}

/* rec sent to the leader of partition idx (fwd's done later; the cluster
 * link gathers the records of one loop turn into one Produce):
 * TDM_STREAM_FORWARDED, or the error of the attempt. */
static int forward(struct tdm_queue *q, int32_t idx, const struct tdm_record *rec,
		   const struct tdm_stream_forward *fwd)
{
	struct tdm_stream *s = q->stream;
	struct tdm_record r = *rec;
	if (r.timestamp < 0) { /* the record's time: it was published now, not when sent */
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		r.timestamp = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	}
	int rc =
		tdm_replica_forward(replica_of(q), s->topic, idx, &r, fwd->done, fwd->arg, fwd->op);
	if (rc == TDM_REPL_NO_CLUSTER)
		return TDM_REPL_NOT_LEADER; /* no link: refused as "publish on the leader" */
	return rc != 0 ? rc : TDM_STREAM_FORWARDED;
}

int tdm_stream_publish(struct tdm_queue *q, const struct tdm_record *rec, const void *pkey,
		       size_t pkey_len, const struct tdm_stream_forward *fwd, int32_t *partition,
		       uint64_t *offset)
{
	struct tdm_stream *s = q->stream;
	struct tdm_topics *t = topics_of(q);
	if (!s || !t)
		return LS_ERR_NOT_FOUND;
	struct ls_topic *tp = ensure_topic(s);
	if (!tp)
		return LS_ERR_NOT_FOUND;
	int32_t n = ls_topic_partition_count(tp), idx = 0;
	if (n > 1)
		idx = pkey ? ls_partition_for_key(pkey, pkey_len, n) : ls_topic_next_partition(tp);
	if (partition)
		*partition = idx;
	struct tdm_append_result res;
	struct tdm_replica *r = replica_of(q);
	struct ls_partition *p = ls_partition_get(tp, idx);
	int rc = tdm_replica_check_leader(r, s->topic, idx);
	if (rc == TDM_REPL_NOT_LEADER && fwd && (rc = forward(q, idx, rec, fwd)) > 0)
		return rc;
	if (rc == TDM_REPL_OK)
		rc = tdm_replica_check_insync(r, s->topic, idx, p);
	if (rc != TDM_REPL_OK)
		return refused(q, idx, rc);
	rc = tdm_topics_append(t, p, rec, 1, LS_CODEC_TOPIC, &res);
	if (rc != LS_OK) {
		tdm_warn("stream", "append to %s-%d for queue '%s' failed: %s", s->topic, (int)idx,
			 q->name, ls_strerror(rc));
		return rc;
	}
	q->stat_published++;
	if (q->nconsumers) /* also when the topic was just made again: nobody waits on it yet */
		tdm_queue_kick(q);
	if (r)
		tdm_topics_flush_now(t, p); /* acknowledged once fsynced and replicated */
	if (offset)
		*offset = res.base_offset;
	return 0;
}

int tdm_stream_acked(struct tdm_broker *b, const char *topic, int32_t partition, uint64_t offset)
{
	struct tdm_topics *t = b->topics;
	struct ls_topic *tp = t ? ls_topic_find(tdm_topics_store(t), topic) : NULL;
	struct ls_partition *p = tp ? ls_partition_get(tp, partition) : NULL;
	if (!p)
		return TDM_REPL_UNKNOWN; /* deleted meanwhile */
	int rc = tdm_replica_acked(b->replica, topic, partition, p, offset + 1);
	if (rc != TDM_REPL_OK)
		return rc;
	if (tdm_partition_flushed(p) > offset)
		return TDM_REPL_OK;
	return tdm_partition_failed(p) ? TDM_ERR_IO : 1;
}

/* ---- consumers --------------------------------------------------------------------- */

static struct ls_partition *partition_of(struct tdm_queue *q, int32_t i)
{
	struct ls_topic *tp = tdm_stream_topic(q);
	return tp ? ls_partition_get(tp, i) : NULL;
}

int tdm_stream_local(struct tdm_queue *q, int32_t partition)
{
	struct tdm_replica *r = replica_of(q);
	if (!q->stream || !r)
		return 1;
	const struct tdm_partition_state *st = tdm_replica_state(r, q->stream->topic, partition);
	if (!st)
		return partition_of(q, partition) != NULL;
	int32_t self = tdm_replica_node_id(r);
	for (size_t i = 0; i < st->nreplicas; i++)
		if (st->replicas[i] == self)
			return 1;
	return 0;
}

int tdm_stream_subscribe(struct tdm_queue *q, struct tdm_consumer *c, enum tdm_stream_from from,
			 int64_t value, int32_t partition)
{
	struct tdm_stream_cursor *cur = calloc(1, sizeof(*cur));
	if (!cur || !(cur->dec = ls_decoder_new(0))) {
		free(cur);
		return -1;
	}
	struct ls_partition *p = partition_of(q, partition);
	struct tdm_replica *repl = replica_of(q);
	uint64_t start = p ? ls_log_start(p) : 0, end = p ? ls_log_end(p) : 0, off;
	if (p && repl) /* cluster: the end consumers see is the high watermark */
		end = tdm_replica_high_watermark(repl, q->stream->topic, partition, p);
	off = end;
	switch (from) {
	case TDM_FROM_FIRST:
		off = start;
		break;
	case TDM_FROM_LAST:
		if (p && end > start) { /* the batch holding the last record */
			struct ls_read_result r;
			if (ls_read(p, end - 1, 1, &r) == LS_OK) {
				if (r.len)
					off = r.first_offset;
				ls_read_release(&r);
			}
		}
		break;
	case TDM_FROM_OFFSET:
		off = value < 0 ? start : (uint64_t)value;
		break;
	case TDM_FROM_TIME: {
		uint64_t found;
		if (p && ls_offset_for_time(p, value, &found, NULL) == LS_OK)
			off = found;
		break;
	}
	case TDM_FROM_NEXT:
		break;
	}
	if (off < start)
		off = start;
	if (off > end)
		off = end;
	cur->offset = off;
	cur->partition = partition;
	c->cursor = cur;
	return 0;
}

void tdm_stream_unsubscribe(struct tdm_consumer *c)
{
	struct tdm_stream_cursor *cur = c->cursor;
	if (!cur)
		return;
	ls_decoder_free(cur->dec);
	free(cur->buf);
	free(cur);
	c->cursor = NULL;
}

/* Reads the next batches at the cursor into its buffer: 1 when records
 * are there to decode, 0 when the cursor is at the end (or the log is
 * unreadable now). */
static int refill(struct tdm_queue *q, struct tdm_stream_cursor *cur)
{
	struct tdm_topics *t = topics_of(q);
	for (int tries = 0; tries < 2; tries++) {
		struct ls_partition *p = partition_of(q, cur->partition);
		if (!p || !t) {
			cur->offset = 0; /* the topic is gone: a new one starts at 0 */
			return 0;
		}
		uint64_t start = ls_log_start(p), end = ls_log_end(p);
		struct tdm_replica *repl = replica_of(q);
		/* cluster: what is past the high watermark may be truncated away */
		uint64_t hw = repl ? tdm_replica_high_watermark(repl, q->stream->topic,
								cur->partition, p)
				   : end;
		if (cur->offset < start)
			cur->offset = start; /* retention went past us: on from the oldest */
		if (cur->offset > end)
			cur->offset = end;   /* the topic was deleted and made again */
		/* read committed: an open transaction's records wait for its end */
		uint64_t lso = hw;
		if (ls_partition_first_unstable(p, &lso) == LS_OK && lso < hw)
			hw = lso;
		if (cur->offset >= hw)
			return 0;
		struct tdm_read_result r;
		int rc = hw < end ? tdm_topics_read_bounded(t, p, cur->offset, READ_BYTES, hw, &r)
				  : tdm_topics_read(t, p, cur->offset, READ_BYTES, &r);
		if (rc == LS_ERR_OFFSET_OUT_OF_RANGE)
			continue; /* retention moved the start meanwhile */
		if (rc != LS_OK) {
			tdm_warn("stream", "reading %s-%d at %llu: %s", q->stream->topic,
				 (int)cur->partition, (unsigned long long)cur->offset, ls_strerror(rc));
			return 0;
		}
		if (r.len > cur->cap) {
			uint8_t *nb = realloc(cur->buf, r.len);
			if (!nb) {
				tdm_topics_read_release(t, &r);
				return 0;
			}
			cur->buf = nb;
			cur->cap = r.len;
		}
		size_t len = r.len;
		uint64_t next = r.next_offset;
		rc = len ? tdm_topics_read_copy(&r, cur->buf) : LS_OK;
		tdm_topics_read_release(t, &r);
		if (rc != LS_OK || !len || next <= cur->offset)
			return 0;
		ls_decoder_set(cur->dec, cur->buf, len, cur->offset);
		cur->have = 1;
		cur->buf_next = next;
		return 1;
	}
	return 0;
}

/* 1 when the records of batch b are an aborted transaction's, which a
 * stream consumer skips as a read_committed Kafka consumer does (asked
 * once per batch; at once 0 for one that is not transactional). */
static int skipped(struct tdm_queue *q, struct tdm_stream_cursor *cur,
		   const struct ls_batch_info *b)
{
	struct ls_partition *p;

	if (cur->checked_base != b->base_offset + 1) {
		p = partition_of(q, cur->partition);
		cur->aborted = p && ls_partition_batch_aborted(p, b) == 1;
		cur->checked_base = b->base_offset + 1;
	}
	return cur->aborted;
}

/* Hands records to c while it can take them: 1 when it stopped on the budget. */
static int pull(struct tdm_queue *q, struct tdm_consumer *c, unsigned budget)
{
	struct tdm_stream_cursor *cur = c->cursor;
	unsigned n = 0;
	while (!q->deleted && c->cursor == cur && c->ops->can_take(c)) {
		if (n == budget)
			return 1;
		if (!cur->have && !refill(q, cur))
			return 0;
		struct ls_record rec;
		struct ls_batch_info b;
		int rc = ls_decoder_next(cur->dec, &rec, &b);
		if (rc == 1 && skipped(q, cur, &b)) {
			cur->offset = rec.offset + 1;
			continue;
		}
		if (rc <= 0) {
			if (rc < 0) /* e.g. a batch of an unknown codec (5-7): skipped */
				tdm_warn("stream", "%s-%d: skipping records %llu..%llu: %s",
					 q->stream->topic, (int)cur->partition,
					 (unsigned long long)cur->offset,
					 (unsigned long long)cur->buf_next - 1, ls_strerror(rc));
			cur->have = 0;
			if (cur->buf_next > cur->offset)
				cur->offset = cur->buf_next;
			continue;
		}
		cur->offset = rec.offset + 1;
		q->unacked++;
		q->stat_delivered++;
		n++;
		/* core's record type; the header array has logstore's layout */
		struct tdm_record tr = { rec.key, rec.key_len, rec.value, rec.value_len,
					 (const struct tdm_header *)rec.headers, rec.header_count,
					 rec.timestamp, rec.offset };
		c->ops->deliver_record(c, q, &tr);
	}
	return 0;
}

static void data_available(void *ctx)
{
	struct tdm_stream *s = ctx;
	tdm_queue_kick(s->q);
}

/* Watches every partition of the topic for the next append. */
static void arm(struct tdm_queue *q)
{
	struct tdm_stream *s = q->stream;
	struct tdm_topics *t = topics_of(q);
	struct ls_topic *tp = tdm_stream_topic(q);
	if (!t || !tp)
		return;
	size_t n = (size_t)ls_topic_partition_count(tp);
	if (n > s->parts_cap) {
		struct ls_partition **np = realloc(s->parts, n * sizeof(*np));
		if (!np)
			return;
		s->parts = np;
		s->parts_cap = n;
	}
	tdm_topics_unwait(t, &s->waiter); /* before its partition list changes */
	for (size_t i = 0; i < n; i++)
		s->parts[i] = ls_partition_get(tp, (int32_t)i);
	s->waiter.fn = data_available;
	s->waiter.ctx = s;
	s->waiter.parts = s->parts;
	s->waiter.nparts = n;
	tdm_topics_wait_data(t, &s->waiter);
}

int tdm_stream_dispatch(struct tdm_queue *q, unsigned budget)
{
	int more = 0;
	struct tdm_consumer *c = q->consumers;
	for (uint32_t i = 0, n = q->nconsumers; i < n && c && !q->deleted; i++) {
		struct tdm_consumer *next = c->next;
		if (c->cursor && pull(q, c, budget))
			more = 1;
		c = next;
	}
	if (q->nconsumers && !q->deleted)
		arm(q);
	return more;
}
