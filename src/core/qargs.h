/*
 * Queue declaration arguments (x-max-length, x-message-ttl, x-overflow,
 * x-dead-letter-*, ...) validated once for every front end, with RabbitMQ
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
/* Sets TDM_E_INVALID "invalid arg '<key>' for queue '<queue>' in vhost
 * '<vhost>': <why>" and returns it. */
int tdm_qarg_invalid(struct tdm_err *err, const char *key, const char *queue, const char *vhost,
		     const char *why);

#endif
