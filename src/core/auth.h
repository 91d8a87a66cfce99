/*
 * Users, password hashes and RabbitMQ's permissions: per user and vhost
 * three regular expressions (configure, write, read) matched against
 * resource names, and per user, vhost and exchange topic permissions (write,
 * read) matched against routing keys.  Patterns are POSIX extended regular
 * expressions (regcomp), searched unanchored as Erlang's re:run does.  Passwords are kept only as
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
 * replace it).  Copies what it needs from c; with cluster_port set, the
 * cluster's secret too (tdm_config_cluster_secret, for
 * tdm_auth_link_check).  NULL on error with err set (a user without
 * password or password_hash, a malformed hash, a user named
 * TDM_CLUSTER_LINK_USER, a bad cluster_secret_file, ENOMEM).
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

/* ---- the cluster link ---------------------------------------------------- */
/*
 * Who a connection authenticated with the cluster's secret acts as: the
 * broker itself.  Front ends pass this very pointer (never a copy of its
 * text, TDM_CLUSTER_LINK_USER) as the user of the checks here and in
 * core/access.h, which then allow everything: every vhost, configure,
 * write and read on every resource, every topic permission.  No user
 * record stands behind it: no user of that name can be created
 * (tdm_auth_name_reserved), so the name logs in nowhere with a password.
 */
extern const char tdm_auth_link_user[];
/* 1 when user is tdm_auth_link_user (the pointer, not the text). */
static inline int tdm_auth_is_link(const char *user)
{
	return user == tdm_auth_link_user;
}
/* 1 when name[0..len) is reserved (TDM_CLUSTER_LINK_USER): no user of
 * that name is created, restored or checked by password. */
int tdm_auth_name_reserved(const char *name, size_t len);
/*
 * The cluster link's login, shared by every front end's cluster listener:
 * 1 when user[0..user_len) is TDM_CLUSTER_LINK_USER and pass[0..pass_len)
 * the cluster's secret (compared in constant time w.r.t. its bytes), 0
 * otherwise (also when a has no secret: no cluster_port).
 */
int tdm_auth_link_check(const struct tdm_auth *a, const char *user, size_t user_len,
			const char *pass, size_t pass_len);

/* 1 when user may open vhost (it has a permission entry there, or the
 * every-vhost entry of the configuration's `vhosts = *`, or user is
 * tdm_auth_link_user); 0 otherwise.
 * vhost is compared whole, byte for byte: a vhost named "*" or "x,prod" is
 * just that name. */
int tdm_auth_vhost_allowed(const struct tdm_auth *a, const char *user, const char *vhost,
			   size_t vhost_len);

/* ---- permissions (RabbitMQ's model) ------------------------------------ */

/* Which of a user's three patterns on a vhost a check uses. */
enum tdm_perm { TDM_PERM_CONFIGURE, TDM_PERM_WRITE, TDM_PERM_READ };

/* Errors of the permission setters. */
enum {
	TDM_AUTH_E_NOUSER = -1, /* no such user */
	TDM_AUTH_E_REGEX = -2,  /* a pattern regcomp refuses, or an escape POSIX reads otherwise */
	TDM_AUTH_E_NOMEM = -3,
};

/*
 * 1 when user's pattern p on vhost (its own entry there, else its
 * every-vhost entry) matches the resource name[0..len) somewhere (an
 * unanchored search, as re:run; the pattern "" matches only ""); 0 when it
 * does not, or the user has no entry there or does not exist.  The name ""
 * (only the default exchange has it) is checked as "amq.default", as
 * rabbit_access_control does.  tdm_auth_link_user: always 1.
 */
int tdm_auth_permitted(const struct tdm_auth *a, const char *user, const char *vhost,
		       enum tdm_perm p, const char *name, size_t len);
/*
 * Topic permission check for a topic exchange: 1 when user has no topic
 * permission for exchange in vhost (RabbitMQ: no entry = allowed) or its
 * write (p = TDM_PERM_WRITE) or read (TDM_PERM_READ) pattern, after
 * {username} and {vhost} were replaced as RabbitMQ 3.10 does, matches
 * routing_key[0..len); 0 otherwise (and for an unknown user).
 * tdm_auth_link_user: always 1.
 */
int tdm_auth_topic_permitted(const struct tdm_auth *a, const char *user, const char *vhost,
			     const char *exchange, enum tdm_perm p, const char *routing_key,
			     size_t len);

/* 0 when pattern would be accepted by the setters below (as a topic
 * pattern of user on vhost when both are given, after expansion); else
 * TDM_AUTH_E_REGEX (or _NOMEM) with err naming the pattern and why. */
int tdm_auth_pattern_check(const char *pattern, const char *user, const char *vhost, char *err,
			   size_t errlen);
/*
 * Sets (replaces) user's configure/write/read patterns on vhost (NULL: its
 * every-vhost entry), compiled here once.  0; TDM_AUTH_E_NOUSER; TDM_AUTH_E_REGEX with err naming the
 * pattern and why (nothing changed); TDM_AUTH_E_NOMEM.  The caller checks
 * that vhost exists and persists the change.
 */
int tdm_auth_set_permissions(struct tdm_auth *a, const char *user, const char *vhost,
			     const char *configure, const char *write, const char *read, char *err,
			     size_t errlen);
/* Removes every permission and topic permission of user (a restore sets
 * them again).  0 or TDM_AUTH_E_NOUSER. */
int tdm_auth_reset_permissions(struct tdm_auth *a, const char *user);
/* Removes user's own entry on vhost (an every-vhost entry stays).  1
 * removed, 0 there was none, TDM_AUTH_E_NOUSER. */
int tdm_auth_clear_permissions(struct tdm_auth *a, const char *user, const char *vhost);

/* One permission entry; strings borrowed for the call.  vhost NULL is the
 * every-vhost entry (`users.NAME.vhosts = *`, the default user). */
struct tdm_perm_info {
	const char *user;
	const char *vhost;
	const char *configure, *write, *read; /* the patterns as given */
};
typedef void (*tdm_perm_fn)(const struct tdm_perm_info *p, void *ctx);
/* The entry that applies to user on vhost[0..len) (its own, else the
 * every-vhost one): 1 with out filled (borrowed until the next change), 0
 * when there is none. */
int tdm_auth_get_permissions(const struct tdm_auth *a, const char *user, const char *vhost,
			     size_t vhost_len, struct tdm_perm_info *out);
/* Calls fn for each entry of user (NULL: of every user), users in
 * configuration order, a user's every-vhost entry first. */
void tdm_auth_foreach_permission(const struct tdm_auth *a, const char *user, tdm_perm_fn fn,
				 void *ctx);

/*
 * Sets (replaces) user's topic permission on exchange in vhost: write and
 * read patterns on routing keys; {username} and {vhost} in them are
 * expanded here (the user and vhost are fixed per entry) before compiling.
 * Returns as tdm_auth_set_permissions.
 */
int tdm_auth_set_topic_permissions(struct tdm_auth *a, const char *user, const char *vhost,
				   const char *exchange, const char *write, const char *read,
				   char *err, size_t errlen);
/* Removes user's topic permissions in vhost on exchange (NULL: on every
 * exchange).  The number removed, or TDM_AUTH_E_NOUSER. */
int tdm_auth_clear_topic_permissions(struct tdm_auth *a, const char *user, const char *vhost,
				     const char *exchange);
struct tdm_topic_perm_info {
	const char *user, *vhost, *exchange;
	const char *write, *read; /* the patterns as given (not expanded) */
};
typedef void (*tdm_topic_perm_fn)(const struct tdm_topic_perm_info *t, void *ctx);
/* Calls fn for each topic permission of user (NULL: of every user). */
void tdm_auth_foreach_topic_permission(const struct tdm_auth *a, const char *user,
				       tdm_topic_perm_fn fn, void *ctx);

/* The user's tags (comma list, "" when none; borrowed), or NULL when there
 * is no such user. */
const char *tdm_auth_user_tags(const struct tdm_auth *a, const char *user);
/* A user as listed by the management API: no secrets. */
struct tdm_user_info {
	const char *name;
	const char *tags;    /* comma list */
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
 * vhosts.  0 (*created set), -1 ENOMEM, -2 a malformed hash or empty name,
 * -3 a reserved name (tdm_auth_name_reserved).
 */
int tdm_auth_put_user(struct tdm_auth *a, const char *name, const char *password,
		      const char *password_hash, const char *tags, int *created);
/* Restores a user as stored: hash "" = locked; ".*" permissions on vhosts
 * in the stored form of tdm_auth_user_record, or with raw_vhosts set the
 * older form (raw names split at commas, "*" = every vhost) of data
 * directories written before the stored form existed; its topic
 * permissions stay.  0, -1 ENOMEM, -2 a malformed hash, -3 a reserved
 * name. */
int tdm_auth_restore_user(struct tdm_auth *a, const char *name, const char *password_hash,
			  const char *tags, const char *vhosts, int raw_vhosts);
/* 0, or -1 when there is no such user. */
int tdm_auth_delete_user(struct tdm_auth *a, const char *name);
/* Gives user ".*" permissions on vhost (allow) when it has no entry there,
 * or removes its entry there (!allow); vhost is one name, whatever it holds
 * ("*" and "x,prod" included).  0 (*changed: 1 when something changed), -1
 * no such user or ENOMEM.  The every-vhost entry (the configuration's "*")
 * stays: nothing changes for a vhost it covers without an own entry. */
int tdm_auth_grant(struct tdm_auth *a, const char *user, const char *vhost, int allow,
		   int *changed);
/* The stored form of a user: hash_out gets its base64 hash ("" when
 * locked); tags and vhosts are borrowed (until the next call).  vhosts is a
 * comma list of the vhosts it has an entry on, names with '%', ',' and '*'
 * percent-escaped, a bare "*" meaning every vhost (the patterns themselves
 * are not in it).  -1 when there is no such user or ENOMEM. */
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

/* Sets user's SCRAM credentials (cred[TDM_SCRAM_NMECH], enum tdm_scram_mech
 * order) as stored by the definitions log.  0, or -1 no such user or
 * locked. */
int tdm_auth_restore_scram(struct tdm_auth *a, const char *user, const struct tdm_scram_cred *cred);

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
