/*
 * Unit tests for src/realize/ss_map.c: golden proposal strings (the seed's and NSX's default
 * profiles, every cipher / digest / group, PFS off, GMAC, NULL, multi-valued and mixed lists,
 * IKEv1 / IKE_FLEX expansion, defaults, snprintf-style truncation), names, and golden load-conn
 * / load-shared requests compared as vici_msg_print() renderings (route-based, policy-based with
 * 2x2 selectors, each initiation mode, DPD off, versions, options). The PSK must appear in the
 * load-shared message only, and never in any rendering or encoding of a load-conn.
 *
 * Second group: every generated request is loaded into a private charon started as in
 * test_vici_charon.c (own mount + network namespace, /run bind mount, STRONGSWAN_CONF, here
 * with kernel-libipsec first as in the realization recipe); charon must accept each one and
 * list-conns must show its children with their traffic selectors. Skips with the reason
 * without root, charon or namespaces.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "realize/ss_map.h"
#include "realize/vici.h"

#define PSK "Sup3r-Secret-psk-0123456789"
#define SESS "/infra/tier-0s/vmc/locale-services/default/ipsec-vpn-services/default/sessions/"

/* ---- fixtures ---- */

/* The seed's profiles (AES_GCM_128, GROUP21, IKE_V2, PFS) and the default DPD profile. */
static void
seed_session(struct rz_session *s, const char *id)
{
	memset(s, 0, sizeof(*s));
	snprintf(s->path, sizeof(s->path), SESS "%s", id);
	snprintf(s->display_name, sizeof(s->display_name), "%s", id);
	s->enabled = true;
	strcpy(s->local_address, "198.18.0.1");
	strcpy(s->local_id, "198.18.0.1");
	strcpy(s->peer_address, "198.18.0.2");
	strcpy(s->peer_id, "198.18.0.2");
	strcpy(s->psk, PSK);
	s->initiation = RZ_INIT_INITIATOR;
	s->ike.version = RZ_IKE_V2;
	s->ike.enc = RZ_ENC_AES_GCM_128;
	s->ike.dh = RZ_DH(21);
	s->ike.lifetime_s = 86400;
	s->esp.enc = RZ_ENC_AES_GCM_128;
	s->esp.dh = RZ_DH(21);
	s->esp.pfs = true;
	s->esp.lifetime_s = 3600;
	s->dpd.enabled = true;
	s->dpd.periodic = true;
	s->dpd.interval_s = 60;
	s->dpd.retries = 5;
}

static struct rz_selector route_sel[1];
static struct rz_selector policy_sel[4];

static void
set_sel(struct rz_selector *sel, const char *l, const char *p, const char *rule)
{
	memset(sel, 0, sizeof(*sel));
	assert_true(netprefix_parse(l, &sel->local));
	assert_true(netprefix_parse(p, &sel->peer));
	snprintf(sel->rule_path, sizeof(sel->rule_path), "%s", rule);
}

/* Route-based: one 0/0 child, VTI 169.254.10.1/30. */
static void
route_session(struct rz_session *s, const char *id)
{
	seed_session(s, id);
	s->route_based = true;
	s->has_vti = true;
	assert_true(netprefix_parse("169.254.10.1/30", &s->vti));
	set_sel(&route_sel[0], "0.0.0.0/0", "0.0.0.0/0", "");
	s->tunnels = route_sel;
	s->ntunnels = 1;
}

/* Policy-based: one rule, sources x destinations = 2 x 2 selectors (as rz derives them). */
static void
policy_session(struct rz_session *s, const char *id)
{
	static const char *const src[] = { "10.91.0.0/24", "10.91.1.0/24" };
	static const char *const dst[] = { "10.92.0.0/24", "192.168.5.0/25" };
	char rule[RZ_PATH_MAX];
	size_t a, b;

	seed_session(s, id);
	snprintf(rule, sizeof(rule), SESS "%.32s/rules/r1", id);
	for (a = 0; a < 2; a++)
		for (b = 0; b < 2; b++)
			set_sel(&policy_sel[a * 2 + b], src[a], dst[b], rule);
	s->tunnels = policy_sel;
	s->ntunnels = 4;
}

static const char *
ike(const struct rz_session *s)
{
	static char b[8192];
	size_t n = ss_ike_proposals(s, b, sizeof(b));

	assert_int_equal(n, strlen(b));
	return b;
}

static const char *
esp(const struct rz_session *s)
{
	static char b[8192];
	size_t n = ss_esp_proposals(s, b, sizeof(b));

	assert_int_equal(n, strlen(b));
	return b;
}

/* The redacted rendering of @m (caller frees). */
static char *
render(const struct vici_msg *m)
{
	struct buf b;
	char *p;

	assert_non_null(m);
	buf_init(&b, 1 << 20);
	assert_int_equal(vici_msg_print(m, &b), VPN_OK);
	p = buf_detach(&b, NULL);
	assert_non_null(p);
	return p;
}

/* The PSK is nowhere in @m's rendering or wire encoding. */
static void
assert_no_psk(const struct vici_msg *m)
{
	struct buf b;
	char *r = render(m);

	assert_null(strstr(r, PSK));
	assert_null(strstr(r, "Sup3r"));
	free(r);
	buf_init(&b, 1 << 20);
	assert_int_equal(vici_encode(m, &b), VPN_OK);
	assert_null(memmem(b.p, b.len, "Sup3r", 5));
	buf_release(&b);
}

static void
assert_conn(const struct rz_session *s, const struct ss_options *opt, const char *golden)
{
	struct vici_msg *m = ss_load_conn_msg(s, opt);
	char *r = render(m);

	if (strcmp(r, golden))
		fail_msg("load-conn rendering differs:\n got %s\nwant %s", r, golden);
	assert_no_psk(m);
	free(r);
	vici_msg_free(m);
}

/* ---- proposals ---- */

static void
test_seed_and_default_profiles(void **state)
{
	struct rz_session s;

	(void)state;
	seed_session(&s, "s1");
	assert_string_equal(ike(&s), "aes128gcm16-prfsha256-ecp521");
	assert_string_equal(esp(&s), "aes128gcm16-ecp521");

	/* nsx-default-l3vpn-ike-profile / -tunnel-profile */
	s.ike.enc = RZ_ENC_AES_128;
	s.ike.digest = RZ_DIG_SHA2_256;
	s.ike.dh = RZ_DH(14);
	s.esp.enc = RZ_ENC_AES_GCM_128;
	s.esp.digest = 0;
	s.esp.dh = RZ_DH(14);
	s.esp.pfs = true;
	assert_string_equal(ike(&s), "aes128-sha256-modp2048");
	assert_string_equal(esp(&s), "aes128gcm16-modp2048");

	/* the recipe's verified matrix (run-e2e.sh phase props) */
	s.ike.enc = s.esp.enc = RZ_ENC_AES_256;
	s.ike.digest = s.esp.digest = RZ_DIG_SHA2_256;
	s.ike.dh = s.esp.dh = RZ_DH(21);
	assert_string_equal(ike(&s), "aes256-sha256-ecp521");
	assert_string_equal(esp(&s), "aes256-sha256-ecp521");
	s.ike.enc = s.esp.enc = RZ_ENC_AES_GCM_256;
	s.ike.digest = RZ_DIG_SHA2_384;
	s.esp.digest = 0;
	s.ike.dh = s.esp.dh = RZ_DH(20);
	assert_string_equal(ike(&s), "aes256gcm16-prfsha384-ecp384");
	assert_string_equal(esp(&s), "aes256gcm16-ecp384");
}

static void
test_every_cipher(void **state)
{
	static const struct {
		unsigned bit;
		const char *ike, *esp;	/* digest SHA2_256, group 14, PFS on */
	} t[] = {
		{ RZ_ENC_AES_128, "aes128-sha256-modp2048", "aes128-sha256-modp2048" },
		{ RZ_ENC_AES_256, "aes256-sha256-modp2048", "aes256-sha256-modp2048" },
		{ RZ_ENC_AES_GCM_128, "aes128gcm16-prfsha256-modp2048", "aes128gcm16-modp2048" },
		{ RZ_ENC_AES_GCM_192, "aes192gcm16-prfsha256-modp2048", "aes192gcm16-modp2048" },
		{ RZ_ENC_AES_GCM_256, "aes256gcm16-prfsha256-modp2048", "aes256gcm16-modp2048" },
		/* GMAC and NULL give no confidentiality: not for IKE (the default AES_128) */
		{ RZ_ENC_GMAC_128, "aes128-sha256-modp2048", "aes128gmac-modp2048" },
		{ RZ_ENC_GMAC_192, "aes128-sha256-modp2048", "aes192gmac-modp2048" },
		{ RZ_ENC_GMAC_256, "aes128-sha256-modp2048", "aes256gmac-modp2048" },
		{ RZ_ENC_NULL, "aes128-sha256-modp2048", "null-sha256-modp2048" },
	};
	struct rz_session s;
	size_t i;

	(void)state;
	seed_session(&s, "s1");
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		s.ike.enc = s.esp.enc = t[i].bit;
		s.ike.digest = s.esp.digest = RZ_DIG_SHA2_256;
		s.ike.dh = s.esp.dh = RZ_DH(14);
		assert_string_equal(ike(&s), t[i].ike);
		assert_string_equal(esp(&s), t[i].esp);
	}
}

static void
test_every_digest(void **state)
{
	static const struct {
		unsigned bit;
		const char *integ, *prf;
	} t[] = {
		{ RZ_DIG_SHA1, "sha1", "prfsha1" },
		{ RZ_DIG_SHA2_256, "sha256", "prfsha256" },
		{ RZ_DIG_SHA2_384, "sha384", "prfsha384" },
		{ RZ_DIG_SHA2_512, "sha512", "prfsha512" },
	};
	struct rz_session s;
	char want[128];
	size_t i;

	(void)state;
	seed_session(&s, "s1");
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		s.ike.digest = s.esp.digest = t[i].bit;
		/* AEAD: the PRF from the digest; ESP has no integrity */
		s.ike.enc = s.esp.enc = RZ_ENC_AES_GCM_128;
		snprintf(want, sizeof(want), "aes128gcm16-%s-ecp521", t[i].prf);
		assert_string_equal(ike(&s), want);
		assert_string_equal(esp(&s), "aes128gcm16-ecp521");
		/* CBC: integrity = the digest */
		s.ike.enc = s.esp.enc = RZ_ENC_AES_256;
		snprintf(want, sizeof(want), "aes256-%s-ecp521", t[i].integ);
		assert_string_equal(ike(&s), want);
		assert_string_equal(esp(&s), want);
		/* NULL encryption keeps its integrity algorithm */
		s.esp.enc = RZ_ENC_NULL;
		snprintf(want, sizeof(want), "null-%s-ecp521", t[i].integ);
		assert_string_equal(esp(&s), want);
	}
}

static void
test_every_group(void **state)
{
	static const struct {
		unsigned g;
		const char *kw;
	} t[] = {
		{ 2, "modp1024" }, { 5, "modp1536" }, { 14, "modp2048" }, { 15, "modp3072" },
		{ 16, "modp4096" }, { 19, "ecp256" }, { 20, "ecp384" }, { 21, "ecp521" },
	};
	struct rz_session s;
	char want[128];
	size_t i;

	(void)state;
	seed_session(&s, "s1");
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		s.ike.dh = s.esp.dh = RZ_DH(t[i].g);
		snprintf(want, sizeof(want), "aes128gcm16-prfsha256-%s", t[i].kw);
		assert_string_equal(ike(&s), want);
		snprintf(want, sizeof(want), "aes128gcm16-%s", t[i].kw);
		assert_string_equal(esp(&s), want);
	}
}

static void
test_pfs_gmac_null(void **state)
{
	struct rz_session s;

	(void)state;
	seed_session(&s, "s1");
	s.esp.pfs = false;
	assert_string_equal(esp(&s), "aes128gcm16");
	s.esp.enc = RZ_ENC_AES_128 | RZ_ENC_AES_256;
	s.esp.digest = RZ_DIG_SHA1 | RZ_DIG_SHA2_512;
	assert_string_equal(esp(&s), "aes128-aes256-sha1-sha512");
	/* PFS with no group: nothing to append */
	s.esp.pfs = true;
	s.esp.dh = 0;
	assert_string_equal(esp(&s), "aes128-aes256-sha1-sha512");
	/* IKE groups never leak into ESP */
	s.ike.dh = RZ_DH(2) | RZ_DH(5);
	assert_string_equal(esp(&s), "aes128-aes256-sha1-sha512");

	/* GMAC (integrity only, AEAD to charon) */
	s.esp.enc = RZ_ENC_GMAC_128 | RZ_ENC_GMAC_256;
	s.esp.digest = 0;
	s.esp.dh = RZ_DH(19);
	assert_string_equal(esp(&s), "aes128gmac-aes256gmac-ecp256");
	s.esp.pfs = false;
	assert_string_equal(esp(&s), "aes128gmac-aes256gmac");

	/* NO_ENCRYPTION: null with an integrity algorithm (SHA-256 when none is given) */
	s.esp.enc = RZ_ENC_NULL;
	assert_string_equal(esp(&s), "null-sha256");
	s.esp.digest = RZ_DIG_SHA1;
	assert_string_equal(esp(&s), "null-sha1");
}

static void
test_multi_valued(void **state)
{
	struct rz_session s;

	(void)state;
	seed_session(&s, "s1");
	/* one proposal per family, all alternatives of a kind in each */
	s.ike.enc = RZ_ENC_AES_128 | RZ_ENC_AES_256;
	s.ike.digest = RZ_DIG_SHA1 | RZ_DIG_SHA2_256;
	s.ike.dh = RZ_DH(14) | RZ_DH(19) | RZ_DH(21);
	assert_string_equal(ike(&s), "aes128-aes256-sha1-sha256-modp2048-ecp256-ecp521");
	s.ike.enc = RZ_ENC_AES_GCM_128 | RZ_ENC_AES_GCM_192 | RZ_ENC_AES_GCM_256;
	assert_string_equal(ike(&s), "aes128gcm16-aes192gcm16-aes256gcm16-prfsha1-prfsha256-"
				     "modp2048-ecp256-ecp521");
	/* AEAD and classic never share a proposal: AEAD first */
	s.ike.enc = RZ_ENC_AES_256 | RZ_ENC_AES_GCM_128 | RZ_ENC_GMAC_128 | RZ_ENC_NULL;
	s.ike.digest = RZ_DIG_SHA2_256;
	s.ike.dh = RZ_DH(14);
	assert_string_equal(ike(&s), "aes128gcm16-prfsha256-modp2048,aes256-sha256-modp2048");

	s.esp.enc = RZ_ENC_AES_128 | RZ_ENC_AES_GCM_256 | RZ_ENC_GMAC_192 | RZ_ENC_NULL;
	s.esp.digest = RZ_DIG_SHA2_256 | RZ_DIG_SHA2_384;
	s.esp.dh = RZ_DH(14) | RZ_DH(20);
	assert_string_equal(esp(&s), "aes256gcm16-aes192gmac-modp2048-ecp384,"
				     "aes128-null-sha256-sha384-modp2048-ecp384");
	s.esp.pfs = false;
	assert_string_equal(esp(&s), "aes256gcm16-aes192gmac,aes128-null-sha256-sha384");
	/* every NSX value at once */
	s.ike.enc = s.esp.enc = ~0u;
	s.ike.digest = s.esp.digest = ~0u;
	s.ike.dh = s.esp.dh = ~0u;
	s.esp.pfs = true;
	assert_string_equal(ike(&s),
			    "aes128gcm16-aes192gcm16-aes256gcm16-prfsha1-prfsha256-prfsha384-"
			    "prfsha512-modp1024-modp1536-modp2048-modp3072-modp4096-ecp256-ecp384-"
			    "ecp521,aes128-aes256-sha1-sha256-sha384-sha512-modp1024-modp1536-"
			    "modp2048-modp3072-modp4096-ecp256-ecp384-ecp521");
	assert_string_equal(esp(&s),
			    "aes128gcm16-aes192gcm16-aes256gcm16-aes128gmac-aes192gmac-aes256gmac-"
			    "modp1024-modp1536-modp2048-modp3072-modp4096-ecp256-ecp384-ecp521,"
			    "aes128-aes256-null-sha1-sha256-sha384-sha512-modp1024-modp1536-"
			    "modp2048-modp3072-modp4096-ecp256-ecp384-ecp521");
}

static void
test_ikev1_flex_expand(void **state)
{
	struct rz_session s;

	(void)state;
	seed_session(&s, "s1");
	s.ike.version = RZ_IKE_V1;
	/* single values: the same strings as IKEv2 */
	assert_string_equal(ike(&s), "aes128gcm16-prfsha256-ecp521");
	assert_string_equal(esp(&s), "aes128gcm16-ecp521");
	/* IKEv1 strips all but the first algorithm of a kind: one proposal per combination */
	s.ike.enc = RZ_ENC_AES_128 | RZ_ENC_AES_256;
	s.ike.digest = RZ_DIG_SHA1 | RZ_DIG_SHA2_256;
	s.ike.dh = RZ_DH(14) | RZ_DH(21);
	assert_string_equal(ike(&s), "aes128-sha1-modp2048,aes128-sha1-ecp521,"
				     "aes128-sha256-modp2048,aes128-sha256-ecp521,"
				     "aes256-sha1-modp2048,aes256-sha1-ecp521,"
				     "aes256-sha256-modp2048,aes256-sha256-ecp521");
	s.esp.enc = RZ_ENC_AES_GCM_128 | RZ_ENC_AES_256;
	s.esp.digest = RZ_DIG_SHA2_256;
	s.esp.dh = RZ_DH(14) | RZ_DH(21);
	assert_string_equal(esp(&s), "aes128gcm16-modp2048,aes128gcm16-ecp521,"
				     "aes256-sha256-modp2048,aes256-sha256-ecp521");
	s.esp.pfs = false;
	assert_string_equal(esp(&s), "aes128gcm16,aes256-sha256");
	/* IKE_FLEX (version 0) may answer IKEv1: expanded too */
	s.ike.version = RZ_IKE_FLEX;
	s.ike.enc = RZ_ENC_AES_GCM_128 | RZ_ENC_AES_GCM_256;
	s.ike.digest = 0;
	s.ike.dh = RZ_DH(19);
	assert_string_equal(ike(&s), "aes128gcm16-prfsha256-ecp256,aes256gcm16-prfsha256-ecp256");
	assert_string_equal(esp(&s), "aes128gcm16,aes256-sha256");
}

static void
test_defaults_and_unknown_bits(void **state)
{
	struct rz_session s;

	(void)state;
	seed_session(&s, "s1");
	/* empty sets (refused by the schema) fall back to NSX's defaults, never to "" */
	s.ike.enc = s.ike.digest = s.ike.dh = 0;
	assert_string_equal(ike(&s), "aes128-sha256-modp2048");
	s.esp.enc = 0;
	s.esp.dh = 0;
	assert_string_equal(esp(&s), "aes128gcm16");
	/* groups strongSwan/NSX do not list here (1, 22, 31) are ignored */
	s.ike.dh = RZ_DH(1) | RZ_DH(22) | RZ_DH(31);
	assert_string_equal(ike(&s), "aes128-sha256-modp2048");
	s.ike.dh = RZ_DH(1) | RZ_DH(20);
	assert_string_equal(ike(&s), "aes128-sha256-ecp384");
	s.esp.dh = RZ_DH(31) | RZ_DH(16);
	s.esp.pfs = true;
	assert_string_equal(esp(&s), "aes128gcm16-modp4096");
	/* IKE with only GMAC / NULL: the default cipher */
	s.ike.enc = RZ_ENC_GMAC_128 | RZ_ENC_NULL;
	assert_string_equal(ike(&s), "aes128-sha256-ecp384");
}

static void
test_truncation(void **state)
{
	struct rz_session s;
	char small[12], one[1] = { 'x' };
	size_t full;

	(void)state;
	seed_session(&s, "s1");
	full = strlen("aes128gcm16-prfsha256-ecp521");
	assert_int_equal(ss_ike_proposals(&s, NULL, 0), full);
	memset(small, 'x', sizeof(small));
	assert_int_equal(ss_ike_proposals(&s, small, sizeof(small)), full);
	assert_string_equal(small, "aes128gcm16");
	assert_int_equal(ss_ike_proposals(&s, one, 1), full);
	assert_int_equal(one[0], '\0');
	assert_int_equal(ss_esp_proposals(&s, small, 6), strlen("aes128gcm16-ecp521"));
	assert_string_equal(small, "aes12");
	/* exactly fitting */
	assert_int_equal(ss_esp_proposals(&s, small, 12), 18);
	s.esp.pfs = false;
	assert_int_equal(ss_esp_proposals(&s, small, 12), 11);
	assert_string_equal(small, "aes128gcm16");
}

/* ---- names ---- */

static bool
charon_safe(const char *n)
{
	size_t i, len = strlen(n);

	if (!len || len >= SS_NAME_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_",
			    n[i]))
			return false;
	return true;
}

static void
test_names(void **state)
{
	static const char *const paths[] = {
		SESS "s1", SESS "VPNtoDFWDC1-sess", SESS "VPNtoDFWDC1-session",
		SESS "has space", SESS "dots.are.unsafe", SESS "ünïcode", "", "/", "no-slash",
		SESS "0123456789abcdef", SESS "0123456789abcdefg",
	};
	char a[SS_NAME_MAX], b[SS_NAME_MAX], c[SS_NAME_MAX];
	struct rz_session s;
	size_t i, j;

	(void)state;
	/* golden: the name is charon state's key, it must never change between versions */
	ss_conn_name(SESS "s1", a);
	assert_string_equal(a, "vpnd-8f87b79455fadc0c-s1");
	ss_conn_name(SESS "has space", a);
	assert_string_equal(a, "vpnd-753de77f9e18e292");
	ss_conn_name(SESS "0123456789abcdef", a);	/* 16: kept */
	assert_non_null(strstr(a, "-0123456789abcdef"));
	ss_conn_name(SESS "0123456789abcdefg", a);	/* 17: hash only */
	assert_int_equal(strlen(a), 21);
	ss_conn_name(NULL, a);
	assert_true(charon_safe(a));

	for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		ss_conn_name(paths[i], a);
		ss_conn_name(paths[i], b);
		assert_string_equal(a, b);		/* stable */
		assert_true(charon_safe(a));
		assert_int_equal(strncmp(a, "vpnd-", 5), 0);
		for (j = 0; j < i; j++) {		/* distinct */
			ss_conn_name(paths[j], c);
			assert_string_not_equal(a, c);
		}
	}

	ss_conn_name(SESS "s1", a);
	policy_session(&s, "s1");
	ss_child_name(a, &s, 0, b);
	assert_string_equal(b, "vpnd-8f87b79455fadc0c-s1-p0");
	ss_child_name(a, &s, 3, b);
	assert_string_equal(b, "vpnd-8f87b79455fadc0c-s1-p3");
	/* the longest conn name and index still fit */
	ss_conn_name(SESS "0123456789abcdef", a);
	ss_child_name(a, &s, (size_t)-1, b);
	assert_true(charon_safe(b));
	assert_non_null(strstr(b, "-p18446744073709551615"));
	route_session(&s, "s1");
	ss_child_name(a, &s, 0, b);
	assert_true(charon_safe(b));
	assert_non_null(strstr(b, "-0123456789abcdef-route"));
}

/* ---- load-conn / load-shared ---- */

#define R_HEAD(name, ver) \
	"{" name " {version=" ver " local_addrs=[198.18.0.1] remote_addrs=[198.18.0.2] "
#define R_AUTH "local {auth=psk id=198.18.0.1} remote {auth=psk id=198.18.0.2} "
#define R_CHILD(name, l, r, start, dpd) \
	name " {local_ts=[" l "] remote_ts=[" r "] esp_proposals=[aes128gcm16-ecp521] " \
	"mode=tunnel start_action=" start " dpd_action=" dpd " rekey_time=3600s life_time=3960s}"

static void
test_load_conn_route_based(void **state)
{
	const struct ss_options libipsec = { .userspace_esp = true };
	struct rz_session s;

	(void)state;
	route_session(&s, "rb1");
	assert_conn(&s, &libipsec,
		    R_HEAD("vpnd-d6026d0e14871fa3-rb1", "2")
		    "proposals=[aes128gcm16-prfsha256-ecp521] encap=yes mobike=no dpd_delay=60s "
		    "dpd_timeout=300s rekey_time=86400s " R_AUTH "children {"
		    R_CHILD("vpnd-d6026d0e14871fa3-rb1-route", "0.0.0.0/0", "0.0.0.0/0", "start",
			    "restart")
		    "}}}");
}

static void
test_load_conn_policy_based_modes(void **state)
{
	static const struct {
		enum rz_initiation mode;
		const char *start, *dpd;
	} modes[] = {
		{ RZ_INIT_INITIATOR, "start", "restart" },
		{ RZ_INIT_RESPOND_ONLY, "none", "clear" },
		{ RZ_INIT_ON_DEMAND, "trap", "clear" },
	};
	const struct ss_options libipsec = { .userspace_esp = true };
	char want[4096];
	struct rz_session s;
	size_t i;

	(void)state;
	policy_session(&s, "pb1");
	for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		const char *st = modes[i].start, *d = modes[i].dpd;

		s.initiation = modes[i].mode;
		snprintf(want, sizeof(want),
			 R_HEAD("vpnd-c4bd2f0e0ac2e551-pb1", "2")
			 "proposals=[aes128gcm16-prfsha256-ecp521] encap=yes mobike=no "
			 "dpd_delay=60s dpd_timeout=300s rekey_time=86400s " R_AUTH "children {"
			 R_CHILD("vpnd-c4bd2f0e0ac2e551-pb1-p0", "10.91.0.0/24", "10.92.0.0/24",
				 "%s", "%s") " "
			 R_CHILD("vpnd-c4bd2f0e0ac2e551-pb1-p1", "10.91.0.0/24",
				 "192.168.5.0/25", "%s", "%s") " "
			 R_CHILD("vpnd-c4bd2f0e0ac2e551-pb1-p2", "10.91.1.0/24", "10.92.0.0/24",
				 "%s", "%s") " "
			 R_CHILD("vpnd-c4bd2f0e0ac2e551-pb1-p3", "10.91.1.0/24",
				 "192.168.5.0/25", "%s", "%s")
			 "}}}", st, d, st, d, st, d, st, d);
		assert_conn(&s, &libipsec, want);
	}
}

static void
test_load_conn_variants(void **state)
{
	const struct ss_options ovr = { .local_address = "10.0.0.1", .userspace_esp = true };
	struct rz_session s;

	(void)state;
	/* kernel XFRM (opt NULL): no forced encapsulation; DPD off: no dpd_* keys; IKE_FLEX;
	 * NSX default profiles; no children (a policy-based session without rules) */
	seed_session(&s, "x");
	s.ike.version = RZ_IKE_FLEX;
	s.ike.enc = RZ_ENC_AES_128;
	s.ike.digest = RZ_DIG_SHA2_256;
	s.ike.dh = RZ_DH(14);
	s.dpd.enabled = false;
	assert_conn(&s, NULL,
		    R_HEAD("vpnd-f76c32dff922be74-x", "0")
		    "proposals=[aes128-sha256-modp2048] encap=no mobike=no rekey_time=86400s "
		    R_AUTH "children {}}}");
	/* IKEv1, several IKE proposals as list items, local address override, no peer id:
	 * remote id omitted (charon then accepts any identity of that address) */
	s.ike.version = RZ_IKE_V1;
	s.ike.enc = RZ_ENC_AES_128 | RZ_ENC_AES_GCM_128;
	s.ike.dh = RZ_DH(14);
	s.dpd.enabled = true;
	s.dpd.interval_s = 3;
	s.dpd.retries = 0;
	s.peer_id[0] = '\0';
	s.ike.lifetime_s = 0;
	assert_conn(&s, &ovr,
		    "{vpnd-f76c32dff922be74-x {version=1 local_addrs=[10.0.0.1] "
		    "remote_addrs=[198.18.0.2] proposals=[aes128gcm16-prfsha256-modp2048 "
		    "aes128-sha256-modp2048] encap=yes mobike=no dpd_delay=3s "
		    "local {auth=psk id=198.18.0.1} remote {auth=psk} children {}}}");
	/* an empty override means "no override" */
	s.ike.version = RZ_IKE_V2;
	s.ike.enc = RZ_ENC_AES_GCM_128;
	s.local_address[0] = '\0';
	s.peer_address[0] = '\0';
	assert_conn(&s, &(struct ss_options){ .local_address = "" },
		    "{vpnd-f76c32dff922be74-x {version=2 proposals=[aes128gcm16-prfsha256-modp2048] "
		    "encap=no mobike=no dpd_delay=3s local {auth=psk id=198.18.0.1} "
		    "remote {auth=psk} children {}}}");
}

static void
test_load_shared(void **state)
{
	struct rz_session s;
	struct vici_msg *m;
	const struct vici_node *n;
	char *r;
	size_t len;

	(void)state;
	policy_session(&s, "pb1");
	m = ss_load_shared_msg(&s);
	assert_non_null(m);
	/* the secret is in the message, verbatim, under "data" ... */
	assert_string_equal(vici_get(m, "data"), PSK);
	n = vici_find(m, "data");
	assert_non_null(vici_node_value(n, &len));
	assert_int_equal(len, strlen(PSK));
	/* ... and never in its rendering */
	r = render(m);
	assert_string_equal(r, "{id=vpnd-c4bd2f0e0ac2e551-pb1 type=IKE data=<redacted> "
			       "owners=[198.18.0.1 198.18.0.2]}");
	free(r);
	vici_msg_free(m);

	s.peer_id[0] = '\0';
	m = ss_load_shared_msg(&s);
	r = render(m);
	assert_string_equal(r, "{id=vpnd-c4bd2f0e0ac2e551-pb1 type=IKE data=<redacted> "
			       "owners=[198.18.0.1]}");
	free(r);
	vici_msg_free(m);

	s.psk[0] = '\0';
	assert_null(ss_load_shared_msg(&s));
}

static void
test_load_conn_limits(void **state)
{
	struct rz_session s;
	struct vici_msg *m;

	(void)state;
	/* the longest identity (255 characters of 4-byte UTF-8) is sent whole */
	seed_session(&s, "s1");
	s.tunnels = NULL;
	s.ntunnels = 0;
	memset(s.local_id, 'a', sizeof(s.local_id) - 1);
	m = ss_load_conn_msg(&s, NULL);
	assert_non_null(m);
	assert_int_equal(strlen(vici_get(m, "vpnd-8f87b79455fadc0c-s1.local.id")),
			 sizeof(s.local_id) - 1);
	vici_msg_free(m);
	/* every NSX value at once, IKEv1: 160 IKE proposals, all sent */
	s.ike.version = RZ_IKE_V1;
	s.ike.enc = s.esp.enc = ~0u;
	s.ike.digest = s.esp.digest = ~0u;
	s.ike.dh = s.esp.dh = ~0u;
	m = ss_load_conn_msg(&s, NULL);
	assert_non_null(m);
	{
		const struct vici_node *p = vici_node_first(vici_find(m, "vpnd-8f87b79455fadc0c-s1."
								   "proposals"));
		size_t k = 0;

		for (; p; p = vici_node_next(p))
			k++;
		assert_int_equal(k, 3 * 8 * 4 + 2 * 8 * 4);	/* GCM x PRF x DH + CBC x integ x DH */
	}
	vici_msg_free(m);
}

/* ================================================================ a private charon */

#define CHARON_HARNESS_DIR "/tmp/vpnd-ssmap-XXXXXX"
#include "charon_harness.h"

/* The recipe's plugin list (kernel-libipsec first: userspace ESP, traps in charon). */
static int
write_conf(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fprintf(f,
		"charon {\n"
		"\tload_modular = no\n"
		"\tload = random nonce openssl aes sha1 sha2 hmac gcm kdf pem pkcs1 x509 pubkey "
		"kernel-libipsec kernel-netlink socket-default vici\n"
		"\tport = 0\n"
		"\tport_nat_t = 0\n"
		"\tinstall_routes = no\n"
		"\tinstall_virtual_ip = no\n"
		"\trouting_table = 220\n"
		"\trouting_table_prio = 32768\n"
		"\tretransmit_tries = 1\n"
		"\tretransmit_timeout = 0.2\n"
		"\tfilelog {\n\t\ttest {\n\t\t\tpath = %s/charon.log\n\t\t\tdefault = 1\n"
		"\t\t\tflush_line = yes\n\t\t}\n\t}\n"
		"\tsyslog {\n\t}\n"
		"\tplugins {\n\t\tvici {\n\t\t\tsocket = unix://%s\n\t\t}\n\t}\n"
		"}\n",
		G.dir, G.sock);
	return fclose(f);
}

static void
send_ok(struct vici_conn *c, const char *cmd, struct vici_msg *req, const char *what)
{
	struct vici_msg *resp = NULL;
	struct vpn_error e;

	assert_non_null(req);
	vpn_error_clear(&e);
	if (vici_request(c, cmd, req, &resp, TMO, &e) || vici_check_success(resp, cmd, &e))
		fail_msg("%s (%s): %s", cmd, what, e.msg);
	vici_msg_free(req);
	vici_msg_free(resp);
}

struct listed {
	const struct rz_session *s;
	char conn[SS_NAME_MAX];
	bool found;
	size_t nchildren;	/* children with the expected name, TS, mode, timers and action */
	char version[16];
	char rekey_time[24], dpd_delay[24], dpd_timeout[24];
};

static bool
first_item_is(const struct vici_node *list, const char *want)
{
	const struct vici_node *n = vici_node_first(list);

	return n && !strcmp(vici_node_value(n, NULL), want);
}

static void
copy_value(const struct vici_node *sec, const char *key, char *out, size_t outlen)
{
	const char *v = vici_node_value(vici_node_child(sec, key), NULL);

	snprintf(out, outlen, "%s", v ? v : "");
}

static void
ts_text(const struct netprefix *p, char out[64])
{
	char a[48];

	netaddr_format(&p->addr, a, sizeof(a));
	snprintf(out, 64, "%s/%u", a, (unsigned)p->len);
}

/* charon 5.9 lists dpd_action restart / clear by its action_t names: "start" / "none" */
static const char *
listed_dpd_action(const struct rz_session *s)
{
	return s->initiation == RZ_INIT_INITIATOR ? "start" : "none";
}

static enum vpn_err
on_conn(void *arg, const char *event, const struct vici_msg *msg)
{
	struct listed *l = arg;
	const struct vici_node *ike = vici_node_child(vici_root(msg), l->conn), *children;
	size_t i;

	assert_string_equal(event, "list-conn");
	if (!ike)
		return VPN_OK;
	l->found = true;
	copy_value(ike, "version", l->version, sizeof(l->version));
	copy_value(ike, "rekey_time", l->rekey_time, sizeof(l->rekey_time));
	copy_value(ike, "dpd_delay", l->dpd_delay, sizeof(l->dpd_delay));
	copy_value(ike, "dpd_timeout", l->dpd_timeout, sizeof(l->dpd_timeout));
	children = vici_node_child(ike, "children");
	for (i = 0; i < l->s->ntunnels; i++) {
		char child[SS_NAME_MAX], want_l[64], want_r[64], rekey[24];
		const struct vici_node *ch;
		const char *v;

		ss_child_name(l->conn, l->s, i, child);
		ch = vici_node_child(children, child);
		if (!ch)
			continue;
		ts_text(&l->s->tunnels[i].local, want_l);
		ts_text(&l->s->tunnels[i].peer, want_r);
		snprintf(rekey, sizeof(rekey), "%lld", (long long)l->s->esp.lifetime_s);
		v = vici_node_value(vici_node_child(ch, "mode"), NULL);
		if (!v || strcmp(v, "TUNNEL"))
			continue;
		v = vici_node_value(vici_node_child(ch, "rekey_time"), NULL);
		if (!v || strcmp(v, rekey))
			continue;
		v = vici_node_value(vici_node_child(ch, "dpd_action"), NULL);
		if (!v || strcmp(v, listed_dpd_action(l->s)))
			continue;
		if (!first_item_is(vici_node_child(ch, "local-ts"), want_l) ||
		    !first_item_is(vici_node_child(ch, "remote-ts"), want_r))
			continue;
		l->nchildren++;
	}
	return VPN_OK;
}

/* list-policies (trap=yes): count the trap policies of @child. */
struct pols {
	const char *child;
	int n;
};

static enum vpn_err
on_pol(void *arg, const char *event, const struct vici_msg *msg)
{
	struct pols *p = arg;
	const struct vici_node *n;

	assert_string_equal(event, "list-policy");
	for (n = vici_node_first(vici_root(msg)); n; n = vici_node_next(n)) {
		const char *v = vici_node_value(vici_node_child(n, "child"), NULL);

		if (vici_node_type(n) == VICI_NODE_SECTION && v && !strcmp(v, p->child))
			p->n++;
	}
	return VPN_OK;
}

static int
trap_policies(struct vici_conn *c, const char *child)
{
	struct vici_msg *req = vici_msg_new();
	struct pols p = { .child = child };
	struct vpn_error e;

	assert_non_null(req);
	vici_add_kvs(req, "trap", "yes");
	vpn_error_clear(&e);
	if (vici_request_stream(c, "list-policies", "list-policy", req, on_pol, &p, NULL, TMO, &e))
		fail_msg("list-policies: %s", e.msg);
	vici_msg_free(req);
	return p.n;
}

/* Load @s's conn and PSK into charon, check list-conns (and traps), unload both. */
static void
load_check_unload(struct vici_conn *c, const struct rz_session *s, const char *what)
{
	const struct ss_options opt = { .local_address = "127.0.0.1", .userspace_esp = true };
	struct listed l = { .s = s };
	char want[24], child[SS_NAME_MAX];
	struct vpn_error e;

	ss_conn_name(s->path, l.conn);
	send_ok(c, "load-shared", ss_load_shared_msg(s), what);
	send_ok(c, "load-conn", ss_load_conn_msg(s, &opt), what);
	vpn_error_clear(&e);
	assert_int_equal(vici_list_conns(c, l.conn, on_conn, &l, TMO, &e), VPN_OK);
	if (!l.found || l.nchildren != s->ntunnels)
		fail_msg("%s: list-conns shows conn=%d with %zu of %zu matching children", what,
			 l.found, l.nchildren, s->ntunnels);
	assert_string_equal(l.version, s->ike.version == RZ_IKE_V1 ? "IKEv1" :
				       s->ike.version == RZ_IKE_V2 ? "IKEv2" : "IKEv1/2");
	snprintf(want, sizeof(want), "%lld", (long long)s->ike.lifetime_s);
	assert_string_equal(l.rekey_time, want);
	/* DPD off: charon omits the keys */
	want[0] = '\0';
	if (s->dpd.enabled)
		snprintf(want, sizeof(want), "%lld", (long long)s->dpd.interval_s);
	assert_string_equal(l.dpd_delay, want);
	if (s->dpd.enabled)
		snprintf(want, sizeof(want), "%lld", (long long)(s->dpd.interval_s * s->dpd.retries));
	assert_string_equal(l.dpd_timeout, want);
	/* ON_DEMAND: start_action=trap installed a trap policy (route-based only here: a
	 * policy-based trap needs a route into ipsec0 with a source address from the local
	 * subnet, which this empty namespace does not have - charon logs "installing trap
	 * failed" and still accepts the config) */
	if (s->route_based) {
		ss_child_name(l.conn, s, 0, child);
		assert_int_equal(trap_policies(c, child) > 0, s->initiation == RZ_INIT_ON_DEMAND);
	}
	/* start_action=start initiates at once; terminate whatever came of it */
	vici_terminate(c, NULL, l.conn, -1, TMO, NULL);
	assert_int_equal(vici_unload_conn(c, l.conn, TMO, &e), VPN_OK);
	assert_int_equal(vici_unload_shared(c, l.conn, TMO, &e), VPN_OK);
	if (s->route_based)
		assert_int_equal(trap_policies(c, child), 0);
}

static void
test_charon_accepts(void **state)
{
	static const enum rz_initiation modes[] = { RZ_INIT_INITIATOR, RZ_INIT_RESPOND_ONLY,
						    RZ_INIT_ON_DEMAND };
	struct vici_conn *c = conn_or_skip();
	struct rz_session s;
	char what[64];
	size_t i;

	(void)state;
	for (i = 0; i < 3; i++) {
		route_session(&s, "rb1");
		s.initiation = modes[i];
		snprintf(what, sizeof(what), "route-based, mode %zu", i);
		load_check_unload(c, &s, what);
		policy_session(&s, "pb1");
		s.initiation = modes[i];
		snprintf(what, sizeof(what), "policy-based 2x2, mode %zu", i);
		load_check_unload(c, &s, what);
	}
	/* NSX defaults, every value at once, IKEv1 expansion, IKE_FLEX, GMAC, NULL, no PFS */
	policy_session(&s, "all");
	s.initiation = RZ_INIT_RESPOND_ONLY;
	s.ike.enc = s.esp.enc = ~0u;
	s.ike.digest = s.esp.digest = ~0u;
	s.ike.dh = s.esp.dh = ~0u;
	load_check_unload(c, &s, "every algorithm, IKEv2");
	s.ike.version = RZ_IKE_V1;
	load_check_unload(c, &s, "every algorithm, IKEv1 (expanded)");
	s.ike.version = RZ_IKE_FLEX;
	s.esp.pfs = false;
	s.dpd.enabled = false;
	load_check_unload(c, &s, "every algorithm, IKE_FLEX, no PFS, no DPD");
	vici_close(c);
}

/*
 * charon 5.9's list-conns does not show proposals; they are parsed at load-conn time, keyword
 * by keyword, and a config with an unknown one is discarded. So the acceptance above means
 * every generated keyword is known to this charon - as this refusal shows.
 */
static void
test_charon_refuses_bad_proposal(void **state)
{
	struct vici_conn *c = conn_or_skip();
	static const char *const bad[] = { "aes128gcm16-sha999-ecp521" };
	static const char *const l[] = { "127.0.0.1" };
	struct vici_conn_cfg cfg = { .name = "vpnd-bad", .version = 2, .local_addrs = l,
				     .nlocal_addrs = 1, .proposals = bad, .nproposals = 1 };
	struct vpn_error e;

	(void)state;
	vpn_error_clear(&e);
	assert_int_equal(vici_load_conn(c, &cfg, TMO, &e), VPN_E_INVALID);
	assert_non_null(strstr(e.msg, "proposals"));
	vici_close(c);
}

int
main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_seed_and_default_profiles),
		cmocka_unit_test(test_every_cipher),
		cmocka_unit_test(test_every_digest),
		cmocka_unit_test(test_every_group),
		cmocka_unit_test(test_pfs_gmac_null),
		cmocka_unit_test(test_multi_valued),
		cmocka_unit_test(test_ikev1_flex_expand),
		cmocka_unit_test(test_defaults_and_unknown_bits),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_load_conn_route_based),
		cmocka_unit_test(test_load_conn_policy_based_modes),
		cmocka_unit_test(test_load_conn_variants),
		cmocka_unit_test(test_load_shared),
		cmocka_unit_test(test_load_conn_limits),
	};
	const struct CMUnitTest live[] = {
		cmocka_unit_test(test_charon_accepts),
		cmocka_unit_test(test_charon_refuses_bad_proposal),
	};
	int rc;

	rc = cmocka_run_group_tests_name("ss_map", pure, NULL, NULL);
	alarm(30);	/* bound: charon still dies with us (PR_SET_PDEATHSIG) */
	rc |= cmocka_run_group_tests_name("ss_map against a private charon", live, charon_start,
					  charon_stop);
	return rc ? 1 : 0;
}
