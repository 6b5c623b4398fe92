/* report.c: progress and events of the cluster tools (report.h). */
#include "report.h"

#include <stdio.h>
#include <time.h>

uint64_t
report_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint64_t
report_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

void
report_bytes(uint64_t bytes, char *buf, size_t cap)
{
    if (bytes >= 10u << 20)
        snprintf(buf, cap, "%.0f MB", bytes / 1048576.0);
    else if (bytes >= 1u << 20)
        snprintf(buf, cap, "%.1f MB", bytes / 1048576.0);
    else
        snprintf(buf, cap, "%.0f kB", bytes / 1024.0);
}

void
report_bar(char bar[REPORT_BAR_WIDTH + 1], uint64_t done, uint64_t total)
{
    uint64_t fill = total ? done * REPORT_BAR_WIDTH / total : REPORT_BAR_WIDTH;
    for (uint64_t i = 0; i < REPORT_BAR_WIDTH; i++) bar[i] = i < fill ? '#' : '-';
    bar[REPORT_BAR_WIDTH] = '\0';
}

void
report_plain(const char *members, char *out, size_t cap)
{
    size_t k = 0;
    int in_str = 0;
    for (size_t i = 0; members[i] && k + 1 < cap; i++) {
        char c = members[i];
        if (c == '"') {
            in_str = !in_str;
            continue;
        }
        if (in_str)
            out[k++] = c;
        else if (c != '{' && c != '}' && c != '[' && c != ']')
            out[k++] = c == ':' ? '=' : c == ',' ? ' ' : c;
    }
    if (cap > 0) out[k] = '\0';
}

void
report_json_str(char *out, size_t cap, const uint8_t *p, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < len && o + 8 < cap; i++) {
        uint8_t c = p[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\u00%c%c", hex[c >> 4], hex[c & 15]);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
}
