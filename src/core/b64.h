/*
 * b64.h - base64url without padding (RFC 4648 section 5), as JWTs use it.
 */
#ifndef VPND_B64_H
#define VPND_B64_H

#include <stdbool.h>
#include <stddef.h>

/* Encoded length of @n bytes (no NUL). */
size_t b64url_len(size_t n);
/* Encode @n bytes of @in into @out (b64url_len(n) + 1 bytes, NUL-terminated). */
void b64url_encode(const void *in, size_t n, char *out);
/*
 * Decode @n characters of @in into @out (at most outcap bytes). False on a character outside
 * the alphabet, padding, a length that cannot be base64, non-zero trailing bits, or overflow.
 */
bool b64url_decode(const char *in, size_t n, void *out, size_t outcap, size_t *outlen);

#endif
