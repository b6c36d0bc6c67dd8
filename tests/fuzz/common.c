/* Helpers shared by the fuzz harnesses; see fuzz.h. */
#include "fuzz.h"

#include <ftw.h>
#include <jansson.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/clock.h"
#include "core/log.h"
#include "model/model.h"
#include "realize/rz.h"
#include "realize/sim.h"
#include "schema/schema.h"
#include "store/store.h"

void
fuzz_schema_init(void)
{
	struct vpn_error e;

	vpn_error_clear(&e);
	if (schema_init(&e)) {
		fprintf(stderr, "fuzz setup: %s\n", e.msg);
		exit(1);
	}
}

char *
fuzz_strndup(const uint8_t *d, size_t n)
{
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, d, n);
	s[n] = '\0';
	return s;
}

uint8_t
fuzz_u8(struct fuzz_in *in)
{
	uint8_t v;

	if (!in->n)
		return 0;
	v = *in->p++;
	in->n--;
	return v;
}

uint64_t
fuzz_u64(struct fuzz_in *in)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | fuzz_u8(in);
	return v;
}

char *
fuzz_take_str(struct fuzz_in *in, size_t max)
{
	const uint8_t *z = memchr(in->p, 0, in->n);
	size_t n = z ? (size_t)(z - in->p) : in->n;
	char *s;

	if (n > max)
		n = max;
	s = fuzz_strndup(in->p, n);
	in->p += n;
	in->n -= n;
	if (in->n && !*in->p) {		/* the separator */
		in->p++;
		in->n--;
	}
	return s;
}

/* ---- a vpnd without sockets ---- */

static const char *
req_query(void *qctx, const char *key)
{
	const struct fuzz_req *rq = qctx;
	size_t i;

	for (i = 0; i < rq->nq; i++)
		if (!strcmp(rq->qk[i], key))
			return rq->qv[i];
	return NULL;
}

static const char *
req_header(void *qctx, const char *name)
{
	const struct fuzz_req *rq = qctx;
	size_t i;

	for (i = 0; i < rq->nh; i++)
		if (!strcasecmp(rq->hk[i], name))
			return rq->hv[i];
	return NULL;
}

struct waiter {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	struct api_resp resp;
};

static void
call_done(void *arg, struct api_resp *resp)
{
	struct waiter *w = arg;

	pthread_mutex_lock(&w->mu);
	w->resp = *resp;
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void
fuzz_call(struct fuzz_stack *fs, const struct fuzz_req *rq, struct api_resp *resp)
{
	struct fuzz_req r = *rq;
	struct api_req ar;
	struct waiter w;

	if (!r.nh && fs->access_admin) {
		r.hk[0] = "csp-auth-token";
		r.hv[0] = fs->access_admin;
		r.nh = 1;
	}
	memset(&ar, 0, sizeof(ar));
	ar.method = r.method;
	ar.method_name = r.method_name;
	ar.url = r.url;
	ar.query = req_query;
	ar.header = req_header;
	ar.qctx = &r;
	ar.body = r.body;
	ar.body_len = r.body_len;
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	w.done = false;
	if (!api_handle(fs->api, &ar, resp, call_done, &w)) {
		pthread_mutex_lock(&w.mu);
		while (!w.done)
			pthread_cond_wait(&w.cv, &w.mu);
		pthread_mutex_unlock(&w.mu);
		*resp = w.resp;
	}
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
}

int
fuzz_simple(struct fuzz_stack *fs, enum api_method method, const char *url, const char *body)
{
	static const char *names[] = { "GET", "PUT", "PATCH", "DELETE", "POST", "HEAD" };
	struct fuzz_req rq;
	struct api_resp resp;
	unsigned i = 0;

	memset(&rq, 0, sizeof(rq));
	while ((1u << i) != (unsigned)method && i < 5)
		i++;
	rq.method = method;
	rq.method_name = names[i];
	rq.url = url;
	rq.body = body;
	rq.body_len = body ? strlen(body) : 0;
	fuzz_call(fs, &rq, &resp);
	if (resp.status != 200)
		fprintf(stderr, "fuzz setup: %s %s -> %d %.*s\n", names[i], url, resp.status,
			(int)resp.len, resp.body ? resp.body : "");
	free(resp.body);
	return resp.status;
}

char *
fuzz_access_token(struct fuzz_stack *fs, const char *refresh)
{
	struct vpn_error e;
	char *json = NULL, *tok = NULL;
	size_t len = 0;
	json_t *v;

	vpn_error_clear(&e);
	if (auth_exchange(fs->au, refresh, &json, &len, &e))
		return NULL;
	v = json_loadb(json, len, 0, NULL);
	if (json_string_value(json_object_get(v, "access_token")))
		tok = strdup(json_string_value(json_object_get(v, "access_token")));
	json_decref(v);
	free(json);
	return tok;
}

static struct fuzz_stack stack;
static bool stack_up;

static int
rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
stack_down(void)
{
	if (!stack_up)
		return;
	api_free(stack.api);
	rz_stop(stack.rz);
	model_quiesce(stack.m);
	auth_close(stack.au);
	model_close(stack.m);
	store_close(stack.st);
	free(stack.access_admin);
	free(stack.access_auditor);
	nftw(stack.dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
	schema_fini();
	stack_up = false;
}

#define DIE(...) do { fprintf(stderr, "fuzz setup: " __VA_ARGS__); exit(1); } while (0)

struct fuzz_stack *
fuzz_stack_get(void)
{
	struct fuzz_stack *fs = &stack;
	struct model_config mc = { "203.0.113.10", "10.0.0.10" };
	struct auth_config ac = { 1800, FUZZ_ORG };
	struct api_config pc = { 1 << 20, FUZZ_ORG, FUZZ_SDDC, "fuzz", NULL, true, false };
	struct rz_config rc = { 0, NULL, 10 };
	struct rz_backend *be;
	struct vpn_error e;
	char uri[128];

	if (stack_up)
		return fs;
	log_set_level(LOG_LVL_ERROR);
	vpn_error_clear(&e);
	/* run.sh points TMPDIR into build/fuzz: a crashed run (no atexit) leaves nothing in /tmp */
	snprintf(fs->dir, sizeof(fs->dir), "%s/vpnd-fuzz-XXXXXX",
		 getenv("TMPDIR") && *getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(fs->dir))
		DIE("mkdtemp\n");
	snprintf(uri, sizeof(uri), "sqlite:%s/vpnd.db", fs->dir);
	if (schema_init(&e) || store_open(&fs->st, uri, &e) || model_open(&fs->m, fs->st, &mc, &e))
		DIE("%s\n", e.msg);
	if (auth_token_create(fs->st, "fuzz-admin", AUTH_ROLE_ADMIN, fs->refresh_admin, &e) ||
	    auth_token_create(fs->st, "fuzz-auditor", AUTH_ROLE_AUDITOR, fs->refresh_auditor, &e) ||
	    auth_open(&fs->au, fs->st, &ac, &e))
		DIE("%s\n", e.msg);
	be = sim_backend_new();
	if (!be || rz_start(&fs->rz, fs->m, be, &rc, &e))
		DIE("rz: %s\n", e.msg);
	if (api_new(&fs->api, fs->m, fs->au, fs->rz, &pc))
		DIE("api\n");
	clock_freeze(true);
	fs->access_admin = fuzz_access_token(fs, fs->refresh_admin);
	fs->access_auditor = fuzz_access_token(fs, fs->refresh_auditor);
	if (!fs->access_admin || !fs->access_auditor)
		DIE("no access token\n");
	stack_up = true;
	atexit(stack_down);
	return fs;
}
