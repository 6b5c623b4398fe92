/* copyprio.h: a store that only receives copies runs its loop and writer at
 * the lowest CPU priority (copyprio.c). Loop thread only. */
#ifndef JUNO_STORE_COPYPRIO_H
#define JUNO_STORE_COPYPRIO_H

#include "store.h"

#include <stdint.h>

/* At startup, on the loop thread: whether the store may go back up. */
void copyprio_init(struct store *s);
/* A Clone (copied or forwarded) arrived at now_ms: maybe lower. */
void copyprio_clone(struct store *s, uint64_t now_ms);
/* Back to the store's own priority (internal: copyprio_foreground). */
void copyprio__restore(struct store *s, const char *why);
/* A foreground request arrived: back to the store's own priority. */
static inline void
copyprio_foreground(struct store *s)
{
    if (s->prio.low) copyprio__restore(s, "a foreground request");
}
/* Once a second: back when no Clone came for a while. */
void copyprio_sweep(struct store *s, uint64_t now_ms);

#endif
