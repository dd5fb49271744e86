/* See LICENSE. A sliding-window log per client address, so one flooding address cannot
 * starve the others (the original had one window for everybody). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "hookd.h"

#define RATE_BUCKETS	1024

/*
 * One address: the times of its accepted requests within the window, oldest first, in a
 * ring that grows as needed (never past the limit). Chained into a bucket by next.
 */
struct rate_slot {
	char		 addr[HTTP_ADDRSTRLEN];
	uint64_t	*ts;
	size_t		 cap, head, n;
	uint64_t	 last;
	int		 next;		/* index of the next slot in the bucket, -1 at the end */
	int		 used;
};

struct rate_table {
	int		 bucket[RATE_BUCKETS];
	int		 nused;
};

static unsigned
hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % RATE_BUCKETS;
}

int
rate_init(struct ratelimit *r, int limit)
{
	struct rate_table *t;
	int i;

	memset(r, 0, sizeof(*r));
	r->limit = limit < 1 ? 1 : limit;
	/* The bucket heads live after the slots, in the same allocation. */
	r->nslots = HOOKD_RATE_ADDRS_MAX;
	r->slots = calloc(1, r->nslots * sizeof(struct rate_slot) + sizeof(struct rate_table));
	if (r->slots == NULL)
		return -1;
	t = (struct rate_table *)(r->slots + r->nslots);
	for (i = 0; i < RATE_BUCKETS; i++)
		t->bucket[i] = -1;
	return 0;
}

void
rate_free(struct ratelimit *r)
{
	size_t i;

	if (r->slots == NULL)
		return;
	for (i = 0; i < r->nslots; i++)
		free(r->slots[i].ts);
	free(r->slots);
	r->slots = NULL;
}

static void
unlink_slot(struct ratelimit *r, struct rate_table *t, int idx)
{
	int *p = &t->bucket[hash(r->slots[idx].addr)];

	while (*p != -1 && *p != idx)
		p = &r->slots[*p].next;
	if (*p == idx)
		*p = r->slots[idx].next;
}

static struct rate_slot *
lookup(struct ratelimit *r, const char *addr, uint64_t now)
{
	struct rate_table *t = (struct rate_table *)(r->slots + r->nslots);
	unsigned h = hash(addr);
	struct rate_slot *s;
	size_t i;
	int idx, victim = -1;

	for (idx = t->bucket[h]; idx != -1; idx = r->slots[idx].next)
		if (strcmp(r->slots[idx].addr, addr) == 0)
			return &r->slots[idx];
	/*
	 * A new address takes a free slot, or the one seen longest ago: forgetting an
	 * address only gives it a fresh window, it never blocks anybody.
	 */
	if ((size_t)t->nused < r->nslots)
		victim = t->nused++;
	else {
		for (i = 0; i < r->nslots; i++)
			if (victim == -1 || r->slots[i].last < r->slots[victim].last)
				victim = (int)i;
		unlink_slot(r, t, victim);
	}
	s = &r->slots[victim];
	s->head = s->n = 0;
	s->used = 1;
	s->last = now;
	memset(s->addr, 0, sizeof(s->addr));
	strncpy(s->addr, addr, sizeof(s->addr) - 1);
	s->next = t->bucket[h];
	t->bucket[h] = victim;
	return s;
}

uint64_t
rate_check(struct ratelimit *r, const char *addr, uint64_t now)
{
	struct rate_slot *s = lookup(r, addr, now);
	uint64_t oldest, *nts;
	size_t ncap, i;

	s->last = now;
	/*
	 * Forget the times that have left the window; a request 60 s after the oldest one
	 * is allowed, so the wait answered below is at most the window itself.
	 */
	while (s->n > 0 && s->ts[s->head] + HOOKD_RATE_WINDOW_MS <= now) {
		s->head = (s->head + 1) % s->cap;
		s->n--;
	}
	if (s->n >= (size_t)r->limit) {
		oldest = s->ts[s->head];
		r->rejected++;
		return oldest + HOOKD_RATE_WINDOW_MS - now;
	}
	if (s->n == s->cap) {
		ncap = s->cap ? s->cap * 2 : 8;
		if (ncap > (size_t)r->limit)
			ncap = (size_t)r->limit;
		if ((nts = malloc(ncap * sizeof(*nts))) == NULL)
			return 0;	/* no memory to count: let it through, never fail closed */
		for (i = 0; i < s->n; i++)
			nts[i] = s->ts[(s->head + i) % s->cap];
		free(s->ts);
		s->ts = nts;
		s->cap = ncap;
		s->head = 0;
	}
	s->ts[(s->head + s->n) % s->cap] = now;
	s->n++;
	return 0;
}
