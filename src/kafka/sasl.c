/*
 * SASL on the Kafka listener (KIP-43, KIP-152): SaslHandshake picks a
 * mechanism, SaslAuthenticate v0-2 (v2 flexible) carries its tokens (after a handshake
 * v0, as Kafka, the tokens come as bare size-prefixed frames instead).  PLAIN checks a
 * password against core's users (the ones AMQP logs in with);
 * SCRAM-SHA-256/512 (KIP-84) use the salted credentials core keeps next
 * to each user (core/scram.h).  The authenticated user is kept on the
 * connection (kc->user).  A name "vhost:user" authenticates user and
 * picks the vhost the connection acts in; the user must be allowed in it
 * (authz.c), else the authentication fails.  The connection is then one of
 * that user's in that vhost, as an AMQP one: listed in the registry
 * (/api/connections) and counted toward the user's and the vhost's
 * max-connections, which are checked once the credentials are good (a
 * refusal is SASL_AUTHENTICATION_FAILED with RabbitMQ's text).
 *
 * As Kafka: on a SASL_PLAINTEXT or SASL_SSL listener (every listener under
 * kafka_sasl_required), any request other than ApiVersions,
 * SaslHandshake and SaslAuthenticate before authentication closes the
 * connection; after a successful handshake only SaslAuthenticate may
 * follow; a failed authentication is answered with
 * SASL_AUTHENTICATION_FAILED and then the connection is closed; an
 * unsupported mechanism gets UNSUPPORTED_SASL_MECHANISM with the enabled
 * list, then the close.
 *
 * The cluster link's listener (TDM_KAFKA_CLUSTER) requires SASL the same
 * way but offers PLAIN only, whatever kafka_sasl_mechanisms says, and
 * knows one user: TDM_CLUSTER_LINK_USER, whose password is the cluster's
 * secret (compared in constant time).  That connection is no user's: it is
 * not in the registry and no limit counts it; it acts as the broker
 * (authz.c, kf_authz_trusted).  Core's users never log in there, and the
 * link's user logs in nowhere else.
 *
 * Must not depend on: src/amqp.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/broker.h"
#include "core/config.h"
#include "core/limits.h"
#include "core/log.h"
#include "core/registry.h"
#include "core/scram.h"
#include "kafka/kafka.h"
#include "kafka/kf.h"
#include "net/net.h"

static const char *const mech_names[KF_SASL_NMECH] = {
	[KF_SASL_PLAIN] = "PLAIN",
	[KF_SASL_SCRAM_SHA_256] = "SCRAM-SHA-256",
	[KF_SASL_SCRAM_SHA_512] = "SCRAM-SHA-512",
};

#define USER_MAX 256

static int mech_find(const char *p, size_t n)
{
	for (int m = 0; m < KF_SASL_NMECH; m++)
		if (strlen(mech_names[m]) == n && memcmp(mech_names[m], p, n) == 0)
			return m;
	return -1;
}

int kf_sasl_init(struct kf_server *srv)
{
	const char *p = srv->cfg->kafka_sasl_mechanisms ? srv->cfg->kafka_sasl_mechanisms : "";

	srv->sasl_mechs = 0;
	while (*p) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		int m = mech_find(p, n);

		if (m < 0) {
			tdm_error("kafka",
				  "kafka_sasl_mechanisms: unsupported mechanism '%.*s' "
				  "(PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)",
				  (int)n, p);
			return -1;
		}
		srv->sasl_mechs |= 1u << m;
		p += n;
		if (*p == ',')
			p++;
	}
	if (srv->cfg->kafka_sasl_required && !srv->sasl_mechs) {
		tdm_error("kafka", "kafka_sasl_required needs kafka_sasl_mechanisms");
		return -1;
	}
	return 0;
}

/* The mechanisms kc's listener offers (KF_SASL_* bits). */
static unsigned conn_mechs(const struct kf_conn *kc)
{
	return kc->security == TDM_KAFKA_CLUSTER ? 1u << KF_SASL_PLAIN : kc->srv->sasl_mechs;
}

int kf_sasl_may_serve(const struct kf_conn *kc, int16_t api_key)
{
	int required = kc->security == TDM_KAFKA_SASL_PLAINTEXT ||
		       kc->security == TDM_KAFKA_SASL_SSL || kc->security == TDM_KAFKA_CLUSTER ||
		       kc->srv->cfg->kafka_sasl_required;

	if (kc->sasl_step == KF_SASL_STEP_AUTH)
		return api_key == KF_SASL_AUTHENTICATE;
	if (kc->user || !required)
		return 1;
	return api_key == KF_API_VERSIONS || api_key == KF_SASL_HANDSHAKE ||
	       api_key == KF_SASL_AUTHENTICATE;
}

void kf_sasl_conn_free(struct kf_conn *kc)
{
	if (kc->user)
		tdm_registry_remove(kc);
	tdm_scram_server_free(kc->scram);
	kc->scram = NULL;
	free(kc->user);
	kc->user = NULL;
	free(kc->scram_user);
	kc->scram_user = NULL;
}

/* request: mechanism string.  response: error_code, [mechanisms string]. */
int kf_h_sasl_handshake(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_str mech = kf_get_str(cur);
	unsigned mechs = conn_mechs(kc);
	int m, n = 0;

	if (cur->bad || kf_cur_left(cur) != 0 || mech.len < 0)
		return KF_R_CLOSE;
	/* A second handshake (Kafka: IllegalSaslStateException) closes. */
	if (kc->sasl_step != KF_SASL_STEP_NONE || kc->user)
		return KF_R_CLOSE;
	m = mech_find(mech.p, (size_t)mech.len);
	if (m >= 0 && !(mechs & (1u << m)))
		m = -1;
	kf_put_i16(resp, m < 0 ? KF_ERR_UNSUPPORTED_SASL_MECHANISM : KF_ERR_NONE);
	for (int i = 0; i < KF_SASL_NMECH; i++)
		n += !!(mechs & (1u << i));
	kf_put_i32(resp, n);
	for (int i = 0; i < KF_SASL_NMECH; i++)
		if (mechs & (1u << i))
			kf_put_str(resp, mech_names[i]);
	if (m < 0) {
		tdm_info("kafka", "%s: unsupported SASL mechanism %.*s", kc->c->peer, (int)mech.len,
			 mech.p);
		return KF_R_DONE_CLOSE;
	}
	kc->sasl_step = KF_SASL_STEP_AUTH;
	kc->sasl_mech = m;
	kc->sasl_raw = kc->hdr.api_version == 0;
	return KF_R_DONE;
}

/* response: error_code, error_message s?, auth_bytes, session_lifetime_ms (v1+). */
static int auth_answer(struct kf_conn *kc, struct evbuffer *resp, const char *error,
		       const void *bytes, size_t len)
{
	if (kc->sasl_raw) {
		/* after SaslHandshake v0: the bare token, or a close */
		if (error) {
			tdm_info("kafka", "%s: SASL %s authentication failed: %s", kc->c->peer,
				 mech_names[kc->sasl_mech], error);
			kf_sasl_conn_free(kc);
			return KF_R_CLOSE;
		}
		if (kc->sasl_step == KF_SASL_STEP_DONE)
			kc->sasl_raw = 0;
		evbuffer_add(resp, bytes, len);
		return KF_R_DONE;
	}
	kf_put_i16(resp, error ? KF_ERR_SASL_AUTHENTICATION_FAILED : KF_ERR_NONE);
	kf_put_fstr(resp, kf_flex(kc), error);
	kf_put_fbytes(resp, kf_flex(kc), bytes, (int32_t)len);
	if (kc->hdr.api_version >= 1)
		kf_put_i64(resp, 0);
	kf_put_tags(resp, kf_flex(kc));
	if (error) {
		tdm_info("kafka", "%s: SASL %s authentication failed: %s", kc->c->peer,
			 mech_names[kc->sasl_mech], error);
		kf_sasl_conn_free(kc);
		kc->sasl_step = KF_SASL_STEP_DONE;
		return KF_R_DONE_CLOSE;
	}
	return KF_R_DONE;
}

/* ---- the registry: an authenticated connection is listed and counted --- */

static void reg_stats(void *ctx, struct tdm_conn_stats *out)
{
	const struct kf_conn *kc = ctx;

	out->send_oct = kc->c->bytes_out;
}

static void reg_close(void *ctx, const char *reason)
{
	struct kf_conn *kc = ctx;

	/* Kafka has no close frame: the reason is only logged */
	tdm_info("kafka", "%s: closing connection: %s", kc->c->peer, reason ? reason : "");
	kc->closing = 1;
	tdm_conn_close(kc->c);
}

static const struct tdm_reg_ops reg_ops = { .stats = reg_stats, .close = reg_close };

/*
 * user proved who it is.  0; -1 out of memory; -2 (why says why) when user
 * may not act in the connection's vhost or, as an AMQP connection.open,
 * when the vhost's or the user's max-connections is reached (RabbitMQ's
 * text).  Then the connection is listed in the registry.
 */
static int authenticated(struct kf_conn *kc, const char *user, char *why, size_t whylen)
{
	if (kf_authz_login(kc, user, why, whylen) < 0)
		return -2;
	if (kc->srv->broker) {
		struct tdm_err te = { 0 };
		const char *vh = kf_authz_vhost(kc);

		if (tdm_limits_check_connection(kc->srv->broker, user, vh, &te) != TDM_OK) {
			snprintf(why, whylen, "%s", te.text);
			return -2;
		}
	}
	free(kc->user);
	kc->user = strdup(user);
	if (!kc->user)
		return -1;
	kc->sasl_step = KF_SASL_STEP_DONE;
	tdm_info("kafka", "%s: user '%s' authenticated with SASL %s", kc->c->peer, user,
		 mech_names[kc->sasl_mech]);
	if (kc->srv->broker)
		tdm_registry_add(kc, &reg_ops, "Kafka", (int)bufferevent_getfd(kc->c->bev), user,
				 kf_authz_vhost(kc));
	return 0;
}

#define INVALID_PLAIN "Authentication failed: Invalid username or password"
#define INVALID_USER "Authentication failed: Invalid user credentials"

/* PLAIN on the cluster link: user[0..ulen) must be TDM_CLUSTER_LINK_USER
 * and pw[0..pwlen) the cluster's secret; the answer (the connection closes
 * after a refusal, as on the other listeners). */
static int cluster_plain(struct kf_conn *kc, const char *user, size_t ulen, const char *pw,
			 size_t pwlen, struct evbuffer *resp)
{
	/* core's check, the same for every front end's cluster listener */
	if (!tdm_auth_link_check(kc->srv->auth, user, ulen, pw, pwlen))
		return auth_answer(kc, resp, INVALID_PLAIN, NULL, 0);
	free(kc->user);
	if (!(kc->user = strdup(TDM_CLUSTER_LINK_USER)))
		return KF_R_CLOSE;
	kc->sasl_step = KF_SASL_STEP_DONE;
	tdm_info("kafka", "%s: cluster link authenticated", kc->c->peer);
	return auth_answer(kc, resp, NULL, NULL, 0);
}

/* PLAIN (RFC 4616): [authzid] NUL authcid NUL passwd. */
static int plain(struct kf_conn *kc, const uint8_t *p, size_t len, struct evbuffer *resp)
{
	const char *s = (const char *)p, *end = s + len, *u, *pw;
	const char *z1 = memchr(s, '\0', len), *z2;
	char user[USER_MAX], why[USER_MAX + 128];
	enum tdm_auth_result r;
	int loopback;

	if (!z1 || !(z2 = memchr(z1 + 1, '\0', (size_t)(end - z1 - 1))))
		return auth_answer(kc, resp, "Authentication failed: Invalid SASL/PLAIN response",
				   NULL, 0);
	u = z1 + 1;
	pw = z2 + 1;
	if ((size_t)(z2 - u) >= sizeof(user) || z2 == u || pw == end)
		return auth_answer(kc, resp, INVALID_PLAIN, NULL, 0);
	if (z1 != s && ((size_t)(z1 - s) != (size_t)(z2 - u) || memcmp(s, u, (size_t)(z2 - u))))
		return auth_answer(kc, resp,
				   "Authentication failed: Client requested an authorization id "
				   "that is different from username",
				   NULL, 0);
	if (kc->security == TDM_KAFKA_CLUSTER)
		return cluster_plain(kc, u, (size_t)(z2 - u), pw, (size_t)(end - pw), resp);
	if (kf_authz_sasl_name(kc, u, (size_t)(z2 - u), user, sizeof(user)) < 0)
		return auth_answer(kc, resp, INVALID_PLAIN, NULL, 0);
	loopback = kc->c->peer_loopback;
	r = kc->srv->auth ? tdm_auth_check(kc->srv->auth, user, strlen(user), pw,
					   (size_t)(end - pw), loopback)
			  : TDM_AUTH_BAD_CREDENTIALS;
	if (r != TDM_AUTH_OK)
		return auth_answer(kc, resp, INVALID_PLAIN, NULL, 0);
	switch (authenticated(kc, user, why, sizeof(why))) {
	case 0:
		return auth_answer(kc, resp, NULL, NULL, 0);
	case -2:
		return auth_answer(kc, resp, why, NULL, 0);
	default:
		return KF_R_CLOSE;
	}
}

static int scram(struct kf_conn *kc, const uint8_t *p, size_t len, struct evbuffer *resp)
{
	enum tdm_scram_mech m =
		kc->sasl_mech == KF_SASL_SCRAM_SHA_512 ? TDM_SCRAM_SHA512 : TDM_SCRAM_SHA256;
	char out[512], user[USER_MAX], name[USER_MAX], why[USER_MAX + 128];
	struct tdm_scram_cred cred;
	long n;
	int rc;

	if (!kc->scram) {
		/* client-first */
		kc->scram = tdm_scram_server_new(m);
		if (!kc->scram)
			return KF_R_CLOSE;
		rc = tdm_scram_server_start(kc->scram, (const char *)p, len, name, sizeof(name));
		if (rc < 0 || kf_authz_sasl_name(kc, name, strlen(name), user, sizeof(user)) < 0)
			return auth_answer(kc, resp,
					   "Authentication failed: Invalid SCRAM client "
					   "first message",
					   NULL, 0);
		rc = kc->srv->auth ? tdm_auth_scram_cred(kc->srv->auth, user, m, &cred) : -1;
		if (rc == -2)
			tdm_info("kafka",
				 "%s: user '%s' has no SCRAM credentials (only a RabbitMQ password "
				 "hash is known: set its password to derive them)",
				 kc->c->peer, user);
		if (rc < 0)
			return auth_answer(kc, resp, INVALID_USER, NULL, 0);
		n = tdm_scram_server_challenge(kc->scram, &cred, NULL, out, sizeof(out));
		explicit_bzero(&cred, sizeof(cred));
		if (n < 0)
			return auth_answer(kc, resp, "Authentication failed", NULL, 0);
		/* the user it authenticates on success */
		free(kc->scram_user);
		if (!(kc->scram_user = strdup(user)))
			return KF_R_CLOSE;
		kc->sasl_step = KF_SASL_STEP_AUTH;
		return auth_answer(kc, resp, NULL, out, (size_t)n);
	}
	/* client-final */
	n = tdm_scram_server_finish(kc->scram, (const char *)p, len, out, sizeof(out));
	tdm_scram_server_free(kc->scram);
	kc->scram = NULL;
	if (n < 0) {
		char msg[160];

		snprintf(msg, sizeof(msg),
			 "Authentication failed during authentication due to invalid credentials "
			 "with SASL mechanism %s",
			 mech_names[kc->sasl_mech]);
		return auth_answer(kc, resp, msg, NULL, 0);
	}
	snprintf(user, sizeof(user), "%s", kc->scram_user ? kc->scram_user : "");
	switch (authenticated(kc, user, why, sizeof(why))) {
	case 0:
		return auth_answer(kc, resp, NULL, out, (size_t)n);
	case -2:
		return auth_answer(kc, resp, why, NULL, 0);
	default:
		return KF_R_CLOSE;
	}
}

int kf_sasl_raw_token(struct kf_conn *kc, const uint8_t *p, size_t len, struct evbuffer *resp)
{
	if (kc->sasl_mech == KF_SASL_PLAIN || kc->security == TDM_KAFKA_CLUSTER)
		return plain(kc, p, len, resp);
	return scram(kc, p, len, resp);
}

/* request: auth_bytes bytes (v2: compact, tagged fields). */
int kf_h_sasl_authenticate(struct kf_conn *kc, struct kf_cur *cur, struct evbuffer *resp)
{
	struct kf_bytes b = kf_get_bytes(cur);
	int flex = kf_flex(kc);

	if (kf_decode_end(cur) < 0 || b.len < 0)
		return KF_R_CLOSE;
	if (kc->sasl_step != KF_SASL_STEP_AUTH) {
		/* Kafka answers ILLEGAL_SASL_STATE when no handshake chose a mechanism. */
		kf_put_i16(resp, KF_ERR_ILLEGAL_SASL_STATE);
		kf_put_fstr(resp, flex, "SaslAuthenticate request received before SaslHandshake");
		kf_put_fbytes(resp, flex, NULL, 0);
		if (kc->hdr.api_version >= 1)
			kf_put_i64(resp, 0);
		kf_put_tags(resp, flex);
		return KF_R_DONE_CLOSE;
	}
	if (kc->sasl_mech == KF_SASL_PLAIN || kc->security == TDM_KAFKA_CLUSTER)
		return plain(kc, b.p, (size_t)b.len, resp);
	return scram(kc, b.p, (size_t)b.len, resp);
}
