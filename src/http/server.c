#include "http/server.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/api.h"
#include "core/buf.h"
#include "core/log.h"
#include "http/conn_guard.h"

struct http_server {
	struct MHD_Daemon *d;
	struct api *api;
	struct http_config cfg;
	atomic_uint pending;		/* suspended connections awaiting a durable write */
	atomic_uint inflight;		/* requests begun and not yet completed */
	atomic_bool stopping;		/* http_stop began: new requests get 503 */
	struct conn_guard *guard;	/* --max-conns 503s and request deadlines */
	unsigned port;
};

enum rstate { RS_READING, RS_PENDING, RS_DONE };

struct req_ctx {
	struct http_server *srv;
	struct MHD_Connection *conn;
	pthread_mutex_t mu;
	enum rstate state;
	struct buf body;
	bool too_big;
	struct api_resp resp;
	const char *method;		/* MHD's strings, valid for the request's life */
	const char *url;
	struct timespec start;
	struct cg_conn *cg;		/* the connection's guard state, or NULL */
};

static enum api_method
parse_method(const char *m)
{
	if (!strcmp(m, "GET"))
		return API_GET;
	if (!strcmp(m, "PUT"))
		return API_PUT;
	if (!strcmp(m, "PATCH"))
		return API_PATCH;
	if (!strcmp(m, "DELETE"))
		return API_DELETE;
	if (!strcmp(m, "POST"))
		return API_POST;
	if (!strcmp(m, "HEAD"))
		return API_HEAD;
	return API_OTHER;
}

static const char *
query_get(void *qctx, const char *key)
{
	return MHD_lookup_connection_value(qctx, MHD_GET_ARGUMENT_KIND, key);
}

static const char *
header_get(void *qctx, const char *name)
{
	return MHD_lookup_connection_value(qctx, MHD_HEADER_KIND, name);
}

static enum MHD_Result
queue(struct req_ctx *rc)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (rc->resp.body && rc->resp.len) {
		r = MHD_create_response_from_buffer(rc->resp.len, rc->resp.body,
						    MHD_RESPMEM_MUST_FREE);
		if (r)
			rc->resp.body = NULL;
	} else {
		r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	}
	if (!r)
		return MHD_NO;
	if (rc->resp.content_type && rc->resp.len)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, rc->resp.content_type);
	if (rc->resp.allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, rc->resp.allow);
	if (rc->resp.retry_after) {
		char ra[16];

		snprintf(ra, sizeof(ra), "%u", rc->resp.retry_after);
		MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
	}
	if (rc->resp.close)
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(rc->conn, (unsigned)rc->resp.status, r);
	MHD_destroy_response(r);
	if (rc->url) {
		struct timespec now;

		/* the path only: the query string may one day carry a token */
		clock_gettime(CLOCK_MONOTONIC, &now);
		log_debug("%s %s -> %d (%.2f ms)", rc->method, rc->url, rc->resp.status,
			  (double)(now.tv_sec - rc->start.tv_sec) * 1e3 +
			  (double)(now.tv_nsec - rc->start.tv_nsec) / 1e6);
	}
	return ret;
}

static char *
too_big_body(size_t *len)
{
	struct vpn_error e;

	vpn_error_clear(&e);
	vpn_error_set(&e, VPN_E_TOO_BIG, 0, "The request body is larger than the server accepts");
	return vpn_error_json(&e, len);
}

/* Answer a request refused up front (no context) with an NSX error JSON, and close. */
static enum MHD_Result
refuse(struct MHD_Connection *conn, enum vpn_err code, const char *msg)
{
	struct req_ctx tmp = { 0 };
	struct vpn_error e;
	enum MHD_Result ret;

	vpn_error_clear(&e);
	vpn_error_set(&e, code, 0, "%s", msg);
	tmp.conn = conn;
	tmp.resp.status = vpn_err_http_status(code);
	tmp.resp.body = vpn_error_json(&e, &tmp.resp.len);
	tmp.resp.content_type = "application/json";
	tmp.resp.close = true;
	ret = queue(&tmp);
	free(tmp.resp.body);	/* NULL once MHD owns it */
	return ret;
}

struct head_size {
	size_t n;
};

static enum MHD_Result
add_kv(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct head_size *h = cls;

	(void)kind;
	h->n += strlen(key) + (value ? strlen(value) : 0) + 4;	/* "k: v\r\n", "k=v&" */
	return MHD_YES;
}

/* The request head's size as sent, near enough: request line, query and header fields. */
static size_t
head_size(struct MHD_Connection *conn, const char *method, const char *url)
{
	struct head_size h = { strlen(method) + strlen(url) + 12 };

	MHD_get_connection_values(conn, MHD_HEADER_KIND | MHD_GET_ARGUMENT_KIND, add_kv, &h);
	return h.n;
}

/*
 * Connections: MHD admits HTTP_SPARE_CONNS more than --max-conns, so that a connection over the
 * limit is told why (503 and closed, see conn_guard.h) rather than left waiting unanswered; past
 * the spares MHD stops accepting and new connections wait in the kernel's listen backlog.
 */
#define HTTP_SPARE_CONNS 16u

/*
 * Percent-decode in place, as MHD's default does, except that an encoded NUL (%00) becomes
 * 0x01: a C string cannot carry NUL, and silently truncating "a%00b" to "a" would address a
 * different object. 0x01 is a control character, which no route or object id accepts.
 */
static size_t
unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	char *r = s, *w = s;

	(void)cls;
	(void)conn;
	while (*r) {
		if (r[0] == '%' && isxdigit((unsigned char)r[1]) && isxdigit((unsigned char)r[2])) {
			char hex[3] = { r[1], r[2], 0 };
			unsigned long v = strtoul(hex, NULL, 16);

			*w++ = v ? (char)v : '\x01';
			r += 3;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
	return (size_t)(w - s);
}

static void
on_done(void *arg, struct api_resp *resp)
{
	struct req_ctx *rc = arg;
	struct http_server *srv = rc->srv;
	struct MHD_Connection *conn = rc->conn;

	/*
	 * The mutex orders us after on_request() has suspended the connection. Once resumed, an
	 * MHD thread may answer and free @rc at any moment, so @rc is not touched after the
	 * resume; @srv stays valid until pending drops to zero (http_stop waits for that).
	 */
	pthread_mutex_lock(&rc->mu);
	rc->resp = *resp;
	rc->state = RS_DONE;
	pthread_mutex_unlock(&rc->mu);
	MHD_resume_connection(conn);
	atomic_fetch_sub(&srv->pending, 1);
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
	   const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	struct http_server *srv = cls;
	struct req_ctx *rc = *con_cls;
	struct api_req rq;
	enum MHD_Result ret;
	bool now;

	(void)version;
	if (!rc) {
		struct cg_conn *cg = cg_of(conn);
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
							     MHD_HTTP_HEADER_CONTENT_LENGTH);
		unsigned long long declared;
		char *end;

		cg_head_done(cg, cg_now_ns());	/* the body is due within --conn-timeout */

		/* A body declared larger than the cap is refused before it is read. */
		if (cl) {
			declared = strtoull(cl, &end, 10);
			if (*end == '\0' && declared > srv->cfg.max_body) {
				struct req_ctx tmp = { 0 };

				tmp.conn = conn;
				tmp.resp.status = 413;
				tmp.resp.body = too_big_body(&tmp.resp.len);
				tmp.resp.content_type = "application/json";
				ret = queue(&tmp);
				free(tmp.resp.body);	/* NULL once MHD owns it */
				return ret;
			}
		}
		if (atomic_load(&srv->stopping))
			return refuse(conn, VPN_E_STORE, "vpnd is shutting down");
		if (cg_over_limit(cg))
			return refuse(conn, VPN_E_STORE,
				      "Too many connections: vpnd serves at most --max-conns at once; "
				      "retry when one closes");
		if (head_size(conn, method, url) > srv->cfg.max_header)
			return refuse(conn, VPN_E_HEADER_TOO_BIG,
				      "The request line and header fields are larger than the server "
				      "accepts");
		rc = calloc(1, sizeof(*rc));
		if (!rc)
			return MHD_NO;
		atomic_fetch_add(&srv->inflight, 1);
		rc->srv = srv;
		rc->conn = conn;
		rc->method = method;
		rc->url = url;
		rc->cg = cg;
		clock_gettime(CLOCK_MONOTONIC, &rc->start);
		pthread_mutex_init(&rc->mu, NULL);
		buf_init(&rc->body, srv->cfg.max_body);
		*con_cls = rc;
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!rc->too_big && buf_add(&rc->body, upload_data, *upload_data_size))
			rc->too_big = true;
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (rc->state == RS_DONE)
		return queue(rc);
	if (rc->state == RS_PENDING)
		return MHD_YES;

	memset(&rq, 0, sizeof(rq));
	rq.method = parse_method(method);
	rq.method_name = method;
	rq.url = url;
	rq.query = query_get;
	rq.header = header_get;
	rq.tls = srv->cfg.tls_cert_pem != NULL;
	{
		const union MHD_ConnectionInfo *ci =
			MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);

		rq.peer = ci ? ci->client_addr : NULL;
	}
	rq.qctx = conn;
	rq.body = rc->body.p ? rc->body.p : "";
	rq.body_len = rc->body.len;
	rq.body_too_big = rc->too_big;
	cg_busy(rc->cg);
	pthread_mutex_lock(&rc->mu);
	atomic_fetch_add(&srv->pending, 1);
	now = api_handle(srv->api, &rq, &rc->resp, on_done, rc);
	if (now) {
		atomic_fetch_sub(&srv->pending, 1);
		rc->state = RS_DONE;
		pthread_mutex_unlock(&rc->mu);
		return queue(rc);
	}
	if (rc->state != RS_DONE) {
		rc->state = RS_PENDING;
		MHD_suspend_connection(conn);
	}
	pthread_mutex_unlock(&rc->mu);
	return MHD_YES;
}

static void
on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
	     enum MHD_RequestTerminationCode toe)
{
	struct req_ctx *rc = *con_cls;

	(void)cls;
	(void)toe;
	cg_idle(cg_of(conn), cg_now_ns());	/* the next request's head is due */
	if (!rc)
		return;
	atomic_fetch_sub(&rc->srv->inflight, 1);
	buf_release(&rc->body);
	free(rc->resp.body);
	pthread_mutex_destroy(&rc->mu);
	free(rc);
	*con_cls = NULL;
}

static bool
parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sl)
{
	char host[128];
	const char *colon;
	char *end;
	long port;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');

		if (!rb || rb[1] != ':')
			return false;
		hl = (size_t)(rb - s - 1);
		colon = rb + 1;
		if (hl >= sizeof(host))
			return false;
		memcpy(host, s + 1, hl);
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return false;
		hl = (size_t)(colon - s);
		if (hl >= sizeof(host))
			return false;
		memcpy(host, s, hl);
	}
	host[hl] = '\0';
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535 || colon[1] == '\0')
		return false;
	if (!hl || !strcmp(host, "*"))
		snprintf(host, sizeof(host), "0.0.0.0");
	if (strchr(host, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1)
			return false;
		*sl = sizeof(*a);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
			return false;
		*sl = sizeof(*a);
	}
	return true;
}

#define HTTP_POOL_SLACK ((size_t)32 * 1024)

/* TLS 1.2 and 1.3 only; GnuTLS's NORMAL set otherwise (see docs/tls.md). */
#define HTTP_TLS_PRIORITIES "NORMAL:-VERS-TLS1.0:-VERS-TLS1.1:-VERS-SSL3.0"

static void
mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	log_debug("http: %s", msg);
}

enum vpn_err
http_start(struct http_server **out, struct api *a, const struct http_config *cfg,
	   struct vpn_error *err)
{
	struct http_server *s;
	struct sockaddr_storage ss;
	socklen_t sl = 0;
	unsigned threads = cfg->threads;
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME |
			 MHD_USE_ERROR_LOG;
	const union MHD_DaemonInfo *info;
	bool tls = cfg->tls_cert_pem && cfg->tls_key_pem;
	/* MHD keeps pointers to the PEM texts: they outlive the daemon (the caller owns them) */
	struct MHD_OptionItem tls_opts[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)cfg->tls_cert_pem },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)cfg->tls_key_pem },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)HTTP_TLS_PRIORITIES },
		{ MHD_OPTION_END, 0, NULL },
	};
	struct MHD_OptionItem no_opts[] = { { MHD_OPTION_END, 0, NULL } };

	*out = NULL;
	if (!parse_listen(cfg->listen, &ss, &sl))
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "invalid --listen %s: expected ADDR:PORT or [V6ADDR]:PORT",
				     cfg->listen);
	if (tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return vpn_error_set(err, VPN_E_UNSUPPORTED, 0,
				     "this libmicrohttpd was built without TLS support: cannot serve "
				     "HTTPS (--tls-cert/--tls-key)");
	if (tls)
		flags |= MHD_USE_TLS;
	s = calloc(1, sizeof(*s));
	if (!s)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	s->api = a;
	s->cfg = *cfg;
	s->guard = cg_new(cfg->max_conns, cfg->conn_timeout);
	if (!s->guard) {
		free(s);
		return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	}
	if (!threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);

		threads = n > 0 ? (unsigned)n : 1;
	}
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
				MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_THREAD_POOL_SIZE, threads,
				MHD_OPTION_CONNECTION_TIMEOUT, cfg->conn_timeout,
				MHD_OPTION_CONNECTION_LIMIT, cfg->max_conns + HTTP_SPARE_CONNS,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->max_conns_per_ip,
				MHD_OPTION_NOTIFY_CONNECTION, cg_notify, s->guard,
				/* the head must fit MHD's per-connection pool with room to spare, so that
				 * heads over --max-header get our 431; far larger ones get MHD's */
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->max_header + HTTP_POOL_SLACK,
				MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				MHD_OPTION_UNESCAPE_CALLBACK, unescape, s,
				MHD_OPTION_ARRAY, tls ? tls_opts : no_opts,
				MHD_OPTION_END);
	if (!s->d) {
		cg_free(s->guard);
		free(s);
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "cannot listen on %s%s", cfg->listen,
				     tls ? " with TLS (--log-level debug shows why)" : "");
	}
	info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	*out = s;
	return VPN_OK;
}

unsigned
http_port(const struct http_server *s)
{
	return s->port;
}

void
http_stop(struct http_server *s)
{
	MHD_socket lfd;
	int i;

	if (!s)
		return;
	/*
	 * Stop taking requests (new connections are refused, new requests on open connections get
	 * 503), then let every request already begun finish - writes included, which need the
	 * store - so that nothing is answered after the model and store are gone. MHD must not be
	 * stopped while a connection is suspended: if the store never answers, leave it running
	 * (the process is exiting anyway).
	 */
	atomic_store(&s->stopping, true);
	lfd = MHD_quiesce_daemon(s->d);
	for (i = 0; i < 3000 && atomic_load(&s->inflight); i++) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };

		nanosleep(&ts, NULL);
	}
	if (atomic_load(&s->pending) || atomic_load(&s->inflight)) {
		/* MHD may not be stopped with suspended connections, and requests still running
		 * would reach freed state: leave now, without cleanup (writes not yet answered were
		 * not acknowledged, so nothing a client was told is lost) */
		log_error("http: %u requests still running after 30 s; exiting without cleanup",
			  atomic_load(&s->inflight));
		_exit(1);
	}
	MHD_stop_daemon(s->d);
	cg_free(s->guard);
	if (lfd != MHD_INVALID_SOCKET)
		close(lfd);
	free(s);
}
