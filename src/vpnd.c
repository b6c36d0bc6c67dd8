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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "auth/auth.h"
#include "cli.h"
#include "core/log.h"
#include "core/netaddr.h"
#include "core/util.h"
#include "http/server.h"
#include "model/model.h"
#include "realize/rz.h"
#include "realize/sim.h"
#include "realize/strongswan.h"
#include "schema/schema.h"
#include "store/store.h"
#include "tls/cert.h"

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
	const char *tls_cert;		/* --tls-cert/--tls-key: both or neither */
	const char *tls_key;
	const char *org;		/* NULL: the id generated at the first start */
	const char *sddc;
	const char *public_url;
	int64_t token_ttl;
	bool no_emulator;
	const char *advertise;		/* the SDDC networks announced to BGP peers */
	bool real;			/* --mode real: the strongswan backend */
	const char *netns;		/* real mode: network namespace of charon and bird */
	uint32_t local_as;		/* real mode: BIRD's local AS */
	const char *router_id;		/* real mode: BIRD's router id (default --public-ip) */
	bool kernel_xfrm;		/* real mode: kernel ESP instead of kernel-libipsec (untested) */
	/* limits (docs/http.md, docs/api.md) */
	size_t max_header;
	unsigned max_conns_per_ip;	/* 0 = off */
	unsigned rate_limit, rate_burst;		/* per token; 0 = off */
	unsigned auth_rate_limit, auth_rate_burst;	/* token exchange per client address */
};

enum { OPT_MAX_HEADER = 256, OPT_MAX_CONNS_IP, OPT_RATE, OPT_BURST, OPT_AUTH_RATE, OPT_AUTH_BURST };

/* The subcommand table (wireguard-tools style): `vpnd NAME ...` runs cmd(argc - 1, argv + 1). */
static const struct {
	const char *name;
	int (*cmd)(int argc, char **argv);
	const char *what;
} subcommands[] = {
	{ "token", cmd_token, "create, list or revoke refresh tokens" },
	{ "audit", cmd_audit, "print the audit log" },
	{ "cert", cmd_cert, "generate a self-signed TLS certificate" },
	{ "routes", cmd_routes, "print the API route tables as JSON" },
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
		"  --conn-timeout SEC     close a connection silent for SEC, or whose request head or\n"
		"                         body takes longer than SEC to arrive (default 60; 0 = never)\n"
		"  --max-conns N          concurrent connection limit; more get 503 (default 1024)\n"
		"  --max-conns-per-ip N   connections per client address; more are closed (default 0 =\n"
		"                         no limit)\n"
		"  --max-header BYTES     largest request line + header fields; more get 431\n"
		"                         (default 32768)\n"
		"  --rate-limit RPS       requests/s per token (per refresh token's name); over it: 429\n"
		"                         with Retry-After (default 0 = off; NSX Manager's is 100)\n"
		"  --rate-burst N         requests a token may send at once (default: RPS)\n"
		"  --auth-rate-limit RPS  token exchanges/s per client address (IPv6: per /64), 0 = off\n"
		"                         (default 10)\n"
		"  --auth-rate-burst N    token exchanges a client address may send at once (default 100)\n"
		"  --log-level LEVEL      debug|info|warn|error (default info)\n"
		"  --tls-cert FILE        serve HTTPS with this PEM certificate (chain); needs --tls-key\n"
		"  --tls-key FILE         the certificate's PEM private key (vpnd cert generate makes both)\n"
		"  --org ID --sddc ID     the org and SDDC ids this server answers for (default: generated\n"
		"                         once and kept in the store)\n"
		"  --public-url URL       base URL clients reach vpnd at, for SDDC discovery (default: from\n"
		"                         the request's Host header)\n"
		"  --token-ttl SECONDS    access-token lifetime (default 1800)\n"
		"  --no-emulator          do not serve the emulator API (/emulator/api/v1)\n"
		"  --advertise CIDRS      SDDC networks announced to BGP neighbors (appliance,\n"
		"                         infrastructure, compute; default 10.2.0.0/24,10.2.32.0/20,\n"
		"                         192.168.1.0/24)\n"
		"  --mode emulated|real   emulated (default): simulated peers (sim backend); real:\n"
		"                         supervise own charon + bird (run dir DATA/real; root)\n"
		"  --netns NAME           real mode: run charon and bird in /run/netns/NAME\n"
		"  --local-as N           real mode: BGP local AS (default 65000)\n"
		"  --router-id IP         real mode: BGP router id (default: --public-ip)\n"
		"  --kernel-xfrm          real mode: kernel ESP (XFRM) instead of userspace ESP; for hosts\n"
		"                         with ESP XFRM support, UNTESTED (these machines have none)\n"
		"  --version, --help\n"
		"subcommands:\n");
	for (size_t i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(f, "  vpnd %-8s %s\n", subcommands[i].name, subcommands[i].what);
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
		{ "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "org", required_argument, NULL, 'O' },
		{ "sddc", required_argument, NULL, 'S' },
		{ "public-url", required_argument, NULL, 'U' },
		{ "token-ttl", required_argument, NULL, 'E' },
		{ "no-emulator", no_argument, NULL, 'N' },
		{ "advertise", required_argument, NULL, 'A' },
		{ "mode", required_argument, NULL, 'M' },
		{ "netns", required_argument, NULL, 'n' },
		{ "local-as", required_argument, NULL, 'a' },
		{ "router-id", required_argument, NULL, 'r' },
		{ "kernel-xfrm", no_argument, NULL, 'X' },
		{ "max-header", required_argument, NULL, OPT_MAX_HEADER },
		{ "max-conns-per-ip", required_argument, NULL, OPT_MAX_CONNS_IP },
		{ "rate-limit", required_argument, NULL, OPT_RATE },
		{ "rate-burst", required_argument, NULL, OPT_BURST },
		{ "auth-rate-limit", required_argument, NULL, OPT_AUTH_RATE },
		{ "auth-rate-burst", required_argument, NULL, OPT_AUTH_BURST },
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
		case 'C': o->tls_cert = optarg; break;
		case 'K': o->tls_key = optarg; break;
		case 'O': o->org = optarg; break;
		case 'S': o->sddc = optarg; break;
		case 'U': o->public_url = optarg; break;
		case 'N': o->no_emulator = true; break;
		case 'A': o->advertise = optarg; break;
		case 'n': o->netns = optarg; break;
		case 'r': o->router_id = optarg; break;
		case 'X': o->kernel_xfrm = true; break;
		case 'M':
			if (strcmp(optarg, "emulated") && strcmp(optarg, "real")) {
				fprintf(stderr, "vpnd: --mode must be emulated or real\n");
				return 2;
			}
			o->real = !strcmp(optarg, "real");
			break;
		case 'a':
			if (!util_parse_asn(optarg, &o->local_as) || o->local_as == 0) {
				fprintf(stderr, "vpnd: --local-as must be an AS number 1..4294967295\n");
				return 2;
			}
			break;
		case 'E':
			if (!parse_uint(optarg, 366 * 86400, &v) || v < 1) {
				fprintf(stderr, "vpnd: --token-ttl must be 1..31622400 seconds\n");
				return 2;
			}
			o->token_ttl = (int64_t)v;
			break;
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
		case OPT_MAX_HEADER:
			if (!parse_uint(optarg, 1 << 20, &v) || v < 1024) {
				fprintf(stderr, "vpnd: --max-header must be 1024..1048576\n");
				return 2;
			}
			o->max_header = (size_t)v;
			break;
		case OPT_MAX_CONNS_IP:
			if (!parse_uint(optarg, 65536, &v)) {
				fprintf(stderr, "vpnd: --max-conns-per-ip must be 0..65536\n");
				return 2;
			}
			o->max_conns_per_ip = (unsigned)v;
			break;
		case OPT_RATE:
		case OPT_BURST:
		case OPT_AUTH_RATE:
		case OPT_AUTH_BURST:
			if (!parse_uint(optarg, 1000000, &v)) {
				fprintf(stderr, "vpnd: --%s must be 0..1000000\n",
					c == OPT_RATE ? "rate-limit" : c == OPT_BURST ? "rate-burst" :
					c == OPT_AUTH_RATE ? "auth-rate-limit" : "auth-rate-burst");
				return 2;
			}
			*(c == OPT_RATE ? &o->rate_limit : c == OPT_BURST ? &o->rate_burst :
			  c == OPT_AUTH_RATE ? &o->auth_rate_limit : &o->auth_rate_burst) = (unsigned)v;
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
	if (!o->tls_cert != !o->tls_key) {
		fprintf(stderr, "vpnd: --tls-cert and --tls-key go together (give both or neither)\n");
		return 2;
	}
	if (!o->real && (o->netns || o->router_id || o->kernel_xfrm)) {
		fprintf(stderr, "vpnd: --netns, --router-id and --kernel-xfrm need --mode real\n");
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

/*
 * --tls-cert/--tls-key: read and check both PEM files into @hc (freed with tls_pem_free after
 * http_stop), so a bad file fails here rather than at the first handshake. Without TLS on a
 * non-loopback address, warn loudly. Returns 0, or -1 after logging why.
 */
static int
tls_setup(const struct opts *o, struct http_config *hc)
{
	struct vpn_error e;
	char *cert = NULL, *key = NULL;

	vpn_error_clear(&e);
	if (!o->tls_cert) {
		if (!tls_listen_is_loopback(o->listen))
			log_warn("WARNING: serving %s WITHOUT TLS: access and refresh tokens, IPsec "
				 "pre-shared keys and BGP passwords will cross the network in clear "
				 "text. Use --tls-cert/--tls-key (see vpnd cert generate) or listen "
				 "on 127.0.0.1", o->listen);
		return 0;
	}
	if (tls_load_pem(o->tls_cert, TLS_PEM_CERT, &cert, &e) ||
	    tls_load_pem(o->tls_key, TLS_PEM_KEY, &key, &e)) {
		log_error("TLS: %s", e.msg);
		goto fail;
	}
	if (tls_check_pair(cert, key, &e)) {
		log_error("TLS: --tls-key %s with --tls-cert %s: %s", o->tls_key, o->tls_cert, e.msg);
		goto fail;
	}
	hc->tls_cert_pem = cert;
	hc->tls_key_pem = key;
	log_info("TLS on: serving HTTPS with certificate %s", o->tls_cert);
	return 0;
fail:
	tls_pem_free(cert);
	tls_pem_free(key);
	return -1;
}

/* Parse --advertise: comma-separated CIDRs (at most 64). Returns the count, or -1. */
static int
parse_networks(const char *csv, struct netprefix *out, size_t max)
{
	char buf[2048], *save = NULL, *tok;
	size_t n = 0;

	if (strlen(csv) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", csv);
	for (tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (n == max || !netprefix_parse(tok, &out[n]))
			return -1;
		n++;
	}
	return (int)n;
}

/* An org/sddc id: from the flag, else the one kept in the store, else a new one kept there. */
static enum vpn_err
stored_id(struct store *st, const char *flag, const char *key, char *out, size_t outlen,
	  struct vpn_error *err)
{
	char *v = NULL;
	enum vpn_err rc;
	size_t i;

	if (flag) {
		if (!*flag || strlen(flag) >= outlen)
			return vpn_error_set(err, VPN_E_INVALID, 0, "--%s must be 1..%zu characters",
					     key, outlen - 1);
		for (i = 0; flag[i]; i++)
			if (flag[i] == '/' || (unsigned char)flag[i] <= ' ')
				return vpn_error_set(err, VPN_E_INVALID, 0,
						     "--%s may not contain '/' or blanks", key);
		snprintf(out, outlen, "%s", flag);
		return VPN_OK;
	}
	rc = store_meta_get(st, key, &v, err);
	if (rc == VPN_OK && v) {
		snprintf(out, outlen, "%s", v);
		free(v);
		return VPN_OK;
	}
	if (rc != VPN_E_NOT_FOUND && rc != VPN_OK)
		return rc;
	vpn_error_clear(err);
	util_uuid4(out);
	return store_meta_set(st, key, out, err);
}

/*
 * First start: no refresh token yet. Create the admin token and leave it, for the operator
 * only, in DATA/admin-refresh-token (0600). The log names the file, never the token.
 */
static int
first_token(struct store *st, const char *data)
{
	char tok[AUTH_REFRESH_LEN + 1], path[4096];
	struct vpn_error err;
	long n = auth_token_count(st);
	char *done = NULL;
	FILE *f;
	int fd;

	if (n != 0)
		return n < 0 ? -1 : 0;
	vpn_error_clear(&err);
	/* only the very first start: revoking every token later must not be undone by a restart */
	if (store_meta_get(st, "bootstrap_token_created", &done, NULL) == VPN_OK && done) {
		free(done);
		log_warn("no refresh tokens exist (all were revoked); create one with "
			 "`vpnd token create --role admin --name NAME`");
		return 0;
	}
	snprintf(path, sizeof(path), "%s/admin-refresh-token", data);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0 || fchmod(fd, 0600)) {
		log_error("cannot write %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (auth_token_create(st, "admin", AUTH_ROLE_ADMIN, tok, &err)) {
		log_error("creating the first admin token: %s", err.msg);
		close(fd);
		return -1;
	}
	f = fdopen(fd, "w");
	if (!f || fprintf(f, "%s\n", tok) < 0 || fflush(f) || fsync(fd)) {
		log_error("cannot write %s: %s", path, strerror(errno));
		explicit_bzero(tok, sizeof(tok));
		if (f)
			fclose(f);
		else
			close(fd);
		return -1;
	}
	fclose(f);
	explicit_bzero(tok, sizeof(tok));
	if (store_meta_set(st, "bootstrap_token_created", "1", &err))
		log_warn("could not record the first admin token: %s", err.msg);
	log_info("first start: created the admin refresh token; it is in %s (mode 0600). "
		 "Exchange it at POST /csp/gateway/am/api/auth/api-tokens/authorize", path);
	return 0;
}

int
main(int argc, char **argv)
{
	struct opts o = { "127.0.0.1:8080", "var", NULL, "198.51.100.1", "10.2.0.1", 1 << 20, 0, 60,
			  1024, "info", NULL, NULL, NULL, NULL, NULL, NULL, 1800, false,
			  "10.2.0.0/24,10.2.32.0/20,192.168.1.0/24", false, NULL, 65000, NULL, false,
			  32 * 1024, 0, 0, 0, 10, 100 };
	struct vpn_error err;
	struct store *st = NULL;
	struct model *m = NULL;
	struct api *a = NULL;
	struct http_server *srv = NULL;
	struct model_config mc = { 0 };
	struct api_config ac = { 0 };
	struct http_config hc = { 0 };
	struct auth_config auc = { 0 };
	struct auth *au = NULL;
	struct rz_config rc_cfg = { 0 };
	struct rz *rz = NULL;
	struct rz_backend *be = NULL;
	struct netprefix nets[64];
	int nnets;
	char uri[4096], lockpath[4096], org[128], sddc[128];
	size_t i;
	int lockfd = -1;
	sigset_t ss;
	int sig, rc = 1;

	if (argc > 1 && argv[1][0] != '-') {
		for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
			if (!strcmp(argv[1], subcommands[i].name))
				return subcommands[i].cmd(argc - 1, argv + 1);
		fprintf(stderr, "vpnd: unknown subcommand %s\n", argv[1]);
		usage(stderr);
		return 2;
	}
	rc = parse_opts(argc, argv, &o);
	if (rc)
		return rc == 1 ? 0 : rc;
	rc = 1;
	log_set_level(level_of(o.log_level));
	/* no core dumps: memory holds PSKs, BGP passwords, tokens and the signing key */
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0))
		log_warn("cannot disable core dumps: %s", strerror(errno));
	vpn_error_clear(&err);

	/* Block the stop signals in every thread; main waits for them with sigwait(). */
	sigemptyset(&ss);
	sigaddset(&ss, SIGINT);
	sigaddset(&ss, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &ss, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (mkdir(o.data, 0700) && errno != EEXIST) {
		log_error("cannot create data directory %s: %s", o.data, strerror(errno));
		goto out;
	}
	if (o.store_uri) {
		snprintf(uri, sizeof(uri), "%s", o.store_uri);
	} else {
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
	if (stored_id(st, o.org, "org", org, sizeof(org), &err) ||
	    stored_id(st, o.sddc, "sddc", sddc, sizeof(sddc), &err)) {
		log_error("%s", err.msg);
		goto out;
	}
	if (first_token(st, o.data))
		goto out;
	auc.access_ttl_s = o.token_ttl;
	auc.org_id = org;
	if (auth_open(&au, st, &auc, &err)) {
		log_error("%s", err.msg);
		goto out;
	}
	nnets = parse_networks(o.advertise, nets, sizeof(nets) / sizeof(nets[0]));
	if (nnets < 0) {
		log_error("--advertise: expected comma-separated CIDRs (at most 64)");
		goto out;
	}
	rc_cfg.advertise = nets;
	rc_cfg.nadvertise = (size_t)nnets;
	if (o.real) {
		/* the daemons are tied to this (main) thread, which lives until shutdown */
		struct ss_backend_config sc = { 0 };
		char rundir[4096];

		snprintf(rundir, sizeof(rundir), "%s/real", o.data);
		sc.run_dir = rundir;
		sc.netns = o.netns;
		sc.public_ip = o.public_ip;
		sc.private_ip = o.private_ip;
		sc.local_as = o.local_as;
		sc.router_id = o.router_id;
		sc.kernel_xfrm = o.kernel_xfrm;
		if (o.kernel_xfrm)
			log_warn("--kernel-xfrm: kernel ESP is untested by vpnd's own tests (no ESP XFRM "
				 "on the machines they run on)");
		be = ss_backend_new(&sc, &err);
		if (!be) {
			log_error("realize (real mode): %s", err.msg);
			goto out;
		}
	} else {
		be = sim_backend_new();
		if (!be) {
			log_error("realize: out of memory");
			goto out;
		}
	}
	if (rz_start(&rz, m, be, &rc_cfg, &err)) {	/* owns the backend from here */
		log_error("realize: %s", err.msg);
		goto out;
	}
	ac.max_body = o.max_body;
	ac.org_id = org;
	ac.sddc_id = sddc;
	ac.public_url = o.public_url;
	ac.emulator = !o.no_emulator;
	ac.real_mode = o.real;
	ac.rate_limit = o.rate_limit;
	ac.rate_burst = o.rate_burst;
	ac.auth_rate_limit = o.auth_rate_limit;
	ac.auth_rate_burst = o.auth_rate_burst;
	if (api_new(&a, m, au, rz, &ac)) {
		log_error("api: out of memory");
		goto out;
	}
	hc.listen = o.listen;
	hc.threads = o.threads;
	hc.max_body = o.max_body;
	hc.conn_timeout = o.conn_timeout;
	hc.max_conns = o.max_conns;
	hc.max_conns_per_ip = o.max_conns_per_ip;
	hc.max_header = o.max_header;
	if (tls_setup(&o, &hc))
		goto out;
	if (http_start(&srv, a, &hc, &err)) {
		log_error("http: %s", err.msg);
		goto out;
	}
	/* the URI is not logged: a database URI may carry a password */
	log_info("vpnd %s listening on %s (port %u), %zu objects loaded; org %s, sddc %s",
		 VPND_VERSION, o.listen, http_port(srv), model_count(m), org, sddc);
	if (sigwait(&ss, &sig) == 0)
		log_info("signal %d: shutting down", sig);
	rc = 0;
out:
	/* http first (finishes begun requests), then the store (runs every pending callback,
	 * which may reach the model and http), then what those callbacks use */
	http_stop(srv);
	model_quiesce(m);		/* a recovery thread reads the store */
	store_close(st);
	rz_stop(rz);			/* reads the model: before model_close */
	tls_pem_free(hc.tls_cert_pem);
	tls_pem_free(hc.tls_key_pem);
	api_free(a);
	auth_close(au);
	model_close(m);
	schema_fini();
	if (lockfd >= 0)
		close(lockfd);
	return rc;
}
