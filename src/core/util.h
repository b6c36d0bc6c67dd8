/*
 * util.h - small helpers with no state: time, random ids, string checks.
 */
#ifndef VPND_UTIL_H
#define VPND_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Milliseconds since the epoch (wall clock). */
int64_t util_now_ms(void);

/* Fill @out (37 bytes) with a random RFC 4122 version-4 UUID. Uses getrandom(2). */
void util_uuid4(char out[37]);

/* Fill @out with @n cryptographically random bytes. Returns false on failure. */
bool util_random(void *out, size_t n);

/* True when @s (of @len bytes) is valid UTF-8. */
bool util_utf8_valid(const char *s, size_t len);

/* Duplicate @n bytes of @s into a NUL-terminated heap string; NULL on ENOMEM. */
char *util_strndup(const char *s, size_t n);

/* Parse a whole decimal int64 from @s; false if not entirely a number or out of range. */
bool util_parse_i64(const char *s, int64_t *out);

/* A BGP AS number in ASPLAIN ("65006") or ASDOT ("1.10" = 65546) form; false if neither. */
bool util_parse_asn(const char *s, uint32_t *out);

#endif
