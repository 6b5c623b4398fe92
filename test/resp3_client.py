#!/usr/bin/python3
# resp3_client.py: a raw-socket RESP3 client for the tests (the Python, Node
# clients here speak RESP2 only). Reads one command a line on stdin (words
# split as a shell does, shlex), sends each as an array of bulk strings and
# reads one complete RESP3 reply, its bytes exactly as they came.
#
#   resp3_client.py raw HOST:PORT           each reply's bytes, one line each,
#                                           as a Python bytes literal
#   resp3_client.py compare JUNO REDIS      the same commands to both; every
#                                           reply must be byte-identical, but
#                                           for the lines marked (below)
#
# A command line may start with a mark for the compare mode:
#   "~ "  the replies' shapes must match (types, lengths of aggregates, map
#         keys), not their scalar values: HELLO's server, version, id
#   "= "  both must be verbatim strings of format txt whose first line is
#         the same (INFO's section header)
#   "! "  both must be errors (any text)
#   "^ "  the same types where both have a value: a map's values compared
#         under the keys both have (COMMAND DOCS: juno documents fewer fields)
# Prints "ok N commands" and exits 0 when all matched, else the first
# mismatch and exits 1.
import shlex
import socket
import sys


class Reader:
    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def _more(self):
        d = self.sock.recv(65536)
        if not d:
            raise EOFError("connection closed")
        self.buf += d

    def _line(self, pos):
        while True:
            i = self.buf.find(b"\r\n", pos)
            if i >= 0:
                return i
            self._more()

    def _need(self, n):
        while len(self.buf) < n:
            self._more()

    def _value(self, pos):
        """(tree, end) of the reply starting at pos."""
        self._need(pos + 1)
        e = self._line(pos)
        t, head = chr(self.buf[pos]), self.buf[pos + 1 : e].decode()
        if t in "+-:,#(_":
            return (t, head), e + 2
        if t in "$=!":
            n = int(head)
            if n < 0:
                return (t, None), e + 2
            self._need(e + 2 + n + 2)
            return (t, self.buf[e + 2 : e + 2 + n]), e + 2 + n + 2
        if t in "*~>%|":
            n = int(head)
            if n < 0:
                return (t, None), e + 2
            k = 2 * n if t in "%|" else n
            items, p = [], e + 2
            for _ in range(k):
                v, p = self._value(p)
                items.append(v)
            if t == "|":  # an attribute precedes the reply it describes
                v, p = self._value(p)
                items.append(v)
            return (t, items), p
        raise ValueError("bad RESP3 type byte %r" % t)

    def reply(self):
        tree, end = self._value(0)
        raw, self.buf = self.buf[:end], self.buf[end:]
        return raw, tree


def connect(addr):
    host, port = addr.rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=10)
    return s, Reader(s)


def encode(words):
    out = [b"*%d\r\n" % len(words)]
    for w in words:
        b = w.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def ask(conn, words):
    conn[0].sendall(encode(words))
    return conn[1].reply()


def shape(tree):
    t, v = tree
    if isinstance(v, list):
        if t == "%":  # keys are part of the shape
            return (t, [(v[i], shape(v[i + 1])) for i in range(0, len(v), 2)])
        return (t, [shape(x) for x in v])
    return (t, v is None)


def same_types(a, b):
    if a[0] != b[0]:
        return False
    if a[0] == "%" and a[1] is not None and b[1] is not None:
        ka = {a[1][i]: a[1][i + 1] for i in range(0, len(a[1]), 2)}
        kb = {b[1][i]: b[1][i + 1] for i in range(0, len(b[1]), 2)}
        common = set(ka) & set(kb)
        return bool(common) and all(same_types(ka[k], kb[k]) for k in common)
    if isinstance(a[1], list) and isinstance(b[1], list):
        return len(a[1]) == len(b[1]) and all(same_types(x, y) for x, y in zip(a[1], b[1]))
    return True


def commands():
    for line in sys.stdin:
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        mark = ""
        if line[:2] in ("~ ", "= ", "! ", "^ "):
            mark, line = line[0], line[2:]
        yield mark, line, shlex.split(line)


def raw_mode(addr):
    c = connect(addr)
    for _, _, words in commands():
        raw, _ = ask(c, words)
        print(repr(raw))


def compare_mode(juno, redis):
    j, r = connect(juno), connect(redis)
    n = 0
    for mark, line, words in commands():
        jraw, jt = ask(j, words)
        rraw, rt = ask(r, words)
        if mark == "~":
            good = shape(jt) == shape(rt)
        elif mark == "=":
            good = (
                jt[0] == rt[0] == "="
                and jt[1][:4] == rt[1][:4] == b"txt:"
                and jt[1].split(b"\r\n")[0] == rt[1].split(b"\r\n")[0]
            )
        elif mark == "^":
            good = same_types(jt, rt)
        elif mark == "!":
            good = jt[0] == rt[0] == "-"
        else:
            good = jraw == rraw
        if not good:
            print("mismatch at %r:\n  juno  %r\n  redis %r" % (line, jraw[:400], rraw[:400]))
            sys.exit(1)
        n += 1
    print("ok %d commands" % n)


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "raw":
        raw_mode(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        compare_mode(sys.argv[2], sys.argv[3])
    else:
        sys.stderr.write("usage: resp3_client.py raw HOST:PORT | compare JUNO REDIS < commands\n")
        sys.exit(64)


if __name__ == "__main__":
    main()
