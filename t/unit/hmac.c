/* See LICENSE. Unit tests for lib/hmac: RFC 4231 vectors, hex, constant-time compare. */
#include <string.h>

#include "hmac.h"
#include "tap.h"

static void
vector(const char *name, const void *key, size_t klen, const void *msg, size_t mlen,
    const char *want)
{
	unsigned char d[HMAC_SHA256_LEN];
	char hex[HMAC_SHA256_HEX + 1];

	hmac_sha256(key, klen, msg, mlen, d);
	hex_encode(d, sizeof(d), hex);
	is_str(hex, want, "RFC 4231 %s", name);
}

int
main(void)
{
	unsigned char key[131], d1[32], d2[32], raw[4];
	char hex[65];
	struct hmac h;
	const char *msg = "This is a test using a larger than block-size key and a larger "
	    "than block-size data. The key needs to be hashed before being used by the HMAC "
	    "algorithm.";

	memset(key, 0x0b, 20);
	vector("case 1", key, 20, "Hi There", 8,
	    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	vector("case 2", "Jefe", 4, "what do ya want for nothing?", 28,
	    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	memset(key, 0xaa, sizeof(key));
	vector("case 6 (key longer than a block)", key, 131,
	    "Test Using Larger Than Block-Size Key - Hash Key First", 54,
	    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
	vector("case 7", key, 131, msg, strlen(msg),
	    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");

	/* Streaming in pieces gives what one call gives. */
	hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, d1);
	hmac_init(&h, "Jefe", 4);
	hmac_update(&h, "what do ya", 10);
	hmac_update(&h, "", 0);
	hmac_update(&h, " want for nothing?", 18);
	hmac_final(&h, d2);
	ok(memcmp(d1, d2, 32) == 0, "streaming equals one shot");

	sha256("abc", 3, d1);
	hex_encode(d1, 32, hex);
	is_str(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
	    "SHA-256 of abc");

	ok(hex_decode("00fFa1", 6, raw, 3) == 0 && raw[0] == 0 && raw[1] == 0xff &&
	    raw[2] == 0xa1, "hex decodes either case");
	ok(hex_decode("00ff", 4, raw, 3) == -1, "too short is refused");
	ok(hex_decode("00ff0", 5, raw, 3) == -1, "odd length is refused");
	ok(hex_decode("0g", 2, raw, 1) == -1, "a non-hex byte is refused");
	ok(hex_decode("\xc3\xa9", 2, raw, 1) == -1, "a non-ASCII byte is refused");
	ok(hex_decode("  ", 2, raw, 1) == -1, "spaces are refused");

	ok(ct_equal("abcd", "abcd", 4), "equal compares equal");
	ok(!ct_equal("abcd", "abce", 4), "last byte differs");
	ok(!ct_equal("xbcd", "abcd", 4), "first byte differs");
	ok(ct_equal("", "", 0), "empty compares equal");

	memset(raw, 0x5a, sizeof(raw));
	wipe(raw, sizeof(raw));
	ok(raw[0] == 0 && raw[3] == 0, "wipe zeroes");
	return done_testing();
}
