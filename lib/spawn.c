/* See LICENSE. */
#include <sys/resource.h>
#include <sys/syscall.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include "spawn.h"

/* Every descriptor from 3 up is closed before exec; close_range when the kernel has it. */
static void
close_from3(void)
{
	struct rlimit rl;
	long fd, max = 65536;

#ifdef SYS_close_range
	if (syscall(SYS_close_range, 3U, ~0U, 0U) == 0)
		return;
#endif
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    (long)rl.rlim_cur < max)
		max = (long)rl.rlim_cur;
	for (fd = 3; fd < max; fd++)
		close((int)fd);
}

int
spawn_child_setup(int out, int err, const sigset_t *mask)
{
	sigset_t none;
	int sig, nul, p[2];

	/* A daemon started with 0, 1 or 2 closed could have the pipe there. */
	if (out < 3 && (out = fcntl(out, F_DUPFD, 3)) == -1)
		return -1;
	if (err >= 0 && err < 3 && (err = fcntl(err, F_DUPFD, 3)) == -1)
		return -1;
	setsid();
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	if (mask == NULL) {
		sigemptyset(&none);
		mask = &none;
	}
	sigprocmask(SIG_SETMASK, mask, NULL);
	if ((nul = open("/dev/null", O_RDONLY)) == -1) {
		if (pipe(p) == -1)
			return -1;
		close(p[1]);
		nul = p[0];
	}
	if (dup2(nul, 0) == -1 || dup2(out, 1) == -1 || (err >= 0 && dup2(err, 2) == -1))
		return -1;
	close_from3();
	return 0;
}

int
spawn_thread(pthread_t *th, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int r;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(th, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return r;
}
