"""Tables driven by columns: every table of the report, the gate, the history
and the study is a list of `Column`s over a list of rows, rendered by one
helper. Adding a column is one `Column(...)` entry; a cell is a function of
its row, so no list of headers can drift from a list of cells."""
from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

Row = TypeVar("Row")
ALIGNMENTS = {"left": "---", "right": "---:"}


@dataclass(frozen=True)
class Column(Generic[Row]):
    """One column: its header, "left" or "right" alignment, and its cell for a row."""

    header: str
    align: str
    cell: Callable[[Row], str]

    def __post_init__(self) -> None:
        if self.align not in ALIGNMENTS:
            raise ValueError(f"column {self.header!r}: align must be one of "
                             f"{sorted(ALIGNMENTS)}, got {self.align!r}")


def markdown(columns: Sequence[Column[Row]], rows: Iterable[Row]) -> list[str]:
    """The table's lines in markdown (a "|" inside a cell is escaped)."""
    def line(cells: Iterable[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [line(c.header for c in columns),
            "| " + " | ".join(ALIGNMENTS[c.align] for c in columns) + " |",
            *(line(c.cell(row) for c in columns) for row in rows)]


def text(columns: Sequence[Column[Row]], rows: Iterable[Row]) -> list[str]:
    """The table's lines as plain text for a terminal: padded, a rule under the headers."""
    table = [[c.header for c in columns], *([c.cell(row) for c in columns] for row in rows)]
    widths = [max(len(line[i]) for line in table) for i in range(len(columns))]

    def line(cells: list[str]) -> str:
        return "  ".join(cell.rjust(w) if c.align == "right" else cell.ljust(w)
                         for c, cell, w in zip(columns, cells, widths)).rstrip()

    return [line(table[0]), "  ".join("-" * w for w in widths), *map(line, table[1:])]


def short_name(key: str) -> str:
    """A benchmark's test name without its module: what every table shows."""
    return key.rpartition("::")[2] or key
