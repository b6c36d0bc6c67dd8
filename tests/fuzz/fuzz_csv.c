/*
 * fuzz_csv: the CSV writer of the BGP route tables (view_routes_csv, src/api/views.c).
 *
 * The input builds the neighbor's fields (address, id, tier-0 id, source address, edge id)
 * and up to 32 routes (address bytes, length, next hop, AS path, MED, local pref, weight); the
 * strings may hold anything but NUL (commas, quotes, CR, LF, UTF-8 or not). Invariants: the
 * output is well-formed RFC 4180 CSV - CRLF-terminated records, the header first, then one
 * record of 11 fields per route - and parsing it gives back exactly the values written.
 */
#include <inttypes.h>
#include <string.h>

#include "api/views.h"
#include "core/netaddr.h"
#include "fuzz.h"

#define NCOLS 11
#define MAX_ROUTES 32

static const char *const header[NCOLS] = {
	"as_path", "local_pref", "logical_router_id", "med", "neighbor_address", "neighbor_id",
	"network", "next_hop", "source_address", "transport_node_id", "weight",
};

/* A strict RFC 4180 reader: the next field into @out (heap); sets *eol at the record's end. */
static char *
next_field(const char **pp, const char *end, bool *eol)
{
	const char *p = *pp;
	size_t cap = (size_t)(end - p) + 1, o = 0;
	char *out = malloc(cap);

	FUZZ_CHECK(out, "malloc");
	if (p < end && *p == '"') {
		p++;
		for (;;) {
			FUZZ_CHECK(p < end, "unterminated quoted field");
			if (*p == '"') {
				if (p + 1 < end && p[1] == '"') {
					out[o++] = '"';
					p += 2;
					continue;
				}
				p++;
				break;
			}
			out[o++] = *p++;
		}
	} else {
		while (p < end && *p != ',' && *p != '\r') {
			FUZZ_CHECK(*p != '"' && *p != '\n', "bare quote or LF in an unquoted field");
			out[o++] = *p++;
		}
	}
	FUZZ_CHECK(p < end, "record not terminated");
	if (*p == ',') {
		*eol = false;
		p++;
	} else {
		FUZZ_CHECK(*p == '\r' && p + 1 < end && p[1] == '\n',
			   "field not followed by , or CRLF");
		*eol = true;
		p += 2;
	}
	out[o] = '\0';
	*pp = p;
	return out;
}

static void
expect_record(const char **pp, const char *end, const char *const want[NCOLS], size_t rec)
{
	size_t i;
	bool eol = false;

	for (i = 0; i < NCOLS; i++) {
		char *f;

		FUZZ_CHECK(!eol, "record %zu has %zu fields, not %d", rec, i, NCOLS);
		f = next_field(pp, end, &eol);
		FUZZ_CHECK(!strcmp(f, want[i]), "record %zu field %s: wrote '%s', read '%s'", rec,
			   header[i], want[i], f);
		free(f);
	}
	FUZZ_CHECK(eol, "record %zu has more than %d fields", rec, NCOLS);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	char *nbr = fuzz_take_str(&in, 80), *nid = fuzz_take_str(&in, 300);
	char *t0 = fuzz_take_str(&in, 40), *src = fuzz_take_str(&in, 80);
	char *edge = fuzz_take_str(&in, 40);
	const char *edges[2] = { edge, "standby" };
	struct rz_route r[MAX_ROUTES];
	size_t n = 0, i, len = 0;
	char *csv;

	memset(r, 0, sizeof(r));
	while (n < MAX_ROUTES && in.n) {
		uint8_t f = fuzz_u8(&in);
		char *s;
		unsigned k;

		r[n].net.addr.family = f & 1 ? 6 : 4;
		for (k = 0; k < (f & 1 ? 16u : 4u); k++)
			r[n].net.addr.bytes[k] = fuzz_u8(&in);
		r[n].net.len = (uint8_t)(fuzz_u8(&in) % (netaddr_bits(&r[n].net.addr) + 1));
		s = fuzz_take_str(&in, sizeof(r[n].next_hop) - 1);
		memcpy(r[n].next_hop, s, strlen(s) + 1);
		free(s);
		s = fuzz_take_str(&in, sizeof(r[n].as_path) - 1);
		memcpy(r[n].as_path, s, strlen(s) + 1);
		free(s);
		r[n].med = (int64_t)fuzz_u64(&in);
		r[n].local_pref = (int64_t)fuzz_u64(&in);
		r[n].weight = (int64_t)fuzz_u64(&in);
		n++;
	}
	csv = view_routes_csv(nbr, nid, t0, edges, 2, src, r, n, &len);
	FUZZ_CHECK(csv, "view_routes_csv");
	FUZZ_CHECK(strlen(csv) == len, "length %zu, text %zu", len, strlen(csv));
	{
		const char *p = csv, *end = csv + len;

		expect_record(&p, end, header, 0);
		for (i = 0; i < n; i++) {
			char a[64], net[80], lp[24], med[24], w[24];
			const char *want[NCOLS];

			netaddr_format(&r[i].net.addr, a, sizeof(a));
			snprintf(net, sizeof(net), "%s/%u", a, r[i].net.len);
			snprintf(lp, sizeof(lp), "%" PRId64, r[i].local_pref);
			snprintf(med, sizeof(med), "%" PRId64, r[i].med);
			snprintf(w, sizeof(w), "%" PRId64, r[i].weight);
			want[0] = r[i].as_path;
			want[1] = lp;
			want[2] = t0;
			want[3] = med;
			want[4] = nbr;
			want[5] = nid;
			want[6] = net;
			want[7] = r[i].next_hop;
			want[8] = src;
			want[9] = edge;
			want[10] = w;
			expect_record(&p, end, want, i + 1);
		}
		FUZZ_CHECK(p == end, "%zu bytes after the last record", (size_t)(end - p));
	}
	free(csv);
	free(nbr);
	free(nid);
	free(t0);
	free(src);
	free(edge);
	return 0;
}
