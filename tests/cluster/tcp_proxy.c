/* A TCP proxy the cluster tests cut and heal (tcp_proxy.h). */
#include "tcp_proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define TP_MAX_PAIRS 64
#define TP_BUF (256 * 1024)

/* One direction of a connection: bytes read from `from`, not yet written
 * to `to`. */
struct tp_dir {
	int from, to;
	char *buf;
	size_t len;
	int eof; /* from has closed: shut `to` down once buf is written */
};

struct tp_pair {
	int a, b; /* a: accepted from the client; b: to the target (-1 while cut) */
	struct tp_dir up, down;
};

struct tproxy {
	int lfd, port, target;
	int wake[2];
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int want_cut, cut, quit; /* want_*: asked; cut: what the thread does */
	struct tp_pair pairs[TP_MAX_PAIRS];
	int npairs;
};

static void pair_close(struct tp_pair *pr)
{
	if (pr->a >= 0)
		close(pr->a);
	if (pr->b >= 0)
		close(pr->b);
	free(pr->up.buf);
	free(pr->down.buf);
	memset(pr, 0, sizeof(*pr));
	pr->a = pr->b = -1;
}

static void drop_all(struct tproxy *p)
{
	for (int i = 0; i < p->npairs; i++)
		pair_close(&p->pairs[i]);
	p->npairs = 0;
}

static int connect_target(int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	return fd;
}

/* A new client connection: forwarded to the target, or (cut) held. */
static void accept_one(struct tproxy *p)
{
	int fd = accept4(p->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	int b = p->cut ? -1 : connect_target(p->target);
	if (p->npairs == TP_MAX_PAIRS || (!p->cut && b < 0)) {
		close(fd); /* a refused target is refused to the client too */
		if (b >= 0)
			close(b);
		return;
	}
	struct tp_pair *pr = &p->pairs[p->npairs++];
	pr->a = fd;
	pr->b = b;
	pr->up = (struct tp_dir){ .from = fd, .to = b, .buf = malloc(TP_BUF) };
	pr->down = (struct tp_dir){ .from = b, .to = fd, .buf = malloc(TP_BUF) };
}

/* Moves what it can in one direction; -1 when the pair is done. */
static int pump(struct tp_dir *d, short rev_from, short rev_to)
{
	if ((rev_from & (POLLIN | POLLHUP | POLLERR)) && !d->eof && d->len < TP_BUF) {
		ssize_t n = read(d->from, d->buf + d->len, TP_BUF - d->len);
		if (n > 0)
			d->len += (size_t)n;
		else if (n == 0 || (errno != EAGAIN && errno != EINTR))
			d->eof = 1;
	}
	if ((rev_to & POLLOUT) && d->len) {
		ssize_t n = write(d->to, d->buf, d->len);
		if (n > 0) {
			memmove(d->buf, d->buf + n, d->len - (size_t)n);
			d->len -= (size_t)n;
		} else if (n < 0 && errno != EAGAIN && errno != EINTR) {
			return -1;
		}
	}
	if (d->eof && !d->len)
		return -1; /* half-closed: a test proxy closes the whole pair */
	return 0;
}

static short events_of(const struct tp_pair *pr, int fd)
{
	short ev = 0;
	const struct tp_dir *out = fd == pr->a ? &pr->up : &pr->down; /* reads of fd */
	const struct tp_dir *in = fd == pr->a ? &pr->down : &pr->up;  /* writes to fd */
	if (!out->eof && out->len < TP_BUF)
		ev |= POLLIN;
	if (in->len)
		ev |= POLLOUT;
	return ev;
}

/* Picks up what the tests asked; 1 when the thread must end. */
static int take_orders(struct tproxy *p)
{
	pthread_mutex_lock(&p->mu);
	int quit = p->quit;
	if (p->want_cut != p->cut) {
		if (!p->want_cut)
			drop_all(p); /* healed: what was held is gone */
		p->cut = p->want_cut;
	}
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return quit;
}

static void *run(void *arg)
{
	struct tproxy *p = arg;
	struct pollfd fds[2 + 2 * TP_MAX_PAIRS];
	while (!take_orders(p)) {
		int n = 0;
		fds[n++] = (struct pollfd){ .fd = p->wake[0], .events = POLLIN };
		fds[n++] = (struct pollfd){ .fd = p->lfd, .events = POLLIN };
		for (int i = 0; !p->cut && i < p->npairs; i++) {
			fds[n++] = (struct pollfd){ .fd = p->pairs[i].a,
						    .events = events_of(&p->pairs[i], p->pairs[i].a) };
			fds[n++] = (struct pollfd){ .fd = p->pairs[i].b,
						    .events = events_of(&p->pairs[i], p->pairs[i].b) };
		}
		if (poll(fds, (nfds_t)n, 1000) < 0 && errno != EINTR)
			break;
		if (fds[0].revents) {
			char c[64];
			(void)!read(p->wake[0], c, sizeof(c));
		}
		if (p->cut) {
			if (fds[1].revents)
				accept_one(p);
			continue;
		}
		for (int i = p->npairs - 1; i >= 0; i--) {
			struct tp_pair *pr = &p->pairs[i];
			short ra = fds[2 + 2 * i].revents, rb = fds[3 + 2 * i].revents;
			if (pump(&pr->up, ra, rb) < 0 || pump(&pr->down, rb, ra) < 0) {
				pair_close(pr);
				p->pairs[i] = p->pairs[--p->npairs];
			}
		}
		if (fds[1].revents)
			accept_one(p);
	}
	drop_all(p);
	return NULL;
}

struct tproxy *tproxy_start(int target_port)
{
	struct tproxy *p = calloc(1, sizeof(*p));
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	if (!p)
		return NULL;
	p->target = target_port;
	p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (p->lfd < 0 || bind(p->lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(p->lfd, 64) < 0 || getsockname(p->lfd, (struct sockaddr *)&sa, &sl) < 0 ||
	    pipe2(p->wake, O_NONBLOCK | O_CLOEXEC) < 0)
		goto fail;
	p->port = ntohs(sa.sin_port);
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	if (pthread_create(&p->thread, NULL, run, p) != 0)
		goto fail;
	return p;
fail:
	if (p->lfd >= 0)
		close(p->lfd);
	free(p);
	return NULL;
}

int tproxy_port(const struct tproxy *p)
{
	return p->port;
}

void tproxy_cut(struct tproxy *p, int cut)
{
	pthread_mutex_lock(&p->mu);
	p->want_cut = cut != 0;
	(void)!write(p->wake[1], "x", 1);
	while (p->cut != p->want_cut)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

void tproxy_stop(struct tproxy *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	p->quit = 1;
	pthread_mutex_unlock(&p->mu);
	(void)!write(p->wake[1], "x", 1);
	pthread_join(p->thread, NULL);
	close(p->lfd);
	close(p->wake[0]);
	close(p->wake[1]);
	pthread_mutex_destroy(&p->mu);
	pthread_cond_destroy(&p->cv);
	free(p);
}
