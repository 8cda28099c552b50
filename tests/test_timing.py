"""The paired timer: reference samples kept in pairs, device synchronised, slowdowns injected."""
from __future__ import annotations

import threading
import time

import pytest
import torch

from bench.suite import plugin, timing

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def not_an_xdist_worker(monkeypatch):
    """The inner pytest runs here time benchmarks; under xdist, pytest-benchmark
    would see the worker's marker in the environment and turn timing off."""
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)

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
    with pytest.raises(ValueError, match="kernel=fraction"):
        timing.slowdowns("einsum")
    with pytest.raises(ValueError, match="MATMUL_BENCH_SLOWDOWN: 'einsum=fast'"):
        timing.slowdowns("einsum=fast")
    with pytest.raises(ValueError, match=">= 0"):
        timing.slowdowns("einsum=-0.5")


def test_slowed_call_spins_that_fraction_of_its_median(monkeypatch):
    spun = []
    monkeypatch.setattr(timing, "median_time", lambda fn, repeats, clock: 0.004)
    monkeypatch.setattr(timing, "spin", spun.append)
    calls = []
    slow = timing.slowed(lambda: calls.append(1) or "result", 0.25, time.perf_counter)
    assert slow() == "result"
    assert calls == [1] and spun == [pytest.approx(0.001)]


def test_paired_keeps_one_reference_sample_per_round_and_syncs(pytester):
    """Inside a real pytest-benchmark run: reference_data pairs stats.data, and a
    stand-in device's work is inside the measured time."""
    pytester.makeconftest("")
    pytester.makepyfile(test_inner=f"""
        import threading, time
        from bench.suite import timing

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
            _, references, _, _ = timing.paired(benchmark, target, [lambda: None, lambda: None],
                                                clock=time.perf_counter, max_time=0.1, min_rounds=5)
            data = benchmark.stats.stats.data
            assert len(references) == 2
            assert len(references[0]) == len(references[1]) == len(data) >= 5
            assert min(data) >= {WORK}
    """)
    result = pytester.runpytest_inprocess("--benchmark-enable", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)


INNER_SUITE = """
    import time
    import pytest
    from bench.runs import Workload
    from bench.suite.cases import Reference

    WORK = Workload(suite="matmul", kernel="noop", rows=1, flops=1, bytes=1)

    @pytest.mark.gate_threshold(0.2)
    def test_marked(timed, benchmark):
        timed(lambda: None, Reference("nothing", lambda: None), WORK)
        assert benchmark.extra_info["gate_threshold"] == 0.2
        assert benchmark.extra_info["kernel"] == "noop"
        assert benchmark.extra_info["reference"] == "nothing"

    def test_unmarked(timed, benchmark):
        timed(lambda: None, Reference("nothing", lambda: None), WORK)
        assert "gate_threshold" not in benchmark.extra_info

    def nap():
        # About a millisecond of CPU time, then a sleep that costs none.
        end = time.process_time() + 0.001
        while time.process_time() < end:
            pass
        time.sleep({sleep})

    def test_sleeps(timed, benchmark):
        # On time.process_time both halves of each pair take about 1 ms; on the
        # wall clock each takes the sleep too.
        timed(nap, Reference("nap", nap), WORK)
        target, reference = benchmark.stats.stats.median, min(benchmark.extra_info["reference_data"])
        assert target < {sleep} / 4, f"the call was timed on the wall clock ({{target}} s)"
        assert reference < {sleep} / 4, f"the reference was timed on another clock ({{reference}} s)"
"""


def test_gate_threshold_marker_reaches_extra_info(pytester):
    """@pytest.mark.gate_threshold(x) on a benchmark is what the gate reads."""
    pytester.makeconftest('pytest_plugins = ["bench.suite.plugin"]')
    pytester.makepyfile(test_inner=INNER_SUITE.format(sleep=0.001))
    result = pytester.runpytest_inprocess("--benchmark-enable", "--benchmark-max-time=0.01",
                                          "-p", "no:cacheprovider", "-k", "marked")
    result.assert_outcomes(passed=2)


def test_both_halves_of_a_pair_run_on_the_benchmarks_timer(pytester):
    """--benchmark-timer=time.process_time times the reference on CPU time too:
    a sleeping reference then measures its CPU time, not the sleep."""
    sleep = 0.02
    pytester.makeconftest('pytest_plugins = ["bench.suite.plugin"]')
    pytester.makepyfile(test_inner=INNER_SUITE.format(sleep=sleep))
    result = pytester.runpytest_inprocess(
        "--benchmark-enable", "--benchmark-timer=time.process_time", "--benchmark-max-time=0.02",
        "-p", "no:cacheprovider", "-k", "sleeps")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=1)


class Options:
    """config.option as pytest-benchmark and xdist leave it: nothing asked for."""

    def __init__(self, **asked):
        self.benchmark_disable = self.benchmark_skip = self.benchmark_enable = False
        for name in plugin.TIMING_OPTIONS:
            setattr(self, name, False)
        self.dist, self.tx = "no", []
        self.__dict__.update(asked)


class Config:
    def __init__(self, **asked):
        self.option, self.warnings, self.lines = Options(**asked), [], []
        self.plugins = []

    @property
    def pluginmanager(self):
        return self

    def register(self, plugin, name):
        self.plugins.append(name)

    def addinivalue_line(self, name, line):
        self.lines.append(line)

    def issue_config_time_warning(self, warning, stacklevel):
        self.warnings.append(str(warning))


@pytest.mark.parametrize("flag", plugin.TIMING_OPTIONS)
def test_every_timing_flag_turns_timing_on_and_xdist_off(flag):
    config = Config(**{flag: True, "dist": "load", "tx": ["popen", "popen"]})
    plugin.pytest_configure(config)
    assert config.option.benchmark_enable and not config.option.benchmark_disable
    assert (config.option.dist, config.option.tx) == ("no", [])
    assert "--" + flag.replace("_", "-") in config.warnings[0]


def test_plain_pytest_is_the_untimed_smoke_run_and_the_users_choice_stands():
    config = Config(dist="load", tx=["popen"])
    plugin.pytest_configure(config)
    assert config.option.benchmark_disable and config.option.tx == ["popen"]
    for choice in ("benchmark_disable", "benchmark_skip"):
        config = Config(**{choice: True, "benchmark_autosave": True})
        plugin.pytest_configure(config)
        assert not config.option.benchmark_enable and not config.warnings
