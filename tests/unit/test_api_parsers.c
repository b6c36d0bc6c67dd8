/*
 * Unit tests for the parsers inside src/api/api.c (api_internal.h): URL normalisation, the
 * route table and the CSP form parser. Regressions found by the fuzz harnesses live here.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "api/api_internal.h"

#define RP "/vmc/reverse-proxy/api/orgs/"

static void
test_normalize_forms(void **state)
{
	char out[512], org[128], sddc[128];

	(void)state;
	assert_true(api_normalize("/policy/api/v1/infra/tier-0s/", out, sizeof(out), org, sddc,
				  sizeof(org)));
	assert_string_equal(out, "/infra/tier-0s");
	assert_string_equal(org, "");
	assert_true(api_normalize(RP "o1/sddcs/s1/sks-nsxt-manager/policy/api/v1/infra", out,
				  sizeof(out), org, sddc, sizeof(org)));
	assert_string_equal(out, "/infra");
	assert_string_equal(org, "o1");
	assert_string_equal(sddc, "s1");
	assert_true(api_normalize("/policy/api/v1/infra/tier-0s/vmc/ipsec-vpn-services/default",
				  out, sizeof(out), org, sddc, sizeof(org)));
	assert_string_equal(out, "/infra/tier-0s/vmc/locale-services/default/ipsec-vpn-services/"
			    "default");
	assert_false(api_normalize("/policy/api/v10/infra", out, sizeof(out), org, sddc,
				   sizeof(org)));
	assert_false(api_normalize(RP "/sddcs/s1/policy/api/v1", out, sizeof(out), org, sddc,
				   sizeof(org)));
}

/*
 * Found by fuzz_router (tests/fuzz/corpus/fuzz_router/crash-org-id-truncated): an org or SDDC
 * id longer than its buffer was silently cut, so a URL naming a different, longer org whose
 * first 127 characters are this server's org id was served as this org. Now such a URL is not
 * a policy URL (404).
 */
static void
test_normalize_overlong_ids(void **state)
{
	char url[1024], out[512], org[128], sddc[128], id[200];

	(void)state;
	memset(id, 'o', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	snprintf(url, sizeof(url), RP "%s/sddcs/s1/policy/api/v1/infra", id);
	assert_false(api_normalize(url, out, sizeof(out), org, sddc, sizeof(org)));
	snprintf(url, sizeof(url), RP "o1/sddcs/%s/policy/api/v1/infra", id);
	assert_false(api_normalize(url, out, sizeof(out), org, sddc, sizeof(org)));
	/* 127 characters still fit */
	id[127] = '\0';
	snprintf(url, sizeof(url), RP "%s/sddcs/s1/policy/api/v1/infra", id);
	assert_true(api_normalize(url, out, sizeof(out), org, sddc, sizeof(org)));
	assert_string_equal(org, id);
}

static void
test_route_find(void **state)
{
	char scratch[512];
	const char *caps[API_MAX_CAPS];
	const struct api_route_info *ri;
	long i;

	(void)state;
	i = api_route_find(true, "/infra/tier-0s/vmc/locale-services/default/bgp/neighbors/status",
			   scratch, sizeof(scratch), caps);
	assert_true(i >= 0);
	ri = api_route_at((size_t)i);
	assert_string_equal(ri->pattern, "/infra/tier-0s/vmc/locale-services/default/bgp/"
			    "neighbors/status");
	assert_null(caps[0]);
	i = api_route_find(true, "/infra/ipsec-vpn-ike-profiles/p1/", scratch, sizeof(scratch),
			   caps);
	assert_true(i >= 0);
	assert_string_equal(caps[0], "p1");
	assert_int_equal(api_route_find(true, "/infra/ipsec-vpn-ike-profiles//", scratch,
					sizeof(scratch), caps), api_route_find(true,
					"/infra/ipsec-vpn-ike-profiles", scratch, sizeof(scratch),
					caps));
	i = api_route_find(false, "/vmc/api/orgs/o/sddcs/s", scratch, sizeof(scratch), caps);
	assert_true(i >= 0);
	assert_string_equal(api_route_at((size_t)i)->prefix, "");
	assert_string_equal(caps[0], "o");
	assert_string_equal(caps[1], "s");
	assert_int_equal(api_route_find(false, "/vmc/api/orgs//sddcs/s", scratch,
					sizeof(scratch), caps), -1);
}

static void
test_form_value(void **state)
{
	char out[8];

	(void)state;
	assert_true(api_form_value("a=1&refresh_token=x%2By+z&b", 27, "refresh_token", out,
				   sizeof(out)));
	assert_string_equal(out, "x+y z");
	assert_false(api_form_value("refresh_tokenx=1", 16, "refresh_token", out, sizeof(out)));
	/* a truncated escape stays literal; the value is cut to the buffer */
	assert_true(api_form_value("k=%4", 4, "k", out, sizeof(out)));
	assert_string_equal(out, "%4");
	assert_true(api_form_value("k=0123456789", 12, "k", out, sizeof(out)));
	assert_string_equal(out, "0123456");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize_forms),
		cmocka_unit_test(test_normalize_overlong_ids),
		cmocka_unit_test(test_route_find),
		cmocka_unit_test(test_form_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
