/*
 * SipHash-2-4, incremental and one-shot.  Keys of hash tables that hold
 * client-chosen names go through it with a secret 128-bit key.
 *
 * Must not depend on anything outside libc.
 */
#ifndef TANDEM_UTIL_SIPHASH_H
#define TANDEM_UTIL_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* Incremental SipHash-2-4 state. */
struct tu_sip {
	uint64_t v0, v1, v2, v3;
	uint64_t tail; /* pending bytes, little-endian */
	size_t len;    /* total bytes fed so far */
};

/* Starts a hash with the 128-bit key `key`. */
void tu_sip_init(struct tu_sip *s, const uint64_t key[2]);
/* Feeds n bytes (p may be NULL when n is 0). */
void tu_sip_update(struct tu_sip *s, const void *p, size_t n);
/* Feeds one 64-bit value in a fixed byte order. */
void tu_sip_u64(struct tu_sip *s, uint64_t v);
/* The hash of everything fed; s itself is left unchanged. */
uint64_t tu_sip_final(const struct tu_sip *s);
/* One-shot SipHash-2-4 of n bytes. */
uint64_t tu_siphash(const uint64_t key[2], const void *p, size_t n);

#endif
