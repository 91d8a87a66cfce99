/*
 * TDM_ASSERT (util/invariant.h) in a build where it is on: this program is
 * compiled with -DTDM_DEBUG_ASSERTS, as configure --enable-sanitizers
 * compiles everything.  A forked child that breaks an invariant must die by
 * SIGABRT after saying file:line and the expression on stderr; one that
 * keeps it must run on.  core/message.c is compiled in too, to show its
 * refcount check fires.
 */
#include <check.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/message.h"
#include "util/invariant.h"

/* Runs fn in a child with stderr into a pipe; returns its wait status and
 * what it wrote (NUL-terminated, at most cap - 1 bytes). */
static int run_child(void (*fn)(int), int arg, char *out, size_t cap)
{
	int fds[2];
	ck_assert_int_eq(pipe(fds), 0);
	pid_t pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		dup2(fds[1], STDERR_FILENO);
		fn(arg);
		_exit(0);
	}
	close(fds[1]);
	size_t len = 0;
	ssize_t n;
	while (len + 1 < cap && (n = read(fds[0], out + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(fds[0]);
	int status = 0;
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static void check_value(int x)
{
	TDM_ASSERT(x == 1);
}

START_TEST(assert_is_on_in_this_build)
{
	ck_assert_int_eq(TDM_ASSERTS_ON, 1);
}
END_TEST

START_TEST(violated_assert_aborts_with_file_line_and_expression)
{
	char err[512];
	int status = run_child(check_value, 2, err, sizeof(err));
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT,
		      "child status %#x, not SIGABRT", status);
	ck_assert_msg(strstr(err, "test_invariant.c:") != NULL, "stderr: %s", err);
	ck_assert_msg(strstr(err, ": assertion failed: x == 1") != NULL, "stderr: %s", err);
}
END_TEST

START_TEST(kept_assert_runs_on)
{
	char err[512];
	int status = run_child(check_value, 1, err, sizeof(err));
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %#x", status);
	ck_assert_str_eq(err, "");
}
END_TEST

/* One unref more than there were refs: caught before the count wraps and
 * the message is freed twice. */
START_TEST(message_unref_below_zero_aborts)
{
	struct tdm_message *m = tdm_message_new("", 0, "k", 1, (const uint8_t *)"h", 1, 1);
	ck_assert_ptr_nonnull(m);
	m->refcnt = 0; /* as if every reference had been dropped already */
	tdm_message_unref(m);
}
END_TEST

START_TEST(message_ref_of_dead_message_aborts)
{
	struct tdm_message *m = tdm_message_new("", 0, "k", 1, (const uint8_t *)"h", 1, 1);
	ck_assert_ptr_nonnull(m);
	m->refcnt = 0;
	tdm_message_ref(m);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("core-invariant");
	TCase *tc = tcase_create("assert");
	tcase_add_test(tc, assert_is_on_in_this_build);
	tcase_add_test(tc, violated_assert_aborts_with_file_line_and_expression);
	tcase_add_test(tc, kept_assert_runs_on);
	tcase_add_test_raise_signal(tc, message_unref_below_zero_aborts, SIGABRT);
	tcase_add_test_raise_signal(tc, message_ref_of_dead_message_aborts, SIGABRT);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
