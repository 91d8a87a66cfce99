/*
 * The AMQP client's requests on a channel (see amc.h): synchronous
 * calls, confirm mode, publishes, consumers, basic.get and
 * acknowledgements, each written through the codec; their answers come
 * back through amc_chan.c.
 *
 * Must not depend on: src/core, src/net, the front ends (only libevent and
 * amqp/codec.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/amc_internal.h"

/* The no_wait bit of m, for the methods that have one and may be called. */
static int no_wait_of(const struct am_method *m)
{
	switch (m->id) {
	case AM_EXCHANGE_DECLARE:
		return m->u.exchange_declare.no_wait;
	case AM_EXCHANGE_DELETE:
		return m->u.exchange_delete.no_wait;
	case AM_EXCHANGE_BIND:
		return m->u.exchange_bind.no_wait;
	case AM_EXCHANGE_UNBIND:
		return m->u.exchange_unbind.no_wait;
	case AM_QUEUE_DECLARE:
		return m->u.queue_declare.no_wait;
	case AM_QUEUE_BIND:
		return m->u.queue_bind.no_wait;
	case AM_QUEUE_PURGE:
		return m->u.queue_purge.no_wait;
	case AM_QUEUE_DELETE:
		return m->u.queue_delete.no_wait;
	case AM_BASIC_CANCEL:
		return m->u.basic_cancel.no_wait;
	}
	return 0;
}

/* The field table of m, for the methods that have one and may be called. */
static const struct am_bytes *table_of(const struct am_method *m)
{
	switch (m->id) {
	case AM_EXCHANGE_DECLARE:
		return &m->u.exchange_declare.arguments;
	case AM_EXCHANGE_BIND:
		return &m->u.exchange_bind.arguments;
	case AM_EXCHANGE_UNBIND:
		return &m->u.exchange_unbind.arguments;
	case AM_QUEUE_DECLARE:
		return &m->u.queue_declare.arguments;
	case AM_QUEUE_BIND:
		return &m->u.queue_bind.arguments;
	case AM_QUEUE_UNBIND:
		return &m->u.queue_unbind.arguments;
	}
	return NULL;
}

int tdm_amc_call(struct tdm_amc_chan *ch, const struct am_method *m, tdm_amc_reply_fn reply,
		 void *arg)
{
	unsigned flags = am_method_flags(m->id), cls = m->id >> 16;
	struct amc_wait *w;

	if ((flags & (AM_MF_SYNC | AM_MF_CLIENT)) != (AM_MF_SYNC | AM_MF_CLIENT) || no_wait_of(m) ||
	    (cls != 40 && cls != 50 && cls != 60 && cls != 90) || m->id == AM_BASIC_CONSUME ||
	    m->id == AM_BASIC_GET)
		return TDM_AMC_ERR_INVAL;
	/* a bad table would make the peer close the whole connection */
	const struct am_bytes *t = table_of(m);
	if (t && t->len && am_table_validate(*t, AM_TABLE_MAX_DEPTH) != AM_OK)
		return TDM_AMC_ERR_INVAL;
	if (!amc_usable(ch))
		return TDM_AMC_ERR_STATE;
	if (!(w = amc_wait_new(W_CALL, arg)))
		return TDM_AMC_ERR_NOMEM;
	w->reply = reply;
	return amc_send_wait(ch, m, w);
}

int tdm_amc_confirm_select(struct tdm_amc_chan *ch, tdm_amc_reply_fn reply, void *arg)
{
	struct am_method m = { .id = AM_CONFIRM_SELECT };
	struct amc_wait *w;
	int rc;

	if (!amc_usable(ch))
		return TDM_AMC_ERR_STATE;
	if (!(w = amc_wait_new(W_CALL, arg)))
		return TDM_AMC_ERR_NOMEM;
	w->reply = reply;
	if ((rc = amc_send_wait(ch, &m, w)) == 0)
		ch->confirm = 1;
	return rc;
}

int tdm_amc_publish(struct tdm_amc_chan *ch, const char *exchange, size_t xlen, const char *rk,
		    size_t rklen, int mandatory, const uint8_t *header, size_t header_len,
		    const uint8_t *body, size_t body_len, tdm_amc_confirm_fn confirmed, void *arg)
{
	struct tdm_amc *c = ch->c;
	struct am_method m = { .id = AM_BASIC_PUBLISH };
	struct am_content_header h;
	uint8_t fh[7], sz[8], plain[14] = { 0, 60 }; /* class 60, weight 0, size, no flags */
	static const uint8_t end = AM_FRAME_END;
	struct amc_pub *p = NULL;
	struct evbuffer *tmp = NULL;
	size_t chunk = c->frame_max - AM_FRAME_OVERHEAD;
	int rc = TDM_AMC_ERR_INVAL, bad = 0;

	if (!amc_usable(ch))
		return TDM_AMC_ERR_STATE;
	if (confirmed && !ch->confirm)
		return TDM_AMC_ERR_INVAL;
	if (!header_len) {
		header = plain;
		header_len = sizeof(plain);
	} else if (header_len < 14 || am_content_header_decode(header, header_len, &h) != AM_OK ||
		   h.class_id != 60) {
		return TDM_AMC_ERR_INVAL;
	}
	if (header_len > chunk || xlen > 255 || rklen > 255)
		return TDM_AMC_ERR_INVAL;
	m.u.basic_publish.exchange = amc_bytes(exchange, xlen);
	m.u.basic_publish.routing_key = amc_bytes(rk, rklen);
	m.u.basic_publish.mandatory = mandatory != 0;
	if (!(tmp = evbuffer_new()) || (confirmed && !(p = calloc(1, sizeof(*p))))) {
		rc = TDM_AMC_ERR_NOMEM;
		goto out;
	}
	if ((rc = amc_put_method(c, tmp, ch->id, &m)) < 0)
		goto out;
	/* the header as given, its body size (bytes 4..12) set to body_len */
	for (int i = 0; i < 8; i++)
		sz[i] = (uint8_t)((uint64_t)body_len >> (56 - 8 * i));
	amc_put_frame_header(fh, AM_FRAME_HEADER, ch->id, (uint32_t)header_len);
	bad |= evbuffer_add(tmp, fh, 7) | evbuffer_add(tmp, header, 4) | evbuffer_add(tmp, sz, 8) |
	       evbuffer_add(tmp, header + 12, header_len - 12) | evbuffer_add(tmp, &end, 1);
	for (size_t off = 0; off < body_len && !bad; off += chunk) {
		size_t n = body_len - off < chunk ? body_len - off : chunk;
		amc_put_frame_header(fh, AM_FRAME_BODY, ch->id, (uint32_t)n);
		bad |= evbuffer_add(tmp, fh, 7) | evbuffer_add(tmp, body + off, n) |
		       evbuffer_add(tmp, &end, 1);
	}
	if (bad || evbuffer_add_buffer(amc_out(c), tmp) < 0) {
		rc = TDM_AMC_ERR_NOMEM;
		goto out;
	}
	if (ch->confirm)
		ch->next_seq++;
	if (p) {
		p->seq = ch->next_seq;
		p->confirmed = confirmed;
		p->arg = arg;
		*ch->pubs_tail = p;
		ch->pubs_tail = &p->next;
		p = NULL;
	}
	rc = 0;
out:
	free(p);
	if (tmp)
		evbuffer_free(tmp);
	return rc;
}

int tdm_amc_consume(struct tdm_amc_chan *ch, const char *queue, size_t qlen, int no_ack,
		    const uint8_t *args_table, size_t args_len, tdm_amc_deliver_fn delivered,
		    tdm_amc_cancelled_fn cancelled, tdm_amc_consume_ok_fn ok, void *arg)
{
	struct am_method m = { .id = AM_BASIC_CONSUME };
	struct amc_consumer *k;
	struct amc_wait *w;
	int rc;

	if (!amc_usable(ch))
		return TDM_AMC_ERR_STATE;
	if (!delivered || qlen > 255 ||
	    (args_len && am_table_validate(amc_bytes(args_table, args_len), AM_TABLE_MAX_DEPTH)))
		return TDM_AMC_ERR_INVAL;
	if (!(k = calloc(1, sizeof(*k))))
		return TDM_AMC_ERR_NOMEM;
	if (!(w = amc_wait_new(W_CONSUME, arg))) {
		free(k);
		return TDM_AMC_ERR_NOMEM;
	}
	snprintf(k->tag, sizeof(k->tag), "amc-%u", ++ch->c->ctag_seq);
	k->delivered = delivered;
	k->cancelled = cancelled;
	k->ok = ok;
	k->arg = arg;
	w->cons = k;
	m.u.basic_consume.queue = amc_bytes(queue, qlen);
	m.u.basic_consume.consumer_tag = amc_bytes(k->tag, strlen(k->tag));
	m.u.basic_consume.no_ack = no_ack != 0;
	m.u.basic_consume.arguments = amc_bytes(args_table, args_len);
	if ((rc = amc_send_wait(ch, &m, w)) < 0) {
		free(k);
		return rc;
	}
	k->next = ch->cons;
	ch->cons = k;
	return 0;
}

int tdm_amc_get(struct tdm_amc_chan *ch, const char *queue, size_t qlen, int no_ack,
		tdm_amc_got_fn got, void *arg)
{
	struct am_method m = { .id = AM_BASIC_GET };
	struct amc_wait *w;

	if (!amc_usable(ch))
		return TDM_AMC_ERR_STATE;
	if (qlen > 255)
		return TDM_AMC_ERR_INVAL;
	if (!(w = amc_wait_new(W_GET, arg)))
		return TDM_AMC_ERR_NOMEM;
	w->got = got;
	m.u.basic_get.queue = amc_bytes(queue, qlen);
	m.u.basic_get.no_ack = no_ack != 0;
	return amc_send_wait(ch, &m, w);
}

int tdm_amc_ack(struct tdm_amc_chan *ch, uint64_t tag, int multiple)
{
	struct am_method m = { .id = AM_BASIC_ACK };
	m.u.basic_ack.delivery_tag = tag;
	m.u.basic_ack.multiple = multiple != 0;
	return amc_send_m(ch, &m);
}

int tdm_amc_nack(struct tdm_amc_chan *ch, uint64_t tag, int multiple, int requeue)
{
	struct am_method m = { .id = AM_BASIC_NACK };
	m.u.basic_nack.delivery_tag = tag;
	m.u.basic_nack.multiple = multiple != 0;
	m.u.basic_nack.requeue = requeue != 0;
	return amc_send_m(ch, &m);
}

int tdm_amc_reject(struct tdm_amc_chan *ch, uint64_t tag, int requeue)
{
	struct am_method m = { .id = AM_BASIC_REJECT };
	m.u.basic_reject.delivery_tag = tag;
	m.u.basic_reject.requeue = requeue != 0;
	return amc_send_m(ch, &m);
}
