"""Where the MNIST files come from, and getting verified bytes out of them.

Order: the ``directory`` argument, then ``$MNIST_DIR``, then a per-user cache
(``$MNIST_CACHE_DIR`` or the platform's cache folder), which is filled from
public mirrors through pooch when a file is missing.

A user-given directory is only read: never written to, never used to
download.  The cache is written only by pooch, which downloads to a
temporary file in the same folder, checks the SHA256 and only then renames
it into place; so a broken or tampered download never gets a name a later
run would read, and two processes filling the cache at once each rename a
complete, verified file.
"""

import os
from pathlib import Path

import platformdirs

from .checksum import read_verified
from .errors import MnistChecksumError, MnistDataError, MnistUnavailableError
from .files import MNIST_FILES, file_list

ENV_DIR = "MNIST_DIR"
ENV_CACHE = "MNIST_CACHE_DIR"

# Tried in this order for each file; module-level so tests can point it at a
# local server.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)
# Short connect timeout: offline machines must get the MNIST_DIR hint fast,
# not wait pooch's default 30 s per mirror.
TIMEOUT_S = (5.0, 60.0)

ORIGIN_ARGUMENT = "the directory argument"
ORIGIN_ENV = f"${ENV_DIR}"
ORIGIN_CACHE = "the per-user cache"


def cache_dir() -> Path:
    """The per-user cache folder: ``$MNIST_CACHE_DIR`` or the platform's default."""
    override = os.environ.get(ENV_CACHE)
    if override:
        return Path(override).expanduser().resolve()
    base = platformdirs.user_cache_dir("matmul-bench", appauthor=False)
    return (Path(base) / "mnist").resolve()


def locate(directory=None) -> tuple[Path, str]:
    """Return (resolved directory, where it came from) without touching files."""
    if directory is not None:
        return Path(directory).expanduser().resolve(), ORIGIN_ARGUMENT
    env = os.environ.get(ENV_DIR)
    if env:
        return Path(env).expanduser().resolve(), ORIGIN_ENV
    return cache_dir(), ORIGIN_CACHE


def _unavailable(detail: str) -> MnistUnavailableError:
    return MnistUnavailableError(
        f"MNIST is not available: {detail}\n"
        f"Set {ENV_DIR} to a directory that holds the four files {file_list()} "
        f"(on a machine with network, `python -m data fetch --dir DIR` stores them in DIR)."
    )


def download(name: str, directory: Path, *, mirrors=None, progressbar: bool = True) -> Path:
    """Fetch ``name`` into ``directory`` through pooch, trying each mirror in turn."""
    import pooch  # lazy: only needed when something is missing
    import requests

    sha256 = MNIST_FILES[name]
    failures = []
    for base in MIRRORS if mirrors is None else mirrors:
        url = base + name
        try:
            path = pooch.retrieve(
                url,
                known_hash=f"sha256:{sha256}",
                fname=name,
                path=directory,
                downloader=pooch.HTTPDownloader(progressbar=progressbar, timeout=TIMEOUT_S),
            )
            return Path(path)
        except PermissionError as exc:
            # An unwritable cache fails the same way for every mirror.
            raise _unavailable(f"cannot write to the cache {directory} ({exc}).") from exc
        except (requests.RequestException, ValueError, OSError) as exc:
            # ValueError is pooch's hash mismatch; its temporary file is gone.
            failures.append(f"  {url}: {exc}")
    raise _unavailable(
        f"{name} is not in {directory} and downloading it failed from every mirror:\n"
        + "\n".join(failures)
    )


def read_all(directory: Path, origin: str, *, allow_download: bool, progressbar: bool = True
             ) -> dict[str, bytes]:
    """Return {file name: verified bytes} for the four files in ``directory``.

    With ``allow_download`` (the cache), a missing or mismatching file is
    (re)fetched by pooch; otherwise it is an error naming the file.
    """
    if not allow_download:
        if not directory.is_dir():
            raise MnistDataError(
                f"MNIST directory {directory} (from {origin}) does not exist or is not a "
                f"directory; it must hold {file_list()}"
            )
        missing = [name for name in MNIST_FILES if not (directory / name).is_file()]
        if missing:
            raise MnistDataError(
                f"MNIST directory {directory} (from {origin}) lacks {', '.join(missing)}; "
                f"it must hold {file_list()}"
            )
    raw = {}
    for name, sha256 in MNIST_FILES.items():
        path = directory / name
        if allow_download:
            try:
                raw[name] = read_verified(path, sha256)
                continue
            except (OSError, MnistChecksumError):
                # Missing or bad cache entry: pooch replaces it atomically.
                download(name, directory, progressbar=progressbar)
        try:
            raw[name] = read_verified(path, sha256)
        except OSError as exc:
            raise MnistDataError(f"{path}: cannot read ({exc})") from exc
    return raw


def fetch(directory=None, *, progressbar: bool = True) -> tuple[Path, dict[str, bytes]]:
    """Make sure the four verified files are on disk; return (folder, their bytes).

    Unlike loading, this downloads missing files into a directory the user
    named, since storing them there is what was asked for.  A file that is
    present but wrong is still refused there: only the cache is ours to
    overwrite.
    """
    path, origin = locate(directory)
    if origin == ORIGIN_CACHE:
        return path, read_all(path, origin, allow_download=True, progressbar=progressbar)
    for name in MNIST_FILES:
        if not (path / name).exists():
            download(name, path, progressbar=progressbar)
    return path, read_all(path, origin, allow_download=False)
