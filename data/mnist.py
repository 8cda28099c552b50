"""``load_mnist``: MNIST as float tensors, built once per process and folder."""

import threading
from dataclasses import dataclass
from pathlib import Path

import torch

from . import sources
from .errors import MnistDataError
from .files import TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS
from .idx import read_idx_gz

N_TRAIN_FILE = 60_000  # official train set; the last 10 000 become validation
N_TRAIN = 50_000
N_TEST = 10_000
SIDE = 28


@dataclass(frozen=True, eq=False, repr=False)
class MNIST:
    """The lesson's split: train = official train[:50000], valid = [50000:], test = official test.

    Images are float32 in [0, 1], flattened to 784 columns; labels are int64.
    The tensors are shared by every caller of ``load_mnist``: do not modify them
    in place.  (eq=False: identity, because comparing tensors has no truth value.)
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_valid: torch.Tensor
    y_valid: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    source: Path

    def __repr__(self) -> str:
        return (
            f"MNIST(source={str(self.source)!r}, x_train={tuple(self.x_train.shape)}, "
            f"x_valid={tuple(self.x_valid.shape)}, x_test={tuple(self.x_test.shape)})"
        )


def _images(raw: bytes, name: str, count: int) -> torch.Tensor:
    pixels = read_idx_gz(raw, name, (count, SIDE, SIDE)).view(count, SIDE * SIDE)
    return pixels.to(torch.float32).div_(255.0)


def _labels(raw: bytes, name: str, count: int) -> torch.Tensor:
    labels = read_idx_gz(raw, name, (count,))
    top = int(labels.max())
    if top > 9:
        raise MnistDataError(f"{name}: label {top} found, digits must be 0-9")
    return labels.to(torch.int64)


def _build(directory: Path, origin: str) -> MNIST:
    # The cache is ours to fill, whichever way its path was reached.
    allow_download = directory == sources.cache_dir()
    raw = sources.read_all(directory, origin, allow_download=allow_download)
    x_all = _images(raw[TRAIN_IMAGES], TRAIN_IMAGES, N_TRAIN_FILE)
    y_all = _labels(raw[TRAIN_LABELS], TRAIN_LABELS, N_TRAIN_FILE)
    # Row slices of contiguous tensors are contiguous views: no copy needed.
    return MNIST(
        x_train=x_all[:N_TRAIN],
        y_train=y_all[:N_TRAIN],
        x_valid=x_all[N_TRAIN:],
        y_valid=y_all[N_TRAIN:],
        x_test=_images(raw[TEST_IMAGES], TEST_IMAGES, N_TEST),
        y_test=_labels(raw[TEST_LABELS], TEST_LABELS, N_TEST),
        source=directory,
    )


# Keyed by resolved folder only (not by how it was named), so the argument and
# $MNIST_DIR pointing at one folder share one object.  Failures are not stored.
_memo: dict[Path, MNIST] = {}
# Held while building, so concurrent threads parse once instead of racing.
_lock = threading.Lock()


def load_mnist(directory=None) -> MNIST:
    """Load MNIST from ``directory``, else ``$MNIST_DIR``, else the per-user cache.

    Only the cache is ever downloaded into (from public mirrors, via pooch).
    Every file is checked against its SHA256 before it is parsed.  The result
    is memoised per resolved folder, so repeated calls return the same object;
    ``load_mnist.cache_clear()`` forgets it (failed loads are never memoised).
    Raises MnistDataError (or its subclass MnistUnavailableError) naming the
    file at fault.
    """
    directory, origin = sources.locate(directory)
    with _lock:
        data = _memo.get(directory)
        if data is None:
            data = _memo[directory] = _build(directory, origin)
    return data


def _cache_clear() -> None:
    with _lock:
        _memo.clear()


load_mnist.cache_clear = _cache_clear
