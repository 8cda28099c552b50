"""Saved runs: checked before the suite runs, written whole, marked when partial,
and reported to `python -m bench run`.

- Storage: a run to be saved (--benchmark-autosave, --benchmark-save) or
  exported (--benchmark-json) needs a folder it can write; one that cannot is
  a usage error before the first benchmark, not a traceback after the last.
- Whole: pytest-benchmark opens the final file name and then writes, so an
  interrupt leaves an empty run behind; here each run is written under a
  temporary name and renamed (bench.atomic).
- Partial: a benchmark the session selected but did not finish (interrupted,
  failed, not reached) is left out of the saved run, and the run lists it
  under bench.runs.PARTIAL; skipped benchmarks are not missing.
- Record: with $MATMUL_BENCH_RECORD set (`bench run` sets it), the paths saved
  and the counts of benchmarks timed and skipped, as JSON in that file.
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from pytest_benchmark.utils import safe_dumps

from bench import atomic, runs

RECORD_ENV = "MATMUL_BENCH_RECORD"


class SavingPlugin:
    def __init__(self, config):
        self.config = config
        self.selected: list[str] = []       # benchmarks the session will run
        self.finished: set[str] = set()     # ... that passed
        self.skipped: dict[str, str] = {}   # ... skipped, with the reason
        self.saved: list[str] = []          # runs saved to storage
        self.exported: list[str] = []       # --benchmark-json files
        self.interrupted = False

    @property
    def session(self):
        return getattr(self.config, "_benchmarksession", None)

    # ---------------------------------------------------------------- before

    @pytest.hookimpl(trylast=True)
    def pytest_sessionstart(self, session):
        bs = self.session
        if bs is None or bs.disabled:
            return
        if (bs.save or bs.autosave) and hasattr(bs.storage, "path"):  # file storage
            folder = run_folder(bs.storage.path, bs.storage.default_machine_id)
            usage_error(writable_problem(folder, "--benchmark-storage"))
            wrap_storage(bs.storage, self.saved.append)
        if bs.json:
            usage_error(writable_problem(Path(bs.json).resolve().parent, "--benchmark-json"))

            def save_json(output_json):
                atomic.write_bytes(Path(bs.json), dump(output_json))
                bs.logger.info(f"Wrote benchmark data in: {bs.json}", purple=True)
                self.exported.append(str(bs.json))

            bs.save_json = save_json

    def pytest_collection_finish(self, session):
        self.selected = [item.nodeid for item in session.items
                         if "benchmark" in getattr(item, "fixturenames", ())]

    # ---------------------------------------------------------------- during

    def pytest_runtest_logreport(self, report):
        if report.skipped:
            longrepr = report.longrepr
            reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
            self.skipped[report.nodeid] = str(reason).removeprefix("Skipped: ")
        elif report.when == "call" and report.passed:
            self.finished.add(report.nodeid)

    def pytest_keyboard_interrupt(self, excinfo):
        self.interrupted = True

    # ---------------------------------------------------------------- saving

    def pytest_benchmark_update_json(self, config, benchmarks, output_json):
        """Keep the finished benchmarks; list the selected ones that did not finish."""
        entries = output_json.get("benchmarks", [])
        kept = [e for e in entries if e.get("fullname") in self.finished]
        missing = [n for n in self.selected if n not in self.finished and n not in self.skipped]
        output_json["benchmarks"] = kept
        if missing:
            reason = ("the session was interrupted" if self.interrupted
                      else "they failed or did not run")
            output_json[runs.PARTIAL] = {"missing": missing, "reason": reason}

    def pytest_sessionfinish(self, session):
        record = os.environ.get(RECORD_ENV)
        if not record:
            return
        atomic.write_text(Path(record), json.dumps({
            "saved": self.saved, "exported": self.exported, "selected": len(self.selected),
            "finished": len(self.finished), "skipped": len(self.skipped),
            "skip_reasons": sorted(set(self.skipped.values()))[:5],
            "interrupted": self.interrupted}))


def dump(output_json: dict) -> bytes:
    return safe_dumps(output_json, ensure_ascii=True, indent=4).encode()


def run_folder(storage_path: Path, machine_id: str | None) -> Path:
    """Where pytest-benchmark's file storage puts this machine's runs."""
    return Path(storage_path) / machine_id if machine_id else Path(storage_path)


def writable_problem(folder: Path, option: str) -> str | None:
    """Why runs cannot be written to folder (created if missing), else None."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # A probe of its own: processes saving into one folder at once do not collide.
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".writable-"):
            pass
    except OSError as exc:
        return f"{option}: cannot save runs in {folder} ({exc.strerror or exc}); nothing was timed"
    return None


def usage_error(problem: str | None) -> None:
    """pytest's one-line usage error, before any benchmark runs."""
    if problem:
        raise pytest.UsageError(problem)


def wrap_storage(storage, saved) -> None:
    """pytest-benchmark's file storage, saving each run whole (see the module's help)."""
    if not hasattr(storage, "get") or not hasattr(storage, "_next_num"):
        return  # another storage (elasticsearch): its own business

    def save(output_json, save):
        # The name as FileStorage.save picks it (its next number, in its folder).
        output_file = storage.get(f"{storage._next_num}_{save}.json")
        if output_file.exists():
            raise FileExistsError(f"{output_file}: a saved run of that name exists")
        atomic.write_bytes(output_file, dump(output_json))
        storage.logger.info(f"Saved benchmark data in: {output_file}")
        saved(str(output_file))

    storage.save = save
