/* batchline.h: the text format of `juno batch` (src/juno-cli/batch.c), apart
 * from the network so that it can be unit tested and fuzzed.
 *
 * Input: one request per line, fields separated by one tab:
 *
 *   COMMAND<TAB>KEY[<TAB>VALUE[<TAB>VERSION]]
 *
 * Which commands exist and how many fields each takes is the mode's (a
 * struct batchline_syntax). KEY and VALUE carry the batch escapes: \t \n \r
 * \\ \0 and \xHH; every other byte stands for itself, a raw NUL included
 * (COMMAND and VERSION are plain text: a NUL there is refused). Output values are
 * written with the same escapes (batchline_escape): control bytes (< 0x20,
 * 0x7F) and the backslash escaped, the rest as is, so UTF-8 stays readable.
 */
#ifndef JUNO_BATCHLINE_H
#define JUNO_BATCHLINE_H

#include <stddef.h>
#include <stdint.h>

#define BATCHLINE_MAX_FIELDS 4 /* COMMAND KEY VALUE VERSION */

/* One command of a mode. */
struct batchline_cmd {
    const char *name; /* borrowed */
    int kind;         /* the mode's number for it */
    int fields;       /* most fields a line of it has: 2 (KEY), 3 (KEY VALUE)
                         or 4 (KEY VALUE VERSION, VERSION 1..UINT32_MAX) */
};

/* A mode's commands and the reason given for any other word. */
struct batchline_syntax {
    const struct batchline_cmd *cmds; /* borrowed: ncmds entries */
    size_t ncmds;
    const char *unknown; /* e.g. "unknown command (set, get or del)" */
};

/* A parsed line: key and val point into the line given (borrowed). */
struct batchline {
    int kind;
    const char *key, *val; /* val is "" (vlen 0) when the line has no VALUE */
    size_t klen, vlen;
    uint32_t version; /* the VERSION field; 0 when absent */
};

/* Parse line (len bytes, newline removed, NULs allowed), in place:
 * tabs become NULs and the escapes of KEY and VALUE are undone, so the line
 * is no longer its text afterwards. Returns 0 with *out set, or -1 with *why
 * (static) saying what is wrong: the mode's unknown-command reason, "bad
 * VERSION (1 to 4294967295)", "missing KEY", "too many fields", "bad escape in
 * KEY" or "bad escape in VALUE". */
int batchline_parse(const struct batchline_syntax *syn, char *line, size_t len,
                    struct batchline *out, const char **why);

/* Undo the batch escapes of in (len bytes) into out (at least len bytes; may
 * be in itself). Returns the decoded length, or -1 for a bad escape (a lone
 * trailing backslash, an unknown letter, \x without two hex digits). */
long batchline_unescape(const char *in, size_t len, char *out);

/* Batch-escape p (len bytes) into out (at least 4 * len bytes, no NUL
 * added): never a tab, newline, CR or NUL in the result. Returns the length
 * written. */
size_t batchline_escape(const uint8_t *p, size_t len, char *out);

#endif
