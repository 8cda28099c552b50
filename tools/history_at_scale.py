"""`bench history` at scale, and the kept runs' store format, measured.

    python tools/history_at_scale.py [--runs 1000 10000] [--formats] [--work DIR]

For each count: a synthetic store (tests/synthetic_kept.py: 61 benchmarks,
runs alternating between 2 machine kinds, a +10 % step injected on one
benchmark of the first kind at 60 % of the runs), one file per run, then the
same packed into one file (bench keep --pack); over each, `python -m bench
history STORE` under /usr/bin/time -v: wall time, peak RSS, and whether
exactly the injected step was reported. With --formats, the same rows kept
one file per run as Parquet (read by DuckDB, and by pyarrow), JSON lines
(read by Python's json, and by DuckDB) and SQLite: bytes per run and the time
to read every run into one table. Prints a markdown table of each.
"""
from __future__ import annotations

import argparse
import json
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402

import synthetic_kept  # noqa: E402
from bench.history import store  # noqa: E402
from bench.history.kept import KEPT_SCHEMA  # noqa: E402


def timed_history(store: Path, out: Path) -> dict:
    command = ["/usr/bin/time", "-v", sys.executable, "-m", "bench", "history", str(store),
               "--out", str(out)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench history failed ({done.returncode}): {done.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\S+)", done.stderr)[1]
    seconds = sum(float(part) * 60 ** i for i, part in enumerate(reversed(wall.split(":"))))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1])
    return {"wall_s": seconds, "rss_mb": rss / 1024,
            "changes": json.loads((out / "history.json").read_text())}


def scale(counts: list[int], work: Path) -> None:
    print("| runs | store | files | size | build | `bench history` wall | per 1 000 runs | "
          "peak RSS | changes reported |")
    print("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    names = synthetic_kept.benchmark_names()
    for count in counts:
        folder = work / f"store-{count}"
        at = int(count * 0.6) // 2 * 2  # a run of the first kind
        started = time.perf_counter()
        synthetic_kept.write_store(folder, count, step_at=at)
        built = {"single-run files": time.perf_counter() - started}
        expected = [(names[0][1], f"{at + 1:05d}")]
        for layout in ("single-run files", "packed"):
            if layout == "packed":
                started = time.perf_counter()
                store.pack(folder, 1)
                built[layout] = time.perf_counter() - started
            files = list(folder.glob("*.parquet"))
            measured = timed_history(folder, work / f"out-{count}")
            found = [(c["benchmark"].rpartition("::")[2], c["run"], round(c["ratio"], 3))
                     for c in measured["changes"]]
            exact = [(name, run) for name, run, _ in found] == expected
            print(f"| {count} | {layout} | {len(files)} | "
                  f"{sum(p.stat().st_size for p in files) / 1e6:.1f} MB | {built[layout]:.1f} s | "
                  f"{measured['wall_s']:.2f} s | {measured['wall_s'] / count * 1000:.2f} s | "
                  f"{measured['rss_mb']:.0f} MB | "
                  f"{'exactly the injected step' if exact else 'NOT exact'}: {found} |", flush=True)


def formats(count: int, work: Path) -> None:
    import duckdb

    tables = list(synthetic_kept.kept_tables(count))
    folders = {name: work / f"format-{name}" for name in ("parquet", "jsonl", "sqlite")}
    for folder in folders.values():
        folder.mkdir(parents=True, exist_ok=True)
    for run_id, table in tables:
        pq.write_table(table, folders["parquet"] / f"{run_id}.parquet", compression="zstd")
        with open(folders["jsonl"] / f"{run_id}.jsonl", "w") as handle:
            for row in table.to_pylist():
                handle.write(json.dumps(row) + "\n")
        connection = sqlite3.connect(folders["sqlite"] / f"{run_id}.sqlite")
        columns = ", ".join(f'"{c}"' for c in KEPT_SCHEMA.names)
        connection.execute(f"CREATE TABLE kept ({columns})")
        connection.executemany(f"INSERT INTO kept VALUES ({', '.join('?' * len(KEPT_SCHEMA))})",
                               [tuple(r.values()) for r in table.to_pylist()])
        connection.commit()
        connection.close()

    def parquet_duckdb():
        files = sorted(str(p) for p in folders["parquet"].glob("*.parquet"))
        return duckdb.connect().sql("SELECT * FROM read_parquet($1)", params=[files]
                                    ).to_arrow_table()

    def parquet_pyarrow():
        return pa.concat_tables(pq.read_table(p) for p in sorted(folders["parquet"].iterdir()))

    def jsonl_python():
        rows = [json.loads(line) for p in sorted(folders["jsonl"].iterdir())
                for line in p.read_text().splitlines()]
        return pa.Table.from_pylist(rows, schema=KEPT_SCHEMA)

    def jsonl_duckdb():
        return duckdb.connect().sql(
            f"SELECT * FROM read_json('{folders['jsonl']}/*.jsonl', format='newline_delimited')"
        ).to_arrow_table()

    def sqlite_python():
        rows = []
        for p in sorted(folders["sqlite"].iterdir()):
            connection = sqlite3.connect(p)
            rows += connection.execute("SELECT * FROM kept").fetchall()
            connection.close()
        records = [dict(zip(KEPT_SCHEMA.names, r)) for r in rows]
        for record in records:  # SQLite keeps a bool as an integer
            record["dirty"] = bool(record["dirty"])
        return pa.Table.from_pylist(records, schema=KEPT_SCHEMA)

    whole = pa.concat_tables(table for _, table in tables)
    packs = work / "format-packs"
    packs.mkdir(exist_ok=True)
    pq.write_table(whole, packs / "pack.parquet", compression="zstd")
    with open(packs / "pack.jsonl", "w") as handle:
        for row in whole.to_pylist():
            handle.write(json.dumps(row) + "\n")

    def pack_parquet_duckdb():
        return duckdb.connect().sql(f"SELECT * FROM read_parquet('{packs}/pack.parquet')"
                                    ).to_arrow_table()

    def pack_jsonl_duckdb():
        return duckdb.connect().sql(
            f"SELECT * FROM read_json('{packs}/pack.jsonl', format='newline_delimited')"
        ).to_arrow_table()

    print(f"\n{count} runs x 61 benchmarks, one file per run, then all in one pack:\n")
    print("| format | read by | bytes per run | read every run into one table |")
    print("| --- | --- | ---: | ---: |")
    for name, reader, folder in [("Parquet (zstd)", parquet_duckdb, "parquet"),
                                 ("Parquet (zstd)", parquet_pyarrow, "parquet"),
                                 ("JSON lines", jsonl_python, "jsonl"),
                                 ("JSON lines", jsonl_duckdb, "jsonl"),
                                 ("SQLite", sqlite_python, "sqlite"),
                                 ("Parquet (zstd), one pack", pack_parquet_duckdb, "parquet"),
                                 ("JSON lines, one pack", pack_jsonl_duckdb, "jsonl")]:
        files = list(folders[folder].iterdir())
        per_run = sum(p.stat().st_size for p in files) / len(files)
        started = time.perf_counter()
        rows = reader().num_rows
        elapsed = time.perf_counter() - started
        if rows != count * 61:
            raise SystemExit(f"{name} read {rows} rows, expected {count * 61}")
        how = reader.__name__.split("_")[-1]
        if "pack" in name:
            pack = packs / ("pack.parquet" if folder == "parquet" else "pack.jsonl")
            per_run = pack.stat().st_size / count
        print(f"| {name} | {how} | {per_run / 1000:.1f} kB | {elapsed:.2f} s |")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, nargs="+", default=[1000, 10000])
    p.add_argument("--formats", type=int, metavar="RUNS", default=0,
                   help="also compare store formats over this many runs")
    p.add_argument("--work", type=Path, help="where to build the stores (default: a temporary folder)")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as temporary:
        work = args.work or Path(temporary)
        scale(args.runs, work)
        if args.formats:
            formats(args.formats, work)


if __name__ == "__main__":
    main()
