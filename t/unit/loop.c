/* See LICENSE. Unit tests for lib/loop: timers, descriptors, signals, end of turn. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "loop.h"
#include "tap.h"

#define NSTRESS	10000

struct rec {
	int	 order[8];
	int	 n;
	int	 turns;
	int	 spins;
	int	 fired;
	int	 sig;
	int	 stale;
	int	 readable;
	int	 fds[4];		/* ra, wa, rb, wb */
	int	 newfd;
	uint64_t last;
	int	 sorted;
	struct loop_timer *self;
};

static void
order_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	struct rec *r = arg;

	r->order[r->n++] = (int)(t - (struct loop_timer *)r->self);
}

static void
turn_cb(struct loop *l, void *arg)
{
	((struct rec *)arg)->turns++;
}

static void
spin_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	struct rec *r = arg;

	r->spins++;
	loop_timer_set(l, t, 0);
}

static void
stress_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	struct rec *r = arg;

	if (t->when < r->last)
		r->sorted = 0;
	r->last = t->when;
	r->fired++;
}

static void
owned_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	((struct rec *)arg)->fired++;
	loop_timer_free(l, t);
}

static void
stop_cb(struct loop *l, struct loop_timer *t, void *arg)
{
	loop_stop(l);
}

static void
sig_cb(struct loop *l, int signo, void *arg)
{
	((struct rec *)arg)->sig = signo;
}

static void
new_cb(struct loop *l, int fd, uint32_t ev, void *arg)
{
	((struct rec *)arg)->stale++;
}

/* Whichever pipe is seen first deletes the other and reuses its descriptor number. */
static void
pipe_cb(struct loop *l, int fd, uint32_t ev, void *arg)
{
	struct rec *r = arg;
	int other = fd == r->fds[0] ? r->fds[2] : r->fds[0];
	int p[2];

	r->readable++;
	loop_del(l, fd);
	if (other == -1)
		return;
	loop_del(l, other);
	close(other);
	if (pipe(p) == 0) {
		r->newfd = p[0];
		close(p[1]);
		if (p[0] != other) {
			/* Not the same number: force it. */
			dup2(p[0], other);
			close(p[0]);
			r->newfd = other;
		}
		loop_add(l, r->newfd, EPOLLIN, new_cb, r);
	}
	if (other == r->fds[0])
		r->fds[0] = -1;
	else
		r->fds[2] = -1;
}

static void
rd_cb(struct loop *l, int fd, uint32_t ev, void *arg)
{
	char c;

	if (read(fd, &c, 1) == 1)
		((struct rec *)arg)->readable++;
}

int
main(void)
{
	struct loop l;
	struct loop_timer t[4], *st, *ot;
	struct rec r;
	sigset_t cur;
	int p[2], i, n, ok1;

	memset(&r, 0, sizeof(r));
	ok(loop_init(&l) == 0, "loop_init");
	r.self = t;
	ok(loop_now_ms(&l) > 0, "the clock is read at init");

	/* Order. */
	for (i = 0; i < 4; i++)
		loop_timer_init(&t[i], order_cb, &r);
	loop_timer_set(&l, &t[0], 30);
	loop_timer_set(&l, &t[1], 10);
	loop_timer_set(&l, &t[2], 20);
	loop_timer_set(&l, &t[3], 20);
	ok(loop_timer_armed(&t[0]) && loop_timer_armed(&t[3]), "armed");
	loop_timer_set(&l, &t[0], 5);
	loop_timer_stop(&l, &t[2]);
	loop_timer_stop(&l, &t[2]);
	ok(!loop_timer_armed(&t[2]), "stopped twice, harmless");
	while (r.n < 3)
		loop_once(&l, 100);
	ok(r.n == 3 && r.order[0] == 0 && r.order[1] == 1 && r.order[2] == 3,
	    "timers fire by deadline, a re-armed one moves, a stopped one never fires");

	/* End of turn and a 0 ms timer that re-arms itself. */
	ok(loop_on_turn(&l, turn_cb, &r) == 0, "loop_on_turn");
	loop_timer_init(&t[0], spin_cb, &r);
	loop_timer_set(&l, &t[0], 0);
	for (i = 0; i < 5; i++)
		loop_once(&l, 0);
	ok(r.spins == 5 && r.turns == 5,
	    "a self-re-arming 0 ms timer runs once per turn (%d) and each turn ends once (%d)",
	    r.spins, r.turns);
	loop_timer_stop(&l, &t[0]);
	loop_off_turn(&l, turn_cb, &r);
	loop_once(&l, 0);
	ok(r.turns == 5, "loop_off_turn");
	for (i = 0; i < LOOP_TURN_MAX; i++)
		loop_on_turn(&l, turn_cb, &r);
	errno = 0;
	ok(loop_on_turn(&l, turn_cb, &r) == -1 && errno == ENOSPC, "LOOP_TURN_MAX hooks");
	for (i = 0; i < LOOP_TURN_MAX; i++)
		loop_off_turn(&l, turn_cb, &r);

	/* The heap under load: NSTRESS deadlines, half of them cancelled. */
	st = calloc(NSTRESS, sizeof(*st));
	srand(7);
	for (i = 0; i < NSTRESS; i++) {
		loop_timer_init(&st[i], stress_cb, &r);
		loop_timer_set_at(&l, &st[i], loop_now_ms(&l) - 1 - (uint64_t)(rand() % 100000));
	}
	for (i = 0; i < NSTRESS; i += 2)
		loop_timer_stop(&l, &st[i]);
	for (i = 1; i < NSTRESS; i += 4)
		loop_timer_set_at(&l, &st[i], loop_now_ms(&l) - 1 - (uint64_t)(rand() % 100000));
	r.fired = 0;
	r.sorted = 1;
	r.last = 0;
	loop_once(&l, 0);
	ok(r.fired == NSTRESS / 2 && r.sorted, "%d timers: %d fired, in deadline order",
	    NSTRESS, r.fired);
	free(st);

	/* Allocated timers may free themselves. */
	r.fired = 0;
	ot = loop_timer_add(&l, 0, owned_cb, &r);
	ok(ot != NULL, "loop_timer_add");
	loop_once(&l, 0);
	ok(r.fired == 1, "an allocated timer fired and freed itself");
	loop_timer_free(&l, loop_timer_add(&l, 1000, owned_cb, &r));
	ok(l.nheap == 0, "loop_timer_free disarms");

	/* Descriptors. */
	ok(pipe(p) == 0, "pipe");
	ok(loop_add(&l, p[0], EPOLLIN, rd_cb, &r) == 0, "loop_add");
	errno = 0;
	ok(loop_add(&l, p[0], EPOLLIN, rd_cb, &r) == -1 && errno == EEXIST,
	    "loop_add twice: EEXIST");
	errno = 0;
	ok(loop_mod(&l, p[1], EPOLLOUT) == -1 && errno == ENOENT, "loop_mod unknown: ENOENT");
	r.readable = 0;
	n = (int)write(p[1], "ab", 2);
	loop_once(&l, 100);
	ok(n == 2 && r.readable == 1, "level-triggered read callback");
	loop_mod(&l, p[0], 0);
	loop_once(&l, 20);
	ok(r.readable == 1, "events 0 keeps it quiet");
	loop_mod(&l, p[0], EPOLLIN);
	loop_once(&l, 100);
	ok(r.readable == 2, "and EPOLLIN again wakes it");
	loop_del(&l, p[0]);
	close(p[0]);
	close(p[1]);
	ok(loop_del(&l, p[0]) == -1 && errno == ENOENT, "loop_del twice: ENOENT");

	/* A stale event for a descriptor deleted in the same turn is dropped. */
	ok1 = pipe(r.fds) == 0 && pipe(r.fds + 2) == 0;
	n = (int)write(r.fds[1], "x", 1) + (int)write(r.fds[3], "x", 1);
	loop_add(&l, r.fds[0], EPOLLIN, pipe_cb, &r);
	loop_add(&l, r.fds[2], EPOLLIN, pipe_cb, &r);
	r.readable = r.stale = 0;
	loop_once(&l, 100);
	ok(ok1 && n == 2 && r.readable == 1 && r.stale == 0,
	    "a deleted descriptor's pending event reaches neither it nor its reuse");
	loop_del(&l, r.newfd);
	close(r.newfd);
	close(r.fds[0] == -1 ? r.fds[2] : r.fds[0]);
	close(r.fds[1]);
	close(r.fds[3]);

	/* Signals. */
	ok(loop_signal(&l, SIGKILL, sig_cb, &r) == -1 && errno == EINVAL, "SIGKILL refused");
	ok(loop_signal(&l, SIGUSR1, sig_cb, &r) == 0, "loop_signal SIGUSR1");
	ok(loop_signal(&l, SIGUSR2, sig_cb, &r) == 0, "loop_signal SIGUSR2");
	raise(SIGUSR2);
	loop_once(&l, 100);
	ok(r.sig == SIGUSR2, "a blocked signal arrives through the loop");

	/* loop_run until a timer stops it. */
	loop_timer_init(&t[0], stop_cb, NULL);
	loop_timer_set(&l, &t[0], 10);
	ok(loop_run(&l) == 0, "loop_run returns after loop_stop");

	loop_free(&l);
	sigprocmask(SIG_SETMASK, NULL, &cur);
	ok(!sigismember(&cur, SIGUSR1) && !sigismember(&cur, SIGUSR2),
	    "loop_free restores the signal mask");
	return done_testing();
}
