/*
 * tests/unit/test_logstore.h: helpers shared by the logstore Check suites:
 * temporary data directories, a settable clock, record builders and
 * whole-partition readers.
 *
 * Must not depend on src/ or libevent: it sees only logstore/.
 */
#ifndef TANDEM_TEST_LOGSTORE_H
#define TANDEM_TEST_LOGSTORE_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include "logstore.h"

/* A passing ck_assert costs a write, so hot loops test first. */
#define HOT_ASSERT(expr, ...) \
	do { \
		if (!(expr)) \
			ck_abort_msg(__VA_ARGS__); \
	} while (0)

extern int64_t tl_clock; /* the injected clock, ms */

/* mkdtemp under /tmp; the returned path is static storage per call slot. */
char *tl_mkdtemp(void);
/* rm -rf dir */
void tl_rmdir(const char *dir);
/* Opens dir with the injected clock; aborts on failure. */
struct ls_store *tl_open(const char *dir);
/* Creates a topic and returns partition 0; aborts on failure. */
struct ls_partition *tl_topic(struct ls_store *s, const char *name, int32_t nparts,
			      const struct ls_kv *cfg, size_t ncfg);
struct ls_partition *tl_part(struct ls_store *s, const char *name, int32_t i);
/* Appends a batch of n records whose values are "v<offset>" (each record
 * knows its own offset) and keys "k<offset % nkeys>" (nkeys 0: no key). */
uint64_t tl_append(struct ls_partition *p, size_t n, unsigned nkeys);
/* Reads every record from `from` to the log end and checks each value is
 * "v<offset>" when check_values; returns the count.  offsets (may be
 * NULL) receives them. */
size_t tl_read_all(struct ls_partition *p, uint64_t from, int check_values,
		   uint64_t *offsets, size_t max);
/* Path helper: dir/rel into buf. */
const char *tl_path(char *buf, size_t len, const char *dir, const char *rel);
/* Removes dir/part/ *.snapshot (the producer snapshots); the count removed. */
int tl_remove_snapshots(const char *dir, const char *part);
/* File size, -1 if missing. */
long long tl_file_size(const char *path);

Suite *tl_core_suite(void);
Suite *tl_log_suite(void);
Suite *tl_recovery_suite(void);
Suite *tl_retention_suite(void);
Suite *tl_draft_suite(void);
Suite *tl_repl_suite(void);
Suite *tl_producer_suite(void);
Suite *tl_codec_suite(void);
Suite *tl_legacy_suite(void);
Suite *tl_txn_suite(void);

#endif
