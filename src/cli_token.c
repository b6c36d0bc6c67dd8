/*
 * cli_token.c - `vpnd token ...` and `vpnd audit`: refresh-token administration and the audit
 * log, straight from the store (works whether or not the daemon is running).
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "cli.h"
#include "core/log.h"
#include "core/util.h"
#include "store/store.h"

int
cli_open_store(const char *data, const char *uri, struct store **out)
{
	struct vpn_error err;
	char buf[4096];

	vpn_error_clear(&err);
	if (!uri) {
		snprintf(buf, sizeof(buf), "sqlite:%s/vpnd.db", data ? data : "var");
		uri = buf;
	}
	if (store_open(out, uri, &err)) {
		fprintf(stderr, "vpnd: %s\n", err.msg);
		return 1;
	}
	return 0;
}

static void
iso8601(int64_t ms, char *out, size_t outlen)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (!ms) {
		snprintf(out, outlen, "never");
		return;
	}
	gmtime_r(&t, &tm);
	strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static enum vpn_err
print_token(void *arg, const struct store_token *t)
{
	char c[32], u[32];

	(void)arg;
	iso8601(t->created_ms, c, sizeof(c));
	iso8601(t->last_used_ms, u, sizeof(u));
	printf("%s %s created=%s last_used=%s\n", t->name, t->role, c, u);
	return VPN_OK;
}

static void
token_usage(FILE *f)
{
	fprintf(f,
		"usage: vpnd token create --role admin|auditor --name NAME [--data DIR]\n"
		"       vpnd token list [--data DIR]\n"
		"       vpnd token revoke NAME [--data DIR]\n"
		"  create prints the new refresh token once; vpnd keeps only its hash.\n");
}

int
cmd_token(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "store", required_argument, NULL, 's' },
		{ "role", required_argument, NULL, 'r' },
		{ "name", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *data = "var", *uri = NULL, *role = NULL, *name = NULL, *verb;
	struct store *st = NULL;
	struct vpn_error err;
	enum auth_role r;
	char tok[AUTH_REFRESH_LEN + 1];
	int c, rc = 1;

	if (argc < 2) {
		token_usage(stderr);
		return 2;
	}
	verb = argv[1];
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 's': uri = optarg; break;
		case 'r': role = optarg; break;
		case 'n': name = optarg; break;
		case 'h': token_usage(stdout); return 0;
		default: token_usage(stderr); return 2;
		}
	}
	if (!strcmp(verb, "revoke") && !name && optind < argc)
		name = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, "vpnd token: unexpected argument %s\n", argv[optind]);
		return 2;
	}
	vpn_error_clear(&err);
	log_set_level(LOG_LVL_WARN);
	if (!strcmp(verb, "create")) {
		if (!name || !role || !auth_role_parse(role, &r)) {
			fprintf(stderr, "vpnd token create: --name and --role admin|auditor are "
				"required\n");
			return 2;
		}
		if (cli_open_store(data, uri, &st))
			goto out;
		if (auth_token_create(st, name, r, tok, &err)) {
			fprintf(stderr, "vpnd token create: %s\n", err.msg);
			goto out;
		}
		printf("%s\n", tok);
		fflush(stdout);
		explicit_bzero(tok, sizeof(tok));
		rc = 0;
	} else if (!strcmp(verb, "list")) {
		if (cli_open_store(data, uri, &st))
			goto out;
		if (store_token_list(st, print_token, NULL, &err)) {
			fprintf(stderr, "vpnd token list: %s\n", err.msg);
			goto out;
		}
		rc = 0;
	} else if (!strcmp(verb, "revoke")) {
		if (!name) {
			fprintf(stderr, "vpnd token revoke: which token? (vpnd token list)\n");
			return 2;
		}
		if (cli_open_store(data, uri, &st))
			goto out;
		if (auth_token_revoke(st, name, &err)) {
			fprintf(stderr, "vpnd token revoke: %s\n", err.msg);
			goto out;
		}
		rc = 0;
	} else {
		token_usage(stderr);
		return 2;
	}
out:
	store_close(st);
	return rc;
}

static enum vpn_err
print_audit(void *arg, const struct store_audit *a)
{
	(void)arg;
	if (a->len > 2 && a->record[0] == '{')
		printf("{\"id\":%" PRId64 ",%.*s\n", a->id, (int)(a->len - 1), a->record + 1);
	return VPN_OK;
}

int
cmd_audit(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "store", required_argument, NULL, 's' },
		{ "since", required_argument, NULL, 'S' },
		{ "limit", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *data = "var", *uri = NULL;
	int64_t since = 0, limit = INT64_MAX;
	struct store *st = NULL;
	struct vpn_error err;
	int c, rc = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd': data = optarg; break;
		case 's': uri = optarg; break;
		case 'S':
			if (!util_parse_i64(optarg, &since) || since < 0) {
				fprintf(stderr, "vpnd audit: --since takes a record id\n");
				return 2;
			}
			break;
		case 'l':
			if (!util_parse_i64(optarg, &limit) || limit < 1) {
				fprintf(stderr, "vpnd audit: --limit takes a positive number\n");
				return 2;
			}
			break;
		case 'h':
			printf("usage: vpnd audit [--data DIR] [--since ID] [--limit N]\n"
			       "  one JSON record per line, oldest first\n");
			return 0;
		default:
			return 2;
		}
	}
	vpn_error_clear(&err);
	log_set_level(LOG_LVL_WARN);
	if (cli_open_store(data, uri, &st))
		goto out;
	if (store_audit_list(st, since, (size_t)limit, print_audit, NULL, &err)) {
		fprintf(stderr, "vpnd audit: %s\n", err.msg);
		goto out;
	}
	rc = 0;
out:
	store_close(st);
	return rc;
}
