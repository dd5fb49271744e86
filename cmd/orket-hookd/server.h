/* See LICENSE. */
#ifndef SERVER_H
#define SERVER_H

struct hookd;

int	 server_start(struct hookd *);
void	 server_free(struct hookd *);
void	 hookd_commit(struct hookd *);
void	 hookd_flush(struct hookd *);

#endif
