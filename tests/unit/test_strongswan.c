/*
 * src/realize/strongswan.c against the real daemons: two temporary network namespaces joined by
 * a veth pair (10.99.0.1/24 <-> 10.99.0.2/24, addresses only inside them), one strongswan
 * backend per namespace (own run dir, own charon and bird), and through struct rz_backend_ops:
 *   - a policy-based session on each side (seed profiles AES_GCM_128 + GROUP21, same PSK; B
 *     respond-only, A initiator): IKE UP and the tunnel UP on both within 10 s;
 *     reset_counters; a changed PSK on A: DOWN with "Authentication failed"; remove_session:
 *     NOT_FOUND and nothing left in charon (list-sas, list-conns);
 *   - a route-based session (VTI 169.254.77.1/30 <-> .2/30 on ipsec0) plus a BGP neighbor on
 *     each side (AS 65001 <-> 65002): both ESTABLISHED, routes readable; remove undoes the VTI.
 *
 * Skips (exit 0, reason printed) unless root with charon, bird and ip installed and `ip netns
 * add` working. Cleans up on every path: backends destroyed (daemons stopped by PID), namespaces
 * deleted, temp dir removed; a 60 s alarm does the same with async-signal-safe calls.
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

#define CHARON "/usr/lib/ipsec/charon"
#define BIRD "/usr/sbin/bird"
#define RM "/bin/rm"
#define PSK "vpnd-test-psk-0123456789abcdef"

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

/* Run argv quietly, bounded by 5 s; its exit status, or -1. Async-signal-safe. */
static int
run(char *const argv[])
{
	static char *const envp[] = { "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	struct timespec ts = { 0, 10 * 1000 * 1000 };
	int st, i;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		execve(argv[0], argv, envp);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	return -1;
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
	alarm(60);
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
		    ipns(i, "addr", "add", i ? "10.92.0.1/24" : "10.91.0.1/24", "dev", "lo", NULL))
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
		cfg.local_as = i ? 65002 : 65001;
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
		assert_true(netaddr_parse(side ? "169.254.77.2" : "169.254.77.1", &s->vti.addr));
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

static void
test_policy_based(void **state)
{
	static const char *path = "/infra/tier-0s/vmc/locale-services/default/ipsec-vpn-services/"
				  "default/sessions/pb1";
	struct rz_session s;
	struct rz_selector tun;
	struct rz_session_status st;
	struct vpn_error err;
	int64_t t0, end;
	bool auth = false;

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
	/* applying the same intent again keeps the SAs */
	assert_int_equal(G.b[0]->ops->apply_session(G.b[0], &s, 0, &err), VPN_OK);
	assert_int_equal(status_of(0, path, &st), VPN_OK);
	assert_int_equal(st.ike, RZ_IKE_UP);
	rz_session_status_release(&st);
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_based),
	};
	int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);

	if (G.skip[0])
		printf("test_strongswan: SKIPPED: %s\n", G.skip);
	return rc;
}
