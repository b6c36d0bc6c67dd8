/*
 * fuzz_bird: parsers of BIRD 2 control-socket replies and the protocol-name codec
 * (src/realize/bird.c) - bytes that come from a daemon.
 *
 * Input byte 0 picks the mode; the rest is a reply (modes 0-2) or names (3). Invariants:
 *   0 "show protocols [all]": on success every string field is NUL-terminated inside its
 *     array, the BGP state is a known one, the status derived from it is consistent;
 *   1/2 "show route ... all" / "show route export": every route has a known family, a length
 *     within it, terminated strings, and the advertised weight rule (32768 / 0);
 *   3 names: bird_proto_name gives [A-Za-z0-9_] of at most 48 characters starting "nbr_";
 *     it decodes back to the id exactly when it is the reversible form; anything the decoder
 *     accepts re-encodes to the same name; two different ids never share a name.
 */
#include <inttypes.h>
#include <string.h>

#include "fuzz.h"
#include "realize/bird.h"

#define TERMINATED(a) (memchr((a), '\0', sizeof(a)) != NULL)

static void
check_protocols(const char *r, size_t n)
{
	struct bird_proto *p = NULL;
	struct vpn_error e;
	size_t np = 0, i;

	vpn_error_clear(&e);
	if (bird_parse_protocols(r, n, &p, &np, &e)) {
		FUZZ_CHECK(!p && !np, "failure leaves output");
		return;
	}
	FUZZ_CHECK((np == 0) == (p == NULL), "n %zu, array %p", np, (void *)p);
	for (i = 0; i < np; i++) {
		struct rz_bgp_status st;

		FUZZ_CHECK(TERMINATED(p[i].name) && TERMINATED(p[i].proto) &&
			   TERMINATED(p[i].table) && TERMINATED(p[i].state) &&
			   TERMINATED(p[i].info) && TERMINATED(p[i].bgp_state_text) &&
			   TERMINATED(p[i].neighbor_address) && TERMINATED(p[i].neighbor_id) &&
			   TERMINATED(p[i].source_address) && TERMINATED(p[i].last_error) &&
			   TERMINATED(p[i].description), "protocol %zu: unterminated string", i);
		FUZZ_CHECK(p[i].bgp_state >= RZ_BGP_IDLE && p[i].bgp_state <= RZ_BGP_ESTABLISHED,
			   "bgp state %d", (int)p[i].bgp_state);
		memset(&st, 0, sizeof(st));
		bird_proto_bgp_status(&p[i], 1800000000, &st);
		FUZZ_CHECK(TERMINATED(st.source_address) && TERMINATED(st.neighbor_router_id),
			   "status strings");
		FUZZ_CHECK(st.state == RZ_BGP_ESTABLISHED || st.time_since_established_s == 0,
			   "time since established %" PRId64 " while %d", st.time_since_established_s,
			   (int)st.state);
		FUZZ_CHECK(st.time_since_established_s >= 0, "negative time since established");
	}
	free(p);
}

static void
check_routes(const char *r, size_t n, bool adv)
{
	struct rz_route *rt = NULL;
	struct vpn_error e;
	size_t nr = 0, i;

	vpn_error_clear(&e);
	if (bird_parse_routes(r, n, adv, &rt, &nr, &e)) {
		FUZZ_CHECK(!rt && !nr, "failure leaves output");
		return;
	}
	for (i = 0; i < nr; i++) {
		FUZZ_CHECK(rt[i].net.addr.family == 4 || rt[i].net.addr.family == 6, "family %u",
			   rt[i].net.addr.family);
		FUZZ_CHECK(rt[i].net.len <= netaddr_bits(&rt[i].net.addr), "length %u",
			   rt[i].net.len);
		FUZZ_CHECK(TERMINATED(rt[i].next_hop) && TERMINATED(rt[i].as_path), "strings");
		FUZZ_CHECK(rt[i].weight == (adv ? 32768 : 0), "weight %" PRId64, rt[i].weight);
	}
	free(rt);
}

static bool
name_chars_ok(const char *s)
{
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

static void
check_names(struct fuzz_in *in)
{
	char *a = fuzz_take_str(in, 200), *b = fuzz_take_str(in, 200);
	char na[BIRD_PROTO_NAME_MAX + 1], nb[BIRD_PROTO_NAME_MAX + 1], dec[256], re[256];
	bool oka = bird_proto_name(a, na), okb = bird_proto_name(b, nb);

	FUZZ_CHECK(oka == (*a != '\0'), "name of '%s'", a);
	if (oka) {
		FUZZ_CHECK(strlen(na) <= BIRD_PROTO_NAME_MAX && !strncmp(na, "nbr_", 4) &&
			   name_chars_ok(na), "name '%s'", na);
		if (bird_proto_name_decode(na, dec, sizeof(dec)))
			FUZZ_CHECK(!strcmp(dec, a), "'%s' -> '%s' -> '%s'", a, na, dec);
		else
			FUZZ_CHECK(strstr(na, "_h") && strlen(na) > 20, "'%s' -> '%s' undecodable", a,
				   na);
	}
	if (oka && okb && strcmp(a, b))
		FUZZ_CHECK(strcmp(na, nb), "'%s' and '%s' share the name %s", a, b, na);
	/* whatever the decoder accepts is what the encoder writes */
	if (bird_proto_name_decode(a, dec, sizeof(dec)) && bird_proto_name(dec, re))
		FUZZ_CHECK(!strcmp(re, a), "'%s' decodes to '%s', which encodes as '%s'", a, dec,
			   re);
	free(a);
	free(b);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data + 1, size ? size - 1 : 0 };
	char *r;

	if (!size)
		return 0;
	if (data[0] % 4 == 3) {
		check_names(&in);
		return 0;
	}
	/* an exact-size copy, so reading past the reply is caught */
	r = malloc(size - 1 ? size - 1 : 1);
	FUZZ_CHECK(r, "malloc");
	memcpy(r, data + 1, size - 1);
	if (data[0] % 4 == 0)
		check_protocols(r, size - 1);
	else
		check_routes(r, size - 1, data[0] % 4 == 2);
	free(r);
	return 0;
}
