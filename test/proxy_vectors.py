#!/usr/bin/env python3
"""Replay the request vectors of the JunoDB wire reference against a running
juno-proxy and check every answer the way the reference describes it (§7, §8).

    python3 test/proxy_vectors.py HOST:PORT

The hex below is copied from the reference (shared/reference/
junodb-wire-vectors.md); "pub" is a vector's published (legacy) form. Exits 0
when every check holds, else prints each failure and exits 1.
"""
import sys
import time

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from proxy_client import Conn, decode  # noqa: E402

V = {
    "W01": "50500140 00000070 00000000 01000000 00000038 02036521 06000000 51D0F4AF 505F11E7 9176000C 29CADC31 00000708 140CA90C 7F000001 44756D6D 79417070 4E616D65 00000000 00000028 01070003 0000000F 44756D6D 794E536B 65790076 616C7565 20746F20 73746F72 65000000",
    "W01pub": "50500140 00000070 00000000 01000000 00000038 02032165 06000000 00000708 51D0F4AF 505F11E7 9176000C 29CADC31 140CA90C 7F000001 44756D6D 79417070 4E616D65 00000000 00000028 01070003 0000000E 44756D6D 794E536B 65797661 6C756520 746F2073 746F7265 00000000",
    "W03": "50500140 00000058 00000000 02000000 00000030 02026506 88F8FBDE 505F11E7 A836000C 29CADC31 140CA91A 7F000001 44756D6D 79417070 4E616D65 00000000 00000018 01070003 00000000 44756D6D 794E536B 65790000",
    "W05": "50500140 00000068 00000000 03000000 00000030 02026506 CB475DF7 505F11E7 9926000C 29CADC31 140CA922 7F000001 44756D6D 79417070 4E616D65 00000000 00000028 01070003 0000000F 44756D6D 794E536B 65790076 616C7565 20746F20 73746F72 65000000",
    "W07": "50500140 00000068 00000000 04000000 00000030 02026506 D91FF0DF 505F11E7 8DE8000C 29CADC31 140CA928 7F000001 44756D6D 79417070 4E616D65 00000000 00000028 01070003 0000000F 44756D6D 794E536B 65790076 616C7565 20746F20 73746F72 65000000",
    "W11": "50500140 00000070 00000000 01000000 00000038 02036521 06000000 ECCA2148 FF4B11E7 99EA000C 29CADC31 00000708 140CDD0C 7F000001 44756D6D 79417070 4E616D65 00000000 00000028 01070003 0000000F 44756D6D 794E536B 65790076 616C7565 20746F20 73746F72 65000000",
    "W13": "50500140 00000050 00000000 02000000 00000028 02026506 C9AC000B FF4C11E7 A119000C 29CADC31 1007DD2A 7F000001 6A756E6F 636C6900 00000018 01070003 00000000 44756D6D 794E536B 65790000",
    "W15pub": "50500140 00000068 00000000 03000000 00000030 02026506 9D3BED6B 4C9B11E7 9A0E000C 29CADC31 140CBF90 7F000001 44756D6D 79417070 4E616D65 00000000 00000028 01070003 0000000E 44756D6D 794E536B 65797661 6C756520 746F2073 746F7265 00000000",
    "W17pub": "50500140 00000068 00000000 04000000 00000030 02026506 CA5C763A 4C9B11E7 97ED000C 29CADC31 140CBF92 7F000001 44756D6D 79417070 4E616D65 00000000 00000028 01070003 0000000E 44756D6D 794E536B 65797661 6C756520 746F2073 746F7265 00000000",
    "W21": "50500140 00000010 0000000C 00000000",
    "W23": "50500140 00000028 00000007 00010000 00000008 02000000 00000010 01000000 00000000 00000000",
}
RID = {"W01": "51d0f4af505f11e79176000c29cadc31", "W03": "88f8fbde505f11e7a836000c29cadc31",
       "W05": "cb475df7505f11e79926000c29cadc31", "W07": "d91ff0df505f11e78de8000c29cadc31",
       "W11": "ecca2148ff4b11e799ea000c29cadc31", "W13": "c9ac000bff4c11e7a119000c29cadc31",
       "W15pub": "9d3bed6b4c9b11e79a0e000c29cadc31", "W17pub": "ca5c763a4c9b11e797ed000c29cadc31"}
# meta tags
TTL, VERSION, CTIME, ETIME, REQID, LMT, ORIG, RHT = 1, 2, 3, 4, 5, 7, 8, 10
failures = []


def check(what, cond):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


def send(c, name):
    raw = bytes.fromhex(V[name].replace(" ", ""))
    c.send_raw(raw)
    f = c.recv_frame()
    return raw, f, (decode(f) if f is not None and len(f) > 16 else None)


def ok_write(name, m, version, ttl=None):
    now = int(time.time())
    check(f"{name}: status Ok", m["status"] == 0)
    check(f"{name}: type flag 00, opcode echoed, opaque 0", m["type_flag"] == 0 and m["opaque"] == 0)
    check(f"{name}: namespace and key echoed", m["ns"] == b"DummyNS" and m["key"] == b"key")
    meta = m["meta"]
    check(f"{name}: RequestID echoed", meta.get(REQID, b"").hex() == RID[name.split()[0]])
    check(f"{name}: Version {version}", meta.get(VERSION) == version)
    check(f"{name}: CreationTime is recent", abs(meta.get(CTIME, 0) - now) < 60)
    check(f"{name}: LastModificationTime, OriginatorRequestID, RequestHandlingTime present",
          LMT in meta and ORIG in meta and meta.get(RHT, 0) >= 1)
    if ttl:
        check(f"{name}: TimeToLive {ttl} (within 2 s)", ttl - 2 <= meta.get(TTL, 0) <= ttl)
        check(f"{name}: ExpirationTime = now + TTL", abs(meta.get(ETIME, 0) - (now + ttl)) <= 2)


def main():
    addr = sys.argv[1]
    c = Conn(addr)
    # the key must be new (fresh stores): a key created again after a Destroy
    # continues after its tombstone's version, where JunoDB starts at 1

    _, f, m = send(c, "W01")            # Create, TTL 1800  -> W02 (version 1)
    ok_write("W01 Create", m, 1, 1800)
    ctime = m["meta"].get(CTIME)
    check("W01 Create: no value in the reply", m["value"] == b"")
    _, f, m = send(c, "W11")            # Create again -> DupKey with RequestID
    check("W11 Create on an existing key: DupKey (4)", m["status"] == 4)
    check("W11: RequestID echoed", m["meta"].get(REQID, b"").hex() == RID["W11"])
    _, f, m = send(c, "W03")            # Get -> W04
    check("W03 Get: status Ok", m["status"] == 0)
    check("W03 Get: value type 00 and data 'value to store'", m["vtype"] == 0 and m["value"] == b"value to store")
    check("W03 Get: Version 1, CreationTime kept", m["meta"].get(VERSION) == 1 and m["meta"].get(CTIME) == ctime)
    check("W03 Get: TimeToLive <= 1800", 0 < m["meta"].get(TTL, 0) <= 1800)
    check("W03 Get: RequestID echoed", m["meta"].get(REQID, b"").hex() == RID["W03"])
    _, f, m = send(c, "W13")            # Get with a short app name
    check("W13 Get: Ok with the value", m["status"] == 0 and m["value"] == b"value to store")
    _, f, m = send(c, "W05")            # Update -> W06 (version 2)
    ok_write("W05 Update", m, 2)
    check("W05 Update: CreationTime kept", m["meta"].get(CTIME) == ctime)
    _, f, m = send(c, "W07")            # Set -> W08 (version 3)
    ok_write("W07 Set", m, 3)
    check("W07 Set: TTL kept from the record", 1790 <= m["meta"].get(TTL, 0) <= 1800)
    _, f, m = send(c, "W15pub")         # published Update: bare value
    ok_write("W15pub (published) Update", m, 4)
    _, f, m = send(c, "W03")
    check("published value read back as stored: type 0x76, data 'alue to store'",
          m["vtype"] == 0x76 and m["value"] == b"alue to store")
    _, f, m = send(c, "W17pub")         # published Set
    ok_write("W17pub (published) Set", m, 5)

    c.call("destroy", b"DummyNS", b"key")  # a tombstone of version 6
    _, f, m = send(c, "W01pub")         # published Create: TTL first, bare value
    ok_write("W01 (published) Create", m, 7, 1800)  # same RequestID as W01; after the tombstone

    raw, f, _ = send(c, "W21")          # header-only Nop: echoed byte for byte
    check("W21 header-only Nop echoed byte for byte", f == raw)
    raw, f, m = send(c, "W23")          # keepalive: echoed as a response
    want = bytearray(raw)
    want[3] = 0x00
    check("W23 keepalive echoed with type flag 00, same opaque and flags", f == bytes(want))
    c.call("destroy", b"DummyNS", b"key")
    c.close()
    print(f"{len(failures)} failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
