/*
 * model.h - the policy tree in memory: every object's finished JSON, the collections, and the
 * indexes that answer "who refers to this?" without a scan. It is the only writer of the store.
 *
 * Reads (model_get, model_list, model_revision, model_collection_paths) take a read lock and
 * copy finished text of the committed (durable) versions only: no re-serialisation, no dirty
 * reads. Writes (model_write) run under the write lock against the latest versions: look up
 * the current object, check _revision, merge (PATCH), validate with schema/, check references
 * against the indexes, build the new object's text, make it the latest version and submit the
 * change to the store - all before the lock is released, so the store sees changes in the
 * order the model applied them. Once the change is durable the store's callback makes it the
 * committed version, then the caller's callback runs; only then is the client answered.
 *
 * A store failure puts the model in a failed state: the failed write's client gets 503 and
 * every later write is refused with 503 until a recovery thread has reloaded the tree from the
 * store. Reads keep working and never saw the failed version.
 */
#ifndef VPND_MODEL_H
#define VPND_MODEL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "store/store.h"

struct model;

/* A collection of the policy tree: where objects live and what they may be. */
struct coll {
	const char *path;		/* "/infra/ipsec-vpn-ike-profiles" */
	const char *types[3];		/* allowed resource_types; types[0] is the default */
	bool type_required;		/* resource_type must be given on create (sessions) */
	bool system_only;		/* users may not create here */
};

extern const struct coll coll_ike_profiles, coll_tunnel_profiles, coll_dpd_profiles,
	coll_tier0s, coll_locale_services, coll_prefix_lists, coll_bgp_neighbors,
	coll_vpn_services, coll_local_endpoints, coll_sessions, coll_bgp_config;

struct model_config {
	const char *public_ip;		/* Public-IP1 local_address */
	const char *private_ip;		/* Private-IP1 local_address */
};

enum vpn_err model_open(struct model **out, struct store *st, const struct model_config *cfg,
			struct vpn_error *err);
void model_close(struct model *m);		/* NULL-safe; the store stays open */
/*
 * Stop starting store-failure recoveries and wait for a running one (it reads the store): call
 * before closing the store. NULL-safe.
 */
void model_quiesce(struct model *m);

#define MODEL_GET_SECRETS 0x1			/* include psk / password */

/* The object at @path as JSON text (caller frees). VPN_E_NOT_FOUND if absent. */
enum vpn_err model_get(struct model *m, const char *path, unsigned flags, char **json,
		       size_t *len, struct vpn_error *err);

struct list_params {
	const char *sort_by;		/* NULL = display_name */
	bool sort_ascending;
	const char *cursor;		/* NULL = first page */
	size_t page_size;		/* 1..1000 */
	const char *included_fields;	/* NULL = all; comma-separated */
};

/* The NSX list envelope for collection @c (caller frees). */
enum vpn_err model_list(struct model *m, const struct coll *c, const struct list_params *lp,
			char **json, size_t *len, struct vpn_error *err);

enum model_op { MODEL_PUT = 1, MODEL_PATCH, MODEL_DELETE };

struct model_write {
	enum model_op op;
	const struct coll *coll;	/* collection the URL named (singletons: coll_bgp_config) */
	const char *id;			/* object id from the URL */
	json_t *body;			/* PUT/PATCH body; borrowed, may be modified */
	const char *user;		/* for _create_user / _last_modified_user and the audit log */
	const char *role;		/* for the audit log */
	const char *method;		/* for the audit log: "PUT", "PATCH", "DELETE" */
};

/*
 * One audit record. Accepted writes are audited by model_write itself, in the same store
 * transaction as the change; callers record refused writes and sensitive reads with
 * model_audit(). Never put secrets in any field.
 */
struct model_audit_rec {
	const char *user;
	const char *role;
	const char *method;
	const char *path;		/* canonical policy path (or the URL for non-policy calls) */
	int64_t rev_before;		/* -1 = none */
	int64_t rev_after;		/* -1 = none */
	int status;			/* HTTP status of the outcome */
	int error_code;			/* NSX error_code, 0 = none */
};

/* Append @r to the audit log; durable when it returns. Not from a store callback. */
void model_audit(struct model *m, const struct model_audit_rec *r);

/* _revision of @path's committed version, or -1 when absent (or its creation not durable). */
int64_t model_revision(struct model *m, const char *path);

/* Audit records after @since (at most @limit) as {"results":[...],"result_count":n}. */
enum vpn_err model_audit_list(struct model *m, int64_t since, size_t limit, char **json,
			      size_t *len, struct vpn_error *err);

/*
 * Called exactly once when an accepted write is durable (rc VPN_OK) or failed (VPN_E_STORE).
 * @body is the response body for the client (PUT: the object without secrets; else NULL);
 * ownership passes to the callback. Runs on the store's writer thread.
 */
typedef void (*model_done_cb)(void *arg, enum vpn_err rc, char *body, size_t len);

/*
 * Apply @w. On VPN_OK the write was accepted and @cb will run; otherwise nothing changed,
 * @cb will not run and @err says why (400/403/404/412/503 ...).
 */
enum vpn_err model_write(struct model *m, const struct model_write *w, model_done_cb cb,
			 void *arg, struct vpn_error *err);

/* Number of paths held (system ones included; pending creations and deletions count). */
size_t model_count(struct model *m);

/*
 * Observer of durable changes (the realization engine): called on the store's writer thread
 * with the path of each accepted write once it is durable, or with NULL after the tree was
 * reloaded from the store (everything may have changed). Must not block or take model locks.
 */
typedef void (*model_observer)(void *arg, const char *path);
void model_set_observer(struct model *m, model_observer fn, void *arg);

/* A list of paths (heap strings), for the calls below. */
struct model_paths {
	char **v;
	size_t n;
};
void model_paths_release(struct model_paths *p);

/* Paths of the objects whose latest version refers to @path (the writers' reference index). */
enum vpn_err model_referrers(struct model *m, const char *path, struct model_paths *out);
/* Paths of every committed object in collection @c. */
enum vpn_err model_collection_paths(struct model *m, const struct coll *c,
				    struct model_paths *out);
/* The collection @path belongs to, or NULL. */
const struct coll *model_coll_of(const char *path);

#endif
