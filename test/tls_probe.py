#!/usr/bin/env python3
"""tls_probe.py: bad TLS peers, and a well-behaved one, for test/tls.bats.

  tls_probe.py junk HOST PORT          a ClientHello of random bytes (its
                                       record and message lengths right);
                                       prints "closed" once the server closes
  tls_probe.py stall HOST PORT         a record header announcing a ClientHello
                                       that never comes; prints the seconds
                                       until the server closes
  tls_probe.py flood HOST PORT CA N WAIT_S
                                       a TLS client (RESP PING) connects, then
                                       N plain TCP connections that never send
                                       a byte; prints how many were closed at
                                       once ("refused=K"), whether the TLS
                                       client was answered meanwhile
                                       ("served=yes"), how many were closed
                                       within WAIT_S ("cut=M"), and whether a
                                       new TLS client is served then
                                       ("new=yes")
Exit status 0 when the run completed (the caller judges the output).
"""
import os
import socket
import ssl
import sys
import time


def closed_within(s, seconds):
    """True when the peer closes s (EOF or reset) within seconds; what it
    sends before (a TLS alert) is read and dropped."""
    end = time.monotonic() + seconds
    try:
        while True:
            s.settimeout(max(0.01, end - time.monotonic()))
            if s.recv(4096) == b"":
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def tls_ping(host, port, ca):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = False
    s = ctx.wrap_socket(socket.create_connection((host, port), timeout=5))
    s.sendall(b"PING\r\n")
    return s, s.recv(64) == b"+PONG\r\n"


def main():
    cmd, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
    if cmd == "junk":
        s = socket.create_connection((host, port), timeout=5)
        body = b"\x03\x03" + os.urandom(194)  # legacy_version, then anything
        hello = b"\x01" + len(body).to_bytes(3, "big") + body
        s.sendall(b"\x16\x03\x01" + len(hello).to_bytes(2, "big") + hello)
        print("closed" if closed_within(s, 5) else "open")
    elif cmd == "stall":
        s = socket.create_connection((host, port), timeout=5)
        t0 = time.monotonic()
        s.sendall(b"\x16\x03\x01\x02\x00")  # 512 bytes announced, none sent
        closed_within(s, 30)
        print("%.2f" % (time.monotonic() - t0))
    elif cmd == "flood":
        ca, n, wait = sys.argv[4], int(sys.argv[5]), float(sys.argv[6])
        client, ok = tls_ping(host, port, ca)
        idle = [socket.create_connection((host, port), timeout=5) for _ in range(n)]
        refused = sum(closed_within(s, 0.5) for s in idle)
        client.sendall(b"PING\r\n")
        served = client.recv(64) == b"+PONG\r\n"
        deadline = time.monotonic() + wait
        cut = 0
        for s in idle:
            left = max(0.05, deadline - time.monotonic())
            cut += closed_within(s, left)
        new, ok2 = tls_ping(host, port, ca)
        print("first=%s refused=%d served=%s cut=%d new=%s" % (
            "yes" if ok else "no", refused, "yes" if served else "no", cut,
            "yes" if ok2 else "no"))
    else:
        sys.exit("usage: tls_probe.py junk|stall|flood HOST PORT ...")


if __name__ == "__main__":
    main()
