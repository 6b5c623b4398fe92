/* old_records.c: writes records in juno's record format 1 (the 56-byte
 * header of juno before millisecond expirations, laid out byte by byte here,
 * not by lib/record.c, which writes format 2) into a RocksDB directory, for
 * test/juno-resp-expire.bats to start a juno-store on. Built by the test:
 *
 *   cc -Ilib test/old_records.c build/libjuno.a -lrocksdb -lxxhash -o old_records
 *   old_records DIR SHARDS NS KEY=VALUE[@EXPIRES]...
 *
 * EXPIRES is the expiration in unix seconds (absent: never). Every record
 * gets version 1, the creation time now, a last-modified stamp now, and
 * fixed request ids. Exit 0, or 1 with a message.
 */
#include "hash.h"
#include "pack.h"
#include "record.h"

#include <rocksdb/c.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int
main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: old_records DIR SHARDS NS KEY=VALUE[@EXPIRES]...\n");
        return 1;
    }
    char *err = NULL;
    rocksdb_options_t *o = rocksdb_options_create();
    rocksdb_options_set_create_if_missing(o, 1);
    rocksdb_t *db = rocksdb_open(o, argv[1], &err);
    if (db == NULL) {
        fprintf(stderr, "old_records: %s\n", err);
        return 1;
    }
    rocksdb_writeoptions_t *wo = rocksdb_writeoptions_create();
    rocksdb_writeoptions_set_sync(wo, 1);
    uint32_t shards = (uint32_t)strtoul(argv[2], NULL, 10);
    const char *ns = argv[3];
    time_t now = time(NULL);
    for (int i = 4; i < argc; i++) {
        char *eq = strchr(argv[i], '='), *at = strrchr(argv[i], '@');
        if (eq == NULL) return 1;
        *eq = '\0';
        const char *key = argv[i], *val = eq + 1;
        uint32_t expires = 0;
        if (at != NULL && at > eq) {
            *at = '\0';
            expires = (uint32_t)strtoul(at + 1, NULL, 10);
        }
        uint8_t k[3 + RECORD_MAX_NS + 256];
        uint16_t shard = (uint16_t)hash_shard(key, strlen(key), shards);
        int kl = record_key_encode(shard, ns, strlen(ns), key, strlen(key), k);
        size_t vl = strlen(val);
        uint8_t v[RECORD_V1_HEADER_SIZE + 256];
        if (kl < 0 || vl > 256) return 1;
        memset(v, 0, RECORD_V1_HEADER_SIZE);
        v[0] = RECORD_FORMAT_V1; /* flags, value type, reserved: 0 */
        pack_u32(v + 4, 1);
        pack_u32(v + 8, (uint32_t)now);
        pack_u32(v + 12, expires);
        pack_u64(v + 16, (uint64_t)now * 1000000000u);
        memset(v + 24, 0x11, 16); /* originator id */
        memset(v + 40, 0x22, 16); /* last request id */
        memcpy(v + RECORD_V1_HEADER_SIZE, val, vl);
        rocksdb_put(db, wo, (const char *)k, (size_t)kl, (const char *)v,
                    RECORD_V1_HEADER_SIZE + vl, &err);
        if (err != NULL) {
            fprintf(stderr, "old_records: %s\n", err);
            return 1;
        }
    }
    rocksdb_writeoptions_destroy(wo);
    rocksdb_close(db);
    rocksdb_options_destroy(o);
    return 0;
}
