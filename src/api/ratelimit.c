#include "api/ratelimit.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RL_SHARDS 16
#define NS_PER_S 1000000000LL

struct rl_entry {
	uint64_t hash;
	int64_t tat;			/* theoretical arrival time, monotonic ns */
	char key[RL_KEY_MAX];
};

struct rl_shard {
	pthread_mutex_t mu;
	size_t n;			/* slots used, [0, cap) */
	struct rl_entry *e;
	char pad[64];			/* keep shards' mutexes on separate cache lines */
};

struct rl {
	unsigned rate;
	int64_t interval;		/* ns between two requests at the steady rate */
	int64_t tolerance;		/* ns a key may run ahead: interval * (burst - 1) */
	size_t cap;			/* slots per shard */
	struct rl_shard shard[RL_SHARDS];
};

static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

/*
 * Test hook (tests/api/test_limits.py): VPND_TEST_RATE_SLOWDOWN=N (2..1000) refills every
 * bucket N times slower than configured, so that a test's "the next request is still refused"
 * cannot race a refill on a loaded machine even at the smallest rate (1/s). Unset: 1.
 */
static int64_t
test_slowdown(void)
{
	const char *v = getenv("VPND_TEST_RATE_SLOWDOWN");
	char *end;
	long n;

	if (!v || !*v)
		return 1;
	n = strtol(v, &end, 10);
	return *end || n < 2 || n > 1000 ? 1 : n;
}

struct rl *
rl_new(unsigned rate, unsigned burst, size_t max_keys)
{
	struct rl *rl;
	size_t i;

	if (rate < 1 || rate > 1000000 || max_keys < 1)
		return NULL;
	if (!burst)
		burst = rate;
	rl = calloc(1, sizeof(*rl));
	if (!rl)
		return NULL;
	rl->rate = rate;
	rl->interval = NS_PER_S / rate * test_slowdown();
	rl->tolerance = rl->interval * (int64_t)(burst - 1);
	rl->cap = (max_keys + RL_SHARDS - 1) / RL_SHARDS;
	for (i = 0; i < RL_SHARDS; i++) {
		rl->shard[i].e = calloc(rl->cap, sizeof(struct rl_entry));
		if (!rl->shard[i].e) {
			while (i--) {
				pthread_mutex_destroy(&rl->shard[i].mu);
				free(rl->shard[i].e);
			}
			free(rl);
			return NULL;
		}
		pthread_mutex_init(&rl->shard[i].mu, NULL);
	}
	return rl;
}

void
rl_free(struct rl *rl)
{
	size_t i;

	if (!rl)
		return;
	for (i = 0; i < RL_SHARDS; i++) {
		pthread_mutex_destroy(&rl->shard[i].mu);
		free(rl->shard[i].e);
	}
	free(rl);
}

/* The slot for @key in @sh (found, free, or the most idle one reused). Called locked. */
static struct rl_entry *
slot(struct rl *rl, struct rl_shard *sh, const char *key, uint64_t h, int64_t now)
{
	struct rl_entry *e, *idle = NULL;
	size_t i;

	for (i = 0; i < sh->n; i++) {
		e = &sh->e[i];
		if (e->hash == h && !strcmp(e->key, key))
			return e;
		if (!idle || e->tat < idle->tat)
			idle = e;
	}
	/* a new key: a free slot, else the key furthest from being limited (tat oldest) */
	e = sh->n < rl->cap ? &sh->e[sh->n++] : idle;
	e->hash = h;
	e->tat = now;
	memcpy(e->key, key, strlen(key) + 1);
	return e;
}

bool
rl_allow_at(struct rl *rl, const char *key, int64_t now_ns, int64_t *retry_ns)
{
	char k[RL_KEY_MAX];
	size_t n = key ? strnlen(key, sizeof(k) - 1) : 0;
	uint64_t h;
	struct rl_shard *sh;
	struct rl_entry *e;
	int64_t tat;
	bool ok;

	/* cut, rather than refuse, an over-long key (keys come from vpnd, not clients) */
	memcpy(k, key ? key : "", n);
	k[n] = '\0';
	h = fnv1a(k);
	sh = &rl->shard[h >> 60];
	pthread_mutex_lock(&sh->mu);
	e = slot(rl, sh, k, h, now_ns);
	tat = e->tat > now_ns ? e->tat : now_ns;
	ok = tat - rl->tolerance <= now_ns;
	if (ok)
		e->tat = tat + rl->interval;
	else if (retry_ns)
		*retry_ns = tat - rl->tolerance - now_ns;
	pthread_mutex_unlock(&sh->mu);
	return ok;
}

bool
rl_allow(struct rl *rl, const char *key, int64_t *retry_ns)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return rl_allow_at(rl, key, (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec, retry_ns);
}

unsigned
rl_rate(const struct rl *rl)
{
	return rl->rate;
}

size_t
rl_count(struct rl *rl)
{
	size_t i, n = 0;

	for (i = 0; i < RL_SHARDS; i++) {
		pthread_mutex_lock(&rl->shard[i].mu);
		n += rl->shard[i].n;
		pthread_mutex_unlock(&rl->shard[i].mu);
	}
	return n;
}

unsigned
rl_retry_after_s(int64_t retry_ns)
{
	int64_t s = (retry_ns + NS_PER_S - 1) / NS_PER_S;

	return s < 1 ? 1 : (unsigned)s;
}
