"""One OpenMP runtime for torch and numba in a process, when it can be had.

torch's wheel carries its own libgomp, and numba's OpenMP threading layer
links against the system's: loaded side by side they are two runtimes, each
with its own pool of worker threads on the same cores. After a torch call
torch's workers spin or sleep apart from numba's, so a numba kernel after a
torch call finds a core taken by a spinning thread, or a torch call after a
numba kernel has to wake workers that went to sleep. Waking a sleeping
virtual CPU is slow (on the 2-vCPU KVM machine of README, 100 µs and more).

Loaded before torch, numba's libgomp serves torch too: the dynamic loader
resolves torch's `libgomp.so.1` to the library already loaded under that
soname. torch needs only its oldest symbols (GOMP_1.0, GOMP_4.0, OMP_1.0),
which every libgomp has. `matmul` calls `load_before_torch()` before it
imports torch; a process that imported torch first keeps two runtimes and
`runtimes()` shows it.
"""
from __future__ import annotations

import importlib
import os
import sys

# The extension module of numba's OpenMP layer: importing it loads its libgomp
# and starts no thread.
NUMBA_OPENMP = "numba.np.ufunc.omppool"


def load_before_torch() -> str | None:
    """Load numba's OpenMP runtime if torch is not loaded yet; None when it was
    loaded (or already was), else why not."""
    if NUMBA_OPENMP in sys.modules:
        return None
    if "torch" in sys.modules:
        return "torch was imported before matmul: torch and numba keep an OpenMP runtime each"
    layer = os.environ.get("NUMBA_THREADING_LAYER", "")
    if layer in ("tbb", "workqueue"):
        return f"NUMBA_THREADING_LAYER={layer}: numba's threads are not OpenMP's"
    try:
        importlib.import_module(NUMBA_OPENMP)
    except (ImportError, OSError) as error:  # no numba, or numba without its OpenMP layer
        return f"numba's OpenMP layer did not load ({error})"
    return None


def runtimes() -> list[str]:
    """The OpenMP runtime libraries mapped into this process (Linux; [] elsewhere)."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split(None, 5)[-1].strip() for line in maps if "omp" in line}
    except OSError:
        return []
    names = ("libgomp", "libiomp", "libomp")
    return sorted(p for p in paths if os.path.basename(p).startswith(names))


LOAD_FAILURE = load_before_torch()
