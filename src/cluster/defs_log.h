/*
 * The cluster's definitions log on this node's loop (core/defs.h is the
 * model): where proposals are appended and when the applier runs.
 *
 * Must not depend on: protocol front ends.
 */
#ifndef TANDEM_CLUSTER_DEFS_LOG_H
#define TANDEM_CLUSTER_DEFS_LOG_H

struct event_base;
struct tdm_broker;
struct tdm_defs;
struct tdm_cdefs;

/* Starts applying b's cluster definitions (b->replica and b->topics set).
 * The caller sets b->defs = tdm_cdefs_defs(...).  NULL: out of memory. */
struct tdm_cdefs *tdm_cdefs_start(struct event_base *base, struct tdm_broker *b);
/* The definitions (borrowed from c; NULL for NULL). */
struct tdm_defs *tdm_cdefs_defs(struct tdm_cdefs *c);
/* Stops; clear b->defs first.  NULL is fine. */
void tdm_cdefs_free(struct tdm_cdefs *c);

#endif
