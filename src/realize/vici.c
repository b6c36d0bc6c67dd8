/*
 * vici.c - VICI codec and client. See vici.h for the wire format and docs/vici.md for the rules.
 *
 * Layout: message tree and builder; size/encode (one pass to size, one to write into an exact
 * allocation, so secrets are never left behind by a realloc); a cursor decoder that checks every
 * length against the bytes left; the connection (non-blocking socket, every wait bounded by
 * poll against a CLOCK_MONOTONIC deadline, a receive state that survives timeouts); commands.
 */
#include "realize/vici.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

struct vici_node {
	enum vici_node_type type;
	struct vici_node *parent;
	struct vici_node *next;
	struct vici_node *first;	/* section / list children */
	struct vici_node *last;
	char *name;			/* NUL-terminated; NULL for items and the root */
	char *value;			/* KV / item: len bytes + NUL */
	size_t len;
};

struct vici_msg {
	struct vici_node root;
	struct vici_node *cur;		/* builder: innermost open section or list */
	unsigned depth;			/* builder: open sections */
	enum vpn_err err;		/* sticky builder error */
};

/* ---- tree ---- */

static void
node_free_children(struct vici_node *n)
{
	struct vici_node *c = n->first, *nx;

	while (c) {
		nx = c->next;
		node_free_children(c);
		if (c->value)
			explicit_bzero(c->value, c->len);
		free(c);
		c = nx;
	}
	n->first = n->last = NULL;
}

struct vici_msg *
vici_msg_new(void)
{
	struct vici_msg *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->root.type = VICI_NODE_SECTION;
	m->cur = &m->root;
	return m;
}

void
vici_msg_free(struct vici_msg *m)
{
	if (!m)
		return;
	node_free_children(&m->root);
	free(m);
}

/* One allocation: node, name, value. */
static struct vici_node *
node_add(struct vici_node *parent, enum vici_node_type type, const void *name, size_t nlen,
	 const void *value, size_t vlen, bool has_value)
{
	struct vici_node *n;
	size_t sz = sizeof(*n) + (name ? nlen + 1 : 0) + (has_value ? vlen + 1 : 0);
	char *p;

	n = calloc(1, sz);
	if (!n)
		return NULL;
	p = (char *)(n + 1);
	n->type = type;
	n->parent = parent;
	if (name) {
		n->name = p;
		memcpy(p, name, nlen);
		p[nlen] = '\0';
		p += nlen + 1;
	}
	if (has_value) {
		n->value = p;
		if (vlen)
			memcpy(p, value, vlen);
		p[vlen] = '\0';
		n->len = vlen;
	}
	if (parent->last)
		parent->last->next = n;
	else
		parent->first = n;
	parent->last = n;
	return n;
}

/* ---- builder ---- */

static enum vpn_err
msg_fail(struct vici_msg *m, enum vpn_err rc)
{
	if (!m->err)
		m->err = rc;
	return m->err;
}

static enum vpn_err
check_name(struct vici_msg *m, const char *name)
{
	size_t n;
	const struct vici_node *c;

	if (!name)
		return msg_fail(m, VPN_E_INVALID);
	n = strlen(name);
	if (n == 0 || n > VICI_NAME_MAX)
		return msg_fail(m, VPN_E_INVALID);
	if (m->cur->type != VICI_NODE_SECTION)
		return msg_fail(m, VPN_E_INVALID);	/* only items go into a list */
	for (c = m->cur->first; c; c = c->next)
		if (c->name && !strcmp(c->name, name))
			return msg_fail(m, VPN_E_INVALID);
	return VPN_OK;
}

enum vpn_err
vici_add_kv(struct vici_msg *m, const char *key, const void *value, size_t len)
{
	if (!m)
		return VPN_E_INVALID;
	if (m->err)
		return m->err;
	if (check_name(m, key))
		return m->err;
	if (len > VICI_VALUE_MAX)
		return msg_fail(m, VPN_E_TOO_BIG);
	if (len && !value)
		return msg_fail(m, VPN_E_INVALID);
	if (!node_add(m->cur, VICI_NODE_KV, key, strlen(key), value, len, true))
		return msg_fail(m, VPN_E_NOMEM);
	return VPN_OK;
}

enum vpn_err
vici_add_kvs(struct vici_msg *m, const char *key, const char *value)
{
	if (!value) {
		if (m)
			msg_fail(m, VPN_E_INVALID);
		return VPN_E_INVALID;
	}
	return vici_add_kv(m, key, value, strlen(value));
}

enum vpn_err
vici_add_kvf(struct vici_msg *m, const char *key, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		if (m)
			msg_fail(m, VPN_E_TOO_BIG);
		return VPN_E_TOO_BIG;
	}
	return vici_add_kv(m, key, tmp, (size_t)n);
}

enum vpn_err
vici_begin_section(struct vici_msg *m, const char *name)
{
	struct vici_node *n;

	if (!m)
		return VPN_E_INVALID;
	if (m->err)
		return m->err;
	if (check_name(m, name))
		return m->err;
	if (m->depth >= VICI_MAX_DEPTH)
		return msg_fail(m, VPN_E_TOO_BIG);
	n = node_add(m->cur, VICI_NODE_SECTION, name, strlen(name), NULL, 0, false);
	if (!n)
		return msg_fail(m, VPN_E_NOMEM);
	m->cur = n;
	m->depth++;
	return VPN_OK;
}

enum vpn_err
vici_end_section(struct vici_msg *m)
{
	if (!m)
		return VPN_E_INVALID;
	if (m->err)
		return m->err;
	if (m->cur == &m->root || m->cur->type != VICI_NODE_SECTION)
		return msg_fail(m, VPN_E_INVALID);
	m->cur = m->cur->parent;
	m->depth--;
	return VPN_OK;
}

enum vpn_err
vici_begin_list(struct vici_msg *m, const char *name)
{
	struct vici_node *n;

	if (!m)
		return VPN_E_INVALID;
	if (m->err)
		return m->err;
	if (check_name(m, name))
		return m->err;
	n = node_add(m->cur, VICI_NODE_LIST, name, strlen(name), NULL, 0, false);
	if (!n)
		return msg_fail(m, VPN_E_NOMEM);
	m->cur = n;
	return VPN_OK;
}

enum vpn_err
vici_list_item(struct vici_msg *m, const void *value, size_t len)
{
	if (!m)
		return VPN_E_INVALID;
	if (m->err)
		return m->err;
	if (m->cur->type != VICI_NODE_LIST || (len && !value))
		return msg_fail(m, VPN_E_INVALID);
	if (len > VICI_VALUE_MAX)
		return msg_fail(m, VPN_E_TOO_BIG);
	if (!node_add(m->cur, VICI_NODE_ITEM, NULL, 0, value, len, true))
		return msg_fail(m, VPN_E_NOMEM);
	return VPN_OK;
}

enum vpn_err
vici_list_items(struct vici_msg *m, const char *value)
{
	if (!value) {
		if (m)
			msg_fail(m, VPN_E_INVALID);
		return VPN_E_INVALID;
	}
	return vici_list_item(m, value, strlen(value));
}

enum vpn_err
vici_end_list(struct vici_msg *m)
{
	if (!m)
		return VPN_E_INVALID;
	if (m->err)
		return m->err;
	if (m->cur->type != VICI_NODE_LIST)
		return msg_fail(m, VPN_E_INVALID);
	m->cur = m->cur->parent;
	return VPN_OK;
}

enum vpn_err
vici_msg_error(const struct vici_msg *m)
{
	return m ? m->err : VPN_E_INVALID;
}

/* ---- encoder ---- */

static size_t
enc_size(const struct vici_node *sec)
{
	const struct vici_node *c, *i;
	size_t n = 0;

	for (c = sec->first; c; c = c->next) {
		switch (c->type) {
		case VICI_NODE_SECTION:
			n += 2 + strlen(c->name) + enc_size(c) + 1;
			break;
		case VICI_NODE_KV:
			n += 2 + strlen(c->name) + 2 + c->len;
			break;
		case VICI_NODE_LIST:
			n += 2 + strlen(c->name) + 1;
			for (i = c->first; i; i = i->next)
				n += 3 + i->len;
			break;
		case VICI_NODE_ITEM:
			break;
		}
	}
	return n;
}

static uint8_t *
put_name(uint8_t *w, uint8_t type, const char *name)
{
	size_t n = strlen(name);

	*w++ = type;
	*w++ = (uint8_t)n;
	memcpy(w, name, n);
	return w + n;
}

static uint8_t *
put_value(uint8_t *w, const struct vici_node *v)
{
	*w++ = (uint8_t)(v->len >> 8);
	*w++ = (uint8_t)(v->len & 0xff);
	if (v->len)
		memcpy(w, v->value, v->len);
	return w + v->len;
}

static uint8_t *
enc_write(uint8_t *w, const struct vici_node *sec)
{
	const struct vici_node *c, *i;

	for (c = sec->first; c; c = c->next) {
		switch (c->type) {
		case VICI_NODE_SECTION:
			w = put_name(w, VICI_SECTION_START, c->name);
			w = enc_write(w, c);
			*w++ = VICI_SECTION_END;
			break;
		case VICI_NODE_KV:
			w = put_name(w, VICI_KEY_VALUE, c->name);
			w = put_value(w, c);
			break;
		case VICI_NODE_LIST:
			w = put_name(w, VICI_LIST_START, c->name);
			for (i = c->first; i; i = i->next) {
				*w++ = VICI_LIST_ITEM;
				w = put_value(w, i);
			}
			*w++ = VICI_LIST_END;
			break;
		case VICI_NODE_ITEM:
			break;
		}
	}
	return w;
}

static bool
type_named(enum vici_packet_type t)
{
	return t == VICI_CMD_REQUEST || t == VICI_EVENT_REGISTER || t == VICI_EVENT_UNREGISTER ||
	       t == VICI_EVENT;
}

static bool
type_has_msg(enum vici_packet_type t)
{
	return t == VICI_CMD_REQUEST || t == VICI_CMD_RESPONSE || t == VICI_EVENT;
}

/* A whole transport segment in an exact allocation (*out, caller wipes and frees). */
static enum vpn_err
packet_alloc(enum vici_packet_type type, const char *name, const struct vici_msg *m,
	     uint8_t **out, size_t *outlen)
{
	size_t nlen = 0, body, total;
	uint8_t *p, *w;

	*out = NULL;
	*outlen = 0;
	if ((unsigned)type > VICI_EVENT)
		return VPN_E_INVALID;
	if (m && m->err)
		return m->err;
	if (m && m->cur != &m->root)
		return VPN_E_INVALID;	/* a section or list is still open */
	if (type_named(type)) {
		if (!name)
			return VPN_E_INVALID;
		nlen = strlen(name);
		if (nlen == 0 || nlen > VICI_NAME_MAX)
			return VPN_E_INVALID;
	}
	body = 1 + (type_named(type) ? 1 + nlen : 0);
	if (m && type_has_msg(type))
		body += enc_size(&m->root);
	if (body > VICI_MAX_PACKET)
		return VPN_E_TOO_BIG;
	total = 4 + body;
	p = malloc(total);
	if (!p)
		return VPN_E_NOMEM;
	w = p;
	*w++ = (uint8_t)(body >> 24);
	*w++ = (uint8_t)(body >> 16);
	*w++ = (uint8_t)(body >> 8);
	*w++ = (uint8_t)body;
	*w++ = (uint8_t)type;
	if (type_named(type)) {
		*w++ = (uint8_t)nlen;
		memcpy(w, name, nlen);
		w += nlen;
	}
	if (m && type_has_msg(type))
		w = enc_write(w, &m->root);
	if ((size_t)(w - p) != total) {		/* sizing and writing disagree: a bug */
		explicit_bzero(p, total);
		free(p);
		return VPN_E_INTERNAL;
	}
	*out = p;
	*outlen = total;
	return VPN_OK;
}

enum vpn_err
vici_encode_packet(struct buf *out, enum vici_packet_type type, const char *name,
		   const struct vici_msg *m)
{
	uint8_t *p = NULL;
	size_t n = 0;
	enum vpn_err rc;

	rc = packet_alloc(type, name, m, &p, &n);
	if (rc)
		goto out;
	rc = buf_add(out, p, n);
out:
	if (p) {
		explicit_bzero(p, n);
		free(p);
	}
	return rc;
}

enum vpn_err
vici_encode(const struct vici_msg *m, struct buf *out)
{
	uint8_t *p = NULL;
	size_t n;
	enum vpn_err rc;

	if (!m)
		return VPN_E_INVALID;
	if (m->err)
		return m->err;
	if (m->cur != &m->root)
		return VPN_E_INVALID;
	n = enc_size(&m->root);
	if (n > VICI_MAX_PACKET)
		return VPN_E_TOO_BIG;
	if (n == 0)
		return VPN_OK;
	p = malloc(n);
	if (!p)
		return VPN_E_NOMEM;
	if ((size_t)(enc_write(p, &m->root) - p) != n)
		rc = VPN_E_INTERNAL;
	else
		rc = buf_add(out, p, n);
	explicit_bzero(p, n);
	free(p);
	return rc;
}

/* ---- decoder: a cursor that only moves forward over bytes it has checked ---- */

struct vici_cur {
	const uint8_t *p;
	size_t left;
	const uint8_t *start;
};

static int
cur_u8(struct vici_cur *c, uint8_t *v)
{
	if (c->left < 1)
		return -1;
	*v = *c->p++;
	c->left--;
	return 0;
}

static int
cur_u16(struct vici_cur *c, size_t *v)
{
	if (c->left < 2)
		return -1;
	*v = ((size_t)c->p[0] << 8) | c->p[1];
	c->p += 2;
	c->left -= 2;
	return 0;
}

static int
cur_take(struct vici_cur *c, size_t n, const uint8_t **out)
{
	if (c->left < n)
		return -1;
	*out = c->p;
	c->p += n;
	c->left -= n;
	return 0;
}

/* u8 length + 1..255 bytes, no NUL inside (names become C strings). */
static int
cur_name(struct vici_cur *c, const uint8_t **name, size_t *len)
{
	uint8_t n;

	if (cur_u8(c, &n) || n == 0 || cur_take(c, n, name))
		return -1;
	if (memchr(*name, '\0', n))
		return -1;
	*len = n;
	return 0;
}

static int
cur_value(struct vici_cur *c, const uint8_t **v, size_t *len)
{
	return cur_u16(c, len) || cur_take(c, *len, v);
}

static size_t
cur_off(const struct vici_cur *c)
{
	return (size_t)(c->p - c->start);
}

enum vpn_err
vici_decode(const void *data, size_t len, struct vici_msg **out, struct vpn_error *err)
{
	struct vici_cur c = { data, len, data };
	struct vici_msg *m = NULL;
	struct vici_node *cur, *n;
	const uint8_t *name, *val;
	size_t nlen, vlen, at;
	unsigned depth = 0;
	enum vpn_err rc = VPN_OK;
	uint8_t t;

	*out = NULL;
	if (len > VICI_MAX_PACKET) {
		rc = vpn_error_set(err, VPN_E_TOO_BIG, 0, "vici: message of %zu bytes exceeds %u",
				   len, VICI_MAX_PACKET);
		goto out;
	}
	if (len && !data) {
		rc = vpn_error_set(err, VPN_E_INVALID, 0, "vici: no data");
		goto out;
	}
	m = vici_msg_new();
	if (!m) {
		rc = vpn_error_set(err, VPN_E_NOMEM, 0, "vici: out of memory");
		goto out;
	}
	cur = &m->root;
	while (c.left) {
		at = cur_off(&c);
		if (cur_u8(&c, &t))
			goto truncated;
		switch (t) {
		case VICI_SECTION_START:
			if (cur->type == VICI_NODE_LIST)
				goto misplaced;
			if (cur_name(&c, &name, &nlen))
				goto truncated;
			if (depth >= VICI_MAX_DEPTH) {
				rc = vpn_error_set(err, VPN_E_TOO_BIG, 0, "vici: sections "
						   "nested deeper than %d at offset %zu",
						   VICI_MAX_DEPTH, at);
				goto out;
			}
			n = node_add(cur, VICI_NODE_SECTION, name, nlen, NULL, 0, false);
			if (!n)
				goto nomem;
			cur = n;
			depth++;
			break;
		case VICI_SECTION_END:
			if (cur->type != VICI_NODE_SECTION || depth == 0)
				goto misplaced;
			cur = cur->parent;
			depth--;
			break;
		case VICI_KEY_VALUE:
			if (cur->type == VICI_NODE_LIST)
				goto misplaced;
			if (cur_name(&c, &name, &nlen) || cur_value(&c, &val, &vlen))
				goto truncated;
			if (!node_add(cur, VICI_NODE_KV, name, nlen, val, vlen, true))
				goto nomem;
			break;
		case VICI_LIST_START:
			if (cur->type == VICI_NODE_LIST)
				goto misplaced;
			if (cur_name(&c, &name, &nlen))
				goto truncated;
			n = node_add(cur, VICI_NODE_LIST, name, nlen, NULL, 0, false);
			if (!n)
				goto nomem;
			cur = n;
			break;
		case VICI_LIST_ITEM:
			if (cur->type != VICI_NODE_LIST)
				goto misplaced;
			if (cur_value(&c, &val, &vlen))
				goto truncated;
			if (!node_add(cur, VICI_NODE_ITEM, NULL, 0, val, vlen, true))
				goto nomem;
			break;
		case VICI_LIST_END:
			if (cur->type != VICI_NODE_LIST)
				goto misplaced;
			cur = cur->parent;
			break;
		default:
			rc = vpn_error_set(err, VPN_E_INVALID, 0,
					   "vici: unknown element type %u at offset %zu", t, at);
			goto out;
		}
		continue;
truncated:
		rc = vpn_error_set(err, VPN_E_INVALID, 0,
				   "vici: truncated or empty-named element at offset %zu", at);
		goto out;
misplaced:
		rc = vpn_error_set(err, VPN_E_INVALID, 0,
				   "vici: element type %u not allowed here (offset %zu)", t, at);
		goto out;
nomem:
		rc = vpn_error_set(err, VPN_E_NOMEM, 0, "vici: out of memory");
		goto out;
	}
	if (cur != &m->root) {
		rc = vpn_error_set(err, VPN_E_INVALID, 0, "vici: unterminated %s at end of message",
				   cur->type == VICI_NODE_LIST ? "list" : "section");
		goto out;
	}
	*out = m;
	m = NULL;
out:
	vici_msg_free(m);
	return rc;
}

enum vpn_err
vici_decode_packet(const void *data, size_t len, struct vici_packet *out, struct vpn_error *err)
{
	struct vici_cur c = { data, len, data };
	const uint8_t *name;
	size_t nlen;
	uint8_t t;
	enum vpn_err rc;

	memset(out, 0, sizeof(*out));
	if (len > VICI_MAX_PACKET)
		return vpn_error_set(err, VPN_E_TOO_BIG, 0, "vici: packet of %zu bytes exceeds %u",
				     len, VICI_MAX_PACKET);
	if (!data || cur_u8(&c, &t))
		return vpn_error_set(err, VPN_E_INVALID, 0, "vici: empty packet");
	if (t > VICI_EVENT)
		return vpn_error_set(err, VPN_E_INVALID, 0, "vici: unknown packet type %u", t);
	out->type = (enum vici_packet_type)t;
	if (type_named(out->type)) {
		if (cur_name(&c, &name, &nlen))
			return vpn_error_set(err, VPN_E_INVALID, 0,
					     "vici: packet type %u with a bad name", t);
		memcpy(out->name, name, nlen);
		out->name[nlen] = '\0';
	}
	if (!type_has_msg(out->type)) {
		if (c.left)
			return vpn_error_set(err, VPN_E_INVALID, 0,
					     "vici: %zu trailing bytes in packet type %u", c.left,
					     t);
		return VPN_OK;
	}
	rc = vici_decode(c.p, c.left, &out->msg, err);
	if (rc)
		memset(out, 0, sizeof(*out));
	return rc;
}

void
vici_packet_release(struct vici_packet *p)
{
	if (!p)
		return;
	vici_msg_free(p->msg);
	p->msg = NULL;
}

/* ---- reading a tree ---- */

const struct vici_node *
vici_root(const struct vici_msg *m)
{
	return m ? &m->root : NULL;
}

enum vici_node_type
vici_node_type(const struct vici_node *n)
{
	return n->type;
}

const char *
vici_node_name(const struct vici_node *n)
{
	return n ? n->name : NULL;
}

const char *
vici_node_value(const struct vici_node *n, size_t *len)
{
	if (!n || !n->value) {
		if (len)
			*len = 0;
		return NULL;
	}
	if (len)
		*len = n->len;
	return n->value;
}

const struct vici_node *
vici_node_first(const struct vici_node *n)
{
	if (!n || (n->type != VICI_NODE_SECTION && n->type != VICI_NODE_LIST))
		return NULL;
	return n->first;
}

const struct vici_node *
vici_node_next(const struct vici_node *n)
{
	return n ? n->next : NULL;
}

const struct vici_node *
vici_node_child(const struct vici_node *n, const char *name)
{
	const struct vici_node *c;

	if (!n || !name || n->type != VICI_NODE_SECTION)
		return NULL;
	for (c = n->first; c; c = c->next)
		if (c->name && !strcmp(c->name, name))
			return c;
	return NULL;
}

const struct vici_node *
vici_find(const struct vici_msg *m, const char *path)
{
	const struct vici_node *n;
	const char *p, *dot;
	char seg[VICI_NAME_MAX + 1];
	size_t len;

	if (!m || !path)
		return NULL;
	n = &m->root;
	p = path;
	for (;;) {
		dot = strchr(p, '.');
		len = dot ? (size_t)(dot - p) : strlen(p);
		if (len == 0 || len > VICI_NAME_MAX)
			return NULL;
		memcpy(seg, p, len);
		seg[len] = '\0';
		n = vici_node_child(n, seg);
		if (!n || !dot)
			return n;
		p = dot + 1;
	}
}

const char *
vici_get(const struct vici_msg *m, const char *path)
{
	const struct vici_node *n = vici_find(m, path);

	return n && n->type == VICI_NODE_KV ? n->value : NULL;
}

/* ---- printing (secrets redacted) ---- */

static bool
secret_key(const char *name)
{
	static const char *const keys[] = { "data", "secret", "psk", "password" };
	size_t i;

	if (!name)
		return false;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(name, keys[i]))
			return true;
	return false;
}

static enum vpn_err
print_value(struct buf *out, const struct vici_node *v, bool redact)
{
	enum vpn_err rc = VPN_OK;
	size_t i;
	unsigned char ch;

	if (redact)
		return buf_adds(out, "<redacted>");
	for (i = 0; i < v->len && !rc; i++) {
		ch = (unsigned char)v->value[i];
		if (ch < 0x20 || ch >= 0x7f || ch == '\\')
			rc = buf_addf(out, "\\x%02x", ch);
		else
			rc = buf_add(out, &ch, 1);
	}
	return rc;
}

static enum vpn_err
print_section(struct buf *out, const struct vici_node *sec)
{
	const struct vici_node *c, *i;
	enum vpn_err rc;
	bool red;

	rc = buf_adds(out, "{");
	for (c = sec->first; c && !rc; c = c->next) {
		if (c != sec->first)
			rc = buf_adds(out, " ");
		if (rc)
			break;
		red = secret_key(c->name);
		switch (c->type) {
		case VICI_NODE_SECTION:
			rc = buf_addf(out, "%s ", c->name);
			if (!rc)
				rc = print_section(out, c);
			break;
		case VICI_NODE_KV:
			rc = buf_addf(out, "%s=", c->name);
			if (!rc)
				rc = print_value(out, c, red);
			break;
		case VICI_NODE_LIST:
			rc = buf_addf(out, "%s=[", c->name);
			for (i = c->first; i && !rc; i = i->next) {
				if (i != c->first)
					rc = buf_adds(out, " ");
				if (!rc)
					rc = print_value(out, i, red);
			}
			if (!rc)
				rc = buf_adds(out, "]");
			break;
		case VICI_NODE_ITEM:
			break;
		}
	}
	if (!rc)
		rc = buf_adds(out, "}");
	return rc;
}

enum vpn_err
vici_msg_print(const struct vici_msg *m, struct buf *out)
{
	if (!m)
		return buf_adds(out, "{}");
	return print_section(out, &m->root);
}

/* Copy @s (len bytes) into @dst, printable ASCII only. */
static void
sanitize(char *dst, size_t cap, const char *s, size_t len)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 1 < cap; i++)
		dst[o++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	dst[o] = '\0';
}

enum vpn_err
vici_check_success(const struct vici_msg *resp, const char *what, struct vpn_error *err)
{
	const char *ok = vici_get(resp, "success");
	const struct vici_node *em = vici_find(resp, "errmsg");
	char msg[256] = "";

	if (ok && !strcmp(ok, "yes"))
		return VPN_OK;
	if (em && em->type == VICI_NODE_KV)
		sanitize(msg, sizeof(msg), em->value, em->len);
	return vpn_error_set(err, VPN_E_INVALID, 0, "%s: %s", what ? what : "vici",
			     msg[0] ? msg : (ok ? "failed" : "no success in the response"));
}

/* ---- connection ---- */

struct vici_event_q {
	struct vici_event_q *next;
	char *name;
	struct vici_msg *msg;
};

struct vici_conn {
	int fd;
	bool broken;
	uint8_t hdr[4];
	size_t hdr_got;
	uint8_t *body;			/* current packet once the header is complete */
	size_t body_len;
	size_t body_got;
	struct vici_event_q *qhead, *qtail;
	size_t nqueued;
	size_t dropped;
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
deadline_in(int timeout_ms)
{
	return mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
}

/* Wait for @events until @deadline: 1 ready, 0 timeout, -1 error. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t left;
	int r;

	for (;;) {
		left = deadline - mono_ms();
		if (left <= 0)
			return 0;
		r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

enum vpn_err
vici_conn_adopt(int fd, struct vici_conn **out, struct vpn_error *err)
{
	struct vici_conn *c;
	int fl;

	*out = NULL;
	if (fd < 0)
		return vpn_error_set(err, VPN_E_INVALID, 0, "vici: bad descriptor");
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		close(fd);
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "vici: fcntl: %s", strerror(errno));
	}
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return vpn_error_set(err, VPN_E_NOMEM, 0, "vici: out of memory");
	}
	c->fd = fd;
	*out = c;
	return VPN_OK;
}

enum vpn_err
vici_connect(const char *socket_path, struct vici_conn **out, struct vpn_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n;
	int fd;

	*out = NULL;
	if (!socket_path)
		return vpn_error_set(err, VPN_E_INVALID, 0, "vici: no socket path");
	n = strlen(socket_path);
	if (n == 0 || n >= sizeof(sa.sun_path))
		return vpn_error_set(err, VPN_E_INVALID, 0, "vici: socket path too long or empty");
	memcpy(sa.sun_path, socket_path, n + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "vici: socket: %s", strerror(errno));
	/* unix sockets connect at once or fail (EAGAIN: backlog full); never wait here */
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;

		close(fd);
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "vici: connect %s: %s", socket_path,
				     strerror(e));
	}
	return vici_conn_adopt(fd, out, err);
}

static void
rx_reset(struct vici_conn *c)
{
	if (c->body) {
		explicit_bzero(c->body, c->body_len);
		free(c->body);
	}
	c->body = NULL;
	c->body_len = c->body_got = 0;
	c->hdr_got = 0;
}

void
vici_close(struct vici_conn *c)
{
	struct vici_event_q *q, *nx;

	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	rx_reset(c);
	for (q = c->qhead; q; q = nx) {
		nx = q->next;
		free(q->name);
		vici_msg_free(q->msg);
		free(q);
	}
	free(c);
}

int
vici_conn_fd(const struct vici_conn *c)
{
	return c ? c->fd : -1;
}

bool
vici_conn_broken(const struct vici_conn *c)
{
	return !c || c->broken;
}

static enum vpn_err
conn_fail(struct vici_conn *c, struct vpn_error *err, enum vpn_err code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static enum vpn_err
conn_fail(struct vici_conn *c, struct vpn_error *err, enum vpn_err code, const char *fmt, ...)
{
	char msg[VPN_ERR_MSG_MAX];
	va_list ap;

	c->broken = true;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return vpn_error_set(err, code, 0, "%s", msg);
}

static enum vpn_err
send_all(struct vici_conn *c, const uint8_t *p, size_t n, int64_t deadline, struct vpn_error *err)
{
	ssize_t w;
	int r;

	while (n) {
		w = send(c->fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			p += w;
			n -= (size_t)w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return conn_fail(c, err, VPN_E_INTERNAL, "vici: send: %s", strerror(errno));
		r = wait_fd(c->fd, POLLOUT, deadline);
		if (r == 0)
			return conn_fail(c, err, VPN_E_INTERNAL, "vici: send timed out");
		if (r < 0)
			return conn_fail(c, err, VPN_E_INTERNAL, "vici: poll: %s", strerror(errno));
	}
	return VPN_OK;
}

static enum vpn_err
send_packet(struct vici_conn *c, enum vici_packet_type type, const char *name,
	    const struct vici_msg *m, int64_t deadline, struct vpn_error *err)
{
	uint8_t *p = NULL;
	size_t n = 0;
	enum vpn_err rc;

	if (c->broken)
		return vpn_error_set(err, VPN_E_INTERNAL, 0,
				     "vici: connection broken by an earlier error; reconnect");
	rc = packet_alloc(type, name, m, &p, &n);
	if (rc) {
		vpn_error_set(err, rc, 0, "vici: cannot encode %s packet for '%s'",
			      type == VICI_CMD_REQUEST ? "request" : "event", name ? name : "");
		goto out;
	}
	rc = send_all(c, p, n, deadline, err);
out:
	if (p) {
		explicit_bzero(p, n);
		free(p);
	}
	return rc;
}

/*
 * Receive one packet, waiting until @deadline. VPN_E_NOT_FOUND on timeout (partial data kept:
 * the next call continues where this one stopped).
 */
static enum vpn_err
recv_packet(struct vici_conn *c, struct vici_packet *pkt, int64_t deadline, struct vpn_error *err)
{
	uint8_t *dst;
	size_t want;
	ssize_t r;
	enum vpn_err rc;
	int w;

	if (c->broken)
		return vpn_error_set(err, VPN_E_INTERNAL, 0,
				     "vici: connection broken by an earlier error; reconnect");
	for (;;) {
		if (c->hdr_got == 4 && c->body_got == c->body_len)
			break;
		if (c->hdr_got < 4) {
			dst = c->hdr + c->hdr_got;
			want = 4 - c->hdr_got;
		} else {
			dst = c->body + c->body_got;
			want = c->body_len - c->body_got;
		}
		r = recv(c->fd, dst, want, MSG_DONTWAIT);
		if (r > 0) {
			if (c->hdr_got < 4) {
				c->hdr_got += (size_t)r;
				if (c->hdr_got < 4)
					continue;
				c->body_len = ((size_t)c->hdr[0] << 24) |
					      ((size_t)c->hdr[1] << 16) |
					      ((size_t)c->hdr[2] << 8) | c->hdr[3];
				if (c->body_len == 0)
					return conn_fail(c, err, VPN_E_INVALID,
							 "vici: empty packet");
				if (c->body_len > VICI_MAX_PACKET)
					return conn_fail(c, err, VPN_E_TOO_BIG,
							 "vici: packet of %zu bytes exceeds %u",
							 c->body_len, VICI_MAX_PACKET);
				c->body = malloc(c->body_len);
				if (!c->body)
					return conn_fail(c, err, VPN_E_NOMEM,
							 "vici: out of memory");
			} else {
				c->body_got += (size_t)r;
			}
			continue;
		}
		if (r == 0)
			return conn_fail(c, err, VPN_E_INTERNAL,
					 "vici: charon closed the connection");
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return conn_fail(c, err, VPN_E_INTERNAL, "vici: recv: %s", strerror(errno));
		w = wait_fd(c->fd, POLLIN, deadline);
		if (w == 0)
			return VPN_E_NOT_FOUND;
		if (w < 0)
			return conn_fail(c, err, VPN_E_INTERNAL, "vici: poll: %s", strerror(errno));
	}
	rc = vici_decode_packet(c->body, c->body_len, pkt, err);
	rx_reset(c);
	if (rc)
		c->broken = true;
	return rc;
}

static void
queue_event(struct vici_conn *c, struct vici_packet *pkt)
{
	struct vici_event_q *q;

	if (c->nqueued >= VICI_MAX_QUEUED_EVENTS)
		goto drop;
	q = calloc(1, sizeof(*q));
	if (!q)
		goto drop;
	q->name = strdup(pkt->name);
	if (!q->name) {
		free(q);
		goto drop;
	}
	q->msg = pkt->msg;
	pkt->msg = NULL;
	if (c->qtail)
		c->qtail->next = q;
	else
		c->qhead = q;
	c->qtail = q;
	c->nqueued++;
	return;
drop:
	c->dropped++;
	log_warn("vici: dropped event '%s' (queue full or out of memory; %zu dropped)", pkt->name,
		 c->dropped);
}

static const char *
ptype_name(enum vici_packet_type t)
{
	static const char *const names[] = {
		"CMD_REQUEST", "CMD_RESPONSE", "CMD_UNKNOWN", "EVENT_REGISTER",
		"EVENT_UNREGISTER", "EVENT_CONFIRM", "EVENT_UNKNOWN", "EVENT",
	};

	return (unsigned)t <= VICI_EVENT ? names[t] : "?";
}

/*
 * Send one packet and read until its answer: CMD_RESPONSE/CMD_UNKNOWN for a request,
 * EVENT_CONFIRM/EVENT_UNKNOWN for a (un)registration. Events named @stream go to @cb, others are
 * queued. *resp gets the response message (requests only).
 */
static enum vpn_err
exchange(struct vici_conn *c, enum vici_packet_type type, const char *name,
	 const struct vici_msg *req, const char *stream, vici_event_cb cb, void *arg,
	 struct vici_msg **resp, int timeout_ms, struct vpn_error *err)
{
	struct vici_packet pkt = { 0 };
	int64_t deadline = deadline_in(timeout_ms);
	enum vpn_err rc, cbrc = VPN_OK;
	bool is_cmd = type == VICI_CMD_REQUEST;

	if (resp)
		*resp = NULL;
	rc = send_packet(c, type, name, req, deadline, err);
	if (rc)
		return rc;
	for (;;) {
		rc = recv_packet(c, &pkt, deadline, err);
		if (rc == VPN_E_NOT_FOUND)
			return conn_fail(c, err, VPN_E_INTERNAL,
					 "vici: no answer to %s '%s' within %d ms",
					 ptype_name(type), name, timeout_ms);
		if (rc)
			return rc;
		switch (pkt.type) {
		case VICI_EVENT:
			if (stream && !strcmp(pkt.name, stream)) {
				if (cb && !cbrc)
					cbrc = cb(arg, pkt.name, pkt.msg);
			} else {
				queue_event(c, &pkt);
			}
			vici_packet_release(&pkt);
			continue;
		case VICI_CMD_RESPONSE:
			if (!is_cmd)
				break;
			if (resp) {
				*resp = pkt.msg;
				pkt.msg = NULL;
			}
			vici_packet_release(&pkt);
			if (cbrc)
				return vpn_error_set(err, cbrc, 0,
						     "vici: '%s' event handler failed", name);
			return VPN_OK;
		case VICI_CMD_UNKNOWN:
			if (!is_cmd)
				break;
			return vpn_error_set(err, VPN_E_UNSUPPORTED, 0,
					     "vici: charon does not know the command '%s'", name);
		case VICI_EVENT_CONFIRM:
			if (is_cmd)
				break;
			return VPN_OK;
		case VICI_EVENT_UNKNOWN:
			if (is_cmd)
				break;
			return vpn_error_set(err, VPN_E_UNSUPPORTED, 0,
					     "vici: charon does not know the event '%s'", name);
		default:
			break;
		}
		vici_packet_release(&pkt);
		return conn_fail(c, err, VPN_E_INVALID, "vici: unexpected %s while waiting for the "
				 "answer to %s '%s'", ptype_name(pkt.type), ptype_name(type), name);
	}
}

enum vpn_err
vici_request(struct vici_conn *c, const char *cmd, const struct vici_msg *req,
	     struct vici_msg **resp, int timeout_ms, struct vpn_error *err)
{
	if (!c || !cmd || !resp)
		return vpn_error_set(err, VPN_E_INVALID, 0, "vici: bad request arguments");
	log_debug("vici: request '%s'", cmd);
	return exchange(c, VICI_CMD_REQUEST, cmd, req, NULL, NULL, NULL, resp, timeout_ms, err);
}

enum vpn_err
vici_register(struct vici_conn *c, const char *event, int timeout_ms, struct vpn_error *err)
{
	if (!c || !event)
		return vpn_error_set(err, VPN_E_INVALID, 0, "vici: bad register arguments");
	return exchange(c, VICI_EVENT_REGISTER, event, NULL, NULL, NULL, NULL, NULL, timeout_ms,
			err);
}

enum vpn_err
vici_unregister(struct vici_conn *c, const char *event, int timeout_ms, struct vpn_error *err)
{
	if (!c || !event)
		return vpn_error_set(err, VPN_E_INVALID, 0, "vici: bad unregister arguments");
	return exchange(c, VICI_EVENT_UNREGISTER, event, NULL, NULL, NULL, NULL, NULL, timeout_ms,
			err);
}

enum vpn_err
vici_request_stream(struct vici_conn *c, const char *cmd, const char *event,
		    const struct vici_msg *req, vici_event_cb cb, void *arg,
		    struct vici_msg **resp, int timeout_ms, struct vpn_error *err)
{
	struct vici_msg *r = NULL;
	int64_t deadline = deadline_in(timeout_ms), left;
	enum vpn_err rc, urc;

	if (resp)
		*resp = NULL;
	if (!c || !cmd || !event)
		return vpn_error_set(err, VPN_E_INVALID, 0, "vici: bad stream arguments");
	rc = vici_register(c, event, timeout_ms, err);
	if (rc)
		return rc;
	left = deadline - mono_ms();
	rc = exchange(c, VICI_CMD_REQUEST, cmd, req, event, cb, arg, &r, left > 0 ? (int)left : 0,
		      err);
	if (!c->broken) {
		left = deadline - mono_ms();
		urc = vici_unregister(c, event, left > 0 ? (int)left : 0, rc ? NULL : err);
		if (!rc)
			rc = urc;
	}
	if (!rc && resp) {
		*resp = r;
		r = NULL;
	}
	vici_msg_free(r);
	return rc;
}

enum vpn_err
vici_read_event(struct vici_conn *c, char **name, struct vici_msg **msg, int timeout_ms,
		struct vpn_error *err)
{
	struct vici_packet pkt = { 0 };
	struct vici_event_q *q;
	int64_t deadline = deadline_in(timeout_ms);
	enum vpn_err rc;

	*name = NULL;
	*msg = NULL;
	if (!c)
		return vpn_error_set(err, VPN_E_INVALID, 0, "vici: no connection");
	if (c->qhead) {
		q = c->qhead;
		c->qhead = q->next;
		if (!c->qhead)
			c->qtail = NULL;
		c->nqueued--;
		*name = q->name;
		*msg = q->msg;
		free(q);
		return VPN_OK;
	}
	for (;;) {
		rc = recv_packet(c, &pkt, deadline, err);
		if (rc)
			return rc;	/* VPN_E_NOT_FOUND: nothing in time, not an error */
		if (pkt.type != VICI_EVENT) {
			vici_packet_release(&pkt);
			return conn_fail(c, err, VPN_E_INVALID, "vici: unexpected %s while waiting "
					 "for an event", ptype_name(pkt.type));
		}
		*name = strdup(pkt.name);
		if (!*name) {
			vici_packet_release(&pkt);
			return vpn_error_set(err, VPN_E_NOMEM, 0, "vici: out of memory");
		}
		*msg = pkt.msg;
		return VPN_OK;
	}
}

/* ---- commands ---- */

static void
add_list(struct vici_msg *m, const char *name, const char *const *v, size_t n)
{
	size_t i;

	if (!n)
		return;
	vici_begin_list(m, name);
	for (i = 0; i < n; i++)
		vici_list_items(m, v[i]);
	vici_end_list(m);
}

enum vpn_err
vici_build_load_conn(const struct vici_conn_cfg *cfg, struct vici_msg **out,
		     struct vpn_error *err)
{
	struct vici_msg *m = NULL;
	const struct vici_child_cfg *ch;
	enum vpn_err rc;
	size_t i;

	*out = NULL;
	if (!cfg || !cfg->name || !cfg->name[0])
		return vpn_error_set(err, VPN_E_INVALID, 0, "vici: load-conn without a name");
	m = vici_msg_new();
	if (!m)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "vici: out of memory");
	vici_begin_section(m, cfg->name);
	vici_add_kvf(m, "version", "%u", cfg->version);
	add_list(m, "local_addrs", cfg->local_addrs, cfg->nlocal_addrs);
	add_list(m, "remote_addrs", cfg->remote_addrs, cfg->nremote_addrs);
	add_list(m, "proposals", cfg->proposals, cfg->nproposals);
	vici_add_kvs(m, "encap", cfg->encap ? "yes" : "no");
	vici_add_kvs(m, "mobike", cfg->mobike ? "yes" : "no");
	if (cfg->dpd_delay_s > 0)
		vici_add_kvf(m, "dpd_delay", "%llds", (long long)cfg->dpd_delay_s);
	if (cfg->dpd_timeout_s > 0)
		vici_add_kvf(m, "dpd_timeout", "%llds", (long long)cfg->dpd_timeout_s);
	if (cfg->rekey_time_s > 0)
		vici_add_kvf(m, "rekey_time", "%llds", (long long)cfg->rekey_time_s);
	if (cfg->over_time_s > 0)
		vici_add_kvf(m, "over_time", "%llds", (long long)cfg->over_time_s);
	vici_begin_section(m, "local");
	vici_add_kvs(m, "auth", "psk");
	if (cfg->local_id)
		vici_add_kvs(m, "id", cfg->local_id);
	vici_end_section(m);
	vici_begin_section(m, "remote");
	vici_add_kvs(m, "auth", "psk");
	if (cfg->remote_id)
		vici_add_kvs(m, "id", cfg->remote_id);
	vici_end_section(m);
	vici_begin_section(m, "children");
	for (i = 0; i < cfg->nchildren; i++) {
		ch = &cfg->children[i];
		vici_begin_section(m, ch->name);
		add_list(m, "local_ts", ch->local_ts, ch->nlocal_ts);
		add_list(m, "remote_ts", ch->remote_ts, ch->nremote_ts);
		add_list(m, "esp_proposals", ch->esp_proposals, ch->nesp_proposals);
		if (ch->mode)
			vici_add_kvs(m, "mode", ch->mode);
		if (ch->start_action)
			vici_add_kvs(m, "start_action", ch->start_action);
		if (ch->dpd_action)
			vici_add_kvs(m, "dpd_action", ch->dpd_action);
		if (ch->rekey_time_s > 0)
			vici_add_kvf(m, "rekey_time", "%llds", (long long)ch->rekey_time_s);
		if (ch->life_time_s > 0)
			vici_add_kvf(m, "life_time", "%llds", (long long)ch->life_time_s);
		vici_end_section(m);
	}
	vici_end_section(m);
	vici_end_section(m);
	rc = vici_msg_error(m);
	if (rc) {
		vici_msg_free(m);
		return vpn_error_set(err, rc, 0, "vici: cannot build load-conn for '%s' "
				     "(bad, duplicate or missing names, or values too long)",
				     cfg->name);
	}
	*out = m;
	return VPN_OK;
}

enum vpn_err
vici_build_load_shared(const char *type, const char *id, const void *secret, size_t secret_len,
		       const char *const *owners, size_t nowners, struct vici_msg **out,
		       struct vpn_error *err)
{
	struct vici_msg *m;
	enum vpn_err rc;

	*out = NULL;
	m = vici_msg_new();
	if (!m)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "vici: out of memory");
	if (id)
		vici_add_kvs(m, "id", id);
	vici_add_kvs(m, "type", type ? type : "IKE");
	vici_add_kv(m, "data", secret, secret_len);
	add_list(m, "owners", owners, nowners);
	rc = vici_msg_error(m);
	if (rc) {
		vici_msg_free(m);
		return vpn_error_set(err, rc, 0, "vici: cannot build load-shared");
	}
	*out = m;
	return VPN_OK;
}

/* Send @req as @cmd and check success=yes; frees @req. */
static enum vpn_err
simple_cmd(struct vici_conn *c, const char *cmd, struct vici_msg *req, int timeout_ms,
	   struct vpn_error *err)
{
	struct vici_msg *resp = NULL;
	enum vpn_err rc;

	rc = vici_msg_error(req);
	if (rc) {
		vpn_error_set(err, rc, 0, "vici: cannot build %s request", cmd);
		goto out;
	}
	rc = vici_request(c, cmd, req, &resp, timeout_ms, err);
	if (rc)
		goto out;
	rc = vici_check_success(resp, cmd, err);
out:
	vici_msg_free(req);
	vici_msg_free(resp);
	return rc;
}

enum vpn_err
vici_load_conn(struct vici_conn *c, const struct vici_conn_cfg *cfg, int timeout_ms,
	       struct vpn_error *err)
{
	struct vici_msg *req = NULL;
	enum vpn_err rc;

	rc = vici_build_load_conn(cfg, &req, err);
	if (rc)
		return rc;
	return simple_cmd(c, "load-conn", req, timeout_ms, err);
}

/* A command whose request is one key = value (the unload-* commands). */
static enum vpn_err
one_kv_cmd(struct vici_conn *c, const char *cmd, const char *key, const char *value,
	   int timeout_ms, struct vpn_error *err)
{
	struct vici_msg *req = vici_msg_new();

	if (!req)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "vici: out of memory");
	vici_add_kvs(req, key, value);
	return simple_cmd(c, cmd, req, timeout_ms, err);
}

enum vpn_err
vici_unload_conn(struct vici_conn *c, const char *name, int timeout_ms, struct vpn_error *err)
{
	return one_kv_cmd(c, "unload-conn", "name", name, timeout_ms, err);
}

enum vpn_err
vici_load_shared(struct vici_conn *c, const char *id, const void *psk, size_t psk_len,
		 const char *const *owners, size_t nowners, int timeout_ms, struct vpn_error *err)
{
	struct vici_msg *req = NULL;
	enum vpn_err rc;

	rc = vici_build_load_shared("IKE", id, psk, psk_len, owners, nowners, &req, err);
	if (rc)
		return rc;
	return simple_cmd(c, "load-shared", req, timeout_ms, err);
}

enum vpn_err
vici_unload_shared(struct vici_conn *c, const char *id, int timeout_ms, struct vpn_error *err)
{
	return one_kv_cmd(c, "unload-shared", "id", id, timeout_ms, err);
}

static enum vpn_err
sa_cmd(struct vici_conn *c, const char *cmd, const char *child, const char *ike,
       int charon_timeout_ms, int timeout_ms, struct vpn_error *err)
{
	struct vici_msg *req;

	if (!child && !ike)
		return vpn_error_set(err, VPN_E_INVALID, 0, "vici: %s needs a child or ike name",
				     cmd);
	req = vici_msg_new();
	if (!req)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "vici: out of memory");
	if (child)
		vici_add_kvs(req, "child", child);
	if (ike)
		vici_add_kvs(req, "ike", ike);
	vici_add_kvf(req, "timeout", "%d", charon_timeout_ms);
	return simple_cmd(c, cmd, req, timeout_ms, err);
}

enum vpn_err
vici_initiate(struct vici_conn *c, const char *child, const char *ike, int charon_timeout_ms,
	      int timeout_ms, struct vpn_error *err)
{
	return sa_cmd(c, "initiate", child, ike, charon_timeout_ms, timeout_ms, err);
}

enum vpn_err
vici_terminate(struct vici_conn *c, const char *child, const char *ike, int charon_timeout_ms,
	       int timeout_ms, struct vpn_error *err)
{
	return sa_cmd(c, "terminate", child, ike, charon_timeout_ms, timeout_ms, err);
}

static enum vpn_err
list_cmd(struct vici_conn *c, const char *cmd, const char *event, const char *ike, bool noblock,
	 vici_event_cb cb, void *arg, int timeout_ms, struct vpn_error *err)
{
	struct vici_msg *req = vici_msg_new();
	enum vpn_err rc;

	if (!req)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "vici: out of memory");
	if (noblock)
		vici_add_kvs(req, "noblock", "yes");
	if (ike)
		vici_add_kvs(req, "ike", ike);
	rc = vici_msg_error(req);
	if (rc)
		vpn_error_set(err, rc, 0, "vici: cannot build %s request", cmd);
	else
		rc = vici_request_stream(c, cmd, event, req, cb, arg, NULL, timeout_ms, err);
	vici_msg_free(req);
	return rc;
}

enum vpn_err
vici_list_sas(struct vici_conn *c, const char *ike, vici_event_cb cb, void *arg, int timeout_ms,
	      struct vpn_error *err)
{
	return list_cmd(c, "list-sas", "list-sa", ike, true, cb, arg, timeout_ms, err);
}

enum vpn_err
vici_list_conns(struct vici_conn *c, const char *ike, vici_event_cb cb, void *arg,
		int timeout_ms, struct vpn_error *err)
{
	return list_cmd(c, "list-conns", "list-conn", ike, false, cb, arg, timeout_ms, err);
}
