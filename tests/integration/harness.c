/* Integration test harness: broker lifecycle, rabbitmq-c and raw-socket helpers.
 * See harness.h for the contracts. Depends on Check, rabbitmq-c and POSIX only;
 * it starts tandemd as a separate process and never links server code. */
#include "harness.h"
#include "parallel.h"
#include "sockutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef TANDEMD_PATH
#define TANDEMD_PATH "../../src/tandemd"
#endif

static struct {
	char host[256];
	int port;
	int external;
	pid_t pid;        /* tandemd (or its wrapper), 0 if none */
	pid_t owner;      /* process that started it; forked tests must not stop it */
	char datadir[4096];
	int started;
} broker;

static char last_close_text[512];

/* Extra tandemd arguments (th_start_with_args, th_broker_restart_with_args);
 * none unless a test sets them. */
#define TH_MAX_EXTRA_ARGS 32
static char *extra_args[TH_MAX_EXTRA_ARGS + 1];

/* ---- small utilities ------------------------------------------------------ */

uint64_t th_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void th_sleep_ms(unsigned ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
	}
}

const char *th_name(char *buf, size_t len, const char *prefix)
{
	static unsigned counter;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(buf, len, "%s-%ld-%u-%lx", prefix, (long)getpid(), ++counter,
		 (unsigned long)((ts.tv_nsec ^ (ts.tv_sec << 20)) & 0xffffff));
	return buf;
}

static int env_int(const char *name, int dflt)
{
	const char *v = getenv(name);
	if (v == NULL || *v == '\0')
		return dflt;
	return atoi(v);
}

/* ---- broker lifecycle ------------------------------------------------------ */

static int tcp_connect(const char *host, int port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void remove_tree(const char *dir)
{
	if (dir[0] != '\0')
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Split the wrapper command (e.g. "valgrind --leak-check=full") on spaces. */
static int split_words(char *s, char **argv, int max)
{
	int n = 0;
	char *save = NULL;
	for (char *w = strtok_r(s, " \t", &save); w != NULL && n < max; w = strtok_r(NULL, " \t", &save))
		argv[n++] = w;
	return n;
}

static pid_t spawn_tandemd(const char *path, int port, const char *datadir)
{
	char portstr[16];
	snprintf(portstr, sizeof(portstr), "%d", port);
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		char *argv[64 + TH_MAX_EXTRA_ARGS];
		int n = 0;
		char wrapper[1024] = "";
		const char *w = getenv("TANDEMD_WRAPPER");
		/* Die with the test program even if it is killed. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (w != NULL) {
			snprintf(wrapper, sizeof(wrapper), "%s", w);
			n = split_words(wrapper, argv, 40);
		}
		argv[n++] = (char *)path;
		argv[n++] = "--data-dir";
		argv[n++] = (char *)datadir;
		argv[n++] = "--amqp-port";
		argv[n++] = portstr;
		argv[n++] = "--kafka-port";
		argv[n++] = "0";
		argv[n++] = "--http-port";
		argv[n++] = "0";
		argv[n++] = "--log-level";
		argv[n++] = (char *)(getenv("TANDEMD_LOG_LEVEL") ? getenv("TANDEMD_LOG_LEVEL") : "info");
		for (int i = 0; extra_args[i] != NULL; i++)
			argv[n++] = extra_args[i];
		argv[n] = NULL;
		execvp(argv[0], argv);
		fprintf(stderr, "harness: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	return pid;
}

static void stop_at_exit(void)
{
	if (broker.owner == getpid())
		th_stop();
}

void th_start(void)
{
	const char *ext = getenv("TANDEM_TEST_BROKER");
	signal(SIGPIPE, SIG_IGN);
	if (broker.started)
		return;
	broker.owner = getpid();
	if (ext != NULL && *ext != '\0') {
		const char *colon = strrchr(ext, ':');
		if (colon == NULL || colon == ext || (size_t)(colon - ext) >= sizeof(broker.host)) {
			fprintf(stderr, "harness: TANDEM_TEST_BROKER must be host:port, got '%s'\n", ext);
			exit(99);
		}
		memcpy(broker.host, ext, (size_t)(colon - ext));
		broker.host[colon - ext] = '\0';
		if (strcmp(broker.host, "localhost") == 0)
			snprintf(broker.host, sizeof(broker.host), "127.0.0.1");
		broker.port = atoi(colon + 1);
		broker.external = 1;
		broker.started = 1;
		fprintf(stderr, "harness: using external broker %s:%d\n", broker.host, broker.port);
		return;
	}

	const char *path = getenv("TANDEMD") ? getenv("TANDEMD") : TANDEMD_PATH;
	if (access(path, X_OK) != 0) {
		fprintf(stderr, "harness: tandemd not found at %s (set TANDEMD or TANDEM_TEST_BROKER)\n", path);
		exit(99);
	}
	snprintf(broker.host, sizeof(broker.host), "127.0.0.1");
	int wrapped = getenv("TANDEMD_WRAPPER") != NULL && *getenv("TANDEMD_WRAPPER") != '\0';
	/* 100 x 50 ms by default; valgrind needs far longer to start. */
	int start_ms = env_int("TANDEM_TEST_START_TIMEOUT_MS", wrapped ? 60000 : 5000);

	for (int attempt = 0; attempt < 5; attempt++) {
		const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
		snprintf(broker.datadir, sizeof(broker.datadir), "%s/tandem-it.XXXXXX", tmp);
		if (mkdtemp(broker.datadir) == NULL) {
			fprintf(stderr, "harness: mkdtemp: %s\n", strerror(errno));
			exit(99);
		}
		broker.port = su_free_port();
		broker.pid = spawn_tandemd(path, broker.port, broker.datadir);
		if (broker.pid < 0) {
			fprintf(stderr, "harness: fork: %s\n", strerror(errno));
			exit(99);
		}
		uint64_t deadline = th_now_ms() + (uint64_t)start_ms;
		int up = 0, died = 0, status = 0;
		while (th_now_ms() < deadline) {
			if (waitpid(broker.pid, &status, WNOHANG) == broker.pid) {
				died = 1;
				break;
			}
			int fd = tcp_connect(broker.host, broker.port);
			if (fd >= 0) {
				close(fd);
				up = 1;
				break;
			}
			th_sleep_ms(50);
		}
		if (up) {
			broker.started = 1;
			atexit(stop_at_exit);
			fprintf(stderr, "harness: tandemd pid %ld on %s:%d, data %s\n", (long)broker.pid, broker.host,
				broker.port, broker.datadir);
			return;
		}
		if (died) {
			/* Most likely the port was taken between probe and bind: retry. */
			fprintf(stderr, "harness: tandemd exited during start (status 0x%x), attempt %d\n", status,
				attempt + 1);
		} else {
			fprintf(stderr, "harness: tandemd did not accept on port %d within %d ms\n", broker.port,
				start_ms);
			kill(broker.pid, SIGKILL);
			waitpid(broker.pid, NULL, 0);
		}
		broker.pid = 0;
		remove_tree(broker.datadir);
		if (!died)
			break;
	}
	fprintf(stderr, "harness: could not start tandemd (%s)\n", path);
	exit(99);
}

int th_stop(void)
{
	int rc = 0;
	if (!broker.started || broker.external || broker.pid <= 0)
		return 0;
	int wrapped = getenv("TANDEMD_WRAPPER") != NULL && *getenv("TANDEMD_WRAPPER") != '\0';
	uint64_t deadline = th_now_ms() + (wrapped ? 60000u : 10000u);
	int status = 0, gone = 0;
	kill(broker.pid, SIGTERM);
	while (th_now_ms() < deadline) {
		pid_t r = waitpid(broker.pid, &status, WNOHANG);
		if (r == broker.pid || (r < 0 && errno == ECHILD)) {
			gone = 1;
			break;
		}
		th_sleep_ms(20);
	}
	if (!gone) {
		fprintf(stderr, "harness: tandemd did not stop on SIGTERM; killing it\n");
		kill(broker.pid, SIGKILL);
		waitpid(broker.pid, &status, 0);
		rc = 1;
	} else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		fprintf(stderr, "harness: tandemd exited with status 0x%x after SIGTERM\n", status);
		rc = 1;
	}
	broker.pid = 0;
	if (getenv("TANDEM_TEST_KEEP_DATA") == NULL)
		remove_tree(broker.datadir);
	broker.started = 0;
	return rc;
}

int th_run_suite(Suite *s)
{
	th_start();
	/* one after the other against an external broker: a program's tests
	 * may stop and restart it */
	int failed = tp_run_suite(s, broker.external);
	if (th_stop() != 0)
		failed++;
	return failed == 0 ? 0 : 1;
}

TCase *th_tcase(const char *name)
{
	TCase *tc = tcase_create(name);
	tcase_set_timeout(tc, TH_TEST_TIMEOUT);
	return tc;
}

const char *th_host(void)
{
	return broker.host;
}

int th_port(void)
{
	return broker.port;
}

int th_external(void)
{
	return broker.external;
}

long th_broker_pid(void)
{
	return broker.external ? 0 : (long)broker.pid;
}

/* ---- brokers a test may stop, kill and restart ----------------------------- */

static struct {
	char root[2048]; /* scratch dir for the data dirs of th_start_with_args */
	pid_t root_owner;
	int stopped; /* the broker of this process was stopped or killed on purpose */
} priv;

static const char *tandemd_path(void)
{
	return getenv("TANDEMD") ? getenv("TANDEMD") : TANDEMD_PATH;
}

static int wrapped_broker(void)
{
	return getenv("TANDEMD_WRAPPER") != NULL && *getenv("TANDEMD_WRAPPER") != '\0';
}

static int start_timeout_ms(void)
{
	return env_int("TANDEM_TEST_START_TIMEOUT_MS", wrapped_broker() ? 60000 : 5000);
}

static void set_extra_args(const char *const *extra)
{
	for (int i = 0; extra_args[i] != NULL; i++) {
		free(extra_args[i]);
		extra_args[i] = NULL;
	}
	for (int i = 0; extra != NULL && extra[i] != NULL; i++) {
		if (i == TH_MAX_EXTRA_ARGS) {
			fprintf(stderr, "harness: more than %d extra tandemd args\n", TH_MAX_EXTRA_ARGS);
			exit(99);
		}
		extra_args[i] = strdup(extra[i]);
		if (extra_args[i] == NULL)
			exit(99);
	}
}

static void remove_root_at_exit(void)
{
	if (priv.root_owner == getpid() && priv.root[0] != '\0' && getenv("TANDEM_TEST_KEEP_DATA") == NULL)
		remove_tree(priv.root);
}

void th_start_private(void)
{
	th_start();
	if (broker.external || priv.root[0] != '\0')
		return;
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	snprintf(priv.root, sizeof(priv.root), "%s/tandem-it-own.XXXXXX", tmp);
	if (mkdtemp(priv.root) == NULL) {
		fprintf(stderr, "harness: mkdtemp %s: %s\n", priv.root, strerror(errno));
		exit(99);
	}
	priv.root_owner = getpid();
	/* registered after th_start's handler, so it runs before it: harmless,
	 * the program's own broker's data dir is elsewhere */
	atexit(remove_root_at_exit);
}

static const char *ext_cmd(const char *name)
{
	const char *v = getenv(name);
	return v != NULL && *v != '\0' ? v : NULL;
}

int th_can_restart(void)
{
	if (!broker.external)
		return 1;
	return ext_cmd("TANDEM_TEST_BROKER_STOP") != NULL && ext_cmd("TANDEM_TEST_BROKER_START") != NULL;
}

/* Wait (bounded) until the broker accepts on broker.port. Returns 1 when it
 * does, 0 when pid exited (its wait status in *status), -1 on timeout. */
static int wait_accepting(pid_t pid, int timeout_ms, int *status)
{
	uint64_t deadline = th_now_ms() + (uint64_t)timeout_ms;
	while (th_now_ms() < deadline) {
		if (pid > 0 && waitpid(pid, status, WNOHANG) == pid)
			return 0;
		int fd = tcp_connect(broker.host, broker.port);
		if (fd >= 0) {
			close(fd);
			return 1;
		}
		th_sleep_ms(20);
	}
	return -1;
}

/* Spawn tandemd on broker.port / broker.datadir and wait until it accepts.
 * Returns 1 (broker.pid set), 0 when it exited during start, -1 when it did
 * not accept in time (it is killed). */
static int spawn_and_wait(void)
{
	int status = 0;
	broker.pid = spawn_tandemd(tandemd_path(), broker.port, broker.datadir);
	if (broker.pid < 0) {
		broker.pid = 0;
		return 0;
	}
	int rc = wait_accepting(broker.pid, start_timeout_ms(), &status);
	if (rc == 1)
		return 1;
	if (rc == 0)
		fprintf(stderr, "harness: tandemd exited during start (status 0x%x)\n", status);
	else {
		fprintf(stderr, "harness: tandemd did not accept on port %d within %d ms\n", broker.port,
			start_timeout_ms());
		kill(broker.pid, SIGKILL);
		waitpid(broker.pid, NULL, 0);
	}
	broker.pid = 0;
	return rc;
}

/* Fail the test when the broker is not one this process may stop. */
static void require_own_broker(const char *what)
{
	ck_assert_msg(broker.started, "%s: no broker", what);
	if (broker.external)
		return;
	ck_assert_msg(broker.owner == getpid(),
		      "%s: the broker belongs to another process; call th_start_with_args() in the test first",
		      what);
}

/* At the exit of a test process that started its own broker: stop it and
 * remove its data dir, also when the test killed it. */
static void own_broker_at_exit(void)
{
	if (broker.external || broker.owner != getpid() || !broker.started)
		return;
	if (broker.pid > 0) {
		th_stop();
		return;
	}
	if (getenv("TANDEM_TEST_KEEP_DATA") == NULL)
		remove_tree(broker.datadir);
	broker.started = 0;
}

void th_start_with_args(const char *const *extra)
{
	if (!broker.started) {
		set_extra_args(extra);
		th_start();
		return;
	}
	if (broker.external)
		return;
	ck_assert_msg(broker.owner != getpid(),
		      "th_start_with_args: this process already started its broker (use th_broker_restart)");
	if (access(tandemd_path(), X_OK) != 0)
		ck_abort_msg("tandemd not found at %s", tandemd_path());
	set_extra_args(extra);
	/* From here on the broker named by this process is its own; the one
	 * inherited from the program stays untouched. */
	broker.owner = getpid();
	broker.pid = 0;
	broker.datadir[0] = '\0';
	priv.stopped = 0;
	for (int attempt = 0; attempt < 5; attempt++) {
		const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
		if (priv.root[0] != '\0')
			snprintf(broker.datadir, sizeof(broker.datadir), "%s/t%ld.XXXXXX", priv.root, (long)getpid());
		else
			snprintf(broker.datadir, sizeof(broker.datadir), "%s/tandem-it.XXXXXX", tmp);
		ck_assert_msg(mkdtemp(broker.datadir) != NULL, "mkdtemp %s: %s", broker.datadir, strerror(errno));
		broker.port = su_free_port();
		ck_assert_msg(broker.port > 0, "no free port");
		int rc = spawn_and_wait();
		if (rc == 1) {
			atexit(own_broker_at_exit);
			fprintf(stderr, "harness: test's own tandemd pid %ld on %s:%d, data %s\n", (long)broker.pid,
				broker.host, broker.port, broker.datadir);
			return;
		}
		remove_tree(broker.datadir);
		broker.datadir[0] = '\0';
		if (rc < 0)
			break;
		/* most likely the port was taken between probe and bind: retry */
	}
	broker.started = 0;
	ck_abort_msg("could not start tandemd (%s) with the test's arguments", tandemd_path());
}

/* Run a shell command with a bounded wait; returns its wait status or -1. */
static int run_cmd(const char *cmd, int timeout_ms)
{
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	uint64_t deadline = th_now_ms() + (uint64_t)timeout_ms;
	int status = 0;
	while (th_now_ms() < deadline) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		th_sleep_ms(50);
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	return -1;
}

static void external_stop(const char *what)
{
	const char *cmd = ext_cmd("TANDEM_TEST_BROKER_STOP");
	ck_assert_msg(cmd != NULL, "%s: external broker and no TANDEM_TEST_BROKER_STOP", what);
	int st = run_cmd(cmd, 180000);
	ck_assert_msg(st == 0, "%s: '%s' failed (status %d)", what, cmd, st);
	priv.stopped = 1;
}

/* Bounded reap of broker.pid; returns its wait status or -1 on timeout. */
static int reap_broker(int timeout_ms)
{
	uint64_t deadline = th_now_ms() + (uint64_t)timeout_ms;
	int status = 0;
	while (th_now_ms() < deadline) {
		pid_t r = waitpid(broker.pid, &status, WNOHANG);
		if (r == broker.pid)
			return status;
		if (r < 0 && errno != EINTR)
			return -1;
		th_sleep_ms(5);
	}
	return -1;
}

void th_broker_kill9(void)
{
	require_own_broker("th_broker_kill9");
	if (broker.external) {
		external_stop("th_broker_kill9");
		return;
	}
	ck_assert_msg(broker.pid > 0, "th_broker_kill9: the broker is not running");
	ck_assert_int_eq(kill(broker.pid, SIGKILL), 0);
	int st = reap_broker(10000);
	ck_assert_msg(st != -1, "th_broker_kill9: pid %ld not reaped within 10 s", (long)broker.pid);
	broker.pid = 0;
	priv.stopped = 1;
}

int th_broker_stop(void)
{
	require_own_broker("th_broker_stop");
	if (broker.external) {
		external_stop("th_broker_stop");
		return 0;
	}
	ck_assert_msg(broker.pid > 0, "th_broker_stop: the broker is not running");
	kill(broker.pid, SIGTERM);
	int st = reap_broker(wrapped_broker() ? 60000 : 10000);
	if (st == -1) {
		fprintf(stderr, "harness: tandemd did not stop on SIGTERM; killing it\n");
		kill(broker.pid, SIGKILL);
		waitpid(broker.pid, NULL, 0);
	} else if (st != 0) {
		fprintf(stderr, "harness: tandemd exited with status 0x%x after SIGTERM\n", st);
	}
	broker.pid = 0;
	priv.stopped = 1;
	return st;
}

void th_broker_restart_with_args(const char *const *extra)
{
	require_own_broker("th_broker_restart");
	if (broker.external) {
		const char *cmd = ext_cmd("TANDEM_TEST_BROKER_START");
		ck_assert_msg(cmd != NULL, "th_broker_restart: external broker and no TANDEM_TEST_BROKER_START");
		if (!priv.stopped)
			external_stop("th_broker_restart");
		int st = run_cmd(cmd, 180000);
		ck_assert_msg(st == 0, "th_broker_restart: '%s' failed (status %d)", cmd, st);
		ck_assert_msg(wait_accepting(0, 60000, NULL) == 1, "external broker does not accept after '%s'", cmd);
		priv.stopped = 0;
		return;
	}
	if (broker.pid > 0)
		th_broker_stop();
	set_extra_args(extra);
	/* The port was ours a moment ago; tandemd sets SO_REUSEADDR. A few
	 * attempts cover a client socket that briefly took it as its local
	 * port. */
	for (int attempt = 0; attempt < 5; attempt++) {
		int rc = spawn_and_wait();
		if (rc == 1) {
			priv.stopped = 0;
			return;
		}
		ck_assert_msg(rc == 0, "tandemd restarted on port %d did not accept within %d ms", broker.port,
			      start_timeout_ms());
		th_sleep_ms(200);
	}
	ck_abort_msg("tandemd could not be restarted on port %d with data dir %s", broker.port, broker.datadir);
}

void th_broker_restart(void)
{
	/* copy: set_extra_args frees the current ones */
	char *keep[TH_MAX_EXTRA_ARGS + 1] = {NULL};
	for (int i = 0; extra_args[i] != NULL; i++)
		keep[i] = strdup(extra_args[i]);
	th_broker_restart_with_args((const char *const *)keep);
	for (int i = 0; keep[i] != NULL; i++)
		free(keep[i]);
}

const char *th_data_dir(void)
{
	return broker.external || !broker.started ? NULL : broker.datadir;
}

long th_broker_rss_kb(void)
{
	char path[64], line[256];
	long kb = -1;
	if (broker.external || broker.pid <= 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%ld/status", (long)broker.pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/* ---- rabbitmq-c helpers ---------------------------------------------------- */

static const char *reply_str(amqp_rpc_reply_t r, char *buf, size_t len)
{
	switch (r.reply_type) {
	case AMQP_RESPONSE_NORMAL:
		snprintf(buf, len, "normal reply 0x%08x", r.reply.id);
		break;
	case AMQP_RESPONSE_NONE:
		snprintf(buf, len, "no reply");
		break;
	case AMQP_RESPONSE_LIBRARY_EXCEPTION:
		snprintf(buf, len, "library error %d (%s)", r.library_error, amqp_error_string2(r.library_error));
		break;
	case AMQP_RESPONSE_SERVER_EXCEPTION:
		if (r.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
			amqp_channel_close_t *m = r.reply.decoded;
			snprintf(buf, len, "channel.close %u '%.*s' (class %u method %u)", m->reply_code,
				 (int)m->reply_text.len, (const char *)m->reply_text.bytes, m->class_id,
				 m->method_id);
		} else if (r.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
			amqp_connection_close_t *m = r.reply.decoded;
			snprintf(buf, len, "connection.close %u '%.*s' (class %u method %u)", m->reply_code,
				 (int)m->reply_text.len, (const char *)m->reply_text.bytes, m->class_id,
				 m->method_id);
		} else {
			snprintf(buf, len, "server method 0x%08x", r.reply.id);
		}
		break;
	}
	return buf;
}

amqp_connection_state_t th_socket(void)
{
	amqp_connection_state_t c = amqp_new_connection();
	ck_assert_ptr_nonnull(c);
	amqp_socket_t *s = amqp_tcp_socket_new(c);
	ck_assert_ptr_nonnull(s);
	struct timeval tv = {.tv_sec = 5, .tv_usec = 0};
	int rc = amqp_socket_open_noblock(s, broker.host, broker.port, &tv);
	ck_assert_msg(rc == AMQP_STATUS_OK, "connect %s:%d: %s", broker.host, broker.port, amqp_error_string2(rc));
	struct timeval rpc = {.tv_sec = 15, .tv_usec = 0};
	amqp_set_rpc_timeout(c, &rpc);
	struct timeval hs = {.tv_sec = 10, .tv_usec = 0};
	amqp_set_handshake_timeout(c, &hs);
	return c;
}

amqp_connection_state_t th_connect_opts(const struct th_login *opt, amqp_rpc_reply_t *reply)
{
	static const struct th_login dflt = {0};
	if (opt == NULL)
		opt = &dflt;
	amqp_connection_state_t c = th_socket();

	amqp_table_entry_t caps[7];
	int ncaps = 0;
#define CAP(name)                                                                                                      \
	do {                                                                                                           \
		caps[ncaps].key = amqp_cstring_bytes(name);                                                            \
		caps[ncaps].value.kind = AMQP_FIELD_KIND_BOOLEAN;                                                      \
		caps[ncaps].value.value.boolean = 1;                                                                   \
		ncaps++;                                                                                               \
	} while (0)
	CAP("publisher_confirms");
	CAP("exchange_exchange_bindings");
	CAP("basic.nack");
	CAP("connection.blocked");
	CAP("authentication_failure_close");
	CAP("per_consumer_qos");
	if (!opt->no_cancel_notify)
		CAP("consumer_cancel_notify");
#undef CAP
	amqp_table_entry_t props[2];
	props[0].key = amqp_cstring_bytes("capabilities");
	props[0].value.kind = AMQP_FIELD_KIND_TABLE;
	props[0].value.value.table.num_entries = ncaps;
	props[0].value.value.table.entries = caps;
	props[1].key = amqp_cstring_bytes("connection_name");
	props[1].value.kind = AMQP_FIELD_KIND_UTF8;
	props[1].value.value.bytes = amqp_cstring_bytes("tandem-integration-test");
	amqp_table_t table = {.num_entries = 2, .entries = props};

	amqp_rpc_reply_t r = amqp_login_with_properties(
		c, opt->vhost ? opt->vhost : "/", opt->channel_max ? opt->channel_max : AMQP_DEFAULT_MAX_CHANNELS,
		opt->frame_max ? opt->frame_max : AMQP_DEFAULT_FRAME_SIZE, opt->heartbeat, &table,
		AMQP_SASL_METHOD_PLAIN, opt->user ? opt->user : "guest", opt->password ? opt->password : "guest");
	if (reply != NULL)
		*reply = r;
	return c;
}

amqp_connection_state_t th_connect(void)
{
	amqp_rpc_reply_t r;
	amqp_connection_state_t c = th_connect_opts(NULL, &r);
	th_ok(r, "login");
	return c;
}

void th_close(amqp_connection_state_t c)
{
	amqp_rpc_reply_t r = amqp_connection_close(c, AMQP_REPLY_SUCCESS);
	th_ok(r, "connection.close");
	amqp_destroy_connection(c);
}

void th_destroy(amqp_connection_state_t c)
{
	amqp_destroy_connection(c);
}

void th_ok(amqp_rpc_reply_t r, const char *what)
{
	char buf[600];
	ck_assert_msg(r.reply_type == AMQP_RESPONSE_NORMAL, "%s: %s", what, reply_str(r, buf, sizeof(buf)));
}

void th_ok_last(amqp_connection_state_t c, const char *what)
{
	th_ok(amqp_get_rpc_reply(c), what);
}

void th_channel(amqp_connection_state_t c, amqp_channel_t ch)
{
	amqp_channel_open(c, ch);
	th_ok_last(c, "channel.open");
}

void th_channel_close(amqp_connection_state_t c, amqp_channel_t ch)
{
	th_ok(amqp_channel_close(c, ch, AMQP_REPLY_SUCCESS), "channel.close");
}

const char *th_last_close_text(void)
{
	return last_close_text;
}

void th_expect_channel_close(amqp_connection_state_t c, amqp_channel_t ch, amqp_rpc_reply_t r, int code)
{
	char buf[600];
	ck_assert_msg(r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CHANNEL_CLOSE_METHOD,
		      "expected channel.close %d, got %s", code, reply_str(r, buf, sizeof(buf)));
	amqp_channel_close_t *m = r.reply.decoded;
	snprintf(last_close_text, sizeof(last_close_text), "%.*s", (int)m->reply_text.len,
		 (const char *)m->reply_text.bytes);
	ck_assert_msg(m->reply_code == code, "expected channel.close %d, got %s", code,
		      reply_str(r, buf, sizeof(buf)));
	amqp_channel_close_ok_t ok = {0};
	int rc = amqp_send_method(c, ch, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
	ck_assert_msg(rc == AMQP_STATUS_OK, "send channel.close-ok: %s", amqp_error_string2(rc));
}

void th_expect_connection_close(amqp_connection_state_t c, amqp_rpc_reply_t r, int code)
{
	char buf[600];
	ck_assert_msg(r.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && r.reply.id == AMQP_CONNECTION_CLOSE_METHOD,
		      "expected connection.close %d, got %s", code, reply_str(r, buf, sizeof(buf)));
	amqp_connection_close_t *m = r.reply.decoded;
	snprintf(last_close_text, sizeof(last_close_text), "%.*s", (int)m->reply_text.len,
		 (const char *)m->reply_text.bytes);
	ck_assert_msg(m->reply_code == code, "expected connection.close %d, got %s", code,
		      reply_str(r, buf, sizeof(buf)));
	amqp_connection_close_ok_t ok = {0};
	/* The server may already have closed the socket; close-ok is best effort. */
	(void)amqp_send_method(c, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
}

int th_wait_frame(amqp_connection_state_t c, amqp_frame_t *f, int timeout_ms)
{
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	int rc = amqp_simple_wait_frame_noblock(c, f, &tv);
	if (rc == AMQP_STATUS_TIMEOUT)
		return 0;
	ck_assert_msg(rc == AMQP_STATUS_OK, "wait for frame: %s", amqp_error_string2(rc));
	return 1;
}

int th_wait_method(amqp_connection_state_t c, amqp_channel_t ch, amqp_method_number_t id, amqp_method_t *out,
		   int timeout_ms)
{
	uint64_t deadline = th_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		uint64_t now = th_now_ms();
		if (now >= deadline)
			return -1;
		amqp_frame_t f;
		if (!th_wait_frame(c, &f, (int)(deadline - now)))
			return -1;
		if (f.frame_type != AMQP_FRAME_METHOD)
			continue;
		if (f.channel == ch && f.payload.method.id == id) {
			*out = f.payload.method;
			return 1;
		}
		if ((f.channel == ch && f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) ||
		    (f.channel == 0 && f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
			*out = f.payload.method;
			return 0;
		}
	}
}

amqp_rpc_reply_t th_sync(amqp_connection_state_t c, amqp_channel_t ch)
{
	amqp_exchange_declare(c, ch, amqp_cstring_bytes("amq.direct"), amqp_cstring_bytes("direct"), 1, 0, 0, 0,
			      amqp_empty_table);
	return amqp_get_rpc_reply(c);
}

uint32_t th_queue(amqp_connection_state_t c, amqp_channel_t ch, const char *name, int durable, int exclusive,
		  int auto_delete, char *out, size_t outlen)
{
	amqp_queue_declare_ok_t *ok = amqp_queue_declare(c, ch, amqp_cstring_bytes(name), 0, durable, exclusive,
							 auto_delete, amqp_empty_table);
	th_ok_last(c, "queue.declare");
	ck_assert_ptr_nonnull(ok);
	if (out != NULL)
		snprintf(out, outlen, "%.*s", (int)ok->queue.len, (const char *)ok->queue.bytes);
	return ok->message_count;
}

amqp_rpc_reply_t th_queue_passive(amqp_connection_state_t c, amqp_channel_t ch, const char *name,
				  uint32_t *messages, uint32_t *consumers)
{
	amqp_queue_declare_ok_t *ok =
		amqp_queue_declare(c, ch, amqp_cstring_bytes(name), 1, 0, 0, 0, amqp_empty_table);
	if (ok != NULL) {
		if (messages)
			*messages = ok->message_count;
		if (consumers)
			*consumers = ok->consumer_count;
	}
	return amqp_get_rpc_reply(c);
}

uint32_t th_wait_count(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, uint32_t expected,
		       int timeout_ms)
{
	uint64_t deadline = th_now_ms() + (uint64_t)timeout_ms;
	uint32_t n = 0;
	for (;;) {
		th_ok(th_queue_passive(c, ch, queue, &n, NULL), "passive queue.declare");
		if (n == expected || th_now_ms() >= deadline)
			return n;
		th_sleep_ms(10);
	}
}

void th_exchange(amqp_connection_state_t c, amqp_channel_t ch, const char *name, const char *type)
{
	amqp_exchange_declare(c, ch, amqp_cstring_bytes(name), amqp_cstring_bytes(type), 0, 0, 0, 0,
			      amqp_empty_table);
	th_ok_last(c, "exchange.declare");
}

void th_bind(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, const char *exchange,
	     const char *key, amqp_table_t args)
{
	amqp_queue_bind(c, ch, amqp_cstring_bytes(queue), amqp_cstring_bytes(exchange), amqp_cstring_bytes(key),
			args);
	th_ok_last(c, "queue.bind");
}

void th_publish_props(amqp_connection_state_t c, amqp_channel_t ch, const char *exchange, const char *key,
		      int mandatory, const amqp_basic_properties_t *props, amqp_bytes_t body)
{
	int rc = amqp_basic_publish(c, ch, amqp_cstring_bytes(exchange), amqp_cstring_bytes(key), mandatory, 0,
				    props, body);
	ck_assert_msg(rc == AMQP_STATUS_OK, "basic.publish: %s", amqp_error_string2(rc));
}

void th_publish(amqp_connection_state_t c, amqp_channel_t ch, const char *exchange, const char *key,
		const char *body)
{
	amqp_basic_properties_t p;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
	p.delivery_mode = 1;
	th_publish_props(c, ch, exchange, key, 0, &p, amqp_cstring_bytes(body));
}

void th_consume(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, const char *tag, int no_ack,
		int exclusive, char *tag_out, size_t taglen)
{
	amqp_basic_consume_ok_t *ok =
		amqp_basic_consume(c, ch, amqp_cstring_bytes(queue), tag ? amqp_cstring_bytes(tag) : amqp_empty_bytes,
				   0, no_ack, exclusive, amqp_empty_table);
	th_ok_last(c, "basic.consume");
	ck_assert_ptr_nonnull(ok);
	if (tag_out != NULL)
		snprintf(tag_out, taglen, "%.*s", (int)ok->consumer_tag.len, (const char *)ok->consumer_tag.bytes);
}

int th_next_delivery(amqp_connection_state_t c, amqp_envelope_t *env, int timeout_ms)
{
	char buf[600];
	struct timeval tv = {.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
	amqp_maybe_release_buffers(c);
	amqp_rpc_reply_t r = amqp_consume_message(c, env, &tv, 0);
	if (r.reply_type == AMQP_RESPONSE_NORMAL)
		return 1;
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_TIMEOUT)
		return 0;
	if (r.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && r.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
		amqp_frame_t f;
		if (th_wait_frame(c, &f, 1000)) {
			if (f.frame_type == AMQP_FRAME_METHOD && (f.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD ||
								  f.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD)) {
				amqp_rpc_reply_t x = {.reply_type = AMQP_RESPONSE_SERVER_EXCEPTION,
						      .reply = f.payload.method};
				ck_abort_msg("waiting for a delivery, got %s", reply_str(x, buf, sizeof(buf)));
			}
			ck_abort_msg("waiting for a delivery, got frame type %u method 0x%08x on channel %u",
				     f.frame_type, f.frame_type == AMQP_FRAME_METHOD ? f.payload.method.id : 0,
				     f.channel);
		}
	}
	ck_abort_msg("waiting for a delivery: %s", reply_str(r, buf, sizeof(buf)));
	return 0;
}

int th_get(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, int no_ack, amqp_message_t *msg,
	   uint64_t *tag, int *redelivered, uint32_t *message_count)
{
	amqp_maybe_release_buffers(c);
	amqp_rpc_reply_t r = amqp_basic_get(c, ch, amqp_cstring_bytes(queue), no_ack);
	th_ok(r, "basic.get");
	if (r.reply.id == AMQP_BASIC_GET_EMPTY_METHOD)
		return 0;
	ck_assert_uint_eq(r.reply.id, AMQP_BASIC_GET_OK_METHOD);
	amqp_basic_get_ok_t *ok = r.reply.decoded;
	if (tag)
		*tag = ok->delivery_tag;
	if (redelivered)
		*redelivered = ok->redelivered;
	if (message_count)
		*message_count = ok->message_count;
	amqp_message_t local;
	amqp_rpc_reply_t rm = amqp_read_message(c, ch, msg ? msg : &local, 0);
	th_ok(rm, "read message after get-ok");
	if (msg == NULL)
		amqp_destroy_message(&local);
	return 1;
}

int th_get_wait(amqp_connection_state_t c, amqp_channel_t ch, const char *queue, int no_ack, amqp_message_t *msg,
		uint64_t *tag, int *redelivered, uint32_t *message_count, int timeout_ms)
{
	uint64_t deadline = th_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		if (th_get(c, ch, queue, no_ack, msg, tag, redelivered, message_count))
			return 1;
		if (th_now_ms() >= deadline)
			return 0;
		th_sleep_ms(10);
	}
}

void th_assert_drained(amqp_connection_state_t c, amqp_channel_t ch, const char *queue)
{
	amqp_message_t m;
	char body[128];
	th_publish(c, ch, "", queue, "th-marker");
	ck_assert_msg(th_get_wait(c, ch, queue, 1, &m, NULL, NULL, NULL, 5000) == 1, "marker never arrived in %s",
		      queue);
	th_body(&m.body, body, sizeof(body));
	amqp_destroy_message(&m);
	ck_assert_msg(strcmp(body, "th-marker") == 0, "queue %s held an unexpected message '%s'", queue, body);
}

const char *th_body(const amqp_bytes_t *b, char *buf, size_t len)
{
	size_t n = b->len < len - 1 ? b->len : len - 1;
	memcpy(buf, b->bytes, n);
	buf[n] = '\0';
	return buf;
}

int th_bytes_eq(amqp_bytes_t b, const char *s)
{
	/* an empty amqp_bytes_t may have bytes NULL: no memcmp on it */
	return b.len == strlen(s) && (b.len == 0 || memcmp(b.bytes, s, b.len) == 0);
}

/* ---- raw sockets ------------------------------------------------------------ */

int th_raw_connect(void)
{
	int fd = tcp_connect(broker.host, broker.port);
	ck_assert_msg(fd >= 0, "raw connect %s:%d: %s", broker.host, broker.port, strerror(errno));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

int th_raw_send(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
			return -1;
		ck_assert_msg(n > 0, "raw send: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

long th_raw_read(int fd, void *buf, size_t len, int timeout_ms)
{
	uint8_t *p = buf;
	size_t got = 0;
	uint64_t deadline = th_now_ms() + (uint64_t)timeout_ms;
	while (got < len) {
		uint64_t now = th_now_ms();
		if (now >= deadline)
			return -1;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, (int)(deadline - now));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			return -1;
		ssize_t n = recv(fd, p + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return (long)got; /* EOF or reset */
		got += (size_t)n;
	}
	return (long)got;
}

int th_raw_wait_closed(int fd, int timeout_ms)
{
	uint8_t buf[4096];
	uint64_t deadline = th_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		uint64_t now = th_now_ms();
		if (now >= deadline)
			return 0;
		struct pollfd pfd = {.fd = fd, .events = POLLIN};
		int pr = poll(&pfd, 1, (int)(deadline - now));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr == 0)
			return 0;
		ssize_t n = recv(fd, buf, sizeof(buf), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return 1;
	}
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

int th_raw_read_frame(int fd, struct th_raw_frame *f, int timeout_ms)
{
	uint8_t hdr[7];
	uint64_t deadline = th_now_ms() + (uint64_t)timeout_ms;
	memset(f, 0, sizeof(*f));
	long n = th_raw_read(fd, hdr, 7, timeout_ms);
	if (n < 0)
		return -1;
	if (n < 7)
		return 0;
	f->type = hdr[0];
	f->channel = get16(hdr + 1);
	f->size = get32(hdr + 3);
	ck_assert_msg(f->size <= 256u * 1024 * 1024, "raw frame size %u is absurd", f->size);
	f->payload = malloc(f->size + 1u);
	ck_assert_ptr_nonnull(f->payload);
	uint64_t now = th_now_ms();
	int left = now < deadline ? (int)(deadline - now) : 1;
	n = th_raw_read(fd, f->payload, f->size, left + 1000);
	if (n < 0)
		return -1;
	if ((uint32_t)n < f->size)
		return 0;
	n = th_raw_read(fd, &f->end, 1, left + 1000);
	if (n < 1)
		return n < 0 ? -1 : 0;
	return 1;
}

void th_raw_frame_free(struct th_raw_frame *f)
{
	free(f->payload);
	f->payload = NULL;
}

int th_raw_send_frame(int fd, uint8_t type, uint16_t channel, const void *payload, uint32_t size)
{
	uint8_t hdr[7] = {type, (uint8_t)(channel >> 8), (uint8_t)channel, (uint8_t)(size >> 24),
			  (uint8_t)(size >> 16), (uint8_t)(size >> 8), (uint8_t)size};
	uint8_t end = 0xCE;
	if (th_raw_send(fd, hdr, 7) < 0)
		return -1;
	if (size > 0 && th_raw_send(fd, payload, size) < 0)
		return -1;
	return th_raw_send(fd, &end, 1);
}

uint16_t th_raw_class(const struct th_raw_frame *f)
{
	return f->size >= 4 ? get16(f->payload) : 0;
}

uint16_t th_raw_method(const struct th_raw_frame *f)
{
	return f->size >= 4 ? get16(f->payload + 2) : 0;
}

void th_put8(struct th_buf *b, uint8_t v)
{
	ck_assert(b->len + 1 <= sizeof(b->data));
	b->data[b->len++] = v;
}

void th_put16(struct th_buf *b, uint16_t v)
{
	th_put8(b, (uint8_t)(v >> 8));
	th_put8(b, (uint8_t)v);
}

void th_put32(struct th_buf *b, uint32_t v)
{
	th_put16(b, (uint16_t)(v >> 16));
	th_put16(b, (uint16_t)v);
}

void th_put64(struct th_buf *b, uint64_t v)
{
	th_put32(b, (uint32_t)(v >> 32));
	th_put32(b, (uint32_t)v);
}

void th_put_bytes(struct th_buf *b, const void *s, size_t len)
{
	ck_assert(b->len + len <= sizeof(b->data));
	memcpy(b->data + b->len, s, len);
	b->len += len;
}

void th_put_shortstr(struct th_buf *b, const char *s)
{
	size_t n = strlen(s);
	ck_assert(n < 256);
	th_put8(b, (uint8_t)n);
	th_put_bytes(b, s, n);
}

void th_put_longstr(struct th_buf *b, const void *s, uint32_t len)
{
	th_put32(b, len);
	th_put_bytes(b, s, len);
}

/* Read the next non-heartbeat frame and require it to be method cls.mth. */
static void raw_expect_method(int fd, uint16_t channel, uint16_t cls, uint16_t mth, struct th_raw_frame *out)
{
	struct th_raw_frame f;
	for (;;) {
		int rc = th_raw_read_frame(fd, &f, 10000);
		ck_assert_msg(rc == 1, "raw: waiting for method %u.%u: %s", cls, mth, rc == 0 ? "EOF" : "timeout");
		if (f.type == AMQP_FRAME_HEARTBEAT) {
			th_raw_frame_free(&f);
			continue;
		}
		break;
	}
	ck_assert_msg(f.type == AMQP_FRAME_METHOD && f.channel == channel && th_raw_class(&f) == cls &&
			      th_raw_method(&f) == mth,
		      "raw: expected method %u.%u on channel %u, got frame type %u channel %u method %u.%u", cls, mth,
		      channel, f.type, f.channel, th_raw_class(&f), th_raw_method(&f));
	if (out != NULL)
		*out = f;
	else
		th_raw_frame_free(&f);
}

int th_raw_handshake(uint16_t channel_max, uint32_t frame_max, uint16_t heartbeat, int open_channel1,
		     uint16_t *srv_channel_max, uint32_t *srv_frame_max, uint16_t *srv_heartbeat)
{
	int fd = th_raw_connect();
	th_raw_send(fd, "AMQP\x00\x00\x09\x01", 8);
	raw_expect_method(fd, 0, 10, 10, NULL);

	struct th_buf b = {.len = 0};
	th_put16(&b, 10);
	th_put16(&b, 11);
	th_put32(&b, 0); /* empty client-properties */
	th_put_shortstr(&b, "PLAIN");
	th_put_longstr(&b, "\0guest\0guest", 12);
	th_put_shortstr(&b, "en_US");
	th_raw_send_frame(fd, AMQP_FRAME_METHOD, 0, b.data, (uint32_t)b.len);

	struct th_raw_frame tune;
	raw_expect_method(fd, 0, 10, 30, &tune);
	ck_assert_uint_ge(tune.size, 12);
	uint16_t s_ch = get16(tune.payload + 4);
	uint32_t s_fm = get32(tune.payload + 6);
	uint16_t s_hb = get16(tune.payload + 10);
	th_raw_frame_free(&tune);
	if (srv_channel_max)
		*srv_channel_max = s_ch;
	if (srv_frame_max)
		*srv_frame_max = s_fm;
	if (srv_heartbeat)
		*srv_heartbeat = s_hb;

	b.len = 0;
	th_put16(&b, 10);
	th_put16(&b, 31);
	th_put16(&b, channel_max ? channel_max : s_ch);
	th_put32(&b, frame_max ? frame_max : s_fm);
	th_put16(&b, heartbeat);
	th_raw_send_frame(fd, AMQP_FRAME_METHOD, 0, b.data, (uint32_t)b.len);

	b.len = 0;
	th_put16(&b, 10);
	th_put16(&b, 40);
	th_put_shortstr(&b, "/");
	th_put_shortstr(&b, "");
	th_put8(&b, 0);
	th_raw_send_frame(fd, AMQP_FRAME_METHOD, 0, b.data, (uint32_t)b.len);
	raw_expect_method(fd, 0, 10, 41, NULL);

	if (open_channel1) {
		b.len = 0;
		th_put16(&b, 20);
		th_put16(&b, 10);
		th_put_shortstr(&b, "");
		th_raw_send_frame(fd, AMQP_FRAME_METHOD, 1, b.data, (uint32_t)b.len);
		raw_expect_method(fd, 1, 20, 11, NULL);
	}
	return fd;
}

int th_raw_expect_connection_close(int fd, int timeout_ms, uint16_t *class_id, uint16_t *method_id, char *text,
				   size_t textlen)
{
	uint64_t deadline = th_now_ms() + (uint64_t)timeout_ms;
	if (text && textlen)
		text[0] = '\0';
	for (;;) {
		uint64_t now = th_now_ms();
		if (now >= deadline)
			return -1;
		struct th_raw_frame f;
		int rc = th_raw_read_frame(fd, &f, (int)(deadline - now));
		if (rc < 0)
			return -1;
		if (rc == 0) {
			th_raw_frame_free(&f);
			return 0;
		}
		if (f.type == AMQP_FRAME_METHOD && f.channel == 0 && th_raw_class(&f) == 10 && th_raw_method(&f) == 50 &&
		    f.size >= 7) {
			uint16_t code = get16(f.payload + 4);
			uint8_t tl = f.payload[6];
			if (f.size >= 7u + tl + 4u) {
				if (class_id)
					*class_id = get16(f.payload + 7 + tl);
				if (method_id)
					*method_id = get16(f.payload + 9 + tl);
			}
			if (text && textlen) {
				size_t n = tl < textlen - 1 ? tl : textlen - 1;
				if (f.size >= 7u + n)
					memcpy(text, f.payload + 7, n);
				text[n] = '\0';
			}
			th_raw_frame_free(&f);
			uint8_t ok[4] = {0, 10, 0, 51};
			/* best effort: the server may close right after sending close */
			uint8_t hdr[7] = {1, 0, 0, 0, 0, 0, 4};
			uint8_t end = 0xCE;
			if (send(fd, hdr, 7, MSG_NOSIGNAL) == 7 && send(fd, ok, 4, MSG_NOSIGNAL) == 4)
				(void)send(fd, &end, 1, MSG_NOSIGNAL);
			return code;
		}
		th_raw_frame_free(&f);
	}
}

void th_assert_broker_alive(void)
{
	char q[128];
	amqp_connection_state_t c = th_connect();
	th_channel(c, 1);
	th_queue(c, 1, th_name(q, sizeof(q), "alive"), 0, 1, 0, NULL, 0);
	th_publish(c, 1, "", q, "still here");
	amqp_message_t m;
	ck_assert_int_eq(th_get(c, 1, q, 1, &m, NULL, NULL, NULL), 1);
	ck_assert(th_bytes_eq(m.body, "still here"));
	amqp_destroy_message(&m);
	th_close(c);
}

static long field_size(uint8_t type, const uint8_t *p, uint32_t avail, uint32_t *prefix)
{
	*prefix = 0;
	switch (type) {
	case 't': case 'b': case 'B':
		return 1;
	case 's': case 'u':
		return 2;
	case 'I': case 'i': case 'f':
		return 4;
	case 'l': case 'L': case 'T': case 'd':
		return 8;
	case 'D':
		return 5;
	case 'V':
		return 0;
	case 'S': case 'x': case 'F': case 'A':
		if (avail < 4)
			return -1;
		*prefix = 4;
		return 4 + (long)get32(p);
	default:
		return -1;
	}
}

int th_raw_table_find(const uint8_t *table, uint32_t len, const char *key, uint8_t *type, const uint8_t **val,
		      uint32_t *vlen)
{
	uint32_t off = 0;
	size_t klen = strlen(key);
	while (off < len) {
		uint8_t kl = table[off];
		if (off + 1u + kl + 1u > len)
			return -1;
		const uint8_t *k = table + off + 1;
		uint8_t t = table[off + 1 + kl];
		off += 2u + kl;
		uint32_t prefix;
		long sz = field_size(t, table + off, len - off, &prefix);
		if (sz < 0 || off + (uint32_t)sz > len)
			return -1;
		if (kl == klen && memcmp(k, key, klen) == 0) {
			*type = t;
			*val = table + off + prefix;
			*vlen = (uint32_t)sz - prefix;
			return 1;
		}
		off += (uint32_t)sz;
	}
	return 0;
}
