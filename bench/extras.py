"""The optional extra each command needs, checked before the command starts.

What an extra holds is declared once, in pyproject.toml; the installed
project's metadata says it back, so a command finds a missing distribution up
front, and `MissingExtra.of()` turns an import that fails later into the
same one line: which extra to install, and the command that installs it.
"""
from __future__ import annotations

import functools
import importlib.metadata as metadata
import importlib.util
import re

PROJECT = "matmul-bench"
OWN_PACKAGES = frozenset({"bench", "matmul", "forward", "data", "tests"})
# The extra each command of README's table needs (python -m bench COMMAND).
COMMAND_EXTRA = {"run": "test", "ab": "test", "study": "test", "gate": "gate",
                 "report": "report", "history": "history", "keep": "history"}

_REQUIREMENT = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)[^;]*(?:;(.*))?")


class MissingExtra(Exception):
    """A command's optional extra is not installed (or does not import)."""

    def __init__(self, command: str, extra: str, missing: str):
        self.extra = extra
        super().__init__(f"{command} needs the '{extra}' extra ({missing} is missing): "
                         f"pip install 'matmul-bench[{extra}]'")  # as matmul.optional says it

    @classmethod
    def of(cls, error: ImportError, command: str, extra: str) -> MissingExtra | None:
        """The missing extra behind an import error, or None when the module that
        failed is the project's own (a bug, not a missing extra)."""
        name = getattr(error, "name", None) or ""
        if not name or name.split(".")[0] in OWN_PACKAGES:
            return None
        return cls(command, extra, name.split(".")[0])


def declared(extra: str) -> list[str]:
    """The distributions `extra` names in the installed project's metadata
    ([] when the project is not installed, as in a bare checkout)."""
    try:
        requirements = metadata.requires(PROJECT) or []
    except metadata.PackageNotFoundError:
        return []
    wanted = re.compile(rf"""extra\s*==\s*["']{re.escape(extra)}["']""")
    names = []
    for requirement in requirements:
        match = _REQUIREMENT.match(requirement)
        if match and match.group(2) and wanted.search(match.group(2)):
            names.append(match.group(1))
    return names


def _normal(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


@functools.cache
def _modules_by_distribution() -> dict[str, list[str]]:
    """Each installed distribution's public top-level modules (its import names)."""
    modules: dict[str, list[str]] = {}
    for module, owners in metadata.packages_distributions().items():
        if not module.startswith("_"):
            for owner in owners:
                modules.setdefault(_normal(owner), []).append(module)
    return modules


def _top_level_modules(distribution: str) -> list[str]:
    return sorted(_modules_by_distribution().get(_normal(distribution), []))


def _importable(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # ValueError: blocked (sys.modules[module] is None)
        return False


def require(command: str, extra: str) -> None:
    """Raise MissingExtra naming the first distribution of `extra` that is not
    installed or whose modules cannot be found."""
    for distribution in declared(extra):
        try:
            metadata.distribution(distribution)
        except metadata.PackageNotFoundError:
            raise MissingExtra(command, extra, distribution) from None
        for module in _top_level_modules(distribution):
            if not _importable(module):
                raise MissingExtra(command, extra, module)
