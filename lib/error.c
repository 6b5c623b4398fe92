/* error.c: names and messages of juno's status codes (see error.h). */
#include "error.h"

#include <string.h>

const char *
error_name(int code)
{
    switch (code) {
#define XX(name, value, msg)                                                                       \
    case (value): return #name;
        JUNO_ERROR_MAP(XX)
#undef XX
    case 0: return "OK";
    default: return "UNKNOWN";
    }
}

const char *
error_str(int code)
{
    switch (code) {
#define XX(name, value, msg)                                                                       \
    case (value): return msg;
        JUNO_ERROR_MAP(XX)
#undef XX
    case 0: return "success";
    default: return code < 0 && code > -4096 ? strerror(-code) : "unknown error";
    }
}

int
error_from_errno(int e)
{
    return e > 0 ? -e : e;
}
