"""bench.compile_cache: numba's cache carried into a gate tree only where the
kernel package is the same, and loaded there by numba itself."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench import compile_cache
from matmul import compiled

needs_numba = pytest.mark.skipif(compiled.NUMBA_MISSING is not None,
                                 reason=str(compiled.NUMBA_MISSING))

# A package of two modules: the cached function uses the other module's constant,
# which numba's own source check does not see.
SOURCES = {
    "__init__.py": "",
    "constants.py": "SCALE = 3.0\n",
    "kernels.py": ("import numba\nfrom .constants import SCALE\n\n"
                   "@numba.njit(cache=True)\ndef scaled(x):\n    return x * SCALE\n"),
}


def _package(root: Path, **changed: str) -> Path:
    folder = root / "pkg"
    folder.mkdir(parents=True)
    for name, text in {**SOURCES, **changed}.items():
        (folder / name).write_text(text)
    return root


def _cache(root: Path, names=("kernels.scaled-5.py311.nbi", "kernels.scaled-5.py311.1.nbc")) -> None:
    (root / "pkg" / "__pycache__").mkdir()
    for name in names:
        (root / "pkg" / "__pycache__" / name).write_bytes(b"entry " + name.encode())


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}


def test_the_cache_is_carried_where_every_source_is_the_same(tmp_path):
    root, tree = _package(tmp_path / "root"), _package(tmp_path / "tree")
    _cache(root)
    assert compile_cache.carry(root, tree, "pkg", _env()) == 2
    copied = sorted(p.name for p in (tree / "pkg" / "__pycache__").iterdir())
    assert copied == ["kernels.scaled-5.py311.1.nbc", "kernels.scaled-5.py311.nbi"]  # no partial left
    assert (tree / "pkg" / "__pycache__" / copied[1]).read_bytes() == b"entry " + copied[1].encode()


@pytest.mark.parametrize("changed", [{"constants.py": "SCALE = 4.0\n"}, {"extra.py": "X = 1\n"}])
def test_nothing_is_carried_where_any_source_differs(tmp_path, changed):
    # constants.py differs: the cached kernels.scaled would keep the root's SCALE
    root, tree = _package(tmp_path / "root"), _package(tmp_path / "tree", **changed)
    _cache(root)
    assert compile_cache.carry(root, tree, "pkg", _env()) == 0
    assert not (tree / "pkg" / "__pycache__").exists()


def test_nothing_is_carried_with_a_cache_dir_elsewhere_or_no_cache(tmp_path):
    root, tree = _package(tmp_path / "root"), _package(tmp_path / "tree")
    assert compile_cache.carry(root, tree, "pkg", _env()) == 0  # no cache to carry
    _cache(root)
    assert compile_cache.carry(root, tree, "pkg", {**_env(), "NUMBA_CACHE_DIR": str(tmp_path)}) == 0
    assert compile_cache.carry(tmp_path / "none", tree, "pkg", _env()) == 0


def test_a_tree_that_cannot_take_the_cache_says_so_in_one_line(tmp_path, capsys):
    root, tree = _package(tmp_path / "root"), _package(tmp_path / "tree")
    _cache(root)
    (tree / "pkg" / "__pycache__").write_text("a file where the folder would go")
    assert compile_cache.carry_said(root, tree, "base", "pkg", _env()) == 0
    said = capsys.readouterr().out.strip().splitlines()
    assert len(said) == 1 and said[0].startswith("base: numba's cache not carried")
    assert compile_cache.carry_said(root, _package(tmp_path / "good"), "same", "pkg", _env()) == 2
    assert "same: numba's compiled kernels carried from the checkout (2 files)" in capsys.readouterr().out


def _run(tree: Path) -> str:
    env = {**_env(), "PYTHONPATH": str(tree), "NUMBA_DEBUG_CACHE": "1"}
    done = subprocess.run([sys.executable, "-c", "from pkg.kernels import scaled; print(scaled(2.0))"],
                          cwd=tree, env=env, capture_output=True, text=True, check=True)
    return done.stdout


@needs_numba
def test_numba_loads_the_carried_cache_and_compiles_where_it_was_not_carried(tmp_path):
    root, tree = _package(tmp_path / "root"), _package(tmp_path / "tree")
    assert "data saved" in _run(root)  # compiled and cached in the root
    assert compile_cache.carry(root, tree, "pkg", _env()) > 0
    loaded = _run(tree)
    assert "data loaded" in loaded and "data saved" not in loaded and "6.0" in loaded
    other = _package(tmp_path / "other", **{"constants.py": "SCALE = 4.0\n"})
    assert compile_cache.carry(root, other, "pkg", _env()) == 0
    compiled_there = _run(other)
    assert "data saved" in compiled_there and "8.0" in compiled_there
