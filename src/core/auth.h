/*
 * Users, password hashes and vhost permissions.  Passwords are kept only as
 * RabbitMQ's rabbit_password_hashing_sha256 form: a 4-byte random salt and
 * SHA-256(salt || password), base64-encoded together; a user whose plain
 * password was given also keeps Kafka's salted SCRAM credentials
 * (core/scram.h) for SCRAM-SHA-256 and SCRAM-SHA-512.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#ifndef TANDEM_CORE_AUTH_H
#define TANDEM_CORE_AUTH_H

#include <stddef.h>
#include "core/config.h"

struct tdm_auth; /* opaque */

enum tdm_auth_result {
	TDM_AUTH_OK = 0,
	TDM_AUTH_BAD_CREDENTIALS = -1, /* unknown user or wrong password */
	TDM_AUTH_LOOPBACK_ONLY = -2,   /* user in loopback_users, peer not loopback */
};

/*
 * Builds the user table from the config: default_user (unless empty) with
 * default_pass, vhosts "*" and tag administrator, then users.* (which may
 * replace it).  Copies what it needs from c.  NULL on error with err set
 * (a user without password or password_hash, a malformed hash, ENOMEM).
 */
struct tdm_auth *tdm_auth_new(const struct tdm_config *c, char *err, size_t errlen);
void tdm_auth_free(struct tdm_auth *a);
/*
 * Adds or replaces a user with a plain password (hashed here with a random
 * salt; the plain text is not kept).  vhosts NULL = "/", tags NULL = "".
 * 0, or -1 on ENOMEM, no random bytes from libcrypto, or an empty name or password.
 */
int tdm_auth_add_user(struct tdm_auth *a, const char *name, const char *password,
		      const char *vhosts, const char *tags);
/*
 * Checks credentials in constant time w.r.t. the password bytes (an unknown
 * user costs the same hash).  LOOPBACK_ONLY only when the password matched.
 */
enum tdm_auth_result tdm_auth_check(const struct tdm_auth *a, const char *user, size_t user_len,
				    const char *pass, size_t pass_len, int peer_is_loopback);
/* 1 when user may open vhost (listed in the user's vhosts, or the user has
 * every vhost: the configuration's "*"); 0 otherwise.  vhost is compared
 * whole, byte for byte: a vhost named "*" or "x,prod" is just that name. */
int tdm_auth_vhost_allowed(const struct tdm_auth *a, const char *user, const char *vhost,
			   size_t vhost_len);

/* The user's tags (comma list, "" when none; borrowed), or NULL when there
 * is no such user. */
const char *tdm_auth_user_tags(const struct tdm_auth *a, const char *user);
/* A user as listed by the management API: no secrets. */
struct tdm_user_info {
	const char *name;
	const char *tags;    /* comma list */
	const char *vhosts;  /* stored form, see tdm_auth_user_record */
	int locked;          /* no password login */
};
typedef void (*tdm_user_fn)(const struct tdm_user_info *u, void *ctx);
/* Calls fn for every user, in configuration order (strings borrowed for the call). */
void tdm_auth_foreach_user(const struct tdm_auth *a, tdm_user_fn fn, void *ctx);

/*
 * Changes at run time (the management API; the caller persists them, see
 * core/durable.h).  tdm_auth_put_user adds or updates name with a plain
 * password, or a rabbit_password_hashing_sha256 hash ("" = no password
 * login), or neither (an update keeps the password; a new user gets none);
 * a new user may open no vhost until granted one, an update keeps its
 * vhosts.  0 (*created set), -1 ENOMEM, -2 a malformed hash or empty name.
 */
int tdm_auth_put_user(struct tdm_auth *a, const char *name, const char *password,
		      const char *password_hash, const char *tags, int *created);
/* Restores a user as stored: hash "" = locked; vhosts in the stored form of
 * tdm_auth_user_record, or with raw_vhosts set the older form (raw names
 * split at commas, "*" = every vhost) of data directories written before
 * the stored form existed.  0, -1 ENOMEM, -2 a malformed hash. */
int tdm_auth_restore_user(struct tdm_auth *a, const char *name, const char *password_hash,
			  const char *tags, const char *vhosts, int raw_vhosts);
/* 0, or -1 when there is no such user. */
int tdm_auth_delete_user(struct tdm_auth *a, const char *name);
/* Lets user open vhost (allow) or not; vhost is one name, whatever it holds
 * ("*" and "x,prod" included).  0 (*changed: 1 when the list changed), -1
 * no such user or ENOMEM.  A user with every vhost (the configuration's
 * "*") keeps it: nothing changes. */
int tdm_auth_grant(struct tdm_auth *a, const char *user, const char *vhost, int allow,
		   int *changed);
/* The stored form of a user: hash_out gets its base64 hash ("" when
 * locked); tags and vhosts are borrowed.  vhosts is a comma list of names
 * with '%', ',' and '*' percent-escaped, a bare "*" meaning every vhost.
 * -1 when there is no such user. */
int tdm_auth_user_record(const struct tdm_auth *a, const char *name,
			 char hash_out[49], const char **tags, const char **vhosts);

struct tdm_scram_cred;
/*
 * The SCRAM credential (core/scram.h) of user for mechanism mech (enum
 * tdm_scram_mech), copied to out.  A user gets them whenever a plain
 * password is set (users.NAME.password, tdm_auth_add_user,
 * tdm_auth_put_user with a password); a user known only by a RabbitMQ
 * password_hash has none (they cannot be derived from that hash).
 * 0; -1 no such user or locked; -2 the user has no SCRAM credentials.
 */
int tdm_auth_scram_cred(const struct tdm_auth *a, const char *user, int mech,
			struct tdm_scram_cred *out);

/* SHA-256 (FIPS 180-4) of data, from libcrypto.  libcrypto failing (out of
 * memory) ends the process: a wrong digest would name the wrong thing. */
void tdm_sha256(const void *data, size_t len, unsigned char out[32]);
/* base64 of 4 + 32 bytes is 48 characters, plus the terminating NUL. */
#define TDM_PASSWORD_HASH_SIZE 49
/*
 * The RabbitMQ-format hash of password with the given salt, NUL-terminated:
 * base64(salt || SHA-256(salt || pw)), as rabbit_password:hash/2 with
 * rabbit_password_hashing_sha256.
 */
void tdm_password_hash(const unsigned char salt[4], const char *pw, size_t pwlen,
		       char out[TDM_PASSWORD_HASH_SIZE]);

#endif
