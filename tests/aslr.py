"""Whether this machine lets a process turn its address-space randomization off."""
from __future__ import annotations

import os

from bench.suite import command


def can_be_turned_off() -> bool:
    """Whether a process may ask for ADDR_NO_RANDOMIZE (Linux; a container's
    seccomp profile may refuse), tried in a forked child."""
    import ctypes

    if not hasattr(os, "fork") or not os.path.exists("/proc/self/personality"):
        return False
    pid = os.fork()
    if pid == 0:
        libc = ctypes.CDLL(None, use_errno=True)
        os._exit(0 if libc.personality(command.ADDR_NO_RANDOMIZE) != -1 else 1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
