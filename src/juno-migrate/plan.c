/* plan.c: the plan juno-ring prints (`juno-ring plan --json`) and the state
 * juno-migrate saves while it runs ({"plan":...,"old_map":...,"phase":...}). */
#include "jmig.h"

#include "error.h"

#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
copy_str(const cJSON *o, const char *name, char *dst, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= cap || v->valuestring[0] == '\0') return -1;
    memcpy(dst, v->valuestring, strlen(v->valuestring) + 1);
    return 0;
}

static int
plan_from_json(const cJSON *root, struct plan *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof(*p));
    const cJSON *fv = cJSON_GetObjectItemCaseSensitive(root, "from_version");
    const cJSON *moves = cJSON_GetObjectItemCaseSensitive(root, "moves");
    const cJSON *map = cJSON_GetObjectItemCaseSensitive(root, "map");
    if (!cJSON_IsObject(root) || !cJSON_IsNumber(fv) || fv->valuedouble < 1 ||
        !cJSON_IsArray(moves) || !cJSON_IsObject(map)) {
        snprintf(err, errlen,
                 "not a plan from `juno-ring plan --json` (from_version, moves "
                 "and map are needed)");
        return JUNO_EBADDATA;
    }
    p->from_version = (uint64_t)fv->valuedouble;
    char *mj = cJSON_PrintUnformatted(map);
    if (mj == NULL) return JUNO_ENOMEM;
    char why[400];
    int rc = map_parse(mj, strlen(mj), &p->map, why, sizeof(why));
    free(mj);
    if (rc != 0) {
        snprintf(err, errlen, "the plan's map is invalid: %s", why);
        return JUNO_EBADDATA;
    }
    if (p->map->version != p->from_version + 1) {
        snprintf(err, errlen, "the plan's map has version %llu, expected from_version + 1 = %llu",
                 (unsigned long long)p->map->version, (unsigned long long)p->from_version + 1);
        plan_deinit(p);
        return JUNO_EBADDATA;
    }
    p->nmoves = (size_t)cJSON_GetArraySize(moves);
    p->moves = calloc(p->nmoves ? p->nmoves : 1, sizeof(*p->moves));
    if (p->moves == NULL) {
        plan_deinit(p);
        return JUNO_ENOMEM;
    }
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, moves)
    {
        struct move *mv = &p->moves[i];
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "shard");
        int zi = -1;
        if (copy_str(it, "zone", mv->zone, sizeof(mv->zone)) == 0)
            zi = map_zone_find(p->map, mv->zone);
        if (zi < 0 || !cJSON_IsNumber(sh) || sh->valuedouble < 0 ||
            sh->valuedouble >= p->map->shards || copy_str(it, "from", mv->from, sizeof(mv->from)) ||
            copy_str(it, "to", mv->to, sizeof(mv->to)) ||
            copy_str(it, "from_addr", mv->from_addr, sizeof(mv->from_addr)) ||
            copy_str(it, "to_addr", mv->to_addr, sizeof(mv->to_addr))) {
            snprintf(err, errlen, "move %zu of the plan is malformed", i + 1);
            plan_deinit(p);
            return JUNO_EBADDATA;
        }
        mv->zone_index = (uint32_t)zi;
        mv->shard = (uint32_t)sh->valuedouble;
        const struct map_node *owner = map_owner(p->map, mv->zone_index, mv->shard);
        if (strcmp(owner->name, mv->to) != 0) {
            snprintf(err, errlen,
                     "move %zu (zone %s shard %u) goes to %s, but the plan's map gives "
                     "the shard to %s",
                     i + 1, mv->zone, mv->shard, mv->to, owner->name);
            plan_deinit(p);
            return JUNO_EBADDATA;
        }
        memcpy(mv->src_addr, mv->from_addr, sizeof(mv->src_addr));
        i++;
    }
    return 0;
}

int
plan_parse(const char *text, size_t len, struct plan *p, char *err, size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength(text, len);
    if (root == NULL) {
        memset(p, 0, sizeof(*p));
        snprintf(err, errlen, "not JSON");
        return JUNO_EBADDATA;
    }
    int rc = plan_from_json(root, p, err, errlen);
    if (rc == 0 && (p->json = cJSON_PrintUnformatted(root)) == NULL) {
        plan_deinit(p);
        rc = JUNO_ENOMEM;
    }
    cJSON_Delete(root);
    return rc;
}

void
plan_deinit(struct plan *p)
{
    free(p->json);
    map_destroy(p->map);
    free(p->moves);
    memset(p, 0, sizeof(*p));
}

char *
plan_state_json(const struct jmig *j, const char *phase)
{
    size_t olen;
    char *old = map_to_json(j->old_map, &olen);
    if (old == NULL) return NULL;
    const char *px = j->proxies;
    size_t n = strlen(j->plan.json) + olen + strlen(phase) + (px ? strlen(px) : 0) + 80;
    char *s = malloc(n);
    if (s != NULL)
        snprintf(s, n, "{\"phase\":\"%s\",\"plan\":%s,\"old_map\":%s%s%s}", phase, j->plan.json,
                 old, px ? ",\"proxies\":" : "", px ? px : "");
    free(old);
    return s;
}

char *
plan_state_proxies(const char *text, size_t len)
{
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *px = cJSON_GetObjectItemCaseSensitive(root, "proxies");
    char *out = cJSON_IsArray(px) ? cJSON_PrintUnformatted(px) : NULL;
    cJSON_Delete(root);
    return out;
}

int
plan_state_parse(const char *text, size_t len, struct plan *p, struct map **old, char *phase,
                 size_t phaselen, char *err, size_t errlen)
{
    cJSON *root = cJSON_ParseWithLength(text, len);
    const cJSON *pl = cJSON_GetObjectItemCaseSensitive(root, "plan");
    const cJSON *om = cJSON_GetObjectItemCaseSensitive(root, "old_map");
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(root, "phase");
    memset(p, 0, sizeof(*p));
    *old = NULL;
    if (!cJSON_IsObject(pl) || !cJSON_IsObject(om) || !cJSON_IsString(ph)) {
        cJSON_Delete(root);
        snprintf(err, errlen, "the saved migration state is malformed");
        return JUNO_EBADDATA;
    }
    snprintf(phase, phaselen, "%s", ph->valuestring);
    int rc = plan_from_json(pl, p, err, errlen);
    if (rc == 0 && (p->json = cJSON_PrintUnformatted(pl)) == NULL) rc = JUNO_ENOMEM;
    char *mj = rc == 0 ? cJSON_PrintUnformatted(om) : NULL;
    if (rc == 0 && mj == NULL) rc = JUNO_ENOMEM;
    char why[400];
    if (rc == 0 && map_parse(mj, strlen(mj), old, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "the saved old map is invalid: %s", why);
        rc = JUNO_EBADDATA;
    }
    free(mj);
    cJSON_Delete(root);
    if (rc != 0) plan_deinit(p);
    return rc;
}
