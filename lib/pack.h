/* pack.h: explicit big-endian encoding for everything juno puts on a wire or a
 * disk. Structs are never written as they sit in memory; every field goes
 * through these, at a fixed offset. The caller guarantees room for the bytes. */
#ifndef JUNO_PACK_H
#define JUNO_PACK_H

#include <stdint.h>

static inline void
pack_u8(uint8_t *p, uint8_t v)
{
    p[0] = v;
}

static inline void
pack_u16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline void
pack_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void
pack_u64(uint8_t *p, uint64_t v)
{
    pack_u32(p, (uint32_t)(v >> 32));
    pack_u32(p + 4, (uint32_t)v);
}

static inline uint16_t
unpack_u16(const uint8_t *p)
{
    return (uint16_t)((uint16_t)p[0] << 8 | p[1]);
}

static inline uint32_t
unpack_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t
unpack_u64(const uint8_t *p)
{
    return (uint64_t)unpack_u32(p) << 32 | unpack_u32(p + 4);
}

#endif
