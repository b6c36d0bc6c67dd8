/*
 * schema.c - the one engine over the joined descriptor tables: strip, validate/normalise,
 * render, references. See schema.h for the contract and docs/schema.md for the rules.
 *
 * Validation runs two passes over the object tree:
 *   1. shape: unknown properties, null = absent, JSON kinds with Jackson-like scalar coercion.
 *      Violations here are VPN_E_BAD_JSON / error_code 287, as NSX's deserialiser reports them.
 *   2. semantics: defaults, required fields, enums, ranges, lengths, list sizes, formats, then
 *      the type's cross-field rules. Values left with the wrong kind by pass 1 are skipped.
 * Every violation of both passes is collected; the first one sets the main error.
 */
#include "schema/schema_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/netaddr.h"
#include "core/util.h"

struct schema_field {
	const struct spec_field *spec;
	const struct schema_constraint *con;	/* NULL: no hand-written constraint */
	const struct schema_type *nested;	/* resolved spec->type */
	json_t *defval;				/* parsed con->defval */
	bool own_con;				/* con comes from the type's own tables */
	bool common;				/* a PolicyConfigResource field */
	bool server;				/* server-managed: stripped on input */
};

struct schema_type {
	const char *name;
	const struct spec_type *spec;
	const struct schema_rules *rules;
	struct schema_field *fields;
	size_t nfields;
	size_t *order;			/* render order: indexes into fields */
	size_t norder;
};

/* Server-set common fields, in the order real NSX responses use (docs/api.md). */
static const char *const common_order[] = {
	"resource_type", "id", "display_name", "description", "tags", "path", "relative_path",
	"parent_path", "unique_id", "realization_id", "marked_for_delete", "overridden",
	"_create_time", "_create_user", "_last_modified_time", "_last_modified_user",
	"_system_owned", "_protection", "_revision", NULL
};

/* Fields the server owns or ignores on input (besides the spec's read-only ones). */
static const char *const server_managed[] = {
	"_revision", "_create_time", "_create_user", "_last_modified_time", "_last_modified_user",
	"_protection", "_system_owned", "_links", "_schema", "_self", "path", "parent_path",
	"relative_path", "unique_id", "realization_id", "marked_for_delete", "overridden",
	"remote_path", "owner_id", "origin_site_id",
	"site_overrides",	/* Global Manager only: ignored on a local manager, as NSX does */
	NULL
};

/* Accepted on input for the hierarchical API layer, never rendered. */
#define FIELD_CHILDREN "children"

static struct schema_type *types;
static size_t ntypes;
static bool strict_vmc = true;

/* ---- reserved tunnel-interface ranges (docs/schema.md lists the source of each) ---- */

static const char *const vti_builtin[] = {
	"169.254.0.0/19",	/* VMC SDDC internal link-local use (VMC docs, recalled) */
	"169.254.101.0/30",	/* VMC reserved (VMC docs, recalled) */
	"169.254.169.254/32",	/* AWS instance metadata service */
};

#define VTI_MAX 64

static struct {
	struct netprefix p;
	char text[48];
} vti[VTI_MAX];
static size_t nvti;
static bool vti_loaded;

static bool
in_list(const char *const *list, const char *s)
{
	for (; list && *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

/* ---- violations and locations ---- */

static void
vx_add(struct vctx *v, enum vpn_err code, int nsx_code, const char *field, const char *fmt,
       va_list ap)
{
	char msg[VPN_ERR_MSG_MAX];
	const char *sep = v->loclen && field ? "." : "";

	vsnprintf(msg, sizeof(msg), fmt, ap);
	v->nviol++;
	if (v->first == VPN_OK)
		v->first = code;
	if (code == VPN_E_BAD_JSON)
		vpn_error_add(v->err, code, nsx_code, "Json de-serialization error: %s", msg);
	else if (!v->loclen && !field)
		vpn_error_add(v->err, code, nsx_code, "%s", msg);
	else
		vpn_error_add(v->err, code, nsx_code, "%s%s%s: %s", v->loc, sep,
			      field ? field : "", msg);
}

void
vx_violation(struct vctx *v, const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vx_add(v, VPN_E_INVALID, 0, field, fmt, ap);
	va_end(ap);
}

/* A deserialisation violation; @fmt names the location itself (NSX's wording). */
static void __attribute__((format(printf, 2, 3)))
vx_bad_json(struct vctx *v, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vx_add(v, VPN_E_BAD_JSON, NSX_EC_DESERIALIZE, NULL, fmt, ap);
	va_end(ap);
}

/*
 * Append @n bytes of @s to the location, truncated as snprintf would (the location stays a
 * NUL-terminated prefix). No printf: this runs for every field of every validated or
 * reference-walked object (vsnprintf was 8% of a PATCH's instructions).
 */
static size_t
vx_append(struct vctx *v, const char *s, size_t n)
{
	size_t saved = v->loclen, room = sizeof(v->loc) - v->loclen;

	if (n >= room)
		n = room - 1;
	memcpy(v->loc + v->loclen, s, n);
	v->loclen += n;
	v->loc[v->loclen] = '\0';
	return saved;
}

size_t
vx_push(struct vctx *v, const char *name)
{
	size_t saved = v->loclen;

	if (saved)
		vx_append(v, ".", 1);
	vx_append(v, name, strlen(name));
	return saved;
}

size_t
vx_push_idx(struct vctx *v, size_t idx)
{
	char tmp[3 * sizeof(size_t) + 3], *p = tmp + sizeof(tmp);

	*--p = ']';
	do {
		*--p = (char)('0' + idx % 10);
		idx /= 10;
	} while (idx);
	*--p = '[';
	return vx_append(v, p, (size_t)(tmp + sizeof(tmp) - p));
}

void
vx_pop(struct vctx *v, size_t saved)
{
	v->loclen = saved;
	v->loc[saved] = '\0';
}

/* ---- descriptor lookups ---- */

const struct schema_type *
schema_type_get(const char *resource_type)
{
	size_t i;

	if (!resource_type)
		return NULL;
	for (i = 0; i < ntypes; i++)
		if (!strcmp(types[i].name, resource_type))
			return &types[i];
	return NULL;
}

const char *
schema_type_name(const struct schema_type *t)
{
	return t ? t->name : NULL;
}

static struct schema_field *
field_mut(const struct schema_type *t, const char *name)
{
	size_t i;

	/* first byte before strcmp: this runs for every key of every object walked (strcmp of
	 * ~30 field names per key was 5% of a PATCH's instructions) */
	for (i = 0; i < t->nfields; i++)
		if (t->fields[i].spec->name[0] == name[0] && !strcmp(t->fields[i].spec->name, name))
			return &t->fields[i];
	return NULL;
}

static const struct schema_field *
field_find(const struct schema_type *t, const char *name)
{
	return field_mut(t, name);
}

bool
schema_field_is_secret(const struct schema_type *t, const char *field)
{
	const struct schema_field *f;

	if (!t || !field)
		return false;
	f = field_find(t, field);
	return f && f->con && (f->con->flags & C_SECRET);
}

/* True when a value of field @f may hold a reference (a path field, or one nested inside). */
static bool
field_has_refs(const struct schema_field *f, unsigned depth)
{
	size_t i;

	if (f->con && f->con->fmt == FMT_PATH)
		return true;
	if (!f->nested || depth > 8)
		return false;
	for (i = 0; i < f->nested->nfields; i++)
		if (field_has_refs(&f->nested->fields[i], depth + 1))
			return true;
	return false;
}

size_t
schema_fields_where(const struct schema_type *t, enum schema_field_kind kind,
		    const char **names, size_t max)
{
	size_t i, n = 0;

	for (i = 0; t && i < t->nfields; i++) {
		const struct schema_field *f = &t->fields[i];
		bool match = kind == SCHEMA_FIELDS_SECRET ? f->con && (f->con->flags & C_SECRET)
							  : field_has_refs(f, 0);

		if (match) {
			if (n < max)
				names[n] = f->spec->name;
			n++;
		}
	}
	return n;
}

bool
schema_strict_vmc(void)
{
	return strict_vmc;
}

void
schema_set_strict_vmc_enums(bool on)
{
	strict_vmc = on;
}

/* ---- kinds ---- */

static const char *
kind_name(enum spec_kind k)
{
	switch (k) {
	case SPEC_STRING: return "string";
	case SPEC_INTEGER: return "integer";
	case SPEC_BOOLEAN: return "boolean";
	case SPEC_OBJECT: return "object";
	case SPEC_LIST: return "array";
	default: return "any";
	}
}

static const char *
json_kind_name(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "object";
	case JSON_ARRAY: return "array";
	case JSON_STRING: return "string";
	case JSON_INTEGER: return "integer";
	case JSON_REAL: return "number";
	case JSON_TRUE:
	case JSON_FALSE: return "boolean";
	default: return "null";
	}
}

static bool
kind_ok(enum spec_kind k, const json_t *j)
{
	switch (k) {
	case SPEC_STRING: return json_is_string(j);
	case SPEC_INTEGER: return json_is_integer(j);
	case SPEC_BOOLEAN: return json_is_boolean(j);
	case SPEC_OBJECT: return json_is_object(j);
	case SPEC_LIST: return json_is_array(j);
	default: return true;
	}
}

enum coerce_rc { CO_OK, CO_ABSENT, CO_BAD };

/*
 * Jackson-like scalar coercion: numeric string -> integer, integral number -> integer,
 * integer/boolean -> string, "true"/"false" -> boolean, "" -> absent for integer/boolean.
 * On CO_OK, *repl is a new value to store instead (or NULL: keep as is).
 */
static enum coerce_rc
coerce(enum spec_kind k, json_t *j, json_t **repl)
{
	const char *s = json_string_value(j);
	int64_t n;
	double d;

	*repl = NULL;
	if (kind_ok(k, j))
		return CO_OK;
	switch (k) {
	case SPEC_STRING:
		if (json_is_integer(j))
			*repl = json_sprintf("%" JSON_INTEGER_FORMAT, json_integer_value(j));
		else if (json_is_boolean(j))
			*repl = json_string(json_is_true(j) ? "true" : "false");
		break;
	case SPEC_INTEGER:
		if (s && !*s)
			return CO_ABSENT;
		if (s && util_parse_i64(s, &n))
			*repl = json_integer((json_int_t)n);
		if (json_is_real(j)) {
			d = json_real_value(j);
			if (d >= -9.0e18 && d <= 9.0e18 && (double)(json_int_t)d == d)
				*repl = json_integer((json_int_t)d);
		}
		break;
	case SPEC_BOOLEAN:
		if (s && !*s)
			return CO_ABSENT;
		if (s && (!strcmp(s, "true") || !strcmp(s, "false")))
			*repl = json_boolean(!strcmp(s, "true"));
		break;
	default:
		break;
	}
	return *repl ? CO_OK : CO_BAD;
}

/* ---- pass 1: shape ---- */

static void shape_object(struct vctx *v, const struct schema_type *t, json_t *obj);

static void
shape_list(struct vctx *v, const struct schema_field *f, json_t *arr)
{
	size_t i, saved;
	json_t *it, *repl;

	json_array_foreach(arr, i, it) {
		saved = vx_push_idx(v, i);
		if (json_is_null(it)) {
			vx_bad_json(v, "%s: null is not allowed as an array item.", v->loc);
		} else if (coerce(f->spec->item, it, &repl) != CO_OK) {
			vx_bad_json(v, "%s: cannot deserialize %s as %s.", v->loc,
				    json_kind_name(it), kind_name(f->spec->item));
		} else {
			if (repl) {
				json_array_set_new(arr, i, repl);
				it = repl;
			}
			if (f->spec->item == SPEC_OBJECT && f->nested)
				shape_object(v, f->nested, it);
		}
		vx_pop(v, saved);
	}
}

static void
shape_object(struct vctx *v, const struct schema_type *t, json_t *obj)
{
	const struct schema_field *f;
	const char *key;
	json_t *val, *repl;
	void *tmp;
	size_t saved;

	json_object_foreach_safe(obj, tmp, key, val) {
		f = field_find(t, key);
		if (!f) {
			vx_bad_json(v, "property %s%s%s is unrecognized.", v->loc,
				    v->loclen ? "." : "", key);
			continue;
		}
		if (json_is_null(val)) {
			json_object_del(obj, key);
			continue;
		}
		saved = vx_push(v, key);
		switch (coerce(f->spec->kind, val, &repl)) {
		case CO_ABSENT:
			json_object_del(obj, key);
			break;
		case CO_BAD:
			vx_bad_json(v, "%s: cannot deserialize %s as %s.", v->loc,
				    json_kind_name(val), kind_name(f->spec->kind));
			break;
		case CO_OK:
			if (repl) {
				json_object_set_new(obj, key, repl);
				val = repl;
			}
			if (f->spec->kind == SPEC_OBJECT && f->nested)
				shape_object(v, f->nested, val);
			else if (f->spec->kind == SPEC_LIST)
				shape_list(v, f, val);
			break;
		}
		vx_pop(v, saved);
	}
}

/* ---- pass 2: semantics ---- */

static size_t
utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	return n;
}

bool
schema_asn_valid(const char *s)
{
	const char *dot = strchr(s, '.'), *p;
	unsigned long long hi = 0, lo = 0;
	size_t nd = 0;

	for (p = s; *p && p != dot; p++, nd++) {
		if (*p < '0' || *p > '9' || nd >= 10)
			return false;
		hi = hi * 10 + (unsigned)(*p - '0');
	}
	if (!nd)
		return false;
	if (!dot)
		return hi >= 1 && hi <= 4294967295ULL;
	if (hi > 65535)
		return false;
	for (p = dot + 1, nd = 0; *p; p++, nd++) {
		if (*p < '0' || *p > '9' || nd >= 5)
			return false;
		lo = lo * 10 + (unsigned)(*p - '0');
	}
	return nd && lo <= 65535 && (hi || lo);
}

static void
enum_list(const char *const *vals, char *out, size_t outlen)
{
	size_t len = 0;
	int n;

	out[0] = '\0';
	for (; vals && *vals && len + 1 < outlen; vals++) {
		n = snprintf(out + len, outlen - len, "%s%s", len ? ", " : "", *vals);
		if (n < 0)
			break;
		len += (size_t)n;
	}
}

static void
check_string(struct vctx *v, const struct schema_field *f, const char *s)
{
	const struct schema_constraint *c = f->con;
	const char *const *allowed = f->spec->enums;
	bool secret = c && (c->flags & C_SECRET);
	const char *shown = secret ? "(secret)" : s;
	struct netaddr a;
	struct netprefix p;
	char list[320];
	size_t n;

	if (c && (c->min_len || c->max_len)) {
		n = utf8_chars(s);
		if (c->min_len == 1 && n < 1)
			vx_violation(v, NULL, "must not be empty");
		else if (c->min_len && n < c->min_len)
			vx_violation(v, NULL, "length %zu is below the minimum %zu", n, c->min_len);
		if (c->max_len && n > c->max_len)
			vx_violation(v, NULL, "length %zu exceeds the maximum %zu", n, c->max_len);
	}
	if (c && c->vmc_enum && strict_vmc)
		allowed = c->vmc_enum;
	if (allowed && !in_list(allowed, s)) {
		enum_list(allowed, list, sizeof(list));
		vx_violation(v, NULL, "value '%.64s' is not one of: %s", shown, list);
	}
	if (!c)
		return;
	switch (c->fmt) {
	case FMT_IP:
		if (!netaddr_parse(s, &a))
			vx_violation(v, NULL, "value '%.64s' is not a valid IP address", shown);
		break;
	case FMT_IPV4:
		if (!netaddr_parse(s, &a) || a.family != 4)
			vx_violation(v, NULL, "value '%.64s' is not a valid IPv4 address", shown);
		break;
	case FMT_CIDR_OR_ANY:
		if (!strcmp(s, "ANY"))
			break;
		/* FALLTHROUGH */
	case FMT_CIDR:
		if (!netprefix_parse(s, &p))
			vx_violation(v, NULL, "value '%.64s' is not a valid CIDR%s", shown,
				     c->fmt == FMT_CIDR_OR_ANY ? " or ANY" : "");
		break;
	case FMT_ASN:
		if (!schema_asn_valid(s))
			vx_violation(v, NULL, "value '%.64s' is not a valid AS number (1-4294967295 "
				     "in ASPLAIN, or ASDOT X.Y)", shown);
		break;
	case FMT_PATH:
		n = strlen(c->prefix);
		if (strncmp(s, c->prefix, n) || !s[n] || strchr(s + n, '/'))
			vx_violation(v, NULL, "value '%.200s' must be a policy path %s<id>", shown,
				     c->prefix);
		break;
	case FMT_NONE:
		break;
	}
}

static void sem_object(struct vctx *v, const struct schema_type *t, json_t *obj);

static void
sem_value(struct vctx *v, const struct schema_field *f, json_t *val)
{
	const struct schema_constraint *c = f->con;
	json_int_t n;
	json_t *it;
	size_t i, cnt, saved;

	if (!kind_ok(f->spec->kind, val))
		return;		/* reported by the shape pass */
	switch (f->spec->kind) {
	case SPEC_STRING:
		check_string(v, f, json_string_value(val));
		break;
	case SPEC_INTEGER:
		n = json_integer_value(val);
		if (c && (c->flags & C_RANGE) && (n < c->min || n > c->max))
			vx_violation(v, NULL, "value %lld is out of range [%lld, %lld]",
				     (long long)n, (long long)c->min, (long long)c->max);
		break;
	case SPEC_OBJECT:
		if (f->nested)
			sem_object(v, f->nested, val);
		break;
	case SPEC_LIST:
		cnt = json_array_size(val);
		if (c && c->min_items && cnt < c->min_items)
			vx_violation(v, NULL, "needs at least %zu item%s, has %zu", c->min_items,
				     c->min_items == 1 ? "" : "s", cnt);
		if (c && c->max_items && cnt > c->max_items)
			vx_violation(v, NULL, "has %zu items, at most %zu allowed", cnt,
				     c->max_items);
		json_array_foreach(val, i, it) {
			if (!kind_ok(f->spec->item, it))
				continue;
			saved = vx_push_idx(v, i);
			if (f->spec->item == SPEC_STRING)
				check_string(v, f, json_string_value(it));
			else if (f->spec->item == SPEC_OBJECT && f->nested)
				sem_object(v, f->nested, it);
			vx_pop(v, saved);
		}
		break;
	default:
		break;
	}
}

static void
sem_object(struct vctx *v, const struct schema_type *t, json_t *obj)
{
	const struct schema_field *f;
	const char *key, *rt;
	json_t *val, *id;
	size_t i, saved;

	for (i = 0; i < t->nfields; i++) {
		f = &t->fields[i];
		if (f->defval && !json_object_get(obj, f->spec->name))
			json_object_set_new(obj, f->spec->name, json_deep_copy(f->defval));
	}
	if (t->rules && t->rules->fill)
		t->rules->fill(v, obj);
	/* "display_name: Defaults to ID if not set" */
	id = json_object_get(obj, "id");
	if (field_find(t, "display_name") && json_is_string(id) &&
	    !json_object_get(obj, "display_name"))
		json_object_set_new(obj, "display_name", json_deep_copy(id));
	if (field_find(t, "resource_type")) {
		rt = jget_str(obj, "resource_type");
		if (!json_object_get(obj, "resource_type"))
			json_object_set_new(obj, "resource_type", json_string(t->name));
		else if (rt && strcmp(rt, t->name))
			vx_violation(v, "resource_type", "value '%.64s' does not match type %s", rt,
				     t->name);
	}
	for (i = 0; i < t->nfields; i++) {
		f = &t->fields[i];
		if (f->con && (f->con->flags & C_REQUIRED) && !json_object_get(obj, f->spec->name))
			vx_violation(v, f->spec->name, "is required");
	}
	json_object_foreach(obj, key, val) {
		f = field_find(t, key);
		if (!f)
			continue;	/* reported by the shape pass */
		saved = vx_push(v, key);
		sem_value(v, f, val);
		vx_pop(v, saved);
	}
	if (t->rules && t->rules->check)
		t->rules->check(v, obj);
}

enum vpn_err
schema_validate(const struct schema_type *t, json_t *obj, struct vpn_error *err)
{
	struct vctx v;

	memset(&v, 0, sizeof(v));
	v.err = err;
	if (!t)
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "schema_validate: no type");
	if (!json_is_object(obj)) {
		vx_bad_json(&v, "the body must be a JSON object.");
		return v.first;
	}
	shape_object(&v, t, obj);
	sem_object(&v, t, obj);
	return v.first;
}

/* ---- strip ---- */

void
schema_strip_readonly(const struct schema_type *t, json_t *obj)
{
	const struct schema_field *f;
	const char *key;
	json_t *val, *it;
	void *tmp;
	size_t i;

	if (!t || !json_is_object(obj))
		return;
	json_object_foreach_safe(obj, tmp, key, val) {
		f = field_find(t, key);
		if (!f)
			continue;	/* schema_validate reports it */
		if (f->spec->readonly || f->server) {
			json_object_del(obj, key);
			continue;
		}
		if (!f->nested)
			continue;
		if (f->spec->kind == SPEC_OBJECT)
			schema_strip_readonly(f->nested, val);
		else if (f->spec->kind == SPEC_LIST)
			json_array_foreach(val, i, it)
				schema_strip_readonly(f->nested, it);
	}
}

/* ---- render ---- */

static json_t *
render_value(const struct schema_field *f, const json_t *val, unsigned flags)
{
	json_t *out, *r, *it;
	size_t i;

	if (f->nested && f->spec->kind == SPEC_OBJECT && json_is_object(val))
		return schema_render(f->nested, val, flags);
	if (!f->nested || f->spec->kind != SPEC_LIST || !json_is_array(val))
		return json_deep_copy(val);
	out = json_array();
	if (!out)
		return NULL;
	json_array_foreach(val, i, it) {
		r = json_is_object(it) ? schema_render(f->nested, it, flags) : json_deep_copy(it);
		if (!r || json_array_append_new(out, r)) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

json_t *
schema_render(const struct schema_type *t, const json_t *obj, unsigned flags)
{
	const struct schema_field *f;
	json_t *out, *val, *r;
	size_t i;

	if (!t || !json_is_object(obj))
		return json_deep_copy(obj);
	out = json_object();
	if (!out)
		return NULL;
	for (i = 0; i < t->norder; i++) {
		f = &t->fields[t->order[i]];
		val = json_object_get(obj, f->spec->name);
		if (!val)
			continue;
		if (f->con && (f->con->flags & C_SECRET) && !(flags & SCHEMA_RENDER_SECRETS))
			continue;
		r = render_value(f, val, flags);
		if (!r || json_object_set_new(out, f->spec->name, r)) {
			json_decref(out);
			return NULL;
		}
	}
	return out;
}

/* ---- references ---- */

static enum vpn_err
refs_object(struct vctx *v, const struct schema_type *t, const json_t *obj, schema_ref_cb cb,
	    void *arg)
{
	const struct schema_field *f;
	enum vpn_err rc = VPN_OK;
	json_t *val, *it;
	size_t i, j, saved, saved2;

	for (i = 0; i < t->nfields && !rc; i++) {
		f = &t->fields[i];
		val = json_object_get(obj, f->spec->name);
		if (!val)
			continue;
		saved = vx_push(v, f->spec->name);
		if (f->con && f->con->fmt == FMT_PATH) {
			if (json_is_string(val))
				rc = cb(arg, v->loc, json_string_value(val), f->con->prefix);
			json_array_foreach(val, j, it) {
				if (rc || !json_is_string(it))
					continue;
				saved2 = vx_push_idx(v, j);
				rc = cb(arg, v->loc, json_string_value(it), f->con->prefix);
				vx_pop(v, saved2);
			}
		} else if (f->nested && json_is_object(val)) {
			rc = refs_object(v, f->nested, val, cb, arg);
		} else if (f->nested && json_is_array(val)) {
			json_array_foreach(val, j, it) {
				if (rc || !json_is_object(it))
					continue;
				saved2 = vx_push_idx(v, j);
				rc = refs_object(v, f->nested, it, cb, arg);
				vx_pop(v, saved2);
			}
		}
		vx_pop(v, saved);
	}
	return rc;
}

enum vpn_err
schema_refs(const struct schema_type *t, const json_t *obj, schema_ref_cb cb, void *arg)
{
	struct vctx v;

	if (!t || !cb || !json_is_object(obj))
		return VPN_OK;
	memset(&v, 0, sizeof(v));
	return refs_object(&v, t, obj, cb, arg);
}

/* ---- reserved VTI ranges ---- */

static enum vpn_err
vti_parse(const char *const *items, size_t nitems, struct vpn_error *err)
{
	struct netprefix tmp[VTI_MAX];
	size_t i;

	if (nitems > VTI_MAX)
		return vpn_error_set(err, VPN_E_INVALID, 0, "too many reserved VTI ranges (max %d)",
				     VTI_MAX);
	for (i = 0; i < nitems; i++)
		if (!netprefix_parse(items[i], &tmp[i]) || tmp[i].addr.family != 4 ||
		    strlen(items[i]) >= sizeof(vti[0].text))
			return vpn_error_set(err, VPN_E_INVALID, 0,
					     "reserved VTI range '%.64s' is not an IPv4 CIDR",
					     items[i]);
	for (i = 0; i < nitems; i++) {
		vti[i].p = tmp[i];
		snprintf(vti[i].text, sizeof(vti[i].text), "%s", items[i]);
	}
	nvti = nitems;
	vti_loaded = true;
	return VPN_OK;
}

enum vpn_err
schema_set_reserved_vti(const char *csv, struct vpn_error *err)
{
	const char *items[VTI_MAX + 1];
	char *copy = NULL, *p, *start, *end;
	size_t n = 0;
	enum vpn_err rc;

	if (!csv)
		return vti_parse(vti_builtin, sizeof(vti_builtin) / sizeof(vti_builtin[0]), err);
	copy = util_strndup(csv, strlen(csv));
	if (!copy)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	for (p = copy; ; p = end + 1) {
		end = strchr(p, ',');
		if (end)
			*end = '\0';
		for (start = p; *start == ' ' || *start == '\t'; start++)
			;
		for (size_t l = strlen(start); l && (start[l - 1] == ' ' || start[l - 1] == '\t'); l--)
			start[l - 1] = '\0';
		if (*start) {
			if (n > VTI_MAX) {
				rc = vpn_error_set(err, VPN_E_INVALID, 0,
						   "too many reserved VTI ranges (max %d)", VTI_MAX);
				goto out;
			}
			items[n++] = start;
		}
		if (!end)
			break;
	}
	rc = vti_parse(items, n, err);
out:
	free(copy);
	return rc;
}

bool
schema_vti_reserved(const struct netprefix *p, char *range, size_t rangelen)
{
	size_t i;

	if (!vti_loaded)
		vti_parse(vti_builtin, sizeof(vti_builtin) / sizeof(vti_builtin[0]), NULL);
	for (i = 0; i < nvti; i++) {
		if (netprefix_overlaps(&vti[i].p, p)) {
			snprintf(range, rangelen, "%s", vti[i].text);
			return true;
		}
	}
	return false;
}

/* ---- init: join the generated fields with the hand-written tables ---- */

static void
types_free(struct schema_type *ts, size_t n)
{
	size_t i, j;

	for (i = 0; ts && i < n; i++) {
		for (j = 0; ts[i].fields && j < ts[i].nfields; j++)
			json_decref(ts[i].fields[j].defval);
		free(ts[i].fields);
		free(ts[i].order);
	}
	free(ts);
}

static struct schema_type *
find_in(struct schema_type *ts, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(ts[i].name, name))
			return &ts[i];
	return NULL;
}

static enum vpn_err
attach(struct schema_type *t, const struct schema_constraint *c, bool own, struct vpn_error *err)
{
	struct schema_field *f = field_mut(t, c->field);
	const struct spec_field *sf;
	json_error_t jerr;
	const char *const *e;

	if (!f)
		return vpn_error_set(err, VPN_E_INTERNAL, 0,
				     "schema: constraint %s.%s names a field the spec does not have",
				     t->name, c->field);
	if (!own && f->con)
		return VPN_OK;		/* the type's own row wins over a common one */
	if (f->own_con)
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "schema: %s.%s constrained twice",
				     t->name, c->field);
	sf = f->spec;
	if ((c->flags & C_RANGE) && sf->kind != SPEC_INTEGER)
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "schema: %s.%s: range on a non-integer",
				     t->name, c->field);
	if ((c->min_items || c->max_items) && sf->kind != SPEC_LIST)
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "schema: %s.%s: item count on a non-list",
				     t->name, c->field);
	if ((c->fmt != FMT_NONE || c->max_len || c->min_len) && sf->kind != SPEC_STRING &&
	    !(sf->kind == SPEC_LIST && sf->item == SPEC_STRING))
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "schema: %s.%s: string rule on a %s",
				     t->name, c->field, kind_name(sf->kind));
	if (c->fmt == FMT_PATH && !c->prefix)
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "schema: %s.%s: reference without prefix",
				     t->name, c->field);
	for (e = c->vmc_enum; e && *e; e++)
		if (!in_list(sf->enums, *e))
			return vpn_error_set(err, VPN_E_INTERNAL, 0,
					     "schema: %s.%s: VMC value %s is not in the spec's enum",
					     t->name, c->field, *e);
	if (c->defval) {
		f->defval = json_loads(c->defval, JSON_DECODE_ANY, &jerr);
		if (!f->defval || !kind_ok(sf->kind, f->defval))
			return vpn_error_set(err, VPN_E_INTERNAL, 0, "schema: %s.%s: bad default %s",
					     t->name, c->field, c->defval);
	}
	f->con = c;
	f->own_con = own;
	return VPN_OK;
}

static enum vpn_err
build_order(struct schema_type *t, struct vpn_error *err)
{
	const char *const *o = t->rules ? t->rules->order : NULL;
	bool *used;
	size_t i, n = 0;
	enum vpn_err rc = VPN_OK;
	const struct schema_field *f;

	used = calloc(t->nfields ? t->nfields : 1, sizeof(*used));
	t->order = calloc(t->nfields ? t->nfields : 1, sizeof(*t->order));
	if (!used || !t->order) {
		rc = vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
		goto out;
	}
	/* 1. the type's own fields in the table's order */
	for (; o && *o; o++) {
		f = field_find(t, *o);
		if (!f || f->common || used[f - t->fields]) {
			rc = vpn_error_set(err, VPN_E_INTERNAL, 0,
					   "schema: %s render order names %s (unknown, common or twice)",
					   t->name, *o);
			goto out;
		}
		used[f - t->fields] = true;
		t->order[n++] = (size_t)(f - t->fields);
	}
	/* 2. the remaining own fields in spec order */
	for (i = 0; i < t->nfields; i++) {
		if (used[i] || t->fields[i].common)
			continue;
		used[i] = true;
		t->order[n++] = i;
	}
	/* 3. the common fields in NSX's order, 4. any other common field (never children) */
	for (o = common_order; *o; o++) {
		f = field_find(t, *o);
		if (f && !used[f - t->fields]) {
			used[f - t->fields] = true;
			t->order[n++] = (size_t)(f - t->fields);
		}
	}
	for (i = 0; i < t->nfields; i++) {
		if (used[i] || !strcmp(t->fields[i].spec->name, FIELD_CHILDREN))
			continue;
		t->order[n++] = i;
	}
	t->norder = n;
out:
	free(used);
	return rc;
}

static bool
is_common(const char *name)
{
	return in_list(common_order, name) || in_list(server_managed, name) ||
	       !strcmp(name, FIELD_CHILDREN);
}

enum vpn_err
schema_init(struct vpn_error *err)
{
	struct schema_type *ts = NULL, *t;
	const struct schema_rules *r;
	size_t i, j, n = spec_ntypes;
	enum vpn_err rc = VPN_OK;

	if (types)
		return VPN_OK;
	ts = calloc(n, sizeof(*ts));
	if (!ts)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	for (i = 0; i < n; i++) {
		t = &ts[i];
		t->name = spec_types[i].name;
		t->spec = &spec_types[i];
		t->nfields = spec_types[i].nfields;
		t->fields = calloc(t->nfields ? t->nfields : 1, sizeof(*t->fields));
		if (!t->fields) {
			rc = vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
			goto out;
		}
		for (j = 0; j < t->nfields; j++) {
			t->fields[j].spec = &spec_types[i].fields[j];
			t->fields[j].common = is_common(t->fields[j].spec->name);
			t->fields[j].server = in_list(server_managed, t->fields[j].spec->name);
		}
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < ts[i].nfields; j++) {
			const char *tn = ts[i].fields[j].spec->type;

			if (!tn)
				continue;
			ts[i].fields[j].nested = find_in(ts, n, tn);
			if (!ts[i].fields[j].nested) {
				rc = vpn_error_set(err, VPN_E_INTERNAL, 0,
						   "schema: %s.%s: nested type %s not generated",
						   ts[i].name, ts[i].fields[j].spec->name, tn);
				goto out;
			}
		}
	}
	for (i = 0; i < schema_nrules; i++) {
		r = &schema_rules_table[i];
		t = find_in(ts, n, r->type);
		if (!t) {
			rc = vpn_error_set(err, VPN_E_INTERNAL, 0,
					   "schema: rules for %s, a type the spec does not have",
					   r->type);
			goto out;
		}
		if (t->rules) {
			rc = vpn_error_set(err, VPN_E_INTERNAL, 0, "schema: two rule sets for %s",
					   r->type);
			goto out;
		}
		t->rules = r;
		for (j = 0; j < r->nbase && !rc; j++)
			rc = attach(t, &r->base[j], true, err);
		for (j = 0; j < r->ncons && !rc; j++)
			rc = attach(t, &r->cons[j], true, err);
		if (rc)
			goto out;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < schema_ncommon_cons && !rc; j++)
			if (field_find(&ts[i], schema_common_cons[j].field))
				rc = attach(&ts[i], &schema_common_cons[j], false, err);
		if (!rc)
			rc = build_order(&ts[i], err);
		if (rc)
			goto out;
	}
	types = ts;
	ntypes = n;
	ts = NULL;
out:
	types_free(ts, n);
	return rc;
}

void
schema_fini(void)
{
	types_free(types, ntypes);
	types = NULL;
	ntypes = 0;
}
