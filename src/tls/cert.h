/*
 * cert.h - TLS material for the HTTPS front end (GnuTLS): generate a self-signed certificate,
 * load and check PEM files at start-up so a bad file fails there and not at the first handshake.
 *
 * Errors name the file and carry GnuTLS's own error string; they never contain key material.
 */
#ifndef VPND_TLS_CERT_H
#define VPND_TLS_CERT_H

#include <stdbool.h>
#include <stddef.h>

#include "core/err.h"

/* Largest PEM file tls_load_pem reads. */
#define TLS_PEM_MAX (1024 * 1024)
/* Bounds of tls_cert_generate's @days. */
#define TLS_DAYS_MAX 36500u
/* Most names one certificate carries. */
#define TLS_NAMES_MAX 64

enum tls_pem_kind {
	TLS_PEM_CERT,		/* one or more X.509 certificates, leaf first */
	TLS_PEM_KEY,		/* one unencrypted private key (PKCS#8, SEC1 or PKCS#1) */
};

/*
 * Write a new self-signed certificate and its private key: ECDSA P-256, SHA-256, random 16-byte
 * serial, CN = @names[0], subjectAltName = every name (an IP address SAN when the name parses as
 * IPv4/IPv6, else DNS), basicConstraints CA:TRUE (so the file is its own trust anchor for
 * `curl --cacert`), keyUsage digitalSignature+keyCertSign, extendedKeyUsage serverAuth, valid
 * from an hour ago for @days (1..TLS_DAYS_MAX) days.
 *
 * The key is written with mode 0600, the certificate 0644, each atomically (temporary file in the
 * same directory, fsync, rename, fsync of the directory). Unless @force, an existing file at
 * either path is refused with VPN_E_CONFLICT before anything is written. The directory must exist.
 * VPN_E_INVALID for a bad name or @days, VPN_E_INTERNAL for GnuTLS or I/O failures.
 */
enum vpn_err tls_cert_generate(const char *cert_path, const char *key_path,
			       const char *const *names, size_t nnames, unsigned days, bool force,
			       struct vpn_error *err);

/*
 * Read the PEM file @path (at most TLS_PEM_MAX bytes) and check that it parses as @kind. On
 * success *@out is the NUL-terminated file text; the caller frees it with tls_pem_free. On
 * failure *@out is NULL and @err names the file. A certificate that has expired or is not yet
 * valid, and a key file readable by group or others, are logged as warnings, not refused.
 */
enum vpn_err tls_load_pem(const char *path, enum tls_pem_kind kind, char **out,
			  struct vpn_error *err);

/*
 * Check that @key_pem is the private key of the first certificate in @cert_pem (both as returned
 * by tls_load_pem). VPN_E_INVALID on a mismatch, with GnuTLS's reason.
 */
enum vpn_err tls_check_pair(const char *cert_pem, const char *key_pem, struct vpn_error *err);

/* Wipe and free a PEM text from tls_load_pem. NULL-safe. */
void tls_pem_free(const char *pem);

/*
 * True when the --listen value @listen ("ADDR:PORT" or "[V6]:PORT") names a loopback address
 * (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104). False for wildcards and anything unparsable: when in
 * doubt, the caller warns about clear text.
 */
bool tls_listen_is_loopback(const char *listen);

#endif
