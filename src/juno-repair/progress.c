/* progress.c: what juno-repair shows while it runs.
 *
 *   terminal  a bar on stderr, redrawn in place:
 *             [########------------]  512/1024 shards  3 differ  12 records  12 repaired  1.2 MB
 * ETA 4s otherwise a log line on stderr at most once a second while it changes, and one per event
 * (time level juno-repair: event key=value ...)
 *   --json    one JSON object per line on stdout: {"event":"progress",...}
 *
 * Results (--dry-run's differing records) go to stdout, so a pipe gets
 * them alone.
 */
#include "jrep.h"

#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static uint64_t last_draw_ms;
static int bar_shown;

void
progress_key(char *out, size_t cap, const uint8_t *p, size_t len, int json)
{
    static const char hex[] = "0123456789abcdef";
    if (json) {
        report_json_str(out, cap, p, len);
        return;
    }
    size_t o = 0;
    for (size_t i = 0; i < len && o + 8 < cap; i++) {
        uint8_t c = p[i];
        if (c <= 0x20 || c >= 0x7f || c == '\\' || c == '=')
            o += (size_t)snprintf(out + o, cap - o, "\\x%c%c", hex[c >> 4], hex[c & 15]);
        else
            out[o++] = (char)c;
    }
    out[o] = '\0';
}

/* Shards this pass covers, and how many are behind it. */
static void
shard_counts(const struct jrep *j, uint64_t *total, uint64_t *done)
{
    uint64_t t = 0, d = 0;
    for (uint64_t s = 0; j->map && s < j->map->shards; s++) {
        if (j->only && !j->only[s]) continue;
        t++;
        d += s < j->next_shard;
    }
    *total = t;
    *done = d;
}

void
progress_draw(struct jrep *j, int final)
{
    uint64_t now = report_now_ms();
    if (!final && now - last_draw_ms < (j->tty ? 100u : 1000u)) return;
    last_draw_ms = now;
    uint64_t total, done;
    shard_counts(j, &total, &done);
    const struct jrep_counts *n = &j->n;
    double secs = (now - j->started_ms) / 1000.0;
    double eta = done > 0 && done < total ? secs * (double)(total - done) / (double)done : 0;
    uint64_t bytes = calls_bytes_in();
    if (j->json) {
        printf("{\"event\":\"progress\",\"pass\":%llu,\"done\":%llu,\"total\":%llu,"
               "\"differing\":%llu,\"records\":%llu,\"repaired\":%llu,\"bytes_in\":%llu,"
               "\"eta_s\":%.1f}\n",
               (unsigned long long)j->pass, (unsigned long long)done, (unsigned long long)total,
               (unsigned long long)(j->before.differing + n->differing),
               (unsigned long long)(j->before.records + n->records),
               (unsigned long long)(j->before.repaired + n->repaired), (unsigned long long)bytes,
               eta);
        fflush(stdout);
        return;
    }
    char b[32];
    report_bytes(bytes, b, sizeof(b));
    if (j->tty) {
        char bar[REPORT_BAR_WIDTH + 1];
        report_bar(bar, done, total);
        fprintf(stderr,
                "\r\033[K[%s] %5llu/%-5llu shards  %llu differ  %llu records  %llu %s  %s read  "
                "%s%.0fs",
                bar, (unsigned long long)done, (unsigned long long)total,
                (unsigned long long)(j->before.differing + n->differing),
                (unsigned long long)(j->before.records + n->records),
                (unsigned long long)(j->before.repaired + n->repaired),
                j->dry_run ? "to repair" : "repaired", b, final ? "" : "ETA ", final ? secs : eta);
        if (final) fputc('\n', stderr);
        bar_shown = !final;
    } else {
        char ts[64];
        log_timestamp(ts, sizeof(ts));
        fprintf(stderr,
                "%s info juno-repair: pass %llu: %llu/%llu shards, %llu differing, %llu records "
                "differing, %llu repaired, %s read\n",
                ts, (unsigned long long)j->pass, (unsigned long long)done,
                (unsigned long long)total, (unsigned long long)(j->before.differing + n->differing),
                (unsigned long long)(j->before.records + n->records),
                (unsigned long long)(j->before.repaired + n->repaired), b);
    }
    fflush(stderr);
}

void
progress_event(struct jrep *j, const char *event, const char *fmt, ...)
{
    char body[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    if (j->json) {
        printf("{\"event\":\"%s\"%s%s}\n", event, body[0] ? "," : "", body);
        fflush(stdout);
        return;
    }
    if (strcmp(event, "difference") == 0) return; /* text lines are fix.c's */
    /* the JSON members as key=value: drop the quotes and braces */
    char plain[8192];
    report_plain(body, plain, sizeof(plain));
    char ts[64];
    log_timestamp(ts, sizeof(ts));
    const char *level = strcmp(event, "unreachable") == 0 || strcmp(event, "refused") == 0 ||
                                strcmp(event, "still_differs") == 0 ||
                                strcmp(event, "schedule") == 0
                            ? "warn"
                        : strcmp(event, "error") == 0 ? "error"
                                                      : "info";
    if (bar_shown) fputs("\r\033[K", stderr);
    fprintf(stderr, "%s %s juno-repair: %s %s\n", ts, level, event, plain);
    fflush(stderr);
}
