/*
 * schema_int.h - what the engine (schema.c) and the hand-written tables (types.c) share.
 * Not for use outside src/schema/.
 */
#ifndef VPND_SCHEMA_INT_H
#define VPND_SCHEMA_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/netaddr.h"
#include "schema/schema.h"
#include "schema/spec_gen.h"

/* Value formats a string (or each string of a list) must have. */
enum schema_fmt {
	FMT_NONE,
	FMT_IP,			/* IPv4 or IPv6 address */
	FMT_IPV4,		/* IPv4 address */
	FMT_CIDR,		/* a.b.c.d/n or x::/n */
	FMT_CIDR_OR_ANY,	/* CIDR or the literal "ANY" */
	FMT_ASN,		/* 1..4294967295 in ASPLAIN, or ASDOT "X.Y" */
	FMT_PATH,		/* reference: policy path "<prefix><id>" (id non-empty, no '/') */
};

#define C_REQUIRED	0x01	/* must be present after defaults */
#define C_SECRET	0x02	/* write-only: never rendered, never in messages */
#define C_RANGE		0x04	/* integer min/max below are valid */

/*
 * One hand-written constraint, joined with the generated field of the same name. Zero means
 * "no limit" for the length and item counts (use min_len = 1 for non-empty strings).
 */
struct schema_constraint {
	const char *field;
	unsigned flags;
	const char *defval;		/* default, as JSON text, or NULL */
	int64_t min, max;		/* integer range (C_RANGE) */
	size_t min_len, max_len;	/* string length in characters (also each list item) */
	size_t min_items, max_items;	/* list size */
	enum schema_fmt fmt;
	const char *prefix;		/* FMT_PATH: the collection the target lives in */
	const char *const *vmc_enum;	/* seed's VMC values (strict mode), subset of the spec's */
};

/* Validation context: the error sink and the JSON location of the object being checked. */
struct vctx {
	struct vpn_error *err;
	enum vpn_err first;		/* code of the first violation */
	unsigned nviol;
	size_t loclen;
	char loc[256];
};

/* Per-type rules: the constraint tables plus hooks for what tables cannot say. */
struct schema_rules {
	const char *type;
	const struct schema_constraint *base;	/* shared table (e.g. both session kinds), or NULL */
	size_t nbase;
	const struct schema_constraint *cons;
	size_t ncons;
	const char *const *order;	/* render order of the type's own fields (NULL-terminated) */
	/* Conditional defaults; runs after the table defaults, before required/range checks. */
	void (*fill)(struct vctx *v, json_t *obj);
	/* Cross-field rules; runs last. Fields of the wrong kind were already reported. */
	void (*check)(struct vctx *v, json_t *obj);
};

extern const struct schema_rules schema_rules_table[];
extern const size_t schema_nrules;
/* Applied to every type that has the field, unless the type's own table names it too. */
extern const struct schema_constraint schema_common_cons[];
extern const size_t schema_ncommon_cons;

/* Engine services for the hooks in types.c. */
void vx_violation(struct vctx *v, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
size_t vx_push(struct vctx *v, const char *name);
size_t vx_push_idx(struct vctx *v, size_t idx);
void vx_pop(struct vctx *v, size_t saved);

bool schema_strict_vmc(void);
/* True when @a (IPv4) lies in a reserved tunnel-interface range; fills @range (>= 48 bytes). */
bool schema_vti_reserved(const struct netprefix *p, char *range, size_t rangelen);
/* ASN in ASPLAIN ("65006") or ASDOT ("1.10"), value 1..4294967295. */
bool schema_asn_valid(const char *s);

/* Typed peeks: NULL / false when absent or of another kind. */
const char *jget_str(const json_t *obj, const char *key);
bool jget_int(const json_t *obj, const char *key, int64_t *out);
bool jget_bool(const json_t *obj, const char *key, bool *out);
json_t *jget_arr(const json_t *obj, const char *key);
bool jarr_has_str(const json_t *arr, const char *s);

#endif
