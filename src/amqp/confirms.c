/*
 * Publisher confirms.  Acks are sent in sequence order, as few as possible:
 * everything confirmable after one read (or one journal fsync) goes out as
 * one basic.ack with multiple set.  A message journaled for a durable queue
 * holds back its ack (and every later one on the channel) until the
 * journal's fsync covers it; a refused message, or one whose journal write
 * or fsync failed, gets its own basic.nack, in order.  The fast path, no durable message waiting, touches no ring.
 *
 * May depend on: amqp/am.h (the codec, core/broker.h, net/net.h) and other
 * core/ headers.  Must not depend on: other front ends, logstore/ (core is
 * its only door), libevent other than through net/net.h.
 */
#include <stdlib.h>
#include <string.h>

#include "amqp/am.h"
#include "core/durable.h"

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

void am_confirm(struct am_conn *c, struct am_channel *ch, uint64_t journal_off, int nack)
{
	uint64_t seq = ++ch->publish_seq;
	list_due(c, ch);
	if (!nack && journal_off == TDM_NO_JOURNAL && ch->cring_len == 0) {
		ch->confirm_ready = seq;
		return;
	}
	if (ring_push(ch, (struct am_confirm){ seq, journal_off, (uint8_t)nack }) < 0)
		return; /* out of memory: this confirm is lost, the client times out */
	if (journal_off != TDM_NO_JOURNAL)
		wait_for_journal(ch);
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
		if (e->nack || st == TDM_JOURNAL_FAILED) {
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

void am_confirms_release(struct am_channel *ch)
{
	stop_waiting(ch);
	free(ch->cring);
	ch->cring = NULL;
	ch->cring_len = ch->cring_cap = ch->cring_head = 0;
}

void am_hooks_install(struct tdm_broker *b)
{
	am_deadletter_install(b);
	am_alarms_install(b);
	am_stream_install(b);
	b->durable_synced = journal_synced;
	b->durable_synced_ctx = NULL;
	b->restore_message = am_message_restore;
	b->restore_ctx = NULL;
}
