/*
 * AMQP (rabbitmq-c) to the nodes of a test cluster (cluster_harness.h):
 * connections, replies checked with Check, channel errors read and the
 * channel reopened, and bounded waits on a node's management API.
 *
 * Must not depend on: tandem's own sources.
 */
#ifndef TANDEM_TESTS_CLUSTER_AMQP_H
#define TANDEM_TESTS_CLUSTER_AMQP_H

#include <stddef.h>

#include <amqp.h>

#include "cluster_harness.h"

/* Fails the test unless r is a normal reply (what names the call). */
void ca_reply_ok(amqp_rpc_reply_t r, const char *what);
/* A connection to node i as user/password on vhost, channel 1 open;
 * NULL when the login is refused. */
amqp_connection_state_t ca_connect(const struct ch_cluster *c, int i, const char *vhost,
				   const char *user, const char *password);
/* The same as guest on "/", failing the test if refused. */
amqp_connection_state_t ca_to(const struct ch_cluster *c, int i);
/* The same, announcing the capability consumer_cancel_notify (the broker
 * sends basic.cancel when a consumer's queue goes away). */
amqp_connection_state_t ca_to_notified(const struct ch_cluster *c, int i);
void ca_done(amqp_connection_state_t conn);
/* r: 0 for a normal reply; else r must be a channel.close of channel 1:
 * its reply code is returned, its text put in text, the channel opened
 * again. */
int ca_channel_error(amqp_connection_state_t conn, amqp_rpc_reply_t r, const char *what,
		     char *text, size_t cap);
/* exchange.declare on channel 1: 0 or the reply code (ca_channel_error). */
int ca_declare_exchange(amqp_connection_state_t conn, const char *x, const char *type,
			int durable, char *text, size_t cap);
/* Waits (at most ms) until node i's API answers `want` to GET path, with
 * needle in the body when not NULL; 1 when it did. */
int ca_node_answers(const struct ch_cluster *c, int i, const char *path, int want,
		    const char *needle, int ms);

/* Publisher confirms of tags 1..n of one channel, as they came. */
struct ca_confirms {
	int n;
	char *acked, *nacked;
	int nacks, acks;
};
void ca_confirms_init(struct ca_confirms *cf, int n);
void ca_confirms_free(struct ca_confirms *cf);
/* Reads confirms for up to ms; returns once every tag 1..upto is settled
 * (or the time is up). */
void ca_read_confirms(amqp_connection_state_t c, struct ca_confirms *cf, int upto, int ms);

#endif
