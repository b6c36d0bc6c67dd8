/* Unit tests for src/auth (refresh tokens, JWT access tokens) and src/core/b64. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/auth.h"
#include "core/b64.h"
#include "core/clock.h"
#include "core/log.h"
#include "store/store.h"

struct fx {
	char dir[PATH_MAX];
	char uri[PATH_MAX + 32];
	struct store *st;
	struct auth *a;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct auth_config cfg = { 60, "org-1" };

	snprintf(f->dir, sizeof(f->dir), "/tmp/vpnd-auth-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->uri, sizeof(f->uri), "sqlite:%s/vpnd.db", f->dir);
	assert_int_equal(store_open(&f->st, f->uri, NULL), VPN_OK);
	assert_int_equal(auth_open(&f->a, f->st, &cfg, NULL), VPN_OK);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	char cmd[PATH_MAX + 16];

	auth_close(f->a);
	store_close(f->st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

/* Exchange @refresh and return the access token (caller frees). */
static char *
exchange(struct auth *a, const char *refresh)
{
	char *json = NULL, *tok;
	size_t len;
	json_t *j;

	assert_int_equal(auth_exchange(a, refresh, &json, &len, NULL), VPN_OK);
	j = json_loads(json, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "token_type")), "bearer");
	assert_int_equal(json_integer_value(json_object_get(j, "expires_in")), 60);
	assert_string_equal(json_string_value(json_object_get(j, "refresh_token")), refresh);
	tok = strdup(json_string_value(json_object_get(j, "access_token")));
	json_decref(j);
	free(json);
	return tok;
}

static void
test_b64url(void **state)
{
	char enc[64];
	unsigned char dec[64];
	size_t n;

	(void)state;
	b64url_encode("hello?>", 7, enc);
	assert_string_equal(enc, "aGVsbG8_Pg");
	assert_int_equal(b64url_len(7), strlen(enc));
	assert_true(b64url_decode(enc, strlen(enc), dec, sizeof(dec), &n));
	assert_int_equal(n, 7);
	assert_memory_equal(dec, "hello?>", 7);
	assert_false(b64url_decode("aGVsbG8_Pg==", 12, dec, sizeof(dec), &n));	/* padding */
	assert_false(b64url_decode("a", 1, dec, sizeof(dec), &n));		/* impossible length */
	assert_false(b64url_decode("aGVsbG8+Pg", 10, dec, sizeof(dec), &n));	/* '+' is not url */
	assert_false(b64url_decode("aGVsbG8_Ph", 10, dec, sizeof(dec), &n));	/* stray bits */
	assert_false(b64url_decode("aGVsbG8_Pg", 10, dec, 3, &n));		/* overflow */
}

static void
test_exchange_and_verify(void **state)
{
	struct fx *f = *state;
	char rt[AUTH_REFRESH_LEN + 1], *at;
	struct principal p;
	struct vpn_error e;

	assert_int_equal(auth_token_create(f->st, "ops-bot", AUTH_ROLE_AUDITOR, rt, NULL), VPN_OK);
	assert_int_equal(strlen(rt), AUTH_REFRESH_LEN);
	at = exchange(f->a, rt);
	assert_int_equal(auth_verify(f->a, at, &p, NULL), VPN_OK);
	assert_string_equal(p.name, "ops-bot");
	assert_int_equal(p.role, AUTH_ROLE_AUDITOR);
	/* an unknown refresh token, and one of the wrong length */
	rt[0] = rt[0] == 'A' ? 'B' : 'A';
	vpn_error_clear(&e);
	assert_int_equal(auth_exchange(f->a, rt, &(char *){ NULL }, &(size_t){ 0 }, &e),
			 VPN_E_UNAUTH);
	assert_non_null(strstr(e.msg, "invalid_grant"));
	assert_int_equal(auth_exchange(f->a, "short", &(char *){ NULL }, &(size_t){ 0 }, NULL),
			 VPN_E_UNAUTH);
	free(at);
}

static void
test_forged_and_malformed(void **state)
{
	struct fx *f = *state;
	char rt[AUTH_REFRESH_LEN + 1], *at, *bad;
	struct principal p;
	size_t n;

	assert_int_equal(auth_token_create(f->st, "admin", AUTH_ROLE_ADMIN, rt, NULL), VPN_OK);
	at = exchange(f->a, rt);
	n = strlen(at);
	bad = strdup(at);
	bad[n - 2] = bad[n - 2] == 'A' ? 'B' : 'A';	/* signature */
	assert_int_equal(auth_verify(f->a, bad, &p, NULL), VPN_E_UNAUTH);
	strcpy(bad, at);
	bad[40] = bad[40] == 'A' ? 'B' : 'A';		/* payload */
	assert_int_equal(auth_verify(f->a, bad, &p, NULL), VPN_E_UNAUTH);
	assert_int_equal(auth_verify(f->a, NULL, &p, NULL), VPN_E_UNAUTH);
	assert_int_equal(auth_verify(f->a, "", &p, NULL), VPN_E_UNAUTH);
	assert_int_equal(auth_verify(f->a, "a.b", &p, NULL), VPN_E_UNAUTH);
	assert_int_equal(auth_verify(f->a, "a.b.c.d", &p, NULL), VPN_E_UNAUTH);
	assert_int_equal(auth_verify(f->a, "....", &p, NULL), VPN_E_UNAUTH);
	free(bad);
	free(at);
}

static void
test_expiry_follows_clock(void **state)
{
	struct fx *f = *state;
	char rt[AUTH_REFRESH_LEN + 1], *at;
	struct principal p;
	struct vpn_error e;

	assert_int_equal(auth_token_create(f->st, "t", AUTH_ROLE_ADMIN, rt, NULL), VPN_OK);
	at = exchange(f->a, rt);
	clock_advance_ms(58 * 1000);
	assert_int_equal(auth_verify(f->a, at, &p, NULL), VPN_OK);
	clock_advance_ms(3 * 1000);
	vpn_error_clear(&e);
	assert_int_equal(auth_verify(f->a, at, &p, &e), VPN_E_UNAUTH);
	assert_non_null(strstr(e.msg, "expired"));
	free(at);
}

static void
test_revocation_from_another_process(void **state)
{
	struct fx *f = *state;
	char rt[AUTH_REFRESH_LEN + 1], *at;
	struct principal p;
	struct store *cli;

	assert_int_equal(auth_token_create(f->st, "victim", AUTH_ROLE_ADMIN, rt, NULL), VPN_OK);
	at = exchange(f->a, rt);
	assert_int_equal(auth_verify(f->a, at, &p, NULL), VPN_OK);
	/* `vpnd token revoke` opens the store separately */
	assert_int_equal(store_open(&cli, f->uri, NULL), VPN_OK);
	assert_int_equal(auth_token_revoke(cli, "victim", NULL), VPN_OK);
	assert_int_equal(auth_token_revoke(cli, "victim", NULL), VPN_E_NOT_FOUND);
	store_close(cli);
	assert_int_equal(auth_verify(f->a, at, &p, NULL), VPN_E_UNAUTH);
	assert_int_equal(auth_exchange(f->a, rt, &(char *){ NULL }, &(size_t){ 0 }, NULL),
			 VPN_E_UNAUTH);
	/* a new token with the same name does not revive the old access token */
	assert_int_equal(auth_token_create(f->st, "victim", AUTH_ROLE_ADMIN, rt, NULL), VPN_OK);
	assert_int_equal(auth_verify(f->a, at, &p, NULL), VPN_E_UNAUTH);
	free(at);
}

static void
test_key_shared_through_store(void **state)
{
	struct fx *f = *state;
	struct auth_config cfg = { 60, "org-1" };
	char rt[AUTH_REFRESH_LEN + 1], *at;
	struct principal p;
	struct auth *other = NULL;

	assert_int_equal(auth_token_create(f->st, "n1", AUTH_ROLE_ADMIN, rt, NULL), VPN_OK);
	at = exchange(f->a, rt);
	/* a second vpnd (or a restart) on the same store accepts the token */
	assert_int_equal(auth_open(&other, f->st, &cfg, NULL), VPN_OK);
	assert_int_equal(auth_verify(other, at, &p, NULL), VPN_OK);
	auth_close(other);
	free(at);
}

/*
 * Regression (review): an admin could advance the emulator clock, mint a token, and keep it for
 * years after a restart. Every token's expiry is bounded by the verifier's now + its lifetime:
 * here a token minted with a 100000 s lifetime is refused by a verifier issuing 60 s ones.
 */
static void
test_expiry_bounded_by_lifetime(void **state)
{
	struct fx *f = *state;
	struct auth_config longcfg = { 100000, "org-1" };
	struct auth *minter = NULL;
	char rt[AUTH_REFRESH_LEN + 1], *json = NULL, *at;
	struct principal p;
	struct vpn_error e;
	size_t len;
	json_t *j;

	assert_int_equal(auth_token_create(f->st, "bounded", AUTH_ROLE_ADMIN, rt, NULL), VPN_OK);
	assert_int_equal(auth_open(&minter, f->st, &longcfg, NULL), VPN_OK);
	assert_int_equal(auth_exchange(minter, rt, &json, &len, NULL), VPN_OK);
	j = json_loads(json, 0, NULL);
	at = strdup(json_string_value(json_object_get(j, "access_token")));
	assert_int_equal(auth_verify(minter, at, &p, NULL), VPN_OK);
	vpn_error_clear(&e);
	assert_int_equal(auth_verify(f->a, at, &p, &e), VPN_E_UNAUTH);
	assert_non_null(strstr(e.msg, "outlives"));
	json_decref(j);
	free(json);
	free(at);
	auth_close(minter);
}

static void
test_names_and_roles(void **state)
{
	struct fx *f = *state;
	char rt[AUTH_REFRESH_LEN + 1];
	enum auth_role r;

	assert_int_equal(auth_token_create(f->st, "bad name", AUTH_ROLE_ADMIN, rt, NULL),
			 VPN_E_INVALID);
	assert_int_equal(auth_token_create(f->st, "", AUTH_ROLE_ADMIN, rt, NULL), VPN_E_INVALID);
	assert_int_equal(auth_token_create(f->st, "x", AUTH_ROLE_NONE, rt, NULL), VPN_E_INVALID);
	assert_int_equal(auth_token_create(f->st, "dup", AUTH_ROLE_ADMIN, rt, NULL), VPN_OK);
	assert_int_equal(auth_token_create(f->st, "dup", AUTH_ROLE_ADMIN, rt, NULL),
			 VPN_E_CONFLICT);
	assert_int_equal(auth_token_count(f->st), 1);
	assert_true(auth_role_parse("auditor", &r) && r == AUTH_ROLE_AUDITOR);
	assert_false(auth_role_parse("Admin", &r));
}

int
main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_b64url),
		T(test_exchange_and_verify),
		T(test_forged_and_malformed),
		T(test_expiry_follows_clock),
		T(test_revocation_from_another_process),
		T(test_key_shared_through_store),
		T(test_names_and_roles),
		T(test_expiry_bounded_by_lifetime),
	};
#undef T

	log_set_level(LOG_LVL_ERROR);
	return cmocka_run_group_tests_name("auth", tests, NULL, NULL);
}
