"""Every benchmark across saved runs, and where its level changed.

    python -m bench history [RUNS or DIRS ...] [--out reports/history]

- series.py: runs split per machine (MACHINE_FIELDS) and ordered by commit
  time; per benchmark one point per run, the median of its normalized samples
  (normalized as the gate does) with an exact interval (interval.py);
- changes.py: change points on each series: ruptures proposes, an explicit
  rule keeps a step that lasts, is large and is significant, and drops an
  outlier or a slow drift;
- output.py and plot.py: history.md, history.json, one PNG per group.
"""
