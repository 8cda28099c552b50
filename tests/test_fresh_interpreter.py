"""What only a fresh interpreter shows, in one child process: `python -O`
(which strips asserts) with the optional extras numba and triton blocked.

- every contract still holds: the kernels' shape contract, lin's, the MNIST
  checksum, each error naming what was wrong;
- without numba or triton the rest registers, their kernels are listed as
  unavailable with the reason, and calling or looking one up says it.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import matmul
from data import MNIST_FILES
from matmul import compiled, triton_kernels

pytestmark = pytest.mark.spawns

ROOT = Path(__file__).resolve().parents[1]
TEST_LABELS = list(MNIST_FILES)[-1]
MISSING = {
    "numba": "numba is not installed: pip install 'matmul-bench[numba]'",
    "triton": "triton is not installed: pip install 'matmul-bench[triton]'",
}
# The kernels each optional module provides, as this interpreter registered them.
PROVIDED = {extra: sorted(n for n, k in {**matmul.KERNELS}.items() if k.fn.__module__ == module)
            + sorted(n for n, r in matmul.UNAVAILABLE.items() if extra in r)
            for extra, module in (("numba", compiled.__name__),
                                  ("triton", triton_kernels.__name__))}

CHILD = """
import json, sys
sys.modules["numba"] = sys.modules["triton"] = None  # an import of either now fails
import torch, data, forward, matmul
from matmul import compiled, triton_kernels
report = {"debug": __debug__, "kernels": {}, "unavailable": dict(matmul.UNAVAILABLE)}
for name, kernel in matmul.KERNELS.items():
    try:
        kernel(torch.ones(2, 2), torch.ones(3, 2))
        report["kernels"][name] = "accepted"
    except AssertionError as error:
        report["kernels"][name] = str(error)
def error_of(call):
    try:
        call()
    except Exception as error:
        return str(error.args[0])
    return "no error"
report["calls"] = {
    "numba_tuned": error_of(lambda: compiled.numba_tuned(torch.ones(1, 1), torch.ones(1, 1))),
    "fused_forward": error_of(lambda: compiled.fused_forward(torch.ones(1, 1), ())),
    "triton_skinny": error_of(lambda: triton_kernels.triton_skinny(torch.ones(1, 1), torch.ones(1, 1))),
}
report["lookups"] = {name: error_of(lambda: matmul.get_kernel(name))
                     for name in ("numba_tuned", "triton_tiled")}
report["lin"] = error_of(lambda: forward.lin(torch.ones(3, 5), torch.ones(4, 2), torch.ones(2)))
report["mnist"] = error_of(lambda: data.load_mnist(sys.argv[1]))
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def report(mnist_dir, tmp_path_factory):
    folder = tmp_path_factory.mktemp("mnist")
    for name in MNIST_FILES:
        (folder / name).symlink_to(mnist_dir / name)
    (folder / TEST_LABELS).unlink()
    (folder / TEST_LABELS).write_bytes(b"junk")
    # Bytecode may be written: optimized (-O) bytecode is cached apart from the
    # usual one, and without it every run recompiles torch's modules.
    env = {k: v for k, v in os.environ.items()
           if k not in ("MNIST_DIR", "PYTHONDONTWRITEBYTECODE")}
    done = subprocess.run(  # `-c` puts the working directory (the repo) on sys.path
        [sys.executable, "-O", "-c", CHILD, str(folder)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_contracts_hold_under_python_O(report):
    assert report["debug"] is False, "the child did not run under -O"
    assert report["kernels"], "no kernel registered in the child"
    for name, message in report["kernels"].items():
        assert "(2, 2)" in message and "(3, 2)" in message, f"{name}: {message}"
    assert "x (3, 5)" in report["lin"] and "w (4, 2)" in report["lin"], report["lin"]
    assert TEST_LABELS in report["mnist"] and "SHA256 mismatch" in report["mnist"], report["mnist"]


@pytest.mark.parametrize("extra", sorted(MISSING))
def test_without_an_optional_extra_its_kernels_are_listed_as_unavailable(report, extra):
    reason = MISSING[extra]
    names = PROVIDED[extra]
    assert names, f"no kernel comes from {extra}"
    assert {n: report["unavailable"].get(n) for n in names} == dict.fromkeys(names, reason)
    assert not set(names) & set(report["kernels"])
    # The rest registers: every kernel of this interpreter not from a blocked extra.
    others = set(matmul.KERNELS) - set(PROVIDED["numba"]) - set(PROVIDED["triton"])
    assert others <= set(report["kernels"])
    calls = {k: v for k, v in {**report["calls"], **report["lookups"]}.items()
             if k.startswith(extra) or (extra == "numba" and k == "fused_forward")}
    assert calls and all(reason in message for message in calls.values()), calls
