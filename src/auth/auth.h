/*
 * auth.h - VMC-style access: CSP refresh tokens exchanged for signed access tokens.
 *
 * Refresh tokens are 256-bit random strings; the store keeps only their SHA-256, and they are
 * matched in constant time. Access tokens are JWTs (HS256) signed with a key kept in the store's
 * meta table, so any vpnd sharing the store accepts them and a restart does not log clients out.
 * Each access token names its refresh token's random id ("tid"): revoking the refresh token
 * (even from another process, `vpnd token revoke`) invalidates its access tokens at the next
 * request. Expiry follows the virtual clock (core/clock.h).
 */
#ifndef VPND_AUTH_H
#define VPND_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct store;
struct auth;

enum auth_role { AUTH_ROLE_NONE = 0, AUTH_ROLE_AUDITOR, AUTH_ROLE_ADMIN };

#define AUTH_NAME_MAX 64
#define AUTH_REFRESH_LEN 43		/* base64url of 32 random bytes */

struct principal {
	char name[AUTH_NAME_MAX + 1];
	enum auth_role role;
};

struct auth_config {
	int64_t access_ttl_s;		/* access-token lifetime; default 1800 */
	const char *org_id;		/* put in tokens as context_name */
};

enum vpn_err auth_open(struct auth **out, struct store *st, const struct auth_config *cfg,
		       struct vpn_error *err);
void auth_close(struct auth *a);		/* NULL-safe */

/*
 * Exchange @refresh for an access token. On success *json is the CSP-style answer (caller
 * frees): {id_token, token_type, expires_in, scope, access_token, refresh_token}. An unknown or
 * revoked token is VPN_E_UNAUTH. Records the use (last_used) in the store.
 */
enum vpn_err auth_exchange(struct auth *a, const char *refresh, char **json, size_t *len,
			   struct vpn_error *err);

/* Check access token @token. VPN_E_UNAUTH (with the reason in @err) unless valid. */
enum vpn_err auth_verify(struct auth *a, const char *token, struct principal *p,
			 struct vpn_error *err);

/* Token administration, directly on the store (CLI, first start). */
enum vpn_err auth_token_create(struct store *st, const char *name, enum auth_role role,
			       char out[AUTH_REFRESH_LEN + 1], struct vpn_error *err);
enum vpn_err auth_token_revoke(struct store *st, const char *name, struct vpn_error *err);
/* Number of refresh tokens in the store, or -1 on error. */
long auth_token_count(struct store *st);

const char *auth_role_name(enum auth_role r);
bool auth_role_parse(const char *s, enum auth_role *out);
/* Token names: 1..64 of [A-Za-z0-9._@-]. */
bool auth_name_valid(const char *name);

#endif
