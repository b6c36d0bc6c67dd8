/*
 * rz.c - the realization engine: turns durable intent into backend calls, in order, on its own
 * thread, and keeps the realized state of every intent path.
 *
 * Locks: `qmu` guards only the notification queue (rz_notify is called on the store's writer
 * thread, possibly while the model is write-locked by its recovery: it must never wait for
 * anything else). `mu` guards the backend, the realized-state map and the compiled filters; the
 * engine takes `mu` and then reads the model (model locks nest inside `mu`, never the reverse).
 */
#include "realize/rz.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/hmap.h"
#include "core/log.h"
#include "core/util.h"
#include "model/model.h"
#include "realize/prefix.h"

#define RESYNC "\x01resync"		/* queue marker: re-derive everything */

struct realized {
	char *path;
	struct rz_realized_state st;
};

struct filters {
	char *path;			/* the neighbor */
	struct pl_list *in, *out;
	json_t *in_json, *out_json;	/* the lists' "prefixes", for rendering backends */
};

struct qitem {
	struct qitem *next;
	char path[];
};

struct rz {
	struct model *m;
	struct rz_backend *b;
	struct rz_config cfg;
	struct netprefix *advertise;

	pthread_mutex_t qmu;
	pthread_cond_t qcv;		/* work arrived / stop */
	pthread_cond_t idle_cv;		/* queue drained */
	struct qitem *head, **tailp;
	uint64_t notified, processed;	/* notifications queued / handled */
	bool stopping;
	pthread_t thread;
	bool running;

	pthread_mutex_t mu;
	struct hmap realized;		/* path -> struct realized */
	struct hmap filters;		/* neighbor path -> struct filters */
	int64_t last_now;
};

/* ---------------------------------------------------------------------------------------- */
/* names */

unsigned
rz_enc_bit(const char *n)
{
	static const struct { const char *name; unsigned bit; } t[] = {
		{ "AES_128", RZ_ENC_AES_128 }, { "AES_256", RZ_ENC_AES_256 },
		{ "AES_GCM_128", RZ_ENC_AES_GCM_128 }, { "AES_GCM_192", RZ_ENC_AES_GCM_192 },
		{ "AES_GCM_256", RZ_ENC_AES_GCM_256 },
		{ "NO_ENCRYPTION_AUTH_AES_GMAC_128", RZ_ENC_GMAC_128 },
		{ "NO_ENCRYPTION_AUTH_AES_GMAC_192", RZ_ENC_GMAC_192 },
		{ "NO_ENCRYPTION_AUTH_AES_GMAC_256", RZ_ENC_GMAC_256 },
		{ "NO_ENCRYPTION", RZ_ENC_NULL },
	};
	size_t i;

	for (i = 0; n && i < sizeof(t) / sizeof(t[0]); i++)
		if (!strcmp(n, t[i].name))
			return t[i].bit;
	return 0;
}

unsigned
rz_digest_bit(const char *n)
{
	if (!n)
		return 0;
	if (!strcmp(n, "SHA1"))
		return RZ_DIG_SHA1;
	if (!strcmp(n, "SHA2_256"))
		return RZ_DIG_SHA2_256;
	if (!strcmp(n, "SHA2_384"))
		return RZ_DIG_SHA2_384;
	if (!strcmp(n, "SHA2_512"))
		return RZ_DIG_SHA2_512;
	return 0;
}

unsigned
rz_dh_bit(const char *n)
{
	int64_t g;

	if (!n || strncmp(n, "GROUP", 5) || !util_parse_i64(n + 5, &g) || g < 1 || g > 31)
		return 0;
	return RZ_DH((unsigned)g);
}

const char *
rz_bgp_state_name(enum rz_bgp_state s)
{
	static const char *const names[] = { "IDLE", "CONNECT", "ACTIVE", "OPEN_SENT",
					     "OPEN_CONFIRM", "ESTABLISHED" };

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "UNKNOWN";
}

void
rz_session_status_release(struct rz_session_status *s)
{
	if (!s)
		return;
	free(s->tunnels);
	s->tunnels = NULL;
	s->ntunnels = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* reading the tree */

static json_t *
get_obj(struct rz *rz, const char *path, bool secrets)
{
	char *txt = NULL;
	size_t len = 0;
	json_t *o;

	if (!path || model_get(rz->m, path, secrets ? MODEL_GET_SECRETS : 0, &txt, &len, NULL))
		return NULL;
	o = json_loadb(txt, len, 0, NULL);
	if (secrets)
		explicit_bzero(txt, len);
	free(txt);
	return o;
}

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

static int64_t
jint(const json_t *o, const char *k, int64_t dflt)
{
	json_t *v = json_object_get(o, k);

	return json_is_integer(v) ? json_integer_value(v) : dflt;
}

static unsigned
mask_of(const json_t *arr, unsigned (*bit)(const char *))
{
	unsigned m = 0;
	size_t i;
	json_t *v;

	json_array_foreach(arr, i, v)
		m |= bit(json_string_value(v));
	return m;
}

static enum vpn_err
add_selector(struct rz_session *s, const char *local, const char *peer, const char *rule_path)
{
	struct rz_selector *nv = realloc(s->tunnels, (s->ntunnels + 1) * sizeof(*nv));
	struct rz_selector *t;

	if (!nv)
		return VPN_E_NOMEM;
	s->tunnels = nv;
	t = &s->tunnels[s->ntunnels];
	memset(t, 0, sizeof(*t));
	if (!netprefix_parse(local, &t->local) || !netprefix_parse(peer, &t->peer))
		return VPN_E_INVALID;
	snprintf(t->rule_path, sizeof(t->rule_path), "%s", rule_path ? rule_path : "");
	s->ntunnels++;
	return VPN_OK;
}

/* Policy-based: one tunnel per (source, destination) of each enabled rule; empty = 0/0. */
static enum vpn_err
policy_selectors(struct rz_session *s, const json_t *doc)
{
	json_t *rules = json_object_get(doc, "rules"), *r;
	size_t i;

	json_array_foreach(rules, i, r) {
		json_t *src = json_object_get(r, "sources"), *dst = json_object_get(r, "destinations");
		size_t ns = json_array_size(src), nd = json_array_size(dst), a, b;
		char rule_path[RZ_PATH_MAX];

		if (json_is_false(json_object_get(r, "enabled")))
			continue;
		if (snprintf(rule_path, sizeof(rule_path), "%s/rules/%s", s->path,
			     jstr(r, "id") ? jstr(r, "id") : "") >= (int)sizeof(rule_path))
			rule_path[0] = '\0';	/* ids are short; never in practice */
		for (a = 0; a < (ns ? ns : 1); a++) {
			for (b = 0; b < (nd ? nd : 1); b++) {
				const char *l = ns ? jstr(json_array_get(src, a), "subnet") : "0.0.0.0/0";
				const char *p = nd ? jstr(json_array_get(dst, b), "subnet") : "0.0.0.0/0";
				enum vpn_err rc = add_selector(s, l, p, rule_path);

				if (rc)
					return rc;
			}
		}
	}
	return VPN_OK;
}

/* Resolve session @path into @s. VPN_E_NOT_FOUND when the session is gone. */
static enum vpn_err
derive_session(struct rz *rz, const char *path, struct rz_session *s, int64_t *rev,
	       struct vpn_error *err)
{
	json_t *doc = NULL, *ike = NULL, *tun = NULL, *dpd = NULL, *le = NULL, *ti, *sub;
	const char *v;
	enum vpn_err rc = VPN_OK;

	memset(s, 0, sizeof(*s));
	doc = get_obj(rz, path, true);
	if (!doc)
		return VPN_E_NOT_FOUND;
	*rev = jint(doc, "_revision", -1);	/* the revision this derivation is of */
	snprintf(s->path, sizeof(s->path), "%s", path);
	snprintf(s->display_name, sizeof(s->display_name), "%s",
		 jstr(doc, "display_name") ? jstr(doc, "display_name") : "");
	s->route_based = jstr(doc, "resource_type") &&
			 !strcmp(jstr(doc, "resource_type"), "RouteBasedIPSecVpnSession");
	s->enabled = !json_is_false(json_object_get(doc, "enabled"));
	snprintf(s->peer_address, sizeof(s->peer_address), "%s",
		 jstr(doc, "peer_address") ? jstr(doc, "peer_address") : "");
	snprintf(s->peer_id, sizeof(s->peer_id), "%s",
		 jstr(doc, "peer_id") ? jstr(doc, "peer_id") : s->peer_address);
	snprintf(s->psk, sizeof(s->psk), "%s", jstr(doc, "psk") ? jstr(doc, "psk") : "");
	v = jstr(doc, "connection_initiation_mode");
	s->initiation = v && !strcmp(v, "RESPOND_ONLY") ? RZ_INIT_RESPOND_ONLY :
			v && !strcmp(v, "ON_DEMAND") ? RZ_INIT_ON_DEMAND : RZ_INIT_INITIATOR;

	le = get_obj(rz, jstr(doc, "local_endpoint_path"), false);
	ike = get_obj(rz, jstr(doc, "ike_profile_path"), false);
	tun = get_obj(rz, jstr(doc, "tunnel_profile_path"), false);
	dpd = get_obj(rz, jstr(doc, "dpd_profile_path"), false);
	if (!le || !ike || !tun || !dpd) {
		rc = vpn_error_set(err, VPN_E_INVALID, 0, "a referenced profile or local endpoint "
				   "is missing");
		goto out;
	}
	snprintf(s->local_address, sizeof(s->local_address), "%s",
		 jstr(le, "local_address") ? jstr(le, "local_address") : "");
	snprintf(s->local_id, sizeof(s->local_id), "%s",
		 jstr(le, "local_id") ? jstr(le, "local_id") : s->local_address);
	v = jstr(ike, "ike_version");
	s->ike.version = v && !strcmp(v, "IKE_V1") ? RZ_IKE_V1 :
			 v && !strcmp(v, "IKE_FLEX") ? RZ_IKE_FLEX : RZ_IKE_V2;
	s->ike.enc = mask_of(json_object_get(ike, "encryption_algorithms"), rz_enc_bit);
	s->ike.digest = mask_of(json_object_get(ike, "digest_algorithms"), rz_digest_bit);
	s->ike.dh = mask_of(json_object_get(ike, "dh_groups"), rz_dh_bit);
	s->ike.lifetime_s = jint(ike, "sa_life_time", 86400);
	s->esp.enc = mask_of(json_object_get(tun, "encryption_algorithms"), rz_enc_bit);
	s->esp.digest = mask_of(json_object_get(tun, "digest_algorithms"), rz_digest_bit);
	s->esp.dh = mask_of(json_object_get(tun, "dh_groups"), rz_dh_bit);
	s->esp.pfs = !json_is_false(json_object_get(tun, "enable_perfect_forward_secrecy"));
	s->esp.lifetime_s = jint(tun, "sa_life_time", 3600);
	s->dpd.enabled = !json_is_false(json_object_get(dpd, "enabled"));
	v = jstr(dpd, "dpd_probe_mode");
	s->dpd.periodic = !v || strcmp(v, "ON_DEMAND");
	s->dpd.interval_s = jint(dpd, "dpd_probe_interval", s->dpd.periodic ? 60 : 3);
	s->dpd.retries = jint(dpd, "retry_count", 5);
	{
		json_t *mss = json_object_get(doc, "tcp_mss_clamping");

		v = jstr(mss, "direction");
		s->mss.direction = !v ? RZ_MSS_NONE : !strcmp(v, "BOTH") ? RZ_MSS_BOTH :
				   !strcmp(v, "INBOUND_CONNECTION") ? RZ_MSS_INBOUND :
				   !strcmp(v, "OUTBOUND_CONNECTION") ? RZ_MSS_OUTBOUND : RZ_MSS_NONE;
		s->mss.mss = s->mss.direction ? jint(mss, "max_segment_size", 0) : 0;
	}

	if (s->route_based) {
		ti = json_array_get(json_object_get(doc, "tunnel_interfaces"), 0);
		sub = json_array_get(json_object_get(ti, "ip_subnets"), 0);
		if (netaddr_parse(json_string_value(json_array_get(json_object_get(sub,
								"ip_addresses"), 0)),
				  &s->vti.addr)) {
			s->vti.len = (uint8_t)jint(sub, "prefix_length", 30);
			s->has_vti = true;
		}
		if (snprintf(s->tunnel_interface_path, sizeof(s->tunnel_interface_path),
			     "%s/interfaces/%s", path,
			     jstr(ti, "id") ? jstr(ti, "id") : "default-tunnel-interface") >=
		    (int)sizeof(s->tunnel_interface_path))
			s->tunnel_interface_path[0] = '\0';
		rc = add_selector(s, "0.0.0.0/0", "0.0.0.0/0", NULL);
	} else {
		rc = policy_selectors(s, doc);
	}
	if (rc)
		vpn_error_set(err, rc, 0, "cannot derive the session's tunnels");
out:
	json_decref(doc);
	json_decref(le);
	json_decref(ike);
	json_decref(tun);
	json_decref(dpd);
	return rc;
}

static void
session_release(struct rz_session *s)
{
	free(s->tunnels);
	explicit_bzero(s->psk, sizeof(s->psk));
	s->tunnels = NULL;
	s->ntunnels = 0;
}

/* The first prefix-list path of @dir ("in_route_filters"/"out_route_filters") for IPv4. */
static const char *
filter_path(const json_t *doc, const char *dir)
{
	json_t *rf = json_object_get(doc, "route_filtering"), *e;
	size_t i;

	json_array_foreach(rf, i, e) {
		const char *af = jstr(e, "address_family");

		if (json_is_false(json_object_get(e, "enabled")))
			continue;
		if (!af || !strcmp(af, "IPV4"))
			return json_string_value(json_array_get(json_object_get(e, dir), 0));
	}
	return json_string_value(json_array_get(json_object_get(doc, dir), 0));
}

static enum vpn_err
compile_filter(struct rz *rz, const char *pl_path, struct pl_list **out, json_t **json_out,
	       struct vpn_error *err)
{
	json_t *pl;
	enum vpn_err rc;

	*out = NULL;
	*json_out = NULL;
	if (!pl_path)
		return VPN_OK;
	pl = get_obj(rz, pl_path, false);
	if (!pl)
		return vpn_error_set(err, VPN_E_INVALID, 0, "prefix list %s is missing", pl_path);
	rc = pl_compile(json_object_get(pl, "prefixes"), out, err);
	if (!rc)
		*json_out = json_incref(json_object_get(pl, "prefixes"));
	json_decref(pl);
	return rc;
}

static enum vpn_err
derive_neighbor(struct rz *rz, const char *path, struct rz_neighbor *n, struct filters *f,
		int64_t *rev, struct vpn_error *err)
{
	json_t *doc = get_obj(rz, path, true), *bgp = NULL;
	const char *id;
	enum vpn_err rc = VPN_OK;

	memset(n, 0, sizeof(*n));
	if (!doc)
		return VPN_E_NOT_FOUND;
	*rev = jint(doc, "_revision", -1);
	snprintf(n->path, sizeof(n->path), "%s", path);
	id = strrchr(path, '/');
	snprintf(n->id, sizeof(n->id), "%s", id ? id + 1 : path);
	snprintf(n->addr_text, sizeof(n->addr_text), "%s",
		 jstr(doc, "neighbor_address") ? jstr(doc, "neighbor_address") : "");
	if (!netaddr_parse(n->addr_text, &n->addr) ||
	    !util_parse_asn(jstr(doc, "remote_as_num"), &n->remote_as)) {
		rc = vpn_error_set(err, VPN_E_INVALID, 0, "neighbor address or AS unreadable");
		goto out;
	}
	snprintf(n->remote_as_text, sizeof(n->remote_as_text), "%s", jstr(doc, "remote_as_num"));
	snprintf(n->password, sizeof(n->password), "%s",
		 jstr(doc, "password") ? jstr(doc, "password") : "");
	n->enabled = !json_is_false(json_object_get(doc, "enabled"));
	n->allow_as_in = json_is_true(json_object_get(doc, "allow_as_in"));
	n->keepalive_s = jint(doc, "keep_alive_time", 60);
	n->hold_s = jint(doc, "hold_down_time", 180);
	bgp = get_obj(rz, "/infra/tier-0s/vmc/locale-services/default/bgp", false);
	if (!util_parse_asn(jstr(bgp, "local_as_num"), &n->local_as))
		n->local_as = 65000;
	rc = compile_filter(rz, filter_path(doc, "in_route_filters"), &f->in, &f->in_json, err);
	if (!rc)
		rc = compile_filter(rz, filter_path(doc, "out_route_filters"), &f->out,
				    &f->out_json, err);
	n->in_filter = f->in;
	n->out_filter = f->out;
	n->in_prefixes = f->in_json;
	n->out_prefixes = f->out_json;
	n->advertise = rz->advertise;
	n->nadvertise = rz->cfg.nadvertise;
out:
	json_decref(doc);
	json_decref(bgp);
	return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* realized state */

static struct realized *
realized_get(struct rz *rz, const char *path, bool create)
{
	struct realized *r = hmap_get(&rz->realized, path);

	if (r || !create)
		return r;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->path = strdup(path);
	if (!r->path || hmap_put(&rz->realized, r->path, r, NULL)) {
		free(r->path);
		free(r);
		return NULL;
	}
	return r;
}

static void
realized_drop(struct rz *rz, const char *path)
{
	struct realized *r = hmap_del(&rz->realized, path);

	if (r) {
		free(r->path);
		free(r);
	}
}

/* @rev: the _revision that was realized (-1: the current one, for paths never derived). */
static void
realized_set_rev(struct rz *rz, const char *path, enum rz_realized st, const char *error,
		 int64_t rev)
{
	struct realized *r = realized_get(rz, path, true);

	if (!r)
		return;
	r->st.state = st;
	r->st.intent_revision = rev >= 0 ? rev : model_revision(rz->m, path);
	snprintf(r->st.error, sizeof(r->st.error), "%s", error ? error : "");
	r->st.last_update_ms = util_now_ms();
}

static void
realized_set(struct rz *rz, const char *path, enum rz_realized st, const char *error)
{
	realized_set_rev(rz, path, st, error, -1);
}

static void
filters_free(struct filters *f)
{
	if (!f)
		return;
	pl_free(f->in);
	pl_free(f->out);
	json_decref(f->in_json);
	json_decref(f->out_json);
	free(f->path);
	free(f);
}

/* ---------------------------------------------------------------------------------------- */
/* realizing one path (engine thread, under mu) */

static int64_t
now_ms(struct rz *rz)
{
	int64_t now = clock_now_ms();

	/* the backend never sees time go backwards, even if the wall clock does */
	if (now < rz->last_now)
		now = rz->last_now;
	rz->last_now = now;
	return now;
}

static void
realize_session(struct rz *rz, const char *path)
{
	struct rz_session s;
	struct vpn_error err;
	int64_t rev = -1;
	enum vpn_err rc;

	vpn_error_clear(&err);
	rc = derive_session(rz, path, &s, &rev, &err);
	if (rc == VPN_E_NOT_FOUND) {
		rz->b->ops->remove_session(rz->b, path, now_ms(rz));
		realized_drop(rz, path);
	} else if (rc) {
		realized_set_rev(rz, path, RZ_ERROR, err.msg, rev);
	} else {
		rc = rz->b->ops->apply_session(rz->b, &s, now_ms(rz), &err);
		realized_set_rev(rz, path, rc ? RZ_ERROR : RZ_REALIZED, rc ? err.msg : NULL, rev);
	}
	session_release(&s);
}

static void
realize_neighbor(struct rz *rz, const char *path)
{
	struct rz_neighbor n;
	struct filters *f = calloc(1, sizeof(*f)), *old = NULL;
	struct vpn_error err;
	int64_t rev = -1;
	enum vpn_err rc;

	vpn_error_clear(&err);
	if (!f || !(f->path = strdup(path))) {
		filters_free(f);
		realized_set(rz, path, RZ_ERROR, "out of memory");
		return;
	}
	rc = derive_neighbor(rz, path, &n, f, &rev, &err);
	if (rc == VPN_E_NOT_FOUND) {
		rz->b->ops->remove_neighbor(rz->b, path, now_ms(rz));
		filters_free(hmap_del(&rz->filters, path));
		filters_free(f);
		realized_drop(rz, path);
	} else if (rc) {
		filters_free(f);
		realized_set_rev(rz, path, RZ_ERROR, err.msg, rev);
	} else {
		rc = rz->b->ops->apply_neighbor(rz->b, &n, now_ms(rz), &err);
		if (rc) {
			filters_free(f);
			realized_set_rev(rz, path, RZ_ERROR, err.msg, rev);
		} else {
			/* the backend now points at the new filters: the old ones can go */
			if (hmap_put(&rz->filters, f->path, f, (void **)&old)) {
				log_error("realize: out of memory keeping the filters of %s", path);
			}
			filters_free(old);
			realized_set_rev(rz, path, RZ_REALIZED, NULL, rev);
		}
	}
	explicit_bzero(n.password, sizeof(n.password));
}

static void realize_path(struct rz *rz, const char *path);

/* rz_stop() has begun: a long walk (a resync of 100k sessions) gives up. */
static bool
engine_stopping(struct rz *rz)
{
	bool stop;

	pthread_mutex_lock(&rz->qmu);
	stop = rz->stopping;
	pthread_mutex_unlock(&rz->qmu);
	return stop;
}

static void
realize_collection(struct rz *rz, const struct coll *c)
{
	struct model_paths ps;
	size_t i;

	if (model_collection_paths(rz->m, c, &ps))
		return;
	for (i = 0; i < ps.n && !engine_stopping(rz); i++)
		realize_path(rz, ps.v[i]);
	model_paths_release(&ps);
}

static void
realize_path(struct rz *rz, const char *path)
{
	const struct coll *c = model_coll_of(path);
	struct model_paths refs;
	size_t i;

	if (c == &coll_sessions) {
		realize_session(rz, path);
	} else if (c == &coll_bgp_neighbors) {
		realize_neighbor(rz, path);
	} else if (c == &coll_bgp_config) {
		realize_collection(rz, &coll_bgp_neighbors);
		realized_set(rz, path, RZ_REALIZED, NULL);
	} else if (c) {
		/* profiles, endpoints, prefix lists: realized through what refers to them */
		if (!model_referrers(rz->m, path, &refs)) {
			for (i = 0; i < refs.n && !engine_stopping(rz); i++)
				realize_path(rz, refs.v[i]);
			model_paths_release(&refs);
		}
		if (model_revision(rz->m, path) >= 0)
			realized_set(rz, path, RZ_REALIZED, NULL);
		else
			realized_drop(rz, path);
	}
}

static void
resync(struct rz *rz)
{
	struct model_paths ps;
	size_t pos = 0, i;
	const char *key;
	void *val;

	/* forget sessions/neighbors the tree no longer has, then realize everything */
	while (hmap_next(&rz->realized, &pos, &key, &val)) {
		if (model_revision(rz->m, key) < 0) {
			const struct coll *c = model_coll_of(key);

			if (c == &coll_sessions)
				rz->b->ops->remove_session(rz->b, key, now_ms(rz));
			else if (c == &coll_bgp_neighbors)
				rz->b->ops->remove_neighbor(rz->b, key, now_ms(rz));
		}
	}
	/* drop stale entries in a second pass (the iteration above must not mutate the map) */
	for (;;) {
		char *stale = NULL;

		pos = 0;
		while (hmap_next(&rz->realized, &pos, &key, &val))
			if (model_revision(rz->m, key) < 0) {
				stale = strdup(key);
				break;
			}
		if (!stale)
			break;
		filters_free(hmap_del(&rz->filters, stale));
		realized_drop(rz, stale);
		free(stale);
	}
	realize_collection(rz, &coll_sessions);
	realize_collection(rz, &coll_bgp_neighbors);
	for (i = 0; i < 3; i++) {
		static const struct coll *const others[] = { &coll_ike_profiles, &coll_tunnel_profiles,
							     &coll_dpd_profiles };

		if (!model_collection_paths(rz->m, others[i], &ps)) {
			size_t k;

			for (k = 0; k < ps.n; k++)
				realized_set(rz, ps.v[k], RZ_REALIZED, NULL);
			model_paths_release(&ps);
		}
	}
	if (!model_collection_paths(rz->m, &coll_prefix_lists, &ps)) {
		for (i = 0; i < ps.n; i++)
			realized_set(rz, ps.v[i], RZ_REALIZED, NULL);
		model_paths_release(&ps);
	}
}

/* ---------------------------------------------------------------------------------------- */
/* the thread */

static void *
engine_main(void *arg)
{
	struct rz *rz = arg;
	struct hmap seen;		/* paths realized in the current batch (keys borrowed) */

	hmap_init(&seen);
	pthread_mutex_lock(&rz->qmu);
	for (;;) {
		struct qitem *q, *it;
		uint64_t n;

		while (!rz->head && !rz->stopping) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += rz->cfg.tick_ms * 1000000L;
			ts.tv_sec += ts.tv_nsec / 1000000000L;
			ts.tv_nsec %= 1000000000L;
			if (pthread_cond_timedwait(&rz->qcv, &rz->qmu, &ts))
				break;		/* tick */
		}
		if (rz->stopping)
			break;
		/*
		 * Take everything queued (a burst of writes) and advance the backend once after it.
		 * The sim's tick only visits due objects (its event queue, docs/sim.md); a real
		 * backend's tick polls its daemons, so one per notification would still be waste.
		 */
		q = rz->head;
		rz->head = NULL;
		rz->tailp = &rz->head;
		pthread_mutex_unlock(&rz->qmu);

		/*
		 * Each path once per batch: realizing reads the model as it is now, which already
		 * holds every change notified so far, so a second visit of the same path (a burst
		 * of writes to one object) would redo the same work. (Without memory for the set,
		 * a path is just realized again.)
		 */
		pthread_mutex_lock(&rz->mu);
		for (n = 0, it = q; it; it = it->next, n++) {
			if (hmap_get(&seen, it->path))
				continue;	/* realized earlier in this batch */
			(void)hmap_put(&seen, it->path, it, NULL);
			if (!strcmp(it->path, RESYNC))
				resync(rz);
			else
				realize_path(rz, it->path);
		}
		rz->b->ops->tick(rz->b, now_ms(rz));
		pthread_mutex_unlock(&rz->mu);
		hmap_release(&seen);
		hmap_init(&seen);
		while (q) {
			it = q->next;
			free(q);
			q = it;
		}

		pthread_mutex_lock(&rz->qmu);
		rz->processed += n;
		if (rz->processed == rz->notified)
			pthread_cond_broadcast(&rz->idle_cv);
	}
	rz->processed = rz->notified;
	pthread_cond_broadcast(&rz->idle_cv);
	pthread_mutex_unlock(&rz->qmu);
	return NULL;
}

void
rz_notify(struct rz *rz, const char *path)
{
	size_t n;
	struct qitem *q;

	if (!rz)
		return;
	if (!path)
		path = RESYNC;
	n = strlen(path);
	q = malloc(sizeof(*q) + n + 1);
	if (!q) {
		log_error("realize: out of memory; %s will be realized at the next resync", path);
		return;
	}
	q->next = NULL;
	memcpy(q->path, path, n + 1);
	pthread_mutex_lock(&rz->qmu);
	if (rz->stopping) {
		pthread_mutex_unlock(&rz->qmu);
		free(q);
		return;
	}
	/* a changed intent is in progress until the engine has handled it */
	*rz->tailp = q;
	rz->tailp = &q->next;
	rz->notified++;
	pthread_cond_signal(&rz->qcv);
	pthread_mutex_unlock(&rz->qmu);
}

static void
observer(void *arg, const char *path)
{
	rz_notify(arg, path);
}

void
rz_settle(struct rz *rz)
{
	uint64_t target;
	struct timespec ts;

	pthread_mutex_lock(&rz->qmu);
	target = rz->notified;
	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;			/* never hang a request on a stuck engine */
	while (rz->processed < target && !rz->stopping)
		if (pthread_cond_timedwait(&rz->idle_cv, &rz->qmu, &ts))
			break;
	pthread_mutex_unlock(&rz->qmu);
}

enum vpn_err
rz_start(struct rz **out, struct model *m, struct rz_backend *b, const struct rz_config *cfg,
	 struct vpn_error *err)
{
	struct rz *rz = calloc(1, sizeof(*rz));

	*out = NULL;
	if (!rz) {
		b->ops->destroy(b);
		return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	}
	rz->m = m;
	rz->b = b;
	rz->cfg = *cfg;
	if (rz->cfg.tick_ms <= 0)
		rz->cfg.tick_ms = 100;
	if (cfg->nadvertise) {
		rz->advertise = calloc(cfg->nadvertise, sizeof(*rz->advertise));
		if (!rz->advertise) {
			free(rz);
			b->ops->destroy(b);
			return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
		}
		memcpy(rz->advertise, cfg->advertise, cfg->nadvertise * sizeof(*rz->advertise));
	}
	rz->cfg.advertise = rz->advertise;
	pthread_mutex_init(&rz->qmu, NULL);
	pthread_mutex_init(&rz->mu, NULL);
	pthread_cond_init(&rz->qcv, NULL);
	pthread_cond_init(&rz->idle_cv, NULL);
	hmap_init(&rz->realized);
	hmap_init(&rz->filters);
	rz->tailp = &rz->head;
	rz_notify(rz, NULL);			/* realize what the store holds */
	if (pthread_create(&rz->thread, NULL, engine_main, rz)) {
		rz_stop(rz);
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "cannot start the realization thread");
	}
	rz->running = true;
	model_set_observer(m, observer, rz);
	*out = rz;
	return VPN_OK;
}

void
rz_stop(struct rz *rz)
{
	size_t pos = 0;
	void *val;
	struct qitem *q;

	if (!rz)
		return;
	model_set_observer(rz->m, NULL, NULL);
	pthread_mutex_lock(&rz->qmu);
	rz->stopping = true;
	pthread_cond_broadcast(&rz->qcv);
	pthread_mutex_unlock(&rz->qmu);
	if (rz->running)
		pthread_join(rz->thread, NULL);
	while ((q = rz->head)) {
		rz->head = q->next;
		free(q);
	}
	rz->b->ops->destroy(rz->b);
	while (hmap_next(&rz->realized, &pos, NULL, &val)) {
		struct realized *r = val;

		free(r->path);
		free(r);
	}
	pos = 0;
	while (hmap_next(&rz->filters, &pos, NULL, &val))
		filters_free(val);
	hmap_release(&rz->realized);
	hmap_release(&rz->filters);
	free(rz->advertise);
	pthread_cond_destroy(&rz->qcv);
	pthread_cond_destroy(&rz->idle_cv);
	pthread_mutex_destroy(&rz->qmu);
	pthread_mutex_destroy(&rz->mu);
	free(rz);
}

/* ---------------------------------------------------------------------------------------- */
/* views */

enum vpn_err
rz_session_status(struct rz *rz, const char *path, struct rz_session_status *out)
{
	enum vpn_err rc;

	memset(out, 0, sizeof(*out));
	rz_settle(rz);
	pthread_mutex_lock(&rz->mu);
	rz->b->ops->tick(rz->b, now_ms(rz));
	rc = rz->b->ops->session_status(rz->b, path, out);
	pthread_mutex_unlock(&rz->mu);
	return rc;
}

enum vpn_err
rz_reset_counters(struct rz *rz, const char *path)
{
	enum vpn_err rc;

	rz_settle(rz);
	pthread_mutex_lock(&rz->mu);
	rz->b->ops->tick(rz->b, now_ms(rz));
	rc = rz->b->ops->reset_counters(rz->b, path);
	pthread_mutex_unlock(&rz->mu);
	return rc;
}

enum vpn_err
rz_bgp_status(struct rz *rz, const char *path, struct rz_bgp_status *out)
{
	enum vpn_err rc;

	memset(out, 0, sizeof(*out));
	rz_settle(rz);
	pthread_mutex_lock(&rz->mu);
	rz->b->ops->tick(rz->b, now_ms(rz));
	rc = rz->b->ops->bgp_status(rz->b, path, out);
	pthread_mutex_unlock(&rz->mu);
	return rc;
}

enum vpn_err
rz_routes(struct rz *rz, const char *path, bool advertised, struct rz_route **out, size_t *n)
{
	enum vpn_err rc;

	*out = NULL;
	*n = 0;
	rz_settle(rz);
	pthread_mutex_lock(&rz->mu);
	rz->b->ops->tick(rz->b, now_ms(rz));
	rc = rz->b->ops->routes(rz->b, path, advertised, out, n);
	pthread_mutex_unlock(&rz->mu);
	return rc;
}

enum vpn_err
rz_realized(struct rz *rz, const char *path, struct rz_realized_state *out)
{
	struct realized *r;
	enum vpn_err rc = VPN_OK;
	int64_t rev;
	bool pending;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&rz->qmu);
	pending = rz->processed < rz->notified;
	pthread_mutex_unlock(&rz->qmu);
	pthread_mutex_lock(&rz->mu);
	r = hmap_get(&rz->realized, path);
	rev = model_revision(rz->m, path);
	if (r && rev >= 0) {
		*out = r->st;
		/* a newer intent than the one realized: still in progress */
		if (rev != r->st.intent_revision) {
			out->state = RZ_IN_PROGRESS;
			out->intent_revision = rev;
		}
	} else if (rev >= 0) {
		/* nothing the engine realizes (system objects, ...): realized once nothing is
		 * pending, since the engine handles changes in order */
		out->state = pending ? RZ_IN_PROGRESS : RZ_REALIZED;
		out->intent_revision = rev;
	} else {
		/* no committed intent: never created, or its deletion is durable (the engine may
		 * not have dropped its entry yet) */
		rc = VPN_E_NOT_FOUND;
	}
	pthread_mutex_unlock(&rz->mu);
	return rc;
}

enum vpn_err
rz_with_backend(struct rz *rz, enum vpn_err (*fn)(struct rz_backend *b, int64_t now, void *arg),
		void *arg)
{
	enum vpn_err rc;

	rz_settle(rz);
	pthread_mutex_lock(&rz->mu);
	rz->b->ops->tick(rz->b, now_ms(rz));
	rc = fn(rz->b, now_ms(rz), arg);
	pthread_mutex_unlock(&rz->mu);
	return rc;
}
