"""The benchmark suite's tooling, by concern:

- bench.suite: the pytest plugin (fixtures, paired timing, what is benchmarked)
  and the one definition of a gate-ready run;
- bench.runs, bench.storage: saved runs, the model every tool below reads;
- bench.gate: the regression gate, `python -m bench ab` and the gate study;
- bench.report: the ladder report with the machine's roofline;
- bench.history: every benchmark across saved runs, with change points.

`python -m bench` lists the commands.
"""
