/*
 * proc.h - supervision of vpnd's own daemons (charon, bird) as direct child processes.
 *
 * A child is fork()ed and execve()d directly (no shell, no `ip netns exec`, no `unshare`), so
 * the PID vpnd holds is the daemon's own PID: it is stopped by that PID, never by name. Between
 * fork and exec the child, in this order: resets signal dispositions, starts a new session
 * (setsid), asks for SIGTERM when its parent thread dies (PR_SET_PDEATHSIG), takes stdin from
 * /dev/null and appends stdout/stderr to log_path, enters the network namespace netns, enters a
 * private mount namespace with run_dir bind-mounted on /run (charon's pid file is fixed at
 * /run/charon.pid), closes every other inherited descriptor, chdir("/") and execs argv with
 * vpnd's environment plus env. A failing step is reported back to proc_start over a CLOEXEC
 * pipe ("charon: setns(/run/netns/gw1) failed: ...").
 *
 * Paths (log_path, ready_path, /run/netns/NAME) are resolved in vpnd's own mount namespace.
 *
 * Not thread-safe: one thread owns a struct proc. PR_SET_PDEATHSIG fires when the *thread* that
 * forked exits, so call proc_start and proc_check from a thread that lives as long as the
 * children should (the realization engine's), never from a short-lived worker. Nothing else in
 * the process may reap children with waitpid(-1) or ignore SIGCHLD.
 */
#ifndef VPND_PROC_H
#define VPND_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/err.h"

#define PROC_READY_TIMEOUT_MS 5000	/* ready_timeout_ms <= 0 */
#define PROC_STOP_TIMEOUT_MS 5000	/* stop_timeout_ms <= 0: SIGTERM, then SIGKILL */
#define PROC_BACKOFF_MIN_MS 100		/* first delay between restart attempts */
#define PROC_BACKOFF_MAX_MS 10000	/* the delay doubles up to this */
#define PROC_LOG_TAIL_LINES 5		/* log lines quoted in a startup error, at most */

struct proc_spec {
	const char *name;		/* "charon" / "bird", for logs and errors */
	const char *const *argv;	/* NULL-terminated; argv[0] an absolute path */
	const char *const *env;		/* extra "K=V" entries (override vpnd's), NULL-terminated,
					   or NULL */
	const char *netns;		/* run inside /run/netns/NAME, or NULL */
	const char *run_dir;		/* if set: private mount namespace, run_dir bound on /run */
	const char *ready_path;		/* a unix stream socket the daemon itself listens on once
					   ready, or NULL (ready as soon as exec succeeded) */
	int ready_timeout_ms;		/* <= 0: PROC_READY_TIMEOUT_MS */
	const char *log_path;		/* stdout/stderr appended here (created 0600), or NULL =
					   /dev/null */
	int stop_timeout_ms;		/* SIGTERM grace before SIGKILL; <= 0: PROC_STOP_TIMEOUT_MS */
};

struct proc;

/*
 * Start the daemon described by @spec and wait until it is ready: ready_path accepts a
 * connection whose listener is the child itself (SO_PEERCRED), so a stale socket file or another
 * process's socket never counts. @spec is copied; it need not outlive the call.
 * Errors: VPN_E_INVALID (bad spec), VPN_E_NOT_FOUND (no such network namespace), VPN_E_NOMEM,
 * VPN_E_INTERNAL (fork failed, a pre-exec step or exec failed, the child exited during startup -
 * with its exit status and at most PROC_LOG_TAIL_LINES lines of what it logged in this run - or
 * it was not ready in time, in which case it is killed). On error *out is NULL and no child is
 * left behind.
 */
enum vpn_err proc_start(struct proc **out, const struct proc_spec *spec, struct vpn_error *err);

/* True while the child runs. Reaps it (waitpid WNOHANG) once it has exited. NULL: false. */
bool proc_alive(struct proc *p);

/*
 * Keep the child running. Alive: VPN_OK. Dead: restart it when the backoff allows (delays
 * between attempts 100 ms, doubling to 10 s; back to 100 ms after a child that stayed up 10 s),
 * blocking at most the ready timeout; on success *@restarted is set and the caller must re-apply
 * the daemon's state (a fresh charon or bird knows nothing). While waiting for the backoff, or
 * when the attempt fails: VPN_E_INTERNAL saying why the child is down and when the next attempt
 * is due; never blocks in that case. @restarted may be NULL.
 */
enum vpn_err proc_check(struct proc *p, bool *restarted, struct vpn_error *err);

/*
 * SIGTERM the child by PID, wait up to stop_timeout_ms for it to exit, then SIGKILL it; reap it
 * and free @p. NULL-safe. Blocks at most stop_timeout_ms plus the time SIGKILL takes.
 */
void proc_stop(struct proc *p);

/* The running child's PID, or 0 when it is not running (never pass 0 to kill()). */
pid_t proc_pid(const struct proc *p);

/* Successful restarts by proc_check since proc_start. */
unsigned proc_restarts(const struct proc *p);

/*
 * When proc_check may next attempt a restart of a dead @p: the start of its last attempt plus the
 * current backoff, in milliseconds of the backoff clock (CLOCK_MONOTONIC unless replaced below).
 * proc_check restarts a dead child once the clock has reached it, and reports "next restart
 * attempt in (this - now) ms" before. Meaningful whether or not the child runs. NULL: 0.
 */
int64_t proc_next_attempt_ms(const struct proc *p);

/*
 * For tests: read the backoff clock (the times behind proc_next_attempt_ms and the 10 s "stayed
 * up" reset) from @now instead of CLOCK_MONOTONIC ms; NULL restores it. Readiness and stop
 * timeouts keep the real clock. Process-wide; call it only while no proc_* call runs.
 */
void proc_set_backoff_clock(int64_t (*now)(void));

#endif
