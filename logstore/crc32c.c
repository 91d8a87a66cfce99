/*
 * logstore/crc32c.c: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78)
 * by slicing-by-8: eight 256-entry tables let the loop fold 8 input bytes
 * per step with eight independent lookups instead of a dependent chain of
 * eight.  Byte order of the input words is handled explicitly, so the code
 * is correct on any host endianness.
 *
 * Must not depend on anything outside libc.
 */
#include "crc32c.h"

#include <stdlib.h>
#include <string.h>

#include <threads.h>

#define CRC32C_POLY UINT32_C(0x82F63B78)

/* crc_table[0] is the classic byte-at-a-time table; crc_table[k][b] is the
 * CRC contribution of byte b followed by k zero bytes. */
static uint32_t crc_table[8][256];
static once_flag crc_once = ONCE_FLAG_INIT;

static void crc_init(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int bit = 0; bit < 8; bit++)
			c = (c & 1) ? (c >> 1) ^ CRC32C_POLY : c >> 1;
		crc_table[0][i] = c;
	}
	for (int k = 1; k < 8; k++)
		for (int i = 0; i < 256; i++) {
			uint32_t prev = crc_table[k - 1][i];

			crc_table[k][i] = (prev >> 8) ^ crc_table[0][prev & 0xff];
		}
}

static uint32_t load_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

#if defined(__x86_64__) && defined(__GNUC__)
/* SSE4.2 has the Castagnoli CRC as an instruction: 8 bytes per cycle or so,
 * several times the table's speed.  Chosen at run time (cpuid), so the
 * library still runs on a CPU without it. */
__attribute__((target("sse4.2"))) static uint32_t crc_hw(uint32_t c, const unsigned char *p,
							  size_t len)
{
	uint64_t c64 = c;
	while (len >= 8) {
		uint64_t v;
		memcpy(&v, p, 8); /* unaligned-safe; x86 is little-endian as CRC-32C wants */
		c64 = __builtin_ia32_crc32di(c64, v);
		p += 8;
		len -= 8;
	}
	c = (uint32_t)c64;
	while (len-- > 0)
		c = __builtin_ia32_crc32qi(c, *p++);
	return c;
}

static int have_hw(void)
{
	static int cached = -1;
	if (cached < 0) /* LS_CRC32C_PORTABLE=1 forces the table (tests cover both) */
		cached = __builtin_cpu_supports("sse4.2") && !getenv("LS_CRC32C_PORTABLE") ? 1 : 0;
	return cached;
}
#endif

uint32_t ls_crc32c(uint32_t crc, const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint32_t c = ~crc;

#if defined(__x86_64__) && defined(__GNUC__)
	if (have_hw())
		return ~crc_hw(c, p, len);
#endif
	call_once(&crc_once, crc_init);
	while (len >= 8) {
		uint32_t lo = c ^ load_le32(p);
		uint32_t hi = load_le32(p + 4);

		c = crc_table[7][lo & 0xff] ^ crc_table[6][(lo >> 8) & 0xff] ^
		    crc_table[5][(lo >> 16) & 0xff] ^ crc_table[4][lo >> 24] ^
		    crc_table[3][hi & 0xff] ^ crc_table[2][(hi >> 8) & 0xff] ^
		    crc_table[1][(hi >> 16) & 0xff] ^ crc_table[0][hi >> 24];
		p += 8;
		len -= 8;
	}
	while (len-- > 0)
		c = crc_table[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return ~c;
}
