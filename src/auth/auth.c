#include "auth/auth.h"

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/b64.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/util.h"
#include "store/store.h"

#define KEY_LEN 32
#define HASH_LEN 32
#define TOKEN_MAX 4096			/* longest access token we look at */
#define META_KEY "jwt_hs256_key"

/* base64url of {"alg":"HS256","typ":"JWT"} */
#define JWT_HEADER "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"

struct tok {
	char name[AUTH_NAME_MAX + 1];
	char id[40];
	enum auth_role role;
	unsigned char hash[HASH_LEN];
};

/* One verified access token (the cache of auth_verify), known by its SHA-256. */
#define VCACHE_SLOTS 256
struct vslot {
	unsigned char digest[HASH_LEN];
	bool used;
	char tid[40];
	int64_t exp;
};

struct auth {
	struct store *st;
	struct auth_config cfg;
	char org_id[128];
	unsigned char key[KEY_LEN];
	pthread_rwlock_t lock;		/* guards toks, ntoks, version */
	struct tok *toks;
	size_t ntoks;
	uint64_t version;
	bool loaded;
	pthread_rwlock_t vlock;		/* guards vcache */
	struct vslot vcache[VCACHE_SLOTS];
};

const char *
auth_role_name(enum auth_role r)
{
	switch (r) {
	case AUTH_ROLE_ADMIN: return "admin";
	case AUTH_ROLE_AUDITOR: return "auditor";
	default: return "none";
	}
}

bool
auth_role_parse(const char *s, enum auth_role *out)
{
	if (!strcmp(s, "admin"))
		*out = AUTH_ROLE_ADMIN;
	else if (!strcmp(s, "auditor"))
		*out = AUTH_ROLE_AUDITOR;
	else
		return false;
	return true;
}

bool
auth_name_valid(const char *name)
{
	size_t n = strlen(name), i;

	if (n == 0 || n > AUTH_NAME_MAX)
		return false;
	for (i = 0; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '@' || c == '-'))
			return false;
	}
	return true;
}

/* Constant-time equality of two @n-byte buffers. */
static bool
ct_equal(const void *a, const void *b, size_t n)
{
	const unsigned char *x = a, *y = b;
	unsigned char d = 0;
	size_t i;

	for (i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

static bool
sha256(const void *data, size_t n, unsigned char out[HASH_LEN])
{
	return gnutls_hash_fast(GNUTLS_DIG_SHA256, data, n, out) == 0;
}

static void
hex_encode(const unsigned char *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static bool
hex_decode(const char *in, unsigned char *out, size_t n)
{
	size_t i;

	if (strlen(in) != 2 * n)
		return false;
	for (i = 0; i < n; i++) {
		unsigned v = 0;
		int k;

		for (k = 0; k < 2; k++) {
			char c = in[2 * i + (size_t)k];

			v <<= 4;
			if (c >= '0' && c <= '9')
				v |= (unsigned)(c - '0');
			else if (c >= 'a' && c <= 'f')
				v |= (unsigned)(c - 'a' + 10);
			else
				return false;
		}
		out[i] = (unsigned char)v;
	}
	return true;
}

/* ---------------------------------------------------------------------------------------- */
/* the token cache, reloaded when the database changed */

struct load_ctx {
	struct tok *v;
	size_t n, cap;
};

static enum vpn_err
load_tok(void *arg, const struct store_token *t)
{
	struct load_ctx *lc = arg;
	struct tok *k;

	if (lc->n == lc->cap) {
		size_t nc = lc->cap ? lc->cap * 2 : 8;
		struct tok *nv = realloc(lc->v, nc * sizeof(*nv));

		if (!nv)
			return VPN_E_NOMEM;
		lc->v = nv;
		lc->cap = nc;
	}
	k = &lc->v[lc->n];
	memset(k, 0, sizeof(*k));
	if (!auth_role_parse(t->role, &k->role) || !hex_decode(t->hash, k->hash, HASH_LEN) ||
	    strlen(t->name) > AUTH_NAME_MAX || strlen(t->id) >= sizeof(k->id)) {
		log_warn("auth: ignoring malformed token record %s", t->name);
		return VPN_OK;
	}
	snprintf(k->name, sizeof(k->name), "%s", t->name);
	snprintf(k->id, sizeof(k->id), "%s", t->id);
	lc->n++;
	return VPN_OK;
}

/* Bring the cache up to date with the store. Cheap when nothing changed. */
static enum vpn_err
refresh(struct auth *a)
{
	struct load_ctx lc = { NULL, 0, 0 };
	uint64_t v;
	enum vpn_err rc;

	if (store_data_version(a->st, &v))
		return VPN_E_STORE;
	pthread_rwlock_rdlock(&a->lock);
	if (a->loaded && v == a->version) {
		pthread_rwlock_unlock(&a->lock);
		return VPN_OK;
	}
	pthread_rwlock_unlock(&a->lock);
	rc = store_token_list(a->st, load_tok, &lc, NULL);
	if (rc) {
		free(lc.v);
		return rc;
	}
	pthread_rwlock_wrlock(&a->lock);
	if (a->toks)
		explicit_bzero(a->toks, a->ntoks * sizeof(*a->toks));
	free(a->toks);
	a->toks = lc.v;
	a->ntoks = lc.n;
	a->version = v;
	a->loaded = true;
	pthread_rwlock_unlock(&a->lock);
	return VPN_OK;
}

/* ---------------------------------------------------------------------------------------- */

enum vpn_err
auth_open(struct auth **out, struct store *st, const struct auth_config *cfg,
	  struct vpn_error *err)
{
	struct auth *a = calloc(1, sizeof(*a));
	char *hex = NULL, buf[2 * KEY_LEN + 1];
	enum vpn_err rc;

	*out = NULL;
	if (!a)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	a->st = st;
	a->cfg = *cfg;
	if (a->cfg.access_ttl_s <= 0)
		a->cfg.access_ttl_s = 1800;
	snprintf(a->org_id, sizeof(a->org_id), "%s", cfg->org_id ? cfg->org_id : "");
	a->cfg.org_id = a->org_id;
	pthread_rwlock_init(&a->lock, NULL);
	pthread_rwlock_init(&a->vlock, NULL);
	rc = store_meta_get(st, META_KEY, &hex, err);
	if (rc == VPN_OK && hex && hex_decode(hex, a->key, KEY_LEN)) {
		/* the shared signing key */
	} else if (rc == VPN_OK || rc == VPN_E_NOT_FOUND) {
		vpn_error_clear(err);
		if (!util_random(a->key, KEY_LEN)) {
			rc = vpn_error_set(err, VPN_E_INTERNAL, 0, "auth: no random bytes");
			goto out;
		}
		hex_encode(a->key, KEY_LEN, buf);
		rc = store_meta_set(st, META_KEY, buf, err);
		explicit_bzero(buf, sizeof(buf));
		if (rc)
			goto out;
	} else {
		goto out;
	}
	rc = refresh(a);
	if (rc) {
		vpn_error_set(err, rc, 0, "auth: cannot read the token table");
		goto out;
	}
	*out = a;
	a = NULL;
out:
	if (hex) {
		explicit_bzero(hex, strlen(hex));
		free(hex);
	}
	auth_close(a);
	return rc;
}

void
auth_close(struct auth *a)
{
	if (!a)
		return;
	if (a->toks)
		explicit_bzero(a->toks, a->ntoks * sizeof(*a->toks));
	free(a->toks);
	explicit_bzero(a->key, sizeof(a->key));
	explicit_bzero(a->vcache, sizeof(a->vcache));
	pthread_rwlock_destroy(&a->vlock);
	pthread_rwlock_destroy(&a->lock);
	free(a);
}

/* HMAC-SHA256 of @data with the key, base64url-encoded into @out (44 bytes). */
static bool
sign(const struct auth *a, const char *data, size_t n, char out[44])
{
	unsigned char mac[32];

	if (gnutls_hmac_fast(GNUTLS_MAC_SHA256, a->key, KEY_LEN, data, n, mac))
		return false;
	b64url_encode(mac, sizeof(mac), out);
	return true;
}

/* A signed JWT for @payload (caller frees). */
static char *
jwt_make(const struct auth *a, json_t *payload)
{
	char *p = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER), *out = NULL;
	size_t hl = strlen(JWT_HEADER), pl, el, n;
	char sig[44];

	if (!p)
		return NULL;
	pl = strlen(p);
	el = b64url_len(pl);
	n = hl + 1 + el;
	out = malloc(n + 1 + sizeof(sig));
	if (!out)
		goto out;
	memcpy(out, JWT_HEADER, hl);
	out[hl] = '.';
	b64url_encode(p, pl, out + hl + 1);
	if (!sign(a, out, n, sig)) {
		free(out);
		out = NULL;
		goto out;
	}
	out[n] = '.';
	memcpy(out + n + 1, sig, strlen(sig) + 1);
out:
	free(p);
	return out;
}

enum vpn_err
auth_exchange(struct auth *a, const char *refresh_tok, char **json, size_t *len,
	      struct vpn_error *err)
{
	unsigned char h[HASH_LEN];
	struct tok found;
	bool hit = false;
	json_t *pl = NULL, *idp = NULL, *resp = NULL;
	char *at = NULL, *it = NULL, jti[37];
	/*
	 * The virtual clock, which the emulator may move forward: auth_verify bounds every token's
	 * expiry by its own current time plus one lifetime, so a token minted under an advanced
	 * clock dies with that clock (restart, another node) instead of living for years.
	 */
	int64_t now_s = clock_now_ms() / 1000;
	enum vpn_err rc;
	size_t i;

	*json = NULL;
	rc = refresh(a);
	if (rc)
		return vpn_error_set(err, VPN_E_STORE, 0, "the token table cannot be read");
	if (!refresh_tok || strlen(refresh_tok) != AUTH_REFRESH_LEN ||
	    !sha256(refresh_tok, AUTH_REFRESH_LEN, h))
		return vpn_error_set(err, VPN_E_UNAUTH, 0, "invalid_grant: Invalid refresh token");
	pthread_rwlock_rdlock(&a->lock);
	for (i = 0; i < a->ntoks; i++) {
		/* every record is compared in full: the time taken does not depend on a match */
		bool eq = ct_equal(a->toks[i].hash, h, HASH_LEN);

		if (eq && !hit) {
			found = a->toks[i];
			hit = true;
		}
	}
	pthread_rwlock_unlock(&a->lock);
	if (!hit)
		return vpn_error_set(err, VPN_E_UNAUTH, 0, "invalid_grant: Invalid refresh token");
	util_uuid4(jti);
	pl = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:s, s:[s]}",
		       "iss", "vpnd", "typ", "access", "sub", found.name, "role",
		       auth_role_name(found.role), "tid", found.id, "iat", (json_int_t)now_s,
		       "exp", (json_int_t)(now_s + a->cfg.access_ttl_s), "jti", jti,
		       "context_name", a->org_id, "perms",
		       found.role == AUTH_ROLE_ADMIN ? "external/nsx/NSX Cloud Admin"
						     : "external/nsx/NSX Cloud Auditor");
	idp = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I}", "iss", "vpnd", "typ", "id", "sub",
			found.name, "aud", "vpnd", "iat", (json_int_t)now_s, "exp",
			(json_int_t)(now_s + a->cfg.access_ttl_s));
	if (!pl || !idp)
		goto nomem;
	at = jwt_make(a, pl);
	it = jwt_make(a, idp);
	if (!at || !it)
		goto nomem;
	resp = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s}", "id_token", it, "token_type", "bearer",
			 "expires_in", (json_int_t)a->cfg.access_ttl_s, "scope",
			 found.role == AUTH_ROLE_ADMIN ? "openid csp:org_member NSX Cloud Admin"
						       : "openid csp:org_member NSX Cloud Auditor",
			 "access_token", at, "refresh_token", refresh_tok);
	if (!resp)
		goto nomem;
	*json = json_dumps(resp, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (!*json)
		goto nomem;
	*len = strlen(*json);
	if (store_token_touch(a->st, found.id, util_now_ms(), NULL))
		log_warn("auth: could not record the use of token %s", found.name);
	rc = VPN_OK;
	goto out;
nomem:
	rc = vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
out:
	json_decref(pl);
	json_decref(idp);
	json_decref(resp);
	if (at) {
		explicit_bzero(at, strlen(at));
		free(at);
	}
	if (it) {
		explicit_bzero(it, strlen(it));
		free(it);
	}
	explicit_bzero(&found, sizeof(found));
	return rc;
}

static enum vpn_err
unauth(struct vpn_error *err, const char *why)
{
	return vpn_error_set(err, VPN_E_UNAUTH, 0,
			     "The credentials were incorrect or the account specified has been "
			     "locked: %s.", why);
}

/*
 * Check signature, type and claims of @token (n bytes) the slow way: HMAC, base64, JSON.
 * On success *tid and *exp are filled.
 */
static enum vpn_err
verify_full(struct auth *a, const char *token, size_t n, char tid[40], int64_t *exp,
	    struct vpn_error *err)
{
	const char *d1, *d2, *t, *typ;
	size_t plen;
	char sig[44];
	unsigned char payload[2048];
	json_t *pl = NULL;
	enum vpn_err rc = VPN_OK;

	d1 = memchr(token, '.', n);
	d2 = d1 ? memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - token)) : NULL;
	if (!d1 || !d2 || memchr(d2 + 1, '.', n - (size_t)(d2 + 1 - token)))
		return unauth(err, "malformed access token");
	if ((size_t)(d1 - token) != strlen(JWT_HEADER) ||
	    memcmp(token, JWT_HEADER, strlen(JWT_HEADER)))
		return unauth(err, "unsupported access token");
	if (!sign(a, token, (size_t)(d2 - token), sig) || strlen(d2 + 1) != strlen(sig) ||
	    !ct_equal(sig, d2 + 1, strlen(sig)))
		return unauth(err, "invalid access token signature");
	if (!b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), payload, sizeof(payload) - 1, &plen))
		return unauth(err, "malformed access token");
	pl = json_loadb((const char *)payload, plen, 0, NULL);
	typ = json_string_value(json_object_get(pl, "typ"));
	t = json_string_value(json_object_get(pl, "tid"));
	if (!typ || strcmp(typ, "access") || !t || strlen(t) >= 40 ||
	    !json_is_integer(json_object_get(pl, "exp"))) {
		rc = unauth(err, "not an access token");
		goto out;
	}
	memcpy(tid, t, strlen(t) + 1);
	*exp = json_integer_value(json_object_get(pl, "exp"));
out:
	json_decref(pl);
	explicit_bzero(payload, sizeof(payload));
	return rc;
}


enum vpn_err
auth_verify(struct auth *a, const char *token, struct principal *p, struct vpn_error *err)
{
	unsigned char digest[HASH_LEN];
	struct vslot *v;
	char tid[40];
	int64_t exp = 0, now;
	bool hit = false, cached = false;
	enum vpn_err rc;
	size_t i, n;

	memset(p, 0, sizeof(*p));
	if (!token || !*token)
		return unauth(err, "no access token (send csp-auth-token or Authorization: Bearer)");
	n = strnlen(token, TOKEN_MAX + 1);
	if (n > TOKEN_MAX || !sha256(token, n, digest))
		return unauth(err, "malformed access token");
	/*
	 * A token seen before is recognised by its SHA-256, compared in constant time, which skips
	 * the HMAC and the JSON; expiry and revocation are still checked on every request.
	 */
	v = &a->vcache[(digest[0] | (size_t)digest[1] << 8) % VCACHE_SLOTS];
	pthread_rwlock_rdlock(&a->vlock);
	if (v->used && ct_equal(v->digest, digest, HASH_LEN)) {
		memcpy(tid, v->tid, sizeof(tid));
		exp = v->exp;
		cached = true;
	}
	pthread_rwlock_unlock(&a->vlock);
	if (!cached) {
		rc = verify_full(a, token, n, tid, &exp, err);
		if (rc)
			return rc;
		pthread_rwlock_wrlock(&a->vlock);
		memcpy(v->digest, digest, HASH_LEN);
		memcpy(v->tid, tid, sizeof(tid));
		v->exp = exp;
		v->used = true;
		pthread_rwlock_unlock(&a->vlock);
	}
	now = clock_now_ms() / 1000;
	if (now >= exp)
		return unauth(err, "the access token has expired; exchange the refresh token again");
	/* never longer than one lifetime from now (60 s of skew between nodes) */
	if (exp > now + a->cfg.access_ttl_s + 60)
		return unauth(err, "the access token outlives any lifetime this server issues");
	rc = refresh(a);
	if (rc)
		return vpn_error_set(err, VPN_E_STORE, 0, "the token table cannot be read");
	pthread_rwlock_rdlock(&a->lock);
	for (i = 0; i < a->ntoks && !hit; i++) {
		if (!strcmp(a->toks[i].id, tid)) {
			snprintf(p->name, sizeof(p->name), "%s", a->toks[i].name);
			p->role = a->toks[i].role;
			hit = true;
		}
	}
	pthread_rwlock_unlock(&a->lock);
	return hit ? VPN_OK : unauth(err, "the refresh token behind this access token was revoked");
}

enum vpn_err
auth_token_create(struct store *st, const char *name, enum auth_role role,
		  char out[AUTH_REFRESH_LEN + 1], struct vpn_error *err)
{
	unsigned char raw[32], h[HASH_LEN];
	char hex[2 * HASH_LEN + 1], id[37];
	struct store_token t;
	enum vpn_err rc;

	if (!auth_name_valid(name))
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "invalid token name: 1 to %d characters of A-Z a-z 0-9 . _ @ -",
				     AUTH_NAME_MAX);
	if (role != AUTH_ROLE_ADMIN && role != AUTH_ROLE_AUDITOR)
		return vpn_error_set(err, VPN_E_INVALID, 0, "role must be admin or auditor");
	if (!util_random(raw, sizeof(raw)))
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "no random bytes");
	b64url_encode(raw, sizeof(raw), out);
	explicit_bzero(raw, sizeof(raw));
	if (!sha256(out, AUTH_REFRESH_LEN, h)) {
		explicit_bzero(out, AUTH_REFRESH_LEN + 1);
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "SHA-256 failed");
	}
	hex_encode(h, HASH_LEN, hex);
	util_uuid4(id);
	t.name = name;
	t.id = id;
	t.role = auth_role_name(role);
	t.hash = hex;
	t.created_ms = util_now_ms();
	t.last_used_ms = 0;
	rc = store_token_add(st, &t, err);
	if (rc)
		explicit_bzero(out, AUTH_REFRESH_LEN + 1);
	return rc;
}

enum vpn_err
auth_token_revoke(struct store *st, const char *name, struct vpn_error *err)
{
	return store_token_del(st, name, err);
}

static enum vpn_err
count_tok(void *arg, const struct store_token *t)
{
	(void)t;
	(*(long *)arg)++;
	return VPN_OK;
}

long
auth_token_count(struct store *st)
{
	long n = 0;

	if (store_token_list(st, count_tok, &n, NULL))
		return -1;
	return n;
}
