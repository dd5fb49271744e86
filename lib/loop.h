/* See LICENSE. One single-threaded epoll loop: descriptors, timers, signals, end of turn. */
#ifndef LOOP_H
#define LOOP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/epoll.h>

/*
 * A turn of the loop is: wait in epoll_wait (no longer than the earliest timer), read the
 * monotonic clock once, call the callback of every descriptor that is ready (at most
 * LOOP_EVENTS_MAX per turn), call every timer that has expired, then call the end-of-turn
 * hooks once each. A daemon that group-commits does its commit in an end-of-turn hook: all
 * the requests that arrived in one turn share one transaction, and their deferred responses
 * are sent right after it.
 *
 * Nothing here is thread-safe: one loop belongs to one thread. The loop allocates only
 * when a table grows (descriptors, timers); callbacks never see a partly changed loop, and
 * they may add, change or delete any descriptor or timer, including their own.
 */
#define LOOP_EVENTS_MAX	256		/* ready descriptors taken per epoll_wait */
#define LOOP_FD_MAX	(1 << 20)	/* highest descriptor number + 1 the loop accepts */
#define LOOP_TIMERS_MAX	(1 << 22)	/* armed timers at once */
#define LOOP_TURN_MAX	8		/* end-of-turn hooks */
#define LOOP_NSIG	65		/* signal numbers 1..64 */

struct loop;
struct loop_timer;

/*
 * events is what epoll reported (EPOLLIN, EPOLLOUT, EPOLLERR, EPOLLHUP...); a callback that
 * sees EPOLLERR or EPOLLHUP should read or write to learn the error, then loop_del and close.
 */
typedef void	 loop_io_cb(struct loop *, int fd, uint32_t events, void *arg);
typedef void	 loop_timer_cb(struct loop *, struct loop_timer *, void *arg);
typedef void	 loop_turn_cb(struct loop *, void *arg);
typedef void	 loop_signal_cb(struct loop *, int signo, void *arg);

/*
 * A timer lives in memory its owner provides (usually inside a bigger struct, so arming
 * one allocates nothing) and sits in the loop's min-heap while armed. Deadlines are
 * absolute, in the loop's monotonic milliseconds. Its fields are private: use the
 * functions below.
 */
struct loop_timer {
	uint64_t	 when;		/* deadline, loop milliseconds */
	uint64_t	 seq;		/* arming order: equal deadlines fire first-armed first */
	size_t		 slot;		/* heap index + 1; 0 when not armed */
	loop_timer_cb	*cb;
	void		*arg;
	int		 owned;		/* allocated by loop_timer_add */
};

/* One registered descriptor; the table is indexed by descriptor number. */
struct loop_io {
	loop_io_cb	*cb;
	void		*arg;
	uint32_t	 events;
	uint32_t	 gen;		/* changes at each loop_add, so stale events are dropped */
	int		 used;
};

struct loop {
	int		 epfd;
	int		 stop;
	uint64_t	 now;		/* cached monotonic milliseconds */
	struct loop_io	*io;
	size_t		 nio;
	uint32_t	 gen;
	struct loop_timer **heap;
	size_t		 nheap, heapcap;
	uint64_t	 seq;
	struct {
		loop_turn_cb	*cb;
		void		*arg;
	}		 turn[LOOP_TURN_MAX];
	int		 nturn;
	int		 sigfd;
	int		 sigblocked;	/* oldmask holds the mask to restore */
	sigset_t	 sigmask, oldmask;
	struct {
		loop_signal_cb	*cb;
		void		*arg;
	}		 sig[LOOP_NSIG];
};

/* loop_init returns 0, or -1 with errno; loop_free is safe after a failed init. */
int	 loop_init(struct loop *);
void	 loop_free(struct loop *);

/*
 * Run turns until loop_stop is called (from any callback); the turn in progress is
 * finished first. Returns 0, or -1 with errno if epoll_wait failed (EINTR is retried).
 */
int	 loop_run(struct loop *);
void	 loop_stop(struct loop *);

/*
 * One turn, waiting at most max_ms (-1: until a descriptor or timer is due). For tests and
 * for programs that drive the loop from their own. Returns the number of ready
 * descriptors, or -1 with errno.
 */
int	 loop_once(struct loop *, int max_ms);

/* The monotonic clock in milliseconds as read at the start of this turn. */
uint64_t loop_now_ms(const struct loop *);
/* Read the clock again (after a long callback). */
uint64_t loop_update_time(struct loop *);

/*
 * Descriptors. events are EPOLLIN, EPOLLOUT and any other epoll flag (level-triggered
 * unless EPOLLET is given); 0 keeps the descriptor registered but quiet. loop_add fails
 * with EEXIST if fd is registered; loop_mod changes the events (and keeps cb and arg)
 * and fails with ENOENT if fd is not registered, so a libcurl socket callback can
 * call loop_mod and fall back to loop_add. loop_del forgets fd: call it before close(fd).
 * It does not fail when the kernel already forgot the descriptor (it was closed).
 */
int	 loop_add(struct loop *, int fd, uint32_t events, loop_io_cb *, void *arg);
int	 loop_mod(struct loop *, int fd, uint32_t events);
int	 loop_del(struct loop *, int fd);

/*
 * Timers. loop_timer_init prepares an embedded timer. loop_timer_set arms (or re-arms) it
 * to fire ms milliseconds after loop_now_ms; loop_timer_set_at takes an absolute deadline.
 * A timer fires once: it is disarmed before its callback runs, and the callback may arm it
 * again. Arming a timer from a callback for 0 ms runs it in the next turn, never in the
 * same one. loop_timer_stop disarms (harmless if not armed). Arming fails only when the
 * heap cannot grow (ENOMEM, or ENOSPC past LOOP_TIMERS_MAX).
 *
 * libcurl's CURLMOPT_TIMERFUNCTION maps onto one embedded timer: -1 is loop_timer_stop,
 * any other value is loop_timer_set.
 *
 * loop_timer_add allocates a timer, arms it and returns it (NULL with errno on failure);
 * free it with loop_timer_free, which also disarms it. It may be freed from its own
 * callback.
 */
void	 loop_timer_init(struct loop_timer *, loop_timer_cb *, void *arg);
int	 loop_timer_set(struct loop *, struct loop_timer *, uint64_t ms);
int	 loop_timer_set_at(struct loop *, struct loop_timer *, uint64_t when);
void	 loop_timer_stop(struct loop *, struct loop_timer *);
int	 loop_timer_armed(const struct loop_timer *);
struct loop_timer *loop_timer_add(struct loop *, uint64_t ms, loop_timer_cb *, void *arg);
void	 loop_timer_free(struct loop *, struct loop_timer *);

/*
 * End-of-turn hooks, called in the order they were added, once per turn (also in a turn
 * where nothing happened). ENOSPC past LOOP_TURN_MAX. loop_off_turn removes one.
 */
int	 loop_on_turn(struct loop *, loop_turn_cb *, void *arg);
void	 loop_off_turn(struct loop *, loop_turn_cb *, void *arg);

/*
 * Signals arrive through one signalfd: loop_signal blocks signo with sigprocmask (the mask
 * in force before the first call is restored by loop_free) and calls cb in the loop for it.
 * A later call for the same signo replaces cb. The kernel merges pending instances of one
 * signal: after SIGCHLD, reap every child (waitpid(-1, ..., WNOHANG) until it returns 0).
 * Children started with fork+exec inherit the blocked mask; reset it in the child
 * (sigprocmask(SIG_SETMASK, &l->oldmask, NULL)) before exec. EINVAL for a bad signo.
 */
int	 loop_signal(struct loop *, int signo, loop_signal_cb *, void *arg);

#endif
