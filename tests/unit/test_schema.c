/*
 * Unit tests for src/schema: the seed's bodies, every validation rule (negative and, at range
 * boundaries, positive), defaults, coercion, strip, render order, secrets and references.
 *
 * Most rule tests are table rows: a base body (the seed's example), a top-level patch merged
 * into it, and the text one violation must contain (NULL: the body must validate cleanly).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "schema/schema.h"

/* ---- the seed's example bodies (DPD without its trailing comma) ---- */

static const char SEED_IKE[] =
	"{\"digest_algorithms\":[],\"encryption_algorithms\":[\"AES_GCM_128\"],"
	"\"ike_version\":\"IKE_V2\",\"dh_groups\":[\"GROUP21\"],\"sa_life_time\":86400,"
	"\"resource_type\":\"IPSecVpnIkeProfile\",\"id\":\"VPNtoDFWDC1IKE\","
	"\"display_name\":\"VPNtoDFWDC1IKE\"}";

static const char SEED_TUNNEL[] =
	"{\"digest_algorithms\":[],\"encryption_algorithms\":[\"AES_GCM_128\"],"
	"\"enable_perfect_forward_secrecy\":true,\"dh_groups\":[\"GROUP21\"],\"sa_life_time\":3600,"
	"\"df_policy\":\"COPY\",\"resource_type\":\"IPSecVpnTunnelProfile\","
	"\"id\":\"VPNtoDFWDC1IPSEC\",\"display_name\":\"VPNtoDFWDC1IPSEC\"}";

static const char SEED_DPD[] =
	"{\"enabled\":true,\"dpd_probe_mode\":\"PERIODIC\",\"dpd_probe_interval\":60,"
	"\"retry_count\":5,\"resource_type\":\"IPSecVpnDpdProfile\","
	"\"id\":\"nsx-custom-l3vpn-dpd-profile\",\"display_name\":\"nsx-custom-l3vpn-dpd-profile\"}";

static const char SEED_PREFIX_LIST[] =
	"{\"prefixes\":[{\"network\":\"10.0.0.0/8\",\"action\":\"PERMIT\",\"le\":26}]}";

#define PL "/infra/tier-0s/vmc/prefix-lists/"

static const char SEED_BGP[] =
	"{\"neighbor_address\":\"169.254.151.1\",\"remote_as_num\":\"65006\","
	"\"route_filtering\":[{\"enabled\":true,\"address_family\":\"IPV4\","
	"\"in_route_filters\":[\"" PL "VPNPrefixList_inout\"],"
	"\"out_route_filters\":[\"" PL "VPNPrefixList_inout\"]}],"
	"\"keep_alive_time\":60,\"hold_down_time\":180,\"allow_as_in\":false,"
	"\"maximum_hop_limit\":1,\"resource_type\":\"BgpNeighborConfig\",\"id\":\"VPNtoDFWDC1BGP\","
	"\"password\":\"MyBGPPassword\",\"display_name\":\" VPNtoDFWDC1BGP\"}";

#define LEP "/infra/tier-0s/vmc/locale-services/default/ipsec-vpn-services/default/local-endpoints/"

#define SESSION_COMMON \
	"\"enabled\":true,\"local_endpoint_path\":\"" LEP "Private-IP1\"," \
	"\"authentication_mode\":\"PSK\",\"psk\":\"test123456\"," \
	"\"ike_profile_path\":\"/infra/ipsec-vpn-ike-profiles/VPNtoDFWDC1IKE\"," \
	"\"tunnel_profile_path\":\"/infra/ipsec-vpn-tunnel-profiles/VPNtoDFWDC1IPSEC\"," \
	"\"dpd_profile_path\":\"/infra/ipsec-vpn-dpd-profiles/nsx-default-l3vpn-dpd-profile\"," \
	"\"compliance_suite\":\"NONE\",\"connection_initiation_mode\":\"INITIATOR\"," \
	"\"peer_address\":\"10.0.0.1\",\"peer_id\":\"10.0.0.1\""

static const char SEED_ROUTE[] =
	"{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.151.2\"],"
	"\"prefix_length\":30}],\"resource_type\":\"IPSecVpnTunnelInterface\","
	"\"id\":\"default-tunnel-interface\",\"display_name\":\"default-tunnel-interface\"}],"
	"\"force_whitelisting\":false,\"resource_type\":\"RouteBasedIPSecVpnSession\","
	"\"id\":\"VPNtoDFWDC1\",\"display_name\":\" VPNtoDFWDC1\"," SESSION_COMMON "}";

static const char SEED_POLICY[] =
	"{\"rules\":[{\"sources\":[{\"subnet\":\"192.168.98.0/24\"},{\"subnet\":\"10.2.1.140/32\"}],"
	"\"destinations\":[{\"subnet\":\"192.168.123.0/24\"}],\"logged\":false,\"enabled\":true,"
	"\"action\":\"PROTECT\",\"sequence_number\":0,\"resource_type\":\"IPSecVpnRule\","
	"\"id\":\"Test-Policy-l3vpn-rule\",\"display_name\":\"Test-Policy-l3vpn-rule\"}],"
	"\"resource_type\":\"PolicyBasedIPSecVpnSession\",\"id\":\"VPNtoDFWDC1\","
	"\"display_name\":\"VPNtoDFWDC1\"," SESSION_COMMON "}";

/* The seed's optional TCP MSS clamping section, added to a session. */
static const char SEED_MSS[] = "{\"tcp_mss_clamping\":{\"direction\":\"BOTH\",\"max_segment_size\":1325}}";

#define IKE "IPSecVpnIkeProfile"
#define TUN "IPSecVpnTunnelProfile"
#define DPD "IPSecVpnDpdProfile"
#define PLT "PrefixList"
#define BGP "BgpNeighborConfig"
#define RBS "RouteBasedIPSecVpnSession"
#define PBS "PolicyBasedIPSecVpnSession"

/* ---- helpers ---- */

static json_t *
load(const char *s)
{
	json_error_t e;
	json_t *j = json_loads(s, 0, &e);

	if (!j)
		fail_msg("bad test JSON: %s: %s", e.text, s);
	return j;
}

static json_t *
body(const char *base, const char *patch)
{
	json_t *b = load(base), *p;

	if (patch) {
		p = load(patch);
		assert_int_equal(json_object_update(b, p), 0);
		json_decref(p);
	}
	return b;
}

static void
dump_errors(const struct vpn_error *e)
{
	unsigned i;

	for (i = 0; i < e->nrelated; i++)
		print_message("    [%u] %d %s\n", i, e->related[i].error_code, e->related[i].msg);
}

static bool
err_has(const struct vpn_error *e, const char *needle)
{
	unsigned i;

	for (i = 0; i < e->nrelated; i++)
		if (strstr(e->related[i].msg, needle))
			return true;
	return false;
}

static bool
err_mentions(const struct vpn_error *e, const char *s)
{
	return err_has(e, s) || strstr(e->msg, s);
}

static enum vpn_err
validate(const char *type, json_t *obj, struct vpn_error *err)
{
	const struct schema_type *t = schema_type_get(type);

	assert_non_null(t);
	vpn_error_clear(err);
	return schema_validate(t, obj, err);
}

/* Validate @obj as @type; it must pass. Returns @obj (normalised). */
static json_t *
must_pass(const char *type, json_t *obj)
{
	struct vpn_error err;

	if (validate(type, obj, &err) != VPN_OK) {
		dump_errors(&err);
		fail_msg("%s: expected no violation", type);
	}
	return obj;
}

/* Validate @obj as @type; some violation must contain @needle. Frees @obj. */
static void
must_fail(const char *type, json_t *obj, const char *needle, enum vpn_err code)
{
	struct vpn_error err;
	enum vpn_err rc = validate(type, obj, &err);

	if (rc != code || !err_has(&err, needle)) {
		dump_errors(&err);
		fail_msg("%s: expected %s with '%s', got %s", type, vpn_err_name(code), needle,
			 vpn_err_name(rc));
	}
	json_decref(obj);
}

static char *
repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* ---- table-driven rules ---- */

struct rule_case {
	const char *name;
	const char *type;
	const char *base;
	const char *patch;	/* merged into base at the top level */
	const char *needle;	/* NULL: must validate cleanly */
};

#define BAD(n, t, b, p, s) { n, t, b, p, s }
#define OK(n, t, b, p) { n, t, b, p, NULL }

static const struct rule_case cases[] = {
	/* seed bodies */
	OK("seed ike", IKE, SEED_IKE, NULL),
	OK("seed tunnel", TUN, SEED_TUNNEL, NULL),
	OK("seed dpd", DPD, SEED_DPD, NULL),
	OK("seed prefix list", PLT, SEED_PREFIX_LIST, NULL),
	OK("seed bgp", BGP, SEED_BGP, NULL),
	OK("seed route session", RBS, SEED_ROUTE, NULL),
	OK("seed policy session", PBS, SEED_POLICY, NULL),
	OK("seed route session + mss", RBS, SEED_ROUTE, SEED_MSS),
	OK("seed policy session + mss", PBS, SEED_POLICY, SEED_MSS),

	/* IKE enums (seed lists, case-sensitive) */
	BAD("ike enc enum", IKE, SEED_IKE, "{\"encryption_algorithms\":[\"AES_512\"]}",
	    "encryption_algorithms[0]: value 'AES_512' is not one of: AES_128, AES_256, AES_GCM_128"),
	BAD("ike enc case", IKE, SEED_IKE, "{\"encryption_algorithms\":[\"aes_gcm_128\"]}",
	    "encryption_algorithms[0]: value 'aes_gcm_128' is not one of"),
	BAD("ike digest enum (seed: SHA1, SHA2_256)", IKE, SEED_IKE,
	    "{\"encryption_algorithms\":[\"AES_128\"],\"digest_algorithms\":[\"SHA2_384\"]}",
	    "digest_algorithms[0]: value 'SHA2_384' is not one of: SHA1, SHA2_256"),
	BAD("ike dh enum", IKE, SEED_IKE, "{\"dh_groups\":[\"GROUP1\"]}",
	    "dh_groups[0]: value 'GROUP1' is not one of: GROUP2, GROUP5, GROUP14"),
	BAD("ike version enum", IKE, SEED_IKE, "{\"ike_version\":\"IKE_V3\"}",
	    "ike_version: value 'IKE_V3' is not one of: IKE_V1, IKE_V2, IKE_FLEX"),
	BAD("ike version case", IKE, SEED_IKE, "{\"ike_version\":\"ike_v2\"}",
	    "ike_version: value 'ike_v2'"),
	OK("ike all seed values", IKE, SEED_IKE,
	   "{\"encryption_algorithms\":[\"AES_128\",\"AES_256\"],\"digest_algorithms\":"
	   "[\"SHA1\",\"SHA2_256\"],\"dh_groups\":[\"GROUP2\",\"GROUP5\",\"GROUP14\",\"GROUP15\","
	   "\"GROUP16\",\"GROUP19\",\"GROUP20\",\"GROUP21\"],\"ike_version\":\"IKE_FLEX\"}"),
	OK("ike gcm all sizes", IKE, SEED_IKE,
	   "{\"encryption_algorithms\":[\"AES_GCM_128\",\"AES_GCM_192\",\"AES_GCM_256\"]}"),
	/* IKE ranges */
	BAD("ike sa min-1", IKE, SEED_IKE, "{\"sa_life_time\":21599}",
	    "sa_life_time: value 21599 is out of range [21600, 31536000]"),
	OK("ike sa min", IKE, SEED_IKE, "{\"sa_life_time\":21600}"),
	OK("ike sa max", IKE, SEED_IKE, "{\"sa_life_time\":31536000}"),
	BAD("ike sa max+1", IKE, SEED_IKE, "{\"sa_life_time\":31536001}",
	    "sa_life_time: value 31536001 is out of range"),
	BAD("ike enc empty", IKE, SEED_IKE, "{\"encryption_algorithms\":[]}",
	    "encryption_algorithms: needs at least 1 item, has 0"),
	BAD("ike dh empty", IKE, SEED_IKE, "{\"dh_groups\":[]}",
	    "dh_groups: needs at least 1 item, has 0"),
	/* IKE cross-field */
	BAD("ike gcm + IKE_V1", IKE, SEED_IKE, "{\"ike_version\":\"IKE_V1\"}",
	    "ike_version: GCM ciphers (AES_GCM_*) require IKE_V2, not IKE_V1"),
	BAD("ike gcm + IKE_FLEX", IKE, SEED_IKE, "{\"ike_version\":\"IKE_FLEX\"}",
	    "ike_version: GCM ciphers (AES_GCM_*) require IKE_V2, not IKE_FLEX"),
	BAD("ike gcm + digest", IKE, SEED_IKE, "{\"digest_algorithms\":[\"SHA2_256\"]}",
	    "digest_algorithms: must be empty when encryption_algorithms has a GCM cipher"),
	BAD("ike cbc without digest", IKE, SEED_IKE,
	    "{\"encryption_algorithms\":[\"AES_256\"],\"digest_algorithms\":[]}",
	    "digest_algorithms: needs at least one digest"),
	BAD("ike gcm mixed with cbc", IKE, SEED_IKE,
	    "{\"encryption_algorithms\":[\"AES_256\",\"AES_GCM_128\"]}",
	    "encryption_algorithms: AES_GCM/GMAC ciphers cannot be combined"),
	OK("ike cbc + IKE_V1 + SHA1", IKE, SEED_IKE,
	   "{\"encryption_algorithms\":[\"AES_128\"],\"digest_algorithms\":[\"SHA1\"],"
	   "\"ike_version\":\"IKE_V1\"}"),
	/* common fields */
	BAD("unknown property", IKE, SEED_IKE, "{\"prf\":\"SHA2_256\"}",
	    "Json de-serialization error: property prf is unrecognized."),
	BAD("resource_type mismatch", IKE, SEED_IKE, "{\"resource_type\":\"IPSecVpnDpdProfile\"}",
	    "resource_type: value 'IPSecVpnDpdProfile' does not match type IPSecVpnIkeProfile"),
	BAD("display_name empty", IKE, SEED_IKE, "{\"display_name\":\"\"}",
	    "display_name: must not be empty"),

	/* tunnel profile */
	BAD("tunnel GMAC not in VMC", TUN, SEED_TUNNEL,
	    "{\"encryption_algorithms\":[\"NO_ENCRYPTION_AUTH_AES_GMAC_128\"]}",
	    "encryption_algorithms[0]: value 'NO_ENCRYPTION_AUTH_AES_GMAC_128' is not one of: "
	    "AES_128, AES_256, AES_GCM_128, AES_GCM_192, AES_GCM_256"),
	BAD("tunnel NO_ENCRYPTION not in VMC", TUN, SEED_TUNNEL,
	    "{\"encryption_algorithms\":[\"NO_ENCRYPTION\"],\"digest_algorithms\":[\"SHA1\"]}",
	    "encryption_algorithms[0]: value 'NO_ENCRYPTION' is not one of"),
	BAD("tunnel SHA2_512 not in VMC", TUN, SEED_TUNNEL,
	    "{\"encryption_algorithms\":[\"AES_256\"],\"digest_algorithms\":[\"SHA2_512\"]}",
	    "digest_algorithms[0]: value 'SHA2_512' is not one of: SHA1, SHA2_256"),
	BAD("tunnel dh enum", TUN, SEED_TUNNEL, "{\"dh_groups\":[\"GROUP24\"]}",
	    "dh_groups[0]: value 'GROUP24'"),
	BAD("tunnel df_policy enum", TUN, SEED_TUNNEL, "{\"df_policy\":\"SET\"}",
	    "df_policy: value 'SET' is not one of: COPY, CLEAR"),
	OK("tunnel df CLEAR", TUN, SEED_TUNNEL, "{\"df_policy\":\"CLEAR\"}"),
	BAD("tunnel sa min-1", TUN, SEED_TUNNEL, "{\"sa_life_time\":899}",
	    "sa_life_time: value 899 is out of range [900, 31536000]"),
	OK("tunnel sa min", TUN, SEED_TUNNEL, "{\"sa_life_time\":900}"),
	OK("tunnel sa max", TUN, SEED_TUNNEL, "{\"sa_life_time\":31536000}"),
	BAD("tunnel sa max+1", TUN, SEED_TUNNEL, "{\"sa_life_time\":31536001}",
	    "sa_life_time: value 31536001 is out of range"),
	BAD("tunnel gcm + digest", TUN, SEED_TUNNEL, "{\"digest_algorithms\":[\"SHA1\"]}",
	    "digest_algorithms: must be empty when encryption_algorithms has a GCM cipher"),
	BAD("tunnel pfs without dh", TUN, SEED_TUNNEL, "{\"dh_groups\":[]}",
	    "dh_groups: needs at least one DH group when enable_perfect_forward_secrecy is true"),
	OK("tunnel no pfs, no dh", TUN, SEED_TUNNEL,
	   "{\"enable_perfect_forward_secrecy\":false,\"dh_groups\":[]}"),
	OK("tunnel no pfs, dh given", TUN, SEED_TUNNEL,
	   "{\"enable_perfect_forward_secrecy\":false,\"dh_groups\":[\"GROUP14\"]}"),
	BAD("tunnel pfs kind", TUN, SEED_TUNNEL, "{\"enable_perfect_forward_secrecy\":\"yes\"}",
	    "Json de-serialization error: enable_perfect_forward_secrecy: cannot deserialize "
	    "string as boolean."),

	/* DPD: interval range and default by mode (seed) */
	BAD("dpd mode enum", DPD, SEED_DPD, "{\"dpd_probe_mode\":\"periodic\"}",
	    "dpd_probe_mode: value 'periodic' is not one of: PERIODIC, ON_DEMAND"),
	BAD("dpd periodic 2", DPD, SEED_DPD, "{\"dpd_probe_interval\":2}",
	    "dpd_probe_interval: value 2 is out of range [3, 360] for dpd_probe_mode PERIODIC"),
	OK("dpd periodic 3", DPD, SEED_DPD, "{\"dpd_probe_interval\":3}"),
	OK("dpd periodic 360", DPD, SEED_DPD, "{\"dpd_probe_interval\":360}"),
	BAD("dpd periodic 361", DPD, SEED_DPD, "{\"dpd_probe_interval\":361}",
	    "dpd_probe_interval: value 361 is out of range [3, 360]"),
	BAD("dpd on-demand 0", DPD, SEED_DPD,
	    "{\"dpd_probe_mode\":\"ON_DEMAND\",\"dpd_probe_interval\":0}",
	    "dpd_probe_interval: value 0 is out of range [1, 10] for dpd_probe_mode ON_DEMAND"),
	OK("dpd on-demand 1", DPD, SEED_DPD,
	   "{\"dpd_probe_mode\":\"ON_DEMAND\",\"dpd_probe_interval\":1}"),
	OK("dpd on-demand 10", DPD, SEED_DPD,
	   "{\"dpd_probe_mode\":\"ON_DEMAND\",\"dpd_probe_interval\":10}"),
	BAD("dpd on-demand 11", DPD, SEED_DPD,
	    "{\"dpd_probe_mode\":\"ON_DEMAND\",\"dpd_probe_interval\":11}",
	    "dpd_probe_interval: value 11 is out of range [1, 10] for dpd_probe_mode ON_DEMAND"),
	BAD("dpd retry 0", DPD, SEED_DPD, "{\"retry_count\":0}",
	    "retry_count: value 0 is out of range [1, 100]"),
	OK("dpd retry 1", DPD, SEED_DPD, "{\"retry_count\":1}"),
	OK("dpd retry 100", DPD, SEED_DPD, "{\"retry_count\":100}"),
	BAD("dpd retry 101", DPD, SEED_DPD, "{\"retry_count\":101}",
	    "retry_count: value 101 is out of range [1, 100]"),

	/* prefix lists */
	BAD("prefixes missing", PLT, "{}", NULL, "prefixes: is required"),
	BAD("prefixes empty", PLT, SEED_PREFIX_LIST, "{\"prefixes\":[]}",
	    "prefixes: needs at least 1 item, has 0"),
	BAD("prefix network missing", PLT, SEED_PREFIX_LIST, "{\"prefixes\":[{\"le\":26}]}",
	    "prefixes[0].network: is required"),
	BAD("prefix network bad", PLT, SEED_PREFIX_LIST,
	    "{\"prefixes\":[{\"network\":\"10.0.0.0/33\"}]}",
	    "prefixes[0].network: value '10.0.0.0/33' is not a valid CIDR or ANY"),
	/* locations with a multi-digit index (written without printf) */
	BAD("prefix network bad at [10]", PLT, SEED_PREFIX_LIST,
	    "{\"prefixes\":[{\"network\":\"10.0.0.0/24\"},{\"network\":\"10.0.1.0/24\"},{\"network\":\"10.0.2.0/24\"},{\"network\":\"10.0.3.0/24\"},{\"network\":\"10.0.4.0/24\"},{\"network\":\"10.0.5.0/24\"},{\"network\":\"10.0.6.0/24\"},{\"network\":\"10.0.7.0/24\"},{\"network\":\"10.0.8.0/24\"},{\"network\":\"10.0.9.0/24\"},{\"network\":\"x\"}]}",
	    "prefixes[10].network: value 'x' is not a valid CIDR or ANY"),
	BAD("prefix network any lowercase", PLT, SEED_PREFIX_LIST,
	    "{\"prefixes\":[{\"network\":\"any\"}]}", "prefixes[0].network: value 'any'"),
	OK("prefix ANY", PLT, SEED_PREFIX_LIST, "{\"prefixes\":[{\"network\":\"ANY\",\"action\":\"DENY\"}]}"),
	BAD("prefix action enum", PLT, SEED_PREFIX_LIST,
	    "{\"prefixes\":[{\"network\":\"ANY\",\"action\":\"ALLOW\"}]}",
	    "prefixes[0].action: value 'ALLOW' is not one of: PERMIT, DENY"),
	BAD("prefix le > 32 for IPv4", PLT, SEED_PREFIX_LIST,
	    "{\"prefixes\":[{\"network\":\"10.0.0.0/8\",\"le\":33}]}",
	    "prefixes[0].le: value 33 exceeds 32 for an IPv4 network"),
	BAD("prefix ge > 32 for IPv4", PLT, SEED_PREFIX_LIST,
	    "{\"prefixes\":[{\"network\":\"10.0.0.0/8\",\"ge\":33}]}",
	    "prefixes[0].ge: value 33 exceeds 32 for an IPv4 network"),
	OK("prefix le 32", PLT, SEED_PREFIX_LIST,
	   "{\"prefixes\":[{\"network\":\"10.0.0.0/8\",\"le\":32}]}"),
	BAD("prefix le 129", PLT, SEED_PREFIX_LIST,
	    "{\"prefixes\":[{\"network\":\"2001:db8::/32\",\"le\":129}]}",
	    "prefixes[0].le: value 129 is out of range [0, 128]"),
	BAD("prefix ge -1", PLT, SEED_PREFIX_LIST,
	    "{\"prefixes\":[{\"network\":\"2001:db8::/32\",\"ge\":-1}]}",
	    "prefixes[0].ge: value -1 is out of range [0, 128]"),
	OK("prefix ipv6 le 128", PLT, SEED_PREFIX_LIST,
	   "{\"prefixes\":[{\"network\":\"2001:db8::/32\",\"ge\":48,\"le\":128}]}"),
	BAD("prefix le shorter than network", PLT, SEED_PREFIX_LIST,
	    "{\"prefixes\":[{\"network\":\"10.0.0.0/8\",\"le\":7}]}",
	    "prefixes[0].le: value 7 is shorter than the network's prefix length 8"),
	BAD("prefix ge shorter than network", PLT, SEED_PREFIX_LIST,
	    "{\"prefixes\":[{\"network\":\"10.0.0.0/16\",\"ge\":8}]}",
	    "prefixes[0].ge: value 8 is shorter than the network's prefix length 16"),
	BAD("prefix ge > le", PLT, SEED_PREFIX_LIST,
	    "{\"prefixes\":[{\"network\":\"10.0.0.0/8\",\"ge\":28,\"le\":26}]}",
	    "prefixes[0].ge: value 28 is greater than le 26"),
	OK("prefix ge = le = len", PLT, SEED_PREFIX_LIST,
	   "{\"prefixes\":[{\"network\":\"10.0.0.0/8\",\"ge\":8,\"le\":8}]}"),
	OK("prefix ge/le 0 = unset", PLT, SEED_PREFIX_LIST,
	   "{\"prefixes\":[{\"network\":\"10.0.0.0/8\",\"ge\":0,\"le\":0}]}"),

	/* BGP neighbor */
	BAD("bgp neighbor_address missing", BGP, "{\"remote_as_num\":\"65006\"}", NULL,
	    "neighbor_address: is required"),
	BAD("bgp neighbor_address bad", BGP, SEED_BGP, "{\"neighbor_address\":\"169.254.151\"}",
	    "neighbor_address: value '169.254.151' is not a valid IP address"),
	BAD("bgp remote_as missing", BGP, "{\"neighbor_address\":\"169.254.151.1\"}", NULL,
	    "remote_as_num: is required"),
	BAD("bgp asn 0", BGP, SEED_BGP, "{\"remote_as_num\":\"0\"}",
	    "remote_as_num: value '0' is not a valid AS number"),
	OK("bgp asn 1", BGP, SEED_BGP, "{\"remote_as_num\":\"1\"}"),
	OK("bgp asn max", BGP, SEED_BGP, "{\"remote_as_num\":\"4294967295\"}"),
	BAD("bgp asn max+1", BGP, SEED_BGP, "{\"remote_as_num\":\"4294967296\"}",
	    "remote_as_num: value '4294967296' is not a valid AS number"),
	OK("bgp asdot", BGP, SEED_BGP, "{\"remote_as_num\":\"1.10\"}"),
	OK("bgp asdot max", BGP, SEED_BGP, "{\"remote_as_num\":\"65535.65535\"}"),
	BAD("bgp asdot high part", BGP, SEED_BGP, "{\"remote_as_num\":\"65536.1\"}",
	    "remote_as_num: value '65536.1' is not a valid AS number"),
	BAD("bgp asdot 0.0", BGP, SEED_BGP, "{\"remote_as_num\":\"0.0\"}",
	    "remote_as_num: value '0.0'"),
	BAD("bgp asn text", BGP, SEED_BGP, "{\"remote_as_num\":\"AS65006\"}",
	    "remote_as_num: value 'AS65006'"),
	BAD("bgp keepalive 0", BGP, SEED_BGP, "{\"keep_alive_time\":0}",
	    "keep_alive_time: value 0 is out of range [1, 65535]"),
	OK("bgp keepalive 1 hold 3", BGP, SEED_BGP, "{\"keep_alive_time\":1,\"hold_down_time\":3}"),
	BAD("bgp keepalive 65536", BGP, SEED_BGP, "{\"keep_alive_time\":65536}",
	    "keep_alive_time: value 65536 is out of range [1, 65535]"),
	BAD("bgp hold 0", BGP, SEED_BGP, "{\"hold_down_time\":0}",
	    "hold_down_time: value 0 is out of range [1, 65535]"),
	OK("bgp hold 65535", BGP, SEED_BGP, "{\"hold_down_time\":65535}"),
	BAD("bgp hold 65536", BGP, SEED_BGP, "{\"hold_down_time\":65536}",
	    "hold_down_time: value 65536 is out of range [1, 65535]"),
	BAD("bgp hold < 3 x keepalive", BGP, SEED_BGP, "{\"hold_down_time\":179}",
	    "hold_down_time: value 179 must be at least 3 times keep_alive_time (60)"),
	BAD("bgp hops 0", BGP, SEED_BGP, "{\"maximum_hop_limit\":0}",
	    "maximum_hop_limit: value 0 is out of range [1, 255]"),
	OK("bgp hops 255 with source", BGP, SEED_BGP,
	   "{\"maximum_hop_limit\":255,\"source_addresses\":[\"169.254.151.2\"]}"),
	BAD("bgp hops 256", BGP, SEED_BGP, "{\"maximum_hop_limit\":256}",
	    "maximum_hop_limit: value 256 is out of range [1, 255]"),
	BAD("bgp multihop without source", BGP, SEED_BGP, "{\"maximum_hop_limit\":2}",
	    "source_addresses: is required when maximum_hop_limit is greater than 1"),
	BAD("bgp source 9", BGP, SEED_BGP,
	    "{\"source_addresses\":[\"169.254.1.1\",\"169.254.1.2\",\"169.254.1.3\",\"169.254.1.4\","
	    "\"169.254.1.5\",\"169.254.1.6\",\"169.254.1.7\",\"169.254.1.8\",\"169.254.1.9\"]}",
	    "source_addresses: has 9 items, at most 8 allowed"),
	OK("bgp source 8", BGP, SEED_BGP,
	   "{\"source_addresses\":[\"169.254.1.1\",\"169.254.1.2\",\"169.254.1.3\",\"169.254.1.4\","
	   "\"169.254.1.5\",\"169.254.1.6\",\"169.254.1.7\",\"169.254.1.8\"]}"),
	BAD("bgp source bad ip", BGP, SEED_BGP, "{\"source_addresses\":[\"x\"]}",
	    "source_addresses[0]: value 'x' is not a valid IP address"),
	BAD("bgp route_filtering 3", BGP, SEED_BGP,
	    "{\"route_filtering\":[{\"address_family\":\"IPV4\"},{\"address_family\":\"IPV6\"},"
	    "{\"address_family\":\"L2VPN_EVPN\"}]}",
	    "route_filtering: has 3 items, at most 2 allowed"),
	BAD("bgp family enum", BGP, SEED_BGP, "{\"route_filtering\":[{\"address_family\":\"IPV5\"}]}",
	    "route_filtering[0].address_family: value 'IPV5' is not one of: IPV4, IPV6, L2VPN_EVPN"),
	BAD("bgp family twice", BGP, SEED_BGP,
	    "{\"route_filtering\":[{\"address_family\":\"IPV4\"},{\"address_family\":\"IPV4\"}]}",
	    "route_filtering[1].address_family: IPV4 appears more than once"),
	BAD("bgp two in filters", BGP, SEED_BGP,
	    "{\"route_filtering\":[{\"in_route_filters\":[\"" PL "a\",\"" PL "b\"]}]}",
	    "route_filtering[0].in_route_filters: has 2 items, at most 1 allowed"),
	BAD("bgp filter not a prefix list", BGP, SEED_BGP,
	    "{\"route_filtering\":[{\"out_route_filters\":[\"/infra/tier-0s/vmc/route-maps/x\"]}]}",
	    "route_filtering[0].out_route_filters[0]: value '/infra/tier-0s/vmc/route-maps/x' must "
	    "be a policy path /infra/tier-0s/vmc/prefix-lists/<id>"),
	BAD("bgp filter nested path", BGP, SEED_BGP,
	    "{\"route_filtering\":[{\"out_route_filters\":[\"" PL "a/b\"]}]}",
	    "route_filtering[0].out_route_filters[0]: value"),
	BAD("bgp filter empty id", BGP, SEED_BGP,
	    "{\"route_filtering\":[{\"out_route_filters\":[\"" PL "\"]}]}",
	    "route_filtering[0].out_route_filters[0]: value"),
	BAD("bgp deprecated filter bad path", BGP, SEED_BGP,
	    "{\"in_route_filters\":[\"/infra/x\"],\"route_filtering\":[]}",
	    "in_route_filters[0]: value '/infra/x' must be a policy path"),
	BAD("bgp deprecated filter differs", BGP, SEED_BGP, "{\"in_route_filters\":[\"" PL "other\"]}",
	    "in_route_filters: differs from route_filtering[0].in_route_filters"),
	OK("bgp deprecated filter same", BGP, SEED_BGP,
	   "{\"in_route_filters\":[\"" PL "VPNPrefixList_inout\"],"
	   "\"out_route_filters\":[\"" PL "VPNPrefixList_inout\"]}"),
	BAD("bgp maximum_routes 0", BGP, SEED_BGP,
	    "{\"route_filtering\":[{\"maximum_routes\":0}]}",
	    "route_filtering[0].maximum_routes: value 0 is out of range [1, 1000000]"),
	BAD("bgp bfd interval 49", BGP, SEED_BGP, "{\"bfd\":{\"interval\":49}}",
	    "bfd.interval: value 49 is out of range [50, 60000]"),
	OK("bgp bfd interval 50", BGP, SEED_BGP, "{\"bfd\":{\"interval\":50}}"),
	OK("bgp bfd interval 60000", BGP, SEED_BGP, "{\"bfd\":{\"interval\":60000}}"),
	BAD("bgp bfd interval 60001", BGP, SEED_BGP, "{\"bfd\":{\"interval\":60001}}",
	    "bfd.interval: value 60001 is out of range [50, 60000]"),
	BAD("bgp bfd multiple 1", BGP, SEED_BGP, "{\"bfd\":{\"multiple\":1}}",
	    "bfd.multiple: value 1 is out of range [2, 16]"),
	OK("bgp bfd multiple 2..16", BGP, SEED_BGP, "{\"bfd\":{\"multiple\":16,\"enabled\":true}}"),
	BAD("bgp bfd multiple 17", BGP, SEED_BGP, "{\"bfd\":{\"multiple\":17}}",
	    "bfd.multiple: value 17 is out of range [2, 16]"),
	BAD("bgp graceful restart enum", BGP, SEED_BGP, "{\"graceful_restart_mode\":\"FULL\"}",
	    "graceful_restart_mode: value 'FULL' is not one of: DISABLE, GR_AND_HELPER, HELPER_ONLY"),
	BAD("bgp local-as needs asn", BGP, SEED_BGP,
	    "{\"neighbor_local_as_config\":{\"as_path_modifier_type\":\"NO_PREPEND\"}}",
	    "neighbor_local_as_config.local_as_num: is required"),
	BAD("bgp nested unknown", BGP, SEED_BGP, "{\"bfd\":{\"timer\":1}}",
	    "Json de-serialization error: property bfd.timer is unrecognized."),

	/* sessions (both kinds share these) */
	BAD("session peer_address missing", RBS, SEED_ROUTE, "{\"peer_address\":null}",
	    "peer_address: is required"),
	BAD("session peer_address bad", PBS, SEED_POLICY, "{\"peer_address\":\"vpn.example.com\"}",
	    "peer_address: value 'vpn.example.com' is not a valid IP address"),
	OK("session peer ipv6", PBS, SEED_POLICY, "{\"peer_address\":\"2001:db8::1\"}"),
	BAD("session peer_id missing", RBS, SEED_ROUTE, "{\"peer_id\":null}", "peer_id: is required"),
	BAD("session peer_id empty", RBS, SEED_ROUTE, "{\"peer_id\":\"\"}",
	    "peer_id: must not be empty"),
	OK("session peer_id fqdn", RBS, SEED_ROUTE, "{\"peer_id\":\"vpn.example.com\"}"),
	BAD("session local endpoint missing", RBS, SEED_ROUTE, "{\"local_endpoint_path\":null}",
	    "local_endpoint_path: is required"),
	BAD("session local endpoint prefix", PBS, SEED_POLICY,
	    "{\"local_endpoint_path\":\"/infra/tier-0s/vmc/local-endpoints/Public-IP1\"}",
	    "local_endpoint_path: value '/infra/tier-0s/vmc/local-endpoints/Public-IP1' must be a "
	    "policy path " LEP "<id>"),
	BAD("session ike path prefix", RBS, SEED_ROUTE,
	    "{\"ike_profile_path\":\"/infra/ipsec-vpn-tunnel-profiles/x\"}",
	    "ike_profile_path: value '/infra/ipsec-vpn-tunnel-profiles/x' must be a policy path "
	    "/infra/ipsec-vpn-ike-profiles/<id>"),
	BAD("session tunnel path prefix", RBS, SEED_ROUTE,
	    "{\"tunnel_profile_path\":\"/infra/ipsec-vpn-ike-profiles/x\"}",
	    "tunnel_profile_path: value"),
	BAD("session dpd path prefix", RBS, SEED_ROUTE, "{\"dpd_profile_path\":\"nsx-default\"}",
	    "dpd_profile_path: value 'nsx-default' must be a policy path /infra/ipsec-vpn-dpd-profiles/<id>"),
	BAD("session auth enum", RBS, SEED_ROUTE, "{\"authentication_mode\":\"psk\"}",
	    "authentication_mode: value 'psk' is not one of: PSK, CERTIFICATE"),
	BAD("session psk missing", RBS, SEED_ROUTE, "{\"psk\":null}",
	    "psk: is required when authentication_mode is PSK"),
	BAD("session certificate with psk", RBS, SEED_ROUTE, "{\"authentication_mode\":\"CERTIFICATE\"}",
	    "psk: must not be set when authentication_mode is CERTIFICATE"),
	OK("session certificate", RBS, SEED_ROUTE, "{\"authentication_mode\":\"CERTIFICATE\",\"psk\":null}"),
	BAD("session suite not in VMC", RBS, SEED_ROUTE, "{\"compliance_suite\":\"CNSA\"}",
	    "compliance_suite: value CNSA is not supported in VMware Cloud on AWS (only NONE)"),
	BAD("session suite enum", RBS, SEED_ROUTE, "{\"compliance_suite\":\"none\"}",
	    "compliance_suite: value 'none' is not one of"),
	BAD("session initiation enum", PBS, SEED_POLICY, "{\"connection_initiation_mode\":\"ANSWER\"}",
	    "connection_initiation_mode: value 'ANSWER' is not one of: INITIATOR, RESPOND_ONLY, ON_DEMAND"),
	OK("session respond only", PBS, SEED_POLICY, "{\"connection_initiation_mode\":\"RESPOND_ONLY\"}"),
	BAD("session mss direction enum", RBS, SEED_ROUTE, "{\"tcp_mss_clamping\":{\"direction\":\"IN\"}}",
	    "tcp_mss_clamping.direction: value 'IN' is not one of: NONE, INBOUND_CONNECTION, "
	    "OUTBOUND_CONNECTION, BOTH"),
	OK("session mss inbound", RBS, SEED_ROUTE,
	   "{\"tcp_mss_clamping\":{\"direction\":\"INBOUND_CONNECTION\"}}"),
	OK("session mss outbound", RBS, SEED_ROUTE,
	   "{\"tcp_mss_clamping\":{\"direction\":\"OUTBOUND_CONNECTION\"}}"),
	OK("session mss none", RBS, SEED_ROUTE, "{\"tcp_mss_clamping\":{\"direction\":\"NONE\"}}"),
	BAD("session mss 215", RBS, SEED_ROUTE, "{\"tcp_mss_clamping\":{\"max_segment_size\":215}}",
	    "tcp_mss_clamping.max_segment_size: value 215 is out of range [216, 8960]"),
	OK("session mss 216", RBS, SEED_ROUTE,
	   "{\"tcp_mss_clamping\":{\"direction\":\"BOTH\",\"max_segment_size\":216}}"),
	OK("session mss 8960", RBS, SEED_ROUTE,
	   "{\"tcp_mss_clamping\":{\"direction\":\"BOTH\",\"max_segment_size\":8960}}"),
	BAD("session mss size without direction", RBS, SEED_ROUTE,
	    "{\"tcp_mss_clamping\":{\"max_segment_size\":1300}}", "tcp_mss_clamping.direction"),
	BAD("session empty psk", RBS, SEED_ROUTE, "{\"psk\":\"\"}", "psk"),
	BAD("vti subnet overlaps reserved", RBS, SEED_ROUTE,
	    "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.200.1\"],"
	    "\"prefix_length\":16}]}]}", "overlaps the reserved range 169.254.0.0/19"),
	BAD("vti subnet wider than link-local", RBS, SEED_ROUTE,
	    "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.200.1\"],"
	    "\"prefix_length\":15}]}]}", "must lie inside 169.254.0.0/16"),
	BAD("session mss 8961", PBS, SEED_POLICY, "{\"tcp_mss_clamping\":{\"max_segment_size\":8961}}",
	    "tcp_mss_clamping.max_segment_size: value 8961 is out of range [216, 8960]"),
	BAD("session enabled kind", RBS, SEED_ROUTE, "{\"enabled\":\"yes\"}",
	    "enabled: cannot deserialize string as boolean."),
	BAD("session force_whitelisting kind", RBS, SEED_ROUTE, "{\"force_whitelisting\":1}",
	    "force_whitelisting: cannot deserialize integer as boolean."),

	/* route-based: tunnel interfaces */
	BAD("route tunnel_interfaces missing", RBS, SEED_ROUTE, "{\"tunnel_interfaces\":null}",
	    "tunnel_interfaces: is required"),
	BAD("route tunnel_interfaces empty", RBS, SEED_ROUTE, "{\"tunnel_interfaces\":[]}",
	    "tunnel_interfaces: needs at least 1 item, has 0"),
	BAD("route two tunnel interfaces", RBS, SEED_ROUTE,
	    "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.151.2\"],"
	    "\"prefix_length\":30}]},{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.152.2\"],"
	    "\"prefix_length\":30}]}]}",
	    "tunnel_interfaces: has 2 items, at most 1 allowed"),
	BAD("route ip_subnets missing", RBS, SEED_ROUTE, "{\"tunnel_interfaces\":[{}]}",
	    "tunnel_interfaces[0].ip_subnets: is required"),
	BAD("route two ip_subnets", RBS, SEED_ROUTE,
	    "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.151.2\"],"
	    "\"prefix_length\":30},{\"ip_addresses\":[\"169.254.152.2\"],\"prefix_length\":30}]}]}",
	    "tunnel_interfaces[0].ip_subnets: has 2 items, at most 1 allowed"),
	BAD("route two ip_addresses", RBS, SEED_ROUTE,
	    "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.151.2\","
	    "\"169.254.151.1\"],\"prefix_length\":30}]}]}",
	    "tunnel_interfaces[0].ip_subnets[0].ip_addresses: has 2 items, at most 1 allowed"),
	BAD("route ip_addresses missing", RBS, SEED_ROUTE,
	    "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"prefix_length\":30}]}]}",
	    "tunnel_interfaces[0].ip_subnets[0].ip_addresses: is required"),
	BAD("route prefix_length missing", RBS, SEED_ROUTE,
	    "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.151.2\"]}]}]}",
	    "tunnel_interfaces[0].ip_subnets[0].prefix_length: is required"),
	BAD("route vti ipv6", RBS, SEED_ROUTE,
	    "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"fe80::1\"],"
	    "\"prefix_length\":30}]}]}",
	    "tunnel_interfaces[0].ip_subnets[0].ip_addresses[0]: value 'fe80::1' is not a valid IPv4"),
	BAD("route prefix 0", RBS, SEED_ROUTE,
	    "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.151.2\"],"
	    "\"prefix_length\":0}]}]}",
	    "tunnel_interfaces[0].ip_subnets[0].prefix_length: value 0 is out of range [1, 31]"),
	BAD("route prefix 32", RBS, SEED_ROUTE,
	    "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.151.2\"],"
	    "\"prefix_length\":32}]}]}",
	    "tunnel_interfaces[0].ip_subnets[0].prefix_length: value 32 is out of range [1, 31]"),
	OK("route prefix 31, even address", RBS, SEED_ROUTE,
	   "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.151.0\"],"
	   "\"prefix_length\":31}]}]}"),
	OK("route prefix \"30\" string", RBS, SEED_ROUTE,
	   "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.151.2\"],"
	   "\"prefix_length\":\"30\"}]}]}"),
	BAD("route prefix text", RBS, SEED_ROUTE,
	    "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.151.2\"],"
	    "\"prefix_length\":\"/30\"}]}]}",
	    "Json de-serialization error: tunnel_interfaces[0].ip_subnets[0].prefix_length: cannot "
	    "deserialize string as integer."),
	BAD("route vti outside link-local", RBS, SEED_ROUTE,
	    "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"10.0.0.1\"],"
	    "\"prefix_length\":30}]}]}",
	    "tunnel_interfaces[0].ip_subnets[0].ip_addresses[0]: address 10.0.0.1 must be inside "
	    "169.254.0.0/16"),
	BAD("route vti reserved", RBS, SEED_ROUTE,
	    "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.10.1\"],"
	    "\"prefix_length\":30}]}]}",
	    "tunnel_interfaces[0].ip_subnets[0].ip_addresses[0]: address 169.254.10.1 lies in the "
	    "reserved range 169.254.0.0/19"),
	BAD("route vti reserved metadata", RBS, SEED_ROUTE,
	    "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.169.254\"],"
	    "\"prefix_length\":24}]}]}",
	    "reserved range 169.254.169.254/32"),
	OK("route vti just past reserved /19", RBS, SEED_ROUTE,
	   "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.32.1\"],"
	   "\"prefix_length\":30}]}]}"),
	BAD("route /30 network address", RBS, SEED_ROUTE,
	    "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.151.0\"],"
	    "\"prefix_length\":30}]}]}",
	    "tunnel_interfaces[0].ip_subnets[0].ip_addresses[0]: address 169.254.151.0 is the "
	    "network address of its /30"),
	BAD("route /30 broadcast address", RBS, SEED_ROUTE,
	    "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.151.3\"],"
	    "\"prefix_length\":30}]}]}",
	    "tunnel_interfaces[0].ip_subnets[0].ip_addresses[0]: address 169.254.151.3 is the "
	    "broadcast address of its /30"),
	OK("route /30 first host", RBS, SEED_ROUTE,
	   "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.151.1\"],"
	   "\"prefix_length\":30}]}]}"),
	BAD("route /29 broadcast address", RBS, SEED_ROUTE,
	    "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.151.7\"],"
	    "\"prefix_length\":29}]}]}",
	    "broadcast address of its /29"),
	BAD("route nested unknown", RBS, SEED_ROUTE,
	    "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.151.2\"],"
	    "\"prefix_length\":30,\"gateway\":\"x\"}]}]}",
	    "Json de-serialization error: property tunnel_interfaces[0].ip_subnets[0].gateway is "
	    "unrecognized."),
	BAD("route tunnel interface resource_type", RBS, SEED_ROUTE,
	    "{\"tunnel_interfaces\":[{\"resource_type\":\"Tunnel\",\"ip_subnets\":[{\"ip_addresses\":"
	    "[\"169.254.151.2\"],\"prefix_length\":30}]}]}",
	    "tunnel_interfaces[0].resource_type: value 'Tunnel' does not match type "
	    "IPSecVpnTunnelInterface"),
	BAD("route rules are policy-only", RBS, SEED_ROUTE, "{\"rules\":[]}",
	    "property rules is unrecognized."),

	/* policy-based: rules */
	BAD("policy rules missing", PBS, SEED_POLICY, "{\"rules\":null}", "rules: is required"),
	BAD("policy rules empty", PBS, SEED_POLICY, "{\"rules\":[]}",
	    "rules: needs at least 1 item, has 0"),
	BAD("policy subnet bad", PBS, SEED_POLICY,
	    "{\"rules\":[{\"sources\":[{\"subnet\":\"192.168.98.0/33\"}]}]}",
	    "rules[0].sources[0].subnet: value '192.168.98.0/33' is not a valid CIDR"),
	BAD("policy subnet plain address", PBS, SEED_POLICY,
	    "{\"rules\":[{\"destinations\":[{\"subnet\":\"192.168.98.1\"}]}]}",
	    "rules[0].destinations[0].subnet: value '192.168.98.1' is not a valid CIDR"),
	BAD("policy subnet missing", PBS, SEED_POLICY, "{\"rules\":[{\"sources\":[{}]}]}",
	    "rules[0].sources[0].subnet: is required"),
	BAD("policy duplicate rule ids", PBS, SEED_POLICY,
	    "{\"rules\":[{\"id\":\"r1\"},{\"id\":\"r2\"},{\"id\":\"r1\"}]}",
	    "rules[2].id: rule id r1 is used by rules[0] too"),
	BAD("policy sequence -1", PBS, SEED_POLICY, "{\"rules\":[{\"sequence_number\":-1}]}",
	    "rules[0].sequence_number: value -1 is out of range [0, 2147483647]"),
	BAD("policy rule logged kind", PBS, SEED_POLICY, "{\"rules\":[{\"logged\":[]}]}",
	    "rules[0].logged: cannot deserialize array as boolean."),
	BAD("policy tunnel_interfaces are route-only", PBS, SEED_POLICY, "{\"tunnel_interfaces\":[]}",
	    "property tunnel_interfaces is unrecognized."),
};

static void
test_rule_table(void **state)
{
	struct vpn_error err;
	size_t i, nfail = 0;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct rule_case *c = &cases[i];
		json_t *obj = body(c->base, c->patch);
		enum vpn_err rc = validate(c->type, obj, &err);
		bool good;

		if (!c->needle)
			good = rc == VPN_OK;
		else
			good = rc != VPN_OK && err_has(&err, c->needle);
		if (!good) {
			print_error("case '%s' (%s): expected %s%s%s, got %s\n", c->name, c->type,
				    c->needle ? "a violation containing '" : "no violation",
				    c->needle ? c->needle : "", c->needle ? "'" : "",
				    vpn_err_name(rc));
			dump_errors(&err);
			nfail++;
		}
		json_decref(obj);
	}
	print_message("    %zu rule cases\n", sizeof(cases) / sizeof(cases[0]));
	assert_int_equal(nfail, 0);
}

/* ---- specific tests ---- */

static void
test_unknown_property_code(void **state)
{
	struct vpn_error err;
	json_t *obj = body(SEED_IKE, "{\"scope\":\"x\"}");

	(void)state;
	assert_int_equal(validate(IKE, obj, &err), VPN_E_BAD_JSON);
	assert_int_equal(err.code, VPN_E_BAD_JSON);
	assert_int_equal(err.error_code, NSX_EC_DESERIALIZE);
	assert_string_equal(err.msg, "Json de-serialization error: property scope is unrecognized.");
	json_decref(obj);

	obj = body(SEED_IKE, "{\"sa_life_time\":\"abc\"}");
	assert_int_equal(validate(IKE, obj, &err), VPN_E_BAD_JSON);
	assert_int_equal(err.related[0].error_code, NSX_EC_DESERIALIZE);
	json_decref(obj);

	/* a semantic violation is VPN_E_INVALID with the NSX validation code */
	obj = body(SEED_IKE, "{\"sa_life_time\":1}");
	assert_int_equal(validate(IKE, obj, &err), VPN_E_INVALID);
	assert_int_equal(err.error_code, NSX_EC_INVALID);
	json_decref(obj);

	/* not an object at all */
	obj = json_array();
	assert_int_equal(validate(IKE, obj, &err), VPN_E_BAD_JSON);
	json_decref(obj);
}

static void
test_multiple_violations(void **state)
{
	struct vpn_error err;
	json_t *obj;

	(void)state;
	obj = body(SEED_IKE, "{\"encryption_algorithms\":[\"X\"],\"dh_groups\":[\"Y\"],"
		   "\"sa_life_time\":1,\"ike_version\":\"Z\",\"display_name\":\"\"}");
	assert_int_equal(validate(IKE, obj, &err), VPN_E_INVALID);
	if (err.nrelated != 5)
		dump_errors(&err);
	assert_int_equal(err.nrelated, 5);
	json_decref(obj);

	/* structural and semantic violations come back together; the first sets the code */
	obj = body(SEED_ROUTE, "{\"bogus\":1,\"peer_address\":\"x\",\"psk\":null,"
		   "\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"10.1.1.1\"],"
		   "\"prefix_length\":40}]}]}");
	assert_int_equal(validate(RBS, obj, &err), VPN_E_BAD_JSON);
	if (err.nrelated != 5)
		dump_errors(&err);
	assert_int_equal(err.nrelated, 5);
	assert_true(err_has(&err, "property bogus is unrecognized"));
	assert_true(err_has(&err, "peer_address: value 'x'"));
	assert_true(err_has(&err, "psk: is required"));
	assert_true(err_has(&err, "ip_addresses[0]: address 10.1.1.1 must be inside"));
	assert_true(err_has(&err, "prefix_length: value 40 is out of range"));
	json_decref(obj);
}

static void
test_defaults(void **state)
{
	json_t *o, *ti, *rule;

	(void)state;
	o = must_pass(IKE, load("{}"));
	assert_string_equal(json_string_value(json_array_get(json_object_get(o,
				"encryption_algorithms"), 0)), "AES_128");
	assert_int_equal(json_array_size(json_object_get(o, "encryption_algorithms")), 1);
	assert_string_equal(json_string_value(json_array_get(json_object_get(o,
				"digest_algorithms"), 0)), "SHA2_256");
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "dh_groups"), 0)),
			    "GROUP14");
	assert_string_equal(json_string_value(json_object_get(o, "ike_version")), "IKE_V2");
	assert_int_equal(json_integer_value(json_object_get(o, "sa_life_time")), 86400);
	assert_string_equal(json_string_value(json_object_get(o, "resource_type")), IKE);
	json_decref(o);

	/* digest default only for non-GCM ciphers */
	o = must_pass(IKE, load("{\"encryption_algorithms\":[\"AES_GCM_256\"]}"));
	assert_true(json_is_array(json_object_get(o, "digest_algorithms")));
	assert_int_equal(json_array_size(json_object_get(o, "digest_algorithms")), 0);
	json_decref(o);

	o = must_pass(TUN, load("{}"));
	assert_string_equal(json_string_value(json_array_get(json_object_get(o,
				"encryption_algorithms"), 0)), "AES_GCM_128");
	assert_int_equal(json_array_size(json_object_get(o, "digest_algorithms")), 0);
	assert_string_equal(json_string_value(json_array_get(json_object_get(o, "dh_groups"), 0)),
			    "GROUP14");
	assert_true(json_is_true(json_object_get(o, "enable_perfect_forward_secrecy")));
	assert_string_equal(json_string_value(json_object_get(o, "df_policy")), "COPY");
	assert_int_equal(json_integer_value(json_object_get(o, "sa_life_time")), 3600);
	json_decref(o);

	o = must_pass(TUN, load("{\"encryption_algorithms\":[\"AES_256\"]}"));
	assert_string_equal(json_string_value(json_array_get(json_object_get(o,
				"digest_algorithms"), 0)), "SHA2_256");
	json_decref(o);

	o = must_pass(DPD, load("{}"));
	assert_string_equal(json_string_value(json_object_get(o, "dpd_probe_mode")), "PERIODIC");
	assert_int_equal(json_integer_value(json_object_get(o, "dpd_probe_interval")), 60);
	assert_int_equal(json_integer_value(json_object_get(o, "retry_count")), 5);
	assert_true(json_is_true(json_object_get(o, "enabled")));
	json_decref(o);

	o = must_pass(DPD, load("{\"dpd_probe_mode\":\"ON_DEMAND\"}"));
	assert_int_equal(json_integer_value(json_object_get(o, "dpd_probe_interval")), 3);
	json_decref(o);

	o = must_pass(PLT, load("{\"prefixes\":[{\"network\":\"10.0.0.0/8\"}]}"));
	assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(o,
				"prefixes"), 0), "action")), "PERMIT");
	json_decref(o);

	o = must_pass(BGP, load("{\"neighbor_address\":\"169.254.151.1\",\"remote_as_num\":65006,"
				"\"route_filtering\":[{}],\"bfd\":{}}"));
	assert_string_equal(json_string_value(json_object_get(o, "remote_as_num")), "65006");
	assert_int_equal(json_integer_value(json_object_get(o, "keep_alive_time")), 60);
	assert_int_equal(json_integer_value(json_object_get(o, "hold_down_time")), 180);
	assert_int_equal(json_integer_value(json_object_get(o, "maximum_hop_limit")), 1);
	assert_true(json_is_false(json_object_get(o, "allow_as_in")));
	assert_true(json_is_true(json_object_get(o, "enabled")));
	assert_string_equal(json_string_value(json_object_get(o, "graceful_restart_mode")),
			    "HELPER_ONLY");
	rule = json_array_get(json_object_get(o, "route_filtering"), 0);
	assert_string_equal(json_string_value(json_object_get(rule, "address_family")), "IPV4");
	assert_true(json_is_true(json_object_get(rule, "enabled")));
	rule = json_object_get(o, "bfd");
	assert_true(json_is_false(json_object_get(rule, "enabled")));
	assert_int_equal(json_integer_value(json_object_get(rule, "interval")), 500);
	assert_int_equal(json_integer_value(json_object_get(rule, "multiple")), 3);
	assert_null(json_object_get(o, "password"));
	json_decref(o);

	o = must_pass(BGP, load("{\"neighbor_address\":\"2001:db8::1\",\"remote_as_num\":\"1\","
				"\"route_filtering\":[{}]}"));
	rule = json_array_get(json_object_get(o, "route_filtering"), 0);
	assert_string_equal(json_string_value(json_object_get(rule, "address_family")), "IPV6");
	json_decref(o);

	o = must_pass(RBS, load("{\"peer_address\":\"10.0.0.1\",\"peer_id\":\"10.0.0.1\","
				"\"local_endpoint_path\":\"" LEP "Public-IP1\",\"psk\":\"k\","
				"\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":"
				"[\"169.254.151.2\"],\"prefix_length\":30}]}]}"));
	assert_string_equal(json_string_value(json_object_get(o, "authentication_mode")), "PSK");
	assert_string_equal(json_string_value(json_object_get(o, "ike_profile_path")),
			    "/infra/ipsec-vpn-ike-profiles/nsx-default-l3vpn-ike-profile");
	assert_string_equal(json_string_value(json_object_get(o, "tunnel_profile_path")),
			    "/infra/ipsec-vpn-tunnel-profiles/nsx-default-l3vpn-tunnel-profile");
	assert_string_equal(json_string_value(json_object_get(o, "dpd_profile_path")),
			    "/infra/ipsec-vpn-dpd-profiles/nsx-default-l3vpn-dpd-profile");
	assert_string_equal(json_string_value(json_object_get(o, "compliance_suite")), "NONE");
	assert_string_equal(json_string_value(json_object_get(o, "connection_initiation_mode")),
			    "INITIATOR");
	assert_true(json_is_true(json_object_get(o, "enabled")));
	assert_true(json_is_false(json_object_get(o, "force_whitelisting")));
	assert_string_equal(json_string_value(json_object_get(o, "resource_type")), RBS);
	ti = json_array_get(json_object_get(o, "tunnel_interfaces"), 0);
	assert_string_equal(json_string_value(json_object_get(ti, "id")), "default-tunnel-interface");
	assert_string_equal(json_string_value(json_object_get(ti, "display_name")),
			    "default-tunnel-interface");
	assert_string_equal(json_string_value(json_object_get(ti, "resource_type")),
			    "IPSecVpnTunnelInterface");
	assert_null(json_object_get(o, "tcp_mss_clamping"));
	json_decref(o);

	o = must_pass(PBS, load("{\"peer_address\":\"10.0.0.1\",\"peer_id\":\"10.0.0.1\","
				"\"local_endpoint_path\":\"" LEP "Public-IP1\",\"psk\":\"k\","
				"\"rules\":[{\"sources\":[{\"subnet\":\"10.1.0.0/16\"}]}]}"));
	rule = json_array_get(json_object_get(o, "rules"), 0);
	assert_int_equal(strlen(json_string_value(json_object_get(rule, "id"))), 36);
	assert_string_equal(json_string_value(json_object_get(rule, "display_name")),
			    json_string_value(json_object_get(rule, "id")));
	assert_true(json_is_true(json_object_get(rule, "enabled")));
	assert_true(json_is_false(json_object_get(rule, "logged")));
	assert_int_equal(json_integer_value(json_object_get(rule, "sequence_number")), 0);
	assert_string_equal(json_string_value(json_object_get(rule, "action")), "PROTECT");
	assert_string_equal(json_string_value(json_object_get(rule, "resource_type")), "IPSecVpnRule");
	assert_int_equal(json_array_size(json_object_get(rule, "destinations")), 0);
	json_decref(o);

	/* display_name defaults to id */
	o = must_pass(DPD, load("{\"id\":\"d1\"}"));
	assert_string_equal(json_string_value(json_object_get(o, "display_name")), "d1");
	json_decref(o);
}

static void
test_coercion(void **state)
{
	json_t *o, *sub;

	(void)state;
	o = must_pass(RBS, body(SEED_ROUTE,
				"{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":"
				"[\"169.254.151.2\"],\"prefix_length\":\"30\"}]}],"
				"\"enabled\":\"false\",\"peer_id\":12345,\"description\":null}"));
	sub = json_array_get(json_object_get(json_array_get(json_object_get(o, "tunnel_interfaces"),
							     0), "ip_subnets"), 0);
	assert_true(json_is_integer(json_object_get(sub, "prefix_length")));
	assert_int_equal(json_integer_value(json_object_get(sub, "prefix_length")), 30);
	assert_true(json_is_false(json_object_get(o, "enabled")));
	assert_string_equal(json_string_value(json_object_get(o, "peer_id")), "12345");
	assert_null(json_object_get(o, "description"));		/* null = absent */
	json_decref(o);

	o = must_pass(IKE, body(SEED_IKE, "{\"sa_life_time\":86400.0}"));
	assert_true(json_is_integer(json_object_get(o, "sa_life_time")));
	json_decref(o);
	o = must_pass(IKE, body(SEED_IKE, "{\"sa_life_time\":\"\"}"));	/* "" = absent */
	assert_int_equal(json_integer_value(json_object_get(o, "sa_life_time")), 86400);
	json_decref(o);
	o = must_pass(BGP, body(SEED_BGP, "{\"allow_as_in\":\"true\",\"remote_as_num\":65006}"));
	assert_true(json_is_true(json_object_get(o, "allow_as_in")));
	assert_string_equal(json_string_value(json_object_get(o, "remote_as_num")), "65006");
	json_decref(o);

	must_fail(IKE, body(SEED_IKE, "{\"sa_life_time\":86400.5}"),
		  "sa_life_time: cannot deserialize number as integer", VPN_E_BAD_JSON);
	must_fail(IKE, body(SEED_IKE, "{\"encryption_algorithms\":\"AES_128\"}"),
		  "encryption_algorithms: cannot deserialize string as array", VPN_E_BAD_JSON);
	must_fail(IKE, body(SEED_IKE, "{\"encryption_algorithms\":[null]}"),
		  "encryption_algorithms[0]: null is not allowed", VPN_E_BAD_JSON);
	must_fail(RBS, body(SEED_ROUTE, "{\"tcp_mss_clamping\":\"BOTH\"}"),
		  "tcp_mss_clamping: cannot deserialize string as object", VPN_E_BAD_JSON);
}

static void
test_secrets_never_in_messages(void **state)
{
	struct vpn_error err;
	char *psk = repeat('Q', 129), *pw = repeat('W', 33), patch[512];
	json_t *obj;

	(void)state;
	snprintf(patch, sizeof(patch), "{\"psk\":\"%s\"}", psk);
	obj = body(SEED_ROUTE, patch);
	assert_int_equal(validate(RBS, obj, &err), VPN_E_INVALID);
	assert_true(err_has(&err, "psk: length 129 exceeds the maximum 128"));
	assert_false(err_mentions(&err, "QQQQ"));
	json_decref(obj);

	psk[128] = '\0';	/* 128: the maximum */
	snprintf(patch, sizeof(patch), "{\"psk\":\"%s\"}", psk);
	json_decref(must_pass(RBS, body(SEED_ROUTE, patch)));

	snprintf(patch, sizeof(patch), "{\"password\":\"%s\"}", pw);
	obj = body(SEED_BGP, patch);
	assert_int_equal(validate(BGP, obj, &err), VPN_E_INVALID);
	assert_true(err_has(&err, "password: length 33 exceeds the maximum 32"));
	assert_false(err_mentions(&err, "WWWW"));
	json_decref(obj);

	pw[32] = '\0';
	snprintf(patch, sizeof(patch), "{\"password\":\"%s\"}", pw);
	json_decref(must_pass(BGP, body(SEED_BGP, patch)));

	/* a secret of the wrong kind: the message names the field only */
	obj = body(SEED_POLICY, "{\"psk\":{\"v\":\"SuperSecret\"}}");
	assert_int_equal(validate(PBS, obj, &err), VPN_E_BAD_JSON);
	assert_false(err_mentions(&err, "SuperSecret"));
	json_decref(obj);

	/* multi-byte characters count once */
	obj = body(SEED_BGP, "{\"password\":\"\xc3\xa9\xc3\xa9\xc3\xa9\"}");
	json_decref(must_pass(BGP, obj));
	free(psk);
	free(pw);
}

static void
test_tags_and_lengths(void **state)
{
	char *s;
	char buf[2048];
	json_t *obj, *tags;
	int i;

	(void)state;
	s = repeat('d', 255);
	snprintf(buf, sizeof(buf), "{\"display_name\":\"%s\"}", s);
	json_decref(must_pass(IKE, body(SEED_IKE, buf)));
	free(s);
	s = repeat('d', 256);
	snprintf(buf, sizeof(buf), "{\"display_name\":\"%s\"}", s);
	must_fail(IKE, body(SEED_IKE, buf), "display_name: length 256 exceeds the maximum 255",
		  VPN_E_INVALID);
	free(s);

	s = repeat('x', 1024);
	snprintf(buf, sizeof(buf), "{\"description\":\"%s\"}", s);
	json_decref(must_pass(DPD, body(SEED_DPD, buf)));
	free(s);
	s = repeat('x', 1025);
	snprintf(buf, sizeof(buf), "{\"description\":\"%s\"}", s);
	must_fail(DPD, body(SEED_DPD, buf), "description: length 1025 exceeds the maximum 1024",
		  VPN_E_INVALID);
	free(s);

	s = repeat('p', 255);
	snprintf(buf, sizeof(buf), "{\"peer_id\":\"%s\"}", s);
	json_decref(must_pass(RBS, body(SEED_ROUTE, buf)));
	free(s);
	s = repeat('p', 256);
	snprintf(buf, sizeof(buf), "{\"peer_id\":\"%s\"}", s);
	must_fail(RBS, body(SEED_ROUTE, buf), "peer_id: length 256 exceeds the maximum 255",
		  VPN_E_INVALID);
	free(s);

	/* 30 tags pass, 31 do not */
	obj = load(SEED_TUNNEL);
	tags = json_array();
	for (i = 0; i < 30; i++)
		json_array_append_new(tags, json_pack("{s:s,s:s}", "scope", "env", "tag", "prod"));
	json_object_set(obj, "tags", tags);
	json_decref(must_pass(TUN, json_deep_copy(obj)));
	json_array_append_new(tags, json_pack("{s:s}", "tag", "x"));
	json_object_set(obj, "tags", tags);
	must_fail(TUN, json_deep_copy(obj), "tags: has 31 items, at most 30 allowed", VPN_E_INVALID);
	json_decref(tags);
	json_decref(obj);

	s = repeat('s', 128);
	snprintf(buf, sizeof(buf), "{\"tags\":[{\"scope\":\"%s\",\"tag\":\"t\"}]}", s);
	json_decref(must_pass(BGP, body(SEED_BGP, buf)));
	free(s);
	s = repeat('s', 129);
	snprintf(buf, sizeof(buf), "{\"tags\":[{\"scope\":\"%s\",\"tag\":\"t\"}]}", s);
	must_fail(BGP, body(SEED_BGP, buf), "tags[0].scope: length 129 exceeds the maximum 128",
		  VPN_E_INVALID);
	free(s);
	s = repeat('t', 256);
	snprintf(buf, sizeof(buf), "{\"tags\":[{\"tag\":\"%s\"}]}", s);
	json_decref(must_pass(BGP, body(SEED_BGP, buf)));
	free(s);
	s = repeat('t', 257);
	snprintf(buf, sizeof(buf), "{\"tags\":[{\"tag\":\"%s\"}]}", s);
	must_fail(BGP, body(SEED_BGP, buf), "tags[0].tag: length 257 exceeds the maximum 256",
		  VPN_E_INVALID);
	free(s);
	must_fail(BGP, body(SEED_BGP, "{\"tags\":[{\"key\":\"k\"}]}"),
		  "property tags[0].key is unrecognized.", VPN_E_BAD_JSON);
}

static json_t *
subnets(int n)
{
	json_t *a = json_array();
	char s[32];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(s, sizeof(s), "10.%d.%d.0/24", i / 256, i % 256);
		json_array_append_new(a, json_pack("{s:s}", "subnet", s));
	}
	return a;
}

static void
test_rule_list_sizes(void **state)
{
	json_t *obj, *rule;

	(void)state;
	obj = load(SEED_POLICY);
	rule = json_array_get(json_object_get(obj, "rules"), 0);
	json_object_set_new(rule, "sources", subnets(128));
	json_object_set_new(rule, "destinations", subnets(128));
	json_decref(must_pass(PBS, obj));

	obj = load(SEED_POLICY);
	rule = json_array_get(json_object_get(obj, "rules"), 0);
	json_object_set_new(rule, "sources", subnets(129));
	must_fail(PBS, obj, "rules[0].sources: has 129 items, at most 128 allowed", VPN_E_INVALID);

	obj = load(SEED_POLICY);
	rule = json_array_get(json_object_get(obj, "rules"), 0);
	json_object_set_new(rule, "destinations", subnets(129));
	must_fail(PBS, obj, "rules[0].destinations: has 129 items, at most 128 allowed",
		  VPN_E_INVALID);
}

static void
test_strict_off_gmac(void **state)
{
	const char *gmac = "{\"encryption_algorithms\":[\"NO_ENCRYPTION_AUTH_AES_GMAC_128\"],"
			   "\"digest_algorithms\":[\"SHA1\"]}";

	(void)state;
	schema_set_strict_vmc_enums(false);
	must_fail(TUN, body(SEED_TUNNEL, gmac),
		  "digest_algorithms: must be empty when encryption_algorithms has a GMAC cipher",
		  VPN_E_INVALID);
	json_decref(must_pass(TUN, body(SEED_TUNNEL,
		  "{\"encryption_algorithms\":[\"NO_ENCRYPTION_AUTH_AES_GMAC_256\"],"
		  "\"digest_algorithms\":[]}")));
	must_fail(TUN, body(SEED_TUNNEL, "{\"encryption_algorithms\":"
			    "[\"NO_ENCRYPTION_AUTH_AES_GMAC_192\",\"AES_128\"]}"),
		  "cannot be combined", VPN_E_INVALID);
	json_decref(must_pass(TUN, body(SEED_TUNNEL,
		  "{\"encryption_algorithms\":[\"NO_ENCRYPTION\"],\"digest_algorithms\":[\"SHA2_512\"]}")));
	json_decref(must_pass(IKE, body(SEED_IKE,
		  "{\"encryption_algorithms\":[\"AES_256\"],\"digest_algorithms\":[\"SHA2_384\"]}")));
	/* the spec's extra enum values are still an enum */
	must_fail(TUN, body(SEED_TUNNEL, "{\"digest_algorithms\":[\"MD5\"]}"),
		  "digest_algorithms[0]: value 'MD5' is not one of: SHA1, SHA2_256, SHA2_384, SHA2_512",
		  VPN_E_INVALID);

	/* compliance suites (TF rule): CERTIFICATE, and no profile paths */
	must_fail(RBS, body(SEED_ROUTE, "{\"compliance_suite\":\"CNSA\"}"),
		  "authentication_mode: must be CERTIFICATE when compliance_suite is CNSA",
		  VPN_E_INVALID);
	must_fail(RBS, body(SEED_ROUTE, "{\"compliance_suite\":\"CNSA\"}"),
		  "ike_profile_path: must not be set when compliance_suite is CNSA", VPN_E_INVALID);
	json_decref(must_pass(RBS, body(SEED_ROUTE,
		  "{\"compliance_suite\":\"SUITE_B_GCM_256\",\"authentication_mode\":\"CERTIFICATE\","
		  "\"psk\":null,\"ike_profile_path\":null,\"tunnel_profile_path\":null,"
		  "\"dpd_profile_path\":null}")));
	schema_set_strict_vmc_enums(true);
}

static void
test_reserved_vti_config(void **state)
{
	struct vpn_error err;

	(void)state;
	json_decref(must_pass(RBS, load(SEED_ROUTE)));
	vpn_error_clear(&err);
	assert_int_equal(schema_set_reserved_vti(" 169.254.151.0/24 , 169.254.200.0/30", &err),
			 VPN_OK);
	must_fail(RBS, load(SEED_ROUTE), "address 169.254.151.2 lies in the reserved range "
		  "169.254.151.0/24", VPN_E_INVALID);
	/* the built-in /19 no longer applies */
	json_decref(must_pass(RBS, body(SEED_ROUTE,
		  "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.10.1\"],"
		  "\"prefix_length\":30}]}]}")));
	/* bad lists are refused and leave the table alone */
	assert_int_equal(schema_set_reserved_vti("169.254.0.0/16,bogus", &err), VPN_E_INVALID);
	assert_non_null(strstr(err.msg, "bogus"));
	assert_int_equal(schema_set_reserved_vti("2001:db8::/32", &err), VPN_E_INVALID);
	must_fail(RBS, load(SEED_ROUTE), "reserved range 169.254.151.0/24", VPN_E_INVALID);
	/* empty: nothing reserved */
	assert_int_equal(schema_set_reserved_vti("", &err), VPN_OK);
	json_decref(must_pass(RBS, body(SEED_ROUTE,
		  "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.169.254\"],"
		  "\"prefix_length\":24}]}]}")));
	/* NULL restores the built-in table */
	assert_int_equal(schema_set_reserved_vti(NULL, &err), VPN_OK);
	must_fail(RBS, body(SEED_ROUTE,
		  "{\"tunnel_interfaces\":[{\"ip_subnets\":[{\"ip_addresses\":[\"169.254.10.1\"],"
		  "\"prefix_length\":30}]}]}"), "reserved range 169.254.0.0/19", VPN_E_INVALID);
	json_decref(must_pass(RBS, load(SEED_ROUTE)));
}

static void
test_strip_readonly(void **state)
{
	const struct schema_type *t = schema_type_get(PBS);
	json_t *o, *rule;

	(void)state;
	o = body(SEED_POLICY, "{\"_revision\":3,\"_create_time\":1,\"_create_user\":\"u\","
		 "\"_last_modified_time\":2,\"_last_modified_user\":\"u\",\"_protection\":\"NOT_PROTECTED\","
		 "\"_system_owned\":false,\"_links\":[],\"_schema\":\"s\",\"_self\":{\"href\":\"h\"},"
		 "\"path\":\"/p\",\"parent_path\":\"/pp\",\"relative_path\":\"r\",\"unique_id\":\"u\","
		 "\"realization_id\":\"r\",\"marked_for_delete\":false,\"overridden\":false,"
		 "\"remote_path\":\"\",\"owner_id\":\"o\",\"origin_site_id\":\"s\","
		 "\"description\":\"d\",\"tags\":[],\"bogus\":1}");
	rule = json_array_get(json_object_get(o, "rules"), 0);
	json_object_set_new(rule, "path", json_string("/p/rule"));
	json_object_set_new(rule, "_revision", json_integer(0));
	schema_strip_readonly(t, o);
	assert_int_equal(json_object_size(o), 18);	/* 13 session fields + 4 common + bogus */
	assert_non_null(json_object_get(o, "id"));
	assert_non_null(json_object_get(o, "display_name"));
	assert_non_null(json_object_get(o, "resource_type"));
	assert_non_null(json_object_get(o, "description"));
	assert_non_null(json_object_get(o, "tags"));
	assert_non_null(json_object_get(o, "psk"));
	assert_non_null(json_object_get(o, "bogus"));	/* left for schema_validate to report */
	assert_null(json_object_get(o, "_revision"));
	assert_null(json_object_get(o, "path"));
	assert_null(json_object_get(o, "_links"));
	/* nested: the rule's server fields and its read-only action */
	assert_null(json_object_get(rule, "path"));
	assert_null(json_object_get(rule, "_revision"));
	assert_null(json_object_get(rule, "action"));
	assert_non_null(json_object_get(rule, "id"));
	assert_non_null(json_object_get(rule, "sources"));
	json_decref(o);

	/* a Tag has no "path": not stripped, so validation can report it */
	o = body(SEED_BGP, "{\"tags\":[{\"tag\":\"t\",\"path\":\"x\"}]}");
	schema_strip_readonly(schema_type_get(BGP), o);
	assert_non_null(json_object_get(json_array_get(json_object_get(o, "tags"), 0), "path"));
	json_decref(o);
}

static void
assert_keys(const json_t *obj, const char *const *keys)
{
	void *it = json_object_iter((json_t *)obj);
	size_t i = 0;

	for (; it; it = json_object_iter_next((json_t *)obj, it), i++) {
		if (!keys[i])
			fail_msg("extra key %s", json_object_iter_key(it));
		if (strcmp(keys[i], json_object_iter_key(it)))
			fail_msg("key %zu: expected %s, got %s", i, keys[i], json_object_iter_key(it));
	}
	if (keys[i])
		fail_msg("missing key %s", keys[i]);
}

static void
test_render(void **state)
{
	static const char *const ike_keys[] = {
		"digest_algorithms", "encryption_algorithms", "ike_version", "dh_groups",
		"sa_life_time", "resource_type", "id", "display_name", "description", "tags",
		"path", "relative_path", "parent_path", "unique_id", "realization_id",
		"marked_for_delete", "overridden", "_create_time", "_create_user",
		"_last_modified_time", "_last_modified_user", "_system_owned", "_protection",
		"_revision", NULL
	};
	static const char *const session_keys[] = {
		"rules", "enabled", "local_endpoint_path", "authentication_mode",
		"ike_profile_path", "tunnel_profile_path", "dpd_profile_path", "compliance_suite",
		"connection_initiation_mode", "peer_address", "peer_id", "resource_type", "id",
		"display_name", "path", "_revision", NULL
	};
	static const char *const rule_keys[] = {
		"sources", "destinations", "logged", "enabled", "action", "sequence_number",
		"resource_type", "id", "display_name", NULL
	};
	const struct schema_type *t = schema_type_get(IKE);
	json_t *o, *r, *rule;
	const char *const *k;
	size_t n;

	(void)state;
	/* every key, inserted in reverse of the canonical order */
	o = json_object();
	for (n = 0; ike_keys[n]; n++)
		;
	while (n--)
		json_object_set_new(o, ike_keys[n], json_string("x"));
	json_object_set_new(o, "children", json_array());	/* never rendered */
	r = schema_render(t, o, 0);
	assert_non_null(r);
	assert_keys(r, ike_keys);
	json_decref(r);
	json_decref(o);

	/* sessions: psk only with SCHEMA_RENDER_SECRETS; nested rules in order too */
	o = must_pass(PBS, load(SEED_POLICY));
	json_object_set_new(o, "_revision", json_integer(0));
	json_object_set_new(o, "path", json_string("/infra/x"));
	r = schema_render(schema_type_get(PBS), o, 0);
	assert_keys(r, session_keys);
	assert_null(json_object_get(r, "psk"));
	rule = json_array_get(json_object_get(r, "rules"), 0);
	assert_keys(rule, rule_keys);
	json_decref(r);
	r = schema_render(schema_type_get(PBS), o, SCHEMA_RENDER_SECRETS);
	assert_string_equal(json_string_value(json_object_get(r, "psk")), "test123456");
	for (k = session_keys, n = 0; *k; k++, n++)
		;
	assert_int_equal(json_object_size(r), n + 1);
	json_decref(r);
	json_decref(o);

	o = must_pass(BGP, load(SEED_BGP));
	r = schema_render(schema_type_get(BGP), o, 0);
	assert_null(json_object_get(r, "password"));
	assert_string_equal(json_object_iter_key(json_object_iter(r)), "neighbor_address");
	json_decref(r);
	r = schema_render(schema_type_get(BGP), o, SCHEMA_RENDER_SECRETS);
	assert_string_equal(json_string_value(json_object_get(r, "password")), "MyBGPPassword");
	json_decref(r);
	json_decref(o);

	/* render is the inverse of validate: the rendered object validates to itself */
	o = must_pass(RBS, body(SEED_ROUTE, SEED_MSS));
	r = schema_render(schema_type_get(RBS), o, SCHEMA_RENDER_SECRETS);
	assert_true(json_equal(o, r));
	json_decref(must_pass(RBS, r));
	json_decref(o);
}

static void
test_secret_fields(void **state)
{
	(void)state;
	assert_true(schema_field_is_secret(schema_type_get(RBS), "psk"));
	assert_true(schema_field_is_secret(schema_type_get(PBS), "psk"));
	assert_true(schema_field_is_secret(schema_type_get(BGP), "password"));
	assert_false(schema_field_is_secret(schema_type_get(RBS), "peer_id"));
	assert_false(schema_field_is_secret(schema_type_get(IKE), "psk"));
	assert_false(schema_field_is_secret(NULL, "psk"));
}

struct refs_seen {
	int n;
	int stop_at;
	char where[8][96];
	char target[8][128];
	char prefix[8][128];
};

static enum vpn_err
collect(void *arg, const char *where, const char *target, const char *prefix)
{
	struct refs_seen *s = arg;

	if (s->n < 8) {
		snprintf(s->where[s->n], sizeof(s->where[0]), "%s", where);
		snprintf(s->target[s->n], sizeof(s->target[0]), "%s", target);
		snprintf(s->prefix[s->n], sizeof(s->prefix[0]), "%s", prefix);
	}
	s->n++;
	return s->n == s->stop_at ? VPN_E_NOT_FOUND : VPN_OK;
}

static void
test_refs(void **state)
{
	struct refs_seen s;
	json_t *o;

	(void)state;
	memset(&s, 0, sizeof(s));
	o = must_pass(RBS, load(SEED_ROUTE));
	assert_int_equal(schema_refs(schema_type_get(RBS), o, collect, &s), VPN_OK);
	assert_int_equal(s.n, 4);
	assert_string_equal(s.where[0], "dpd_profile_path");
	assert_string_equal(s.prefix[0], "/infra/ipsec-vpn-dpd-profiles/");
	assert_string_equal(s.where[1], "ike_profile_path");
	assert_string_equal(s.target[1], "/infra/ipsec-vpn-ike-profiles/VPNtoDFWDC1IKE");
	assert_string_equal(s.where[2], "local_endpoint_path");
	assert_string_equal(s.target[2], LEP "Private-IP1");
	assert_string_equal(s.prefix[2], LEP);
	assert_string_equal(s.where[3], "tunnel_profile_path");
	assert_string_equal(s.prefix[3], "/infra/ipsec-vpn-tunnel-profiles/");
	json_decref(o);

	memset(&s, 0, sizeof(s));
	o = must_pass(BGP, body(SEED_BGP, "{\"in_route_filters\":[\"" PL "VPNPrefixList_inout\"]}"));
	assert_int_equal(schema_refs(schema_type_get(BGP), o, collect, &s), VPN_OK);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.where[0], "in_route_filters[0]");
	assert_string_equal(s.where[1], "route_filtering[0].in_route_filters[0]");
	assert_string_equal(s.target[1], PL "VPNPrefixList_inout");
	assert_string_equal(s.prefix[1], PL);
	assert_string_equal(s.where[2], "route_filtering[0].out_route_filters[0]");

	/* the callback's first error stops the walk */
	memset(&s, 0, sizeof(s));
	s.stop_at = 2;
	assert_int_equal(schema_refs(schema_type_get(BGP), o, collect, &s), VPN_E_NOT_FOUND);
	assert_int_equal(s.n, 2);
	json_decref(o);

	/* no references in a profile */
	memset(&s, 0, sizeof(s));
	o = must_pass(IKE, load(SEED_IKE));
	assert_int_equal(schema_refs(schema_type_get(IKE), o, collect, &s), VPN_OK);
	assert_int_equal(s.n, 0);
	json_decref(o);
}

static void
test_types(void **state)
{
	static const char *const names[] = {
		IKE, TUN, DPD, RBS, PBS, "IPSecVpnLocalEndpoint", "IPSecVpnService", PLT, BGP,
		"BgpRoutingConfig", "Tier0", "LocaleServices", "IPSecVpnRule", "IPSecVpnSubnet",
		"IPSecVpnTunnelInterface", "TunnelInterfaceIPSubnet", "TcpMaximumSegmentSizeClamping",
		"PrefixEntry", "BgpRouteFiltering", "BgpBfdConfig", "BgpNeighborLocalAsConfig",
		"BgpGracefulRestartConfig", "BgpGracefulRestartTimer", "Tag", "ResourceLink",
		"SelfResourceLink", NULL
	};
	const char *const *n;
	struct vpn_error err;

	(void)state;
	for (n = names; *n; n++) {
		assert_non_null(schema_type_get(*n));
		assert_string_equal(schema_type_name(schema_type_get(*n)), *n);
	}
	assert_null(schema_type_get("IPSecVpnSession"));
	assert_null(schema_type_get(NULL));
	assert_int_equal(schema_init(&err), VPN_OK);	/* idempotent */
	/* system objects (hand-written types) validate */
	json_decref(must_pass("Tier0", load("{\"ha_mode\":\"ACTIVE_STANDBY\"}")));
	json_decref(must_pass("IPSecVpnLocalEndpoint", load("{\"local_address\":\"203.0.113.5\"}")));
	must_fail("IPSecVpnLocalEndpoint", load("{}"), "local_address: is required", VPN_E_INVALID);
}

static int
setup(void **state)
{
	struct vpn_error err;

	(void)state;
	vpn_error_clear(&err);
	if (schema_init(&err)) {
		print_error("schema_init: %s\n", err.msg);
		return -1;
	}
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	schema_fini();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_rule_table),
		cmocka_unit_test(test_unknown_property_code),
		cmocka_unit_test(test_multiple_violations),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_coercion),
		cmocka_unit_test(test_secrets_never_in_messages),
		cmocka_unit_test(test_tags_and_lengths),
		cmocka_unit_test(test_rule_list_sizes),
		cmocka_unit_test(test_strict_off_gmac),
		cmocka_unit_test(test_reserved_vti_config),
		cmocka_unit_test(test_strip_readonly),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_secret_fields),
		cmocka_unit_test(test_refs),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
