/* Publisher-confirm bookkeeping for integration tests; see confirms.h. */
#include "confirms.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

void confirm_select(amqp_connection_state_t c, amqp_channel_t ch)
{
	amqp_confirm_select(c, ch);
	th_ok_last(c, "confirm.select");
}



void confirms_init(struct confirms *k, amqp_connection_state_t c, amqp_channel_t ch, uint64_t cap)
{
	memset(k, 0, sizeof(*k));
	k->c = c;
	k->ch = ch;
	k->cap = cap;
	k->state = calloc(cap + 1, 1);
	ck_assert_ptr_nonnull(k->state);
}

void confirms_free(struct confirms *k)
{
	free(k->state);
	k->state = NULL;
}

void confirms_settle(struct confirms *k, uint64_t tag, int multiple, uint8_t how)
{
	ck_assert_msg(tag <= k->published, "confirm for tag %" PRIu64 " but only %" PRIu64 " published", tag,
		      k->published);
	uint64_t from = multiple ? k->low + 1 : tag;
	for (uint64_t t = from; t <= tag; t++) {
		if (k->state[t] == 0) {
			k->state[t] = how;
			k->settled++;
			if (how == 2)
				k->nacks++;
		}
	}
	while (k->low < k->published && k->state[k->low + 1] != 0)
		k->low++;
}

/* Read one frame (bounded). Returns 1 when a frame was handled, 0 on
 * timeout, -1 when the connection is gone (sets dead). When the broker must
 * be alive (tolerate_death 0), a dead connection fails the test. */
int confirms_read(struct confirms *k, int timeout_ms, int tolerate_death)
{
	if (k->dead)
		return -1;
	amqp_frame_t f;
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	amqp_maybe_release_buffers(k->c);
	int rc = amqp_simple_wait_frame_noblock(k->c, &f, &tv);
	if (rc == AMQP_STATUS_TIMEOUT)
		return 0;
	if (rc != AMQP_STATUS_OK) {
		ck_assert_msg(tolerate_death, "publisher connection failed: %s", amqp_error_string2(rc));
		k->dead = 1;
		return -1;
	}
	if (f.frame_type != AMQP_FRAME_METHOD)
		return 1;
	if (f.channel == k->ch && f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
		amqp_basic_ack_t *a = f.payload.method.decoded;
		confirms_settle(k, a->delivery_tag, a->multiple, 1);
	} else if (f.channel == k->ch && f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
		amqp_basic_nack_t *n = f.payload.method.decoded;
		confirms_settle(k, n->delivery_tag, n->multiple, 2);
	} else if (f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD ||
		   f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
		/* an external broker stopping says so (320) before it goes */
		ck_assert_msg(tolerate_death, "publisher: server closed with method 0x%08x", f.payload.method.id);
		k->dead = 1;
		return -1;
	}
	return 1;
}

/* Keep at most `window` publishes unsettled (bounded wait). */
void confirms_window(struct confirms *k, uint64_t window)
{
	uint64_t deadline = th_now_ms() + 30000;
	while (k->published - k->settled >= window) {
		ck_assert_msg(th_now_ms() < deadline, "confirms stalled: %" PRIu64 " of %" PRIu64 " settled",
			      k->settled, k->published);
		confirms_read(k, 1000, 0);
	}
}

void confirms_wait(struct confirms *k, int timeout_ms)
{
	uint64_t deadline = th_now_ms() + (uint64_t)timeout_ms;
	while (k->settled < k->published) {
		ck_assert_msg(th_now_ms() < deadline, "only %" PRIu64 " of %" PRIu64 " publishes confirmed", k->settled,
			      k->published);
		confirms_read(k, 1000, 0);
	}
}

void confirms_all(struct confirms *k, int timeout_ms)
{
	confirms_wait(k, timeout_ms);
	ck_assert_msg(k->nacks == 0, "%" PRIu64 " publishes were nacked", k->nacks);
}

void confirms_publish(struct confirms *k, const char *exchange, const char *key,
			     const amqp_basic_properties_t *props, amqp_bytes_t body)
{
	ck_assert_uint_lt(k->published, k->cap);
	int rc = amqp_basic_publish(k->c, k->ch, amqp_cstring_bytes(exchange), amqp_cstring_bytes(key), 0, 0, props,
				    body);
	ck_assert_msg(rc == AMQP_STATUS_OK, "basic.publish: %s", amqp_error_string2(rc));
	k->published++;
}
