"""Every benchmark across saved runs, and where its level changed.

    python -m bench history [RUNS, DIRS or LOCATIONS ...] [--out reports/history] [--png]
    python -m bench keep RUN... --into DIR [--pack N]

- kept.py: a run's kept form, one row per benchmark: what the history reads;
  a saved run is summarized into the same rows, so both give one history;
- store.py: kept runs as Parquet files (one per run, or packs), read by one
  DuckDB query from a folder, a glob or object storage; keep.py: the command;
- series.py: rows split per machine (KIND_FIELDS) and ordered by commit
  time; per benchmark one point per run, the median of its normalized samples
  (normalized as the gate does) with an exact interval (interval.py);
- changes.py: change points on each series: ruptures proposes, an explicit
  rule keeps a step that lasts, is large and is significant, and drops an
  outlier or a slow drift;
- output.py, page.py and plot.py: history.md, history.json, history.html,
  and on request one PNG per group.
"""
