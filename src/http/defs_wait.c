/*
 * Requests whose changes the cluster's definitions log decides
 * (core/defs.h): the reply waits until this node has applied every
 * proposal the request made, then says what the applies decided (the
 * first error, else the success status).  A request that must see its
 * own changes before it can go on (a definitions import: its bindings
 * need the exchanges it declared) is handled again from the start once
 * they are applied; that second pass waits for nothing.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/defs.h"
#include "http/hx.h"

/* One proposal the request waits for. */
struct slot {
	struct hx_defs_wait *w;
	struct tdm_defs_op *op;   /* borrowed until done; NULL after */
};

struct hx_defs_wait {
	struct hx_later *later;   /* owned */
	struct tdm_http *h;       /* borrowed */
	struct slot **ops;        /* owned array of owned slots */
	size_t nops, cap, pending;
	int ok_status, again, armed;
	struct tdm_err err;       /* the first failure */
};

static int rerunning; /* 1 while a request is handled again */

static void free_slots(struct hx_defs_wait *w)
{
	for (size_t i = 0; i < w->nops; i++) {
		tdm_defs_op_forget(w->ops[i]->op);
		free(w->ops[i]);
	}
	free(w->ops);
	free(w);
}

static void finish(struct hx_defs_wait *w)
{
	struct hx_req r;
	hx_later_req(w->later, &r);
	struct evhttp_request *req = r.req;
	int again = w->again && w->err.status == TDM_OK;
	if (!again && w->err.status != TDM_OK)
		hx_core_error(&r, &w->err);
	else if (!again)
		hx_no_content(&r, w->ok_status);
	struct tdm_http *h = w->h;
	hx_later_done(w->later);
	free_slots(w);
	if (again) {
		rerunning = 1;
		hx_handle(h, req);
		rerunning = 0;
	}
}

static void op_done(void *arg, int status, const char *text)
{
	struct slot *sl = arg;
	struct hx_defs_wait *w = sl->w;
	sl->op = NULL;
	if (status != TDM_OK && w->err.status == TDM_OK) {
		w->err.status = status;
		snprintf(w->err.text, sizeof(w->err.text), "%s", text);
	}
	if (--w->pending == 0 && w->armed)
		finish(w);
}

static void forget(void *arg)
{
	free_slots(arg);
}

struct hx_defs_wait *hx_defs_wait_new(struct hx_req *r, int ok_status, int again)
{
	struct hx_defs_wait *w = calloc(1, sizeof(*w));
	if (!w || !(w->later = hx_later_new(r, forget, w))) {
		free(w);
		return NULL;
	}
	w->h = r->h;
	w->ok_status = ok_status;
	w->again = again && !rerunning;
	return w;
}

int hx_defs_wait_add(struct hx_defs_wait *w)
{
	if (!tdm_defs_untaken(w->h->broker))
		return 1;
	if (w->nops == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 8;
		struct slot **n = realloc(w->ops, cap * sizeof(*n));
		if (!n)
			return -1;
		w->ops = n;
		w->cap = cap;
	}
	struct slot *sl = calloc(1, sizeof(*sl));
	if (!sl)
		return -1;
	sl->w = w;
	sl->op = tdm_defs_last(w->h->broker, op_done, sl);
	w->ops[w->nops++] = sl;
	w->pending++;
	return 0;
}

void hx_defs_wait_arm(struct hx_defs_wait *w)
{
	w->armed = 1;
	if (w->pending == 0)
		finish(w);
}

void hx_defs_wait_fail(struct hx_defs_wait *w, const struct tdm_err *e)
{
	if (w->err.status == TDM_OK)
		w->err = *e;
	w->again = 0;
	hx_defs_wait_arm(w);
}

int hx_defs_rerunning(void)
{
	return rerunning;
}

void hx_defs_reply(struct hx_req *r, int ok_status)
{
	struct hx_defs_wait *w = hx_defs_wait_new(r, ok_status, 0);
	if (!w) {
		hx_defs_forget(r->h->broker);
		hx_error(r, 500, "internal_error", "out of memory");
		return;
	}
	int rc;
	while ((rc = hx_defs_wait_add(w)) == 0)
		;
	if (rc < 0) {
		struct tdm_err e;
		tdm_err_set(&e, TDM_E_NOMEM, "out of memory");
		hx_defs_wait_fail(w, &e);
		return;
	}
	hx_defs_wait_arm(w);
}

void hx_defs_forget(struct tdm_broker *b)
{
	struct tdm_defs_op *op;
	while ((op = tdm_defs_last(b, NULL, NULL)))
		tdm_defs_op_forget(op);
}
