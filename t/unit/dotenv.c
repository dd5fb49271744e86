/* See LICENSE. Unit tests for lib/dotenv.c: syntax, caps, precedence, env_truthy. */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dotenv.h"
#include "tap.h"

static char scratch[] = "/tmp/orket-unit-dotenv.XXXXXX";
static char envfile[4200];

/* Write n bytes to the scratch .env file. */
static void
put_file(const char *s, size_t n)
{
	int fd;

	if ((fd = open(envfile, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) == -1 ||
	    write(fd, s, n) != (ssize_t)n || close(fd) == -1) {
		perror(envfile);
		exit(2);
	}
}

/* Load s as a .env file; the result and *err are the caller's to check. */
static int
load(const char *s, int override, struct dotenv_err *err)
{
	put_file(s, strlen(s));
	return dotenv_load(envfile, override, err);
}

/* getenv, but "(unset)" instead of NULL so is_str can show it. */
static const char *
env(const char *name)
{
	const char *v = getenv(name);

	return v ? v : "(unset)";
}

static void
unset_all(const char *const *names)
{
	for (; *names; names++)
		unsetenv(*names);
}

static void
test_syntax(void)
{
	static const char *const names[] = {
		"DT_A", "DT_B", "DT_C", "DT_D", "DT_E", "DT_F", "DT_G", "export", "DT_H", "DT_I",
		"DT_J", "DT_K", "DT_L", "DT_M", "DT_N", "DT_P", "DT_Q", "DT_URL", "DT_U8",
		"DT_T", NULL
	};
	struct dotenv_err err;
	int n;

	unset_all(names);
	n = load("DT_A=1\n  DT_B =  two words  \n", 0, &err);
	is_int(n, 2, "two plain assignments");
	is_str(env("DT_A"), "1", "KEY=VALUE");
	is_str(env("DT_B"), "two words", "spaces around key, '=' and value are trimmed");
	ok(err.line == 0 && err.why == NULL && err.absent == 0, "err is clear on success");

	n = load("# a comment\n\n   \n\t# indented comment\nDT_C=3 # trailing\n"
	    "DT_D=a#b\nDT_E= #only a comment\nDT_T=v\t#tab comment\n", 0, &err);
	is_int(n, 4, "comments and blank lines are skipped");
	is_str(env("DT_C"), "3", "' #' after an unquoted value starts a comment");
	is_str(env("DT_D"), "a#b", "a '#' not after a blank is part of the value");
	is_str(env("DT_E"), "", "a comment right after '=' leaves the empty string");
	is_str(env("DT_T"), "v", "a tab before '#' starts a comment too");

	n = load("export DT_F=6\nexport\tDT_G = 7\nexport = 8\n", 0, &err);
	is_int(n, 3, "export lines");
	is_str(env("DT_F"), "6", "a leading 'export ' is ignored");
	is_str(env("DT_G"), "7", "'export' and a tab");
	is_str(env("export"), "8", "'export = 8' sets a variable named export");

	n = load("DT_H='lit $X \\n \"q\" # not a comment'  # comment\n", 0, &err);
	is_int(n, 1, "a single-quoted value");
	is_str(env("DT_H"), "lit $X \\n \"q\" # not a comment", "single quotes are literal");

	n = load("DT_I=\"a\\nb\\tc\\r\\\"q\\\" \\\\ \\$x #h\" # comment\n", 0, &err);
	is_int(n, 1, "a double-quoted value");
	is_str(env("DT_I"), "a\nb\tc\r\"q\" \\ \\$x #h",
	    "double quotes decode \\n \\t \\r \\\" \\\\ and keep other backslashes");

	n = load("DT_J=\nDT_K=''\nDT_L=\"\"\n", 0, &err);
	is_int(n, 3, "empty values are set");
	ok(strcmp(env("DT_J"), "") == 0 && strcmp(env("DT_K"), "") == 0 &&
	    strcmp(env("DT_L"), "") == 0, "as the empty string");

	n = load("\xef\xbb\xbf" "DT_M=crlf\r\nDT_N='q'\r\n", 0, &err);
	is_int(n, 2, "a byte order mark and CRLF line ends");
	ok(strcmp(env("DT_M"), "crlf") == 0 && strcmp(env("DT_N"), "q") == 0,
	    "CR is not part of the value");

	n = load("DT_P=last", 0, &err);
	is_str(n == 1 ? env("DT_P") : "", "last", "a last line without a newline");

	n = load("DT_Q=1\nDT_Q=2\n", 0, &err);
	is_int(n, 1, "a repeated key is set once");
	is_str(env("DT_Q"), "2", "and the last value wins");

	n = load("DT_URL=postgres://u:p@h/db?x=1&y=#frag\nDT_U8=h\xc3\xa9llo\n", 0, &err);
	is_str(env("DT_URL"), "postgres://u:p@h/db?x=1&y=#frag", "'=' and '#' inside a value");
	is_str(env("DT_U8"), "h\xc3\xa9llo", "UTF-8 in a value");
	unset_all(names);
}

static void
test_precedence(void)
{
	static const char *const names[] = { "DT_R", "DT_S", NULL };
	struct dotenv_err err;
	int n;

	unset_all(names);
	setenv("DT_R", "env", 1);
	n = load("DT_R=file\nDT_S=new\n", 0, &err);
	is_int(n, 1, "only the unset variable counts");
	is_str(env("DT_R"), "env", "a variable already set is not overridden");
	is_str(env("DT_S"), "new", "an unset one is set");

	setenv("DT_S", "", 1);
	n = load("DT_R=file\nDT_S=new\n", 0, &err);
	is_int(n, 0, "a variable set to the empty string is set too");
	is_str(env("DT_S"), "", "and keeps its empty value");

	n = load("DT_R=file\nDT_S=newer\n", 1, &err);
	is_int(n, 2, "override sets both");
	is_str(env("DT_R"), "file", "override replaces the environment's value");
	is_str(env("DT_S"), "newer", "and the earlier load's value");
	unset_all(names);
}

/* Load s, expect EINVAL at line want_line with why, and check that DT_OK stayed unset. */
static void
bad(const char *s, int want_line, const char *want_why, const char *what)
{
	struct dotenv_err err;
	int n;

	unsetenv("DT_OK");
	errno = 0;
	n = load(s, 0, &err);
	ok(n == -1 && errno == EINVAL, "%s: EINVAL", what);
	is_int(err.line, want_line, "%s: line number", what);
	is_str(err.why, want_why, "%s: reason", what);
	is_str(env("DT_OK"), "(unset)", "%s: nothing is set", what);
}

static void
test_errors(void)
{
	bad("DT_OK=1\n1BAD=x\nDT_OK2=2\n", 2, "bad key", "a key starting with a digit");
	bad("DT_OK=1\n\nKEY-NAME=1\n", 3, "bad key", "a '-' in a key");
	bad("DT_OK=1\n=x\n", 2, "bad key", "no key");
	bad("DT_OK=1\nNOEQUALS\n", 2, "missing '='", "a line without '='");
	bad("DT_OK=1\nexport FOO\n", 2, "missing '='", "shell's 'export FOO'");
	bad("DT_OK=1\nMY SECRET=1\n", 2, "missing '='", "a space inside a key");
	bad("DT_OK=1\nV='abc\n", 2, "unterminated quote", "an open single quote");
	bad("DT_OK=1\nV=\"abc\n", 2, "unterminated quote", "an open double quote");
	bad("DT_OK=1\nV=\"abc\\\n", 2, "unterminated quote", "a backslash at the end of a quote");
	bad("DT_OK=1\nV='a' b\n", 2, "text after closing quote", "text after a closing quote");
	bad("DT_OK=1\nV=\"a\"b\n", 2, "text after closing quote", "text after a closing \"");
}

static void
test_caps(void)
{
	static char big[DOTENV_FILE_MAX + 2];
	struct dotenv_err err;
	char *p;
	int n, i;

	/* A line of exactly DOTENV_LINE_MAX bytes, then one a byte longer on line 3. */
	unsetenv("DT_LONG");
	memcpy(big, "DT_LONG=", 8);
	memset(big + 8, 'v', DOTENV_LINE_MAX - 8);
	big[DOTENV_LINE_MAX] = '\n';
	big[DOTENV_LINE_MAX + 1] = '\0';
	n = load(big, 0, &err);
	is_int(n, 1, "a line of exactly DOTENV_LINE_MAX bytes loads");
	is_int(strlen(env("DT_LONG")), DOTENV_LINE_MAX - 8, "with all of its value");
	unsetenv("DT_LONG");

	p = big;
	p += sprintf(p, "DT_OK=1\n# fine\n");
	memcpy(p, "DT_LONG=", 8);
	memset(p + 8, 'v', DOTENV_LINE_MAX - 8 + 1);
	p[DOTENV_LINE_MAX + 1] = '\n';
	p[DOTENV_LINE_MAX + 2] = '\0';
	unsetenv("DT_OK");
	errno = 0;
	n = load(big, 0, &err);
	ok(n == -1 && errno == EINVAL, "a line one byte over DOTENV_LINE_MAX is EINVAL");
	is_int(err.line, 3, "and names line 3");
	is_str(err.why, "line too long", "as too long");
	is_str(env("DT_OK"), "(unset)", "and nothing is set");

	/* CRLF does not count against the line cap. */
	memcpy(big, "DT_LONG=", 8);
	memset(big + 8, 'v', DOTENV_LINE_MAX - 8);
	memcpy(big + DOTENV_LINE_MAX, "\r\n", 3);
	n = load(big, 0, &err);
	is_int(n, 1, "a full line ending in CRLF loads");
	unsetenv("DT_LONG");

	/* A file of exactly DOTENV_FILE_MAX bytes: an assignment, then 1024-byte comments. */
	memset(big, 0, sizeof(big));
	p = big;
	p += sprintf(p, "DT_OK=1\n");
	while (p < big + DOTENV_FILE_MAX) {
		i = (int)(big + DOTENV_FILE_MAX - p);
		if (i > 1024)
			i = 1024;
		p[0] = '#';
		memset(p + 1, 'c', (size_t)i - 1);
		p[i - 1] = '\n';
		p += i;
	}
	unsetenv("DT_OK");
	put_file(big, DOTENV_FILE_MAX);
	n = dotenv_load(envfile, 0, &err);
	is_int(n, 1, "a file of exactly DOTENV_FILE_MAX bytes loads");
	unsetenv("DT_OK");

	big[DOTENV_FILE_MAX] = '\n';
	put_file(big, DOTENV_FILE_MAX + 1);
	errno = 0;
	n = dotenv_load(envfile, 0, &err);
	ok(n == -1 && errno == EFBIG, "one byte more is EFBIG");
	ok(err.line == 0 && err.why && strcmp(err.why, "file too large") == 0,
	    "reported as too large, with no line");
	is_str(env("DT_OK"), "(unset)", "and nothing is set");

	/* DOTENV_VARS_MAX assignments load; one more is refused on its own line. */
	p = big;
	for (i = 0; i < DOTENV_VARS_MAX; i++)
		p += sprintf(p, "DT_V%04d=%d\n", i, i);
	n = load(big, 0, &err);
	is_int(n, DOTENV_VARS_MAX, "DOTENV_VARS_MAX assignments load");
	is_str(env("DT_V1023"), "1023", "the last of them");
	for (i = 0; i < DOTENV_VARS_MAX; i++) {
		sprintf(p, "DT_V%04d", i);
		unsetenv(p);
	}
	p += sprintf(p, "\n# gap\nDT_V9999=x\n");
	errno = 0;
	n = load(big, 0, &err);
	ok(n == -1 && errno == EINVAL, "one more is EINVAL");
	is_int(err.line, DOTENV_VARS_MAX + 3, "on the line of the extra assignment");
	is_str(err.why, "too many variables", "as too many");
	is_str(env("DT_V0000"), "(unset)", "and nothing is set");

	put_file("DT_OK=1\nDT_X=a\0b\n", 17);
	errno = 0;
	n = dotenv_load(envfile, 0, &err);
	ok(n == -1 && errno == EINVAL && err.line == 2 && err.why &&
	    strcmp(err.why, "NUL byte") == 0, "a NUL byte is refused on its line");
	is_str(env("DT_OK"), "(unset)", "and nothing is set");
}

static void
test_files(void)
{
	struct dotenv_err err;
	char path[4300];
	int n;

	snprintf(path, sizeof(path), "%s/absent.env", scratch);
	errno = EPERM;
	n = dotenv_load(path, 0, &err);
	ok(n == 0 && err.absent == 1 && err.why == NULL, "a missing file loads nothing, no error");
	is_int(errno, EPERM, "and leaves errno alone");

	n = dotenv_load(path, 0, NULL);
	is_int(n, 0, "err may be NULL");
	unsetenv("DT_OK");
	put_file("DT_OK=1\nbad line\n", 17);
	n = dotenv_load(envfile, 0, NULL);
	ok(n == -1 && errno == EINVAL, "err may be NULL on an error too");

	errno = 0;
	n = dotenv_load(scratch, 0, &err);
	ok(n == -1 && errno == EISDIR && err.absent == 0, "a folder is EISDIR");
	errno = 0;
	n = dotenv_load(NULL, 0, &err);
	ok(n == -1 && errno == EINVAL, "a NULL path is EINVAL");
}

static void
test_env_helpers(void)
{
	/* Each value with a printable name: TAP descriptions must stay on one line. */
	static const char *const yes[][2] = {
		{ "1", "1" }, { "true", "true" }, { "TRUE", "TRUE" }, { "Yes", "Yes" },
		{ " on ", "' on '" }, { "on\n", "on + LF" }, { NULL, NULL }
	};
	static const char *const no[][2] = {
		{ "0", "0" }, { "false", "false" }, { "", "empty" }, { "  ", "blanks" },
		{ "yes please", "yes please" }, { "2", "2" }, { "no", "no" }, { NULL, NULL }
	};
	const char *s;
	int i;

	unsetenv("DT_B");
	is_int(env_truthy("DT_B"), 0, "env_truthy: unset is false");
	for (i = 0; yes[i][0]; i++) {
		setenv("DT_B", yes[i][0], 1);
		is_int(env_truthy("DT_B"), 1, "env_truthy: %s is true", yes[i][1]);
	}
	for (i = 0; no[i][0]; i++) {
		setenv("DT_B", no[i][0], 1);
		is_int(env_truthy("DT_B"), 0, "env_truthy: %s is false", no[i][1]);
	}

	unsetenv("DT_B");
	ok(env_nonblank("DT_B") == NULL, "env_nonblank: unset is NULL");
	setenv("DT_B", "", 1);
	ok(env_nonblank("DT_B") == NULL, "env_nonblank: empty is NULL");
	setenv("DT_B", " \t\r\n", 1);
	ok(env_nonblank("DT_B") == NULL, "env_nonblank: white space is NULL");
	setenv("DT_B", " s3cret ", 1);
	s = env_nonblank("DT_B");
	is_str(s, " s3cret ", "env_nonblank: the value, untrimmed");
	unsetenv("DT_B");
}

/*
 * The reload path of both daemons: a snapshot of the environment, the files over it, and
 * back to the snapshot, where a variable that only a file had set is gone again.
 */
static void
test_snapshot(void)
{
	char **env0, err[512], cwd[4096], missing[4300];

	unsetenv("DOTENV_T_FILE");
	setenv("DOTENV_T_ENV", "from-env", 1);
	env0 = env_snapshot();
	ok(env0 != NULL, "snapshot: taken");
	put_file("DOTENV_T_FILE=from-file\nDOTENV_T_ENV=file-loses\n", 48);
	ok(getcwd(cwd, sizeof(cwd)) != NULL && chdir(scratch) == 0, "snapshot: into the scratch folder");
	is_int(dotenv_load_files(NULL, err, sizeof(err)), 0, "load_files: ./.env is read");
	is_str(env("DOTENV_T_FILE"), "from-file", "load_files: a variable from ./.env");
	is_str(env("DOTENV_T_ENV"), "from-env", "load_files: the environment beats ./.env");
	env_restore(env0);
	is_str(env("DOTENV_T_FILE"), "(unset)", "restore: what only the file set is gone");
	is_str(env("DOTENV_T_ENV"), "from-env", "restore: the environment is back");
	snprintf(missing, sizeof(missing), "%s/nope.env", scratch);
	is_int(dotenv_load_files(missing, err, sizeof(err)), -1,
	    "load_files: a named --env-file must exist");
	ok(strstr(err, "nope.env") != NULL && strstr(err, "No such file") != NULL,
	    "load_files: and the message names it: %s", err);
	env_restore(env0);
	put_file("DOTENV_T_FILE=ok\n0BAD=x\n", 25);
	is_int(dotenv_load_files(NULL, err, sizeof(err)), -1, "load_files: a bad line fails");
	ok(strstr(err, ".env line 2") != NULL, "load_files: naming file and line: %s", err);
	is_str(env("DOTENV_T_FILE"), "(unset)", "load_files: and nothing of that file is set");
	ok(chdir(cwd) == 0, "snapshot: back");
	env_free(env0);
	env_free(NULL);
	unsetenv("DOTENV_T_ENV");
}

static void
argv_free(char **argv, int n)
{
	int i;

	for (i = 0; i <= n && i <= ENV_ARGV_MAX; i++) {
		free(argv[i]);
		argv[i] = NULL;
	}
}

/* The daemons' typed variables: whole numbers in a range, commands as argv, with caps. */
static void
test_typed(void)
{
	char *argv[ENV_ARGV_MAX + 1], err[256], big[4096], *d;
	int argc, v, i;
	size_t n;

	setenv("DOTENV_T_INT", " 42 ", 1);
	ok(env_int("DOTENV_T_INT", 7, 1, 42, &v, err, sizeof(err)) == 0 && v == 42,
	    "env_int: the top of the range, blanks around");
	setenv("DOTENV_T_INT", "43", 1);
	ok(env_int("DOTENV_T_INT", 7, 1, 42, &v, err, sizeof(err)) == -1 &&
	    strcmp(err, "DOTENV_T_INT must be a whole number from 1 to 42") == 0,
	    "env_int: one past it is an error naming the variable: %s", err);
	setenv("DOTENV_T_INT", "4x", 1);
	is_int(env_int("DOTENV_T_INT", 7, 1, 42, &v, err, sizeof(err)), -1, "env_int: 4x is no number");
	setenv("DOTENV_T_INT", "  ", 1);
	ok(env_int("DOTENV_T_INT", 7, 1, 42, &v, err, sizeof(err)) == 0 && v == 7,
	    "env_int: blank is the default");
	unsetenv("DOTENV_T_INT");
	ok((d = env_dup("DOTENV_T_INT", "def")) != NULL && strcmp(d, "def") == 0,
	    "env_dup: unset is the default");
	free(d);

	for (n = 0, i = 0; i < 32; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "w%d ", i);
	setenv("DOTENV_T_CMD", big, 1);
	ok(env_argv("DOTENV_T_CMD", 32, argv, &argc, err, sizeof(err)) == 0 && argc == 32 &&
	    strcmp(argv[31], "w31") == 0 && argv[32] == NULL, "env_argv: 32 words, the cap");
	argv_free(argv, argc);
	snprintf(big + n, sizeof(big) - n, "w32");
	setenv("DOTENV_T_CMD", big, 1);
	ok(env_argv("DOTENV_T_CMD", 32, argv, &argc, err, sizeof(err)) == -1 &&
	    strcmp(err, "DOTENV_T_CMD has more than 32 words") == 0,
	    "env_argv: 33 words are refused: %s", err);
	argv_free(argv, argc);
	for (n = 1, big[0] = '[', i = 0; i < 32; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "%s\"a %d\"", i ? "," : "", i);
	snprintf(big + n, sizeof(big) - n, "]");
	setenv("DOTENV_T_CMD", big, 1);
	ok(env_argv("DOTENV_T_CMD", 32, argv, &argc, err, sizeof(err)) == 0 && argc == 32 &&
	    strcmp(argv[0], "a 0") == 0, "env_argv: a JSON array of 32, spaces kept");
	argv_free(argv, argc);
	snprintf(big + n, sizeof(big) - n, ",\"x\"]");
	setenv("DOTENV_T_CMD", big, 1);
	ok(env_argv("DOTENV_T_CMD", 32, argv, &argc, err, sizeof(err)) == -1 &&
	    strstr(err, "1 to 32 strings") != NULL, "env_argv: 33 in JSON are refused: %s", err);
	argv_free(argv, argc);
	setenv("DOTENV_T_CMD", "[\"\", \"x\"]", 1);
	ok(env_argv("DOTENV_T_CMD", 32, argv, &argc, err, sizeof(err)) == -1 &&
	    strstr(err, "empty program") != NULL, "env_argv: an empty program is refused");
	argv_free(argv, argc);
	setenv("DOTENV_T_CMD", "[1]", 1);
	is_int(env_argv("DOTENV_T_CMD", 32, argv, &argc, err, sizeof(err)), -1,
	    "env_argv: numbers are not strings");
	argv_free(argv, argc);
	setenv("DOTENV_T_CMD", " \t ", 1);
	ok(env_argv("DOTENV_T_CMD", 32, argv, &argc, err, sizeof(err)) == 0 && argc == 0,
	    "env_argv: blank is no command");
	unsetenv("DOTENV_T_CMD");
}

int
main(void)
{
	if (mkdtemp(scratch) == NULL) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(envfile, sizeof(envfile), "%s/.env", scratch);

	test_syntax();
	test_precedence();
	test_errors();
	test_caps();
	test_files();
	test_env_helpers();
	test_snapshot();
	test_typed();

	unlink(envfile);
	ok(rmdir(scratch) == 0, "the scratch folder is removed");
	return done_testing();
}
