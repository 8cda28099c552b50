"""Pin a gate-ready run to one CPU, the one it starts on.

A gate-ready run computes on one thread, but the scheduler is free to move it
from core to core (and, under numba's workqueue layer, which hands a parallel
kernel's work to a worker thread even with one thread, that worker too). Each move leaves the kernel's weights and
inputs in the other core's L1 and L2, and how often it happens is a property
of the process and of what else the machine runs: that, measured, is most of
the spread between processes of the cache-resident kernels (README,
"Regression gate"). Pinned, every round of a process runs on one core with
its caches warm.

The CPU chosen is the one the process is running on when the suite starts:
the scheduler has just placed it there as the least busy one, so a noisy
neighbour on another core stays there (unpinned, it is the neighbour that
moves). `--bench-pin-cpu N` chooses a CPU, `none` leaves placement alone.
"""
from __future__ import annotations

import os
from pathlib import Path

AUTO, NONE = "auto", "none"
_pinned: int | None = None  # what pin() bound this process to


def parse(value: str) -> str | int:
    """The option's value: AUTO, NONE or a CPU number (argparse type)."""
    if value in (AUTO, NONE):
        return value
    try:
        cpu = int(value)
    except ValueError:
        raise ValueError(f"--bench-pin-cpu: expected {AUTO}, {NONE} or a CPU number, got {value!r}") from None
    if cpu < 0:
        raise ValueError(f"--bench-pin-cpu: a CPU number is >= 0, got {cpu}")
    return cpu


def current_cpu() -> int | None:
    """The CPU this thread runs on now (field 39 of /proc/thread-self/stat), None where unknown."""
    try:
        stat = Path("/proc/thread-self/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may hold spaces.
    fields = stat[stat.rindex(")") + 2:].split()
    try:
        return int(fields[36])  # field 39 of the whole line
    except (IndexError, ValueError):
        return None


def pin(choice: str | int) -> int | None:
    """Bind every thread of this process to one CPU (see the module doc); returns
    that CPU, or None when nothing was pinned (NONE, or no affinity API here)."""
    if choice == NONE or not hasattr(os, "sched_setaffinity"):
        return None
    allowed = os.sched_getaffinity(0)
    cpu = current_cpu() if choice == AUTO else choice
    if cpu is None or cpu not in allowed:
        if choice != AUTO:
            raise ValueError(f"--bench-pin-cpu {choice}: this process may run on CPUs "
                             f"{sorted(allowed)} only")
        cpu = min(allowed)
    # sched_setaffinity binds one thread; threads started later inherit it.
    for task in _threads():
        try:
            os.sched_setaffinity(task, {cpu})
        except OSError:  # a thread that ended meanwhile
            pass
    global _pinned
    _pinned = cpu
    return cpu


def pinned_cpu() -> int | None:
    """The CPU pin() bound this process to; None when it did not."""
    return _pinned


def _threads() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/task")]
    except OSError:
        return [0]
