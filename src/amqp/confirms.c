/*
 * Publisher confirms.  Acks are sent in sequence order, as few as possible:
 * everything confirmable after one read (or one journal fsync) goes out as
 * one basic.ack with multiple set.  A message journaled for a durable queue
 * holds back its ack (and every later one on the channel) until the
 * journal's fsync covers it; a refused message, or one whose journal write
 * or fsync failed, gets its own basic.nack, in order.  In a cluster, a
 * message appended to a stream queue's topic holds back its ack the same
 * way until the partition's ISR has it (acks=all); it is nacked when the
 * ISR fell below min.insync.replicas, the leadership moved, or 30 s pass.  The fast path, no durable message waiting, touches no ring.
 *
 * May depend on: amqp/am.h (the codec, core/broker.h, net/net.h) and other
 * core/ headers.  Must not depend on: other front ends, logstore/ (core is
 * its only door), libevent other than through net/net.h.
 */
#include <stdlib.h>
#include <string.h>

#include "amqp/am.h"
#include "core/durable.h"
#include "core/log.h"
#include "core/replica.h"
#include "core/topics.h"

#define REPL_TIMEOUT_MS 30000 /* a producer's request.timeout.ms */

/* Channels with confirms waiting for the journal, across connections. */
static struct am_channel *waiting;

static void list_due(struct am_conn *c, struct am_channel *ch)
{
	if (!ch->confirm_listed) {
		ch->confirm_listed = 1;
		ch->confirm_next = c->confirm_due;
		c->confirm_due = ch;
	}
}

static void wait_for_journal(struct am_channel *ch)
{
	if (ch->durable_listed)
		return;
	ch->durable_listed = 1;
	ch->durable_prev = NULL;
	ch->durable_next = waiting;
	if (waiting)
		waiting->durable_prev = ch;
	waiting = ch;
}

static void stop_waiting(struct am_channel *ch)
{
	if (!ch->durable_listed)
		return;
	if (ch->durable_prev)
		ch->durable_prev->durable_next = ch->durable_next;
	else
		waiting = ch->durable_next;
	if (ch->durable_next)
		ch->durable_next->durable_prev = ch->durable_prev;
	ch->durable_listed = 0;
}

static int ring_push(struct am_channel *ch, struct am_confirm e)
{
	if (ch->cring_len == ch->cring_cap) {
		size_t nc = ch->cring_cap ? ch->cring_cap * 2 : 64;
		struct am_confirm *n = malloc(nc * sizeof(*n));
		if (!n)
			return -1;
		for (size_t i = 0; i < ch->cring_len; i++)
			n[i] = ch->cring[(ch->cring_head + i) % ch->cring_cap];
		free(ch->cring);
		ch->cring = n;
		ch->cring_cap = nc;
		ch->cring_head = 0;
	}
	ch->cring[(ch->cring_head + ch->cring_len++) % ch->cring_cap] = e;
	return 0;
}

/* Cluster stream appends waiting for their ISR: one flush waiter (woken
 * when a high watermark moves or an fsync round ends) re-checks every
 * channel waiting, as the journal's sync does. */
static struct tdm_topics_waiter repl_w;
static struct tdm_broker *repl_broker;
static uint64_t repl_warned_ms; /* the last nack of a replication wait logged */

static void journal_synced(void *ctx);

static void repl_woken(void *ctx)
{
	journal_synced(ctx);
	if (waiting && repl_broker && repl_broker->topics)
		tdm_topics_wait_flush(repl_broker->topics, &repl_w);
}

static void wait_for_repl(struct am_conn *c, struct am_channel *ch)
{
	wait_for_journal(ch);
	repl_broker = c->broker;
	repl_w.fn = repl_woken;
	repl_w.ctx = NULL;
	if (c->broker->topics && !repl_w.linked)
		tdm_topics_wait_flush(c->broker->topics, &repl_w);
}

void am_confirm_repl(struct am_conn *c, struct am_channel *ch, uint64_t journal_off, int nack,
		     struct am_repl_wait *repl)
{
	uint64_t seq = ++ch->publish_seq;
	list_due(c, ch);
	if (!nack && !repl && journal_off == TDM_NO_JOURNAL && ch->cring_len == 0) {
		ch->confirm_ready = seq;
		return;
	}
	struct am_confirm e = { seq, journal_off, (uint8_t)nack, repl, 0 };
	if (repl)
		e.deadline_ms = tdm_now_ms() + REPL_TIMEOUT_MS;
	if (ring_push(ch, e) < 0) {
		am_repl_wait_free(repl);
		return; /* out of memory: this confirm is lost, the client times out */
	}
	if (repl)
		wait_for_repl(c, ch);
	else if (journal_off != TDM_NO_JOURNAL)
		wait_for_journal(ch);
}

void am_confirm(struct am_conn *c, struct am_channel *ch, uint64_t journal_off, int nack)
{
	am_confirm_repl(c, ch, journal_off, nack, NULL);
}

static void send_ack(struct am_conn *c, struct am_channel *ch)
{
	if (ch->confirm_ready <= ch->confirm_sent)
		return;
	struct am_method a = { .id = AM_BASIC_ACK };
	a.u.basic_ack.delivery_tag = ch->confirm_ready;
	a.u.basic_ack.multiple = ch->confirm_ready - ch->confirm_sent > 1;
	am_send_method(c, ch->id, &a);
	ch->confirm_sent = ch->confirm_ready;
}

/* Releases what the journal allows, in order, nacks on their own. */
static void drain(struct am_conn *c, struct am_channel *ch)
{
	const struct tdm_durable *d = c->broker->durable;
	while (ch->cring_len) {
		struct am_confirm *e = &ch->cring[ch->cring_head];
		int st = tdm_durable_state(d, e->need);
		if (st == TDM_JOURNAL_PENDING)
			break;
		int rs = e->repl && !e->nack ? am_repl_wait_state(c->broker, e->repl) : 0;
		if (rs == 1 && tdm_now_ms() < e->deadline_ms)
			break;
		if (rs != 0 && tdm_now_ms() - repl_warned_ms >= 1000) { /* a line a second */
			repl_warned_ms = tdm_now_ms();
			tdm_warn("amqp", "connection %s channel %u: publish %llu to a stream queue "
				 "nacked: %s", c->net->peer, ch->id, (unsigned long long)e->seq,
				 rs == 1 ? "not replicated to the in-sync replicas in 30 s"
					 : tdm_replica_strerror(rs));
		}
		am_repl_wait_free(e->repl);
		e->repl = NULL;
		if (e->nack || st == TDM_JOURNAL_FAILED || rs != 0) {
			send_ack(c, ch);
			struct am_method n = { .id = AM_BASIC_NACK };
			n.u.basic_nack.delivery_tag = e->seq;
			am_send_method(c, ch->id, &n);
			ch->confirm_sent = e->seq;
		}
		ch->confirm_ready = e->seq;
		ch->cring_head = (ch->cring_head + 1) % ch->cring_cap;
		ch->cring_len--;
	}
	if (!ch->cring_len) {
		ch->confirm_ready = ch->publish_seq;
		stop_waiting(ch);
	}
	send_ack(c, ch);
}

void am_flush_confirms(struct am_conn *c)
{
	while (c->confirm_due) {
		struct am_channel *ch = c->confirm_due;
		c->confirm_due = ch->confirm_next;
		ch->confirm_listed = 0;
		ch->confirm_next = NULL;
		if (ch->state == AM_CH_OPEN)
			drain(c, ch);
	}
}

/* The journal's fsync finished: channels waiting on it may confirm now. */
static void journal_synced(void *ctx)
{
	(void)ctx;
	struct am_channel *ch = waiting;
	while (ch) {
		struct am_channel *next = ch->durable_next;
		if (ch->state == AM_CH_OPEN && ch->conn->state == AM_S_RUNNING)
			drain(ch->conn, ch);
		ch = next;
	}
}

void am_confirms_kick(void)
{
	if (waiting)
		journal_synced(NULL);
}

void am_confirms_tick(struct tdm_broker *b)
{
	(void)b;
	if (waiting)
		journal_synced(NULL); /* deadlines of replication waits */
}

void am_confirms_release(struct am_channel *ch)
{
	stop_waiting(ch);
	if (!waiting && repl_broker && repl_broker->topics)
		tdm_topics_unwait(repl_broker->topics, &repl_w); /* nobody left to wake */
	for (size_t i = 0; i < ch->cring_len; i++)
		am_repl_wait_free(ch->cring[(ch->cring_head + i) % ch->cring_cap].repl);
	free(ch->cring);
	ch->cring = NULL;
	ch->cring_len = ch->cring_cap = ch->cring_head = 0;
}

void am_hooks_install(struct tdm_broker *b)
{
	am_deadletter_install(b);
	am_alarms_install(b);
	am_stream_install(b);
	am_remote_install(b);
	b->durable_synced = journal_synced;
	b->durable_synced_ctx = NULL;
	b->restore_message = am_message_restore;
	b->restore_ctx = NULL;
}
