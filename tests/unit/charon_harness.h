/*
 * charon_harness.h - a private charon for cmocka tests that talk VICI to a real strongSwan:
 * its own temp dir, STRONGSWAN_CONF, VICI socket, mount and network namespaces (unshare), the
 * group setup/teardown charon_start/charon_stop, and conn_or_skip() for the tests. Included by
 * one test file each (static functions); the includer defines CHARON_HARNESS_DIR (a mkdtemp
 * template) and write_conf(), the one part that differs (the plugin list and options).
 */
#ifndef VPND_CHARON_HARNESS_H
#define VPND_CHARON_HARNESS_H

static int write_conf(const char *path);

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
	snprintf(G.dir, sizeof(G.dir), "%s", CHARON_HARNESS_DIR);
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

#endif
