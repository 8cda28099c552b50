"""A noisy neighbour: a process streaming through a large array on one core,
as another job on a shared machine would. Bounded: it stops by itself after
`seconds`, and `stop()` ends it at once."""
from __future__ import annotations

import os
import subprocess
import sys

STREAM = """
import os, sys, time
import numpy as np
if hasattr(os, "sched_setaffinity"):
    os.sched_setaffinity(0, {int(sys.argv[1])})
array = np.ones(int(sys.argv[2]) // 8)
end = time.monotonic() + float(sys.argv[3])
while time.monotonic() < end:
    array.sum()
"""


class Neighbour:
    def __init__(self, seconds: float, megabytes: int = 256):
        cores = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else [0]
        self.process = subprocess.Popen(
            [sys.executable, "-c", STREAM, str(cores[-1]), str(megabytes * 2**20), str(seconds)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
        self.process.wait(timeout=30)

    def __enter__(self) -> Neighbour:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()
