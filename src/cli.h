/*
 * cli.h - the subcommand table's header: one `cmd_*` function per `vpnd SUBCOMMAND`, each in its
 * own src/cli_*.c (linked into build/vpnd only, not into libvpnd.a).
 *
 * Convention (wireguard-tools): main() calls cmd_X(argc - 1, argv + 1), so argv[0] is the
 * subcommand's own name. Returns the process exit status: 0 ok, 1 failure, 2 usage error.
 */
#ifndef VPND_CLI_H
#define VPND_CLI_H

struct store;

/* vpnd cert generate [--data DIR] [--name NAME]... [--days N] [--force] */
int cmd_cert(int argc, char **argv);
/* vpnd token create --role admin|auditor --name NAME | list | revoke NAME  [--data DIR] */
int cmd_token(int argc, char **argv);
/* vpnd audit [--data DIR] [--since ID] [--limit N] */
int cmd_audit(int argc, char **argv);
/* vpnd routes: the API route tables as JSON */
int cmd_routes(int argc, char **argv);

/*
 * Open the store a subcommand works on: --store URI if given, else DIR/vpnd.db. The daemon may
 * be running on it (SQLite in WAL mode allows that). Prints the error and returns non-zero.
 */
int cli_open_store(const char *data, const char *uri, struct store **out);

#endif
