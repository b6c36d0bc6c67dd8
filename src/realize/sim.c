/*
 * sim.c - the `sim` realization backend: the SDDC edge and every remote peer, in software
 * (contract: sim.h; model and choices: docs/sim.md).
 *
 * A small discrete-event simulation at virtual time. Every session and every BGP neighbor keeps
 * the time it has been processed up to (t) and the time of its next timer (ev). The objects
 * with a next event sit in a min-heap keyed by it, so tick(now) advances only the k objects due
 * (O(k log n)) and the others stay behind, unchanged until their event; an API call catches up
 * the objects it touches before it changes them (docs/sim.md, Cost). Advancing a session walks
 * its timers in order; before a session event at time x the session's
 * neighbors are brought up to x, and a change of the session's "link" (IKE UP with a tunnel up)
 * is handed to them at x, so BGP sees the tunnel's history exactly even across a large jump of
 * the clock. Nothing depends on the order in which sessions are walked: sessions only interact
 * through their neighbors, and a neighbor is bound to one session.
 *
 * Retries whose verdict stays a failure (config unchanged: only API calls change config, and
 * each first ticks to its `now`) are skipped arithmetically, up to the first verdict that falls
 * while a flapping peer is reachable (found directly), so advancing the clock by years costs a
 * few operations per failing session, not one per retry. A BGP neighbor over a flapping peer
 * skips whole flap cycles once its state repeats from one cycle to the next. Child SA
 * (tunnel) rekeys that succeed are never events: a tunnel has an event only for a rekey that the
 * peer's rekey_failure fault makes fail (computed directly from its up time) and for the retry
 * after it.
 *
 * Maps: sessions by path, peers by peer_address, neighbors by path, and route-based sessions by
 * their VTI network ("a.b.c.d/n"), so a neighbor finds its session with one lookup per prefix
 * length (33 for IPv4) instead of a scan. A peer node exists while a definition or a session
 * refers to its address; it lists its sessions, and a session lists its bound neighbors.
 */
#include "realize/sim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hmap.h"
#include "core/netaddr.h"
#include "core/util.h"
#include "realize/prefix.h"

#define NEVER INT64_MAX
#define QNONE SIZE_MAX

/* ---- the model ---- */

/* One algorithm set of a peer definition (IKE or ESP); has_* marks overrides of the mirror. */
struct sim_props {
	bool has_enc, has_digest, has_dh;
	unsigned enc, digest, dh;
};

struct sim_announce {
	struct netprefix net;		/* masked to its length */
	char as_path[128];		/* "" = the peer's AS */
	int64_t med;
};

/* A peer definition from the emulator API. Members without has_* always override. */
struct sim_def {
	bool has_psk, has_local_id, has_version, has_pfs, has_initiates, has_subnets, has_as,
		has_password;
	char psk[sizeof(((struct rz_session *)0)->psk)];		/* as large as the session's */
	char local_id[sizeof(((struct rz_session *)0)->peer_id)];	/* compared with peer_id */
	enum rz_ike_version version;
	struct sim_props ike, esp;
	bool pfs;
	bool reachable;			/* default true */
	bool initiates;
	bool responds;			/* default true */
	size_t nlocal, nremote;
	struct netprefix *local, *remote;	/* the peer's own view: local = behind the peer */
	uint32_t as;
	char password[sizeof(((struct rz_neighbor *)0)->password)];
	size_t nannounce;
	struct sim_announce *announce;
	int64_t flap_ms;		/* 0 = off */
	bool rekey_failure;
};

struct sim_sess;
struct sim_nb;

struct sim_peer {
	char addr[64];			/* map key */
	struct sim_def *def;		/* NULL: mirror every session */
	int64_t reach_t0;		/* start of the current reachability pattern */
	size_t nsess, capsess;
	struct sim_sess **sess;
};

struct sim_tun {
	bool up;
	const char *down;		/* a SIM_FR_* or "" */
	int64_t est;			/* up: the child SA's establishment (rekeys at est + k*L) */
	int64_t ev;			/* up: its failing rekey; down: its retry; else NEVER */
	struct rz_counters c;
};

/* A selector as the sim keeps it: rule_path points into the session's string block. */
struct sim_sel {
	struct netprefix local, peer;
	const char *rule_path;
};

/*
 * A session's configuration: the members of struct rz_session the sim reads, its strings in one
 * block sized to fit (struct rz_session sizes each for 4-byte characters, ~5 KB a session, which
 * made 100k sessions cost 500 MB here). The path, the map key, lives apart for the session's life.
 */
struct sim_scfg {
	const char *display_name, *local_address, *local_id, *peer_address, *peer_id, *psk,
		*tunnel_interface_path;
	char *strs;			/* owns the strings above and the rule paths */
	size_t nstrs;			/* its size: zeroed before it is freed (the PSK) */
	bool route_based, enabled;
	enum rz_initiation initiation;
	__typeof__(((struct rz_session *)0)->ike) ike;
	__typeof__(((struct rz_session *)0)->esp) esp;
	__typeof__(((struct rz_session *)0)->dpd) dpd;
	bool has_vti;
	struct netprefix vti;
	size_t ntunnels;
	struct sim_sel *tunnels;
};

struct sim_sess {
	char *path;			/* the map key */
	struct sim_scfg cfg;
	struct sim_peer *peer;
	struct sim_tun *tun;		/* cfg.ntunnels */
	enum rz_ike_state ike;
	const char *fail;		/* a SIM_FR_* or "" */
	int64_t t;			/* processed up to */
	int64_t ev;			/* NEGOTIATING: verdict; DOWN: retry; NEVER */
	int64_t up_since, rekey_at;	/* UP only */
	int64_t tun_ev;			/* UP only: the earliest tun[].ev */
	bool traffic;			/* ON_DEMAND: outbound traffic seen */
	size_t qi;			/* index in the event queue, or QNONE */
	size_t pi;			/* index in peer->sess */
	bool in_vti;			/* vti_key is in the VTI map (pointing at us) */
	char vti_key[64];		/* masked VTI network */
	char vti_addr[64];		/* the SDDC's VTI address */
	size_t nnb, capnb;
	struct sim_nb **nb;		/* bound BGP neighbors */
};

struct sim_nb {
	struct rz_neighbor cfg;		/* copy; cfg.advertise points at adv; cfg.path is the key */
	struct netprefix *adv;
	struct sim_sess *sess;		/* the route-based session whose VTI contains the address */
	bool link;			/* the session's tunnel is up (as last told) */
	enum rz_bgp_state st;
	int64_t t;			/* processed up to */
	int64_t ev;			/* CONNECT: OPEN verdict; ACTIVE: next retry; NEVER */
	int64_t est_at;			/* ESTABLISHED since */
	/*
	 * ESTABLISHED: the start of the current silence (nothing heard from the peer), NEVER when
	 * none is pending. With the link down it is the silence's start (the link went down then,
	 * or the peer was already unreachable). With the link up it is a silence carried over from
	 * a link-down period into an outage of the peer, valid until quiet_end (that outage's end);
	 * otherwise the silences with the link up are the peer's outages, computed, never stored.
	 */
	int64_t quiet, quiet_end;
	uint64_t sent_base, recv_base;	/* messages of past establishments */
	uint64_t drops, ests;
	size_t qi;			/* index in the event queue, or QNONE */
};

/* An entry of the event queue: exactly one of s, n. */
struct sim_qent {
	int64_t at;			/* the object's next event (sess_next / nb_next) */
	struct sim_sess *s;
	struct sim_nb *n;
};

struct sim {
	struct rz_backend base;		/* first member */
	struct hmap sessions;		/* path -> struct sim_sess */
	struct hmap peers;		/* peer_address -> struct sim_peer */
	struct hmap neighbors;		/* path -> struct sim_nb */
	struct hmap vti;		/* masked VTI network -> struct sim_sess */
	struct hmap unbound;		/* path -> struct sim_nb without a session */
	int64_t now;
	/* every session and neighbor with a next event, as a binary min-heap on `at` */
	struct sim_qent *q;
	size_t nq, capq;
	uint64_t work;			/* objects advanced in time (sim_work) */
	bool eager;			/* tick advances everything (tests: the reference) */
};

static const struct rz_backend_ops sim_ops;

static struct sim *
sim_of(struct rz_backend *b)
{
	return b && b->ops == &sim_ops ? (struct sim *)b : NULL;
}

/* ---- small helpers ---- */

/* t + s seconds, saturating at NEVER; s <= 0 gives t. */
static int64_t
after_s(int64_t t, int64_t s)
{
	if (s <= 0)
		return t;
	if (s > (NEVER - (t > 0 ? t : 0)) / 1000)
		return NEVER;
	return t + s * 1000;
}

static void
prefix_mask(struct netprefix *p)
{
	unsigned bits = netaddr_bits(&p->addr), i;

	for (i = p->len; i < bits && i < 128; i++)
		p->addr.bytes[i / 8] &= (uint8_t)~(0x80u >> (i % 8));
}

static void
prefix_format(const struct netprefix *p, char *out, size_t n)
{
	char a[48];		/* INET6_ADDRSTRLEN */

	netaddr_format(&p->addr, a, sizeof(a));
	snprintf(out, n, "%s/%u", a, (unsigned)p->len);
}

static bool
prefix_eq(const struct netprefix *a, const struct netprefix *b)
{
	return a->len == b->len && netaddr_cmp(&a->addr, &b->addr) == 0;
}

/* @inner lies entirely inside @outer. */
static bool
prefix_within(const struct netprefix *outer, const struct netprefix *inner)
{
	return outer->addr.family == inner->addr.family && outer->len <= inner->len &&
	       netprefix_contains(outer, &inner->addr);
}

static bool
prefix_in_list(const struct netprefix *p, const struct netprefix *list, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (prefix_within(&list[i], p))
			return true;
	return false;
}

/* AS number, asplain or asdot ("1.10"). */
/* Calls @fn on each space-separated token of @path; stops early when it returns true. */
static bool
aspath_any(const char *path, bool (*fn)(const char *tok, void *arg), void *arg)
{
	const char *p = path;

	while (*p) {
		const char *q;
		char tok[16];

		while (*p == ' ')
			p++;
		q = p;
		while (*q && *q != ' ')
			q++;
		if (q == p)
			break;
		if ((size_t)(q - p) >= sizeof(tok)) {
			tok[0] = '\0';		/* too long: never an AS number */
		} else {
			memcpy(tok, p, (size_t)(q - p));
			tok[q - p] = '\0';
		}
		if (fn(tok, arg))
			return true;
		p = q;
	}
	return false;
}

static bool
tok_is_as(const char *tok, void *arg)
{
	uint32_t as;

	return util_parse_asn(tok, &as) && as == *(const uint32_t *)arg;
}

static bool
tok_bad(const char *tok, void *arg)
{
	uint32_t as;

	(void)arg;
	return !util_parse_asn(tok, &as);
}

static bool
ptr_push(void ***v, size_t *n, size_t *cap, void *p)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		void **nv = realloc(*v, nc * sizeof(*nv));

		if (!nv)
			return false;
		*v = nv;
		*cap = nc;
	}
	(*v)[(*n)++] = p;
	return true;
}

/* Remove @p (order is not kept). The lists are short: a peer's sessions, a session's neighbors. */
static void
ptr_remove(void **v, size_t *n, const void *p)
{
	size_t i;

	for (i = 0; i < *n; i++)
		if (v[i] == p) {
			v[i] = v[--*n];
			return;
		}
}

/* ---- the event queue: a binary min-heap of the objects' next events ---- */

static void
q_place(struct sim *sm, size_t i, struct sim_qent e)
{
	sm->q[i] = e;
	if (e.s)
		e.s->qi = i;
	else
		e.n->qi = i;
}

/* Restore the heap order around entry @i (its time changed, or it was moved there). */
static void
q_sift(struct sim *sm, size_t i)
{
	struct sim_qent e = sm->q[i];
	size_t c;

	while (i > 0 && sm->q[(i - 1) / 2].at > e.at) {
		q_place(sm, i, sm->q[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	while ((c = 2 * i + 1) < sm->nq) {
		if (c + 1 < sm->nq && sm->q[c + 1].at < sm->q[c].at)
			c++;
		if (sm->q[c].at >= e.at)
			break;
		q_place(sm, i, sm->q[c]);
		i = c;
	}
	q_place(sm, i, e);
}

/*
 * Room for one more object's entry: called when a session or neighbor is created, so that
 * q_set never allocates (an object without its entry would miss its events).
 */
static bool
q_reserve(struct sim *sm)
{
	size_t want = sm->sessions.used + sm->neighbors.used + 1, nc;
	struct sim_qent *nq;

	if (want <= sm->capq)
		return true;
	nc = sm->capq ? sm->capq * 2 : 64;
	while (nc < want)
		nc *= 2;
	nq = realloc(sm->q, nc * sizeof(*nq));
	if (!nq)
		return false;
	sm->q = nq;
	sm->capq = nc;
	return true;
}

/* Queue the object (exactly one of @s, @n) at @at; NEVER takes it out. O(log n). */
static void
q_set(struct sim *sm, struct sim_sess *s, struct sim_nb *n, int64_t at)
{
	size_t *qi = s ? &s->qi : &n->qi, i = *qi;

	if (at == NEVER) {
		if (i == QNONE)
			return;
		*qi = QNONE;
		if (i != --sm->nq) {
			q_place(sm, i, sm->q[sm->nq]);
			q_sift(sm, i);
		}
		return;
	}
	if (i == QNONE) {
		if (sm->nq >= sm->capq)
			return;		/* cannot happen: q_reserve ran at creation */
		i = sm->nq++;
	}
	sm->q[i] = (struct sim_qent){ at, s, n };
	q_sift(sm, i);
}

/* ---- peers: reachability ---- */

static bool
peer_flaps(const struct sim_peer *p)
{
	return p->def && p->def->reachable && p->def->flap_ms > 0;
}

static bool
peer_reachable(const struct sim_peer *p, int64_t t)
{
	if (!p->def)
		return true;
	if (!p->def->reachable)
		return false;
	if (!peer_flaps(p) || t < p->reach_t0)
		return true;
	return ((t - p->reach_t0) / p->def->flap_ms) % 2 == 0;
}

/*
 * The outage [*from, *to) that contains @t, or else the next one; false when there is none.
 * A flapping peer is reachable in even periods from reach_t0 and unreachable in odd ones.
 */
static bool
peer_outage(const struct sim_peer *p, int64_t t, int64_t *from, int64_t *to)
{
	int64_t k, n;

	if (!p->def)
		return false;
	if (!p->def->reachable) {
		*from = p->reach_t0;
		*to = NEVER;
		return true;
	}
	if (!peer_flaps(p))
		return false;
	n = p->def->flap_ms;
	k = t < p->reach_t0 ? 0 : (t - p->reach_t0) / n;
	if (k % 2 == 0)
		k++;
	*from = p->reach_t0 + k * n;
	*to = *from + n;
	return true;
}

static struct sim_peer *
peer_get_or_new(struct sim *sm, const char *addr)
{
	struct sim_peer *p = hmap_get(&sm->peers, addr);

	if (p)
		return p;
	p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	snprintf(p->addr, sizeof(p->addr), "%s", addr);
	if (hmap_put(&sm->peers, p->addr, p, NULL)) {
		free(p);
		return NULL;
	}
	return p;
}

static void
def_free(struct sim_def *d)
{
	if (!d)
		return;
	free(d->local);
	free(d->remote);
	free(d->announce);
	explicit_bzero(d, sizeof(*d));
	free(d);
}

/* Drop the peer node when nothing refers to it any more. */
static void
peer_maybe_free(struct sim *sm, struct sim_peer *p)
{
	if (p->def || p->nsess)
		return;
	hmap_del(&sm->peers, p->addr);
	free(p->sess);
	free(p);
}

/* Add @s to @p's sessions; O(1). */
static bool
peer_add_sess(struct sim_peer *p, struct sim_sess *s)
{
	if (!ptr_push((void ***)&p->sess, &p->nsess, &p->capsess, s))
		return false;
	s->pi = p->nsess - 1;
	return true;
}

/* Take @s out of @p's sessions (the last one takes its place); O(1). */
static void
peer_del_sess(struct sim_peer *p, struct sim_sess *s)
{
	if (s->pi >= p->nsess || p->sess[s->pi] != s)
		return;
	p->sess[s->pi] = p->sess[--p->nsess];
	p->sess[s->pi]->pi = s->pi;
}

/* ---- the effective peer of one session: definition over mirror ---- */

struct sim_eff {
	const char *psk, *local_id;
	enum rz_ike_version version;
	unsigned ike_enc, ike_digest, ike_dh, esp_enc, esp_digest, esp_dh;
	bool pfs, initiates, responds, has_subnets;
	size_t nlocal, nremote;
	const struct netprefix *local, *remote;
};

static void
eff_get(const struct sim_sess *s, const struct sim_def *d, struct sim_eff *e)
{
	const struct sim_scfg *c = &s->cfg;

	memset(e, 0, sizeof(*e));
	e->psk = d && d->has_psk ? d->psk : c->psk;
	e->local_id = d && d->has_local_id ? d->local_id : c->peer_address;
	e->version = d && d->has_version ? d->version : c->ike.version;
	e->ike_enc = d && d->ike.has_enc ? d->ike.enc : c->ike.enc;
	e->ike_digest = d && d->ike.has_digest ? d->ike.digest : c->ike.digest;
	e->ike_dh = d && d->ike.has_dh ? d->ike.dh : c->ike.dh;
	e->esp_enc = d && d->esp.has_enc ? d->esp.enc : c->esp.enc;
	e->esp_digest = d && d->esp.has_digest ? d->esp.digest : c->esp.digest;
	e->esp_dh = d && d->esp.has_dh ? d->esp.dh : c->esp.dh;
	e->pfs = d && d->has_pfs ? d->pfs : c->esp.pfs;
	/* the mirror is the other end: it initiates when the SDDC might not */
	e->initiates = d && d->has_initiates ? d->initiates : c->initiation != RZ_INIT_INITIATOR;
	e->responds = d ? d->responds : true;
	if (d && d->has_subnets) {
		e->has_subnets = true;
		e->nlocal = d->nlocal;
		e->local = d->local;
		e->nremote = d->nremote;
		e->remote = d->remote;
	}
}

static bool
prefixes_eq(const struct netprefix *a, size_t na, const struct netprefix *b, size_t nb)
{
	size_t i;

	if (na != nb)
		return false;
	for (i = 0; i < na; i++)
		if (!prefix_eq(&a[i], &b[i]))
			return false;
	return true;
}

/* Same negotiation-relevant peer (reachability and faults are not part of it). */
static bool
eff_same(const struct sim_eff *a, const struct sim_eff *b)
{
	return !strcmp(a->psk, b->psk) && !strcmp(a->local_id, b->local_id) &&
	       a->version == b->version && a->ike_enc == b->ike_enc &&
	       a->ike_digest == b->ike_digest && a->ike_dh == b->ike_dh &&
	       a->esp_enc == b->esp_enc && a->esp_digest == b->esp_digest &&
	       a->esp_dh == b->esp_dh && a->pfs == b->pfs && a->initiates == b->initiates &&
	       a->responds == b->responds && a->has_subnets == b->has_subnets &&
	       prefixes_eq(a->local, a->nlocal, b->local, b->nlocal) &&
	       prefixes_eq(a->remote, a->nremote, b->remote, b->nremote);
}

/* The BGP speaker of @d for neighbor @n. */
static uint32_t
eff_as(const struct sim_def *d, const struct sim_nb *n)
{
	return d && d->has_as ? d->as : n->cfg.remote_as;
}

static const char *
eff_password(const struct sim_def *d, const struct sim_nb *n)
{
	return d && d->has_password ? d->password : n->cfg.password;
}

/* ---- negotiation ---- */

/* Encryption intersects and, unless an AEAD cipher is common, so does the digest. */
static bool
algs_agree(unsigned enc_a, unsigned dig_a, unsigned enc_b, unsigned dig_b)
{
	unsigned enc = enc_a & enc_b;

	if (!enc)
		return false;
	return (enc & RZ_ENC_AEAD) || (dig_a & dig_b);
}

/* Initiator version @i against responder version @r; FLEX starts V2 and falls back to V1. */
static bool
version_ok(enum rz_ike_version i, enum rz_ike_version r)
{
	if (i == RZ_IKE_V1)
		return r != RZ_IKE_V2;
	if (i == RZ_IKE_V2)
		return r != RZ_IKE_V1;
	return true;
}

static bool
sess_sddc_initiates(const struct sim_sess *s)
{
	return s->cfg.initiation == RZ_INIT_INITIATOR ||
	       (s->cfg.initiation == RZ_INIT_ON_DEMAND && s->traffic);
}

/* Why nobody starts IKE, or NULL when someone may (enabled and an initiator exists). */
static const char *
sess_idle_reason(const struct sim_sess *s)
{
	struct sim_eff e;

	if (!s->cfg.enabled)
		return SIM_FR_DISABLED;
	eff_get(s, s->peer->def, &e);
	if (sess_sddc_initiates(s) || e.initiates)
		return NULL;
	return s->cfg.initiation == RZ_INIT_ON_DEMAND ? SIM_FR_ON_DEMAND : SIM_FR_WAITING;
}

/*
 * The outcome of an IKE negotiation with the peer reachable (someone may start): NULL = UP,
 * else the fail reason. It depends on configuration only, never on time.
 */
static const char *
sess_verdict_reachable(const struct sim_sess *s)
{
	const struct sim_scfg *c = &s->cfg;
	enum rz_ike_version iv, rv;
	struct sim_eff e;

	eff_get(s, s->peer->def, &e);
	if (sess_sddc_initiates(s) && e.responds) {
		iv = c->ike.version;
		rv = e.version;
	} else if (e.initiates) {
		iv = e.version;
		rv = c->ike.version;
	} else {
		return SIM_FR_TIMEOUT;	/* we initiate and the peer never answers */
	}
	if (!version_ok(iv, rv))
		return SIM_FR_VERSION;
	if (!algs_agree(c->ike.enc, c->ike.digest, e.ike_enc, e.ike_digest) ||
	    !(c->ike.dh & e.ike_dh))
		return SIM_FR_NO_PROPOSAL;
	if (strcmp(e.psk, c->psk) || strcmp(e.local_id, c->peer_id))
		return SIM_FR_AUTH;
	return NULL;
}

/* The outcome of an IKE negotiation evaluated at @t: NULL = UP, else the fail reason. */
static const char *
sess_verdict(const struct sim_sess *s, int64_t t)
{
	const char *idle = sess_idle_reason(s);

	if (idle)
		return idle;
	if (!peer_reachable(s->peer, t))
		return SIM_FR_TIMEOUT;
	return sess_verdict_reachable(s);
}

static int64_t
gcd64(int64_t a, int64_t b)
{
	while (b) {
		int64_t r = a % b;

		a = b;
		b = r;
	}
	return a;
}

/*
 * The smallest j >= 0 such that the peer is reachable at @v0 + j x @per (@per > 0), or -1 if
 * it never is. A flapping peer is reachable at phase c = (t - reach_t0) mod 2N when c < N.
 * With per <= N, the first reachable window after v0 holds a verdict; otherwise the phases of
 * v0 + j x per repeat after 2N / gcd(per, 2N) <= 2N < 2 x per steps, so a short scan decides.
 */
static int64_t
peer_first_reachable(const struct sim_peer *p, int64_t v0, int64_t per)
{
	int64_t n, m, c, step, cycle, j;

	if (!p->def || peer_reachable(p, v0))
		return 0;
	if (!peer_flaps(p))
		return -1;		/* unreachable for good */
	n = p->def->flap_ms;
	m = 2 * n;
	c = (v0 - p->reach_t0) % m;	/* >= n: unreachable */
	if (per <= n)
		return (m - c + per - 1) / per;
	step = per % m;
	if (!step)
		return -1;
	cycle = m / gcd64(step, m);
	for (j = 1; j < cycle; j++) {
		c = (c + step) % m;
		if (c < n)
			return j;
	}
	return -1;
}

static void
sess_tunnels_down(struct sim_sess *s, const char *why)
{
	size_t i;

	for (i = 0; i < s->cfg.ntunnels; i++) {
		s->tun[i].up = false;
		s->tun[i].down = why;
		s->tun[i].ev = NEVER;
	}
	s->tun_ev = NEVER;
}

static bool
peer_rekey_fails(const struct sim_peer *p)
{
	return p->def && p->def->rekey_failure;
}

/*
 * The first rekey after @t of a child SA established at @est: est + k x esp.lifetime_s, k >= 1.
 * NEVER when ESP SAs do not expire (lifetime 0) or beyond the end of time.
 */
static int64_t
child_rekey_after(const struct sim_sess *s, int64_t est, int64_t t)
{
	int64_t l = s->cfg.esp.lifetime_s, k;

	if (l <= 0 || l > NEVER / 1000)
		return NEVER;
	l *= 1000;
	k = t < est ? 1 : (t - est) / l + 1;
	if (k > (NEVER - (est > 0 ? est : 0)) / l)
		return NEVER;
	return est + k * l;
}

/* The next event of @tu (up since tu->est) after @t: its next rekey if it will fail, else NEVER. */
static int64_t
tun_up_ev(const struct sim_sess *s, const struct sim_tun *tu, int64_t t)
{
	return peer_rekey_fails(s->peer) ? child_rekey_after(s, tu->est, t) : NEVER;
}

static void
sess_tun_ev_update(struct sim_sess *s)
{
	size_t i;

	s->tun_ev = NEVER;
	for (i = 0; i < s->cfg.ntunnels; i++)
		if (s->tun[i].ev < s->tun_ev)
			s->tun_ev = s->tun[i].ev;
}

/*
 * Negotiate child SA @i at @t (IKE is UP; @e the effective peer): ESP agreement, then
 * (policy-based) traffic selectors. Once up it rekeys every esp.lifetime_s from @t; a rekey
 * only needs an event when it is going to fail (the peer's rekey_failure fault).
 */
static void
tun_negotiate(struct sim_sess *s, size_t i, const struct sim_eff *e, int64_t t)
{
	const struct sim_scfg *c = &s->cfg;
	const struct sim_sel *sel = &c->tunnels[i];
	struct sim_tun *tu = &s->tun[i];
	bool esp_ok = algs_agree(c->esp.enc, c->esp.digest, e->esp_enc, e->esp_digest) &&
		      c->esp.pfs == e->pfs && (!c->esp.pfs || (c->esp.dh & e->esp_dh));

	tu->up = false;
	tu->ev = NEVER;
	if (!esp_ok) {
		tu->down = SIM_FR_NO_PROPOSAL;
	} else if (!c->route_based && e->has_subnets &&
		   (!prefix_in_list(&sel->peer, e->local, e->nlocal) ||
		    !prefix_in_list(&sel->local, e->remote, e->nremote))) {
		tu->down = SIM_FR_TS;
	} else {
		tu->up = true;
		tu->down = "";
		tu->est = t;
		tu->ev = tun_up_ev(s, tu, t);
	}
}

/* Child SAs, once IKE is UP at @t. */
static void
sess_eval_tunnels(struct sim_sess *s, int64_t t)
{
	struct sim_eff e;
	size_t i;

	eff_get(s, s->peer->def, &e);
	for (i = 0; i < s->cfg.ntunnels; i++)
		tun_negotiate(s, i, &e, t);
	sess_tun_ev_update(s);
}

/*
 * Child SA events due at @x (IKE UP): a rekey that fails takes that tunnel down ("Rekey
 * failed") until its retry SIM_IKE_RETRY_MS later, which negotiates it again at once.
 */
static void
sess_child_events(struct sim_sess *s, int64_t x)
{
	bool fails = peer_rekey_fails(s->peer);
	struct sim_eff e;
	size_t i;

	eff_get(s, s->peer->def, &e);
	for (i = 0; i < s->cfg.ntunnels; i++) {
		struct sim_tun *tu = &s->tun[i];

		if (tu->ev > x)
			continue;
		if (!tu->up) {
			tun_negotiate(s, i, &e, x);	/* the retry */
		} else if (fails) {
			tu->up = false;
			tu->down = SIM_FR_REKEY;
			tu->ev = x > NEVER - SIM_IKE_RETRY_MS ? NEVER : x + SIM_IKE_RETRY_MS;
		} else {
			tu->ev = NEVER;		/* the rekey succeeds: nothing to see */
		}
	}
	sess_tun_ev_update(s);
}

/* The peer's rekey_failure fault changed at @t: reschedule the up child SAs' rekey events. */
static void
sess_children_refault(struct sim_sess *s, int64_t t)
{
	size_t i;

	if (s->ike != RZ_IKE_UP)
		return;
	for (i = 0; i < s->cfg.ntunnels; i++)
		if (s->tun[i].up)
			s->tun[i].ev = tun_up_ev(s, &s->tun[i], t);
	sess_tun_ev_update(s);
}

/* The BGP transport: IKE UP and a tunnel up. */
static bool
sess_link(const struct sim_sess *s)
{
	size_t i;

	if (s->ike != RZ_IKE_UP)
		return false;
	for (i = 0; i < s->cfg.ntunnels; i++)
		if (s->tun[i].up)
			return true;
	return false;
}

static void
sess_fail(struct sim_sess *s, int64_t t, const char *why)
{
	s->ike = RZ_IKE_DOWN;
	s->fail = why;
	s->ev = t > NEVER - SIM_IKE_RETRY_MS ? NEVER : t + SIM_IKE_RETRY_MS;
	s->rekey_at = NEVER;
	sess_tunnels_down(s, SIM_FR_IKE_DOWN);
}

static void
sess_up(struct sim_sess *s, int64_t t)
{
	s->ike = RZ_IKE_UP;
	s->fail = "";
	s->ev = NEVER;
	s->up_since = t;
	s->rekey_at = s->cfg.ike.lifetime_s > 0 ? after_s(t, s->cfg.ike.lifetime_s) : NEVER;
	sess_eval_tunnels(s, t);
}

/* (Re)start at @t: DOWN for good when nobody may start, else NEGOTIATING. */
static void
sess_start(struct sim_sess *s, int64_t t)
{
	const char *idle = sess_idle_reason(s);

	sess_tunnels_down(s, SIM_FR_IKE_DOWN);
	s->rekey_at = NEVER;
	if (idle) {
		s->ike = RZ_IKE_DOWN;
		s->fail = idle;
		s->ev = NEVER;
	} else {
		s->ike = RZ_IKE_NEGOTIATING;
		s->fail = "";
		s->ev = t + SIM_IKE_NEGOTIATE_MS;
	}
}

/* When DPD declares the peer dead: the first outage from s->t that outlasts interval x retries. */
static int64_t
sess_dpd_at(const struct sim_sess *s)
{
	int64_t from, to, d;

	if (!s->cfg.dpd.enabled || !peer_outage(s->peer, s->t, &from, &to))
		return NEVER;
	if (s->cfg.dpd.interval_s <= 0 || s->cfg.dpd.retries <= 0)
		d = 0;
	else if (__builtin_mul_overflow(s->cfg.dpd.interval_s, s->cfg.dpd.retries, &d) ||
		 __builtin_mul_overflow(d, (int64_t)1000, &d))
		return NEVER;
	if (from < s->up_since)
		from = s->up_since;
	if (d > NEVER - from)
		return NEVER;
	/* the peer answers again at `to`: a flapping outage shorter than d never trips DPD */
	if (to != NEVER && from + d >= to)
		return NEVER;
	return from + d < s->t ? s->t : from + d;
}

static int64_t
sess_next(const struct sim_sess *s)
{
	int64_t d;

	if (s->ike != RZ_IKE_UP)
		return s->ev;
	d = sess_dpd_at(s);
	if (s->rekey_at < d)
		d = s->rekey_at;
	return s->tun_ev < d ? s->tun_ev : d;
}

/* ---- BGP ---- */

/*
 * The BGP session runs over the link (the session's IKE UP with a tunnel up) and hears the peer
 * while the link is up and the peer is reachable. A silence (link down, or the peer
 * unreachable) that lasts hold_s expires the hold timer; a silence while not established sends
 * the neighbor to IDLE, and it connects again as soon as the peer can be heard.
 */

/* The peer can be heard at @t (link up and peer reachable). */
static bool
nb_heard(const struct sim_nb *n, int64_t t)
{
	return n->link && n->sess && peer_reachable(n->sess->peer, t);
}

/* The first instant >= @t at which the peer is reachable; NEVER if none. */
static int64_t
peer_next_reachable(const struct sim_peer *p, int64_t t)
{
	int64_t from, to;

	if (peer_reachable(p, t))
		return t;
	return peer_outage(p, t, &from, &to) ? to : NEVER;
}

/* The first instant >= @t at which the peer is unreachable; NEVER if none. */
static int64_t
peer_next_outage(const struct sim_peer *p, int64_t t)
{
	int64_t from, to;

	if (!peer_outage(p, t, &from, &to))
		return NEVER;
	return from > t ? from : t;
}

/*
 * ESTABLISHED, the link unchanged since n->t, @t >= n->t: the start of the silence containing
 * @t, or NEVER when the peer is heard at @t.
 */
static int64_t
nb_quiet_at(const struct sim_nb *n, int64_t t)
{
	int64_t from, to;

	if (!n->link || !n->sess)
		return n->quiet != NEVER ? n->quiet : n->t;
	if (n->quiet != NEVER && t < n->quiet_end)
		return n->quiet;
	if (peer_reachable(n->sess->peer, t) || !peer_outage(n->sess->peer, t, &from, &to))
		return NEVER;
	return from > n->est_at ? from : n->est_at;
}

/*
 * ESTABLISHED, the link unchanged from n->t on: when the hold timer expires, i.e. the first
 * silence that lasts hold_s (a silence of exactly hold_s expires it too); *q = its start.
 * NEVER when no silence will be long enough (a flapping peer's outages all have one length).
 */
static int64_t
nb_hold_at(const struct sim_nb *n, int64_t *q)
{
	int64_t from, to, h, start = n->t;

	if (!n->link || !n->sess) {
		*q = n->quiet != NEVER ? n->quiet : n->t;
		h = after_s(*q, n->cfg.hold_s);
		return h > n->t ? h : n->t;
	}
	if (n->quiet != NEVER && n->t < n->quiet_end) {
		*q = n->quiet;
		h = after_s(*q, n->cfg.hold_s);
		if (h <= n->quiet_end)
			return h > n->t ? h : n->t;
		start = n->quiet_end;	/* the peer is heard again then */
	}
	if (!peer_outage(n->sess->peer, start, &from, &to))
		return NEVER;
	if (from < n->est_at)
		from = n->est_at;
	h = after_s(from, n->cfg.hold_s);
	if (to != NEVER && h > to)
		return NEVER;
	*q = from;
	return h > n->t ? h : n->t;
}

/* Messages of the current establishment counted up to @t (OPEN + UPDATE + keepalives). */
static uint64_t
nb_msgs(const struct sim_nb *n, int64_t t)
{
	uint64_t m;

	if (n->st != RZ_BGP_ESTABLISHED)
		return 0;
	m = 2;			/* OPEN + UPDATE */
	if (n->cfg.keepalive_s > 0 && n->cfg.keepalive_s < NEVER / 1000 && t > n->est_at)
		m += (uint64_t)((t - n->est_at) / (n->cfg.keepalive_s * 1000));
	return m;
}

/* Messages received in the current establishment up to @t: none during a silence. */
static uint64_t
nb_msgs_recv(const struct sim_nb *n, int64_t t)
{
	int64_t q;

	if (n->st != RZ_BGP_ESTABLISHED)
		return 0;
	q = nb_quiet_at(n, t);
	return nb_msgs(n, q < t ? q : t);
}

/* Leave ESTABLISHED at @t, the peer last heard at @heard (the caller counts the drop). */
static void
nb_unestablish(struct sim_nb *n, int64_t t, int64_t heard)
{
	n->sent_base += nb_msgs(n, t);
	n->recv_base += nb_msgs(n, heard < t ? heard : t);
	n->st = RZ_BGP_IDLE;
	n->ev = NEVER;
	n->quiet = NEVER;
	n->quiet_end = NEVER;
}

/* One connection attempt at @t (TCP + OPEN), the peer heard. */
static void
nb_attempt(struct sim_nb *n, int64_t t)
{
	const struct sim_def *d = n->sess ? n->sess->peer->def : NULL;

	if (!n->sess) {
		n->st = RZ_BGP_IDLE;
		n->ev = NEVER;
		return;
	}
	if (strcmp(eff_password(d, n), n->cfg.password)) {
		n->st = RZ_BGP_ACTIVE;		/* TCP MD5 fails: no session at all */
		n->ev = t + SIM_BGP_RETRY_MS;
	} else if (eff_as(d, n) != n->cfg.remote_as) {
		n->st = RZ_BGP_ACTIVE;		/* OPEN, then NOTIFICATION (bad peer AS) */
		n->drops++;
		n->ev = t + SIM_BGP_RETRY_MS;
	} else {
		n->st = RZ_BGP_ESTABLISHED;
		n->est_at = t;
		n->ests++;
		n->ev = NEVER;
		n->quiet = NEVER;
		n->quiet_end = NEVER;
	}
}

/* The next timer of @n (the link unchanged from n->t on); *q: see nb_hold_at. */
static int64_t
nb_next(const struct sim_nb *n, int64_t *q)
{
	int64_t f;

	if (!n->cfg.enabled)
		return NEVER;
	switch (n->st) {
	case RZ_BGP_ESTABLISHED:
		return nb_hold_at(n, q);
	case RZ_BGP_IDLE:	/* connects once the peer can be heard */
		return n->link && n->sess ? peer_next_reachable(n->sess->peer, n->t) : NEVER;
	case RZ_BGP_CONNECT:
	case RZ_BGP_ACTIVE:	/* the next attempt, unless the peer falls silent first */
		f = n->link && n->sess ? peer_next_outage(n->sess->peer, n->t) : NEVER;
		return f < n->ev ? f : n->ev;
	default:
		return NEVER;
	}
}

/* Run @n's own timers up to @t, one event at a time, the link state being constant. */
static void
nb_advance_steps(struct sim_nb *n, int64_t t)
{
	int64_t x, q = NEVER;

	while ((x = nb_next(n, &q)) <= t) {
		if (x > n->t)
			n->t = x;
		if (n->st == RZ_BGP_ESTABLISHED) {
			nb_unestablish(n, x, q);	/* hold timer expired */
			n->drops++;
		} else if (n->st == RZ_BGP_IDLE) {
			n->st = RZ_BGP_CONNECT;
			n->ev = x + SIM_BGP_OPEN_MS;
		} else if (!nb_heard(n, x)) {
			n->st = RZ_BGP_IDLE;		/* TCP lost before the session came up */
			n->ev = NEVER;
		} else if (n->st == RZ_BGP_CONNECT) {
			nb_attempt(n, x);
		} else {
			/* every retry until t, or until the peer falls silent, has the same outcome as
			 * the first: count them at once */
			const struct sim_def *d = n->sess ? n->sess->peer->def : NULL;
			int64_t lim = n->sess ? peer_next_outage(n->sess->peer, x) : NEVER, k;

			lim = lim - 1 < t ? lim - 1 : t;
			k = (lim - x) / SIM_BGP_RETRY_MS;
			nb_attempt(n, x);
			if (n->st == RZ_BGP_ACTIVE) {
				if (eff_as(d, n) != n->cfg.remote_as &&
				    !strcmp(eff_password(d, n), n->cfg.password))
					n->drops += (uint64_t)k;
				n->ev = x + (k + 1) * SIM_BGP_RETRY_MS;
				n->t = x + k * SIM_BGP_RETRY_MS;
			}
		}
	}
	if (t > n->t)
		n->t = t;
}

/* @n's time-dependent state relative to @a, for comparing two instants of a cycle. */
struct nb_rel {
	enum rz_bgp_state st;
	int64_t ev, est_at, quiet, quiet_end;
};

static int64_t
rel_time(int64_t x, int64_t a)
{
	return x == NEVER ? NEVER : x - a;
}

static bool
nb_rel_eq(const struct nb_rel *a, const struct nb_rel *b)
{
	return a->st == b->st && a->ev == b->ev && a->est_at == b->est_at &&
	       a->quiet == b->quiet && a->quiet_end == b->quiet_end;
}

static struct nb_rel
nb_rel_at(const struct sim_nb *n, int64_t a)
{
	struct nb_rel r = { n->st, rel_time(n->ev, a), 0, rel_time(n->quiet, a),
			    rel_time(n->quiet_end, a) };

	if (n->st == RZ_BGP_ESTABLISHED)
		r.est_at = n->est_at - a;
	return r;
}

static int64_t
shift_time(int64_t x, int64_t d)
{
	return x == NEVER ? NEVER : x + d;
}

/*
 * Run @n's timers up to @t, the link state being constant meanwhile. Over a flapping peer with
 * the link up, the neighbor's history is periodic once its state at the start of a flap cycle
 * (relative to that start) repeats: then the remaining whole cycles are skipped at once, adding
 * each counter's increase per cycle, so a clock jump costs a few cycles, not one per flap.
 */
static void
nb_advance(struct sim_nb *n, int64_t t)
{
	const struct sim_peer *p = n->sess ? n->sess->peer : NULL;
	int64_t m, a, k;
	int tries;

	if (!n->link || !p || !n->cfg.enabled || !peer_flaps(p) || t <= n->t ||
	    p->def->flap_ms > (NEVER / 8 - (t > 0 ? t : 0)) / 2) {
		nb_advance_steps(n, t);
		return;
	}
	m = 2 * p->def->flap_ms;
	/* the first cycle start (a reachable window opens) at or after n->t */
	a = n->t <= p->reach_t0 ? p->reach_t0 :
	    p->reach_t0 + (n->t - p->reach_t0 + m - 1) / m * m;
	for (tries = 0; tries < 3 && a <= t - 2 * m; tries++, a += m) {
		struct nb_rel r0, r1;
		uint64_t drops, ests, sent, recv;

		nb_advance_steps(n, a);
		r0 = nb_rel_at(n, a);
		drops = n->drops;
		ests = n->ests;
		sent = n->sent_base;
		recv = n->recv_base;
		nb_advance_steps(n, a + m);
		r1 = nb_rel_at(n, a + m);
		if (!nb_rel_eq(&r0, &r1))
			continue;
		k = (t - (a + m)) / m;		/* whole cycles left: each repeats this one */
		n->drops += (uint64_t)k * (n->drops - drops);
		n->ests += (uint64_t)k * (n->ests - ests);
		n->sent_base += (uint64_t)k * (n->sent_base - sent);
		n->recv_base += (uint64_t)k * (n->recv_base - recv);
		n->t += k * m;
		n->ev = shift_time(n->ev, k * m);
		n->est_at += k * m;
		n->quiet = shift_time(n->quiet, k * m);
		n->quiet_end = shift_time(n->quiet_end, k * m);
		break;
	}
	nb_advance_steps(n, t);
}

/* The link (the session's tunnel) changes at @t. */
static void
nb_link(struct sim_nb *n, int64_t t, bool up)
{
	int64_t q = NEVER, from, to;

	nb_advance(n, t);
	if (n->link == up)
		return;
	if (!up && n->st == RZ_BGP_ESTABLISHED)
		q = nb_quiet_at(n, t);		/* silent already (peer unreachable)? */
	n->link = up;
	if (!n->cfg.enabled)
		return;
	if (n->st != RZ_BGP_ESTABLISHED) {
		n->st = RZ_BGP_IDLE;		/* link up: connects once the peer is heard */
		n->ev = NEVER;
	} else if (!up) {
		n->quiet = q != NEVER ? q : t;	/* hold timer runs from the silence's start */
		n->quiet_end = NEVER;
	} else if (n->sess && !peer_reachable(n->sess->peer, t) &&
		   peer_outage(n->sess->peer, t, &from, &to)) {
		if (from < n->quiet)
			n->quiet = from;	/* still silent: the peer is unreachable until `to` */
		n->quiet_end = to;
	} else {
		n->quiet = NEVER;		/* back before the hold timer ran out */
		n->quiet_end = NEVER;
	}
	nb_advance(n, t);
}

/* Restart the BGP session at @t (configuration changed on either side). */
static void
nb_reset(struct sim_nb *n, int64_t t)
{
	nb_advance(n, t);
	if (n->st == RZ_BGP_ESTABLISHED) {
		nb_unestablish(n, t, nb_quiet_at(n, t));
		n->drops++;
	}
	n->st = RZ_BGP_IDLE;
	n->ev = NEVER;
	n->quiet = NEVER;
	n->quiet_end = NEVER;
	n->link = n->sess ? sess_link(n->sess) : false;
	nb_advance(n, t);		/* CONNECT at once if the peer can be heard */
}

/*
 * The peer's reachability pattern is about to change at @t: pin the silence each established
 * neighbor is in (under the old pattern) ...
 */
static void
nb_pin_quiet(struct sim_nb *n, int64_t t)
{
	nb_advance(n, t);
	if (n->st == RZ_BGP_ESTABLISHED && n->link) {
		n->quiet = nb_quiet_at(n, t);
		n->quiet_end = NEVER;
	}
}

/* ... and continue it under the new one (silent at @t: since the pinned start, or since @t). */
static void
nb_repattern(struct sim_nb *n, int64_t t)
{
	int64_t from, to;

	if (n->st == RZ_BGP_ESTABLISHED && n->link && n->sess) {
		if (!peer_reachable(n->sess->peer, t) &&
		    peer_outage(n->sess->peer, t, &from, &to)) {
			if (n->quiet == NEVER)
				n->quiet = t;
			n->quiet_end = to;
		} else {
			n->quiet = NEVER;
			n->quiet_end = NEVER;
		}
	}
	nb_advance(n, t);
}

/*
 * Bind @n to @s (NULL: unbound). Unbound neighbors are also kept in sm->unbound, the only ones
 * besides a session's own that a new VTI can capture. False (and unbound) when out of memory.
 */
static bool
nb_bind(struct sim *sm, struct sim_nb *n, struct sim_sess *s)
{
	bool ok = true;

	if (n->sess)
		ptr_remove((void **)n->sess->nb, &n->sess->nnb, n);
	n->sess = NULL;
	if (s && ptr_push((void ***)&s->nb, &s->nnb, &s->capnb, n))
		n->sess = s;
	else if (s)
		ok = false;
	if (n->sess)
		hmap_del(&sm->unbound, n->cfg.path);
	else if (hmap_put(&sm->unbound, n->cfg.path, n, NULL))
		ok = false;	/* a later session will not find it; nothing else breaks */
	return ok;
}

/* The route-based session whose VTI subnet contains @a: one map lookup per prefix length. */
static struct sim_sess *
vti_lookup(const struct sim *sm, const struct netaddr *a)
{
	int len;

	for (len = (int)netaddr_bits(a); len >= 0; len--) {
		struct netprefix p = { .addr = *a, .len = (uint8_t)len };
		struct sim_sess *s;
		char key[64];

		prefix_mask(&p);
		prefix_format(&p, key, sizeof(key));
		s = hmap_get(&sm->vti, key);
		if (s && netprefix_contains(&s->cfg.vti, a))
			return s;
	}
	return NULL;
}

static void sched_nb(struct sim *sm, struct sim_nb *n);

/* Re-bind @n to whatever session now contains its address. */
static void
nb_rebind(struct sim *sm, struct sim_nb *n, int64_t t)
{
	struct sim_sess *want = vti_lookup(sm, &n->cfg.addr), *old = n->sess;

	if (want == old)
		return;
	nb_advance(n, t);
	if (old)
		nb_link(n, t, false);	/* the silence starts against the old session's peer */
	nb_bind(sm, n, want);
	want = n->sess;		/* NULL when out of memory: unbound is a valid state */
	if (old && want)
		nb_reset(n, t);		/* another peer altogether */
	else
		nb_link(n, t, want ? sess_link(want) : false);
	sched_nb(sm, n);
}

/* ---- sessions: time ---- */

static void
sess_notify(struct sim_sess *s, bool was, int64_t t)
{
	bool up = sess_link(s);
	size_t i;

	if (up == was)
		return;
	for (i = 0; i < s->nnb; i++)
		nb_link(s->nb[i], t, up);
}

/* Process @s's events up to @t. */
static void
sess_advance(struct sim_sess *s, int64_t t)
{
	int64_t x;

	while ((x = sess_next(s)) <= t) {
		bool was = sess_link(s);
		size_t i;

		for (i = 0; i < s->nnb; i++)
			nb_advance(s->nb[i], x);
		s->t = x;
		if (s->ike == RZ_IKE_NEGOTIATING) {
			const char *why = sess_verdict(s, x);

			if (why)
				sess_fail(s, x, why);
			else
				sess_up(s, x);
		} else if (s->ike == RZ_IKE_DOWN) {
			/*
			 * A retry at x: verdicts would follow at v0 = x + NEGOTIATE, v0 + per, ...
			 * as long as each fails. With the peer reachable the verdict is constant;
			 * unreachable it is "Peer not responding". So the failures before t (and
			 * before the first success, found arithmetically) are skipped at once,
			 * keeping the last one; the session stays down meanwhile, so BGP sees no
			 * change.
			 */
			const int64_t per = SIM_IKE_NEGOTIATE_MS + SIM_IKE_RETRY_MS;
			const int64_t v0 = x + SIM_IKE_NEGOTIATE_MS;
			const char *why = NULL;
			int64_t j, jt = -1;	/* the index of the last verdict to skip to */

			if (!sess_idle_reason(s) && v0 <= t) {
				jt = (t - v0) / per;
				why = sess_verdict_reachable(s);
				j = why ? -1 : peer_first_reachable(s->peer, v0, per);
				if (j >= 0 && j - 1 < jt)
					jt = j - 1;	/* the failure before the first success */
			}
			if (jt >= 0) {
				int64_t v = v0 + jt * per;

				s->t = v;
				sess_fail(s, v, peer_reachable(s->peer, v) && why ? why :
						SIM_FR_TIMEOUT);
			} else {
				sess_start(s, x);
			}
		} else {
			/* UP: DPD first, then the IKE rekey, then child SA rekeys and retries */
			if (sess_dpd_at(s) <= x)
				sess_fail(s, x, SIM_FR_DPD);
			else if (s->rekey_at <= x && !peer_reachable(s->peer, x))
				sess_fail(s, x, SIM_FR_TIMEOUT);	/* the rekey goes unanswered */
			else if (s->rekey_at <= x && peer_rekey_fails(s->peer))
				sess_fail(s, x, SIM_FR_REKEY);
			else if (s->rekey_at <= x)
				s->rekey_at = after_s(x, s->cfg.ike.lifetime_s);
			if (s->ike == RZ_IKE_UP && s->tun_ev <= x)
				sess_child_events(s, x);
		}
		sess_notify(s, was, x);
	}
	if (t > s->t)
		s->t = t;
}

/* Restart @s at @t (new configuration on either side). */
static void
sess_restart(struct sim_sess *s, int64_t t)
{
	bool was = sess_link(s);

	sess_start(s, t);
	s->t = t;
	sess_notify(s, was, t);
}

/* ---- time: the event queue ---- */

/* Re-queue @n at its next event (after anything that may have changed it). */
static void
sched_nb(struct sim *sm, struct sim_nb *n)
{
	int64_t q;

	q_set(sm, NULL, n, nb_next(n, &q));
}

/* Re-queue @s and its neighbors (a session event may change their link). */
static void
sched_sess(struct sim *sm, struct sim_sess *s)
{
	size_t i;

	q_set(sm, s, NULL, sess_next(s));
	for (i = 0; i < s->nnb; i++)
		sched_nb(sm, s->nb[i]);
}

/*
 * Bring @s and its neighbors to @t before an API call changes them (the queue has run up to
 * @t, so no event of theirs is due: only their `t` moves).
 */
static void
sess_catch_up(struct sim *sm, struct sim_sess *s, int64_t t)
{
	size_t i;

	sess_advance(s, t);
	for (i = 0; i < s->nnb; i++)
		nb_advance(s->nb[i], t);
	sm->work += 1 + s->nnb;
}

static void
nb_catch_up(struct sim *sm, struct sim_nb *n, int64_t t)
{
	nb_advance(n, t);
	sm->work++;
}

/*
 * Advance every object whose next event is due by @now, in the order of those events: a
 * session is advanced to @now (its neighbors following it event by event), then re-queued with
 * its neighbors; a neighbor first lets its session run if that one is due too (as the session
 * drives its link), then runs to @now. Each object leaves with its next event after @now, so
 * each is taken at most once or twice: O(k log n) for k objects due. Objects not due are left
 * behind (their `t` is older): nothing in them changes until their next event, and every API
 * call catches up the objects it touches first.
 */
static void
sim_run(struct sim *sm, int64_t now)
{
	while (sm->nq && sm->q[0].at <= now) {
		struct sim_sess *s = sm->q[0].s;
		struct sim_nb *n = sm->q[0].n;

		if (n && n->sess && n->sess->qi != QNONE && sm->q[n->sess->qi].at <= now)
			s = n->sess;
		if (s) {
			sess_advance(s, now);
			sm->work++;
			sched_sess(sm, s);
		} else {
			nb_advance(n, now);
			sm->work++;
			sched_nb(sm, n);
		}
	}
}

/* The reference the queue must match (tests): every session, then every neighbor, to @now. */
static void
sim_run_all(struct sim *sm, int64_t now)
{
	size_t pos = 0;
	const char *key;
	void *val;

	while (hmap_next(&sm->sessions, &pos, &key, &val)) {
		sess_advance(val, now);
		sm->work++;
	}
	pos = 0;
	while (hmap_next(&sm->neighbors, &pos, &key, &val)) {
		nb_advance(val, now);
		sm->work++;
	}
	pos = 0;
	while (hmap_next(&sm->sessions, &pos, &key, &val))
		sched_sess(sm, val);
	pos = 0;
	while (hmap_next(&sm->unbound, &pos, &key, &val))
		sched_nb(sm, val);
}

static void
sim_tick(struct rz_backend *b, int64_t now)
{
	struct sim *sm = sim_of(b);

	if (!sm)
		return;
	if (now < sm->now)
		now = sm->now;
	if (sm->eager)
		sim_run_all(sm, now);
	else
		sim_run(sm, now);
	sm->now = now;
}

/* ---- sessions: configuration ---- */

/* Copy what the sim needs of @in into @c (allocated); false when out of memory. */
static bool
scfg_build(struct sim_scfg *c, const struct rz_session *in)
{
	const char *src[] = { in->display_name, in->local_address, in->local_id,
			      in->peer_address, in->peer_id, in->psk, in->tunnel_interface_path };
	const char **dst[] = { &c->display_name, &c->local_address, &c->local_id,
			       &c->peer_address, &c->peer_id, &c->psk, &c->tunnel_interface_path };
	size_t n = 0, i, len;
	char *p;

	memset(c, 0, sizeof(*c));
	for (i = 0; i < sizeof(src) / sizeof(src[0]); i++)
		n += strlen(src[i]) + 1;
	for (i = 0; i < in->ntunnels; i++)
		n += strlen(in->tunnels[i].rule_path) + 1;
	c->strs = malloc(n);
	c->tunnels = in->ntunnels ? calloc(in->ntunnels, sizeof(*c->tunnels)) : NULL;
	if (!c->strs || (in->ntunnels && !c->tunnels)) {
		free(c->strs);
		free(c->tunnels);
		memset(c, 0, sizeof(*c));
		return false;
	}
	c->nstrs = n;
	p = c->strs;
	for (i = 0; i < sizeof(src) / sizeof(src[0]); i++) {
		len = strlen(src[i]) + 1;
		memcpy(p, src[i], len);
		*dst[i] = p;
		p += len;
	}
	for (i = 0; i < in->ntunnels; i++) {
		len = strlen(in->tunnels[i].rule_path) + 1;
		memcpy(p, in->tunnels[i].rule_path, len);
		c->tunnels[i].rule_path = p;
		c->tunnels[i].local = in->tunnels[i].local;
		c->tunnels[i].peer = in->tunnels[i].peer;
		p += len;
	}
	c->ntunnels = in->ntunnels;
	c->route_based = in->route_based;
	c->enabled = in->enabled;
	c->initiation = in->initiation;
	c->ike = in->ike;
	c->esp = in->esp;
	c->dpd = in->dpd;
	c->has_vti = in->has_vti;
	c->vti = in->vti;
	return true;
}

static void
scfg_free(struct sim_scfg *c)
{
	if (c->strs)
		explicit_bzero(c->strs, c->nstrs);
	free(c->strs);
	free(c->tunnels);
	memset(c, 0, sizeof(*c));
}

static bool
sess_cfg_same(const struct sim_scfg *a, const struct rz_session *b)
{
	size_t i;

	if (a->route_based != b->route_based || a->enabled != b->enabled ||
	    strcmp(a->local_address, b->local_address) || strcmp(a->local_id, b->local_id) ||
	    strcmp(a->peer_address, b->peer_address) || strcmp(a->peer_id, b->peer_id) ||
	    strcmp(a->psk, b->psk) || a->initiation != b->initiation ||
	    a->ike.version != b->ike.version || a->ike.enc != b->ike.enc ||
	    a->ike.digest != b->ike.digest || a->ike.dh != b->ike.dh ||
	    a->ike.lifetime_s != b->ike.lifetime_s || a->esp.enc != b->esp.enc ||
	    a->esp.digest != b->esp.digest || a->esp.dh != b->esp.dh || a->esp.pfs != b->esp.pfs ||
	    a->esp.lifetime_s != b->esp.lifetime_s || a->dpd.enabled != b->dpd.enabled ||
	    a->dpd.periodic != b->dpd.periodic || a->dpd.interval_s != b->dpd.interval_s ||
	    a->dpd.retries != b->dpd.retries || a->has_vti != b->has_vti ||
	    (a->has_vti && !prefix_eq(&a->vti, &b->vti)) || a->ntunnels != b->ntunnels)
		return false;
	for (i = 0; i < a->ntunnels; i++)
		if (!prefix_eq(&a->tunnels[i].local, &b->tunnels[i].local) ||
		    !prefix_eq(&a->tunnels[i].peer, &b->tunnels[i].peer) ||
		    strcmp(a->tunnels[i].rule_path, b->tunnels[i].rule_path))
			return false;
	return true;
}

static void
sess_vti_out(struct sim *sm, struct sim_sess *s)
{
	if (s->in_vti && hmap_get(&sm->vti, s->vti_key) == s)
		hmap_del(&sm->vti, s->vti_key);
	s->in_vti = false;
}

static void
sess_vti_in(struct sim *sm, struct sim_sess *s)
{
	struct netprefix net;

	s->vti_addr[0] = '\0';
	if (!s->cfg.route_based || !s->cfg.has_vti)
		return;
	netaddr_format(&s->cfg.vti.addr, s->vti_addr, sizeof(s->vti_addr));
	net = s->cfg.vti;
	prefix_mask(&net);
	prefix_format(&net, s->vti_key, sizeof(s->vti_key));
	s->in_vti = !hmap_put(&sm->vti, s->vti_key, s, NULL);
}

static void
sess_free(struct sim_sess *s)
{
	if (!s)
		return;
	scfg_free(&s->cfg);
	free(s->path);
	free(s->tun);
	free(s->nb);
	free(s);
}

static bool
sess_peer_attach(struct sim *sm, struct sim_sess *s, const char *addr)
{
	struct sim_peer *p = peer_get_or_new(sm, addr);

	if (!p)
		return false;
	if (!peer_add_sess(p, s)) {
		peer_maybe_free(sm, p);
		return false;
	}
	s->peer = p;
	return true;
}

static void
sess_peer_detach(struct sim *sm, struct sim_sess *s)
{
	struct sim_peer *p = s->peer;

	if (!p)
		return;
	peer_del_sess(p, s);
	s->peer = NULL;
	peer_maybe_free(sm, p);
}

/*
 * @s's VTI changed: its own neighbors and the unbound ones inside the new VTI may change
 * sessions (VTI subnets do not overlap, so no other neighbor can). Cost: one containment test
 * per unbound neighbor plus a lookup per candidate, never a lookup per neighbor.
 */
static void
sess_rebind(struct sim *sm, struct sim_sess *s, int64_t t)
{
	size_t n = s->nnb + sm->unbound.used, k = 0, pos = 0, i;
	struct sim_nb **v;
	const char *key;
	void *val;

	if (!n)
		return;
	v = malloc(n * sizeof(*v));
	if (!v)
		return;		/* out of memory: bindings stay as they were */
	for (i = 0; i < s->nnb; i++)
		v[k++] = s->nb[i];
	while (k < n && hmap_next(&sm->unbound, &pos, &key, &val)) {
		const struct sim_nb *u = val;

		if (s->cfg.route_based && s->cfg.has_vti &&
		    netprefix_contains(&s->cfg.vti, &u->cfg.addr))
			v[k++] = val;
	}
	for (i = 0; i < k; i++)
		nb_rebind(sm, v[i], t);
	free(v);
}

static enum vpn_err
sim_apply_session(struct rz_backend *b, const struct rz_session *in, int64_t now,
		  struct vpn_error *err)
{
	struct sim *sm = sim_of(b);
	struct sim_sess *s, *fresh = NULL;
	struct sim_scfg nc;
	struct sim_tun *tun = NULL;
	struct sim_peer *oldpeer;
	bool was, rebind;
	size_t i;

	if (!sm || !in || !in->path[0] || !in->peer_address[0] || (in->ntunnels && !in->tunnels))
		return vpn_error_set(err, VPN_E_INVALID, 0, "sim: incomplete session");
	sim_tick(b, now);
	now = sm->now;
	if (!scfg_build(&nc, in))
		return vpn_error_set(err, VPN_E_NOMEM, 0, "sim: out of memory");
	s = hmap_get(&sm->sessions, in->path);
	if (s && sess_cfg_same(&s->cfg, in)) {
		/* only names changed: a real edge would not notice */
		scfg_free(&s->cfg);
		s->cfg = nc;
		return VPN_OK;
	}
	if (s)
		sess_catch_up(sm, s, now);
	else if (!q_reserve(sm))
		goto nomem;
	if (in->ntunnels) {
		tun = calloc(in->ntunnels, sizeof(*tun));
		if (!tun)
			goto nomem;
	}
	if (!s) {
		fresh = s = calloc(1, sizeof(*s));
		if (!s || !(s->path = strdup(in->path)))
			goto nomem;
		s->qi = QNONE;
		if (!sess_peer_attach(sm, s, in->peer_address))
			goto nomem;
		if (hmap_put(&sm->sessions, s->path, s, NULL)) {
			sess_peer_detach(sm, s);
			goto nomem;
		}
	}
	was = sess_link(s);
	oldpeer = s->peer;
	if (!fresh && strcmp(s->cfg.peer_address, in->peer_address)) {
		struct sim_peer *np = peer_get_or_new(sm, in->peer_address);
		size_t oldpi = s->pi, newpi;

		if (!np || !peer_add_sess(np, s)) {
			if (np)
				peer_maybe_free(sm, np);
			goto nomem;
		}
		/* the restart below takes the link down: let BGP see it against the old peer */
		for (i = 0; was && i < s->nnb; i++)
			nb_link(s->nb[i], now, false);
		newpi = s->pi;
		s->pi = oldpi;
		peer_del_sess(oldpeer, s);
		s->pi = newpi;
		s->peer = np;
		peer_maybe_free(sm, oldpeer);
	}
	/* counters survive for tunnels whose selector is unchanged at the same index */
	for (i = 0; i < nc.ntunnels && i < s->cfg.ntunnels; i++)
		if (prefix_eq(&s->cfg.tunnels[i].local, &nc.tunnels[i].local) &&
		    prefix_eq(&s->cfg.tunnels[i].peer, &nc.tunnels[i].peer))
			tun[i].c = s->tun[i].c;
	rebind = fresh || s->cfg.route_based != in->route_based || s->cfg.has_vti != in->has_vti ||
		 (in->has_vti && !prefix_eq(&s->cfg.vti, &in->vti));
	scfg_free(&s->cfg);
	free(s->tun);
	s->cfg = nc;
	s->tun = tun;
	s->traffic = false;
	sess_start(s, now);
	s->t = now;
	sess_notify(s, was, now);
	if (rebind) {
		sess_vti_out(sm, s);
		sess_vti_in(sm, s);
		sess_rebind(sm, s, now);
	}
	sched_sess(sm, s);
	return VPN_OK;
nomem:
	scfg_free(&nc);
	free(tun);
	if (fresh)
		free(fresh->path);
	free(fresh);
	return vpn_error_set(err, VPN_E_NOMEM, 0, "sim: out of memory");
}

static void
sim_remove_session(struct rz_backend *b, const char *path, int64_t now)
{
	struct sim *sm = sim_of(b);
	struct sim_sess *s;

	if (!sm || !path)
		return;
	sim_tick(b, now);
	s = hmap_del(&sm->sessions, path);
	if (!s)
		return;
	sess_catch_up(sm, s, sm->now);
	q_set(sm, s, NULL, NEVER);
	while (s->nnb) {
		struct sim_nb *n = s->nb[s->nnb - 1];

		nb_link(n, sm->now, false);	/* the tunnel is gone: hold timer runs */
		nb_bind(sm, n, NULL);
		sched_nb(sm, n);
	}
	sess_vti_out(sm, s);
	sess_peer_detach(sm, s);
	sess_free(s);
}

/* ---- neighbors: configuration ---- */

static bool
nb_cfg_same(const struct rz_neighbor *a, const struct rz_neighbor *b)
{
	return netaddr_cmp(&a->addr, &b->addr) == 0 && a->remote_as == b->remote_as &&
	       a->local_as == b->local_as && !strcmp(a->password, b->password) &&
	       a->enabled == b->enabled && a->keepalive_s == b->keepalive_s &&
	       a->hold_s == b->hold_s;
}

static void
nb_free(struct sim_nb *n)
{
	if (!n)
		return;
	free(n->adv);
	explicit_bzero(n->cfg.password, sizeof(n->cfg.password));
	free(n);
}

static enum vpn_err
sim_apply_neighbor(struct rz_backend *b, const struct rz_neighbor *in, int64_t now,
		   struct vpn_error *err)
{
	struct sim *sm = sim_of(b);
	struct sim_nb *n, *fresh = NULL;
	struct netprefix *adv = NULL;
	bool same;

	if (!sm || !in || !in->path[0] || (in->nadvertise && !in->advertise))
		return vpn_error_set(err, VPN_E_INVALID, 0, "sim: incomplete neighbor");
	sim_tick(b, now);
	now = sm->now;
	if (in->nadvertise) {
		adv = malloc(in->nadvertise * sizeof(*adv));
		if (!adv)
			return vpn_error_set(err, VPN_E_NOMEM, 0, "sim: out of memory");
		memcpy(adv, in->advertise, in->nadvertise * sizeof(*adv));
	}
	n = hmap_get(&sm->neighbors, in->path);
	if (n) {
		nb_catch_up(sm, n, now);	/* under its old configuration */
	} else {
		fresh = n = q_reserve(sm) ? calloc(1, sizeof(*n)) : NULL;
		if (n) {
			n->cfg = *in;
			n->qi = QNONE;
		}
		if (!n || hmap_put(&sm->neighbors, n->cfg.path, n, NULL)) {
			free(adv);
			free(fresh);
			return vpn_error_set(err, VPN_E_NOMEM, 0, "sim: out of memory");
		}
		n->st = RZ_BGP_IDLE;
		n->ev = NEVER;
		n->quiet = NEVER;
		n->quiet_end = NEVER;
		n->t = now;
	}
	same = !fresh && nb_cfg_same(&n->cfg, in);
	free(n->adv);
	n->cfg = *in;
	n->adv = adv;
	n->cfg.advertise = adv;
	if (same)
		return VPN_OK;		/* filters, advertised networks, allow_as_in: read live */
	nb_bind(sm, n, vti_lookup(sm, &n->cfg.addr));
	nb_reset(n, now);
	sched_nb(sm, n);
	return VPN_OK;
}

static void
sim_remove_neighbor(struct rz_backend *b, const char *path, int64_t now)
{
	struct sim *sm = sim_of(b);
	struct sim_nb *n;

	if (!sm || !path)
		return;
	sim_tick(b, now);
	n = hmap_del(&sm->neighbors, path);
	if (!n)
		return;
	q_set(sm, NULL, n, NEVER);
	if (n->sess)
		ptr_remove((void **)n->sess->nb, &n->sess->nnb, n);
	hmap_del(&sm->unbound, n->cfg.path);
	nb_free(n);
}

/* ---- views ---- */

static enum vpn_err
sim_session_status(struct rz_backend *b, const char *path, struct rz_session_status *out)
{
	struct sim *sm = sim_of(b);
	struct sim_sess *s;
	size_t i;

	memset(out, 0, sizeof(*out));
	s = sm && path ? hmap_get(&sm->sessions, path) : NULL;
	if (!s)
		return VPN_E_NOT_FOUND;
	if (s->cfg.ntunnels) {
		out->tunnels = calloc(s->cfg.ntunnels, sizeof(*out->tunnels));
		if (!out->tunnels)
			return VPN_E_NOMEM;
	}
	out->ike = s->ike;
	snprintf(out->fail_reason, sizeof(out->fail_reason), "%s", s->fail);
	out->ntunnels = s->cfg.ntunnels;
	for (i = 0; i < s->cfg.ntunnels; i++) {
		struct rz_tunnel_status *ts = &out->tunnels[i];

		ts->up = s->tun[i].up;
		snprintf(ts->down_reason, sizeof(ts->down_reason), "%s",
			 s->tun[i].up ? "" : s->tun[i].down);
		ts->sel.local = s->cfg.tunnels[i].local;
		ts->sel.peer = s->cfg.tunnels[i].peer;
		snprintf(ts->sel.rule_path, sizeof(ts->sel.rule_path), "%s",
			 s->cfg.tunnels[i].rule_path);
		ts->c = s->tun[i].c;
	}
	out->last_update_ms = sm->now;
	return VPN_OK;
}

static enum vpn_err
sim_reset_counters(struct rz_backend *b, const char *path)
{
	struct sim *sm = sim_of(b);
	struct sim_sess *s = sm && path ? hmap_get(&sm->sessions, path) : NULL;
	size_t i;

	if (!s)
		return VPN_E_NOT_FOUND;
	for (i = 0; i < s->cfg.ntunnels; i++)
		memset(&s->tun[i].c, 0, sizeof(s->tun[i].c));
	return VPN_OK;
}

/*
 * Learned or advertised routes of @n (only while ESTABLISHED). With @out NULL, only count.
 * @out, when given, has room for every candidate (announcements or advertised networks).
 */
static size_t
nb_routes(const struct sim_nb *n, bool advertised, struct rz_route *out)
{
	const struct sim_def *d;
	size_t i, k = 0;

	if (n->st != RZ_BGP_ESTABLISHED)
		return 0;
	if (advertised) {
		for (i = 0; i < n->cfg.nadvertise; i++) {
			struct netprefix net = n->adv[i];

			prefix_mask(&net);
			if (pl_match(n->cfg.out_filter, &net, NULL) != PL_PERMIT)
				continue;
			if (out) {
				struct rz_route *r = &out[k];

				memset(r, 0, sizeof(*r));
				r->net = net;
				snprintf(r->next_hop, sizeof(r->next_hop), "%s",
					 n->sess ? n->sess->vti_addr : "");
				snprintf(r->as_path, sizeof(r->as_path), "%u", n->cfg.local_as);
				r->med = 0;
				r->local_pref = 100;
				r->weight = 32768;	/* locally originated, as FRR shows it */
			}
			k++;
		}
		return k;
	}
	d = n->sess ? n->sess->peer->def : NULL;
	for (i = 0; d && i < d->nannounce; i++) {
		const struct sim_announce *a = &d->announce[i];
		uint32_t local_as = n->cfg.local_as;

		if (pl_match(n->cfg.in_filter, &a->net, NULL) != PL_PERMIT)
			continue;
		if (!n->cfg.allow_as_in && aspath_any(a->as_path, tok_is_as, &local_as))
			continue;	/* our own AS in the path: loop prevention */
		if (out) {
			struct rz_route *r = &out[k];

			memset(r, 0, sizeof(*r));
			r->net = a->net;
			snprintf(r->next_hop, sizeof(r->next_hop), "%s", n->cfg.addr_text);
			if (a->as_path[0])
				snprintf(r->as_path, sizeof(r->as_path), "%s", a->as_path);
			else
				snprintf(r->as_path, sizeof(r->as_path), "%u", eff_as(d, n));
			r->med = a->med;
			r->local_pref = 100;
			r->weight = 0;
		}
		k++;
	}
	return k;
}

static enum vpn_err
sim_bgp_status(struct rz_backend *b, const char *path, struct rz_bgp_status *out)
{
	struct sim *sm = sim_of(b);
	struct sim_nb *n = sm && path ? hmap_get(&sm->neighbors, path) : NULL;

	memset(out, 0, sizeof(*out));
	if (!n)
		return VPN_E_NOT_FOUND;
	/* the counters below are read at sm->now: bring this neighbor there (nothing is due) */
	nb_catch_up(sm, n, sm->now);
	out->state = n->st;
	snprintf(out->source_address, sizeof(out->source_address), "%s",
		 n->sess ? n->sess->vti_addr : "");
	snprintf(out->neighbor_router_id, sizeof(out->neighbor_router_id), "%s",
		 n->st == RZ_BGP_ESTABLISHED ? n->cfg.addr_text : "0.0.0.0");
	/* keepalives keep being sent during a silence; none is received */
	out->messages_sent = n->sent_base + nb_msgs(n, sm->now);
	out->messages_received = n->recv_base + nb_msgs_recv(n, sm->now);
	out->time_since_established_s =
		n->st == RZ_BGP_ESTABLISHED && sm->now > n->est_at ? (sm->now - n->est_at) / 1000 : 0;
	out->connection_drop_count = n->drops;
	out->established_connection_count = n->ests;
	out->in_prefix_count = nb_routes(n, false, NULL);
	out->out_prefix_count = nb_routes(n, true, NULL);
	out->hold_time_s = n->cfg.hold_s;
	out->keepalive_s = n->cfg.keepalive_s;
	out->last_update_ms = sm->now;
	return VPN_OK;
}

static enum vpn_err
sim_routes(struct rz_backend *b, const char *path, bool advertised, struct rz_route **out,
	   size_t *n)
{
	struct sim *sm = sim_of(b);
	struct sim_nb *nb = sm && path ? hmap_get(&sm->neighbors, path) : NULL;
	const struct sim_def *d;
	size_t cap;

	*out = NULL;
	*n = 0;
	if (!nb)
		return VPN_E_NOT_FOUND;
	d = nb->sess ? nb->sess->peer->def : NULL;
	cap = advertised ? nb->cfg.nadvertise : d ? d->nannounce : 0;
	if (!cap || nb->st != RZ_BGP_ESTABLISHED)
		return VPN_OK;
	*out = calloc(cap, sizeof(**out));
	if (!*out)
		return VPN_E_NOMEM;
	*n = nb_routes(nb, advertised, *out);
	if (!*n) {
		free(*out);
		*out = NULL;
	}
	return VPN_OK;
}

static void
sim_destroy(struct rz_backend *b)
{
	struct sim *sm = sim_of(b);
	size_t pos = 0;
	const char *key;
	void *val;

	if (!sm)
		return;
	while (hmap_next(&sm->sessions, &pos, &key, &val))
		sess_free(val);
	pos = 0;
	while (hmap_next(&sm->neighbors, &pos, &key, &val))
		nb_free(val);
	pos = 0;
	while (hmap_next(&sm->peers, &pos, &key, &val)) {
		struct sim_peer *p = val;

		def_free(p->def);
		free(p->sess);
		free(p);
	}
	hmap_release(&sm->sessions);
	hmap_release(&sm->neighbors);
	hmap_release(&sm->peers);
	hmap_release(&sm->vti);
	hmap_release(&sm->unbound);
	free(sm->q);
	free(sm);
}

static const struct rz_backend_ops sim_ops = {
	.name = "sim",
	.apply_session = sim_apply_session,
	.remove_session = sim_remove_session,
	.apply_neighbor = sim_apply_neighbor,
	.remove_neighbor = sim_remove_neighbor,
	.tick = sim_tick,
	.session_status = sim_session_status,
	.reset_counters = sim_reset_counters,
	.bgp_status = sim_bgp_status,
	.routes = sim_routes,
	.destroy = sim_destroy,
};

uint64_t
sim_work(struct rz_backend *b)
{
	struct sim *sm = sim_of(b);

	return sm ? sm->work : 0;
}

void
sim_set_eager(struct rz_backend *b, bool eager)
{
	struct sim *sm = sim_of(b);

	if (sm)
		sm->eager = eager;
}

struct rz_backend *
sim_backend_new(void)
{
	struct sim *sm = calloc(1, sizeof(*sm));

	if (!sm)
		return NULL;
	sm->base.ops = &sim_ops;
	hmap_init(&sm->sessions);
	hmap_init(&sm->peers);
	hmap_init(&sm->neighbors);
	hmap_init(&sm->vti);
	hmap_init(&sm->unbound);
	return &sm->base;
}

/* ---- the emulator API: peer definitions ---- */

#define BAD(...)								\
	do {									\
		vpn_error_add(err, VPN_E_INVALID, NSX_EC_INVALID, __VA_ARGS__);	\
		nbad++;								\
	} while (0)

/* A JSON string of 1..@max bytes without NUL; the value is never quoted in errors. */
static bool
jstr_ok(const json_t *v, size_t min, size_t max)
{
	size_t n;

	if (!json_is_string(v))
		return false;
	n = json_string_length(v);
	return n >= min && n <= max && strlen(json_string_value(v)) == n;
}

/*
 * A JSON string of @min..@max characters (UTF-8 code points, as the API validates secrets and
 * ids), without NUL, that fits a buffer of @cap bytes with its terminator (the buffers are
 * sized for 4 bytes per character, so the last check is a safeguard).
 */
static bool
jstr_chars_ok(const json_t *v, size_t min, size_t max, size_t cap)
{
	const char *s;
	size_t n, i, chars = 0;

	if (!json_is_string(v))
		return false;
	s = json_string_value(v);
	n = json_string_length(v);
	if (strlen(s) != n || n >= cap || !util_utf8_valid(s, n))
		return false;
	for (i = 0; i < n; i++)
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			chars++;
	return chars >= min && chars <= max;
}

static bool
parse_algs(const json_t *arr, unsigned (*bit)(const char *), unsigned *out)
{
	unsigned m = 0;
	json_t *v;
	size_t i;

	if (!json_is_array(arr))
		return false;
	json_array_foreach(arr, i, v) {
		unsigned x = json_is_string(v) ? bit(json_string_value(v)) : 0;

		if (!x)
			return false;
		m |= x;
	}
	*out = m;
	return true;
}

static int
parse_props(const json_t *o, const char *name, bool esp, struct sim_def *d,
	    struct vpn_error *err)
{
	struct sim_props *p = esp ? &d->esp : &d->ike;
	const char *k;
	json_t *v;
	int nbad = 0;

	if (!json_is_object(o)) {
		BAD("%s must be an object", name);
		return nbad;
	}
	json_object_foreach((json_t *)o, k, v) {
		if (!strcmp(k, "encryption_algorithms")) {
			if (!parse_algs(v, rz_enc_bit, &p->enc))
				BAD("%s.%s must be an array of known algorithm names", name, k);
			p->has_enc = true;
		} else if (!strcmp(k, "digest_algorithms")) {
			if (!parse_algs(v, rz_digest_bit, &p->digest))
				BAD("%s.%s must be an array of known algorithm names", name, k);
			p->has_digest = true;
		} else if (!strcmp(k, "dh_groups")) {
			if (!parse_algs(v, rz_dh_bit, &p->dh))
				BAD("%s.%s must be an array of DH group names (GROUPn)", name, k);
			p->has_dh = true;
		} else if (esp && !strcmp(k, "enable_perfect_forward_secrecy")) {
			if (!json_is_boolean(v))
				BAD("%s.%s must be a boolean", name, k);
			d->has_pfs = true;
			d->pfs = json_is_true(v);
		} else {
			BAD("%s.%.64s is not a known member", name, k);
		}
	}
	return nbad;
}

static int
parse_cidrs(const json_t *arr, const char *name, struct netprefix **out, size_t *n,
	    struct vpn_error *err)
{
	json_t *v;
	size_t i;
	int nbad = 0;

	if (!json_is_array(arr)) {
		BAD("subnets.%s must be an array of CIDR strings", name);
		return nbad;
	}
	*n = 0;
	if (json_array_size(arr) == 0)
		return 0;
	*out = calloc(json_array_size(arr), sizeof(**out));
	if (!*out) {
		BAD("subnets.%s: out of memory", name);
		return nbad;
	}
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v) || !netprefix_parse(json_string_value(v), &(*out)[i]))
			BAD("subnets.%s[%zu] must be a CIDR string", name, i);
		else
			prefix_mask(&(*out)[i]);
	}
	*n = json_array_size(arr);
	return nbad;
}

static int
parse_announce(const json_t *arr, struct sim_def *d, struct vpn_error *err)
{
	json_t *a;
	size_t i;
	int nbad = 0;

	if (!json_is_array(arr)) {
		BAD("bgp.announce must be an array");
		return nbad;
	}
	if (json_array_size(arr) == 0)
		return 0;
	d->announce = calloc(json_array_size(arr), sizeof(*d->announce));
	if (!d->announce) {
		BAD("bgp.announce: out of memory");
		return nbad;
	}
	json_array_foreach(arr, i, a) {
		struct sim_announce *an = &d->announce[i];
		const char *k;
		json_t *v;

		if (!json_is_object(a)) {
			BAD("bgp.announce[%zu] must be an object", i);
			continue;
		}
		if (!json_object_get(a, "network"))
			BAD("bgp.announce[%zu].network is required", i);
		json_object_foreach(a, k, v) {
			if (!strcmp(k, "network")) {
				if (!json_is_string(v) ||
				    !netprefix_parse(json_string_value(v), &an->net))
					BAD("bgp.announce[%zu].network must be a CIDR string", i);
				prefix_mask(&an->net);
			} else if (!strcmp(k, "as_path")) {
				if (!jstr_ok(v, 0, sizeof(an->as_path) - 1) ||
				    aspath_any(json_string_value(v), tok_bad, NULL))
					BAD("bgp.announce[%zu].as_path must be AS numbers separated "
					    "by spaces", i);
				else
					snprintf(an->as_path, sizeof(an->as_path), "%s",
						 json_string_value(v));
			} else if (!strcmp(k, "med")) {
				if (!json_is_integer(v) || json_integer_value(v) < 0 ||
				    json_integer_value(v) > UINT32_MAX)
					BAD("bgp.announce[%zu].med must be an integer from 0 to "
					    "4294967295", i);
				else
					an->med = json_integer_value(v);
			} else {
				BAD("bgp.announce[%zu].%.64s is not a known member", i, k);
			}
		}
	}
	d->nannounce = json_array_size(arr);
	return nbad;
}

static int
parse_bgp(const json_t *o, struct sim_def *d, struct vpn_error *err)
{
	const char *k;
	json_t *v;
	int nbad = 0;

	if (!json_is_object(o)) {
		BAD("bgp must be an object");
		return nbad;
	}
	json_object_foreach((json_t *)o, k, v) {
		if (!strcmp(k, "as")) {
			d->has_as = true;
			if (json_is_integer(v) && json_integer_value(v) >= 1 &&
			    json_integer_value(v) <= UINT32_MAX)
				d->as = (uint32_t)json_integer_value(v);
			else if (!jstr_ok(v, 1, 15) || !util_parse_asn(json_string_value(v), &d->as) ||
				 !d->as)
				BAD("bgp.as must be an AS number from 1 to 4294967295");
		} else if (!strcmp(k, "password")) {
			d->has_password = true;
			if (!jstr_chars_ok(v, 0, 32, sizeof(d->password)))
				BAD("bgp.password must be a string of at most 32 characters");
			else
				snprintf(d->password, sizeof(d->password), "%s",
					 json_string_value(v));
		} else if (!strcmp(k, "announce")) {
			nbad += parse_announce(v, d, err);
		} else {
			BAD("bgp.%.64s is not a known member", k);
		}
	}
	return nbad;
}

static int
parse_faults(const json_t *o, struct sim_def *d, struct vpn_error *err)
{
	const char *k;
	json_t *v;
	int nbad = 0;

	if (!json_is_object(o)) {
		BAD("faults must be an object");
		return nbad;
	}
	json_object_foreach((json_t *)o, k, v) {
		if (!strcmp(k, "flap_period_ms")) {
			/* at most a year: a longer period is just "unreachable later" */
			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 366LL * 86400 * 1000)
				BAD("faults.flap_period_ms must be an integer from 0 to 31622400000");
			else
				d->flap_ms = json_integer_value(v);
		} else if (!strcmp(k, "rekey_failure")) {
			if (!json_is_boolean(v))
				BAD("faults.rekey_failure must be a boolean");
			d->rekey_failure = json_is_true(v);
		} else {
			BAD("faults.%.64s is not a known member", k);
		}
	}
	return nbad;
}

static bool
parse_bool(const json_t *v, bool *out)
{
	if (!json_is_boolean(v))
		return false;
	*out = json_is_true(v);
	return true;
}

/* Parse @j into a new definition. Errors name members and never quote values. */
static enum vpn_err
def_parse(const json_t *j, struct sim_def **out, struct vpn_error *err)
{
	struct sim_def *d;
	const char *k;
	json_t *v;
	int nbad = 0;

	*out = NULL;
	if (!json_is_object(j))
		return vpn_error_set(err, VPN_E_INVALID, NSX_EC_INVALID,
				     "a peer definition must be a JSON object");
	d = calloc(1, sizeof(*d));
	if (!d)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	d->reachable = true;
	d->responds = true;
	json_object_foreach((json_t *)j, k, v) {
		if (!strcmp(k, "psk")) {
			d->has_psk = true;
			if (!jstr_chars_ok(v, 1, 128, sizeof(d->psk)))
				BAD("psk must be a string of 1 to 128 characters");
			else
				snprintf(d->psk, sizeof(d->psk), "%s", json_string_value(v));
		} else if (!strcmp(k, "local_id")) {
			d->has_local_id = true;
			if (!jstr_chars_ok(v, 1, 255, sizeof(d->local_id)))
				BAD("local_id must be a string of 1 to 255 characters");
			else
				snprintf(d->local_id, sizeof(d->local_id), "%s",
					 json_string_value(v));
		} else if (!strcmp(k, "ike_version")) {
			const char *s = json_string_value(v);

			d->has_version = true;
			if (s && !strcmp(s, "IKE_V1"))
				d->version = RZ_IKE_V1;
			else if (s && !strcmp(s, "IKE_V2"))
				d->version = RZ_IKE_V2;
			else if (s && !strcmp(s, "IKE_FLEX"))
				d->version = RZ_IKE_FLEX;
			else
				BAD("ike_version must be one of IKE_V1, IKE_V2, IKE_FLEX");
		} else if (!strcmp(k, "ike")) {
			nbad += parse_props(v, "ike", false, d, err);
		} else if (!strcmp(k, "esp")) {
			nbad += parse_props(v, "esp", true, d, err);
		} else if (!strcmp(k, "reachable")) {
			if (!parse_bool(v, &d->reachable))
				BAD("reachable must be a boolean");
		} else if (!strcmp(k, "initiates")) {
			d->has_initiates = true;
			if (!parse_bool(v, &d->initiates))
				BAD("initiates must be a boolean");
		} else if (!strcmp(k, "responds")) {
			if (!parse_bool(v, &d->responds))
				BAD("responds must be a boolean");
		} else if (!strcmp(k, "subnets")) {
			d->has_subnets = true;
			if (!json_is_object(v) || json_object_size(v) != 2) {
				BAD("subnets must be an object with exactly \"local\" and "
				    "\"remote\"");
			} else {
				nbad += parse_cidrs(json_object_get(v, "local"), "local", &d->local,
						    &d->nlocal, err);
				nbad += parse_cidrs(json_object_get(v, "remote"), "remote",
						    &d->remote, &d->nremote, err);
			}
		} else if (!strcmp(k, "bgp")) {
			nbad += parse_bgp(v, d, err);
		} else if (!strcmp(k, "faults")) {
			nbad += parse_faults(v, d, err);
		} else {
			BAD("%.64s is not a known member of a peer definition", k);
		}
	}
	if (nbad) {
		def_free(d);
		return VPN_E_INVALID;
	}
	*out = d;
	return VPN_OK;
}

/* Put @nd (NULL: forget) in place of @p's definition at @now, restarting what must restart. */
static void
peer_set_def(struct sim *sm, struct sim_peer *p, struct sim_def *nd, int64_t now)
{
	struct sim_def *od = p->def;
	bool old_r = od ? od->reachable : true, new_r = nd ? nd->reachable : true;
	int64_t old_f = od ? od->flap_ms : 0, new_f = nd ? nd->flap_ms : 0;
	size_t i, j;

	for (i = 0; i < p->nsess; i++)
		sess_catch_up(sm, p->sess[i], now);	/* under the old pattern */
	for (i = 0; i < p->nsess; i++)
		for (j = 0; j < p->sess[i]->nnb; j++)
			nb_pin_quiet(p->sess[i]->nb[j], now);
	if (old_r != new_r || old_f != new_f)
		p->reach_t0 = now;	/* a new reachability pattern starts now */
	p->def = nd;
	for (i = 0; i < p->nsess; i++)
		for (j = 0; j < p->sess[i]->nnb; j++)
			nb_repattern(p->sess[i]->nb[j], now);
	for (i = 0; i < p->nsess; i++) {
		struct sim_sess *s = p->sess[i];
		struct sim_eff eo, en;

		eff_get(s, od, &eo);
		eff_get(s, nd, &en);
		if (!eff_same(&eo, &en))
			sess_restart(s, now);	/* the peer restarted with another config */
		else if ((od && od->rekey_failure) != (nd && nd->rekey_failure))
			sess_children_refault(s, now);
		for (j = 0; j < s->nnb; j++) {
			struct sim_nb *n = s->nb[j];

			if (eff_as(od, n) != eff_as(nd, n) ||
			    strcmp(eff_password(od, n), eff_password(nd, n)))
				nb_reset(n, now);
		}
		sched_sess(sm, s);
	}
	def_free(od);
	if (!nd)
		peer_maybe_free(sm, p);
}

enum vpn_err
sim_peer_define(struct rz_backend *b, const char *peer_address, const json_t *def,
		int64_t now, struct vpn_error *err)
{
	struct sim *sm = sim_of(b);
	struct sim_def *d = NULL;
	struct sim_peer *p;
	struct netaddr a;
	enum vpn_err rc;

	if (!sm)
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "not a sim backend");
	if (!peer_address || strlen(peer_address) >= sizeof(p->addr) ||
	    !netaddr_parse(peer_address, &a))
		return vpn_error_set(err, VPN_E_INVALID, NSX_EC_INVALID,
				     "peer_address must be an IPv4 or IPv6 address");
	rc = def_parse(def, &d, err);
	if (rc)
		return rc;
	sim_tick(b, now);
	p = peer_get_or_new(sm, peer_address);
	if (!p) {
		def_free(d);
		return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	}
	peer_set_def(sm, p, d, sm->now);
	return VPN_OK;
}

enum vpn_err
sim_peer_forget(struct rz_backend *b, const char *peer_address, int64_t now)
{
	struct sim *sm = sim_of(b);
	struct sim_peer *p = sm && peer_address ? hmap_get(&sm->peers, peer_address) : NULL;

	if (!p || !p->def)
		return VPN_E_NOT_FOUND;
	sim_tick(b, now);
	peer_set_def(sm, p, NULL, sm->now);
	return VPN_OK;
}

/* ---- the emulator API: views of peers ---- */

static json_t *
algs_json(unsigned mask, int kind)
{
	static const struct { unsigned bit; const char *name; } enc[] = {
		{ RZ_ENC_AES_128, "AES_128" }, { RZ_ENC_AES_256, "AES_256" },
		{ RZ_ENC_AES_GCM_128, "AES_GCM_128" }, { RZ_ENC_AES_GCM_192, "AES_GCM_192" },
		{ RZ_ENC_AES_GCM_256, "AES_GCM_256" },
		{ RZ_ENC_GMAC_128, "NO_ENCRYPTION_AUTH_AES_GMAC_128" },
		{ RZ_ENC_GMAC_192, "NO_ENCRYPTION_AUTH_AES_GMAC_192" },
		{ RZ_ENC_GMAC_256, "NO_ENCRYPTION_AUTH_AES_GMAC_256" },
		{ RZ_ENC_NULL, "NO_ENCRYPTION" },
	}, dig[] = {
		{ RZ_DIG_SHA1, "SHA1" }, { RZ_DIG_SHA2_256, "SHA2_256" },
		{ RZ_DIG_SHA2_384, "SHA2_384" }, { RZ_DIG_SHA2_512, "SHA2_512" },
	};
	json_t *a = json_array();
	unsigned g;
	size_t i;

	if (kind == 2) {
		for (g = 0; g < 32; g++)
			if (mask & RZ_DH(g))
				json_array_append_new(a, json_sprintf("GROUP%u", g));
	} else {
		size_t n = kind ? sizeof(dig) / sizeof(dig[0]) : sizeof(enc) / sizeof(enc[0]);

		for (i = 0; i < n; i++) {
			unsigned bit = kind ? dig[i].bit : enc[i].bit;

			if (mask & bit)
				json_array_append_new(a, json_string(kind ? dig[i].name :
								     enc[i].name));
		}
	}
	return a;
}

static json_t *
props_json(unsigned enc, unsigned digest, unsigned dh)
{
	return json_pack("{s:o, s:o, s:o}", "encryption_algorithms", algs_json(enc, 0),
			 "digest_algorithms", algs_json(digest, 1), "dh_groups", algs_json(dh, 2));
}

static json_t *
cidrs_json(const struct netprefix *v, size_t n)
{
	json_t *a = json_array();
	char buf[64];
	size_t i;

	for (i = 0; i < n; i++) {
		prefix_format(&v[i], buf, sizeof(buf));
		json_array_append_new(a, json_string(buf));
	}
	return a;
}

static const char *
version_name(enum rz_ike_version v)
{
	return v == RZ_IKE_V1 ? "IKE_V1" : v == RZ_IKE_FLEX ? "IKE_FLEX" : "IKE_V2";
}

/*
 * The effective peer: with a session, the definition merged over the mirror of the first
 * session using the address; without one, the defined members only. Never psk or password.
 */
static json_t *
peer_json(const struct sim *sm, const struct sim_peer *p)
{
	const struct sim_def *d = p->def;
	const struct sim_sess *s0 = p->nsess ? p->sess[0] : NULL;
	json_t *o = json_object(), *sess = json_array(), *bgp = json_object(), *ann = json_array();
	size_t i;

	json_object_set_new(o, "peer_address", json_string(p->addr));
	json_object_set_new(o, "defined", json_boolean(d != NULL));
	for (i = 0; i < p->nsess; i++)
		json_array_append_new(sess, json_string(p->sess[i]->path));
	json_object_set_new(o, "sessions", sess);
	if (s0) {
		struct sim_eff e;

		eff_get(s0, d, &e);
		json_object_set_new(o, "local_id", json_string(e.local_id));
		json_object_set_new(o, "ike_version", json_string(version_name(e.version)));
		json_object_set_new(o, "ike", props_json(e.ike_enc, e.ike_digest, e.ike_dh));
		json_object_set_new(o, "esp", props_json(e.esp_enc, e.esp_digest, e.esp_dh));
		json_object_set_new(json_object_get(o, "esp"), "enable_perfect_forward_secrecy",
				    json_boolean(e.pfs));
		json_object_set_new(o, "initiates", json_boolean(e.initiates));
		json_object_set_new(o, "responds", json_boolean(e.responds));
	} else if (d) {
		if (d->has_local_id)
			json_object_set_new(o, "local_id", json_string(d->local_id));
		if (d->has_version)
			json_object_set_new(o, "ike_version", json_string(version_name(d->version)));
		if (d->has_initiates)
			json_object_set_new(o, "initiates", json_boolean(d->initiates));
		json_object_set_new(o, "responds", json_boolean(d->responds));
	}
	if (d && d->has_subnets)
		json_object_set_new(o, "subnets", json_pack("{s:o, s:o}", "local",
							    cidrs_json(d->local, d->nlocal),
							    "remote",
							    cidrs_json(d->remote, d->nremote)));
	json_object_set_new(o, "psk_defined", json_boolean(d && d->has_psk));
	json_object_set_new(o, "reachable", json_boolean(d ? d->reachable : true));
	json_object_set_new(o, "reachable_now", json_boolean(peer_reachable(p, sm->now)));
	if (d && d->has_as)
		json_object_set_new(bgp, "as", json_sprintf("%u", d->as));
	else if (s0 && s0->nnb)
		json_object_set_new(bgp, "as", json_string(s0->nb[0]->cfg.remote_as_text));
	json_object_set_new(bgp, "password_defined", json_boolean(d && d->has_password));
	for (i = 0; d && i < d->nannounce; i++) {
		char net[64];

		prefix_format(&d->announce[i].net, net, sizeof(net));
		json_array_append_new(ann, json_pack("{s:s, s:s, s:I}", "network", net, "as_path",
						     d->announce[i].as_path, "med",
						     (json_int_t)d->announce[i].med));
	}
	json_object_set_new(bgp, "announce", ann);
	json_object_set_new(o, "bgp", bgp);
	json_object_set_new(o, "faults", json_pack("{s:I, s:b}", "flap_period_ms",
						   (json_int_t)(d ? d->flap_ms : 0), "rekey_failure",
						   d && d->rekey_failure));
	return o;
}

json_t *
sim_peer_get(struct rz_backend *b, const char *peer_address)
{
	struct sim *sm = sim_of(b);
	struct sim_peer *p = sm && peer_address ? hmap_get(&sm->peers, peer_address) : NULL;

	return p ? peer_json(sm, p) : NULL;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *
sim_peer_list(struct rz_backend *b)
{
	struct sim *sm = sim_of(b);
	const char **keys;
	json_t *a = json_array();
	size_t pos = 0, n = 0, i;
	const char *key;
	void *val;

	if (!sm || !a || !sm->peers.used)
		return a;
	keys = calloc(sm->peers.used, sizeof(*keys));
	if (!keys) {
		json_decref(a);
		return NULL;
	}
	while (hmap_next(&sm->peers, &pos, &key, &val) && n < sm->peers.used)
		keys[n++] = key;
	qsort(keys, n, sizeof(*keys), cmp_str);		/* a stable order for clients */
	for (i = 0; i < n; i++)
		json_array_append_new(a, peer_json(sm, hmap_get(&sm->peers, keys[i])));
	free(keys);
	return a;
}

/* ---- the emulator API: traffic ---- */

/* *@a += @b, saturating at INT64_MAX: NSX counters are int64 and never wrap negative. */
static void
sat_add(uint64_t *a, uint64_t b)
{
	const uint64_t max = (uint64_t)INT64_MAX;

	if (*a > max)
		*a = max;
	*a = b > max - *a ? max : *a + b;
}

enum vpn_err
sim_traffic(struct rz_backend *b, const char *path, size_t tunnel, const struct rz_counters *c,
	    int64_t now, struct vpn_error *err)
{
	struct sim *sm = sim_of(b);
	struct sim_sess *s;
	struct rz_counters *t;

	if (!sm || !c)
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "not a sim backend");
	sim_tick(b, now);
	s = path ? hmap_get(&sm->sessions, path) : NULL;
	if (!s)
		return vpn_error_set(err, VPN_E_NOT_FOUND, 0, "no such session");
	if (tunnel >= s->cfg.ntunnels)
		return vpn_error_set(err, VPN_E_NOT_FOUND, 0, "the session has no tunnel %zu", tunnel);
	if (s->cfg.initiation == RZ_INIT_ON_DEMAND && c->packets_out > 0 && !s->traffic) {
		sess_catch_up(sm, s, sm->now);
		s->traffic = true;
		/* the first outbound packet triggers IKE (the packet itself is dropped) */
		if (s->ike == RZ_IKE_DOWN && s->ev == NEVER)
			sess_restart(s, sm->now);
		sched_sess(sm, s);
	}
	t = &s->tun[tunnel].c;
	if (s->ike == RZ_IKE_UP && s->tun[tunnel].up) {
		sat_add(&t->packets_in, c->packets_in);
		sat_add(&t->packets_out, c->packets_out);
		sat_add(&t->bytes_in, c->bytes_in);
		sat_add(&t->bytes_out, c->bytes_out);
	} else {
		sat_add(&t->dropped_packets_in, c->packets_in);
		sat_add(&t->dropped_packets_out, c->packets_out);
	}
	sat_add(&t->dropped_packets_in, c->dropped_packets_in);
	sat_add(&t->dropped_packets_out, c->dropped_packets_out);
	sat_add(&t->packets_received_other_error, c->packets_received_other_error);
	sat_add(&t->replay_errors, c->replay_errors);
	sat_add(&t->integrity_failures, c->integrity_failures);
	sat_add(&t->decryption_failures, c->decryption_failures);
	sat_add(&t->packets_sent_other_error, c->packets_sent_other_error);
	sat_add(&t->seq_number_overflow_error, c->seq_number_overflow_error);
	sat_add(&t->encryption_failures, c->encryption_failures);
	sat_add(&t->sa_mismatch_errors_in, c->sa_mismatch_errors_in);
	sat_add(&t->sa_mismatch_errors_out, c->sa_mismatch_errors_out);
	sat_add(&t->nomatching_policy_errors, c->nomatching_policy_errors);
	return VPN_OK;
}
