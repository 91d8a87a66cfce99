/*
 * Handlers of classes confirm and tx: publisher confirms (confirm.select;
 * the acks themselves go out from confirms.c), and transactions that buffer
 * publishes and acknowledgements until commit.
 *
 * May depend on: amqp/am.h (the codec, core/broker.h, net/net.h) and other
 * core/ headers.  Must not depend on: other front ends, logstore/ (core is
 * its only door), libevent other than through net/net.h.
 */
#include <stdlib.h>

#include "amqp/am.h"

int am_h_confirm_select(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
			struct am_err *err)
{
	if (ch->tx)
		return am_fail(err, AM_PRECONDITION_FAILED, m->id,
			       "cannot switch from tx to confirm mode");
	ch->confirm = 1;
	if (!m->u.confirm_select.no_wait)
		am_send_simple(c, ch->id, AM_CONFIRM_SELECT_OK);
	return 0;
}

int am_h_tx_select(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		   struct am_err *err)
{
	if (ch->confirm)
		return am_fail(err, AM_PRECONDITION_FAILED, m->id,
			       "cannot switch from confirm to tx mode");
	ch->tx = 1;
	am_send_simple(c, ch->id, AM_TX_SELECT_OK);
	return 0;
}

static void free_op(struct am_tx_op *op)
{
	if (op->msg)
		tdm_message_unref(op->msg);
	am_targets_free(op->targets);
	free(op);
}

/* Takes the buffered operations off the channel (in order). */
static struct am_tx_op *tx_take(struct am_channel *ch)
{
	struct am_tx_op *ops = ch->tx_head;
	ch->tx_head = NULL;
	ch->tx_tail = &ch->tx_head;
	return ops;
}

int am_h_tx_commit(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		   struct am_err *err)
{
	if (!ch->tx)
		return am_fail(err, AM_PRECONDITION_FAILED, m->id, "channel is not transactional");
	struct am_tx_op *op = tx_take(ch);
	int rc = 0;
	while (op) {
		struct am_tx_op *next = op->next;
		if (rc == 0) {
			if (op->kind == AM_TX_PUBLISH)
				rc = am_publish_now(c, ch, op->msg, op->mandatory, op->targets,
						    err);
			else
				rc = am_settle(ch, op->tag, op->multiple, op->kind == AM_TX_ACK,
					       op->requeue, m->id, err);
		}
		free_op(op);
		op = next;
	}
	if (rc == 0)
		am_send_simple(c, ch->id, AM_TX_COMMIT_OK);
	return rc;
}

void am_tx_discard(struct am_channel *ch)
{
	struct am_tx_op *op = tx_take(ch);
	while (op) {
		struct am_tx_op *next = op->next;
		free_op(op);
		op = next;
	}
}

int am_h_tx_rollback(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		     struct am_err *err)
{
	if (!ch->tx)
		return am_fail(err, AM_PRECONDITION_FAILED, m->id, "channel is not transactional");
	am_tx_discard(ch);
	am_send_simple(c, ch->id, AM_TX_ROLLBACK_OK);
	return 0;
}
