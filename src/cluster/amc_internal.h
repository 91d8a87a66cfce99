/*
 * The AMQP client's objects, shared by its files: amc.c (the
 * connection: socket, frames in and out, handshake, heartbeats, loss,
 * release), amc_chan.c (channels: their life, the answers to
 * requests, confirms, deliveries, content assembly) and amc_req.c
 * (the requests).  Not for use outside them.
 *
 * Memory rule: callbacks may release anything (tdm_amc_free,
 * tdm_amc_channel_close), so nothing is freed while the library is on the
 * stack.  Every entry from libevent and every public call that runs
 * callbacks brackets itself with amc_enter / amc_leave; releases only mark
 * (c->freed, ch->released, a consumer CS_GONE, c->reap) and amc_leave
 * reaps at depth 0.  Lists are
 * unlinked before their callbacks run, so a callback that fails the same
 * list finds it empty.
 *
 * Must not depend on: src/core, src/net, the front ends.
 */
#ifndef TANDEM_CLUSTER_AMC_INTERNAL_H
#define TANDEM_CLUSTER_AMC_INTERNAL_H

#include <stdint.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "cluster/amc.h"

/* What a synchronous request waits for (answers come in order per channel). */
enum amc_wait_kind { W_OPEN, W_CALL, W_CONSUME, W_GET };

struct amc_consumer;

struct amc_wait {
	struct amc_wait *next;
	enum amc_wait_kind kind;
	uint32_t req;               /* the method sent */
	tdm_amc_reply_fn reply;     /* W_CALL */
	tdm_amc_got_fn got;         /* W_GET */
	struct amc_consumer *cons;  /* W_CONSUME (ref: lives in ch->cons) */
	void *arg;
};

/* An unconfirmed publish (confirm mode), in publish order. */
struct amc_pub {
	struct amc_pub *next;
	uint64_t seq;
	tdm_amc_confirm_fn confirmed;
	void *arg;
};

enum amc_cons_state { CS_WAIT, CS_ACTIVE, CS_GONE };

struct amc_consumer {
	struct amc_consumer *next;
	enum amc_cons_state state;
	char tag[24];
	tdm_amc_deliver_fn delivered;
	tdm_amc_cancelled_fn cancelled;
	tdm_amc_consume_ok_fn ok;
	void *arg;
};

enum amc_chan_state {
	CH_OPEN,    /* open or opening: takes requests */
	CH_CLOSING, /* our channel.close sent, close-ok not yet in */
	CH_DEAD,    /* closed by the peer, by close-ok, or the connection lost */
};

/* A content-bearing method being received: its frames, then header, body. */
struct amc_content {
	int stage;             /* 0 none, 1 header expected, 2 body expected */
	uint8_t *mbuf;         /* owned: the method payload m borrows from */
	struct am_method m;
	struct amc_wait *wait; /* W_GET popped at get-ok (owned until answered) */
	uint8_t *hdr;          /* owned */
	size_t hdr_len;
	uint64_t size, got;
	uint8_t *body;         /* owned, size bytes */
};

struct tdm_amc_chan {
	struct tdm_amc *c;
	uint16_t id;
	enum amc_chan_state state;
	int released; /* tdm_amc_channel_close ran: no callbacks, reaped once CH_DEAD */
	tdm_amc_closed_fn closed;
	void *arg;
	tdm_amc_return_fn returned;
	void *ret_arg;
	struct amc_wait *waits, **waits_tail;
	int confirm;       /* confirm.select sent */
	uint64_t next_seq; /* of the last publish in confirm mode */
	struct amc_pub *pubs, **pubs_tail;
	struct amc_consumer *cons;
	struct amc_content in;
};

enum amc_conn_state { C_CONNECTING, C_START, C_TUNE, C_OPENING, C_OPEN, C_DEAD };

struct tdm_amc {
	struct event_base *base;
	struct tdm_amc_config cfg; /* strings owned */
	tdm_amc_up_fn up;
	tdm_amc_lost_fn lost;
	void *arg;
	enum amc_conn_state state;
	struct evdns_base *dns;  /* owned, only for a host name */
	struct bufferevent *bev; /* owned; NULL once lost */
	struct event *timer;     /* connect deadline (or a connect that failed at once) */
	struct event *hb;        /* heartbeat tick, every heartbeat/2 s once tuned */
	int connect_failed;      /* the timer reports it */
	struct evbuffer *held;   /* channel frames made before C_OPEN, in order */
	uint32_t frame_max;      /* for what we send and accept */
	uint16_t channel_max;
	unsigned heartbeat;      /* negotiated seconds, 0 none */
	int64_t last_read_ms;
	int sent;                /* a frame went out since the last heartbeat tick */
	struct tdm_amc_chan **chans; /* by channel number; nchans slots */
	size_t nchans;
	uint16_t next_id;
	unsigned ctag_seq;
	unsigned depth; /* library frames on the stack */
	int reap;       /* a channel released and dead, or a consumer gone */
	int freed;      /* tdm_amc_free ran: no callbacks, destroyed at depth 0 */
};

static inline struct am_bytes amc_bytes(const void *p, size_t len)
{
	return (struct am_bytes){ p, (uint32_t)len };
}

/* A shortstr or longstr as a NUL-terminated copy (cut to fit). */
static inline const char *amc_cstr(struct am_bytes b, char *buf, size_t cap)
{
	size_t n = b.len < cap - 1 ? b.len : cap - 1;
	if (n)
		memcpy(buf, b.ptr, n);
	buf[n] = '\0';
	return buf;
}

/* amc.c */
/* Writes connection.close (code, text) and fails c with why: for what the
 * peer sent that breaks the protocol.  Always returns -1. */
int amc_proto_fail(struct tdm_amc *c, int code, const char *why);
void amc_enter(struct tdm_amc *c);
/* 1 when c was destroyed (the caller must not touch it). */
int amc_leave(struct tdm_amc *c);
/* Fails c once: lost callback, then every channel (amc_chan_fail). */
void amc_fail(struct tdm_amc *c, int code, const char *why);
/* The buffer channel frames go to: the socket's once open, else held. */
struct evbuffer *amc_out(struct tdm_amc *c);
/* Encodes m on channel into out; 0 or TDM_AMC_ERR_INVAL / _NOMEM. */
int amc_put_method(struct tdm_amc *c, struct evbuffer *out, uint16_t channel,
		   const struct am_method *m);
void amc_put_frame_header(uint8_t *p, uint8_t type, uint16_t channel, uint32_t size);

/* amc_chan.c */
/* ch takes requests: open (or opening), not released, c not lost or freed. */
int amc_usable(const struct tdm_amc_chan *ch);
/* Encodes m on ch; 0 or TDM_AMC_ERR_*. */
int amc_send_m(struct tdm_amc_chan *ch, const struct am_method *m);
/* Sends m and queues w for its answer; w is freed when that fails. */
int amc_send_wait(struct tdm_amc_chan *ch, const struct am_method *m, struct amc_wait *w);
struct amc_wait *amc_wait_new(enum amc_wait_kind kind, void *arg);
struct amc_consumer *amc_find_cons(struct tdm_amc_chan *ch, struct am_bytes tag);
/* Frees what amc_leave may reap: consumers gone, dead released channels. */
void amc_chan_reap(struct tdm_amc_chan *ch);
/* A method frame for channel ch (not 0); 0, or -1 after failing c. */
int amc_chan_method(struct tdm_amc_chan *ch, const struct am_frame *f, const struct am_method *m);
/* A header or body frame for ch; 0, or -1 after failing c. */
int amc_chan_content(struct tdm_amc_chan *ch, const struct am_frame *f);
/* Fails ch's requests, confirms and (when notify) consumers and closed
 * with code/text; ch becomes CH_DEAD. */
void amc_chan_fail(struct tdm_amc_chan *ch, int code, const char *text, int notify);
void amc_chan_destroy(struct tdm_amc_chan *ch);

#endif
