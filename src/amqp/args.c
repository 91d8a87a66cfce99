/*
 * Field-table helpers for handlers: neutral headers for exchange/, the
 * argument equivalence check RabbitMQ applies on redeclare, and the AMQP
 * face of core's queue-argument checks (core/qargs.h).
 *
 * May depend on: amqp/am.h (the codec, core/broker.h, net/net.h) and other
 * core/ headers.  Must not depend on: other front ends, logstore/ (core is
 * its only door), libevent other than through net/net.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amqp/am.h"
#include "core/qargs.h"

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

/* The declaration arguments RabbitMQ 3.10 compares on redeclare, in its
 * order: the existing queue's type's queue_arguments (rabbit_classic_queue's
 * and rabbit_stream_queue's capabilities); others are free. */
const char *const am_queue_arg_keys[] = {
	"x-expires", "x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-routing-key",
	"x-max-length", "x-max-length-bytes", "x-max-priority", "x-overflow", "x-queue-mode",
	"x-queue-version", "x-single-active-consumer", "x-queue-type", "x-queue-master-locator",
	NULL,
};
const char *const am_stream_queue_arg_keys[] = {
	"x-max-length-bytes", "x-queue-type", "x-max-age", "x-stream-max-segment-size-bytes",
	"x-initial-cluster-size", "x-queue-leader-locator", NULL,
};
/* rabbit_quorum_queue's capabilities (3.10) */
const char *const am_quorum_queue_arg_keys[] = {
	"x-dead-letter-exchange", "x-dead-letter-routing-key", "x-dead-letter-strategy",
	"x-expires", "x-max-length", "x-max-length-bytes", "x-max-in-memory-length",
	"x-max-in-memory-bytes", "x-overflow", "x-single-active-consumer", "x-queue-type",
	"x-quorum-initial-group-size", "x-delivery-limit", "x-message-ttl", NULL,
};
const char *const am_exchange_arg_keys[] = { "alternate-exchange", NULL };

/* "the value '10' of type 'signedint'" or "none" */
static void describe(char *out, size_t n, int present, const struct am_value *v)
{
	if (!present) {
		snprintf(out, n, "none");
		return;
	}
	char val[96];
	switch (v->type) {
	case 't':
		snprintf(val, sizeof(val), "%s", v->v.i ? "true" : "false");
		break;
	case 'b': case 's': case 'I': case 'l':
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
	snprintf(out, n, "the value '%s' of type '%s'", val, am_type_word(v->type));
}


static int is_bytes(const struct am_value *v)
{
	return v->type == 'S' || v->type == 'x';
}

static int is_classic(int present, const struct am_value *v)
{
	return !present || (v->type == 'S' && v->v.bytes.len == 7 && memcmp(v->v.bytes.ptr, "classic", 7) == 0);
}

/* RabbitMQ compares integers by value whatever their width, else type and
 * bytes; values equal whatever their types are equivalent too
 * (rabbit_misc:assert_field_equivalence), so a longstr and a byte array
 * of the same bytes are.  A missing x-queue-type and 'classic' (a longstr)
 * are equivalent. */
static int same_value(const char *key, int pa, const struct am_value *a, int pb,
		      const struct am_value *b)
{
	int64_t x, y;
	if (strcmp(key, "x-queue-type") == 0 && is_classic(pa, a) && is_classic(pb, b))
		return 1; /* no x-queue-type means classic */
	if (pa != pb)
		return 0;
	if (!pa)
		return 1;
	if (am_int_value(a, &x) == 0 && am_int_value(b, &y) == 0)
		return x == y;
	if (is_bytes(a) && is_bytes(b))
		return a->v.bytes.len == b->v.bytes.len &&
		       memcmp(a->v.bytes.ptr, b->v.bytes.ptr, a->v.bytes.len) == 0;
	return a->type == b->type && a->raw.len == b->raw.len &&
	       memcmp(a->raw.ptr, b->raw.ptr, a->raw.len) == 0;
}

/* 'value' as RabbitMQ prints it when both sides have the same type. */
static void short_value(char *out, size_t n, const struct am_value *v)
{
	char full[160];
	if (v->type == 't') {
		snprintf(out, n, "%s", v->v.i ? "true" : "false");
		return;
	}
	describe(full, sizeof(full), 1, v); /* "the value 'X' of type 'T'" */
	const char *q1 = strchr(full, '\'');
	const char *q2 = q1 ? strchr(q1 + 1, '\'') : NULL;
	snprintf(out, n, "%.*s", q1 && q2 ? (int)(q2 - q1 - 1) : 0, q1 ? q1 + 1 : "");
}

int am_args_equivalent(struct am_bytes cur, struct am_bytes got, const char *const *keys,
		       const char *what, const char *name, const char *vhost, uint32_t method,
		       struct am_err *err)
{
	for (size_t i = 0; keys[i]; i++) {
		struct am_value a, b;
		int pa = am_table_get(cur, keys[i], &a);
		int pb = am_table_get(got, keys[i], &b);
		if (same_value(keys[i], pa, &a, pb, &b))
			continue;
		char rd[160], cd[160];
		if (pa && pb) { /* RabbitMQ prints bare values when both sides have one */
			char rv[140], cv[140];
			short_value(rv, sizeof(rv), &b);
			short_value(cv, sizeof(cv), &a);
			return am_fail(err, AM_PRECONDITION_FAILED, method,
				       "inequivalent arg '%s' for %s '%s' in vhost '%s': received '%s' but current is '%s'",
				       keys[i], what, name, vhost, rv, cv);
		}
		describe(rd, sizeof(rd), pb, &b);
		describe(cd, sizeof(cd), pa, &a);
		return am_fail(err, AM_PRECONDITION_FAILED, method,
			       "inequivalent arg '%s' for %s '%s' in vhost '%s': received %s but current is %s",
			       keys[i], what, name, vhost, rd, cd);
	}
	return 0;
}

/* ---- queue declaration arguments ------------------------------------------ */

int am_bad_arg(struct am_err *err, uint32_t method, const char *key, const char *queue,
	       const char *vhost, const char *why)
{
	struct tdm_err te;
	tdm_qarg_invalid(&te, key, queue, vhost, why);
	return am_fail_core(err, &te, method);
}

int am_nonneg_arg(struct am_bytes args, const char *key, int64_t *out, const char *queue,
		  const char *vhost, uint32_t method, struct am_err *err)
{
	struct tdm_err te;
	if (tdm_qarg_nonneg(args.ptr, args.len, key, out, queue, vhost, &te) != TDM_OK)
		return am_fail_core(err, &te, method);
	return 0;
}
