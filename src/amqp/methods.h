/*
 * The AMQP 0-9-1 method table: every method of classes connection, channel,
 * access, exchange, queue, basic, confirm and tx (with RabbitMQ's
 * extensions), described once.  From AM_METHOD_TABLE this header generates
 * enum am_method_id, one struct per method and union am_method_args;
 * codec.c expands the same table into the field descriptors its single
 * interpreter walks.  Included by codec.h (needs struct am_bytes and AM_ID);
 * do not include it directly.
 *
 * Must not depend on anything but <stdint.h>: it is pure description.
 */
#ifndef TANDEM_AMQP_METHODS_H
#define TANDEM_AMQP_METHODS_H

#include <stdint.h>

/*
 * Method flags (the 5th column of the table).
 * AM_MF_CONTENT: a content header and body frames follow the method.
 * AM_MF_SYNC:    a synchronous request: the peer answers with the method
 *                flagged AM_MF_RESP (unless the request's no_wait is set).
 * AM_MF_RESP:    the answer to a synchronous request.
 * AM_MF_CLIENT:  a client may send it (the server must handle it).
 * AM_MF_SERVER:  a server may send it.
 */
#define AM_MF_CONTENT 0x01u
#define AM_MF_SYNC 0x02u
#define AM_MF_RESP 0x04u
#define AM_MF_CLIENT 0x08u
#define AM_MF_SERVER 0x10u
#define AM_MF_BOTH (AM_MF_CLIENT | AM_MF_SERVER)

/*
 * Field types and the C type each is decoded into.  BIT: 0 or 1, and
 * consecutive BIT fields share an octet on the wire, lowest bit first.
 * SHORTSTR, LONGSTR: borrowed bytes.  TABLE: the table's entries without
 * their 4-byte length prefix (the convention of every am_table_* call).
 * NONE marks a method without fields: its struct gets a placeholder member
 * `unused` that is not on the wire.
 */
#define AM_CTYPE_BIT uint8_t
#define AM_CTYPE_OCTET uint8_t
#define AM_CTYPE_SHORT uint16_t
#define AM_CTYPE_LONG uint32_t
#define AM_CTYPE_LONGLONG uint64_t
#define AM_CTYPE_SHORTSTR struct am_bytes
#define AM_CTYPE_LONGSTR struct am_bytes
#define AM_CTYPE_TABLE struct am_bytes
#define AM_CTYPE_NONE uint8_t

/*
 * M(class id, method id, NAME, name, "spec.name", flags, (TYPE, field)...)
 * Fields are in wire order with the spec's names ('-' -> '_', the spec's
 * reserved-N as reserved_N; RabbitMQ's nowait spelled no_wait throughout).
 */
/* clang-format off */
#define AM_METHOD_TABLE(M) \
	M(10, 10, CONNECTION_START, connection_start, "connection.start", AM_MF_SYNC | AM_MF_SERVER, \
	  (OCTET, version_major), (OCTET, version_minor), (TABLE, server_properties), \
	  (LONGSTR, mechanisms), (LONGSTR, locales)) \
	M(10, 11, CONNECTION_START_OK, connection_start_ok, "connection.start-ok", AM_MF_RESP | AM_MF_CLIENT, \
	  (TABLE, client_properties), (SHORTSTR, mechanism), (LONGSTR, response), (SHORTSTR, locale)) \
	M(10, 20, CONNECTION_SECURE, connection_secure, "connection.secure", AM_MF_SYNC | AM_MF_SERVER, \
	  (LONGSTR, challenge)) \
	M(10, 21, CONNECTION_SECURE_OK, connection_secure_ok, "connection.secure-ok", AM_MF_RESP | AM_MF_CLIENT, \
	  (LONGSTR, response)) \
	M(10, 30, CONNECTION_TUNE, connection_tune, "connection.tune", AM_MF_SYNC | AM_MF_SERVER, \
	  (SHORT, channel_max), (LONG, frame_max), (SHORT, heartbeat)) \
	M(10, 31, CONNECTION_TUNE_OK, connection_tune_ok, "connection.tune-ok", AM_MF_RESP | AM_MF_CLIENT, \
	  (SHORT, channel_max), (LONG, frame_max), (SHORT, heartbeat)) \
	M(10, 40, CONNECTION_OPEN, connection_open, "connection.open", AM_MF_SYNC | AM_MF_CLIENT, \
	  (SHORTSTR, virtual_host), (SHORTSTR, reserved_1), (BIT, reserved_2)) \
	M(10, 41, CONNECTION_OPEN_OK, connection_open_ok, "connection.open-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (SHORTSTR, reserved_1)) \
	M(10, 50, CONNECTION_CLOSE, connection_close, "connection.close", AM_MF_SYNC | AM_MF_BOTH, \
	  (SHORT, reply_code), (SHORTSTR, reply_text), (SHORT, class_id), (SHORT, method_id)) \
	M(10, 51, CONNECTION_CLOSE_OK, connection_close_ok, "connection.close-ok", AM_MF_RESP | AM_MF_BOTH, \
	  (NONE, unused)) \
	M(10, 60, CONNECTION_BLOCKED, connection_blocked, "connection.blocked", AM_MF_SERVER, \
	  (SHORTSTR, reason)) \
	M(10, 61, CONNECTION_UNBLOCKED, connection_unblocked, "connection.unblocked", AM_MF_SERVER, \
	  (NONE, unused)) \
	M(10, 70, CONNECTION_UPDATE_SECRET, connection_update_secret, "connection.update-secret", AM_MF_SYNC | AM_MF_CLIENT, \
	  (LONGSTR, new_secret), (SHORTSTR, reason)) \
	M(10, 71, CONNECTION_UPDATE_SECRET_OK, connection_update_secret_ok, "connection.update-secret-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (NONE, unused)) \
	M(20, 10, CHANNEL_OPEN, channel_open, "channel.open", AM_MF_SYNC | AM_MF_CLIENT, \
	  (SHORTSTR, reserved_1)) \
	M(20, 11, CHANNEL_OPEN_OK, channel_open_ok, "channel.open-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (LONGSTR, reserved_1)) \
	M(20, 20, CHANNEL_FLOW, channel_flow, "channel.flow", AM_MF_SYNC | AM_MF_BOTH, \
	  (BIT, active)) \
	M(20, 21, CHANNEL_FLOW_OK, channel_flow_ok, "channel.flow-ok", AM_MF_RESP | AM_MF_BOTH, \
	  (BIT, active)) \
	M(20, 40, CHANNEL_CLOSE, channel_close, "channel.close", AM_MF_SYNC | AM_MF_BOTH, \
	  (SHORT, reply_code), (SHORTSTR, reply_text), (SHORT, class_id), (SHORT, method_id)) \
	M(20, 41, CHANNEL_CLOSE_OK, channel_close_ok, "channel.close-ok", AM_MF_RESP | AM_MF_BOTH, \
	  (NONE, unused)) \
	M(30, 10, ACCESS_REQUEST, access_request, "access.request", AM_MF_SYNC | AM_MF_CLIENT, \
	  (SHORTSTR, realm), (BIT, exclusive), (BIT, passive), (BIT, active), (BIT, write), (BIT, read)) \
	M(30, 11, ACCESS_REQUEST_OK, access_request_ok, "access.request-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (SHORT, reserved_1)) \
	M(40, 10, EXCHANGE_DECLARE, exchange_declare, "exchange.declare", AM_MF_SYNC | AM_MF_CLIENT, \
	  (SHORT, reserved_1), (SHORTSTR, exchange), (SHORTSTR, type), (BIT, passive), (BIT, durable), \
	  (BIT, auto_delete), (BIT, internal), (BIT, no_wait), (TABLE, arguments)) \
	M(40, 11, EXCHANGE_DECLARE_OK, exchange_declare_ok, "exchange.declare-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (NONE, unused)) \
	M(40, 20, EXCHANGE_DELETE, exchange_delete, "exchange.delete", AM_MF_SYNC | AM_MF_CLIENT, \
	  (SHORT, reserved_1), (SHORTSTR, exchange), (BIT, if_unused), (BIT, no_wait)) \
	M(40, 21, EXCHANGE_DELETE_OK, exchange_delete_ok, "exchange.delete-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (NONE, unused)) \
	M(40, 30, EXCHANGE_BIND, exchange_bind, "exchange.bind", AM_MF_SYNC | AM_MF_CLIENT, \
	  (SHORT, reserved_1), (SHORTSTR, destination), (SHORTSTR, source), (SHORTSTR, routing_key), \
	  (BIT, no_wait), (TABLE, arguments)) \
	M(40, 31, EXCHANGE_BIND_OK, exchange_bind_ok, "exchange.bind-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (NONE, unused)) \
	M(40, 40, EXCHANGE_UNBIND, exchange_unbind, "exchange.unbind", AM_MF_SYNC | AM_MF_CLIENT, \
	  (SHORT, reserved_1), (SHORTSTR, destination), (SHORTSTR, source), (SHORTSTR, routing_key), \
	  (BIT, no_wait), (TABLE, arguments)) \
	M(40, 51, EXCHANGE_UNBIND_OK, exchange_unbind_ok, "exchange.unbind-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (NONE, unused)) \
	M(50, 10, QUEUE_DECLARE, queue_declare, "queue.declare", AM_MF_SYNC | AM_MF_CLIENT, \
	  (SHORT, reserved_1), (SHORTSTR, queue), (BIT, passive), (BIT, durable), (BIT, exclusive), \
	  (BIT, auto_delete), (BIT, no_wait), (TABLE, arguments)) \
	M(50, 11, QUEUE_DECLARE_OK, queue_declare_ok, "queue.declare-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (SHORTSTR, queue), (LONG, message_count), (LONG, consumer_count)) \
	M(50, 20, QUEUE_BIND, queue_bind, "queue.bind", AM_MF_SYNC | AM_MF_CLIENT, \
	  (SHORT, reserved_1), (SHORTSTR, queue), (SHORTSTR, exchange), (SHORTSTR, routing_key), \
	  (BIT, no_wait), (TABLE, arguments)) \
	M(50, 21, QUEUE_BIND_OK, queue_bind_ok, "queue.bind-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (NONE, unused)) \
	M(50, 30, QUEUE_PURGE, queue_purge, "queue.purge", AM_MF_SYNC | AM_MF_CLIENT, \
	  (SHORT, reserved_1), (SHORTSTR, queue), (BIT, no_wait)) \
	M(50, 31, QUEUE_PURGE_OK, queue_purge_ok, "queue.purge-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (LONG, message_count)) \
	M(50, 40, QUEUE_DELETE, queue_delete, "queue.delete", AM_MF_SYNC | AM_MF_CLIENT, \
	  (SHORT, reserved_1), (SHORTSTR, queue), (BIT, if_unused), (BIT, if_empty), (BIT, no_wait)) \
	M(50, 41, QUEUE_DELETE_OK, queue_delete_ok, "queue.delete-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (LONG, message_count)) \
	M(50, 50, QUEUE_UNBIND, queue_unbind, "queue.unbind", AM_MF_SYNC | AM_MF_CLIENT, \
	  (SHORT, reserved_1), (SHORTSTR, queue), (SHORTSTR, exchange), (SHORTSTR, routing_key), \
	  (TABLE, arguments)) \
	M(50, 51, QUEUE_UNBIND_OK, queue_unbind_ok, "queue.unbind-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (NONE, unused)) \
	M(60, 10, BASIC_QOS, basic_qos, "basic.qos", AM_MF_SYNC | AM_MF_CLIENT, \
	  (LONG, prefetch_size), (SHORT, prefetch_count), (BIT, global)) \
	M(60, 11, BASIC_QOS_OK, basic_qos_ok, "basic.qos-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (NONE, unused)) \
	M(60, 20, BASIC_CONSUME, basic_consume, "basic.consume", AM_MF_SYNC | AM_MF_CLIENT, \
	  (SHORT, reserved_1), (SHORTSTR, queue), (SHORTSTR, consumer_tag), (BIT, no_local), \
	  (BIT, no_ack), (BIT, exclusive), (BIT, no_wait), (TABLE, arguments)) \
	M(60, 21, BASIC_CONSUME_OK, basic_consume_ok, "basic.consume-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (SHORTSTR, consumer_tag)) \
	M(60, 30, BASIC_CANCEL, basic_cancel, "basic.cancel", AM_MF_SYNC | AM_MF_BOTH, \
	  (SHORTSTR, consumer_tag), (BIT, no_wait)) \
	M(60, 31, BASIC_CANCEL_OK, basic_cancel_ok, "basic.cancel-ok", AM_MF_RESP | AM_MF_BOTH, \
	  (SHORTSTR, consumer_tag)) \
	M(60, 40, BASIC_PUBLISH, basic_publish, "basic.publish", AM_MF_CONTENT | AM_MF_CLIENT, \
	  (SHORT, reserved_1), (SHORTSTR, exchange), (SHORTSTR, routing_key), (BIT, mandatory), \
	  (BIT, immediate)) \
	M(60, 50, BASIC_RETURN, basic_return, "basic.return", AM_MF_CONTENT | AM_MF_SERVER, \
	  (SHORT, reply_code), (SHORTSTR, reply_text), (SHORTSTR, exchange), (SHORTSTR, routing_key)) \
	M(60, 60, BASIC_DELIVER, basic_deliver, "basic.deliver", AM_MF_CONTENT | AM_MF_SERVER, \
	  (SHORTSTR, consumer_tag), (LONGLONG, delivery_tag), (BIT, redelivered), (SHORTSTR, exchange), \
	  (SHORTSTR, routing_key)) \
	M(60, 70, BASIC_GET, basic_get, "basic.get", AM_MF_SYNC | AM_MF_CLIENT, \
	  (SHORT, reserved_1), (SHORTSTR, queue), (BIT, no_ack)) \
	M(60, 71, BASIC_GET_OK, basic_get_ok, "basic.get-ok", AM_MF_CONTENT | AM_MF_RESP | AM_MF_SERVER, \
	  (LONGLONG, delivery_tag), (BIT, redelivered), (SHORTSTR, exchange), (SHORTSTR, routing_key), \
	  (LONG, message_count)) \
	M(60, 72, BASIC_GET_EMPTY, basic_get_empty, "basic.get-empty", AM_MF_RESP | AM_MF_SERVER, \
	  (SHORTSTR, reserved_1)) \
	M(60, 80, BASIC_ACK, basic_ack, "basic.ack", AM_MF_BOTH, \
	  (LONGLONG, delivery_tag), (BIT, multiple)) \
	M(60, 90, BASIC_REJECT, basic_reject, "basic.reject", AM_MF_CLIENT, \
	  (LONGLONG, delivery_tag), (BIT, requeue)) \
	M(60, 100, BASIC_RECOVER_ASYNC, basic_recover_async, "basic.recover-async", AM_MF_CLIENT, \
	  (BIT, requeue)) \
	M(60, 110, BASIC_RECOVER, basic_recover, "basic.recover", AM_MF_SYNC | AM_MF_CLIENT, \
	  (BIT, requeue)) \
	M(60, 111, BASIC_RECOVER_OK, basic_recover_ok, "basic.recover-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (NONE, unused)) \
	M(60, 120, BASIC_NACK, basic_nack, "basic.nack", AM_MF_BOTH, \
	  (LONGLONG, delivery_tag), (BIT, multiple), (BIT, requeue)) \
	M(85, 10, CONFIRM_SELECT, confirm_select, "confirm.select", AM_MF_SYNC | AM_MF_CLIENT, \
	  (BIT, no_wait)) \
	M(85, 11, CONFIRM_SELECT_OK, confirm_select_ok, "confirm.select-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (NONE, unused)) \
	M(90, 10, TX_SELECT, tx_select, "tx.select", AM_MF_SYNC | AM_MF_CLIENT, \
	  (NONE, unused)) \
	M(90, 11, TX_SELECT_OK, tx_select_ok, "tx.select-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (NONE, unused)) \
	M(90, 20, TX_COMMIT, tx_commit, "tx.commit", AM_MF_SYNC | AM_MF_CLIENT, \
	  (NONE, unused)) \
	M(90, 21, TX_COMMIT_OK, tx_commit_ok, "tx.commit-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (NONE, unused)) \
	M(90, 30, TX_ROLLBACK, tx_rollback, "tx.rollback", AM_MF_SYNC | AM_MF_CLIENT, \
	  (NONE, unused)) \
	M(90, 31, TX_ROLLBACK_OK, tx_rollback_ok, "tx.rollback-ok", AM_MF_RESP | AM_MF_SERVER, \
	  (NONE, unused))
/* clang-format on */

/*
 * AM_EACH(f, S, (T, n), ...) expands to f(S, T, n) for each field tuple;
 * S is the method's snake name so f can name struct am_<S>.  Up to 12 fields.
 */
#define AM_PP_CAT(a, b) AM_PP_CAT_(a, b)
#define AM_PP_CAT_(a, b) a##b
#define AM_PP_STRIP(...) __VA_ARGS__
#define AM_PP_CALL(f, args) f args
#define AM_PP_APPLY(f, S, x) AM_PP_CALL(f, (S, AM_PP_STRIP x))
#define AM_PP_NARGS(...) AM_PP_NARGS_(__VA_ARGS__, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0)
#define AM_PP_NARGS_(a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, n, ...) n
#define AM_EACH(f, S, ...) AM_PP_CAT(AM_PP_EACH_, AM_PP_NARGS(__VA_ARGS__))(f, S, __VA_ARGS__)
#define AM_PP_EACH_1(f, S, x) AM_PP_APPLY(f, S, x)
#define AM_PP_EACH_2(f, S, x, ...) AM_PP_APPLY(f, S, x) AM_PP_EACH_1(f, S, __VA_ARGS__)
#define AM_PP_EACH_3(f, S, x, ...) AM_PP_APPLY(f, S, x) AM_PP_EACH_2(f, S, __VA_ARGS__)
#define AM_PP_EACH_4(f, S, x, ...) AM_PP_APPLY(f, S, x) AM_PP_EACH_3(f, S, __VA_ARGS__)
#define AM_PP_EACH_5(f, S, x, ...) AM_PP_APPLY(f, S, x) AM_PP_EACH_4(f, S, __VA_ARGS__)
#define AM_PP_EACH_6(f, S, x, ...) AM_PP_APPLY(f, S, x) AM_PP_EACH_5(f, S, __VA_ARGS__)
#define AM_PP_EACH_7(f, S, x, ...) AM_PP_APPLY(f, S, x) AM_PP_EACH_6(f, S, __VA_ARGS__)
#define AM_PP_EACH_8(f, S, x, ...) AM_PP_APPLY(f, S, x) AM_PP_EACH_7(f, S, __VA_ARGS__)
#define AM_PP_EACH_9(f, S, x, ...) AM_PP_APPLY(f, S, x) AM_PP_EACH_8(f, S, __VA_ARGS__)
#define AM_PP_EACH_10(f, S, x, ...) AM_PP_APPLY(f, S, x) AM_PP_EACH_9(f, S, __VA_ARGS__)
#define AM_PP_EACH_11(f, S, x, ...) AM_PP_APPLY(f, S, x) AM_PP_EACH_10(f, S, __VA_ARGS__)
#define AM_PP_EACH_12(f, S, x, ...) AM_PP_APPLY(f, S, x) AM_PP_EACH_11(f, S, __VA_ARGS__)

/* enum am_method_id: AM_QUEUE_DECLARE = AM_ID(50, 10), ... */
#define AM_GEN_ENUM(cid, mid, UP, ...) AM_##UP = AM_ID(cid, mid),
enum am_method_id { AM_METHOD_TABLE(AM_GEN_ENUM) };
#undef AM_GEN_ENUM

/* Number of methods in the table. */
#define AM_GEN_COUNT(...) +1
enum { AM_METHOD_COUNT = 0 AM_METHOD_TABLE(AM_GEN_COUNT) };
#undef AM_GEN_COUNT

/* struct am_queue_declare { uint16_t reserved_1; struct am_bytes queue; ... } */
#define AM_GEN_MEMBER(S, T, n) AM_CTYPE_##T n;
#define AM_GEN_STRUCT(cid, mid, UP, lo, name, flags, ...) \
	struct am_##lo {                                   \
		AM_EACH(AM_GEN_MEMBER, lo, __VA_ARGS__)    \
	};
AM_METHOD_TABLE(AM_GEN_STRUCT)
#undef AM_GEN_STRUCT
#undef AM_GEN_MEMBER

/* union am_method_args { struct am_queue_declare queue_declare; ... } */
#define AM_GEN_UNION(cid, mid, UP, lo, ...) struct am_##lo lo;
union am_method_args {
	AM_METHOD_TABLE(AM_GEN_UNION)
};
#undef AM_GEN_UNION

/* The table's flags (AM_MF_*) of a method; 0 if the id is unknown. */
unsigned am_method_flags(uint32_t id);

#endif
