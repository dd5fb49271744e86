/* See LICENSE. Bounded, growable byte buffers. */
#ifndef BUF_H
#define BUF_H

#include <stdarg.h>
#include <stddef.h>

/*
 * A buf owns its bytes. It grows on demand up to max bytes and no further: an append
 * that would pass max fails with ENOBUFS and leaves the buffer as it was, so a caller can
 * answer "too large" instead of growing without bound. The bytes are always followed by a
 * NUL that is not counted in len, so p can be used as a C string when it holds text.
 */
struct buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
	size_t	 max;
};

#define BUF_INIT(max) { NULL, 0, 0, (max) }

void	 buf_init(struct buf *, size_t max);
int	 buf_reserve(struct buf *, size_t extra);
int	 buf_add(struct buf *, const void *, size_t);
int	 buf_adds(struct buf *, const char *);
int	 buf_addc(struct buf *, char);
int	 buf_addf(struct buf *, const char *, ...) __attribute__((format(printf, 2, 3)));
int	 buf_vaddf(struct buf *, const char *, va_list);
void	 buf_reset(struct buf *);
void	 buf_free(struct buf *);
char	*buf_steal(struct buf *);

#endif
