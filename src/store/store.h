/*
 * store.h - the durable store of policy objects, behind an ops table (after strongSwan's
 * database_t). store_open() picks the backend by URI scheme: "sqlite:PATH" or "sqlite://PATH"
 * (a PostgreSQL backend is planned: "postgresql://...").
 *
 * Model: a table of rows keyed by policy path; each row holds the object's kind (its
 * resource_type), its _revision and its complete JSON text (secrets included; the store is
 * trusted). A small key/value "meta" table holds server state (ids, keys).
 *
 * Writes are change sets. store_submit() queues a change set and returns at once; change sets are
 * applied in submission order, each one atomically (all its rows or none), and the callback runs
 * once the change set is durable (SQLite: WAL, synchronous=FULL) or has failed. The backend may
 * group change sets that queue up while a commit is in flight into one transaction (group commit).
 * Callers that need ordering across change sets submit under their own lock; submission itself
 * is cheap and never blocks on I/O.
 *
 * Failure: when a change set cannot be committed, it and every change set after it fail
 * (VPN_E_STORE) - a later one may depend on it - and the store halts: everything submitted
 * afterwards fails too, untouched, until the owner has brought itself back in line with the
 * durable state and calls store_resume(). Change sets before the failed one keep their outcome.
 *
 * Thread safety: every function may be called from any thread; callbacks run on the store's
 * writer thread and must not call store_submit_sync(), store_drain() or store_close().
 */
#ifndef VPND_STORE_H
#define VPND_STORE_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct store;

/*
 * STORE_AUDIT appends an audit record to the audit log in the same transaction as the rest of
 * its change set: json is the record (a JSON object), revision its time in ms, path unused.
 */
enum store_op { STORE_PUT = 1, STORE_DEL = 2, STORE_AUDIT = 3 };

struct store_change {
	enum store_op op;
	const char *path;		/* primary key */
	const char *kind;		/* resource_type; unused for STORE_DEL */
	const char *json;		/* full object text; unused for STORE_DEL */
	size_t json_len;
	int64_t revision;
};

/* One stored row, as handed to a load callback. Pointers are valid only during the callback. */
struct store_row {
	const char *path;
	const char *kind;
	const char *json;
	size_t json_len;
	int64_t revision;
};

/* Called for each row by store_load(); a non-VPN_OK return stops the load with that error. */
typedef enum vpn_err (*store_row_cb)(void *arg, const struct store_row *row);

/*
 * Called once per submitted change set, on the writer thread, when it is durable (rc VPN_OK) or
 * has failed (rc VPN_E_STORE; nothing of the change set was applied).
 */
typedef void (*store_done_cb)(void *arg, enum vpn_err rc);

/* A refresh token's record: never the token itself, only its SHA-256 (hex). */
struct store_token {
	const char *name;		/* unique, chosen by the operator */
	const char *id;			/* random; access tokens carry it, so revocation is exact */
	const char *role;		/* "admin" | "auditor" */
	const char *hash;		/* hex SHA-256 of the refresh token */
	int64_t created_ms;
	int64_t last_used_ms;		/* 0 = never */
};
typedef enum vpn_err (*store_token_cb)(void *arg, const struct store_token *t);

/* One audit record, as handed to an audit_list callback (valid during the callback). */
struct store_audit {
	int64_t id;			/* increasing */
	int64_t time_ms;
	const char *record;		/* JSON object text */
	size_t len;
};
typedef enum vpn_err (*store_audit_cb)(void *arg, const struct store_audit *a);

struct store_ops {
	const char *name;
	/* Returns VPN_E_UNSUPPORTED (and does nothing) when @uri is not for this backend. */
	enum vpn_err (*open)(struct store **out, const char *uri, struct vpn_error *err);
	enum vpn_err (*load)(struct store *st, store_row_cb cb, void *arg, struct vpn_error *err);
	/* Copies everything it needs from @changes before returning. */
	enum vpn_err (*submit)(struct store *st, const struct store_change *changes, size_t n,
			       store_done_cb done, void *arg);
	/* Value for @key, heap-allocated (caller frees), or NULL (VPN_E_NOT_FOUND). */
	enum vpn_err (*meta_get)(struct store *st, const char *key, char **value,
				 struct vpn_error *err);
	/* Durable when it returns; ordered after every change set submitted before it. */
	enum vpn_err (*meta_set)(struct store *st, const char *key, const char *value,
				 struct vpn_error *err);
	/*
	 * Refresh tokens, written directly and durably (not through the change-set queue: they are
	 * rare and may come from another process, `vpnd token ...`, while the daemon runs).
	 * token_add: VPN_E_CONFLICT when the name exists. token_del: VPN_E_NOT_FOUND when absent.
	 * token_touch: record a use of the token with @id (no error when it is gone).
	 */
	enum vpn_err (*token_add)(struct store *st, const struct store_token *t,
				  struct vpn_error *err);
	enum vpn_err (*token_del)(struct store *st, const char *name, struct vpn_error *err);
	enum vpn_err (*token_touch)(struct store *st, const char *id, int64_t when,
				    struct vpn_error *err);
	enum vpn_err (*token_list)(struct store *st, store_token_cb cb, void *arg,
				   struct vpn_error *err);
	/* Audit records with id > @after_id, oldest first, at most @limit. */
	enum vpn_err (*audit_list)(struct store *st, int64_t after_id, size_t limit,
				   store_audit_cb cb, void *arg, struct vpn_error *err);
	/*
	 * A counter that changes whenever the tokens may have changed: commits by another process
	 * (`vpnd token ...`) or by any connection other than the store's own writer, and this
	 * store's own token writes. The writer's commits (objects, audit, meta - never tokens) may
	 * leave it unchanged. Lets a caller cache tokens and notice a revocation with one cheap
	 * call.
	 */
	enum vpn_err (*data_version)(struct store *st, uint64_t *out);
	/* Wait until every change set submitted so far has been called back. Not from a
	 * callback. */
	void (*drain)(struct store *st);
	/* Leave the halted state (see "Failure" above). */
	void (*resume)(struct store *st);
	/* Drain the queue (every pending callback runs), stop the writer, close. */
	void (*close)(struct store *st);
};

/* Every backend struct starts with this. */
struct store {
	const struct store_ops *ops;
};

/* Open the backend for @uri. On failure *out is NULL and @err says why. */
enum vpn_err store_open(struct store **out, const char *uri, struct vpn_error *err);

static inline enum vpn_err
store_load(struct store *st, store_row_cb cb, void *arg, struct vpn_error *err)
{
	return st->ops->load(st, cb, arg, err);
}

static inline enum vpn_err
store_submit(struct store *st, const struct store_change *ch, size_t n, store_done_cb done,
	     void *arg)
{
	return st->ops->submit(st, ch, n, done, arg);
}

static inline enum vpn_err
store_meta_get(struct store *st, const char *key, char **value, struct vpn_error *err)
{
	return st->ops->meta_get(st, key, value, err);
}

static inline enum vpn_err
store_meta_set(struct store *st, const char *key, const char *value, struct vpn_error *err)
{
	return st->ops->meta_set(st, key, value, err);
}

static inline enum vpn_err
store_token_add(struct store *st, const struct store_token *t, struct vpn_error *err)
{
	return st->ops->token_add(st, t, err);
}

static inline enum vpn_err
store_token_del(struct store *st, const char *name, struct vpn_error *err)
{
	return st->ops->token_del(st, name, err);
}

static inline enum vpn_err
store_token_touch(struct store *st, const char *id, int64_t when, struct vpn_error *err)
{
	return st->ops->token_touch(st, id, when, err);
}

static inline enum vpn_err
store_token_list(struct store *st, store_token_cb cb, void *arg, struct vpn_error *err)
{
	return st->ops->token_list(st, cb, arg, err);
}

static inline enum vpn_err
store_audit_list(struct store *st, int64_t after_id, size_t limit, store_audit_cb cb, void *arg,
		 struct vpn_error *err)
{
	return st->ops->audit_list(st, after_id, limit, cb, arg, err);
}

static inline enum vpn_err
store_data_version(struct store *st, uint64_t *out)
{
	return st->ops->data_version(st, out);
}

static inline void
store_drain(struct store *st)
{
	st->ops->drain(st);
}

static inline void
store_resume(struct store *st)
{
	st->ops->resume(st);
}

/* NULL-safe. */
void store_close(struct store *st);

/*
 * A one-shot completion for code that must wait for a store_done_cb: pass store_waiter_done as
 * the callback and the waiter as its argument, then store_waiter_wait(). The waiter lives on the
 * caller's stack; init and release around each use.
 */
struct store_waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	enum vpn_err rc;
};
void store_waiter_init(struct store_waiter *w);
void store_waiter_done(void *arg, enum vpn_err rc);	/* a store_done_cb */
enum vpn_err store_waiter_wait(struct store_waiter *w);	/* the callback's rc */
void store_waiter_release(struct store_waiter *w);

/* Submit and wait until durable. Returns the change set's outcome. */
enum vpn_err store_submit_sync(struct store *st, const struct store_change *ch, size_t n,
			       struct vpn_error *err);

#endif
