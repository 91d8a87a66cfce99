/*
 * Queue declaration arguments (x-max-length, x-message-ttl, x-overflow,
 * x-dead-letter-*, ...; a stream queue's retention and bridge arguments)
 * validated once for every front end, with RabbitMQ
 * 3.10's rules and error texts, so that a queue refused over AMQP is
 * refused over the management API with the same words.
 *
 * Arguments come as the AMQP field table core stores with the queue (its
 * entries, without the 4-byte length): the AMQP front end passes the
 * method's table, the HTTP API the table it built from JSON (integers as
 * 'l', strings as 'S', as RabbitMQ's management plugin does).  Tables are
 * read with the neutral codec library (src/amqp/codec.h: bytes in, bytes
 * out, no broker state).
 *
 * Must not depend on: libevent, protocol front ends.
 */
#ifndef TANDEM_CORE_QARGS_H
#define TANDEM_CORE_QARGS_H

#include <stddef.h>
#include <stdint.h>

struct tdm_err;
struct tdm_queue_settings;
struct tdm_stream_spec;
struct tdm_vhost;

/*
 * Reads the arguments of a new classic queue `queue` in `vhost` into qs
 * (initialised here; dlx/dlrk borrow from args).  TDM_OK, or TDM_E_INVALID
 * with RabbitMQ's text ("invalid arg 'x-max-length' for queue 'q' in vhost
 * '/': {value_negative,-1}").  args may be NULL when len is 0.
 */
int tdm_qargs_parse(const uint8_t *args, size_t len, const char *queue, const char *vhost,
		    struct tdm_queue_settings *qs, struct tdm_err *err);
/*
 * A non-negative integer argument `key`: TDM_OK when absent (*out
 * untouched) or valid (*out set), else TDM_E_INVALID with RabbitMQ's text
 * for another type ("expected integer, got longstr") or a negative value.
 */
int tdm_qarg_nonneg(const uint8_t *args, size_t len, const char *key, int64_t *out,
		    const char *queue, const char *vhost, struct tdm_err *err);
/* 1 when args ask for a stream queue (x-queue-type "stream"). */
int tdm_qargs_is_stream(const uint8_t *args, size_t len);
/*
 * Checks a new stream queue's declaration as RabbitMQ 3.10 does (a name is
 * required; retention argument values; the arguments streams refuse;
 * tandem's bridge arguments x-log-topic, x-partition-key, x-log-partitions,
 * the topic one of vh that `user` may read and write (core/access.h); durable, not exclusive,
 * not auto-delete) and fills qa and sp (sp borrows from args; qa->stream =
 * sp).  queue is the name as shown in texts, queue_len its real length.
 * TDM_OK, TDM_E_INVALID, TDM_E_ACCESS or TDM_E_NOT_IMPLEMENTED (no log
 * store), with RabbitMQ's text.
 */
int tdm_qargs_stream(struct tdm_vhost *vh, const char *user, const char *queue, size_t queue_len,
		     int durable, int exclusive, int auto_delete, const uint8_t *args, size_t len,
		     struct tdm_queue_settings *qa, struct tdm_stream_spec *sp, struct tdm_err *err);
/*
 * Checks a new queue's declaration with x-queue-type "quorum" as RabbitMQ
 * 3.10 does, in its order: a name is required (rabbit_channel), a reserved
 * name is refused, then x-dead-letter-exchange's type, the values of the
 * arguments quorum queues take (rabbit_amqqueue's declare_args order), the
 * first argument of another queue type in the table's order (x-max-priority,
 * x-queue-mode, ...: "... of queue type rabbit_quorum_queue"), and last the
 * properties (auto-delete, exclusive-owner, non-durable).  queue is the
 * name as shown in texts, queue_len its real length.  TDM_OK when args do
 * not ask for a quorum queue or pass every check (the type itself is not
 * built: tdm_qargs_parse then refuses it), else TDM_E_INVALID or
 * TDM_E_ACCESS with RabbitMQ's text.
 */
/* 1 when args (a field table) declare x-queue-type "quorum". */
int tdm_qargs_is_quorum(const uint8_t *args, size_t len);
int tdm_qargs_quorum(const char *queue, size_t queue_len, const char *vhost, int durable,
		     int exclusive, int auto_delete, const uint8_t *args, size_t len,
		     struct tdm_err *err);
/* RabbitMQ's durations ("7D", "12h", "30m", "10s", "1Y", "1M"; x-max-age,
 * x-stream-offset) in ms: 0, or -1 when s[0..len) is not one. */
int tdm_qargs_parse_age(const char *s, size_t len, int64_t *ms);
/* Sets TDM_E_INVALID "invalid arg '<key>' for queue '<queue>' in vhost
 * '<vhost>': <why>" and returns it. */
int tdm_qarg_invalid(struct tdm_err *err, const char *key, const char *queue, const char *vhost,
		     const char *why);

#endif
