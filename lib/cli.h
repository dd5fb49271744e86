/* See LICENSE. The option handling the command-line programs share. */
#ifndef CLI_H
#define CLI_H

/*
 * main calls cli_init(usage) first. cli_dieusage prints "PROG: warning: MESSAGE" (fmt
 * with one %s for arg), then the usage text, and exits 100. cli_optval matches argv[*i]
 * against --name: it returns the value of "--name value" (stepping *i past it) or
 * "--name=value", NULL when the argument is another option, and dies when the value is
 * missing. MT-unsafe: the usage text is process-wide.
 */
void		 cli_init(const char *usage);
void		 cli_dieusage(const char *fmt, const char *arg) __attribute__((noreturn));
const char	*cli_optval(int argc, char **argv, int *i, const char *name);

/*
 * The readiness descriptor of -d FD (s6's notification-fd): a decimal number from 3 to
 * CLI_NOTIFY_FD_MAX naming an open descriptor, or -1.
 */
#define CLI_NOTIFY_FD_MAX	1024
int		 cli_notify_fd(const char *);

/*
 * The daemons' command line: -h/--help and --version (print, exit 0), -d FD into *readyfd,
 * --env-file PATH (or --env-file=PATH) into *envfile; anything else is exit 100 with the
 * usage text. VERSION is the line --version prints.
 */
void		 cli_daemon_args(int argc, char **argv, const char *version, int *readyfd,
		    const char **envfile);

#endif
