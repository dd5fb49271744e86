/* See LICENSE. */
#include <sys/epoll.h>
#include <sys/signalfd.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "loop.h"

static uint64_t
clock_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int
loop_init(struct loop *l)
{
	memset(l, 0, sizeof(*l));
	l->sigfd = -1;
	sigemptyset(&l->sigmask);
	l->now = clock_ms();
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		return -1;
	return 0;
}

void
loop_free(struct loop *l)
{
	size_t i;
	int saved = errno;

	for (i = 0; i < l->nheap; i++) {
		l->heap[i]->slot = 0;
		if (l->heap[i]->owned)
			free(l->heap[i]);
	}
	free(l->heap);
	free(l->io);
	if (l->sigfd != -1)
		close(l->sigfd);
	if (l->sigblocked)
		sigprocmask(SIG_SETMASK, &l->oldmask, NULL);
	if (l->epfd >= 0)
		close(l->epfd);
	memset(l, 0, sizeof(*l));
	l->epfd = l->sigfd = -1;
	errno = saved;
}

void
loop_stop(struct loop *l)
{
	l->stop = 1;
}

uint64_t
loop_now_ms(const struct loop *l)
{
	return l->now;
}

uint64_t
loop_update_time(struct loop *l)
{
	return l->now = clock_ms();
}

/* Descriptors. */

static int
io_grow(struct loop *l, int fd)
{
	struct loop_io *n;
	size_t ncap;

	if (fd < 0 || fd >= LOOP_FD_MAX) {
		errno = EBADF;
		return -1;
	}
	if ((size_t)fd < l->nio)
		return 0;
	ncap = l->nio ? l->nio : 64;
	while (ncap <= (size_t)fd)
		ncap *= 2;
	if ((n = realloc(l->io, ncap * sizeof(*n))) == NULL)
		return -1;
	memset(n + l->nio, 0, (ncap - l->nio) * sizeof(*n));
	l->io = n;
	l->nio = ncap;
	return 0;
}

/*
 * The event carries the descriptor and the generation of its registration: an event
 * that was already fetched for a descriptor that a callback then deleted (and maybe
 * reused for a new connection) is recognised as stale and dropped.
 */
static int
io_ctl(struct loop *l, int op, int fd, uint32_t events)
{
	struct epoll_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.events = events;
	ev.data.u64 = (uint64_t)l->io[fd].gen << 32 | (uint32_t)fd;
	return epoll_ctl(l->epfd, op, fd, &ev);
}

int
loop_add(struct loop *l, int fd, uint32_t events, loop_io_cb *cb, void *arg)
{
	struct loop_io *io;

	if (io_grow(l, fd) == -1)
		return -1;
	io = &l->io[fd];
	if (io->used) {
		errno = EEXIST;
		return -1;
	}
	io->gen = ++l->gen;
	if (io_ctl(l, EPOLL_CTL_ADD, fd, events) == -1)
		return -1;
	io->cb = cb;
	io->arg = arg;
	io->events = events;
	io->used = 1;
	return 0;
}

int
loop_mod(struct loop *l, int fd, uint32_t events)
{
	struct loop_io *io;

	if (fd < 0 || (size_t)fd >= l->nio || !l->io[fd].used) {
		errno = ENOENT;
		return -1;
	}
	io = &l->io[fd];
	if (io->events == events)
		return 0;
	if (io_ctl(l, EPOLL_CTL_MOD, fd, events) == -1)
		return -1;
	io->events = events;
	return 0;
}

int
loop_del(struct loop *l, int fd)
{
	struct loop_io *io;

	if (fd < 0 || (size_t)fd >= l->nio || !l->io[fd].used) {
		errno = ENOENT;
		return -1;
	}
	io = &l->io[fd];
	io->used = 0;
	io->cb = NULL;
	io->arg = NULL;
	io->gen = ++l->gen;
	/* A descriptor closed before loop_del has already left the epoll set. */
	if (epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL) == -1 &&
	    errno != EBADF && errno != ENOENT)
		return -1;
	return 0;
}

/* Timers: a binary min-heap ordered by (when, seq). */

static int
timer_less(const struct loop_timer *a, const struct loop_timer *b)
{
	return a->when < b->when || (a->when == b->when && a->seq < b->seq);
}

static void
heap_place(struct loop *l, size_t i, struct loop_timer *t)
{
	l->heap[i] = t;
	t->slot = i + 1;
}

static void
heap_up(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];
	size_t parent;

	while (i > 0) {
		parent = (i - 1) / 2;
		if (!timer_less(t, l->heap[parent]))
			break;
		heap_place(l, i, l->heap[parent]);
		i = parent;
	}
	heap_place(l, i, t);
}

static void
heap_down(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];
	size_t c;

	for (;;) {
		c = 2 * i + 1;
		if (c >= l->nheap)
			break;
		if (c + 1 < l->nheap && timer_less(l->heap[c + 1], l->heap[c]))
			c++;
		if (!timer_less(l->heap[c], t))
			break;
		heap_place(l, i, l->heap[c]);
		i = c;
	}
	heap_place(l, i, t);
}

static void
heap_remove(struct loop *l, struct loop_timer *t)
{
	size_t i = t->slot - 1;
	struct loop_timer *last;

	t->slot = 0;
	last = l->heap[--l->nheap];
	if (i == l->nheap)
		return;
	heap_place(l, i, last);
	if (i > 0 && timer_less(last, l->heap[(i - 1) / 2]))
		heap_up(l, i);
	else
		heap_down(l, i);
}

void
loop_timer_init(struct loop_timer *t, loop_timer_cb *cb, void *arg)
{
	memset(t, 0, sizeof(*t));
	t->cb = cb;
	t->arg = arg;
}

int
loop_timer_armed(const struct loop_timer *t)
{
	return t->slot != 0;
}

int
loop_timer_set_at(struct loop *l, struct loop_timer *t, uint64_t when)
{
	struct loop_timer **nh;
	size_t ncap;

	if (t->slot)
		heap_remove(l, t);
	if (l->nheap == l->heapcap) {
		if (l->heapcap >= LOOP_TIMERS_MAX) {
			errno = ENOSPC;
			return -1;
		}
		ncap = l->heapcap ? l->heapcap * 2 : 64;
		if ((nh = realloc(l->heap, ncap * sizeof(*nh))) == NULL)
			return -1;
		l->heap = nh;
		l->heapcap = ncap;
	}
	t->when = when;
	t->seq = ++l->seq;
	heap_place(l, l->nheap++, t);
	heap_up(l, l->nheap - 1);
	return 0;
}

int
loop_timer_set(struct loop *l, struct loop_timer *t, uint64_t ms)
{
	return loop_timer_set_at(l, t, l->now + ms);
}

void
loop_timer_stop(struct loop *l, struct loop_timer *t)
{
	if (t->slot)
		heap_remove(l, t);
}

struct loop_timer *
loop_timer_add(struct loop *l, uint64_t ms, loop_timer_cb *cb, void *arg)
{
	struct loop_timer *t;

	if ((t = malloc(sizeof(*t))) == NULL)
		return NULL;
	loop_timer_init(t, cb, arg);
	t->owned = 1;
	if (loop_timer_set(l, t, ms) == -1) {
		free(t);
		return NULL;
	}
	return t;
}

void
loop_timer_free(struct loop *l, struct loop_timer *t)
{
	if (t == NULL)
		return;
	loop_timer_stop(l, t);
	free(t);
}

/*
 * Only timers armed before this pass started may fire in it, so a callback that re-arms
 * itself for 0 ms cannot keep the loop here forever.
 */
static void
timers_run(struct loop *l)
{
	uint64_t limit = l->seq;
	struct loop_timer *t;

	while (l->nheap > 0 && !l->stop) {
		t = l->heap[0];
		if (t->when > l->now || t->seq > limit)
			break;
		heap_remove(l, t);
		t->cb(l, t, t->arg);
	}
}

static int
timeout_ms(const struct loop *l, int max_ms)
{
	uint64_t d;
	int ms;

	if (l->nheap == 0)
		return max_ms;
	if (l->heap[0]->when <= l->now)
		return 0;
	d = l->heap[0]->when - l->now;
	ms = d > 24 * 3600 * 1000 ? 24 * 3600 * 1000 : (int)d;
	return max_ms >= 0 && max_ms < ms ? max_ms : ms;
}

/* End-of-turn hooks. */

int
loop_on_turn(struct loop *l, loop_turn_cb *cb, void *arg)
{
	if (l->nturn == LOOP_TURN_MAX) {
		errno = ENOSPC;
		return -1;
	}
	l->turn[l->nturn].cb = cb;
	l->turn[l->nturn].arg = arg;
	l->nturn++;
	return 0;
}

void
loop_off_turn(struct loop *l, loop_turn_cb *cb, void *arg)
{
	int i;

	for (i = 0; i < l->nturn; i++) {
		if (l->turn[i].cb == cb && l->turn[i].arg == arg) {
			memmove(&l->turn[i], &l->turn[i + 1],
			    (l->nturn - i - 1) * sizeof(l->turn[0]));
			l->nturn--;
			return;
		}
	}
}

/* Signals. */

static void
signal_read(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct signalfd_siginfo si[16];
	ssize_t n, i;
	int signo;

	for (;;) {
		n = read(fd, si, sizeof(si));
		if (n <= 0)
			return;
		for (i = 0; i < n / (ssize_t)sizeof(si[0]); i++) {
			signo = (int)si[i].ssi_signo;
			if (signo > 0 && signo < LOOP_NSIG && l->sig[signo].cb)
				l->sig[signo].cb(l, signo, l->sig[signo].arg);
		}
	}
}

int
loop_signal(struct loop *l, int signo, loop_signal_cb *cb, void *arg)
{
	sigset_t one;
	int fd;

	if (signo <= 0 || signo >= LOOP_NSIG || signo == SIGKILL || signo == SIGSTOP) {
		errno = EINVAL;
		return -1;
	}
	sigemptyset(&one);
	sigaddset(&one, signo);
	if (sigprocmask(SIG_BLOCK, &one, l->sigblocked ? NULL : &l->oldmask) == -1)
		return -1;
	l->sigblocked = 1;
	sigaddset(&l->sigmask, signo);
	fd = signalfd(l->sigfd, &l->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd == -1)
		return -1;
	if (l->sigfd == -1) {
		l->sigfd = fd;
		if (loop_add(l, fd, EPOLLIN, signal_read, NULL) == -1) {
			close(fd);
			l->sigfd = -1;
			return -1;
		}
	}
	l->sig[signo].cb = cb;
	l->sig[signo].arg = arg;
	return 0;
}

/* The loop itself. */

int
loop_once(struct loop *l, int max_ms)
{
	struct epoll_event ev[LOOP_EVENTS_MAX];
	struct loop_io *io;
	uint32_t gen;
	int i, n, fd;

	n = epoll_wait(l->epfd, ev, LOOP_EVENTS_MAX, timeout_ms(l, max_ms));
	l->now = clock_ms();
	if (n == -1) {
		if (errno != EINTR)
			return -1;
		n = 0;
	}
	for (i = 0; i < n && !l->stop; i++) {
		fd = (int)(uint32_t)ev[i].data.u64;
		gen = (uint32_t)(ev[i].data.u64 >> 32);
		if ((size_t)fd >= l->nio)
			continue;
		io = &l->io[fd];
		if (!io->used || io->gen != gen)
			continue;
		io->cb(l, fd, ev[i].events, io->arg);
	}
	timers_run(l);
	for (i = 0; i < l->nturn; i++)
		l->turn[i].cb(l, l->turn[i].arg);
	return n;
}

int
loop_run(struct loop *l)
{
	l->stop = 0;
	while (!l->stop)
		if (loop_once(l, -1) == -1)
			return -1;
	return 0;
}
