/*
 * prefix.h - compiled NSX/FRR prefix lists: first-match route filtering through a binary trie.
 *
 * A PrefixList's "prefixes" array (as vpnd stores it) compiles into an immutable struct pl_list.
 * Semantics are FRR's `ip prefix-list` (which NSX edges run): entries in array order, the first
 * entry that matches decides; no match is an implicit DENY. See docs/prefix.md.
 */
#ifndef VPND_PREFIX_H
#define VPND_PREFIX_H

#include <jansson.h>

#include "core/err.h"
#include "core/netaddr.h"

/* Most entries one list may hold (bounds the trie: at most 129 nodes per entry). */
#define PL_MAX_ENTRIES 100000

enum pl_action {
	PL_DENY = 0,
	PL_PERMIT = 1,
};

struct pl_list;		/* opaque, immutable after pl_compile */

/**
 * Compile @prefixes, the PrefixList "prefixes" array: objects
 *   {network: CIDR | "ANY", action?: "PERMIT" | "DENY" (default PERMIT), ge?: int, le?: int}
 * ge/le of 0 mean unset (Terraform's convention). A network with host bits set is masked to its
 * prefix length, as FRR does. "ANY" matches every route of both families; any ge/le given with
 * it are checked for range but ignored (FRR's `any` is 0.0.0.0/0 le 32 and ::/0 le 128).
 *
 * Rejects (VPN_E_INVALID, message naming prefixes[i].field): a non-array or empty array, more
 * than PL_MAX_ENTRIES entries, a non-object entry, a missing or malformed network, an action
 * other than PERMIT/DENY, non-integer or negative ge/le, ge/le beyond 32 (IPv4) or 128 (IPv6),
 * ge/le shorter than the network's prefix length, ge > le. VPN_E_NOMEM on allocation failure.
 * On success *out is a new list the caller frees with pl_free; on failure *out is NULL.
 */
enum vpn_err pl_compile(const json_t *prefixes, struct pl_list **out, struct vpn_error *err);

/* Free a compiled list. NULL-safe. */
void pl_free(struct pl_list *l);

/* Number of entries compiled into @l (0 for NULL). */
size_t pl_count(const struct pl_list *l);

/**
 * Filter one route. Returns the action of the first entry (in list order) that matches @route,
 * and stores that entry's index in *entry_index (when non-NULL); -1 and PL_DENY when no entry
 * matches (implicit deny). A NULL @l means "no filter configured" and returns PL_PERMIT with
 * index -1. A route of an unknown family or with a length beyond its family's bits matches
 * nothing. Host bits of @route beyond route->len are ignored.
 *
 * Read-only on @l: any number of threads may call it concurrently on the same list.
 * Cost: O(route->len x entries per trie node), independent of the list's length.
 */
enum pl_action pl_match(const struct pl_list *l, const struct netprefix *route, int *entry_index);

#endif
