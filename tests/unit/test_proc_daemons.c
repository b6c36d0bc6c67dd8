/*
 * src/realize/proc.c with the real daemons: a private charon (own STRONGSWAN_CONF, VICI socket in
 * a temp dir, the temp run dir bound on /run in its own mount namespace) and a private bird (only
 * `protocol device`), both in a temporary network namespace made with `ip netns add`. Checks the
 * namespaces they landed in, charon's pid file in its run dir, readiness through both control
 * sockets, and that a charon (then a bird) killed with SIGKILL is restarted by proc_check with
 * its control socket back; then stops both by PID.
 *
 * Skips (exit 0, reason printed) unless root, /usr/lib/ipsec/charon, /usr/sbin/bird and ip are
 * installed and `ip netns add` works. Nothing is left behind on any path: the group teardown
 * stops the daemons and deletes the namespace and the temp dir; the 80 s alarm does the same
 * with async-signal-safe calls before exiting; and the daemons get SIGTERM if we die anyway
 * (PR_SET_PDEATHSIG). A run takes about 1-2 s. Nothing asserted depends on the machine's speed:
 * events are polled for up to WAIT_MS, a restart is provoked once proc_next_attempt_ms says it
 * is due, and a clean stop is one after which proc did not log "SIGKILL".
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "core/util.h"
#include "realize/bird.h"
#include "realize/proc.h"
#include "realize/vici.h"
#include "proc_stop_logged.h"
#include "run_quiet.h"

#define WAIT_MS 20000	/* bound for events that must happen (generous: a loaded machine) */

#define CHARON "/usr/lib/ipsec/charon"
#define BIRD "/usr/sbin/bird"
#define RM "/bin/rm"

static struct {
	char skip[256];
	const char *ip;
	char ns[64];
	bool ns_made;
	char dir[64];
	char conf[128], run[96], vici[128];
	char bconf[128], bsock[128], bpid[128];
	char clog[128], blog[128];
	struct proc *charon, *bird;
	/* for the alarm handler: plain data only */
	volatile pid_t pids[2];
} G;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}


static void
ns_del(void)
{
	char *const argv[] = { (char *)G.ip, "netns", "del", G.ns, NULL };

	if (G.ns_made && run(argv) == 0)
		G.ns_made = false;
}

static void
dir_del(void)
{
	char *const argv[] = { RM, "-rf", "--one-file-system", G.dir, NULL };

	if (G.dir[0])
		run(argv);
	G.dir[0] = '\0';
}

/* The bound: leave nothing behind, then fail. */
static void
on_alarm(int sig)
{
	static const char msg[] = "test_proc_daemons: time limit reached, cleaning up\n";
	int i;

	(void)sig;
	(void)!write(2, msg, sizeof(msg) - 1);
	for (i = 0; i < 2; i++)
		if (G.pids[i] > 0)
			kill(G.pids[i], SIGKILL);
	ns_del();
	dir_del();
	_exit(1);
}

static bool
write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return false;
	fputs(text, f);
	return fclose(f) == 0;
}

static bool
write_confs(void)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "charon {\n"
		 "\tload_modular = no\n"
		 "\tload = random nonce openssl aes sha1 sha2 hmac gcm kdf pem pkcs1 x509 "
		 "revocation constraints pubkey kernel-netlink socket-default vici\n"
		 "\tport = 0\n"
		 "\tport_nat_t = 0\n"
		 "\tinstall_routes = no\n"
		 "\tinstall_virtual_ip = no\n"
		 "\tfilelog {\n\t\tstderr {\n\t\t\tdefault = 1\n\t\t}\n\t}\n"
		 "\tsyslog {\n\t}\n"
		 "\tplugins {\n\t\tvici {\n\t\t\tsocket = unix://%s\n\t\t}\n\t}\n"
		 "}\n", G.vici);
	if (!write_file(G.conf, text))
		return false;
	return write_file(G.bconf, "router id 192.0.2.1;\nprotocol device {\n}\n");
}

static int
group_setup(void **state)
{
	char *argv[] = { NULL, "netns", "add", G.ns, NULL };
	uint16_t rnd = 0;

	(void)state;
	memset(&G, 0, sizeof(G));
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
	util_random(&rnd, sizeof(rnd));
	snprintf(G.ns, sizeof(G.ns), "vpnd-proc-%d-%04x", (int)getpid(), rnd);
	argv[0] = (char *)G.ip;
	if (run(argv) != 0) {
		snprintf(G.skip, sizeof(G.skip), "`ip netns add` does not work here");
		return 0;
	}
	G.ns_made = true;
	snprintf(G.dir, sizeof(G.dir), "/tmp/vpnd-procd-XXXXXX");
	if (!mkdtemp(G.dir)) {
		G.dir[0] = '\0';
		ns_del();
		return -1;
	}
	snprintf(G.conf, sizeof(G.conf), "%s/strongswan.conf", G.dir);
	snprintf(G.run, sizeof(G.run), "%s/run", G.dir);
	snprintf(G.vici, sizeof(G.vici), "%s/charon.vici", G.dir);
	snprintf(G.clog, sizeof(G.clog), "%s/charon.log", G.dir);
	snprintf(G.bconf, sizeof(G.bconf), "%s/bird.conf", G.dir);
	snprintf(G.bsock, sizeof(G.bsock), "%s/bird.ctl", G.dir);
	snprintf(G.bpid, sizeof(G.bpid), "%s/bird.pid", G.dir);
	snprintf(G.blog, sizeof(G.blog), "%s/bird.log", G.dir);
	if (mkdir(G.run, 0755) || !write_confs()) {
		dir_del();
		ns_del();
		return -1;
	}
	return 0;
}

static int
group_teardown(void **state)
{
	char path[96];

	(void)state;
	proc_stop(G.charon);
	proc_stop(G.bird);
	G.charon = G.bird = NULL;
	G.pids[0] = G.pids[1] = 0;
	ns_del();
	dir_del();
	if (G.ns[0]) {
		snprintf(path, sizeof(path), "/run/netns/%s", G.ns);
		if (!access(path, F_OK)) {
			fprintf(stderr, "network namespace %s left behind\n", G.ns);
			return -1;
		}
	}
	return 0;
}

static void
skip_unless_ready(void)
{
	if (G.skip[0]) {
		fprintf(stderr, "skipped: %s\n", G.skip);
		skip();
	}
}

static ino_t
ino(const char *path)
{
	struct stat st;

	return stat(path, &st) ? 0 : st.st_ino;
}

static ino_t
ns_ino(pid_t pid, const char *kind)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, kind);
	return ino(path);
}

static int
pidfile_pid(const char *path)
{
	char b[32] = "";
	FILE *f = fopen(path, "r");

	if (!f)
		return 0;
	if (!fgets(b, sizeof(b), f))
		b[0] = '\0';
	fclose(f);
	return (int)strtol(b, NULL, 10);
}

/* A VICI `version` request answered by charon. */
static void
assert_vici_up(void)
{
	struct vici_conn *c = NULL;
	struct vici_msg *resp = NULL;
	struct vpn_error e;

	vpn_error_clear(&e);
	if (vici_connect(G.vici, &c, &e) || vici_request(c, "version", NULL, &resp, 3000, &e))
		fail_msg("vici: %s", e.msg);
	assert_string_equal(vici_get(resp, "daemon"), "charon");
	vici_msg_free(resp);
	vici_close(c);
}

static void
test_charon_and_bird(void **state)
{
	const char *cargv[] = { CHARON, NULL };
	char envbuf[160];
	const char *cenv[] = { envbuf, NULL };
	const char *bargv[] = { BIRD, "-f", "-c", G.bconf, "-s", G.bsock, "-P", G.bpid, NULL };
	struct proc_spec cs = { .name = "charon", .argv = cargv, .env = cenv, .netns = G.ns,
				.run_dir = G.run, .ready_path = G.vici, .ready_timeout_ms = WAIT_MS,
				.log_path = G.clog };
	struct proc_spec bs = { .name = "bird", .argv = bargv, .netns = G.ns,
				.ready_path = G.bsock, .ready_timeout_ms = WAIT_MS,
				.log_path = G.blog };
	struct bird_conn *b = NULL;
	struct vpn_error e;
	char path[160], logged[1024];
	bool restarted = false;
	pid_t cpid, bpid, cpid2;
	int64_t t0, end;

	(void)state;
	skip_unless_ready();
	snprintf(envbuf, sizeof(envbuf), "STRONGSWAN_CONF=%s", G.conf);
	snprintf(path, sizeof(path), "/run/netns/%s", G.ns);

	t0 = now_ms();
	vpn_error_clear(&e);
	if (proc_start(&G.charon, &cs, &e))
		fail_msg("%s", e.msg);
	G.pids[0] = cpid = proc_pid(G.charon);
	if (proc_start(&G.bird, &bs, &e))
		fail_msg("%s", e.msg);
	G.pids[1] = bpid = proc_pid(G.bird);
	fprintf(stderr, "charon %d and bird %d ready in %lld ms (netns %s)\n", (int)cpid,
		(int)bpid, (long long)(now_ms() - t0), G.ns);

	/* both answer on their control sockets */
	assert_vici_up();
	if (bird_connect(G.bsock, &b, &e))
		fail_msg("bird: %s", e.msg);
	fprintf(stderr, "bird %s\n", bird_version(b));
	bird_close(b);

	/* the PIDs are the daemons' own, in the right namespaces */
	assert_true(ino(path) != 0);
	assert_true(ns_ino(cpid, "net") == ino(path));
	assert_true(ns_ino(bpid, "net") == ino(path));
	assert_true(ns_ino(cpid, "net") != ns_ino(getpid(), "net"));
	assert_true(ns_ino(cpid, "mnt") != ns_ino(getpid(), "mnt"));	/* private /run */
	assert_true(ns_ino(bpid, "mnt") == ns_ino(getpid(), "mnt"));
	snprintf(path, sizeof(path), "%s/charon.pid", G.run);
	assert_int_equal(pidfile_pid(path), (int)cpid);	/* /run/charon.pid, through the bind */
	assert_int_equal(pidfile_pid(G.bpid), (int)bpid);
	assert_true(proc_check(G.charon, &restarted, &e) == VPN_OK && !restarted);
	assert_true(proc_check(G.bird, &restarted, &e) == VPN_OK && !restarted);

	/* charon dies hard (stale pid file, socket left) once a restart is due: back, VICI too */
	end = now_ms() + WAIT_MS;
	while (now_ms() < proc_next_attempt_ms(G.charon) && now_ms() < end)
		usleep(10 * 1000);
	assert_int_equal(kill(cpid, SIGKILL), 0);
	t0 = now_ms();
	end = t0 + WAIT_MS;
	while (!restarted && now_ms() < end) {
		vpn_error_clear(&e);
		if (proc_check(G.charon, &restarted, &e) && !strstr(e.msg, "is not running"))
			fail_msg("restart: %s", e.msg);
		if (!restarted)
			usleep(20 * 1000);
	}
	assert_true(restarted);
	G.pids[0] = cpid2 = proc_pid(G.charon);
	fprintf(stderr, "charon restarted as %d in %lld ms\n", (int)cpid2,
		(long long)(now_ms() - t0));
	assert_true(cpid2 > 0 && cpid2 != cpid);
	assert_int_equal(proc_restarts(G.charon), 1);
	assert_vici_up();
	assert_int_equal(pidfile_pid(path), (int)cpid2);
	assert_true(ns_ino(cpid2, "net") == ns_ino(bpid, "net"));
	assert_true(proc_alive(G.bird));

	/* the same for bird (stale control socket and pid file left) */
	assert_int_equal(kill(bpid, SIGKILL), 0);
	restarted = false;
	end = now_ms() + WAIT_MS;
	while (!restarted && now_ms() < end) {
		vpn_error_clear(&e);
		if (proc_check(G.bird, &restarted, &e) && !strstr(e.msg, "is not running"))
			fail_msg("restart: %s", e.msg);
		if (!restarted)
			usleep(20 * 1000);
	}
	assert_true(restarted);
	G.pids[1] = bpid = proc_pid(G.bird);
	if (bird_connect(G.bsock, &b, &e))
		fail_msg("bird: %s", e.msg);
	bird_close(b);
	assert_int_equal(pidfile_pid(G.bpid), (int)bpid);
	assert_true(ns_ino(bpid, "net") == ns_ino(cpid2, "net"));
	assert_true(proc_alive(G.charon));

	/* stopped by PID with SIGTERM: both exit within the grace time (proc logs no SIGKILL) */
	snprintf(path, sizeof(path), "%s/stderr.txt", G.dir);
	t0 = now_ms();
	proc_stop_logged(G.charon, path, logged, sizeof(logged));
	G.charon = NULL;
	G.pids[0] = 0;
	assert_null(strstr(logged, "SIGKILL"));
	proc_stop_logged(G.bird, path, logged, sizeof(logged));
	G.bird = NULL;
	G.pids[1] = 0;
	assert_null(strstr(logged, "SIGKILL"));
	fprintf(stderr, "both stopped in %lld ms\n", (long long)(now_ms() - t0));
	assert_true(kill(cpid2, 0) < 0 && errno == ESRCH);
	assert_true(kill(bpid, 0) < 0 && errno == ESRCH);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_charon_and_bird),
	};
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	log_set_level(LOG_LVL_WARN);
	alarm(4 * WAIT_MS / 1000);
	return cmocka_run_group_tests_name("proc with charon and bird", tests, group_setup,
					   group_teardown) ? 1 : 0;
}
