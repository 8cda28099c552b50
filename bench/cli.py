"""One way for every command to build its argument parser from its docstring:
the first paragraph is the description, everything after the usage is the epilog."""
from __future__ import annotations

import argparse


def parser(prog: str, doc: str) -> argparse.ArgumentParser:
    paragraphs = doc.split("\n\n", 2)
    return argparse.ArgumentParser(prog=prog, description=paragraphs[0],
                                   epilog=paragraphs[2] if len(paragraphs) > 2 else None,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
