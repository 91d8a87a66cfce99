/*
 * AMQP to the nodes of a test cluster (cluster_amqp.h).
 *
 * Must not depend on: tandem's own sources.
 */
#include "cluster_amqp.h"

#include <check.h>
#include <stdlib.h>
#include <sys/time.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <amqp_framing.h>
#include <amqp_tcp_socket.h>

#include "kafka_harness.h"

void ca_reply_ok(amqp_rpc_reply_t r, const char *what)
{
	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return;
	if (r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION &&
	    (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD || r.reply.id == AMQP_CONNECTION_CLOSE_METHOD)) {
		const amqp_channel_close_t *cc = r.reply.decoded; /* same layout for both */
		ck_abort_msg("%s: closed %u %.*s", what, cc->reply_code, (int)cc->reply_text.len,
			     (const char *)cc->reply_text.bytes);
	}
	ck_abort_msg("%s: reply type %d (%s)", what, r.reply_type,
		     amqp_error_string2(r.library_error));
}

/* A connection to node i (channel 1 open), announcing the capability
 * consumer_cancel_notify when cancel_notify; NULL when refused. */
static amqp_connection_state_t connect_to(const struct ch_cluster *c, int i, const char *vhost,
					  const char *user, const char *password, int cancel_notify)
{
	amqp_connection_state_t conn = amqp_new_connection();
	amqp_socket_t *s = amqp_tcp_socket_new(conn);
	ck_assert_msg(s != NULL, "socket");
	ck_assert_msg(amqp_socket_open(s, "127.0.0.1", c->nodes[i].amqp_port) == AMQP_STATUS_OK,
		      "node %d: cannot connect", c->nodes[i].id);
	amqp_table_entry_t cap = { .key = amqp_cstring_bytes("consumer_cancel_notify"),
				   .value = { .kind = AMQP_FIELD_KIND_BOOLEAN,
					      .value.boolean = 1 } };
	amqp_table_entry_t prop = { .key = amqp_cstring_bytes("capabilities"),
				    .value = { .kind = AMQP_FIELD_KIND_TABLE,
					       .value.table = { 1, &cap } } };
	amqp_table_t props = { cancel_notify ? 1 : 0, &prop };
	amqp_rpc_reply_t r = amqp_login_with_properties(conn, vhost, 0, 131072, 0, &props,
							AMQP_SASL_METHOD_PLAIN, user, password);
	if (r.reply_type != AMQP_RESPONSE_NORMAL) {
		amqp_destroy_connection(conn);
		return NULL;
	}
	amqp_channel_open(conn, 1);
	ca_reply_ok(amqp_get_rpc_reply(conn), "channel.open");
	return conn;
}

amqp_connection_state_t ca_connect(const struct ch_cluster *c, int i, const char *vhost,
				   const char *user, const char *password)
{
	return connect_to(c, i, vhost, user, password, 0);
}

amqp_connection_state_t ca_to_notified(const struct ch_cluster *c, int i)
{
	amqp_connection_state_t conn = connect_to(c, i, "/", "guest", "guest", 1);
	ck_assert_msg(conn != NULL, "node %d: guest's login refused", c->nodes[i].id);
	return conn;
}

amqp_connection_state_t ca_to(const struct ch_cluster *c, int i)
{
	amqp_connection_state_t conn = ca_connect(c, i, "/", "guest", "guest");
	ck_assert_msg(conn != NULL, "node %d: guest's login refused", c->nodes[i].id);
	return conn;
}

void ca_done(amqp_connection_state_t conn)
{
	amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(conn);
}

int ca_channel_error(amqp_connection_state_t conn, amqp_rpc_reply_t r, const char *what,
		     char *text, size_t cap)
{
	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return 0;
	if (r.reply_type != AMQP_RESPONSE_SERVER_EXCEPTION || r.reply.id != AMQP_CHANNEL_CLOSE_METHOD)
		ca_reply_ok(r, what); /* fails the test, saying what came */
	const amqp_channel_close_t *cc = r.reply.decoded;
	snprintf(text, cap, "%.*s", (int)cc->reply_text.len, (const char *)cc->reply_text.bytes);
	int code = cc->reply_code;
	amqp_channel_close_ok_t ok = { 0 };
	amqp_send_method(conn, 1, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
	amqp_channel_open(conn, 1);
	ca_reply_ok(amqp_get_rpc_reply(conn), "channel.open again");
	return code;
}

int ca_declare_exchange(amqp_connection_state_t conn, const char *x, const char *type,
			int durable, char *text, size_t cap)
{
	amqp_exchange_declare(conn, 1, amqp_cstring_bytes(x), amqp_cstring_bytes(type), 0, durable,
			      0, 0, amqp_empty_table);
	return ca_channel_error(conn, amqp_get_rpc_reply(conn), "exchange.declare", text, cap);
}

int ca_node_answers(const struct ch_cluster *c, int i, const char *path, int want,
		    const char *needle, int ms)
{
	char out[4096];
	for (int waited = 0; waited <= ms; waited += 50) {
		if (ch_http_get(c, i, path, out, sizeof(out)) == want &&
		    (!needle || strstr(out, needle)))
			return 1;
		usleep(50 * 1000);
	}
	return 0;
}

void ca_read_confirms(amqp_connection_state_t c, struct ca_confirms *cf, int upto, int ms)
{
	uint64_t deadline = kh_now_ms() + (uint64_t)ms;
	while (cf->acks + cf->nacks < upto) {
		uint64_t now = kh_now_ms();
		if (now >= deadline)
			return;
		struct timeval tv = { (long)((deadline - now) / 1000), (long)((deadline - now) % 1000) * 1000 };
		amqp_frame_t f;
		int rc = amqp_simple_wait_frame_noblock(c, &f, &tv);
		if (rc == AMQP_STATUS_TIMEOUT)
			return;
		ck_assert_msg(rc == AMQP_STATUS_OK, "reading confirms: %s", amqp_error_string2(rc));
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		uint64_t tag;
		int multiple;
		char *mark;
		if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
			const amqp_basic_ack_t *a = f.payload.method.decoded;
			tag = a->delivery_tag, multiple = a->multiple, mark = cf->acked;
		} else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
			const amqp_basic_nack_t *a = f.payload.method.decoded;
			tag = a->delivery_tag, multiple = a->multiple, mark = cf->nacked;
		} else {
			ck_abort_msg("unexpected method 0x%08x while waiting for confirms",
				     f.payload.method.id);
		}
		ck_assert_msg(tag >= 1 && tag <= (uint64_t)cf->n, "confirm of tag %llu",
			      (unsigned long long)tag);
		for (uint64_t t = multiple ? 1 : tag; t <= tag; t++) {
			if (cf->acked[t] || cf->nacked[t])
				continue;
			mark[t] = 1;
			if (mark == cf->acked)
				cf->acks++;
			else
				cf->nacks++;
		}
	}
}

void ca_confirms_init(struct ca_confirms *cf, int n)
{
	memset(cf, 0, sizeof(*cf));
	cf->n = n;
	cf->acked = calloc((size_t)n + 1, 1);
	cf->nacked = calloc((size_t)n + 1, 1);
}

void ca_confirms_free(struct ca_confirms *cf)
{
	free(cf->acked);
	free(cf->nacked);
}
