"""The machine a run was measured on, as pytest-benchmark's machine_info.

pytest-benchmark asks py-cpuinfo, which probes the CPU for about a second in
every run that saves or compares; on Linux the same facts are in
/proc/cpuinfo and /sys, read in a millisecond. Elsewhere py-cpuinfo answers.
"""
from __future__ import annotations

import os
import platform
import sys
from pathlib import Path

PROC_CPUINFO = Path("/proc/cpuinfo")
CACHES = Path("/sys/devices/system/cpu/cpu0/cache")


def cpu_info() -> dict:
    """brand_raw, vendor_id_raw, count, arch, flags and cache sizes of this CPU."""
    fields = _proc_cpuinfo()
    if not fields:
        from cpuinfo import get_cpu_info

        return get_cpu_info()
    info = {"brand_raw": fields.get("model name", platform.processor()),
            "vendor_id_raw": fields.get("vendor_id", ""),
            "count": os.cpu_count(), "arch": platform.machine(),
            "flags": sorted(fields.get("flags", "").split())}
    info.update(_cache_sizes())
    return info


def _proc_cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo ({} where there is none)."""
    try:
        text = PROC_CPUINFO.read_text()
    except OSError:
        return {}
    first = text.split("\n\n", 1)[0]
    return {k.strip(): v.strip() for k, _, v in
            (line.partition(":") for line in first.splitlines()) if k.strip()}


def _cache_sizes() -> dict[str, str]:
    """l1_data/l2/l3 cache sizes as the kernel reports them (e.g. '1024K')."""
    sizes = {}
    for index in sorted(CACHES.glob("index*")):
        try:
            level = (index / "level").read_text().strip()
            kind = (index / "type").read_text().strip()
            size = (index / "size").read_text().strip()
        except OSError:
            continue
        if kind in ("Data", "Unified"):
            sizes[f"l{level}_data_cache_size" if level == "1" else f"l{level}_cache_size"] = size
    return sizes


def machine_info() -> dict:
    """The fields pytest-benchmark's own hook gives, with cpu from cpu_info()."""
    implementation = platform.python_implementation()
    version = platform.python_version()
    if implementation == "PyPy":
        version = "%d.%d.%d" % sys.pypy_version_info[:3]
    return {"node": platform.node(), "processor": platform.processor(),
            "machine": platform.machine(), "python_compiler": platform.python_compiler(),
            "python_implementation": implementation,
            "python_implementation_version": version,
            "python_version": platform.python_version(), "python_build": platform.python_build(),
            "release": platform.release(), "system": platform.system(), "cpu": cpu_info()}
