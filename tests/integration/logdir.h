/*
 * What a tandemd data dir holds, for tests that check the log store's
 * files themselves (segments deleted, logs removed): a partition's
 * directory is <data>/logs/<topic>-<partition>, its segments
 * <base offset, 20 digits>.log.
 *
 * Depends on: POSIX dirent only.
 */
#ifndef TANDEM_TESTS_LOGDIR_H
#define TANDEM_TESTS_LOGDIR_H

/* The base offset of the oldest segment in partition directory dir, and
 * in *nsegs (may be NULL) how many segments it has; -1 when dir cannot be
 * read or has none. */
long long ld_oldest_segment(const char *dir, int *nsegs);

#endif
