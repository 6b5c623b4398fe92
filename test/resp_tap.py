# resp_tap.py: the checks test/resp_client.py and test/resp_str_client.py
# print, one line each: "ok - what", or "not ok - what: detail" and exit 1
# at the first failure; and a reply read without redis-py's callbacks.
import sys

import redis


def ok(what):
    print("ok - " + what)


def fail(what, detail):
    print("not ok - %s: %s" % (what, detail))
    sys.exit(1)


def check(what, got, want):
    if got != want:
        fail(what, "got %r, want %r" % (got, want))
    ok(what)


def error_of(r, *args):
    """The server's error text for a command, or fail if it succeeded."""
    try:
        got = r.execute_command(*args)
    except redis.exceptions.ResponseError as e:
        return str(e)
    fail(" ".join(map(str, args))[:60], "no error, got %r" % (got,))


def check_error(r, want_prefix, *args):
    e = error_of(r, *args)
    if not e.startswith(want_prefix):
        fail(" ".join(map(str, args))[:60], "error %r does not start with %r" % (e, want_prefix))
    ok("%s -> %s" % (" ".join(map(str, args))[:60], e[:70]))


def unparsed(r, *args):
    """The reply to args as the parser gives it, without redis-py's callbacks."""
    c = r.connection_pool.get_connection(args[0])
    try:
        c.send_command(*args)
        return c.read_response()
    finally:
        r.connection_pool.release(c)
