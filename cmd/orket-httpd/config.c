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
	c->host = env_dup("ORKET_HOST", "127.0.0.1");
	if (env_int("ORKET_PORT", 8082, 0, 65535, &c->port, err, errlen) == -1)
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
	c->runtime_db = env_dup("ORKET_RUNTIME_DB", "orket_persistence.db");
	c->event_log = env_dup("ORKET_EVENT_LOG", "workspace/default/orket.log");
	c->workspace = env_dup("ORKET_WORKSPACE", "workspace/");
	if ((v = env_nonblank("ORKET_RESOLVE")) != NULL) {
		if (strcmp(v, "walk") == 0)
			c->resolve_walk = 1;
		else if (strcmp(v, "openat2") != 0)
			return seterr(err, errlen, "%s must be openat2 or walk", "ORKET_RESOLVE");
	}
	if (env_argv("ORKET_RUNNER", HTTPD_RUNNER_ARGV_MAX, c->runner_argv, &c->runner_argc,
	    err, errlen) == -1 || env_allow(c, err, errlen) == -1)
		return -1;
	if (env_int("ORKET_MAX_RUNS", 4, 1, HTTPD_RUNS_LIMIT, &c->max_runs, err, errlen) == -1 ||
	    env_int("ORKET_RUN_TIMEOUT_SEC", 3600, 0, 7 * 86400, &sec, err, errlen) == -1 ||
	    env_int("ORKET_MAX_CONNS", 1024, 1, HTTP_CONNS_LIMIT, &c->conns_max, err,
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
