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

/* Whether every address host resolves to for listening is a loopback one
 * (127.0.0.0/8, ::1, ::ffff:127.0.0.0/104): 1, 0 (also "0.0.0.0", "::", and
 * a host that does not resolve: the caller's listen reports that). */
int net_is_loopback(const char *host);

/* Protected mode (Redis's): refuse to serve host:port of a daemon with no
 * protection on a non-loopback address. Returns 0 when host is loopback,
 * protected or insecure; else JUNO_EPERM with the reason in err (what: "the
 * JunoDB port", remedy: the options that protect it). */
int net_protected_mode(const char *host, uint16_t port, const char *what, int protected_,
                       int insecure, const char *remedy, char *err, size_t errlen);

#endif
