"""Finding saved runs the way pytest-benchmark names them.

`--benchmark-autosave` saves run N as `<storage>/<machine id>/NNNN_<commit>_<time>.json`
(storage `.benchmarks` by default, machine id e.g. `Linux-CPython-3.11-64bit`).
A run may be named by that id (`0001`, `0001_` or the whole stem), by a file,
or, for several runs (one per process), by a folder holding them.
"""
from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from . import runs
from .runs import Run, RunError

DEFAULT_STORAGE = Path(".benchmarks")


def _machine_id() -> str:
    """pytest-benchmark's name for this machine's folder in a storage."""
    from pytest_benchmark.utils import get_machine_id  # here: --help needs no extra

    return get_machine_id()


def storage_path(storage: str | Path = DEFAULT_STORAGE) -> Path:
    """A folder from pytest-benchmark's --benchmark-storage value (file:// or a path)."""
    text = str(storage)
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme != "file":
            raise RunError(f"storage {text!r}: only file:// storage holds saved runs here")
        text = rest
    return Path(text)


def saved_runs(storage: str | Path = DEFAULT_STORAGE) -> list[Path]:
    """Every run saved under storage for this machine id, oldest first (by number)."""
    folder = storage_path(storage) / _machine_id()
    return sorted(folder.glob("[0-9][0-9][0-9][0-9]_*.json"))


def resolve(spec: str | Path, storage: str | Path = DEFAULT_STORAGE) -> list[Path]:
    """The run files `spec` names: a file, a folder of runs, or a saved run's id.

    Raises RunError saying where it looked when nothing (or more than one run
    for one id) matches.
    """
    path = Path(spec)
    if path.is_file():
        return [path]
    if path.is_dir():
        found = sorted(p for p in path.glob("*.json") if p.is_file())
        if not found:
            raise RunError(f"{path}: a folder with no saved runs (*.json) in it")
        return found
    text = str(spec)
    if "/" in text or text.endswith(".json"):
        raise RunError(f"{path}: no such file or folder")
    root = storage_path(storage)
    stem = text.rstrip("_*")
    pattern = f"{stem}_*.json" if stem.isdigit() else f"{stem}*.json"
    mine = sorted((root / _machine_id()).glob(pattern))
    found = mine or sorted(root.glob(f"*/{pattern}"))
    if not found:
        raise RunError(f"no saved run {text!r} under {root}/ (looked for {pattern} in "
                       f"{root / _machine_id()} and the other machines' folders); "
                       "save one with pytest --benchmark-autosave")
    if len(found) > 1:
        listing = ", ".join(str(p) for p in found)
        raise RunError(f"saved run {text!r} is ambiguous under {root}/: {listing}")
    return found


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def usable(paths: Iterable[Path], warning: Callable[[str], None] = warn) -> list[Run]:
    """The runs among paths found in storage that are whole: an empty, truncated or
    otherwise unreadable file, or a partial run (bench.runs.PARTIAL), is skipped
    with a warning naming it and the fault. Runs named explicitly go through
    runs.load instead, where such faults are errors."""
    found = []
    for path in paths:
        try:
            run = runs.load(path)
        except RunError as exc:
            warning(f"skipping {exc}")
            continue
        if run.partial:
            warning(f"skipping {path}: {partial_note(run)}")
            continue
        found.append(run)
    return found


def partial_note(run: Run) -> str:
    return (f"a partial run: {len(run.missing)} benchmark(s) its suite selected are missing "
            f"({run.partial_reason or 'not finished'})")


def guard_stock_listing() -> None:
    """`pytest-benchmark list` and `compare` (which import the root conftest.py)
    skip, with a warning, the saved runs that do not load whole, as our tools do:
    stock, an empty file from an interrupted save breaks every later compare."""
    from pytest_benchmark.storage.file import FileStorage

    stock = FileStorage.query
    if getattr(stock, "guarded", False):
        return

    def query(self, *globs_or_files):
        named = {Path(g).resolve() for g in globs_or_files if Path(g).is_file()}
        files = stock(self, *globs_or_files)
        whole = {run.source.resolve() for run in usable(
            [f for f in files if f.resolve() not in named])}
        return [f for f in files if f.resolve() in named or f.resolve() in whole]

    query.guarded = True
    FileStorage.query = query
