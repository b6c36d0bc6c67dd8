/*
 * types.c - hand-written constraints per NSX type, and the cross-field rules tables cannot say.
 *
 * schema_init() joins every table row with the generated field of the same name (spec_gen.c);
 * a row naming a field the spec does not have makes schema_init() fail. Where each value comes
 * from is listed in docs/schema.md (seed > reference > spec text > TF > NSX norm > vpnd).
 */
#include "schema/schema_int.h"

#include <stdio.h>
#include <string.h>

#include "core/netaddr.h"
#include "core/util.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define P_IKE		"/infra/ipsec-vpn-ike-profiles/"
#define P_TUNNEL	"/infra/ipsec-vpn-tunnel-profiles/"
#define P_DPD		"/infra/ipsec-vpn-dpd-profiles/"
#define P_LOCAL_EP	"/infra/tier-0s/vmc/locale-services/default/ipsec-vpn-services/default/local-endpoints/"
#define P_PREFIX_LIST	"/infra/tier-0s/vmc/prefix-lists/"

/* ---- the seed's VMC value lists (used while schema_set_strict_vmc_enums(true)) ---- */

static const char *const vmc_encryption[] = {
	"AES_128", "AES_256", "AES_GCM_128", "AES_GCM_192", "AES_GCM_256", NULL
};
static const char *const vmc_digest[] = { "SHA1", "SHA2_256", NULL };
static const char *const vmc_dh_groups[] = {
	"GROUP2", "GROUP5", "GROUP14", "GROUP15", "GROUP16", "GROUP19", "GROUP20", "GROUP21", NULL
};
static const char *const vmc_ike_version[] = { "IKE_V1", "IKE_V2", "IKE_FLEX", NULL };
static const char *const vmc_df_policy[] = { "COPY", "CLEAR", NULL };
static const char *const vmc_dpd_mode[] = { "PERIODIC", "ON_DEMAND", NULL };

/* ---- common fields (every type that has them) ---- */

const struct schema_constraint schema_common_cons[] = {
	{ .field = "display_name", .min_len = 1, .max_len = 255 },
	{ .field = "description", .max_len = 1024 },
	{ .field = "tags", .max_items = 30 },
};
const size_t schema_ncommon_cons = N(schema_common_cons);

static const struct schema_constraint tag_cons[] = {
	{ .field = "scope", .max_len = 128 },
	{ .field = "tag", .max_len = 256 },
};

/* ---- IPSec profiles ---- */

static const struct schema_constraint ike_cons[] = {
	{ .field = "encryption_algorithms", .defval = "[\"AES_128\"]", .min_items = 1,
	  .vmc_enum = vmc_encryption },
	{ .field = "digest_algorithms", .vmc_enum = vmc_digest },	/* default: crypto_fill */
	{ .field = "dh_groups", .defval = "[\"GROUP14\"]", .min_items = 1,
	  .vmc_enum = vmc_dh_groups },
	{ .field = "ike_version", .defval = "\"IKE_V2\"", .vmc_enum = vmc_ike_version },
	{ .field = "sa_life_time", .defval = "86400", .flags = C_RANGE,
	  .min = 21600, .max = 31536000 },
};

static const struct schema_constraint tunnel_cons[] = {
	{ .field = "encryption_algorithms", .defval = "[\"AES_GCM_128\"]", .min_items = 1,
	  .vmc_enum = vmc_encryption },
	{ .field = "digest_algorithms", .vmc_enum = vmc_digest },	/* default: crypto_fill */
	{ .field = "dh_groups", .defval = "[\"GROUP14\"]", .vmc_enum = vmc_dh_groups },
	{ .field = "enable_perfect_forward_secrecy", .defval = "true" },
	{ .field = "df_policy", .defval = "\"COPY\"", .vmc_enum = vmc_df_policy },
	{ .field = "sa_life_time", .defval = "3600", .flags = C_RANGE,
	  .min = 900, .max = 31536000 },
};

static const struct schema_constraint dpd_cons[] = {
	{ .field = "dpd_probe_mode", .defval = "\"PERIODIC\"", .vmc_enum = vmc_dpd_mode },
	{ .field = "dpd_probe_interval" },	/* default and range by mode: dpd_fill/dpd_check */
	{ .field = "retry_count", .defval = "5", .flags = C_RANGE, .min = 1, .max = 100 },
	{ .field = "enabled", .defval = "true" },
};

/* ---- prefix lists ---- */

static const struct schema_constraint prefix_list_cons[] = {
	{ .field = "prefixes", .flags = C_REQUIRED, .min_items = 1 },
};

static const struct schema_constraint prefix_entry_cons[] = {
	{ .field = "network", .flags = C_REQUIRED, .fmt = FMT_CIDR_OR_ANY },
	{ .field = "action", .defval = "\"PERMIT\"" },
	{ .field = "ge", .flags = C_RANGE, .min = 0, .max = 128 },
	{ .field = "le", .flags = C_RANGE, .min = 0, .max = 128 },
};

/* ---- BGP ---- */

static const struct schema_constraint bgp_neighbor_cons[] = {
	{ .field = "neighbor_address", .flags = C_REQUIRED, .fmt = FMT_IP },
	{ .field = "remote_as_num", .flags = C_REQUIRED, .fmt = FMT_ASN },
	{ .field = "route_filtering", .defval = "[]", .max_items = 2 },
	{ .field = "keep_alive_time", .defval = "60", .flags = C_RANGE, .min = 1, .max = 65535 },
	{ .field = "hold_down_time", .defval = "180", .flags = C_RANGE, .min = 1, .max = 65535 },
	{ .field = "maximum_hop_limit", .defval = "1", .flags = C_RANGE, .min = 1, .max = 255 },
	{ .field = "allow_as_in", .defval = "false" },
	{ .field = "enabled", .defval = "true" },
	{ .field = "graceful_restart_mode", .defval = "\"HELPER_ONLY\"" },
	{ .field = "password", .flags = C_SECRET, .max_len = 32 },
	{ .field = "source_addresses", .max_items = 8, .fmt = FMT_IP },
	{ .field = "in_route_filters", .fmt = FMT_PATH, .prefix = P_PREFIX_LIST },
	{ .field = "out_route_filters", .fmt = FMT_PATH, .prefix = P_PREFIX_LIST },
};

static const struct schema_constraint bgp_route_filtering_cons[] = {
	{ .field = "address_family" },		/* default: bgp_neighbor_fill (from the neighbor) */
	{ .field = "enabled", .defval = "true" },
	{ .field = "in_route_filters", .max_items = 1, .fmt = FMT_PATH, .prefix = P_PREFIX_LIST },
	{ .field = "out_route_filters", .max_items = 1, .fmt = FMT_PATH, .prefix = P_PREFIX_LIST },
	{ .field = "maximum_routes", .flags = C_RANGE, .min = 1, .max = 1000000 },
};

static const struct schema_constraint bgp_bfd_cons[] = {
	{ .field = "enabled", .defval = "false" },
	{ .field = "interval", .defval = "500", .flags = C_RANGE, .min = 50, .max = 60000 },
	{ .field = "multiple", .defval = "3", .flags = C_RANGE, .min = 2, .max = 16 },
};

static const struct schema_constraint bgp_local_as_cons[] = {
	{ .field = "local_as_num", .flags = C_REQUIRED, .fmt = FMT_ASN },
};

static const struct schema_constraint bgp_routing_cons[] = {
	{ .field = "local_as_num", .fmt = FMT_ASN },
	{ .field = "enabled", .defval = "true" },
};

/* ---- sessions ---- */

static const struct schema_constraint session_cons[] = {
	{ .field = "peer_address", .flags = C_REQUIRED, .fmt = FMT_IP },
	{ .field = "peer_id", .flags = C_REQUIRED, .min_len = 1, .max_len = 255 },
	{ .field = "local_endpoint_path", .flags = C_REQUIRED, .fmt = FMT_PATH,
	  .prefix = P_LOCAL_EP },
	{ .field = "authentication_mode", .defval = "\"PSK\"" },
	{ .field = "psk", .flags = C_SECRET, .min_len = 1, .max_len = 128 },	/* required with PSK: check */
	/* The three profile paths are defaulted by session_fill (not with a compliance suite). */
	{ .field = "ike_profile_path", .fmt = FMT_PATH, .prefix = P_IKE },
	{ .field = "tunnel_profile_path", .fmt = FMT_PATH, .prefix = P_TUNNEL },
	{ .field = "dpd_profile_path", .fmt = FMT_PATH, .prefix = P_DPD },
	{ .field = "compliance_suite", .defval = "\"NONE\"" },
	{ .field = "connection_initiation_mode", .defval = "\"INITIATOR\"" },
	{ .field = "enabled", .defval = "true" },
};

static const struct schema_constraint route_session_cons[] = {
	{ .field = "tunnel_interfaces", .flags = C_REQUIRED, .min_items = 1, .max_items = 1 },
	{ .field = "force_whitelisting", .defval = "false" },
};

static const struct schema_constraint policy_session_cons[] = {
	{ .field = "rules", .flags = C_REQUIRED, .min_items = 1 },
};

static const struct schema_constraint tunnel_if_cons[] = {
	{ .field = "id", .defval = "\"default-tunnel-interface\"" },
	{ .field = "ip_subnets", .flags = C_REQUIRED, .min_items = 1, .max_items = 1 },
};

static const struct schema_constraint tunnel_if_subnet_cons[] = {
	{ .field = "ip_addresses", .flags = C_REQUIRED, .min_items = 1, .max_items = 1,
	  .fmt = FMT_IPV4 },
	{ .field = "prefix_length", .flags = C_REQUIRED | C_RANGE, .min = 1, .max = 31 },
};

static const struct schema_constraint mss_cons[] = {
	/* a size without a direction would be stored but clamp nothing: say so instead */
	{ .field = "direction", .flags = C_REQUIRED },
	{ .field = "max_segment_size", .flags = C_RANGE, .min = 216, .max = 8960 },
};

static const struct schema_constraint rule_cons[] = {
	{ .field = "sources", .defval = "[]", .max_items = 128 },
	{ .field = "destinations", .defval = "[]", .max_items = 128 },
	{ .field = "enabled", .defval = "true" },
	{ .field = "logged", .defval = "false" },
	{ .field = "sequence_number", .defval = "0", .flags = C_RANGE,
	  .min = 0, .max = 2147483647 },
	{ .field = "action", .defval = "\"PROTECT\"" },
};

static const struct schema_constraint vpn_subnet_cons[] = {
	{ .field = "subnet", .flags = C_REQUIRED, .fmt = FMT_CIDR },
};

static const struct schema_constraint local_endpoint_cons[] = {
	{ .field = "local_address", .flags = C_REQUIRED, .fmt = FMT_IP },
	{ .field = "local_id", .max_len = 255 },
};

static const struct schema_constraint vpn_service_cons[] = {
	{ .field = "enabled", .defval = "true" },
};

/* ---- render orders (the seed's examples, which follow real NSX responses) ---- */

static const char *const ike_order[] = {
	"digest_algorithms", "encryption_algorithms", "ike_version", "dh_groups", "sa_life_time",
	NULL
};
static const char *const tunnel_order[] = {
	"digest_algorithms", "encryption_algorithms", "enable_perfect_forward_secrecy",
	"dh_groups", "sa_life_time", "df_policy", NULL
};
static const char *const dpd_order[] = {
	"enabled", "dpd_probe_mode", "dpd_probe_interval", "retry_count", NULL
};
static const char *const prefix_entry_order[] = { "network", "action", "le", "ge", NULL };
static const char *const bgp_neighbor_order[] = {
	"neighbor_address", "remote_as_num", "route_filtering", "keep_alive_time",
	"hold_down_time", "allow_as_in", "maximum_hop_limit", "password", NULL
};
static const char *const route_filtering_order[] = {
	"enabled", "address_family", "in_route_filters", "out_route_filters", NULL
};
static const char *const route_session_order[] = {
	"tunnel_interfaces", "force_whitelisting", "enabled", "local_endpoint_path",
	"authentication_mode", "psk", "ike_profile_path", "tunnel_profile_path",
	"dpd_profile_path", "compliance_suite", "connection_initiation_mode", "peer_address",
	"peer_id", "tcp_mss_clamping", NULL
};
static const char *const policy_session_order[] = {
	"rules", "enabled", "local_endpoint_path", "authentication_mode", "psk",
	"ike_profile_path", "tunnel_profile_path", "dpd_profile_path", "compliance_suite",
	"connection_initiation_mode", "peer_address", "peer_id", "tcp_mss_clamping", NULL
};
static const char *const tunnel_if_subnet_order[] = { "ip_addresses", "prefix_length", NULL };
static const char *const rule_order[] = {
	"sources", "destinations", "logged", "enabled", "action", "sequence_number", NULL
};
static const char *const mss_order[] = { "direction", "max_segment_size", NULL };

/* ---- helpers ---- */

const char *
jget_str(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

bool
jget_int(const json_t *obj, const char *key, int64_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_integer(v))
		return false;
	*out = (int64_t)json_integer_value(v);
	return true;
}

bool
jget_bool(const json_t *obj, const char *key, bool *out)
{
	json_t *v = json_object_get(obj, key);

	if (!json_is_boolean(v))
		return false;
	*out = json_is_true(v);
	return true;
}

json_t *
jget_arr(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_array(v) ? v : NULL;
}

bool
jarr_has_str(const json_t *arr, const char *s)
{
	size_t i;
	json_t *it;

	json_array_foreach(arr, i, it)
		if (json_is_string(it) && !strcmp(json_string_value(it), s))
			return true;
	return false;
}

/* ---- crypto (IKE and tunnel profiles) ---- */

struct ciphers {
	bool needs_digest;	/* AES_128, AES_256 (CBC), NO_ENCRYPTION */
	bool gcm;		/* AES_GCM_* */
	bool gmac;		/* NO_ENCRYPTION_AUTH_AES_GMAC_* */
};

static void
ciphers_scan(const json_t *obj, struct ciphers *c)
{
	json_t *enc = jget_arr(obj, "encryption_algorithms"), *it;
	size_t i;

	memset(c, 0, sizeof(*c));
	json_array_foreach(enc, i, it) {
		const char *s = json_string_value(it);

		if (!s)
			continue;
		if (!strncmp(s, "AES_GCM_", 8))
			c->gcm = true;
		else if (!strncmp(s, "NO_ENCRYPTION_AUTH_AES_GMAC_", 28))
			c->gmac = true;
		else if (!strcmp(s, "AES_128") || !strcmp(s, "AES_256") || !strcmp(s, "NO_ENCRYPTION"))
			c->needs_digest = true;
	}
}

/* Reference: "A default value of SHA2_256 will be applied only when the supplied encryption
 * algorithms contain either AES_128 or AES_256"; otherwise NSX shows []. */
static void
crypto_fill(struct vctx *v, json_t *obj)
{
	struct ciphers c;

	(void)v;
	if (json_object_get(obj, "digest_algorithms"))
		return;
	ciphers_scan(obj, &c);
	json_object_set_new(obj, "digest_algorithms",
			    c.needs_digest ? json_pack("[s]", "SHA2_256") : json_array());
}

static void
crypto_check(struct vctx *v, json_t *obj, bool ike)
{
	json_t *dig = jget_arr(obj, "digest_algorithms");
	size_t ndig = dig ? json_array_size(dig) : 0;
	const char *ver = jget_str(obj, "ike_version");
	struct ciphers c;

	ciphers_scan(obj, &c);
	if (c.needs_digest && (c.gcm || c.gmac)) {
		vx_violation(v, "encryption_algorithms",
			     "AES_GCM/GMAC ciphers cannot be combined with AES_128, AES_256 or "
			     "NO_ENCRYPTION in one profile (they need a digest, GCM/GMAC must have none)");
		return;
	}
	if (c.gcm && ndig)
		vx_violation(v, "digest_algorithms",
			     "must be empty when encryption_algorithms has a GCM cipher (AES_GCM_*)");
	if (c.gmac && ndig)
		vx_violation(v, "digest_algorithms",
			     "must be empty when encryption_algorithms has a GMAC cipher "
			     "(NO_ENCRYPTION_AUTH_AES_GMAC_*)");
	if (c.needs_digest && dig && !ndig)
		vx_violation(v, "digest_algorithms",
			     "needs at least one digest when encryption_algorithms has AES_128, "
			     "AES_256 or NO_ENCRYPTION");
	if (ike && c.gcm && ver && strcmp(ver, "IKE_V2"))
		vx_violation(v, "ike_version",
			     "GCM ciphers (AES_GCM_*) require IKE_V2, not %s", ver);
}

static void
ike_check(struct vctx *v, json_t *obj)
{
	crypto_check(v, obj, true);
}

static void
tunnel_check(struct vctx *v, json_t *obj)
{
	json_t *dh = jget_arr(obj, "dh_groups");
	bool pfs;

	crypto_check(v, obj, false);
	if (jget_bool(obj, "enable_perfect_forward_secrecy", &pfs) && pfs && dh &&
	    !json_array_size(dh))
		vx_violation(v, "dh_groups",
			     "needs at least one DH group when enable_perfect_forward_secrecy is true");
}

/* ---- DPD: the interval's default and range depend on the mode (seed) ---- */

struct dpd_mode_range {
	const char *mode;
	int64_t def, min, max;
};

static const struct dpd_mode_range dpd_ranges[] = {
	{ "PERIODIC", 60, 3, 360 },
	{ "ON_DEMAND", 3, 1, 10 },
};

static const struct dpd_mode_range *
dpd_range(const json_t *obj)
{
	const char *mode = jget_str(obj, "dpd_probe_mode");
	size_t i;

	for (i = 0; mode && i < N(dpd_ranges); i++)
		if (!strcmp(mode, dpd_ranges[i].mode))
			return &dpd_ranges[i];
	return NULL;
}

static void
dpd_fill(struct vctx *v, json_t *obj)
{
	const struct dpd_mode_range *r = dpd_range(obj);

	(void)v;
	if (r && !json_object_get(obj, "dpd_probe_interval"))
		json_object_set_new(obj, "dpd_probe_interval", json_integer(r->def));
}

static void
dpd_check(struct vctx *v, json_t *obj)
{
	const struct dpd_mode_range *r = dpd_range(obj);
	int64_t iv;

	if (r && jget_int(obj, "dpd_probe_interval", &iv) && (iv < r->min || iv > r->max))
		vx_violation(v, "dpd_probe_interval",
			     "value %lld is out of range [%lld, %lld] for dpd_probe_mode %s",
			     (long long)iv, (long long)r->min, (long long)r->max, r->mode);
}

/* ---- prefix entries: ge/le against the network (0 = unset, as Terraform sends) ---- */

static void
prefix_entry_check(struct vctx *v, json_t *obj)
{
	const char *net = jget_str(obj, "network");
	struct netprefix p;
	int64_t ge = 0, le = 0, bits = 128, len = 0;
	bool have_ge, have_le;

	if (!net)
		return;
	if (strcmp(net, "ANY")) {
		if (!netprefix_parse(net, &p))
			return;		/* format violation already reported */
		bits = netaddr_bits(&p.addr);
		len = p.len;
	}
	have_ge = jget_int(obj, "ge", &ge) && ge != 0;
	have_le = jget_int(obj, "le", &le) && le != 0;
	if (have_ge && ge > bits)
		vx_violation(v, "ge", "value %lld exceeds %lld for an IPv%d network",
			     (long long)ge, (long long)bits, bits == 32 ? 4 : 6);
	if (have_le && le > bits)
		vx_violation(v, "le", "value %lld exceeds %lld for an IPv%d network",
			     (long long)le, (long long)bits, bits == 32 ? 4 : 6);
	if (have_ge && ge < len)
		vx_violation(v, "ge", "value %lld is shorter than the network's prefix length %lld",
			     (long long)ge, (long long)len);
	if (have_le && le < len)
		vx_violation(v, "le", "value %lld is shorter than the network's prefix length %lld",
			     (long long)le, (long long)len);
	if (have_ge && have_le && ge > le)
		vx_violation(v, "ge", "value %lld is greater than le %lld", (long long)ge,
			     (long long)le);
}

/* ---- BGP neighbor ---- */

static void
bgp_neighbor_fill(struct vctx *v, json_t *obj)
{
	json_t *rf = jget_arr(obj, "route_filtering"), *it;
	const char *addr = jget_str(obj, "neighbor_address");
	struct netaddr a;
	const char *fam = "IPV4";
	size_t i;

	(void)v;
	/* Spec: "If not configured, this property automatically derived" - from the neighbor. */
	if (addr && netaddr_parse(addr, &a) && a.family == 6)
		fam = "IPV6";
	json_array_foreach(rf, i, it)
		if (json_is_object(it) && !json_object_get(it, "address_family"))
			json_object_set_new(it, "address_family", json_string(fam));
}

static void
bgp_neighbor_check(struct vctx *v, json_t *obj)
{
	static const char *const filters[] = { "in_route_filters", "out_route_filters" };
	json_t *rf = jget_arr(obj, "route_filtering"), *it, *src;
	int64_t hold, keep, hops;
	size_t i, j, k;
	char where[64];

	if (jget_int(obj, "hold_down_time", &hold) && jget_int(obj, "keep_alive_time", &keep) &&
	    hold < 3 * keep)
		vx_violation(v, "hold_down_time",
			     "value %lld must be at least 3 times keep_alive_time (%lld)",
			     (long long)hold, (long long)keep);
	src = jget_arr(obj, "source_addresses");
	if (jget_int(obj, "maximum_hop_limit", &hops) && hops > 1 &&
	    (!src || !json_array_size(src)))
		vx_violation(v, "source_addresses",
			     "is required when maximum_hop_limit is greater than 1");
	/* Deprecated top-level filters (IPv4) vs route_filtering: "Specifying different values
	 * for both properties will result in error". */
	for (k = 0; k < N(filters); k++) {
		json_t *top = jget_arr(obj, filters[k]);

		if (!top)
			continue;
		json_array_foreach(rf, i, it) {
			const char *fam = jget_str(it, "address_family");
			json_t *rv = jget_arr(it, filters[k]);

			if (!rv || (fam && strcmp(fam, "IPV4")))
				continue;
			if (!json_equal(top, rv)) {
				snprintf(where, sizeof(where), "route_filtering[%zu].%s", i, filters[k]);
				vx_violation(v, filters[k],
					     "differs from %s; set the route filters in one place only",
					     where);
			}
		}
	}
	json_array_foreach(rf, i, it) {
		const char *fam = jget_str(it, "address_family");

		for (j = 0; fam && j < i; j++) {
			const char *other = jget_str(json_array_get(rf, j), "address_family");

			if (other && !strcmp(fam, other)) {
				snprintf(where, sizeof(where), "route_filtering[%zu].address_family", i);
				vx_violation(v, where, "%s appears more than once in route_filtering",
					     fam);
				break;
			}
		}
	}
}

/* ---- sessions ---- */

static const struct {
	const char *field, *defval;
} session_profile_defaults[] = {
	{ "ike_profile_path", P_IKE "nsx-default-l3vpn-ike-profile" },
	{ "tunnel_profile_path", P_TUNNEL "nsx-default-l3vpn-tunnel-profile" },
	{ "dpd_profile_path", P_DPD "nsx-default-l3vpn-dpd-profile" },
};

static bool
suite_is_none(const json_t *obj)
{
	const char *suite = jget_str(obj, "compliance_suite");

	return !suite || !strcmp(suite, "NONE");
}

static void
session_fill(struct vctx *v, json_t *obj)
{
	size_t i;

	(void)v;
	/* With a compliance suite the suite picks the profiles (TF: paths must not be set). */
	if (!suite_is_none(obj))
		return;
	for (i = 0; i < N(session_profile_defaults); i++)
		if (!json_object_get(obj, session_profile_defaults[i].field))
			json_object_set_new(obj, session_profile_defaults[i].field,
					    json_string(session_profile_defaults[i].defval));
}

static void
session_check(struct vctx *v, json_t *obj)
{
	const char *auth = jget_str(obj, "authentication_mode");
	const char *suite = jget_str(obj, "compliance_suite");
	bool has_psk = json_object_get(obj, "psk") != NULL;
	size_t i;

	if (auth && !strcmp(auth, "PSK") && !has_psk)
		vx_violation(v, "psk", "is required when authentication_mode is PSK");
	if (auth && !strcmp(auth, "CERTIFICATE") && has_psk)
		vx_violation(v, "psk", "must not be set when authentication_mode is CERTIFICATE");
	if (!suite || suite_is_none(obj))
		return;
	if (schema_strict_vmc()) {
		vx_violation(v, "compliance_suite",
			     "value %s is not supported in VMware Cloud on AWS (only NONE)", suite);
		return;
	}
	if (!auth || strcmp(auth, "CERTIFICATE"))
		vx_violation(v, "authentication_mode",
			     "must be CERTIFICATE when compliance_suite is %s", suite);
	for (i = 0; i < N(session_profile_defaults); i++)
		if (json_object_get(obj, session_profile_defaults[i].field))
			vx_violation(v, session_profile_defaults[i].field,
				     "must not be set when compliance_suite is %s", suite);
}

static void
policy_session_check(struct vctx *v, json_t *obj)
{
	json_t *rules = jget_arr(obj, "rules"), *it;
	size_t i, j;
	char where[48];

	session_check(v, obj);
	json_array_foreach(rules, i, it) {
		const char *id = jget_str(it, "id");

		for (j = 0; id && j < i; j++) {
			const char *other = jget_str(json_array_get(rules, j), "id");

			if (other && !strcmp(id, other)) {
				snprintf(where, sizeof(where), "rules[%zu].id", i);
				vx_violation(v, where, "rule id %s is used by rules[%zu] too", id, j);
				break;
			}
		}
	}
}

/* Rules carry their own id (the seed's example has one); NSX generates one when absent. */
static void
rule_fill(struct vctx *v, json_t *obj)
{
	char uuid[37];

	(void)v;
	if (json_object_get(obj, "id"))
		return;
	util_uuid4(uuid);
	json_object_set_new(obj, "id", json_string(uuid));
}

/*
 * Tunnel interface (VTI) address: IPv4 in 169.254.0.0/16 (seed), outside the reserved ranges,
 * and for prefixes up to /30 not the network or broadcast address of its subnet.
 */
static void
tunnel_if_subnet_check(struct vctx *v, json_t *obj)
{
	static const struct netprefix link_local = { { 4, { 169, 254 } }, 16 };
	json_t *addrs = jget_arr(obj, "ip_addresses"), *it;
	int64_t plen = 0;
	bool have_plen = jget_int(obj, "prefix_length", &plen) && plen >= 1 && plen <= 31;
	char where[48], range[64];
	size_t i;

	json_array_foreach(addrs, i, it) {
		const char *s = json_string_value(it);
		struct netaddr a;
		uint32_t ip, mask;

		if (!s || !netaddr_parse(s, &a) || a.family != 4)
			continue;	/* format violation already reported */
		snprintf(where, sizeof(where), "ip_addresses[%zu]", i);
		if (!netprefix_contains(&link_local, &a)) {
			vx_violation(v, where, "address %s must be inside 169.254.0.0/16", s);
			continue;
		}
		/* the whole subnet, not just the address: a /16 around a free address would still
		 * route the reserved ranges into the tunnel */
		{
			struct netprefix sub = { a, (uint8_t)(have_plen ? plen : 32) };

			if (have_plen && plen < 16) {
				vx_violation(v, where, "subnet %s/%lld must lie inside 169.254.0.0/16",
					     s, (long long)plen);
				continue;
			}
			struct netprefix host = { a, 32 };

			if (schema_vti_reserved(&host, range, sizeof(range))) {
				vx_violation(v, where, "address %s lies in the reserved range %s", s,
					     range);
				continue;
			}
			if (schema_vti_reserved(&sub, range, sizeof(range))) {
				vx_violation(v, where, "subnet %s/%u overlaps the reserved range %s", s,
					     sub.len, range);
				continue;
			}
		}
		if (!have_plen || plen > 30)
			continue;
		ip = (uint32_t)a.bytes[0] << 24 | (uint32_t)a.bytes[1] << 16 |
		     (uint32_t)a.bytes[2] << 8 | a.bytes[3];
		mask = plen ? ~(uint32_t)0 << (32 - plen) : 0;
		if ((ip & ~mask) == 0)
			vx_violation(v, where, "address %s is the network address of its /%lld",
				     s, (long long)plen);
		else if ((ip & ~mask) == ~mask)
			vx_violation(v, where, "address %s is the broadcast address of its /%lld",
				     s, (long long)plen);
	}
}

/* ---- the table of tables ---- */

#define CONS(a) a, N(a)

const struct schema_rules schema_rules_table[] = {
	{ "Tag", NULL, 0, CONS(tag_cons), NULL, NULL, NULL },
	{ "IPSecVpnIkeProfile", NULL, 0, CONS(ike_cons), ike_order, crypto_fill, ike_check },
	{ "IPSecVpnTunnelProfile", NULL, 0, CONS(tunnel_cons), tunnel_order, crypto_fill,
	  tunnel_check },
	{ "IPSecVpnDpdProfile", NULL, 0, CONS(dpd_cons), dpd_order, dpd_fill, dpd_check },
	{ "PrefixList", NULL, 0, CONS(prefix_list_cons), NULL, NULL, NULL },
	{ "PrefixEntry", NULL, 0, CONS(prefix_entry_cons), prefix_entry_order, NULL,
	  prefix_entry_check },
	{ "BgpNeighborConfig", NULL, 0, CONS(bgp_neighbor_cons), bgp_neighbor_order,
	  bgp_neighbor_fill, bgp_neighbor_check },
	{ "BgpRouteFiltering", NULL, 0, CONS(bgp_route_filtering_cons), route_filtering_order,
	  NULL, NULL },
	{ "BgpBfdConfig", NULL, 0, CONS(bgp_bfd_cons), NULL, NULL, NULL },
	{ "BgpNeighborLocalAsConfig", NULL, 0, CONS(bgp_local_as_cons), NULL, NULL, NULL },
	{ "BgpRoutingConfig", NULL, 0, CONS(bgp_routing_cons), NULL, NULL, NULL },
	{ "RouteBasedIPSecVpnSession", CONS(session_cons), CONS(route_session_cons),
	  route_session_order, session_fill, session_check },
	{ "PolicyBasedIPSecVpnSession", CONS(session_cons), CONS(policy_session_cons),
	  policy_session_order, session_fill, policy_session_check },
	{ "IPSecVpnTunnelInterface", NULL, 0, CONS(tunnel_if_cons), NULL, NULL, NULL },
	{ "TunnelInterfaceIPSubnet", NULL, 0, CONS(tunnel_if_subnet_cons), tunnel_if_subnet_order,
	  NULL, tunnel_if_subnet_check },
	{ "TcpMaximumSegmentSizeClamping", NULL, 0, CONS(mss_cons), mss_order, NULL, NULL },
	{ "IPSecVpnRule", NULL, 0, CONS(rule_cons), rule_order, rule_fill, NULL },
	{ "IPSecVpnSubnet", NULL, 0, CONS(vpn_subnet_cons), NULL, NULL, NULL },
	{ "IPSecVpnLocalEndpoint", NULL, 0, CONS(local_endpoint_cons), NULL, NULL, NULL },
	{ "IPSecVpnService", NULL, 0, CONS(vpn_service_cons), NULL, NULL, NULL },
};
const size_t schema_nrules = N(schema_rules_table);
