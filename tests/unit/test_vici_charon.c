/*
 * Integration test for src/realize/vici.c against a real, private strongSwan charon, started as
 * the realization recipe does (../shared/docs/realization/strongswan-bird-netns.md): its own
 * directory bind-mounted on /run in a private mount namespace (charon's pid file is fixed), its
 * own STRONGSWAN_CONF with the VICI socket in that directory, and here also its own empty network
 * namespace (port = 0 anyway), so nothing touches the host's IKE ports or routes.
 *
 * Config-only calls: load-shared, load-conn, list-conns, list-sas, initiate errors, unload-*.
 * Skips (with the reason) without root, without charon or when unshare cannot create the
 * namespaces. charon is killed by PID on every path (and gets SIGKILL via PR_SET_PDEATHSIG if
 * this process dies); the whole run is bounded by alarm().
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
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "realize/vici.h"

#define CHARON "/usr/lib/ipsec/charon"
#define UNSHARE "/usr/bin/unshare"
#define TMO 5000

static struct {
	char dir[64];
	char sock[128];
	pid_t pid;
	char skip[256];
} G;

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void
rm_tree(const char *dir)
{
	if (dir[0])
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* Wait for @pid up to @ms; true once it has been reaped. */
static bool
reap(pid_t pid, int ms)
{
	int64_t end = now_ms() + ms;
	int st;

	do {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return true;
		usleep(20 * 1000);
	} while (now_ms() < end);
	return false;
}

static void
stop_charon(void)
{
	if (G.pid <= 0)
		return;
	kill(G.pid, SIGTERM);
	if (!reap(G.pid, 3000)) {
		kill(G.pid, SIGKILL);
		reap(G.pid, 2000);
	}
	G.pid = 0;
}

/* Can this process create private mount + network namespaces? */
static bool
unshare_ok(void)
{
	pid_t pid;
	int st = -1;
	int64_t end;

	if (access(UNSHARE, X_OK))
		return false;
	pid = fork();
	if (pid < 0)
		return false;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		if (null >= 0) {
			dup2(null, 1);
			dup2(null, 2);
		}
		execl(UNSHARE, "unshare", "-m", "-n", "--propagation", "private", "true",
		      (char *)NULL);
		_exit(127);
	}
	end = now_ms() + 3000;
	while (waitpid(pid, &st, WNOHANG) != pid) {
		if (now_ms() > end) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return false;
		}
		usleep(10 * 1000);
	}
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

static int
write_conf(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fprintf(f,
		"charon {\n"
		"\tload_modular = no\n"
		"\tload = random nonce openssl aes sha1 sha2 hmac gcm kdf pem pkcs1 x509 pubkey "
		"kernel-netlink socket-default vici\n"
		"\tport = 0\n"
		"\tport_nat_t = 0\n"
		"\tinstall_routes = no\n"
		"\tfilelog {\n\t\ttest {\n\t\t\tpath = %s/charon.log\n\t\t\tdefault = 1\n"
		"\t\t\tflush_line = yes\n\t\t}\n\t}\n"
		"\tsyslog {\n\t}\n"
		"\tplugins {\n\t\tvici {\n\t\t\tsocket = unix://%s\n\t\t}\n\t}\n"
		"}\n",
		G.dir, G.sock);
	return fclose(f);
}

static void
print_log_tail(void)
{
	char path[128], line[512];
	FILE *f;
	int n = 0;

	snprintf(path, sizeof(path), "%s/charon.stdout", G.dir);
	f = fopen(path, "r");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f) && n++ < 20)
		fprintf(stderr, "  charon: %s", line);
	fclose(f);
}

static int
charon_start(void **state)
{
	char path[128], run[96];
	struct vici_conn *c = NULL;
	int64_t end;
	int st;

	(void)state;
	memset(&G, 0, sizeof(G));
	if (geteuid() != 0) {
		snprintf(G.skip, sizeof(G.skip), "not root (namespaces and /run bind mount)");
		return 0;
	}
	if (access(CHARON, X_OK)) {
		snprintf(G.skip, sizeof(G.skip), "%s not installed (strongswan-charon)", CHARON);
		return 0;
	}
	if (!unshare_ok()) {
		snprintf(G.skip, sizeof(G.skip), "unshare -m -n cannot create namespaces here");
		return 0;
	}
	snprintf(G.dir, sizeof(G.dir), "/tmp/vpnd-charon-XXXXXX");
	if (!mkdtemp(G.dir)) {
		G.dir[0] = '\0';
		return -1;
	}
	snprintf(G.sock, sizeof(G.sock), "%s/charon.vici", G.dir);
	snprintf(run, sizeof(run), "%s/run", G.dir);
	snprintf(path, sizeof(path), "%s/strongswan.conf", G.dir);
	if (mkdir(run, 0755) || write_conf(path))
		goto fail;
	G.pid = fork();
	if (G.pid < 0)
		goto fail;
	if (G.pid == 0) {
		char out[128];
		int fd;

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		snprintf(out, sizeof(out), "%s/charon.stdout", G.dir);
		fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		setenv("STRONGSWAN_CONF", path, 1);
		/* unshare and sh exec: the PID we hold is charon's */
		execl(UNSHARE, "unshare", "-m", "-n", "--propagation", "private", "sh", "-c",
		      "mount --bind \"$1\" /run && exec " CHARON, "sh", run, (char *)NULL);
		_exit(127);
	}
	end = now_ms() + 5000;
	while (now_ms() < end) {
		if (waitpid(G.pid, &st, WNOHANG) == G.pid) {
			fprintf(stderr, "charon exited early (status %d)\n", st);
			G.pid = 0;
			print_log_tail();
			goto fail;
		}
		if (access(G.sock, F_OK) == 0 && vici_connect(G.sock, &c, NULL) == VPN_OK) {
			vici_close(c);
			fprintf(stderr, "private charon pid %d up in %s\n", (int)G.pid, G.dir);
			return 0;
		}
		usleep(20 * 1000);
	}
	fprintf(stderr, "charon's VICI socket did not appear within 5 s\n");
	print_log_tail();
fail:
	stop_charon();
	rm_tree(G.dir);
	G.dir[0] = '\0';
	return -1;
}

static int
charon_stop(void **state)
{
	(void)state;
	stop_charon();
	rm_tree(G.dir);
	return 0;
}

static struct vici_conn *
conn_or_skip(void)
{
	struct vici_conn *c = NULL;
	struct vpn_error e;

	if (G.skip[0]) {
		fprintf(stderr, "skipped: %s\n", G.skip);
		skip();
	}
	vpn_error_clear(&e);
	if (vici_connect(G.sock, &c, &e))
		fail_msg("connect: %s", e.msg);
	return c;
}

static void
test_version(void **state)
{
	struct vici_conn *c = conn_or_skip();
	struct vici_msg *resp = NULL;
	struct vpn_error e;

	(void)state;
	vpn_error_clear(&e);
	assert_int_equal(vici_request(c, "version", NULL, &resp, TMO, &e), VPN_OK);
	assert_string_equal(vici_get(resp, "daemon"), "charon");
	assert_non_null(vici_get(resp, "version"));
	fprintf(stderr, "charon version %s\n", vici_get(resp, "version"));
	vici_msg_free(resp);
	assert_int_equal(vici_request(c, "no-such-command", NULL, &resp, TMO, &e),
			 VPN_E_UNSUPPORTED);
	vici_close(c);
}

struct seen {
	int n;
	bool has_conn, has_child, local_ok, remote_ts_ok;
};

static enum vpn_err
on_conn(void *arg, const char *event, const struct vici_msg *msg)
{
	struct seen *s = arg;
	const struct vici_node *ike = vici_find(msg, "vpnd-t1"), *n;

	assert_string_equal(event, "list-conn");
	s->n++;
	if (!ike)
		return VPN_OK;
	s->has_conn = true;
	s->has_child = vici_node_child(vici_node_child(ike, "children"), "t1-policy") != NULL;
	n = vici_node_first(vici_node_child(ike, "local_addrs"));
	s->local_ok = n && !strcmp(vici_node_value(n, NULL), "198.18.0.1");
	n = vici_find(msg, "vpnd-t1.children.t1-policy.remote-ts");
	n = vici_node_first(n);
	s->remote_ts_ok = n && !strcmp(vici_node_value(n, NULL), "10.92.0.0/24");
	return VPN_OK;
}

static enum vpn_err
on_sa(void *arg, const char *event, const struct vici_msg *msg)
{
	(void)msg;
	(void)event;
	(*(int *)arg)++;
	return VPN_OK;
}

/* get-shared lists the ids of loaded shared keys; true if @id is among them. */
static bool
shared_has(struct vici_conn *c, const char *id)
{
	struct vici_msg *resp = NULL;
	const struct vici_node *n;
	bool found = false;

	assert_int_equal(vici_request(c, "get-shared", NULL, &resp, TMO, NULL), VPN_OK);
	for (n = vici_node_first(vici_find(resp, "keys")); n; n = vici_node_next(n))
		if (!strcmp(vici_node_value(n, NULL), id))
			found = true;
	vici_msg_free(resp);
	return found;
}

static void
test_load_list_unload(void **state)
{
	static const char *const l[] = { "198.18.0.1" }, *const r[] = { "198.18.0.2" };
	static const char *const props[] = { "aes128gcm16-prfsha256-ecp521",
					     "aes256-sha256-modp2048" };
	static const char *const esp[] = { "aes128gcm16-ecp521" };
	static const char *const lts[] = { "10.91.0.0/24" }, *const rts[] = { "10.92.0.0/24" };
	static const char *const owners[] = { "198.18.0.1", "198.18.0.2" };
	static const char *const bad_props[] = { "no-such-algorithm" };
	struct vici_child_cfg ch = {
		.name = "t1-policy", .local_ts = lts, .nlocal_ts = 1, .remote_ts = rts,
		.nremote_ts = 1, .esp_proposals = esp, .nesp_proposals = 1, .mode = "tunnel",
		.start_action = "none", .dpd_action = "restart", .rekey_time_s = 3600,
		.life_time_s = 3960,
	};
	struct vici_conn_cfg cfg = {
		.name = "vpnd-t1", .version = 2, .local_addrs = l, .nlocal_addrs = 1,
		.remote_addrs = r, .nremote_addrs = 1, .local_id = "198.18.0.1",
		.remote_id = "198.18.0.2", .proposals = props, .nproposals = 2, .encap = true,
		.dpd_delay_s = 10, .dpd_timeout_s = 30, .rekey_time_s = 28800, .children = &ch,
		.nchildren = 1,
	};
	struct vici_conn *c = conn_or_skip();
	struct seen s = { 0 };
	struct vpn_error e;
	int nsa = 0;

	(void)state;
	vpn_error_clear(&e);
	assert_int_equal(vici_load_shared(c, "ike-vpnd-t1", "not-a-real-psk-0123", 19, owners, 2,
					  TMO, &e), VPN_OK);
	assert_true(shared_has(c, "ike-vpnd-t1"));
	if (vici_load_conn(c, &cfg, TMO, &e))
		fail_msg("load-conn: %s", e.msg);

	assert_int_equal(vici_list_conns(c, NULL, on_conn, &s, TMO, &e), VPN_OK);
	assert_int_equal(s.n, 1);
	assert_true(s.has_conn);
	assert_true(s.has_child);
	assert_true(s.local_ok);
	assert_true(s.remote_ts_ok);

	/* no SAs: list-sas streams nothing and completes */
	assert_int_equal(vici_list_sas(c, NULL, on_sa, &nsa, TMO, &e), VPN_OK);
	assert_int_equal(nsa, 0);

	/* charon's refusals come back as VPN_E_INVALID with its errmsg */
	vpn_error_clear(&e);
	assert_int_equal(vici_initiate(c, "no-such-child", NULL, -1, TMO, &e), VPN_E_INVALID);
	fprintf(stderr, "initiate refused: %s\n", e.msg);
	assert_non_null(strstr(e.msg, "initiate: "));
	cfg.name = "vpnd-bad";
	cfg.proposals = bad_props;
	cfg.nproposals = 1;
	vpn_error_clear(&e);
	assert_int_equal(vici_load_conn(c, &cfg, TMO, &e), VPN_E_INVALID);
	fprintf(stderr, "load-conn refused: %s\n", e.msg);
	assert_non_null(strstr(e.msg, "load-conn: "));
	assert_false(vici_conn_broken(c));

	assert_int_equal(vici_unload_conn(c, "vpnd-t1", TMO, &e), VPN_OK);
	memset(&s, 0, sizeof(s));
	assert_int_equal(vici_list_conns(c, NULL, on_conn, &s, TMO, &e), VPN_OK);
	assert_int_equal(s.n, 0);
	vpn_error_clear(&e);
	assert_int_equal(vici_unload_conn(c, "vpnd-t1", TMO, &e), VPN_E_INVALID);
	fprintf(stderr, "unload-conn refused: %s\n", e.msg);

	assert_int_equal(vici_unload_shared(c, "ike-vpnd-t1", TMO, &e), VPN_OK);
	assert_false(shared_has(c, "ike-vpnd-t1"));
	vici_close(c);
}

static void
test_events(void **state)
{
	struct vici_conn *c = conn_or_skip();
	struct vici_msg *msg = NULL;
	struct vpn_error e;
	char *name = NULL;

	(void)state;
	vpn_error_clear(&e);
	assert_int_equal(vici_register(c, "ike-updown", TMO, &e), VPN_OK);
	assert_int_equal(vici_register(c, "child-updown", TMO, &e), VPN_OK);
	assert_int_equal(vici_read_event(c, &name, &msg, 100, &e), VPN_E_NOT_FOUND);
	assert_false(vici_conn_broken(c));
	assert_int_equal(vici_register(c, "no-such-event", TMO, &e), VPN_E_UNSUPPORTED);
	assert_int_equal(vici_unregister(c, "ike-updown", TMO, &e), VPN_OK);
	vici_close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_load_list_unload),
		cmocka_unit_test(test_events),
	};

	alarm(19);	/* bound: charon still dies with us (PR_SET_PDEATHSIG) */
	return cmocka_run_group_tests_name("vici against a private charon", tests, charon_start,
					   charon_stop) ? 1 : 0;
}
