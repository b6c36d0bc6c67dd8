/*
 * fuzz_jscan: the tree-less JSON object scanner the model loads stored rows with
 * (src/core/jscan.c), against jansson.
 *
 * Invariants, for any input: jscan_object never reads outside the input; when jansson parses
 * the input as an object, jscan accepts it (unless it nests deeper than JSCAN_MAX_DEPTH or
 * holds a raw NUL byte, which jansson's buffer reader skips) and reports exactly jansson's members in order
 * (duplicate keys: jansson keeps the last value), each value span parsing (JSON_DECODE_ANY) to
 * a value equal to jansson's; when jscan accepts, jansson accepts too unless a number is out
 * of its range (jscan does not check ranges); every member span is "key":value.
 */
#include <jansson.h>
#include <string.h>

#include "core/jscan.h"
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

struct acc {
	const char *s;
	json_t *mine;			/* members as jscan reports them, parsed */
	size_t n;
	bool bad_span;
};

static void
member(void *arg, const struct jscan_member *m)
{
	struct acc *a = arg;
	char *key = strndup(m->key, m->key_len);
	char *q = malloc(m->key_len + 3);
	json_t *k, *v = json_loadb(m->val, m->val_len, JSON_DECODE_ANY, NULL);

	a->n++;
	if (!key || !q) {
		free(key);
		free(q);
		json_decref(v);
		return;
	}
	/* decode the key the way jansson does: parse it as a JSON string */
	q[0] = '"';
	memcpy(q + 1, m->key, m->key_len);
	q[m->key_len + 1] = '"';
	q[m->key_len + 2] = '\0';
	k = json_loads(q, JSON_DECODE_ANY, NULL);
	if (m->key != a->s + m->start + 1 || a->s[m->end - m->val_len - 1] == ',' ||
	    m->end != (size_t)(m->val + m->val_len - a->s))
		a->bad_span = true;
	if (json_is_string(k) && v)
		json_object_set(a->mine, json_string_value(k), v);
	json_decref(k);
	json_decref(v);
	free(key);
	free(q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size ? size : 1);	/* exact size: ASan sees any overread */
	struct acc a = { 0 };
	json_error_t jerr;
	json_t *ref;
	bool ok;

	if (!s)
		return 0;
	memcpy(s, data, size);
	a.s = s;
	a.mine = json_object();
	ok = jscan_object(s, size, member, &a);
	ref = json_loadb(s, size, JSON_PRESERVE_ORDER, &jerr);
	if (json_is_object(ref)) {
		size_t opens = 0, i;

		for (i = 0; i < size; i++)
			opens += s[i] == '{' || s[i] == '[';
		/* jscan nests at most JSCAN_MAX_DEPTH deep, jansson deeper; jansson's buffer reader
		 * skips raw NUL bytes, jscan refuses them */
		FUZZ_CHECK(ok || opens >= JSCAN_MAX_DEPTH || memchr(s, '\0', size),
			   "jansson parses an object jscan refuses");
		if (!ok)
			goto out;
		FUZZ_CHECK(!a.bad_span, "a member span is not \"key\":value");
		FUZZ_CHECK(json_equal(ref, a.mine), "members differ from jansson's");
	} else if (ok) {
		FUZZ_CHECK(strstr(jerr.text, "too big") || strstr(jerr.text, "overflow") ||
			   strstr(jerr.text, "NUL"),
			   "jscan accepts what jansson refuses: %s", jerr.text);
	}
out:
	json_decref(ref);
	json_decref(a.mine);
	free(s);
	return 0;
}
