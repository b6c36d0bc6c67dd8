#include "core/hmap.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/util.h"

static char tomb_key;
#define HMAP_TOMB (&tomb_key)

static uint64_t hmap_seed;
static pthread_once_t hmap_seed_once = PTHREAD_ONCE_INIT;

static void
seed_init(void)
{
	if (!util_random(&hmap_seed, sizeof(hmap_seed)) || !hmap_seed)
		hmap_seed = 0x9e3779b97f4a7c15ULL;
}

static size_t
hash_str(const char *s)
{
	uint64_t h;

	pthread_once(&hmap_seed_once, seed_init);
	h = 0xcbf29ce484222325ULL ^ hmap_seed;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h;
}

void
hmap_init(struct hmap *h)
{
	memset(h, 0, sizeof(*h));
}

void
hmap_release(struct hmap *h)
{
	free(h->slots);
	memset(h, 0, sizeof(*h));
}

static struct hmap_slot *
find(const struct hmap *h, const char *key, size_t hv)
{
	size_t mask, i;

	if (!h->cap)
		return NULL;
	mask = h->cap - 1;
	for (i = hv & mask;; i = (i + 1) & mask) {
		struct hmap_slot *s = &h->slots[i];

		if (!s->key)
			return NULL;
		if (s->key != HMAP_TOMB && s->hash == hv && !strcmp(s->key, key))
			return s;
	}
}

static enum vpn_err
rehash(struct hmap *h, size_t ncap)
{
	struct hmap_slot *ns = calloc(ncap, sizeof(*ns)), *old = h->slots;
	size_t i, oc = h->cap;

	if (!ns)
		return VPN_E_NOMEM;
	for (i = 0; i < oc; i++) {
		size_t j;

		if (!old[i].key || old[i].key == HMAP_TOMB)
			continue;
		for (j = old[i].hash & (ncap - 1); ns[j].key; j = (j + 1) & (ncap - 1))
			;
		ns[j] = old[i];
	}
	free(old);
	h->slots = ns;
	h->cap = ncap;
	h->tombs = 0;
	return VPN_OK;
}

void *
hmap_get(const struct hmap *h, const char *key)
{
	struct hmap_slot *s = find(h, key, hash_str(key));

	return s ? s->val : NULL;
}

enum vpn_err
hmap_put(struct hmap *h, const char *key, void *val, void **old)
{
	size_t hv = hash_str(key), i, mask;
	struct hmap_slot *s = find(h, key, hv);

	if (s) {
		if (old)
			*old = s->val;
		s->key = key;
		s->val = val;
		return VPN_OK;
	}
	if (old)
		*old = NULL;
	if ((h->used + h->tombs + 1) * 4 >= h->cap * 3) {
		size_t ncap = h->cap ? h->cap : 16;
		enum vpn_err rc;

		while ((h->used + 1) * 2 >= ncap)
			ncap *= 2;
		rc = rehash(h, ncap);
		if (rc)
			return rc;
	}
	mask = h->cap - 1;
	for (i = hv & mask; h->slots[i].key && h->slots[i].key != HMAP_TOMB; i = (i + 1) & mask)
		;
	if (h->slots[i].key == HMAP_TOMB)
		h->tombs--;
	h->slots[i].key = key;
	h->slots[i].val = val;
	h->slots[i].hash = hv;
	h->used++;
	return VPN_OK;
}

void *
hmap_del(struct hmap *h, const char *key)
{
	struct hmap_slot *s = find(h, key, hash_str(key));
	void *v;

	if (!s)
		return NULL;
	v = s->val;
	s->key = HMAP_TOMB;
	s->val = NULL;
	h->used--;
	h->tombs++;
	return v;
}

bool
hmap_next(const struct hmap *h, size_t *pos, const char **key, void **val)
{
	while (*pos < h->cap) {
		struct hmap_slot *s = &h->slots[(*pos)++];

		if (s->key && s->key != HMAP_TOMB) {
			if (key)
				*key = s->key;
			if (val)
				*val = s->val;
			return true;
		}
	}
	return false;
}
