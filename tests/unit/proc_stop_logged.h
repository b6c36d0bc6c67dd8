/*
 * proc_stop_logged.h - proc_stop with proc's own log captured, so a test can tell from what proc
 * says ("... still running N ms after SIGTERM; SIGKILL", logged at warn) whether a stop needed
 * SIGKILL, instead of timing it. Included by test_proc.c and test_proc_daemons.c (static
 * function); the includer includes cmocka.h and realize/proc.h first and sets the log level to
 * warn or lower.
 */
#ifndef VPND_PROC_STOP_LOGGED_H
#define VPND_PROC_STOP_LOGGED_H

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

/*
 * proc_stop(@p) with stderr (where proc logs) redirected to the file @path (truncated); what was
 * logged is copied to @out (capped at @n - 1 bytes) and echoed to the real stderr.
 */
static void
proc_stop_logged(struct proc *p, const char *path, char *out, size_t n)
{
	FILE *f;
	size_t got = 0;
	int saved, fd;

	fflush(stderr);
	saved = dup(STDERR_FILENO);
	fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);
	assert_true(saved >= 0 && fd >= 0 && n > 0);
	assert_true(dup2(fd, STDERR_FILENO) == STDERR_FILENO);
	close(fd);
	proc_stop(p);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	f = fopen(path, "r");
	if (f) {
		got = fread(out, 1, n - 1, f);
		fclose(f);
	}
	out[got] = '\0';
	fprintf(stderr, "%s", out);
}

#endif
