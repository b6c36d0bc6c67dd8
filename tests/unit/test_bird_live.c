/*
 * Integration test for src/realize/bird against a real BIRD 2 (Debian's bird2): a private bird
 * in its own network namespace (no traffic leaves, no port 179 clash), driven only through
 * bird_config_render/bird_config_write and the control-socket client. Checks `configure
 * check`, `show protocols all` parsing, `configure` with a changed config, a refused config,
 * and every case of the shared FRR prefix-list table through BIRD's own filter engine.
 *
 * Skips (exit 0 with a printed reason) unless we are root, /usr/sbin/bird exists and a network
 * namespace can be created. The bird is stopped by its PID and its files are removed, also on
 * failure (group teardown). Bounded: every command has a 3 s timeout; a run takes about 1 s.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "realize/bird.h"

#include "prefix_cases.h"

#define BIRD_BIN "/usr/sbin/bird"
#define CMD_MS 3000

static char dir[64];
static char conf[128], sock[128], pidf[128], outf[128];
static pid_t bird_pid = -1;
static struct bird_conn *conn;

static json_t *
load(const char *text)
{
	char b[2048];
	json_error_t je;
	size_t i;

	for (i = 0; text[i] && i + 1 < sizeof(b); i++)
		b[i] = text[i] == '\'' ? '"' : text[i];
	b[i] = '\0';
	return json_loads(b, 0, &je);
}

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the base config: two neighbors (one disabled, with a password) and two networks ---- */

static void
render_base(struct buf *b, int64_t hold, bool third)
{
	struct bird_plist in;
	struct netprefix adv[2];
	struct bird_neighbor n[3];
	struct bird_cfg c;
	struct vpn_error e;
	json_t *j = load("[{'network':'10.0.0.0/8','action':'PERMIT','le':24},"
			 "{'network':'ANY','action':'DENY'}]");

	assert_non_null(j);
	assert_int_equal(bird_plist_from_json(j, &in, &e), VPN_OK);
	json_decref(j);
	memset(n, 0, sizeof(n));
	memset(&c, 0, sizeof(c));
	n[0].id = "peer-1";
	assert_true(netaddr_parse("192.0.2.9", &n[0].addr));
	n[0].remote_as = 65002;
	n[0].enabled = true;
	n[0].hold_s = hold;
	n[0].keepalive_s = hold / 3;
	n[0].in = &in;
	n[1].id = "peer.2";
	assert_true(netaddr_parse("192.0.2.10", &n[1].addr));
	n[1].remote_as = 65003;
	n[1].password = "s3cr\\et#/*'x";
	n[1].enabled = false;
	n[2].id = "peer-3";
	assert_true(netaddr_parse("192.0.2.11", &n[2].addr));
	n[2].remote_as = 65004;
	n[2].enabled = true;
	n[2].multihop = 2;
	assert_true(netaddr_parse("198.18.0.1", &c.router_id));
	c.local_as = 65001;
	c.kernel_table = 250;
	c.kernel_export = true;
	assert_true(netprefix_parse("10.91.0.0/24", &adv[0]));
	assert_true(netprefix_parse("10.91.1.0/24", &adv[1]));
	c.nadvertise = 2;
	c.advertise = adv;
	c.neighbors = n;
	c.nneighbors = third ? 3 : 2;
	assert_int_equal(bird_config_render(&c, b, &e), VPN_OK);
	bird_plist_release(&in);
}

static void
write_conf(const struct buf *b)
{
	struct vpn_error e;
	struct stat st;

	assert_int_equal(bird_config_write(conf, b->p, b->len, &e), VPN_OK);
	assert_int_equal(stat(conf, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

/* ---- process handling ---- */

static void
stop_bird(void)
{
	int64_t end;
	int status;

	bird_close(conn);
	conn = NULL;
	if (bird_pid <= 0)
		return;
	kill(bird_pid, SIGTERM);
	for (end = now_ms() + 2000; now_ms() < end;) {
		if (waitpid(bird_pid, &status, WNOHANG) == bird_pid) {
			bird_pid = -1;
			return;
		}
		usleep(20 * 1000);
	}
	kill(bird_pid, SIGKILL);
	waitpid(bird_pid, &status, 0);
	bird_pid = -1;
}

static void
remove_dir(void)
{
	DIR *d;
	struct dirent *de;

	if (!dir[0] || !(d = opendir(dir)))
		return;
	while ((de = readdir(d))) {
		char p[512];

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		unlink(p);
	}
	closedir(d);
	rmdir(dir);
}

static int
setup(void **state)
{
	struct buf b;
	struct vpn_error e;
	int64_t end;
	int sync[2];
	char ok;

	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vpnd-bird-live-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(conf, sizeof(conf), "%s/bird.conf", dir);
	snprintf(sock, sizeof(sock), "%s/bird.ctl", dir);
	snprintf(pidf, sizeof(pidf), "%s/bird.pid", dir);
	snprintf(outf, sizeof(outf), "%s/bird.out", dir);
	buf_init(&b, 1 << 20);
	render_base(&b, 9, false);
	if (bird_config_write(conf, b.p, b.len, &e))
		return -1;
	buf_release(&b);
	if (pipe(sync))
		return -1;
	bird_pid = fork();
	if (bird_pid < 0)
		return -1;
	if (bird_pid == 0) {
		int fd = open(outf, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		close(sync[0]);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		/* own network namespace: BGP sockets, kernel routes and port 179 stay private */
		ok = unshare(CLONE_NEWNET) == 0 ? 1 : 0;
		if (write(sync[1], &ok, 1) != 1 || !ok)
			_exit(3);
		execl(BIRD_BIN, "bird", "-f", "-c", conf, "-s", sock, "-P", pidf, (char *)NULL);
		_exit(4);
	}
	close(sync[1]);
	ok = 0;
	if (read(sync[0], &ok, 1) != 1)
		ok = 0;
	close(sync[0]);
	if (!ok)
		return -1;
	for (end = now_ms() + 5000; now_ms() < end; usleep(50 * 1000))
		if (!bird_connect(sock, &conn, &e))
			return 0;
	fprintf(stderr, "bird did not open %s: %s\n", sock, e.msg);
	return -1;
}

static int
teardown(void **state)
{
	(void)state;
	stop_bird();
	remove_dir();
	return 0;
}

/* ---- tests ---- */

static const struct bird_proto *
find(const struct bird_proto *p, size_t n, const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(p[i].name, name))
			return &p[i];
	return NULL;
}

static void
show_protocols(struct bird_proto **p, size_t *n)
{
	struct vpn_error e;
	struct buf b;

	buf_init(&b, 1 << 20);
	if (bird_cmd_collect(conn, "show protocols all", &b, CMD_MS, &e))
		fail_msg("show protocols all: %s", e.msg);
	if (bird_parse_protocols(b.p, b.len, p, n, &e))
		fail_msg("parse: %s\n%s", e.msg, b.p);
	buf_release(&b);
}

static void
test_live_status_and_reconfigure(void **state)
{
	const struct bird_proto *q;
	struct bird_proto *p = NULL;
	struct rz_route *r = NULL;
	struct rz_bgp_status st;
	struct vpn_error e;
	struct buf b;
	size_t n = 0;

	(void)state;
	printf("# bird %s, files in %s\n", bird_version(conn), dir);
	assert_int_equal(bird_configure(conn, conf, true, CMD_MS, &e), VPN_OK);
	show_protocols(&p, &n);
	q = find(p, n, "nbr_peer_2d1");
	assert_non_null(q);
	assert_true(q->bgp);
	/* no peer: never beyond Active */
	assert_true(q->bgp_state == RZ_BGP_IDLE || q->bgp_state == RZ_BGP_CONNECT ||
		    q->bgp_state == RZ_BGP_ACTIVE);
	assert_string_equal(q->neighbor_address, "192.0.2.9");
	assert_int_equal(q->neighbor_as, 65002);
	assert_int_equal(q->local_as, 65001);
	assert_true(q->since_s > 1600000000);	/* epoch seconds: timeformat "%s" took */
	bird_proto_bgp_status(q, (int64_t)time(NULL), &st);
	assert_int_equal(st.time_since_established_s, 0);
	q = find(p, n, "nbr_peer_2e2");
	assert_non_null(q);
	assert_string_equal(q->state, "down");	/* disabled yes */
	q = find(p, n, "vpnd_static4");
	assert_non_null(q);
	assert_int_equal(q->routes_imported, 2);
	assert_null(find(p, n, "nbr_peer_2d3"));
	free(p);

	/* the advertised networks, as BIRD holds them */
	buf_init(&b, 1 << 20);
	assert_int_equal(bird_cmd_collect(conn, "show route protocol vpnd_static4 all", &b, CMD_MS,
					  &e), VPN_OK);
	assert_int_equal(bird_parse_routes(b.p, b.len, true, &r, &n, &e), VPN_OK);
	assert_int_equal(n, 2);
	free(r);

	/* a changed config: another neighbor, other timers */
	buf_reset(&b);
	render_base(&b, 30, true);
	write_conf(&b);
	assert_int_equal(bird_configure(conn, conf, true, CMD_MS, &e), VPN_OK);
	assert_int_equal(bird_configure(conn, NULL, false, CMD_MS, &e), VPN_OK);
	show_protocols(&p, &n);
	q = find(p, n, "nbr_peer_2d3");
	assert_non_null(q);
	assert_int_equal(q->neighbor_as, 65004);
	free(p);

	/* a refused config: VPN_E_INVALID with BIRD's message; the running config stays */
	buf_reset(&b);
	assert_int_equal(buf_adds(&b, "router id 1.2.3.4;\nprotocol bgp x { nonsense; }\n"), VPN_OK);
	write_conf(&b);
	assert_int_equal(bird_configure(conn, conf, true, CMD_MS, &e), VPN_E_INVALID);
	printf("# refused config: %s\n", e.msg);
	assert_non_null(strstr(e.msg, "8002"));
	assert_non_null(strstr(e.msg, "bird.conf:2"));
	assert_int_equal(bird_configure(conn, NULL, false, CMD_MS, &e), VPN_E_INVALID);
	show_protocols(&p, &n);
	assert_non_null(find(p, n, "nbr_peer_2d3"));
	free(p);
	/* a BIRD error does not break the connection */
	assert_int_equal(bird_cmd(conn, "show protocols all nope", NULL, NULL, CMD_MS, &e),
			 VPN_E_INVALID);
	assert_int_equal(bird_cmd(conn, "show status", NULL, NULL, CMD_MS, &e), VPN_OK);
	buf_release(&b);
}

/*
 * Every FRR case through BIRD's filter engine: per case a static protocol holding the route
 * and a filter calling the rendered function; `show route protocol sN filter cN` lists the
 * route iff BIRD permits it.
 */
static void
test_live_frr_cases(void **state)
{
	struct vpn_error e;
	struct buf b, rep;
	size_t i, ncases = sizeof(cases) / sizeof(cases[0]);

	(void)state;
	buf_init(&b, 4 << 20);
	render_base(&b, 9, false);
	for (i = 0; i < ncases; i++) {
		struct bird_plist l;
		struct netprefix rt;
		char fn[32], a[64];
		json_t *j = load(cases[i].list);
		unsigned bit;

		assert_non_null(j);
		assert_int_equal(bird_plist_from_json(j, &l, &e), VPN_OK);
		json_decref(j);
		snprintf(fn, sizeof(fn), "c%zu_pl", i);
		assert_int_equal(bird_render_plist_fn(fn, &l, &b, &e), VPN_OK);
		bird_plist_release(&l);
		assert_true(netprefix_parse(cases[i].route, &rt));
		for (bit = rt.len; bit < 128; bit++)	/* BIRD wants a network; FRR ignores these */
			rt.addr.bytes[bit >> 3] &= (uint8_t)~(0x80u >> (bit & 7));
		netaddr_format(&rt.addr, a, sizeof(a));
		assert_int_equal(buf_addf(&b, "filter c%zu { if %s() then accept; reject; }\n"
					  "protocol static s%zu { ipv%d; route %s/%u blackhole; }\n",
					  i, fn, i, rt.addr.family == 4 ? 4 : 6, a, rt.len), VPN_OK);
	}
	write_conf(&b);
	if (bird_configure(conn, conf, false, CMD_MS, &e))
		fail_msg("configure: %s", e.msg);
	buf_init(&rep, 1 << 20);
	for (i = 0; i < ncases; i++) {
		struct rz_route *r = NULL;
		char cmd[96];
		size_t n = 0;

		snprintf(cmd, sizeof(cmd), "show route protocol s%zu filter c%zu", i, i);
		buf_reset(&rep);
		if (bird_cmd_collect(conn, cmd, &rep, CMD_MS, &e))
			fail_msg("%s: %s", cmd, e.msg);
		assert_int_equal(bird_parse_routes(rep.p, rep.len, false, &r, &n, &e), VPN_OK);
		if ((n == 1) != (cases[i].want == PL_PERMIT))
			fail_msg("case '%s': BIRD %s %s, FRR says %s", cases[i].name,
				 n ? "accepts" : "rejects", cases[i].route,
				 cases[i].want == PL_PERMIT ? "PERMIT" : "DENY");
		free(r);
	}
	printf("# %zu FRR cases decided identically by BIRD %s\n", ncases, bird_version(conn));
	buf_release(&rep);
	buf_release(&b);
}

static bool
can_unshare_net(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return false;
	if (pid == 0)
		_exit(unshare(CLONE_NEWNET) ? 1 : 0);
	return waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_live_status_and_reconfigure),
		cmocka_unit_test(test_live_frr_cases),
	};

	if (geteuid() != 0) {
		printf("test_bird_live: SKIP: not root (a private network namespace is needed)\n");
		return 0;
	}
	if (access(BIRD_BIN, X_OK)) {
		printf("test_bird_live: SKIP: %s not installed (apt-get install bird2)\n", BIRD_BIN);
		return 0;
	}
	if (!can_unshare_net()) {
		printf("test_bird_live: SKIP: cannot create a network namespace here\n");
		return 0;
	}
	return cmocka_run_group_tests(tests, setup, teardown);
}
