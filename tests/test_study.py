"""The gate study's judging (bench.gate.study) on synthetic recorded processes:
the measuring is the slow part, the counting is what this checks."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.gate.compare import Settings
from bench.gate.sequential import schedule
from bench.gate.study import judge as judging
from bench.gate.study.cli import table
from bench.gate.study.patches import PATCHES, Patch
from markdown_tables import parse
from synthetic_runs import MODULE, make_run

SUITE = {"einsum-rows500": 360e-6, "broadcast-rows5": 40e-6, "builtin-rows5": 6e-6}
SLOWED = {"einsum-rows500": 1.25}  # the patch's real effect


def write_group(folder, tree, index, seed, factors=None):
    path = folder / tree / f"group-{index:03d}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(make_run(SUITE, seed=seed, factors=factors)))


def study_folder(tmp_path, groups=24):
    for index in range(8):  # the patch's long run
        write_group(tmp_path / "truth" / "slow", "base", index, 1000 + 2 * index)
        write_group(tmp_path / "truth" / "slow", "slow", index, 1001 + 2 * index, SLOWED)
    log = []
    for index in range(groups):
        for offset, (tree, factors) in enumerate((("base", None), ("same", None),
                                                  ("slow", SLOWED))):
            write_group(tmp_path / "main", tree, index, 10 * index + offset, factors)
        pace = 4.0 + index % 3  # each process's recorded wall time
        log.append({"group": index, "noisy": index % 2 == 1, "order": ["base", "same", "slow"],
                    "seconds": {"base": pace, "same": pace, "slow": pace}})
    (tmp_path / "main" / "groups.json").write_text(json.dumps(log))
    return tmp_path


LOOKS = schedule(4, 12, 0.05)  # 4, 5, 7, 9, 12 blocks


def test_every_gate_is_counted_on_the_same_processes(tmp_path):
    result = judging.judge(study_folder(tmp_path), looks=LOOKS, comparisons=20, seed=1, fixed=8)
    assert result["effects"]["slow"][MODULE + "test_matmul[einsum-rows500]"][0] > 1.2
    for condition in ("quiet", "noisy neighbour"):
        data = result["conditions"][condition]
        assert data["groups"] == 12
        ours = data["tallies"]["ours"]
        assert (ours.aa_alarm.hits, ours.aa_alarm.total) == (0, 20)
        assert (ours.detect["slow"].hits, ours.detect["slow"].total) == (20, 20)
        assert ours.patch_alarm["slow"].hits == 0
        # The sequential rule drew a look's groups, and stopped before the last at times.
        assert len(ours.blocks) == 40 and set(ours.blocks) <= {4, 5, 7, 9, 12}
        assert min(ours.blocks) < 12
        # Its cost: the recorded wall times of the groups it drew (4-6 s a process).
        assert all(8.0 * n <= s <= 12.0 * n for s, n in zip(ours.seconds, ours.blocks))
        assert len(set(ours.seconds)) > 1
        fixed = data["tallies"]["fixed"]  # one look at 8 blocks, as bench ab --processes 8
        assert set(fixed.blocks) == {8} and fixed.aa_alarm.total == 20
        assert (fixed.detect["slow"].hits, fixed.detect["slow"].total) == (20, 20)
        for single in ("previous", "stock"):
            tally = data["tallies"][single]
            assert tally.aa_alarm.total == 12 and tally.detect["slow"].total == 12
            assert set(tally.blocks) == {1}
    rows = parse(table(result, Settings(), LOOKS))
    gates = [r["gate"] for r in rows]
    assert gates[0].startswith("ours: `python -m bench ab` (looks at 4, 5, 7, 9, 12 blocks")
    assert gates[1:] == ["ours", "ours at one look: `python -m bench ab --processes 8` (no "
                         "stopping early)", "ours at one look",
                         "previous single-run gate (1 process a side, run noise 1.5 %)",
                         "previous single-run gate",
                         "stock `--benchmark-compare-fail=mean:10%` (1 process a side)", "stock"]
    ours = rows[0]
    assert ours["condition"] == "quiet"
    assert ours["false alarms per A/A comparison (any of 3 benchmarks)"].startswith("0.0 % (0/20)")
    [detects] = [h for h in ours if h.startswith("detects `slow`")]
    assert ours[detects].startswith("100.0 % (20/20)")
    assert ours["false alarms in patched comparisons (unchanged benchmarks)"].startswith("0.0 %")
    assert ours["wall time per comparison"].endswith("min")
    quiet = result["conditions"]["quiet"]["tallies"]["ours"].blocks
    assert float(ours["mean blocks per comparison"]) == round(sum(quiet) / len(quiet), 1)
    assert rows[2]["mean blocks per comparison"] == "8.0"
    assert rows[4]["mean blocks per comparison"] == "1.0"


def test_a_patch_that_no_longer_fits_the_code_fails_loudly(tmp_path):
    (tmp_path / "m.py").write_text("x = 1\n")
    patch = Patch("p", "what", (("m.py", "x = 2", "x = 3"),))
    try:
        patch.apply(tmp_path)
    except ValueError as error:
        assert "holds 0 copies" in str(error) and "x = 2" in str(error)
    else:
        raise AssertionError("a patch that matches nothing was applied")
    assert {p.name for p in PATCHES} >= {"copy_per_row", "contract_twice"}


def test_the_study_patches_fit_the_code_as_it_is(tmp_path):
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    for patch in PATCHES:
        tree = tmp_path / patch.name
        for name, _, _ in patch.edits:
            (tree / name).parent.mkdir(parents=True, exist_ok=True)
            (tree / name).write_text((root / name).read_text())
        patch.apply(tree)
        for name, _old, new in patch.edits:
            assert new in (tree / name).read_text()


def test_the_cli_judges_a_recorded_study_with_the_look_options(tmp_path, capsys):
    from bench.gate.study.cli import main

    folder = study_folder(tmp_path)
    assert main(["--from", str(folder), "--min-processes", "4", "--max-processes", "12",
                 "--comparisons", "5", "--fixed", "0"]) == 0
    text = (folder / "study.md").read_text()
    assert "looks at 4, 5, 7, 9, 12 blocks" in text and "ours at one look" not in text
    assert "Calibration: the A/A groups split into disjoint comparisons of 4 blocks" in text
    assert "- quiet: 3 comparisons, 9 intervals; beyond 95 %:" in text
    calibration = json.loads((folder / "study.json").read_text())["conditions"]["quiet"]["calibration"]
    assert (calibration["comparisons"], calibration["intervals"]) == (3, 9)
    ours = json.loads((folder / "study.json").read_text())["conditions"]["quiet"]["tallies"]["ours"]
    assert len(ours["blocks"]) == len(ours["seconds"]) == 10
    capsys.readouterr()
    assert main(["--from", str(folder), "--min-processes", "1"]) == 2
    assert capsys.readouterr().err.strip() == ("error: --min-processes must be at least 2: the "
                                               "spread between processes is measured from them, "
                                               "got 1")
    assert main(["--from", str(folder), "--fixed", "1"]) == 2
    assert "--fixed must be 0 (none) or at least 2 blocks, got 1" in capsys.readouterr().err


@pytest.mark.parametrize("patch", PATCHES, ids=lambda p: p.name)
def test_every_patch_fits_the_code_as_it_is(tmp_path, patch):
    root = Path(__file__).resolve().parents[1]
    for name, _, _ in patch.edits:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text((root / name).read_text(encoding="utf-8"), encoding="utf-8")
    patch.apply(tmp_path)
    for name, _, new in patch.edits:
        assert new in (tmp_path / name).read_text(encoding="utf-8")


def calibration_groups(tmp_path, shared_shift: float, groups=24, size=4):
    """base and same trees of an A/A study; the same tree's processes of each
    disjoint comparison of `size` groups share one shift (a state per side)."""
    suite = {f"einsum-rows{n}": 100e-6 * n for n in range(1, 9)}
    for index in range(groups):
        sign = 1 if (index // size) % 2 else -1
        for offset, (tree, factor) in enumerate((("base", 1.0),
                                                 ("same", 1 + sign * shared_shift))):
            path = tmp_path / tree / f"group-{index:03d}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(make_run(suite, seed=10 * index + offset,
                                                factors=dict.fromkeys(suite, factor))))
    return (judging.load_tree_runs(tmp_path, "base"), judging.load_tree_runs(tmp_path, "same"),
            list(range(groups)))


def test_calibration_counts_intervals_that_miss_and_flags_a_state_shared_per_side(tmp_path):
    from bench.gate.study.calibration import calibrate

    honest = calibrate(*calibration_groups(tmp_path / "honest", 0.0), LOOKS, Settings())
    assert (honest.comparisons, honest.blocks, honest.intervals) == (6, 4, 48)
    assert honest.misses["95"] <= 5 and honest.misses["99"] <= honest.misses["95"]
    # A shift shared by one side's processes of a comparison: the intervals, made
    # from the spread between blocks, miss the true ratio nearly every time.
    shared = calibrate(*calibration_groups(tmp_path / "shared", 0.08), LOOKS, Settings())
    assert shared.misses["95"] >= 40
    assert honest.benchmarks == shared.benchmarks == 8
    # Bounded by the one-sided alpha the looks spend, whatever the spreads.
    assert 0 < honest.implied < honest.implied_upper < Settings().alpha / 2


def test_the_implied_false_alarms_of_a_benchmark_rise_with_its_spread_up_to_its_tails():
    from bench.gate import decide
    from bench.gate.study.calibration import alarm_chance, upper_dispersion

    settings = Settings()
    chances = [alarm_chance(d, LOOKS, 21, settings) for d in (1e-5, 1e-4, 1e-3, 1e-2, 1e6)]
    assert chances == sorted(chances) and chances[0] < 1e-3 < chances[-1]
    # However noisy, a look's interval lies wholly above the threshold no more often
    # than its upper tail: the sum over looks stays within the alpha it was given.
    tails = sum(decide.tail(look.alpha, 21) for look in LOOKS)
    assert chances[-1] <= tails <= settings.alpha / 2 / 21 + 1e-12
    assert chances[-1] > 0.9 * tails
    assert upper_dispersion(1e-3, 15) > 1e-3 > upper_dispersion(1e-3, 15, confidence=0.01)
