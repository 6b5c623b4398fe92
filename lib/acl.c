/* acl.c: the --acl file: parsing, lookups, password hashes (see acl.h). */
#include "acl.h"

#include "error.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ACL_HASH_PREFIX "pbkdf2-sha256$"

/* ---- parsing ---- */

struct acl__parser {
    const char *name;
    uint32_t line;
    char *err;
    size_t errlen;
};

static int
acl__fail(struct acl__parser *p, const char *fmt, ...)
{
    char why[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(p->err, p->errlen, "%s:%u: %s", p->name, p->line, why);
    return JUNO_EBADDATA;
}

/* The next word of *s (blanks skipped) into w (cap bytes, NUL-terminated),
 * a double-quoted part read with its escapes. Returns 1 with a word, 0 at
 * the end of the line, JUNO_ERANGE for a word longer than cap - 1 (err not
 * set: the caller knows what it expected), or JUNO_EBADDATA (err set). */
static int
acl__word(struct acl__parser *p, const char **s, const char *end, char *w, size_t cap)
{
    const char *c = *s;
    while (c < end && (*c == ' ' || *c == '\t')) c++;
    if (c == end || *c == '#') {
        *s = end;
        return 0;
    }
    size_t n = 0;
    int quoted = 0;
    while (c < end && (quoted || (*c != ' ' && *c != '\t'))) {
        char ch = *c++;
        if (ch == '"') {
            quoted = !quoted;
            continue;
        }
        if (quoted && ch == '\\') {
            if (c == end || (*c != '"' && *c != '\\'))
                return acl__fail(p, "a \\ in quotes must be followed by \" or \\");
            ch = *c++;
        }
        if ((unsigned char)ch < 0x20 || ch == 0x7f)
            return acl__fail(p, "a control character in a word");
        if (n + 1 >= cap) return JUNO_ERANGE;
        w[n++] = ch;
    }
    if (quoted) return acl__fail(p, "a quote that is not closed");
    w[n] = '\0';
    *s = c;
    return 1;
}

/* A name (user, namespace): 1..ACL_MAX_NAME printable bytes. */
static int
acl__name_ok(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > ACL_MAX_NAME) return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] <= 0x20 || v[i] == 0x7f) return 0;
    return 1;
}

/* Decode base64 src into out (cap bytes). Returns the length, or -1. */
static int
acl__b64_decode(const char *src, uint8_t *out, size_t cap)
{
    size_t n = strlen(src);
    if (n == 0 || n % 4 != 0 || n / 4 * 3 > cap + 2) return -1;
    for (size_t i = 0; i < n; i++) {
        char c = src[i];
        int ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                 c == '+' || c == '/' || (c == '=' && i >= n - 2);
        if (!ok || (c != '=' && i > 0 && src[i - 1] == '=')) return -1;
    }
    uint8_t tmp[ACL_SALT_MAX + 4];
    if (n / 4 * 3 > sizeof(tmp)) return -1;
    int len = EVP_DecodeBlock(tmp, (const unsigned char *)src, (int)n);
    if (len < 0) return -1;
    len -= (src[n - 1] == '=') + (src[n - 2] == '=');
    if (len <= 0 || (size_t)len > cap) return -1;
    memcpy(out, tmp, (size_t)len);
    return len;
}

/* pbkdf2-sha256$ITER$SALT$KEY into h. */
static int
acl__parse_hash(struct acl__parser *p, const char *v, struct acl_hash *h)
{
    if (strncmp(v, ACL_HASH_PREFIX, strlen(ACL_HASH_PREFIX)) != 0)
        return acl__fail(p, "password= takes a hash (pbkdf2-sha256$...) as "
                            "`juno-proxy --hash-password` prints it, not a password");
    const char *it = v + strlen(ACL_HASH_PREFIX);
    char *salt = strchr(it, '$');
    char *key = salt ? strchr(salt + 1, '$') : NULL;
    if (key == NULL) return acl__fail(p, "a password hash needs ITERATIONS$SALT$KEY");
    char num[16], s64[ACL_SALT_MAX * 2], k64[ACL_KEY_LEN * 2];
    size_t nlen = (size_t)(salt - it), slen = (size_t)(key - salt - 1), klen = strlen(key + 1);
    if (nlen == 0 || nlen >= sizeof(num) || slen >= sizeof(s64) || klen >= sizeof(k64))
        return acl__fail(p, "a malformed password hash");
    memcpy(num, it, nlen), num[nlen] = '\0';
    memcpy(s64, salt + 1, slen), s64[slen] = '\0';
    memcpy(k64, key + 1, klen), k64[klen] = '\0';
    char *e;
    unsigned long n = strtoul(num, &e, 10);
    if (*e != '\0' || num[0] < '0' || num[0] > '9' || n < ACL_ITER_MIN || n > ACL_ITER_MAX)
        return acl__fail(p, "a password hash's iterations must be %u to %u", ACL_ITER_MIN,
                         ACL_ITER_MAX);
    int sl = acl__b64_decode(s64, h->salt, sizeof(h->salt));
    if (sl < 8)
        return acl__fail(p, "a password hash's salt must be base64 of 8 to %d bytes", ACL_SALT_MAX);
    if (acl__b64_decode(k64, h->key, sizeof(h->key)) != ACL_KEY_LEN)
        return acl__fail(p, "a password hash's key must be base64 of %d bytes", ACL_KEY_LEN);
    h->iterations = (uint32_t)n;
    h->salt_len = (size_t)sl;
    return 0;
}

/* ns=PATTERN:r|rw */
static int
acl__parse_rule(struct acl__parser *p, const char *v, struct acl_rule *r)
{
    const char *colon = strrchr(v, ':');
    if (colon == NULL) return acl__fail(p, "ns= takes PATTERN:r or PATTERN:rw");
    if (strcmp(colon + 1, "r") == 0)
        r->perm = ACL_READ;
    else if (strcmp(colon + 1, "rw") == 0)
        r->perm = ACL_WRITE;
    else
        return acl__fail(p, "ns=%.*s: the permission must be r or rw", (int)(colon - v), v);
    size_t n = (size_t)(colon - v);
    if (n == 0 || n > ACL_MAX_NAME)
        return acl__fail(p, "ns= needs a pattern of 1 to %d bytes", ACL_MAX_NAME);
    memcpy(r->pattern, v, n);
    r->pattern[n] = '\0';
    if (!acl__name_ok(r->pattern))
        return acl__fail(p, "ns=: a pattern with a blank or control byte");
    r->prefix = r->pattern[n - 1] == '*';
    r->len = n - (size_t)r->prefix;
    if (memchr(r->pattern, '*', r->len) != NULL)
        return acl__fail(p, "ns=%s: '*' may only end a pattern", r->pattern);
    return 0;
}

/* One "user ..." line (after the word "user") at *s into u. */
static int
acl__parse_user(struct acl__parser *p, const char *s, const char *end, struct acl_user *u)
{
    char w[ACL_MAX_SUBJECT + 32];
    int rc = acl__word(p, &s, end, w, sizeof(w));
    if (rc == JUNO_EBADDATA) return rc;
    if (rc != 1 || !acl__name_ok(w))
        return acl__fail(p, "user needs a name of 1 to %d bytes", ACL_MAX_NAME);
    snprintf(u->name, sizeof(u->name), "%s", w);
    u->on = 1;
    u->line = p->line;
    struct acl_rule rules[ACL_MAX_NS];
    while ((rc = acl__word(p, &s, end, w, sizeof(w))) != 0) {
        if (rc == JUNO_ERANGE) return acl__fail(p, "a word longer than %zu bytes", sizeof(w) - 1);
        if (rc < 0) return rc;
        char *eq = strchr(w, '=');
        const char *v = eq ? eq + 1 : "";
        if (eq) *eq = '\0';
        if (!eq && strcmp(w, "on") == 0) {
            u->on = 1;
        } else if (!eq && strcmp(w, "off") == 0) {
            u->on = 0;
        } else if (!eq && strcmp(w, "nopass") == 0) {
            u->nopass = 1;
        } else if (eq && strcmp(w, "password") == 0) {
            if (u->npw == ACL_MAX_PASSWORDS)
                return acl__fail(p, "more than %d passwords for user %s", ACL_MAX_PASSWORDS,
                                 u->name);
            if ((rc = acl__parse_hash(p, v, &u->pw[u->npw])) != 0) return rc;
            u->npw++;
        } else if (eq && strcmp(w, "cert") == 0) {
            if (*v == '\0' || strlen(v) > ACL_MAX_SUBJECT)
                return acl__fail(p, "cert= needs a subject of 1 to %d bytes", ACL_MAX_SUBJECT);
            snprintf(u->subject, sizeof(u->subject), "%s", v);
        } else if (eq && strcmp(w, "cn") == 0) {
            if (!acl__name_ok(v))
                return acl__fail(p, "cn= needs a name of 1 to %d bytes", ACL_MAX_NAME);
            snprintf(u->cn, sizeof(u->cn), "%s", v);
        } else if (eq && strcmp(w, "ns") == 0) {
            if (u->nns == ACL_MAX_NS)
                return acl__fail(p, "more than %d ns= rules for user %s", ACL_MAX_NS, u->name);
            if ((rc = acl__parse_rule(p, v, &rules[u->nns])) != 0) return rc;
            u->nns++;
        } else if (eq && strcmp(w, "default-ns") == 0) {
            if (!acl__name_ok(v))
                return acl__fail(p,
                                 "default-ns= needs a namespace of 1 to %d "
                                 "bytes",
                                 ACL_MAX_NAME);
            snprintf(u->default_ns, sizeof(u->default_ns), "%s", v);
        } else {
            return acl__fail(p,
                             "unknown word '%s%s' (user takes on, off, nopass, password=, "
                             "cert=, cn=, ns=, default-ns=)",
                             w, eq ? "=" : "");
        }
    }
    if (u->nopass && u->npw > 0)
        return acl__fail(p, "user %s has both nopass and password=", u->name);
    if (u->default_ns[0] != '\0' && u->nns > 0 &&
        acl_allows(&(struct acl_user){.ns = rules, .nns = u->nns}, (const uint8_t *)u->default_ns,
                   strlen(u->default_ns)) == ACL_NONE)
        return acl__fail(p, "user %s may not use its default-ns %s", u->name, u->default_ns);
    if (u->nns > 0) {
        u->ns = malloc((size_t)u->nns * sizeof(*u->ns));
        if (u->ns == NULL) return JUNO_ENOMEM;
        memcpy(u->ns, rules, (size_t)u->nns * sizeof(*u->ns));
    }
    return 0;
}

static void
acl__free(struct acl *a)
{
    for (size_t i = 0; i < a->nusers; i++) free(a->users[i].ns);
    free(a->users);
    free(a);
}

int
acl_parse(const char *text, size_t len, const char *name, struct acl **out, char *err,
          size_t errlen)
{
    struct acl__parser p = {.name = name, .line = 0, .err = err, .errlen = errlen};
    if (len > ACL_MAX_FILE) {
        snprintf(err, errlen, "%s: larger than %u bytes", name, ACL_MAX_FILE);
        return JUNO_EBADDATA;
    }
    struct acl *a = calloc(1, sizeof(*a));
    if (a == NULL) return JUNO_ENOMEM;
    atomic_init(&a->refs, 1);
    size_t cap = 0;
    int rc = 0;
    for (const char *s = text, *end = text + len; s < end && rc == 0;) {
        const char *nl = memchr(s, '\n', (size_t)(end - s));
        const char *eol = nl ? nl : end;
        p.line++;
        if (eol - s > ACL_MAX_LINE) {
            rc = acl__fail(&p, "a line longer than %d bytes", ACL_MAX_LINE);
            break;
        }
        if (memchr(s, '\0', (size_t)(eol - s)) != NULL) {
            rc = acl__fail(&p, "a NUL byte");
            break;
        }
        const char *ls = s, *le = eol > s && eol[-1] == '\r' ? eol - 1 : eol;
        s = nl ? nl + 1 : end;
        char w[16];
        int wr = acl__word(&p, &ls, le, w, sizeof(w));
        if (wr == 0) continue;   /* blank or comment */
        if (wr == JUNO_ERANGE) { /* not a word we know, whatever it is */
            rc = acl__fail(&p, "a line must start with 'user'");
            break;
        }
        if (wr < 0) {
            rc = wr;
            break;
        }
        if (strcmp(w, "user") != 0) {
            rc = acl__fail(&p, "a line must start with 'user', not '%s'", w);
            break;
        }
        if (a->nusers == ACL_MAX_USERS) {
            rc = acl__fail(&p, "more than %d users", ACL_MAX_USERS);
            break;
        }
        if (a->nusers == cap) {
            size_t ncap = cap ? cap * 2 : 8;
            struct acl_user *nu = realloc(a->users, ncap * sizeof(*nu));
            if (nu == NULL) {
                rc = JUNO_ENOMEM;
                break;
            }
            a->users = nu;
            cap = ncap;
        }
        struct acl_user *u = &a->users[a->nusers];
        memset(u, 0, sizeof(*u));
        rc = acl__parse_user(&p, ls, le, u);
        if (rc != 0) break;
        a->nusers++;
        const struct acl_user *dup = acl_find(a, u->name, strlen(u->name));
        if (dup != u)
            rc = acl__fail(&p, "user %s is defined twice (first on line %u)", u->name, dup->line);
    }
    if (rc == JUNO_ENOMEM) snprintf(err, errlen, "%s: out of memory", name);
    if (rc != 0) {
        acl__free(a);
        return rc;
    }
    *out = a;
    return 0;
}

/* ---- lookups ---- */

struct acl *
acl_ref(struct acl *a)
{
    if (a) atomic_fetch_add(&a->refs, 1);
    return a;
}

void
acl_unref(struct acl *a)
{
    if (a && atomic_fetch_sub(&a->refs, 1) == 1) acl__free(a);
}

const struct acl_user *
acl_find(const struct acl *a, const char *name, size_t len)
{
    for (size_t i = 0; i < a->nusers; i++)
        if (strlen(a->users[i].name) == len && memcmp(a->users[i].name, name, len) == 0)
            return &a->users[i];
    return NULL;
}

const struct acl_user *
acl_find_cert(const struct acl *a, const char *subject, const char *cn)
{
    for (size_t i = 0; subject && i < a->nusers; i++)
        if (a->users[i].subject[0] && strcmp(a->users[i].subject, subject) == 0)
            return &a->users[i];
    for (size_t i = 0; cn && i < a->nusers; i++)
        if (a->users[i].cn[0] && strcmp(a->users[i].cn, cn) == 0) return &a->users[i];
    return NULL;
}

int
acl_allows(const struct acl_user *u, const uint8_t *ns, size_t nslen)
{
    int best = ACL_NONE;
    for (int i = 0; i < u->nns && best != ACL_WRITE; i++) {
        const struct acl_rule *r = &u->ns[i];
        int match = r->prefix ? nslen >= r->len && memcmp(ns, r->pattern, r->len) == 0
                              : nslen == r->len && memcmp(ns, r->pattern, r->len) == 0;
        if (match && r->perm > best) best = r->perm;
    }
    return best;
}

/* ---- passwords ---- */

static int
acl__derive(const char *pw, size_t len, const struct acl_hash *h, uint8_t key[ACL_KEY_LEN])
{
    return PKCS5_PBKDF2_HMAC(pw, (int)len, h->salt, (int)h->salt_len, (int)h->iterations,
                             EVP_sha256(), ACL_KEY_LEN, key) == 1
               ? 0
               : JUNO_EIO;
}

int
acl_check_password(const struct acl_user *u, const char *pw, size_t len)
{
    if (!u->on) return 0;
    if (u->nopass) return 1;
    int ok = 0;
    for (int i = 0; i < u->npw; i++) {
        uint8_t key[ACL_KEY_LEN];
        if (acl__derive(pw, len, &u->pw[i], key) != 0) continue;
        ok |= CRYPTO_memcmp(key, u->pw[i].key, ACL_KEY_LEN) == 0;
    }
    return ok;
}

int
acl_hash_password(const char *pw, size_t len, uint32_t iterations, char *out, size_t cap)
{
    struct acl_hash h = {.iterations = iterations ? iterations : ACL_ITER_DEFAULT, .salt_len = 16};
    if (h.iterations < ACL_ITER_MIN || h.iterations > ACL_ITER_MAX || cap < 128) return JUNO_EINVAL;
    if (RAND_bytes(h.salt, (int)h.salt_len) != 1) return JUNO_EIO;
    if (acl__derive(pw, len, &h, h.key) != 0) return JUNO_EIO;
    char s64[32], k64[48];
    EVP_EncodeBlock((unsigned char *)s64, h.salt, (int)h.salt_len);
    EVP_EncodeBlock((unsigned char *)k64, h.key, ACL_KEY_LEN);
    snprintf(out, cap, ACL_HASH_PREFIX "%u$%s$%s", h.iterations, s64, k64);
    return 0;
}
