/*
 * fuzz_router: URL -> normalisation -> route table (src/api/api.c via api_internal.h).
 *
 * The input is a URL path. Invariants:
 *   - normalisation is idempotent: the policy path it yields, put back under /policy/api/v1,
 *     normalises to itself, with no org/sddc;
 *   - a captured org/sddc id is exactly the URL's segment (never a truncated one);
 *   - a matched route's captured ids re-render (into the route's pattern) to a path that
 *     matches the same route again with the same captures - for the normal path and for the
 *     reverse-proxy spellings of it;
 *   - captures are non-empty and never contain '/'.
 */
#include <string.h>

#include "api/api.h"
#include "api/api_internal.h"
#include "fuzz.h"

#define API_PREFIX "/policy/api/v1"
#define RP "/vmc/reverse-proxy/api/orgs/o/sddcs/s"

/* Render @pattern with caps[] in place of its "{x}" segments. False if it does not fit. */
static bool
render(const char *pattern, const char *const caps[API_MAX_CAPS], char *out, size_t outlen)
{
	size_t o = 0, nc = 0;
	const char *p = pattern;

	while (*p) {
		const char *piece = p;
		size_t n = 1;

		if (*p == '{') {
			const char *e = strchr(p, '}');

			FUZZ_CHECK(e && nc < API_MAX_CAPS && caps[nc], "pattern %s", pattern);
			piece = caps[nc++];
			n = strlen(piece);
			p = e + 1;
		} else {
			p++;
		}
		if (o + n >= outlen)
			return false;
		memcpy(out + o, piece, n);
		o += n;
	}
	out[o] = '\0';
	FUZZ_CHECK(nc == API_MAX_CAPS || !caps[nc], "route %s: a capture was not used", pattern);
	return true;
}

static void
check_caps(const char *const caps[API_MAX_CAPS])
{
	size_t i;

	for (i = 0; i < API_MAX_CAPS && caps[i]; i++)
		FUZZ_CHECK(*caps[i] && !strchr(caps[i], '/'), "capture '%s'", caps[i]);
}

/* Match @path again in table @policy and check it is route @idx with the same captures. */
static void
rematch(bool policy, const char *path, long idx, const char *const want[API_MAX_CAPS])
{
	char scratch[2048];
	const char *caps[API_MAX_CAPS];
	long j = api_route_find(policy, path, scratch, sizeof(scratch), caps);
	size_t i;

	FUZZ_CHECK(j == idx, "re-rendered %s matches route %ld, not %ld", path, j, idx);
	for (i = 0; i < API_MAX_CAPS; i++)
		FUZZ_CHECK((!caps[i] && !want[i]) ||
			   (caps[i] && want[i] && !strcmp(caps[i], want[i])),
			   "re-rendered %s: capture %zu is %s, was %s", path, i,
			   caps[i] ? caps[i] : "-", want[i] ? want[i] : "-");
}

/*
 * The segment of @url right after @marker ("/orgs/", "/sddcs/") is @id, as the URL spells it;
 * returns where that segment ends, to look for the next marker from there (an org may be
 * called "sddcs").
 */
static const char *
check_id(const char *url, const char *marker, const char *id)
{
	const char *p = strstr(url, marker);
	size_t n;

	FUZZ_CHECK(p, "no %s in %s", marker, url);
	p += strlen(marker);
	n = strcspn(p, "/");
	FUZZ_CHECK(strlen(id) == n && !strncmp(id, p, n),
		   "captured id '%s' is not the URL's segment '%.*s'", id, (int)n, p);
	return p + n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *url = fuzz_strndup(data, size);
	char path[2048], again[2048], org[128], sddc[128], o2[128], s2[128], scratch[2048];
	char full[2200], rendered[2048];
	const char *caps[API_MAX_CAPS], *keep[API_MAX_CAPS];
	char capbuf[API_MAX_CAPS][2048];
	bool policy;
	long idx;
	size_t i;

	policy = api_normalize(url, path, sizeof(path), org, sddc, sizeof(org));
	if (policy) {
		if (org[0] || sddc[0]) {
			check_id(check_id(url, "/orgs/", org), "/sddcs/", sddc);
		}
		snprintf(full, sizeof(full), "%s%s", API_PREFIX, path);
		FUZZ_CHECK(api_normalize(full, again, sizeof(again), o2, s2, sizeof(o2)),
			   "%s no longer normalises", full);
		FUZZ_CHECK(!strcmp(again, path) && !o2[0] && !s2[0],
			   "normalising is not idempotent: %s -> %s -> %s", url, path, again);
	}
	idx = api_route_find(policy, policy ? path : url, scratch, sizeof(scratch), caps);
	if (idx >= 0) {
		const struct api_route_info *ri = api_route_at((size_t)idx);

		FUZZ_CHECK(ri && (!strcmp(ri->prefix, API_PREFIX)) == policy, "route %ld", idx);
		check_caps(caps);
		for (i = 0; i < API_MAX_CAPS; i++) {
			keep[i] = NULL;
			if (caps[i]) {
				snprintf(capbuf[i], sizeof(capbuf[i]), "%s", caps[i]);
				keep[i] = capbuf[i];
			}
		}
		if (render(ri->pattern, keep, rendered, sizeof(rendered))) {
			rematch(policy, rendered, idx, keep);
			if (policy) {
				/* the same path under every URL form a client may use */
				static const char *const forms[] = { API_PREFIX, RP API_PREFIX,
								     RP "/sks-nsxt-manager" API_PREFIX };

				for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
					snprintf(full, sizeof(full), "%s%s/", forms[i], rendered);
					if (strlen(full) + 1 >= sizeof(full) ||
					    !api_normalize(full, again, sizeof(again), o2, s2,
							   sizeof(o2)))
						continue;
					rematch(true, again, idx, keep);
				}
			}
		}
	}
	free(url);
	return 0;
}
