"""The project's thresholds and targets, defined once: the gate, the history,
the study, the suite's marker help and the report import them from here."""

# The regression gate (bench.gate).
THRESHOLD = 0.05   # changes within ±5 % are never reported
ALPHA = 0.05       # family-wise: chance that any interval misses its true ratio
DETECT = 0.10      # what the gate promises to catch: benchmarks that cannot are flagged
POWER = 0.95       # the probability with which a detectable slowdown is caught (MDE)

# The history (bench.history): the smallest step reported is the gate's threshold.
MIN_CHANGE = THRESHOLD

# The gate study (bench.gate.study): a patch "really changes" a benchmark by
# at least the detection target.
REAL_CHANGE = DETECT

# The roofline targets the report checks (README, "The ladder on this machine").
SKINNY_TARGET = 1.15    # the skinny layer within 1.15x its roofline
FORWARD_TARGET = 0.80   # a forward pass at 80 % of the compute peak
