/* See LICENSE. What a delivery means, and what the review cycle does with it. */
#ifndef REVIEW_H
#define REVIEW_H

#include "hookd.h"
#include "json.h"

enum review_kind {
	RK_IGNORED,		/* nothing to do, reply "ignored" */
	RK_APPROVED,		/* a review that approves: merge */
	RK_CHANGES,		/* a review that requests changes: count a cycle */
	RK_COMMENTED,		/* a review that only comments: ignored */
	RK_OPENED,		/* pull_request opened or synchronized */
	RK_MERGED,		/* pull_request closed and merged */
};

/*
 * One verified delivery, with what its handler needs copied out of the JSON at once (so
 * the token array is not kept). Strings are owned (malloc) or NULL.
 */
struct delivery {
	uint64_t		 req;		/* the HTTP request to answer */
	uint64_t		 start_ms;
	char			*event;		/* X-Gitea-Event, or "None" */
	char			*event_type;	/* X-Gitea-Event-Type, or NULL */
	char			*delivery_id;	/* X-Gitea-Delivery, or NULL */
	char			 addr[HTTP_ADDRSTRLEN];
	const char		*payload;	/* the raw body, valid until answered */
	size_t			 payloadlen;
	char			*body;		/* the payload's own copy, when it has one */
	enum review_kind	 kind;
	char			*action;
	char			*owner, *name;	/* repository.owner.login, repository.name */
	long long		 number;	/* the PR number */
	char			*reviewer;
	char			*reason;	/* NULL for a JSON null */
	char			*title;
	char			*branch;	/* pull_request.head.ref */
	char			*merged_by;
	char			 issue_id[64];	/* ISSUE-... from the title */
	char			 ignored[160];	/* the message when kind is RK_IGNORED */
	/* Filled at commit time. */
	int			 status;	/* HTTP status of the answer */
	char			*reply;		/* the JSON answer */
	int64_t			 outbox_first;	/* the first outbox row it wrote, or 0 */
	struct delivery		*next;
};

/*
 * Read what the handler needs from a valid payload. Returns 0, or -1 with msg set to why
 * the payload cannot be handled (a missing field): the caller answers 400.
 */
int	 review_classify(struct delivery *, const struct json *, char *msg, size_t msglen);

/*
 * Inside the group-commit transaction: record the delivery (replay protection first),
 * apply its state change and write its outbox rows; sets d->status and d->reply.
 * Returns 0, or -1 with a message (the caller rolls back this delivery alone and
 * answers 500). *rows is increased by the outbox rows written.
 */
int	 review_commit(struct hookd *, struct delivery *, int *rows, char *msg, size_t msglen);

void	 delivery_free(struct delivery *);

/* Percent-encode one path segment (unreserved bytes stay); -1 if it does not fit. */
int	 path_escape(const char *, char *, size_t);

#endif
