/*
 * fuzz_token: access tokens (JWT HS256, src/auth/auth.c), base64url (src/core/b64.c), the
 * bearer header and the CSP authorize form/query parsing (src/api/api.c).
 *
 * Input byte 0 picks the mode; invariants:
 *   0 raw token: auth_verify accepts it only if it is one of the tokens this server minted;
 *     base64url that decodes re-encodes to the same text.
 *   1 mutation: the minted admin token edited by the input (xor / insert / delete / truncate
 *     ops) never verifies unless the edits cancel out.
 *   2 forgery: header.payload.signature built from the input (any header, any JSON payload,
 *     any signature) never verifies.
 *   3 CSP form body: api_form_value is NUL-terminated within its buffer, never longer than the
 *     body; a value url-encoded into "refresh_token=..." decodes back exactly; the exchange
 *     with a form value or a ?refresh_token= query succeeds only for a real refresh token.
 *   4 HTTP: the input as the Authorization or csp-auth-token header of a GET: 200 only when it
 *     carries a minted token, 401 with NSX error JSON otherwise.
 */
#include <jansson.h>
#include <string.h>

#include "api/api_internal.h"
#include "core/b64.h"
#include "fuzz.h"

static struct fuzz_stack *fs;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fs = fuzz_stack_get();
	return 0;
}

static bool
minted(const char *tok)
{
	return !strcmp(tok, fs->access_admin) || !strcmp(tok, fs->access_auditor);
}

static bool
verifies(const char *tok)
{
	struct principal p;
	struct vpn_error e;
	enum vpn_err rc;

	vpn_error_clear(&e);
	rc = auth_verify(fs->au, tok, &p, &e);
	if (rc) {
		FUZZ_CHECK(rc == VPN_E_UNAUTH, "auth_verify: %d %s", rc, e.msg);
		FUZZ_CHECK(!strstr(e.msg, fs->refresh_admin), "refresh token in a message");
	}
	return rc == VPN_OK;
}

static void
mode_raw(const uint8_t *d, size_t n)
{
	char *s = fuzz_strndup(d, n), *enc;
	unsigned char out[4096];
	size_t len = 0, sl = strlen(s);

	if (verifies(s))
		FUZZ_CHECK(minted(s), "a token this server never issued verifies: %s", s);
	if (b64url_decode(s, sl, out, sizeof(out), &len)) {
		FUZZ_CHECK(len <= sl * 3 / 4, "decoded %zu bytes from %zu chars", len, sl);
		enc = malloc(b64url_len(len) + 1);
		FUZZ_CHECK(enc, "malloc");
		b64url_encode(out, len, enc);
		FUZZ_CHECK(!strcmp(enc, s), "base64url %s re-encodes as %s", s, enc);
		free(enc);
	}
	free(s);
}

static void
mode_mutate(struct fuzz_in *in)
{
	const char *orig = fs->access_admin;
	size_t n = strlen(orig), cap = n + 64;
	char *t = malloc(cap + 1);

	FUZZ_CHECK(t, "malloc");
	memcpy(t, orig, n + 1);
	while (in->n >= 3) {
		uint8_t op = fuzz_u8(in), pos8 = fuzz_u8(in), val = fuzz_u8(in);
		size_t pos = n ? (size_t)pos8 * 256 % (n + 1) : 0;

		pos = (pos + (size_t)(op >> 2)) % (n + 1);
		switch (op & 3) {
		case 0:		/* flip bits */
			if (pos < n && val && (char)(t[pos] ^ val))
				t[pos] ^= (char)val;
			break;
		case 1:		/* insert */
			if (n < cap && val) {
				memmove(t + pos + 1, t + pos, n - pos + 1);
				t[pos] = (char)val;
				n++;
			}
			break;
		case 2:		/* delete */
			if (pos < n) {
				memmove(t + pos, t + pos + 1, n - pos);
				n--;
			}
			break;
		default:	/* truncate */
			t[pos] = '\0';
			n = pos;
			break;
		}
	}
	if (strcmp(t, orig))
		FUZZ_CHECK(!verifies(t), "a mutated token verifies: %s", t);
	free(t);
}

static void
mode_forge(struct fuzz_in *in)
{
	char *hdr = fuzz_take_str(in, 256), *pl = fuzz_take_str(in, 1024);
	char *sig = fuzz_take_str(in, 128);
	size_t hl = strlen(hdr), pll = strlen(pl);
	char *tok = malloc(b64url_len(hl) + b64url_len(pll) + strlen(sig) + 3);

	FUZZ_CHECK(tok, "malloc");
	b64url_encode(hdr, hl, tok);
	strcat(tok, ".");
	b64url_encode(pl, pll, tok + strlen(tok));
	strcat(tok, ".");
	strcat(tok, sig);
	if (!minted(tok))
		FUZZ_CHECK(!verifies(tok), "a forged token verifies: %s", tok);
	free(tok);
	free(hdr);
	free(pl);
	free(sig);
}

static bool
exchange_ok(const char *refresh)
{
	char *json = NULL;
	size_t len = 0;
	struct vpn_error e;
	enum vpn_err rc;

	vpn_error_clear(&e);
	rc = auth_exchange(fs->au, refresh, &json, &len, &e);
	free(json);
	FUZZ_CHECK(rc == VPN_OK || rc == VPN_E_UNAUTH, "auth_exchange: %d", rc);
	return rc == VPN_OK;
}

static bool
real_refresh(const char *s)
{
	return !strcmp(s, fs->refresh_admin) || !strcmp(s, fs->refresh_auditor);
}

static void
mode_form(const uint8_t *d, size_t n)
{
	static const char hx[] = "0123456789ABCDEF";
	char out[512], *enc, *val;
	struct fuzz_req rq;
	struct api_resp resp;
	size_t i, o, vl;

	memset(out, 'X', sizeof(out));
	if (api_form_value((const char *)d, n, "refresh_token", out, sizeof(out))) {
		size_t ol = strnlen(out, sizeof(out));

		FUZZ_CHECK(ol < sizeof(out) && ol <= n, "form value of %zu bytes", ol);
		if (exchange_ok(out))
			FUZZ_CHECK(real_refresh(out), "a made-up refresh token was accepted");
	}
	/* round trip: the input (up to a NUL) url-encoded as the value */
	val = fuzz_strndup(d, n < 300 ? n : 300);
	vl = strlen(val);
	enc = malloc(3 * vl + 64);
	FUZZ_CHECK(enc, "malloc");
	o = (size_t)sprintf(enc, "a=1&refresh_token=");
	for (i = 0; i < vl; i++) {
		unsigned char c = (unsigned char)val[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		    c == '-' || c == '_' || c == '.')
			enc[o++] = (char)c;
		else if (c == ' ')
			enc[o++] = '+';
		else {
			enc[o++] = '%';
			enc[o++] = hx[c >> 4];
			enc[o++] = hx[c & 15];
		}
	}
	o += (size_t)sprintf(enc + o, "&b=2");
	FUZZ_CHECK(api_form_value(enc, o, "refresh_token", out, sizeof(out)), "key lost: %s", enc);
	FUZZ_CHECK(!strcmp(out, val), "form value %s decodes to %s, not %s", enc, out, val);
	/* the same through the CSP endpoint, as a query parameter */
	memset(&rq, 0, sizeof(rq));
	rq.method = API_POST;
	rq.method_name = "POST";
	rq.url = "/csp/gateway/am/api/auth/api-tokens/authorize";
	rq.qk[0] = "refresh_token";
	rq.qv[0] = val;
	rq.nq = 1;
	rq.hk[0] = "Content-Type";
	rq.hv[0] = "application/x-www-form-urlencoded";
	rq.nh = 1;
	fuzz_call(fs, &rq, &resp);
	FUZZ_CHECK(resp.status == (real_refresh(val) ? 200 : 400), "authorize -> %d", resp.status);
	free(resp.body);
	free(enc);
	free(val);
}

static void
mode_http(const uint8_t *d, size_t n)
{
	char *v = fuzz_strndup(d + 1, n ? n - 1 : 0);
	struct fuzz_req rq;
	struct api_resp resp;
	const char *tok = NULL;
	json_t *body;

	memset(&rq, 0, sizeof(rq));
	rq.method = API_GET;
	rq.method_name = "GET";
	rq.url = "/policy/api/v1/infra/ipsec-vpn-dpd-profiles";
	rq.hk[0] = n && (d[0] & 1) ? "csp-auth-token" : "Authorization";
	rq.hv[0] = v;
	rq.nh = 1;
	fuzz_call(fs, &rq, &resp);
	if (rq.hk[0][0] == 'c') {
		tok = v;
	} else if (!strncasecmp(v, "Bearer ", 7)) {
		tok = v + 7;
		while (*tok == ' ')
			tok++;
	}
	body = json_loadb(resp.body, resp.len, 0, NULL);
	if (tok && *tok && minted(tok)) {
		FUZZ_CHECK(resp.status == 200, "minted token refused: %d", resp.status);
	} else {
		FUZZ_CHECK(resp.status == 401, "header '%s' -> %d", v, resp.status);
		FUZZ_CHECK(json_is_integer(json_object_get(body, "error_code")),
			   "401 without NSX error JSON");
	}
	json_decref(body);
	free(resp.body);
	free(v);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data + 1, size ? size - 1 : 0 };

	if (!size)
		return 0;
	switch (data[0] % 5) {
	case 0:
		mode_raw(data + 1, size - 1);
		break;
	case 1:
		mode_mutate(&in);
		break;
	case 2:
		mode_forge(&in);
		break;
	case 3:
		mode_form(data + 1, size - 1);
		break;
	default:
		mode_http(data + 1, size - 1);
		break;
	}
	return 0;
}
