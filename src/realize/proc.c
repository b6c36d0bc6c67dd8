/*
 * proc.c - fork/exec supervision of charon and bird (see proc.h for the contract).
 *
 * Everything the child needs (descriptors, argv, the merged environment) is prepared before
 * fork(): vpnd has threads, so between fork and execve the child only makes system calls. A
 * CLOEXEC pipe carries {stage, errno} back when a step fails; EOF on it means execve succeeded.
 */
#include "realize/proc.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

extern char **environ;

#define POLL_MS 20		/* readiness probe interval */
#define STOP_POLL_MS 10		/* exit check interval while stopping */
#define TAIL_BYTES 4096		/* log bytes examined for the tail */
#define TAIL_LINE_MAX 90	/* characters quoted per log line */

struct proc {
	char *name;
	char **argv;
	char **env;		/* extra entries, or NULL */
	char *netns_path;	/* "/run/netns/NAME", or NULL */
	char *run_dir;
	char *ready_path;
	char *log_path;
	int ready_timeout_ms;
	int stop_timeout_ms;

	pid_t pid;		/* 0: not running */
	int last_status;	/* wait status of the last exit; -1 unknown */
	unsigned restarts;
	int backoff_ms;		/* delay before the next restart attempt */
	int64_t last_start_ms;	/* monotonic time of the last start attempt */
	int64_t up_since_ms;	/* monotonic time the running child became ready */
};

/* Steps of the child between fork and exec; the index travels back over the pipe. */
enum child_stage {
	ST_SETSID, ST_PDEATHSIG, ST_STDIO, ST_SETNS, ST_UNSHARE, ST_MOUNT_PRIVATE, ST_MOUNT_RUN,
	ST_FDS, ST_CHDIR, ST_EXEC, ST__LAST
};

static const char *const stage_names[ST__LAST] = {
	[ST_SETSID] = "setsid",
	[ST_PDEATHSIG] = "prctl(PR_SET_PDEATHSIG)",
	[ST_STDIO] = "redirecting stdio",
	[ST_SETNS] = "setns",
	[ST_UNSHARE] = "unshare(CLONE_NEWNS)",
	[ST_MOUNT_PRIVATE] = "making / private",
	[ST_MOUNT_RUN] = "bind-mounting the run directory on /run",
	[ST_FDS] = "closing inherited descriptors",
	[ST_CHDIR] = "chdir(/)",
	[ST_EXEC] = "execve",
};

struct child_report {
	int stage;
	int err;
};

/* What the child uses; every descriptor is >= 3 and CLOEXEC. */
struct launch {
	char *const *argv;
	char *const *envp;
	const char *run_dir;
	pid_t parent;
	int null_fd, log_fd, netns_fd, err_fd;
};

static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The clock of the restart backoff (last_start_ms, up_since_ms, the next-attempt deadline):
 * now_ms unless a test replaced it (proc_set_backoff_clock). Readiness and stop timeouts always
 * use now_ms.
 */
static _Atomic(int64_t (*)(void)) backoff_clock = now_ms;	/* set by a test thread */

static int64_t
backoff_now(void)
{
	return atomic_load(&backoff_clock)();
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- the child (system calls only) ---- */

static void __attribute__((noreturn))
child_fail(int fd, enum child_stage stage, int e)
{
	struct child_report r = { stage, e };
	ssize_t n;

	do
		n = write(fd, &r, sizeof(r));
	while (n < 0 && errno == EINTR);
	_exit(127);
}

static void __attribute__((noreturn))
child_main(const struct launch *l)
{
	struct sigaction sa;
	sigset_t none;
	int efd = l->err_fd, sig, fd;

	/* ignored signals stay ignored across execve (vpnd ignores SIGPIPE) */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);	/* glibc-internal ones: EINVAL */
	if (setsid() < 0)
		child_fail(efd, ST_SETSID, errno);
	if (prctl(PR_SET_PDEATHSIG, SIGTERM))
		child_fail(efd, ST_PDEATHSIG, errno);
	if (getppid() != l->parent)
		_exit(127);	/* the parent died before prctl: nobody to report to */
	if (dup2(l->null_fd, 0) < 0 || dup2(l->log_fd, 1) < 0 || dup2(l->log_fd, 2) < 0)
		child_fail(efd, ST_STDIO, errno);
	if (l->netns_fd >= 0 && setns(l->netns_fd, CLONE_NEWNET))
		child_fail(efd, ST_SETNS, errno);
	if (l->run_dir) {
		if (unshare(CLONE_NEWNS))
			child_fail(efd, ST_UNSHARE, errno);
		if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
			child_fail(efd, ST_MOUNT_PRIVATE, errno);
		if (mount(l->run_dir, "/run", NULL, MS_BIND, NULL))
			child_fail(efd, ST_MOUNT_RUN, errno);
	}
	/* keep only 0-2 and the report pipe (as fd 3, still CLOEXEC) */
	if (efd != 3) {
		if (dup3(efd, 3, O_CLOEXEC) < 0)
			child_fail(efd, ST_FDS, errno);
		efd = 3;
	}
	if (close_range(4, ~0U, 0)) {
		if (errno != ENOSYS && errno != EINVAL)
			child_fail(efd, ST_FDS, errno);
		for (fd = 4; fd < 65536; fd++)
			close(fd);
	}
	if (chdir("/"))
		child_fail(efd, ST_CHDIR, errno);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(l->argv[0], l->argv, l->envp);
	child_fail(efd, ST_EXEC, errno);
}

/* ---- helpers of the parent ---- */

/* Move @fd off 0-2 (vpnd may run with stdio closed), keeping it CLOEXEC. */
static int
fd_above_stdio(int fd)
{
	int nfd;

	if (fd < 0 || fd > 2)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
	close(fd);
	return nfd;
}

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Reap @pid without blocking: true once it is gone (status in *@st, -1 if unknown). */
static bool
reap_nohang(pid_t pid, int *st)
{
	pid_t r;

	do
		r = waitpid(pid, st, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == pid)
		return true;
	if (r < 0 && errno == ECHILD) {
		*st = -1;
		return true;
	}
	return false;
}

static int
kill_reap(pid_t pid)
{
	int st = -1;

	if (pid <= 0)
		return -1;
	kill(pid, SIGKILL);
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	return st;
}

static void
describe_status(int st, char *out, size_t n)
{
	const char *abbrev;

	if (st < 0)
		snprintf(out, n, "exit status unknown");
	else if (WIFEXITED(st))
		snprintf(out, n, "exit status %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st)) {
		abbrev = sigabbrev_np(WTERMSIG(st));
		snprintf(out, n, "killed by signal %d (SIG%s)", WTERMSIG(st),
			 abbrev ? abbrev : "?");
	} else
		snprintf(out, n, "wait status 0x%x", (unsigned)st);
}

/*
 * The last PROC_LOG_TAIL_LINES non-empty lines the child logged since offset @from, printable
 * ASCII only, each cut to TAIL_LINE_MAX characters, joined with " | ". "" without a log.
 */
static void
log_tail(const struct proc *p, off_t from, char *out, size_t outsz)
{
	char buf[TAIL_BYTES + 1];
	const char *lines[PROC_LOG_TAIL_LINES];
	size_t lens[PROC_LOG_TAIL_LINES];
	struct stat st;
	off_t start;
	ssize_t n;
	size_t i, nl = 0, o = 0, k;
	char *s, *e;
	int fd;

	out[0] = '\0';
	if (!p->log_path)
		return;
	fd = open(p->log_path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return;
	if (fstat(fd, &st) || st.st_size <= from) {
		close(fd);
		return;
	}
	start = st.st_size - from > TAIL_BYTES ? st.st_size - TAIL_BYTES : from;
	n = pread(fd, buf, TAIL_BYTES, start);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	s = buf;		/* start > from: the first line is the end of a longer one */
	for (; *s; s = e + (*e ? 1 : 0)) {
		e = s + strcspn(s, "\n");
		if (e == s || (e == s + 1 && *s == '\r'))
			continue;
		if (nl == PROC_LOG_TAIL_LINES) {
			memmove(lines, lines + 1, sizeof(lines[0]) * (nl - 1));
			memmove(lens, lens + 1, sizeof(lens[0]) * (nl - 1));
			nl--;
		}
		lines[nl] = s;
		lens[nl++] = (size_t)(e - s);
	}
	for (i = 0; i < nl && o + 7 < outsz; i++) {
		if (i) {
			memcpy(out + o, " | ", 3);
			o += 3;
		}
		if (lines[i] == buf && start > from) {
			memcpy(out + o, "...", 3);
			o += 3;
		}
		for (k = 0; k < lens[i] && k < TAIL_LINE_MAX && o + 1 < outsz; k++) {
			unsigned char c = (unsigned char)lines[i][k];

			if (c == '\r' && k + 1 == lens[i])
				break;
			out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
		}
		if (k < lens[i] && lens[i] - k > 1 && o + 4 < outsz) {
			memcpy(out + o, "...", 3);
			o += 3;
		}
	}
	out[o] = '\0';
}

/* vpnd's environment with the KEY=V entries of @extra replacing or adding; borrowed strings. */
static char **
env_merge(char *const *extra)
{
	size_t n = 0, m = 0, i, j, k = 0;
	char **envp;

	while (environ && environ[n])
		n++;
	while (extra && extra[m])
		m++;
	envp = calloc(n + m + 1, sizeof(*envp));
	if (!envp)
		return NULL;
	for (i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t klen = eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		bool overridden = false;

		for (j = 0; j < m && !overridden; j++)
			overridden = !strncmp(extra[j], environ[i], klen) && extra[j][klen] == '=';
		if (!overridden)
			envp[k++] = environ[i];
	}
	for (j = 0; j < m; j++)
		envp[k++] = extra[j];
	envp[k] = NULL;
	return envp;
}

/*
 * 1 when ready_path accepts a connection and its listener is our child; 0 otherwise, with
 * *@foreign set to the PID of another process listening there.
 */
static int
ready_probe(const struct proc *p, pid_t *foreign)
{
	struct sockaddr_un sa;
	struct ucred cred;
	socklen_t len = sizeof(cred);
	int fd, ok = 0;

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, p->ready_path, strlen(p->ready_path) + 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0) {
		if (cred.pid == p->pid)
			ok = 1;
		else
			*foreign = cred.pid;
	}
	close(fd);
	return ok;
}

static enum vpn_err
startup_failed(struct proc *p, pid_t pid, const char *what, off_t log_off,
	       struct vpn_error *err)
{
	char status[64], tail[PROC_LOG_TAIL_LINES * (TAIL_LINE_MAX + 9) + 1];

	describe_status(p->last_status, status, sizeof(status));
	log_tail(p, log_off, tail, sizeof(tail));
	log_warn("proc: %s (pid %d) %s (%s)", p->name, (int)pid, what, status);
	return vpn_error_set(err, VPN_E_INTERNAL, 0, "%s (pid %d) %s (%s)%s%s", p->name, (int)pid,
			     what, status, tail[0] ? "; log: " : "", tail);
}

/* Wait until the child accepts on ready_path, exits, or the ready timeout passes. */
static enum vpn_err
wait_ready(struct proc *p, off_t log_off, struct vpn_error *err)
{
	int64_t t0 = now_ms(), deadline = t0 + p->ready_timeout_ms;
	pid_t pid = p->pid, foreign = 0;
	char what[160];
	int st;

	for (;;) {
		if (reap_nohang(pid, &st)) {
			p->pid = 0;
			p->last_status = st;
			return startup_failed(p, pid, "exited during startup", log_off, err);
		}
		if (!p->ready_path || ready_probe(p, &foreign)) {
			log_info("proc: %s (pid %d) ready in %lld ms", p->name, (int)pid,
				 (long long)(now_ms() - t0));
			return VPN_OK;
		}
		if (now_ms() >= deadline)
			break;
		sleep_ms(POLL_MS);
	}
	p->pid = 0;
	p->last_status = kill_reap(pid);
	if (foreign)
		snprintf(what, sizeof(what), "was not ready within %d ms (its socket is served "
			 "by pid %d); killed", p->ready_timeout_ms, (int)foreign);
	else
		snprintf(what, sizeof(what), "was not ready within %d ms (nothing accepts on its "
			 "socket); killed", p->ready_timeout_ms);
	return startup_failed(p, pid, what, log_off, err);
}

/* Open what the child inherits; all >= 3 and CLOEXEC. */
static enum vpn_err
open_fds(const struct proc *p, struct launch *l, off_t *log_off, struct vpn_error *err)
{
	struct stat st;

	l->null_fd = fd_above_stdio(open("/dev/null", O_RDWR | O_CLOEXEC | O_NOCTTY));
	if (l->null_fd < 0)
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "%s: /dev/null: %s", p->name,
				     strerror(errno));
	if (p->log_path) {
		l->log_fd = fd_above_stdio(open(p->log_path, O_WRONLY | O_APPEND | O_CREAT |
						O_CLOEXEC | O_NOCTTY, 0600));
		if (l->log_fd < 0)
			return vpn_error_set(err, VPN_E_INTERNAL, 0, "%s: log %s: %s", p->name,
					     p->log_path, strerror(errno));
		if (fstat(l->log_fd, &st) == 0) {
			*log_off = st.st_size;
			if (S_ISREG(st.st_mode) && (st.st_mode & 07777) != 0600)
				(void)fchmod(l->log_fd, 0600);
		}
	} else {
		l->log_fd = fcntl(l->null_fd, F_DUPFD_CLOEXEC, 3);
		if (l->log_fd < 0)
			return vpn_error_set(err, VPN_E_INTERNAL, 0, "%s: dup: %s", p->name,
					     strerror(errno));
	}
	if (p->netns_path) {
		l->netns_fd = fd_above_stdio(open(p->netns_path, O_RDONLY | O_CLOEXEC));
		if (l->netns_fd < 0 && errno == ENOENT)
			return vpn_error_set(err, VPN_E_NOT_FOUND, 0, "%s: network namespace %s "
					     "does not exist", p->name, p->netns_path);
		if (l->netns_fd < 0)
			return vpn_error_set(err, VPN_E_INTERNAL, 0, "%s: %s: %s", p->name,
					     p->netns_path, strerror(errno));
	}
	return VPN_OK;
}

/* One start attempt: fork, exec, wait for readiness. On error no child is left. */
static enum vpn_err
spawn(struct proc *p, struct vpn_error *err)
{
	struct launch l = { .null_fd = -1, .log_fd = -1, .netns_fd = -1, .err_fd = -1 };
	struct child_report rep;
	int pipefd[2] = { -1, -1 };
	sigset_t all, old;
	char **envp = NULL;
	off_t log_off = 0;
	enum vpn_err rc;
	ssize_t n;
	pid_t pid;
	int e;

	p->pid = 0;
	p->last_start_ms = backoff_now();
	rc = open_fds(p, &l, &log_off, err);
	if (rc)
		goto out;
	envp = env_merge(p->env);
	if (!envp) {
		rc = vpn_error_set(err, VPN_E_NOMEM, 0, "%s: out of memory", p->name);
		goto out;
	}
	if (pipe2(pipefd, O_CLOEXEC)) {
		rc = vpn_error_set(err, VPN_E_INTERNAL, 0, "%s: pipe: %s", p->name,
				   strerror(errno));
		goto out;
	}
	pipefd[0] = fd_above_stdio(pipefd[0]);
	pipefd[1] = fd_above_stdio(pipefd[1]);
	if (pipefd[0] < 0 || pipefd[1] < 0) {
		rc = vpn_error_set(err, VPN_E_INTERNAL, 0, "%s: pipe: %s", p->name,
				   strerror(errno));
		goto out;
	}
	l.argv = p->argv;
	l.envp = envp;
	l.run_dir = p->run_dir;
	l.parent = getpid();
	l.err_fd = pipefd[1];

	/* no handler of vpnd may run in the child before its dispositions are reset */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	pid = fork();
	e = errno;
	if (pid == 0)
		child_main(&l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0) {
		rc = vpn_error_set(err, VPN_E_INTERNAL, 0, "%s: fork: %s", p->name, strerror(e));
		goto out;
	}
	close_fd(&pipefd[1]);
	do
		n = read(pipefd[0], &rep, sizeof(rep));
	while (n < 0 && errno == EINTR);
	if (n != 0) {		/* a step failed (or the pipe did): the child is exiting */
		p->last_status = kill_reap(pid);
		if (n == (ssize_t)sizeof(rep) && rep.stage >= 0 && rep.stage < ST__LAST)
			rc = vpn_error_set(err, VPN_E_INTERNAL, 0, "%s: %s%s%s failed: %s",
					   p->name, stage_names[rep.stage],
					   rep.stage == ST_SETNS ? " " : "",
					   rep.stage == ST_SETNS ? p->netns_path : "",
					   strerror(rep.err));
		else
			rc = vpn_error_set(err, VPN_E_INTERNAL, 0, "%s: the child failed before "
					   "exec", p->name);
		log_warn("proc: %s", err ? err->msg : p->name);
		goto out;
	}
	p->pid = pid;
	log_info("proc: started %s (pid %d)%s%s", p->name, (int)pid,
		 p->netns_path ? " in " : "", p->netns_path ? p->netns_path : "");
	rc = wait_ready(p, log_off, err);
	if (!rc)
		p->up_since_ms = backoff_now();
out:
	close_fd(&pipefd[0]);
	close_fd(&pipefd[1]);
	close_fd(&l.null_fd);
	close_fd(&l.log_fd);
	close_fd(&l.netns_fd);
	free(envp);
	return rc;
}

/* ---- spec copy and validation ---- */

static void
strv_free(char **v)
{
	size_t i;

	for (i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static char **
strv_dup(const char *const *v)
{
	size_t n = 0, i;
	char **c;

	while (v[n])
		n++;
	c = calloc(n + 1, sizeof(*c));
	if (!c)
		return NULL;
	for (i = 0; i < n; i++) {
		c[i] = strdup(v[i]);
		if (!c[i]) {
			strv_free(c);
			return NULL;
		}
	}
	return c;
}

static void
proc_free(struct proc *p)
{
	if (!p)
		return;
	free(p->name);
	strv_free(p->argv);
	strv_free(p->env);
	free(p->netns_path);
	free(p->run_dir);
	free(p->ready_path);
	free(p->log_path);
	free(p);
}

static enum vpn_err
spec_check(const struct proc_spec *s, struct vpn_error *err)
{
	const char *name;
	size_t i;

	if (!s || !s->name || !s->name[0])
		return vpn_error_set(err, VPN_E_INVALID, 0, "proc: a name is required");
	name = s->name;
	if (!s->argv || !s->argv[0] || s->argv[0][0] != '/')
		return vpn_error_set(err, VPN_E_INVALID, 0, "%s: argv[0] must be an absolute "
				     "path", name);
	for (i = 0; s->env && s->env[i]; i++) {
		const char *eq = strchr(s->env[i], '=');

		if (!eq || eq == s->env[i])
			return vpn_error_set(err, VPN_E_INVALID, 0, "%s: env entry %zu is not "
					     "KEY=VALUE", name, i);
	}
	if (s->netns && (!s->netns[0] || strchr(s->netns, '/') || !strcmp(s->netns, ".") ||
			 !strcmp(s->netns, "..") || strlen(s->netns) > NAME_MAX))
		return vpn_error_set(err, VPN_E_INVALID, 0, "%s: invalid network namespace name",
				     name);
	if (s->run_dir && s->run_dir[0] != '/')
		return vpn_error_set(err, VPN_E_INVALID, 0, "%s: run_dir must be an absolute "
				     "path", name);
	if (s->ready_path && (!s->ready_path[0] ||
			      strlen(s->ready_path) >= sizeof(((struct sockaddr_un *)0)->sun_path)))
		return vpn_error_set(err, VPN_E_INVALID, 0, "%s: ready_path is empty or longer "
				     "than a unix socket path can be", name);
	if (s->log_path && !s->log_path[0])
		return vpn_error_set(err, VPN_E_INVALID, 0, "%s: empty log_path", name);
	return VPN_OK;
}

static struct proc *
spec_copy(const struct proc_spec *s)
{
	struct proc *p = calloc(1, sizeof(*p));
	bool ok;

	if (!p)
		return NULL;
	p->name = strdup(s->name);
	p->argv = strv_dup(s->argv);
	ok = p->name && p->argv;
	if (s->env) {
		p->env = strv_dup(s->env);
		ok = ok && p->env;
	}
	if (s->netns) {
		size_t n = strlen("/run/netns/") + strlen(s->netns) + 1;

		p->netns_path = malloc(n);
		if (p->netns_path)
			snprintf(p->netns_path, n, "/run/netns/%s", s->netns);
		ok = ok && p->netns_path;
	}
#define DUP_OPT(f) do { if (s->f) { p->f = strdup(s->f); ok = ok && p->f; } } while (0)
	DUP_OPT(run_dir);
	DUP_OPT(ready_path);
	DUP_OPT(log_path);
#undef DUP_OPT
	if (!ok) {
		proc_free(p);
		return NULL;
	}
	p->ready_timeout_ms = s->ready_timeout_ms > 0 ? s->ready_timeout_ms
						       : PROC_READY_TIMEOUT_MS;
	p->stop_timeout_ms = s->stop_timeout_ms > 0 ? s->stop_timeout_ms : PROC_STOP_TIMEOUT_MS;
	p->backoff_ms = PROC_BACKOFF_MIN_MS;
	p->last_status = -1;
	return p;
}

/* ---- public API ---- */

enum vpn_err
proc_start(struct proc **out, const struct proc_spec *spec, struct vpn_error *err)
{
	struct proc *p;
	enum vpn_err rc;

	if (out)
		*out = NULL;
	if (!out)
		return vpn_error_set(err, VPN_E_INVALID, 0, "proc_start: no result pointer");
	rc = spec_check(spec, err);
	if (rc)
		return rc;
	p = spec_copy(spec);
	if (!p)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "%s: out of memory", spec->name);
	rc = spawn(p, err);
	if (rc) {
		proc_free(p);
		return rc;
	}
	*out = p;
	return VPN_OK;
}

bool
proc_alive(struct proc *p)
{
	char status[64];
	pid_t pid;
	int st;

	if (!p || p->pid <= 0)
		return false;
	pid = p->pid;
	if (!reap_nohang(pid, &st))
		return true;
	p->pid = 0;
	p->last_status = st;
	/* a child that ran for a while earns a quick restart */
	if (backoff_now() - p->up_since_ms >= PROC_BACKOFF_MAX_MS)
		p->backoff_ms = PROC_BACKOFF_MIN_MS;
	describe_status(st, status, sizeof(status));
	log_warn("proc: %s (pid %d) exited (%s)", p->name, (int)pid, status);
	return false;
}

enum vpn_err
proc_check(struct proc *p, bool *restarted, struct vpn_error *err)
{
	char status[64];
	int64_t wait;
	enum vpn_err rc;

	if (restarted)
		*restarted = false;
	if (!p)
		return vpn_error_set(err, VPN_E_INVALID, 0, "proc_check: no process");
	if (proc_alive(p))
		return VPN_OK;
	describe_status(p->last_status, status, sizeof(status));
	wait = proc_next_attempt_ms(p) - backoff_now();
	if (wait > 0)
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "%s is not running (%s); next "
				     "restart attempt in %lld ms", p->name, status,
				     (long long)wait);
	log_warn("proc: restarting %s (%s)", p->name, status);
	rc = spawn(p, err);
	p->backoff_ms = p->backoff_ms >= PROC_BACKOFF_MAX_MS / 2 ? PROC_BACKOFF_MAX_MS
								 : p->backoff_ms * 2;
	if (rc) {
		if (err) {
			size_t len = strlen(err->msg);

			snprintf(err->msg + len, sizeof(err->msg) - len, "; next restart attempt "
				 "in %d ms", p->backoff_ms);
		}
		return rc;
	}
	p->restarts++;
	if (restarted)
		*restarted = true;
	return VPN_OK;
}

void
proc_stop(struct proc *p)
{
	int64_t deadline;
	pid_t pid;
	int st;

	if (!p)
		return;
	pid = p->pid;
	if (pid > 0) {
		bool gone = false;

		deadline = now_ms() + p->stop_timeout_ms;
		if (kill(pid, SIGTERM) == 0 || errno != ESRCH) {
			while (!(gone = reap_nohang(pid, &st)) && now_ms() < deadline)
				sleep_ms(STOP_POLL_MS);
		} else
			gone = reap_nohang(pid, &st);
		if (!gone) {
			log_warn("proc: %s (pid %d) still running %d ms after SIGTERM; SIGKILL",
				 p->name, (int)pid, p->stop_timeout_ms);
			kill_reap(pid);
		} else
			log_info("proc: %s (pid %d) stopped", p->name, (int)pid);
		p->pid = 0;
	}
	proc_free(p);
}

pid_t
proc_pid(const struct proc *p)
{
	return p && p->pid > 0 ? p->pid : 0;
}

unsigned
proc_restarts(const struct proc *p)
{
	return p ? p->restarts : 0;
}

int64_t
proc_next_attempt_ms(const struct proc *p)
{
	return p ? p->last_start_ms + p->backoff_ms : 0;
}

void
proc_set_backoff_clock(int64_t (*now)(void))
{
	atomic_store(&backoff_clock, now ? now : now_ms);
}
