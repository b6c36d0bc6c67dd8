/*
 * cli_cert.c - `vpnd cert generate`: a self-signed certificate for the HTTPS front end, written
 * into the data directory as DIR/tls/cert.pem (0644) and DIR/tls/key.pem (0600).
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "core/util.h"
#include "tls/cert.h"

#define CERT_DAYS_DEFAULT 365u

static void
cert_usage(FILE *f)
{
	fprintf(f,
		"usage: vpnd cert generate [--data DIR] [--name NAME]... [--days N] [--force]\n"
		"  --data DIR    data directory (default ./var); writes DIR/tls/cert.pem and\n"
		"                DIR/tls/key.pem\n"
		"  --name NAME   DNS name or IP address to certify (repeatable; the first is the CN;\n"
		"                default: localhost, 127.0.0.1, ::1)\n"
		"  --days N      validity in days (default %u, at most %u)\n"
		"  --force       replace an existing certificate and key\n",
		CERT_DAYS_DEFAULT, TLS_DAYS_MAX);
}

static int
make_dir(const char *path)
{
	if (mkdir(path, 0700) && errno != EEXIST) {
		fprintf(stderr, "vpnd cert: cannot create directory %s: %s\n", path, strerror(errno));
		return 1;
	}
	return 0;
}

static int
cert_generate(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "data", required_argument, NULL, 'd' },
		{ "name", required_argument, NULL, 'n' },
		{ "days", required_argument, NULL, 'D' },
		{ "force", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const default_names[] = { "localhost", "127.0.0.1", "::1" };
	const char *names[TLS_NAMES_MAX];
	const char *const *use = default_names;
	size_t nnames = 0, nuse = sizeof(default_names) / sizeof(default_names[0]);
	const char *data = "var";
	char tlsdir[PATH_MAX], cert[PATH_MAX], key[PATH_MAX];
	unsigned days = CERT_DAYS_DEFAULT;
	bool force = false;
	struct vpn_error err;
	enum vpn_err rc;
	int64_t v;
	int c, n1, n2, n3;

	optind = 0;	/* glibc: full re-initialisation, whatever parsed argv before */
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			data = optarg;
			break;
		case 'n':
			if (nnames == TLS_NAMES_MAX) {
				fprintf(stderr, "vpnd cert: at most %d --name\n", TLS_NAMES_MAX);
				return 2;
			}
			names[nnames++] = optarg;
			break;
		case 'D':
			if (!util_parse_i64(optarg, &v) || v < 1 || v > TLS_DAYS_MAX) {
				fprintf(stderr, "vpnd cert: --days must be 1..%u\n", TLS_DAYS_MAX);
				return 2;
			}
			days = (unsigned)v;
			break;
		case 'f':
			force = true;
			break;
		case 'h':
			cert_usage(stdout);
			return 0;
		default:
			cert_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vpnd cert: unexpected argument %s\n", argv[optind]);
		cert_usage(stderr);
		return 2;
	}
	if (nnames) {
		use = names;
		nuse = nnames;
	}
	n1 = snprintf(tlsdir, sizeof(tlsdir), "%s/tls", data);
	n2 = snprintf(cert, sizeof(cert), "%s/cert.pem", tlsdir);
	n3 = snprintf(key, sizeof(key), "%s/key.pem", tlsdir);
	if (n1 < 0 || n2 < 0 || n3 < 0 || (size_t)n2 >= sizeof(cert) || (size_t)n3 >= sizeof(key)) {
		fprintf(stderr, "vpnd cert: --data path too long\n");
		return 2;
	}
	if (make_dir(data) || make_dir(tlsdir))
		return 1;
	vpn_error_clear(&err);
	rc = tls_cert_generate(cert, key, use, nuse, days, force, &err);
	if (rc) {
		fprintf(stderr, "vpnd cert: %s%s\n", err.msg,
			rc == VPN_E_CONFLICT ? " (--force replaces it)" : "");
		return rc == VPN_E_INVALID ? 2 : 1;
	}
	printf("certificate: %s\n"
	       "private key: %s\n"
	       "serve HTTPS: vpnd --data %s --tls-cert %s --tls-key %s\n"
	       "then:        curl --cacert %s https://%s%s%s:8080/...\n",
	       cert, key, data, cert, key, cert, strchr(use[0], ':') ? "[" : "",
	       use[0][0] == '*' ? "HOST" : use[0], strchr(use[0], ':') ? "]" : "");
	return 0;
}

int
cmd_cert(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "generate"))
		return cert_generate(argc - 1, argv + 1);
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "help"))) {
		cert_usage(stdout);
		return 0;
	}
	if (argc >= 2)
		fprintf(stderr, "vpnd cert: unknown subcommand %s\n", argv[1]);
	cert_usage(stderr);
	return 2;
}
