#include "api/api.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/util.h"
#include "model/model.h"

#define API_PREFIX "/policy/api/v1"
#define VMC_PREFIX "/vmc/reverse-proxy/api/orgs/"
#define T0 "/infra/tier-0s/vmc"
#define LS T0 "/locale-services/default"
#define SVC LS "/ipsec-vpn-services/default"
#define MAX_SEGS 16

struct api {
	struct model *m;
	struct api_config cfg;
};

enum handler { H_LIST, H_OBJECT, H_SINGLETON };

#define M_RO (API_GET | API_HEAD)
#define M_RW (API_GET | API_HEAD | API_PUT | API_PATCH | API_DELETE)

struct route {
	const char *pattern;		/* "{id}" matches one segment */
	unsigned methods;
	enum handler h;
	const struct coll *coll;
	struct api_route_info info;
};

/*
 * THE route table. Paths are relative to /policy/api/v1 after normalisation (see normalize()).
 * Literal routes come before wildcard ones that could shadow them. Writes to system-owned
 * collections are routed (so they get a clear 403 from the model, not a 405).
 */
static struct route routes[] = {
	{ "/infra/ipsec-vpn-ike-profiles", M_RO, H_LIST, &coll_ike_profiles, { 0 } },
	{ "/infra/ipsec-vpn-ike-profiles/{id}", M_RW, H_OBJECT, &coll_ike_profiles, { 0 } },
	{ "/infra/ipsec-vpn-tunnel-profiles", M_RO, H_LIST, &coll_tunnel_profiles, { 0 } },
	{ "/infra/ipsec-vpn-tunnel-profiles/{id}", M_RW, H_OBJECT, &coll_tunnel_profiles, { 0 } },
	{ "/infra/ipsec-vpn-dpd-profiles", M_RO, H_LIST, &coll_dpd_profiles, { 0 } },
	{ "/infra/ipsec-vpn-dpd-profiles/{id}", M_RW, H_OBJECT, &coll_dpd_profiles, { 0 } },
	{ "/infra/tier-0s", M_RO, H_LIST, &coll_tier0s, { 0 } },
	{ "/infra/tier-0s/{id}", M_RW, H_OBJECT, &coll_tier0s, { 0 } },
	{ T0 "/prefix-lists", M_RO, H_LIST, &coll_prefix_lists, { 0 } },
	{ T0 "/prefix-lists/{id}", M_RW, H_OBJECT, &coll_prefix_lists, { 0 } },
	{ T0 "/locale-services", M_RO, H_LIST, &coll_locale_services, { 0 } },
	{ T0 "/locale-services/{id}", M_RW, H_OBJECT, &coll_locale_services, { 0 } },
	{ LS "/bgp", M_RW, H_SINGLETON, &coll_bgp_config, { 0 } },
	{ LS "/bgp/neighbors", M_RO, H_LIST, &coll_bgp_neighbors, { 0 } },
	{ LS "/bgp/neighbors/{id}", M_RW, H_OBJECT, &coll_bgp_neighbors, { 0 } },
	{ LS "/ipsec-vpn-services", M_RO, H_LIST, &coll_vpn_services, { 0 } },
	{ LS "/ipsec-vpn-services/{id}", M_RW, H_OBJECT, &coll_vpn_services, { 0 } },
	{ SVC "/local-endpoints", M_RO, H_LIST, &coll_local_endpoints, { 0 } },
	{ SVC "/local-endpoints/{id}", M_RW, H_OBJECT, &coll_local_endpoints, { 0 } },
	{ SVC "/sessions", M_RO, H_LIST, &coll_sessions, { 0 } },
	{ SVC "/sessions/{id}", M_RW, H_OBJECT, &coll_sessions, { 0 } },
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

size_t
api_route_count(void)
{
	return NROUTES;
}

const struct api_route_info *
api_route_at(size_t i)
{
	struct route *r;

	if (i >= NROUTES)
		return NULL;
	r = &routes[i];
	r->info.pattern = r->pattern;
	r->info.methods = r->methods;
	r->info.writes = (r->methods & (API_PUT | API_PATCH | API_DELETE | API_POST)) != 0;
	return &r->info;
}

enum vpn_err
api_new(struct api **out, struct model *m, const struct api_config *cfg)
{
	struct api *a = calloc(1, sizeof(*a));

	*out = NULL;
	if (!a)
		return VPN_E_NOMEM;
	a->m = m;
	a->cfg = *cfg;
	*out = a;
	return VPN_OK;
}

void
api_free(struct api *a)
{
	free(a);
}

/* ---------------------------------------------------------------------------------------- */
/* responses */

static bool
respond_err(struct api_resp *out, const struct vpn_error *e)
{
	out->status = vpn_err_http_status(e->code == VPN_OK ? VPN_E_INTERNAL : e->code);
	out->body = vpn_error_json(e, &out->len);
	out->content_type = "application/json";
	if (!out->body)
		out->len = 0;
	return true;
}

static bool
respond_errf(struct api_resp *out, enum vpn_err code, int nsx, const char *msg)
{
	struct vpn_error e;

	vpn_error_clear(&e);
	vpn_error_set(&e, code, nsx, "%s", msg);
	return respond_err(out, &e);
}

static bool
respond_json(struct api_resp *out, int status, char *body, size_t len)
{
	out->status = status;
	out->body = body;
	out->len = len;
	out->content_type = "application/json";
	return true;
}

/* ---------------------------------------------------------------------------------------- */
/* URL normalisation and routing */

static const char *
skip_seg(const char *p)
{
	while (*p && *p != '/')
		p++;
	return p;
}

/*
 * Reduce @url to the policy path under /policy/api/v1 in @out: strip the VMC reverse-proxy
 * prefixes, the trailing slash, and map the deprecated ipsec-vpn-services form (without
 * locale-services) to the locale-services one. False when the URL is not an API URL.
 */
static bool
normalize(const char *url, char *out, size_t outlen)
{
	static const char alias[] = T0 "/ipsec-vpn-services";
	const char *p = url;
	size_t n;

	if (!strncmp(p, VMC_PREFIX, sizeof(VMC_PREFIX) - 1)) {
		p += sizeof(VMC_PREFIX) - 1;
		if (*p == '/' || !*p)
			return false;
		p = skip_seg(p);				/* org */
		if (strncmp(p, "/sddcs/", 7))
			return false;
		p += 7;
		if (*p == '/' || !*p)
			return false;
		p = skip_seg(p);				/* sddc */
		if (!strncmp(p, "/sks-nsxt-manager/", 18))
			p += 17;
	}
	if (strncmp(p, API_PREFIX, sizeof(API_PREFIX) - 1))
		return false;
	p += sizeof(API_PREFIX) - 1;
	n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		n--;
	if (!strncmp(p, alias, sizeof(alias) - 1) &&
	    (p[sizeof(alias) - 1] == '/' || p[sizeof(alias) - 1] == '\0')) {
		int k = snprintf(out, outlen, "%s%.*s", LS "/ipsec-vpn-services",
				 (int)(n - (sizeof(alias) - 1)), p + sizeof(alias) - 1);

		return k >= 0 && (size_t)k < outlen;
	}
	if (n >= outlen)
		return false;
	memcpy(out, p, n);
	out[n] = '\0';
	return true;
}

static size_t
split(char *s, char **segs, size_t max)
{
	size_t n = 0;
	char *p = s;

	if (*p == '/')
		p++;
	while (*p) {
		if (n == max)
			return max + 1;
		segs[n++] = p;
		p = strchr(p, '/');
		if (!p)
			break;
		*p++ = '\0';
	}
	return n;
}

/* Match @path against the table. *id receives the {id} segment (points into @scratch). */
static const struct route *
route_match(const char *path, char *scratch, size_t slen, const char **id)
{
	char *segs[MAX_SEGS + 1], pbuf[256], *psegs[MAX_SEGS + 1];
	size_t n, i, j;

	if (strlen(path) >= slen)
		return NULL;
	memcpy(scratch, path, strlen(path) + 1);
	n = split(scratch, segs, MAX_SEGS);
	if (n > MAX_SEGS)
		return NULL;
	for (i = 0; i < NROUTES; i++) {
		size_t pn;
		const char *cap = NULL;

		snprintf(pbuf, sizeof(pbuf), "%s", routes[i].pattern);
		pn = split(pbuf, psegs, MAX_SEGS);
		if (pn != n)
			continue;
		for (j = 0; j < n; j++) {
			if (!strcmp(psegs[j], "{id}")) {
				if (!*segs[j])
					break;
				cap = segs[j];
			} else if (strcmp(psegs[j], segs[j])) {
				break;
			}
		}
		if (j == n) {
			*id = cap;
			return &routes[i];
		}
	}
	return NULL;
}

static const char *
allow_header(unsigned m)
{
	return (m & API_PUT) ? "GET, HEAD, PUT, PATCH, DELETE" : "GET, HEAD";
}

/* ---------------------------------------------------------------------------------------- */
/* handlers */

static bool
parse_bool(const char *s, bool *out)
{
	if (!strcmp(s, "true")) {
		*out = true;
		return true;
	}
	if (!strcmp(s, "false")) {
		*out = false;
		return true;
	}
	return false;
}

static bool
h_list(struct api *a, const struct api_req *rq, const struct route *r, struct api_resp *out)
{
	struct list_params lp = { NULL, true, NULL, 1000, NULL };
	struct vpn_error e;
	const char *v;
	char *body = NULL;
	size_t len = 0;

	vpn_error_clear(&e);
	v = rq->query(rq->qctx, "page_size");
	if (v) {
		int64_t ps;

		if (!util_parse_i64(v, &ps) || ps < 0)
			return respond_errf(out, VPN_E_INVALID, NSX_EC_INVALID,
					    "page_size must be a non-negative integer");
		/* NSX: 0 means the default; larger than the maximum is capped */
		lp.page_size = ps == 0 || ps > 1000 ? 1000 : (size_t)ps;
	}
	v = rq->query(rq->qctx, "sort_ascending");
	if (v && !parse_bool(v, &lp.sort_ascending))
		return respond_errf(out, VPN_E_INVALID, NSX_EC_INVALID,
				    "sort_ascending must be true or false");
	lp.sort_by = rq->query(rq->qctx, "sort_by");
	if (lp.sort_by && !*lp.sort_by)
		lp.sort_by = NULL;
	lp.cursor = rq->query(rq->qctx, "cursor");
	if (lp.cursor && !*lp.cursor)
		lp.cursor = NULL;
	lp.included_fields = rq->query(rq->qctx, "included_fields");
	if (lp.included_fields && !*lp.included_fields)
		lp.included_fields = NULL;
	if (model_list(a->m, r->coll, &lp, &body, &len, &e))
		return respond_err(out, &e);
	return respond_json(out, 200, body, len);
}

static bool
h_get(struct api *a, const struct api_req *rq, const struct route *r, const char *id,
      struct api_resp *out)
{
	struct vpn_error e;
	const char *action = rq->query(rq->qctx, "action");
	unsigned flags = 0;
	char path[1024], *body = NULL;
	size_t len = 0;

	vpn_error_clear(&e);
	/* Only sessions have sensitive data to show (their psk). The BGP neighbor password is
	 * write-only: never returned, not even here. */
	if (action && !strcmp(action, "show_sensitive_data")) {
		if (r->coll == &coll_sessions)
			flags |= MODEL_GET_SECRETS;
	} else if (action)
		return respond_errf(out, VPN_E_INVALID, NSX_EC_INVALID,
				    "Unsupported action for GET; the only one is show_sensitive_data");
	snprintf(path, sizeof(path), "%s/%s", r->coll->path, id);
	if (model_get(a->m, path, flags, &body, &len, &e))
		return respond_err(out, &e);
	return respond_json(out, 200, body, len);
}

struct pending {
	api_done_cb cb;
	void *arg;
};

static void
write_done(void *arg, enum vpn_err rc, char *body, size_t len)
{
	struct pending *p = arg;
	struct api_resp resp = { 0 };

	if (rc) {
		struct vpn_error e;

		vpn_error_clear(&e);
		vpn_error_set(&e, rc, 0, "The change could not be made durable; it was not applied. "
			      "Retry after vpnd restarts.");
		free(body);
		respond_err(&resp, &e);
	} else {
		respond_json(&resp, 200, body, body ? len : 0);
	}
	p->cb(p->arg, &resp);
	free(p);
}

static bool
h_write(struct api *a, const struct api_req *rq, const struct route *r, const char *id,
	struct api_resp *out, api_done_cb cb, void *arg)
{
	struct model_write w = { 0 };
	struct vpn_error e;
	struct pending *p = NULL;
	json_t *body = NULL;
	json_error_t jerr;
	bool now = true;

	vpn_error_clear(&e);
	w.coll = r->coll;
	w.id = id;
	w.user = rq->user;
	if (rq->method == API_DELETE) {
		w.op = MODEL_DELETE;
	} else {
		w.op = rq->method == API_PUT ? MODEL_PUT : MODEL_PATCH;
		if (rq->body_too_big)
			return respond_errf(out, VPN_E_TOO_BIG, 0,
					    "The request body is larger than the server accepts");
		if (!rq->body_len)
			return respond_errf(out, VPN_E_BAD_JSON, NSX_EC_DESERIALIZE,
					    "Json de-serialization error: the request body is empty");
		body = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &jerr);
		if (!body) {
			/* jansson's message quotes at most a token of the input; never the whole
			 * body, so a secret elsewhere in it is not echoed. Keep only position. */
			vpn_error_set(&e, VPN_E_BAD_JSON, NSX_EC_DESERIALIZE,
				      "Json de-serialization error: malformed JSON at line %d, "
				      "column %d", jerr.line, jerr.column);
			return respond_err(out, &e);
		}
		w.body = body;
	}
	p = malloc(sizeof(*p));
	if (!p) {
		json_decref(body);
		return respond_errf(out, VPN_E_NOMEM, 0, "out of memory");
	}
	p->cb = cb;
	p->arg = arg;
	if (model_write(a->m, &w, write_done, p, &e)) {
		free(p);
		respond_err(out, &e);
	} else {
		now = false;
	}
	json_decref(body);
	return now;
}

bool
api_handle(struct api *a, const struct api_req *rq, struct api_resp *out, api_done_cb cb,
	   void *arg)
{
	char path[2048], scratch[2048], msg[256];
	const struct route *r;
	const char *id = NULL;
	enum api_method meth = rq->method == API_HEAD ? API_GET : rq->method;

	memset(out, 0, sizeof(*out));
	if (!normalize(rq->url, path, sizeof(path)) ||
	    !(r = route_match(path, scratch, sizeof(scratch), &id)))
		return respond_errf(out, VPN_E_NOT_FOUND, 0,
				    "The requested URL is not part of the API");
	if (!(r->methods & meth)) {
		snprintf(msg, sizeof(msg), "Method %.32s is not allowed on this URL",
			 rq->method_name ? rq->method_name : "?");
		respond_errf(out, VPN_E_METHOD, 0, msg);
		out->allow = allow_header(r->methods);
		return true;
	}
	if (r->h == H_SINGLETON)
		id = "bgp";
	if (r->h == H_LIST)
		return h_list(a, rq, r, out);
	if (meth == API_GET)
		return h_get(a, rq, r, id, out);
	return h_write(a, rq, r, id, out, cb, arg);
}
