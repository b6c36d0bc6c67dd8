#include "http/conn_guard.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "core/log.h"

#define NS_PER_S 1000000000LL
#define CG_TICK_NS (250 * 1000 * 1000LL)	/* watchdog period: deadlines are this late at most */

enum cg_state { CG_HEAD, CG_BODY, CG_BUSY };

struct cg_conn {
	struct cg_conn *prev, *next;	/* the guard's list, under its mutex */
	MHD_socket fd;
	bool over_limit;
	bool cut;			/* shut down by the watchdog */
	atomic_int state;		/* enum cg_state */
	_Atomic int64_t since;		/* monotonic ns the state began */
};

struct conn_guard {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct cg_conn *head;
	unsigned nconns;		/* open connections, under mu */
	unsigned max_conns;
	int64_t timeout_ns;
	bool stop;
	bool running;
	pthread_t thread;
};

int64_t
cg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

static void *
watchdog(void *arg)
{
	struct conn_guard *g = arg;
	struct timespec until;
	struct cg_conn *c;
	int64_t now;

	pthread_mutex_lock(&g->mu);
	while (!g->stop) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += CG_TICK_NS;
		if (until.tv_nsec >= NS_PER_S) {
			until.tv_sec++;
			until.tv_nsec -= NS_PER_S;
		}
		pthread_cond_timedwait(&g->cv, &g->mu, &until);
		now = cg_now_ns();
		for (c = g->head; c; c = c->next) {
			if (c->cut || atomic_load(&c->state) == CG_BUSY ||
			    now - atomic_load(&c->since) <= g->timeout_ns)
				continue;
			/* MHD sees the connection fail and closes it (and its socket) itself */
			log_debug("http: closing a connection whose request took longer than "
				  "--conn-timeout to arrive");
			shutdown(c->fd, SHUT_RDWR);
			c->cut = true;
		}
	}
	pthread_mutex_unlock(&g->mu);
	return NULL;
}

struct conn_guard *
cg_new(unsigned max_conns, unsigned timeout_s)
{
	struct conn_guard *g = calloc(1, sizeof(*g));
	pthread_condattr_t ca;

	if (!g)
		return NULL;
	g->max_conns = max_conns;
	g->timeout_ns = (int64_t)timeout_s * NS_PER_S;
	pthread_mutex_init(&g->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&g->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (timeout_s) {
		if (pthread_create(&g->thread, NULL, watchdog, g)) {
			cg_free(g);
			return NULL;
		}
		g->running = true;
	}
	return g;
}

void
cg_free(struct conn_guard *g)
{
	struct cg_conn *c, *next;

	if (!g)
		return;
	if (g->running) {
		pthread_mutex_lock(&g->mu);
		g->stop = true;
		pthread_cond_signal(&g->cv);
		pthread_mutex_unlock(&g->mu);
		pthread_join(g->thread, NULL);
	}
	for (c = g->head; c; c = next) {	/* none once MHD has stopped; be safe */
		next = c->next;
		free(c);
	}
	pthread_cond_destroy(&g->cv);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

void
cg_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
	  enum MHD_ConnectionNotificationCode toe)
{
	struct conn_guard *g = cls;
	struct cg_conn *c;

	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

		c = calloc(1, sizeof(*c));
		pthread_mutex_lock(&g->mu);
		g->nconns++;
		if (c) {
			c->fd = ci ? ci->connect_fd : MHD_INVALID_SOCKET;
			c->cut = c->fd == MHD_INVALID_SOCKET;
			c->over_limit = g->nconns > g->max_conns;
			atomic_store(&c->state, CG_HEAD);
			atomic_store(&c->since, cg_now_ns());
			c->next = g->head;
			if (g->head)
				g->head->prev = c;
			g->head = c;
		}
		pthread_mutex_unlock(&g->mu);
		*socket_context = c;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		c = *socket_context;
		pthread_mutex_lock(&g->mu);
		g->nconns--;
		if (c) {
			if (c->prev)
				c->prev->next = c->next;
			else
				g->head = c->next;
			if (c->next)
				c->next->prev = c->prev;
		}
		pthread_mutex_unlock(&g->mu);
		free(c);
		*socket_context = NULL;
	}
}

struct cg_conn *
cg_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

bool
cg_over_limit(const struct cg_conn *c)
{
	return c && c->over_limit;
}

static void
set_state(struct cg_conn *c, enum cg_state st, int64_t now_ns)
{
	if (!c)
		return;
	/* since first: the watchdog must never pair the new state with the old time */
	atomic_store(&c->since, now_ns);
	atomic_store(&c->state, st);
}

void
cg_head_done(struct cg_conn *c, int64_t now_ns)
{
	set_state(c, CG_BODY, now_ns);
}

void
cg_busy(struct cg_conn *c)
{
	if (c)
		atomic_store(&c->state, CG_BUSY);
}

void
cg_idle(struct cg_conn *c, int64_t now_ns)
{
	set_state(c, CG_HEAD, now_ns);
}
