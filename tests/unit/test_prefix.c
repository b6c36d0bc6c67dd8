/*
 * Unit tests for src/realize/prefix: FRR prefix-list semantics as data, malformed lists, and a
 * randomized cross-check of the trie against a naive first-match scan.
 *
 * Expected results follow FRR's prefix_list_entry_match() (lib/plist.c): same family, the route
 * inside the entry's network, then no ge/le -> exact length; le -> len <= le; ge -> len >= ge;
 * first entry in order wins; no match -> deny. Lists are JSON with ' for " to stay readable.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "core/netaddr.h"
#include "realize/prefix.h"

#include "prefix_cases.h"

/* ' -> " */
static json_t *
load(const char *text)
{
	char buf[2048];
	json_error_t je;
	json_t *j;
	size_t i;

	assert_true(strlen(text) < sizeof(buf));
	for (i = 0; text[i]; i++)
		buf[i] = text[i] == '\'' ? '"' : text[i];
	buf[i] = '\0';
	j = json_loads(buf, 0, &je);
	if (!j)
		fail_msg("bad test JSON %s: %s", buf, je.text);
	return j;
}

/* ---- the naive reference: FRR's prefix_list_entry_match over every entry in order ---- */

struct naive_entry {
	struct netprefix net;
	int ge, le;
	bool any;
	enum pl_action action;
};

static bool
naive_entry_match(const struct naive_entry *e, const struct netprefix *r)
{
	int max;

	if (e->any)
		return true;
	if (e->net.addr.family != r->addr.family || e->net.len > r->len ||
	    !netprefix_contains(&e->net, &r->addr))
		return false;
	if (!e->ge && !e->le)
		return r->len == e->net.len;
	max = e->net.addr.family == 4 ? 32 : 128;
	if (r->len > (e->le ? e->le : max))
		return false;
	if (e->ge && r->len < e->ge)
		return false;
	return true;
}

static enum pl_action
naive_match(const struct naive_entry *e, size_t n, const struct netprefix *r, int *idx)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (naive_entry_match(&e[i], r)) {
			*idx = (int)i;
			return e[i].action;
		}
	}
	*idx = -1;
	return PL_DENY;
}

static void
naive_from_json(const json_t *arr, struct naive_entry *e)
{
	const json_t *v;
	const char *net, *act;
	size_t i;

	json_array_foreach(arr, i, v) {
		memset(&e[i], 0, sizeof(e[i]));
		net = json_string_value(json_object_get(v, "network"));
		act = json_string_value(json_object_get(v, "action"));
		e[i].any = !strcmp(net, "ANY");
		if (!e[i].any)
			assert_true(netprefix_parse(net, &e[i].net));
		e[i].action = act && !strcmp(act, "DENY") ? PL_DENY : PL_PERMIT;
		e[i].ge = (int)json_integer_value(json_object_get(v, "ge"));
		e[i].le = (int)json_integer_value(json_object_get(v, "le"));
	}
}

/* ---- the FRR table ---- */

static void
test_frr_cases(void **state)
{
	struct naive_entry ne[8];
	struct vpn_error err;
	struct pl_list *l;
	struct netprefix r;
	enum pl_action a;
	size_t i;
	int idx, nidx;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct pl_case *c = &cases[i];
		json_t *j = load(c->list);

		vpn_error_clear(&err);
		if (pl_compile(j, &l, &err) != VPN_OK)
			fail_msg("case '%s': compile failed: %s", c->name, err.msg);
		if (!netprefix_parse(c->route, &r))
			fail_msg("case '%s': bad route %s", c->name, c->route);
		a = pl_match(l, &r, &idx);
		if (a != c->want || idx != c->idx)
			fail_msg("case '%s': route %s -> %s #%d, FRR gives %s #%d", c->name, c->route,
				 a == PL_PERMIT ? "permit" : "deny", idx,
				 c->want == PL_PERMIT ? "permit" : "deny", c->idx);
		assert_int_equal(pl_match(l, &r, NULL), c->want);
		/* the naive reference agrees with the table too */
		assert_true(json_array_size(j) <= 8);
		naive_from_json(j, ne);
		assert_int_equal(naive_match(ne, json_array_size(j), &r, &nidx), c->want);
		assert_int_equal(nidx, c->idx);
		assert_int_equal(pl_count(l), json_array_size(j));
		pl_free(l);
		json_decref(j);
	}
}

static void
test_null_list(void **state)
{
	struct netprefix r;
	int idx = 7;

	(void)state;
	assert_true(netprefix_parse("10.0.0.0/8", &r));
	assert_int_equal(pl_match(NULL, &r, &idx), PL_PERMIT);
	assert_int_equal(idx, -1);
	assert_int_equal(pl_match(NULL, &r, NULL), PL_PERMIT);
	assert_int_equal(pl_count(NULL), 0);
	pl_free(NULL);
}

static void
test_bad_routes(void **state)
{
	json_t *j = load("[{'network':'ANY','action':'PERMIT'}]");
	struct pl_list *l;
	struct netprefix r;
	int idx;

	(void)state;
	assert_int_equal(pl_compile(j, &l, NULL), VPN_OK);
	memset(&r, 0, sizeof(r));
	r.addr.family = 5;
	assert_int_equal(pl_match(l, &r, &idx), PL_DENY);
	assert_int_equal(idx, -1);
	r.addr.family = 4;
	r.len = 33;
	assert_int_equal(pl_match(l, &r, &idx), PL_DENY);
	assert_int_equal(idx, -1);
	r.len = 32;
	assert_int_equal(pl_match(l, &r, &idx), PL_PERMIT);
	assert_int_equal(idx, 0);
	pl_free(l);
	json_decref(j);
}

/* ---- malformed lists ---- */

static const struct {
	const char *list;
	const char *msg;	/* the whole expected message */
} bad[] = {
	{ "{'network':'10.0.0.0/8'}", "prefixes must be an array" },
	{ "[]", "prefixes must have at least one entry" },
	{ "[1]", "prefixes[0] must be an object" },
	{ "[{'action':'PERMIT'}]", "prefixes[0].network is required" },
	{ "[{'network':8}]", "prefixes[0].network must be a CIDR string or ANY" },
	{ "[{'network':'10.0.0.256/8'}]",
	  "prefixes[0].network value '10.0.0.256/8' is not a valid CIDR or ANY" },
	{ "[{'network':'10.0.0.0'}]", "prefixes[0].network value '10.0.0.0' is not a valid CIDR or ANY" },
	{ "[{'network':'10.0.0.0/33'}]",
	  "prefixes[0].network value '10.0.0.0/33' is not a valid CIDR or ANY" },
	{ "[{'network':'any'}]", "prefixes[0].network value 'any' is not a valid CIDR or ANY" },
	{ "[{'network':'ANY'},{'network':'2001:db8::/129'}]",
	  "prefixes[1].network value '2001:db8::/129' is not a valid CIDR or ANY" },
	{ "[{'network':'10.0.0.0/8','action':'ALLOW'}]",
	  "prefixes[0].action value 'ALLOW' must be PERMIT or DENY" },
	{ "[{'network':'10.0.0.0/8','action':'permit'}]",
	  "prefixes[0].action value 'permit' must be PERMIT or DENY" },
	{ "[{'network':'10.0.0.0/8','action':1}]",
	  "prefixes[0].action must be the string PERMIT or DENY" },
	{ "[{'network':'10.0.0.0/8','ge':26,'le':24}]", "prefixes[0].ge value 26 is greater than le 24" },
	{ "[{'network':'10.0.0.0/16','ge':8}]",
	  "prefixes[0].ge value 8 is shorter than the network's prefix length 16" },
	{ "[{'network':'10.0.0.0/16','le':15}]",
	  "prefixes[0].le value 15 is shorter than the network's prefix length 16" },
	{ "[{'network':'10.0.0.0/8','le':33}]", "prefixes[0].le value 33 exceeds 32 for an IPv4 network" },
	{ "[{'network':'10.0.0.0/8','ge':33}]", "prefixes[0].ge value 33 exceeds 32 for an IPv4 network" },
	{ "[{'network':'2001:db8::/32','le':129}]",
	  "prefixes[0].le value 129 exceeds 128 for an IPv6 network" },
	{ "[{'network':'ANY','le':129}]", "prefixes[0].le value 129 exceeds 128 for ANY" },
	{ "[{'network':'ANY','ge':24,'le':16}]", "prefixes[0].ge value 24 is greater than le 16" },
	{ "[{'network':'10.0.0.0/8','le':'24'}]", "prefixes[0].le must be an integer" },
	{ "[{'network':'10.0.0.0/8','ge':24.0}]", "prefixes[0].ge must be an integer" },
	{ "[{'network':'10.0.0.0/8','le':-1}]", "prefixes[0].le value -1 must not be negative" },
};

static void
test_malformed(void **state)
{
	struct vpn_error err;
	struct pl_list *l;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		json_t *j = load(bad[i].list);

		vpn_error_clear(&err);
		l = (struct pl_list *)&err;	/* must be reset to NULL */
		if (pl_compile(j, &l, &err) != VPN_E_INVALID)
			fail_msg("list %s: accepted", bad[i].list);
		assert_null(l);
		assert_int_equal(err.code, VPN_E_INVALID);
		if (strcmp(err.msg, bad[i].msg))
			fail_msg("list %s: message '%s', want '%s'", bad[i].list, err.msg, bad[i].msg);
		/* and without an error detail */
		assert_int_equal(pl_compile(j, &l, NULL), VPN_E_INVALID);
		assert_null(l);
		json_decref(j);
	}
	assert_int_equal(pl_compile(NULL, &l, &err), VPN_E_INVALID);
	assert_null(l);
}

static void
test_too_many(void **state)
{
	json_t *arr = json_array(), *e = json_pack("{s:s}", "network", "ANY");
	struct vpn_error err;
	struct pl_list *l;
	size_t i;

	(void)state;
	for (i = 0; i <= PL_MAX_ENTRIES; i++)
		json_array_append(arr, e);
	vpn_error_clear(&err);
	assert_int_equal(pl_compile(arr, &l, &err), VPN_E_INVALID);
	assert_null(l);
	assert_non_null(strstr(err.msg, "at most 100000"));
	json_array_remove(arr, 0);
	assert_int_equal(pl_compile(arr, &l, &err), VPN_OK);
	assert_int_equal(pl_count(l), PL_MAX_ENTRIES);
	pl_free(l);
	json_decref(e);
	json_decref(arr);
}

/* ---- randomized cross-check against the naive scan ---- */

static uint64_t rng_state;

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

/*
 * A random prefix. IPv6 one time in five, inside 2001:db8::/31, mostly /32-/80. IPv4 three times
 * in four clustered in a few RFC 1918 blocks (so entries and routes overlap often), otherwise
 * anywhere (mostly implicit denies); lengths mostly in [maxlen - 16, maxlen], one time in twenty
 * anywhere in [minlen, maxlen], so short covering entries stay rare. Host bits are left random
 * (pl_compile and pl_match must ignore them).
 */
static void
rand_prefix(struct netprefix *p, unsigned minlen, unsigned maxlen)
{
	static const uint8_t v4base[][2] = { { 10, 0 }, { 10, 1 }, { 172, 16 }, { 192, 168 } };
	unsigned i, b;

	memset(p, 0, sizeof(*p));
	if (rnd(5) == 0) {
		p->addr.family = 6;
		p->addr.bytes[0] = 0x20;
		p->addr.bytes[1] = 0x01;
		p->addr.bytes[2] = 0x0d;
		p->addr.bytes[3] = (uint8_t)(0xb8 + rnd(2));
		for (i = 4; i < 16; i++)
			p->addr.bytes[i] = (uint8_t)(i < 7 ? rnd(4) : rng());
		p->len = (uint8_t)(rnd(20) == 0 ? rnd(129) : 32 + rnd(49));
		return;
	}
	p->addr.family = 4;
	for (i = 0; i < 4; i++)
		p->addr.bytes[i] = (uint8_t)rng();
	if (rnd(4)) {
		b = rnd(sizeof(v4base) / sizeof(v4base[0]));
		p->addr.bytes[0] = v4base[b][0];
		p->addr.bytes[1] = (uint8_t)(v4base[b][1] + rnd(2));
		p->addr.bytes[2] = (uint8_t)rnd(16);
	}
	p->len = (uint8_t)(rnd(20) == 0 ? minlen + rnd(maxlen - minlen + 1) : maxlen - rnd(17));
}

/* @with_any: about one entry in 200 is ANY (anywhere in the list); otherwise none. */
static json_t *
rand_list(size_t n, struct naive_entry *ne, bool with_any)
{
	json_t *arr = json_array(), *o;
	char addr[64], net[80];
	size_t i;
	int max, len, ge, le;

	for (i = 0; i < n; i++) {
		struct naive_entry *e = &ne[i];

		memset(e, 0, sizeof(*e));
		e->action = rnd(3) ? PL_PERMIT : PL_DENY;
		if (with_any && rnd(200) == 0) {
			e->any = true;
			o = json_pack("{s:s, s:s}", "network", "ANY", "action",
				      e->action == PL_PERMIT ? "PERMIT" : "DENY");
			json_array_append_new(arr, o);
			continue;
		}
		rand_prefix(&e->net, 0, 28);
		max = e->net.addr.family == 4 ? 32 : 128;
		len = e->net.len;
		ge = le = 0;
		switch (rnd(4)) {
		case 0:
			break;
		case 1:
			le = len + (int)rnd((unsigned)(max - len + 1));
			break;
		case 2:
			ge = len + (int)rnd((unsigned)(max - len + 1));
			break;
		default:
			ge = len + (int)rnd((unsigned)(max - len + 1));
			le = ge + (int)rnd((unsigned)(max - ge + 1));
			break;
		}
		e->ge = ge;
		e->le = le;
		netaddr_format(&e->net.addr, addr, sizeof(addr));
		snprintf(net, sizeof(net), "%s/%d", addr, len);
		o = json_pack("{s:s, s:s}", "network", net, "action",
			      e->action == PL_PERMIT ? "PERMIT" : "DENY");
		if (ge || rnd(4) == 0)
			json_object_set_new(o, "ge", json_integer(ge));
		if (le || rnd(4) == 0)
			json_object_set_new(o, "le", json_integer(le));
		json_array_append_new(arr, o);
	}
	return arr;
}

#define RAND_ENTRIES 200
#define RAND_ROUTES 20000
#define RAND_LISTS 5

static void
test_random_vs_naive(void **state)
{
	static struct naive_entry ne[RAND_ENTRIES];
	struct vpn_error err;
	struct pl_list *l;
	struct netprefix r;
	unsigned k, i, permits = 0, explicit = 0, ndecided = 0;
	static bool decided[RAND_ENTRIES];
	int idx, nidx;
	enum pl_action a, na;

	(void)state;
	for (k = 0; k < RAND_LISTS; k++) {
		json_t *arr;

		rng_state = 0x9e3779b97f4a7c15ULL + k;
		arr = rand_list(RAND_ENTRIES, ne, k >= RAND_LISTS - 2);
		memset(decided, 0, sizeof(decided));
		vpn_error_clear(&err);
		if (pl_compile(arr, &l, &err))
			fail_msg("seed %u: compile: %s", k, err.msg);
		for (i = 0; i < RAND_ROUTES; i++) {
			rand_prefix(&r, 8, 32);
			a = pl_match(l, &r, &idx);
			na = naive_match(ne, RAND_ENTRIES, &r, &nidx);
			if (a != na || idx != nidx) {
				char buf[64];

				netaddr_format(&r.addr, buf, sizeof(buf));
				fail_msg("seed %u route %s/%u: trie %d #%d, naive %d #%d", k, buf,
					 r.len, a, idx, na, nidx);
			}
			permits += a == PL_PERMIT;
			explicit += idx >= 0;
			if (idx >= 0 && !decided[idx]) {
				decided[idx] = true;
				ndecided++;
			}
		}
		pl_free(l);
		json_decref(arr);
	}
	/* the data must exercise both outcomes and both explicit and implicit decisions */
	assert_true(permits > RAND_LISTS * RAND_ROUTES / 20);
	assert_true(permits < RAND_LISTS * RAND_ROUTES * 19 / 20);
	assert_true(explicit > RAND_LISTS * RAND_ROUTES / 10);
	assert_true(explicit < RAND_LISTS * RAND_ROUTES * 9 / 10);
	assert_true(ndecided > RAND_LISTS * RAND_ENTRIES / 4);	/* many entries get to decide */
}

/* ---- concurrent readers ---- */

#define THR_ROUTES 5000

struct thr_arg {
	const struct pl_list *l;
	const struct netprefix *routes;
	const int *want;
	int bad;
};

static void *
thr_main(void *p)
{
	struct thr_arg *t = p;
	unsigned round, i;
	int idx;

	for (round = 0; round < 4; round++)
		for (i = 0; i < THR_ROUTES; i++) {
			pl_match(t->l, &t->routes[i], &idx);
			if (idx != t->want[i])
				t->bad++;
		}
	return NULL;
}

static void
test_concurrent_readers(void **state)
{
	static struct naive_entry ne[RAND_ENTRIES];
	static struct netprefix routes[THR_ROUTES];
	static int want[THR_ROUTES];
	struct thr_arg args[4];
	pthread_t th[4];
	struct pl_list *l;
	json_t *arr;
	unsigned i;

	(void)state;
	rng_state = 42;
	arr = rand_list(RAND_ENTRIES, ne, true);
	assert_int_equal(pl_compile(arr, &l, NULL), VPN_OK);
	for (i = 0; i < THR_ROUTES; i++) {
		rand_prefix(&routes[i], 8, 32);
		naive_match(ne, RAND_ENTRIES, &routes[i], &want[i]);
	}
	for (i = 0; i < 4; i++) {
		args[i] = (struct thr_arg){ l, routes, want, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, thr_main, &args[i]), 0);
	}
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].bad, 0);
	}
	pl_free(l);
	json_decref(arr);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frr_cases),
		cmocka_unit_test(test_null_list),
		cmocka_unit_test(test_bad_routes),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_too_many),
		cmocka_unit_test(test_random_vs_naive),
		cmocka_unit_test(test_concurrent_readers),
	};

	return cmocka_run_group_tests_name("prefix", tests, NULL, NULL);
}
