"""numba calls without numba's per-call type resolution, for small products.

A numba dispatcher types every argument on every call before it picks the
machine code; for the kernels' tuples (the block shape, the later layers'
weights) that costs about as much as a 5-row product itself. The calls here
always pass arguments of types fixed by a key of the caller's (the dtype, the
block shape, the number of layers): so the first call with a key goes through
the dispatcher (compiling, or loading from numba's disk cache), and later
calls with that key go straight to the entry point it compiled. The entry
point still unboxes every argument (shapes, strides, data pointers), so only
the choice of machine code is remembered, never any data.

The key must determine every argument's numba type: callers pass arrays they
made C-contiguous in the key's dtype. An entry point is found through the
dispatcher's public `overloads` and `typeof_pyval`; where those do not name
one, every call keeps going through the dispatcher.

Also `threads()`: numba's thread count for this thread, without the two lock
acquisitions of numba.get_num_threads() on each call once the pool is up.
"""
from __future__ import annotations

from collections.abc import Callable, Hashable

import numba

from .serial_or_parallel import size_class

_ENTRIES: dict[tuple, Callable] = {}


def entry(dispatcher, key: Hashable) -> Callable:
    """A callable of the arguments that runs `dispatcher`'s machine code for
    arguments typed as `key` says: the remembered entry point, or, until one
    is known, a call through the dispatcher that remembers it."""
    found = _ENTRIES.get((dispatcher, key))
    if found is not None:
        return found

    def first(*args):
        result = dispatcher(*args)
        overload = dispatcher.overloads.get(tuple(map(dispatcher.typeof_pyval, args)))
        if overload is not None and getattr(overload, "entry_point", None) is not None:
            _ENTRIES[dispatcher, key] = overload.entry_point
        return result

    return first


def clear() -> None:
    """Forget every entry point and launch (tests); a Launch a caller keeps
    (compiled's _TunedCall, _part_block) stays usable, remembering its own."""
    _ENTRIES.clear()
    _LAUNCHES.clear()


def _thread_count() -> Callable[[], int]:
    # numba.get_num_threads() launches the pool (under two locks) and then asks
    # the threading layer; once launched, asking is enough.
    numba.get_num_threads()
    from numba.np.ufunc import parallel

    ask = getattr(parallel, "_get_num_threads", None)
    return ask if callable(ask) and ask() >= 1 else numba.get_num_threads


_ASK: Callable[[], int] | None = None


def threads() -> int:
    """numba.get_num_threads(), as cheaply as numba allows."""
    global _ASK
    if _ASK is None:
        _ASK = _thread_count()
    return _ASK()


class Launch:
    """One kernel's serial and parallel builds (numba dispatchers) for
    arguments typed as `key` says (see entry), and the BuildChoice that picks
    between them per size class. Made once per key by launch(), so that a
    small call neither hashes the argument key nor looks up entry points:
    `run(rows, macs_per_row, threads, *args)`. The parallel build splits the
    rows into parts of `part_rows` (its blocks) at the finest, so a call of
    one part has one thread's work and runs serially, untried: timing the
    two builds there only risks choosing the pool's wake-up by chance (on
    the Intel Xeon VM of round 3, stop 31, the 5-row forward pass ran
    parallel at 12 us against 8 us serial, after a trial won by noise).
    Optionally a third build, `by_address`: the serial build's loops on
    matrices passed as data pointers, which a caller runs (`run_at`) where
    `runs_serially` says the serial build would run anyway."""

    def __init__(self, choice, serial, parallel, key: Hashable, part_rows: int = 1,
                 by_address=None):
        self.choice, self.key, self.part_rows = choice, key, part_rows
        self._dispatchers = (serial, parallel, by_address)
        # Each build's entry point once remembered: a build that never runs
        # (the parallel one of a launch whose calls are all one part) must not
        # keep the other's lookup going on every call.
        self._builds: list[Callable | None] = [None, None, None]

    def _build(self, index: int) -> Callable:
        found = self._builds[index]
        if found is None:
            dispatcher = self._dispatchers[index]
            found = entry(dispatcher, self.key)
            if (dispatcher, self.key) in _ENTRIES:
                self._builds[index] = found
        return found

    def runs_serially(self, rows: int, macs_per_row: int) -> bool:
        """Whether a call on `rows` rows runs the serial build, untried: the
        calls that may run `by_address` instead (the serial build's loops on
        arrays passed as data pointers, see simd.blocked_at)."""
        if rows <= self.part_rows:
            return True
        key = (*size_class(rows, macs_per_row), self)
        return self.choice.settled(key, rows * macs_per_row, threads()) == "serial"

    def run_at(self, *args):
        """The by-address build on these arguments. Once its entry point is
        known, that entry point itself replaces this method on the instance
        (a 5-row product is a few microseconds; each frame is a tenth of one)."""
        found = self._build(2)
        if self._builds[2] is not None:
            self.run_at = found
        return found(*args)

    def run(self, rows: int, macs_per_row: int, threads: int, *args):
        if rows <= self.part_rows:
            threads = 1  # one part: one thread's work whichever build runs it
        macs = rows * macs_per_row
        key = (*size_class(rows, macs_per_row), self)
        settled = self.choice.settled(key, macs, threads)
        if settled is not None:  # choice.call's own first step, without its frame
            return self._build(0 if settled == "serial" else 1)(*args)
        return self.choice.call(key, macs, threads, self._build(0), self._build(1), *args)


_LAUNCHES: dict[tuple, Launch] = {}


def launch(choice, serial, parallel, key: Hashable, part_rows: int = 1,
           by_address=None) -> Launch:
    """The Launch of these builds for `key` (which must fix `part_rows`), made on first use."""
    found = _LAUNCHES.get((serial, key))
    if found is None:
        found = _LAUNCHES[serial, key] = Launch(choice, serial, parallel, key, part_rows,
                                                by_address)
    return found
