/* See LICENSE. lib/cli: the readiness descriptor of -d and the option reader. */
#include <sys/resource.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tap.h"

static void
test_notify_fd(void)
{
	struct rlimit rl;
	int fd = open("/dev/null", O_RDONLY), hi = 0;

	ok(fd >= 3, "a descriptor to name");
	is_int(cli_notify_fd("2"), -1, "notify_fd: 2 is below 3");
	is_int(cli_notify_fd(""), -1, "notify_fd: empty");
	is_int(cli_notify_fd("3x"), -1, "notify_fd: trailing garbage");
	is_int(cli_notify_fd("-3"), -1, "notify_fd: negative");
	close(400);
	is_int(cli_notify_fd("400"), -1, "notify_fd: a closed descriptor");
	if (dup2(fd, 400) == 400)
		is_int(cli_notify_fd("400"), 400, "notify_fd: an open one");
	/* The cap: 1024 is taken when open, 1025 never, even when open. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur <= CLI_NOTIFY_FD_MAX + 1 &&
	    rl.rlim_max > CLI_NOTIFY_FD_MAX + 1) {
		rl.rlim_cur = CLI_NOTIFY_FD_MAX + 2;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (dup2(fd, CLI_NOTIFY_FD_MAX) == CLI_NOTIFY_FD_MAX &&
	    dup2(fd, CLI_NOTIFY_FD_MAX + 1) == CLI_NOTIFY_FD_MAX + 1)
		hi = 1;
	if (hi) {
		is_int(cli_notify_fd("1024"), 1024, "notify_fd: 1024, the cap, open");
		is_int(cli_notify_fd("1025"), -1, "notify_fd: 1025, one past, open but refused");
	} else {
		ok(1, "# SKIP no descriptor 1025 here");
		ok(1, "# SKIP no descriptor 1025 here");
	}
	close(400);
	close(CLI_NOTIFY_FD_MAX);
	close(CLI_NOTIFY_FD_MAX + 1);
	close(fd);
}

static void
test_optval(void)
{
	char *argv[] = { "p", "--db=x.db", "--db", "y.db", "--dbx", "z", NULL };
	int i;

	i = 1;
	is_str(cli_optval(6, argv, &i, "--db"), "x.db", "optval: --db=VALUE");
	i = 2;
	is_str(cli_optval(6, argv, &i, "--db"), "y.db", "optval: --db VALUE");
	is_int(i, 3, "optval: and steps past the value");
	i = 4;
	ok(cli_optval(6, argv, &i, "--db") == NULL && i == 4, "optval: --dbx is another option");
}

int
main(void)
{
	cli_init("usage: p\n");
	test_notify_fd();
	test_optval();
	return done_testing();
}
