/* fuzz_etcd.c: libFuzzer target for what juno reads from etcd's JSON gateway
 * in answer to a unary call (lib/etcd.c): an answer is outside input (a
 * proxy in the way, another etcd version, a damaged member).
 *
 * The first input byte picks the HTTP status (200, 400, 404, 500 or 503), the
 * rest is the body. etcd__answer judges it as post_one does; a success is
 * then read the way every call reads its answer: the range answer
 * (etcd__range_answer), header.revision, deleted, succeeded, a lease's ID and
 * TTL. Checks:
 *   - the verdict is one etcd_int.h lists; a success is a JSON object from a
 *     200 without "error"; a failure leaves a message in etcd_strerror();
 *   - a range answer that reads holds NUL-terminated keys and values
 *     (value_len bytes), one pair per element of kvs; written again as a
 *     gateway answer (base64, int64 as strings) it reads back the same, and
 *     a refused one leaves *out empty.
 * Anything else aborts.
 * Seeds: test/fuzz/seeds/fuzz_etcd/ (answers of etcd 3.4's gateway as in
 * /work/shared/reference/etcd.md and test/unit/test_etcd.c);
 * test/fuzz/fuzz_etcd.dict.
 */
#include "error.h"
#include "etcd_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const long statuses[] = {200, 400, 404, 500, 503};

static void
check_kvs(const struct etcd_kvs *k)
{
    if (k->n > 0 && k->kvs == NULL) abort();
    for (size_t i = 0; i < k->n; i++) {
        const struct etcd_kv *kv = &k->kvs[i];
        if (kv->key == NULL || kv->value == NULL || kv->value[kv->value_len] != '\0') abort();
    }
}

static cJSON *
add_i64(cJSON *obj, const char *name, int64_t v)
{
    char s[24];
    snprintf(s, sizeof(s), "%" PRId64, v);
    return cJSON_AddStringToObject(obj, name, s);
}

/* k as the gateway would send it, read back: the same pairs. */
static void
round_trip(const struct etcd_kvs *k)
{
    cJSON *root = cJSON_CreateObject(), *hdr = cJSON_AddObjectToObject(root, "header");
    cJSON *arr = cJSON_AddArrayToObject(root, "kvs");
    if (root == NULL || hdr == NULL || arr == NULL || !add_i64(hdr, "revision", k->revision))
        abort();
    for (size_t i = 0; i < k->n; i++) {
        const struct etcd_kv *kv = &k->kvs[i];
        cJSON *o = cJSON_CreateObject();
        if (o == NULL || !cJSON_AddItemToArray(arr, o)) abort();
        if (!etcd__b64_field(o, "key", kv->key, strlen(kv->key)) ||
            !etcd__b64_field(o, "value", kv->value, kv->value_len) ||
            !add_i64(o, "create_revision", kv->create_revision) ||
            !add_i64(o, "mod_revision", kv->mod_revision) || !add_i64(o, "version", kv->version) ||
            !add_i64(o, "lease", kv->lease))
            abort();
    }
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (text == NULL) abort();
    cJSON *res = NULL;
    int next = 0;
    if (etcd__answer("http://fuzz", "/v3/kv/range", 200, text, strlen(text), &res, &next) != 0)
        abort();
    free(text);
    struct etcd_kvs b;
    if (etcd__range_answer(res, &b) != 0) abort();
    cJSON_Delete(res);
    if (b.n != k->n || b.revision != k->revision) abort();
    for (size_t i = 0; i < k->n; i++) {
        const struct etcd_kv *x = &k->kvs[i], *y = &b.kvs[i];
        if (strcmp(x->key, y->key) != 0 || x->value_len != y->value_len ||
            memcmp(x->value, y->value, x->value_len) != 0 ||
            x->create_revision != y->create_revision || x->mod_revision != y->mod_revision ||
            x->version != y->version || x->lease != y->lease)
            abort();
    }
    etcd_kvs_deinit(&b);
}

static void
read_answer(const cJSON *res)
{
    struct etcd_kvs kvs;
    int rc = etcd__range_answer(res, &kvs);
    if (rc == 0) {
        check_kvs(&kvs);
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(res, "kvs");
        if (kvs.n != (cJSON_IsArray(arr) ? (size_t)cJSON_GetArraySize(arr) : 0)) abort();
        round_trip(&kvs);
        etcd_kvs_deinit(&kvs);
    } else {
        if (rc != JUNO_EPROTO && rc != JUNO_ENOMEM) abort();
        if (kvs.n != 0 || kvs.kvs != NULL || etcd_strerror()[0] == '\0') abort();
    }
    /* what put, delete, txn and the lease calls read */
    (void)etcd__i64(cJSON_GetObjectItemCaseSensitive(res, "header"), "revision");
    (void)etcd__i64(res, "deleted");
    (void)cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "succeeded"));
    (void)etcd__i64(res, "ID");
    (void)etcd__i64(cJSON_GetObjectItemCaseSensitive(res, "result"), "TTL");
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    long status = statuses[data[0] % (sizeof(statuses) / sizeof(statuses[0]))];
    const char *body = size > 1 ? (const char *)data + 1 : NULL;
    cJSON *res = NULL;
    int next = 0;
    etcd__seterr("%s", "");
    int rc = etcd__answer("http://fuzz", "/v3/kv/range", status, body, size - 1, &res, &next);
    if (rc == 0) {
        if (res == NULL || !cJSON_IsObject(res) || status != 200) abort();
        if (cJSON_GetObjectItemCaseSensitive(res, "error") != NULL) abort();
        read_answer(res);
        cJSON_Delete(res);
        return 0;
    }
    if (res != NULL || etcd_strerror()[0] == '\0') abort();
    if (rc == 1 || rc == 2) {
        if (next != JUNO_EUNAVAIL) abort();
    } else if (rc != JUNO_EPROTO && rc != JUNO_ENOTFOUND && rc != JUNO_EINVAL) {
        abort();
    }
    return 0;
}
