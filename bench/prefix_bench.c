/*
 * prefix_bench - route filtering through a compiled prefix list (not a test).
 *
 *   build/prefix_bench [routes [entries]]      defaults: 1,000,000 routes, 1,000 entries
 *
 * Builds a deterministic list (networks /8-/24, 70% PERMIT, exact/le/ge/ge+le mixed, three ANY
 * entries at the end) and random IPv4 routes /8-/32 (half inside some entry's network, half
 * anywhere), then times pl_compile and pl_match over every route (CLOCK_MONOTONIC, best of 3),
 * and a naive first-match scan over a 100k subset for comparison (checking both agree).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/netaddr.h"
#include "realize/prefix.h"

#define NAIVE_ROUTES 100000
#define ROUNDS 3

struct bench_entry {
	struct netprefix net;
	int ge, le;
	int any;
	enum pl_action action;
};

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t
rng(void)
{
	uint64_t x = rng_state;		/* xorshift64* */

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static unsigned
rnd(unsigned n)
{
	return (unsigned)(rng() % n);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
set_v4(struct netprefix *p, uint32_t a, unsigned len)
{
	memset(p, 0, sizeof(*p));
	p->addr.family = 4;
	if (len < 32)
		a &= len ? ~(UINT32_MAX >> len) : 0;
	p->addr.bytes[0] = (uint8_t)(a >> 24);
	p->addr.bytes[1] = (uint8_t)(a >> 16);
	p->addr.bytes[2] = (uint8_t)(a >> 8);
	p->addr.bytes[3] = (uint8_t)a;
	p->len = (uint8_t)len;
}

static uint32_t
get_v4(const struct netprefix *p)
{
	return (uint32_t)p->addr.bytes[0] << 24 | (uint32_t)p->addr.bytes[1] << 16 |
	       (uint32_t)p->addr.bytes[2] << 8 | p->addr.bytes[3];
}

/* Networks cluster in RFC 1918 space (as VPN route tables do) with some public ones. */
static uint32_t
rand_addr(void)
{
	switch (rnd(4)) {
	case 0:
		return 0x0a000000u | (uint32_t)(rng() & 0x00ffffffu);		/* 10/8 */
	case 1:
		return 0xac100000u | (uint32_t)(rng() & 0x000fffffu);		/* 172.16/12 */
	case 2:
		return 0xc0a80000u | (uint32_t)(rng() & 0x0000ffffu);		/* 192.168/16 */
	default:
		return (uint32_t)rng();
	}
}

static json_t *
make_list(struct bench_entry *e, size_t n)
{
	json_t *arr = json_array(), *o;
	char addr[64], net[80];
	size_t i, nany = n >= 10 ? 3 : 0;

	for (i = 0; i < n; i++) {
		memset(&e[i], 0, sizeof(e[i]));
		e[i].action = rnd(10) < 7 ? PL_PERMIT : PL_DENY;
		if (i >= n - nany) {
			e[i].any = 1;
			o = json_pack("{s:s, s:s}", "network", "ANY", "action",
				      e[i].action == PL_PERMIT ? "PERMIT" : "DENY");
			json_array_append_new(arr, o);
			continue;
		}
		set_v4(&e[i].net, rand_addr(), 8 + rnd(17));
		switch (rnd(4)) {
		case 0:
			break;
		case 1:
			e[i].le = e[i].net.len + (int)rnd(33 - e[i].net.len);
			break;
		case 2:
			e[i].ge = e[i].net.len + (int)rnd(33 - e[i].net.len);
			break;
		default:
			e[i].ge = e[i].net.len + (int)rnd(33 - e[i].net.len);
			e[i].le = e[i].ge + (int)rnd((unsigned)(33 - e[i].ge));
			break;
		}
		netaddr_format(&e[i].net.addr, addr, sizeof(addr));
		snprintf(net, sizeof(net), "%s/%u", addr, e[i].net.len);
		o = json_pack("{s:s, s:s}", "network", net, "action",
			      e[i].action == PL_PERMIT ? "PERMIT" : "DENY");
		if (e[i].ge)
			json_object_set_new(o, "ge", json_integer(e[i].ge));
		if (e[i].le)
			json_object_set_new(o, "le", json_integer(e[i].le));
		json_array_append_new(arr, o);
	}
	return arr;
}

static void
make_routes(struct netprefix *r, size_t n, const struct bench_entry *e, size_t ne)
{
	size_t i;
	unsigned len;

	for (i = 0; i < n; i++) {
		const struct bench_entry *x = &e[rnd((unsigned)ne)];

		if (rnd(2) && !x->any) {	/* inside an entry's network */
			len = x->net.len + rnd(33 - x->net.len);
			set_v4(&r[i], get_v4(&x->net) | (uint32_t)(rng() >> 32 >> x->net.len), len);
		} else {
			set_v4(&r[i], rand_addr(), 8 + rnd(25));
		}
	}
}

/* FRR's prefix_list_entry_match, entry by entry. */
static enum pl_action
naive(const struct bench_entry *e, size_t n, const struct netprefix *r, int *idx)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (!e[i].any) {
			if (e[i].net.len > r->len || !netprefix_contains(&e[i].net, &r->addr))
				continue;
			if (!e[i].ge && !e[i].le) {
				if (r->len != e[i].net.len)
					continue;
			} else if ((e[i].le && r->len > e[i].le) || (e[i].ge && r->len < e[i].ge)) {
				continue;
			}
		}
		*idx = (int)i;
		return e[i].action;
	}
	*idx = -1;
	return PL_DENY;
}

static int
parse_count(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end || v == 0 || v > 100000000ULL)
		return -1;
	*out = (size_t)v;
	return 0;
}

static void
print_machine(void)
{
	char line[256], *cpu = NULL;
	FILE *f = fopen("/proc/cpuinfo", "r");

	while (f && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "model name", 10) && (cpu = strchr(line, ':'))) {
			cpu += 1 + strspn(cpu + 1, " \t");
			cpu[strcspn(cpu, "\n")] = '\0';
			break;
		}
	}
	printf("nproc: %ld  cpu: %s\n", sysconf(_SC_NPROCESSORS_ONLN), cpu ? cpu : "unknown");
	if (f)
		fclose(f);
}

int
main(int argc, char **argv)
{
	size_t nroutes = 1000000, nentries = 1000, i, nnaive, permits = 0, mism = 0;
	struct bench_entry *e = NULL;
	struct netprefix *routes = NULL;
	struct pl_list *l = NULL;
	struct vpn_error err;
	json_t *list = NULL;
	double t0, compile_ms, best = 0, ms, naive_ms;
	int idx, nidx, rc = 1, round;
	long long sum = 0;

	if (argc > 3 || (argc > 1 && parse_count(argv[1], &nroutes)) ||
	    (argc > 2 && (parse_count(argv[2], &nentries) || nentries > PL_MAX_ENTRIES))) {
		fprintf(stderr, "usage: %s [routes [entries]]\n", argv[0]);
		return 2;
	}
	e = calloc(nentries, sizeof(*e));
	routes = calloc(nroutes, sizeof(*routes));
	if (!e || !routes) {
		fprintf(stderr, "prefix_bench: out of memory\n");
		goto out;
	}
	list = make_list(e, nentries);
	make_routes(routes, nroutes, e, nentries);
	print_machine();

	t0 = now_ms();
	for (round = 0; round < 10; round++) {
		pl_free(l);
		l = NULL;
		if (pl_compile(list, &l, &err)) {
			fprintf(stderr, "prefix_bench: compile: %s\n", err.msg);
			goto out;
		}
	}
	compile_ms = (now_ms() - t0) / 10;
	printf("compile: %zu entries in %.3f ms (mean of 10)\n", nentries, compile_ms);

	for (round = 0; round < ROUNDS; round++) {
		permits = 0;
		sum = 0;
		t0 = now_ms();
		for (i = 0; i < nroutes; i++) {
			permits += pl_match(l, &routes[i], &idx) == PL_PERMIT;
			sum += idx;
		}
		ms = now_ms() - t0;
		if (!round || ms < best)
			best = ms;
	}
	printf("trie:  %zu routes x %zu entries: %.1f ms (best of %d), %.2f M routes/s, "
	       "%zu permitted, checksum %lld\n", nroutes, nentries, best, ROUNDS,
	       (double)nroutes / best / 1e3, permits, sum);

	nnaive = nroutes < NAIVE_ROUTES ? nroutes : NAIVE_ROUTES;
	t0 = now_ms();
	for (i = 0, sum = 0; i < nnaive; i++) {
		naive(e, nentries, &routes[i], &nidx);
		sum += nidx;
	}
	naive_ms = now_ms() - t0;
	for (i = 0; i < nnaive; i++) {
		naive(e, nentries, &routes[i], &nidx);
		pl_match(l, &routes[i], &idx);
		mism += idx != nidx;
	}
	printf("naive: %zu routes x %zu entries: %.1f ms, %.3f M routes/s (trie %.0fx faster), "
	       "checksum %lld, %zu mismatches\n", nnaive, nentries, naive_ms,
	       (double)nnaive / naive_ms / 1e3,
	       naive_ms / (double)nnaive / (best / (double)nroutes), sum, mism);
	rc = mism ? 1 : 0;
out:
	pl_free(l);
	json_decref(list);
	free(routes);
	free(e);
	return rc;
}
