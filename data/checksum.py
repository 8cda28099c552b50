"""Read a file and check its SHA256 before anyone parses it."""

import hashlib
from pathlib import Path

from .errors import MnistChecksumError


def read_verified(path: Path, sha256: str) -> bytes:
    """Return the bytes of ``path`` if they hash to ``sha256``.

    The bytes that were hashed are the ones returned, so the file cannot
    change between the check and the parse.  Raises OSError if the file
    cannot be read.
    """
    raw = path.read_bytes()
    actual = hashlib.sha256(raw).hexdigest()
    if actual != sha256:
        raise MnistChecksumError(
            f"{path}: SHA256 mismatch (expected {sha256}, got {actual}); the file is "
            "truncated, corrupted or not the canonical MNIST file of that name"
        )
    return raw
