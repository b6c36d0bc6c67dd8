/*
 * strongswan.h - the `strongswan` realization backend (real mode): struct rz_backend_ops over a
 * private charon (IKE/IPsec, spoken to over VICI) and a private BIRD 2 (BGP, control socket),
 * both supervised as child processes (proc.h) in an optional network namespace.
 *
 * Layout of the run directory (created 0700 if missing):
 *   strongswan.conf  charon.vici  charon.log  charon.out  run/ (bound on /run for charon)
 *   bird.conf  bird-check.conf  bird.ctl  bird.pid  bird.log  bird.out
 *
 * All ops must be called from one thread at a time (the engine's lock). proc_check (daemon
 * restarts) only runs in tick() on the thread that first ticked (the engine thread), because
 * a restarted daemon is tied to the thread that forked it (PR_SET_PDEATHSIG). The daemons
 * started by ss_backend_new are tied to its caller's thread: call it from a thread that lives
 * as long as the backend (vpnd's main thread). See docs/realization.md.
 */
#ifndef VPND_STRONGSWAN_H
#define VPND_STRONGSWAN_H

#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "realize/rz.h"

struct ss_backend_config {
	const char *run_dir;		/* required; made absolute; must fit unix socket paths */
	const char *netns;		/* /run/netns/NAME to run the daemons in, or NULL */
	const char *public_ip;		/* Public-IP1 / Private-IP1 as configured (informational; */
	const char *private_ip;		/* router id defaults to public_ip) */
	uint32_t local_as;		/* 0: 65000 */
	const char *router_id;		/* IPv4; NULL: public_ip, else 192.0.2.1 */
	uint32_t kernel_table;		/* BIRD exports learned routes here; 0: main */
	bool kernel_xfrm;		/* false (default): userspace ESP (kernel-libipsec, tested);
					   true: kernel XFRM (untested, documented) */
	const char *charon_path;	/* NULL: /usr/lib/ipsec/charon */
	const char *bird_path;		/* NULL: /usr/sbin/bird */
	int start_timeout_ms;		/* per daemon; <= 0: PROC_READY_TIMEOUT_MS */
	bool no_nft;			/* tests: behave as if nftables were not available, so
					   tcp_mss_clamping is reported as not realized */
};

/*
 * Write the daemons' configuration, start charon and bird, wait for their sockets and connect.
 * On failure nothing is left running. Errors: VPN_E_INVALID (config), VPN_E_NOT_FOUND (netns),
 * VPN_E_INTERNAL (a daemon did not start, with its log tail), VPN_E_NOMEM.
 */
struct rz_backend *ss_backend_new(const struct ss_backend_config *cfg, struct vpn_error *err);

/* PIDs of the running daemons (0 when not running), for tests and logs. */
void ss_backend_pids(struct rz_backend *b, int *charon_pid, int *bird_pid);

#endif
