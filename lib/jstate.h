/* jstate.h: small flat JSON state documents: juno-store's rejoin state file
 * and juno-repair's saved pass, read back after a restart.
 *
 *   uint64_t last, rejoining;
 *   struct jstate_field f[] = {{"last_served", UINT32_MAX, &last},
 *                              {"rejoining", 1, &rejoining}};
 *   jstate_parse(text, len, f, 2);     {"last_served":1700000000,"rejoining":false}
 *
 * Every member read is a non-negative integer (or true/false, read as 1/0)
 * no larger than its max; members not asked for are ignored; a member asked
 * for and absent leaves its value alone and its present flag 0.
 */
#ifndef JUNO_JSTATE_H
#define JUNO_JSTATE_H

#include <stddef.h>
#include <stdint.h>

#define JSTATE_MAX_INT 9007199254740991ull /* 2^53 - 1: exact in a JSON reader's double */

struct jstate_field {
    const char *name; /* borrowed */
    uint64_t max;     /* at most JSTATE_MAX_INT */
    uint64_t *value;  /* borrowed: set when the member is present and valid */
    int present;      /* set by jstate_parse */
};

/* Parse text (len bytes; at most 64 KiB) as one JSON object and read the
 * fields. Returns 0, or JUNO_EBADDATA (not a JSON object, too long, a field
 * of another type, negative, not whole, or over its max), or JUNO_ENOMEM. */
int jstate_parse(const char *text, size_t len, struct jstate_field *fields, size_t n);

/* Write the fields (all of them) as a JSON object of integers into buf.
 * Returns the length (snprintf's) or JUNO_EMSGSIZE when cap is too small. */
int jstate_format(char *buf, size_t cap, const struct jstate_field *fields, size_t n);

#endif
