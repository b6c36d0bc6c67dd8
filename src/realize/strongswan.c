/*
 * strongswan.c - the `strongswan` realization backend: sessions to charon over VICI (ss_map.c
 * builds the messages), neighbors to a rendered bird.conf (bird.c), status and counters read
 * back from both daemons. Follows ../shared/docs/realization/strongswan-bird-netns.md.
 *
 * State kept here: every applied session (a copy of its rz_session, what was loaded into
 * charon, the addresses and routes added with `ip`, the per-tunnel counter baselines and the
 * last failure charon logged for it) and every applied neighbor (its BIRD inputs). After a
 * daemon restart everything is loaded again from this state.
 */
#include "realize/strongswan.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/hmap.h"
#include "core/log.h"
#include "core/netaddr.h"
#include "core/util.h"
#include "realize/bird.h"
#include "realize/proc.h"
#include "realize/ss_map.h"
#include "realize/vici.h"

#define SS_VICI_TIMEOUT_MS 5000
#define SS_RETRY_MS 10000		/* an INITIATOR without an IKE_SA initiates again */
#define SS_BIRD_TIMEOUT_MS 3000
#define SS_IP_TIMEOUT_MS 5000
#define SS_TUN_DEV "ipsec0"
#define SS_NFT_PATH "/usr/sbin/nft"
#define SS_NFT_TABLE "vpnd_mss"		/* inet vpnd_mss: one base chain per session */
#define SS_MSS_UNREALIZED "tcp_mss_clamping is not realized: nftables is not available in " \
			  "this kernel/namespace"

/* an address or route added with `ip`, undone on remove */
struct ss_ipobj {
	bool route;			/* false: address on ipsec0 */
	char prefix[64];		/* "169.254.10.1/30", "10.92.0.0/24" */
};

struct ss_sess {
	char *path;
	struct rz_session s;		/* copy; s.tunnels owned */
	char conn[SS_NAME_MAX];
	bool conn_loaded, shared_loaded;
	char *loaded_conf;		/* the encoded load-conn message last loaded (no secrets;
					   binary: holds NUL bytes, length in loaded_len) */
	size_t loaded_len;
	char loaded_psk[RZ_PSK_BYTES];
	size_t nip;
	struct ss_ipobj *ip;		/* owned */
	struct rz_counters *base;	/* per tunnel; reset baselines (raw charon counters) */
	char fail[160];			/* last failure charon logged for this IKE_SA */
	int64_t next_retry_ms;		/* wall clock: next check of an INITIATOR's IKE_SA */
	char *mss_rules;		/* the clamping rules installed (chain ss->conn in table
					   SS_NFT_TABLE), '\n'-separated; NULL: no chain */
};

struct ss_nbr {
	char *path;
	struct rz_neighbor n;		/* copy; filters/advertise pointers not used */
	struct bird_plist in, out;
	bool has_in, has_out;
};

struct ss_backend {
	struct rz_backend base;		/* first */
	char run_dir[PATH_MAX / 4];
	char netns[64];
	char conf[512], vici_sock[512], run_sub[512];
	char bconf[512], bcheck[512], bsock[512], bpid[512], blog[512];
	char clog[512], cout[512], bout[512];
	char charon_path[256], bird_path[256], ip_path[64];
	struct netaddr router_id;
	uint32_t local_as, kernel_table;
	bool kernel_xfrm;
	int start_timeout_ms;
	bool nft_ok;			/* nft installed and the kernel took our table (probed once) */

	struct proc *charon, *bird;
	struct vici_conn *vc;		/* commands */
	struct vici_conn *ve;		/* events: log, ike-updown, child-updown */
	struct bird_conn *bc;

	struct hmap sessions;		/* path -> struct ss_sess */
	struct hmap nbrs;		/* path -> struct ss_nbr */
	size_t nadvertise;
	struct netprefix *advertise;	/* copied from the last applied neighbor */

	bool owner_set;
	pthread_t owner;		/* the thread allowed to restart daemons (first ticker) */
};

static const struct rz_backend_ops ss_ops;
static void bird_resync(struct ss_backend *b, const char *why);

/* ---------------------------------------------------------------------------------------- */
/* `ip` without a shell */

/*
 * Run `ip [-n NS] ARGS...` by absolute path (fork/execve, argv as given, no shell), bounded by
 * SS_IP_TIMEOUT_MS. VPN_OK on exit 0; else VPN_E_INTERNAL with the first line ip printed.
 */
static enum vpn_err
run_tool(struct ss_backend *b, bool nft, const char *const *args, struct vpn_error *err)
{
	static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C", NULL };
	const char *argv[24];
	char out[256] = "";
	size_t n = 0, i, got = 0;
	int pfd[2], st = 0;
	int64_t deadline;
	pid_t pid;

	argv[n++] = b->ip_path;
	if (nft && b->netns[0]) {
		argv[n++] = "netns";
		argv[n++] = "exec";
		argv[n++] = b->netns;
		argv[n++] = SS_NFT_PATH;
	} else if (nft) {
		argv[0] = SS_NFT_PATH;
	} else if (b->netns[0]) {
		argv[n++] = "-n";
		argv[n++] = b->netns;
	}
	for (i = 0; args[i] && n < sizeof(argv) / sizeof(argv[0]) - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (pipe2(pfd, O_CLOEXEC))
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "ip: pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "ip: fork: %s", strerror(errno));
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		sigset_t all;

		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		if (null >= 0)
			dup2(null, 0);
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		execve(argv[0], (char *const *)argv, envp);
		_exit(127);
	}
	close(pfd[1]);
	deadline = util_now_ms() + SS_IP_TIMEOUT_MS;
	for (;;) {
		struct pollfd p = { pfd[0], POLLIN, 0 };
		int64_t left = deadline - util_now_ms();
		char tmp[256];
		ssize_t r;

		if (left <= 0)
			break;
		if (poll(&p, 1, (int)left) <= 0)
			continue;
		r = read(pfd[0], tmp, sizeof(tmp));
		if (r <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			break;
		}
		for (i = 0; i < (size_t)r && got < sizeof(out) - 1; i++)
			out[got++] = tmp[i] == '\n' || (unsigned char)tmp[i] < ' ' ? ' ' : tmp[i];
		out[got] = '\0';
	}
	close(pfd[0]);
	if (util_now_ms() >= deadline)
		kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(st) && WEXITSTATUS(st) == 0)
		return VPN_OK;
	return vpn_error_set(err, VPN_E_INTERNAL, 0, "%s %s %s: %s", nft ? "nft" : "ip", args[0],
			     args[1] ? args[1] : "", out[0] ? out : "failed");
}

static enum vpn_err
run_ip(struct ss_backend *b, const char *const *args, struct vpn_error *err)
{
	return run_tool(b, false, args, err);
}

static enum vpn_err
run_nft(struct ss_backend *b, const char *const *args, struct vpn_error *err)
{
	return run_tool(b, true, args, err);
}

static bool
is_default(const struct netprefix *p)
{
	return p->len == 0;
}

static void
prefix_text(const struct netprefix *p, char *out, size_t outlen)
{
	char a[48];

	netaddr_format(&p->addr, a, sizeof(a));
	snprintf(out, outlen, "%s/%u", a, (unsigned)p->len);
}

static enum vpn_err
ipobj_add(struct ss_backend *b, struct ss_sess *ss, bool route, const char *prefix,
	  struct vpn_error *err)
{
	char table[16];
	const char *addr_args[] = { "addr", "replace", prefix, "dev", SS_TUN_DEV, NULL };
	const char *up_args[] = { "link", "set", SS_TUN_DEV, "up", NULL };
	const char *rt_args[] = { "route", "replace", prefix, "dev", SS_TUN_DEV, "table", table,
				  NULL };
	struct ss_ipobj *nv;
	enum vpn_err rc;

	snprintf(table, sizeof(table), "%u", b->kernel_table ? b->kernel_table : 254);
	rc = run_ip(b, route ? rt_args : addr_args, err);
	if (!rc && !route)
		rc = run_ip(b, up_args, err);
	if (rc)
		return rc;
	nv = realloc(ss->ip, (ss->nip + 1) * sizeof(*nv));
	if (!nv)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	ss->ip = nv;
	nv[ss->nip].route = route;
	snprintf(nv[ss->nip].prefix, sizeof(nv[ss->nip].prefix), "%s", prefix);
	ss->nip++;
	return VPN_OK;
}

/* Undo every address/route added for @ss (errors ignored: ipsec0 may be gone with charon). */
static void
ipobj_clear(struct ss_backend *b, struct ss_sess *ss)
{
	char table[16];
	size_t i;

	snprintf(table, sizeof(table), "%u", b->kernel_table ? b->kernel_table : 254);
	for (i = ss->nip; i-- > 0;) {
		const char *addr_args[] = { "addr", "del", ss->ip[i].prefix, "dev", SS_TUN_DEV, NULL };
		const char *rt_args[] = { "route", "del", ss->ip[i].prefix, "dev", SS_TUN_DEV,
					  "table", table, NULL };

		run_ip(b, ss->ip[i].route ? rt_args : addr_args, NULL);
	}
	free(ss->ip);
	ss->ip = NULL;
	ss->nip = 0;
}

/* ---------------------------------------------------------------------------------------- */
/* tcp_mss_clamping with nftables (table inet SS_NFT_TABLE, one base chain per session) */

#define SS_MSS_CHAIN_SPEC "{ type filter hook forward priority mangle; policy accept; }"

/*
 * Once at start: is /usr/sbin/nft there, and does the kernel (of the namespace) take a table,
 * a forward chain at mangle priority and a rule rewriting the MSS option? Leaves an empty
 * `inet vpnd_mss` table (a previous instance's is dropped first: the table is vpnd's).
 */
static bool
nft_probe(struct ss_backend *b)
{
	const char *del[] = { "delete", "table", "inet", SS_NFT_TABLE, NULL };
	const char *add[] = { "add", "table", "inet", SS_NFT_TABLE, NULL };
	const char *chain[] = { "add", "chain", "inet", SS_NFT_TABLE, "probe", SS_MSS_CHAIN_SPEC,
				NULL };
	const char *rule[] = { "add", "rule", "inet", SS_NFT_TABLE, "probe",
			       "tcp flags syn tcp option maxseg size > 1300 "
			       "tcp option maxseg size set 1300", NULL };
	const char *flush[] = { "flush", "chain", "inet", SS_NFT_TABLE, "probe", NULL };
	const char *dchain[] = { "delete", "chain", "inet", SS_NFT_TABLE, "probe", NULL };
	struct vpn_error e;

	if (access(SS_NFT_PATH, X_OK)) {
		log_info("strongswan: %s not installed: tcp_mss_clamping will not be realized",
			 SS_NFT_PATH);
		return false;
	}
	run_nft(b, del, NULL);
	vpn_error_clear(&e);
	if (run_nft(b, add, &e) || run_nft(b, chain, &e) || run_nft(b, rule, &e)) {
		log_warn("strongswan: nftables does not work here (%s): tcp_mss_clamping will not "
			 "be realized", e.msg);
		run_nft(b, del, NULL);
		return false;
	}
	run_nft(b, flush, NULL);
	run_nft(b, dchain, NULL);
	return true;
}

static bool
appendf(char *out, size_t outlen, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static bool
appendf(char *out, size_t outlen, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out + *used, outlen - *used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= outlen - *used)
		return false;
	*used += (size_t)n;
	return true;
}

/*
 * The session's clamping rules, one a line (NULL: out of memory). OUTBOUND_CONNECTION clamps
 * SYNs leaving into the tunnel (oifname ipsec0), INBOUND_CONNECTION SYNs coming out of it
 * (iifname ipsec0), BOTH both. ipsec0 is shared by every policy-based session (libipsec has
 * one TUN), so a policy-based session also matches its remote subnets (daddr out, saddr in);
 * a route-based one (one per charon) matches the interface only. Only lowers the MSS.
 */
static char *
mss_render(const struct ss_backend *b, const struct ss_sess *ss)
{
	int64_t mss = ss->s.mss.mss > 0 ? ss->s.mss.mss : RZ_MSS_DEFAULT;
	size_t len = (ss->s.ntunnels + 1) * 2 * 256, used = 0, i;
	char *out = malloc(len);
	int d;

	if (!out)
		return NULL;
	out[0] = '\0';
	for (d = 0; d < 2; d++) {
		bool outbound = d == 0;
		const char *iface = outbound ? "oifname \"" SS_TUN_DEV "\" " :
				    "iifname \"" SS_TUN_DEV "\" ";
		int want = outbound ? RZ_MSS_OUTBOUND : RZ_MSS_INBOUND;

		if (ss->s.mss.direction != want && ss->s.mss.direction != RZ_MSS_BOTH)
			continue;
		/* kernel XFRM (untested) has no ipsec0: policy-based sessions match subnets only */
		if (!ss->s.route_based && b->kernel_xfrm)
			iface = "";
		for (i = 0; i < ss->s.ntunnels; i++) {
			const struct netprefix *p = &ss->s.tunnels[i].peer;
			char pt[64] = "";
			bool ok;

			if (!ss->s.route_based && !is_default(p))
				prefix_text(p, pt, sizeof(pt));
			if (ss->s.route_based && i > 0)
				break;
			ok = appendf(out, len, &used, "%s%s%s%s%stcp flags syn tcp option maxseg size "
				     "> %lld tcp option maxseg size set %lld\n", iface,
				     pt[0] ? (p->addr.family == 6 ? "ip6 " : "ip ") : "",
				     pt[0] ? (outbound ? "daddr " : "saddr ") : "", pt,
				     pt[0] ? " " : "", (long long)mss, (long long)mss);
			if (!ok) {
				free(out);
				return NULL;
			}
		}
	}
	return out;
}

/* Remove the session's chain (errors ignored: the table may be gone). */
static void
mss_clear(struct ss_backend *b, struct ss_sess *ss)
{
	const char *flush[] = { "flush", "chain", "inet", SS_NFT_TABLE, ss->conn, NULL };
	const char *del[] = { "delete", "chain", "inet", SS_NFT_TABLE, ss->conn, NULL };

	if (!ss->mss_rules)
		return;
	run_nft(b, flush, NULL);
	run_nft(b, del, NULL);
	free(ss->mss_rules);
	ss->mss_rules = NULL;
}

/*
 * Bring the session's clamping rules in line with ss->s (after the tunnel is loaded: a failure
 * here leaves the tunnel working). No nftables: VPN_E_UNSUPPORTED SS_MSS_UNREALIZED.
 */
static enum vpn_err
mss_sync(struct ss_backend *b, struct ss_sess *ss, struct vpn_error *err)
{
	const char *chain[] = { "add", "chain", "inet", SS_NFT_TABLE, ss->conn, SS_MSS_CHAIN_SPEC,
				NULL };
	char *want = NULL, *line, *save = NULL, *copy;
	enum vpn_err rc = VPN_OK;

	if (ss->s.enabled && ss->s.ntunnels && ss->s.mss.direction != RZ_MSS_NONE) {
		if (!b->nft_ok) {
			mss_clear(b, ss);
			return vpn_error_set(err, VPN_E_UNSUPPORTED, 0, "%s", SS_MSS_UNREALIZED);
		}
		if (!(want = mss_render(b, ss)))
			return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	}
	if (want && ss->mss_rules && !strcmp(want, ss->mss_rules)) {
		free(want);
		return VPN_OK;
	}
	mss_clear(b, ss);
	if (!want)
		return VPN_OK;
	if (!(copy = strdup(want))) {
		free(want);
		return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	}
	ss->mss_rules = want;		/* from here on mss_clear removes the chain */
	rc = run_nft(b, chain, err);
	for (line = strtok_r(copy, "\n", &save); !rc && line; line = strtok_r(NULL, "\n", &save)) {
		const char *rule[] = { "add", "rule", "inet", SS_NFT_TABLE, ss->conn, line, NULL };

		rc = run_nft(b, rule, err);
	}
	free(copy);
	if (rc)
		mss_clear(b, ss);
	return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* daemons */

static enum vpn_err
write_text(const char *path, const char *text, struct vpn_error *err)
{
	return bird_config_write(path, text, strlen(text), err);
}

static enum vpn_err
write_strongswan_conf(struct ss_backend *b, struct vpn_error *err)
{
	char text[4096];

	/* kernel-libipsec must come before kernel-netlink: the first one registered is the
	 * IPsec backend, kernel-netlink then only does addresses, routes, interfaces (recipe §3) */
	snprintf(text, sizeof(text),
		 "# written by vpnd; do not edit\n"
		 "charon {\n"
		 "\tload_modular = no\n"
		 "\tload = random nonce openssl aes sha1 sha2 hmac gcm kdf pem pkcs1 x509 "
		 "revocation constraints pubkey %skernel-netlink socket-default vici\n"
		 "\tinstall_routes = no\n"
		 "\tinstall_virtual_ip = no\n"
		 "\trouting_table = 220\n"
		 "\trouting_table_prio = 32768\n"
		 "\tretransmit_timeout = 1.0\n"
		 "\tretransmit_tries = 3\n"
		 "\tfilelog {\n\t\tcharon-log {\n\t\t\tpath = %s\n\t\t\ttime_format = %%T\n"
		 "\t\t\tdefault = 1\n\t\t\tike_name = yes\n\t\t\tflush_line = yes\n\t\t}\n\t}\n"
		 "\tsyslog {\n\t}\n"
		 "\tplugins {\n\t\tvici {\n\t\t\tsocket = unix://%s\n\t\t}\n\t}\n"
		 "}\n"
		 "swanctl {\n\tsocket = unix://%s\n}\n",
		 b->kernel_xfrm ? "" : "kernel-libipsec ", b->clog, b->vici_sock, b->vici_sock);
	return write_text(b->conf, text, err);
}

static enum vpn_err
start_charon(struct ss_backend *b, struct vpn_error *err)
{
	char envs[600];
	const char *argv[] = { b->charon_path, NULL };
	const char *env[] = { envs, NULL };
	struct proc_spec sp = { 0 };

	snprintf(envs, sizeof(envs), "STRONGSWAN_CONF=%s", b->conf);
	sp.name = "charon";
	sp.argv = argv;
	sp.env = env;
	sp.netns = b->netns[0] ? b->netns : NULL;
	sp.run_dir = b->run_sub;
	sp.ready_path = b->vici_sock;
	sp.ready_timeout_ms = b->start_timeout_ms;
	sp.log_path = b->cout;
	return proc_start(&b->charon, &sp, err);
}

static enum vpn_err
start_bird(struct ss_backend *b, struct vpn_error *err)
{
	const char *argv[] = { b->bird_path, "-f", "-c", b->bconf, "-s", b->bsock, "-P", b->bpid,
			       NULL };
	struct proc_spec sp = { 0 };

	sp.name = "bird";
	sp.argv = argv;
	sp.netns = b->netns[0] ? b->netns : NULL;
	sp.ready_path = b->bsock;
	sp.ready_timeout_ms = b->start_timeout_ms;
	sp.log_path = b->bout;
	return proc_start(&b->bird, &sp, err);
}

static enum vpn_err
vici_up(struct ss_backend *b, struct vpn_error *err)
{
	static const char *const events[] = { "log", "ike-updown", "child-updown" };
	size_t i;
	enum vpn_err rc;

	if (b->vc && vici_conn_broken(b->vc)) {
		vici_close(b->vc);
		b->vc = NULL;
	}
	if (!b->vc && (rc = vici_connect(b->vici_sock, &b->vc, err)))
		return rc;
	if (b->ve && vici_conn_broken(b->ve)) {
		vici_close(b->ve);
		b->ve = NULL;
	}
	if (!b->ve) {
		/* best effort: without events status still works, only fail reasons are lost */
		if (vici_connect(b->vici_sock, &b->ve, NULL))
			return VPN_OK;
		for (i = 0; i < sizeof(events) / sizeof(events[0]); i++)
			if (vici_register(b->ve, events[i], SS_VICI_TIMEOUT_MS, NULL))
				log_warn("strongswan: cannot subscribe to charon's %s events",
					 events[i]);
	}
	return VPN_OK;
}

static enum vpn_err
bird_up(struct ss_backend *b, struct vpn_error *err)
{
	if (b->bc)
		return VPN_OK;
	return bird_connect(b->bsock, &b->bc, err);
}

/* A bird command; on an out-of-step connection reconnect once and retry. */
static enum vpn_err
bird_collect(struct ss_backend *b, const char *cmd, struct buf *out, struct vpn_error *err)
{
	enum vpn_err rc;
	int attempt;

	for (attempt = 0; attempt < 2; attempt++) {
		if ((rc = bird_up(b, err)))
			return rc;
		buf_reset(out);
		rc = bird_cmd_collect(b->bc, cmd, out, SS_BIRD_TIMEOUT_MS, err);
		if (rc == VPN_OK || rc == VPN_E_INVALID || rc == VPN_E_TOO_BIG)
			return rc;
		bird_close(b->bc);
		b->bc = NULL;
	}
	return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* sessions */

static void
sess_free(struct ss_sess *ss)
{
	if (!ss)
		return;
	free(ss->s.tunnels);
	explicit_bzero(ss->s.psk, sizeof(ss->s.psk));
	explicit_bzero(ss->loaded_psk, sizeof(ss->loaded_psk));
	free(ss->loaded_conf);
	free(ss->mss_rules);
	free(ss->ip);
	free(ss->base);
	free(ss->path);
	free(ss);
}

static enum vpn_err
load_msg(struct ss_backend *b, const char *cmd, const struct vici_msg *m, struct vpn_error *err)
{
	struct vici_msg *resp = NULL;
	enum vpn_err rc;

	rc = vici_request(b->vc, cmd, m, &resp, SS_VICI_TIMEOUT_MS, err);
	if (!rc)
		rc = vici_check_success(resp, cmd, err);
	vici_msg_free(resp);
	return rc;
}

/* Take the session out of charon (SAs, config, secret); keep the record. */
static void
sess_unload(struct ss_backend *b, struct ss_sess *ss)
{
	if (b->vc && !vici_conn_broken(b->vc) && (ss->conn_loaded || ss->shared_loaded)) {
		if (ss->conn_loaded) {
			vici_terminate(b->vc, NULL, ss->conn, -1, SS_VICI_TIMEOUT_MS, NULL);
			vici_unload_conn(b->vc, ss->conn, SS_VICI_TIMEOUT_MS, NULL);
		}
		if (ss->shared_loaded)
			vici_unload_shared(b->vc, ss->conn, SS_VICI_TIMEOUT_MS, NULL);
	}
	ss->conn_loaded = ss->shared_loaded = false;
	free(ss->loaded_conf);
	ss->loaded_conf = NULL;
	explicit_bzero(ss->loaded_psk, sizeof(ss->loaded_psk));
	ipobj_clear(b, ss);
}

/*
 * Bring charon and the namespace in line with ss->s. @force: charon lost its state (restart),
 * load everything again.
 */
static enum vpn_err
sess_sync(struct ss_backend *b, struct ss_sess *ss, bool force, struct vpn_error *err)
{
	struct ss_options opt = { NULL, !b->kernel_xfrm };
	struct vici_msg *conn = NULL, *shared = NULL;
	struct buf enc;
	char *conf = NULL;
	size_t i;
	enum vpn_err rc;

	buf_init(&enc, VICI_MAX_PACKET);
	if ((rc = vici_up(b, err)))
		goto out;
	if (force) {
		ss->conn_loaded = ss->shared_loaded = false;
		free(ss->loaded_conf);
		ss->loaded_conf = NULL;
		ipobj_clear(b, ss);
	}
	if (!ss->s.enabled || !ss->s.ntunnels) {
		sess_unload(b, ss);
		goto out;
	}
	conn = ss_load_conn_msg(&ss->s, &opt);
	shared = ss->s.psk[0] ? ss_load_shared_msg(&ss->s) : NULL;
	if (!conn || (ss->s.psk[0] && !shared) || vici_encode(conn, &enc) ||
	    !(conf = util_strndup(enc.p ? enc.p : "", enc.len))) {
		rc = vpn_error_set(err, VPN_E_INVALID, 0, "the session cannot be expressed as a "
				   "charon connection (names or values too long)");
		goto out;
	}
	/* unchanged: nothing to do (a re-derivation must not drop established SAs) */
	if (ss->conn_loaded && ss->loaded_conf && enc.len == ss->loaded_len &&
	    !memcmp(ss->loaded_conf, conf, enc.len) && !strcmp(ss->loaded_psk, ss->s.psk))
		goto out;
	if (ss->conn_loaded) {
		/* changed: take the old SAs down so the new settings are negotiated */
		vici_terminate(b->vc, NULL, ss->conn, -1, SS_VICI_TIMEOUT_MS, NULL);
		if ((rc = vici_unload_conn(b->vc, ss->conn, SS_VICI_TIMEOUT_MS, err)))
			goto out;
		ss->conn_loaded = false;
		ipobj_clear(b, ss);
	}
	if (shared) {
		if ((rc = load_msg(b, "load-shared", shared, err)))
			goto out;
		ss->shared_loaded = true;
	} else if (ss->shared_loaded) {
		vici_unload_shared(b->vc, ss->conn, SS_VICI_TIMEOUT_MS, NULL);
		ss->shared_loaded = false;
	}
	/* the TUN must be addressed before start_action=start sends the first packet */
	if (ss->s.route_based && ss->s.has_vti && !b->kernel_xfrm) {
		char p[64];

		prefix_text(&ss->s.vti, p, sizeof(p));
		if ((rc = ipobj_add(b, ss, false, p, err)))
			goto out;
	}
	if ((rc = load_msg(b, "load-conn", conn, err)))
		goto out;
	ss->conn_loaded = true;
	ss->next_retry_ms = util_now_ms() + SS_RETRY_MS;	/* start_action=start tries first */
	free(ss->loaded_conf);
	ss->loaded_conf = conf;
	ss->loaded_len = enc.len;
	conf = NULL;
	snprintf(ss->loaded_psk, sizeof(ss->loaded_psk), "%s", ss->s.psk);
	ss->fail[0] = '\0';
	/* policy-based: route the remote subnets into the tunnel (libipsec does not) */
	if (!ss->s.route_based && !b->kernel_xfrm) {
		for (i = 0; i < ss->s.ntunnels; i++) {
			char p[64];

			if (is_default(&ss->s.tunnels[i].peer))
				continue;
			prefix_text(&ss->s.tunnels[i].peer, p, sizeof(p));
			if ((rc = ipobj_add(b, ss, true, p, err)))
				goto out;
		}
	}
out:
	vici_msg_free(conn);
	vici_msg_free(shared);
	buf_release(&enc);
	free(conf);
	return rc;
}

static enum vpn_err
ss_apply_session(struct rz_backend *rb, const struct rz_session *s, int64_t now,
		 struct vpn_error *err)
{
	struct ss_backend *b = (struct ss_backend *)rb;
	struct ss_sess *ss = hmap_get(&b->sessions, s->path);
	struct rz_selector *tun = NULL;
	struct rz_counters *base = NULL;
	struct netprefix vti_before;
	bool fresh = !ss, had_vti;
	enum vpn_err rc;

	(void)now;
	if (s->ntunnels) {
		tun = calloc(s->ntunnels, sizeof(*tun));
		base = calloc(s->ntunnels, sizeof(*base));
		if (!tun || !base) {
			free(tun);
			free(base);
			return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
		}
		memcpy(tun, s->tunnels, s->ntunnels * sizeof(*tun));
	}
	if (fresh) {
		ss = calloc(1, sizeof(*ss));
		if (!ss || !(ss->path = strdup(s->path)) ||
		    hmap_put(&b->sessions, ss->path, ss, NULL)) {
			if (ss)
				free(ss->path);
			free(ss);
			free(tun);
			free(base);
			return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
		}
		ss_conn_name(s->path, ss->conn);
	}
	/* keep baselines of tunnels whose selector is unchanged */
	if (!fresh && ss->base)
		for (size_t i = 0; i < s->ntunnels && i < ss->s.ntunnels; i++)
			if (!memcmp(&ss->s.tunnels[i].local, &s->tunnels[i].local,
				    sizeof(s->tunnels[i].local)) &&
			    !memcmp(&ss->s.tunnels[i].peer, &s->tunnels[i].peer,
				    sizeof(s->tunnels[i].peer)))
				base[i] = ss->base[i];
	had_vti = !fresh && ss->s.route_based && ss->s.has_vti;
	vti_before = ss->s.vti;
	free(ss->s.tunnels);
	free(ss->base);
	explicit_bzero(ss->s.psk, sizeof(ss->s.psk));
	ss->s = *s;
	ss->s.tunnels = tun;
	ss->base = base;
	rc = sess_sync(b, ss, false, err);
	/* the tunnel is loaded first: clamping that cannot be realized is an error of its own */
	if (!rc)
		rc = mss_sync(b, ss, err);
	/* a neighbor applied before this session peers from the VTI only after a re-render */
	if (had_vti != (ss->s.route_based && ss->s.has_vti) ||
	    (had_vti && (vti_before.len != ss->s.vti.len ||
			 netaddr_cmp(&vti_before.addr, &ss->s.vti.addr))))
		bird_resync(b, ss->path);
	return rc;
}

static void
ss_remove_session(struct rz_backend *rb, const char *path, int64_t now)
{
	struct ss_backend *b = (struct ss_backend *)rb;
	struct ss_sess *ss = hmap_del(&b->sessions, path);

	(void)now;
	if (!ss)
		return;
	vici_up(b, NULL);
	sess_unload(b, ss);
	mss_clear(b, ss);
	if (ss->s.route_based && ss->s.has_vti)
		bird_resync(b, path);	/* its VTI address is gone: stop peering from it */
	sess_free(ss);
}

/* ---- status from list-sas ---- */

struct raw_status {
	const struct ss_sess *ss;
	enum rz_ike_state ike;
	bool *up;			/* per tunnel */
	struct rz_counters *c;		/* per tunnel, raw */
};

static uint64_t
node_u64(const struct vici_node *sec, const char *key)
{
	const struct vici_node *n = vici_node_child(sec, key);
	const char *v = n ? vici_node_value(n, NULL) : NULL;
	int64_t x;

	return v && util_parse_i64(v, &x) && x > 0 ? (uint64_t)x : 0;
}

static enum rz_ike_state
ike_state_of(const char *st)
{
	if (!st)
		return RZ_IKE_DOWN;
	if (!strcmp(st, "ESTABLISHED") || !strcmp(st, "REKEYING") || !strcmp(st, "REKEYED"))
		return RZ_IKE_UP;
	if (!strcmp(st, "CONNECTING") || !strcmp(st, "CREATED"))
		return RZ_IKE_NEGOTIATING;
	return RZ_IKE_DOWN;
}

static enum vpn_err
on_list_sa(void *arg, const char *event, const struct vici_msg *msg)
{
	struct raw_status *rs = arg;
	const struct vici_node *ike, *children, *ch;

	(void)event;
	for (ike = vici_node_first(vici_root(msg)); ike; ike = vici_node_next(ike)) {
		const struct vici_node *stn;
		enum rz_ike_state st;

		if (vici_node_type(ike) != VICI_NODE_SECTION || strcmp(vici_node_name(ike),
								       rs->ss->conn))
			continue;
		stn = vici_node_child(ike, "state");
		st = ike_state_of(stn ? vici_node_value(stn, NULL) : NULL);
		if (st > rs->ike)
			rs->ike = st;
		children = vici_node_child(ike, "child-sas");
		for (ch = children ? vici_node_first(children) : NULL; ch; ch = vici_node_next(ch)) {
			const struct vici_node *nn = vici_node_child(ch, "name");
			const struct vici_node *cs = vici_node_child(ch, "state");
			const char *name = nn ? vici_node_value(nn, NULL) : NULL;
			const char *cst = cs ? vici_node_value(cs, NULL) : NULL;
			size_t i;

			if (!name || vici_node_type(ch) != VICI_NODE_SECTION)
				continue;
			for (i = 0; i < rs->ss->s.ntunnels; i++) {
				char cname[SS_NAME_MAX];

				ss_child_name(rs->ss->conn, &rs->ss->s, i, cname);
				if (strcmp(cname, name))
					continue;
				if (cst && (!strcmp(cst, "INSTALLED") || !strcmp(cst, "REKEYING") ||
					    !strcmp(cst, "REKEYED")))
					rs->up[i] = true;
				rs->c[i].bytes_in += node_u64(ch, "bytes-in");
				rs->c[i].bytes_out += node_u64(ch, "bytes-out");
				rs->c[i].packets_in += node_u64(ch, "packets-in");
				rs->c[i].packets_out += node_u64(ch, "packets-out");
			}
		}
	}
	return VPN_OK;
}

/* Query charon for @ss; rs->up and rs->c must have ss->s.ntunnels zeroed entries. */
static enum vpn_err
raw_fetch(struct ss_backend *b, const struct ss_sess *ss, struct raw_status *rs,
	  struct vpn_error *err)
{
	enum vpn_err rc;

	rs->ss = ss;
	rs->ike = RZ_IKE_DOWN;
	if (!ss->conn_loaded)
		return VPN_OK;
	if ((rc = vici_up(b, err)))
		return rc;
	return vici_list_sas(b->vc, ss->conn, on_list_sa, rs, SS_VICI_TIMEOUT_MS, err);
}

static uint64_t
since_base(uint64_t cur, uint64_t base)
{
	/* a rekeyed CHILD_SA starts from zero: then the whole new count is new traffic */
	return cur >= base ? cur - base : cur;
}

static enum vpn_err
ss_session_status(struct rz_backend *rb, const char *path, struct rz_session_status *out)
{
	struct ss_backend *b = (struct ss_backend *)rb;
	struct ss_sess *ss = hmap_get(&b->sessions, path);
	struct raw_status rs = { 0 };
	struct vpn_error e;
	size_t i, n;

	memset(out, 0, sizeof(*out));
	if (!ss)
		return VPN_E_NOT_FOUND;
	n = ss->s.ntunnels;
	out->last_update_ms = util_now_ms();
	out->tunnels = n ? calloc(n, sizeof(*out->tunnels)) : NULL;
	rs.up = n ? calloc(n, sizeof(*rs.up)) : NULL;
	rs.c = n ? calloc(n, sizeof(*rs.c)) : NULL;
	if (n && (!out->tunnels || !rs.up || !rs.c)) {
		free(rs.up);
		free(rs.c);
		rz_session_status_release(out);
		return VPN_E_NOMEM;
	}
	out->ntunnels = n;
	vpn_error_clear(&e);
	if (!ss->s.enabled) {
		snprintf(out->fail_reason, sizeof(out->fail_reason), "Session is disabled");
	} else if (raw_fetch(b, ss, &rs, &e)) {
		snprintf(out->fail_reason, sizeof(out->fail_reason), "charon: %.140s", e.msg);
	} else if (rs.ike != RZ_IKE_UP) {
		const char *why = ss->fail[0] ? ss->fail :
				  ss->s.initiation == RZ_INIT_RESPOND_ONLY ?
				  "Waiting for the peer to initiate" :
				  ss->s.initiation == RZ_INIT_ON_DEMAND ?
				  "Waiting for traffic (on-demand)" :
				  rs.ike == RZ_IKE_NEGOTIATING ? "Negotiating" : "IKE SA is down";

		snprintf(out->fail_reason, sizeof(out->fail_reason), "%s", why);
	}
	out->ike = rs.ike;
	for (i = 0; i < n; i++) {
		struct rz_tunnel_status *t = &out->tunnels[i];

		t->sel = ss->s.tunnels[i];
		t->up = rs.ike == RZ_IKE_UP && rs.up[i];
		if (!t->up)
			snprintf(t->down_reason, sizeof(t->down_reason), "%s",
				 rs.ike != RZ_IKE_UP ? "IKE SA is down" : "CHILD SA not installed");
		t->c.bytes_in = since_base(rs.c[i].bytes_in, ss->base[i].bytes_in);
		t->c.bytes_out = since_base(rs.c[i].bytes_out, ss->base[i].bytes_out);
		t->c.packets_in = since_base(rs.c[i].packets_in, ss->base[i].packets_in);
		t->c.packets_out = since_base(rs.c[i].packets_out, ss->base[i].packets_out);
	}
	free(rs.up);
	free(rs.c);
	return VPN_OK;
}

static enum vpn_err
ss_reset_counters(struct rz_backend *rb, const char *path)
{
	struct ss_backend *b = (struct ss_backend *)rb;
	struct ss_sess *ss = hmap_get(&b->sessions, path);
	struct raw_status rs = { 0 };
	size_t n;
	enum vpn_err rc;

	if (!ss)
		return VPN_E_NOT_FOUND;
	n = ss->s.ntunnels;
	if (!n)
		return VPN_OK;
	rs.up = calloc(n, sizeof(*rs.up));
	rs.c = calloc(n, sizeof(*rs.c));
	if (!rs.up || !rs.c) {
		rc = VPN_E_NOMEM;
		goto out;
	}
	rc = raw_fetch(b, ss, &rs, NULL);
	if (!rc)
		memcpy(ss->base, rs.c, n * sizeof(*rs.c));
out:
	free(rs.up);
	free(rs.c);
	return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* BGP */

static void
nbr_free(struct ss_nbr *nb)
{
	if (!nb)
		return;
	bird_plist_release(&nb->in);
	bird_plist_release(&nb->out);
	explicit_bzero(nb->n.password, sizeof(nb->n.password));
	free(nb->path);
	free(nb);
}

static int
nbr_cmp(const void *a, const void *c)
{
	return strcmp(((const struct bird_neighbor *)a)->id, ((const struct bird_neighbor *)c)->id);
}

/* Render bird.conf from the neighbor set, check it, install it and `configure`. */
static enum vpn_err
bird_sync(struct ss_backend *b, struct vpn_error *err)
{
	struct bird_neighbor *nv = NULL;
	struct bird_cfg cfg = { 0 };
	struct buf text;
	size_t pos = 0, n = 0;
	const char *key;
	void *val;
	enum vpn_err rc;

	buf_init(&text, 4u << 20);
	if (b->nbrs.used && !(nv = calloc(b->nbrs.used, sizeof(*nv)))) {
		rc = vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
		goto out;
	}
	while (hmap_next(&b->nbrs, &pos, &key, &val)) {
		struct ss_nbr *nb = val;
		struct bird_neighbor *bn = &nv[n++];
		size_t spos = 0;
		const char *skey;
		void *sval;

		bn->id = nb->n.id;
		bn->addr = nb->n.addr;
		bn->remote_as = nb->n.remote_as;
		bn->password = nb->n.password;
		bn->keepalive_s = nb->n.keepalive_s;
		bn->hold_s = nb->n.hold_s;
		bn->enabled = nb->n.enabled;
		bn->allow_as_in = nb->n.allow_as_in;
		bn->in = nb->has_in ? &nb->in : NULL;
		bn->out = nb->has_out ? &nb->out : NULL;
		/* a neighbor inside a route-based session's VTI subnet talks from the VTI */
		while (hmap_next(&b->sessions, &spos, &skey, &sval)) {
			const struct ss_sess *ss = sval;

			if (ss->s.route_based && ss->s.has_vti &&
			    netprefix_contains(&ss->s.vti, &nb->n.addr)) {
				bn->local_addr = ss->s.vti.addr;
				break;
			}
		}
	}
	if (n > 1)
		qsort(nv, n, sizeof(*nv), nbr_cmp);
	cfg.router_id = b->router_id;
	cfg.local_as = b->local_as;
	cfg.log_path = b->blog;
	cfg.kernel_table = b->kernel_table;
	cfg.kernel_export = true;
	cfg.nadvertise = b->nadvertise;
	cfg.advertise = b->advertise;
	cfg.nneighbors = n;
	cfg.neighbors = nv;
	if ((rc = bird_config_render(&cfg, &text, err)))
		goto out;
	if ((rc = bird_config_write(b->bcheck, text.p, text.len, err)))
		goto out;
	if ((rc = bird_up(b, err)))
		goto out;
	rc = bird_configure(b->bc, b->bcheck, true, SS_BIRD_TIMEOUT_MS, err);
	if (rc)
		goto out;
	if ((rc = bird_config_write(b->bconf, text.p, text.len, err)))
		goto out;
	rc = bird_configure(b->bc, NULL, false, SS_BIRD_TIMEOUT_MS, err);
out:
	if (rc && rc != VPN_E_INVALID && b->bc) {
		bird_close(b->bc);
		b->bc = NULL;
	}
	if (text.p)
		explicit_bzero(text.p, text.len);	/* holds passwords */
	buf_release(&text);
	free(nv);
	return rc;
}

/*
 * Re-render BIRD after a route-based session's VTI changed (a neighbor inside the VTI subnet
 * peers from the VTI address). The session itself is realized either way: only logged.
 */
static void
bird_resync(struct ss_backend *b, const char *why)
{
	struct vpn_error e;

	if (!b->nbrs.used)
		return;
	vpn_error_clear(&e);
	if (bird_sync(b, &e))
		log_warn("strongswan: reconfiguring bird for %s: %s", why, e.msg);
}

static enum vpn_err
ss_apply_neighbor(struct rz_backend *rb, const struct rz_neighbor *n, int64_t now,
		  struct vpn_error *err)
{
	struct ss_backend *b = (struct ss_backend *)rb;
	struct ss_nbr *nb = calloc(1, sizeof(*nb)), *old = NULL;
	struct netprefix *adv = NULL;
	enum vpn_err rc;

	(void)now;
	if (!nb || !(nb->path = strdup(n->path))) {
		nbr_free(nb);
		return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	}
	nb->n = *n;
	nb->n.in_filter = nb->n.out_filter = NULL;
	nb->n.advertise = NULL;
	nb->n.in_prefixes = nb->n.out_prefixes = NULL;
	if (n->in_prefixes) {
		if ((rc = bird_plist_from_json(n->in_prefixes, &nb->in, err)))
			goto fail;
		nb->has_in = true;
	}
	if (n->out_prefixes) {
		if ((rc = bird_plist_from_json(n->out_prefixes, &nb->out, err)))
			goto fail;
		nb->has_out = true;
	}
	if (n->nadvertise) {
		adv = calloc(n->nadvertise, sizeof(*adv));
		if (!adv) {
			rc = vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
			goto fail;
		}
		memcpy(adv, n->advertise, n->nadvertise * sizeof(*adv));
		free(b->advertise);
		b->advertise = adv;
		b->nadvertise = n->nadvertise;
	}
	if (hmap_put(&b->nbrs, nb->path, nb, (void **)&old)) {
		rc = vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
		goto fail;
	}
	rc = bird_sync(b, err);
	if (rc) {
		/* BIRD refused: go back to the previous neighbor set */
		if (old)
			hmap_put(&b->nbrs, old->path, old, NULL);
		else
			hmap_del(&b->nbrs, nb->path);
		nbr_free(nb);
		return rc;
	}
	nbr_free(old);
	return VPN_OK;
fail:
	nbr_free(nb);
	return rc;
}

static void
ss_remove_neighbor(struct rz_backend *rb, const char *path, int64_t now)
{
	struct ss_backend *b = (struct ss_backend *)rb;
	struct ss_nbr *nb = hmap_del(&b->nbrs, path);
	struct vpn_error e;

	(void)now;
	if (!nb)
		return;
	nbr_free(nb);
	vpn_error_clear(&e);
	if (bird_sync(b, &e))
		log_warn("strongswan: removing BGP neighbor %s: %s", path, e.msg);
}

static struct ss_nbr *
nbr_get(struct ss_backend *b, const char *path, char name[BIRD_PROTO_NAME_MAX + 1])
{
	struct ss_nbr *nb = hmap_get(&b->nbrs, path);

	if (!nb || !bird_proto_name(nb->n.id, name))
		return NULL;
	return nb;
}

static enum vpn_err
ss_bgp_status(struct rz_backend *rb, const char *path, struct rz_bgp_status *out)
{
	struct ss_backend *b = (struct ss_backend *)rb;
	char name[BIRD_PROTO_NAME_MAX + 1], cmd[128];
	struct bird_proto *p = NULL;
	struct buf reply;
	size_t n = 0, i;
	enum vpn_err rc;

	memset(out, 0, sizeof(*out));
	if (!nbr_get(b, path, name))
		return VPN_E_NOT_FOUND;
	buf_init(&reply, 1u << 20);
	snprintf(cmd, sizeof(cmd), "show protocols all %s", name);
	rc = bird_collect(b, cmd, &reply, NULL);
	if (!rc)
		rc = bird_parse_protocols(reply.p, reply.len, &p, &n, NULL);
	out->last_update_ms = util_now_ms();
	if (rc) {
		out->state = RZ_BGP_IDLE;	/* BIRD unreachable or not configured yet */
		rc = VPN_OK;
		goto out;
	}
	for (i = 0; i < n; i++)
		if (!strcmp(p[i].name, name)) {
			bird_proto_bgp_status(&p[i], (int64_t)time(NULL), out);
			break;
		}
	out->last_update_ms = util_now_ms();
out:
	free(p);
	buf_release(&reply);
	return rc;
}

static enum vpn_err
ss_routes(struct rz_backend *rb, const char *path, bool advertised, struct rz_route **out,
	  size_t *n)
{
	struct ss_backend *b = (struct ss_backend *)rb;
	char name[BIRD_PROTO_NAME_MAX + 1], cmd[160], src[64] = "";
	struct bird_proto *p = NULL;
	struct buf reply;
	size_t np = 0, i;
	enum vpn_err rc;

	*out = NULL;
	*n = 0;
	if (!nbr_get(b, path, name))
		return VPN_E_NOT_FOUND;
	buf_init(&reply, 8u << 20);
	if (advertised) {
		/* BIRD shows advertised routes as the static ones: next hop is ours (next hop self) */
		snprintf(cmd, sizeof(cmd), "show protocols all %s", name);
		if (!bird_collect(b, cmd, &reply, NULL) &&
		    !bird_parse_protocols(reply.p, reply.len, &p, &np, NULL) && np)
			snprintf(src, sizeof(src), "%s", p[0].source_address);
		free(p);
	}
	snprintf(cmd, sizeof(cmd), advertised ? "show route export %s all" :
		 "show route protocol %s all", name);
	rc = bird_collect(b, cmd, &reply, NULL);
	if (!rc)
		rc = bird_parse_routes(reply.p, reply.len, advertised, out, n, NULL);
	if (rc) {
		*out = NULL;
		*n = 0;
		rc = VPN_OK;		/* nothing known (yet) */
	}
	for (i = 0; advertised && i < *n; i++)
		if (!(*out)[i].next_hop[0])
			snprintf((*out)[i].next_hop, sizeof((*out)[i].next_hop), "%s", src);
	buf_release(&reply);
	return rc;
}

/* ---------------------------------------------------------------------------------------- */
/* tick: supervision and events */

static const struct {
	const char *needle;
	const char *reason;
} fail_words[] = {
	{ "AUTHENTICATION_FAILED", "Authentication failed" },
	{ "MAC mismatched", "Authentication failed" },
	{ "no shared key found", "Authentication failed" },
	{ "NO_PROPOSAL_CHOSEN", "No proposal chosen" },
	{ "no acceptable proposal", "No proposal chosen" },
	{ "TS_UNACCEPTABLE", "Traffic selectors unacceptable" },
	{ "giving up after", "Peer not responding" },
	{ "INVALID_SYNTAX", "Invalid syntax" },
};

static void
on_log_event(struct ss_backend *b, const struct vici_msg *m)
{
	const char *ike = vici_get(m, "ikesa-name"), *msg = vici_get(m, "msg");
	size_t i;

	if (!ike || !msg)
		return;
	for (i = 0; i < sizeof(fail_words) / sizeof(fail_words[0]); i++) {
		size_t pos = 0;
		const char *key;
		void *val;

		if (!strstr(msg, fail_words[i].needle))
			continue;
		while (hmap_next(&b->sessions, &pos, &key, &val)) {
			struct ss_sess *ss = val;

			if (!strcmp(ss->conn, ike))
				snprintf(ss->fail, sizeof(ss->fail), "%s", fail_words[i].reason);
		}
		return;
	}
}

static void
drain_events(struct ss_backend *b)
{
	int budget;

	for (budget = 0; b->ve && budget < 1000; budget++) {
		char *name = NULL;
		struct vici_msg *m = NULL;
		enum vpn_err rc = vici_read_event(b->ve, &name, &m, 0, NULL);

		if (rc) {
			if (rc != VPN_E_NOT_FOUND || vici_conn_broken(b->ve)) {
				vici_close(b->ve);
				b->ve = NULL;
			}
			break;
		}
		if (!strcmp(name, "log"))
			on_log_event(b, m);
		else if (!strcmp(name, "ike-updown")) {
			/* an IKE_SA that comes up clears the remembered failure */
			const struct vici_node *sec = vici_node_first(vici_root(m));

			for (; sec; sec = vici_node_next(sec)) {
				const char *sname = vici_node_name(sec);
				size_t pos = 0;
				const char *key;
				void *val;

				if (vici_node_type(sec) != VICI_NODE_SECTION || !sname)
					continue;
				while (hmap_next(&b->sessions, &pos, &key, &val)) {
					struct ss_sess *ss = val;

					if (!strcmp(ss->conn, sname) && vici_get(m, "up"))
						ss->fail[0] = '\0';
				}
			}
		}
		free(name);
		vici_msg_free(m);
	}
}

static void
reload_all(struct ss_backend *b)
{
	size_t pos = 0;
	const char *key;
	void *val;
	struct vpn_error e;

	while (hmap_next(&b->sessions, &pos, &key, &val)) {
		struct ss_sess *ss = val;

		vpn_error_clear(&e);
		if (sess_sync(b, ss, true, &e))
			log_warn("strongswan: reloading %s after a charon restart: %s", ss->path,
				 e.msg);
	}
}

/*
 * charon's start_action=start initiates once, when the connection is loaded: if the peer was
 * not ready then (configured after us, unreachable, refusing), nothing tries again. NSX keeps
 * an INITIATOR session trying, as the sim does: every SS_RETRY_MS, a session with no IKE_SA at
 * all is initiated again (asynchronously: charon returns at once).
 */
static void
retry_initiators(struct ss_backend *b)
{
	int64_t wall = util_now_ms();
	size_t pos = 0;
	void *val;

	while (hmap_next(&b->sessions, &pos, NULL, &val)) {
		struct ss_sess *ss = val;
		struct raw_status rs = { 0 };
		char child[SS_NAME_MAX];
		size_t n = ss->s.ntunnels;

		if (!ss->s.enabled || ss->s.initiation != RZ_INIT_INITIATOR || !ss->conn_loaded ||
		    !n || wall < ss->next_retry_ms)
			continue;
		ss->next_retry_ms = wall + SS_RETRY_MS;
		rs.up = calloc(n, sizeof(*rs.up));
		rs.c = calloc(n, sizeof(*rs.c));
		if (rs.up && rs.c && !raw_fetch(b, ss, &rs, NULL) && rs.ike == RZ_IKE_DOWN) {
			ss_child_name(ss->conn, &ss->s, 0, child);
			if (vici_initiate(b->vc, child, ss->conn, -1, SS_VICI_TIMEOUT_MS, NULL))
				log_debug("strongswan: initiating %s again failed", ss->path);
		}
		free(rs.up);
		free(rs.c);
	}
}

static void
ss_tick(struct rz_backend *rb, int64_t now)
{
	struct ss_backend *b = (struct ss_backend *)rb;
	struct vpn_error e;
	bool restarted = false;

	(void)now;
	if (!b->owner_set) {
		b->owner = pthread_self();
		b->owner_set = true;
	}
	if (pthread_equal(b->owner, pthread_self())) {
		vpn_error_clear(&e);
		if (proc_check(b->charon, &restarted, &e) == VPN_OK && restarted) {
			log_warn("strongswan: charon was restarted; loading every session again");
			vici_close(b->vc);
			vici_close(b->ve);
			b->vc = b->ve = NULL;
			reload_all(b);
		}
		restarted = false;
		vpn_error_clear(&e);
		if (proc_check(b->bird, &restarted, &e) == VPN_OK && restarted) {
			log_warn("strongswan: bird was restarted; configuring it again");
			bird_close(b->bc);
			b->bc = NULL;
			vpn_error_clear(&e);
			if (bird_sync(b, &e))
				log_warn("strongswan: configuring bird: %s", e.msg);
		}
	}
	if (!b->ve && proc_alive(b->charon))
		vici_up(b, NULL);
	drain_events(b);
	retry_initiators(b);
}

/* ---------------------------------------------------------------------------------------- */
/* life cycle */

static void
ss_destroy(struct rz_backend *rb)
{
	struct ss_backend *b = (struct ss_backend *)rb;
	size_t pos = 0;
	const char *key;
	void *val;

	if (!b)
		return;
	if (b->charon && proc_alive(b->charon))
		vici_up(b, NULL);
	while (hmap_next(&b->sessions, &pos, &key, &val)) {
		sess_unload(b, val);
		mss_clear(b, val);
		sess_free(val);
	}
	if (b->nft_ok) {
		const char *del[] = { "delete", "table", "inet", SS_NFT_TABLE, NULL };

		run_nft(b, del, NULL);
	}
	pos = 0;
	while (hmap_next(&b->nbrs, &pos, &key, &val))
		nbr_free(val);
	hmap_release(&b->sessions);
	hmap_release(&b->nbrs);
	vici_close(b->vc);
	vici_close(b->ve);
	bird_close(b->bc);
	proc_stop(b->bird);
	proc_stop(b->charon);
	free(b->advertise);
	free(b);
}

void
ss_backend_pids(struct rz_backend *rb, int *charon_pid, int *bird_pid)
{
	struct ss_backend *b = (struct ss_backend *)rb;

	if (charon_pid)
		*charon_pid = b && b->charon ? (int)proc_pid(b->charon) : 0;
	if (bird_pid)
		*bird_pid = b && b->bird ? (int)proc_pid(b->bird) : 0;
}

static bool
path_join(char *out, size_t outlen, const char *dir, const char *name)
{
	return snprintf(out, outlen, "%s/%s", dir, name) < (int)outlen;
}

struct rz_backend *
ss_backend_new(const struct ss_backend_config *cfg, struct vpn_error *err)
{
	static const char *const ips[] = { "/usr/sbin/ip", "/sbin/ip", "/bin/ip", "/usr/bin/ip" };
	struct ss_backend *b = NULL;
	char real[PATH_MAX];
	size_t i;
	bool ok = true;

	if (!cfg || !cfg->run_dir || !cfg->run_dir[0]) {
		vpn_error_set(err, VPN_E_INVALID, 0, "strongswan: a run directory is required");
		return NULL;
	}
	if (mkdir(cfg->run_dir, 0700) && errno != EEXIST) {
		vpn_error_set(err, VPN_E_INVALID, 0, "strongswan: cannot create %s: %s",
			      cfg->run_dir, strerror(errno));
		return NULL;
	}
	if (!realpath(cfg->run_dir, real)) {
		vpn_error_set(err, VPN_E_INVALID, 0, "strongswan: %s: %s", cfg->run_dir,
			      strerror(errno));
		return NULL;
	}
	b = calloc(1, sizeof(*b));
	if (!b) {
		vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
		return NULL;
	}
	b->base.ops = &ss_ops;
	hmap_init(&b->sessions);
	hmap_init(&b->nbrs);
	if (cfg->netns && (strlen(cfg->netns) >= sizeof(b->netns) || strchr(cfg->netns, '/'))) {
		vpn_error_set(err, VPN_E_INVALID, 0, "strongswan: bad network namespace name");
		goto fail;
	}
	snprintf(b->netns, sizeof(b->netns), "%s", cfg->netns ? cfg->netns : "");
	ok = snprintf(b->run_dir, sizeof(b->run_dir), "%s", real) < (int)sizeof(b->run_dir) &&
	     path_join(b->conf, sizeof(b->conf), real, "strongswan.conf") &&
	     path_join(b->vici_sock, 108, real, "charon.vici") &&
	     path_join(b->run_sub, sizeof(b->run_sub), real, "run") &&
	     path_join(b->clog, sizeof(b->clog), real, "charon.log") &&
	     path_join(b->cout, sizeof(b->cout), real, "charon.out") &&
	     path_join(b->bconf, sizeof(b->bconf), real, "bird.conf") &&
	     path_join(b->bcheck, sizeof(b->bcheck), real, "bird-check.conf") &&
	     path_join(b->bsock, 108, real, "bird.ctl") &&
	     path_join(b->bpid, sizeof(b->bpid), real, "bird.pid") &&
	     path_join(b->blog, sizeof(b->blog), real, "bird.log") &&
	     path_join(b->bout, sizeof(b->bout), real, "bird.out");
	if (!ok) {
		vpn_error_set(err, VPN_E_INVALID, 0, "strongswan: run directory path too long for "
			      "unix sockets: %s", real);
		goto fail;
	}
	if (mkdir(b->run_sub, 0700) && errno != EEXIST) {
		vpn_error_set(err, VPN_E_INVALID, 0, "strongswan: cannot create %s: %s", b->run_sub,
			      strerror(errno));
		goto fail;
	}
	snprintf(b->charon_path, sizeof(b->charon_path), "%s",
		 cfg->charon_path ? cfg->charon_path : "/usr/lib/ipsec/charon");
	snprintf(b->bird_path, sizeof(b->bird_path), "%s",
		 cfg->bird_path ? cfg->bird_path : "/usr/sbin/bird");
	for (i = 0; i < sizeof(ips) / sizeof(ips[0]); i++)
		if (!access(ips[i], X_OK)) {
			snprintf(b->ip_path, sizeof(b->ip_path), "%s", ips[i]);
			break;
		}
	if (!b->ip_path[0]) {
		vpn_error_set(err, VPN_E_INVALID, 0, "strongswan: ip (iproute2) not installed");
		goto fail;
	}
	b->nft_ok = !cfg->no_nft && nft_probe(b);
	b->local_as = cfg->local_as ? cfg->local_as : 65000;
	b->kernel_table = cfg->kernel_table;
	b->kernel_xfrm = cfg->kernel_xfrm;
	b->start_timeout_ms = cfg->start_timeout_ms;
	if (!netaddr_parse(cfg->router_id ? cfg->router_id :
			   cfg->public_ip ? cfg->public_ip : "192.0.2.1", &b->router_id) ||
	    b->router_id.family != 4) {
		vpn_error_set(err, VPN_E_INVALID, 0, "strongswan: the router id must be an IPv4 "
			      "address");
		goto fail;
	}
	if (write_strongswan_conf(b, err))
		goto fail;
	/* a first bird.conf without neighbors, so bird starts with a valid file */
	{
		struct bird_cfg bc = { 0 };
		struct buf text;
		enum vpn_err rc;

		buf_init(&text, 1u << 20);
		bc.router_id = b->router_id;
		bc.local_as = b->local_as;
		bc.log_path = b->blog;
		bc.kernel_table = b->kernel_table;
		bc.kernel_export = true;
		rc = bird_config_render(&bc, &text, err);
		if (!rc)
			rc = bird_config_write(b->bconf, text.p, text.len, err);
		buf_release(&text);
		if (rc)
			goto fail;
	}
	if (start_charon(b, err) || start_bird(b, err))
		goto fail;
	if (vici_up(b, err) || bird_up(b, err))
		goto fail;
	log_info("strongswan: charon pid %d, bird pid %d%s%s, run dir %s, %s ESP",
		 (int)proc_pid(b->charon), (int)proc_pid(b->bird), b->netns[0] ? " in netns " : "",
		 b->netns, b->run_dir, b->kernel_xfrm ? "kernel XFRM (untested)" :
		 "userspace (kernel-libipsec)");
	return &b->base;
fail:
	ss_destroy(&b->base);
	return NULL;
}

static const struct rz_backend_ops ss_ops = {
	.name = "strongswan",
	.apply_session = ss_apply_session,
	.remove_session = ss_remove_session,
	.apply_neighbor = ss_apply_neighbor,
	.remove_neighbor = ss_remove_neighbor,
	.tick = ss_tick,
	.session_status = ss_session_status,
	.reset_counters = ss_reset_counters,
	.bgp_status = ss_bgp_status,
	.routes = ss_routes,
	.destroy = ss_destroy,
};
