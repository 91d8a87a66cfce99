/*
 * libFuzzer target for the SCRAM server's message parsers (src/core/scram.c):
 * the input, split at its first NUL byte, is a client-first message and
 * a client-final message fed to one exchange (with a fixed credential and
 * server nonce), and each half also goes to the parsers directly.
 * Invariants: every slice a parser returns lies inside its input; a
 * parsed proof is at most a SHA-512 digest; the exchange answers within
 * its output buffer.  tests/fuzz/replay.c runs it over the committed
 * corpus in `make check`.
 *
 * Depends on: src/core/scram.c, src/util/b64.c, libcrypto.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "core/scram.h"



static int inside(const char *p, size_t n, const char *lo, size_t len)
{
	return n == 0 || (p >= lo && p + n <= lo + len);
}

static void parse_both(const char *m, size_t n)
{
	struct tdm_scram_client_first f;
	struct tdm_scram_client_final c;
	char user[64];

	if (tdm_scram_parse_client_first(m, n, &f) == 0) {
		CHECK(inside(f.gs2, f.gs2_len, m, n) && inside(f.bare, f.bare_len, m, n));
		CHECK(inside(f.user, f.user_len, m, n) && inside(f.nonce, f.nonce_len, m, n));
		long l = tdm_scram_unescape_name(f.user, f.user_len, user, sizeof(user));
		CHECK(l < (long)sizeof(user));
	}
	if (tdm_scram_parse_client_final(m, n, &c) == 0) {
		CHECK(inside(c.channel_binding, c.channel_binding_len, m, n));
		CHECK(inside(c.nonce, c.nonce_len, m, n));
		CHECK(c.without_proof_len < n && c.proof_len <= TDM_SCRAM_MAX_HASH);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tdm_scram_cred cred;
	static int have;
	const char *m = (const char *)data;
	const char *z = memchr(m, '\0', size);
	size_t n1 = z ? (size_t)(z - m) : size;
	char user[256], out[512];

	if (!have) {
		static const unsigned char salt[16] = "0123456789abcdef";
		CHECK(tdm_scram_derive(TDM_SCRAM_SHA256, "pencil", 6, salt, 16, 16, &cred) == 0);
		have = 1;
	}
	parse_both(m, n1);
	if (z)
		parse_both(z + 1, size - n1 - 1);
	struct tdm_scram_server *s = tdm_scram_server_new(TDM_SCRAM_SHA256);
	CHECK(s);
	if (tdm_scram_server_start(s, m, n1, user, sizeof(user)) == 0) {
		CHECK(strlen(user) < sizeof(user));
		long l = tdm_scram_server_challenge(s, &cred, "SNONCE", out, sizeof(out));
		CHECK(l > 0 && l <= (long)sizeof(out));
		if (z) {
			l = tdm_scram_server_finish(s, z + 1, size - n1 - 1, out, sizeof(out));
			CHECK(l >= -2 && l <= (long)sizeof(out));
		}
	}
	tdm_scram_server_free(s);
	return 0;
}
