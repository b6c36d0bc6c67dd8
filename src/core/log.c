#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static enum log_level min_level = LOG_LVL_INFO;
static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;

void
log_set_level(enum log_level lvl)
{
	min_level = lvl;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	static const char *names[] = { "debug", "info", "warn", "error" };
	struct timespec ts;
	struct tm tm;
	char when[32];
	va_list ap;

	if (lvl < min_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	pthread_mutex_lock(&log_mu);
	fprintf(stderr, "%s.%03ldZ vpnd[%s] ", when, ts.tv_nsec / 1000000, names[lvl]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_mu);
}
