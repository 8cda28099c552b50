"""A cache of weights prepared for a kernel (transposed, padded, packed), so that
a call on a small batch does not redo that work every time.

An entry belongs to the very tensors it was built from and is valid while
each of them still has the version, data pointer, shape and strides it had
then. torch bumps a tensor's version counter (`_version`, shared with its
views) on every in-place edit — `w.add_(1)`, `w[0] = 5`, `w.copy_(v)`, an
optimizer's step — so any such edit, through the tensor or any view of it,
makes the next call rebuild. The data pointer catches storage swapped under
the same object (`w.set_(...)`, `w.data = ...`). Entries are keyed by the
tensors' identity and hold them, so a new tensor that happens to reuse a freed
address or id is never mistaken for an old one; holding them is why the cache
is small and skips large tensors. Not seen: writes that bypass torch's
counter, such as through `w.numpy()` or `w.data` — as for autograd, which
trusts the same counter.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

# Entries kept (the oldest goes first), and the most elements the tensors of
# one entry may have: an entry keeps its tensors alive.
CAPACITY = 32
MAX_ELEMENTS = 1 << 22


def _states(tensors) -> list[tuple]:
    # Written out in one comprehension: a call per tensor cost 0.1 us each,
    # and the fused forward pass checks four tensors on every call.
    return [(t._version, t.data_ptr(), t.shape, t.stride()) for t in tensors]


class PreparedWeights:
    """get(tensors, tag, build) -> build()'s value, rebuilt when any tensor changed."""

    def __init__(self, capacity: int = CAPACITY, max_elements: int = MAX_ELEMENTS):
        self.capacity, self.max_elements = capacity, max_elements
        self._entries: OrderedDict[tuple, tuple[tuple, list, Any]] = OrderedDict()
        self.builds = 0  # how many times a value was built (for tests)

    def get(self, tensors: tuple[torch.Tensor, ...], tag: tuple, build: Callable[[], Any]) -> Any:
        # The entry holds its tensors, so while it exists no other object has their ids.
        key = (tag, *map(id, tensors))
        entry = self._entries.get(key)
        if entry is not None and entry[1] == _states(tensors):
            return entry[2]
        states = _states(tensors)
        value = build()
        self.builds += 1
        if sum(t.numel() for t in tensors) <= self.max_elements:
            self._entries[key] = (tensors, states, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
        return value

    def get_one(self, tensor: torch.Tensor, tag: tuple,
                build: Callable[[torch.Tensor], Any]) -> Any:
        """get((tensor,), tag, lambda: build(tensor)), the check written out
        for one tensor: a small product's only weight (0.6 against 1.1 us on
        the Xeon of round 3), with no closure to make on every call."""
        entry = self._entries.get((tag, id(tensor)))
        if entry is not None and entry[1] == [(tensor._version, tensor.data_ptr(), tensor.shape,
                                               tensor.stride())]:
            return entry[2]
        return self.get((tensor,), tag, lambda: build(tensor))

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()


# The cache line (and AVX-512 vector) size of the CPUs this project targets.
LINE_BYTES = 64


def aligned_zeros(shape: tuple[int, ...], dtype, alignment: int = LINE_BYTES) -> np.ndarray:
    """np.zeros(shape, dtype), C-contiguous, starting on an `alignment`-byte
    boundary (an empty one has no data to place). numpy's own allocations
    start on 16-byte boundaries, so the rows of a prepared weight matrix
    (each a whole number of cache lines for the MNIST layers) started at 16,
    32 or 48 bytes into a line in most allocations: every vector load then
    touched two lines. On the Xeon
    machine that made numba_tuned's 500-row product 15 % slower for three
    allocations in four, the state that split the gate's processes in two."""
    dtype = np.dtype(dtype)
    size = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    raw = np.zeros(size + alignment, np.uint8)
    start = -raw.ctypes.data % alignment
    return raw[start:start + size].view(dtype).reshape(shape)
