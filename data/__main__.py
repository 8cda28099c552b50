"""``python -m data fetch [--dir DIR]``: download (if needed) and verify MNIST."""

import argparse
import sys

from bench import cli
from bench.exitcodes import Exit

from .errors import MnistDataError
from .sources import ENV_CACHE, ENV_DIR, fetch


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    fetch_cmd = commands.add_parser(
        "fetch",
        help="store the four MNIST files and check their SHA256",
        description=(
            f"Store the four MNIST files in DIR (default: ${ENV_DIR}, else the per-user "
            f"cache, which ${ENV_CACHE} relocates), downloading only missing ones, "
            "and check every file's SHA256."
        ),
    )
    fetch_cmd.add_argument("--dir", help="folder to store the files in")
    fetch_cmd.add_argument("--no-progress", action="store_true", help="no download progress bar")
    args = parser.parse_args(argv)

    try:
        directory, raw = fetch(args.dir, progressbar=not args.no_progress)
    except MnistDataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return Exit.USAGE
    for name in raw:
        print(f"{name}  {directory / name}  sha256 OK")
    print(f"MNIST stored in {directory}")
    return Exit.OK


if __name__ == "__main__":
    cli.exit_with(main)
