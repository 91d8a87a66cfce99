/*
 * A method whose change the cluster's definitions log decides (core/defs.h):
 * the connection's input is held (as a stream declaration holds it) until
 * this node has applied the proposal, then the method's reply goes out,
 * or the error the apply decided is raised, as if it had been answered at
 * once.  So a client's next methods see the change made, in its order.
 *
 * May depend on: amqp/am.h, core.  Must not depend on: other front ends.
 */
#include <stdio.h>
#include <stdlib.h>

#include "amqp/am.h"
#include "core/defs.h"

struct defs_wait {
	struct defs_wait *next;
	struct am_conn *c;        /* borrowed: am_defs_conn_gone unlinks us */
	struct tdm_defs_op *op;   /* the proposal */
	uint16_t channel;
	uint32_t method, reply;   /* the method and its ok (AM_* ids) */
	uint8_t no_wait;
};

static struct defs_wait *waits;

static void unlink_wait(struct defs_wait *w)
{
	for (struct defs_wait **pp = &waits; *pp; pp = &(*pp)->next)
		if (*pp == w) {
			*pp = w->next;
			break;
		}
}

static void applied(void *arg, int status, const char *text)
{
	struct defs_wait *w = arg;
	struct am_conn *c = w->c;
	unlink_wait(w);
	c->parked = 0;
	if (!c->blocked)
		tdm_conn_pause_reading(c->net, 0);
	struct am_channel *ch = am_channel_get(c, w->channel);
	if (c->state == AM_S_RUNNING && !c->net->closing && ch && ch->state == AM_CH_OPEN) {
		if (status != TDM_OK) {
			struct tdm_err te = { .status = status };
			snprintf(te.text, sizeof(te.text), "%s", text);
			struct am_err err;
			am_fail_core(&err, &te, w->method);
			am_raise(c, ch, &err);
		} else if (!w->no_wait) {
			am_send_simple(c, ch->id, w->reply);
		}
	}
	free(w);
}

int am_defs_wait(struct am_conn *c, struct am_channel *ch, uint32_t method, uint32_t reply,
		 int no_wait, struct am_err *err)
{
	struct defs_wait *w = calloc(1, sizeof(*w));
	if (!w)
		return am_fail(err, AM_INTERNAL_ERROR, method, "out of memory");
	w->op = tdm_defs_last(c->broker, applied, w);
	if (!w->op) {
		free(w);
		return am_fail(err, AM_INTERNAL_ERROR, method, "no cluster proposal to wait for");
	}
	w->c = c;
	w->channel = ch->id;
	w->method = method;
	w->reply = reply;
	w->no_wait = (uint8_t)!!no_wait;
	w->next = waits;
	waits = w;
	c->parked = 1;
	tdm_conn_pause_reading(c->net, 1);
	return 0;
}

void am_defs_conn_gone(struct am_conn *c)
{
	struct defs_wait *w = waits, *next;
	for (; w; w = next) {
		next = w->next;
		if (w->c != c)
			continue;
		unlink_wait(w);
		tdm_defs_op_forget(w->op);
		free(w);
	}
}
