/* A TCP proxy the cluster tests control, to cut a node off the network
 * without touching the node: it listens on a free 127.0.0.1 port and
 * forwards every connection to 127.0.0.1:target.  Cut, it forwards
 * nothing more in either direction and holds every connection it has and
 * accepts, as a network partition drops packets (neither end sees an
 * error: they find out by their own timeouts).  Healed, it closes every
 * connection it held (as both ends would have timed them out) and
 * forwards new ones again.
 *
 * One thread per proxy.  Depends on: POSIX, pthreads.
 */
#ifndef TANDEM_TESTS_CLUSTER_TCP_PROXY_H
#define TANDEM_TESTS_CLUSTER_TCP_PROXY_H

struct tproxy;

/* A proxy to 127.0.0.1:target_port, forwarding; NULL on error (errno). */
struct tproxy *tproxy_start(int target_port);
/* The port it listens on. */
int tproxy_port(const struct tproxy *p);
/* Cut (1) or heal (0); returns once the proxy thread has switched. */
void tproxy_cut(struct tproxy *p, int cut);
/* Stops the thread, closes everything, frees p.  NULL is fine. */
void tproxy_stop(struct tproxy *p);

#endif
