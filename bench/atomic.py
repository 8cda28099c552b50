"""Files written whole or not at all: a temporary name in the same folder, then a
rename (atomic on one file system), so an interrupt or a crash never leaves a
half-written file under the real name."""
from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temporary(path: Path) -> Path:
    """The name `path` is written under first: hidden, and not matching *.json or
    *.png, so no tool takes it for a finished file."""
    return path.with_name(f".{path.name}.partial")


def write_bytes(path: Path, data: bytes) -> Path:
    try:
        with together(path) as (partial,):
            with open(partial, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
    except OSError as exc:  # named by the file meant, not the temporary one
        raise OSError(exc.errno, exc.strerror, str(path)) from None
    return path


def write_text(path: Path, text: str) -> Path:
    return write_bytes(Path(path), text.encode("utf-8"))


@contextmanager
def together(*paths: Path) -> Iterator[tuple[Path, ...]]:
    """Yields a temporary name per path; once the block succeeds every file is
    renamed into place, with SIGINT and SIGTERM held back until all are (so the
    files always come from one run); on failure none is, and the temporaries go."""
    paths = tuple(Path(p) for p in paths)
    partials = tuple(temporary(p) for p in paths)
    try:
        yield partials
        blocked = {signal.SIGINT, signal.SIGTERM}
        held = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        try:
            for partial, path in zip(partials, paths, strict=True):
                os.replace(partial, path)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
    finally:
        for partial in partials:
            partial.unlink(missing_ok=True)
