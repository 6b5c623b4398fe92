/* report.h: what the cluster tools (juno-migrate, juno-repair, juno-backup)
 * share to show their work: a clock for rates and ETAs, sizes in words, a
 * progress bar, and an event's JSON members as the key=value of a log line.
 *
 *   report_bar(bar, 512, 1024);          "##########----------"
 *   report_bytes(1258291, b, sizeof(b)); "1.2 MB"
 *   report_plain("\"shard\":3,\"store\":\"127.0.0.1:9001\"", out, sizeof(out));
 *                                        "shard=3 store=127.0.0.1:9001"
 */
#ifndef JUNO_REPORT_H
#define JUNO_REPORT_H

#include <stddef.h>
#include <stdint.h>

#define REPORT_BAR_WIDTH 20

/* Milliseconds of CLOCK_MONOTONIC. */
uint64_t report_now_ms(void);

/* Milliseconds since the epoch (CLOCK_REALTIME). */
uint64_t report_wall_ms(void);

/* bytes as "812 kB", "1.2 MB" (1 to 10 MB) or "48 MB" into buf. */
void report_bytes(uint64_t bytes, char *buf, size_t cap);

/* done of total as REPORT_BAR_WIDTH '#' and '-' and a NUL (total 0: full). */
void report_bar(char bar[REPORT_BAR_WIDTH + 1], uint64_t done, uint64_t total);

/* JSON object members (an event's body, without its braces) as a log
 * line's key=value: quotes dropped (a string's bytes kept as they are),
 * ':' made '=', ',' made ' ', braces and brackets outside strings dropped.
 * out is NUL-terminated, cut at cap - 1 bytes. */
void report_plain(const char *members, char *out, size_t cap);

/* len bytes of p as a JSON string, quotes included: '"' and '\' escaped,
 * other bytes below 0x20 or from 0x7f as \u00XX. Cut (still quoted) when
 * cap is short; cap must be at least 3. */
void report_json_str(char *out, size_t cap, const uint8_t *p, size_t len);

#endif
