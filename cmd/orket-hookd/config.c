/* See LICENSE. orket-hookd's configuration, read from the environment. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dotenv.h"
#include "hmac.h"
#include "hookd.h"
#include "json.h"

static int
seterr(char *err, size_t errlen, const char *fmt, const char *name)
{
	snprintf(err, errlen, fmt, name);
	return -1;
}

int
hookd_config_load(struct hookd_config *c, char *err, size_t errlen)
{
	const char *v;
	size_t n;
	int sec;

	memset(c, 0, sizeof(*c));
	/* The secret is used as given (not trimmed), but a blank one is no secret. */
	if (env_nonblank("GITEA_WEBHOOK_SECRET") == NULL)
		return seterr(err, errlen, "%s is not set (or blank): it is required",
		    "GITEA_WEBHOOK_SECRET");
	v = getenv("GITEA_WEBHOOK_SECRET");
	if ((n = strlen(v)) > HOOKD_SECRET_MAX)
		return seterr(err, errlen, "%s is longer than 1024 bytes", "GITEA_WEBHOOK_SECRET");
	c->secret = strdup(v);
	c->secretlen = n;
	if ((v = env_nonblank("GITEA_WEBHOOK_SECRET_PREVIOUS")) != NULL) {
		if ((n = strlen(v)) > HOOKD_SECRET_MAX)
			return seterr(err, errlen, "%s is longer than 1024 bytes",
			    "GITEA_WEBHOOK_SECRET_PREVIOUS");
		c->secret_prev = strdup(v);
		c->secret_prevlen = n;
	}
	c->host = env_dup("ORKET_WEBHOOK_HOST", "127.0.0.1");
	if (env_int("ORKET_WEBHOOK_PORT", 8080, 0, 65535, &c->port, err, errlen) == -1)
		return -1;
	/* As the original: a limit below 1 is 1; but garbage is an error, not a silent 60. */
	if (env_int("ORKET_RATE_LIMIT", 60, -1000000, 1000000, &c->rate_limit, err, errlen) == -1)
		return -1;
	if (c->rate_limit < 1)
		c->rate_limit = 1;
	c->test_enabled = env_truthy("ORKET_ENABLE_WEBHOOK_TEST_ENDPOINT");
	if ((v = env_nonblank("ORKET_WEBHOOK_TEST_TOKEN")) != NULL)
		c->test_token = strdup(v);
	if (env_int("ORKET_REVIEW_ESCALATE_AT", 3, 1, 1000, &c->escalate_at, err, errlen) == -1 ||
	    env_int("ORKET_REVIEW_REJECT_AT", 4, 1, 1000, &c->reject_at, err, errlen) == -1)
		return -1;
	c->gitea_url = env_dup("GITEA_URL", "http://localhost:3000");
	if (c->gitea_url) {
		n = strlen(c->gitea_url);
		while (n > 0 && c->gitea_url[n - 1] == '/')
			c->gitea_url[--n] = '\0';
		if (strncmp(c->gitea_url, "http://", 7) != 0 &&
		    strncmp(c->gitea_url, "https://", 8) != 0)
			return seterr(err, errlen, "%s must start with http:// or https://",
			    "GITEA_URL");
		if (strchr(c->gitea_url, '@') != NULL)
			return seterr(err, errlen, "%s must not hold credentials: use "
			    "GITEA_ADMIN_USER and GITEA_ADMIN_PASSWORD or GITEA_TOKEN", "GITEA_URL");
	}
	c->gitea_user = env_dup("GITEA_ADMIN_USER", "Orket");
	if ((v = getenv("GITEA_ADMIN_PASSWORD")) != NULL && *v)
		c->gitea_password = strdup(v);
	if ((v = env_nonblank("GITEA_TOKEN")) != NULL)
		c->gitea_token = strdup(v);
	c->gitea_ca_file = env_dup("GITEA_CA_FILE", NULL);
	if ((v = env_nonblank("ORKET_API_URL")) != NULL) {
		c->api_url = strdup(v);
		n = strlen(c->api_url);
		while (n > 0 && c->api_url[n - 1] == '/')
			c->api_url[--n] = '\0';
	}
	if ((v = getenv("ORKET_API_KEY")) != NULL && *v)
		c->api_key = strdup(v);
	if (env_argv("ORKET_SANDBOX_COMMAND", HOOKD_SANDBOX_ARGV_MAX, c->sandbox_argv,
	    &c->sandbox_argc, err, errlen) == -1)
		return -1;
	if (env_int("ORKET_SANDBOX_TIMEOUT_SEC", 600, 1, 86400, &sec, err, errlen) == -1)
		return -1;
	c->sandbox_timeout_ms = sec * 1000;
	c->sandbox_env_allow = env_dup("ORKET_SANDBOX_ENV_ALLOW", NULL);
	if (env_int("ORKET_OUTBOX_MAX_ATTEMPTS", 10, 1, 1000, &c->outbox_max_attempts, err,
	    errlen) == -1 ||
	    env_int("ORKET_OUTBOX_BACKOFF_MS", 1000, 1, 3600000, &c->outbox_backoff_ms, err,
	    errlen) == -1 ||
	    env_int("ORKET_OUTBOX_TIMEOUT_MS", 10000, 100, 3600000, &c->outbox_timeout_ms, err,
	    errlen) == -1 ||
	    env_int("ORKET_OUTBOX_PARALLEL", 8, 1, 256, &c->outbox_parallel, err, errlen) == -1 ||
	    env_int("ORKET_WEBHOOK_MAX_CONNS", 1024, 1, HTTP_CONNS_LIMIT, &c->conns_max, err,
	    errlen) == -1)
		return -1;
	if ((v = env_nonblank("ORKET_DURABILITY")) != NULL) {
		if (strcmp(v, "full") == 0)
			c->durability_full = 1;
		else if (strcmp(v, "normal") != 0)
			return seterr(err, errlen, "%s must be normal or full", "ORKET_DURABILITY");
	}
	c->webhook_db = env_dup("ORKET_WEBHOOK_DB", ".orket/webhook.db");
	c->runtime_db = env_dup("ORKET_RUNTIME_DB", "orket_persistence.db");
	c->event_log = env_dup("ORKET_EVENT_LOG", "workspace/default/hookd.log");
	if (c->secret == NULL || c->host == NULL || c->gitea_url == NULL ||
	    c->gitea_user == NULL || c->webhook_db == NULL || c->runtime_db == NULL ||
	    c->event_log == NULL)
		return seterr(err, errlen, "unable to allocate the %s", "configuration");
	return 0;
}

static void
freesecret(char **p)
{
	if (*p) {
		wipe(*p, strlen(*p));
		free(*p);
		*p = NULL;
	}
}

void
hookd_config_free(struct hookd_config *c)
{
	int i;

	freesecret(&c->secret);
	freesecret(&c->secret_prev);
	freesecret(&c->test_token);
	freesecret(&c->gitea_password);
	freesecret(&c->gitea_token);
	freesecret(&c->api_key);
	free(c->host);
	free(c->gitea_url);
	free(c->gitea_user);
	free(c->gitea_ca_file);
	free(c->api_url);
	for (i = 0; i < c->sandbox_argc; i++)
		free(c->sandbox_argv[i]);
	free(c->sandbox_env_allow);
	free(c->webhook_db);
	free(c->runtime_db);
	free(c->event_log);
	memset(c, 0, sizeof(*c));
}
