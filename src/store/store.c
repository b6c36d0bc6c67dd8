/*
 * store.c - the backend factory and the backend-independent helpers of store.h.
 */
#include "store/store.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "store/store_sqlite.h"

/* Compiled-in backends, tried in order (strongSwan's database_factory). */
static const struct store_ops *const backends[] = {
	&store_sqlite_ops,
};

#define NBACKENDS (sizeof(backends) / sizeof(backends[0]))

/*
 * Copy the scheme of @uri (the part before ':') into @out for messages. Only the scheme: the rest
 * of a URI may carry credentials ("postgresql://user:password@host/db").
 */
static void
uri_scheme(const char *uri, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; uri[i] && uri[i] != ':' && i + 1 < outlen; i++) {
		unsigned char c = (unsigned char)uri[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '+' || c == '-' || c == '.'))
			break;
		out[i] = (char)c;
	}
	if (uri[i] != ':' || i == 0) {
		snprintf(out, outlen, "(none)");
		return;
	}
	out[i] = '\0';
}

enum vpn_err
store_open(struct store **out, const char *uri, struct vpn_error *err)
{
	char scheme[32], names[128];
	size_t i, len = 0;
	enum vpn_err rc;

	if (!out)
		return vpn_error_set(err, VPN_E_INVALID, 0, "store: no output pointer");
	*out = NULL;
	if (!uri)
		return vpn_error_set(err, VPN_E_INVALID, 0, "store: no URI");
	for (i = 0; i < NBACKENDS; i++) {
		rc = backends[i]->open(out, uri, err);
		if (rc != VPN_E_UNSUPPORTED)
			return rc;
		*out = NULL;
	}
	names[0] = '\0';
	for (i = 0; i < NBACKENDS && len < sizeof(names); i++) {
		int w = snprintf(names + len, sizeof(names) - len, "%s%s", i ? ", " : "",
				 backends[i]->name);

		if (w < 0)
			break;
		len += (size_t)w;
	}
	uri_scheme(uri, scheme, sizeof(scheme));
	return vpn_error_set(err, VPN_E_UNSUPPORTED, 0,
			     "store: no backend for URI scheme \"%s\" (compiled in: %s)", scheme,
			     names);
}

void
store_close(struct store *st)
{
	if (!st)
		return;
	st->ops->close(st);
}

void
store_waiter_init(struct store_waiter *w)
{
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->cv, NULL);
	w->done = false;
	w->rc = VPN_OK;
}

/* Runs on the writer thread. Signals under the lock so the waiter cannot free @arg under us. */
void
store_waiter_done(void *arg, enum vpn_err rc)
{
	struct store_waiter *w = arg;

	pthread_mutex_lock(&w->mu);
	w->rc = rc;
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

enum vpn_err
store_waiter_wait(struct store_waiter *w)
{
	enum vpn_err rc;

	pthread_mutex_lock(&w->mu);
	while (!w->done)
		pthread_cond_wait(&w->cv, &w->mu);
	rc = w->rc;
	pthread_mutex_unlock(&w->mu);
	return rc;
}

void
store_waiter_release(struct store_waiter *w)
{
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
}

enum vpn_err
store_submit_sync(struct store *st, const struct store_change *ch, size_t n,
		  struct vpn_error *err)
{
	struct store_waiter w;
	enum vpn_err rc;

	if (!st)
		return vpn_error_set(err, VPN_E_INVALID, 0, "store: no store");
	store_waiter_init(&w);
	rc = store_submit(st, ch, n, store_waiter_done, &w);
	if (rc) {
		vpn_error_set(err, rc, 0, "store: %s backend refused the change set (%s)",
			      st->ops->name, vpn_err_name(rc));
		goto out;
	}
	rc = store_waiter_wait(&w);
	if (rc)
		vpn_error_set(err, rc, 0,
			      "store: the change set was not committed (%s backend; see the log)",
			      st->ops->name);
out:
	store_waiter_release(&w);
	return rc;
}
