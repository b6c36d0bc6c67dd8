#include "model/model.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/hmap.h"
#include "core/jscan.h"
#include "core/log.h"
#include "core/netaddr.h"
#include "core/util.h"
#include "schema/schema.h"

#define T0 "/infra/tier-0s/vmc"
#define LS T0 "/locale-services/default"
#define SVC LS "/ipsec-vpn-services/default"

const struct coll coll_ike_profiles = { "/infra/ipsec-vpn-ike-profiles", { "IPSecVpnIkeProfile" }, false, false };
const struct coll coll_tunnel_profiles = { "/infra/ipsec-vpn-tunnel-profiles", { "IPSecVpnTunnelProfile" }, false, false };
const struct coll coll_dpd_profiles = { "/infra/ipsec-vpn-dpd-profiles", { "IPSecVpnDpdProfile" }, false, false };
const struct coll coll_tier0s = { "/infra/tier-0s", { "Tier0" }, false, true };
const struct coll coll_locale_services = { T0 "/locale-services", { "LocaleServices" }, false, true };
const struct coll coll_prefix_lists = { T0 "/prefix-lists", { "PrefixList" }, false, false };
const struct coll coll_bgp_config = { LS, { "BgpRoutingConfig" }, false, true };
const struct coll coll_bgp_neighbors = { LS "/bgp/neighbors", { "BgpNeighborConfig" }, false, false };
const struct coll coll_vpn_services = { LS "/ipsec-vpn-services", { "IPSecVpnService" }, false, true };
const struct coll coll_local_endpoints = { SVC "/local-endpoints", { "IPSecVpnLocalEndpoint" }, false, true };
const struct coll coll_sessions = { SVC "/sessions",
	{ "RouteBasedIPSecVpnSession", "PolicyBasedIPSecVpnSession" }, true, false };

/* Every collection, in one table; index = coll_state slot. Longest paths first for lookup. */
static const struct coll *const colls[] = {
	&coll_local_endpoints, &coll_sessions, &coll_vpn_services, &coll_bgp_neighbors,
	&coll_prefix_lists, &coll_locale_services, &coll_bgp_config, &coll_tier0s,
	&coll_ike_profiles, &coll_tunnel_profiles, &coll_dpd_profiles,
};
#define NCOLLS (sizeof(colls) / sizeof(colls[0]))

#define ID_MAX 255

struct obj {
	char *path;
	const char *id;			/* points into path */
	const struct coll *coll;
	const struct schema_type *type;
	/*
	 * One text per object. @pub is the finished JSON without secrets, served byte for byte.
	 * The full text (with secrets: what the store holds) is pub[0..sec_at] + sec +
	 * pub[sec_end..pub_len]; @sec is NULL (and the full text is @pub) when there are none.
	 * See obj_full().
	 */
	char *pub;
	size_t pub_len;
	char *sec;			/* full text's bytes between the shared prefix and suffix */
	size_t sec_len;
	size_t sec_at, sec_end;		/* sec_at <= sec_end <= pub_len */
	char *display_name;		/* == id (not a copy) when they are equal */
	char *create_user;
	char unique_id[37];
	int64_t create_time;
	int64_t revision;
	bool system;
	bool path_borrowed;		/* path is its node's (from model_link on): not freed here */
	atomic_uint nref;		/* holders: node latest, node committed, a pending write */
	struct obj *retired_next;	/* on the model's retired list once nref reached 0 */
	/*
	 * Distinct target paths this object refers to. Once linked, refs[0..nshared) are the
	 * reference index's own copies (its refset->target: one string per target, however many
	 * objects refer to it), valid while the object is linked (a version readers still hold
	 * after it was unlinked never reads them again); the rest are owned.
	 */
	char **refs;
	size_t nrefs, nshared;
	struct netprefix *vti;		/* sessions: tunnel-interface subnets */
	size_t nvti;
	bool has_nbr;			/* neighbors: address indexed */
	struct netaddr nbr;
};

/*
 * One policy path and its two views (see docs/model.md, "Committed and latest versions").
 * Writers, under the write lock, see @latest: NULL while a deletion is pending or after it.
 * Readers, under the read lock, see @committed: the version the store has made durable, set
 * by the store's callback with one atomic exchange. The node stays in the maps while either
 * view or a pending write needs it; an empty node is freed under the write lock (model_reap).
 */
struct node {
	struct obj *latest;		/* guarded by the write lock */
	_Atomic(struct obj *) committed;
	unsigned pending;		/* accepted writes not yet called back; guarded by pmu */
	bool queued;			/* on the gc list; guarded by pmu */
	struct node *gc_next;
	const struct coll *coll;
	size_t coll_idx;
	char *path;			/* taken from the first version; every version borrows it */
};

struct coll_state {
	struct node **v;
	size_t n, cap;
};

/*
 * The objects referring to one target: referrer path -> obj. Keys are borrowed from the
 * referring objects' paths (an object is unlinked, and so removed here, before it is freed), so
 * adding and removing a referrer is O(1) however many objects share a profile.
 */
struct refset {
	char *target;
	struct hmap srcs;
};

struct nbr_entry {
	struct netaddr a;
	struct obj *o;
};

struct vti_entry {
	struct netprefix net;		/* host bits cleared */
	struct obj *o;
};

#define ROW_MAX_MEMBERS 256	/* more top-level members than any type has fields: corrupt */
#define ROW_KEYS_MAX 24

/* The top-level members a loaded object needs parsed, and its secret members, per type. */
struct row_keys {
	const struct schema_type *t;
	const char *need[ROW_KEYS_MAX];
	size_t nneed;
	const char *secret[4];
	size_t nsecret;
};

struct row_scan {
	const struct row_keys *k;
	json_t *doc;			/* the needed members, parsed */
	size_t span[ROW_MAX_MEMBERS][2];	/* every member's [start, end) */
	bool secret[ROW_MAX_MEMBERS];
	size_t n;
	bool any_secret, bad;
};

struct model {
	pthread_rwlock_t lock;
	struct store *st;
	struct hmap objs;		/* path -> node */
	struct hmap refs;		/* target path -> refset */
	struct coll_state cs[NCOLLS];
	struct nbr_entry *nbrs;		/* sorted by address */
	size_t nnbrs, capnbrs;
	struct vti_entry *vtis;		/* sessions' tunnel subnets, sorted by (network, len) */
	size_t nvtis, capvtis;
	atomic_bool failed;		/* a write failed: refuse writes until recovered */
	pthread_mutex_t pmu;		/* nodes' pending counts, the retired and gc lists */
	struct obj *retired;		/* superseded committed versions, freed by model_reap */
	struct node *gc;		/* nodes whose deletion committed, checked by model_reap */
	pthread_mutex_t rmu;		/* guards the recovery thread's state */
	bool recovering;
	bool recovery_joinable;
	bool closing;			/* model_quiesce(): no new recovery */
	pthread_t recovery;
	char public_ip[64], private_ip[64];	/* model_config, kept for reloads */
	model_observer observer;
	void *observer_arg;
	int64_t system_time;
	char install_id[37];		/* random once per data store; seeds system unique_ids */
	struct row_keys row_keys[16];	/* per type: the members a stored row is read for */
	struct row_scan *row_scratch;	/* load_row's working space, during model_fill */
};

/* ---------------------------------------------------------------------------------------- */
/* objects */

static void
obj_free(struct obj *o)
{
	size_t i;

	if (!o)
		return;
	for (i = o->nshared; i < o->nrefs; i++)
		free(o->refs[i]);
	free(o->refs);
	free(o->vti);
	if (o->display_name != o->id)
		free(o->display_name);		/* before the path: id points into it */
	if (!o->path_borrowed)
		free(o->path);
	free(o->pub);
	if (o->sec)
		explicit_bzero(o->sec, o->sec_len);	/* a PSK or BGP password */
	free(o->sec);
	free(o->create_user);
	free(o);
}

static size_t
coll_index(const struct coll *c)
{
	size_t i;

	for (i = 0; i < NCOLLS; i++)
		if (colls[i] == c)
			return i;
	return 0;
}

static const struct coll *
coll_of_path(const char *path, const char **id)
{
	size_t i;

	for (i = 0; i < NCOLLS; i++) {
		size_t n = strlen(colls[i]->path);

		if (!strncmp(path, colls[i]->path, n) && path[n] == '/' && path[n + 1] &&
		    !strchr(path + n + 1, '/')) {
			/* the bgp singleton lives directly under the locale service */
			if (colls[i] == &coll_bgp_config && strcmp(path + n + 1, "bgp"))
				continue;
			*id = path + n + 1;
			return colls[i];
		}
	}
	return NULL;
}

static bool
type_allowed(const struct coll *c, const char *t)
{
	size_t i;

	for (i = 0; i < 3 && c->types[i]; i++)
		if (!strcmp(c->types[i], t))
			return true;
	return false;
}

struct refs_acc {
	struct obj *o;
	enum vpn_err rc;
};

static enum vpn_err
collect_ref(void *arg, const char *where, const char *target, const char *prefix)
{
	struct refs_acc *acc = arg;
	struct obj *o = acc->o;
	char **nv;
	size_t i;

	(void)where;
	(void)prefix;
	for (i = 0; i < o->nrefs; i++)
		if (!strcmp(o->refs[i], target))
			return VPN_OK;
	nv = realloc(o->refs, (o->nrefs + 1) * sizeof(*nv));
	if (!nv)
		return VPN_E_NOMEM;
	o->refs = nv;
	o->refs[o->nrefs] = strdup(target);
	if (!o->refs[o->nrefs])
		return VPN_E_NOMEM;
	o->nrefs++;
	return VPN_OK;
}

/* Derive the indexed facts (references, VTI subnets, neighbor address) from the object. */
static enum vpn_err
obj_index_facts(struct obj *o, const json_t *doc)
{
	struct refs_acc acc = { o, VPN_OK };
	enum vpn_err rc;

	rc = schema_refs(o->type, doc, collect_ref, &acc);
	if (rc)
		return rc;
	if (o->coll == &coll_sessions) {
		json_t *tis = json_object_get(doc, "tunnel_interfaces"), *ti;
		size_t i, j;

		json_array_foreach(tis, i, ti) {
			json_t *subs = json_object_get(ti, "ip_subnets"), *sub;

			json_array_foreach(subs, j, sub) {
				json_t *ips = json_object_get(sub, "ip_addresses"), *ip;
				json_int_t plen = json_integer_value(json_object_get(sub, "prefix_length"));
				size_t k;

				json_array_foreach(ips, k, ip) {
					struct netprefix p;
					struct netprefix *nv;

					if (!netaddr_parse(json_string_value(ip), &p.addr))
						continue;
					if (plen < 0 || (unsigned)plen > netaddr_bits(&p.addr))
						continue;
					p.len = (uint8_t)plen;
					nv = realloc(o->vti, (o->nvti + 1) * sizeof(*nv));
					if (!nv)
						return VPN_E_NOMEM;
					o->vti = nv;
					o->vti[o->nvti++] = p;
				}
			}
		}
	} else if (o->coll == &coll_bgp_neighbors) {
		o->has_nbr = netaddr_parse(json_string_value(json_object_get(doc, "neighbor_address")),
					   &o->nbr);
	}
	return VPN_OK;
}

static const char *
jstr(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Remove the secret fields of rendered @doc; true if there were any. */
static bool
drop_secrets(const struct schema_type *t, json_t *doc)
{
	const char *key;
	json_t *v;
	void *tmp;
	bool any = false;

	json_object_foreach_safe(doc, tmp, key, v) {
		if (schema_field_is_secret(t, key)) {
			json_object_del(doc, key);
			any = true;
		}
	}
	return any;
}

/*
 * Give @o its texts: @pub (taken over) and the full text @full (borrowed). Only the bytes of
 * @full between the longest common prefix and suffix of the two are kept besides @pub (for a
 * session, ',"psk":"..."'); without secrets nothing is.
 */
static enum vpn_err
obj_set_texts(struct obj *o, char *pub, size_t plen, const char *full, size_t flen)
{
	size_t p = 0, sfx = 0, lim = plen < flen ? plen : flen;

	o->pub = pub;
	o->pub_len = plen;
	if (plen == flen && !memcmp(pub, full, plen))
		return VPN_OK;
	while (p < lim && pub[p] == full[p])
		p++;
	while (sfx < lim - p && pub[plen - 1 - sfx] == full[flen - 1 - sfx])
		sfx++;
	o->sec_len = flen - p - sfx;
	o->sec = malloc(o->sec_len ? o->sec_len : 1);
	if (!o->sec)
		return VPN_E_NOMEM;
	memcpy(o->sec, full + p, o->sec_len);
	o->sec_at = p;
	o->sec_end = plen - sfx;
	return VPN_OK;
}

/* The full text of @o (with secrets: what the store holds), NUL-terminated; caller frees. */
static char *
obj_full(const struct obj *o, size_t *len)
{
	size_t tail, n;
	char *t;

	if (!o->sec) {
		t = util_strndup(o->pub, o->pub_len);
		if (t)
			*len = o->pub_len;
		return t;
	}
	tail = o->pub_len - o->sec_end;
	n = o->sec_at + o->sec_len + tail;
	t = malloc(n + 1);
	if (!t)
		return NULL;
	memcpy(t, o->pub, o->sec_at);
	memcpy(t + o->sec_at, o->sec, o->sec_len);
	memcpy(t + o->sec_at + o->sec_len, o->pub + o->sec_end, tail);
	t[n] = '\0';
	*len = n;
	return t;
}

/*
 * A new obj at @path with the facts of finished document @doc (server fields present; borrowed):
 * type, server fields, display name and the indexed facts. No texts yet.
 */
static enum vpn_err
obj_new(const struct coll *c, const char *path, const json_t *doc, struct obj **out)
{
	struct obj *o = calloc(1, sizeof(*o));
	const char *s, *idp;
	enum vpn_err rc = VPN_E_NOMEM;

	*out = NULL;
	if (!o)
		goto out;
	atomic_init(&o->nref, 1);
	o->coll = c;
	o->path = strdup(path);
	if (!o->path)
		goto out;
	idp = strrchr(o->path, '/');
	o->id = idp ? idp + 1 : o->path;
	o->type = schema_type_get(jstr(doc, "resource_type") ? jstr(doc, "resource_type") : "");
	if (!o->type) {
		rc = VPN_E_INTERNAL;
		goto out;
	}
	o->revision = json_integer_value(json_object_get(doc, "_revision"));
	o->create_time = json_integer_value(json_object_get(doc, "_create_time"));
	o->system = json_is_true(json_object_get(doc, "_system_owned"));
	s = jstr(doc, "unique_id");
	snprintf(o->unique_id, sizeof(o->unique_id), "%s", s ? s : "");
	s = jstr(doc, "display_name");
	o->display_name = !s || !strcmp(s, o->id) ? (char *)o->id : strdup(s);
	o->create_user = strdup(jstr(doc, "_create_user") ? jstr(doc, "_create_user") : "");
	if (!o->display_name || !o->create_user)
		goto out;
	rc = obj_index_facts(o, doc);
	if (rc)
		goto out;
	*out = o;
	o = NULL;
out:
	obj_free(o);
	return rc;
}

/*
 * Build an obj from a finished document (server fields present). @doc is borrowed.
 */
static enum vpn_err
obj_from_doc(const struct coll *c, const char *path, const json_t *doc, struct obj **out)
{
	struct obj *o = NULL;
	json_t *full = NULL;
	char *ftxt = NULL, *ptxt = NULL;
	enum vpn_err rc;

	*out = NULL;
	rc = obj_new(c, path, doc, &o);
	if (rc)
		goto out;
	rc = VPN_E_NOMEM;
	/*
	 * Render once, with secrets. Secrets are top-level fields (psk, password) and rendering
	 * does not depend on them otherwise, so the public text is the same document without
	 * them.
	 */
	full = schema_render(o->type, doc, SCHEMA_RENDER_SECRETS);
	if (!full)
		goto out;
	ftxt = json_dumps(full, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!ftxt)
		goto out;
	if (drop_secrets(o->type, full)) {
		ptxt = json_dumps(full, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (!ptxt)
			goto out;
		rc = obj_set_texts(o, ptxt, strlen(ptxt), ftxt, strlen(ftxt));
		ptxt = NULL;
	} else {
		rc = obj_set_texts(o, ftxt, strlen(ftxt), ftxt, strlen(ftxt));
		ftxt = NULL;
	}
	if (rc)
		goto out;
	*out = o;
	o = NULL;
out:
	free(ftxt);
	free(ptxt);
	json_decref(full);
	obj_free(o);
	return rc;
}

/*
 * Loading a stored row (obj_from_row): the text is scanned once (core/jscan: full JSON
 * grammar, no tree) and only the members the object's facts come from are parsed.
 */
static const char *const row_scalars[] = {
	"resource_type", "path", "_revision", "_create_time", "_system_owned", "unique_id",
	"display_name", "_create_user", "tunnel_interfaces", "neighbor_address",
};

/* @t's row_keys from @cache (filled on first use; callers hold the write lock or own @m). */
static const struct row_keys *
row_keys_of(struct row_keys *cache, size_t ncache, const struct schema_type *t)
{
	const char *refs[ROW_KEYS_MAX];
	size_t i, j, nrefs;
	struct row_keys *k;

	for (i = 0; i < ncache && cache[i].t; i++)
		if (cache[i].t == t)
			return &cache[i];
	if (i == ncache)
		return NULL;
	k = &cache[i];
	for (j = 0; j < sizeof(row_scalars) / sizeof(row_scalars[0]); j++)
		k->need[k->nneed++] = row_scalars[j];
	nrefs = schema_fields_where(t, SCHEMA_FIELDS_REFS, refs, ROW_KEYS_MAX);
	k->nsecret = schema_fields_where(t, SCHEMA_FIELDS_SECRET, k->secret, 4);
	if (nrefs > ROW_KEYS_MAX - k->nneed || k->nsecret > 4) {
		memset(k, 0, sizeof(*k));	/* no half-filled slot for the next call to extend */
		return NULL;
	}
	for (j = 0; j < nrefs; j++)
		k->need[k->nneed++] = refs[j];
	k->t = t;
	return k;
}

static bool
key_is(const struct jscan_member *mb, const char *name)
{
	size_t n = strlen(name);

	return mb->key_len == n && !memcmp(mb->key, name, n);
}


/*
 * A member's value (checked by jscan) as a jansson value: plain strings, integers and literals
 * directly, anything else (containers, escapes, reals) through json_loadb().
 */
static json_t *
row_value(const char *v, size_t n)
{
	if (n >= 2 && v[0] == '"' && !memchr(v + 1, '\\', n - 2))
		return json_stringn_nocheck(v + 1, n - 2);	/* UTF-8 checked by jscan */
	if (n && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9')) && n <= 18 &&
	    !memchr(v, '.', n) && !memchr(v, 'e', n) && !memchr(v, 'E', n)) {
		int64_t x = 0;	/* at most 18 digits: fits */
		size_t i = v[0] == '-';

		for (; i < n; i++)
			x = x * 10 + (v[i] - '0');
		return json_integer(v[0] == '-' ? -x : x);
	}
	if (n == 4 && !memcmp(v, "true", 4))
		return json_true();
	if (n == 5 && !memcmp(v, "false", 5))
		return json_false();
	return json_loadb(v, n, JSON_DECODE_ANY, NULL);
}

static void
row_member(void *arg, const struct jscan_member *mb)
{
	struct row_scan *rs = arg;
	size_t i;

	if (rs->bad)
		return;
	/* the model never writes an escaped key: one here ("ps\u006b") could hide a secret member
	 * from the byte comparisons below, so the row is corrupt (found in review) */
	if (rs->n == ROW_MAX_MEMBERS || memchr(mb->key, '\\', mb->key_len)) {
		rs->bad = true;
		return;
	}
	rs->span[rs->n][0] = mb->start;
	rs->span[rs->n][1] = mb->end;
	rs->secret[rs->n] = false;
	for (i = 0; i < rs->k->nsecret; i++)
		if (key_is(mb, rs->k->secret[i]))
			rs->secret[rs->n] = rs->any_secret = true;
	rs->n++;
	for (i = 0; i < rs->k->nneed; i++) {
		if (key_is(mb, rs->k->need[i])) {
			json_t *v = row_value(mb->val, mb->val_len);

			if (!v || json_object_set_new(rs->doc, rs->k->need[i], v))
				rs->bad = true;
			return;
		}
	}
}

/* @s without its secret members (rs->secret), as json_dumps() renders it without them. */
static char *
row_public_text(const struct row_scan *rs, const char *s, size_t n, size_t *len)
{
	char *out;
	size_t i, o = 1;
	bool first = true;

	if (!rs->any_secret) {
		*len = n;
		return util_strndup(s, n);
	}
	out = malloc(n + 1);
	if (!out)
		return NULL;
	out[0] = '{';
	for (i = 0; i < rs->n; i++) {
		size_t a = rs->span[i][0], b = rs->span[i][1];

		if (rs->secret[i])
			continue;
		if (!first)
			out[o++] = ',';
		memcpy(out + o, s + a, b - a);
		o += b - a;
		first = false;
	}
	out[o++] = '}';
	out[o] = '\0';
	*len = o;
	return out;
}

/*
 * Build an obj from a stored row. The store only ever holds text the model rendered, so the
 * text is kept as it is (not parsed into a tree, validated and rendered again): it is checked
 * to be one well-formed JSON object, and only the members the object's facts and indexes come
 * from are parsed. Its public text is the text without the secret members. A row that is not
 * JSON or whose text does not name its own path, type and revision is refused (VPN_E_STORE):
 * the store is corrupt. @cache holds the per-type member lists; @scratch is working space.
 */
static enum vpn_err
obj_from_row(const struct coll *c, const struct store_row *row, struct row_keys *cache,
	     size_t ncache, struct row_scan *scratch, struct obj **out)
{
	const struct schema_type *t = schema_type_get(row->kind);
	struct row_scan *rs = NULL;
	struct obj *o = NULL;
	const char *rt, *p;
	json_t *rev;
	char *pub = NULL;
	size_t plen;
	enum vpn_err rc = VPN_E_STORE;

	*out = NULL;
	if (!t || !type_allowed(c, row->kind))
		goto out;
	rs = scratch;
	rs->n = 0;
	rs->any_secret = rs->bad = false;
	if (!(rs->doc = json_object())) {
		rc = VPN_E_NOMEM;
		goto out;
	}
	rs->k = row_keys_of(cache, ncache, t);
	if (!rs->k) {
		rc = VPN_E_INTERNAL;
		goto out;
	}
	if (!jscan_object(row->json, row->json_len, row_member, rs) || rs->bad)
		goto out;
	rt = jstr(rs->doc, "resource_type");
	p = jstr(rs->doc, "path");
	rev = json_object_get(rs->doc, "_revision");
	if (!rt || strcmp(rt, row->kind) || !p || strcmp(p, row->path) || !json_is_integer(rev) ||
	    json_integer_value(rev) != row->revision)
		goto out;
	rc = obj_new(c, row->path, rs->doc, &o);
	if (rc)
		goto out;
	rc = VPN_E_NOMEM;
	pub = row_public_text(rs, row->json, row->json_len, &plen);
	if (!pub)
		goto out;
	rc = obj_set_texts(o, pub, plen, row->json, row->json_len);
	if (rc)
		goto out;
	*out = o;
	o = NULL;
out:
	if (rs) {
		json_decref(rs->doc);
		rs->doc = NULL;
	}
	obj_free(o);
	return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* indexes */

/*
 * Add @src to the referrers of its @i-th target. The index keeps one string per target: the
 * object's own copy becomes the refset's (a new target) or is swapped for it, and is then
 * shared (src->nshared = i + 1). Call for i = 0, 1, ... in order.
 */
static void refset_free(struct refset *rs);

static enum vpn_err
ref_add(struct model *m, struct obj *src, size_t i)
{
	char *target = src->refs[i];
	struct refset *rs = hmap_get(&m->refs, target);
	enum vpn_err rc;

	if (!rs) {
		rs = calloc(1, sizeof(*rs));
		if (!rs)
			return VPN_E_NOMEM;
		hmap_init(&rs->srcs);
		rs->target = target;
		if (hmap_put(&m->refs, rs->target, rs, NULL)) {
			free(rs);
			return VPN_E_NOMEM;
		}
	} else if (rs->target != target) {
		free(target);
		src->refs[i] = rs->target;
	}
	src->nshared = i + 1;
	rc = hmap_put(&rs->srcs, src->path, src, NULL);
	if (rc && !rs->srcs.used) {
		/* nobody else refers to it: the string goes with the refset, the object keeps
		 * none of its own */
		hmap_del(&m->refs, rs->target);
		refset_free(rs);
		src->refs[i] = NULL;
	}
	return rc;
}

static void
refset_free(struct refset *rs)
{
	if (!rs)
		return;
	hmap_release(&rs->srcs);
	free(rs->target);
	free(rs);
}

static void
ref_del(struct model *m, const char *target, const struct obj *src)
{
	struct refset *rs = target ? hmap_get(&m->refs, target) : NULL;

	if (!rs)
		return;
	hmap_del(&rs->srcs, src->path);
	if (!rs->srcs.used) {
		hmap_del(&m->refs, target);
		refset_free(rs);
	}
}

static size_t
nbr_lower_bound(const struct model *m, const struct netaddr *a)
{
	size_t lo = 0, hi = m->nnbrs;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (netaddr_cmp(&m->nbrs[mid].a, a) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static enum vpn_err
nbr_add(struct model *m, struct obj *o)
{
	size_t at;

	if (!o->has_nbr)
		return VPN_OK;
	if (m->nnbrs == m->capnbrs) {
		size_t nc = m->capnbrs ? m->capnbrs * 2 : 16;
		struct nbr_entry *nv = realloc(m->nbrs, nc * sizeof(*nv));

		if (!nv)
			return VPN_E_NOMEM;
		m->nbrs = nv;
		m->capnbrs = nc;
	}
	at = nbr_lower_bound(m, &o->nbr);
	memmove(&m->nbrs[at + 1], &m->nbrs[at], (m->nnbrs - at) * sizeof(*m->nbrs));
	m->nbrs[at].a = o->nbr;
	m->nbrs[at].o = o;
	m->nnbrs++;
	return VPN_OK;
}

static void
nbr_del(struct model *m, struct obj *o)
{
	size_t at;

	if (!o->has_nbr)
		return;
	for (at = nbr_lower_bound(m, &o->nbr); at < m->nnbrs; at++) {
		if (m->nbrs[at].o == o) {
			memmove(&m->nbrs[at], &m->nbrs[at + 1],
				(m->nnbrs - at - 1) * sizeof(*m->nbrs));
			m->nnbrs--;
			return;
		}
		if (netaddr_cmp(&m->nbrs[at].a, &o->nbr))
			return;
	}
}

/* First neighbor whose address lies in @p, or NULL. */
static struct obj *
nbr_in_prefix(const struct model *m, const struct netprefix *p)
{
	struct netaddr net = p->addr;
	unsigned bits = netaddr_bits(&net), i;
	size_t at;

	for (i = p->len; i < bits; i++)
		net.bytes[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
	at = nbr_lower_bound(m, &net);
	if (at < m->nnbrs && netprefix_contains(p, &m->nbrs[at].a))
		return m->nbrs[at].o;
	return NULL;
}

static struct netprefix
prefix_network(const struct netprefix *p)
{
	struct netprefix n = *p;
	unsigned bits = netaddr_bits(&n.addr), i;

	for (i = n.len; i < bits; i++)
		n.addr.bytes[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
	return n;
}

static int
vti_key_cmp(const struct netprefix *a, const struct netprefix *b)
{
	int r = netaddr_cmp(&a->addr, &b->addr);

	return r ? r : (int)a->len - (int)b->len;
}

static size_t
vti_lower_bound(const struct model *m, const struct netprefix *k)
{
	size_t lo = 0, hi = m->nvtis;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (vti_key_cmp(&m->vtis[mid].net, k) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static enum vpn_err
vti_add(struct model *m, struct obj *o)
{
	size_t i, at;

	for (i = 0; i < o->nvti; i++) {
		struct netprefix k = prefix_network(&o->vti[i]);

		if (m->nvtis == m->capvtis) {
			size_t nc = m->capvtis ? m->capvtis * 2 : 16;
			struct vti_entry *nv = realloc(m->vtis, nc * sizeof(*nv));

			if (!nv)
				return VPN_E_NOMEM;
			m->vtis = nv;
			m->capvtis = nc;
		}
		at = vti_lower_bound(m, &k);
		memmove(&m->vtis[at + 1], &m->vtis[at], (m->nvtis - at) * sizeof(*m->vtis));
		m->vtis[at].net = k;
		m->vtis[at].o = o;
		m->nvtis++;
	}
	return VPN_OK;
}

static void
vti_del(struct model *m, struct obj *o)
{
	size_t i, at;

	for (i = 0; i < o->nvti; i++) {
		struct netprefix k = prefix_network(&o->vti[i]);

		for (at = vti_lower_bound(m, &k); at < m->nvtis; at++) {
			if (vti_key_cmp(&m->vtis[at].net, &k))
				break;
			if (m->vtis[at].o == o) {
				memmove(&m->vtis[at], &m->vtis[at + 1],
					(m->nvtis - at - 1) * sizeof(*m->vtis));
				m->nvtis--;
				break;
			}
		}
	}
}

/*
 * A session other than @self whose tunnel subnet overlaps @p, or NULL. Two prefixes overlap
 * when one contains the other: entries inside @p start at its network address; an entry that
 * contains @p is @p's network masked to a shorter length, at most one lookup per length.
 */
static struct obj *
vti_overlap(const struct model *m, const struct netprefix *p, const struct obj *self)
{
	struct netprefix net = prefix_network(p), k;
	size_t at;
	int len;

	for (at = vti_lower_bound(m, &(struct netprefix){ net.addr, 0 }); at < m->nvtis; at++) {
		if (!netprefix_contains(&net, &m->vtis[at].net.addr))
			break;
		if (m->vtis[at].o != self)
			return m->vtis[at].o;
	}
	for (len = net.len - 1; len >= 0; len--) {
		k = net;
		k.len = (uint8_t)len;
		k = prefix_network(&k);
		for (at = vti_lower_bound(m, &k);
		     at < m->nvtis && !vti_key_cmp(&m->vtis[at].net, &k); at++)
			if (m->vtis[at].o != self)
				return m->vtis[at].o;
	}
	return NULL;
}

/* The session whose own tunnel-interface address is @a, or NULL (one lookup per length). */
static struct obj *
vti_local_owner(const struct model *m, const struct netaddr *a)
{
	struct netprefix k;
	size_t at, j;
	int len;

	for (len = (int)netaddr_bits(a); len >= 0; len--) {
		k.addr = *a;
		k.len = (uint8_t)len;
		k = prefix_network(&k);
		for (at = vti_lower_bound(m, &k);
		     at < m->nvtis && !vti_key_cmp(&m->vtis[at].net, &k); at++) {
			struct obj *o = m->vtis[at].o;

			for (j = 0; j < o->nvti; j++)
				if (!netaddr_cmp(&o->vti[j].addr, a))
					return o;
		}
	}
	return NULL;
}

/* ---------------------------------------------------------------------------------------- */
/* nodes: the latest version (writers) and the committed one (readers) */

/* The version writers see at @path, or NULL. Caller holds the write lock (or the read lock). */
static struct obj *
obj_latest(const struct model *m, const char *path)
{
	struct node *n = hmap_get(&m->objs, path);

	return n ? n->latest : NULL;
}

/* The version readers see at @path, or NULL. Caller holds the read lock. */
static struct obj *
obj_committed(const struct model *m, const char *path)
{
	struct node *n = hmap_get(&m->objs, path);

	return n ? atomic_load_explicit(&n->committed, memory_order_acquire) : NULL;
}

/*
 * Drop one holder of @o. Under the write lock no reader can hold @o, so the last holder frees it
 * at once; elsewhere (the store's callback) it goes to the retired list for model_reap.
 */
static void
obj_unref(struct model *m, struct obj *o, bool locked)
{
	if (!o || atomic_fetch_sub_explicit(&o->nref, 1, memory_order_acq_rel) != 1)
		return;
	if (locked) {
		obj_free(o);
		return;
	}
	pthread_mutex_lock(&m->pmu);
	o->retired_next = m->retired;
	m->retired = o;
	pthread_mutex_unlock(&m->pmu);
}

/*
 * Make @o's path its node's, which outlives every version: one copy of the path per node.
 */
static void
obj_borrow_path(struct obj *o, struct node *n)
{
	bool name_is_id = o->display_name == o->id;	/* shared, see obj_from_doc */

	if (o->path == n->path)
		return;
	if (!o->path_borrowed)
		free(o->path);
	o->path = n->path;
	o->id = strrchr(n->path, '/') ? strrchr(n->path, '/') + 1 : n->path;
	if (name_is_id)
		o->display_name = (char *)o->id;	/* it pointed into the freed path */
	o->path_borrowed = true;
}

/*
 * The node for @o's path, created (empty: no version yet) when absent, taking @o's path
 * string. Write lock.
 */
static struct node *
node_get_or_add(struct model *m, struct obj *o)
{
	struct coll_state *cs = &m->cs[coll_index(o->coll)];
	struct node *n = hmap_get(&m->objs, o->path);

	if (n)
		return n;
	if (cs->n == cs->cap) {
		size_t nc = cs->cap ? cs->cap * 2 : 16;
		struct node **nv = realloc(cs->v, nc * sizeof(*nv));

		if (!nv)
			return NULL;
		cs->v = nv;
		cs->cap = nc;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->path = o->path;
	n->coll = o->coll;
	atomic_init(&n->committed, NULL);
	if (hmap_put(&m->objs, n->path, n, NULL)) {
		free(n);
		return NULL;
	}
	o->path_borrowed = true;
	n->coll_idx = cs->n;
	cs->v[cs->n++] = n;
	return n;
}

/* Remove @n from the maps and free it if no view and no pending write needs it. Write lock. */
static void
node_gc(struct model *m, struct node *n)
{
	struct coll_state *cs = &m->cs[coll_index(n->coll)];
	bool empty;

	pthread_mutex_lock(&m->pmu);
	empty = !n->latest && !atomic_load(&n->committed) && !n->pending && !n->queued;
	pthread_mutex_unlock(&m->pmu);
	if (!empty)
		return;
	hmap_del(&m->objs, n->path);
	cs->v[n->coll_idx] = cs->v[--cs->n];
	cs->v[n->coll_idx]->coll_idx = n->coll_idx;
	free(n->path);
	free(n);
}

/*
 * Free the versions the store's callback retired and the nodes whose deletion committed. Under
 * the write lock: no reader holds any of them.
 */
static void
model_reap(struct model *m)
{
	struct obj *o, *onext;
	struct node *n, *nnext;

	pthread_mutex_lock(&m->pmu);
	o = m->retired;
	n = m->gc;
	m->retired = NULL;
	m->gc = NULL;
	for (nnext = n; nnext; nnext = nnext->gc_next)
		nnext->queued = false;
	pthread_mutex_unlock(&m->pmu);
	for (; o; o = onext) {
		onext = o->retired_next;
		obj_free(o);
	}
	for (; n; n = nnext) {
		nnext = n->gc_next;
		node_gc(m, n);
	}
}

/*
 * The store's callback for a write on @n: on success @o (NULL: a deletion) becomes the version
 * readers see, before the writer is answered; on failure it never does. Either way the
 * write's hold on @o ends. No model lock (the recovery thread may hold the write lock while it
 * drains the store): one atomic exchange, then pmu for the bookkeeping.
 */
static void
node_settle(struct model *m, struct node *n, struct obj *o, bool ok)
{
	struct obj *drop = ok ? atomic_exchange_explicit(&n->committed, o, memory_order_acq_rel)
			      : o;

	obj_unref(m, drop, false);
	pthread_mutex_lock(&m->pmu);
	n->pending--;
	if (ok && !o && !n->queued) {
		n->queued = true;
		n->gc_next = m->gc;
		m->gc = n;
	}
	pthread_mutex_unlock(&m->pmu);
}

/* After a load: everything in memory is durable, so readers see the latest versions. */
static void
publish_all(struct model *m)
{
	size_t pos = 0;
	void *val;

	while (hmap_next(&m->objs, &pos, NULL, &val)) {
		struct node *n = val;

		if (n->latest && !atomic_load(&n->committed)) {
			atomic_fetch_add(&n->latest->nref, 1);
			atomic_store_explicit(&n->committed, n->latest, memory_order_release);
		}
	}
}

/* Make @o (not yet in the model) the latest version of its path and index it. Write lock. */
static enum vpn_err
model_link(struct model *m, struct obj *o)
{
	struct node *n = node_get_or_add(m, o);
	enum vpn_err rc;
	size_t i;

	if (!n)
		return VPN_E_NOMEM;
	obj_borrow_path(o, n);
	n->latest = o;
	for (i = 0; i < o->nrefs; i++) {
		rc = ref_add(m, o, i);
		if (rc)
			return rc;
	}
	rc = vti_add(m, o);
	if (rc)
		return rc;
	return nbr_add(m, o);
}

/*
 * Remove @o (its path's latest version) from the writers' view and indexes; the caller drops
 * the latest holder's reference. The node stays while readers or pending writes need it.
 */
static void
model_unlink(struct model *m, struct obj *o)
{
	struct node *n = hmap_get(&m->objs, o->path);
	size_t i;

	if (n && n->latest == o)
		n->latest = NULL;
	for (i = 0; i < o->nrefs; i++)
		ref_del(m, o->refs[i], o);
	nbr_del(m, o);
	vti_del(m, o);
}

/* ---------------------------------------------------------------------------------------- */
/* finishing objects */

/*
 * Add the server-set fields to candidate @doc and return the finished object.
 * @cur is the object being replaced, or NULL on create.
 */
static enum vpn_err
finish_doc(json_t *doc, const struct coll *c, const char *type, const char *id,
	   const struct obj *cur, const char *user, int64_t now, bool system)
{
	char path[1024], parent[1024], uuid[37];
	const char *slash;
	int n;

	n = snprintf(path, sizeof(path), "%s/%s", c->path, id);
	if (n < 0 || (size_t)n >= sizeof(path))
		return VPN_E_INVALID;
	/* NSX's parent_path names the parent object, not the collection: the IKE profile
	 * /infra/ipsec-vpn-ike-profiles/x has parent /infra. The bgp singleton's "collection"
	 * is its parent, the locale service. */
	slash = strrchr(c->path, '/');
	if (c == &coll_bgp_config || !slash || slash == c->path)
		snprintf(parent, sizeof(parent), "%s", c->path);
	else
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - c->path), c->path);
	if (cur && cur->unique_id[0])
		snprintf(uuid, sizeof(uuid), "%s", cur->unique_id);
	else
		util_uuid4(uuid);
	if (json_object_set_new(doc, "resource_type", json_string(type)) ||
	    json_object_set_new(doc, "id", json_string(id)) ||
	    (!json_is_string(json_object_get(doc, "display_name")) &&
	     json_object_set_new(doc, "display_name", json_string(id))) ||
	    json_object_set_new(doc, "path", json_string(path)) ||
	    json_object_set_new(doc, "relative_path", json_string(id)) ||
	    json_object_set_new(doc, "parent_path", json_string(parent)) ||
	    json_object_set_new(doc, "unique_id", json_string(uuid)) ||
	    json_object_set_new(doc, "realization_id", json_string(uuid)) ||
	    json_object_set_new(doc, "marked_for_delete", json_false()) ||
	    json_object_set_new(doc, "overridden", json_false()) ||
	    json_object_set_new(doc, "_create_time", json_integer(cur ? cur->create_time : now)) ||
	    json_object_set_new(doc, "_create_user", json_string(cur ? cur->create_user : user)) ||
	    json_object_set_new(doc, "_last_modified_time", json_integer(now)) ||
	    json_object_set_new(doc, "_last_modified_user", json_string(user)) ||
	    json_object_set_new(doc, "_system_owned", json_boolean(system)) ||
	    json_object_set_new(doc, "_protection", json_string(system ? "PROTECTED" : "NOT_PROTECTED")) ||
	    json_object_set_new(doc, "_revision", json_integer(cur ? cur->revision + 1 : 0)))
		return VPN_E_NOMEM;
	return VPN_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* open / close, system objects */

static enum vpn_err
load_row(void *arg, const struct store_row *row)
{
	struct model *m = arg;
	const struct coll *c;
	const char *id;
	struct obj *o = NULL;
	enum vpn_err rc = VPN_OK;

	c = coll_of_path(row->path, &id);
	if (!c) {
		log_warn("store: ignoring row with unknown path %s", row->path);
		return VPN_OK;
	}
	rc = obj_from_row(c, row, m->row_keys, sizeof(m->row_keys) / sizeof(m->row_keys[0]),
			  m->row_scratch, &o);
	if (rc) {
		/* never the text: the row may hold a PSK */
		log_error("store: row %s cannot be loaded (%s)%s", row->path, vpn_err_name(rc),
			  rc == VPN_E_STORE ? ": it is not one JSON object naming its own path, "
					      "type and revision" : "");
		goto out;
	}
	if (obj_latest(m, o->path)) {
		log_warn("store: duplicate row %s ignored", o->path);
		goto out;
	}
	rc = model_link(m, o);
	/* once in the map (even half-linked after a failure) model_close frees it */
	if (!rc || obj_latest(m, o->path) == o)
		o = NULL;
out:
	obj_free(o);
	return rc;
}

struct sys_obj {
	const struct coll *c;
	const char *id;
	const char *type;
	const char *json;		/* type-specific fields */
};

/* A name-based UUID for system object @path: the same across restarts of one installation. */
static void
system_uuid(const struct model *m, const char *path, char out[37])
{
	unsigned char b[16];
	uint64_t h[2] = { 0xcbf29ce484222325ULL, 0x84222325cbf29ce4ULL };
	const char *parts[2] = { m->install_id, path };
	int k, p;

	for (k = 0; k < 2; k++) {
		for (p = 0; p < 2; p++) {
			const unsigned char *c;

			for (c = (const unsigned char *)parts[p]; *c; c++) {
				h[k] ^= *c;
				h[k] *= 0x100000001b3ULL;
			}
			h[k] ^= (uint64_t)(p + 1) * 0x9e3779b97f4a7c15ULL;
		}
		h[k] ^= h[k] >> 29;
		h[k] *= 0xbf58476d1ce4e5b9ULL;
		h[k] ^= h[k] >> 32;
	}
	memcpy(b, &h[0], 8);
	memcpy(b + 8, &h[1], 8);
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x50);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
}

static enum vpn_err
add_system(struct model *m, const struct coll *c, const char *id, const char *type,
	   const char *body, struct vpn_error *err)
{
	json_t *doc = NULL;
	json_error_t jerr;
	struct obj *o = NULL;
	char path[512];
	enum vpn_err rc;
	const struct schema_type *t = schema_type_get(type);

	snprintf(path, sizeof(path), "%s/%s", c->path, id);
	if (obj_latest(m, path))
		return VPN_OK;
	if (!t)
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "system object type %s unknown", type);
	doc = json_loads(body, 0, &jerr);
	if (!doc)
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "system object %s: %s", path, jerr.text);
	rc = schema_validate(t, doc, err);
	if (rc)
		goto out;
	rc = finish_doc(doc, c, type, id, NULL, "system", m->system_time, true);
	if (!rc) {
		/* system objects are rebuilt at every start: keep their unique_id stable */
		char uuid[37];

		system_uuid(m, path, uuid);
		if (json_object_set_new(doc, "unique_id", json_string(uuid)) ||
		    json_object_set_new(doc, "realization_id", json_string(uuid)))
			rc = VPN_E_NOMEM;
	}
	if (!rc)
		rc = obj_from_doc(c, path, doc, &o);
	if (!rc)
		rc = model_link(m, o);
	if (!rc || obj_latest(m, path) == o)
		o = NULL;		/* once linked, model_clear frees it */
	if (rc)
		vpn_error_set(err, rc, 0, "cannot create system object %s", path);
out:
	obj_free(o);
	json_decref(doc);
	return rc;
}

static enum vpn_err
add_system_objects(struct model *m, const struct model_config *cfg, struct vpn_error *err)
{
	char le_pub[256], le_priv[256];
	enum vpn_err rc;

	snprintf(le_pub, sizeof(le_pub), "{\"local_address\":\"%s\",\"local_id\":\"%s\"}",
		 cfg->public_ip, cfg->public_ip);
	snprintf(le_priv, sizeof(le_priv), "{\"local_address\":\"%s\",\"local_id\":\"%s\"}",
		 cfg->private_ip, cfg->private_ip);
	if ((rc = add_system(m, &coll_dpd_profiles, "nsx-default-l3vpn-dpd-profile",
			     "IPSecVpnDpdProfile",
			     "{\"enabled\":true,\"dpd_probe_mode\":\"PERIODIC\",\"dpd_probe_interval\":60,"
			     "\"retry_count\":5}", err)) ||
	    (rc = add_system(m, &coll_ike_profiles, "nsx-default-l3vpn-ike-profile",
			     "IPSecVpnIkeProfile",
			     "{\"ike_version\":\"IKE_V2\",\"encryption_algorithms\":[\"AES_128\"],"
			     "\"digest_algorithms\":[\"SHA2_256\"],\"dh_groups\":[\"GROUP14\"],"
			     "\"sa_life_time\":86400}", err)) ||
	    (rc = add_system(m, &coll_tunnel_profiles, "nsx-default-l3vpn-tunnel-profile",
			     "IPSecVpnTunnelProfile",
			     "{\"encryption_algorithms\":[\"AES_GCM_128\"],\"digest_algorithms\":[],"
			     "\"dh_groups\":[\"GROUP14\"],\"enable_perfect_forward_secrecy\":true,"
			     "\"df_policy\":\"COPY\",\"sa_life_time\":3600}", err)) ||
	    (rc = add_system(m, &coll_tier0s, "vmc", "Tier0", "{}", err)) ||
	    (rc = add_system(m, &coll_locale_services, "default", "LocaleServices", "{}", err)) ||
	    (rc = add_system(m, &coll_bgp_config, "bgp", "BgpRoutingConfig",
			     "{\"enabled\":true,\"local_as_num\":\"65000\",\"ecmp\":true}", err)) ||
	    (rc = add_system(m, &coll_vpn_services, "default", "IPSecVpnService",
			     "{\"enabled\":true,\"ha_sync\":true,\"ike_log_level\":\"INFO\"}", err)) ||
	    (rc = add_system(m, &coll_local_endpoints, "Public-IP1", "IPSecVpnLocalEndpoint",
			     le_pub, err)) ||
	    (rc = add_system(m, &coll_local_endpoints, "Private-IP1", "IPSecVpnLocalEndpoint",
			     le_priv, err)))
		return rc;
	return VPN_OK;
}

static enum vpn_err model_fill(struct model *m, struct vpn_error *err);
static void start_recovery(struct model *m);

enum vpn_err
model_open(struct model **out, struct store *st, const struct model_config *cfg,
	   struct vpn_error *err)
{
	struct model *m = calloc(1, sizeof(*m));
	char *v = NULL;
	enum vpn_err rc = VPN_E_NOMEM;

	*out = NULL;
	if (!m)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	pthread_rwlock_init(&m->lock, NULL);
	pthread_mutex_init(&m->rmu, NULL);
	pthread_mutex_init(&m->pmu, NULL);
	hmap_init(&m->objs);
	hmap_init(&m->refs);
	m->st = st;
	snprintf(m->public_ip, sizeof(m->public_ip), "%s", cfg->public_ip);
	snprintf(m->private_ip, sizeof(m->private_ip), "%s", cfg->private_ip);
	/* system objects keep the time of the first start */
	rc = store_meta_get(st, "system_created_ms", &v, err);
	if (rc == VPN_OK && v && util_parse_i64(v, &m->system_time)) {
		/* kept */
	} else if (rc == VPN_OK || rc == VPN_E_NOT_FOUND) {
		char buf[32];

		vpn_error_clear(err);
		m->system_time = util_now_ms();
		snprintf(buf, sizeof(buf), "%lld", (long long)m->system_time);
		rc = store_meta_set(st, "system_created_ms", buf, err);
		if (rc)
			goto out;
	} else {
		goto out;
	}
	free(v);
	v = NULL;
	rc = store_meta_get(st, "install_id", &v, err);
	if (rc == VPN_OK && v && strlen(v) == 36) {
		memcpy(m->install_id, v, 37);
	} else if (rc == VPN_OK || rc == VPN_E_NOT_FOUND) {
		vpn_error_clear(err);
		util_uuid4(m->install_id);
		rc = store_meta_set(st, "install_id", m->install_id, err);
		if (rc)
			goto out;
	} else {
		goto out;
	}
	rc = model_fill(m, err);
	if (rc)
		goto out;
	*out = m;
	m = NULL;
out:
	free(v);
	model_close(m);
	return rc;
}

/* Drop every object and index entry (the maps stay usable). */
static void
model_clear(struct model *m)
{
	size_t pos = 0, i;
	void *val;

	model_reap(m);
	while (hmap_next(&m->objs, &pos, NULL, &val)) {
		struct node *n = val;
		struct obj *c = atomic_load(&n->committed);

		if (c != n->latest)
			obj_free(c);
		obj_free(n->latest);
		free(n->path);
		free(n);
	}
	pos = 0;
	while (hmap_next(&m->refs, &pos, NULL, &val)) {
		refset_free(val);
	}
	hmap_release(&m->objs);
	hmap_release(&m->refs);
	hmap_init(&m->objs);
	hmap_init(&m->refs);
	for (i = 0; i < NCOLLS; i++) {
		free(m->cs[i].v);
		memset(&m->cs[i], 0, sizeof(m->cs[i]));
	}
	free(m->nbrs);
	free(m->vtis);
	m->nbrs = NULL;
	m->vtis = NULL;
	m->nnbrs = m->capnbrs = m->nvtis = m->capvtis = 0;
}

/* Load every stored object, then add the system objects. */
static enum vpn_err
model_fill(struct model *m, struct vpn_error *err)
{
	struct model_config cfg = { m->public_ip, m->private_ip };
	enum vpn_err rc;

	m->row_scratch = calloc(1, sizeof(*m->row_scratch));
	if (!m->row_scratch)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	rc = store_load(m->st, load_row, m, err);
	free(m->row_scratch);
	m->row_scratch = NULL;
	if (rc) {
		if (err && !err->msg[0])
			vpn_error_set(err, rc, 0, "cannot load the store");
		return rc;
	}
	rc = add_system_objects(m, &cfg, err);
	if (!rc)
		publish_all(m);
	return rc;
}

/*
 * After a failed write the tree in memory may hold changes the store does not (the failed one
 * and everything queued after it, which the halted store also failed). Under the write lock:
 * wait until the store has called back every queued change set, rebuild the tree from what is
 * durable, and let the store and the API take writes again.
 */
static void *
recovery_main(void *arg)
{
	struct model *m = arg;
	struct vpn_error err;

	vpn_error_clear(&err);
	pthread_rwlock_wrlock(&m->lock);
	store_drain(m->st);
	model_clear(m);
	if (model_fill(m, &err)) {
		log_error("model: reloading after a store failure failed (%s); writes stay refused "
			  "until vpnd restarts", err.msg);
	} else {
		store_resume(m->st);
		atomic_store(&m->failed, false);
		if (m->observer)
			m->observer(m->observer_arg, NULL);
		log_info("model: reloaded %zu objects from the store after a failed write; writes "
			 "are accepted again", m->objs.used);
	}
	pthread_rwlock_unlock(&m->lock);
	pthread_mutex_lock(&m->rmu);
	m->recovering = false;
	pthread_mutex_unlock(&m->rmu);
	return NULL;
}

/* Called on the store's writer thread when a write failed. */
static void
start_recovery(struct model *m)
{
	atomic_store(&m->failed, true);
	pthread_mutex_lock(&m->rmu);
	if (!m->recovering && !m->closing) {
		if (m->recovery_joinable)
			pthread_join(m->recovery, NULL);	/* the previous one has ended */
		m->recovery_joinable = false;
		if (!pthread_create(&m->recovery, NULL, recovery_main, m)) {
			m->recovering = true;
			m->recovery_joinable = true;
		} else {
			log_error("model: cannot start recovery; writes stay refused until restart");
		}
	}
	pthread_mutex_unlock(&m->rmu);
}

void
model_quiesce(struct model *m)
{
	bool join;
	pthread_t t;

	if (!m)
		return;
	pthread_mutex_lock(&m->rmu);
	m->closing = true;
	join = m->recovery_joinable;
	t = m->recovery;
	m->recovery_joinable = false;
	pthread_mutex_unlock(&m->rmu);
	/* outside rmu: the recovery thread takes it on its way out */
	if (join)
		pthread_join(t, NULL);
}

void
model_close(struct model *m)
{
	if (!m)
		return;
	model_quiesce(m);
	model_clear(m);
	hmap_release(&m->objs);
	hmap_release(&m->refs);
	pthread_mutex_destroy(&m->rmu);
	pthread_mutex_destroy(&m->pmu);
	pthread_rwlock_destroy(&m->lock);
	free(m);
}

size_t
model_count(struct model *m)
{
	size_t n;

	pthread_rwlock_rdlock(&m->lock);
	n = m->objs.used;
	pthread_rwlock_unlock(&m->lock);
	return n;
}

/* ---------------------------------------------------------------------------------------- */
/* reads */

static enum vpn_err
not_found(struct vpn_error *err, const char *path)
{
	return vpn_error_set(err, VPN_E_NOT_FOUND, 0,
			     "The requested object : %s could not be found. Object identifiers are "
			     "case sensitive.", path);
}

enum vpn_err
model_get(struct model *m, const char *path, unsigned flags, char **json, size_t *len,
	  struct vpn_error *err)
{
	struct obj *o;
	enum vpn_err rc = VPN_OK;

	*json = NULL;
	pthread_rwlock_rdlock(&m->lock);
	o = obj_committed(m, path);
	if (!o) {
		rc = not_found(err, path);
	} else {
		size_t n = o->pub_len;

		if (flags & MODEL_GET_SECRETS)
			*json = obj_full(o, &n);
		else
			*json = util_strndup(o->pub, o->pub_len);
		if (!*json)
			rc = vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
		else
			*len = n;
	}
	pthread_rwlock_unlock(&m->lock);
	return rc;
}

struct sort_item {
	struct obj *o;
	json_t *key;			/* generic sort key, or NULL */
};

struct sort_ctx {
	int field;			/* 0 display_name, 1 id, 2 generic */
	int dir;
};

static int
json_key_cmp(const json_t *a, const json_t *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	if (json_is_number(a) && json_is_number(b)) {
		double x = json_number_value(a), y = json_number_value(b);

		return (x > y) - (x < y);
	}
	if (json_is_string(a) && json_is_string(b))
		return strcmp(json_string_value(a), json_string_value(b));
	if (json_is_boolean(a) && json_is_boolean(b))
		return json_is_true(a) - json_is_true(b);
	return (int)json_typeof(a) - (int)json_typeof(b);
}

static int
sort_cmp(const void *pa, const void *pb, void *arg)
{
	const struct sort_item *a = pa, *b = pb;
	const struct sort_ctx *sc = arg;
	int r = 0;

	if (sc->field == 0)
		r = strcmp(a->o->display_name, b->o->display_name);
	else if (sc->field == 2)
		r = json_key_cmp(a->key, b->key);
	if (!r)
		r = strcmp(a->o->id, b->o->id);
	return sc->dir * r;
}

static enum vpn_err
add_included(struct buf *b, const struct obj *o, const char *fields)
{
	json_t *src = json_loadb(o->pub, o->pub_len, 0, NULL), *dst = json_object();
	const char *p = fields;
	char *txt = NULL;
	enum vpn_err rc = VPN_E_NOMEM;

	if (!src || !dst)
		goto out;
	while (*p) {
		const char *e = strchr(p, ',');
		size_t n = e ? (size_t)(e - p) : strlen(p);
		char name[128];

		if (n && n < sizeof(name)) {
			json_t *v;

			memcpy(name, p, n);
			name[n] = '\0';
			v = json_object_get(src, name);
			if (v)
				json_object_set(dst, name, v);
		}
		p += n;
		if (*p == ',')
			p++;
	}
	txt = json_dumps(dst, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!txt)
		goto out;
	rc = buf_adds(b, txt);
out:
	free(txt);
	json_decref(src);
	json_decref(dst);
	return rc;
}

enum vpn_err
model_list(struct model *m, const struct coll *c, const struct list_params *lp, char **json,
	   size_t *len, struct vpn_error *err)
{
	struct coll_state *cs;
	struct sort_item *items = NULL;
	struct sort_ctx sc = { 0, lp->sort_ascending ? 1 : -1 };
	const char *sort_by = lp->sort_by ? lp->sort_by : "display_name";
	size_t n = 0, i, start = 0, end, page = lp->page_size;
	struct buf b;
	enum vpn_err rc = VPN_OK;

	*json = NULL;
	buf_init(&b, (size_t)1 << 30);
	if (lp->cursor) {
		int64_t v;

		if (!util_parse_i64(lp->cursor, &v) || v < 0)
			return vpn_error_set(err, VPN_E_INVALID, 0, "Invalid cursor value");
		start = (size_t)v;
	}
	if (!strcmp(sort_by, "display_name"))
		sc.field = 0;
	else if (!strcmp(sort_by, "id"))
		sc.field = 1;
	else
		sc.field = 2;
	pthread_rwlock_rdlock(&m->lock);
	cs = &m->cs[coll_index(c)];
	items = calloc(cs->n ? cs->n : 1, sizeof(*items));
	if (!items) {
		rc = VPN_E_NOMEM;
		goto unlock;
	}
	/* committed versions only: a creation not yet durable is absent, a deletion present */
	for (i = 0; i < cs->n; i++) {
		struct obj *o = atomic_load_explicit(&cs->v[i]->committed, memory_order_acquire);

		if (!o)
			continue;
		items[n].o = o;
		if (sc.field == 2) {
			json_t *doc = json_loadb(o->pub, o->pub_len, 0, NULL);

			items[n].key = json_incref(json_object_get(doc, sort_by));
			json_decref(doc);
		}
		n++;
	}
	qsort_r(items, n, sizeof(*items), sort_cmp, &sc);
	if (start > n)
		start = n;
	end = page < n - start ? start + page : n;
	rc = buf_adds(&b, "{\"results\":[");
	for (i = start; !rc && i < end; i++) {
		if (i > start)
			rc = buf_add(&b, ",", 1);
		if (rc)
			break;
		if (lp->included_fields)
			rc = add_included(&b, items[i].o, lp->included_fields);
		else
			rc = buf_add(&b, items[i].o->pub, items[i].o->pub_len);
	}
unlock:
	pthread_rwlock_unlock(&m->lock);
	if (!rc)
		rc = buf_addf(&b, "],\"result_count\":%zu,\"sort_by\":", n);
	if (!rc)
		rc = buf_add_json_str(&b, sort_by);
	if (!rc)
		rc = buf_addf(&b, ",\"sort_ascending\":%s", lp->sort_ascending ? "true" : "false");
	if (!rc && end < n)
		rc = buf_addf(&b, ",\"cursor\":\"%zu\"", end);
	if (!rc)
		rc = buf_add(&b, "}", 1);
	if (items)
		for (i = 0; i < n; i++)
			json_decref(items[i].key);
	free(items);
	if (rc) {
		buf_release(&b);
		return vpn_error_set(err, rc, 0, "cannot build the list");
	}
	*json = buf_detach(&b, len);
	return *json ? VPN_OK : vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
}

/* ---------------------------------------------------------------------------------------- */
/* writes */

/* The audit record as JSON text (caller frees), or NULL on allocation failure. */
static char *
audit_json(const struct model_audit_rec *r, int64_t now, size_t *len)
{
	json_t *o = json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:i, s:o}",
			      "time_ms", (json_int_t)now,
			      "user", r->user ? r->user : "",
			      "role", r->role ? r->role : "",
			      "method", r->method ? r->method : "",
			      "path", r->path ? r->path : "",
			      "revision_before", r->rev_before < 0 ? json_null()
							: json_integer(r->rev_before),
			      "revision_after", r->rev_after < 0 ? json_null()
						       : json_integer(r->rev_after),
			      "status", r->status,
			      "error_code", r->error_code ? json_integer(r->error_code)
							  : json_null());
	char *txt;

	if (!o)
		return NULL;
	txt = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (txt)
		*len = strlen(txt);
	return txt;
}

void
model_audit(struct model *m, const struct model_audit_rec *r)
{
	struct store_change ch = { 0 };
	int64_t now = util_now_ms();
	size_t len = 0;
	char *txt = audit_json(r, now, &len);

	if (!txt) {
		log_error("audit: out of memory; a record for %s was lost", r->path ? r->path : "?");
		return;
	}
	ch.op = STORE_AUDIT;
	ch.json = txt;
	ch.json_len = len;
	ch.revision = now;
	/* durable before the caller answers, as an accepted write's record is: a client that
	 * got its 4xx finds it in the log */
	if (store_submit_sync(m->st, &ch, 1, NULL))
		log_error("audit: a record for %s could not be written", r->path ? r->path : "?");
	free(txt);
}

int64_t
model_revision(struct model *m, const char *path)
{
	struct obj *o;
	int64_t rev;

	pthread_rwlock_rdlock(&m->lock);
	o = obj_committed(m, path);
	rev = o ? o->revision : -1;
	pthread_rwlock_unlock(&m->lock);
	return rev;
}

struct audit_acc {
	struct buf *b;
	size_t n;
};

static enum vpn_err
audit_row(void *arg, const struct store_audit *a)
{
	struct audit_acc *acc = arg;
	enum vpn_err rc;

	/* {"id":N, then the stored record's fields */
	rc = buf_addf(acc->b, "%s{\"id\":%lld", acc->n ? "," : "", (long long)a->id);
	if (!rc && a->len > 2 && a->record[0] == '{')
		rc = buf_addf(acc->b, ",%.*s", (int)(a->len - 1), a->record + 1);
	else if (!rc)
		rc = buf_add(acc->b, "}", 1);
	acc->n++;
	return rc;
}

enum vpn_err
model_audit_list(struct model *m, int64_t since, size_t limit, char **json, size_t *len,
		 struct vpn_error *err)
{
	struct buf b;
	struct audit_acc acc = { &b, 0 };
	enum vpn_err rc;

	*json = NULL;
	buf_init(&b, (size_t)64 << 20);
	rc = buf_adds(&b, "{\"results\":[");
	if (!rc)
		rc = store_audit_list(m->st, since, limit, audit_row, &acc, err);
	if (!rc)
		rc = buf_addf(&b, "],\"result_count\":%zu}", acc.n);
	if (rc) {
		buf_release(&b);
		if (err && !err->msg[0])
			vpn_error_set(err, rc, 0, "cannot read the audit log");
		return rc;
	}
	*json = buf_detach(&b, len);
	return *json ? VPN_OK : vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
}

struct wctx {
	struct model *m;
	struct node *node;		/* the written path's node (pending counted) */
	struct obj *obj;		/* the new version (held), NULL for a deletion */
	model_done_cb cb;
	void *arg;
	char *body;
	size_t len;
	char path[512];
};

static void
write_done(void *arg, enum vpn_err rc)
{
	struct wctx *w = arg;

	/* readers see the new version before the observer and the writer hear of it */
	node_settle(w->m, w->node, w->obj, rc == VPN_OK);
	if (rc) {
		log_error("store: write of %s failed; reloading the tree from the store", w->path);
		start_recovery(w->m);
		free(w->body);
		w->body = NULL;
		w->len = 0;
	} else if (w->m->observer) {
		w->m->observer(w->m->observer_arg, w->path);
	}
	w->cb(w->arg, rc, w->body, w->len);
	free(w);
}

struct refcheck {
	struct model *m;
	struct vpn_error *err;
	unsigned bad;
};

static enum vpn_err
check_ref(void *arg, const char *where, const char *target, const char *prefix)
{
	struct refcheck *rc = arg;
	struct obj *t = obj_latest(rc->m, target);

	(void)prefix;
	if (!t) {
		vpn_error_add(rc->err, VPN_E_INVALID, NSX_EC_INVALID,
			      "%s: the path=[%s] is invalid: no such object", where, target);
		rc->bad++;
	}
	return VPN_OK;
}

static enum vpn_err
check_delete(struct model *m, struct obj *o, struct vpn_error *err)
{
	struct refset *rs = hmap_get(&m->refs, o->path);
	size_t i;

	if (rs && rs->srcs.used) {
		const char *first[5];
		size_t nf = 0, pos = 0, k;
		const char *src;
		struct buf b;
		char *list;

		/* name the five smallest paths: the message is the same on every run */
		while (hmap_next(&rs->srcs, &pos, &src, NULL)) {
			for (k = nf; k > 0 && strcmp(src, first[k - 1]) < 0; k--)
				if (k < 5)
					first[k] = first[k - 1];
			if (k < 5) {
				first[k] = src;
				if (nf < 5)
					nf++;
			}
		}
		buf_init(&b, 2048);
		for (i = 0; i < nf; i++)
			(void)buf_addf(&b, "%s%s", i ? ", " : "", first[i]);
		if (rs->srcs.used > 5)
			(void)buf_addf(&b, " and %zu more", rs->srcs.used - 5);
		list = b.p ? b.p : "";
		vpn_error_set(err, VPN_E_IN_USE, NSX_EC_IN_USE,
			      "Cannot delete %s: it is referenced by %s. Remove the reference first.",
			      o->path, list);
		buf_release(&b);
		return VPN_E_IN_USE;
	}
	for (i = 0; i < o->nvti; i++) {
		struct obj *n = nbr_in_prefix(m, &o->vti[i]);

		if (n) {
			char a[64];

			netaddr_format(&n->nbr, a, sizeof(a));
			return vpn_error_set(err, VPN_E_IN_USE, NSX_EC_IN_USE,
					     "Cannot delete %s: BGP neighbor %s (neighbor_address %s) "
					     "lies in its tunnel interface subnet. Delete the BGP "
					     "neighbor first.", o->path, n->path, a);
		}
	}
	return VPN_OK;
}

/* Tunnel-interface subnets may not overlap another session's (NSX: error 500105). */
static enum vpn_err
check_vti_overlap(struct model *m, const struct schema_type *t, const json_t *cand,
		  const struct obj *cur, struct vpn_error *err)
{
	struct obj probe = { 0 };
	enum vpn_err rc = VPN_OK;
	size_t i;

	probe.coll = &coll_sessions;
	probe.type = t;
	if (obj_index_facts(&probe, cand)) {
		rc = vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
		goto out;
	}
	for (i = 0; i < probe.nvti; i++) {
		struct obj *other = vti_overlap(m, &probe.vti[i], cur);

		if (other) {
			struct netprefix net = prefix_network(&probe.vti[i]);
			char a[64];

			netaddr_format(&net.addr, a, sizeof(a));
			vpn_error_add(err, VPN_E_INVALID, NSX_EC_OVERLAP,
				      "tunnel_interfaces: subnet %s/%u overlaps a tunnel interface "
				      "subnet of session %s", a, net.len, other->path);
			rc = VPN_E_INVALID;
		}
		/* the SDDC's own address may not be a BGP neighbor's (the peer's) address */
		{
			size_t at = nbr_lower_bound(m, &probe.vti[i].addr);

			if (at < m->nnbrs && !netaddr_cmp(&m->nbrs[at].a, &probe.vti[i].addr)) {
				char a[64];

				netaddr_format(&probe.vti[i].addr, a, sizeof(a));
				vpn_error_add(err, VPN_E_INVALID, NSX_EC_INVALID,
					      "tunnel_interfaces: address %s is the neighbor_address "
					      "of BGP neighbor %s; the SDDC side needs the other "
					      "address of the subnet", a, m->nbrs[at].o->path);
				rc = VPN_E_INVALID;
			}
		}
	}
out:
	for (i = 0; i < probe.nrefs; i++)
		free(probe.refs[i]);
	free(probe.refs);
	free(probe.vti);
	return rc;
}

/*
 * VMC: "The local ASN must be different from the remote ASN. (iBGP ... is not supported in SDDC
 * networks.)" The local ASN is the tier-0's BGP config (local_as_num, default 65000).
 */
static enum vpn_err
check_not_ibgp(struct model *m, const json_t *cand, struct vpn_error *err)
{
	struct obj *bgp = obj_latest(m, LS "/bgp");
	json_t *doc;
	uint32_t local, remote;
	const char *ls;
	enum vpn_err rc = VPN_OK;

	if (!bgp || !util_parse_asn(jstr(cand, "remote_as_num"), &remote))
		return VPN_OK;
	doc = json_loadb(bgp->pub, bgp->pub_len, 0, NULL);
	ls = jstr(doc, "local_as_num");
	if (util_parse_asn(ls, &local) && local == remote)
		rc = vpn_error_set(err, VPN_E_INVALID, NSX_EC_INVALID,
				   "remote_as_num: %s is the SDDC's local AS number; iBGP is not "
				   "supported, the remote AS must differ", ls);
	json_decref(doc);
	return rc;
}

static bool
id_valid(const char *id)
{
	size_t n = strlen(id), i;

	if (n == 0 || n > ID_MAX || !util_utf8_valid(id, n))
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)id[i] < 0x20 || id[i] == '/' || id[i] == 0x7f)
			return false;
	return true;
}

/*
 * Turn the request body into the candidate document for validation: check id and
 * resource_type, read _revision, strip server fields and merge (PATCH).
 */
static enum vpn_err
build_candidate(const struct model_write *w, const struct obj *cur, json_t **out,
		const char **type_out, struct vpn_error *err)
{
	json_t *body = w->body, *cand = NULL, *rev, *v;
	const char *bid, *rt, *type;
	json_int_t revision = -1;
	bool has_rev = false;
	const char *key;

	*out = NULL;
	if (!json_is_object(body))
		return vpn_error_set(err, VPN_E_BAD_JSON, NSX_EC_DESERIALIZE,
				     "Json de-serialization error: the request body must be a JSON "
				     "object");
	bid = jstr(body, "id");
	if (json_object_get(body, "id") && !json_is_null(json_object_get(body, "id")) &&
	    (!bid || strcmp(bid, w->id)))
		return vpn_error_set(err, VPN_E_INVALID, NSX_EC_INVALID,
				     "id in the request body does not match the id in the URL (%s)",
				     w->id);
	rev = json_object_get(body, "_revision");
	if (rev && !json_is_null(rev)) {
		int64_t r;

		has_rev = true;
		if (json_is_integer(rev))
			revision = json_integer_value(rev);
		else if (json_is_string(rev) && util_parse_i64(json_string_value(rev), &r))
			revision = r;
		else
			return vpn_error_set(err, VPN_E_BAD_JSON, NSX_EC_DESERIALIZE,
					     "Json de-serialization error: _revision must be an "
					     "integer");
	}
	v = json_object_get(body, "resource_type");
	rt = json_string_value(v);
	if (v && !json_is_null(v) && !rt)
		return vpn_error_set(err, VPN_E_BAD_JSON, NSX_EC_DESERIALIZE,
				     "Json de-serialization error: resource_type must be a string");
	if (rt && !type_allowed(w->coll, rt))
		return vpn_error_set(err, VPN_E_INVALID, NSX_EC_INVALID,
				     "resource_type %s is not valid here; expected %s%s%s", rt,
				     w->coll->types[0], w->coll->types[1] ? " or " : "",
				     w->coll->types[1] ? w->coll->types[1] : "");
	if (cur) {
		type = schema_type_name(cur->type);
		if (rt && strcmp(rt, type))
			return vpn_error_set(err, VPN_E_INVALID, NSX_EC_INVALID,
					     "resource_type cannot change from %s to %s; delete the "
					     "object and create it again", type, rt);
	} else if (rt) {
		type = rt;
	} else if (w->coll->type_required) {
		return vpn_error_set(err, VPN_E_INVALID, NSX_EC_INVALID,
				     "resource_type is required: %s or %s", w->coll->types[0],
				     w->coll->types[1]);
	} else {
		type = w->coll->types[0];
	}
	if (cur && w->op == MODEL_PUT && (!has_rev || revision != cur->revision)) {
		if (!has_rev)
			return vpn_error_set(err, VPN_E_CONFLICT, NSX_EC_STALE_REVISION,
					     "The object %s already exists: a PUT that replaces it "
					     "must carry its current _revision (%lld).", cur->path,
					     (long long)cur->revision);
		return vpn_error_set(err, VPN_E_CONFLICT, NSX_EC_STALE_REVISION,
				     "The object %s was modified by somebody else: _revision %lld "
				     "is stale, the current one is %lld.", cur->path,
				     (long long)revision, (long long)cur->revision);
	}
	if (cur && w->op == MODEL_PATCH && has_rev && revision != cur->revision)
		return vpn_error_set(err, VPN_E_CONFLICT, NSX_EC_STALE_REVISION,
				     "The object %s was modified by somebody else: _revision %lld "
				     "is stale, the current one is %lld.", cur->path,
				     (long long)revision, (long long)cur->revision);

	if (w->op == MODEL_PATCH && cur) {
		size_t flen = 0;
		char *ftxt = obj_full(cur, &flen);

		cand = ftxt ? json_loadb(ftxt, flen, 0, NULL) : NULL;
		free(ftxt);
		if (!cand)
			return vpn_error_set(err, VPN_E_INTERNAL, 0, "stored object unreadable");
		schema_strip_readonly(cur->type, cand);
		json_object_foreach(body, key, v) {
			if (json_object_set(cand, key, v)) {
				json_decref(cand);
				return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
			}
		}
	} else {
		cand = json_deep_copy(body);
		if (!cand)
			return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
		/*
		 * The BGP password is write-only, so a GET-edit-PUT cycle cannot send it back:
		 * a PUT without it keeps the stored one ("" clears it, as NSX documents).
		 */
		if (cur && w->coll == &coll_bgp_neighbors && !json_object_get(cand, "password")) {
			size_t flen = 0;
			char *ftxt = obj_full(cur, &flen);
			json_t *old = ftxt ? json_loadb(ftxt, flen, 0, NULL) : NULL;
			json_t *pw = json_object_get(old, "password");

			free(ftxt);

			if (json_is_string(pw))
				json_object_set(cand, "password", pw);
			json_decref(old);
		}
	}
	schema_strip_readonly(schema_type_get(type), cand);
	/* local endpoints have two URLs (the deprecated one without locale-services): accept a
	 * path to either, store the canonical one */
	{
		static const char alias[] = T0 "/ipsec-vpn-services/";
		const char *le = jstr(cand, "local_endpoint_path");

		if (le && !strncmp(le, alias, sizeof(alias) - 1)) {
			char canon[1024];

			snprintf(canon, sizeof(canon), "%s/ipsec-vpn-services/%s", LS,
				 le + sizeof(alias) - 1);
			json_object_set_new(cand, "local_endpoint_path", json_string(canon));
		}
	}
	json_object_del(cand, "id");
	json_object_del(cand, "resource_type");
	*out = cand;
	*type_out = type;
	return VPN_OK;
}

/*
 * Submit @ch and the audit record of this write (status 200) as one change set: the change and
 * its audit entry are durable together or not at all.
 */
static enum vpn_err
submit_change(struct model *m, const struct model_write *mw, struct node *node, struct obj *o,
	      const struct store_change *ch, int64_t rev_before, int64_t rev_after, char *body,
	      size_t blen, model_done_cb cb, void *arg, struct vpn_error *err)
{
	struct wctx *w = calloc(1, sizeof(*w));
	struct model_audit_rec ar = { mw->user, mw->role, mw->method, ch->path, rev_before,
				      rev_after, 200, 0 };
	struct store_change set[2];
	int64_t now = util_now_ms();
	size_t alen = 0;
	char *atxt = audit_json(&ar, now, &alen);
	enum vpn_err rc;

	if (!atxt) {
		free(w);
		free(body);
		return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	}
	set[0] = *ch;
	memset(&set[1], 0, sizeof(set[1]));
	set[1].op = STORE_AUDIT;
	set[1].json = atxt;
	set[1].json_len = alen;
	set[1].revision = now;

	if (!w) {
		free(atxt);
		free(body);
		return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	}
	w->m = m;
	w->node = node;
	w->obj = o;
	w->cb = cb;
	w->arg = arg;
	w->body = body;
	w->len = blen;
	snprintf(w->path, sizeof(w->path), "%s", ch->path);
	/* the callback may run before store_submit returns: count and hold first */
	if (o)
		atomic_fetch_add(&o->nref, 1);
	pthread_mutex_lock(&m->pmu);
	node->pending++;
	pthread_mutex_unlock(&m->pmu);
	rc = store_submit(m->st, set, 2, write_done, w);
	free(atxt);
	if (rc) {
		pthread_mutex_lock(&m->pmu);
		node->pending--;
		pthread_mutex_unlock(&m->pmu);
		obj_unref(m, o, true);
		free(body);
		free(w);
		return vpn_error_set(err, VPN_E_STORE, 0, "the store refused the write");
	}
	return VPN_OK;
}

enum vpn_err
model_write(struct model *m, const struct model_write *w, model_done_cb cb, void *arg,
	    struct vpn_error *err)
{
	char path[1024];
	struct obj *cur, *o = NULL;
	struct node *node = NULL;
	json_t *cand = NULL;
	const char *type = NULL;
	const struct schema_type *t;
	struct store_change ch;
	char *body = NULL, *full = NULL;
	size_t blen = 0;
	enum vpn_err rc;
	int n;

	if (!id_valid(w->id))
		return vpn_error_set(err, VPN_E_INVALID, NSX_EC_INVALID,
				     "Invalid id: it must be 1 to %d characters of valid UTF-8 "
				     "without control characters or '/'", ID_MAX);
	n = snprintf(path, sizeof(path), "%s/%s", w->coll->path, w->id);
	if (n < 0 || (size_t)n >= sizeof(path))
		return vpn_error_set(err, VPN_E_INVALID, NSX_EC_INVALID, "id too long");

	pthread_rwlock_wrlock(&m->lock);
	if (atomic_load(&m->failed)) {
		rc = vpn_error_set(err, VPN_E_STORE, 0,
				   "a write just failed to reach the store; vpnd is reloading its "
				   "state from the store - retry shortly");
		goto out;
	}
	model_reap(m);
	cur = obj_latest(m, path);
	if ((cur && cur->system) || (!cur && w->coll->system_only)) {
		rc = vpn_error_set(err, VPN_E_FORBIDDEN, NSX_EC_SYSTEM_OWNED,
				   cur ? "%s is system owned and cannot be modified or deleted"
				       : "%s cannot be created: objects here are system owned", path);
		goto out;
	}
	if (w->op == MODEL_DELETE) {
		if (!cur) {
			rc = not_found(err, path);
			goto out;
		}
		rc = check_delete(m, cur, err);
		if (rc)
			goto out;
		memset(&ch, 0, sizeof(ch));
		ch.op = STORE_DEL;
		ch.path = cur->path;
		rc = submit_change(m, w, hmap_get(&m->objs, path), NULL, &ch, cur->revision, -1,
				   NULL, 0, cb, arg, err);
		if (rc)
			goto out;
		model_unlink(m, cur);
		obj_unref(m, cur, true);
		goto out;
	}

	rc = build_candidate(w, cur, &cand, &type, err);
	if (rc)
		goto out;
	t = schema_type_get(type);
	if (!t) {
		rc = vpn_error_set(err, VPN_E_INTERNAL, 0, "no schema for %s", type);
		goto out;
	}
	rc = schema_validate(t, cand, err);
	if (!rc) {
		struct refcheck rcx = { m, err, 0 };

		schema_refs(t, cand, check_ref, &rcx);
		if (rcx.bad)
			rc = VPN_E_INVALID;
	}
	if (!rc && w->coll == &coll_sessions)
		rc = check_vti_overlap(m, t, cand, cur, err);
	if (!rc && w->coll == &coll_bgp_neighbors)
		rc = check_not_ibgp(m, cand, err);
	if (!rc && w->coll == &coll_bgp_neighbors) {
		struct netaddr na;
		struct obj *owner;

		/* the neighbor is the peer's end of the tunnel, not the SDDC's own VTI address */
		if (netaddr_parse(jstr(cand, "neighbor_address"), &na) &&
		    (owner = vti_local_owner(m, &na)))
			rc = vpn_error_set(err, VPN_E_INVALID, NSX_EC_INVALID,
					   "neighbor_address: %s is the SDDC's own tunnel interface "
					   "address of session %s; use the peer's address in that "
					   "subnet", jstr(cand, "neighbor_address"), owner->path);
	}
	if (rc)
		goto out;
	rc = finish_doc(cand, w->coll, type, w->id, cur, w->user ? w->user : "admin",
			util_now_ms(), false);
	if (!rc)
		rc = obj_from_doc(w->coll, path, cand, &o);
	if (rc) {
		vpn_error_set(err, rc, 0, "cannot build the object");
		goto out;
	}
	if (w->op == MODEL_PUT) {
		body = util_strndup(o->pub, o->pub_len);
		if (!body) {
			rc = vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
			goto out;
		}
		blen = o->pub_len;
	}
	node = node_get_or_add(m, o);
	if (!node) {
		free(body);
		rc = vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
		goto out;
	}
	memset(&ch, 0, sizeof(ch));
	full = obj_full(o, &ch.json_len);	/* the store copies it */
	if (!full) {
		free(body);
		node_gc(m, node);		/* as after a refused submit: no empty node kept */
		rc = vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
		goto out;
	}
	ch.op = STORE_PUT;
	ch.path = o->path;
	ch.kind = type;
	ch.json = full;
	ch.revision = o->revision;
	rc = submit_change(m, w, node, o, &ch, cur ? cur->revision : -1, o->revision, body, blen,
			   cb, arg, err);
	if (rc) {
		node_gc(m, node);
		goto out;
	}
	if (cur) {
		model_unlink(m, cur);
		obj_unref(m, cur, true);
	}
	if (model_link(m, o)) {
		/* Out of memory half-way through linking: the store has the change, memory may not.
		 * Rebuild the tree from the store rather than serve one that differs from it. */
		log_error("model: out of memory while linking %s; reloading from the store", path);
		start_recovery(m);
	}
	o = NULL;
out:
	pthread_rwlock_unlock(&m->lock);
	free(full);
	json_decref(cand);
	obj_free(o);
	return rc;
}

void
model_set_observer(struct model *m, model_observer fn, void *arg)
{
	pthread_rwlock_wrlock(&m->lock);
	m->observer = fn;
	m->observer_arg = arg;
	pthread_rwlock_unlock(&m->lock);
}

void
model_paths_release(struct model_paths *p)
{
	size_t i;

	for (i = 0; i < p->n; i++)
		free(p->v[i]);
	free(p->v);
	p->v = NULL;
	p->n = 0;
}

static enum vpn_err
paths_push(struct model_paths *p, const char *path)
{
	char **nv = realloc(p->v, (p->n + 1) * sizeof(*nv));

	if (!nv)
		return VPN_E_NOMEM;
	p->v = nv;
	p->v[p->n] = strdup(path);
	if (!p->v[p->n])
		return VPN_E_NOMEM;
	p->n++;
	return VPN_OK;
}

enum vpn_err
model_referrers(struct model *m, const char *path, struct model_paths *out)
{
	const char *src;
	struct refset *rs;
	enum vpn_err rc = VPN_OK;
	size_t i;

	memset(out, 0, sizeof(*out));
	pthread_rwlock_rdlock(&m->lock);
	rs = hmap_get(&m->refs, path);
	for (i = 0; rs && !rc && hmap_next(&rs->srcs, &i, &src, NULL);)
		rc = paths_push(out, src);
	pthread_rwlock_unlock(&m->lock);
	if (rc)
		model_paths_release(out);
	return rc;
}

enum vpn_err
model_collection_paths(struct model *m, const struct coll *c, struct model_paths *out)
{
	struct coll_state *cs;
	enum vpn_err rc = VPN_OK;
	size_t i;

	memset(out, 0, sizeof(*out));
	pthread_rwlock_rdlock(&m->lock);
	cs = &m->cs[coll_index(c)];
	for (i = 0; !rc && i < cs->n; i++)
		if (atomic_load_explicit(&cs->v[i]->committed, memory_order_acquire))
			rc = paths_push(out, cs->v[i]->path);
	pthread_rwlock_unlock(&m->lock);
	if (rc)
		model_paths_release(out);
	return rc;
}

const struct coll *
model_coll_of(const char *path)
{
	const char *id;

	return coll_of_path(path, &id);
}
