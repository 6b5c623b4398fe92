/* rnum.c: numbers in strings by Redis's rules (see rnum.h). */
#include "rnum.h"

#include "error.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
rnum_parse_ll(const uint8_t *p, size_t n, int64_t *v)
{
    if (n == 0 || n > RNUM_LL_CHARS) return JUNO_EINVAL;
    if (n == 1 && p[0] == '0') {
        *v = 0;
        return 0;
    }
    int neg = p[0] == '-';
    size_t i = neg ? 1 : 0;
    if (i >= n || p[i] < '1' || p[i] > '9') return JUNO_EINVAL;
    uint64_t u = 0;
    if (n - i <= 18) { /* the common case (lengths, counts): no overflow possible */
        for (; i < n; i++) {
            unsigned d = (unsigned)p[i] - '0';
            if (d > 9) return JUNO_EINVAL;
            u = u * 10 + d;
        }
    } else {
        int over = 0;
        for (; i < n; i++) {
            if (p[i] < '0' || p[i] > '9') return JUNO_EINVAL;
            unsigned d = (unsigned)(p[i] - '0');
            if (u > (UINT64_MAX - d) / 10)
                over = 1;
            else
                u = u * 10 + d;
        }
        if (over) return JUNO_ERANGE;
    }
    if (neg) {
        if (u > (uint64_t)INT64_MAX + 1) return JUNO_ERANGE;
        *v = u == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)u;
    } else {
        if (u > INT64_MAX) return JUNO_ERANGE;
        *v = (int64_t)u;
    }
    return 0;
}

int
rnum_parse_ld(const uint8_t *p, size_t n, long double *v)
{
    char buf[RNUM_LD_CHARS];
    if (n == 0 || n >= sizeof(buf)) return JUNO_EINVAL;
    memcpy(buf, p, n);
    buf[n] = '\0';
    char *end;
    errno = 0;
    long double x = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || end != buf + n || isnan(x) ||
        (errno == ERANGE && (x == HUGE_VALL || x == -HUGE_VALL || fpclassify(x) == FP_ZERO)))
        return JUNO_EINVAL;
    *v = x;
    return 0;
}

size_t
rnum_format_ld(char *out, size_t cap, long double v)
{
    if (isinf(v)) {
        const char *s = v > 0 ? "inf" : "-inf";
        size_t l = strlen(s);
        if (cap < l + 1) return 0;
        memcpy(out, s, l + 1);
        return l;
    }
    int k = snprintf(out, cap, "%.17Lf", v);
    if (k < 0 || (size_t)k + 1 > cap) return 0;
    size_t l = (size_t)k;
    if (memchr(out, '.', l) != NULL) {
        while (out[l - 1] == '0') l--;
        if (out[l - 1] == '.') l--;
    }
    if (l == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        l = 1;
    }
    out[l] = '\0';
    return l;
}

int
rnum_add_ll(int64_t a, int64_t b, int64_t *sum)
{
    if ((b < 0 && a < 0 && b < INT64_MIN - a) || (b > 0 && a > 0 && b > INT64_MAX - a))
        return JUNO_ERANGE;
    *sum = a + b;
    return 0;
}
