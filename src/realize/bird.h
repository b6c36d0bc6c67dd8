/*
 * bird.h - BIRD 2 for the strongswan backend: bird.conf rendering and a control-socket client.
 *
 * Rendering turns the desired BGP state (router id, local AS, neighbors with their prefix lists,
 * the networks to advertise, kernel export) into one complete, deterministic bird.conf. Prefix
 * lists become BIRD functions with exactly vpnd's FRR semantics (docs/prefix.md): entries in
 * order, first match wins, implicit deny, "ANY" matches both families. Everything that comes
 * from users is validated before it reaches the file: BIRD 2 strings have no escapes, so a
 * password or path with '"', a control character or non-ASCII is refused (VPN_E_INVALID, naming
 * the field, never the value); neighbor ids become BIRD identifiers through bird_proto_name().
 *
 * The client speaks BIRD's control-socket protocol (doc/reply_codes upstream): one command line
 * out; reply lines "DDDD-text" (more follow), "DDDD text" (last line), " text" (continuation,
 * same code as the previous line) and "+text" (spontaneous, ignored). 0xxx ends a reply
 * successfully, 8xxx/9xxx end it with an error. Lines are capped at BIRD_LINE_MAX; a command
 * is bounded by its timeout (poll). See docs/bird.md.
 */
#ifndef VPND_BIRD_H
#define VPND_BIRD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/err.h"
#include "core/netaddr.h"
#include "realize/prefix.h"
#include "realize/rz.h"

/* ---- prefix lists ---- */

/* One prefix-list entry, resolved: the route lengths it admits are [lo, hi] (docs/prefix.md). */
struct bird_pentry {
	bool any;			/* "ANY": every route of both families; net/lo/hi unused */
	struct netprefix net;		/* host bits cleared */
	uint8_t lo, hi;
	enum pl_action action;
};

struct bird_plist {
	size_t n;
	struct bird_pentry *e;		/* owned; bird_plist_release() */
};

/**
 * Resolve a PrefixList "prefixes" array (the same JSON pl_compile takes, which validates it
 * first, so both accept exactly the same lists) into @out (caller storage, overwritten).
 * VPN_E_INVALID / VPN_E_NOMEM as pl_compile; on failure @out is empty.
 */
enum vpn_err bird_plist_from_json(const json_t *prefixes, struct bird_plist *out,
				  struct vpn_error *err);
void bird_plist_release(struct bird_plist *l);	/* NULL-safe; @l is empty afterwards */

#define BIRD_PATTERN_MAX 64
/**
 * The BIRD prefix pattern of one entry: "10.0.0.0/8{8,24}", "2001:db8::/32{48,48}", or "ANY"
 * for an ANY entry (rendered as an unconditional decision, not a pattern).
 */
void bird_pentry_pattern(const struct bird_pentry *e, char out[BIRD_PATTERN_MAX]);

/**
 * Append "function @fname() { ... }": true (permit) or false (deny) for the current `net`, one
 * `if` per entry in list order, stopping at the first ANY; false at the end (implicit deny).
 * @l NULL renders a function that returns true. @fname must be a BIRD identifier.
 */
enum vpn_err bird_render_plist_fn(const char *fname, const struct bird_plist *l, struct buf *out,
				  struct vpn_error *err);

/* ---- identifiers ---- */

#define BIRD_SYM_MAX 64			/* BIRD's SYM_MAX_LEN */
#define BIRD_PROTO_NAME_MAX 48		/* leaves room for the "_pl_out" style suffixes */

/**
 * The protocol name of neighbor @id: "nbr_" followed by @id with [A-Za-z0-9] kept and every
 * other byte written "_xx" (lower-case hex), e.g. "peer-1" -> "nbr_peer_2d1". Injective and
 * reversible (bird_proto_name_decode) while it fits BIRD_PROTO_NAME_MAX; a longer one becomes
 * "nbr_<first encoded chars>_h<16 hex of FNV-1a 64 of @id>", which the caller maps back through
 * its own neighbor table. @out has BIRD_PROTO_NAME_MAX + 1 bytes. False for an empty @id.
 */
bool bird_proto_name(const char *id, char out[BIRD_PROTO_NAME_MAX + 1]);

/* Reverse of bird_proto_name for the reversible form; false for anything else. */
bool bird_proto_name_decode(const char *name, char *out, size_t outlen);

/* ---- configuration ---- */

struct bird_neighbor {
	const char *id;			/* NSX neighbor id -> protocol name */
	struct netaddr addr;		/* neighbor_address; its family picks the channel */
	uint32_t remote_as;
	uint32_t local_as;		/* 0: bird_cfg.local_as */
	struct netaddr local_addr;	/* family 0: BIRD picks the source address */
	const char *password;		/* NULL or "": no TCP-MD5; never logged */
	int64_t keepalive_s, hold_s;	/* 0: BIRD's default */
	unsigned multihop;		/* 0: direct (one-hop eBGP, as on a VTI); else TTL 1..255 */
	bool enabled;
	bool allow_as_in;		/* "allow local as 3", FRR's allowas-in default */
	const struct bird_plist *in;	/* NULL: import all */
	const struct bird_plist *out;	/* NULL: export every advertised network */
};

struct bird_cfg {
	struct netaddr router_id;	/* IPv4 */
	uint32_t local_as;		/* default for neighbors; 65000 when 0 */
	const char *log_path;		/* NULL: no log statement */
	uint32_t kernel_table;		/* 0: main (254) */
	bool kernel_export;		/* export BGP-learned routes into kernel_table */
	size_t nadvertise;		/* networks announced (protocol static, blackhole) */
	const struct netprefix *advertise;
	size_t nneighbors;
	const struct bird_neighbor *neighbors;
};

/**
 * Render the complete bird.conf for @cfg into @out (appended). Deterministic: neighbors are
 * sorted by protocol name and advertised networks by address, duplicates dropped. VPN_E_INVALID
 * (message names the field: "neighbors[2].password") for a router id that is not IPv4, a
 * password or log path BIRD cannot quote, timers out of BIRD's ranges (hold 0 or 3..65535,
 * keepalive 0..65535), multihop > 255, two neighbors with the same protocol name, an advertised
 * network with host bits. VPN_E_TOO_BIG / VPN_E_NOMEM from @out.
 */
enum vpn_err bird_config_render(const struct bird_cfg *cfg, struct buf *out,
				struct vpn_error *err);

/**
 * Write @len bytes of @text to @path atomically: "@path.tmp" is created 0600 (O_EXCL,
 * O_NOFOLLOW; a stale one is removed first), fsync'ed and renamed over @path. The file holds
 * passwords: it is never created with a wider mode.
 */
enum vpn_err bird_config_write(const char *path, const char *text, size_t len,
			       struct vpn_error *err);

/* ---- control socket ---- */

#define BIRD_LINE_MAX 8192		/* longest reply line accepted */
#define BIRD_CONNECT_TIMEOUT_MS 2000

struct bird_conn;

/**
 * Connect to the control socket at @path and read BIRD's greeting ("0001 BIRD x.y ready.").
 * *out is a new connection (bird_close) or NULL on failure: VPN_E_INTERNAL (connect, timeout
 * after BIRD_CONNECT_TIMEOUT_MS, not a 0001 greeting), VPN_E_INVALID (BIRD answered 8xxx).
 */
enum vpn_err bird_connect(const char *path, struct bird_conn **out, struct vpn_error *err);
void bird_close(struct bird_conn *c);		/* NULL-safe */

/* The version from the greeting ("2.0.12"), or "". Borrowed, valid until bird_close. */
const char *bird_version(const struct bird_conn *c);

/**
 * Called for every reply line, in order, including the final one: @code is the line's reply
 * code (continuations carry the code of the line they continue), @text the line without the
 * "DDDD-"/"DDDD "/" " prefix (not NUL-terminated in general: use @len), @last for the final
 * line. A non-VPN_OK return stops the command (the reply is drained first when possible).
 */
typedef enum vpn_err (*bird_line_fn)(void *arg, int code, const char *text, size_t len,
				     bool last);

/**
 * Send @cmd (one line, no '\n' inside) and read its reply within @timeout_ms, calling @cb (may
 * be NULL) per line. Returns VPN_OK for a 0xxx final line; VPN_E_INVALID with BIRD's text for
 * 8xxx/9xxx; VPN_E_TOO_BIG for a line over BIRD_LINE_MAX; VPN_E_INTERNAL for a timeout, EOF,
 * I/O error or a malformed line. After anything but VPN_OK / VPN_E_INVALID (or a stop by @cb)
 * the connection is out of step with BIRD and every later call fails: reconnect.
 */
enum vpn_err bird_cmd(struct bird_conn *c, const char *cmd, bird_line_fn cb, void *arg,
		      int timeout_ms, struct vpn_error *err);

/**
 * Like bird_cmd, appending the reply to @out exactly as received (one line per "\n"), for the
 * parsers below. @out's cap bounds the reply (VPN_E_TOO_BIG).
 */
enum vpn_err bird_cmd_collect(struct bird_conn *c, const char *cmd, struct buf *out,
			      int timeout_ms, struct vpn_error *err);

/**
 * "configure check \"@path\"" (@check) or "configure \"@path\"" (@path NULL: BIRD's current
 * file). VPN_OK on "0020 Configuration OK" / "0003 Reconfigured" / "0004"/"0005" (in progress,
 * queued); VPN_E_INVALID with BIRD's message ("8002 file:line:col ...") for a refused config.
 */
enum vpn_err bird_configure(struct bird_conn *c, const char *path, bool check, int timeout_ms,
			    struct vpn_error *err);

/* ---- reply parsers (input: a reply as bird_cmd_collect stores it) ---- */

struct bird_proto {
	char name[BIRD_SYM_MAX + 1];
	char proto[32];			/* "BGP", "Static", "Kernel", "Device" */
	char table[64];
	char state[16];			/* "up", "start", "down", "flush" */
	int64_t since_s;		/* epoch seconds ("timeformat protocol \"%s\""), -1 unknown */
	char info[128];
	bool bgp;
	enum rz_bgp_state bgp_state;	/* "BGP state:" (Idle, Connect, Active, OpenSent, ...) */
	char bgp_state_text[24];
	char neighbor_address[64];
	uint32_t neighbor_as, local_as;
	char neighbor_id[64];
	char source_address[64];
	int64_t hold_s, keepalive_s;	/* negotiated ("Hold timer: 6.063/9" -> 9); 0 unknown */
	uint64_t routes_imported, routes_exported, routes_preferred;	/* summed over channels */
	char last_error[160];
	char description[128];
};

/**
 * Parse "show protocols [all] [name]" into a new array (*out, free()) of *n protocols. Lines of
 * other codes are ignored; a malformed line, a truncated reply (no final line) or a non-0000
 * final code is VPN_E_INVALID. *out is NULL when *n is 0.
 */
enum vpn_err bird_parse_protocols(const char *reply, size_t len, struct bird_proto **out,
				  size_t *n, struct vpn_error *err);

/* Fill @st from a parsed BGP protocol; @now_s (epoch seconds) for time_since_established. */
void bird_proto_bgp_status(const struct bird_proto *p, int64_t now_s, struct rz_bgp_status *st);

/**
 * Parse "show route protocol X all" (learned) or "show route export X [all]" (advertised) into
 * a new array (*out, free()). Next hop from the first "via" (else BGP.next_hop), as_path from
 * BGP.as_path (truncated at a space boundary to fit), med from BGP.med (0 if absent),
 * local_pref from BGP.local_pref (100 if absent), weight 32768 when @advertised (locally
 * originated, as FRR shows it) else 0. Errors as bird_parse_protocols.
 */
enum vpn_err bird_parse_routes(const char *reply, size_t len, bool advertised,
			       struct rz_route **out, size_t *n, struct vpn_error *err);

#endif
