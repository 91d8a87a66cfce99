/*
 * Fault injection for tests: makes chosen segment writes or fsync rounds of
 * chosen topics fail, as a full disk or a dying device would (SQLite's
 * test hooks, in the spirit of its malloc fault injection).  Nothing is
 * armed unless a test or TANDEM_FAULTS asks, and then only the named calls
 * fail; the check costs one load of a counter on the append path.
 *
 * State is process-global and touched on the loop thread only: write
 * faults are decided in ls_append, fsync faults in ls_sync_begin (the job
 * carries the verdict to whichever thread runs it).
 *
 * Must not depend on: src/, libevent.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "logstore_internal.h"

#define MAX_RULES 8

struct fault_rule {
	int kind;
	char topic[128];        /* "" = any topic */
	unsigned long skip;     /* matching calls still to let through */
	unsigned long left;     /* failures still to inject; ULONG_MAX = all */
};

static struct fault_rule rules[MAX_RULES];
static size_t nrules;

int ls_fault_set(int kind, const char *topic, unsigned long nth, unsigned long count)
{
	struct fault_rule *r;

	if (kind < 0 || kind >= LS_FAULT_KINDS || nth == 0 || nrules == MAX_RULES ||
	    (topic != NULL && strlen(topic) >= sizeof r->topic))
		return LS_ERR_INVALID;
	r = &rules[nrules++];
	r->kind = kind;
	strcpy(r->topic, topic != NULL ? topic : "");
	r->skip = nth - 1;
	r->left = count == 0 ? (unsigned long)-1 : count;
	return LS_OK;
}

void ls_fault_clear(void)
{
	nrules = 0;
}

static int kind_of(const char *s, size_t n)
{
	static const char *const names[LS_FAULT_KINDS] = { "write", "short", "fsync", "make" };

	for (int k = 0; k < LS_FAULT_KINDS; k++)
		if (strlen(names[k]) == n && memcmp(names[k], s, n) == 0)
			return k;
	return -1;
}

/* One rule "kind:topic:nth[:count]"; topic may be empty (any). */
static int parse_rule(const char *s, size_t n)
{
	char buf[192], *f[4], *save = NULL;
	size_t nf = 0;
	char *end;
	unsigned long nth, count = 1;
	int kind;

	if (n >= sizeof buf)
		return LS_ERR_INVALID;
	memcpy(buf, s, n);
	buf[n] = '\0';
	for (char *p = buf; nf < 4; p = NULL) {
		char *tok = strtok_r(p, ":", &save);

		if (tok == NULL)
			break;
		f[nf++] = tok;
	}
	/* strtok_r folds an empty topic ("write::3"): put it back */
	if (nf == 2 && strstr(buf, "::") != NULL) {
		f[2] = f[1];
		f[1] = (char *)"";
		nf = 3;
	}
	if (nf < 3 || (kind = kind_of(f[0], strlen(f[0]))) < 0)
		return LS_ERR_INVALID;
	nth = strtoul(f[2], &end, 10);
	if (*end != '\0')
		return LS_ERR_INVALID;
	if (nf == 4) {
		count = strtoul(f[3], &end, 10);
		if (*end != '\0')
			return LS_ERR_INVALID;
	}
	return ls_fault_set(kind, f[1], nth, count);
}

int ls_fault_parse(const char *spec)
{
	while (spec != NULL && *spec != '\0') {
		const char *comma = strchr(spec, ',');
		size_t n = comma != NULL ? (size_t)(comma - spec) : strlen(spec);
		int rc = parse_rule(spec, n);

		if (rc != LS_OK)
			return rc;
		spec = comma != NULL ? comma + 1 : NULL;
	}
	return LS_OK;
}

int ls_fault_take(int kind, const char *topic)
{
	for (size_t i = 0; i < nrules; i++) {
		struct fault_rule *r = &rules[i];

		if (r->kind != kind || r->left == 0 ||
		    (r->topic[0] != '\0' && (topic == NULL || strcmp(r->topic, topic) != 0)))
			continue;
		if (r->skip > 0) {
			r->skip--;
			continue;
		}
		if (r->left != (unsigned long)-1)
			r->left--;
		return 1;
	}
	return 0;
}

static int ledger_fd = -1;

int ls_fault_fsync_ledger(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

	if (fd < 0)
		return LS_ERR_IO;
	if (ledger_fd >= 0)
		close(ledger_fd);
	ledger_fd = fd;
	return LS_OK;
}

int ls_fault_ledger_on(void)
{
	return ledger_fd >= 0;
}

void ls_fault_note_synced(int fd, uint64_t size)
{
	char link[64], path[4096], line[4200];
	ssize_t n;
	int len;

	if (ledger_fd < 0)
		return;
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof path - 1);
	if (n <= 0)
		return;
	path[n] = '\0';
	len = snprintf(line, sizeof line, "%s %" PRIu64 "\n", path, size);
	if (len > 0 && (size_t)len < sizeof line && write(ledger_fd, line, (size_t)len) != len)
		return; /* a test-only record: nothing else to do about it */
}
