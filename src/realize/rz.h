/*
 * rz.h - the realization engine and the backend interface (after strongSwan's kernel_ipsec_t).
 *
 * Handlers only commit intent. The engine (its own thread) is told of every durable change,
 * derives the gateway's desired state from the policy tree (profiles -> sessions, prefix lists
 * -> neighbors), and drives one backend through struct rz_backend_ops: `sim` (emulated peers,
 * this issue) or `strongswan` (real mode, later). Runtime views (status, statistics, BGP, routes)
 * are read from the backend, never stored: they restart from zero with the daemon, as on an edge.
 *
 * Time is core/clock's virtual clock: every call that depends on time takes `now` from it, so a
 * test that advances or freezes the clock sees timers (DPD, hold, lifetimes) fire exactly.
 */
#ifndef VPND_RZ_H
#define VPND_RZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "core/netaddr.h"

struct model;
struct pl_list;
struct json_t;

/* ---- algorithm sets (bit masks), shared by the engine and every backend ---- */
enum rz_enc {
	RZ_ENC_AES_128 = 1 << 0, RZ_ENC_AES_256 = 1 << 1, RZ_ENC_AES_GCM_128 = 1 << 2,
	RZ_ENC_AES_GCM_192 = 1 << 3, RZ_ENC_AES_GCM_256 = 1 << 4, RZ_ENC_GMAC_128 = 1 << 5,
	RZ_ENC_GMAC_192 = 1 << 6, RZ_ENC_GMAC_256 = 1 << 7, RZ_ENC_NULL = 1 << 8,
};
#define RZ_ENC_AEAD (RZ_ENC_AES_GCM_128 | RZ_ENC_AES_GCM_192 | RZ_ENC_AES_GCM_256 | \
		     RZ_ENC_GMAC_128 | RZ_ENC_GMAC_192 | RZ_ENC_GMAC_256)
enum rz_digest {
	RZ_DIG_SHA1 = 1 << 0, RZ_DIG_SHA2_256 = 1 << 1, RZ_DIG_SHA2_384 = 1 << 2,
	RZ_DIG_SHA2_512 = 1 << 3,
};
/* DH groups: bit (1 << group number), e.g. GROUP14 = 1u << 14 */
#define RZ_DH(g) (1u << (g))

enum rz_ike_version { RZ_IKE_V1 = 1, RZ_IKE_V2 = 2, RZ_IKE_FLEX = 3 };
enum rz_initiation { RZ_INIT_INITIATOR = 0, RZ_INIT_RESPOND_ONLY, RZ_INIT_ON_DEMAND };
/* tcp_mss_clamping.direction */
enum rz_mss_dir { RZ_MSS_NONE = 0, RZ_MSS_INBOUND, RZ_MSS_OUTBOUND, RZ_MSS_BOTH };
/* tcp_mss_clamping.max_segment_size not set: 1500 (MTU) - 20 (IPv4) - 20 (TCP) - ~100 of
 * ESP-in-UDP overhead (outer IP 20 + UDP 8 + ESP 8 + IV 16 + pad/trailer <= 17 + ICV 16 + slack) */
#define RZ_MSS_DEFAULT 1360

/* Parse NSX enum names into the masks above; unknown names are ignored (validated earlier). */
unsigned rz_enc_bit(const char *name);
unsigned rz_digest_bit(const char *name);
unsigned rz_dh_bit(const char *name);

#define RZ_PATH_MAX 512
/* Text limits are validated in characters; UTF-8 needs up to 4 bytes each, plus the NUL. */
#define RZ_NAME_BYTES (4 * 255 + 1)	/* display names, identities */
#define RZ_PSK_BYTES (4 * 128 + 1)
#define RZ_PASSWORD_BYTES (4 * 32 + 1)

/* One tunnel (child SA): a route-based session has one 0.0.0.0/0 <-> 0.0.0.0/0. */
struct rz_selector {
	struct netprefix local;
	struct netprefix peer;
	char rule_path[RZ_PATH_MAX];	/* policy-based: the rule it comes from; else "" */
};

/* Desired state of one session, fully resolved (profiles, endpoint address, secrets). */
struct rz_session {
	char path[RZ_PATH_MAX];
	char display_name[RZ_NAME_BYTES];
	bool route_based;
	bool enabled;
	char local_address[64];
	char local_id[RZ_NAME_BYTES];
	char peer_address[64];
	char peer_id[RZ_NAME_BYTES];
	char psk[RZ_PSK_BYTES];
	enum rz_initiation initiation;
	struct {
		enum rz_ike_version version;
		unsigned enc, digest, dh;
		int64_t lifetime_s;
	} ike;
	struct {
		unsigned enc, digest, dh;
		bool pfs;
		int64_t lifetime_s;
	} esp;
	struct {
		bool enabled;
		bool periodic;		/* PERIODIC, else ON_DEMAND */
		int64_t interval_s;
		int64_t retries;
	} dpd;
	bool has_vti;			/* route-based: the SDDC's tunnel-interface address/prefix */
	struct netprefix vti;
	char tunnel_interface_path[RZ_PATH_MAX];
	struct {
		int direction;		/* enum rz_mss_dir */
		int64_t mss;		/* 0: not set (backends use RZ_MSS_DEFAULT) */
	} mss;				/* tcp_mss_clamping */
	size_t ntunnels;
	struct rz_selector *tunnels;	/* owned */
};

/* Desired state of one BGP neighbor. */
struct rz_neighbor {
	char path[RZ_PATH_MAX];
	char id[256];
	struct netaddr addr;
	char addr_text[64];
	uint32_t remote_as;
	char remote_as_text[32];
	uint32_t local_as;		/* the tier-0's local_as_num */
	char password[RZ_PASSWORD_BYTES];
	bool enabled;
	bool allow_as_in;
	int64_t keepalive_s;
	int64_t hold_s;
	const struct pl_list *in_filter;	/* NULL: accept all; owned by the engine */
	const struct pl_list *out_filter;
	/* the same lists as PrefixList "prefixes" JSON (NULL: none), for backends that render
	 * them (bird.c); borrowed, owned by the engine alongside the compiled lists */
	const struct json_t *in_prefixes;
	const struct json_t *out_prefixes;
	size_t nadvertise;			/* the SDDC's networks, before out_filter */
	const struct netprefix *advertise;
};

/* ---- observed state (filled by backends) ---- */
enum rz_ike_state { RZ_IKE_DOWN = 0, RZ_IKE_NEGOTIATING, RZ_IKE_UP };

/* The seed's per-tunnel statistics, all int64 in NSX. */
struct rz_counters {
	uint64_t packets_in, packets_out, bytes_in, bytes_out, dropped_packets_in,
		dropped_packets_out, packets_received_other_error, replay_errors, integrity_failures,
		decryption_failures, packets_sent_other_error, seq_number_overflow_error,
		encryption_failures, sa_mismatch_errors_in, sa_mismatch_errors_out,
		nomatching_policy_errors;
};

struct rz_tunnel_status {
	bool up;
	char down_reason[128];
	struct rz_selector sel;
	struct rz_counters c;		/* since the last reset */
};

struct rz_session_status {
	enum rz_ike_state ike;
	char fail_reason[160];
	size_t ntunnels;
	struct rz_tunnel_status *tunnels;	/* owned; rz_session_status_release() */
	int64_t last_update_ms;
};
void rz_session_status_release(struct rz_session_status *s);

enum rz_bgp_state {
	RZ_BGP_IDLE = 0, RZ_BGP_CONNECT, RZ_BGP_ACTIVE, RZ_BGP_OPEN_SENT, RZ_BGP_OPEN_CONFIRM,
	RZ_BGP_ESTABLISHED,
};
const char *rz_bgp_state_name(enum rz_bgp_state s);

struct rz_bgp_status {
	enum rz_bgp_state state;
	char source_address[64];
	char neighbor_router_id[64];
	uint64_t messages_received, messages_sent;
	int64_t time_since_established_s;	/* 0 unless ESTABLISHED */
	uint64_t connection_drop_count, established_connection_count;
	uint64_t in_prefix_count, out_prefix_count;
	int64_t hold_time_s, keepalive_s;
	int64_t last_update_ms;
};

struct rz_route {
	struct netprefix net;
	char next_hop[64];
	char as_path[128];
	int64_t med, local_pref, weight;
};

/* ---- the backend interface ---- */
struct rz_backend;

struct rz_backend_ops {
	const char *name;
	/* Create or replace (same path) the session / neighbor. @s is copied. */
	enum vpn_err (*apply_session)(struct rz_backend *b, const struct rz_session *s, int64_t now,
				      struct vpn_error *err);
	void (*remove_session)(struct rz_backend *b, const char *path, int64_t now);
	enum vpn_err (*apply_neighbor)(struct rz_backend *b, const struct rz_neighbor *n,
				       int64_t now, struct vpn_error *err);
	void (*remove_neighbor)(struct rz_backend *b, const char *path, int64_t now);
	/* Bring time-driven state up to @now (never called with a smaller @now). */
	void (*tick)(struct rz_backend *b, int64_t now);
	/* VPN_E_NOT_FOUND when the backend does not know the path. */
	enum vpn_err (*session_status)(struct rz_backend *b, const char *path,
				       struct rz_session_status *out);
	enum vpn_err (*reset_counters)(struct rz_backend *b, const char *path);
	enum vpn_err (*bgp_status)(struct rz_backend *b, const char *path, struct rz_bgp_status *out);
	/* Learned (advertised=false) or advertised routes; *out owned by the caller (free()). */
	enum vpn_err (*routes)(struct rz_backend *b, const char *path, bool advertised,
			       struct rz_route **out, size_t *n);
	void (*destroy)(struct rz_backend *b);
};

struct rz_backend {
	const struct rz_backend_ops *ops;
};

/* ---- the engine ---- */
struct rz;

struct rz_config {
	size_t nadvertise;
	const struct netprefix *advertise;	/* SDDC networks announced to BGP peers (copied) */
	int64_t tick_ms;			/* engine period in real time; default 100 */
};

/* Start the engine on @m, driving @b (the engine owns @b from now on). */
enum vpn_err rz_start(struct rz **out, struct model *m, struct rz_backend *b,
		      const struct rz_config *cfg, struct vpn_error *err);
void rz_stop(struct rz *rz);		/* NULL-safe; destroys the backend */

/* Called (from the store's writer thread) after a change to @path is durable. */
void rz_notify(struct rz *rz, const char *path);

/* Block until every change notified so far has been realized (for tests and views). */
void rz_settle(struct rz *rz);

/* Views, evaluated at the current virtual time. */
enum vpn_err rz_session_status(struct rz *rz, const char *path, struct rz_session_status *out);
enum vpn_err rz_reset_counters(struct rz *rz, const char *path);
enum vpn_err rz_bgp_status(struct rz *rz, const char *path, struct rz_bgp_status *out);
enum vpn_err rz_routes(struct rz *rz, const char *path, bool advertised, struct rz_route **out,
		       size_t *n);

enum rz_realized { RZ_UNKNOWN = 0, RZ_IN_PROGRESS, RZ_REALIZED, RZ_ERROR };
struct rz_realized_state {
	enum rz_realized state;
	int64_t intent_revision;	/* the _revision the state refers to */
	char error[256];
	int64_t last_update_ms;
};
/* VPN_E_NOT_FOUND for a path without a committed intent (never created, or its deletion durable). */
enum vpn_err rz_realized(struct rz *rz, const char *path, struct rz_realized_state *out);

/* Run @fn with the backend under the engine lock (for the emulator API on the sim backend). */
enum vpn_err rz_with_backend(struct rz *rz, enum vpn_err (*fn)(struct rz_backend *b, int64_t now,
							      void *arg), void *arg);

#endif
