/* See tlsutil.h. */
#include "tlsutil.h"

#include <check.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sockutil.h"

static char certdir[256];
static pid_t owner;

static void rm_certs(void)
{
	if (getpid() == owner && certdir[0])
		su_rm_tree(certdir);
}

int tl_make_certs(char *dir, size_t cap)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char cmd[3072];

	snprintf(certdir, sizeof(certdir), "%s/tandem-tls.XXXXXX", tmp);
	if (!mkdtemp(certdir))
		return -1;
	owner = getpid();
	atexit(rm_certs);
	snprintf(dir, cap, "%s", certdir);
	snprintf(
		cmd, sizeof(cmd),
		"cd '%s' && exec >gen.log 2>&1 && set -e; "
		"gen() { timeout 30 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
		"-nodes -keyout $1.key -out $1.pem -days 2 -subj /CN=$1; }; "
		"leaf() { timeout 30 openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 "
		"-nodes -keyout $1.key -out $1.csr -subj /CN=$1; "
		"echo \"$3\" > $1.ext; "
		"timeout 30 openssl x509 -req -in $1.csr -CA $2.pem -CAkey $2.key -CAcreateserial "
		"-out $1.pem -days 2 -extfile $1.ext; }; "
		"gen ca; gen otherca; "
		"leaf server ca subjectAltName=IP:127.0.0.1,DNS:localhost; "
		"leaf wronghost ca subjectAltName=DNS:elsewhere.invalid; "
		"leaf client ca basicConstraints=CA:FALSE; "
		"leaf stranger otherca basicConstraints=CA:FALSE; "
		"cat server.key server.pem > server-bundle.pem",
		certdir);
	if (system(cmd) != 0) {
		certdir[0] = '\0'; /* keep the log */
		return -1;
	}
	return 0;
}

const char *tl_path(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", certdir, name);
	return buf;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int tl_run_refused(const char *tandemd, const char *const *args, char *err, size_t errlen,
		   int *touched)
{
	char data[512], errlog[512];
	const char *argv[64];
	int n = 0, status = 0;
	pid_t pid, w = 0;
	FILE *fp;

	snprintf(data, sizeof(data), "%s/data-%d", certdir, (int)getpid());
	snprintf(errlog, sizeof(errlog), "%s/stderr-%d", certdir, (int)getpid());
	argv[n++] = tandemd;
	argv[n++] = "--data-dir";
	argv[n++] = data;
	argv[n++] = "--amqp-port";
	argv[n++] = "0";
	argv[n++] = "--kafka-port";
	argv[n++] = "0";
	argv[n++] = "--http-port";
	argv[n++] = "0";
	for (int i = 0; args[i] && n < 63; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (!freopen(errlog, "w", stderr))
			_exit(126);
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	uint64_t end = now_ms() + 10000;
	while ((w = waitpid(pid, &status, WNOHANG)) == 0 && now_ms() < end)
		usleep(20000);
	if (w == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
		status = -1;
	}
	err[0] = '\0';
	fp = fopen(errlog, "r");
	if (fp) {
		err[fread(err, 1, errlen - 1, fp)] = '\0';
		fclose(fp);
	}
	*touched = access(data, F_OK) == 0;
	if (*touched)
		su_rm_tree(data);
	if (status == -1 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

int tl_sh(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0;
	int st;

	ck_assert_ptr_nonnull(p);
	while (n + 1 < len) {
		size_t k = fread(out + n, 1, len - 1 - n, p);
		if (k == 0)
			break;
		n += k;
	}
	out[n] = '\0';
	st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void tl_expect_refused(const char *tandemd, const char *const *args, const char *const *want)
{
	char err[4096];
	int touched = 0;
	int st = tl_run_refused(tandemd, args, err, sizeof(err), &touched);

	ck_assert_msg(st > 0, "tandemd with %s: status %d: %s", args[0], st, err);
	for (int i = 0; want[i]; i++)
		ck_assert_msg(strstr(err, want[i]) != NULL, "stderr lacks '%s': %s", want[i], err);
	ck_assert_msg(!touched, "tandemd touched its data dir before refusing: %s", err);
}
