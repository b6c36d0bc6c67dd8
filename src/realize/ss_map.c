/*
 * ss_map.c - rz_session -> strongSwan proposals, names and VICI requests (see ss_map.h,
 * docs/ss_map.md). The algorithm mappings are the tables below; everything else is assembly.
 */
#include "realize/ss_map.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/netaddr.h"
#include "realize/vici.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* ---------------------------------------------------------------------------------------- */
/* mapping tables: NSX value (rz.h bit) -> strongSwan keyword, in NSX's enum order */

struct ss_alg {
	unsigned bit;
	const char *kw;
};

/* AEAD: no separate integrity algorithm (GMAC is ENCR_NULL_AUTH_AES_GMAC, AEAD to charon) */
static const struct ss_alg enc_aead[] = {
	{ RZ_ENC_AES_GCM_128, "aes128gcm16" },
	{ RZ_ENC_AES_GCM_192, "aes192gcm16" },
	{ RZ_ENC_AES_GCM_256, "aes256gcm16" },
	{ RZ_ENC_GMAC_128, "aes128gmac" },
	{ RZ_ENC_GMAC_192, "aes192gmac" },
	{ RZ_ENC_GMAC_256, "aes256gmac" },
};

/* classic: need an integrity algorithm */
static const struct ss_alg enc_classic[] = {
	{ RZ_ENC_AES_128, "aes128" },
	{ RZ_ENC_AES_256, "aes256" },
	{ RZ_ENC_NULL, "null" },
};

static const struct ss_alg integ_tab[] = {
	{ RZ_DIG_SHA1, "sha1" },
	{ RZ_DIG_SHA2_256, "sha256" },
	{ RZ_DIG_SHA2_384, "sha384" },
	{ RZ_DIG_SHA2_512, "sha512" },
};

static const struct ss_alg prf_tab[] = {
	{ RZ_DIG_SHA1, "prfsha1" },
	{ RZ_DIG_SHA2_256, "prfsha256" },
	{ RZ_DIG_SHA2_384, "prfsha384" },
	{ RZ_DIG_SHA2_512, "prfsha512" },
};

static const struct ss_alg dh_tab[] = {
	{ RZ_DH(2), "modp1024" },
	{ RZ_DH(5), "modp1536" },
	{ RZ_DH(14), "modp2048" },
	{ RZ_DH(15), "modp3072" },
	{ RZ_DH(16), "modp4096" },
	{ RZ_DH(19), "ecp256" },
	{ RZ_DH(20), "ecp384" },
	{ RZ_DH(21), "ecp521" },
};

/* Encryption usable for IKE SAs: GMAC and NULL give no confidentiality and are ignored. */
#define IKE_ENC (RZ_ENC_AES_128 | RZ_ENC_AES_256 | RZ_ENC_AES_GCM_128 | RZ_ENC_AES_GCM_192 | \
		 RZ_ENC_AES_GCM_256)

/* Fallbacks when a set is empty (never after schema validation): NSX's own defaults. */
#define DEF_IKE_ENC RZ_ENC_AES_128
#define DEF_ESP_ENC RZ_ENC_AES_GCM_128
#define DEF_DIGEST RZ_DIG_SHA2_256
#define DEF_IKE_DH RZ_DH(14)

/* ---------------------------------------------------------------------------------------- */
/* proposal strings */

#define SLOT_MAX 8		/* >= the largest table */
#define NSLOTS 3		/* encryption, integrity or PRF, DH */

struct slot {
	const char *kw[SLOT_MAX];
	size_t n;
};

/* snprintf-style output: counts everything, writes what fits, keeps @p NUL-terminated. */
struct out {
	char *p;
	size_t cap;
	size_t len;
	size_t nprop;
};

static void
out_put(struct out *o, const char *s)
{
	size_t n = strlen(s);

	if (o->cap && o->len < o->cap - 1) {
		size_t room = o->cap - 1 - o->len;

		memcpy(o->p + o->len, s, n < room ? n : room);
	}
	o->len += n;
	if (o->cap)
		o->p[o->len < o->cap ? o->len : o->cap - 1] = '\0';
}

static void
slot_fill(struct slot *sl, const struct ss_alg *t, size_t nt, unsigned mask)
{
	size_t i;

	sl->n = 0;
	for (i = 0; i < nt && sl->n < SLOT_MAX; i++)
		if (mask & t[i].bit)
			sl->kw[sl->n++] = t[i].kw;
}

/*
 * Append one proposal listing every keyword of every slot, or (@expand) one proposal per
 * combination of one keyword from each slot, in slot order. slots[0] is the encryption: empty,
 * nothing is appended; other empty slots are kinds the proposal does not have.
 */
static void
emit(struct out *o, const struct slot *slots, size_t nslots, bool expand)
{
	const struct slot *sl[NSLOTS];
	size_t idx[NSLOTS] = { 0 }, n = 0, i, j;
	bool more = true;

	if (!nslots || !slots[0].n)
		return;
	for (i = 0; i < nslots && n < NSLOTS; i++)
		if (slots[i].n)
			sl[n++] = &slots[i];
	if (!expand) {
		if (o->nprop++)
			out_put(o, ",");
		for (i = 0; i < n; i++)
			for (j = 0; j < sl[i]->n; j++) {
				if (i || j)
					out_put(o, "-");
				out_put(o, sl[i]->kw[j]);
			}
		return;
	}
	while (more) {
		if (o->nprop++)
			out_put(o, ",");
		for (i = 0; i < n; i++) {
			if (i)
				out_put(o, "-");
			out_put(o, sl[i]->kw[idx[i]]);
		}
		/* odometer: the last slot varies fastest; done when the first one wraps */
		more = false;
		for (i = n; i > 0 && !more; i--) {
			if (++idx[i - 1] < sl[i - 1]->n)
				more = true;
			else
				idx[i - 1] = 0;
		}
	}
}

static void
out_start(struct out *o, char *p, size_t cap)
{
	o->p = p;
	o->cap = p ? cap : 0;
	o->len = 0;
	o->nprop = 0;
	if (o->cap)
		o->p[0] = '\0';
}

/* IKEv1 keeps one algorithm of each kind per proposal; IKE_FLEX (version 0) may speak it. */
static bool
expand_for(const struct rz_session *s)
{
	return s->ike.version != RZ_IKE_V2;
}

/* The bits of @mask that @t maps, or @def when there are none. */
static unsigned
known(const struct ss_alg *t, size_t nt, unsigned mask, unsigned def)
{
	unsigned k = 0;
	size_t i;

	for (i = 0; i < nt; i++)
		k |= mask & t[i].bit;
	return k ? k : def;
}

size_t
ss_ike_proposals(const struct rz_session *s, char *out, size_t outlen)
{
	unsigned enc = s->ike.enc & IKE_ENC ? s->ike.enc & IKE_ENC : DEF_IKE_ENC;
	unsigned dig = known(integ_tab, N(integ_tab), s->ike.digest, DEF_DIGEST);
	unsigned dh = known(dh_tab, N(dh_tab), s->ike.dh, DEF_IKE_DH);
	struct slot sl[3];
	struct out o;

	out_start(&o, out, outlen);
	slot_fill(&sl[2], dh_tab, N(dh_tab), dh);
	/* AEAD: PRF from the digests (SHA-256 without one), no integrity */
	slot_fill(&sl[0], enc_aead, N(enc_aead), enc);
	slot_fill(&sl[1], prf_tab, N(prf_tab), dig);
	emit(&o, sl, 3, expand_for(s));
	/* classic: integrity = the digests (charon derives the PRF from it) */
	slot_fill(&sl[0], enc_classic, N(enc_classic), enc);
	slot_fill(&sl[1], integ_tab, N(integ_tab), dig);
	emit(&o, sl, 3, expand_for(s));
	return o.len;
}

size_t
ss_esp_proposals(const struct rz_session *s, char *out, size_t outlen)
{
	unsigned enc = known(enc_aead, N(enc_aead), s->esp.enc, 0) |
		       known(enc_classic, N(enc_classic), s->esp.enc, 0);
	unsigned dig = known(integ_tab, N(integ_tab), s->esp.digest, DEF_DIGEST);
	struct slot sl[3];
	struct out o;

	if (!enc)
		enc = DEF_ESP_ENC;
	out_start(&o, out, outlen);
	/* PFS: the tunnel profile's groups; without PFS no key exchange for CHILD_SAs */
	slot_fill(&sl[2], dh_tab, N(dh_tab), s->esp.pfs ? s->esp.dh : 0);
	/* AEAD (GCM, GMAC): no integrity */
	slot_fill(&sl[0], enc_aead, N(enc_aead), enc);
	sl[1].n = 0;
	emit(&o, sl, 3, expand_for(s));
	/* AES-CBC and NULL: integrity = the digests */
	slot_fill(&sl[0], enc_classic, N(enc_classic), enc);
	slot_fill(&sl[1], integ_tab, N(integ_tab), dig);
	emit(&o, sl, 3, expand_for(s));
	return o.len;
}

/* ---------------------------------------------------------------------------------------- */
/* names */

#define ID_MAX 16

static bool
name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

void
ss_conn_name(const char *session_path, char out[SS_NAME_MAX])
{
	uint64_t h = 0xcbf29ce484222325ull;	/* FNV-1a 64 */
	const char *p = session_path ? session_path : "", *id;
	size_t n, i;
	bool safe;

	for (i = 0; p[i]; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ull;
	}
	id = strrchr(p, '/');
	id = id ? id + 1 : p;
	n = strlen(id);
	safe = n > 0 && n <= ID_MAX;
	for (i = 0; safe && i < n; i++)
		safe = name_char(id[i]);
	/* 5 + 16 + 1 + 16 = 38 bytes at most: room for the child suffixes */
	if (safe)
		snprintf(out, SS_NAME_MAX, "vpnd-%016llx-%s", (unsigned long long)h, id);
	else
		snprintf(out, SS_NAME_MAX, "vpnd-%016llx", (unsigned long long)h);
}

void
ss_child_name(const char *conn, const struct rz_session *s, size_t index, char out[SS_NAME_MAX])
{
	/* %.38s: ss_conn_name's longest; 38 + "-p" + 20 digits fits SS_NAME_MAX */
	if (s->route_based)
		snprintf(out, SS_NAME_MAX, "%.38s-route", conn);
	else
		snprintf(out, SS_NAME_MAX, "%.38s-p%zu", conn, index);
}

/* ---------------------------------------------------------------------------------------- */
/* VICI requests */

#define TS_MAX 64

static void
prefix_text(const struct netprefix *p, char out[TS_MAX])
{
	char a[48];

	netaddr_format(&p->addr, a, sizeof(a));
	snprintf(out, TS_MAX, "%s/%u", a, (unsigned)p->len);
}

/*
 * The proposal string from @fn as a heap copy split at the commas: *list points into *buf.
 * false on allocation failure.
 */
static bool
proposal_list(size_t (*fn)(const struct rz_session *, char *, size_t),
	      const struct rz_session *s, char **buf, const char ***list, size_t *n)
{
	size_t len = fn(s, NULL, 0), i, k = 1;
	char *p;

	*buf = malloc(len + 1);
	if (!*buf)
		return false;
	fn(s, *buf, len + 1);
	for (i = 0; i < len; i++)
		k += (*buf)[i] == ',';
	*list = calloc(k, sizeof(**list));
	if (!*list)
		return false;
	*n = 0;
	for (p = *buf;;) {
		char *c = strchr(p, ',');

		(*list)[(*n)++] = p;
		if (!c)
			break;
		*c = '\0';
		p = c + 1;
	}
	return true;
}

static const char *
start_action(enum rz_initiation i)
{
	switch (i) {
	case RZ_INIT_RESPOND_ONLY:
		return "none";
	case RZ_INIT_ON_DEMAND:
		return "trap";
	case RZ_INIT_INITIATOR:
	default:
		return "start";
	}
}

static unsigned
ike_version(enum rz_ike_version v)
{
	return v == RZ_IKE_V1 ? 1 : v == RZ_IKE_FLEX ? 0 : 2;
}

struct vici_msg *
ss_load_conn_msg(const struct rz_session *s, const struct ss_options *opt)
{
	char name[SS_NAME_MAX], *ike_buf = NULL, *esp_buf = NULL;
	const char **ike = NULL, **esp = NULL, *laddr, *raddr, **lts = NULL, **rts = NULL;
	char (*names)[SS_NAME_MAX] = NULL, (*ts)[2][TS_MAX] = NULL;
	struct vici_child_cfg *ch = NULL;
	struct vici_conn_cfg cfg;
	struct vici_msg *m = NULL;
	size_t nike = 0, nesp = 0, i, nt = s->ntunnels;
	int64_t esp_life = s->esp.lifetime_s;

	ss_conn_name(s->path, name);
	if (!proposal_list(ss_ike_proposals, s, &ike_buf, &ike, &nike) ||
	    !proposal_list(ss_esp_proposals, s, &esp_buf, &esp, &nesp))
		goto out;
	if (nt) {
		ch = calloc(nt, sizeof(*ch));
		names = calloc(nt, sizeof(*names));
		ts = calloc(nt, sizeof(*ts));
		lts = calloc(nt, sizeof(*lts));
		rts = calloc(nt, sizeof(*rts));
		if (!ch || !names || !ts || !lts || !rts)
			goto out;
	}
	for (i = 0; i < nt; i++) {
		ss_child_name(name, s, i, names[i]);
		prefix_text(&s->tunnels[i].local, ts[i][0]);
		prefix_text(&s->tunnels[i].peer, ts[i][1]);
		lts[i] = ts[i][0];
		rts[i] = ts[i][1];
		ch[i] = (struct vici_child_cfg){
			.name = names[i],
			.local_ts = &lts[i], .nlocal_ts = 1,
			.remote_ts = &rts[i], .nremote_ts = 1,
			.esp_proposals = esp, .nesp_proposals = nesp,
			.mode = "tunnel",
			.start_action = start_action(s->initiation),
			/* a dead peer: the initiator re-establishes, everyone else clears (an
			 * on-demand session keeps its trap policy from start_action=trap) */
			.dpd_action = s->initiation == RZ_INIT_INITIATOR ? "restart" : "clear",
			.rekey_time_s = esp_life > 0 ? esp_life : 0,
			.life_time_s = esp_life > 0 ? esp_life + esp_life / 10 : 0,
		};
	}
	laddr = opt && opt->local_address && opt->local_address[0] ? opt->local_address :
									 s->local_address;
	raddr = s->peer_address;
	cfg = (struct vici_conn_cfg){
		.name = name,
		.version = ike_version(s->ike.version),
		.local_addrs = &laddr, .nlocal_addrs = laddr[0] ? 1 : 0,
		.remote_addrs = &raddr, .nremote_addrs = raddr[0] ? 1 : 0,
		.local_id = s->local_id[0] ? s->local_id : NULL,
		.remote_id = s->peer_id[0] ? s->peer_id : NULL,
		.proposals = ike, .nproposals = nike,
		.encap = opt && opt->userspace_esp,
		.mobike = false,
		.rekey_time_s = s->ike.lifetime_s > 0 ? s->ike.lifetime_s : 0,
		.children = ch, .nchildren = nt,
	};
	if (s->dpd.enabled && s->dpd.interval_s > 0) {
		cfg.dpd_delay_s = s->dpd.interval_s;
		if (s->dpd.retries > 0 && s->dpd.retries <= INT64_MAX / s->dpd.interval_s)
			cfg.dpd_timeout_s = s->dpd.interval_s * s->dpd.retries;
	}
	if (vici_build_load_conn(&cfg, &m, NULL))
		m = NULL;
out:
	free(ike_buf);
	free(ike);
	free(esp_buf);
	free(esp);
	free(ch);
	free(names);
	free(ts);
	free(lts);
	free(rts);
	return m;
}

struct vici_msg *
ss_load_shared_msg(const struct rz_session *s)
{
	char name[SS_NAME_MAX];
	const char *owners[2];
	size_t n = 0;
	struct vici_msg *m = NULL;

	if (!s->psk[0])
		return NULL;
	ss_conn_name(s->path, name);
	if (s->local_id[0])
		owners[n++] = s->local_id;
	if (s->peer_id[0])
		owners[n++] = s->peer_id;
	if (vici_build_load_shared("IKE", name, s->psk, strnlen(s->psk, sizeof(s->psk)), owners,
				   n, &m, NULL))
		return NULL;
	return m;
}
