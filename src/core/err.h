/*
 * err.h - the one error enum of vpnd, and the NSX-style error detail that travels with it.
 *
 * Every fallible function returns enum vpn_err and, when given a non-NULL struct vpn_error *,
 * fills in the detail. err.c alone maps codes to HTTP statuses and renders the NSX error JSON:
 *   {"httpStatus":"BAD_REQUEST","error_code":287,"module_name":"Policy",
 *    "error_message":"...","related_errors":[...]}
 * Messages must never contain secrets (PSKs, passwords, tokens): callers name fields, not values.
 */
#ifndef VPND_ERR_H
#define VPND_ERR_H

#include <stddef.h>

enum vpn_err {
	VPN_OK = 0,		/* 0 */
	VPN_E_NOMEM,		/* 1  -> 500 */
	VPN_E_INVALID,		/* 2  -> 400 validation failure */
	VPN_E_BAD_JSON,		/* 3  -> 400 malformed or undeserialisable body */
	VPN_E_TOO_BIG,		/* 4  -> 413 */
	VPN_E_NOT_FOUND,	/* 5  -> 404 */
	VPN_E_METHOD,		/* 6  -> 405 */
	VPN_E_CONFLICT,		/* 7  -> 412 stale or missing _revision */
	VPN_E_IN_USE,		/* 8  -> 400 (error_code 500030) */
	VPN_E_FORBIDDEN,	/* 9  -> 403 */
	VPN_E_UNAUTH,		/* 10 -> 401 */
	VPN_E_STORE,		/* 11 -> 503 the store could not make a write durable */
	VPN_E_INTERNAL,		/* 12 -> 500 */
	VPN_E_UNSUPPORTED,	/* 13 -> 400 a valid request vpnd does not implement */
	VPN_E_RATE,		/* 14 -> 429 over the request-rate limit (error_code 102) */
	VPN_E_HEADER_TOO_BIG,	/* 15 -> 431 request head over --max-header */
	VPN_E__LAST
};

/* NSX error codes we emit (see docs/errors.md for where each comes from). */
enum {
	NSX_EC_GENERIC_NOT_FOUND = 600,		/* object not found */
	NSX_EC_DESERIALIZE = 287,		/* JSON de-serialization error */
	NSX_EC_INVALID = 500012,		/* invalid value / invalid path */
	NSX_EC_IN_USE = 500030,			/* object referenced by others */
	NSX_EC_OVERLAP = 500105,		/* overlapping addresses */
	NSX_EC_SYSTEM_OWNED = 500041,		/* system-owned object (vpnd's choice) */
	NSX_EC_STALE_REVISION = 604,		/* object was modified by somebody else */
	NSX_EC_METHOD = 405,
	NSX_EC_TOO_BIG = 413,
	NSX_EC_INTERNAL = 99,
	NSX_EC_UNAUTH = 403,
	NSX_EC_STORE = 607,			/* API transaction aborted */
	NSX_EC_RATE = 102,			/* "Client 'x' exceeded request rate of N per second" */
	NSX_EC_HEADER_TOO_BIG = 431,		/* vpnd's choice (NSX has no documented code) */
};

#define VPN_ERR_MSG_MAX 512
#define VPN_ERR_RELATED_MAX 32

struct vpn_related_error {
	int error_code;
	char msg[VPN_ERR_MSG_MAX];
};

struct vpn_error {
	enum vpn_err code;
	int error_code;			/* NSX error_code; 0 = default for code */
	char msg[VPN_ERR_MSG_MAX];
	unsigned nrelated;		/* entries used in related[] */
	unsigned ndropped;		/* violations beyond VPN_ERR_RELATED_MAX */
	struct vpn_related_error related[VPN_ERR_RELATED_MAX];
};

/* Reset @e to VPN_OK with no message. NULL-safe. */
void vpn_error_clear(struct vpn_error *e);

/*
 * Set the main error. Returns @code so callers can `return vpn_error_set(...)`.
 * NULL-safe. @nsx_code 0 picks the default NSX code for @code.
 */
enum vpn_err vpn_error_set(struct vpn_error *e, enum vpn_err code, int nsx_code,
			   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Add one violation to related_errors (validation collects them all). The first violation also
 * becomes the main message, and the main code becomes @code if it was VPN_OK. NULL-safe.
 */
void vpn_error_add(struct vpn_error *e, enum vpn_err code, int nsx_code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* The NSX error_code @e renders with (its own, or the default for its code). */
int vpn_error_nsx_code(const struct vpn_error *e);

/* HTTP status for @code. */
int vpn_err_http_status(enum vpn_err code);

/* NSX httpStatus name for an HTTP status ("BAD_REQUEST", ...). */
const char *vpn_http_status_name(int status);

/* Stable symbolic name of @code, for logs. */
const char *vpn_err_name(enum vpn_err code);

/* Render @e as an NSX error JSON body. Caller frees. NULL on allocation failure. */
char *vpn_error_json(const struct vpn_error *e, size_t *len);

#endif
