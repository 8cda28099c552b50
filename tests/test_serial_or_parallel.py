"""matmul.serial_or_parallel: each size class runs the build its trials found faster."""
from __future__ import annotations

import pytest

from matmul.serial_or_parallel import SERIAL_MARGIN, TRIALS, BuildChoice, size_class


class Builds:
    """A serial and a parallel 'build' that advance a fake clock by their cost."""

    def __init__(self, serial_cost: float, parallel_cost: float):
        self.now, self.calls = 0.0, []
        self.costs = {"serial": serial_cost, "parallel": parallel_cost}

    def clock(self) -> float:
        return self.now

    def build(self, name):
        def run(value):
            self.calls.append(name)
            self.now += self.costs[name]
            return value * 2
        return run


def calls_of(serial_cost, parallel_cost, count, *, threads=2, macs=1000):
    builds = Builds(serial_cost, parallel_cost)
    choice = BuildChoice(clock=builds.clock)
    serial, parallel = builds.build("serial"), builds.build("parallel")
    for n in range(count):
        assert choice.call(("k",), macs, threads, serial, parallel, n) == 2 * n
    return builds.calls, choice


@pytest.mark.parametrize("serial_cost, parallel_cost, winner",
                         [(1.0, 3.0, "serial"), (3.0, 1.0, "parallel")])
def test_the_faster_build_is_chosen_after_the_trials(serial_cost, parallel_cost, winner):
    trials = 2 * (TRIALS + 1)
    calls, choice = calls_of(serial_cost, parallel_cost, trials + 5)
    assert calls[:trials] == ["serial", "parallel"] * (TRIALS + 1)
    assert calls[trials:] == [winner] * 5 and choice.chosen == {("k",): winner}


@pytest.mark.parametrize("serial_cost, winner", [
    (1.0, "serial"),  # exactly the margin faster
    (1.01, "parallel"),  # faster, but within the margin
    (SERIAL_MARGIN, "parallel"),  # a tie
])
def test_serial_is_chosen_only_when_faster_by_the_margin(serial_cost, winner):
    # The parallel build costs SERIAL_MARGIN (1.25: exact in binary, as its sums are).
    _, choice = calls_of(serial_cost, SERIAL_MARGIN, 2 * (TRIALS + 1))
    assert choice.chosen == {("k",): winner}


def test_each_builds_first_call_is_left_out():
    # The serial build's first call costs 100 (compiling): counted, it would
    # tip the serial median over the parallel one's with TRIALS = 1.
    builds = Builds(1.0, 3.0)
    choice = BuildChoice(clock=builds.clock, trials=1)
    first = {"serial": 100.0, "parallel": 0.0}
    for n in range(4):
        name = "serial" if n % 2 == 0 else "parallel"
        builds.costs[name] = first[name] if n < 2 else (1.0 if name == "serial" else 3.0)
        choice.call(("k",), 1000, 2, builds.build("serial"), builds.build("parallel"), n)
    assert choice.chosen == {("k",): "serial"}


def test_one_thread_runs_serial_and_large_work_parallel_untried():
    calls, choice = calls_of(3.0, 1.0, 4, threads=1)
    assert calls == ["serial"] * 4
    calls, choice = calls_of(1.0, 3.0, 4, macs=choice.always_parallel_macs)
    assert calls == ["parallel"] * 4 and choice.chosen == {}


def test_force_overrides_the_choice():
    builds = Builds(1.0, 3.0)
    choice = BuildChoice(clock=builds.clock)
    choice.force = "parallel"
    for n in range(3):
        choice.call(("k",), 1000, 1, builds.build("serial"), builds.build("parallel"), n)
    assert builds.calls == ["parallel"] * 3


def test_size_classes_are_powers_of_two_of_rows():
    assert size_class(5, 10) == size_class(7, 10) != size_class(8, 10)
    assert size_class(50, 10, "forward") != size_class(50, 10, "blocked")
