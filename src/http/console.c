/*
 * The web console: serves the files of src/http/console/ (index.html,
 * console.js, console.css), which the build embeds into tandemd
 * (console_assets.c, generated), so users run no build step.  The page
 * reads and drives the management API with the user's basic-auth
 * credentials; nothing here knows what it shows.
 *
 * Headers: Cache-Control: no-cache with an ETag, so a browser revalidates
 * and never runs a stale script after an upgrade, but gets a cheap 304
 * otherwise; a Content-Security-Policy that allows only this origin's
 * scripts, styles and API (no inline script, no other host: payloads the
 * page shows cannot run code even if an escape were missed); no framing.
 *
 * Must not depend on: other front ends.
 */
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "http/console.h"

static const char *content_type(const char *name)
{
	static const struct {
		const char *ext, *type;
	} types[] = {
		{ ".html", "text/html; charset=utf-8" },
		{ ".js", "text/javascript; charset=utf-8" },
		{ ".css", "text/css; charset=utf-8" },
		{ ".svg", "image/svg+xml" },
		{ ".png", "image/png" },
	};
	const char *dot = strrchr(name, '.');
	for (size_t i = 0; dot && i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(dot, types[i].ext) == 0)
			return types[i].type;
	return "application/octet-stream";
}

/* If-None-Match: a list of entity tags or "*". */
static int etag_matches(const char *inm, const char *etag)
{
	if (!inm)
		return 0;
	if (strcmp(inm, "*") == 0)
		return 1;
	size_t n = strlen(etag);
	for (const char *p = strstr(inm, etag); p; p = strstr(p + 1, etag)) {
		char after = p[n];
		if (after == '\0' || after == ',' || after == ' ')
			return 1;
	}
	return 0;
}

int hx_console(struct evhttp_request *req, const char *path)
{
	if (strcmp(path, "/") == 0)
		path = "/index.html";
	const struct hx_asset *a = hx_console_assets;
	while (a->name && strcmp(a->name, path) != 0)
		a++;
	if (!a->name)
		return 0;
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", content_type(a->name));
	evhttp_add_header(h, "Cache-Control", "no-cache");
	evhttp_add_header(h, "ETag", a->etag);
	evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
	evhttp_add_header(h, "X-Frame-Options", "DENY");
	evhttp_add_header(h, "Content-Security-Policy",
			  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
			  "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
	const char *inm = evhttp_find_header(evhttp_request_get_input_headers(req), "If-None-Match");
	if (etag_matches(inm, a->etag)) {
		evhttp_send_reply(req, 304, NULL, NULL);
		return 1;
	}
	struct evbuffer *b = evbuffer_new();
	if (b)
		evbuffer_add_reference(b, a->data, a->len, NULL, NULL);
	evhttp_send_reply(req, b ? 200 : 500, NULL, b);
	if (b)
		evbuffer_free(b);
	return 1;
}
