/* See LICENSE. RFC 6455 websockets: the opening handshake and a streaming frame codec. */
#ifndef WS_H
#define WS_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

#include "http.h"

/*
 * This module does no I/O and keeps no global state: lib/hub drives it on lib/loop, and a
 * test client can drive it over a blocking socket. No extension (permessage-deflate) and no
 * subprotocol is ever negotiated, so every RSV bit must be 0.
 *
 * Caps (RFC 6455 fixes the control one):
 *	control frame payload			WS_CONTROL_MAX		close 1002
 *	data message, all its fragments		WS_MESSAGE_MAX		close 1009
 * A message is refused as soon as a frame header announces more than the cap, before any
 * of its payload is read; exactly at the cap passes.
 */
#define WS_CONTROL_MAX		125
#define WS_MESSAGE_MAX		(64 * 1024)
#define WS_MESSAGE_LIMIT	(64 * 1024 * 1024)	/* largest cap ws_decoder_init takes */
#define WS_HEADER_MAX		14			/* 2 + 8 (length) + 4 (mask) */
#define WS_KEY_LEN		24			/* base64 of 16 bytes */
#define WS_ACCEPT_LEN		28			/* base64 of a SHA-1 */
#define WS_GUID			"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

enum {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xa
};

/* Close codes (RFC 6455 7.4.1). 1005 and 1006 are reported, never sent. */
enum {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002,
	WS_CLOSE_UNSUPPORTED = 1003,
	WS_CLOSE_NO_STATUS = 1005,
	WS_CLOSE_ABNORMAL = 1006,
	WS_CLOSE_INVALID_DATA = 1007,
	WS_CLOSE_POLICY = 1008,
	WS_CLOSE_TOO_BIG = 1009,
	WS_CLOSE_INTERNAL = 1011
};

/*
 * The opening handshake (RFC 6455 4.2.1). ws_handshake_check looks at a request and
 * returns 0 with hs->key pointing at its Sec-WebSocket-Key, or the HTTP status to answer
 * with hs->headers (extra header lines, or NULL) and hs->detail (a short English reason):
 *	405 + Allow: GET		not GET
 *	426 + Upgrade: websocket	neither an Upgrade header nor "upgrade" in Connection:
 *					a plain HTTP request for a websocket-only resource
 *	400				HTTP/1.0; Upgrade without the token "websocket";
 *					Connection without the token "upgrade" (both are
 *					token lists, any case, and may repeat); a
 *					Sec-WebSocket-Key missing, repeated or not the
 *					canonical base64 of 16 bytes
 *	426 + Sec-WebSocket-Version: 13	Sec-WebSocket-Version missing or not exactly 13
 * A missing key wins over a bad version, so a request that is wrong both ways gets 400.
 *
 * ws_accept_key computes Sec-WebSocket-Accept, base64(SHA-1(key + WS_GUID)), into out
 * (WS_ACCEPT_LEN characters and a NUL).
 */
struct ws_handshake {
	const char	*key;
	const char	*headers;
	const char	*detail;
};

int	 ws_handshake_check(const struct http_request *, struct ws_handshake *);
void	 ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1]);

/*
 * Base64 (RFC 4648, standard alphabet, padded). ws_base64_encode writes
 * 4 * ((n + 2) / 3) characters and a NUL. ws_base64_decode is strict: whole quads, '='
 * only as padding at the end, unused bits zero (so each value has one encoding); it
 * returns the number of bytes, or -1 for bad input or when they would pass cap.
 */
size_t	 ws_base64_encode(const void *, size_t n, char *out);
int	 ws_base64_decode(const char *, size_t n, unsigned char *out, size_t cap);

/*
 * UTF-8 validation that can stop and resume anywhere, even inside a character: *state is
 * 0 at the start and 0 again whenever the input so far ends on a whole character. It
 * returns 0, or -1 at the first byte that cannot be part of well-formed UTF-8 (overlong
 * forms, surrogates and anything past U+10FFFF are refused, as RFC 3629 says).
 */
int	 ws_utf8(uint32_t *state, const unsigned char *, size_t n);

/*
 * The decoder. It reads frames as a stream, byte by byte if need be: it keeps the frame
 * header it has seen so far, the control payload it is collecting and its place in the
 * current message, but never a data payload, which it unmasks in place and hands out in
 * pieces as it arrives. So its state is all a connection needs (about 200 bytes) and an
 * idle connection needs no input buffer at all.
 *
 * A server decoder (masked 1) requires every frame to be masked; a client decoder (masked
 * 0) refuses masked frames. ws_decode takes bytes from buf (len of them, which may be
 * changed: payload is unmasked in place) and stops after the first event. It returns the
 * number of bytes it used, with ev->type WS_EV_NONE when it used them all and needs more;
 * every call uses a byte or reports an event, so a loop over a buffer always ends. It
 * returns -1 on a protocol error, with ev->code the close code to send; the decoder is
 * then failed and keeps returning -1:
 *	1002	unmasked frame to a server (masked one to a client); an RSV bit set; opcode
 *		3-7 or 11-15; a control frame fragmented or over WS_CONTROL_MAX; a
 *		continuation with no message open, or a new message while one is open; a
 *		length in more bytes than it needs, or with the top bit set; a close payload
 *		of one byte or with a code that may not be sent (below 1000, 1004-1006,
 *		1015-2999, 5000 and up)
 *	1007	a text message, or a close reason, that is not UTF-8 (a text message is
 *		checked piece by piece, so the bad byte is found as soon as it arrives)
 *	1009	a message longer than the decoder's cap
 * Binary messages are decoded like text; refusing them (1003) is the caller's policy.
 *
 * Events:
 *	WS_EV_DATA	a piece of a data message: data/len (len may be 0, for an empty
 *			frame), opcode the message's (TEXT or BINARY), first set on the
 *			message's first piece, last on the piece that completes it
 *	WS_EV_PING	a whole ping: data/len its payload (inside the decoder, valid
 *	WS_EV_PONG	until the next call)
 *	WS_EV_CLOSE	a close frame: code (WS_CLOSE_NO_STATUS when it has none), data/len
 *			the reason (UTF-8, checked). After it the decoder takes no more
 *			frames (-1 with code 1002) as nothing may follow a close.
 */
enum {
	WS_EV_NONE, WS_EV_DATA, WS_EV_PING, WS_EV_PONG, WS_EV_CLOSE
};

struct ws_event {
	int			 type;
	int			 opcode;
	int			 first, last;
	const unsigned char	*data;
	size_t			 len;
	int			 code;
};

struct ws_decoder {
	uint64_t	 left;		/* payload bytes of this frame still to come */
	uint64_t	 msglen;	/* message bytes announced so far */
	uint32_t	 max;		/* message cap */
	uint32_t	 utf8;		/* ws_utf8 state of the open text message */
	unsigned char	 hdr[WS_HEADER_MAX];
	uint8_t		 hlen;		/* header bytes seen */
	uint8_t		 need;		/* header bytes needed, once known */
	uint8_t		 state;
	uint8_t		 masked;	/* a server: frames must be masked */
	uint8_t		 opcode;	/* of this frame */
	uint8_t		 fin;
	uint8_t		 msgop;		/* opcode of the open message, 0 if none */
	uint8_t		 first;		/* the next data piece starts the message */
	uint8_t		 moff;		/* mask position of the next payload byte */
	uint8_t		 clen;		/* control payload bytes collected */
	unsigned char	 mask[4];
	unsigned char	 ctl[WS_CONTROL_MAX];
};

/* max is the message cap: 0 means WS_MESSAGE_MAX, more than WS_MESSAGE_LIMIT is cut. */
void	 ws_decoder_init(struct ws_decoder *, int masked, size_t max);
ssize_t	 ws_decode(struct ws_decoder *, unsigned char *buf, size_t len, struct ws_event *);

/* Is code one a peer may send in a close frame? */
int	 ws_close_code_ok(int code);

/*
 * The encoder. ws_header writes a frame header for a payload of len bytes (FIN set when
 * fin, the shortest length form, the mask key when mask is not NULL) and returns its
 * size, 2 to WS_HEADER_MAX. ws_mask XORs n bytes with the key, starting at key position
 * off (0-3), the same operation both ways. ws_frame writes a whole frame, header then the
 * payload (masked with mask if not NULL), into out, which holds len + WS_HEADER_MAX
 * bytes, and returns its size. ws_close_payload writes a close payload (code, then reason
 * cut to fit WS_CONTROL_MAX on a character boundary) and returns its size; code 0 gives
 * an empty payload.
 */
size_t	 ws_header(unsigned char *out, int fin, int opcode, uint64_t len,
	    const unsigned char *mask);
void	 ws_mask(unsigned char *, size_t n, const unsigned char key[4], size_t off);
size_t	 ws_frame(unsigned char *out, int fin, int opcode, const void *payload, size_t len,
	    const unsigned char *mask);
size_t	 ws_close_payload(unsigned char out[WS_CONTROL_MAX], int code, const char *reason);

#endif
