/*
 * Users, password checks and vhost permissions.  A password is kept only as
 * RabbitMQ's rabbit_password_hashing_sha256 form, 4-byte salt followed by
 * SHA-256(salt || password), so a password_hash from `rabbitmqctl
 * export_definitions` works unchanged and ours can be imported there.
 * The user table is a small array scanned linearly: brokers have a handful
 * of users and lookups happen once per connection.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/log.h"
#include "core/scram.h"

/* OpenSSL's headers include pthread.h (for types only): see src/core/include.am. */
#define TDM_CORE_OPENSSL_HEADERS
#include <openssl/evp.h>
#include <openssl/rand.h>
#undef TDM_CORE_OPENSSL_HEADERS
#include "util/b64.h"
#include "util/errf.h"
#include "util/hex.h"

#define SALT_LEN 4
#define DIGEST_LEN 32
#define HASH_LEN (SALT_LEN + DIGEST_LEN)

struct auth_user {
	char *name;                   /* owned */
	size_t name_len;
	unsigned char hash[HASH_LEN]; /* salt || SHA-256(salt || password) */
	int locked;                   /* no password login (empty password_hash) */
	int loopback_only;            /* listed in loopback_users */
	int has_scram;                /* scram[] derived from a plain password */
	struct tdm_scram_cred scram[TDM_SCRAM_NMECH];
	char *vhosts;                 /* owned; stored form (see below) */
	char *tags;                   /* owned */
};

struct tdm_auth {
	struct auth_user *users; /* owned array */
	size_t nusers;
	char *loopback_users;    /* owned copy of the config's comma list */
};



/* Decodes exactly HASH_LEN bytes from the 48 characters RabbitMQ writes. 0 or -1. */
static int b64_decode_hash(const char *s, unsigned char out[HASH_LEN])
{
	if (strlen(s) != 4 * HASH_LEN / 3)
		return -1;
	return tu_b64_decode(s, 4 * HASH_LEN / 3, out) == HASH_LEN ? 0 : -1;
}

/*
 * SHA-256(salt || pw) with libcrypto, fed in two pieces so the password is
 * never copied into a joined buffer.  libcrypto can fail only for want of
 * memory; the digest is then random bytes, which no password matches: a
 * check fails and a stored hash locks the user out, never the reverse.
 */
static void salted_digest(const unsigned char salt[SALT_LEN], const char *pw, size_t pwlen,
			  unsigned char out[DIGEST_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
	    EVP_DigestUpdate(ctx, salt, SALT_LEN) == 1 && EVP_DigestUpdate(ctx, pw, pwlen) == 1 &&
	    EVP_DigestFinal_ex(ctx, out, &n) == 1 && n == DIGEST_LEN) {
		EVP_MD_CTX_free(ctx);
		return;
	}
	EVP_MD_CTX_free(ctx);
	tdm_error("auth", "libcrypto could not compute SHA-256: password check fails");
	if (RAND_bytes(out, DIGEST_LEN) != 1)
		abort(); /* neither digest nor random bytes: no safe answer is left */
}

void tdm_sha256(const void *data, size_t len, unsigned char out[32])
{
	unsigned int n = 0;

	if (EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32) {
		tdm_error("core", "libcrypto could not compute SHA-256");
		abort(); /* a wrong digest would silently name the wrong thing */
	}
}

void tdm_password_hash(const unsigned char salt[4], const char *pw, size_t pwlen,
		       char out[TDM_PASSWORD_HASH_SIZE])
{
	unsigned char raw[HASH_LEN];

	memcpy(raw, salt, SALT_LEN);
	salted_digest(salt, pw, pwlen, raw + SALT_LEN);
	tu_b64_encode(raw, sizeof(raw), out);
	explicit_bzero(raw, sizeof(raw));
}

/* Compares without an early exit, so timing says nothing about where bytes differ. */
static int ct_equal(const unsigned char *a, const unsigned char *b, size_t n)
{
	volatile unsigned char diff = 0;
	size_t i;

	for (i = 0; i < n; i++)
		diff |= a[i] ^ b[i];
	return diff == 0;
}

/* Salts from libcrypto's CSPRNG (seeded from the kernel). 0 or -1. */
static int fill_random(unsigned char *buf, size_t len)
{
	return len <= 1024 && RAND_bytes(buf, (int)len) == 1 ? 0 : -1;
}

/* 1 when the comma list (raw names, as the configuration's) holds item. */
static int list_has(const char *list, const char *item, size_t len)
{
	const char *p = list;

	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if (n == len && memcmp(p, item, len) == 0)
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

/*
 * A user's vhosts are kept in a stored form: a comma list in which every
 * name has '%', ',' and '*' percent-escaped ("x,prod" is "x%2Cprod", a vhost
 * named "*" is "%2A"), so any vhost name is exactly one item, and a bare "*"
 * item (only ever from the configuration's `vhosts = *`) means every vhost.
 * Escaping is canonical (upper-case hex), so stored items compare as text.
 */
static int vhost_needs_escape(char c)
{
	return c == '%' || c == ',' || c == '*';
}

/* The stored form of one vhost name: malloc'd, or NULL (ENOMEM). */
static char *vhost_escape(const char *name, size_t len)
{
	char *out = malloc(3 * len + 1), *o = out;

	if (!out)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		if (vhost_needs_escape((char)c)) {
			*o++ = '%';
			*o++ = tu_hex_upper(c >> 4);
			*o++ = tu_hex_upper(c);
		} else {
			*o++ = (char)c;
		}
	}
	*o = '\0';
	return out;
}

/* 1 when the stored item p[0..n) names exactly the vhost name[0..len). */
static int vhost_item_is(const char *p, size_t n, const char *name, size_t len)
{
	size_t i = 0, o = 0;

	while (i < n) {
		int c = (unsigned char)p[i];

		if (c == '%') {
			int hi = i + 2 < n ? tu_hex_value(p[i + 1]) : -1;
			int lo = hi >= 0 ? tu_hex_value(p[i + 2]) : -1;

			if (lo < 0)
				return 0;
			c = hi << 4 | lo;
			i += 3;
		} else {
			i++;
		}
		if (o == len || (unsigned char)name[o] != c)
			return 0;
		o++;
	}
	return o == len;
}

/* 1 when the stored list has the bare "*" item (every vhost). */
static int vhosts_all(const char *list)
{
	return list_has(list, "*", 1);
}

/* 1 when the stored list lets the user open vhost name[0..len). */
static int vhosts_allow(const char *list, const char *name, size_t len)
{
	const char *p = list;

	while (p && *p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);

		if ((n == 1 && *p == '*') || vhost_item_is(p, n, name, len))
			return 1;
		p = e ? e + 1 : NULL;
	}
	return 0;
}

/*
 * The stored form of a list of raw names as the configuration (and data
 * directories written before the stored form) give them: items split at
 * commas, "*" = every vhost.  malloc'd, or NULL (ENOMEM).
 */
static char *vhosts_from_raw(const char *raw)
{
	size_t cap = 3 * strlen(raw) + 1, o = 0;
	char *out = malloc(cap);
	const char *p = raw;

	if (!out)
		return NULL;
	while (*p) {
		size_t n = strcspn(p, ",");
		char *item = n == 1 && *p == '*' ? strdup("*") : vhost_escape(p, n);

		if (!item) {
			free(out);
			return NULL;
		}
		if (*item) {
			if (o)
				out[o++] = ',';
			memcpy(out + o, item, strlen(item));
			o += strlen(item);
		}
		free(item);
		p += n;
		if (*p == ',')
			p++;
	}
	out[o] = '\0';
	return out;
}

static struct auth_user *find_user(const struct tdm_auth *a, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < a->nusers; i++)
		if (a->users[i].name_len == len && memcmp(a->users[i].name, name, len) == 0)
			return &a->users[i];
	return NULL;
}

/* Derives name's SCRAM credentials (every mechanism) from its plain
 * password, as Kafka stores them.  0, or -1 (no such user, libcrypto). */
static int set_scram(struct tdm_auth *a, const char *name, const char *password)
{
	struct auth_user *u = find_user(a, name, strlen(name));

	if (!u)
		return -1;
	for (int m = 0; m < TDM_SCRAM_NMECH; m++)
		if (tdm_scram_new_cred((enum tdm_scram_mech)m, password, strlen(password),
				       &u->scram[m]) < 0)
			return -1;
	u->has_scram = 1;
	return 0;
}

static void user_clear(struct auth_user *u)
{
	free(u->name);
	free(u->vhosts);
	free(u->tags);
	explicit_bzero(u, sizeof(*u));
}

/*
 * Adds or replaces name with the given raw hash (NULL = locked account) and
 * vhosts in stored form (NULL = "/").  Copies every string.  0 or -1 (ENOMEM).
 */
static int put_user(struct tdm_auth *a, const char *name, const unsigned char *hash,
		    const char *vhosts, const char *tags)
{
	struct auth_user nu, *u;

	memset(&nu, 0, sizeof(nu));
	nu.name_len = strlen(name);
	nu.name = strdup(name);
	nu.vhosts = strdup(vhosts ? vhosts : "/");
	nu.tags = strdup(tags ? tags : "");
	if (!nu.name || !nu.vhosts || !nu.tags)
		goto fail;
	if (hash)
		memcpy(nu.hash, hash, HASH_LEN);
	else
		nu.locked = 1;
	nu.loopback_only = list_has(a->loopback_users, name, nu.name_len);

	u = find_user(a, name, nu.name_len);
	if (u) {
		user_clear(u);
	} else {
		u = realloc(a->users, (a->nusers + 1) * sizeof(*u));
		if (!u)
			goto fail;
		a->users = u;
		u = &a->users[a->nusers++];
	}
	*u = nu;
	return 0;
fail:
	user_clear(&nu);
	return -1;
}

int tdm_auth_add_user(struct tdm_auth *a, const char *name, const char *password,
		      const char *vhosts, const char *tags)
{
	unsigned char hash[HASH_LEN];
	char *stored = NULL;
	int rc = -1;

	/* As RabbitMQ's internal backend: an empty password never logs in. */
	if (!name || !*name || !password || !*password)
		return -1;
	if (fill_random(hash, SALT_LEN) < 0)
		goto out;
	salted_digest(hash, password, strlen(password), hash + SALT_LEN);
	stored = vhosts ? vhosts_from_raw(vhosts) : NULL;
	if (vhosts && !stored)
		goto out;
	rc = put_user(a, name, hash, stored, tags);
	if (rc == 0)
		rc = set_scram(a, name, password);
out:
	free(stored);
	explicit_bzero(hash, sizeof(hash));
	return rc;
}

struct tdm_auth *tdm_auth_new(const struct tdm_config *c, char *err, size_t errlen)
{
	struct tdm_auth *a = calloc(1, sizeof(*a));
	size_t i;

	if (!a)
		goto nomem;
	a->loopback_users = strdup(c->loopback_users ? c->loopback_users : "");
	if (!a->loopback_users)
		goto nomem;
	if (c->default_user && *c->default_user) {
		if (!c->default_pass || !*c->default_pass) {
			tu_errf(err, errlen, "default_pass must not be empty");
			goto fail;
		}
		if (tdm_auth_add_user(a, c->default_user, c->default_pass, "*", "administrator") < 0)
			goto nomem;
	}
	for (i = 0; i < c->nusers; i++) {
		const struct tdm_user_conf *uc = &c->users[i];
		unsigned char hash[HASH_LEN];

		if (uc->password && uc->password_hash) {
			tu_errf(err, errlen, "users.%s: set password or password_hash, not both",
				uc->name);
			goto fail;
		}
		if (uc->password) {
			if (tdm_auth_add_user(a, uc->name, uc->password, uc->vhosts, uc->tags) < 0) {
				tu_errf(err, errlen, "users.%s: cannot add user", uc->name);
				goto fail;
			}
			continue;
		}
		if (!uc->password_hash) {
			tu_errf(err, errlen, "users.%s: needs password or password_hash", uc->name);
			goto fail;
		}
		if (*uc->password_hash && b64_decode_hash(uc->password_hash, hash) < 0) {
			tu_errf(err, errlen,
				"users.%s.password_hash: not a rabbit_password_hashing_sha256 hash",
				uc->name);
			goto fail;
		}
		char *stored = uc->vhosts ? vhosts_from_raw(uc->vhosts) : NULL;
		int rc = uc->vhosts && !stored ? -1 :
			 put_user(a, uc->name, *uc->password_hash ? hash : NULL, stored, uc->tags);
		free(stored);
		if (rc < 0)
			goto nomem;
	}
	return a;
nomem:
	tu_errf(err, errlen, "out of memory");
fail:
	tdm_auth_free(a);
	return NULL;
}

void tdm_auth_free(struct tdm_auth *a)
{
	size_t i;

	if (!a)
		return;
	for (i = 0; i < a->nusers; i++)
		user_clear(&a->users[i]);
	free(a->users);
	free(a->loopback_users);
	free(a);
}

enum tdm_auth_result tdm_auth_check(const struct tdm_auth *a, const char *user, size_t user_len,
				    const char *pass, size_t pass_len, int peer_is_loopback)
{
	/* An unknown user still costs one hash, so timing does not reveal who exists. */
	static const unsigned char dummy[HASH_LEN];
	const struct auth_user *u = find_user(a, user, user_len);
	const unsigned char *want = u ? u->hash : dummy;
	unsigned char got[DIGEST_LEN];
	int ok;

	salted_digest(want, pass, pass_len, got);
	ok = ct_equal(got, want + SALT_LEN, DIGEST_LEN);
	explicit_bzero(got, sizeof(got));
	if (!ok || !u || u->locked || pass_len == 0)
		return TDM_AUTH_BAD_CREDENTIALS;
	/* Only after the password matched, as RabbitMQ: a wrong guess learns nothing. */
	if (u->loopback_only && !peer_is_loopback)
		return TDM_AUTH_LOOPBACK_ONLY;
	return TDM_AUTH_OK;
}

int tdm_auth_vhost_allowed(const struct tdm_auth *a, const char *user, const char *vhost,
			   size_t vhost_len)
{
	const struct auth_user *u = find_user(a, user, strlen(user));

	return u && vhosts_allow(u->vhosts, vhost, vhost_len);
}

const char *tdm_auth_user_tags(const struct tdm_auth *a, const char *user)
{
	const struct auth_user *u = find_user(a, user, strlen(user));

	return u ? (u->tags ? u->tags : "") : NULL;
}

void tdm_auth_foreach_user(const struct tdm_auth *a, tdm_user_fn fn, void *ctx)
{
	for (size_t i = 0; i < a->nusers; i++) {
		const struct auth_user *u = &a->users[i];
		struct tdm_user_info ui = { u->name, u->tags ? u->tags : "", u->vhosts ? u->vhosts : "/",
					    u->locked };
		fn(&ui, ctx);
	}
}

/* ---- changes at run time ----------------------------------------------- */

int tdm_auth_put_user(struct tdm_auth *a, const char *name, const char *password,
		      const char *password_hash, const char *tags, int *created)
{
	unsigned char hash[HASH_LEN];
	const unsigned char *h = NULL;
	struct auth_user *u = find_user(a, name, strlen(name));
	struct tdm_scram_cred scram[TDM_SCRAM_NMECH];
	int keep_scram = 0;
	int rc;

	*created = u == NULL;
	if (!*name)
		return -2;
	if (password && *password) {
		if (fill_random(hash, SALT_LEN) < 0)
			return -1;
		salted_digest(hash, password, strlen(password), hash + SALT_LEN);
		h = hash;
	} else if (password_hash && *password_hash) {
		if (b64_decode_hash(password_hash, hash) < 0)
			return -2;
		h = hash;
	} else if (!password && !password_hash && u && !u->locked) {
		memcpy(hash, u->hash, HASH_LEN); /* an update that names no password keeps it */
		h = hash;
		keep_scram = u->has_scram;
		if (keep_scram)
			memcpy(scram, u->scram, sizeof(scram));
	}
	/* put_user replaces u: copy what must survive first */
	char *vhosts = strdup(u ? u->vhosts : "");
	char *keep_tags = strdup(tags ? tags : u ? u->tags : "");
	rc = vhosts && keep_tags ? put_user(a, name, h, vhosts, keep_tags) : -1;
	free(vhosts);
	free(keep_tags);
	if (rc == 0 && password && *password) {
		rc = set_scram(a, name, password);
	} else if (rc == 0 && keep_scram) {
		u = find_user(a, name, strlen(name));
		if (u) {
			memcpy(u->scram, scram, sizeof(scram));
			u->has_scram = 1;
		}
	}
	explicit_bzero(hash, sizeof(hash));
	explicit_bzero(scram, sizeof(scram));
	return rc;
}

int tdm_auth_restore_user(struct tdm_auth *a, const char *name, const char *password_hash,
			  const char *tags, const char *vhosts, int raw_vhosts)
{
	unsigned char hash[HASH_LEN];
	int locked = !password_hash || !*password_hash;
	struct tdm_scram_cred scram[TDM_SCRAM_NMECH];
	struct auth_user *u;
	char *stored = NULL;
	int keep_scram, rc;

	if (!locked && b64_decode_hash(password_hash, hash) < 0)
		return -2;
	if (raw_vhosts && !(stored = vhosts_from_raw(vhosts)))
		return -1;
	/* The same password as now (a config user the API changed): its SCRAM
	 * credentials, derived at start, stay. */
	u = find_user(a, name, strlen(name));
	keep_scram =
		!locked && u && !u->locked && u->has_scram && ct_equal(u->hash, hash, HASH_LEN);
	if (keep_scram)
		memcpy(scram, u->scram, sizeof(scram));
	rc = put_user(a, name, locked ? NULL : hash, stored ? stored : vhosts, tags);
	free(stored);
	if (rc == 0 && keep_scram && (u = find_user(a, name, strlen(name)))) {
		memcpy(u->scram, scram, sizeof(scram));
		u->has_scram = 1;
	}
	explicit_bzero(scram, sizeof(scram));
	return rc;
}

int tdm_auth_delete_user(struct tdm_auth *a, const char *name)
{
	struct auth_user *u = find_user(a, name, strlen(name));

	if (!u)
		return -1;
	user_clear(u);
	*u = a->users[--a->nusers];
	return 0;
}

/* The stored list without the stored item (compared whole). malloc'd or NULL. */
static char *list_without(const char *list, const char *item)
{
	size_t il = strlen(item);
	char *out = malloc(strlen(list) + 1), *o = out;
	const char *p = list;

	if (!out)
		return NULL;
	while (*p) {
		size_t n = strcspn(p, ",");
		if (!(n == il && memcmp(p, item, il) == 0)) {
			if (o != out)
				*o++ = ',';
			memcpy(o, p, n);
			o += n;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	*o = '\0';
	return out;
}

int tdm_auth_grant(struct tdm_auth *a, const char *user, const char *vhost, int allow,
		   int *changed)
{
	struct auth_user *u = find_user(a, user, strlen(user));
	char *item = NULL, *nl = NULL;
	int rc = -1;

	*changed = 0;
	if (!u)
		return -1;
	if (vhosts_all(u->vhosts))
		return 0;
	if (!(item = vhost_escape(vhost, strlen(vhost))))
		goto out;
	if (list_has(u->vhosts, item, strlen(item)) == allow) {
		rc = 0;
		goto out;
	}
	if (allow) {
		nl = malloc(strlen(u->vhosts) + strlen(item) + 2);
		if (nl)
			sprintf(nl, "%s%s%s", u->vhosts, *u->vhosts ? "," : "", item);
	} else {
		nl = list_without(u->vhosts, item);
	}
	if (!nl)
		goto out;
	free(u->vhosts);
	u->vhosts = nl;
	*changed = 1;
	rc = 0;
out:
	free(item);
	return rc;
}

int tdm_auth_user_record(const struct tdm_auth *a, const char *name,
			 char hash_out[49], const char **tags, const char **vhosts)
{
	const struct auth_user *u = find_user(a, name, strlen(name));

	if (!u)
		return -1;
	if (u->locked)
		hash_out[0] = '\0';
	else
		tu_b64_encode(u->hash, HASH_LEN, hash_out);
	*tags = u->tags ? u->tags : "";
	*vhosts = u->vhosts ? u->vhosts : "";
	return 0;
}

int tdm_auth_scram_cred(const struct tdm_auth *a, const char *user, int mech,
			struct tdm_scram_cred *out)
{
	const struct auth_user *u = find_user(a, user, strlen(user));

	if (!u || u->locked || mech < 0 || mech >= TDM_SCRAM_NMECH)
		return -1;
	if (!u->has_scram)
		return -2;
	*out = u->scram[mech];
	return 0;
}
