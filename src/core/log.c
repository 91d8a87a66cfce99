/*
 * Logging: "<ISO-8601 UTC time with ms> <level> <subsystem>: message" lines
 * on stderr or a file opened for append.  Each line is formatted in memory
 * and written with one fwrite, so lines from a helper thread never
 * interleave with the loop thread's (stdio locks the stream per call).
 * Control characters in messages (which can carry client-supplied names) are
 * escaped as \xNN so a client cannot forge log lines.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/log.h"
#include "util/hex.h"

static enum tdm_log_level log_level = TDM_LOG_INFO;
static FILE *log_fp; /* owned when not stderr; NULL = stderr */

static const char *const level_names[] = {
	[TDM_LOG_ERROR] = "error",
	[TDM_LOG_WARNING] = "warning",
	[TDM_LOG_INFO] = "info",
	[TDM_LOG_DEBUG] = "debug",
};

static FILE *log_out(void)
{
	return log_fp ? log_fp : stderr;
}

void tdm_log_setup(enum tdm_log_level level, const char *file)
{
	FILE *fp = NULL;

	log_level = level;
	if (file && *file) {
		fp = fopen(file, "ae");
		if (!fp) {
			/* Keep logging somewhere: the previous destination. */
			tdm_log(TDM_LOG_ERROR, "log", "cannot open log file %s: %s", file,
				strerror(errno));
			return;
		}
		setvbuf(fp, NULL, _IOLBF, 0);
	}
	if (log_fp)
		fclose(log_fp);
	log_fp = fp;
}

int tdm_log_enabled(enum tdm_log_level level)
{
	return level <= log_level;
}

int tdm_log_level_parse(const char *s)
{
	size_t i;

	if (!s)
		return -1;
	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcasecmp(s, level_names[i]) == 0)
			return (int)i;
	if (strcasecmp(s, "warn") == 0)
		return TDM_LOG_WARNING;
	return -1;
}

/* Appends s to out[*pos..cap) escaping control bytes; stops when full. */
static void put_escaped(char *out, size_t cap, size_t *pos, const char *s)
{
	size_t p = *pos;

	for (; *s && p + 1 < cap; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch >= 0x20 && ch != 0x7f) {
			out[p++] = (char)ch;
		} else if (p + 4 < cap) {
			out[p++] = '\\';
			out[p++] = 'x';
			out[p++] = tu_hex_digit(ch >> 4);
			out[p++] = tu_hex_digit(ch);
		} else {
			break;
		}
	}
	*pos = p;
}

void tdm_log(enum tdm_log_level level, const char *subsys, const char *fmt, ...)
{
	char msgbuf[1024];
	char linebuf[4 * sizeof(msgbuf) + 128];
	char *msg = msgbuf;
	char *line = linebuf;
	char stamp[40];
	struct timespec ts;
	struct tm tm;
	va_list ap;
	size_t cap, pos, len;
	int n;

	if (!tdm_log_enabled(level))
		return;
	if ((unsigned)level >= sizeof(level_names) / sizeof(level_names[0]))
		level = TDM_LOG_ERROR;

	va_start(ap, fmt);
	n = vsnprintf(msgbuf, sizeof(msgbuf), fmt, ap);
	va_end(ap);
	if (n < 0) {
		msgbuf[0] = '\0';
		n = 0;
	}
	if ((size_t)n >= sizeof(msgbuf)) {
		msg = malloc((size_t)n + 1);
		if (msg) {
			va_start(ap, fmt);
			vsnprintf(msg, (size_t)n + 1, fmt, ap);
			va_end(ap);
		} else {
			msg = msgbuf; /* truncated is better than nothing */
		}
	}

	/* A habitual trailing newline would otherwise show up escaped. */
	for (len = strlen(msg); len > 0 && msg[len - 1] == '\n'; len--)
		msg[len - 1] = '\0';

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n = (int)strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(stamp + n, sizeof(stamp) - (size_t)n, ".%03ldZ", ts.tv_nsec / 1000000);

	/* Worst case every message byte becomes four. */
	cap = strlen(stamp) + strlen(level_names[level]) + 4 * strlen(subsys ? subsys : "-") +
	      4 * len + 8;
	if (cap > sizeof(linebuf))
		line = malloc(cap);
	else
		cap = sizeof(linebuf);
	if (!line) {
		fprintf(log_out(), "%s %s %s: %s\n", stamp, level_names[level],
			subsys ? subsys : "-", msg);
		goto out;
	}
	pos = (size_t)snprintf(line, cap, "%s %s ", stamp, level_names[level]);
	put_escaped(line, cap, &pos, subsys ? subsys : "-");
	line[pos++] = ':';
	line[pos++] = ' ';
	put_escaped(line, cap, &pos, msg);
	line[pos++] = '\n';
	fwrite(line, 1, pos, log_out());
out:
	if (line != linebuf)
		free(line);
	if (msg != msgbuf)
		free(msg);
}
