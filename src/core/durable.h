/*
 * Durability of the AMQP model through logstore (the one storage engine):
 *  - topology (durable exchanges, durable queues with their settings, and
 *    bindings between durable ends) in the compacted topic "__definitions",
 *    one record per object keyed by its name, a tombstone when it goes;
 *    each change is fsynced before the client hears declare-ok;
 *  - persistent messages routed to durable queues in the topic "__journal":
 *    one record per message (body as the value, routing data and the list
 *    of durable queue ids as record headers), acknowledgements as records of
 *    (queue id, offset) pairs, and delivery marks (the highest offset handed
 *    to a consumer per queue) so that recovery knows what to flag
 *    redelivered.  Records made while handling one read are appended as one
 *    batch; an fsync on the helper thread (group commit) makes them durable,
 *    and only then are publisher confirms for them sent.
 *  - space: live messages are counted per block of 1024 journal offsets;
 *    once every message below a block is gone, whole segments below it are
 *    deleted (ls_delete_records).
 * Recovery replays both topics at startup, before any listener opens.
 * The code is split along these seams: durable.c (open, close), then
 * durable_topology.c, durable_journal.c, durable_page.c, durable_gc.c and
 * durable_recover.c, sharing the layout in durable_internal.h.
 *
 * Must not depend on: libevent (blocking work goes through the broker's
 * background-job hook, core/bg.h), protocol front ends (headers are opaque bytes).
 */
#ifndef TANDEM_CORE_DURABLE_H
#define TANDEM_CORE_DURABLE_H

#include <stddef.h>
#include <stdint.h>

#include "core/topic_types.h"

struct tdm_broker;
struct tdm_exchange;
struct tdm_queue;
struct tdm_message;
struct tdm_dest;
struct ex_hdr;

#define TDM_NO_JOURNAL UINT64_MAX

struct tdm_durable;

/* Opens <dir> (creating the topics); NULL with err set on failure. */
struct tdm_durable *tdm_durable_open(struct tdm_broker *b, const char *dir,
				     uint64_t max_message_size, char *err, size_t errlen);
/* Rebuilds durable exchanges, queues, bindings and messages into b. 0 or -1. */
int tdm_durable_recover(struct tdm_durable *d, char *err, size_t errlen);
/* 1 while tdm_durable_recover rebuilds the broker (d NULL: 0). */
int tdm_durable_replaying(const struct tdm_durable *d);
/* Appends what is pending, waits for a running fsync, closes the store. */
void tdm_durable_close(struct tdm_durable *d);

/* Topology changes (no-ops for transient objects). 0 or -1 (I/O error). */
int tdm_durable_exchange_put(struct tdm_durable *d, struct tdm_exchange *x);
int tdm_durable_exchange_del(struct tdm_durable *d, struct tdm_exchange *x);
int tdm_durable_queue_put(struct tdm_durable *d, struct tdm_queue *q);
/* A vhost created (present) or deleted at run time. */
int tdm_durable_vhost(struct tdm_durable *d, const char *name, size_t len, int present);
/* A user as the broker's auth has it now (absent = deleted). */
int tdm_durable_user(struct tdm_durable *d, const char *name);
/* A limit (core/limits.h) as the broker's limits have it now: scope
 * TDM_LIMIT_VHOST or TDM_LIMIT_USER (absent = removed). */
int tdm_durable_limit(struct tdm_durable *d, int scope, const char *owner, const char *field);
int tdm_durable_queue_del(struct tdm_durable *d, struct tdm_queue *q);
int tdm_durable_binding(struct tdm_durable *d, struct tdm_exchange *src, struct tdm_dest *dst,
			const char *key, size_t key_len, const struct ex_hdr *args, size_t nargs,
			int bind);

/* The offset up to which this node applied the cluster's definitions log
 * (core/defs.h), as the store kept it (0: none; d NULL: 0), and keeping a
 * new one (fsynced with the changes it covers).  0 or -1. */
uint64_t tdm_durable_cluster_applied(const struct tdm_durable *d);
int tdm_durable_cluster_set_applied(struct tdm_durable *d, uint64_t off);

/* A vhost, user or limit record (kinds 'V', 'U', 'L') from the cluster's
 * definitions log (core/defs.h): kept in the store and applied as recovery
 * would, a vhost deleted as tdm_vhost_delete does.  0 or -1. */
int tdm_durable_apply_state(struct tdm_durable *d, const void *key, size_t klen,
			    const void *val, size_t vlen);

/* Journals m for the given durable queues; sets m->journal_off. 0 or -1. */
int tdm_durable_enqueue(struct tdm_durable *d, struct tdm_message *m,
			struct tdm_queue *const *qs, size_t n);
/* One stored copy of a journaled message is counted live (after a push). */
void tdm_durable_stored(struct tdm_durable *d, uint64_t off);
/* A journaled message left durable queue q for good (ack, drop, expiry...). */
void tdm_durable_release(struct tdm_durable *d, struct tdm_queue *q, uint64_t off);
/* A journaled message was handed to a consumer of q. */
void tdm_durable_delivered(struct tdm_durable *d, struct tdm_queue *q, uint64_t off);
/* Writes m to the journal as a page record (not recovered after a
 * restart: paging only frees memory); sets m->journal_off.  0 or -1. */
int tdm_durable_page(struct tdm_durable *d, struct tdm_message *m);
/* Reads back the message of journal record `off` (refcount 1), or NULL. */
struct tdm_message *tdm_durable_load(struct tdm_durable *d, uint64_t off);
/* A paged-out copy counted by tdm_durable_stored went away. */
void tdm_durable_unlive(struct tdm_durable *d, uint64_t off);
/* Appends pending records and starts an fsync if one is needed. */
void tdm_durable_flush(struct tdm_durable *d);
/* Where the journal record at off stands, for its publisher confirm:
 * SYNCED (fsynced; also TDM_NO_JOURNAL and d NULL), PENDING (not yet), or
 * FAILED (its write or fsync failed: it must be nacked). */
enum { TDM_JOURNAL_SYNCED, TDM_JOURNAL_PENDING, TDM_JOURNAL_FAILED };
int tdm_durable_state(const struct tdm_durable *d, uint64_t off);
/* Periodic: reclaims journal segments nothing needs any more. */
void tdm_durable_gc(struct tdm_durable *d);
/* Bytes of the durable store on disk (journal + definitions). */
uint64_t tdm_durable_bytes(const struct tdm_durable *d);
/* Arms logstore's fault injection (tests): spec as ls_fault_parse takes it,
 * "kind:topic:nth[:count],...", kind write|short|fsync.  0 or -1. */
int tdm_storage_faults(const char *spec);
/* Opens logstore's fsync ledger at path (power-cut tests).  0 or -1. */
int tdm_storage_fsync_ledger(const char *path);
/* Timings of the journal's fsync rounds (logstore's histogram). */
void tdm_durable_fsync_hist(const struct tdm_durable *d, struct tdm_fsync_hist *out);


/* ---- records in the journal's layout (also a quorum queue's log) ---------------- */

struct ls_record;
struct ls_header;
/* Record r's header `name` (one-letter keys), or NULL. */
const struct ls_header *tdm_record_header(const struct ls_record *r, char name);
/* The kind of record r (its 't' header: the journal's 'E', 'P', 'A', 'D';
 * a quorum queue's 'E', 'D', 'R', 'S'), or 0. */
int tdm_record_kind(const struct ls_record *r);
/* The message of a record with headers x (exchange), r (routing key), h
 * (the content header) and the body as value: refcount 1, owned by the
 * caller, passed through b's restore_message hook; NULL when a header is
 * missing or too long, or out of memory. */
struct tdm_message *tdm_record_message(struct tdm_broker *b, const struct ls_record *r,
				       int persistent);
#endif
