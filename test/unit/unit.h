/* unit.h: a minimal TAP producer for juno's unit tests.
 *
 * Each test binary prints "ok N - name" / "not ok N - name" lines and a final
 * plan "1..N"; test/run counts them. A failed check prints a diagnostic line
 * "# file:line: expression" and marks the current test failed; the test goes on.
 *
 *   UNIT_TEST(name) { CHECK(1 + 1 == 2); CHECK_EQ_U(x, 3); }
 *   int main(void) { RUN(name); return unit_done(); }
 */
#ifndef JUNO_UNIT_H
#define JUNO_UNIT_H

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static int unit_n, unit_failed, unit_cur_failed;

#define UNIT_TEST(name) static void test_##name(void)

#define RUN(name)                                                                                  \
    do {                                                                                           \
        unit_cur_failed = 0;                                                                       \
        test_##name();                                                                             \
        unit_n++;                                                                                  \
        if (unit_cur_failed) unit_failed++;                                                        \
        printf("%sok %d - %s\n", unit_cur_failed ? "not " : "", unit_n, #name);                    \
        fflush(stdout);                                                                            \
    } while (0)

#define CHECK(expr)                                                                                \
    do {                                                                                           \
        if (!(expr)) {                                                                             \
            printf("# %s:%d: check failed: %s\n", __FILE__, __LINE__, #expr);                      \
            unit_cur_failed = 1;                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_U(a, b)                                                                           \
    do {                                                                                           \
        uint64_t a_ = (uint64_t)(a), b_ = (uint64_t)(b);                                           \
        if (a_ != b_) {                                                                            \
            printf("# %s:%d: %s == %" PRIu64 ", expected %s == %" PRIu64 "\n", __FILE__, __LINE__, \
                   #a, a_, #b, b_);                                                                \
            unit_cur_failed = 1;                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_EQ_I(a, b)                                                                           \
    do {                                                                                           \
        int64_t a_ = (int64_t)(a), b_ = (int64_t)(b);                                              \
        if (a_ != b_) {                                                                            \
            printf("# %s:%d: %s == %" PRId64 ", expected %s == %" PRId64 "\n", __FILE__, __LINE__, \
                   #a, a_, #b, b_);                                                                \
            unit_cur_failed = 1;                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_MEM(a, alen, b, blen)                                                                \
    do {                                                                                           \
        size_t al_ = (size_t)(alen), bl_ = (size_t)(blen);                                         \
        if (al_ != bl_ || (al_ > 0 && memcmp((a), (b), al_) != 0)) {                               \
            printf("# %s:%d: %s (%zu bytes) differs from %s (%zu bytes)\n", __FILE__, __LINE__,    \
                   #a, al_, #b, bl_);                                                              \
            unit_cur_failed = 1;                                                                   \
        }                                                                                          \
    } while (0)

#define CHECK_STR(a, b)                                                                            \
    do {                                                                                           \
        const char *a_ = (a), *b_ = (b);                                                           \
        if (a_ == NULL || b_ == NULL || strcmp(a_, b_) != 0) {                                     \
            printf("# %s:%d: %s == \"%s\", expected \"%s\"\n", __FILE__, __LINE__, #a,             \
                   a_ ? a_ : "(null)", b_ ? b_ : "(null)");                                        \
            unit_cur_failed = 1;                                                                   \
        }                                                                                          \
    } while (0)

static inline int
unit_done(void)
{
    printf("1..%d\n", unit_n);
    return unit_failed ? 1 : 0;
}

/* Decode a hex string (spaces ignored) into out; returns the byte count or -1. */
static inline int
unit_hex(const char *hex, unsigned char *out, int cap)
{
    int n = 0, half = -1;
    for (; *hex; hex++) {
        int v;
        char c = *hex;
        if (c == ' ') continue;
        if (c >= '0' && c <= '9')
            v = c - '0';
        else if (c >= 'a' && c <= 'f')
            v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            v = c - 'A' + 10;
        else
            return -1;
        if (half < 0) {
            half = v;
        } else {
            if (n >= cap) return -1;
            out[n++] = (unsigned char)(half << 4 | v);
            half = -1;
        }
    }
    return half < 0 ? n : -1;
}

#endif
