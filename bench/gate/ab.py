"""A/B regression gate between two git revisions, in interleaved fresh processes.

    python -m bench ab BASE [CANDIDATE] [-k EXPR] [--min-processes 6]
        [--max-processes 24] [--processes N] [--out DIR] [--seed S]
        [--max-time SECONDS] [gate options]

BASE and CANDIDATE are git revisions (CANDIDATE defaults to the working tree,
uncommitted changes included); each is checked out in its own worktree and
imported from there. The suite runs in blocks; each block runs one fresh
gate-ready process per side (bench.suite.command), in a random order (seeded
and recorded), so drift of the machine hits both sides alike. The gate
(bench.gate.decide) measures the spread between processes from the blocks,
at looks from --min-processes to --max-processes blocks (bench.gate.sequential):
after each look only the benchmarks still undecided get the next blocks, and
the run stops once every benchmark is decided. After the first blocks each
benchmark gets the time per process its spread calls for (bench.gate.rounds,
at most --max-time), the same for both sides. --processes N is one look at
N blocks (it replaces the former fixed --processes with --confirm). Memory
(each call's peak allocation, the same in every process) is measured in the
first blocks only and judged beside time from them (bench.gate.memory).
Every process runs with the address-space layout fixed, forked from servers
started so (bench.suite.command.with_fixed_layout).

Writes DIR/base/block-NNN.json and DIR/candidate/block-NNN.json (the saved
runs), DIR/max-times.json (those times), DIR/ab.json (revisions, seed,
order, the looks, settings, the times) and the
verdicts in DIR/gate.md and DIR/gate.json, with the look that decided each.
A block whose process crashes or saves an unusable run is run once more,
then set aside (DIR/set-aside/block-NNN.log); the verdict comes from the
other blocks. Ctrl-C or SIGTERM removes the
worktrees and keeps the finished blocks; the same command with the same
--out resumes from them (same seed, same order). Exit status as `python -m
bench.gate`: 0 no regression, 1 regression (of time or memory), 2 unusable
input, 3 refused;
128 + the signal's number when interrupted.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from bench import atomic, cli, compile_cache, forkserver, runs
from bench.exitcodes import Exit
from bench.interrupts import Interrupted, interruptible
from bench.runs import RunError
from bench.suite.command import MAX_TIMES_OPTION
from bench.suite.mnist import local_mnist_dir, mnist_dir_problem
from bench.tree import MeasureError, Tree, digest, git, measure, repository_root, side_env, snapshot, worktree

from . import output, rounds, sequential
from .blocks import DEFAULT_MAX_TIME, DEFAULT_SUBSET
from .compare import RefusedError, Settings, compare, exit_code
from .options import add_gate_arguments, add_look_arguments, looks_from, settings_from

SIDES = ("base", "candidate")
# The candidate's tree: a name as long as "base", so that with the layout fixed
# (bench.suite.command.with_fixed_layout) both sides' paths, and so their
# processes' memory, differ in no length.
CANDIDATE_TREE = "cand"
MANIFEST = "ab.json"
SET_ASIDE = "set-aside"
MAX_TIMES = "max-times.json"
# What a resumed run must share with the run it resumes.
RESUMED_FIELDS = ("base", "candidate_id", "seed", "subset", "max_time", "schedule")


def load_sides(out: Path, blocks: int | None = None) -> tuple[list[runs.Run], list[runs.Run]]:
    """The saved runs of (base, candidate) in block order: every one, or those of
    the first `blocks` blocks."""
    base, candidate = ([runs.load(p) for p in sorted((out / side).glob("block-*.json"))
                        if blocks is None or int(p.stem.split("-")[1]) <= blocks]
                       for side in SIDES)
    return base, candidate


def judge(out: Path, settings: Settings):
    base, candidate = load_sides(out)
    return base, candidate, compare(base, candidate, settings)


def parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m bench ab", __doc__)
    p.add_argument("base", help="git revision of the baseline (e.g. main, HEAD~1, a sha)")
    p.add_argument("candidate", nargs="?", help="git revision (default: the working tree)")
    p.add_argument("-k", dest="subset", default=DEFAULT_SUBSET,
                   help=f"pytest -k expression of the gated benchmarks (default {DEFAULT_SUBSET!r})")
    p.add_argument("--max-time", type=float, default=DEFAULT_MAX_TIME,
                   help="--benchmark-max-time per benchmark and process: every benchmark's in "
                        "the first blocks, the most any gets after them (bench.gate.rounds; "
                        f"default {DEFAULT_MAX_TIME})")
    p.add_argument("--seed", type=int, default=None, help="seed of the block order (default: random)")
    p.add_argument("--out", type=Path, default=None,
                   help="folder for the runs and verdicts (default .benchmarks/ab/<time>)")
    add_look_arguments(p)
    add_gate_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = settings_from(args)
        looks = looks_from(args, settings.alpha)
        root = repository_root(Path.cwd())
    except (ValueError, RunError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return Exit.USAGE
    if mnist_dir_problem():
        print(f"error: {mnist_dir_problem()}", file=sys.stderr)
        return Exit.USAGE
    out = (args.out or root / ".benchmarks" / "ab" / time.strftime("%Y%m%d-%H%M%S")).resolve()
    try:
        previous = previous_manifest(out)
        out.mkdir(parents=True, exist_ok=True)
        probe = atomic.write_text(out / ".writable", "")
        probe.unlink()
    except RunError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return Exit.USAGE
    except OSError as exc:
        print(f"error: --out {out}: cannot write there ({exc.strerror or exc})", file=sys.stderr)
        return Exit.USAGE
    ab = ABRun(args, settings, looks, root, out, previous)
    try:
        with interruptible():
            return ab.run()
    except Interrupted as exc:
        print(f"interrupted ({exc.name}): worktrees and temporary trees removed; "
              f"{len(ab.manifest.get('blocks', []))} finished block(s) kept in {out}; "
              f"the same command with --out {out} resumes from them", file=sys.stderr)
        return exc.exit_code
    except RefusedError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return Exit.INCOMPARABLE
    except (RunError, MeasureError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return Exit.USAGE


def previous_manifest(out: Path) -> dict | None:
    """The manifest of an interrupted run in out (resumed), None for a new or empty
    folder; RunError for a folder holding anything else."""
    if not out.exists() or not any(out.iterdir()):
        return None
    path = out / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise RunError(f"{out} is not empty and holds no readable {MANIFEST} of an "
                       "interrupted run to resume; give another --out") from None
    if not isinstance(manifest, dict) or "wall_s" in manifest:
        raise RunError(f"{out} holds a finished run ({MANIFEST}); give another --out")
    return manifest


class ABRun:
    """One `bench ab` run into out, resuming the finished blocks of `previous`."""

    def __init__(self, args, settings: Settings, looks: tuple[sequential.Look, ...], root: Path,
                 out: Path, previous: dict | None):
        self.args, self.settings, self.looks, self.root, self.out = args, settings, looks, root, out
        self.previous = previous or {}
        self.manifest: dict = {}
        # Blocks of the interrupted run, by index: finished, and set aside.
        self.done = {b["block"]: b for b in self.previous.get("blocks", [])}
        self.aside = {b["block"]: b for b in self.previous.get("set_aside", [])}
        self.started = time.perf_counter()
        # Per-benchmark times (bench.gate.rounds): chosen once, after BUDGET_AFTER blocks.
        self.times_chosen = False
        self.max_times: Path | None = None

    def run(self) -> int:
        args, out = self.args, self.out
        seed = args.seed if args.seed is not None else self.previous.get(
            "seed", random.SystemRandom().randrange(2**31))
        with ExitStack() as stack:
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-ab-")))
            base_path, base_sha = worktree(stack, self.root, args.base, scratch / "base")
            if args.candidate:
                cand_path, cand_sha = worktree(stack, self.root, args.candidate,
                                               scratch / CANDIDATE_TREE)
                cand_label, cand_id = f"{args.candidate} ({cand_sha[:12]})", cand_sha
            else:
                cand_path = snapshot(self.root, scratch / CANDIDATE_TREE)
                head = git("rev-parse", "HEAD", cwd=self.root)
                cand_label = f"the working tree (on {head[:12]})"
                cand_id = f"working tree {digest(cand_path)}"
            # Sides whose kernels now load from numba's cache: carried from the checkout,
            # or from the other side's tree after its first process compiled them.
            self.compiled = {side for side, path in zip(SIDES, (base_path, cand_path))
                             if compile_cache.carry_said(self.root, path, side)}
            mnist_dir = local_mnist_dir()
            envs = {"base": (base_path, side_env(base_path, mnist_dir, keep_slowdown=False)),
                    "candidate": (cand_path, side_env(cand_path, mnist_dir, keep_slowdown=True))}
            # Each side's processes forked from a server that imported torch and the
            # suite once (bench.forkserver); subprocesses where it cannot fork.
            self.trees = {side: Tree(path, env, stack.enter_context(
                              forkserver.serving(path, env, fixed_layout=True)))
                          for side, (path, env) in envs.items()}
            self.manifest = {
                "base": {"revision": args.base, "sha": base_sha},
                "candidate": {"revision": args.candidate or "working tree", "label": cand_label},
                "candidate_id": cand_id, "seed": seed, "subset": args.subset,
                "max_time": args.max_time, "schedule": [look.blocks for look in self.looks],
                "look_alpha": [look.alpha for look in self.looks],
                "settings": output.as_json([], self.settings)["settings"],
                "blocks": [], "set_aside": []}
            self.check_resumable()
            self.rng = random.Random(seed)
            first = self.looks[0].blocks
            for index in range(1, first + 1):
                self.block(index, [])
            self.index = first
            result = sequential.run(self.looks, self.judge_at, self.more_blocks,
                                    self.settings.detect, self.settings.estimator)
            rows = result.rows
        wall = time.perf_counter() - self.started + self.previous.get("elapsed_s", 0)
        self.manifest["wall_s"] = round(wall, 1)
        self.manifest["stopped_at_look"] = result.stopped.number
        self.save_manifest()
        kept, aside = len(self.manifest["blocks"]), len(self.manifest["set_aside"])
        header = (f"Base {args.base} ({base_sha[:12]}) against {cand_label}: "
                  f"{kept} blocks of one fresh process per side in random order "
                  f"(seed {seed}), -k \"{args.subset}\", {self.base[0].machine['cpu']}, "
                  f"{wall / 60:.1f} min. {output.looks_text(self.looks, result)}"
                  + (f" {aside} block(s) set aside (a process crashed or saved an unusable "
                     f"run twice; see {SET_ASIDE}/): the verdict comes from the other "
                     f"{kept}." if aside else ""))
        print(output.text_table(rows, self.settings))
        print(f"\n{output.looks_text(self.looks, result)}")
        if aside:
            print(f"\n{aside} block(s) set aside; the verdict comes from the other {kept}")
        output.write(rows, self.settings, out / "gate.md", out / "gate.json", header,
                     output.looks_json(self.looks, result, kept))
        print(f"\nruns and verdicts in {out} ({wall:.0f} s)")
        return exit_code(rows, self.settings)

    def check_resumable(self) -> None:
        if not self.previous:
            return
        differing = [name for name in RESUMED_FIELDS
                     if self.previous.get(name) != self.manifest[name]]
        if differing:
            raise RunError(f"{self.out} holds an interrupted run of other settings "
                           f"({', '.join(differing)} differ); give another --out, or the same "
                           "revisions and options to resume it")
        print(f"resuming the interrupted run in {self.out}: {len(self.done)} finished "
              f"block(s) kept, seed {self.manifest['seed']}", flush=True)

    def judge_at(self, look: sequential.Look):
        """Every row from the blocks so far, with this look's share of alpha."""
        self.base, _, rows = judge(self.out, replace(self.settings, alpha=look.alpha))
        return rows

    def more_blocks(self, keys: list[str], count: int) -> int:
        print(f"{len(keys)} benchmark(s) undecided: {count} more block(s) for them", flush=True)
        for _ in range(count):
            self.index += 1
            self.block(self.index, keys)
        return count

    def block(self, index: int, targets: list[str]) -> None:
        """One block: a process per side, in random order (drawn even for a block
        kept from an interrupted run, so that the blocks after it keep theirs)."""
        order = self.rng.sample(SIDES, len(SIDES))
        entry = {"block": index, "order": order, "targets": targets or "subset"}
        files = [self.out / side / f"block-{index:03d}.json" for side in SIDES]
        previous = self.done.get(index) or self.aside.get(index)
        if previous is not None and previous.get("order") == order:
            if "error" in previous:
                self.manifest["set_aside"].append(previous)
                return
            if all(f.is_file() for f in files):
                self.manifest["blocks"].append(entry)
                self.progress(index, order, targets, "kept from the interrupted run")
                return
        if index > rounds.BUDGET_AFTER and not self.times_chosen:
            self.choose_times()
        error = None
        for attempt in (1, 2):
            try:
                for side in order:
                    extra = {"max_times": self.max_times} if self.max_times else {}
                    # Memory is the same in every process: judged from the first blocks.
                    path = measure(self.trees[side], self.out / side / f"block-{index:03d}.json",
                                   targets, self.args.subset, self.args.max_time,
                                   memory=index <= rounds.BUDGET_AFTER, **extra)
                    runs.require_samples(runs.load(path))
                    self.share_compiled(side)
                error = None
                break
            except (MeasureError, RunError) as exc:
                error = str(exc)
                for f in files:
                    f.unlink(missing_ok=True)
                if attempt == 1:
                    print(f"block {index}: {error.splitlines()[0]}; running it once more",
                          flush=True)
        if error is not None:
            log = self.out / SET_ASIDE / f"block-{index:03d}.log"
            log.parent.mkdir(exist_ok=True)
            atomic.write_text(log, error + "\n")
            self.manifest["set_aside"].append({**entry, "error": error.splitlines()[0]})
            self.save_manifest()
            print(f"block {index} set aside: it failed twice ({log})", flush=True)
            if not self.manifest["blocks"] and len(self.manifest["set_aside"]) >= 2:
                raise MeasureError(f"every block so far failed twice; the last: "
                                   f"{error.splitlines()[0]} (its output: {log})")
            return
        self.manifest["blocks"].append(entry)
        self.save_manifest()
        self.progress(index, order, targets)

    def choose_times(self) -> None:
        """Each benchmark's time per process from the blocks so far (bench.gate.rounds),
        written to DIR/max-times.json for both sides of every later block; kept at
        --max-time when either side's suite cannot take them."""
        self.times_chosen = True
        if not all(tree.takes(MAX_TIMES_OPTION) for tree in self.trees.values()):
            print("rounds: a side's suite takes no per-benchmark times; every block runs "
                  f"at --max-time {self.args.max_time}", flush=True)
            return
        # The first blocks only, so that a resumed run chooses the same times.
        base, candidate = load_sides(self.out, rounds.BUDGET_AFTER)
        times = rounds.budgets(base, candidate, self.args.max_time)
        path = self.out / MAX_TIMES
        atomic.write_text(path, json.dumps(times, indent=1))
        self.max_times = path
        self.manifest["max_times"] = times
        shorter = sorted(t for t in times.values() if t < self.args.max_time)
        print(f"rounds: from {rounds.BUDGET_AFTER} blocks, {len(shorter)} of {len(times)} "
              f"benchmarks need less than --max-time {self.args.max_time} s a process"
              + (f" (median {shorter[len(shorter) // 2]:.3g} s)" if shorter else ""), flush=True)

    def share_compiled(self, side: str) -> None:
        """After a side's first process compiled its kernels: into the other
        side's tree too, where that has the same kernels and no cache yet."""
        if side in self.compiled:
            return
        self.compiled.add(side)
        for other in SIDES:
            if other not in self.compiled and compile_cache.carry_said(
                    self.trees[side].path, self.trees[other].path, other,
                    origin=f"the {side} side's first process"):
                self.compiled.add(other)

    def progress(self, index: int, order: list[str], targets: list[str], note: str = "") -> None:
        print(f"[{time.perf_counter() - self.started:5.0f} s] block {index}: "
              f"{' then '.join(order)}" + (f" ({len(targets)} benchmarks)" if targets else "")
              + (f" ({note})" if note else ""), flush=True)

    def save_manifest(self) -> None:
        self.manifest["elapsed_s"] = round(time.perf_counter() - self.started
                                           + self.previous.get("elapsed_s", 0), 1)
        atomic.write_text(self.out / MANIFEST, json.dumps(self.manifest, indent=1))


if __name__ == "__main__":
    cli.exit_with(main, command="python -m bench ab", extra="test")
