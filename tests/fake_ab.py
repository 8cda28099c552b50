"""`python tests/fake_ab.py ARGS...`: python -m bench ab with synthetic benchmark
processes (a short sleep, then a synthetic run whose einsum speed is the tree's
speed.txt), for tests that signal a real bench ab process."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench.gate import ab  # noqa: E402
from synthetic_runs import make_run  # noqa: E402

SUITE = {"einsum-rows500": 360e-6, "broadcast-rows5": 40e-6}


def measure(tree, out, targets, subset, max_time, max_times=None, memory=True):
    time.sleep(float(os.environ.get("FAKE_PROCESS_SECONDS", "0.2")))
    side = out.parent.name
    seed = 2 * int(out.stem.split("-")[1]) + (side == "candidate")  # the same on a rerun
    names = [t.rpartition("[")[2].rstrip("]") for t in targets] or list(SUITE)
    document = make_run({n: SUITE[n] for n in names}, seed=seed,
                        factors={"einsum-rows500": float((tree.path / "speed.txt").read_text())})
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(document))
    return out


if __name__ == "__main__":
    ab.measure = measure
    sys.exit(ab.main(sys.argv[1:]))
