"""The gate study: how often each gate cries wolf on unchanged code, and how
often it catches real code changes, with and without a noisy neighbour.

- patches.py: plausible code changes applied to a copy of the tree;
- neighbour.py: a bounded background load on one core;
- record.py: groups of fresh processes, one per tree, in random order;
- previous.py: the single-run gate this project used before, for comparison;
- judge.py: every gate on the same recorded processes;
- cli.py: `python -m bench study`.
"""
