/*
 * The AMQP client's channels (see amc.h): channel.open/close and
 * release, the answers to synchronous requests (a FIFO of waits per
 * channel: the peer answers a channel's requests in order), publisher
 * confirms, deliveries, returns, server-sent basic.cancel, and content
 * (method, header, body frames) put back together for the callbacks.
 * The requests themselves are amc_req.c's; frame I/O and the
 * connection amc.c's.
 *
 * Must not depend on: src/core, src/net, the front ends (only libevent and
 * amqp/codec.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/amc_internal.h"

int amc_usable(const struct tdm_amc_chan *ch)
{
	return ch->state == CH_OPEN && !ch->released && ch->c->state != C_DEAD && !ch->c->freed;
}

int tdm_amc_chan_usable(const struct tdm_amc_chan *ch)
{
	return ch && amc_usable(ch);
}

int amc_send_m(struct tdm_amc_chan *ch, const struct am_method *m)
{
	if (!amc_usable(ch))
		return TDM_AMC_ERR_STATE;
	return amc_put_method(ch->c, amc_out(ch->c), ch->id, m);
}

int amc_send_wait(struct tdm_amc_chan *ch, const struct am_method *m, struct amc_wait *w)
{
	int rc = amc_send_m(ch, m);
	if (rc < 0) {
		free(w);
		return rc;
	}
	w->req = m->id;
	w->next = NULL;
	*ch->waits_tail = w;
	ch->waits_tail = &w->next;
	return 0;
}

struct amc_wait *amc_wait_new(enum amc_wait_kind kind, void *arg)
{
	struct amc_wait *w = calloc(1, sizeof(*w));
	if (w) {
		w->kind = kind;
		w->arg = arg;
	}
	return w;
}

struct amc_consumer *amc_find_cons(struct tdm_amc_chan *ch, struct am_bytes tag)
{
	for (struct amc_consumer *k = ch->cons; k; k = k->next)
		if (strlen(k->tag) == tag.len && memcmp(k->tag, tag.ptr, tag.len) == 0)
			return k;
	return NULL;
}

/* ---- failure and release ------------------------------------------------- */

static void content_reset(struct amc_content *in)
{
	free(in->mbuf);
	free(in->hdr);
	free(in->body);
	memset(in, 0, sizeof(*in));
}

/* Tells w (freed) code/text. */
static void wait_fail(struct tdm_amc_chan *ch, struct amc_wait *w, int code, const char *text)
{
	switch (w->kind) {
	case W_OPEN:
		break;
	case W_CALL:
		if (w->reply)
			w->reply(w->arg, code, text, NULL);
		break;
	case W_CONSUME:
		w->cons->state = CS_GONE;
		if (w->cons->ok)
			w->cons->ok(w->arg, code, text, NULL);
		else if (w->cons->cancelled && !ch->released && !ch->c->freed)
			w->cons->cancelled(w->arg, code, text);
		break;
	case W_GET:
		if (w->got)
			w->got(w->arg, code, text, NULL);
		break;
	}
	free(w);
}

void amc_chan_fail(struct tdm_amc_chan *ch, int code, const char *text, int notify)
{
	struct amc_wait *w = ch->in.wait, *waits = ch->waits;
	struct amc_pub *p, *pubs = ch->pubs;

	ch->c->reap = 1;
	/* everything is unlinked first: a callback may fail ch again */
	ch->in.wait = NULL;
	content_reset(&ch->in);
	ch->waits = NULL;
	ch->waits_tail = &ch->waits;
	ch->pubs = NULL;
	ch->pubs_tail = &ch->pubs;
	if (w) /* a get whose content was coming: older than the waits left */
		wait_fail(ch, w, code, text);
	while ((w = waits)) {
		waits = w->next;
		wait_fail(ch, w, code, text);
	}
	while ((p = pubs)) {
		pubs = p->next;
		p->confirmed(p->arg, code);
		free(p);
	}
	for (struct amc_consumer *k = ch->cons; k; k = k->next) {
		int was = k->state == CS_ACTIVE;
		k->state = CS_GONE;
		if (was && notify && k->cancelled && !ch->released && !ch->c->freed)
			k->cancelled(k->arg, code, text);
	}
	if (notify && ch->closed && !ch->released && !ch->c->freed) {
		tdm_amc_closed_fn closed = ch->closed;
		ch->closed = NULL; /* once */
		closed(ch->arg, code, text);
	}
}

void amc_chan_reap(struct tdm_amc_chan *ch)
{
	struct amc_consumer **kk = &ch->cons, *k;
	while ((k = *kk)) {
		if (k->state == CS_GONE) {
			*kk = k->next;
			free(k);
		} else {
			kk = &k->next;
		}
	}
}

void amc_chan_destroy(struct tdm_amc_chan *ch)
{
	content_reset(&ch->in);
	while (ch->waits) {
		struct amc_wait *w = ch->waits;
		ch->waits = w->next;
		free(w);
	}
	while (ch->pubs) {
		struct amc_pub *p = ch->pubs;
		ch->pubs = p->next;
		free(p);
	}
	while (ch->cons) {
		struct amc_consumer *k = ch->cons;
		ch->cons = k->next;
		free(k);
	}
	free(ch);
}

struct tdm_amc_chan *tdm_amc_channel(struct tdm_amc *c, tdm_amc_closed_fn closed, void *arg)
{
	unsigned max = c->channel_max ? c->channel_max : TDM_AMC_CHANNEL_MAX, id = 0;
	struct tdm_amc_chan *ch;
	struct am_method m = { .id = AM_CHANNEL_OPEN };
	struct amc_wait *w;

	if (c->freed || c->state == C_DEAD)
		return NULL;
	if (c->next_id < 1 || c->next_id > max) /* tune lowered max */
		c->next_id = 1;
	for (unsigned n = 0; n < max; n++) { /* round the numbers: a late frame meets no new one */
		unsigned k = c->next_id + n > max ? c->next_id + n - max : c->next_id + n;
		if (k >= c->nchans || !c->chans[k]) {
			id = k;
			break;
		}
	}
	if (!id)
		return NULL;
	if (id >= c->nchans) {
		size_t n = c->nchans ? c->nchans : 8;
		while (n <= id)
			n *= 2;
		struct tdm_amc_chan **a = realloc(c->chans, n * sizeof(*a));
		if (!a)
			return NULL;
		memset(a + c->nchans, 0, (n - c->nchans) * sizeof(*a));
		c->chans = a;
		c->nchans = n;
	}
	if (!(ch = calloc(1, sizeof(*ch))))
		return NULL;
	ch->c = c;
	ch->id = (uint16_t)id;
	ch->closed = closed;
	ch->arg = arg;
	ch->waits_tail = &ch->waits;
	ch->pubs_tail = &ch->pubs;
	if (!(w = amc_wait_new(W_OPEN, NULL)) || amc_send_wait(ch, &m, w) < 0) {
		free(ch);
		return NULL;
	}
	c->chans[id] = ch;
	c->next_id = (uint16_t)(id % max + 1);
	return ch;
}

void tdm_amc_channel_close(struct tdm_amc_chan *ch)
{
	struct tdm_amc *c;

	if (!ch || ch->released)
		return;
	c = ch->c;
	amc_enter(c);
	if (amc_usable(ch)) {
		struct am_method m = { .id = AM_CHANNEL_CLOSE };
		m.u.channel_close.reply_code = 200;
		m.u.channel_close.reply_text = amc_bytes("Goodbye", 7);
		ch->state = amc_send_m(ch, &m) == 0 ? CH_CLOSING : CH_DEAD;
	} else {
		ch->state = ch->state == CH_CLOSING ? CH_CLOSING : CH_DEAD;
	}
	ch->released = 1;
	amc_chan_fail(ch, TDM_AMC_ERR_CLOSED, "the channel was closed", 0);
	amc_leave(c);
}

void tdm_amc_on_return(struct tdm_amc_chan *ch, tdm_amc_return_fn returned, void *arg)
{
	ch->returned = returned;
	ch->ret_arg = arg;
}

/* ---- frames in ------------------------------------------------------------- */

/* basic.ack / basic.nack from the peer: confirms, oldest first. */
static int on_confirm(struct tdm_amc_chan *ch, uint64_t tag, int multiple, int status)
{
	struct amc_pub *p, **pp;

	if (!ch->confirm)
		return amc_proto_fail(ch->c, 503, "a publisher confirm outside confirm mode");
	if (multiple) {
		/* re-read each time: a callback may fail the channel */
		while ((p = ch->pubs) && (p->seq <= tag || !tag)) {
			if (!(ch->pubs = p->next))
				ch->pubs_tail = &ch->pubs;
			p->confirmed(p->arg, status);
			free(p);
		}
		return 0;
	}
	for (pp = &ch->pubs; (p = *pp); pp = &p->next)
		if (p->seq >= tag)
			break;
	if (p && p->seq == tag) { /* else one published without a callback */
		if (!(*pp = p->next))
			ch->pubs_tail = pp;
		p->confirmed(p->arg, status);
		free(p);
	}
	return 0;
}

/* The content is complete: the callback, then the buffers go. */
static void on_content(struct tdm_amc_chan *ch, const uint8_t *body)
{
	struct amc_content in = ch->in; /* ours now: a callback may reset ch->in */
	struct tdm_amc_msg msg = { 0 };
	const struct am_method *m = &in.m;
	struct amc_consumer *k;
	char text[256];

	memset(&ch->in, 0, sizeof(ch->in));
	msg.header = in.hdr;
	msg.header_len = in.hdr_len;
	msg.body = body;
	msg.body_len = (size_t)in.size;
	switch (m->id) {
	case AM_BASIC_DELIVER: {
		const struct am_basic_deliver *d = &m->u.basic_deliver;
		msg.delivery_tag = d->delivery_tag;
		msg.redelivered = d->redelivered;
		msg.consumer_tag = (const char *)d->consumer_tag.ptr;
		msg.consumer_tag_len = d->consumer_tag.len;
		msg.exchange = (const char *)d->exchange.ptr;
		msg.exchange_len = d->exchange.len;
		msg.routing_key = (const char *)d->routing_key.ptr;
		msg.routing_key_len = d->routing_key.len;
		k = amc_find_cons(ch, d->consumer_tag);
		/* CS_WAIT too: a consume-ok may come late (on_answer) */
		if (k && k->state != CS_GONE) /* else cancelled meanwhile: dropped */
			k->delivered(k->arg, &msg);
		break;
	}
	case AM_BASIC_GET_OK: {
		const struct am_basic_get_ok *g = &m->u.basic_get_ok;
		msg.delivery_tag = g->delivery_tag;
		msg.redelivered = g->redelivered;
		msg.message_count = g->message_count;
		msg.exchange = (const char *)g->exchange.ptr;
		msg.exchange_len = g->exchange.len;
		msg.routing_key = (const char *)g->routing_key.ptr;
		msg.routing_key_len = g->routing_key.len;
		if (in.wait->got)
			in.wait->got(in.wait->arg, 0, NULL, &msg);
		free(in.wait);
		in.wait = NULL;
		break;
	}
	case AM_BASIC_RETURN: {
		const struct am_basic_return *r = &m->u.basic_return;
		msg.exchange = (const char *)r->exchange.ptr;
		msg.exchange_len = r->exchange.len;
		msg.routing_key = (const char *)r->routing_key.ptr;
		msg.routing_key_len = r->routing_key.len;
		if (ch->returned)
			ch->returned(ch->ret_arg, r->reply_code,
				     amc_cstr(r->reply_text, text, sizeof(text)), &msg);
		break;
	}
	}
	content_reset(&in);
}

int amc_chan_content(struct tdm_amc_chan *ch, const struct am_frame *f)
{
	struct amc_content *in = &ch->in;
	struct am_content_header h;

	if (ch->state != CH_OPEN)
		return 0; /* after our channel.close: dropped until close-ok */
	if (f->type == AM_FRAME_HEADER) {
		if (in->stage != 1)
			return amc_proto_fail(ch->c, 505, "an unexpected content header");
		if (am_content_header_decode(f->payload, f->size, &h) != AM_OK || h.class_id != 60)
			return amc_proto_fail(ch->c, 502, "a content header that does not parse");
		if (h.body_size > TDM_AMC_BODY_MAX)
			return amc_proto_fail(ch->c, 501, "a body over 512 MiB");
		if (!(in->hdr = malloc(f->size)))
			return amc_proto_fail(ch->c, 541, "out of memory for a content header");
		memcpy(in->hdr, f->payload, f->size);
		in->hdr_len = f->size;
		in->size = h.body_size;
		in->stage = 2;
		if (!in->size)
			on_content(ch, (const uint8_t *)"");
		return 0;
	}
	if (in->stage != 2)
		return amc_proto_fail(ch->c, 505, "an unexpected content body");
	if (f->size > in->size - in->got)
		return amc_proto_fail(ch->c, 501, "a content body longer than its header says");
	if (!in->got && f->size == in->size) { /* all in one frame: no copy */
		in->got = f->size;
		on_content(ch, f->payload);
		return 0;
	}
	if (!in->body && !(in->body = malloc((size_t)in->size)))
		return amc_proto_fail(ch->c, 541, "out of memory for a content body");
	memcpy(in->body + in->got, f->payload, f->size);
	in->got += f->size;
	if (in->got == in->size)
		on_content(ch, in->body);
	return 0;
}

/* A method that carries content: kept (with its own copy of the payload)
 * until its header and body are in. */
static int content_method(struct tdm_amc_chan *ch, const struct am_frame *f)
{
	struct amc_content *in = &ch->in;

	if (!(in->mbuf = malloc(f->size)))
		return amc_proto_fail(ch->c, 541, "out of memory for a content method");
	memcpy(in->mbuf, f->payload, f->size);
	am_method_decode(in->mbuf, f->size, &in->m); /* decoded once already */
	in->stage = 1;
	return 0;
}

/* 1 when resp is the answer to the request req (the spec numbers an
 * answer after its request, but for exchange.unbind-ok and get-empty). */
static int answers(uint32_t req, uint32_t resp)
{
	return resp == req + 1 || (req == AM_BASIC_GET && resp == AM_BASIC_GET_EMPTY) ||
	       (req == AM_EXCHANGE_UNBIND && resp == AM_EXCHANGE_UNBIND_OK);
}

/*
 * The answer to the oldest wait of its kind.  Usually the oldest of all,
 * but not always: RabbitMQ's queue process sends basic.consume-ok and
 * basic.cancel-ok, after the channel has answered later requests (a
 * basic.get sent after a basic.cancel is answered first).
 */
static int on_answer(struct tdm_amc_chan *ch, const struct am_frame *f, const struct am_method *m)
{
	struct amc_wait *w, **ww;
	struct amc_consumer *k;
	char why[120];

	for (ww = &ch->waits; (w = *ww); ww = &w->next)
		if (answers(w->req, m->id))
			break;
	if (!w) {
		snprintf(why, sizeof(why), "%s answers no request", am_method_name(m->id));
		return amc_proto_fail(ch->c, 505, why);
	}
	if (!(*ww = w->next))
		ch->waits_tail = ww;
	if (m->id == AM_BASIC_GET_OK) {
		ch->in.wait = w; /* answered when the content is in */
		return content_method(ch, f);
	}
	switch (w->kind) {
	case W_OPEN:
		break;
	case W_CALL:
		if (m->id == AM_BASIC_CANCEL_OK &&
		    (k = amc_find_cons(ch, m->u.basic_cancel_ok.consumer_tag))) {
			k->state = CS_GONE;
			ch->c->reap = 1;
		}
		if (w->reply)
			w->reply(w->arg, 0, NULL, m);
		break;
	case W_CONSUME:
		w->cons->state = CS_ACTIVE;
		if (w->cons->ok)
			w->cons->ok(w->arg, 0, NULL, w->cons->tag);
		break;
	case W_GET:
		if (w->got)
			w->got(w->arg, 0, NULL, NULL);
		break;
	}
	free(w);
	return 0;
}

int amc_chan_method(struct tdm_amc_chan *ch, const struct am_frame *f, const struct am_method *m)
{
	struct amc_consumer *k;
	struct am_method r;
	char text[256], why[120];

	if (ch->state == CH_CLOSING) {
		if (m->id == AM_CHANNEL_CLOSE) { /* crossed ours: answer it, done */
			r = (struct am_method){ .id = AM_CHANNEL_CLOSE_OK };
			amc_put_method(ch->c, amc_out(ch->c), ch->id, &r);
		}
		if (m->id == AM_CHANNEL_CLOSE || m->id == AM_CHANNEL_CLOSE_OK) {
			ch->state = CH_DEAD;
			ch->c->reap = 1;
		}
		return 0;
	}
	if (ch->state == CH_DEAD)
		return 0;
	if (ch->in.stage)
		return amc_proto_fail(ch->c, 505, "a method where content was expected");
	switch (m->id) {
	case AM_CHANNEL_CLOSE:
		r = (struct am_method){ .id = AM_CHANNEL_CLOSE_OK };
		amc_put_method(ch->c, amc_out(ch->c), ch->id, &r);
		ch->state = CH_DEAD;
		amc_chan_fail(ch, m->u.channel_close.reply_code,
			      amc_cstr(m->u.channel_close.reply_text, text, sizeof(text)), 1);
		return 0;
	case AM_CHANNEL_CLOSE_OK:
		return 0; /* late, for a number used before */
	case AM_CHANNEL_FLOW:
		r = (struct am_method){ .id = AM_CHANNEL_FLOW_OK };
		r.u.channel_flow_ok.active = m->u.channel_flow.active;
		amc_put_method(ch->c, amc_out(ch->c), ch->id, &r);
		return 0;
	case AM_BASIC_ACK:
		return on_confirm(ch, m->u.basic_ack.delivery_tag, m->u.basic_ack.multiple,
				  TDM_AMC_ACK);
	case AM_BASIC_NACK:
		return on_confirm(ch, m->u.basic_nack.delivery_tag, m->u.basic_nack.multiple,
				  TDM_AMC_NACK);
	case AM_BASIC_CANCEL:
		if (!m->u.basic_cancel.no_wait) {
			r = (struct am_method){ .id = AM_BASIC_CANCEL_OK };
			r.u.basic_cancel_ok.consumer_tag = m->u.basic_cancel.consumer_tag;
			amc_put_method(ch->c, amc_out(ch->c), ch->id, &r);
		}
		k = amc_find_cons(ch, m->u.basic_cancel.consumer_tag);
		if (k && k->state == CS_ACTIVE) {
			k->state = CS_GONE;
			ch->c->reap = 1;
			if (k->cancelled)
				k->cancelled(k->arg, 0, NULL);
		}
		return 0;
	case AM_BASIC_DELIVER:
	case AM_BASIC_RETURN:
		return content_method(ch, f);
	}
	if (am_method_flags(m->id) & AM_MF_RESP)
		return on_answer(ch, f, m);
	snprintf(why, sizeof(why), "unexpected %s", am_method_name(m->id));
	return amc_proto_fail(ch->c, 503, why);
}
