/* See LICENSE. HMAC-SHA256 and SHA-256 (lib/sha256), hex, and constant-time comparison. */
#ifndef HMAC_H
#define HMAC_H

#include <stddef.h>

#include "sha256.h"

#define HMAC_SHA256_LEN	32
#define HMAC_SHA256_HEX	64

/* An incremental HMAC-SHA256, so a body can be signed while it streams in. */
struct hmac {
	struct sha256	inner;
	struct sha256	outer;
};

void	hmac_init(struct hmac *, const void *key, size_t keylen);
void	hmac_update(struct hmac *, const void *, size_t);
void	hmac_final(struct hmac *, unsigned char out[HMAC_SHA256_LEN]);
void	hmac_sha256(const void *key, size_t keylen, const void *msg, size_t msglen,
	    unsigned char out[HMAC_SHA256_LEN]);
void	sha256(const void *, size_t, unsigned char out[32]);

/* Lowercase hex; out holds 2*n+1 bytes. */
void	hex_encode(const unsigned char *, size_t n, char *out);
/* Decode exactly 2*n hex digits of either case; -1 on any other byte. */
int	hex_decode(const char *, size_t len, unsigned char *out, size_t n);
/* 1 when equal; the time taken depends only on n. */
int	ct_equal(const void *, const void *, size_t n);
/* Wipe a secret so the compiler cannot drop the stores. */
void	wipe(void *, size_t);

#endif
