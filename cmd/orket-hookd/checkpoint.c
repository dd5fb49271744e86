/* See LICENSE. WAL checkpoints on a thread of their own, out of the event loop. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hookd.h"
#include "spawn.h"

/*
 * A checkpoint copies the WAL back into the database and fsyncs it: milliseconds of I/O
 * that, inside the loop, every waiting delivery would feel. The loop's connection turns
 * its automatic checkpoints off; its WAL hook wakes this thread when the log has grown,
 * and the thread runs a PASSIVE checkpoint on its own connection, which never blocks the
 * writer. Only this thread uses its connection; the shared words are under mu.
 */
struct ckpt {
	pthread_t	 th;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;		/* the thread waits here for work */
	pthread_cond_t	 idle;		/* the writer waits here, at the hard bound only */
	int		 stop;
	int		 want;
	int		 running;	/* the thread is in a checkpoint */
	int		 backfilled;	/* WAL frames the thread's last checkpoint copied */
	sqlite3		*db;
	struct ckpt_stats st;		/* under mu */
	int		 pages;		/* the CKPT_*_BYTES in pages of this database */
	int		 tail_pages;
	int		 restart_pages;
	int		 max_pages;
};

/*
 * SQLite starts the WAL over only when a write transaction begins with every frame already
 * copied back. Under a steady stream the thread copies in parallel, but the loop's next
 * transaction nearly always begins while it is still copying, so the WAL would only grow.
 * Hence the division of work: the thread copies the bulk as soon as the log passes
 * CKPT_BYTES, and keeps up with it; once the log has passed CKPT_RESTART_BYTES and the
 * thread is idle with all but CKPT_TAIL_BYTES copied, the writer, right after its
 * commit, checkpoints the few frames left, and its next transaction starts the WAL over.
 * That costs the loop the copy of a few frames and two fsyncs, which under a busy disk
 * can take milliseconds: a large restart point makes it rare (once per 32 MB of WAL),
 * so that it stays out of the 99th percentile. At CKPT_MAX_BYTES (64 MB) the writer waits
 * for a running thread and copies the rest itself: the bound holds even when the disk is
 * slower than the stream, and the stream is then slowed down to the disk's pace.
 */
#define CKPT_BYTES		(4 << 20)
#define CKPT_TAIL_BYTES		(1 << 20)
#define CKPT_RESTART_BYTES	(32 << 20)
#define CKPT_MAX_BYTES		(64 << 20)

static void *
ckpt_main(void *arg)
{
	struct ckpt *c = arg;
	struct timespec ts;
	int go, nlog, nckpt;

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
		c->running = go;
		pthread_mutex_unlock(&c->mu);
		if (!go)
			break;
		nlog = nckpt = -1;
		sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_PASSIVE, &nlog, &nckpt);
		pthread_mutex_lock(&c->mu);
		if (nckpt > c->backfilled)
			c->st.thread_frames += (uint64_t)(nckpt - c->backfilled);
		c->backfilled = nckpt > 0 ? nckpt : 0;
		c->st.thread_runs++;
		c->running = 0;
		pthread_cond_broadcast(&c->idle);
		pthread_mutex_unlock(&c->mu);
	}
	return NULL;
}

static int
wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct ckpt *c = arg;
	int tail, nlog = -1, nckpt = -1, done;

	if (pages < c->pages)
		return SQLITE_OK;
	/*
	 * While the thread copies, the writer's checkpoint would find the checkpoint lock
	 * taken and do nothing: the next commit looks again, unless the bound is reached.
	 */
	pthread_mutex_lock(&c->mu);
	if (c->running && pages < c->max_pages) {
		pthread_mutex_unlock(&c->mu);
		return SQLITE_OK;
	}
	while (c->running)
		pthread_cond_wait(&c->idle, &c->mu);
	/* More copied than there is: the WAL started over since, by itself. */
	if ((done = c->backfilled) > pages)
		done = c->backfilled = 0;
	tail = (pages >= c->restart_pages && pages - done <= c->tail_pages) ||
	    pages >= c->max_pages;
	if (!tail && pages - done > c->tail_pages) {
		c->want = 1;
		pthread_cond_signal(&c->cv);
	}
	pthread_mutex_unlock(&c->mu);
	if (!tail || sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, &nlog,
	    &nckpt) != SQLITE_OK)
		return SQLITE_OK;
	pthread_mutex_lock(&c->mu);
	if (nckpt > done)
		c->st.writer_frames += (uint64_t)(nckpt - done);
	c->st.writer_runs++;
	c->backfilled = 0;	/* the WAL starts over: the count is stale */
	pthread_mutex_unlock(&c->mu);
	return SQLITE_OK;
}

void
checkpoint_stats(struct hookd *h, struct ckpt_stats *st)
{
	struct ckpt *c = h->ckpt;

	memset(st, 0, sizeof(*st));
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->mu);
	*st = c->st;
	pthread_mutex_unlock(&c->mu);
}

static int
page_size(void *arg, int n, char **v, char **names)
{
	*(int *)arg = n == 1 && v[0] ? atoi(v[0]) : 0;
	return 0;
}

int
checkpoint_start(struct hookd *h)
{
	struct ckpt *c;
	int r, ps = 0;

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
	/*
	 * A connection learns that the database is in WAL mode when it first reads it; until
	 * then a checkpoint on it returns at once, having done nothing. Read it now.
	 */
	if (sqlite3_exec(c->db, "PRAGMA journal_mode", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_exec(c->db, "PRAGMA page_size", page_size, &ps, NULL) != SQLITE_OK ||
	    ps < 512) {
		sqlite3_close(c->db);
		free(c);
		errno = EIO;
		return -1;
	}
	c->pages = CKPT_BYTES / ps;
	c->tail_pages = CKPT_TAIL_BYTES / ps;
	c->restart_pages = CKPT_RESTART_BYTES / ps;
	c->max_pages = CKPT_MAX_BYTES / ps;
	pthread_mutex_init(&c->mu, NULL);
	pthread_cond_init(&c->cv, NULL);
	pthread_cond_init(&c->idle, NULL);
	r = spawn_thread(&c->th, ckpt_main, c);
	if (r != 0) {
		pthread_mutex_destroy(&c->mu);
		pthread_cond_destroy(&c->cv);
		pthread_cond_destroy(&c->idle);
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
	pthread_cond_destroy(&c->idle);
	free(c);
	h->ckpt = NULL;
}
