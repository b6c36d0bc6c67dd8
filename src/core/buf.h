/*
 * buf.h - a growable byte buffer with a mandatory size cap (after curl's dynbuf).
 *
 * Invariants: b->p is NULL or NUL-terminated; b->len <= b->cap_max. An append that would pass the
 * cap, or that fails to allocate, frees the buffer and returns VPN_E_TOO_BIG / VPN_E_NOMEM; the
 * buffer is then empty and may be reused. Callers read b->p and b->len but never write them.
 */
#ifndef VPND_BUF_H
#define VPND_BUF_H

#include <stddef.h>

#include "core/err.h"

struct buf {
	char *p;
	size_t len;
	size_t alloc;
	size_t cap_max;
};

void buf_init(struct buf *b, size_t cap_max);
void buf_release(struct buf *b);		/* frees; b is empty and reusable */
void buf_reset(struct buf *b);			/* len = 0, memory kept */
enum vpn_err buf_add(struct buf *b, const void *data, size_t n);
enum vpn_err buf_adds(struct buf *b, const char *s);
enum vpn_err buf_addf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Append @s as a JSON string literal, quotes included. */
enum vpn_err buf_add_json_str(struct buf *b, const char *s);
/* Take ownership of the contents (never NULL on success: "" for an empty buffer). */
char *buf_detach(struct buf *b, size_t *len);

#endif
