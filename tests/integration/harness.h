/* Integration test harness: one broker per test program, rabbitmq-c helpers,
 * raw-socket helpers.
 *
 * The broker is either a tandemd this harness starts (fresh temp data dir,
 * ephemeral loopback port, stopped by PID at exit) or, when the environment
 * names one with TANDEM_TEST_BROKER=host:port, an external broker such as the
 * private RabbitMQ 3.10 node of tests/rabbitmq/ that proves every expectation.
 * Tests therefore assert only what RabbitMQ really does, and nothing specific
 * to one broker's product name or version.
 *
 * Every wait here is bounded. Helpers that fail call ck_abort_msg (the test
 * fails, the next one runs in a fresh fork).
 *
 * Depends on: Check, rabbitmq-c 0.11, POSIX. Nothing from src/.
 */
#ifndef TANDEM_TESTS_INTEGRATION_HARNESS_H
#define TANDEM_TESTS_INTEGRATION_HARNESS_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

/* Default per-test timeout (seconds); Check's CK_TIMEOUT_MULTIPLIER scales it. */
#define TH_TEST_TIMEOUT 30

/* Reply codes of AMQP 0-9-1 (amqp_framing.h has most as AMQP_*; named here
 * once so assertions read like the spec). */
enum {
	TH_REPLY_SUCCESS = 200,
	TH_CONTENT_TOO_LARGE = 311,
	TH_NO_ROUTE = 312,
	TH_NO_CONSUMERS = 313,
	TH_CONNECTION_FORCED = 320,
	TH_INVALID_PATH = 402,
	TH_ACCESS_REFUSED = 403,
	TH_NOT_FOUND = 404,
	TH_RESOURCE_LOCKED = 405,
	TH_PRECONDITION_FAILED = 406,
	TH_FRAME_ERROR = 501,
	TH_SYNTAX_ERROR = 502,
	TH_COMMAND_INVALID = 503,
	TH_CHANNEL_ERROR = 504,
	TH_UNEXPECTED_FRAME = 505,
	TH_RESOURCE_ERROR = 506,
	TH_NOT_ALLOWED = 530,
	TH_NOT_IMPLEMENTED = 540,
	TH_INTERNAL_ERROR = 541,
};

/* ---- broker lifecycle ---------------------------------------------------- */

/* Start (or locate) the broker for this test program. Call once from main()
 * before running suites; forked test processes inherit it. Aborts the
 * program when no broker can be started. */
void th_start(void);

/* Stop a broker this program started (SIGTERM, bounded wait, SIGKILL) and
 * remove its data dir. Returns 0 if it exited cleanly (status 0) or was
 * external, 1 otherwise (e.g. a valgrind wrapper reported errors). */
int th_stop(void);

/* Run the suite with CK_FORK (unless CK_FORK says otherwise), the broker
 * around it; returns the process exit status for main(). TCases made with
 * tp_tcase() (parallel.h) run side by side, each in a process of its own,
 * except against TANDEM_TEST_BROKER (one after the other there). */
int th_run_suite(Suite *s);

/* A TCase with the harness timeout applied. */
TCase *th_tcase(const char *name);

const char *th_host(void);
int th_port(void);
/* 1 when running against TANDEM_TEST_BROKER (not a harness-started tandemd). */
int th_external(void);
/* PID of the tandemd the harness started (0 when external). */
long th_broker_pid(void);

/* ---- brokers a test may stop, kill and restart ---------------------------- */
/* For programs whose tests stop, kill -9 or restart the broker, or need
 * tandemd flags. Each such test calls th_start_with_args() first and so gets
 * a tandemd of its own (fresh data dir, new ephemeral port) that it may then
 * kill and restart; the program's broker goes on serving other tests.
 *
 * Against TANDEM_TEST_BROKER the test uses the external broker as it is, and
 * stopping and restarting it needs two shell commands in the environment:
 *   TANDEM_TEST_BROKER_STOP   e.g. "rabbitmqctl -n NODE stop_app"
 *   TANDEM_TEST_BROKER_START  e.g. "rabbitmqctl -n NODE start_app"
 * An external broker cannot be killed: th_broker_kill9() runs the stop
 * command (a clean stop), so what such a run proves is what survives a
 * restart. */

/* th_start(), plus a scratch directory (removed at exit by this process)
 * that holds the data dirs of the brokers tests start with
 * th_start_with_args(), so that a test that fails or times out leaves
 * nothing behind. Call once from main() instead of th_start(). */
void th_start_private(void);

/* 1 when tests can stop and restart the broker: a tandemd the harness
 * starts, or an external broker with both commands above. A program that
 * needs restarts prints "SKIP: ..." and returns 77 when this is 0. */
int th_can_restart(void);

/* Start a tandemd for the calling process with extra command-line arguments
 * (NULL-terminated list, may be NULL), kept for every th_broker_restart().
 * - From a forked test: a broker of the test's own (see above); it replaces
 *   the program's broker in this process only (th_host, th_port,
 *   th_broker_pid, th_data_dir name it) and is stopped when the test
 *   process exits (or killed with it on a timeout).
 * - From main() before th_start(): the program's broker, with the args.
 * - Against TANDEM_TEST_BROKER: does nothing (the args are not applied).
 * Fails the test (or exits 99 from main) when tandemd does not accept
 * connections within the start timeout (TANDEM_TEST_START_TIMEOUT_MS). */
void th_start_with_args(const char *const *extra);

/* SIGKILL the tandemd this process started and reap it (bounded). The data
 * dir and port are kept for th_broker_restart(). Connections to it are
 * dead; free them with th_destroy(). Fails the test on error. */
void th_broker_kill9(void);

/* SIGTERM the tandemd this process started and wait (bounded: 10 s, 60 s
 * with TANDEMD_WRAPPER); SIGKILL when it does not exit. Data dir and port
 * are kept. Returns its wait status (0 = exited with status 0), or -1 when
 * it had to be killed. */
int th_broker_stop(void);

/* Start tandemd again on the same port with the same data dir and args
 * (stopping it first if it still runs); wait (bounded) until it accepts
 * connections. Fails the test when it does not. */
void th_broker_restart(void);
/* The same with other extra args (NULL-terminated, may be NULL), which are
 * then kept for later restarts. */
void th_broker_restart_with_args(const char *const *extra);

/* Data dir of the tandemd the harness started for this process; NULL when
 * the broker is external. */
const char *th_data_dir(void);

/* Resident set size of the broker process in KiB (from /proc), -1 when
 * unknown (external broker, not running). */
long th_broker_rss_kb(void);

/* ---- names and time ------------------------------------------------------ */

/* Fills buf with "<prefix>-<pid>-<n>-<random>": unique per call and per run. */
const char *th_name(char *buf, size_t len, const char *prefix);
uint64_t th_now_ms(void);
void th_sleep_ms(unsigned ms);

/* ---- rabbitmq-c helpers --------------------------------------------------- */

struct th_login {
	const char *vhost;    /* default "/" */
	const char *user;     /* default "guest" */
	const char *password; /* default "guest" */
	int channel_max;      /* 0 = rabbitmq-c default (AMQP_DEFAULT_MAX_CHANNELS) */
	int frame_max;        /* 0 = AMQP_DEFAULT_FRAME_SIZE */
	int heartbeat;        /* seconds, 0 = none */
	int no_cancel_notify; /* 1 = do not advertise consumer_cancel_notify */
};

/* Open a TCP connection (not logged in). Fails the test on error. */
amqp_connection_state_t th_socket(void);

/* Connect and log in with the options given (NULL = defaults). The login
 * reply is stored in *reply when non-NULL; on failure the connection is
 * returned anyway so the caller can inspect it (destroy with th_destroy). */
amqp_connection_state_t th_connect_opts(const struct th_login *opt, amqp_rpc_reply_t *reply);

/* Connect as guest to "/" and fail the test unless login succeeds. The
 * client advertises the capabilities RabbitMQ clients usually do
 * (consumer_cancel_notify, authentication_failure_close, ...). */
amqp_connection_state_t th_connect(void);

/* Close politely (connection.close / close-ok, bounded) and free. */
void th_close(amqp_connection_state_t c);
/* Free without a protocol close (after the server closed the connection). */
void th_destroy(amqp_connection_state_t c);

/* channel.open; fails the test unless channel.open-ok arrives. */
void th_channel(amqp_connection_state_t c, amqp_channel_t ch);
/* channel.close; fails the test unless close-ok arrives. */
void th_channel_close(amqp_connection_state_t c, amqp_channel_t ch);

/* Fails the test unless r is a normal reply. `what` names the call. */
void th_ok(amqp_rpc_reply_t r, const char *what);
/* Shorthand: th_ok(amqp_get_rpc_reply(c), what). */
void th_ok_last(amqp_connection_state_t c, const char *what);

/* Assert that r is the server closing channel ch with reply code `code`,
 * then answer channel.close-ok. Returns nothing; fails the test otherwise. */
void th_expect_channel_close(amqp_connection_state_t c, amqp_channel_t ch, amqp_rpc_reply_t r, int code);
/* Assert that r is the server closing the connection with `code`; answers
 * connection.close-ok. The connection must then only be destroyed. */
void th_expect_connection_close(amqp_connection_state_t c, amqp_rpc_reply_t r, int code);
/* Text of the last close seen by the two functions above (for messages). */
const char *th_last_close_text(void);

/* Wait (bounded, ms) for the next frame; returns 1 and fills *f, or 0 on
 * timeout. Heartbeats are handled inside rabbitmq-c. Fails on socket error. */
int th_wait_frame(amqp_connection_state_t c, amqp_frame_t *f, int timeout_ms);

/* Wait (bounded) for a method on channel ch; frames of other kinds on other
 * channels are skipped. When the server closes the channel or the
 * connection instead, *out gets that method and 0 is returned; 1 when `id`
 * arrived; -1 on timeout. */
int th_wait_method(amqp_connection_state_t c, amqp_channel_t ch, amqp_method_number_t id, amqp_method_t *out,
		   int timeout_ms);

/* Send a synchronous no-op on channel ch (basic.qos with unchanged prefetch
 * is not a no-op, so this uses a passive declare of amq.direct) to flush out
 * an asynchronous error. Returns its reply. */
amqp_rpc_reply_t th_sync(amqp_connection_state_t c, amqp_channel_t ch);

/* queue.declare; fails the test on error. name may be "" for server-named;
 * the actual name is copied into out (if non-NULL). Returns message_count. */
uint32_t th_queue(amqp_connection_state_t c, amqp_channel_t ch, const char *name, int durable, int exclusive,
		  int auto_delete, char *out, size_t outlen);
/* passive queue.declare; returns the reply; message and consumer counts through the pointers. */
amqp_rpc_reply_t th_queue_passive(amqp_connection_state_t c, amqp_channel_t ch, const char *name,
				  uint32_t *messages, uint32_t *consumers);
/* Poll passive declare (bounded, timeout_ms) until the queue's ready
 * message count equals `expected`; returns the last count seen. RabbitMQ's
 * counts trail publishes (declare-ok right after basic.publish on the same
 * channel may still say 0), so assertions on counts go through this. */
uint32_t th_wait_count(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, uint32_t expected,
		       int timeout_ms);
void th_exchange(amqp_connection_state_t c, amqp_channel_t ch, const char *name, const char *type);
void th_bind(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, const char *exchange,
	     const char *key, amqp_table_t args);

/* basic.publish of a text body with delivery_mode 1; fails on send error. */
void th_publish(amqp_connection_state_t c, amqp_channel_t ch, const char *exchange, const char *key,
		const char *body);
void th_publish_props(amqp_connection_state_t c, amqp_channel_t ch, const char *exchange, const char *key,
		      int mandatory, const amqp_basic_properties_t *props, amqp_bytes_t body);

/* basic.consume; returns the consumer tag in tag (may be given as "" for a
 * server-generated one). Fails on error. */
void th_consume(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, const char *tag, int no_ack,
		int exclusive, char *tag_out, size_t taglen);

/* Wait (bounded) for one delivery. Returns 1 and fills env (destroy with
 * amqp_destroy_envelope), 0 on timeout. Any other frame fails the test. */
int th_next_delivery(amqp_connection_state_t c, amqp_envelope_t *env, int timeout_ms);

/* basic.get. Returns 1 and fills msg (destroy with amqp_destroy_message),
 * delivery tag / redelivered / message count through the out pointers
 * (each may be NULL); 0 for get-empty. Fails the test on error. */
int th_get(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, int no_ack, amqp_message_t *msg,
	   uint64_t *tag, int *redelivered, uint32_t *message_count);

/* th_get, retried (bounded, timeout_ms) while the queue answers get-empty:
 * for messages published on another channel or connection, whose arrival
 * is not ordered with this channel's methods. Returns 1 or 0 on timeout. */
int th_get_wait(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, int no_ack, amqp_message_t *msg,
		uint64_t *tag, int *redelivered, uint32_t *message_count, int timeout_ms);

/* Assert that nothing is waiting in `queue` and nothing published earlier on
 * this channel is still on its way there: publishes a marker through the
 * default exchange and requires it to be the next message got. (Messages
 * from one channel reach a queue in order, so this needs no sleeps.) */
void th_assert_drained(amqp_connection_state_t c, amqp_channel_t ch, const char *queue);

/* Body of a message as a NUL-terminated copy in buf (truncated to len-1). */
const char *th_body(const amqp_bytes_t *b, char *buf, size_t len);
int th_bytes_eq(amqp_bytes_t b, const char *s);

/* ---- raw sockets ---------------------------------------------------------- */

/* TCP connection to the broker with a receive timeout; fails on error. */
int th_raw_connect(void);
/* Send all of buf. Returns 0, or -1 if the peer has already closed the
 * connection (EPIPE / ECONNRESET: a broker may drop a misbehaving client at
 * any point; the test then sees EOF on its next read). Other errors fail. */
int th_raw_send(int fd, const void *buf, size_t len);
/* Read exactly len bytes within timeout_ms. Returns len, or the number read
 * before EOF (0..len-1), or -1 on timeout. */
long th_raw_read(int fd, void *buf, size_t len, int timeout_ms);
/* Wait until the peer closes (read returns 0 or ECONNRESET), discarding
 * anything received. Returns 1 if closed within timeout_ms, 0 otherwise. */
int th_raw_wait_closed(int fd, int timeout_ms);

struct th_raw_frame {
	uint8_t type;
	uint16_t channel;
	uint32_t size;
	uint8_t *payload; /* owned; size bytes; NULL for size 0 */
	uint8_t end;      /* frame-end octet as received */
};

/* Read one frame (bounded). Returns 1 on success, 0 on EOF, -1 on timeout. */
int th_raw_read_frame(int fd, struct th_raw_frame *f, int timeout_ms);
void th_raw_frame_free(struct th_raw_frame *f);
/* Build and send a frame with a correct frame-end octet (as th_raw_send). */
int th_raw_send_frame(int fd, uint8_t type, uint16_t channel, const void *payload, uint32_t size);

/* Method payload helpers: class id / method id of a method frame payload. */
uint16_t th_raw_class(const struct th_raw_frame *f);
uint16_t th_raw_method(const struct th_raw_frame *f);

/* Do the client side of the handshake over a raw socket (PLAIN guest/guest,
 * tune-ok with the given values, connection.open "/"), optionally open
 * channel 1. Returns the socket. Server's tune values through the pointers
 * (may be NULL). heartbeat is what the client sends in tune-ok. */
int th_raw_handshake(uint16_t channel_max, uint32_t frame_max, uint16_t heartbeat, int open_channel1,
		     uint16_t *srv_channel_max, uint32_t *srv_frame_max, uint16_t *srv_heartbeat);

/* Read frames (skipping heartbeats) until a connection.close arrives, the
 * socket closes, or timeout. Returns the reply code of the close (and copies
 * its class/method ids), 0 if the socket closed without one, -1 on timeout.
 * Sends connection.close-ok when a close arrived. */
int th_raw_expect_connection_close(int fd, int timeout_ms, uint16_t *class_id, uint16_t *method_id,
				   char *text, size_t textlen);

/* Check that the broker still serves a fresh connection (declare + publish +
 * get on a new queue). Fails the test otherwise. */
void th_assert_broker_alive(void);

/* Find key in an encoded field table (the bytes after the 4-byte length).
 * Returns 1 and the value's type octet and bytes (for S/x/F/A: the bytes
 * after the length prefix), 0 if absent, -1 if the table is malformed. */
int th_raw_table_find(const uint8_t *table, uint32_t len, const char *key, uint8_t *type, const uint8_t **val,
		      uint32_t *vlen);

/* Simple byte writer for raw frames. */
struct th_buf {
	uint8_t data[65536];
	size_t len;
};
void th_put8(struct th_buf *b, uint8_t v);
void th_put16(struct th_buf *b, uint16_t v);
void th_put32(struct th_buf *b, uint32_t v);
void th_put64(struct th_buf *b, uint64_t v);
void th_put_shortstr(struct th_buf *b, const char *s);
void th_put_longstr(struct th_buf *b, const void *s, uint32_t len);
void th_put_bytes(struct th_buf *b, const void *s, size_t len);

#endif
