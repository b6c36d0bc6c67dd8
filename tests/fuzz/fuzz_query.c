/*
 * fuzz_query: query strings of reads - list paging and sorting (page_size, cursor, sort_by,
 * sort_ascending, included_fields), action=show_sensitive_data, format=csv, intent_path,
 * audit since/limit - through api_handle() on a vpnd without sockets (fuzz_stack) that holds
 * profiles, a prefix list, a route-based session with a PSK, its peer announcing routes and a
 * BGP neighbor with a password, all realized (the neighbor ESTABLISHED).
 *
 * Input: "METHOD URL?k=v&k=v..." (GET, HEAD or POST; values %XX / '+' decoded as
 * libmicrohttpd does; "_as=auditor" / "_as=none" picks the caller). Emulator URLs are skipped
 * (they change the clock). Invariants:
 *   - never 5xx; JSON bodies parse; errors are NSX error JSON (CSP's own form on authorize);
 *   - the BGP password never appears in a response; the PSK only on a 200 for an admin asking a
 *     session object with action=show_sensitive_data;
 *   - lists: at most page_size results, result_count = the collection's size, the cursor points
 *     right after the page, results in sort_by order (display_name / id), and with
 *     included_fields every result has only the named fields;
 *   - CSV: the route table's header, then CRLF-terminated records.
 */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"

#define PSK "FuzzPskSecret-7Qe"
#define BGP_PW "FuzzBgpPassword-9Xw"
#define POLICY "/policy/api/v1"
#define SVC "/infra/tier-0s/vmc/locale-services/default/ipsec-vpn-services/default"
#define NB "/infra/tier-0s/vmc/locale-services/default/bgp/neighbors"

static struct fuzz_stack *fs;

static void
setup_put(const char *url, const char *body)
{
	char full[512];

	snprintf(full, sizeof(full), "%s%s", url[0] == '/' && url[1] == 'e' ? "" : POLICY, url);
	if (fuzz_simple(fs, API_PUT, full, body) != 200)
		exit(1);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fs = fuzz_stack_get();
	setup_put("/infra/ipsec-vpn-ike-profiles/p1",
		  "{\"display_name\":\"b\",\"ike_version\":\"IKE_V2\",\"encryption_algorithms\":"
		  "[\"AES_128\"],\"digest_algorithms\":[\"SHA2_256\"],\"dh_groups\":[\"GROUP14\"],"
		  "\"sa_life_time\":86400}");
	setup_put("/infra/ipsec-vpn-ike-profiles/p2",
		  "{\"display_name\":\"a\",\"ike_version\":\"IKE_V2\",\"encryption_algorithms\":"
		  "[\"AES_GCM_128\"],\"digest_algorithms\":[],\"dh_groups\":[\"GROUP19\"],"
		  "\"sa_life_time\":28800}");
	setup_put("/infra/ipsec-vpn-ike-profiles/p3", "{\"display_name\":\"a\"}");
	setup_put("/infra/tier-0s/vmc/prefix-lists/pl1",
		  "{\"prefixes\":[{\"network\":\"10.0.0.0/8\",\"action\":\"PERMIT\",\"le\":24}]}");
	setup_put("/emulator/api/v1/peers/203.0.113.5",
		  "{\"bgp\":{\"as\":\"65006\",\"announce\":[{\"network\":\"10.1.0.0/16\","
		  "\"as_path\":\"65006 65010\",\"med\":5},{\"network\":\"10.2.0.0/24\","
		  "\"as_path\":\"65006\",\"med\":0}]}}");
	setup_put(SVC "/sessions/s1",
		  "{\"resource_type\":\"RouteBasedIPSecVpnSession\",\"tunnel_interfaces\":[{"
		  "\"ip_subnets\":[{\"ip_addresses\":[\"169.254.160.2\"],\"prefix_length\":30}]}],"
		  "\"local_endpoint_path\":\"" SVC "/local-endpoints/Private-IP1\","
		  "\"authentication_mode\":\"PSK\",\"psk\":\"" PSK "\","
		  "\"ike_profile_path\":\"/infra/ipsec-vpn-ike-profiles/p1\","
		  "\"tunnel_profile_path\":\"/infra/ipsec-vpn-tunnel-profiles/"
		  "nsx-default-l3vpn-tunnel-profile\",\"peer_address\":\"203.0.113.5\","
		  "\"peer_id\":\"203.0.113.5\"}");
	setup_put(NB "/n1", "{\"neighbor_address\":\"169.254.160.1\",\"remote_as_num\":\"65006\","
		  "\"password\":\"" BGP_PW "\"}");
	if (fuzz_simple(fs, API_POST, "/emulator/api/v1/clock", "{\"advance_ms\":5000}") != 200)
		exit(1);
	return 0;
}

static int
hexv(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decode %XX and '+' in place (as libmicrohttpd does for query arguments). */
static void
unescape(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '+') {
			*o++ = ' ';
		} else if (*s == '%' && hexv(s[1]) >= 0 && hexv(s[2]) >= 0) {
			*o++ = (char)(hexv(s[1]) << 4 | hexv(s[2]));
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

static const char *
q(const struct fuzz_req *rq, const char *k)
{
	size_t i;

	for (i = 0; i < rq->nq; i++)
		if (!strcmp(rq->qk[i], k))
			return rq->qv[i];
	return NULL;
}

static bool
is_session_object(const char *url)
{
	const char *p = strstr(url, SVC "/sessions/");

	if (!p)
		p = strstr(url, "/infra/tier-0s/vmc/ipsec-vpn-services/default/sessions/");
	return p && !strchr(strstr(p, "sessions/") + 9, '/');
}

static void
check_list(struct fuzz_req *rq, json_t *body)
{
	json_t *res = json_object_get(body, "results"), *it;
	const char *ps = q(rq, "page_size"), *sb = q(rq, "sort_by"), *inc = q(rq, "included_fields");
	const char *asc = q(rq, "sort_ascending"), *cur = q(rq, "cursor");
	size_t n = json_array_size(res), i, total;
	long long page = ps ? atoll(ps) : 1000;
	struct fuzz_req all = *rq;
	struct api_resp r2;
	json_t *b2;

	if (page <= 0 || page > 1000)
		page = 1000;
	FUZZ_CHECK((long long)n <= page, "%zu results for page_size %s", n, ps);
	/* the collection's size, from a plain request */
	all.nq = 0;
	fuzz_call(fs, &all, &r2);
	b2 = json_loadb(r2.body, r2.len, 0, NULL);
	FUZZ_CHECK(r2.status == 200 && b2, "plain list -> %d", r2.status);
	total = (size_t)json_integer_value(json_object_get(b2, "result_count"));
	FUZZ_CHECK((size_t)json_integer_value(json_object_get(body, "result_count")) == total,
		   "result_count %lld, the collection has %zu",
		   (long long)json_integer_value(json_object_get(body, "result_count")), total);
	json_decref(b2);
	free(r2.body);
	if (json_object_get(body, "cursor")) {
		long long start = cur && *cur ? atoll(cur) : 0;

		FUZZ_CHECK(json_is_string(json_object_get(body, "cursor")) &&
			   atoll(json_string_value(json_object_get(body, "cursor"))) ==
				   start + (long long)n, "cursor");
	}
	if (!sb || !*sb)
		sb = "display_name";
	for (i = 0; i + 1 < n && (!strcmp(sb, "display_name") || !strcmp(sb, "id")); i++) {
		const char *a = json_string_value(json_object_get(json_array_get(res, i), sb));
		const char *b = json_string_value(json_object_get(json_array_get(res, i + 1), sb));
		int c;

		if (!a || !b)
			continue;
		c = strcmp(a, b);
		FUZZ_CHECK(asc && !strcmp(asc, "false") ? c >= 0 : c <= 0, "%s order: %s, %s", sb, a,
			   b);
	}
	if (inc && *inc) {
		json_array_foreach(res, i, it) {
			const char *k;
			json_t *v;

			json_object_foreach(it, k, v) {
				size_t kl = strlen(k);
				const char *p = inc;
				bool named = false;

				while (*p && !named) {
					size_t l = strcspn(p, ",");

					named = l == kl && !strncmp(p, k, kl);
					p += l + (p[l] == ',');
				}
				FUZZ_CHECK(named, "field %s not in included_fields=%s", k, inc);
			}
		}
	}
}

static void
check_csv(const struct api_resp *r)
{
	static const char hdr[] = "as_path,local_pref,logical_router_id,med,neighbor_address,"
				  "neighbor_id,network,next_hop,source_address,"
				  "transport_node_id,weight\r\n";

	FUZZ_CHECK(r->len >= sizeof(hdr) - 1 && !memcmp(r->body, hdr, sizeof(hdr) - 1),
		   "CSV header");
	FUZZ_CHECK(r->body[r->len - 1] == '\n' && r->body[r->len - 2] == '\r', "CSV end");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_strndup(data, size), *url, *qs, *p;
	struct fuzz_req rq;
	struct api_resp r;
	const char *as, *action;
	json_t *body = NULL;

	memset(&rq, 0, sizeof(rq));
	if (!strncmp(s, "POST ", 5)) {
		rq.method = API_POST;
		rq.method_name = "POST";
	} else if (!strncmp(s, "HEAD ", 5)) {
		rq.method = API_HEAD;
		rq.method_name = "HEAD";
	} else {
		rq.method = API_GET;
		rq.method_name = "GET";
	}
	url = strchr(s, ' ');
	url = url ? url + 1 : s;
	if (strstr(url, "/emulator/") || strstr(url, "emulator/api"))
		goto out;
	/* Answers (404 messages, the audit log) may echo a request: requests never carry the
	 * secrets, so any secret in an answer comes from the stored objects. */
	if (memmem(data, size, PSK, strlen(PSK)) || memmem(data, size, BGP_PW, strlen(BGP_PW)))
		goto out;
	qs = strchr(url, '?');
	if (qs) {
		*qs++ = '\0';
		while (qs && *qs && rq.nq < FUZZ_MAX_PARAMS) {
			char *amp = strchr(qs, '&'), *eq;

			if (amp)
				*amp++ = '\0';
			eq = strchr(qs, '=');
			if (eq)
				*eq++ = '\0';
			unescape(qs);
			if (eq)
				unescape(eq);
			if (!q(&rq, qs)) {	/* the first value of a key, as MHD returns */
				rq.qk[rq.nq] = qs;
				rq.qv[rq.nq++] = eq ? eq : "";
			}
			qs = amp;
		}
	}
	rq.url = url;
	for (size_t i = 0; i < rq.nq; i++)
		if (strstr(rq.qv[i], PSK) || strstr(rq.qv[i], BGP_PW))
			goto out;
	as = q(&rq, "_as");
	if (as && !strcmp(as, "auditor")) {
		rq.hk[0] = "csp-auth-token";
		rq.hv[0] = fs->access_auditor;
		rq.nh = 1;
	} else if (as && !strcmp(as, "none")) {
		rq.hk[0] = "X-None";
		rq.hv[0] = "";
		rq.nh = 1;
	}
	fuzz_call(fs, &rq, &r);
	FUZZ_CHECK(r.status >= 200 && r.status < 500, "%s %s -> %d %.*s", rq.method_name, url,
		   r.status, (int)r.len, r.body ? r.body : "");
	if (r.len) {
		FUZZ_CHECK(!memmem(r.body, r.len, BGP_PW, strlen(BGP_PW)), "BGP password in %s",
			   url);
		action = q(&rq, "action");
		if (memmem(r.body, r.len, PSK, strlen(PSK)))
			FUZZ_CHECK(r.status == 200 && action && !strcmp(action, "show_sensitive_data") &&
				   rq.nh == 0 && is_session_object(url),
				   "PSK in the answer to %s %s", rq.method_name, url);
	}
	if (r.content_type && !strcmp(r.content_type, "text/csv")) {
		check_csv(&r);
		goto done;
	}
	if (!r.len)
		goto done;
	body = json_loadb(r.body, r.len, 0, NULL);
	FUZZ_CHECK(body, "%s %s -> %d: body is not JSON: %.*s", rq.method_name, url, r.status,
		   (int)r.len, r.body);
	if (r.status >= 400) {
		bool nsx = json_is_integer(json_object_get(body, "error_code")) &&
			   json_is_string(json_object_get(body, "httpStatus"));
		bool csp = json_is_string(json_object_get(body, "error"));

		FUZZ_CHECK(nsx || (csp && strstr(url, "/csp/")), "error body %.*s", (int)r.len,
			   r.body);
	} else if (json_is_array(json_object_get(body, "results")) &&
		   json_object_get(body, "sort_by")) {
		check_list(&rq, body);
	}
done:
	json_decref(body);
	free(r.body);
out:
	p = s;
	free(p);
	return 0;
}
