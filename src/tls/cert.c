#include "tls/cert.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/netaddr.h"

#define SERIAL_LEN 16
#define DNS_NAME_MAX 253

static enum vpn_err
gnutls_fail(struct vpn_error *err, const char *path, const char *what, int grc)
{
	return vpn_error_set(err, VPN_E_INTERNAL, 0, "%s: %s: %s", path, what, gnutls_strerror(grc));
}

static enum vpn_err
sys_fail(struct vpn_error *err, const char *path, const char *what)
{
	return vpn_error_set(err, VPN_E_INTERNAL, 0, "%s: %s: %s", path, what, strerror(errno));
}

/* A DNS name as certificates carry it: LDH labels and dots, "*." only as the first label. */
static bool
dns_name_ok(const char *n)
{
	size_t len = strlen(n), i;

	if (!len || len > DNS_NAME_MAX || n[0] == '.' || n[len - 1] == '.')
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)n[i];

		if (c == '*' && i == 0 && n[1] == '.')
			continue;
		if (!isalnum(c) && c != '-' && c != '.' && c != '_')
			return false;
		if (c == '.' && n[i + 1] == '.')
			return false;
	}
	return true;
}

/* @ip gets the address bytes when @name is an IPv4/IPv6 literal; returns their count or 0. */
static unsigned
ip_literal(const char *name, unsigned char ip[16])
{
	if (inet_pton(AF_INET, name, ip) == 1)
		return 4;
	if (inet_pton(AF_INET6, name, ip) == 1)
		return 16;
	return 0;
}

static enum vpn_err
check_args(const char *cert_path, const char *key_path, const char *const *names, size_t nnames,
	   unsigned days, struct vpn_error *err)
{
	unsigned char ip[16];
	size_t i;

	if (!cert_path || !key_path || !*cert_path || !*key_path)
		return vpn_error_set(err, VPN_E_INVALID, 0, "certificate and key paths are required");
	if (!strcmp(cert_path, key_path))
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "certificate and key must be different files (%s)", cert_path);
	if (!nnames || nnames > TLS_NAMES_MAX)
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "a certificate needs 1 to %d names, got %zu", TLS_NAMES_MAX,
				     nnames);
	if (days < 1 || days > TLS_DAYS_MAX)
		return vpn_error_set(err, VPN_E_INVALID, 0, "validity must be 1..%u days, got %u",
				     TLS_DAYS_MAX, days);
	for (i = 0; i < nnames; i++) {
		if (!names[i] || (!ip_literal(names[i], ip) && !dns_name_ok(names[i])))
			return vpn_error_set(err, VPN_E_INVALID, 0,
					     "invalid name \"%s\": expected a DNS name or an IP address",
					     names[i] ? names[i] : "(null)");
	}
	return VPN_OK;
}

static enum vpn_err
refuse_existing(const char *path, struct vpn_error *err)
{
	struct stat st;

	if (lstat(path, &st) == 0)
		return vpn_error_set(err, VPN_E_CONFLICT, 0, "%s already exists; refusing to overwrite it",
				     path);
	if (errno != ENOENT)
		return sys_fail(err, path, "cannot check");
	return VPN_OK;
}

/* Build the key and the signed certificate. */
static enum vpn_err
build(gnutls_x509_privkey_t key, gnutls_x509_crt_t crt, const char *cert_path,
      const char *const *names, size_t nnames, unsigned days, struct vpn_error *err)
{
	unsigned char serial[SERIAL_LEN], ip[16], keyid[64];
	size_t keyid_len = sizeof(keyid), i;
	time_t now = time(NULL);
	unsigned iplen;
	int grc;

	grc = gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA,
					   GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0);
	if (grc < 0)
		return gnutls_fail(err, cert_path, "cannot generate an ECDSA P-256 key", grc);
	grc = gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial));
	if (grc < 0)
		return gnutls_fail(err, cert_path, "cannot draw a serial number", grc);
	/* positive (RFC 5280) and exactly 16 bytes long in DER (no leading zero byte) */
	serial[0] = (unsigned char)((serial[0] & 0x7f) | 0x40);

	if ((grc = gnutls_x509_crt_set_version(crt, 3)) < 0 ||
	    (grc = gnutls_x509_crt_set_serial(crt, serial, sizeof(serial))) < 0 ||
	    (grc = gnutls_x509_crt_set_activation_time(crt, now - 3600)) < 0 ||
	    (grc = gnutls_x509_crt_set_expiration_time(crt, now + (time_t)days * 86400)) < 0 ||
	    (grc = gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, names[0],
						 (unsigned)strlen(names[0]))) < 0 ||
	    (grc = gnutls_x509_crt_set_key(crt, key)) < 0)
		return gnutls_fail(err, cert_path, "cannot fill in the certificate", grc);
	for (i = 0; i < nnames; i++) {
		iplen = ip_literal(names[i], ip);
		if (iplen)
			grc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, ip, iplen,
								   GNUTLS_FSAN_APPEND);
		else
			grc = gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, names[i],
								   (unsigned)strlen(names[i]),
								   GNUTLS_FSAN_APPEND);
		if (grc < 0)
			return gnutls_fail(err, cert_path, "cannot add a subjectAltName", grc);
	}
	/* CA:TRUE: the self-signed certificate is its own trust anchor (curl --cacert) */
	if ((grc = gnutls_x509_crt_set_basic_constraints(crt, 1, -1)) < 0 ||
	    (grc = gnutls_x509_crt_set_key_usage(crt, GNUTLS_KEY_DIGITAL_SIGNATURE |
						      GNUTLS_KEY_KEY_CERT_SIGN)) < 0 ||
	    (grc = gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_SERVER, 0)) < 0)
		return gnutls_fail(err, cert_path, "cannot set the certificate's extensions", grc);
	/* key identifiers: strict verifiers (OpenSSL X509_STRICT) want them on CA certificates */
	if ((grc = gnutls_x509_privkey_get_key_id(key, GNUTLS_KEYID_USE_SHA1, keyid,
						  &keyid_len)) < 0 ||
	    (grc = gnutls_x509_crt_set_subject_key_id(crt, keyid, keyid_len)) < 0 ||
	    (grc = gnutls_x509_crt_set_authority_key_id(crt, keyid, keyid_len)) < 0)
		return gnutls_fail(err, cert_path, "cannot set the key identifiers", grc);
	grc = gnutls_x509_crt_sign2(crt, crt, key, GNUTLS_DIG_SHA256, 0);
	if (grc < 0)
		return gnutls_fail(err, cert_path, "cannot sign the certificate", grc);
	return VPN_OK;
}

/* Write @data to a new temporary file next to @path with @mode, fsync it; *@tmp_out names it. */
static enum vpn_err
write_temp(const char *path, const gnutls_datum_t *data, mode_t mode, char **tmp_out,
	   struct vpn_error *err)
{
	size_t tlen = strlen(path) + sizeof(".tmp.XXXXXX"), off = 0;
	char *tmp = NULL;
	enum vpn_err rc = VPN_OK;
	int fd = -1;

	*tmp_out = NULL;
	tmp = malloc(tlen);
	if (!tmp)
		return vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
	snprintf(tmp, tlen, "%s.tmp.XXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		rc = sys_fail(err, path, "cannot create a temporary file");
		free(tmp);
		return rc;
	}
	if (fchmod(fd, mode)) {
		rc = sys_fail(err, tmp, "cannot set the file mode");
		goto out;
	}
	while (off < data->size) {
		ssize_t n = write(fd, data->data + off, data->size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = sys_fail(err, tmp, "cannot write");
			goto out;
		}
		off += (size_t)n;
	}
	if (fsync(fd)) {
		rc = sys_fail(err, tmp, "cannot fsync");
		goto out;
	}
out:
	if (close(fd) && !rc)
		rc = sys_fail(err, tmp, "cannot close");
	if (rc) {
		unlink(tmp);
		free(tmp);
		return rc;
	}
	*tmp_out = tmp;
	return VPN_OK;
}

/* Move @tmp to @path; without @force an existing @path is never replaced (no check-then-act). */
static enum vpn_err
place(const char *tmp, const char *path, bool force, struct vpn_error *err)
{
	if (force) {
		if (rename(tmp, path))
			return sys_fail(err, path, "cannot rename the temporary file into place");
		return VPN_OK;
	}
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_NOREPLACE) == 0)
		return VPN_OK;
	if (errno == EINVAL || errno == ENOSYS) {
		/* a file system without RENAME_NOREPLACE: link(2) refuses an existing target too */
		if (link(tmp, path) == 0) {
			unlink(tmp);
			return VPN_OK;
		}
	}
	if (errno == EEXIST)
		return vpn_error_set(err, VPN_E_CONFLICT, 0, "%s already exists; refusing to overwrite it",
				     path);
	return sys_fail(err, path, "cannot move the temporary file into place");
}

/* fsync the directory holding @path, so the rename itself is durable. */
static enum vpn_err
sync_dir(const char *path, struct vpn_error *err)
{
	const char *slash = strrchr(path, '/');
	char dir[PATH_MAX];
	enum vpn_err rc = VPN_OK;
	int fd;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) >= sizeof(dir))
		return vpn_error_set(err, VPN_E_INVALID, 0, "path too long: %s", path);
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return sys_fail(err, dir, "cannot open directory");
	if (fsync(fd))
		rc = sys_fail(err, dir, "cannot fsync directory");
	close(fd);
	return rc;
}

static void
wipe_datum(gnutls_datum_t *d)
{
	if (!d->data)
		return;
	explicit_bzero(d->data, d->size);
	gnutls_free(d->data);
	d->data = NULL;
	d->size = 0;
}

enum vpn_err
tls_cert_generate(const char *cert_path, const char *key_path, const char *const *names,
		  size_t nnames, unsigned days, bool force, struct vpn_error *err)
{
	gnutls_x509_privkey_t key = NULL;
	gnutls_x509_crt_t crt = NULL;
	gnutls_datum_t cpem = { NULL, 0 }, kpem = { NULL, 0 };
	char *ktmp = NULL, *ctmp = NULL;
	enum vpn_err rc;
	int grc;

	rc = check_args(cert_path, key_path, names, nnames, days, err);
	if (rc)
		return rc;
	if (!force) {
		rc = refuse_existing(key_path, err);
		if (!rc)
			rc = refuse_existing(cert_path, err);
		if (rc)
			return rc;
	}
	if ((grc = gnutls_x509_privkey_init(&key)) < 0) {
		key = NULL;
		rc = gnutls_fail(err, key_path, "cannot allocate a key", grc);
		goto out;
	}
	if ((grc = gnutls_x509_crt_init(&crt)) < 0) {
		crt = NULL;
		rc = gnutls_fail(err, cert_path, "cannot allocate a certificate", grc);
		goto out;
	}
	rc = build(key, crt, cert_path, names, nnames, days, err);
	if (rc)
		goto out;
	grc = gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL, GNUTLS_PKCS_PLAIN,
						&kpem);
	if (grc < 0) {
		rc = gnutls_fail(err, key_path, "cannot encode the key", grc);
		goto out;
	}
	grc = gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &cpem);
	if (grc < 0) {
		rc = gnutls_fail(err, cert_path, "cannot encode the certificate", grc);
		goto out;
	}
	/* both temporaries first, so most failures leave nothing behind */
	rc = write_temp(key_path, &kpem, 0600, &ktmp, err);
	if (rc)
		goto out;
	rc = write_temp(cert_path, &cpem, 0644, &ctmp, err);
	if (rc)
		goto out;
	rc = place(ktmp, key_path, force, err);
	if (rc)
		goto out;
	free(ktmp);
	ktmp = NULL;
	rc = place(ctmp, cert_path, force, err);
	if (rc) {
		/* a key without its certificate is useless; it was new unless @force */
		if (!force)
			unlink(key_path);
		goto out;
	}
	free(ctmp);
	ctmp = NULL;
	rc = sync_dir(key_path, err);
	if (!rc)
		rc = sync_dir(cert_path, err);
out:
	if (ktmp) {
		unlink(ktmp);
		free(ktmp);
	}
	if (ctmp) {
		unlink(ctmp);
		free(ctmp);
	}
	wipe_datum(&kpem);
	gnutls_free(cpem.data);
	if (crt)
		gnutls_x509_crt_deinit(crt);
	if (key)
		gnutls_x509_privkey_deinit(key);
	return rc;
}

/* Read all of @path (a regular file of at most TLS_PEM_MAX bytes) into a NUL-terminated string. */
static enum vpn_err
read_file(const char *path, char **out, size_t *outlen, mode_t *mode, struct vpn_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap;
	enum vpn_err rc = VPN_OK;
	int fd;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return vpn_error_set(err, errno == ENOENT ? VPN_E_NOT_FOUND : VPN_E_INTERNAL, 0,
				     "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st)) {
		rc = sys_fail(err, path, "cannot stat");
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = vpn_error_set(err, VPN_E_INVALID, 0, "%s is not a regular file", path);
		goto out;
	}
	if (st.st_size > TLS_PEM_MAX) {
		rc = vpn_error_set(err, VPN_E_TOO_BIG, 0, "%s is larger than %d bytes", path,
				   TLS_PEM_MAX);
		goto out;
	}
	*mode = st.st_mode;
	/* one byte more than the cap, to notice a file that grew past it since fstat */
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap + 1);
	if (!buf) {
		rc = vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			size_t ncap = cap * 2 > TLS_PEM_MAX + 1 ? TLS_PEM_MAX + 1 : cap * 2;
			char *nb;

			if (ncap <= cap) {
				rc = vpn_error_set(err, VPN_E_TOO_BIG, 0,
						   "%s is larger than %d bytes", path, TLS_PEM_MAX);
				goto out;
			}
			nb = realloc(buf, ncap + 1);
			if (!nb) {
				rc = vpn_error_set(err, VPN_E_NOMEM, 0, "out of memory");
				goto out;
			}
			buf = nb;
			cap = ncap;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = sys_fail(err, path, "cannot read");
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > TLS_PEM_MAX) {
		rc = vpn_error_set(err, VPN_E_TOO_BIG, 0, "%s is larger than %d bytes", path,
				   TLS_PEM_MAX);
		goto out;
	}
	if (memchr(buf, '\0', len)) {
		rc = vpn_error_set(err, VPN_E_INVALID, 0, "%s is not a PEM file (it holds NUL bytes)",
				   path);
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	*outlen = len;
	buf = NULL;
out:
	if (buf) {
		explicit_bzero(buf, len);
		free(buf);
	}
	close(fd);
	return rc;
}

static enum vpn_err
check_cert_pem(const char *path, const gnutls_datum_t *d, struct vpn_error *err)
{
	gnutls_x509_crt_t *list = NULL;
	unsigned n = 0, i;
	time_t now = time(NULL), from, until;
	int grc;

	grc = gnutls_x509_crt_list_import2(&list, &n, d, GNUTLS_X509_FMT_PEM, 0);
	if (grc < 0 || !n)
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "%s is not a PEM X.509 certificate: %s", path,
				     grc < 0 ? gnutls_strerror(grc) : "no certificate found");
	from = gnutls_x509_crt_get_activation_time(list[0]);
	until = gnutls_x509_crt_get_expiration_time(list[0]);
	if (until != (time_t)-1 && until < now)
		log_warn("TLS certificate %s has expired: clients will refuse it", path);
	else if (from != (time_t)-1 && from > now)
		log_warn("TLS certificate %s is not valid yet: clients will refuse it", path);
	for (i = 0; i < n; i++)
		gnutls_x509_crt_deinit(list[i]);
	gnutls_free(list);
	return VPN_OK;
}

static enum vpn_err
check_key_pem(const char *path, const gnutls_datum_t *d, mode_t mode, struct vpn_error *err)
{
	gnutls_x509_privkey_t key = NULL;
	int grc;

	grc = gnutls_x509_privkey_init(&key);
	if (grc < 0)
		return gnutls_fail(err, path, "cannot allocate a key", grc);
	grc = gnutls_x509_privkey_import2(key, d, GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_x509_privkey_deinit(key);
	if (grc < 0)
		return vpn_error_set(err, VPN_E_INVALID, 0, "%s is not a PEM private key%s: %s", path,
				     strstr((const char *)d->data, "ENCRYPTED") ?
					     " (encrypted keys are not supported)" : "",
				     gnutls_strerror(grc));
	if (mode & 077)
		log_warn("TLS key %s is readable by group or others (mode %03o); chmod 600 it", path,
			 (unsigned)(mode & 0777));
	return VPN_OK;
}

enum vpn_err
tls_load_pem(const char *path, enum tls_pem_kind kind, char **out, struct vpn_error *err)
{
	gnutls_datum_t d;
	char *text = NULL;
	size_t len = 0;
	mode_t mode = 0;
	enum vpn_err rc;

	*out = NULL;
	rc = read_file(path, &text, &len, &mode, err);
	if (rc)
		return rc;
	d.data = (unsigned char *)text;
	d.size = (unsigned)len;
	if (kind == TLS_PEM_CERT)
		rc = check_cert_pem(path, &d, err);
	else
		rc = check_key_pem(path, &d, mode, err);
	if (rc) {
		tls_pem_free(text);
		return rc;
	}
	*out = text;
	return VPN_OK;
}

enum vpn_err
tls_check_pair(const char *cert_pem, const char *key_pem, struct vpn_error *err)
{
	gnutls_certificate_credentials_t cred = NULL;
	gnutls_datum_t c, k;
	int grc;

	c.data = (unsigned char *)cert_pem;
	c.size = (unsigned)strlen(cert_pem);
	k.data = (unsigned char *)key_pem;
	k.size = (unsigned)strlen(key_pem);
	grc = gnutls_certificate_allocate_credentials(&cred);
	if (grc < 0)
		return vpn_error_set(err, VPN_E_INTERNAL, 0, "TLS: %s", gnutls_strerror(grc));
	grc = gnutls_certificate_set_x509_key_mem2(cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_certificate_free_credentials(cred);
	if (grc < 0)
		return vpn_error_set(err, VPN_E_INVALID, 0,
				     "the TLS key does not belong to the certificate: %s",
				     gnutls_strerror(grc));
	return VPN_OK;
}

void
tls_pem_free(const char *pem)
{
	char *p = (char *)pem;

	if (!p)
		return;
	explicit_bzero(p, strlen(p));
	free(p);
}

bool
tls_listen_is_loopback(const char *listen)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	static const unsigned char v6lo[16] = { [15] = 1 };
	struct netaddr a;
	const char *start = listen, *end;
	char host[64];

	if (!listen)
		return false;
	if (listen[0] == '[') {
		start = listen + 1;
		end = strchr(start, ']');
	} else {
		end = strrchr(listen, ':');
	}
	if (!end || (size_t)(end - start) >= sizeof(host))
		return false;
	memcpy(host, start, (size_t)(end - start));
	host[end - start] = '\0';
	if (!netaddr_parse(host, &a))
		return false;
	if (a.family == 4)
		return a.bytes[0] == 127;
	if (!memcmp(a.bytes, v6lo, sizeof(v6lo)))
		return true;
	return !memcmp(a.bytes, mapped, sizeof(mapped)) && a.bytes[12] == 127;
}
