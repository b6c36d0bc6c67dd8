/*
 * fuzz_cidr: IP addresses, CIDRs (src/core/netaddr.c) and prefix-list entries with ge/le
 * (src/realize/prefix.c, src/realize/bird.c, the PrefixList schema).
 *
 * Input byte 0 picks the mode; the rest is:
 *   text (even): one string. Invariants: address and CIDR parse -> format -> parse gives the
 *     same value and format is a fixed point; a CIDR contains its own address, overlaps
 *     itself, and is a network exactly when masking changes nothing; the string as the network
 *     of a one-entry prefix list is accepted by pl_compile, by bird_plist_from_json and by the
 *     PrefixList schema alike.
 *   structured (odd): a prefix list of up to 24 entries (family, address bytes, length, ge,
 *     le, action, ANY) and up to 24 routes, built from the bytes. Invariants: pl_compile,
 *     bird_plist_from_json and schema validation agree on acceptance; when accepted, pl_match
 *     (the trie) decides every route exactly as a linear first-match scan of the BIRD entries
 *     and of the list's own JSON does.
 */
#include <jansson.h>
#include <string.h>

#include "core/netaddr.h"
#include "fuzz.h"
#include "realize/bird.h"
#include "realize/prefix.h"
#include "schema/schema.h"

static const struct schema_type *plist_type;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_schema_init();
	plist_type = schema_type_get("PrefixList");
	if (!plist_type)
		abort();
	return 0;
}

static void
fmt_prefix(const struct netprefix *p, char *out, size_t outlen)
{
	char a[64];

	netaddr_format(&p->addr, a, sizeof(a));
	snprintf(out, outlen, "%s/%u", a, p->len);
}

static void
check_addr(const char *s)
{
	struct netaddr a, b;
	char f1[64], f2[64];

	if (!netaddr_parse(s, &a))
		return;
	FUZZ_CHECK(a.family == 4 || a.family == 6, "family %u", a.family);
	netaddr_format(&a, f1, sizeof(f1));
	FUZZ_CHECK(netaddr_parse(f1, &b), "formatted %s (from %s) does not parse", f1, s);
	FUZZ_CHECK(!netaddr_cmp(&a, &b) && a.family == b.family, "%s -> %s differs", s, f1);
	netaddr_format(&b, f2, sizeof(f2));
	FUZZ_CHECK(!strcmp(f1, f2), "format not a fixed point: %s / %s", f1, f2);
}

static bool
same_prefix(const struct netprefix *a, const struct netprefix *b)
{
	return a->len == b->len && a->addr.family == b->addr.family &&
	       !memcmp(a->addr.bytes, b->addr.bytes, 16);
}

/* Schema, compiler and BIRD resolver must accept exactly the same lists. */
static bool
accepted_by_all(json_t *prefixes, struct pl_list **pl, struct bird_plist *bl)
{
	struct vpn_error e1, e2, e3;
	json_t *obj = json_pack("{s:O}", "prefixes", prefixes);
	bool a, b, c;

	vpn_error_clear(&e1);
	vpn_error_clear(&e2);
	vpn_error_clear(&e3);
	a = pl_compile(prefixes, pl, &e1) == VPN_OK;
	b = bird_plist_from_json(prefixes, bl, &e2) == VPN_OK;
	c = schema_validate(plist_type, obj, &e3) == VPN_OK;
	json_decref(obj);
	FUZZ_CHECK(a == b, "pl_compile %s (%s) but bird_plist_from_json %s (%s)",
		   a ? "accepts" : "refuses", e1.msg, b ? "accepts" : "refuses", e2.msg);
	FUZZ_CHECK(a == c, "pl_compile %s (%s) but the PrefixList schema %s (%s)",
		   a ? "accepts" : "refuses", e1.msg, c ? "accepts" : "refuses", e3.msg);
	return a;
}

static void
text_mode(const char *s)
{
	struct netprefix p, q, m;
	struct pl_list *pl = NULL;
	struct bird_plist bl = { 0, NULL };
	char f1[80], f2[80];
	json_t *arr;

	check_addr(s);
	if (netprefix_parse(s, &p)) {
		FUZZ_CHECK(p.len <= netaddr_bits(&p.addr), "%s: len %u", s, p.len);
		fmt_prefix(&p, f1, sizeof(f1));
		FUZZ_CHECK(netprefix_parse(f1, &q), "formatted %s (from %s) does not parse", f1, s);
		FUZZ_CHECK(same_prefix(&p, &q), "%s -> %s differs", s, f1);
		fmt_prefix(&q, f2, sizeof(f2));
		FUZZ_CHECK(!strcmp(f1, f2), "format not a fixed point: %s / %s", f1, f2);
		FUZZ_CHECK(netprefix_contains(&p, &p.addr), "%s does not contain its address", s);
		FUZZ_CHECK(netprefix_overlaps(&p, &p), "%s does not overlap itself", s);
		m = p;
		for (unsigned i = m.len; i < 128; i++)
			m.addr.bytes[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
		FUZZ_CHECK(netprefix_is_network(&p) == same_prefix(&p, &m),
			   "%s: is_network disagrees with masking", s);
		FUZZ_CHECK(netprefix_is_network(&m) && netprefix_contains(&m, &p.addr),
			   "%s: masked network", s);
	}
	arr = json_pack("[{s:s}]", "network", s);
	if (arr && accepted_by_all(arr, &pl, &bl)) {
		FUZZ_CHECK(pl_count(pl) == 1 && bl.n == 1, "one entry");
		if (strcmp(s, "ANY")) {
			int idx;

			FUZZ_CHECK(netprefix_parse(s, &p), "%s accepted but not a CIDR", s);
			/* an exact entry matches its own network and nothing longer */
			FUZZ_CHECK(pl_match(pl, &p, &idx) == PL_PERMIT && idx == 0, "%s self", s);
			if (p.len < netaddr_bits(&p.addr)) {
				q = p;
				q.len++;
				FUZZ_CHECK(pl_match(pl, &q, &idx) == PL_DENY && idx == -1,
					   "%s matches a longer route", s);
			}
		}
	}
	pl_free(pl);
	bird_plist_release(&bl);
	json_decref(arr);
}

/* ---- structured mode ---- */

#define MAX_ENT 24
#define MAX_ROUTES 24

static bool
route_in(const struct netprefix *r, const struct netprefix *net)
{
	return r->addr.family == net->addr.family && r->len >= net->len &&
	       netprefix_contains(net, &r->addr);
}

/* First match by a plain scan of the resolved BIRD entries. */
static int
scan_bird(const struct bird_plist *bl, const struct netprefix *r)
{
	size_t i;

	for (i = 0; i < bl->n; i++) {
		const struct bird_pentry *e = &bl->e[i];

		if (e->any || (route_in(r, &e->net) && e->lo <= r->len && r->len <= e->hi))
			return (int)i;
	}
	return -1;
}

/* First match by a plain scan of the JSON itself, with FRR's ge/le rules spelled out. */
static int
scan_json(const json_t *prefixes, const struct netprefix *r)
{
	size_t i;
	json_t *ent;

	json_array_foreach(prefixes, i, ent) {
		const char *net = json_string_value(json_object_get(ent, "network"));
		json_int_t ge = json_integer_value(json_object_get(ent, "ge"));
		json_int_t le = json_integer_value(json_object_get(ent, "le"));
		struct netprefix p;
		json_int_t lo, hi, bits;

		if (!strcmp(net, "ANY"))
			return (int)i;
		if (!netprefix_parse(net, &p))
			abort();
		bits = netaddr_bits(&p.addr);
		lo = ge ? ge : p.len;
		hi = le ? le : ge ? bits : p.len;
		if (route_in(r, &p) && lo <= r->len && r->len <= hi)
			return (int)i;
	}
	return -1;
}

static void
read_prefix(struct fuzz_in *in, struct netprefix *p, uint8_t fam)
{
	unsigned i, nb;

	memset(p, 0, sizeof(*p));
	p->addr.family = fam;
	nb = fam == 4 ? 4 : 16;
	/* short inputs: mostly zero bytes, so entries and routes share prefixes */
	for (i = 0; i < nb; i++)
		p->addr.bytes[i] = i < 3 || fam == 4 ? fuzz_u8(in) : (uint8_t)(i == 15 ? fuzz_u8(in) : 0);
	p->len = (uint8_t)(fuzz_u8(in) % (netaddr_bits(&p->addr) + 1));
}

static void
struct_mode(struct fuzz_in *in)
{
	json_t *arr = json_array();
	struct netprefix routes[MAX_ROUTES], p;
	size_t nent = 1 + fuzz_u8(in) % MAX_ENT, nr = 0, i;
	struct pl_list *pl = NULL;
	struct bird_plist bl = { 0, NULL };
	char net[80];

	for (i = 0; i < nent && in->n; i++) {
		uint8_t flags = fuzz_u8(in), ge = fuzz_u8(in), le = fuzz_u8(in);
		json_t *ent;

		read_prefix(in, &p, flags & 1 ? 6 : 4);
		if ((flags & 0x0e) == 0x0e)
			snprintf(net, sizeof(net), "ANY");
		else
			fmt_prefix(&p, net, sizeof(net));
		ent = json_pack("{s:s}", "network", net);
		if (flags & 0x10)
			json_object_set_new(ent, "action", json_string(flags & 0x20 ? "DENY" : "PERMIT"));
		/* ge/le: absent, 0 (= unset), or a length around the interesting range */
		if (flags & 0x40)
			json_object_set_new(ent, "ge", json_integer(ge % 140));
		if (flags & 0x80)
			json_object_set_new(ent, "le", json_integer(le % 140));
		json_array_append_new(arr, ent);
	}
	while (nr < MAX_ROUTES && in->n) {
		uint8_t fam = fuzz_u8(in);

		read_prefix(in, &routes[nr++], fam & 1 ? 6 : 4);
	}
	if (accepted_by_all(arr, &pl, &bl)) {
		FUZZ_CHECK(pl_count(pl) == json_array_size(arr) && bl.n == pl_count(pl), "count");
		for (i = 0; i < nr; i++) {
			int idx, want = scan_json(arr, &routes[i]);
			enum pl_action act = pl_match(pl, &routes[i], &idx);

			fmt_prefix(&routes[i], net, sizeof(net));
			FUZZ_CHECK(idx == want, "route %s: trie picks entry %d, a scan picks %d", net,
				   idx, want);
			FUZZ_CHECK(scan_bird(&bl, &routes[i]) == want,
				   "route %s: BIRD entries pick %d, the JSON %d", net,
				   scan_bird(&bl, &routes[i]), want);
			FUZZ_CHECK(want < 0 ? act == PL_DENY : act == bl.e[want].action,
				   "route %s: action", net);
		}
	}
	pl_free(pl);
	bird_plist_release(&bl);
	json_decref(arr);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data + 1, size ? size - 1 : 0 };

	if (!size)
		return 0;
	if (data[0] & 1) {
		struct_mode(&in);
	} else {
		char *s = fuzz_strndup(data + 1, size - 1);

		text_mode(s);
		free(s);
	}
	return 0;
}
