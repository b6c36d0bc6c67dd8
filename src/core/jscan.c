#include "core/jscan.h"

#include <stdint.h>

#include "core/util.h"

struct scan {
	const char *s;
	size_t n, i;
};

static void
ws(struct scan *p)
{
	while (p->i < p->n && (p->s[p->i] == ' ' || p->s[p->i] == '\t' || p->s[p->i] == '\n' ||
			       p->s[p->i] == '\r'))
		p->i++;
}

static int
hex4(struct scan *p)
{
	int v = 0, k;

	if (p->n - p->i < 4)
		return -1;
	for (k = 0; k < 4; k++) {
		char c = p->s[p->i++];

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			v |= c - 'A' + 10;
		else
			return -1;
	}
	return v;
}

/* At the opening quote: past the closing one. */
static bool
string(struct scan *p)
{
	p->i++;
	while (p->i < p->n) {
		unsigned char c = (unsigned char)p->s[p->i++];

		if (c == '"')
			return true;
		if (c < 0x20)
			return false;
		if (c != '\\')
			continue;
		if (p->i >= p->n)
			return false;
		c = (unsigned char)p->s[p->i++];
		if (c == 'u') {
			int u = hex4(p);

			if (u <= 0 || (u >= 0xdc00 && u <= 0xdfff))
				return false;	/* \u0000 or a lone low surrogate */
			if (u >= 0xd800 && u <= 0xdbff) {
				if (p->n - p->i < 2 || p->s[p->i] != '\\' || p->s[p->i + 1] != 'u')
					return false;
				p->i += 2;
				u = hex4(p);
				if (u < 0xdc00 || u > 0xdfff)
					return false;
			}
		} else if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' && c != 'n' &&
			   c != 'r' && c != 't') {
			return false;
		}
	}
	return false;
}

static bool
digits(struct scan *p)
{
	size_t start = p->i;

	while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
		p->i++;
	return p->i > start;
}

static bool
number(struct scan *p)
{
	if (p->s[p->i] == '-')
		p->i++;
	if (p->i < p->n && p->s[p->i] == '0')
		p->i++;
	else if (!digits(p))
		return false;
	if (p->i < p->n && p->s[p->i] == '.') {
		p->i++;
		if (!digits(p))
			return false;
	}
	if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		if (!digits(p))
			return false;
	}
	return true;
}

static bool
literal(struct scan *p, const char *w, size_t len)
{
	size_t k;

	if (p->n - p->i < len)
		return false;
	for (k = 0; k < len; k++)
		if (p->s[p->i + k] != w[k])
			return false;
	p->i += len;
	return true;
}

static bool value(struct scan *p, unsigned depth, void (*cb)(void *, const struct jscan_member *),
		  void *arg);

/* At '{' or '[': past the matching close. @cb only for the top-level object's members. */
static bool
container(struct scan *p, unsigned depth, void (*cb)(void *, const struct jscan_member *),
	  void *arg)
{
	bool obj = p->s[p->i] == '{';
	char close = obj ? '}' : ']';

	if (depth >= JSCAN_MAX_DEPTH)
		return false;
	p->i++;
	ws(p);
	if (p->i < p->n && p->s[p->i] == close) {
		p->i++;
		return true;
	}
	for (;;) {
		struct jscan_member m;

		if (obj) {
			if (p->i >= p->n || p->s[p->i] != '"')
				return false;
			m.start = p->i;
			if (!string(p))
				return false;
			m.key = p->s + m.start + 1;
			m.key_len = p->i - m.start - 2;
			ws(p);
			if (p->i >= p->n || p->s[p->i] != ':')
				return false;
			p->i++;
			ws(p);
			m.val = p->s + p->i;
		}
		if (!value(p, depth + 1, NULL, NULL))
			return false;
		if (obj && cb) {
			m.end = p->i;
			m.val_len = (size_t)(p->s + p->i - m.val);
			cb(arg, &m);
		}
		ws(p);
		if (p->i >= p->n)
			return false;
		if (p->s[p->i] == close) {
			p->i++;
			return true;
		}
		if (p->s[p->i] != ',')
			return false;
		p->i++;
		ws(p);
	}
}

static bool
value(struct scan *p, unsigned depth, void (*cb)(void *, const struct jscan_member *), void *arg)
{
	if (p->i >= p->n)
		return false;
	switch (p->s[p->i]) {
	case '{':
	case '[':
		return container(p, depth, cb, arg);
	case '"':
		return string(p);
	case 't':
		return literal(p, "true", 4);
	case 'f':
		return literal(p, "false", 5);
	case 'n':
		return literal(p, "null", 4);
	default:
		return (p->s[p->i] == '-' || (p->s[p->i] >= '0' && p->s[p->i] <= '9')) && number(p);
	}
}

bool
jscan_object(const char *s, size_t n, void (*cb)(void *arg, const struct jscan_member *m),
	     void *arg)
{
	struct scan p = { s, n, 0 };

	if (!s || !util_utf8_valid(s, n))
		return false;
	ws(&p);
	if (p.i >= n || s[p.i] != '{' || !container(&p, 0, cb, arg))
		return false;
	ws(&p);
	return p.i == n;
}
