"""The suite's commands:

    python -m bench run [--gate-ready] [pytest args]   the main job: timed suite, saved, ladder report
    python -m bench ab BASE [CANDIDATE] [options]      A/B regression gate between two git revisions
    python -m bench history [RUNS or DIRS] [--out DIR] every benchmark across saved runs, change points
    python -m bench keep RUN... --into DIR             saved runs in the compact form history reads
    python -m bench study [options]                    how often the gates cry wolf and catch slowdowns
    python -m bench report [RUN] [--out DIR]           the ladder report of a saved run
    python -m bench gate BASE CANDIDATE [options]      the gate on saved runs (ids, files or folders)

Each command's --help tells more.
"""
from __future__ import annotations

import importlib
import sys

from bench import cli, extras
from bench.exitcodes import Exit

COMMANDS = {
    "run": "bench.run_suite",
    "ab": "bench.gate.ab",
    "history": "bench.history.__main__",
    "keep": "bench.history.keep",
    "study": "bench.gate.study.cli",
    "report": "bench.report.__main__",
    "gate": "bench.gate.__main__",
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print(__doc__, file=sys.stderr)
        return Exit.OK if argv and argv[0] in ("-h", "--help") else Exit.USAGE
    return cli.run(importlib.import_module(COMMANDS[argv[0]]).main, argv[1:],
                   command=f"python -m bench {argv[0]}", extra=extras.COMMAND_EXTRA[argv[0]])


if __name__ == "__main__":
    cli.exit_with(main, sys.argv[1:])
