/* rnum.h: numbers in strings as Redis reads and writes them (its util.c):
 * the integers of INCR, INCRBY, SETRANGE's offset, GETRANGE's indexes and
 * every integer argument, and the long doubles of INCRBYFLOAT. A value
 * written by juno's RESP face is byte for byte what Redis would store, so a
 * client reading it back (or a Redis replica of it) sees the same string.
 */
#ifndef JUNO_RNUM_H
#define JUNO_RNUM_H

#include <stddef.h>
#include <stdint.h>

/* Redis's MAX_LONG_DOUBLE_CHARS: the longest long double text, plus room. */
#define RNUM_LD_CHARS 5120
/* The longest int64_t text, its sign included ("-9223372036854775808"). */
#define RNUM_LL_CHARS 20

/* string2ll: an optional '-', then digits without a leading zero ("0" alone
 * is fine; "-0", "+1", " 1", "01" and "" are not), at most RNUM_LL_CHARS
 * bytes. Returns 0 with *v set, JUNO_EINVAL (not such a number) or
 * JUNO_ERANGE (outside int64_t). */
int rnum_parse_ll(const uint8_t *p, size_t n, int64_t *v);

/* string2ld: what strtold(3) takes in the C locale ("1.5", "-3e10", "0x1p3",
 * "inf"), all n bytes of it (a NUL byte inside is not), without leading
 * white space; not NaN, not an overflow to infinity or an underflow to 0,
 * under RNUM_LD_CHARS bytes. Returns 0 with *v set, or JUNO_EINVAL. */
int rnum_parse_ld(const uint8_t *p, size_t n, long double *v);

/* ld2string's human form: "%.17Lf" without trailing zeros after the point
 * (and without the point when nothing follows it), "-0" as "0", "inf" and
 * "-inf" for infinities. Writes a NUL-terminated text into out (cap bytes;
 * RNUM_LD_CHARS is always enough) and returns its length, or 0 when it does
 * not fit. */
size_t rnum_format_ld(char *out, size_t cap, long double v);

/* a + b as INCRBY adds: 0 with *sum set, or JUNO_ERANGE when it overflows
 * ("increment or decrement would overflow"). */
int rnum_add_ll(int64_t a, int64_t b, int64_t *sum);

#endif
