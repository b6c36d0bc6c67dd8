#include "core/err.h"

#include "core/util.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const struct {
	const char *name;
	int http;
	int nsx_code;
	const char *module;		/* module_name; NULL = "Policy" */
} err_table[VPN_E__LAST] = {
	[VPN_OK] = { "OK", 200, 0 },
	[VPN_E_NOMEM] = { "NOMEM", 500, NSX_EC_INTERNAL },
	[VPN_E_INVALID] = { "INVALID", 400, NSX_EC_INVALID },
	[VPN_E_BAD_JSON] = { "BAD_JSON", 400, NSX_EC_DESERIALIZE },
	[VPN_E_TOO_BIG] = { "TOO_BIG", 413, NSX_EC_TOO_BIG },
	[VPN_E_NOT_FOUND] = { "NOT_FOUND", 404, NSX_EC_GENERIC_NOT_FOUND },
	[VPN_E_METHOD] = { "METHOD", 405, NSX_EC_METHOD },
	[VPN_E_CONFLICT] = { "CONFLICT", 412, NSX_EC_STALE_REVISION },
	[VPN_E_IN_USE] = { "IN_USE", 400, NSX_EC_IN_USE },
	[VPN_E_FORBIDDEN] = { "FORBIDDEN", 403, NSX_EC_UNAUTH },
	[VPN_E_UNAUTH] = { "UNAUTH", 401, NSX_EC_UNAUTH },
	[VPN_E_STORE] = { "STORE", 503, NSX_EC_STORE },
	[VPN_E_INTERNAL] = { "INTERNAL", 500, NSX_EC_INTERNAL },
	[VPN_E_UNSUPPORTED] = { "UNSUPPORTED", 400, NSX_EC_INVALID },
	/* NSX's own 429 comes from its HTTP service: module_name "common-services" */
	[VPN_E_RATE] = { "RATE", 429, NSX_EC_RATE, "common-services" },
	[VPN_E_HEADER_TOO_BIG] = { "HEADER_TOO_BIG", 431, NSX_EC_HEADER_TOO_BIG, "common-services" },
};

void
vpn_error_clear(struct vpn_error *e)
{
	if (!e)
		return;
	e->code = VPN_OK;
	e->error_code = 0;
	e->msg[0] = '\0';
	e->nrelated = 0;
	e->ndropped = 0;
}

enum vpn_err
vpn_error_set(struct vpn_error *e, enum vpn_err code, int nsx_code, const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return code;
	e->code = code;
	e->error_code = nsx_code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

void
vpn_error_add(struct vpn_error *e, enum vpn_err code, int nsx_code, const char *fmt, ...)
{
	struct vpn_related_error *r;
	va_list ap;

	if (!e)
		return;
	if (e->nrelated >= VPN_ERR_RELATED_MAX) {
		e->ndropped++;
		return;
	}
	r = &e->related[e->nrelated++];
	r->error_code = nsx_code ? nsx_code : err_table[code < VPN_E__LAST ? code : VPN_E_INTERNAL].nsx_code;
	va_start(ap, fmt);
	vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	if (e->code == VPN_OK) {
		e->code = code;
		e->error_code = r->error_code;
		memcpy(e->msg, r->msg, sizeof(e->msg));
	}
}

int
vpn_error_nsx_code(const struct vpn_error *e)
{
	enum vpn_err code = e->code == VPN_OK || (unsigned)e->code >= VPN_E__LAST ? VPN_E_INTERNAL
										   : e->code;

	return e->error_code ? e->error_code : err_table[code].nsx_code;
}

int
vpn_err_http_status(enum vpn_err code)
{
	if ((unsigned)code >= VPN_E__LAST)
		return 500;
	return err_table[code].http;
}

const char *
vpn_err_name(enum vpn_err code)
{
	if ((unsigned)code >= VPN_E__LAST)
		return "UNKNOWN";
	return err_table[code].name;
}

const char *
vpn_http_status_name(int status)
{
	switch (status) {
	case 200: return "OK";
	case 400: return "BAD_REQUEST";
	case 401: return "UNAUTHORIZED";
	case 403: return "FORBIDDEN";
	case 404: return "NOT_FOUND";
	case 405: return "METHOD_NOT_ALLOWED";
	case 409: return "CONFLICT";
	case 412: return "PRECONDITION_FAILED";
	case 413: return "PAYLOAD_TOO_LARGE";
	case 429: return "TOO_MANY_REQUESTS";
	case 431: return "REQUEST_HEADER_FIELDS_TOO_LARGE";
	case 500: return "INTERNAL_SERVER_ERROR";
	case 503: return "SERVICE_UNAVAILABLE";
	default: return "ERROR";
	}
}

/*
 * A JSON string of @msg with every byte sequence that is not UTF-8 replaced by '?': messages
 * are cut by bytes (a character may be split) and may quote client input (a decoded URL).
 */
static json_t *
json_msg(const char *msg)
{
	char clean[VPN_ERR_MSG_MAX];
	size_t n = strnlen(msg, sizeof(clean) - 1), i = 0, o = 0;

	while (i < n) {
		unsigned char c = (unsigned char)msg[i];
		size_t len = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 :
			     (c & 0xf8) == 0xf0 ? 4 : 0;

		if (len && i + len <= n && util_utf8_valid(msg + i, len) && (c >= 0x20 || c == '\t')) {
			memcpy(clean + o, msg + i, len);
			o += len;
			i += len;
		} else {
			clean[o++] = '?';
			i++;
		}
	}
	clean[o] = '\0';
	return json_string(clean);
}

char *
vpn_error_json(const struct vpn_error *e, size_t *len)
{
	json_t *o = NULL, *rel = NULL;
	char *out = NULL;
	enum vpn_err code = e->code == VPN_OK ? VPN_E_INTERNAL : e->code;
	int status = vpn_err_http_status(code);
	const char *name = vpn_http_status_name(status);
	int ec = e->error_code ? e->error_code : err_table[code < VPN_E__LAST ? code : VPN_E_INTERNAL].nsx_code;
	const char *module = err_table[code < VPN_E__LAST ? code : VPN_E_INTERNAL].module;
	unsigned i;

	o = json_object();
	if (!o)
		goto out;
	json_object_set_new(o, "httpStatus", json_string(name));
	json_object_set_new(o, "error_code", json_integer(ec));
	json_object_set_new(o, "module_name", json_string(module ? module : "Policy"));
	json_object_set_new(o, "error_message", json_msg(e->msg[0] ? e->msg : vpn_err_name(code)));
	if (e->nrelated) {
		rel = json_array();
		if (!rel)
			goto out;
		for (i = 0; i < e->nrelated; i++) {
			json_t *r = json_object();
			if (!r)
				goto out;
			json_object_set_new(r, "httpStatus", json_string(name));
			json_object_set_new(r, "error_code", json_integer(e->related[i].error_code));
			json_object_set_new(r, "module_name", json_string("Policy"));
			json_object_set_new(r, "error_message", json_msg(e->related[i].msg));
			json_array_append_new(rel, r);
		}
		if (e->ndropped) {
			json_t *r = json_object();
			if (!r)
				goto out;
			json_object_set_new(r, "httpStatus", json_string(name));
			json_object_set_new(r, "error_code", json_integer(ec));
			json_object_set_new(r, "module_name", json_string("Policy"));
			json_object_set_new(r, "error_message",
					    json_sprintf("%u further errors not listed", e->ndropped));
			json_array_append_new(rel, r);
		}
		json_object_set_new(o, "related_errors", rel);
		rel = NULL;
	}
	out = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
	if (out && len)
		*len = strlen(out);
out:
	json_decref(rel);
	json_decref(o);
	return out;
}
