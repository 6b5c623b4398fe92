/* error.h: juno's one status convention.
 *
 * Every function that can fail returns 0 on success or a negative JUNO_E* code.
 * The codes come from one X-macro table that also yields each code's name and
 * message (libuv's UV_ERRNO_MAP pattern). System errors map onto the same
 * numbers as -errno, so a syscall failure converts where it happens with
 * error_from_errno(errno).
 */
#ifndef JUNO_ERROR_H
#define JUNO_ERROR_H

#include <errno.h>

/* XX(name, value, message) */
#define JUNO_ERROR_MAP(XX)                                                                         \
    XX(EPERM, -EPERM, "operation not permitted")                                                   \
    XX(ENOENT, -ENOENT, "no such file or directory")                                               \
    XX(EIO, -EIO, "input/output error")                                                            \
    XX(EBADF, -EBADF, "bad file descriptor")                                                       \
    XX(EAGAIN, -EAGAIN, "resource temporarily unavailable")                                        \
    XX(ENOMEM, -ENOMEM, "out of memory")                                                           \
    XX(EACCES, -EACCES, "permission denied")                                                       \
    XX(EEXIST, -EEXIST, "already exists")                                                          \
    XX(EINVAL, -EINVAL, "invalid argument")                                                        \
    XX(EMFILE, -EMFILE, "too many open files")                                                     \
    XX(ENOSPC, -ENOSPC, "no space left on device")                                                 \
    XX(ERANGE, -ERANGE, "value out of range")                                                      \
    XX(EPROTO, -EPROTO, "protocol error")                                                          \
    XX(EMSGSIZE, -EMSGSIZE, "message too long")                                                    \
    XX(EADDRINUSE, -EADDRINUSE, "address already in use")                                          \
    XX(ECONNREFUSED, -ECONNREFUSED, "connection refused")                                          \
    XX(ECONNRESET, -ECONNRESET, "connection reset by peer")                                        \
    XX(ETIMEDOUT, -ETIMEDOUT, "timed out")                                                         \
    XX(ECANCELED, -ECANCELED, "operation canceled")                                                \
    XX(EOF, -4095, "end of file")                                                                  \
    XX(EBADDATA, -4094, "malformed data")                                                          \
    XX(EBADMAP, -4093, "invalid shard map")                                                        \
    XX(ENOTFOUND, -4092, "not found")                                                              \
    XX(EUNAVAIL, -4091, "service unavailable")

enum juno_error {
#define XX(name, value, msg) JUNO_##name = (value),
    JUNO_ERROR_MAP(XX)
#undef XX
};

/* The short name of code ("EINVAL"); "UNKNOWN" for anything outside the map. */
const char *error_name(int code);

/* The message for code ("invalid argument"); for an unmapped negative errno,
 * strerror's text. Never NULL; the string is static. */
const char *error_str(int code);

/* -e for a positive errno e (0 stays 0). */
int error_from_errno(int e);

#endif
