/*
 * tandemctl's shared pieces (tandemctl.c) for the command files
 * (ctl_log.c: topics and groups; ctl_cluster.c: the cluster).  Every
 * function that fails exits with tandemctl's status: 1 the API refused
 * (its reason on stderr), 2 usage, 3 cannot reach the API.
 *
 * Depends on: libc, src/util/json.h.
 */
#ifndef TANDEM_TOOLS_CTL_H
#define TANDEM_TOOLS_CTL_H

#include <stddef.h>

#include "util/json.h"

#define MAXCOLS 12

struct reply {
	int status;
	char *body; /* owned, NUL-terminated */
	size_t len;
};

extern int ctl_as_json;

/* One HTTP request to the API (body may be NULL); exits 3 when unreachable. */
void ctl_request(const char *method, const char *path, const char *body, struct reply *r);
/* Exits 1 with the API's reason unless the status is 2xx. */
void ctl_check(const struct reply *r);
/* Percent-encodes s as one path segment into out. */
void ctl_seg(char *out, size_t cap, const char *s);
/* The text of a scalar node (malloc'd; "" for i < 0). */
char *ctl_scalar(const struct js_doc *d, int i);
/* Prints the JSON array of objects body[0..len) as a table of cols
 * ("a/b" looks into a nested object; "a[]": the array a's elements joined
 * with commas, under the heading "a"). */
void ctl_table(const char *body, size_t len, const char *const *cols, int ncols);
/* The body as JSON with --json (or without cols), else as a table. */
void ctl_show(const struct reply *r, const char *const *cols, int ncols);
/* s as a JSON string literal (malloc'd). */
char *ctl_jstr(const char *s);
/* Prints the usage and exits 2. */
void ctl_usage(void);

/* Commands (ctl_log.c): "topic create|delete|describe ...", "group
 * describe NAME", "list groups".  Return the exit status. */
int ctl_topic(int argc, char **argv);
int ctl_group(int argc, char **argv);
int ctl_list_groups(void);
/* Command (ctl_cluster.c): "cluster status".  Returns the exit status. */
int ctl_cluster(int argc, char **argv);

#endif
