/*
 * The answer of a CreateAcls or DeleteAcls in a cluster: each change of a
 * user's permissions is a proposal of the cluster's definitions log
 * (core/defs.h, made by tdm_durable_user as for PUT /api/permissions), and
 * the answer, already written, goes once this node has applied every
 * proposal the request made, so nothing is answered before the in-sync
 * replicas have it (the management API waits the same way,
 * http/defs_wait.c).  A proposal that fails (the log's leader unreachable
 * for TDM_DEFS_TIMEOUT_MS, the node leaving) closes the connection
 * instead: the client sees the request fail, and the change, made here
 * already, holds on the nodes that apply it.  On a single node there is
 * nothing to wait for.
 *
 * Must not depend on: src/amqp, src/http.
 */
#include <stdlib.h>

#include "core/broker.h"
#include "core/defs.h"
#include "core/log.h"
#include "kafka/acls_internal.h"
#include "net/net.h"

struct acl_wait;

/* One proposal waited for. */
struct acl_slot {
	struct acl_wait *w;
	struct tdm_defs_op *op; /* borrowed until done; NULL after */
	struct acl_slot *next;  /* owned */
};

struct acl_wait {
	struct kf_park base;
	struct kf_conn *kc;     /* borrowed */
	struct acl_slot *slots; /* owned list */
	size_t pending;
	int failed;
};

static void wait_free(struct acl_wait *w)
{
	for (struct acl_slot *s = w->slots, *next; s; s = next) {
		next = s->next;
		tdm_defs_op_forget(s->op);
		free(s);
	}
	free(w);
}

static void wait_cancel(struct kf_park *p)
{
	wait_free((struct acl_wait *)p);
}

static void op_done(void *arg, int status, const char *text)
{
	struct acl_slot *s = arg;
	struct acl_wait *w = s->w;
	struct kf_conn *kc = w->kc;

	s->op = NULL;
	if (status != TDM_OK && !w->failed) {
		w->failed = 1;
		tdm_warn("kafka", "%s: an ACL change was not taken by the cluster (%s): closing",
			 kc->c->peer, text);
	}
	if (--w->pending)
		return;
	kc->closing = w->failed;
	wait_free(w);
	kf_complete(kc, kc->resp);
	if (kc->closing)
		tdm_conn_close(kc->c);
}

/* Hands the proposals not yet taken to nobody. */
static void forget_untaken(struct tdm_broker *b)
{
	while (tdm_defs_untaken(b))
		tdm_defs_op_forget(tdm_defs_last(b, NULL, NULL));
}

int kf_acl_answer(struct kf_conn *kc)
{
	struct tdm_broker *b = kc->srv->broker;
	struct acl_wait *w;

	if (!b || !tdm_defs_untaken(b))
		return KF_R_DONE;
	if (!(w = calloc(1, sizeof(*w))))
		return KF_R_CLOSE;
	w->base.cancel = wait_cancel;
	w->kc = kc;
	while (tdm_defs_untaken(b)) {
		struct acl_slot *s = calloc(1, sizeof(*s));

		if (!s) {
			wait_free(w);
			forget_untaken(b);
			return KF_R_CLOSE;
		}
		s->w = w;
		s->next = w->slots;
		w->slots = s;
		s->op = tdm_defs_last(b, op_done, s);
		w->pending += s->op != NULL;
	}
	if (!w->pending) { /* cannot be: something was untaken */
		wait_free(w);
		return KF_R_DONE;
	}
	kc->park = &w->base;
	return KF_R_PARKED;
}
