/* net.c: socket helpers (see net.h). */
#include "net.h"

#include "error.h"

#include <netdb.h>
#include <stdio.h>
#include <string.h>

void
net_peer_name(const uv_tcp_t *tcp, char *out, size_t cap)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char ip[48];
    snprintf(out, cap, "?");
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) != 0) return;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        uv_ip4_name(a, ip, sizeof(ip));
        snprintf(out, cap, "%s:%u", ip, ntohs(a->sin_port));
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        uv_ip6_name(a, ip, sizeof(ip));
        snprintf(out, cap, "[%s]:%u", ip, ntohs(a->sin6_port));
    }
}

int
net_is_loopback(const char *host)
{
    struct addrinfo *res;
    char err[16];
    if (net_resolve_listen(host, 1, &res, err, sizeof(err)) != 0) return 0;
    int all = 1;
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        if (a->ai_family == AF_INET) {
            const struct sockaddr_in *in = (const struct sockaddr_in *)a->ai_addr;
            all &= (ntohl(in->sin_addr.s_addr) >> 24) == 127;
        } else if (a->ai_family == AF_INET6) {
            const struct in6_addr *in6 = &((const struct sockaddr_in6 *)a->ai_addr)->sin6_addr;
            all &=
                IN6_IS_ADDR_LOOPBACK(in6) || (IN6_IS_ADDR_V4MAPPED(in6) && in6->s6_addr[12] == 127);
        } else {
            all = 0;
        }
    }
    freeaddrinfo(res);
    return all;
}

int
net_protected_mode(const char *host, uint16_t port, const char *what, int protected_, int insecure,
                   const char *remedy, char *err, size_t errlen)
{
    if (protected_ || insecure || net_is_loopback(host)) return 0;
    snprintf(err, errlen,
             "refusing to serve %s on %s:%u, a non-loopback address, without protection: anyone "
             "who can reach it could read and write every record. Give %s, or --insecure to "
             "serve it open anyway",
             what, host, port, remedy);
    return JUNO_EPERM;
}

int
net_resolve_listen(const char *host, uint16_t port, struct addrinfo **res, char *err, size_t errlen)
{
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int rc = getaddrinfo(host, portstr, &hints, res);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve %s: %s", host, gai_strerror(rc));
        return JUNO_ENOTFOUND;
    }
    return 0;
}
