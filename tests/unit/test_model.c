/*
 * test_model.c - no dirty reads: readers (model_get, model_list, model_revision,
 * model_collection_paths) see only committed versions while writers see the latest one.
 * A real SQLite store holds commits open with store_sqlite_pause(); its VPND_TEST_STORE_HOLD
 * hook fails one (docs/store.md).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "model/model.h"
#include "schema/schema.h"
#include "store/store.h"
#include "store/store_sqlite.h"

#define IKE "/infra/ipsec-vpn-ike-profiles/"

struct fx {
	char dir[PATH_MAX];
	char db[PATH_MAX + 16];
	struct store *st;
	struct model *m;
};

/* One write's completion: a store_waiter (the body is freed here). */
static void
done_cb(void *arg, enum vpn_err rc, char *body, size_t len)
{
	(void)len;
	free(body);
	store_waiter_done(arg, rc);
}

static enum vpn_err
done_wait(struct store_waiter *d)
{
	enum vpn_err rc = store_waiter_wait(d);

	store_waiter_release(d);
	return rc;
}

static int
fx_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct fx *f = calloc(1, sizeof(*f));
	struct model_config cfg = { "203.0.113.1", "10.0.0.1" };
	char uri[PATH_MAX + 32];

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/vpnd-model-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	snprintf(f->db, sizeof(f->db), "%s/vpnd.db", f->dir);
	snprintf(uri, sizeof(uri), "sqlite:%s", f->db);
	if (schema_init(NULL) || store_open(&f->st, uri, NULL) ||
	    model_open(&f->m, f->st, &cfg, NULL))
		return -1;
	*state = f;
	return 0;
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;
	static const char *const sfx[] = { "", "-wal", "-shm", "/hold", "/fail" };
	char p[PATH_MAX + 32];
	size_t i;

	model_quiesce(f->m);
	store_close(f->st);
	model_close(f->m);
	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", i < 3 ? f->db : f->dir, sfx[i]);
		unlink(p);
	}
	rmdir(f->dir);
	free(f);
	unsetenv("VPND_TEST_STORE_HOLD");
	return 0;
}

/* Start a write of @op on IKE profile @id with body @json (NULL: none); returns model_write's rc. */
static enum vpn_err
write_async(struct fx *f, enum model_op op, const char *id, const char *json, struct store_waiter *d)
{
	struct model_write w = { op, &coll_ike_profiles, id, NULL, "admin", "admin",
				 op == MODEL_PUT ? "PUT" : op == MODEL_PATCH ? "PATCH" : "DELETE" };
	enum vpn_err rc;

	store_waiter_init(d);
	if (json) {
		w.body = json_loads(json, 0, NULL);
		assert_non_null(w.body);
	}
	rc = model_write(f->m, &w, done_cb, d, NULL);
	json_decref(w.body);
	if (rc)
		store_waiter_release(d);
	return rc;
}

static void
write_sync(struct fx *f, enum model_op op, const char *id, const char *json)
{
	struct store_waiter d;

	assert_int_equal(write_async(f, op, id, json, &d), VPN_OK);
	assert_int_equal(done_wait(&d), VPN_OK);
}

/* The committed description of @id, or NULL when readers do not see it (caller frees). */
static char *
desc(struct fx *f, const char *id)
{
	char path[256], *txt = NULL, *out = NULL;
	const char *s;
	size_t len;
	json_t *o;

	snprintf(path, sizeof(path), IKE "%s", id);
	if (model_get(f->m, path, 0, &txt, &len, NULL))
		return NULL;
	o = json_loadb(txt, len, 0, NULL);
	s = json_string_value(json_object_get(o, "description"));
	out = strdup(s ? s : "");
	json_decref(o);
	free(txt);
	return out;
}

static int64_t
rev(struct fx *f, const char *id)
{
	char path[256];

	snprintf(path, sizeof(path), IKE "%s", id);
	return model_revision(f->m, path);
}

/* Whether @id is in the IKE list and in model_collection_paths (must agree). */
static bool
listed(struct fx *f, const char *id)
{
	struct list_params lp = { "id", true, NULL, 1000, NULL };
	struct model_paths ps;
	char *txt = NULL, needle[256], path[256];
	bool in_list, in_paths = false;
	size_t len, i;

	snprintf(needle, sizeof(needle), "\"path\":\"" IKE "%s\"", id);
	snprintf(path, sizeof(path), IKE "%s", id);
	assert_int_equal(model_list(f->m, &coll_ike_profiles, &lp, &txt, &len, NULL), VPN_OK);
	in_list = strstr(txt, needle) != NULL;
	free(txt);
	assert_int_equal(model_collection_paths(f->m, &coll_ike_profiles, &ps), VPN_OK);
	for (i = 0; i < ps.n; i++)
		in_paths |= !strcmp(ps.v[i], path);
	model_paths_release(&ps);
	assert_true(in_list == in_paths);
	return in_list;
}

#define BODY "{\"ike_version\":\"IKE_V2\",\"description\":\"%s\"}"

static void
put(struct fx *f, const char *id, const char *d)
{
	char b[256];

	snprintf(b, sizeof(b), BODY, d);
	write_sync(f, MODEL_PUT, id, b);
}

static void
test_pending_create_is_invisible(void **state)
{
	struct fx *f = *state;
	struct store_waiter d;
	char *s;

	store_sqlite_pause(f->st, true);
	assert_int_equal(write_async(f, MODEL_PUT, "a", "{\"description\":\"one\"}", &d), VPN_OK);
	assert_null(desc(f, "a"));
	assert_int_equal(rev(f, "a"), -1);
	assert_false(listed(f, "a"));
	/* writers see it: a second create without _revision is a conflict */
	{
		struct store_waiter d2;

		assert_int_equal(write_async(f, MODEL_PUT, "a", "{}", &d2), VPN_E_CONFLICT);
	}
	store_sqlite_pause(f->st, false);
	assert_int_equal(done_wait(&d), VPN_OK);
	s = desc(f, "a");
	assert_string_equal(s, "one");
	free(s);
	assert_int_equal(rev(f, "a"), 0);
	assert_true(listed(f, "a"));
}

static void
test_pending_patches_serve_the_committed_version(void **state)
{
	struct fx *f = *state;
	struct store_waiter d[3];
	char *s;
	int i;

	put(f, "p", "v0");
	store_sqlite_pause(f->st, true);
	/* three versions pending on one path */
	assert_int_equal(write_async(f, MODEL_PATCH, "p", "{\"description\":\"v1\"}", &d[0]), VPN_OK);
	assert_int_equal(write_async(f, MODEL_PATCH, "p", "{\"description\":\"v2\"}", &d[1]), VPN_OK);
	assert_int_equal(write_async(f, MODEL_PATCH, "p",
				     "{\"description\":\"v3\",\"_revision\":2}", &d[2]), VPN_OK);
	s = desc(f, "p");
	assert_string_equal(s, "v0");
	free(s);
	assert_int_equal(rev(f, "p"), 0);
	assert_true(listed(f, "p"));
	{
		/* writers check _revision against the latest (3), not the committed one (0) */
		struct store_waiter dx;

		assert_int_equal(write_async(f, MODEL_PATCH, "p",
					     "{\"description\":\"x\",\"_revision\":0}", &dx),
				 VPN_E_CONFLICT);
	}
	store_sqlite_pause(f->st, false);
	for (i = 0; i < 3; i++)
		assert_int_equal(done_wait(&d[i]), VPN_OK);
	s = desc(f, "p");
	assert_string_equal(s, "v3");
	free(s);
	assert_int_equal(rev(f, "p"), 3);
}

static void
test_pending_delete_keeps_the_object_visible(void **state)
{
	struct fx *f = *state;
	struct store_waiter d[3];
	char *s;
	int i;

	put(f, "g", "old");
	store_sqlite_pause(f->st, true);
	/* delete, create again, delete again: all pending on one node */
	assert_int_equal(write_async(f, MODEL_DELETE, "g", NULL, &d[0]), VPN_OK);
	assert_int_equal(write_async(f, MODEL_PUT, "g", "{\"description\":\"new\"}", &d[1]),
			 VPN_OK);
	assert_int_equal(write_async(f, MODEL_DELETE, "g", NULL, &d[2]), VPN_OK);
	s = desc(f, "g");
	assert_string_equal(s, "old");
	free(s);
	assert_true(listed(f, "g"));
	store_sqlite_pause(f->st, false);
	for (i = 0; i < 3; i++)
		assert_int_equal(done_wait(&d[i]), VPN_OK);
	assert_null(desc(f, "g"));
	assert_false(listed(f, "g"));
	/* the next write reclaims the empty node; the path can be created again */
	put(f, "other", "x");
	put(f, "g", "again");
	assert_int_equal(rev(f, "g"), 0);
	assert_true(listed(f, "g"));
}

static void
test_failed_commit_is_never_visible(void **state)
{
	struct fx *f = *state;
	char hold[PATH_MAX + 8], fail[PATH_MAX + 8], held[PATH_MAX + 8];
	struct store_waiter d, dc;
	enum vpn_err rc = VPN_E_STORE;
	char *s;
	int tries;
	FILE *h;

	put(f, "k", "kept");
	snprintf(hold, sizeof(hold), "%s/hold", f->dir);
	snprintf(fail, sizeof(fail), "%s/fail", f->dir);
	setenv("VPND_TEST_STORE_HOLD", f->dir, 1);
	store_sqlite_pause(f->st, true);
	assert_non_null(h = fopen(hold, "w"));
	fclose(h);
	assert_non_null(h = fopen(fail, "w"));
	fclose(h);
	assert_int_equal(write_async(f, MODEL_PATCH, "k", "{\"description\":\"lost\"}", &d), VPN_OK);
	assert_int_equal(write_async(f, MODEL_PUT, "c", "{}", &dc), VPN_OK);
	store_sqlite_pause(f->st, false);	/* the writer takes the batch and holds it */
	/* it says so in DIR/held: without waiting for that, a slow writer (valgrind) could look
	 * for DIR/hold after it was removed, and commit instead of failing */
	snprintf(held, sizeof(held), "%s/held", f->dir);
	for (tries = 0; tries < 4000 && access(held, F_OK); tries++)
		usleep(5000);
	assert_int_equal(access(held, F_OK), 0);
	s = desc(f, "k");
	assert_string_equal(s, "kept");
	free(s);
	assert_null(desc(f, "c"));
	unlink(hold);				/* ... and fails it */
	assert_int_equal(done_wait(&d), VPN_E_STORE);
	assert_int_equal(done_wait(&dc), VPN_E_STORE);
	unlink(fail);
	s = desc(f, "k");
	assert_string_equal(s, "kept");
	free(s);
	assert_null(desc(f, "c"));
	assert_false(listed(f, "c"));
	/* the model reloads in the background: retry (bounded) until writes are taken again */
	for (tries = 0; tries < 2000 && rc == VPN_E_STORE; tries++) {
		rc = write_async(f, MODEL_PATCH, "k", "{\"description\":\"next\"}", &d);
		if (rc == VPN_E_STORE)
			usleep(5000);
	}
	assert_int_equal(rc, VPN_OK);
	assert_int_equal(done_wait(&d), VPN_OK);
	s = desc(f, "k");
	assert_string_equal(s, "next");
	free(s);
	assert_int_equal(rev(f, "k"), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
		T(test_pending_create_is_invisible),
		T(test_pending_patches_serve_the_committed_version),
		T(test_pending_delete_keeps_the_object_visible),
		T(test_failed_commit_is_never_visible),
	};
	int rc;

	log_set_level(LOG_LVL_ERROR);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	schema_fini();
	return rc;
}
