/*
 * fuzz_write: request bodies through the whole write path - api_handle -> JSON -> model
 * (merge, _revision, references, indexes) -> schema -> store - on a vpnd without sockets.
 *
 * Input: "PUT|PATCH|DELETE <policy path>\n<body>" (paths relative to /policy/api/v1;
 * emulator and top-level URLs are skipped). Invariants:
 *   - never 5xx; error bodies are NSX error JSON and never contain a secret value (psk,
 *     password) the body carried;
 *   - a refused write changes nothing: the object reads back byte for byte as before
 *     (secrets included) - never half-stored;
 *   - an accepted PUT/PATCH leaves an object whose _revision is the old one + 1 (0 when new)
 *     and whose stored form validates again against its schema; an accepted DELETE leaves 404.
 */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "schema/schema.h"

#define POLICY "/policy/api/v1"

static struct fuzz_stack *fs;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fs = fuzz_stack_get();
	return 0;
}

/* GET @url with secrets (admin). Returns the status; *body is the text (caller frees). */
static int
read_back(const char *url, char **body, size_t *len)
{
	struct fuzz_req rq;
	struct api_resp r;

	memset(&rq, 0, sizeof(rq));
	rq.method = API_GET;
	rq.method_name = "GET";
	rq.url = url;
	rq.qk[0] = "action";
	rq.qv[0] = "show_sensitive_data";
	rq.nq = 1;
	fuzz_call(fs, &rq, &r);
	*body = r.body;
	*len = r.len;
	return r.status;
}

static json_int_t
revision(const char *body, size_t len)
{
	json_t *v = json_loadb(body, len, 0, NULL);
	json_int_t rev = json_integer_value(json_object_get(v, "_revision"));

	json_decref(v);
	return rev;
}

/* A secret string of the body worth looking for in messages (>= 12 chars), or NULL. */
static char *
body_secret(const char *body, size_t len)
{
	json_t *v = json_loadb(body, len, 0, NULL);
	const char *s = json_string_value(json_object_get(v, "psk"));
	char *out = NULL;

	if (!s)
		s = json_string_value(json_object_get(v, "password"));
	if (s && strlen(s) >= 12) {
		const char *first = memmem(body, len, s, strlen(s));

		/* only when it occurs once: elsewhere it could be an id the message names */
		if (first && !memmem(first + 1, len - (size_t)(first + 1 - body), s, strlen(s)))
			out = strdup(s);
	}
	json_decref(v);
	return out;
}

static void
check_stored(const char *url, const char *body, size_t len)
{
	json_t *v = json_loadb(body, len, 0, NULL);
	const char *rt = json_string_value(json_object_get(v, "resource_type"));
	const struct schema_type *t = rt ? schema_type_get(rt) : NULL;
	struct vpn_error e;

	FUZZ_CHECK(v && t, "%s: stored object without a known resource_type: %.*s", url,
		   (int)len, body);
	vpn_error_clear(&e);
	schema_strip_readonly(t, v);
	FUZZ_CHECK(schema_validate(t, v, &e) == VPN_OK, "%s: stored object does not validate: %s",
		   url, e.msg);
	json_decref(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	char line[1024], url[1100], *b0 = NULL, *b1 = NULL, *secret = NULL, *sp;
	size_t l0 = 0, l1 = 0, ll;
	struct fuzz_req rq;
	struct api_resp r;
	int s0, s1;

	if (!nl || (size_t)(nl - data) >= sizeof(line))
		return 0;
	ll = (size_t)(nl - data);
	memcpy(line, data, ll);
	line[ll] = '\0';
	if (memchr(line, '\0', ll) || !(sp = strchr(line, ' ')) || sp[1] != '/')
		return 0;
	*sp = '\0';
	memset(&rq, 0, sizeof(rq));
	if (!strcmp(line, "PUT"))
		rq.method = API_PUT;
	else if (!strcmp(line, "PATCH"))
		rq.method = API_PATCH;
	else if (!strcmp(line, "DELETE"))
		rq.method = API_DELETE;
	else
		return 0;
	rq.method_name = line;
	snprintf(url, sizeof(url), POLICY "%s", sp + 1);
	rq.url = url;
	rq.body = (const char *)nl + 1;
	rq.body_len = size - ll - 1;
	s0 = read_back(url, &b0, &l0);
	secret = body_secret(rq.body, rq.body_len);
	fuzz_call(fs, &rq, &r);
	FUZZ_CHECK(r.status < 500, "%s %s -> %d %.*s", line, sp + 1, r.status, (int)r.len,
		   r.body ? r.body : "");
	s1 = read_back(url, &b1, &l1);
	if (r.status != 200) {
		json_t *e = json_loadb(r.body, r.len, 0, NULL);

		FUZZ_CHECK(json_is_integer(json_object_get(e, "error_code")),
			   "%d without NSX error JSON: %.*s", r.status, (int)r.len, r.body);
		json_decref(e);
		FUZZ_CHECK(!secret || !memmem(r.body, r.len, secret, strlen(secret)),
			   "the body's secret is in the error: %.*s", (int)r.len, r.body);
		FUZZ_CHECK(s0 == s1 && l0 == l1 && (!l0 || !memcmp(b0, b1, l0)),
			   "refused %s %s (%d) changed the object:\n%.*s\n%.*s", line, sp + 1,
			   r.status, (int)l0, b0 ? b0 : "", (int)l1, b1 ? b1 : "");
	} else if (rq.method == API_DELETE) {
		FUZZ_CHECK(s1 == 404, "deleted %s reads %d", sp + 1, s1);
	} else if (s1 != 404 || s0 == 200) {
		/* (a write to a URL that is not an object, e.g. the bgp singleton, reads as such) */
		FUZZ_CHECK(s1 == 200, "written %s reads %d", sp + 1, s1);
		FUZZ_CHECK(revision(b1, l1) == (s0 == 200 ? revision(b0, l0) + 1 : 0),
			   "%s: _revision %lld after %lld", sp + 1, (long long)revision(b1, l1),
			   (long long)(s0 == 200 ? revision(b0, l0) : -1));
		check_stored(url, b1, l1);
	}
	free(r.body);
	free(b0);
	free(b1);
	free(secret);
	return 0;
}
