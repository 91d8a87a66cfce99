/* Pieces the TLS tests share: certificates made with the openssl command
 * line in a temp dir, and a tandemd that must refuse to start.
 *
 * Depends on: the openssl and timeout commands, POSIX.  Nothing from src/.
 */
#ifndef TANDEM_TESTS_INTEGRATION_TLSUTIL_H
#define TANDEM_TESTS_INTEGRATION_TLSUTIL_H

#include <stddef.h>

/*
 * Makes a fresh temp dir (path into dir, cap bytes) holding, as NAME.pem +
 * NAME.key (EC keys: fast; every openssl run bounded by `timeout`):
 *   ca, otherca      self-signed CAs;
 *   server           signed by ca, subjectAltName IP:127.0.0.1 and
 *                    DNS:localhost (clients that check the host name pass);
 *   wronghost        signed by ca, named elsewhere.invalid only;
 *   client           signed by ca;  stranger  signed by otherca;
 * and server-bundle.pem: server's key and certificate in one file (Kafka's
 * PEM keystore).  The dir is removed at exit of the calling process.
 * 0, or -1 with the openssl output kept in DIR/gen.log.
 */
int tl_make_certs(char *dir, size_t cap);
/* DIR/name into buf; returns buf. */
const char *tl_path(char *buf, size_t len, const char *name);
/*
 * Runs tandemd (path) with argv-style args (NULL-terminated), with a data
 * dir of its own under the cert dir; waits (bounded: 10 s) for it to exit.
 * Returns its exit status (-1 when it did not exit and was killed, or was
 * killed by a signal); its stderr goes to err (NUL-terminated).  *touched
 * is set to 1 when it created its data dir.
 */
int tl_run_refused(const char *tandemd, const char *const *args, char *err, size_t errlen,
		   int *touched);

/* Runs a shell command (bounded by its own `timeout`), its output into out
 * (NUL-terminated); returns the exit status (-1: killed by a signal). */
int tl_sh(const char *cmd, char *out, size_t len);
/*
 * tl_run_refused, asserting (Check) that tandemd exited non-zero, that its
 * stderr holds every string of want (NULL-terminated) and that it did not
 * touch its data directory.
 */
void tl_expect_refused(const char *tandemd, const char *const *args, const char *const *want);

#endif
