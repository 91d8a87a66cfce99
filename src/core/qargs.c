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
#include "core/access.h"
#include "core/auth.h"
#include "core/broker.h"
#include "core/queue.h"
#include "core/stream.h"

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

static int bytes_is(struct am_bytes b, const char *s);

/* A quorum queue's own settings: group size, delivery limit; RabbitMQ
 * 3.10 takes x-overflow reject-publish-dlx and uses drop-head. */
static int quorum_settings(struct am_bytes t, struct tdm_queue_settings *qa, const char *queue,
			   const char *vhost, struct tdm_err *err)
{
	int64_t gs = 0, limit = -1;
	if (tdm_qarg_nonneg(t.ptr, t.len, "x-quorum-initial-group-size", &gs, queue, vhost, err) ||
	    tdm_qarg_nonneg(t.ptr, t.len, "x-delivery-limit", &limit, queue, vhost, err))
		return TDM_E_INVALID;
	qa->quorum = 1;
	qa->group_size = gs > 64 ? 64 : (int32_t)gs;
	qa->delivery_limit = limit;
	if (qa->overflow == TDM_OVERFLOW_REJECT_PUBLISH_DLX)
		qa->overflow = TDM_OVERFLOW_DROP_HEAD;
	return TDM_OK;
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
	if (rc && bytes_is(v, "quorum")) /* tdm_qargs_quorum checked the rest */
		return quorum_settings(t, qa, queue, vhost, err);
	if (rc && !(v.len == 7 && memcmp(v.ptr, "classic", 7) == 0)) {
		snprintf(why, sizeof(why), "\"unsupported queue type '%.*s'\"", (int)v.len,
			 (const char *)v.ptr);
		return tdm_qarg_invalid(err, "x-queue-type", queue, vhost, why);
	}
	return TDM_OK;
}

/* ---- stream queues -------------------------------------------------------- */

static int bytes_is(struct am_bytes b, const char *s)
{
	size_t n = strlen(s);
	return b.len == n && memcmp(b.ptr, s, n) == 0;
}

/* Declaration arguments RabbitMQ knows that a stream refuses (3.10). */
static const char *const refused_args[] = {
	"x-expires", "x-message-ttl", "x-dead-letter-exchange", "x-dead-letter-routing-key",
	"x-max-length", "x-max-in-memory-length", "x-max-in-memory-bytes", "x-max-priority",
	"x-overflow", "x-queue-mode", "x-single-active-consumer", "x-quorum-initial-group-size",
	"x-delivery-limit", "x-queue-master-locator", "x-queue-version", NULL,
};

int tdm_qargs_is_stream(const uint8_t *args, size_t len)
{
	struct am_bytes t = { args ? args : (const uint8_t *)"", (uint32_t)len };
	struct am_value v;
	return am_table_get(t, "x-queue-type", &v) && v.type == 'S' && bytes_is(v.v.bytes, "stream");
}

int tdm_qargs_is_quorum(const uint8_t *args, size_t len)
{
	struct am_bytes t = { args ? args : (const uint8_t *)"", (uint32_t)len };
	struct am_value v;
	return am_table_get(t, "x-queue-type", &v) && v.type == 'S' && bytes_is(v.v.bytes, "quorum");
}

int tdm_qargs_parse_age(const char *s, size_t len, int64_t *ms)
{
	static const struct { char unit; int64_t ms; } units[] = {
		{ 'Y', 365LL * 86400000 }, { 'M', 30LL * 86400000 }, { 'D', 86400000 },
		{ 'h', 3600000 }, { 'm', 60000 }, { 's', 1000 },
	};
	size_t i = 0;
	int64_t n = 0;
	int big = 0;
	while (i < len && s[i] >= '0' && s[i] <= '9') {
		if (n > (INT64_MAX - 9) / 10)
			big = 1;
		else
			n = n * 10 + (s[i] - '0');
		i++;
	}
	if (i == 0 || i + 1 != len || (n == 0 && !big))
		return -1;
	for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++) {
		if (units[u].unit != s[i])
			continue;
		*ms = big || n > INT64_MAX / units[u].ms ? INT64_MAX : n * units[u].ms;
		return 0;
	}
	return -1;
}

/* x-partition-key: "routing_key" or "header:<name>". */
static int pkey_arg(struct am_bytes args, struct tdm_stream_spec *sp, const char *queue,
		    const char *vhost, struct tdm_err *err)
{
	struct am_value v;
	char why[80];
	if (!am_table_get(args, "x-partition-key", &v))
		return TDM_OK;
	if (v.type != 'S') {
		snprintf(why, sizeof(why), "{unacceptable_type,%s}", am_type_word(v.type));
		return tdm_qarg_invalid(err, "x-partition-key", queue, vhost, why);
	}
	if (bytes_is(v.v.bytes, "routing_key"))
		return TDM_OK;
	if (v.v.bytes.len > 7 && memcmp(v.v.bytes.ptr, "header:", 7) == 0) {
		sp->pkey = TDM_PKEY_HEADER;
		sp->pkey_header = (const char *)v.v.bytes.ptr + 7;
		sp->pkey_header_len = v.v.bytes.len - 7;
		return TDM_OK;
	}
	return tdm_qarg_invalid(err, "x-partition-key", queue, vhost,
				"expected routing_key or header:<name>");
}

/* tandem's bridge arguments: a view of an existing (or new) topic. */
static int bridge_args(struct tdm_vhost *vh, const char *user, struct am_bytes args,
		       struct tdm_stream_spec *sp, const char *queue, struct tdm_err *err)
{
	const char *vhost = vh->name;
	struct am_value v;
	char why[120];
	int rc = pkey_arg(args, sp, queue, vhost, err);
	if (rc != TDM_OK)
		return rc;
	if (am_table_get(args, "x-log-partitions", &v)) {
		int64_t n;
		if (am_int_value(&v, &n) < 0 || n < 1 || n > 1000000)
			return tdm_qarg_invalid(err, "x-log-partitions", queue, vhost,
						"expected an integer from 1 to 1000000");
		sp->partitions = (int32_t)n;
	}
	if (!am_table_get(args, "x-log-topic", &v))
		return TDM_OK;
	if (v.type != 'S') {
		snprintf(why, sizeof(why), "{unacceptable_type,%s}", am_type_word(v.type));
		return tdm_qarg_invalid(err, "x-log-topic", queue, vhost, why);
	}
	const char *t = (const char *)v.v.bytes.ptr;
	size_t tlen = v.v.bytes.len;
	if (!tdm_stream_topic_legal(t, tlen))
		return tdm_qarg_invalid(err, "x-log-topic", queue, vhost,
					"not a legal topic name ([A-Za-z0-9._-], 1 to 240 bytes)");
	/* Only a topic of this vhost (core/stream.h: tdm_topic_vhost), and only
	 * one the user may read and write (the queue reads and writes it), by
	 * the topic's name in the vhost (core/stream.h: tdm_topic_local_name,
	 * the name the Kafka listener checks too): never another vhost's stream
	 * or an internal topic.  RabbitMQ's answer to a resource the user may
	 * not touch is 403, as for a queue or exchange of a refused permission. */
	size_t vlen = vh->name_len;
	char local[TDM_TOPIC_NAME_MAX + 1];
	int ln = tdm_topic_local_name(t, tlen, local, sizeof(local));
	if (!tdm_topic_in_vhost(t, tlen, vhost, vlen) || ln < 0)
		return tdm_err_set(err, TDM_E_ACCESS,
				   "access to topic '%.*s' in vhost '%s' refused for user '%s'",
				   (int)tlen, t, vhost, user);
	if (tdm_access(vh, user, TDM_RES_TOPIC, TDM_PERM_READ, local, (size_t)ln, err) != TDM_OK ||
	    tdm_access(vh, user, TDM_RES_TOPIC, TDM_PERM_WRITE, local, (size_t)ln, err) != TDM_OK)
		return err->status;
	sp->topic = t;
	sp->topic_len = tlen;
	sp->own_topic = 0;
	return TDM_OK;
}

/* The properties stream and quorum queues refuse, in RabbitMQ's order. */
static int refuse_property(int durable, int exclusive, int auto_delete, const char *queue,
			   const char *vhost, struct tdm_err *err)
{
	const char *prop = auto_delete ? "auto-delete"
			   : exclusive ? "exclusive-owner"
			   : !durable  ? "non-durable"
				       : NULL;
	if (prop)
		return tdm_err_set(err, TDM_E_INVALID, "invalid property '%s' for queue '%s' in vhost '%s'",
				   prop, queue, vhost);
	return TDM_OK;
}


int tdm_qargs_stream(struct tdm_vhost *vh, const char *user, const char *queue, size_t queue_len,
		     int durable, int exclusive, int auto_delete, const uint8_t *args, size_t len,
		     struct tdm_queue_settings *qa, struct tdm_stream_spec *sp, struct tdm_err *err)
{
	const char *vhost = vh->name;
	struct am_bytes t = { args ? args : (const uint8_t *)"", (uint32_t)len };
	struct am_value v;
	int rc;
	tdm_queue_settings_init(qa);
	tdm_stream_spec_init(sp);
	qa->stream = sp;
	if (!vh->broker->topics)
		return tdm_err_set(err, TDM_E_NOT_IMPLEMENTED, "stream queues need the log store");
	if (queue_len == 0)
		return tdm_err_set(err, TDM_E_INVALID,
				   "Cannot declare a server-named queue for type rabbit_stream_queue");
	if ((rc = tdm_qarg_nonneg(t.ptr, len, "x-max-length-bytes", &sp->max_bytes, queue, vhost,
				  err)) != TDM_OK ||
	    (rc = tdm_qarg_nonneg(t.ptr, len, "x-stream-max-segment-size-bytes", &sp->segment_bytes,
				  queue, vhost, err)) != TDM_OK)
		return rc;
	int64_t size = 0;
	if ((rc = tdm_qarg_nonneg(t.ptr, len, "x-initial-cluster-size", &size, queue, vhost,
				  err)) != TDM_OK)
		return rc;
	sp->cluster_size = size > 64 ? 64 : (int32_t)size;
	if (am_table_get(t, "x-max-age", &v)) {
		if (v.type != 'S') {
			char why[80];
			snprintf(why, sizeof(why), "{unacceptable_type,%s}", am_type_word(v.type));
			return tdm_qarg_invalid(err, "x-max-age", queue, vhost, why);
		}
		if (tdm_qargs_parse_age((const char *)v.v.bytes.ptr, v.v.bytes.len, &sp->max_age_ms) < 0)
			return tdm_qarg_invalid(err, "x-max-age", queue, vhost, "invalid_max_age");
	}
	for (size_t i = 0; refused_args[i]; i++)
		if (am_table_get(t, refused_args[i], &v))
			return tdm_err_set(err, TDM_E_INVALID,
					   "invalid arg '%s' for queue '%s' in vhost '%s' of queue type "
					   "rabbit_stream_queue",
					   refused_args[i], queue, vhost);
	if ((rc = bridge_args(vh, user, t, sp, queue, err)) != TDM_OK)
		return rc;
	if (queue_len >= 4 && memcmp(queue, "amq.", 4) == 0)
		return TDM_OK; /* the core refuses the reserved name (403), as RabbitMQ does first */
	return refuse_property(durable, exclusive, auto_delete, queue, vhost, err);
}

/* ---- quorum queues -------------------------------------------------------- */

/* Queue arguments of other queue types that a quorum queue refuses:
 * RabbitMQ 3.10's rabbit_queue_type:arguments(queue_arguments) less
 * rabbit_quorum_queue's capabilities. */
static const char *const quorum_refused[] = {
	"x-max-priority", "x-queue-mode", "x-queue-version", "x-queue-master-locator",
	"x-max-age", "x-stream-max-segment-size-bytes", "x-initial-cluster-size", NULL,
};

enum quorum_kind { QK_EXPIRES, QK_TTL, QK_DLRK, QK_NONNEG, QK_GROUP, QK_BOOL, QK_ONE_OF };

/* A quorum queue's argument value checks, in rabbit_amqqueue's
 * declare_args order (the first failing one answers). */
static const struct quorum_check {
	const char *key;
	enum quorum_kind kind;
	const char *const *names; /* QK_ONE_OF: the values allowed, NULL-terminated */
	const char *bad;          /* QK_ONE_OF: the answer to another value */
} quorum_checks[] = {
	{ "x-expires", QK_EXPIRES, NULL, NULL },
	{ "x-message-ttl", QK_TTL, NULL, NULL },
	{ "x-dead-letter-routing-key", QK_DLRK, NULL, NULL },
	{ "x-dead-letter-strategy", QK_ONE_OF,
	  (const char *const[]){ "at-most-once", "at-least-once", NULL }, "invalid_dlx_strategy" },
	{ "x-max-length", QK_NONNEG, NULL, NULL },
	{ "x-max-length-bytes", QK_NONNEG, NULL, NULL },
	{ "x-max-in-memory-length", QK_NONNEG, NULL, NULL },
	{ "x-max-in-memory-bytes", QK_NONNEG, NULL, NULL },
	{ "x-overflow", QK_ONE_OF,
	  (const char *const[]){ "drop-head", "reject-publish", "reject-publish-dlx", NULL },
	  "invalid_overflow" },
	{ "x-single-active-consumer", QK_BOOL, NULL, NULL },
	{ "x-quorum-initial-group-size", QK_GROUP, NULL, NULL },
	{ "x-queue-leader-locator", QK_ONE_OF,
	  (const char *const[]){ "client-local", "balanced", "random", "least-leaders", NULL },
	  "invalid_queue_locator_arg" },
};

static size_t count_names(const char *const *names)
{
	size_t n = 0;
	while (names[n])
		n++;
	return n;
}

/* One check of quorum_checks on table t: TDM_OK or TDM_E_INVALID. */
static int quorum_value(struct am_bytes t, const struct quorum_check *k, const char *queue,
			const char *vhost, struct tdm_err *err)
{
	struct am_value v, dlx;
	int64_t n = -1;
	char why[64];
	if (k->kind == QK_EXPIRES || k->kind == QK_TTL) {
		if (ttl_arg(t.ptr, t.len, k->key, &n, queue, vhost, err) != TDM_OK)
			return TDM_E_INVALID;
		return k->kind == QK_EXPIRES && n == 0
			       ? tdm_qarg_invalid(err, k->key, queue, vhost, "{value_zero,0}")
			       : TDM_OK;
	}
	if (k->kind == QK_NONNEG || k->kind == QK_GROUP) {
		if (tdm_qarg_nonneg(t.ptr, t.len, k->key, &n, queue, vhost, err) != TDM_OK)
			return TDM_E_INVALID;
		return k->kind == QK_GROUP && n == 0
			       ? tdm_qarg_invalid(err, k->key, queue, vhost, "{value_zero,0}")
			       : TDM_OK;
	}
	if (!am_table_get(t, k->key, &v))
		return TDM_OK;
	if (v.type != (k->kind == QK_BOOL ? 't' : 'S')) {
		snprintf(why, sizeof(why), "{unacceptable_type,%s}", am_type_word(v.type));
		return tdm_qarg_invalid(err, k->key, queue, vhost, why);
	}
	if (k->kind == QK_DLRK && !am_table_get(t, "x-dead-letter-exchange", &dlx))
		return tdm_qarg_invalid(err, k->key, queue, vhost, "routing_key_but_no_dlx_defined");
	if (k->kind == QK_ONE_OF && one_of(v.v.bytes, k->names, count_names(k->names)) < 0)
		return tdm_qarg_invalid(err, k->key, queue, vhost, k->bad);
	return TDM_OK;
}

/* The first argument of t, in the table's order, that quorum queues refuse. */
static int quorum_refused_arg(struct am_bytes t, const char *queue, const char *vhost,
			      struct tdm_err *err)
{
	struct am_table_iter it;
	struct am_bytes key;
	struct am_value v;
	am_table_iter_init(&it, t);
	while (am_table_next(&it, &key, &v))
		for (size_t i = 0; quorum_refused[i]; i++)
			if (bytes_is(key, quorum_refused[i]))
				return tdm_err_set(err, TDM_E_INVALID,
						   "invalid arg '%s' for queue '%s' in vhost '%s' of "
						   "queue type rabbit_quorum_queue",
						   quorum_refused[i], queue, vhost);
	return TDM_OK;
}

int tdm_qargs_quorum(const char *queue, size_t queue_len, const char *vhost, int durable,
		     int exclusive, int auto_delete, const uint8_t *args, size_t len,
		     struct tdm_err *err)
{
	struct am_bytes t = { args ? args : (const uint8_t *)"", (uint32_t)len };
	struct am_value v;
	int rc;
	if (!am_table_get(t, "x-queue-type", &v) || v.type != 'S' || !bytes_is(v.v.bytes, "quorum"))
		return TDM_OK;
	/* rabbit_channel, before the queue type looks at anything */
	if (queue_len == 0)
		return tdm_err_set(err, TDM_E_INVALID,
				   "Cannot declare a server-named queue for type rabbit_quorum_queue");
	if ((rc = tdm_queue_name_reserved(queue, queue_len, err)) != TDM_OK)
		return rc;
	struct am_bytes dlx;
	if ((rc = string_arg(t, "x-dead-letter-exchange", &dlx, queue, vhost, err)) < 0)
		return rc;
	/* rabbit_amqqueue: values, then arguments of other types */
	for (size_t i = 0; i < sizeof(quorum_checks) / sizeof(quorum_checks[0]); i++)
		if ((rc = quorum_value(t, &quorum_checks[i], queue, vhost, err)) != TDM_OK)
			return rc;
	if ((rc = quorum_refused_arg(t, queue, vhost, err)) != TDM_OK)
		return rc;
	/* rabbit_quorum_queue:declare */
	return refuse_property(durable, exclusive, auto_delete, queue, vhost, err);
}
