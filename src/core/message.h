/*
 * Messages: immutable once complete, refcounted, stored once however many
 * queues and deliveries hold them.  The content header (class, weight, body
 * size, property flags and properties) is kept in its AMQP wire form so a
 * delivery writes it without re-encoding; the body is one buffer.
 *
 * Must not depend on: libevent, protocol front ends (the header bytes are
 * opaque here; the AMQP front end is the only one that looks inside).
 */
#ifndef TANDEM_CORE_MESSAGE_H
#define TANDEM_CORE_MESSAGE_H

#include <stddef.h>
#include <stdint.h>

#include "util/invariant.h"

struct tdm_message {
	uint32_t refcnt;
	uint8_t persistent;     /* delivery_mode == 2 */
	uint8_t priority;
	uint8_t exchange_len;
	uint8_t routing_key_len;
	uint32_t header_len;
	uint32_t rkeys_len;     /* bytes at rkeys */
	uint64_t body_len;
	uint64_t body_filled;   /* bytes of body received so far (assembly only) */
	uint8_t *header;        /* owned: points into this allocation */
	uint8_t *body;          /* owned: points into this allocation, or separate for big bodies */
	char *exchange;         /* owned: inside this allocation, NUL-terminated */
	char *routing_key;      /* owned: inside this allocation, NUL-terminated */
	uint8_t body_separate;  /* body was malloc'd on its own */
	int64_t ttl_ms;         /* per-message TTL (AMQP expiration), -1 = none */
	uint64_t journal_off;   /* offset in the durable journal, UINT64_MAX = none */
	/* owned, or NULL: routing keys beyond routing_key (AMQP's CC and BCC
	 * headers), each a 32-bit big-endian length then its bytes.  Kept in
	 * memory only: not journaled, not forwarded to other nodes. */
	uint8_t *rkeys;
};

/*
 * Allocates a message with room for a header of header_len bytes (copied
 * from header), names and a body of body_len bytes to be filled by the
 * caller.  Returns it with refcnt 1, or NULL on allocation failure.
 */
struct tdm_message *tdm_message_new(const char *exchange, size_t exchange_len,
				    const char *routing_key, size_t routing_key_len,
				    const uint8_t *header, size_t header_len,
				    uint64_t body_len);
static inline struct tdm_message *tdm_message_ref(struct tdm_message *m)
{
	TDM_ASSERT(m->refcnt > 0 && m->refcnt < UINT32_MAX); /* live, and no wrap */
	m->refcnt++;
	return m;
}
void tdm_message_unref(struct tdm_message *m);
/* Approximate memory held by m (for accounting). */
size_t tdm_message_size(const struct tdm_message *m);
/*
 * Gives m (which has none yet) a copy of the packed extra routing keys
 * (len bytes, format above; len 0 leaves m without).  0, or -1 out of
 * memory (m unchanged).  Call before m is enqueued anywhere: the memory
 * accounting counts them from then on.
 */
int tdm_message_set_rkeys(struct tdm_message *m, const uint8_t *packed, size_t len);
/* Iterates packed routing keys: *pos starts at 0; 1 and the next key, or 0
 * at the end (a truncated entry ends it too). */
static inline int tdm_rkeys_next(const uint8_t *packed, size_t len, size_t *pos, const char **key,
				 size_t *key_len)
{
	if (*pos > len || len - *pos < 4)
		return 0;
	const uint8_t *p = packed + *pos;
	size_t n = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
	if (n > len - *pos - 4)
		return 0;
	*key = (const char *)p + 4;
	*key_len = n;
	*pos += 4 + n;
	return 1;
}
/* Process-wide count of bytes held by live messages. */
extern uint64_t tdm_message_bytes;

#endif
