"""Human-readable times and changes for the report, the gate and the history."""
from __future__ import annotations


def format_time(seconds: float) -> str:
    """3 significant digits in s, ms, µs or ns."""
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def format_change(ratio: float) -> str:
    """A ratio as a signed percentage change: 1.053 -> '+5.3 %'."""
    return f"{(ratio - 1) * 100:+.1f} %"


def format_bytes(count: float) -> str:
    """3 significant digits in B, KB, MB or GB (powers of 1000, like the GB/s columns)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count:.0f} B"
