/* Publisher confirms as a test sees them: which publishes (by tag) were
 * acked, which nacked, and which are still open, tolerant of a broker that
 * dies (kill -9) while publishes are in flight.  Every wait is bounded.
 *
 * Depends on: Check, rabbitmq-c, harness.h. */
#ifndef TANDEM_TESTS_INTEGRATION_CONFIRMS_H
#define TANDEM_TESTS_INTEGRATION_CONFIRMS_H

#include "harness.h"

struct confirms {
	amqp_connection_state_t c;
	amqp_channel_t ch;
	uint64_t published; /* tags 1..published were sent */
	uint64_t settled;   /* acked or nacked */
	uint64_t low;       /* every tag <= low is settled */
	uint64_t nacks;
	uint8_t *state; /* [tag]: 0 open, 1 acked, 2 nacked; cap+1 entries */
	uint64_t cap;
	int dead; /* the connection failed (the broker was killed) */
};

/* confirm.select on ch; fails the test unless select-ok arrives. */
void confirm_select(amqp_connection_state_t c, amqp_channel_t ch);
/* Track up to cap publishes on (c, ch). */
void confirms_init(struct confirms *k, amqp_connection_state_t c, amqp_channel_t ch, uint64_t cap);
void confirms_free(struct confirms *k);
/* Record an ack (how 1) or nack (how 2) of tag (and all open tags below it
 * when multiple). */
void confirms_settle(struct confirms *k, uint64_t tag, int multiple, uint8_t how);
/* Read one frame (bounded). 1 when a frame was handled, 0 on timeout, -1
 * when the connection is gone (sets dead; fails the test unless
 * tolerate_death). */
int confirms_read(struct confirms *k, int timeout_ms, int tolerate_death);
/* Keep at most `window` publishes unsettled (bounded wait). */
void confirms_window(struct confirms *k, uint64_t window);
/* Wait (bounded) until every publish is acked or nacked. */
void confirms_wait(struct confirms *k, int timeout_ms);
/* confirms_wait, then fail the test if any publish was nacked. */
void confirms_all(struct confirms *k, int timeout_ms);
/* basic.publish on the tracked channel (next tag). */
void confirms_publish(struct confirms *k, const char *exchange, const char *key,
		      const amqp_basic_properties_t *props, amqp_bytes_t body);

#endif
