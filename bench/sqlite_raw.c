/*
 * sqlite_raw - the reference for vpnd's durable PATCH benchmark (not a test).
 *
 *   build/sqlite_raw --db PATH [--secs S] [--batch N] [--body-bytes B] [--audit-bytes A]
 *
 * Does what vpnd's store does for one PATCH, directly and nothing else: on a database with the
 * same pragmas (journal_mode=WAL, synchronous=FULL) and the same table shapes as
 * src/store/store_sqlite.c, each "request" is one INSERT OR REPLACE of the same objects row
 * (path, kind, revision, a body of B bytes) plus one INSERT of an audit record of A bytes, with
 * prepared statements. --batch 1 commits every request in its own BEGIN IMMEDIATE ... COMMIT
 * (vpnd with one connection); --batch 100 puts 100 requests in each transaction (the best group
 * commit can do). Runs for S seconds (default 5) and prints one JSON line:
 *   {"batch":N,"txns":T,"rows":R,"secs":S,"rows_per_s":..,"txns_per_s":..,
 *    "p50_ms":..,"p99_ms":..}     (p50/p99: latency of one transaction, BEGIN to COMMIT)
 * Exit status 1 on any SQLite error.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#define MAX_BATCH 100000
#define MAX_BYTES (1 << 20)

/* The same tables as store_sqlite.c's migrations (the ones a PATCH touches). */
static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS objects(path TEXT PRIMARY KEY, kind TEXT NOT NULL,"
	" revision INTEGER NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS audit(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" time_ms INTEGER NOT NULL, record TEXT NOT NULL);";

static const char put_sql[] =
	"INSERT OR REPLACE INTO objects(path, kind, revision, body) VALUES (?1, ?2, ?3, ?4)";
static const char audit_sql[] = "INSERT INTO audit(time_ms, record) VALUES (?1, ?2)";

#define OBJ_PATH "/infra/tier-0s/vmc/locale-services/default/ipsec-vpn-services/default" \
	"/sessions/bench-0"
#define OBJ_KIND "PolicyBasedIPSecVpnSession"

struct opts {
	const char *db;
	double secs;
	long batch;
	long body_bytes;
	long audit_bytes;
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static bool
parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static int
usage(void)
{
	fprintf(stderr, "usage: sqlite_raw --db PATH [--secs S] [--batch N] [--body-bytes B]"
		" [--audit-bytes A]\n");
	return 2;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	long secs = 5;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!v)
			return usage();
		i++;
		if (!strcmp(a, "--db"))
			o->db = v;
		else if (!strcmp(a, "--secs") && parse_long(v, 1, 3600, &secs))
			;
		else if (!strcmp(a, "--batch") && parse_long(v, 1, MAX_BATCH, &o->batch))
			;
		else if (!strcmp(a, "--body-bytes") && parse_long(v, 1, MAX_BYTES, &o->body_bytes))
			;
		else if (!strcmp(a, "--audit-bytes") && parse_long(v, 0, MAX_BYTES, &o->audit_bytes))
			;
		else
			return usage();
	}
	o->secs = (double)secs;
	return o->db ? 0 : usage();
}

/* Run @sql (no rows wanted); false with a message on error. */
static bool
exec_ok(sqlite3 *db, const char *sql)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK)
		return true;
	fprintf(stderr, "sqlite_raw: %s: %s\n", sql, sqlite3_errmsg(db));
	return false;
}

static bool
step_done(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);

	sqlite3_reset(st);
	if (rc == SQLITE_DONE)
		return true;
	fprintf(stderr, "sqlite_raw: step: %s\n", sqlite3_errmsg(db));
	return false;
}

/* Open @path with vpnd's writer settings: WAL (checked), synchronous=FULL, busy timeout. */
static sqlite3 *
open_db(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *q = NULL;
	const unsigned char *mode;
	bool ok = false;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
			    SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE, NULL) != SQLITE_OK) {
		fprintf(stderr, "sqlite_raw: open %s: %s\n", path, db ? sqlite3_errmsg(db) : "?");
		goto out;
	}
	sqlite3_busy_timeout(db, 5000);
	if (sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &q, NULL) != SQLITE_OK ||
	    sqlite3_step(q) != SQLITE_ROW) {
		fprintf(stderr, "sqlite_raw: journal_mode: %s\n", sqlite3_errmsg(db));
		goto out;
	}
	mode = sqlite3_column_text(q, 0);
	if (!mode || strcmp((const char *)mode, "wal") != 0) {
		fprintf(stderr, "sqlite_raw: cannot switch %s to WAL\n", path);
		goto out;
	}
	ok = exec_ok(db, "PRAGMA synchronous = FULL") && exec_ok(db, schema_sql);
out:
	sqlite3_finalize(q);
	if (!ok) {
		sqlite3_close(db);
		db = NULL;
	}
	return db;
}

int
main(int argc, char **argv)
{
	struct opts o = { .batch = 1, .body_bytes = 1424, .audit_bytes = 234 };
	sqlite3 *db = NULL;
	sqlite3_stmt *put = NULL, *aud = NULL;
	char *body = NULL, *record = NULL;
	double *lat = NULL, t_start, t_end;
	size_t nlat = 0, cap = 1 << 16;
	int64_t rev = 0;
	int status = 1;

	if (parse_opts(argc, argv, &o))
		return 2;
	body = malloc((size_t)o.body_bytes);
	record = malloc((size_t)o.audit_bytes + 1);
	lat = malloc(cap * sizeof(*lat));
	if (!body || !record || !lat) {
		fprintf(stderr, "sqlite_raw: out of memory\n");
		goto out;
	}
	/* JSON-ish filler: the bytes do not matter to SQLite, the size does */
	memset(body, 'x', (size_t)o.body_bytes);
	memset(record, 'y', (size_t)o.audit_bytes);
	db = open_db(o.db);
	if (!db)
		goto out;
	if (sqlite3_prepare_v3(db, put_sql, -1, SQLITE_PREPARE_PERSISTENT, &put, NULL) ||
	    sqlite3_prepare_v3(db, audit_sql, -1, SQLITE_PREPARE_PERSISTENT, &aud, NULL)) {
		fprintf(stderr, "sqlite_raw: prepare: %s\n", sqlite3_errmsg(db));
		goto out;
	}
	t_start = now_s();
	t_end = t_start + o.secs;
	for (;;) {
		double t0 = now_s();

		if (t0 >= t_end)
			break;
		if (!exec_ok(db, "BEGIN IMMEDIATE"))
			goto out;
		for (long i = 0; i < o.batch; i++) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			sqlite3_bind_text(put, 1, OBJ_PATH, -1, SQLITE_STATIC);
			sqlite3_bind_text(put, 2, OBJ_KIND, -1, SQLITE_STATIC);
			sqlite3_bind_int64(put, 3, ++rev);
			sqlite3_bind_text(put, 4, body, (int)o.body_bytes, SQLITE_STATIC);
			if (!step_done(db, put))
				goto out;
			if (o.audit_bytes) {
				sqlite3_bind_int64(aud, 1, (int64_t)ts.tv_sec * 1000 +
						   ts.tv_nsec / 1000000);
				sqlite3_bind_text(aud, 2, record, (int)o.audit_bytes, SQLITE_STATIC);
				if (!step_done(db, aud))
					goto out;
			}
		}
		if (!exec_ok(db, "COMMIT"))
			goto out;
		if (nlat == cap) {
			double *n = realloc(lat, 2 * cap * sizeof(*lat));

			if (!n) {
				fprintf(stderr, "sqlite_raw: out of memory\n");
				goto out;
			}
			lat = n;
			cap *= 2;
		}
		lat[nlat++] = now_s() - t0;
	}
	t_end = now_s();
	if (!nlat) {
		fprintf(stderr, "sqlite_raw: no transaction finished\n");
		goto out;
	}
	qsort(lat, nlat, sizeof(*lat), cmp_double);
	{
		double secs = t_end - t_start;
		double rows = (double)nlat * (double)o.batch;

		printf("{\"batch\":%ld,\"txns\":%zu,\"rows\":%.0f,\"secs\":%.3f,\"rows_per_s\":%.1f,"
		       "\"txns_per_s\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"body_bytes\":%ld,"
		       "\"audit_bytes\":%ld}\n", o.batch, nlat, rows, secs, rows / secs,
		       (double)nlat / secs, lat[nlat / 2] * 1e3,
		       lat[(size_t)((double)(nlat - 1) * 0.99)] * 1e3, o.body_bytes, o.audit_bytes);
	}
	status = 0;
out:
	sqlite3_finalize(put);
	sqlite3_finalize(aud);
	sqlite3_close(db);
	free(body);
	free(record);
	free(lat);
	return status;
}
