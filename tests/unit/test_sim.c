/*
 * Unit tests for src/realize/sim.c: the sim backend driven directly through its ops, with
 * hand-built sessions and neighbors and explicit virtual times (no clock, no sleeps).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "core/netaddr.h"
#include "realize/prefix.h"
#include "realize/rz.h"
#include "realize/sim.h"

#define SVC "/infra/tier-0s/vmc/locale-services/default/ipsec-vpn-services/default/sessions/"
#define SA SVC "a"
#define SB SVC "b"
#define NBA "/infra/tier-0s/vmc/locale-services/default/bgp/neighbors/n1"
#define PEER "203.0.113.1"
#define PEER2 "203.0.113.2"

static struct rz_backend *B;
static const struct rz_backend_ops *O;

static int
setup(void **state)
{
	(void)state;
	B = sim_backend_new();
	if (!B)
		return -1;
	O = B->ops;
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	O->destroy(B);
	B = NULL;
	return 0;
}

/* ---- builders ---- */

static void
pfx(struct netprefix *p, const char *cidr)
{
	assert_true(netprefix_parse(cidr, p));
}

static void
add_tunnel(struct rz_session *s, const char *local, const char *peer)
{
	struct rz_selector *t;

	s->tunnels = realloc(s->tunnels, (s->ntunnels + 1) * sizeof(*s->tunnels));
	assert_non_null(s->tunnels);
	t = &s->tunnels[s->ntunnels++];
	memset(t, 0, sizeof(*t));
	pfx(&t->local, local);
	pfx(&t->peer, peer);
	snprintf(t->rule_path, sizeof(t->rule_path), "%.400s/rules/r1", s->path);
}

/* A compatible INITIATOR session; route-based with VTI 169.254.10.2/30, else no tunnels yet. */
static void
sess_init(struct rz_session *s, const char *path, const char *peer, bool route_based)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), "%s", path);
	snprintf(s->display_name, sizeof(s->display_name), "test");
	s->route_based = route_based;
	s->enabled = true;
	snprintf(s->local_address, sizeof(s->local_address), "198.51.100.1");
	snprintf(s->local_id, sizeof(s->local_id), "198.51.100.1");
	snprintf(s->peer_address, sizeof(s->peer_address), "%s", peer);
	snprintf(s->peer_id, sizeof(s->peer_id), "%s", peer);
	snprintf(s->psk, sizeof(s->psk), "s3cret-psk");
	s->initiation = RZ_INIT_INITIATOR;
	s->ike.version = RZ_IKE_V2;
	s->ike.enc = RZ_ENC_AES_128 | RZ_ENC_AES_256;
	s->ike.digest = RZ_DIG_SHA2_256;
	s->ike.dh = RZ_DH(14);
	s->ike.lifetime_s = 86400;
	s->esp.enc = RZ_ENC_AES_256;
	s->esp.digest = RZ_DIG_SHA2_256;
	s->esp.dh = RZ_DH(14);
	s->esp.pfs = true;
	s->esp.lifetime_s = 3600;
	s->dpd.enabled = true;
	s->dpd.periodic = true;
	s->dpd.interval_s = 10;
	s->dpd.retries = 3;
	if (route_based) {
		s->has_vti = true;
		pfx(&s->vti, "169.254.10.2/30");
		snprintf(s->tunnel_interface_path, sizeof(s->tunnel_interface_path),
			 "%s/interfaces/default-tunnel-interface", path);
		add_tunnel(s, "0.0.0.0/0", "0.0.0.0/0");
	}
}

static void
sess_release(struct rz_session *s)
{
	free(s->tunnels);
	s->tunnels = NULL;
	s->ntunnels = 0;
}

static void
apply(struct rz_session *s, int64_t now)
{
	struct vpn_error e;

	vpn_error_clear(&e);
	assert_int_equal(O->apply_session(B, s, now, &e), VPN_OK);
}

/* Apply and release in one go (the backend copies). */
static void
apply_release(struct rz_session *s, int64_t now)
{
	apply(s, now);
	sess_release(s);
}

static void
nb_init(struct rz_neighbor *n, const char *path, const char *addr)
{
	memset(n, 0, sizeof(*n));
	snprintf(n->path, sizeof(n->path), "%s", path);
	snprintf(n->id, sizeof(n->id), "n1");
	assert_true(netaddr_parse(addr, &n->addr));
	snprintf(n->addr_text, sizeof(n->addr_text), "%s", addr);
	n->remote_as = 65001;
	snprintf(n->remote_as_text, sizeof(n->remote_as_text), "65001");
	n->local_as = 65000;
	n->enabled = true;
	n->keepalive_s = 60;
	n->hold_s = 180;
}

static void
apply_nb(const struct rz_neighbor *n, int64_t now)
{
	struct vpn_error e;

	vpn_error_clear(&e);
	assert_int_equal(O->apply_neighbor(B, n, now, &e), VPN_OK);
}

static enum vpn_err
define(const char *peer, const char *json, int64_t now)
{
	json_error_t je;
	json_t *j = json_loads(json, 0, &je);
	struct vpn_error e;
	enum vpn_err rc;

	assert_non_null(j);
	vpn_error_clear(&e);
	rc = sim_peer_define(B, peer, j, now, &e);
	json_decref(j);
	return rc;
}

static void
define_ok(const char *peer, const char *json, int64_t now)
{
	assert_int_equal(define(peer, json, now), VPN_OK);
}

/* What the API layer would read at @now. */
struct view {
	enum rz_ike_state ike;
	char fail[160];
	size_t n, up;
	char down[8][128];
	struct rz_counters c[8];
};

static struct view
view(const char *path, int64_t now)
{
	struct rz_session_status st;
	struct view v;
	size_t i;

	memset(&v, 0, sizeof(v));
	O->tick(B, now);
	assert_int_equal(O->session_status(B, path, &st), VPN_OK);
	assert_int_equal(st.last_update_ms, now);
	v.ike = st.ike;
	snprintf(v.fail, sizeof(v.fail), "%s", st.fail_reason);
	v.n = st.ntunnels;
	for (i = 0; i < st.ntunnels; i++) {
		if (st.tunnels[i].up)
			v.up++;
		if (i < 8) {
			snprintf(v.down[i], sizeof(v.down[i]), "%s", st.tunnels[i].down_reason);
			v.c[i] = st.tunnels[i].c;
		}
	}
	rz_session_status_release(&st);
	return v;
}

#define assert_state(path, now, st, reason)				\
	do {								\
		struct view v_ = view((path), (now));			\
		assert_int_equal(v_.ike, (st));				\
		assert_string_equal(v_.fail, (reason));			\
	} while (0)

static struct rz_bgp_status
bgp(const char *path, int64_t now)
{
	struct rz_bgp_status st;

	O->tick(B, now);
	assert_int_equal(O->bgp_status(B, path, &st), VPN_OK);
	return st;
}

/* ---- IKE ---- */

static void
test_up_default(void **state)
{
	struct rz_session s;
	struct view v;

	(void)state;
	sess_init(&s, SA, PEER, true);
	apply_release(&s, 1000);
	v = view(SA, 1000);
	assert_int_equal(v.ike, RZ_IKE_NEGOTIATING);
	assert_string_equal(v.down[0], SIM_FR_IKE_DOWN);
	assert_state(SA, 1000 + SIM_IKE_NEGOTIATE_MS - 1, RZ_IKE_NEGOTIATING, "");
	v = view(SA, 1000 + SIM_IKE_NEGOTIATE_MS);
	assert_int_equal(v.ike, RZ_IKE_UP);
	assert_string_equal(v.fail, "");
	assert_int_equal(v.n, 1);
	assert_int_equal(v.up, 1);
	assert_string_equal(v.down[0], "");
	/* many rekeys later, still up */
	assert_state(SA, 1300 + 10LL * 86400 * 1000, RZ_IKE_UP, "");
}

static void
test_unknown_paths(void **state)
{
	struct rz_session_status st;
	struct rz_bgp_status bs;
	struct rz_route *r;
	struct rz_counters c = { .packets_in = 1 };
	size_t n;

	(void)state;
	assert_int_equal(O->session_status(B, SA, &st), VPN_E_NOT_FOUND);
	assert_int_equal(O->reset_counters(B, SA), VPN_E_NOT_FOUND);
	assert_int_equal(O->bgp_status(B, NBA, &bs), VPN_E_NOT_FOUND);
	assert_int_equal(O->routes(B, NBA, false, &r, &n), VPN_E_NOT_FOUND);
	assert_int_equal(sim_traffic(B, SA, 0, &c, 10, NULL), VPN_E_NOT_FOUND);
	O->remove_session(B, SA, 10);
	O->remove_neighbor(B, NBA, 10);
	assert_int_equal(sim_peer_forget(B, PEER, 10), VPN_E_NOT_FOUND);
	assert_null(sim_peer_get(B, PEER));
}

static void
test_fail_disabled(void **state)
{
	struct rz_session s;

	(void)state;
	sess_init(&s, SA, PEER, true);
	s.enabled = false;
	apply(&s, 1000);
	/* no negotiation at all: DOWN at once, and for good */
	assert_state(SA, 1000, RZ_IKE_DOWN, SIM_FR_DISABLED);
	assert_state(SA, 1000000, RZ_IKE_DOWN, SIM_FR_DISABLED);
	/* enabling it through the API (a re-apply) starts it */
	s.enabled = true;
	apply_release(&s, 2000000);
	assert_state(SA, 2000000, RZ_IKE_NEGOTIATING, "");
	assert_state(SA, 2000300, RZ_IKE_UP, "");
}

static void
test_respond_only(void **state)
{
	struct rz_session s;

	(void)state;
	/* the mirror of a respond-only SDDC initiates */
	sess_init(&s, SA, PEER, true);
	s.initiation = RZ_INIT_RESPOND_ONLY;
	apply_release(&s, 1000);
	assert_state(SA, 1300, RZ_IKE_UP, "");

	/* a peer that does not initiate either: nobody starts */
	sess_init(&s, SB, PEER2, true);
	pfx(&s.vti, "169.254.20.2/30");
	s.initiation = RZ_INIT_RESPOND_ONLY;
	define_ok(PEER2, "{\"initiates\": false}", 2000);
	apply_release(&s, 2000);
	assert_state(SB, 2000, RZ_IKE_DOWN, SIM_FR_WAITING);
	assert_state(SB, 500000, RZ_IKE_DOWN, SIM_FR_WAITING);
	/* the peer starts initiating: negotiation begins at once */
	define_ok(PEER2, "{\"initiates\": true}", 600000);
	assert_state(SB, 600000, RZ_IKE_NEGOTIATING, "");
	assert_state(SB, 600300, RZ_IKE_UP, "");
}

static void
test_on_demand(void **state)
{
	struct rz_session s;
	struct rz_counters in = { .packets_in = 3, .bytes_in = 300 };
	struct rz_counters out = { .packets_out = 5, .bytes_out = 500 };
	struct view v;

	(void)state;
	/* mirror: the peer initiates, so an on-demand session comes up without traffic */
	sess_init(&s, SA, PEER, true);
	s.initiation = RZ_INIT_ON_DEMAND;
	apply_release(&s, 1000);
	assert_state(SA, 1300, RZ_IKE_UP, "");

	sess_init(&s, SB, PEER2, true);
	pfx(&s.vti, "169.254.20.2/30");
	s.initiation = RZ_INIT_ON_DEMAND;
	define_ok(PEER2, "{\"initiates\": false}", 1500);
	apply_release(&s, 1500);
	assert_state(SB, 1500, RZ_IKE_DOWN, SIM_FR_ON_DEMAND);
	/* inbound traffic alone does not trigger; it is dropped */
	assert_int_equal(sim_traffic(B, SB, 0, &in, 2000, NULL), VPN_OK);
	v = view(SB, 2000);
	assert_int_equal(v.ike, RZ_IKE_DOWN);
	assert_int_equal(v.c[0].dropped_packets_in, 3);
	assert_int_equal(v.c[0].packets_in, 0);
	assert_int_equal(v.c[0].bytes_in, 0);
	/* the first outbound packets start IKE (and are dropped themselves) */
	assert_int_equal(sim_traffic(B, SB, 0, &out, 3000, NULL), VPN_OK);
	v = view(SB, 3000);
	assert_int_equal(v.ike, RZ_IKE_NEGOTIATING);
	assert_int_equal(v.c[0].dropped_packets_out, 5);
	assert_int_equal(v.c[0].bytes_out, 0);
	assert_state(SB, 3300, RZ_IKE_UP, "");
	assert_int_equal(sim_traffic(B, SB, 0, &out, 4000, NULL), VPN_OK);
	v = view(SB, 4000);
	assert_int_equal(v.c[0].packets_out, 5);
	assert_int_equal(v.c[0].bytes_out, 500);
	assert_int_equal(v.c[0].dropped_packets_out, 5);
}

static void
test_fail_timeout_and_recovery(void **state)
{
	struct rz_session s;

	(void)state;
	define_ok(PEER, "{\"reachable\": false}", 0);
	sess_init(&s, SA, PEER, true);
	apply_release(&s, 1000);
	assert_state(SA, 1000, RZ_IKE_NEGOTIATING, "");
	assert_state(SA, 1300, RZ_IKE_DOWN, SIM_FR_TIMEOUT);
	/* retried SIM_IKE_RETRY_MS after the failure */
	assert_state(SA, 1300 + SIM_IKE_RETRY_MS - 1, RZ_IKE_DOWN, SIM_FR_TIMEOUT);
	assert_state(SA, 1300 + SIM_IKE_RETRY_MS, RZ_IKE_NEGOTIATING, "");
	assert_state(SA, 11600, RZ_IKE_DOWN, SIM_FR_TIMEOUT);
	/* reachable again: up at the next retry */
	define_ok(PEER, "{\"reachable\": true}", 12000);
	assert_state(SA, 21599, RZ_IKE_DOWN, SIM_FR_TIMEOUT);
	assert_state(SA, 21600, RZ_IKE_NEGOTIATING, "");
	assert_state(SA, 21900, RZ_IKE_UP, "");
}

static void
test_peer_not_responding(void **state)
{
	struct rz_session s;

	(void)state;
	sess_init(&s, SA, PEER, true);
	define_ok(PEER, "{\"responds\": false}", 0);
	apply(&s, 1000);
	assert_state(SA, 1300, RZ_IKE_DOWN, SIM_FR_TIMEOUT);
	/* a silent responder that initiates itself still gets the session up */
	define_ok(PEER, "{\"responds\": false, \"initiates\": true}", 2000);
	assert_state(SA, 2300, RZ_IKE_UP, "");
	sess_release(&s);
}

static void
check_versions(enum rz_initiation mode, enum rz_ike_version ours, const char *theirs,
	       const char *expect)
{
	struct rz_session s;
	char def[128];

	assert_int_equal(setup(NULL), 0);
	sess_init(&s, SA, PEER, true);
	s.initiation = mode;
	s.ike.version = ours;
	snprintf(def, sizeof(def), "{\"ike_version\": \"%s\", \"initiates\": %s}", theirs,
		 mode == RZ_INIT_RESPOND_ONLY ? "true" : "false");
	define_ok(PEER, def, 0);
	apply_release(&s, 1000);
	if (expect)
		assert_state(SA, 1300, RZ_IKE_DOWN, expect);
	else
		assert_state(SA, 1300, RZ_IKE_UP, "");
	teardown(NULL);
}

static void
test_fail_version(void **state)
{
	(void)state;
	teardown(NULL);		/* check_versions makes its own backends */
	/* SDDC initiates */
	check_versions(RZ_INIT_INITIATOR, RZ_IKE_V1, "IKE_V2", SIM_FR_VERSION);
	check_versions(RZ_INIT_INITIATOR, RZ_IKE_V2, "IKE_V1", SIM_FR_VERSION);
	check_versions(RZ_INIT_INITIATOR, RZ_IKE_V1, "IKE_FLEX", NULL);
	check_versions(RZ_INIT_INITIATOR, RZ_IKE_V2, "IKE_FLEX", NULL);
	check_versions(RZ_INIT_INITIATOR, RZ_IKE_FLEX, "IKE_V1", NULL);	/* falls back to V1 */
	check_versions(RZ_INIT_INITIATOR, RZ_IKE_FLEX, "IKE_V2", NULL);
	/* the peer initiates */
	check_versions(RZ_INIT_RESPOND_ONLY, RZ_IKE_V2, "IKE_V1", SIM_FR_VERSION);
	check_versions(RZ_INIT_RESPOND_ONLY, RZ_IKE_V1, "IKE_V2", SIM_FR_VERSION);
	check_versions(RZ_INIT_RESPOND_ONLY, RZ_IKE_V1, "IKE_FLEX", NULL);
	check_versions(RZ_INIT_RESPOND_ONLY, RZ_IKE_FLEX, "IKE_V1", NULL);
	check_versions(RZ_INIT_RESPOND_ONLY, RZ_IKE_V2, "IKE_FLEX", NULL);
	assert_int_equal(setup(NULL), 0);
}

static void
check_ike(const char *def, const char *expect)
{
	struct rz_session s;

	assert_int_equal(setup(NULL), 0);
	sess_init(&s, SA, PEER, true);
	define_ok(PEER, def, 0);
	apply_release(&s, 1000);
	if (expect)
		assert_state(SA, 1300, RZ_IKE_DOWN, expect);
	else
		assert_state(SA, 1300, RZ_IKE_UP, "");
	teardown(NULL);
}

static void
test_fail_no_proposal_and_auth(void **state)
{
	(void)state;
	teardown(NULL);
	check_ike("{\"ike\": {\"encryption_algorithms\": [\"AES_GCM_128\"]}}", SIM_FR_NO_PROPOSAL);
	check_ike("{\"ike\": {\"encryption_algorithms\": [\"AES_256\", \"AES_GCM_128\"]}}", NULL);
	check_ike("{\"ike\": {\"digest_algorithms\": [\"SHA1\"]}}", SIM_FR_NO_PROPOSAL);
	check_ike("{\"ike\": {\"dh_groups\": [\"GROUP19\", \"GROUP20\"]}}", SIM_FR_NO_PROPOSAL);
	check_ike("{\"ike\": {\"dh_groups\": [\"GROUP19\", \"GROUP14\"]}}", NULL);
	check_ike("{\"psk\": \"another\"}", SIM_FR_AUTH);
	check_ike("{\"psk\": \"s3cret-psk\"}", NULL);
	check_ike("{\"local_id\": \"vpn.example.com\"}", SIM_FR_AUTH);
	check_ike("{\"local_id\": \"" PEER "\"}", NULL);
	/* an unreachable peer fails before anything else is looked at */
	check_ike("{\"reachable\": false, \"psk\": \"x\"}", SIM_FR_TIMEOUT);
	/* a version mismatch is found before proposals and authentication */
	check_ike("{\"ike_version\": \"IKE_V1\", \"psk\": \"x\"}", SIM_FR_VERSION);
	assert_int_equal(setup(NULL), 0);
}

static void
test_aead_needs_no_digest(void **state)
{
	struct rz_session s;

	(void)state;
	sess_init(&s, SA, PEER, true);
	s.ike.enc = RZ_ENC_AES_GCM_128;
	s.esp.enc = RZ_ENC_AES_GCM_256;
	define_ok(PEER, "{\"ike\": {\"digest_algorithms\": [\"SHA1\"]}, "
		  "\"esp\": {\"digest_algorithms\": [\"SHA2_512\"]}}", 0);
	apply_release(&s, 1000);
	assert_state(SA, 1300, RZ_IKE_UP, "");
	assert_int_equal(view(SA, 1300).up, 1);
}

static void
test_peer_id_differs_from_address(void **state)
{
	struct rz_session s;

	(void)state;
	/* the mirror identifies itself by its address (docs/sim.md) */
	sess_init(&s, SA, PEER, true);
	snprintf(s.peer_id, sizeof(s.peer_id), "vpn.example.com");
	apply(&s, 1000);
	assert_state(SA, 1300, RZ_IKE_DOWN, SIM_FR_AUTH);
	define_ok(PEER, "{\"local_id\": \"vpn.example.com\"}", 2000);
	assert_state(SA, 2300, RZ_IKE_UP, "");
	sess_release(&s);
}

static void
check_esp(const char *def, bool pfs, const char *tunnel_reason)
{
	struct rz_session s;
	struct view v;

	assert_int_equal(setup(NULL), 0);
	sess_init(&s, SA, PEER, true);
	s.esp.pfs = pfs;
	define_ok(PEER, def, 0);
	apply_release(&s, 1000);
	v = view(SA, 1300);
	assert_int_equal(v.ike, RZ_IKE_UP);		/* the child SA fails, not IKE */
	assert_int_equal(v.up, tunnel_reason ? 0 : 1);
	assert_string_equal(v.down[0], tunnel_reason ? tunnel_reason : "");
	teardown(NULL);
}

static void
test_esp_proposals(void **state)
{
	(void)state;
	teardown(NULL);
	check_esp("{\"esp\": {\"encryption_algorithms\": [\"AES_128\"]}}", true,
		  SIM_FR_NO_PROPOSAL);
	check_esp("{\"esp\": {\"digest_algorithms\": [\"SHA1\"]}}", true, SIM_FR_NO_PROPOSAL);
	check_esp("{\"esp\": {\"enable_perfect_forward_secrecy\": false}}", true,
		  SIM_FR_NO_PROPOSAL);
	check_esp("{\"esp\": {\"dh_groups\": [\"GROUP5\"]}}", true, SIM_FR_NO_PROPOSAL);
	/* without PFS the ESP DH groups do not matter */
	check_esp("{\"esp\": {\"dh_groups\": [\"GROUP5\"], "
		  "\"enable_perfect_forward_secrecy\": false}}", false, NULL);
	check_esp("{\"esp\": {\"encryption_algorithms\": [\"AES_128\", \"AES_256\"]}}", true, NULL);
	assert_int_equal(setup(NULL), 0);
}

/* ---- policy-based tunnels ---- */

static void
policy_session(struct rz_session *s, const char *path, const char *peer,
	       const char *const *src, size_t ns, const char *const *dst, size_t nd)
{
	size_t i, j;

	sess_init(s, path, peer, false);
	for (i = 0; i < ns; i++)
		for (j = 0; j < nd; j++)
			add_tunnel(s, src[i], dst[j]);
}

static void
test_policy_tunnel_count(void **state)
{
	static const char *const src[] = { "10.1.1.0/24", "10.1.2.0/24", "10.1.3.0/24" };
	static const char *const dst[] = { "192.168.1.0/24", "192.168.2.0/24" };
	struct rz_session s;
	struct rz_session_status st;

	(void)state;
	/* rule 1: 3 sources x 2 destinations; rule 2: 1 x 1; the engine builds the selectors */
	policy_session(&s, SA, PEER, src, 3, dst, 2);
	add_tunnel(&s, "10.9.0.0/16", "172.16.0.0/12");
	apply_release(&s, 1000);
	O->tick(B, 1300);
	assert_int_equal(O->session_status(B, SA, &st), VPN_OK);
	assert_int_equal(st.ike, RZ_IKE_UP);
	assert_int_equal(st.ntunnels, 3 * 2 + 1);
	for (size_t i = 0; i < st.ntunnels; i++)
		assert_true(st.tunnels[i].up);
	{
		char buf[64];

		netaddr_format(&st.tunnels[1].sel.local.addr, buf, sizeof(buf));
		assert_string_equal(buf, "10.1.1.0");
		netaddr_format(&st.tunnels[1].sel.peer.addr, buf, sizeof(buf));
		assert_string_equal(buf, "192.168.2.0");
		assert_string_equal(st.tunnels[1].sel.rule_path, SA "/rules/r1");
	}
	rz_session_status_release(&st);
}

static void
test_policy_degraded(void **state)
{
	static const char *const src[] = { "10.1.1.0/24", "10.1.2.0/24" };
	static const char *const dst[] = { "192.168.1.0/24", "192.168.2.0/24" };
	struct rz_counters c = { .packets_out = 4, .bytes_out = 400, .replay_errors = 1 };
	struct rz_session s;
	struct view v;

	(void)state;
	policy_session(&s, SA, PEER, src, 2, dst, 2);
	/* the peer has only 192.168.1.0/24 behind it (it accepts 2 of the 4 pairs) */
	define_ok(PEER, "{\"subnets\": {\"local\": [\"192.168.1.0/24\"], "
		  "\"remote\": [\"10.1.0.0/16\"]}}", 0);
	apply_release(&s, 1000);
	v = view(SA, 1300);
	assert_int_equal(v.ike, RZ_IKE_UP);
	assert_int_equal(v.n, 4);
	assert_int_equal(v.up, 2);	/* the API layer reports DEGRADED */
	assert_string_equal(v.down[0], "");
	assert_string_equal(v.down[1], SIM_FR_TS);
	assert_string_equal(v.down[2], "");
	assert_string_equal(v.down[3], SIM_FR_TS);
	/* traffic on the refused pair is dropped; errors still count */
	assert_int_equal(sim_traffic(B, SA, 1, &c, 2000, NULL), VPN_OK);
	assert_int_equal(sim_traffic(B, SA, 0, &c, 2000, NULL), VPN_OK);
	v = view(SA, 2000);
	assert_int_equal(v.c[1].dropped_packets_out, 4);
	assert_int_equal(v.c[1].packets_out, 0);
	assert_int_equal(v.c[1].bytes_out, 0);
	assert_int_equal(v.c[1].replay_errors, 1);
	assert_int_equal(v.c[0].packets_out, 4);
	assert_int_equal(v.c[0].bytes_out, 400);
	assert_int_equal(v.c[0].dropped_packets_out, 0);
	/* widen the peer: every pair comes up after the peer restarts */
	define_ok(PEER, "{\"subnets\": {\"local\": [\"192.168.0.0/16\"], "
		  "\"remote\": [\"10.1.1.0/24\", \"10.1.2.0/24\"]}}", 3000);
	v = view(SA, 3300);
	assert_int_equal(v.up, 4);
	/* a peer that accepts nothing: IKE up, every tunnel down (the API says DOWN) */
	define_ok(PEER, "{\"subnets\": {\"local\": [], \"remote\": []}}", 4000);
	v = view(SA, 4300);
	assert_int_equal(v.ike, RZ_IKE_UP);
	assert_int_equal(v.up, 0);
}

/* ---- DPD, rekeys, faults ---- */

static void
test_dpd_expiry_exact(void **state)
{
	struct rz_session s;
	struct view v;

	(void)state;
	sess_init(&s, SA, PEER, true);	/* DPD 10 s x 3 retries */
	apply_release(&s, 1000);
	assert_state(SA, 1300, RZ_IKE_UP, "");
	define_ok(PEER, "{\"reachable\": false}", 5000);
	assert_state(SA, 5000 + 30000 - 1, RZ_IKE_UP, "");
	v = view(SA, 5000 + 30000);
	assert_int_equal(v.ike, RZ_IKE_DOWN);
	assert_string_equal(v.fail, SIM_FR_DPD);
	assert_string_equal(v.down[0], SIM_FR_IKE_DOWN);
	/* back: renegotiated at the next retry */
	define_ok(PEER, "{\"reachable\": true}", 40000);
	assert_state(SA, 44999, RZ_IKE_DOWN, SIM_FR_DPD);
	assert_state(SA, 45000, RZ_IKE_NEGOTIATING, "");
	assert_state(SA, 45300, RZ_IKE_UP, "");
}

static void
test_dpd_short_outage(void **state)
{
	struct rz_session s;

	(void)state;
	sess_init(&s, SA, PEER, true);
	apply_release(&s, 1000);
	define_ok(PEER, "{\"reachable\": false}", 5000);
	define_ok(PEER, "{\"reachable\": true}", 34999);	/* back 1 ms before expiry */
	assert_state(SA, 100000, RZ_IKE_UP, "");
	/* a second outage counts from its own start */
	define_ok(PEER, "{\"reachable\": false}", 200000);
	assert_state(SA, 229999, RZ_IKE_UP, "");
	assert_state(SA, 230000, RZ_IKE_DOWN, SIM_FR_DPD);
}

static void
test_dpd_disabled_down_at_rekey(void **state)
{
	struct rz_session s;

	(void)state;
	sess_init(&s, SA, PEER, true);
	s.dpd.enabled = false;
	s.ike.lifetime_s = 3600;
	apply_release(&s, 1000);
	assert_state(SA, 1300, RZ_IKE_UP, "");
	define_ok(PEER, "{\"reachable\": false}", 5000);
	assert_state(SA, 1300 + 3600000 - 1, RZ_IKE_UP, "");
	assert_state(SA, 1300 + 3600000, RZ_IKE_DOWN, SIM_FR_TIMEOUT);
}

static void
test_rekeys_keep_counters(void **state)
{
	struct rz_session s;
	struct rz_counters c = { .packets_in = 10, .bytes_in = 1000 };
	struct view v;

	(void)state;
	sess_init(&s, SA, PEER, true);
	s.ike.lifetime_s = 100;
	s.esp.lifetime_s = 30;
	apply_release(&s, 1000);
	assert_int_equal(sim_traffic(B, SA, 0, &c, 2000, NULL), VPN_OK);
	v = view(SA, 1300 + 5 * 100000 + 1);	/* 5 IKE rekeys, 16 child rekeys */
	assert_int_equal(v.ike, RZ_IKE_UP);
	assert_int_equal(v.c[0].packets_in, 10);
	assert_int_equal(v.c[0].bytes_in, 1000);
}

static void
test_flapping(void **state)
{
	struct rz_session s;

	(void)state;
	sess_init(&s, SA, PEER, true);
	s.dpd.retries = 1;		/* DPD 10 s, shorter than the 20 s outages */
	apply_release(&s, 1000);
	assert_state(SA, 1300, RZ_IKE_UP, "");
	/* reachable [2000, 22000), unreachable [22000, 42000), reachable [42000, 62000), ... */
	define_ok(PEER, "{\"faults\": {\"flap_period_ms\": 20000}}", 2000);
	assert_state(SA, 31999, RZ_IKE_UP, "");
	assert_state(SA, 32000, RZ_IKE_DOWN, SIM_FR_DPD);
	assert_state(SA, 42000, RZ_IKE_NEGOTIATING, "");
	assert_state(SA, 42300, RZ_IKE_UP, "");
	assert_state(SA, 71999, RZ_IKE_UP, "");
	assert_state(SA, 72000, RZ_IKE_DOWN, SIM_FR_DPD);
	/* stop flapping: reachable from now on */
	define_ok(PEER, "{}", 75000);
	assert_state(SA, 82300, RZ_IKE_UP, "");
	assert_state(SA, 500000, RZ_IKE_UP, "");
}

static void
test_flapping_shorter_than_dpd(void **state)
{
	struct rz_session s;

	(void)state;
	sess_init(&s, SA, PEER, true);	/* DPD 30 s: the 20 s outages never trip it */
	s.ike.lifetime_s = 100;
	apply_release(&s, 1000);
	define_ok(PEER, "{\"faults\": {\"flap_period_ms\": 20000}}", 2000);
	/* rekey at 101300: phase (101300-2000)/20000 = 4, reachable: fine */
	assert_state(SA, 201299, RZ_IKE_UP, "");
	/* rekey at 201300: phase 9, unreachable: the rekey times out */
	assert_state(SA, 201300, RZ_IKE_DOWN, SIM_FR_TIMEOUT);
}

static void
test_rekey_failure(void **state)
{
	struct rz_session s;

	(void)state;
	sess_init(&s, SA, PEER, true);
	s.ike.lifetime_s = 100;
	apply_release(&s, 1000);
	/* a fault is not a restart: the session stays up until its rekey */
	define_ok(PEER, "{\"faults\": {\"rekey_failure\": true}}", 2000);
	assert_state(SA, 2000, RZ_IKE_UP, "");
	assert_state(SA, 101299, RZ_IKE_UP, "");
	assert_state(SA, 101300, RZ_IKE_DOWN, SIM_FR_REKEY);
	/* a fresh negotiation succeeds */
	assert_state(SA, 111300, RZ_IKE_NEGOTIATING, "");
	assert_state(SA, 111600, RZ_IKE_UP, "");
	/* while the fault is set, every rekey fails */
	assert_state(SA, 211599, RZ_IKE_UP, "");
	assert_state(SA, 211600, RZ_IKE_DOWN, SIM_FR_REKEY);
	/* cleared: the next rekeys succeed */
	define_ok(PEER, "{}", 212000);
	assert_state(SA, 221900, RZ_IKE_UP, "");
	assert_state(SA, 321900, RZ_IKE_UP, "");
	assert_state(SA, 900000, RZ_IKE_UP, "");
}

/* A huge clock jump gives the same state as small steps (retries are skipped arithmetically). */
static void
test_clock_jump_matches_steps(void **state)
{
	struct rz_backend *b2 = sim_backend_new();
	struct rz_session s;
	struct rz_session_status a, b;
	json_t *j = json_pack("{s:s}", "psk", "wrong");
	int64_t t, checks[] = { 11299, 11300, 11599, 11600, 21899, 21900, 22199, 22200, 500123,
				1000000, 1234567 };
	size_t i;

	(void)state;
	assert_non_null(b2);
	sess_init(&s, SA, PEER, true);
	assert_int_equal(sim_peer_define(B, PEER, j, 0, NULL), VPN_OK);
	assert_int_equal(sim_peer_define(b2, PEER, j, 0, NULL), VPN_OK);
	apply(&s, 1000);
	assert_int_equal(b2->ops->apply_session(b2, &s, 1000, NULL), VPN_OK);
	t = 1000;
	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		for (; t < checks[i]; t += 100)
			b2->ops->tick(b2, t);
		b2->ops->tick(b2, checks[i]);
		t = checks[i];
		O->tick(B, checks[i]);
		assert_int_equal(O->session_status(B, SA, &a), VPN_OK);
		assert_int_equal(b2->ops->session_status(b2, SA, &b), VPN_OK);
		assert_int_equal(a.ike, b.ike);
		assert_string_equal(a.fail_reason, b.fail_reason);
		rz_session_status_release(&a);
		rz_session_status_release(&b);
	}
	/* a year later: still failing, then fixed at once by redefining the peer */
	assert_state(SA, 1300 + 365LL * 86400 * 1000, RZ_IKE_DOWN, SIM_FR_AUTH);
	define_ok(PEER, "{}", 1300 + 365LL * 86400 * 1000);
	assert_state(SA, 1600 + 365LL * 86400 * 1000, RZ_IKE_UP, "");
	json_decref(j);
	sess_release(&s);
	b2->ops->destroy(b2);
}

/* ---- child SA (tunnel) rekeys ---- */

static void bgp_setup(struct rz_neighbor *n, const char *peer_def);

/* A 2-tunnel policy session (10.1.1.0/24 -> 192.168.1.0/24 and -> 192.168.2.0/24). */
static void
policy2(struct rz_session *s)
{
	static const char *const src[] = { "10.1.1.0/24" };
	static const char *const dst[] = { "192.168.1.0/24", "192.168.2.0/24" };

	policy_session(s, SA, PEER, src, 1, dst, 2);
}

static void
test_child_rekey_failure_exact(void **state)
{
	struct rz_session s;
	struct rz_counters c = { .packets_in = 7, .bytes_in = 700 };
	struct view v;

	(void)state;
	sess_init(&s, SA, PEER, true);	/* IKE lifetime 86400 s */
	s.esp.lifetime_s = 100;
	apply_release(&s, 1000);	/* UP at 1300: the child SA rekeys at 101300, 201300, ... */
	define_ok(PEER, "{\"faults\": {\"rekey_failure\": true}}", 2000);
	assert_int_equal(sim_traffic(B, SA, 0, &c, 3000, NULL), VPN_OK);
	v = view(SA, 101299);
	assert_int_equal(v.up, 1);
	/* exactly esp.lifetime_s after the tunnel came up: only the tunnel goes down */
	v = view(SA, 101300);
	assert_int_equal(v.ike, RZ_IKE_UP);
	assert_string_equal(v.fail, "");
	assert_int_equal(v.up, 0);
	assert_string_equal(v.down[0], SIM_FR_REKEY);
	/* the retry, SIM_IKE_RETRY_MS later, re-establishes it at once; counters survive */
	v = view(SA, 101300 + SIM_IKE_RETRY_MS - 1);
	assert_int_equal(v.up, 0);
	v = view(SA, 101300 + SIM_IKE_RETRY_MS);
	assert_int_equal(v.ike, RZ_IKE_UP);
	assert_int_equal(v.up, 1);
	assert_string_equal(v.down[0], "");
	assert_int_equal(v.c[0].packets_in, 7);
	assert_int_equal(v.c[0].bytes_in, 700);
	/* the fault is still set: the new child SA's rekey fails a lifetime after it came up */
	assert_int_equal(view(SA, 211299).up, 1);
	v = view(SA, 211300);
	assert_int_equal(v.up, 0);
	assert_string_equal(v.down[0], SIM_FR_REKEY);
	/* cleared while the tunnel is down: the pending retry succeeds, later rekeys too */
	define_ok(PEER, "{}", 212000);
	assert_int_equal(view(SA, 221299).up, 0);
	assert_int_equal(view(SA, 221300).up, 1);
	v = view(SA, 5000000);
	assert_int_equal(v.ike, RZ_IKE_UP);
	assert_int_equal(v.up, 1);
}

/* The fault set long after the tunnel came up: its next scheduled rekey fails, not one a
 * lifetime after the definition. */
static void
test_child_rekey_fault_set_later(void **state)
{
	struct rz_session s;
	struct view v;

	(void)state;
	sess_init(&s, SA, PEER, true);
	s.esp.lifetime_s = 100;
	apply_release(&s, 1000);	/* child rekeys at 101300, 201300, 301300, ... */
	define_ok(PEER, "{\"faults\": {\"rekey_failure\": true}}", 250000);
	assert_int_equal(view(SA, 301299).up, 1);
	v = view(SA, 301300);
	assert_int_equal(v.ike, RZ_IKE_UP);
	assert_int_equal(v.up, 0);
	assert_string_equal(v.down[0], SIM_FR_REKEY);
	/* set exactly at a rekey instant: that rekey already happened (and succeeded) */
	sess_init(&s, SB, PEER2, true);
	s.esp.lifetime_s = 100;
	apply_release(&s, 401000);	/* UP at 401300 */
	define_ok(PEER2, "{\"faults\": {\"rekey_failure\": true}}", 501300);
	assert_int_equal(view(SB, 601299).up, 1);
	assert_int_equal(view(SB, 601300).up, 0);
	/* cleared: the retry at 611300 succeeds; set and cleared between two rekeys: nothing */
	define_ok(PEER2, "{}", 602000);
	assert_int_equal(view(SB, 612000).up, 1);
	define_ok(PEER2, "{\"faults\": {\"rekey_failure\": true}}", 620000);
	define_ok(PEER2, "{}", 700000);
	assert_int_equal(view(SB, 1000000).up, 1);
}

/* Both child SAs of a 2-tunnel policy session came up with IKE, so they rekey together: both
 * fail at the same instant (IKE UP, no tunnel up: the API says DOWN, not DEGRADED) and both come
 * back at the retry. A sibling that is down for another reason keeps it: DEGRADED -> DOWN ->
 * DEGRADED. */
static void
test_child_rekey_policy_degraded(void **state)
{
	struct rz_session s;
	struct view v;

	(void)state;
	define_ok(PEER, "{\"faults\": {\"rekey_failure\": true}}", 0);
	policy2(&s);
	s.esp.lifetime_s = 100;
	apply_release(&s, 1000);
	v = view(SA, 101299);
	assert_int_equal(v.n, 2);
	assert_int_equal(v.up, 2);
	v = view(SA, 101300);
	assert_int_equal(v.ike, RZ_IKE_UP);
	assert_int_equal(v.up, 0);
	assert_string_equal(v.down[0], SIM_FR_REKEY);
	assert_string_equal(v.down[1], SIM_FR_REKEY);
	assert_int_equal(view(SA, 111299).up, 0);
	assert_int_equal(view(SA, 111300).up, 2);
	assert_int_equal(view(SA, 211299).up, 2);
	assert_int_equal(view(SA, 211300).up, 0);

	/* the peer accepts only the first pair: DEGRADED, then DOWN at the rekey, then DEGRADED */
	define_ok(PEER2, "{\"faults\": {\"rekey_failure\": true}, \"subnets\": {\"local\": "
		  "[\"192.168.1.0/24\"], \"remote\": [\"10.1.0.0/16\"]}}", 300000);
	policy2(&s);
	snprintf(s.path, sizeof(s.path), "%s", SB);
	snprintf(s.peer_address, sizeof(s.peer_address), "%s", PEER2);
	snprintf(s.peer_id, sizeof(s.peer_id), "%s", PEER2);
	s.esp.lifetime_s = 100;
	apply_release(&s, 301000);	/* UP at 301300 */
	v = view(SB, 401299);
	assert_int_equal(v.up, 1);
	assert_string_equal(v.down[1], SIM_FR_TS);
	v = view(SB, 401300);
	assert_int_equal(v.ike, RZ_IKE_UP);
	assert_int_equal(v.up, 0);
	assert_string_equal(v.down[0], SIM_FR_REKEY);
	assert_string_equal(v.down[1], SIM_FR_TS);
	v = view(SB, 411300);
	assert_int_equal(v.up, 1);
	assert_string_equal(v.down[0], "");
	assert_string_equal(v.down[1], SIM_FR_TS);
}

/* IKE and child rekeys with the fault: whichever comes first; at the same instant IKE wins. */
static void
test_child_rekey_vs_ike_rekey(void **state)
{
	struct rz_session s;
	struct view v;

	(void)state;
	define_ok(PEER, "{\"faults\": {\"rekey_failure\": true}}", 0);
	sess_init(&s, SA, PEER, true);
	s.ike.lifetime_s = 100;
	s.esp.lifetime_s = 60;
	apply_release(&s, 1000);
	/* UP at 1300; child fails at 61300, back at 71300; IKE fails at 101300 */
	v = view(SA, 61300);
	assert_int_equal(v.ike, RZ_IKE_UP);
	assert_int_equal(v.up, 0);
	assert_int_equal(view(SA, 71300).up, 1);
	v = view(SA, 101300);
	assert_int_equal(v.ike, RZ_IKE_DOWN);
	assert_string_equal(v.fail, SIM_FR_REKEY);
	assert_string_equal(v.down[0], SIM_FR_IKE_DOWN);
	/* UP again at 111600: the child SA is new, its rekey is due at 171600 */
	assert_state(SA, 111600, RZ_IKE_UP, "");
	assert_int_equal(view(SA, 171599).up, 1);
	assert_int_equal(view(SA, 171600).up, 0);

	/* equal lifetimes: both due at 101300, the IKE SA fails and takes the tunnel with it */
	define_ok(PEER2, "{\"faults\": {\"rekey_failure\": true}}", 200000);
	sess_init(&s, SB, PEER2, true);
	s.ike.lifetime_s = 100;
	s.esp.lifetime_s = 100;
	apply_release(&s, 201000);	/* UP at 201300 */
	assert_int_equal(view(SB, 301299).up, 1);
	v = view(SB, 301300);
	assert_int_equal(v.ike, RZ_IKE_DOWN);
	assert_string_equal(v.fail, SIM_FR_REKEY);
	assert_string_equal(v.down[0], SIM_FR_IKE_DOWN);
	assert_state(SB, 311600, RZ_IKE_UP, "");
}

/* A failed child rekey is the BGP link going down for SIM_IKE_RETRY_MS. */
static void
test_child_rekey_bgp(void **state)
{
	struct rz_neighbor n;
	struct rz_bgp_status st;

	(void)state;
	bgp_setup(&n, "{\"faults\": {\"rekey_failure\": true}}");	/* ESP 3600 s */
	assert_int_equal(bgp(NBA, 2000).state, RZ_BGP_ESTABLISHED);
	/* hold 180 s outlasts the 10 s outage of the tunnel at 3601300 */
	assert_int_equal(view(SA, 3601300).up, 0);
	st = bgp(NBA, 3700000);
	assert_int_equal(st.state, RZ_BGP_ESTABLISHED);
	assert_int_equal(st.connection_drop_count, 0);
	/* hold 5 s does not: the child SA back at 3611300 fails at 7211300, the neighbor drops
	 * at 7216300 and is established again 500 ms after the retry */
	n.hold_s = 5;
	apply_nb(&n, 3700000);		/* a reset (link up): established again at 3700500 */
	st = bgp(NBA, 7216299);
	assert_int_equal(st.state, RZ_BGP_ESTABLISHED);
	assert_int_equal(st.connection_drop_count, 1);	/* the reset */
	st = bgp(NBA, 7216300);
	assert_int_equal(st.state, RZ_BGP_IDLE);
	assert_int_equal(st.connection_drop_count, 2);
	st = bgp(NBA, 7221300);
	assert_int_equal(st.state, RZ_BGP_CONNECT);
	st = bgp(NBA, 7221800);
	assert_int_equal(st.state, RZ_BGP_ESTABLISHED);
	assert_int_equal(st.established_connection_count, 3);
}

static double
secs(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/*
 * A wall-clock budget for the "skipped arithmetically, not stepped" checks, scaled by
 * VPND_TEST_TIME_SCALE (a positive number, default 1): `make valgrind` runs this suite about
 * 30 times slower and sets it. Stepping instead of skipping would still be orders of magnitude
 * over any scaled budget.
 */
static double
budget(double s)
{
	const char *v = getenv("VPND_TEST_TIME_SCALE");
	char *end = NULL;
	double k = v ? strtod(v, &end) : 1.0;

	return (v && end != v && !*end && k > 0) ? s * k : s;
}

/* Without the fault child rekeys cost nothing; with it, a jump equals small steps. */
static void
test_child_rekey_clock_jump(void **state)
{
	const int64_t ten_years = 3650LL * 86400 * 1000, T = ten_years + 1000;
	struct rz_backend *b2 = sim_backend_new();
	json_t *fault = json_pack("{s:{s:b}}", "faults", "rekey_failure", 1);
	struct rz_session s;
	struct rz_session_status a, b;
	int64_t t, u, checks[] = { 299, 300, 1299, 1300, 11299, 11300, 12299, 12300, 22300,
				   777777, 1234567 };
	double t0;
	size_t i, k;
	struct view v;

	(void)state;
	assert_non_null(b2);
	assert_non_null(fault);
	/* esp.lifetime_s = 1 and IKE never rekeys: 3e11 child rekeys in ten years, no events */
	policy2(&s);
	s.ike.lifetime_s = 0;
	s.esp.lifetime_s = 1;
	apply_release(&s, 1000);	/* UP at 1300: rekeys at 2300, 3300, ... */
	t0 = secs();
	v = view(SA, ten_years);
	assert_true(secs() - t0 < budget(0.5));
	assert_int_equal(v.ike, RZ_IKE_UP);
	assert_int_equal(v.up, 2);
	/* the fault then set: the next scheduled rekey fails */
	define_ok(PEER, "{\"faults\": {\"rekey_failure\": true}}", ten_years);
	assert_int_equal(view(SA, ten_years + 299).up, 2);
	assert_int_equal(view(SA, ten_years + 300).up, 0);
	O->remove_session(B, SA, ten_years + 300);

	/* with the fault: one jump gives the same tunnels as 100 ms steps */
	assert_int_equal(sim_peer_define(B, PEER2, fault, T - SIM_IKE_NEGOTIATE_MS, NULL), VPN_OK);
	assert_int_equal(sim_peer_define(b2, PEER2, fault, T - SIM_IKE_NEGOTIATE_MS, NULL), VPN_OK);
	policy2(&s);
	snprintf(s.path, sizeof(s.path), "%s", SB);
	snprintf(s.peer_address, sizeof(s.peer_address), "%s", PEER2);
	snprintf(s.peer_id, sizeof(s.peer_id), "%s", PEER2);
	s.ike.lifetime_s = 0;
	s.esp.lifetime_s = 1;
	/* UP at T: fails at T+1000, T+12000, ...; back at T+11000, T+22000, ... */
	apply(&s, T - SIM_IKE_NEGOTIATE_MS);
	assert_int_equal(b2->ops->apply_session(b2, &s, T - SIM_IKE_NEGOTIATE_MS, NULL), VPN_OK);
	t = T;
	for (i = 0; i < sizeof(checks) / sizeof(checks[0]); i++) {
		for (; t < T + checks[i]; t += 100)
			b2->ops->tick(b2, t);
		t = T + checks[i];
		b2->ops->tick(b2, t);
		O->tick(B, t);
		assert_int_equal(O->session_status(B, SB, &a), VPN_OK);
		assert_int_equal(b2->ops->session_status(b2, SB, &b), VPN_OK);
		assert_int_equal(a.ike, b.ike);
		for (k = 0; k < 2; k++) {
			assert_int_equal(a.tunnels[k].up, checks[i] % 11000 < 1000);
			assert_int_equal(a.tunnels[k].up, b.tunnels[k].up);
			assert_string_equal(a.tunnels[k].down_reason, b.tunnels[k].down_reason);
		}
		rz_session_status_release(&a);
		rz_session_status_release(&b);
	}
	/* ten years of failing rekeys at the shortest NSX lifetime (900 s): one step per rekey
	 * and per retry, still quick; the state is exactly the cycle's */
	s.esp.lifetime_s = 900;
	apply_release(&s, T + 2000000);
	u = T + 2000000 + SIM_IKE_NEGOTIATE_MS;
	t0 = secs();
	v = view(SB, u + ten_years);
	assert_true(secs() - t0 < budget(2.0));
	assert_int_equal(v.ike, RZ_IKE_UP);
	assert_int_equal(v.up, ten_years % (900000 + SIM_IKE_RETRY_MS) < 900000 ? 2 : 0);
	json_decref(fault);
	b2->ops->destroy(b2);
}

/* ---- counters, re-apply ---- */

static void
test_counters_and_reset(void **state)
{
	struct rz_session s;
	struct rz_counters c = {
		.packets_in = 21, .packets_out = 19, .bytes_in = 3567, .bytes_out = 9540,
		.dropped_packets_in = 1, .dropped_packets_out = 2, .packets_received_other_error = 3,
		.replay_errors = 4, .integrity_failures = 5, .decryption_failures = 6,
		.packets_sent_other_error = 7, .seq_number_overflow_error = 8,
		.encryption_failures = 9, .sa_mismatch_errors_in = 10, .sa_mismatch_errors_out = 11,
		.nomatching_policy_errors = 12,
	};
	struct rz_counters zero = { 0 };
	struct view v;

	(void)state;
	sess_init(&s, SA, PEER, true);
	apply_release(&s, 1000);
	O->tick(B, 1300);
	assert_int_equal(sim_traffic(B, SA, 0, &c, 2000, NULL), VPN_OK);
	assert_int_equal(sim_traffic(B, SA, 0, &c, 2500, NULL), VPN_OK);
	v = view(SA, 3000);
	assert_int_equal(v.c[0].packets_in, 42);
	assert_int_equal(v.c[0].packets_out, 38);
	assert_int_equal(v.c[0].bytes_in, 7134);
	assert_int_equal(v.c[0].bytes_out, 19080);
	assert_int_equal(v.c[0].dropped_packets_in, 2);
	assert_int_equal(v.c[0].dropped_packets_out, 4);
	assert_int_equal(v.c[0].packets_received_other_error, 6);
	assert_int_equal(v.c[0].replay_errors, 8);
	assert_int_equal(v.c[0].integrity_failures, 10);
	assert_int_equal(v.c[0].decryption_failures, 12);
	assert_int_equal(v.c[0].packets_sent_other_error, 14);
	assert_int_equal(v.c[0].seq_number_overflow_error, 16);
	assert_int_equal(v.c[0].encryption_failures, 18);
	assert_int_equal(v.c[0].sa_mismatch_errors_in, 20);
	assert_int_equal(v.c[0].sa_mismatch_errors_out, 22);
	assert_int_equal(v.c[0].nomatching_policy_errors, 24);
	assert_int_equal(O->reset_counters(B, SA), VPN_OK);
	v = view(SA, 3000);
	assert_memory_equal(&v.c[0], &zero, sizeof(zero));
	assert_int_equal(sim_traffic(B, SA, 0, &c, 4000, NULL), VPN_OK);
	v = view(SA, 4000);
	assert_int_equal(v.c[0].packets_in, 21);
	assert_int_equal(v.c[0].nomatching_policy_errors, 12);
	/* no such tunnel */
	assert_int_equal(sim_traffic(B, SA, 1, &c, 4000, NULL), VPN_E_NOT_FOUND);
}

static void
test_traffic_on_down_tunnel(void **state)
{
	struct rz_session s;
	struct rz_counters c = { .packets_in = 3, .packets_out = 4, .bytes_in = 300,
				 .bytes_out = 400, .integrity_failures = 2 };
	struct view v;

	(void)state;
	sess_init(&s, SA, PEER, true);
	define_ok(PEER, "{\"psk\": \"nope\"}", 0);
	apply_release(&s, 1000);
	assert_int_equal(sim_traffic(B, SA, 0, &c, 2000, NULL), VPN_OK);
	v = view(SA, 2000);
	assert_int_equal(v.ike, RZ_IKE_DOWN);
	assert_int_equal(v.c[0].packets_in, 0);
	assert_int_equal(v.c[0].packets_out, 0);
	assert_int_equal(v.c[0].bytes_in, 0);
	assert_int_equal(v.c[0].bytes_out, 0);
	assert_int_equal(v.c[0].dropped_packets_in, 3);
	assert_int_equal(v.c[0].dropped_packets_out, 4);
	assert_int_equal(v.c[0].integrity_failures, 2);
}

static void
test_reapply(void **state)
{
	struct rz_session s;
	struct rz_counters c = { .packets_in = 1 };
	struct view v;

	(void)state;
	sess_init(&s, SA, PEER, true);
	apply(&s, 1000);
	assert_int_equal(sim_traffic(B, SA, 0, &c, 2000, NULL), VPN_OK);
	/* the same desired state (the engine re-applies on resync): nothing happens */
	apply(&s, 3000);
	assert_state(SA, 3000, RZ_IKE_UP, "");
	snprintf(s.display_name, sizeof(s.display_name), "renamed");
	apply(&s, 3100);
	assert_state(SA, 3100, RZ_IKE_UP, "");
	/* a real change renegotiates; counters of unchanged tunnels survive */
	snprintf(s.psk, sizeof(s.psk), "new-psk");
	apply(&s, 4000);
	v = view(SA, 4000);
	assert_int_equal(v.ike, RZ_IKE_NEGOTIATING);
	assert_int_equal(v.c[0].packets_in, 1);
	assert_state(SA, 4300, RZ_IKE_UP, "");	/* the mirror follows the session */
	sess_release(&s);
}

static void
test_reapply_other_peer(void **state)
{
	struct rz_session s;
	json_t *p;

	(void)state;
	sess_init(&s, SA, PEER, true);
	apply(&s, 1000);
	define_ok(PEER2, "{\"psk\": \"other\"}", 1000);
	snprintf(s.peer_address, sizeof(s.peer_address), PEER2);
	snprintf(s.peer_id, sizeof(s.peer_id), PEER2);
	apply(&s, 2000);
	assert_state(SA, 2300, RZ_IKE_DOWN, SIM_FR_AUTH);
	/* the old address has no session and no definition any more */
	assert_null(sim_peer_get(B, PEER));
	p = sim_peer_get(B, PEER2);
	assert_non_null(p);
	assert_int_equal(json_array_size(json_object_get(p, "sessions")), 1);
	json_decref(p);
	O->remove_session(B, SA, 3000);
	p = sim_peer_get(B, PEER2);
	assert_int_equal(json_array_size(json_object_get(p, "sessions")), 0);
	json_decref(p);
	assert_int_equal(sim_peer_forget(B, PEER2, 3000), VPN_OK);
	assert_null(sim_peer_get(B, PEER2));
	sess_release(&s);
}

/* ---- BGP ---- */

/* Session SA (VTI 169.254.10.2/30) UP at 1300; neighbor NBA at 169.254.10.1 applied at 500. */
static void
bgp_setup(struct rz_neighbor *n, const char *peer_def)
{
	struct rz_session s;
	struct rz_bgp_status st;

	nb_init(n, NBA, "169.254.10.1");
	apply_nb(n, 500);
	st = bgp(NBA, 500);
	assert_int_equal(st.state, RZ_BGP_IDLE);
	assert_string_equal(st.source_address, "");
	if (peer_def)
		define_ok(PEER, peer_def, 600);
	sess_init(&s, SA, PEER, true);
	apply_release(&s, 1000);
}

static void
test_bgp_established(void **state)
{
	struct rz_neighbor n;
	struct rz_bgp_status st;

	(void)state;
	bgp_setup(&n, NULL);
	st = bgp(NBA, 1000);
	assert_int_equal(st.state, RZ_BGP_IDLE);
	assert_string_equal(st.source_address, "169.254.10.2");
	assert_string_equal(st.neighbor_router_id, "0.0.0.0");
	st = bgp(NBA, 1300);
	assert_int_equal(st.state, RZ_BGP_CONNECT);
	st = bgp(NBA, 1300 + SIM_BGP_OPEN_MS - 1);
	assert_int_equal(st.state, RZ_BGP_CONNECT);
	st = bgp(NBA, 1800);
	assert_int_equal(st.state, RZ_BGP_ESTABLISHED);
	assert_int_equal(st.established_connection_count, 1);
	assert_int_equal(st.connection_drop_count, 0);
	assert_int_equal(st.messages_sent, 2);
	assert_int_equal(st.messages_received, 2);
	assert_int_equal(st.time_since_established_s, 0);
	assert_string_equal(st.neighbor_router_id, "169.254.10.1");
	assert_int_equal(st.hold_time_s, 180);
	assert_int_equal(st.keepalive_s, 60);
	assert_int_equal(st.last_update_ms, 1800);
	st = bgp(NBA, 61800);
	assert_int_equal(st.messages_sent, 3);
	assert_int_equal(st.time_since_established_s, 60);
	st = bgp(NBA, 1800 + 600000);
	assert_int_equal(st.messages_received, 12);
	assert_int_equal(bgp(NBA, 1800 + 10LL * 86400 * 1000).state, RZ_BGP_ESTABLISHED);
}

static void
test_bgp_password_mismatch(void **state)
{
	struct rz_neighbor n;
	struct rz_bgp_status st;
	struct rz_session s;

	(void)state;
	nb_init(&n, NBA, "169.254.10.1");
	snprintf(n.password, sizeof(n.password), "nbpass");
	apply_nb(&n, 500);
	define_ok(PEER, "{\"bgp\": {\"password\": \"other\"}}", 600);
	sess_init(&s, SA, PEER, true);
	apply_release(&s, 1000);
	st = bgp(NBA, 1800);
	assert_int_equal(st.state, RZ_BGP_ACTIVE);
	assert_int_equal(st.connection_drop_count, 0);
	st = bgp(NBA, 100000);
	assert_int_equal(st.state, RZ_BGP_ACTIVE);
	assert_int_equal(st.connection_drop_count, 0);
	assert_int_equal(st.messages_sent, 0);
	/* the peer fixed: BGP restarts and establishes */
	define_ok(PEER, "{\"bgp\": {\"password\": \"nbpass\"}}", 100000);
	assert_int_equal(bgp(NBA, 100000).state, RZ_BGP_CONNECT);
	st = bgp(NBA, 100500);
	assert_int_equal(st.state, RZ_BGP_ESTABLISHED);
	assert_int_equal(st.established_connection_count, 1);
	/* the mirror uses the neighbor's password */
	assert_int_equal(sim_peer_forget(B, PEER, 200000), VPN_OK);
	assert_int_equal(bgp(NBA, 200000).state, RZ_BGP_ESTABLISHED);
}

static void
test_bgp_as_mismatch(void **state)
{
	struct rz_neighbor n;
	struct rz_bgp_status st;

	(void)state;
	bgp_setup(&n, "{\"bgp\": {\"as\": \"65099\"}}");
	st = bgp(NBA, 1800);
	assert_int_equal(st.state, RZ_BGP_ACTIVE);
	assert_int_equal(st.connection_drop_count, 1);
	st = bgp(NBA, 1800 + SIM_BGP_RETRY_MS - 1);
	assert_int_equal(st.connection_drop_count, 1);
	st = bgp(NBA, 1800 + SIM_BGP_RETRY_MS);
	assert_int_equal(st.connection_drop_count, 2);
	st = bgp(NBA, 1800 + 10 * SIM_BGP_RETRY_MS);
	assert_int_equal(st.connection_drop_count, 11);
	assert_int_equal(st.established_connection_count, 0);
	/* fixing the neighbor (a re-apply) restarts it */
	n.remote_as = 65099;
	snprintf(n.remote_as_text, sizeof(n.remote_as_text), "65099");
	apply_nb(&n, 60000);
	assert_int_equal(bgp(NBA, 60500).state, RZ_BGP_ESTABLISHED);
}

static void
test_bgp_hold_expiry(void **state)
{
	struct rz_neighbor n;
	struct rz_bgp_status st;

	(void)state;
	bgp_setup(&n, NULL);
	assert_int_equal(bgp(NBA, 1800).state, RZ_BGP_ESTABLISHED);
	define_ok(PEER, "{\"reachable\": false}", 10000);	/* DPD: tunnel down at 40000 */
	assert_state(SA, 40000, RZ_IKE_DOWN, SIM_FR_DPD);
	/* nothing heard since 10000: the hold timer runs from there, not from the DPD */
	st = bgp(NBA, 10000 + 180000 - 1);
	assert_int_equal(st.state, RZ_BGP_ESTABLISHED);
	assert_int_equal(st.connection_drop_count, 0);
	st = bgp(NBA, 10000 + 180000);
	assert_int_equal(st.state, RZ_BGP_IDLE);
	assert_int_equal(st.connection_drop_count, 1);
	assert_string_equal(st.neighbor_router_id, "0.0.0.0");
	assert_int_equal(st.time_since_established_s, 0);
	/* sent: 2 + one keepalive per 60 s of the 188.2 s established; received: until 10000 */
	assert_int_equal(st.messages_sent, 5);
	assert_int_equal(st.messages_received, 2);
	/* reachable again at 230000: retries start at 50000 + k x 10300, so UP at 235700 */
	define_ok(PEER, "{}", 230000);
	assert_state(SA, 235399, RZ_IKE_DOWN, SIM_FR_TIMEOUT);
	assert_state(SA, 235700, RZ_IKE_UP, "");
	assert_int_equal(bgp(NBA, 236199).state, RZ_BGP_CONNECT);
	st = bgp(NBA, 236200);
	assert_int_equal(st.state, RZ_BGP_ESTABLISHED);
	assert_int_equal(st.established_connection_count, 2);
	assert_int_equal(st.messages_sent, 7);
	assert_int_equal(st.messages_received, 4);
}

static void
test_bgp_survives_short_outage(void **state)
{
	struct rz_neighbor n;
	struct rz_bgp_status st;

	(void)state;
	bgp_setup(&n, NULL);
	define_ok(PEER, "{\"reachable\": false}", 10000);
	define_ok(PEER, "{}", 45000);			/* session back at 50300 */
	assert_state(SA, 50300, RZ_IKE_UP, "");
	st = bgp(NBA, 300000);
	assert_int_equal(st.state, RZ_BGP_ESTABLISHED);
	assert_int_equal(st.established_connection_count, 1);
	assert_int_equal(st.connection_drop_count, 0);
}

static void
test_bgp_idle_cases(void **state)
{
	struct rz_neighbor n, other, off;
	struct rz_bgp_status st;

	(void)state;
	/* the session never comes up: IDLE */
	bgp_setup(&n, "{\"psk\": \"wrong\"}");
	assert_int_equal(bgp(NBA, 100000).state, RZ_BGP_IDLE);
	/* outside every VTI subnet: IDLE, no source */
	nb_init(&other, NBA "x", "169.254.99.1");
	apply_nb(&other, 100000);
	st = bgp(NBA "x", 200000);
	assert_int_equal(st.state, RZ_BGP_IDLE);
	assert_string_equal(st.source_address, "");
	/* disabled: IDLE even over a working tunnel */
	assert_int_equal(sim_peer_forget(B, PEER, 200000), VPN_OK);
	assert_state(SA, 200300, RZ_IKE_UP, "");
	assert_int_equal(bgp(NBA, 200800).state, RZ_BGP_ESTABLISHED);
	nb_init(&off, NBA, "169.254.10.1");
	off.enabled = false;
	apply_nb(&off, 300000);
	st = bgp(NBA, 300000);
	assert_int_equal(st.state, RZ_BGP_IDLE);
	assert_int_equal(st.connection_drop_count, 1);
	assert_int_equal(bgp(NBA, 900000).state, RZ_BGP_IDLE);
	O->remove_neighbor(B, NBA "x", 900000);
	assert_int_equal(O->bgp_status(B, NBA "x", &st), VPN_E_NOT_FOUND);
}

static void
test_bgp_session_removed(void **state)
{
	struct rz_neighbor n;
	struct rz_bgp_status st;
	struct rz_session s;

	(void)state;
	bgp_setup(&n, NULL);
	assert_int_equal(bgp(NBA, 1800).state, RZ_BGP_ESTABLISHED);
	O->remove_session(B, SA, 10000);
	st = bgp(NBA, 10000 + 180000 - 1);
	assert_int_equal(st.state, RZ_BGP_ESTABLISHED);
	assert_string_equal(st.source_address, "");
	st = bgp(NBA, 190000);
	assert_int_equal(st.state, RZ_BGP_IDLE);
	assert_int_equal(st.connection_drop_count, 1);
	/* a new session with the VTI picks the neighbor up again */
	sess_init(&s, SB, PEER, true);
	apply_release(&s, 200000);
	st = bgp(NBA, 200800);
	assert_int_equal(st.state, RZ_BGP_ESTABLISHED);
	assert_string_equal(st.source_address, "169.254.10.2");
	/* ... and moving the VTI away drops it */
	sess_init(&s, SB, PEER, true);
	pfx(&s.vti, "169.254.30.2/30");
	apply_release(&s, 300000);
	st = bgp(NBA, 300000);
	assert_string_equal(st.source_address, "");
}

static struct rz_route *
routes(const char *path, bool adv, size_t *n)
{
	struct rz_route *r = NULL;

	assert_int_equal(O->routes(B, path, adv, &r, n), VPN_OK);
	return r;
}

static void
route_net(const struct rz_route *r, char out[64])
{
	char a[48];

	netaddr_format(&r->net.addr, a, sizeof(a));
	snprintf(out, 64, "%s/%u", a, (unsigned)r->net.len);
}

#define ANNOUNCE "{\"bgp\": {\"as\": \"65001\", \"announce\": ["			\
	"{\"network\": \"10.1.0.0/16\", \"as_path\": \"65001\", \"med\": 10},"	\
	"{\"network\": \"10.2.0.0/16\"},"					\
	"{\"network\": \"10.3.0.0/16\", \"as_path\": \"65001 65000\"}]}}"

static void
test_routes(void **state)
{
	struct netprefix adv[2];
	struct rz_neighbor n;
	struct rz_bgp_status st;
	struct rz_route *r;
	size_t cnt;
	char net[64];

	(void)state;
	pfx(&adv[0], "192.168.1.0/24");
	pfx(&adv[1], "10.0.0.0/8");
	nb_init(&n, NBA, "169.254.10.1");
	n.advertise = adv;
	n.nadvertise = 2;
	apply_nb(&n, 500);
	define_ok(PEER, ANNOUNCE, 600);
	{
		struct rz_session s;

		sess_init(&s, SA, PEER, true);
		apply_release(&s, 1000);
	}
	/* nothing before ESTABLISHED */
	O->tick(B, 1500);
	r = routes(NBA, false, &cnt);
	assert_int_equal(cnt, 0);
	free(r);
	O->tick(B, 1800);
	r = routes(NBA, false, &cnt);
	assert_int_equal(cnt, 2);	/* 10.3.0.0/16 carries our AS: dropped */
	route_net(&r[0], net);
	assert_string_equal(net, "10.1.0.0/16");
	assert_string_equal(r[0].next_hop, "169.254.10.1");
	assert_string_equal(r[0].as_path, "65001");
	assert_int_equal(r[0].med, 10);
	assert_int_equal(r[0].local_pref, 100);
	assert_int_equal(r[0].weight, 0);
	route_net(&r[1], net);
	assert_string_equal(net, "10.2.0.0/16");
	assert_string_equal(r[1].as_path, "65001");	/* default: the peer's AS */
	assert_int_equal(r[1].med, 0);
	free(r);
	r = routes(NBA, true, &cnt);
	assert_int_equal(cnt, 2);
	route_net(&r[0], net);
	assert_string_equal(net, "192.168.1.0/24");
	assert_string_equal(r[0].next_hop, "169.254.10.2");
	assert_string_equal(r[0].as_path, "65000");
	assert_int_equal(r[0].weight, 32768);
	assert_int_equal(r[0].local_pref, 100);
	assert_int_equal(r[0].med, 0);
	free(r);
	st = bgp(NBA, 1800);
	assert_int_equal(st.in_prefix_count, 2);
	assert_int_equal(st.out_prefix_count, 2);
	/* allow_as_in is a soft change: no reset, the looped route is accepted */
	n.allow_as_in = true;
	apply_nb(&n, 2000);
	st = bgp(NBA, 2000);
	assert_int_equal(st.state, RZ_BGP_ESTABLISHED);
	assert_int_equal(st.in_prefix_count, 3);
	assert_int_equal(st.established_connection_count, 1);
}

static struct pl_list *
compile(const char *json)
{
	json_t *j = json_loads(json, 0, NULL);
	struct pl_list *l = NULL;

	assert_non_null(j);
	assert_int_equal(pl_compile(j, &l, NULL), VPN_OK);
	json_decref(j);
	return l;
}

static void
test_routes_filtered(void **state)
{
	struct netprefix adv[3];
	struct rz_neighbor n;
	struct pl_list *in, *out;
	struct rz_bgp_status st;
	struct rz_route *r;
	size_t cnt;
	char net[64];

	(void)state;
	in = compile("[{\"network\": \"10.1.0.0/16\", \"action\": \"PERMIT\", \"le\": 24}]");
	out = compile("[{\"network\": \"10.0.0.0/8\", \"action\": \"DENY\", \"le\": 32},"
		      " {\"network\": \"ANY\", \"action\": \"PERMIT\"}]");
	pfx(&adv[0], "192.168.1.0/24");
	pfx(&adv[1], "10.0.0.0/8");
	pfx(&adv[2], "10.20.0.0/16");
	nb_init(&n, NBA, "169.254.10.1");
	n.advertise = adv;
	n.nadvertise = 3;
	n.in_filter = in;
	n.out_filter = out;
	apply_nb(&n, 500);
	define_ok(PEER, ANNOUNCE, 600);
	{
		struct rz_session s;

		sess_init(&s, SA, PEER, true);
		apply_release(&s, 1000);
	}
	st = bgp(NBA, 1800);
	assert_int_equal(st.state, RZ_BGP_ESTABLISHED);
	assert_int_equal(st.in_prefix_count, 1);
	assert_int_equal(st.out_prefix_count, 1);
	r = routes(NBA, false, &cnt);
	assert_int_equal(cnt, 1);
	route_net(&r[0], net);
	assert_string_equal(net, "10.1.0.0/16");
	free(r);
	r = routes(NBA, true, &cnt);
	assert_int_equal(cnt, 1);
	route_net(&r[0], net);
	assert_string_equal(net, "192.168.1.0/24");
	free(r);
	/* filters removed (a soft re-apply): everything passes; the lists can go */
	n.in_filter = NULL;
	n.out_filter = NULL;
	apply_nb(&n, 2000);
	pl_free(in);
	pl_free(out);
	st = bgp(NBA, 2000);
	assert_int_equal(st.in_prefix_count, 2);
	assert_int_equal(st.out_prefix_count, 3);
}

/* ---- the emulator API ---- */

static bool
error_mentions(const struct vpn_error *e, const char *needle)
{
	unsigned i;

	if (strstr(e->msg, needle))
		return true;
	for (i = 0; i < e->nrelated; i++)
		if (strstr(e->related[i].msg, needle))
			return true;
	return false;
}

static void
check_invalid(const char *json, const char *member)
{
	json_t *j = json_loads(json, 0, NULL);
	struct vpn_error e;

	assert_non_null(j);
	vpn_error_clear(&e);
	assert_int_equal(sim_peer_define(B, PEER, j, 0, &e), VPN_E_INVALID);
	json_decref(j);
	if (!error_mentions(&e, member))
		fail_msg("error for %s does not name %s: %s", json, member, e.msg);
	assert_false(error_mentions(&e, "SuperSecret"));
	assert_false(error_mentions(&e, "TopSecret"));
}

static void
test_define_validation(void **state)
{
	struct vpn_error e;
	json_t *j;
	char big[400];

	(void)state;
	check_invalid("[]", "JSON object");
	check_invalid("{\"psk\": 5}", "psk");
	check_invalid("{\"psk\": \"\"}", "psk");
	memset(big, 'S', sizeof(big));
	memcpy(big, "{\"psk\": \"SuperSecret", 20);
	memcpy(big + 300, "\"}", 3);
	check_invalid(big, "psk");
	check_invalid("{\"bgp\": {\"password\": \"TopSecretPasswordFarTooLongForBgp!\"}}",
		      "bgp.password");
	check_invalid("{\"bgp\": {\"password\": 7}}", "bgp.password");
	check_invalid("{\"psk\": \"SuperSecretPsk\", \"bgp\": {\"password\": \"TopSecret\"}, "
		      "\"bogus\": true}", "bogus");
	check_invalid("{\"ike_version\": \"IKE_V3\"}", "ike_version");
	check_invalid("{\"ike\": {\"encryption_algorithms\": [\"ROT13\"]}}",
		      "ike.encryption_algorithms");
	check_invalid("{\"esp\": {\"dh_groups\": \"GROUP14\"}}", "esp.dh_groups");
	check_invalid("{\"ike\": {\"enable_perfect_forward_secrecy\": true}}",
		      "ike.enable_perfect_forward_secrecy");
	check_invalid("{\"reachable\": \"no\"}", "reachable");
	check_invalid("{\"initiates\": 1}", "initiates");
	check_invalid("{\"subnets\": {\"local\": [\"nope\"], \"remote\": []}}", "subnets.local[0]");
	check_invalid("{\"subnets\": {\"local\": []}}", "subnets");
	check_invalid("{\"bgp\": {\"as\": \"abc\"}}", "bgp.as");
	check_invalid("{\"bgp\": {\"as\": 0}}", "bgp.as");
	check_invalid("{\"bgp\": {\"announce\": [{\"as_path\": \"65001\"}]}}",
		      "bgp.announce[0].network");
	check_invalid("{\"bgp\": {\"announce\": [{\"network\": \"10.0.0.0/8\", "
		      "\"as_path\": \"65001 x\"}]}}", "bgp.announce[0].as_path");
	check_invalid("{\"bgp\": {\"announce\": [{\"network\": \"10.0.0.0/8\", \"med\": -1}]}}",
		      "bgp.announce[0].med");
	check_invalid("{\"faults\": {\"flap_period_ms\": -1}}", "faults.flap_period_ms");
	check_invalid("{\"faults\": {\"rekey_failure\": \"yes\"}}", "faults.rekey_failure");
	/* a failed definition leaves nothing behind */
	assert_null(sim_peer_get(B, PEER));
	/* the address itself */
	j = json_object();
	vpn_error_clear(&e);
	assert_int_equal(sim_peer_define(B, "not-an-ip", j, 0, &e), VPN_E_INVALID);
	assert_non_null(strstr(e.msg, "peer_address"));
	json_decref(j);
	/* and a valid one with everything */
	define_ok(PEER, "{\"psk\": \"SuperSecret\", \"local_id\": \"peer.example\", "
		  "\"ike_version\": \"IKE_FLEX\", \"ike\": {\"encryption_algorithms\": "
		  "[\"AES_GCM_256\"], \"digest_algorithms\": [], \"dh_groups\": [\"GROUP21\"]}, "
		  "\"esp\": {\"encryption_algorithms\": [\"AES_256\"], \"digest_algorithms\": "
		  "[\"SHA2_512\"], \"dh_groups\": [\"GROUP14\"], "
		  "\"enable_perfect_forward_secrecy\": true}, \"reachable\": true, "
		  "\"initiates\": false, \"responds\": true, \"subnets\": {\"local\": "
		  "[\"192.168.0.0/16\"], \"remote\": [\"10.0.0.0/8\"]}, \"bgp\": {\"as\": \"1.10\", "
		  "\"password\": \"TopSecret\", \"announce\": [{\"network\": \"172.16.0.1/12\", "
		  "\"as_path\": \"65546 65010\", \"med\": 5}]}, \"faults\": "
		  "{\"flap_period_ms\": 0, \"rekey_failure\": false}}", 0);
}

static void
test_peer_get_and_list(void **state)
{
	struct rz_session s;
	json_t *p, *l;
	char *dump;

	(void)state;
	sess_init(&s, SA, PEER, true);
	apply_release(&s, 1000);
	p = sim_peer_get(B, PEER);
	assert_non_null(p);
	assert_false(json_is_true(json_object_get(p, "defined")));
	assert_string_equal(json_string_value(json_object_get(p, "local_id")), PEER);
	assert_string_equal(json_string_value(json_object_get(p, "ike_version")), "IKE_V2");
	assert_false(json_is_true(json_object_get(p, "initiates")));
	assert_string_equal(json_string_value(json_array_get(json_object_get(json_object_get(p,
			    "ike"), "encryption_algorithms"), 1)), "AES_256");
	assert_string_equal(json_string_value(json_array_get(json_object_get(p, "sessions"), 0)),
			    SA);
	json_decref(p);

	define_ok(PEER, "{\"psk\": \"SuperSecretPsk\", \"bgp\": {\"as\": \"65001\", "
		  "\"password\": \"TopSecretPw\", \"announce\": [{\"network\": \"10.1.2.3/16\"}]}, "
		  "\"faults\": {\"flap_period_ms\": 1000}}", 2000);
	define_ok(PEER2, "{\"reachable\": false}", 2000);
	p = sim_peer_get(B, PEER);
	dump = json_dumps(p, JSON_SORT_KEYS);
	assert_null(strstr(dump, "SuperSecret"));
	assert_null(strstr(dump, "TopSecret"));
	assert_non_null(strstr(dump, "\"10.1.0.0/16\""));
	assert_true(json_is_true(json_object_get(p, "psk_defined")));
	assert_int_equal(json_integer_value(json_object_get(json_object_get(p, "faults"),
							     "flap_period_ms")), 1000);
	free(dump);
	json_decref(p);
	l = sim_peer_list(B);
	assert_int_equal(json_array_size(l), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(l, 0),
							      "peer_address")), PEER);
	assert_false(json_is_true(json_object_get(json_array_get(l, 1), "reachable_now")));
	json_decref(l);
	assert_int_equal(sim_peer_forget(B, PEER2, 3000), VPN_OK);
	assert_int_equal(sim_peer_forget(B, PEER2, 3000), VPN_E_NOT_FOUND);
	assert_null(sim_peer_get(B, PEER2));
	l = sim_peer_list(B);
	assert_int_equal(json_array_size(l), 1);
	json_decref(l);
}

/* Many sessions and neighbors: every lookup is a hash lookup (this must run in well under 1 s). */
static void
test_many(void **state)
{
	enum { N = 3000 };
	struct rz_session s;
	struct rz_neighbor n;
	char path[128], peer[32], addr[32], vti[32];
	struct rz_bgp_status st;
	int i;

	(void)state;
	for (i = 0; i < N; i++) {
		snprintf(path, sizeof(path), NBA "-%d", i);
		snprintf(addr, sizeof(addr), "10.%d.%d.1", i / 64, (i % 64) * 4);
		nb_init(&n, path, addr);
		apply_nb(&n, 500);
	}
	for (i = 0; i < N; i++) {
		snprintf(path, sizeof(path), SVC "s%d", i);
		snprintf(peer, sizeof(peer), "198.18.%d.%d", i / 250, i % 250 + 1);
		snprintf(vti, sizeof(vti), "10.%d.%d.2/30", i / 64, (i % 64) * 4);
		sess_init(&s, path, peer, true);
		pfx(&s.vti, vti);
		apply_release(&s, 1000);
	}
	for (i = 0; i < 100; i++)
		O->tick(B, 1000 + i * 100);
	assert_state(SVC "s2999", 11000, RZ_IKE_UP, "");
	st = bgp(NBA "-2999", 11000);
	assert_int_equal(st.state, RZ_BGP_ESTABLISHED);
	assert_string_equal(st.source_address, "10.46.220.2");
}

/* ---- cost: the event queue (docs/sim.md, Cost) ---- */

/* sim_work() since the last call: objects advanced in time by the operations in between. */
static uint64_t work_mark;

static uint64_t
work_since(void)
{
	uint64_t w = sim_work(B), d = w - work_mark;

	work_mark = w;
	return d;
}

/* @n policy-based sessions "q<i>", each with its own peer, applied at @now. */
static void
apply_many(int n, int64_t now)
{
	struct rz_session s;
	char path[128], peer[32];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), SVC "q%d", i);
		snprintf(peer, sizeof(peer), "198.18.%d.%d", i / 250, i % 250 + 1);
		sess_init(&s, path, peer, false);
		add_tunnel(&s, "192.168.1.0/24", "10.1.0.0/16");
		apply_release(&s, now);
	}
}

/*
 * Applying, changing, removing one session and ticking cost the objects they touch or that are
 * due, never a pass over all sessions: counted with sim_work, not timed.
 */
static void
test_queue_cost_sessions(void **state)
{
	enum { N = 2000 };
	const int64_t T = 1000, UP = T + SIM_IKE_NEGOTIATE_MS;
	struct rz_session s;
	char path[128];

	(void)state;
	work_mark = sim_work(B);
	apply_many(N, T);
	assert_int_equal(work_since(), 0);	/* a fresh session touches nothing else */
	O->tick(B, UP - 1);
	assert_int_equal(work_since(), 0);	/* nothing due */
	O->tick(B, UP);
	assert_int_equal(work_since(), N);	/* every verdict, one each */
	for (int64_t t = UP + 100; t < UP + 10000; t += 100)
		O->tick(B, t);
	assert_int_equal(work_since(), 0);	/* idle ticks cost nothing */
	assert_state(SVC "q1999", UP + 10000, RZ_IKE_UP, "");
	assert_state(SVC "q0", UP + 10000, RZ_IKE_UP, "");
	work_since();

	/* change one session: it alone is caught up and restarted; only it is due later */
	snprintf(path, sizeof(path), SVC "q7");
	sess_init(&s, path, "198.18.0.8", false);
	add_tunnel(&s, "192.168.1.0/24", "10.1.0.0/16");
	s.ike.lifetime_s = 3600;
	apply_release(&s, UP + 20000);
	assert_int_equal(work_since(), 1);
	O->tick(B, UP + 20000 + SIM_IKE_NEGOTIATE_MS);
	assert_int_equal(work_since(), 1);
	assert_state(path, UP + 20300, RZ_IKE_UP, "");

	/* remove one: itself */
	work_since();
	O->remove_session(B, SVC "q8", UP + 20400);
	assert_int_equal(work_since(), 1);

	/* a day later every other session rekeys its IKE SA once: one step each */
	O->tick(B, UP + 86400LL * 1000 - 1);
	assert_int_equal(work_since(), 1);	/* q7 alone: its 23 hourly rekeys in one go */
	O->tick(B, UP + 86400LL * 1000);
	assert_int_equal(work_since(), N - 2);
	assert_state(SVC "q0", UP + 86400LL * 1000, RZ_IKE_UP, "");
}

/* A neighbor whose timer is due is advanced alone (its session is not due). */
static void
test_queue_cost_neighbor(void **state)
{
	struct rz_neighbor n;

	(void)state;
	apply_many(500, 400);
	bgp_setup(&n, NULL);			/* session SA at 1000, neighbor NBA */
	O->tick(B, 1300);			/* every verdict: 501 sessions; NBA CONNECT */
	work_mark = sim_work(B);
	O->tick(B, 1300 + SIM_BGP_OPEN_MS - 1);
	assert_int_equal(work_since(), 0);
	O->tick(B, 1300 + SIM_BGP_OPEN_MS);
	assert_int_equal(work_since(), 1);
	assert_int_equal(bgp(NBA, 1800).state, RZ_BGP_ESTABLISHED);
	/* redefining the peer touches its one session and that session's neighbor */
	work_since();
	define_ok(PEER, "{\"reachable\": false}", 2000);
	assert_int_equal(work_since(), 2);
	assert_int_equal(bgp(NBA, 2000 + 180000).state, RZ_BGP_IDLE);	/* hold expired */
}

/*
 * The event queue against the reference (every tick advancing every object, as before the
 * queue): two backends get the same random sessions, neighbors, peer definitions, traffic and
 * clock steps (milliseconds to weeks), and every status and peer view must match after each.
 */
static uint64_t diff_rng_state;

static unsigned
diff_rnd(unsigned n)
{
	uint64_t x = diff_rng_state;	/* xorshift64* */

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	diff_rng_state = x;
	return (unsigned)((x * 0x2545F4914F6CDD1DULL) >> 33) % n;
}

static const char *const diff_peers[] = { PEER, PEER2, "203.0.113.3" };

static void
diff_session(struct rz_session *s, unsigned i)
{
	static const int64_t ike_l[] = { 0, 30, 120, 3600 }, esp_l[] = { 0, 20, 60 };
	char path[128], vti[32];
	bool rb = diff_rnd(2);

	snprintf(path, sizeof(path), SVC "d%u", i);
	sess_init(s, path, diff_peers[diff_rnd(3)], rb);
	if (rb) {
		snprintf(vti, sizeof(vti), "169.254.%u.2/30", 10 * i + diff_rnd(2));
		pfx(&s->vti, vti);
	} else {
		add_tunnel(s, "192.168.1.0/24", "10.1.0.0/16");
		if (diff_rnd(2))
			add_tunnel(s, "192.168.2.0/24", "10.2.0.0/16");
	}
	s->enabled = diff_rnd(10) != 0;
	s->initiation = diff_rnd(4) == 0 ? RZ_INIT_ON_DEMAND :
			diff_rnd(4) == 0 ? RZ_INIT_RESPOND_ONLY : RZ_INIT_INITIATOR;
	s->ike.lifetime_s = ike_l[diff_rnd(4)];
	s->esp.lifetime_s = esp_l[diff_rnd(3)];
	s->dpd.enabled = diff_rnd(3) != 0;
	s->dpd.interval_s = diff_rnd(2) ? 1 : 10;
	s->dpd.retries = diff_rnd(2) ? 1 : 3;
	if (diff_rnd(6) == 0)
		snprintf(s->psk, sizeof(s->psk), "other");
}

static void
diff_neighbor(struct rz_neighbor *n, unsigned i)
{
	static const int64_t hold[] = { 0, 3, 30, 180 }, ka[] = { 1, 10, 60 };
	char path[128], addr[32];

	snprintf(path, sizeof(path), NBA "-%u", i);
	if (diff_rnd(8) == 0)
		snprintf(addr, sizeof(addr), "10.9.9.9");
	else
		snprintf(addr, sizeof(addr), "169.254.%u.1", 10 * diff_rnd(5) + diff_rnd(2));
	nb_init(n, path, addr);
	n->hold_s = hold[diff_rnd(4)];
	n->keepalive_s = ka[diff_rnd(3)];
	n->enabled = diff_rnd(10) != 0;
	if (diff_rnd(5) == 0)
		snprintf(n->password, sizeof(n->password), "x");
}

static const char *const diff_defs[] = {
	"{}", "{\"reachable\": false}", "{\"faults\": {\"flap_period_ms\": 3000}}",
	"{\"faults\": {\"flap_period_ms\": 40000}}", "{\"faults\": {\"flap_period_ms\": 250000}}",
	"{\"faults\": {\"rekey_failure\": true}}", "{\"psk\": \"other\"}", "{\"initiates\": true}",
	"{\"responds\": false}", "{\"bgp\": {\"as\": \"65002\"}}", "{\"bgp\": {\"password\": \"x\"}}",
	"{\"bgp\": {\"announce\": [{\"network\": \"10.70.0.0/16\"}]}, "
	"\"faults\": {\"flap_period_ms\": 7000, \"rekey_failure\": true}}",
	"{\"faults\": {\"flap_period_ms\": 1500}, \"bgp\": {\"announce\": [{\"network\": "
	"\"10.71.0.0/16\"}]}}",
};

/* How often the compared views were UP / ESTABLISHED / DPD-failed: the test is not vacuous. */
static unsigned diff_up, diff_est, diff_dpd, diff_drops;

static void
diff_compare(struct rz_backend *l, struct rz_backend *e, unsigned seed, int step)
{
	unsigned i;
	size_t k;

	for (i = 0; i < 5; i++) {
		struct rz_session_status a, b;
		char path[128];
		enum vpn_err ra, rb;

		snprintf(path, sizeof(path), SVC "d%u", i);
		ra = l->ops->session_status(l, path, &a);
		rb = e->ops->session_status(e, path, &b);
		if (ra != rb || (!ra && (a.ike != b.ike || strcmp(a.fail_reason, b.fail_reason) ||
					 a.ntunnels != b.ntunnels ||
					 a.last_update_ms != b.last_update_ms)))
			fail_msg("seed %u step %d: session d%u differs (%d/%d, %s/%s)", seed, step, i,
				 a.ike, b.ike, a.fail_reason, b.fail_reason);
		diff_up += !ra && a.ike == RZ_IKE_UP;
		diff_dpd += !ra && !strcmp(a.fail_reason, SIM_FR_DPD);
		for (k = 0; !ra && k < a.ntunnels; k++)
			if (a.tunnels[k].up != b.tunnels[k].up ||
			    strcmp(a.tunnels[k].down_reason, b.tunnels[k].down_reason) ||
			    memcmp(&a.tunnels[k].c, &b.tunnels[k].c, sizeof(a.tunnels[k].c)))
				fail_msg("seed %u step %d: session d%u tunnel %zu differs", seed, step,
					 i, k);
		rz_session_status_release(&a);
		rz_session_status_release(&b);
	}
	for (i = 0; i < 3; i++) {
		struct rz_bgp_status a, b;
		char path[128];
		enum vpn_err ra, rb;
		json_t *pa, *pb;

		snprintf(path, sizeof(path), NBA "-%u", i);
		ra = l->ops->bgp_status(l, path, &a);
		rb = e->ops->bgp_status(e, path, &b);
		if (ra != rb || (!ra && (a.state != b.state ||
					 strcmp(a.source_address, b.source_address) ||
					 strcmp(a.neighbor_router_id, b.neighbor_router_id) ||
					 a.messages_received != b.messages_received ||
					 a.messages_sent != b.messages_sent ||
					 a.time_since_established_s != b.time_since_established_s ||
					 a.connection_drop_count != b.connection_drop_count ||
					 a.established_connection_count != b.established_connection_count ||
					 a.in_prefix_count != b.in_prefix_count ||
					 a.out_prefix_count != b.out_prefix_count)))
			fail_msg("seed %u step %d: neighbor %u differs (state %d/%d, drops %llu/%llu, "
				 "ests %llu/%llu, recv %llu/%llu, sent %llu/%llu)", seed, step, i,
				 a.state, b.state, (unsigned long long)a.connection_drop_count,
				 (unsigned long long)b.connection_drop_count,
				 (unsigned long long)a.established_connection_count,
				 (unsigned long long)b.established_connection_count,
				 (unsigned long long)a.messages_received,
				 (unsigned long long)b.messages_received,
				 (unsigned long long)a.messages_sent,
				 (unsigned long long)b.messages_sent);
		diff_est += !ra && a.state == RZ_BGP_ESTABLISHED;
		diff_drops += !ra && a.connection_drop_count > 0;
		pa = sim_peer_get(l, diff_peers[i]);
		pb = sim_peer_get(e, diff_peers[i]);
		if (!json_equal(pa, pb) && (pa || pb))
			fail_msg("seed %u step %d: peer %s differs", seed, step, diff_peers[i]);
		json_decref(pa);
		json_decref(pb);
	}
}

static void
test_queue_matches_eager(void **state)
{
	struct rz_backend *bk[2];
	unsigned seed;

	(void)state;
	for (seed = 1; seed <= 12; seed++) {
		int64_t now = 1000;
		int step;

		diff_rng_state = seed * 0x9E3779B97F4A7C15ULL;
		bk[0] = sim_backend_new();
		bk[1] = sim_backend_new();
		assert_non_null(bk[0]);
		assert_non_null(bk[1]);
		sim_set_eager(bk[1], true);
		for (step = 0; step < 300; step++) {
			unsigned op = diff_rnd(100), j, w;
			uint64_t saved = 0;

			w = diff_rnd(100);
			now += w < 55 ? diff_rnd(2000) : w < 90 ? diff_rnd(200000) :
			       (int64_t)diff_rnd(2 * 86400) * 1000;
			for (j = 0; j < 2; j++) {
				struct rz_backend *b = bk[j];
				struct vpn_error err;
				uint64_t keep = diff_rng_state;

				/* both backends see the same random choices */
				if (j == 0)
					saved = keep;
				else
					diff_rng_state = saved;
				vpn_error_clear(&err);
				if (op < 30) {
					struct rz_session s;

					diff_session(&s, diff_rnd(5));
					assert_int_equal(b->ops->apply_session(b, &s, now, &err), VPN_OK);
					sess_release(&s);
				} else if (op < 36) {
					char path[128];

					snprintf(path, sizeof(path), SVC "d%u", diff_rnd(5));
					b->ops->remove_session(b, path, now);
				} else if (op < 52) {
					struct rz_neighbor n;

					diff_neighbor(&n, diff_rnd(3));
					assert_int_equal(b->ops->apply_neighbor(b, &n, now, &err), VPN_OK);
				} else if (op < 56) {
					char path[128];

					snprintf(path, sizeof(path), NBA "-%u", diff_rnd(3));
					b->ops->remove_neighbor(b, path, now);
				} else if (op < 76) {
					const char *peer = diff_peers[diff_rnd(3)];
					unsigned d = diff_rnd(sizeof(diff_defs) / sizeof(diff_defs[0]) + 1);
					json_t *js;

					if (d == sizeof(diff_defs) / sizeof(diff_defs[0])) {
						sim_peer_forget(b, peer, now);
					} else {
						js = json_loads(diff_defs[d], 0, NULL);
						assert_non_null(js);
						assert_int_equal(sim_peer_define(b, peer, js, now, &err),
								 VPN_OK);
						json_decref(js);
					}
				} else if (op < 86) {
					struct rz_counters c;
					char path[128];

					memset(&c, 0, sizeof(c));
					c.packets_out = diff_rnd(3);
					c.packets_in = diff_rnd(3);
					c.bytes_out = diff_rnd(1000);
					snprintf(path, sizeof(path), SVC "d%u", diff_rnd(5));
					sim_traffic(b, path, diff_rnd(2), &c, now, &err);
				} else if (op < 90) {
					char path[128];

					snprintf(path, sizeof(path), SVC "d%u", diff_rnd(5));
					b->ops->reset_counters(b, path);
				}
				b->ops->tick(b, now);
			}
			diff_compare(bk[0], bk[1], seed, step);
		}
		bk[0]->ops->destroy(bk[0]);
		bk[1]->ops->destroy(bk[1]);
	}
	print_message("compared: %u UP, %u DPD-failed, %u ESTABLISHED, %u with drops\n", diff_up,
		      diff_dpd, diff_est, diff_drops);
	assert_true(diff_up > 1000 && diff_dpd > 50 && diff_est > 300 && diff_drops > 100);
}

/*
 * A dead peer (issue: BGP used to wait for the tunnel): keepalives stop when the peer becomes
 * unreachable, so the hold timer expires at outage start + hold_s even while IPsec is UP.
 * DPD 60 s x 5 (the default profile), hold 180 s, keepalive 60 s; ESTABLISHED at 1800.
 */
#define ANN "\"bgp\": {\"announce\": [{\"network\": \"10.70.0.0/16\"}]}"

static void
bgp_setup_dpd(struct rz_neighbor *n, bool dpd)
{
	struct rz_session s;

	nb_init(n, NBA, "169.254.10.1");
	apply_nb(n, 500);
	define_ok(PEER, "{" ANN "}", 600);
	sess_init(&s, SA, PEER, true);
	s.dpd.enabled = dpd;
	s.dpd.interval_s = 60;
	s.dpd.retries = 5;
	apply_release(&s, 1000);
	assert_int_equal(bgp(NBA, 1800).state, RZ_BGP_ESTABLISHED);
	assert_int_equal(bgp(NBA, 1800).in_prefix_count, 1);
}

static void
check_dead_peer_drop(int64_t T)
{
	struct rz_bgp_status st;
	struct rz_route *r = NULL;
	size_t nr = 9;

	define_ok(PEER, "{\"reachable\": false, " ANN "}", T);
	st = bgp(NBA, T + 180000 - 1);
	assert_int_equal(st.state, RZ_BGP_ESTABLISHED);
	assert_int_equal(st.connection_drop_count, 0);
	assert_int_equal(st.in_prefix_count, 1);	/* kept until the hold timer expires */
	/* nothing received since T; our keepalives still go out */
	assert_int_equal(st.messages_received, 2 + (T - 1800) / 60000);
	assert_int_equal(st.messages_sent, 2 + (T + 180000 - 1 - 1800) / 60000);
	assert_state(SA, T + 180000 - 1, RZ_IKE_UP, "");
	st = bgp(NBA, T + 180000);
	assert_int_equal(st.state, RZ_BGP_IDLE);
	assert_int_equal(st.connection_drop_count, 1);
	assert_int_equal(st.established_connection_count, 1);
	assert_int_equal(st.in_prefix_count, 0);
	assert_int_equal(O->routes(B, NBA, false, &r, &nr), VPN_OK);
	assert_int_equal(nr, 0);
	free(r);
	assert_state(SA, T + 180000, RZ_IKE_UP, "");	/* IPsec has not noticed yet */
	assert_int_equal(st.messages_received, 2 + (T - 1800) / 60000);
	assert_int_equal(st.messages_sent, 2 + (T + 180000 - 1800) / 60000);
}

static void
test_bgp_dead_peer_dpd(void **state)
{
	const int64_t T = 100000;
	struct rz_neighbor n;
	struct rz_bgp_status st;

	(void)state;
	bgp_setup_dpd(&n, true);
	check_dead_peer_drop(T);
	/* DPD fires later, at T + 300 s: BGP stays IDLE, its counters frozen */
	assert_state(SA, T + 300000 - 1, RZ_IKE_UP, "");
	assert_state(SA, T + 300000, RZ_IKE_DOWN, SIM_FR_DPD);
	st = bgp(NBA, T + 400000);
	assert_int_equal(st.state, RZ_BGP_IDLE);
	assert_int_equal(st.connection_drop_count, 1);
	assert_int_equal(st.messages_received, 3);
	assert_int_equal(st.messages_sent, 6);
	/* back at 500000: retries at 410000 + k x 10300, UP at 503000, ESTABLISHED 500 ms later */
	define_ok(PEER, "{" ANN "}", 500000);
	assert_state(SA, 502999, RZ_IKE_NEGOTIATING, "");
	assert_state(SA, 503000, RZ_IKE_UP, "");
	assert_int_equal(bgp(NBA, 503499).state, RZ_BGP_CONNECT);
	st = bgp(NBA, 503500);
	assert_int_equal(st.state, RZ_BGP_ESTABLISHED);
	assert_int_equal(st.established_connection_count, 2);
	assert_int_equal(st.in_prefix_count, 1);
	assert_int_equal(st.messages_received, 3 + 2);
}

static void
test_bgp_dead_peer_no_dpd(void **state)
{
	const int64_t T = 100000;
	struct rz_neighbor n;
	struct rz_bgp_status st;

	(void)state;
	bgp_setup_dpd(&n, false);
	check_dead_peer_drop(T);
	/* no DPD: IPsec stays UP until its rekey (86400 s after 1300); BGP stays IDLE */
	assert_state(SA, 86401300 - 1, RZ_IKE_UP, "");
	st = bgp(NBA, 86401300 - 1);
	assert_int_equal(st.state, RZ_BGP_IDLE);
	assert_int_equal(st.connection_drop_count, 1);
	assert_int_equal(st.established_connection_count, 1);
	assert_state(SA, 86401300, RZ_IKE_DOWN, SIM_FR_TIMEOUT);
}

/* An outage shorter than hold_s keeps BGP up; the queued keepalives arrive after it (TCP). */
static void
test_bgp_outage_shorter_than_hold(void **state)
{
	const int64_t T = 100000;
	struct rz_neighbor n;
	struct rz_bgp_status st;

	(void)state;
	bgp_setup_dpd(&n, false);
	define_ok(PEER, "{\"reachable\": false, " ANN "}", T);
	st = bgp(NBA, T + 170000);
	assert_int_equal(st.messages_received, 3);
	assert_int_equal(st.messages_sent, 6);
	define_ok(PEER, "{" ANN "}", T + 180000 - 1);
	st = bgp(NBA, T + 180000 - 1);
	assert_int_equal(st.state, RZ_BGP_ESTABLISHED);
	assert_int_equal(st.messages_received, 6);
	st = bgp(NBA, 10000000);
	assert_int_equal(st.state, RZ_BGP_ESTABLISHED);
	assert_int_equal(st.connection_drop_count, 0);
	assert_int_equal(st.established_connection_count, 1);
	/* a second outage counts from its own start; exactly hold_s is enough to drop */
	define_ok(PEER, "{\"reachable\": false, " ANN "}", 10000000);
	define_ok(PEER, "{" ANN "}", 10180000);
	st = bgp(NBA, 10180000);
	assert_int_equal(st.connection_drop_count, 1);
	assert_int_equal(st.state, RZ_BGP_CONNECT);	/* and heard again at once */
	assert_int_equal(bgp(NBA, 10180500).state, RZ_BGP_ESTABLISHED);
	/* a flapping peer whose outages (100 s) are shorter than hold_s: BGP never drops */
	define_ok(PEER, "{\"faults\": {\"flap_period_ms\": 100000}, " ANN "}", 20000000);
	st = bgp(NBA, 80000000);
	assert_int_equal(st.state, RZ_BGP_ESTABLISHED);
	assert_int_equal(st.connection_drop_count, 1);
	assert_int_equal(st.established_connection_count, 2);
	assert_state(SA, 80000000, RZ_IKE_UP, "");
}

/* Reachable again with the tunnel still UP: CONNECT at once, ESTABLISHED SIM_BGP_OPEN_MS later. */
static void
test_bgp_reconnect_tunnel_up(void **state)
{
	const int64_t T = 100000;
	struct rz_neighbor n;
	struct rz_bgp_status st;

	(void)state;
	bgp_setup_dpd(&n, true);
	check_dead_peer_drop(T);
	define_ok(PEER, "{" ANN "}", T + 200000);	/* before DPD (T + 300 s) */
	st = bgp(NBA, T + 200000);
	assert_int_equal(st.state, RZ_BGP_CONNECT);
	assert_int_equal(bgp(NBA, T + 200000 + SIM_BGP_OPEN_MS - 1).state, RZ_BGP_CONNECT);
	st = bgp(NBA, T + 200000 + SIM_BGP_OPEN_MS);
	assert_int_equal(st.state, RZ_BGP_ESTABLISHED);
	assert_int_equal(st.established_connection_count, 2);
	assert_int_equal(st.connection_drop_count, 1);
	assert_int_equal(st.in_prefix_count, 1);
	assert_state(SA, T + 400000, RZ_IKE_UP, "");	/* the tunnel never went down */
	/* unreachable again: dropped hold_s later; back, then gone again before the OPEN: IDLE */
	define_ok(PEER, "{\"reachable\": false, " ANN "}", T + 500000);
	assert_int_equal(bgp(NBA, T + 680000 - 1).state, RZ_BGP_ESTABLISHED);
	st = bgp(NBA, T + 680000);
	assert_int_equal(st.state, RZ_BGP_IDLE);
	assert_int_equal(st.connection_drop_count, 2);
	define_ok(PEER, "{" ANN "}", T + 700000);
	assert_int_equal(bgp(NBA, T + 700000).state, RZ_BGP_CONNECT);
	define_ok(PEER, "{\"reachable\": false, " ANN "}", T + 700100);
	assert_int_equal(bgp(NBA, T + 700100).state, RZ_BGP_IDLE);
	st = bgp(NBA, T + 760000);
	assert_int_equal(st.state, RZ_BGP_IDLE);
	assert_int_equal(st.established_connection_count, 2);
}

/* Steps and jumps agree for BGP over a flapping peer (outages longer than hold_s). */
static void
flap_bgp_scenario(struct rz_backend *b, int64_t flap_ms, bool dpd)
{
	struct rz_session s;
	struct rz_neighbor n;
	char def[128];
	json_t *j;

	nb_init(&n, NBA, "169.254.10.1");
	n.hold_s = 9;
	n.keepalive_s = 3;
	assert_int_equal(b->ops->apply_neighbor(b, &n, 500, NULL), VPN_OK);
	sess_init(&s, SA, PEER, true);
	s.dpd.enabled = dpd;
	s.dpd.interval_s = 10;
	s.dpd.retries = 2;
	s.ike.lifetime_s = 3600;
	s.esp.lifetime_s = 900;
	assert_int_equal(b->ops->apply_session(b, &s, 1000, NULL), VPN_OK);
	sess_release(&s);
	snprintf(def, sizeof(def), "{\"faults\": {\"flap_period_ms\": %lld}}", (long long)flap_ms);
	j = json_loads(def, 0, NULL);
	assert_non_null(j);
	assert_int_equal(sim_peer_define(b, PEER, j, 2345, NULL), VPN_OK);
	json_decref(j);
}

static void
test_bgp_flapping_jump_matches_steps(void **state)
{
	static const int64_t flaps[] = { 9000, 15000, 25000, 9500 };
	size_t f, i;

	(void)state;
	for (f = 0; f < 2 * sizeof(flaps) / sizeof(flaps[0]); f++) {
		struct rz_backend *b1 = sim_backend_new(), *b2 = sim_backend_new();
		int64_t t = 2345;

		assert_non_null(b1);
		assert_non_null(b2);
		flap_bgp_scenario(b1, flaps[f / 2], f % 2);
		flap_bgp_scenario(b2, flaps[f / 2], f % 2);
		for (i = 1; i <= 40; i++) {
			int64_t c = 2345 + (int64_t)i * i * 7777;
			struct rz_bgp_status x, y;
			struct rz_session_status a, bb;

			for (; t < c; t += 250)
				b2->ops->tick(b2, t);
			b2->ops->tick(b2, c);
			t = c;
			b1->ops->tick(b1, c);
			assert_int_equal(b1->ops->bgp_status(b1, NBA, &x), VPN_OK);
			assert_int_equal(b2->ops->bgp_status(b2, NBA, &y), VPN_OK);
			assert_int_equal(x.state, y.state);
			assert_int_equal(x.connection_drop_count, y.connection_drop_count);
			assert_int_equal(x.established_connection_count,
					 y.established_connection_count);
			assert_int_equal(x.messages_sent, y.messages_sent);
			assert_int_equal(x.messages_received, y.messages_received);
			assert_int_equal(b1->ops->session_status(b1, SA, &a), VPN_OK);
			assert_int_equal(b2->ops->session_status(b2, SA, &bb), VPN_OK);
			assert_int_equal(a.ike, bb.ike);
			assert_string_equal(a.fail_reason, bb.fail_reason);
			rz_session_status_release(&a);
			rz_session_status_release(&bb);
			if (i == 40)
				assert_true(x.connection_drop_count > 10);
		}
		b1->ops->destroy(b1);
		b2->ops->destroy(b2);
	}
	/* ten years of 9 s outages (hold 9 s): 17.5M drops and reconnects, skipped by cycles */
	{
		struct rz_bgp_status x;
		double t0;

		flap_bgp_scenario(B, 9000, false);
		t0 = secs();
		O->tick(B, 3650LL * 86400 * 1000);
		assert_true(secs() - t0 < budget(0.5));
		assert_int_equal(O->bgp_status(B, NBA, &x), VPN_OK);
		assert_true(x.connection_drop_count > 17000000);
		assert_true(x.established_connection_count >= x.connection_drop_count);
	}
}

/*
 * A flapping peer and a negotiation that fails anyway (wrong PSK), or that succeeds only when a
 * verdict falls while the peer is reachable: a ten-year jump costs a few operations, and
 * jumps give the state that steps give.
 */
static void
flap_ike_scenario(struct rz_backend *b, int64_t flap_ms, bool bad_psk, const char *path,
		  const char *peer)
{
	struct rz_session s;
	char def[128];
	json_t *j;

	snprintf(def, sizeof(def), "{\"faults\": {\"flap_period_ms\": %lld}%s}",
		 (long long)flap_ms, bad_psk ? ", \"psk\": \"wrong\"" : "");
	j = json_loads(def, 0, NULL);
	assert_non_null(j);
	assert_int_equal(sim_peer_define(b, peer, j, 777, NULL), VPN_OK);
	json_decref(j);
	sess_init(&s, path, peer, true);
	s.dpd.interval_s = 1;
	s.dpd.retries = 1;
	assert_int_equal(b->ops->apply_session(b, &s, 1000, NULL), VPN_OK);
	sess_release(&s);
}

static void
test_flapping_failing_clock_jump(void **state)
{
	const int64_t ten_years = 3650LL * 86400 * 1000;
	/* per = 10300: 20000 and 30000 > per; 5150 = per / 2 (the phase never moves: never
	 * reachable at a verdict); 5000, 3000, 7777, 1: the phase wanders */
	static const int64_t flaps[] = { 20000, 30000, 5150, 5000, 3000, 7777, 1, 10300 };
	size_t f, i;
	double t0;

	(void)state;
	for (f = 0; f < 2 * sizeof(flaps) / sizeof(flaps[0]); f++) {
		struct rz_backend *b1 = sim_backend_new(), *b2 = sim_backend_new();
		struct rz_session_status a, b;
		int64_t t = 1000;

		assert_non_null(b1);
		assert_non_null(b2);
		flap_ike_scenario(b1, flaps[f / 2], f % 2, SA, PEER);
		flap_ike_scenario(b2, flaps[f / 2], f % 2, SA, PEER);
		/* stepping (100 ms: at most one verdict per step) and jumping agree */
		for (i = 1; i <= 30; i++) {
			int64_t c = 1000 + (int64_t)i * i * 1733;

			for (; t < c; t += 100)
				b2->ops->tick(b2, t);
			b2->ops->tick(b2, c);
			t = c;
			b1->ops->tick(b1, c);
			assert_int_equal(b1->ops->session_status(b1, SA, &a), VPN_OK);
			assert_int_equal(b2->ops->session_status(b2, SA, &b), VPN_OK);
			assert_int_equal(a.ike, b.ike);
			assert_string_equal(a.fail_reason, b.fail_reason);
			rz_session_status_release(&a);
			rz_session_status_release(&b);
		}
		b1->ops->destroy(b1);
		b2->ops->destroy(b2);
	}
	/* ten years in one tick with a wrong PSK: 30M retries, skipped arithmetically */
	flap_ike_scenario(B, 20000, true, SA, PEER);
	flap_ike_scenario(B, 5150, false, SB, PEER2);	/* never reachable at a verdict */
	t0 = secs();
	O->tick(B, ten_years);
	assert_true(secs() - t0 < budget(0.1));
	assert_int_equal(view(SA, ten_years).ike == RZ_IKE_DOWN ||
			 view(SA, ten_years).ike == RZ_IKE_NEGOTIATING, 1);
	assert_state(SB, ten_years, RZ_IKE_DOWN, SIM_FR_TIMEOUT);
}

/* Counters saturate at INT64_MAX (NSX counters are int64): never negative, nothing refused. */
static void
test_counters_saturate(void **state)
{
	struct rz_session s;
	struct rz_counters c;
	struct view v;
	uint64_t a[sizeof(c) / sizeof(uint64_t)];
	size_t i, n = sizeof(c) / sizeof(uint64_t);

	(void)state;
	assert_int_equal(sizeof(a), sizeof(c));
	for (i = 0; i < n; i++)
		a[i] = (uint64_t)INT64_MAX;
	memcpy(&c, a, sizeof(c));
	sess_init(&s, SA, PEER, true);
	apply_release(&s, 1000);
	O->tick(B, 1300);
	assert_int_equal(sim_traffic(B, SA, 0, &c, 2000, NULL), VPN_OK);
	assert_int_equal(sim_traffic(B, SA, 0, &c, 2000, NULL), VPN_OK);
	v = view(SA, 2000);
	memcpy(a, &v.c[0], sizeof(a));
	for (i = 0; i < n; i++)
		assert_int_equal(a[i], (uint64_t)INT64_MAX);	/* two INT64_MAX: no wrap to -2 */
	/* an increment beyond int64 (the API refuses those anyway) saturates as well */
	assert_int_equal(O->reset_counters(B, SA), VPN_OK);
	memset(&c, 0, sizeof(c));
	c.packets_in = 5;
	assert_int_equal(sim_traffic(B, SA, 0, &c, 2000, NULL), VPN_OK);
	c.packets_in = UINT64_MAX;
	c.bytes_out = UINT64_MAX;
	assert_int_equal(sim_traffic(B, SA, 0, &c, 2000, NULL), VPN_OK);
	v = view(SA, 2000);
	assert_int_equal(v.c[0].packets_in, (uint64_t)INT64_MAX);
	assert_int_equal(v.c[0].bytes_out, (uint64_t)INT64_MAX);
	/* a down tunnel: packets_in goes to dropped_packets_in, saturating too */
	define_ok(PEER, "{\"psk\": \"other\"}", 3000);
	c.packets_in = (uint64_t)INT64_MAX - 1;
	c.dropped_packets_in = 7;
	c.bytes_out = 0;
	assert_int_equal(sim_traffic(B, SA, 0, &c, 3000, NULL), VPN_OK);
	v = view(SA, 3000);
	assert_int_equal(v.c[0].dropped_packets_in, (uint64_t)INT64_MAX);
}

/* Secrets and ids are counted in characters and compared in full (bytes up to 4 x chars). */
static void
test_utf8_secrets(void **state)
{
	struct rz_session s;
	char psk[2 * 128 + 1], json[1100], id[4 * 255 + 1];
	size_t i;

	(void)state;
	for (i = 0; i < 128; i++)
		memcpy(psk + 2 * i, "\xc3\xa9", 2);	/* é */
	psk[256] = '\0';
	sess_init(&s, SA, PEER, true);
	assert_true(sizeof(s.psk) > 256);
	snprintf(s.psk, sizeof(s.psk), "%s", psk);
	snprintf(json, sizeof(json), "{\"psk\": \"%s\"}", psk);
	define_ok(PEER, json, 500);
	apply_release(&s, 1000);
	assert_state(SA, 1300, RZ_IKE_UP, "");
	/* the last character differs: 255 identical bytes first */
	memcpy(json + strlen(json) - 4, "\xc3\xa8", 2);	/* è */
	define_ok(PEER, json, 2000);
	assert_state(SA, 2300, RZ_IKE_DOWN, SIM_FR_AUTH);
	/* 129 characters: refused, naming the limit in characters */
	snprintf(json, sizeof(json), "{\"psk\": \"%s\xc3\xa9\"}", psk);
	check_invalid(json, "128 characters");
	/* 32 x 4-byte characters is a valid BGP password; 33 is not */
	strcpy(json, "{\"bgp\": {\"password\": \"");
	for (i = 0; i < 32; i++)
		strcat(json, "\xf0\x9f\x94\x91");
	strcat(json, "\"}}");
	define_ok(PEER, json, 3000);
	json[strlen(json) - 3] = '\0';
	strcat(json, "x\"}}");
	check_invalid(json, "32 characters");
	/* a 255-character local_id of 2-byte characters is compared in full */
	for (i = 0; i < 255; i++)
		memcpy(id + 2 * i, "\xc3\xa9", 2);
	id[510] = '\0';
	sess_init(&s, SB, PEER2, true);
	snprintf(s.peer_id, sizeof(s.peer_id), "%s", id);
	apply_release(&s, 4000);
	snprintf(json, sizeof(json), "{\"local_id\": \"%s\"}", id);
	define_ok(PEER2, json, 4000);
	assert_state(SB, 4300, RZ_IKE_UP, "");
	id[508] = 'x';
	id[509] = '\0';
	snprintf(json, sizeof(json), "{\"local_id\": \"%s\"}", id);
	define_ok(PEER2, json, 5000);
	assert_state(SB, 5300, RZ_IKE_DOWN, SIM_FR_AUTH);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_up_default, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_paths, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_disabled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_respond_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_on_demand, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_timeout_and_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_not_responding, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fail_no_proposal_and_auth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_aead_needs_no_digest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_id_differs_from_address, setup, teardown),
		cmocka_unit_test_setup_teardown(test_esp_proposals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_tunnel_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_policy_degraded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dpd_expiry_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dpd_short_outage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dpd_disabled_down_at_rekey, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rekeys_keep_counters, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_flapping_shorter_than_dpd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rekey_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_clock_jump_matches_steps, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_rekey_failure_exact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_rekey_fault_set_later, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_rekey_policy_degraded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_rekey_vs_ike_rekey, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_rekey_bgp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_child_rekey_clock_jump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counters_and_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_traffic_on_down_tunnel, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reapply, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reapply_other_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bgp_established, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bgp_password_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bgp_as_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bgp_hold_expiry, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bgp_survives_short_outage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bgp_idle_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bgp_session_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_routes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_routes_filtered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_define_validation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_get_and_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_cost_sessions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_cost_neighbor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_matches_eager, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bgp_dead_peer_dpd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bgp_dead_peer_no_dpd, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bgp_outage_shorter_than_hold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bgp_reconnect_tunnel_up, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bgp_flapping_jump_matches_steps, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_flapping_failing_clock_jump, setup, teardown),
		cmocka_unit_test_setup_teardown(test_counters_saturate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_utf8_secrets, setup, teardown),
	};

	return cmocka_run_group_tests_name("sim", tests, NULL, NULL);
}
