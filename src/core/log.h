/*
 * Logging: one line per event, "<time> <level> <subsystem>: message", on
 * stderr or a file.  Quiet at the default level under load: per-message
 * events are debug only.
 *
 * Must not depend on: libevent, protocol front ends.
 */
#ifndef TANDEM_CORE_LOG_H
#define TANDEM_CORE_LOG_H

#include "core/config.h"

/*
 * Sets the level and the destination: file is opened for append and line
 * buffered (the previous file is closed); if it cannot be opened an error is
 * logged and the previous destination kept.  Call before other threads log.
 */
void tdm_log_setup(enum tdm_log_level level, const char *file /* NULL = stderr */);
/* 1 when level would be written. */
int tdm_log_enabled(enum tdm_log_level level);
/*
 * Writes "2024-05-01T12:34:56.789Z info amqp: message\n" (UTC) with one
 * write; control characters in subsys and message become \xNN, a trailing
 * newline is dropped.
 */
void tdm_log(enum tdm_log_level level, const char *subsys, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define tdm_error(sub, ...) tdm_log(TDM_LOG_ERROR, sub, __VA_ARGS__)
#define tdm_warn(sub, ...) tdm_log(TDM_LOG_WARNING, sub, __VA_ARGS__)
#define tdm_info(sub, ...) tdm_log(TDM_LOG_INFO, sub, __VA_ARGS__)
#define tdm_debug(sub, ...) do { if (tdm_log_enabled(TDM_LOG_DEBUG)) tdm_log(TDM_LOG_DEBUG, sub, __VA_ARGS__); } while (0)
/* Parses "error|warning|info|debug" (any case, "warn" too); -1 if unknown. */
int tdm_log_level_parse(const char *s);

#endif
