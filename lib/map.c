/* map.c: shard maps: JSON parsing with full validation, canonical
 * serialization, construction and owner lookup (see map.h).
 *
 * Parsing runs in two steps: read the JSON tree into a struct map in input
 * order, reporting every problem with its place (input indexes, so the
 * messages match what the user sees in the file); then, when nothing was
 * wrong, sort zones and nodes into canonical order and renumber the owners.
 */
#include "map.h"
#include "cli.h"
#include "error.h"
#include "hash.h"

#include <cjson/cJSON.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAP_HOST_MAX      256 /* host part of an address, with its NUL */
#define MAP_OWNER_REPORTS 32  /* bad owners entries reported one by one, per zone */

struct parse {
    map_report_fn *report; /* borrowed, may be NULL */
    void *arg;             /* borrowed */
    int nerr;
};

static void perr(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
perr(struct parse *p, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    p->nerr++;
    if (p->report != NULL) p->report(p->arg, msg);
}

int
map_name_valid(const char *name)
{
    size_t n = 0;
    for (; name[n] != '\0'; n++) {
        if (n >= MAP_NAME_MAX || name[n] < 0x21 || name[n] > 0x7e) return JUNO_EINVAL;
    }
    return n > 0 ? 0 : JUNO_EINVAL;
}

/* Split addr into host and port; the normalized form "host:port" (port without
 * leading zeros) is what duplicate detection compares. */
static int
addr_split(const char *addr, char *host, uint16_t *port)
{
    if (strlen(addr) > MAP_ADDR_MAX) return JUNO_EINVAL;
    if (cli_parse_hostport(addr, host, MAP_HOST_MAX, port) != 0) return JUNO_EINVAL;
    for (const char *c = host; *c; c++) {
        if (*c < 0x21 || *c > 0x7e) return JUNO_EINVAL;
    }
    return 0;
}

int
map_addr_valid(const char *addr)
{
    char host[MAP_HOST_MAX];
    uint16_t port;
    return addr_split(addr, host, &port);
}

static int
addr_same(const char *a, const char *b)
{
    char ha[MAP_HOST_MAX], hb[MAP_HOST_MAX];
    uint16_t pa, pb;
    if (addr_split(a, ha, &pa) != 0 || addr_split(b, hb, &pb) != 0) return strcmp(a, b) == 0;
    return pa == pb && strcmp(ha, hb) == 0;
}

/* ---- reading the JSON tree ---------------------------------------------- */

static const char *
json_type(const cJSON *it)
{
    if (cJSON_IsObject(it)) return "object";
    if (cJSON_IsArray(it)) return "array";
    if (cJSON_IsString(it)) return "string";
    if (cJSON_IsNumber(it)) return "number";
    if (cJSON_IsBool(it)) return "boolean";
    if (cJSON_IsNull(it)) return "null";
    return "invalid value";
}

/* s cut to fit buf, with bytes outside printable ASCII shown as '?', so that
 * a message stays on one line. */
static const char *
clean(const char *s, char *buf, size_t cap)
{
    size_t n = 0;
    for (; s[n] != '\0' && n + 1 < cap; n++) buf[n] = s[n] >= 0x20 && s[n] < 0x7f ? s[n] : '?';
    buf[n] = '\0';
    return buf;
}

/* A short rendering of a wrong value for messages: `string "x"`, `1.5`, `array`. */
static const char *
json_show(const cJSON *it, char *buf, size_t cap)
{
    char text[41];
    if (cJSON_IsNumber(it))
        snprintf(buf, cap, "%.15g", it->valuedouble);
    else if (cJSON_IsString(it))
        snprintf(buf, cap, "string \"%s\"", clean(it->valuestring, text, sizeof(text)));
    else
        snprintf(buf, cap, "%s", json_type(it));
    return buf;
}

/* obj's field key, or NULL; a missing or repeated field is reported. */
static const cJSON *
field(struct parse *p, const cJSON *obj, const char *key, const char *where)
{
    const cJSON *found = NULL;
    int dup = 0;
    for (const cJSON *c = obj->child; c != NULL; c = c->next) {
        if (c->string == NULL || strcmp(c->string, key) != 0) continue;
        if (found == NULL)
            found = c;
        else
            dup = 1;
    }
    if (found == NULL)
        perr(p, "%s%smissing required field \"%s\"", where, *where ? ": " : "", key);
    else if (dup)
        perr(p, "%s%sduplicate field \"%s\"", where, *where ? ": " : "", key);
    return dup ? NULL : found;
}

enum { NUM_OK = 0, NUM_NOT_INT = -1, NUM_RANGE = -2 };

/* An integer in [min, max]: NUM_OK, NUM_NOT_INT (not a number or fractional)
 * or NUM_RANGE (an integer outside). */
static int
json_int(const cJSON *it, double min, double max, uint64_t *out)
{
    if (!cJSON_IsNumber(it)) return NUM_NOT_INT;
    double d = it->valuedouble;
    if (!isfinite(d) || floor(d) != d) return NUM_NOT_INT;
    if (d < min || d > max) return NUM_RANGE;
    *out = (uint64_t)d;
    return NUM_OK;
}

/* A required integer field in [min, max]; returns 0 and *out, or -1 (reported). */
static int
int_field(struct parse *p, const cJSON *obj, const char *key, uint64_t min, uint64_t max,
          uint64_t *out)
{
    char shown[64];
    const cJSON *it = field(p, obj, key, "");
    if (it == NULL) return -1;
    int rc = json_int(it, (double)min, (double)max, out);
    if (rc == NUM_NOT_INT) {
        perr(p, "\"%s\": expected an integer, got %s", key, json_show(it, shown, sizeof(shown)));
    } else if (rc == NUM_RANGE) {
        perr(p, "\"%s\": %.15g is out of range (%" PRIu64 "..%" PRIu64 ")", key, it->valuedouble,
             min, max);
    }
    return rc == NUM_OK ? 0 : -1;
}

/* A required name field copied into dst; returns 0 or -1 (reported). */
static int
name_field(struct parse *p, const cJSON *obj, const char *key, const char *where, char *dst)
{
    char shown[64], text[81];
    const char *sep = *where ? ": " : "";
    const cJSON *it = field(p, obj, key, where);
    if (it == NULL) return -1;
    if (!cJSON_IsString(it)) {
        perr(p, "%s%s\"%s\": expected a string, got %s", where, sep, key,
             json_show(it, shown, sizeof(shown)));
        return -1;
    }
    int bad = strcmp(key, "addr") == 0 ? map_addr_valid(it->valuestring)
                                       : map_name_valid(it->valuestring);
    if (bad) {
        perr(p, "%s%s\"%s\": \"%s\" is not %s", where, sep, key,
             clean(it->valuestring, text, sizeof(text)),
             strcmp(key, "addr") == 0 ? "a valid HOST:PORT address"
                                      : "a valid name (1-64 printable characters, no spaces)");
        return -1;
    }
    strcpy(dst, it->valuestring);
    return 0;
}

/* Read a zone's nodes. Returns 0 when the array is usable (its length is the
 * node count owners are checked against, even if some nodes are bad), else -1. */
static int
read_nodes(struct parse *p, struct map_zone *zone, const cJSON *arr, const char *where)
{
    char shown[64], nwhere[256];
    if (!cJSON_IsArray(arr)) {
        perr(p, "%s: \"nodes\": expected an array, got %s", where,
             json_show(arr, shown, sizeof(shown)));
        return -1;
    }
    int n = cJSON_GetArraySize(arr);
    if (n == 0) {
        perr(p, "%s: \"nodes\" is empty (a zone needs at least one node)", where);
        return -1;
    }
    if (n > MAP_MAX_NODES) {
        perr(p, "%s: %d nodes, at most %d are allowed", where, n, MAP_MAX_NODES);
        return -1;
    }
    zone->nodes = calloc((size_t)n, sizeof(*zone->nodes));
    if (zone->nodes == NULL) {
        perr(p, "%s: out of memory", where);
        return -1;
    }
    zone->nnodes = (uint32_t)n;
    int i = 0;
    for (const cJSON *it = arr->child; it != NULL; it = it->next, i++) {
        snprintf(nwhere, sizeof(nwhere), "%s: node %d", where, i);
        if (!cJSON_IsObject(it)) {
            perr(p, "%s: expected an object, got %s", nwhere, json_show(it, shown, sizeof(shown)));
            continue;
        }
        struct map_node *node = &zone->nodes[i];
        if (name_field(p, it, "name", nwhere, node->name) == 0) {
            snprintf(nwhere, sizeof(nwhere), "%s: node %d (\"%s\")", where, i, node->name);
        }
        name_field(p, it, "addr", nwhere, node->addr);
    }
    return 0;
}

static void
read_owners(struct parse *p, const struct map *m, struct map_zone *zone, const cJSON *arr,
            const char *where)
{
    char shown[64];
    if (!cJSON_IsArray(arr)) {
        perr(p, "%s: \"owners\": expected an array of %" PRIu32 " node indexes, got %s", where,
             m->shards, json_show(arr, shown, sizeof(shown)));
        return;
    }
    int n = cJSON_GetArraySize(arr);
    if ((uint32_t)n != m->shards) {
        perr(p, "%s: \"owners\" has %d entries, expected %" PRIu32 " (one per shard)", where, n,
             m->shards);
    }
    int i = 0, nbad = 0;
    for (const cJSON *it = arr->child; it != NULL; it = it->next, i++) {
        uint64_t v = 0;
        int rc = json_int(it, 0, (double)zone->nnodes - 1, &v);
        if (rc == NUM_OK) {
            if ((uint32_t)i < m->shards) zone->owners[i] = (uint32_t)v;
            continue;
        }
        if (++nbad > MAP_OWNER_REPORTS) continue;
        if (rc == NUM_NOT_INT) {
            perr(p, "%s: owners[%d]: expected a node index, got %s", where, i,
                 json_show(it, shown, sizeof(shown)));
        } else {
            perr(p, "%s: owners[%d] = %.15g: no such node (zone has %" PRIu32 " node%s)", where, i,
                 it->valuedouble, zone->nnodes, zone->nnodes == 1 ? "" : "s");
        }
    }
    if (nbad > MAP_OWNER_REPORTS) {
        perr(p, "%s: %d more bad \"owners\" entries not shown", where, nbad - MAP_OWNER_REPORTS);
    }
}

static void
read_zone(struct parse *p, struct map *m, int shards_ok, uint32_t zi, const cJSON *obj)
{
    char shown[64], where[128];
    struct map_zone *zone = &m->zones[zi];
    snprintf(where, sizeof(where), "zone %" PRIu32, zi);
    if (!cJSON_IsObject(obj)) {
        perr(p, "%s: expected an object, got %s", where, json_show(obj, shown, sizeof(shown)));
        return;
    }
    if (name_field(p, obj, "name", where, zone->name) == 0) {
        snprintf(where, sizeof(where), "zone \"%s\"", zone->name);
    }
    const cJSON *nodes = field(p, obj, "nodes", where);
    const cJSON *owners = field(p, obj, "owners", where);
    int nodes_ok = nodes != NULL && read_nodes(p, zone, nodes, where) == 0;
    if (!nodes_ok || !shards_ok || owners == NULL) return;
    zone->owners = calloc(m->shards, sizeof(*zone->owners));
    if (zone->owners == NULL) {
        perr(p, "%s: out of memory", where);
        return;
    }
    read_owners(p, m, zone, owners, where);
}

/* ---- cross-checks: duplicate names and addresses ------------------------ */

struct addr_ref {
    char key[MAP_ADDR_MAX + 8]; /* normalized "host:port" */
    uint32_t zone, node;
};

static int
addr_ref_cmp(const void *a, const void *b)
{
    const struct addr_ref *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c != 0) return c;
    if (x->zone != y->zone) return x->zone < y->zone ? -1 : 1;
    return x->node < y->node ? -1 : x->node > y->node;
}

struct name_ref {
    const char *name; /* borrowed */
    uint32_t idx;
};

static int
name_ref_cmp(const void *a, const void *b)
{
    const struct name_ref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : (x->idx < y->idx ? -1 : x->idx > y->idx);
}

/* Node indexes of zone sorted by name (then index) into idx (nnodes entries).
 * Returns 0 or JUNO_ENOMEM. */
static int
nodes_by_name(const struct map_zone *zone, uint32_t *idx)
{
    struct name_ref *refs = malloc((size_t)zone->nnodes * sizeof(*refs));
    if (refs == NULL) return JUNO_ENOMEM;
    for (uint32_t i = 0; i < zone->nnodes; i++) refs[i] = (struct name_ref){zone->nodes[i].name, i};
    qsort(refs, zone->nnodes, sizeof(*refs), name_ref_cmp);
    for (uint32_t i = 0; i < zone->nnodes; i++) idx[i] = refs[i].idx;
    free(refs);
    return 0;
}

/* "zone \"z0\"", or "zone 2" when the zone's name was unusable. */
static const char *
zone_label(const struct map *m, uint32_t z, char *buf, size_t cap)
{
    if (m->zones[z].name[0] != '\0')
        snprintf(buf, cap, "zone \"%s\"", m->zones[z].name);
    else
        snprintf(buf, cap, "zone %" PRIu32, z);
    return buf;
}

/* Duplicate node names within each zone; nodes whose name was unusable
 * (already reported) are skipped. */
static int
check_node_names(struct parse *p, const struct map *m, uint32_t z)
{
    const struct map_zone *zone = &m->zones[z];
    char zl[96];
    uint32_t *idx = malloc((size_t)zone->nnodes * sizeof(*idx) + 1);
    if (idx == NULL || nodes_by_name(zone, idx) != 0) {
        free(idx);
        return JUNO_ENOMEM;
    }
    for (uint32_t k = 0, first = UINT32_MAX; k < zone->nnodes; k++) {
        uint32_t i = idx[k];
        if (zone->nodes[i].name[0] == '\0') continue;
        if (first == UINT32_MAX || strcmp(zone->nodes[i].name, zone->nodes[first].name) != 0) {
            first = i;
            continue;
        }
        perr(p, "%s: node %" PRIu32 " (\"%s\"): duplicate name (also node %" PRIu32 ")",
             zone_label(m, z, zl, sizeof(zl)), i, zone->nodes[i].name, first);
    }
    free(idx);
    return 0;
}

/* Duplicate addresses across the whole map (HOST and PORT compared, so
 * "h:080" and "h:80" are the same); unusable addresses are skipped. */
static int
check_addresses(struct parse *p, const struct map *m)
{
    size_t total = 0, k = 0;
    char zl[96], nl[96];
    for (uint32_t z = 0; z < m->nzones; z++) total += m->zones[z].nnodes;
    struct addr_ref *refs = calloc(total ? total : 1, sizeof(*refs));
    if (refs == NULL) return JUNO_ENOMEM;
    for (uint32_t z = 0; z < m->nzones; z++) {
        for (uint32_t i = 0; i < m->zones[z].nnodes; i++) {
            char host[MAP_HOST_MAX];
            uint16_t port;
            if (addr_split(m->zones[z].nodes[i].addr, host, &port) != 0) continue;
            snprintf(refs[k].key, sizeof(refs[k].key), "%s:%u", host, (unsigned)port);
            refs[k].zone = z;
            refs[k++].node = i;
        }
    }
    qsort(refs, k, sizeof(*refs), addr_ref_cmp);
    for (size_t j = 1, first = 0; j < k; j++) {
        if (strcmp(refs[j].key, refs[first].key) != 0) {
            first = j;
            continue;
        }
        const struct map_zone *zj = &m->zones[refs[j].zone], *zf = &m->zones[refs[first].zone];
        const struct map_node *nj = &zj->nodes[refs[j].node], *nf = &zf->nodes[refs[first].node];
        if (nj->name[0] != '\0')
            snprintf(nl, sizeof(nl), "node %" PRIu32 " (\"%s\")", refs[j].node, nj->name);
        else
            snprintf(nl, sizeof(nl), "node %" PRIu32, refs[j].node);
        perr(p, "%s: %s: duplicate address %s (also node \"%s\" in zone \"%s\")",
             zone_label(m, refs[j].zone, zl, sizeof(zl)), nl, nj->addr, nf->name, zf->name);
    }
    free(refs);
    return 0;
}

/* ---- canonical order ------------------------------------------------------ */

static int
canonicalize_zone(struct map_zone *zone, uint32_t shards)
{
    uint32_t *idx = malloc((size_t)zone->nnodes * sizeof(*idx));
    uint32_t *pos = malloc((size_t)zone->nnodes * sizeof(*pos));
    struct map_node *sorted = malloc((size_t)zone->nnodes * sizeof(*sorted));
    if (idx == NULL || pos == NULL || sorted == NULL || nodes_by_name(zone, idx) != 0) {
        free(idx), free(pos), free(sorted);
        return JUNO_ENOMEM;
    }
    for (uint32_t k = 0; k < zone->nnodes; k++) {
        sorted[k] = zone->nodes[idx[k]];
        pos[idx[k]] = k;
    }
    for (uint32_t s = 0; s < shards; s++) zone->owners[s] = pos[zone->owners[s]];
    free(zone->nodes);
    zone->nodes = sorted;
    free(idx);
    free(pos);
    return 0;
}

static int
zone_cmp(const void *a, const void *b)
{
    return strcmp(((const struct map_zone *)a)->name, ((const struct map_zone *)b)->name);
}

/* ---- parse ---------------------------------------------------------------- */

static void
report_json_error(struct parse *p, const char *json, size_t len, const char *at, const char *what)
{
    size_t line = 1, col = 1, off = at != NULL && at >= json ? (size_t)(at - json) : 0;
    if (off > len) off = len;
    for (size_t i = 0; i < off; i++) {
        if (json[i] == '\n')
            line++, col = 1;
        else
            col++;
    }
    perr(p, "%s at line %zu, column %zu", what, line, col);
}

static int
parse_tree(struct parse *p, const cJSON *root, struct map *m)
{
    char shown[64];
    uint64_t v;
    if (!cJSON_IsObject(root)) {
        perr(p, "top level: expected an object, got %s", json_show(root, shown, sizeof(shown)));
        return 0;
    }
    name_field(p, root, "cluster", "", m->cluster);
    if (int_field(p, root, "version", 1, MAP_MAX_VERSION, &v) == 0) m->version = v;
    int shards_ok = int_field(p, root, "shards", 1, MAP_MAX_SHARDS, &v) == 0;
    if (shards_ok) m->shards = (uint32_t)v;
    const cJSON *zones = field(p, root, "zones", "");
    if (zones == NULL) return 0;
    if (!cJSON_IsArray(zones)) {
        perr(p, "\"zones\": expected an array, got %s", json_show(zones, shown, sizeof(shown)));
        return 0;
    }
    int nz = cJSON_GetArraySize(zones);
    if (nz < 1 || nz > MAP_MAX_ZONES) {
        perr(p, "\"zones\": %d zones, expected 1..%d", nz, MAP_MAX_ZONES);
        return 0;
    }
    m->nzones = (uint32_t)nz;
    uint32_t z = 0;
    for (const cJSON *it = zones->child; it != NULL; it = it->next, z++) {
        read_zone(p, m, shards_ok, z, it);
    }
    for (uint32_t a = 0; a < m->nzones; a++) {
        for (uint32_t b = a + 1; b < m->nzones; b++) {
            if (m->zones[b].name[0] != '\0' && strcmp(m->zones[a].name, m->zones[b].name) == 0) {
                perr(p, "zone %" PRIu32 " (\"%s\"): duplicate zone name (also zone %" PRIu32 ")", b,
                     m->zones[b].name, a);
            }
        }
    }
    for (z = 0; z < m->nzones; z++) {
        if (check_node_names(p, m, z) != 0) return JUNO_ENOMEM;
    }
    return check_addresses(p, m);
}

int
map_parse_report(const char *json, size_t len, struct map **out, map_report_fn *report, void *arg)
{
    struct parse p = {report, arg, 0};
    if (out != NULL) *out = NULL;
    if (len > MAP_MAX_JSON) {
        perr(&p, "map is %zu bytes, larger than the limit of %u", len, MAP_MAX_JSON);
        return JUNO_EMSGSIZE;
    }
    size_t lead = 0;
    while (lead < len && strchr(" \t\r\n", json[lead]) != NULL && json[lead] != '\0') lead++;
    if (lead == len) {
        perr(&p, "empty input (expected a JSON object)");
        return JUNO_EBADMAP;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(json, len, &end, 0);
    if (root == NULL) {
        report_json_error(&p, json, len, end, "malformed JSON");
        return JUNO_EBADMAP;
    }
    size_t rest = end != NULL ? (size_t)(end - json) : len;
    while (rest < len && strchr(" \t\r\n", json[rest]) != NULL && json[rest] != '\0') rest++;
    if (rest < len) {
        report_json_error(&p, json, len, json + rest,
                          "malformed JSON: unexpected data after the map");
        cJSON_Delete(root);
        return JUNO_EBADMAP;
    }
    struct map *m = calloc(1, sizeof(*m));
    int rc = m == NULL ? JUNO_ENOMEM : parse_tree(&p, root, m);
    cJSON_Delete(root);
    if (rc == 0 && p.nerr > 0) rc = JUNO_EBADMAP;
    if (rc == 0) {
        qsort(m->zones, m->nzones, sizeof(m->zones[0]), zone_cmp);
        for (uint32_t z = 0; z < m->nzones && rc == 0; z++) {
            rc = canonicalize_zone(&m->zones[z], m->shards);
        }
    }
    if (rc != 0 || out == NULL) {
        map_destroy(m);
        return rc;
    }
    *out = m;
    return 0;
}

struct first_err {
    char *buf;
    size_t cap;
    int seen;
};

static void
keep_first(void *arg, const char *msg)
{
    struct first_err *f = arg;
    if (f->seen++ == 0 && f->cap > 0) snprintf(f->buf, f->cap, "%s", msg);
}

int
map_parse(const char *json, size_t len, struct map **out, char *err, size_t errlen)
{
    struct first_err f = {err, errlen, 0};
    if (errlen > 0) err[0] = '\0';
    int rc = map_parse_report(json, len, out, keep_first, &f);
    if (rc != 0 && f.seen == 0 && errlen > 0) snprintf(err, errlen, "%s", error_str(rc));
    return rc;
}

/* ---- serialize ------------------------------------------------------------ */

struct buf {
    char *p; /* owned */
    size_t len, cap;
};

/* Append; the capacity was computed up front, so this never reallocates. */
static void bput(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void
bput(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n > 0) b->len += (size_t)n < b->cap - b->len ? (size_t)n : b->cap - b->len - 1;
}

/* A JSON string of a printable-ASCII name: only '"' and '\' need escaping. */
static void
bstr(struct buf *b, const char *s)
{
    bput(b, "\"");
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            bput(b, "\\%c", *s);
        else
            bput(b, "%c", *s);
    }
    bput(b, "\"");
}

char *
map_to_json(const struct map *m, size_t *len)
{
    /* Upper bound: names at most doubled by escaping, owners at most
     * "4096, " (6 bytes) each, 128 bytes of punctuation per line. */
    size_t cap = 512 + 2 * MAP_NAME_MAX;
    for (uint32_t z = 0; z < m->nzones; z++) {
        cap += 256 + 2 * MAP_NAME_MAX + (size_t)m->shards * 6;
        cap += (size_t)m->zones[z].nnodes * (128 + 2 * MAP_NAME_MAX + 2 * MAP_ADDR_MAX);
    }
    struct buf b = {malloc(cap), 0, cap};
    if (b.p == NULL) return NULL;
    b.p[0] = '\0';
    bput(&b, "{\n  \"cluster\": ");
    bstr(&b, m->cluster);
    bput(&b, ",\n  \"version\": %" PRIu64 ",\n  \"shards\": %" PRIu32 ",\n  \"zones\": [\n",
         m->version, m->shards);
    for (uint32_t z = 0; z < m->nzones; z++) {
        const struct map_zone *zone = &m->zones[z];
        bput(&b, "    {\n      \"name\": ");
        bstr(&b, zone->name);
        bput(&b, ",\n      \"nodes\": [\n");
        for (uint32_t i = 0; i < zone->nnodes; i++) {
            bput(&b, "        {\"name\": ");
            bstr(&b, zone->nodes[i].name);
            bput(&b, ", \"addr\": ");
            bstr(&b, zone->nodes[i].addr);
            bput(&b, "}%s\n", i + 1 < zone->nnodes ? "," : "");
        }
        bput(&b, "      ],\n      \"owners\": [");
        for (uint32_t s = 0; s < m->shards; s++) {
            bput(&b, "%s%" PRIu32, s ? ", " : "", zone->owners[s]);
        }
        bput(&b, "]\n    }%s\n", z + 1 < m->nzones ? "," : "");
    }
    bput(&b, "  ]\n}\n");
    if (len != NULL) *len = b.len;
    return b.p;
}

/* ---- construction ----------------------------------------------------------- */

struct map *
map_create(const char *cluster, uint32_t shards, uint64_t version)
{
    if (map_name_valid(cluster) != 0 || shards < 1 || shards > MAP_MAX_SHARDS) return NULL;
    if (version < 1 || version > MAP_MAX_VERSION) return NULL;
    struct map *m = calloc(1, sizeof(*m));
    if (m == NULL) return NULL;
    strcpy(m->cluster, cluster);
    m->shards = shards;
    m->version = version;
    return m;
}

struct map *
map_clone(const struct map *m)
{
    struct map *c = calloc(1, sizeof(*c));
    if (c == NULL) return NULL;
    *c = *m;
    for (uint32_t z = 0; z < m->nzones; z++) {
        struct map_zone *dz = &c->zones[z];
        const struct map_zone *sz = &m->zones[z];
        size_t nb = (size_t)sz->nnodes * sizeof(*dz->nodes);
        dz->nodes = malloc(nb ? nb : 1);
        dz->owners = malloc((size_t)m->shards * sizeof(*dz->owners));
        if (dz->nodes == NULL || dz->owners == NULL) {
            for (uint32_t k = z + 1; k < m->nzones; k++) c->zones[k].nodes = NULL;
            for (uint32_t k = z + 1; k < m->nzones; k++) c->zones[k].owners = NULL;
            map_destroy(c);
            return NULL;
        }
        if (nb) memcpy(dz->nodes, sz->nodes, nb);
        memcpy(dz->owners, sz->owners, (size_t)m->shards * sizeof(*dz->owners));
    }
    return c;
}

void
map_destroy(struct map *m)
{
    if (m == NULL) return;
    for (uint32_t z = 0; z < MAP_MAX_ZONES; z++) {
        free(m->zones[z].nodes);
        free(m->zones[z].owners);
    }
    free(m);
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

int
map_zone_add(struct map *m, const char *name, char *err, size_t errlen)
{
    if (map_name_valid(name) != 0) {
        set_err(err, errlen,
                "zone \"%.80s\": not a valid name (1-64 printable characters, no spaces)", name);
        return JUNO_EINVAL;
    }
    if (map_zone_find(m, name) >= 0) {
        set_err(err, errlen, "zone \"%s\": duplicate zone name", name);
        return JUNO_EEXIST;
    }
    if (m->nzones >= MAP_MAX_ZONES) {
        set_err(err, errlen, "zone \"%s\": too many zones (at most %d)", name, MAP_MAX_ZONES);
        return JUNO_ERANGE;
    }
    uint32_t *owners = calloc(m->shards, sizeof(*owners));
    if (owners == NULL) return JUNO_ENOMEM;
    uint32_t pos = 0;
    while (pos < m->nzones && strcmp(m->zones[pos].name, name) < 0) pos++;
    memmove(&m->zones[pos + 1], &m->zones[pos], (m->nzones - pos) * sizeof(m->zones[0]));
    memset(&m->zones[pos], 0, sizeof(m->zones[pos]));
    strcpy(m->zones[pos].name, name);
    m->zones[pos].owners = owners;
    m->nzones++;
    return (int)pos;
}

int
map_node_add(struct map *m, uint32_t z, const char *name, const char *addr, char *err,
             size_t errlen)
{
    if (z >= m->nzones) return JUNO_EINVAL;
    struct map_zone *zone = &m->zones[z];
    if (map_name_valid(name) != 0) {
        set_err(
            err, errlen,
            "zone \"%s\": node \"%.80s\": not a valid name (1-64 printable characters, no spaces)",
            zone->name, name);
        return JUNO_EINVAL;
    }
    if (map_addr_valid(addr) != 0) {
        set_err(err, errlen, "zone \"%s\": node \"%s\": \"%.80s\" is not a valid HOST:PORT address",
                zone->name, name, addr);
        return JUNO_EINVAL;
    }
    if (map_node_find(m, z, name) >= 0) {
        set_err(err, errlen, "zone \"%s\": node \"%s\": duplicate name", zone->name, name);
        return JUNO_EEXIST;
    }
    for (uint32_t oz = 0; oz < m->nzones; oz++) {
        for (uint32_t i = 0; i < m->zones[oz].nnodes; i++) {
            const struct map_node *o = &m->zones[oz].nodes[i];
            if (!addr_same(o->addr, addr)) continue;
            set_err(
                err, errlen,
                "zone \"%s\": node \"%s\": duplicate address %s (also node \"%s\" in zone \"%s\")",
                zone->name, name, addr, o->name, m->zones[oz].name);
            return JUNO_EEXIST;
        }
    }
    if (zone->nnodes >= MAP_MAX_NODES) {
        set_err(err, errlen, "zone \"%s\": too many nodes (at most %d)", zone->name, MAP_MAX_NODES);
        return JUNO_ERANGE;
    }
    struct map_node *nodes = realloc(zone->nodes, (zone->nnodes + 1) * sizeof(*nodes));
    if (nodes == NULL) return JUNO_ENOMEM;
    zone->nodes = nodes;
    uint32_t pos = 0;
    while (pos < zone->nnodes && strcmp(nodes[pos].name, name) < 0) pos++;
    memmove(&nodes[pos + 1], &nodes[pos], (zone->nnodes - pos) * sizeof(*nodes));
    memset(&nodes[pos], 0, sizeof(*nodes));
    strcpy(nodes[pos].name, name);
    strcpy(nodes[pos].addr, addr);
    if (zone->nnodes > 0) {
        for (uint32_t s = 0; s < m->shards; s++) zone->owners[s] += zone->owners[s] >= pos;
    }
    zone->nnodes++;
    return (int)pos;
}

int
map_node_delete(struct map *m, uint32_t z, uint32_t i)
{
    if (z >= m->nzones || i >= m->zones[z].nnodes || m->zones[z].nnodes < 2) return JUNO_EINVAL;
    struct map_zone *zone = &m->zones[z];
    for (uint32_t s = 0; s < m->shards; s++) {
        if (zone->owners[s] == i) return JUNO_EINVAL;
    }
    for (uint32_t s = 0; s < m->shards; s++) zone->owners[s] -= zone->owners[s] > i;
    memmove(&zone->nodes[i], &zone->nodes[i + 1], (zone->nnodes - i - 1) * sizeof(zone->nodes[0]));
    zone->nnodes--;
    return 0;
}

/* ---- lookup ------------------------------------------------------------------ */

int
map_zone_find(const struct map *m, const char *name)
{
    for (uint32_t z = 0; z < m->nzones; z++) {
        if (strcmp(m->zones[z].name, name) == 0) return (int)z;
    }
    return JUNO_ENOTFOUND;
}

int
map_node_find(const struct map *m, uint32_t z, const char *name)
{
    if (z >= m->nzones) return JUNO_ENOTFOUND;
    const struct map_zone *zone = &m->zones[z];
    uint32_t lo = 0, hi = zone->nnodes; /* nodes are sorted by name */
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(zone->nodes[mid].name, name);
        if (c == 0) return (int)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return JUNO_ENOTFOUND;
}

uint32_t
map_shard_of(const struct map *m, const void *key, size_t len)
{
    return hash_shard(key, len, m->shards);
}

const struct map_node *
map_owner(const struct map *m, uint32_t z, uint32_t shard)
{
    if (z >= m->nzones || shard >= m->shards) return NULL;
    const struct map_zone *zone = &m->zones[z];
    if (zone->owners[shard] >= zone->nnodes) return NULL;
    return &zone->nodes[zone->owners[shard]];
}

void
map_zone_loads(const struct map *m, uint32_t z, uint32_t *count)
{
    const struct map_zone *zone = &m->zones[z];
    memset(count, 0, (size_t)zone->nnodes * sizeof(*count));
    for (uint32_t s = 0; s < m->shards; s++) count[zone->owners[s]]++;
}
