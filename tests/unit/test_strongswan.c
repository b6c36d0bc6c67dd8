/*
 * src/realize/strongswan.c against the real daemons: two temporary network namespaces joined by
 * a veth pair (10.99.0.1/24 <-> 10.99.0.2/24, addresses only inside them), one strongswan
 * backend per namespace (own run dir, own charon and bird), and through struct rz_backend_ops:
 *   - a policy-based session on each side (seed profiles AES_GCM_128 + GROUP21, same PSK; B
 *     respond-only, A initiator): IKE UP and the tunnel UP on both within 10 s;
 *     reset_counters; a changed PSK on A: DOWN with "Authentication failed"; remove_session:
 *     NOT_FOUND and nothing left in charon (list-sas, list-conns);
 *   - a route-based session on each side (one 0/0 child; VTI 169.254.151.2/30 on A's ipsec0,
 *     .1/30 on B's; A initiator, B respond-only) plus a BGP neighbor on each side at the other's
 *     VTI address (A AS 65000 <-> B AS 65001); A announces 10.91.0.0/24 and 10.93.0.0/24, B
 *     10.92.0.0/24; B's in-filter is a prefix list DENY 10.93.0.0/24, PERMIT ANY. Expected: IKE
 *     and tunnel UP and BGP ESTABLISHED on both; B learned 10.91.0.0/24 (in its kernel table via
 *     ipsec0) but not 10.93.0.0/24; A learned 10.92.0.0/24; advertised routes list each side's
 *     networks. Then bird on A is killed (SIGKILL by PID): tick restarts it and configures it
 *     again, BGP re-establishes on both sides within 15 s and B's learned routes are unchanged.
 *     Then charon on A is killed (SIGKILL by PID): tick restarts it and reloads the
 *     session (VTI address included), the session comes UP again and BGP re-establishes;
 *     removing sessions and neighbors takes the VTI address and the learned routes away.
 *   - tcp_mss_clamping BOTH 1300 on a policy-based session: rules in `inet vpnd_mss` (when
 *     /usr/sbin/nft exists), changed and removed with the session; with no_nft apply_session
 *     returns the "not realized" error and the tunnel still comes UP.
 *
 * Skips (exit 0, reason printed) unless root with charon, bird and ip installed and `ip netns
 * add` working. Cleans up on every path: backends destroyed (daemons stopped by PID), namespaces
 * deleted, temp dir removed; a 120 s alarm does the same with async-signal-safe calls.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "realize/rz.h"
#include "realize/ss_map.h"
#include "realize/strongswan.h"
#include "realize/vici.h"
#include "run_quiet.h"

#define CHARON "/usr/lib/ipsec/charon"
#define BIRD "/usr/sbin/bird"
#define RM "/bin/rm"
#define NFT "/usr/sbin/nft"
#define PSK "vpnd-test-psk-0123456789abcdef"
#define PB_PATH "/infra/tier-0s/vmc/locale-services/default/ipsec-vpn-services/default/" \
		"sessions/pb1"

static struct {
	char skip[256];
	const char *ip;
	char ns[2][64];
	bool ns_made[2];
	char dir[64];
	char run[2][128];
	struct rz_backend *b[2];
	volatile pid_t pids[4];
	bool keep_logs;			/* KEEP_LOGS=1: leave the run dirs for debugging */
} G;

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}


static int
ipns(int side, const char *a, const char *b, const char *c, const char *d, const char *e,
     const char *f)
{
	char *argv[] = { (char *)G.ip, "-n", G.ns[side], (char *)a, (char *)b, (char *)c,
			 (char *)d, (char *)e, (char *)f, NULL };

	return run(argv);
}

static void
ns_del_all(void)
{
	int i;

	for (i = 0; i < 2; i++) {
		char *argv[] = { (char *)G.ip, "netns", "del", G.ns[i], NULL };

		if (G.ns_made[i] && run(argv) == 0)
			G.ns_made[i] = false;
	}
}

static void
dir_del(void)
{
	char *const argv[] = { RM, "-rf", "--one-file-system", G.dir, NULL };

	if (G.keep_logs && G.dir[0]) {
		static const char msg[] = "test_strongswan: KEEP_LOGS: run dirs kept\n";

		(void)!write(2, msg, sizeof(msg) - 1);
		return;
	}
	if (G.dir[0])
		run(argv);
	G.dir[0] = '\0';
}

static void
on_alarm(int sig)
{
	static const char msg[] = "test_strongswan: time limit reached, cleaning up\n";
	int i;

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	for (i = 0; i < 4; i++)
		if (G.pids[i] > 0)
			kill(G.pids[i], SIGKILL);
	ns_del_all();
	dir_del();
	_exit(1);
}

static void
remember_pids(void)
{
	int i, c, bd;

	for (i = 0; i < 2; i++) {
		ss_backend_pids(G.b[i], &c, &bd);
		G.pids[2 * i] = c;
		G.pids[2 * i + 1] = bd;
	}
}

static int
group_setup(void **state)
{
	char *argv[] = { NULL, "netns", "add", NULL, NULL };
	struct ss_backend_config cfg;
	struct vpn_error err;
	uint16_t rnd = 0;
	int i;

	(void)state;
	memset(&G, 0, sizeof(G));
	G.keep_logs = getenv("KEEP_LOGS") && !strcmp(getenv("KEEP_LOGS"), "1");
	log_set_level(LOG_LVL_WARN);
	if (geteuid() != 0) {
		snprintf(G.skip, sizeof(G.skip), "not root (network and mount namespaces)");
		return 0;
	}
	if (access(CHARON, X_OK) || access(BIRD, X_OK)) {
		snprintf(G.skip, sizeof(G.skip), "%s or %s not installed (scripts/install-deps.sh)",
			 CHARON, BIRD);
		return 0;
	}
	G.ip = !access("/usr/sbin/ip", X_OK) ? "/usr/sbin/ip" :
	       !access("/sbin/ip", X_OK) ? "/sbin/ip" : !access("/bin/ip", X_OK) ? "/bin/ip" : NULL;
	if (!G.ip) {
		snprintf(G.skip, sizeof(G.skip), "ip (iproute2) not installed");
		return 0;
	}
	signal(SIGALRM, on_alarm);
	alarm(120);
	util_random(&rnd, sizeof(rnd));
	for (i = 0; i < 2; i++) {
		snprintf(G.ns[i], sizeof(G.ns[i]), "vpnd-ss%c-%d-%04x", 'a' + i, (int)getpid(), rnd);
		argv[0] = (char *)G.ip;
		argv[3] = G.ns[i];
		if (run(argv) != 0) {
			snprintf(G.skip, sizeof(G.skip), "`ip netns add` does not work here");
			ns_del_all();
			alarm(0);
			return 0;
		}
		G.ns_made[i] = true;
	}
	{
		char *veth[] = { (char *)G.ip, "-n", G.ns[0], "link", "add", "wan0", "type", "veth",
				 "peer", "name", "wan0", "netns", G.ns[1], NULL };

		if (run(veth) != 0)
			goto broken;
	}
	for (i = 0; i < 2; i++)
		if (ipns(i, "addr", "add", i ? "10.99.0.2/24" : "10.99.0.1/24", "dev", "wan0",
			 NULL) || ipns(i, "link", "set", "wan0", "up", NULL, NULL) ||
		    ipns(i, "link", "set", "lo", "up", NULL, NULL) ||
		    /* kernel-libipsec installs each policy's route with a source address from the
		     * local selector: the gateway needs an address in its inside subnet */
		    ipns(i, "addr", "add", i ? "10.92.0.1/24" : "10.91.0.1/24", "dev", "lo", NULL) ||
		    /* a second network of A, denied by B's in-filter in the route-based test */
		    (!i && ipns(i, "addr", "add", "10.93.0.1/24", "dev", "lo", NULL)))
			goto broken;
	snprintf(G.dir, sizeof(G.dir), "/tmp/vpnd-ss-XXXXXX");
	if (!mkdtemp(G.dir)) {
		G.dir[0] = '\0';
		goto broken;
	}
	for (i = 0; i < 2; i++) {
		snprintf(G.run[i], sizeof(G.run[i]), "%s/gw%d", G.dir, i + 1);
		memset(&cfg, 0, sizeof(cfg));
		cfg.run_dir = G.run[i];
		cfg.netns = G.ns[i];
		cfg.public_ip = i ? "10.99.0.2" : "10.99.0.1";
		cfg.local_as = i ? 65001 : 65000;
		vpn_error_clear(&err);
		G.b[i] = ss_backend_new(&cfg, &err);
		if (!G.b[i]) {
			fprintf(stderr, "ss_backend_new: %s\n", err.msg);
			return -1;
		}
		remember_pids();
	}
	return 0;
broken:
	fprintf(stderr, "test_strongswan: cannot set up the namespaces\n");
	return -1;
}

static int
group_teardown(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < 2; i++) {
		if (G.b[i])
			G.b[i]->ops->destroy(G.b[i]);
		G.b[i] = NULL;
	}
	for (i = 0; i < 4; i++)
		G.pids[i] = 0;
	ns_del_all();
	dir_del();
	alarm(0);
	return 0;
}

/* The seed profiles: AES_GCM_128, GROUP21 (IKE: no digest, so prfsha256), PFS on. */
static void
session_init(struct rz_session *s, struct rz_selector *tun, int side, const char *path,
	     bool route_based, enum rz_initiation init, const char *psk)
{
	const char *me = side ? "10.99.0.2" : "10.99.0.1", *peer = side ? "10.99.0.1" : "10.99.0.2";

	memset(s, 0, sizeof(*s));
	memset(tun, 0, sizeof(*tun));
	snprintf(s->path, sizeof(s->path), "%s", path);
	s->route_based = route_based;
	s->enabled = true;
	snprintf(s->local_address, sizeof(s->local_address), "%s", me);
	snprintf(s->local_id, sizeof(s->local_id), "%s", me);
	snprintf(s->peer_address, sizeof(s->peer_address), "%s", peer);
	snprintf(s->peer_id, sizeof(s->peer_id), "%s", peer);
	snprintf(s->psk, sizeof(s->psk), "%s", psk);
	s->initiation = init;
	s->ike.version = RZ_IKE_V2;
	s->ike.enc = RZ_ENC_AES_GCM_128;
	s->ike.dh = RZ_DH(21);
	s->ike.lifetime_s = 86400;
	s->esp.enc = RZ_ENC_AES_GCM_128;
	s->esp.dh = RZ_DH(21);
	s->esp.pfs = true;
	s->esp.lifetime_s = 3600;
	s->dpd.enabled = true;
	s->dpd.periodic = true;
	s->dpd.interval_s = 60;
	s->dpd.retries = 5;
	if (route_based) {
		assert_true(netprefix_parse("0.0.0.0/0", &tun->local));
		assert_true(netprefix_parse("0.0.0.0/0", &tun->peer));
		assert_true(netaddr_parse(side ? "169.254.151.1" : "169.254.151.2", &s->vti.addr));
		s->vti.len = 30;
		s->has_vti = true;
	} else {
		assert_true(netprefix_parse(side ? "10.92.0.0/24" : "10.91.0.0/24", &tun->local));
		assert_true(netprefix_parse(side ? "10.91.0.0/24" : "10.92.0.0/24", &tun->peer));
	}
	s->ntunnels = 1;
	s->tunnels = tun;
}

static enum vpn_err
status_of(int side, const char *path, struct rz_session_status *st)
{
	struct rz_backend *b = G.b[side];

	b->ops->tick(b, 0);
	return b->ops->session_status(b, path, st);
}

/* Poll until both sides report IKE UP and tunnel UP (true), or @ms pass. */
static bool
wait_up(const char *path, int ms)
{
	int64_t end = mono_ms() + ms;

	do {
		struct rz_session_status a, c;
		bool up;

		assert_int_equal(status_of(0, path, &a), VPN_OK);
		assert_int_equal(status_of(1, path, &c), VPN_OK);
		up = a.ike == RZ_IKE_UP && c.ike == RZ_IKE_UP && a.ntunnels == 1 && c.ntunnels == 1 &&
		     a.tunnels[0].up && c.tunnels[0].up;
		rz_session_status_release(&a);
		rz_session_status_release(&c);
		if (up)
			return true;
		sleep_ms(50);
	} while (mono_ms() < end);
	{
		struct rz_session_status a, c;

		status_of(0, path, &a);
		status_of(1, path, &c);
		fprintf(stderr, "    not up: A ike=%d (%s) tunnel=%d (%s); B ike=%d (%s) tunnel=%d\n",
			(int)a.ike, a.fail_reason, a.ntunnels && a.tunnels[0].up,
			a.ntunnels ? a.tunnels[0].down_reason : "", (int)c.ike, c.fail_reason,
			c.ntunnels && c.tunnels[0].up);
		rz_session_status_release(&a);
		rz_session_status_release(&c);
	}
	return false;
}

struct count {
	const char *conn;
	int n;
};

static enum vpn_err
count_cb(void *arg, const char *event, const struct vici_msg *msg)
{
	struct count *c = arg;

	(void)event;
	if (vici_node_child(vici_root(msg), c->conn))
		c->n++;
	return VPN_OK;
}

/* How many SAs and conns charon of @side has for session @path. */
static int
charon_has(int side, const char *path)
{
	char sock[256], conn[SS_NAME_MAX];
	struct vici_conn *vc = NULL;
	struct count c = { conn, 0 };

	ss_conn_name(path, conn);
	snprintf(sock, sizeof(sock), "%s/charon.vici", G.run[side]);
	assert_int_equal(vici_connect(sock, &vc, NULL), VPN_OK);
	assert_int_equal(vici_list_sas(vc, NULL, count_cb, &c, 5000, NULL), VPN_OK);
	assert_int_equal(vici_list_conns(vc, NULL, count_cb, &c, 5000, NULL), VPN_OK);
	vici_close(vc);
	return c.n;
}

static enum vpn_err
uid_cb(void *arg, const char *event, const struct vici_msg *msg)
{
	struct count *c = arg;
	const struct vici_node *ike = vici_node_child(vici_root(msg), c->conn);
	const struct vici_node *u = ike ? vici_node_child(ike, "uniqueid") : NULL;
	const char *v = u ? vici_node_value(u, NULL) : NULL;

	(void)event;
	if (v)
		c->n = atoi(v);
	return VPN_OK;
}

/* The unique id of charon's IKE_SA for session @path on @side (0: none). */
static int
ike_uniqueid(int side, const char *path)
{
	char sock[256], conn[SS_NAME_MAX];
	struct vici_conn *vc = NULL;
	struct count c = { conn, 0 };

	ss_conn_name(path, conn);
	snprintf(sock, sizeof(sock), "%s/charon.vici", G.run[side]);
	assert_int_equal(vici_connect(sock, &vc, NULL), VPN_OK);
	assert_int_equal(vici_list_sas(vc, conn, uid_cb, &c, 5000, NULL), VPN_OK);
	vici_close(vc);
	return c.n;
}

static void
test_policy_based(void **state)
{
	static const char *path = PB_PATH;
	struct rz_session s;
	struct rz_selector tun;
	struct rz_session_status st;
	struct vpn_error err;
	int64_t t0, end;
	bool auth = false;
	int uid;

	(void)state;
	if (G.skip[0])
		skip();
	vpn_error_clear(&err);
	session_init(&s, &tun, 1, path, false, RZ_INIT_RESPOND_ONLY, PSK);
	assert_int_equal(G.b[1]->ops->apply_session(G.b[1], &s, 0, &err), VPN_OK);
	session_init(&s, &tun, 0, path, false, RZ_INIT_INITIATOR, PSK);
	t0 = mono_ms();
	assert_int_equal(G.b[0]->ops->apply_session(G.b[0], &s, 0, &err), VPN_OK);
	assert_true(wait_up(path, 10000));
	fprintf(stderr, "    policy-based: IKE and tunnel UP on both sides %lld ms after apply\n",
		(long long)(mono_ms() - t0));
	/* applying the same intent again keeps the SAs (same IKE_SA in charon) */
	uid = ike_uniqueid(0, path);
	assert_true(uid > 0);
	assert_int_equal(G.b[0]->ops->apply_session(G.b[0], &s, 0, &err), VPN_OK);
	assert_int_equal(status_of(0, path, &st), VPN_OK);
	assert_int_equal(st.ike, RZ_IKE_UP);
	rz_session_status_release(&st);
	assert_int_equal(ike_uniqueid(0, path), uid);
	assert_int_equal(G.b[0]->ops->reset_counters(G.b[0], path), VPN_OK);
	assert_int_equal(status_of(0, path, &st), VPN_OK);
	assert_int_equal(st.tunnels[0].c.packets_in, 0);
	rz_session_status_release(&st);

	/* a wrong PSK: DOWN with an authentication fail reason */
	session_init(&s, &tun, 0, path, false, RZ_INIT_INITIATOR, "not-the-right-psk");
	assert_int_equal(G.b[0]->ops->apply_session(G.b[0], &s, 0, &err), VPN_OK);
	end = mono_ms() + 10000;
	do {
		assert_int_equal(status_of(0, path, &st), VPN_OK);
		auth = st.ike == RZ_IKE_DOWN && strstr(st.fail_reason, "Authentication");
		if (auth)
			fprintf(stderr, "    wrong PSK: DOWN, fail_reason \"%s\", tunnel: \"%s\"\n",
				st.fail_reason, st.tunnels[0].down_reason);
		rz_session_status_release(&st);
		if (!auth)
			sleep_ms(50);
	} while (!auth && mono_ms() < end);
	assert_true(auth);

	/* remove: gone from the backend and from charon */
	G.b[0]->ops->remove_session(G.b[0], path, 0);
	G.b[1]->ops->remove_session(G.b[1], path, 0);
	assert_int_equal(status_of(0, path, &st), VPN_E_NOT_FOUND);
	assert_int_equal(status_of(1, path, &st), VPN_E_NOT_FOUND);
	assert_int_equal(charon_has(0, path), 0);
	assert_int_equal(charon_has(1, path), 0);
}

/* ---- route-based + BGP ---- */

static void
neighbor_init(struct rz_neighbor *n, int side, const char *path, struct netprefix *adv,
	      size_t *nadv, json_t *in_prefixes)
{
	const char *peer = side ? "169.254.151.2" : "169.254.151.1";

	memset(n, 0, sizeof(*n));
	snprintf(n->path, sizeof(n->path), "%s", path);
	snprintf(n->id, sizeof(n->id), "%s", side ? "to-sddc-a" : "to-sddc-b");
	assert_true(netaddr_parse(peer, &n->addr));
	snprintf(n->addr_text, sizeof(n->addr_text), "%s", peer);
	n->remote_as = side ? 65000 : 65001;
	snprintf(n->remote_as_text, sizeof(n->remote_as_text), "%u", (unsigned)n->remote_as);
	n->local_as = side ? 65001 : 65000;
	n->enabled = true;
	n->keepalive_s = 3;
	n->hold_s = 9;
	n->in_prefixes = in_prefixes;
	*nadv = 0;
	if (side) {
		assert_true(netprefix_parse("10.92.0.0/24", &adv[(*nadv)++]));
	} else {
		assert_true(netprefix_parse("10.91.0.0/24", &adv[(*nadv)++]));
		assert_true(netprefix_parse("10.93.0.0/24", &adv[(*nadv)++]));
	}
	n->nadvertise = *nadv;
	n->advertise = adv;
}

static enum rz_bgp_state
bgp_state(int side, const char *path)
{
	struct rz_bgp_status st;

	G.b[side]->ops->tick(G.b[side], 0);
	assert_int_equal(G.b[side]->ops->bgp_status(G.b[side], path, &st), VPN_OK);
	return st.state;
}

static bool
has_route(int side, const char *path, bool advertised, const char *net)
{
	struct netprefix want;
	struct rz_route *r = NULL;
	size_t n = 0, i;
	bool found = false;

	assert_true(netprefix_parse(net, &want));
	assert_int_equal(G.b[side]->ops->routes(G.b[side], path, advertised, &r, &n), VPN_OK);
	for (i = 0; i < n; i++)
		if (r[i].net.len == want.len && !netaddr_cmp(&r[i].net.addr, &want.addr))
			found = true;
	free(r);
	return found;
}

static int
route_cmp(const void *a, const void *b)
{
	return strcmp((const char *)a, (const char *)b);
}

/* @side's learned routes of @path as sorted "net/len" strings; returns the count. */
static size_t
routes_snapshot(int side, const char *path, char out[][64], size_t max)
{
	struct rz_route *r = NULL;
	size_t n = 0, i, k = 0;

	assert_int_equal(G.b[side]->ops->routes(G.b[side], path, false, &r, &n), VPN_OK);
	for (i = 0; i < n && k < max; i++, k++) {
		char a[48];

		netaddr_format(&r[i].net.addr, a, sizeof(a));
		snprintf(out[k], 64, "%s/%u", a, (unsigned)r[i].net.len);
	}
	assert_true(n <= max);
	free(r);
	qsort(out, k, 64, route_cmp);
	return k;
}

/* The file @name in @side's run directory has a line containing @needle. */
static bool
file_has(int side, const char *name, const char *needle)
{
	char path[256], line[512];
	bool hit = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", G.run[side], name);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			hit = true;
	fclose(f);
	return hit;
}

/* `ip -n NS -4 OBJ show ARGS` of @side contains @needle. */
static bool
ip_shows(int side, const char *obj, const char *arg, const char *needle)
{
	char cmd[512], line[512];
	bool hit = false;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s -n %s -4 %s show %s 2>/dev/null", G.ip, G.ns[side], obj,
		 arg);
	f = popen(cmd, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			hit = true;
	pclose(f);
	return hit;
}

/* Poll (ticking both backends) until BGP is ESTABLISHED on both sides and the routes arrived. */
static bool
wait_bgp(const char *nbr_path, int ms)
{
	int64_t end = mono_ms() + ms;
	enum rz_bgp_state a, c;

	do {
		a = bgp_state(0, nbr_path);
		c = bgp_state(1, nbr_path);
		if (a == RZ_BGP_ESTABLISHED && c == RZ_BGP_ESTABLISHED &&
		    has_route(0, nbr_path, false, "10.92.0.0/24") &&
		    has_route(1, nbr_path, false, "10.91.0.0/24"))
			return true;
		sleep_ms(100);
	} while (mono_ms() < end);
	fprintf(stderr, "    BGP not up: A %s, B %s\n", rz_bgp_state_name(a), rz_bgp_state_name(c));
	return false;
}

static void
test_route_based_bgp(void **state)
{
	static const char *path = "/infra/tier-0s/vmc/locale-services/default/ipsec-vpn-services/"
				  "default/sessions/rb1";
	static const char *nbr = "/infra/tier-0s/vmc/locale-services/default/bgp/neighbors/vti1";
	struct rz_session s;
	struct rz_selector tun;
	struct rz_neighbor n;
	struct netprefix adv[2];
	struct vpn_error err;
	json_t *deny;
	size_t nadv;
	int64_t t0, t1, end;
	int old_pid = 0, new_pid = 0, uid, i;
	char b_before[8][64], b_after[8][64];
	size_t nb_before;
	bool ok = false;

	(void)state;
	if (G.skip[0])
		skip();
	/* independent of how test_policy_based ended */
	for (i = 0; i < 2; i++)
		G.b[i]->ops->remove_session(G.b[i], PB_PATH, 0);
	vpn_error_clear(&err);
	deny = json_pack("[{s:s, s:s}, {s:s, s:s}]", "network", "10.93.0.0/24", "action", "DENY",
			 "network", "ANY", "action", "PERMIT");
	assert_non_null(deny);

	/* both orders the engine may use: B gets its neighbor before the session, A after */
	t0 = mono_ms();
	neighbor_init(&n, 1, nbr, adv, &nadv, deny);
	if (G.b[1]->ops->apply_neighbor(G.b[1], &n, 0, &err) != VPN_OK)
		fail_msg("B apply_neighbor: %s", err.msg);
	session_init(&s, &tun, 1, path, true, RZ_INIT_RESPOND_ONLY, PSK);
	assert_int_equal(G.b[1]->ops->apply_session(G.b[1], &s, 0, &err), VPN_OK);
	session_init(&s, &tun, 0, path, true, RZ_INIT_INITIATOR, PSK);
	assert_int_equal(G.b[0]->ops->apply_session(G.b[0], &s, 0, &err), VPN_OK);
	neighbor_init(&n, 0, nbr, adv, &nadv, NULL);
	if (G.b[0]->ops->apply_neighbor(G.b[0], &n, 0, &err) != VPN_OK)
		fail_msg("A apply_neighbor: %s", err.msg);
	/* BGP over the VTI peers from the VTI address, as in the recipe */
	assert_true(file_has(0, "bird.conf", "local 169.254.151.2 as 65000;"));
	assert_true(file_has(1, "bird.conf", "local 169.254.151.1 as 65001;"));
	assert_true(wait_up(path, 15000));
	t1 = mono_ms();
	fprintf(stderr, "    route-based: IKE and tunnel UP on both sides %lld ms after apply\n",
		(long long)(t1 - t0));
	assert_true(ip_shows(0, "addr", "dev ipsec0", "169.254.151.2/30"));
	assert_true(ip_shows(1, "addr", "dev ipsec0", "169.254.151.1/30"));
	assert_true(wait_bgp(nbr, 15000));
	fprintf(stderr, "    BGP ESTABLISHED on both sides, routes exchanged %lld ms after apply\n",
		(long long)(mono_ms() - t0));
	/* B's in-filter: 10.91.0.0/24 permitted, 10.93.0.0/24 denied */
	assert_true(has_route(1, nbr, false, "10.91.0.0/24"));
	assert_false(has_route(1, nbr, false, "10.93.0.0/24"));
	assert_true(has_route(0, nbr, false, "10.92.0.0/24"));
	assert_false(has_route(0, nbr, false, "10.91.0.0/24"));
	assert_true(has_route(0, nbr, true, "10.91.0.0/24"));
	assert_true(has_route(0, nbr, true, "10.93.0.0/24"));
	assert_true(has_route(1, nbr, true, "10.92.0.0/24"));
	assert_false(has_route(1, nbr, true, "10.91.0.0/24"));
	/* learned routes reach the kernel through the tunnel interface (BIRD's kernel export) */
	end = mono_ms() + 5000;
	do {
		ok = ip_shows(1, "route", "10.91.0.0/24", "via 169.254.151.2 dev ipsec0") &&
		     ip_shows(0, "route", "10.92.0.0/24", "via 169.254.151.1 dev ipsec0");
		if (!ok)
			sleep_ms(100);
	} while (!ok && mono_ms() < end);
	assert_true(ok);
	assert_false(ip_shows(1, "route", "10.93.0.0/24", "ipsec0"));
	/* re-applying the same intent keeps the IKE_SA */
	uid = ike_uniqueid(0, path);
	assert_true(uid > 0);
	assert_int_equal(G.b[0]->ops->apply_session(G.b[0], &s, 0, &err), VPN_OK);
	assert_int_equal(ike_uniqueid(0, path), uid);

	/* bird on A dies: tick restarts it and configures it again; B's routes are unchanged */
	nb_before = routes_snapshot(1, nbr, b_before, 8);
	ss_backend_pids(G.b[0], NULL, &old_pid);
	assert_true(old_pid > 0);
	assert_int_equal(kill(old_pid, SIGKILL), 0);
	t0 = mono_ms();
	end = t0 + 15000;
	do {
		G.b[0]->ops->tick(G.b[0], 0);
		ss_backend_pids(G.b[0], NULL, &new_pid);
		if (new_pid > 0 && new_pid != old_pid)
			break;
		sleep_ms(50);
	} while (mono_ms() < end);
	remember_pids();
	assert_true(new_pid > 0 && new_pid != old_pid);
	fprintf(stderr, "    bird on A killed (pid %d), restarted as pid %d in %lld ms\n",
		old_pid, new_pid, (long long)(mono_ms() - t0));
	/* configured again: the neighbor is back in the restarted bird's bird.conf */
	assert_true(file_has(0, "bird.conf", "local 169.254.151.2 as 65000;"));
	assert_true(wait_bgp(nbr, 15000));
	fprintf(stderr, "    BGP ESTABLISHED again %lld ms after the bird kill\n",
		(long long)(mono_ms() - t0));
	ss_backend_pids(G.b[0], NULL, &i);
	assert_int_equal(i, new_pid);	/* no further restart while converging */
	assert_int_equal(routes_snapshot(1, nbr, b_after, 8), nb_before);
	for (i = 0; i < (int)nb_before; i++)
		assert_string_equal(b_after[i], b_before[i]);
	assert_true(has_route(1, nbr, false, "10.91.0.0/24"));
	assert_false(has_route(1, nbr, false, "10.93.0.0/24"));
	assert_true(has_route(0, nbr, false, "10.92.0.0/24"));
	old_pid = new_pid = 0;

	/* charon on A dies: tick restarts it and loads the session again */
	ss_backend_pids(G.b[0], &old_pid, NULL);
	assert_true(old_pid > 0);
	assert_int_equal(kill(old_pid, SIGKILL), 0);
	t0 = mono_ms();
	end = t0 + 15000;
	do {
		G.b[0]->ops->tick(G.b[0], 0);
		ss_backend_pids(G.b[0], &new_pid, NULL);
		if (new_pid > 0 && new_pid != old_pid)
			break;
		sleep_ms(50);
	} while (mono_ms() < end);
	remember_pids();
	assert_true(new_pid > 0 && new_pid != old_pid);
	fprintf(stderr, "    charon on A killed (pid %d), restarted as pid %d in %lld ms\n",
		old_pid, new_pid, (long long)(mono_ms() - t0));
	assert_true(wait_up(path, 15000));
	fprintf(stderr, "    route-based session UP again %lld ms after the kill\n",
		(long long)(mono_ms() - t0));
	assert_true(ip_shows(0, "addr", "dev ipsec0", "169.254.151.2/30"));
	assert_true(wait_bgp(nbr, 30000));
	fprintf(stderr, "    BGP ESTABLISHED again %lld ms after the kill\n",
		(long long)(mono_ms() - t0));

	/* remove: the VTI address and the learned routes go away */
	for (i = 0; i < 2; i++) {
		G.b[i]->ops->remove_neighbor(G.b[i], nbr, 0);
		G.b[i]->ops->remove_session(G.b[i], path, 0);
	}
	assert_int_equal(charon_has(0, path), 0);
	assert_int_equal(charon_has(1, path), 0);
	assert_false(ip_shows(0, "addr", "dev ipsec0", "169.254.151.2/30"));
	assert_false(ip_shows(1, "addr", "dev ipsec0", "169.254.151.1/30"));
	end = mono_ms() + 5000;
	do {
		ok = !ip_shows(1, "route", "10.91.0.0/24", "ipsec0") &&
		     !ip_shows(0, "route", "10.92.0.0/24", "ipsec0");
		if (!ok)
			sleep_ms(100);
	} while (!ok && mono_ms() < end);
	assert_true(ok);
	json_decref(deny);
}

/* `nft list table inet vpnd_mss` in @side's namespace has a line containing @needle. */
static bool
nft_shows(int side, const char *needle)
{
	char cmd[512], line[512];
	bool hit = false;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s netns exec %s %s list table inet vpnd_mss 2>/dev/null",
		 G.ip, G.ns[side], NFT);
	f = popen(cmd, "r");
	if (!f)
		return false;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			hit = true;
	pclose(f);
	return hit;
}

/* (Re)create side A's backend, with or without nftables. */
static void
backend_a(bool no_nft)
{
	struct ss_backend_config cfg;
	struct vpn_error err;

	if (G.b[0])
		G.b[0]->ops->destroy(G.b[0]);
	memset(&cfg, 0, sizeof(cfg));
	cfg.run_dir = G.run[0];
	cfg.netns = G.ns[0];
	cfg.public_ip = "10.99.0.1";
	cfg.local_as = 65000;
	cfg.no_nft = no_nft;
	vpn_error_clear(&err);
	G.b[0] = ss_backend_new(&cfg, &err);
	if (!G.b[0])
		fprintf(stderr, "ss_backend_new: %s\n", err.msg);
	assert_non_null(G.b[0]);
	remember_pids();
}

/*
 * tcp_mss_clamping BOTH 1300 on a policy-based session: with nftables the rules are in
 * `inet vpnd_mss` (out to and in from B's subnet over ipsec0) and go with the session; without
 * (no_nft) apply_session says it is not realized, and the tunnel still comes UP.
 */
static void
test_mss_clamping(void **state)
{
	static const char *path = PB_PATH "-mss";
	static const char *unrealized = "tcp_mss_clamping is not realized: nftables is not "
					"available in this kernel/namespace";
	struct rz_session s;
	struct rz_selector tun;
	struct rz_session_status st;
	struct vpn_error err;
	bool nft = !access(NFT, X_OK);

	(void)state;
	if (G.skip[0])
		skip();
	vpn_error_clear(&err);
	session_init(&s, &tun, 1, path, false, RZ_INIT_RESPOND_ONLY, PSK);
	assert_int_equal(G.b[1]->ops->apply_session(G.b[1], &s, 0, &err), VPN_OK);
	session_init(&s, &tun, 0, path, false, RZ_INIT_INITIATOR, PSK);
	s.mss.direction = RZ_MSS_BOTH;
	s.mss.mss = 1300;
	if (nft) {
		assert_int_equal(G.b[0]->ops->apply_session(G.b[0], &s, 0, &err), VPN_OK);
		assert_true(wait_up(path, 10000));
		assert_true(nft_shows(0, "oifname \"ipsec0\" ip daddr 10.92.0.0/24"));
		assert_true(nft_shows(0, "iifname \"ipsec0\" ip saddr 10.92.0.0/24"));
		assert_true(nft_shows(0, "maxseg size set 1300"));
		/* unchanged: same rules; changed size: replaced */
		assert_int_equal(G.b[0]->ops->apply_session(G.b[0], &s, 0, &err), VPN_OK);
		s.mss.direction = RZ_MSS_OUTBOUND;
		s.mss.mss = 0;
		assert_int_equal(G.b[0]->ops->apply_session(G.b[0], &s, 0, &err), VPN_OK);
		assert_true(nft_shows(0, "maxseg size set 1360"));
		assert_false(nft_shows(0, "maxseg size set 1300"));
		assert_false(nft_shows(0, "iifname"));
		G.b[0]->ops->remove_session(G.b[0], path, 0);
		assert_false(nft_shows(0, "maxseg"));
		assert_true(nft_shows(0, "table inet vpnd_mss"));
		fprintf(stderr, "    MSS clamping: nft rules installed, changed and removed\n");
		s.mss.direction = RZ_MSS_BOTH;
		s.mss.mss = 1300;
	} else {
		fprintf(stderr, "    MSS clamping: %s not installed, only the no-nft case\n", NFT);
	}
	/* no nftables: the tunnel is loaded and comes UP, the clamping is reported */
	backend_a(true);
	vpn_error_clear(&err);
	assert_int_equal(G.b[0]->ops->apply_session(G.b[0], &s, 0, &err), VPN_E_UNSUPPORTED);
	assert_string_equal(err.msg, unrealized);
	assert_true(wait_up(path, 10000));
	assert_false(nft_shows(0, "maxseg"));
	fprintf(stderr, "    MSS clamping without nft: \"%s\", tunnel UP\n", err.msg);
	G.b[0]->ops->remove_session(G.b[0], path, 0);
	G.b[1]->ops->remove_session(G.b[1], path, 0);
	assert_int_equal(status_of(0, path, &st), VPN_E_NOT_FOUND);
	assert_int_equal(charon_has(0, path), 0);
	assert_int_equal(charon_has(1, path), 0);
	backend_a(false);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_based),
		cmocka_unit_test(test_route_based_bgp),
		cmocka_unit_test(test_mss_clamping),
	};
	int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);

	if (G.skip[0])
		printf("test_strongswan: SKIPPED: %s\n", G.skip);
	return rc;
}
