/* test_map.c: shard map parsing, validation messages, canonical serialization,
 * construction and owner lookup (lib/map.c). */
#include "unit.h"

#include "error.h"
#include "hash.h"
#include "map.h"

#include <stdlib.h>

/* Two zones, nodes deliberately out of name order in z1 (and zones reversed). */
static const char good[] =
    "{\"cluster\": \"demo\", \"version\": 7, \"shards\": 8, \"comment\": \"ignored\",\n"
    " \"zones\": [\n"
    "  {\"name\": \"z1\", \"nodes\": [{\"name\": \"b\", \"addr\": \"127.0.0.1:9004\"},\n"
    "                           {\"name\": \"a\", \"addr\": \"127.0.0.1:9003\", \"x\": 1}],\n"
    "   \"owners\": [0, 1, 0, 1, 0, 1, 0, 1]},\n"
    "  {\"name\": \"z0\", \"nodes\": [{\"name\": \"s1\", \"addr\": \"127.0.0.1:9001\"},\n"
    "                           {\"name\": \"s2\", \"addr\": \"[::1]:9002\"}],\n"
    "   \"owners\": [0, 0, 0, 0, 1, 1, 1, 1]}]}\n";

static const char canonical[] = "{\n"
                                "  \"cluster\": \"demo\",\n"
                                "  \"version\": 7,\n"
                                "  \"shards\": 8,\n"
                                "  \"zones\": [\n"
                                "    {\n"
                                "      \"name\": \"z0\",\n"
                                "      \"nodes\": [\n"
                                "        {\"name\": \"s1\", \"addr\": \"127.0.0.1:9001\"},\n"
                                "        {\"name\": \"s2\", \"addr\": \"[::1]:9002\"}\n"
                                "      ],\n"
                                "      \"owners\": [0, 0, 0, 0, 1, 1, 1, 1]\n"
                                "    },\n"
                                "    {\n"
                                "      \"name\": \"z1\",\n"
                                "      \"nodes\": [\n"
                                "        {\"name\": \"a\", \"addr\": \"127.0.0.1:9003\"},\n"
                                "        {\"name\": \"b\", \"addr\": \"127.0.0.1:9004\"}\n"
                                "      ],\n"
                                "      \"owners\": [1, 0, 1, 0, 1, 0, 1, 0]\n"
                                "    }\n"
                                "  ]\n"
                                "}\n";

UNIT_TEST(parse_and_serialize_canonically)
{
    struct map *m = NULL;
    char err[256];
    CHECK_EQ_I(map_parse(good, sizeof(good) - 1, &m, err, sizeof(err)), 0);
    if (m == NULL) return;
    CHECK_STR(m->cluster, "demo");
    CHECK_EQ_U(m->version, 7);
    CHECK_EQ_U(m->shards, 8);
    CHECK_EQ_U(m->nzones, 2);
    CHECK_STR(m->zones[0].name, "z0");
    CHECK_STR(m->zones[1].nodes[0].name, "a");
    /* Owners follow their nodes through the sort: shard 0 was "b" in the input. */
    CHECK_STR(map_owner(m, 1, 0)->name, "b");
    CHECK_STR(map_owner(m, 1, 1)->name, "a");
    CHECK_STR(map_owner(m, 0, 5)->addr, "[::1]:9002");
    CHECK(map_owner(m, 2, 0) == NULL);
    CHECK(map_owner(m, 0, 8) == NULL);
    size_t len = 0;
    char *json = map_to_json(m, &len);
    CHECK_STR(json, canonical);
    CHECK_EQ_U(len, strlen(canonical));
    /* Round trip: the canonical text parses to a map with the same text. */
    struct map *again = NULL;
    CHECK_EQ_I(map_parse(json, len, &again, err, sizeof(err)), 0);
    char *json2 = again ? map_to_json(again, NULL) : NULL;
    CHECK_STR(json2, canonical);
    /* A clone serializes the same. */
    struct map *c = map_clone(m);
    char *json3 = map_to_json(c, NULL);
    CHECK_STR(json3, canonical);
    free(json), free(json2), free(json3);
    map_destroy(m), map_destroy(again), map_destroy(c);
}

UNIT_TEST(shard_of_matches_hash)
{
    struct map *m = NULL;
    CHECK_EQ_I(map_parse(good, sizeof(good) - 1, &m, NULL, 0), 0);
    if (m == NULL) return;
    CHECK_EQ_U(map_shard_of(m, "abc", 3), 0x44BC2CF5AD770999ULL % 8);
    CHECK_EQ_U(map_shard_of(m, "abc", 3), hash_shard("abc", 3, 8));
    map_destroy(m);
}

/* Replace the first occurrence of from in good by to, parse, and expect a
 * failure whose first message contains want. */
static int
bad_case(const char *from, const char *to, const char *want)
{
    char doc[4096], err[512];
    const char *at = strstr(good, from);
    if (at == NULL) {
        printf("# fixture lacks %s\n", from);
        return 0;
    }
    int n = snprintf(doc, sizeof(doc), "%.*s%s%s", (int)(at - good), good, to, at + strlen(from));
    struct map *m = NULL;
    int rc = map_parse(doc, (size_t)n, &m, err, sizeof(err));
    if (rc != JUNO_EBADMAP || m != NULL || strstr(err, want) == NULL) {
        printf("# replacing %s by %s: rc %d, message \"%s\", expected \"%s\"\n", from, to, rc, err,
               want);
        map_destroy(m);
        return 0;
    }
    return 1;
}

UNIT_TEST(each_error_names_its_place)
{
    CHECK(bad_case("\"shards\": 8,", "\"shards\": 8", "malformed JSON at line 1, column"));
    CHECK(bad_case("\"version\": 7,", "", "missing required field \"version\""));
    CHECK(bad_case("\"version\": 7", "\"version\": \"7\"",
                   "\"version\": expected an integer, got string \"7\""));
    CHECK(bad_case("\"version\": 7", "\"version\": 0", "\"version\": 0 is out of range (1.."));
    CHECK(bad_case("\"version\": 7", "\"version\": 1.5",
                   "\"version\": expected an integer, got 1.5"));
    CHECK(bad_case("\"shards\": 8", "\"shards\": 0", "\"shards\": 0 is out of range (1..65536)"));
    CHECK(bad_case("\"shards\": 8", "\"shards\": 65537",
                   "\"shards\": 65537 is out of range (1..65536)"));
    CHECK(bad_case("\"cluster\": \"demo\"", "\"cluster\": \"a b\"",
                   "\"cluster\": \"a b\" is not a valid name"));
    CHECK(bad_case("\"cluster\": \"demo\"", "\"cluster\": 5",
                   "\"cluster\": expected a string, got 5"));
    CHECK(bad_case("0, 1, 0, 1, 0, 1, 0, 1]", "0, 1, 0, 1, 0, 1, 0]",
                   "zone \"z1\": \"owners\" has 7 entries, expected 8 (one per shard)"));
    CHECK(bad_case("0, 1, 0, 1, 0, 1, 0, 1]", "0, 1, 0, 1, 0, 1, 0, 9]",
                   "zone \"z1\": owners[7] = 9: no such node (zone has 2 nodes)"));
    CHECK(bad_case("0, 1, 0, 1, 0, 1, 0, 1]", "0, 1, 0, -1, 0, 1, 0, 1]",
                   "zone \"z1\": owners[3] = -1: no such node"));
    CHECK(bad_case("0, 1, 0, 1, 0, 1, 0, 1]", "0, 1.5, 0, 1, 0, 1, 0, 1]",
                   "zone \"z1\": owners[1]: expected a node index, got 1.5"));
    CHECK(bad_case("0, 1, 0, 1, 0, 1, 0, 1]", "0, \"1\", 0, 1, 0, 1, 0, 1]",
                   "zone \"z1\": owners[1]: expected a node index, got string \"1\""));
    CHECK(bad_case("[0, 1, 0, 1, 0, 1, 0, 1]", "{}",
                   "zone \"z1\": \"owners\": expected an array of 8 node indexes, got object"));
    CHECK(bad_case("\"name\": \"a\"", "\"name\": \"b\"",
                   "zone \"z1\": node 1 (\"b\"): duplicate name (also node 0)"));
    CHECK(bad_case("\"127.0.0.1:9001\"", "\"127.0.0.1:9004\"",
                   "zone \"z0\": node 0 (\"s1\"): duplicate address 127.0.0.1:9004 "
                   "(also node \"b\" in zone \"z1\")"));
    CHECK(bad_case("\"127.0.0.1:9001\"", "\"127.0.0.1:09004\"", "duplicate address"));
    CHECK(
        bad_case("\"127.0.0.1:9001\"", "\"localhost\"",
                 "zone \"z0\": node 0 (\"s1\"): \"addr\": \"localhost\" is not a valid HOST:PORT"));
    CHECK(bad_case("{\"name\": \"s1\", ", "{",
                   "zone \"z0\": node 0: missing required field \"name\""));
    CHECK(bad_case("\"name\": \"z1\"", "\"name\": \"z0\"",
                   "zone 1 (\"z0\"): duplicate zone name (also zone 0)"));
    CHECK(bad_case("\"name\": \"z1\", ", "", "zone 0: missing required field \"name\""));
    CHECK(bad_case("\"nodes\": [{\"name\": \"s1\", \"addr\": \"127.0.0.1:9001\"},\n"
                   "                           {\"name\": \"s2\", \"addr\": \"[::1]:9002\"}]",
                   "\"nodes\": []", "zone \"z0\": \"nodes\" is empty"));
    CHECK(bad_case("\"version\": 7,", "\"version\": 7, \"version\": 8,",
                   "duplicate field \"version\""));
    CHECK(bad_case("]}\n", "]} x", "unexpected data after the map at line 8, column 42"));
    CHECK(bad_case("\"z1\"", "\"\"", "\"name\": \"\" is not a valid name"));
}

static int
parse_msg(const char *doc, const char *want)
{
    char err[512];
    struct map *m = NULL;
    int rc = map_parse(doc, strlen(doc), &m, err, sizeof(err));
    if (rc == 0 || m != NULL || strstr(err, want) == NULL) {
        printf("# %s: rc %d, message \"%s\", expected \"%s\"\n", doc, rc, err, want);
        map_destroy(m);
        return 0;
    }
    return 1;
}

UNIT_TEST(zone_counts_and_top_level)
{
    CHECK(parse_msg("", "empty input"));
    CHECK(parse_msg("  \n", "empty input"));
    CHECK(parse_msg("[1]", "top level: expected an object, got array"));
    CHECK(parse_msg("{\"cluster\": \"c\", \"version\": 1, \"shards\": 1, \"zones\": []}",
                    "\"zones\": 0 zones, expected 1..5"));
    char doc[2048];
    int n = snprintf(doc, sizeof(doc),
                     "{\"cluster\": \"c\", \"version\": 1, \"shards\": 1, \"zones\": [");
    for (int z = 0; z < 6; z++) {
        n += snprintf(doc + n, sizeof(doc) - (size_t)n,
                      "%s{\"name\": \"z%d\", \"nodes\": [{\"name\": \"a\", \"addr\": \"h:%d\"}], "
                      "\"owners\": [0]}",
                      z ? ", " : "", z, z + 1);
    }
    snprintf(doc + n, sizeof(doc) - (size_t)n, "]}");
    CHECK(parse_msg(doc, "\"zones\": 6 zones, expected 1..5"));
    CHECK(parse_msg("{\"cluster\": \"c\", \"version\": 1, \"shards\": 1}",
                    "missing required field \"zones\""));
    CHECK(parse_msg("{\"cluster\": \"c\", \"version\": 1, \"shards\": 1, \"zones\": [7]}",
                    "zone 0: expected an object, got 7"));
}

struct collected {
    int n;
    char first[256], last[256];
};

static void
collect(void *arg, const char *msg)
{
    struct collected *c = arg;
    if (c->n++ == 0) snprintf(c->first, sizeof(c->first), "%s", msg);
    snprintf(c->last, sizeof(c->last), "%s", msg);
}

UNIT_TEST(every_error_is_reported)
{
    const char *doc = "{\"cluster\": \"\", \"version\": 0, \"shards\": 2, \"zones\": [\n"
                      " {\"name\": \"z0\", \"nodes\": [{\"name\": \"a\", \"addr\": \"x\"}],"
                      "  \"owners\": [0, 3]}]}";
    struct collected c = {0};
    struct map *m = (struct map *)1;
    CHECK_EQ_I(map_parse_report(doc, strlen(doc), &m, collect, &c), JUNO_EBADMAP);
    CHECK(m == NULL);
    CHECK_EQ_I(c.n, 4); /* cluster, version, addr, owners[1] */
    CHECK(strstr(c.first, "\"cluster\"") != NULL);
    CHECK(strstr(c.last, "owners[1] = 3") != NULL);

    /* Many bad owners: the first 32 one by one, then a count. */
    char big[4096];
    int n = snprintf(big, sizeof(big),
                     "{\"cluster\": \"c\", \"version\": 1, \"shards\": 100, "
                     "\"zones\": [{\"name\": \"z\", \"nodes\": [{\"name\": \"a\", "
                     "\"addr\": \"h:1\"}], \"owners\": [");
    for (int i = 0; i < 100; i++)
        n += snprintf(big + n, sizeof(big) - (size_t)n, "%s5", i ? "," : "");
    snprintf(big + n, sizeof(big) - (size_t)n, "]}]}");
    memset(&c, 0, sizeof(c));
    CHECK_EQ_I(map_parse_report(big, strlen(big), NULL, collect, &c), JUNO_EBADMAP);
    CHECK_EQ_I(c.n, 33);
    CHECK_STR(c.last, "zone \"z\": 68 more bad \"owners\" entries not shown");
}

UNIT_TEST(build_maps_by_hand)
{
    char err[256];
    CHECK(map_create("bad name", 8, 1) == NULL);
    CHECK(map_create("c", 0, 1) == NULL);
    CHECK(map_create("c", 65537, 1) == NULL);
    CHECK(map_create("c", 8, 0) == NULL);
    struct map *m = map_create("c", 8, 1);
    CHECK(m != NULL);
    if (m == NULL) return;
    CHECK_EQ_I(map_zone_add(m, "zb", err, sizeof(err)), 0);
    CHECK_EQ_I(map_zone_add(m, "za", err, sizeof(err)), 0); /* sorts first */
    CHECK_EQ_I(map_zone_add(m, "za", err, sizeof(err)), JUNO_EEXIST);
    CHECK_EQ_I(map_zone_add(m, "", err, sizeof(err)), JUNO_EINVAL);
    CHECK_EQ_I(map_zone_add(m, "z3", err, sizeof(err)), 0);
    CHECK_EQ_I(map_zone_add(m, "z4", err, sizeof(err)), 1);
    CHECK_EQ_I(map_zone_add(m, "z5", err, sizeof(err)), 2);
    CHECK_EQ_I(map_zone_add(m, "z6", err, sizeof(err)), JUNO_ERANGE);
    CHECK_EQ_I(map_zone_find(m, "zb"), 4);
    CHECK_EQ_I(map_zone_find(m, "nope"), JUNO_ENOTFOUND);
    CHECK_EQ_I(map_node_add(m, 4, "n2", "127.0.0.1:2", err, sizeof(err)), 0);
    for (uint32_t s = 0; s < 8; s++) CHECK_EQ_U(m->zones[4].owners[s], 0);
    m->zones[4].owners[3] = 0;
    CHECK_EQ_I(map_node_add(m, 4, "n1", "127.0.0.1:1", err, sizeof(err)), 0);
    CHECK_EQ_U(m->zones[4].owners[3], 1); /* still n2 */
    CHECK_EQ_I(map_node_add(m, 4, "n1", "127.0.0.1:3", err, sizeof(err)), JUNO_EEXIST);
    CHECK(strstr(err, "duplicate name") != NULL);
    CHECK_EQ_I(map_node_add(m, 0, "x", "127.0.0.1:0002", err, sizeof(err)), JUNO_EEXIST);
    CHECK_STR(err, "zone \"z3\": node \"x\": duplicate address 127.0.0.1:0002 "
                   "(also node \"n2\" in zone \"zb\")");
    CHECK_EQ_I(map_node_add(m, 0, "x", "127.0.0.1", err, sizeof(err)), JUNO_EINVAL);
    CHECK_EQ_I(map_node_add(m, 0, "x y", "127.0.0.1:5", err, sizeof(err)), JUNO_EINVAL);
    CHECK_EQ_I(map_node_find(m, 4, "n2"), 1);
    CHECK_EQ_I(map_node_find(m, 4, "n3"), JUNO_ENOTFOUND);
    CHECK_EQ_I(map_node_delete(m, 4, 1), JUNO_EINVAL); /* still owns shards */
    for (uint32_t s = 0; s < 8; s++) m->zones[4].owners[s] = 1;
    CHECK_EQ_I(map_node_delete(m, 4, 0), 0);
    CHECK_EQ_U(m->zones[4].owners[5], 0);
    CHECK_EQ_I(map_node_delete(m, 4, 0), JUNO_EINVAL); /* the last node */
    map_destroy(m);
}

UNIT_TEST(names_and_addresses)
{
    CHECK_EQ_I(map_name_valid("s1"), 0);
    CHECK_EQ_I(map_name_valid("127.0.0.1:9001"), 0);
    CHECK_EQ_I(map_name_valid(""), JUNO_EINVAL);
    CHECK_EQ_I(map_name_valid("a b"), JUNO_EINVAL);
    CHECK_EQ_I(map_name_valid("tab\t"), JUNO_EINVAL);
    CHECK_EQ_I(map_name_valid("caf\xc3\xa9"), JUNO_EINVAL);
    char long_name[80];
    memset(long_name, 'x', sizeof(long_name));
    long_name[64] = '\0';
    CHECK_EQ_I(map_name_valid(long_name), 0);
    long_name[64] = 'x', long_name[65] = '\0';
    CHECK_EQ_I(map_name_valid(long_name), JUNO_EINVAL);
    CHECK_EQ_I(map_addr_valid("127.0.0.1:9001"), 0);
    CHECK_EQ_I(map_addr_valid("[::1]:1"), 0);
    CHECK_EQ_I(map_addr_valid("host:0"), JUNO_EINVAL);
    CHECK_EQ_I(map_addr_valid("host:65536"), JUNO_EINVAL);
    CHECK_EQ_I(map_addr_valid(":80"), JUNO_EINVAL);
}

/* Names with JSON-special characters survive a round trip. */
UNIT_TEST(escaped_names_roundtrip)
{
    struct map *m = map_create("c\"q\\b", 2, 3);
    CHECK_EQ_I(map_zone_add(m, "z", NULL, 0), 0);
    CHECK_EQ_I(map_node_add(m, 0, "n\"1", "h:1", NULL, 0), 0);
    char *json = map_to_json(m, NULL);
    struct map *back = NULL;
    char err[256];
    CHECK_EQ_I(map_parse(json, strlen(json), &back, err, sizeof(err)), 0);
    if (back != NULL) {
        CHECK_STR(back->cluster, "c\"q\\b");
        CHECK_STR(back->zones[0].nodes[0].name, "n\"1");
    }
    free(json);
    map_destroy(m);
    map_destroy(back);
}

int
main(void)
{
    RUN(parse_and_serialize_canonically);
    RUN(shard_of_matches_hash);
    RUN(each_error_names_its_place);
    RUN(zone_counts_and_top_level);
    RUN(every_error_is_reported);
    RUN(build_maps_by_hand);
    RUN(names_and_addresses);
    RUN(escaped_names_roundtrip);
    return unit_done();
}
