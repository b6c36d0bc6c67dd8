/*
 * sim.h - the `sim` realization backend: the SDDC edge and every remote peer, in software.
 *
 * Each session's peer is found by peer_address. By default it mirrors the session (same
 * proposals, same PSK, reachable, answers and initiates as needed, identity = peer_address, for
 * a route-based session a BGP speaker at each neighbor address inside the session's VTI subnet,
 * with the neighbor's remote AS and password, announcing nothing). The emulator API overrides any
 * part of that per peer_address, injects traffic, and injects faults. Everything is computed from
 * that model at the virtual time `now`; nothing is canned.
 *
 * All functions here must be called through rz_with_backend() (the engine's lock).
 */
#ifndef VPND_SIM_H
#define VPND_SIM_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/err.h"
#include "realize/rz.h"

/* Timing of the simulated protocols, in virtual ms. */
#define SIM_IKE_NEGOTIATE_MS 300	/* DOWN -> NEGOTIATING -> UP/DOWN */
#define SIM_IKE_RETRY_MS 10000		/* a failed negotiation is retried after this */
#define SIM_BGP_OPEN_MS 500		/* tunnel UP -> ESTABLISHED */
#define SIM_BGP_RETRY_MS 5000		/* ConnectRetry timer for a failing BGP session */

/* Fail reasons, as NSX words them in ike_status.fail_reason / tunnel_down_reason. */
#define SIM_FR_NO_PROPOSAL "No proposal chosen"
#define SIM_FR_AUTH "Authentication failed"
#define SIM_FR_TIMEOUT "Peer not responding"
#define SIM_FR_DPD "Peer not responding (DPD timeout)"
#define SIM_FR_VERSION "IKE version mismatch"
#define SIM_FR_DISABLED "Session is disabled"
#define SIM_FR_WAITING "Waiting for the peer to initiate"
#define SIM_FR_ON_DEMAND "Waiting for traffic (on-demand)"
#define SIM_FR_REKEY "Rekey failed"
#define SIM_FR_TS "Traffic selectors unacceptable"
#define SIM_FR_IKE_DOWN "IKE SA is down"

struct rz_backend *sim_backend_new(void);

/*
 * For tests. sim_work: how many times a session or neighbor has been advanced in time so far
 * (each tick advances only the objects whose next event is due; each API call also the objects
 * it touches), so a test can check the cost of an operation without timing it.
 * sim_set_eager: make every tick advance every object, as a reference for the event queue.
 */
uint64_t sim_work(struct rz_backend *b);
void sim_set_eager(struct rz_backend *b, bool eager);

/*
 * Define (create or replace) the peer at @peer_address from @def, a JSON object whose members
 * override the mirror (all optional):
 *   "psk": str, "local_id": str, "ike_version": "IKE_V1"|"IKE_V2"|"IKE_FLEX",
 *   "ike": {"encryption_algorithms": [...], "digest_algorithms": [...], "dh_groups": [...]},
 *   "esp": {"encryption_algorithms": [...], "digest_algorithms": [...], "dh_groups": [...],
 *           "enable_perfect_forward_secrecy": bool},
 *   "reachable": bool, "initiates": bool (the peer starts IKE), "responds": bool,
 *   "subnets": {"local": [CIDR...], "remote": [CIDR...]}  (the peer's own view; policy-based),
 *   "bgp": {"as": "65006", "password": str, "announce": [{"network": CIDR,
 *           "as_path": "65006 65010", "med": int}]},
 *   "faults": {"flap_period_ms": int (0 = off), "rekey_failure": bool}
 * Invalid members -> VPN_E_INVALID naming the member (never echoing psk/password).
 * Lengths are in characters (UTF-8 code points), as the API counts them: psk 1..128,
 * local_id 1..255, bgp.password 0..32; they are kept and compared whole.
 */
enum vpn_err sim_peer_define(struct rz_backend *b, const char *peer_address, const json_t *def,
			     int64_t now, struct vpn_error *err);
/* Forget the definition: the peer mirrors its session again. VPN_E_NOT_FOUND if none. */
enum vpn_err sim_peer_forget(struct rz_backend *b, const char *peer_address, int64_t now);
/* The effective peer (definition merged over the mirror) as JSON, without psk and password;
 * NULL when no session uses @peer_address and no definition exists. Caller decrefs. */
json_t *sim_peer_get(struct rz_backend *b, const char *peer_address);
/* Every peer: defined ones and those of existing sessions. Caller decrefs. */
json_t *sim_peer_list(struct rz_backend *b);

/*
 * Inject traffic into tunnel @tunnel (index into the session's tunnels) of session @path:
 * @c holds increments of any counter. Traffic on a tunnel that is down is counted as dropped
 * (packets_out -> dropped_packets_out, packets_in -> dropped_packets_in). For an ON_DEMAND
 * session traffic out starts negotiation. VPN_E_NOT_FOUND for an unknown session or tunnel.
 * Every counter saturates at INT64_MAX (NSX counters are int64); nothing is refused.
 */
enum vpn_err sim_traffic(struct rz_backend *b, const char *path, size_t tunnel,
			 const struct rz_counters *c, int64_t now, struct vpn_error *err);

#endif
