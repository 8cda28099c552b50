"""SIGINT and SIGTERM as an exception, so that a command cleans up (worktrees,
temporary trees, child processes) and says one line instead of a traceback."""
from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(BaseException):
    """A signal asked the command to stop (BaseException: `except Exception` lets it pass)."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum  # the shell's convention for "killed by this signal"


@contextmanager
def interruptible() -> Iterator[None]:
    """Within: the first SIGINT or SIGTERM raises Interrupted; later ones are
    ignored, so that the cleanup it starts is not cut short."""
    fired: list[int] = []

    def handler(signum, frame):
        if not fired:
            fired.append(signum)
            raise Interrupted(signum)

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)
