"""bench.suite.passes and timing.more_rounds: a benchmark's rounds in passes over the run."""
from __future__ import annotations

import itertools

import pytest

from bench.suite import passes, timing
from bench.suite.passes import Passes, Pending


@pytest.mark.parametrize("value", ["0", "-2", "two", "1.5"])
def test_parse_names_the_bad_value(value):
    with pytest.raises(ValueError, match=r"--bench-passes: expected a whole number >= 1"):
        passes.parse(value)


@pytest.mark.parametrize("rounds, count, share", [(100, 4, 25), (101, 4, 26), (3, 4, 1), (7, 1, 7)])
def test_first_share(rounds, count, share):
    assert passes.first_share(rounds, count) == share


def recorder(log: list, name: str, rounds: int = 2) -> Pending:
    return Pending(rounds, lambda n: log.append((name, n)), lambda: log.append((name, "record")))


def test_later_passes_take_every_benchmark_in_turn_and_record_after_each():
    log: list = []
    session = Passes(3)
    for name in "ab":
        session.add(recorder(log, name))
    assert session.run() == 3
    assert log == [("a", 2), ("a", "record"), ("b", 2), ("b", "record")] * 2
    assert session.pending == []


def test_one_pass_keeps_nothing_for_later():
    session = Passes(1)
    session.add(recorder([], "a"))
    assert session.pending == [] and session.run() == 1


def test_an_error_stops_the_passes_and_keeps_what_was_recorded():
    log: list = []
    session = Passes(4)
    session.add(recorder(log, "a"))
    calls = itertools.count()

    def fail_in_the_second_later_pass(n):
        if next(calls) == 1:
            raise RuntimeError("kernel broke")
        log.append(("b", n))

    session.add(Pending(3, fail_in_the_second_later_pass, lambda: log.append(("b", "record"))))
    with pytest.raises(RuntimeError, match="kernel broke"):
        session.run()
    assert log == [("a", 2), ("a", "record"), ("b", 3), ("b", "record"), ("a", 2), ("a", "record")]
    assert session.pending == []


class Stats:
    """pytest-benchmark's Stats as far as timing uses it: data and cached statistics."""

    def __init__(self, data):
        self.data = list(data)
        self.median = "cached"


def test_more_rounds_appends_aligned_pairs_on_the_clock_and_drops_faults():
    ticks = iter([0, 1, 1, 3,  3, 3, 3, 6,  6, 7, 7, 9])  # the second round's reference did not advance
    calls = []
    stats = Stats([5.0] * 4)
    kept, dropped = timing.more_rounds(stats, lambda: calls.append("t"), [lambda: calls.append("r")],
                                       [[4.0] * 4], 3, lambda: next(ticks))
    assert calls == ["r", "t"] * 4  # one untimed round first
    assert stats.data == [5.0] * 4 + [2, 2] and kept == [[4.0] * 4 + [1, 1]] and dropped == 1
    assert "median" not in vars(stats)  # cached statistics forgotten


def test_more_rounds_times_the_alternatives_first_and_a_fault_in_one_drops_its_round():
    # Per round: alternative, reference, target; the first round's alternative stepped back.
    ticks = iter([5, 4, 4, 5, 5, 7,  7, 10, 10, 11, 11, 13])
    calls = []
    stats = Stats([5.0] * 6)
    kept, dropped = timing.more_rounds(
        stats, lambda: calls.append("t"), [lambda: calls.append("a"), lambda: calls.append("r")],
        [[3.0] * 6, [4.0] * 6], 2, lambda: next(ticks))
    assert calls == ["a", "r", "t"] * 3
    assert stats.data == [5.0] * 6 + [2] and kept == [[3.0] * 6 + [3], [4.0] * 6 + [1]]
    assert dropped == 1
