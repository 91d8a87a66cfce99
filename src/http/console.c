/*
 * The web console at "/": one HTML page with its script, embedded here so
 * tandemd serves it with no build step.  It reads the management API with
 * the browser's credentials (the API answers 401 with WWW-Authenticate).
 *
 * Must not depend on: other front ends.
 */
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

void hx_console(struct evhttp_request *req);

static const char page[] =
	"<!doctype html><html><head><meta charset=\"utf-8\"><title>tandem</title></head>"
	"<body><h1>tandem</h1><p>Management API under <a href=\"/api/overview\">/api</a>, "
	"metrics at <a href=\"/metrics\">/metrics</a>.</p></body></html>\n";

void hx_console(struct evhttp_request *req)
{
	struct evbuffer *b = evbuffer_new();
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
			  "text/html; charset=utf-8");
	if (b)
		evbuffer_add_reference(b, page, sizeof(page) - 1, NULL, NULL);
	evhttp_send_reply(req, 200, "OK", b);
	if (b)
		evbuffer_free(b);
}
