/* See LICENSE. .env files: parse the whole file, then set its variables. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dotenv.h"
#include "json.h"

struct pair {
	const char	*key;
	const char	*val;
	int		 line;
};

/* ASCII tests of our own: the syntax must not change with the locale. */
static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static int
is_keystart(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static int
is_keychar(char c)
{
	return is_keystart(c) || (c >= '0' && c <= '9');
}

static char *
skip_blanks(char *p)
{
	while (is_blank(*p))
		p++;
	return p;
}

/* After a closing quote only blanks or a comment may follow. */
static int
rest_is_empty(char *p)
{
	p = skip_blanks(p);
	return *p == '\0' || *p == '#';
}

/*
 * Parse one line, a NUL-terminated string, in place. Return 1 with *key and *val pointing
 * into the line for an assignment, 0 for a blank or comment line, -1 with *why for a bad one.
 */
static int
parse_line(char *s, const char **key, const char **val, const char **why)
{
	char *p, *q, *keyend, *w;

	p = skip_blanks(s);
	if (*p == '\0' || *p == '#')
		return 0;
	/* "export KEY=..." as in shell; but "export = 1" sets a variable named export. */
	if (strncmp(p, "export", 6) == 0 && is_blank(p[6])) {
		q = skip_blanks(p + 6);
		if (*q != '=')
			p = q;
	}
	if (!is_keystart(*p)) {
		*why = "bad key";
		return -1;
	}
	*key = p;
	while (is_keychar(*p))
		p++;
	keyend = p;
	p = skip_blanks(p);
	if (*p != '=') {
		*why = p == keyend && *p != '\0' ? "bad key" : "missing '='";
		return -1;
	}
	p = skip_blanks(p + 1);
	*keyend = '\0';

	if (*p == '\'') {
		if ((q = strchr(p + 1, '\'')) == NULL) {
			*why = "unterminated quote";
			return -1;
		}
		*q = '\0';
		if (!rest_is_empty(q + 1)) {
			*why = "text after closing quote";
			return -1;
		}
		*val = p + 1;
		return 1;
	}
	if (*p == '"') {
		/* Decode in place: an escape is never longer than what it stands for. */
		*val = w = q = p + 1;
		for (;;) {
			if (*q == '\0' || (*q == '\\' && q[1] == '\0')) {
				*why = "unterminated quote";
				return -1;
			}
			if (*q == '"')
				break;
			if (*q != '\\') {
				*w++ = *q++;
				continue;
			}
			switch (q[1]) {
			case 'n':
				*w++ = '\n';
				break;
			case 'r':
				*w++ = '\r';
				break;
			case 't':
				*w++ = '\t';
				break;
			case '"':
			case '\\':
				*w++ = q[1];
				break;
			default:
				/* Unknown escapes stay as written, as python-dotenv leaves them. */
				*w++ = q[0];
				*w++ = q[1];
				break;
			}
			q += 2;
		}
		*w = '\0';
		if (!rest_is_empty(q + 1)) {
			*why = "text after closing quote";
			return -1;
		}
		return 1;
	}
	/*
	 * Unquoted: up to the end, or to a '#' that follows a blank (the blank may be the one
	 * after '='), so that URLs with fragments keep their '#'.
	 */
	*val = p;
	for (q = p; *q != '\0'; q++)
		if (*q == '#' && is_blank(q[-1]))
			break;
	while (q > p && is_blank(q[-1]))
		q--;
	*q = '\0';
	return 1;
}

/* Read at most DOTENV_FILE_MAX bytes of fd into buf, which holds one byte more. */
static ssize_t
read_capped(int fd, char *buf)
{
	size_t len;
	ssize_t n;

	for (len = 0; len <= DOTENV_FILE_MAX; len += (size_t)n) {
		n = read(fd, buf + len, DOTENV_FILE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			n = 0;
		else if (n == -1)
			return -1;
		else if (n == 0)
			return (ssize_t)len;
	}
	errno = EFBIG;
	return -1;
}

static int
fail(struct dotenv_err *err, int line, const char *why, int e)
{
	err->line = line;
	err->why = why;
	errno = e;
	return -1;
}

/* Check every line and collect the assignments; nothing is set yet. */
static int
parse_all(char *buf, size_t len, struct pair *pairs, size_t *npairs, struct dotenv_err *err)
{
	const char *why;
	char *line, *nl;
	size_t n, left;
	int lineno, r;

	*npairs = 0;
	line = buf;
	left = len;
	if (left >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
		line += 3;
		left -= 3;
	}
	for (lineno = 1; left > 0; lineno++) {
		if ((nl = memchr(line, '\n', left)) != NULL)
			n = (size_t)(nl - line);
		else
			n = left;
		left -= n + (nl != NULL);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (n > DOTENV_LINE_MAX)
			return fail(err, lineno, "line too long", EINVAL);
		if (memchr(line, '\0', n) != NULL)
			return fail(err, lineno, "NUL byte", EINVAL);
		line[n] = '\0';
		why = NULL;
		r = parse_line(line, &pairs[*npairs].key, &pairs[*npairs].val, &why);
		if (r == -1)
			return fail(err, lineno, why, EINVAL);
		if (r == 1) {
			if (*npairs == DOTENV_VARS_MAX)
				return fail(err, lineno, "too many variables", EINVAL);
			pairs[(*npairs)++].line = lineno;
		}
		if (nl == NULL)
			break;
		line = nl + 1;
	}
	return 0;
}

int
dotenv_load(const char *path, int override, struct dotenv_err *err)
{
	struct dotenv_err dummy;
	struct pair *pairs = NULL;
	char *buf = NULL;
	size_t npairs, i, j;
	ssize_t len;
	int fd, count = -1, e;

	if (err == NULL)
		err = &dummy;
	err->line = 0;
	err->why = NULL;
	err->absent = 0;
	if (path == NULL) {
		errno = EINVAL;
		return -1;
	}
	e = errno;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY)) == -1) {
		if (errno == ENOENT) {
			/* Not an error, so errno is left as it was. */
			err->absent = 1;
			errno = e;
			return 0;
		}
		err->why = "unable to open";
		return -1;
	}
	/* One byte more than the cap tells "too large" from "exactly full", one for the NUL. */
	if ((buf = malloc(DOTENV_FILE_MAX + 2)) == NULL ||
	    (pairs = calloc(DOTENV_VARS_MAX + 1, sizeof(*pairs))) == NULL) {
		e = errno;
		close(fd);
		errno = e;
		goto out;
	}
	len = read_capped(fd, buf);
	e = errno;
	close(fd);
	errno = e;
	if (len == -1) {
		err->why = errno == EFBIG ? "file too large" : "unable to read";
		goto out;
	}
	buf[len] = '\0';
	if (parse_all(buf, (size_t)len, pairs, &npairs, err) == -1)
		goto out;

	count = 0;
	for (i = 0; i < npairs; i++) {
		/* Only the last assignment of a key counts. */
		for (j = i + 1; j < npairs; j++)
			if (strcmp(pairs[i].key, pairs[j].key) == 0)
				break;
		if (j < npairs)
			continue;
		if (!override && getenv(pairs[i].key) != NULL)
			continue;
		if (setenv(pairs[i].key, pairs[i].val, 1) == -1) {
			count = fail(err, pairs[i].line, "unable to set", errno);
			goto out;
		}
		count++;
	}

out:
	e = errno;
	if (buf != NULL) {
		/* The values are secrets; do not leave them in freed memory. */
		explicit_bzero(buf, DOTENV_FILE_MAX + 2);
		free(buf);
	}
	free(pairs);
	errno = e;
	return count;
}

int
env_truthy(const char *name)
{
	static const char *const yes[] = { "1", "true", "yes", "on" };
	const char *v, *end;
	size_t i, n;

	if ((v = getenv(name)) == NULL)
		return 0;
	while (is_space(*v))
		v++;
	end = v + strlen(v);
	while (end > v && is_space(end[-1]))
		end--;
	n = (size_t)(end - v);
	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		if (strlen(yes[i]) == n && strncasecmp(v, yes[i], n) == 0)
			return 1;
	return 0;
}

const char *
env_nonblank(const char *name)
{
	const char *v, *p;

	if ((v = getenv(name)) == NULL)
		return NULL;
	for (p = v; *p != '\0'; p++)
		if (!is_space(*p))
			return v;
	return NULL;
}

char **
env_snapshot(void)
{
	extern char **environ;
	char **copy;
	size_t n, i;

	for (n = 0; environ[n]; n++)
		;
	if ((copy = calloc(n + 1, sizeof(*copy))) == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		if ((copy[i] = strdup(environ[i])) == NULL) {
			env_free(copy);
			return NULL;
		}
	return copy;
}

void
env_restore(char *const *env0)
{
	char name[1024];
	const char *eq;
	size_t i, n;

	clearenv();
	for (i = 0; env0[i]; i++) {
		if ((eq = strchr(env0[i], '=')) == NULL || (n = (size_t)(eq - env0[i])) == 0 ||
		    n >= sizeof(name))
			continue;
		memcpy(name, env0[i], n);
		name[n] = '\0';
		setenv(name, eq + 1, 1);
	}
	explicit_bzero(name, sizeof(name));
}

void
env_free(char **e)
{
	size_t i;

	if (e == NULL)
		return;
	for (i = 0; e[i]; i++) {
		explicit_bzero(e[i], strlen(e[i]));
		free(e[i]);
	}
	free(e);
}

int
dotenv_load_files(const char *envfile, char *err, size_t errlen)
{
	struct dotenv_err de;
	const char *files[2] = { ".env", envfile };
	int i;

	for (i = 0; i < 2; i++) {
		if (files[i] == NULL)
			continue;
		memset(&de, 0, sizeof(de));
		if (dotenv_load(files[i], 0, &de) == -1) {
			if (de.line > 0)
				snprintf(err, errlen, "%s line %d: %s", files[i], de.line,
				    de.why ? de.why : "bad line");
			else
				snprintf(err, errlen, "unable to read %s: %s", files[i],
				    strerror(errno));
			return -1;
		}
		if (de.absent && i == 1) {
			snprintf(err, errlen, "unable to read %s: %s", files[i],
			    strerror(ENOENT));
			return -1;
		}
	}
	return 0;
}

char *
env_dup(const char *name, const char *def)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0')
		v = def;
	return v ? strdup(v) : NULL;
}

int
env_int(const char *name, int def, int min, int max, int *out, char *err, size_t errlen)
{
	const char *v = getenv(name);
	char *end;
	long n;

	*out = def;
	if (v == NULL)
		return 0;
	while (isspace((unsigned char)*v))
		v++;
	if (*v == '\0')
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	while (isspace((unsigned char)*end))
		end++;
	if (errno || *end != '\0' || n < min || n > max) {
		snprintf(err, errlen, "%s must be a whole number from %d to %d", name, min, max);
		return -1;
	}
	*out = (int)n;
	return 0;
}

int
env_argv(const char *name, int max, char **argv, int *argc, char *err, size_t errlen)
{
	const char *v = getenv(name);
	jsmntok_t toks[ENV_ARGV_MAX + 2];
	struct json j;
	char *copy, *w, *save;
	int i, t;

	*argc = 0;
	if (max > ENV_ARGV_MAX)
		max = ENV_ARGV_MAX;
	for (i = 0; i <= max; i++)
		argv[i] = NULL;
	if (v == NULL)
		return 0;
	while (isspace((unsigned char)*v))
		v++;
	if (*v == '\0')
		return 0;
	if (*v == '[') {
		if (json_parse(&j, v, strlen(v), toks, (unsigned)max + 2) != 0 ||
		    json_type(&j, 0) != JSON_ARRAY || json_size(&j, 0) < 1 ||
		    json_size(&j, 0) > max) {
			snprintf(err, errlen, "%s must be a JSON array of 1 to %d strings", name,
			    max);
			return -1;
		}
		for (i = 0, t = 1; i < json_size(&j, 0); i++, t = json_next(&j, t)) {
			if (json_type(&j, t) != JSON_STRING ||
			    (argv[i] = json_strdup(&j, t)) == NULL) {
				snprintf(err, errlen, "%s must be a JSON array of strings", name);
				return -1;
			}
			(*argc)++;
		}
		if (argv[0][0] == '\0') {
			snprintf(err, errlen, "%s names an empty program", name);
			return -1;
		}
		return 0;
	}
	if ((copy = strdup(v)) == NULL)
		goto nomem;
	for (w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		if (*argc == max) {
			free(copy);
			snprintf(err, errlen, "%s has more than %d words", name, max);
			return -1;
		}
		argv[(*argc)++] = strdup(w);
	}
	free(copy);
	for (i = 0; i < *argc; i++)
		if (argv[i] == NULL)
			goto nomem;
	return 0;
nomem:
	snprintf(err, errlen, "unable to allocate for %s", name);
	return -1;
}
