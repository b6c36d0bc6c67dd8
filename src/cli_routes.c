/*
 * cli_routes.c - `vpnd routes`: the API's route tables as JSON, so tests can cover every route
 * (e.g. "an auditor is refused on every write route") without a second list to keep in sync.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/api.h"
#include "cli.h"

int
cmd_routes(int argc, char **argv)
{
	static const struct { unsigned bit; const char *name; } meths[] = {
		{ API_GET, "GET" }, { API_HEAD, "HEAD" }, { API_PUT, "PUT" },
		{ API_PATCH, "PATCH" }, { API_DELETE, "DELETE" }, { API_POST, "POST" },
	};
	json_t *all = json_array();
	char *txt;
	size_t i, k;

	(void)argc;
	(void)argv;
	for (i = 0; all && i < api_route_count(); i++) {
		const struct api_route_info *ri = api_route_at(i);
		json_t *m = json_array();

		for (k = 0; m && k < sizeof(meths) / sizeof(meths[0]); k++)
			if (ri->methods & meths[k].bit)
				json_array_append_new(m, json_string(meths[k].name));
		json_array_append_new(all, json_pack("{s:s, s:s, s:o, s:b, s:b, s:b, s:b}",
						     "prefix", ri->prefix, "pattern", ri->pattern,
						     "methods", m, "writes", ri->writes,
						     "needs_token", ri->needs_token,
						     "admin_only", ri->admin_only,
						     "post_reads", ri->post_reads));
	}
	txt = all ? json_dumps(all, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(all);
	if (!txt)
		return 1;
	printf("%s\n", txt);
	free(txt);
	return 0;
}
