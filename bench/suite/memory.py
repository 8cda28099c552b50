"""What one call allocates: its peak bytes and its allocator calls (bench.runs.Memory).

memray's Tracker sees every allocation made while it is active, in every
thread: Python's own allocator (traced object by object, so that the peak
does not jump by a whole pymalloc arena when one happens to be needed),
malloc from torch's CPU allocator, numpy's and numba's. The peak counts what
was allocated during the call and still live at its highest point: the
call's output is in it, its operands are not. On CUDA torch's caching
allocator gives the device's peak (reset before the call).

A tracker's start and stop each patch the allocator symbols of every loaded
library, which with torch loaded takes far longer than most benchmarked
calls (README, "Memory"). So the suite measures memory once per benchmark
after all timing is done (`Probes.measure`, at the end of the session, never
inside a timed round), with one tracker around every call that allocates
little, and `replay` splits that capture at marker allocations made between
the calls. A call that allocates on every step of a Python loop writes
millions of records that would take longer to read back than a tracker of
its own costs: it gets one (`own_tracker`), whose peak memray computes.

memray is the optional extra `memory`; without it no host memory is
recorded (`MEMRAY_MISSING` says why) and the suite runs as before.
"""
from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from bench.runs import Memory
from matmul.optional import import_extra

(memray,), MEMRAY_MISSING = import_extra("memory", "memray")  # missing or broken: None, why

# A marker is a numpy allocation of MARKER_BYTES + its index bytes, made just
# before a call (even index) and just after it (odd): matched by address and
# size in the capture, it cannot be mistaken for the call's own allocations.
MARKER_BYTES = 1 << 20


def _kinds(*names: str) -> frozenset[int]:
    return frozenset(int(getattr(memray.AllocatorType, n)) for n in names) if memray else frozenset()


_FREES = _kinds("FREE", "PYMALLOC_FREE")  # a reallocation is recorded as a free, then a new block
_UNMAPS = _kinds("MUNMAP")


def tracker(path: Path):
    """memray's tracker as the suite uses it: Python's allocator traced too."""
    return memray.Tracker(path, trace_python_allocators=True,
                          file_format=memray.FileFormat.ALL_ALLOCATIONS)


def output_bytes(result: object) -> int | None:
    """The size of a call's result: a tensor, or a tuple or list of them."""
    if isinstance(result, torch.Tensor):
        return result.numel() * result.element_size()
    if isinstance(result, (tuple, list)) and result and all(
            isinstance(r, torch.Tensor) for r in result):
        return sum(r.numel() * r.element_size() for r in result)
    return None


@dataclass
class _Device:
    """The device peak of one call on CUDA (torch's allocator statistics)."""

    device: torch.device
    before: int = 0

    def start(self) -> None:
        torch.cuda.synchronize(self.device)
        torch.cuda.reset_peak_memory_stats(self.device)
        self.before = torch.cuda.memory_allocated(self.device)

    def stop(self) -> int:
        torch.cuda.synchronize(self.device)
        return max(0, torch.cuda.max_memory_allocated(self.device) - self.before)


def _device(device: torch.device | str) -> _Device | None:
    device = torch.device(device)
    return _Device(device) if device.type == "cuda" and torch.cuda.is_available() else None


@dataclass
class Probe:
    """One benchmark's call to measure, and where its Memory goes."""

    call: Callable[[], object]
    store: Callable[[Memory], None]
    device: torch.device | str = "cpu"
    own_tracker: bool = False


def measure_alone(call: Callable[[], object], device: torch.device | str = "cpu") -> Memory:
    """One call under a tracker of its own: memray's peak and allocator calls."""
    gpu = _device(device)
    if memray is None:
        if gpu is None:
            raise ImportError(MEMRAY_MISSING)
        gpu.start()
        result = call()
        return Memory(None, None, output_bytes(result), gpu.stop())
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        path = Path(folder) / "call.bin"
        if gpu:
            gpu.start()
        with tracker(path):
            result = call()
        device_peak = gpu.stop() if gpu else None
        size = output_bytes(result)
        del result
        with memray.FileReader(path) as reader:
            return Memory(int(reader.metadata.peak_memory),
                          int(reader.metadata.total_allocations), size, device_peak)


def replay(records: Iterable, markers: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """(peak bytes, allocator calls) of each call between marker pairs.

    `markers` holds (address, size) of the markers in the order they were made:
    for call i, markers 2i (before) and 2i + 1 (after). Within a call, only
    blocks it allocated count (frees of older blocks are ignored, as memray
    does at a tracker's start); a reallocation is its free plus a new block.
    """
    results: list[tuple[int, int]] = []
    expected = iter(markers)
    start, end = next(expected, None), None
    inside = False
    live: dict[int, int] = {}
    current = peak = calls = 0
    for record in records:
        key = (record.address, record.size)
        if not inside:
            if key == start and record.allocator not in _FREES:
                inside, end = True, next(expected)
                live, current, peak, calls = {}, 0, 0, 0
            continue
        if key == end and record.allocator not in _FREES:
            results.append((peak, calls))
            inside, start = False, next(expected, None)
            continue
        calls += 1
        if record.allocator in _FREES:
            current -= live.pop(record.address, 0)
        elif record.allocator in _UNMAPS:
            size = live.pop(record.address, 0)
            current -= min(size, record.size)
            if size > record.size:  # part of a mapping unmapped: the rest stays
                live[record.address + record.size] = size - record.size
        else:
            current += record.size - live.get(record.address, 0)
            live[record.address] = record.size
            peak = max(peak, current)
    if len(results) != len(markers) // 2:
        raise RuntimeError(f"memory capture: found {len(results)} of {len(markers) // 2} "
                           "calls between their markers")
    return results


def measure_together(calls: list[Callable[[], object]], device: torch.device | str = "cpu"
                     ) -> list[Memory]:
    """Each call once, all under one tracker, in order; a Memory each."""
    if not calls:
        return []
    if memray is None:
        return [measure_alone(call, device) for call in calls]
    gpu = _device(device)
    markers: list[tuple[int, int]] = []
    sizes: list[int | None] = []
    device_peaks: list[int | None] = []

    def mark() -> None:
        marker = np.empty(MARKER_BYTES + len(markers), np.uint8)
        markers.append((marker.ctypes.data, marker.nbytes))

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as folder:
        path = Path(folder) / "calls.bin"
        with tracker(path):
            for call in calls:
                if gpu:
                    gpu.start()
                mark()
                result = call()
                mark()
                device_peaks.append(gpu.stop() if gpu else None)
                sizes.append(output_bytes(result))
                del result
        with memray.FileReader(path) as reader:
            found = replay(reader.get_allocation_records(), markers)
    return [Memory(peak, count, size, device_peak)
            for (peak, count), size, device_peak in zip(found, sizes, device_peaks)]


class Probes:
    """The session's probes, measured together after every benchmark was timed."""

    def __init__(self) -> None:
        self.pending: list[Probe] = []

    def add(self, probe: Probe) -> None:
        self.pending.append(probe)

    def measure(self) -> None:
        probes, self.pending = self.pending, []
        shared = [p for p in probes if not p.own_tracker]
        by_device: dict[str, list[Probe]] = {}
        for probe in shared:
            by_device.setdefault(str(probe.device), []).append(probe)
        for device, group in by_device.items():
            for probe, memory in zip(group, measure_together([p.call for p in group], device)):
                probe.store(memory)
        for probe in probes:
            if probe.own_tracker:
                probe.store(measure_alone(probe.call, probe.device))


def available(device: torch.device | str = "cpu") -> bool:
    """Whether memory can be measured here: memray, or a CUDA device's own statistics."""
    return memray is not None or _device(device) is not None
