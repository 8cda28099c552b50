"""Code that needs an optional extra (numba, triton, memray): importing it, or saying why not."""
from __future__ import annotations

import importlib
from types import ModuleType


def install_command(extra: str) -> str:
    """The command that installs an optional extra of the project."""
    return f"pip install 'matmul-bench[{extra}]'"


def missing_reason(error: ImportError, extra: str, module: str | None = None) -> str:
    """Why `extra` (whose top-level module is `module`, default the extra's
    name) cannot be used, and the command that installs it."""
    module = module or extra
    if isinstance(error, ModuleNotFoundError) and error.name == module:
        return f"{module} is not installed: {install_command(extra)}"
    return f"{module} could not be imported ({error}): {install_command(extra)}"


def import_extra(extra: str, *modules: str, package: str | None = None
                 ) -> tuple[list[ModuleType | None], str | None]:
    """Import `modules` of an optional extra, in order (the first its top-level
    module): (the modules, None), or, when one fails to import (the extra
    missing or broken), (Nones, the reason)."""
    try:
        return [importlib.import_module(name, package) for name in modules], None
    except ImportError as error:
        return [None] * len(modules), missing_reason(error, extra, modules[0])
