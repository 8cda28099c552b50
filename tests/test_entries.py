"""matmul.entries: calls keyed by the caller go straight to the machine code
the dispatcher chose for that key, and give what the dispatcher gives."""
from __future__ import annotations

import numpy as np
import pytest

from matmul import compiled

pytestmark = pytest.mark.skipif(compiled.NUMBA_MISSING is not None,
                                reason=str(compiled.NUMBA_MISSING))


@pytest.fixture
def entries():
    from matmul import entries

    entries.clear()
    yield entries
    entries.clear()


def _arguments(dtype):
    a = np.arange(12, dtype=dtype).reshape(3, 4)
    bt = np.ones((compiled.COLUMNS, 4), dtype)
    return a, bt, np.zeros((3, 2), dtype), *compiled._block_shape()


def test_the_first_call_dispatches_and_later_ones_use_its_entry_point(entries):
    dispatcher = compiled.simd.blocked_serial
    first = entries.entry(dispatcher, ("f32",))
    args = _arguments(np.float32)
    first(*args)
    assert args[2].tolist() == [[6, 6], [22, 22], [38, 38]]
    remembered = entries.entry(dispatcher, ("f32",))
    assert remembered is not first
    assert remembered is dispatcher.overloads[tuple(map(dispatcher.typeof_pyval, args))].entry_point
    args[2][:] = 0
    remembered(*args)
    assert args[2].tolist() == [[6, 6], [22, 22], [38, 38]]


def test_each_key_has_its_own_entry_point(entries):
    dispatcher = compiled.simd.blocked_serial
    for key, dtype in (("f32",), np.float32), (("f64",), np.float64):
        entries.entry(dispatcher, key)(*_arguments(dtype))
    f32, f64 = entries.entry(dispatcher, ("f32",)), entries.entry(dispatcher, ("f64",))
    assert f32 is not f64
    args = _arguments(np.float64)
    f64(*args)
    assert args[2].dtype == np.float64 and args[2][2].tolist() == [38, 38]


def test_threads_follows_numba_set_num_threads(entries):
    numba = compiled.numba
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        assert entries.threads() == 1 == numba.get_num_threads()
    finally:
        numba.set_num_threads(before)
    assert entries.threads() == before


class _FakeBuild:
    """A stand-in numba dispatcher whose one overload's entry point logs its
    name and advances a fake clock by `cost`."""

    def __init__(self, name: str, cost: float, log: list, clock: list):
        self.name, self.cost, self.log, self.clock = name, cost, log, clock
        self.overloads = {("array",): type("Overload", (), {"entry_point": self.run})()}

    def typeof_pyval(self, value):
        return "array"

    def __call__(self, *args):  # the dispatcher's own call: the first one only
        self.run(*args)

    def run(self, *args):
        self.log.append(self.name)
        self.clock[0] += self.cost


def test_a_launch_runs_what_the_choice_decided_and_still_honours_one_thread_and_force(entries):
    from matmul.serial_or_parallel import BuildChoice

    log, clock = [], [0.0]
    choice = BuildChoice(clock=lambda: clock[0], trials=2)
    serial, parallel = _FakeBuild("serial", 3.0, log, clock), _FakeBuild("parallel", 1.0, log, clock)
    launch = entries.launch(choice, serial, parallel, ("fake", 1))
    assert entries.launch(choice, serial, parallel, ("fake", 1)) is launch
    for _ in range(6):  # 3 calls of each build: the first left out, 2 timed
        launch.run(5, 100, 2, "x")
    assert sorted(log) == ["parallel"] * 3 + ["serial"] * 3
    log.clear()
    launch.run(5, 100, 2, "x")
    launch.run(7, 100, 2, "x")  # the same size class: rows rounded down to a power of two
    launch.run(5, 100, 1, "x")  # one thread: nothing to choose
    choice.force = "serial"
    launch.run(5, 100, 2, "x")
    assert log == ["parallel", "parallel", "serial", "serial"]


def test_a_launch_that_decided_serial_still_runs_work_past_the_threshold_parallel(entries):
    from matmul.serial_or_parallel import BuildChoice

    log, clock = [], [0.0]
    choice = BuildChoice(clock=lambda: clock[0], trials=2)
    serial, parallel = _FakeBuild("serial", 1.0, log, clock), _FakeBuild("parallel", 3.0, log, clock)
    launch = entries.launch(choice, serial, parallel, ("fake", 2))
    for _ in range(6):
        launch.run(5, 100, 2, "x")
    log.clear()
    launch.run(5, 100, 2, "x")
    choice.always_parallel_macs = 500  # 5 rows x 100 multiply-adds is past it now
    launch.run(5, 100, 2, "x")
    assert log == ["serial", "parallel"]


def test_a_call_of_one_part_runs_serially_untried_however_fast_the_parallel_build(entries):
    from matmul.serial_or_parallel import BuildChoice

    log, clock = [], [0.0]
    choice = BuildChoice(clock=lambda: clock[0], trials=2)
    serial, parallel = _FakeBuild("serial", 3.0, log, clock), _FakeBuild("parallel", 1.0, log, clock)
    launch = entries.launch(choice, serial, parallel, ("fake", 3), part_rows=8)
    for rows in (1, 5, 8, 8, 8, 8, 8, 8):
        launch.run(rows, 100, 2, "x")
    assert log == ["serial"] * 8 and choice.chosen == {}
    log.clear()
    for _ in range(6):  # 9 rows are two parts: tried, and parallel wins
        launch.run(9, 100, 2, "x")
    launch.run(9, 100, 2, "x")
    assert log[-1] == "parallel" and sorted(log[:-1]) == ["parallel"] * 3 + ["serial"] * 3


def test_runs_serially_says_where_the_by_address_build_may_run(entries):
    from matmul.serial_or_parallel import BuildChoice

    log, clock = [], [0.0]
    choice = BuildChoice(clock=lambda: clock[0], trials=2)
    builds = [_FakeBuild(name, cost, log, clock)
              for name, cost in (("serial", 1.0), ("parallel", 3.0), ("at", 0.0))]
    launch = entries.launch(choice, *builds[:2], ("fake", 4), 8, builds[2])
    assert launch.runs_serially(8, 100)  # one part
    assert not launch.runs_serially(9, 100)  # two parts, untried
    for _ in range(6):
        launch.run(9, 100, 2, "x")
    assert launch.runs_serially(9, 100)  # the serial build won its trials
    choice.force = "parallel"
    assert not launch.runs_serially(9, 100) and launch.runs_serially(8, 100)
    log.clear()
    launch.run_at("x")
    launch.run_at("x")
    assert log == ["at", "at"]
