/*
 * qq_client: a rabbitmq-c publisher or consumer of one queue that lives
 * through the death of the node it talks to, for the quorum queue leader
 * kill rounds of compat/python/test_cluster_kill.py (issue 15).
 *
 *   qq_client publish QUEUE PREFIX HOST:PORT[,HOST:PORT...] [RATE [WINDOW]]
 *       publishes persistent messages with ids PREFIX-1, PREFIX-2, ... to
 *       QUEUE through the default exchange, with publisher confirms, at most
 *       RATE per second (default 100) and WINDOW unconfirmed (default 32);
 *       a message whose confirm the connection's death lost, or that was
 *       nacked, is sent again (attempt + 1) on the next connection (a nack
 *       ends the connection: RabbitMQ 3.10 may nack every publish of a
 *       channel opened while the queue had no leader, for a minute)
 *   qq_client consume QUEUE HOST:PORT[,HOST:PORT...] [PREFETCH]
 *       consumes QUEUE with manual acks (acked by `multiple` every few
 *       messages and when idle) and a prefetch (default 20), checking each
 *       body against its checksum
 *
 * Both connect to the first address that answers, trying them in turn from
 * the one after the last used; whenever the connection or the channel dies
 * (or a consumer is cancelled) they say so and connect again (a consumer
 * passively declares the queue and consumes again).  They run until SIGTERM
 * or SIGINT (or the parent's death), then finish: a publisher waits up to 5 s
 * for the confirms still due.
 *
 * The message format (shared with the Python clients of the test): the body
 * is "qq id=ID attempt=A " followed by filler bytes; headers qq-id (string),
 * qq-attempt (integer), qq-crc (the body's CRC-32, IEEE, 8 lowercase hex
 * digits, as Python's zlib.crc32).  The filler's length varies; one message in
 * 100 is larger than the 128 KiB frame, so its body crosses frames.
 *
 * Output on stdout, one line per event, read by the test:
 *   connected HOST:PORT
 *   lost HOST:PORT WHAT...                  the connection or channel died
 *   sent ID ATTEMPT / confirmed ID ATTEMPT / nacked ID ATTEMPT
 *   recv ID ATTEMPT REDELIVERED DELIVERY_COUNT ok|bad:WHY
 *                                           DELIVERY_COUNT is x-delivery-count,
 *                                           -1 when absent
 *   cancelled HOST:PORT                     the broker sent basic.cancel
 *   stopped COUNTS...
 *
 * Must not depend on: tandem's own sources (a client of any AMQP 0-9-1 broker).
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#define QQC_MAX_ADDRS 16
#define QQC_MAX_WINDOW 256
#define QQC_BIG_BODY 150000
#define QQC_CONFIRM_TIMEOUT_MS 30000
#define QQC_ACK_EVERY 8

struct qqc_addr {
	char host[64];
	int port;
};

struct qqc_opts {
	const char *queue;
	const char *prefix;
	struct qqc_addr addrs[QQC_MAX_ADDRS];
	int n_addrs;
	int rate;
	int window;
	int prefetch;
};

/* One message waiting for its confirm, or to be sent again. */
struct qqc_pending {
	uint64_t tag; /* the channel's delivery tag; 0 when not sent on this channel */
	unsigned seq;
	unsigned attempt;
	uint64_t sent_ms;
};

static volatile sig_atomic_t qqc_stop;
static uint32_t qqc_crc_table[256];
static int qqc_next_addr;

static void qqc_on_signal(int sig)
{
	(void)sig;
	qqc_stop = 1;
}

static uint64_t qqc_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void qqc_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !qqc_stop)
		;
}

static void qqc_crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;
		for (int k = 0; k < 8; k++)
			c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
		qqc_crc_table[i] = c;
	}
}

static uint32_t qqc_crc32(const unsigned char *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	for (size_t i = 0; i < n; i++)
		c = qqc_crc_table[(c ^ p[i]) & 0xFF] ^ (c >> 8);
	return c ^ 0xFFFFFFFFu;
}

/* Parses "h:p,h:p" into o->addrs; 0, or -1 when malformed. */
static int qqc_parse_addrs(struct qqc_opts *o, const char *list)
{
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s", list);
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *colon = strrchr(tok, ':');
		if (!colon || o->n_addrs == QQC_MAX_ADDRS)
			return -1;
		*colon = '\0';
		struct qqc_addr *a = &o->addrs[o->n_addrs++];
		snprintf(a->host, sizeof(a->host), "%s", tok);
		a->port = atoi(colon + 1);
		if (a->port <= 0)
			return -1;
	}
	return o->n_addrs > 0 ? 0 : -1;
}

/* The reply's reason in words, for a `lost` line. */
static void qqc_reply_text(amqp_rpc_reply_t r, char *out, size_t cap)
{
	if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
	    (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD ||
	     r.reply.id == AMQP_CONNECTION_CLOSE_METHOD)) {
		const amqp_channel_close_t *c = r.reply.decoded; /* same layout for both */
		snprintf(out, cap, "%s %u %.*s",
			 r.reply.id == AMQP_CHANNEL_CLOSE_METHOD ? "channel.close"
								 : "connection.close",
			 c->reply_code, (int)c->reply_text.len, (const char *)c->reply_text.bytes);
	} else if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
		snprintf(out, cap, "library %s", amqp_error_string2(r.library_error));
	} else {
		snprintf(out, cap, "reply type %d", (int)r.reply_type);
	}
}

static void qqc_lost(const struct qqc_addr *a, const char *what)
{
	printf("lost %s:%d %s\n", a->host, a->port, what);
}

static void qqc_done(amqp_connection_state_t conn)
{
	if (!conn)
		return;
	amqp_destroy_connection(conn);
}

/* A connection with channel 1 open to the next address that accepts one
 * (consumer_cancel_notify announced); NULL after one failed pass over them
 * all.  *used is the address connected to. */
static amqp_connection_state_t qqc_connect(const struct qqc_opts *o, const struct qqc_addr **used)
{
	amqp_table_entry_t cap = { .key = amqp_cstring_bytes("consumer_cancel_notify"),
				   .value = { .kind = AMQP_FIELD_KIND_BOOLEAN,
					      .value.boolean = 1 } };
	amqp_table_entry_t prop = { .key = amqp_cstring_bytes("capabilities"),
				    .value = { .kind = AMQP_FIELD_KIND_TABLE,
					       .value.table = { 1, &cap } } };
	amqp_table_t props = { 1, &prop };
	for (int tries = 0; tries < o->n_addrs && !qqc_stop; tries++) {
		const struct qqc_addr *a = &o->addrs[qqc_next_addr];
		qqc_next_addr = (qqc_next_addr + 1) % o->n_addrs;
		amqp_connection_state_t conn = amqp_new_connection();
		amqp_socket_t *s = amqp_tcp_socket_new(conn);
		struct timeval tv = { 3, 0 }, rpc = { 15, 0 };
		char why[256];
		amqp_rpc_reply_t r;
		if (!s || amqp_socket_open_noblock(s, a->host, a->port, &tv) != AMQP_STATUS_OK) {
			qqc_lost(a, "connect refused or timed out");
			goto fail;
		}
		amqp_set_handshake_timeout(conn, &tv);
		amqp_set_rpc_timeout(conn, &rpc);
		r = amqp_login_with_properties(conn, "/", 0, 131072, 0, &props,
					       AMQP_SASL_METHOD_PLAIN, "guest", "guest");
		if (r.reply_type != AMQP_RESPONSE_NORMAL) {
			qqc_reply_text(r, why, sizeof(why));
			qqc_lost(a, why);
			goto fail;
		}
		amqp_channel_open(conn, 1);
		r = amqp_get_rpc_reply(conn);
		if (r.reply_type != AMQP_RESPONSE_NORMAL) {
			qqc_reply_text(r, why, sizeof(why));
			qqc_lost(a, why);
			goto fail;
		}
		*used = a;
		printf("connected %s:%d\n", a->host, a->port);
		return conn;
fail:
		amqp_destroy_connection(conn);
	}
	return NULL;
}

/* The body of attempt `attempt` of message `seq` into *buf (grown as needed);
 * its length. */
static size_t qqc_body(const struct qqc_opts *o, unsigned seq, unsigned attempt, char **buf,
		       size_t *cap)
{
	uint32_t x = seq * 2654435761u + 12345u;
	size_t filler = (seq % 100 == 99) ? QQC_BIG_BODY : 16 + x % 1000;
	size_t need = filler + 128;
	if (need > *cap) {
		char *nb = realloc(*buf, need);
		if (!nb)
			abort();
		*buf = nb;
		*cap = need;
	}
	int n = snprintf(*buf, *cap, "qq id=%s-%u attempt=%u ", o->prefix, seq, attempt);
	for (size_t i = 0; i < filler; i++) {
		x ^= x << 13, x ^= x >> 17, x ^= x << 5;
		(*buf)[(size_t)n + i] = (char)('a' + x % 26);
	}
	return (size_t)n + filler;
}

/* Publishes one message; 0, or the library's status. */
static int qqc_publish_one(amqp_connection_state_t conn, const struct qqc_opts *o,
			   const struct qqc_pending *p, char **buf, size_t *cap)
{
	size_t len = qqc_body(o, p->seq, p->attempt, buf, cap);
	char id[96], crc[16];
	snprintf(id, sizeof(id), "%s-%u", o->prefix, p->seq);
	snprintf(crc, sizeof(crc), "%08" PRIx32, qqc_crc32((unsigned char *)*buf, len));
	amqp_table_entry_t h[3] = {
		{ .key = amqp_cstring_bytes("qq-id"),
		  .value = { .kind = AMQP_FIELD_KIND_UTF8,
			     .value.bytes = amqp_cstring_bytes(id) } },
		{ .key = amqp_cstring_bytes("qq-attempt"),
		  .value = { .kind = AMQP_FIELD_KIND_I64, .value.i64 = p->attempt } },
		{ .key = amqp_cstring_bytes("qq-crc"),
		  .value = { .kind = AMQP_FIELD_KIND_UTF8,
			     .value.bytes = amqp_cstring_bytes(crc) } },
	};
	amqp_basic_properties_t props = { 0 };
	props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_HEADERS_FLAG;
	props.delivery_mode = 2;
	props.headers.num_entries = 3;
	props.headers.entries = h;
	amqp_bytes_t body = { len, *buf };
	int rc = amqp_basic_publish(conn, 1, amqp_cstring_bytes(""), amqp_cstring_bytes(o->queue),
				    0, 0, &props, body);
	if (rc == AMQP_STATUS_OK)
		printf("sent %s %u\n", id, p->attempt);
	return rc;
}

/* Settles the in-flight messages up to tag (only tag unless multiple):
 * confirmed, or (nack) moved to the retry list. */
static void qqc_settle(const struct qqc_opts *o, struct qqc_pending *inflight, int *n_inflight,
		       struct qqc_pending *retry, int *n_retry, uint64_t tag, int multiple, int ack)
{
	int kept = 0;
	for (int i = 0; i < *n_inflight; i++) {
		struct qqc_pending *p = &inflight[i];
		if (p->tag == tag || (multiple && p->tag < tag)) {
			printf("%s %s-%u %u\n", ack ? "confirmed" : "nacked", o->prefix, p->seq,
			       p->attempt);
			if (!ack) {
				retry[*n_retry] = *p;
				retry[*n_retry].attempt++;
				(*n_retry)++;
			}
		} else {
			inflight[kept++] = *p;
		}
	}
	*n_inflight = kept;
}

/* Takes the next message to send: a retry first, else a new one. */
static struct qqc_pending qqc_next_message(struct qqc_pending *retry, int *n_retry,
					   unsigned *next_seq)
{
	struct qqc_pending p = { 0, 0, 1, 0 };
	if (*n_retry > 0) {
		p = retry[0];
		(*n_retry)--;
		memmove(retry, retry + 1, sizeof(retry[0]) * (size_t)*n_retry);
	} else {
		p.seq = (*next_seq)++;
	}
	return p;
}

static int qqc_run_publisher(const struct qqc_opts *o)
{
	struct qqc_pending inflight[QQC_MAX_WINDOW], retry[QQC_MAX_WINDOW];
	int n_inflight = 0, n_retry = 0;
	unsigned next_seq = 1;
	unsigned long confirmed = 0, sent = 0, reconnects = 0;
	char *buf = NULL, why[256];
	size_t cap = 0;
	uint64_t stop_deadline = 0;
	/* the rate: the next send is due then; an outage does not make a burst */
	uint64_t next_due = qqc_now_ms(), gap = 1000 / (uint64_t)o->rate;

	while (!qqc_stop) {
		const struct qqc_addr *a = NULL;
		amqp_connection_state_t conn = qqc_connect(o, &a);
		uint64_t tag = 0;
		if (!conn) {
			qqc_sleep_ms(200);
			continue;
		}
		amqp_confirm_select(conn, 1);
		amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
		if (r.reply_type != AMQP_RESPONSE_NORMAL) {
			qqc_reply_text(r, why, sizeof(why));
			qqc_lost(a, why);
			goto next;
		}
		for (;;) {
			/* after SIGTERM: no more sends, up to 5 s for the confirms due */
			if (qqc_stop && !stop_deadline)
				stop_deadline = qqc_now_ms() + 5000;
			if (stop_deadline && (n_inflight == 0 || qqc_now_ms() >= stop_deadline))
				break;
			while (!qqc_stop && n_inflight < o->window && qqc_now_ms() >= next_due) {
				struct qqc_pending p = qqc_next_message(retry, &n_retry, &next_seq);
				uint64_t now = qqc_now_ms();
				next_due = (next_due + 200 < now ? now - 200 : next_due) + gap;
				p.tag = ++tag;
				p.sent_ms = now;
				inflight[n_inflight++] = p;
				sent++;
				int rc = qqc_publish_one(conn, o, &p, &buf, &cap);
				if (rc != AMQP_STATUS_OK) {
					snprintf(why, sizeof(why), "publish: %s",
						 amqp_error_string2(rc));
					qqc_lost(a, why);
					goto next;
				}
			}
			if (n_inflight > 0 &&
			    qqc_now_ms() - inflight[0].sent_ms > QQC_CONFIRM_TIMEOUT_MS) {
				qqc_lost(a, "no confirm within 30 s");
				goto next;
			}
			amqp_frame_t f;
			struct timeval tv = { 0, 10000 };
			int rc = amqp_simple_wait_frame_noblock(conn, &f, &tv);
			if (rc == AMQP_STATUS_TIMEOUT)
				continue;
			if (rc != AMQP_STATUS_OK) {
				snprintf(why, sizeof(why), "%s", amqp_error_string2(rc));
				qqc_lost(a, why);
				goto next;
			}
			if (f.frame_type != AMQP_FRAME_METHOD)
				continue;
			if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
				const amqp_basic_ack_t *ack = f.payload.method.decoded;
				int before = n_inflight;
				qqc_settle(o, inflight, &n_inflight, retry, &n_retry,
					   ack->delivery_tag, ack->multiple, 1);
				confirmed += (unsigned long)(before - n_inflight);
			} else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
				const amqp_basic_nack_t *nack = f.payload.method.decoded;
				qqc_settle(o, inflight, &n_inflight, retry, &n_retry,
					   nack->delivery_tag, nack->multiple, 0);
				/* RabbitMQ 3.10 may nack every publish of a channel opened
				 * while the queue had no leader, for a minute */
				qqc_lost(a, "basic.nack: connecting again");
				goto next;
			} else if (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
				   f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
				amqp_rpc_reply_t cr = { .reply_type =
								AMQP_RESPONSE_SERVER_EXCEPTION,
							.reply = f.payload.method };
				qqc_reply_text(cr, why, sizeof(why));
				qqc_lost(a, why);
				goto next;
			}
		}
		amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
		qqc_done(conn);
		break;
next:
		/* whatever was not confirmed goes again, on the next connection */
		for (int i = 0; i < n_inflight; i++) {
			retry[n_retry] = inflight[i];
			retry[n_retry].attempt++;
			n_retry++;
		}
		n_inflight = 0;
		reconnects++;
		qqc_done(conn);
		qqc_sleep_ms(200);
	}
	printf("stopped sent=%lu confirmed=%lu unconfirmed=%d reconnects=%lu\n", sent, confirmed,
	       n_inflight + n_retry, reconnects);
	free(buf);
	return 0;
}

/* x as an integer when it is one of AMQP's integer kinds; 0 when not. */
static int qqc_field_int(const amqp_field_value_t *v, long long *out)
{
	switch (v->kind) {
	case AMQP_FIELD_KIND_I8:
		*out = v->value.i8;
		return 1;
	case AMQP_FIELD_KIND_U8:
		*out = v->value.u8;
		return 1;
	case AMQP_FIELD_KIND_I16:
		*out = v->value.i16;
		return 1;
	case AMQP_FIELD_KIND_U16:
		*out = v->value.u16;
		return 1;
	case AMQP_FIELD_KIND_I32:
		*out = v->value.i32;
		return 1;
	case AMQP_FIELD_KIND_U32:
		*out = v->value.u32;
		return 1;
	case AMQP_FIELD_KIND_I64:
		*out = v->value.i64;
		return 1;
	case AMQP_FIELD_KIND_U64:
		*out = (long long)v->value.u64;
		return 1;
	default:
		return 0;
	}
}

/* Prints the `recv` line of one delivery, checking its body. */
static void qqc_report_delivery(const amqp_envelope_t *env)
{
	char id[96] = "?", crc[16] = "";
	long long attempt = -1, count = -1;
	const amqp_basic_properties_t *p = &env->message.properties;
	if (p->_flags & AMQP_BASIC_HEADERS_FLAG) {
		for (int i = 0; i < p->headers.num_entries; i++) {
			const amqp_table_entry_t *e = &p->headers.entries[i];
			const amqp_field_value_t *v = &e->value;
			int is_str =
				v->kind == AMQP_FIELD_KIND_UTF8 || v->kind == AMQP_FIELD_KIND_BYTES;
			if (e->key.len == 5 && !memcmp(e->key.bytes, "qq-id", 5) && is_str)
				snprintf(id, sizeof(id), "%.*s", (int)v->value.bytes.len,
					 (const char *)v->value.bytes.bytes);
			else if (e->key.len == 6 && !memcmp(e->key.bytes, "qq-crc", 6) && is_str)
				snprintf(crc, sizeof(crc), "%.*s", (int)v->value.bytes.len,
					 (const char *)v->value.bytes.bytes);
			else if (e->key.len == 10 && !memcmp(e->key.bytes, "qq-attempt", 10))
				qqc_field_int(v, &attempt);
			else if (e->key.len == 16 && !memcmp(e->key.bytes, "x-delivery-count", 16))
				qqc_field_int(v, &count);
		}
	}
	const char *verdict = "ok";
	char want_crc[16], prefix[160];
	const amqp_bytes_t *b = &env->message.body;
	snprintf(want_crc, sizeof(want_crc), "%08" PRIx32,
		 qqc_crc32((const unsigned char *)b->bytes, b->len));
	int plen = snprintf(prefix, sizeof(prefix), "qq id=%s attempt=%lld ", id, attempt);
	if (!crc[0] || strcmp(id, "?") == 0 || attempt < 0)
		verdict = "bad:headers";
	else if (strcmp(crc, want_crc) != 0)
		verdict = "bad:crc";
	else if (b->len < (size_t)plen || memcmp(b->bytes, prefix, (size_t)plen) != 0)
		verdict = "bad:body-id";
	printf("recv %s %lld %d %lld %s\n", id, attempt, env->redelivered ? 1 : 0, count, verdict);
}

static int qqc_run_consumer(const struct qqc_opts *o)
{
	unsigned long received = 0, reconnects = 0, cancels = 0;
	/* acks by `multiple`, often enough that a small prefetch is not held up */
	uint64_t ack_every =
		o->prefetch / 2 < QQC_ACK_EVERY ? (uint64_t)(o->prefetch + 1) / 2 : QQC_ACK_EVERY;
	while (!qqc_stop) {
		const struct qqc_addr *a = NULL;
		amqp_connection_state_t conn = qqc_connect(o, &a);
		char why[256];
		uint64_t last_tag = 0, acked_tag = 0;
		if (!conn) {
			qqc_sleep_ms(200);
			continue;
		}
consume_again:
		amqp_basic_qos(conn, 1, 0, (uint16_t)o->prefetch, 0);
		amqp_rpc_reply_t r = amqp_get_rpc_reply(conn);
		if (r.reply_type == AMQP_RESPONSE_NORMAL) {
			amqp_queue_declare(conn, 1, amqp_cstring_bytes(o->queue), 1, 0, 0, 0,
					   amqp_empty_table);
			r = amqp_get_rpc_reply(conn);
		}
		if (r.reply_type == AMQP_RESPONSE_NORMAL) {
			amqp_basic_consume(conn, 1, amqp_cstring_bytes(o->queue), amqp_empty_bytes,
					   0, 0, 0, amqp_empty_table);
			r = amqp_get_rpc_reply(conn);
		}
		if (r.reply_type != AMQP_RESPONSE_NORMAL) {
			qqc_reply_text(r, why, sizeof(why));
			qqc_lost(a, why);
			goto next;
		}
		while (!qqc_stop) {
			amqp_envelope_t env;
			struct timeval tv = { 0, 100000 };
			amqp_maybe_release_buffers(conn);
			r = amqp_consume_message(conn, &env, &tv, 0);
			if (r.reply_type == AMQP_RESPONSE_NORMAL) {
				qqc_report_delivery(&env);
				received++;
				last_tag = env.delivery_tag;
				amqp_destroy_envelope(&env);
				if (last_tag - acked_tag >= ack_every) {
					if (amqp_basic_ack(conn, 1, last_tag, 1) !=
					    AMQP_STATUS_OK) {
						qqc_lost(a, "ack: write failed");
						goto next;
					}
					acked_tag = last_tag;
				}
				continue;
			}
			if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
			    r.library_error == AMQP_STATUS_TIMEOUT) {
				if (last_tag > acked_tag) {
					if (amqp_basic_ack(conn, 1, last_tag, 1) !=
					    AMQP_STATUS_OK) {
						qqc_lost(a, "ack: write failed");
						goto next;
					}
					acked_tag = last_tag;
				}
				continue;
			}
			if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION &&
			    r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
				amqp_frame_t f;
				struct timeval ftv = { 5, 0 };
				int rc = amqp_simple_wait_frame_noblock(conn, &f, &ftv);
				if (rc != AMQP_STATUS_OK) {
					snprintf(why, sizeof(why), "%s", amqp_error_string2(rc));
					qqc_lost(a, why);
					goto next;
				}
				if (f.frame_type != AMQP_FRAME_METHOD)
					continue;
				if (f.payload.method.id == AMQP_BASIC_CANCEL_METHOD) {
					printf("cancelled %s:%d\n", a->host, a->port);
					cancels++;
					goto consume_again;
				}
				if (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
				    f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
					amqp_rpc_reply_t cr = {
						.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION,
						.reply = f.payload.method
					};
					qqc_reply_text(cr, why, sizeof(why));
					qqc_lost(a, why);
					goto next;
				}
				continue;
			}
			qqc_reply_text(r, why, sizeof(why));
			qqc_lost(a, why);
			goto next;
		}
		if (last_tag > acked_tag)
			amqp_basic_ack(conn, 1, last_tag, 1);
		amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
		qqc_done(conn);
		break;
next:
		reconnects++;
		qqc_done(conn);
		qqc_sleep_ms(200);
	}
	printf("stopped received=%lu reconnects=%lu cancels=%lu\n", received, reconnects, cancels);
	return 0;
}

static int qqc_usage(void)
{
	fprintf(stderr, "usage: qq_client publish QUEUE PREFIX HOST:PORT[,...] [RATE [WINDOW]]\n"
			"       qq_client consume QUEUE HOST:PORT[,...] [PREFETCH]\n");
	return 2;
}

int main(int argc, char **argv)
{
	struct qqc_opts o = { .rate = 100, .window = 32, .prefetch = 20 };
	int publish;
	if (argc >= 5 && strcmp(argv[1], "publish") == 0) {
		publish = 1;
		o.queue = argv[2];
		o.prefix = argv[3];
		if (qqc_parse_addrs(&o, argv[4]) != 0)
			return qqc_usage();
		if (argc > 5)
			o.rate = atoi(argv[5]);
		if (argc > 6)
			o.window = atoi(argv[6]);
		if (o.rate <= 0 || o.window <= 0 || o.window > QQC_MAX_WINDOW)
			return qqc_usage();
	} else if (argc >= 4 && strcmp(argv[1], "consume") == 0) {
		publish = 0;
		o.queue = argv[2];
		if (qqc_parse_addrs(&o, argv[3]) != 0)
			return qqc_usage();
		if (argc > 4)
			o.prefetch = atoi(argv[4]);
		if (o.prefetch <= 0 || o.prefetch > 65535)
			return qqc_usage();
	} else {
		return qqc_usage();
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = qqc_on_signal; /* no SA_RESTART: blocking calls return early */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	/* never outlive the test that started us */
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	qqc_crc_init();
	return publish ? qqc_run_publisher(&o) : qqc_run_consumer(&o);
}
