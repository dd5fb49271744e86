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

#endif
