/*
 * SCRAM-SHA-256/512 (RFC 5802, RFC 7677) as Kafka's KIP-84 uses it: the
 * credential derivation and the server side of one exchange.  See
 * core/scram.h.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include "core/scram.h"

/* OpenSSL's headers include pthread.h (for types only): see src/core/include.am. */
#define TDM_CORE_OPENSSL_HEADERS
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#undef TDM_CORE_OPENSSL_HEADERS
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/b64.h"

#define NONCE_MAX 256 /* client nonce + server nonce, characters */
#define BARE_MAX 1024 /* client-first-message-bare we keep */
#define SERVER_FIRST_MAX (NONCE_MAX + 2 * TDM_SCRAM_MAX_SALT + 64)

enum step { ST_START, ST_CHALLENGE, ST_FINISH, ST_DONE };

struct tdm_scram_server {
	enum tdm_scram_mech mech;
	enum step step;
	char gs2[BARE_MAX];
	size_t gs2_len;
	char bare[BARE_MAX];
	size_t bare_len;
	char nonce[NONCE_MAX + 1]; /* client nonce, then client + server nonce */
	size_t cnonce_len, nonce_len;
	char server_first[SERVER_FIRST_MAX];
	size_t server_first_len;
	struct tdm_scram_cred cred;
};

const char *tdm_scram_mech_name(enum tdm_scram_mech m)
{
	return m == TDM_SCRAM_SHA512 ? "SCRAM-SHA-512" : "SCRAM-SHA-256";
}

int tdm_scram_mech_from_name(const char *name, size_t len)
{
	for (int m = 0; m < TDM_SCRAM_NMECH; m++) {
		const char *n = tdm_scram_mech_name((enum tdm_scram_mech)m);

		if (strlen(n) == len && memcmp(n, name, len) == 0)
			return m;
	}
	return -1;
}

size_t tdm_scram_hash_len(enum tdm_scram_mech m)
{
	return m == TDM_SCRAM_SHA512 ? 64 : 32;
}

/* 1 when a and b are equal, in time independent of where they differ. */
static int ct_equal(const unsigned char *a, const unsigned char *b, size_t n)
{
	unsigned char d = 0;

	for (size_t i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

static const EVP_MD *mech_md(enum tdm_scram_mech m)
{
	return m == TDM_SCRAM_SHA512 ? EVP_sha512() : EVP_sha256();
}

static int hmac(enum tdm_scram_mech m, const unsigned char *key, size_t klen, const void *data,
		size_t dlen, unsigned char *out)
{
	unsigned int n = 0;

	return HMAC(mech_md(m), key, (int)klen, data, dlen, out, &n) ? 0 : -1;
}

static int digest(enum tdm_scram_mech m, const unsigned char *data, size_t len, unsigned char *out)
{
	return EVP_Digest(data, len, out, NULL, mech_md(m), NULL) == 1 ? 0 : -1;
}

int tdm_scram_derive(enum tdm_scram_mech m, const char *password, size_t pwlen,
		     const unsigned char *salt, size_t salt_len, uint32_t iterations,
		     struct tdm_scram_cred *out)
{
	unsigned char salted[TDM_SCRAM_MAX_HASH], client_key[TDM_SCRAM_MAX_HASH];
	size_t hl = tdm_scram_hash_len(m);
	int rc = -1;

	if ((unsigned)m >= TDM_SCRAM_NMECH || salt_len < 1 || salt_len > TDM_SCRAM_MAX_SALT ||
	    iterations < 1 || iterations > 0x7fffffff || pwlen > 0x7fffffff)
		return -1;
	memset(out, 0, sizeof(*out));
	memcpy(out->salt, salt, salt_len);
	out->salt_len = salt_len;
	out->iterations = iterations;
	if (PKCS5_PBKDF2_HMAC(password, (int)pwlen, salt, (int)salt_len, (int)iterations,
			      mech_md(m), (int)hl, salted) != 1)
		goto out;
	if (hmac(m, salted, hl, "Client Key", 10, client_key) < 0 ||
	    digest(m, client_key, hl, out->stored_key) < 0 ||
	    hmac(m, salted, hl, "Server Key", 10, out->server_key) < 0)
		goto out;
	rc = 0;
out:
	explicit_bzero(salted, sizeof(salted));
	explicit_bzero(client_key, sizeof(client_key));
	return rc;
}

int tdm_scram_new_cred(enum tdm_scram_mech m, const char *password, size_t pwlen,
		       struct tdm_scram_cred *out)
{
	unsigned char salt[TDM_SCRAM_SALT_LEN];

	if (RAND_bytes(salt, sizeof(salt)) != 1)
		return -1;
	return tdm_scram_derive(m, password, pwlen, salt, sizeof(salt), TDM_SCRAM_ITERATIONS, out);
}

/* ---- message parsing ----------------------------------------------------- */

/* The attribute starting at p (p[0] a letter, p[1] '='): its value up to
 * the next ',' or end.  Returns the value length; *next the rest. */
static size_t attr_value(const char *p, const char *end, const char **next)
{
	const char *c = memchr(p, ',', (size_t)(end - p));

	if (!c)
		c = end;
	*next = c < end ? c + 1 : end;
	return (size_t)(c - p);
}

/* A printable nonce: %x21-7E except ','. */
static int nonce_ok(const char *p, size_t n)
{
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x21 || p[i] > 0x7e || p[i] == ',')
			return 0;
	return 1;
}

long tdm_scram_unescape_name(const char *s, size_t len, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == ',' || c == '\0')
			return -1;
		if (c == '=') {
			if (len - i < 3)
				return -1;
			if (s[i + 1] == '2' && s[i + 2] == 'C')
				c = ',';
			else if (s[i + 1] == '3' && s[i + 2] == 'D')
				c = '=';
			else
				return -1;
			i += 2;
		}
		if (o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	if (cap == 0)
		return -1;
	out[o] = '\0';
	return (long)o;
}

int tdm_scram_parse_client_first(const char *msg, size_t len, struct tdm_scram_client_first *out)
{
	const char *p = msg, *end = msg + len, *next, *c;
	size_t n;

	memset(out, 0, sizeof(*out));
	if (len < 3 || (msg[0] != 'n' && msg[0] != 'y') || msg[1] != ',')
		return -1; /* "p=" (channel binding) and garbage alike */
	p = msg + 2;
	/* optional a=authzid, then ',' */
	c = memchr(p, ',', (size_t)(end - p));
	if (!c)
		return -1;
	if (c != p && (c - p < 2 || p[0] != 'a' || p[1] != '='))
		return -1;
	out->gs2 = msg;
	out->gs2_len = (size_t)(c + 1 - msg);
	p = c + 1;
	out->bare = p;
	out->bare_len = (size_t)(end - p);
	if (end - p < 2 || p[0] != 'n' || p[1] != '=')
		return -1; /* also refuses the reserved m= extension */
	n = attr_value(p + 2, end, &next);
	out->user = p + 2;
	out->user_len = n;
	if (n == 0 || memchr(out->user, '\0', n))
		return -1;
	p = next;
	if (end - p < 2 || p[0] != 'r' || p[1] != '=')
		return -1;
	n = attr_value(p + 2, end, &next);
	if (!nonce_ok(p + 2, n))
		return -1;
	out->nonce = p + 2;
	out->nonce_len = n;
	/* Extensions (Kafka's tokenauth=true) are not served. */
	if (next != end || (p + 2 + n) != end)
		return -1;
	return 0;
}

int tdm_scram_parse_client_final(const char *msg, size_t len, struct tdm_scram_client_final *out)
{
	const char *p = msg, *end = msg + len, *next, *proof;
	size_t n;
	char b64[TU_B64_LEN(TDM_SCRAM_MAX_HASH) + 1];
	long dl;

	memset(out, 0, sizeof(*out));
	if (len < 2 || p[0] != 'c' || p[1] != '=')
		return -1;
	n = attr_value(p + 2, end, &next);
	out->channel_binding = p + 2;
	out->channel_binding_len = n;
	p = next;
	if (end - p < 2 || p[0] != 'r' || p[1] != '=')
		return -1;
	n = attr_value(p + 2, end, &next);
	if (!nonce_ok(p + 2, n))
		return -1;
	out->nonce = p + 2;
	out->nonce_len = n;
	p = next;
	/* skip extensions up to the proof, which is last */
	while (p < end && !(end - p >= 2 && p[0] == 'p' && p[1] == '='))
		attr_value(p, end, &p);
	if (end - p < 2 || p[-1] != ',')
		return -1;
	out->without_proof_len = (size_t)(p - 1 - msg);
	proof = p + 2;
	n = attr_value(proof, end, &next);
	if (proof + n != end || n == 0 || n >= sizeof(b64) || n % 4 != 0)
		return -1;
	memcpy(b64, proof, n);
	dl = tu_b64_decode(b64, n, b64);
	if (dl <= 0 || (size_t)dl > TDM_SCRAM_MAX_HASH)
		return -1;
	memcpy(out->proof, b64, (size_t)dl);
	out->proof_len = (size_t)dl;
	return 0;
}

/* ---- the exchange ---------------------------------------------------------- */

struct tdm_scram_server *tdm_scram_server_new(enum tdm_scram_mech m)
{
	struct tdm_scram_server *s;

	if ((unsigned)m >= TDM_SCRAM_NMECH)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (s)
		s->mech = m;
	return s;
}

void tdm_scram_server_free(struct tdm_scram_server *s)
{
	if (!s)
		return;
	explicit_bzero(s, sizeof(*s));
	free(s);
}

int tdm_scram_server_start(struct tdm_scram_server *s, const char *msg, size_t len, char *user,
			   size_t cap)
{
	struct tdm_scram_client_first cf;

	if (s->step != ST_START || tdm_scram_parse_client_first(msg, len, &cf) < 0 ||
	    cf.bare_len >= sizeof(s->bare) || cf.gs2_len >= sizeof(s->gs2) ||
	    cf.nonce_len > NONCE_MAX / 2 ||
	    tdm_scram_unescape_name(cf.user, cf.user_len, user, cap) < 0)
		return -1;
	memcpy(s->gs2, cf.gs2, cf.gs2_len);
	s->gs2_len = cf.gs2_len;
	memcpy(s->bare, cf.bare, cf.bare_len);
	s->bare_len = cf.bare_len;
	memcpy(s->nonce, cf.nonce, cf.nonce_len);
	s->cnonce_len = cf.nonce_len;
	s->step = ST_CHALLENGE;
	return 0;
}

long tdm_scram_server_challenge(struct tdm_scram_server *s, const struct tdm_scram_cred *cred,
				const char *snonce, char *out, size_t cap)
{
	char rnd_b64[TU_B64_LEN(24) + 1], salt_b64[TU_B64_LEN(TDM_SCRAM_MAX_SALT) + 1];
	unsigned char rnd[24];
	size_t sn;
	int n;

	if (s->step != ST_CHALLENGE || cred->salt_len < 1 || cred->salt_len > TDM_SCRAM_MAX_SALT)
		return -1;
	if (!snonce) {
		if (RAND_bytes(rnd, sizeof(rnd)) != 1)
			return -1;
		tu_b64_encode(rnd, sizeof(rnd), rnd_b64);
		snonce = rnd_b64;
	}
	sn = strlen(snonce);
	if (sn == 0 || s->cnonce_len + sn > NONCE_MAX || !nonce_ok(snonce, sn))
		return -1;
	memcpy(s->nonce + s->cnonce_len, snonce, sn);
	s->nonce_len = s->cnonce_len + sn;
	s->nonce[s->nonce_len] = '\0';
	s->cred = *cred;
	tu_b64_encode(cred->salt, cred->salt_len, salt_b64);
	n = snprintf(s->server_first, sizeof(s->server_first), "r=%s,s=%s,i=%u", s->nonce, salt_b64,
		     (unsigned)cred->iterations);
	if (n < 0 || (size_t)n >= sizeof(s->server_first) || (size_t)n > cap)
		return -1;
	s->server_first_len = (size_t)n;
	memcpy(out, s->server_first, (size_t)n);
	s->step = ST_FINISH;
	return n;
}

long tdm_scram_server_finish(struct tdm_scram_server *s, const char *msg, size_t len, char *out,
			     size_t cap)
{
	struct tdm_scram_client_final cf;
	char cb[TU_B64_LEN(BARE_MAX) + 1];
	unsigned char *auth_msg = NULL, sig[TDM_SCRAM_MAX_HASH], key[TDM_SCRAM_MAX_HASH];
	unsigned char check[TDM_SCRAM_MAX_HASH];
	size_t hl = tdm_scram_hash_len(s->mech), am_len, cbl;
	char v[TU_B64_LEN(TDM_SCRAM_MAX_HASH) + 1];
	long rc = -1;

	if (s->step != ST_FINISH || tdm_scram_parse_client_final(msg, len, &cf) < 0)
		goto out;
	/* The nonce must end with ours, as Kafka checks it (endsWith): librdkafka
	 * up to 2.x sends its own nonce again in front of the server's. */
	s->step = ST_DONE;
	cbl = tu_b64_encode(s->gs2, s->gs2_len, cb);
	if (cf.channel_binding_len != cbl || memcmp(cf.channel_binding, cb, cbl) != 0 ||
	    cf.nonce_len < s->nonce_len ||
	    memcmp(cf.nonce + cf.nonce_len - s->nonce_len, s->nonce, s->nonce_len) != 0 ||
	    cf.proof_len != hl)
		goto out;
	/* AuthMessage = client-first-bare "," server-first "," client-final-without-proof */
	am_len = s->bare_len + 1 + s->server_first_len + 1 + cf.without_proof_len;
	auth_msg = malloc(am_len);
	if (!auth_msg)
		goto out;
	memcpy(auth_msg, s->bare, s->bare_len);
	auth_msg[s->bare_len] = ',';
	memcpy(auth_msg + s->bare_len + 1, s->server_first, s->server_first_len);
	auth_msg[s->bare_len + 1 + s->server_first_len] = ',';
	memcpy(auth_msg + s->bare_len + 2 + s->server_first_len, msg, cf.without_proof_len);
	/* ClientKey = proof XOR HMAC(StoredKey, AuthMessage); H(ClientKey) must be StoredKey */
	if (hmac(s->mech, s->cred.stored_key, hl, auth_msg, am_len, sig) < 0)
		goto out;
	for (size_t i = 0; i < hl; i++)
		key[i] = cf.proof[i] ^ sig[i];
	if (digest(s->mech, key, hl, check) < 0)
		goto out;
	if (!ct_equal(check, s->cred.stored_key, hl)) {
		rc = -2;
		goto out;
	}
	if (hmac(s->mech, s->cred.server_key, hl, auth_msg, am_len, sig) < 0)
		goto out;
	if (2 + TU_B64_LEN(hl) > cap)
		goto out;
	memcpy(out, "v=", 2);
	rc = 2 + (long)tu_b64_encode(sig, hl, v);
	memcpy(out + 2, v, (size_t)rc - 2);
out:
	free(auth_msg);
	explicit_bzero(key, sizeof(key));
	return rc;
}
