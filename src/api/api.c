#include "api/api.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stddef.h>
#include <pthread.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "auth/auth.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "model/model.h"
#include "realize/rz.h"
#include "realize/sim.h"
#include "api/ratelimit.h"
#include "api/views.h"
#include "api/api_internal.h"

#define API_PREFIX "/policy/api/v1"
#define VMC_PREFIX "/vmc/reverse-proxy/api/orgs/"
#define T0 "/infra/tier-0s/vmc"
#define LS T0 "/locale-services/default"
#define SVC LS "/ipsec-vpn-services/default"
#define MAX_SEGS 16
/* The deprecated URL form of the IPSec VPN service (one object, two URLs). */
#define ALIAS_FROM T0 "/ipsec-vpn-services"
#define ALIAS_TO LS "/ipsec-vpn-services"
#define MAX_CAPS API_MAX_CAPS

struct api {
	struct model *m;
	struct auth *auth;
	struct rz *rz;
	struct api_config cfg;
	char org_id[128];
	char sddc_id[128];
	char public_url[512];
	char sddc_name[128];
	char created[32];		/* ISO 8601, for the SDDC object */
	struct rl *rl_client;		/* --rate-limit: per token name; NULL = off */
	struct rl *rl_exchange;		/* --auth-rate-limit: token exchange per client address */
};

/* Keys each rate-limit table holds at most (idle ones are evicted first; see ratelimit.h). */
#define API_RL_KEYS 4096

enum handler {
	H_LIST, H_OBJECT, H_SINGLETON,			/* policy objects */
	H_HEALTH, H_AUTHORIZE, H_SDDC_LIST, H_SDDC,	/* VMC / CSP / liveness */
	H_AUDIT, H_CLOCK,				/* vpnd's own */
	H_SESSION_STATUS, H_SESSION_STATS, H_SVC_SUMMARY,	/* runtime views */
	H_BGP_STATUS, H_ROUTES, H_ADV_ROUTES, H_REALIZED, H_REALIZED_ENTITIES,
	H_EMU_PEERS, H_EMU_PEER, H_EMU_TRAFFIC,		/* emulator */
};

#define M_RO (API_GET | API_HEAD)
#define M_RW (API_GET | API_HEAD | API_PUT | API_PATCH | API_DELETE)
#define M_WRITES (API_PUT | API_PATCH | API_DELETE | API_POST)

#define R_NOAUTH 0x1			/* no token needed */
#define R_ADMIN 0x2			/* admin role even to read */
#define R_EMULATOR 0x4			/* only when the emulator API is enabled */
#define R_POST_READS 0x8		/* POST here only reads (the CSV export of routes) */

struct route {
	const char *pattern;		/* "{x}" matches one non-empty segment */
	unsigned methods;
	enum handler h;
	const struct coll *coll;
	unsigned flags;
	struct api_route_info info;
};

/*
 * THE route tables. Policy paths are relative to /policy/api/v1 after normalisation (see
 * normalize()); top-level paths are matched as sent. Literal routes come before wildcard ones
 * that could shadow them. Writes to system-owned collections are routed (so they get a clear
 * 403 from the model, not a 405). Every policy route needs a token; writes need the admin role.
 */
static struct route routes[] = {
	{ "/infra/ipsec-vpn-ike-profiles", M_RO, H_LIST, &coll_ike_profiles, 0, { 0 } },
	{ "/infra/ipsec-vpn-ike-profiles/{id}", M_RW, H_OBJECT, &coll_ike_profiles, 0, { 0 } },
	{ "/infra/ipsec-vpn-tunnel-profiles", M_RO, H_LIST, &coll_tunnel_profiles, 0, { 0 } },
	{ "/infra/ipsec-vpn-tunnel-profiles/{id}", M_RW, H_OBJECT, &coll_tunnel_profiles, 0, { 0 } },
	{ "/infra/ipsec-vpn-dpd-profiles", M_RO, H_LIST, &coll_dpd_profiles, 0, { 0 } },
	{ "/infra/ipsec-vpn-dpd-profiles/{id}", M_RW, H_OBJECT, &coll_dpd_profiles, 0, { 0 } },
	{ "/infra/tier-0s", M_RO, H_LIST, &coll_tier0s, 0, { 0 } },
	{ "/infra/tier-0s/{id}", M_RW, H_OBJECT, &coll_tier0s, 0, { 0 } },
	{ T0 "/prefix-lists", M_RO, H_LIST, &coll_prefix_lists, 0, { 0 } },
	{ T0 "/prefix-lists/{id}", M_RW, H_OBJECT, &coll_prefix_lists, 0, { 0 } },
	{ T0 "/locale-services", M_RO, H_LIST, &coll_locale_services, 0, { 0 } },
	{ T0 "/locale-services/{id}", M_RW, H_OBJECT, &coll_locale_services, 0, { 0 } },
	{ LS "/bgp", M_RW, H_SINGLETON, &coll_bgp_config, 0, { 0 } },
	{ LS "/bgp/neighbors", M_RO, H_LIST, &coll_bgp_neighbors, 0, { 0 } },
	{ LS "/bgp/neighbors/status", M_RO, H_BGP_STATUS, &coll_bgp_neighbors, 0, { 0 } },
	{ LS "/bgp/neighbors/{id}", M_RW, H_OBJECT, &coll_bgp_neighbors, 0, { 0 } },
	{ LS "/bgp/neighbors/{id}/routes", M_RO | API_POST, H_ROUTES, &coll_bgp_neighbors,
	  R_POST_READS, { 0 } },
	{ LS "/bgp/neighbors/{id}/advertised-routes", M_RO | API_POST, H_ADV_ROUTES,
	  &coll_bgp_neighbors, R_POST_READS, { 0 } },
	{ LS "/ipsec-vpn-services", M_RO, H_LIST, &coll_vpn_services, 0, { 0 } },
	{ LS "/ipsec-vpn-services/{id}", M_RW, H_OBJECT, &coll_vpn_services, 0, { 0 } },
	{ SVC "/local-endpoints", M_RO, H_LIST, &coll_local_endpoints, 0, { 0 } },
	{ SVC "/local-endpoints/{id}", M_RW, H_OBJECT, &coll_local_endpoints, 0, { 0 } },
	{ SVC "/sessions", M_RO, H_LIST, &coll_sessions, 0, { 0 } },
	{ SVC "/sessions/{id}", M_RW, H_OBJECT, &coll_sessions, 0, { 0 } },
	{ SVC "/sessions/{id}/detailed-status", M_RO, H_SESSION_STATUS, &coll_sessions, 0, { 0 } },
	{ SVC "/sessions/{id}/statistics", M_RO | API_POST, H_SESSION_STATS, &coll_sessions, 0,
	  { 0 } },
	{ SVC "/summary", M_RO, H_SVC_SUMMARY, &coll_sessions, 0, { 0 } },
	{ "/infra/realized-state/status", M_RO, H_REALIZED, NULL, 0, { 0 } },
	{ "/infra/realized-state/realized-entities", M_RO, H_REALIZED_ENTITIES, NULL, 0, { 0 } },
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

static struct route top_routes[] = {
	{ "/healthz", M_RO, H_HEALTH, NULL, R_NOAUTH, { 0 } },
	{ "/csp/gateway/am/api/auth/api-tokens/authorize", API_POST, H_AUTHORIZE, NULL, R_NOAUTH,
	  { 0 } },
	{ "/vmc/api/orgs/{org}/sddcs", M_RO, H_SDDC_LIST, NULL, 0, { 0 } },
	{ "/vmc/api/orgs/{org}/sddcs/{sddc}", M_RO, H_SDDC, NULL, 0, { 0 } },
	{ "/vpnd/api/v1/audit", M_RO, H_AUDIT, NULL, R_ADMIN, { 0 } },
	{ "/emulator/api/v1/clock", M_RO | API_POST, H_CLOCK, NULL, R_ADMIN | R_EMULATOR, { 0 } },
	{ "/emulator/api/v1/peers", M_RO, H_EMU_PEERS, NULL, R_ADMIN | R_EMULATOR, { 0 } },
	{ "/emulator/api/v1/peers/{addr}", M_RO | API_PUT | API_DELETE, H_EMU_PEER, NULL,
	  R_ADMIN | R_EMULATOR, { 0 } },
	{ "/emulator/api/v1/sessions/{id}/traffic", API_POST, H_EMU_TRAFFIC, NULL,
	  R_ADMIN | R_EMULATOR, { 0 } },
};
#define NTOP (sizeof(top_routes) / sizeof(top_routes[0]))

/*
 * Introspection: the policy routes, the top-level routes, then every policy route again under
 * its deprecated alias (normalize() maps those URLs; listing them lets a test cover them).
 */
#define NALIAS_MAX NROUTES
static struct api_route_info alias_info[NALIAS_MAX];
static char alias_pattern[NALIAS_MAX][160];
static size_t nalias;
static pthread_once_t alias_once = PTHREAD_ONCE_INIT;

static void
fill_info(struct api_route_info *ri, const struct route *r, const char *prefix,
	  const char *pattern)
{
	ri->pattern = pattern;
	ri->prefix = prefix;
	ri->methods = r->methods;
	ri->writes = (r->methods & (API_PUT | API_PATCH | API_DELETE)) ||
		     ((r->methods & API_POST) && !(r->flags & R_POST_READS));
	ri->needs_token = !(r->flags & R_NOAUTH);
	ri->admin_only = (r->flags & R_ADMIN) != 0;
	ri->post_reads = (r->flags & R_POST_READS) != 0;
}

static void
alias_init(void)
{
	size_t i, n = sizeof(ALIAS_TO) - 1;

	for (i = 0; i < NROUTES; i++) {
		const char *p = routes[i].pattern;

		if (strncmp(p, ALIAS_TO, n) || (p[n] != '/' && p[n] != '\0'))
			continue;
		snprintf(alias_pattern[nalias], sizeof(alias_pattern[0]), "%s%s", ALIAS_FROM, p + n);
		fill_info(&alias_info[nalias], &routes[i], API_PREFIX, alias_pattern[nalias]);
		nalias++;
	}
}

size_t
api_route_count(void)
{
	pthread_once(&alias_once, alias_init);
	return NROUTES + NTOP + nalias;
}

const struct api_route_info *
api_route_at(size_t i)
{
	struct route *r;

	if (i >= api_route_count())
		return NULL;
	if (i >= NROUTES + NTOP)
		return &alias_info[i - NROUTES - NTOP];
	r = i < NROUTES ? &routes[i] : &top_routes[i - NROUTES];
	fill_info(&r->info, r, i < NROUTES ? API_PREFIX : "", r->pattern);
	return &r->info;
}

enum vpn_err
api_new(struct api **out, struct model *m, struct auth *auth, struct rz *rz,
	const struct api_config *cfg)
{
	struct api *a = calloc(1, sizeof(*a));
	size_t n;

	*out = NULL;
	if (!a)
		return VPN_E_NOMEM;
	a->m = m;
	a->auth = auth;
	a->rz = rz;
	a->cfg = *cfg;
	snprintf(a->org_id, sizeof(a->org_id), "%s", cfg->org_id ? cfg->org_id : "");
	snprintf(a->sddc_id, sizeof(a->sddc_id), "%s", cfg->sddc_id ? cfg->sddc_id : "");
	snprintf(a->sddc_name, sizeof(a->sddc_name), "%s",
		 cfg->sddc_name ? cfg->sddc_name : "vpnd-sddc");
	snprintf(a->public_url, sizeof(a->public_url), "%s", cfg->public_url ? cfg->public_url : "");
	n = strlen(a->public_url);
	while (n && a->public_url[n - 1] == '/')
		a->public_url[--n] = '\0';
	a->cfg.org_id = a->org_id;
	a->cfg.sddc_id = a->sddc_id;
	a->cfg.public_url = a->public_url[0] ? a->public_url : NULL;
	a->cfg.sddc_name = a->sddc_name;
	if ((cfg->rate_limit &&
	     !(a->rl_client = rl_new(cfg->rate_limit, cfg->rate_burst, API_RL_KEYS))) ||
	    (cfg->auth_rate_limit &&
	     !(a->rl_exchange = rl_new(cfg->auth_rate_limit, cfg->auth_rate_burst, API_RL_KEYS)))) {
		api_free(a);
		return VPN_E_NOMEM;
	}
	{
		time_t t = time(NULL);
		struct tm tm;

		gmtime_r(&t, &tm);
		strftime(a->created, sizeof(a->created), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
	}
	*out = a;
	return VPN_OK;
}

void
api_free(struct api *a)
{
	if (!a)
		return;
	rl_free(a->rl_client);
	rl_free(a->rl_exchange);
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
 * Copy the segment at @p into @out and return the position after it; NULL when it does not fit
 * (a truncated org id could otherwise equal this server's).
 */
static const char *
take_seg(const char *p, char *out, size_t outlen)
{
	const char *e = skip_seg(p);

	if ((size_t)(e - p) >= outlen)
		return NULL;
	memcpy(out, p, (size_t)(e - p));
	out[e - p] = '\0';
	return e;
}

/*
 * Reduce @url to the policy path under /policy/api/v1 in @out: strip the VMC reverse-proxy
 * prefixes (their org and sddc go to @org/@sddc, else those are ""), the trailing slash, and
 * map the deprecated ipsec-vpn-services form (without locale-services) to the locale-services
 * one. False when the URL is not a policy URL.
 */
static bool
normalize(const char *url, char *out, size_t outlen, char *org, char *sddc, size_t idlen)
{
	static const char alias[] = ALIAS_FROM;
	const char *p = url;
	size_t n;

	org[0] = sddc[0] = '\0';
	if (!strncmp(p, VMC_PREFIX, sizeof(VMC_PREFIX) - 1)) {
		p += sizeof(VMC_PREFIX) - 1;
		if (*p == '/' || !*p)
			return false;
		p = take_seg(p, org, idlen);
		if (!p || strncmp(p, "/sddcs/", 7))
			return false;
		p += 7;
		if (*p == '/' || !*p)
			return false;
		p = take_seg(p, sddc, idlen);
		if (!p)
			return false;
		if (!strncmp(p, "/sks-nsxt-manager/", 18))
			p += 17;
	}
	if (strncmp(p, API_PREFIX, sizeof(API_PREFIX) - 1) ||
	    (p[sizeof(API_PREFIX) - 1] != '/' && p[sizeof(API_PREFIX) - 1] != '\0'))
		return false;
	p += sizeof(API_PREFIX) - 1;
	n = strlen(p);
	while (n > 1 && p[n - 1] == '/')
		n--;
	if (!strncmp(p, alias, sizeof(alias) - 1) &&
	    (p[sizeof(alias) - 1] == '/' || p[sizeof(alias) - 1] == '\0')) {
		int k = snprintf(out, outlen, "%s%.*s", ALIAS_TO,
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

/* Does @pat ("/a/{x}/b") match the @n segments @segs? Wildcards go to caps[] in order. */
static bool
pattern_match(const char *pat, char *const *segs, const size_t *lens, size_t n,
	      const char *caps[MAX_CAPS])
{
	const char *p = pat, *e;
	size_t j = 0, nc = 0;

	if (*p == '/')
		p++;
	for (; *p; p = *e ? e + 1 : e, j++) {
		e = skip_seg(p);
		if (j == n)
			return false;
		if (*p == '{') {
			if (!lens[j] || nc == MAX_CAPS)
				return false;
			caps[nc++] = segs[j];
		} else if (lens[j] != (size_t)(e - p) || memcmp(p, segs[j], lens[j])) {
			return false;
		}
	}
	return j == n;
}

/*
 * Match @path against @table. caps[] receives the wildcard segments in order (pointing into
 * @scratch); unused ones are NULL. The path is split once; each pattern is compared in place,
 * segment by segment, so a request costs no copy or split per route.
 */
static const struct route *
route_match(const struct route *table, size_t ntable, const char *path, char *scratch,
	    size_t slen, const char *caps[MAX_CAPS])
{
	char *segs[MAX_SEGS + 1];
	size_t lens[MAX_SEGS + 1];
	size_t n, i, len = strlen(path);

	if (len >= slen)
		return NULL;
	memcpy(scratch, path, len + 1);
	while (len > 1 && scratch[len - 1] == '/')
		scratch[--len] = '\0';
	n = split(scratch, segs, MAX_SEGS);
	if (n > MAX_SEGS)
		return NULL;
	for (i = 0; i < n; i++)
		lens[i] = strlen(segs[i]);
	for (i = 0; i < ntable; i++) {
		caps[0] = caps[1] = NULL;
		if (pattern_match(table[i].pattern, segs, lens, n, caps))
			return &table[i];
	}
	caps[0] = caps[1] = NULL;
	return NULL;
}

static const char *
allow_header(unsigned m)
{
	if ((m & M_RW) == M_RW)
		return "GET, HEAD, PUT, PATCH, DELETE";
	if ((m & M_RO) && (m & API_PUT) && (m & API_DELETE))
		return "GET, HEAD, PUT, DELETE";
	if ((m & M_RO) && (m & API_POST))
		return "GET, HEAD, POST";
	if (m & API_POST)
		return "POST";
	return "GET, HEAD";
}

/* ---------------------------------------------------------------------------------------- */
/* the caller */

struct caller {
	struct principal p;
	bool authenticated;
};

/* The access token from csp-auth-token or "Authorization: Bearer". */
static const char *
bearer(const struct api_req *rq)
{
	const char *v = rq->header(rq->qctx, "csp-auth-token");

	if (v && *v)
		return v;
	v = rq->header(rq->qctx, "Authorization");
	if (v && !strncasecmp(v, "Bearer ", 7)) {
		v += 7;
		while (*v == ' ')
			v++;
		return v;
	}
	return NULL;
}

static enum vpn_err
authenticate(struct api *a, const struct api_req *rq, struct caller *c, struct vpn_error *e)
{
	enum vpn_err rc = auth_verify(a->auth, bearer(rq), &c->p, e);

	c->authenticated = rc == VPN_OK;
	return rc;
}

static void
audit(struct api *a, const struct caller *c, const char *method, const char *path,
      int64_t rev_before, int64_t rev_after, const struct api_resp *out, int error_code)
{
	struct model_audit_rec r = { c->p.name, auth_role_name(c->p.role), method, path,
				     rev_before, rev_after, out->status, error_code };

	model_audit(a->m, &r);
}

/* A 429 with the NSX error JSON and Retry-After. */
static bool
rate_refused(struct api_resp *out, int64_t retry_ns, const char *msg)
{
	respond_errf(out, VPN_E_RATE, 0, msg);
	out->retry_after = rl_retry_after_s(retry_ns);
	return true;
}

/*
 * --rate-limit: true, with a 429 in @out, when the caller's token is over its rate. Checked
 * right after authentication, before anything is read, written or audited, so a refused
 * request has no effect at all. The key is the token's name (unique in the store): every
 * access token exchanged from one refresh token shares one bucket.
 */
static bool
over_rate(struct api *a, const struct caller *c, struct api_resp *out)
{
	int64_t retry = 0;
	char msg[160];

	if (!a->rl_client || rl_allow(a->rl_client, c->p.name, &retry))
		return false;
	/* NSX's words; a token's name is not a secret (it is _create_user on every object) */
	snprintf(msg, sizeof(msg), "Client '%s' exceeded request rate of %u per second.",
		 c->p.name, rl_rate(a->rl_client));
	return rate_refused(out, retry, msg);
}

/* The token-exchange rate key of a client: its IPv4 address, or its IPv6 /64. */
static void
peer_key(const struct sockaddr *sa, char *out, size_t outlen)
{
	char ip[INET6_ADDRSTRLEN];

	snprintf(out, outlen, "unknown");
	if (sa && sa->sa_family == AF_INET) {
		if (inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, ip, sizeof(ip)))
			snprintf(out, outlen, "%s", ip);
	} else if (sa && sa->sa_family == AF_INET6) {
		struct in6_addr a6 = ((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(&a6)) {
			if (inet_ntop(AF_INET, &a6.s6_addr[12], ip, sizeof(ip)))
				snprintf(out, outlen, "%s", ip);
			return;
		}
		memset(&a6.s6_addr[8], 0, 8);	/* one host usually holds a whole /64 */
		if (inet_ntop(AF_INET6, &a6, ip, sizeof(ip)))
			snprintf(out, outlen, "%s/64", ip);
	}
}

/* Audit a refused write or sensitive read, from the error response just built. */
static bool
audit_refusal(struct api *a, const struct caller *c, const char *method, const char *path,
	      const struct api_resp *out, const struct vpn_error *e)
{
	int64_t rev = model_revision(a->m, path);

	audit(a, c, method, path, rev, rev, out, vpn_error_nsx_code(e));
	return true;
}

/* ---------------------------------------------------------------------------------------- */
/* policy handlers */

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
h_list(struct api *a, const struct api_req *rq, const struct route *r, const struct caller *c,
       struct api_resp *out)
{
	struct list_params lp = { NULL, true, NULL, 1000, NULL };
	struct vpn_error e;
	const char *v;
	char *body = NULL;
	size_t len = 0;

	vpn_error_clear(&e);
	/* lists never carry secrets; an auditor asking for them is refused as on objects */
	v = rq->query(rq->qctx, "action");
	if (v && !strcmp(v, "show_sensitive_data") && c->p.role != AUTH_ROLE_ADMIN) {
		vpn_error_set(&e, VPN_E_FORBIDDEN, 0, "The %s role may not read sensitive data",
			      auth_role_name(c->p.role));
		respond_err(out, &e);
		return audit_refusal(a, c, "GET", r->coll->path, out, &e);
	}
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
	/* sort_by is echoed in the envelope: it must be text */
	if (lp.sort_by && (strlen(lp.sort_by) > 255 || !util_utf8_valid(lp.sort_by,
									 strlen(lp.sort_by))))
		return respond_errf(out, VPN_E_INVALID, NSX_EC_INVALID,
				    "sort_by must be a field name");
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
      const struct caller *c, struct api_resp *out)
{
	struct vpn_error e;
	const char *action = rq->query(rq->qctx, "action");
	bool sensitive = false;
	char path[1024], *body = NULL;
	size_t len = 0;

	vpn_error_clear(&e);
	snprintf(path, sizeof(path), "%s/%s", r->coll->path, id);
	/* Only sessions have sensitive data to show (their psk). The BGP neighbor password is
	 * write-only: never returned, not even here. */
	if (action && !strcmp(action, "show_sensitive_data")) {
		if (c->p.role != AUTH_ROLE_ADMIN) {
			vpn_error_set(&e, VPN_E_FORBIDDEN, 0,
				      "The %s role may not read sensitive data",
				      auth_role_name(c->p.role));
			respond_err(out, &e);
			return audit_refusal(a, c, "GET", path, out, &e);
		}
		sensitive = r->coll == &coll_sessions;
	} else if (action) {
		return respond_errf(out, VPN_E_INVALID, NSX_EC_INVALID,
				    "Unsupported action for GET; the only one is show_sensitive_data");
	}
	if (model_get(a->m, path, sensitive ? MODEL_GET_SECRETS : 0, &body, &len, &e))
		respond_err(out, &e);
	else
		respond_json(out, 200, body, len);
	if (sensitive) {
		int64_t rev = model_revision(a->m, path);

		audit(a, c, "GET", path, rev, rev, out, out->status == 200 ? 0 : vpn_error_nsx_code(&e));
	}
	return true;
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
	const struct caller *c, struct api_resp *out, api_done_cb cb, void *arg)
{
	struct model_write w = { 0 };
	struct vpn_error e;
	struct pending *p = NULL;
	json_t *body = NULL;
	json_error_t jerr;
	char path[1024];
	bool now = true;

	vpn_error_clear(&e);
	snprintf(path, sizeof(path), "%s/%s", r->coll->path, id);
	w.coll = r->coll;
	w.id = id;
	w.user = c->p.name;
	w.role = auth_role_name(c->p.role);
	w.method = rq->method_name;
	if (c->p.role != AUTH_ROLE_ADMIN) {
		vpn_error_set(&e, VPN_E_FORBIDDEN, 0,
			      "The %s role has read-only access; %s needs the admin role",
			      auth_role_name(c->p.role), rq->method_name);
		goto refused;
	}
	if (rq->method == API_DELETE) {
		w.op = MODEL_DELETE;
	} else {
		w.op = rq->method == API_PUT ? MODEL_PUT : MODEL_PATCH;
		if (!rq->body_len) {
			vpn_error_set(&e, VPN_E_BAD_JSON, NSX_EC_DESERIALIZE,
				      "Json de-serialization error: the request body is empty");
			goto refused;
		}
		body = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &jerr);
		if (!body) {
			/* jansson's message quotes at most a token of the input; never the whole
			 * body, so a secret elsewhere in it is not echoed. Keep only position. */
			vpn_error_set(&e, VPN_E_BAD_JSON, NSX_EC_DESERIALIZE,
				      "Json de-serialization error: malformed JSON at line %d, "
				      "column %d", jerr.line, jerr.column);
			goto refused;
		}
		w.body = body;
	}
	p = malloc(sizeof(*p));
	if (!p) {
		vpn_error_set(&e, VPN_E_NOMEM, 0, "out of memory");
		goto refused;
	}
	p->cb = cb;
	p->arg = arg;
	if (!model_write(a->m, &w, write_done, p, &e)) {
		now = false;		/* answered, and audited, once durable */
		goto out;
	}
	free(p);
refused:
	respond_err(out, &e);
	audit_refusal(a, c, rq->method_name, path, out, &e);
out:
	json_decref(body);
	return now;
}

/* ---------------------------------------------------------------------------------------- */
/* VMC, CSP, liveness, audit, emulator */

static bool
respond_text(struct api_resp *out, int status, const char *text)
{
	char *b = strdup(text);

	if (!b)
		return respond_errf(out, VPN_E_NOMEM, 0, "out of memory");
	return respond_json(out, status, b, strlen(b));
}

static bool
respond_jsonv(struct api_resp *out, int status, json_t *v)
{
	char *b = v ? json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	json_decref(v);
	if (!b)
		return respond_errf(out, VPN_E_NOMEM, 0, "out of memory");
	return respond_json(out, status, b, strlen(b));
}

/* CSP's OAuth-style error body. */
static bool
csp_error(struct api_resp *out, const char *error, const char *desc)
{
	json_t *v = json_pack("{s:s, s:s, s:i, s:s}", "error", error, "error_description", desc,
			      "statusCode", 400, "message", desc);

	return respond_jsonv(out, 400, v);
}

/* Value of @key in an application/x-www-form-urlencoded @body, decoded into @out. */
static bool
form_value(const char *body, size_t len, const char *key, char *out, size_t outlen)
{
	size_t klen = strlen(key), i = 0;

	while (i < len) {
		size_t end = i, o = 0;

		while (end < len && body[end] != '&')
			end++;
		if (end - i > klen && !strncmp(body + i, key, klen) && body[i + klen] == '=') {
			size_t j;

			for (j = i + klen + 1; j < end && o + 1 < outlen; j++) {
				char ch = body[j];

				if (ch == '+') {
					ch = ' ';
				} else if (ch == '%' && j + 2 < end && isxdigit((unsigned char)body[j + 1]) &&
					   isxdigit((unsigned char)body[j + 2])) {
					char hx[3] = { body[j + 1], body[j + 2], 0 };

					ch = (char)strtol(hx, NULL, 16);
					j += 2;
				}
				out[o++] = ch;
			}
			out[o] = '\0';
			return true;
		}
		i = end + 1;
	}
	return false;
}

static bool
h_authorize(struct api *a, const struct api_req *rq, struct api_resp *out)
{
	const char *tok = rq->query(rq->qctx, "refresh_token");
	char form[512];
	struct vpn_error e;
	char *body = NULL;
	size_t len = 0;

	if (a->rl_exchange) {
		char key[RL_KEY_MAX], msg[160];
		int64_t retry = 0;

		/* before the token is even looked at: guesses cost the guesser, not vpnd */
		peer_key(rq->peer, key, sizeof(key));
		if (!rl_allow(a->rl_exchange, key, &retry)) {
			snprintf(msg, sizeof(msg),
				 "Client %s exceeded token-exchange rate of %u per second.", key,
				 rl_rate(a->rl_exchange));
			return rate_refused(out, retry, msg);
		}
	}
	if (!tok)
		tok = rq->query(rq->qctx, "api_token");
	if (!tok && rq->body_len && !rq->body_too_big &&
	    (form_value(rq->body, rq->body_len, "refresh_token", form, sizeof(form)) ||
	     form_value(rq->body, rq->body_len, "api_token", form, sizeof(form))))
		tok = form;
	if (!tok || !*tok)
		return csp_error(out, "invalid_request",
				 "invalid_request: the refresh token is missing (send refresh_token "
				 "as a query parameter or form field)");
	vpn_error_clear(&e);
	if (auth_exchange(a->auth, tok, &body, &len, &e)) {
		explicit_bzero(form, sizeof(form));
		if (e.code == VPN_E_UNAUTH)
			return csp_error(out, "invalid_grant", "invalid_grant: Invalid refresh token");
		return respond_err(out, &e);
	}
	explicit_bzero(form, sizeof(form));
	return respond_json(out, 200, body, len);
}

/* The base URL clients reach this server at. */
static void
base_url(const struct api *a, const struct api_req *rq, char *out, size_t outlen)
{
	const char *host = rq->header(rq->qctx, "Host");

	if (a->cfg.public_url)
		snprintf(out, outlen, "%s", a->cfg.public_url);
	else
		snprintf(out, outlen, "%s://%s", rq->tls ? "https" : "http",
			 host && *host ? host : "localhost");
}

static json_t *
sddc_json(const struct api *a, const struct api_req *rq)
{
	char base[700], proxy[1200], nsx[1300];

	base_url(a, rq, base, sizeof(base));
	snprintf(proxy, sizeof(proxy), "%s/vmc/reverse-proxy/api/orgs/%s/sddcs/%s", base,
		 a->org_id, a->sddc_id);
	snprintf(nsx, sizeof(nsx), "%s/sks-nsxt-manager", proxy);
	/* The AbstractEntity fields (created, updated, user_*, version) are required by VMware's
	 * typed VMC SDK when it deserialises an Sddc; the values are this server's. */
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:i,"
			 " s:{s:s, s:s, s:s, s:b}}",
			 "id", a->sddc_id, "name", a->sddc_name, "org_id", a->org_id,
			 "sddc_state", "READY", "provider", "AWS", "created", a->created,
			 "updated", a->created, "user_id", "vpnd", "user_name", "vpnd",
			 "updated_by_user_id", "vpnd", "updated_by_user_name", "vpnd", "version", 1,
			 "resource_config",
			 "nsx_api_public_endpoint_url", nsx, "nsx_mgr_url", nsx,
			 "nsx_reverse_proxy_url", proxy, "nsxt", 1);
}

static bool
h_sddc(struct api *a, const struct api_req *rq, const struct route *r, const char *caps[],
       struct api_resp *out)
{
	if (strcmp(caps[0], a->org_id) || (r->h == H_SDDC && strcmp(caps[1], a->sddc_id)))
		return respond_errf(out, VPN_E_NOT_FOUND, 0,
				    r->h == H_SDDC ? "The SDDC does not exist in this organization"
						   : "The organization does not exist");
	if (r->h == H_SDDC)
		return respond_jsonv(out, 200, sddc_json(a, rq));
	return respond_jsonv(out, 200, json_pack("[o]", sddc_json(a, rq)));
}

static bool
h_audit(struct api *a, const struct api_req *rq, struct api_resp *out)
{
	const char *v;
	int64_t since = 0, limit = 1000;
	struct vpn_error e;
	char *body = NULL;
	size_t len = 0;

	v = rq->query(rq->qctx, "since");
	if (v && (!util_parse_i64(v, &since) || since < 0))
		return respond_errf(out, VPN_E_INVALID, NSX_EC_INVALID,
				    "since must be a non-negative integer (an audit record id)");
	v = rq->query(rq->qctx, "limit");
	if (v && (!util_parse_i64(v, &limit) || limit < 1 || limit > 1000))
		return respond_errf(out, VPN_E_INVALID, NSX_EC_INVALID, "limit must be 1..1000");
	vpn_error_clear(&e);
	if (model_audit_list(a->m, since, (size_t)limit, &body, &len, &e))
		return respond_err(out, &e);
	return respond_json(out, 200, body, len);
}

static bool
h_clock(struct api *a, const struct api_req *rq, struct api_resp *out)
{
	if (rq->method == API_POST) {
		json_t *b = rq->body_len ? json_loadb(rq->body, rq->body_len, 0, NULL) : NULL;
		json_t *adv = json_object_get(b, "advance_ms"), *fr = json_object_get(b, "freeze");
		json_int_t ms = json_integer_value(adv);
		const char *key;
		json_t *v;
		bool bad = !json_is_object(b) || (!adv && !fr);

		json_object_foreach(b, key, v)
			bad |= strcmp(key, "advance_ms") && strcmp(key, "freeze");
		if (bad || (adv && (!json_is_integer(adv) || ms < 0 ||
				    ms > (json_int_t)10 * 365 * 86400 * 1000)) ||
		    (fr && !json_is_boolean(fr))) {
			json_decref(b);
			return respond_errf(out, VPN_E_INVALID, NSX_EC_INVALID,
					    "body must be {\"advance_ms\": N} (0 <= N <= 10 years) "
					    "and/or {\"freeze\": true|false}");
		}
		/* changes already committed happened before this instant: realize them first, so
		 * that time moves on for them too (a session created, then +1 s, is UP) */
		if (a->rz)
			rz_settle(a->rz);
		if (fr)
			clock_freeze(json_is_true(fr));
		if (adv)
			clock_advance_ms(ms);
		json_decref(b);
	}
	return respond_jsonv(out, 200, json_pack("{s:I, s:I, s:b}", "now_ms",
						 (json_int_t)clock_now_ms(), "offset_ms",
						 (json_int_t)clock_offset_ms(), "frozen",
						 clock_frozen()));
}

/* ---------------------------------------------------------------------------------------- */
/* runtime views (realization engine) */

static json_t *
model_json(struct api *a, const char *path)
{
	char *txt = NULL;
	size_t len = 0;
	json_t *o;

	if (model_get(a->m, path, 0, &txt, &len, NULL))
		return NULL;
	o = json_loadb(txt, len, 0, NULL);
	free(txt);
	return o;
}

static bool
no_engine(struct api_resp *out)
{
	return respond_errf(out, VPN_E_STORE, 0, "the realization engine is not running");
}

static bool
not_found_path(struct api_resp *out, const char *path)
{
	struct vpn_error e;

	vpn_error_clear(&e);
	vpn_error_set(&e, VPN_E_NOT_FOUND, 0, "The requested object : %.400s could not be "
		      "found. Object identifiers are case sensitive.", path);
	return respond_err(out, &e);
}

static const char *
jstr_or(const json_t *o, const char *k, const char *dflt)
{
	const char *v = json_string_value(json_object_get(o, k));

	return v ? v : dflt;
}

/* The session's observed status; a session the engine has not seen yet is DOWN, no tunnels. */
static void
session_status(struct api *a, const char *path, struct rz_session_status *st)
{
	if (rz_session_status(a->rz, path, st)) {
		memset(st, 0, sizeof(*st));
		st->last_update_ms = clock_now_ms();
	}
}

static bool
h_session_status(struct api *a, const struct api_req *rq, const struct route *r, const char *id,
		 const struct caller *c, struct api_resp *out)
{
	char path[1024];
	struct rz_session_status st;
	json_t *doc, *v;

	snprintf(path, sizeof(path), "%s/%s", r->coll->path, id);
	if (!a->rz)
		return no_engine(out);
	if (rq->method == API_POST && c->p.role != AUTH_ROLE_ADMIN) {
		struct vpn_error e;

		/* the role first, as for every write: an auditor learns nothing more */
		vpn_error_clear(&e);
		vpn_error_set(&e, VPN_E_FORBIDDEN, 0, "The %s role may not reset statistics",
			      auth_role_name(c->p.role));
		respond_err(out, &e);
		return audit_refusal(a, c, "POST", path, out, &e);
	}
	doc = model_json(a, path);
	if (!doc)
		return not_found_path(out, path);
	session_status(a, path, &st);
	if (r->h == H_SESSION_STATUS) {
		v = view_detailed_status(path, jstr_or(doc, "display_name", id), &st);
	} else if (rq->method == API_POST) {
		const char *action = rq->query(rq->qctx, "action");
		struct vpn_error e;

		json_decref(doc);
		rz_session_status_release(&st);
		vpn_error_clear(&e);
		if (!action || strcmp(action, "reset"))
			return respond_errf(out, VPN_E_INVALID, NSX_EC_INVALID,
					    "action must be reset");
		rz_reset_counters(a->rz, path);
		respond_json(out, 200, NULL, 0);
		audit(a, c, "POST", path, model_revision(a->m, path), model_revision(a->m, path), out,
		      0);
		return true;
	} else {
		json_t *ti = json_array_get(json_object_get(doc, "tunnel_interfaces"), 0);
		char tip[1200];

		snprintf(tip, sizeof(tip), "%s/interfaces/%s", path,
			 jstr_or(ti, "id", "default-tunnel-interface"));
		v = view_statistics(path, jstr_or(doc, "display_name", id),
				    !strcmp(jstr_or(doc, "resource_type", ""),
					    "RouteBasedIPSecVpnSession"), tip, &st);
	}
	json_decref(doc);
	rz_session_status_release(&st);
	return respond_jsonv(out, 200, v);
}

static bool
h_summary(struct api *a, struct api_resp *out)
{
	struct model_paths ps;
	struct rz_counters all, one;
	json_t *per = json_array(), *res;
	size_t i, est = 0, failed = 0, degraded = 0;
	int64_t now = clock_now_ms();	/* the sim's status times are virtual too */

	if (!a->rz)
		return no_engine(out);
	if (!per || model_collection_paths(a->m, &coll_sessions, &ps)) {
		json_decref(per);
		return respond_errf(out, VPN_E_NOMEM, 0, "out of memory");
	}
	memset(&all, 0, sizeof(all));
	for (i = 0; i < ps.n; i++) {
		struct rz_session_status st;
		json_t *doc = model_json(a, ps.v[i]);
		const char *rs;
		size_t k;

		session_status(a, ps.v[i], &st);
		rs = view_runtime_status(&st);
		est += !strcmp(rs, "UP");
		failed += !strcmp(rs, "DOWN");
		degraded += !strcmp(rs, "DEGRADED");
		view_sum(&st, &one);
		for (k = 0; k < sizeof(one) / sizeof(uint64_t); k++) {
			uint64_t *x = &((uint64_t *)&all)[k], y = ((uint64_t *)&one)[k];

			*x = y > (uint64_t)INT64_MAX - *x ? (uint64_t)INT64_MAX : *x + y;
		}
		json_array_append_new(per, json_pack("{s:{s:s, s:s, s:s, s:b}, s:o}",
			"ipsec_vpn_session", "target_id", ps.v[i], "target_display_name",
			jstr_or(doc, "display_name", ""), "target_type",
			jstr_or(doc, "resource_type", ""), "is_valid", 1,
			"traffic_counters", view_traffic(&one)));
		json_decref(doc);
		rz_session_status_release(&st);
	}
	res = json_pack("{s:{s:I, s:I, s:I, s:I}, s:o, s:O, s:I, s:[{s:s, s:s, s:s, s:I,"
			" s:{s:I, s:I, s:I, s:I}, s:o, s:O}]}",
			"session_summary", "total_sessions", (json_int_t)ps.n,
			"established_sessions", (json_int_t)est, "failed_sessions",
			(json_int_t)failed, "degraded_sessions", (json_int_t)degraded,
			"aggregate_traffic_counters", view_traffic(&all),
			"traffic_summary_per_session", per,
			"last_update_timestamp", (json_int_t)now,
			"results", "display_name", "default", "enforcement_point_path", VIEW_EP_PATH,
			"ipsec_vpn_service_path", SVC, "last_update_timestamp", (json_int_t)now,
			"session_summary", "total_sessions", (json_int_t)ps.n,
			"established_sessions", (json_int_t)est, "failed_sessions",
			(json_int_t)failed, "degraded_sessions", (json_int_t)degraded,
			"aggregate_traffic_counters", view_traffic(&all),
			"traffic_summary_per_session", per);
	json_decref(per);
	model_paths_release(&ps);
	return respond_jsonv(out, 200, res);
}

static bool
h_bgp_status(struct api *a, struct api_resp *out)
{
	struct model_paths ps;
	json_t *res = json_array();
	size_t i;

	if (!a->rz)
		return no_engine(out);
	if (!res || model_collection_paths(a->m, &coll_bgp_neighbors, &ps)) {
		json_decref(res);
		return respond_errf(out, VPN_E_NOMEM, 0, "out of memory");
	}
	for (i = 0; i < ps.n; i++) {
		struct rz_bgp_status st;
		json_t *doc = model_json(a, ps.v[i]);

		if (rz_bgp_status(a->rz, ps.v[i], &st)) {
			memset(&st, 0, sizeof(st));
			st.last_update_ms = clock_now_ms();
		}
		json_array_append_new(res, view_bgp_status(jstr_or(doc, "neighbor_address", ""),
							   jstr_or(doc, "remote_as_num", ""), &st));
		json_decref(doc);
	}
	model_paths_release(&ps);
	return respond_jsonv(out, 200, json_pack("{s:o, s:I, s:I}", "results", res,
						 "result_count", (json_int_t)json_array_size(res),
						 "last_update_timestamp",
						 (json_int_t)clock_now_ms()));
}

/* Stable ids for the SDDC's edge pair and tier-0, derived from the SDDC id. */
static void
derived_id(const struct api *a, const char *what, char out[37])
{
	uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x84222325cbf29ce4ULL;
	const char *p;

	for (p = a->sddc_id; *p; p++) {
		h1 = (h1 ^ (unsigned char)*p) * 0x100000001b3ULL;
		h2 = (h2 ^ (unsigned char)*p) * 0x100000001b3ULL;
	}
	for (p = what; *p; p++) {
		h1 = (h1 ^ (unsigned char)*p) * 0x100000001b3ULL;
		h2 = (h2 ^ (unsigned char)*p) * 0x1000193ULL;
	}
	snprintf(out, 37, "%08x-%04x-5%03x-%04x-%012llx", (unsigned)(h1 >> 32),
		 (unsigned)(h1 >> 16) & 0xffff, (unsigned)h1 & 0xfff,
		 0x8000 | ((unsigned)(h2 >> 48) & 0x3fff),
		 (unsigned long long)(h2 & 0xffffffffffffULL));
}

static bool
h_routes(struct api *a, const struct api_req *rq, const struct route *r, const char *id,
	 struct api_resp *out)
{
	char path[1024], e0[37], e1[37], t0[37];
	const char *edges[2] = { e0, e1 };
	const char *fmt = rq->query(rq->qctx, "format");
	struct rz_route *rts = NULL;
	struct rz_bgp_status st;
	size_t n = 0;
	json_t *doc;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", r->coll->path, id);
	if (!a->rz)
		return no_engine(out);
	if (fmt && strcmp(fmt, "csv"))
		return respond_errf(out, VPN_E_INVALID, NSX_EC_INVALID, "format must be csv");
	if (rq->method == API_POST && !fmt)
		return respond_errf(out, VPN_E_INVALID, NSX_EC_INVALID,
				    "POST on routes needs ?format=csv");
	doc = model_json(a, path);
	if (!doc)
		return not_found_path(out, path);
	derived_id(a, "edge-0", e0);
	derived_id(a, "edge-1", e1);
	derived_id(a, "tier-0", t0);
	if (rz_bgp_status(a->rz, path, &st))
		memset(&st, 0, sizeof(st));
	rz_routes(a->rz, path, r->h == H_ADV_ROUTES, &rts, &n);
	if (fmt) {
		size_t len = 0;
		char *csv = view_routes_csv(jstr_or(doc, "neighbor_address", ""), id, t0, edges, 2,
					    st.source_address, rts, n, &len);

		ok = csv ? respond_json(out, 200, csv, len)
			 : respond_errf(out, VPN_E_NOMEM, 0, "out of memory");
		out->content_type = "text/csv";
	} else {
		ok = respond_jsonv(out, 200, view_routes(path, edges, 2, st.source_address, rts, n));
	}
	free(rts);
	json_decref(doc);
	return ok;
}

static bool
h_realized(struct api *a, const struct api_req *rq, const struct route *r, struct api_resp *out)
{
	const char *ip = rq->query(rq->qctx, "intent_path");
	struct rz_realized_state rs;
	json_t *doc, *v;

	if (!a->rz)
		return no_engine(out);
	if (!ip || !*ip)
		return respond_errf(out, VPN_E_INVALID, NSX_EC_INVALID,
				    "intent_path is required");
	if (!util_utf8_valid(ip, strlen(ip)) || strlen(ip) > 900)
		return respond_errf(out, VPN_E_INVALID, NSX_EC_INVALID, "intent_path is invalid");
	if (rz_realized(a->rz, ip, &rs))
		return not_found_path(out, ip);
	if (r->h == H_REALIZED)
		return respond_jsonv(out, 200, view_realized(ip, &rs));
	doc = model_json(a, ip);
	v = json_pack("{s:[{s:s, s:s, s:s, s:s, s:s, s:[s], s:s, s:s, s:I, s:I}], s:i}",
		      "results", "resource_type", "GenericPolicyRealizedResource",
		      "id", jstr_or(doc, "unique_id", ""),
		      "display_name", jstr_or(doc, "display_name", ""),
		      "state", rs.state == RZ_REALIZED ? "REALIZED" :
			       rs.state == RZ_ERROR ? "ERROR" : "UNREALIZED",
		      "entity_type", jstr_or(doc, "resource_type", ""),
		      "intent_paths", ip,
		      "realization_specific_identifier", jstr_or(doc, "unique_id", ""),
		      "enforcement_point_path", VIEW_EP_PATH,
		      "_last_modified_time", (json_int_t)rs.last_update_ms,
		      "intent_version", (json_int_t)rs.intent_revision,
		      "result_count", 1);
	json_decref(doc);
	return respond_jsonv(out, 200, v);
}

/* ---- emulator ---- */

struct emu_call {
	const char *addr;
	const char *path;
	const json_t *def;
	const struct rz_counters *c;
	size_t tunnel;
	json_t *result;
	struct vpn_error *e;
};

static enum vpn_err
emu_define(struct rz_backend *b, int64_t now, void *arg)
{
	struct emu_call *ec = arg;

	return sim_peer_define(b, ec->addr, ec->def, now, ec->e);
}

static enum vpn_err
emu_forget(struct rz_backend *b, int64_t now, void *arg)
{
	struct emu_call *ec = arg;

	return sim_peer_forget(b, ec->addr, now);
}

static enum vpn_err
emu_get(struct rz_backend *b, int64_t now, void *arg)
{
	struct emu_call *ec = arg;

	(void)now;
	ec->result = ec->addr ? sim_peer_get(b, ec->addr) : sim_peer_list(b);
	return ec->result ? VPN_OK : VPN_E_NOT_FOUND;
}

static enum vpn_err
emu_traffic(struct rz_backend *b, int64_t now, void *arg)
{
	struct emu_call *ec = arg;

	return sim_traffic(b, ec->path, ec->tunnel, ec->c, now, ec->e);
}

static bool
h_emu_peer(struct api *a, const struct api_req *rq, const struct route *r, const char *addr,
	   struct api_resp *out)
{
	struct emu_call ec = { 0 };
	struct vpn_error e;
	struct netaddr na;
	json_t *body = NULL;
	enum vpn_err rc;

	if (!a->rz)
		return no_engine(out);
	vpn_error_clear(&e);
	ec.e = &e;
	if (r->h == H_EMU_PEERS || rq->method == API_GET || rq->method == API_HEAD) {
		ec.addr = r->h == H_EMU_PEERS ? NULL : addr;
		if (rz_with_backend(a->rz, emu_get, &ec))
			return respond_errf(out, VPN_E_NOT_FOUND, 0,
					    "no session uses this peer and it is not defined");
		if (!ec.addr) {
			json_t *l = ec.result;

			ec.result = json_pack("{s:o, s:I}", "results", l, "result_count",
					      (json_int_t)json_array_size(l));
		}
		return respond_jsonv(out, 200, ec.result);
	}
	if (!netaddr_parse(addr, &na))
		return respond_errf(out, VPN_E_INVALID, NSX_EC_INVALID,
				    "the peer is named by its peer_address (an IP address)");
	ec.addr = addr;
	if (rq->method == API_DELETE) {
		if (rz_with_backend(a->rz, emu_forget, &ec))
			return respond_errf(out, VPN_E_NOT_FOUND, 0, "this peer is not defined");
		return respond_json(out, 200, NULL, 0);
	}
	body = rq->body_len ? json_loadb(rq->body, rq->body_len, 0, NULL) : NULL;
	if (!json_is_object(body)) {
		json_decref(body);
		return respond_errf(out, VPN_E_BAD_JSON, NSX_EC_DESERIALIZE,
				    "the body must be a JSON object describing the peer");
	}
	ec.def = body;
	rc = rz_with_backend(a->rz, emu_define, &ec);
	json_decref(body);
	if (rc)
		return respond_err(out, &e);
	ec.addr = addr;
	rz_with_backend(a->rz, emu_get, &ec);
	return respond_jsonv(out, 200, ec.result);
}

static bool
h_emu_traffic(struct api *a, const struct api_req *rq, const char *id, struct api_resp *out)
{
	static const struct { const char *name; size_t off; } fields[] = {
#define F(x) { #x, offsetof(struct rz_counters, x) }
		F(packets_in), F(packets_out), F(bytes_in), F(bytes_out), F(dropped_packets_in),
		F(dropped_packets_out), F(packets_received_other_error), F(replay_errors),
		F(integrity_failures), F(decryption_failures), F(packets_sent_other_error),
		F(seq_number_overflow_error), F(encryption_failures), F(sa_mismatch_errors_in),
		F(sa_mismatch_errors_out), F(nomatching_policy_errors),
#undef F
	};
	struct rz_counters c;
	struct emu_call ec = { 0 };
	struct vpn_error e;
	char path[1024];
	json_t *body, *v;
	const char *key;
	size_t i;

	if (!a->rz)
		return no_engine(out);
	snprintf(path, sizeof(path), "%s/%s", coll_sessions.path, id);
	body = rq->body_len ? json_loadb(rq->body, rq->body_len, 0, NULL) : NULL;
	if (!json_is_object(body)) {
		json_decref(body);
		return respond_errf(out, VPN_E_BAD_JSON, NSX_EC_DESERIALIZE,
				    "the body must be a JSON object of counter increments");
	}
	memset(&c, 0, sizeof(c));
	json_object_foreach(body, key, v) {
		bool known = false;

		if (!strcmp(key, "tunnel")) {
			if (!json_is_integer(v) || json_integer_value(v) < 0) {
				json_decref(body);
				return respond_errf(out, VPN_E_INVALID, NSX_EC_INVALID,
						    "tunnel must be a tunnel index (0, 1, ...)");
			}
			ec.tunnel = (size_t)json_integer_value(v);
			continue;
		}
		for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
			if (strcmp(key, fields[i].name))
				continue;
			known = true;
			if (!json_is_integer(v) || json_integer_value(v) < 0) {
				json_decref(body);
				return respond_errf(out, VPN_E_INVALID, NSX_EC_INVALID,
						    "counter increments must be non-negative "
						    "integers");
			}
			*(uint64_t *)((char *)&c + fields[i].off) = (uint64_t)json_integer_value(v);
		}
		if (!known) {
			char msg[160];

			snprintf(msg, sizeof(msg), "unknown counter %.64s", key);
			json_decref(body);
			return respond_errf(out, VPN_E_BAD_JSON, NSX_EC_DESERIALIZE, msg);
		}
	}
	json_decref(body);
	vpn_error_clear(&e);
	ec.path = path;
	ec.c = &c;
	ec.e = &e;
	if (rz_with_backend(a->rz, emu_traffic, &ec)) {
		if (e.code == VPN_OK)
			vpn_error_set(&e, VPN_E_NOT_FOUND, 0, "no such session or tunnel");
		return respond_err(out, &e);
	}
	return respond_json(out, 200, NULL, 0);
}

/* ---------------------------------------------------------------------------------------- */

static bool
method_not_allowed(const struct api_req *rq, const struct route *r, struct api_resp *out)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "Method %.32s is not allowed on this URL",
		 rq->method_name ? rq->method_name : "?");
	respond_errf(out, VPN_E_METHOD, 0, msg);
	out->allow = allow_header(r->methods);
	return true;
}

static bool
handle_emulator(struct api *a, const struct api_req *rq, const struct route *r,
		const char *caps[], struct api_resp *out)
{
	if (a->cfg.real_mode && r->h != H_CLOCK)
		return respond_errf(out, VPN_E_INVALID, NSX_EC_INVALID,
				    "only in emulated mode (vpnd runs with --mode real)");
	switch (r->h) {
	case H_CLOCK:
		return h_clock(a, rq, out);
	case H_EMU_PEERS:
	case H_EMU_PEER:
		return h_emu_peer(a, rq, r, caps[0], out);
	case H_EMU_TRAFFIC:
		return h_emu_traffic(a, rq, caps[0], out);
	default:
		return respond_errf(out, VPN_E_INTERNAL, 0, "unrouted handler");
	}
}

static bool
handle_top(struct api *a, const struct api_req *rq, enum api_method meth, struct api_resp *out)
{
	char scratch[2048];
	const char *caps[MAX_CAPS];
	const struct route *r;
	struct caller c = { 0 };
	struct vpn_error e;

	r = route_match(top_routes, NTOP, rq->url, scratch, sizeof(scratch), caps);
	if (!r || ((r->flags & R_EMULATOR) && !a->cfg.emulator))
		return respond_errf(out, VPN_E_NOT_FOUND, 0,
				    "The requested URL is not part of the API");
	if (!(r->methods & meth))
		return method_not_allowed(rq, r, out);
	vpn_error_clear(&e);
	if (!(r->flags & R_NOAUTH) && authenticate(a, rq, &c, &e))
		return respond_err(out, &e);
	if (c.authenticated && over_rate(a, &c, out))
		return true;
	if ((r->flags & R_ADMIN) && c.p.role != AUTH_ROLE_ADMIN) {
		vpn_error_set(&e, VPN_E_FORBIDDEN, 0, "This URL needs the admin role");
		respond_err(out, &e);
		return audit_refusal(a, &c, rq->method_name, rq->url, out, &e);
	}
	/* the emulator's changes (clock, peers, traffic) are writes too: audit them */
	if ((r->flags & R_EMULATOR) && meth != API_GET) {
		bool now = handle_emulator(a, rq, r, caps, out);

		audit(a, &c, rq->method_name, rq->url, -1, -1, out, 0);
		return now;
	}
	switch (r->h) {
	case H_HEALTH:
		return respond_text(out, 200, "{\"status\":\"UP\"}");
	case H_AUTHORIZE:
		return h_authorize(a, rq, out);
	case H_SDDC_LIST:
	case H_SDDC:
		return h_sddc(a, rq, r, caps, out);
	case H_AUDIT:
		return h_audit(a, rq, out);
	case H_CLOCK:
	case H_EMU_PEERS:
	case H_EMU_PEER:
	case H_EMU_TRAFFIC:
		return handle_emulator(a, rq, r, caps, out);
	default:
		return respond_errf(out, VPN_E_INTERNAL, 0, "unrouted handler");
	}
}

bool
api_handle(struct api *a, const struct api_req *rq, struct api_resp *out, api_done_cb cb,
	   void *arg)
{
	char path[2048], scratch[2048], org[128], sddc[128];
	const char *caps[MAX_CAPS], *id;
	const struct route *r;
	struct caller c = { 0 };
	struct vpn_error e;
	enum api_method meth = rq->method == API_HEAD ? API_GET : rq->method;

	memset(out, 0, sizeof(*out));
	/* as http/ answers a declared Content-Length over the cap: on every route, first */
	if (rq->body_too_big)
		return respond_errf(out, VPN_E_TOO_BIG, 0,
				    "The request body is larger than the server accepts");
	if (!normalize(rq->url, path, sizeof(path), org, sddc, sizeof(org)))
		return handle_top(a, rq, meth, out);
	/* Every policy URL needs a token, before anything about it is revealed. */
	vpn_error_clear(&e);
	if (authenticate(a, rq, &c, &e))
		return respond_err(out, &e);
	if (over_rate(a, &c, out))
		return true;
	if ((org[0] && strcmp(org, a->org_id)) || (sddc[0] && strcmp(sddc, a->sddc_id)))
		return respond_errf(out, VPN_E_NOT_FOUND, 0,
				    "The organization or SDDC in the URL is not this one");
	r = route_match(routes, NROUTES, path, scratch, sizeof(scratch), caps);
	if (!r)
		return respond_errf(out, VPN_E_NOT_FOUND, 0,
				    "The requested URL is not part of the API");
	if (!(r->methods & meth))
		return method_not_allowed(rq, r, out);
	id = r->h == H_SINGLETON ? "bgp" : caps[0];
	switch (r->h) {
	case H_SESSION_STATUS:
	case H_SESSION_STATS:
		return h_session_status(a, rq, r, id, &c, out);
	case H_SVC_SUMMARY:
		return h_summary(a, out);
	case H_BGP_STATUS:
		return h_bgp_status(a, out);
	case H_ROUTES:
	case H_ADV_ROUTES:
		return h_routes(a, rq, r, id, out);
	case H_REALIZED:
	case H_REALIZED_ENTITIES:
		return h_realized(a, rq, r, out);
	default:
		break;
	}
	if (r->h == H_LIST)
		return h_list(a, rq, r, &c, out);
	if (meth == API_GET)
		return h_get(a, rq, r, id, &c, out);
	return h_write(a, rq, r, id, &c, out, cb, arg);
}

/* ---------------------------------------------------------------------------------------- */
/* api_internal.h: the parsers above, for the fuzz harnesses and unit tests */

bool
api_normalize(const char *url, char *out, size_t outlen, char *org, char *sddc, size_t idlen)
{
	return normalize(url, out, outlen, org, sddc, idlen);
}

long
api_route_find(bool policy, const char *path, char *scratch, size_t slen,
	       const char *caps[API_MAX_CAPS])
{
	const struct route *r = route_match(policy ? routes : top_routes, policy ? NROUTES : NTOP,
					    path, scratch, slen, caps);

	if (!r)
		return -1;
	return policy ? (long)(r - routes) : (long)(NROUTES + (size_t)(r - top_routes));
}

bool
api_form_value(const char *body, size_t len, const char *key, char *out, size_t outlen)
{
	return form_value(body, len, key, out, outlen);
}
