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
	struct am_method ok;      /* reply 0: this ok (no borrowed fields) */
	uint8_t *rerun;           /* owned: else the method, encoded, run again */
	size_t rerun_len;
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

/* The change is made here: the method runs again and now finds it (a
 * queue.declare answers with the queue's counts, checks its arguments). */
static void rerun(struct am_conn *c, struct am_channel *ch, struct defs_wait *w)
{
	struct am_method m;
	if (am_method_decode(w->rerun + 7, w->rerun_len - AM_FRAME_OVERHEAD, &m) != AM_OK)
		return;
	am_dispatch_method(c, ch->id, &m);
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
		} else if (w->rerun) {
			rerun(c, ch, w);
		} else if (!w->no_wait && w->reply) {
			am_send_simple(c, ch->id, w->reply);
		} else if (!w->no_wait) {
			am_send_method(c, ch->id, &w->ok);
		}
	}
	free(w->rerun);
	free(w);
}

static struct defs_wait *wait_new(struct am_conn *c, struct am_channel *ch, uint32_t method,
				   uint32_t reply, int no_wait, struct am_err *err);

int am_defs_wait(struct am_conn *c, struct am_channel *ch, uint32_t method, uint32_t reply,
		 int no_wait, struct am_err *err)
{
	return wait_new(c, ch, method, reply, no_wait, err) ? 0 : -1;
}

int am_defs_wait_ok(struct am_conn *c, struct am_channel *ch, const struct am_method *ok,
		    uint32_t method, int no_wait, struct am_err *err)
{
	struct defs_wait *w = wait_new(c, ch, method, 0, no_wait, err);
	if (!w)
		return -1;
	w->ok = *ok;
	return 0;
}

int am_defs_wait_rerun(struct am_conn *c, struct am_channel *ch, const struct am_method *m,
		       struct am_err *err)
{
	size_t cap = 2 * AM_FRAME_MIN_SIZE, len = 0;
	uint8_t *buf = malloc(cap);
	int rc = buf ? am_method_frame_encode(ch->id, m, buf, cap, &len) : AM_ERR_NOSPACE;
	while (rc == AM_ERR_NOSPACE && buf && cap < (1u << 24)) { /* big argument tables */
		uint8_t *nb = realloc(buf, cap *= 4);
		if (!nb)
			break;
		buf = nb;
		rc = am_method_frame_encode(ch->id, m, buf, cap, &len);
	}
	if (rc != AM_OK) {
		free(buf);
		return am_fail(err, AM_INTERNAL_ERROR, m->id, "out of memory");
	}
	struct defs_wait *w = wait_new(c, ch, m->id, 0, 0, err);
	if (!w) {
		free(buf);
		return -1;
	}
	w->rerun = buf;
	w->rerun_len = len;
	return 0;
}

static struct defs_wait *wait_new(struct am_conn *c, struct am_channel *ch, uint32_t method,
				  uint32_t reply, int no_wait, struct am_err *err)
{
	struct defs_wait *w = calloc(1, sizeof(*w));
	if (!w) {
		am_fail(err, AM_INTERNAL_ERROR, method, "out of memory");
		return NULL;
	}
	w->op = tdm_defs_last(c->broker, applied, w);
	if (!w->op) {
		free(w);
		am_fail(err, AM_INTERNAL_ERROR, method, "no cluster proposal to wait for");
		return NULL;
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
	return w;
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
		free(w->rerun);
		free(w);
	}
}
