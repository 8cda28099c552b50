"""The regression gate: several processes per side, the spread between them
measured, a verdict per benchmark with the slowdown it can catch.

- bench.gate.decide: the statistics; bench.gate.compare: runs -> rows;
- bench.gate.output: text, markdown and JSON; `python -m bench.gate`: the gate on saved runs;
- bench.gate.ab: `python -m bench ab`, two git revisions measured in interleaved processes,
  looking at the blocks as they arrive and stopping when decided (bench.gate.sequential);
- bench.gate.study: `python -m bench study`, how often the gates cry wolf and catch real changes.
"""
