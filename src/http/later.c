/*
 * Replies given later: a handler that starts work finishing in a callback
 * (a topic whose folders a background job makes) keeps its request in a
 * struct hx_later.  If the client's connection closes first, evhttp frees
 * the request; the connection's close callback then tells the owner to
 * forget (hx_later_conn_closed), so the late reply never touches a freed
 * request.
 *
 * Must not depend on: src/amqp, src/kafka.
 */
#include <stdlib.h>

#include "http/hx.h"

struct hx_later {
	struct tdm_http *h;               /* borrowed */
	struct evhttp_request *req;       /* borrowed from evhttp while linked */
	struct evhttp_connection *conn;   /* borrowed: req's */
	void (*forget)(void *arg);
	void *arg;
	struct hx_later *next;
};

struct hx_later *hx_later_new(struct hx_req *r, void (*forget)(void *arg), void *arg)
{
	struct hx_later *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	*l = (struct hx_later){ r->h, r->req, evhttp_request_get_connection(r->req), forget, arg,
				r->h->later };
	r->h->later = l;
	return l;
}

static void unlink_later(struct hx_later *l)
{
	struct hx_later **pp = &l->h->later;

	while (*pp && *pp != l)
		pp = &(*pp)->next;
	if (*pp)
		*pp = l->next;
}

void hx_later_req(const struct hx_later *l, struct hx_req *out)
{
	memset(out, 0, sizeof(*out));
	out->h = l->h;
	out->req = l->req;
}

void hx_later_done(struct hx_later *l)
{
	unlink_later(l);
	free(l);
}

/* Every later reply of conn (NULL: all) is forgotten and freed. */
void hx_later_conn_closed(struct tdm_http *h, struct evhttp_connection *conn)
{
	struct hx_later **pp = &h->later;

	while (*pp) {
		struct hx_later *l = *pp;

		if (conn && l->conn != conn) {
			pp = &l->next;
			continue;
		}
		*pp = l->next;
		l->forget(l->arg);
		free(l);
	}
}
