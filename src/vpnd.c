/*
 * vpnd - the VMware Cloud on AWS NSX-T Policy API for IPSec VPN, as a daemon.
 *
 * main() parses flags, opens the store, loads the model, and serves HTTP until SIGINT/SIGTERM.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "core/log.h"
#include "core/util.h"
#include "http/server.h"
#include "model/model.h"
#include "schema/schema.h"
#include "store/store.h"

#define VPND_VERSION "0.1.0"

struct opts {
	const char *listen;
	const char *data;
	const char *store_uri;
	const char *public_ip;
	const char *private_ip;
	size_t max_body;
	unsigned threads;
	unsigned conn_timeout;
	unsigned max_conns;
	const char *log_level;
	const char *reserved_vti;
};

static void
usage(FILE *f)
{
	fprintf(f,
		"usage: vpnd [options]\n"
		"  --listen ADDR:PORT     HTTP listen address (default 127.0.0.1:8080)\n"
		"  --data DIR             data directory (default ./var); the store is DIR/vpnd.db\n"
		"  --store URI            store URI instead of DIR/vpnd.db (sqlite:PATH)\n"
		"  --public-ip IP         local_address of local endpoint Public-IP1 (default 198.51.100.1)\n"
		"  --private-ip IP        local_address of local endpoint Private-IP1 (default 10.2.0.1)\n"
		"  --reserved-vti CIDRS   comma-separated link-local ranges tunnel interfaces may not use\n"
		"  --max-body BYTES       largest accepted request body (default 1048576)\n"
		"  --threads N            HTTP worker threads (default: number of CPUs)\n"
		"  --conn-timeout SEC     idle connection timeout (default 60)\n"
		"  --max-conns N          concurrent connection limit (default 1024)\n"
		"  --log-level LEVEL      debug|info|warn|error (default info)\n"
		"  --version, --help\n");
}

static bool
parse_uint(const char *s, unsigned long long max, unsigned long long *out)
{
	int64_t v;

	if (!util_parse_i64(s, &v) || v < 0 || (unsigned long long)v > max)
		return false;
	*out = (unsigned long long)v;
	return true;
}

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "data", required_argument, NULL, 'd' },
		{ "store", required_argument, NULL, 's' },
		{ "public-ip", required_argument, NULL, 'P' },
		{ "private-ip", required_argument, NULL, 'p' },
		{ "max-body", required_argument, NULL, 'b' },
		{ "threads", required_argument, NULL, 't' },
		{ "conn-timeout", required_argument, NULL, 'T' },
		{ "max-conns", required_argument, NULL, 'c' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "reserved-vti", required_argument, NULL, 'R' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'l': o->listen = optarg; break;
		case 'd': o->data = optarg; break;
		case 's': o->store_uri = optarg; break;
		case 'P': o->public_ip = optarg; break;
		case 'p': o->private_ip = optarg; break;
		case 'L': o->log_level = optarg; break;
		case 'R': o->reserved_vti = optarg; break;
		case 'b':
			if (!parse_uint(optarg, 1ULL << 30, &v) || v < 1024) {
				fprintf(stderr, "vpnd: --max-body must be 1024..1073741824\n");
				return 2;
			}
			o->max_body = (size_t)v;
			break;
		case 't':
			if (!parse_uint(optarg, 256, &v)) {
				fprintf(stderr, "vpnd: --threads must be 0..256\n");
				return 2;
			}
			o->threads = (unsigned)v;
			break;
		case 'T':
			if (!parse_uint(optarg, 86400, &v)) {
				fprintf(stderr, "vpnd: --conn-timeout must be 0..86400\n");
				return 2;
			}
			o->conn_timeout = (unsigned)v;
			break;
		case 'c':
			if (!parse_uint(optarg, 65536, &v) || v == 0) {
				fprintf(stderr, "vpnd: --max-conns must be 1..65536\n");
				return 2;
			}
			o->max_conns = (unsigned)v;
			break;
		case 'V':
			printf("vpnd %s\n", VPND_VERSION);
			return 1;
		case 'h':
			usage(stdout);
			return 1;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vpnd: unexpected argument %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return 0;
}

static enum log_level
level_of(const char *s)
{
	if (!strcmp(s, "debug"))
		return LOG_LVL_DEBUG;
	if (!strcmp(s, "warn"))
		return LOG_LVL_WARN;
	if (!strcmp(s, "error"))
		return LOG_LVL_ERROR;
	return LOG_LVL_INFO;
}

int
main(int argc, char **argv)
{
	struct opts o = { "127.0.0.1:8080", "var", NULL, "198.51.100.1", "10.2.0.1", 1 << 20, 0, 60,
			  1024, "info", NULL };
	struct vpn_error err;
	struct store *st = NULL;
	struct model *m = NULL;
	struct api *a = NULL;
	struct http_server *srv = NULL;
	struct model_config mc = { 0 };
	struct api_config ac = { 0 };
	struct http_config hc = { 0 };
	char uri[4096], lockpath[4096];
	int lockfd = -1;
	sigset_t ss;
	int sig, rc = 1;

	rc = parse_opts(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : rc;
	rc = 1;
	log_set_level(level_of(o.log_level));
	vpn_error_clear(&err);

	/* Block the stop signals in every thread; main waits for them with sigwait(). */
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (o.store_uri) {
		snprintf(uri, sizeof(uri), "%s", o.store_uri);
	} else {
		if (mkdir(o.data, 0700) && errno != EEXIST) {
			log_error("cannot create data directory %s: %s", o.data, strerror(errno));
			goto out;
		}
		snprintf(uri, sizeof(uri), "sqlite:%s/vpnd.db", o.data);
		/* one vpnd per data directory: two would each hold their own in-memory tree */
		snprintf(lockpath, sizeof(lockpath), "%s/vpnd.lock", o.data);
		lockfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
		if (lockfd < 0 || flock(lockfd, LOCK_EX | LOCK_NB)) {
			log_error("data directory %s is in use by another vpnd (%s)", o.data,
				  lockfd < 0 ? strerror(errno) : "locked");
			goto out;
		}
	}
	if (schema_init(&err)) {
		log_error("schema: %s", err.msg);
		goto out;
	}
	if (o.reserved_vti && schema_set_reserved_vti(o.reserved_vti, &err)) {
		log_error("--reserved-vti: %s", err.msg);
		goto out;
	}
	if (store_open(&st, uri, &err)) {
		log_error("%s", err.msg);
		goto out;
	}
	mc.public_ip = o.public_ip;
	mc.private_ip = o.private_ip;
	if (model_open(&m, st, &mc, &err)) {
		log_error("model: %s", err.msg);
		goto out;
	}
	ac.max_body = o.max_body;
	if (api_new(&a, m, &ac)) {
		log_error("api: out of memory");
		goto out;
	}
	hc.listen = o.listen;
	hc.threads = o.threads;
	hc.max_body = o.max_body;
	hc.conn_timeout = o.conn_timeout;
	hc.max_conns = o.max_conns;
	if (http_start(&srv, a, &hc, &err)) {
		log_error("http: %s", err.msg);
		goto out;
	}
	/* the URI is not logged: a database URI may carry a password */
	log_info("vpnd %s listening on %s (port %u), %zu objects loaded", VPND_VERSION, o.listen,
		 http_port(srv), model_count(m));
	if (sigwait(&ss, &sig) == 0)
		log_info("signal %d: shutting down", sig);
	rc = 0;
out:
	http_stop(srv);
	api_free(a);
	model_close(m);
	store_close(st);
	schema_fini();
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}
