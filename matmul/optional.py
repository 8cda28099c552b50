"""Kernels that need an optional extra (numba, triton): importing it, or saying why not."""
from __future__ import annotations

import importlib
from types import ModuleType


def missing_reason(error: ImportError, extra: str) -> str:
    """Why `extra` cannot be used, and the command that installs it."""
    install = f"pip install 'matmul-bench[{extra}]'"
    if isinstance(error, ModuleNotFoundError) and error.name == extra:
        return f"{extra} is not installed: {install}"
    return f"{extra} could not be imported ({error}): {install}"


def import_extra(extra: str, *modules: str, package: str | None = None
                 ) -> tuple[list[ModuleType | None], str | None]:
    """Import `modules` of an optional extra, in order: (the modules, None), or,
    when one fails to import (the extra missing or broken), (Nones, the reason)."""
    try:
        return [importlib.import_module(name, package) for name in modules], None
    except ImportError as error:
        return [None] * len(modules), missing_reason(error, extra)
