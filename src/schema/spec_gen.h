/*
 * spec_gen.h - the structures tools/gen_spec.py emits into spec_gen.c.
 *
 * One spec_type per NSX type vpnd needs (the closure of the config types), fields in spec order.
 * Read-only: schema.c joins these with the hand-written constraints of types.c at schema_init().
 */
#ifndef VPND_SPEC_GEN_H
#define VPND_SPEC_GEN_H

#include <stdbool.h>
#include <stddef.h>

enum spec_kind {
	SPEC_NONE,		/* no item kind (field is not a list) */
	SPEC_STRING,
	SPEC_INTEGER,
	SPEC_BOOLEAN,
	SPEC_OBJECT,		/* object of type spec_field.type */
	SPEC_LIST,		/* list of spec_field.item (objects of spec_field.type) */
	SPEC_ANY,		/* any JSON (polymorphic or undescribed) */
};

struct spec_field {
	const char *name;
	enum spec_kind kind;
	enum spec_kind item;		/* SPEC_LIST only */
	const char *type;		/* nested type name for SPEC_OBJECT / list of SPEC_OBJECT */
	bool readonly;			/* the server ignores it on input */
	const char *const *enums;	/* NULL-terminated allowed values, or NULL */
};

struct spec_type {
	const char *name;
	bool extra;			/* hand-written in tools/extra-types.json, not from the spec */
	const struct spec_field *fields;
	size_t nfields;
};

extern const struct spec_type spec_types[];
extern const size_t spec_ntypes;

#endif
