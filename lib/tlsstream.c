/* See LICENSE. libgit2 streams of our own: TCP with timeouts, and TLS over BearSSL. */
#include <sys/socket.h>
#include <sys/time.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bearssl.h>
#include <git2.h>
#include <git2/sys/stream.h>

#include "buf.h"
#include "tlsstream.h"

/*
 * Caps: the Debian CA bundle is about 200 kB and 140 certificates; a file past these is
 * not a CA bundle.
 */
#define CA_FILE_MAX	(8 * 1024 * 1024)
#define CA_MAX		1024
#define DEFAULT_CAFILE	"/etc/ssl/certs/ca-certificates.crt"

struct conn {
	git_stream		 parent;
	char			*host;
	char			*port;
	int			 fd;
	int			 tls;
	int			 eof;		/* the peer closed the TCP connection */
	int			 syserr;	/* errno of the last failed socket call */
	br_ssl_client_context	 cc;
	br_x509_minimal_context	 xc;
	br_sslio_context	 ioc;
	unsigned char		 iobuf[BR_SSL_BUFSIZE_BIDI];
};

/* Process-wide, set before any connection (see tlsstream.h): MT-unsafe to change. */
static br_x509_trust_anchor	*tas;
static size_t			 ntas;
static int			 tas_loaded;
static long			 timeout_ms = 30000;

static void
free_tas(br_x509_trust_anchor *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(t[i].dn.data);
		if (t[i].pkey.key_type == BR_KEYTYPE_RSA) {
			free(t[i].pkey.key.rsa.n);
			free(t[i].pkey.key.rsa.e);
		} else
			free(t[i].pkey.key.ec.q);
	}
	free(t);
}

void
tlsstream_free(void)
{
	free_tas(tas, ntas);
	tas = NULL;
	ntas = 0;
	tas_loaded = 0;
}

void
tlsstream_set_timeout(long ms)
{
	timeout_ms = ms > 0 ? ms : 30000;
}

static void
dn_append(void *ctx, const void *p, size_t n)
{
	buf_add(ctx, p, n);
}

static void *
dup_bytes(const void *p, size_t n)
{
	void *q = malloc(n > 0 ? n : 1);

	if (q != NULL)
		memcpy(q, p, n);
	return q;
}

/* One DER certificate into a trust anchor: its subject and public key. */
static int
add_anchor(br_x509_trust_anchor *ta, const struct buf *der)
{
	br_x509_decoder_context dc;
	struct buf dn = BUF_INIT(65536);
	br_x509_pkey *pk;

	memset(ta, 0, sizeof(*ta));
	br_x509_decoder_init(&dc, dn_append, &dn);
	br_x509_decoder_push(&dc, der->p, der->len);
	if ((pk = br_x509_decoder_get_pkey(&dc)) == NULL || dn.len == 0) {
		buf_free(&dn);
		return -1;
	}
	ta->dn.len = dn.len;
	ta->dn.data = (unsigned char *)buf_steal(&dn);
	/* A self-signed server certificate that is no CA is trusted as itself only. */
	ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
	ta->pkey.key_type = pk->key_type;
	if (pk->key_type == BR_KEYTYPE_RSA) {
		ta->pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
		ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
		ta->pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
		ta->pkey.key.rsa.elen = pk->key.rsa.elen;
		if (ta->pkey.key.rsa.n == NULL || ta->pkey.key.rsa.e == NULL)
			return -1;
	} else if (pk->key_type == BR_KEYTYPE_EC) {
		ta->pkey.key.ec.curve = pk->key.ec.curve;
		ta->pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
		ta->pkey.key.ec.qlen = pk->key.ec.qlen;
		if (ta->pkey.key.ec.q == NULL)
			return -1;
	} else
		return -1;
	return 0;
}

static void
der_append(void *ctx, const void *p, size_t n)
{
	buf_add(ctx, p, n);
}

int
tlsstream_load_ca(const char *cafile, char *err, size_t errlen)
{
	br_pem_decoder_context pc;
	br_x509_trust_anchor *t = NULL;
	struct buf file = BUF_INIT(CA_FILE_MAX), der = BUF_INIT(CA_FILE_MAX);
	char chunk[8192];
	size_t n = 0, off, k;
	ssize_t got;
	int fd, inobj = 0, iscert = 0, bad = 0;

	if (cafile == NULL)
		cafile = DEFAULT_CAFILE;
	if ((fd = open(cafile, O_RDONLY | O_CLOEXEC)) == -1) {
		snprintf(err, errlen, "unable to open the CA file %s: %s", cafile,
		    strerror(errno));
		return -1;
	}
	while ((got = read(fd, chunk, sizeof(chunk))) > 0)
		if (buf_add(&file, chunk, (size_t)got) == -1) {
			snprintf(err, errlen, "the CA file %s is larger than %d bytes", cafile,
			    CA_FILE_MAX);
			close(fd);
			buf_free(&file);
			return -1;
		}
	close(fd);
	if (got == -1) {
		snprintf(err, errlen, "unable to read the CA file %s: %s", cafile,
		    strerror(errno));
		buf_free(&file);
		return -1;
	}
	if ((t = calloc(CA_MAX, sizeof(*t))) == NULL) {
		snprintf(err, errlen, "out of memory");
		buf_free(&file);
		return -1;
	}
	br_pem_decoder_init(&pc);
	for (off = 0; off < file.len && !bad; ) {
		k = br_pem_decoder_push(&pc, file.p + off, file.len - off);
		off += k;
		switch (br_pem_decoder_event(&pc)) {
		case BR_PEM_BEGIN_OBJ:
			inobj = 1;
			iscert = strcmp(br_pem_decoder_name(&pc), "CERTIFICATE") == 0 ||
			    strcmp(br_pem_decoder_name(&pc), "X509 CERTIFICATE") == 0;
			buf_reset(&der);
			br_pem_decoder_setdest(&pc, iscert ? der_append : NULL, &der);
			break;
		case BR_PEM_END_OBJ:
			if (inobj && iscert) {
				if (n == CA_MAX) {
					snprintf(err, errlen, "the CA file %s holds more than %d "
					    "certificates", cafile, CA_MAX);
					bad = 1;
				} else if (add_anchor(&t[n++], &der) == -1) {
					snprintf(err, errlen, "the CA file %s: certificate %zu cannot "
					    "be decoded", cafile, n);
					bad = 1;
				}
			}
			inobj = 0;
			break;
		case BR_PEM_ERROR:
			snprintf(err, errlen, "the CA file %s is not valid PEM", cafile);
			bad = 1;
			break;
		}
	}
	if (!bad && n == 0) {
		snprintf(err, errlen, "the CA file %s holds no certificate", cafile);
		bad = 1;
	}
	buf_free(&file);
	buf_free(&der);
	if (bad) {
		free_tas(t, n);
		return -1;
	}
	free_tas(tas, ntas);
	tas = t;
	ntas = n;
	tas_loaded = 1;
	return 0;
}

/* Why BearSSL gave up, in words an operator can act on. */
static const char *
tls_reason(int e)
{
	switch (e) {
	case BR_ERR_X509_NOT_TRUSTED:
		return "certificate not trusted (not signed by any CA of the CA file)";
	case BR_ERR_X509_BAD_SERVER_NAME:
		return "certificate does not match the host name";
	case BR_ERR_X509_EXPIRED:
		return "certificate expired or not yet valid";
	case BR_ERR_X509_NOT_CA:
		return "certificate chain has an issuer that is not a CA";
	case BR_ERR_X509_BAD_SIGNATURE:
		return "certificate signature is invalid";
	case BR_ERR_X509_EMPTY_CHAIN:
		return "server sent no certificate";
	case BR_ERR_X509_WEAK_PUBLIC_KEY:
		return "certificate key is too weak";
	case BR_ERR_X509_UNSUPPORTED:
	case BR_ERR_X509_WRONG_KEY_TYPE:
		return "certificate uses an unsupported algorithm";
	case BR_ERR_BAD_VERSION:
	case BR_ERR_UNSUPPORTED_VERSION:
		return "no common protocol version (BearSSL speaks TLS 1.0 to 1.2)";
	case BR_ERR_BAD_CIPHER_SUITE:
		return "no common cipher suite";
	case BR_ERR_IO:
		return "connection closed or timed out during the handshake";
	default:
		if (e >= BR_ERR_RECV_FATAL_ALERT)
			return "the server sent a fatal alert";
		if (e >= 32 && e < 64)
			return "certificate is invalid";
		return "TLS protocol error";
	}
}

static int
sock_read(void *ctx, unsigned char *p, size_t len)
{
	struct conn *c = ctx;
	ssize_t n;

	for (;;) {
		if ((n = read(c->fd, p, len)) > 0)
			return (int)n;
		if (n == -1 && errno == EINTR)
			continue;
		if (n == 0)
			c->eof = 1;
		else
			c->syserr = errno;
		return -1;
	}
}

static int
sock_write(void *ctx, const unsigned char *p, size_t len)
{
	struct conn *c = ctx;
	ssize_t n;

	for (;;) {
		if ((n = write(c->fd, p, len)) >= 0)
			return (int)n;
		if (errno == EINTR)
			continue;
		c->syserr = errno;
		return -1;
	}
}

static const char *
sys_reason(int e)
{
	return e == EAGAIN || e == EWOULDBLOCK ? "timed out" : strerror(e);
}

/* Non-blocking connect bounded by the timeout, for each address in turn. */
static int
tcp_connect(struct conn *c)
{
	struct addrinfo hints, *res, *ai;
	struct timeval tv;
	struct pollfd pfd;
	socklen_t sl;
	int fd = -1, e = 0, r, fl;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((r = getaddrinfo(c->host, c->port, &hints, &res)) != 0) {
		git_error_set(GIT_ERROR_NET, "unable to resolve %s: %s", c->host,
		    gai_strerror(r));
		return -1;
	}
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		    ai->ai_protocol)) == -1) {
			e = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno == EINPROGRESS) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			while ((r = poll(&pfd, 1, (int)timeout_ms)) == -1 && errno == EINTR)
				;
			sl = sizeof(e);
			if (r == 0)
				e = ETIMEDOUT;
			else if (r == -1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl) == -1)
				e = errno;
			if (r > 0 && e == 0)
				break;
		} else
			e = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1) {
		git_error_set(GIT_ERROR_NET, "unable to connect to %s port %s: %s", c->host,
		    c->port, strerror(e));
		return -1;
	}
	/* Blocking from now on, each read and write bounded by the timeout. */
	if ((fl = fcntl(fd, F_GETFL)) != -1)
		fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	c->fd = fd;
	return 0;
}

static int
conn_connect(git_stream *s)
{
	struct conn *c = (struct conn *)s;
	char err[256];
	int e;

	if (tcp_connect(c) == -1)
		return -1;
	if (!c->tls)
		return 0;
	if (!tas_loaded && tlsstream_load_ca(NULL, err, sizeof(err)) == -1) {
		git_error_set(GIT_ERROR_SSL, "tls: %s:%s: %s", c->host, c->port, err);
		return -1;
	}
	br_ssl_client_init_full(&c->cc, &c->xc, tas, ntas);
	br_ssl_engine_set_buffer(&c->cc.eng, c->iobuf, sizeof(c->iobuf), 1);
	if (!br_ssl_client_reset(&c->cc, c->host, 0)) {
		git_error_set(GIT_ERROR_SSL, "tls: %s:%s: unable to start the handshake",
		    c->host, c->port);
		return -1;
	}
	br_sslio_init(&c->ioc, &c->cc.eng, sock_read, c, sock_write, c);
	/* Drive the handshake now, so a bad certificate is reported as such, here. */
	if (br_sslio_flush(&c->ioc) == 0)
		return 0;
	e = br_ssl_engine_last_error(&c->cc.eng);
	if (e == BR_ERR_IO && c->syserr != 0)
		git_error_set(GIT_ERROR_SSL, "tls: %s:%s: handshake failed: %s", c->host,
		    c->port, sys_reason(c->syserr));
	else
		git_error_set(GIT_ERROR_SSL, "tls: %s:%s: %s (BearSSL error %d)", c->host,
		    c->port, tls_reason(e), e);
	return e >= BR_ERR_X509_OK && e < 64 ? GIT_ECERTIFICATE : -1;
}

static int
conn_certificate(git_cert **out, git_stream *s)
{
	git_error_set(GIT_ERROR_SSL, "the certificate is checked by the stream itself");
	return -1;
}

static int
conn_set_proxy(git_stream *s, const git_proxy_options *o)
{
	git_error_set(GIT_ERROR_NET, "proxies are not supported");
	return -1;
}

static ssize_t
conn_read(git_stream *s, void *p, size_t len)
{
	struct conn *c = (struct conn *)s;
	int n, e;

	if (!c->tls) {
		if ((n = sock_read(c, p, len)) >= 0)
			return n;
		if (c->eof)
			return 0;
		git_error_set(GIT_ERROR_NET, "unable to read from %s port %s: %s", c->host,
		    c->port, sys_reason(c->syserr));
		return -1;
	}
	if ((n = br_sslio_read(&c->ioc, p, len)) >= 0)
		return n;
	e = br_ssl_engine_last_error(&c->cc.eng);
	/* A close_notify, or a server that just closes after its last answer: EOF. */
	if (e == BR_ERR_OK || (e == BR_ERR_IO && c->eof))
		return 0;
	if (e == BR_ERR_IO)
		git_error_set(GIT_ERROR_NET, "unable to read from %s port %s: %s", c->host,
		    c->port, sys_reason(c->syserr));
	else
		git_error_set(GIT_ERROR_SSL, "tls: %s:%s: %s (BearSSL error %d)", c->host,
		    c->port, tls_reason(e), e);
	return -1;
}

static ssize_t
conn_write(git_stream *s, const char *p, size_t len, int flags)
{
	struct conn *c = (struct conn *)s;
	size_t off;
	int n;

	if (c->tls) {
		if (br_sslio_write_all(&c->ioc, p, len) == 0 && br_sslio_flush(&c->ioc) == 0)
			return (ssize_t)len;
		git_error_set(GIT_ERROR_NET, "unable to write to %s port %s: %s", c->host,
		    c->port, c->syserr != 0 ? sys_reason(c->syserr) :
		    tls_reason(br_ssl_engine_last_error(&c->cc.eng)));
		return -1;
	}
	for (off = 0; off < len; off += (size_t)n)
		if ((n = sock_write(c, (const unsigned char *)p + off, len - off)) == -1) {
			git_error_set(GIT_ERROR_NET, "unable to write to %s port %s: %s",
			    c->host, c->port, sys_reason(c->syserr));
			return -1;
		}
	return (ssize_t)len;
}

/*
 * No close_notify exchange: waiting for the server's answer to it could take a whole
 * timeout, and HTTP has already framed every answer we read.
 */
static int
conn_close(git_stream *s)
{
	struct conn *c = (struct conn *)s;

	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	return 0;
}

static void
conn_free(git_stream *s)
{
	struct conn *c = (struct conn *)s;

	conn_close(s);
	free(c->host);
	free(c->port);
	/* Session keys live in the engine. */
	explicit_bzero(c, sizeof(*c));
	free(c);
}

static int
conn_new(git_stream **out, const char *host, const char *port, int tls)
{
	struct conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL || (c->host = strdup(host)) == NULL ||
	    (c->port = strdup(port)) == NULL) {
		if (c != NULL)
			free(c->host);
		free(c);
		git_error_set_oom();
		return -1;
	}
	c->fd = -1;
	c->tls = tls;
	c->parent.version = GIT_STREAM_VERSION;
	c->parent.encrypted = tls;
	c->parent.proxy_support = 0;
	c->parent.connect = conn_connect;
	c->parent.certificate = conn_certificate;
	c->parent.set_proxy = conn_set_proxy;
	c->parent.read = conn_read;
	c->parent.write = conn_write;
	c->parent.close = conn_close;
	c->parent.free = conn_free;
	*out = &c->parent;
	return 0;
}

static int
tls_init(git_stream **out, const char *host, const char *port)
{
	return conn_new(out, host, port, 1);
}

static int
plain_init(git_stream **out, const char *host, const char *port)
{
	return conn_new(out, host, port, 0);
}

int
tlsstream_register(const char *cafile, char *err, size_t errlen)
{
	git_stream_registration tls = { GIT_STREAM_VERSION, tls_init, NULL };
	git_stream_registration plain = { GIT_STREAM_VERSION, plain_init, NULL };
	const git_error *ge;

	if (cafile != NULL && tlsstream_load_ca(cafile, err, errlen) == -1)
		return -1;
	if (git_stream_register(GIT_STREAM_TLS, &tls) < 0 ||
	    git_stream_register(GIT_STREAM_STANDARD, &plain) < 0) {
		ge = git_error_last();
		snprintf(err, errlen, "unable to register the TLS stream: %s",
		    ge != NULL ? ge->message : "libgit2 error");
		return -1;
	}
	return 0;
}
