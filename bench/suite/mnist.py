"""Where the suite finds MNIST without downloading: one rule for tests and the main job."""
from __future__ import annotations

import os
from pathlib import Path

from data import MNIST_FILES, cache_dir

# The project's shared copy, beside the checkout (../shared/data/mnist).
SHARED_MNIST = Path(__file__).resolve().parents[3] / "shared" / "data" / "mnist"


def local_mnist_dir() -> Path | None:
    """$MNIST_DIR, else the shared copy, else a filled user cache (`python -m data fetch`)."""
    if os.environ.get("MNIST_DIR"):
        return None if mnist_dir_problem() else Path(os.environ["MNIST_DIR"])
    for candidate in (SHARED_MNIST, cache_dir()):
        if all((candidate / name).is_file() for name in MNIST_FILES):
            return candidate
    return None


def mnist_dir_problem() -> str | None:
    """What is wrong with $MNIST_DIR (set, but not a folder of the four files), else None."""
    value = os.environ.get("MNIST_DIR")
    if not value:
        return None
    folder = Path(value)
    if not folder.is_dir():
        return f"MNIST_DIR={value}: no such folder"
    missing = [name for name in MNIST_FILES if not (folder / name).is_file()]
    if missing:
        return (f"MNIST_DIR={value} lacks {', '.join(missing)}: point it at the folder holding "
                "the four MNIST .gz files (python -m data fetch --dir DIR fills one), or unset it")
    return None
