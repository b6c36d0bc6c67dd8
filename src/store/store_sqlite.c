/*
 * store_sqlite.c - the SQLite backend of store.h (docs/store.md).
 *
 * Two connections to one WAL database:
 *  - the write connection belongs to the writer thread (after open()). It applies queued change
 *    sets in batches, one transaction per batch (group commit), one SAVEPOINT per change set.
 *  - the read connection (serialized mode) serves load() and meta_get() from any thread.
 * The queue is a singly linked list of jobs under s->mu; a job is one change set (or one
 * meta_set), deep-copied into a single allocation at submit time.
 *
 * Rows may hold secrets: no message or log line here carries a path, kind, body or meta value
 * (meta keys are named; they are fixed identifiers, not data).
 */
#include "store/store_sqlite.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/util.h"

#define STORE_BUSY_MS 5000
#define SHM_MAP_LEN 4096		/* of the -shm file mapped for data_version (its header) */
#define VPND_APPLICATION_ID 0x76706e64	/* "vpnd" */

/*
 * Schema migrations: migrations[i] takes user_version i to i + 1, inside the open() transaction.
 * Append only; never edit a released step.
 */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE objects(path TEXT PRIMARY KEY, kind TEXT NOT NULL,"
	" revision INTEGER NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);",
	/* 1 -> 2: refresh tokens (hashes only) and the audit log */
	"CREATE TABLE tokens(name TEXT PRIMARY KEY, id TEXT NOT NULL UNIQUE, role TEXT NOT NULL,"
	" hash TEXT NOT NULL, created_ms INTEGER NOT NULL, last_used_ms INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE audit(id INTEGER PRIMARY KEY AUTOINCREMENT, time_ms INTEGER NOT NULL,"
	" record TEXT NOT NULL);",
};

#define SCHEMA_VERSION ((int64_t)(sizeof(migrations) / sizeof(migrations[0])))

/* Writer statements, prepared once. */
enum stmt_id {
	S_BEGIN,
	S_COMMIT,
	S_ROLLBACK,
	S_SAVEPOINT,
	S_RELEASE,
	S_ROLLBACK_TO,
	S_PUT,
	S_DEL,
	S_META,
	S_AUDIT,
	S__N
};

static const char *const stmt_sql[S__N] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT cs",
	[S_RELEASE] = "RELEASE cs",
	[S_ROLLBACK_TO] = "ROLLBACK TO cs",
	[S_PUT] = ("INSERT OR REPLACE INTO objects(path, kind, revision, body)"
		   " VALUES (?1, ?2, ?3, ?4)"),
	[S_DEL] = "DELETE FROM objects WHERE path = ?1",
	[S_META] = "INSERT OR REPLACE INTO meta(key, value) VALUES (?1, ?2)",
	[S_AUDIT] = "INSERT INTO audit(time_ms, record) VALUES (?1, ?2)",
};

/* A queued row. ROW_PUT/DEL/AUDIT mirror enum store_op; ROW_META is a meta_set (path = key). */
enum row_op { ROW_PUT = STORE_PUT, ROW_DEL = STORE_DEL, ROW_AUDIT = STORE_AUDIT, ROW_META = 4 };

struct row {
	enum row_op op;
	const char *path;
	const char *kind;
	const char *body;
	size_t body_len;
	int64_t revision;
};

/* One change set; the strings live in the same allocation, after rows[]. */
struct job {
	struct job *next;
	size_t size;			/* of the allocation, for wiping */
	uint64_t seq;			/* submission number, for logs */
	store_done_cb done;
	void *arg;
	enum vpn_err rc;
	size_t n;
	struct row rows[];
};

struct sqlite_store {
	struct store base;		/* first: &s->base is the struct store * */
	char *path;
	sqlite3 *wdb;			/* writer thread only, once it runs */
	sqlite3 *rdb;			/* serialized mode, any thread */
	sqlite3 *adb;			/* serialized, writable: tokens, audit reads, data_version */
	_Atomic uint64_t token_writes;	/* our own token changes, which data_version misses */
	sqlite3_stmt *dv_stmt;		/* PRAGMA data_version on adb, prepared once */
	const volatile uint32_t *shm;	/* the WAL-index header (read-only map of -shm), or NULL */
	int shm_fd;			/* -shm, open while the connections are (see shm_map) */
	_Atomic uint64_t dv_stamp;	/* WAL-index change stamp when dv_value was read */
	_Atomic uint64_t dv_value;	/* PRAGMA data_version as of dv_stamp */
	_Atomic uint64_t dv_queries;	/* slow-path data_version calls, for stats */
	_Atomic uint64_t dv_restamps;	/* own commits that kept the fast path (dv_own_commit) */
	sqlite3_stmt *stmt[S__N];	/* on wdb */
	char emsg[256];			/* writer's last SQLite error text */

	pthread_mutex_t mu;		/* guards everything below */
	pthread_cond_t cv;		/* writer waits here for work */
	bool sync_ok;			/* mu and cv initialised */
	pthread_t writer;
	bool writer_running;
	struct job *head, **tailp;
	uint64_t qlen;
	uint64_t next_seq;
	bool stopping;
	bool paused;
	bool halted;			/* a change set failed: fail all until store_resume() */
	bool busy;			/* the writer holds a batch (applying or calling back) */
	pthread_cond_t idle_cv;		/* signalled when the queue is empty and !busy */
	struct store_sqlite_stats stats;
};

/* On a writer thread, the store it serves: lets meta_set() and close() refuse to deadlock. */
static _Thread_local struct sqlite_store *writer_of;

static struct sqlite_store *
to_sqlite(struct store *st)
{
	return (struct sqlite_store *)st;
}

static void
job_free(struct job *j)
{
	if (!j)
		return;
	explicit_bzero(j, j->size);	/* bodies hold secrets */
	free(j);
}

/* Add the bytes of an optional string (plus NUL) to *total; false on overflow. */
static bool
size_add(size_t *total, const char *s, size_t len)
{
	if (!s)
		return true;
	if (len >= SIZE_MAX - *total)
		return false;
	*total += len + 1;
	return true;
}

static const char *
copy_str(char **cur, const char *src, size_t len)
{
	char *d;

	if (!src)
		return NULL;
	d = *cur;
	memcpy(d, src, len);
	d[len] = '\0';
	*cur += len + 1;
	return d;
}

/* Allocate a job for @n rows plus @strbytes of string space; *strs points at that space. */
static struct job *
job_alloc(size_t n, size_t strbytes, char **strs)
{
	size_t head, size;
	struct job *j;

	if (n > (SIZE_MAX - sizeof(struct job)) / sizeof(struct row))
		return NULL;
	head = sizeof(struct job) + n * sizeof(struct row);
	if (strbytes > SIZE_MAX - head)
		return NULL;
	size = head + strbytes;
	j = calloc(1, size);
	if (!j)
		return NULL;
	j->size = size;
	j->n = n;
	*strs = (char *)j + head;
	return j;
}

/* Deep copy of a change set. NULL strings stay NULL (SQLite's NOT NULL then rejects the row). */
static struct job *
job_from_changes(const struct store_change *ch, size_t n)
{
	size_t i, strbytes = 0;
	struct job *j;
	char *cur;

	for (i = 0; i < n; i++) {
		const struct store_change *c = &ch[i];

		if (!size_add(&strbytes, c->path, c->path ? strlen(c->path) : 0))
			return NULL;
		if (c->op == STORE_AUDIT && !size_add(&strbytes, c->json, c->json_len))
			return NULL;
		if (c->op != STORE_PUT)
			continue;
		if (!size_add(&strbytes, c->kind, c->kind ? strlen(c->kind) : 0) ||
		    !size_add(&strbytes, c->json, c->json_len))
			return NULL;
	}
	j = job_alloc(n, strbytes, &cur);
	if (!j)
		return NULL;
	for (i = 0; i < n; i++) {
		const struct store_change *c = &ch[i];
		struct row *r = &j->rows[i];

		r->op = (enum row_op)c->op;
		r->path = copy_str(&cur, c->path, c->path ? strlen(c->path) : 0);
		if (c->op == STORE_AUDIT) {
			r->body = copy_str(&cur, c->json, c->json_len);
			r->body_len = c->json ? c->json_len : 0;
			r->revision = c->revision;
		}
		if (c->op != STORE_PUT)
			continue;
		r->kind = copy_str(&cur, c->kind, c->kind ? strlen(c->kind) : 0);
		r->body = copy_str(&cur, c->json, c->json_len);
		r->body_len = c->json ? c->json_len : 0;
		r->revision = c->revision;
	}
	return j;
}

static struct job *
job_from_meta(const char *key, const char *value)
{
	size_t klen = strlen(key), vlen = strlen(value), strbytes = 0;
	struct job *j;
	char *cur;

	if (!size_add(&strbytes, key, klen) || !size_add(&strbytes, value, vlen))
		return NULL;
	j = job_alloc(1, strbytes, &cur);
	if (!j)
		return NULL;
	j->rows[0].op = ROW_META;
	j->rows[0].path = copy_str(&cur, key, klen);
	j->rows[0].body = copy_str(&cur, value, vlen);
	j->rows[0].body_len = vlen;
	return j;
}

/* Queue @j (taking ownership) and wake the writer. */
static enum vpn_err
enqueue(struct sqlite_store *s, struct job *j)
{
	pthread_mutex_lock(&s->mu);
	if (s->stopping) {
		pthread_mutex_unlock(&s->mu);
		log_warn("store: change set submitted while the store is closing; refused");
		job_free(j);
		return VPN_E_STORE;
	}
	j->seq = ++s->next_seq;
	*s->tailp = j;
	s->tailp = &j->next;
	s->qlen++;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
	return VPN_OK;
}

/* ---- writer ---- */

/* Step writer statement @id once (expecting no row), reset it, clear its bindings. */
static int
wrun(struct sqlite_store *s, enum stmt_id id)
{
	sqlite3_stmt *q = s->stmt[id];
	int rc;

	rc = sqlite3_step(q);
	if (rc == SQLITE_DONE || rc == SQLITE_ROW)
		rc = SQLITE_OK;
	else
		snprintf(s->emsg, sizeof(s->emsg), "%s", sqlite3_errmsg(s->wdb));
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	return rc;
}

static const char *
row_op_name(enum row_op op)
{
	switch (op) {
	case ROW_PUT:
		return "put";
	case ROW_DEL:
		return "delete";
	case ROW_META:
		return "meta_set";
	case ROW_AUDIT:
		return "audit";
	}
	return "?";
}

static int
apply_row(struct sqlite_store *s, const struct row *r)
{
	enum stmt_id id;
	sqlite3_stmt *q;
	int rc;

	switch (r->op) {
	case ROW_PUT:
		id = S_PUT;
		q = s->stmt[id];
		rc = sqlite3_bind_text(q, 1, r->path, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text(q, 2, r->kind, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_int64(q, 3, r->revision);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text64(q, 4, r->body, r->body_len, SQLITE_STATIC,
						 SQLITE_UTF8);
		break;
	case ROW_DEL:
		id = S_DEL;
		q = s->stmt[id];
		rc = sqlite3_bind_text(q, 1, r->path, -1, SQLITE_STATIC);
		break;
	case ROW_META:
		id = S_META;
		q = s->stmt[id];
		rc = sqlite3_bind_text(q, 1, r->path, -1, SQLITE_STATIC);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text64(q, 2, r->body, r->body_len, SQLITE_STATIC,
						 SQLITE_UTF8);
		break;
	case ROW_AUDIT:
		id = S_AUDIT;
		q = s->stmt[id];
		rc = sqlite3_bind_int64(q, 1, r->revision);
		if (rc == SQLITE_OK)
			rc = sqlite3_bind_text64(q, 2, r->body, r->body_len, SQLITE_STATIC,
						 SQLITE_UTF8);
		break;
	default:
		snprintf(s->emsg, sizeof(s->emsg), "unknown operation %d", (int)r->op);
		return SQLITE_MISUSE;
	}
	if (rc != SQLITE_OK) {
		snprintf(s->emsg, sizeof(s->emsg), "%s", sqlite3_errmsg(s->wdb));
		sqlite3_reset(q);
		sqlite3_clear_bindings(q);
		return rc;
	}
	return wrun(s, id);
}

/*
 * Apply one change set inside the batch transaction, under its own savepoint. On a row error the
 * savepoint is rolled back and only this change set fails. Returns false when the batch
 * transaction itself is lost (SQLite rolled it back, or the savepoint could not be undone).
 */
static bool
apply_job(struct sqlite_store *s, struct job *j)
{
	size_t i;

	if (wrun(s, S_SAVEPOINT) != SQLITE_OK) {
		log_error("store: change set %" PRIu64 ": SAVEPOINT failed: %s", j->seq, s->emsg);
		j->rc = VPN_E_STORE;
		return !sqlite3_get_autocommit(s->wdb);
	}
	for (i = 0; i < j->n; i++) {
		if (apply_row(s, &j->rows[i]) != SQLITE_OK) {
			log_warn("store: change set %" PRIu64 ": %s of row %zu of %zu failed: %s;"
				 " change set rolled back", j->seq, row_op_name(j->rows[i].op), i,
				 j->n, s->emsg);
			j->rc = VPN_E_STORE;
			break;
		}
	}
	if (sqlite3_get_autocommit(s->wdb)) {
		log_error("store: change set %" PRIu64 ": SQLite rolled back the whole transaction",
			  j->seq);
		return false;
	}
	if (j->rc && wrun(s, S_ROLLBACK_TO) != SQLITE_OK) {
		log_error("store: change set %" PRIu64 ": ROLLBACK TO failed: %s", j->seq, s->emsg);
		return false;
	}
	if (wrun(s, S_RELEASE) != SQLITE_OK) {
		log_error("store: change set %" PRIu64 ": RELEASE failed: %s", j->seq, s->emsg);
		return false;
	}
	return true;
}

static uint64_t shm_stamp(const struct sqlite_store *s);
static void dv_own_commit(struct sqlite_store *s, uint64_t before);

/* Apply the batch @first..NULL (@n jobs) as one transaction; sets every job's rc. */
static bool
apply_batch(struct sqlite_store *s, struct job *first, size_t n)
{
	struct job *j;
	uint64_t before = 0;
	bool ok = true;

	if (wrun(s, S_BEGIN) != SQLITE_OK) {
		log_error("store: BEGIN IMMEDIATE failed: %s; %zu change sets failed", s->emsg, n);
		ok = false;
	} else {
		before = shm_stamp(s);	/* we hold the write lock: nobody else commits now */
	}
	for (j = first; ok && j; j = j->next) {
		ok = apply_job(s, j);
		if (ok && j->rc) {
			/* later change sets may depend on this one (the model applied them in
			 * order): fail them too, commit the ones before */
			struct job *k;

			for (k = j->next; k; k = k->next)
				k->rc = VPN_E_STORE;
			break;
		}
	}
	if (ok && wrun(s, S_COMMIT) != SQLITE_OK) {
		log_error("store: COMMIT failed: %s; %zu change sets failed", s->emsg, n);
		ok = false;
	}
	if (ok) {
		dv_own_commit(s, before);
		return true;
	}
	if (!sqlite3_get_autocommit(s->wdb) && wrun(s, S_ROLLBACK) != SQLITE_OK)
		log_error("store: ROLLBACK failed: %s", s->emsg);
	for (j = first; j; j = j->next)
		j->rc = VPN_E_STORE;
	return false;
}

/* Detach up to STORE_SQLITE_BATCH_MAX jobs from the queue head. Caller holds s->mu. */
static struct job *
take_batch(struct sqlite_store *s, size_t *n)
{
	struct job *first = s->head, *last = first;
	size_t k = 1;

	while (last->next && k < STORE_SQLITE_BATCH_MAX) {
		last = last->next;
		k++;
	}
	s->head = last->next;
	if (!s->head)
		s->tailp = &s->head;
	last->next = NULL;
	s->qlen -= k;
	*n = k;
	return first;
}

/*
 * Test hook, off unless the environment names a directory in VPND_TEST_STORE_HOLD (API tests
 * hold a commit open with it: tests/api/test_dirty_reads.py). While DIR/hold exists the writer
 * keeps the batch it just took uncommitted and keeps DIR/held holding the number of change sets
 * queued behind it; once DIR/hold is gone it applies the batch, or fails it as a failed COMMIT
 * would when DIR/fail exists (the return value). A closing store stops holding.
 */
static bool
test_hold(struct sqlite_store *s)
{
	const char *dir = getenv("VPND_TEST_STORE_HOLD");
	char hold[1024], held[1060], tmp[1060], fail[1060];
	int64_t last = -1;

	if (!dir || !*dir || (size_t)snprintf(hold, sizeof(hold), "%s/hold", dir) >= sizeof(hold) ||
	    access(hold, F_OK))
		return false;
	snprintf(held, sizeof(held), "%s/held", dir);
	snprintf(tmp, sizeof(tmp), "%s/held.tmp", dir);
	snprintf(fail, sizeof(fail), "%s/fail", dir);
	while (!access(hold, F_OK)) {
		int64_t q;
		bool stop;
		FILE *f;

		pthread_mutex_lock(&s->mu);
		q = (int64_t)s->qlen;
		stop = s->stopping;
		pthread_mutex_unlock(&s->mu);
		if (stop)
			break;
		if (q != last && (f = fopen(tmp, "w"))) {
			fprintf(f, "%lld\n", (long long)q);
			if (!fclose(f) && !rename(tmp, held))
				last = q;
		}
		usleep(2000);
	}
	unlink(held);
	return !access(fail, F_OK);
}

static void *
writer_main(void *arg)
{
	struct sqlite_store *s = arg;
	struct job *batch, *j, *next;
	uint64_t failed;
	size_t n;
	bool ok, halted;

	writer_of = s;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		while (!s->stopping && (!s->head || s->paused))
			pthread_cond_wait(&s->cv, &s->mu);
		if (!s->head)
			break;		/* stopping and drained */
		batch = take_batch(s, &n);
		halted = s->halted;
		s->busy = true;
		pthread_mutex_unlock(&s->mu);

		if (halted) {
			/* after a failure nothing is applied until the owner resumes us */
			for (j = batch; j; j = j->next)
				j->rc = VPN_E_STORE;
			ok = false;
		} else if (test_hold(s)) {
			log_error("store: test hook: failing a batch of %zu change sets", n);
			for (j = batch; j; j = j->next)
				j->rc = VPN_E_STORE;
			ok = false;
		} else {
			ok = apply_batch(s, batch, n);
		}
		failed = 0;
		for (j = batch; j; j = j->next)
			failed += j->rc != VPN_OK;

		pthread_mutex_lock(&s->mu);
		if (failed && !halted) {
			s->halted = true;
			log_error("store: halted after a failed change set; every later change set "
				  "fails until the owner resumes the store");
		}
		s->stats.transactions += !halted;
		s->stats.transactions_failed += !ok && !halted;
		s->stats.change_sets += n;
		s->stats.change_sets_failed += failed;
		if (n > s->stats.max_batch)
			s->stats.max_batch = n;
		pthread_mutex_unlock(&s->mu);

		/* In submission order, without the lock: callbacks may submit. */
		for (j = batch; j; j = next) {
			next = j->next;
			if (j->done)
				j->done(j->arg, j->rc);
			job_free(j);
		}
		pthread_mutex_lock(&s->mu);
		s->busy = false;
		if (!s->head)
			pthread_cond_broadcast(&s->idle_cv);
	}
	s->busy = false;
	pthread_cond_broadcast(&s->idle_cv);
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- open ---- */

static enum vpn_err
db_fail(struct vpn_error *err, sqlite3 *db, const char *what, const char *path)
{
	return vpn_error_set(err, VPN_E_STORE, 0, "store: %s (%s) failed: %s", what, path,
			     db ? sqlite3_errmsg(db) : "out of memory");
}

/* Run @sql that returns one integer (a PRAGMA, a count) into *v. */
static int
query_int(sqlite3 *db, const char *sql, int64_t *v)
{
	sqlite3_stmt *q = NULL;
	int rc;

	rc = sqlite3_prepare_v2(db, sql, -1, &q, NULL);
	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_step(q);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int64(q, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_ERROR;
	}
out:
	sqlite3_finalize(q);
	return rc;
}

/* Open one connection to @path (which exists) and apply the connection-level settings. */
enum conn_kind { CONN_WRITER, CONN_READER, CONN_AUX };

static enum vpn_err
conn_open(sqlite3 **out, const char *path, enum conn_kind kind, struct vpn_error *err)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_EXRESCODE | SQLITE_OPEN_PRIVATECACHE;
	bool writer = kind == CONN_WRITER;
	const char *what = writer ? "opening the write connection" :
			   kind == CONN_READER ? "opening the read connection" :
			   "opening the token connection";
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	enum vpn_err rc = VPN_OK;
	const unsigned char *mode;

	flags |= writer ? SQLITE_OPEN_NOMUTEX : SQLITE_OPEN_FULLMUTEX;
	if (sqlite3_open_v2(path, &db, flags, NULL) != SQLITE_OK) {
		rc = db_fail(err, db, what, path);
		goto out;
	}
	sqlite3_extended_result_codes(db, 1);
	sqlite3_busy_timeout(db, STORE_BUSY_MS);
	if (kind == CONN_READER) {
		if (sqlite3_exec(db, "PRAGMA query_only = 1", NULL, NULL, NULL) != SQLITE_OK)
			rc = db_fail(err, db, "PRAGMA query_only on the read connection", path);
		goto out;
	}
	if (kind == CONN_AUX) {
		/* the file is already in WAL mode (the writer set it); writes here are durable too */
		if (sqlite3_exec(db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK)
			rc = db_fail(err, db, "PRAGMA synchronous = FULL", path);
		goto out;
	}
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &q, NULL) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_ROW) {
		rc = db_fail(err, db, "PRAGMA journal_mode = WAL", path);
		goto out;
	}
	mode = sqlite3_column_text(q, 0);
	if (!mode || strcasecmp((const char *)mode, "wal") != 0) {
		rc = vpn_error_set(err, VPN_E_STORE, 0,
				   "store: %s: cannot switch to WAL mode (journal mode is \"%s\")",
				   path, mode ? (const char *)mode : "?");
		goto out;
	}
	if (sqlite3_exec(db, "PRAGMA synchronous = FULL", NULL, NULL, NULL) != SQLITE_OK)
		rc = db_fail(err, db, "PRAGMA synchronous = FULL", path);
out:
	sqlite3_finalize(q);
	if (rc) {
		sqlite3_close(db);
		db = NULL;
	}
	*out = db;
	return rc;
}

/* Check the file is ours and not newer than this code, then bring it to SCHEMA_VERSION. */
static enum vpn_err
migrate(struct sqlite_store *s, struct vpn_error *err)
{
	sqlite3 *db = s->wdb;
	int64_t version, app_id, ntables, v;
	char sql[96];
	enum vpn_err rc = VPN_OK;

	if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
		return db_fail(err, db, "BEGIN IMMEDIATE for the schema check", s->path);
	if (query_int(db, "PRAGMA user_version", &version) != SQLITE_OK ||
	    query_int(db, "PRAGMA application_id", &app_id) != SQLITE_OK ||
	    query_int(db, "SELECT count(*) FROM sqlite_schema", &ntables) != SQLITE_OK) {
		rc = db_fail(err, db, "reading the schema version", s->path);
		goto out;
	}
	if (version > SCHEMA_VERSION || version < 0) {
		rc = vpn_error_set(err, VPN_E_STORE, 0,
				   "store: %s has schema version %" PRId64 ", newer than the newest"
				   " this vpnd knows (%" PRId64 "); refusing to open it",
				   s->path, version, SCHEMA_VERSION);
		goto out;
	}
	if ((app_id != 0 && app_id != VPND_APPLICATION_ID) || (version == 0 && ntables != 0)) {
		rc = vpn_error_set(err, VPN_E_STORE, 0,
				   "store: %s is not a vpnd database (application_id %" PRId64
				   ", schema version %" PRId64 ", %" PRId64 " schema objects)",
				   s->path, app_id, version, ntables);
		goto out;
	}
	for (v = version; v < SCHEMA_VERSION; v++) {
		if (sqlite3_exec(db, migrations[v], NULL, NULL, NULL) != SQLITE_OK) {
			snprintf(sql, sizeof(sql), "schema migration %" PRId64 " -> %" PRId64, v,
				 v + 1);
			rc = db_fail(err, db, sql, s->path);
			goto out;
		}
	}
	if (version < SCHEMA_VERSION) {
		snprintf(sql, sizeof(sql),
			 "PRAGMA user_version = %" PRId64 "; PRAGMA application_id = %d",
			 SCHEMA_VERSION, VPND_APPLICATION_ID);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
			rc = db_fail(err, db, "setting the schema version", s->path);
			goto out;
		}
	}
	if (sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		rc = db_fail(err, db, "COMMIT of the schema", s->path);
		goto out;
	}
	if (version < SCHEMA_VERSION)
		log_info("store: %s: schema version %" PRId64 " -> %" PRId64, s->path, version,
			 SCHEMA_VERSION);
out:
	if (rc && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

/* "sqlite:PATH" or "sqlite://PATH" -> PATH; NULL if @uri is not ours. */
static const char *
uri_path(const char *uri)
{
	if (!strncasecmp(uri, "sqlite://", 9))
		return uri + 9;
	if (!strncasecmp(uri, "sqlite:", 7))
		return uri + 7;
	return NULL;
}

/*
 * Create @path if missing, owner-only (SQLite gives -wal and -shm the mode of the database), and
 * make its directory entry durable.
 */
static enum vpn_err
create_private(const char *path, struct vpn_error *err)
{
	const char *slash = strrchr(path, '/');
	char *dir = NULL;
	enum vpn_err rc = VPN_OK;
	int fd;

	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 && errno == EEXIST)
		return VPN_OK;
	if (fd < 0)
		return vpn_error_set(err, VPN_E_STORE, 0, "store: creating %s failed: %s", path,
				     strerror(errno));
	close(fd);
	if (!slash)
		dir = util_strndup(".", 1);
	else
		dir = util_strndup(path, slash == path ? 1 : (size_t)(slash - path));
	if (!dir)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "store: out of memory");
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0)
		rc = vpn_error_set(err, VPN_E_STORE, 0, "store: syncing directory %s failed: %s",
				   dir, strerror(errno));
	if (fd >= 0)
		close(fd);
	free(dir);
	return rc;
}

static void sqlite_close(struct store *st);
static void shm_map(struct sqlite_store *s);

static enum vpn_err
start_writer(struct sqlite_store *s, struct vpn_error *err)
{
	sigset_t all, old;
	int e;

	/* The writer inherits a mask blocking every async signal: they go to other threads. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	e = pthread_create(&s->writer, NULL, writer_main, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e)
		return vpn_error_set(err, VPN_E_STORE, 0, "store: starting the writer thread: %s",
				     strerror(e));
	s->writer_running = true;
	return VPN_OK;
}

static enum vpn_err
sqlite_open(struct store **out, const char *uri, struct vpn_error *err)
{
	struct sqlite_store *s = NULL;
	const char *path;
	enum vpn_err rc;
	size_t i;

	path = uri ? uri_path(uri) : NULL;
	if (!path)
		return VPN_E_UNSUPPORTED;
	*out = NULL;
	if (!*path)
		return vpn_error_set(err, VPN_E_INVALID, 0, "store: sqlite URI has no path");
	if (!strcmp(path, ":memory:"))
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "store: in-memory SQLite databases are not supported");
	if (!sqlite3_threadsafe())
		return vpn_error_set(err, VPN_E_STORE, 0,
				     "store: libsqlite3 was built without thread support");
	s = calloc(1, sizeof(*s));
	if (!s)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "store: out of memory");
	s->base.ops = &store_sqlite_ops;
	s->tailp = &s->head;
	s->shm_fd = -1;
	s->path = util_strndup(path, strlen(path));
	if (!s->path) {
		rc = vpn_error_set(err, VPN_E_NOMEM, 0, "store: out of memory");
		goto out;
	}
	if (pthread_mutex_init(&s->mu, NULL)) {
		rc = vpn_error_set(err, VPN_E_INTERNAL, 0, "store: pthread_mutex_init failed");
		goto out;
	}
	if (pthread_cond_init(&s->cv, NULL) || pthread_cond_init(&s->idle_cv, NULL)) {
		pthread_mutex_destroy(&s->mu);
		rc = vpn_error_set(err, VPN_E_INTERNAL, 0, "store: pthread_cond_init failed");
		goto out;
	}
	s->sync_ok = true;

	rc = create_private(s->path, err);
	if (rc)
		goto out;
	rc = conn_open(&s->wdb, s->path, CONN_WRITER, err);
	if (rc)
		goto out;
	rc = migrate(s, err);
	if (rc)
		goto out;
	for (i = 0; i < S__N; i++) {
		if (sqlite3_prepare_v3(s->wdb, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
				       &s->stmt[i], NULL) != SQLITE_OK) {
			rc = db_fail(err, s->wdb, "preparing the writer statements", s->path);
			goto out;
		}
	}
	rc = conn_open(&s->rdb, s->path, CONN_READER, err);
	if (rc)
		goto out;
	rc = conn_open(&s->adb, s->path, CONN_AUX, err);
	if (rc)
		goto out;
	shm_map(s);
	rc = start_writer(s, err);
	if (rc)
		goto out;
	*out = &s->base;
	s = NULL;
out:
	sqlite_close(s ? &s->base : NULL);
	return rc;
}

/* ---- the other operations ---- */

static enum vpn_err
sqlite_submit(struct store *st, const struct store_change *ch, size_t n, store_done_cb done,
	      void *arg)
{
	struct job *j;
	size_t i;

	if (!st || (n && !ch))
		return VPN_E_INVALID;
	for (i = 0; i < n; i++) {
		if (ch[i].op != STORE_PUT && ch[i].op != STORE_DEL && ch[i].op != STORE_AUDIT) {
			log_error("store: submit: row %zu has unknown op %d", i, (int)ch[i].op);
			return VPN_E_INVALID;
		}
		if ((ch[i].op == STORE_PUT || ch[i].op == STORE_AUDIT) && !ch[i].json &&
		    ch[i].json_len) {
			log_error("store: submit: row %zu has json_len but no json", i);
			return VPN_E_INVALID;
		}
	}
	j = job_from_changes(ch, n);
	if (!j) {
		log_error("store: submit: out of memory copying a change set of %zu rows", n);
		return VPN_E_NOMEM;
	}
	j->done = done;
	j->arg = arg;
	return enqueue(to_sqlite(st), j);
}

/* Step @q on the shared read connection; copies the error text before another thread can. */
static int
rstep(struct sqlite_store *s, sqlite3_stmt *q, char *emsg, size_t emsglen)
{
	sqlite3_mutex *m = sqlite3_db_mutex(s->rdb);
	int rc;

	sqlite3_mutex_enter(m);
	rc = sqlite3_step(q);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		snprintf(emsg, emsglen, "%s", sqlite3_errmsg(s->rdb));
	sqlite3_mutex_leave(m);
	return rc;
}

static int
rprepare(struct sqlite_store *s, const char *sql, sqlite3_stmt **q, char *emsg, size_t emsglen)
{
	sqlite3_mutex *m = sqlite3_db_mutex(s->rdb);
	int rc;

	sqlite3_mutex_enter(m);
	rc = sqlite3_prepare_v2(s->rdb, sql, -1, q, NULL);
	if (rc != SQLITE_OK)
		snprintf(emsg, emsglen, "%s", sqlite3_errmsg(s->rdb));
	sqlite3_mutex_leave(m);
	return rc;
}

static enum vpn_err
sqlite_load(struct store *st, store_row_cb cb, void *arg, struct vpn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = NULL;
	struct store_row row;
	char emsg[256];
	enum vpn_err rc = VPN_OK;
	uint64_t nrows = 0;
	int src;

	if (!st || !cb)
		return vpn_error_set(err, VPN_E_INVALID, 0, "store: load: missing argument");
	if (rprepare(s, "SELECT path, kind, revision, body FROM objects ORDER BY path", &q, emsg,
		     sizeof(emsg)) != SQLITE_OK) {
		rc = vpn_error_set(err, VPN_E_STORE, 0, "store: load: preparing failed: %s", emsg);
		goto out;
	}
	for (;;) {
		src = rstep(s, q, emsg, sizeof(emsg));
		if (src == SQLITE_DONE)
			break;
		if (src != SQLITE_ROW) {
			rc = vpn_error_set(err, VPN_E_STORE, 0,
					   "store: load: reading objects failed after %" PRIu64
					   " rows: %s", nrows, emsg);
			goto out;
		}
		row.path = (const char *)sqlite3_column_text(q, 0);
		row.kind = (const char *)sqlite3_column_text(q, 1);
		row.revision = sqlite3_column_int64(q, 2);
		row.json = (const char *)sqlite3_column_text(q, 3);
		row.json_len = (size_t)sqlite3_column_bytes(q, 3);
		if (!row.path || !row.kind || !row.json ||
		    sqlite3_column_type(q, 2) != SQLITE_INTEGER) {
			rc = vpn_error_set(err, VPN_E_STORE, 0,
					   "store: load: objects row %" PRIu64 " is malformed"
					   " (NULL or mistyped column, or out of memory)", nrows);
			goto out;
		}
		nrows++;
		rc = cb(arg, &row);
		if (rc) {
			if (err && err->code == VPN_OK)
				vpn_error_set(err, rc, 0,
					      "store: load stopped by its callback at row %" PRIu64
					      " (%s)", nrows, vpn_err_name(rc));
			goto out;
		}
	}
out:
	sqlite3_finalize(q);
	return rc;
}

static enum vpn_err
sqlite_meta_get(struct store *st, const char *key, char **value, struct vpn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_stmt *q = NULL;
	const char *text;
	char emsg[256];
	enum vpn_err rc = VPN_OK;
	int src;

	if (value)
		*value = NULL;
	if (!st || !key || !value)
		return vpn_error_set(err, VPN_E_INVALID, 0, "store: meta_get: missing argument");
	if (rprepare(s, "SELECT value FROM meta WHERE key = ?1", &q, emsg, sizeof(emsg)) !=
	    SQLITE_OK) {
		rc = vpn_error_set(err, VPN_E_STORE, 0, "store: meta_get(%s): %s", key, emsg);
		goto out;
	}
	if (sqlite3_bind_text(q, 1, key, -1, SQLITE_STATIC) != SQLITE_OK) {
		rc = vpn_error_set(err, VPN_E_STORE, 0, "store: meta_get(%s): bind failed", key);
		goto out;
	}
	src = rstep(s, q, emsg, sizeof(emsg));
	if (src == SQLITE_DONE) {
		rc = vpn_error_set(err, VPN_E_NOT_FOUND, 0, "store: no meta key %s", key);
		goto out;
	}
	if (src != SQLITE_ROW) {
		rc = vpn_error_set(err, VPN_E_STORE, 0, "store: meta_get(%s): %s", key, emsg);
		goto out;
	}
	text = (const char *)sqlite3_column_text(q, 0);
	if (!text) {
		rc = vpn_error_set(err, VPN_E_STORE, 0,
				   "store: meta_get(%s): NULL value or out of memory", key);
		goto out;
	}
	*value = util_strndup(text, (size_t)sqlite3_column_bytes(q, 0));
	if (!*value)
		rc = vpn_error_set(err, VPN_E_NOMEM, 0, "store: meta_get(%s): out of memory", key);
out:
	sqlite3_finalize(q);
	return rc;
}

static bool
on_writer_thread(struct sqlite_store *s)
{
	return writer_of == s;
}

static enum vpn_err
sqlite_meta_set(struct store *st, const char *key, const char *value, struct vpn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	struct store_waiter w;
	struct job *j;
	enum vpn_err rc;

	if (!st || !key || !value)
		return vpn_error_set(err, VPN_E_INVALID, 0, "store: meta_set: missing argument");
	if (on_writer_thread(s))
		return vpn_error_set(err, VPN_E_INTERNAL, 0,
				     "store: meta_set(%s) from a store callback (would deadlock)",
				     key);
	j = job_from_meta(key, value);
	if (!j)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "store: meta_set(%s): no memory", key);
	store_waiter_init(&w);
	j->done = store_waiter_done;
	j->arg = &w;
	rc = enqueue(s, j);
	if (rc) {
		vpn_error_set(err, rc, 0, "store: meta_set(%s): the store is closing", key);
		goto out;
	}
	rc = store_waiter_wait(&w);
	if (rc)
		vpn_error_set(err, rc, 0, "store: meta_set(%s) not committed (see the log)", key);
out:
	store_waiter_release(&w);
	return rc;
}

static void
sqlite_close(struct store *st)
{
	struct sqlite_store *s = to_sqlite(st);
	size_t i;

	if (!st)
		return;
	if (s->writer_running) {
		if (on_writer_thread(s)) {
			log_error("store: close from a store callback ignored (would deadlock)");
			return;
		}
		pthread_mutex_lock(&s->mu);
		s->stopping = true;
		pthread_cond_signal(&s->cv);
		pthread_mutex_unlock(&s->mu);
		pthread_join(s->writer, NULL);	/* the writer drains the queue first */
		s->writer_running = false;
	}
	for (i = 0; i < S__N; i++)
		sqlite3_finalize(s->stmt[i]);
	if (s->shm)
		munmap((void *)s->shm, SHM_MAP_LEN);
	/* Reader first, so the writer connection is the last one and checkpoints the WAL. */
	sqlite3_finalize(s->dv_stmt);
	if (s->adb && sqlite3_close(s->adb) != SQLITE_OK)
		log_error("store: closing the token connection: %s", sqlite3_errmsg(s->adb));
	if (s->rdb && sqlite3_close(s->rdb) != SQLITE_OK)
		log_error("store: closing the read connection: %s", sqlite3_errmsg(s->rdb));
	if (s->wdb && sqlite3_close(s->wdb) != SQLITE_OK)
		log_error("store: closing the write connection: %s", sqlite3_errmsg(s->wdb));
	if (s->shm_fd >= 0)
		close(s->shm_fd);	/* after the connections: see shm_map() */
	if (s->sync_ok) {
		pthread_cond_destroy(&s->cv);
		pthread_cond_destroy(&s->idle_cv);
		pthread_mutex_destroy(&s->mu);
	}
	free(s->path);
	free(s);
}

bool
store_sqlite_stats(struct store *st, struct store_sqlite_stats *out)
{
	struct sqlite_store *s = to_sqlite(st);

	if (!st || !out || st->ops != &store_sqlite_ops)
		return false;
	pthread_mutex_lock(&s->mu);
	*out = s->stats;
	out->queued = s->qlen;
	pthread_mutex_unlock(&s->mu);
	out->dv_queries = atomic_load(&s->dv_queries);
	out->dv_restamps = atomic_load(&s->dv_restamps);
	return true;
}

void
store_sqlite_pause(struct store *st, bool paused)
{
	struct sqlite_store *s = to_sqlite(st);

	if (!st || st->ops != &store_sqlite_ops)
		return;
	pthread_mutex_lock(&s->mu);
	s->paused = paused;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* ---- tokens, audit reads, data_version: on the aux connection, under its mutex ---- */

/*
 * Run @sql on the aux connection with text/int parameters described by @fmt ('s' text, 'i'
 * int64), stepping to completion; @row (may be NULL) is called for each result row. Returns the
 * SQLite result (SQLITE_DONE on success) and copies the error text into @emsg.
 */
typedef enum vpn_err (*aux_row_cb)(void *arg, sqlite3_stmt *q);

static int
aux_exec(struct sqlite_store *s, const char *sql, const char *fmt, const void *const *args,
	 aux_row_cb row, void *arg, enum vpn_err *cbrc, char *emsg, size_t emsglen)
{
	sqlite3_mutex *m = sqlite3_db_mutex(s->adb);
	sqlite3_stmt *q = NULL;
	size_t i;
	int rc;

	sqlite3_mutex_enter(m);
	rc = sqlite3_prepare_v2(s->adb, sql, -1, &q, NULL);
	for (i = 0; rc == SQLITE_OK && fmt[i]; i++) {
		if (fmt[i] == 's')
			rc = sqlite3_bind_text(q, (int)i + 1, args[i], -1, SQLITE_STATIC);
		else
			rc = sqlite3_bind_int64(q, (int)i + 1, *(const int64_t *)args[i]);
	}
	while (rc == SQLITE_OK || rc == SQLITE_ROW) {
		rc = sqlite3_step(q);
		if (rc == SQLITE_ROW && row) {
			*cbrc = row(arg, q);
			if (*cbrc)
				break;
		}
	}
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		snprintf(emsg, emsglen, "%s", sqlite3_errmsg(s->adb));
	sqlite3_finalize(q);
	sqlite3_mutex_leave(m);
	return rc;
}

static enum vpn_err
sqlite_token_add(struct store *st, const struct store_token *t, struct vpn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	const void *args[] = { t->name, t->id, t->role, t->hash, &t->created_ms, &t->last_used_ms };
	enum vpn_err cbrc = VPN_OK;
	char emsg[256];
	int rc;

	rc = aux_exec(s, "INSERT INTO tokens(name, id, role, hash, created_ms, last_used_ms)"
		      " VALUES (?1, ?2, ?3, ?4, ?5, ?6)", "ssssii", args, NULL, NULL, &cbrc, emsg,
		      sizeof(emsg));
	if ((rc & 0xff) == SQLITE_CONSTRAINT)
		return vpn_error_set(err, VPN_E_CONFLICT, 0, "a token named %s already exists",
				     t->name);
	if (rc != SQLITE_DONE)
		return vpn_error_set(err, VPN_E_STORE, 0, "store: adding token %s failed: %s",
				     t->name, emsg);
	atomic_fetch_add(&s->token_writes, 1);
	return VPN_OK;
}

static enum vpn_err
sqlite_token_del(struct store *st, const char *name, struct vpn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	const void *args[] = { name };
	enum vpn_err cbrc = VPN_OK;
	char emsg[256];
	int rc, changes;
	sqlite3_mutex *m = sqlite3_db_mutex(s->adb);

	sqlite3_mutex_enter(m);		/* recursive: keeps changes() ours */
	rc = aux_exec(s, "DELETE FROM tokens WHERE name = ?1", "s", args, NULL, NULL, &cbrc,
		      emsg, sizeof(emsg));
	changes = sqlite3_changes(s->adb);
	sqlite3_mutex_leave(m);
	if (rc != SQLITE_DONE)
		return vpn_error_set(err, VPN_E_STORE, 0, "store: revoking token %s failed: %s",
				     name, emsg);
	if (!changes)
		return vpn_error_set(err, VPN_E_NOT_FOUND, 0, "no token named %s", name);
	atomic_fetch_add(&s->token_writes, 1);
	return VPN_OK;
}

static enum vpn_err
sqlite_token_touch(struct store *st, const char *id, int64_t when, struct vpn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	const void *args[] = { id, &when };
	enum vpn_err cbrc = VPN_OK;
	char emsg[256];

	if (aux_exec(s, "UPDATE tokens SET last_used_ms = ?2 WHERE id = ?1", "si", args, NULL,
		     NULL, &cbrc, emsg, sizeof(emsg)) != SQLITE_DONE)
		return vpn_error_set(err, VPN_E_STORE, 0, "store: recording a token use failed: %s",
				     emsg);
	return VPN_OK;
}

struct token_rows {
	store_token_cb cb;
	void *arg;
};

static enum vpn_err
token_row(void *arg, sqlite3_stmt *q)
{
	struct token_rows *tr = arg;
	struct store_token t;

	t.name = (const char *)sqlite3_column_text(q, 0);
	t.id = (const char *)sqlite3_column_text(q, 1);
	t.role = (const char *)sqlite3_column_text(q, 2);
	t.hash = (const char *)sqlite3_column_text(q, 3);
	t.created_ms = sqlite3_column_int64(q, 4);
	t.last_used_ms = sqlite3_column_int64(q, 5);
	if (!t.name || !t.id || !t.role || !t.hash)
		return VPN_E_STORE;
	return tr->cb(tr->arg, &t);
}

static enum vpn_err
sqlite_token_list(struct store *st, store_token_cb cb, void *arg, struct vpn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	struct token_rows tr = { cb, arg };
	enum vpn_err cbrc = VPN_OK;
	char emsg[256];
	int rc;

	rc = aux_exec(s, "SELECT name, id, role, hash, created_ms, last_used_ms FROM tokens"
		      " ORDER BY name", "", NULL, token_row, &tr, &cbrc, emsg, sizeof(emsg));
	if (cbrc)
		return vpn_error_set(err, cbrc, 0, "store: listing tokens stopped (%s)",
				     vpn_err_name(cbrc));
	if (rc != SQLITE_DONE)
		return vpn_error_set(err, VPN_E_STORE, 0, "store: listing tokens failed: %s", emsg);
	return VPN_OK;
}

struct audit_rows {
	store_audit_cb cb;
	void *arg;
};

static enum vpn_err
audit_row(void *arg, sqlite3_stmt *q)
{
	struct audit_rows *ar = arg;
	struct store_audit a;

	a.id = sqlite3_column_int64(q, 0);
	a.time_ms = sqlite3_column_int64(q, 1);
	a.record = (const char *)sqlite3_column_text(q, 2);
	a.len = (size_t)sqlite3_column_bytes(q, 2);
	if (!a.record)
		return VPN_E_STORE;
	return ar->cb(ar->arg, &a);
}

static enum vpn_err
sqlite_audit_list(struct store *st, int64_t after_id, size_t limit, store_audit_cb cb, void *arg,
		  struct vpn_error *err)
{
	struct sqlite_store *s = to_sqlite(st);
	struct audit_rows ar = { cb, arg };
	int64_t lim = limit > INT64_MAX ? INT64_MAX : (int64_t)limit;
	const void *args[] = { &after_id, &lim };
	enum vpn_err cbrc = VPN_OK;
	char emsg[256];
	int rc;

	rc = aux_exec(s, "SELECT id, time_ms, record FROM audit WHERE id > ?1 ORDER BY id"
		      " LIMIT ?2", "ii", args, audit_row, &ar, &cbrc, emsg, sizeof(emsg));
	if (cbrc)
		return vpn_error_set(err, cbrc, 0, "store: listing the audit log stopped (%s)",
				     vpn_err_name(cbrc));
	if (rc != SQLITE_DONE)
		return vpn_error_set(err, VPN_E_STORE, 0, "store: reading the audit log failed: %s",
				     emsg);
	return VPN_OK;
}

/*
 * The WAL-index header (https://www.sqlite.org/walformat.html, "The WAL-Index Header"): two
 * copies of 48 bytes at the start of the -shm file, which every connection in every process
 * maps. A commit from any connection rewrites both copies (iChange + 1, mxFrame = the new last
 * frame) before the commit returns; SQLite itself compares this header to notice other writers.
 * Words: [0] iVersion, [2] iChange, [3] isInit..szPage, [4] mxFrame.
 */
#define SHM_HDR_WORDS 12		/* one copy, in 32-bit words */
#define WALINDEX_VERSION 3007000u

/*
 * Map the -shm file read-only. Safe while this store is open: SQLite only truncates -shm when
 * a connection opens with no other connection anywhere using it, and our three connections use
 * it until sqlite_close(), which unmaps first. Without it data_version always asks SQLite.
 */
static void
shm_map(struct sqlite_store *s)
{
	const char *db = sqlite3_db_filename(s->adb, "main");
	char shm[4096];
	struct stat sb;
	void *p;
	int fd, n;

	if (!db || !*db)
		return;
	n = snprintf(shm, sizeof(shm), "%s-shm", db);
	if (n < 0 || (size_t)n >= sizeof(shm))
		return;
	/*
	 * The descriptor stays open until sqlite_close() has closed the connections: closing
	 * any descriptor of a file drops every POSIX lock this process holds on it, SQLite's
	 * "in use" (DMS) lock on -shm included - another process opening the database would then
	 * truncate -shm under our connections' maps (SIGBUS).
	 */
	fd = open(shm, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	s->shm_fd = fd;
	if (fstat(fd, &sb) == 0 && sb.st_size >= SHM_MAP_LEN) {
		p = mmap(NULL, SHM_MAP_LEN, PROT_READ, MAP_SHARED, fd, 0);
		if (p != MAP_FAILED)
			s->shm = p;
	}
}

/*
 * A stamp that changes with every commit to the database by any process: iChange and mxFrame
 * of the WAL-index header. 0 when the header is unusable (not mapped, unknown version, or the
 * two copies differ because a commit is rewriting them): the caller then asks SQLite.
 */
static uint64_t
shm_stamp(const struct sqlite_store *s)
{
	const volatile uint32_t *h = s->shm;
	uint32_t c0, f0, c1, f1;

	if (!h)
		return 0;
	/* copy 0 is written last: read it first, then copy 1 (SQLite's own reader order) */
	c0 = h[2];
	f0 = h[4];
	atomic_thread_fence(memory_order_acquire);
	c1 = h[SHM_HDR_WORDS + 2];
	f1 = h[SHM_HDR_WORDS + 4];
	if (h[0] != WALINDEX_VERSION || c0 != c1 || f0 != f1 || !(h[3] & 0xff))
		return 0;
	return ((uint64_t)c0 << 32 | f0) + 1;		/* never 0 */
}

/*
 * The writer's own commit (objects, audit, meta: never tokens) moved the WAL-index stamp from
 * @before (read after BEGIN IMMEDIATE, while we held the write lock) to what it is now. If the
 * cached data_version answer was current at @before and our commit is the only one since -
 * iChange advanced by exactly one, and every commit advances it by one - the answer still holds
 * for the tokens: move its stamp forward, so the next request takes the fast path instead of
 * running the PRAGMA and reloading the token table. A commit by anyone else after ours (iChange
 * + 2 or more), a header being rewritten or unreadable (stamp 0), or a PRAGMA answer older than
 * @before leaves the stamp alone, and the next call asks SQLite as before.
 */
static void
dv_own_commit(struct sqlite_store *s, uint64_t before)
{
	uint64_t after = shm_stamp(s), expect = before;

	if (!before || !after || (uint32_t)(((after - 1) >> 32) - ((before - 1) >> 32)) != 1)
		return;
	/* CAS: a concurrent slow path that stored a newer stamp wins */
	if (atomic_compare_exchange_strong_explicit(&s->dv_stamp, &expect, after,
						    memory_order_release, memory_order_relaxed))
		atomic_fetch_add_explicit(&s->dv_restamps, 1, memory_order_relaxed);
}

static enum vpn_err
sqlite_data_version(struct store *st, uint64_t *out)
{
	struct sqlite_store *s = to_sqlite(st);
	sqlite3_mutex *m = sqlite3_db_mutex(s->adb);
	enum vpn_err rc = VPN_OK;
	uint64_t stamp;
	int src;

	/*
	 * On every authenticated request. Fast path, no lock and no system call: nobody has
	 * committed since the last PRAGMA (same WAL-index stamp), so its answer still holds.
	 */
	stamp = shm_stamp(s);
	if (stamp && stamp == atomic_load_explicit(&s->dv_stamp, memory_order_acquire)) {
		*out = atomic_load_explicit(&s->dv_value, memory_order_relaxed) +
		       atomic_load(&s->token_writes);
		return VPN_OK;
	}
	/* slow path: one prepared statement, serialized on the aux connection's mutex */
	atomic_fetch_add_explicit(&s->dv_queries, 1, memory_order_relaxed);
	sqlite3_mutex_enter(m);
	stamp = shm_stamp(s);		/* before the PRAGMA: a commit after it changes the stamp */
	if (!s->dv_stmt &&
	    sqlite3_prepare_v3(s->adb, "PRAGMA data_version", -1, SQLITE_PREPARE_PERSISTENT,
			       &s->dv_stmt, NULL) != SQLITE_OK) {
		sqlite3_mutex_leave(m);
		return VPN_E_STORE;
	}
	src = sqlite3_step(s->dv_stmt);
	if (src == SQLITE_ROW) {
		*out = (uint64_t)sqlite3_column_int64(s->dv_stmt, 0);
		/* value before stamp: a reader that sees this stamp sees this value or a newer one */
		atomic_store_explicit(&s->dv_value, *out, memory_order_relaxed);
		atomic_store_explicit(&s->dv_stamp, stamp, memory_order_release);
	} else {
		rc = VPN_E_STORE;
	}
	sqlite3_reset(s->dv_stmt);
	sqlite3_mutex_leave(m);
	/* both counters only grow, so their sum changes whenever either does */
	*out += atomic_load(&s->token_writes);
	return rc;
}

static void
sqlite_drain(struct store *st)
{
	struct sqlite_store *s = to_sqlite(st);

	if (on_writer_thread(s)) {
		log_error("store: drain from a store callback ignored (would deadlock)");
		return;
	}
	pthread_mutex_lock(&s->mu);
	while ((s->head || s->busy) && s->writer_running)
		pthread_cond_wait(&s->idle_cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
}

static void
sqlite_resume(struct store *st)
{
	struct sqlite_store *s = to_sqlite(st);

	pthread_mutex_lock(&s->mu);
	if (s->halted)
		log_info("store: resumed");
	s->halted = false;
	pthread_mutex_unlock(&s->mu);
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.open = sqlite_open,
	.load = sqlite_load,
	.submit = sqlite_submit,
	.meta_get = sqlite_meta_get,
	.meta_set = sqlite_meta_set,
	.token_add = sqlite_token_add,
	.token_del = sqlite_token_del,
	.token_touch = sqlite_token_touch,
	.token_list = sqlite_token_list,
	.audit_list = sqlite_audit_list,
	.data_version = sqlite_data_version,
	.drain = sqlite_drain,
	.resume = sqlite_resume,
	.close = sqlite_close,
};
