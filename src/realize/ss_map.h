/*
 * ss_map.h - the strongswan backend's mapping from a resolved session (struct rz_session) to
 * charon's configuration: IKE/ESP proposal strings, stable connection and child names, and the
 * VICI load-conn / load-shared requests. Pure functions: no I/O, no logging, no global state.
 * Tables, decisions and what is untested: docs/ss_map.md.
 *
 * Proposals (strongSwan keywords, docs.strongswan.org "Algorithm Proposals"):
 *   - at most two proposals, comma-separated: the AEAD one first (GCM/GMAC), then the classic
 *     one (CBC/null with integrity), because strongSwan forbids AEAD and classic algorithms in
 *     the same proposal; inside one proposal every alternative of a kind is listed
 *     ("aes128-aes256-sha1-sha256-modp2048-ecp256"), ordered as NSX lists its enum values.
 *   - IKEv1 (and IKE_FLEX, which may answer IKEv1) keeps only the first algorithm of each kind
 *     per proposal, so for those versions the lists are expanded into one proposal per
 *     combination instead.
 *   - IKE, AEAD: no integrity, PRF from the digests (prfsha*), prfsha256 when there is none.
 *     IKE, classic: integrity = the digests (charon derives the PRF). All DH groups.
 *   - ESP: AEAD without integrity; AES-CBC and NULL with the digests; the tunnel profile's DH
 *     groups appended only with PFS.
 *
 * The PSK only ever goes into ss_load_shared_msg()'s message, under the key "data", which
 * vici_msg_print() redacts. Nothing here logs.
 */
#ifndef VPND_SS_MAP_H
#define VPND_SS_MAP_H

#include <stdbool.h>
#include <stddef.h>

#include "realize/rz.h"

struct vici_msg;

/* Connection and child names: at most SS_NAME_MAX - 1 bytes of [A-Za-z0-9_-]. */
#define SS_NAME_MAX 64

struct ss_options {
	/* The IKE local address; NULL or "": s->local_address (tests and namespaces override). */
	const char *local_address;
	/*
	 * Userspace ESP (charon's kernel-libipsec, the tested dataplane): it only handles
	 * UDP-encapsulated ESP, so the connection forces encap=yes. false: kernel XFRM (untested).
	 */
	bool userspace_esp;
};

/*
 * The IKE proposals for @s->ike, comma-separated, written into @out like snprintf (truncated,
 * always NUL-terminated when @outlen > 0; @out may be NULL when @outlen is 0). Returns the full
 * length without the NUL: a return >= @outlen means @out was too small.
 */
size_t ss_ike_proposals(const struct rz_session *s, char *out, size_t outlen);

/* The ESP proposals for @s->esp (and @s->ike.version), same contract as ss_ike_proposals. */
size_t ss_esp_proposals(const struct rz_session *s, char *out, size_t outlen);

/*
 * The IKE_SA config name for the session at @session_path: "vpnd-" + 16 hex digits of the
 * path's 64-bit FNV-1a hash, plus "-" + the path's last segment when that segment is 1..16
 * characters of [A-Za-z0-9_-]. Stable across restarts and versions (charon's state is keyed by
 * it); also the id of the session's shared secret (unload-shared).
 */
void ss_conn_name(const char *session_path, char out[SS_NAME_MAX]);

/*
 * The CHILD_SA config name of selector @index of @s under connection @conn (ss_conn_name):
 * "<conn>-route" for the route-based 0/0 child, "<conn>-p<index>" for policy-based ones.
 */
void ss_child_name(const char *conn, const struct rz_session *s, size_t index,
		   char out[SS_NAME_MAX]);

/*
 * The complete load-conn request for @s (see docs/ss_map.md for every key), or NULL when it
 * cannot be built (allocation failure, a name or value over VICI's limits). @opt may be NULL
 * (defaults: no address override, kernel XFRM). Caller frees with vici_msg_free().
 */
struct vici_msg *ss_load_conn_msg(const struct rz_session *s, const struct ss_options *opt);

/*
 * The load-shared request for @s's PSK: id = ss_conn_name(s->path), type = IKE, data = the
 * PSK, owners = [local id, peer id] (empty ids left out). NULL when @s has no PSK or on
 * allocation failure. The message holds the secret: vici_msg_free() wipes it.
 */
struct vici_msg *ss_load_shared_msg(const struct rz_session *s);

#endif
