/* conn_wire.c: the JunoDB framing as a connection's frame hook (see conn.h). */
#include "conn.h"

#include "wire.h"

int
conn_wire_frame(struct conn *c, const uint8_t *data, size_t len, size_t *flen, size_t *need,
                const char **why)
{
    uint32_t n = 0;
    int rc = wire_frame(data, len, conn_max_frame(c), &n, why);
    if (rc == WIRE_OK) {
        *flen = n;
        return CONN_FRAME_OK;
    }
    if (rc == WIRE_AGAIN) {
        if (len >= 8) /* msgSize: read the whole frame in as few reads as it takes */
            *need = (size_t)data[4] << 24 | (size_t)data[5] << 16 | (size_t)data[6] << 8 | data[7];
        return CONN_FRAME_AGAIN;
    }
    return CONN_FRAME_ERROR;
}
