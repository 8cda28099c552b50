"""numba's compiled kernels carried from the checkout into a gate tree whose
kernel package is the same, so that each side's first process loads them
instead of compiling them (about 20 s a side for the gate's default subset,
on the 2-core Zen 3 VM of round 3's stop 43).

numba keeps each cached function beside its source (`matmul/__pycache__`,
`.nbi` index and `.nbc` data files) and, on loading, checks numba's version,
the CPU and the source file's content hash; an entry that does not match is
compiled anew. It does not check the modules a function uses (simd's kernels
use prepared.LINE_BYTES, for one), so the cache is carried only when every
source file of the package is byte for byte the same in both trees. A tree
whose kernels differ compiles its own, as it always did.
"""
from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Mapping
from pathlib import Path

PACKAGE = "matmul"
# Data files first: an index names its data files, so none is read before it is whole.
SUFFIXES = (".nbc", ".nbi")


def carry(root: Path, tree: Path, package: str = PACKAGE,
          env: Mapping[str, str] = os.environ) -> int:
    """Copies root's numba cache of `package` into tree's, where every source
    file of the package is the same in both: the number of files copied (0
    where it is not carried). With NUMBA_CACHE_DIR set, numba keeps its cache
    elsewhere, in folders named by each source's path, so nothing is carried."""
    if env.get("NUMBA_CACHE_DIR"):
        return 0
    source, target = root / package, tree / package
    if not (source / "__init__.py").is_file() or _sources(source) != _sources(target):
        return 0
    cache = source / "__pycache__"
    entries = [p for suffix in SUFFIXES for p in sorted(cache.glob(f"*{suffix}"))]
    if not entries:
        return 0
    (target / "__pycache__").mkdir(exist_ok=True)
    for entry in entries:
        destination = target / "__pycache__" / entry.name
        partial = destination.with_name(f".{entry.name}.partial")
        shutil.copyfile(entry, partial)
        os.replace(partial, destination)  # whole or not at all
    return len(entries)


def _sources(folder: Path) -> dict[str, bytes]:
    """Each source file's name and content hash."""
    return {p.name: hashlib.sha256(p.read_bytes()).digest() for p in sorted(folder.glob("*.py"))}


def carry_said(root: Path, tree: Path, name: str, package: str = PACKAGE,
               env: Mapping[str, str] = os.environ, origin: str = "the checkout") -> int:
    """carry, said in one line for the tree called `name` (root called
    `origin`); a failure to copy costs only the compile it would have saved."""
    try:
        copied = carry(root, tree, package, env)
    except OSError as exc:
        print(f"{name}: numba's cache not carried from {origin} ({exc}); "
              "its first process compiles the kernels", flush=True)
        return 0
    if copied:
        print(f"{name}: numba's compiled kernels carried from {origin} ({copied} files)",
              flush=True)
    return copied
