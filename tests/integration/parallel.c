/* See parallel.h. */
#include "parallel.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

/* The tag of the TCases that run in processes of their own: the suite's
 * other TCases are those without it. */
#define TP_TAG "tp-parallel"
#define TP_MAX 32
/* A child's exit status: the failed tests (at most TP_FAILED_MAX), or
 * TP_RAN_NONE when its TCase ran no test (a misspelt name, say). */
#define TP_FAILED_MAX 100
#define TP_RAN_NONE 101

static struct {
	const char *name; /* borrowed: the caller's string, alive for the program */
} cases[TP_MAX];
static int ncases;

TCase *tp_tcase(Suite *s, const char *name, int timeout_s)
{
	if (ncases == TP_MAX) {
		fprintf(stderr, "parallel: more than %d parallel TCases\n", TP_MAX);
		exit(99);
	}
	TCase *tc = tcase_create(name);
	tcase_set_timeout(tc, timeout_s);
	tcase_set_tags(tc, TP_TAG);
	suite_add_tcase(s, tc);
	cases[ncases++].name = name;
	return tc;
}

static int env_set(const char *name)
{
	const char *v = getenv(name);
	return v != NULL && *v != '\0';
}

/* 1 when the environment asks for one test, a debugger's view, or one
 * TCase at a time (TANDEM_TEST_SERIAL; a tandemd under a wrapper such as
 * valgrind, 20-50 times slower, unless TANDEM_TEST_SERIAL=0). */
static int env_wants_serial(void)
{
	const char *fork_env = getenv("CK_FORK"), *serial = getenv("TANDEM_TEST_SERIAL");
	if (env_set("CK_RUN_SUITE") || env_set("CK_RUN_CASE") || env_set("CK_INCLUDE_TAGS") ||
	    env_set("CK_EXCLUDE_TAGS") || (fork_env != NULL && strcmp(fork_env, "no") == 0))
		return 1;
	if (serial != NULL && *serial != '\0')
		return strcmp(serial, "0") != 0;
	return env_set("TANDEMD_WRAPPER");
}

static SRunner *runner(Suite *s)
{
	SRunner *sr = srunner_create(s);
	if (getenv("CK_FORK") == NULL)
		srunner_set_fork_status(sr, CK_FORK);
	return sr;
}

/* In the child of TCase name: one log file of Check's per TCase. */
static void own_log_files(const char *name)
{
	static const char *const vars[] = { "CK_LOG_FILE_NAME", "CK_XML_LOG_FILE_NAME",
					    "CK_TAP_LOG_FILE_NAME" };
	for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) {
		const char *v = getenv(vars[i]);
		char buf[4096];
		if (v == NULL || *v == '\0' || strcmp(v, "-") == 0)
			continue;
		snprintf(buf, sizeof(buf), "%s.%s", v, name);
		setenv(vars[i], buf, 1);
	}
}

/* Runs TCase name of s and ends the process with its exit status. */
static void run_child(Suite *s, const char *name)
{
	setvbuf(stdout, NULL, _IOLBF, 0); /* lines, not blocks, in the shared log */
	own_log_files(name);
	SRunner *sr = runner(s);
	/* results at the end, in one piece: the children share the log */
	srunner_run(sr, NULL, name, CK_SILENT);
	int run = srunner_ntests_run(sr), failed = srunner_ntests_failed(sr);
	printf("parallel: tcase %s: %d of %d tests passed\n", name, run - failed, run);
	srunner_print(sr, CK_ENV);
	fflush(NULL);
	/* _exit: the handlers atexit() registered belong to the parent */
	_exit(run == 0 ? TP_RAN_NONE : failed > TP_FAILED_MAX ? TP_FAILED_MAX : failed);
}

int tp_run_suite(Suite *s, int serial)
{
	pid_t pids[TP_MAX];
	const char *who[TP_MAX];
	int failed = 0, n = 0;

	if (serial || env_wants_serial()) {
		SRunner *sr = runner(s);
		srunner_run_all(sr, CK_ENV);
		failed = srunner_ntests_failed(sr);
		srunner_free(sr);
		return failed;
	}
	for (int i = 0; i < ncases; i++) {
		fflush(NULL); /* nothing buffered twice */
		pid_t pid = fork();
		if (pid < 0) {
			fprintf(stderr, "parallel: fork for tcase %s: %s\n", cases[i].name,
				strerror(errno));
			failed++;
			continue;
		}
		if (pid == 0)
			run_child(s, cases[i].name);
		who[n] = cases[i].name;
		pids[n++] = pid;
	}
	/* the rest here, meanwhile */
	SRunner *sr = runner(s);
	srunner_run_tagged(sr, NULL, NULL, NULL, TP_TAG, CK_SILENT);
	if (srunner_ntests_run(sr) > 0) /* there were other TCases */
		srunner_print(sr, CK_ENV);
	failed += srunner_ntests_failed(sr);
	srunner_free(sr);
	for (int i = 0; i < n; i++) {
		int status = 0;
		pid_t r;
		while ((r = waitpid(pids[i], &status, 0)) < 0 && errno == EINTR) {
		}
		if (r < 0 || !WIFEXITED(status)) {
			fprintf(stderr,
				"parallel: the process of tcase %s ended without its report (status 0x%x)\n",
				who[i], status);
			failed++;
		} else if (WEXITSTATUS(status) == TP_RAN_NONE) {
			fprintf(stderr, "parallel: tcase %s ran no test\n", who[i]);
			failed++;
		} else {
			failed += WEXITSTATUS(status);
		}
	}
	return failed;
}
