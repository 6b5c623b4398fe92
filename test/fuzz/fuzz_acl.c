/* fuzz_acl.c: libFuzzer target for the --acl file parser (lib/acl.c).
 *
 * The input is a whole file. It either parses, and then every user is found
 * by its name, its rules are well formed (a pattern without an inner '*', a
 * permission r or rw) and acl_allows answers for namespaces taken from the
 * input; or it is refused with a message that names the file and a line
 * within the input (abort otherwise). Password checks are left out: PBKDF2
 * with up to 10 M rounds would only slow the search.
 * Seeds: test/fuzz/seeds/fuzz_acl/.
 */
#include "acl.h"
#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct acl *a = NULL;
    char err[512];
    int rc = acl_parse((const char *)data, size, "f", &a, err, sizeof(err));
    if (rc != 0) {
        unsigned line = 0;
        size_t lines = 1;
        for (size_t i = 0; i < size; i++) lines += data[i] == '\n';
        if (rc != JUNO_EBADDATA || sscanf(err, "f:%u:", &line) != 1 || line == 0 || line > lines) {
            if (strncmp(err, "f: larger than", 14) != 0) abort();
        }
        return 0;
    }
    for (size_t i = 0; i < a->nusers; i++) {
        const struct acl_user *u = &a->users[i];
        if (acl_find(a, u->name, strlen(u->name)) != u) abort();
        for (int r = 0; r < u->nns; r++) {
            const struct acl_rule *rule = &u->ns[r];
            if (memchr(rule->pattern, '*', rule->len) != NULL) abort();
            if (rule->perm != ACL_READ && rule->perm != ACL_WRITE) abort();
            if (acl_allows(u, (const uint8_t *)rule->pattern, rule->len) < rule->perm) abort();
        }
        for (size_t off = 0; off + 1 < size && off < 64; off += 7)
            (void)acl_allows(u, data + off, size - off < 70 ? size - off : 70);
    }
    acl_unref(a);
    return 0;
}
