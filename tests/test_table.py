"""bench.table: one Column list renders a markdown and a text table; bench.cli:
an unexpected error in a command is one line and exit 2, never 1."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench import cli, table
from bench.exitcodes import Exit
from bench.table import Column
from markdown_tables import parse

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = [Column("name", "left", lambda r: r[0]), Column("value", "right", lambda r: f"{r[1]:g}")]


def test_markdown_has_a_header_a_rule_with_alignments_and_a_row_per_item():
    lines = table.markdown(COLUMNS, [("a|b", 1.5), ("c", 20)])
    assert lines[:2] == ["| name | value |", "| --- | ---: |"]
    assert parse("\n".join(lines)) == [{"name": "a|b", "value": "1.5"},
                                       {"name": "c", "value": "20"}]


def test_text_pads_each_column_by_its_alignment():
    assert table.text(COLUMNS, [("a", 1.5), ("long", 20)]) == [
        "name  value", "----  -----", "a       1.5", "long     20"]


def test_a_column_refuses_an_unknown_alignment():
    with pytest.raises(ValueError, match="column 'x': align must be one of"):
        Column("x", "centre", str)


def test_an_unexpected_error_is_one_line_and_exit_2(capsys):
    def crashes() -> int:
        raise KeyError("boom")

    assert cli.run(crashes) == Exit.USAGE
    assert capsys.readouterr().err == "error: unexpected KeyError: 'boom'\n"
    assert cli.run(lambda: Exit.REGRESSION) == 1


def test_exit_with_turns_a_crash_into_exit_2_without_a_traceback():
    """What every command's `if __name__ == "__main__"` runs."""
    done = subprocess.run([sys.executable, "-c", "from bench import cli; cli.exit_with(lambda: 1 / 0)"],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert done.stderr == "error: unexpected ZeroDivisionError: division by zero\n"


def test_every_command_exits_through_the_wrapper():
    for module in ("bench/__main__.py", "bench/gate/__main__.py", "bench/gate/ab.py", "bench/history/keep.py",
                   "bench/gate/study/cli.py", "bench/history/__main__.py",
                   "bench/report/__main__.py", "bench/run_suite.py", "data/__main__.py",
                   "matmul/__main__.py"):
        text = (ROOT / module).read_text()
        assert "cli.exit_with(main" in text and "sys.exit(main" not in text, module


@pytest.mark.parametrize("command", ["ab", "gate", "history", "keep", "report", "study"])
def test_every_command_prints_its_help(command, capsys):
    """Help text goes through argparse's % formatting: a stray % would crash it."""
    from bench.__main__ import main

    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0 and "usage:" in capsys.readouterr().out
