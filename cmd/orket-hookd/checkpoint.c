/* See LICENSE. WAL checkpoints on a thread of their own, out of the event loop. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookd.h"

/*
 * A checkpoint copies the WAL back into the database and fsyncs it: milliseconds of I/O
 * that, inside the loop, every waiting delivery would feel. The loop's connection turns
 * its automatic checkpoints off; its WAL hook wakes this thread when the log has grown,
 * and the thread runs a PASSIVE checkpoint on its own connection, which never blocks the
 * writer. Only this thread's connection is used here; the one flag word is under mu.
 */
struct ckpt {
	pthread_t	 th;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	int		 stop;
	int		 want;
	int		 pages;		/* WAL pages at the last commit */
	sqlite3		*db;
	uint64_t	 runs;
};

#define CKPT_PAGES	1000	/* WAL pages that ask for a checkpoint, as SQLite's default */
/*
 * Under a steady stream of commits a PASSIVE checkpoint never catches up with the writer,
 * and SQLite can only start the WAL over once every frame is copied back: the file would
 * grow without end. Past this many pages the writer itself, right after its commit, runs a
 * PASSIVE checkpoint with no other writer in the way: it copies what the thread has not,
 * and the next commit starts the WAL over. That costs the loop a few milliseconds (the
 * database's fsync) once every 16 MB of WAL; bench/hookd measures it.
 */
#define CKPT_RESTART_PAGES	4000

static void *
ckpt_main(void *arg)
{
	struct ckpt *c = arg;
	struct timespec ts;
	int go, pages;

	for (;;) {
		pthread_mutex_lock(&c->mu);
		while (!c->stop && !c->want) {
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_sec += 1;
			if (pthread_cond_timedwait(&c->cv, &c->mu, &ts) == ETIMEDOUT)
				break;	/* a checkpoint a second anyway, while idle */
		}
		go = !c->stop;
		c->want = 0;
		pages = c->pages;
		pthread_mutex_unlock(&c->mu);
		if (!go)
			break;
		(void)pages;
		sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		c->runs++;
	}
	return NULL;
}

static int
wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct ckpt *c = arg;

	if (pages >= CKPT_RESTART_PAGES) {
		sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		return SQLITE_OK;
	}
	if (pages >= CKPT_PAGES) {
		pthread_mutex_lock(&c->mu);
		c->want = 1;
		c->pages = pages;
		pthread_cond_signal(&c->cv);
		pthread_mutex_unlock(&c->mu);
	}
	return SQLITE_OK;
}

int
checkpoint_start(struct hookd *h)
{
	struct ckpt *c;
	sigset_t all, old;
	int r;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	if (sqlite3_open_v2(h->cfg.webhook_db, &c->db, SQLITE_OPEN_READWRITE, NULL) !=
	    SQLITE_OK) {
		sqlite3_close(c->db);
		free(c);
		errno = EIO;
		return -1;
	}
	sqlite3_busy_timeout(c->db, DB_BUSY_TIMEOUT_MS_CKPT);
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	/* Every signal blocked in the thread: they belong to the loop's signalfd. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	r = pthread_create(&c->th, NULL, ckpt_main, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0) {
		pthread_mutex_destroy(&c->mu);
		pthread_cond_destroy(&c->cv);
		sqlite3_close(c->db);
		free(c);
		errno = EAGAIN;
		return -1;
	}
	/* The hook replaces the automatic checkpoints of the loop's connection. */
	sqlite3_wal_hook(h->db, wal_hook, c);
	h->ckpt = c;
	return 0;
}

void
checkpoint_stop(struct hookd *h)
{
	struct ckpt *c = h->ckpt;

	if (c == NULL)
		return;
	sqlite3_wal_hook(h->db, NULL, NULL);
	pthread_mutex_lock(&c->mu);
	c->stop = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	pthread_join(c->th, NULL);
	sqlite3_close(c->db);
	pthread_mutex_destroy(&c->mu);
	pthread_cond_destroy(&c->cv);
	free(c);
	h->ckpt = NULL;
}
