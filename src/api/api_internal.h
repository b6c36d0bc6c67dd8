/*
 * api_internal.h - the parsers buried in api.c, exposed for the fuzz harnesses (tests/fuzz/)
 * and unit tests. Other modules go through api_handle().
 */
#ifndef VPND_API_INTERNAL_H
#define VPND_API_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#define API_MAX_CAPS 2

/*
 * Reduce @url to its policy path under /policy/api/v1 in @out (outlen bytes): strips the VMC
 * reverse-proxy prefixes (their org and sddc ids go to @org / @sddc, idlen bytes each, else ""),
 * trailing slashes, and maps the deprecated ipsec-vpn-services alias. False when @url is not a
 * policy URL, or a part of it does not fit its buffer.
 */
bool api_normalize(const char *url, char *out, size_t outlen, char *org, char *sddc,
		   size_t idlen);

/*
 * The route @path matches in the policy table (@policy: @path as api_normalize leaves it) or
 * the top-level table (@path as sent): its index as api_route_at() numbers routes, or -1.
 * caps[] receives the "{x}" segments in order, pointing into @scratch (slen bytes); unused
 * ones are NULL.
 */
long api_route_find(bool policy, const char *path, char *scratch, size_t slen,
		    const char *caps[API_MAX_CAPS]);

/*
 * The value of @key in an application/x-www-form-urlencoded @body (len bytes), '+' and %XX
 * decoded, into @out (outlen > 0 bytes, always NUL-terminated, truncated to fit). False when
 * the key is absent.
 */
bool api_form_value(const char *body, size_t len, const char *key, char *out, size_t outlen);

#endif
