/*
 * AMQP error vocabulary: reply code names, hard vs soft scope, and the one
 * mapping from core status codes to reply codes.
 *
 * May depend on: amqp/am.h (the codec, core/broker.h, net/net.h) and other
 * core/ headers.  Must not depend on: other front ends, logstore/ (core is
 * its only door), libevent other than through net/net.h.
 */
#include <stdio.h>
#include <string.h>

#include "amqp/am.h"

static const struct {
	uint16_t code;
	const char *name;
	uint8_t hard;
} codes[] = {
	{ AM_CONTENT_TOO_LARGE, "CONTENT_TOO_LARGE", 0 },
	{ AM_NO_ROUTE, "NO_ROUTE", 0 },
	{ AM_NO_CONSUMERS, "NO_CONSUMERS", 0 },
	{ AM_CONNECTION_FORCED, "CONNECTION_FORCED", 1 },
	{ AM_INVALID_PATH, "INVALID_PATH", 1 },
	{ AM_ACCESS_REFUSED, "ACCESS_REFUSED", 0 },
	{ AM_NOT_FOUND, "NOT_FOUND", 0 },
	{ AM_RESOURCE_LOCKED, "RESOURCE_LOCKED", 0 },
	{ AM_PRECONDITION_FAILED, "PRECONDITION_FAILED", 0 },
	{ AM_FRAME_ERROR, "FRAME_ERROR", 1 },
	{ AM_SYNTAX_ERROR, "SYNTAX_ERROR", 1 },
	{ AM_COMMAND_INVALID, "COMMAND_INVALID", 1 },
	{ AM_CHANNEL_ERROR, "CHANNEL_ERROR", 1 },
	{ AM_UNEXPECTED_FRAME, "UNEXPECTED_FRAME", 1 },
	{ AM_RESOURCE_ERROR, "RESOURCE_ERROR", 1 },
	{ AM_NOT_ALLOWED, "NOT_ALLOWED", 1 },
	{ AM_NOT_IMPLEMENTED, "NOT_IMPLEMENTED", 1 },
	{ AM_INTERNAL_ERROR, "INTERNAL_ERROR", 1 },
};

const char *am_code_name(uint16_t code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return codes[i].name;
	return "UNKNOWN";
}

int am_code_is_hard(uint16_t code)
{
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
		if (codes[i].code == code)
			return codes[i].hard;
	return 1;
}

static int fail_v(struct am_err *err, uint16_t code, uint32_t method, const char *fmt, va_list ap)
{
	err->code = code;
	err->method = method;
	int n = snprintf(err->text, sizeof(err->text), "%s - ", am_code_name(code));
	if (n < 0 || (size_t)n >= sizeof(err->text))
		return -1;
	vsnprintf(err->text + n, sizeof(err->text) - (size_t)n, fmt, ap);
	return -1;
}

int am_fail(struct am_err *err, uint16_t code, uint32_t method, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fail_v(err, code, method, fmt, ap);
	va_end(ap);
	return -1;
}

int am_fail_core(struct am_err *err, const struct tdm_err *te, uint32_t method)
{
	uint16_t code;
	switch (te->status) {
	case TDM_E_NOT_FOUND: code = AM_NOT_FOUND; break;
	case TDM_E_ACCESS: code = AM_ACCESS_REFUSED; break;
	case TDM_E_LOCKED: code = AM_RESOURCE_LOCKED; break;
	case TDM_E_INEQUIVALENT:
	case TDM_E_IN_USE:
	case TDM_E_NOT_EMPTY:
	case TDM_E_INVALID: code = AM_PRECONDITION_FAILED; break;
	case TDM_E_COMMAND_INVALID: code = AM_COMMAND_INVALID; break;
	case TDM_E_NOT_ALLOWED: code = AM_NOT_ALLOWED; break;
	case TDM_E_NOT_IMPLEMENTED: code = AM_NOT_IMPLEMENTED; break;
	default: code = AM_INTERNAL_ERROR; break;
	}
	return am_fail(err, code, method, "%s", te->text);
}

void am_close_fields(const struct am_err *err, uint16_t *reply_code, struct am_bytes *reply_text,
		     uint16_t *class_id, uint16_t *method_id)
{
	size_t tl = strlen(err->text);
	*reply_code = err->code;
	*reply_text = (struct am_bytes){ (const uint8_t *)err->text, (uint32_t)(tl > 255 ? 255 : tl) };
	*class_id = (uint16_t)(err->method >> 16);
	*method_id = (uint16_t)err->method;
}
