"""bench.suite.memory's device path on a stand-in CUDA device (no GPU here):
the device peak is torch's max_memory_allocated beyond what was allocated
before the call, reset before each call; with and without memray."""
from __future__ import annotations

import pytest
import torch

from bench.suite import memory


@pytest.fixture
def fake_cuda(monkeypatch):
    """torch.cuda's statistics for a device where each call allocates `sizes` bytes at its peak."""
    state = {"allocated": 1_000, "peak": 1_000, "resets": 0}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)

    def reset(device=None):
        state["peak"], state["resets"] = state["allocated"], state["resets"] + 1

    monkeypatch.setattr(torch.cuda, "reset_peak_memory_stats", reset)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: state["allocated"])
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: state["peak"])

    def call(size: int):
        def run():
            state["peak"] = max(state["peak"], state["allocated"] + size)
            return torch.zeros(2)
        return run

    return state, call


@pytest.mark.parametrize("with_memray", [True, False], ids=["memray", "no-memray"])
def test_device_peak_is_the_growth_during_each_call(fake_cuda, monkeypatch, with_memray):
    if with_memray and memory.memray is None:
        pytest.skip(str(memory.MEMRAY_MISSING))
    if not with_memray:
        monkeypatch.setattr(memory, "memray", None)
    state, call = fake_cuda
    found = memory.measure_together([call(4096), call(10)], "cuda:0")
    assert [m.device_peak_bytes for m in found] == [4096, 10]
    assert state["resets"] == 2
    assert all(m.output_bytes == 8 for m in found)
    assert all((m.peak_bytes is None) is (not with_memray) for m in found)
    assert memory.available("cuda:0")


def test_without_memray_a_cpu_run_records_no_memory(monkeypatch):
    monkeypatch.setattr(memory, "memray", None)
    assert not memory.available("cpu")


def test_output_bytes_counts_tensors_only():
    assert memory.output_bytes(torch.zeros(3, 4)) == 48
    assert memory.output_bytes((torch.zeros(2), torch.zeros(2, dtype=torch.float64))) == 24
    assert memory.output_bytes("not a tensor") is None
