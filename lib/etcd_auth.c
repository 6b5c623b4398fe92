/* etcd_auth.c: etcd's user/password authentication for lib/etcd (see etcd.h).
 *
 * POST /v3/auth/authenticate {"name", "password"} gives a token; every request
 * then carries "Authorization: <token>" (the gateway hands it to etcd as the
 * gRPC metadata clientv3 sends). etcd's simple tokens live --auth-token-ttl
 * seconds (300 by default) after their last use, and none survives a restart:
 * a request refused for its token (ETCD__REAUTH) marks the token stale, and
 * the next request authenticates again, as clientv3's shouldRefreshToken
 * does. One token per struct etcd, shared by its threads under e->mu; the
 * mutex is held while authenticating, so that threads whose token was
 * refused at once wait for one new token rather than each asking for one.
 *
 * The password leaves this file only in the body of the authenticate
 * request, which is wiped after use; no message carries it.
 */
#include "clock.h"
#include "error.h"
#include "etcd_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AUTH_FAIL_HOLD_MS 1000 /* a failed authentication is answered from memory */

/* A token as etcd makes them (simple: letters, digits, '.'; JWT: base64url
 * and '.'): printable, no space, so that it cannot break the header. */
static int
token_valid(const char *t)
{
    if (*t == '\0' || strlen(t) > 8192) return 0;
    for (; *t; t++)
        if (*t <= ' ' || *t > '~') return 0;
    return 1;
}

/* The request body {"name": user, "password": password}, owned (wipe it). */
static char *
auth_body(const struct etcd *e)
{
    cJSON *req = cJSON_CreateObject();
    cJSON *pw = req ? cJSON_AddStringToObject(req, "password", e->password) : NULL;
    char *body = NULL;
    if (pw != NULL && cJSON_AddStringToObject(req, "name", e->user) != NULL)
        body = cJSON_PrintUnformatted(req);
    if (pw != NULL) explicit_bzero(pw->valuestring, strlen(pw->valuestring));
    cJSON_Delete(req);
    return body;
}

/* Ask etcd for a token (e->mu held). Returns 0 with e->token set (NULL when
 * etcd has auth off), or a negative code with etcd_strerror() set. */
static int
authenticate(struct etcd *e)
{
    char *body = auth_body(e);
    if (body == NULL) return JUNO_ENOMEM;
    cJSON *res = NULL;
    int rc = etcd__post_raw(e, "/v3/auth/authenticate", body, etcd__headers(), &res);
    explicit_bzero(body, strlen(body));
    free(body);
    if (rc < 0 && strstr(etcd_strerror(), "authentication is not enabled") != NULL)
        return 0; /* as clientv3: go on without a token */
    if ((rc == JUNO_EACCES || rc == ETCD__REAUTH) &&
        strstr(etcd_strerror(), "authentication failed") != NULL) { /* the password */
        char why[300];
        snprintf(why, sizeof(why), "%s", etcd_strerror());
        etcd__seterr("etcd: authentication failed for user %s: %s", e->user, why);
        return JUNO_EACCES;
    }
    if (rc == ETCD__REAUTH) rc = JUNO_EACCES;
    if (rc < 0) return rc;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(res, "token");
    if (!cJSON_IsString(t) || !token_valid(t->valuestring)) {
        cJSON_Delete(res);
        etcd__seterr("etcd: authenticate: no usable token in the answer");
        return JUNO_EPROTO;
    }
    size_t n = strlen(t->valuestring) + sizeof("Authorization: ");
    e->token = malloc(n);
    if (e->token != NULL) snprintf(e->token, n, "Authorization: %s", t->valuestring);
    explicit_bzero(t->valuestring, strlen(t->valuestring));
    cJSON_Delete(res);
    return e->token != NULL ? 0 : JUNO_ENOMEM;
}

int
etcd__token_refused(const char *msg)
{
    return strstr(msg, "invalid auth token") != NULL || strstr(msg, "user name is empty") != NULL ||
           strstr(msg, "revision of auth store is old") != NULL;
}

/* A copy of the shared headers, plus line when not NULL. */
static struct curl_slist *
headers_with(const char *line)
{
    struct curl_slist *h = NULL, *n;
    for (const struct curl_slist *s = etcd__headers(); s != NULL; s = s->next) {
        if ((n = curl_slist_append(h, s->data)) == NULL) goto nomem;
        h = n;
    }
    if (line != NULL && curl_slist_append(h, line) == NULL) goto nomem;
    return h;
nomem:
    curl_slist_free_all(h);
    return NULL;
}

int
etcd__auth_headers(struct etcd *e, struct curl_slist **h, uint64_t *gen)
{
    *h = NULL;
    *gen = 0;
    if (e->user == NULL) {
        *h = headers_with(NULL);
        return *h != NULL ? 0 : JUNO_ENOMEM;
    }
    pthread_mutex_lock(&e->mu);
    int rc = 0;
    if (!e->authed && e->failed_ms != 0 &&
        (uint64_t)clock_mono_ms() - e->failed_ms < AUTH_FAIL_HOLD_MS) {
        etcd__seterr("%s", e->failed_msg);
        rc = e->failed_rc;
    } else if (!e->authed) {
        if ((rc = authenticate(e)) == 0) {
            e->authed = 1;
            e->gen++;
            e->failed_ms = 0;
        } else {
            e->failed_ms = (uint64_t)clock_mono_ms();
            e->failed_rc = rc;
            snprintf(e->failed_msg, sizeof(e->failed_msg), "%s", etcd_strerror());
        }
    }
    if (rc == 0) {
        *gen = e->gen;
        if ((*h = headers_with(e->token)) == NULL) rc = JUNO_ENOMEM;
    }
    pthread_mutex_unlock(&e->mu);
    return rc;
}

void
etcd__auth_stale(struct etcd *e, uint64_t gen)
{
    if (e->user == NULL) return;
    pthread_mutex_lock(&e->mu);
    if (e->gen == gen && e->authed) {
        e->authed = 0;
        if (e->token != NULL) explicit_bzero(e->token, strlen(e->token));
        free(e->token);
        e->token = NULL;
    }
    pthread_mutex_unlock(&e->mu);
}

int
etcd__auth_refused(struct etcd *e)
{
    char why[300];
    snprintf(why, sizeof(why), "%s", etcd_strerror());
    if (e->user == NULL)
        etcd__seterr("etcd requires authentication (auth is enabled there): give a user "
                     "(--etcd-user) and its password: %s",
                     why);
    else
        etcd__seterr("etcd refused a fresh token of user %s: %s", e->user, why);
    return JUNO_EACCES;
}

int
etcd_set_password(struct etcd *e, const char *password)
{
    if (e->user == NULL || password == NULL || password[0] == '\0') return JUNO_EINVAL;
    char *copy = strdup(password);
    if (copy == NULL) return JUNO_ENOMEM;
    pthread_mutex_lock(&e->mu);
    explicit_bzero(e->password, strlen(e->password));
    free(e->password);
    e->password = copy;
    if (e->token != NULL) explicit_bzero(e->token, strlen(e->token));
    free(e->token);
    e->token = NULL;
    e->authed = 0;
    e->failed_ms = 0; /* a refusal of the old password is no reason to wait */
    e->gen++;
    pthread_mutex_unlock(&e->mu);
    return 0;
}
