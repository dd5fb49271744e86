/* See LICENSE. libgit2 streams of our own: TCP with timeouts, and TLS over BearSSL. */
#ifndef TLSSTREAM_H
#define TLSSTREAM_H

#include <stddef.h>

/*
 * Registers both streams with libgit2 (git_stream_register, GIT_STREAM_STANDARD and
 * GIT_STREAM_TLS), so every http:// and https:// connection of the process goes through
 * us, whatever TLS backend the libgit2 at hand was built with. Call after
 * git_libgit2_init(). cafile: PEM trust anchors for https (NULL: the system bundle, read
 * at the first https connection). Returns 0, or -1 with err set. MT-unsafe: call once,
 * before any thread connects.
 */
int	 tlsstream_register(const char *cafile, char *err, size_t errlen);

/*
 * Replaces the trust anchors (a PEM file of CERTIFICATE blocks). Returns 0, or -1 with err
 * set (unreadable, no certificate in it, one it cannot decode) and the old ones kept.
 */
int	 tlsstream_load_ca(const char *cafile, char *err, size_t errlen);

/* Connect, read and write timeout of later connections, in ms (default 30000). */
void	 tlsstream_set_timeout(long ms);

/* Frees the trust anchors (at exit, for valgrind). */
void	 tlsstream_free(void);

#endif
