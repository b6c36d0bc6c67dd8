/*
 * prefix.c - prefix-list compilation and first-match filtering (see prefix.h, docs/prefix.md).
 *
 * Layout: one binary trie per family. Node n stands for the prefix spelled by the path from the
 * root; the entries whose (masked) network is exactly that prefix sit in slots[first, first+count)
 * in ascending entry order, each with the route-length range [lo, hi] it admits. submin is the
 * lowest entry index anywhere in n's subtree, so a walk stops as soon as nothing below can beat
 * the best match so far. "ANY" entries live outside the tries: they admit every route, so only
 * the lowest ANY index matters and it seeds the search as the match to beat.
 */
#include "realize/prefix.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PL_NONE UINT32_MAX

struct pl_slot {
	uint32_t idx;		/* entry index in the list */
	uint8_t lo, hi;		/* admitted route lengths, inclusive */
};

struct pl_node {
	uint32_t child[2];	/* node indexes; 0 = none (the root is never a child) */
	uint32_t first;		/* first slot of this node's entries */
	uint32_t count;		/* number of slots */
	uint32_t submin;	/* lowest entry index in this subtree, PL_NONE if none */
};

struct pl_trie {
	struct pl_node *nodes;	/* nodes[0] is the root when nnodes > 0 */
	uint32_t nnodes, cap;
	struct pl_slot *slots;
};

struct pl_list {
	size_t n;		/* entries */
	uint8_t *action;	/* per entry: enum pl_action */
	struct pl_trie trie[2];	/* [0] IPv4, [1] IPv6 */
	uint32_t *any;		/* indexes of ANY entries, ascending */
	size_t nany;
};

/* One parsed entry, only needed while compiling. */
struct pl_src {
	struct netprefix net;
	uint8_t lo, hi;
	bool is_any;
};

static inline unsigned
addr_bit(const uint8_t *bytes, unsigned i)
{
	return (bytes[i >> 3] >> (7 - (i & 7))) & 1u;
}

static void
mask_host_bits(struct netprefix *p)
{
	unsigned i;

	for (i = p->len; i < 128; i++)
		p->addr.bytes[i >> 3] &= (uint8_t)~(0x80u >> (i & 7));
}

/* ge/le: absent, null or 0 -> *out = 0 (unset). */
static enum vpn_err
get_len(const json_t *ent, size_t i, const char *key, long long *out, struct vpn_error *err)
{
	const json_t *v = json_object_get(ent, key);

	*out = 0;
	if (!v || json_is_null(v))
		return VPN_OK;
	if (!json_is_integer(v))
		return vpn_error_set(err, VPN_E_INVALID, 0, "prefixes[%zu].%s must be an integer",
				     i, key);
	*out = (long long)json_integer_value(v);
	if (*out < 0)
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "prefixes[%zu].%s value %lld must not be negative", i, key, *out);
	return VPN_OK;
}

static enum vpn_err
parse_entry(const json_t *ent, size_t i, struct pl_src *src, uint8_t *action,
	    struct vpn_error *err)
{
	const json_t *jnet, *jact;
	const char *net, *act;
	long long ge, le, bits = 128, len = 0;
	enum vpn_err rc;

	memset(src, 0, sizeof(*src));
	if (!json_is_object(ent))
		return vpn_error_set(err, VPN_E_INVALID, 0, "prefixes[%zu] must be an object", i);

	jnet = json_object_get(ent, "network");
	if (!jnet)
		return vpn_error_set(err, VPN_E_INVALID, 0, "prefixes[%zu].network is required", i);
	net = json_string_value(jnet);
	if (!net)
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "prefixes[%zu].network must be a CIDR string or ANY", i);
	if (!strcmp(net, "ANY")) {
		src->is_any = true;
	} else {
		if (!netprefix_parse(net, &src->net))
			return vpn_error_set(err, VPN_E_INVALID, 0,
					     "prefixes[%zu].network value '%.64s' is not a valid "
					     "CIDR or ANY", i, net);
		mask_host_bits(&src->net);	/* FRR: "prefix changed ... to match length" */
		bits = netaddr_bits(&src->net.addr);
		len = src->net.len;
	}

	jact = json_object_get(ent, "action");
	if (!jact) {
		*action = PL_PERMIT;	/* NSX / Terraform default */
	} else {
		act = json_string_value(jact);
		if (act && !strcmp(act, "PERMIT"))
			*action = PL_PERMIT;
		else if (act && !strcmp(act, "DENY"))
			*action = PL_DENY;
		else if (act)
			return vpn_error_set(err, VPN_E_INVALID, 0,
					     "prefixes[%zu].action value '%.16s' must be PERMIT or "
					     "DENY", i, act);
		else
			return vpn_error_set(err, VPN_E_INVALID, 0,
					     "prefixes[%zu].action must be the string PERMIT or DENY",
					     i);
	}

	rc = get_len(ent, i, "ge", &ge, err);
	if (rc)
		return rc;
	rc = get_len(ent, i, "le", &le, err);
	if (rc)
		return rc;
	if (ge > bits)
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "prefixes[%zu].ge value %lld exceeds %lld for %s", i, ge, bits,
				     src->is_any ? "ANY" : bits == 32 ? "an IPv4 network" :
				     "an IPv6 network");
	if (le > bits)
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "prefixes[%zu].le value %lld exceeds %lld for %s", i, le, bits,
				     src->is_any ? "ANY" : bits == 32 ? "an IPv4 network" :
				     "an IPv6 network");
	if (ge && ge < len)
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "prefixes[%zu].ge value %lld is shorter than the network's "
				     "prefix length %lld", i, ge, len);
	if (le && le < len)
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "prefixes[%zu].le value %lld is shorter than the network's "
				     "prefix length %lld", i, le, len);
	if (ge && le && ge > le)
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "prefixes[%zu].ge value %lld is greater than le %lld", i, ge, le);

	if (src->is_any)
		return VPN_OK;		/* ge/le checked, then ignored: ANY admits every length */
	if (!ge && !le) {
		src->lo = src->hi = (uint8_t)len;		/* exact */
	} else if (!ge) {
		src->lo = (uint8_t)len;				/* le only */
		src->hi = (uint8_t)le;
	} else {
		src->lo = (uint8_t)ge;				/* ge, up to le or the max */
		src->hi = (uint8_t)(le ? le : bits);
	}
	return VPN_OK;
}

/* Append a fresh node; returns its index or PL_NONE on allocation failure. */
static uint32_t
trie_node_new(struct pl_trie *t)
{
	struct pl_node *nn;
	uint32_t cap;

	if (t->nnodes == t->cap) {
		if (t->cap > UINT32_MAX / 2 / sizeof(*nn))
			return PL_NONE;
		cap = t->cap ? t->cap * 2 : 64;
		nn = realloc(t->nodes, (size_t)cap * sizeof(*nn));
		if (!nn)
			return PL_NONE;
		t->nodes = nn;
		t->cap = cap;
	}
	memset(&t->nodes[t->nnodes], 0, sizeof(t->nodes[0]));
	t->nodes[t->nnodes].submin = PL_NONE;
	return t->nnodes++;
}

/*
 * Build @t from the entries of @family in @src: nodes first (recording each entry's node in
 * @at), then slots grouped per node in ascending entry order, then submin bottom-up (every
 * child has a larger index than its parent, so one reverse pass suffices).
 */
static enum vpn_err
trie_build(struct pl_trie *t, const struct pl_src *src, size_t n, uint8_t family, uint32_t *at)
{
	uint32_t nslots = 0, node, next, k, sum;
	struct pl_node *nd;
	size_t i;
	unsigned d;

	for (i = 0; i < n; i++) {
		if (src[i].is_any || src[i].net.addr.family != family)
			continue;
		if (!t->nnodes && trie_node_new(t) == PL_NONE)
			return VPN_E_NOMEM;
		node = 0;
		for (d = 0; d < src[i].net.len; d++) {
			unsigned b = addr_bit(src[i].net.addr.bytes, d);

			next = t->nodes[node].child[b];
			if (!next) {
				next = trie_node_new(t);
				if (next == PL_NONE)
					return VPN_E_NOMEM;
				t->nodes[node].child[b] = next;
			}
			node = next;
		}
		at[i] = node;
		t->nodes[node].count++;
		nslots++;
	}
	if (!t->nnodes)
		return VPN_OK;
	if (t->nnodes < t->cap) {	/* trim the growth slack; keep the old block if this fails */
		nd = realloc(t->nodes, (size_t)t->nnodes * sizeof(*nd));
		if (nd) {
			t->nodes = nd;
			t->cap = t->nnodes;
		}
	}
	t->slots = calloc(nslots, sizeof(*t->slots));
	if (!t->slots)
		return VPN_E_NOMEM;
	for (sum = 0, k = 0; k < t->nnodes; k++) {
		t->nodes[k].first = sum;
		sum += t->nodes[k].count;
		t->nodes[k].count = 0;		/* refilled below as a cursor */
	}
	for (i = 0; i < n; i++) {
		struct pl_slot *s;

		if (src[i].is_any || src[i].net.addr.family != family)
			continue;
		nd = &t->nodes[at[i]];
		s = &t->slots[nd->first + nd->count++];
		s->idx = (uint32_t)i;
		s->lo = src[i].lo;
		s->hi = src[i].hi;
	}
	for (k = t->nnodes; k-- > 0;) {
		uint32_t m;

		nd = &t->nodes[k];
		m = nd->count ? t->slots[nd->first].idx : PL_NONE;
		if (nd->child[0] && t->nodes[nd->child[0]].submin < m)
			m = t->nodes[nd->child[0]].submin;
		if (nd->child[1] && t->nodes[nd->child[1]].submin < m)
			m = t->nodes[nd->child[1]].submin;
		nd->submin = m;
	}
	return VPN_OK;
}

void
pl_free(struct pl_list *l)
{
	unsigned f;

	if (!l)
		return;
	for (f = 0; f < 2; f++) {
		free(l->trie[f].nodes);
		free(l->trie[f].slots);
	}
	free(l->action);
	free(l->any);
	free(l);
}

size_t
pl_count(const struct pl_list *l)
{
	return l ? l->n : 0;
}

enum vpn_err
pl_compile(const json_t *prefixes, struct pl_list **out, struct vpn_error *err)
{
	struct pl_list *l = NULL;
	struct pl_src *src = NULL;
	uint32_t *at = NULL;
	enum vpn_err rc;
	size_t n, i;

	*out = NULL;
	if (!json_is_array(prefixes)) {
		rc = vpn_error_set(err, VPN_E_INVALID, 0, "prefixes must be an array");
		goto out;
	}
	n = json_array_size(prefixes);
	if (n == 0) {
		rc = vpn_error_set(err, VPN_E_INVALID, 0, "prefixes must have at least one entry");
		goto out;
	}
	if (n > PL_MAX_ENTRIES) {
		rc = vpn_error_set(err, VPN_E_INVALID, 0,
				   "prefixes has %zu entries; at most %d are supported", n,
				   PL_MAX_ENTRIES);
		goto out;
	}
	rc = VPN_E_NOMEM;
	l = calloc(1, sizeof(*l));
	src = calloc(n, sizeof(*src));
	at = calloc(n, sizeof(*at));
	if (!l || !src || !at)
		goto nomem;
	l->n = n;
	l->action = calloc(n, sizeof(*l->action));
	if (!l->action)
		goto nomem;
	for (i = 0; i < n; i++) {
		rc = parse_entry(json_array_get(prefixes, i), i, &src[i], &l->action[i], err);
		if (rc)
			goto out;
		if (src[i].is_any)
			l->nany++;
	}
	if (l->nany) {
		l->any = calloc(l->nany, sizeof(*l->any));
		if (!l->any)
			goto nomem;
		for (l->nany = 0, i = 0; i < n; i++)
			if (src[i].is_any)
				l->any[l->nany++] = (uint32_t)i;
	}
	rc = trie_build(&l->trie[0], src, n, 4, at);
	if (!rc)
		rc = trie_build(&l->trie[1], src, n, 6, at);
	if (rc)
		goto nomem;
	*out = l;
	l = NULL;
	rc = VPN_OK;
	goto out;
nomem:
	rc = vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory compiling a prefix list");
out:
	pl_free(l);
	free(src);
	free(at);
	return rc;
}

enum pl_action
pl_match(const struct pl_list *l, const struct netprefix *route, int *entry_index)
{
	const struct pl_trie *t;
	const struct pl_node *nd;
	uint32_t best, node = 0, k;
	unsigned r, d;

	if (entry_index)
		*entry_index = -1;
	if (!l)
		return PL_PERMIT;	/* no filter configured: everything passes */
	if (route->addr.family == 4)
		t = &l->trie[0];
	else if (route->addr.family == 6)
		t = &l->trie[1];
	else
		return PL_DENY;
	r = route->len;
	if (r > netaddr_bits(&route->addr))
		return PL_DENY;

	best = l->nany ? l->any[0] : PL_NONE;
	if (t->nnodes) {
		for (d = 0;; d++) {
			nd = &t->nodes[node];
			if (nd->submin >= best)
				break;		/* nothing at or below this node comes earlier */
			for (k = 0; k < nd->count; k++) {
				const struct pl_slot *s = &t->slots[nd->first + k];

				if (s->idx >= best)
					break;
				if (s->lo <= r && r <= s->hi) {
					best = s->idx;
					break;
				}
			}
			if (d == r)
				break;
			node = nd->child[addr_bit(route->addr.bytes, d)];
			if (!node)
				break;
		}
	}
	if (best == PL_NONE)
		return PL_DENY;
	if (entry_index)
		*entry_index = (int)best;
	return (enum pl_action)l->action[best];
}
