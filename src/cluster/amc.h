/*
 * An asynchronous AMQP 0-9-1 client for node-to-node use (issue 15): a
 * node forwards what its clients do on a classic queue that lives on
 * another node (publish, get, consume, ack, declare...) to that node over
 * AMQP.  It runs on the caller's libevent loop and never blocks; frames
 * are read and written with tandem's neutral codec (amqp/codec.h).
 *
 * Objects and lifetimes:
 *   - struct tdm_amc: one connection to a peer and one vhost, made by
 *     tdm_amc_new and released only by tdm_amc_free (also after it was
 *     lost: the handle stays valid, every request on it fails at once).
 *   - struct tdm_amc_chan: one channel of it, made by tdm_amc_channel and
 *     released only by tdm_amc_channel_close or tdm_amc_free (also after
 *     the peer closed it or the connection was lost).
 *   Both may be released from inside any callback of this library; memory
 *   is reclaimed once the library's own frames have unwound.
 *
 * Requests may be made at once: frames made before the connection is open
 * wait in order and are written after connection.open-ok (split for the
 * spec's minimum frame size, 4 KiB, as frame_max is not known yet); a
 * channel's frames follow its channel.open without waiting for open-ok
 * (the server handles a channel's frames in order).  An answer goes to the
 * oldest request it answers (RabbitMQ may send consume-ok and cancel-ok
 * after the answers to later requests).
 *
 * Callbacks: every callback given with a request is called exactly once,
 * later (never from inside the call that made the request), except
 * ack/nack/reject which have none:
 *   code 0             success (and the answer);
 *   code >= 200        the peer closed the channel with this AMQP reply
 *                      code (text is its reply-text);
 *   TDM_AMC_ERR_LOST   the connection was lost or closed (text says why);
 *   TDM_AMC_ERR_CLOSED the caller closed the channel or freed the
 *                      connection: called from inside
 *                      tdm_amc_channel_close / tdm_amc_free.
 * Texts are NUL-terminated and, like every pointer a callback is given,
 * valid only during the callback.  A request that cannot be made returns
 * a negative TDM_AMC_ERR_* at once and its callback is never called.
 *
 * The library does not log: the owner logs what lost() reports, once.
 *
 * Must not depend on: src/core, src/net, the front ends (only libevent and
 * the AMQP codec, amqp/codec.h).
 */
#ifndef TANDEM_CLUSTER_AMC_H
#define TANDEM_CLUSTER_AMC_H

#include <stddef.h>
#include <stdint.h>

#include "amqp/codec.h"

struct event_base;
struct tdm_amc;
struct tdm_amc_chan;

#define TDM_AMC_CONNECT_TIMEOUT_MS 10000   /* connected, logged in and vhost open */
#define TDM_AMC_FRAME_MAX (128u * 1024)     /* the most we accept in connection.tune */
#define TDM_AMC_CHANNEL_MAX 2047            /* the most channels we ask for */
#define TDM_AMC_BODY_MAX (512ull << 20)     /* a larger body from the peer fails the link */

/* Failure codes (negative: never an AMQP reply code). */
#define TDM_AMC_ERR_LOST (-1)   /* connection lost, closed, refused or timed out */
#define TDM_AMC_ERR_CLOSED (-2) /* the channel was closed or the connection freed by the caller */
#define TDM_AMC_ERR_NOMEM (-3)
#define TDM_AMC_ERR_INVAL (-4)  /* bad argument (a name over 255 bytes, a method not allowed
				 * here, a header that does not parse, a frame over frame_max) */
#define TDM_AMC_ERR_STATE (-5)  /* the channel or connection cannot take requests any more */

/* Publisher confirm outcomes (tdm_amc_publish's confirmed status). */
#define TDM_AMC_ACK 0
#define TDM_AMC_NACK 1

/* A delivery, get-ok or return, borrowed for the callback. */
struct tdm_amc_msg {
	uint64_t delivery_tag;  /* deliver, get-ok */
	uint8_t redelivered;    /* deliver, get-ok */
	uint32_t message_count; /* get-ok only */
	const char *consumer_tag; /* deliver only, else NULL */
	size_t consumer_tag_len;
	const char *exchange;
	size_t exchange_len;
	const char *routing_key;
	size_t routing_key_len;
	const uint8_t *header; /* the content-header payload as on the wire (class id, weight,
				* body size, property flags and list): what the broker stores */
	size_t header_len;
	const uint8_t *body;   /* contiguous */
	size_t body_len;
};

struct tdm_amc_config {
	const char *host;     /* numeric address, or a name resolved with evdns */
	int port;
	const char *user;
	const char *pass;     /* pass_len bytes (may hold NULs) */
	size_t pass_len;
	const char *vhost;
	unsigned heartbeat;   /* seconds we ask for (the smaller of this and the server's
			       * non-zero one); 0: none.  Server heartbeats are answered
			       * anyway. */
	const char *name;     /* connection_name client property, or NULL */
};

typedef void (*tdm_amc_up_fn)(void *arg);
/* code: the AMQP reply code of the server's connection.close (403 for a
 * refused login, 530 for a vhost not allowed, 320 for a server shutting
 * down...), else TDM_AMC_ERR_LOST (socket error or EOF, timeout, a frame
 * that does not parse, an unexpected method); why says which. */
typedef void (*tdm_amc_lost_fn)(void *arg, int code, const char *why);
typedef void (*tdm_amc_closed_fn)(void *arg, int code, const char *text);
typedef void (*tdm_amc_reply_fn)(void *arg, int code, const char *text,
				 const struct am_method *ok);
typedef void (*tdm_amc_confirm_fn)(void *arg, int status);
typedef void (*tdm_amc_deliver_fn)(void *arg, const struct tdm_amc_msg *m);
typedef void (*tdm_amc_cancelled_fn)(void *arg, int code, const char *text);
typedef void (*tdm_amc_consume_ok_fn)(void *arg, int code, const char *text, const char *ctag);
typedef void (*tdm_amc_got_fn)(void *arg, int code, const char *text,
			       const struct tdm_amc_msg *m);
typedef void (*tdm_amc_return_fn)(void *arg, int reply_code, const char *reply_text,
				  const struct tdm_amc_msg *m);

/*
 * Starts connecting to cfg->host:port (cfg's strings are copied): the
 * protocol header, PLAIN login, tune (frame_max and channel_max the
 * server's, capped at TDM_AMC_FRAME_MAX and TDM_AMC_CHANNEL_MAX), then
 * connection.open of cfg->vhost.  up(arg) runs once when the vhost is
 * open (never if it does not open); lost(arg, code, why) runs once when
 * the connection fails or ends (not open within TDM_AMC_CONNECT_TIMEOUT_MS
 * included), after which every channel's requests fail with
 * TDM_AMC_ERR_LOST.  lost may be NULL, up too.  NULL on allocation failure
 * or a bad config (no callback then).
 */
struct tdm_amc *tdm_amc_new(struct event_base *base, const struct tdm_amc_config *cfg,
			    tdm_amc_up_fn up, tdm_amc_lost_fn lost, void *arg);

/*
 * Releases c and its channels.  An open connection is closed politely
 * (connection.close 200, written without waiting for close-ok) and the
 * socket shut down at once (libevent closes the descriptor when the loop
 * next turns, or in event_base_free).  Pending
 * requests get TDM_AMC_ERR_CLOSED from inside this call; no channel closed
 * or consumer cancelled callback, no lost, and no callback at all after it
 * returns.  NULL is fine.
 */
void tdm_amc_free(struct tdm_amc *c);

/* 1 when c is open (up ran and lost did not), else 0. */
int tdm_amc_is_open(const struct tdm_amc *c);
/* Bytes written but not yet sent to the peer (for the owner's flow
 * control: stop forwarding above a watermark). */
size_t tdm_amc_output_size(const struct tdm_amc *c);

/*
 * A new channel on c (channel.open is sent at once, or when c opens).
 * closed(arg, code, text) runs once if the peer closes the channel
 * (code >= 200) or the connection is lost (TDM_AMC_ERR_LOST), after the
 * failure callbacks of the channel's requests and consumers; never after
 * tdm_amc_channel_close.  closed may be NULL.  NULL when c is lost or
 * freed, has no free channel number, or memory is short.
 */
struct tdm_amc_chan *tdm_amc_channel(struct tdm_amc *c, tdm_amc_closed_fn closed, void *arg);

/*
 * Releases ch: sends channel.close (200) when it is still open, fails its
 * pending requests and unconfirmed publishes with TDM_AMC_ERR_CLOSED (from
 * inside this call), and drops its consumers silently.  Its number is
 * reused once the peer's close-ok arrives.  ch must not be used after.
 */
void tdm_amc_channel_close(struct tdm_amc_chan *ch);

/* 1 when ch can take requests (not closed by the peer, connection not lost). */
int tdm_amc_chan_usable(const struct tdm_amc_chan *ch);

/*
 * Sets the callback for basic.return on ch (mandatory publishes that
 * found no queue); without one returns are dropped.
 */
void tdm_amc_on_return(struct tdm_amc_chan *ch, tdm_amc_return_fn returned, void *arg);

/*
 * Sends the synchronous method m on ch and calls reply(arg, 0, NULL, ok)
 * with the peer's answer (ok and what it points to valid during the call),
 * or a failure as above.  m must be a synchronous client method of class
 * exchange, queue, basic (qos, cancel, recover) or tx, with no_wait 0;
 * basic.consume, basic.get and confirm.select have their own calls.  An
 * answered basic.cancel drops its consumer (no cancelled callback).  A
 * field table in m (arguments) must validate (am_table_validate), else
 * TDM_AMC_ERR_INVAL: the peer would close the whole connection.  m's
 * fields are copied before return.  reply may be NULL.  0 or
 * TDM_AMC_ERR_INVAL / _STATE / _NOMEM.
 */
int tdm_amc_call(struct tdm_amc_chan *ch, const struct am_method *m, tdm_amc_reply_fn reply,
		 void *arg);

/*
 * Puts ch in confirm mode (confirm.select): every publish made after this
 * call gets its confirmed callback.  reply (may be NULL) gets
 * confirm.select-ok or the failure.  0 or TDM_AMC_ERR_*.
 */
int tdm_amc_confirm_select(struct tdm_amc_chan *ch, tdm_amc_reply_fn reply, void *arg);

/*
 * basic.publish of one message to exchange / routing key rk.  header is
 * the content-header payload as the broker stores it (class 60; its body
 * size is rewritten to body_len), header_len 0 for no properties; it is
 * validated with the codec.  The body (copied) goes in frames of at most
 * frame_max.  In confirm mode confirmed(arg, status) runs exactly once:
 * TDM_AMC_ACK, TDM_AMC_NACK, or a failure code (channel closed, connection
 * lost: the message's fate is unknown); outside confirm mode confirmed
 * must be NULL.  0 or TDM_AMC_ERR_INVAL / _STATE / _NOMEM.
 */
int tdm_amc_publish(struct tdm_amc_chan *ch, const char *exchange, size_t xlen, const char *rk,
		    size_t rklen, int mandatory, const uint8_t *header, size_t header_len,
		    const uint8_t *body, size_t body_len, tdm_amc_confirm_fn confirmed, void *arg);

/*
 * basic.consume on queue with a consumer tag of our own ("amc-N"),
 * args_table a field table without its length prefix (the codec's
 * convention; NULL/0 for none).  ok(arg, 0, NULL, ctag) on consume-ok, or
 * ok(arg, failure...) with ctag NULL (then nothing else is called).  After
 * ok: delivered(arg, m) per delivery, until cancelled(arg, code, text)
 * once: code 0 for the server's basic.cancel (queue deleted), else the
 * channel's failure.  No cancelled after the caller's own basic.cancel is
 * answered or the caller closed the channel.  ok may be NULL (a failure
 * before consume-ok then goes to cancelled).  args_table must validate.
 * 0 or TDM_AMC_ERR_*.
 */
int tdm_amc_consume(struct tdm_amc_chan *ch, const char *queue, size_t qlen, int no_ack,
		    const uint8_t *args_table, size_t args_len, tdm_amc_deliver_fn delivered,
		    tdm_amc_cancelled_fn cancelled, tdm_amc_consume_ok_fn ok, void *arg);

/*
 * basic.get on queue: got(arg, 0, NULL, m) with the message, got(arg, 0,
 * NULL, NULL) for get-empty, or a failure with m NULL.  0 or TDM_AMC_ERR_*.
 */
int tdm_amc_get(struct tdm_amc_chan *ch, const char *queue, size_t qlen, int no_ack,
		tdm_amc_got_fn got, void *arg);

/* basic.ack / basic.nack / basic.reject of a delivery tag of ch (no
 * answer comes).  0 or TDM_AMC_ERR_STATE / _NOMEM. */
int tdm_amc_ack(struct tdm_amc_chan *ch, uint64_t tag, int multiple);
int tdm_amc_nack(struct tdm_amc_chan *ch, uint64_t tag, int multiple, int requeue);
int tdm_amc_reject(struct tdm_amc_chan *ch, uint64_t tag, int requeue);

#endif
