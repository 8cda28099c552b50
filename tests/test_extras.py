"""Every command of README's table, run without its optional extra: one line
naming the extra and exit 2, no traceback; its --help works with no extras at
all. One child process, with every optional module blocked (an import of a
blocked module fails as if it were not installed), runs every command in turn."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench import extras
from bench.exitcodes import Exit

pytestmark = pytest.mark.spawns

ROOT = Path(__file__).resolve().parents[1]
# What the optional extras bring (import names): blocked in the child.
OPTIONAL = ["scipy", "pytest_benchmark", "matplotlib", "ruptures", "pyarrow", "duckdb", "pytest",
            "xdist", "hypothesis", "memray", "numba", "triton"]
# (module run as `python -m`, its arguments, the extra it must name)
COMMANDS = [
    ("bench", ["run"], "test"),
    ("bench", ["ab", "HEAD"], "test"),
    ("bench", ["study"], "test"),
    ("bench", ["history"], "history"),
    ("bench", ["keep", "0001", "--into", "kept"], "history"),
    ("bench", ["report"], "report"),
    ("bench", ["gate", "0001", "0002"], "gate"),
    ("bench.gate", ["0001", "0002"], "gate"),
    ("bench.report", [], "report"),
    ("bench.history", [], "history"),
]

CHILD = """
import contextlib, io, json, runpy, sys, warnings
# runpy's note on re-running a module the dispatcher already imported, not the command's output
warnings.filterwarnings("ignore", message=".*found in sys.modules", category=RuntimeWarning)
blocked, commands = json.loads(sys.argv[1])
sys.modules.update({name: None for name in blocked})
results = []
for module, args in commands:
    err, out = io.StringIO(), io.StringIO()
    sys.argv = [module, *args]
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
            code = 0
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        except BaseException as error:
            code, err = "raised", io.StringIO(repr(error))
    results.append([code, out.getvalue(), err.getvalue()])
print(json.dumps(results))
"""


def run_all(commands: list[tuple[str, list[str]]], tmp_path: Path) -> list[tuple[int, str, str]]:
    done = subprocess.run([sys.executable, "-c", CHILD, json.dumps([OPTIONAL, commands])],
                          cwd=tmp_path, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT),
                                             "HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    runs = [(module, args) for module, args, _ in COMMANDS]
    helps = [(module, [*args[:1], "--help"] if module == "bench" else ["--help"]) for module, args, _ in COMMANDS]
    both = run_all(runs + helps, tmp_path_factory.mktemp("no-extras"))
    return {"runs": both[:len(runs)], "helps": both[len(runs):]}


@pytest.mark.parametrize("index", range(len(COMMANDS)), ids=[" ".join([m, *a]) for m, a, _ in COMMANDS])
def test_a_command_without_its_extra_names_it_in_one_line_and_exits_2(results, index):
    module, args, extra = COMMANDS[index]
    code, out, err = results["runs"][index]
    assert code == Exit.USAGE, (code, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert f"the '{extra}' extra" in lines[0] and f"pip install 'matmul-bench[{extra}]'" in lines[0], err


@pytest.mark.parametrize("index", range(len(COMMANDS)), ids=[" ".join([m, *a]) for m, a, _ in COMMANDS])
def test_help_needs_no_extra(results, index):
    code, out, err = results["helps"][index]
    assert code == Exit.OK and "Traceback" not in err, (code, out, err)
    assert "python -m bench" in out, out


def test_an_extra_is_read_from_the_installed_metadata_or_the_project_is_not_installed():
    declared = extras.declared("gate")
    assert declared == [] or {"scipy", "pytest-benchmark"} <= set(declared), declared


def test_a_missing_module_of_the_project_itself_is_a_bug_not_a_missing_extra():
    own = ModuleNotFoundError("No module named 'bench.nothing'", name="bench.nothing")
    assert extras.MissingExtra.of(own, "python -m bench x", "gate") is None
    other = ModuleNotFoundError("No module named 'scipy.special'", name="scipy.special")
    assert "(scipy is missing)" in str(extras.MissingExtra.of(other, "python -m bench x", "gate"))
