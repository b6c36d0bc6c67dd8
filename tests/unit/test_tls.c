/* Unit tests for src/tls: certificate generation, PEM loading, loopback detection. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/err.h"
#include "tls/cert.h"

struct fx {
	char dir[64];
	char cert[128];
	char key[128];
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/tmp/vpnd-test-tls-XXXXXX");
	if (!mkdtemp(f->dir)) {
		free(f);
		return -1;
	}
	snprintf(f->cert, sizeof(f->cert), "%s/cert.pem", f->dir);
	snprintf(f->key, sizeof(f->key), "%s/key.pem", f->dir);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	struct dirent *de;
	char p[512];
	DIR *d;

	d = opendir(f->dir);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "%s/%s", f->dir, de->d_name);
		unlink(p);
	}
	if (d)
		closedir(d);
	rmdir(f->dir);
	free(f);
	return 0;
}

static void
write_text(const char *path, const char *text, size_t len)
{
	FILE *fp = fopen(path, "w");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static char *
read_text(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *s;
	long n;

	assert_non_null(fp);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n > 0);
	rewind(fp);
	s = calloc(1, (size_t)n + 1);
	assert_non_null(s);
	assert_int_equal(fread(s, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	return s;
}

static unsigned
mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (unsigned)(st.st_mode & 07777);
}

static unsigned
dir_entries(const char *dir)
{
	struct dirent *de;
	unsigned n = 0;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static gnutls_x509_crt_t
import_crt(const char *pem)
{
	gnutls_x509_crt_t crt;
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned)strlen(pem) };

	assert_int_equal(gnutls_x509_crt_init(&crt), 0);
	assert_int_equal(gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_PEM), 0);
	return crt;
}

static const char *const default_names[] = { "localhost", "127.0.0.1", "::1" };

static void
test_generate_and_load(void **state)
{
	struct fx *f = *state;
	struct vpn_error e;
	char *cert = NULL, *key = NULL;
	mode_t old;

	vpn_error_clear(&e);
	/* the modes are exact whatever the umask */
	old = umask(077);
	assert_int_equal(tls_cert_generate(f->cert, f->key, default_names, 3, 30, false, &e),
			 VPN_OK);
	umask(old);
	assert_int_equal(mode_of(f->key), 0600);
	assert_int_equal(mode_of(f->cert), 0644);
	assert_int_equal(dir_entries(f->dir), 2);	/* no temporary files left */

	assert_int_equal(tls_load_pem(f->cert, TLS_PEM_CERT, &cert, &e), VPN_OK);
	assert_non_null(cert);
	assert_non_null(strstr(cert, "-----BEGIN CERTIFICATE-----"));
	assert_int_equal(tls_load_pem(f->key, TLS_PEM_KEY, &key, &e), VPN_OK);
	assert_non_null(strstr(key, "-----BEGIN PRIVATE KEY-----"));
	assert_int_equal(tls_check_pair(cert, key, &e), VPN_OK);
	tls_pem_free(cert);
	tls_pem_free(key);
	tls_pem_free(NULL);
}

static void
test_certificate_fields(void **state)
{
	struct fx *f = *state;
	struct vpn_error e;
	static const char *const names[] = { "vpnd.example.com", "10.1.2.3", "2001:db8::7",
					     "*.vpn.example.com" };
	unsigned char san[256], serial[32], ip4[4], ip6[16];
	char cn[256];
	size_t len;
	unsigned crit = 0, ca = 0, usage = 0, status = 1, seq;
	int type, pathlen;
	time_t now = time(NULL);
	gnutls_x509_crt_t crt;
	char *pem = NULL;
	bool server_auth = false;

	vpn_error_clear(&e);
	assert_int_equal(tls_cert_generate(f->cert, f->key, names, 4, 10, false, &e), VPN_OK);
	assert_int_equal(tls_load_pem(f->cert, TLS_PEM_CERT, &pem, &e), VPN_OK);
	crt = import_crt(pem);

	assert_int_equal(gnutls_x509_crt_get_version(crt), 3);
	len = sizeof(cn);
	assert_int_equal(gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, 0, cn,
						       &len), 0);
	assert_string_equal(cn, "vpnd.example.com");
	len = sizeof(serial);
	assert_int_equal(gnutls_x509_crt_get_serial(crt, serial, &len), 0);
	assert_int_equal(len, 16);
	assert_true(serial[0] < 0x80 && serial[0] != 0);
	assert_int_equal(gnutls_x509_crt_get_signature_algorithm(crt), GNUTLS_SIGN_ECDSA_SHA256);
	assert_int_equal(gnutls_x509_crt_get_pk_algorithm(crt, NULL), GNUTLS_PK_ECDSA);

	/* subjectAltName: every name, IP literals as IP addresses */
	assert_int_equal(inet_pton(AF_INET, "10.1.2.3", ip4), 1);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::7", ip6), 1);
	for (seq = 0;; seq++) {
		len = sizeof(san);
		type = gnutls_x509_crt_get_subject_alt_name(crt, seq, san, &len, &crit);
		if (type == GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE)
			break;
		assert_true(type >= 0);
		switch (seq) {
		case 0:
			assert_int_equal(type, GNUTLS_SAN_DNSNAME);
			assert_int_equal(len, strlen("vpnd.example.com"));
			assert_memory_equal(san, "vpnd.example.com", len);
			break;
		case 1:
			assert_int_equal(type, GNUTLS_SAN_IPADDRESS);
			assert_int_equal(len, 4);
			assert_memory_equal(san, ip4, 4);
			break;
		case 2:
			assert_int_equal(type, GNUTLS_SAN_IPADDRESS);
			assert_int_equal(len, 16);
			assert_memory_equal(san, ip6, 16);
			break;
		case 3:
			assert_int_equal(type, GNUTLS_SAN_DNSNAME);
			assert_memory_equal(san, "*.vpn.example.com", len);
			break;
		default:
			fail_msg("unexpected SAN #%u", seq);
		}
	}
	assert_int_equal(seq, 4);
	assert_true(gnutls_x509_crt_check_hostname(crt, "vpnd.example.com"));
	assert_true(gnutls_x509_crt_check_hostname(crt, "a.vpn.example.com"));
	assert_true(gnutls_x509_crt_check_hostname(crt, "10.1.2.3"));
	assert_false(gnutls_x509_crt_check_hostname(crt, "other.example.com"));

	/* CA:TRUE, digitalSignature+keyCertSign, serverAuth */
	assert_true(gnutls_x509_crt_get_basic_constraints(crt, &crit, &ca, &pathlen) >= 0);
	assert_true(ca);
	assert_true(crit);
	assert_int_equal(gnutls_x509_crt_get_key_usage(crt, &usage, &crit), 0);
	assert_int_equal(usage, GNUTLS_KEY_DIGITAL_SIGNATURE | GNUTLS_KEY_KEY_CERT_SIGN);
	for (seq = 0;; seq++) {
		char oid[128];

		len = sizeof(oid);
		if (gnutls_x509_crt_get_key_purpose_oid(crt, seq, oid, &len, &crit) < 0)
			break;
		if (!strcmp(oid, GNUTLS_KP_TLS_WWW_SERVER))
			server_auth = true;
	}
	assert_true(server_auth);

	/* validity: from an hour ago, for the requested days */
	assert_true(llabs((long long)(gnutls_x509_crt_get_activation_time(crt) - (now - 3600))) < 60);
	assert_true(llabs((long long)(gnutls_x509_crt_get_expiration_time(crt) -
				      (now + 10 * 86400))) < 60);

	/* self-signed and valid as its own trust anchor */
	assert_int_equal(gnutls_x509_crt_verify(crt, &crt, 1, 0, &status), 0);
	assert_int_equal(status, 0);

	gnutls_x509_crt_deinit(crt);
	tls_pem_free(pem);
}

static void
test_refuse_overwrite(void **state)
{
	struct fx *f = *state;
	struct vpn_error e;
	char *c1, *k1, *c2, *k2;

	vpn_error_clear(&e);
	assert_int_equal(tls_cert_generate(f->cert, f->key, default_names, 3, 1, false, &e),
			 VPN_OK);
	c1 = read_text(f->cert);
	k1 = read_text(f->key);
	assert_int_equal(tls_cert_generate(f->cert, f->key, default_names, 3, 1, false, &e),
			 VPN_E_CONFLICT);
	assert_non_null(strstr(e.msg, f->key));		/* the message names the file */
	c2 = read_text(f->cert);
	k2 = read_text(f->key);
	assert_string_equal(c1, c2);
	assert_string_equal(k1, k2);
	free(c2);
	free(k2);

	/* only the certificate present: still refused, and no key appears */
	assert_int_equal(unlink(f->key), 0);
	vpn_error_clear(&e);
	assert_int_equal(tls_cert_generate(f->cert, f->key, default_names, 3, 1, false, &e),
			 VPN_E_CONFLICT);
	assert_non_null(strstr(e.msg, f->cert));
	assert_int_equal(access(f->key, F_OK), -1);
	assert_int_equal(dir_entries(f->dir), 1);

	/* force: both replaced, modes kept exact */
	assert_int_equal(chmod(f->cert, 0600), 0);
	vpn_error_clear(&e);
	assert_int_equal(tls_cert_generate(f->cert, f->key, default_names, 3, 1, true, &e),
			 VPN_OK);
	c2 = read_text(f->cert);
	k2 = read_text(f->key);
	assert_string_not_equal(c1, c2);
	assert_string_not_equal(k1, k2);
	assert_int_equal(mode_of(f->cert), 0644);
	assert_int_equal(mode_of(f->key), 0600);
	assert_int_equal(dir_entries(f->dir), 2);
	free(c1);
	free(k1);
	free(c2);
	free(k2);
}

static void
test_bad_arguments(void **state)
{
	struct fx *f = *state;
	struct vpn_error e;
	static const char *const bad1[] = { "has space" };
	static const char *const bad2[] = { "localhost", "fe80::1%eth0" };
	static const char *const bad3[] = { "a..b" };
	static const char *const ok[] = { "localhost" };

	vpn_error_clear(&e);
	assert_int_equal(tls_cert_generate(f->cert, f->key, bad1, 1, 1, false, &e), VPN_E_INVALID);
	assert_non_null(strstr(e.msg, "has space"));
	assert_int_equal(tls_cert_generate(f->cert, f->key, bad2, 2, 1, false, &e), VPN_E_INVALID);
	assert_int_equal(tls_cert_generate(f->cert, f->key, bad3, 1, 1, false, &e), VPN_E_INVALID);
	assert_int_equal(tls_cert_generate(f->cert, f->key, ok, 0, 1, false, &e), VPN_E_INVALID);
	assert_int_equal(tls_cert_generate(f->cert, f->key, ok, 1, 0, false, &e), VPN_E_INVALID);
	assert_int_equal(tls_cert_generate(f->cert, f->key, ok, 1, TLS_DAYS_MAX + 1, false, &e),
			 VPN_E_INVALID);
	assert_int_equal(tls_cert_generate(f->cert, f->cert, ok, 1, 1, false, &e), VPN_E_INVALID);
	assert_int_equal(dir_entries(f->dir), 0);
}

static void
expect_load_fails(const char *path, enum tls_pem_kind kind, enum vpn_err want)
{
	struct vpn_error e;
	char *out = (char *)"untouched";

	vpn_error_clear(&e);
	assert_int_equal(tls_load_pem(path, kind, &out, &e), want);
	assert_null(out);
	assert_non_null(strstr(e.msg, path));		/* the message names the file */
}

static void
test_bad_pem(void **state)
{
	struct fx *f = *state;
	struct vpn_error e;
	char other_cert[160], other_key[160], *cert = NULL, *key = NULL, *big;
	static const char junk[] = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n"
				   "-----END CERTIFICATE-----\n";

	vpn_error_clear(&e);
	expect_load_fails(f->cert, TLS_PEM_CERT, VPN_E_NOT_FOUND);

	write_text(f->cert, "hello\n", 6);
	expect_load_fails(f->cert, TLS_PEM_CERT, VPN_E_INVALID);
	expect_load_fails(f->cert, TLS_PEM_KEY, VPN_E_INVALID);
	write_text(f->cert, "", 0);
	expect_load_fails(f->cert, TLS_PEM_CERT, VPN_E_INVALID);
	write_text(f->cert, junk, sizeof(junk) - 1);
	expect_load_fails(f->cert, TLS_PEM_CERT, VPN_E_INVALID);
	write_text(f->cert, "a\0b", 3);
	expect_load_fails(f->cert, TLS_PEM_CERT, VPN_E_INVALID);
	expect_load_fails(f->dir, TLS_PEM_CERT, VPN_E_INVALID);		/* not a regular file */

	/* more than the cap */
	big = malloc(TLS_PEM_MAX + 2);
	assert_non_null(big);
	memset(big, 'A', TLS_PEM_MAX + 1);
	write_text(f->cert, big, TLS_PEM_MAX + 1);
	free(big);
	expect_load_fails(f->cert, TLS_PEM_CERT, VPN_E_TOO_BIG);
	unlink(f->cert);

	/* a certificate where a key belongs, and the reverse */
	assert_int_equal(tls_cert_generate(f->cert, f->key, default_names, 3, 1, false, &e),
			 VPN_OK);
	expect_load_fails(f->cert, TLS_PEM_KEY, VPN_E_INVALID);
	expect_load_fails(f->key, TLS_PEM_CERT, VPN_E_INVALID);

	/* a truncated certificate */
	cert = read_text(f->cert);
	write_text(f->cert, cert, strlen(cert) / 2);
	expect_load_fails(f->cert, TLS_PEM_CERT, VPN_E_INVALID);
	write_text(f->cert, cert, strlen(cert));
	free(cert);
	cert = NULL;

	/* a key that belongs to another certificate */
	snprintf(other_cert, sizeof(other_cert), "%s/other-cert.pem", f->dir);
	snprintf(other_key, sizeof(other_key), "%s/other-key.pem", f->dir);
	assert_int_equal(tls_cert_generate(other_cert, other_key, default_names, 3, 1, false, &e),
			 VPN_OK);
	assert_int_equal(tls_load_pem(f->cert, TLS_PEM_CERT, &cert, &e), VPN_OK);
	assert_int_equal(tls_load_pem(other_key, TLS_PEM_KEY, &key, &e), VPN_OK);
	assert_int_equal(tls_check_pair(cert, key, &e), VPN_E_INVALID);
	tls_pem_free(cert);
	tls_pem_free(key);
}

static void
test_loopback(void **state)
{
	(void)state;
	assert_true(tls_listen_is_loopback("127.0.0.1:8080"));
	assert_true(tls_listen_is_loopback("127.1.2.3:0"));
	assert_true(tls_listen_is_loopback("[::1]:8080"));
	assert_true(tls_listen_is_loopback("[::ffff:127.0.0.1]:8080"));
	assert_false(tls_listen_is_loopback("0.0.0.0:8080"));
	assert_false(tls_listen_is_loopback("10.0.0.1:8080"));
	assert_false(tls_listen_is_loopback("128.0.0.1:8080"));
	assert_false(tls_listen_is_loopback("[::]:8080"));
	assert_false(tls_listen_is_loopback("[::2]:8080"));
	assert_false(tls_listen_is_loopback("[::ffff:10.0.0.1]:8080"));
	assert_false(tls_listen_is_loopback(":8080"));
	assert_false(tls_listen_is_loopback("*:8080"));
	assert_false(tls_listen_is_loopback("localhost:8080"));
	assert_false(tls_listen_is_loopback("garbage"));
	assert_false(tls_listen_is_loopback("[::1"));
	assert_false(tls_listen_is_loopback(NULL));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_generate_and_load, setup, teardown),
		cmocka_unit_test_setup_teardown(test_certificate_fields, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refuse_overwrite, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_pem, setup, teardown),
		cmocka_unit_test(test_loopback),
	};

	return cmocka_run_group_tests_name("tls", tests, NULL, NULL);
}
