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
#include <regex.h>
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

/* One compiled pattern: src as given, re compiled from it ("" as "^$",
 * topic patterns after {username}/{vhost} expansion). */
struct auth_re {
	char *src; /* owned */
	regex_t re;
	int ok; /* re is compiled (and must be freed) */
};

/* configure/write/read of a user on one vhost (TDM_PERM_* order). */
struct auth_perm {
	char *vhost; /* owned */
	size_t vhost_len;
	struct auth_re re[3];
};

/* Topic permission of a user on one vhost and exchange: write, read. */
struct auth_topic {
	char *vhost;    /* owned */
	char *exchange; /* owned */
	struct auth_re re[2];
};

struct auth_user {
	char *name;                   /* owned */
	size_t name_len;
	unsigned char hash[HASH_LEN]; /* salt || SHA-256(salt || password) */
	int locked;                   /* no password login (empty password_hash) */
	int loopback_only;            /* listed in loopback_users */
	int has_scram;                /* scram[] derived from a plain password */
	struct tdm_scram_cred scram[TDM_SCRAM_NMECH];
	int all_vhosts;               /* the configuration's vhosts = "*": all[] on every
				       * vhost without an entry of its own */
	struct auth_re all[3];        /* valid when all_vhosts */
	struct auth_perm *perms;      /* owned array */
	size_t nperms;
	struct auth_topic *topics;    /* owned array */
	size_t ntopics;
	char *vhosts_rec;             /* owned cache of tdm_auth_user_record's vhosts */
	char *tags;                   /* owned */
};

struct tdm_auth {
	struct auth_user *users; /* owned array */
	size_t nusers;
	char *loopback_users;    /* owned copy of the config's comma list */
	char *link_secret;       /* owned, wiped when freed: the cluster's secret; NULL = none */
	size_t link_secret_len;
};

const char tdm_auth_link_user[] = TDM_CLUSTER_LINK_USER;



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

static struct auth_user *find_user(const struct tdm_auth *a, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < a->nusers; i++)
		if (a->users[i].name_len == len && memcmp(a->users[i].name, name, len) == 0)
			return &a->users[i];
	return NULL;
}

/* ---- permission patterns ----------------------------------------------- */

/*
 * Escapes whose meaning differs between Erlang's re (PCRE) and POSIX ERE:
 * glibc reads "\d" as a plain 'd' where RabbitMQ reads a digit, so such a
 * pattern would silently grant something else.  Allowed after a backslash:
 * any non-alphanumeric (a literal), \1..\9 (back references in both) and
 * GNU's \w \W \s \S \b \B (the same classes as PCRE's).  NULL when fine,
 * else what is refused.
 */
static const char *pat_bad_escape(const char *pat)
{
	static char what[3];

	for (const char *p = pat; *p; p++) {
		if (*p != '\\')
			continue;
		char c = p[1];
		if (!c)
			return "a trailing backslash";
		p++;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')))
			continue;
		if ((c >= '1' && c <= '9') || strchr("wWsSbB", c))
			continue;
		what[0] = '\\';
		what[1] = c;
		what[2] = '\0';
		return what;
	}
	return NULL;
}

/* 1 when p ("{...") starts an interval PCRE would read as one: {n},
 * {n,} or {n,m}. */
static int interval_at(const char *p)
{
	size_t i = 1;

	if (!(p[i] >= '0' && p[i] <= '9'))
		return 0;
	while (p[i] >= '0' && p[i] <= '9')
		i++;
	if (p[i] == ',')
		for (i++; p[i] >= '0' && p[i] <= '9'; i++)
			;
	return p[i] == '}';
}

/*
 * pat with every '{' that PCRE reads as a plain character (one that starts
 * no interval, e.g. a topic pattern's "{client_id}") escaped, as POSIX ERE
 * would refuse or misread it; brackets are copied as they are.  malloc'd,
 * or NULL.
 */
static char *pat_translate(const char *pat)
{
	size_t n = strlen(pat), br_first = 0;
	char *out = malloc(2 * n + 1), *o = out;
	int in_br = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		char c = pat[i];

		if (in_br) {
			if (c == '[' &&
			    (pat[i + 1] == ':' || pat[i + 1] == '.' || pat[i + 1] == '=')) {
				const char *e = strchr(pat + i + 2, pat[i + 1]);
				size_t l = e && e[1] == ']' ? (size_t)(e + 2 - (pat + i)) : 1;
				memcpy(o, pat + i, l);
				o += l;
				i += l - 1;
				continue;
			}
			if (c == ']' && i > br_first)
				in_br = 0;
			*o++ = c;
			continue;
		}
		if (c == '\\' && pat[i + 1]) {
			*o++ = c;
			*o++ = pat[++i];
			continue;
		}
		if (c == '[') {
			in_br = 1;
			br_first = i + 1 + (pat[i + 1] == '^');
		} else if (c == '{' && !interval_at(pat + i)) {
			*o++ = '\\';
		}
		*o++ = c;
	}
	*o = '\0';
	return out;
}

static void pat_free(struct auth_re *r)
{
	if (r->ok)
		regfree(&r->re);
	free(r->src);
	memset(r, 0, sizeof(*r));
}

/* Compiles expanded (the pattern to run; "" means "^$", as RabbitMQ) and
 * keeps a copy of src (the pattern as given).  0, TDM_AUTH_E_REGEX with
 * err set, or TDM_AUTH_E_NOMEM. */
static int pat_set(struct auth_re *r, const char *src, const char *expanded, char *err,
		   size_t errlen)
{
	const char *bad = pat_bad_escape(expanded);
	int rc;

	memset(r, 0, sizeof(*r));
	if (bad) {
		tu_errf(err, errlen,
			"regular expression '%s' is invalid: %s is not supported (POSIX extended "
			"regular expressions)",
			src, bad);
		return TDM_AUTH_E_REGEX;
	}
	char *posix = pat_translate(*expanded ? expanded : "^$");
	if (!posix) {
		tu_errf(err, errlen, "out of memory");
		return TDM_AUTH_E_NOMEM;
	}
	rc = regcomp(&r->re, posix, REG_EXTENDED | REG_NOSUB);
	free(posix);
	if (rc != 0) {
		char why[128];

		regerror(rc, &r->re, why, sizeof(why));
		tu_errf(err, errlen, "regular expression '%s' is invalid: %s", src, why);
		return TDM_AUTH_E_REGEX;
	}
	r->ok = 1;
	if (!(r->src = strdup(src))) {
		pat_free(r);
		tu_errf(err, errlen, "out of memory");
		return TDM_AUTH_E_NOMEM;
	}
	return 0;
}

static char *expand_vars(const char *pat, const char *user, const char *vhost);

int tdm_auth_pattern_check(const char *pattern, const char *user, const char *vhost, char *err,
			   size_t errlen)
{
	struct auth_re r;
	char *x = user && vhost ? expand_vars(pattern, user, vhost) : strdup(pattern);
	int rc = x ? pat_set(&r, pattern, x, err, errlen) : TDM_AUTH_E_NOMEM;

	free(x);
	if (rc == 0)
		pat_free(&r);
	return rc;
}

/*
 * Unanchored search of name[0..len) as Erlang's re:run: 1 on a match.  The
 * name is copied NUL-terminated (into a stack buffer when it fits): regexec
 * is given a C string, not REG_STARTEND, because ASan's regexec interceptor
 * reads to the NUL whatever REG_STARTEND says.  A name holding a NUL byte
 * matches nothing, so no pattern can be passed by what follows the NUL.
 */
static int pat_match(const struct auth_re *r, const char *name, size_t len)
{
	char buf[256];
	char *s = buf;
	int ok;

	if (!r->ok || (len && memchr(name, '\0', len)))
		return 0;
	if (len >= sizeof(buf) && !(s = malloc(len + 1)))
		return 0;
	if (len)
		memcpy(s, name, len);
	s[len] = '\0';
	ok = regexec(&r->re, s, 0, NULL, 0) == 0;
	if (s != buf)
		free(s);
	return ok;
}

/* pat with every "{username}" then every "{vhost}" replaced, as RabbitMQ
 * 3.10's expand_topic_permission (a plain text replacement before the
 * pattern is compiled).  malloc'd, or NULL. */
static char *expand_vars(const char *pat, const char *user, const char *vhost)
{
	static const char *const var[2] = { "{username}", "{vhost}" };
	const char *val[2] = { user, vhost };
	char *cur = strdup(pat);

	for (int v = 0; v < 2 && cur; v++) {
		size_t vl = strlen(var[v]), xl = strlen(val[v]), n = 0;
		for (const char *p = strstr(cur, var[v]); p; p = strstr(p + vl, var[v]))
			n++;
		if (!n)
			continue;
		char *out = malloc(strlen(cur) + n * xl + 1), *o = out;
		if (out) {
			const char *p = cur, *q;
			while ((q = strstr(p, var[v]))) {
				memcpy(o, p, (size_t)(q - p));
				o += q - p;
				memcpy(o, val[v], xl);
				o += xl;
				p = q + vl;
			}
			strcpy(o, p);
		}
		free(cur);
		cur = out;
	}
	return cur;
}

static void perm_free(struct auth_perm *p)
{
	free(p->vhost);
	for (int i = 0; i < 3; i++)
		pat_free(&p->re[i]);
}

static void topic_free(struct auth_topic *t)
{
	free(t->vhost);
	free(t->exchange);
	for (int i = 0; i < 2; i++)
		pat_free(&t->re[i]);
}

/* Compiles three patterns into re[] (all or nothing). */
static int pat_set3(struct auth_re re[3], const char *const pat[3], char *err, size_t errlen)
{
	for (int i = 0; i < 3; i++) {
		int rc = pat_set(&re[i], pat[i], pat[i], err, errlen);
		if (rc < 0) {
			while (i-- > 0)
				pat_free(&re[i]);
			return rc;
		}
	}
	return 0;
}

static struct auth_perm *find_perm(const struct auth_user *u, const char *vhost, size_t len)
{
	for (size_t i = 0; i < u->nperms; i++)
		if (u->perms[i].vhost_len == len && memcmp(u->perms[i].vhost, vhost, len) == 0)
			return &u->perms[i];
	return NULL;
}

static struct auth_topic *find_topic(const struct auth_user *u, const char *vhost,
				     const char *exchange)
{
	for (size_t i = 0; i < u->ntopics; i++)
		if (strcmp(u->topics[i].vhost, vhost) == 0 &&
		    strcmp(u->topics[i].exchange, exchange) == 0)
			return &u->topics[i];
	return NULL;
}

/* Drops all of u's permissions and topic permissions. */
static void clear_all_perms(struct auth_user *u)
{
	for (size_t i = 0; i < u->nperms; i++)
		perm_free(&u->perms[i]);
	free(u->perms);
	u->perms = NULL;
	u->nperms = 0;
	for (int i = 0; i < 3; i++)
		pat_free(&u->all[i]);
	u->all_vhosts = 0;
	for (size_t i = 0; i < u->ntopics; i++)
		topic_free(&u->topics[i]);
	free(u->topics);
	u->topics = NULL;
	u->ntopics = 0;
}

/* Sets (replacing) u's permissions on vhost name[0..len).  0 or TDM_AUTH_E_*. */
static int user_set_perm(struct auth_user *u, const char *vhost, size_t len,
			 const char *const pat[3], char *err, size_t errlen)
{
	struct auth_re re[3];
	struct auth_perm *p = find_perm(u, vhost, len);
	int rc = pat_set3(re, pat, err, errlen);

	if (rc < 0)
		return rc;
	if (!p) {
		struct auth_perm *np = realloc(u->perms, (u->nperms + 1) * sizeof(*np));
		char *name = strndup(vhost, len);

		if (!np || !name) {
			if (np)
				u->perms = np;
			free(name);
			for (int i = 0; i < 3; i++)
				pat_free(&re[i]);
			tu_errf(err, errlen, "out of memory");
			return TDM_AUTH_E_NOMEM;
		}
		u->perms = np;
		p = &u->perms[u->nperms++];
		p->vhost = name;
		p->vhost_len = len;
	} else {
		for (int i = 0; i < 3; i++)
			pat_free(&p->re[i]);
	}
	memcpy(p->re, re, sizeof(re));
	return 0;
}

static int user_set_all(struct auth_user *u, const char *const pat[3], char *err, size_t errlen)
{
	struct auth_re re[3];
	int rc = pat_set3(re, pat, err, errlen);

	if (rc < 0)
		return rc;
	for (int i = 0; i < 3; i++)
		pat_free(&u->all[i]);
	memcpy(u->all, re, sizeof(re));
	u->all_vhosts = 1;
	return 0;
}

static const char *const full_access[3] = { ".*", ".*", ".*" };

/* Grants ".*" on each vhost of a list, raw (the configuration's, split at
 * commas, items trimmed) or stored (tdm_auth_user_record's escaped form);
 * "*" = every vhost.  0 or TDM_AUTH_E_NOMEM. */
static int user_grant_list(struct auth_user *u, const char *list, int raw)
{
	const char *p = list;
	char err[8];

	while (p && *p) {
		size_t n = strcspn(p, ",");
		const char *s = p;
		size_t l = n;
		int rc = 0;

		if (raw) {
			while (l && *s == ' ')
				s++, l--;
			while (l && s[l - 1] == ' ')
				l--;
		}
		if (l == 1 && *s == '*') {
			rc = user_set_all(u, full_access, err, sizeof(err));
		} else if (l && raw) {
			rc = user_set_perm(u, s, l, full_access, err, sizeof(err));
		} else if (l) {
			char *name = malloc(l + 1);
			size_t o = 0;

			if (!name)
				return TDM_AUTH_E_NOMEM;
			for (size_t i = 0; i < l; i++) {
				int hi = s[i] == '%' && i + 2 < l ? tu_hex_value(s[i + 1]) : -1;
				int lo = hi >= 0 ? tu_hex_value(s[i + 2]) : -1;
				if (lo >= 0) {
					name[o++] = (char)(hi << 4 | lo);
					i += 2;
				} else {
					name[o++] = s[i];
				}
			}
			rc = user_set_perm(u, name, o, full_access, err, sizeof(err));
			free(name);
		}
		if (rc < 0)
			return rc;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

/* ---- users ------------------------------------------------------------- */

/* Derives name's SCRAM credentials (every mechanism) from its plain
 * password, as Kafka stores them.  0, or -1 (libcrypto). */
static int set_scram(struct auth_user *u, const char *password)
{
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
	free(u->tags);
	free(u->vhosts_rec);
	clear_all_perms(u);
	explicit_bzero(u, sizeof(*u));
}

/*
 * Adds name, or updates it in place: the given raw hash (NULL = locked
 * account) and tags (NULL = ""); an update keeps the user's permissions and
 * drops its SCRAM credentials (the caller sets them again).  The user, or
 * NULL (ENOMEM).
 */
static struct auth_user *put_user(struct tdm_auth *a, const char *name, const unsigned char *hash,
				  const char *tags)
{
	struct auth_user *u = find_user(a, name, strlen(name));
	char *t = strdup(tags ? tags : "");

	if (!t)
		return NULL;
	if (!u) {
		char *n = strdup(name);
		u = n ? realloc(a->users, (a->nusers + 1) * sizeof(*u)) : NULL;
		if (!u) {
			free(n);
			free(t);
			return NULL;
		}
		a->users = u;
		u = &a->users[a->nusers++];
		memset(u, 0, sizeof(*u));
		u->name = n;
		u->name_len = strlen(n);
	}
	free(u->tags);
	u->tags = t;
	u->locked = hash == NULL;
	if (hash)
		memcpy(u->hash, hash, HASH_LEN);
	else
		memset(u->hash, 0, HASH_LEN);
	u->has_scram = 0;
	explicit_bzero(u->scram, sizeof(u->scram));
	u->loopback_only = list_has(a->loopback_users, name, u->name_len);
	return u;
}

/* Replaces u's permissions by ".*" on the raw list vhosts (NULL = "/"). */
static int user_reset_vhosts(struct auth_user *u, const char *vhosts)
{
	clear_all_perms(u);
	return user_grant_list(u, vhosts ? vhosts : "/", 1) < 0 ? -1 : 0;
}

int tdm_auth_add_user(struct tdm_auth *a, const char *name, const char *password,
		      const char *vhosts, const char *tags)
{
	unsigned char hash[HASH_LEN];
	struct auth_user *u;
	int rc = -1;

	/* As RabbitMQ's internal backend: an empty password never logs in. */
	if (!name || !*name || !password || !*password ||
	    tdm_auth_name_reserved(name, strlen(name)))
		return -1;
	if (fill_random(hash, SALT_LEN) < 0)
		goto out;
	salted_digest(hash, password, strlen(password), hash + SALT_LEN);
	u = put_user(a, name, hash, tags);
	if (u && user_reset_vhosts(u, vhosts) == 0)
		rc = set_scram(u, password);
out:
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
	if (c->cluster_port) {
		int len;

		if (!(a->link_secret = malloc(TDM_CLUSTER_SECRET_MAX + 1)))
			goto nomem;
		len = tdm_config_cluster_secret(c, a->link_secret, TDM_CLUSTER_SECRET_MAX + 1, err,
						errlen);
		if (len < 0)
			goto fail;
		a->link_secret_len = (size_t)len;
	}
	if (c->default_user && tdm_auth_name_reserved(c->default_user, strlen(c->default_user))) {
		tu_errf(err, errlen, "default_user: '%s' is reserved for the cluster link",
			c->default_user);
		goto fail;
	}
	for (i = 0; i < c->nusers; i++)
		if (tdm_auth_name_reserved(c->users[i].name, strlen(c->users[i].name))) {
			tu_errf(err, errlen, "users.%s: the name is reserved for the cluster link",
				c->users[i].name);
			goto fail;
		}
	if (c->default_user && *c->default_user) {
		const char *pat[3] = { c->default_perm_configure ? c->default_perm_configure : ".*",
				       c->default_perm_write ? c->default_perm_write : ".*",
				       c->default_perm_read ? c->default_perm_read : ".*" };
		struct auth_user *u;
		char why[256];
		int rc;

		if (!c->default_pass || !*c->default_pass) {
			tu_errf(err, errlen, "default_pass must not be empty");
			goto fail;
		}
		if (tdm_auth_add_user(a, c->default_user, c->default_pass, "*", "administrator") < 0)
			goto nomem;
		u = find_user(a, c->default_user, strlen(c->default_user));
		rc = u ? user_set_all(u, pat, why, sizeof(why)) : TDM_AUTH_E_NOMEM;
		if (rc == TDM_AUTH_E_REGEX) {
			tu_errf(err, errlen, "default_permissions: %s", why);
			goto fail;
		} else if (rc < 0) {
			goto nomem;
		}
	}
	for (i = 0; i < c->nusers; i++) {
		const struct tdm_user_conf *uc = &c->users[i];
		unsigned char hash[HASH_LEN];
		struct auth_user *u;

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
		u = put_user(a, uc->name, *uc->password_hash ? hash : NULL, uc->tags);
		if (!u || user_reset_vhosts(u, uc->vhosts) < 0)
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
	if (a->link_secret) {
		explicit_bzero(a->link_secret, TDM_CLUSTER_SECRET_MAX + 1);
		free(a->link_secret);
	}
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
	/* the link's name never logs in by password (tdm_auth_link_check does) */
	if (!ok || !u || u->locked || pass_len == 0 || tdm_auth_name_reserved(user, user_len))
		return TDM_AUTH_BAD_CREDENTIALS;
	/* Only after the password matched, as RabbitMQ: a wrong guess learns nothing. */
	if (u->loopback_only && !peer_is_loopback)
		return TDM_AUTH_LOOPBACK_ONLY;
	return TDM_AUTH_OK;
}

int tdm_auth_name_reserved(const char *name, size_t len)
{
	return len == sizeof(TDM_CLUSTER_LINK_USER) - 1 &&
	       memcmp(name, TDM_CLUSTER_LINK_USER, len) == 0;
}

int tdm_auth_link_check(const struct tdm_auth *a, const char *user, size_t user_len,
			const char *pass, size_t pass_len)
{
	int user_ok = tdm_auth_name_reserved(user, user_len);
	int pw_ok = a && a->link_secret && pass_len == a->link_secret_len &&
		    ct_equal((const unsigned char *)pass, (const unsigned char *)a->link_secret,
			     pass_len);

	return user_ok && pw_ok;
}

int tdm_auth_vhost_allowed(const struct tdm_auth *a, const char *user, const char *vhost,
			   size_t vhost_len)
{
	if (tdm_auth_is_link(user))
		return 1;
	const struct auth_user *u = find_user(a, user, strlen(user));

	return u && (find_perm(u, vhost, vhost_len) || u->all_vhosts);
}

/* The patterns that apply to user on vhost: its own entry, else the
 * every-vhost one; NULL when it has none. */
static const struct auth_re *perm_res(const struct tdm_auth *a, const char *user, const char *vhost,
				      size_t vlen)
{
	const struct auth_user *u = find_user(a, user, strlen(user));
	const struct auth_perm *p = u ? find_perm(u, vhost, vlen) : NULL;

	if (p)
		return p->re;
	return u && u->all_vhosts ? u->all : NULL;
}

int tdm_auth_permitted(const struct tdm_auth *a, const char *user, const char *vhost,
		       enum tdm_perm p, const char *name, size_t len)
{
	if (tdm_auth_is_link(user))
		return 1;
	const struct auth_re *re = perm_res(a, user, vhost, strlen(vhost));

	if (!re || p < TDM_PERM_CONFIGURE || p > TDM_PERM_READ)
		return 0;
	/* rabbit_access_control: the default exchange is checked as amq.default */
	if (len == 0)
		return pat_match(&re[p], "amq.default", 11);
	return pat_match(&re[p], name, len);
}

int tdm_auth_topic_permitted(const struct tdm_auth *a, const char *user, const char *vhost,
			     const char *exchange, enum tdm_perm p, const char *routing_key,
			     size_t len)
{
	if (tdm_auth_is_link(user))
		return 1;
	const struct auth_user *u = find_user(a, user, strlen(user));
	const struct auth_topic *t;

	if (!u || (p != TDM_PERM_WRITE && p != TDM_PERM_READ))
		return 0;
	/* rabbit_auth_backend_internal: no entry for the exchange = allowed */
	if (!(t = find_topic(u, vhost, exchange)))
		return 1;
	return pat_match(&t->re[p == TDM_PERM_WRITE ? 0 : 1], routing_key, len);
}

int tdm_auth_set_permissions(struct tdm_auth *a, const char *user, const char *vhost,
			     const char *configure, const char *write, const char *read, char *err,
			     size_t errlen)
{
	struct auth_user *u = find_user(a, user, strlen(user));
	const char *pat[3] = { configure, write, read };

	if (!u) {
		tu_errf(err, errlen, "no such user");
		return TDM_AUTH_E_NOUSER;
	}
	if (!vhost)
		return user_set_all(u, pat, err, errlen);
	return user_set_perm(u, vhost, strlen(vhost), pat, err, errlen);
}

int tdm_auth_reset_permissions(struct tdm_auth *a, const char *user)
{
	struct auth_user *u = find_user(a, user, strlen(user));

	if (!u)
		return TDM_AUTH_E_NOUSER;
	clear_all_perms(u);
	return 0;
}

int tdm_auth_clear_permissions(struct tdm_auth *a, const char *user, const char *vhost)
{
	struct auth_user *u = find_user(a, user, strlen(user));
	struct auth_perm *p = u ? find_perm(u, vhost, strlen(vhost)) : NULL;

	if (!u)
		return TDM_AUTH_E_NOUSER;
	if (!p)
		return 0;
	perm_free(p);
	*p = u->perms[--u->nperms];
	return 1;
}

int tdm_auth_get_permissions(const struct tdm_auth *a, const char *user, const char *vhost,
			     size_t vhost_len, struct tdm_perm_info *out)
{
	const struct auth_user *u = find_user(a, user, strlen(user));
	const struct auth_perm *p = u ? find_perm(u, vhost, vhost_len) : NULL;
	const struct auth_re *re = p ? p->re : u && u->all_vhosts ? u->all : NULL;

	if (!re)
		return 0;
	out->user = u->name;
	out->vhost = p ? p->vhost : NULL;
	out->configure = re[0].src;
	out->write = re[1].src;
	out->read = re[2].src;
	return 1;
}

void tdm_auth_foreach_permission(const struct tdm_auth *a, const char *user, tdm_perm_fn fn,
				 void *ctx)
{
	for (size_t i = 0; i < a->nusers; i++) {
		const struct auth_user *u = &a->users[i];
		struct tdm_perm_info pi = { .user = u->name };

		if (user && strcmp(user, u->name) != 0)
			continue;
		if (u->all_vhosts) {
			pi.vhost = NULL;
			pi.configure = u->all[0].src;
			pi.write = u->all[1].src;
			pi.read = u->all[2].src;
			fn(&pi, ctx);
		}
		for (size_t j = 0; j < u->nperms; j++) {
			pi.vhost = u->perms[j].vhost;
			pi.configure = u->perms[j].re[0].src;
			pi.write = u->perms[j].re[1].src;
			pi.read = u->perms[j].re[2].src;
			fn(&pi, ctx);
		}
	}
}

int tdm_auth_set_topic_permissions(struct tdm_auth *a, const char *user, const char *vhost,
				   const char *exchange, const char *write, const char *read,
				   char *err, size_t errlen)
{
	struct auth_user *u = find_user(a, user, strlen(user));
	const char *pat[2] = { write, read };
	struct auth_re re[2];
	struct auth_topic *t = NULL;
	int rc = 0;

	if (!u) {
		tu_errf(err, errlen, "no such user");
		return TDM_AUTH_E_NOUSER;
	}
	memset(re, 0, sizeof(re));
	for (int i = 0; i < 2 && rc == 0; i++) {
		char *x = expand_vars(pat[i], user, vhost);
		rc = x ? pat_set(&re[i], pat[i], x, err, errlen) : TDM_AUTH_E_NOMEM;
		free(x);
	}
	if (rc == 0)
		t = find_topic(u, vhost, exchange);
	if (rc == 0 && !t) {
		struct auth_topic *nt = realloc(u->topics, (u->ntopics + 1) * sizeof(*nt));
		char *v = strdup(vhost), *x = strdup(exchange);

		if (nt)
			u->topics = nt;
		if (!nt || !v || !x) {
			free(v);
			free(x);
			rc = TDM_AUTH_E_NOMEM;
		} else {
			t = &u->topics[u->ntopics++];
			memset(t, 0, sizeof(*t));
			t->vhost = v;
			t->exchange = x;
		}
	}
	if (rc < 0) {
		if (rc == TDM_AUTH_E_NOMEM)
			tu_errf(err, errlen, "out of memory");
		pat_free(&re[0]);
		pat_free(&re[1]);
		return rc;
	}
	pat_free(&t->re[0]);
	pat_free(&t->re[1]);
	memcpy(t->re, re, sizeof(re));
	return 0;
}

int tdm_auth_clear_topic_permissions(struct tdm_auth *a, const char *user, const char *vhost,
				     const char *exchange)
{
	struct auth_user *u = find_user(a, user, strlen(user));
	int n = 0;

	if (!u)
		return TDM_AUTH_E_NOUSER;
	for (size_t i = 0; i < u->ntopics;) {
		struct auth_topic *t = &u->topics[i];

		if (strcmp(t->vhost, vhost) == 0 &&
		    (!exchange || strcmp(t->exchange, exchange) == 0)) {
			topic_free(t);
			*t = u->topics[--u->ntopics];
			n++;
		} else {
			i++;
		}
	}
	return n;
}

void tdm_auth_foreach_topic_permission(const struct tdm_auth *a, const char *user,
				       tdm_topic_perm_fn fn, void *ctx)
{
	for (size_t i = 0; i < a->nusers; i++) {
		const struct auth_user *u = &a->users[i];

		if (user && strcmp(user, u->name) != 0)
			continue;
		for (size_t j = 0; j < u->ntopics; j++) {
			const struct auth_topic *t = &u->topics[j];
			struct tdm_topic_perm_info ti = { u->name, t->vhost, t->exchange,
							  t->re[0].src, t->re[1].src };
			fn(&ti, ctx);
		}
	}
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
		struct tdm_user_info ui = { u->name, u->tags ? u->tags : "", u->locked };
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
	int rc = 0;

	*created = u == NULL;
	if (!*name)
		return -2;
	if (tdm_auth_name_reserved(name, strlen(name)))
		return -3;
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
	/* put_user frees the old tags: copy them first */
	char *keep_tags = strdup(tags ? tags : u ? u->tags : "");
	u = keep_tags ? put_user(a, name, h, keep_tags) : NULL;
	free(keep_tags);
	if (!u) {
		rc = -1;
	} else if (password && *password) {
		rc = set_scram(u, password);
	} else if (keep_scram) {
		memcpy(u->scram, scram, sizeof(scram));
		u->has_scram = 1;
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
	int keep_scram, rc = -1;

	if (tdm_auth_name_reserved(name, strlen(name)))
		return -3;
	if (!locked && b64_decode_hash(password_hash, hash) < 0)
		return -2;
	/* The same password as now (a config user the API changed): its SCRAM
	 * credentials, derived at start, stay. */
	u = find_user(a, name, strlen(name));
	keep_scram =
		!locked && u && !u->locked && u->has_scram && ct_equal(u->hash, hash, HASH_LEN);
	if (keep_scram)
		memcpy(scram, u->scram, sizeof(scram));
	u = put_user(a, name, locked ? NULL : hash, tags);
	if (u) {
		clear_all_perms(u);
		rc = user_grant_list(u, vhosts, raw_vhosts) < 0 ? -1 : 0;
	}
	if (rc == 0 && keep_scram) {
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

int tdm_auth_grant(struct tdm_auth *a, const char *user, const char *vhost, int allow,
		   int *changed)
{
	struct auth_user *u = find_user(a, user, strlen(user));
	struct auth_perm *p;
	char err[8];

	*changed = 0;
	if (!u)
		return -1;
	p = find_perm(u, vhost, strlen(vhost));
	if (allow) {
		if (p || u->all_vhosts)
			return 0;
		if (user_set_perm(u, vhost, strlen(vhost), full_access, err, sizeof(err)) < 0)
			return -1;
	} else {
		if (!p)
			return 0;
		perm_free(p);
		*p = u->perms[--u->nperms];
	}
	*changed = 1;
	return 0;
}

int tdm_auth_user_record(const struct tdm_auth *a, const char *name,
			 char hash_out[49], const char **tags, const char **vhosts)
{
	struct auth_user *u = find_user(a, name, strlen(name));
	size_t cap = 2, o = 0;
	char *rec;

	if (!u)
		return -1;
	for (size_t i = 0; i < u->nperms; i++)
		cap += 3 * u->perms[i].vhost_len + 1;
	if (!(rec = malloc(cap)))
		return -1;
	for (size_t i = 0; i < u->nperms; i++) {
		char *item = vhost_escape(u->perms[i].vhost, u->perms[i].vhost_len);

		if (!item) {
			free(rec);
			return -1;
		}
		if (o)
			rec[o++] = ',';
		memcpy(rec + o, item, strlen(item));
		o += strlen(item);
		free(item);
	}
	if (u->all_vhosts) {
		if (o)
			rec[o++] = ',';
		rec[o++] = '*';
	}
	rec[o] = '\0';
	free(u->vhosts_rec);
	u->vhosts_rec = rec;
	if (u->locked)
		hash_out[0] = '\0';
	else
		tu_b64_encode(u->hash, HASH_LEN, hash_out);
	*tags = u->tags ? u->tags : "";
	*vhosts = rec;
	return 0;
}

int tdm_auth_restore_scram(struct tdm_auth *a, const char *user, const struct tdm_scram_cred *cred)
{
	struct auth_user *u = find_user(a, user, strlen(user));

	if (!u || u->locked)
		return -1;
	memcpy(u->scram, cred, sizeof(u->scram)); /* cred has TDM_SCRAM_NMECH entries */
	u->has_scram = 1;
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
