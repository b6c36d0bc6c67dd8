/* Unit tests for src/core: capped buffers, net addresses, the hash map, error JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/hmap.h"
#include "core/jscan.h"
#include "core/netaddr.h"
#include "core/util.h"

static void
test_buf_cap(void **state)
{
	struct buf b;

	(void)state;
	buf_init(&b, 8);
	assert_int_equal(buf_adds(&b, "abcd"), VPN_OK);
	assert_int_equal(buf_adds(&b, "efgh"), VPN_OK);
	assert_string_equal(b.p, "abcdefgh");
	/* past the cap: the buffer is released and the error reported */
	assert_int_equal(buf_adds(&b, "i"), VPN_E_TOO_BIG);
	assert_null(b.p);
	assert_int_equal(b.len, 0);
	assert_int_equal(buf_addf(&b, "%d", 42), VPN_OK);
	assert_string_equal(b.p, "42");
	buf_release(&b);
}

static void
test_buf_json_str(void **state)
{
	struct buf b;
	char *s;
	size_t n;

	(void)state;
	buf_init(&b, 1024);
	assert_int_equal(buf_add_json_str(&b, "a\"b\\c\n\x01"), VPN_OK);
	s = buf_detach(&b, &n);
	assert_string_equal(s, "\"a\\\"b\\\\c\\n\\u0001\"");
	assert_int_equal(n, strlen(s));
	free(s);
	s = buf_detach(&b, &n);		/* empty buffer detaches as "" */
	assert_string_equal(s, "");
	free(s);
}

static void
test_netaddr(void **state)
{
	struct netaddr a;
	struct netprefix p, q;

	(void)state;
	assert_true(netaddr_parse("169.254.151.2", &a));
	assert_int_equal(a.family, 4);
	assert_false(netaddr_parse("169.254.151", &a));
	assert_false(netaddr_parse("169.254.151.256", &a));
	assert_false(netaddr_parse("", &a));
	assert_true(netaddr_parse("2001:db8::1", &a));
	assert_int_equal(a.family, 6);

	assert_true(netprefix_parse("10.0.0.0/8", &p));
	assert_int_equal(p.len, 8);
	assert_true(netprefix_is_network(&p));
	assert_false(netprefix_parse("10.0.0.0/33", &p));
	assert_false(netprefix_parse("10.0.0.0/", &p));
	assert_false(netprefix_parse("10.0.0.0/08", &p));
	assert_false(netprefix_parse("10.0.0.0", &p));
	assert_true(netprefix_parse("10.1.2.3/8", &p));
	assert_false(netprefix_is_network(&p));

	assert_true(netprefix_parse("169.254.151.0/30", &p));
	assert_true(netaddr_parse("169.254.151.1", &a));
	assert_true(netprefix_contains(&p, &a));
	assert_true(netaddr_parse("169.254.151.4", &a));
	assert_false(netprefix_contains(&p, &a));
	assert_true(netprefix_parse("169.254.0.0/16", &q));
	assert_true(netprefix_overlaps(&p, &q));
	assert_true(netprefix_parse("10.0.0.0/8", &q));
	assert_false(netprefix_overlaps(&p, &q));
}

static void
test_hmap(void **state)
{
	struct hmap h;
	char keys[2000][16];
	void *old;
	size_t i, pos = 0, n = 0;

	(void)state;
	hmap_init(&h);
	for (i = 0; i < 2000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "k%zu", i);
		assert_int_equal(hmap_put(&h, keys[i], (void *)(i + 1), &old), VPN_OK);
		assert_null(old);
	}
	for (i = 0; i < 2000; i += 2)
		assert_ptr_equal(hmap_del(&h, keys[i]), (void *)(i + 1));
	for (i = 0; i < 2000; i++)
		assert_ptr_equal(hmap_get(&h, keys[i]), i % 2 ? (void *)(i + 1) : NULL);
	assert_int_equal(hmap_put(&h, keys[1], (void *)7, &old), VPN_OK);
	assert_ptr_equal(old, (void *)2);
	while (hmap_next(&h, &pos, NULL, NULL))
		n++;
	assert_int_equal(n, 1000);
	hmap_release(&h);
}

static void
test_error_json(void **state)
{
	struct vpn_error e;
	json_t *j, *rel;
	char *s;
	size_t n;

	(void)state;
	vpn_error_clear(&e);
	vpn_error_add(&e, VPN_E_INVALID, 0, "first: %s", "bad");
	vpn_error_add(&e, VPN_E_INVALID, 0, "second");
	s = vpn_error_json(&e, &n);
	j = json_loads(s, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "httpStatus")), "BAD_REQUEST");
	assert_string_equal(json_string_value(json_object_get(j, "error_message")), "first: bad");
	assert_int_equal(json_integer_value(json_object_get(j, "error_code")), NSX_EC_INVALID);
	rel = json_object_get(j, "related_errors");
	assert_int_equal(json_array_size(rel), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(rel, 1),
							      "error_message")), "second");
	assert_int_equal(vpn_err_http_status(VPN_E_CONFLICT), 412);
	assert_int_equal(vpn_err_http_status(VPN_E_TOO_BIG), 413);
	json_decref(j);
	free(s);
}

/* The HTTP service's own refusals render as NSX's 429: error_code 102, module "common-services". */
static void
test_error_json_limits(void **state)
{
	static const struct {
		enum vpn_err code;
		int status, ec;
		const char *name;
	} cases[] = {
		{ VPN_E_RATE, 429, 102, "TOO_MANY_REQUESTS" },
		{ VPN_E_HEADER_TOO_BIG, 431, 431, "REQUEST_HEADER_FIELDS_TOO_LARGE" },
	};
	struct vpn_error e;
	json_t *j;
	char *s;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		vpn_error_clear(&e);
		vpn_error_set(&e, cases[i].code, 0, "over");
		assert_int_equal(vpn_err_http_status(cases[i].code), cases[i].status);
		s = vpn_error_json(&e, NULL);
		j = json_loads(s, 0, NULL);
		assert_non_null(j);
		assert_string_equal(json_string_value(json_object_get(j, "httpStatus")), cases[i].name);
		assert_int_equal(json_integer_value(json_object_get(j, "error_code")), cases[i].ec);
		assert_string_equal(json_string_value(json_object_get(j, "module_name")),
				    "common-services");
		json_decref(j);
		free(s);
	}
	/* every other code keeps "Policy" */
	vpn_error_clear(&e);
	vpn_error_set(&e, VPN_E_TOO_BIG, 0, "big");
	s = vpn_error_json(&e, NULL);
	j = json_loads(s, 0, NULL);
	assert_string_equal(json_string_value(json_object_get(j, "module_name")), "Policy");
	json_decref(j);
	free(s);
}

/* Regression: a message with bytes that are not UTF-8 (a decoded %FF in a URL, or a character
 * cut by truncation) lost its error_message field entirely. */
static void
test_error_json_not_utf8(void **state)
{
	struct vpn_error e;
	json_t *j;
	char *s;

	(void)state;
	vpn_error_clear(&e);
	vpn_error_set(&e, VPN_E_NOT_FOUND, 0, "object /infra/x\xff could not be found \xc3");
	vpn_error_add(&e, VPN_E_INVALID, 0, "cut: \xc3\xa9\xc3");
	s = vpn_error_json(&e, NULL);
	j = json_loads(s, 0, NULL);
	assert_non_null(j);
	assert_string_equal(json_string_value(json_object_get(j, "error_message")),
			    "object /infra/x? could not be found ?");
	assert_string_equal(json_string_value(json_object_get(json_array_get(
				    json_object_get(j, "related_errors"), 0), "error_message")),
			    "cut: \xc3\xa9?");
	json_decref(j);
	free(s);
}

static void
test_utf8(void **state)
{
	(void)state;
	assert_true(util_utf8_valid("h\xc3\xa9llo", 6));
	assert_false(util_utf8_valid("\xc3", 1));
	assert_false(util_utf8_valid("\xed\xa0\x80", 3));	/* surrogate */
	assert_false(util_utf8_valid("\xc0\x80", 2));		/* overlong */
	assert_false(util_utf8_valid("\xff", 1));
}

struct members {
	char keys[8][32];
	char vals[8][64];
	size_t start[8], end[8];
	size_t n;
};

static void
member_cb(void *arg, const struct jscan_member *m)
{
	struct members *ms = arg;

	if (ms->n < 8) {
		snprintf(ms->keys[ms->n], 32, "%.*s", (int)m->key_len, m->key);
		snprintf(ms->vals[ms->n], 64, "%.*s", (int)m->val_len, m->val);
		ms->start[ms->n] = m->start;
		ms->end[ms->n] = m->end;
	}
	ms->n++;
}

static bool
scan(const char *s)
{
	return jscan_object(s, strlen(s), NULL, NULL);
}

/* jscan: top-level members as spans; the whole text checked against the JSON grammar */
static void
test_jscan(void **state)
{
	static const char *const good[] = {
		"{}", " { } ", "{\"a\":1}", "{\"a\":-0.5e+3,\"b\":[],\"c\":{},\"d\":null}",
		"{\"s\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"}",
		"{\"a\" : [ 1 , { \"b\" : true } ] }\n", "{\"\xc3\xa9\":\"\xe2\x82\xac\"}",
	};
	static const char *const bad[] = {
		"", "[]", "1", "\"a\"", "{", "}", "{\"a\"}", "{\"a\":}", "{\"a\":1,}", "{,}",
		"{\"a\":1}x", "{\"a\":1}{}", "{a:1}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":.5}",
		"{\"a\":1e}", "{\"a\":-}", "{\"a\":tru}", "{\"a\":nul}", "{\"a\":\"x}",
		"{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}", "{\"a\":\"\\u0000\"}",
		"{\"a\":\"\\ud800\"}", "{\"a\":\"\\udc00\"}", "{\"a\":\"\\ud800\\u0041\"}",
		"{\"a\":\"\t\"}", "{\"a\":[1,]}", "{\"a\":[1 2]}", "{\"a\":{\"b\"}}",
		"{\"a\":\"\xc3\"}", "{\"a\":\"\xff\"}", "{\"a\":1]", "{\"a\":[1}",
	};
	struct members ms;
	char deep[2 * (JSCAN_MAX_DEPTH + 2) + 16];
	size_t i, d;
	const char *t;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		json_t *j = json_loads(good[i], 0, NULL);

		assert_true(scan(good[i]));
		assert_non_null(j);			/* jansson agrees */
		json_decref(j);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (scan(bad[i]))
			fail_msg("accepted: %s", bad[i]);
	}
	assert_false(jscan_object("{\"a\":\"\0\"}", 8, NULL, NULL));	/* raw NUL */
	assert_false(jscan_object(NULL, 0, NULL, NULL));

	memset(&ms, 0, sizeof(ms));
	t = "{\"a\":1,\"psk\":\"x,}\\\"y\",\"n\":{\"psk\":[1,{\"c\":\"]\"}]},\"z\":false}";
	assert_true(jscan_object(t, strlen(t), member_cb, &ms));
	assert_int_equal(ms.n, 4);		/* nested members are not reported */
	assert_string_equal(ms.keys[1], "psk");
	assert_string_equal(ms.vals[1], "\"x,}\\\"y\"");
	assert_string_equal(ms.vals[2], "{\"psk\":[1,{\"c\":\"]\"}]}");
	assert_string_equal(ms.vals[3], "false");
	assert_int_equal(ms.start[0], 1);
	assert_int_equal(ms.end[3], strlen(t) - 1);
	assert_memory_equal(t + ms.start[1], "\"psk\":", 6);

	/* nesting: JSCAN_MAX_DEPTH levels inside the object pass, one more does not */
	for (d = JSCAN_MAX_DEPTH; d <= JSCAN_MAX_DEPTH + 1; d++) {
		size_t o = 0;

		o += (size_t)snprintf(deep, sizeof(deep), "{\"a\":");
		for (i = 1; i < d; i++)
			deep[o++] = '[';
		for (i = 1; i < d; i++)
			deep[o++] = ']';
		if (d == 1)
			deep[o++] = '0';
		deep[o++] = '}';
		deep[o] = '\0';
		assert_int_equal(scan(deep), d == JSCAN_MAX_DEPTH);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf_cap),
		cmocka_unit_test(test_buf_json_str),
		cmocka_unit_test(test_netaddr),
		cmocka_unit_test(test_hmap),
		cmocka_unit_test(test_error_json),
		cmocka_unit_test(test_error_json_not_utf8),
		cmocka_unit_test(test_error_json_limits),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_jscan),
	};

	return cmocka_run_group_tests_name("core", tests, NULL, NULL);
}
