/* See LICENSE. orket-hookd: the sandbox command, in its own process group, on the loop. */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dotenv.h"
#include "buf.h"
#include "hookd.h"
#include "log.h"
#include "loop.h"
#include "spawn.h"

/*
 * A run is complete when two things have happened, in either order: the child was reaped
 * (sandbox_sigchld) and its output pipe reached end of file. Waiting for both means the
 * output is whole and no zombie is left. A grandchild that keeps the pipe open holds the
 * run until the timeout, which kills the whole process group.
 */

#define SB_ENV_MAX	64		/* variables passed to the command */
#define SB_READ_TURN	16		/* reads per wake-up, so others get a turn */
#define SB_TIMEDOUT	(-(1000 + ETIMEDOUT))

struct sb_child {
	struct sb_child	*next;
	struct sandbox	*sb;
	pid_t		 pid;		/* and group id: the child calls setsid */
	int		 fd;		/* the output pipe's read end, -1 after EOF */
	int		 reaped;
	int		 status;	/* exit status, or -signal */
	int		 timed_out;
	struct buf	 out;
	struct loop_timer timer;
	sandbox_done_cb	*cb;
	void		*arg;
};

struct sandbox {
	struct hookd	*h;
	struct sb_child	*children;
	int		 n;
};

static const char *const env_base[] = { "PATH", "HOME", "LANG", "LC_ALL", "TZ" };

int
sandbox_init(struct hookd *h)
{
	struct sandbox *sb;

	if ((sb = calloc(1, sizeof(*sb))) == NULL)
		return -1;
	sb->h = h;
	h->sandbox = sb;
	return 0;
}

int
sandbox_running(struct hookd *h)
{
	return h->sandbox != NULL ? h->sandbox->n : 0;
}

static int
env_has(char **env, int n, const char *name, size_t len)
{
	int i;

	for (i = 0; i < n; i++)
		if (strncmp(env[i], name, len) == 0 && env[i][len] == '=')
			return 1;
	return 0;
}

static int
env_add(char **env, int *n, const char *name, size_t len)
{
	char key[256], *v, *s;
	size_t vlen;

	if (len == 0 || len >= sizeof(key) || memchr(name, '=', len) != NULL ||
	    env_has(env, *n, name, len) || *n == SB_ENV_MAX)
		return 0;
	memcpy(key, name, len);
	key[len] = '\0';
	if ((v = getenv(key)) == NULL)
		return 0;
	vlen = strlen(v);
	if ((s = malloc(len + vlen + 2)) == NULL)
		return -1;
	memcpy(s, name, len);
	s[len] = '=';
	memcpy(s + len + 1, v, vlen + 1);
	env[(*n)++] = s;
	return 0;
}

/*
 * The environment of the command: nothing but the basic five and the names listed in
 * ORKET_SANDBOX_ENV_ALLOW. Secrets (GITEA_*, ORKET_API_KEY) pass only when named there.
 */
static char **
env_build(const char *allow)
{
	char **env;
	const char *p, *e;
	size_t i;
	int n = 0;

	if ((env = calloc(SB_ENV_MAX + 1, sizeof(*env))) == NULL)
		return NULL;
	for (i = 0; i < sizeof(env_base) / sizeof(env_base[0]); i++)
		if (env_add(env, &n, env_base[i], strlen(env_base[i])) == -1)
			goto fail;
	for (p = allow; p != NULL && *p != '\0'; p = *e ? e + 1 : e) {
		e = p + strcspn(p, ",");
		while (p < e && (*p == ' ' || *p == '\t'))
			p++;
		i = (size_t)(e - p);
		while (i > 0 && (p[i - 1] == ' ' || p[i - 1] == '\t'))
			i--;
		if (env_add(env, &n, p, i) == -1)
			goto fail;
	}
	return env;
fail:
	for (i = 0; env[i] != NULL; i++)
		free(env[i]);
	free(env);
	return NULL;
}

/* In the child, between fork and exec: failure ends in _exit, never in exit. */
static void __attribute__((noreturn))
child(struct hookd *h, int wfd, char **argv, char **envp)
{
	char msg[512];
	size_t n;

	if (spawn_child_setup(wfd, wfd, h->loop.sigblocked ? &h->loop.oldmask : NULL) == -1)
		_exit(126);
	execvpe(argv[0], argv, envp);
	n = (size_t)snprintf(msg, sizeof(msg), "orket-hookd: unable to run %s: %s\n", argv[0],
	    strerror(errno));
	if (n >= sizeof(msg))
		n = sizeof(msg) - 1;
	(void)!write(2, msg, n);
	_exit(errno == ENOENT ? 127 : 126);
}

static void
child_finish(struct sb_child *c);

static void
child_close_pipe(struct sb_child *c)
{
	if (c->fd == -1)
		return;
	loop_del(&c->sb->h->loop, c->fd);
	close(c->fd);
	c->fd = -1;
}

/* Read what is there; keep the first HOOKD_OUTPUT_MAX bytes and drop the rest. */
static void
child_drain(struct sb_child *c)
{
	char tmp[16384];
	size_t room;
	ssize_t r;
	int i;

	for (i = 0; i < SB_READ_TURN; i++) {
		r = read(c->fd, tmp, sizeof(tmp));
		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1 && errno == EAGAIN)
			return;
		if (r <= 0) {
			child_close_pipe(c);
			return;
		}
		room = c->out.max - c->out.len;
		if (room > 0)
			buf_add(&c->out, tmp, (size_t)r < room ? (size_t)r : room);
	}
}

static void
on_pipe(struct loop *l, int fd, uint32_t events, void *arg)
{
	struct sb_child *c = arg;

	child_drain(c);
	if (c->fd == -1)
		child_finish(c);
}

static int
wait_status(int st)
{
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	if (WIFSIGNALED(st))
		return -WTERMSIG(st);
	return -1;
}

/* The timeout: kill the whole group. The run ends when the child has been reaped. */
static void
on_timeout(struct loop *l, struct loop_timer *t, void *arg)
{
	struct sb_child *c = arg;

	c->timed_out = 1;
	if (kill(-c->pid, SIGKILL) == -1 && !c->reaped)
		kill(c->pid, SIGKILL);
	if (c->fd != -1)
		child_drain(c);
	/* A process outside the group may still hold the pipe: stop waiting for it. */
	child_close_pipe(c);
	child_finish(c);
}

static void
child_unlink(struct sb_child *c)
{
	struct sb_child **pp;

	for (pp = &c->sb->children; *pp != NULL; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			c->sb->n--;
			return;
		}
}

static void
child_release(struct sb_child *c)
{
	child_close_pipe(c);
	loop_timer_stop(&c->sb->h->loop, &c->timer);
	buf_free(&c->out);
	free(c);
}

/* Complete once reaped and at end of output; the callback may start another run. */
static void
child_finish(struct sb_child *c)
{
	struct hookd *h = c->sb->h;
	int st, status;
	pid_t r;

	if (!c->reaped && c->fd == -1) {
		/* EOF first: the child may be gone already even if SIGCHLD is not here yet. */
		do
			r = waitpid(c->pid, &st, WNOHANG);
		while (r == -1 && errno == EINTR);
		if (r == c->pid) {
			c->reaped = 1;
			c->status = wait_status(st);
		}
	}
	if (!c->reaped || c->fd != -1)
		return;
	child_unlink(c);
	status = c->timed_out ? SB_TIMEDOUT : c->status;
	loop_timer_stop(&h->loop, &c->timer);
	if (c->cb != NULL)
		c->cb(h, c->arg, status, c->timed_out, c->out.p ? c->out.p : "", c->out.len);
	child_release(c);
}

int
sandbox_start(struct hookd *h, const char *repo, long pr, const char *branch,
    sandbox_done_cb *cb, void *arg)
{
	struct sandbox *sb = h->sandbox;
	const struct hookd_config *cfg = &h->cfg;
	char *argv[HOOKD_SANDBOX_ARGV_MAX + 4], prs[32], **envp = NULL;
	struct sb_child *c = NULL;
	int pfd[2] = { -1, -1 }, i, n, saved;
	pid_t pid;

	if (sb == NULL || cfg->sandbox_argc <= 0 ||
	    cfg->sandbox_argc > HOOKD_SANDBOX_ARGV_MAX) {
		errno = EINVAL;
		return -1;
	}
	snprintf(prs, sizeof(prs), "%ld", pr);
	for (n = 0; n < cfg->sandbox_argc; n++)
		argv[n] = cfg->sandbox_argv[n];
	argv[n++] = (char *)repo;
	argv[n++] = prs;
	argv[n++] = (char *)(branch ? branch : "");
	argv[n] = NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -1;
	c->sb = sb;
	c->fd = -1;
	c->cb = cb;
	c->arg = arg;
	buf_init(&c->out, HOOKD_OUTPUT_MAX);
	loop_timer_init(&c->timer, on_timeout, c);
	if ((envp = env_build(cfg->sandbox_env_allow)) == NULL)
		goto fail;
	/* Only the read end is non-blocking: the child's stdout stays an ordinary pipe. */
	if (pipe2(pfd, O_CLOEXEC) == -1 ||
	    fcntl(pfd[0], F_SETFL, fcntl(pfd[0], F_GETFL) | O_NONBLOCK) == -1)
		goto fail;
	if ((pid = fork()) == -1)
		goto fail;
	if (pid == 0)
		child(h, pfd[1], argv, envp);
	close(pfd[1]);
	pfd[1] = -1;
	env_free(envp);
	envp = NULL;
	c->pid = pid;
	c->fd = pfd[0];
	c->next = sb->children;
	sb->children = c;
	sb->n++;
	if (loop_add(&h->loop, c->fd, EPOLLIN, on_pipe, c) == -1 ||
	    loop_timer_set(&h->loop, &c->timer, (uint64_t)(cfg->sandbox_timeout_ms > 0 ?
	    cfg->sandbox_timeout_ms : 600000)) == -1) {
		/* It cannot be watched: end it now rather than leave it unsupervised. */
		saved = errno;
		kill(-pid, SIGKILL);
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) == -1 && errno == EINTR)
			;
		child_unlink(c);
		child_release(c);
		errno = saved;
		return -1;
	}
	return 0;
fail:
	saved = errno;
	for (i = 0; i < 2; i++)
		if (pfd[i] != -1)
			close(pfd[i]);
	env_free(envp);
	buf_free(&c->out);
	free(c);
	errno = saved;
	return -1;
}

/*
 * SIGCHLD: the kernel merges pending instances, so reap until nothing is left. A run
 * whose pipe is already at EOF completes here.
 */
void
sandbox_sigchld(struct hookd *h)
{
	struct sb_child *c;
	int st;
	pid_t pid;

	for (;;) {
		pid = waitpid(-1, &st, WNOHANG);
		if (pid == -1 && errno == EINTR)
			continue;
		if (pid <= 0)
			return;
		if (h->sandbox == NULL)
			continue;
		for (c = h->sandbox->children; c != NULL; c = c->next)
			if (c->pid == pid && !c->reaped)
				break;
		if (c == NULL)
			continue;
		c->reaped = 1;
		c->status = wait_status(st);
		child_finish(c);
	}
}

/* Shutdown: kill every run's group and reap it; no callback is called. */
void
sandbox_free(struct hookd *h)
{
	struct sandbox *sb = h->sandbox;
	struct sb_child *c;

	if (sb == NULL)
		return;
	while ((c = sb->children) != NULL) {
		sb->children = c->next;
		kill(-c->pid, SIGKILL);
		if (!c->reaped) {
			kill(c->pid, SIGKILL);
			while (waitpid(c->pid, NULL, 0) == -1 && errno == EINTR)
				;
		}
		child_release(c);
	}
	free(sb);
	h->sandbox = NULL;
}
