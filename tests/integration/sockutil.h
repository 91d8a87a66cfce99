/* Small pieces the integration programs that start their own brokers share:
 * a free loopback port, a loopback TCP connection, removing a data dir.
 *
 * Depends on: POSIX only. */
#ifndef TANDEM_TESTS_INTEGRATION_SOCKUTIL_H
#define TANDEM_TESTS_INTEGRATION_SOCKUTIL_H

/* A port the kernel just handed out on 127.0.0.1 (free a moment ago), or -1. */
int su_free_port(void);
/* A blocking TCP connection to 127.0.0.1:port, or -1. */
int su_tcp_connect(int port);
/* Removes dir and everything below it (no links followed).  0 or -1. */
int su_rm_tree(const char *dir);

#endif
