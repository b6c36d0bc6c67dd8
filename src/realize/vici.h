/*
 * vici.h - a client for strongSwan's VICI protocol (the charon control socket), written from the
 * protocol description in strongSwan's src/libcharon/plugins/vici/README.md. No libvici needed.
 *
 * Wire format (all integers big-endian):
 *   transport:  u32 length | <length bytes of packet>          (length <= VICI_MAX_PACKET)
 *   packet:     u8 type | [u8 name_len | name] | message        (name for CMD_REQUEST,
 *                                                                EVENT_REGISTER/UNREGISTER, EVENT)
 *   message:    a sequence of elements
 *     SECTION_START u8 len | name      KEY_VALUE u8 len | name | u16 len | value
 *     SECTION_END                      LIST_START u8 len | name
 *     LIST_ITEM u16 len | value        LIST_END
 *
 * Messages are small trees (struct vici_msg): the implicit root section holds key/values,
 * sections and lists of values. Values are blobs; charon sends non-NUL-terminated strings, and
 * every decoded value is additionally NUL-terminated in memory so it can be used as a C string.
 *
 * Secrets: a key named "data", "secret", "psk" or "password" is never printed (vici_msg_print
 * shows <redacted>), values are wiped when a message is freed, and encoded packets are wiped
 * after sending. Error messages name commands and keys, never values of those keys.
 *
 * Errors: malformed input VPN_E_INVALID; too large or too deep VPN_E_TOO_BIG; charon refusing a
 * command (success=no) VPN_E_INVALID with charon's errmsg; unknown command or event
 * VPN_E_UNSUPPORTED; I/O failure or timeout VPN_E_INTERNAL. After a timeout or I/O error in a
 * request the connection is marked broken (a late answer would be taken for the next one): close
 * it and connect again (cheap on a unix socket).
 */
#ifndef VPND_VICI_H
#define VPND_VICI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/err.h"

/* packet types */
enum vici_packet_type {
	VICI_CMD_REQUEST = 0,
	VICI_CMD_RESPONSE = 1,
	VICI_CMD_UNKNOWN = 2,
	VICI_EVENT_REGISTER = 3,
	VICI_EVENT_UNREGISTER = 4,
	VICI_EVENT_CONFIRM = 5,
	VICI_EVENT_UNKNOWN = 6,
	VICI_EVENT = 7,
};

/* message element types */
enum vici_element_type {
	VICI_SECTION_START = 1,
	VICI_SECTION_END = 2,
	VICI_KEY_VALUE = 3,
	VICI_LIST_START = 4,
	VICI_LIST_ITEM = 5,
	VICI_LIST_END = 6,
};

#define VICI_MAX_PACKET (512u * 1024u)	/* after the length field (charon's limit) */
#define VICI_MAX_DEPTH 32		/* nested sections (the root is depth 0) */
#define VICI_NAME_MAX 255		/* names: 1..255 bytes */
#define VICI_VALUE_MAX 65535u
#define VICI_MAX_QUEUED_EVENTS 256	/* events kept while a request is in flight */

/* ---- message tree ---- */

enum vici_node_type { VICI_NODE_SECTION, VICI_NODE_KV, VICI_NODE_LIST, VICI_NODE_ITEM };

struct vici_node;	/* opaque; borrowed pointers valid until the message is freed */
struct vici_msg;	/* opaque */

/* A new, empty message (the root section). NULL on allocation failure. */
struct vici_msg *vici_msg_new(void);
/* NULL-safe; wipes every value before freeing. */
void vici_msg_free(struct vici_msg *m);

/*
 * Builder. Calls append to the innermost open section or list. Errors are sticky: after the
 * first failure every further call returns the same error and vici_encode() refuses the message,
 * so a sequence of builder calls can be checked once at the end.
 *   VPN_E_INVALID  name empty or longer than VICI_NAME_MAX, key/value or section inside a list,
 *                  item outside a list, nested list, unbalanced end, duplicate name in a section
 *   VPN_E_TOO_BIG  value longer than VICI_VALUE_MAX, sections deeper than VICI_MAX_DEPTH
 */
enum vpn_err vici_add_kv(struct vici_msg *m, const char *key, const void *value, size_t len);
enum vpn_err vici_add_kvs(struct vici_msg *m, const char *key, const char *value);
enum vpn_err vici_add_kvf(struct vici_msg *m, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
enum vpn_err vici_begin_section(struct vici_msg *m, const char *name);
enum vpn_err vici_end_section(struct vici_msg *m);
enum vpn_err vici_begin_list(struct vici_msg *m, const char *name);
enum vpn_err vici_list_item(struct vici_msg *m, const void *value, size_t len);
enum vpn_err vici_list_items(struct vici_msg *m, const char *value);	/* NUL-terminated */
enum vpn_err vici_end_list(struct vici_msg *m);
/* The sticky builder error (VPN_OK if none). */
enum vpn_err vici_msg_error(const struct vici_msg *m);

/* Append the message elements of @m to @out (no length, no packet header). */
enum vpn_err vici_encode(const struct vici_msg *m, struct buf *out);

/*
 * Append one whole transport segment: u32 length, @type, @name (for named types; must be
 * 1..255 bytes) and @m (may be NULL: empty message). VPN_E_TOO_BIG past VICI_MAX_PACKET.
 */
enum vpn_err vici_encode_packet(struct buf *out, enum vici_packet_type type, const char *name,
				const struct vici_msg *m);

/*
 * Decode @len bytes of message elements into a new tree (*out, caller frees). Never reads
 * outside [data, data + len); refuses unknown element types, truncated elements, empty names,
 * unbalanced sections or lists, list items outside lists, more than VICI_MAX_DEPTH levels and
 * more than VICI_MAX_PACKET bytes.
 */
enum vpn_err vici_decode(const void *data, size_t len, struct vici_msg **out,
			 struct vpn_error *err);

/* One decoded packet (the bytes after the length field). */
struct vici_packet {
	enum vici_packet_type type;
	char name[VICI_NAME_MAX + 1];	/* "" for unnamed types */
	struct vici_msg *msg;		/* owned; NULL for types without a message */
};
enum vpn_err vici_decode_packet(const void *data, size_t len, struct vici_packet *out,
				struct vpn_error *err);
void vici_packet_release(struct vici_packet *p);	/* NULL-safe; frees msg */

/* ---- reading a tree ---- */

const struct vici_node *vici_root(const struct vici_msg *m);
enum vici_node_type vici_node_type(const struct vici_node *n);	/* @n not NULL */
const char *vici_node_name(const struct vici_node *n);		/* NULL for list items */
/* KV and list item: the value (always NUL-terminated in memory); NULL for others. */
const char *vici_node_value(const struct vici_node *n, size_t *len);
/* Section or list: the first child / item; then vici_node_next. NULL at the end. */
const struct vici_node *vici_node_first(const struct vici_node *n);
const struct vici_node *vici_node_next(const struct vici_node *n);
/* Direct child of section @n called @name (first match), or NULL. */
const struct vici_node *vici_node_child(const struct vici_node *n, const char *name);

/*
 * Look up a dot-separated path from the root, e.g. "s1.child-sas.s1-policy-6.state". Names that
 * contain dots cannot be reached this way: walk with vici_node_child. vici_get returns the value
 * of a key/value node (NULL if absent or not a key/value).
 */
const struct vici_node *vici_find(const struct vici_msg *m, const char *path);
const char *vici_get(const struct vici_msg *m, const char *path);

/*
 * Render @m like `swanctl --raw`: {key=value sec {..} list=[a b]}. Values of secret keys
 * ("data", "secret", "psk", "password", anywhere in the tree) print as <redacted>; other
 * non-printable bytes as \xNN. For logs and tests.
 */
enum vpn_err vici_msg_print(const struct vici_msg *m, struct buf *out);

/*
 * charon's {success, errmsg} convention: VPN_OK if success=yes, else VPN_E_INVALID with
 * "<what>: <errmsg>" (errmsg sanitised and capped).
 */
enum vpn_err vici_check_success(const struct vici_msg *resp, const char *what,
				struct vpn_error *err);

/* ---- connection ---- */

struct vici_conn;

/* Connect to charon's unix socket (non-blocking, CLOEXEC). */
enum vpn_err vici_connect(const char *socket_path, struct vici_conn **out, struct vpn_error *err);
/* Wrap an already connected stream socket (takes ownership of @fd; for tests and socketpairs). */
enum vpn_err vici_conn_adopt(int fd, struct vici_conn **out, struct vpn_error *err);
void vici_close(struct vici_conn *c);		/* NULL-safe */
int vici_conn_fd(const struct vici_conn *c);	/* for poll() in an event loop */
bool vici_conn_broken(const struct vici_conn *c);

/*
 * Send CMD_REQUEST @cmd with @req (NULL: empty) and wait at most @timeout_ms for the response
 * (*resp, caller frees). Events for names registered on this connection that arrive meanwhile
 * are queued for vici_read_event (at most VICI_MAX_QUEUED_EVENTS; more are dropped).
 * The response is returned as is: check it with vici_check_success when the command has one.
 */
enum vpn_err vici_request(struct vici_conn *c, const char *cmd, const struct vici_msg *req,
			  struct vici_msg **resp, int timeout_ms, struct vpn_error *err);

/*
 * Called for each streamed event; @msg is borrowed for the call. A non-VPN_OK return stops
 * further callbacks; the stream is still drained and that code is returned by the request.
 */
typedef enum vpn_err (*vici_event_cb)(void *arg, const char *event, const struct vici_msg *msg);

/*
 * A streamed command (list-sas/list-sa, list-conns/list-conn): register @event, send @cmd,
 * call @cb for every @event packet until the CMD_RESPONSE, unregister. @resp may be NULL.
 * @timeout_ms bounds the whole exchange.
 */
enum vpn_err vici_request_stream(struct vici_conn *c, const char *cmd, const char *event,
				 const struct vici_msg *req, vici_event_cb cb, void *arg,
				 struct vici_msg **resp, int timeout_ms, struct vpn_error *err);

/* Subscribe to / unsubscribe from an event ("ike-updown", "child-updown", ...). */
enum vpn_err vici_register(struct vici_conn *c, const char *event, int timeout_ms,
			   struct vpn_error *err);
enum vpn_err vici_unregister(struct vici_conn *c, const char *event, int timeout_ms,
			     struct vpn_error *err);

/*
 * The next event (queued first, then from the socket), waiting at most @timeout_ms (0: do not
 * wait). *name and *msg are the caller's (free()/vici_msg_free()). VPN_E_NOT_FOUND when no
 * event arrived in time; a packet partly received is kept and completed by the next call, so a
 * timeout here never breaks the connection. Use a dedicated connection for subscriptions.
 */
enum vpn_err vici_read_event(struct vici_conn *c, char **name, struct vici_msg **msg,
			     int timeout_ms, struct vpn_error *err);

/* ---- the commands the strongswan backend uses ---- */

struct vici_child_cfg {
	const char *name;			/* CHILD_SA config name */
	const char *const *local_ts;		/* CIDRs; nlocal_ts == 0: charon's default */
	size_t nlocal_ts;
	const char *const *remote_ts;
	size_t nremote_ts;
	const char *const *esp_proposals;	/* e.g. "aes128gcm16-ecp521" */
	size_t nesp_proposals;
	const char *mode;			/* "tunnel" (NULL: charon default, tunnel) */
	const char *start_action;		/* "none" | "start" | "trap" (NULL: omitted) */
	const char *dpd_action;			/* "clear", "trap", "restart" or NULL */
	int64_t rekey_time_s;			/* 0: omitted */
	int64_t life_time_s;			/* 0: omitted */
};

struct vici_conn_cfg {
	const char *name;			/* IKE_SA config name */
	unsigned version;			/* 1, 2, or 0 for any */
	const char *const *local_addrs;
	size_t nlocal_addrs;
	const char *const *remote_addrs;
	size_t nremote_addrs;
	const char *local_id;			/* auth = psk on both sides */
	const char *remote_id;
	const char *const *proposals;		/* IKE, e.g. "aes128gcm16-prfsha256-ecp521" */
	size_t nproposals;
	bool encap;				/* force UDP encapsulation (kernel-libipsec) */
	bool mobike;
	int64_t dpd_delay_s;			/* 0: omitted (no DPD) */
	int64_t dpd_timeout_s;			/* 0: omitted */
	int64_t rekey_time_s;			/* 0: omitted */
	int64_t over_time_s;			/* 0: omitted */
	const struct vici_child_cfg *children;
	size_t nchildren;
};

/* The load-conn request for @cfg (*out, caller frees). VPN_E_INVALID for a missing name. */
enum vpn_err vici_build_load_conn(const struct vici_conn_cfg *cfg, struct vici_msg **out,
				  struct vpn_error *err);
/* The load-shared request: type, data (the secret), owners[, id]. */
enum vpn_err vici_build_load_shared(const char *type, const char *id, const void *secret,
				    size_t secret_len, const char *const *owners, size_t nowners,
				    struct vici_msg **out, struct vpn_error *err);

/* Each sends the documented request and checks success=yes (VPN_E_INVALID with errmsg). */
enum vpn_err vici_load_conn(struct vici_conn *c, const struct vici_conn_cfg *cfg, int timeout_ms,
			    struct vpn_error *err);
enum vpn_err vici_unload_conn(struct vici_conn *c, const char *name, int timeout_ms,
			      struct vpn_error *err);
/* An IKE PSK for @owners (identities). @id (may be NULL) names it for unload-shared. */
enum vpn_err vici_load_shared(struct vici_conn *c, const char *id, const void *psk,
			      size_t psk_len, const char *const *owners, size_t nowners,
			      int timeout_ms, struct vpn_error *err);
enum vpn_err vici_unload_shared(struct vici_conn *c, const char *id, int timeout_ms,
				struct vpn_error *err);
/*
 * initiate / terminate by CHILD_SA (@child) and/or IKE_SA (@ike) config name; @charon_timeout_ms
 * is the request's own "timeout" key (charon: 0 waits forever, -1 returns at once); @timeout_ms
 * bounds our wait and must be larger when charon is told to wait.
 */
enum vpn_err vici_initiate(struct vici_conn *c, const char *child, const char *ike,
			   int charon_timeout_ms, int timeout_ms, struct vpn_error *err);
enum vpn_err vici_terminate(struct vici_conn *c, const char *child, const char *ike,
			    int charon_timeout_ms, int timeout_ms, struct vpn_error *err);
/* list-sas (streams "list-sa" events; @ike filters by IKE_SA name, may be NULL). */
enum vpn_err vici_list_sas(struct vici_conn *c, const char *ike, vici_event_cb cb, void *arg,
			   int timeout_ms, struct vpn_error *err);
/* list-conns (streams "list-conn" events). */
enum vpn_err vici_list_conns(struct vici_conn *c, const char *ike, vici_event_cb cb, void *arg,
			     int timeout_ms, struct vpn_error *err);

#endif
