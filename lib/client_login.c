/* client_login.c: a login (user and password for juno-proxy's --acl) sent
 * by every connection client_connect makes once client_login set one: a
 * Login request (opcode 70, docs/protocol.md §7: namespace "juno", key the
 * user, value the password), answered Ok, or ServiceDenied for a wrong user
 * or password. Sent after the TLS handshake, within the connect's timeout.
 */
#include "client_int.h"
#include "clock.h"
#include "error.h"

#include <stdio.h>
#include <string.h>

static const char *login_user, *login_password; /* borrowed */

void
client_login(const char *user, const char *password)
{
    login_user = user;
    login_password = password;
}

int
client__login(int fd, int64_t deadline, char *err, size_t errlen)
{
    if (login_user == NULL) return 0;
    struct wire_msg m;
    memset(&m, 0, sizeof(m));
    m.opcode = WIRE_OP_LOGIN;
    m.opaque = 1;
    m.has_payload = 1;
    m.ns = (struct wire_bytes){(const uint8_t *)"juno", 4};
    m.key = (struct wire_bytes){(const uint8_t *)login_user, strlen(login_user)};
    m.value = (struct wire_bytes){(const uint8_t *)login_password, strlen(login_password)};
    struct client_buf out, in;
    client_buf_init(&out);
    client_buf_init(&in);
    int rc = client_queue(&out, &m);
    int64_t left = deadline < 0 ? -1 : deadline - clock_mono_ms();
    if (rc == 0) rc = left == 0 || left < -1 ? JUNO_ETIMEDOUT : client_flush(&out, fd, (int)left);
    struct wire_msg r;
    if (rc == 0) {
        left = deadline < 0 ? -1 : deadline - clock_mono_ms();
        rc = left == 0 || left < -1 ? JUNO_ETIMEDOUT : client_recv(&in, fd, (int)left, &r);
    }
    if (rc != 0) {
        snprintf(err, errlen, "login as %s: no answer: %s", login_user, error_str(rc));
    } else if (r.opcode != WIRE_OP_LOGIN || r.opaque != 1) {
        snprintf(err, errlen, "login as %s: the server answered another request", login_user);
        rc = JUNO_EPROTO;
    } else if (r.status == WIRE_ST_SERVICE_DENIED) {
        snprintf(err, errlen, "login as %s refused: wrong user or password, or the user is off",
                 login_user);
        rc = JUNO_EACCES;
    } else if (r.status != WIRE_ST_OK) {
        snprintf(err, errlen, "login as %s: %s (a store, or a server without logins?)", login_user,
                 wire_status_name(r.status));
        rc = JUNO_EPROTO;
    }
    client_buf_deinit(&out);
    client_buf_deinit(&in);
    return rc;
}
