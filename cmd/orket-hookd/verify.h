/* See LICENSE. The verifier thread: signatures and payloads checked off the event loop. */
#ifndef VERIFY_H
#define VERIFY_H

#include "hmac.h"
#include "hookd.h"
#include "review.h"

/*
 * What the thread found. A delivery signed with either secret then has its payload
 * checked; V_BADPAYLOAD and V_NOMEM come with msg.
 */
enum { V_CURRENT, V_PREVIOUS, V_BADSIG, V_BADPAYLOAD, V_NOMEM };

/* One delivery on its way through the thread; the loop owns it before and after. */
struct vjob {
	struct vjob	*next;
	struct delivery	*d;		/* headers copied; d->body is the owned payload */
	struct hmac	 cur, prev;	/* keyed in on_head, with the secrets of that moment */
	int		 has_prev;
	char		 sig[HMAC_SHA256_HEX + 1];	/* the lowercase hex sent */
	int		 toolong;	/* a header was over its cap */
	int		 verdict;	/* V_*, set by the thread */
	char		 msg[256];
};

/* Called on the loop's thread for every finished job; it owns the job from then on. */
typedef void	 verify_done_cb(struct hookd *, struct vjob *);

/* The check itself, on the caller's thread: hashes, compares, parses; sets verdict. */
void	 verifier_check(struct vjob *, jsmntok_t *toks);
int	 verifier_start(struct hookd *, verify_done_cb *);
void	 verifier_submit(struct hookd *, struct vjob *);
int	 verifier_idle(const struct hookd *);	/* no job in flight */
void	 verifier_stop(struct hookd *);		/* joins; jobs still queued are freed */
void	 vjob_free(struct vjob *);

/*
 * In server.c, used by the thread and by the test route: parse, validate and classify a
 * payload into d. Returns 0, or -1 with msg (answered 400).
 */
int	 delivery_check(struct delivery *, const char *payload, size_t len, const char *action,
	    int toolong, jsmntok_t *toks, char *msg, size_t msglen);

#endif
