/*
 * Queue declaration arguments, validated as RabbitMQ 3.10 does (see
 * qargs.h).  The texts are RabbitMQ's, proven by the integration suite run
 * against a RabbitMQ node (tests/rabbitmq/run-against-rabbitmq.sh).
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include "core/qargs.h"

#include <stdio.h>
#include <string.h>

#include "amqp/codec.h"
#include "core/broker.h"
#include "core/queue.h"

int tdm_qarg_invalid(struct tdm_err *err, const char *key, const char *queue, const char *vhost,
		     const char *why)
{
	return tdm_err_set(err, TDM_E_INVALID, "invalid arg '%s' for queue '%s' in vhost '%s': %s",
			   key, queue, vhost, why);
}

int tdm_qarg_nonneg(const uint8_t *args, size_t len, const char *key, int64_t *out,
		    const char *queue, const char *vhost, struct tdm_err *err)
{
	struct am_bytes t = { args, (uint32_t)len };
	struct am_value v;
	char why[64];
	if (!am_table_get(t, key, &v))
		return TDM_OK;
	if (am_int_value(&v, out) < 0) {
		snprintf(why, sizeof(why), "\"expected integer, got %s\"", am_type_word(v.type));
		return tdm_qarg_invalid(err, key, queue, vhost, why);
	}
	if (*out < 0) {
		snprintf(why, sizeof(why), "{value_negative,%lld}", (long long)*out);
		return tdm_qarg_invalid(err, key, queue, vhost, why);
	}
	return TDM_OK;
}

/* RabbitMQ's ceiling on TTLs and expiry: ten years in milliseconds. */
#define TTL_MAX 315360000000LL

static int ttl_arg(const uint8_t *args, size_t len, const char *key, int64_t *out,
		   const char *queue, const char *vhost, struct tdm_err *err)
{
	if (tdm_qarg_nonneg(args, len, key, out, queue, vhost, err) != TDM_OK)
		return TDM_E_INVALID;
	if (*out > TTL_MAX) {
		char why[64];
		snprintf(why, sizeof(why), "{value_too_large,%lld}", (long long)*out);
		return tdm_qarg_invalid(err, key, queue, vhost, why);
	}
	return TDM_OK;
}

/* A string argument: 1 and *out when present, 0 when absent, or
 * TDM_E_INVALID (negative) for another type. */
static int string_arg(struct am_bytes args, const char *key, struct am_bytes *out,
		      const char *queue, const char *vhost, struct tdm_err *err)
{
	struct am_value v;
	if (!am_table_get(args, key, &v))
		return 0;
	/* RabbitMQ words a wrong type two ways: exchange names are "invalid type" */
	if (v.type != 'S' && !strncmp(key, "x-dead-letter-", 14))
		return tdm_err_set(err, TDM_E_INVALID,
				   "invalid type '%s' for arg '%s' in queue '%s' in vhost '%s'",
				   am_type_word(v.type), key, queue, vhost);
	if (v.type != 'S') {
		char why[64];
		snprintf(why, sizeof(why), "{unacceptable_type,%s}", am_type_word(v.type));
		return tdm_qarg_invalid(err, key, queue, vhost, why);
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

int tdm_qargs_parse(const uint8_t *args, size_t len, const char *queue, const char *vhost,
		    struct tdm_queue_settings *qa, struct tdm_err *err)
{
	static const char *const overflow_names[] = { "drop-head", "reject-publish",
						      "reject-publish-dlx" };
	static const char *const modes[] = { "default", "lazy" };
	struct am_bytes t = { args ? args : (const uint8_t *)"", (uint32_t)len };
	tdm_queue_settings_init(qa);
	int64_t prio = -1;
	if (tdm_qarg_nonneg(t.ptr, len, "x-max-length", &qa->max_length, queue, vhost, err) ||
	    tdm_qarg_nonneg(t.ptr, len, "x-max-length-bytes", &qa->max_length_bytes, queue, vhost,
			    err) ||
	    ttl_arg(t.ptr, len, "x-message-ttl", &qa->message_ttl, queue, vhost, err) ||
	    ttl_arg(t.ptr, len, "x-expires", &qa->expires, queue, vhost, err) ||
	    tdm_qarg_nonneg(t.ptr, len, "x-max-priority", &prio, queue, vhost, err))
		return TDM_E_INVALID;
	if (qa->expires == 0)
		return tdm_qarg_invalid(err, "x-expires", queue, vhost, "{value_zero,0}");
	if (prio > 255) {
		char why[64];
		snprintf(why, sizeof(why), "{max_value_exceeded,%lld}", (long long)prio);
		return tdm_qarg_invalid(err, "x-max-priority", queue, vhost, why);
	}
	qa->max_priority = prio > 0 ? (uint8_t)prio : 0;
	struct am_bytes v;
	int rc = string_arg(t, "x-overflow", &v, queue, vhost, err);
	if (rc < 0)
		return rc;
	if (rc) {
		int i = one_of(v, overflow_names, 3);
		if (i < 0)
			return tdm_qarg_invalid(err, "x-overflow", queue, vhost, "invalid_overflow");
		qa->overflow = (uint8_t)i;
	}
	struct am_bytes dlx, dlrk;
	if ((rc = string_arg(t, "x-dead-letter-exchange", &dlx, queue, vhost, err)) < 0)
		return rc;
	if (rc) {
		qa->dlx = (const char *)dlx.ptr;
		qa->dlx_len = dlx.len;
	}
	if ((rc = string_arg(t, "x-dead-letter-routing-key", &dlrk, queue, vhost, err)) < 0)
		return rc;
	if (rc) {
		qa->dlrk = (const char *)dlrk.ptr;
		qa->dlrk_len = dlrk.len;
	}
	if (qa->dlrk && !qa->dlx)
		return tdm_qarg_invalid(err, "x-dead-letter-routing-key", queue, vhost,
					"routing_key_but_no_dlx_defined");
	struct am_value b;
	if (am_table_get(t, "x-single-active-consumer", &b)) {
		if (b.type != 't') {
			char why[64];
			snprintf(why, sizeof(why), "{unacceptable_type,%s}", am_type_word(b.type));
			return tdm_qarg_invalid(err, "x-single-active-consumer", queue, vhost, why);
		}
		qa->single_active = b.v.i != 0;
	}
	char why[300];
	if ((rc = string_arg(t, "x-queue-mode", &v, queue, vhost, err)) < 0)
		return rc;
	if (rc && one_of(v, modes, 2) < 0) {
		snprintf(why, sizeof(why), "\"unsupported queue mode '%.*s'\"", (int)v.len,
			 (const char *)v.ptr);
		return tdm_qarg_invalid(err, "x-queue-mode", queue, vhost, why);
	}
	if ((rc = string_arg(t, "x-queue-type", &v, queue, vhost, err)) < 0)
		return rc;
	if (rc && !(v.len == 7 && memcmp(v.ptr, "classic", 7) == 0)) {
		snprintf(why, sizeof(why), "\"unsupported queue type '%.*s'\"", (int)v.len,
			 (const char *)v.ptr);
		return tdm_qarg_invalid(err, "x-queue-type", queue, vhost, why);
	}
	return TDM_OK;
}
