/*
 * Integration test for src/realize/vici.c against a real, private strongSwan charon, started as
 * the realization recipe does (../shared/docs/realization/strongswan-bird-netns.md): its own
 * directory bind-mounted on /run in a private mount namespace (charon's pid file is fixed), its
 * own STRONGSWAN_CONF with the VICI socket in that directory, and here also its own empty network
 * namespace (port = 0 anyway), so nothing touches the host's IKE ports or routes.
 *
 * Config-only calls: load-shared, load-conn, list-conns, list-sas, initiate errors, unload-*.
 * Skips (with the reason) without root, without charon or when unshare cannot create the
 * namespaces. charon is killed by PID on every path (and gets SIGKILL via PR_SET_PDEATHSIG if
 * this process dies); the whole run is bounded by alarm().
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "realize/vici.h"

#define CHARON_HARNESS_DIR "/tmp/vpnd-charon-XXXXXX"
#include "charon_harness.h"

static int
write_conf(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	fprintf(f,
		"charon {\n"
		"\tload_modular = no\n"
		"\tload = random nonce openssl aes sha1 sha2 hmac gcm kdf pem pkcs1 x509 pubkey "
		"kernel-netlink socket-default vici\n"
		"\tport = 0\n"
		"\tport_nat_t = 0\n"
		"\tinstall_routes = no\n"
		"\tfilelog {\n\t\ttest {\n\t\t\tpath = %s/charon.log\n\t\t\tdefault = 1\n"
		"\t\t\tflush_line = yes\n\t\t}\n\t}\n"
		"\tsyslog {\n\t}\n"
		"\tplugins {\n\t\tvici {\n\t\t\tsocket = unix://%s\n\t\t}\n\t}\n"
		"}\n",
		G.dir, G.sock);
	return fclose(f);
}

static void
test_version(void **state)
{
	struct vici_conn *c = conn_or_skip();
	struct vici_msg *resp = NULL;
	struct vpn_error e;

	(void)state;
	vpn_error_clear(&e);
	assert_int_equal(vici_request(c, "version", NULL, &resp, TMO, &e), VPN_OK);
	assert_string_equal(vici_get(resp, "daemon"), "charon");
	assert_non_null(vici_get(resp, "version"));
	fprintf(stderr, "charon version %s\n", vici_get(resp, "version"));
	vici_msg_free(resp);
	assert_int_equal(vici_request(c, "no-such-command", NULL, &resp, TMO, &e),
			 VPN_E_UNSUPPORTED);
	vici_close(c);
}

struct seen {
	int n;
	bool has_conn, has_child, local_ok, remote_ts_ok;
};

static enum vpn_err
on_conn(void *arg, const char *event, const struct vici_msg *msg)
{
	struct seen *s = arg;
	const struct vici_node *ike = vici_find(msg, "vpnd-t1"), *n;

	assert_string_equal(event, "list-conn");
	s->n++;
	if (!ike)
		return VPN_OK;
	s->has_conn = true;
	s->has_child = vici_node_child(vici_node_child(ike, "children"), "t1-policy") != NULL;
	n = vici_node_first(vici_node_child(ike, "local_addrs"));
	s->local_ok = n && !strcmp(vici_node_value(n, NULL), "198.18.0.1");
	n = vici_find(msg, "vpnd-t1.children.t1-policy.remote-ts");
	n = vici_node_first(n);
	s->remote_ts_ok = n && !strcmp(vici_node_value(n, NULL), "10.92.0.0/24");
	return VPN_OK;
}

static enum vpn_err
on_sa(void *arg, const char *event, const struct vici_msg *msg)
{
	(void)msg;
	(void)event;
	(*(int *)arg)++;
	return VPN_OK;
}

/* get-shared lists the ids of loaded shared keys; true if @id is among them. */
static bool
shared_has(struct vici_conn *c, const char *id)
{
	struct vici_msg *resp = NULL;
	const struct vici_node *n;
	bool found = false;

	assert_int_equal(vici_request(c, "get-shared", NULL, &resp, TMO, NULL), VPN_OK);
	for (n = vici_node_first(vici_find(resp, "keys")); n; n = vici_node_next(n))
		if (!strcmp(vici_node_value(n, NULL), id))
			found = true;
	vici_msg_free(resp);
	return found;
}

static void
test_load_list_unload(void **state)
{
	static const char *const l[] = { "198.18.0.1" }, *const r[] = { "198.18.0.2" };
	static const char *const props[] = { "aes128gcm16-prfsha256-ecp521",
					     "aes256-sha256-modp2048" };
	static const char *const esp[] = { "aes128gcm16-ecp521" };
	static const char *const lts[] = { "10.91.0.0/24" }, *const rts[] = { "10.92.0.0/24" };
	static const char *const owners[] = { "198.18.0.1", "198.18.0.2" };
	static const char *const bad_props[] = { "no-such-algorithm" };
	struct vici_child_cfg ch = {
		.name = "t1-policy", .local_ts = lts, .nlocal_ts = 1, .remote_ts = rts,
		.nremote_ts = 1, .esp_proposals = esp, .nesp_proposals = 1, .mode = "tunnel",
		.start_action = "none", .dpd_action = "restart", .rekey_time_s = 3600,
		.life_time_s = 3960,
	};
	struct vici_conn_cfg cfg = {
		.name = "vpnd-t1", .version = 2, .local_addrs = l, .nlocal_addrs = 1,
		.remote_addrs = r, .nremote_addrs = 1, .local_id = "198.18.0.1",
		.remote_id = "198.18.0.2", .proposals = props, .nproposals = 2, .encap = true,
		.dpd_delay_s = 10, .dpd_timeout_s = 30, .rekey_time_s = 28800, .children = &ch,
		.nchildren = 1,
	};
	struct vici_conn *c = conn_or_skip();
	struct seen s = { 0 };
	struct vpn_error e;
	int nsa = 0;

	(void)state;
	vpn_error_clear(&e);
	assert_int_equal(vici_load_shared(c, "ike-vpnd-t1", "not-a-real-psk-0123", 19, owners, 2,
					  TMO, &e), VPN_OK);
	assert_true(shared_has(c, "ike-vpnd-t1"));
	if (vici_load_conn(c, &cfg, TMO, &e))
		fail_msg("load-conn: %s", e.msg);

	assert_int_equal(vici_list_conns(c, NULL, on_conn, &s, TMO, &e), VPN_OK);
	assert_int_equal(s.n, 1);
	assert_true(s.has_conn);
	assert_true(s.has_child);
	assert_true(s.local_ok);
	assert_true(s.remote_ts_ok);

	/* no SAs: list-sas streams nothing and completes */
	assert_int_equal(vici_list_sas(c, NULL, on_sa, &nsa, TMO, &e), VPN_OK);
	assert_int_equal(nsa, 0);

	/* charon's refusals come back as VPN_E_INVALID with its errmsg */
	vpn_error_clear(&e);
	assert_int_equal(vici_initiate(c, "no-such-child", NULL, -1, TMO, &e), VPN_E_INVALID);
	fprintf(stderr, "initiate refused: %s\n", e.msg);
	assert_non_null(strstr(e.msg, "initiate: "));
	cfg.name = "vpnd-bad";
	cfg.proposals = bad_props;
	cfg.nproposals = 1;
	vpn_error_clear(&e);
	assert_int_equal(vici_load_conn(c, &cfg, TMO, &e), VPN_E_INVALID);
	fprintf(stderr, "load-conn refused: %s\n", e.msg);
	assert_non_null(strstr(e.msg, "load-conn: "));
	assert_false(vici_conn_broken(c));

	assert_int_equal(vici_unload_conn(c, "vpnd-t1", TMO, &e), VPN_OK);
	memset(&s, 0, sizeof(s));
	assert_int_equal(vici_list_conns(c, NULL, on_conn, &s, TMO, &e), VPN_OK);
	assert_int_equal(s.n, 0);
	vpn_error_clear(&e);
	assert_int_equal(vici_unload_conn(c, "vpnd-t1", TMO, &e), VPN_E_INVALID);
	fprintf(stderr, "unload-conn refused: %s\n", e.msg);

	assert_int_equal(vici_unload_shared(c, "ike-vpnd-t1", TMO, &e), VPN_OK);
	assert_false(shared_has(c, "ike-vpnd-t1"));
	vici_close(c);
}

static void
test_events(void **state)
{
	struct vici_conn *c = conn_or_skip();
	struct vici_msg *msg = NULL;
	struct vpn_error e;
	char *name = NULL;

	(void)state;
	vpn_error_clear(&e);
	assert_int_equal(vici_register(c, "ike-updown", TMO, &e), VPN_OK);
	assert_int_equal(vici_register(c, "child-updown", TMO, &e), VPN_OK);
	assert_int_equal(vici_read_event(c, &name, &msg, 100, &e), VPN_E_NOT_FOUND);
	assert_false(vici_conn_broken(c));
	assert_int_equal(vici_register(c, "no-such-event", TMO, &e), VPN_E_UNSUPPORTED);
	assert_int_equal(vici_unregister(c, "ike-updown", TMO, &e), VPN_OK);
	vici_close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_load_list_unload),
		cmocka_unit_test(test_events),
	};

	alarm(19);	/* bound: charon still dies with us (PR_SET_PDEATHSIG) */
	return cmocka_run_group_tests_name("vici against a private charon", tests, charon_start,
					   charon_stop) ? 1 : 0;
}
