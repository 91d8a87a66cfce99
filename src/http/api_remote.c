/*
 * The management API on a queue of another node (core/remote.h): a get
 * and a purge are its home's, asked over the cluster link; the reply is
 * given later (hx_later), when the home has answered.
 *
 * Must not depend on: src/amqp, src/kafka.
 */
#include <stdio.h>
#include <stdlib.h>

#include "core/remote.h"
#include "http/hx.h"

struct remote_req {
	struct hx_later *l;         /* owned until the reply */
	struct tdm_queue *q;        /* ref */
	struct tdm_remote_op *op;   /* the home's answer awaited */
	struct hx_get_params p;
	struct tdm_qentry *taken;   /* owned: a get's messages so far */
	uint64_t *left;             /* owned */
	size_t n;
};

static void req_free(struct remote_req *rr)
{
	for (size_t i = 0; i < rr->n; i++) /* unanswered: back to the home */
		tdm_queue_requeue(rr->q, rr->taken[i]);
	tdm_queue_unref(rr->q);
	free(rr->taken);
	free(rr->left);
	free(rr);
}

/* The client went away first. */
static void forget(void *arg)
{
	struct remote_req *rr = arg;
	tdm_remote_forget(rr->op);
	req_free(rr);
}

static struct remote_req *req_new(struct hx_req *r, struct tdm_queue *q)
{
	struct remote_req *rr = calloc(1, sizeof(*rr));
	if (!rr || !(rr->l = hx_later_new(r, forget, rr))) {
		free(rr);
		hx_error(r, 500, "internal_error", "out of memory");
		return NULL;
	}
	rr->q = q;
	tdm_queue_ref(q);
	return rr;
}

/* Answers with the home's error (or that it cannot be reached). */
static void reply_error(struct hx_req *r, struct tdm_queue *q, int status, const char *text)
{
	struct tdm_err e = { .status = status };
	if (text)
		snprintf(e.text, sizeof(e.text), "%s", text);
	else if (!tdm_remote_home_up(q))
		tdm_remote_down(q, &e);
	else
		tdm_err_set(&e, TDM_E_NOMEM,
			    "queue '%s' lives on node %d, which this node cannot reach now", q->name,
			    (int)q->home);
	hx_core_error(r, &e);
}

static void finish(struct remote_req *rr, int status, const char *text)
{
	struct hx_req r;
	hx_later_req(rr->l, &r);
	if (status != TDM_OK) {
		reply_error(&r, rr->q, status, text);
	} else {
		hx_get_reply(&r, rr->q, &rr->p, rr->taken, rr->left, rr->n);
		rr->n = 0; /* settled */
	}
	hx_later_done(rr->l);
	req_free(rr);
}

static int get_next(struct remote_req *rr);

static void got(void *arg, int status, const char *text, const struct tdm_qentry *e,
		uint64_t left)
{
	struct remote_req *rr = arg;
	rr->op = NULL;
	if (status != TDM_OK || !e) {
		finish(rr, status, text);
		return;
	}
	rr->taken[rr->n] = *e;
	tdm_message_ref(e->msg);
	rr->q->unacked++; /* the home's until settled there (core/remote.c) */
	rr->left[rr->n++] = left;
	if ((int64_t)rr->n == rr->p.count || get_next(rr) < 0)
		finish(rr, TDM_OK, NULL);
}

/* Asks the home for one more; -1 when it cannot be asked. */
static int get_next(struct remote_req *rr)
{
	return tdm_remote_get(rr->q, 0, got, rr, &rr->op);
}

void hx_remote_get(struct hx_req *r, struct tdm_queue *q, const struct hx_get_params *p)
{
	struct remote_req *rr = req_new(r, q);
	if (!rr)
		return;
	rr->p = *p;
	if (!p->count) {
		finish(rr, TDM_OK, NULL);
		return;
	}
	rr->taken = calloc((size_t)p->count, sizeof(*rr->taken));
	rr->left = calloc((size_t)p->count, sizeof(*rr->left));
	if (!rr->taken || !rr->left) {
		finish(rr, TDM_E_NOMEM, "out of memory");
		return;
	}
	if (get_next(rr) < 0)
		finish(rr, TDM_E_NOMEM, NULL);
}

static void purged(void *arg, int status, const char *text, uint64_t messages,
		   uint64_t consumers)
{
	(void)messages;
	(void)consumers;
	struct remote_req *rr = arg;
	rr->op = NULL;
	struct hx_req r;
	hx_later_req(rr->l, &r);
	if (status != TDM_OK)
		reply_error(&r, rr->q, status, text);
	else
		hx_no_content(&r, 204);
	hx_later_done(rr->l);
	req_free(rr);
}

void hx_remote_purge(struct hx_req *r, struct tdm_queue *q)
{
	struct remote_req *rr = req_new(r, q);
	if (rr && tdm_remote_call(q, TDM_REMOTE_PURGE, purged, rr, &rr->op) < 0) {
		hx_later_done(rr->l);
		req_free(rr);
		reply_error(r, q, TDM_E_NOMEM, NULL);
	}
}
