/*
 * bird.c - bird.conf rendering, BIRD control-socket client and reply parsers (see bird.h,
 * docs/bird.md).
 *
 * Every reply line crosses a trust boundary: the client and the parsers share one line
 * classifier (classify()) that accepts only "DDDD-", "DDDD ", " " and "+" lines without NUL
 * bytes, and every field is copied with an explicit bound.
 */
#include "realize/bird.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "core/util.h"

/* ================================================================ prefix lists */

static enum vpn_err
plist_len(const json_t *ent, const char *key, unsigned *out)
{
	const json_t *v = json_object_get(ent, key);

	*out = 0;
	if (!v || json_is_null(v))
		return VPN_OK;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 128)
		return VPN_E_INVALID;	/* unreachable: pl_compile checked it */
	*out = (unsigned)json_integer_value(v);
	return VPN_OK;
}

enum vpn_err
bird_plist_from_json(const json_t *prefixes, struct bird_plist *out, struct vpn_error *err)
{
	struct pl_list *check = NULL;
	enum vpn_err rc;
	size_t i, n;

	out->n = 0;
	out->e = NULL;
	/* one validator for both realizations: what the trie accepts, BIRD gets */
	rc = pl_compile(prefixes, &check, err);
	pl_free(check);
	if (rc)
		return rc;
	n = json_array_size(prefixes);
	out->e = calloc(n, sizeof(*out->e));
	if (!out->e)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	for (i = 0; i < n; i++) {
		const json_t *ent = json_array_get(prefixes, i);
		const char *net = json_string_value(json_object_get(ent, "network"));
		const char *act = json_string_value(json_object_get(ent, "action"));
		struct bird_pentry *e = &out->e[i];
		unsigned ge, le, max, b;

		e->action = act && !strcmp(act, "DENY") ? PL_DENY : PL_PERMIT;
		if (!net || !strcmp(net, "ANY")) {
			e->any = true;
			continue;
		}
		if (!netprefix_parse(net, &e->net) || plist_len(ent, "ge", &ge) ||
		    plist_len(ent, "le", &le)) {
			bird_plist_release(out);
			return vpn_error_set(err, VPN_E_INVALID, 0, "prefixes[%zu] is malformed", i);
		}
		for (b = e->net.len; b < 128; b++)
			e->net.addr.bytes[b >> 3] &= (uint8_t)~(0x80u >> (b & 7));
		max = netaddr_bits(&e->net.addr);
		/* docs/prefix.md: exact, le only, ge only, ge and le */
		e->lo = (uint8_t)(ge ? ge : e->net.len);
		e->hi = (uint8_t)(le ? le : ge ? max : e->net.len);
	}
	out->n = n;
	return VPN_OK;
}

void
bird_plist_release(struct bird_plist *l)
{
	if (!l)
		return;
	free(l->e);
	l->e = NULL;
	l->n = 0;
}

void
bird_pentry_pattern(const struct bird_pentry *e, char out[BIRD_PATTERN_MAX])
{
	char a[48];

	if (e->any) {
		snprintf(out, BIRD_PATTERN_MAX, "ANY");
		return;
	}
	netaddr_format(&e->net.addr, a, sizeof(a));
	snprintf(out, BIRD_PATTERN_MAX, "%s/%u{%u,%u}", a, e->net.len, e->lo, e->hi);
}

enum vpn_err
bird_render_plist_fn(const char *fname, const struct bird_plist *l, struct buf *out,
		     struct vpn_error *err)
{
	enum vpn_err rc;
	size_t i;

	rc = buf_addf(out, "function %s()\n{\n", fname);
	if (!l) {
		if (!rc)
			rc = buf_adds(out, "\treturn true;\t# no prefix list: accept all\n}\n");
		goto out;
	}
	for (i = 0; !rc && i < l->n; i++) {
		const struct bird_pentry *e = &l->e[i];
		const char *ret = e->action == PL_PERMIT ? "true" : "false";
		char pat[BIRD_PATTERN_MAX];

		if (e->any) {
			/* ANY decides every route: later entries can never match */
			rc = buf_addf(out, "\treturn %s;\t# [%zu] ANY %s\n}\n", ret, i,
				      e->action == PL_PERMIT ? "PERMIT" : "DENY");
			goto out;
		}
		bird_pentry_pattern(e, pat);
		rc = buf_addf(out, "\tif net.type = %s && net ~ [ %s ] then return %s;\t# [%zu]\n",
			      e->net.addr.family == 4 ? "NET_IP4" : "NET_IP6", pat, ret, i);
	}
	if (!rc)
		rc = buf_adds(out, "\treturn false;\t# implicit deny\n}\n");
out:
	if (rc)
		return vpn_error_set(err, rc, 0, "bird.conf: %s", vpn_err_name(rc));
	return VPN_OK;
}

/* ================================================================ identifiers */

static bool
is_alnum(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
}

bool
bird_proto_name(const char *id, char out[BIRD_PROTO_NAME_MAX + 1])
{
	static const char hex[] = "0123456789abcdef";
	char tmp[BIRD_PROTO_NAME_MAX + 4];
	size_t o = 0, cut = 0;
	const unsigned char *p;
	uint64_t h = 0xcbf29ce484222325ull;
	bool fits = true;

	if (!id || !*id)
		return false;
	memcpy(tmp, "nbr_", 4);
	o = 4;
	for (p = (const unsigned char *)id; *p; p++) {
		size_t need = is_alnum(*p) ? 1 : 3;

		if (o + need > BIRD_PROTO_NAME_MAX) {
			fits = false;
			break;
		}
		if (need == 1) {
			tmp[o++] = (char)*p;
		} else {
			tmp[o++] = '_';
			tmp[o++] = hex[*p >> 4];
			tmp[o++] = hex[*p & 15];
		}
		if (o <= BIRD_PROTO_NAME_MAX - 18)
			cut = o;	/* longest prefix that leaves room for "_h" + 16 hex */
	}
	if (!fits) {
		for (p = (const unsigned char *)id; *p; p++) {
			h ^= *p;
			h *= 0x100000001b3ull;
		}
		o = cut;
		tmp[o++] = '_';
		tmp[o++] = 'h';
		for (int i = 60; i >= 0; i -= 4)
			tmp[o++] = hex[(h >> i) & 15];
	}
	memcpy(out, tmp, o);
	out[o] = '\0';
	return true;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool
bird_proto_name_decode(const char *name, char *out, size_t outlen)
{
	size_t o = 0;
	const char *p;

	/* longer than any name bird_proto_name writes: not ours, even if it decodes */
	if (strncmp(name, "nbr_", 4) || !name[4] || !outlen ||
	    strnlen(name, BIRD_PROTO_NAME_MAX + 1) > BIRD_PROTO_NAME_MAX)
		return false;
	for (p = name + 4; *p; p++) {
		int ch;

		if (*p == '_') {
			int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]);

			if (hi < 0 || lo < 0)
				return false;
			ch = hi << 4 | lo;
			if (ch == 0 || is_alnum((unsigned char)ch))
				return false;	/* not what bird_proto_name writes */
			p += 2;
		} else if (is_alnum((unsigned char)*p)) {
			ch = (unsigned char)*p;
		} else {
			return false;
		}
		if (o + 1 >= outlen)
			return false;
		out[o++] = (char)ch;
	}
	out[o] = '\0';
	return true;
}

/* ================================================================ configuration */

/* BIRD 2 strings ("...") have no escapes: only printable ASCII other than '"' survives. */
static bool
quotable(const char *s, size_t max)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e || s[i] == '"')
			return false;
	return i <= max;
}

struct nbr_ref {
	char name[BIRD_PROTO_NAME_MAX + 1];
	size_t idx;
};

static int
nbr_ref_cmp(const void *a, const void *b)
{
	return strcmp(((const struct nbr_ref *)a)->name, ((const struct nbr_ref *)b)->name);
}

static int
prefix_cmp(const void *a, const void *b)
{
	const struct netprefix *x = a, *y = b;
	int c = netaddr_cmp(&x->addr, &y->addr);

	return c ? c : (int)x->len - (int)y->len;
}

static enum vpn_err
check_neighbor(const struct bird_neighbor *n, size_t i, struct vpn_error *err)
{
	if (n->addr.family != 4 && n->addr.family != 6)
		return vpn_error_set(err, VPN_E_INVALID, 0, "neighbors[%zu].address is not set", i);
	if (n->local_addr.family && n->local_addr.family != n->addr.family)
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "neighbors[%zu].local_address is of another family", i);
	if (!n->remote_as)
		return vpn_error_set(err, VPN_E_INVALID, 0, "neighbors[%zu].remote_as is 0", i);
	if (n->password && !quotable(n->password, 80))
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "neighbors[%zu].password: only printable ASCII without '\"', "
				     "at most 80 characters", i);
	if (n->hold_s < 0 || (n->hold_s > 0 && n->hold_s < 3) || n->hold_s > 65535)
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "neighbors[%zu].hold_down_time must be 0 or 3..65535", i);
	if (n->keepalive_s < 0 || n->keepalive_s > 65535)
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "neighbors[%zu].keep_alive_time must be 0..65535", i);
	if (n->multihop > 255)
		return vpn_error_set(err, VPN_E_INVALID, 0, "neighbors[%zu].maximum_hop_limit "
				     "must be 0..255", i);
	return VPN_OK;
}

static enum vpn_err
render_neighbor(const struct bird_cfg *cfg, const struct bird_neighbor *n, const char *name,
		struct buf *o)
{
	const char *fam = n->addr.family == 4 ? "ipv4" : "ipv6";
	char a[48];
	enum vpn_err rc;

	rc = buf_addf(o, "\n# neighbor %s\n", name);
	if (!rc && n->in) {
		char fn[BIRD_SYM_MAX + 1];

		snprintf(fn, sizeof(fn), "%s_pl_in", name);
		rc = bird_render_plist_fn(fn, n->in, o, NULL);
		if (!rc)
			rc = buf_addf(o, "filter %s_in\n{\n\tif %s() then accept;\n\treject;\n}\n",
				      name, fn);
	}
	if (!rc && n->out) {
		char fn[BIRD_SYM_MAX + 1];

		snprintf(fn, sizeof(fn), "%s_pl_out", name);
		rc = bird_render_plist_fn(fn, n->out, o, NULL);
		if (!rc)
			rc = buf_addf(o, "filter %s_out\n{\n"
				      "\tif proto != \"vpnd_static4\" && proto != \"vpnd_static6\" "
				      "then reject;\n\tif %s() then accept;\n\treject;\n}\n", name, fn);
	}
	if (!rc)
		rc = buf_addf(o, "protocol bgp %s {\n", name);
	if (!rc && n->local_addr.family) {
		netaddr_format(&n->local_addr, a, sizeof(a));
		rc = buf_addf(o, "\tlocal %s as %u;\n", a,
			      n->local_as ? n->local_as : cfg->local_as ? cfg->local_as : 65000);
	} else if (!rc) {
		rc = buf_addf(o, "\tlocal as %u;\n",
			      n->local_as ? n->local_as : cfg->local_as ? cfg->local_as : 65000);
	}
	if (!rc) {
		netaddr_format(&n->addr, a, sizeof(a));
		rc = buf_addf(o, "\tneighbor %s as %u;\n", a, n->remote_as);
	}
	if (!rc)
		rc = n->multihop ? buf_addf(o, "\tmultihop %u;\n", n->multihop)
				 : buf_adds(o, "\tdirect;\n");
	/* the recipe's timers: BIRD's defaults (connect delay 5 s, retry 120 s, error wait
	 * 60..300 s) delay the first session by ~4 s and a re-connect after the tunnel flapped
	 * by minutes; these give ESTABLISHED ~1 s after the VTI is reachable */
	if (!rc)
		rc = buf_adds(o, "\tconnect delay time 1;\n\tconnect retry time 2;\n"
			      "\terror wait time 1, 10;\n");
	if (!rc && n->hold_s)
		rc = buf_addf(o, "\thold time %lld;\n", (long long)n->hold_s);
	if (!rc && n->keepalive_s)
		rc = buf_addf(o, "\tkeepalive time %lld;\n", (long long)n->keepalive_s);
	if (!rc && n->password && *n->password)
		rc = buf_addf(o, "\tpassword \"%s\";\n", n->password);
	if (!rc && n->allow_as_in)
		rc = buf_adds(o, "\tallow local as 3;\n");
	if (!rc && !n->enabled)
		rc = buf_adds(o, "\tdisabled yes;\n");
	if (!rc)
		rc = buf_addf(o, "\t%s {\n", fam);
	if (!rc)
		rc = n->in ? buf_addf(o, "\t\timport filter %s_in;\n", name)
			   : buf_adds(o, "\t\timport all;\n");
	if (!rc)
		rc = n->out ? buf_addf(o, "\t\texport filter %s_out;\n", name)
			    : buf_adds(o, "\t\texport filter vpnd_advertised;\n");
	if (!rc)
		rc = buf_adds(o, "\t\tnext hop self;\n\t};\n}\n");
	return rc;
}

static enum vpn_err
render_static(const struct netprefix *adv, size_t n, unsigned family, struct buf *o)
{
	enum vpn_err rc;
	size_t i;

	rc = buf_addf(o, "\nprotocol static vpnd_static%u {\n\tipv%u;\n", family == 4 ? 4 : 6,
		      family == 4 ? 4 : 6);
	for (i = 0; !rc && i < n; i++) {
		char a[48];

		if (adv[i].addr.family != family || (i && !prefix_cmp(&adv[i - 1], &adv[i])))
			continue;
		netaddr_format(&adv[i].addr, a, sizeof(a));
		rc = buf_addf(o, "\troute %s/%u blackhole;\n", a, adv[i].len);
	}
	if (!rc)
		rc = buf_adds(o, "}\n");
	return rc;
}

static enum vpn_err
render_kernel(const struct bird_cfg *cfg, unsigned family, struct buf *o)
{
	enum vpn_err rc;

	rc = buf_addf(o, "\nprotocol kernel vpnd_kernel%u {\n", family);
	if (!rc && cfg->kernel_table)
		rc = buf_addf(o, "\tkernel table %u;\n", cfg->kernel_table);
	if (!rc)
		rc = buf_addf(o, "\tlearn off;\n\tpersist off;\n\tipv%u {\n\t\timport none;\n"
			      "\t\texport %s;\n\t};\n}\n", family,
			      cfg->kernel_export ? "where source = RTS_BGP" : "none");
	return rc;
}

enum vpn_err
bird_config_render(const struct bird_cfg *cfg, struct buf *out, struct vpn_error *err)
{
	struct nbr_ref *refs = NULL;
	struct netprefix *adv = NULL;
	bool v6 = false;
	char a[48];
	enum vpn_err rc = VPN_OK;
	size_t i;

	if (cfg->router_id.family != 4)
		return vpn_error_set(err, VPN_E_INVALID, 0, "router_id must be an IPv4 address");
	if (cfg->log_path && !quotable(cfg->log_path, 4096))
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "log_path: only printable ASCII without '\"'");
	if (cfg->nneighbors) {
		refs = calloc(cfg->nneighbors, sizeof(*refs));
		if (!refs)
			return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	}
	for (i = 0; i < cfg->nneighbors; i++) {
		rc = check_neighbor(&cfg->neighbors[i], i, err);
		if (rc)
			goto out;
		if (!bird_proto_name(cfg->neighbors[i].id, refs[i].name)) {
			rc = vpn_error_set(err, VPN_E_INVALID, 0, "neighbors[%zu].id is empty", i);
			goto out;
		}
		refs[i].idx = i;
		if (cfg->neighbors[i].addr.family == 6)
			v6 = true;
	}
	if (cfg->nneighbors)
		qsort(refs, cfg->nneighbors, sizeof(*refs), nbr_ref_cmp);
	for (i = 1; i < cfg->nneighbors; i++)
		if (!strcmp(refs[i - 1].name, refs[i].name)) {
			rc = vpn_error_set(err, VPN_E_INVALID, 0,
					   "neighbors[%zu] and neighbors[%zu] map to the same BIRD "
					   "protocol name", refs[i - 1].idx, refs[i].idx);
			goto out;
		}
	if (cfg->nadvertise) {
		adv = malloc(cfg->nadvertise * sizeof(*adv));
		if (!adv) {
			rc = vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
			goto out;
		}
		memcpy(adv, cfg->advertise, cfg->nadvertise * sizeof(*adv));
		for (i = 0; i < cfg->nadvertise; i++) {
			if ((adv[i].addr.family != 4 && adv[i].addr.family != 6) ||
			    adv[i].len > netaddr_bits(&adv[i].addr) || !netprefix_is_network(&adv[i])) {
				rc = vpn_error_set(err, VPN_E_INVALID, 0,
						   "advertise[%zu] is not a network address", i);
				goto out;
			}
			if (adv[i].addr.family == 6)
				v6 = true;
		}
		qsort(adv, cfg->nadvertise, sizeof(*adv), prefix_cmp);
	}

	netaddr_format(&cfg->router_id, a, sizeof(a));
	rc = buf_addf(out, "# bird.conf generated by vpnd: do not edit. Holds BGP passwords (0600).\n"
		      "router id %s;\n"
		      "# \"Since\" in show protocols as epoch seconds (bird_parse_protocols)\n"
		      "timeformat protocol \"%%s\";\n", a);
	if (!rc && cfg->log_path)
		rc = buf_addf(out, "log \"%s\" all;\n", cfg->log_path);
	if (!rc)
		rc = buf_adds(out, "\nprotocol device vpnd_device {\n\tscan time 10;\n}\n");
	if (!rc)
		rc = render_static(adv, cfg->nadvertise, 4, out);
	if (!rc && v6)
		rc = render_static(adv, cfg->nadvertise, 6, out);
	if (!rc)
		rc = buf_adds(out, "\n# what may be announced at all: the advertised networks\n"
			      "filter vpnd_advertised\n{\n"
			      "\tif proto = \"vpnd_static4\" || proto = \"vpnd_static6\" then accept;\n"
			      "\treject;\n}\n");
	if (!rc)
		rc = render_kernel(cfg, 4, out);
	if (!rc && v6)
		rc = render_kernel(cfg, 6, out);
	for (i = 0; !rc && i < cfg->nneighbors; i++)
		rc = render_neighbor(cfg, &cfg->neighbors[refs[i].idx], refs[i].name, out);
	if (rc && rc != VPN_E_INVALID)
		vpn_error_set(err, rc, 0, "bird.conf: %s", vpn_err_name(rc));
out:
	free(refs);
	free(adv);
	return rc;
}

enum vpn_err
bird_config_write(const char *path, const char *text, size_t len, struct vpn_error *err)
{
	char tmp[4096];
	size_t off = 0;
	int fd, n;

	n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return vpn_error_set(err, VPN_E_INVALID, 0, "bird.conf path too long");
	if (unlink(tmp) && errno != ENOENT)
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "unlink %s: %s", tmp, strerror(errno));
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "create %s: %s", tmp, strerror(errno));
	/* umask can only narrow 0600, but be explicit: this file holds passwords */
	if (fchmod(fd, 0600))
		goto fail;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd))
		goto fail;
	if (close(fd)) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path))
		goto fail;
	return VPN_OK;
fail:
	n = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return vpn_error_set(err, VPN_E_INTERNAL, 0, "write %s: %s", path, strerror(n));
}

/* ================================================================ reply lines */

enum line_kind { LK_CODE, LK_CONT, LK_ASYNC };

/*
 * Classify one reply line (without its '\n'). LK_CODE: *code, *last ("DDDD " vs "DDDD-"),
 * *text after the 5-byte prefix. LK_CONT: *text after the leading space. -1: malformed.
 */
static int
classify(const char *l, size_t len, int *code, bool *last, const char **text, size_t *tlen)
{
	size_t i;

	if (len == 0 || memchr(l, '\0', len))
		return -1;
	if (l[0] == '+') {
		*text = l + 1;
		*tlen = len - 1;
		return LK_ASYNC;
	}
	if (l[0] == ' ') {
		*text = l + 1;
		*tlen = len - 1;
		return LK_CONT;
	}
	if (len < 5 || (l[4] != ' ' && l[4] != '-'))
		return -1;
	for (i = 0; i < 4; i++)
		if (l[i] < '0' || l[i] > '9')
			return -1;
	*code = (l[0] - '0') * 1000 + (l[1] - '0') * 100 + (l[2] - '0') * 10 + (l[3] - '0');
	*last = l[4] == ' ';
	*text = l + 5;
	*tlen = len - 5;
	return LK_CODE;
}

/* Copy at most @outlen - 1 bytes of [s, s+n), NUL-terminated. */
static void
copy_field(char *out, size_t outlen, const char *s, size_t n)
{
	if (n >= outlen)
		n = outlen - 1;
	memcpy(out, s, n);
	out[n] = '\0';
}

/* ================================================================ control socket */

struct bird_conn {
	int fd;
	bool broken;
	char version[32];
	size_t start, rlen;		/* unread bytes are rbuf[start, rlen) */
	char rbuf[BIRD_LINE_MAX + 1];
};

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int
remaining(int64_t deadline)
{
	int64_t r = deadline - mono_ms();

	return r < 0 ? 0 : r > 3600000 ? 3600000 : (int)r;
}

/* Next line (without '\n') into *line and *len, borrowed until the next call. */
static enum vpn_err
read_line(struct bird_conn *c, int64_t deadline, const char **line, size_t *len,
	  struct vpn_error *err)
{
	for (;;) {
		char *nl = memchr(c->rbuf + c->start, '\n', c->rlen - c->start);
		struct pollfd pfd = { .fd = c->fd, .events = POLLIN };
		ssize_t r;
		int pr;

		if (nl) {
			*line = c->rbuf + c->start;
			*len = (size_t)(nl - *line);
			c->start += *len + 1;
			return VPN_OK;
		}
		if (c->start) {
			memmove(c->rbuf, c->rbuf + c->start, c->rlen - c->start);
			c->rlen -= c->start;
			c->start = 0;
		}
		if (c->rlen >= sizeof(c->rbuf))
			return vpn_error_set(err, VPN_E_TOO_BIG, 0,
					     "bird: reply line longer than %d bytes", BIRD_LINE_MAX);
		pr = poll(&pfd, 1, remaining(deadline));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr < 0)
			return vpn_error_set(err, VPN_E_INTERNAL, 0, "bird: poll: %s",
					     strerror(errno));
		if (pr == 0)
			return vpn_error_set(err, VPN_E_INTERNAL, 0, "bird: reply timed out");
		r = read(c->fd, c->rbuf + c->rlen, sizeof(c->rbuf) - c->rlen);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r < 0)
			return vpn_error_set(err, VPN_E_INTERNAL, 0, "bird: read: %s",
					     strerror(errno));
		if (r == 0)
			return vpn_error_set(err, VPN_E_INTERNAL, 0,
					     "bird: connection closed before the reply ended");
		c->rlen += (size_t)r;
	}
}

static enum vpn_err
write_all(struct bird_conn *c, const char *p, size_t n, int64_t deadline, struct vpn_error *err)
{
	while (n) {
		struct pollfd pfd = { .fd = c->fd, .events = POLLOUT };
		ssize_t w;
		int pr = poll(&pfd, 1, remaining(deadline));

		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return vpn_error_set(err, VPN_E_INTERNAL, 0, "bird: send %s",
					     pr ? strerror(errno) : "timed out");
		w = send(c->fd, p, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0)
			return vpn_error_set(err, VPN_E_INTERNAL, 0, "bird: send: %s",
					     strerror(errno));
		p += w;
		n -= (size_t)w;
	}
	return VPN_OK;
}

/*
 * Read one reply. @cb per line, @raw (if any) gets every line verbatim. Sets *final to the
 * final code. On a protocol-level failure the connection is marked broken.
 */
static enum vpn_err
read_reply(struct bird_conn *c, bird_line_fn cb, void *arg, struct buf *raw, int64_t deadline,
	   int *final, struct vpn_error *err)
{
	enum vpn_err stop = VPN_OK;	/* first error from cb or raw: reported after draining */
	struct vpn_error stop_err;
	int prev = -1;

	vpn_error_clear(&stop_err);
	for (;;) {
		const char *line = NULL, *text = NULL;
		size_t len = 0, tlen = 0;
		bool last = false;
		int code = -1, k;
		enum vpn_err rc = read_line(c, deadline, &line, &len, err);

		if (rc) {
			c->broken = true;
			return rc;
		}
		k = classify(line, len, &code, &last, &text, &tlen);
		if (k < 0 || (k == LK_CONT && prev < 0) ||
		    (k == LK_CODE && last && code / 1000 >= 3 && code / 1000 <= 7)) {
			c->broken = true;
			return vpn_error_set(err, VPN_E_INTERNAL, 0, "bird: malformed reply line");
		}
		if (k == LK_ASYNC)
			continue;
		if (k == LK_CONT)
			code = prev;
		prev = code;
		if (!stop && raw) {
			stop = buf_add(raw, line, len);
			if (!stop)
				stop = buf_add(raw, "\n", 1);
			if (stop)
				vpn_error_set(&stop_err, stop, 0, "bird: reply larger than %zu bytes",
					      raw->cap_max);
		}
		if (!stop && cb && !(last && code >= 8000)) {
			stop = cb(arg, code, text, tlen, last);
			if (stop)
				vpn_error_set(&stop_err, stop, 0, "bird: reply rejected by the reader");
		}
		if (!last)
			continue;
		*final = code;
		if (code >= 8000) {
			char msg[300];

			copy_field(msg, sizeof(msg), text, tlen);
			return vpn_error_set(err, VPN_E_INVALID, 0, "bird %04d: %s", code, msg);
		}
		if (stop && err)
			*err = stop_err;
		return stop;
	}
}

enum vpn_err
bird_connect(const char *path, struct bird_conn **out, struct vpn_error *err)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct bird_conn *c;
	struct buf greet;
	enum vpn_err rc;
	int final = -1;

	*out = NULL;
	if (strlen(path) >= sizeof(sa.sun_path))
		return vpn_error_set(err, VPN_E_INVALID, 0, "bird: control socket path too long");
	memcpy(sa.sun_path, path, strlen(path) + 1);
	c = calloc(1, sizeof(*c));
	if (!c)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		rc = vpn_error_set(err, VPN_E_INTERNAL, 0, "bird: connect %s: %s", path,
				   strerror(errno));
		bird_close(c);
		return rc;
	}
	buf_init(&greet, 4096);
	rc = read_reply(c, NULL, NULL, &greet, mono_ms() + BIRD_CONNECT_TIMEOUT_MS, &final, err);
	if (!rc && final != 1)
		rc = vpn_error_set(err, VPN_E_INTERNAL, 0, "bird: unexpected greeting %04d", final);
	if (!rc) {
		/* "0001 BIRD 2.0.12 ready." */
		const char *v = greet.p && !strncmp(greet.p, "0001 BIRD ", 10) ? greet.p + 10 : "";
		size_t vl = strcspn(v, " \n");

		copy_field(c->version, sizeof(c->version), v, vl);
		*out = c;
	} else {
		bird_close(c);
	}
	buf_release(&greet);
	return rc;
}

void
bird_close(struct bird_conn *c)
{
	if (!c)
		return;
	if (c->fd >= 0)
		close(c->fd);
	free(c);
}

const char *
bird_version(const struct bird_conn *c)
{
	return c ? c->version : "";
}

static enum vpn_err
run_cmd(struct bird_conn *c, const char *cmd, bird_line_fn cb, void *arg, struct buf *raw,
	int timeout_ms, int *final, struct vpn_error *err)
{
	int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
	size_t n = strlen(cmd);
	enum vpn_err rc;

	if (c->broken)
		return vpn_error_set(err, VPN_E_INTERNAL, 0,
				     "bird: connection out of step after an error; reconnect");
	if (n == 0 || n >= BIRD_LINE_MAX || strpbrk(cmd, "\r\n"))
		return vpn_error_set(err, VPN_E_INVALID, 0, "bird: command must be one line");
	rc = write_all(c, cmd, n, deadline, err);
	if (!rc)
		rc = write_all(c, "\n", 1, deadline, err);
	if (rc) {
		c->broken = true;
		return rc;
	}
	return read_reply(c, cb, arg, raw, deadline, final, err);
}

enum vpn_err
bird_cmd(struct bird_conn *c, const char *cmd, bird_line_fn cb, void *arg, int timeout_ms,
	 struct vpn_error *err)
{
	int final = -1;

	return run_cmd(c, cmd, cb, arg, NULL, timeout_ms, &final, err);
}

enum vpn_err
bird_cmd_collect(struct bird_conn *c, const char *cmd, struct buf *out, int timeout_ms,
		 struct vpn_error *err)
{
	int final = -1;

	return run_cmd(c, cmd, NULL, NULL, out, timeout_ms, &final, err);
}

enum vpn_err
bird_configure(struct bird_conn *c, const char *path, bool check, int timeout_ms,
	       struct vpn_error *err)
{
	char cmd[4200];
	enum vpn_err rc;
	int final = -1, n;

	if (path && !quotable(path, 4096))
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "bird: config path must be printable ASCII without '\"'");
	n = snprintf(cmd, sizeof(cmd), "configure%s%s%s%s", check ? " check" : "",
		     path ? " \"" : "", path ? path : "", path ? "\"" : "");
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return vpn_error_set(err, VPN_E_INVALID, 0, "bird: config path too long");
	rc = run_cmd(c, cmd, NULL, NULL, NULL, timeout_ms, &final, err);
	if (rc)
		return rc;
	switch (final) {
	case 3:		/* Reconfigured */
	case 4:		/* Reconfiguration in progress */
	case 5:		/* already in progress, queueing */
	case 20:	/* Configuration OK */
		return VPN_OK;
	default:
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "bird: configure answered %04d",
				     final);
	}
}

/* ================================================================ reply parsers */

struct cursor {
	const char *p, *end;
	int prev;
	bool done;		/* final line seen */
};

struct pline {
	int code;
	bool last;
	const char *text;
	size_t len;
};

/* 1: a line in *pl; 0: end of input; -1: malformed (err set). */
static int
next_pline(struct cursor *cu, struct pline *pl, struct vpn_error *err)
{
	for (;;) {
		const char *nl, *l;
		size_t len;
		int k;

		if (cu->p >= cu->end) {
			if (!cu->done) {
				vpn_error_set(err, VPN_E_INVALID, 0, "bird: reply truncated");
				return -1;
			}
			return 0;
		}
		l = cu->p;
		nl = memchr(l, '\n', (size_t)(cu->end - l));
		len = nl ? (size_t)(nl - l) : (size_t)(cu->end - l);
		cu->p = nl ? nl + 1 : cu->end;
		if (cu->done) {
			vpn_error_set(err, VPN_E_INVALID, 0, "bird: data after the final line");
			return -1;
		}
		if (len > BIRD_LINE_MAX)
			goto bad;
		k = classify(l, len, &pl->code, &pl->last, &pl->text, &pl->len);
		if (k < 0 || (k == LK_CONT && cu->prev < 0))
			goto bad;
		if (k == LK_ASYNC)
			continue;
		if (k == LK_CONT) {
			pl->code = cu->prev;
			pl->last = false;
		}
		cu->prev = pl->code;
		if (pl->last) {
			cu->done = true;
			if (pl->code != 0) {
				char msg[300];

				copy_field(msg, sizeof(msg), pl->text, pl->len);
				vpn_error_set(err, VPN_E_INVALID, 0, "bird %04d: %s", pl->code, msg);
				return -1;
			}
		}
		return 1;
	}
bad:
	vpn_error_set(err, VPN_E_INVALID, 0, "bird: malformed reply line");
	return -1;
}

static bool
is_space(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* Trim leading and trailing blanks of [*s, *s + *n). */
static void
trim(const char **s, size_t *n)
{
	while (*n && is_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && is_space((*s)[*n - 1]))
		(*n)--;
}

/* Next blank-separated token of [*s, end); false when none. */
static bool
token(const char **s, const char *end, const char **tok, size_t *tlen)
{
	while (*s < end && is_space(**s))
		(*s)++;
	if (*s >= end)
		return false;
	*tok = *s;
	while (*s < end && !is_space(**s))
		(*s)++;
	*tlen = (size_t)(*s - *tok);
	return true;
}

static bool
parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > 20)
		return false;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* "Key:  value" -> key and trimmed value; false when there is no ':'. */
static bool
key_value(const char *s, size_t n, const char **k, size_t *kl, const char **v, size_t *vl)
{
	const char *colon;

	trim(&s, &n);
	colon = memchr(s, ':', n);
	if (!colon)
		return false;
	*k = s;
	*kl = (size_t)(colon - s);
	*v = colon + 1;
	*vl = n - *kl - 1;
	trim(v, vl);
	return true;
}

static bool
key_is(const char *k, size_t kl, const char *want)
{
	return kl == strlen(want) && !memcmp(k, want, kl);
}

static enum rz_bgp_state
bgp_state_of(const char *s, size_t n, bool *known)
{
	static const struct {
		const char *name;
		enum rz_bgp_state st;
	} map[] = {
		{ "Idle", RZ_BGP_IDLE }, { "Connect", RZ_BGP_CONNECT }, { "Active", RZ_BGP_ACTIVE },
		{ "OpenSent", RZ_BGP_OPEN_SENT }, { "OpenConfirm", RZ_BGP_OPEN_CONFIRM },
		{ "Established", RZ_BGP_ESTABLISHED }, { "Close", RZ_BGP_IDLE },
		{ "Down", RZ_BGP_IDLE },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (key_is(s, n, map[i].name)) {
			*known = true;
			return map[i].st;
		}
	*known = false;
	return RZ_BGP_IDLE;
}

/* Grow *arr (of *n elements of @size) by one zeroed element; NULL on ENOMEM. */
static void *
grow(void **arr, size_t *n, size_t *cap, size_t size)
{
	char *p;

	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 8;
		void *np = realloc(*arr, nc * size);

		if (!np)
			return NULL;
		*arr = np;
		*cap = nc;
	}
	p = (char *)*arr + *n * size;
	memset(p, 0, size);
	(*n)++;
	return p;
}

static bool
proto_header(struct bird_proto *p, const char *s, size_t n)
{
	const char *end = s + n, *t;
	size_t tl;
	uint64_t since;

	p->since_s = -1;
	if (!token(&s, end, &t, &tl) || tl > BIRD_SYM_MAX)
		return false;
	copy_field(p->name, sizeof(p->name), t, tl);
	if (!token(&s, end, &t, &tl))
		return false;
	copy_field(p->proto, sizeof(p->proto), t, tl);
	if (!token(&s, end, &t, &tl))
		return false;
	copy_field(p->table, sizeof(p->table), t, tl);
	if (!token(&s, end, &t, &tl))
		return false;
	copy_field(p->state, sizeof(p->state), t, tl);
	if (!token(&s, end, &t, &tl))
		return false;	/* Since: always printed */
	if (parse_u64(t, tl, &since) && since <= INT64_MAX)
		p->since_s = (int64_t)since;
	tl = (size_t)(end - s);
	trim(&s, &tl);
	copy_field(p->info, sizeof(p->info), s, tl);
	p->bgp = !strcmp(p->proto, "BGP");
	if (p->bgp) {
		/* "show protocols" without "all": the first word of Info is the BGP state */
		const char *w = p->info;
		bool known;

		p->bgp_state = bgp_state_of(w, strcspn(w, " "), &known);
		if (known)
			copy_field(p->bgp_state_text, sizeof(p->bgp_state_text), w, strcspn(w, " "));
	}
	return true;
}

static void
proto_detail(struct bird_proto *p, const char *s, size_t n)
{
	const char *k, *v;
	size_t kl, vl;
	uint64_t u;

	if (!key_value(s, n, &k, &kl, &v, &vl))
		return;
	if (key_is(k, kl, "BGP state")) {
		bool known;

		copy_field(p->bgp_state_text, sizeof(p->bgp_state_text), v, vl);
		p->bgp_state = bgp_state_of(v, vl, &known);
	} else if (key_is(k, kl, "Neighbor address")) {
		copy_field(p->neighbor_address, sizeof(p->neighbor_address), v, vl);
	} else if (key_is(k, kl, "Neighbor AS") && parse_u64(v, vl, &u) && u <= UINT32_MAX) {
		p->neighbor_as = (uint32_t)u;
	} else if (key_is(k, kl, "Local AS") && parse_u64(v, vl, &u) && u <= UINT32_MAX) {
		p->local_as = (uint32_t)u;
	} else if (key_is(k, kl, "Neighbor ID")) {
		copy_field(p->neighbor_id, sizeof(p->neighbor_id), v, vl);
	} else if (key_is(k, kl, "Source address")) {
		copy_field(p->source_address, sizeof(p->source_address), v, vl);
	} else if (key_is(k, kl, "Hold timer") || key_is(k, kl, "Keepalive timer")) {
		/* "6.063/9": remaining/negotiated */
		const char *slash = memchr(v, '/', vl);

		if (slash && parse_u64(slash + 1, vl - (size_t)(slash + 1 - v), &u) &&
		    u <= 65535) {
			if (k[0] == 'H')
				p->hold_s = (int64_t)u;
			else
				p->keepalive_s = (int64_t)u;
		}
	} else if (key_is(k, kl, "Last error")) {
		copy_field(p->last_error, sizeof(p->last_error), v, vl);
	} else if (key_is(k, kl, "Description")) {
		copy_field(p->description, sizeof(p->description), v, vl);
	} else if (key_is(k, kl, "Routes")) {
		/* "2 imported, 2 exported, 1 preferred" (also "filtered" in some versions) */
		const char *e = v + vl, *t;
		size_t tl;

		while (token(&v, e, &t, &tl)) {
			const char *w;
			size_t wl;

			if (!parse_u64(t, tl, &u) || !token(&v, e, &w, &wl))
				break;
			if (wl && w[wl - 1] == ',')
				wl--;
			if (key_is(w, wl, "imported"))
				p->routes_imported += u;
			else if (key_is(w, wl, "exported"))
				p->routes_exported += u;
			else if (key_is(w, wl, "preferred"))
				p->routes_preferred += u;
		}
	}
}

enum vpn_err
bird_parse_protocols(const char *reply, size_t len, struct bird_proto **out, size_t *n,
		     struct vpn_error *err)
{
	struct vpn_error local;
	struct cursor cu = { reply, reply + len, -1, false };
	struct bird_proto *arr = NULL, *cur = NULL;
	size_t cnt = 0, cap = 0;
	struct pline pl;
	int r;

	*out = NULL;
	*n = 0;
	if (!err)
		err = &local;
	while ((r = next_pline(&cu, &pl, err)) > 0) {
		if (pl.code == 1002) {
			cur = grow((void **)&arr, &cnt, &cap, sizeof(*arr));
			if (!cur) {
				vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
				goto fail;
			}
			if (!proto_header(cur, pl.text, pl.len)) {
				vpn_error_set(err, VPN_E_INVALID, 0, "bird: malformed protocol line");
				goto fail;
			}
		} else if (pl.code == 1006 && cur) {
			proto_detail(cur, pl.text, pl.len);
		}
	}
	if (r < 0)
		goto fail;
	*out = arr;
	*n = cnt;
	return VPN_OK;
fail:
	free(arr);
	return err->code ? err->code : VPN_E_INVALID;
}

void
bird_proto_bgp_status(const struct bird_proto *p, int64_t now_s, struct rz_bgp_status *st)
{
	memset(st, 0, sizeof(*st));
	st->state = p->bgp_state;
	copy_field(st->source_address, sizeof(st->source_address), p->source_address,
		   strlen(p->source_address));
	copy_field(st->neighbor_router_id, sizeof(st->neighbor_router_id), p->neighbor_id,
		   strlen(p->neighbor_id));
	if (p->bgp_state == RZ_BGP_ESTABLISHED && p->since_s >= 0 && now_s >= p->since_s)
		st->time_since_established_s = now_s - p->since_s;
	st->in_prefix_count = p->routes_imported;
	st->out_prefix_count = p->routes_exported;
	st->hold_time_s = p->hold_s;
	st->keepalive_s = p->keepalive_s;
}

/* Copy an AS path, cutting at a space so that no AS number is cut in half. */
static void
copy_as_path(char *out, size_t outlen, const char *s, size_t n)
{
	if (n >= outlen) {
		n = outlen - 1;
		while (n && s[n] != ' ')
			n--;
	}
	copy_field(out, outlen, s, n);
}

static bool
parse_i64(const char *s, size_t n, int64_t *out)
{
	uint64_t u;

	if (!parse_u64(s, n, &u) || u > INT64_MAX)
		return false;
	*out = (int64_t)u;
	return true;
}

enum vpn_err
bird_parse_routes(const char *reply, size_t len, bool advertised, struct rz_route **out,
		  size_t *n, struct vpn_error *err)
{
	struct vpn_error local;
	struct cursor cu = { reply, reply + len, -1, false };
	struct rz_route *arr = NULL;
	size_t cnt = 0, cap = 0;
	bool have_net = false, have_via = false;
	struct netprefix net;
	struct pline pl;
	int r;

	*out = NULL;
	*n = 0;
	if (!err)
		err = &local;
	memset(&net, 0, sizeof(net));
	while ((r = next_pline(&cu, &pl, err)) > 0) {
		const char *s = pl.text, *e = pl.text + pl.len, *t, *k, *v;
		size_t tl, kl, vl;
		struct rz_route *rt = cnt ? &arr[cnt - 1] : NULL;

		if (pl.code == 1007) {
			if (pl.len == 0 || (pl.len >= 6 && !memcmp(s, "Table ", 6)))
				continue;
			if (s[0] == '\t') {
				/* "\tvia 169.254.10.2 on v0": the (first) next hop */
				if (rt && !have_via && token(&s, e, &t, &tl) && key_is(t, tl, "via") &&
				    token(&s, e, &t, &tl)) {
					copy_field(rt->next_hop, sizeof(rt->next_hop), t, tl);
					have_via = true;
				}
				continue;
			}
			if (!is_space(s[0])) {
				char nb[64];

				if (!token(&s, e, &t, &tl) || tl >= sizeof(nb))
					goto bad;
				copy_field(nb, sizeof(nb), t, tl);
				if (!netprefix_parse(nb, &net))
					goto bad;
				have_net = true;
			} else if (!have_net) {
				/* another route for the previous network, but there is none */
				tl = pl.len;
				trim(&s, &tl);
				if (!tl)
					continue;
				goto bad;
			}
			rt = grow((void **)&arr, &cnt, &cap, sizeof(*arr));
			if (!rt) {
				vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
				goto fail;
			}
			rt->net = net;
			rt->local_pref = 100;
			rt->weight = advertised ? 32768 : 0;
			have_via = false;
			/* BIRD < 2.0.8 printed "net via X on IF [proto ...]" on one line */
			if (token(&s, e, &t, &tl) && key_is(t, tl, "via") && token(&s, e, &t, &tl)) {
				copy_field(rt->next_hop, sizeof(rt->next_hop), t, tl);
				have_via = true;
			}
		} else if ((pl.code == 1008 || pl.code == 1012) && rt &&
			   key_value(s, pl.len, &k, &kl, &v, &vl)) {
			if (key_is(k, kl, "BGP.as_path")) {
				copy_as_path(rt->as_path, sizeof(rt->as_path), v, vl);
			} else if (key_is(k, kl, "BGP.med")) {
				if (!parse_i64(v, vl, &rt->med))
					goto bad;
			} else if (key_is(k, kl, "BGP.local_pref")) {
				if (!parse_i64(v, vl, &rt->local_pref))
					goto bad;
			} else if (key_is(k, kl, "BGP.next_hop") && !have_via &&
				   token(&v, v + vl, &t, &tl)) {
				copy_field(rt->next_hop, sizeof(rt->next_hop), t, tl);
			}
		}
	}
	if (r < 0)
		goto fail;
	*out = arr;
	*n = cnt;
	return VPN_OK;
bad:
	vpn_error_set(err, VPN_E_INVALID, 0, "bird: malformed route line");
fail:
	free(arr);
	return err->code ? err->code : VPN_E_INVALID;
}
