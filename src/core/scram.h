/*
 * SCRAM (RFC 5802) with SHA-256 and SHA-512 (RFC 7677), as Kafka's KIP-84:
 * salted credentials (salt, iterations, StoredKey, ServerKey) derived from
 * a password, and the server side of one exchange (client-first,
 * server-first, client-final, server-final).  No channel binding; the
 * client-first extensions Kafka knows (tokenauth) are refused.
 *
 * Uses OpenSSL's libcrypto (PBKDF2, HMAC, digests, RAND_bytes).
 *
 * Must not depend on: libevent, protocol front ends.
 */
#ifndef TANDEM_CORE_SCRAM_H
#define TANDEM_CORE_SCRAM_H

#include <stddef.h>
#include <stdint.h>

enum tdm_scram_mech { TDM_SCRAM_SHA256 = 0, TDM_SCRAM_SHA512 = 1, TDM_SCRAM_NMECH };

#define TDM_SCRAM_MAX_HASH 64
#define TDM_SCRAM_MAX_SALT 32
#define TDM_SCRAM_SALT_LEN 16     /* salt of the credentials we derive */
#define TDM_SCRAM_ITERATIONS 4096 /* Kafka's minimum and default */

/* One user's stored credential for one mechanism (no password). */
struct tdm_scram_cred {
	unsigned char salt[TDM_SCRAM_MAX_SALT];
	size_t salt_len;
	uint32_t iterations;
	unsigned char stored_key[TDM_SCRAM_MAX_HASH];
	unsigned char server_key[TDM_SCRAM_MAX_HASH];
};

/* "SCRAM-SHA-256" / "SCRAM-SHA-512". */
const char *tdm_scram_mech_name(enum tdm_scram_mech m);
/* The mechanism named name[0..len) exactly, or -1. */
int tdm_scram_mech_from_name(const char *name, size_t len);
/* Digest size of m: 32 or 64. */
size_t tdm_scram_hash_len(enum tdm_scram_mech m);

/*
 * Derives out from password with the given salt (1..TDM_SCRAM_MAX_SALT
 * bytes) and iterations (>= 1): SaltedPassword = PBKDF2(password, salt,
 * i), StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey =
 * HMAC(SaltedPassword, "Server Key").  0, or -1 on a bad argument or a
 * libcrypto failure.
 */
int tdm_scram_derive(enum tdm_scram_mech m, const char *password, size_t pwlen,
		     const unsigned char *salt, size_t salt_len, uint32_t iterations,
		     struct tdm_scram_cred *out);
/* The same with a random salt of TDM_SCRAM_SALT_LEN bytes and
 * TDM_SCRAM_ITERATIONS.  0 or -1. */
int tdm_scram_new_cred(enum tdm_scram_mech m, const char *password, size_t pwlen,
		       struct tdm_scram_cred *out);

/* The parts of a client-first message; slices into the message. */
struct tdm_scram_client_first {
	const char *gs2; /* "n,," or "y,," (with a=authzid when given) */
	size_t gs2_len;
	const char *bare; /* client-first-message-bare: n=...,r=... */
	size_t bare_len;
	const char *user; /* saslname as sent (=2C and =3D escapes) */
	size_t user_len;
	const char *nonce;
	size_t nonce_len;
};
/* Parses "gs2-header client-first-bare".  0, or -1 when malformed, when
 * channel binding is asked ("p="), or when an extension is present. */
int tdm_scram_parse_client_first(const char *msg, size_t len, struct tdm_scram_client_first *out);

/* The parts of a client-final message; slices into the message. */
struct tdm_scram_client_final {
	const char *channel_binding; /* c= value, base64 */
	size_t channel_binding_len;
	const char *nonce; /* r= value */
	size_t nonce_len;
	size_t without_proof_len; /* bytes before ",p=" */
	unsigned char proof[TDM_SCRAM_MAX_HASH];
	size_t proof_len;
};
/* Parses "c=...,r=...[,ext...],p=...".  0 or -1 when malformed. */
int tdm_scram_parse_client_final(const char *msg, size_t len, struct tdm_scram_client_final *out);

/* Unescapes a saslname (=2C -> ',', =3D -> '=') into out (NUL-terminated).
 * Its length, or -1 when malformed or longer than cap - 1. */
long tdm_scram_unescape_name(const char *s, size_t len, char *out, size_t cap);

struct tdm_scram_server; /* opaque: one exchange */

/* A new exchange for m, or NULL on ENOMEM.  Free with tdm_scram_server_free. */
struct tdm_scram_server *tdm_scram_server_new(enum tdm_scram_mech m);
void tdm_scram_server_free(struct tdm_scram_server *s);
/*
 * Step 1: takes the client-first message and writes the (unescaped)
 * user name to user (cap bytes, NUL-terminated).  0, or -1 when the
 * message is malformed or the name does not fit.
 */
int tdm_scram_server_start(struct tdm_scram_server *s, const char *msg, size_t len, char *user,
			   size_t cap);
/*
 * Step 2: the server-first message for the user's credential cred
 * (copied), with snonce as the server's part of the nonce (NULL: 24
 * random bytes, base64).  Writes it to out; its length, or -1 (no room,
 * no randomness, called out of order).
 */
long tdm_scram_server_challenge(struct tdm_scram_server *s, const struct tdm_scram_cred *cred,
				const char *snonce, char *out, size_t cap);
/*
 * Step 3: checks the client-final message.  Writes the server-final
 * message ("v=...") to out and returns its length; -1 when malformed or
 * out of order (including a channel binding that does not match or a
 * nonce that does not end with the exchange's nonce, Kafka's check), -2 when the proof is wrong (bad password).
 */
long tdm_scram_server_finish(struct tdm_scram_server *s, const char *msg, size_t len, char *out,
			     size_t cap);

#endif
