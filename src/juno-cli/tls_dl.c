/* tls_dl.c: tls.h for `juno`, by loading build/juno-tls.so on the first
 * tls_ctx_create (see lib/tls_api.h): a plaintext call never maps OpenSSL.
 *
 * The plugin is looked for beside the program (the build tree), then in
 * ../lib/juno/ from it (make install). Sessions and contexts come from
 * tls_ctx_create alone, so every other function runs with the table loaded.
 */
#include "tls_api.h"

#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const struct tls_api *api;

static const char *const reason_names[] = {
#define XX(name, label, what) label,
    TLS_REASON_MAP(XX)
#undef XX
};

const char *
tls_reason_name(int reason)
{
    return reason >= 0 && reason < TLS_R_COUNT ? reason_names[reason] : "unknown";
}

/* Open the plugin from the candidates in turn; err says what each gave. */
static int
tls_dl_load(char *err, size_t errlen)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0) {
        snprintf(err, errlen, "TLS: cannot find this program's directory to load %s",
                 TLS_PLUGIN_FILE);
        return -1;
    }
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash != NULL) *slash = '\0';
    const char *const where[] = {"%s/" TLS_PLUGIN_FILE, "%s/../lib/juno/" TLS_PLUGIN_FILE};
    size_t used = 0;
    for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof(path), where[i], exe);
        void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        const struct tls_api *(*get)(void) = NULL;
        if (h != NULL) *(void **)&get = dlsym(h, "juno_tls_api");
        const struct tls_api *a = get ? get() : NULL;
        if (a != NULL && a->version == TLS_API_VERSION) {
            api = a; /* the handle stays open for the process's life */
            return 0;
        }
        const char *why = h == NULL ? dlerror() : "not a juno TLS plugin of this version";
        if (h != NULL) dlclose(h);
        if (used < errlen)
            used += (size_t)snprintf(err + used, errlen - used, "%s%s",
                                     i ? "; " : "cannot load TLS support: ", why);
    }
    return -1;
}

struct tls_ctx *
tls_ctx_create(enum tls_role role, const struct tls_config *cfg, char *err, size_t errlen)
{
    if (api == NULL && tls_dl_load(err, errlen) != 0) return NULL;
    return api->tls_ctx_create(role, cfg, err, errlen);
}

/* The others: straight to the table (a context exists, so it is loaded;
 * a NULL destroyed before is a no-op, as in tls.h). */
#define TLS_DL_FUNC(ret, name, params, args)                                                       \
    ret name params                                                                                \
    {                                                                                              \
        return api->name args;                                                                     \
    }
#define TLS_DL_PROC(name, params, args)                                                            \
    void name params                                                                               \
    {                                                                                              \
        if (api != NULL) api->name args;                                                           \
    }
TLS_API_FUNCS(TLS_DL_FUNC)
TLS_API_PROCS(TLS_DL_PROC)
