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
        return Path(os.environ["MNIST_DIR"])
    for candidate in (SHARED_MNIST, cache_dir()):
        if all((candidate / name).is_file() for name in MNIST_FILES):
            return candidate
    return None
