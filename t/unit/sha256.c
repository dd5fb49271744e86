/* See LICENSE. Unit tests for lib/sha256: FIPS vectors, and the accelerated rounds against
 * the portable ones (and BearSSL's) on every length around the block boundaries. */
#include <stdlib.h>
#include <string.h>

#include "bearssl_hash.h"
#include "hmac.h"
#include "sha256.h"
#include "tap.h"

static void
digest(const void *p, size_t n, size_t step, unsigned char out[32])
{
	struct sha256 s;
	size_t off, k;

	sha256_init(&s);
	for (off = 0; off < n; off += k) {
		k = step && step < n - off ? step : n - off;
		sha256_update(&s, (const char *)p + off, k);
	}
	sha256_final(&s, out);
}

int
main(void)
{
	static unsigned char buf[4096];
	unsigned char a[32], b[32], c[32];
	char hex[65];
	br_sha256_context bc;
	size_t n, bad = 0, badsteps = 0;
	unsigned x = 12345;
	int pass;

	for (n = 0; n < sizeof(buf); n++) {
		x = x * 1103515245 + 12345;
		buf[n] = (unsigned char)(x >> 16);
	}
	for (pass = 0; pass < 2; pass++) {
		const char *name = pass ? "portable" : "detected";

		sha256_use_accel(!pass);
		digest("abc", 3, 0, a);
		hex_encode(a, 32, hex);
		is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		    "%s: FIPS 180-2 abc", name);
		digest("", 0, 0, a);
		hex_encode(a, 32, hex);
		is_str(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		    "%s: empty", name);
		digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, 0, a);
		hex_encode(a, 32, hex);
		is_str(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
		    "%s: two blocks (56 bytes)", name);
	}

	/* Every length from 0 to 4095 bytes: detected == portable == BearSSL. */
	for (n = 0; n < sizeof(buf); n++) {
		sha256_use_accel(1);
		digest(buf, n, 0, a);
		sha256_use_accel(0);
		digest(buf, n, 0, b);
		br_sha256_init(&bc);
		br_sha256_update(&bc, buf, n);
		br_sha256_out(&bc, c);
		if (memcmp(a, b, 32) != 0 || memcmp(a, c, 32) != 0)
			bad++;
	}
	ok(bad == 0, "lengths 0..4095: accelerated, portable and BearSSL agree (%zu differ)", bad);

	/* Fed in pieces of every size from 1 to 130, the same digest as at once. */
	sha256_use_accel(1);
	digest(buf, 3000, 0, a);
	for (n = 1; n <= 130; n++) {
		digest(buf, 3000, n, b);
		if (memcmp(a, b, 32) != 0)
			badsteps++;
	}
	ok(badsteps == 0, "pieces of 1..130 bytes give the same digest (%zu differ)", badsteps);
	ok(1, "SHA-NI rounds %s on this machine", sha256_accelerated() ? "in use" : "absent");
	return done_testing();
}
