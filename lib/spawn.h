/* See LICENSE. The child's half of a fork for the programs a daemon runs. */
#ifndef SPAWN_H
#define SPAWN_H

#include <pthread.h>
#include <signal.h>

/*
 * Called in the child between fork and exec. It makes the child the leader of a new
 * session and process group (so that the daemon can kill the whole group), puts every
 * signal back to its default action and the signal mask to MASK (NULL: nothing blocked),
 * standard input at end of file (/dev/null, or an empty pipe where there is none),
 * standard output OUT, standard error ERR (-1: the daemon's own, for s6-log), and closes
 * every other descriptor. It returns 0, or -1 when the child should _exit(126).
 *
 * It calls no allocator and takes no lock, so it is safe after fork in a daemon with a
 * second thread (orket-hookd's checkpoint thread).
 */
int	 spawn_child_setup(int out, int err, const sigset_t *mask);

/*
 * A helper thread of a daemon whose signals arrive through the loop's signalfd: it starts
 * with every signal blocked, so that none is ever delivered to it. Returns 0, or the
 * error number of pthread_create.
 */
int	 spawn_thread(pthread_t *, void *(*)(void *), void *arg);

#endif
