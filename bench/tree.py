"""Running the suite in a git tree: a revision's worktree or a snapshot of the
working tree, and one fresh gate-ready benchmark process in it (forked from
the tree's server, bench.forkserver, where it has one).

`python -m bench ab`, the gate study and the tests build on this; it knows
nothing of verdicts.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench.forkserver import ForkServer, ForkServerError
from bench.runs import RunError
from bench.suite import command
from bench.suite.command import MAX_TIMES_OPTION, MEMORY_OPTION


class MeasureError(RuntimeError):
    """A benchmark process failed, or saved nothing."""


def git(*args: str, cwd: Path) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RunError(f"git {' '.join(args)}: {done.stderr.strip() or done.stdout.strip()}")
    return done.stdout.strip()


def repository_root(start: Path) -> Path:
    return Path(git("rev-parse", "--show-toplevel", cwd=start))


def worktree(stack: ExitStack, root: Path, revision: str, into: Path) -> tuple[Path, str]:
    """A detached worktree of `revision` at `into` (removed when stack closes)."""
    sha = git("rev-parse", "--verify", f"{revision}^{{commit}}", cwd=root)
    # Worktrees of a run killed outright (SIGKILL, power) are only pruned when asked.
    git("worktree", "prune", cwd=root)
    stack.callback(_remove_worktree, root, into)  # before add: an interrupted add is cleaned too
    git("worktree", "add", "--detach", str(into), sha, cwd=root)
    return into, sha


def _remove_worktree(root: Path, path: Path) -> None:
    subprocess.run(["git", "worktree", "remove", "--force", str(path)], cwd=root,
                   capture_output=True, check=False)
    shutil.rmtree(path, ignore_errors=True)
    subprocess.run(["git", "worktree", "prune"], cwd=root, capture_output=True, check=False)


def tracked_files(root: Path) -> list[str]:
    """The working tree's tracked and untracked files that git does not ignore."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=root, capture_output=True, check=True).stdout.decode()
    return sorted(name for name in set(listed.split("\0")) if name and (root / name).is_file())


def snapshot(root: Path, into: Path) -> Path:
    """The working tree as it is now (tracked and untracked, not ignored files):
    the candidate stays fixed while people keep editing the checkout."""
    for name in tracked_files(root):
        target = into / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)
    return into


def digest(tree: Path) -> str:
    """A content hash of a snapshot (names and bytes): what a resumed run compares."""
    h = hashlib.sha256()
    for path in sorted(p for p in tree.rglob("*") if p.is_file()):
        h.update(str(path.relative_to(tree)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


@dataclass(frozen=True)
class Tree:
    """One side's code and how its processes run: forked from `server`
    (bench.forkserver) where it has one, else as subprocesses."""

    path: Path
    env: dict[str, str]
    server: ForkServer | None = None

    def takes(self, option: str) -> bool:
        """Whether this side's suite takes a plugin option of bench.suite.command's
        (an older revision's plugin may not: it would refuse it); its command
        module names the options it has."""
        source = self.path / "bench" / "suite" / "command.py"
        try:
            return f'"{option}"' in source.read_text(encoding="utf-8")
        except OSError:
            return False


def side_env(tree: Path, mnist_dir: Path | None, keep_slowdown: bool) -> dict[str, str]:
    env = command.environment(gate_ready=True, mnist_dir=mnist_dir, keep_slowdown=keep_slowdown)
    # The tree's own packages first, ahead of an editable install of another checkout.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
    return env


def measure(tree: Tree, out: Path, targets: list[str], subset: str | None,
            max_time: float, max_times: Path | None = None, memory: bool = True) -> Path:
    """One fresh gate-ready process over the subset (or the given node ids), saved to
    out: whole or not at all (a temporary name, renamed once the process succeeded);
    max_times: a file of per-benchmark times (bench.gate.rounds) beside max_time;
    memory False: no memory phase (where the tree's suite can skip it)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    args = [f"--benchmark-json={partial.resolve()}", f"--benchmark-max-time={max_time}",
            "--benchmark-columns=median,rounds"]
    if max_times is not None:
        args.append(f"{MAX_TIMES_OPTION}={max_times.resolve()}")
    if not memory and tree.takes(MEMORY_OPTION):
        args.append(f"{MEMORY_OPTION}=off")
    cmd = command.pytest_command(*args, gate_ready=True,
                                 targets=tuple(targets) or (command.BENCHMARKS,))
    if subset and not targets:
        cmd += ["-k", subset]
    try:
        returncode, stdout, stderr = _run(tree, cmd, partial)
        if returncode != 0 or not partial.is_file():
            raise MeasureError(f"benchmark process in {tree.path} failed ({returncode}):\n"
                               f"{stdout[-3000:]}\n{stderr[-3000:]}")
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return out


def _run(tree: Tree, cmd: list[str], beside: Path) -> tuple[int, str, str]:
    """cmd (python -m pytest ...) in the tree: forked from its server, or as a
    subprocess; (exit code, stdout, stderr)."""
    if tree.server is None or not tree.server.available():
        done = subprocess.run(cmd, cwd=tree.path, env=tree.env, capture_output=True, text=True,
                              check=False)
        return done.returncode, done.stdout, done.stderr
    outputs = [beside.with_name(f"{beside.name}.{name}") for name in ("stdout", "stderr")]
    try:
        try:
            returncode = tree.server.run(cmd[cmd.index("pytest") + 1:], *outputs)
        except ForkServerError as exc:
            raise MeasureError(f"benchmark process in {tree.path}: {exc}") from None
        stdout, stderr = (p.read_text(encoding="utf-8", errors="replace") if p.is_file() else ""
                          for p in outputs)
        return returncode, stdout, stderr
    finally:
        for p in outputs:
            p.unlink(missing_ok=True)
