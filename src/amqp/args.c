/*
 * Field-table helpers for handlers: neutral headers for exchange/ and the
 * argument equivalence check RabbitMQ applies on redeclare.
 *
 * Must not depend on: other front ends.
 */
#include <stdio.h>
#include <stdlib.h>
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

const char *am_type_word(uint8_t t)
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
	snprintf(out, n, "the value '%s' of type '%s'", val, am_type_word(v->type));
}


static int is_classic(int present, const struct am_value *v)
{
	return !present || (v->type == 'S' && v->v.bytes.len == 7 && memcmp(v->v.bytes.ptr, "classic", 7) == 0);
}

/* RabbitMQ compares integers by value whatever their width, else type and bytes. */
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

int am_int_value(const struct am_value *v, int64_t *out)
{
	switch (v->type) {
	case 'b': case 's': case 'I': case 'l':
		*out = v->v.i;
		return 0;
	case 'B': case 'u': case 'i': case 'L':
		if (v->v.u > INT64_MAX)
			return -1;
		*out = (int64_t)v->v.u;
		return 0;
	default:
		return -1;
	}
}

int am_bad_arg(struct am_err *err, uint32_t method, const char *key, const char *queue,
	       const char *vhost, const char *why)
{
	return am_fail(err, AM_PRECONDITION_FAILED, method,
		       "invalid arg '%s' for queue '%s' in vhost '%s': %s", key, queue, vhost, why);
}

int am_nonneg_arg(struct am_bytes args, const char *key, int64_t *out, const char *queue,
		  const char *vhost, uint32_t method, struct am_err *err)
{
	struct am_value v;
	char why[64];
	if (!am_table_get(args, key, &v))
		return 0;
	if (am_int_value(&v, out) < 0) {
		snprintf(why, sizeof(why), "\"expected integer, got %s\"", am_type_word(v.type));
		return am_bad_arg(err, method, key, queue, vhost, why);
	}
	if (*out < 0) {
		snprintf(why, sizeof(why), "{value_negative,%lld}", (long long)*out);
		return am_bad_arg(err, method, key, queue, vhost, why);
	}
	return 0;
}

/* RabbitMQ's ceiling on TTLs and expiry: ten years in milliseconds. */
#define TTL_MAX 315360000000LL

static int ttl_arg(struct am_bytes args, const char *key, int64_t *out, const char *queue,
		   const char *vhost, uint32_t method, struct am_err *err)
{
	if (am_nonneg_arg(args, key, out, queue, vhost, method, err) < 0)
		return -1;
	if (*out > TTL_MAX) {
		char why[64];
		snprintf(why, sizeof(why), "{value_too_large,%lld}", (long long)*out);
		return am_bad_arg(err, method, key, queue, vhost, why);
	}
	return 0;
}

static int string_arg(struct am_bytes args, const char *key, struct am_bytes *out,
		      const char *queue, const char *vhost, uint32_t method, struct am_err *err)
{
	struct am_value v;
	if (!am_table_get(args, key, &v))
		return 0;
	/* RabbitMQ words a wrong type two ways: exchange names are "invalid type" */
	if (v.type != 'S' && !strncmp(key, "x-dead-letter-", 14))
		return am_fail(err, AM_PRECONDITION_FAILED, method,
			       "invalid type '%s' for arg '%s' in queue '%s' in vhost '%s'",
			       am_type_word(v.type), key, queue, vhost);
	if (v.type != 'S') {
		char why[64];
		snprintf(why, sizeof(why), "{unacceptable_type,%s}", am_type_word(v.type));
		return am_bad_arg(err, method, key, queue, vhost, why);
	}
	*out = v.v.bytes;
	return 1;
}

static int one_of(struct am_bytes s, const char *const *names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(names[i]) == s.len && memcmp(names[i], s.ptr, s.len) == 0)
			return (int)i;
	return -1;
}

int am_queue_args_parse(struct am_bytes args, struct tdm_queue_settings *qa, const char *queue,
			const char *vhost, uint32_t method, struct am_err *err)
{
	static const char *const overflow_names[] = { "drop-head", "reject-publish",
						      "reject-publish-dlx" };
	static const char *const modes[] = { "default", "lazy" };
	tdm_queue_settings_init(qa);
	int64_t prio = -1;
	if (am_nonneg_arg(args, "x-max-length", &qa->max_length, queue, vhost, method, err) < 0 ||
	    am_nonneg_arg(args, "x-max-length-bytes", &qa->max_length_bytes, queue, vhost, method, err) < 0 ||
	    ttl_arg(args, "x-message-ttl", &qa->message_ttl, queue, vhost, method, err) < 0 ||
	    ttl_arg(args, "x-expires", &qa->expires, queue, vhost, method, err) < 0 ||
	    am_nonneg_arg(args, "x-max-priority", &prio, queue, vhost, method, err) < 0)
		return -1;
	if (qa->expires == 0)
		return am_bad_arg(err, method, "x-expires", queue, vhost, "{value_zero,0}");
	if (prio > 255) {
		char why[64];
		snprintf(why, sizeof(why), "{max_value_exceeded,%lld}", (long long)prio);
		return am_bad_arg(err, method, "x-max-priority", queue, vhost, why);
	}
	qa->max_priority = prio > 0 ? (uint8_t)prio : 0;
	struct am_bytes v;
	int rc = string_arg(args, "x-overflow", &v, queue, vhost, method, err);
	if (rc < 0)
		return -1;
	if (rc) {
		int i = one_of(v, overflow_names, 3);
		if (i < 0)
			return am_bad_arg(err, method, "x-overflow", queue, vhost, "invalid_overflow");
		qa->overflow = (uint8_t)i;
	}
	struct am_bytes dlx, dlrk;
	if ((rc = string_arg(args, "x-dead-letter-exchange", &dlx, queue, vhost, method, err)) < 0)
		return -1;
	if (rc) {
		qa->dlx = (const char *)dlx.ptr;
		qa->dlx_len = dlx.len;
	}
	if ((rc = string_arg(args, "x-dead-letter-routing-key", &dlrk, queue, vhost, method, err)) < 0)
		return -1;
	if (rc) {
		qa->dlrk = (const char *)dlrk.ptr;
		qa->dlrk_len = dlrk.len;
	}
	if (qa->dlrk && !qa->dlx)
		return am_fail(err, AM_PRECONDITION_FAILED, method,
			       "invalid arg 'x-dead-letter-routing-key' for queue '%s' in vhost '%s': "
			       "routing_key_but_no_dlx_defined",
			       queue, vhost);
	struct am_value b;
	if (am_table_get(args, "x-single-active-consumer", &b)) {
		if (b.type != 't') {
			char why[64];
			snprintf(why, sizeof(why), "{unacceptable_type,%s}", am_type_word(b.type));
			return am_bad_arg(err, method, "x-single-active-consumer", queue, vhost, why);
		}
		qa->single_active = b.v.i != 0;
	}
	if ((rc = string_arg(args, "x-queue-mode", &v, queue, vhost, method, err)) < 0)
		return -1;
	if (rc && one_of(v, modes, 2) < 0)
		return am_fail(err, AM_PRECONDITION_FAILED, method,
			       "invalid arg 'x-queue-mode' for queue '%s' in vhost '%s': "
			       "\"unsupported queue mode '%.*s'\"",
			       queue, vhost, (int)v.len, (const char *)v.ptr);
	if ((rc = string_arg(args, "x-queue-type", &v, queue, vhost, method, err)) < 0)
		return -1;
	if (rc && !(v.len == 7 && memcmp(v.ptr, "classic", 7) == 0))
		return am_fail(err, AM_PRECONDITION_FAILED, method,
			       "invalid arg 'x-queue-type' for queue '%s' in vhost '%s': "
			       "\"unsupported queue type '%.*s'\"",
			       queue, vhost, (int)v.len, (const char *)v.ptr);
	return 0;
}
