/*
 * api.h - the NSX Policy API: one const route table, URL normalisation and the handlers that
 * turn requests into model reads and writes. Knows nothing about sockets: http/ hands it a
 * struct api_req and gets back a struct api_resp, now or later (writes answer once durable).
 */
#ifndef VPND_API_H
#define VPND_API_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

struct model;
struct api;
struct sockaddr;

enum api_method {
	API_GET = 1 << 0,
	API_PUT = 1 << 1,
	API_PATCH = 1 << 2,
	API_DELETE = 1 << 3,
	API_POST = 1 << 4,
	API_HEAD = 1 << 5,
	API_OTHER = 1 << 6,
};

struct api_req {
	enum api_method method;
	const char *method_name;	/* as sent, for messages */
	const char *url;		/* decoded path, without the query string */
	/* query parameter and header accessors: value or NULL (headers case-insensitive) */
	const char *(*query)(void *qctx, const char *key);
	const char *(*header)(void *qctx, const char *name);
	void *qctx;
	bool tls;			/* the request arrived over TLS */
	const struct sockaddr *peer;	/* the client's address, or NULL */
	const char *body;
	size_t body_len;
	bool body_too_big;
};

struct api_resp {
	int status;
	char *body;			/* heap; owned by the receiver */
	size_t len;
	const char *content_type;	/* static string */
	const char *allow;		/* static string for 405, or NULL */
	unsigned retry_after;		/* seconds for a Retry-After header (429); 0 = none */
	bool close;			/* close the connection after this response */
};

/* Called once with the response of a request answered later. Runs on another thread. */
typedef void (*api_done_cb)(void *arg, struct api_resp *resp);

struct auth;
struct rz;

struct api_config {
	size_t max_body;		/* bytes; larger bodies get 413 */
	const char *org_id;		/* the one org and SDDC this server is */
	const char *sddc_id;
	const char *sddc_name;
	const char *public_url;		/* base URL clients reach us at; NULL = from Host */
	bool emulator;			/* serve /emulator/api/v1 (admin only) */
	bool real_mode;			/* real backend: emulator peers/traffic answer 400 */
	/* request-rate limits (see docs/api.md); rate 0 = off, burst 0 = one second's worth */
	unsigned rate_limit;		/* per token (its name), requests/s */
	unsigned rate_burst;
	unsigned auth_rate_limit;	/* token exchange, per client address, requests/s */
	unsigned auth_rate_burst;
};

enum vpn_err api_new(struct api **out, struct model *m, struct auth *auth, struct rz *rz,
		     const struct api_config *cfg);
void api_free(struct api *a);

/*
 * Handle @rq. Returns true when @out holds the response now; false when the response will be
 * delivered to @cb(@arg, ...) later (exactly once).
 */
bool api_handle(struct api *a, const struct api_req *rq, struct api_resp *out, api_done_cb cb,
		void *arg);

/* Route table introspection, for tests that must cover every route. */
struct api_route_info {
	const char *prefix;		/* "/policy/api/v1" for policy routes, "" for top-level */
	const char *pattern;		/* relative to prefix; "{x}" is one segment */
	unsigned methods;		/* enum api_method bits */
	bool writes;			/* at least one method changes state */
	bool needs_token;
	bool admin_only;		/* even reads need the admin role */
	bool post_reads;		/* POST here only reads (CSV export): not a write */
};
size_t api_route_count(void);
const struct api_route_info *api_route_at(size_t i);

#endif
