/* See LICENSE. orket-httpd's configuration, read from the environment. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dotenv.h"
#include "hmac.h"
#include "httpd.h"
#include "json.h"

static int
seterr(char *err, size_t errlen, const char *fmt, const char *name)
{
	snprintf(err, errlen, fmt, name);
	return -1;
}

/* A copy of the variable, or of def when it is unset or empty. */
static char *
envdup(const char *name, const char *def)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0')
		v = def;
	return v ? strdup(v) : NULL;
}

/*
 * An integer variable: def when unset or blank; otherwise a whole decimal number in
 * [min, max], surrounding blanks allowed. Anything else is a configuration error, not a
 * silent default.
 */
static int
envint(const char *name, int def, int min, int max, int *out, char *err, size_t errlen)
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

/* ORKET_RUNNER: a JSON array of strings, or words separated by blanks (no quoting). */
static int
runner_argv(struct httpd_config *c, char *err, size_t errlen)
{
	const char *v = getenv("ORKET_RUNNER");
	jsmntok_t toks[HTTPD_RUNNER_ARGV_MAX + 2];
	struct json j;
	char *copy, *w, *save;
	int i, t;

	if (v == NULL)
		return 0;
	while (isspace((unsigned char)*v))
		v++;
	if (*v == '\0')
		return 0;
	if (*v == '[') {
		if (json_parse(&j, v, strlen(v), toks, HTTPD_RUNNER_ARGV_MAX + 2) != 0 ||
		    json_type(&j, 0) != JSON_ARRAY || json_size(&j, 0) < 1 ||
		    json_size(&j, 0) > HTTPD_RUNNER_ARGV_MAX)
			return seterr(err, errlen, "%s must be a JSON array of 1 to 32 strings",
			    "ORKET_RUNNER");
		for (i = 0, t = 1; i < json_size(&j, 0); i++, t = json_next(&j, t)) {
			if (json_type(&j, t) != JSON_STRING ||
			    (c->runner_argv[i] = json_strdup(&j, t)) == NULL)
				return seterr(err, errlen, "%s must be a JSON array of strings",
				    "ORKET_RUNNER");
			c->runner_argc++;
		}
		if (c->runner_argv[0][0] == '\0')
			return seterr(err, errlen, "%s names an empty program", "ORKET_RUNNER");
		return 0;
	}
	if ((copy = strdup(v)) == NULL)
		return seterr(err, errlen, "unable to allocate for %s", "ORKET_RUNNER");
	for (w = strtok_r(copy, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save)) {
		if (c->runner_argc == HTTPD_RUNNER_ARGV_MAX) {
			free(copy);
			return seterr(err, errlen, "%s has more than 32 words", "ORKET_RUNNER");
		}
		c->runner_argv[c->runner_argc++] = strdup(w);
	}
	free(copy);
	for (i = 0; i < c->runner_argc; i++)
		if (c->runner_argv[i] == NULL)
			return seterr(err, errlen, "unable to allocate for %s", "ORKET_RUNNER");
	return 0;
}

/*
 * ORKET_ALLOWED_ORIGINS: a comma list, entries trimmed, blank ones dropped; "*" allows any
 * origin. Unset means the original's two development origins; set and empty means none.
 */
static int
origins(struct httpd_config *c, char *err, size_t errlen)
{
	const char *v = getenv("ORKET_ALLOWED_ORIGINS"), *p, *e;
	size_t n;

	if (v == NULL)
		v = "http://localhost:5173,http://127.0.0.1:5173";
	for (p = v; *p != '\0'; p = *e ? e + 1 : e) {
		e = p + strcspn(p, ",");
		while (p < e && isspace((unsigned char)*p))
			p++;
		n = (size_t)(e - p);
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (n == 0)
			continue;
		if (n == 1 && *p == '*') {
			c->origins_any = 1;
			continue;
		}
		if (c->norigins == HTTPD_ORIGINS_MAX)
			return seterr(err, errlen, "%s has more than 64 entries",
			    "ORKET_ALLOWED_ORIGINS");
		if ((c->origins[c->norigins] = strndup(p, n)) == NULL)
			return seterr(err, errlen, "unable to allocate for %s",
			    "ORKET_ALLOWED_ORIGINS");
		c->norigins++;
	}
	return 0;
}

/* A runner never gets the key that opens this API, whatever the allow-list says. */
static int
env_allow(struct httpd_config *c, char *err, size_t errlen)
{
	const char *v = getenv("ORKET_RUNNER_ENV_ALLOW"), *p, *e;
	size_t n;

	if (v == NULL || *v == '\0')
		return 0;
	for (p = v; *p != '\0'; p = *e ? e + 1 : e) {
		e = p + strcspn(p, ",");
		while (p < e && isspace((unsigned char)*p))
			p++;
		n = (size_t)(e - p);
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (n == strlen("ORKET_API_KEY") && strncmp(p, "ORKET_API_KEY", n) == 0)
			return seterr(err, errlen, "ORKET_RUNNER_ENV_ALLOW may not name %s: a runner "
			    "never gets the API key", "ORKET_API_KEY");
	}
	if ((c->runner_env_allow = strdup(v)) == NULL)
		return seterr(err, errlen, "unable to allocate for %s", "ORKET_RUNNER_ENV_ALLOW");
	return 0;
}

int
httpd_config_load(struct httpd_config *c, char *err, size_t errlen)
{
	const char *v;
	int sec;

	memset(c, 0, sizeof(*c));
	c->host = envdup("ORKET_HOST", "127.0.0.1");
	if (envint("ORKET_PORT", 8082, 0, 65535, &c->port, err, errlen) == -1)
		return -1;
	/* As the original: set and not empty is a key, used as given. */
	if ((v = getenv("ORKET_API_KEY")) != NULL && *v != '\0') {
		if (strlen(v) > 4096)
			return seterr(err, errlen, "%s is longer than 4096 bytes", "ORKET_API_KEY");
		if ((c->api_key = strdup(v)) == NULL)
			return seterr(err, errlen, "unable to allocate for %s", "ORKET_API_KEY");
		sha256(c->api_key, strlen(c->api_key), c->api_key_sha);
	}
	c->insecure = env_truthy("ORKET_ALLOW_INSECURE_NO_API_KEY");
	if (origins(c, err, errlen) == -1)
		return -1;
	c->runtime_db = envdup("ORKET_RUNTIME_DB", "orket_persistence.db");
	c->event_log = envdup("ORKET_EVENT_LOG", "workspace/default/orket.log");
	c->workspace = envdup("ORKET_WORKSPACE", "workspace/");
	if ((v = env_nonblank("ORKET_RESOLVE")) != NULL) {
		if (strcmp(v, "walk") == 0)
			c->resolve_walk = 1;
		else if (strcmp(v, "openat2") != 0)
			return seterr(err, errlen, "%s must be openat2 or walk", "ORKET_RESOLVE");
	}
	if (runner_argv(c, err, errlen) == -1 || env_allow(c, err, errlen) == -1)
		return -1;
	if (envint("ORKET_MAX_RUNS", 4, 1, HTTPD_RUNS_LIMIT, &c->max_runs, err, errlen) == -1 ||
	    envint("ORKET_RUN_TIMEOUT_SEC", 3600, 0, 7 * 86400, &sec, err, errlen) == -1 ||
	    envint("ORKET_MAX_CONNS", 1024, 1, HTTP_CONNS_LIMIT, &c->conns_max, err,
	    errlen) == -1)
		return -1;
	c->run_timeout_ms = sec * 1000;
	if (c->host == NULL || c->runtime_db == NULL || c->event_log == NULL ||
	    c->workspace == NULL)
		return seterr(err, errlen, "unable to allocate the %s", "configuration");
	return 0;
}

void
httpd_config_free(struct httpd_config *c)
{
	int i;

	if (c->api_key) {
		wipe(c->api_key, strlen(c->api_key));
		free(c->api_key);
	}
	wipe(c->api_key_sha, sizeof(c->api_key_sha));
	free(c->host);
	for (i = 0; i < c->norigins; i++)
		free(c->origins[i]);
	free(c->runtime_db);
	free(c->event_log);
	free(c->workspace);
	for (i = 0; i < c->runner_argc; i++)
		free(c->runner_argv[i]);
	free(c->runner_env_allow);
	memset(c, 0, sizeof(*c));
}
