/*
 * hmap.h - string-keyed hash map (open addressing, linear probing, tombstones).
 *
 * Keys are borrowed: the caller keeps each key alive (typically the key is a field of the value)
 * until it is removed. The hash is seeded per process from getrandom(2), so client-chosen ids
 * cannot be used to force collisions. Not thread-safe: callers lock.
 */
#ifndef VPND_HMAP_H
#define VPND_HMAP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

struct hmap_slot {
	const char *key;	/* NULL = empty; HMAP_TOMB = deleted */
	void *val;
	size_t hash;
};

struct hmap {
	struct hmap_slot *slots;
	size_t cap;		/* power of two, or 0 */
	size_t used;		/* live entries */
	size_t tombs;
};

void hmap_init(struct hmap *h);
void hmap_release(struct hmap *h);	/* frees the table, not keys or values */
void *hmap_get(const struct hmap *h, const char *key);
/* Insert or replace. *old (if non-NULL) receives the replaced value or NULL. */
enum vpn_err hmap_put(struct hmap *h, const char *key, void *val, void **old);
/* Remove; returns the removed value or NULL. */
void *hmap_del(struct hmap *h, const char *key);
/* Iterate: start with *pos = 0; returns false at the end. */
bool hmap_next(const struct hmap *h, size_t *pos, const char **key, void **val);

#endif
