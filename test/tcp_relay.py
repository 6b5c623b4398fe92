#!/usr/bin/env python3
"""tcp_relay.py LISTEN_PORT TARGET_HOST:PORT: a TCP relay on 127.0.0.1.

Each accepted connection is joined to a new connection to the target, bytes
copied both ways until either side closes. Tests put it between two sites'
proxies and cut the link by stopping it (SIGTERM: every connection is
closed at once), then heal it by starting it again on the same port.
"""
import signal
import socket
import sys
import threading


def pipe(a, b):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            b.sendall(d)
    except OSError:
        pass
    for s in (a, b):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def main():
    port = int(sys.argv[1])
    host, tport = sys.argv[2].rsplit(":", 1)
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(64)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        c, _ = ls.accept()
        try:
            t = socket.create_connection((host, int(tport)), timeout=5)
        except OSError:
            c.close()
            continue
        t.settimeout(None)
        for a, b in ((c, t), (t, c)):
            threading.Thread(target=pipe, args=(a, b), daemon=True).start()


if __name__ == "__main__":
    main()
