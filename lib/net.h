/* net.h: small socket helpers the daemons share: a peer's printable address
 * and resolving a listen address.
 */
#ifndef JUNO_NET_H
#define JUNO_NET_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct addrinfo;

/* The peer of a connected tcp as "1.2.3.4:5678" or "[::1]:5678" into out
 * (cap bytes); "?" when it cannot be had. */
void net_peer_name(const uv_tcp_t *tcp, char *out, size_t cap);

/* Resolve host:port for listening (AI_PASSIVE, TCP). On 0, *res (release with
 * freeaddrinfo) holds at least one address; else JUNO_ENOTFOUND with
 * "cannot resolve HOST: why" in err. */
int net_resolve_listen(const char *host, uint16_t port, struct addrinfo **res, char *err,
                       size_t errlen);

#endif
