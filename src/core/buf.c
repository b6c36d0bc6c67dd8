#include "core/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void
buf_init(struct buf *b, size_t cap_max)
{
	b->p = NULL;
	b->len = 0;
	b->alloc = 0;
	b->cap_max = cap_max;
}

void
buf_release(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
	b->alloc = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->p)
		b->p[0] = '\0';
}

static enum vpn_err
buf_grow(struct buf *b, size_t extra)
{
	size_t need, na;
	char *np;

	if (extra > b->cap_max || b->len > b->cap_max - extra) {
		buf_release(b);
		return VPN_E_TOO_BIG;
	}
	need = b->len + extra + 1;
	if (need <= b->alloc)
		return VPN_OK;
	na = b->alloc ? b->alloc : 64;
	while (na < need)
		na *= 2;
	if (na > b->cap_max + 1)
		na = b->cap_max + 1;
	np = realloc(b->p, na);
	if (!np) {
		buf_release(b);
		return VPN_E_NOMEM;
	}
	b->p = np;
	b->alloc = na;
	return VPN_OK;
}

enum vpn_err
buf_add(struct buf *b, const void *data, size_t n)
{
	enum vpn_err rc = buf_grow(b, n);

	if (rc)
		return rc;
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return VPN_OK;
}

enum vpn_err
buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

enum vpn_err
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;
	enum vpn_err rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return VPN_E_INTERNAL;
	rc = buf_grow(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return VPN_OK;
}

enum vpn_err
buf_add_json_str(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	enum vpn_err rc = buf_add(b, "\"", 1);
	const unsigned char *c;

	for (c = (const unsigned char *)s; !rc && *c; c++) {
		char esc[6];

		switch (*c) {
		case '"': rc = buf_add(b, "\\\"", 2); break;
		case '\\': rc = buf_add(b, "\\\\", 2); break;
		case '\n': rc = buf_add(b, "\\n", 2); break;
		case '\r': rc = buf_add(b, "\\r", 2); break;
		case '\t': rc = buf_add(b, "\\t", 2); break;
		default:
			if (*c < 0x20) {
				esc[0] = '\\';
				esc[1] = 'u';
				esc[2] = '0';
				esc[3] = '0';
				esc[4] = hex[*c >> 4];
				esc[5] = hex[*c & 15];
				rc = buf_add(b, esc, 6);
			} else {
				rc = buf_add(b, c, 1);
			}
		}
	}
	if (!rc)
		rc = buf_add(b, "\"", 1);
	return rc;
}

char *
buf_detach(struct buf *b, size_t *len)
{
	char *p;

	if (!b->p && buf_add(b, "", 0))
		return NULL;
	p = b->p;
	if (len)
		*len = b->len;
	b->p = NULL;
	b->len = 0;
	b->alloc = 0;
	return p;
}
