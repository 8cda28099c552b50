"""The sequential rule (bench.gate.sequential): its looks, its driver, and its
false-alarm guarantee and power proven by simulation.

The simulations are seeded and vectorised: thousands of gates of G benchmarks,
each benchmark's blocks drawn as per-process log medians from Student's t
with few degrees of freedom plus an occasional far process (a page-size or
placement accident), judged by the real code: the statistic's interval
(bench.gate.statistics.paired_bounds), Bonferroni (bench.gate.decide.tail),
the decision (bench.gate.decide.decided) and the driver (sequential.run). The
asserted bounds are exact binomial confidence bounds of the simulated rates
(Clopper-Pearson), so a test fails only when the rule's true rate is past
its promise, not because one seed was unlucky.
"""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
from scipy.stats import beta

from bench.gate import decide, sequential
from bench.gate.blocks import DEFAULT_MAX_PROCESSES, DEFAULT_MIN_PROCESSES, LOOKS
from bench.gate.compare import TIME, Row
from bench.gate.decide import Estimate, Outcome
from bench.gate.sequential import schedule
from bench.gate.statistics import DEFAULT, STATISTICS
from bench.policy import ALPHA, DETECT, POWER, THRESHOLD

DEFAULT_LOOKS = schedule(DEFAULT_MIN_PROCESSES, DEFAULT_MAX_PROCESSES, ALPHA)
CONFIDENCE = 0.999  # of the bounds the simulated rates are held to


def upper_bound(hits: int, total: int) -> float:
    return 1.0 if hits == total else float(beta.ppf(CONFIDENCE, hits + 1, total - hits))


def lower_bound(hits: int, total: int) -> float:
    return 0.0 if hits == 0 else float(beta.ppf(1 - CONFIDENCE, hits, total - hits + 1))


# ---------------------------------------------------------------- the looks

def test_the_default_looks_are_geometric_and_spend_alpha_in_proportion_to_blocks():
    assert [look.blocks for look in DEFAULT_LOOKS] == [6, 8, 12, 17, 24]
    assert len(DEFAULT_LOOKS) == LOOKS and [look.number for look in DEFAULT_LOOKS] == [1, 2, 3, 4, 5]
    assert math.isclose(sum(look.alpha for look in DEFAULT_LOOKS), ALPHA)
    assert all(math.isclose(look.alpha / look.blocks, ALPHA / 67) for look in DEFAULT_LOOKS)


def test_one_look_spends_all_of_alpha_and_bad_counts_are_refused():
    [only] = schedule(16, 16, ALPHA)
    assert (only.blocks, only.alpha) == (16, ALPHA)
    assert [look.blocks for look in schedule(3, 6, ALPHA)] == [3, 4, 5, 6]  # no repeats
    with pytest.raises(ValueError, match="--min-processes must be at least 2"):
        schedule(1, 8, ALPHA)
    with pytest.raises(ValueError, match=r"--max-processes \(4\) must be at least"):
        schedule(6, 4, ALPHA)


# ---------------------------------------------------------------- the driver

def row(key: str, low: float, high: float, blocks: int) -> Row:
    estimate = Estimate(math.sqrt(low * high), low, high, (blocks, blocks), True, 0.01, 5.0, 0.2)
    return Row(key, decide.verdict(estimate, THRESHOLD), estimate=estimate,
               threshold=THRESHOLD, needs_blocks=3)


def test_only_undecided_benchmarks_get_blocks_and_each_keeps_its_looks_verdict():
    """a: regressed at look 1; b: no change (within ±detect) at look 2; c: never
    decided, judged by criterion's rule at the last look; a memory row rides along."""
    looks = schedule(4, 16, ALPHA, looks=3)  # 4, 8, 16
    intervals = {"a": [(1.2, 1.4)] * 3, "b": [(0.9, 1.12), (0.95, 1.05), (0.5, 0.6)],
                 "c": [(0.98, 1.2), (0.99, 1.15), (1.0, 1.12)]}
    asked = []

    def judge(look):
        rows = [row(k, *intervals[k][look.number - 1], look.blocks) for k in intervals]
        return rows + [Row("a", Outcome.NO_CHANGE, metric="memory")]

    def add_blocks(keys, count):
        asked.append((keys, count))
        return count

    result = sequential.run(looks, judge, add_blocks, DETECT)
    assert asked == [(["b", "c"], 4), (["c"], 8)]
    assert result.stopped is looks[-1]
    by_key = {(r.key, r.metric): r for r in result.rows}
    assert [(k, m) for k, m in by_key] == [("a", TIME), ("b", TIME), ("c", TIME), ("a", "memory")]
    a, b, c = (by_key[k, TIME] for k in "abc")
    assert (a.outcome, a.look, a.estimate.low) == (Outcome.REGRESSED, 1, 1.2)
    assert (b.outcome, b.look, b.estimate.high) == (Outcome.NO_CHANGE, 2, 1.05)
    assert b.needs_blocks == 0 and not b.too_noisy  # +10 % excluded: not too noisy
    assert (c.outcome, c.look, c.needs_blocks) == (Outcome.NO_CHANGE, 3, 3)
    assert by_key["a", "memory"].look is None


def test_with_the_estimator_a_row_decided_early_gets_the_mde_of_the_last_look():
    """b is decided "within ±detect" at look 1 of 3; its MDE by the last look
    (16 blocks, that look's alpha) is what the rule catches for it: smaller
    than at its 4 blocks, and exactly the estimator's at the last look."""
    looks = schedule(4, 16, ALPHA, looks=3)
    estimator = STATISTICS[DEFAULT]

    def judge(look):
        estimate = Estimate(1.0, 0.95, 1.05, (look.blocks,) * 2, True, 0.02, look.blocks - 1.0,
                            0.2, dispersions=(0.04,))
        return [Row("b", Outcome.NO_CHANGE, estimate=estimate, threshold=THRESHOLD)]

    [b] = sequential.run(looks, judge, lambda keys, count: pytest.fail("decided"), DETECT,
                         estimator).rows
    assert b.look == 1
    at_first = estimator.mde_at(b.estimate, 4, decide.tail(looks[0].alpha, 1), THRESHOLD)
    assert b.last_look_mde == estimator.mde_at(b.estimate, 16, decide.tail(looks[-1].alpha, 1),
                                               THRESHOLD) < at_first
    [plain] = sequential.run(looks, judge, lambda keys, count: 0, DETECT).rows
    assert plain.last_look_mde is None


def test_the_run_stops_when_every_benchmark_is_decided_or_no_block_is_added():
    looks = schedule(4, 16, ALPHA, looks=3)
    decided = sequential.run(looks, lambda look: [row("a", 1.2, 1.3, look.blocks)],
                             lambda keys, count: pytest.fail("no block is needed"), DETECT)
    assert decided.stopped is looks[0] and decided.rows[0].look == 1
    starved = sequential.run(looks, lambda look: [row("a", 1.0, 1.2, look.blocks)],
                             lambda keys, count: 0, DETECT)
    assert starved.stopped is looks[0]
    assert (starved.rows[0].look, starved.rows[0].outcome) == (1, Outcome.NO_CHANGE)


# ---------------------------------------------------------------- simulation

def process_values(rng: np.random.Generator, shape: tuple[int, ...], sigma: float) -> np.ndarray:
    """Per-process log medians: t with 3 degrees of freedom scaled to sd sigma, and
    one process in 30 running 5-15 % slow as a whole."""
    df = 3
    values = sigma * rng.standard_t(df, shape) / math.sqrt(df / (df - 2))
    far = rng.random(shape) < 1 / 30
    return values + far * np.log(rng.uniform(1.05, 1.15, shape))


def simulate(true_ratio: float, *, gates: int, benchmarks: int, sigma: float, seed: int,
             modes: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(outcomes [gates, benchmarks], blocks per gate) of simulated sequential gates
    at the default looks: every benchmark of every gate is one key of one run of the
    driver, its blocks the per-block log ratios candidate - base. With `modes` > 1
    each process has that many values, independent (as normalizations by
    references that share none of their noise), and at every look each benchmark
    is judged by the one whose values vary least within each side, as
    bench.gate.compare.choose picks them from the same processes."""
    rng = np.random.default_rng(seed)
    shape = (gates * benchmarks, modes, DEFAULT_LOOKS[-1].blocks)
    base = process_values(rng, shape, sigma)
    candidate = math.log(true_ratio) + process_values(rng, shape, sigma)
    estimator = STATISTICS[DEFAULT]
    state = {"open": np.arange(len(base)), "blocks": DEFAULT_LOOKS[0].blocks}

    def judge(look):
        keys, n = state["open"], state["blocks"]
        pooled = (base[keys, :, :n].var(axis=2, ddof=1)
                  + candidate[keys, :, :n].var(axis=2, ddof=1))
        chosen = pooled.argmin(axis=1)
        d = candidate[keys, chosen, :n] - base[keys, chosen, :n]
        ratio, low, high = estimator.paired_bounds(d, decide.tail(look.alpha, benchmarks))
        return [Row(k, Outcome.NO_CHANGE, threshold=THRESHOLD,
                    estimate=Estimate(r, lo, hi, (n, n), True, None, None, None))
                for k, r, lo, hi in zip(keys.tolist(), ratio.tolist(), low.tolist(),
                                        high.tolist())]

    def add_blocks(keys, count):
        state["open"], state["blocks"] = np.array(keys), state["blocks"] + count
        return count

    result = sequential.run(DEFAULT_LOOKS, judge, add_blocks, DETECT)
    rows = sorted(result.rows, key=lambda r: r.key)
    outcomes = np.array([r.outcome for r in rows], dtype=object).reshape(gates, benchmarks)
    blocks = np.array([DEFAULT_LOOKS[r.look - 1].blocks for r in rows]).reshape(gates, benchmarks)
    return outcomes, blocks.max(axis=1)


@pytest.mark.parametrize("sigma", [0.005, 0.02])
def test_false_regressions_stay_within_alpha_at_the_worst_case(sigma):
    """Every benchmark exactly at +threshold, the true change most easily called a
    regression: P(any of G regressed, at any look) <= alpha."""
    outcomes, _ = simulate(1 + THRESHOLD, gates=1000, benchmarks=10, sigma=sigma, seed=22)
    alarms = int((outcomes == Outcome.REGRESSED).any(axis=1).sum())
    assert upper_bound(alarms, len(outcomes)) <= ALPHA, alarms


def test_choosing_among_eighteen_normalizations_on_the_same_processes_keeps_alpha():
    """The worst case of the choice: eighteen normalizations (pair, run, none and
    three alternative references, each also over the calm rounds of each of
    the probe's two readings: bench.gate.calm) sharing no noise, so the one
    picked for the least spread understates it most. With this seed: 12 false
    alarms in 1000 gates (16 with twelve, 12 with six and 5 with one
    normalization); alpha is 5 %."""
    outcomes, _ = simulate(1 + THRESHOLD, gates=1000, benchmarks=10, sigma=0.02, seed=25,
                           modes=18)
    alarms = int((outcomes == Outcome.REGRESSED).any(axis=1).sum())
    assert upper_bound(alarms, len(outcomes)) <= ALPHA, alarms


def test_a_real_ten_percent_slowdown_is_caught_with_the_promised_power():
    """+10 % at a realistic spread between processes (a per-process sd of 2 %)."""
    outcomes, blocks = simulate(1 + DETECT, gates=300, benchmarks=10, sigma=0.02, seed=23)
    caught = int((outcomes == Outcome.REGRESSED).sum())
    assert lower_bound(caught, outcomes.size) >= POWER, caught / outcomes.size
    assert blocks.mean() < DEFAULT_MAX_PROCESSES


def test_a_tight_a_a_comparison_stops_early():
    outcomes, blocks = simulate(1.0, gates=300, benchmarks=10, sigma=0.005, seed=24)
    assert (outcomes == Outcome.NO_CHANGE).all()
    assert blocks.max() < DEFAULT_MAX_PROCESSES
    assert blocks.mean() < DEFAULT_LOOKS[2].blocks


def test_the_verdict_of_a_row_decided_early_names_what_the_last_look_catches():
    from bench.gate.compare import Settings
    from bench.gate.output import verdict_text

    estimate = Estimate(1.0, 0.95, 1.05, (6, 6), True, 0.02, 5.0, 0.2, dispersions=(0.04,))
    decided = Row("b", Outcome.NO_CHANGE, estimate=estimate, threshold=THRESHOLD, needs_blocks=0,
                  look=1, last_look_mde=0.061)
    assert verdict_text(decided, Settings()) == (
        f"no change (within ±{DETECT * 100:g} %; catches +6.1 % by the last look)")
    assert verdict_text(replace(decided, last_look_mde=None), Settings()) == (
        f"no change (within ±{DETECT * 100:g} %)")
