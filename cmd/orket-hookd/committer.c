/* See LICENSE. The committer thread: the group commit, off the event loop. */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "committer.h"
#include "spawn.h"

/*
 * A group commit writes and checksums the WAL frames of every delivery in it, and now and
 * then copies the last of the WAL back and syncs the database: work that, on the loop,
 * every connection waited for. Here the loop hands a whole batch over and goes on reading
 * and verifying; what arrives meanwhile gathers into the next batch, handed over as soon
 * as this one is back. One batch is with the thread at a time, so commits keep their
 * order. The thread holds the database lock (hookd_db_lock) while it commits; the loop
 * takes the same lock for its own uses of the database (the outbox, /metrics).
 */
struct committer {
	pthread_t	 th;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct delivery	*in;		/* handed over, not yet taken */
	struct delivery	*out;		/* committed, not yet answered */
	int		 ok, rows;	/* of out */
	int		 has_out;
	int		 stop;
	int		 busy;		/* the loop's word: a batch is with the thread */
	int		 efd;		/* thread -> loop */
	commit_fn	*commit;
	answer_fn	*answer;
	struct hookd	*h;
};

static void *
committer_main(void *arg)
{
	struct committer *c = arg;
	struct delivery *list;
	uint64_t one = 1;
	int ok, rows;

	pthread_mutex_lock(&c->mu);
	for (;;) {
		while (c->in == NULL && !c->stop)
			pthread_cond_wait(&c->cv, &c->mu);
		if (c->in == NULL)
			break;	/* stopping, and nothing left to commit */
		list = c->in;
		c->in = NULL;
		pthread_mutex_unlock(&c->mu);
		rows = 0;
		hookd_db_lock(c->h);
		ok = c->commit(c->h, list, &rows);
		hookd_db_unlock(c->h);
		pthread_mutex_lock(&c->mu);
		c->out = list;
		c->ok = ok;
		c->rows = rows;
		c->has_out = 1;
		pthread_cond_broadcast(&c->cv);	/* committer_wait */
		while (write(c->efd, &one, sizeof(one)) == -1 && errno == EINTR)
			;
	}
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* Takes the committed batch back, if there is one, and answers it on the loop. */
static int
take(struct hookd *h)
{
	struct committer *c = h->committer;
	struct delivery *list;
	int ok, rows, has;

	pthread_mutex_lock(&c->mu);
	has = c->has_out;
	list = c->out;
	ok = c->ok;
	rows = c->rows;
	c->out = NULL;
	c->has_out = 0;
	pthread_mutex_unlock(&c->mu);
	if (!has)
		return 0;
	c->busy = 0;
	c->answer(h, list, ok, rows);
	return 1;
}

static void
on_done(struct loop *l, int fd, uint32_t events, void *arg)
{
	uint64_t n;

	while (read(fd, &n, sizeof(n)) == -1 && errno == EINTR)
		;
	take(arg);
}

int
committer_submit(struct hookd *h, struct delivery *list)
{
	struct committer *c = h->committer;

	if (c == NULL || c->busy || list == NULL)
		return -1;
	c->busy = 1;
	pthread_mutex_lock(&c->mu);
	c->in = list;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return 0;
}

int
committer_busy(const struct hookd *h)
{
	return h->committer != NULL && h->committer->busy;
}

void
committer_wait(struct hookd *h)
{
	struct committer *c = h->committer;
	uint64_t n;

	while (c != NULL && c->busy) {
		pthread_mutex_lock(&c->mu);
		while (!c->has_out)
			pthread_cond_wait(&c->cv, &c->mu);
		pthread_mutex_unlock(&c->mu);
		while (read(c->efd, &n, sizeof(n)) == -1 && errno == EINTR)
			;
		take(h);
	}
}

int
committer_start(struct hookd *h, commit_fn *commit, answer_fn *answer)
{
	struct committer *c;
	int r;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->commit = commit;
	c->answer = answer;
	c->h = h;
	if ((c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1) {
		free(c);
		return -1;
	}
	if (loop_add(&h->loop, c->efd, EPOLLIN, on_done, h) == -1) {
		close(c->efd);
		free(c);
		return -1;
	}
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	if ((r = spawn_thread(&c->th, committer_main, c)) != 0) {
		loop_del(&h->loop, c->efd);
		close(c->efd);
		pthread_mutex_destroy(&c->mu);
		pthread_cond_destroy(&c->cv);
		free(c);
		errno = r;
		return -1;
	}
	h->committer = c;
	return 0;
}

void
committer_stop(struct hookd *h)
{
	struct committer *c = h->committer;

	if (c == NULL)
		return;
	committer_wait(h);
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->th, NULL);
	loop_del(&h->loop, c->efd);
	close(c->efd);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
	h->committer = NULL;
}
