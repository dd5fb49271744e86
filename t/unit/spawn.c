/* See LICENSE. lib/spawn: a helper thread starts with every signal blocked. */
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "spawn.h"
#include "tap.h"

static sigset_t seen;

static void *
look(void *arg)
{
	pthread_sigmask(SIG_SETMASK, NULL, &seen);
	return arg;
}

int
main(void)
{
	static const int sigs[] = { SIGTERM, SIGHUP, SIGINT, SIGCHLD, SIGUSR1, SIGPIPE };
	sigset_t before, after;
	pthread_t th;
	void *ret = NULL;
	size_t i;
	int all = 1;

	sigemptyset(&before);
	sigaddset(&before, SIGUSR2);
	pthread_sigmask(SIG_SETMASK, &before, NULL);
	sigemptyset(&seen);
	is_int(spawn_thread(&th, look, &th), 0, "spawn_thread starts a thread");
	ok(pthread_join(th, &ret) == 0 && ret == &th, "it runs the function with its argument");
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		all &= sigismember(&seen, sigs[i]) == 1;
	ok(all, "in the thread, SIGTERM, SIGHUP, SIGINT, SIGCHLD, SIGUSR1 and SIGPIPE are blocked");
	pthread_sigmask(SIG_SETMASK, NULL, &after);
	ok(sigismember(&after, SIGUSR2) == 1 && sigismember(&after, SIGTERM) == 0 &&
	    sigismember(&after, SIGHUP) == 0, "the caller's own mask is as it was");
	return done_testing();
}
