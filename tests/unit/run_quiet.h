/*
 * run_quiet.h - run(argv): a command (absolute path) with a fixed PATH, stdio on /dev/null,
 * bounded by 5 s; its exit status, or -1. Async-signal-safe, so alarm handlers may clean up
 * with it (`ip netns del`, `rm -rf`). Shared by the unit tests that make namespaces and run
 * dirs (test_proc_daemons.c, test_strongswan.c); static, one includer per test binary.
 */
#ifndef VPND_RUN_QUIET_H
#define VPND_RUN_QUIET_H

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

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

#endif
