/* See LICENSE. */
#include <string.h>
#include <strings.h>

#include "bearssl_hash.h"
#include "ws.h"

/* Decoder states. */
enum {
	S_HEAD, S_PAYLOAD, S_CLOSED, S_FAILED
};

/* Base64. */

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t
ws_base64_encode(const void *in, size_t n, char *out)
{
	const unsigned char *p = in;
	size_t i, o = 0;
	uint32_t v;

	for (i = 0; i + 3 <= n; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		out[o++] = b64[v >> 18];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = b64[v >> 6 & 63];
		out[o++] = b64[v & 63];
	}
	if (n - i == 1) {
		v = (uint32_t)p[i] << 16;
		out[o++] = b64[v >> 18];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = '=';
		out[o++] = '=';
	} else if (n - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		out[o++] = b64[v >> 18];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = b64[v >> 6 & 63];
		out[o++] = '=';
	}
	out[o] = '\0';
	return o;
}

static int
b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
ws_base64_decode(const char *s, size_t n, unsigned char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i, o = 0, pad;
	int a, b, c, d;

	if (n % 4 != 0)
		return -1;
	for (i = 0; i < n; i += 4) {
		pad = 0;
		if (i + 4 == n) {
			if (p[i + 3] == '=')
				pad = p[i + 2] == '=' ? 2 : 1;
		}
		a = b64val(p[i]);
		b = b64val(p[i + 1]);
		c = pad == 2 ? 0 : b64val(p[i + 2]);
		d = pad >= 1 ? 0 : b64val(p[i + 3]);
		if (a < 0 || b < 0 || c < 0 || d < 0)
			return -1;
		/* The bits the padding leaves unused must be zero: one encoding per value. */
		if ((pad == 2 && (b & 15)) || (pad == 1 && (c & 3)))
			return -1;
		if (o + 3 - pad > cap)
			return -1;
		out[o++] = (unsigned char)(a << 2 | b >> 4);
		if (pad < 2)
			out[o++] = (unsigned char)((b & 15) << 4 | c >> 2);
		if (pad < 1)
			out[o++] = (unsigned char)((c & 3) << 6 | d);
	}
	return (int)o;
}

/* UTF-8. */

/*
 * States: 0 between characters; 1, 2, 3 continuation bytes (80-BF) still needed; 4-7 the
 * first continuation byte after E0, ED, F0 and F4, whose range is narrower (that is where
 * overlong forms, surrogates and code points past U+10FFFF are refused), then 1 or 2 more.
 */
int
ws_utf8(uint32_t *state, const unsigned char *p, size_t n)
{
	uint32_t s = *state;
	const unsigned char *e = p + n;
	unsigned char c;

	while (p < e) {
		if (s == 0) {
			/* Runs of ASCII, the common case, a word at a time. */
			while (e - p >= 8) {
				uint64_t w;

				memcpy(&w, p, 8);
				if (w & 0x8080808080808080ULL)
					break;
				p += 8;
			}
			if (p == e)
				break;
		}
		c = *p++;
		switch (s) {
		case 0:
			if (c < 0x80)
				continue;
			if (c >= 0xc2 && c <= 0xdf)
				s = 1;
			else if (c == 0xe0)
				s = 4;
			else if (c == 0xed)
				s = 5;
			else if (c >= 0xe1 && c <= 0xef)
				s = 2;
			else if (c == 0xf0)
				s = 6;
			else if (c >= 0xf1 && c <= 0xf3)
				s = 3;
			else if (c == 0xf4)
				s = 7;
			else
				goto bad;
			break;
		case 1:
		case 2:
		case 3:
			if (c < 0x80 || c > 0xbf)
				goto bad;
			s--;
			break;
		case 4:
			if (c < 0xa0 || c > 0xbf)
				goto bad;
			s = 1;
			break;
		case 5:
			if (c < 0x80 || c > 0x9f)
				goto bad;
			s = 1;
			break;
		case 6:
			if (c < 0x90 || c > 0xbf)
				goto bad;
			s = 2;
			break;
		case 7:
			if (c < 0x80 || c > 0x8f)
				goto bad;
			s = 2;
			break;
		default:
			goto bad;
		}
	}
	*state = s;
	return 0;
bad:
	*state = 8;
	return -1;
}

/* The handshake. */

/* Does some header called name hold token in its comma-separated list (any case)? */
static int
has_token(const struct http_request *r, const char *name, const char *token)
{
	size_t tl = strlen(token), n;
	const char *v, *e;
	int i;

	for (i = 0; i < r->nheaders; i++) {
		if (strcasecmp(r->headers[i].name, name) != 0)
			continue;
		for (v = r->headers[i].value; *v; v = *e ? e + 1 : e) {
			while (*v == ' ' || *v == '\t')
				v++;
			e = strchr(v, ',');
			if (e == NULL)
				e = v + strlen(v);
			n = (size_t)(e - v);
			while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
				n--;
			if (n == tl && strncasecmp(v, token, tl) == 0)
				return 1;
		}
	}
	return 0;
}

static int
count_headers(const struct http_request *r, const char *name, const char **last)
{
	int i, n = 0;

	for (i = 0; i < r->nheaders; i++)
		if (strcasecmp(r->headers[i].name, name) == 0) {
			n++;
			*last = r->headers[i].value;
		}
	return n;
}

static int
hs_fail(struct ws_handshake *hs, int status, const char *headers, const char *detail)
{
	hs->key = NULL;
	hs->headers = headers;
	hs->detail = detail;
	return status;
}

int
ws_handshake_check(const struct http_request *r, struct ws_handshake *hs)
{
	unsigned char raw[18];
	const char *key = NULL, *ver = NULL, *upv = NULL;
	int up, conn;

	if (r->method != HTTP_GET)
		return hs_fail(hs, 405, "Allow: GET\r\n", "websocket handshake must be GET");
	up = count_headers(r, "upgrade", &upv) > 0;
	conn = has_token(r, "connection", "upgrade");
	if (!up && !conn)
		return hs_fail(hs, 426, "Upgrade: websocket\r\nConnection: Upgrade\r\n",
		    "websocket only");
	if (r->minor < 1)
		return hs_fail(hs, 400, NULL, "websocket needs HTTP/1.1");
	if (!has_token(r, "upgrade", "websocket"))
		return hs_fail(hs, 400, NULL, "Upgrade must be websocket");
	if (!conn)
		return hs_fail(hs, 400, NULL, "Connection must hold upgrade");
	if (count_headers(r, "sec-websocket-key", &key) != 1 ||
	    strlen(key) != WS_KEY_LEN ||
	    ws_base64_decode(key, WS_KEY_LEN, raw, sizeof(raw)) != 16)
		return hs_fail(hs, 400, NULL, "bad Sec-WebSocket-Key");
	if (count_headers(r, "sec-websocket-version", &ver) != 1 || strcmp(ver, "13") != 0)
		return hs_fail(hs, 426, "Sec-WebSocket-Version: 13\r\n",
		    "Sec-WebSocket-Version must be 13");
	hs->key = key;
	hs->headers = NULL;
	hs->detail = NULL;
	return 0;
}

void
ws_accept_key(const char *key, char out[WS_ACCEPT_LEN + 1])
{
	br_sha1_context sc;
	unsigned char sum[br_sha1_SIZE];

	br_sha1_init(&sc);
	br_sha1_update(&sc, key, strlen(key));
	br_sha1_update(&sc, WS_GUID, sizeof(WS_GUID) - 1);
	br_sha1_out(&sc, sum);
	ws_base64_encode(sum, sizeof(sum), out);
}

/* Frames. */

void
ws_mask(unsigned char *p, size_t n, const unsigned char key[4], size_t off)
{
	unsigned char k[8];
	uint64_t w, kw;
	size_t i = 0, j;

	/* Byte by byte to a key boundary, then 8 bytes at a time with the key doubled. */
	for (; i < n && (off & 3); i++, off++)
		p[i] ^= key[off & 3];
	if (n - i >= 8) {
		for (j = 0; j < 8; j++)
			k[j] = key[j & 3];
		memcpy(&kw, k, 8);
		for (; n - i >= 8; i += 8) {
			memcpy(&w, p + i, 8);
			w ^= kw;
			memcpy(p + i, &w, 8);
		}
	}
	for (; i < n; i++, off++)
		p[i] ^= key[off & 3];
}

size_t
ws_header(unsigned char *out, int fin, int opcode, uint64_t len, const unsigned char *mask)
{
	unsigned char mbit = mask ? 0x80 : 0;
	size_t n, i;

	out[0] = (unsigned char)((fin ? 0x80 : 0) | (opcode & 0x0f));
	if (len < 126) {
		out[1] = (unsigned char)(mbit | len);
		n = 2;
	} else if (len <= 0xffff) {
		out[1] = mbit | 126;
		out[2] = (unsigned char)(len >> 8);
		out[3] = (unsigned char)len;
		n = 4;
	} else {
		out[1] = mbit | 127;
		for (i = 0; i < 8; i++)
			out[2 + i] = (unsigned char)(len >> (56 - 8 * i));
		n = 10;
	}
	if (mask) {
		memcpy(out + n, mask, 4);
		n += 4;
	}
	return n;
}

size_t
ws_frame(unsigned char *out, int fin, int opcode, const void *payload, size_t len,
    const unsigned char *mask)
{
	size_t h = ws_header(out, fin, opcode, len, mask);

	if (len)
		memcpy(out + h, payload, len);
	if (mask)
		ws_mask(out + h, len, mask, 0);
	return h + len;
}

size_t
ws_close_payload(unsigned char out[WS_CONTROL_MAX], int code, const char *reason)
{
	size_t n;

	if (code == 0)
		return 0;
	out[0] = (unsigned char)(code >> 8);
	out[1] = (unsigned char)code;
	n = reason ? strlen(reason) : 0;
	if (n > WS_CONTROL_MAX - 2) {
		n = WS_CONTROL_MAX - 2;
		/* Never cut a character in two: back off its continuation bytes. */
		while (n > 0 && ((unsigned char)reason[n] & 0xc0) == 0x80)
			n--;
	}
	if (n)
		memcpy(out + 2, reason, n);
	return n + 2;
}

int
ws_close_code_ok(int code)
{
	if (code >= 1000 && code <= 1003)
		return 1;
	if (code >= 1007 && code <= 1014)
		return 1;
	return code >= 3000 && code <= 4999;
}

/* The decoder. */

void
ws_decoder_init(struct ws_decoder *d, int masked, size_t max)
{
	memset(d, 0, sizeof(*d));
	if (max == 0)
		max = WS_MESSAGE_MAX;
	if (max > WS_MESSAGE_LIMIT)
		max = WS_MESSAGE_LIMIT;
	d->max = (uint32_t)max;
	d->masked = masked != 0;
	d->need = 2;
	d->state = S_HEAD;
}

static ssize_t
dfail(struct ws_decoder *d, struct ws_event *ev, int code)
{
	d->state = S_FAILED;
	ev->type = WS_EV_NONE;
	ev->code = code;
	return -1;
}

/* The first two header bytes are in: check them and learn the header's size. */
static int
head2(struct ws_decoder *d)
{
	unsigned char b0 = d->hdr[0], b1 = d->hdr[1];
	int op = b0 & 0x0f, len7 = b1 & 0x7f;

	if (b0 & 0x70)
		return -1;
	if ((b1 >> 7) != d->masked)
		return -1;
	switch (op) {
	case WS_OP_CONT:
		if (d->msgop == 0)
			return -1;
		break;
	case WS_OP_TEXT:
	case WS_OP_BINARY:
		if (d->msgop != 0)
			return -1;
		break;
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		if (!(b0 & 0x80) || len7 > WS_CONTROL_MAX)
			return -1;
		break;
	default:
		return -1;
	}
	d->opcode = (uint8_t)op;
	d->fin = b0 >> 7;
	d->need = (uint8_t)(2 + (len7 == 126 ? 2 : len7 == 127 ? 8 : 0) + (d->masked ? 4 : 0));
	return 0;
}

/* A whole control payload is in ctl: make it an event. */
static ssize_t
control(struct ws_decoder *d, struct ws_event *ev, size_t used)
{
	uint32_t u = 0;

	ev->data = d->ctl;
	ev->len = d->clen;
	d->state = S_HEAD;
	switch (d->opcode) {
	case WS_OP_PING:
		ev->type = WS_EV_PING;
		break;
	case WS_OP_PONG:
		ev->type = WS_EV_PONG;
		break;
	default:
		if (d->clen == 1)
			return dfail(d, ev, WS_CLOSE_PROTOCOL);
		ev->code = WS_CLOSE_NO_STATUS;
		if (d->clen >= 2) {
			ev->code = d->ctl[0] << 8 | d->ctl[1];
			if (!ws_close_code_ok(ev->code))
				return dfail(d, ev, WS_CLOSE_PROTOCOL);
			if (ws_utf8(&u, d->ctl + 2, d->clen - 2u) == -1 || u != 0)
				return dfail(d, ev, WS_CLOSE_INVALID_DATA);
			ev->data = d->ctl + 2;
			ev->len = d->clen - 2u;
		}
		ev->type = WS_EV_CLOSE;
		d->state = S_CLOSED;
		break;
	}
	return (ssize_t)used;
}

/* The whole header is in: read the length and the mask, open or continue the message. */
static int
head_done(struct ws_decoder *d)
{
	const unsigned char *h = d->hdr;
	uint64_t len = h[1] & 0x7f;
	size_t o = 2;
	int i;

	if (len == 126) {
		len = (uint64_t)h[2] << 8 | h[3];
		o = 4;
		if (len < 126)
			return WS_CLOSE_PROTOCOL;
	} else if (len == 127) {
		len = 0;
		for (i = 0; i < 8; i++)
			len = len << 8 | h[2 + i];
		o = 10;
		if ((len >> 63) || len <= 0xffff)
			return WS_CLOSE_PROTOCOL;
	}
	if (d->masked)
		memcpy(d->mask, h + o, 4);
	if (!(d->opcode & 0x08)) {
		if (d->opcode != WS_OP_CONT) {
			d->msgop = d->opcode;
			d->msglen = 0;
			d->first = 1;
			d->utf8 = 0;
		}
		if (len > d->max - d->msglen)
			return WS_CLOSE_TOO_BIG;
		d->msglen += len;
	}
	d->left = len;
	d->moff = 0;
	d->clen = 0;
	d->hlen = 0;
	d->need = 2;
	d->state = S_PAYLOAD;
	return 0;
}

ssize_t
ws_decode(struct ws_decoder *d, unsigned char *buf, size_t len, struct ws_event *ev)
{
	size_t used = 0, n;
	unsigned char *p;
	int code;

	memset(ev, 0, sizeof(*ev));
	if (d->state == S_FAILED || d->state == S_CLOSED)
		return dfail(d, ev, WS_CLOSE_PROTOCOL);
	if (d->state == S_HEAD) {
		while (d->hlen < d->need) {
			if (used == len)
				return (ssize_t)used;
			d->hdr[d->hlen++] = buf[used++];
			if (d->hlen == 2 && head2(d) == -1)
				return dfail(d, ev, WS_CLOSE_PROTOCOL);
		}
		if ((code = head_done(d)) != 0)
			return dfail(d, ev, code);
	}
	/* S_PAYLOAD. */
	n = len - used;
	if (n > d->left)
		n = (size_t)d->left;
	if (d->opcode & 0x08) {
		memcpy(d->ctl + d->clen, buf + used, n);
		if (d->masked)
			ws_mask(d->ctl + d->clen, n, d->mask, d->moff);
		d->clen += (uint8_t)n;
		d->moff = (uint8_t)((d->moff + n) & 3);
		d->left -= n;
		used += n;
		if (d->left > 0)
			return (ssize_t)used;
		return control(d, ev, used);
	}
	/* A data frame: hand out what is here, even nothing for an empty frame. */
	if (n == 0 && d->left > 0)
		return (ssize_t)used;
	p = buf + used;
	if (d->masked)
		ws_mask(p, n, d->mask, d->moff);
	d->moff = (uint8_t)((d->moff + n) & 3);
	if (d->msgop == WS_OP_TEXT && ws_utf8(&d->utf8, p, n) == -1)
		return dfail(d, ev, WS_CLOSE_INVALID_DATA);
	d->left -= n;
	used += n;
	ev->type = WS_EV_DATA;
	ev->opcode = d->msgop;
	ev->data = p;
	ev->len = n;
	ev->first = d->first;
	d->first = 0;
	if (d->left == 0) {
		d->state = S_HEAD;
		if (d->fin) {
			ev->last = 1;
			if (d->msgop == WS_OP_TEXT && d->utf8 != 0)
				return dfail(d, ev, WS_CLOSE_INVALID_DATA);
			d->msgop = 0;
		}
	}
	return (ssize_t)used;
}
