"""Fresh benchmark processes without paying each one's imports: children forked
from a server that has imported what every such process imports first.

A gate-ready process of the default subset spends about 2.2 of its 5 s on
importing torch, numba, pytest and the suite before it measures anything
(Zen 5 VM: `import torch` 1.7 s). The gate needs many processes a side, so the
server, one per tree (its code, its environment, its working directory),
imports them once and forks a child per process: the child runs
`python -m pytest ARGS` as `pytest.main(ARGS)` and exits. Each child is still
a process of its own for everything the gate measures between processes: its
own pid and CPU binding, its own heap, the data it loads, the kernels it
compiles or loads, the choices the suite makes in it (serial or parallel,
prepared weights); only the modules imported before the fork (and the
address layout they set) are shared.

Forking is only safe from a single thread: the server imports nothing that
starts one (torch, numba and OpenMP start their pools on the first parallel
call, never on import), checks, and says it cannot serve otherwise; then
every process runs as a plain subprocess. So does every process where
os.fork is missing, or where the server did not start.

The server's code is passed with `python -c`, not imported: a tree of an older
revision need not have this module.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bench.suite import command

_SERVER = r"""
import json, os, sys, threading, traceback
try:
    import matmul  # numba's OpenMP runtime before torch, as the suite's plugin does
except Exception:
    pass
import torch, pytest  # noqa: F401
try:
    import pytest_benchmark.plugin  # noqa: F401
except Exception:
    pass
print(json.dumps({"ready": threading.active_count() == 1}), flush=True)
for line in sys.stdin:
    request = json.loads(line)
    pid = os.fork()
    if pid == 0:
        code = 3
        try:
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
                target = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(target, fd)
                os.close(target)
            sys.argv = ["pytest", *request["args"]]
            code = int(pytest.main(request["args"]))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(code)
    print(json.dumps({"pid": pid}), flush=True)
    _, status = os.waitpid(pid, 0)
    print(json.dumps({"returncode": os.waitstatus_to_exitcode(status)}), flush=True)
"""


class ForkServerError(RuntimeError):
    """The server stopped answering."""


class ForkServer:
    """run(args, stdout, stderr): `python -m pytest args` in a child forked from
    the server, its output into the two files; its exit code. The server
    starts on first use (`available`), so a run that never measures (or whose
    processes are stood in for, as in tests) starts none."""

    def __init__(self, cwd: Path, env: dict[str, str], fixed_layout: bool = False):
        self.cwd, self.env, self.fixed_layout = cwd, env, fixed_layout
        self._process: subprocess.Popen | None = None
        self._ready: bool | None = None

    def available(self) -> bool:
        """Whether the server runs and may fork (started here, the first time)."""
        if self._ready is None:
            cmd = [sys.executable, "-c", _SERVER]
            self._process = subprocess.Popen(
                command.with_fixed_layout(cmd) if self.fixed_layout else cmd,
                cwd=self.cwd, env=self.env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                text=True, bufsize=1)
            try:
                self._ready = bool(self._answer().get("ready"))
            except ForkServerError:
                self._ready = False
        return self._ready

    def _answer(self) -> dict:
        # Anything else a tree's imports print on the server's stdout is skipped.
        while line := self._process.stdout.readline():
            try:
                answer = json.loads(line)
            except ValueError:
                continue
            if isinstance(answer, dict):
                return answer
        raise ForkServerError(f"the fork server exited ({self._process.poll()})")

    def run(self, args: list[str], stdout: Path, stderr: Path) -> int:
        self._process.stdin.write(json.dumps(
            {"args": args, "stdout": str(stdout), "stderr": str(stderr)}) + "\n")
        self._process.stdin.flush()
        pid = self._answer()["pid"]
        try:
            return self._answer()["returncode"]
        except BaseException:
            # Interrupted (or the server gone): the child must not outlive the run.
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            raise

    def close(self) -> None:
        """Ends the server (it exits when its input closes), killing it if it lingers."""
        if self._process is None:
            return
        try:
            self._process.stdin.close()
            self._process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self._process.kill()
            self._process.wait()
        finally:
            self._process.stdout.close()


@contextmanager
def serving(cwd: Path, env: dict[str, str], fixed_layout: bool = False
            ) -> Iterator[ForkServer | None]:
    """A fork server for processes in `cwd` with `env` (started on first use,
    with the address-space layout fixed if asked: bench.suite.command),
    closed on exit; None where the platform cannot fork. Where the server
    cannot serve (it did not start, or its imports started a thread),
    `available()` is False."""
    if not hasattr(os, "fork"):
        yield None
        return
    server = ForkServer(cwd, env, fixed_layout)
    try:
        yield server
    finally:
        server.close()
