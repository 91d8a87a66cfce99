/*
 * Message allocation and refcounting; see message.h.  Small messages live in
 * one allocation (struct, header, names, body) to keep per-message overhead
 * low; bodies over 64 KiB get their own allocation so a huge body is not
 * doubled by realloc patterns.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include "core/message.h"

#include <stdlib.h>
#include <string.h>

#define BODY_INLINE_MAX (64 * 1024)

uint64_t tdm_message_bytes;

struct tdm_message *tdm_message_new(const char *exchange, size_t exchange_len,
				    const char *routing_key, size_t routing_key_len,
				    const uint8_t *header, size_t header_len,
				    uint64_t body_len)
{
	if (exchange_len > 255 || routing_key_len > 255)
		return NULL;
	int inline_body = body_len <= BODY_INLINE_MAX;
	size_t sz = sizeof(struct tdm_message) + header_len + exchange_len + 1 +
		    routing_key_len + 1 + (inline_body ? body_len : 0);
	struct tdm_message *m = malloc(sz);
	if (!m)
		return NULL;
	memset(m, 0, sizeof(*m));
	uint8_t *p = (uint8_t *)(m + 1);
	m->header = p;
	memcpy(p, header, header_len);
	p += header_len;
	m->exchange = (char *)p;
	memcpy(p, exchange, exchange_len);
	p[exchange_len] = '\0';
	p += exchange_len + 1;
	m->routing_key = (char *)p;
	memcpy(p, routing_key, routing_key_len);
	p[routing_key_len] = '\0';
	p += routing_key_len + 1;
	if (inline_body) {
		m->body = p;
	} else {
		m->body = malloc(body_len);
		if (!m->body) {
			free(m);
			return NULL;
		}
		m->body_separate = 1;
	}
	m->refcnt = 1;
	m->ttl_ms = -1;
	m->journal_off = UINT64_MAX;
	m->header_len = (uint32_t)header_len;
	m->exchange_len = (uint8_t)exchange_len;
	m->routing_key_len = (uint8_t)routing_key_len;
	m->body_len = body_len;
	tdm_message_bytes += tdm_message_size(m);
	return m;
}

size_t tdm_message_size(const struct tdm_message *m)
{
	return sizeof(*m) + m->header_len + m->exchange_len + m->routing_key_len + 2 + m->body_len +
	       m->rkeys_len;
}

int tdm_message_set_rkeys(struct tdm_message *m, const uint8_t *packed, size_t len)
{
	if (len == 0)
		return 0;
	if (len > UINT32_MAX || !(m->rkeys = malloc(len)))
		return -1;
	memcpy(m->rkeys, packed, len);
	m->rkeys_len = (uint32_t)len;
	tdm_message_bytes += len;
	return 0;
}

void tdm_message_unref(struct tdm_message *m)
{
	if (!m)
		return;
	TDM_ASSERT(m->refcnt > 0); /* an unref more than there were refs */
	if (--m->refcnt > 0)
		return;
	tdm_message_bytes -= tdm_message_size(m);
	if (m->body_separate)
		free(m->body);
	free(m->rkeys);
	free(m);
}
