"""A/B regression gate between two git revisions, in interleaved fresh processes.

    python -m bench ab BASE [CANDIDATE] [-k EXPR] [--processes N] [--out DIR]
        [--seed S] [--max-time SECONDS] [--confirm N] [gate options]

BASE and CANDIDATE are git revisions (CANDIDATE defaults to the working tree,
uncommitted changes included); each is checked out in its own worktree and
imported from there. The suite runs in N blocks; each block runs one fresh
gate-ready process per side (bench.suite.command), in a random order (seeded
and recorded), so drift of the machine hits both sides alike. The gate
(bench.gate.decide) then measures the spread between processes from the
blocks. A benchmark whose interval still straddles the threshold gets
confirming blocks of its own, up to --confirm more.

Writes DIR/base/block-NNN.json and DIR/candidate/block-NNN.json (the saved
runs), DIR/ab.json (revisions, seed, order, settings) and the verdicts in
DIR/gate.md and DIR/gate.json. Exit status as `python -m bench.gate`: 0 no
regression, 1 regression, 2 unusable input, 3 refused.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

from bench import cli, runs
from bench.runs import RunError
from bench.suite import command
from bench.suite.mnist import local_mnist_dir

from . import decide, output
from .compare import ALPHA, DETECT, THRESHOLD, RefusedError, Settings, compare, exit_code

SIDES = ("base", "candidate")
# The default gated subset, processes and time per benchmark: chosen with the
# gate study (README, "Regression gate") so that a default run fits in 10
# minutes on 2 cores.
DEFAULT_SUBSET = "(test_matmul or test_forward) and (rows5] or rows500]) and not three_loops"
DEFAULT_PROCESSES = 16
DEFAULT_MAX_TIME = 0.2
DEFAULT_CONFIRM = 8
CONFIRM_STEP = 4
EXIT_BAD_INPUT, EXIT_REFUSED = 2, 3


class MeasureError(RuntimeError):
    """A benchmark process failed."""


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
    git("worktree", "add", "--detach", str(into), sha, cwd=root)
    stack.callback(lambda: git("worktree", "remove", "--force", str(into), cwd=root))
    return into, sha


def snapshot(root: Path, into: Path) -> Path:
    """The working tree as it is now (tracked and untracked, not ignored files):
    the candidate stays fixed while people keep editing the checkout."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=root, capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = root / name
        if source.is_file():
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return into


@dataclass(frozen=True)
class Tree:
    """One side's code and how its processes run."""

    path: Path
    env: dict[str, str]


def side_env(tree: Path, mnist_dir: Path | None, keep_slowdown: bool) -> dict[str, str]:
    env = command.environment(gate_ready=True, mnist_dir=mnist_dir, keep_slowdown=keep_slowdown)
    # The tree's own packages first, ahead of an editable install of another checkout.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), env.get("PYTHONPATH")]))
    return env


def measure(tree: Tree, out: Path, targets: list[str], subset: str | None,
            max_time: float) -> Path:
    """One fresh gate-ready process over the subset (or the given node ids), saved to out."""
    out.parent.mkdir(parents=True, exist_ok=True)
    args = [f"--benchmark-json={out.resolve()}", f"--benchmark-max-time={max_time}",
            "--benchmark-columns=median,rounds"]
    cmd = command.pytest_command(*args, gate_ready=True,
                                 targets=tuple(targets) or (command.BENCHMARKS,))
    if subset and not targets:
        cmd += ["-k", subset]
    done = subprocess.run(cmd, cwd=tree.path, env=tree.env, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0 or not out.is_file():
        raise MeasureError(f"benchmark process in {tree.path} failed ({done.returncode}):\n"
                           f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return out


def run_block(trees: dict[str, Tree], out: Path, index: int, rng: random.Random,
              targets: list[str], subset: str | None, max_time: float) -> list[str]:
    """One block: a process per side, in random order; returns the order."""
    order = rng.sample(SIDES, len(SIDES))
    for side in order:
        measure(trees[side], out / side / f"block-{index:03d}.json", targets, subset, max_time)
    return order


def judge(out: Path, settings: Settings):
    base = [runs.load(p) for p in sorted((out / "base").glob("block-*.json"))]
    candidate = [runs.load(p) for p in sorted((out / "candidate").glob("block-*.json"))]
    return base, candidate, compare(base, candidate, settings)


def parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m bench ab", __doc__)
    p.add_argument("base", help="git revision of the baseline (e.g. main, HEAD~1, a sha)")
    p.add_argument("candidate", nargs="?", help="git revision (default: the working tree)")
    p.add_argument("-k", dest="subset", default=DEFAULT_SUBSET,
                   help=f"pytest -k expression of the gated benchmarks (default {DEFAULT_SUBSET!r})")
    p.add_argument("--processes", type=int, default=DEFAULT_PROCESSES,
                   help=f"blocks, i.e. processes per side (default {DEFAULT_PROCESSES})")
    p.add_argument("--confirm", type=int, default=DEFAULT_CONFIRM,
                   help="at most this many more blocks for benchmarks whose interval straddles "
                        f"the threshold (default {DEFAULT_CONFIRM})")
    p.add_argument("--max-time", type=float, default=DEFAULT_MAX_TIME,
                   help=f"--benchmark-max-time per benchmark and process (default {DEFAULT_MAX_TIME})")
    p.add_argument("--seed", type=int, default=None, help="seed of the block order (default: random)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for the runs and verdicts (default .benchmarks/ab/<time>)")
    p.add_argument("--threshold", type=float, default=THRESHOLD)
    p.add_argument("--alpha", type=float, default=ALPHA)
    p.add_argument("--detect", type=float, default=DETECT)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.processes < 2:
        print("error: --processes must be at least 2: the spread between processes is "
              "measured from them", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        settings = Settings(threshold=args.threshold, alpha=args.alpha, detect=args.detect)
        root = repository_root(Path.cwd())
    except (ValueError, RunError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(2**31)
    out = (args.out or root / ".benchmarks" / "ab" / time.strftime("%Y%m%d-%H%M%S")).resolve()
    if out.exists() and any(out.iterdir()):
        print(f"error: {out} is not empty; give another --out", file=sys.stderr)
        return EXIT_BAD_INPUT
    started = time.perf_counter()
    try:
        with ExitStack() as stack:
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ab-")))
            base_path, base_sha = worktree(stack, root, args.base, scratch / "base")
            if args.candidate:
                cand_path, cand_sha = worktree(stack, root, args.candidate, scratch / "candidate")
                cand_label = f"{args.candidate} ({cand_sha[:12]})"
            else:
                cand_path = snapshot(root, scratch / "candidate")
                cand_label = f"the working tree (on {git('rev-parse', 'HEAD', cwd=root)[:12]})"
            mnist_dir = local_mnist_dir()
            trees = {"base": Tree(base_path, side_env(base_path, mnist_dir, keep_slowdown=False)),
                     "candidate": Tree(cand_path, side_env(cand_path, mnist_dir, keep_slowdown=True))}
            manifest = {"base": {"revision": args.base, "sha": base_sha},
                        "candidate": {"revision": args.candidate or "working tree",
                                      "label": cand_label},
                        "seed": seed, "subset": args.subset, "max_time": args.max_time,
                        "settings": output.as_json([], settings)["settings"], "blocks": []}
            rng = random.Random(seed)

            def block(index: int, targets: list[str]) -> None:
                order = run_block(trees, out, index, rng, targets, args.subset, args.max_time)
                manifest["blocks"].append({"block": index, "order": order,
                                           "targets": targets or "subset"})
                (out / "ab.json").write_text(json.dumps(manifest, indent=1))
                print(f"[{time.perf_counter() - started:5.0f} s] block {index}: "
                      f"{' then '.join(order)}" + (f" ({len(targets)} benchmarks)" if targets else ""),
                      flush=True)

            for index in range(1, args.processes + 1):
                block(index, [])
            index = args.processes
            while index < args.processes + args.confirm:
                _, _, rows = judge(out, settings)
                open_keys = [r.key for r in rows if r.estimate is not None
                             and decide.straddles(r.estimate, r.threshold)]
                if not open_keys:
                    break
                print(f"confirming {len(open_keys)} benchmark(s) whose interval straddles "
                      f"the threshold", flush=True)
                for _ in range(min(CONFIRM_STEP, args.processes + args.confirm - index)):
                    index += 1
                    block(index, open_keys)
            base, candidate, rows = judge(out, settings)
    except RefusedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except (RunError, MeasureError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    wall = time.perf_counter() - started
    manifest["wall_s"] = round(wall, 1)
    (out / "ab.json").write_text(json.dumps(manifest, indent=1))
    header = (f"Base {args.base} ({base_sha[:12]}) against {cand_label}: "
              f"{len(manifest['blocks'])} blocks of one fresh process per side in random order "
              f"(seed {seed}), -k \"{args.subset}\", {base[0].machine['cpu']}, "
              f"{wall / 60:.1f} min.")
    print(output.text_table(rows, settings))
    output.write(rows, settings, out / "gate.md", out / "gate.json", header)
    print(f"\nruns and verdicts in {out} ({wall:.0f} s)")
    return exit_code(rows)


if __name__ == "__main__":
    sys.exit(main())
