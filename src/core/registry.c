/*
 * Connection registry (see registry.h): a doubly linked list in
 * registration order plus a map from the front end's pointer to its
 * record, so removal is O(1) however many connections there are.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "core/map.h"
#include "core/registry.h"

static struct tdm_map by_ctx;
static int by_ctx_ready;
static struct tdm_reg_conn *head, *tail;
static size_t count;

static void addr_text(const struct sockaddr_storage *ss, char *host, size_t hlen, int *port)
{
	host[0] = '\0';
	*port = 0;
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &s4->sin_addr, host, (socklen_t)hlen);
		*port = ntohs(s4->sin_port);
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, (socklen_t)hlen);
		*port = ntohs(s6->sin6_port);
	}
}

int tdm_registry_add(void *ctx, const struct tdm_reg_ops *ops, const char *protocol, int fd,
		     const char *user, const char *vhost)
{
	if (!by_ctx_ready) {
		tdm_map_init(&by_ctx);
		by_ctx_ready = 1;
	}
	struct tdm_reg_conn *r = calloc(1, sizeof(*r));
	if (!r)
		return -1;
	r->ctx = ctx;
	r->ops = ops;
	r->protocol = protocol;
	snprintf(r->user, sizeof(r->user), "%s", user ? user : "");
	snprintf(r->vhost, sizeof(r->vhost), "%s", vhost ? vhost : "");
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
		addr_text(&ss, r->peer_host, sizeof(r->peer_host), &r->peer_port);
	sl = sizeof(ss);
	memset(&ss, 0, sizeof(ss));
	if (fd >= 0 && getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		addr_text(&ss, r->host, sizeof(r->host), &r->port);
	snprintf(r->name, sizeof(r->name), "%s:%d -> %s:%d", r->peer_host, r->peer_port, r->host,
		 r->port);
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	r->connected_at = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	if (tdm_map_put(&by_ctx, (const char *)&ctx, sizeof(ctx), r) < 0) {
		free(r);
		return -1;
	}
	r->prev = tail;
	if (tail)
		tail->next = r;
	else
		head = r;
	tail = r;
	count++;
	return 0;
}

void tdm_registry_remove(void *ctx)
{
	if (!by_ctx_ready)
		return;
	struct tdm_reg_conn *r = tdm_map_del(&by_ctx, (const char *)&ctx, sizeof(ctx));
	if (!r)
		return;
	if (r->prev)
		r->prev->next = r->next;
	else
		head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		tail = r->prev;
	count--;
	free(r);
	if (count == 0) { /* nothing left to find: give the map's memory back */
		tdm_map_free(&by_ctx);
		by_ctx_ready = 0;
	}
}

struct tdm_reg_conn *tdm_registry_first(void)
{
	return head;
}

size_t tdm_registry_count(void)
{
	return count;
}

struct tdm_reg_conn *tdm_registry_find(const char *name, size_t len)
{
	for (struct tdm_reg_conn *r = head; r; r = r->next)
		if (strlen(r->name) == len && memcmp(r->name, name, len) == 0)
			return r;
	return NULL;
}
