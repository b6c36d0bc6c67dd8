/*
 * Unit tests for src/realize/vici.c: the codec against byte sequences from the protocol
 * description, round trips, malformed input (each copied into an exact-size heap block so that
 * ASan catches any read past it), and the client against a fake charon (a thread on a unix
 * socket in a temp dir answering canned responses, including a streamed list-sas).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/err.h"
#include "realize/vici.h"

/* ---- helpers ---- */

/* Decode from an exact-size heap copy (ASan: any overread is reported). */
static enum vpn_err
decode_copy(const void *data, size_t len, struct vici_msg **out, struct vpn_error *err)
{
	void *p = malloc(len ? len : 1);
	enum vpn_err rc;

	assert_non_null(p);
	if (len)
		memcpy(p, data, len);
	rc = vici_decode(p, len, out, err);
	free(p);
	return rc;
}

static enum vpn_err
decode_packet_copy(const void *data, size_t len, struct vici_packet *out)
{
	void *p = malloc(len ? len : 1);
	enum vpn_err rc;

	assert_non_null(p);
	if (len)
		memcpy(p, data, len);
	rc = vici_decode_packet(p, len, out, NULL);
	free(p);
	return rc;
}

static void
encode_to(const struct vici_msg *m, struct buf *b)
{
	buf_init(b, 1u << 20);
	assert_int_equal(vici_encode(m, b), VPN_OK);
}

/* The example of the protocol description (README.md "Encoding example"). */
static const uint8_t readme_example[] = {
	3, 4, 'k', 'e', 'y', '1', 0, 6, 'v', 'a', 'l', 'u', 'e', '1',
	1, 8, 's', 'e', 'c', 't', 'i', 'o', 'n', '1',
	1, 11, 's', 'u', 'b', '-', 's', 'e', 'c', 't', 'i', 'o', 'n',
	3, 4, 'k', 'e', 'y', '2', 0, 6, 'v', 'a', 'l', 'u', 'e', '2',
	2,
	4, 5, 'l', 'i', 's', 't', '1',
	5, 0, 5, 'i', 't', 'e', 'm', '1',
	5, 0, 5, 'i', 't', 'e', 'm', '2',
	6,
	2,
};

static struct vici_msg *
build_readme_example(void)
{
	struct vici_msg *m = vici_msg_new();

	assert_non_null(m);
	vici_add_kvs(m, "key1", "value1");
	vici_begin_section(m, "section1");
	vici_begin_section(m, "sub-section");
	vici_add_kvs(m, "key2", "value2");
	vici_end_section(m);
	vici_begin_list(m, "list1");
	vici_list_items(m, "item1");
	vici_list_items(m, "item2");
	vici_end_list(m);
	assert_int_equal(vici_end_section(m), VPN_OK);
	return m;
}

/* ---- codec ---- */

static void
test_encode_readme_example(void **state)
{
	struct vici_msg *m = build_readme_example();
	struct buf b;

	(void)state;
	encode_to(m, &b);
	assert_int_equal(b.len, sizeof(readme_example));
	assert_memory_equal(b.p, readme_example, sizeof(readme_example));
	buf_release(&b);
	vici_msg_free(m);
}

static void
test_decode_readme_example(void **state)
{
	struct vici_msg *m = NULL;
	const struct vici_node *l, *i;
	size_t len;

	(void)state;
	assert_int_equal(decode_copy(readme_example, sizeof(readme_example), &m, NULL), VPN_OK);
	assert_string_equal(vici_get(m, "key1"), "value1");
	assert_string_equal(vici_get(m, "section1.sub-section.key2"), "value2");
	assert_null(vici_get(m, "section1.sub-section"));	/* a section, not a value */
	assert_null(vici_get(m, "section1.nope"));
	assert_null(vici_get(m, "section1..key2"));
	l = vici_find(m, "section1.list1");
	assert_non_null(l);
	assert_int_equal(vici_node_type(l), VICI_NODE_LIST);
	i = vici_node_first(l);
	assert_string_equal(vici_node_value(i, &len), "item1");
	assert_int_equal(len, 5);
	i = vici_node_next(i);
	assert_string_equal(vici_node_value(i, NULL), "item2");
	assert_null(vici_node_next(i));
	vici_msg_free(m);
}

static void
test_packet_known_bytes(void **state)
{
	static const uint8_t version_req[] = { 0, 0, 0, 9, 0, 7, 'v', 'e', 'r', 's', 'i', 'o',
					       'n' };
	static const uint8_t reg[] = { 0, 0, 0, 9, 3, 7, 'l', 'i', 's', 't', '-', 's', 'a' };
	/* unload-conn {name = s1}: 1 + 1 + 11 + (1 + 1 + 4 + 2 + 2) = 23 */
	static const uint8_t unload[] = {
		0, 0, 0, 23, 0, 11, 'u', 'n', 'l', 'o', 'a', 'd', '-', 'c', 'o', 'n', 'n',
		3, 4, 'n', 'a', 'm', 'e', 0, 2, 's', '1',
	};
	static const uint8_t confirm[] = { 5 };
	static const uint8_t resp[] = { 1, 3, 7, 's', 'u', 'c', 'c', 'e', 's', 's', 0, 3, 'y', 'e',
					's' };
	static const uint8_t event[] = { 7, 10, 'i', 'k', 'e', '-', 'u', 'p', 'd', 'o', 'w', 'n',
					 3, 2, 'u', 'p', 0, 2, 'n', 'o' };
	struct vici_msg *m = vici_msg_new();
	struct vici_packet p;
	struct buf b;

	(void)state;
	buf_init(&b, 4096);
	assert_int_equal(vici_encode_packet(&b, VICI_CMD_REQUEST, "version", NULL), VPN_OK);
	assert_int_equal(b.len, sizeof(version_req));
	assert_memory_equal(b.p, version_req, sizeof(version_req));
	buf_reset(&b);
	assert_int_equal(vici_encode_packet(&b, VICI_EVENT_REGISTER, "list-sa", NULL), VPN_OK);
	assert_memory_equal(b.p, reg, sizeof(reg));
	buf_reset(&b);
	vici_add_kvs(m, "name", "s1");
	assert_int_equal(vici_encode_packet(&b, VICI_CMD_REQUEST, "unload-conn", m), VPN_OK);
	assert_int_equal(b.len, sizeof(unload));
	assert_memory_equal(b.p, unload, sizeof(unload));
	/* named types need a name */
	assert_int_equal(vici_encode_packet(&b, VICI_CMD_REQUEST, NULL, NULL), VPN_E_INVALID);
	assert_int_equal(vici_encode_packet(&b, VICI_EVENT, "", NULL), VPN_E_INVALID);
	buf_release(&b);
	vici_msg_free(m);

	assert_int_equal(decode_packet_copy(confirm, sizeof(confirm), &p), VPN_OK);
	assert_int_equal(p.type, VICI_EVENT_CONFIRM);
	assert_string_equal(p.name, "");
	assert_null(p.msg);
	assert_int_equal(decode_packet_copy(resp, sizeof(resp), &p), VPN_OK);
	assert_int_equal(p.type, VICI_CMD_RESPONSE);
	assert_string_equal(vici_get(p.msg, "success"), "yes");
	vici_packet_release(&p);
	assert_int_equal(decode_packet_copy(event, sizeof(event), &p), VPN_OK);
	assert_int_equal(p.type, VICI_EVENT);
	assert_string_equal(p.name, "ike-updown");
	assert_string_equal(vici_get(p.msg, "up"), "no");
	vici_packet_release(&p);
	/* the request packet without its length field decodes back */
	assert_int_equal(decode_packet_copy(unload + 4, sizeof(unload) - 4, &p), VPN_OK);
	assert_int_equal(p.type, VICI_CMD_REQUEST);
	assert_string_equal(p.name, "unload-conn");
	assert_string_equal(vici_get(p.msg, "name"), "s1");
	vici_packet_release(&p);
}

static struct vici_msg *
build_rich(void)
{
	static const char bin[] = { 'a', 0, 'b', '\n', (char)0xff };
	struct vici_msg *m = vici_msg_new();
	char big[VICI_VALUE_MAX];

	memset(big, 'x', sizeof(big));
	vici_add_kv(m, "binary", bin, sizeof(bin));
	vici_add_kv(m, "empty", NULL, 0);
	vici_add_kv(m, "big", big, sizeof(big));
	vici_begin_list(m, "empty-list");
	vici_end_list(m);
	vici_begin_section(m, "empty-section");
	vici_end_section(m);
	vici_begin_section(m, "a");
	vici_begin_section(m, "b");
	vici_begin_list(m, "l");
	vici_list_item(m, bin, sizeof(bin));
	vici_list_item(m, NULL, 0);
	vici_end_list(m);
	vici_add_kvs(m, "k", "v");
	vici_end_section(m);
	vici_add_kvs(m, "after", "b");
	vici_end_section(m);
	assert_int_equal(vici_msg_error(m), VPN_OK);
	return m;
}

static void
test_round_trip(void **state)
{
	struct vici_msg *m = build_rich(), *d = NULL;
	const struct vici_node *n;
	struct buf b1, b2;
	size_t len;
	const char *v;

	(void)state;
	encode_to(m, &b1);
	assert_int_equal(decode_copy(b1.p, b1.len, &d, NULL), VPN_OK);
	encode_to(d, &b2);
	assert_int_equal(b1.len, b2.len);
	assert_memory_equal(b1.p, b2.p, b1.len);
	v = vici_node_value(vici_find(d, "binary"), &len);
	assert_int_equal(len, 5);
	assert_memory_equal(v, "a\0b\n\xff", 5);
	assert_string_equal(vici_get(d, "empty"), "");
	v = vici_node_value(vici_find(d, "big"), &len);
	assert_int_equal(len, VICI_VALUE_MAX);
	assert_int_equal(v[len], '\0');
	assert_null(vici_node_first(vici_find(d, "empty-list")));
	assert_null(vici_node_first(vici_find(d, "empty-section")));
	assert_string_equal(vici_get(d, "a.b.k"), "v");
	assert_string_equal(vici_get(d, "a.after"), "b");
	n = vici_node_first(vici_find(d, "a.b.l"));
	assert_int_equal(vici_node_type(n), VICI_NODE_ITEM);
	assert_null(vici_node_name(n));
	n = vici_node_next(n);
	vici_node_value(n, &len);
	assert_int_equal(len, 0);
	buf_release(&b1);
	buf_release(&b2);
	vici_msg_free(m);
	vici_msg_free(d);
}

/* Every prefix of a valid message: no crash, no overread; if accepted it re-encodes to itself. */
static void
test_all_truncations(void **state)
{
	struct vici_msg *m = build_readme_example(), *d;
	struct buf b, r;
	size_t i, ok = 0;

	(void)state;
	encode_to(m, &b);
	for (i = 0; i < b.len; i++) {
		d = NULL;
		if (decode_copy(b.p, i, &d, NULL) == VPN_OK) {
			ok++;
			encode_to(d, &r);
			assert_int_equal(r.len, i);
			if (i)
				assert_memory_equal(r.p, b.p, i);
			buf_release(&r);
			vici_msg_free(d);
		} else {
			assert_null(d);
		}
	}
	assert_int_equal(ok, 2);	/* the empty message and "key1 = value1" alone */
	buf_release(&b);
	vici_msg_free(m);
}

struct bad_case {
	const char *what;
	const uint8_t *data;
	size_t len;
	enum vpn_err want;
};

#define BAD(w, e, ...)                                                                     \
	{ w, (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ }), e }

static void
test_malformed(void **state)
{
	const struct bad_case cases[] = {
		BAD("kv value length past end", VPN_E_INVALID, 3, 1, 'k', 0, 10, 'a', 'b', 'c'),
		BAD("kv value length cut", VPN_E_INVALID, 3, 1, 'k', 0),
		BAD("kv name length past end", VPN_E_INVALID, 3, 200, 'k'),
		BAD("kv without name length", VPN_E_INVALID, 3),
		BAD("empty name", VPN_E_INVALID, 3, 0, 0, 1, 'v'),
		BAD("NUL in name", VPN_E_INVALID, 3, 2, 'a', 0, 0, 1, 'v'),
		BAD("element type 0", VPN_E_INVALID, 0),
		BAD("element type 7", VPN_E_INVALID, 7, 1, 'a'),
		BAD("element type 255", VPN_E_INVALID, 3, 1, 'k', 0, 0, 255),
		BAD("unterminated section", VPN_E_INVALID, 1, 1, 's', 3, 1, 'k', 0, 0),
		BAD("unterminated nested section", VPN_E_INVALID, 1, 1, 's', 1, 1, 't', 2),
		BAD("unterminated list", VPN_E_INVALID, 4, 1, 'l', 5, 0, 1, 'x'),
		BAD("section end at root", VPN_E_INVALID, 2),
		BAD("section end in list", VPN_E_INVALID, 4, 1, 'l', 2),
		BAD("list end outside list", VPN_E_INVALID, 6),
		BAD("list end closing a section", VPN_E_INVALID, 1, 1, 's', 6),
		BAD("item outside list", VPN_E_INVALID, 5, 0, 1, 'x'),
		BAD("item in section", VPN_E_INVALID, 1, 1, 's', 5, 0, 0, 2),
		BAD("nested list", VPN_E_INVALID, 4, 1, 'l', 4, 1, 'm', 6, 6),
		BAD("kv in list", VPN_E_INVALID, 4, 1, 'l', 3, 1, 'k', 0, 0, 6),
		BAD("section in list", VPN_E_INVALID, 4, 1, 'l', 1, 1, 's', 2, 6),
		BAD("item length past end", VPN_E_INVALID, 4, 1, 'l', 5, 0xff, 0xff, 'x', 6),
		BAD("list name missing", VPN_E_INVALID, 4),
	};
	struct vpn_error e;
	struct vici_msg *m;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		m = (struct vici_msg *)1;
		vpn_error_clear(&e);
		if (decode_copy(cases[i].data, cases[i].len, &m, &e) != cases[i].want)
			fail_msg("case '%s' not rejected as expected", cases[i].what);
		assert_null(m);
		assert_true(e.msg[0] != '\0');
	}
}

static void
test_depth_and_size_limits(void **state)
{
	uint8_t buf[VICI_MAX_DEPTH * 4 + 8];
	struct vici_msg *m = NULL;
	struct vpn_error e;
	uint8_t *big;
	size_t n = 0;
	int i;

	(void)state;
	/* exactly VICI_MAX_DEPTH levels decode */
	for (i = 0; i < VICI_MAX_DEPTH; i++) {
		buf[n++] = 1;
		buf[n++] = 1;
		buf[n++] = 's';
	}
	for (i = 0; i < VICI_MAX_DEPTH; i++)
		buf[n++] = 2;
	assert_int_equal(decode_copy(buf, n, &m, NULL), VPN_OK);
	vici_msg_free(m);
	/* one more is refused */
	n = 0;
	for (i = 0; i <= VICI_MAX_DEPTH; i++) {
		buf[n++] = 1;
		buf[n++] = 1;
		buf[n++] = 's';
	}
	for (i = 0; i <= VICI_MAX_DEPTH; i++)
		buf[n++] = 2;
	vpn_error_clear(&e);
	assert_int_equal(decode_copy(buf, n, &m, &e), VPN_E_TOO_BIG);
	assert_null(m);
	assert_non_null(strstr(e.msg, "deeper"));

	/* oversized: refused before looking at a byte */
	big = calloc(1, VICI_MAX_PACKET + 1);
	assert_non_null(big);
	assert_int_equal(vici_decode(big, VICI_MAX_PACKET + 1, &m, NULL), VPN_E_TOO_BIG);
	struct vici_packet p;
	assert_int_equal(vici_decode_packet(big, VICI_MAX_PACKET + 1, &p, NULL), VPN_E_TOO_BIG);
	free(big);
}

static void
test_malformed_packets(void **state)
{
	static const uint8_t type8[] = { 8 };
	static const uint8_t trailing[] = { 5, 0 };
	static const uint8_t noname[] = { 7 };
	static const uint8_t cutname[] = { 0, 5, 'l', 'i' };
	static const uint8_t badmsg[] = { 1, 9 };
	static const uint8_t unknown_ok[] = { 2 };
	struct vici_packet p;

	(void)state;
	assert_int_equal(decode_packet_copy(NULL, 0, &p), VPN_E_INVALID);
	assert_int_equal(decode_packet_copy(type8, sizeof(type8), &p), VPN_E_INVALID);
	assert_int_equal(decode_packet_copy(trailing, sizeof(trailing), &p), VPN_E_INVALID);
	assert_int_equal(decode_packet_copy(noname, sizeof(noname), &p), VPN_E_INVALID);
	assert_int_equal(decode_packet_copy(cutname, sizeof(cutname), &p), VPN_E_INVALID);
	assert_int_equal(decode_packet_copy(badmsg, sizeof(badmsg), &p), VPN_E_INVALID);
	assert_null(p.msg);
	assert_int_equal(decode_packet_copy(unknown_ok, sizeof(unknown_ok), &p), VPN_OK);
	assert_int_equal(p.type, VICI_CMD_UNKNOWN);
}

static void
test_builder_errors(void **state)
{
	char name[VICI_NAME_MAX + 2];
	struct vici_msg *m;
	struct buf b;
	int i;

	(void)state;
	buf_init(&b, 4096);
	memset(name, 'n', sizeof(name));
	name[VICI_NAME_MAX + 1] = '\0';

	m = vici_msg_new();
	assert_int_equal(vici_add_kvs(m, name, "v"), VPN_E_INVALID);	/* 256-byte name */
	assert_int_equal(vici_add_kvs(m, "ok", "v"), VPN_E_INVALID);	/* sticky */
	assert_int_equal(vici_encode(m, &b), VPN_E_INVALID);
	assert_int_equal(vici_encode_packet(&b, VICI_CMD_REQUEST, "x", m), VPN_E_INVALID);
	vici_msg_free(m);

	name[VICI_NAME_MAX] = '\0';	/* 255 is fine */
	m = vici_msg_new();
	assert_int_equal(vici_add_kvs(m, name, "v"), VPN_OK);
	assert_int_equal(vici_add_kvs(m, name, "w"), VPN_E_INVALID);	/* duplicate */
	vici_msg_free(m);

	m = vici_msg_new();
	assert_int_equal(vici_end_section(m), VPN_E_INVALID);		/* at root */
	vici_msg_free(m);

	m = vici_msg_new();
	assert_int_equal(vici_list_items(m, "x"), VPN_E_INVALID);	/* item outside list */
	vici_msg_free(m);

	m = vici_msg_new();
	vici_begin_list(m, "l");
	assert_int_equal(vici_add_kvs(m, "k", "v"), VPN_E_INVALID);	/* kv in list */
	vici_msg_free(m);

	m = vici_msg_new();
	vici_begin_list(m, "l");
	assert_int_equal(vici_begin_list(m, "m"), VPN_E_INVALID);	/* nested list */
	vici_msg_free(m);

	m = vici_msg_new();
	vici_begin_list(m, "l");
	assert_int_equal(vici_end_section(m), VPN_E_INVALID);		/* wrong end */
	vici_msg_free(m);

	m = vici_msg_new();
	assert_int_equal(vici_add_kv(m, "k", name, VICI_VALUE_MAX + 1), VPN_E_TOO_BIG);
	vici_msg_free(m);

	m = vici_msg_new();
	for (i = 0; i < VICI_MAX_DEPTH; i++)
		assert_int_equal(vici_begin_section(m, "s"), VPN_OK);
	assert_int_equal(vici_begin_section(m, "s"), VPN_E_TOO_BIG);
	vici_msg_free(m);

	m = vici_msg_new();
	vici_begin_section(m, "open");
	assert_int_equal(vici_encode(m, &b), VPN_E_INVALID);		/* unbalanced */
	vici_msg_free(m);

	/* a packet over the limit is refused */
	m = vici_msg_new();
	for (i = 0; i < 9; i++) {
		char k[8];

		snprintf(k, sizeof(k), "k%d", i);
		vici_add_kv(m, k, name, 0);
		assert_int_equal(vici_msg_error(m), VPN_OK);
	}
	{
		char *v = calloc(1, VICI_VALUE_MAX);

		assert_non_null(v);
		for (i = 0; i < 8; i++) {
			char k[8];

			snprintf(k, sizeof(k), "b%d", i);
			assert_int_equal(vici_add_kv(m, k, v, VICI_VALUE_MAX), VPN_OK);
		}
		free(v);
	}
	buf_init(&b, 1u << 21);
	assert_int_equal(vici_encode_packet(&b, VICI_CMD_REQUEST, "x", m), VPN_E_TOO_BIG);
	vici_msg_free(m);
	buf_release(&b);
}

static void
test_print_redacts_secrets(void **state)
{
	static const char *const owners[] = { "198.18.0.1", "198.18.0.2" };
	struct vici_msg *m = NULL;
	struct buf b;

	(void)state;
	assert_int_equal(vici_build_load_shared("IKE", "ike-s1", "Sup3r-Secret", 12, owners, 2, &m,
						NULL), VPN_OK);
	buf_init(&b, 4096);
	assert_int_equal(vici_msg_print(m, &b), VPN_OK);
	assert_null(strstr(b.p, "Sup3r"));
	assert_string_equal(b.p, "{id=ike-s1 type=IKE data=<redacted> "
			    "owners=[198.18.0.1 198.18.0.2]}");
	vici_msg_free(m);

	/* nested, in lists, and escaping of other values */
	buf_reset(&b);
	m = vici_msg_new();
	vici_begin_section(m, "x");
	vici_add_kvs(m, "secret", "s1");
	vici_begin_list(m, "password");
	vici_list_items(m, "s2");
	vici_end_list(m);
	vici_add_kv(m, "v", "a\nb", 3);
	vici_end_section(m);
	assert_int_equal(vici_msg_print(m, &b), VPN_OK);
	assert_string_equal(b.p, "{x {secret=<redacted> password=[<redacted>] v=a\\x0ab}}");
	vici_msg_free(m);
	buf_release(&b);
}

static void
test_check_success(void **state)
{
	struct vici_msg *m = vici_msg_new();
	struct vpn_error e;

	(void)state;
	vpn_error_clear(&e);
	assert_int_equal(vici_check_success(m, "load-conn", &e), VPN_E_INVALID);
	vici_add_kvs(m, "success", "no");
	vici_add_kv(m, "errmsg", "bad\x01 proposal", 13);
	assert_int_equal(vici_check_success(m, "load-conn", &e), VPN_E_INVALID);
	assert_string_equal(e.msg, "load-conn: bad? proposal");
	vici_msg_free(m);
	m = vici_msg_new();
	vici_add_kvs(m, "success", "yes");
	assert_int_equal(vici_check_success(m, "x", NULL), VPN_OK);
	vici_msg_free(m);
}

static void
test_build_load_conn(void **state)
{
	static const char *const l[] = { "198.18.0.1" }, *const r[] = { "198.18.0.2" };
	static const char *const props[] = { "aes128gcm16-prfsha256-ecp521" };
	static const char *const esp[] = { "aes128gcm16-ecp521", "aes256-sha256-modp2048" };
	static const char *const lts[] = { "10.91.0.0/24" }, *const rts[] = { "10.92.0.0/24" };
	struct vici_child_cfg ch = {
		.name = "s1-policy", .local_ts = lts, .nlocal_ts = 1, .remote_ts = rts,
		.nremote_ts = 1, .esp_proposals = esp, .nesp_proposals = 2, .mode = "tunnel",
		.start_action = "none", .dpd_action = "restart", .rekey_time_s = 3600,
		.life_time_s = 3960,
	};
	struct vici_conn_cfg cfg = {
		.name = "s1", .version = 2, .local_addrs = l, .nlocal_addrs = 1, .remote_addrs = r,
		.nremote_addrs = 1, .local_id = "198.18.0.1", .remote_id = "198.18.0.2",
		.proposals = props, .nproposals = 1, .encap = true, .dpd_delay_s = 10,
		.dpd_timeout_s = 30, .rekey_time_s = 28800, .children = &ch, .nchildren = 1,
	};
	const struct vici_node *n;
	struct vici_msg *m = NULL;
	struct buf b;

	(void)state;
	assert_int_equal(vici_build_load_conn(&cfg, &m, NULL), VPN_OK);
	assert_string_equal(vici_get(m, "s1.version"), "2");
	assert_string_equal(vici_get(m, "s1.encap"), "yes");
	assert_string_equal(vici_get(m, "s1.mobike"), "no");
	assert_string_equal(vici_get(m, "s1.dpd_delay"), "10s");
	assert_string_equal(vici_get(m, "s1.rekey_time"), "28800s");
	assert_string_equal(vici_get(m, "s1.local.auth"), "psk");
	assert_string_equal(vici_get(m, "s1.remote.id"), "198.18.0.2");
	assert_string_equal(vici_get(m, "s1.children.s1-policy.start_action"), "none");
	assert_string_equal(vici_get(m, "s1.children.s1-policy.life_time"), "3960s");
	n = vici_node_first(vici_find(m, "s1.children.s1-policy.esp_proposals"));
	assert_string_equal(vici_node_value(n, NULL), "aes128gcm16-ecp521");
	assert_string_equal(vici_node_value(vici_node_next(n), NULL), "aes256-sha256-modp2048");
	assert_string_equal(vici_node_value(vici_node_first(vici_find(m, "s1.proposals")), NULL),
			    "aes128gcm16-prfsha256-ecp521");
	buf_init(&b, 4096);
	assert_int_equal(vici_msg_print(m, &b), VPN_OK);
	assert_non_null(strstr(b.p, "local_ts=[10.91.0.0/24]"));
	buf_release(&b);
	vici_msg_free(m);

	cfg.name = NULL;
	assert_int_equal(vici_build_load_conn(&cfg, &m, NULL), VPN_E_INVALID);
	cfg.name = "s1";
	ch.name = "";
	assert_int_equal(vici_build_load_conn(&cfg, &m, NULL), VPN_E_INVALID);
	assert_null(m);
}

/* ---- a fake charon ---- */

struct fake {
	char dir[64];
	char path[96];
	int lfd;
	pthread_t th;
	volatile int stop;
	pthread_mutex_t mu;
	struct vici_msg *last_req;	/* last load-* request, for inspection */
	char last_cmd[VICI_NAME_MAX + 1];
};

static struct fake F;

static int
fake_read_full(int fd, void *p, size_t n)
{
	uint8_t *d = p;
	ssize_t r;

	while (n) {
		r = read(fd, d, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		d += r;
		n -= (size_t)r;
	}
	return 0;
}

static int
fake_write(int fd, const void *p, size_t n)
{
	const uint8_t *s = p;
	ssize_t w;

	while (n) {
		w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		s += w;
		n -= (size_t)w;
	}
	return 0;
}

static int
fake_send(int fd, enum vici_packet_type t, const char *name, const struct vici_msg *m)
{
	struct buf b;
	int rc;

	buf_init(&b, VICI_MAX_PACKET + 4);
	if (vici_encode_packet(&b, t, name, m))
		return -1;
	rc = fake_write(fd, b.p, b.len);
	buf_release(&b);
	return rc;
}

static struct vici_msg *
kvmsg(const char *k1, const char *v1, const char *k2, const char *v2)
{
	struct vici_msg *m = vici_msg_new();

	if (k1)
		vici_add_kvs(m, k1, v1);
	if (k2)
		vici_add_kvs(m, k2, v2);
	return m;
}

static struct vici_msg *
list_sa_event(const char *ike, const char *child, const char *pkts)
{
	struct vici_msg *m = vici_msg_new();

	vici_begin_section(m, ike);
	vici_add_kvs(m, "state", "ESTABLISHED");
	vici_begin_section(m, "child-sas");
	vici_begin_section(m, child);
	vici_add_kvs(m, "state", "INSTALLED");
	vici_add_kvs(m, "packets-in", pkts);
	vici_begin_list(m, "local-ts");
	vici_list_items(m, "10.91.0.0/24");
	vici_end_list(m);
	vici_end_section(m);
	vici_end_section(m);
	vici_end_section(m);
	return m;
}

static void
fake_serve(int fd)
{
	bool reg_list_sa = false, reg_updown = false;
	struct vici_packet p;
	struct vici_msg *m;
	uint8_t hdr[4], *body;
	size_t len;

	for (;;) {
		if (fake_read_full(fd, hdr, 4))
			return;
		len = ((size_t)hdr[0] << 24) | ((size_t)hdr[1] << 16) | ((size_t)hdr[2] << 8) |
		      hdr[3];
		if (len == 0 || len > VICI_MAX_PACKET)
			return;
		body = malloc(len);
		if (!body || fake_read_full(fd, body, len)) {
			free(body);
			return;
		}
		if (vici_decode_packet(body, len, &p, NULL)) {
			free(body);
			return;
		}
		free(body);
		if (p.type == VICI_EVENT_REGISTER || p.type == VICI_EVENT_UNREGISTER) {
			bool on = p.type == VICI_EVENT_REGISTER;

			if (!strcmp(p.name, "list-sa"))
				reg_list_sa = on;
			else if (!strcmp(p.name, "ike-updown"))
				reg_updown = on;
			else {
				fake_send(fd, VICI_EVENT_UNKNOWN, NULL, NULL);
				goto next;
			}
			fake_send(fd, VICI_EVENT_CONFIRM, NULL, NULL);
			goto next;
		}
		if (p.type != VICI_CMD_REQUEST)
			goto next;
		if (!strcmp(p.name, "version")) {
			m = kvmsg("daemon", "charon", "version", "5.9.8");
			fake_send(fd, VICI_CMD_RESPONSE, NULL, m);
			vici_msg_free(m);
		} else if (!strcmp(p.name, "list-sas")) {
			if (reg_list_sa) {
				m = list_sa_event("s1", "s1-policy-1", "7");
				fake_send(fd, VICI_EVENT, "list-sa", m);
				vici_msg_free(m);
			}
			if (reg_updown) {	/* unrelated event amid the stream */
				m = kvmsg("up", "yes", NULL, NULL);
				fake_send(fd, VICI_EVENT, "ike-updown", m);
				vici_msg_free(m);
			}
			if (reg_list_sa) {
				m = list_sa_event("s2", "s2-route-2", "9");
				fake_send(fd, VICI_EVENT, "list-sa", m);
				vici_msg_free(m);
			}
			fake_send(fd, VICI_CMD_RESPONSE, NULL, NULL);
		} else if (!strncmp(p.name, "load-", 5) || !strncmp(p.name, "unload-", 7) ||
			   !strcmp(p.name, "initiate") || !strcmp(p.name, "terminate")) {
			pthread_mutex_lock(&F.mu);
			vici_msg_free(F.last_req);
			F.last_req = p.msg;
			p.msg = NULL;
			snprintf(F.last_cmd, sizeof(F.last_cmd), "%s", p.name);
			if (vici_find(F.last_req, "bad"))
				m = kvmsg("success", "no", "errmsg", "invalid proposal 'bad'");
			else
				m = kvmsg("success", "yes", NULL, NULL);
			pthread_mutex_unlock(&F.mu);
			fake_send(fd, VICI_CMD_RESPONSE, NULL, m);
			vici_msg_free(m);
		} else if (!strcmp(p.name, "sleep")) {
			/* never answer */
		} else if (!strcmp(p.name, "garbage")) {
			static const uint8_t g[] = { 0, 0, 0, 3, 1, 9, 9 };

			fake_write(fd, g, sizeof(g));
		} else if (!strcmp(p.name, "huge")) {
			static const uint8_t g[] = { 0, 0x10, 0, 0, 1 };

			fake_write(fd, g, sizeof(g));
		} else if (!strcmp(p.name, "slow-event")) {
			/* answer, then an event whose bytes arrive in two parts 300 ms apart */
			struct buf b;

			fake_send(fd, VICI_CMD_RESPONSE, NULL, NULL);
			m = kvmsg("up", "no", NULL, NULL);
			buf_init(&b, 4096);
			vici_encode_packet(&b, VICI_EVENT, "ike-updown", m);
			fake_write(fd, b.p, 3);
			usleep(300 * 1000);
			fake_write(fd, b.p + 3, b.len - 3);
			buf_release(&b);
			vici_msg_free(m);
		} else {
			fake_send(fd, VICI_CMD_UNKNOWN, NULL, NULL);
		}
next:
		vici_packet_release(&p);
	}
}

static void *
fake_main(void *arg)
{
	struct pollfd pfd;
	int fd;

	(void)arg;
	while (!F.stop) {
		pfd.fd = F.lfd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 50) <= 0)
			continue;
		fd = accept(F.lfd, NULL, NULL);
		if (fd < 0)
			continue;
		fake_serve(fd);
		close(fd);
	}
	return NULL;
}

static int
fake_start(void **state)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	(void)state;
	memset(&F, 0, sizeof(F));
	pthread_mutex_init(&F.mu, NULL);
	snprintf(F.dir, sizeof(F.dir), "/tmp/vpnd-vici-XXXXXX");
	if (!mkdtemp(F.dir))
		return -1;
	snprintf(F.path, sizeof(F.path), "%s/charon.vici", F.dir);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", F.path);
	F.lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (F.lfd < 0 || bind(F.lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(F.lfd, 4) < 0)
		return -1;
	if (pthread_create(&F.th, NULL, fake_main, NULL))
		return -1;
	return 0;
}

static int
fake_stop(void **state)
{
	(void)state;
	F.stop = 1;
	pthread_join(F.th, NULL);
	close(F.lfd);
	unlink(F.path);
	rmdir(F.dir);
	vici_msg_free(F.last_req);
	pthread_mutex_destroy(&F.mu);
	return 0;
}

static struct vici_conn *
fake_connect(void)
{
	struct vici_conn *c = NULL;
	struct vpn_error e;

	vpn_error_clear(&e);
	if (vici_connect(F.path, &c, &e))
		fail_msg("connect: %s", e.msg);
	return c;
}

static void
test_client_request(void **state)
{
	struct vici_conn *c = fake_connect();
	struct vici_msg *resp = NULL;
	struct vpn_error e;

	(void)state;
	vpn_error_clear(&e);
	assert_int_equal(vici_request(c, "version", NULL, &resp, 2000, &e), VPN_OK);
	assert_string_equal(vici_get(resp, "daemon"), "charon");
	assert_string_equal(vici_get(resp, "version"), "5.9.8");
	vici_msg_free(resp);
	/* unknown command: an error, but the connection stays usable */
	assert_int_equal(vici_request(c, "no-such-cmd", NULL, &resp, 2000, &e), VPN_E_UNSUPPORTED);
	assert_non_null(strstr(e.msg, "no-such-cmd"));
	assert_false(vici_conn_broken(c));
	assert_int_equal(vici_request(c, "version", NULL, &resp, 2000, &e), VPN_OK);
	vici_msg_free(resp);
	vici_close(c);
	vici_close(NULL);

	/* connecting to nothing fails cleanly */
	assert_int_equal(vici_connect("/nonexistent/charon.vici", &c, &e), VPN_E_INTERNAL);
	assert_null(c);
}

struct collected {
	int n;
	char ikes[4][32];
	char pkts[4][8];
	enum vpn_err ret;
};

static enum vpn_err
collect(void *arg, const char *event, const struct vici_msg *msg)
{
	struct collected *col = arg;
	const struct vici_node *ike = vici_node_first(vici_root(msg));
	const struct vici_node *sas, *child;

	assert_string_equal(event, "list-sa");
	assert_non_null(ike);
	if (col->n < 4) {
		snprintf(col->ikes[col->n], sizeof(col->ikes[0]), "%s", vici_node_name(ike));
		sas = vici_node_child(ike, "child-sas");
		child = vici_node_first(sas);
		snprintf(col->pkts[col->n], sizeof(col->pkts[0]), "%s",
			 vici_node_value(vici_node_child(child, "packets-in"), NULL));
	}
	col->n++;
	return col->ret;
}

static void
test_client_stream(void **state)
{
	struct vici_conn *c = fake_connect();
	struct collected col = { 0 };
	struct vici_msg *msg = NULL;
	struct vpn_error e;
	char *name = NULL;

	(void)state;
	vpn_error_clear(&e);
	assert_int_equal(vici_register(c, "ike-updown", 1000, &e), VPN_OK);
	assert_int_equal(vici_list_sas(c, NULL, collect, &col, 2000, &e), VPN_OK);
	assert_int_equal(col.n, 2);
	assert_string_equal(col.ikes[0], "s1");
	assert_string_equal(col.pkts[0], "7");
	assert_string_equal(col.ikes[1], "s2");
	assert_string_equal(col.pkts[1], "9");
	/* the ike-updown event seen during the stream was queued */
	assert_int_equal(vici_read_event(c, &name, &msg, 0, &e), VPN_OK);
	assert_string_equal(name, "ike-updown");
	assert_string_equal(vici_get(msg, "up"), "yes");
	free(name);
	vici_msg_free(msg);
	assert_int_equal(vici_read_event(c, &name, &msg, 50, &e), VPN_E_NOT_FOUND);
	assert_null(name);
	assert_null(msg);

	/* list-sa was unregistered after the stream: a plain list-sas streams nothing */
	memset(&col, 0, sizeof(col));
	assert_int_equal(vici_request(c, "list-sas", NULL, &msg, 2000, &e), VPN_OK);
	vici_msg_free(msg);
	assert_int_equal(vici_read_event(c, &name, &msg, 0, &e), VPN_OK);	/* ike-updown */
	free(name);
	vici_msg_free(msg);

	/* a failing callback: called once, the stream is drained, its code returned */
	col.ret = VPN_E_INVALID;
	assert_int_equal(vici_list_sas(c, "s1", collect, &col, 2000, &e), VPN_E_INVALID);
	assert_int_equal(col.n, 1);
	assert_false(vici_conn_broken(c));
	assert_int_equal(vici_read_event(c, &name, &msg, 0, &e), VPN_OK);
	free(name);
	vici_msg_free(msg);

	/* unknown event name */
	assert_int_equal(vici_register(c, "no-such-event", 1000, &e), VPN_E_UNSUPPORTED);
	assert_false(vici_conn_broken(c));
	vici_close(c);
}

static void
test_client_commands(void **state)
{
	static const char *const owners[] = { "198.18.0.1", "198.18.0.2" };
	static const char *const esp[] = { "bad" };
	struct vici_child_cfg ch = { .name = "c", .esp_proposals = esp, .nesp_proposals = 1 };
	struct vici_conn_cfg cfg = { .name = "s1", .version = 2 };
	struct vici_conn *c = fake_connect();
	const struct vici_node *n;
	struct vpn_error e;
	size_t len;

	(void)state;
	vpn_error_clear(&e);
	assert_int_equal(vici_load_shared(c, "ike-s1", "p\0sk", 4, owners, 2, 2000, &e), VPN_OK);
	pthread_mutex_lock(&F.mu);
	assert_string_equal(F.last_cmd, "load-shared");
	assert_string_equal(vici_get(F.last_req, "type"), "IKE");
	assert_memory_equal(vici_node_value(vici_find(F.last_req, "data"), &len), "p\0sk", 4);
	assert_int_equal(len, 4);
	n = vici_node_first(vici_find(F.last_req, "owners"));
	assert_string_equal(vici_node_value(n, NULL), "198.18.0.1");
	pthread_mutex_unlock(&F.mu);

	assert_int_equal(vici_load_conn(c, &cfg, 2000, &e), VPN_OK);
	assert_int_equal(vici_unload_conn(c, "s1", 2000, &e), VPN_OK);
	pthread_mutex_lock(&F.mu);
	assert_string_equal(vici_get(F.last_req, "name"), "s1");
	pthread_mutex_unlock(&F.mu);
	assert_int_equal(vici_initiate(c, "s1-policy", "s1", 1000, 3000, &e), VPN_OK);
	pthread_mutex_lock(&F.mu);
	assert_string_equal(F.last_cmd, "initiate");
	assert_string_equal(vici_get(F.last_req, "child"), "s1-policy");
	assert_string_equal(vici_get(F.last_req, "timeout"), "1000");
	pthread_mutex_unlock(&F.mu);
	assert_int_equal(vici_terminate(c, NULL, "s1", -1, 3000, &e), VPN_OK);
	assert_int_equal(vici_terminate(c, NULL, NULL, -1, 3000, &e), VPN_E_INVALID);
	assert_int_equal(vici_unload_shared(c, "ike-s1", 2000, &e), VPN_OK);

	/* charon refusing: success=no with errmsg -> VPN_E_INVALID with the message */
	vpn_error_clear(&e);
	assert_int_equal(vici_unload_conn(c, "bad", 2000, &e), VPN_OK);	/* value, not key */
	cfg.name = "bad";
	ch.name = "c";
	cfg.children = &ch;
	cfg.nchildren = 1;
	assert_int_equal(vici_load_conn(c, &cfg, 2000, &e), VPN_E_INVALID);
	assert_string_equal(e.msg, "load-conn: invalid proposal 'bad'");
	assert_false(vici_conn_broken(c));
	vici_close(c);
}

static void
test_client_timeout_and_garbage(void **state)
{
	struct vici_conn *c = fake_connect();
	struct vici_msg *resp = NULL;
	struct vpn_error e;
	struct timespec t0, t1;
	long ms;

	(void)state;
	vpn_error_clear(&e);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(vici_request(c, "sleep", NULL, &resp, 200, &e), VPN_E_INTERNAL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 190 && ms < 1500);
	assert_non_null(strstr(e.msg, "within 200 ms"));
	assert_null(resp);
	assert_true(vici_conn_broken(c));
	/* a broken connection refuses at once */
	assert_int_equal(vici_request(c, "version", NULL, &resp, 2000, &e), VPN_E_INTERNAL);
	assert_non_null(strstr(e.msg, "reconnect"));
	vici_close(c);

	c = fake_connect();
	assert_int_equal(vici_request(c, "garbage", NULL, &resp, 2000, &e), VPN_E_INVALID);
	assert_true(vici_conn_broken(c));
	vici_close(c);

	c = fake_connect();
	assert_int_equal(vici_request(c, "huge", NULL, &resp, 2000, &e), VPN_E_TOO_BIG);
	assert_true(vici_conn_broken(c));
	vici_close(c);
}

static void
test_client_event_resumes_after_timeout(void **state)
{
	struct vici_conn *c = fake_connect();
	struct vici_msg *resp = NULL, *msg = NULL;
	struct vpn_error e;
	char *name = NULL;

	(void)state;
	vpn_error_clear(&e);
	assert_int_equal(vici_request(c, "slow-event", NULL, &resp, 2000, &e), VPN_OK);
	vici_msg_free(resp);
	/* 3 bytes of the event arrive, the rest 300 ms later: time out, keep the partial packet */
	assert_int_equal(vici_read_event(c, &name, &msg, 100, &e), VPN_E_NOT_FOUND);
	assert_false(vici_conn_broken(c));
	assert_int_equal(vici_read_event(c, &name, &msg, 3000, &e), VPN_OK);
	assert_string_equal(name, "ike-updown");
	assert_string_equal(vici_get(msg, "up"), "no");
	free(name);
	vici_msg_free(msg);
	vici_close(c);
}

static void
test_client_socketpair_eof(void **state)
{
	struct vici_conn *c = NULL;
	struct vici_msg *resp = NULL;
	struct vpn_error e;
	int sv[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(vici_conn_adopt(sv[0], &c, NULL), VPN_OK);
	assert_int_equal(vici_conn_fd(c), sv[0]);
	close(sv[1]);		/* the peer goes away */
	vpn_error_clear(&e);
	assert_int_equal(vici_request(c, "version", NULL, &resp, 500, &e), VPN_E_INTERNAL);
	assert_true(vici_conn_broken(c));
	vici_close(c);
}

int
main(void)
{
	const struct CMUnitTest codec[] = {
		cmocka_unit_test(test_encode_readme_example),
		cmocka_unit_test(test_decode_readme_example),
		cmocka_unit_test(test_packet_known_bytes),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_all_truncations),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_depth_and_size_limits),
		cmocka_unit_test(test_malformed_packets),
		cmocka_unit_test(test_builder_errors),
		cmocka_unit_test(test_print_redacts_secrets),
		cmocka_unit_test(test_check_success),
		cmocka_unit_test(test_build_load_conn),
	};
	const struct CMUnitTest client[] = {
		cmocka_unit_test(test_client_request),
		cmocka_unit_test(test_client_stream),
		cmocka_unit_test(test_client_commands),
		cmocka_unit_test(test_client_timeout_and_garbage),
		cmocka_unit_test(test_client_event_resumes_after_timeout),
		cmocka_unit_test(test_client_socketpair_eof),
	};
	int fails;

	fails = cmocka_run_group_tests_name("vici codec", codec, NULL, NULL);
	fails += cmocka_run_group_tests_name("vici client (fake charon)", client, fake_start,
					     fake_stop);
	return fails ? 1 : 0;
}
