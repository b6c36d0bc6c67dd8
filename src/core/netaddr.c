#include "core/netaddr.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

bool
netaddr_parse(const char *s, struct netaddr *out)
{
	memset(out, 0, sizeof(*out));
	if (!s)
		return false;
	if (inet_pton(AF_INET, s, out->bytes) == 1) {
		out->family = 4;
		return true;
	}
	if (inet_pton(AF_INET6, s, out->bytes) == 1) {
		out->family = 6;
		return true;
	}
	return false;
}

unsigned
netaddr_bits(const struct netaddr *a)
{
	return a->family == 4 ? 32 : 128;
}

bool
netprefix_parse(const char *s, struct netprefix *out)
{
	const char *slash;
	char host[64];
	size_t hl;
	char *end;
	long n;

	memset(out, 0, sizeof(*out));
	if (!s)
		return false;
	slash = strchr(s, '/');
	if (!slash)
		return false;
	hl = (size_t)(slash - s);
	if (hl == 0 || hl >= sizeof(host))
		return false;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (!netaddr_parse(host, &out->addr))
		return false;
	if (slash[1] < '0' || slash[1] > '9' || (slash[1] == '0' && slash[2]))
		return false;
	n = strtol(slash + 1, &end, 10);
	if (*end || n < 0 || (unsigned long)n > netaddr_bits(&out->addr))
		return false;
	out->len = (uint8_t)n;
	return true;
}

static bool
prefix_match(const uint8_t *a, const uint8_t *b, unsigned len)
{
	unsigned full = len / 8, rem = len % 8;

	if (memcmp(a, b, full))
		return false;
	if (rem) {
		uint8_t mask = (uint8_t)(0xff << (8 - rem));
		if ((a[full] & mask) != (b[full] & mask))
			return false;
	}
	return true;
}

bool
netprefix_contains(const struct netprefix *p, const struct netaddr *a)
{
	if (p->addr.family != a->family)
		return false;
	return prefix_match(p->addr.bytes, a->bytes, p->len);
}

bool
netprefix_overlaps(const struct netprefix *a, const struct netprefix *b)
{
	if (a->addr.family != b->addr.family)
		return false;
	return prefix_match(a->addr.bytes, b->addr.bytes, a->len < b->len ? a->len : b->len);
}

bool
netprefix_is_network(const struct netprefix *p)
{
	unsigned bits = netaddr_bits(&p->addr), i;

	for (i = p->len; i < bits; i++)
		if (p->addr.bytes[i / 8] & (0x80 >> (i % 8)))
			return false;
	return true;
}

int
netaddr_cmp(const struct netaddr *a, const struct netaddr *b)
{
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->bytes, b->bytes, 16);
}

void
netaddr_format(const struct netaddr *a, char *out, unsigned outlen)
{
	if (!inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->bytes, out, outlen) && outlen)
		out[0] = '\0';
}
