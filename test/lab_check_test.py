#!/usr/bin/env python3
"""lab_check_test.py: unit tests of test/lab_check.py on small hand-made
histories, each either linearizable (or keeping every promise) or not. TAP
output (test/lab_check.bats runs it); exit 1 when a test fails."""
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lab_check as lc  # noqa: E402

INF = lc.INF
_n = [0]


def op(kind, key, start, end, status="Ok", value=None, version=None, got=None, final=False,
       uncertain=False):
    _n[0] += 1
    o = {"id": "t-%d" % _n[0], "proc": 1, "op": kind, "key": key, "value": value,
         "start": start, "end": end, "status": status, "attempts": 1, "uncertain": uncertain,
         "final": final}
    if version is not None:
        o["version"] = version
    if got is not None:
        o["got_version"] = got
    return o


def lin(ops, full=True, steps=100000):
    return lc.wgl(lc.counter_ops(ops, full), lc.register_step(full), frozenset([None]), steps)


def kinds(ops):
    return sorted(k for k, _ in lc.check_reads(ops))


class Linearizability(unittest.TestCase):
    """Wing-Gong-Lowe on a versioned register (the counters' model)."""

    def test_sequential_history_is_linearizable(self):
        h = [op("set", "c0", 0, 1, value="0"),
             op("get", "c0", 2, 3, value="0", got=1),
             op("cas", "c0", 4, 5, value="1", version=1),
             op("get", "c0", 6, 7, value="1", got=2)]
        self.assertIs(lin(h), True)

    def test_read_of_the_old_value_after_the_write_ended_is_not(self):
        h = [op("set", "c0", 0, 1, value="0"),
             op("cas", "c0", 2, 3, value="1", version=1),
             op("get", "c0", 4, 5, value="0", got=1)]
        self.assertIs(lin(h), False)
        self.assertIs(lin(h, full=False), True)  # the writes alone are fine

    def test_a_read_concurrent_with_a_write_may_see_either(self):
        for seen, ver in (("0", 1), ("1", 2)):
            h = [op("set", "c0", 0, 1, value="0"),
                 op("cas", "c0", 2, 6, value="1", version=1),
                 op("get", "c0", 3, 4, value=seen, got=ver)]
            self.assertIs(lin(h), True, seen)

    def test_two_reads_disagreeing_on_order_are_not(self):
        # a write in progress; one reader sees it, a later reader does not
        h = [op("set", "c0", 0, 1, value="0"),
             op("cas", "c0", 2, 10, value="1", version=1),
             op("get", "c0", 3, 4, value="1", got=2),
             op("get", "c0", 5, 6, value="0", got=1)]
        self.assertIs(lin(h), False)

    def test_an_unknown_write_may_take_effect_late(self):
        # timed out at 3, seen at 20: an unknown outcome has no end
        h = [op("set", "c0", 0, 1, value="0"),
             op("cas", "c0", 2, 3, status="timeout", value="1", version=1),
             op("get", "c0", 10, 11, value="0", got=1),
             op("get", "c0", 20, 21, value="1", got=2)]
        self.assertIs(lin(h), True)

    def test_an_unknown_write_may_never_take_effect(self):
        h = [op("set", "c0", 0, 1, value="0"),
             op("cas", "c0", 2, 3, status="Busy", value="1", version=1),
             op("get", "c0", 30, 31, value="0", got=1)]
        self.assertIs(lin(h), True)

    def test_a_failed_write_has_no_effect(self):
        h = [op("set", "c0", 0, 1, value="0"),
             op("cas", "c0", 2, 3, status="NoStorageServer", value="1", version=1),
             op("get", "c0", 10, 11, value="1", got=2)]
        self.assertIs(lin(h), False)

    def test_two_acknowledged_increments_from_one_version_are_not(self):
        h = [op("set", "c0", 0, 1, value="0"),
             op("cas", "c0", 2, 3, value="1", version=1),
             op("cas", "c0", 4, 5, value="1", version=1)]
        self.assertIs(lin(h, full=False), False)
        viol, _, _ = lc.check_counters(h, 10000)
        self.assertTrue(any("both acknowledged" in m for _, m in viol))

    def test_concurrent_increments_in_either_order(self):
        h = [op("set", "c0", 0, 1, value="0"),
             op("cas", "c0", 2, 10, value="2", version=2),
             op("cas", "c0", 3, 9, value="1", version=1),
             op("get", "c0", 11, 12, value="2", got=3)]
        self.assertIs(lin(h), True)

    def test_a_version_conflict_needs_another_version(self):
        h = [op("set", "c0", 0, 1, value="0"),
             op("cas", "c0", 2, 3, status="VersionConflict", value="1", version=1)]
        self.assertIs(lin(h), False)  # the version was 1: the update had to succeed
        self.assertIs(lin(h, full=False), True)  # not promised in every failure

    def test_many_concurrent_unknowns_stay_fast(self):
        h = [op("set", "c0", 0, 1, value="0")]
        t = 2
        for i in range(1, 120):
            st = "timeout" if i % 7 == 0 else "Ok"
            h.append(op("get", "c0", t, t + 0.5, value=str(i - 1), got=i))
            if st == "Ok":
                h.append(op("cas", "c0", t + 1, t + 1.5, value=str(i), version=i))
            else:  # a timed-out increment that did take effect
                h.append(op("cas", "c0", t + 1, t + 1.5, status="timeout", value=str(i),
                            version=i))
            t += 2
        self.assertIs(lin(h, steps=200000), True)

    def test_a_step_budget_gives_inconclusive(self):
        h = [op("set", "c0", 0, 1, value="0")]
        for i in range(12):
            h.append(op("cas", "c0", 2, INF, status="timeout", value="x%d" % i, version=1))
        h.append(op("get", "c0", 50, 51, value="nope", got=9))
        self.assertIsNone(lin(h, steps=50))
        self.assertIs(lin(h, steps=10 ** 6), False)


class Promises(unittest.TestCase):
    """P1 (read your writes, nothing lost) and P2 (no effect of a failure)."""

    def test_a_clean_history_keeps_every_promise(self):
        h = [op("set", "k1", 0, 1, value="a"),
             op("get", "k1", 2, 3, value="a"),
             op("delete", "k1", 4, 5),
             op("get", "k1", 6, 7, status="NoKey"),
             op("create", "k1", 8, 9, value="b"),
             op("get", "k1", 20, 21, value="b", final=True)]
        self.assertEqual(kinds(h), [])

    def test_an_acknowledged_write_missing_at_the_end_is_lost(self):
        h = [op("set", "k1", 0, 1, value="a"),
             op("set", "k1", 2, 3, value="b"),
             op("get", "k1", 20, 21, value="a", final=True)]
        self.assertEqual(kinds(h), ["lost"])

    def test_a_deleted_key_that_comes_back_is_resurrected(self):
        h = [op("set", "k1", 0, 1, value="a"),
             op("delete", "k1", 2, 3),
             op("get", "k1", 20, 21, value="a", final=True)]
        self.assertEqual(kinds(h), ["resurrected"])

    def test_a_read_older_than_an_acknowledged_write_is_stale(self):
        h = [op("set", "k1", 0, 1, value="a"),
             op("set", "k1", 2, 3, value="b"),
             op("get", "k1", 4, 5, value="a")]
        self.assertEqual(kinds(h), ["stale"])

    def test_nokey_after_an_acknowledged_write_is_stale(self):
        h = [op("set", "k1", 0, 1, value="a"),
             op("get", "k1", 4, 5, status="NoKey")]
        self.assertEqual(kinds(h), ["stale"])

    def test_a_write_of_unknown_outcome_may_win(self):
        h = [op("set", "k1", 0, 1, value="a"),
             op("set", "k1", 2, 3, status="timeout", value="b"),
             op("get", "k1", 20, 21, value="b", final=True)]
        self.assertEqual(kinds(h), [])

    def test_a_failed_write_that_is_read_breaks_no_effect(self):
        h = [op("set", "k1", 0, 1, value="a"),
             op("set", "k1", 2, 3, status="NoStorageServer", value="b"),
             op("get", "k1", 20, 21, value="b", final=True)]
        self.assertEqual(kinds(h), ["no-effect"])

    def test_a_failed_write_after_a_doubtful_attempt_may_have_been_applied(self):
        h = [op("set", "k1", 0, 1, value="a"),
             op("set", "k1", 2, 3, status="NoStorageServer", value="b", uncertain=True),
             op("get", "k1", 20, 21, value="b", final=True)]
        self.assertEqual(kinds(h), [])

    def test_a_value_never_written_is_a_phantom(self):
        h = [op("set", "k1", 0, 1, value="a"),
             op("get", "k1", 2, 3, value="zzz")]
        self.assertEqual(kinds(h), ["phantom"])

    def test_figures_count_outcomes_and_the_fault_window(self):
        h = [op("set", "k1", 0, 1, value="a"),
             op("set", "k1", 10, 11, status="NoStorageServer", value="b"),
             op("get", "k1", 12, 14, status="timeout"),
             op("get", "k1", 21, 22, value="a")]
        ev = [{"t": 9, "event": "fault"}, {"t": 20, "event": "heal"}]
        viol, _, fig = lc.check(h, ev, [], set(), 1000)
        self.assertEqual(viol, [])
        self.assertEqual((fig["attempted"], fig["ok"], fig["failed"], fig["unknown"]),
                         (4, 2, 1, 1))
        self.assertEqual(fig["availability"], 0.0)
        self.assertEqual(fig["recovery_s"], 0.0)
        self.assertEqual(fig["writes_acked"], 1)

    def test_a_dead_daemon_fails_unless_expected(self):
        viol, rep, _ = lc.check([], [], ["z2s2"], set(), 10)
        self.assertEqual(len(viol), 1)
        viol, rep, _ = lc.check([], [], ["z2s2"], {"z2s2"}, 10)
        self.assertEqual(viol, [])
        self.assertEqual(len(rep), 1)

    def test_a_lab_violation_event_fails(self):
        viol, _, _ = lc.check([], [{"t": 1, "event": "violation", "what": "x"}], [], set(), 10)
        self.assertEqual(viol, [("lab", "x")])

    def test_final_counter_value_below_the_acknowledged_increments(self):
        h = [op("set", "c0", 0, 1, value="0"),
             op("cas", "c0", 2, 3, value="1", version=1),
             op("cas", "c0", 4, 5, value="2", version=2),
             op("get", "c0", 20, 21, value="1", got=2, final=True)]
        viol, _, fig = lc.check_counters(h, 10000)
        self.assertTrue(any("1 lost" in m for _, m in viol))
        self.assertEqual(fig["linearizable"], "no")


class Tap(unittest.TextTestResult):
    n = 0

    def _tap(self, test, ok, why=""):
        Tap.n += 1
        print("%s %d - %s%s" % ("ok" if ok else "not ok", Tap.n, test.id().split(".", 1)[1], why))

    def addSuccess(self, test):
        super().addSuccess(test)
        self._tap(test, True)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._tap(test, False)
        print("# " + self._exc_info_to_string(err, test).replace("\n", "\n# "))

    def addError(self, test, err):
        super().addError(test, err)
        self._tap(test, False)
        print("# " + self._exc_info_to_string(err, test).replace("\n", "\n# "))


if __name__ == "__main__":
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    print("1..%d" % suite.countTestCases())
    res = unittest.TextTestRunner(stream=open(os.devnull, "w"), resultclass=Tap).run(suite)
    sys.exit(0 if res.wasSuccessful() else 1)
