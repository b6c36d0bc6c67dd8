/*
 * conn_guard.h - per-connection limits libmicrohttpd does not enforce itself:
 *  - --max-conns: a connection beyond it is marked, so its first request gets a 503 and the
 *    connection is closed (MHD itself is given a few spare slots to make that possible);
 *  - --conn-timeout as a deadline, not only as an inactivity timer: a request head must arrive
 *    in full within the timeout of the connection's start (or of its previous response), and a
 *    request body within the timeout of its head. Trickling a byte now and then (slowloris)
 *    does not reset it. A watchdog thread shuts such sockets down; MHD then closes them.
 *
 * State is MHD's socket_context, created and freed by cg_notify (MHD_OPTION_NOTIFY_CONNECTION).
 * The watchdog touches a socket only under the guard's mutex, and MHD reports a connection
 * closed before it closes its socket, so the watchdog never shuts down a reused descriptor.
 */
#ifndef VPND_CONN_GUARD_H
#define VPND_CONN_GUARD_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stdint.h>

struct conn_guard;
struct cg_conn;

/* @timeout_s 0: no deadlines (no watchdog thread). NULL on error. */
struct conn_guard *cg_new(unsigned max_conns, unsigned timeout_s);
/* Stop the watchdog and free. Call after MHD_stop_daemon. NULL-safe. */
void cg_free(struct conn_guard *g);

/* The MHD_OPTION_NOTIFY_CONNECTION callback (@cls is the guard). */
void cg_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
	       enum MHD_ConnectionNotificationCode toe);

/* The state of @conn, or NULL (allocation failed: no limits apply to it). */
struct cg_conn *cg_of(struct MHD_Connection *conn);
/* @c was opened while --max-conns were already open. NULL-safe. */
bool cg_over_limit(const struct cg_conn *c);
/* A request head arrived in full (first access-handler call): the body deadline begins. */
void cg_head_done(struct cg_conn *c, int64_t now_ns);
/* The request is complete and handed on: no deadline until its response is sent. */
void cg_busy(struct cg_conn *c);
/* Its response is sent (or the request ended): the next head's deadline begins. */
void cg_idle(struct cg_conn *c, int64_t now_ns);

/* CLOCK_MONOTONIC in ns. */
int64_t cg_now_ns(void);

#endif
