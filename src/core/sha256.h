/*
 * SHA-256 (FIPS 180-4), incremental form, private to src/core: auth.c hashes
 * salt || password without first copying the password into a joined buffer.
 * The one-shot tdm_sha256() is declared in core/auth.h.
 *
 * Must not depend on: anything beyond the C library.
 */
#ifndef TANDEM_CORE_SHA256_H
#define TANDEM_CORE_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct tdm_sha256_ctx {
	uint32_t h[8];
	uint64_t nbytes;        /* total bytes fed so far */
	unsigned char buf[64];  /* partial block */
	size_t buflen;
};

void tdm_sha256_init(struct tdm_sha256_ctx *ctx);
void tdm_sha256_update(struct tdm_sha256_ctx *ctx, const void *data, size_t len);
/* Writes the digest and wipes ctx. */
void tdm_sha256_final(struct tdm_sha256_ctx *ctx, unsigned char out[32]);

#endif
