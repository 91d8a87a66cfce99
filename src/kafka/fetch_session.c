/*
 * Fetch sessions (KIP-227, Fetch v7+): a consumer or follower that fetches
 * the same partitions again and again asks for a session once; from then
 * on its requests name only the partitions whose position changed (and
 * those to forget), and the answers carry only the partitions with news:
 * records, an error, a moved high watermark or log start.
 *
 * The request's (session_id, epoch):
 *  - (0, -1): a full fetch without a session;
 *  - (0, 0) or (id, 0): a full fetch that opens a new session (closing
 *    session id); the answer gives its id, or 0 when the cache is full;
 *  - (id, -1): closes session id, then a full fetch without one;
 *  - (id, n > 0): an incremental fetch of session id at epoch n:
 *    FETCH_SESSION_ID_NOT_FOUND (70) when there is no such session,
 *    INVALID_FETCH_SESSION_EPOCH (71) when n is not the epoch it expects.
 * Every answered request of a session moves its epoch on by one (after
 * INT32_MAX comes 1, as Kafka's nextEpoch).
 *
 * The cache holds max.incremental.fetch.session.cache.slots sessions
 * (Kafka's setting and default, 1000).  When it is full a new session
 * takes the place of the one used longest ago if that one was idle for
 * 120 s (min.incremental.fetch.session.eviction.ms's default), else the
 * fetch is answered without a session (id 0), as Kafka's cache does.
 *
 * Sessions belong to the broker, not to a connection: a client may go on
 * with its session over a new connection.  Everything runs on the loop
 * thread.
 *
 * Must not depend on: src/amqp.
 */
#include <stdlib.h>
#include <string.h>

#include "kafka/kf.h"

#define EVICT_IDLE_MS 120000

struct kf_fsessions {
	struct kf_fsess **v;
	size_t n;
	uint32_t slots;
	int32_t next_id;
};

struct kf_fsessions *kf_fsessions_new(uint32_t slots)
{
	struct kf_fsessions *c = calloc(1, sizeof(*c));

	if (c) {
		c->slots = slots;
		c->next_id = 1;
	}
	return c;
}

static void sess_free(struct kf_fsess *s)
{
	for (size_t i = 0; s && i < s->n; i++)
		free(s->p[i].topic);
	if (s)
		free(s->p);
	free(s);
}

void kf_fsessions_free(struct kf_fsessions *c)
{
	for (size_t i = 0; c && i < c->n; i++)
		sess_free(c->v[i]);
	if (c)
		free(c->v);
	free(c);
}

size_t kf_fsessions_count(const struct kf_fsessions *c)
{
	return c ? c->n : 0;
}

struct kf_fsess *kf_fsess_find(struct kf_fsessions *c, int32_t id)
{
	for (size_t i = 0; c && id && i < c->n; i++)
		if (c->v[i]->id == id)
			return c->v[i];
	return NULL;
}

static void drop_at(struct kf_fsessions *c, size_t i)
{
	sess_free(c->v[i]);
	c->v[i] = c->v[--c->n];
}

static void drop(struct kf_fsessions *c, int32_t id)
{
	for (size_t i = 0; id && i < c->n; i++)
		if (c->v[i]->id == id) {
			drop_at(c, i);
			return;
		}
}

/* A free slot: there is one, or the session used longest ago went idle
 * long enough to give its place.  0 or -1 (full). */
static int make_room(struct kf_fsessions *c, uint64_t now)
{
	size_t lru = 0;

	if (c->n < c->slots)
		return 0;
	if (!c->n)
		return -1;
	for (size_t i = 1; i < c->n; i++)
		if (c->v[i]->used_ms < c->v[lru]->used_ms)
			lru = i;
	if (now - c->v[lru]->used_ms < EVICT_IDLE_MS)
		return -1;
	drop_at(c, lru);
	return 0;
}

/* An id no session has, never 0, after the last one given. */
static int32_t new_id(struct kf_fsessions *c)
{
	for (;;) {
		int32_t id = c->next_id;

		c->next_id = c->next_id == INT32_MAX ? 1 : c->next_id + 1;
		if (!kf_fsess_find(c, id))
			return id;
	}
}

static struct kf_fsess *open_session(struct kf_fsessions *c, uint64_t now)
{
	struct kf_fsess *s, **v;

	if (make_room(c, now) < 0)
		return NULL;
	if (!(v = realloc(c->v, (c->n + 1) * sizeof(*v))))
		return NULL;
	c->v = v;
	if (!(s = calloc(1, sizeof(*s))))
		return NULL;
	s->id = new_id(c);
	s->epoch = 0; /* its answer makes it 1, the first incremental one */
	s->used_ms = now;
	c->v[c->n++] = s;
	return s;
}

static int same_topic(const struct kf_fsess_part *p, struct kf_str name, const uint8_t id[16],
		      int by_id)
{
	if (by_id)
		return memcmp(p->id, id, 16) == 0;
	return name.len >= 0 && strlen(p->topic) == (size_t)name.len &&
	       memcmp(p->topic, name.p, (size_t)name.len) == 0;
}

static struct kf_fsess_part *find_part(struct kf_fsess *s, struct kf_str name,
				       const uint8_t id[16], int by_id, int32_t index)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->p[i].index == index && same_topic(&s->p[i], name, id, by_id))
			return &s->p[i];
	return NULL;
}

/* Adds or updates one partition of topic t (name: as the request names
 * it, or resolved from the id; NULL when unknown). */
static int put_part(struct kf_fsess *s, const struct kf_fetch_topic *t, const char *name,
		    int by_id, const struct kf_fetch_part *fp)
{
	struct kf_fsess_part *p = find_part(s, t->name, t->id, by_id, fp->index);

	if (!p) {
		if (s->n == s->cap) {
			size_t cap = s->cap ? 2 * s->cap : 8;
			struct kf_fsess_part *np = realloc(s->p, cap * sizeof(*np));

			if (!np)
				return -1;
			s->p = np;
			s->cap = cap;
		}
		p = &s->p[s->n];
		memset(p, 0, sizeof(*p));
		if (!(p->topic = strdup(name ? name : "")))
			return -1;
		memcpy(p->id, t->id, 16);
		p->index = fp->index;
		p->hw = p->ls = -2; /* never answered: the first answer has it */
		s->n++;
	}
	p->fetch_offset = fp->fetch_offset;
	p->log_start = fp->log_start_offset;
	p->max_bytes = fp->partition_max_bytes;
	p->cur_epoch = fp->current_leader_epoch;
	return 0;
}

static void forget(struct kf_fsess *s, const struct kf_fetch_forgotten *f, int by_id)
{
	for (int32_t j = 0; j < f->nparts; j++) {
		struct kf_fsess_part *p = find_part(s, f->name, f->id, by_id, f->parts[j]);

		if (!p)
			continue;
		free(p->topic);
		memmove(p, p + 1, (size_t)(&s->p[s->n] - (p + 1)) * sizeof(*p));
		s->n--;
	}
}

/* Puts the request's partitions (and its forgotten ones) into s; names[i]
 * is topic i's name (NULL: an id no topic has). */
static int apply(struct kf_fsess *s, const struct kf_fetch_req *r, const char *const *names,
		 int by_id)
{
	for (int32_t i = 0; i < r->ntopics; i++)
		for (int32_t j = 0; j < r->topics[i].nparts; j++)
			if (put_part(s, &r->topics[i], names[i], by_id, &r->topics[i].parts[j]) < 0)
				return -1;
	for (int32_t i = 0; i < r->nforgotten; i++)
		forget(s, &r->forgotten[i], by_id);
	return 0;
}

int16_t kf_fsess_begin(struct kf_fsessions *c, const struct kf_fetch_req *r,
		       const char *const *names, int by_id, uint64_t now, struct kf_fsess **out)
{
	struct kf_fsess *s;

	*out = NULL;
	if (r->session_epoch == -1 || r->session_epoch == 0) {
		drop(c, r->session_id); /* closed (also when a new one is asked) */
		if (r->session_epoch == -1 || !(s = open_session(c, now)))
			return KF_ERR_NONE; /* without a session */
		if (apply(s, r, names, by_id) < 0) {
			drop(c, s->id);
			return KF_ERR_NONE;
		}
		s->full = 1;
		*out = s;
		return KF_ERR_NONE;
	}
	if (!(s = kf_fsess_find(c, r->session_id)))
		return KF_ERR_FETCH_SESSION_ID_NOT_FOUND;
	if (r->session_epoch != s->epoch)
		return KF_ERR_INVALID_FETCH_SESSION_EPOCH;
	if (apply(s, r, names, by_id) < 0)
		return KF_ERR_UNKNOWN_SERVER_ERROR;
	s->full = 0;
	s->used_ms = now;
	*out = s;
	return KF_ERR_NONE;
}

void kf_fsess_answered(struct kf_fsess *s)
{
	s->epoch = s->epoch == INT32_MAX ? 1 : s->epoch + 1;
}
