/* tls_plugin.c: the table build/juno-tls.so exports (see tls_api.h). */
#include "tls_api.h"

const struct tls_api *
juno_tls_api(void)
{
#define TLS_API_ENTRY(ret, name, params, args) .name = name,
#define TLS_API_PROC(name, params, args)       .name = name,
    static const struct tls_api api = {.version = TLS_API_VERSION,
                                       .tls_ctx_create = tls_ctx_create,
                                       TLS_API_FUNCS(TLS_API_ENTRY) TLS_API_PROCS(TLS_API_PROC)};
#undef TLS_API_ENTRY
#undef TLS_API_PROC
    return &api;
}
