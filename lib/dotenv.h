/* See LICENSE. Loading .env files into the environment, and reading boolean and blank variables. */
#ifndef DOTENV_H
#define DOTENV_H

#include <stddef.h>

/*
 * The syntax, one assignment per line:
 *
 *	# a comment line; blank lines are skipped too
 *	KEY=value			value up to the end of the line, spaces trimmed
 *	export KEY = value # note	a leading "export " is ignored; " #" starts a comment
 *	KEY=a#b				a '#' not after a space or tab is part of the value
 *	KEY='literal $ \n "'		single quotes: taken as is
 *	KEY="line\nnext \"q\" \\"	double quotes: \n \r \t \" \\ decoded, any other
 *					backslash kept as written
 *	KEY=				the empty string
 *
 * A key matches [A-Za-z_][A-Za-z0-9_]*. Quotes hold one line (no multi-line values), and
 * after a closing quote only spaces or a comment may follow. CRLF line ends and a UTF-8
 * byte order mark are accepted. When a key appears twice the last value wins, as with
 * python-dotenv.
 *
 * Caps: the file may hold DOTENV_FILE_MAX bytes, a line DOTENV_LINE_MAX bytes (without its
 * line end) and the file DOTENV_VARS_MAX assignments.
 */
#define DOTENV_FILE_MAX	(64 * 1024)
#define DOTENV_LINE_MAX	4096
#define DOTENV_VARS_MAX	1024

/*
 * What went wrong, for a message such as "FILE:LINE: why". It never quotes the line: values
 * are secrets, and a bad line may be a value pasted on a line of its own.
 */
struct dotenv_err {
	int		 line;		/* first bad line, from 1; 0 when not about a line */
	const char	*why;		/* static text, or NULL */
	int		 absent;	/* 1 when the file does not exist */
};

/*
 * dotenv_load reads path and sets its variables. All or nothing: the whole file is checked
 * before the first variable is set, so a config with a typo never half applies. It returns
 * the number of variables it set, or -1 with errno and *err filled in (err may be NULL):
 *
 *	EINVAL	a bad line (err->line and err->why say which and why; this covers a bad key,
 *		a missing '=', a bad quote, a NUL byte, a line over DOTENV_LINE_MAX and more
 *		than DOTENV_VARS_MAX assignments): a config error, exit 100
 *	EFBIG	the file is larger than DOTENV_FILE_MAX: exit 100
 *	other	the error of open(2) or read(2), or ENOMEM from setenv: exit 111
 *
 * A missing file is not an error: it returns 0 with err->absent set.
 *
 * With override 0 a variable already in the environment keeps its value (SPEC §1: the
 * environment, and so a flag, beats the file). override 1 is for a daemon's SIGHUP reload,
 * where the file is the newer truth; note that a variable that was loaded from the file
 * before is "already set" for override 0, so a reload that must pick up changed values
 * uses override 1. A variable removed from the file stays in the environment.
 *
 * MT-unsafe: it changes the environment, which no other thread may read meanwhile. The file
 * contents are wiped from memory before they are freed.
 */
int	 dotenv_load(const char *path, int override, struct dotenv_err *err);

/*
 * A daemon's configuration comes from its environment, then ./.env, then --env-file; a
 * SIGHUP reload starts again from the environment as the process got it, so that a
 * variable removed from a file is really gone and the environment still beats the files.
 *
 * env_snapshot copies environ (NULL on ENOMEM); env_restore makes the environment that
 * copy again (setenv, not putenv: the C library owns its copies, so nothing leaks when
 * the next reload clears them); env_free wipes and frees a NULL-ended array of strings,
 * a snapshot or a child's envp. dotenv_load_files loads ./.env if it exists and then
 * ENVFILE (may be NULL), which must exist; on error ERR names the file and the line.
 */
char	**env_snapshot(void);
void	 env_restore(char *const *);
void	 env_free(char **);
int	 dotenv_load_files(const char *envfile, char *err, size_t errlen);

/*
 * Reading a daemon's variables. env_dup: a copy of the value, or of DEF when it is unset
 * or empty (NULL only for a NULL DEF, or ENOMEM). env_int: DEF when unset or blank, else
 * a whole decimal number in [min, max], surrounding blanks allowed; anything else is a
 * configuration error (-1, ERR names the variable), never a silent default. env_argv: a
 * command as a JSON array of 1 to MAX (at most ENV_ARGV_MAX) strings, or as words
 * separated by blanks (no quoting), into ARGV (MAX + 1 slots, NULL-ended) and *ARGC; unset
 * or blank leaves *ARGC at 0. An empty program name is refused.
 */
#define ENV_ARGV_MAX	64

char	*env_dup(const char *name, const char *def);
int	 env_int(const char *name, int def, int min, int max, int *out, char *err,
	    size_t errlen);
int	 env_argv(const char *name, int max, char **argv, int *argc, char *err,
	    size_t errlen);

/* 1 when the variable is 1, true, yes or on (spaces trimmed, any case), else 0. */
int	 env_truthy(const char *name);

/* The variable's value, untrimmed, or NULL when it is unset, empty or only white space. */
const char	*env_nonblank(const char *name);

#endif
