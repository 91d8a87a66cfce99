/*
 * libFuzzer target for the Kafka listener's SASL request handling
 * (src/kafka/sasl.c): SaslHandshake and SaslAuthenticate bodies as the
 * dispatcher hands them over, the bare token frames that follow a
 * SaslHandshake v0, the PLAIN token and the SCRAM client-first and
 * client-final messages, on one connection's state machine.
 *
 * The SASL name is split by authz.c ("vhost:user" picks a vhost).
 * The input is a sequence of records: one byte (its low two bits pick the
 * request: 0 SaslHandshake, 1 SaslAuthenticate, 2 a bare token frame, 3
 * ApiVersions' may-serve check; bit 2 the version 0 or 1), a two-byte
 * length, then that many bytes of body.  They are fed in order to one
 * connection until the handler closes it.  The users are stubbed here
 * (alice/s3cret, with SCRAM-SHA-256/512 credentials derived by core's
 * scram.c), as are the limits, the connection registry, net's close and
 * core's vhosts and topic names.
 *
 * Invariants: no crash or sanitizer report; an answer never grows past
 * what its request could produce (64 KiB); a connection holds a user only
 * after its authentication step is done, and only alice; a user is only
 * authenticated by a token that carries her password or a SCRAM proof.
 * tests/fuzz/replay.c runs it over the committed corpus in `make check`.
 *
 * Depends on: src/kafka/sasl.c, src/kafka/authz.c, src/kafka/decode.c, src/core/scram.c,
 * src/core/log.c, src/util/b64.c, src/util/hex.c, libevent, libcrypto.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "core/auth.h"
#include "core/broker.h"
#include "core/config.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/registry.h"
#include "core/scram.h"
#include "core/stream.h"
#include "kafka/kafka.h"
#include "kafka/kf.h"
#include "net/net.h"



/* ---- stubs: the users, limits and registry of the broker core ----------- */

static struct tdm_scram_cred creds[2];

enum tdm_auth_result tdm_auth_check(const struct tdm_auth *a, const char *user, size_t user_len,
				    const char *pass, size_t pass_len, int peer_is_loopback)
{
	(void)a;
	(void)peer_is_loopback;
	if (user_len == 5 && memcmp(user, "alice", 5) == 0 && pass_len == 6 &&
	    memcmp(pass, "s3cret", 6) == 0)
		return TDM_AUTH_OK;
	return TDM_AUTH_BAD_CREDENTIALS;
}

/* The cluster link's login (core/auth.c): never reached here (the
 * connection is a SASL_PLAINTEXT one), refused all the same. */
int tdm_auth_link_check(const struct tdm_auth *a, const char *user, size_t user_len,
			const char *pass, size_t pass_len)
{
	(void)a, (void)user, (void)user_len, (void)pass, (void)pass_len;
	return 0;
}

int tdm_auth_scram_cred(const struct tdm_auth *a, const char *user, int mech,
			struct tdm_scram_cred *out)
{
	(void)a;
	if (strcmp(user, "alice") != 0)
		return -1;
	*out = creds[mech == TDM_SCRAM_SHA512];
	return 0;
}

int tdm_limits_check_connection(struct tdm_broker *b, const char *user, const char *vhost,
				struct tdm_err *err)
{
	(void)b, (void)user, (void)vhost, (void)err;
	return TDM_OK;
}

int tdm_registry_add(void *ctx, const struct tdm_reg_ops *ops, const char *protocol, int fd,
		     const char *user, const char *vhost)
{
	(void)ctx, (void)ops, (void)protocol, (void)fd, (void)user, (void)vhost;
	return 0;
}

void tdm_registry_remove(void *ctx)
{
	(void)ctx;
}

/* authz.c's view of the users: alice (tags "") may open "/" and "shop". */
const char *tdm_auth_user_tags(const struct tdm_auth *a, const char *user)
{
	(void)a;
	return strcmp(user, "alice") == 0 ? "" : NULL;
}

int tdm_auth_vhost_allowed(const struct tdm_auth *a, const char *user, const char *vhost,
			   size_t vhost_len)
{
	(void)a;
	return strcmp(user, "alice") == 0 && ((vhost_len == 1 && vhost[0] == '/') ||
					      (vhost_len == 4 && memcmp(vhost, "shop", 4) == 0));
}

int tdm_auth_permitted(const struct tdm_auth *a, const char *user, const char *vhost,
		       enum tdm_perm p, const char *name, size_t len)
{
	(void)a, (void)user, (void)vhost, (void)p, (void)name, (void)len;
	return 1;
}

int tdm_auth_get_permissions(const struct tdm_auth *a, const char *user, const char *vhost,
			     size_t vhost_len, struct tdm_perm_info *out)
{
	(void)a, (void)user, (void)vhost, (void)vhost_len, (void)out;
	return 0; /* InitProducerId is not among the requests fuzzed here */
}

/* No broker here: a "vhost:user" name's vhost never exists. */
struct tdm_vhost *tdm_vhost_find(struct tdm_broker *b, const char *name, size_t len)
{
	(void)b, (void)name, (void)len;
	return NULL;
}

/* Topic names (core/stream.c): not reached from the SASL requests. */
size_t tdm_stream_topic_name(const char *vhost, size_t vhost_len, const char *name, size_t name_len,
			     char out[TDM_TOPIC_NAME_MAX + 1])
{
	(void)vhost, (void)vhost_len, (void)name, (void)name_len, (void)out;
	abort();
}

int tdm_topic_vhost(const char *name, size_t len, char *out, size_t out_cap)
{
	(void)name, (void)len, (void)out, (void)out_cap;
	abort();
}

int tdm_topic_local_name(const char *name, size_t len, char *out, size_t out_cap)
{
	(void)name, (void)len, (void)out, (void)out_cap;
	abort();
}

int tdm_topic_in_vhost(const char *name, size_t len, const char *vhost, size_t vhost_len)
{
	(void)name, (void)len, (void)vhost, (void)vhost_len;
	abort();
}

/* The registry's close (an operator's), never called here. */
void tdm_conn_close(struct tdm_conn *c)
{
	(void)c;
	abort();
}

/* ---- the target ------------------------------------------------------------ */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tdm_config cfg;
	static struct kf_server srv;
	static int ready;
	struct tdm_conn c;
	struct kf_conn kc;
	size_t off = 0;

	if (!ready) {
		static const unsigned char salt[16] = "0123456789abcdef";

		tdm_log_setup(TDM_LOG_ERROR, NULL);
		cfg.kafka_sasl_mechanisms = (char *)"PLAIN,SCRAM-SHA-256,SCRAM-SHA-512";
		cfg.kafka_vhost = (char *)"/";
		srv.cfg = &cfg;
		srv.auth = (struct tdm_auth *)&srv; /* opaque, only passed to the stubs */
		CHECK(kf_sasl_init(&srv) == 0);
		CHECK(tdm_scram_derive(TDM_SCRAM_SHA256, "s3cret", 6, salt, 16, 4096, &creds[0]) ==
		      0);
		CHECK(tdm_scram_derive(TDM_SCRAM_SHA512, "s3cret", 6, salt, 16, 4096, &creds[1]) ==
		      0);
		ready = 1;
	}
	memset(&c, 0, sizeof(c));
	memset(&kc, 0, sizeof(kc));
	strcpy(c.peer, "127.0.0.1:9");
	c.peer_loopback = 1;
	kc.c = &c;
	kc.srv = &srv;
	kc.security = TDM_KAFKA_SASL_PLAINTEXT;
	kc.resp = evbuffer_new();
	CHECK(kc.resp);
	while (size - off >= 3) {
		int op = data[off] & 3, ver = (data[off] >> 2) & 1, r;
		size_t len = (size_t)data[off + 1] << 8 | data[off + 2];
		struct kf_cur cur;

		off += 3;
		if (len > size - off)
			len = size - off;
		kc.hdr.api_version = (int16_t)ver;
		kf_cur_init(&cur, data + off, len);
		if (op == 0) {
			if (!kf_sasl_may_serve(&kc, KF_SASL_HANDSHAKE))
				break;
			r = kf_h_sasl_handshake(&kc, &cur, kc.resp);
		} else if (op == 1) {
			if (!kf_sasl_may_serve(&kc, KF_SASL_AUTHENTICATE))
				break;
			r = kf_h_sasl_authenticate(&kc, &cur, kc.resp);
		} else if (op == 2) {
			/* a bare token is only read after SaslHandshake v0 */
			if (!kc.sasl_raw)
				break;
			r = kf_sasl_raw_token(&kc, data + off, len, kc.resp);
		} else {
			/* after a handshake only SaslAuthenticate; before
			 * authentication a SASL listener serves only ApiVersions
			 * and the SASL requests */
			if (kc.sasl_step == KF_SASL_STEP_AUTH) {
				CHECK(kf_sasl_may_serve(&kc, KF_SASL_AUTHENTICATE));
				CHECK(!kf_sasl_may_serve(&kc, KF_API_VERSIONS));
			} else {
				CHECK(kf_sasl_may_serve(&kc, KF_API_VERSIONS));
				CHECK(kc.user || !kf_sasl_may_serve(&kc, KF_METADATA));
			}
			r = KF_R_DONE;
		}
		off += len;
		CHECK(evbuffer_get_length(kc.resp) <= 65536);
		evbuffer_drain(kc.resp, evbuffer_get_length(kc.resp));
		if (kc.user) {
			CHECK(kc.sasl_step == KF_SASL_STEP_DONE);
			CHECK(strcmp(kc.user, "alice") == 0);
		}
		if (r == KF_R_CLOSE || r == KF_R_DONE_CLOSE)
			break;
		CHECK(r == KF_R_DONE);
	}
	kf_sasl_conn_free(&kc);
	CHECK(!kc.user && !kc.scram);
	free(kc.vhost);
	evbuffer_free(kc.resp);
	return 0;
}
