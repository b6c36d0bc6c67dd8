/*
 * Unit tests for src/realize/proc.c with stand-in daemons: this test binary itself, re-executed
 * with --proc-helper MODE (listen on a unix socket, report its own process state, ignore
 * SIGTERM), and /bin/sh -c scripts. No charon or bird needed; test_proc_daemons.c has those.
 *
 * Covers: the child's state (fds, session, PDEATHSIG, cwd, signals, environment), logs (0600,
 * appended, tail quoted in errors, nothing from earlier runs), readiness (delayed listener,
 * foreign listener and stale socket files do not count, timeout kills), startup failures (exit,
 * exec, spec errors, missing netns), restarts with backoff (including a failed attempt), stop
 * (SIGTERM; SIGKILL after a short stop timeout), PDEATHSIG when vpnd dies, and (as root) run_dir
 * bound on /run in a private mount namespace. Every test checks that no child is left behind.
 *
 * No assertion depends on how fast the machine is (the suite must pass with both cores busy):
 * events that must happen are polled for up to WAIT_MS; the restart backoff runs on a fake clock
 * the test steps (proc_set_backoff_clock) and is read back with proc_next_attempt_ms; whether
 * proc_stop needed SIGKILL is read from proc's own log line, not from a stopwatch. The only
 * durations asserted are lower bounds (a wait that must have happened), which load cannot break.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "core/log.h"
#include "realize/proc.h"
#include "proc_stop_logged.h"

#define SH "/bin/sh"
#define WAIT_MS 20000	/* bound for events that must happen (generous: loaded machine, valgrind) */

static char self[PATH_MAX];	/* this binary, for --proc-helper children */
static char dir[64];		/* per-test temp dir */

static void
sun_set(struct sockaddr_un *sa, const char *path)
{
	size_t n = strlen(path);

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (n >= sizeof(sa->sun_path))
		n = sizeof(sa->sun_path) - 1;
	memcpy(sa->sun_path, path, n);
}

/* ---- helper modes (run in the child, after execve) ---- */

static int
helper_listen(const char *path, int delay_ms)
{
	struct sockaddr_un sa;
	int fd;

	if (delay_ms > 0)
		usleep((useconds_t)delay_ms * 1000);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	sun_set(&sa, path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 8))
		return 2;
	printf("listening on %s\n", path);
	fflush(stdout);
	for (;;)
		pause();
}

/*
 * Print the state the child was started in, one key=value per line; then, given @sock, listen
 * there (ready once it has printed: a child that exits at once could be reaped before proc
 * looks, which proc reports as a startup failure).
 */
static int
helper_info(const char *sock)
{
	struct sigaction sa;
	sigset_t mask;
	char cwd[256];
	int fd, open_fds = 0, pdeath = 0, blocked = 0, sig;

	for (fd = 3; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			open_fds++;
	prctl(PR_GET_PDEATHSIG, &pdeath);
	sigprocmask(SIG_SETMASK, NULL, &mask);
	for (sig = 1; sig < 32; sig++)
		if (sigismember(&mask, sig))
			blocked++;
	sigaction(SIGPIPE, NULL, &sa);
	if (!getcwd(cwd, sizeof(cwd)))
		snprintf(cwd, sizeof(cwd), "?");
	printf("fds=%d\nsid=%d\npdeath=%d\nblocked=%d\nsigpipe=%s\ncwd=%s\nstdin_null=%d\n"
	       "t=%s\novr=%s\n", open_fds, getsid(0) == getpid(), pdeath, blocked,
	       sa.sa_handler == SIG_DFL ? "dfl" : "other", cwd, getchar() == EOF,
	       getenv("VPND_PROC_T") ? getenv("VPND_PROC_T") : "-",
	       getenv("VPND_PROC_OVR") ? getenv("VPND_PROC_OVR") : "-");
	fflush(stdout);
	return sock ? helper_listen(sock, 0) : 0;
}

static int
helper_main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[2], "info"))
		return helper_info(argc >= 4 ? argv[3] : NULL);
	if (argc >= 5 && !strcmp(argv[2], "listen"))
		return helper_listen(argv[3], (int)strtol(argv[4], NULL, 10));
	if (argc >= 4 && !strcmp(argv[2], "ignore-term")) {
		signal(SIGTERM, SIG_IGN);
		return helper_listen(argv[3], 0);
	}
	if (argc >= 3 && !strcmp(argv[2], "wait")) {
		for (;;)
			pause();
	}
	return 64;
}

/* ---- test utilities ---- */

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The backoff clock of test_restart_backoff: moves only when the test moves it. */
static int64_t fake_now;

static int64_t
fake_clock(void)
{
	return fake_now;
}

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static int
setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vpnd-proc-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int
teardown(void **state)
{
	(void)state;
	proc_set_backoff_clock(NULL);	/* also after a failed test_restart_backoff */
	if (dir[0])
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	dir[0] = '\0';
	return 0;
}

static const char *
path_in(char *out, size_t n, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
	return out;
}

/* The test process has no child left (every test ends with this). */
static void
assert_no_children(void)
{
	int st;

	assert_int_equal(waitpid(-1, &st, WNOHANG), -1);
	assert_int_equal(errno, ECHILD);
}

static bool
wait_dead(struct proc *p, int ms)
{
	int64_t end = now_ms() + ms;

	while (proc_alive(p)) {
		if (now_ms() > end)
			return false;
		usleep(10 * 1000);
	}
	return true;
}

static char *
slurp(const char *path)
{
	static char text[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	text[0] = '\0';
	if (!f)
		return text;
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	return text;
}

/* Occurrences of @needle in the file at @path. */
static int
count_in(const char *path, const char *needle)
{
	const char *t = slurp(path);
	int n = 0;

	while ((t = strstr(t, needle))) {
		n++;
		t += strlen(needle);
	}
	return n;
}

/* proc_stop(@p), proc's log lines during it copied to @out. */
static void
stop_logged(struct proc *p, char *out, size_t n)
{
	char capp[128];

	proc_stop_logged(p, path_in(capp, sizeof(capp), "stderr.txt"), out, n);
}

static bool
can_connect(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool ok;

	sun_set(&sa, path);
	ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	if (fd >= 0)
		close(fd);
	return ok;
}

/* A listening socket of the test process itself at @path (a "foreign" listener). */
static int
listen_at(const char *path)
{
	struct sockaddr_un sa;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	sun_set(&sa, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 8), 0);
	return fd;
}

static bool
pid_gone(pid_t pid)
{
	return kill(pid, 0) < 0 && errno == ESRCH;
}

/* ---- tests ---- */

static void
test_child_state(void **state)
{
	char sock[128], logp[128];
	const char *argv[] = { self, "--proc-helper", "info", path_in(sock, sizeof(sock), "i.sock"),
			       NULL };
	const char *env[] = { "VPND_PROC_T=42", "VPND_PROC_OVR=new", NULL };
	struct proc_spec spec = { .name = "info", .argv = argv, .env = env, .ready_path = sock,
				  .ready_timeout_ms = WAIT_MS };
	struct proc *p = NULL;
	struct vpn_error e;
	struct stat st;
	const char *text;
	int leak;

	(void)state;
	spec.log_path = path_in(logp, sizeof(logp), "info.log");
	setenv("VPND_PROC_OVR", "old", 1);
	leak = open("/dev/null", O_RDONLY);	/* not CLOEXEC: must not reach the child */
	assert_true(leak >= 0);
	vpn_error_clear(&e);
	assert_int_equal(proc_start(&p, &spec, &e), VPN_OK);
	assert_true(proc_pid(p) > 0);
	assert_int_equal(kill(proc_pid(p), SIGTERM), 0);	/* it has printed (ready) */
	assert_true(wait_dead(p, WAIT_MS));
	assert_int_equal(proc_pid(p), 0);
	text = slurp(logp);
	fprintf(stderr, "%s", text);
	assert_non_null(strstr(text, "fds=0\n"));
	assert_non_null(strstr(text, "sid=1\n"));
	assert_non_null(strstr(text, "pdeath=15\n"));
	assert_non_null(strstr(text, "blocked=0\n"));
	assert_non_null(strstr(text, "sigpipe=dfl\n"));
	assert_non_null(strstr(text, "cwd=/\n"));
	assert_non_null(strstr(text, "stdin_null=1\n"));
	assert_non_null(strstr(text, "t=42\n"));
	assert_non_null(strstr(text, "ovr=new\n"));
	assert_int_equal(stat(logp, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	proc_stop(p);

	/* a second run appends; a log made with a wider mode is tightened to 0600 */
	chmod(logp, 0644);
	spec.env = NULL;
	assert_int_equal(proc_start(&p, &spec, &e), VPN_OK);
	proc_stop(p);
	unsetenv("VPND_PROC_OVR");
	text = slurp(logp);
	assert_non_null(strstr(strstr(text, "t=42\novr=new\n"), "t=-\novr=old\n"));
	assert_int_equal(stat(logp, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	close(leak);
	assert_no_children();
}

static void
test_ready_and_stop(void **state)
{
	char sock[128];
	const char *argv[] = { self, "--proc-helper", "listen", path_in(sock, sizeof(sock), "d.sock"),
			       "300", NULL };
	struct proc_spec spec = { .name = "listener", .argv = argv, .ready_path = sock,
				  .ready_timeout_ms = WAIT_MS, .stop_timeout_ms = WAIT_MS };
	struct proc *p = NULL;
	struct vpn_error e;
	char logged[1024];
	int64_t t0;
	pid_t pid;

	(void)state;
	t0 = now_ms();
	assert_int_equal(proc_start(&p, &spec, &e), VPN_OK);
	assert_true(now_ms() - t0 >= 300);	/* waited for the socket (a lower bound) */
	assert_true(can_connect(sock));
	assert_true(proc_alive(p));
	pid = proc_pid(p);
	assert_true(pid > 0);
	assert_int_equal(getpgid(pid), pid);	/* its own session and group */
	assert_int_equal(proc_restarts(p), 0);
	/* SIGTERM was enough: proc logs (at warn) when it has to SIGKILL */
	stop_logged(p, logged, sizeof(logged));
	assert_null(strstr(logged, "SIGKILL"));
	assert_true(pid_gone(pid));
	proc_stop(NULL);
	assert_int_equal(proc_pid(NULL), 0);
	assert_false(proc_alive(NULL));
	assert_no_children();
}

static void
test_ready_not_foreign(void **state)
{
	char sock[128];
	const char *argv[] = { self, "--proc-helper", "wait", NULL };
	struct proc_spec spec = { .name = "waiter", .argv = argv,
				  .ready_path = path_in(sock, sizeof(sock), "f.sock"),
				  .ready_timeout_ms = 300 };
	struct proc *p = NULL;
	struct vpn_error e;
	char mine[32];
	int fd;

	(void)state;
	/* somebody else (this test) serves the path: not our child, so not ready */
	fd = listen_at(sock);
	vpn_error_clear(&e);
	assert_int_equal(proc_start(&p, &spec, &e), VPN_E_INTERNAL);
	assert_null(p);
	fprintf(stderr, "%s\n", e.msg);
	snprintf(mine, sizeof(mine), "served by pid %d", (int)getpid());
	assert_non_null(strstr(e.msg, "not ready within 300 ms"));
	assert_non_null(strstr(e.msg, mine));
	assert_non_null(strstr(e.msg, "SIGKILL"));
	assert_no_children();

	/* a stale socket file (nobody listening) is not ready either */
	close(fd);
	vpn_error_clear(&e);
	assert_int_equal(proc_start(&p, &spec, &e), VPN_E_INTERNAL);
	assert_non_null(strstr(e.msg, "nothing accepts"));
	assert_no_children();
}

static void
test_startup_exit_quotes_log(void **state)
{
	char sock[128], logp[128];
	const char *argv[] = { SH, "-c", "for i in 1 2 3 4 5 6 7; do echo line$i; done; "
			       "printf 'bad\\033byte\\n\\n' >&2; exit 3", NULL };
	struct proc_spec spec = { .name = "crasher", .argv = argv,
				  .ready_path = path_in(sock, sizeof(sock), "c.sock"),
				  .ready_timeout_ms = WAIT_MS,
				  .log_path = path_in(logp, sizeof(logp), "c.log") };
	struct proc *p = NULL;
	struct vpn_error e;
	FILE *f;

	(void)state;
	f = fopen(logp, "w");
	assert_non_null(f);
	fprintf(f, "an earlier run's line\n");
	fclose(f);
	vpn_error_clear(&e);
	assert_int_equal(proc_start(&p, &spec, &e), VPN_E_INTERNAL);
	assert_null(p);
	fprintf(stderr, "%s\n", e.msg);
	assert_non_null(strstr(e.msg, "crasher (pid "));
	assert_non_null(strstr(e.msg, "exited during startup (exit status 3)"));
	/* the last 5 non-empty lines of this run, control bytes replaced */
	assert_non_null(strstr(e.msg, "; log: line4 | line5 | line6 | line7 | bad?byte"));
	assert_null(strstr(e.msg, "line3"));
	assert_null(strstr(e.msg, "earlier"));

	/* killed by a signal during startup */
	argv[2] = "kill -SEGV $$";
	vpn_error_clear(&e);
	assert_int_equal(proc_start(&p, &spec, &e), VPN_E_INTERNAL);
	assert_non_null(strstr(e.msg, "killed by signal 11 (SIGSEGV)"));
	assert_null(strstr(e.msg, "; log:"));
	assert_no_children();
}

static void
test_long_log_lines_capped(void **state)
{
	char logp[128];
	const char *argv[] = { SH, "-c", "i=0; while [ $i -lt 300 ]; do printf "
			       "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'; i=$((i+1)); done; "
			       "echo; exit 1", NULL };
	struct proc_spec spec = { .name = "long", .argv = argv, .ready_path = "/nonexistent.sock",
				  .ready_timeout_ms = WAIT_MS, .log_path = path_in(logp, sizeof(logp), "l.log") };
	struct proc *p = NULL;
	struct vpn_error e;

	(void)state;
	vpn_error_clear(&e);
	assert_int_equal(proc_start(&p, &spec, &e), VPN_E_INTERNAL);
	fprintf(stderr, "%s\n", e.msg);
	assert_non_null(strstr(e.msg, "exit status 1"));
	assert_non_null(strstr(e.msg, "xxx..."));
	assert_true(strlen(e.msg) < 200);
	assert_no_children();
}

static void
test_spec_errors(void **state)
{
	const char *rel[] = { "sleep", "1", NULL };
	const char *ok[] = { SH, "-c", "exit 0", NULL };
	const char *missing[] = { "/nonexistent/vpnd-daemon", NULL };
	const char *badenv[] = { "NOEQUALS", NULL };
	char longpath[200];
	struct proc_spec spec = { .name = "bad", .argv = rel };
	struct proc *p = (struct proc *)&spec;
	struct vpn_error e;

	(void)state;
	assert_int_equal(proc_start(&p, NULL, &e), VPN_E_INVALID);
	assert_null(p);
	assert_int_equal(proc_start(&p, &spec, &e), VPN_E_INVALID);
	assert_non_null(strstr(e.msg, "absolute"));
	spec.argv = ok;
	spec.env = badenv;
	assert_int_equal(proc_start(&p, &spec, &e), VPN_E_INVALID);
	spec.env = NULL;
	spec.netns = "../etc";
	assert_int_equal(proc_start(&p, &spec, &e), VPN_E_INVALID);
	spec.netns = NULL;
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	spec.ready_path = longpath;
	assert_int_equal(proc_start(&p, &spec, &e), VPN_E_INVALID);
	spec.ready_path = NULL;
	spec.run_dir = "relative/run";
	assert_int_equal(proc_start(&p, &spec, &e), VPN_E_INVALID);
	spec.run_dir = NULL;

	spec.netns = "vpnd-test-no-such-netns";
	vpn_error_clear(&e);
	assert_int_equal(proc_start(&p, &spec, &e), VPN_E_NOT_FOUND);
	assert_non_null(strstr(e.msg, "/run/netns/vpnd-test-no-such-netns does not exist"));
	spec.netns = NULL;

	spec.log_path = "/nonexistent-dir/x.log";
	assert_int_equal(proc_start(&p, &spec, &e), VPN_E_INTERNAL);
	spec.log_path = NULL;

	/* exec failure is reported by the child before it exits */
	spec.argv = missing;
	vpn_error_clear(&e);
	assert_int_equal(proc_start(&p, &spec, &e), VPN_E_INTERNAL);
	fprintf(stderr, "%s\n", e.msg);
	assert_non_null(strstr(e.msg, "bad: execve failed: No such file or directory"));
	assert_null(p);
	assert_no_children();
}

/*
 * The backoff runs on a fake clock (fake_now) that only this test moves, so "not yet due" and
 * "due" are exact instants whatever the load; the children are real. Attempts are counted in
 * the log, where the script writes them before it exits or execs the listener: "attempt" per
 * start, "refused" per failed one.
 */
static void
test_restart_backoff(void **state)
{
	char sock[128], flag[128], logp[128], cmd[PATH_MAX + 512];
	const char *argv[] = { SH, "-c", cmd, NULL };
	struct proc_spec spec = { .name = "flappy", .argv = argv, .ready_timeout_ms = WAIT_MS };
	struct proc *p = NULL;
	struct vpn_error e;
	bool restarted = true;
	pid_t pid1, pid2, pid3;
	int64_t t0;
	int fd;

	(void)state;
	spec.ready_path = path_in(sock, sizeof(sock), "r.sock");
	spec.log_path = path_in(logp, sizeof(logp), "r.log");
	path_in(flag, sizeof(flag), "allowed");
	/* the shell execs the helper: the PID is the listener's */
	assert_true(snprintf(cmd, sizeof(cmd), "echo attempt; test -e '%s' || { echo refused; exit 4; }; "
			     "exec '%s' --proc-helper listen '%s' 0", flag, self, sock) <
		    (int)sizeof(cmd));
	fd = open(flag, O_CREAT | O_WRONLY, 0600);
	close(fd);
	fake_now = 1000000;
	proc_set_backoff_clock(fake_clock);
	assert_int_equal(proc_next_attempt_ms(NULL), 0);
	assert_int_equal(proc_start(&p, &spec, &e), VPN_OK);
	pid1 = proc_pid(p);
	assert_int_equal(proc_next_attempt_ms(p), fake_now + PROC_BACKOFF_MIN_MS);
	assert_int_equal(proc_check(p, &restarted, &e), VPN_OK);
	assert_false(restarted);

	/* killed once the first backoff (100 ms) has passed: restarted at once */
	fake_now += PROC_BACKOFF_MIN_MS;
	assert_int_equal(kill(pid1, SIGKILL), 0);
	assert_true(wait_dead(p, WAIT_MS));
	if (proc_check(p, &restarted, &e))
		fail_msg("%s", e.msg);
	assert_true(restarted);
	assert_int_equal(proc_restarts(p), 1);
	pid2 = proc_pid(p);
	assert_true(pid2 > 0 && pid2 != pid1);
	assert_true(can_connect(sock));
	assert_true(pid_gone(pid1));
	assert_int_equal(proc_next_attempt_ms(p), fake_now + 2 * PROC_BACKOFF_MIN_MS);
	assert_int_equal(count_in(logp, "attempt"), 2);

	/*
	 * killed again at once: the next attempt is due 200 ms after the restart. Until then
	 * proc_check says so and starts nothing: it returns (the caller is not blocked) while the
	 * deadline is still ahead, down to its last millisecond.
	 */
	assert_int_equal(kill(pid2, SIGKILL), 0);
	assert_true(wait_dead(p, WAIT_MS));
	vpn_error_clear(&e);
	assert_int_equal(proc_check(p, &restarted, &e), VPN_E_INTERNAL);
	assert_false(restarted);
	fprintf(stderr, "%s\n", e.msg);
	assert_string_equal(e.msg, "flappy is not running (killed by signal 9 (SIGKILL)); "
				   "next restart attempt in 200 ms");
	assert_int_equal(proc_pid(p), 0);
	fake_now += 2 * PROC_BACKOFF_MIN_MS - 1;
	assert_int_equal(proc_check(p, &restarted, &e), VPN_E_INTERNAL);
	assert_false(restarted);
	assert_non_null(strstr(e.msg, "next restart attempt in 1 ms"));
	assert_true(fake_now < proc_next_attempt_ms(p));
	assert_int_equal(count_in(logp, "attempt"), 2);
	assert_int_equal(proc_restarts(p), 1);

	/* when due, that attempt fails (the script refuses): then 400 ms until the next */
	unlink(flag);
	fake_now++;
	vpn_error_clear(&e);
	assert_int_equal(proc_check(p, &restarted, &e), VPN_E_INTERNAL);
	assert_false(restarted);
	fprintf(stderr, "%s\n", e.msg);
	assert_non_null(strstr(e.msg, "exited during startup (exit status 4); log: attempt | refused; "));
	assert_non_null(strstr(e.msg, "next restart attempt in 400 ms"));
	assert_int_equal(count_in(logp, "refused"), 1);
	assert_int_equal(count_in(logp, "attempt"), 3);
	assert_int_equal(proc_next_attempt_ms(p), fake_now + 4 * PROC_BACKOFF_MIN_MS);

	/* nothing is attempted before then, even once the script would succeed */
	fd = open(flag, O_CREAT | O_WRONLY, 0600);
	close(fd);
	fake_now += 4 * PROC_BACKOFF_MIN_MS - 1;
	vpn_error_clear(&e);
	assert_int_equal(proc_check(p, &restarted, &e), VPN_E_INTERNAL);
	assert_false(restarted);
	assert_string_equal(e.msg, "flappy is not running (exit status 4); next restart attempt "
				   "in 1 ms");
	assert_int_equal(count_in(logp, "refused"), 1);
	assert_int_equal(count_in(logp, "attempt"), 3);
	fake_now++;
	if (proc_check(p, &restarted, &e))
		fail_msg("%s", e.msg);
	assert_true(restarted);
	assert_int_equal(proc_restarts(p), 2);
	assert_true(can_connect(sock));
	assert_int_equal(count_in(logp, "attempt"), 4);
	assert_int_equal(count_in(logp, "refused"), 1);
	assert_int_equal(proc_next_attempt_ms(p), fake_now + 8 * PROC_BACKOFF_MIN_MS);

	/* a child that stayed up PROC_BACKOFF_MAX_MS earns the first backoff again */
	t0 = fake_now;
	fake_now += PROC_BACKOFF_MAX_MS;
	pid3 = proc_pid(p);
	assert_int_equal(kill(pid3, SIGKILL), 0);
	assert_true(wait_dead(p, WAIT_MS));
	assert_int_equal(proc_next_attempt_ms(p), t0 + PROC_BACKOFF_MIN_MS);
	if (proc_check(p, &restarted, &e))
		fail_msg("%s", e.msg);
	assert_true(restarted);
	assert_int_equal(proc_restarts(p), 3);
	assert_true(proc_pid(p) > 0 && proc_pid(p) != pid3);
	assert_int_equal(proc_next_attempt_ms(p), fake_now + 2 * PROC_BACKOFF_MIN_MS);
	proc_stop(p);
	proc_set_backoff_clock(NULL);
	assert_no_children();
}

static void
test_stop_sigkill(void **state)
{
	char sock[128];
	const char *argv[] = { self, "--proc-helper", "ignore-term",
			       path_in(sock, sizeof(sock), "t.sock"), NULL };
	struct proc_spec spec = { .name = "stubborn", .argv = argv, .ready_path = sock,
				  .stop_timeout_ms = 300 };
	struct proc *p = NULL;
	struct vpn_error e;
	char logged[1024], want[128];
	int64_t t0;
	pid_t pid;

	(void)state;
	assert_int_equal(proc_start(&p, &spec, &e), VPN_OK);
	pid = proc_pid(p);
	kill(pid, SIGTERM);	/* ignored: the helper set SIG_IGN before listening */
	usleep(50 * 1000);
	assert_true(proc_alive(p));
	t0 = now_ms();
	stop_logged(p, logged, sizeof(logged));
	/* it waited the stop timeout (a lower bound), then SIGKILLed: proc says so */
	assert_true(now_ms() - t0 >= 300);
	snprintf(want, sizeof(want), "stubborn (pid %d) still running 300 ms after SIGTERM; SIGKILL",
		 (int)pid);
	assert_non_null(strstr(logged, want));
	assert_true(pid_gone(pid));
	assert_no_children();
}

/* vpnd dies without proc_stop: its children get SIGTERM (PR_SET_PDEATHSIG). */
static void
test_parent_death(void **state)
{
	const char *argv[] = { self, "--proc-helper", "wait", NULL };
	struct proc_spec spec = { .name = "orphan", .argv = argv };
	int fds[2], st = 0;
	pid_t mid, child = 0;
	int64_t end;

	(void)state;
	assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1), 0);	/* orphans come to us */
	assert_int_equal(pipe(fds), 0);
	mid = fork();
	assert_true(mid >= 0);
	if (mid == 0) {		/* a stand-in vpnd */
		struct proc *p = NULL;

		close(fds[0]);
		if (proc_start(&p, &spec, NULL))
			_exit(1);
		child = proc_pid(p);
		if (write(fds[1], &child, sizeof(child)) != (ssize_t)sizeof(child))
			_exit(2);
		_exit(0);	/* no proc_stop */
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &child, sizeof(child)), (ssize_t)sizeof(child));
	close(fds[0]);
	assert_int_equal(waitpid(mid, &st, 0), mid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	end = now_ms() + WAIT_MS;
	while (waitpid(child, &st, WNOHANG) != child) {
		if (now_ms() > end) {
			kill(child, SIGKILL);
			waitpid(child, &st, 0);
			fail_msg("child %d survived its parent", (int)child);
		}
		usleep(10 * 1000);
	}
	assert_true(WIFSIGNALED(st));
	assert_int_equal(WTERMSIG(st), SIGTERM);
	prctl(PR_SET_CHILD_SUBREAPER, 0);
	assert_no_children();
}

/* As root: run_dir is /run for the child only (a private mount namespace). */
static void
test_run_dir(void **state)
{
	char run[128], logp[128], marker[160], sock[128], cmd[PATH_MAX + 512];
	const char *argv[] = { SH, "-c", cmd, NULL };
	/* ready (listening outside /run) only after the script has looked and written */
	struct proc_spec spec = { .name = "runner", .argv = argv,
				  .ready_path = path_in(sock, sizeof(sock), "run.sock"),
				  .ready_timeout_ms = WAIT_MS };
	struct proc *p = NULL;
	struct vpn_error e;
	int fd;

	(void)state;
	if (geteuid() != 0) {
		fprintf(stderr, "skipped: not root (a mount namespace needs CAP_SYS_ADMIN)\n");
		skip();
	}
	assert_true(snprintf(cmd, sizeof(cmd), "test -e /run/vpnd-proc-marker && echo marker-seen; "
			     "echo pid=$$ > /run/daemon.pid; exec '%s' --proc-helper listen '%s' 0",
			     self, sock) < (int)sizeof(cmd));
	spec.run_dir = path_in(run, sizeof(run), "run");
	spec.log_path = path_in(logp, sizeof(logp), "run.log");
	assert_int_equal(mkdir(run, 0755), 0);
	snprintf(marker, sizeof(marker), "%s/vpnd-proc-marker", run);
	fd = open(marker, O_CREAT | O_WRONLY, 0600);
	close(fd);
	vpn_error_clear(&e);
	if (proc_start(&p, &spec, &e)) {
		if (strstr(e.msg, "unshare") || strstr(e.msg, "mount")) {
			fprintf(stderr, "skipped: %s\n", e.msg);
			skip();
		}
		fail_msg("%s", e.msg);
	}
	proc_stop(p);
	assert_non_null(strstr(slurp(logp), "marker-seen"));
	snprintf(marker, sizeof(marker), "%s/daemon.pid", run);
	assert_int_equal(access(marker, F_OK), 0);	/* written through the bind mount */
	assert_int_equal(access("/run/vpnd-proc-marker", F_OK), -1);	/* ours untouched */
	assert_no_children();
}

int
main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_child_state, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ready_and_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ready_not_foreign, setup, teardown),
		cmocka_unit_test_setup_teardown(test_startup_exit_quotes_log, setup, teardown),
		cmocka_unit_test_setup_teardown(test_long_log_lines_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_spec_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_backoff, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop_sigkill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parent_death, setup, teardown),
		cmocka_unit_test_setup_teardown(test_run_dir, setup, teardown),
	};
	ssize_t n;

	if (argc >= 2 && !strcmp(argv[1], "--proc-helper"))
		return helper_main(argc, argv);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return 1;
	self[n] = '\0';
	log_set_level(LOG_LVL_WARN);
	alarm(4 * WAIT_MS / 1000);	/* bound; children die with us (PR_SET_PDEATHSIG) */
	return cmocka_run_group_tests_name("proc", tests, NULL, NULL) ? 1 : 0;
}
