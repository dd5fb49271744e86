/* See LICENSE. The committer thread: the group commit, off the event loop. */
#ifndef COMMITTER_H
#define COMMITTER_H

#include "hookd.h"
#include "review.h"

/* On the thread, under the database lock: commit the list; returns 1 when committed. */
typedef int	 commit_fn(struct hookd *, struct delivery *, int *rows);
/* On the loop: answer the list the thread committed (ok) or could not; frees it. */
typedef void	 answer_fn(struct hookd *, struct delivery *, int ok, int rows);

int	 committer_start(struct hookd *, commit_fn *, answer_fn *);
/* Hands a batch over; -1 (and nothing done) while the thread still has the last one. */
int	 committer_submit(struct hookd *, struct delivery *);
int	 committer_busy(const struct hookd *);
/* Blocks until the batch with the thread, if any, is back and answered. */
void	 committer_wait(struct hookd *);
void	 committer_stop(struct hookd *);	/* waits, then joins */

#endif
