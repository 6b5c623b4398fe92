/* common.c: juno-ring's shared helpers: reading a map with every error
 * reported, writing one, and JSON output primitives. */
#include "jring.h"

#include "cli.h"
#include "error.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *
jring__path_name(const char *path)
{
    return path == NULL || strcmp(path, "-") == 0 ? "stdin" : path;
}

struct report_ctx {
    const char *verb; /* borrowed */
    const char *name; /* borrowed */
};

static void
report(void *arg, const char *msg)
{
    const struct report_ctx *r = arg;
    cli_error("unable to %s map %s: %s", r->verb, r->name, msg);
}

struct map *
jring__read_map(const char *path, const char *verb)
{
    char *text = NULL;
    size_t len = 0;
    const char *name = jring__path_name(path);
    if (path == NULL && isatty(STDIN_FILENO)) {
        cli_usage("unable to %s map: no MAP given and stdin is a terminal", verb);
    }
    int rc = cli_read_file(path == NULL ? "-" : path, MAP_MAX_JSON, &text, &len);
    if (rc == JUNO_EMSGSIZE) {
        cli_die(EX_DATAERR, "unable to %s map %s: larger than %u bytes", verb, name, MAP_MAX_JSON);
    }
    if (rc != 0) cli_die(EX_IOERR, "unable to %s map %s: %s", verb, name, error_str(rc));
    struct map *m = NULL;
    struct report_ctx ctx = {verb, name};
    rc = map_parse_report(text, len, &m, report, &ctx);
    free(text);
    if (rc == JUNO_ENOMEM) cli_die(EX_SOFTWARE, "unable to %s map %s: out of memory", verb, name);
    if (rc != 0) exit(EX_DATAERR); /* every error was reported */
    return m;
}

void
jring__write_map(const struct map *m, const char *path)
{
    size_t len;
    char *json = map_to_json(m, &len);
    if (json == NULL) cli_die(EX_SOFTWARE, "unable to write map: out of memory");
    int rc = cli_write_file(path, json, len);
    free(json);
    if (rc != 0) {
        cli_die(EX_IOERR, "unable to write map %s: %s", strcmp(path, "-") ? path : "stdout",
                error_str(rc));
    }
}

void
jring__json_str(FILE *f, const char *s, size_t len)
{
    fputc('"', f);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

double
jring__pct(uint64_t part, uint64_t whole)
{
    return whole == 0 ? 0.0 : 100.0 * (double)part / (double)whole;
}

void
jring__parse_node(char *spec, const char **name, const char **addr, const char *opt,
                  const char *whole)
{
    char *at = strrchr(spec, '@');
    *addr = at != NULL ? at + 1 : spec;
    if (at != NULL) *at = '\0';
    *name = at != NULL ? spec : *addr;
    if (map_addr_valid(*addr) != 0) {
        cli_usage("unable to use %s %s: \"%s\" is not a HOST:PORT address", opt, whole, *addr);
    }
    if (map_name_valid(*name) != 0) {
        cli_usage("unable to use %s %s: \"%s\" is not a valid node name (1-%d printable "
                  "characters, no spaces)",
                  opt, whole, *name, MAP_NAME_MAX);
    }
}
