/* See LICENSE. The verifier thread: signatures and payloads checked off the event loop. */
#include <sys/eventfd.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spawn.h"
#include "verify.h"

/*
 * The HMAC of a body and the parse of its JSON are a third of what the loop spent on a
 * delivery; on this thread they run beside the loop's reading, writing and committing.
 * The loop hands a job over (the condition variable is signalled only when the thread
 * waits), the thread checks it and queues it back, and the eventfd wakes the loop only
 * when the queue back was empty: under load, one wake-up carries many jobs each way.
 * Only the two queues and the flags are shared, under mu; a job belongs to one side at a
 * time.
 */
struct verifier {
	pthread_t	 th;
	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	struct vjob	*in, **intail;
	struct vjob	*out, **outtail;
	int		 waiting;	/* the thread sleeps on cv */
	int		 stop;
	int		 efd;		/* thread -> loop */
	int		 inflight;	/* the loop's count: submitted, not yet done */
	jsmntok_t	*toks;		/* the thread's own */
	verify_done_cb	*done;
	struct hookd	*h;
};

void
vjob_free(struct vjob *j)
{
	if (j == NULL)
		return;
	delivery_free(j->d);
	wipe(j, sizeof(*j));
	free(j);
}

void
verifier_check(struct vjob *j, jsmntok_t *toks)
{
	unsigned char mac[HMAC_SHA256_LEN];
	char hex[HMAC_SHA256_HEX + 1];
	struct delivery *d = j->d;

	hmac_update(&j->cur, d->payload, d->payloadlen);
	hmac_final(&j->cur, mac);
	hex_encode(mac, sizeof(mac), hex);
	if (ct_equal(hex, j->sig, HMAC_SHA256_HEX))
		j->verdict = V_CURRENT;
	else if (j->has_prev) {
		hmac_update(&j->prev, d->payload, d->payloadlen);
		hmac_final(&j->prev, mac);
		hex_encode(mac, sizeof(mac), hex);
		j->verdict = ct_equal(hex, j->sig, HMAC_SHA256_HEX) ? V_PREVIOUS : V_BADSIG;
	} else
		j->verdict = V_BADSIG;
	wipe(mac, sizeof(mac));
	wipe(hex, sizeof(hex));
	wipe(&j->cur, sizeof(j->cur));
	wipe(&j->prev, sizeof(j->prev));
	if (j->verdict == V_BADSIG)
		return;
	if (delivery_check(d, d->payload, d->payloadlen, NULL, j->toolong, toks, j->msg,
	    sizeof(j->msg)) == -1)
		j->verdict = errno == ENOMEM ? V_NOMEM : V_BADPAYLOAD;
}

static void *
verifier_main(void *arg)
{
	struct verifier *v = arg;
	struct vjob *j;
	uint64_t one = 1;
	int wake;

	pthread_mutex_lock(&v->mu);
	for (;;) {
		while (v->in == NULL && !v->stop) {
			v->waiting = 1;
			pthread_cond_wait(&v->cv, &v->mu);
			v->waiting = 0;
		}
		if (v->stop)
			break;
		j = v->in;
		if ((v->in = j->next) == NULL)
			v->intail = &v->in;
		pthread_mutex_unlock(&v->mu);
		j->next = NULL;
		verifier_check(j, v->toks);
		pthread_mutex_lock(&v->mu);
		wake = v->out == NULL;
		*v->outtail = j;
		v->outtail = &j->next;
		if (wake) {
			/* Only this thread writes it; a full counter cannot happen at 1 a job. */
			while (write(v->efd, &one, sizeof(one)) == -1 && errno == EINTR)
				;
		}
	}
	pthread_mutex_unlock(&v->mu);
	return NULL;
}

/* The loop's side of the eventfd: every job the thread has finished. */
static void
on_done(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct hookd *h = arg;
	struct verifier *v = h->verifier;
	struct vjob *j, *next;
	uint64_t n;

	while (read(fd, &n, sizeof(n)) == -1 && errno == EINTR)
		;
	pthread_mutex_lock(&v->mu);
	j = v->out;
	v->out = NULL;
	v->outtail = &v->out;
	pthread_mutex_unlock(&v->mu);
	for (; j; j = next) {
		next = j->next;
		j->next = NULL;
		v->inflight--;
		v->done(h, j);
	}
}

void
verifier_submit(struct hookd *h, struct vjob *j)
{
	struct verifier *v = h->verifier;

	j->next = NULL;
	v->inflight++;
	pthread_mutex_lock(&v->mu);
	*v->intail = j;
	v->intail = &j->next;
	if (v->waiting)
		pthread_cond_signal(&v->cv);
	pthread_mutex_unlock(&v->mu);
}

int
verifier_idle(const struct hookd *h)
{
	return h->verifier == NULL || h->verifier->inflight == 0;
}

int
verifier_start(struct hookd *h, verify_done_cb *done)
{
	struct verifier *v;
	int r, e;

	if ((v = calloc(1, sizeof(*v))) == NULL)
		return -1;
	v->intail = &v->in;
	v->outtail = &v->out;
	v->done = done;
	v->h = h;
	if ((v->toks = malloc(HOOKD_JSON_TOKENS * sizeof(*v->toks))) == NULL)
		goto fail;
	if ((v->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		goto fail;
	if (loop_add(&h->loop, v->efd, EPOLLIN, on_done, h) == -1) {
		close(v->efd);
		goto fail;
	}
	pthread_mutex_init(&v->mu, NULL);
	pthread_cond_init(&v->cv, NULL);
	r = spawn_thread(&v->th, verifier_main, v);
	if (r != 0) {
		loop_del(&h->loop, v->efd);
		close(v->efd);
		pthread_mutex_destroy(&v->mu);
		pthread_cond_destroy(&v->cv);
		errno = r;
		goto fail2;
	}
	h->verifier = v;
	return 0;
fail:
	e = errno;
	free(v->toks);
	free(v);
	errno = e;
	return -1;
fail2:
	free(v->toks);
	free(v);
	return -1;
}

void
verifier_stop(struct hookd *h)
{
	struct verifier *v = h->verifier;
	struct vjob *j, *next;

	if (v == NULL)
		return;
	pthread_mutex_lock(&v->mu);
	v->stop = 1;
	pthread_cond_signal(&v->cv);
	pthread_mutex_unlock(&v->mu);
	pthread_join(v->th, NULL);
	for (j = v->in; j; j = next) {
		next = j->next;
		vjob_free(j);
	}
	for (j = v->out; j; j = next) {
		next = j->next;
		vjob_free(j);
	}
	loop_del(&h->loop, v->efd);
	close(v->efd);
	pthread_mutex_destroy(&v->mu);
	pthread_cond_destroy(&v->cv);
	free(v->toks);
	free(v);
	h->verifier = NULL;
}
