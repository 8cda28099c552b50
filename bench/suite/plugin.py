"""The benchmark suite's pytest plugin (the root conftest.py loads it).

- Timing follows the stock pytest-benchmark flags: a plain `pytest` runs every
  benchmark once, untimed, as a correctness smoke test; any flag that asks for
  timings or saved results turns timing on (see TIMING_OPTIONS).
- Fixtures: the real MNIST (`mnist_dir`, `mnist`), the lesson's seeded layer
  (`weights`), the training set's `normalizer`, slices on the benchmark device,
  and `timed`, which times a call in pairs with its reference and records what
  was timed in the saved run (bench.runs); after every benchmark was timed,
  what one call of each allocates (bench.suite.memory).
- `--bench-device cuda` puts the benchmarks' tensors on a GPU and records the
  GPU in the run's machine_info.
"""
from __future__ import annotations

import atexit
import gc
import json
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from pytest_benchmark.utils import load_timer

from bench import policy, runs
from bench.runs import Environment, Workload

from . import machine, pinning, saving
from .command import MAX_TIMES_OPTION, MEMORY_OPTION, layout_fixed
from .passes import Passes, Pending
from .passes import parse as parse_passes

if TYPE_CHECKING:
    import torch

    from . import cases
# torch, the kernels and the data load inside the fixtures and hooks that use
# them: `pytest-benchmark compare`, `pytest --co` and runs of other tests load
# this plugin too, and do not need them.

# pytest-benchmark options (dest names) that ask for timings or saved results.
TIMING_OPTIONS = ("benchmark_enable", "benchmark_only", "benchmark_autosave", "benchmark_save",
                  "benchmark_save_data", "benchmark_compare", "benchmark_compare_fail",
                  "benchmark_json", "benchmark_histogram")
WEIGHTS_SEED = 42


def pytest_addoption(parser):
    parser.addoption("--bench-device", default="cpu",
                     help="device for the benchmarks' tensors, e.g. cuda (default: cpu)")
    parser.addoption("--bench-pin-cpu", default=pinning.NONE, type=_pin_choice,
                     help="bind the run to one CPU: auto (the one it starts on; gate-ready "
                          "runs do this), a CPU number, or none (default)")
    parser.addoption("--bench-passes", default=1, type=_passes_choice,
                     help="time each benchmark's rounds in this many passes spread over the "
                          "run (gate-ready runs do; bench.suite.passes); default 1")
    parser.addoption(MEMORY_OPTION, default="on", choices=("on", "off"),
                     help="off: record no memory (the memory phase after timing is skipped); "
                          "default on")
    parser.addoption(MAX_TIMES_OPTION, default=None, metavar="FILE",
                     help="a JSON object {benchmark id: seconds}: --benchmark-max-time per "
                          "benchmark (python -m bench ab writes one; bench.gate.rounds)")


def _option_type(parse):
    """An option's type from a parser that raises ValueError: pytest's one-line
    usage error instead."""
    def choice(value: str):
        try:
            return parse(value)
        except ValueError as error:
            raise pytest.UsageError(str(error)) from None
    return choice


_passes_choice = _option_type(parse_passes)
_pin_choice = _option_type(pinning.parse)


def _read_max_times(path: str | None) -> dict[str, float]:
    """The --bench-max-times file's {benchmark id: seconds} ({} without one)."""
    if path is None:
        return {}
    try:
        times = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise pytest.UsageError(f"{MAX_TIMES_OPTION} {path}: not a readable JSON file "
                                f"({error})") from None
    if not isinstance(times, dict) or not all(
            isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
            and math.isfinite(v) and v > 0 for k, v in times.items()):
        raise pytest.UsageError(f"{MAX_TIMES_OPTION} {path}: expected an object of benchmark "
                                "ids to positive seconds")
    return {k: float(v) for k, v in times.items()}


@pytest.hookimpl(tryfirst=True)  # before pytest-benchmark and xdist read these options
def pytest_configure(config):
    # First, before torch or numba start threads of their own: they inherit it.
    try:
        pinning.pin(getattr(config.option, "bench_pin_cpu", pinning.NONE))
    except ValueError as error:
        raise pytest.UsageError(str(error)) from None
    config.bench_max_times = _read_max_times(getattr(config.option, "bench_max_times", None))
    # Then matmul, before any test module imports torch: it loads numba's
    # OpenMP runtime first, so that torch and numba share one pool of threads
    # (matmul.openmp).
    import matmul  # noqa: F401
    config.addinivalue_line(
        "markers", "mnist: needs the real MNIST files (MNIST_DIR or ../shared/data/mnist)")
    config.addinivalue_line(
        "markers", "gate_threshold(fraction): the regression gate's threshold for this "
                   f"benchmark (default {policy.THRESHOLD})")
    option = config.option
    if not hasattr(option, "benchmark_disable"):
        return  # pytest-benchmark is not loaded (-p no:benchmark)
    config.pluginmanager.register(saving.SavingPlugin(config), "bench-saving")
    if option.benchmark_disable or option.benchmark_skip:
        return  # the user's own choice
    asked = [name for name in TIMING_OPTIONS if getattr(option, name, None)]
    if not asked:
        option.benchmark_disable = True  # plain pytest: one untimed call per benchmark
        return
    option.benchmark_enable = True
    if getattr(option, "dist", "no") != "no" and getattr(option, "tx", None):
        # Workers share the cores: timings taken beside other tests mean little.
        flag = "--" + asked[0].replace("_", "-")
        config.issue_config_time_warning(pytest.PytestConfigWarning(
            f"{flag} asks for timings: running without xdist workers (-n), "
            "which would time benchmarks beside other tests"), stacklevel=2)
        option.dist, option.tx = "no", []


def pytest_sessionstart(session):
    """Settings that would spoil the whole session, said once before any test runs."""
    check_slowdown()
    if not os.environ.get("MNIST_DIR"):  # nothing to check (and data loads torch)
        return
    from .mnist import mnist_dir_problem

    problem = mnist_dir_problem()
    if problem and os.environ.get("CI"):
        raise pytest.UsageError(problem)
    if problem:  # the real-MNIST tests skip, giving it as their reason
        session.config.issue_config_time_warning(pytest.PytestConfigWarning(problem), stacklevel=2)


def check_slowdown() -> None:
    """MATMUL_BENCH_SLOWDOWN must parse and name kernels that exist: a typo would
    otherwise inject nothing, silently."""
    if not os.environ.get("MATMUL_BENCH_SLOWDOWN"):  # timing.SLOWDOWN_ENV, without loading torch
        return
    from . import cases, timing

    try:
        wanted = timing.slowdowns()
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
    if not wanted:
        return
    import matmul

    known = {*matmul.KERNELS, *matmul.UNAVAILABLE, cases.READ_X, cases.FMA_PEAK, cases.PEAK_GEMM, "load_mnist"}
    unknown = sorted(set(wanted) - known)
    if unknown:
        raise pytest.UsageError(
            f"{timing.SLOWDOWN_ENV}: unknown kernel(s) {', '.join(map(repr, unknown))}; "
            f"known: {', '.join(sorted(known))}")


def pytest_collection_finish(session):
    """Move everything alive after collection (torch's modules, the test modules)
    out of the garbage collector's view: a full collection then no longer walks
    them, neither inside a timed round nor in pytest's collections at exit.
    They are handed back at interpreter exit, so that its final collection
    still frees them (extension modules check for leaks then)."""
    gc.freeze()
    atexit.register(gc.unfreeze)


@pytest.hookimpl(hookwrapper=True, tryfirst=True)  # before pytest-benchmark saves the run
def pytest_sessionfinish(session):
    """The later passes of every timed benchmark (bench.suite.passes), then
    memory, measured once per timed benchmark after all of them were timed:
    never inside a timed round (bench.suite.memory)."""
    later = session.config.stash.get(_PASSES, None)
    if later is not None and later.pending:
        count = len(later.pending)
        try:
            done = later.run()
            said = f"timing: {count} benchmarks timed in {done} passes each (bench.suite.passes)"
        except Exception as error:  # each keeps the rounds recorded before the error
            said = f"later passes stopped: {type(error).__name__}: {error}"
        _say(session, said)
    probes = session.config.stash.get(_PROBES, None)
    if probes is not None and probes.pending:
        import time

        count, started = len(probes.pending), time.perf_counter()
        try:
            probes.measure()
            said = (f"memory: one call of each of {count} benchmarks measured in "
                    f"{time.perf_counter() - started:.1f} s (bench.suite.memory)")
        except Exception as error:  # the timings are still worth saving, without memory
            said = f"memory not measured: {type(error).__name__}: {error}"
        _say(session, said)
    yield


def _say(session, line: str) -> None:
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)


def pytest_benchmark_generate_machine_info(config):
    """machine_info without py-cpuinfo's second-long probe (bench.suite.machine)."""
    return machine.machine_info()


def pytest_benchmark_update_machine_info(config, machine_info):
    """Name the GPU (model, driver, CUDA) in runs made on one: the gate compares
    runs only within one machine."""
    import torch

    device = torch.device(config.getoption("--bench-device"))
    if device.type == "cuda" and torch.cuda.is_available():
        index = device.index if device.index is not None else torch.cuda.current_device()
        machine_info["gpu"] = {"name": torch.cuda.get_device_name(index),
                               "driver": _nvidia_driver(), "cuda": torch.version.cuda}


def _nvidia_driver() -> str:
    try:
        return Path("/sys/module/nvidia/version").read_text().strip()
    except OSError:
        return "unknown"


# ---------------------------------------------------------------- data

@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """Directory of the four MNIST .gz files; in CI its absence is a failure, not a skip."""
    from .mnist import SHARED_MNIST, local_mnist_dir, mnist_dir_problem

    directory = local_mnist_dir()
    if directory is None:
        reason = mnist_dir_problem() or (
            "real MNIST not found: set MNIST_DIR or run `python -m data fetch` "
            f"(looked at {SHARED_MNIST} and the user cache)")
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return directory.resolve()  # the loader reports resolved paths


@pytest.fixture(scope="session")
def mnist(mnist_dir):
    """The MNIST tensors, parsed once per session (the loader memoises too)."""
    from data import load_mnist

    return load_mnist(mnist_dir)


@pytest.fixture(scope="session")
def weights() -> torch.Tensor:
    """The lesson's layer: 784 x 10 standard-normal weights, from a fixed seed."""
    import torch

    generator = torch.Generator().manual_seed(WEIGHTS_SEED)
    return torch.randn(784, 10, generator=generator)


@pytest.fixture(scope="session")
def normalizer(mnist):
    """The training set's mean and std, for normalizing MNIST inputs (fitted once)."""
    from forward import Normalizer

    return Normalizer.fit(mnist.x_train)


# ---------------------------------------------------------------- the benchmark device

@pytest.fixture(scope="session")
def bench_device(request) -> torch.device:
    import torch

    device = torch.device(request.config.getoption("--bench-device"))
    if device.type == "cuda" and not torch.cuda.is_available():
        pytest.skip(f"--bench-device {device}: CUDA is not available on this machine")
    return device


@pytest.fixture(scope="session")
def slices(mnist, bench_device):
    """x_train[:rows] as contiguous tensors on the benchmark device, cut once per session."""
    cache: dict[int, torch.Tensor] = {}

    def get(rows: int) -> torch.Tensor:
        if rows not in cache:
            cache[rows] = mnist.x_train[:rows].contiguous().to(bench_device)
        return cache[rows]

    return get


@pytest.fixture(scope="session")
def layer_weights(weights, bench_device) -> torch.Tensor:
    """The lesson's 784 x 10 weights on the benchmark device."""
    return weights.to(bench_device)


@pytest.fixture
def supported(bench_device):
    """Skip (saying why) a kernel that does not run on the benchmark device."""
    def check(kernel):
        if not kernel.supports(bench_device):
            pytest.skip(f"{kernel.name} supports {sorted(kernel.devices)}, not {bench_device}")
    return check


# ---------------------------------------------------------------- timing

_PROBES = pytest.StashKey()


def _memory_probes(config):
    """The session's memory probes (bench.suite.memory.Probes), made on first use."""
    from . import memory

    if _PROBES not in config.stash:
        config.stash[_PROBES] = memory.Probes()
    return config.stash[_PROBES]


_PASSES = pytest.StashKey()


def _passes(config) -> Passes:
    """The session's later passes (bench.suite.passes), made on first use."""
    if _PASSES not in config.stash:
        config.stash[_PASSES] = Passes(config.getoption("--bench-passes"))
    return config.stash[_PASSES]


def _gate_threshold(node) -> float | None:
    marker = node.get_closest_marker("gate_threshold")
    if marker is None:
        return None
    if len(marker.args) != 1 or marker.kwargs:
        raise pytest.UsageError(
            f"{node.nodeid}: gate_threshold takes one fraction, e.g. "
            f"@pytest.mark.gate_threshold(0.10); got {marker.args} {marker.kwargs}")
    return float(marker.args[0])


@pytest.fixture
def timed(benchmark, request, bench_device):
    """timed(target, reference, workload) -> target's result.

    Times target in pairs with reference (a cases.Reference) on the benchmark's
    own timer, for --benchmark-max-time, and records the workload, the
    environment and the reference's name and samples in extra_info.
    """
    import torch

    from matmul import openmp

    from . import timing

    config = request.config
    clock = load_timer(config.getoption("benchmark_timer")).target
    threshold = _gate_threshold(request.node)
    sync = timing.synchronizer(bench_device)  # CUDA work is asynchronous

    def run(target, reference: cases.Reference, workload: Workload):
        target = timing.synchronized(target, sync)
        fraction = timing.slowdowns().get(workload.kernel, 0.0)
        if fraction and benchmark.enabled:
            target = timing.slowed(target, fraction, clock)
        passes = _passes(config)
        # The alternatives first, the reference right before the target.
        calls = [timing.synchronized(r.call, sync) for r in (*reference.alternatives, reference)]
        result, reference_samples, dropped, per_pass = timing.paired(
            benchmark, target, calls, clock=clock,
            max_time=getattr(config, "bench_max_times", {}).get(
                request.node.nodeid, float(config.getoption("benchmark_max_time"))),
            min_rounds=int(config.getoption("benchmark_min_rounds")), passes=passes.passes)
        environment = Environment(torch=torch.__version__, threads=torch.get_num_threads(),
                                  device=str(bench_device), slowdown=fraction,
                                  pinned_cpu=pinning.pinned_cpu(),
                                  openmp_runtimes=len(openmp.runtimes()),
                                  layout_fixed=layout_fixed())
        state = {"reference": reference_samples, "dropped": dropped}

        def record() -> None:
            times = state["reference"]
            alternatives = (None if times is None else
                            {r.name: t for r, t in zip(reference.alternatives, times[:-1], strict=True)})
            benchmark.extra_info.update(runs.extra_info(
                workload, environment, reference.name, None if times is None else times[-1],
                state["dropped"], alternatives=alternatives))
            if benchmark.enabled:
                median = benchmark.stats.stats.median
                rates = (workload.flops / median / 1e9, workload.bytes / median / 1e9)
                benchmark.extra_info.update(zip(runs.RATES, rates))

        def more(rounds: int) -> None:
            kept, dropped = timing.more_rounds(benchmark.stats.stats, target, calls,
                                               state["reference"], rounds, clock)
            state["reference"], state["dropped"] = kept, state["dropped"] + dropped

        record()
        if threshold is not None:
            benchmark.extra_info[runs.GATE_THRESHOLD] = threshold
        if benchmark.enabled:
            passes.add(Pending(per_pass, more, record))
            _probe_memory(config, benchmark, target, workload, bench_device)
        return result

    return run


def _probe_memory(config, benchmark, target, workload: Workload, device) -> None:
    """Queue one untimed call of target for the memory phase at the session's end."""
    from dataclasses import asdict

    import matmul

    from . import memory

    if not memory.available(device) or config.getoption(MEMORY_OPTION) == "off":
        return  # no memray and no CUDA, or not asked: no memory recorded
    kernel = matmul.KERNELS.get(workload.kernel)

    def store(measured) -> None:
        benchmark.extra_info[runs.MEMORY] = asdict(measured)

    # A kernel with Python-level loops allocates on every step: a tracker of its own.
    _memory_probes(config).add(memory.Probe(target, store, device,
                                            own_tracker=bool(kernel and kernel.python_dims)))
