/*
 * logstore/crc32c.h: CRC-32C (Castagnoli), the checksum of Kafka's
 * RecordBatch v2 (and of iSCSI, ext4, ...).
 *
 * Must not depend on anything outside libc.
 */
#ifndef TANDEM_LOGSTORE_CRC32C_H
#define TANDEM_LOGSTORE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * CRC-32C of buf[0..len) continuing from `crc`, the value returned for the
 * data before it; start with 0.  So ls_crc32c(ls_crc32c(0, a, n), b, m) is
 * the CRC of a followed by b.  The usual pre- and post-inversion is done
 * inside: ls_crc32c(0, "123456789", 9) == 0xE3069283.  buf may be NULL when
 * len is 0.  Thread-safe (the tables are built once, under call_once).
 */
uint32_t ls_crc32c(uint32_t crc, const void *buf, size_t len);

#endif
