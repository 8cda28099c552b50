"""Every contract holds under `python -O`, which strips asserts: one child
process checks the kernels' shape contract, lin's and the MNIST checksum."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from data import MNIST_FILES

ROOT = Path(__file__).resolve().parents[1]
TEST_LABELS = list(MNIST_FILES)[-1]

CHILD = """
import json, sys, torch, data, forward, matmul
report = {"debug": __debug__, "kernels": {}}
for name, kernel in matmul.KERNELS.items():
    try:
        kernel(torch.ones(2, 2), torch.ones(3, 2))
        report["kernels"][name] = "accepted"
    except AssertionError as error:
        report["kernels"][name] = str(error)
try:
    forward.lin(torch.ones(3, 5), torch.ones(4, 2), torch.ones(2))
    report["lin"] = "accepted"
except AssertionError as error:
    report["lin"] = str(error)
try:
    data.load_mnist(sys.argv[1])
    report["mnist"] = "accepted"
except data.MnistChecksumError as error:
    report["mnist"] = str(error)
print(json.dumps(report))
"""


def test_contracts_hold_under_python_O(mnist_dir, tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    for name in MNIST_FILES:
        (folder / name).symlink_to(mnist_dir / name)
    (folder / TEST_LABELS).unlink()
    (folder / TEST_LABELS).write_bytes(b"junk")
    env = {k: v for k, v in os.environ.items() if k != "MNIST_DIR"}
    done = subprocess.run(  # `-c` puts the working directory (the repo) on sys.path
        [sys.executable, "-O", "-c", CHILD, str(folder)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["debug"] is False, "the child did not run under -O"
    assert report["kernels"], "no kernel registered in the child"
    for name, message in report["kernels"].items():
        assert "(2, 2)" in message and "(3, 2)" in message, f"{name}: {message}"
    assert "x (3, 5)" in report["lin"] and "w (4, 2)" in report["lin"], report["lin"]
    assert TEST_LABELS in report["mnist"] and "SHA256 mismatch" in report["mnist"], report["mnist"]
