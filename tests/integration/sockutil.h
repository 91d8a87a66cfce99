/* Small pieces the integration programs that start their own brokers share:
 * a free loopback port, a loopback TCP connection, removing a data dir.
 *
 * Depends on: POSIX only. */
#ifndef TANDEM_TESTS_INTEGRATION_SOCKUTIL_H
#define TANDEM_TESTS_INTEGRATION_SOCKUTIL_H

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The lowest port the kernel hands out by itself (connect()'s source ports,
 * bind() to port 0): the first number of ip_local_port_range. */
static inline int su_ephemeral_low(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
	int low = 32768;
	if (f) {
		if (fscanf(f, "%d", &low) != 1)
			low = 32768;
		fclose(f);
	}
	return low;
}

/* A loopback port free a moment ago, below the kernel's ephemeral range, or
 * -1.  Below, because a test restarts brokers on the ports they had: a port
 * the kernel hands out could, while its broker is down, become some other
 * socket's source port or bind(0) port (a client's connection, another
 * node's HTTP listener), and the restart would fail "Address already in
 * use".  The kernel never picks these by itself, so only another test's
 * choice can collide: random picks out of some 20,000 make that rare, and
 * the bind below (no SO_REUSEADDR: a TIME_WAIT counts as taken) rules out
 * what is in use now. */
static inline int su_free_port(void)
{
	static unsigned seed, given[64], ngiven; /* not twice to one process */
	static pid_t seeded;
	int low = 10000, high = su_ephemeral_low();
	if (seeded != getpid()) { /* a forked test must not repeat its parent's picks */
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seeded = getpid();
		seed = (unsigned)seeded * 2654435761u ^ (unsigned)ts.tv_nsec ^ (unsigned)ts.tv_sec;
	}
	for (int tries = 0; high - low > 1000 && tries < 500; tries++) {
		int port = low + (int)(rand_r(&seed) % (unsigned)(high - low)), again = 0;
		for (unsigned i = 0; i < ngiven && i < 64; i++)
			again |= given[i] == (unsigned)port;
		if (again)
			continue;
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;
		if (fd < 0)
			return -1;
		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		ok = bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		close(fd);
		if (ok) {
			given[ngiven++ % 64] = (unsigned)port;
			return port;
		}
	}
	return -1;
}
/* A blocking TCP connection to 127.0.0.1:port, or -1. */
int su_tcp_connect(int port);
/* Removes dir and everything below it (no links followed).  0 or -1. */
int su_rm_tree(const char *dir);

#endif
