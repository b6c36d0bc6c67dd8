/*
 * netaddr.h - strict IPv4/IPv6 address and CIDR parsing and containment.
 *
 * Addresses are kept as 16 bytes (IPv4 in the first 4) plus a family; prefix lengths are bits.
 * Parsers accept only canonical textual forms inet_pton accepts; CIDR "a.b.c.d/n" needs 0<=n<=32
 * (128 for IPv6). Host bits set in a CIDR are allowed by the parser; callers that need a network
 * address check netaddr_is_network().
 */
#ifndef VPND_NETADDR_H
#define VPND_NETADDR_H

#include <stdbool.h>
#include <stdint.h>

struct netaddr {
	uint8_t family;		/* 4 or 6 */
	uint8_t bytes[16];
};

struct netprefix {
	struct netaddr addr;
	uint8_t len;		/* prefix length in bits */
};

bool netaddr_parse(const char *s, struct netaddr *out);
bool netprefix_parse(const char *s, struct netprefix *out);
/* Max prefix length for the family: 32 or 128. */
unsigned netaddr_bits(const struct netaddr *a);
/* True when @a lies inside @p (same family). */
bool netprefix_contains(const struct netprefix *p, const struct netaddr *a);
/* True when the two prefixes share any address. */
bool netprefix_overlaps(const struct netprefix *a, const struct netprefix *b);
/* True when no host bits are set beyond p->len. */
bool netprefix_is_network(const struct netprefix *p);
/* Compare two addresses (family first, then bytes): <0, 0, >0. */
int netaddr_cmp(const struct netaddr *a, const struct netaddr *b);
/* Format into @out (at least 46 bytes). */
void netaddr_format(const struct netaddr *a, char *out, unsigned outlen);

#endif
