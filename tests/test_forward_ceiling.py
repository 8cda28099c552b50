"""tools/forward_ceiling.py: every step it times is checked first, and its table says what ran."""
import importlib.util
from pathlib import Path

import pytest
import torch

from matmul import compiled

needs_numba = pytest.mark.skipif(compiled.NUMBA_MISSING is not None,
                                 reason=f"the tool times numba's kernels: {compiled.NUMBA_MISSING}")
TOOL = Path(__file__).resolve().parents[1] / "tools" / "forward_ceiling.py"


@pytest.fixture(scope="module")
def tool():
    spec = importlib.util.spec_from_file_location("forward_ceiling", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@needs_numba
def test_every_step_is_timed_against_the_fma_of_its_thread_count(tool, monkeypatch):
    monkeypatch.setattr(tool, "STREAK_S", 0.0)
    most = compiled.numba.config.NUMBA_NUM_THREADS
    table = tool.measure(rows=40, rounds=2, thread_counts=sorted({1, most}))
    one_thread = ["fma", "fma after a kernel", "layer-1 loop in cache", "layer-1 loop streaming",
                  "forward"]
    more = [(step, most) for step in ("fma", "fma after a kernel", "forward")] if most > 1 else []
    assert [(r["step"], r["threads"]) for r in table] == [(s, 1) for s in one_thread] + more
    assert all(r["gflops"] > 0 and r["median_s"] > 0 for r in table)
    assert {r["of_median"] for r in table if r["step"] == "fma"} == {1.0}
    assert all(r["of_best"] <= r["of_median"] for r in table)
    lines = tool.markdown(table).splitlines()
    assert len(lines) == 2 + len(table) and lines[3].startswith("| fma after a kernel | 1 |")


@needs_numba
def test_a_wrong_forward_pass_is_caught_before_it_is_timed(tool, monkeypatch):
    monkeypatch.setattr(tool.compiled, "fused_forward", lambda x, layers: torch.zeros(len(x), 10))
    with pytest.raises(AssertionError):
        tool.measure(rows=40, rounds=1, thread_counts=[1])


@needs_numba
def test_a_wrong_layer_loop_is_caught_before_it_is_timed(tool, monkeypatch):
    monkeypatch.setattr(tool, "_layer1_loop", lambda *args: None)  # leaves h unwritten
    with pytest.raises(AssertionError):
        tool.measure(rows=40, rounds=1, thread_counts=[1])


@needs_numba
def test_a_wrong_fma_microkernel_is_caught(tool, monkeypatch):
    real = tool.roofs.fma_peak

    def off_by_one(device, iterations=tool.roofs.ITERATIONS):
        peak = real(device, iterations)
        return type(peak)(peak.call, peak.flops, peak.expected + 1, peak.params)

    monkeypatch.setattr(tool.roofs, "fma_peak", off_by_one)
    with pytest.raises(RuntimeError, match="the FMA microkernel computed"):
        tool.measure(rows=40, rounds=1, thread_counts=[1])


@pytest.mark.parametrize("option", ["--rows", "--rounds"])
def test_a_count_below_one_is_refused_by_name(tool, option, capsys):
    with pytest.raises(SystemExit) as exit_:
        tool.main([option, "0"])
    assert exit_.value.code == 2 and f"{option} must be at least 1, got 0" in capsys.readouterr().err
