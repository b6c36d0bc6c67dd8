/*
 * test_store.c - the store interface and its SQLite backend.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "store/store.h"
#include "store/store_sqlite.h"

/* ---- fixture: a fresh directory per test ---- */

struct fx {
	char dir[PATH_MAX];
	char db[PATH_MAX + 16];
	char uri[PATH_MAX + 32];
};

static int
fx_setup(void **state)
{
	const char *tmp = getenv("TMPDIR");
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/vpnd-store-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->db, sizeof(f->db), "%s/vpnd.db", f->dir);
	snprintf(f->uri, sizeof(f->uri), "sqlite:%s", f->db);
	*state = f;
	return 0;
}

static void
rm_db(const char *db)
{
	static const char *const sfx[] = { "", "-wal", "-shm", "-journal" };
	char p[PATH_MAX + 32];
	size_t i;

	for (i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", db, sfx[i]);
		unlink(p);
	}
}

static int
fx_teardown(void **state)
{
	struct fx *f = *state;

	rm_db(f->db);
	rmdir(f->dir);
	free(f);
	return 0;
}

static struct store *
open_ok(const char *uri)
{
	struct vpn_error err;
	struct store *st = NULL;

	vpn_error_clear(&err);
	if (store_open(&st, uri, &err) != VPN_OK)
		fail_msg("store_open(%s): %s", uri, err.msg);
	assert_non_null(st);
	return st;
}

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static struct store_sqlite_stats
stats(struct store *st)
{
	struct store_sqlite_stats s;

	assert_true(store_sqlite_stats(st, &s));
	return s;
}

/* ---- rows read back through load() ---- */

struct got_row {
	char *path;
	char *kind;
	char *json;
	size_t json_len;
	int64_t revision;
};

struct got {
	struct got_row *rows;
	size_t n, cap;
	size_t stop_after;	/* 0: never stop */
};

static enum vpn_err
collect_cb(void *arg, const struct store_row *r)
{
	struct got *g = arg;
	struct got_row *gr;

	if (g->stop_after && g->n == g->stop_after)
		return VPN_E_INTERNAL;
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 16;
		struct got_row *p = realloc(g->rows, cap * sizeof(*p));

		if (!p)
			return VPN_E_NOMEM;
		g->rows = p;
		g->cap = cap;
	}
	gr = &g->rows[g->n++];
	gr->path = strdup(r->path);
	gr->kind = strdup(r->kind);
	gr->json = malloc(r->json_len + 1);
	memcpy(gr->json, r->json, r->json_len + 1);
	gr->json_len = r->json_len;
	gr->revision = r->revision;
	return VPN_OK;
}

static void
got_release(struct got *g)
{
	size_t i;

	for (i = 0; i < g->n; i++) {
		free(g->rows[i].path);
		free(g->rows[i].kind);
		free(g->rows[i].json);
	}
	free(g->rows);
	memset(g, 0, sizeof(*g));
}

static void
load_all(struct store *st, struct got *g)
{
	struct vpn_error err;

	vpn_error_clear(&err);
	memset(g, 0, sizeof(*g));
	if (store_load(st, collect_cb, g, &err) != VPN_OK)
		fail_msg("store_load: %s", err.msg);
}

static const struct got_row *
got_find(const struct got *g, const char *path)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		if (!strcmp(g->rows[i].path, path))
			return &g->rows[i];
	return NULL;
}

static void
put_sync(struct store *st, const char *path, const char *kind, const char *json, int64_t rev)
{
	struct store_change c = {
		.op = STORE_PUT, .path = path, .kind = kind, .json = json,
		.json_len = json ? strlen(json) : 0, .revision = rev,
	};
	struct vpn_error err;

	vpn_error_clear(&err);
	if (store_submit_sync(st, &c, 1, &err) != VPN_OK)
		fail_msg("put %s: %s", path, err.msg);
}

/* ---- completion tracking for asynchronous submits ---- */

struct tracker {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t expected, ndone;
	enum vpn_err *rc;	/* by submission index */
	size_t *order;		/* indexes in callback order */
	struct slot *slots;
};

struct slot {
	struct tracker *t;
	size_t idx;
};

static void
tracker_init(struct tracker *t, size_t n)
{
	size_t i;

	pthread_mutex_init(&t->mu, NULL);
	pthread_cond_init(&t->cv, NULL);
	t->expected = n;
	t->ndone = 0;
	t->rc = calloc(n, sizeof(*t->rc));
	t->order = calloc(n, sizeof(*t->order));
	t->slots = calloc(n, sizeof(*t->slots));
	assert_non_null(t->rc);
	assert_non_null(t->order);
	assert_non_null(t->slots);
	for (i = 0; i < n; i++) {
		t->rc[i] = VPN_E__LAST;
		t->slots[i].t = t;
		t->slots[i].idx = i;
	}
}

static void
tracker_release(struct tracker *t)
{
	free(t->rc);
	free(t->order);
	free(t->slots);
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
}

static void
tracker_cb(void *arg, enum vpn_err rc)
{
	struct slot *sl = arg;
	struct tracker *t = sl->t;

	pthread_mutex_lock(&t->mu);
	t->rc[sl->idx] = rc;
	t->order[t->ndone++] = sl->idx;
	if (t->ndone == t->expected)
		pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

static void
tracker_wait(struct tracker *t)
{
	pthread_mutex_lock(&t->mu);
	while (t->ndone < t->expected)
		pthread_cond_wait(&t->cv, &t->mu);
	pthread_mutex_unlock(&t->mu);
}

static void
submit_async(struct store *st, struct tracker *t, size_t idx, const struct store_change *c,
	     size_t n)
{
	assert_int_equal(store_submit(st, c, n, tracker_cb, &t->slots[idx]), VPN_OK);
}

/* ---- tests ---- */

static void
test_put_load(void **state)
{
	struct fx *f = *state;
	const char *body = "{\"id\":\"b\",\"psk\":\"secret\"}TRAILING";
	struct store_change c = {
		.op = STORE_PUT, .path = "/infra/b", .kind = "IPSecVpnIkeProfile", .json = body,
		.json_len = strlen(body) - strlen("TRAILING"), .revision = 3,
	};
	struct store *st = open_ok(f->uri);
	struct vpn_error err;
	struct got g;

	put_sync(st, "/infra/c", "C", "{\"id\":\"c\"}", 0);
	vpn_error_clear(&err);
	assert_int_equal(store_submit_sync(st, &c, 1, &err), VPN_OK);
	put_sync(st, "/infra/a", "A", "{}", 9);
	load_all(st, &g);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.rows[0].path, "/infra/a");
	assert_string_equal(g.rows[1].path, "/infra/b");
	assert_string_equal(g.rows[2].path, "/infra/c");
	assert_string_equal(g.rows[1].kind, "IPSecVpnIkeProfile");
	assert_int_equal(g.rows[1].revision, 3);
	assert_int_equal(g.rows[1].json_len, c.json_len);
	assert_string_equal(g.rows[1].json, "{\"id\":\"b\",\"psk\":\"secret\"}");
	assert_int_equal(g.rows[0].revision, 9);
	got_release(&g);

	/* PUT replaces the whole row. */
	put_sync(st, "/infra/a", "A2", "{\"x\":1}", 10);
	load_all(st, &g);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.rows[0].kind, "A2");
	assert_string_equal(g.rows[0].json, "{\"x\":1}");
	assert_int_equal(g.rows[0].revision, 10);
	got_release(&g);

	/* An empty change set commits trivially. */
	assert_int_equal(store_submit_sync(st, NULL, 0, NULL), VPN_OK);
	store_close(st);
}

static void
test_delete(void **state)
{
	struct fx *f = *state;
	struct store_change del[] = {
		{ .op = STORE_DEL, .path = "/infra/a" },
		{ .op = STORE_DEL, .path = "/infra/never-existed" },
	};
	struct store *st = open_ok(f->uri);
	struct got g;

	put_sync(st, "/infra/a", "A", "{}", 1);
	put_sync(st, "/infra/b", "B", "{}", 1);
	assert_int_equal(store_submit_sync(st, del, 2, NULL), VPN_OK);
	load_all(st, &g);
	assert_int_equal(g.n, 1);
	assert_string_equal(g.rows[0].path, "/infra/b");
	got_release(&g);
	store_close(st);
}

static void
test_reopen_keeps_data(void **state)
{
	struct fx *f = *state;
	struct store *st = open_ok(f->uri);
	const struct got_row *r;
	char *v = NULL;
	struct got g;

	put_sync(st, "/infra/x", "X", "{\"_revision\":41}", 41);
	put_sync(st, "/infra/big", "B", "{\"v\":-9223372036854775807}", INT64_MAX);
	assert_int_equal(store_meta_set(st, "server_id", "abc", NULL), VPN_OK);
	store_close(st);

	st = open_ok(f->uri);
	load_all(st, &g);
	assert_int_equal(g.n, 2);
	r = got_find(&g, "/infra/x");
	assert_non_null(r);
	assert_int_equal(r->revision, 41);
	assert_string_equal(r->kind, "X");
	r = got_find(&g, "/infra/big");
	assert_non_null(r);
	assert_true(r->revision == INT64_MAX);
	got_release(&g);
	assert_int_equal(store_meta_get(st, "server_id", &v, NULL), VPN_OK);
	assert_string_equal(v, "abc");
	free(v);
	store_close(st);
}

static void
test_file_mode_and_schema(void **state)
{
	struct fx *f = *state;
	struct store *st = open_ok(f->uri);
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	char wal[PATH_MAX + 32];
	struct stat sb;

	assert_int_equal(stat(f->db, &sb), 0);
	assert_int_equal(sb.st_mode & 0077, 0);		/* the file holds secrets */
	put_sync(st, "/s", "S", "{\"psk\":\"x\"}", 1);
	snprintf(wal, sizeof(wal), "%s-wal", f->db);
	assert_int_equal(stat(wal, &sb), 0);
	assert_int_equal(sb.st_mode & 0077, 0);		/* so does its WAL */
	store_close(st);

	assert_int_equal(sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 2);
	sqlite3_finalize(q);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(q, 0), "wal");
	sqlite3_finalize(q);
	sqlite3_close(db);
}

/* A change set with a failing row is rolled back whole; its batch neighbours commit. */
static void
test_atomicity_in_batch(void **state)
{
	struct fx *f = *state;
	struct store_change a[] = {
		{ .op = STORE_PUT, .path = "/a/1", .kind = "A", .json = "{}", .json_len = 2 },
		{ .op = STORE_PUT, .path = "/a/2", .kind = "A", .json = "{}", .json_len = 2 },
	};
	struct store_change b[] = {
		{ .op = STORE_PUT, .path = "/b/1", .kind = "B", .json = "{}", .json_len = 2 },
		{ .op = STORE_PUT, .path = "/x", .kind = "X", .json = "{}", .json_len = 2,
		  .revision = 2 },
		{ .op = STORE_DEL, .path = "/y" },
		{ .op = STORE_PUT, .path = "/b/2", .kind = NULL, .json = "{}", .json_len = 2 },
	};
	struct store_change c[] = {
		{ .op = STORE_PUT, .path = "/c/1", .kind = "C", .json = "{}", .json_len = 2 },
		{ .op = STORE_DEL, .path = "/a/2" },
	};
	struct store_change d[] = {
		{ .op = STORE_PUT, .path = "/d/1", .kind = "D", .json = NULL, .json_len = 0 },
	};
	struct store *st = open_ok(f->uri);
	struct store_sqlite_stats s0, s1;
	const struct got_row *r;
	struct tracker t;
	struct got g;

	put_sync(st, "/x", "X", "{}", 1);
	put_sync(st, "/y", "Y", "{}", 1);
	s0 = stats(st);
	tracker_init(&t, 4);
	store_sqlite_pause(st, true);
	submit_async(st, &t, 0, a, 2);
	submit_async(st, &t, 1, b, 4);
	submit_async(st, &t, 2, c, 2);
	submit_async(st, &t, 3, d, 1);
	assert_int_equal(stats(st).queued, 4);
	store_sqlite_pause(st, false);
	tracker_wait(&t);
	s1 = stats(st);

	assert_int_equal(s1.transactions - s0.transactions, 1);	/* one batch */
	assert_int_equal(s1.change_sets - s0.change_sets, 4);
	assert_int_equal(s1.change_sets_failed - s0.change_sets_failed, 3);
	assert_int_equal(t.rc[0], VPN_OK);		/* before the failure: committed */
	assert_int_equal(t.rc[1], VPN_E_STORE);		/* the failure */
	assert_int_equal(t.rc[2], VPN_E_STORE);		/* after it: may depend on it */
	assert_int_equal(t.rc[3], VPN_E_STORE);
	tracker_release(&t);

	load_all(st, &g);
	assert_non_null(got_find(&g, "/a/1"));
	assert_non_null(got_find(&g, "/a/2"));		/* c's delete never ran */
	assert_null(got_find(&g, "/b/1"));		/* b rolled back ... */
	r = got_find(&g, "/x");
	assert_non_null(r);
	assert_int_equal(r->revision, 1);		/* ... including its update of /x */
	assert_non_null(got_find(&g, "/y"));		/* ... and its delete of /y */
	assert_null(got_find(&g, "/c/1"));
	assert_null(got_find(&g, "/d/1"));
	assert_int_equal(g.n, 4);
	got_release(&g);

	/* halted: a valid change set fails untouched until the owner resumes the store */
	assert_int_equal(store_submit_sync(st, c, 2, NULL), VPN_E_STORE);
	store_drain(st);
	store_resume(st);
	assert_int_equal(store_submit_sync(st, c, 2, NULL), VPN_OK);

	/* store_submit_sync reports the failure. */
	{
		struct vpn_error err;

		vpn_error_clear(&err);
		assert_int_equal(store_submit_sync(st, d, 1, &err), VPN_E_STORE);
		assert_int_equal(err.code, VPN_E_STORE);
		assert_non_null(strstr(err.msg, "not committed"));
	}
	store_close(st);
}

/* Many change sets to one path from one thread: applied in order, the last wins. */
static void
test_ordering(void **state)
{
	struct fx *f = *state;
	enum { N = 1000 };
	struct store *st = open_ok(f->uri);
	const struct got_row *r;
	struct tracker t;
	char json[64];
	struct got g;
	size_t i;

	tracker_init(&t, N);
	for (i = 0; i < N; i++) {
		struct store_change c = {
			.op = STORE_PUT, .path = "/same", .kind = "K", .json = json,
			.revision = (int64_t)i,
		};

		if (i == N / 2) {
			c.op = STORE_DEL;
		} else {
			snprintf(json, sizeof(json), "{\"i\":%zu}", i);
			c.json_len = strlen(json);
		}
		submit_async(st, &t, i, &c, 1);
		memset(json, 'X', sizeof(json) - 1);	/* the store copied it */
	}
	tracker_wait(&t);
	for (i = 0; i < N; i++) {
		assert_int_equal(t.order[i], i);	/* callbacks in submission order */
		assert_int_equal(t.rc[i], VPN_OK);
	}
	tracker_release(&t);
	load_all(st, &g);
	assert_int_equal(g.n, 1);
	r = got_find(&g, "/same");
	assert_non_null(r);
	assert_int_equal(r->revision, N - 1);
	snprintf(json, sizeof(json), "{\"i\":%d}", N - 1);
	assert_string_equal(r->json, json);
	got_release(&g);
	store_close(st);
}

/* Change sets queued while the writer is busy go into one transaction, capped per batch. */
static void
test_group_commit_batches(void **state)
{
	struct fx *f = *state;
	enum { N = 2000 };
	struct store *st = open_ok(f->uri);
	struct store_sqlite_stats s0, s1;
	struct tracker t;
	struct got g;
	char path[32];
	size_t i;

	s0 = stats(st);
	tracker_init(&t, N);
	store_sqlite_pause(st, true);
	for (i = 0; i < N; i++) {
		struct store_change c = {
			.op = STORE_PUT, .path = path, .kind = "K", .json = "{}", .json_len = 2,
		};

		snprintf(path, sizeof(path), "/p/%05zu", i);
		submit_async(st, &t, i, &c, 1);
	}
	store_sqlite_pause(st, false);
	tracker_wait(&t);
	s1 = stats(st);
	assert_int_equal(s1.change_sets - s0.change_sets, N);
	assert_int_equal(s1.transactions - s0.transactions, 2);	/* 1024 + 976 */
	assert_int_equal(s1.max_batch, STORE_SQLITE_BATCH_MAX);
	assert_int_equal(s1.change_sets_failed, 0);
	tracker_release(&t);
	load_all(st, &g);
	assert_int_equal(g.n, N);
	got_release(&g);
	store_close(st);
}

/*
 * Group commit without the test hook: another connection holds the write lock, so the writer
 * waits in BEGIN IMMEDIATE (busy_timeout) while the change sets queue up behind it.
 */
static void
test_group_commit_under_lock(void **state)
{
	struct fx *f = *state;
	enum { N = 1000 };
	struct store *st = open_ok(f->uri);
	struct store_sqlite_stats s0, s1;
	sqlite3 *other = NULL;
	struct tracker t;
	char path[32];
	size_t i;

	assert_int_equal(sqlite3_open(f->db, &other), SQLITE_OK);
	assert_int_equal(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
	s0 = stats(st);
	tracker_init(&t, N);
	for (i = 0; i < N; i++) {
		struct store_change c = {
			.op = STORE_PUT, .path = path, .kind = "K", .json = "{}", .json_len = 2,
		};

		snprintf(path, sizeof(path), "/q/%05zu", i);
		submit_async(st, &t, i, &c, 1);
	}
	usleep(50 * 1000);
	assert_int_equal(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(other);
	tracker_wait(&t);
	s1 = stats(st);
	for (i = 0; i < N; i++)
		assert_int_equal(t.rc[i], VPN_OK);
	tracker_release(&t);
	assert_int_equal(s1.change_sets - s0.change_sets, N);
	assert_true(s1.transactions - s0.transactions <= 3);
	print_message("    group commit under a held lock: %d change sets in %llu transactions\n",
		      N, (unsigned long long)(s1.transactions - s0.transactions));
	store_close(st);
}

struct bench_thread {
	struct store *st;
	size_t base, n;
	size_t bad_every;	/* every k-th change set carries a failing row; 0: none */
	size_t nfail;
};

static void *
bench_thread_main(void *arg)
{
	struct bench_thread *b = arg;
	char path[32];
	size_t i;

	for (i = 0; i < b->n; i++) {
		struct store_change c[2] = {
			{ .op = STORE_PUT, .path = path, .kind = "K", .json = "{}", .json_len = 2 },
			/* no kind: violates NOT NULL */
			{ .op = STORE_PUT, .path = "/bad", .json = "{}", .json_len = 2 },
		};
		size_t id = b->base + i;
		bool bad = b->bad_every && id % b->bad_every == 0;

		snprintf(path, sizeof(path), "/t/%06zu", id);
		if (store_submit_sync(b->st, c, bad ? 2 : 1, NULL) != VPN_OK)
			b->nfail++;
	}
	return NULL;
}

/* Sync submits from several threads: failing change sets fail alone; timing vs sequential. */
static void
test_concurrent_threads(void **state)
{
	struct fx *f = *state;
	/* no failing rows here: a failure halts the store (test_atomicity_in_batch covers it) */
	enum { N = 1000, NTHREADS = 8, BAD_EVERY = 0 };
	struct bench_thread bt[NTHREADS];
	pthread_t th[NTHREADS];
	struct store *st = open_ok(f->uri);
	struct store_sqlite_stats s0, s1;
	double t0, t_seq, t_thr, t_async;
	struct tracker t;
	size_t i, nfail = 0;
	char path[32];
	struct got g;

	/* 1000 durable submits, one after the other. */
	s0 = stats(st);
	t0 = now_s();
	for (i = 0; i < N; i++) {
		snprintf(path, sizeof(path), "/s/%06zu", i);
		put_sync(st, path, "K", "{}", 0);
	}
	t_seq = now_s() - t0;
	s1 = stats(st);
	print_message("    %d sequential sync submits: %.3f s, %llu transactions\n", N, t_seq,
		      (unsigned long long)(s1.transactions - s0.transactions));

	/* 1000 from 8 threads. */
	s0 = s1;
	t0 = now_s();
	for (i = 0; i < NTHREADS; i++) {
		bt[i] = (struct bench_thread){ .st = st, .base = i * (N / NTHREADS),
					       .n = N / NTHREADS, .bad_every = BAD_EVERY };
		assert_int_equal(pthread_create(&th[i], NULL, bench_thread_main, &bt[i]), 0);
	}
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(th[i], NULL);
		nfail += bt[i].nfail;
	}
	t_thr = now_s() - t0;
	s1 = stats(st);
	print_message("    %d sync submits from %d threads: %.3f s, %llu transactions"
		      " (max batch %llu)\n", N, NTHREADS, t_thr,
		      (unsigned long long)(s1.transactions - s0.transactions),
		      (unsigned long long)s1.max_batch);
	assert_int_equal(nfail, 0);
	assert_int_equal(s1.change_sets_failed - s0.change_sets_failed, 0);
	load_all(st, &g);
	assert_int_equal(g.n, N + N);
	assert_null(got_find(&g, "/bad"));
	assert_non_null(got_find(&g, "/t/000000"));
	assert_non_null(got_find(&g, "/t/000999"));
	got_release(&g);

	/* 1000 asynchronous submits from one thread, then wait for all. */
	s0 = stats(st);
	tracker_init(&t, N);
	t0 = now_s();
	for (i = 0; i < N; i++) {
		struct store_change c = {
			.op = STORE_PUT, .path = path, .kind = "K", .json = "{}", .json_len = 2,
		};

		snprintf(path, sizeof(path), "/u/%06zu", i);
		submit_async(st, &t, i, &c, 1);
	}
	tracker_wait(&t);
	t_async = now_s() - t0;
	s1 = stats(st);
	tracker_release(&t);
	print_message("    %d async submits, one thread: %.3f s, %llu transactions\n", N, t_async,
		      (unsigned long long)(s1.transactions - s0.transactions));
	store_close(st);
}

struct meta_cb_state {
	struct store *st;
	enum vpn_err meta_rc;
	bool ran;
};

static void
meta_from_cb(void *arg, enum vpn_err rc)
{
	struct meta_cb_state *m = arg;

	(void)rc;
	m->meta_rc = store_meta_set(m->st, "k", "v", NULL);
	m->ran = true;
}

static void
test_meta(void **state)
{
	struct fx *f = *state;
	struct store_change c = {
		.op = STORE_PUT, .path = "/m", .kind = "M", .json = "{}", .json_len = 2,
	};
	struct store *st = open_ok(f->uri);
	struct meta_cb_state m = { .st = st };
	struct vpn_error err;
	char *v = (char *)"sentinel";

	vpn_error_clear(&err);
	assert_int_equal(store_meta_get(st, "missing", &v, &err), VPN_E_NOT_FOUND);
	assert_null(v);
	assert_int_equal(err.code, VPN_E_NOT_FOUND);

	assert_int_equal(store_meta_set(st, "key1", "value1", NULL), VPN_OK);
	assert_int_equal(store_meta_get(st, "key1", &v, NULL), VPN_OK);
	assert_string_equal(v, "value1");
	free(v);
	assert_int_equal(store_meta_set(st, "key1", "", NULL), VPN_OK);
	assert_int_equal(store_meta_get(st, "key1", &v, NULL), VPN_OK);
	assert_string_equal(v, "");
	free(v);
	assert_int_equal(store_meta_set(st, NULL, "x", NULL), VPN_E_INVALID);

	/* meta_set is ordered after earlier submits: their callbacks have run when it returns. */
	assert_int_equal(store_submit(st, &c, 1, meta_from_cb, &m), VPN_OK);
	assert_int_equal(store_meta_set(st, "key2", "after", NULL), VPN_OK);
	assert_true(m.ran);
	assert_int_equal(m.meta_rc, VPN_E_INTERNAL);	/* refused on the writer thread */
	store_close(st);
}

static void
test_load_callback_stops(void **state)
{
	struct fx *f = *state;
	struct store *st = open_ok(f->uri);
	struct vpn_error err;
	struct got g;
	char path[16];
	int i;

	for (i = 0; i < 5; i++) {
		snprintf(path, sizeof(path), "/r/%d", i);
		put_sync(st, path, "R", "{}", i);
	}
	memset(&g, 0, sizeof(g));
	g.stop_after = 2;
	vpn_error_clear(&err);
	assert_int_equal(store_load(st, collect_cb, &g, &err), VPN_E_INTERNAL);
	assert_int_equal(g.n, 2);
	assert_int_equal(err.code, VPN_E_INTERNAL);
	got_release(&g);
	store_close(st);
}

static void
test_close_drains(void **state)
{
	struct fx *f = *state;
	enum { N = 100 };
	struct store *st = open_ok(f->uri);
	struct tracker t;
	char path[32];
	struct got g;
	size_t i;

	tracker_init(&t, N);
	store_sqlite_pause(st, true);
	for (i = 0; i < N; i++) {
		struct store_change c = {
			.op = STORE_PUT, .path = path, .kind = "K", .json = "{}", .json_len = 2,
		};

		snprintf(path, sizeof(path), "/d/%03zu", i);
		submit_async(st, &t, i, &c, 1);
	}
	store_close(st);	/* paused, but close drains */
	assert_int_equal(t.ndone, N);
	for (i = 0; i < N; i++)
		assert_int_equal(t.rc[i], VPN_OK);
	tracker_release(&t);

	st = open_ok(f->uri);
	load_all(st, &g);
	assert_int_equal(g.n, N);
	got_release(&g);
	store_close(st);
	store_close(NULL);
}

static void
test_bad_uris(void **state)
{
	struct store dummy = { .ops = NULL };
	struct store *st = &dummy;	/* store_open must reset it */
	struct vpn_error err;

	(void)state;
	vpn_error_clear(&err);
	assert_int_equal(store_open(&st, "postgresql://vpnd:hunter2@db/vpnd", &err),
			 VPN_E_UNSUPPORTED);
	assert_null(st);
	assert_non_null(strstr(err.msg, "\"postgresql\""));
	assert_null(strstr(err.msg, "hunter2"));

	vpn_error_clear(&err);
	assert_int_equal(store_open(&st, "/var/lib/vpnd.db", &err), VPN_E_UNSUPPORTED);
	assert_null(st);
	assert_int_equal(store_open(&st, NULL, &err), VPN_E_INVALID);
	assert_int_equal(store_open(&st, "sqlite:", &err), VPN_E_INVALID);
	assert_int_equal(store_open(&st, "sqlite://", &err), VPN_E_INVALID);
	assert_int_equal(store_open(&st, "sqlite::memory:", &err), VPN_E_INVALID);
	assert_null(st);

	vpn_error_clear(&err);
	assert_int_equal(store_open(&st, "sqlite:///nonexistent-dir-vpnd/x.db", &err), VPN_E_STORE);
	assert_null(st);
	assert_non_null(strstr(err.msg, "/nonexistent-dir-vpnd/x.db"));
}

static void
test_uri_forms(void **state)
{
	struct fx *f = *state;
	char cwd[PATH_MAX], uri[PATH_MAX + 32], p[PATH_MAX + 32];
	struct store *st;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(f->dir), 0);
	st = open_ok("sqlite:rel1.db");
	store_close(st);
	st = open_ok("SQLite://rel2.db");
	store_close(st);
	assert_int_equal(chdir(cwd), 0);
	snprintf(p, sizeof(p), "%s/rel1.db", f->dir);
	assert_int_equal(access(p, F_OK), 0);
	rm_db(p);
	snprintf(p, sizeof(p), "%s/rel2.db", f->dir);
	assert_int_equal(access(p, F_OK), 0);
	rm_db(p);

	snprintf(uri, sizeof(uri), "sqlite://%s/abs.db", f->dir);	/* "sqlite://" "/abs" */
	assert_int_equal(uri[9], '/');
	st = open_ok(uri);
	store_close(st);
	snprintf(p, sizeof(p), "%s/abs.db", f->dir);
	assert_int_equal(access(p, F_OK), 0);
	rm_db(p);
}

static void
make_raw_db(const char *path, const char *sql)
{
	sqlite3 *db = NULL;

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
}

static void
test_newer_version_refused(void **state)
{
	struct fx *f = *state;
	struct store *st = NULL;
	struct vpn_error err;
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;

	make_raw_db(f->db, "CREATE TABLE objects(path TEXT PRIMARY KEY, kind TEXT NOT NULL,"
		    " revision INTEGER NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;"
		    "PRAGMA user_version = 3;");
	vpn_error_clear(&err);
	assert_int_equal(store_open(&st, f->uri, &err), VPN_E_STORE);
	assert_null(st);
	assert_non_null(strstr(err.msg, "schema version 3"));
	assert_non_null(strstr(err.msg, "newer"));

	/* Untouched. */
	assert_int_equal(sqlite3_open(f->db, &db), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &q, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 3);
	sqlite3_finalize(q);
	sqlite3_close(db);
}

static void
test_foreign_db_refused(void **state)
{
	struct fx *f = *state;
	struct store *st = NULL;
	struct vpn_error err;

	make_raw_db(f->db, "CREATE TABLE something_else(x);");
	vpn_error_clear(&err);
	assert_int_equal(store_open(&st, f->uri, &err), VPN_E_STORE);
	assert_null(st);
	assert_non_null(strstr(err.msg, "not a vpnd database"));

	rm_db(f->db);
	make_raw_db(f->db, "PRAGMA application_id = 1234;");
	assert_int_equal(store_open(&st, f->uri, &err), VPN_E_STORE);
	assert_null(st);

	rm_db(f->db);
	make_raw_db(f->db, "CREATE TABLE t(x); INSERT INTO t VALUES (1);");
	{
		/* Not even SQLite. */
		FILE *fp = fopen(f->db, "wb");

		assert_non_null(fp);
		fputs("this is not a database file, just some text that is long enough......", fp);
		fclose(fp);
	}
	vpn_error_clear(&err);
	assert_int_equal(store_open(&st, f->uri, &err), VPN_E_STORE);
	assert_null(st);
	assert_non_null(strstr(err.msg, "not a database"));
}

/* ---- a failed COMMIT (disk full) fails the whole batch; the store recovers ---- */

/* Runs in a child (it changes process limits). Returns the first failed check's line, or 0. */
static int
disk_full_child(const char *uri)
{
	struct store_change c[3] = {
		{ .op = STORE_PUT, .path = "/f/1", .kind = "F", .json = "{}", .json_len = 2 },
		{ .op = STORE_PUT, .path = "/f/2", .kind = "F", .json = "{}", .json_len = 2 },
		{ .op = STORE_PUT, .path = "/f/3", .kind = "F", .json = "{}", .json_len = 2 },
	};
	struct store_sqlite_stats s0, s1;
	struct rlimit old, zero = { 0, 0 };
	struct store *st = NULL;
	struct tracker t;
	struct got g;
	size_t i;
	int bad = 0;

#define CHECK(cond) do { if (!(cond) && !bad) bad = __LINE__; } while (0)
	signal(SIGXFSZ, SIG_IGN);
	if (store_open(&st, uri, NULL) != VPN_OK || getrlimit(RLIMIT_FSIZE, &old))
		return __LINE__;
	zero.rlim_max = old.rlim_max;
	c[0].path = "/f/0";
	CHECK(store_submit_sync(st, &c[0], 1, NULL) == VPN_OK);
	c[0].path = "/f/1";
	store_sqlite_stats(st, &s0);
	tracker_init(&t, 3);
	store_sqlite_pause(st, true);
	for (i = 0; i < 3; i++)
		CHECK(store_submit(st, &c[i], 1, tracker_cb, &t.slots[i]) == VPN_OK);
	CHECK(setrlimit(RLIMIT_FSIZE, &zero) == 0);	/* every file write now fails */
	store_sqlite_pause(st, false);
	tracker_wait(&t);
	CHECK(setrlimit(RLIMIT_FSIZE, &old) == 0);
	store_sqlite_stats(st, &s1);
	for (i = 0; i < 3; i++)
		CHECK(t.rc[i] == VPN_E_STORE);
	CHECK(s1.transactions - s0.transactions == 1);
	CHECK(s1.transactions_failed - s0.transactions_failed == 1);
	CHECK(s1.change_sets_failed - s0.change_sets_failed == 3);
	tracker_release(&t);

	/* Halted until resumed; then the next transaction works again. */
	CHECK(store_submit_sync(st, &c[2], 1, NULL) == VPN_E_STORE);
	store_resume(st);
	CHECK(store_submit_sync(st, &c[2], 1, NULL) == VPN_OK);
	memset(&g, 0, sizeof(g));
	CHECK(store_load(st, collect_cb, &g, NULL) == VPN_OK);
	CHECK(g.n == 2);
	CHECK(g.n == 2 && !strcmp(g.rows[0].path, "/f/0") && !strcmp(g.rows[1].path, "/f/3"));
	got_release(&g);
	store_close(st);
#undef CHECK
	return bad;
}

static void
test_commit_failure_fails_batch(void **state)
{
	struct fx *f = *state;
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int line = disk_full_child(f->uri);

		if (line)
			fprintf(stderr, "disk-full child: check at line %d failed\n", line);
		_exit(line ? 1 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("disk-full child failed (status 0x%x)", status);
}

/* ---- durability across SIGKILL ---- */

enum { KILL_N = 50 };

struct kill_child {
	int fd;
};

static void
kill_child_cb(void *arg, enum vpn_err rc)
{
	struct kill_child *k = arg;
	char c = rc == VPN_OK ? 'D' : 'F';

	if (write(k->fd, &c, 1) != 1)
		_exit(3);
	for (;;)
		pause();	/* wait, on the writer thread, for SIGKILL */
}

static void
kill_child_main(const char *uri, int fd)
{
	struct kill_child k = { .fd = fd };
	struct store *st = NULL;
	char path[32];
	int i;

	if (store_open(&st, uri, NULL) != VPN_OK)
		_exit(1);
	for (i = 0; i < KILL_N; i++) {
		char json[64];
		struct store_change c = {
			.op = STORE_PUT, .path = path, .kind = "K", .json = json,
			.revision = i,
		};

		snprintf(path, sizeof(path), "/k/%03d", i);
		snprintf(json, sizeof(json), "{\"psk\":\"s%d\"}", i);
		c.json_len = strlen(json);
		if (store_submit(st, &c, 1, i == KILL_N - 1 ? kill_child_cb : NULL, &k) != VPN_OK)
			_exit(2);
	}
	for (;;)
		pause();
}

static void
test_durable_across_sigkill(void **state)
{
	struct fx *f = *state;
	const struct got_row *r;
	struct store *st;
	int fds[2], status;
	struct got g;
	pid_t pid;
	char c = 0;
	int i;

	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(fds[0]);
		kill_child_main(f->uri, fds[1]);
		_exit(4);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &c, 1), 1);
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	close(fds[0]);
	assert_int_equal(c, 'D');
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

	st = open_ok(f->uri);
	load_all(st, &g);
	assert_int_equal(g.n, KILL_N);
	for (i = 0; i < KILL_N; i++) {
		char path[32];

		snprintf(path, sizeof(path), "/k/%03d", i);
		r = got_find(&g, path);
		assert_non_null(r);
		assert_int_equal(r->revision, i);
	}
	got_release(&g);
	store_close(st);
}

/* ---- tokens and audit (schema version 2) ---- */

struct tok_seen {
	int n;
	char names[8][32];
	char roles[8][16];
	int64_t last_used[8];
};

static enum vpn_err
tok_cb(void *arg, const struct store_token *t)
{
	struct tok_seen *ts = arg;

	if (ts->n < 8) {
		snprintf(ts->names[ts->n], sizeof(ts->names[0]), "%s", t->name);
		snprintf(ts->roles[ts->n], sizeof(ts->roles[0]), "%s", t->role);
		ts->last_used[ts->n] = t->last_used_ms;
	}
	ts->n++;
	return VPN_OK;
}

static void
test_tokens(void **state)
{
	struct fx *f = *state;
	struct store *st = open_ok(f->uri), *other;
	struct store_token a = { "alice", "id-a", "admin", "aa", 1000, 0 };
	struct store_token b = { "bob", "id-b", "auditor", "bb", 2000, 0 };
	struct store_token dup = { "alice", "id-c", "auditor", "cc", 3000, 0 };
	struct tok_seen ts = { 0 };
	struct vpn_error err;

	vpn_error_clear(&err);
	assert_int_equal(store_token_add(st, &a, &err), VPN_OK);
	assert_int_equal(store_token_add(st, &b, &err), VPN_OK);
	assert_int_equal(store_token_add(st, &dup, &err), VPN_E_CONFLICT);
	assert_non_null(strstr(err.msg, "alice"));
	assert_int_equal(store_token_touch(st, "id-b", 4242, NULL), VPN_OK);
	assert_int_equal(store_token_touch(st, "id-gone", 1, NULL), VPN_OK);
	assert_int_equal(store_token_list(st, tok_cb, &ts, NULL), VPN_OK);
	assert_int_equal(ts.n, 2);
	assert_string_equal(ts.names[0], "alice");
	assert_string_equal(ts.roles[1], "auditor");
	assert_int_equal(ts.last_used[1], 4242);
	vpn_error_clear(&err);
	assert_int_equal(store_token_del(st, "nobody", &err), VPN_E_NOT_FOUND);
	assert_int_equal(store_token_del(st, "alice", NULL), VPN_OK);
	store_close(st);

	/* durable, and visible to another opener */
	other = open_ok(f->uri);
	memset(&ts, 0, sizeof(ts));
	assert_int_equal(store_token_list(other, tok_cb, &ts, NULL), VPN_OK);
	assert_int_equal(ts.n, 1);
	assert_string_equal(ts.names[0], "bob");
	store_close(other);
}

static void
test_data_version_sees_other_writers(void **state)
{
	struct fx *f = *state;
	struct store *st = open_ok(f->uri), *cli = open_ok(f->uri);
	struct store_token t = { "carol", "id-c", "admin", "cc", 1, 0 };
	struct store_token t2 = { "erin", "id-e", "admin", "ee", 1, 0 };
	struct store_sqlite_stats s0, s1;
	uint64_t v0, v1, v2;

	assert_int_equal(store_data_version(st, &v0), VPN_OK);
	assert_int_equal(store_data_version(st, &v1), VPN_OK);
	assert_true(v0 == v1);			/* nothing happened */
	/* another connection (as `vpnd token` would be) commits */
	assert_int_equal(store_token_add(cli, &t, NULL), VPN_OK);
	assert_int_equal(store_data_version(st, &v2), VPN_OK);
	assert_true(v2 != v1);
	/*
	 * Our own writer's commits cannot change the tokens: they keep the answer, and the next
	 * call stays on the fast path (no PRAGMA, so no token-table reload after every write).
	 */
	assert_true(store_sqlite_stats(st, &s0));
	put_sync(st, "/x", "K", "{}", 0);
	put_sync(st, "/x", "K", "{\"a\":1}", 1);
	assert_int_equal(store_data_version(st, &v1), VPN_OK);
	assert_true(v1 == v2);
	assert_true(store_sqlite_stats(st, &s1));
	assert_true(s1.dv_queries == s0.dv_queries);
	assert_true(s1.dv_restamps == s0.dv_restamps + 2);
	/* a foreign commit before one of ours, with no data_version call between: still seen */
	assert_int_equal(store_token_add(cli, &t2, NULL), VPN_OK);
	put_sync(st, "/x", "K", "{\"a\":2}", 2);
	assert_int_equal(store_data_version(st, &v2), VPN_OK);
	assert_true(v2 != v1);
	/* and one after ours */
	put_sync(st, "/x", "K", "{\"a\":3}", 3);
	assert_int_equal(store_data_version(st, &v1), VPN_OK);
	assert_true(v1 == v2);
	assert_int_equal(store_token_del(cli, "erin", NULL), VPN_OK);
	assert_int_equal(store_data_version(st, &v1), VPN_OK);
	assert_true(v1 != v2);
	store_close(cli);
	store_close(st);
}

/*
 * data_version skips the PRAGMA while the WAL-index header shows no commit, and still sees a
 * token revoked by another process (`vpnd token revoke` while the daemon runs) at once.
 */
static void
test_data_version_fast_path_sees_other_process(void **state)
{
	struct fx *f = *state;
	struct store *st = open_ok(f->uri);
	struct store_token t = { "dave", "id-d", "admin", "dd", 1, 0 };
	struct store_sqlite_stats s0, s1;
	uint64_t v0, v1;
	pid_t pid;
	int i, status;

	assert_int_equal(store_token_add(st, &t, NULL), VPN_OK);
	assert_int_equal(store_data_version(st, &v0), VPN_OK);
	assert_true(store_sqlite_stats(st, &s0));
	for (i = 0; i < 100; i++) {
		assert_int_equal(store_data_version(st, &v1), VPN_OK);
		assert_true(v1 == v0);
	}
	assert_true(store_sqlite_stats(st, &s1));
	assert_true(s1.dv_queries == s0.dv_queries);	/* no commit: never asked SQLite */
	/* a fresh process (exec: SQLite's lock state must not be inherited through fork) */
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execlp("sqlite3", "sqlite3", "-cmd", ".timeout 5000", f->db,
		       "DELETE FROM tokens WHERE name = 'dave'", (char *)NULL);
		_exit(127);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	/* the very next call notices, and the token is gone */
	assert_int_equal(store_data_version(st, &v1), VPN_OK);
	assert_true(v1 != v0);
	assert_true(store_sqlite_stats(st, &s1));
	assert_true(s1.dv_queries == s0.dv_queries + 1);
	assert_int_equal(store_data_version(st, &v0), VPN_OK);
	assert_true(v0 == v1);
	store_close(st);
}

/*
 * Mapping -shm for data_version must not drop SQLite's "in use" lock on it (closing any
 * descriptor of a file drops all of the process's POSIX locks on it): without that lock, the
 * next process to open the database (`vpnd token ...`) truncates -shm under our connections
 * and our next commit dies of SIGBUS. The lock is the DMS byte, offset 128 of -shm.
 */
static void
test_shm_lock_kept_while_open(void **state)
{
	struct fx *f = *state;
	struct store *st = open_ok(f->uri);
	char shm[PATH_MAX + 32];
	int status;
	pid_t pid;

	snprintf(shm, sizeof(shm), "%s-shm", f->db);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 128,
				    .l_len = 1 };
		int fd = open(shm, O_RDWR);

		if (fd < 0 || fcntl(fd, F_GETLK, &fl) != 0)
			_exit(2);
		_exit(fl.l_type == F_UNLCK ? 1 : 0);	/* 0: the parent still holds it */
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	put_sync(st, "/y", "K", "{}", 0);
	store_close(st);
}

struct audit_seen {
	int n;
	int64_t last_id;
	char first[64];
};

static enum vpn_err
audit_cb(void *arg, const struct store_audit *a)
{
	struct audit_seen *as = arg;

	if (!as->n)
		snprintf(as->first, sizeof(as->first), "%.*s", (int)a->len, a->record);
	as->n++;
	as->last_id = a->id;
	return VPN_OK;
}

static void
test_audit_atomic_with_change_set(void **state)
{
	struct fx *f = *state;
	struct store *st = open_ok(f->uri);
	struct store_change ok[2] = {
		{ .op = STORE_PUT, .path = "/a", .kind = "K", .json = "{}", .json_len = 2 },
		{ .op = STORE_AUDIT, .json = "{\"n\":1}", .json_len = 7, .revision = 10 },
	};
	/* a failing row (NULL kind) takes its audit record down with it */
	struct store_change bad[2] = {
		{ .op = STORE_AUDIT, .json = "{\"n\":2}", .json_len = 7, .revision = 11 },
		{ .op = STORE_PUT, .path = "/b", .kind = NULL, .json = "{}", .json_len = 2 },
	};
	struct store_change only[1] = {
		{ .op = STORE_AUDIT, .json = "{\"n\":3}", .json_len = 7, .revision = 12 },
	};
	struct audit_seen as = { 0 };

	assert_int_equal(store_submit_sync(st, ok, 2, NULL), VPN_OK);
	assert_int_equal(store_submit_sync(st, bad, 2, NULL), VPN_E_STORE);
	store_resume(st);
	assert_int_equal(store_submit_sync(st, only, 1, NULL), VPN_OK);
	assert_int_equal(store_audit_list(st, 0, 100, audit_cb, &as, NULL), VPN_OK);
	assert_int_equal(as.n, 2);
	assert_string_equal(as.first, "{\"n\":1}");
	memset(&as, 0, sizeof(as));
	assert_int_equal(store_audit_list(st, 1, 100, audit_cb, &as, NULL), VPN_OK);
	assert_int_equal(as.n, 1);
	assert_string_equal(as.first, "{\"n\":3}");
	memset(&as, 0, sizeof(as));
	assert_int_equal(store_audit_list(st, 0, 1, audit_cb, &as, NULL), VPN_OK);
	assert_int_equal(as.n, 1);
	store_close(st);
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(test_put_load),
		T(test_delete),
		T(test_reopen_keeps_data),
		T(test_file_mode_and_schema),
		T(test_atomicity_in_batch),
		T(test_ordering),
		T(test_group_commit_batches),
		T(test_group_commit_under_lock),
		T(test_concurrent_threads),
		T(test_meta),
		T(test_load_callback_stops),
		T(test_close_drains),
		cmocka_unit_test(test_bad_uris),
		T(test_uri_forms),
		T(test_newer_version_refused),
		T(test_foreign_db_refused),
		T(test_commit_failure_fails_batch),
		T(test_durable_across_sigkill),
		T(test_tokens),
		T(test_data_version_sees_other_writers),
		T(test_data_version_fast_path_sees_other_process),
		T(test_shm_lock_kept_while_open),
		T(test_audit_atomic_with_change_set),
	};
#undef T

	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
