/*
 * jscan.h - one pass over the text of a JSON object without building a tree: checks that the
 * text is exactly one JSON object (RFC 8259 grammar, valid UTF-8, no \u0000, paired
 * surrogates, nesting at most JSCAN_MAX_DEPTH) and reports each top-level member's key and
 * value as spans of the text. For readers that need a few members of a large, trusted text
 * (the model loading rows the store holds) and parse only those.
 *
 * It accepts what jansson's json_loadb() accepts for an object, except that it does not check
 * the range of numbers (jansson refuses integers beyond int64 and reals beyond double).
 */
#ifndef VPND_JSCAN_H
#define VPND_JSCAN_H

#include <stdbool.h>
#include <stddef.h>

#define JSCAN_MAX_DEPTH 64

struct jscan_member {
	const char *key;	/* between the quotes, as written (escapes not decoded) */
	size_t key_len;
	const char *val;	/* the value's text */
	size_t val_len;
	size_t start, end;	/* the member in the text: s[start..end) is "key":value */
};

/*
 * True when @s (@n bytes) is one JSON object (surrounding whitespace allowed). @cb, if not
 * NULL, is called for every top-level member in order as it is scanned - before the rest of
 * the text is checked, so a caller keeps what it learnt only when this returns true.
 */
bool jscan_object(const char *s, size_t n,
		  void (*cb)(void *arg, const struct jscan_member *m), void *arg);

#endif
