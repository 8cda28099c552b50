"""numba.njit with its on-disk cache wherever one can be written: the one
compile step of `compiled` and `simd` (imported only where numba is)."""
from __future__ import annotations


def cached_njit(fn, **options):
    """numba.njit(cache=True, **options)(fn), or without the cache when no
    cache directory is writable (then it compiles in each process)."""
    import numba

    try:
        return numba.njit(cache=True, **options)(fn)
    except RuntimeError:
        return numba.njit(**options)(fn)
