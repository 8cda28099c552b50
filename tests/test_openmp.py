"""One OpenMP runtime for torch and numba (matmul.openmp), seen in child
processes: the order of the imports is the whole point."""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from matmul import compiled

pytestmark = pytest.mark.spawns

ROOT = Path(__file__).resolve().parents[1]

# Runs a torch parallel region and a numba one, then reports what is loaded.
CHILD = """
import json
{imports}
from matmul import compiled, openmp
torch.set_num_threads(2)
compiled.numba.set_num_threads(2)
torch.ones(256, 256) @ torch.ones(256, 256)
compiled.simd.blocked(*([compiled.np.ones((64, 64), compiled.np.float32)] * 3),
                      *compiled._block_shape())
print(json.dumps({{"failure": openmp.LOAD_FAILURE, "runtimes": openmp.runtimes(),
                  "layer": compiled.numba.threading_layer()}}))
"""


def child(imports: str) -> dict:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(CHILD.format(imports=imports))],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


needs_openmp_numba = pytest.mark.skipif(
    compiled.numba is None or not sys.platform.startswith("linux"),
    reason=compiled.NUMBA_MISSING or "the loaded runtimes are read from /proc/self/maps (Linux)")


@needs_openmp_numba
def test_matmul_first_gives_torch_and_numba_one_runtime():
    report = child("import matmul\nimport torch")
    if report["layer"] != "omp":
        pytest.skip(f"numba runs on its {report['layer']} layer here: {report['failure']}")
    assert report["failure"] is None
    assert len(report["runtimes"]) == 1, report["runtimes"]


@needs_openmp_numba
def test_torch_first_is_said():
    report = child("import torch\nimport matmul")
    assert report["failure"] == ("torch was imported before matmul: torch and numba keep an "
                                 "OpenMP runtime each")
    assert report["runtimes"], "a runtime was loaded and used"

