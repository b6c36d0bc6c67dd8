/*
 * server.h - the HTTP front end (libmicrohttpd, epoll, a thread pool). It reads requests into
 * capped buffers, hands them to api/, and queues the response on a later access-handler call
 * (never the first, which would break keep-alive). Writes that answer once durable suspend the
 * connection and resume it from the store's writer thread.
 */
#ifndef VPND_SERVER_H
#define VPND_SERVER_H

#include <stddef.h>

#include "core/err.h"

struct api;
struct http_server;

struct http_config {
	const char *listen;		/* "ADDR:PORT" or "[V6]:PORT" */
	unsigned threads;		/* 0 = number of CPUs */
	size_t max_body;		/* request body cap, bytes */
	unsigned conn_timeout;		/* seconds of inactivity before a connection is closed */
	unsigned max_conns;		/* more get 503 and are closed (see docs/http.md) */
	unsigned max_conns_per_ip;	/* 0 = no per-address limit; more are closed at once */
	size_t max_header;		/* request line + header fields cap, bytes (431 past it) */
	const char *tls_cert_pem;	/* PEM text; both set = serve HTTPS (GnuTLS), else HTTP */
	const char *tls_key_pem;
};

enum vpn_err http_start(struct http_server **out, struct api *a, const struct http_config *cfg,
			struct vpn_error *err);
/* The port actually bound (useful with port 0). */
unsigned http_port(const struct http_server *s);
/* Stop accepting, finish in-flight requests, free. NULL-safe. */
void http_stop(struct http_server *s);

#endif
