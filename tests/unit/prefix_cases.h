/*
 * prefix_cases.h - the FRR prefix-list case table, shared by tests/unit/test_prefix.c (the trie)
 * and tests/unit/test_bird*.c (the BIRD filter translation must decide every case the same way).
 *
 * Expected results follow FRR's prefix_list_entry_match() (lib/plist.c). Include once per test
 * program; it defines a static table.
 */
#ifndef VPND_TEST_PREFIX_CASES_H
#define VPND_TEST_PREFIX_CASES_H

#include "realize/prefix.h"

#define P PL_PERMIT
#define D PL_DENY

struct pl_case {
	const char *name;
	const char *list;	/* JSON, ' stands for " */
	const char *route;
	enum pl_action want;
	int idx;		/* entry that decides; -1 = implicit deny */
};

static const struct pl_case cases[] = {
	/* no ge/le: the exact network only */
	{ "exact", "[{'network':'10.0.0.0/8','action':'PERMIT'}]", "10.0.0.0/8", P, 0 },
	{ "exact, longer route", "[{'network':'10.0.0.0/8','action':'PERMIT'}]", "10.1.0.0/16", D, -1 },
	{ "exact, shorter route", "[{'network':'10.0.0.0/8','action':'PERMIT'}]", "0.0.0.0/0", D, -1 },
	{ "exact, explicit zeros", "[{'network':'10.0.0.0/8','action':'PERMIT','ge':0,'le':0}]",
	  "10.1.0.0/16", D, -1 },
	{ "exact, explicit zeros hit", "[{'network':'10.0.0.0/8','action':'PERMIT','ge':0,'le':0}]",
	  "10.0.0.0/8", P, 0 },
	/* le: network length .. le */
	{ "le /8", "[{'network':'10.0.0.0/8','action':'PERMIT','le':24}]", "10.0.0.0/8", P, 0 },
	{ "le /16", "[{'network':'10.0.0.0/8','action':'PERMIT','le':24}]", "10.1.0.0/16", P, 0 },
	{ "le /24", "[{'network':'10.0.0.0/8','action':'PERMIT','le':24}]", "10.1.1.0/24", P, 0 },
	{ "le /25", "[{'network':'10.0.0.0/8','action':'PERMIT','le':24}]", "10.1.1.0/25", D, -1 },
	{ "le, ge 0", "[{'network':'10.0.0.0/8','action':'PERMIT','ge':0,'le':24}]", "10.1.0.0/16",
	  P, 0 },
	{ "le, outside", "[{'network':'10.0.0.0/8','action':'PERMIT','le':24}]", "11.0.0.0/16", D,
	  -1 },
	/* ge: ge .. 32 */
	{ "ge /24", "[{'network':'10.0.0.0/8','action':'PERMIT','ge':24}]", "10.1.1.0/24", P, 0 },
	{ "ge /32", "[{'network':'10.0.0.0/8','action':'PERMIT','ge':24}]", "10.1.1.1/32", P, 0 },
	{ "ge /16", "[{'network':'10.0.0.0/8','action':'PERMIT','ge':24}]", "10.1.0.0/16", D, -1 },
	{ "ge /8", "[{'network':'10.0.0.0/8','action':'PERMIT','ge':24}]", "10.0.0.0/8", D, -1 },
	/* ge + le */
	{ "ge le /15", "[{'network':'10.0.0.0/8','action':'PERMIT','ge':16,'le':24}]", "10.0.0.0/15",
	  D, -1 },
	{ "ge le /16", "[{'network':'10.0.0.0/8','action':'PERMIT','ge':16,'le':24}]", "10.2.0.0/16",
	  P, 0 },
	{ "ge le /20", "[{'network':'10.0.0.0/8','action':'PERMIT','ge':16,'le':24}]", "10.2.16.0/20",
	  P, 0 },
	{ "ge le /24", "[{'network':'10.0.0.0/8','action':'PERMIT','ge':16,'le':24}]", "10.2.3.0/24",
	  P, 0 },
	{ "ge le /25", "[{'network':'10.0.0.0/8','action':'PERMIT','ge':16,'le':24}]",
	  "10.2.3.128/25", D, -1 },
	{ "ge == le", "[{'network':'10.0.0.0/8','action':'PERMIT','ge':24,'le':24}]", "10.9.9.0/24",
	  P, 0 },
	/* ANY */
	{ "ANY first", "[{'network':'ANY','action':'DENY'},{'network':'10.0.0.0/8','action':'PERMIT'}]",
	  "10.0.0.0/8", D, 0 },
	{ "ANY first, IPv6", "[{'network':'ANY','action':'DENY'},{'network':'::/0','action':'PERMIT'}]",
	  "::/0", D, 0 },
	{ "ANY after deny, denied", "[{'network':'10.0.0.0/8','action':'DENY','le':32},"
	  "{'network':'ANY','action':'PERMIT'}]", "10.1.0.0/16", D, 0 },
	{ "ANY after deny, other v4", "[{'network':'10.0.0.0/8','action':'DENY','le':32},"
	  "{'network':'ANY','action':'PERMIT'}]", "192.168.1.0/24", P, 1 },
	{ "ANY after deny, v6", "[{'network':'10.0.0.0/8','action':'DENY','le':32},"
	  "{'network':'ANY','action':'PERMIT'}]", "2001:db8::/32", P, 1 },
	{ "ANY after deny, host", "[{'network':'10.0.0.0/8','action':'DENY','le':32},"
	  "{'network':'ANY','action':'PERMIT'}]", "10.255.255.255/32", D, 0 },
	{ "ANY, default route", "[{'network':'ANY','action':'PERMIT'}]", "0.0.0.0/0", P, 0 },
	{ "ANY, v6 host", "[{'network':'ANY','action':'PERMIT'}]", "2001:db8::1/128", P, 0 },
	{ "ANY ignores le", "[{'network':'ANY','action':'DENY','le':24}]", "10.1.1.1/32", D, 0 },
	{ "two ANY, first wins", "[{'network':'ANY','action':'PERMIT'},{'network':'ANY','action':'DENY'}]",
	  "10.0.0.0/8", P, 0 },
	/* order matters: a DENY of a more specific prefix before a covering PERMIT */
	{ "deny before permit, denied", "[{'network':'10.1.0.0/16','action':'DENY','le':32},"
	  "{'network':'10.0.0.0/8','action':'PERMIT','le':32}]", "10.1.2.0/24", D, 0 },
	{ "deny before permit, sibling", "[{'network':'10.1.0.0/16','action':'DENY','le':32},"
	  "{'network':'10.0.0.0/8','action':'PERMIT','le':32}]", "10.2.0.0/16", P, 1 },
	{ "deny before permit, cover", "[{'network':'10.1.0.0/16','action':'DENY','le':32},"
	  "{'network':'10.0.0.0/8','action':'PERMIT','le':32}]", "10.0.0.0/8", P, 1 },
	{ "permit before deny", "[{'network':'10.0.0.0/8','action':'PERMIT','le':32},"
	  "{'network':'10.1.0.0/16','action':'DENY','le':32}]", "10.1.2.0/24", P, 0 },
	{ "specific permit first, deeper node", "[{'network':'10.1.0.0/16','action':'PERMIT','le':32},"
	  "{'network':'10.0.0.0/8','action':'DENY','le':32}]", "10.1.5.0/24", P, 0 },
	{ "entry longer than route", "[{'network':'10.1.0.0/16','action':'PERMIT','le':32}]",
	  "10.0.0.0/8", D, -1 },
	/* outside every entry */
	{ "outside all", "[{'network':'10.0.0.0/8','action':'PERMIT','le':32},"
	  "{'network':'172.16.0.0/12','action':'PERMIT','le':32}]", "192.168.0.0/16", D, -1 },
	{ "second entry", "[{'network':'10.0.0.0/8','action':'PERMIT','le':32},"
	  "{'network':'172.16.0.0/12','action':'DENY','le':32}]", "172.20.0.0/16", D, 1 },
	/* host routes */
	{ "host exact", "[{'network':'192.168.1.1/32','action':'PERMIT'}]", "192.168.1.1/32", P, 0 },
	{ "host other", "[{'network':'192.168.1.1/32','action':'PERMIT'}]", "192.168.1.2/32", D, -1 },
	{ "host via ge 32", "[{'network':'192.168.1.0/24','action':'PERMIT','ge':32}]",
	  "192.168.1.77/32", P, 0 },
	{ "ge 32, network itself", "[{'network':'192.168.1.0/24','action':'PERMIT','ge':32}]",
	  "192.168.1.0/24", D, -1 },
	{ "host le 32", "[{'network':'192.168.1.1/32','action':'PERMIT','le':32}]",
	  "192.168.1.1/32", P, 0 },
	/* 0.0.0.0/0 itself */
	{ "default only", "[{'network':'0.0.0.0/0','action':'PERMIT'}]", "0.0.0.0/0", P, 0 },
	{ "default only, /8", "[{'network':'0.0.0.0/0','action':'PERMIT'}]", "10.0.0.0/8", D, -1 },
	{ "default le 32, /8", "[{'network':'0.0.0.0/0','action':'PERMIT','le':32}]", "10.0.0.0/8", P,
	  0 },
	{ "default le 32, host", "[{'network':'0.0.0.0/0','action':'PERMIT','le':32}]", "1.2.3.4/32",
	  P, 0 },
	{ "default ge 25", "[{'network':'0.0.0.0/0','action':'DENY','ge':25},"
	  "{'network':'0.0.0.0/0','action':'PERMIT','le':32}]", "10.1.1.0/25", D, 0 },
	{ "default ge 25, /24", "[{'network':'0.0.0.0/0','action':'DENY','ge':25},"
	  "{'network':'0.0.0.0/0','action':'PERMIT','le':32}]", "10.1.1.0/24", P, 1 },
	/* IPv6 */
	{ "v6 le", "[{'network':'2001:db8::/32','action':'PERMIT','le':64}]", "2001:db8:1::/48", P, 0 },
	{ "v6 le, itself", "[{'network':'2001:db8::/32','action':'PERMIT','le':64}]", "2001:db8::/32",
	  P, 0 },
	{ "v6 le, too long", "[{'network':'2001:db8::/32','action':'PERMIT','le':64}]",
	  "2001:db8:1:2::/80", D, -1 },
	{ "v6 le, outside", "[{'network':'2001:db8::/32','action':'PERMIT','le':64}]", "2001:db9::/32",
	  D, -1 },
	{ "v6 default only", "[{'network':'::/0','action':'PERMIT'}]", "::/0", P, 0 },
	{ "v6 default only, /32", "[{'network':'::/0','action':'PERMIT'}]", "2001:db8::/32", D, -1 },
	{ "v6 host ge 128", "[{'network':'2001:db8::/32','action':'PERMIT','ge':128}]",
	  "2001:db8::1/128", P, 0 },
	{ "v6 deny first", "[{'network':'2001:db8:1::/48','action':'DENY','le':128},"
	  "{'network':'2001:db8::/32','action':'PERMIT','le':128}]", "2001:db8:1:1::/64", D, 0 },
	/* families never mix */
	{ "v4 entry, v6 route", "[{'network':'0.0.0.0/0','action':'PERMIT','le':32}]", "::/0", D, -1 },
	{ "v4 entry, v4-mapped v6 route", "[{'network':'10.0.0.0/8','action':'PERMIT','le':32}]",
	  "::ffff:10.0.0.0/104", D, -1 },
	{ "v6 entry, v4 route", "[{'network':'::/0','action':'PERMIT','le':128}]", "10.0.0.0/8", D,
	  -1 },
	{ "v6 deny, v4 permit", "[{'network':'::/0','action':'DENY','le':128},"
	  "{'network':'0.0.0.0/0','action':'PERMIT','le':32}]", "10.0.0.0/8", P, 1 },
	/* ge / le equal to the network length */
	{ "ge == len, itself", "[{'network':'10.0.0.0/8','action':'PERMIT','ge':8}]", "10.0.0.0/8", P,
	  0 },
	{ "ge == len, host", "[{'network':'10.0.0.0/8','action':'PERMIT','ge':8}]", "10.1.1.1/32", P,
	  0 },
	{ "ge == len, shorter", "[{'network':'10.0.0.0/8','action':'PERMIT','ge':8}]", "0.0.0.0/0", D,
	  -1 },
	{ "le == len, itself", "[{'network':'10.0.0.0/8','action':'PERMIT','le':8}]", "10.0.0.0/8", P,
	  0 },
	{ "le == len, /9", "[{'network':'10.0.0.0/8','action':'PERMIT','le':8}]", "10.0.0.0/9", D, -1 },
	/* same network, different ranges: first by order wins */
	{ "same net, first range", "[{'network':'10.0.0.0/8','action':'DENY','ge':24,'le':24},"
	  "{'network':'10.0.0.0/8','action':'PERMIT','ge':16,'le':28},"
	  "{'network':'10.0.0.0/8','action':'DENY','le':32}]", "10.1.1.0/24", D, 0 },
	{ "same net, second range", "[{'network':'10.0.0.0/8','action':'DENY','ge':24,'le':24},"
	  "{'network':'10.0.0.0/8','action':'PERMIT','ge':16,'le':28},"
	  "{'network':'10.0.0.0/8','action':'DENY','le':32}]", "10.1.0.0/16", P, 1 },
	{ "same net, second range /28", "[{'network':'10.0.0.0/8','action':'DENY','ge':24,'le':24},"
	  "{'network':'10.0.0.0/8','action':'PERMIT','ge':16,'le':28},"
	  "{'network':'10.0.0.0/8','action':'DENY','le':32}]", "10.1.1.16/28", P, 1 },
	{ "same net, third range", "[{'network':'10.0.0.0/8','action':'DENY','ge':24,'le':24},"
	  "{'network':'10.0.0.0/8','action':'PERMIT','ge':16,'le':28},"
	  "{'network':'10.0.0.0/8','action':'DENY','le':32}]", "10.1.1.0/29", D, 2 },
	{ "same net, itself", "[{'network':'10.0.0.0/8','action':'DENY','ge':24,'le':24},"
	  "{'network':'10.0.0.0/8','action':'PERMIT','ge':16,'le':28},"
	  "{'network':'10.0.0.0/8','action':'DENY','le':32}]", "10.0.0.0/8", D, 2 },
	{ "same net and range, first wins", "[{'network':'10.0.0.0/8','action':'PERMIT','le':24},"
	  "{'network':'10.0.0.0/8','action':'DENY','le':24}]", "10.1.0.0/16", P, 0 },
	/* the seed's example: 10.0.0.0/8 PERMIT le 26 (FRR: /8 .. /26 inside 10/8) */
	{ "seed 10.0.0.0/8", "[{'network':'10.0.0.0/8','action':'PERMIT','le':26}]", "10.0.0.0/8", P,
	  0 },
	{ "seed 10.1.0.0/16", "[{'network':'10.0.0.0/8','action':'PERMIT','le':26}]", "10.1.0.0/16", P,
	  0 },
	{ "seed 10.1.1.0/26", "[{'network':'10.0.0.0/8','action':'PERMIT','le':26}]", "10.1.1.0/26", P,
	  0 },
	{ "seed 10.1.1.0/27", "[{'network':'10.0.0.0/8','action':'PERMIT','le':26}]", "10.1.1.0/27", D,
	  -1 },
	{ "seed 11.0.0.0/8", "[{'network':'10.0.0.0/8','action':'PERMIT','le':26}]", "11.0.0.0/8", D,
	  -1 },
	/* docs/prefix.md's worked example */
#define DOC_LIST "[{'network':'10.1.0.0/16','action':'DENY','le':32}," \
	"{'network':'10.0.0.0/8','action':'PERMIT','le':24}," \
	"{'network':'192.168.0.0/16','action':'PERMIT','ge':24,'le':28}," \
	"{'network':'ANY','action':'DENY'}]"
	{ "doc 10.1.2.0/24", DOC_LIST, "10.1.2.0/24", D, 0 },
	{ "doc 10.2.0.0/16", DOC_LIST, "10.2.0.0/16", P, 1 },
	{ "doc 10.0.0.0/8", DOC_LIST, "10.0.0.0/8", P, 1 },
	{ "doc 10.2.3.128/25", DOC_LIST, "10.2.3.128/25", D, 3 },
	{ "doc 192.168.5.0/24", DOC_LIST, "192.168.5.0/24", P, 2 },
	{ "doc 192.168.0.0/16", DOC_LIST, "192.168.0.0/16", D, 3 },
	{ "doc 2001:db8::/32", DOC_LIST, "2001:db8::/32", D, 3 },
	/* input details */
	{ "action defaults to PERMIT", "[{'network':'10.0.0.0/8'}]", "10.0.0.0/8", P, 0 },
	{ "network host bits masked", "[{'network':'10.1.2.3/8','action':'PERMIT','le':16}]",
	  "10.9.0.0/16", P, 0 },
	{ "route host bits ignored", "[{'network':'10.0.0.0/8','action':'PERMIT'}]", "10.1.2.3/8", P,
	  0 },
	{ "null ge", "[{'network':'10.0.0.0/8','action':'PERMIT','ge':null,'le':16}]", "10.1.0.0/16",
	  P, 0 },
};

#endif
