"""Markdown tables read back as dicts, so tests look cells up by header and a new
column breaks no assertion about the others."""
from __future__ import annotations

import re

_UNESCAPED_BAR = re.compile(r"(?<!\\)\|")


def parse(lines: str) -> list[dict[str, str]]:
    """Every row of the first markdown table in `lines`, as {header: cell}."""
    rows = [line.strip() for line in lines.splitlines()]
    start = next((i for i, line in enumerate(rows) if line.startswith("|")), None)
    if start is None:
        raise ValueError("no markdown table in the text")
    table = []
    for line in rows[start:]:
        if not line.startswith("|"):
            break
        table.append([cell.strip().replace("\\|", "|")
                      for cell in _UNESCAPED_BAR.split(line.strip("|"))])
    header, rule, *body = table
    if len(set(header)) != len(header):
        raise ValueError(f"the table repeats a header: {header}")
    if not all(set(c) <= set("-:") and c for c in rule):
        raise ValueError(f"the table's second line is not a rule: {rule}")
    return [dict(zip(header, row, strict=True)) for row in body]


def by_first_column(lines: str) -> dict[str, dict[str, str]]:
    """The first table's rows keyed by their first cell."""
    rows = parse(lines)
    return {next(iter(row.values())): row for row in rows}
