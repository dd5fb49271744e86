/* See LICENSE. SHA-256, with the x86 SHA extensions when the processor has them. */
#ifndef SHA256_H
#define SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN	32
#define SHA256_BLOCK	64

/*
 * A running hash. Every webhook delivery is hashed whole (HMAC over up to 1 MiB), and
 * BearSSL's portable rounds cost about 5 ns a byte; the SHA extensions (SHA-NI) about
 * a tenth of that. sha256_init picks the rounds once per process: the portable ones
 * everywhere, the SHA-NI ones where CPUID says they exist.
 */
struct sha256 {
	uint32_t	 h[8];
	uint64_t	 len;		/* bytes hashed so far */
	unsigned char	 buf[SHA256_BLOCK];
	size_t		 nbuf;
};

void	sha256_init(struct sha256 *);
void	sha256_update(struct sha256 *, const void *, size_t);
void	sha256_final(struct sha256 *, unsigned char out[SHA256_LEN]);
/* 1 when the SHA-NI rounds are in use (for tests and benchmarks). */
int	sha256_accelerated(void);
/* Force the portable rounds (0) or the detected ones (1), for tests; not thread-safe. */
void	sha256_use_accel(int);

#endif
