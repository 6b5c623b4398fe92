/* jstate.c: flat JSON state documents (jstate.h). */
#include "jstate.h"

#include "error.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

int
jstate_parse(const char *text, size_t len, struct jstate_field *fields, size_t n)
{
    for (size_t i = 0; i < n; i++) fields[i].present = 0;
    if (len > 65536) return JUNO_EBADDATA;
    cJSON *o = cJSON_ParseWithLength(text, len);
    if (o == NULL || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        return JUNO_EBADDATA;
    }
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, fields[i].name);
        uint64_t x;
        if (v == NULL) continue;
        if (cJSON_IsBool(v)) {
            x = cJSON_IsTrue(v) ? 1 : 0;
        } else if (cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= JSTATE_MAX_INT &&
                   floor(v->valuedouble) == v->valuedouble) {
            x = (uint64_t)v->valuedouble;
        } else {
            rc = JUNO_EBADDATA;
            break;
        }
        if (x > fields[i].max) {
            rc = JUNO_EBADDATA;
            break;
        }
        *fields[i].value = x;
        fields[i].present = 1;
    }
    cJSON_Delete(o);
    return rc;
}

int
jstate_format(char *buf, size_t cap, const struct jstate_field *fields, size_t n)
{
    size_t off = 0;
    int w = snprintf(buf, cap, "{");
    if (w < 0 || (size_t)w >= cap) return JUNO_EMSGSIZE;
    off = (size_t)w;
    for (size_t i = 0; i < n; i++) {
        w = snprintf(buf + off, cap - off, "%s\"%s\":%" PRIu64, i ? "," : "", fields[i].name,
                     *fields[i].value);
        if (w < 0 || (size_t)w >= cap - off) return JUNO_EMSGSIZE;
        off += (size_t)w;
    }
    w = snprintf(buf + off, cap - off, "}");
    if (w < 0 || (size_t)w >= cap - off) return JUNO_EMSGSIZE;
    return (int)(off + (size_t)w);
}
