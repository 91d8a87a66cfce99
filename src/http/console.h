/*
 * The web console's files, embedded into tandemd at build time by
 * src/http/console/embed (see src/http/include.am), and the handler that
 * serves them.
 *
 * Must not depend on: other front ends.
 */
#ifndef TANDEM_HTTP_CONSOLE_H
#define TANDEM_HTTP_CONSOLE_H

#include <stddef.h>

struct evhttp_request;

struct hx_asset {
	const char *name;          /* URL path, e.g. "/console.js"; NULL ends the table */
	const unsigned char *data; /* static */
	size_t len;
	const char *etag;          /* quoted FNV-1a 64 of the bytes */
};

/* Generated (console_assets.c): the files of src/http/console/. */
extern const struct hx_asset hx_console_assets[];

/* Serves the console file at PATH ("/" is "/index.html") with its
 * Content-Type, Cache-Control: no-cache and an ETag (304 when the
 * request's If-None-Match has it).  Returns 1 if it replied, 0 if PATH is
 * not a console file (the caller goes on routing). */
int hx_console(struct evhttp_request *req, const char *path);

#endif
