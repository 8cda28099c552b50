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
