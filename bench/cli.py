"""What every command shares: its argument parser built from its docstring (the
first paragraph is the description, everything after the usage the epilog),
and its exit: an unexpected error is one line and Exit.USAGE, never 1, which
means a regression and nothing else (bench.exitcodes)."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import NoReturn

from bench import extras
from bench.exitcodes import Exit

INTERRUPTED = 130  # the shell's code for a command ended by Ctrl-C (128 + SIGINT)


def parser(prog: str, doc: str) -> argparse.ArgumentParser:
    paragraphs = doc.split("\n\n", 2)
    return argparse.ArgumentParser(prog=prog, description=paragraphs[0],
                                   epilog=paragraphs[2] if len(paragraphs) > 2 else None,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)


def run(main: Callable[..., int], *args, command: str | None = None, extra: str | None = None) -> int:
    """main(*args)'s exit code; an unexpected error or an interrupt as one line on stderr.

    With `extra` (the optional extra the command needs, bench.extras), a missing
    one is found before main starts, unless only --help is asked for, and an
    import that fails later names it too: one line, exit 2."""
    argv = args[0] if args and isinstance(args[0], list) else sys.argv[1:]
    try:
        if extra and not {"-h", "--help"} & set(argv):
            extras.require(command or "this command", extra)
        return int(main(*args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return INTERRUPTED
    except extras.MissingExtra as exc:
        print(f"error: {exc}", file=sys.stderr)
        return Exit.USAGE
    except ImportError as exc:
        missing = extras.MissingExtra.of(exc, command or "this command", extra) if extra else None
        print(f"error: {missing or f'unexpected {type(exc).__name__}: {exc}'}", file=sys.stderr)
        return Exit.USAGE
    except Exception as exc:  # noqa: BLE001 - the one place that turns any crash into exit 2
        print(f"error: unexpected {type(exc).__name__}: {exc}", file=sys.stderr)
        return Exit.USAGE


def exit_with(main: Callable[..., int], *args, command: str | None = None,
              extra: str | None = None) -> NoReturn:
    """For `if __name__ == "__main__"`: run main and exit with its code."""
    sys.exit(run(main, *args, command=command, extra=extra))
