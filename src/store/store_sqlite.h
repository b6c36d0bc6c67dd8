/*
 * store_sqlite.h - the SQLite store backend ("sqlite:PATH", "sqlite://PATH"); see docs/store.md.
 *
 * Callers use store.h. This header exists for store.c (the backend table) and for tests and
 * diagnostics: counters of the group-commit writer and a pause switch.
 */
#ifndef VPND_STORE_SQLITE_H
#define VPND_STORE_SQLITE_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* Change sets the writer applies in one transaction at most. */
#define STORE_SQLITE_BATCH_MAX 1024

extern const struct store_ops store_sqlite_ops;

/* Counters since open. A meta_set counts as one change set. */
struct store_sqlite_stats {
	uint64_t transactions;		/* batches: BEGIN IMMEDIATE attempted */
	uint64_t transactions_failed;	/* BEGIN/COMMIT failed: all its change sets failed */
	uint64_t change_sets;		/* change sets taken by the writer */
	uint64_t change_sets_failed;	/* ... that ended with VPN_E_STORE */
	uint64_t max_batch;		/* largest number of change sets in one transaction */
	uint64_t queued;		/* queued now, not yet taken by the writer */
	uint64_t dv_queries;		/* data_version calls that had to ask SQLite (slow path) */
	uint64_t dv_restamps;		/* writer commits that kept data_version on its fast path */
};

/* Copy the counters of @st into @out. False (and @out untouched) if @st is not a SQLite store. */
bool store_sqlite_stats(struct store *st, struct store_sqlite_stats *out);

/*
 * Test hook: while paused, the writer takes no new batch; submits keep queueing. Unpausing lets
 * the writer take everything queued (up to STORE_SQLITE_BATCH_MAX) as one batch. close() drains
 * the queue even when paused. No-op if @st is not a SQLite store.
 */
void store_sqlite_pause(struct store *st, bool paused);

#endif
