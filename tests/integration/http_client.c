/* See http_client.h. */
#include "http_client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "util/b64.h"

static int http_port;

void th_http_port(int port)
{
	http_port = port;
}

static int connect_bounded(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)http_port) };
	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	uint64_t deadline = th_now_ms() + 20000;
	for (;;) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		ck_assert_int_ge(fd, 0);
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			struct timeval tv = { 30, 0 };
			setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
			return fd;
		}
		ck_assert_msg(errno == ECONNREFUSED && th_now_ms() < deadline, "connect http: %s",
			      strerror(errno));
		close(fd);
		th_sleep_ms(50);
	}
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		ck_assert_msg(w > 0, "write: %s", strerror(errno));
		p += w;
		n -= (size_t)w;
	}
}

/* Everything until the server closes (malloc'd, NUL-terminated). */
static char *read_all(int fd, size_t *len)
{
	size_t cap = 65536;
	char *buf = malloc(cap);
	*len = 0;
	for (;;) {
		if (*len + 1 >= cap)
			buf = realloc(buf, cap *= 2);
		ck_assert_ptr_nonnull(buf);
		ssize_t rd = read(fd, buf + *len, cap - *len - 1);
		ck_assert_msg(rd >= 0, "read: %s", strerror(errno));
		if (rd == 0)
			break;
		*len += (size_t)rd;
	}
	buf[*len] = '\0';
	return buf;
}

int th_http(const char *method, const char *path, const char *creds, const char *body,
	    struct th_http_resp *r)
{
	return th_http_with(method, path, creds, "Host: localhost\r\nContent-Type: application/json\r\n",
			    body, r);
}

int th_http_with(const char *method, const char *path, const char *creds, const char *headers,
		 const char *body, struct th_http_resp *r)
{
	memset(r, 0, sizeof(*r));
	int fd = connect_bounded();
	char auth[512] = "", enc[400], head[4096];
	if (creds) {
		tu_b64_encode(creds, strlen(creds), enc);
		snprintf(auth, sizeof(auth), "Authorization: Basic %s\r\n", enc);
	}
	size_t blen = body ? strlen(body) : 0;
	int n = snprintf(head, sizeof(head), "%s %s HTTP/1.1\r\n%sConnection: close\r\n%s"
			 "Content-Length: %zu\r\n\r\n",
			 method, path, headers, auth, blen);
	ck_assert(n > 0 && (size_t)n < sizeof(head));
	send_all(fd, head, (size_t)n);
	send_all(fd, body ? body : "", blen);
	size_t len;
	char *buf = read_all(fd, &len);
	close(fd);
	char *sep = strstr(buf, "\r\n\r\n");
	ck_assert_msg(sep != NULL, "no header end in %s", buf);
	ck_assert_int_eq(sscanf(buf, "HTTP/1.%*d %d", &r->status), 1);
	snprintf(r->head, sizeof(r->head), "%.*s", (int)(sep - buf), buf);
	r->len = len - (size_t)(sep + 4 - buf);
	r->body = malloc(r->len + 1);
	ck_assert_ptr_nonnull(r->body);
	memcpy(r->body, sep + 4, r->len + 1);
	free(buf);
	return r->status;
}

void th_http_free(struct th_http_resp *r)
{
	free(r->body);
	r->body = NULL;
}

int th_free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

long long th_json_int(const char *s, const char *from, const char *key, long long missing)
{
	char pat[128];
	if (from && !(s = strstr(s, from)))
		return missing;
	snprintf(pat, sizeof(pat), "\"%s\":", key);
	const char *p = strstr(s, pat);
	return p ? strtoll(p + strlen(pat), NULL, 10) : missing;
}

#ifdef TANDEMCTL_PATH
int th_ctl(char *out, size_t cap, const char *fmt, ...)
{
	char args[1024], cmd[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(args, sizeof(args), fmt, ap);
	va_end(ap);
	snprintf(cmd, sizeof(cmd), "timeout 30 %s --port %d %s 2>/dev/null", TANDEMCTL_PATH, http_port,
		 args);
	FILE *p = popen(cmd, "r");
	ck_assert_msg(p != NULL, "popen %s", cmd);
	size_t n = fread(out, 1, cap - 1, p);
	out[n] = '\0';
	int st = pclose(p);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
#endif

void th_urlseg(char *out, size_t cap, const char *s)
{
	size_t o = 0;
	for (; *s && o + 4 < cap; s++) {
		unsigned char ch = (unsigned char)*s;
		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, cap - o, "%%%02X", ch);
	}
	out[o] = '\0';
}
