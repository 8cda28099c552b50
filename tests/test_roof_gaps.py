"""tools/roof_gaps.py: every step it times is checked first, and its tables say what ran."""
import importlib.util
from pathlib import Path

import pytest
import torch

from matmul import compiled

needs_numba = pytest.mark.skipif(compiled.NUMBA_MISSING is not None,
                                 reason=f"the tool times numba's kernels: {compiled.NUMBA_MISSING}")
TOOL = Path(__file__).resolve().parents[1] / "tools" / "roof_gaps.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("roof_gaps", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MOST = compiled.numba.config.NUMBA_NUM_THREADS if compiled.numba else 1
THREADS = sorted({1, MOST})
ROWS = 96 * MOST  # the cache-resident steps' rows on every thread


def steps(table, part):
    return [(r["step"], r["threads"]) for r in table if r["part"] == part]


@needs_numba
def test_every_forward_step_is_against_the_fma_of_its_thread_count(tool, monkeypatch):
    monkeypatch.setattr(tool, "STREAK_S", 0.0)
    table = tool.measure(["forward"], rows=ROWS, rounds=2, thread_counts=THREADS)
    one_thread = ["fma", "fma, short calls", "fma after a kernel", "layer-1 loop in cache",
                  "layer-1 loop streaming", "forward"]
    more = ([(step, MOST) for step in ("fma", "fma, short calls", "fma after a kernel", "forward")]
            if MOST > 1 else [])
    assert steps(table, "forward") == [(s, 1) for s in one_thread] + more
    assert all(r["gflops"] > 0 and r["median_s"] > 0 for r in table)
    assert {r["of_median"] for r in table if r["step"] == "fma"} == {1.0}
    assert all(r["of_best"] <= r["of_median"] for r in table)  # the best round is the fastest
    lines = tool.markdown(tool.COLUMNS["forward"], table)
    assert len(lines) == 2 + len(table) and lines[3].startswith("| fma, short calls | 1 |")


@needs_numba
def test_every_skinny_step_is_against_the_faster_read_of_its_thread_count(tool):
    table = tool.measure(["skinny"], rows=ROWS, rounds=2, thread_counts=THREADS)
    names = ["read: torch", "read: numba", "numba_tuned in cache", "numba_fused in cache",
             "numba_tuned", "numba_fused"]
    assert steps(table, "skinny") == [(name, t) for t in THREADS for name in names]
    for threads in THREADS:
        reads = [r["of_read"] for r in table if r["threads"] == threads and "read" in r["step"]]
        assert min(reads) == 1.0
    assert all(r["gbytes"] > 0 for r in table)
    assert tool.markdown(tool.COLUMNS["skinny"], table)[0].startswith("| step | threads |")


@needs_numba
@pytest.mark.parametrize("wrong", [
    pytest.param(lambda tool, m: m.setattr(tool.compiled, "fused_forward",
                                           lambda x, layers: torch.zeros(len(x), 10)),
                 id="forward pass"),
    pytest.param(lambda tool, m: m.setattr(tool, "_layer1_loop", lambda *args: None),
                 id="layer-1 loop"),  # leaves its output unwritten
    pytest.param(lambda tool, m: m.setattr(tool, "_dot_loop", lambda *args: None),
                 id="dot-block loop"),
    pytest.param(lambda tool, m: m.setattr(tool, "_fused_loop", lambda *args: None),
                 id="grouped-block loop"),
    pytest.param(lambda tool, m: m.setitem(tool.KERNELS, "numba_fused",
                                           lambda a, b: torch.zeros(len(a), b.shape[1])),
                 id="kernel"),
])
def test_a_wrong_result_is_caught_before_it_is_timed(tool, monkeypatch, wrong):
    wrong(tool, monkeypatch)
    with pytest.raises(AssertionError):
        tool.measure(rows=ROWS, rounds=1, thread_counts=[1])


@needs_numba
def test_a_wrong_read_is_caught(tool, monkeypatch):
    monkeypatch.setattr(tool.roofs.Reader, "prepare", lambda self, x: lambda: 0.0)
    with pytest.raises(RuntimeError, match="read summed x wrong"):
        tool.measure(["skinny"], rows=ROWS, rounds=1, thread_counts=[1])


@needs_numba
def test_a_wrong_fma_microkernel_is_caught(tool, monkeypatch):
    real = tool.roofs.fma_peak

    def off_by_one(device, iterations=tool.roofs.ITERATIONS):
        peak = real(device, iterations)
        return type(peak)(peak.call, peak.flops, peak.expected + 1, peak.params)

    monkeypatch.setattr(tool.roofs, "fma_peak", off_by_one)
    with pytest.raises(RuntimeError, match="the FMA microkernel computed"):
        tool.measure(["forward"], rows=ROWS, rounds=1, thread_counts=[1])


@pytest.mark.parametrize("argv, message", [
    (["--rows", "0"], "--rows must be at least 1, got 0"),
    (["--rounds", "0"], "--rounds must be at least 1, got 0"),
    (["--rows", "50"], "--rows must be at least"),
    (["forward", "backward"], "no such part: backward (the parts: forward, skinny)"),
])
def test_bad_options_are_refused_by_name(tool, argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        tool.main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err
