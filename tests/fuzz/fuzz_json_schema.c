/*
 * fuzz_json_schema: request body -> JSON -> schema (src/schema/: strip, validate, render,
 * references) and the NSX error body (src/core/err.c).
 *
 * Input: "<resource_type>\n<JSON body>", e.g. "IPSecVpnIkeProfile\n{...}". Invariants:
 *   - a body that validates renders canonically: the rendering (secrets included, as stored)
 *     validates again and renders to the identical text (a fixed point);
 *   - the rendering without secrets has no secret field;
 *   - every reference of a valid object names a path under the prefix its field requires;
 *   - a refused body yields an error whose NSX JSON parses, has httpStatus and error_code, and
 *     never contains the value of a secret field (psk, password) the body carried.
 */
#include <jansson.h>
#include <string.h>

#include "fuzz.h"
#include "schema/schema.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_schema_init();
	return 0;
}

static enum vpn_err
ref_cb(void *arg, const char *where, const char *target, const char *prefix)
{
	(void)arg;
	FUZZ_CHECK(!strncmp(target, prefix, strlen(prefix)) && target[strlen(prefix)],
		   "%s: reference %s is not under %s", where, target, prefix);
	return VPN_OK;
}

static char *
dump(const json_t *v)
{
	char *s = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY);

	FUZZ_CHECK(s, "json_dumps failed");
	return s;
}

/* Number of times @needle occurs in @hay. */
static size_t
occurrences(const char *hay, const char *needle)
{
	size_t n = 0, nl = strlen(needle);
	const char *p = hay;

	while ((p = strstr(p, needle))) {
		n++;
		p += nl ? nl : 1;
	}
	return n;
}

/* The error must not carry @secret (a value that occurs once in the body, as the secret). */
static void
check_error(const struct vpn_error *e, const char *secret)
{
	size_t len = 0, i;
	char *body = vpn_error_json(e, &len);
	json_t *v;

	FUZZ_CHECK(body, "vpn_error_json");
	v = json_loadb(body, len, 0, NULL);
	FUZZ_CHECK(json_is_object(v) && json_is_integer(json_object_get(v, "error_code")) &&
		   json_is_string(json_object_get(v, "httpStatus")) &&
		   json_is_string(json_object_get(v, "error_message")),
		   "error body is not NSX error JSON: %s", body);
	if (secret) {
		FUZZ_CHECK(!strstr(e->msg, secret), "secret '%s' in the message: %s", secret,
			   e->msg);
		for (i = 0; i < e->nrelated; i++)
			FUZZ_CHECK(!strstr(e->related[i].msg, secret),
				   "secret '%s' in a related error: %s", secret, e->related[i].msg);
	}
	json_decref(v);
	free(body);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	const struct schema_type *t;
	char tname[64], *text = NULL, *t1 = NULL, *t2 = NULL, *pub = NULL, *secret = NULL;
	json_t *body, *r1 = NULL, *again = NULL, *r2 = NULL, *rpub = NULL;
	const char *key;
	json_t *val;
	struct vpn_error e;
	size_t tl;

	if (!nl || (size_t)(nl - data) >= sizeof(tname))
		return 0;
	tl = (size_t)(nl - data);
	memcpy(tname, data, tl);
	tname[tl] = '\0';
	t = schema_type_get(tname);
	if (!t)
		return 0;
	body = json_loadb((const char *)nl + 1, size - tl - 1, JSON_REJECT_DUPLICATES, NULL);
	if (!body)
		return 0;
	/* a secret value long enough, and present once, to be recognised in messages */
	text = dump(body);
	json_object_foreach(body, key, val) {
		const char *s = json_string_value(val);

		if (s && schema_field_is_secret(t, key) && strlen(s) >= 12 &&
		    occurrences(text, s) == 1 && !secret)
			secret = strdup(s);
	}
	vpn_error_clear(&e);
	schema_strip_readonly(t, body);
	if (schema_validate(t, body, &e)) {
		if (getenv("FUZZ_VERBOSE"))	/* to see what a corpus file exercises */
			fprintf(stderr, "%s: refused: %s\n", tname, e.msg);
		check_error(&e, secret);
		goto out;
	}
	FUZZ_CHECK(schema_refs(t, body, ref_cb, NULL) == VPN_OK, "schema_refs");
	r1 = schema_render(t, body, SCHEMA_RENDER_SECRETS);
	FUZZ_CHECK(r1, "render");
	t1 = dump(r1);
	again = json_loads(t1, 0, NULL);
	FUZZ_CHECK(again, "rendering is not JSON: %s", t1);
	vpn_error_clear(&e);
	schema_strip_readonly(t, again);
	FUZZ_CHECK(schema_validate(t, again, &e) == VPN_OK, "the rendering %s does not validate: %s",
		   t1, e.msg);
	r2 = schema_render(t, again, SCHEMA_RENDER_SECRETS);
	FUZZ_CHECK(r2, "render");
	t2 = dump(r2);
	FUZZ_CHECK(!strcmp(t1, t2), "rendering is not canonical:\n%s\n%s", t1, t2);
	rpub = schema_render(t, body, 0);
	FUZZ_CHECK(rpub, "render");
	json_object_foreach(rpub, key, val)
		FUZZ_CHECK(!schema_field_is_secret(t, key), "secret %s rendered", key);
	pub = dump(rpub);
out:
	json_decref(body);
	json_decref(r1);
	json_decref(again);
	json_decref(r2);
	json_decref(rpub);
	free(text);
	free(t1);
	free(t2);
	free(pub);
	free(secret);
	return 0;
}
