/* The TCases of a Check suite side by side, each in a process of its own.
 *
 * Check runs a suite's tests one after the other. Most integration tests
 * spend their time waiting (timers of the broker, sockets, a tandemd of
 * their own starting or stopping), so a program whose TCases do not
 * disturb each other runs them at the same time: each TCase made with
 * tp_tcase() runs in a child process (its tests one after the other, each
 * forked by Check under its timeout as usual), all of them at once, while
 * this process runs the suite's other TCases in order.
 *
 * What may go in a parallel TCase: tests that use a broker of their own,
 * or names of their own on a shared broker and no broker-wide state that
 * another TCase asserts on (alarms, totals, restarts of a shared broker).
 *
 * Everything runs here, in order, when a Check variable selects tests
 * (CK_RUN_SUITE, CK_RUN_CASE, CK_INCLUDE_TAGS, CK_EXCLUDE_TAGS), with
 * CK_FORK=no (a debugger's view), with TANDEM_TEST_SERIAL=1, under a
 * TANDEMD_WRAPPER (valgrind: each tandemd 20-50 times slower) unless
 * TANDEM_TEST_SERIAL=0, or when the caller asks (a shared external broker
 * that tests restart). Check's log files
 * (CK_LOG_FILE_NAME, CK_XML_LOG_FILE_NAME, CK_TAP_LOG_FILE_NAME) get one
 * file per parallel TCase: NAME.<tcase>.
 *
 * Depends on: Check, POSIX. Nothing from src/.
 */
#ifndef TANDEM_TESTS_INTEGRATION_PARALLEL_H
#define TANDEM_TESTS_INTEGRATION_PARALLEL_H

#include <check.h>

/* A TCase named name (unique in the suite), timeout_s seconds per test
 * (Check's CK_TIMEOUT_MULTIPLIER scales it), added to s; tp_run_suite()
 * runs it in a process of its own beside the others. At most 32 per
 * program; the program exits with status 99 beyond that. */
TCase *tp_tcase(Suite *s, const char *name, int timeout_s);

/* Runs s (fork mode unless CK_FORK says otherwise): the TCases of
 * tp_tcase() each in a child process, all at once, and the suite's other
 * TCases here meanwhile; serial != 0 runs all of them here in order.
 * Waits for every child (each is bounded by its tests' timeouts). Returns
 * the number of failed tests, plus one for each parallel TCase whose
 * process ran no test or ended without its report. Frees s. */
int tp_run_suite(Suite *s, int serial);

#endif
