"""Parse gzip-compressed IDX files (the MNIST format) into uint8 tensors.

IDX: 4-byte magic (0, 0, type code, number of dimensions), then one
big-endian uint32 per dimension, then the values in C order.  Only unsigned
bytes (type code 0x08) occur in MNIST, so only those are accepted.
"""

import gzip
import io
import math
import struct
import zlib

import torch

from .errors import MnistDataError

UBYTE = 0x08


def _read_exact(stream, n: int, name: str, what: str) -> bytes:
    data = stream.read(n)
    if len(data) != n:
        raise MnistDataError(f"{name}: file ends inside the {what} ({len(data)} of {n} bytes)")
    return data


def _readinto_exact(stream, buffer: bytearray, name: str) -> None:
    view = memoryview(buffer)
    filled = 0
    while filled < len(buffer):
        n = stream.readinto(view[filled:])
        if not n:
            raise MnistDataError(
                f"{name}: file ends after {filled} of {len(buffer)} data bytes"
            )
        filled += n


def read_idx_gz(raw: bytes, name: str, shape: tuple[int, ...]) -> torch.Tensor:
    """Decode gzip'd IDX bytes that must hold uint8 values of exactly ``shape``.

    ``name`` is put in every error so the user knows which file is bad.
    """
    expected_magic = (UBYTE << 8) | len(shape)
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(raw)) as stream:
            (magic,) = struct.unpack(">I", _read_exact(stream, 4, name, "IDX magic number"))
            if magic != expected_magic:
                raise MnistDataError(
                    f"{name}: IDX magic number is {magic} ({magic:#010x}), expected "
                    f"{expected_magic} ({expected_magic:#010x}: uint8, {len(shape)} dimensions)"
                )
            header = _read_exact(stream, 4 * len(shape), name, "IDX dimensions")
            dims = struct.unpack(f">{len(shape)}I", header)
            if dims != tuple(shape):
                raise MnistDataError(f"{name}: IDX dimensions are {dims}, expected {tuple(shape)}")
            # Decompress straight into a writable buffer: no extra copy, and
            # torch.frombuffer needs a writable buffer to stay warning-free.
            payload = bytearray(math.prod(dims))
            _readinto_exact(stream, payload, name)
            # Reading past the end also makes gzip check the CRC and length.
            if stream.read(1):
                raise MnistDataError(f"{name}: unexpected data after the {dims} IDX values")
    except (OSError, EOFError, zlib.error) as exc:
        # BadGzipFile is an OSError; EOFError means the gzip stream is cut short.
        raise MnistDataError(f"{name}: not a valid gzip file ({exc})") from exc
    return torch.frombuffer(payload, dtype=torch.uint8).view(dims)
