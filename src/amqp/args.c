/*
 * Field-table helpers for handlers: neutral headers for exchange/ and the
 * argument equivalence check RabbitMQ applies on redeclare.
 *
 * Must not depend on: other front ends.
 */
#include <stdio.h>
#include <string.h>

#include "amqp/amqp.h"

int am_table_to_hdrs(struct am_bytes table, struct ex_hdr *out, size_t max)
{
	struct am_table_iter it;
	struct am_bytes key;
	struct am_value v;
	size_t n = 0;
	am_table_iter_init(&it, table);
	while (am_table_next(&it, &key, &v)) {
		if (n == max)
			return -1;
		out[n].key = (const char *)key.ptr;
		out[n].key_len = key.len;
		out[n].type = v.type;
		out[n].val = v.raw.ptr;
		out[n].val_len = v.raw.len;
		n++;
	}
	return (int)n;
}

/* The declaration arguments RabbitMQ compares on redeclare; others are free. */
const char *const am_queue_arg_keys[] = {
	"x-expires", "x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-routing-key",
	"x-max-length", "x-max-length-bytes", "x-max-priority", "x-overflow", "x-queue-mode",
	"x-queue-type", "x-single-active-consumer", "x-max-in-memory-length",
	"x-max-in-memory-bytes", "x-max-age", "x-stream-max-segment-size-bytes",
	"x-delivery-limit", NULL,
};
const char *const am_exchange_arg_keys[] = { "alternate-exchange", NULL };

static const char *type_word(uint8_t t)
{
	switch (t) {
	case 'I': return "signedint";
	case 'i': return "unsignedint";
	case 'l': return "long";
	case 'L': return "unsignedlong";
	case 's': return "short";
	case 'u': return "unsignedshort";
	case 'b': return "byte";
	case 'B': return "unsignedbyte";
	case 'S': return "longstr";
	case 't': return "bool";
	case 'f': return "float";
	case 'd': return "double";
	case 'D': return "decimal";
	case 'T': return "timestamp";
	case 'F': return "table";
	case 'A': return "array";
	case 'x': return "binary";
	default: return "void";
	}
}

/* "the value '10' of type 'signedint'" or "none" */
static void describe(char *out, size_t n, int present, const struct am_value *v)
{
	if (!present) {
		snprintf(out, n, "none");
		return;
	}
	char val[96];
	switch (v->type) {
	case 'b': case 's': case 'I': case 'l': case 't':
		snprintf(val, sizeof(val), "%lld", (long long)v->v.i);
		break;
	case 'B': case 'u': case 'i': case 'L': case 'T':
		snprintf(val, sizeof(val), "%llu", (unsigned long long)v->v.u);
		break;
	case 'S': case 'x':
		snprintf(val, sizeof(val), "%.*s", (int)(v->v.bytes.len > 64 ? 64 : v->v.bytes.len),
			 (const char *)v->v.bytes.ptr);
		break;
	default:
		snprintf(val, sizeof(val), "...");
	}
	snprintf(out, n, "the value '%s' of type '%s'", val, type_word(v->type));
}

static int same_value(int pa, const struct am_value *a, int pb, const struct am_value *b)
{
	if (pa != pb)
		return 0;
	return !pa || (a->type == b->type && a->raw.len == b->raw.len &&
		       memcmp(a->raw.ptr, b->raw.ptr, a->raw.len) == 0);
}

int am_args_equivalent(struct am_bytes cur, struct am_bytes got, const char *const *keys,
		       const char *what, const char *name, const char *vhost, uint32_t method,
		       struct am_err *err)
{
	for (size_t i = 0; keys[i]; i++) {
		struct am_value a, b;
		int pa = am_table_get(cur, keys[i], &a);
		int pb = am_table_get(got, keys[i], &b);
		if (same_value(pa, &a, pb, &b))
			continue;
		char rd[160], cd[160];
		describe(rd, sizeof(rd), pb, &b);
		describe(cd, sizeof(cd), pa, &a);
		return am_fail(err, AM_PRECONDITION_FAILED, method,
			       "inequivalent arg '%s' for %s '%s' in vhost '%s': received %s but current is %s",
			       keys[i], what, name, vhost, rd, cd);
	}
	return 0;
}
