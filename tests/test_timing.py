"""The paired timer: reference samples kept in pairs, device synchronised, slowdowns injected."""
from __future__ import annotations

import threading
import time

import pytest
import torch

from bench import timing

pytest_plugins = ["pytester"]

WORK = 0.02  # seconds of stand-in "device" work per launch


class StandInDevice:
    """Mimics CUDA: launch() returns at once, the work finishes later, synchronize() waits."""

    def __init__(self):
        self.pending: list[threading.Thread] = []

    def launch(self):
        worker = threading.Thread(target=time.sleep, args=(WORK,))
        worker.start()
        self.pending.append(worker)

    def synchronize(self):
        while self.pending:
            self.pending.pop().join()


def test_synchronized_call_returns_only_when_the_device_work_is_done():
    device = StandInDevice()
    device.launch()
    assert device.pending[-1].is_alive()  # a bare launch returns with the work running
    device.synchronize()
    timing.synchronized(device.launch, device.synchronize)()
    assert not device.pending  # the synchronised call waited for it


def test_cuda_synchronizer_waits_on_that_device(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(device))
    timing.synchronizer("cuda:1")()
    assert calls == [torch.device("cuda:1")]
    timing.synchronizer("cpu")()
    assert len(calls) == 1  # CPU work is synchronous: nothing to wait for


def test_slowdown_spec_parses_and_rejects_garbage():
    assert timing.slowdowns("einsum=0.1, builtin=0.05") == {"einsum": 0.1, "builtin": 0.05}
    assert timing.slowdowns("") == {}
    with pytest.raises(ValueError, match="name=fraction"):
        timing.slowdowns("einsum")
    with pytest.raises(ValueError, match="MATMUL_BENCH_SLOWDOWN: 'einsum=fast'"):
        timing.slowdowns("einsum=fast")


def test_slowed_call_spins_that_fraction_of_its_median(monkeypatch):
    spun = []
    monkeypatch.setattr(timing, "median_time", lambda fn, repeats=7, clock=None: 0.004)
    monkeypatch.setattr(timing, "spin", spun.append)
    calls = []
    slow = timing.slowed(lambda: calls.append(1) or "result", 0.25)
    assert slow() == "result"
    assert calls == [1] and spun == [pytest.approx(0.001)]


def test_paired_keeps_one_reference_sample_per_round_and_syncs(pytester):
    """Inside a real pytest-benchmark run: reference_data pairs stats.data, and a
    stand-in device's work is inside the measured time."""
    pytester.makeconftest("")
    pytester.makepyfile(test_inner=f"""
        import threading, time
        from bench import timing

        def test_pairs(benchmark):
            pending = []
            def launch():
                worker = threading.Thread(target=time.sleep, args=({WORK},))
                worker.start()
                pending.append(worker)
            def sync():
                while pending:
                    pending.pop().join()
            target = timing.synchronized(launch, sync)
            timing.paired(benchmark, target, lambda: None, max_time=0.1, min_rounds=5)
            data = benchmark.stats.stats.data
            assert len(benchmark.extra_info["reference_data"]) == len(data) >= 5
            assert min(data) >= {WORK}
    """)
    result = pytester.runpytest_inprocess("--benchmark-enable", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


def test_gate_threshold_marker_reaches_extra_info(pytester):
    """@pytest.mark.gate_threshold(x) on a benchmark is what the gate reads."""
    pytester.makeconftest('pytest_plugins = ["bench.fixtures"]')
    pytester.makepyfile(test_inner="""
        import pytest

        @pytest.mark.gate_threshold(0.2)
        def test_marked(timed, benchmark):
            timed(lambda: None, lambda: None, name="noop", info={"kernel": "noop"})
            assert benchmark.extra_info["gate_threshold"] == 0.2
            assert benchmark.extra_info["kernel"] == "noop"

        def test_unmarked(timed, benchmark):
            timed(lambda: None, lambda: None, name="noop")
            assert "gate_threshold" not in benchmark.extra_info
    """)
    result = pytester.runpytest_inprocess("--benchmark-enable", "--benchmark-max-time=0.01",
                                          "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
