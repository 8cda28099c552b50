"""Recording for the study: trees (the code as it is, an identical copy, and
each patch), then groups of fresh gate-ready processes, one per tree, in a
random order, half of the groups beside a noisy neighbour."""
from __future__ import annotations

import json
import random
import time
from pathlib import Path

from bench import compile_cache
from bench.suite.mnist import local_mnist_dir
from bench.tree import Tree, measure, side_env, snapshot

from .neighbour import Neighbour
from .patches import PATCHES

BASE, SAME = "base", "same"


def prepare_trees(root: Path, folder: Path) -> dict[str, Tree]:
    """base and same: two copies of the working tree; one more per patch. Each in
    a folder named by its index: paths of one length, so that with the layout
    fixed (bench.suite.command.with_fixed_layout) no tree's processes differ
    in memory by the length of its name."""
    mnist_dir = local_mnist_dir()
    trees = {}
    for index, name in enumerate((BASE, SAME, *(p.name for p in PATCHES))):
        path = folder / f"tree-{index:02d}"
        if not path.exists():
            snapshot(root, path)
            for patch in PATCHES:
                if patch.name == name:
                    patch.apply(path)
            compile_cache.carry_said(root, path, name)
        trees[name] = Tree(path, side_env(path, mnist_dir, keep_slowdown=False))
    return trees


def record(out: Path, trees: dict[str, Tree], names: list[str], groups: int, *,
           subset: str, max_time: float, seed: int, noisy_share: float) -> None:
    """`groups` groups of one process per tree in `names` (random order) into
    out/<tree>/group-NNN.json; out/groups.json lists order, neighbour and times."""
    noisy = [i < round(groups * noisy_share) for i in range(groups)]
    random.Random(seed).shuffle(noisy)
    log_path = out / "groups.json"
    log = json.loads(log_path.read_text()) if log_path.is_file() else []
    start = time.perf_counter()
    for index in range(len(log), groups):
        order = random.Random(f"{seed}-{index}").sample(names, len(names))  # resumable
        seconds = {}
        neighbour = Neighbour(seconds=3600) if noisy[index] else None
        try:
            for name in order:
                began = time.perf_counter()
                measure(trees[name], out / name / f"group-{index:03d}.json", [], subset, max_time)
                seconds[name] = round(time.perf_counter() - began, 2)
        finally:
            if neighbour is not None:
                neighbour.stop()
        log.append({"group": index, "noisy": noisy[index], "order": order, "seconds": seconds})
        log_path.write_text(json.dumps(log, indent=1))
        print(f"[{time.perf_counter() - start:6.0f} s] {out.name} group {index + 1}/{groups}"
              f"{' (noisy neighbour)' if noisy[index] else ''}", flush=True)
