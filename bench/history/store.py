"""The store of kept runs: Parquet files of kept rows, read by DuckDB.

One file per kept run (`<run id>.parquet`), written once and never appended
to. Opening a file costs the same however few rows it holds, so thousands of
single-run files are slow to read; `pack` merges a folder's single-run files
into one pack (`pack-<first run>-<last run>.parquet`, written once, then the
singles removed): the store stays files that never grow, and a history of
10 000 runs is a handful of files. Packs and singles are the same rows, read
by the same query; a run in both (a pack written, its singles not yet
removed) is read once. Reading goes through DuckDB's read_parquet, which
takes local paths and globs as well as `s3://`, `gs://`, `https://` (its
httpfs extension) locations: a fleet's runs kept in object storage are read
by the same call as a folder here (README, "History").
"""
from __future__ import annotations

import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from bench.runs import RunError

from .kept import KEPT_MODES, KEPT_SCHEMA, RUN_COLUMNS

KEPT_SUFFIX = ".parquet"
PACK_PREFIX = "pack-"
RUN_FIELDS = [name for name, _ in RUN_COLUMNS]
# What a series needs of each row (the workload and environment stay in the files).
ROW_FIELDS = ["run", "order", "key", "name", "group", "reference", "kernel", "span",
              *[f"{mode}_{part}" for mode in KEPT_MODES for part in ("median", "low", "high")],
              "peak_bytes"]
REMOTE_SCHEMES = ("s3://", "s3a://", "gs://", "gcs://", "r2://", "az://", "abfss://",
                  "http://", "https://", "hf://")


def is_location(spec: str) -> bool:
    """Whether spec names kept runs for DuckDB rather than a local saved run:
    a URL, a glob, or a .parquet path."""
    return (spec.startswith(REMOTE_SCHEMES) or spec.startswith("file://")
            or any(c in spec for c in "*?[") or spec.endswith(KEPT_SUFFIX))


def write(table: pa.Table, folder: Path, run_id: str) -> Path:
    """folder/<run_id>.parquet, whole or not at all (written beside it, then renamed)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{run_id}{KEPT_SUFFIX}"
    temporary = folder / f".{run_id}.{os.getpid()}.tmp"  # beside it, with the usual mode
    try:
        pq.write_table(table, temporary, compression="zstd")
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def singles(folder: Path) -> list[Path]:
    """The folder's single-run kept files (not packs)."""
    return sorted(p for p in folder.glob(f"*{KEPT_SUFFIX}")
                  if p.is_file() and not p.name.startswith(PACK_PREFIX))


def pack(folder: Path, minimum: int) -> Path | None:
    """One pack of the folder's single-run files when there are at least `minimum`,
    then the singles removed; the pack's path, or None when there were fewer."""
    import duckdb

    members = singles(folder)
    if not members or len(members) < minimum:
        return None
    files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in members)
    path = folder / f"{PACK_PREFIX}{members[0].stem}-{members[-1].stem}{KEPT_SUFFIX}"
    temporary = folder / f".{path.name}.tmp"
    connection = duckdb.connect()
    try:
        connection.execute(
            f"COPY (SELECT * FROM read_parquet([{files}], union_by_name = true) "
            f"ORDER BY run, \"order\") TO '{str(temporary).replace(chr(39), chr(39) * 2)}' "
            "(FORMAT parquet, COMPRESSION zstd)")
        os.replace(temporary, path)
    except duckdb.Error as exc:
        raise RunError(f"{folder}: could not pack its kept runs: "
                       f"{str(exc).strip().splitlines()[0]}") from None
    finally:
        connection.close()
        temporary.unlink(missing_ok=True)
    for member in members:  # only once the pack is whole: a crash leaves both, read once
        member.unlink()
    return path


def read(locations: list[str], saved: pa.Table | None = None) -> tuple[pa.Table, pa.Table]:
    """The kept runs at these locations (paths, globs or URLs) and the saved runs'
    rows (kept.summarize's) as (one row per run: its RUN_COLUMNS, one row per run
    and benchmark: what a series needs). A run or benchmark found twice (kept and
    saved, or in a pack and its own file) has its rows twice (series.build keeps
    one). RunError names a fault."""
    import duckdb

    connection = duckdb.connect()
    parts = []
    if locations:
        files = ", ".join("'" + location.replace("'", "''") + "'" for location in locations)
        # union_by_name: files kept by older versions may lack a column (read as null)
        parts.append(f"SELECT * FROM read_parquet([{files}], union_by_name = true)")
    if saved is not None and saved.num_rows:
        connection.register("saved", saved)
        parts.append("SELECT * FROM saved")
    if not parts:
        return KEPT_SCHEMA.empty_table().select(RUN_FIELDS), KEPT_SCHEMA.empty_table()
    try:
        connection.execute("CREATE TEMP TABLE kept AS " + " UNION ALL BY NAME ".join(parts))
        # every row of a run holds the same run fields: any one of them will do
        fields = ", ".join(f'any_value("{name}") AS "{name}"' for name in RUN_FIELDS[1:])
        runs = connection.sql(f"SELECT run, {fields} FROM kept GROUP BY run").to_arrow_table()
        # a column no file has (kept before it existed) reads as null
        present = {row[0] for row in connection.sql("DESCRIBE kept").fetchall()}
        columns = ", ".join(f'"{name}"' if name in present else f'NULL AS "{name}"'
                            for name in ROW_FIELDS)
        rows = connection.sql(f"SELECT {columns} FROM kept").to_arrow_table()
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        where = (locations[0] + (f" and {len(locations) - 1} more" if len(locations) > 1 else "")
                 if locations else "saved runs")
        raise RunError(f"kept runs {where}: {first}") from None
    finally:
        connection.close()
    return (runs.cast(pa.schema([KEPT_SCHEMA.field(c) for c in RUN_FIELDS])),
            rows.cast(pa.schema([KEPT_SCHEMA.field(c) for c in ROW_FIELDS])))


def _quoted(names: list[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)
